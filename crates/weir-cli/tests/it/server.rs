//! `weir server` and `weir backfill` end to end (issue 9, "What it must show", item 1): the real
//! binary on a free loopback port (`--bind 127.0.0.1:0`, the address read from its `ready:`
//! line) with a temporary home, spoken to over HTTP as a script written for Kestra would.
//!
//! Every spawned server is killed when its `Server` is dropped, so a failing test leaves no
//! process behind. Waits poll with deadlines; the only plain sleep is the downtime of the
//! missed-schedule tests, which is what they measure. The server is ready in milliseconds, so
//! most tests take ~0.1 s. Slow on purpose: the missed-schedule tests, ~12 s each (a schedule
//! every 2 s: up until two dates ran, down for ~5 s, up again for two more); the SIGTERM test,
//! ~5 s (a 4 s task, interrupted and run again); the taxi backfill killed with SIGKILL, ~4 s
//! (six real monthly loads into DuckDB); the backfills and the concurrency limit, 2–3 s (the
//! scheduler looks every 0.5 s; three 1 s tasks one after another).

use crate::common::*;
use chrono::{DateTime, Duration as TimeDelta, SubsecRound, Timelike, Utc};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};
use weir_taxi::{MonthSpec, Taxi};

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client: one request per connection, enough for a JSON API.

#[derive(Debug)]
struct Resp {
    status: u16,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:#?}"))
    }

    /// The JSON body of a 200 answer.
    fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{self:#?}");
        self.json()
    }
}

fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write request");
    s.write_all(body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head}"));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        rest = unchunk(&rest);
    }
    Resp {
        status,
        body: String::from_utf8_lossy(&rest).into_owned(),
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = String::from_utf8_lossy(&b[..eol]);
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
}

/// `a b` → `a%20b`: enough for the query values of these tests.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|c| match c {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (c as char).to_string()
            }
            _ => format!("%{c:02X}"),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A running `weir server`.

struct Server<'a> {
    env: &'a Env,
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    addr: String,
    tag: String,
    token: Option<String>,
}

