//! Tests of the project model: in-memory projects, one feature at a time, then a realistic one.

use super::*;
use serde_json::json;

const PROJECT: &str = "name: taxi\nversion: '1.0'\nprofile: taxi\n";

fn files(list: &[(&str, &str)]) -> ProjectFiles {
    list.iter().copied().collect()
}

fn load(list: &[(&str, &str)]) -> Project {
    match Project::load(&files(list)) {
        Ok(p) => p,
        Err(e) => panic!("load failed:\n{e}"),
    }
}

fn load_err(list: &[(&str, &str)]) -> Diagnostics {
    match Project::load(&files(list)) {
        Ok(_) => panic!("load should fail"),
        Err(e) => e,
    }
}

fn graph(list: &[(&str, &str)]) -> Graph {
    match load(list).graph() {
        Ok(g) => g,
        Err(e) => panic!("graph failed:\n{e}"),
    }
}

fn graph_err(list: &[(&str, &str)]) -> Diagnostics {
    match load(list).graph() {
        Ok(_) => panic!("graph should fail"),
        Err(e) => e,
    }
}

fn tests_named(p: &Project) -> Vec<&str> {
    p.nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::Test)
        .map(|n| n.unique_id.as_str())
        .collect()
}

#[test]
fn project_file_paths_and_defaults() {
    let p = DbtProject::parse(PROJECT, "dbt_project.yml").unwrap();
    assert_eq!(p.name, "taxi");
    assert_eq!(p.version.as_deref(), Some("1.0"));
    assert_eq!(p.profile.as_deref(), Some("taxi"));
    assert_eq!(p.model_paths, ["models"]);
    assert_eq!(p.seed_paths, ["seeds"]);
    assert_eq!(p.test_paths, ["tests"]);
    assert_eq!(p.macro_paths, ["macros"]);
    assert_eq!(p.snapshot_paths, ["snapshots"]);
    assert_eq!(p.analysis_paths, ["analyses"]);
    assert_eq!(p.target_path, "target");
    let p = DbtProject::parse(
        "name: x\nmodel-paths: [transform, more]\nseed-paths: data\ntarget-path: out\n",
        "dbt_project.yml",
    )
    .unwrap();
    assert_eq!(p.model_paths, ["transform", "more"]);
    assert_eq!(p.seed_paths, ["data"]);
    assert_eq!(p.target_path, "out");
    let e =
        DbtProject::parse("name: 9-lives\nmodel-paths: {a: 1}\n", "dbt_project.yml").unwrap_err();
    assert!(e.mentions("the project name `9-lives` is not valid"), "{e}");
    assert!(
        e.mentions("`model-paths` should be a string, found a map"),
        "{e}"
    );
    assert_eq!(e.0[1].location.to_string(), "dbt_project.yml:2:14");
    let e = DbtProject::parse("name: [x\n", "dbt_project.yml").unwrap_err();
    assert_eq!(e.0[0].location.file, "dbt_project.yml");
    let e = Project::load(&ProjectFiles::new()).unwrap_err();
    assert!(e.mentions("no `dbt_project.yml` found"));
}

#[test]
fn vars_global_and_per_package() {
    let p = DbtProject::parse(
        "name: taxi\nvars:\n  start: '2019-01-01'\n  nested: {a: 1}\n  taxi: {start: '2020-01-01', own: true}\n  dbt_utils: {x: 1}\n",
        "dbt_project.yml",
    )
    .unwrap();
    let packages = ["taxi", "dbt_utils"];
    let taxi = p.vars.for_package("taxi", &packages);
    assert_eq!(taxi["start"], json!("2020-01-01"));
    assert_eq!(taxi["own"], json!(true));
    assert_eq!(taxi["nested"], json!({"a": 1}));
    assert!(!taxi.contains_key("dbt_utils"));
    let utils = p.vars.for_package("dbt_utils", &packages);
    assert_eq!(utils["start"], json!("2019-01-01"));
    assert_eq!(utils["x"], json!(1));
}

