//! The data plane end to end: `weir demo` into DuckDB and into a throwaway PostgreSQL, the
//! article's own SQL flow, and bad inputs to `weir.warehouse.Load` and the JDBC Query tasks
//! (each must fail with a message naming what is wrong, exit 1, and leave no partial rows).

use crate::common::*;
use crate::pg::{self, Pg};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const SCALE: &[&str] = &["--scale", "0.002"];

// ---------------------------------------------------------------------------------------------
// `weir demo` output.

/// One row of the demo's month table.
#[derive(Debug, Clone, PartialEq)]
struct Month {
    label: String,
    state: String,
    /// The load task's counts; `None` (`-`) when the flow has no `load` task (`--article`).
    read: Option<u64>,
    inserted: Option<u64>,
    skipped: Option<u64>,
    rejected: Option<u64>,
}

impl Month {
    /// (rows read, inserted, duplicates skipped, rejected) of a `weir.warehouse.Load` month.
    fn counts(&self) -> (u64, u64, u64, u64) {
        match (self.read, self.inserted, self.skipped, self.rejected) {
            (Some(r), Some(i), Some(s), Some(j)) => (r, i, s, j),
            _ => panic!("a load month has all its counts: {self:?}"),
        }
    }
}

/// One row of the demo's final table: name, ROWS, DISTINCT ROW KEYS.
#[derive(Debug, Clone, PartialEq)]
struct Total {
    table: String,
    rows: u64,
    keys: u64,
}

#[derive(Debug)]
struct Demo {
    months: Vec<Month>,
    totals: Vec<Total>,
}

/// Table cells are separated by two spaces or more; a cell holds at most single spaces.
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect()
}

fn num(cell: &str, what: &str, line: &str) -> u64 {
    cell.parse()
        .unwrap_or_else(|_| panic!("{what} `{cell}` is not a number in `{line}`"))
}

/// A count cell: a number, or `-` when there is none.
fn count(cell: &str, what: &str, line: &str) -> Option<u64> {
    (cell != "-").then(|| num(cell, what, line))
}

fn parse_demo(stdout: &str) -> Demo {
    #[derive(PartialEq)]
    enum In {
        Nothing,
        Months,
        Totals,
        /// The dbt mart's top rows (`demo_transform` checks them).
        Mart,
    }
    let mut at = In::Nothing;
    let (mut months, mut totals) = (Vec::new(), Vec::new());
    for line in stdout.lines() {
        if line.trim().is_empty() {
            at = In::Nothing;
            continue;
        }
        let c = cells(line);
        if c.first().is_some_and(|h| h == "MONTH") {
            assert_eq!(
                c,
                [
                    "MONTH",
                    "STATE",
                    "ROWS READ",
                    "INSERTED",
                    "DUPLICATES SKIPPED",
                    "REJECTED",
                    "SECONDS",
                    "EXECUTION"
                ],
                "month table header"
            );
            at = In::Months;
            continue;
        }
        if c.first().is_some_and(|h| h == "TABLE") {
            assert_eq!(c, ["TABLE", "ROWS", "DISTINCT ROW KEYS"], "totals header");
            at = In::Totals;
            continue;
        }
        if c.first().is_some_and(|h| h == "REVENUE MONTH") {
            at = In::Mart;
            continue;
        }
        match at {
            In::Months => {
                assert_eq!(c.len(), 8, "a month row has 8 cells: `{line}`");
                months.push(Month {
                    label: c[0].clone(),
                    state: c[1].clone(),
                    read: count(&c[2], "ROWS READ", line),
                    inserted: count(&c[3], "INSERTED", line),
                    skipped: count(&c[4], "DUPLICATES SKIPPED", line),
                    rejected: count(&c[5], "REJECTED", line),
                });
            }
            In::Totals => {
                assert_eq!(c.len(), 3, "a totals row has 3 cells: `{line}`");
                totals.push(Total {
                    table: c[0].clone(),
                    rows: num(&c[1], "ROWS", line),
                    keys: num(&c[2], "DISTINCT ROW KEYS", line),
                });
            }
            In::Mart => {}
            In::Nothing => panic!("unexpected line on the demo's stdout: `{line}`\n{stdout}"),
        }
    }
    Demo { months, totals }
}