impl<'a> Server<'a> {
    /// `weir server --bind 127.0.0.1:0 ARGS…`, once it answers `/health`.
    fn start(env: &'a Env, tag: &str, args: &[&str]) -> Server<'a> {
        let mut all = vec!["server", "--bind", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Server::spawn(env, tag, &all, None)
    }

    fn spawn(env: &'a Env, tag: &str, args: &[&str], token: Option<&str>) -> Server<'a> {
        let child = env.spawn(args, tag);
        let mut server = Server {
            env,
            child: Some(child),
            addr: String::new(),
            tag: tag.to_string(),
            token: token.map(str::to_string),
        };
        let start = Instant::now();
        server.addr = loop {
            let err = server.stderr();
            if let Some(i) = err.find("listening on http://") {
                let rest = &err[i + "listening on http://".len()..];
                let addr = rest.split_whitespace().next().unwrap_or_default();
                break addr.replace("0.0.0.0:", "127.0.0.1:");
            }
            if let Some(code) = server
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("weir server exited with {code} before it was ready:\n{err}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "weir server not ready within 30 s:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let health = server.get("/health");
        assert_eq!(health.status, 200, "{health:#?}");
        server
    }

    fn stderr(&self) -> String {
        self.env.spawned_output(&self.tag).1
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![];
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        http(&self.addr, method, path, &headers, text.as_bytes())
    }

    fn get(&self, path: &str) -> Resp {
        self.request("GET", path, None)
    }

    fn post(&self, path: &str, body: Option<&Value>) -> Resp {
        self.request("POST", path, body)
    }

    /// Starts an execution; returns its id.
    fn start_execution(&self, namespace: &str, flow: &str, inputs: Option<&Value>) -> String {
        let e = self
            .post(&format!("/api/v1/executions/{namespace}/{flow}"), inputs)
            .ok();
        e["id"].as_str().expect("an execution id").to_string()
    }

    fn execution(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/executions/{id}")).ok()
    }

    /// Every execution of a flow (`extra` adds query parameters), newest first.
    fn executions(&self, namespace: &str, flow: &str, extra: &str) -> Vec<Value> {
        let page = self
            .get(&format!(
                "/api/v1/executions/search?namespace={namespace}&flowId={flow}&size=1000{extra}"
            ))
            .ok();
        // `total` is not compared with the results: it is counted by a query of its own, so a
        // schedule firing in between may make them differ by one.
        page["results"].as_array().cloned().unwrap_or_default()
    }

    /// Polls an execution until it has ended.
    fn wait_ended(&self, id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let e = self.execution(id);
            if is_ended(&e) {
                return e;
            }
            assert!(
                start.elapsed() < timeout,
                "execution {id} did not end within {timeout:?}: {e:#}\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; waits for the exit and returns its code.
    fn stop(&mut self) -> i32 {
        let mut child = self.child.take().expect("a running server");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("send SIGTERM");
        let code = wait_timeout(&mut child, Duration::from_secs(30));
        if code.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        code.unwrap_or_else(|| panic!("weir server ignored SIGTERM:\n{}", self.stderr()))
    }

    /// SIGKILL, as a crash.
    fn kill9(&mut self) {
        let mut child = self.child.take().expect("a running server");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading executions in the API's shape.

fn state(e: &Value) -> &str {
    e["state"]["current"].as_str().unwrap_or_default()
}

const ENDED: [&str; 5] = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"];

fn is_ended(e: &Value) -> bool {
    ENDED.contains(&state(e))
}

fn id(e: &Value) -> String {
    e["id"].as_str().unwrap_or_default().to_string()
}

fn trigger_date(e: &Value) -> String {
    e["trigger"]["variables"]["date"]
        .as_str()
        .unwrap_or_else(|| panic!("no trigger.variables.date: {e:#}"))
        .to_string()
}

fn when(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
        .unwrap_or_else(|e| panic!("`{v}` is not a timestamp: {e}"))
        .with_timezone(&Utc)
}

/// When the execution was created (its first state).
fn created(e: &Value) -> DateTime<Utc> {
    when(&e["state"]["histories"][0]["date"])
}

/// When a state was first entered.
fn entered(e: &Value, st: &str) -> DateTime<Utc> {
    let h = e["state"]["histories"].as_array().expect("histories");
    let c = h
        .iter()
        .find(|c| c["state"] == st)
        .unwrap_or_else(|| panic!("never {st}: {e:#}"));
    when(&c["date"])
}

fn labels(e: &Value) -> BTreeSet<(String, String)> {
    e["labels"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["key"].as_str().unwrap_or_default().to_string(),
                        l["value"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The task runs of `task` in an execution of the API.
fn task_runs<'v>(e: &'v Value, task: &str) -> Vec<&'v Value> {
    e["taskRunList"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["taskId"] == task).collect())
        .unwrap_or_default()
}

fn task_run<'v>(e: &'v Value, task: &str) -> &'v Value {
    let runs = task_runs(e, task);
    assert_eq!(runs.len(), 1, "one task run of `{task}` expected: {e:#}");
    runs[0]
}

fn attempt_states(run: &Value) -> Vec<String> {
    run["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x["state"]["current"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn output(e: &Value, task: &str) -> String {
    task_run(e, task)["outputs"]["value"]
        .as_str()
        .unwrap_or_else(|| panic!("no output `value` of `{task}`: {e:#}"))
        .to_string()
}

/// Polls `f` until it returns `Some`, failing with `what` after `timeout`.
fn poll<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < timeout, "{what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A folder of flow files for `--flows`.
fn flows_dir(env: &Env, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.path().join("flows");
    std::fs::create_dir_all(&dir).expect("flows folder");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write flow");
    }
    dir
}

#[expect(
    clippy::print_stderr,
    reason = "where a kill landed must reach a failing test's output"
)]
fn say(msg: &str) {
    eprintln!("{msg}");
}

fn utf8(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

// ---------------------------------------------------------------------------------------------
// 1. Backfills.

const MONTHLY: &str = r#"
id: monthly
namespace: it
tasks:
  - id: date
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.date }}"
triggers:
  - id: monthly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 1 * *"
"#;

fn six_dates() -> Vec<String> {
    (1..=6)
        .map(|m| format!("2021-{m:02}-01T09:00:00Z"))
        .collect()
}

/// Six SUCCESS executions, one per month, with the backfill's labels and `trigger.date`.
fn check_six(execs: &[Value], label: (&str, &str)) {
    assert_eq!(execs.len(), 6, "six executions expected: {execs:#?}");
    let mut dates: Vec<String> = execs.iter().map(trigger_date).collect();
    dates.sort();
    assert_eq!(dates, six_dates(), "{execs:#?}");
    let backfills: BTreeSet<String> = execs
        .iter()
        .map(|e| e["trigger"]["backfill"].to_string())
        .collect();
    assert_eq!(backfills.len(), 1, "one backfill id for all: {backfills:?}");
    assert!(
        backfills.iter().all(|b| b.starts_with('"')),
        "{backfills:?}"
    );
    for e in execs {
        assert_eq!(state(e), "SUCCESS", "{e:#}");
        let l = labels(e);
        assert!(l.contains(&("backfill".into(), "true".into())), "{e:#}");
        assert!(l.contains(&(label.0.into(), label.1.into())), "{e:#}");
        assert_eq!(e["trigger"]["id"], "monthly", "{e:#}");
        // The task saw the date the execution was made for.
        assert_eq!(output(e, "date"), trigger_date(e), "{e:#}");
    }
}

/// The DATE / EXECUTION / STATE table `weir backfill` prints on stdout: six SUCCESS rows.
fn check_backfill_table(o: &Out) {
    assert_eq!(o.code, 0, "{o:#?}");
    for d in six_dates() {
        let line = o
            .stdout
            .lines()
            .find(|l| l.contains(&d))
            .unwrap_or_else(|| panic!("no row for {d}: {o:#?}"));
        assert!(line.contains("SUCCESS"), "{line}\n{o:#?}");
    }
    assert!(o.stderr.contains("6 executions"), "{o:#?}");
}

/// A backfill the API reports DONE after creating `n` executions.
fn backfill_done(s: &Server, label: (&str, &str), n: u64) -> bool {
    let list = s.get("/api/v1/triggers/backfills").ok();
    list.as_array().is_some_and(|a| {
        a.iter().any(|b| {
            b["labels"]
                .as_array()
                .is_some_and(|l| l.contains(&json!({"key": label.0, "value": label.1})))
                && b["state"] == "DONE"
                && b["createdCount"].as_u64() == Some(n)
        })
    })
}

#[test]
fn a_backfill_of_six_months_makes_six_executions_with_their_dates_and_labels() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("monthly.yaml", MONTHLY)]);
    let s = Server::start(&env, "server", &["--flows", utf8(&dir)]);

    // From the command line, handed to the running server.
    let o = env.weir(&[
        "backfill",
        "it.monthly",
        "--trigger",
        "monthly",
        "--from",
        "2021-01-01",
        "--to",
        "2021-06-30",
        "--label",
        "run=cli",
    ]);
    assert!(o.stderr.contains("handed to the server"), "{o:#?}");
    check_backfill_table(&o);
    let cli = s.executions("it", "monthly", "&labels=run:cli");
    // The search's rows and the single reads agree.
    let cli: Vec<Value> = cli.iter().map(|e| s.execution(&id(e))).collect();
    check_six(&cli, ("run", "cli"));
    assert!(backfill_done(&s, ("run", "cli"), 6));

    // Through the API, as Kestra's Triggers tab does it.
    let body = json!({
        "namespace": "it", "flowId": "monthly", "triggerId": "monthly",
        "backfill": {
            "start": "2021-01-01T00:00:00Z", "end": "2021-06-30T00:00:00Z",
            "labels": [{"key": "run", "value": "api"}]
        }
    });
    let t = s.request("PUT", "/api/v1/triggers", Some(&body)).ok();
    assert_eq!(t["backfill"]["total"], 6, "{t:#}");
    poll(Duration::from_secs(30), "the API's backfill to end", || {
        let all = s.executions("it", "monthly", "&labels=run:api");
        (backfill_done(&s, ("run", "api"), 6) && all.len() == 6 && all.iter().all(is_ended))
            .then_some(())
    });
    let api: Vec<Value> = s
        .executions("it", "monthly", "&labels=run:api")
        .iter()
        .map(|e| s.execution(&id(e)))
        .collect();
    check_six(&api, ("run", "api"));
    // Nothing else ran: the two backfills' twelve executions are all the flow has.
    assert_eq!(s.executions("it", "monthly", "").len(), 12);
    assert_eq!(
        s.executions("it", "monthly", "&labels=backfill:true").len(),
        12
    );
    drop(s);

    // Without a server, `weir backfill` runs them itself; a server started afterwards on the
    // same home shows the same six.
    let env = Env::new();
    let f = env.write("monthly.yaml", MONTHLY);
    let o = env.weir(&[
        "backfill",
        utf8(&f),
        "--trigger",
        "monthly",
        "--from",
        "2021-01-01",
        "--to",
        "2021-06-30",
        "--label",
        "run=local",
    ]);
    assert!(!o.stderr.contains("handed to the server"), "{o:#?}");
    check_backfill_table(&o);
    let s = Server::start(&env, "after", &[]);
    let local: Vec<Value> = s
        .executions("it", "monthly", "")
        .iter()
        .map(|e| s.execution(&id(e)))
        .collect();
    check_six(&local, ("run", "local"));
}

// ---------------------------------------------------------------------------------------------
// 2. A taxi backfill killed with SIGKILL; SIGTERM with a short grace.

/// Green taxi months at this scale: ~15 k rows each, a few tenths of a second of load.
const TAXI_SCALE: f64 = 0.2;

const GREEN_KEYS: [&str; 7] = [
    "VendorID",
    "lpep_pickup_datetime",
    "lpep_dropoff_datetime",
    "PULocationID",
    "DOLocationID",
    "fare_amount",
    "trip_distance",
];

fn count(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("`{v}` is not a count"))
}

