//! dbt's global flags and YAML selectors through the binary: `--log-format json` lines in dbt's
//! structured-log shape (before or after the verb), `logs/dbt.log`, `--quiet`, `--warn-error`
//! turning a warn test into a failure, `--selector` from `selectors.yml` (union with an
//! exclude, and the `default: true` selector), `--empty`, and a DbtCLI flow whose dbt warning
//! is a WARN line of the execution log.

use crate::common::{Env, Out, run_of};
use serde_json::{Value, json};

const PROJECT: &[(&str, &str)] = &[
    ("dbt_project.yml", "name: p\nprofile: p\n"),
    (
        "profiles.yml",
        "p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: p.duckdb\n      schema: main\n",
    ),
    ("models/a.sql", "select 1 as id union all select 1 as id\n"),
    ("models/b.sql", "select id from {{ ref('a') }}\n"),
    ("models/c.sql", "select 3 as id\n"),
    (
        "models/schema.yml",
        "models:\n  - name: a\n    columns:\n      - name: id\n        data_tests:\n          - unique:\n              config: {severity: warn}\n",
    ),
];

fn project(extra: &[(&str, &str)]) -> Env {
    let env = Env::new();
    for (path, text) in PROJECT.iter().chain(extra) {
        let p = env.path().join("p").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    env
}

fn dbt(env: &Env, args: &[&str]) -> Out {
    let mut all = vec!["dbt"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--project-dir", "p", "--profiles-dir", "p"]);
    env.weir(&all)
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

// dbt's docs ("Logs", log formatting): `dbt run --log-format json` prints one object per line,
// `{"data": {…}, "info": {"category", "code", "extra", "invocation_id", "level", "msg", "name",
// "pid", "thread", "ts"}}`; node results carry `data.node_info`.
#[test]
fn json_log_lines_carry_dbt_events_and_node_results() {
    let env = project(&[]);
    // `run` then `test`: the model's and the test's results come from two invocations.
    for (run, test) in [
        (
            &["--log-format", "json", "run"][..],
            &["--log-format", "json", "test"][..],
        ),
        (
            &["run", "--log-format", "json"][..],
            &["test", "--log-format", "json"][..],
        ),
    ] {
        let o = dbt(&env, run);
        assert_eq!(o.code, 0, "{o:#?}");
        let mut lines = json_lines(&o.stdout);
        let o = dbt(&env, test);
        assert_eq!(o.code, 0, "{o:#?}");
        lines.extend(json_lines(&o.stdout));
        let names: Vec<&str> = lines
            .iter()
            .map(|l| l["info"]["name"].as_str().unwrap_or(""))
            .collect();
        for want in [
            "MainReportVersion",
            "FoundStats",
            "ConcurrencyLine",
            "LogStartLine",
            "LogModelResult",
            "LogTestResult",
            "EndOfRunSummary",
            "StatsLine",
        ] {
            assert!(names.contains(&want), "no {want} in {names:?}");
        }
        let id = lines[0]["info"]["invocation_id"].as_str().unwrap();
        assert_eq!(lines[1]["info"]["invocation_id"], id);
        for l in &lines {
            assert_eq!(
                l["info"]["invocation_id"].as_str().map(str::len),
                Some(36),
                "{l}"
            );
            assert!(l["info"]["ts"].as_str().unwrap().ends_with('Z'), "{l}");
            assert!(l["info"]["msg"].is_string(), "{l}");
        }
        let model = lines
            .iter()
            .find(|l| {
                l["info"]["name"] == "LogModelResult"
                    && l["data"]["node_info"]["unique_id"] == "model.p.b"
            })
            .expect("b's result");
        assert_eq!(model["info"]["level"], "info");
        assert_eq!(model["data"]["node_info"]["node_status"], "success");
        assert_eq!(model["data"]["node_info"]["resource_type"], "model");
        assert_eq!(model["data"]["node_info"]["materialized"], "view");
        assert!(model["data"]["execution_time"].is_number(), "{model}");
        let test = lines
            .iter()
            .find(|l| l["info"]["name"] == "LogTestResult")
            .expect("the test's result");
        assert_eq!(test["info"]["level"], "warn");
        assert_eq!(test["data"]["node_info"]["node_status"], "warn");
        assert_eq!(test["data"]["num_failures"], 1);
        let stats = lines.last().unwrap();
        assert_eq!(
            stats["data"]["stats"],
            json!({"error": 0, "noop": 0, "pass": 0, "skip": 0, "total": 1, "warn": 1})
        );
    }
}

#[test]
fn dbt_log_is_written_and_quiet_prints_only_errors() {
    let env = project(&[]);
    let o = dbt(&env, &["run", "--quiet"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(o.stdout, "", "{o:#?}");
    // dbt's log file, in the debug format, has every line the console left out.
    let log = std::fs::read_to_string(env.path().join("p/logs/dbt.log")).expect("logs/dbt.log");
    assert!(log.contains(" | "), "{log}");
    assert!(
        log.contains("[info ] [MainThread]: Running with weir="),
        "{log}"
    );
    assert!(log.contains("OK created sql view model main.b"), "{log}");

    // `--log-path` puts it elsewhere; a failing model is printed even with `-q`.
    std::fs::write(
        env.path().join("p/models/c.sql"),
        "select nope from nowhere\n",
    )
    .unwrap();
    let o = dbt(&env, &["-q", "run", "--log-path", "elsewhere"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout.contains("ERROR creating sql view model main.c"),
        "{o:#?}"
    );
    assert!(!o.stdout.contains("OK created"), "{o:#?}");
    assert!(env.path().join("elsewhere/dbt.log").is_file());
}

// dbt's docs ("Warnings"): `--warn-error` turns every warning into an error; a test at
// severity warn then fails the command.
#[test]
fn warn_error_makes_a_warn_test_fail() {
    let env = project(&[]);
    let o = dbt(&env, &["run"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let o = dbt(&env, &["test"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("WARN 1 unique_a_id"), "{o:#?}");

    let o = dbt(&env, &["--warn-error", "test"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(o.stdout.contains("FAIL 1 unique_a_id"), "{o:#?}");
    assert!(o.stdout.contains("configured to fail if != 0"), "{o:#?}");

    // In `build`, the failing test skips the model downstream of `a`.
    let o = dbt(&env, &["build", "--warn-error"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(o.stdout.contains("SKIP relation main.b"), "{o:#?}");

    let o = dbt(
        &env,
        &["test", "--warn-error-options", "{include: [LogTestResult]}"],
    );
    assert_eq!(o.code, 1, "{o:#?}");
    let o = dbt(
        &env,
        &[
            "test",
            "--warn-error-options",
            "{include: all, exclude: [LogTestResult]}",
        ],
    );
    assert_eq!(o.code, 0, "{o:#?}");

    let o = dbt(&env, &["run", "--warn-error-options", "{include: 3}"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.contains("--warn-error-options"), "{o:#?}");
}

// dbt's docs ("YAML selectors"): `union` with an `exclude`, `method`/`value` with
// `children: true`, and one selector marked `default: true`.
#[test]
fn selectors_from_selectors_yml() {
    let selectors = "selectors:
  - name: a_down_not_b
    definition:
      union:
        - method: fqn
          value: a
          children: true
        - 'c'
        - exclude:
            - method: fqn
              value: b
  - name: only_c
    default: true
    definition: 'fqn:c'
";
    let env = project(&[("selectors.yml", selectors)]);
    let o = dbt(&env, &["ls", "--selector", "a_down_not_b"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(o.stdout, "p.a\np.c\np.unique_a_id\n", "{o:#?}");

    // With no `--select`, the default selector decides; `--select` overrides it.
    let o = dbt(&env, &["ls"]);
    assert_eq!(o.stdout, "p.c\n", "{o:#?}");
    let o = dbt(&env, &["ls", "--select", "b"]);
    assert_eq!(o.stdout, "p.b\n", "{o:#?}");

    let o = dbt(&env, &["run", "--selector", "a_down_not_b"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("Done. PASS=2 WARN=0 ERROR=0"), "{o:#?}");

    let o = dbt(&env, &["ls", "--selector", "nope"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.contains("a_down_not_b, only_c"), "{o:#?}");

    std::fs::write(
        env.path().join("p/selectors.yml"),
        "selectors:\n  - name: x\n    definition:\n      method: colour\n      value: red\n",
    )
    .unwrap();
    let o = dbt(&env, &["ls"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.contains("selectors.yml:4"), "{o:#?}");
}

// dbt 1.8's `--empty` ("dbt run --empty"): refs and sources read as zero rows, so the models
// are built with their columns and no rows.
#[test]
fn empty_builds_models_without_rows_and_defer_is_refused() {
    let env = project(&[(
        "models/t.sql",
        "{{ config(materialized='table') }}\nselect id from {{ ref('a') }}\n",
    )]);
    let o = dbt(&env, &["run", "--empty"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let url = format!("jdbc:duckdb:{}", env.path().join("p/p.duckdb").display());
    let rows = env.weir(&["query", &url, "select count(*) as n from main.t", "--json"]);
    assert_eq!(rows.code, 0, "{rows:#?}");
    let rows: Value = serde_json::from_str(&rows.stdout).expect("rows as JSON");
    assert_eq!(rows, json!([{"n": 0}]));
    let compiled =
        std::fs::read_to_string(env.path().join("p/target/compiled/p/models/t.sql")).unwrap();
    assert!(
        compiled.contains("where false limit 0) _dbt_limit_subq_a"),
        "{compiled}"
    );

    let o = dbt(&env, &["run", "--defer", "--state", "target"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.contains("`--defer` is not supported"), "{o:#?}");
}

// Kestra's DbtCLI adds `--log-format json` to dbt commands and logs each JSON line at its
// level: the warn test is a WARN line, and the task ends in WARNING.
#[test]
fn dbt_cli_logs_dbt_warnings_at_warn_level() {
    let env = Env::new();
    let db = env.path().join("p.duckdb").display().to_string();
    let raw = |s: &str| format!("{{% raw %}}{s}{{% endraw %}}");
    let task = json!({
        "id": "dbt",
        "type": "io.kestra.plugin.dbt.cli.DbtCLI",
        "commands": ["dbt run", "dbt test"],
        "profiles": format!("p:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {db}\n      schema: main\n"),
        "inputFiles": {
            "dbt_project.yml": "name: p\nprofile: p\n",
            "models/a.sql": raw("select 1 as id union all select 1 as id"),
            "models/schema.yml": "models:\n  - name: a\n    columns:\n      - name: id\n        data_tests:\n          - unique:\n              config: {severity: warn}\n",
        },
    });
    let flow = format!("id: warn\nnamespace: test.dbt\ntasks:\n  - {task}\n");
    let o = env.run_flow("f.yml", &flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let id = o.id();
    let ex = env.show(&id);
    assert_eq!(run_of(&ex, "dbt")["state"], "WARNING", "{ex:#}");
    let logs = env.logs(&id);
    let warn = logs
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("WARN 1 unique_a_id"))
        })
        .unwrap_or_else(|| panic!("no WARN line in {logs:#?}"));
    assert_eq!(warn["level"], "WARN", "{warn:#}");
    let done = logs
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Done. PASS=0 WARN=1"))
        })
        .unwrap_or_else(|| panic!("no Done line in {logs:#?}"));
    assert_eq!(done["level"], "INFO", "{done:#}");
    // No raw JSON reaches the log.
    assert!(
        !logs
            .iter()
            .any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("{\""))),
        "{logs:#?}"
    );
}
