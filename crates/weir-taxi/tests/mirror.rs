//! The local mirror over real HTTP: a generated file at its release path, HEAD, and 404s.

use weir_taxi::{Mirror, MonthSpec, Taxi, generate};

#[tokio::test]
async fn serves_generated_files_at_release_paths() {
    let dir = tempfile::tempdir().unwrap();
    let spec = MonthSpec {
        taxi: Taxi::Green,
        year: 2021,
        month: 3,
        scale: 0.01,
        seed: 5,
    };
    let stats = generate(&spec, dir.path()).expect("generate");
    let expected = std::fs::read(&stats.path).unwrap();

    let mirror = Mirror::start(dir.path().to_path_buf(), 0)
        .await
        .expect("start");
    let port = mirror.addr.port();
    assert_ne!(port, 0);
    assert_eq!(
        mirror.base_url(),
        format!("http://127.0.0.1:{port}/DataTalksClub/nyc-tlc-data/releases/download")
    );
    let url = format!("{}/green/green_tripdata_2021-03.csv.gz", mirror.base_url());
    assert_eq!(mirror.url(Taxi::Green, 2021, 3), url);

    install_tls();
    let client = reqwest::Client::new();
    let resp = client.get(&url).send().await.expect("GET");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    assert_eq!(
        resp.headers()["content-length"],
        expected.len().to_string().as_str()
    );
    let body = resp.bytes().await.expect("body");
    assert!(body == expected, "served bytes differ from the file");

    let head = client.head(&url).send().await.expect("HEAD");
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        expected.len().to_string().as_str()
    );

    for missing in [
        format!("{}/green/green_tripdata_2021-04.csv.gz", mirror.base_url()),
        format!("{}/yellow/green_tripdata_2021-03.csv.gz", mirror.base_url()),
        format!(
            "{}/green/..%2Fgreen_tripdata_2021-03.csv.gz",
            mirror.base_url()
        ),
        format!("http://{}/green/green_tripdata_2021-03.csv.gz", mirror.addr),
        format!("http://{}/", mirror.addr),
    ] {
        let resp = client.get(&missing).send().await.expect("GET");
        assert_eq!(resp.status(), 404, "{missing}");
    }
    let post = client.post(&url).send().await.expect("POST");
    assert_eq!(post.status(), 405);

    mirror.stop().await;
    let after = reqwest::Client::new().get(&url).send().await;
    assert!(after.is_err(), "still serving after stop");
}

#[tokio::test]
async fn serves_a_per_taxi_folder_and_stops_on_drop() {
    let dir = tempfile::tempdir().unwrap();
    let spec = MonthSpec {
        taxi: Taxi::Yellow,
        year: 2021,
        month: 1,
        scale: 0.001,
        seed: 1,
    };
    let stats = generate(&spec, &dir.path().join("yellow")).expect("generate");
    let mirror = Mirror::start(dir.path().to_path_buf(), 0)
        .await
        .expect("start");
    let url = mirror.url(Taxi::Yellow, 2021, 1);
    install_tls();
    let body = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.len() as u64, stats.bytes);

    // The port is taken while the mirror runs, and free again once it is dropped.
    let port = mirror.addr.port();
    assert!(matches!(
        Mirror::start(dir.path().to_path_buf(), port).await,
        Err(weir_taxi::TaxiError::Bind { .. })
    ));
    drop(mirror);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let again = Mirror::start(dir.path().to_path_buf(), port)
        .await
        .expect("port free after drop");
    again.stop().await;
}

/// weir's rustls has no compiled-in crypto provider; reqwest needs one installed before it
/// builds a client (weir itself does this in `weir_storage::tls`).
fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