/// `weir demo ARGS…`, which must succeed; returns its parsed tables.
fn demo(env: &Env, args: &[&str]) -> Demo {
    let mut all = vec!["demo"];
    all.extend_from_slice(args);
    let o = env.weir(&all);
    assert_eq!(o.code, 0, "weir {all:?} failed:\n{o:#?}");
    let d = parse_demo(&o.stdout);
    assert!(!d.months.is_empty() && !d.totals.is_empty(), "{o:#?}");
    for m in &d.months {
        assert_eq!(m.state, "SUCCESS", "{m:?}\n{o:#?}");
    }
    d
}

const TWO_MONTHS: [&str; 4] = [
    "green 2021-01",
    "yellow 2021-01",
    "green 2021-02",
    "yellow 2021-02",
];
const TABLES: [&str; 2] = ["public.green_tripdata", "public.yellow_tripdata"];

/// What every idempotent first load of Jan–Feb 2021 must show; returns the totals.
fn check_first_load(d: &Demo) -> Vec<Total> {
    let labels: Vec<&str> = d.months.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, TWO_MONTHS, "{d:#?}");
    for m in &d.months {
        let (read, inserted, skipped, rejected) = m.counts();
        assert!(read > 0, "{m:?}");
        assert_eq!(inserted + skipped, read, "inserted + skipped = read: {m:?}");
        assert!(skipped > 0, "the generator repeats ~1% of rows: {m:?}");
        assert_eq!(rejected, 0, "{m:?}");
    }
    let names: Vec<&str> = d.totals.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(names, TABLES, "{d:#?}");
    for t in &d.totals {
        assert_eq!(t.rows, t.keys, "one row per row key in {t:?}");
        let taxi = t
            .table
            .trim_start_matches("public.")
            .trim_end_matches("_tripdata");
        let inserted: u64 = d
            .months
            .iter()
            .filter(|m| m.label.starts_with(&format!("{taxi} ")))
            .map(|m| m.counts().1)
            .sum();
        assert_eq!(
            t.rows, inserted,
            "the table holds what the months inserted: {d:#?}"
        );
    }
    d.totals.clone()
}

/// Loading January again inserts nothing and changes no total.
fn check_rerun(d: &Demo, before: &[Total]) {
    let labels: Vec<&str> = d.months.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["green 2021-01", "yellow 2021-01"], "{d:#?}");
    for m in &d.months {
        let (read, inserted, skipped, _) = m.counts();
        assert_eq!(inserted, 0, "a rerun inserts nothing: {m:?}");
        assert_eq!(skipped, read, "{m:?}");
    }
    assert_eq!(d.totals, before, "a rerun changes no total");
}

#[test]
fn demo_on_duckdb_loads_each_row_once_and_a_rerun_inserts_nothing() {
    let env = Env::new();
    let first = demo(
        &env,
        &[SCALE[0], SCALE[1], "--from", "2021-01", "--to", "2021-02"],
    );
    let totals = check_first_load(&first);
    let again = demo(
        &env,
        &[SCALE[0], SCALE[1], "--from", "2021-01", "--to", "2021-01"],
    );
    check_rerun(&again, &totals);
}

#[test]
fn demo_on_postgresql_matches_duckdb_and_a_rerun_inserts_nothing() {
    let pg = Pg::start();
    let url = pg.url_with_login();
    let months = [SCALE[0], SCALE[1], "--from", "2021-01", "--to", "2021-02"];

    let duck = Env::new();
    let reference = check_first_load(&demo(&duck, &months));

    let env = Env::new();
    let mut args = months.to_vec();
    args.extend(["--url", url.as_str()]);
    let first = demo(&env, &args);
    let totals = check_first_load(&first);
    assert_eq!(
        totals, reference,
        "same generator seed, same files, same rows"
    );

    let again = demo(
        &env,
        &[
            SCALE[0], SCALE[1], "--from", "2021-01", "--to", "2021-01", "--url", &url,
        ],
    );
    check_rerun(&again, &totals);

    let q = env.json(&[
        "query",
        &url,
        "SELECT count(*) - count(DISTINCT unique_row_id) AS extra FROM public.yellow_tripdata",
        "--json",
    ]);
    assert_eq!(q[0]["extra"].to_string().trim_matches('"'), "0", "{q}");
}

