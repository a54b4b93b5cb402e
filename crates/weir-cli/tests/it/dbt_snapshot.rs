//! `weir dbt snapshot`, `source freshness`, `docs generate`, `store_failures` and model
//! contracts through the binary on a DuckDB file: snapshots over three runs of a seed that
//! changes (insert, update, hard delete), the check strategy, a snapshot in `build` with a model
//! that refs it, freshness pass/warn/error with their exit codes and `sources.json`, the catalog
//! of a table, a view and a source, failing rows kept in `<schema>_dbt_test__audit`, and a
//! contract that does not match its model.
//!
//! Compared by hand with dbt-core 1.11.16 + dbt-duckdb 1.11.1 on the same shape of project
//! (a table, a view over a snapshot, a source with freshness): `catalog.json` has the same keys
//! (`metadata` with `dbt_schema_version` catalog/v1, `nodes`, `sources`, `errors: null`; per
//! node `metadata.{type,schema,name,database,comment,owner}` with `BASE TABLE`/`VIEW`,
//! `columns.<name>.{type,index,name,comment}` with DuckDB's upper-case types, `stats.has_stats`,
//! `unique_id`); `sources.json` has the same result keys (`max_loaded_at`, `snapshotted_at`,
//! `max_loaded_at_time_ago_in_s`, `status`, `criteria.{warn_after,error_after,filter}`); the
//! snapshot table has the same columns in the same order (the query's, then `dbt_scd_id`,
//! `dbt_updated_at`, `dbt_valid_from`, `dbt_valid_to`) and the log lines `START snapshot
//! snaps.snap` / `OK snapshotted snaps.snap`, `PASS freshness of raw.m`.

use crate::common::{Env, Out};
use serde_json::Value;

const BASE: &[(&str, &str)] = &[
    ("dbt_project.yml", "name: shop\nprofile: shop\n"),
    (
        "profiles.yml",
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n      schema: main\n      threads: 1\n",
    ),
];

fn project(files: &[(&str, &str)]) -> Env {
    let env = Env::new();
    for (path, text) in BASE.iter().chain(files) {
        write(&env, path, text);
    }
    env
}

fn write(env: &Env, path: &str, text: &str) {
    let p = env.path().join("shop").join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, text).expect("write");
}

