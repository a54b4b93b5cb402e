//! `weir dbt` with an installed package's macros run from their own source: a small local
//! package (written here) that uses the Jinja patterns dbt_utils and codegen use — lists and
//! dicts changed in place (`append`, `extend`, `pop`, `update`), `adapter.dispatch` with the
//! package's namespace and the project overriding one implementation, `return`, `run_query`,
//! `adapter.get_columns_in_relation`, a generic test defined in the package — plus a
//! materialization defined in the project and `weir dbt run-operation`.
//!
//! `dbt_utils_from_its_own_source` runs dbt_utils itself when `WEIR_DBT_UTILS_DIR` names a
//! checkout of it (there is no network in tests, so it is not vendored); without the variable
//! it prints that it skipped.

use crate::common::{Env, Out};
use serde_json::Value;

const PROFILES: &str = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: shop.duckdb\n      schema: main\n      threads: 1\n";

/// The package, installed as dbt deps leaves a package: `dbt_packages/mypkg/`.
const PACKAGE: &[(&str, &str)] = &[
    (
        "dbt_packages/mypkg/dbt_project.yml",
        "name: mypkg\nversion: 1.0.0\nconfig-version: 2\n",
    ),
    (
        "dbt_packages/mypkg/macros/cols.sql",
        r#"{% macro col_list(relation, except=[]) -%}
{{ return(adapter.dispatch('col_list', 'mypkg')(relation, except)) }}
{%- endmacro %}

{% macro default__col_list(relation, except) -%}
{%- set names = [] -%}
{%- set types = {} -%}
{%- for col in adapter.get_columns_in_relation(relation) -%}
  {%- if col.name | lower not in except -%}
    {%- do names.append(col.name) -%}
    {%- do types.update({col.name: col.data_type}) -%}
  {%- endif -%}
{%- endfor -%}
{%- do names.extend(['1 as one']) -%}
{%- set dropped = names.pop() -%}
{%- do log('columns: ' ~ names | join(',') ~ '; typed: ' ~ types | length ~ '; dropped: ' ~ dropped, info=true) -%}
{{ return(names) }}
{%- endmacro %}

{% macro greeting() -%}{{ return(adapter.dispatch('greeting', 'mypkg')()) }}{%- endmacro %}
{% macro default__greeting() -%}'hello from mypkg'{%- endmacro %}
{% macro shout() -%}{{ return(adapter.dispatch('shout', 'mypkg')()) }}{%- endmacro %}
{% macro default__shout() -%}'default'{%- endmacro %}
{% macro duckdb__shout() -%}'only duckdb'{%- endmacro %}

{% macro max_of(relation, column) -%}
{%- set result = run_query('select max(' ~ column ~ ') from ' ~ relation) -%}
{%- if execute -%}{{ return(result.columns[0].values()[0]) }}{%- endif -%}
{%- endmacro %}
"#,
    ),
    (
        "dbt_packages/mypkg/macros/tests.sql",
        "{% test all_above(model, column_name, floor=0) %}\n\
         select * from {{ model }} where {{ column_name }} <= {{ floor }}\n\
         {% endtest %}\n",
    ),
];

const PROJECT: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        "name: shop\nprofile: shop\nmodels:\n  shop:\n    +materialized: table\n",
    ),
    (
        "seeds/orders.csv",
        "id,name,amount\n1,ann,10\n2,bob,20\n3,cid,30\n",
    ),
    // The project's own implementation wins over the package's default.
    (
        "macros/override.sql",
        "{% macro duckdb__greeting() -%}'hello from shop'{%- endmacro %}\n",
    ),
    (
        "macros/audited.sql",
        r#"{% materialization audited_table, adapter='duckdb' %}
  {%- set existing = load_relation(this) -%}
  {%- if existing is not none -%}{% do adapter.drop_relation(existing) %}{%- endif -%}
  {% call statement('main') -%}
    create table {{ this }} as (select *, '{{ config.get('audit_tag', 'none') }}' as audit_tag from ({{ sql }}) as s)
  {%- endcall %}
  {{ return({'relations': [this]}) }}
{% endmaterialization %}

{% materialization audited_table, default %}
  {{ exceptions.raise_compiler_error('the default audited_table is not the one for duckdb') }}
{% endmaterialization %}
"#,
    ),
    (
        "macros/ops.sql",
        r#"{% macro show_cols(name, upper=false) %}
{%- set cols = mypkg.col_list(ref(name)) -%}
{%- set seen = {'n': 0} -%}
{%- for c in cols -%}{%- do seen.update({'n': seen['n'] + 1}) -%}{%- endfor -%}
{%- do log('found ' ~ seen['n'] ~ ' columns', info=True) -%}
{%- set text = cols | join(',') -%}
{%- do print(text | upper if upper else text) -%}
{% endmacro %}
{% macro broken() %}{{ exceptions.raise_compiler_error('this operation always fails') }}{% endmacro %}
"#,
    ),
    (
        "models/picked.sql",
        "{%- set cols = mypkg.col_list(ref('orders'), except=['amount']) -%}\n\
         select {{ cols | join(', ') }}, {{ mypkg.greeting() }} as greeting, \
         {{ mypkg.shout() }} as shout, {{ mypkg.max_of(ref('orders'), 'amount') }} as top\n\
         from {{ ref('orders') }}\n",
    ),
    (
        "models/audited.sql",
        "{{ config(materialized='audited_table', audit_tag='v1') }}\nselect id, name from {{ ref('orders') }}\n",
    ),
    (
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: picked\n    columns:\n      - name: top\n        data_tests:\n          - mypkg.all_above\n          - mypkg.all_above:\n              name: top_above_100\n              arguments:\n                floor: 100\n              config:\n                severity: warn\n",
    ),
];

