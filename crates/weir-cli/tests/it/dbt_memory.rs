//! How `weir dbt` bounds DuckDB's memory: a limit of its own when the profile names none (the
//! profile's `memory_limit` and `WEIR_DUCKDB_MEMORY_LIMIT` win), and `unique` tests over a
//! `union all` view that fit under a small limit because weir groups their keys collected
//! first: always over a model that is a view, and after DuckDB runs out of memory otherwise
//! (here a source that is a view).

use crate::common::Env;
use serde_json::Value;

const PROJECT: &str = "name: mem\nprofile: mem\nmodels:\n  mem:\n    +materialized: table\n";

fn profile(settings: &str) -> String {
    format!(
        "mem:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: mem.duckdb\n      \
         schema: main\n      threads: 2\n{settings}"
    )
}

fn project(env: &Env, profile_text: &str, files: &[(&str, &str)]) {
    let root = env.path().join("mem");
    let mut all = vec![
        ("dbt_project.yml", PROJECT.to_string()),
        ("profiles.yml", profile_text.to_string()),
    ];
    all.extend(files.iter().map(|(p, t)| (*p, t.to_string())));
    for (path, text) in all {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
}

fn build(env: &Env) -> crate::common::Out {
    build_with(env, &[])
}

fn build_with(env: &Env, extra: &[&str]) -> crate::common::Out {
    let mut args = vec![
        "dbt",
        "build",
        "--project-dir",
        "mem",
        "--profiles-dir",
        "mem",
    ];
    args.extend_from_slice(extra);
    env.weir(&args)
}

fn query(env: &Env, sql: &str) -> Vec<Value> {
    let url = format!(
        "jdbc:duckdb:{}",
        env.path().join("mem/mem.duckdb").display()
    );
    let o = env.weir(&["query", &url, sql, "--json"]);
    assert_eq!(o.code, 0, "{o:#?}");
    serde_json::from_str::<Vec<Value>>(&o.stdout).expect("rows as JSON")
}

/// The memory limit the build's statements ran under, as DuckDB reports it.
fn limit_seen(env: &Env) -> String {
    let rows = query(env, "select memory_limit from main.limits");
    rows[0]["memory_limit"]
        .as_str()
        .expect("a text")
        .to_string()
}

const LIMITS: &[(&str, &str)] = &[(
    "models/limits.sql",
    "select current_setting('memory_limit') as memory_limit\n",
)];

#[test]
fn duckdb_builds_run_under_weirs_memory_limit_unless_the_profile_or_the_environment_sets_one() {
    // No setting: weir's 128 MB (DuckDB prints it in MiB).
    let env = Env::new();
    project(&env, &profile(""), LIMITS);
    let o = build(&env);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(limit_seen(&env), "122.0 MiB");

    // The profile's own `memory_limit` is honoured (dbt-duckdb's `settings:`).
    let env = Env::new();
    project(
        &env,
        &profile("      settings:\n        memory_limit: 64MB\n"),
        LIMITS,
    );
    let o = build(&env);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(limit_seen(&env), "61.0 MiB");

    // So is the operator's `WEIR_DUCKDB_MEMORY_LIMIT`.
    let mut env = Env::new();
    env.set_env("WEIR_DUCKDB_MEMORY_LIMIT", "100MB");
    project(&env, &profile(""), LIMITS);
    let o = build(&env);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(limit_seen(&env), "95.3 MiB");
}

#[test]
fn a_unique_test_over_a_union_view_with_a_small_first_branch_fits_a_small_memory_limit() {
    // A million keys after a thousand: grouped straight from the view, DuckDB's aggregate cannot
    // spill once the small branch is done and runs out of 32 MB; one key (999) is in both.
    let env = Env::new();
    project(
        &env,
        &profile("      settings:\n        memory_limit: 32MB\n"),
        &[
            ("models/small.sql", "select range as id from range(1000)\n"),
            (
                "models/big.sql",
                "select range + 999 as id from range(1000000)\n",
            ),
            (
                "models/both.sql",
                "{{ config(materialized='view') }}\n\
                 select id from {{ ref('small') }}\nunion all\nselect id from {{ ref('big') }}\n",
            ),
            (
                "models/schema.yml",
                "version: 2\nmodels:\n  - name: both\n    columns:\n      - name: id\n        \
                 data_tests: [unique, not_null]\n",
            ),
        ],
    );
    let o = build(&env);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout.contains("FAIL 1 unique_both_id") && o.stdout.contains("Got 1 result"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("PASS=4 WARN=0 ERROR=1"), "{}", o.stdout);
    assert!(!o.stdout.contains("Out of Memory"), "{}", o.stdout);
    // What ran is the collected form; what compiled is dbt's own query.
    let run = std::fs::read_to_string(
        env.path()
            .join("mem/target/run/mem/models/schema.yml/unique_both_id.sql"),
    )
    .expect("the test's run file");
    assert!(run.contains("as materialized"), "{run}");
    let compiled = std::fs::read_to_string(
        env.path()
            .join("mem/target/compiled/mem/models/schema.yml/unique_both_id.sql"),
    )
    .expect("the test's compiled file");
    assert!(!compiled.contains("materialized"), "{compiled}");
}

#[test]
fn a_unique_test_over_a_source_view_runs_again_with_its_keys_collected_after_running_out_of_memory()
{
    let env = Env::new();
    project(
        &env,
        &profile("      settings:\n        memory_limit: 32MB\n"),
        &[(
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    schema: main\n    tables:\n      - name: trips\n        \
             columns:\n          - name: id\n            data_tests: [unique]\n",
        )],
    );
    // The source: a view over a thousand keys, then a million more.
    query(
        &env,
        "create table small as select range as id from range(1000); \
         create table big as select range + 1000 as id from range(1000000); \
         create view trips as select id from small union all select id from big; \
         select 1 as done",
    );
    let o = build_with(&env, &["--log-level", "debug"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("PASS=1 WARN=0 ERROR=0"), "{}", o.stdout);
    assert!(
        o.stdout
            .contains("source_unique_raw_trips_id: DuckDB ran out of memory grouping the keys"),
        "{}",
        o.stdout
    );
}