#[test]
fn configs_by_folder_with_plus_prefix() {
    let project = "name: taxi
models:
  +materialized: view
  +tags: all
  taxi:
    +schema: analytics
    staging:
      +tags: [staging]
      materialized: view
      enabled: true
    marts:
      +materialized: table
      +tags: [marts]
      +meta: {owner: data}
      core:
        +tags: core
        +meta: {tier: 1}
        fact_trips:
          +materialized: incremental
          unique_key: trip_id
      +persist_docs: {relation: true}
  other_package:
    +materialized: ephemeral
";
    let p = load(&[
        ("dbt_project.yml", project),
        ("models/staging/stg_green.sql", "select 1"),
        ("models/marts/core/fact_trips.sql", "select 1"),
        ("models/marts/core/dim_zones.sql", "select 1"),
        ("models/top.sql", "select 1"),
    ]);
    let node = |id: &str| &p.nodes[id];
    let stg = node("model.taxi.stg_green");
    assert_eq!(stg.fqn, ["taxi", "staging", "stg_green"]);
    assert_eq!(stg.path, "staging/stg_green.sql");
    assert_eq!(stg.original_file_path, "models/staging/stg_green.sql");
    assert_eq!(stg.materialized(), "view");
    assert_eq!(stg.config.schema(), Some("analytics"));
    assert_eq!(stg.tags, ["all", "staging"]);
    let fact = node("model.taxi.fact_trips");
    assert_eq!(fact.materialized(), "incremental");
    assert_eq!(fact.config.get("unique_key"), Some(&json!("trip_id")));
    assert_eq!(fact.tags, ["all", "marts", "core"]);
    assert_eq!(
        fact.config.get("meta"),
        Some(&json!({"owner": "data", "tier": 1}))
    );
    assert_eq!(
        fact.config.get("persist_docs"),
        Some(&json!({"relation": true}))
    );
    let dim = node("model.taxi.dim_zones");
    assert_eq!(dim.materialized(), "table");
    assert_eq!(dim.config.get("unique_key"), None);
    let top = node("model.taxi.top");
    assert_eq!(top.fqn, ["taxi", "top"]);
    assert_eq!(top.materialized(), "view");
    assert_eq!(top.tags, ["all"]);

    // In-file `config()` (rendered later by the Jinja stage) merges over everything.
    let mut fact = fact.clone();
    fact.apply_config(&Config(
        json!({"materialized": "table", "tags": ["daily", "core"]})
            .as_object()
            .unwrap()
            .clone(),
    ));
    assert_eq!(fact.materialized(), "table");
    assert_eq!(fact.tags, ["all", "marts", "core", "daily"]);
}

#[test]
fn disabled_nodes_are_set_aside_and_refs_to_them_fail() {
    let list = [
        (
            "dbt_project.yml",
            "name: taxi\nmodels:\n  taxi:\n    old:\n      +enabled: false\n",
        ),
        ("models/old/legacy.sql", "select 1"),
        ("models/uses.sql", "select * from {{ ref('legacy') }}"),
    ];
    let p = load(&list);
    assert!(p.disabled.contains_key("model.taxi.legacy"));
    assert!(!p.nodes.contains_key("model.taxi.legacy"));
    assert!(p.node("model.taxi.legacy").is_some());
    let e = graph_err(&list);
    assert!(
        e.mentions("`model.taxi.uses` depends on `legacy`, which is disabled"),
        "{e}"
    );
    assert_eq!(e.0[0].location.to_string(), "models/uses.sql:1:18");
}

#[test]
fn discovers_every_kind_of_node() {
    let p = load(&[
        ("dbt_project.yml", PROJECT),
        ("models/a.sql", "select 1"),
        ("models/py_model.py", "def model(dbt, session): ..."),
        ("models/.hidden/b.sql", "select 1"),
        ("models/readme.md", "# not a node"),
        ("seeds/lookup/zones.csv", "id,name\n1,a\n"),
        (
            "snapshots/snaps.sql",
            "{% snapshot trips_snapshot %}\n{{ config(strategy='timestamp') }}\nselect * from {{ ref('a') }}\n{% endsnapshot %}\n\n{%- snapshot  other -%}\nselect 2\n{%- endsnapshot -%}",
        ),
        (
            "tests/assert_positive.sql",
            "select * from {{ ref('a') }} where x < 0",
        ),
        (
            "tests/generic/is_even.sql",
            "{% test is_even(model, column_name) %}select 1{% endtest %}",
        ),
        (
            "macros/cents.sql",
            "{% macro cents(x) %}{{ x }}/100{% endmacro %}",
        ),
        ("analyses/explore.sql", "select * from {{ ref('a') }}"),
    ]);
    let ids: Vec<&str> = p.nodes.keys().map(String::as_str).collect();
    assert_eq!(
        ids,
        [
            "analysis.taxi.explore",
            "model.taxi.a",
            "model.taxi.py_model",
            "seed.taxi.zones",
            "snapshot.taxi.other",
            "snapshot.taxi.trips_snapshot",
            "test.taxi.assert_positive",
        ]
    );
    assert_eq!(p.nodes["model.taxi.py_model"].language, Language::Python);
    assert!(p.warnings[0].message.contains("Python model"));
    assert_eq!(p.nodes["seed.taxi.zones"].fqn, ["taxi", "lookup", "zones"]);
    assert_eq!(p.nodes["seed.taxi.zones"].raw_code, "id,name\n1,a\n");
    assert_eq!(p.nodes["seed.taxi.zones"].materialized(), "seed");
    let snap = &p.nodes["snapshot.taxi.trips_snapshot"];
    assert_eq!(snap.line, 1);
    assert_eq!(snap.refs[0].name, "a");
    assert_eq!(snap.refs[0].line, 3);
    assert!(snap.raw_code.contains("select * from"));
    assert!(!snap.raw_code.contains("endsnapshot"));
    assert_eq!(p.nodes["snapshot.taxi.other"].line, 6);
    assert_eq!(
        p.macro_files,
        ["tests/generic/is_even.sql", "macros/cents.sql"]
    );
    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        ("snapshots/bad.sql", "select 1"),
    ]);
    assert!(e.mentions("no snapshot block"), "{e}");
}

