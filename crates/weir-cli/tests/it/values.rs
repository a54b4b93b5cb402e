//! Query values as text, the same on DuckDB and PostgreSQL: for each type, `weir query` (table,
//! `--json`, `--csv`) and a Query task's `fetchOne` output print the same thing on both engines,
//! and that thing is the documented canonical text.
//!
//! The tests share one PostgreSQL cluster while they run at the same time (`cluster`); it stops
//! when the last of them ends.

use crate::common::*;
use crate::pg::Pg;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, PoisonError, Weak};

static CLUSTER: Mutex<Weak<Pg>> = Mutex::new(Weak::new());

/// The running shared cluster, or a new one.
fn cluster() -> Arc<Pg> {
    let mut shared = CLUSTER.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pg) = shared.upgrade() {
        return pg;
    }
    let pg = Arc::new(Pg::start());
    *shared = Arc::downgrade(&pg);
    pg
}

/// What `weir query` prints for `sql` in its three forms.
fn printed(env: &Env, url: &str, sql: &str) -> [String; 3] {
    let run = |extra: &[&str]| {
        let mut args = vec!["query", url, sql];
        args.extend_from_slice(extra);
        let o = env.weir(&args);
        assert_eq!(o.code, 0, "weir {args:?} failed:\n{o:#?}");
        o.stdout
    };
    [run(&[]), run(&["--json"]), run(&["--csv"])]
}

