//! Test harness: a scrubbed-environment `weir` runner with a temporary home, JSON helpers,
//! process inspection through `/proc`, a tiny HTTP server and output normalisation.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WEIR: &str = env!("CARGO_BIN_EXE_weir");

/// What one `weir` command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The execution id `weir run` prints on stdout.
    pub fn id(&self) -> String {
        let id = self.stdout.trim().to_string();
        assert_eq!(
            id.len(),
            22,
            "expected an execution id on stdout:\n{self:#?}"
        );
        id
    }
}

/// A temporary folder holding weir's home and the test's files.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub extra: Vec<(String, String)>,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            extra: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// An environment variable given to every weir command of this test.
    pub fn set_env(&mut self, k: &str, v: &str) {
        self.extra.push((k.into(), v.into()));
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// `weir --home HOME ARGS…` with only PATH, HOME, NO_COLOR and the test's variables.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WEIR);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path())
            .env("NO_COLOR", "1")
            .current_dir(self.path())
            .arg("--home")
            .arg(self.home())
            .args(args)
            .stdin(Stdio::null());
        for (k, v) in &self.extra {
            c.env(k, v);
        }
        c
    }

    pub fn weir(&self, args: &[&str]) -> Out {
        let o = self.command(args).output().expect("run weir");
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Starts `weir` in the background, its output going to files in the test folder.
    /// The home is created first, by a command of its own: concurrent first use of a home is
    /// tested on its own (`concurrent_first_use_of_a_home`).
    pub fn spawn(&self, args: &[&str], tag: &str) -> Child {
        if !self.home().join("weir.db").exists() {
            let o = self.weir(&["executions", "list"]);
            assert_eq!(o.code, 0, "could not create the home: {o:#?}");
        }
        let out = std::fs::File::create(self.path().join(format!("{tag}.out"))).expect("out");
        let err = std::fs::File::create(self.path().join(format!("{tag}.err"))).expect("err");
        self.command(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn weir")
    }

    pub fn spawned_output(&self, tag: &str) -> (String, String) {
        let read = |ext: &str| {
            std::fs::read_to_string(self.path().join(format!("{tag}.{ext}"))).unwrap_or_default()
        };
        (read("out"), read("err"))
    }

    /// Writes `flow.yaml`-like text and runs it with extra arguments.
    pub fn run_flow(&self, name: &str, yaml: &str, extra: &[&str]) -> Out {
        let f = self.write(name, yaml);
        let mut args = vec!["run", f.to_str().expect("utf-8 path")];
        args.extend_from_slice(extra);
        self.weir(&args)
    }

    /// The text of a file of internal storage, by its `kestra:///…` URI.
    pub fn stored(&self, uri: &str) -> String {
        let rel = uri
            .strip_prefix("kestra:///")
            .unwrap_or_else(|| panic!("not a kestra URI: {uri}"));
        std::fs::read_to_string(self.home().join("storage").join(rel))
            .unwrap_or_else(|e| panic!("reading {uri}: {e}"))
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let o = self.weir(args);
        assert_eq!(o.code, 0, "weir {args:?} failed:\n{o:#?}");
        serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("weir {args:?} printed no JSON ({e}):\n{o:#?}"))
    }

    pub fn show(&self, id: &str) -> Value {
        self.json(&["executions", "show", id, "--json"])
    }

    pub fn logs(&self, id: &str) -> Vec<Value> {
        match self.json(&["executions", "logs", id, "--json"]) {
            Value::Array(a) => a,
            other => panic!("logs are not a list: {other}"),
        }
    }

    /// Log messages of an execution, optionally of one task only.
    pub fn log_messages(&self, id: &str, task: Option<&str>) -> Vec<String> {
        self.logs(id)
            .iter()
            .filter(|l| task.is_none() || l["taskId"].as_str() == task)
            .map(|l| l["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Executions of the home, newest first.
    pub fn executions(&self) -> Vec<Value> {
        match self.json(&["executions", "list", "--json"]) {
            Value::Array(a) => a,
            other => panic!("executions are not a list: {other}"),
        }
    }

    /// Polls until an execution of `flow_id` is in `state`; returns its id.
    pub fn wait_for_state(&self, flow_id: &str, state: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self
                .executions()
                .into_iter()
                .find(|e| e["flowId"] == flow_id && e["state"] == state)
            {
                return e["id"].as_str().unwrap_or_default().to_string();
            }
            assert!(
                start.elapsed() < timeout,
                "no execution of `{flow_id}` reached {state} within {timeout:?}: {:#?}",
                self.executions()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The task runs of an execution with this task id.
pub fn runs_of<'a>(ex: &'a Value, task: &str) -> Vec<&'a Value> {
    ex["taskRuns"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["taskId"] == task).collect())
        .unwrap_or_default()
}

/// The one task run of `task`.
pub fn run_of<'a>(ex: &'a Value, task: &str) -> &'a Value {
    let runs = runs_of(ex, task);
    assert_eq!(runs.len(), 1, "expected one run of `{task}` in {ex:#}");
    runs[0]
}

pub fn history(run: &Value) -> Vec<String> {
    run["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|c| c["state"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Seconds between two RFC 3339 timestamps.
pub fn secs_between(a: &Value, b: &Value) -> f64 {
    let t = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("`{v}` is not a timestamp: {e}"))
    };
    (t(b) - t(a)).as_seconds_f64()
}

/// Time from RUNNING to the end of a task run.
pub fn run_duration(run: &Value) -> f64 {
    let h = run["history"].as_array().expect("history");
    let running = h.iter().find(|c| c["state"] == "RUNNING").expect("RUNNING");
    let last = h.last().expect("last state");
    secs_between(&running["at"], &last["at"])
}

/// Pids of live (non-zombie) processes whose command line contains `marker`, except this one.
pub fn processes_with(marker: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| {
                s.rfind(')')
                    .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if cmd.contains(marker) && !zombie {
            found.push(pid);
        }
    }
    found
}

/// Waits until some process has `marker` in its command line.
pub fn wait_for_process(marker: &str, timeout: Duration) -> Vec<i32> {
    let start = Instant::now();
    loop {
        let p = processes_with(marker);
        if !p.is_empty() {
            return p;
        }
        assert!(
            start.elapsed() < timeout,
            "no process `{marker}` within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until no process has `marker` in its command line; returns whether that happened.
pub fn no_process_within(marker: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if processes_with(marker).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    processes_with(marker).is_empty()
}

/// Kills processes this test caused (found by their unique marker), so a failing test leaves
/// nothing behind.
pub fn kill_marked(marker: &str) {
    for pid in processes_with(marker) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// A unique number for `sleep` command lines: `sleep 30.<n>` is how a test finds its process.
pub fn marker_secs() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    format!("30.{}{:03}", std::process::id() % 100_000, n)
}

/// Waits for a child with a deadline; `None` if it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st.code().unwrap_or(-1));
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A local HTTP server answering `GET /ok.csv`-like paths from a fixed table, 404 otherwise.
/// Runs until the test process ends.
pub fn serve(routes: &[(&str, &str)]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let routes: Vec<(String, String)> = routes
        .iter()
        .map(|(p, b)| (p.to_string(), b.to_string()))
        .collect();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(match stream.try_clone() {
                Ok(s) => s,
                Err(_) => continue,
            });
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "" {
                line.clear();
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", "not found\n".to_string()),
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.flush();
        }
    });
    port
}

// ---------------------------------------------------------------------------------------------
// Normalisation of outputs for the corpus.

/// Replaces what changes from run to run: paths, ids, durations, timestamps, ports.
pub fn normalize(text: &str, case_dir: &Path, home: &Path, port: Option<u16>) -> String {
    let mut t = text.replace(&home.display().to_string(), "[HOME]");
    t = t.replace(&case_dir.display().to_string(), "[CASE]");
    if let Some(p) = port {
        t = t.replace(&format!(":{p}"), ":[PORT]");
    }
    let t = replace_tokens(&t);
    // Tables pad after a duration; the padding depends on its width.
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find("[DUR]") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let trimmed = rest.trim_start_matches(' ');
        let spaces = rest.len() - trimmed.len();
        if spaces > 0 && !trimmed.starts_with('\n') && !trimmed.is_empty() {
            out.push_str(if spaces == 1 { " " } else { "  " });
        }
        rest = trimmed;
    }
    out.push_str(rest);
    out
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// One pass over the text, replacing ids, timestamps and durations token by token.
fn replace_tokens(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let prev_word = i > 0 && (is_word(chars[i - 1]) || chars[i - 1] == '.');
        if !prev_word {
            // Dates quoted in backticks are values the user wrote or examples: kept.
            let quoted = i > 0 && chars[i - 1] == '`';
            if let Some(n) = timestamp_len(&chars[i..]).filter(|_| !quoted) {
                out.push_str("[TIME]");
                i += n;
                continue;
            }
            if let Some(n) = duration_len(&chars[i..]) {
                out.push_str("[DUR]");
                i += n;
                continue;
            }
            let n = chars[i..].iter().take_while(|c| is_word(**c)).count();
            if n == 22 && chars[i..i + n].iter().any(|c| c.is_ascii_digit()) {
                out.push_str("[ID]");
                i += n;
                continue;
            }
            if n > 0 {
                out.extend(&chars[i..i + n]);
                i += n;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

fn digits(c: &[char]) -> usize {
    c.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// `2021-01-01T00:00:00(.123)?(Z|+00:00)?`, `2021-01-01 00:00:00` or `12:34:56.789`.
fn timestamp_len(c: &[char]) -> Option<usize> {
    let shape = |pat: &str, c: &[char]| -> bool {
        pat.chars().count() <= c.len()
            && pat.chars().zip(c).all(|(p, ch)| match p {
                'd' => ch.is_ascii_digit(),
                'T' => *ch == 'T' || *ch == ' ',
                other => other == *ch,
            })
    };
    let mut n = if shape("dddd-dd-ddTdd:dd:dd", c) {
        19
    } else if shape("dd:dd:dd.ddd", c) {
        12
    } else {
        return None;
    };
    if n == 19 {
        if c.get(n) == Some(&'.') && digits(&c[n + 1..]) > 0 {
            n += 1 + digits(&c[n + 1..]);
        }
        if c.get(n) == Some(&'Z') {
            n += 1;
        } else if matches!(c.get(n), Some('+') | Some('-')) && shape("dd:dd", &c[n + 1..]) {
            n += 6;
        }
    } else {
        n += digits(&c[n..]);
    }
    let next = c.get(n).copied().unwrap_or(' ');
    (!is_word(next)).then_some(n)
}

/// `12ms`, `1.2s`, `0m01s`, ending at a non-word character.
fn duration_len(c: &[char]) -> Option<usize> {
    let d = digits(c);
    if d == 0 {
        return None;
    }
    let mut n = d;
    let rest: String = c[n..].iter().take(3).collect();
    if rest.starts_with("ms") {
        n += 2;
    } else if c.get(n) == Some(&'.')
        && digits(&c[n + 1..]) > 0
        && c.get(n + 1 + digits(&c[n + 1..])) == Some(&'s')
    {
        n += 1 + digits(&c[n + 1..]) + 1;
    } else if c.get(n) == Some(&'m') && digits(&c[n + 1..]) == 2 && c.get(n + 3) == Some(&'s') {
        n += 4;
    } else {
        return None;
    }
    let next = c.get(n).copied().unwrap_or(' ');
    (!is_word(next)).then_some(n)
}