#[test]
fn duplicate_names_name_both_files() {
    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        ("models/staging/trips.sql", "select 1"),
        ("models/marts/trips.sql", "select 2"),
    ]);
    assert_eq!(
        e.0[0].message,
        "two resources are named `trips`: model `models/marts/trips.sql` and model `models/staging/trips.sql`"
    );
    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        ("models/zones.sql", "select 1"),
        ("seeds/zones.csv", "a\n1\n"),
    ]);
    assert!(
        e.mentions("model `models/zones.sql` and seed `seeds/zones.csv`"),
        "{e}"
    );
}

const SCHEMA: &str = r#"version: 2
models:
  - name: orders
    description: One row per order
    config:
      contract: {enforced: true}
      materialized: table
    columns:
      - name: order_id
        data_type: integer
        description: The key
        data_tests:
          - unique
          - not_null
      - name: status
        tests:
          - accepted_values:
              values: ['placed', 'shipped']
          - accepted_values:
              arguments:
                values: [returned]
              config:
                severity: warn
              name: status_is_returned
      - name: customer_id
        data_tests:
          - relationships:
              to: ref('customers')
              field: id
              severity: warn
          - not_null:
              config:
                where: "customer_id > 0"
    data_tests:
      - dbt_utils.expression_is_true:
          arguments:
            expression: "amount >= 0"
      - name: orders_have_rows
        test_name: at_least_one
        arguments:
          column_name: order_id
  - name: customers
"#;

#[test]
fn generic_tests_in_every_syntax() {
    let p = load(&[
        (
            "dbt_project.yml",
            "name: jaffle_shop\ndata_tests:\n  +store_failures: true\n",
        ),
        ("models/orders.sql", "select * from {{ ref('customers') }}"),
        ("models/customers.sql", "select 1 as id"),
        ("models/schema.yml", SCHEMA),
    ]);
    // Unique ids without their hash, which `generic_test_hashes_match_dbt_core` checks.
    let mut ids: Vec<&str> = tests_named(&p)
        .into_iter()
        .map(|id| &id[..id.rfind('.').unwrap()])
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "test.jaffle_shop.accepted_values_orders_status__placed__shipped",
            "test.jaffle_shop.dbt_utils_expression_is_true_orders_amount_0",
            "test.jaffle_shop.not_null_orders_customer_id",
            "test.jaffle_shop.not_null_orders_order_id",
            "test.jaffle_shop.orders_have_rows",
            "test.jaffle_shop.relationships_orders_customer_id__id__ref_customers_",
            "test.jaffle_shop.status_is_returned",
            "test.jaffle_shop.unique_orders_order_id",
        ]
    );
    let by_name = |name: &str| {
        p.nodes
            .values()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no test {name}"))
    };
    let unique = by_name("unique_orders_order_id");
    assert_eq!(
        unique.unique_id,
        "test.jaffle_shop.unique_orders_order_id.fed79b3a6e"
    );
    assert_eq!(unique.fqn, ["jaffle_shop", "unique_orders_order_id"]);
    assert_eq!(unique.original_file_path, "models/schema.yml");
    assert_eq!(
        unique.raw_code,
        "{{ test_unique(**_dbt_generic_test_kwargs) }}"
    );
    assert_eq!(unique.config.get("store_failures"), Some(&json!(true)));
    let meta = unique.test.as_ref().unwrap();
    assert_eq!(meta.column_name.as_deref(), Some("order_id"));
    assert_eq!(
        meta.kwargs["model"],
        json!("{{ get_where_subquery(ref('orders')) }}")
    );

    let returned = by_name("status_is_returned");
    assert_eq!(returned.config.severity(), "WARN");
    assert_eq!(
        returned.test.as_ref().unwrap().kwargs["values"],
        json!(["returned"])
    );
    let rel = by_name("relationships_orders_customer_id__id__ref_customers_");
    assert_eq!(rel.config.severity(), "WARN");
    assert!(!rel.test.as_ref().unwrap().kwargs.contains_key("severity"));
    let where_ = by_name("not_null_orders_customer_id");
    assert_eq!(where_.config.get("where"), Some(&json!("customer_id > 0")));
    let expr = by_name("dbt_utils_expression_is_true_orders_amount_0");
    let meta = expr.test.as_ref().unwrap();
    assert_eq!(meta.namespace.as_deref(), Some("dbt_utils"));
    assert_eq!(meta.name, "expression_is_true");
    assert_eq!(
        expr.raw_code,
        "{{ dbt_utils.test_expression_is_true(**_dbt_generic_test_kwargs) }}"
    );
    let custom = by_name("orders_have_rows");
    assert_eq!(custom.test.as_ref().unwrap().name, "at_least_one");
    assert_eq!(
        custom.test.as_ref().unwrap().kwargs["column_name"],
        json!("order_id")
    );

    // The model's properties.
    let orders = &p.nodes["model.jaffle_shop.orders"];
    assert_eq!(orders.description, "One row per order");
    assert!(orders.config.contract_enforced());
    assert_eq!(orders.materialized(), "table");
    assert_eq!(orders.patch_path.as_deref(), Some("models/schema.yml"));
    assert_eq!(orders.columns[0].data_type.as_deref(), Some("integer"));
    assert_eq!(orders.columns.len(), 3);

    // Tests depend on the model they test and on models their arguments ref.
    let g = p.graph().unwrap();
    let rel = g.node(&rel.unique_id).unwrap();
    assert_eq!(
        rel.depends_on,
        ["model.jaffle_shop.customers", "model.jaffle_shop.orders"]
    );
    assert_eq!(
        rel.test.as_ref().unwrap().attached_node.as_deref(),
        Some("model.jaffle_shop.orders")
    );
    assert_eq!(g.tests_of("model.jaffle_shop.orders").len(), 8);
}

