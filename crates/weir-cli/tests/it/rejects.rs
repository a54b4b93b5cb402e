//! `weir.warehouse.Load` with `maxBadRows`: malformed rows left out and listed in a rejects
//! file in internal storage, or, past the limit, a failed load that inserted nothing; on DuckDB
//! and PostgreSQL. And an unterminated quote named as such.

use crate::common::*;
use crate::pg::Pg;

/// Three malformed rows (lines 3, 4 and 8) among four good ones: a wrong field count, text in
/// a numeric column, and a quote that never closes (it takes in the rest of the file, so it is
/// last).
const FILE: &str = "id,amount\n1,1.5\n2,2.5,9\n3,abc\n4,4.5\n5,5.5\n6,6.5\n7,\"7.5\n";

/// Creates `public.t` and loads `FILE` into it with `maxBadRows`.
fn flow(url: &str, max_bad_rows: u64, file: &str) -> String {
    format!(
        r#"
id: rejects
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: "{url}"
    sql: CREATE TABLE IF NOT EXISTS public.t (unique_row_id text, filename text, id integer, amount double precision)
  - id: load
    type: weir.warehouse.Load
    url: "{url}"
    from: s3://b/{file}
    table: public.t
    maxBadRows: {max_bad_rows}
"#
    )
}

fn count(env: &Env, url: &str) -> u64 {
    let q = env.json(&["query", url, "SELECT count(*) AS n FROM public.t", "--json"]);
    q[0]["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count in {q}"))
}

/// Puts `text` in the local bucket `b` as `name`.
fn put(env: &Env, name: &str, text: &str) {
    let dir = env.home().join("buckets").join("b");
    std::fs::create_dir_all(&dir).expect("bucket folder");
    std::fs::write(dir.join(name), text).expect("bucket object");
}

/// The storage file behind a `kestra:///` URI.
fn stored(env: &Env, uri: &str) -> String {
    let rel = uri.strip_prefix("kestra:///").expect("an internal URI");
    std::fs::read_to_string(env.home().join("storage").join(rel)).expect("the rejects file")
}

fn loads_the_rest_and_lists_the_rejects(url: &str, env: &Env) {
    put(env, "bad.csv", FILE);
    let o = env.run_flow("ok.yaml", &flow(url, 5, "bad.csv"), &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    let out = &run_of(&ex, "load")["outputs"];
    assert_eq!(out["rowsRead"], 7, "{out:#}");
    assert_eq!(out["rowsInserted"], 4, "{out:#}");
    assert_eq!(out["rowsRejected"], 3, "{out:#}");
    assert_eq!(out["duplicatesSkipped"], 0, "{out:#}");
    assert_eq!(count(env, url), 4);
    let rejects = stored(env, out["rejectsUri"].as_str().expect("rejectsUri"));
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "line,column,reason,record", "{rejects}");
    assert!(
        lines[1].starts_with("3,,\"3 fields where the file's 2 columns")
            && lines[1].ends_with(",\"2,2.5,9\""),
        "{rejects}"
    );
    assert!(
        lines[2].starts_with("4,amount,`abc` is not a DOUBLE") && lines[2].ends_with(",\"3,abc\""),
        "{rejects}"
    );
    assert!(
        lines[3].starts_with("8,amount,\"unterminated quote")
            && lines[3].ends_with(",\"7,\"\"7.5\""),
        "{rejects}"
    );
    assert_eq!(lines.len(), 4, "{rejects}");
}

fn more_bad_rows_than_allowed_insert_nothing(url: &str, env: &Env) {
    put(env, "bad.csv", FILE);
    let o = env.run_flow("strict.yaml", &flow(url, 2, "bad.csv"), &[]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stderr
            .contains("3 rows are malformed, more than `maxBadRows` (2)")
            && o.stderr.contains("nothing was inserted")
            && o.stderr.contains("line 3"),
        "{}",
        o.stderr
    );
    assert_eq!(count(env, url), 0);
}

#[test]
fn max_bad_rows_on_duckdb() {
    let env = Env::new();
    let url = format!("jdbc:duckdb:{}", env.home().join("w.duckdb").display());
    more_bad_rows_than_allowed_insert_nothing(&url, &env);
    loads_the_rest_and_lists_the_rejects(&url, &env);
}

#[test]
fn max_bad_rows_on_postgresql() {
    let pg = Pg::start();
    let env = Env::new();
    let url = pg.url_with_login();
    more_bad_rows_than_allowed_insert_nothing(&url, &env);
    loads_the_rest_and_lists_the_rejects(&url, &env);
}

/// A quote that never closes used to be reported as a wrong field count.
#[test]
fn an_unterminated_quote_is_named_as_such() {
    let env = Env::new();
    let url = format!("jdbc:duckdb:{}", env.home().join("w.duckdb").display());
    put(&env, "quote.csv", "id,amount\n1,1.5\n2,\"2.5\n3,3.5\n");
    let o = env.run_flow("q.yaml", &flow(&url, 0, "quote.csv"), &[]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stderr
            .contains("line 3, column `amount`: unterminated quote"),
        "{}",
        o.stderr
    );
    assert_eq!(count(&env, &url), 0);
}
