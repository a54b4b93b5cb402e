//! Template context and functions through the real binary: `execution.state`,
//! `taskrun.startDate`, `envs`, `currentEachOutput`, `errorLogs()`, the file functions and
//! the data filters (`jq`, `yaml`, hashes, `toIon`).

use crate::common::{Env, run_of};
use serde_json::json;

const SH: &str = "io.kestra.plugin.scripts.shell.Commands";

// Kestra docs, expressions/context: `{{ execution.state }}` is the current execution state;
// configuration guide (variables): `ENV_MY_ENV` is `{{ envs.my_env }}`; function reference
// (workflow helpers): `errorLogs()` in `errors`, `currentEachOutput(outputs.x)` in ForEach.
#[test]
fn context_state_envs_each_output_and_error_logs() {
    let mut env = Env::new();
    env.set_env("ENV_MY_ENV", "from the environment");
    let out = env.run_flow(
        "ctx.yaml",
        r#"
id: ctx
namespace: company.team
tasks:
  - id: state
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.state }} {{ envs.my_env }} {{ taskrun.startDate | date('yyyy') }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "got {{ taskrun.value }}"
      - id: use
        type: io.kestra.plugin.core.debug.Return
        format: "{{ currentEachOutput(outputs.inner).value }}"
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: disk on fire
errors:
  - id: report
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.state }}: {{ errorLogs()[0].taskId }} said {{ errorLogs()[0].message }}"
"#,
        &[],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    let ex = env.show(out.stdout.trim());
    let year = chrono::Utc::now().format("%Y").to_string();
    assert_eq!(
        run_of(&ex, "state")["outputs"]["value"],
        json!(format!("RUNNING from the environment {year}"))
    );
    let uses: Vec<_> = ex["taskRuns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskId"] == "use")
        .map(|r| {
            r["outputs"]["value"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(uses, ["got a", "got b"]);
    let report = run_of(&ex, "report")["outputs"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(report.starts_with("FAILED: boom said "), "{report}");
    assert!(report.contains("disk on fire"), "{report}");
}

// Kestra docs, faq/internal-storage: `{{ read(outputs.mytaskid.uri) }}`; function reference:
// `read()` reads a namespace file or internal-storage file, `fileURI()` resolves a namespace
// file; `fileExists()`, `fileSize()`, `isFileEmpty()` are utilities.
#[test]
fn file_functions_read_task_files_and_namespace_files() {
    let env = Env::new();
    let sql = env.write("q.sql", "select 42");
    let up = env.weir(&[
        "namespace",
        "files",
        "upload",
        "company.team",
        sql.to_str().unwrap(),
        "/queries/",
    ]);
    assert_eq!(up.code, 0, "{up:#?}");
    let out = env.run_flow(
        "files.yaml",
        &format!(
            r#"
id: files
namespace: company.team
tasks:
  - id: mytaskid
    type: {SH}
    outputFiles: ["out.csv", "empty.txt"]
    commands:
      - printf 'a,b\n1,2\n' > out.csv
      - touch empty.txt
  - id: check
    type: io.kestra.plugin.core.output.OutputValues
    values:
      content: "{{{{ read(outputs.mytaskid.outputFiles['out.csv']) }}}}"
      size: "{{{{ fileSize(outputs.mytaskid.outputFiles['out.csv']) }}}}"
      empty: "{{{{ isFileEmpty(outputs.mytaskid.outputFiles['empty.txt']) }}}}"
      exists: "{{{{ fileExists('queries/q.sql') }}}}"
      missing: "{{{{ fileExists('queries/nope.sql') }}}}"
      query: "{{{{ read('queries/q.sql') }}}}"
      uri: "{{{{ fileURI('queries/q.sql') }}}}"
"#
        ),
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    let values = &run_of(&ex, "check")["outputs"]["values"];
    assert_eq!(values["content"], "a,b\n1,2\n");
    assert_eq!(values["size"], json!(8));
    assert_eq!(values["empty"], json!(true));
    assert_eq!(values["exists"], json!(true));
    assert_eq!(values["missing"], json!(false));
    assert_eq!(values["query"], "select 42");
    assert_eq!(values["uri"], "kestra:///company/team/_files/queries/q.sql");
}

#[test]
fn reading_a_missing_file_fails_the_task_naming_it() {
    let env = Env::new();
    let out = env.run_flow(
        "missing.yaml",
        r#"
id: missing
namespace: company.team
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ read('nothing/here.txt') }}"
"#,
        &[],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    let all = format!(
        "{}{}",
        out.stderr,
        env.log_messages(out.stdout.trim(), Some("r")).join("\n")
    );
    assert!(all.contains("`nothing/here.txt` does not exist"), "{all}");
}

// Kestra docs, expressions/filters/json: `{{ outputs | jq('.task1.value') | first }}` and the
// jq_with_foreach flow's `{{ fromJson(taskrun.value) | jq('.value * 2') | first }}`; function
// reference (data parsing): `yaml()`.
#[test]
fn data_filters_jq_yaml_hashes_and_ion() {
    let env = Env::new();
    let out = env.run_flow(
        "data.yaml",
        r#"
id: data
namespace: company.team
tasks:
  - id: task1
    type: io.kestra.plugin.core.debug.Return
    format: "v1"
  - id: generate
    type: io.kestra.plugin.core.debug.Return
    format: |
      [{"name": "alpha", "value": 1}, {"name": "bravo", "value": 2}]
  - id: foreach
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ fromJson(outputs.generate.value) }}"
    tasks:
      - id: doubled
        type: io.kestra.plugin.core.debug.Return
        format: "{{ fromJson(taskrun.value) | jq('.value * 2') | first }}"
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      first: "{{ outputs | jq('.task1.value') | first }}"
      yaml: "{{ 'a: [1, two]' | yaml }}"
      sha256: "{{ 'test' | sha256 }}"
      md5: "{{ 'test' | md5 }}"
      sha1: "{{ 'test' | sha1 }}"
      ion: "{{ {'id': 1, 'tags': ['x']} | toIon }}"
"#,
        &[],
    );
    assert_eq!(out.code, 0, "{out:#?}");
    let ex = env.show(&out.id());
    let doubled: Vec<_> = ex["taskRuns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["taskId"] == "doubled")
        .map(|r| r["outputs"]["value"].clone())
        .collect();
    assert_eq!(doubled, [json!(2), json!(4)]);
    let values = &run_of(&ex, "out")["outputs"]["values"];
    assert_eq!(values["first"], "v1");
    assert_eq!(values["yaml"], json!({"a": [1, "two"]}));
    assert_eq!(
        values["sha256"],
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    );
    assert_eq!(values["md5"], "098f6bcd4621d373cade4e832627b4f6");
    assert_eq!(values["sha1"], "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3");
    assert_eq!(values["ion"], r#"{id:1,tags:["x"]}"#);
}

#[test]
fn weir_tasks_lists_aliases_marked_as_such() {
    let env = Env::new();
    let out = env.weir(&["tasks"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("`{name}` is not listed:\n{}", out.stdout))
            .to_string()
    };
    assert!(!line("io.kestra.plugin.core.log.Log").contains("alias"));
    assert!(
        line("io.kestra.core.tasks.log.Log").contains("(alias of `io.kestra.plugin.core.log.Log`)")
    );
}

// A Kestra type weir lacks is named as such, with no did-you-mean to an unrelated type, and
// the branch holding it is not also reported empty.
#[test]
fn kestra_types_weir_lacks_are_named_without_knock_on_errors() {
    let env = Env::new();
    let f = env.write(
        "lacks.yaml",
        r#"
id: lacks
namespace: company.team
tasks:
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: chat
        type: io.kestra.plugin.ai.completion.ChatCompletion
  - id: typo
    type: io.kestra.plugin.core.log.Lg
    message: hi
"#,
    );
    let out = env.weir(&["validate", f.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{out:#?}");
    let err = &out.stderr;
    assert!(
        err.contains("weir does not run `io.kestra.plugin.ai.completion.ChatCompletion` yet"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `io.kestra.plugin.core.log.Log`?"),
        "{err}"
    );
    assert_eq!(err.matches("did you mean").count(), 1, "{err}");
    assert!(!err.contains("at least one task"), "{err}");
}
