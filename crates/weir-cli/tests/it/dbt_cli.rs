//! The dbt CLI flow tasks through the binary: `io.kestra.plugin.dbt.cli.DbtCLI` building a small
//! project given as `inputFiles` on a DuckDB file (per-node outputs, dbt's log lines in the
//! execution log, the built rows), a failing model naming itself and its skipped downstream,
//! the older `dbt.cli.Build` form with `select`, `storeManifest` in the KV store, and weir
//! started as `dbt` behaving as `weir dbt`.

use crate::common::{Env, run_of};
use serde_json::{Value, json};

/// A small project: a seed, a view over it, a table downstream, a schema test. Templates in
/// file contents are kept from the flow's renderer with `{% raw %}`, as a Kestra flow would.
fn project_files(bad_view: bool) -> Value {
    let view = if bad_view {
        "select * from {{ ref('people') }} where no_such_column = 1"
    } else {
        "select * from {{ ref('people') }} where age >= 18"
    };
    let raw = |s: &str| format!("{{% raw %}}{s}{{% endraw %}}");
    json!({
        "dbt_project.yml": "name: club\nprofile: club\nmodels:\n  club:\n    +materialized: view\n",
        "seeds/people.csv": "id,name,age\n1,ann,34\n2,bob,12\n3,cid,51\n",
        "models/adults.sql": raw(view),
        "models/adult_names.sql": raw("{{ config(materialized='table') }}\nselect id, name from {{ ref('adults') }}"),
        "models/schema.yml": "version: 2\nmodels:\n  - name: adults\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n",
    })
}

fn profiles(db: &str) -> String {
    format!(
        "club:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {db}\n      schema: main\n      threads: 2\n"
    )
}

/// A flow whose one task is `task` (JSON is YAML), with the project's files as `inputFiles`.
fn flow(id: &str, task: Value) -> String {
    format!("id: {id}\nnamespace: test.dbt\ntasks:\n  - {task}\n")
}

fn dbt_task(env: &Env, extra: Value, bad_view: bool) -> Value {
    let db = env.path().join("club.duckdb").display().to_string();
    let files = project_files(bad_view);
    let mut task = json!({
        "id": "dbt",
        "type": "io.kestra.plugin.dbt.cli.DbtCLI",
        "inputFiles": files,
        "profiles": profiles(&db),
    });
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    task
}

fn query(env: &Env, sql: &str) -> Vec<Value> {
    let url = format!("jdbc:duckdb:{}", env.path().join("club.duckdb").display());
    let o = env.weir(&["query", &url, sql, "--json"]);
    assert_eq!(o.code, 0, "{o:#?}");
    serde_json::from_str(&o.stdout).expect("rows as JSON")
}

fn statuses(outputs: &Value) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = outputs["runResults"]
        .as_array()
        .unwrap_or_else(|| panic!("no runResults in {outputs:#}"))
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    all.sort();
    all
}

// Mirrors the first example of Kestra's DbtCLI docs (`commands: [dbt build]` with `profiles`
// inline), with the project given as input files instead of a git clone.
#[test]
fn dbt_cli_builds_a_project_and_reports_each_node() {
    let env = Env::new();
    let task = dbt_task(
        &env,
        json!({"commands": ["dbt deps", "dbt build"], "containerImage": "ghcr.io/kestra-io/dbt-duckdb:latest"}),
        false,
    );
    let o = env.run_flow("f.yml", &flow("dbt_build", task), &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let id = o.id();
    let ex = env.show(&id);
    let run = run_of(&ex, "dbt");
    assert_eq!(run["state"], "SUCCESS", "{run:#}");
    let out = &run["outputs"];
    assert_eq!(out["exitCode"], 0);
    assert!(out["vars"].is_object());
    let all = statuses(out);
    assert_eq!(all.len(), 5, "{all:?}");
    assert!(
        all.contains(&("seed.club.people".into(), "success".into())),
        "{all:?}"
    );
    assert!(
        all.contains(&("model.club.adults".into(), "success".into())),
        "{all:?}"
    );
    assert!(
        all.contains(&("model.club.adult_names".into(), "success".into())),
        "{all:?}"
    );
    assert_eq!(
        all.iter()
            .filter(|(id, s)| id.starts_with("test.club.") && s == "pass")
            .count(),
        2,
        "{all:?}"
    );
    let first = &out["runResults"][0];
    assert!(first["execution_time"].is_number(), "{first:#}");
    assert!(first["message"].is_string(), "{first:#}");
    for f in ["manifest.json", "run_results.json"] {
        let uri = out["outputFiles"][f].as_str().unwrap_or_default();
        assert!(
            uri.starts_with("kestra:///test/dbt/dbt_build/executions/"),
            "{out:#}"
        );
    }

    let logs = env.log_messages(&id, Some("dbt"));
    assert!(
        logs.iter()
            .any(|l| l.contains("containers are not supported")),
        "{logs:#?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("OK created sql table model main.adult_names")),
        "{logs:#?}"
    );
    assert!(
        logs.iter().any(|l| l.contains("Completed successfully")),
        "{logs:#?}"
    );

    let rows = query(&env, "select id, name from adult_names order by id");
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "name": "ann"}),
            json!({"id": 3, "name": "cid"})
        ]
    );
}

