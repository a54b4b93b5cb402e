//! `gcp.gcs.*` and BigQuery's metadata tasks end to end, on weir's local defaults: `gs://`
//! buckets are folders under `<home>/buckets` (shared with S3's local buckets), BigQuery
//! datasets are schemas of `<home>/bigquery.duckdb`. No GCS emulator runs offline here, so
//! remote GCS is not exercised by these tests.

use crate::common::*;
use serde_json::Value;

const SH: &str = "io.kestra.plugin.scripts.shell.Commands";

/// Kestra docs, gcs Upload ("Upload a FILE input to GCS": `from: "{{ inputs.file }}"`,
/// `to: "gs://my_bucket/dir/file.csv"`), List (`from: "gs://my_bucket/dir/"`), Copy ("Move a
/// file between bucket path": `delete: true`), Download (`from: "gs://my_bucket/dir/file.csv"`),
/// Delete (`uri: "gs://my_bucket/dir/file.csv"`) and CreateBucket (`name: "my-bucket"`).
fn gcs_flow() -> String {
    format!(
        r#"
id: gcs
namespace: demo
tasks:
  - id: create_bucket
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: my_bucket
    versioningEnabled: true
    labels:
      my-label: my-value
  - id: extract
    type: {SH}
    outputFiles:
      - "*.csv"
    commands:
      - printf 'id,name\n1,ada\n2,grace\n' > file.csv
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    projectId: my-project
    from: "{{{{ outputs.extract.outputFiles['file.csv'] }}}}"
    to: "gs://my_bucket/dir/file.csv"
  - id: upload_sub
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{{{ outputs.extract.outputFiles['file.csv'] }}}}"
    to: "gs://my_bucket/dir/sub/other.csv"
  - id: list
    type: io.kestra.plugin.gcp.gcs.List
    from: "gs://my_bucket/dir/"
  - id: list_files
    type: io.kestra.plugin.gcp.gcs.List
    from: "gs://my_bucket/dir/"
    listingType: RECURSIVE
    filter: FILES
    regExp: ".*\\.csv"
  - id: copy
    type: io.kestra.plugin.gcp.gcs.Copy
    from: "gs://my_bucket/dir/file.csv"
    to: "gs://my_bucket/archive/file.csv"
    delete: true
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: "{{{{ outputs.copy.uri }}}}"
  - id: from_s3
    type: io.kestra.plugin.aws.s3.Download
    bucket: my_bucket
    key: archive/file.csv
  - id: check
    type: {SH}
    inputFiles:
      got.csv: "{{{{ outputs.download.uri }}}}"
      s3.csv: "{{{{ outputs.from_s3.uri }}}}"
    commands:
      - cmp got.csv s3.csv
      - echo "rows=$(tail -n +2 got.csv | wc -l | tr -d ' ')"
  - id: delete
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: "gs://my_bucket/archive/file.csv"
  - id: delete_again
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: "gs://my_bucket/archive/file.csv"
"#
    )
}

