//! BigQuery's Query, Load and LoadFromGcs through the binary, on the default local warehouse
//! (`<home>/bigquery.duckdb`) with `gs://` buckets as folders under `<home>/buckets`.

use crate::common::*;
use serde_json::Value;

/// Puts an object into the local bucket folder.
fn put_object(env: &Env, bucket: &str, key: &str, text: &str) {
    let path = env.home().join("buckets").join(bucket).join(key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("bucket folder");
    std::fs::write(path, text).expect("object");
}

fn run_ok(env: &Env, name: &str, yaml: &str) -> Value {
    let out = env.run_flow(name, yaml, &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    ex
}

/// In the shape of a course's taxi flow: a CSV in a bucket, an external table over it, a
/// staging table keyed by an MD5 of the trip's columns, and a MERGE into the main table. Kestra
/// docs, plugin-gcp bigquery Query: `sql` runs BigQuery standard SQL (backquoted
/// `project.dataset.table` names, double-quoted strings).
const TRIPS_FLOW: &str = r#"
id: trips_to_warehouse
namespace: course.bq
variables:
  file: "trips_2024-01.csv"
  project: "my-project"
  dataset: "rides"
tasks:
  - id: main_table
    type: io.kestra.plugin.gcp.bigquery.Query
    projectId: "{{ vars.project }}"
    sql: |
      CREATE TABLE IF NOT EXISTS `{{ vars.project }}.{{ vars.dataset }}.trips`
      (
          unique_row_id BYTES OPTIONS (description = 'A hash of the trip; "key" columns'),
          filename STRING OPTIONS (description = 'The file the trip came from'),
          vendor STRING,
          pickup_at TIMESTAMP OPTIONS (description = 'When the meter started'),
          passengers INT64,
          distance NUMERIC,
          fare FLOAT64
      )
      PARTITION BY DATE(pickup_at);
  - id: external
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: |
      CREATE OR REPLACE EXTERNAL TABLE `{{ vars.project }}.{{ vars.dataset }}.trips_ext`
      (
          vendor STRING OPTIONS (description = 'Vendor code'),
          pickup_at TIMESTAMP,
          passengers INTEGER,
          distance NUMERIC,
          fare FLOAT64
      )
      OPTIONS (
          format = 'CSV',
          uris = ['gs://course-bucket/raw/{{ vars.file }}'],
          skip_leading_rows = 1,
          ignore_unknown_values = TRUE
      );
  - id: staging
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: |
      CREATE OR REPLACE TABLE `{{ vars.project }}.{{ vars.dataset }}.trips_stage`
      AS
      SELECT
        MD5(CONCAT(
          COALESCE(CAST(vendor AS STRING), ""),
          COALESCE(CAST(pickup_at AS STRING), ""),
          COALESCE(CAST(distance AS STRING), "")
        )) AS unique_row_id,
        "{{ vars.file }}" AS filename,
        *
      FROM `{{ vars.project }}.{{ vars.dataset }}.trips_ext`;
  - id: merge
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: |
      MERGE INTO `{{ vars.project }}.{{ vars.dataset }}.trips` T
      USING `{{ vars.project }}.{{ vars.dataset }}.trips_stage` S
      ON T.unique_row_id = S.unique_row_id
      WHEN NOT MATCHED THEN
        INSERT (unique_row_id, filename, vendor, pickup_at, passengers, distance, fare)
        VALUES (S.unique_row_id, S.filename, S.vendor, S.pickup_at, S.passengers, S.distance, S.fare);
  - id: count
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: |
      SELECT COUNT(*) AS n, COUNT(DISTINCT unique_row_id) AS keys,
             MIN(TO_HEX(unique_row_id)) AS first_key, MAX(filename) AS filename,
             SUM(passengers) AS passengers
      FROM `{{ vars.project }}.{{ vars.dataset }}.trips`
"#;

#[test]
fn course_shaped_flow_loads_once_and_merge_keeps_the_count() {
    let env = Env::new();
    put_object(
        &env,
        "course-bucket",
        "raw/trips_2024-01.csv",
        "vendor,pickup_at,passengers,distance,fare\n\
         1,2024-01-01 00:15:00,1,2.5,12.0\n\
         2,2024-01-01 00:20:00,2,0.9,6.5\n\
         1,2024-01-02 08:00:00,,4.1,18.25\n",
    );
    let first = run_ok(&env, "trips.yaml", TRIPS_FLOW);
    let row = &run_of(&first, "count")["outputs"]["row"];
    assert_eq!(row["n"], 3, "{row:#}");
    assert_eq!(row["keys"], 3, "{row:#}");
    assert_eq!(row["filename"], "trips_2024-01.csv");
    assert_eq!(row["passengers"].as_f64(), Some(3.0), "{row:#}");
    // The key is MD5's 16 bytes, shown by TO_HEX as 32 hex digits.
    let key = row["first_key"].as_str().expect("hex key");
    assert_eq!(key.len(), 32, "{key}");
    assert!(key.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
    assert!(env.home().join("bigquery.duckdb").is_file());

    // The same file again: the MERGE inserts nothing.
    let second = run_ok(&env, "trips.yaml", TRIPS_FLOW);
    let row = &run_of(&second, "count")["outputs"]["row"];
    assert_eq!(row["n"], 3, "{row:#}");
    assert_eq!(row["keys"], 3, "{row:#}");
}

/// Kestra docs, plugin-gcp bigquery Query, "Execute a query and fetch results sets on another
/// task": `fetch: true` with `SELECT 1 as id, "John" as name UNION ALL SELECT 2 as id, "Doe" as
/// name`, then a Return task looping over `outputs.fetch.rows`. And "Create a table with a
/// custom query": `destinationTable` with `writeDisposition: WRITE_APPEND`.
#[test]
fn query_fetch_fetch_one_store_and_destination_table() {
    let env = Env::new();
    let flow = r#"
id: bq_outputs
namespace: course.bq
tasks:
  - id: fetch
    type: io.kestra.plugin.gcp.bigquery.Query
    fetch: true
    sql: |
      SELECT 1 as id, "John" as name
      UNION ALL
      SELECT 2 as id, "Doe" as name
      ORDER BY id
  - id: use_fetched_data
    type: io.kestra.plugin.core.debug.Return
    format: "{% for row in outputs.fetch.rows %}id : {{ row.id }}, name: {{ row.name }}; {% endfor %}"
  - id: one
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchType: FETCH_ONE
    sql: |
      SELECT PARSE_DATE('%Y%m%d', '20240131') AS d,
             FORMAT_DATE('%F', DATE '2024-02-29') AS f,
             CAST(TIMESTAMP_SECONDS(86400) AS STRING) AS ts,
             SAFE_CAST('x' AS INT64) AS bad,
             DATE_TRUNC(DATE '2024-03-17', MONTH) AS month_start,
             LENGTH(GENERATE_UUID()) AS uuid_len,
             TO_HEX(MD5('abc')) AS md5_hex,
             IFNULL(NULL, 'fallback') AS fb
  - id: append
    type: io.kestra.plugin.gcp.bigquery.Query
    destinationTable: "my-project.reports.people"
    writeDisposition: WRITE_APPEND
    sql: SELECT "hello" AS greeting, 1 AS n
  - id: store
    type: io.kestra.plugin.gcp.bigquery.Query
    store: true
    sql: SELECT * EXCEPT (n) FROM `my-project.reports.people`
"#;
    let ex = run_ok(&env, "outputs.yaml", flow);
    let fetch = &run_of(&ex, "fetch")["outputs"];
    assert_eq!(fetch["size"], 2);
    assert_eq!(fetch["rows"][0]["name"], "John");
    assert_eq!(
        run_of(&ex, "use_fetched_data")["outputs"]["value"],
        "id : 1, name: John; id : 2, name: Doe; "
    );
    let row = &run_of(&ex, "one")["outputs"]["row"];
    assert_eq!(row["d"], "2024-01-31", "{row:#}");
    assert_eq!(row["f"], "2024-02-29", "{row:#}");
    assert_eq!(row["ts"], "1970-01-02 00:00:00", "{row:#}");
    assert_eq!(row["bad"], Value::Null, "{row:#}");
    assert_eq!(row["month_start"], "2024-03-01", "{row:#}");
    assert_eq!(row["uuid_len"], 36, "{row:#}");
    assert_eq!(
        row["md5_hex"], "900150983cd24fb0d6963f7d28e17f72",
        "{row:#}"
    );
    assert_eq!(row["fb"], "fallback", "{row:#}");
    let append = &run_of(&ex, "append")["outputs"];
    assert_eq!(append["destinationTable"]["dataset"], "reports");
    assert_eq!(append["destinationTable"]["table"], "people");
    assert_eq!(append["destinationTable"]["project"], "my-project");
    assert!(append["jobId"].is_string());
    let store = &run_of(&ex, "store")["outputs"];
    assert_eq!(store["size"], 1);
    let uri = store["uri"].as_str().expect("uri");
    assert!(uri.starts_with("kestra:///"), "{uri}");

    // WRITE_APPEND adds a second row on the next run.
    let again = run_ok(&env, "outputs.yaml", flow);
    assert_eq!(run_of(&again, "store")["outputs"]["size"], 2);
}

/// Kestra docs, plugin-gcp bigquery Load: `from` an internal storage file,
/// `destinationTable`, `format: CSV`, `csvOptions.fieldDelimiter`, `skipLeadingRows`.
#[test]
fn load_from_internal_storage_csv() {
    let env = Env::new();
    let flow = r#"
id: bq_load
namespace: course.bq
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - people.csv
    commands:
      - printf 'id;name;score\n1;Ada;9.5\n2;Linus;7.25\n3;Grace;8\n' > people.csv
  - id: load
    type: io.kestra.plugin.gcp.bigquery.Load
    from: "{{ outputs.make.outputFiles['people.csv'] }}"
    destinationTable: "my-project.staff.people"
    format: CSV
    csvOptions:
      fieldDelimiter: ";"
      skipLeadingRows: 1
    schema:
      fields:
        - name: id
          type: INT64
        - name: name
          type: STRING
        - name: score
          type: FLOAT
  - id: check
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: SELECT COUNT(*) AS n, SUM(score) AS total, MAX(name) AS last FROM `my-project.staff.people`
"#;
    let ex = run_ok(&env, "load.yaml", flow);
    let load = &run_of(&ex, "load")["outputs"];
    assert_eq!(load["rows"], 3, "{load:#}");
    assert_eq!(load["destinationTable"]["table"], "people");
    let row = &run_of(&ex, "check")["outputs"]["row"];
    assert_eq!(row["n"], 3);
    assert_eq!(row["total"].as_f64(), Some(24.75));
    assert_eq!(row["last"], "Linus");
    // WRITE_APPEND is Load's default: a second run doubles the rows.
    let again = run_ok(&env, "load.yaml", flow);
    assert_eq!(run_of(&again, "check")["outputs"]["row"]["n"], 6);
}

/// Kestra docs, plugin-gcp bigquery LoadFromGcs: `from` a list of `gs://` URIs, `format: CSV`,
/// `autodetect: true`, `csvOptions.skipLeadingRows: 1`; BigQuery URIs take a `*` wildcard.
#[test]
fn load_from_gcs_with_a_wildcard_and_truncate() {
    let env = Env::new();
    put_object(
        &env,
        "lake",
        "sales/2024-01.csv",
        "day,amount\n2024-01-01,10\n2024-01-02,5\n",
    );
    put_object(
        &env,
        "lake",
        "sales/2024-02.csv",
        "day,amount\n2024-02-01,7\n",
    );
    put_object(&env, "lake", "sales/notes.txt", "not a csv\n");
    let flow = r#"
id: bq_load_gcs
namespace: course.bq
tasks:
  - id: load
    type: io.kestra.plugin.gcp.bigquery.LoadFromGcs
    from:
      - gs://lake/sales/*.csv
    destinationTable: "lake_ds.sales"
    format: CSV
    autodetect: true
    writeDisposition: WRITE_TRUNCATE
    csvOptions:
      skipLeadingRows: 1
  - id: check
    type: io.kestra.plugin.gcp.bigquery.Query
    fetchOne: true
    sql: SELECT COUNT(*) AS n, SUM(amount) AS total FROM lake_ds.sales
"#;
    let ex = run_ok(&env, "gcs.yaml", flow);
    assert_eq!(run_of(&ex, "load")["outputs"]["rows"], 3);
    let row = &run_of(&ex, "check")["outputs"]["row"];
    assert_eq!(row["n"], 3);
    assert_eq!(row["total"].as_f64(), Some(22.0));
    // WRITE_TRUNCATE: the same load again leaves three rows.
    let again = run_ok(&env, "gcs.yaml", flow);
    assert_eq!(run_of(&again, "check")["outputs"]["row"]["n"], 3);
}

#[test]
fn unsupported_bigquery_sql_fails_naming_the_construct() {
    let env = Env::new();
    let flow = r#"
id: bq_geo
namespace: course.bq
tasks:
  - id: geo
    type: io.kestra.plugin.gcp.bigquery.Query
    sql: |
      SELECT 1;
      SELECT ST_GEOGPOINT(50.6833, 2.9) AS geopoint
"#;
    let out = env.run_flow("geo.yaml", flow, &[]);
    assert_ne!(out.code, 0, "{out:#?}");
    let ex = env.show(env.executions()[0]["id"].as_str().expect("id"));
    assert_eq!(ex["state"], "FAILED");
    let id = ex["id"].as_str().expect("id").to_string();
    let logs = env.log_messages(&id, Some("geo")).join("\n");
    assert!(logs.contains("ST_GEOGPOINT"), "{logs}");
    assert!(logs.contains("line 2"), "{logs}");
}