#[test]
fn a_failing_model_fails_the_task_naming_it_and_its_skipped_downstream() {
    let env = Env::new();
    let task = dbt_task(&env, json!({"commands": ["dbt build"]}), true);
    let o = env.run_flow("f.yml", &flow("dbt_fail", task), &[]);
    assert_eq!(o.code, 1, "{o:#?}");
    let ex = env.show(&o.id());
    let run = run_of(&ex, "dbt");
    assert_eq!(run["state"], "FAILED");
    let logs = env.log_messages(&o.id(), Some("dbt"));
    let error = logs
        .iter()
        .find(|l| l.starts_with("dbt failed on"))
        .unwrap_or_else(|| panic!("no failure message in {logs:#?}"));
    assert!(error.contains("`model.club.adults` (error"), "{error}");
    assert!(
        error.contains("skipped: ") && error.contains("`model.club.adult_names`"),
        "{error}"
    );
    assert!(error.contains("exited with code 1"), "{error}");
    // The failed run keeps its outputs: every node's result, the failure and the skip among them.
    let results = run["outputs"]["runResults"]
        .as_array()
        .unwrap_or_else(|| panic!("no runResults in {run:#}"));
    let status = |id: &str| {
        results
            .iter()
            .find(|r| r["unique_id"] == id)
            .map(|r| r["status"].clone())
    };
    assert_eq!(status("model.club.adults"), Some(json!("error")), "{run:#}");
    assert_eq!(
        status("model.club.adult_names"),
        Some(json!("skipped")),
        "{run:#}"
    );
    assert!(
        run["outputs"]["outputFiles"]["run_results.json"]
            .as_str()
            .is_some_and(|u| u.starts_with("kestra:///")),
        "{run:#}"
    );
    // The seed before the failure was built.
    assert_eq!(
        query(&env, "select count(*) as n from people"),
        vec![json!({"n": 3})]
    );
}

