//! The bad-input corpus: every folder of `tests/corpus/` is one case whose exit code and
//! normalised output must equal its `expected` file. `WEIR_BLESS=1` rewrites those files.
//!
//! A case folder holds `args` (the command line after `weir --home HOME`, one argument per
//! line), usually a `flow.yaml`, an optional `setup` (weir commands run first, one per line,
//! split on spaces) and an optional `env` (`KEY=VALUE` lines). `[PORT]` in any file of the case
//! is replaced by the port of a local HTTP server that serves `/data.csv` and 404 elsewhere.

use crate::common::{Env, normalize, serve};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(&manifest_dir()).join("tests/corpus")
}

/// Copies a case into `dest`, putting the server's port in place of `[PORT]`.
fn copy_case(src: &Path, dest: &Path, port: u16) {
    std::fs::create_dir_all(dest).expect("case copy dir");
    for e in std::fs::read_dir(src).expect("read case").flatten() {
        let to = dest.join(e.file_name());
        if e.path().is_dir() {
            copy_case(&e.path(), &to, port);
        } else {
            let text = std::fs::read_to_string(e.path()).expect("case files are text");
            std::fs::write(&to, text.replace("[PORT]", &port.to_string())).expect("copy");
        }
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| {
            t.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs one case; returns the normalised `expected` text it produced.
fn run_case(src: &Path, port: u16) -> Result<String, String> {
    let mut env = Env::new();
    let case = env.path().join("case");
    copy_case(src, &case, port);
    for kv in lines(&case.join("env")) {
        let (k, v) = kv.split_once('=').ok_or(format!("bad env line `{kv}`"))?;
        env.set_env(k, v);
    }
    for line in lines(&case.join("setup")) {
        let args: Vec<&str> = line.split_whitespace().collect();
        let mut c = env.command(&args);
        c.current_dir(&case);
        let o = c.output().map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!(
                "setup `{line}` failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    let args = lines(&case.join("args"));
    if args.is_empty() {
        return Err("the case has no `args`".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = env.command(&args);
    c.current_dir(&case);
    let o = c.output().map_err(|e| e.to_string())?;
    let norm = |b: &[u8]| normalize(&String::from_utf8_lossy(b), &case, &env.home(), Some(port));
    let code = match o.status.code() {
        Some(c) => c.to_string(),
        None => "killed by a signal".into(),
    };
    let mut text = format!("{code}\n{}", norm(&o.stderr));
    let stdout = norm(&o.stdout);
    if !stdout.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("--- stdout\n");
        text.push_str(&stdout);
    }
    Ok(text)
}

/// A line diff (longest common subsequence), `-` expected and `+` actual.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("   {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] > lcs[i + 1][j]) {
            out.push_str(&format!("  +{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("  -{}\n", a[i]));
            i += 1;
        }
    }
    out
}

#[test]
fn corpus() {
    let bless = std::env::var_os("WEIR_BLESS").is_some_and(|v| v == "1");
    let port = serve(&[("/data.csv", "id,amount\n1,10\n")]);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 28,
        "the corpus has only {} cases",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap_or_default().to_string_lossy();
        let actual = match run_case(case, port) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("case `{name}`: {e}"));
                continue;
            }
        };
        if actual.contains("panicked") {
            failures.push(format!("case `{name}`: weir panicked:\n{actual}"));
        }
        let expected_path = case.join("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "case `{name}` ({}):\n{}",
                expected_path.display(),
                diff(&expected, &actual)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases differ (rerun with WEIR_BLESS=1 to accept the new output):\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn normalisation_replaces_what_varies() {
    let home = Path::new("/tmp/h");
    let case = Path::new("/tmp/c");
    let text = "execution 0353nrlf8y6Cj7SFzT8PGl SUCCESS in 7ms at /tmp/h/x and /tmp/c/flow.yaml\n\
                x 1.2s y 0m01s 2021-01-01T00:00:00.123Z 12:34:56.789 http://127.0.0.1:4242/a\n\
                ok   12ms      core.log.Log\nPT0.5S 30.5 abc12ms";
    assert_eq!(
        normalize(text, case, home, Some(4242)),
        "execution [ID] SUCCESS in [DUR] at [HOME]/x and [CASE]/flow.yaml\n\
         x [DUR] y [DUR] [TIME] [TIME] http://127.0.0.1:[PORT]/a\n\
         ok   [DUR]  core.log.Log\nPT0.5S 30.5 abc12ms"
    );
    assert_eq!(diff("a\nb\n", "a\nc\n"), "   a\n  -b\n  +c\n");
}

/// The package's folder, as cargo sets it when running the tests (read at run time, so a test
/// binary built from another checkout still looks at this one).
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}
