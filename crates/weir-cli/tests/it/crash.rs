//! Crash-safe loads, proven (issue 8, item 8): `weir run` killed with SIGKILL at seeded random
//! moments of a `weir.warehouse.Load` into DuckDB and into PostgreSQL, stopped with SIGTERM in
//! the middle of one, and killed in the middle of an HTTP download.
//!
//! Slow on purpose, and bounded: each engine's test runs some 27 real loads of a taxi month sized
//! for ~0.5 s of load in a debug build (long enough that kills land before, during and after
//! the insert: the delays are spread over 1.2 × a whole run, measured first), and three of the
//! kills wait 2 s before the next command, so that an orphan's end (its last heartbeat) is
//! visibly earlier than the moment it was noticed. The whole file takes 30–45 s on 2 cores in a
//! debug build, the two engines' tests running side by side.
//!
//! Kill delays come from a small seeded PRNG; the seed and every delay are printed (shown when a
//! test fails). `WEIR_CRASH_SEED=<n>` replays a seed: the same fractions of the measured run
//! time, so the same moments of the load up to the machine's timing.

use crate::common::*;
use crate::pg::{self, Pg};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use weir_taxi::{MonthSpec, Taxi};

/// SIGKILLs per engine.
const KILLS: usize = 20;
/// SIGTERMs per engine.
const TERMS: usize = 3;
/// Kills after which the test waits before the next weir command (by stratum: the delays of
/// strata 6, 9 and 12 of 20 fall at ~40–75% of a load, while the execution surely runs).
const SLOW_STRATA: [usize; 3] = [6, 9, 12];
/// How long those kills wait: longer than `END_MARGIN`, so an end time taken when the orphan
/// was noticed, instead of its last sign of life, would fail.
const NOTICE_AFTER: Duration = Duration::from_secs(2);
/// The engine heartbeats every second; an orphan ends at its last sign of life.
const END_MARGIN: f64 = 1.5;

/// The yellow taxi table of `examples/nyc-taxi/flows/taxi_load.yaml`.
const CREATE: &str = concat!(
    "CREATE TABLE IF NOT EXISTS public.yellow_tripdata (",
    "unique_row_id text, ",
    "filename text, ",
    "VendorID text, ",
    "tpep_pickup_datetime timestamp, ",
    "tpep_dropoff_datetime timestamp, ",
    "passenger_count integer, ",
    "trip_distance double precision, ",
    "RatecodeID text, ",
    "store_and_fwd_flag text, ",
    "PULocationID text, ",
    "DOLocationID text, ",
    "payment_type integer, ",
    "fare_amount double precision, ",
    "extra double precision, ",
    "mta_tax double precision, ",
    "tip_amount double precision, ",
    "tolls_amount double precision, ",
    "improvement_surcharge double precision, ",
    "total_amount double precision, ",
    "congestion_surcharge double precision)",
);

/// The key columns of the taxi flow's load.
const KEY_COLUMNS: [&str; 7] = [
    "VendorID",
    "tpep_pickup_datetime",
    "tpep_dropoff_datetime",
    "PULocationID",
    "DOLocationID",
    "fare_amount",
    "trip_distance",
];

/// Yellow January at this scale: ~110 k rows, ~0.5 s of load in a debug build.
const SCALE: f64 = 0.08;

// ---------------------------------------------------------------------------------------------
// Seeded randomness and printing.

/// SplitMix64: small, deterministic, good enough to spread kill delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `WEIR_CRASH_SEED`, or a new seed from the clock.
fn seed() -> u64 {
    std::env::var("WEIR_CRASH_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        })
}

#[expect(
    clippy::print_stderr,
    reason = "the seed and the kill delays must reach a failing test's output, to replay it"
)]
fn say(msg: &str) {
    eprintln!("{msg}");
}

/// `n` delays over `[0, span)`, one in each of `n` equal strata (so they cover the whole span),
/// in a random order; each with its stratum.
fn stratified(rng: &mut Rng, n: usize, span: Duration) -> Vec<(usize, Duration)> {
    let mut d: Vec<(usize, Duration)> = (0..n)
        .map(|i| (i, span.mul_f64((i as f64 + rng.unit()) / n as f64)))
        .collect();
    for i in (1..n).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        d.swap(i, j);
    }
    d
}

// ---------------------------------------------------------------------------------------------
// The load under test.

/// One warehouse and the flow that loads the taxi file into it.
struct Target {
    name: &'static str,
    /// For `weir query`.
    url: String,
    flow: PathBuf,
}