/// The article's SQL (staging table, COPY, md5 UPDATE, MERGE) runs unchanged on DuckDB, and
/// keeps its documented limit: rows a file repeats are inserted twice.
#[test]
fn article_sql_flow_runs_on_duckdb_and_keeps_its_known_in_file_duplicates() {
    let env = Env::new();
    let d = demo(
        &env,
        &[
            "--article",
            SCALE[0],
            SCALE[1],
            "--from",
            "2021-01",
            "--to",
            "2021-01",
            "--taxi",
            "green",
        ],
    );
    assert_eq!(d.months.len(), 1, "{d:#?}");
    assert_eq!(d.months[0].label, "green 2021-01");
    assert_eq!(
        d.months[0].read, None,
        "the article's flow has no `load` task"
    );
    assert_eq!(d.totals.len(), 1, "{d:#?}");
    let t = &d.totals[0];
    assert_eq!(t.table, "public.green_tripdata");
    assert!(
        t.rows > t.keys,
        "the article's MERGE inserts in-file duplicates twice (a known limit): {t:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad inputs.

/// A home whose KV `JDBC_URL` (namespace `it`) is a DuckDB file, with a local bucket `b`.
fn duck_env() -> (Env, String) {
    let env = Env::new();
    let url = format!("jdbc:duckdb:{}", env.home().join("w.duckdb").display());
    let o = env.weir(&["kv", "set", "-n", "it", "JDBC_URL", &url]);
    assert_eq!(o.code, 0, "{o:#?}");
    std::fs::create_dir_all(bucket(&env)).expect("bucket folder");
    (env, url)
}

fn bucket(env: &Env) -> PathBuf {
    env.home().join("buckets").join("b")
}

fn put(env: &Env, name: &str, bytes: &[u8]) {
    std::fs::write(bucket(env).join(name), bytes).expect("write bucket object");
}

const CREATE_T: &str = "CREATE TABLE IF NOT EXISTS public.t (unique_row_id text, filename text, id integer, amount double precision)";

/// Creates `public.t`, then loads `s3://b/FILE` into it.
fn load_flow(file: &str) -> String {
    format!(
        r#"
id: load_t
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: {CREATE_T}
  - id: load
    type: weir.warehouse.Load
    from: s3://b/{file}
    table: public.t
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{{{{ kv('JDBC_URL') }}}}"
  - type: weir.warehouse
    values:
      url: "{{{{ kv('JDBC_URL') }}}}"
"#
    )
}

/// Rows of `public.t`.
fn rows_in_t(env: &Env, url: &str) -> u64 {
    let q = env.json(&["query", url, "SELECT count(*) AS n FROM public.t", "--json"]);
    let n = &q[0]["n"];
    n.as_u64()
        .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no count in {q}"))
}

/// The run failed the way a flow failure should (exit 1, execution FAILED, `task` FAILED);
/// returns stderr.
fn failed(env: &Env, o: &Out, task: &str) -> String {
    assert_eq!(o.code, 1, "{o:#?}");
    let ex = env.show(&o.id());
    assert_eq!(ex["state"], "FAILED", "{ex:#}");
    assert_eq!(run_of(&ex, task)["state"], "FAILED", "{ex:#}");
    assert!(
        o.stderr.contains(&format!("task `{task}` failed")),
        "{}",
        o.stderr
    );
    o.stderr.clone()
}

fn assert_has(text: &str, needles: &[&str]) {
    for n in needles {
        assert!(text.contains(n), "`{n}` not in:\n{text}");
    }
}

/// `line: N` or `line N`, whatever the case.
fn names_line(text: &str, n: u32) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains(&format!("line: {n}")) || t.contains(&format!("line {n}"))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("x.csv");
    std::fs::write(&f, bytes).expect("write");
    let o = Command::new("gzip")
        .arg("-c")
        .arg(&f)
        .output()
        .expect("run gzip");
    assert!(o.status.success(), "gzip failed");
    o.stdout
}

#[test]
fn load_of_a_truncated_gzip_fails_and_inserts_nothing() {
    let (env, url) = duck_env();
    let mut csv = String::from("id,amount\n");
    for i in 0..20_000 {
        csv.push_str(&format!("{i},{}.{}\n", i * 7 % 1000, i % 100));
    }
    let gz = gzip(csv.as_bytes());
    // The whole file loads: what fails below is the truncation, nothing else.
    put(&env, "whole.csv.gz", &gz);
    let o = env.run_flow("whole.yaml", &load_flow("whole.csv.gz"), &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(rows_in_t(&env, &url), 20_000);
    let o = env.weir(&["query", &url, "DELETE FROM public.t"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(rows_in_t(&env, &url), 0);

    put(&env, "half.csv.gz", &gz[..gz.len() / 2]);
    let o = env.run_flow("half.yaml", &load_flow("half.csv.gz"), &[]);
    let err = failed(&env, &o, "load");
    assert_has(&err, &["half.csv", "public.t", "nothing was inserted"]);
    let lower = err.to_ascii_lowercase();
    assert!(
        ["gzip", "truncat", "compress", "unexpected end", "eof"]
            .iter()
            .any(|w| lower.contains(w)),
        "the message should say the file is a damaged gzip:\n{err}"
    );
    assert_eq!(rows_in_t(&env, &url), 0, "no partial rows");
}

/// A gzip file made of two members (as `pigz`, `bgzip` or `cat a.gz b.gz` write) and cut
/// inside the second: the first member ends on a line break, so only the integrity check of the
/// gzip stream can tell that half the file is missing. Loading it must fail, not load a prefix.
#[test]
fn load_of_a_gzip_cut_between_lines_fails_instead_of_loading_a_prefix() {
    let (env, url) = duck_env();
    let line = |i: u32| format!("{i},{}.{}\n", i * 7 % 1000, i % 100);
    let first: String = std::iter::once("id,amount\n".to_string())
        .chain((0..10_000).map(line))
        .collect();
    let second: String = (10_000..20_000).map(line).collect();
    let mut gz = gzip(first.as_bytes());
    let tail = gzip(second.as_bytes());
    // The second member's 10-byte header and a few bytes of its compressed data.
    gz.extend_from_slice(&tail[..16]);
    put(&env, "cut.csv.gz", &gz);
    let o = env.run_flow("cut.yaml", &load_flow("cut.csv.gz"), &[]);
    let rows = rows_in_t(&env, &url);
    assert_eq!(
        rows, 0,
        "a truncated gzip loaded {rows} of its 20000 rows without an error:\n{o:#?}"
    );
    let err = failed(&env, &o, "load");
    assert_has(&err, &["cut.csv", "public.t"]);
}

#[test]
fn load_of_a_row_with_a_wrong_column_count_names_its_line() {
    let (env, url) = duck_env();
    put(&env, "cols.csv", b"id,amount\n1,1.5\n2,2.5,9\n3,3.5\n");
    let o = env.run_flow("cols.yaml", &load_flow("cols.csv"), &[]);
    let err = failed(&env, &o, "load");
    assert_has(&err, &["cols.csv", "public.t", "nothing was inserted"]);
    assert!(
        names_line(&err, 3),
        "the message should name line 3:\n{err}"
    );
    assert_eq!(rows_in_t(&env, &url), 0, "no partial rows");
}

#[test]
fn load_of_text_in_a_numeric_column_names_its_line_and_value() {
    let (env, url) = duck_env();
    put(&env, "text.csv", b"id,amount\n1,1.5\n2,2.5\n3,abc\n4,4.5\n");
    let o = env.run_flow("text.yaml", &load_flow("text.csv"), &[]);
    let err = failed(&env, &o, "load");
    assert_has(
        &err,
        &["text.csv", "public.t", "nothing was inserted", "abc"],
    );
    assert!(
        names_line(&err, 4),
        "the message should name line 4:\n{err}"
    );
    assert_eq!(rows_in_t(&env, &url), 0, "no partial rows");
}

#[test]
fn load_of_a_missing_bucket_object_names_it() {
    let (env, url) = duck_env();
    let o = env.run_flow("missing.yaml", &load_flow("missing.csv"), &[]);
    let err = failed(&env, &o, "load");
    assert_has(&err, &["`s3://b/missing.csv`", "does not exist"]);
    assert_eq!(rows_in_t(&env, &url), 0);
}

fn pg_query_flow(url: &str, user: &str, password: &str) -> String {
    format!(
        r#"
id: pg_query
namespace: it
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.postgresql.Query
    url: "{url}"
    username: {user}
    password: {password}
    sql: {CREATE_T}
"#
    )
}

#[test]
fn postgresql_wrong_password_says_authentication_failed_without_the_password() {
    let pg = Pg::start();
    let env = Env::new();
    let o = env.run_flow("auth.yaml", &pg_query_flow(&pg.url(), "weir", "nope"), &[]);
    let err = failed(&env, &o, "query");
    assert_has(
        &err,
        &[
            "password authentication failed",
            "weir",
            &format!("127.0.0.1:{}", pg.port()),
        ],
    );
    let logs = env.log_messages(&o.id(), None).join("\n");
    for text in [&err, &o.stdout, &logs] {
        assert!(!text.contains("nope"), "the password leaked:\n{text}");
    }
    // The task never ran its statement: `public.t` does not exist.
    let q = env.json(&[
        "query",
        &pg.url_with_login(),
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 't'",
        "--json",
    ]);
    assert_eq!(q[0]["n"].to_string().trim_matches('"'), "0", "{q}");

    // The right password works, so the failure above was the password.
    let o = env.run_flow(
        "auth_ok.yaml",
        &pg_query_flow(&pg.url(), "weir", pg::PASSWORD),
        &[],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(rows_in_t(&env, &pg.url_with_login()), 0);
}

/// `weir query` (and every warehouse read, such as the row counts of `weir.warehouse.Load`)
/// keeps columns that share a name, as DuckDB does: `count(*), count(DISTINCT x)` are two
/// columns both named `count` on PostgreSQL.
#[test]
fn query_on_postgresql_keeps_columns_that_share_a_name() {
    let pg = Pg::start();
    let env = Env::new();
    let o = env.weir(&[
        "query",
        &pg.url_with_login(),
        "SELECT count(*), count(DISTINCT x) FROM (VALUES (1), (1), (2)) v(x)",
    ]);
    assert_eq!(o.code, 0, "{o:#?}");
    let lines: Vec<Vec<String>> = o.stdout.lines().map(cells).collect();
    assert_eq!(
        lines,
        [vec!["count", "count"], vec!["3", "2"]],
        "two columns, in order:\n{}",
        o.stdout
    );
}

#[test]
fn postgresql_unreachable_host_names_host_and_port() {
    let env = Env::new();
    let o = env.run_flow(
        "down.yaml",
        &pg_query_flow("jdbc:postgresql://127.0.0.1:1/db", "weir", "pw"),
        &[],
    );
    let err = failed(&env, &o, "query");
    assert_has(&err, &["127.0.0.1:1", "could not connect"]);
    assert!(
        err.to_ascii_lowercase().contains("refused"),
        "the message should say the connection was refused:\n{err}"
    );
}

#[test]
fn redshift_copy_from_a_bucket_runs_on_duckdb() {
    let (env, url) = duck_env();
    put(&env, "ok.csv", b"id,amount\n1,1.5\n2,2.5\n3,3.0\n");
    let o = env.run_flow(
        "copy.yaml",
        &format!(
            r#"
id: copy
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: {CREATE_T}
  - id: copy
    type: io.kestra.plugin.jdbc.redshift.Query
    sql: |
      COPY public.t (id, amount)
      FROM 's3://b/ok.csv'
      IAM_ROLE 'x'
      FORMAT AS CSV
      IGNOREHEADER 1;
  - id: check
    type: io.kestra.plugin.jdbc.redshift.Query
    fetchType: FETCH_ONE
    sql: SELECT count(*) AS n, sum(amount) AS total, count(DISTINCT id) AS ids FROM public.t
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{{{{ kv('JDBC_URL') }}}}"
"#
        ),
        &[],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(run_of(&ex, "copy")["outputs"]["size"], 3, "{ex:#}");
    let row: &Value = &run_of(&ex, "check")["outputs"]["row"];
    assert_eq!(row["n"], 3, "{row}");
    assert_eq!(row["ids"], 3, "{row}");
    assert_eq!(row["total"].as_f64(), Some(7.0), "{row}");
    assert_eq!(rows_in_t(&env, &url), 3);
}

#[test]
fn failing_third_statement_rolls_back_the_first_two_and_is_named_with_its_line() {
    let (env, url) = duck_env();
    let o = env.run_flow(
        "multi.yaml",
        &format!(
            r#"
id: multi
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: {CREATE_T}
  - id: inserts
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: |
      INSERT INTO public.t (id, amount)
      VALUES (1, 1.0);
      INSERT INTO public.t (id, amount) VALUES (2, 2.0);

      INSERT INTO public.t (id, amount) VALUES (3, 'abc');
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{{{{ kv('JDBC_URL') }}}}"
"#
        ),
        &[],
    );
    let err = failed(&env, &o, "inserts");
    assert_has(
        &err,
        &["statement 3 of 3", "line 5 of `sql`", "rolled back", "abc"],
    );
    assert_eq!(
        rows_in_t(&env, &url),
        0,
        "the first two inserts were rolled back"
    );
}

#[test]
fn redshift_copy_streams_an_object_from_an_s3_server() {
    let (mut env, url) = duck_env();
    let server = weir_storage::test_server::S3TestServer::start(
        &env.path().join("s3"),
        "AKIDWEIR",
        "weir-secret",
    )
    .expect("S3 server");
    server.create_bucket("tlc-data").expect("bucket");
    std::fs::write(
        server.root().join("tlc-data/ok.csv"),
        "id,amount\n1,1.5\n2,2.5\n",
    )
    .expect("object");
    env.set_env("WEIR_S3_ENDPOINT", &server.endpoint());
    env.set_env("AWS_ACCESS_KEY_ID", "AKIDWEIR");
    env.set_env("AWS_SECRET_ACCESS_KEY", "weir-secret");
    let flow = format!(
        r#"
id: s3copy
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: {CREATE_T}
  - id: copy
    type: io.kestra.plugin.jdbc.redshift.Query
    sql: COPY public.t (id, amount) FROM 's3://tlc-data/ok.csv' IAM_ROLE 'x' FORMAT AS CSV IGNOREHEADER 1
  - id: missing
    type: io.kestra.plugin.jdbc.redshift.Query
    sql: COPY public.t (id, amount) FROM 's3://tlc-data/nope.csv' IAM_ROLE 'x' CSV
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{{{{ kv('JDBC_URL') }}}}"
"#
    );
    let o = env.run_flow("s3copy.yaml", &flow, &[]);
    assert_eq!(o.code, 1, "the missing object must fail the run: {o:#?}");
    assert!(o.stderr.contains("s3://tlc-data/nope.csv"), "{}", o.stderr);
    let ex = env.show(&o.id());
    assert_eq!(run_of(&ex, "copy")["state"], "SUCCESS", "{ex:#}");
    assert_eq!(run_of(&ex, "copy")["outputs"]["size"], 2, "{ex:#}");
    assert_eq!(rows_in_t(&env, &url), 2);
    // The object came from the server: no local bucket was made.
    assert!(!env.home().join("buckets/tlc-data").exists());
}

#[test]
fn copy_in_and_copy_out_round_trip_on_postgresql() {
    let pg = Pg::start();
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("buckets/b")).expect("bucket");
    std::fs::write(
        env.home().join("buckets/b/in.csv"),
        "id,amount\n1,1.5\n2,\n3,3.25\n",
    )
    .expect("object");
    let o = env.weir(&["kv", "set", "-n", "it", "PG_URL", &pg.url_with_login()]);
    assert_eq!(o.code, 0, "{o:#?}");
    let flow = r#"
id: copies
namespace: it
tasks:
  - id: create
    type: io.kestra.plugin.jdbc.postgresql.Query
    sql: DROP TABLE IF EXISTS public.c; CREATE TABLE public.c (id integer, amount double precision)
  - id: copy_in
    type: io.kestra.plugin.jdbc.postgresql.CopyIn
    table: public.c
    from: s3://b/in.csv
    header: true
  - id: copy_out
    type: io.kestra.plugin.jdbc.postgresql.CopyOut
    sql: SELECT id, amount FROM public.c ORDER BY id
    header: true
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      out.csv: "{{ outputs.copy_out.uri }}"
    commands:
      - test "$(cat out.csv)" = "$(printf 'id,amount\n1,1.5\n2,\n3,3.25')"
pluginDefaults:
  - type: io.kestra.plugin.jdbc
    values:
      url: "{{ kv('PG_URL') }}"
"#;
    let o = env.run_flow("copies.yaml", flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    assert_eq!(run_of(&ex, "copy_in")["outputs"]["rowCount"], 3, "{ex:#}");
    assert_eq!(run_of(&ex, "copy_out")["outputs"]["rowCount"], 3, "{ex:#}");
}

/// Pins a known limit of the article's SQL (not of weir): on PostgreSQL, loading a month again
/// makes MERGE meet two staging rows for one target row, which PostgreSQL refuses.
/// `weir.warehouse.Load` exists for this; `demo_on_postgresql_matches_duckdb_and_a_rerun_inserts_nothing`
/// shows it reloading cleanly.
#[test]
fn article_sql_on_postgresql_fails_when_a_month_is_loaded_again() {
    let pg = Pg::start();
    let env = Env::new();
    let url = pg.url_with_login();
    let args = [
        "demo",
        "--article",
        "--scale",
        "0.002",
        "--from",
        "2021-01",
        "--to",
        "2021-01",
        "--taxi",
        "green",
        "--url",
        url.as_str(),
    ];
    let first = env.weir(&args);
    assert_eq!(first.code, 0, "{first:#?}");
    let again = env.weir(&args);
    assert_eq!(again.code, 1, "{again:#?}");
    assert!(
        again
            .stderr
            .contains("MERGE command cannot affect row a second time"),
        "{}",
        again.stderr
    );
    assert!(
        again.stderr.contains("green_merge_data"),
        "{}",
        again.stderr
    );
}

/// DuckDB refuses a transaction that collides with a concurrent one (two task runs creating
/// one table): weir runs it again, so sixteen parallel writers all succeed and every row lands.
#[test]
fn parallel_duckdb_writers_that_conflict_all_succeed() {
    let (env, url) = duck_env();
    let flow = format!(
        "id: writers\nnamespace: it\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]\n    concurrencyLimit: 0\n    tasks:\n      - id: q\n        type: io.kestra.plugin.jdbc.duckdb.Query\n        url: \"{url}\"\n        sql: |\n          CREATE TABLE IF NOT EXISTS t{{{{ taskrun.value | number % 2 }}}} (x INT);\n          INSERT INTO t{{{{ taskrun.value | number % 2 }}}} VALUES ({{{{ taskrun.value }}}});\n"
    );
    let o = env.run_flow("writers.yaml", &flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let q = env.json(&[
        "query",
        &url,
        "SELECT (SELECT count(*) FROM t0) AS even, (SELECT count(*) FROM t1) AS odd, (SELECT sum(x) FROM (SELECT x FROM t0 UNION ALL SELECT x FROM t1)) AS total",
        "--json",
    ]);
    assert_eq!(
        q[0]["even"]
            .as_u64()
            .or_else(|| q[0]["even"].as_str().and_then(|s| s.parse().ok())),
        Some(8),
        "{q}"
    );
    assert_eq!(
        q[0]["odd"]
            .as_u64()
            .or_else(|| q[0]["odd"].as_str().and_then(|s| s.parse().ok())),
        Some(8),
        "{q}"
    );
    assert_eq!(q[0]["total"].to_string().trim_matches('"'), "136", "{q}");
}