#[test]
fn generic_test_hashes_match_dbt_core() {
    // Unique ids computed with dbt-core's algorithm in Python
    // (`md5(name + repr(get_hashable_md(test_metadata)))[-10:]`).
    let p = load(&[
        ("dbt_project.yml", "name: jaffle_shop\n"),
        ("models/orders.sql", "select 1"),
        (
            "models/schema.yml",
            "models:\n  - name: orders\n    columns:\n      - name: status\n        data_tests:\n          - accepted_values: {values: [placed, shipped]}\n",
        ),
        (
            "models/sources.yml",
            "sources:\n  - name: raw\n    tables:\n      - name: green_trips\n        columns:\n          - name: vendor_id\n            tests: [not_null]\n",
        ),
    ]);
    let mut ids = tests_named(&p);
    ids.sort();
    assert_eq!(
        ids,
        [
            "test.jaffle_shop.accepted_values_orders_status__placed__shipped.7de09bf3cd",
            "test.jaffle_shop.source_not_null_raw_green_trips_vendor_id.304388cd17",
        ]
    );
}

#[test]
fn long_test_names_are_shortened_with_a_hash_and_aliased() {
    let p = load(&[
        ("dbt_project.yml", PROJECT),
        ("models/fact_trips_by_pickup_zone.sql", "select 1"),
        (
            "models/schema.yml",
            "models:\n  - name: fact_trips_by_pickup_zone\n    columns:\n      - name: payment_type_description\n        data_tests:\n          - accepted_values:\n              values: [credit_card, cash, no_charge, dispute, unknown]\n",
        ),
    ]);
    let test = p
        .nodes
        .values()
        .find(|n| n.resource_type == ResourceType::Test)
        .unwrap();
    // dbt-core keeps the full name as the node's name and in its unique id (checked against
    // dbt-core 1.11's manifest); the file path and the alias take the shortened name.
    let full = "accepted_values_fact_trips_by_pickup_zone_payment_type_description__credit_card__cash__no_charge__dispute__unknown";
    assert_eq!(test.name, full);
    assert!(
        test.unique_id
            .starts_with(&format!("test.{}.{full}.", test.package_name)),
        "{}",
        test.unique_id
    );
    let alias = test.config.alias().expect("an alias");
    assert!(
        alias.starts_with("accepted_values_fact_trips_by_"),
        "{alias}"
    );
    assert_eq!(alias.len(), 30 + 1 + 32);
    assert_eq!(test.path, format!("{alias}.sql"));
    assert_eq!(test.fqn[1], full);
}

#[test]
fn malformed_tests_are_located() {
    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        ("models/m.sql", "select 1"),
        (
            "models/schema.yml",
            "models:\n  - name: m\n    data_tests:\n      - unique: {}\n        not_null: {}\n      - accepted_values: [a]\n      - bad-name\n      - unique:\n          model: x\n",
        ),
    ]);
    let lines: Vec<String> =
        e.0.iter()
            .map(|d| format!("{}: {}", d.location, d.message))
            .collect();
    assert_eq!(
        lines,
        [
            "models/schema.yml:4:9: a test should be a name or a map with one key, the test's name",
            "models/schema.yml:6:26: the arguments of test `accepted_values` should be a map, found a list",
            "models/schema.yml:7:9: `bad-name` is not a test name (`name` or `package.name`)",
            "models/schema.yml:8:9: test `unique` has an argument named `model`, which dbt sets itself",
        ]
    );
}