/// Distinct row keys of the files, counted by DuckDB's own CSV reader (as `crash.rs` does).
fn distinct_keys(env: &Env, files: &[PathBuf]) -> u64 {
    let key = GREEN_KEYS
        .iter()
        .map(|c| format!("coalesce(length(\"{c}\") || ':' || \"{c}\", 'N')"))
        .collect::<Vec<_>>()
        .join(", ");
    let list = files
        .iter()
        .map(|f| format!("'{}'", f.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT count(DISTINCT md5(concat({key}))) AS n FROM read_csv([{list}], header = true, all_varchar = true, allow_quoted_nulls = false)"
    );
    let url = format!("jdbc:duckdb:{}", env.path().join("count.duckdb").display());
    let q = env.json(&["query", &url, &sql, "--json"]);
    count(&q[0]["n"])
}

fn kv_set(env: &Env, ns: &str, key: &str, value: &str) {
    let o = env.weir(&["kv", "set", "-n", ns, key, value]);
    assert_eq!(o.code, 0, "{o:#?}");
}

#[test]
fn a_taxi_backfill_killed_with_sigkill_finishes_after_a_restart_without_gap_or_duplicate() {
    let env = Env::new();
    let data = env.path().join("tlc");
    let files: Vec<PathBuf> = (1..=6)
        .map(|month| {
            let spec = MonthSpec {
                scale: TAXI_SCALE,
                ..MonthSpec::new(Taxi::Green, 2021, month)
            };
            weir_taxi::generate(&spec, &data)
                .expect("generate a month")
                .path
        })
        .collect();
    let expected = distinct_keys(&env, &files);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mirror = rt
        .block_on(weir_taxi::Mirror::start(data.clone(), 0))
        .expect("mirror");
    let db = env.path().join("warehouse.duckdb");
    let url = format!("jdbc:duckdb:{}", db.display());
    for (k, v) in [
        ("TLC_BASE_URL", mirror.base_url().as_str()),
        ("S3_BUCKET_NAME", "taxi"),
        ("JDBC_URL", url.as_str()),
        ("DB_USER", ""),
        ("DB_PASS", ""),
    ] {
        kv_set(&env, "zoomcamp", k, v);
    }
    let flow = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nyc-taxi/flows/taxi_load.yaml"),
    )
    .expect("the taxi flow");
    let dir = flows_dir(&env, &[("taxi_load.yaml", &flow)]);
    let args = ["--flows", utf8(&dir), "--workers", "1"];

    let mut s = Server::start(&env, "first", &args);
    // The user's command: it hands the backfill to the server and follows it, across the crash.
    let mut backfill = env.spawn(
        &[
            "backfill",
            "zoomcamp.taxi_load",
            "--trigger",
            "monthly",
            "--from",
            "2021-01-01",
            "--to",
            "2021-06-30",
            "--input",
            "taxi=green",
            "--label",
            "run=crash",
        ],
        "backfill",
    );
    // `weir query` on the warehouse file while the server loads a month into it answers.
    poll(Duration::from_secs(60), "a load running", || {
        let all = s.executions("zoomcamp", "taxi_load", "");
        all.iter()
            .any(|e| {
                task_runs(e, "load")
                    .iter()
                    .any(|r| r["state"]["current"] == "RUNNING")
            })
            .then_some(())
    });
    let mut q = env.spawn(
        &[
            "query",
            &url,
            "SELECT count(*) AS n FROM public.green_tripdata",
            "--json",
        ],
        "query",
    );
    let code = wait_timeout(&mut q, Duration::from_secs(30));
    if code.is_none() {
        let _ = q.kill();
        let _ = q.wait();
    }
    let (out, err) = env.spawned_output("query");
    assert_eq!(code, Some(0), "weir query during a load: {out}\n{err}");
    let rows: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert!(count(&rows[0]["n"]) <= expected, "{rows:#}");
    // Kill once two months are done and a third runs.
    let before = poll(
        Duration::from_secs(60),
        "two SUCCESS executions and a running one",
        || {
            let all = s.executions("zoomcamp", "taxi_load", "");
            let done = all.iter().filter(|e| state(e) == "SUCCESS").count();
            let running = all.iter().any(|e| state(e) == "RUNNING");
            assert!(
                all.iter().all(|e| state(e) != "FAILED"),
                "a month failed: {all:#?}\n{}",
                s.stderr()
            );
            assert!(done < 6, "the backfill ended before the kill: scale it up");
            (done >= 2 && running).then_some(all)
        },
    );
    s.kill9();
    // What ended well before the crash, as the API showed it.
    let done_before: BTreeMap<String, Value> = before
        .iter()
        .filter(|e| state(e) == "SUCCESS")
        .map(|e| (id(e), e["taskRunList"].clone()))
        .collect();
    let interrupted: Vec<String> = before
        .iter()
        .filter(|e| state(e) == "RUNNING")
        .map(id)
        .collect();
    for e in before.iter().filter(|e| state(e) == "RUNNING") {
        let runs: Vec<String> = e["taskRunList"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{} {}", r["taskId"], r["state"]["current"]))
            .collect();
        say(&format!(
            "SIGKILL during {} ({}): {runs:?}",
            id(e),
            trigger_date(e)
        ));
    }

    let s = Server::start(&env, "second", &args);
    assert!(
        s.stderr()
            .contains("was left running by a weir worker that is gone"),
        "{}",
        s.stderr()
    );
    let all = poll(Duration::from_secs(90), "the backfill to finish", || {
        let all = s.executions("zoomcamp", "taxi_load", "");
        (backfill_done(&s, ("run", "crash"), 6) && all.len() >= 6 && all.iter().all(is_ended))
            .then_some(all)
    });
    let all: Vec<Value> = all.iter().map(|e| s.execution(&id(e))).collect();
    // One SUCCESS per month: no gap, no duplicate, nothing else.
    assert_eq!(all.len(), 6, "{all:#?}");
    let mut dates: Vec<String> = all.iter().map(trigger_date).collect();
    dates.sort();
    let months: Vec<String> = (1..=6)
        .map(|m| format!("2021-{m:02}-01T09:00:00Z"))
        .collect();
    assert_eq!(dates, months);
    for e in &all {
        assert_eq!(state(e), "SUCCESS", "{e:#}\n{}", s.stderr());
        assert!(labels(e).contains(&("run".into(), "crash".into())), "{e:#}");
        // Every task run ended well in its last attempt.
        for r in e["taskRunList"].as_array().expect("task runs") {
            assert_eq!(
                attempt_states(r).last().map(String::as_str),
                Some("SUCCESS"),
                "{r:#}"
            );
        }
    }
    // The months done before the crash were not run again.
    for (eid, runs) in &done_before {
        let now = all.iter().find(|e| id(e) == *eid).expect("still there");
        assert_eq!(
            &now["taskRunList"], runs,
            "execution {eid} changed after the restart"
        );
    }
    // The execution the crash interrupted resumed, keeping its id; a task run the crash cut
    // short has a FAILED attempt and then a SUCCESS one, and no other task run has two.
    for eid in &interrupted {
        assert!(all.iter().any(|e| id(e) == *eid), "{eid} is gone: {all:#?}");
    }
    for e in &all {
        for r in e["taskRunList"].as_array().expect("task runs") {
            let attempts = attempt_states(r);
            if attempts.len() > 1 {
                assert!(interrupted.contains(&id(e)), "{e:#}");
                assert_eq!(attempts, ["FAILED", "SUCCESS"], "{r:#}");
            }
        }
    }
    // `weir backfill` saw it through and prints one SUCCESS row per month.
    let code = wait_timeout(&mut backfill, Duration::from_secs(30));
    if code.is_none() {
        let _ = backfill.kill();
        let _ = backfill.wait();
    }
    let (stdout, stderr) = env.spawned_output("backfill");
    assert!(stderr.contains("handed to the server"), "{stderr}");
    check_backfill_table(&Out {
        code: code.unwrap_or(-1),
        stdout,
        stderr,
    });
    drop(s);
    drop(mirror);

    // The warehouse holds each distinct key of the six files once.
    let q = env.json(&[
        "query",
        &url,
        "SELECT count(*) AS n, count(DISTINCT unique_row_id) AS k FROM public.green_tripdata",
        "--json",
    ]);
    assert_eq!(
        count(&q[0]["n"]),
        count(&q[0]["k"]),
        "a key is in the table twice"
    );
    assert_eq!(count(&q[0]["n"]), expected, "{q:#}");
}

const SLOW: &str = r#"
id: slow
namespace: it
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT4S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: three
"#;

#[test]
fn sigterm_past_the_grace_period_leaves_the_execution_to_resume_with_a_second_attempt() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("slow.yaml", SLOW)]);
    let mut s = Server::start(&env, "first", &["--flows", utf8(&dir), "--grace", "1s"]);
    let eid = s.start_execution("it", "slow", None);
    let before = poll(Duration::from_secs(10), "the nap to run", || {
        let e = s.execution(&eid);
        task_runs(&e, "nap")
            .first()
            .is_some_and(|r| r["state"]["current"] == "RUNNING")
            .then_some(e)
    });
    let started = Instant::now();
    assert_eq!(s.stop(), 0, "{}", s.stderr());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the server took {took:?} to stop with a 1 s grace"
    );
    assert!(s.stderr().contains("grace period over"), "{}", s.stderr());

    let s = Server::start(&env, "second", &["--flows", utf8(&dir)]);
    let e = s.wait_ended(&eid, Duration::from_secs(20));
    assert_eq!(state(&e), "SUCCESS", "{e:#}\n{}", s.stderr());
    // The task that had ended is kept as it was; the interrupted one has a second attempt.
    assert_eq!(task_run(&e, "first"), task_run(&before, "first"));
    assert_eq!(attempt_states(task_run(&e, "first")), ["SUCCESS"]);
    let nap = attempt_states(task_run(&e, "nap"));
    assert_eq!(nap.len(), 2, "{e:#}");
    assert_ne!(nap[0], "SUCCESS", "{e:#}");
    assert_eq!(nap[1], "SUCCESS", "{e:#}");
    assert_eq!(task_run(&e, "nap")["id"], task_run(&before, "nap")["id"]);
    assert_eq!(output(&e, "last"), "three");
}