#[test]
fn gcs_tasks_on_local_buckets() {
    let env = Env::new();
    let out = env.run_flow("gcs.yaml", &gcs_flow(), &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    let created = &run_of(&ex, "create_bucket")["outputs"];
    assert_eq!(created["bucket"], "my_bucket");
    assert_eq!(created["bucketUri"], "gs://my_bucket");
    assert_eq!(created["created"], true);
    assert_eq!(
        run_of(&ex, "upload")["outputs"]["uri"],
        "gs://my_bucket/dir/file.csv"
    );
    // DIRECTORY listing (the default): the file, and the sub-folder once.
    let blobs = run_of(&ex, "list")["outputs"]["blobs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<(&str, bool)> = blobs
        .iter()
        .map(|b| (b["name"].as_str().unwrap_or(""), b["isDirectory"] == true))
        .collect();
    assert_eq!(
        names,
        [("dir/file.csv", false), ("dir/sub/", true)],
        "{blobs:#?}"
    );
    assert_eq!(blobs[0]["uri"], "gs://my_bucket/dir/file.csv");
    assert_eq!(blobs[0]["size"], 22);
    let files: Vec<Value> = run_of(&ex, "list_files")["outputs"]["blobs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let file_names: Vec<&str> = files.iter().filter_map(|b| b["name"].as_str()).collect();
    assert_eq!(file_names, ["dir/file.csv", "dir/sub/other.csv"]);
    assert_eq!(
        run_of(&ex, "copy")["outputs"]["uri"],
        "gs://my_bucket/archive/file.csv"
    );
    // The move removed the source.
    assert!(!env.home().join("buckets/my_bucket/dir/file.csv").exists());
    let down = &run_of(&ex, "download")["outputs"];
    assert_eq!(down["bucket"], "my_bucket");
    assert_eq!(down["path"], "archive/file.csv");
    assert!(
        down["uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("kestra:///") && u.ends_with("/file.csv")),
        "{down:#}"
    );
    // The same local bucket is readable as S3's.
    assert_eq!(env.log_messages(&id, Some("check")), ["rows=2"]);
    assert_eq!(run_of(&ex, "delete")["outputs"]["deleted"], true);
    assert_eq!(run_of(&ex, "delete_again")["outputs"]["deleted"], false);
    assert!(
        !env.home()
            .join("buckets/my_bucket/archive/file.csv")
            .exists()
    );
    let told = env.log_messages(&id, Some("create_bucket"));
    assert!(
        told.iter()
            .any(|m| m.starts_with("gs:// buckets are in the local folder")),
        "{told:#?}"
    );
}

#[test]
fn gcs_errors_say_what_is_wrong() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("buckets/taken")).expect("bucket folder");
    let flow = r#"
id: gcs_errors
namespace: demo
tasks:
  - id: skip
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: taken
    ifExists: SKIP
  - id: again
    type: io.kestra.plugin.gcp.gcs.CreateBucket
    name: taken
"#;
    let out = env.run_flow("errors.yaml", flow, &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains("bucket `taken` already exists"),
        "{}",
        out.stderr
    );
    let ex = env.show(&out.id());
    assert_eq!(run_of(&ex, "skip")["outputs"]["created"], false);

    let flow = r#"
id: gcs_missing
namespace: demo
tasks:
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: "gs://taken/nope.csv"
"#;
    let out = env.run_flow("missing.yaml", flow, &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("object `gs://taken/nope.csv` does not exist"),
        "{}",
        out.stderr
    );

    let flow = r#"
id: gcs_bad_uri
namespace: demo
tasks:
  - id: delete
    type: io.kestra.plugin.gcp.gcs.Delete
    uri: "s3://taken/x.csv"
    errorOnMissing: true
"#;
    let out = env.run_flow("bad.yaml", flow, &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr
            .contains("`uri` must be a `gs://bucket/path` URI, found `s3://taken/x.csv`"),
        "{}",
        out.stderr
    );
}

/// Kestra docs, bigquery CreateTable ("projectId: my-project, dataset: my-dataset,
/// table: my-table, tableDefinition: type: TABLE, schema: fields: id INT64, name STRING"),
/// CreateDataset (`name`, `ifExists`), TableMetadata and DeleteTable.
fn bigquery_flow() -> String {
    r#"
id: bq
namespace: demo
tasks:
  - id: create_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    projectId: my-project
    name: my-dataset
  - id: create_dataset_again
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: my-dataset
    ifExists: SKIP
  - id: create_table
    type: io.kestra.plugin.gcp.bigquery.CreateTable
    projectId: my-project
    dataset: my-dataset
    table: my-table
    tableDefinition:
      type: TABLE
      schema:
        fields:
        - name: id
          type: INT64
          mode: REQUIRED
        - name: name
          type: STRING
        - name: amount
          type: NUMERIC
        - name: at
          type: TIMESTAMP
      standardTableDefinition:
        clustering:
        - id
        - name
    friendlyName: new_table
  - id: metadata
    type: io.kestra.plugin.gcp.bigquery.TableMetadata
    projectId: my-project
    dataset: my-dataset
    table: my-table
  - id: delete_table
    type: io.kestra.plugin.gcp.bigquery.DeleteTable
    projectId: my-project
    dataset: my-dataset
    table: my-table
  - id: metadata_gone
    type: io.kestra.plugin.gcp.bigquery.TableMetadata
    dataset: my-dataset
    table: my-table
    ifNotExists: SKIP
"#
    .into()
}

#[test]
fn bigquery_metadata_tasks_on_the_local_warehouse() {
    let env = Env::new();
    let out = env.run_flow("bq.yaml", &bigquery_flow(), &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    assert!(env.home().join("bigquery.duckdb").is_file());
    let ds = &run_of(&ex, "create_dataset")["outputs"];
    assert_eq!(ds["datasetId"], "my-dataset");
    assert_eq!(ds["projectId"], "my-project");
    let meta = &run_of(&ex, "metadata")["outputs"];
    assert_eq!(meta["datasetId"], "my-dataset");
    assert_eq!(meta["table"], "my-table");
    assert_eq!(meta["numRows"], 0);
    let fields: Vec<(String, String, String)> = meta["definition"]["schema"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("name"), s("type"), s("mode"))
        })
        .collect();
    let want = [
        ("id", "INT64", "REQUIRED"),
        ("name", "STRING", "NULLABLE"),
        ("amount", "NUMERIC", "NULLABLE"),
        ("at", "TIMESTAMP", "NULLABLE"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(fields, want, "{meta:#}");
    assert_eq!(run_of(&ex, "delete_table")["outputs"]["table"], "my-table");
    assert_eq!(
        run_of(&ex, "metadata_gone")["outputs"],
        serde_json::json!({})
    );
    let logs = env.log_messages(&id, Some("create_table"));
    assert!(
        logs.iter()
            .any(|m| m.contains("BigQuery project `my-project` runs on")),
        "{logs:#?}"
    );

    // ifExists defaults to ERROR.
    let flow = r#"
id: bq_again
namespace: demo
tasks:
  - id: create_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: my-dataset
"#;
    let out = env.run_flow("again.yaml", flow, &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains("dataset `my-dataset` already exists"),
        "{}",
        out.stderr
    );
}

/// `url` set once for every BigQuery task through `pluginDefaults`, and `WEIR_BIGQUERY_URL`
/// when no task sets it.
#[test]
fn bigquery_warehouse_from_plugin_defaults_or_the_environment() {
    let mut env = Env::new();
    let chosen = env.path().join("chosen.duckdb");
    let flow = format!(
        r#"
id: bq_url
namespace: demo
pluginDefaults:
  - type: io.kestra.plugin.gcp.bigquery
    values:
      url: "jdbc:duckdb:{}"
tasks:
  - id: create_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: "my-project.sales"
"#,
        chosen.display()
    );
    let out = env.run_flow("url.yaml", &flow, &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(chosen.is_file());
    assert!(!env.home().join("bigquery.duckdb").exists());
    let ex = env.show(&out.id());
    let ds = &run_of(&ex, "create_dataset")["outputs"];
    assert_eq!(ds["datasetId"], "sales");
    assert_eq!(ds["projectId"], "my-project");

    let from_env = env.path().join("env.duckdb");
    env.set_env(
        "WEIR_BIGQUERY_URL",
        &format!("jdbc:duckdb:{}", from_env.display()),
    );
    let flow = r#"
id: bq_env
namespace: demo
tasks:
  - id: create_dataset
    type: io.kestra.plugin.gcp.bigquery.CreateDataset
    name: sales
"#;
    let out = env.run_flow("env.yaml", flow, &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(from_env.is_file());
    assert!(!env.home().join("bigquery.duckdb").exists());
}

/// With an endpoint configured, `gs://` goes to that server, never to local folders: a server
/// that is down fails the task in seconds, naming the endpoint.
#[test]
fn gcs_endpoint_that_is_down_fails_fast() {
    let mut env = Env::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    env.set_env("STORAGE_EMULATOR_HOST", &format!("127.0.0.1:{port}"));
    let flow = r#"
id: gcs_down
namespace: demo
tasks:
  - id: download
    type: io.kestra.plugin.gcp.gcs.Download
    from: "gs://data/file.csv"
"#;
    let started = std::time::Instant::now();
    let out = env.run_flow("down.yaml", flow, &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(
        out.stderr.contains(&format!(
            "could not download `gs://data/file.csv` on GCS endpoint `http://127.0.0.1:{port}`"
        )),
        "{}",
        out.stderr
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(!env.home().join("buckets/data").exists());
}

/// The course's flows set `serviceAccount: "{{ kv('GCP_CREDS') }}"` through `pluginDefaults`;
/// on a laptop that KV entry holds a placeholder, which must not send `gs://` to the real Cloud
/// Storage (there is no network): the bucket stays a local folder and the log says why.
#[test]
fn a_service_account_that_is_not_a_key_keeps_buckets_local() {
    let env = Env::new();
    let flow = r#"
id: placeholder_creds
namespace: zoomcamp
tasks:
  - id: file
    type: io.kestra.plugin.core.storage.Write
    content: "a,b\n1,2\n"
    extension: .csv
  - id: upload
    type: io.kestra.plugin.gcp.gcs.Upload
    from: "{{ outputs.file.uri }}"
    to: gs://course-bucket/data.csv
pluginDefaults:
  - type: io.kestra.plugin.gcp
    values:
      serviceAccount: "paste your service account JSON here"
      projectId: my-project
"#;
    let o = env.run_flow("f.yaml", flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(env.home().join("buckets/course-bucket/data.csv").is_file());
    let logs = env.log_messages(&o.id(), Some("upload"));
    assert!(
        logs.iter()
            .any(|l| l.contains("is not a service-account key")),
        "{logs:#?}"
    );
}