#[test]
fn sources_defaults_and_freshness() {
    let p = load(&[
        (
            "dbt_project.yml",
            "name: taxi\nsources:\n  taxi:\n    +tags: [raw]\n",
        ),
        (
            "models/staging/sources.yml",
            r#"version: 2
sources:
  - name: raw
    loaded_at_field: _loaded_at
    freshness:
      warn_after: {count: 12, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: green_trips
        columns:
          - name: vendor_id
            data_tests: [not_null]
      - name: yellow_trips
        identifier: yellow_tripdata
        loaded_at_field: tpep_dropoff_datetime
        freshness:
          warn_after: {count: 2, period: day}
      - name: zones
        freshness: null
  - name: other
    database: lake
    schema: public
    tables:
      - name: t
"#,
        ),
    ]);
    let green = &p.nodes["source.taxi.raw.green_trips"];
    let s = green.source.as_ref().unwrap();
    assert_eq!(green.fqn, ["taxi", "staging", "raw", "green_trips"]);
    assert_eq!(green.tags, ["raw"]);
    assert_eq!(s.schema, "raw");
    assert_eq!(s.database, None);
    assert_eq!(s.identifier, "green_trips");
    assert_eq!(s.loaded_at_field.as_deref(), Some("_loaded_at"));
    let f = s.freshness.as_ref().unwrap();
    assert_eq!(
        f.warn_after,
        Some(FreshnessThreshold {
            count: 12,
            period: "hour".into()
        })
    );
    assert_eq!(
        f.error_after,
        Some(FreshnessThreshold {
            count: 1,
            period: "day".into()
        })
    );
    let yellow = p.nodes["source.taxi.raw.yellow_trips"]
        .source
        .clone()
        .unwrap();
    assert_eq!(yellow.identifier, "yellow_tripdata");
    assert_eq!(
        yellow.loaded_at_field.as_deref(),
        Some("tpep_dropoff_datetime")
    );
    let f = yellow.freshness.unwrap();
    assert_eq!(
        f.warn_after,
        Some(FreshnessThreshold {
            count: 2,
            period: "day".into()
        })
    );
    assert_eq!(f.error_after, None);
    assert_eq!(
        p.nodes["source.taxi.raw.zones"]
            .source
            .as_ref()
            .unwrap()
            .freshness,
        None
    );
    let other = p.nodes["source.taxi.other.t"].source.clone().unwrap();
    assert_eq!(
        (other.database.as_deref(), other.schema.as_str()),
        (Some("lake"), "public")
    );
    let test = p
        .nodes
        .values()
        .find(|n| n.resource_type == ResourceType::Test)
        .unwrap();
    assert_eq!(test.name, "source_not_null_raw_green_trips_vendor_id");
    let g = p.graph().unwrap();
    assert_eq!(g.parents(&test.unique_id), ["source.taxi.raw.green_trips"]);

    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        (
            "models/s.yml",
            "sources:\n  - name: raw\n    freshness:\n      warn_after: {count: 1, period: week}\n    tables: [{name: t}, {name: t}]\n",
        ),
    ]);
    assert!(
        e.mentions("`warn_after` needs a whole `count` and a `period`"),
        "{e}"
    );
    assert!(e.mentions("source table `raw.t` is defined twice"), "{e}");
}

#[test]
fn seeds_and_snapshots_properties() {
    let p = load(&[
        (
            "dbt_project.yml",
            "name: taxi\nseeds:\n  taxi:\n    +column_types: {LocationID: integer}\n    +schema: lookups\n",
        ),
        (
            "seeds/taxi_zones.csv",
            "LocationID,Borough,Zone\n1,EWR,Newark Airport\n",
        ),
        ("models/trips.sql", "select 1 as id, now() as updated_at"),
        (
            "seeds/properties.yml",
            "seeds:\n  - name: taxi_zones\n    config:\n      column_types: {Borough: varchar}\n    columns:\n      - name: LocationID\n        data_tests: [unique]\n",
        ),
        (
            "snapshots/snapshots.yml",
            "snapshots:\n  - name: trips_snapshot\n    relation: ref('trips')\n    config:\n      strategy: timestamp\n      unique_key: id\n      updated_at: updated_at\n",
        ),
    ]);
    let seed = &p.nodes["seed.taxi.taxi_zones"];
    assert_eq!(seed.config.schema(), Some("lookups"));
    let types = seed.config.column_types();
    assert_eq!(types.get("Borough").map(String::as_str), Some("varchar"));
    // `column_types` is replaced as a whole, as dbt does for every config but a few.
    assert_eq!(types.get("LocationID"), None);
    assert!(
        p.nodes
            .keys()
            .any(|k| k.starts_with("test.taxi.unique_taxi_zones_LocationID."))
    );
    let snap = &p.nodes["snapshot.taxi.trips_snapshot"];
    assert_eq!(snap.config.get("strategy"), Some(&json!("timestamp")));
    assert_eq!(snap.raw_code, "select * from {{ ref('trips') }}");
    let g = p.graph().unwrap();
    assert_eq!(
        g.parents("snapshot.taxi.trips_snapshot"),
        ["model.taxi.trips"]
    );
}

#[test]
fn properties_mistakes() {
    let list = [
        ("dbt_project.yml", PROJECT),
        ("models/m.sql", "select 1"),
        ("models/a.yml", "models:\n  - name: m\n  - name: ghost\n"),
        ("models/b.yml", "models:\n  - name: m\n"),
    ];
    let e = load_err(&list);
    assert_eq!(
        e.0[0].to_string(),
        "models/b.yml:2:5: model `m` is described twice: in `models/a.yml` and `models/b.yml`"
    );
    let p = load(&list[..3]);
    assert_eq!(
        p.warnings[0].to_string(),
        "models/a.yml:3:5: `ghost` is described here but there is no model of that name"
    );
    let e = load_err(&[
        ("dbt_project.yml", PROJECT),
        ("models/a.yml", "models:\n  - name: [x\n"),
    ]);
    assert_eq!(e.0[0].location.file, "models/a.yml");
}