// Kestra's older form: `io.kestra.plugin.dbt.cli.Build` with `select` (its docs' example runs
// `dbt build` on a cloned project with `profiles` inline).
#[test]
fn the_older_build_task_runs_its_selection() {
    let env = Env::new();
    let mut task = dbt_task(
        &env,
        json!({"select": ["people", "adults"], "thread": 1}),
        false,
    );
    task["type"] = json!("io.kestra.plugin.dbt.cli.Build");
    let o = env.run_flow("f.yml", &flow("dbt_old", task), &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    let all = statuses(&run_of(&ex, "dbt")["outputs"]);
    let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    assert!(
        ids.contains(&"model.club.adults") && ids.contains(&"seed.club.people"),
        "{all:?}"
    );
    assert!(!ids.contains(&"model.club.adult_names"), "{all:?}");
    assert!(
        all.iter().all(|(_, s)| s == "success" || s == "pass"),
        "{all:?}"
    );
}

#[test]
fn store_manifest_puts_the_manifest_in_the_kv_store_and_project_dir_is_honoured() {
    let env = Env::new();
    let db = env.path().join("club.duckdb").display().to_string();
    let mut files = serde_json::Map::new();
    for (k, v) in project_files(false).as_object().unwrap() {
        files.insert(format!("proj/{k}"), v.clone());
    }
    let task = json!({
        "id": "dbt",
        "type": "io.kestra.plugin.dbt.cli.DbtCLI",
        "inputFiles": files,
        "profiles": profiles(&db),
        "projectDir": "proj",
        "commands": ["dbt seed", "dbt run"],
        "storeManifest": {"key": "manifest.json", "namespace": "test.dbt"},
    });
    let o = env.run_flow("f.yml", &flow("dbt_kv", task), &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let got = env.weir(&["kv", "get", "--namespace", "test.dbt", "manifest.json"]);
    assert_eq!(got.code, 0, "{got:#?}");
    let manifest: Value = serde_json::from_str(&got.stdout).expect("manifest JSON");
    assert!(
        manifest["nodes"]["model.club.adult_names"].is_object(),
        "{manifest:#}"
    );
}

/// The `dbt` on PATH is weir: a plain shell command `cd proj && dbt ls` works as written.
#[test]
fn weir_started_as_dbt_is_weir_dbt() {
    let env = Env::new();
    let db = env.path().join("club.duckdb").display().to_string();
    let files = project_files(false);
    let proj = env.path().join("proj");
    for (k, v) in files.as_object().unwrap() {
        let p = proj.join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let text = v
            .as_str()
            .unwrap()
            .replace("{% raw %}", "")
            .replace("{% endraw %}", "");
        std::fs::write(p, text).unwrap();
    }
    std::fs::write(proj.join("profiles.yml"), profiles(&db)).unwrap();
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(crate::common::WEIR, bin.join("dbt")).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("cd proj && dbt ls --resource-type model")
        .current_dir(env.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", env.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{o:#?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines, vec!["club.adult_names", "club.adults"], "{o:#?}");
}

/// The article's transform flow in small: a `file://` git repository holding the project →
/// `git.SyncNamespaceFiles` → DbtCLI with `namespaceFiles` (the second example of Kestra's
/// DbtCLI docs, `profiles.yml` of the repository excluded and given inline instead).
#[test]
fn a_project_synced_from_git_builds_from_namespace_files() {
    let env = Env::new();
    let db = env.path().join("club.duckdb").display().to_string();
    let repo = env.path().join("repo");
    for (k, v) in project_files(false).as_object().unwrap() {
        let p = repo.join("dbt").join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let text = v
            .as_str()
            .unwrap()
            .replace("{% raw %}", "")
            .replace("{% endraw %}", "");
        std::fs::write(p, text).unwrap();
    }
    std::fs::write(
        repo.join("dbt/profiles.yml"),
        "club: {target: nowhere, outputs: {}}\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(["-c", "user.email=t@example.com", "-c", "user.name=t"])
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("git");
        assert!(o.status.success(), "git {args:?}: {o:#?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "project"]);
    let sync = json!({
        "id": "sync",
        "type": "io.kestra.plugin.git.SyncNamespaceFiles",
        "url": format!("file://{}", repo.display()),
        "branch": "main",
        "namespace": "{{ flow.namespace }}",
        "gitDirectory": "dbt",
        "dryRun": false,
    });
    let build = json!({
        "id": "dbt",
        "type": "io.kestra.plugin.dbt.cli.DbtCLI",
        "namespaceFiles": {"enabled": true, "exclude": ["profiles.yml"]},
        "profiles": profiles(&db),
        "commands": ["dbt deps", "dbt build"],
    });
    let yaml = format!("id: git_dbt\nnamespace: test.dbt\ntasks:\n  - {sync}\n  - {build}\n");
    let o = env.run_flow("f.yml", &yaml, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    let all = statuses(&run_of(&ex, "dbt")["outputs"]);
    assert_eq!(all.len(), 5, "{all:?}");
    let rows = query(&env, "select id, name from adult_names order by id");
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "name": "ann"}),
            json!({"id": 3, "name": "cid"})
        ]
    );
}

/// The article's shape in one flow: a task writes the DuckDB file, then DbtCLI (another
/// process) transforms it. The file this process opened is closed before dbt starts, or dbt
/// would wait for it forever.
#[test]
fn dbt_cli_reads_a_duckdb_file_an_earlier_task_of_the_flow_wrote() {
    let env = Env::new();
    let db = env.path().join("club.duckdb").display().to_string();
    let load = json!({
        "id": "load",
        "type": "io.kestra.plugin.jdbc.duckdb.Query",
        "url": format!("jdbc:duckdb:{db}"),
        "sql": "create table raw_people as select * from (values (7, 'eve', 40)) t(id, name, age)",
    });
    let raw = |s: &str| format!("{{% raw %}}{s}{{% endraw %}}");
    let dbt = json!({
        "id": "dbt",
        "type": "io.kestra.plugin.dbt.cli.DbtCLI",
        "timeout": "PT60S",
        "inputFiles": {
            "dbt_project.yml": "name: club\nprofile: club\n",
            "models/sources.yml": "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: raw_people\n",
            "models/people.sql": raw("{{ config(materialized='table') }}\nselect id, name from {{ source('raw', 'raw_people') }}"),
        },
        "profiles": profiles(&db),
        "commands": ["dbt build"],
    });
    let yaml = format!("id: load_then_dbt\nnamespace: test.dbt\ntasks:\n  - {load}\n  - {dbt}\n");
    let o = env.run_flow("f.yml", &yaml, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&o.id());
    assert_eq!(run_of(&ex, "dbt")["state"], "SUCCESS", "{ex:#}");
    assert_eq!(
        query(&env, "select id, name from main.people"),
        vec![json!({"id": 7, "name": "eve"})]
    );
}