// ---------------------------------------------------------------------------------------------
// 3. Missed schedules after downtime.

/// A schedule every 2 s (even seconds) with a recovery policy.
fn every_two_seconds(policy: &str) -> String {
    format!(
        r#"
id: ticking
namespace: it
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.date }}}}"
triggers:
  - id: tick
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "*/2 * * * * *"
    withSeconds: true
    recoverMissedSchedules: {policy}
"#
    )
}

/// Runs the server until two dates ran, stops it for ~5 s, starts it again just after an odd
/// second (so its first look, within ~0.9 s, falls before the next date) and checks which dates
/// ran after the restart.
fn missed_schedules(policy: &str) {
    let env = Env::new();
    let dir = flows_dir(&env, &[("ticking.yaml", &every_two_seconds(policy))]);
    let args = ["--flows", utf8(&dir), "--grace", "1s"];
    let mut s = Server::start(&env, "first", &args);
    poll(Duration::from_secs(15), "two on-time dates", || {
        (s.executions("it", "ticking", "").len() >= 2).then_some(())
    });
    assert_eq!(s.stop(), 0, "{}", s.stderr());
    let stopped = Utc::now();
    // Down for at least 4.5 s, then up again 0.1–0.3 s after an odd second.
    loop {
        let now = Utc::now();
        let ms = now.timestamp_subsec_millis();
        if now - stopped > TimeDelta::milliseconds(4500)
            && now.second() % 2 == 1
            && (100..300).contains(&ms)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let restarted = Utc::now();
    let s = Server::start(&env, "second", &args);
    let two = TimeDelta::seconds(2);
    let horizon = restarted.trunc_subsecs(0) + TimeDelta::seconds(3);
    let all = poll(
        Duration::from_secs(20),
        "two on-time dates after the restart",
        || {
            let all = s.executions("it", "ticking", "");
            all.iter()
                .any(|e| when(&json!(trigger_date(e))) >= horizon)
                .then_some(all)
        },
    );
    let dates: Vec<DateTime<Utc>> = all.iter().map(|e| when(&json!(trigger_date(e)))).collect();
    let unique: BTreeSet<_> = dates.iter().collect();
    assert_eq!(unique.len(), dates.len(), "a date ran twice: {dates:?}");
    let (pre, post): (Vec<&Value>, Vec<&Value>) = all.iter().partition(|e| created(e) < stopped);
    let last = pre
        .iter()
        .map(|e| when(&json!(trigger_date(e))))
        .max()
        .expect("dates before the stop");
    // The dates missed while the server was down.
    let mut missed = Vec::new();
    let mut d = last + two;
    while d < restarted {
        missed.push(d);
        d += two;
    }
    assert!(missed.len() >= 2, "{missed:?}");
    let mut ran: Vec<DateTime<Utc>> = post.iter().map(|e| when(&json!(trigger_date(e)))).collect();
    ran.sort();
    let first = match policy {
        "ALL" => missed[0],
        "LAST" => *missed.last().expect("missed"),
        _ => *missed.last().expect("missed") + two,
    };
    let mut expected = Vec::new();
    let mut d = first;
    while d <= *ran.last().expect("dates after the restart") {
        expected.push(d);
        d += two;
    }
    let first_created = post.iter().map(|e| created(e)).min();
    assert_eq!(
        ran,
        expected,
        "{policy}: last date before the stop {last}, stopped {stopped}, restarted {restarted}, \
         missed {missed:?}; first execution after the restart created {first_created:?}\n{}",
        s.stderr()
    );
    let skipped = match policy {
        "ALL" => 0,
        "LAST" => missed.len() - 1,
        _ => missed.len(),
    };
    if skipped > 0 {
        assert!(
            s.stderr()
                .contains(&format!("{skipped} missed date(s) not run")),
            "{}",
            s.stderr()
        );
    }
}

#[test]
fn missed_schedules_all_runs_every_date_missed_during_downtime() {
    missed_schedules("ALL");
}

#[test]
fn missed_schedules_last_runs_only_the_last_date_missed_during_downtime() {
    missed_schedules("LAST");
}

#[test]
fn missed_schedules_none_runs_no_missed_date_and_keeps_the_schedule() {
    missed_schedules("NONE");
}

// ---------------------------------------------------------------------------------------------
// 4. Concurrency.

const ONE_AT_A_TIME: &str = r#"
id: one_at_a_time
namespace: it
concurrency:
  limit: 1
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
"#;

#[test]
fn a_concurrency_limit_of_one_queues_the_other_executions() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("one.yaml", ONE_AT_A_TIME)]);
    let s = Server::start(&env, "server", &["--flows", utf8(&dir), "--workers", "3"]);
    let ids: Vec<String> = (0..3)
        .map(|_| s.start_execution("it", "one_at_a_time", None))
        .collect();
    let mut saw_queued = false;
    let all = poll(Duration::from_secs(20), "three executions to end", || {
        let all = s.executions("it", "one_at_a_time", "");
        let running = all.iter().filter(|e| state(e) == "RUNNING").count();
        assert!(running <= 1, "{running} RUNNING at once: {all:#?}");
        if running == 1 && all.iter().filter(|e| state(e) == "QUEUED").count() == 2 {
            saw_queued = true;
        }
        (all.len() == 3 && all.iter().all(is_ended)).then_some(all)
    });
    assert!(
        saw_queued,
        "never saw one RUNNING and two QUEUED: the others were not queued"
    );
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = all
        .iter()
        .map(|e| {
            assert_eq!(state(e), "SUCCESS", "{e:#}");
            assert!(ids.contains(&id(e)));
            (entered(e, "RUNNING"), when(&e["state"]["endDate"]))
        })
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "two executions overlap: {spans:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Flow triggers.

