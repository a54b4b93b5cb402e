//! The load's key index (issue 13): weir's own store of the table's key fingerprints, beside a
//! DuckDB file or in the user's cache for PostgreSQL, named by a token in `weir_key_store`. Rows
//! written by plain SQL between two loads are seen by the next load (an inserted row is not
//! inserted again, a deleted one is), a file whose later rows the table holds loads each row
//! once, a table without an index loads as before and is changed only when asked
//! (`weir warehouse index`, `keyIndex: true`), and a load killed in the middle leaves the table
//! and its key index consistent.

use crate::common::*;
use crate::pg::{self, Pg};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

const CREATE: &str =
    "CREATE TABLE public.trips (unique_row_id text, filename text, name text, n integer)";

/// One warehouse: how a flow connects, how `weir query` connects, its Query task type.
struct Wh {
    name: &'static str,
    conn: String,
    url: String,
}

fn duck(env: &Env) -> Wh {
    let db = env.path().join("w.duckdb");
    Wh {
        name: "DuckDB",
        conn: format!("url: jdbc:duckdb:{}", db.display()),
        url: format!("jdbc:duckdb:{}", db.display()),
    }
}

fn postgres(pg: &Pg) -> Wh {
    Wh {
        name: "PostgreSQL",
        conn: format!(
            "url: {}\n    username: {}\n    password: {}",
            pg.url(),
            pg::USER,
            pg::PASSWORD
        ),
        url: pg.url_with_login(),
    }
}

/// Writes a CSV into the home's bucket `b`.
fn put(env: &Env, name: &str, text: &str) {
    let dir = env.home().join("buckets").join("b");
    std::fs::create_dir_all(&dir).expect("bucket folder");
    std::fs::write(dir.join(name), text).expect("write the file");
}

fn sql(env: &Env, wh: &Wh, statement: &str) {
    let o = env.weir(&["query", &wh.url, statement]);
    assert_eq!(o.code, 0, "{}: `{statement}`: {o:#?}", wh.name);
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("`{v}` is not a count"))
}

/// (rows, distinct keys) of a table.
fn counts(env: &Env, wh: &Wh, table: &str) -> (u64, u64) {
    let q = env.json(&[
        "query",
        &wh.url,
        &format!("SELECT count(*) AS n, count(DISTINCT unique_row_id) AS k FROM {table}"),
        "--json",
    ]);
    (number(&q[0]["n"]), number(&q[0]["k"]))
}

/// Loads `s3://b/<file>` into `table`; returns the load's outputs and log lines.
fn load(env: &Env, wh: &Wh, file: &str, table: &str, key_index: bool) -> (Value, Vec<String>) {
    let flow = format!(
        r#"
id: load_index
namespace: it
tasks:
  - id: load
    type: weir.warehouse.Load
    {conn}
    from: s3://b/{file}
    table: {table}
    keyIndex: {key_index}
"#,
        conn = wh.conn
    );
    let o = env.run_flow("load.yaml", &flow, &[]);
    assert_eq!(o.code, 0, "{}: the load failed: {o:#?}", wh.name);
    let id = o.stdout.trim().to_string();
    let ex = env.show(&id);
    let outputs = run_of(&ex, "load")["outputs"].clone();
    (outputs, env.log_messages(&id, Some("load")))
}

fn has_line(lines: &[String], part: &str) -> bool {
    lines.iter().any(|l| l.contains(part))
}

const JAN: &str = "name,n\na,1\nb,2\nc,3\n";
const FEB: &str = "name,n\nd,4\ne,5\nf,6\n";