fn project(extra: &[(&str, &str)]) -> Env {
    let env = Env::new();
    let files = PACKAGE.iter().chain(PROJECT).chain(extra);
    for (path, text) in files.chain(&[("profiles.yml", PROFILES)]) {
        let p = env.path().join("shop").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    env
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

fn compiled(env: &Env, model: &str) -> String {
    let file = env
        .path()
        .join(format!("shop/target/compiled/shop/models/{model}.sql"));
    std::fs::read_to_string(file).expect("compiled SQL")
}

#[test]
fn package_macros_run_from_their_source_with_dispatch_mutation_and_generic_tests() {
    let env = project(&[]);
    let o = dbt(&env, &["build"]);
    assert_eq!(o.code, 0, "{o:#?}");
    // Columns from the database, `amount` left out, the extended-then-popped item gone;
    // `greeting` is the project's duckdb__ version, `shout` the package's; `top` came from
    // run_query at compile time.
    assert_eq!(
        compiled(&env, "picked"),
        "select id, name, 'hello from shop' as greeting, 'only duckdb' as shout, 30 as top\n\
         from \"shop\".\"main\".\"orders\""
    );
    assert!(
        o.stdout.contains("PASS mypkg_all_above_picked_top"),
        "{o:#?}"
    );
    assert!(
        o.stdout.contains("WARN 1 top_above_100") || o.stdout.contains("WARN 3 top_above_100"),
        "{o:#?}"
    );
    let rows = query(&env, "select id, name, audit_tag from audited order by id");
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["audit_tag"], "v1", "{rows:?}");
    assert!(
        o.stdout
            .contains("OK created sql audited_table model main.audited"),
        "{o:#?}"
    );
    // The materialization finds its own relation on the second run and replaces it.
    let o = dbt(&env, &["run", "-s", "audited"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(query(&env, "select count(*) as n from audited")[0]["n"], 3);
    let run = std::fs::read_to_string(env.path().join("shop/target/run/shop/models/audited.sql"))
        .expect("run SQL");
    assert!(
        run.starts_with(
            "create table \"shop\".\"main\".\"audited\" as (select *, 'v1' as audit_tag"
        ),
        "{run}"
    );
}

#[test]
fn run_operation_prints_what_the_macro_logs_and_prints() {
    let env = project(&[]);
    assert_eq!(dbt(&env, &["seed"]).code, 0);
    let o = dbt(
        &env,
        &[
            "run-operation",
            "show_cols",
            "--args",
            "{name: orders, upper: true}",
        ],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(
        lines.iter().any(|l| l.ends_with("  found 3 columns")),
        "{o:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("  columns: id,name,amount; typed: 3; dropped: 1 as one")),
        "{o:#?}"
    );
    // `print` output is raw, without the time.
    assert_eq!(lines.last(), Some(&"ID,NAME,AMOUNT"), "{o:#?}");

    let o = dbt(&env, &["run-operation", "broken"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stdout
            .contains("Encountered an error while running operation")
            && o.stdout
                .contains("macros/ops.sql:9:1: this operation always fails"),
        "{o:#?}"
    );
    let o = dbt(&env, &["run-operation", "nope"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(o.stdout.contains("no macro named `nope`"), "{o:#?}");
    let o = dbt(&env, &["run-operation", "show_cols", "--args", "[1, 2]"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(o.stderr.contains("`--args` should be a map"), "{o:#?}");
}

/// dbt_utils 1.x from its own source, when `WEIR_DBT_UTILS_DIR` names a checkout of it:
/// `generate_surrogate_key`, `star`, `safe_divide`, `pivot` over `get_column_values`,
/// `group_by`, `deduplicate`, `date_spine`, and the generic tests `unique_combination_of_columns`,
/// `expression_is_true`, `accepted_range`, `not_null_proportion`, `relationships_where`; the
/// rows are the ones dbt-core 1.11 with dbt-duckdb builds from the same project. Without the
/// variable the test prints that it skipped and passes.
#[test]
#[expect(
    clippy::print_stderr,
    reason = "a skipped run says so in the test's output"
)]
fn dbt_utils_from_its_own_source() {
    let Some(dir) = std::env::var_os("WEIR_DBT_UTILS_DIR") else {
        eprintln!("skipped: set WEIR_DBT_UTILS_DIR to a dbt_utils 1.x checkout to run this test");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let env = Env::new();
    let files: &[(&str, String)] = &[
        (
            "dbt_project.yml",
            "name: shop\nprofile: shop\nmodels:\n  shop:\n    +materialized: table\n".into(),
        ),
        ("profiles.yml", PROFILES.into()),
        (
            "packages.yml",
            format!("packages:\n  - local: {}\n", dir.display()),
        ),
        (
            "seeds/orders.csv",
            "id,customer,color,amount,paid\n1,ann,red,10,5\n2,ann,blue,20,0\n3,bob,red,30,\n3,bob,red,30,\n4,cid,green,0,1\n".into(),
        ),
        (
            "models/keys.sql",
            "select {{ dbt_utils.generate_surrogate_key(['id', 'customer']) }} as sk, \
             {{ dbt_utils.star(ref('orders'), except=['paid']) }}, \
             {{ dbt_utils.safe_divide('amount', 'paid') }} as ratio\nfrom {{ ref('orders') }}\n"
                .into(),
        ),
        (
            "models/pivoted.sql",
            "select customer, {{ dbt_utils.pivot('color', dbt_utils.get_column_values(ref('orders'), 'color', order_by='color')) }}\n\
             from {{ ref('orders') }}\n{{ dbt_utils.group_by(1) }}\n"
                .into(),
        ),
        (
            "models/deduped.sql",
            "{{ dbt_utils.deduplicate(relation=ref('orders'), partition_by='id', order_by='amount desc') }}\n".into(),
        ),
        (
            "models/spine.sql",
            "{{ dbt_utils.date_spine(datepart=\"day\", start_date=\"cast('2024-01-01' as date)\", end_date=\"cast('2024-01-10' as date)\") }}\n".into(),
        ),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: deduped\n    data_tests:\n      - dbt_utils.unique_combination_of_columns:\n          arguments:\n            combination_of_columns: [id, customer]\n      - dbt_utils.expression_is_true:\n          arguments:\n            expression: \"amount >= 0\"\n    columns:\n      - name: amount\n        data_tests:\n          - dbt_utils.accepted_range:\n              arguments:\n                min_value: 0\n                max_value: 100\n          - dbt_utils.not_null_proportion:\n              arguments:\n                at_least: 0.9\n      - name: id\n        data_tests:\n          - dbt_utils.relationships_where:\n              arguments:\n                to: ref('keys')\n                field: id\n                from_condition: \"id > 1\"\n".into(),
        ),
    ];
    for (path, text) in files {
        let p = env.path().join("shop").join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
    let o = dbt(&env, &["deps"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let o = dbt(&env, &["build"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.contains("PASS=10 WARN=0 ERROR=0"), "{o:#?}");
    let keys = query(
        &env,
        "select sk, id, ratio from keys order by id, sk limit 1",
    );
    let md5 = query(&env, "select md5('1-ann') as m")[0]["m"].clone();
    assert_eq!(keys[0]["sk"], md5);
    let cols = query(
        &env,
        "select column_name from information_schema.columns where table_name = 'keys' order by ordinal_position",
    );
    let names: Vec<&str> = cols
        .iter()
        .filter_map(|c| c["column_name"].as_str())
        .collect();
    assert_eq!(names, ["sk", "id", "customer", "color", "amount", "ratio"]);
    let pivoted = query(&env, "select * from pivoted order by customer");
    assert_eq!(pivoted.len(), 3);
    assert_eq!(pivoted[0]["customer"], "ann");
    assert_eq!(pivoted[0]["blue"], 1);
    assert_eq!(pivoted[0]["red"], 1);
    assert_eq!(pivoted[1]["red"], 2);
    // dbt_utils' natural join drops the row whose `paid` is null, in dbt-core as here.
    assert_eq!(query(&env, "select count(*) as n from deduped")[0]["n"], 3);
    let spine = query(&env, "select count(*) as n, min(date_day) as lo from spine");
    // Nine days: dbt_utils counts the intervals between the two dates, in dbt-core as here.
    assert_eq!(spine[0]["n"], 9);
}