/// Creates the table, then loads `s3://b/<file>` (the home's local bucket) into it.
fn load_flow(env: &Env, query_type: &str, conn: &str, file: &str) -> PathBuf {
    let keys = KEY_COLUMNS.join(", ");
    env.write(
        "load.yaml",
        &format!(
            r#"
id: crash_load
namespace: it
tasks:
  - id: create
    type: {query_type}
    {conn}
    sql: {CREATE}
  - id: load
    type: weir.warehouse.Load
    {conn}
    from: s3://b/{file}
    table: public.yellow_tripdata
    keyColumns: [{keys}]
"#
        ),
    )
}

/// Generates the taxi month into the home's bucket `b`; returns its path.
fn taxi_file(env: &Env) -> PathBuf {
    let bucket = env.home().join("buckets").join("b");
    let spec = MonthSpec {
        scale: SCALE,
        ..MonthSpec::new(Taxi::Yellow, 2021, 1)
    };
    let stats = weir_taxi::generate(&spec, &bucket).expect("generate the taxi month");
    assert!(stats.distinct_rows > 50_000, "{stats:?}");
    stats.path
}

/// The file's distinct row keys, counted by DuckDB's own CSV reader with the README's SQL for
/// the key: independent of weir's reader and hashing.
fn distinct_keys(env: &Env, file: &Path) -> u64 {
    let key = KEY_COLUMNS
        .iter()
        .map(|c| format!("coalesce(length(\"{c}\") || ':' || \"{c}\", 'N')"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT count(DISTINCT md5(concat({key}))) AS n FROM read_csv('{}', header = true, all_varchar = true, allow_quoted_nulls = false)",
        file.display()
    );
    let url = format!("jdbc:duckdb:{}", env.path().join("count.duckdb").display());
    let q = env.json(&["query", &url, &sql, "--json"]);
    number(&q[0]["n"])
}

fn number(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("`{v}` is not a count"))
}

/// Rows of the table, checked to be one per key.
fn rows(env: &Env, t: &Target) -> u64 {
    let q = env.json(&[
        "query",
        &t.url,
        "SELECT count(*) AS n, count(DISTINCT unique_row_id) AS k FROM public.yellow_tripdata",
        "--json",
    ]);
    let (n, k) = (number(&q[0]["n"]), number(&q[0]["k"]));
    assert_eq!(n, k, "{}: a row key is in the table twice", t.name);
    n
}

fn empty_table(env: &Env, t: &Target) {
    let o = env.weir(&["query", &t.url, "DELETE FROM public.yellow_tripdata"]);
    assert_eq!(o.code, 0, "{o:#?}");
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("`{v}` is not a timestamp: {e}"))
        .with_timezone(&Utc)
}

/// Ids of the home's executions.
fn execution_ids(env: &Env) -> Vec<String> {
    env.executions()
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A whole run, timed from spawn to exit (as kill delays are): (execution, seconds).
fn timed_run(env: &Env, t: &Target, tag: &str) -> (Value, Duration) {
    let start = Instant::now();
    let mut child = env.spawn(&["run", t.flow.to_str().expect("utf-8")], tag);
    let code = wait_timeout(&mut child, Duration::from_secs(60));
    let took = start.elapsed();
    assert_eq!(
        code,
        Some(0),
        "{}: the load failed: {:?}",
        t.name,
        env.spawned_output(tag)
    );
    let (out, _) = env.spawned_output(tag);
    (env.show(out.trim()), took)
}

/// What a SIGKILL interrupted, as the next command found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Before the execution was recorded.
    NoExecution,
    /// An orphan, killed before its load began.
    BeforeLoad,
    /// An orphan killed during the load, which left no row.
    InLoadNone,
    /// An orphan killed during the load after its commit, before it was recorded: all rows.
    InLoadAll,
    /// An orphan whose load had finished.
    AfterLoad,
    /// The run had ended (or was ending) SUCCESS.
    Finished,
}

