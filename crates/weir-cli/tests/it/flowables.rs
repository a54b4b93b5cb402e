//! Kestra's flowable tasks through the binary: WorkingDirectory, Pause (with a duration, and
//! resumed by `weir executions resume`), Dag, AllowFailure and ForEachItem.

use crate::common::*;
use serde_json::Value;

fn state_of(ex: &Value, task: &str) -> String {
    run_of(ex, task)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Kestra docs, io.kestra.plugin.core.flow.WorkingDirectory: tasks inside share one folder —
/// a file written by one task is read by the next, and `outputFiles` keeps it.
#[test]
fn working_directory_tasks_share_one_folder_and_keep_output_files() {
    let env = Env::new();
    let out = env.run_flow(
        "wd.yaml",
        r#"
id: wd
namespace: company.team
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      given.txt: "from inputFiles"
    outputFiles:
      - out.txt
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "hello from write" > out.txt
          - pwd > where.txt
      - id: read
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat out.txt given.txt
          - test "$(cat where.txt)" = "$(pwd)"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wdir.outputFiles['out.txt'] }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS");
    let logs = env.log_messages(&id, Some("read"));
    assert!(
        logs.iter().any(|l| l.contains("hello from write"))
            && logs.iter().any(|l| l.contains("from inputFiles")),
        "{logs:?}"
    );
    let uri = run_of(&ex, "after")["outputs"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        uri.starts_with("kestra:///company/team/wd/executions/"),
        "{uri}"
    );
    let stored = env
        .home()
        .join("storage")
        .join(uri.trim_start_matches("kestra:///"));
    assert_eq!(
        std::fs::read_to_string(&stored).unwrap_or_default(),
        "hello from write\n"
    );
    // The shared folder is gone once the WorkingDirectory ends.
    let left: Vec<_> = std::fs::read_dir(env.home().join("work"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Kestra docs, io.kestra.plugin.core.flow.Pause: "resume … automatically after pauseDuration
/// if set" — the execution is PAUSED meanwhile, then goes on by itself.
#[test]
fn pause_with_a_duration_resumes_by_itself() {
    let env = Env::new();
    let out = env.run_flow(
        "pause.yaml",
        r#"
id: pause_delay
namespace: company.team
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "SUCCESS");
    let pause = run_of(&ex, "pause");
    assert_eq!(pause["state"], "SUCCESS");
    assert!(history(pause).contains(&"PAUSED".to_string()), "{pause:#}");
    assert!(run_duration(pause) >= 0.9, "{pause:#}");
    assert_eq!(run_of(&ex, "after")["outputs"]["value"], "done");
}

/// Kestra docs, io.kestra.plugin.core.flow.Pause, "human_in_the_loop": without a duration the
/// execution stays PAUSED; resuming it runs the tasks after the Pause.
#[test]
fn pause_without_a_duration_waits_for_weir_executions_resume() {
    let env = Env::new();
    let out = env.run_flow(
        "hitl.yaml",
        r#"
id: human_in_the_loop
namespace: company.team
tasks:
  - id: before_approval
    type: io.kestra.plugin.core.debug.Return
    format: Output data that needs to be validated by a human
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: post_resume
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} after {{ outputs.before_approval.value }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "a paused execution is not a failure: {out:#?}");
    let id = out.id();
    assert!(
        out.stderr.contains(&format!(
            "paused: resume it with `weir executions resume {id}`"
        )),
        "{}",
        out.stderr
    );
    let ex = env.show(&id);
    assert_eq!(ex["state"], "PAUSED");
    assert_eq!(state_of(&ex, "pause"), "PAUSED");
    assert!(runs_of(&ex, "post_resume").is_empty(), "{ex:#}");
    // Only a PAUSED execution resumes.
    let r = env.weir(&["executions", "resume", &id]);
    assert_eq!(r.code, 0, "{r:#?}");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    assert_eq!(state_of(&ex, "before_approval"), "SUCCESS");
    assert_eq!(state_of(&ex, "pause"), "SUCCESS");
    assert_eq!(
        run_of(&ex, "post_resume")["outputs"]["value"],
        "post_resume after Output data that needs to be validated by a human"
    );
    let again = env.weir(&["executions", "resume", &id]);
    assert_eq!(again.code, 2, "{again:#?}");
    assert!(
        again.stderr.contains("is SUCCESS, not PAUSED"),
        "{}",
        again.stderr
    );
}

/// Kestra docs, io.kestra.plugin.core.flow.Dag, "dag_flow": task5 runs after task4 and task3,
/// task4 after task2, task2 and task3 after task1 — whatever order they are listed in.
#[test]
fn dag_runs_tasks_after_their_dependencies() {
    let env = Env::new();
    let out = env.run_flow(
        "dag.yaml",
        r#"
id: dag_flow
namespace: company.team
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: task5
          type: io.kestra.plugin.core.log.Log
          message: task 5
        dependsOn:
          - task4
          - task3
      - task:
          id: task4
          type: io.kestra.plugin.core.log.Log
          message: task 4
        dependsOn:
          - task2
      - task:
          id: task2
          type: io.kestra.plugin.core.log.Log
          message: task 2
        dependsOn:
          - task1
      - task:
          id: task3
          type: io.kestra.plugin.core.flow.Sleep
          duration: PT0.3S
        dependsOn:
          - task1
      - task:
          id: task1
          type: io.kestra.plugin.core.log.Log
          message: task 1
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "SUCCESS");
    let start = |t: &str| run_of(&ex, t)["state"].clone();
    for t in ["task1", "task2", "task3", "task4", "task5"] {
        assert_eq!(start(t), "SUCCESS", "{t}");
    }
    // Each task starts after every task it depends on has ended.
    let ended = |t: &str| {
        run_of(&ex, t)["history"]
            .as_array()
            .and_then(|h| h.last())
            .map(|h| h["at"].clone())
            .unwrap_or(Value::Null)
    };
    let began = |t: &str| {
        run_of(&ex, t)["history"]
            .as_array()
            .and_then(|h| h.iter().find(|h| h["state"] == "RUNNING"))
            .map(|h| h["at"].clone())
            .unwrap_or(Value::Null)
    };
    for (t, dep) in [
        ("task2", "task1"),
        ("task3", "task1"),
        ("task4", "task2"),
        ("task5", "task4"),
        ("task5", "task3"),
    ] {
        assert!(
            secs_between(&ended(dep), &began(t)) >= 0.0,
            "{t} started before {dep} ended: {ex:#}"
        );
    }
}

/// A cycle or an unknown id in `dependsOn` is a validation error with its line.
#[test]
fn dag_cycles_and_unknown_ids_are_errors_with_lines() {
    let env = Env::new();
    let out = env.run_flow(
        "cycle.yaml",
        r#"id: dag_cycle
namespace: company.team
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: a
          type: io.kestra.plugin.core.log.Log
          message: a
        dependsOn: [c]
      - task:
          id: b
          type: io.kestra.plugin.core.log.Log
          message: b
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.log.Log
          message: c
        dependsOn:
          - b
          - d
"#,
        &[],
    );
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("form a cycle: a → c → b → a") && out.stderr.contains("cycle.yaml:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("task `c` depends on `d`, which is not a task of this Dag"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("cycle.yaml:16:21") && out.stderr.contains("cycle.yaml:23:13"),
        "{}",
        out.stderr
    );
    assert!(env.executions().is_empty());
}

/// Kestra docs, io.kestra.plugin.core.flow.AllowFailure: a failing child makes the task
/// WARNING and the flow goes on.
#[test]
fn allow_failure_turns_a_failure_into_a_warning() {
    let env = Env::new();
    let out = env.run_flow(
        "allow.yaml",
        r#"
id: allow_failure
namespace: company.team
tasks:
  - id: allow
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: ko
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: expected
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: not reached
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: still running
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "WARNING");
    assert_eq!(state_of(&ex, "allow"), "WARNING");
    assert_eq!(state_of(&ex, "ko"), "FAILED");
    assert!(runs_of(&ex, "never").is_empty());
    assert_eq!(state_of(&ex, "last"), "SUCCESS");
}

/// Kestra docs, io.kestra.plugin.core.flow.ForEachItem, "orders_parallel": `batch.rows`,
/// `inputs` with `{{ taskrun.items }}`, one subflow execution per batch.
#[test]
fn for_each_item_starts_one_subflow_per_batch() {
    let env = Env::new();
    let child = env.write(
        "orders.yaml",
        r#"
id: orders
namespace: company.team
inputs:
  - id: order
    type: STRING
  - id: n
    type: INT
tasks:
  - id: read_file
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "batch {{ inputs.n }}"
"#,
    );
    let d = env.weir(&["flows", "deploy", child.to_str().unwrap_or_default()]);
    assert_eq!(d.code, 0, "{d:#?}");
    let out = env.run_flow(
        "parent.yaml",
        r#"
id: orders_parallel
namespace: company.team
tasks:
  - id: extract
    type: io.kestra.plugin.scripts.shell.Commands
    outputFiles:
      - items.txt
    commands:
      - seq 1 10 > items.txt
  - id: each
    type: io.kestra.plugin.core.flow.ForEachItem
    items: "{{ outputs.extract.outputFiles['items.txt'] }}"
    batch:
      rows: 3
    namespace: company.team
    flowId: orders
    wait: true
    transmitFailed: true
    inputs:
      order: "{{ taskrun.items }}"
      n: "{{ taskrun.iteration }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "SUCCESS");
    let each = run_of(&ex, "each");
    assert_eq!(each["outputs"]["numberOfBatches"], 4, "{each:#}");
    assert_eq!(each["outputs"]["iterations"]["SUCCESS"], 4, "{each:#}");
    let mut children: Vec<Value> = env
        .executions()
        .into_iter()
        .filter(|e| e["flowId"] == "orders")
        .map(|e| env.show(e["id"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(children.len(), 4);
    children.sort_by_key(|c| c["inputs"]["n"].as_i64());
    let mut contents = Vec::new();
    for (i, c) in children.iter().enumerate() {
        assert_eq!(c["state"], "SUCCESS");
        assert_eq!(c["inputs"]["n"], i as i64 + 1);
        let uri = c["inputs"]["order"].as_str().unwrap_or_default();
        assert!(
            uri.starts_with("kestra:///company/team/orders_parallel/"),
            "{uri}"
        );
        let path = env
            .home()
            .join("storage")
            .join(uri.trim_start_matches("kestra:///"));
        contents.push(std::fs::read_to_string(path).unwrap_or_default());
    }
    assert_eq!(contents, ["1\n2\n3\n", "4\n5\n6\n", "7\n8\n9\n", "10\n"]);
}

/// Kestra docs, io.kestra.plugin.core.flow.Pause, "vacation_approval_process": the
/// `wait_for_approval` Pause asks `onResume` for `approved` (BOOLEAN, defaults true) and
/// `reason` (STRING); the next task reads `outputs.wait_for_approval.onResume.approved`.
#[test]
fn pause_on_resume_inputs_reach_the_next_task() {
    let env = Env::new();
    let out = env.run_flow(
        "vacation.yaml",
        r#"
id: vacation_approval_process
namespace: company.team
tasks:
  - id: wait_for_approval
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        description: Whether to approve the request
        type: BOOLEAN
        defaults: true
      - id: reason
        description: Reason for approval or rejection
        type: STRING
  - id: approve
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wait_for_approval.onResume.approved }} / {{ outputs.wait_for_approval.onResume.reason }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    // A required input not given: an error naming it, and the execution stays PAUSED.
    let r = env.weir(&["executions", "resume", &id, "-i", "approved=false"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr.contains("input `reason` is required"),
        "{}",
        r.stderr
    );
    assert_eq!(env.show(&id)["state"], "PAUSED");
    // A value of the wrong type is refused too.
    let r = env.weir(&[
        "executions",
        "resume",
        &id,
        "-i",
        "approved=maybe",
        "-i",
        "reason=x",
    ]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(r.stderr.contains("input `approved`"), "{}", r.stderr);
    let r = env.weir(&[
        "executions",
        "resume",
        &id,
        "-i",
        "approved=false",
        "-i",
        "reason=team offsite",
    ]);
    assert_eq!(r.code, 0, "{r:#?}");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    let pause = run_of(&ex, "wait_for_approval");
    assert_eq!(pause["outputs"]["onResume"]["approved"], false, "{pause:#}");
    assert_eq!(
        run_of(&ex, "approve")["outputs"]["value"],
        "false / team offsite"
    );
}

/// Kestra docs, io.kestra.plugin.core.flow.Pause: a Pause without `pauseDuration` waits for a
/// resume; with a `timeout`, if nobody resumes in time the Pause task FAILS (Kestra's rule:
/// `behavior` applies to `pauseDuration`, a passed `timeout` fails the task), and the flow's
/// `errors` run as for any failure.
#[test]
fn pause_resumed_after_its_timeout_fails() {
    let env = Env::new();
    let out = env.run_flow(
        "timeout.yaml",
        r#"
id: pause_timeout
namespace: company.team
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: approved
errors:
  - id: on_error
    type: io.kestra.plugin.core.debug.Return
    format: "timed out"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "PAUSED");
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let r = env.weir(&["executions", "resume", &id]);
    assert_eq!(r.code, 1, "{r:#?}");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "FAILED", "{ex:#}");
    assert_eq!(state_of(&ex, "pause"), "FAILED");
    assert!(runs_of(&ex, "after").is_empty(), "{ex:#}");
    assert_eq!(state_of(&ex, "on_error"), "SUCCESS");
}

/// Kestra docs, io.kestra.plugin.core.flow.Pause: resumed before its `timeout`, the Pause ends
/// well and the tasks after it run.
#[test]
fn pause_resumed_before_its_timeout_goes_on() {
    let env = Env::new();
    let out = env.run_flow(
        "timeout_ok.yaml",
        r#"
id: pause_timeout_ok
namespace: company.team
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1H
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: approved
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let r = env.weir(&["executions", "resume", &id]);
    assert_eq!(r.code, 0, "{r:#?}");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS", "{ex:#}");
    assert_eq!(run_of(&ex, "after")["outputs"]["value"], "approved");
}