const UPSTREAM: &str = r#"
id: upstream
namespace: it
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: maybe_fail
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail }}"
    errorMessage: asked to fail
"#;

const DOWNSTREAM: &str = r#"
id: downstream
namespace: it
tasks:
  - id: seen
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }} {{ trigger.state }}"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    states: [SUCCESS]
    conditions:
      - type: io.kestra.plugin.core.condition.ExecutionFlow
        namespace: it
        flowId: upstream
"#;

/// The same, in Kestra's newer `preconditions` form.
const DOWNSTREAM_PRECONDITIONS: &str = r#"
id: downstream_pre
namespace: it
tasks:
  - id: seen
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.executionId }} {{ trigger.state }}"
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.executionId }} {{ trigger.state }}"
triggers:
  - id: after_upstream
    type: io.kestra.plugin.core.trigger.Flow
    preconditions:
      id: upstream_ok
      flows:
        - namespace: it
          flowId: upstream
          states: [SUCCESS]
"#;

#[test]
fn a_flow_trigger_fires_on_the_upstream_success_only() {
    let env = Env::new();
    let dir = flows_dir(
        &env,
        &[
            ("upstream.yaml", UPSTREAM),
            ("downstream.yaml", DOWNSTREAM),
            ("downstream_pre.yaml", DOWNSTREAM_PRECONDITIONS),
        ],
    );
    // One worker: whatever the failed run fires is queued before the successful one runs.
    let s = Server::start(&env, "server", &["--flows", utf8(&dir), "--workers", "1"]);
    let failed = s.start_execution("it", "upstream", Some(&json!({"fail": "true"})));
    assert_eq!(
        state(&s.wait_ended(&failed, Duration::from_secs(10))),
        "FAILED"
    );
    let ok = s.start_execution("it", "upstream", Some(&json!({"fail": "false"})));
    assert_eq!(
        state(&s.wait_ended(&ok, Duration::from_secs(10))),
        "SUCCESS"
    );
    for (flow, task) in [("downstream", "seen"), ("downstream_pre", "echo")] {
        let down = poll(Duration::from_secs(10), "the downstream execution", || {
            let d = s.executions("it", flow, "");
            (!d.is_empty() && d.iter().all(is_ended)).then_some(d)
        });
        assert_eq!(down.len(), 1, "{flow}: {down:#?}");
        let d = s.execution(&id(&down[0]));
        assert_eq!(state(&d), "SUCCESS", "{d:#}");
        assert_eq!(output(&d, task), format!("{ok} SUCCESS"), "{flow}");
        assert_eq!(
            d["trigger"]["variables"]["executionId"],
            ok.as_str(),
            "{d:#}"
        );
    }
    let logs = s.get(&format!(
        "/api/v1/logs/{}",
        id(&s.executions("it", "downstream_pre", "")[0])
    ));
    assert!(
        logs.body.contains(&format!("{ok} SUCCESS")),
        "the Log task rendered the trigger: {logs:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Webhooks.

const HOOK: &str = r#"
id: hook
namespace: it
tasks:
  - id: body
    type: io.kestra.plugin.core.debug.Return
    format: "{{ trigger.body.name }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: right-key-1234
"#;

#[test]
fn a_webhook_with_the_right_key_runs_and_a_wrong_key_is_refused() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("hook.yaml", HOOK)]);
    let s = Server::start(&env, "server", &["--flows", utf8(&dir)]);
    let body = json!({"name": "weir"});
    let wrong = s.post("/api/v1/executions/webhook/it/hook/wrong-key", Some(&body));
    assert_eq!(wrong.status, 404, "{wrong:#?}");
    assert!(wrong.json()["message"].is_string(), "{wrong:#?}");
    let right = s
        .post(
            "/api/v1/executions/webhook/it/hook/right-key-1234",
            Some(&body),
        )
        .ok();
    let e = s.wait_ended(&id(&right), Duration::from_secs(10));
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(output(&e, "body"), "weir");
    // Kestra's tenant segment reaches the same execution.
    let tenant = s.get(&format!("/api/v1/main/executions/{}", id(&e))).ok();
    assert_eq!(tenant, e);
    assert_eq!(s.executions("it", "hook", "").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 7. The token.

#[test]
fn a_non_loopback_bind_needs_a_token_and_the_api_then_requires_it() {
    let env = Env::new();
    let o = env.weir(&["server", "--bind", "0.0.0.0:0"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.starts_with("error:"), "{o:#?}");
    assert!(o.stderr.contains("token"), "{o:#?}");

    let token = "t0k3n-for-the-test";
    let s = Server::spawn(
        &env,
        "server",
        &["server", "--bind", "0.0.0.0:0", "--token", token],
        Some(token),
    );
    let path = "/api/v1/flows/search";
    assert_eq!(http(&s.addr, "GET", "/health", &[], b"").status, 200);
    let none = http(&s.addr, "GET", path, &[], b"");
    assert_eq!(none.status, 401, "{none:#?}");
    let wrong = http(
        &s.addr,
        "GET",
        path,
        &[("Authorization", "Bearer not-the-token")],
        b"",
    );
    assert_eq!(wrong.status, 401, "{wrong:#?}");
    assert_eq!(s.get(path).status, 200);
}

// ---------------------------------------------------------------------------------------------
// 8. The OpenAPI document.

#[test]
fn the_served_openapi_document_is_the_committed_one() {
    let env = Env::new();
    let s = Server::start(&env, "server", &[]);
    let served = s.get("/api/v1/openapi.json").ok();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/openapi.json"))
            .expect("JSON");
    assert!(
        served == committed,
        "the served document differs from docs/openapi.json"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. The flows folder.

fn versioned(v: &str) -> String {
    format!(
        r#"id: watched
namespace: it
tasks:
  - id: version
    type: io.kestra.plugin.core.debug.Return
    format: {v}
"#
    )
}

/// Runs the deployed revision; returns (revision, output).
fn run_watched(s: &Server) -> (i64, String) {
    let e = s.post("/api/v1/executions/it/watched?wait=true", None).ok();
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    (
        e["flowRevision"].as_i64().expect("revision"),
        output(&e, "version"),
    )
}

#[test]
fn an_invalid_edit_of_a_watched_flow_is_reported_and_the_previous_revision_keeps_serving() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("watched.yaml", &versioned("v1"))]);
    let file = dir.join("watched.yaml");
    let s = Server::start(&env, "server", &["--flows", utf8(&dir)]);
    assert_eq!(run_watched(&s), (1, "v1".into()));

    // Line 5, column 5: a property the task does not have.
    std::fs::write(
        &file,
        "id: watched\nnamespace: it\ntasks:\n  - id: version\n    formt: v2\n    type: io.kestra.plugin.core.debug.Return\n",
    )
    .expect("edit");
    let report = poll(Duration::from_secs(10), "the invalid edit reported", || {
        let err = s.stderr();
        err.contains("is invalid; the revision deployed before keeps running")
            .then_some(err)
    });
    assert!(
        report.contains(&format!("{}:5:5:", file.display())),
        "no file:line:column in:\n{report}"
    );
    assert_eq!(run_watched(&s), (1, "v1".into()));

    std::fs::write(&file, versioned("v2-valid")).expect("edit");
    poll(Duration::from_secs(10), "revision 2 deployed", || {
        let f = s.get("/api/v1/flows/it/watched").ok();
        (f["revision"] == 2).then_some(())
    });
    assert_eq!(run_watched(&s), (2, "v2-valid".into()));
}

// ---------------------------------------------------------------------------------------------
// 10. Restart and replay.

const FLAKY: &str = r#"
id: flaky
namespace: it
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('FLAG') }}"
"#;

