//! Behaviour of `weir run`: states, attempts, outputs, labels and logs as recorded by
//! `weir executions show/logs --json`, plus kills, crashes and concurrency between processes.

use crate::common::*;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const SH: &str = "io.kestra.plugin.scripts.shell.Commands";

fn states(ex: &Value) -> Vec<(String, String)> {
    ex["taskRuns"]
        .as_array()
        .expect("taskRuns")
        .iter()
        .map(|r| {
            (
                r["taskId"].as_str().unwrap_or_default().to_string(),
                r["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn success_with_log_and_return_output() {
    let env = Env::new();
    let out = env.run_flow(
        "ok.yaml",
        r#"
id: hello
namespace: demo
inputs:
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name | upper }}"
"#,
        &["--input", "name=weir"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    assert!(out.stderr.contains("SUCCESS"), "{}", out.stderr);
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(ex["inputs"], json!({"name": "weir"}));
    assert_eq!(
        states(&ex),
        pairs(&[("say", "SUCCESS"), ("ret", "SUCCESS")])
    );
    assert_eq!(run_of(&ex, "ret")["outputs"]["value"], "WEIR");
    assert_eq!(run_of(&ex, "say")["attempts"], 1);
    assert_eq!(
        history(run_of(&ex, "say")),
        ["CREATED", "RUNNING", "SUCCESS"]
    );
    let logs = env.logs(&id);
    let say: Vec<&Value> = logs.iter().filter(|l| l["taskId"] == "say").collect();
    assert_eq!(say.len(), 1, "{logs:#?}");
    assert_eq!(say[0]["message"], "hello weir");
    assert_eq!(say[0]["level"], "INFO");

    // --json prints the same execution.
    let f = env.path().join("ok.yaml");
    let o = env.weir(&["run", f.to_str().unwrap_or_default(), "--json"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let v: Value = serde_json::from_str(&o.stdout).expect("run --json prints JSON");
    assert_eq!(v["state"], "SUCCESS");
    assert_eq!(run_of(&v, "ret")["outputs"]["value"], "WORLD");
}

#[test]
fn failing_shell_command_fails_the_execution() {
    let env = Env::new();
    let out = env.run_flow(
        "fail.yaml",
        &format!(
            r#"
id: failing
namespace: demo
tasks:
  - id: sh
    type: {SH}
    commands:
      - echo first line >&2
      - echo "second line" >&2
      - exit 1
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
"#
        ),
        &[],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    let id = out.id();
    assert!(
        out.stderr.contains(
            "error: task `sh` failed: command exited with code 1; last lines of stderr:\n  first line\n  second line"
        ),
        "{}",
        out.stderr
    );
    let ex = env.show(&id);
    assert_eq!(ex["state"], "FAILED");
    assert_eq!(states(&ex), pairs(&[("sh", "FAILED")]));
    let errors: Vec<String> = env
        .logs(&id)
        .into_iter()
        .filter(|l| l["level"] == "ERROR" && l["taskId"] == "sh")
        .map(|l| l["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("exited with code 1"), "{errors:?}");
    assert!(errors[0].contains("second line"), "{errors:?}");
}

#[test]
fn retry_then_success() {
    let env = Env::new();
    let mark = env.path().join("attempted");
    let out = env.run_flow(
        "retry.yaml",
        &format!(
            r#"
id: flaky
namespace: demo
tasks:
  - id: flaky
    type: {SH}
    env:
      MARK: "{}"
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 3
    commands:
      - |
        if [ -f "$MARK" ]; then echo "second time lucky"; else touch "$MARK"; echo "first try fails" >&2; exit 1; fi
"#,
            mark.display()
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS");
    let run = run_of(&ex, "flaky");
    assert_eq!(run["state"], "SUCCESS");
    assert_eq!(run["attempts"], 2);
    let h = history(run);
    assert!(h.contains(&"RETRYING".to_string()), "{h:?}");
    assert_eq!(h.last().map(String::as_str), Some("SUCCESS"));
    let logs = env.logs(&id);
    assert!(
        logs.iter()
            .any(|l| l["attempt"] == 1 && l["message"] == "first try fails"),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l["attempt"] == 2 && l["message"] == "second time lucky"),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("attempt 1 failed: command exited with code 1"))),
        "{logs:#?}"
    );
}

#[test]
fn timeout_fails_quickly_and_kills_the_process() {
    let env = Env::new();
    let secs = marker_secs();
    let started = Instant::now();
    let out = env.run_flow(
        "timeout.yaml",
        &format!(
            r#"
id: slow
namespace: demo
tasks:
  - id: sleepy
    type: {SH}
    timeout: PT0.5S
    commands:
      - sleep {secs}
"#
        ),
        &[],
    );
    let took = started.elapsed();
    let gone = no_process_within(&format!("sleep {secs}"), Duration::from_secs(2));
    kill_marked(&format!("sleep {secs}"));
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(gone, "the `sleep {secs}` process outlived its timeout");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "FAILED");
    let run = run_of(&ex, "sleepy");
    assert_eq!(run["state"], "FAILED");
    assert!(run_duration(run) < 2.0, "{run:#}");
    assert!(
        out.stderr.contains("timed out after") && out.stderr.contains("(timeout PT0.5S)"),
        "{}",
        out.stderr
    );
}

#[test]
fn errors_run_only_on_failure_and_finally_always() {
    let flow = |fail: bool| {
        format!(
            r#"
id: handlers
namespace: demo
tasks:
  - id: work
    type: io.kestra.plugin.core.execution.Fail
    condition: "{fail}"
    errorMessage: broken on purpose
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: "handling the failure"
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: "cleaning up"
"#
        )
    };
    let env = Env::new();
    let failed = env.run_flow("f.yaml", &flow(true), &[]);
    assert_eq!(failed.code, 1, "{failed:#?}");
    let ex = env.show(&failed.id());
    assert_eq!(ex["state"], "FAILED");
    assert_eq!(
        states(&ex),
        pairs(&[
            ("work", "FAILED"),
            ("on_error", "SUCCESS"),
            ("cleanup", "SUCCESS")
        ])
    );
    assert!(
        failed.stderr.contains("broken on purpose"),
        "{}",
        failed.stderr
    );
    let msgs = env.log_messages(&failed.id(), None);
    assert!(
        msgs.contains(&"handling the failure".to_string()),
        "{msgs:?}"
    );
    assert!(msgs.contains(&"cleaning up".to_string()), "{msgs:?}");

    let ok = env.run_flow("s.yaml", &flow(false), &[]);
    assert_eq!(ok.code, 0, "{ok:#?}");
    let ex = env.show(&ok.id());
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(
        states(&ex),
        pairs(&[("work", "SUCCESS"), ("cleanup", "SUCCESS")])
    );
}

#[test]
fn if_and_switch_take_the_right_branches() {
    let env = Env::new();
    let f = env.write(
        "branches.yaml",
        r#"
id: branches
namespace: demo
inputs:
  - id: n
    type: INT
  - id: color
    type: SELECT
    values: [red, green, blue]
tasks:
  - id: big
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.n > 10 }}"
    then:
      - id: is_big
        type: io.kestra.plugin.core.log.Log
        message: big
    else:
      - id: is_small
        type: io.kestra.plugin.core.log.Log
        message: small
  - id: by_color
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.color }}"
    cases:
      red:
        - id: was_red
          type: io.kestra.plugin.core.debug.Return
          format: R
      green:
        - id: was_green
          type: io.kestra.plugin.core.debug.Return
          format: G
    defaults:
      - id: was_other
        type: io.kestra.plugin.core.debug.Return
        format: other
"#,
    );
    let path = f.to_str().unwrap_or_default();
    let run = |n: &str, color: &str| {
        let o = env.weir(&[
            "run",
            path,
            "-i",
            &format!("n={n}"),
            "-i",
            &format!("color={color}"),
        ]);
        assert_eq!(o.code, 0, "{o:#?}");
        env.show(&o.id())
    };
    let ex = run("42", "green");
    assert_eq!(
        states(&ex),
        pairs(&[
            ("big", "SUCCESS"),
            ("is_big", "SUCCESS"),
            ("by_color", "SUCCESS"),
            ("was_green", "SUCCESS")
        ])
    );
    assert_eq!(run_of(&ex, "big")["outputs"]["evaluationResult"], true);
    assert_eq!(run_of(&ex, "by_color")["outputs"]["value"], "green");
    assert_eq!(run_of(&ex, "by_color")["outputs"]["defaults"], false);
    // Children point at their flowable parent.
    assert_eq!(run_of(&ex, "is_big")["parentId"], run_of(&ex, "big")["id"]);

    let ex = run("3", "blue");
    assert_eq!(
        states(&ex),
        pairs(&[
            ("big", "SUCCESS"),
            ("is_small", "SUCCESS"),
            ("by_color", "SUCCESS"),
            ("was_other", "SUCCESS")
        ])
    );
    assert_eq!(run_of(&ex, "big")["outputs"]["evaluationResult"], false);
    assert_eq!(run_of(&ex, "by_color")["outputs"]["defaults"], true);
    assert_eq!(run_of(&ex, "was_other")["outputs"]["value"], "other");
}

#[test]
fn foreach_respects_concurrency_limit_and_keys_outputs_by_value() {
    let env = Env::new();
    let out = env.run_flow(
        "each.yaml",
        r#"
id: each
namespace: demo
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c", "d"]
    concurrencyLimit: 2
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.3S
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "value {{ taskrun.value }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.ret['c'].value }}|{{ outputs.ret.a.value }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["state"], "SUCCESS");
    let took = run_duration(run_of(&ex, "each"));
    assert!(
        (0.6..1.2).contains(&took),
        "4 values of 0.3s with limit 2 took {took}s"
    );
    let rets = runs_of(&ex, "ret");
    let mut values: Vec<&str> = rets
        .iter()
        .map(|r| r["value"].as_str().unwrap_or_default())
        .collect();
    values.sort();
    assert_eq!(values, ["a", "b", "c", "d"]);
    for r in &rets {
        assert_eq!(
            r["outputs"]["value"],
            format!("value {}", r["value"].as_str().unwrap_or_default())
        );
    }
    assert_eq!(run_of(&ex, "after")["outputs"]["value"], "value c|value a");

    // No more than two iterations ever ran at once.
    let mut spans: Vec<(f64, f64)> = runs_of(&ex, "nap")
        .iter()
        .map(|r| {
            let h = r["history"].as_array().expect("history");
            let first = &h[0]["at"];
            let start = secs_between(
                first,
                &h.iter().find(|c| c["state"] == "RUNNING").expect("RUNNING")["at"],
            );
            let end = secs_between(first, &h.last().expect("end")["at"]);
            let base = secs_between(&ex["created"], first);
            (base + start, base + end)
        })
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (i, s) in spans.iter().enumerate() {
        let overlapping = spans
            .iter()
            .enumerate()
            .filter(|(j, o)| *j != i && o.0 < s.1 - 0.01 && s.0 < o.1 - 0.01)
            .count();
        assert!(
            overlapping <= 1,
            "more than 2 iterations at once: {spans:?}"
        );
    }
}

#[test]
fn subflow_outputs_reach_the_parent() {
    let env = Env::new();
    let child = env.write(
        "child.yaml",
        r#"
id: child
namespace: demo.sub
inputs:
  - id: n
    type: INT
tasks:
  - id: compute
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.n * 2 }}"
outputs:
  - id: x
    type: STRING
    value: "doubled {{ outputs.compute.value }}"
"#,
    );
    let d = env.weir(&["flows", "deploy", child.to_str().unwrap_or_default()]);
    assert_eq!(d.code, 0, "{d:#?}");
    assert!(
        d.stderr.contains("deployed demo.sub.child revision 1"),
        "{}",
        d.stderr
    );
    let out = env.run_flow(
        "parent.yaml",
        r#"
id: parent
namespace: demo
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: demo.sub
    flowId: child
    inputs:
      n: 21
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "got {{ outputs.sub.outputs.x }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(run_of(&ex, "use")["outputs"]["value"], "got doubled 42");
    let sub = run_of(&ex, "sub");
    assert_eq!(sub["outputs"]["state"], "SUCCESS");
    let child_id = sub["outputs"]["executionId"].as_str().expect("child id");
    let cx = env.show(child_id);
    assert_eq!(cx["state"], "SUCCESS");
    assert_eq!(cx["parentId"], id.as_str());
    assert_eq!(cx["outputs"], json!({"x": "doubled 42"}));
    assert_eq!(cx["inputs"], json!({"n": 21}));
}

fn concurrency_flow(behavior: &str, secs: &str) -> String {
    format!(
        r#"
id: limited
namespace: demo
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - id: work
    type: {SH}
    commands:
      - sleep {secs}
"#
    )
}

#[test]
fn concurrency_limit_queues_the_second_run() {
    let env = Env::new();
    // A sleep of about a second whose command line is unique to this test.
    let secs = format!("1.{}", &marker_secs()[3..]);
    let f = env.write("limited.yaml", &concurrency_flow("QUEUE", &secs));
    let path = f.to_str().unwrap_or_default();
    let mut first = env.spawn(&["run", path], "first");
    let first_id = env.wait_for_state("limited", "RUNNING", Duration::from_secs(10));
    let mut second = env.spawn(&["run", path], "second");
    let queued = env.wait_for_state("limited", "QUEUED", Duration::from_secs(5));
    assert_ne!(queued, first_id);
    let c1 = wait_timeout(&mut first, Duration::from_secs(10));
    let c2 = wait_timeout(&mut second, Duration::from_secs(10));
    kill_marked(&format!("sleep {secs}"));
    assert_eq!(
        (c1, c2),
        (Some(0), Some(0)),
        "{:?}",
        env.spawned_output("second")
    );
    let (out2, _) = env.spawned_output("second");
    assert_eq!(out2.trim(), queued);

    let a = env.show(&first_id);
    let b = env.show(&queued);
    assert_eq!(
        (&a["state"], &b["state"]),
        (&json!("SUCCESS"), &json!("SUCCESS"))
    );
    let gap = secs_between(&a["ended"], &b["started"]);
    assert!(gap >= 0.0, "the runs overlapped: {a:#} {b:#}");
    let work = run_of(&b, "work");
    let overlap = secs_between(&a["ended"], &work["history"][1]["at"]);
    assert!(
        overlap >= 0.0,
        "the queued task ran before the first run ended"
    );
    let msgs = env.log_messages(&queued, None);
    assert!(
        msgs.iter()
            .any(|m| m.starts_with("queued:") && m.contains("concurrency limit 1")),
        "{msgs:?}"
    );
}

#[test]
fn concurrency_limit_with_fail_fails_the_second_run() {
    let env = Env::new();
    let secs = format!("1.{}", &marker_secs()[3..]);
    let f = env.write("limited.yaml", &concurrency_flow("FAIL", &secs));
    let path = f.to_str().unwrap_or_default();
    let mut first = env.spawn(&["run", path], "first");
    let first_id = env.wait_for_state("limited", "RUNNING", Duration::from_secs(10));
    let started = Instant::now();
    let second = env.weir(&["run", path]);
    let took = started.elapsed();
    let c1 = wait_timeout(&mut first, Duration::from_secs(10));
    kill_marked(&format!("sleep {secs}"));
    assert_eq!(second.code, 1, "{second:#?}");
    assert!(
        took < Duration::from_millis(900),
        "the FAIL run waited {took:?}"
    );
    assert!(
        second
            .stderr
            .contains("concurrency limit 1 of flow `limited` reached (behavior FAIL)"),
        "{}",
        second.stderr
    );
    let ex = env.show(&second.id());
    assert_eq!(ex["state"], "FAILED");
    assert_eq!(ex["taskRuns"], json!([]));
    assert_eq!(c1, Some(0));
    assert_eq!(env.show(&first_id)["state"], "SUCCESS");
}

#[test]
fn sigterm_kills_the_run_and_its_processes() {
    let env = Env::new();
    let secs = marker_secs();
    let marker = format!("sleep {secs}");
    let f = env.write(
        "long.yaml",
        &format!(
            r#"
id: long
namespace: demo
tasks:
  - id: sleepy
    type: {SH}
    commands:
      - {marker}
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: never
"#
        ),
    );
    let mut child = env.spawn(&["run", f.to_str().unwrap_or_default()], "run");
    let id = env.wait_for_state("long", "RUNNING", Duration::from_secs(10));
    wait_for_process(&marker, Duration::from_secs(10));
    let sent = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("send SIGTERM");
    let code = wait_timeout(&mut child, Duration::from_secs(5));
    let took = sent.elapsed();
    if code.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let gone = no_process_within(&marker, Duration::from_secs(2));
    kill_marked(&marker);
    assert_eq!(
        code,
        Some(1),
        "weir did not exit 1 after SIGTERM: {:?}",
        env.spawned_output("run")
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(gone, "`{marker}` survived the SIGTERM of weir");
    let ex = env.show(&id);
    assert_eq!(ex["state"], "KILLED");
    assert_eq!(states(&ex), pairs(&[("sleepy", "KILLED")]));
    let (stdout, stderr) = env.spawned_output("run");
    assert_eq!(stdout.trim(), id);
    assert!(stderr.contains("SIGTERM received: stopping"), "{stderr}");
    let logs = env.weir(&["executions", "logs", &id]);
    assert!(
        logs.stdout
            .contains("killed: weir received SIGTERM and stopped the running tasks"),
        "{logs:?}"
    );
}

#[test]
fn labels_outputs_and_logs_are_recorded() {
    let env = Env::new();
    let out = env.run_flow(
        "labels.yaml",
        r#"
id: labelled
namespace: demo
variables:
  team: data
labels:
  team: "{{ vars.team }}-eng"
  kind: batch
tasks:
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels:
      stage: "{{ flow.id }}-done"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "labels {{ labels.team }} {{ labels.owner }}"
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: ["one", "two"]
outputs:
  - id: summary
    type: STRING
    value: "{{ outputs.ret.value }}"
"#,
        &["--label", "owner=alice", "--label", "kind=adhoc"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(
        ex["labels"],
        json!({"team": "data-eng", "kind": "adhoc", "owner": "alice", "stage": "labelled-done"})
    );
    assert_eq!(ex["outputs"], json!({"summary": "labels data-eng alice"}));
    let warn: Vec<Value> = env
        .logs(&id)
        .into_iter()
        .filter(|l| l["taskId"] == "warn")
        .collect();
    assert_eq!(warn.len(), 2, "{warn:#?}");
    assert!(warn.iter().all(|l| l["level"] == "WARN"));
    // Filters of `executions logs`.
    let only = env.json(&[
        "executions",
        "logs",
        &id,
        "--task",
        "warn",
        "--level",
        "WARN",
        "--json",
    ]);
    assert_eq!(only.as_array().map(Vec::len), Some(2), "{only:#}");
    // Lists show labels; a prefix of the id finds the execution.
    let list = env.executions();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(env.show(&id[..18])["id"], id.as_str());
}

#[test]
fn articles_flow_passes_the_file_to_a_later_task() {
    let env = Env::new();
    let f = env.write(
        "taxi.yaml",
        &format!(
            r#"
id: taxi
namespace: company.team
inputs:
  - id: taxi
    type: SELECT
    displayName: Select taxi type
    values: [yellow, green]
    defaults: yellow
variables:
  file: "{{{{inputs.taxi}}}}_tripdata_{{{{trigger.date | date('yyyy-MM')}}}}.csv"
tasks:
  - id: set_label
    type: io.kestra.plugin.core.execution.Labels
    labels:
      file: "{{{{ render(vars.file) }}}}"
      taxi: "{{{{ inputs.taxi }}}}"
  - id: extract
    type: {SH}
    outputFiles:
      - "*.csv"
    commands:
      - printf 'vendor,amount\n1,10.5\n2,20\n' > {{{{ render(vars.file) }}}}
  - id: if_yellow
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.taxi == 'yellow' }}}}"
    then:
      - id: check
        type: {SH}
        inputFiles:
          data.csv: "{{{{ outputs.extract.outputFiles[render(vars.file)] }}}}"
        commands:
          - test "$(head -n 1 data.csv)" = "vendor,amount"
          - grep -qx '2,20' data.csv
          - echo "rows=$(tail -n +2 data.csv | wc -l | tr -d ' ')"
"#
        ),
    );
    let path = f.to_str().unwrap_or_default();
    let out = env.weir(&["run", path, "--trigger-date", "2021-01-01"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    assert_eq!(ex["state"], "SUCCESS");
    assert_eq!(
        ex["labels"],
        json!({"file": "yellow_tripdata_2021-01.csv", "taxi": "yellow"})
    );
    let files = &run_of(&ex, "extract")["outputs"]["outputFiles"];
    let uri = files["yellow_tripdata_2021-01.csv"]
        .as_str()
        .unwrap_or_default();
    assert!(uri.starts_with("kestra:///"), "{files:#}");
    assert_eq!(run_of(&ex, "check")["state"], "SUCCESS");
    assert_eq!(env.log_messages(&id, Some("check")), ["rows=2"]);

    let out = env.weir(&[
        "run",
        path,
        "--trigger-date",
        "2021-02-03",
        "-i",
        "taxi=green",
    ]);
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(ex["labels"]["file"], "green_tripdata_2021-02.csv");
    assert!(runs_of(&ex, "check").is_empty(), "{ex:#}");
    assert_eq!(
        run_of(&ex, "if_yellow")["outputs"]["evaluationResult"],
        false
    );
}

#[test]
fn kv_store_from_cli_and_tasks() {
    let env = Env::new();
    let set = env.weir(&["kv", "set", "--namespace", "demo", "GREETING", "bonjour"]);
    assert_eq!(set.code, 0, "{set:#?}");
    let num = env.weir(&["kv", "set", "-n", "demo", "LIMIT", "12", "--type", "NUMBER"]);
    assert_eq!(num.code, 0, "{num:#?}");
    let out = env.run_flow(
        "kv.yaml",
        r#"
id: kvflow
namespace: demo
tasks:
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('GREETING') }} x{{ kv('LIMIT') + 1 }}"
  - id: put
    type: io.kestra.plugin.core.kv.Set
    key: written
    value: "{{ outputs.read.value }}!"
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: written
  - id: missing
    type: io.kestra.plugin.core.kv.Get
    key: nothing_here
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    assert_eq!(run_of(&ex, "read")["outputs"]["value"], "bonjour x13");
    assert_eq!(run_of(&ex, "get")["outputs"]["value"], "bonjour x13!");
    assert_eq!(run_of(&ex, "missing")["outputs"]["value"], Value::Null);
    let got = env.weir(&["kv", "get", "--namespace", "demo", "written"]);
    assert_eq!(
        (got.code, got.stdout.as_str()),
        (0, "bonjour x13!\n"),
        "{got:#?}"
    );
    let list = env.json(&["kv", "list", "--namespace", "demo", "--json"]);
    let mut keys: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["key"].as_str().unwrap_or_default())
        .collect();
    keys.sort();
    assert_eq!(keys, ["GREETING", "LIMIT", "written"]);
    let del = env.weir(&["kv", "delete", "--namespace", "demo", "written"]);
    assert_eq!(del.code, 0, "{del:#?}");
    assert_eq!(
        env.weir(&["kv", "get", "--namespace", "demo", "written"])
            .code,
        2
    );
}

#[test]
fn secrets_are_masked_in_logs_and_outputs() {
    let mut env = Env::new();
    let secret = "hunter2-S3cr3t";
    env.set_env("SECRET_TOKEN", secret);
    let out = env.run_flow(
        "secret.yaml",
        &format!(
            r#"
id: secretive
namespace: demo
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "token is {{{{ secret('TOKEN') }}}}"
  - id: sh
    type: {SH}
    env:
      TOKEN: "{{{{ secret('TOKEN') }}}}"
    commands:
      - echo "from shell $TOKEN"
      - test "$TOKEN" = "{secret}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ secret('TOKEN') | length }}}} chars: {{{{ secret('TOKEN') }}}}"
"#
        ),
        &["--json"],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "{out:#?}"
    );
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    let id = v["id"].as_str().expect("id").to_string();
    let msgs = env.log_messages(&id, None);
    assert!(msgs.contains(&"token is ******".to_string()), "{msgs:?}");
    assert!(msgs.contains(&"from shell ******".to_string()), "{msgs:?}");
    let raw_logs = env.weir(&["executions", "logs", &id]);
    let shown = env.weir(&["executions", "show", &id, "--json"]);
    assert!(!raw_logs.stdout.contains(secret), "{}", raw_logs.stdout);
    assert!(!shown.stdout.contains(secret), "{}", shown.stdout);
    assert_eq!(
        run_of(&env.show(&id), "ret")["outputs"]["value"],
        format!("{} chars: ******", secret.len())
    );
}

#[test]
fn a_crashed_run_is_marked_failed_by_the_next_command() {
    let env = Env::new();
    let secs = marker_secs();
    let marker = format!("sleep {secs}");
    let f = env.write(
        "crash.yaml",
        &format!(
            r#"
id: crash
namespace: demo
tasks:
  - id: sleepy
    type: {SH}
    commands:
      - {marker}
"#
        ),
    );
    let mut child = env.spawn(&["run", f.to_str().unwrap_or_default()], "run");
    let id = env.wait_for_state("crash", "RUNNING", Duration::from_secs(10));
    wait_for_process(&marker, Duration::from_secs(10));
    child.kill().expect("SIGKILL weir");
    let _ = child.wait();
    // The orphaned sleep is ours to clean up: weir had no chance to.
    kill_marked(&marker);
    let listed = env.weir(&["executions", "list"]);
    assert_eq!(listed.code, 0, "{listed:#?}");
    assert!(
        listed.stderr.contains(&format!(
            "note: execution {id} was left running by a weir process that is gone; marked FAILED"
        )),
        "{}",
        listed.stderr
    );
    let ex = env.show(&id);
    assert_eq!(ex["state"], "FAILED");
    assert!(
        env.executions().iter().all(|e| e["state"] != "RUNNING"),
        "an execution is still RUNNING"
    );
    // The note is given once.
    let again = env.weir(&["executions", "list"]);
    assert!(!again.stderr.contains("note:"), "{}", again.stderr);
}

#[test]
fn http_download_feeds_a_later_task() {
    let env = Env::new();
    let body = "city,count\nParis,3\nLyon,5\n";
    let port = serve(&[("/files/cities.csv", body)]);
    let out = env.run_flow(
        "dl.yaml",
        &format!(
            r#"
id: download
namespace: demo
tasks:
  - id: dl
    type: io.kestra.plugin.core.http.Download
    uri: http://127.0.0.1:{port}/files/cities.csv
  - id: use
    type: {SH}
    inputFiles:
      cities.csv: "{{{{ outputs.dl.uri }}}}"
    commands:
      - grep -qx 'Lyon,5' cities.csv
      - echo "lines=$(wc -l < cities.csv | tr -d ' ')"
"#
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let id = out.id();
    let ex = env.show(&id);
    let dl = &run_of(&ex, "dl")["outputs"];
    assert_eq!(dl["code"], 200);
    assert_eq!(dl["length"], body.len());
    let uri = dl["uri"].as_str().unwrap_or_default();
    assert!(
        uri.starts_with("kestra:///") && uri.ends_with("/cities.csv"),
        "{dl:#}"
    );
    assert_eq!(run_of(&ex, "use")["state"], "SUCCESS");
    assert_eq!(env.log_messages(&id, Some("use")), ["lines=3"]);
}

/// Several weir processes starting at once on a new home (a scheduler and a few `weir run`s
/// from cron, say) must all work: none may fail because another one is creating the database.
#[test]
fn concurrent_first_use_of_a_home() {
    let mut failures = Vec::new();
    for round in 0..40 {
        let env = Env::new();
        let children: Vec<_> = (0..8)
            .map(|i| {
                env.command(&["kv", "list", "--namespace", "demo"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .map(|c| (i, c))
                    .expect("spawn weir")
            })
            .collect();
        for (i, c) in children {
            let o = c.wait_with_output().expect("wait");
            if !o.status.success() {
                failures.push(format!(
                    "round {round}, process {i}: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The deepest nesting validation accepts must also run: the engine walks the tree by
/// recursion (boxed futures), so the limit is only safe if a flow at the limit runs whole —
/// in a debug build too, whose stack frames are the largest.
#[test]
fn flows_nested_as_deep_as_validation_allows_run() {
    let env = Env::new();
    for kind in ["Sequential", "Parallel", "ForEach", "If"] {
        let mut yaml = String::from("id: deep\nnamespace: t\ntasks:\n");
        let mut indent = String::new();
        // The flow's own list is the first level: 63 nested lists make 64.
        for i in 0..weir_flow::parse::MAX_TASK_DEPTH - 1 {
            yaml.push_str(&format!(
                "{indent}  - id: s{i}\n{indent}    type: io.kestra.plugin.core.flow.{kind}\n"
            ));
            match kind {
                "If" => yaml.push_str(&format!(
                    "{indent}    condition: 'true'\n{indent}    then:\n"
                )),
                "ForEach" => {
                    yaml.push_str(&format!("{indent}    values: [1]\n{indent}    tasks:\n"))
                }
                _ => yaml.push_str(&format!("{indent}    tasks:\n")),
            }
            indent.push_str("    ");
        }
        yaml.push_str(&format!(
            "{indent}  - id: leaf\n{indent}    type: io.kestra.plugin.core.log.Log\n{indent}    message: at the bottom\n"
        ));
        let out = env.run_flow(&format!("deep-{kind}.yaml"), &yaml, &[]);
        assert_eq!(out.code, 0, "{kind}: {out:#?}");
        assert!(out.stderr.contains("SUCCESS"), "{kind}: {}", out.stderr);
    }
}