/// Kills `weir run` at seeded moments; checks after each kill what the next command finds; ends
/// with SIGTERMs and a run to completion.
fn crash_series(env: &Env, t: &Target, expected: u64) {
    let seed = seed();
    let mut rng = Rng(seed);
    say(&format!(
        "{}: seed {seed} (replay with WEIR_CRASH_SEED={seed})",
        t.name
    ));

    // Measure: the first run creates the table and loads everything.
    let (ex, first) = timed_run(env, t, "first");
    let load = run_of(&ex, "load");
    assert_eq!(
        number(&load["outputs"]["rowsInserted"]),
        expected,
        "{}: the first load inserts every distinct key: {load:#}",
        t.name
    );
    assert_eq!(rows(env, t), expected);
    empty_table(env, t);
    let (ex, second) = timed_run(env, t, "second");
    let load_secs = run_duration(run_of(&ex, "load"));
    let whole = first.max(second);
    let span = whole.mul_f64(1.2);
    say(&format!(
        "{}: a run takes {:.3} s / {:.3} s (load {load_secs:.3} s); kill delays over [0, {:.3} s]",
        t.name,
        first.as_secs_f64(),
        second.as_secs_f64(),
        span.as_secs_f64()
    ));
    empty_table(env, t);

    let mut outcomes: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut slow_orphans = 0;
    let delays = stratified(&mut rng, KILLS, span);
    let last = delays.len() - 1;
    for (n, (stratum, delay)) in delays.into_iter().enumerate() {
        let slow = SLOW_STRATA.contains(&stratum);
        let before = execution_ids(env);
        let tag = format!("kill-{n:02}");
        let spawned = Instant::now();
        let mut child = env.spawn(&["run", t.flow.to_str().expect("utf-8")], &tag);
        std::thread::sleep(delay.saturating_sub(spawned.elapsed()));
        let exited = child.try_wait().expect("try_wait").is_some();
        let killed_at = Utc::now();
        let _ = child.kill();
        let _ = child.wait();
        say(&format!(
            "{}: kill {n:02}: {:.3} s after spawn (stratum {stratum:02}, {:.0}% of a run){}",
            t.name,
            delay.as_secs_f64(),
            100.0 * delay.as_secs_f64() / whole.as_secs_f64(),
            if slow { ", next command in 2 s" } else { "" }
        ));
        if slow {
            std::thread::sleep(NOTICE_AFTER);
        }
        let outcome = after_kill(env, t, &before, &child, killed_at, exited, expected);
        if slow && outcome != Outcome::NoExecution && outcome != Outcome::Finished {
            slow_orphans += 1;
        }
        *outcomes.entry(outcome).or_default() += 1;
        // Each kill interrupts a load into an empty table, except the last: the final run must
        // complete whatever it left.
        if n != last && rows(env, t) == expected {
            empty_table(env, t);
        }
    }
    say(&format!("{}: SIGKILL outcomes {outcomes:?}", t.name));
    assert!(
        slow_orphans > 0,
        "{}: no kill followed by a 2 s wait interrupted a running execution, so nothing showed \
         that an orphan ends at its last sign of life: {outcomes:?}",
        t.name
    );
    assert!(
        outcomes.contains_key(&Outcome::InLoadNone) || outcomes.contains_key(&Outcome::InLoadAll),
        "{}: no kill landed during the load: {outcomes:?}",
        t.name
    );

    for n in 0..TERMS {
        if rows(env, t) == expected {
            empty_table(env, t);
        }
        sigterm_mid_load(env, t, n, &mut rng, load_secs, expected);
    }

    let (ex, _) = timed_run(env, t, "final");
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(
        rows(env, t),
        expected,
        "{}: after every kill, a run to completion holds each distinct key once",
        t.name
    );
}

