//! The built-in generic tests' SQL, the wrapper and the status rules.

use super::*;
use crate::project::{Project, ProjectFiles};
use serde_json::json;

const SCHEMA: &str = r#"
version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests:
          - unique
          - not_null:
              config:
                where: "amount > 0"
                store_failures: true
      - name: status
        data_tests:
          - accepted_values:
              values: ['placed', "o'neil"]
          - accepted_values:
              name: status_numbers
              values: [1, 2]
              quote: false
      - name: customer_id
        data_tests:
          - relationships:
              to: ref('customers')
              field: id
              config:
                where: "status <> 'returned'"
      - name: Zone
        quote: true
        data_tests:
          - not_null
    data_tests:
      - dbt_utils.expression_is_true:
          expression: "amount >= 0"
  - name: customers
sources:
  - name: raw
    tables:
      - name: zones
        columns:
          - name: zone_id
            data_tests: [unique]
"#;

fn graph() -> Graph {
    let files: ProjectFiles = [
        ("dbt_project.yml", "name: shop\nprofile: shop\n"),
        ("models/orders.sql", "select 1 as id"),
        ("models/customers.sql", "select 1 as id"),
        ("models/schema.yml", SCHEMA),
    ]
    .into_iter()
    .collect();
    Project::load(&files).unwrap().graph().unwrap()
}

fn relation_of(id: &str) -> Option<String> {
    let name = id.rsplit('.').next()?;
    let schema = if id.starts_with("source.") {
        "raw"
    } else {
        "main"
    };
    Some(format!("\"db\".\"{schema}\".\"{name}\""))
}

/// The test node whose unique id starts with `prefix`.
fn test_node<'g>(g: &'g Graph, prefix: &str) -> &'g Node {
    let found: Vec<&Node> = g
        .nodes()
        .values()
        .filter(|n| n.unique_id.starts_with(prefix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{prefix}: {:?}",
        g.nodes().keys().collect::<Vec<_>>()
    );
    found[0]
}

/// The SQL on both adapters, which must agree.
fn sql(prefix: &str) -> String {
    let g = graph();
    let node = test_node(&g, prefix);
    let duck = generic_test_sql(node, &g, &relation_of, "duckdb").unwrap();
    let pg = generic_test_sql(node, &g, &relation_of, "postgres").unwrap();
    assert_eq!(duck, pg);
    duck
}

#[test]
fn unique() {
    assert_eq!(
        sql("test.shop.unique_orders_id."),
        "select\n    id as unique_field,\n    count(*) as n_records\n\
         from \"db\".\"main\".\"orders\"\nwhere id is not null\ngroup by id\nhaving count(*) > 1\n"
    );
}

#[test]
fn unique_on_a_source() {
    assert_eq!(
        sql("test.shop.source_unique_raw_zones_zone_id."),
        "select\n    zone_id as unique_field,\n    count(*) as n_records\n\
         from \"db\".\"raw\".\"zones\"\nwhere zone_id is not null\ngroup by zone_id\n\
         having count(*) > 1\n"
    );
}

#[test]
fn not_null_with_where_and_stored_failures() {
    assert_eq!(
        sql("test.shop.not_null_orders_id."),
        "select *\nfrom (select * from \"db\".\"main\".\"orders\" where amount > 0) dbt_subquery\n\
         where id is null\n"
    );
}

#[test]
fn not_null_on_a_quoted_column() {
    assert_eq!(
        sql("test.shop.not_null_orders_Zone."),
        "select \"Zone\"\nfrom \"db\".\"main\".\"orders\"\nwhere \"Zone\" is null\n"
    );
}

#[test]
fn accepted_values_quoted_and_escaped() {
    assert_eq!(
        sql("test.shop.accepted_values_orders_status__placed__o_neil."),
        "with all_values as (\n    select\n        status as value_field,\n        \
         count(*) as n_records\n    from \"db\".\"main\".\"orders\"\n    group by status\n)\n\
         select *\nfrom all_values\nwhere value_field not in ('placed', 'o''neil')\n"
    );
}

