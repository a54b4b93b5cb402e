//! Constructs that course and tutorial flows use, in their shape (not their files), run through
//! the real binary with no network.

use crate::common::Env;

/// A DuckDB query that starts with `INSTALL json; LOAD json;` (as tutorials write it before
/// `read_json_auto`) runs offline: the json extension is built into weir's DuckDB, so `INSTALL`
/// has nothing to fetch and is skipped with a log line instead of failing on the download.
///
/// Kestra docs, plugins/io.kestra.plugin.jdbc.duckdb.Query: "Execute a query that reads a csv"
/// (`inputFiles: in.csv: …` then `read_csv_auto('{{ workingDir }}/in.csv')`; here the file's
/// content is given inline, which `inputFiles` also accepts); DuckDB docs,
/// sql/statements/load_and_install: "INSTALL httpfs;" then "LOAD httpfs;".
#[test]
fn duckdb_install_of_a_built_in_extension_runs_offline() {
    let env = Env::new();
    let out = env.run_flow(
        "install_json.yaml",
        r#"
id: install_json
namespace: shapes
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    inputFiles:
      sales.json: |
        [{"shop": "north", "amount": 4}, {"shop": "south", "amount": 10}, {"shop": "north", "amount": 2}]
    sql: |
      INSTALL json;
      LOAD json;
      SELECT shop, sum(amount) AS total
      FROM read_json_auto('{{ workingDir }}/sales.json')
      GROUP BY shop
      ORDER BY total DESC;
    fetchType: STORE
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    let query = crate::common::run_of(&ex, "query");
    let uri = query["outputs"]["uri"].as_str().expect("a stored result");
    let rows: Vec<serde_json::Value> = env
        .stored(uri)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(
        rows,
        vec![
            serde_json::json!({"shop": "south", "total": 10}),
            serde_json::json!({"shop": "north", "total": 6}),
        ]
    );
    let logs = env.log_messages(&id, Some("query"));
    assert!(
        logs.iter()
            .any(|m| m.contains("`INSTALL json` has nothing to fetch")),
        "{logs:#?}"
    );
}

/// An `INSTALL` of an extension weir's DuckDB does not have still goes to DuckDB, and offline
/// it fails with DuckDB's own message naming the statement, not a silent skip.
#[test]
fn duckdb_install_of_a_missing_extension_still_fails_offline() {
    let env = Env::new();
    let out = env.run_flow(
        "install_missing.yaml",
        r#"
id: install_missing
namespace: shapes
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: "jdbc:duckdb:"
    sql: |
      INSTALL no_such_extension_here;
      SELECT 1 AS one;
    fetchType: FETCH_ONE
"#,
        &[],
    );
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr
            .contains("statement: INSTALL no_such_extension_here"),
        "{out:#?}"
    );
}