#[test]
fn restart_resumes_from_the_failed_task_and_replay_makes_a_new_execution() {
    let env = Env::new();
    let dir = flows_dir(&env, &[("flaky.yaml", FLAKY)]);
    let s = Server::start(&env, "server", &["--flows", utf8(&dir)]);
    let failed = s.post("/api/v1/executions/it/flaky?wait=true", None).ok();
    assert_eq!(state(&failed), "FAILED", "{failed:#}");
    let eid = id(&failed);

    kv_set(&env, "it", "FLAG", "on");
    let r = s
        .post(&format!("/api/v1/executions/{eid}/restart"), None)
        .ok();
    assert_eq!(id(&r), eid);
    let e = s.wait_ended(&eid, Duration::from_secs(10));
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(task_run(&e, "first"), task_run(&failed, "first"));
    assert_eq!(attempt_states(task_run(&e, "first")), ["SUCCESS"]);
    assert_eq!(
        attempt_states(task_run(&e, "second")),
        ["FAILED", "SUCCESS"]
    );
    assert_eq!(output(&e, "second"), "on");

    let second = task_run(&e, "second")["id"]
        .as_str()
        .expect("task run id")
        .to_string();
    let replay = s
        .post(
            &format!("/api/v1/executions/{eid}/replay?taskRunId={}", enc(&second)),
            None,
        )
        .ok();
    assert_ne!(id(&replay), eid);
    assert_eq!(replay["originalId"], eid.as_str(), "{replay:#}");
    let re = s.wait_ended(&id(&replay), Duration::from_secs(10));
    assert_eq!(state(&re), "SUCCESS", "{re:#}");
    assert_eq!(output(&re, "first"), "one");
    assert_eq!(output(&re, "second"), "on");
    // The original is left as it was.
    assert_eq!(s.execution(&eid), e);
}