/// What the next weir command must find after a SIGKILL.
fn after_kill(
    env: &Env,
    t: &Target,
    before: &[String],
    child: &Child,
    killed_at: DateTime<Utc>,
    exited: bool,
    expected: u64,
) -> Outcome {
    let next = env.weir(&["executions", "list", "--json"]);
    assert_eq!(next.code, 0, "{next:#?}");
    let list: Vec<Value> = serde_json::from_str(&next.stdout).expect("JSON list");
    let new: Vec<&Value> = list
        .iter()
        .filter(|e| !before.iter().any(|b| e["id"] == b.as_str()))
        .collect();
    assert!(new.len() <= 1, "one run, one execution: {new:#?}");
    let count = rows(env, t);
    let Some(e) = new.first() else {
        assert_eq!(count, 0, "{}: no execution, yet rows were loaded", t.name);
        return Outcome::NoExecution;
    };
    let id = e["id"].as_str().unwrap_or_default();
    let ex = env.show(id);
    let state = ex["state"].as_str().unwrap_or_default();
    let runs = ex["taskRuns"].as_array().cloned().unwrap_or_default();
    assert!(
        runs.iter()
            .all(|r| !["CREATED", "RUNNING"].contains(&r["state"].as_str().unwrap_or_default())),
        "{}: a task run of a dead process is still open: {ex:#}",
        t.name
    );
    let load_state = runs
        .iter()
        .find(|r| r["taskId"] == "load")
        .map(|r| r["state"].as_str().unwrap_or_default().to_string());
    if state == "SUCCESS" {
        assert_eq!(count, expected, "{}: SUCCESS without every row", t.name);
        return Outcome::Finished;
    }
    assert!(
        !exited,
        "{}: the run ended on its own, {state}: {ex:#}",
        t.name
    );
    assert_eq!(state, "FAILED", "{}: {ex:#}", t.name);
    // (1) The next command failed it and said why, there and in its logs.
    assert!(
        next.stderr.contains(&format!(
            "note: execution {id} was left running by a weir process that is gone; marked FAILED"
        )),
        "{}: {}",
        t.name,
        next.stderr
    );
    let pid = child.id();
    let logs = env.log_messages(id, None);
    assert!(
        logs.iter().any(|m| m.contains(&format!(
            "the weir process (pid {pid}) that ran this execution is gone"
        ))),
        "{}: no reason in the logs: {logs:#?}",
        t.name
    );
    // (3) It ended when its process was last seen alive, not when it was noticed.
    let ended = at(&ex["ended"]);
    let late = (ended - killed_at).as_seconds_f64();
    assert!(
        late <= END_MARGIN,
        "{}: killed at {killed_at}, ended {ended} ({late:.3} s later)",
        t.name
    );
    assert!(ended >= at(&ex["created"]), "{ex:#}");
    // (2) All of the file's rows or none.
    assert!(
        count == 0 || count == expected,
        "{}: {count} rows of {expected} after a kill: a partial load",
        t.name
    );
    match load_state.as_deref() {
        None => {
            assert_eq!(count, 0, "{}: rows without a load", t.name);
            Outcome::BeforeLoad
        }
        Some("SUCCESS") => {
            assert_eq!(count, expected, "{}: a load SUCCESS lost its rows", t.name);
            Outcome::AfterLoad
        }
        Some(_) if count == 0 => Outcome::InLoadNone,
        Some(_) => Outcome::InLoadAll,
    }
}

/// SIGTERM while the load runs: KILLED, exit 1, all rows or none, and the reason in the logs.
fn sigterm_mid_load(env: &Env, t: &Target, n: usize, rng: &mut Rng, load_secs: f64, expected: u64) {
    let before = execution_ids(env);
    let tag = format!("term-{n}");
    let mut child = env.spawn(&["run", t.flow.to_str().expect("utf-8")], &tag);
    // Wait for the load to be RUNNING, then for up to half of its usual duration.
    let start = Instant::now();
    let id = loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}: the load never ran: {:?}",
            t.name,
            env.spawned_output(&tag)
        );
        let found = execution_ids(env).into_iter().find(|i| !before.contains(i));
        if let Some(id) = found {
            let ex = env.show(&id);
            if runs_of(&ex, "load").iter().any(|r| r["state"] == "RUNNING") {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let delay = Duration::from_secs_f64(load_secs * 0.5 * rng.unit());
    std::thread::sleep(delay);
    say(&format!(
        "{}: SIGTERM {n}: {:.3} s after the load was seen running",
        t.name,
        delay.as_secs_f64()
    ));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let code = wait_timeout(&mut child, Duration::from_secs(10));
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        code,
        Some(1),
        "{}: weir did not exit 1 after SIGTERM: {:?}",
        t.name,
        env.spawned_output(&tag)
    );
    let next = env.weir(&["executions", "list"]);
    assert!(
        !next.stderr.contains("note:"),
        "{}: a SIGTERM left an orphan: {}",
        t.name,
        next.stderr
    );
    let ex = env.show(&id);
    assert_eq!(ex["state"], "KILLED", "{}: {ex:#}", t.name);
    assert_eq!(run_of(&ex, "load")["state"], "KILLED", "{}: {ex:#}", t.name);
    let logs = env.log_messages(&id, None);
    assert!(
        logs.iter()
            .any(|m| m.contains("killed: weir received SIGTERM")),
        "{}: {logs:#?}",
        t.name
    );
    let count = rows(env, t);
    say(&format!("{}: SIGTERM {n}: {count} rows", t.name));
    assert!(
        count == 0 || count == expected,
        "{}: {count} rows of {expected} after a SIGTERM: a partial load",
        t.name
    );
}