/// Plain SQL between two loads: an inserted row is not inserted twice, a deleted row is
/// inserted again, on a table whose key index the first load created.
fn plain_sql_between_loads(env: &Env, wh: &Wh) {
    put(env, "jan.csv", JAN);
    put(env, "feb.csv", FEB);
    sql(env, wh, CREATE);
    sql(
        env,
        wh,
        "CREATE TABLE public.scratch (unique_row_id text, filename text, name text, n integer)",
    );

    let (out, log) = load(env, wh, "jan.csv", "public.trips", true);
    assert_eq!(number(&out["rowsInserted"]), 3, "{}", wh.name);
    assert!(
        has_line(&log, "created the key index"),
        "{}: {log:#?}",
        wh.name
    );

    // February's row `e`, with its weir key, written into the table by plain SQL.
    let (out, _) = load(env, wh, "feb.csv", "public.scratch", false);
    assert_eq!(number(&out["rowsInserted"]), 3);
    sql(
        env,
        wh,
        "INSERT INTO public.trips (unique_row_id, filename, name, n) \
         SELECT unique_row_id, filename, name, n FROM public.scratch WHERE name = 'e'",
    );
    let (out, log) = load(env, wh, "feb.csv", "public.trips", false);
    assert_eq!(
        number(&out["rowsInserted"]),
        2,
        "{}: the row inserted by plain SQL is inserted again: {log:#?}",
        wh.name
    );
    assert_eq!(counts(env, wh, "public.trips"), (6, 6), "{}", wh.name);
    assert!(has_line(&log, "was out of date"), "{}: {log:#?}", wh.name);

    // A row deleted by plain SQL comes back with the next load of its file.
    sql(env, wh, "DELETE FROM public.trips WHERE name = 'b'");
    let (out, log) = load(env, wh, "jan.csv", "public.trips", false);
    assert_eq!(
        number(&out["rowsInserted"]),
        1,
        "{}: the deleted row is not inserted again: {log:#?}",
        wh.name
    );
    assert_eq!(counts(env, wh, "public.trips"), (6, 6), "{}", wh.name);
    assert!(has_line(&log, "was out of date"), "{}: {log:#?}", wh.name);

    // Loading it again changes nothing. On DuckDB the checkpoint at the end of the last command
    // may have compacted the deleted row away, moving the table's row-id extent, so the next
    // load may bring the index up to date once more; the one after uses it as it is.
    for _ in 0..2 {
        let (out, _) = load(env, wh, "jan.csv", "public.trips", false);
        assert_eq!(number(&out["rowsInserted"]), 0, "{}", wh.name);
    }
    let (_, log) = load(env, wh, "jan.csv", "public.trips", false);
    assert!(
        has_line(&log, "used the key index"),
        "{}: {log:#?}",
        wh.name
    );
}

#[test]
fn duckdb_plain_sql_between_loads_is_seen_through_the_key_index() {
    let env = Env::new();
    let wh = duck(&env);
    plain_sql_between_loads(&env, &wh);
}

#[test]
fn postgresql_plain_sql_between_loads_is_seen_through_the_key_index() {
    let pg = Pg::start();
    let env = Env::new();
    let wh = postgres(&pg);
    plain_sql_between_loads(&env, &wh);
}