/// Kestra's API: `POST /api/v1/executions/{executionId}/resume` takes the Pause's `onResume`
/// values (Kestra docs, Pause: "vacation approval" example). A missing required value is a 422
/// naming it and the execution stays PAUSED; with it, a worker continues the execution and the
/// next task reads `outputs.<pause>.onResume.<input>`.
#[test]
fn the_resume_endpoint_takes_on_resume_inputs() {
    let env = Env::new();
    let dir = flows_dir(
        &env,
        &[(
            "approval.yaml",
            r#"
id: approval
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        defaults: none given
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wait.onResume.approved }} / {{ outputs.wait.onResume.reason }}"
"#,
        )],
    );
    let s = Server::start(&env, "resume", &["--flows", utf8(&dir)]);
    let id = s.start_execution("company.team", "approval", None);
    poll(Duration::from_secs(20), "the execution to pause", || {
        let e = s.get(&format!("/api/v1/executions/{id}")).ok();
        (state(&e) == "PAUSED").then_some(())
    });
    let refused = s.post(&format!("/api/v1/executions/{id}/resume"), Some(&json!({})));
    assert_eq!(refused.status, 422, "{refused:#?}");
    assert!(refused.body.contains("approved"), "{refused:#?}");
    let e = s.get(&format!("/api/v1/executions/{id}")).ok();
    assert_eq!(state(&e), "PAUSED");

    let resumed = s.post(
        &format!("/api/v1/executions/{id}/resume"),
        Some(&json!({"approved": "true"})),
    );
    assert_eq!(resumed.status, 200, "{resumed:#?}");
    let e = s.wait_ended(&id, Duration::from_secs(20));
    assert_eq!(state(&e), "SUCCESS", "{e:#}");
    assert_eq!(output(&e, "after"), "true / none given", "{e:#}");
}