#[test]
fn accepted_values_unquoted() {
    assert!(
        sql("test.shop.status_numbers.").ends_with("where value_field not in (1, 2)\n"),
        "{}",
        sql("test.shop.status_numbers.")
    );
}

#[test]
fn relationships_filter_the_child_only() {
    assert_eq!(
        sql("test.shop.relationships_orders_customer_id__id__ref_customers_."),
        "with child as (\n    select customer_id as from_field\n    \
         from (select * from \"db\".\"main\".\"orders\" where status <> 'returned') dbt_subquery\n    \
         where customer_id is not null\n),\nparent as (\n    select id as to_field\n    \
         from \"db\".\"main\".\"customers\"\n)\nselect from_field\nfrom child\nleft join parent\n    \
         on child.from_field = parent.to_field\nwhere parent.to_field is null\n"
    );
}

#[test]
fn package_tests_are_unsupported_by_name() {
    let g = graph();
    let node = test_node(&g, "test.shop.dbt_utils_expression_is_true_orders_");
    assert_eq!(
        generic_test_sql(node, &g, &relation_of, "duckdb"),
        Err(TestSqlError::Unsupported(
            "dbt_utils.expression_is_true".into()
        ))
    );
}

#[test]
fn unique_with_its_keys_collected_first() {
    let g = graph();
    let node = test_node(&g, "test.shop.unique_orders_id.");
    assert_eq!(
        unique_test_sql_collected(node, &g, &relation_of).unwrap(),
        Some(
            "with dbt_weir_unique_input as materialized (\n    select id as unique_field\n    \
             from \"db\".\"main\".\"orders\"\n    where id is not null\n)\nselect\n    \
             unique_field,\n    count(*) as n_records\nfrom dbt_weir_unique_input\n\
             group by unique_field\nhaving count(*) > 1\n"
                .into()
        )
    );
    // Only `unique` has another form.
    let node = test_node(&g, "test.shop.accepted_values_orders_status");
    assert_eq!(unique_test_sql_collected(node, &g, &relation_of), Ok(None));
}

#[test]
fn unknown_relations_are_errors() {
    let g = graph();
    let node = test_node(&g, "test.shop.unique_orders_id.");
    let err = generic_test_sql(node, &g, &|_| None, "duckdb").unwrap_err();
    assert!(matches!(err, TestSqlError::UnknownRelation { .. }), "{err}");
}

fn config(v: serde_json::Value) -> Config {
    Config(v.as_object().unwrap().clone())
}

#[test]
fn wrapper_defaults() {
    assert_eq!(
        wrap_test_sql("select 1\n", &Config::default()),
        "select\n  count(*) as failures,\n  count(*) != 0 as should_warn,\n  \
         count(*) != 0 as should_error\nfrom (\nselect 1\n) dbt_internal_test"
    );
}

#[test]
fn wrapper_with_thresholds_limit_and_fail_calc() {
    let c = config(json!({
        "warn_if": ">10", "error_if": "> 100", "limit": 5, "fail_calc": "sum(n_records)"
    }));
    assert_eq!(
        wrap_test_sql("select 1;", &c),
        "select\n  sum(n_records) as failures,\n  sum(n_records) >10 as should_warn,\n  \
         sum(n_records) > 100 as should_error\nfrom (\nselect 1\n  limit 5\n) dbt_internal_test"
    );
}

#[test]
fn status_follows_severity() {
    let error = Config::default();
    assert_eq!(test_status(&error, false, false), TestStatus::Pass);
    assert_eq!(test_status(&error, true, true), TestStatus::Fail);
    // error_if not met, warn_if met: a warning.
    assert_eq!(test_status(&error, true, false), TestStatus::Warn);
    let warn = config(json!({"severity": "WARN"}));
    assert_eq!(test_status(&warn, true, true), TestStatus::Warn);
    assert_eq!(test_status(&warn, false, true), TestStatus::Pass);
    let lower = config(json!({"severity": "Error"}));
    assert_eq!(test_status(&lower, true, true), TestStatus::Fail);
}