/// `SELECT <duck> AS v` on DuckDB and `SELECT <pg> AS v` on PostgreSQL print the same table,
/// JSON and CSV, and the JSON value is `want`.
fn check(duck: &str, pg_expr: &str, want: Value) {
    let pg = cluster();
    let env = Env::new();
    let duck_url = format!("jdbc:duckdb:{}", env.home().join("v.duckdb").display());
    let on_duck = printed(&env, &duck_url, &format!("SELECT {duck} AS v"));
    let on_pg = printed(
        &env,
        &pg.url_with_login(),
        &format!("SELECT {pg_expr} AS v"),
    );
    assert_eq!(on_duck, on_pg, "DuckDB and PostgreSQL differ");
    let parsed: Value = serde_json::from_str(&on_duck[1]).expect("JSON output");
    assert_eq!(parsed, json!([{ "v": want }]), "JSON of {duck}");
    // The table and the CSV show the same text: the JSON string itself, or the JSON of
    // anything else.
    let text = match &want {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let table_cell = on_duck[0].lines().nth(1).unwrap_or_default().trim();
    assert_eq!(
        table_cell,
        if want.is_null() {
            "NULL"
        } else {
            text.as_str()
        },
        "table of {duck}"
    );
    let csv_field = on_duck[2].lines().nth(1).unwrap_or_default();
    let quoted = text.contains([',', '"']) || matches!(&want, Value::String(s) if s.is_empty());
    let want_csv = if quoted {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    };
    assert_eq!(csv_field, want_csv, "CSV of {duck}");
}

#[test]
fn date() {
    check(
        "DATE '2021-01-02'",
        "DATE '2021-01-02'",
        json!("2021-01-02"),
    );
}

#[test]
fn time() {
    check(
        "TIME '13:04:05.25'",
        "TIME '13:04:05.25'",
        json!("13:04:05.25"),
    );
}

#[test]
fn timestamp() {
    check(
        "TIMESTAMP '2021-01-02 03:04:05.123456'",
        "TIMESTAMP '2021-01-02 03:04:05.123456'",
        json!("2021-01-02T03:04:05.123456"),
    );
}

#[test]
fn timestamptz_is_in_utc_with_its_offset() {
    check(
        "CAST('2021-01-02 03:04:05.5+02' AS TIMESTAMPTZ)",
        "CAST('2021-01-02 03:04:05.5+02' AS TIMESTAMPTZ)",
        json!("2021-01-02T01:04:05.5+00:00"),
    );
}

#[test]
fn decimal_keeps_its_digits_and_scale() {
    check(
        "CAST('12345678901234567890.123456780' AS DECIMAL(38, 9))",
        "CAST('12345678901234567890.123456780' AS NUMERIC(38, 9))",
        json!("12345678901234567890.123456780"),
    );
}

#[test]
fn small_decimal() {
    check(
        "CAST(-2.5 AS DECIMAL(10, 2))",
        "CAST(-2.5 AS NUMERIC(10, 2))",
        json!("-2.50"),
    );
}

#[test]
fn interval_is_iso_8601() {
    check(
        "INTERVAL '1 year 2 months 3 days 04:05:06.5'",
        "INTERVAL '1 year 2 months 3 days 04:05:06.5'",
        json!("P1Y2M3DT4H5M6.5S"),
    );
}

#[test]
fn uuid() {
    check(
        "CAST('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS UUID)",
        "CAST('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' AS UUID)",
        json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
    );
}

#[test]
fn blob_is_backslash_x_hex() {
    check(
        "'\\x00\\xAB\\x10'::BLOB",
        "'\\x00ab10'::BYTEA",
        json!("\\x00ab10"),
    );
}

#[test]
fn list_is_a_json_array() {
    check("[1, NULL, 3]", "ARRAY[1, NULL, 3]", json!([1, null, 3]));
}

#[test]
fn struct_is_a_json_object() {
    check(
        "{'a': 1, 'b': 'x,y'}",
        "json_build_object('a', 1, 'b', 'x,y')",
        json!({"a": 1, "b": "x,y"}),
    );
}

#[test]
fn map_is_a_json_object() {
    check(
        "MAP {'k': CAST(1.5 AS DOUBLE)}",
        "'{\"k\": 1.5}'::jsonb",
        json!({"k": 1.5}),
    );
}

#[test]
fn boolean() {
    check("true", "true", json!(true));
}

#[test]
fn null() {
    check(
        "CAST(NULL AS INTEGER)",
        "CAST(NULL AS INTEGER)",
        Value::Null,
    );
}

#[test]
fn numbers_are_json_numbers() {
    check("CAST(0.1 AS REAL)", "CAST(0.1 AS REAL)", json!(0.1));
    check(
        "CAST(1.5 AS DOUBLE)",
        "CAST(1.5 AS DOUBLE PRECISION)",
        json!(1.5),
    );
    check(
        "CAST(9007199254740993 AS BIGINT)",
        "CAST(9007199254740993 AS BIGINT)",
        json!(9_007_199_254_740_993_i64),
    );
}

#[test]
fn empty_text_and_null_differ_in_csv() {
    check("''", "''::text", json!(""));
}

/// A Query task's `fetchOne` row holds the same values on both engines.
#[test]
fn query_task_outputs_are_the_same_on_both_engines() {
    let pg = cluster();
    let row = |url: &str, sql: &str| {
        let env = Env::new();
        let flow = format!(
            "id: q\nnamespace: it\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: \"{url}\"\n    fetchType: FETCH_ONE\n    sql: \"{sql}\"\n"
        );
        let o = env.run_flow("q.yaml", &flow, &[]);
        assert_eq!(o.code, 0, "{o:#?}");
        let ex = env.show(&o.id());
        run_of(&ex, "q")["outputs"]["row"].clone()
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let duck_url = format!("jdbc:duckdb:{}", dir.path().join("q.duckdb").display());
    let common = "DATE '2021-01-02' AS d, TIMESTAMP '2021-01-02 03:04:05' AS ts, CAST(3.75 AS DECIMAL(10, 2)) AS n, true AS b";
    let on_duck = row(&duck_url, &format!("SELECT {common}, [1, 2] AS l"));
    let on_pg = row(
        &pg.url_with_login(),
        &format!("SELECT {common}, ARRAY[1, 2] AS l"),
    );
    assert_eq!(on_duck, on_pg);
    assert_eq!(
        on_duck,
        json!({"d": "2021-01-02", "ts": "2021-01-02T03:04:05", "n": "3.75", "b": true, "l": [1, 2]})
    );
}