#[test]
fn graph_order_parents_children() {
    let g = graph(&[
        ("dbt_project.yml", PROJECT),
        (
            "models/c.sql",
            "select * from {{ ref('b') }} join {{ ref('a') }}",
        ),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/a.sql", "select * from {{ source('raw', 't') }}"),
        (
            "models/s.yml",
            "sources: [{name: raw, tables: [{name: t}]}]",
        ),
    ]);
    assert_eq!(
        g.order(),
        [
            "source.taxi.raw.t",
            "model.taxi.a",
            "model.taxi.b",
            "model.taxi.c"
        ]
    );
    assert_eq!(g.parents("model.taxi.c"), ["model.taxi.a", "model.taxi.b"]);
    assert_eq!(g.children("model.taxi.a"), ["model.taxi.b", "model.taxi.c"]);
    assert_eq!(
        g.descendants("source.taxi.raw.t", Some(1))
            .into_iter()
            .collect::<Vec<_>>(),
        ["model.taxi.a"]
    );
    assert_eq!(g.ancestors("model.taxi.c", None).len(), 3);
}

#[test]
fn cycles_and_unknown_refs_are_errors() {
    let e = graph_err(&[
        ("dbt_project.yml", PROJECT),
        ("models/a.sql", "select * from {{ ref('c') }}"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select * from {{ ref('b') }}"),
        ("models/d.sql", "select * from {{ ref('c') }}"),
    ]);
    assert_eq!(
        e.0[0].message,
        "found a cycle: model.taxi.a --> model.taxi.b --> model.taxi.c --> model.taxi.a"
    );
    let e = graph_err(&[
        ("dbt_project.yml", PROJECT),
        (
            "models/a.sql",
            "select 1\nfrom {{ ref('missing') }}\njoin {{ source('raw', 'nope') }}\njoin {{ ref('other_pkg', 'a') }}",
        ),
    ]);
    let lines: Vec<String> = e.0.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "models/a.sql:2:9: `model.taxi.a` depends on a node named `missing`, which was not found",
            "models/a.sql:4:9: `model.taxi.a` depends on a node named `other_pkg.a`, which was not found",
            "models/a.sql:3:9: `model.taxi.a` depends on the source `raw.nope`, which was not found\n  hint: sources are declared under `sources:` in a properties file",
        ]
    );
    // A model that refs itself (dbt allows it in incremental models' `{{ this }}` idiom only
    // through `this`) does not make a cycle of one.
    let g = graph(&[
        ("dbt_project.yml", PROJECT),
        ("models/a.sql", "{{ ref('a') }}"),
    ]);
    assert!(g.parents("model.taxi.a").is_empty());
}

