//! Buckets in both modes: local folders, and a real S3-protocol server on loopback.

use super::*;
use crate::test_server::S3TestServer;

const KEY_ID: &str = "weir-test-key";
const SECRET: &str = "weir-test-secret";

struct Fixture {
    dir: tempfile::TempDir,
    buckets: Buckets,
    _server: Option<S3TestServer>,
}

fn local() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let buckets = Buckets::new(BucketConfig {
        local_root: dir.path().join("buckets"),
        ..BucketConfig::default()
    });
    Fixture {
        dir,
        buckets,
        _server: None,
    }
}

fn s3() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        S3TestServer::start(&dir.path().join("s3"), KEY_ID, SECRET).expect("start S3 server");
    server.create_bucket("data").expect("bucket");
    server.create_bucket("other").expect("bucket");
    let buckets = Buckets::new(BucketConfig {
        endpoint: Some(server.endpoint()),
        region: Some(DEFAULT_REGION.into()),
        access_key_id: Some(KEY_ID.into()),
        secret_access_key: Some(SECRET.into()),
        local_root: dir.path().join("buckets"),
        ..BucketConfig::default()
    });
    Fixture {
        dir,
        buckets,
        _server: Some(server),
    }
}

impl Fixture {
    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).expect("write");
        p
    }
}

