//! No surprises (issue 8, item 10): `weir run` deploys only when asked, S3 tasks say where
//! their buckets are, triggers that nothing fires are named, and `{{ workingDir }}` is absolute
//! whatever `--home` was.

use crate::common::*;
use serde_json::Value;
use std::process::{Command, Stdio};

const CHILD: &str = r#"
id: child
namespace: demo
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi from the child
"#;

const PARENT: &str = r#"
id: parent
namespace: demo
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo
    flowId: child
"#;

/// `namespace.id` of every flow `weir flows list` shows.
fn listed_flows(env: &Env) -> Vec<String> {
    match env.json(&["flows", "list", "--json"]) {
        Value::Array(a) => a
            .iter()
            .map(|f| format!("{}.{}", f["namespace"], f["id"]).replace('"', ""))
            .collect(),
        other => panic!("flows are not a list: {other}"),
    }
}

#[test]
fn run_deploys_a_flow_only_with_deploy() {
    let env = Env::new();
    let child = env.run_flow("child.yaml", CHILD, &[]);
    assert_eq!(child.code, 0, "{child:#?}");
    assert_eq!(listed_flows(&env), Vec::<String>::new());

    let parent = env.run_flow("parent.yaml", PARENT, &[]);
    assert_eq!(parent.code, 1, "{parent:#?}");
    assert!(
        parent
            .stderr
            .contains("flow `demo.child` is not deployed; deploy it with `weir flows deploy FILE`"),
        "{}",
        parent.stderr
    );
    // Running the parent did not deploy it either.
    assert_eq!(listed_flows(&env), Vec::<String>::new());

    let child = env.run_flow("child.yaml", CHILD, &["--deploy"]);
    assert_eq!(child.code, 0, "{child:#?}");
    assert_eq!(listed_flows(&env), vec!["demo.child".to_string()]);
    let parent = env.run_flow("parent.yaml", PARENT, &[]);
    assert_eq!(parent.code, 0, "{parent:#?}");
    assert_eq!(run_of(&env.show(&parent.id()), "sub")["state"], "SUCCESS");
    assert_eq!(listed_flows(&env), vec!["demo.child".to_string()]);
}

/// Two S3 tasks on the local folder (no endpoint anywhere).
const TWO_S3_TASKS: &str = r#"
id: s3
namespace: demo
tasks:
  - id: make
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles: ["a.txt"]
    commands:
      - echo hello > a.txt
  - id: upload
    type: io.kestra.plugin.aws.s3.Upload
    bucket: b
    key: a.txt
    from: "{{ outputs.make.outputFiles['a.txt'] }}"
  - id: list
    type: io.kestra.plugin.aws.s3.List
    bucket: b
"#;

/// The execution's log lines that say where the buckets are, as `(level, message)`.
fn backend_lines(env: &Env, id: &str) -> Vec<(String, String)> {
    env.logs(id)
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("buckets are in the"))
        })
        .map(|l| {
            (
                l["level"].as_str().unwrap_or_default().to_string(),
                l["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn s3_tasks_say_once_per_execution_that_buckets_are_a_local_folder() {
    let mut env = Env::new();
    let folder = env.home().join("buckets");
    let o = env.run_flow("s3.yaml", TWO_S3_TASKS, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let lines = backend_lines(&env, &o.id());
    assert_eq!(
        lines,
        vec![(
            "INFO".to_string(),
            format!("buckets are in the local folder `{}`", folder.display())
        )]
    );
    // A second execution says it again: once per execution, not once per process or home.
    let again = env.run_flow("s3.yaml", TWO_S3_TASKS, &[]);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(backend_lines(&env, &again.id()).len(), 1);

    // Credentials for AWS in the environment, but no endpoint: a warning, still once.
    env.set_env("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE");
    let o = env.run_flow("s3.yaml", TWO_S3_TASKS, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let lines = backend_lines(&env, &o.id());
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let (level, message) = &lines[0];
    assert_eq!(level, "WARN");
    assert_eq!(
        message,
        &format!(
            "buckets are in the local folder `{}`: AWS credentials are in the environment but \
             no S3 endpoint is set; set `WEIR_S3_ENDPOINT` (or the task's `endpointOverride`) \
             to use S3",
            folder.display()
        )
    );
}

#[test]
fn run_says_a_trigger_fires_only_under_the_server() {
    let env = Env::new();
    let o = env.run_flow(
        "nightly.yaml",
        "id: nightly\nnamespace: demo\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hi\ntriggers:\n  - id: every_night\n    type: io.kestra.plugin.core.trigger.Schedule\n    cron: \"0 2 * * *\"\n",
        &[],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    let file = env.path().join("nightly.yaml");
    assert!(
        o.stderr.contains(&format!(
            "note: {}:8:5: trigger `every_night` fires only while `weir server` runs this flow",
            file.display()
        )),
        "{}",
        o.stderr
    );
}

#[test]
fn working_dir_is_absolute_with_a_relative_home() {
    let env = Env::new();
    env.write(
        "wd.yaml",
        r#"
id: wd
namespace: demo
tasks:
  - id: where
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "workingDir={{ workingDir }}"
      - cd / && test -d "{{ workingDir }}"
      - case "{{ workingDir }}" in /*) ;; *) exit 3 ;; esac
"#,
    );
    // Not `Env::command`: it passes the home as an absolute path.
    let o = Command::new(WEIR)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path())
        .env("NO_COLOR", "1")
        .current_dir(env.path())
        .args(["--home", "relative-home", "run", "wd.yaml"])
        .stdin(Stdio::null())
        .output()
        .expect("run weir");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(env.path().join("relative-home").join("weir.db").exists());

    let logs = Command::new(WEIR)
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(env.path())
        .args(["--home", "relative-home", "executions", "logs", &id])
        .output()
        .expect("weir executions logs");
    let logs = String::from_utf8_lossy(&logs.stdout);
    let wd = logs
        .lines()
        .find_map(|l| l.split_once("workingDir=").map(|(_, d)| d.trim()))
        .unwrap_or_else(|| panic!("no workingDir in the logs:\n{logs}"));
    let under = env.path().join("relative-home").join("work");
    assert!(
        std::path::Path::new(wd).starts_with(&under),
        "`{wd}` is not under `{}`",
        under.display()
    );
}
