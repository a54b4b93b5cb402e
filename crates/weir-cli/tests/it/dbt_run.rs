//! `weir dbt seed | run | test | build | compile` through the binary on DuckDB: a small project
//! with a seed, a view, a table, an incremental model run twice and with `--full-refresh`, an
//! ephemeral model, each built-in generic test passing, a failing test at severity warn and one
//! at severity error (whose downstream model is skipped), and the example project
//! `examples/nyc-taxi/transform` on a small `weir demo` warehouse.

use crate::common::{Env, Out};
use serde_json::Value;
use std::path::Path;

const PROJECT: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        "name: shop\nprofile: shop\nmodels:\n  shop:\n    +materialized: view\n",
    ),
    (
        "profiles.yml",
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n      schema: main\n      threads: 2\n",
    ),
    (
        "seeds/customers.csv",
        "id,name,tier\n1,ann,gold\n2,bob,silver\n3,cid,gold\n",
    ),
    (
        "models/customers_v.sql",
        "select * from {{ ref('customers') }}\n",
    ),
    (
        "models/gold.sql",
        "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('customers') }} where tier = 'gold'\n",
    ),
    (
        "models/gold_t.sql",
        "{{ config(materialized='table') }}\nselect id, name from {{ ref('gold') }}\n",
    ),
    (
        "models/events.sql",
        "{{ config(materialized='incremental', unique_key='id') }}\n\
         select id, id * 10 as amount from range(0, {{ var('n', 3) }}) r(id)\n\
         {% if is_incremental() %}where id >= (select max(id) from {{ this }}){% endif %}\n",
    ),
    (
        "models/after_bad.sql",
        "select * from {{ ref('gold_t') }}\n",
    ),
    (
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: customers_v\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n      - name: tier\n        data_tests:\n          - accepted_values:\n              arguments:\n                values: [gold, silver]\n          - accepted_values:\n              name: tier_is_gold_warn\n              arguments:\n                values: [gold]\n              config:\n                severity: warn\n  - name: gold_t\n    columns:\n      - name: id\n        data_tests:\n          - relationships:\n              arguments:\n                to: ref('customers')\n                field: id\n",
    ),
    (
        "tests/gold_has_no_ann.sql",
        "select * from {{ ref('gold_t') }} where name = 'ann'\n",
    ),
];

fn project(files: &[(&str, &str)]) -> Env {
    let env = Env::new();
    for (path, text) in files {
        let p = env.path().join("shop").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    env
}

fn dbt(env: &Env, verb: &str, args: &[&str]) -> Out {
    let mut all = vec![
        "dbt",
        verb,
        "--project-dir",
        "shop",
        "--profiles-dir",
        "shop",
    ];
    all.extend_from_slice(args);
    env.weir(&all)
}

fn query(env: &Env, sql: &str) -> Vec<Value> {
    let url = format!(
        "jdbc:duckdb:{}",
        env.path().join("shop/shop.duckdb").display()
    );
    let o = env.weir(&["query", &url, sql, "--json"]);
    assert_eq!(o.code, 0, "{o:#?}");
    serde_json::from_str::<Vec<Value>>(&o.stdout).expect("rows as JSON")
}

pub(crate) fn statuses(root: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root.join("target/run_results.json")).expect("results");
    let v: Value = serde_json::from_str(&text).expect("JSON");
    let mut out: Vec<(String, String)> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or("").to_string(),
                r["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn status_of<'a>(all: &'a [(String, String)], prefix: &str) -> &'a str {
    &all.iter()
        .find(|(id, _)| id.starts_with(prefix))
        .unwrap_or_else(|| panic!("no result for {prefix} in {all:?}"))
        .1
}

#[test]
fn seed_run_and_incremental_models_build_as_dbt_builds_them() {
    let env = project(PROJECT);
    let o = dbt(&env, "seed", &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stdout.contains("OK loaded seed file main.customers"),
        "{o:#?}"
    );
    let o = dbt(&env, "run", &["--exclude", "after_bad"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stdout
            .contains("OK created sql view model main.customers_v"),
        "{o:#?}"
    );
    assert!(
        o.stdout.contains("OK created sql table model main.gold_t"),
        "{o:#?}"
    );
    assert!(
        o.stdout
            .contains("Done. PASS=3 WARN=0 ERROR=0 SKIP=0 NO-OP=0 TOTAL=3"),
        "{o:#?}"
    );
    // The ephemeral model is a CTE, never a relation.
    assert!(!o.stdout.contains("main.gold "), "{o:#?}");
    let compiled = std::fs::read_to_string(
        env.path()
            .join("shop/target/compiled/shop/models/gold_t.sql"),
    )
    .expect("compiled");
    assert!(compiled.contains("__dbt__cte__gold"), "{compiled}");
    assert_eq!(
        query(&env, "select count(*) as n from main.gold_t")[0]["n"],
        2
    );
    let kinds = query(
        &env,
        "select table_name, table_type from information_schema.tables where table_name in ('customers_v', 'gold_t', 'gold') order by 1",
    );
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0]["table_type"], "VIEW");
    assert_eq!(kinds[1]["table_type"], "BASE TABLE");

    // The second run of the incremental model inserts the new rows only (and replaces id 2,
    // the one `>= max(id)` reads again).
    query(&env, "update main.events set amount = -1 where id = 0");
    let o = dbt(&env, "run", &["-s", "events", "--vars", "{n: 5}"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let rows = query(&env, "select id, amount from main.events order by id");
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[0]["amount"], -1, "the old row stays: {rows:?}");
    let run_sql =
        std::fs::read_to_string(env.path().join("shop/target/run/shop/models/events.sql"))
            .expect("run sql");
    assert!(run_sql.contains("delete from"), "{run_sql}");

    // `--full-refresh` rebuilds it.
    let o = dbt(
        &env,
        "run",
        &["-s", "events", "--vars", "{n: 4}", "--full-refresh"],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    let rows = query(&env, "select id, amount from main.events order by id");
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0]["amount"], 0, "{rows:?}");

    // Artifacts in dbt's shape.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("shop/target/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    let node = &manifest["nodes"]["model.shop.gold_t"];
    assert_eq!(node["resource_type"], "model");
    assert_eq!(node["config"]["materialized"], "table");
    assert_eq!(node["depends_on"]["nodes"][0], "model.shop.gold");
    assert_eq!(node["checksum"]["name"], "sha256");
}