async fn round_trip(f: &Fixture) {
    let b = &f.buckets;
    let src = f.file("a.csv", b"id,name\n1,ada\n");
    assert_eq!(b.put_file("data", "in/a.csv", &src).await.expect("put"), 14);
    let src2 = f.file("b.csv", b"x\n");
    assert_eq!(b.put_file("data", "in/b.csv", &src2).await.expect("put"), 2);
    assert_eq!(b.put_file("data", "top.txt", &src2).await.expect("put"), 2);
    assert!(b.exists("data", "in/a.csv").await.expect("exists"));
    assert!(!b.exists("data", "in/zzz.csv").await.expect("exists"));

    let keys = |v: Vec<ObjectInfo>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    assert_eq!(
        keys(b.list("data", "").await.expect("list")),
        ["in/a.csv", "in/b.csv", "top.txt"]
    );
    // Prefixes are plain text, as in S3, not whole folder names.
    assert_eq!(
        keys(b.list("data", "in/a").await.expect("list")),
        ["in/a.csv"]
    );
    assert_eq!(
        keys(b.list("data", "in").await.expect("list")),
        ["in/a.csv", "in/b.csv"]
    );
    let listed = b.list("data", "in/a.csv").await.expect("list");
    assert_eq!(listed[0].size, 14);
    assert!(listed[0].last_modified <= Utc::now());

    let dest = f.dir.path().join("out/a.csv");
    assert_eq!(
        b.get_to_file("data", "in/a.csv", &dest).await.expect("get"),
        14
    );
    assert_eq!(
        std::fs::read_to_string(&dest).expect("read"),
        "id,name\n1,ada\n"
    );

    // Copy within a bucket and across buckets.
    assert_eq!(
        b.copy("data", "in/a.csv", "data", "copy/a.csv")
            .await
            .expect("copy"),
        14
    );
    assert_eq!(
        b.copy("data", "in/a.csv", "other", "a.csv")
            .await
            .expect("copy"),
        14
    );
    assert!(b.exists("other", "a.csv").await.expect("exists"));
    assert!(b.exists("data", "copy/a.csv").await.expect("exists"));

    assert!(b.delete("data", "in/b.csv").await.expect("delete"));
    assert!(!b.delete("data", "in/b.csv").await.expect("delete again"));
    assert_eq!(
        keys(b.list("data", "in/").await.expect("list")),
        ["in/a.csv"]
    );

    // A missing object is named in the message.
    let err = b
        .get_to_file("data", "in/nope.csv", &f.dir.path().join("nope"))
        .await
        .expect_err("missing object");
    assert_eq!(
        err.to_string(),
        "object `s3://data/in/nope.csv` does not exist"
    );
    assert!(!f.dir.path().join("nope").exists());
    let err = b
        .copy("data", "nope", "data", "x")
        .await
        .expect_err("missing source");
    assert_eq!(err.to_string(), "object `s3://data/nope` does not exist");

    // Keys that would leave the bucket are refused.
    let err = b
        .put_file("data", "../escape.csv", &src)
        .await
        .expect_err("bad key");
    assert!(matches!(err, BucketError::InvalidKey { .. }), "{err}");
    let err = b.list("../x", "").await.expect_err("bad bucket");
    assert!(matches!(err, BucketError::InvalidBucket { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_folders_round_trip() {
    let f = local();
    let root = f.buckets.config().local_root.clone();
    round_trip(&f).await;
    // Local buckets are plain folders anyone can look into.
    assert!(root.join("data/in/a.csv").is_file());
    assert!(root.join("other/a.csv").is_file());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_server_round_trip() {
    round_trip(&s3()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_local_bucket_is_named() {
    let f = local();
    let err = f.buckets.list("nope", "").await.expect_err("no bucket");
    assert!(
        err.to_string()
            .starts_with("bucket `nope` does not exist on local folder"),
        "{err}"
    );
}

/// 50 MB: several multipart parts each way, so part boundaries are exercised.
async fn big_file(f: Fixture) {
    let src = f.dir.path().join("big.bin");
    let mut data = Vec::with_capacity(50 * 1024 * 1024);
    let mut x: u32 = 1;
    while data.len() < 50 * 1024 * 1024 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&src, &data).expect("write");
    let b = &f.buckets;
    let n = b.put_file("data", "big/big.bin", &src).await.expect("put");
    assert_eq!(n, data.len() as u64);
    let listed = b.list("data", "big/").await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].size, data.len() as u64);
    let dest = f.dir.path().join("big.out");
    let n = b
        .get_to_file("data", "big/big.bin", &dest)
        .await
        .expect("get");
    assert_eq!(n, data.len() as u64);
    assert!(
        std::fs::read(&dest).expect("read") == data,
        "content differs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_big_file_round_trip() {
    big_file(local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_big_file_round_trip() {
    big_file(s3()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_is_named() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = Buckets::new(BucketConfig {
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        access_key_id: Some(KEY_ID.into()),
        secret_access_key: Some(SECRET.into()),
        local_root: dir.path().into(),
        ..BucketConfig::default()
    });
    let err = b.exists("data", "a.csv").await.expect_err("unreachable");
    let text = err.to_string();
    assert!(
        text.contains(&format!("S3 endpoint `http://127.0.0.1:{port}`")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_fail() {
    let mut f = s3();
    f.buckets = Buckets::new(BucketConfig {
        secret_access_key: Some("wrong".into()),
        ..f.buckets.config().clone()
    });
    let src = f.file("a.csv", b"1\n");
    let err = f
        .buckets
        .put_file("data", "a.csv", &src)
        .await
        .expect_err("bad secret");
    assert!(
        err.to_string()
            .starts_with("could not upload to `s3://data/a.csv` on S3 endpoint"),
        "{err}"
    );
}

#[test]
fn s3_uris_parse() {
    assert_eq!(
        parse_s3_uri("s3://b/k/x.csv"),
        Some(("b".into(), "k/x.csv".into()))
    );
    assert_eq!(parse_s3_uri("s3://b"), Some(("b".into(), String::new())));
    assert_eq!(parse_s3_uri("s3:///k"), None);
    assert_eq!(parse_s3_uri("kestra:///k"), None);
}

#[test]
fn from_env_defaults_the_region_and_hides_secrets() {
    let c = BucketConfig {
        secret_access_key: Some("hunter2".into()),
        ..BucketConfig::default()
    };
    assert!(!format!("{c:?}").contains("hunter2"));
    assert!(!c.is_s3());
    let from_env = BucketConfig::from_env("/tmp/b");
    assert!(from_env.region.is_some());
    assert_eq!(from_env.local_root, PathBuf::from("/tmp/b"));
}

/// Listens on loopback, and answers the bytes the first client sent before it hung up.
fn first_bytes_listener() -> (u16, std::thread::JoinHandle<Vec<u8>>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).expect("read");
        buf.to_vec()
    });
    (port, seen)
}

/// weir's rustls has no compiled-in crypto provider (`crate::tls` installs ring): an `https://`
/// S3 or GCS endpoint must still get a client that speaks TLS, not a panic or a plain request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_endpoints_speak_tls() {
    for cloud in [Cloud::S3, Cloud::Gcs] {
        let (port, seen) = first_bytes_listener();
        let dir = tempfile::tempdir().expect("tempdir");
        let b = Buckets::new(BucketConfig {
            cloud,
            endpoint: Some(format!("https://127.0.0.1:{port}")),
            access_key_id: Some(KEY_ID.into()),
            secret_access_key: Some(SECRET.into()),
            local_root: dir.path().into(),
            ..BucketConfig::default()
        });
        // The listener hangs up after the first bytes, so the request itself fails.
        let err = b.exists("data", "a.csv").await.expect_err("no TLS server");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
        let first = seen.join().expect("listener");
        // A TLS record of type handshake (22), version 3.x: the ClientHello.
        assert_eq!(&first[..2], &[22, 3], "{cloud:?} sent {first:?}");
    }
}
