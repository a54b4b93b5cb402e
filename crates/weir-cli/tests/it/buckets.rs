//! `aws.s3.*` tasks end to end: a flow uploads, lists and downloads through buckets, once in
//! local folders (weir's default) and once on a real S3-protocol server started by the test.

use crate::common::*;
use serde_json::Value;
use weir_storage::test_server::S3TestServer;

const SH: &str = "io.kestra.plugin.scripts.shell.Commands";
const KEY_ID: &str = "weir-it-key";
const SECRET: &str = "weir-it-secret";

/// The connection comes from KV through `pluginDefaults`, as Kestra flows usually do it; an
/// empty endpoint means local buckets.
fn flow() -> String {
    format!(
        r#"
id: buckets
namespace: demo
pluginDefaults:
  - type: io.kestra.plugin.aws
    values:
      region: "{{{{ kv('S3_REGION') }}}}"
      accessKeyId: "{{{{ kv('S3_KEY') }}}}"
      secretKeyId: "{{{{ kv('S3_SECRET') }}}}"
      endpointOverride: "{{{{ kv('S3_ENDPOINT') }}}}"
tasks:
  - id: extract
    type: {SH}
    outputFiles:
      - "*.csv"
    commands:
      - printf 'id,name\n1,ada\n2,grace\n' > people.csv
  - id: upload
    type: io.kestra.plugin.aws.s3.Upload
    bucket: data
    key: in/people.csv
    from: "{{{{ outputs.extract.outputFiles['people.csv'] }}}}"
  - id: list
    type: io.kestra.plugin.aws.s3.List
    bucket: data
    prefix: in/
    regexp: ".*\\.csv"
  - id: download
    type: io.kestra.plugin.aws.s3.Download
    bucket: data
    key: "{{{{ outputs.list.objects[0].key }}}}"
  - id: check
    type: {SH}
    inputFiles:
      got.csv: "{{{{ outputs.download.uri }}}}"
    commands:
      - grep -qx '2,grace' got.csv
      - echo "rows=$(tail -n +2 got.csv | wc -l | tr -d ' ')"
"#
    )
}

fn missing_flow() -> String {
    r#"
id: missing
namespace: demo
pluginDefaults:
  - type: io.kestra.plugin.aws
    values:
      accessKeyId: "{{ kv('S3_KEY') }}"
      secretKeyId: "{{ kv('S3_SECRET') }}"
      endpointOverride: "{{ kv('S3_ENDPOINT') }}"
tasks:
  - id: download
    type: io.kestra.plugin.aws.s3.Download
    bucket: data
    key: in/nope.csv
"#
    .into()
}

fn set_kv(env: &Env, endpoint: &str) {
    for (k, v) in [
        ("S3_REGION", "us-east-1"),
        ("S3_KEY", KEY_ID),
        ("S3_SECRET", SECRET),
        ("S3_ENDPOINT", endpoint),
    ] {
        let o = env.weir(&["kv", "set", "-n", "demo", k, v]);
        assert_eq!(o.code, 0, "{o:#?}");
    }
}

/// Runs the flow and checks every step; returns the execution.
fn run_round_trip(env: &Env) -> Value {
    let out = env.run_flow("buckets.yaml", &flow(), &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    let up = &run_of(&ex, "upload")["outputs"];
    assert_eq!(up["bucket"], "data");
    assert_eq!(up["key"], "in/people.csv");
    assert_eq!(up["uri"], "s3://data/in/people.csv");
    let objects = run_of(&ex, "list")["outputs"]["objects"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(objects.len(), 1, "{objects:#?}");
    assert_eq!(objects[0]["key"], "in/people.csv");
    assert_eq!(objects[0]["size"], 22);
    assert!(objects[0]["lastModified"].is_string(), "{objects:#?}");
    let down = &run_of(&ex, "download")["outputs"];
    assert_eq!(down["contentLength"], 22);
    assert!(
        down["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("kestra:///demo/buckets/executions/")
                && u.ends_with("/people.csv")),
        "{down:#}"
    );
    assert_eq!(env.log_messages(&id, Some("check")), ["rows=2"]);
    ex
}

fn assert_missing_fails(env: &Env) {
    let out = env.run_flow("missing.yaml", &missing_flow(), &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(
            "error: task `download` failed: object `s3://data/in/nope.csv` does not exist"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn s3_tasks_on_local_buckets() {
    let env = Env::new();
    set_kv(&env, "");
    run_round_trip(&env);
    let stored = env.home().join("buckets/data/in/people.csv");
    assert_eq!(
        std::fs::read_to_string(&stored).unwrap_or_default(),
        "id,name\n1,ada\n2,grace\n"
    );
    assert_missing_fails(&env);
}

#[test]
fn s3_tasks_on_an_s3_server() {
    let env = Env::new();
    let server = S3TestServer::start(&env.path().join("s3"), KEY_ID, SECRET).expect("S3 server");
    server.create_bucket("data").expect("bucket");
    set_kv(&env, &server.endpoint());
    run_round_trip(&env);
    // The object is on the server, not in a local bucket.
    assert_eq!(
        std::fs::read_to_string(server.root().join("data/in/people.csv")).unwrap_or_default(),
        "id,name\n1,ada\n2,grace\n"
    );
    assert!(!env.home().join("buckets/data").exists());
    assert_missing_fails(&env);
}

#[test]
fn s3_endpoint_from_the_environment() {
    let mut env = Env::new();
    let server = S3TestServer::start(&env.path().join("s3"), KEY_ID, SECRET).expect("S3 server");
    server.create_bucket("data").expect("bucket");
    env.set_env("WEIR_S3_ENDPOINT", &server.endpoint());
    env.set_env("AWS_ACCESS_KEY_ID", KEY_ID);
    env.set_env("AWS_SECRET_ACCESS_KEY", SECRET);
    let out = env.run_flow(
        "env.yaml",
        &format!(
            r#"
id: from_env
namespace: demo
tasks:
  - id: make
    type: {SH}
    outputFiles: ["a.txt"]
    commands:
      - echo hello > a.txt
  - id: upload
    type: io.kestra.plugin.aws.s3.Upload
    bucket: data
    key: a.txt
    from: "{{{{ outputs.make.outputFiles['a.txt'] }}}}"
  - id: copy
    type: io.kestra.plugin.aws.s3.Copy
    from:
      bucket: data
      key: a.txt
    to:
      bucket: data
      key: b.txt
  - id: delete
    type: io.kestra.plugin.aws.s3.Delete
    bucket: data
    key: a.txt
"#
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(!server.root().join("data/a.txt").exists());
    assert_eq!(
        std::fs::read_to_string(server.root().join("data/b.txt")).unwrap_or_default(),
        "hello\n"
    );
}

#[test]
fn unreachable_endpoint_is_named() {
    let env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    set_kv(&env, &format!("http://127.0.0.1:{port}"));
    let out = env.run_flow("missing.yaml", &missing_flow(), &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "could not download `s3://data/in/nope.csv` on S3 endpoint `http://127.0.0.1:{port}`"
        )),
        "{}",
        out.stderr
    );
}