/// The article's table (text keys, no index) loads as before; `weir warehouse index` upgrades
/// it, once.
fn upgraded_only_when_asked(env: &Env, wh: &Wh) {
    put(env, "jan.csv", JAN);
    sql(env, wh, CREATE);
    let (out, log) = load(env, wh, "jan.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 3);
    assert!(has_line(&log, "has no key index"), "{}: {log:#?}", wh.name);
    let (out, _) = load(env, wh, "jan.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0);

    let o = env.weir(&["warehouse", "index", "public.trips", "--url", &wh.url]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("created the key index"), "{o:#?}");
    let o = env.weir(&["warehouse", "index", "public.trips", "--url", &wh.url]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("already has a key index"), "{o:#?}");

    put(env, "more.csv", "name,n\na,1\nz,26\n");
    let (out, log) = load(env, wh, "more.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 1, "{}: {log:#?}", wh.name);
    assert!(
        has_line(&log, "used the key index"),
        "{}: {log:#?}",
        wh.name
    );
    assert_eq!(counts(env, wh, "public.trips"), (4, 4));

    // A user mistake is an error naming the table, not a panic.
    let o = env.weir(&["warehouse", "index", "public.nope", "--url", &wh.url]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(
        o.stderr.contains("error:") && o.stderr.contains("public.nope"),
        "{o:#?}"
    );
}

#[test]
fn duckdb_table_without_index_loads_and_is_upgraded_only_when_asked() {
    let env = Env::new();
    let wh = duck(&env);
    upgraded_only_when_asked(&env, &wh);
    // The table keeps its columns; the index lives beside the database file.
    let q = env.json(&[
        "query",
        &wh.url,
        "SELECT * FROM public.trips LIMIT 1",
        "--json",
    ]);
    let cols: Vec<&String> = q[0].as_object().expect("a row").keys().collect();
    assert_eq!(cols.len(), 4, "{cols:?}");
    let store = env.path().join("w.duckdb.keys");
    assert!(
        store
            .join("public.trips--unique_row_id")
            .join("MANIFEST")
            .is_file()
    );
}

#[test]
fn postgresql_table_without_index_loads_and_is_upgraded_only_when_asked() {
    let pg = Pg::start();
    let env = Env::new();
    let wh = postgres(&pg);
    upgraded_only_when_asked(&env, &wh);
    // Rows added by plain SQL renew the table's token (its trigger): the next load rebuilds
    // the index from the table before using it. Same rows as any other way.
    sql(
        &env,
        &wh,
        "INSERT INTO public.trips SELECT md5(i::text), 'filler', 'f' || i, i FROM generate_series(1, 40) i",
    );
    put(
        &env,
        "last.csv",
        "name,n
z,26
y,25
",
    );
    let (out, log) = load(&env, &wh, "last.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 1, "{log:#?}");
    assert!(has_line(&log, "was out of date"), "{log:#?}");
    assert_eq!(counts(&env, &wh, "public.trips"), (45, 45));
    let (out, log) = load(&env, &wh, "last.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0, "{log:#?}");
    assert!(has_line(&log, "used the key index"), "{log:#?}");
}

/// New rows first, rows the table holds after the first sampled keys: the load takes the
/// one-pass path, and the rows the table held are found through the index and not kept twice.
fn known_rows_late_in_a_file(env: &Env, wh: &Wh) {
    put(env, "jan.csv", JAN);
    sql(env, wh, CREATE);
    let (out, _) = load(env, wh, "jan.csv", "public.trips", true);
    assert_eq!(number(&out["rowsInserted"]), 3);
    let mut text = String::from("name,n\n");
    for i in 0..5000 {
        let _ = writeln!(text, "new{i},{i}");
    }
    text.push_str("b,2\nc,3\nlast,9\n");
    put(env, "mixed.csv", &text);
    let (out, log) = load(env, wh, "mixed.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 5001, "{}: {log:#?}", wh.name);
    assert_eq!(
        number(&out["duplicatesSkipped"]),
        2,
        "{}: {log:#?}",
        wh.name
    );
    assert!(
        has_line(&log, "used the key index"),
        "{}: {log:#?}",
        wh.name
    );
    assert_eq!(counts(env, wh, "public.trips"), (5004, 5004), "{}", wh.name);
    // The kept copies are the first ones (January's file name).
    let q = env.json(&[
        "query",
        &wh.url,
        "SELECT count(*) AS n FROM public.trips WHERE name IN ('b', 'c') AND filename = 'jan.csv'",
        "--json",
    ]);
    assert_eq!(number(&q[0]["n"]), 2, "{}", wh.name);
    let (out, log) = load(env, wh, "mixed.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0, "{}: {log:#?}", wh.name);
}

#[test]
fn duckdb_known_rows_late_in_a_file_are_not_kept_twice() {
    let env = Env::new();
    known_rows_late_in_a_file(&env, &duck(&env));
}

#[test]
fn postgresql_known_rows_late_in_a_file_are_not_kept_twice() {
    let pg = Pg::start();
    let env = Env::new();
    known_rows_late_in_a_file(&env, &postgres(&pg));
}

#[test]
fn warehouse_index_without_a_warehouse_says_how_to_name_one() {
    let env = Env::new();
    let o = env.weir(&["warehouse", "index", "t"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr.contains("hint:") && o.stderr.contains("--url"),
        "{o:#?}"
    );
}

/// Rows of the crash test's file: enough for a load of about a second in a debug build.
const CRASH_ROWS: usize = 150_000;

/// A load killed at several moments leaves all its rows or none, and the key index agrees with
/// the table: the next complete load inserts exactly the missing rows, each once.
fn killed_loads_leave_a_consistent_index(env: &Env, wh: &Wh) {
    let mut text = String::from("name,n\n");
    for i in 0..CRASH_ROWS {
        let _ = writeln!(text, "r{i},{i}");
    }
    put(env, "big.csv", &text);
    put(env, "jan.csv", JAN);
    sql(env, wh, CREATE);
    let (out, _) = load(env, wh, "jan.csv", "public.trips", true);
    assert_eq!(number(&out["rowsInserted"]), 3);

    let flow: PathBuf = env.write(
        "big.yaml",
        &format!(
            "id: big\nnamespace: it\ntasks:\n  - id: load\n    type: weir.warehouse.Load\n    {}\n    from: s3://b/big.csv\n    table: public.trips\n",
            wh.conn
        ),
    );
    let flow = flow.to_str().expect("utf-8").to_string();
    let mut seen_none = false;
    for (n, ms) in [150u64, 400, 700, 1000, 1400, 1900].into_iter().enumerate() {
        let tag = format!("kill-{n}");
        let mut child = env.spawn(&["run", &flow], &tag);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        let (rows, keys) = counts(env, wh, "public.trips");
        assert_eq!(rows, keys, "{}: a key twice after kill {n}", wh.name);
        assert!(
            rows == 3 || rows == 3 + CRASH_ROWS as u64,
            "{}: kill {n} ({ms} ms) left {rows} rows: neither all of the load nor none",
            wh.name
        );
        if rows == 3 {
            seen_none = true;
        } else {
            // It committed: take the rows out again by plain SQL for the next kill.
            sql(env, wh, "DELETE FROM public.trips WHERE name LIKE 'r%'");
        }
        // The table names one state of its index.
        let q = env.json(&[
            "query",
            &wh.url,
            "SELECT count(*) AS n FROM weir_key_store WHERE table_name = 'public.trips'",
            "--json",
        ]);
        assert_eq!(number(&q[0]["n"]), 1, "{}: after kill {n}", wh.name);
    }
    assert!(seen_none, "{}: no kill landed before a commit", wh.name);
    let (out, log) = load(env, wh, "big.csv", "public.trips", false);
    assert_eq!(
        number(&out["rowsInserted"]),
        CRASH_ROWS as u64,
        "{}: {log:#?}",
        wh.name
    );
    let (out, _) = load(env, wh, "big.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0);
    let n = 3 + CRASH_ROWS as u64;
    assert_eq!(counts(env, wh, "public.trips"), (n, n), "{}", wh.name);
}

#[test]
fn duckdb_killed_loads_leave_table_and_key_index_consistent() {
    let env = Env::new();
    let wh = duck(&env);
    killed_loads_leave_a_consistent_index(&env, &wh);
}

#[test]
fn postgresql_killed_loads_leave_table_and_key_index_consistent() {
    let pg = Pg::start();
    let env = Env::new();
    let wh = postgres(&pg);
    killed_loads_leave_a_consistent_index(&env, &wh);
}

/// A DuckDB file restored from a copy taken before a load: the index answers for the restored
/// table (the store keeps the state the copy's token names, or rebuilds), so the load's rows
/// missing from the restored table go in again, once.
#[test]
fn duckdb_restored_from_an_older_copy_loads_the_missing_rows_again() {
    let env = Env::new();
    let wh = duck(&env);
    put(&env, "jan.csv", JAN);
    put(&env, "feb.csv", FEB);
    sql(&env, &wh, CREATE);
    let (out, _) = load(&env, &wh, "jan.csv", "public.trips", true);
    assert_eq!(number(&out["rowsInserted"]), 3);
    let db = env.path().join("w.duckdb");
    let backup = env.path().join("backup.duckdb");
    std::fs::copy(&db, &backup).expect("copy the database");
    let (out, _) = load(&env, &wh, "feb.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 3);
    std::fs::copy(&backup, &db).expect("restore the database");
    let (out, log) = load(&env, &wh, "feb.csv", "public.trips", false);
    assert_eq!(
        number(&out["rowsInserted"]),
        3,
        "February's rows are not in the restored table: {log:#?}"
    );
    assert_eq!(counts(&env, &wh, "public.trips"), (6, 6));
    let (out, _) = load(&env, &wh, "feb.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0);
}

/// A PostgreSQL table dropped and created again (its trigger gone with it) and filled by plain
/// SQL: the index is rebuilt, not trusted, so the rows it holds are not inserted twice.
#[test]
fn postgresql_table_created_again_is_not_trusted_to_the_old_index() {
    let pg = Pg::start();
    let env = Env::new();
    let wh = postgres(&pg);
    put(&env, "jan.csv", JAN);
    sql(&env, &wh, CREATE);
    let (out, _) = load(&env, &wh, "jan.csv", "public.trips", true);
    assert_eq!(number(&out["rowsInserted"]), 3);
    // Row `z` with its weir key, from a load into another table.
    put(&env, "more.csv", "name,n\na,1\nz,26\n");
    sql(
        &env,
        &wh,
        "CREATE TABLE public.scratch (unique_row_id text, filename text, name text, n integer)",
    );
    load(&env, &wh, "more.csv", "public.scratch", false);
    sql(
        &env,
        &wh,
        "CREATE TABLE public.copy AS SELECT * FROM public.trips UNION ALL \
         SELECT * FROM public.scratch WHERE name = 'z'; DROP TABLE public.trips; \
         ALTER TABLE public.copy RENAME TO trips",
    );
    let (out, log) = load(&env, &wh, "more.csv", "public.trips", false);
    assert_eq!(number(&out["rowsInserted"]), 0, "{log:#?}");
    assert!(has_line(&log, "was out of date"), "{log:#?}");
    assert_eq!(counts(&env, &wh, "public.trips"), (4, 4));
}