fn dbt(env: &Env, args: &[&str]) -> Out {
    let mut all = vec!["dbt"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--project-dir", "shop", "--profiles-dir", "shop"]);
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

fn artifact(env: &Env, name: &str) -> Value {
    let text = std::fs::read_to_string(env.path().join("shop/target").join(name)).expect(name);
    serde_json::from_str(&text).expect("JSON")
}

/// (id, name, valid_to is null) of the snapshot's rows, ordered.
fn versions(env: &Env, table: &str) -> Vec<(i64, String, bool)> {
    query(
        env,
        &format!(
            "select id, name, dbt_valid_to is null as cur from {table} order by id, dbt_valid_from"
        ),
    )
    .iter()
    .map(|r| {
        (
            r["id"].as_i64().expect("id"),
            r["name"].as_str().unwrap_or("").to_string(),
            r["cur"].as_bool().expect("cur"),
        )
    })
    .collect()
}

// The snapshot of dbt's docs ("Add a snapshot to your project"), on a seed instead of a
// source: `{% snapshot %}` with `strategy='timestamp'`, `unique_key`, `updated_at`,
// `target_schema` and `invalidate_hard_deletes=True`.
const TIMESTAMP: &[(&str, &str)] = &[
    (
        "seeds/orders.csv",
        "id,name,updated_at\n1,ann,2024-01-01 00:00:00\n2,bob,2024-01-01 00:00:00\n",
    ),
    (
        "snapshots/orders_snapshot.sql",
        "{% snapshot orders_snapshot %}\n\
         {{ config(target_schema='snaps', strategy='timestamp', unique_key='id', \
         updated_at='updated_at', invalidate_hard_deletes=True) }}\n\
         select * from {{ ref('orders') }}\n\
         {% endsnapshot %}\n",
    ),
    (
        "models/current_orders.sql",
        "{{ config(materialized='table') }}\n\
         select id, name from {{ ref('orders_snapshot') }} where dbt_valid_to is null\n",
    ),
];

#[test]
fn timestamp_snapshots_keep_history_over_three_runs() {
    let env = project(TIMESTAMP);
    // Run 1: every row is a current version.
    let o = dbt(&env, &["build"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stdout.contains("START snapshot snaps.orders_snapshot")
            && o.stdout.contains("OK snapshotted snaps.orders_snapshot"),
        "{}",
        o.stdout
    );
    // Graph order: seed, snapshot, then the model that refs it.
    let at = |s: &str| {
        o.stdout
            .find(s)
            .unwrap_or_else(|| panic!("{s}: {}", o.stdout))
    };
    assert!(
        at("OK loaded seed") < at("OK snapshotted")
            && at("OK snapshotted") < at("main.current_orders")
    );
    assert_eq!(
        versions(&env, "snaps.orders_snapshot"),
        [(1, "ann".into(), true), (2, "bob".into(), true)]
    );
    let cols: Vec<String> = query(
        &env,
        "select column_name from information_schema.columns where table_name = 'orders_snapshot' order by ordinal_position",
    )
    .iter()
    .map(|r| r["column_name"].as_str().unwrap_or("").to_string())
    .collect();
    assert_eq!(
        cols,
        [
            "id",
            "name",
            "updated_at",
            "dbt_scd_id",
            "dbt_updated_at",
            "dbt_valid_from",
            "dbt_valid_to"
        ]
    );

    // Run 2: bob changes, cid arrives; an unchanged row gets no new version.
    write(
        &env,
        "seeds/orders.csv",
        "id,name,updated_at\n1,ann,2024-01-01 00:00:00\n2,bobby,2024-02-01 00:00:00\n3,cid,2024-02-01 00:00:00\n",
    );
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    let o = dbt(&env, &["snapshot"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(
        versions(&env, "snaps.orders_snapshot"),
        [
            (1, "ann".into(), true),
            (2, "bob".into(), false),
            (2, "bobby".into(), true),
            (3, "cid".into(), true)
        ]
    );
    // The closed version ends when the new one starts (the new `updated_at`).
    let closed = query(
        &env,
        "select cast(dbt_valid_to as varchar) as t from snaps.orders_snapshot where name = 'bob'",
    );
    assert_eq!(closed[0]["t"], "2024-02-01 00:00:00");

    // Run 3: ann is deleted at the source; invalidate_hard_deletes closes her row.
    write(
        &env,
        "seeds/orders.csv",
        "id,name,updated_at\n2,bobby,2024-02-01 00:00:00\n3,cid,2024-02-01 00:00:00\n",
    );
    let o = dbt(&env, &["build"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(
        versions(&env, "snaps.orders_snapshot"),
        [
            (1, "ann".into(), false),
            (2, "bob".into(), false),
            (2, "bobby".into(), true),
            (3, "cid".into(), true)
        ]
    );
    let current = query(&env, "select id from main.current_orders order by id");
    assert_eq!(current.len(), 2);

    // The snapshot is a node like the others: ls, selectors, artifacts.
    let o = dbt(&env, &["ls", "--resource-type", "snapshot"]);
    assert_eq!(o.stdout.trim(), "shop.orders_snapshot", "{o:#?}");
    let o = dbt(
        &env,
        &[
            "ls",
            "--select",
            "resource_type:snapshot",
            "--output",
            "name",
        ],
    );
    assert_eq!(o.stdout.trim(), "orders_snapshot", "{o:#?}");
    let manifest = artifact(&env, "manifest.json");
    let node = &manifest["nodes"]["snapshot.shop.orders_snapshot"];
    assert_eq!(node["resource_type"], "snapshot");
    assert_eq!(node["schema"], "snaps");
    let results = artifact(&env, "run_results.json");
    assert!(
        results["results"]
            .as_array()
            .expect("results")
            .iter()
            .any(|r| r["unique_id"] == "snapshot.shop.orders_snapshot" && r["status"] == "success"),
        "{results}"
    );
}

#[test]
fn check_snapshots_version_rows_whose_checked_columns_change() {
    let env = project(&[
        (
            "seeds/people.csv",
            "id,region,name,note\n1,eu,ann,x\n2,us,bob,x\n",
        ),
        // dbt's docs ("check strategy"): `check_cols` a list; here with a two-column key.
        (
            "snapshots/people.sql",
            "{% snapshot people_snapshot %}\n\
             {{ config(strategy='check', unique_key=['id', 'region'], check_cols=['name'], \
             hard_deletes='new_record') }}\n\
             select * from {{ ref('people') }}\n\
             {% endsnapshot %}\n",
        ),
    ]);
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    let o = dbt(&env, &["snapshot"]);
    assert_eq!(o.code, 0, "{o:#?}");
    // ann's name changes (a new version), bob's note changes (not checked: none), and a row
    // with ann's id in another region is a new key; bob is then deleted.
    write(
        &env,
        "seeds/people.csv",
        "id,region,name,note\n1,eu,anna,x\n1,us,amy,x\n",
    );
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    let o = dbt(&env, &["snapshot"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let rows = query(
        &env,
        "select id, region, name, dbt_valid_to is null as cur, dbt_is_deleted as del \
         from main.people_snapshot order by id, region, dbt_valid_from",
    );
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["id"],
                r["region"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
                r["cur"],
                r["del"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "1 eu ann false False",
            "1 eu anna true False",
            "1 us amy true False",
            "2 us bob false False",
            "2 us bob true True",
        ]
    );
    // A third run with nothing changed adds nothing.
    assert_eq!(dbt(&env, &["snapshot"]).code, 0);
    assert_eq!(query(&env, "select * from main.people_snapshot").len(), 5);
}

#[test]
fn snapshot_configs_missing_are_errors_naming_the_snapshot() {
    let env = project(&[(
        "snapshots/bad.sql",
        "{% snapshot bad %}\n{{ config(strategy='timestamp', unique_key='id') }}\nselect 1 as id\n{% endsnapshot %}\n",
    )]);
    let o = dbt(&env, &["snapshot"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout
            .contains("Compilation Error in snapshot bad (snapshots/bad.sql)")
            && o.stdout.contains("no `updated_at`"),
        "{}",
        o.stdout
    );
}

// The freshness block of dbt's docs ("source freshness"): `warn_after`/`error_after` with
// `count` and `period`, and `loaded_at_field`, on the source and overridden per table.
const SOURCES: &str = "sources:\n  - name: raw\n    schema: main\n    loaded_at_field: loaded_at\n    freshness:\n      warn_after: {count: 1, period: hour}\n      error_after: {count: 2, period: day}\n    tables:\n      - name: fresh\n        identifier: events\n        loaded_at_field: current_timestamp\n      - name: lagging\n        identifier: events\n        freshness:\n          warn_after: {count: 1, period: hour}\n      - name: stale\n        identifier: events\n        freshness:\n          warn_after: {count: 1, period: hour}\n          error_after: {count: 2, period: day}\n          filter: id > 0\n      - name: unchecked\n        identifier: events\n        freshness: null\n";

#[test]
fn source_freshness_passes_warns_and_errors_with_exit_codes() {
    let env = project(&[
        ("seeds/events.csv", "id,loaded_at\n1,2001-01-01 00:00:00\n"),
        ("models/sources.yml", SOURCES),
    ]);
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    let o = dbt(
        &env,
        &["source", "freshness", "--select", "source:raw.fresh"],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stdout.contains("1 of 1 PASS freshness of raw.fresh"),
        "{}",
        o.stdout
    );
    let o = dbt(
        &env,
        &["source", "freshness", "--select", "source:raw.lagging"],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(
        o.stdout.contains("1 of 1 WARN freshness of raw.lagging"),
        "{}",
        o.stdout
    );
    let o = dbt(&env, &["source", "freshness"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout.contains("ERROR STALE freshness of raw.stale"),
        "{}",
        o.stdout
    );
    assert!(!o.stdout.contains("raw.unchecked"), "{}", o.stdout);
    let sources = artifact(&env, "sources.json");
    let mut statuses: Vec<(String, String)> = sources["results"]
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
    statuses.sort();
    assert_eq!(
        statuses,
        [
            ("source.shop.raw.fresh".to_string(), "pass".to_string()),
            ("source.shop.raw.lagging".into(), "warn".into()),
            ("source.shop.raw.stale".into(), "error".into()),
        ]
    );
    let stale = sources["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["unique_id"] == "source.shop.raw.stale")
        .expect("stale");
    assert_eq!(stale["max_loaded_at"], "2001-01-01T00:00:00.000000+00:00");
    assert_eq!(stale["criteria"]["error_after"]["period"], "day");
    assert_eq!(stale["criteria"]["filter"], "id > 0");
    assert!(stale["max_loaded_at_time_ago_in_s"].as_f64().expect("age") > 7e8);
}

#[test]
fn docs_generate_writes_the_catalog_of_tables_views_and_sources() {
    let env = project(&[
        ("seeds/events.csv", "id,loaded_at\n1,2001-01-01 00:00:00\n"),
        ("models/sources.yml", SOURCES),
        (
            "models/events_t.sql",
            "{{ config(materialized='table') }}\nselect id, 'x' as label from {{ source('raw', 'fresh') }}\n",
        ),
        (
            "models/events_v.sql",
            "select id from {{ ref('events_t') }}\n",
        ),
        ("models/never_built.sql", "select 1 as one\n"),
    ]);
    assert_eq!(dbt(&env, &["build", "--exclude", "never_built"]).code, 0);
    let o = dbt(&env, &["docs", "generate"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("Catalog written to"), "{}", o.stdout);
    let catalog = artifact(&env, "catalog.json");
    assert_eq!(
        catalog["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/catalog/v1.json"
    );
    let t = &catalog["nodes"]["model.shop.events_t"];
    assert_eq!(t["metadata"]["type"], "BASE TABLE");
    assert_eq!(t["metadata"]["schema"], "main");
    assert_eq!(t["metadata"]["name"], "events_t");
    assert_eq!(t["columns"]["id"]["index"], 1);
    assert_eq!(t["columns"]["label"]["type"], "VARCHAR");
    assert_eq!(t["columns"]["label"]["index"], 2);
    assert_eq!(t["stats"]["has_stats"]["value"], false);
    assert_eq!(
        catalog["nodes"]["model.shop.events_v"]["metadata"]["type"],
        "VIEW"
    );
    assert_eq!(
        catalog["nodes"]["seed.shop.events"]["columns"]["loaded_at"]["type"],
        "TIMESTAMP"
    );
    // Not in the warehouse: not in the catalog, as dbt does.
    assert!(catalog["nodes"].get("model.shop.never_built").is_none());
    assert_eq!(
        catalog["sources"]["source.shop.raw.fresh"]["metadata"]["name"],
        "events"
    );
    assert_eq!(catalog["errors"], Value::Null);
    // docs generate compiles: the manifest has the compiled SQL.
    let manifest = artifact(&env, "manifest.json");
    assert!(
        manifest["nodes"]["model.shop.never_built"]["compiled_code"]
            .as_str()
            .is_some_and(|s| s.contains("select 1")),
        "{}",
        manifest["nodes"]["model.shop.never_built"]
    );
    let o = dbt(&env, &["docs", "generate", "--empty-catalog"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(
        artifact(&env, "catalog.json")["nodes"],
        serde_json::json!({})
    );
}

#[test]
fn store_failures_keeps_failing_rows_in_the_audit_schema() {
    let env = project(&[
        ("seeds/people.csv", "id,name\n1,ann\n1,amy\n2,\n"),
        (
            "models/schema.yml",
            "seeds:\n  - name: people\n    columns:\n      - name: id\n        data_tests: [unique]\n      - name: name\n        data_tests:\n          - not_null:\n              config:\n                store_failures: true\n",
        ),
    ]);
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    // Only the test with the config stores its rows without the flag.
    let o = dbt(&env, &["test"]);
    assert_eq!(o.code, 1, "{o:#?}");
    let rows = query(
        &env,
        "select count(*) as n from main_dbt_test__audit.not_null_people_name",
    );
    assert_eq!(rows[0]["n"], 1);
    let tables = query(
        &env,
        "select table_name from information_schema.tables where table_schema = 'main_dbt_test__audit' order by 1",
    );
    assert_eq!(tables.len(), 1, "{tables:?}");
    // `--store-failures` stores every test's rows.
    let o = dbt(&env, &["test", "--store-failures"]);
    assert_eq!(o.code, 1, "{o:#?}");
    let rows = query(
        &env,
        "select unique_field, n_records from main_dbt_test__audit.unique_people_id",
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["unique_field"], 1);
    assert_eq!(rows[0]["n_records"], 2);
}

#[test]
fn contracts_fail_the_model_before_it_is_built() {
    // dbt's docs ("Model contracts"): `contract: {enforced: true}` and each column's
    // `data_type`, with `constraints`.
    let env = project(&[
        (
            "models/dim.sql",
            "{{ config(materialized='table') }}\nselect 1 as id, 'x' as label, 2 as extra\n",
        ),
        (
            "models/ok.sql",
            "{{ config(materialized='table') }}\nselect 1 as id, 'x' as label\n",
        ),
        (
            "models/schema.yml",
            "models:\n  - name: dim\n    config:\n      contract: {enforced: true}\n    columns:\n      - name: id\n        data_type: varchar\n      - name: label\n        data_type: text\n      - name: gone\n        data_type: int\n  - name: ok\n    config:\n      contract: {enforced: true}\n    columns:\n      - name: id\n        data_type: int\n        constraints:\n          - type: not_null\n          - type: primary_key\n      - name: label\n        data_type: text\n",
        ),
    ]);
    let o = dbt(&env, &["run"]);
    assert_eq!(o.code, 1, "{o:#?}");
    for needle in [
        "Compilation Error in model dim (models/dim.sql)",
        "This model has an enforced contract that failed.",
        "| column_name | definition_type | contract_type | mismatch_reason       |",
        "| id          | INTEGER         | varchar       | data type mismatch    |",
        "| extra       | INTEGER         |               | missing in contract   |",
        "| gone        |                 | int           | missing in definition |",
    ] {
        assert!(o.stdout.contains(needle), "{needle}\n{}", o.stdout);
    }
    let dim = query(
        &env,
        "select count(*) as n from information_schema.tables where table_name like 'dim%'",
    );
    assert_eq!(dim[0]["n"], 0);
    // The model that keeps its contract is built with its constraints.
    let cols = query(
        &env,
        "select is_nullable from information_schema.columns where table_name = 'ok' and column_name = 'id'",
    );
    assert_eq!(cols[0]["is_nullable"], "NO");
}