#[test]
fn build_runs_tests_after_their_parents_and_skips_downstream_of_a_failing_one() {
    let env = project(PROJECT);
    let o = dbt(&env, "build", &[]);
    // The singular test fails at severity error: its model's child is skipped; exit 1.
    assert_eq!(o.code, 1, "{o:#?}");
    let all = statuses(&env.path().join("shop"));
    assert_eq!(status_of(&all, "seed.shop.customers"), "success");
    assert_eq!(status_of(&all, "model.shop.customers_v"), "success");
    assert_eq!(status_of(&all, "test.shop.unique_customers_v_id"), "pass");
    assert_eq!(status_of(&all, "test.shop.not_null_customers_v_id"), "pass");
    assert_eq!(
        status_of(&all, "test.shop.accepted_values_customers_v_tier"),
        "pass"
    );
    assert_eq!(status_of(&all, "test.shop.relationships_gold_t"), "pass");
    assert_eq!(status_of(&all, "test.shop.tier_is_gold_warn"), "warn");
    assert_eq!(status_of(&all, "test.shop.gold_has_no_ann"), "fail");
    assert_eq!(status_of(&all, "model.shop.after_bad"), "skipped");
    assert!(o.stdout.contains("WARN 1 tier_is_gold_warn"), "{o:#?}");
    assert!(o.stdout.contains("FAIL 1 gold_has_no_ann"), "{o:#?}");
    assert!(o.stdout.contains("SKIP relation main.after_bad"), "{o:#?}");
    assert!(o.stdout.contains("ERROR=1 SKIP=1"), "{o:#?}");
    assert!(
        o.stdout
            .contains("Completed with 1 error, 0 partial successes, and 1 warning:"),
        "{o:#?}"
    );

    // `test` alone judges the same tests.
    let o = dbt(&env, "test", &["-s", "customers_v"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("PASS=3 WARN=1 ERROR=0"), "{o:#?}");
}

#[test]
fn errors_name_the_model_file_and_compile_errors_their_line() {
    let mut files = PROJECT.to_vec();
    files.push(("models/broken.sql", "select *\nfrom nowhere_at_all\n"));
    files.push((
        "models/bad_jinja.sql",
        "select 1\n{{ undefined_macro_call() }}\n",
    ));
    let env = project(&files);
    let o = dbt(&env, "run", &["-s", "broken", "bad_jinja"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout
            .contains("Database Error in model broken (models/broken.sql)"),
        "{o:#?}"
    );
    assert!(o.stdout.contains("models/bad_jinja.sql:2"), "{o:#?}");

    let o = dbt(&env, "compile", &["-s", "gold_t"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        env.path()
            .join("shop/target/compiled/shop/models/gold_t.sql")
            .is_file()
    );
}

/// The example project builds on a small `weir demo` warehouse, every model and test
/// succeeding, and builds again with the incremental fact table merged.
#[test]
fn the_example_project_builds_on_the_demo_warehouse() {
    let mut env = Env::new();
    let o = env.weir(&[
        "demo", "--scale", "0.01", "--from", "2021-01", "--to", "2021-02",
    ]);
    assert_eq!(o.code, 0, "{o:#?}");
    let warehouse = env.home().join("demo/warehouse.duckdb");
    assert!(warehouse.is_file(), "{o:#?}");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nyc-taxi/transform");
    let copy = env.path().join("transform");
    copy_dir(&example, &copy);
    env.set_env("WEIR_WAREHOUSE", &warehouse.display().to_string());
    for round in 0..2 {
        let o = env.weir(&[
            "dbt",
            "build",
            "--project-dir",
            "transform",
            "--profiles-dir",
            "transform",
        ]);
        assert_eq!(o.code, 0, "round {round}: {o:#?}");
        assert!(o.stdout.contains("ERROR=0 SKIP=0"), "round {round}: {o:#?}");
        let all = statuses(&copy);
        assert!(all.len() >= 45, "{all:?}");
        assert!(
            all.iter().all(|(_, s)| s == "success" || s == "pass"),
            "round {round}: {all:?}"
        );
    }
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir").flatten() {
        let name = e.file_name();
        if name == "target" || name == "logs" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(name));
        } else {
            std::fs::copy(e.path(), to.join(name)).expect("copy");
        }
    }
}
