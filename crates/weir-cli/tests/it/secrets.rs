//! Secrets stay secret: a secret's plain value, used everywhere a flow can put text, is found in
//! no byte of weir's home (database, its WAL, storage, working folders) nor in what the
//! `executions` commands print.

use crate::common::*;
use std::path::{Path, PathBuf};

/// Distinctive, so finding it anywhere can only mean a leak.
const SECRET: &str = "s3cr3t-Value-42";

/// The secret in a label (flow and Labels task), a Log message, a task output, a flow output,
/// an error message, a shell command's output and its environment, and a ForEach value (whose
/// task run is labelled with it, and whose tasks get the real value).
const FLOW: &str = r#"
id: secretive
namespace: demo
labels:
  token: "{{ secret('X') }}"
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "the secret is {{ secret('X') }}"
  - id: label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      again: "again {{ secret('X') }}"
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      token: "{{ secret('X') }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    env:
      TOKEN: "{{ secret('X') }}"
    commands:
      - echo "echoed {{ secret('X') }}"
      - echo "from env $TOKEN"
      - echo "to stderr $TOKEN" >&2
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["{{ secret('X') }}"]
    tasks:
      - id: iteration
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - test "{{ taskrun.value }}" = "$SECRET_X"
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
    errorMessage: "failed with {{ secret('X') }}"
outputs:
  - id: token
    type: STRING
    value: "out {{ outputs.values.values.token }} {{ secret('X') }}"
"#;

/// Every regular file under `dir`, walked by hand so nothing is skipped.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)
            .expect("read a folder of the home")
            .flatten()
        {
            let t = e.file_type().expect("file type");
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The files under `dir` whose bytes hold `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            let bytes = std::fs::read(p).expect("read a file of the home");
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .collect()
}

#[test]
fn a_secret_is_in_no_byte_of_the_home_nor_in_any_output() {
    let mut env = Env::new();
    env.set_env("SECRET_X", SECRET);
    let run = env.run_flow("secretive.yaml", FLOW, &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.id();
    assert!(!run.stderr.contains(SECRET), "{}", run.stderr);

    // The secret was really used: each place shows the mask where the value was.
    let ex = env.show(&id);
    assert_eq!(ex["state"], "WARNING", "{ex:#}");
    assert_eq!(ex["labels"]["token"], "******", "{ex:#}");
    assert_eq!(ex["labels"]["again"], "again ******", "{ex:#}");
    assert_eq!(
        run_of(&ex, "values")["outputs"]["values"]["token"],
        "******"
    );
    assert_eq!(ex["outputs"]["token"], "out ****** ******", "{ex:#}");
    let iteration = run_of(&ex, "iteration");
    assert_eq!(iteration["state"], "SUCCESS", "{iteration:#}");
    assert_eq!(iteration["value"], "******", "{iteration:#}");
    let msgs = env.log_messages(&id, None);
    for want in [
        "the secret is ******",
        "echoed ******",
        "from env ******",
        "to stderr ******",
    ] {
        assert!(msgs.iter().any(|m| m == want), "no `{want}` in {msgs:#?}");
    }
    assert!(
        msgs.iter().any(|m| m.contains("failed with ******")),
        "{msgs:#?}"
    );

    for args in [
        vec!["executions", "show", &id, "--json"],
        vec!["executions", "show", &id],
        vec!["executions", "logs", &id],
        vec!["executions", "logs", &id, "--json"],
        vec!["executions", "list"],
        vec!["executions", "list", "--json"],
    ] {
        let o = env.weir(&args);
        assert_eq!(o.code, 0, "weir {args:?}: {o:#?}");
        assert!(
            !o.stdout.contains(SECRET) && !o.stderr.contains(SECRET),
            "weir {args:?} shows the secret:\n{o:#?}"
        );
    }

    // The whole test folder: the home (weir.db, weir.db-wal, storage, work, …) and the flow.
    let home_files = files_under(&env.home());
    assert!(
        home_files.iter().any(|p| p.ends_with("weir.db")),
        "{home_files:#?}"
    );
    let leaks = files_holding(env.path(), SECRET.as_bytes());
    assert!(leaks.is_empty(), "the secret is stored in {leaks:#?}");

    // The search can find it: a KV value is stored as written (KV is not secret), so putting
    // the same text there makes the database or its WAL hold it.
    let set = env.weir(&["kv", "set", "-n", "demo", "control", SECRET]);
    assert_eq!(set.code, 0, "{set:#?}");
    let found = files_holding(&env.home(), SECRET.as_bytes());
    assert!(
        found.iter().any(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("weir.db"))),
        "{found:#?}"
    );
}