#[test]
fn refs_with_package_and_version() {
    let g = graph(&[
        ("dbt_project.yml", PROJECT),
        ("models/a.sql", "select 1"),
        (
            "models/b.sql",
            "select * from {{ ref('taxi', 'a') }} union all select * from {{ ref('a', v=2) }}",
        ),
    ]);
    assert_eq!(g.parents("model.taxi.b"), ["model.taxi.a"]);
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

const PROFILES: &str = r#"
taxi:
  target: "{{ env_var('DBT_TARGET', 'dev') }}"
  outputs:
    dev:
      type: duckdb
      path: "{{ env_var('WAREHOUSE_DIR', '/tmp') }}/taxi.duckdb"
      schema: analytics
      threads: 4
      attach:
        - path: /data/lookups.duckdb
          alias: lookups
          read_only: true
    pg:
      type: postgres
      host: "{{ env_var('PGHOST') }}"
      port: "{{ env_var('PGPORT', '5433') | int }}"
      user: weir
      pass: secret
      database: warehouse
      schema: public
      threads: 2
    rs:
      type: redshift
      host: example.redshift.amazonaws.com
      user: weir
      password: "{{ env_var('RS_PASSWORD') }}"
      dbname: dw
      schema: analytics
      sslmode: require
    mem:
      type: duckdb
    snow:
      type: snowflake
config:
  send_anonymous_usage_stats: false
"#;

#[test]
fn profiles_duckdb_with_env_defaults() {
    let t = Target::from_profiles(PROFILES, "profiles.yml", "taxi", None, &env(&[])).unwrap();
    assert_eq!((t.name.as_str(), t.threads), ("dev", 4));
    let Adapter::DuckDb(d) = &t.adapter else {
        panic!("{t:?}")
    };
    assert_eq!(d.path, "/tmp/taxi.duckdb");
    assert_eq!(d.database, "taxi");
    assert_eq!(d.schema, "analytics");
    assert_eq!(
        d.attach,
        [DuckDbAttach {
            path: "/data/lookups.duckdb".into(),
            alias: Some("lookups".into()),
            read_only: true,
            kind: None
        }]
    );
    let t = Target::from_profiles(
        PROFILES,
        "profiles.yml",
        "taxi",
        Some("mem"),
        &env(&[("WAREHOUSE_DIR", "/w")]),
    )
    .unwrap();
    let Adapter::DuckDb(d) = &t.adapter else {
        panic!("{t:?}")
    };
    assert_eq!(
        (d.path.as_str(), d.database.as_str(), d.schema.as_str()),
        (":memory:", "memory", "main")
    );
    assert_eq!(t.threads, 1);
    assert_eq!(t.adapter.type_name(), "duckdb");
}

#[test]
fn profiles_postgres_and_redshift() {
    let t = Target::from_profiles(
        PROFILES,
        "profiles.yml",
        "taxi",
        None,
        &env(&[("DBT_TARGET", "pg"), ("PGHOST", "db.local")]),
    )
    .unwrap();
    assert_eq!(t.name, "pg");
    let Adapter::Postgres(pg) = &t.adapter else {
        panic!("{t:?}")
    };
    assert_eq!(pg.host, "db.local");
    assert_eq!(pg.port, 5433);
    assert_eq!(pg.password.as_deref(), Some("secret"));
    assert_eq!(pg.dbname, "warehouse");
    assert_eq!(t.adapter.schema(), "public");
    assert_eq!(t.adapter.database(), "warehouse");
    let t = Target::from_profiles(
        PROFILES,
        "profiles.yml",
        "taxi",
        Some("rs"),
        &env(&[("RS_PASSWORD", "pw")]),
    )
    .unwrap();
    let Adapter::Redshift(rs) = &t.adapter else {
        panic!("{t:?}")
    };
    assert_eq!(
        (rs.port, rs.password.as_deref(), rs.sslmode.as_deref()),
        (5439, Some("pw"), Some("require"))
    );
}

#[test]
fn profiles_errors() {
    let err = |profile: &str, target: Option<&str>| {
        Target::from_profiles(PROFILES, "profiles.yml", profile, target, &env(&[]))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err("taxi", Some("pg")),
        "profiles.yml:16:13: the environment variable `PGHOST` is not set\n  hint: set `PGHOST`, or give a default: `env_var('PGHOST', '…')`"
    );
    assert!(err("taxi", Some("snow")).contains("the adapter type `snowflake` is not supported"));
    assert!(err("taxi", Some("nope")).contains("profile `taxi` has no output named `nope`"));
    assert!(err("other", None).contains("no profile named `other`"));
    assert!(err("other", None).contains("the profiles here: taxi"));
    let bad = "p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: \"{{ var('h') }}\"\n";
    let e = Target::from_profiles(bad, "profiles.yml", "p", None, &env(&[])).unwrap_err();
    assert!(e.mentions("`{{ var('h') }}` is not supported here"), "{e}");
    let missing = "p:\n  target: dev\n  outputs:\n    dev: {type: postgres, host: h, user: u}\n";
    let e = Target::from_profiles(missing, "profiles.yml", "p", None, &env(&[])).unwrap_err();
    assert!(e.mentions("output `dev` (postgres) needs `dbname`"), "{e}");
}

/// The article's transformations: staging views over green and yellow trips, their union, a
/// zone dimension from a seed, a fact table and a monthly mart, with tests.
#[test]
fn nyc_taxi_project() {
    let project = r#"
name: 'taxi_rides_ny'
version: '1.0.0'
config-version: 2
profile: 'taxi'
model-paths: ["models"]
seed-paths: ["seeds"]
test-paths: ["tests"]
macro-paths: ["macros"]
vars:
  payment_type_values: [1, 2, 3, 4, 5, 6]
  is_test_run: true
models:
  taxi_rides_ny:
    staging:
      +materialized: view
      +tags: [staging]
    core:
      +materialized: table
    marts:
      +materialized: table
      +schema: marts
seeds:
  taxi_rides_ny:
    taxi_zone_lookup:
      +column_types:
        locationid: integer
"#;
    let staging_yml = r#"
version: 2
sources:
  - name: staging
    database: taxi
    schema: public
    tables:
      - name: green_tripdata
      - name: yellow_tripdata
models:
  - name: stg_green_tripdata
    columns:
      - name: tripid
        data_tests:
          - unique:
              config:
                severity: warn
          - not_null:
              config:
                severity: warn
      - name: pickup_locationid
        data_tests:
          - relationships:
              arguments:
                to: ref('taxi_zone_lookup')
                field: locationid
              config:
                severity: warn
      - name: payment_type
        data_tests:
          - accepted_values:
              arguments:
                values: "{{ var('payment_type_values') }}"
              config:
                severity: warn
                quote: false
  - name: stg_yellow_tripdata
    columns:
      - name: tripid
        data_tests: [unique, not_null]
"#;
    let core_yml = r#"
version: 2
models:
  - name: dim_zones
    description: List of unique zones identified by locationid.
  - name: fact_trips
    config:
      contract: {enforced: true}
    columns:
      - name: tripid
        data_type: varchar
        data_tests: [unique, not_null]
      - name: service_type
        data_type: varchar
"#;
    let stg = |color: &str| {
        format!(
            "{{{{ config(materialized='view') }}}}\nwith tripdata as (\n  select * from {{{{ source('staging', '{color}_tripdata') }}}}\n  where vendorid is not null\n)\nselect\n  {{{{ dbt_utils.generate_surrogate_key(['vendorid', 'pickup_datetime']) }}}} as tripid,\n  *\nfrom tripdata\n{{% if var('is_test_run', default=true) %}}\n  limit 100\n{{% endif %}}\n"
        )
    };
    let p = load(&[
        ("dbt_project.yml", project),
        (
            "packages.yml",
            "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n",
        ),
        ("models/staging/schema.yml", staging_yml),
        ("models/staging/stg_green_tripdata.sql", &stg("green")),
        ("models/staging/stg_yellow_tripdata.sql", &stg("yellow")),
        (
            "models/core/trips_unioned.sql",
            "with green as (select *, 'Green' as service_type from {{ ref('stg_green_tripdata') }}),\nyellow as (select *, 'Yellow' as service_type from {{ ref('stg_yellow_tripdata') }})\nselect * from green union all select * from yellow\n",
        ),
        (
            "models/core/dim_zones.sql",
            "select locationid, borough, zone, replace(service_zone, 'Boro', 'Green') as service_zone\nfrom {{ ref('taxi_zone_lookup') }}\n",
        ),
        (
            "models/core/fact_trips.sql",
            "{{ config(materialized='incremental', unique_key='tripid') }}\nselect t.*, pz.zone as pickup_zone, dz.zone as dropoff_zone\nfrom {{ ref('trips_unioned') }} t\njoin {{ ref('dim_zones') }} pz on t.pickup_locationid = pz.locationid\njoin {{ ref('dim_zones') }} dz on t.dropoff_locationid = dz.locationid\n{% if is_incremental() %} where pickup_datetime > (select max(pickup_datetime) from {{ this }}) {% endif %}\n",
        ),
        ("models/core/schema.yml", core_yml),
        (
            "models/marts/dm_monthly_zone_revenue.sql",
            "select pickup_zone as revenue_zone, {{ dbt.date_trunc('month', 'pickup_datetime') }} as revenue_month, service_type, sum(total_amount) as revenue_monthly_total_amount\nfrom {{ ref('fact_trips') }}\ngroup by 1, 2, 3\n",
        ),
        (
            "seeds/taxi_zone_lookup.csv",
            "locationid,borough,zone,service_zone\n1,EWR,Newark Airport,EWR\n",
        ),
        (
            "tests/assert_total_amount_positive.sql",
            "select * from {{ ref('fact_trips') }} where total_amount < 0",
        ),
        (
            "macros/get_payment_type_description.sql",
            "{% macro get_payment_type_description(payment_type) %}case {{ payment_type }} when 1 then 'Credit card' end{% endmacro %}",
        ),
    ]);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.config.name, "taxi_rides_ny");
    assert_eq!(
        p.config.vars.0["payment_type_values"],
        json!([1, 2, 3, 4, 5, 6])
    );
    assert_eq!(p.macro_files, ["macros/get_payment_type_description.sql"]);
    let stg = &p.nodes["model.taxi_rides_ny.stg_green_tripdata"];
    assert_eq!(stg.materialized(), "view");
    assert_eq!(stg.tags, ["staging"]);
    assert_eq!(stg.sources[0].line, 3);
    let mart = &p.nodes["model.taxi_rides_ny.dm_monthly_zone_revenue"];
    assert_eq!(
        (mart.materialized(), mart.config.schema()),
        ("table", Some("marts"))
    );
    assert!(
        p.nodes["model.taxi_rides_ny.fact_trips"]
            .config
            .contract_enforced()
    );
    assert_eq!(
        p.nodes["seed.taxi_rides_ny.taxi_zone_lookup"]
            .config
            .column_types()["locationid"],
        "integer"
    );

    let g = p.graph().unwrap();
    let models: Vec<&str> = g
        .order()
        .iter()
        .filter(|id| !id.starts_with("test."))
        .map(String::as_str)
        .collect();
    assert_eq!(
        models,
        [
            "seed.taxi_rides_ny.taxi_zone_lookup",
            "model.taxi_rides_ny.dim_zones",
            "source.taxi_rides_ny.staging.green_tripdata",
            "model.taxi_rides_ny.stg_green_tripdata",
            "source.taxi_rides_ny.staging.yellow_tripdata",
            "model.taxi_rides_ny.stg_yellow_tripdata",
            "model.taxi_rides_ny.trips_unioned",
            "model.taxi_rides_ny.fact_trips",
            "model.taxi_rides_ny.dm_monthly_zone_revenue",
        ]
    );
    assert_eq!(
        g.parents("model.taxi_rides_ny.fact_trips"),
        [
            "model.taxi_rides_ny.dim_zones",
            "model.taxi_rides_ny.trips_unioned"
        ]
    );
    let tests: Vec<&str> = g
        .nodes()
        .values()
        .filter(|n| n.resource_type == ResourceType::Test)
        // The compiled file's name: the test's name, or when that reaches 64 characters its
        // first 30 and the md5 of the whole (checked in Python).
        .map(|n| n.path.trim_end_matches(".sql"))
        .collect();
    assert_eq!(
        tests,
        [
            "accepted_values_stg_green_trip_169c1e4d9d858a90d083168e8e777454",
            "assert_total_amount_positive",
            "not_null_fact_trips_tripid",
            "not_null_stg_green_tripdata_tripid",
            "not_null_stg_yellow_tripdata_tripid",
            "relationships_stg_green_tripda_7b899c30014bafa8527fb2f5e7b8b24b",
            "unique_fact_trips_tripid",
            "unique_stg_green_tripdata_tripid",
            "unique_stg_yellow_tripdata_tripid",
        ]
    );
    // Every test comes after what it tests.
    let position = |id: &str| g.order().iter().position(|o| o == id).unwrap();
    for id in g.order() {
        for parent in g.parents(id) {
            assert!(position(parent) < position(id), "{parent} after {id}");
        }
    }
}