#[test]
fn a_duckdb_load_killed_at_any_moment_leaves_all_rows_or_none() {
    let env = Env::new();
    let file = taxi_file(&env);
    let expected = distinct_keys(&env, &file);
    let db = env.path().join("w.duckdb");
    let conn = format!("url: jdbc:duckdb:{}", db.display());
    let name = file
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    let t = Target {
        name: "DuckDB",
        url: format!("jdbc:duckdb:{}", db.display()),
        flow: load_flow(&env, "io.kestra.plugin.jdbc.duckdb.Query", &conn, name),
    };
    crash_series(&env, &t, expected);
}

#[test]
fn a_postgresql_load_killed_at_any_moment_leaves_all_rows_or_none() {
    let pg = Pg::start();
    let env = Env::new();
    let file = taxi_file(&env);
    let expected = distinct_keys(&env, &file);
    let conn = format!(
        "url: {}\n    username: {}\n    password: {}",
        pg.url(),
        pg::USER,
        pg::PASSWORD
    );
    let name = file
        .file_name()
        .and_then(|f| f.to_str())
        .expect("file name");
    let t = Target {
        name: "PostgreSQL",
        url: pg.url_with_login(),
        flow: load_flow(&env, "io.kestra.plugin.jdbc.postgresql.Query", &conn, name),
    };
    crash_series(&env, &t, expected);
}

// ---------------------------------------------------------------------------------------------
// A download cut short.

/// An HTTP server sending a `len`-byte body in 64 KiB chunks, pausing between them, so a
/// download takes long enough to be killed in the middle. Runs until the test process ends.
fn serve_slowly(len: usize, pause: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(match stream.try_clone() {
                    Ok(s) => s,
                    Err(_) => return,
                });
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                    line.clear();
                }
                let mut s = stream;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if s.write_all(&chunk[..n]).and_then(|()| s.flush()).is_err() {
                        return;
                    }
                    left -= n;
                    std::thread::sleep(pause);
                }
            });
        }
    });
    port
}

/// Every file under a folder.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(files_under(&p));
        } else {
            found.push(p);
        }
    }
    found
}

#[test]
fn a_download_killed_midway_leaves_no_partial_file() {
    let env = Env::new();
    // 8 MiB at 64 KiB per 10 ms: over a second of download.
    let len = 8 << 20;
    let port = serve_slowly(len, Duration::from_millis(10));
    let f = env.write(
        "dl.yaml",
        &format!(
            r#"
id: crash_download
namespace: it
tasks:
  - id: dl
    type: io.kestra.plugin.core.http.Download
    uri: http://127.0.0.1:{port}/big.bin
"#
        ),
    );
    let mut child = env.spawn(&["run", f.to_str().expect("utf-8")], "dl");
    let storage = env.home().join("storage");
    // Kill once the download has written some of the body, well before all of it.
    let start = Instant::now();
    let partial = loop {
        let written: Vec<PathBuf> = files_under(&storage)
            .into_iter()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= 256 * 1024))
            .collect();
        if let Some(p) = written.into_iter().next() {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the download never started: {:?}",
            env.spawned_output("dl")
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = child.kill();
    let _ = child.wait();
    let size = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
    assert!(
        0 < size && size < len as u64,
        "the kill should leave a partial file: {size} of {len} bytes"
    );
    let run_dir = partial
        .parent()
        .expect("the task run's folder")
        .to_path_buf();

    let next = env.weir(&["executions", "list", "--json"]);
    assert_eq!(next.code, 0, "{next:#?}");
    assert!(
        next.stderr
            .contains("marked FAILED and removed 1 partial file"),
        "{}",
        next.stderr
    );
    assert!(
        !run_dir.exists(),
        "the interrupted task run's folder `{}` is still there: {:?}",
        run_dir.display(),
        files_under(&run_dir)
    );
    let id = execution_ids(&env)
        .into_iter()
        .next()
        .expect("an execution");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "FAILED", "{ex:#}");
    let dl = run_of(&ex, "dl");
    assert_eq!(dl["state"], "FAILED", "{ex:#}");
    // The folder removed was that task run's, not something else's.
    assert_eq!(
        run_dir.file_name().and_then(|n| n.to_str()),
        dl["id"].as_str(),
        "{ex:#}"
    );
}
