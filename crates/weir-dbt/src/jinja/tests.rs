//! Tests of the compile stage: small in-memory projects, a fake adapter with canned results,
//! and the expected SQL written out.

use super::*;
use crate::project::ProjectFiles;
use serde_json::json;
use std::sync::Mutex;

const PROJECT: &str = "name: taxi\nprofile: taxi\n";

/// An adapter answering queries from a list of (SQL fragment, table) and recording the SQL
/// it was asked to run.
struct Fake {
    kind: &'static str,
    tables: Vec<(&'static str, Table)>,
    ran: Mutex<Vec<String>>,
}

impl Fake {
    fn new(kind: &'static str) -> Fake {
        Fake {
            kind,
            tables: Vec::new(),
            ran: Mutex::new(Vec::new()),
        }
    }

    fn with(mut self, fragment: &'static str, columns: &[&str], rows: Vec<Vec<Json>>) -> Fake {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.tables.push((fragment, Table { columns, rows }));
        self
    }
}

impl Adapter for Fake {
    fn kind(&self) -> &str {
        self.kind
    }
    fn run_query(&self, sql: &str) -> Result<Table, String> {
        self.ran.lock().unwrap().push(sql.trim().to_string());
        self.tables
            .iter()
            .find(|(f, _)| sql.contains(f))
            .map(|(_, t)| t.clone())
            .ok_or_else(|| format!("no canned result for `{}`", sql.trim()))
    }
    fn get_columns(&self, relation: &Relation) -> Result<Vec<Column>, String> {
        Ok(vec![
            Column {
                name: "id".into(),
                data_type: "integer".into(),
            },
            Column {
                name: format!("{}_name", relation.identifier),
                data_type: "varchar".into(),
            },
        ])
    }
    fn relation_exists(&self, relation: &Relation) -> Result<bool, String> {
        Ok(relation.identifier != "missing")
    }
}

fn target(kind: &str) -> TargetInfo {
    TargetInfo {
        name: "dev".into(),
        schema: "analytics".into(),
        database: "warehouse".into(),
        kind: kind.into(),
        threads: 4,
    }
}

fn compiler_with(list: &[(&str, &str)], kind: &str, cli_vars: serde_json::Value) -> Compiler {
    let files: ProjectFiles = list.iter().copied().collect();
    let project = match Project::load(&files) {
        Ok(p) => p,
        Err(e) => panic!("load failed:\n{e}"),
    };
    let env: EnvFn = Arc::new(|name: &str| match name {
        "WEIR_TEST_USER" => Some("ana".to_string()),
        _ => None,
    });
    let settings = Settings {
        target: target(kind),
        vars: cli_vars.as_object().cloned().unwrap_or_default(),
        env,
    };
    match Compiler::new(&project, &files, settings) {
        Ok(c) => c,
        Err(e) => panic!("compiler failed:\n{e}"),
    }
}

fn project(models: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list = vec![("dbt_project.yml".to_string(), PROJECT.to_string())];
    list.extend(models.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    list
}

fn run(
    list: &[(String, String)],
    node: &str,
    adapter: Fake,
    incremental: bool,
) -> Result<Compiled, CompileError> {
    let refs: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let kind = adapter.kind;
    compiler_with(&refs, kind, json!({})).compile(node, Arc::new(adapter), incremental)
}

/// Compiles `node` on duckdb and returns the trimmed SQL.
fn check(models: &[(&str, &str)], node: &str, expected: &str) {
    let list = project(models);
    match run(&list, node, Fake::new("duckdb"), false) {
        Ok(c) => assert_eq!(c.sql.trim(), expected.trim(), "compiling {node}"),
        Err(e) => panic!("compile failed: {e}"),
    }
}

fn check_err(models: &[(&str, &str)], node: &str) -> CompileError {
    let list = project(models);
    match run(&list, node, Fake::new("duckdb"), false) {
        Ok(c) => panic!("compile should fail, got:\n{}", c.sql),
        Err(e) => e,
    }
}

const SOURCES: &str = "
version: 2
sources:
  - name: raw
    schema: landing
    tables:
      - name: trips
      - name: zones
        identifier: taxi_zones
";

#[test]
fn ref_source_and_this_render_quoted_relations() {
    check(
        &[
            ("models/sources.yml", SOURCES),
            (
                "models/stg.sql",
                "{{ config(schema='staging', alias='stg_trips') }}select 1",
            ),
            ("models/plain.sql", "select 2"),
            (
                "models/fct.sql",
                "select * from {{ ref('stg') }} join {{ ref('taxi', 'plain') }} \
                 join {{ source('raw', 'zones') }} -- {{ this }} {{ this.schema }}.{{ this.identifier }}",
            ),
        ],
        "model.taxi.fct",
        r#"select * from "warehouse"."analytics"."stg" join "warehouse"."analytics"."plain" join "warehouse"."landing"."taxi_zones" -- "warehouse"."analytics"."fct" analytics.fct"#,
    );
}

#[test]
fn custom_schema_and_alias_from_project_and_applied_config() {
    let files = [
        (
            "dbt_project.yml",
            "name: taxi\nmodels:\n  taxi:\n    marts:\n      +schema: marts\n",
        ),
        ("models/marts/revenue.sql", "select 1"),
        (
            "models/stg.sql",
            "{{ config(alias='stg_trips', schema='staging') }}select 1",
        ),
        ("models/fct.sql", "{{ ref('revenue') }} {{ ref('stg') }}"),
    ];
    let mut c = compiler_with(&files, "duckdb", json!({}));
    let adapter: Arc<dyn Adapter> = Arc::new(Fake::new("duckdb"));
    let stg = c.compile("model.taxi.stg", adapter.clone(), false).unwrap();
    assert_eq!(stg.config.alias(), Some("stg_trips"));
    c.apply_config("model.taxi.stg", &stg.config);
    let fct = c.compile("model.taxi.fct", adapter, false).unwrap();
    assert_eq!(
        fct.sql,
        r#""warehouse"."analytics_marts"."revenue" "warehouse"."analytics_staging"."stg_trips""#
    );
    assert_eq!(fct.depends_on, ["model.taxi.revenue", "model.taxi.stg"]);
}

#[test]
fn ephemeral_refs_become_ctes() {
    let models = [
        (
            "models/base.sql",
            "{{ config(materialized='ephemeral') }}select 1 as id",
        ),
        (
            "models/mid.sql",
            "{{ config(materialized='ephemeral') }}select id from {{ ref('base') }}",
        ),
        (
            "models/top.sql",
            "select * from {{ ref('mid') }} join {{ ref('base') }} using (id)",
        ),
        (
            "models/with_cte.sql",
            "with x as (select * from {{ ref('base') }}) select * from x",
        ),
    ];
    // In-file `materialized='ephemeral'` is seen by `ref` once applied, as the CLI does in
    // graph order.
    let list = project(&models);
    let refs: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let mut c = compiler_with(&refs, "duckdb", json!({}));
    let adapter: Arc<dyn Adapter> = Arc::new(Fake::new("duckdb"));
    for id in ["model.taxi.base", "model.taxi.mid"] {
        let config = c.compile(id, adapter.clone(), false).unwrap().config;
        c.apply_config(id, &config);
    }
    let top = c.compile("model.taxi.top", adapter.clone(), false).unwrap();
    assert_eq!(
        top.sql,
        "with __dbt__cte__base as (\nselect 1 as id\n), __dbt__cte__mid as (\nselect id from __dbt__cte__base\n)\nselect * from __dbt__cte__mid join __dbt__cte__base using (id)"
    );
    assert_eq!(top.ephemerals, ["model.taxi.base", "model.taxi.mid"]);
    let with = c.compile("model.taxi.with_cte", adapter, false).unwrap();
    assert_eq!(
        with.sql,
        "with __dbt__cte__base as (\nselect 1 as id\n), x as (select * from __dbt__cte__base) select * from x"
    );
}

#[test]
fn vars_cli_over_project_and_missing_var_names_the_model() {
    let files = [
        (
            "dbt_project.yml",
            "name: taxi\nvars:\n  start: '2024-01-01'\n  color: green\n",
        ),
        (
            "models/m.sql",
            "{{ var('start') }} {{ var('color') }} {{ var('limit', 10) }}",
        ),
        ("models/bad.sql", "select {{ var('nope') }}"),
    ];
    let c = compiler_with(&files, "duckdb", json!({"color": "yellow"}));
    let adapter: Arc<dyn Adapter> = Arc::new(Fake::new("duckdb"));
    assert_eq!(
        c.compile("model.taxi.m", adapter.clone(), false)
            .unwrap()
            .sql,
        "2024-01-01 yellow 10"
    );
    let e = c.compile("model.taxi.bad", adapter, false).unwrap_err();
    assert!(
        e.diagnostic
            .message
            .contains("the var `nope` is required by `model.taxi.bad` but not set"),
        "{e}"
    );
    assert_eq!(e.diagnostic.location.to_string(), "models/bad.sql:1:1");
}

#[test]
fn env_var_with_and_without_default() {
    check(
        &[(
            "models/m.sql",
            "{{ env_var('WEIR_TEST_USER') }} {{ env_var('WEIR_UNSET', 'fallback') }}",
        )],
        "model.taxi.m",
        "ana fallback",
    );
    let e = check_err(
        &[("models/m.sql", "\n{{ env_var('WEIR_UNSET') }}")],
        "model.taxi.m",
    );
    assert!(
        e.diagnostic
            .message
            .contains("`WEIR_UNSET` is required but not set"),
        "{e}"
    );
    assert_eq!(e.diagnostic.location.line, 2);
}

#[test]
fn config_is_captured_and_readable() {
    let list = project(&[(
        "models/m.sql",
        "{{ config(materialized='incremental', unique_key=['id', 'day'], tags='nightly', \
         on_schema_change='append_new_columns', post_hook=['grant select on {{ this }} to r']) }}\
         select '{{ config.get('materialized') }}' as m, '{{ config.get('missing', 'dflt') }}' as d",
    )]);
    let c = run(&list, "model.taxi.m", Fake::new("duckdb"), false).unwrap();
    assert_eq!(c.sql, "select 'incremental' as m, 'dflt' as d");
    assert_eq!(
        serde_json::Value::Object(c.config.0.clone()),
        json!({
            "materialized": "incremental",
            "unique_key": ["id", "day"],
            "tags": "nightly",
            "on_schema_change": "append_new_columns",
            "post_hook": ["grant select on {{ this }} to r"],
        })
    );
}

#[test]
fn is_incremental_branches() {
    let model = "{{ config(materialized='incremental') }}select * from src\
        {% if is_incremental() %} where ts > (select max(ts) from {{ this }}){% endif %}";
    let list = project(&[
        ("models/m.sql", model),
        ("models/v.sql", "{{ is_incremental() }}"),
    ]);
    let full = run(&list, "model.taxi.m", Fake::new("duckdb"), false).unwrap();
    assert_eq!(full.sql, "select * from src");
    let inc = run(&list, "model.taxi.m", Fake::new("duckdb"), true).unwrap();
    assert_eq!(
        inc.sql,
        r#"select * from src where ts > (select max(ts) from "warehouse"."analytics"."m")"#
    );
    // A view is never incremental (and a boolean renders as Python's).
    let view = run(&list, "model.taxi.v", Fake::new("duckdb"), true).unwrap();
    assert_eq!(view.sql, "False");
}

#[test]
fn project_macros_call_each_other_across_files() {
    check(
        &[
            (
                "macros/money.sql",
                "{% macro cents_to_dollars(col, scale=2) -%}\n  round({{ col }} / 100.0, {{ scale }})\n{%- endmacro %}\n\
                 {% macro total(col) -%}sum({{ cents_to_dollars(col) }}){%- endmacro %}",
            ),
            (
                "macros/other.sql",
                "{% macro grand_total(col) %}{{ total(col) }} as grand{% endmacro %}",
            ),
            (
                "models/m.sql",
                "select {{ grand_total('fare') }}, {{ taxi.cents_to_dollars('tip', 1) }}",
            ),
        ],
        "model.taxi.m",
        "select sum(round(fare / 100.0, 2)) as grand, round(tip / 100.0, 1)",
    );
}

#[test]
fn return_gives_a_macro_its_value() {
    check(
        &[
            (
                "macros/r.sql",
                "{% macro cols() %}{{ return(['a', 'b', 'c']) }}{% endmacro %}\n\
                 {% macro pick(n) %}{% if n > 1 %}{{ return('many') }}{% endif %}{{ return('one') }}{% endmacro %}\n\
                 {% macro count_cols() %}{% set c = cols() %}{{ return(c | length) }}{% endmacro %}",
            ),
            (
                "models/m.sql",
                "{% for c in cols() %}{{ c }}{% if not loop.last %},{% endif %}{% endfor %} \
                 {{ pick(1) }} {{ pick(5) }} {{ count_cols() + 1 }}",
            ),
        ],
        "model.taxi.m",
        "a,b,c one many 4",
    );
}

#[test]
fn dispatch_prefers_adapter_then_default_and_project_over_globals() {
    let models = [
        (
            "macros/d.sql",
            "{% macro fmt(x) %}{{ return(adapter.dispatch('fmt')(x)) }}{% endmacro %}\n\
             {% macro default__fmt(x) %}default({{ x }}){% endmacro %}\n\
             {% macro postgres__fmt(x) %}pg({{ x }}){% endmacro %}\n\
             {% macro duckdb__type_string() %}text{% endmacro %}",
        ),
        ("models/m.sql", "{{ fmt('a') }} {{ dbt.type_string() }}"),
    ];
    let list = project(&models);
    let duck = run(&list, "model.taxi.m", Fake::new("duckdb"), false).unwrap();
    assert_eq!(duck.sql, "default(a) text");
    let pg = run(&list, "model.taxi.m", Fake::new("postgres"), false).unwrap();
    assert_eq!(pg.sql, "pg(a) varchar");
    // redshift falls back on postgres__ before default__.
    let rs = run(&list, "model.taxi.m", Fake::new("redshift"), false).unwrap();
    assert_eq!(rs.sql, "pg(a) varchar(256)");
    let e = check_err(
        &[("models/m.sql", "{{ adapter.dispatch('nothing_here')() }}")],
        "model.taxi.m",
    );
    assert!(
        e.diagnostic.message.contains(
            "no implementation of the macro `nothing_here` for `duckdb` (looked for `duckdb__nothing_here`, `default__nothing_here`)"
        ),
        "{e}"
    );
}

#[test]
fn run_query_and_statement_results() {
    let models = [(
        "models/m.sql",
        "{% set r = run_query('select distinct color from trips') %}\
         {% for row in r.rows %}{{ row[0] }}/{{ row['n'] }} {% endfor %}{{ r.columns[0].values() | join(',') }} {{ r | length }}\n\
         {% call statement('max_ts', fetch_result=True) %}select max(ts) from trips{% endcall %}\
         {{ load_result('max_ts')['data'][0][0] }} {{ load_result('max_ts')['table'].rows[0][0] }}\
         {{ r.print_table() }}",
    )];
    let fake = Fake::new("duckdb")
        .with(
            "distinct color",
            &["color", "n"],
            vec![
                vec![json!("green"), json!(1)],
                vec![json!("yellow"), json!(2)],
            ],
        )
        .with("max(ts)", &["max"], vec![vec![json!("2024-02-01")]]);
    let list = project(&models);
    let refs: Vec<(&str, &str)> = list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let c = compiler_with(&refs, "duckdb", json!({}));
    let fake = Arc::new(fake);
    let out = c.compile("model.taxi.m", fake.clone(), false).unwrap();
    assert_eq!(
        out.sql,
        "green/1 yellow/2 green,yellow 2\n2024-02-01 2024-02-01"
    );
    assert_eq!(
        *fake.ran.lock().unwrap(),
        [
            "select distinct color from trips",
            "select max(ts) from trips"
        ]
    );
    // Offline, the query fails with a message saying why.
    let e = c
        .compile(
            "model.taxi.m",
            Arc::new(OfflineAdapter::new("duckdb")),
            false,
        )
        .unwrap_err();
    assert!(
        e.diagnostic.message.contains(
            "`run_query` failed: cannot run `select distinct color from trips`: there is no database connection while compiling offline"
        ),
        "{e}"
    );
}

#[test]
fn raise_compiler_error_points_at_the_file_and_line() {
    let e = check_err(
        &[(
            "models/m.sql",
            "select 1\n{% if true %}\n  {{ exceptions.raise_compiler_error('bad input: ' ~ 3) }}\n{% endif %}",
        )],
        "model.taxi.m",
    );
    assert_eq!(e.node, "model.taxi.m");
    assert_eq!(e.diagnostic.message, "bad input: 3");
    assert_eq!(e.diagnostic.location.to_string(), "models/m.sql:3:1");
    // Inside a macro, the macro's file and line.
    let e = check_err(
        &[
            (
                "macros/check.sql",
                "{% macro must_be_positive(n) %}\n{% if n <= 0 %}\n{{ exceptions.raise_compiler_error('not positive: ' ~ n) }}\n{% endif %}\n{% endmacro %}",
            ),
            ("models/m.sql", "select {{ must_be_positive(-1) }}"),
        ],
        "model.taxi.m",
    );
    assert_eq!(e.diagnostic.message, "not positive: -1");
    assert_eq!(e.diagnostic.location.to_string(), "macros/check.sql:3:1");
}

#[test]
fn unknown_ref_and_source_are_errors() {
    let e = check_err(
        &[("models/m.sql", "\n\n{{ ref(var('which', 'nothing')) }}")],
        "model.taxi.m",
    );
    assert!(
        e.diagnostic
            .message
            .contains("`model.taxi.m` depends on a node named `nothing`, which was not found"),
        "{e}"
    );
    assert_eq!(e.diagnostic.location.line, 3);
}

#[test]
fn cross_database_macros_per_adapter() {
    let model = "{{ dbt.datediff('pickup', 'dropoff', 'day') }}\n\
        {{ dbt.dateadd('month', 1, 'pickup') }}\n\
        {{ dbt.safe_cast('fare', dbt.type_numeric()) }}\n\
        {{ dbt.concat(['a', \"'-'\", 'b']) }}\n\
        {{ dbt.hash('id') }}\n\
        {{ dbt.any_value('zone') }}\n\
        {{ dbt.current_timestamp() }}\n\
        {{ dbt.listagg('zone', \"', '\", 'order by zone') }}\n\
        {{ dbt.escape_single_quotes(\"it's\") }}\n\
        {{ datediff('a', 'b', 'month') }}";
    let list = project(&[("models/m.sql", model)]);
    let duck = run(&list, "model.taxi.m", Fake::new("duckdb"), false).unwrap();
    assert_eq!(
        duck.sql,
        "date_diff('day', (pickup)::timestamp, (dropoff)::timestamp)
date_add((pickup)::timestamp, interval (1) month)
try_cast(fare as numeric(28,6))
a || '-' || b
md5(cast(id as varchar))
any_value(zone)
now()
string_agg(zone, ', ' order by zone)
it''s
date_diff('month', (a)::timestamp, (b)::timestamp)"
    );
    let pg = run(&list, "model.taxi.m", Fake::new("postgres"), false).unwrap();
    assert_eq!(
        pg.sql,
        "(((dropoff)::timestamp)::date - ((pickup)::timestamp)::date)
((pickup)::timestamp + (interval '1 month' * (1)))
cast(fare as numeric(28,6))
a || '-' || b
md5(cast(id as varchar))
min(zone)
now()
string_agg(zone, ', ' order by zone)
it''s
((date_part('year', (b)::timestamp) - date_part('year', (a)::timestamp)) * 12 + date_part('month', (b)::timestamp) - date_part('month', (a)::timestamp))"
    );
}

#[test]
fn adapter_methods_target_log_and_json() {
    let list = project(&[(
        "models/m.sql",
        "{{ target.name }} {{ target.schema }} {{ target.type }} {{ target.threads }} \
         {{ adapter.quote('Col') }} \
         {% for c in adapter.get_columns_in_relation(this) %}{{ c.name }}:{{ c.data_type }} {% endfor %}\
         {{ adapter.get_relation(database=this.database, schema='s', identifier='missing') is none }} \
         {{ log('hello ' ~ this.name, info=True) }}{{ tojson({'a': [1, 2]}) }} {{ fromjson('{\"k\": 5}')['k'] }}",
    )]);
    let c = run(&list, "model.taxi.m", Fake::new("duckdb"), false).unwrap();
    assert_eq!(
        c.sql,
        r#"dev analytics duckdb 4 "Col" id:integer m_name:varchar True {"a":[1,2]} 5"#
    );
    assert_eq!(c.logs, ["hello m"]);
}

#[test]
fn datetime_module() {
    check(
        &[(
            "models/m.sql",
            "{% set d = modules.datetime.datetime(2024, 3, 9, 7, 5) %}{{ d.strftime('%Y/%m/%d %H:%M') }} \
             {{ d.isoformat() }} {{ modules.datetime.date(2024, 1, 31).isoformat() }} \
             {{ modules.datetime.timedelta(days=2, hours=12).total_seconds() }} \
             {{ modules.datetime.datetime.strptime('2024-05-01', '%Y-%m-%d').year }}",
        )],
        "model.taxi.m",
        "2024/03/09 07:05 2024-03-09T07:05:00 2024-01-31 216000.0 2024",
    );
}

#[test]
fn generic_test_blocks_become_macros() {
    check(
        &[
            (
                "macros/tests.sql",
                "{% test positive(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} <= 0\n{% endtest %}",
            ),
            ("models/m.sql", "{{ test_positive('t', 'fare') }}"),
        ],
        "model.taxi.m",
        "select * from t where fare <= 0",
    );
}

#[test]
fn duplicate_macros_are_reported() {
    let files: ProjectFiles = [
        ("dbt_project.yml", PROJECT),
        ("macros/a.sql", "{% macro m() %}{% endmacro %}"),
        ("macros/b.sql", "\n{% macro m() %}{% endmacro %}"),
    ]
    .into_iter()
    .collect();
    let project = Project::load(&files).unwrap();
    let settings = Settings {
        target: target("duckdb"),
        vars: Map::new(),
        env: Arc::new(|_: &str| None),
    };
    let e = Compiler::new(&project, &files, settings).unwrap_err();
    assert_eq!(
        e.to_string(),
        "macros/b.sql:2:1: the macro `m` is defined twice: in `macros/a.sql` and `macros/b.sql`"
    );
}

/// A compiler with the project's macros and one package's, by package name.
fn compiler_with_package(
    list: &[(&str, &str)],
    package: &str,
    macros: &[(&str, &str)],
) -> Compiler {
    let files: ProjectFiles = list.iter().copied().collect();
    let project = match Project::load(&files) {
        Ok(p) => p,
        Err(e) => panic!("load failed:\n{e}"),
    };
    let packages: Vec<MacroFile> = macros
        .iter()
        .map(|(file, text)| MacroFile {
            package: package.to_string(),
            file: format!("dbt_packages/{package}/{file}"),
            text: text.to_string(),
        })
        .collect();
    let settings = Settings {
        target: target("duckdb"),
        vars: Map::new(),
        env: Arc::new(|_: &str| None),
    };
    match Compiler::with_packages(&project, &files, &packages, settings) {
        Ok(c) => c,
        Err(e) => panic!("compiler failed:\n{e}"),
    }
}

#[test]
fn lists_and_dicts_change_in_place() {
    check(
        &[(
            "models/m.sql",
            "{%- set xs = [] -%}{%- set d = {'a': 1} -%}\
             {%- for i in range(3) -%}{%- do xs.append(i) -%}{%- endfor -%}\
             {%- do xs.extend([7, 8]) -%}{%- set last = xs.pop() -%}{%- do xs.insert(0, 9) -%}\
             {%- do d.update({'b': 2}) -%}{%- do d.update(c=3) -%}{%- set a = d.pop('a') -%}\
             {%- set e = d.setdefault('e', []) -%}{%- do e.append('x') -%}\
             {{ xs | join(',') }} {{ last }} {{ xs | length }} {{ xs[-1] }} {{ 7 in xs }} \
             {{ d.keys() | join(',') }} {{ a }} {{ d['e'] }} {{ d is mapping }} {{ d | tojson }} \
             {%- for k, v in d.items() %} {{ k }}={{ v }}{% endfor %}",
        )],
        "model.taxi.m",
        // Rendered as dbt (Python) renders them.
        "9,0,1,2,7 8 5 7 True b,c,e 1 ['x'] True {\"b\": 2, \"c\": 3, \"e\": [\"x\"]} b=2 c=3 e=['x']",
    );
}

#[test]
fn a_list_a_macro_returns_stays_mutable_for_its_caller() {
    check(
        &[
            (
                "macros/m.sql",
                "{% macro cols() %}{% set out = [] %}{% do out.append('a') %}{{ return(out) }}{% endmacro %}",
            ),
            (
                "models/m.sql",
                "{%- set c = cols() -%}{%- do c.append('b') -%}{{ c | join(',') }}",
            ),
        ],
        "model.taxi.m",
        "a,b",
    );
}

#[test]
fn macros_reading_kwargs_take_undeclared_keyword_arguments() {
    check(
        &[
            (
                "macros/m.sql",
                "{% macro outer(a) %}{{ return(inner(a, **kwargs)) }}{% endmacro %}\n\
                 {% macro inner(a) %}{{ a }}:{{ kwargs.get('b', 'none') }}:{{ kwargs.get('c', 'none') }}{% endmacro %}\n\
                 {% macro plain(a) %}{{ a }}{% endmacro %}",
            ),
            (
                "models/m.sql",
                "{{ outer(1, b=2) }} {{ outer(a=3) }} {{ plain(4) }}",
            ),
        ],
        "model.taxi.m",
        "1:2:none 3:none:none 4",
    );
}

#[test]
fn package_macros_dispatch_in_their_namespace_and_the_project_overrides() {
    let list = [
        ("dbt_project.yml", PROJECT),
        (
            "macros/over.sql",
            "{% macro duckdb__greet(n) %}project {{ n }}{% endmacro %}",
        ),
        (
            "models/m.sql",
            "{{ pkg.greet('x') }} / {{ pkg.shout() }} / {{ pkg.rel(ref('n')) }}",
        ),
        ("models/n.sql", "select 1"),
    ];
    let c = compiler_with_package(
        &list,
        "pkg",
        &[(
            "macros/p.sql",
            "{% macro greet(n) %}{{ return(adapter.dispatch('greet', 'pkg')(n)) }}{% endmacro %}\n\
             {% macro default__greet(n) %}package {{ n }}{% endmacro %}\n\
             {% macro shout() %}{{ return(adapter.dispatch('shout', 'pkg')()) }}{% endmacro %}\n\
             {% macro default__shout() %}default{% endmacro %}\n\
             {% macro duckdb__shout() %}duckdb{% endmacro %}\n\
             {% macro rel(r) %}{{ r is mapping }} {{ r.get('metadata', {}).get('type', '') }} {{ r.name }}{% endmacro %}",
        )],
    );
    let out = c
        .compile("model.taxi.m", Arc::new(Fake::new("duckdb")), false)
        .expect("compiles");
    assert_eq!(out.sql, "project x / duckdb / True Relation n");
    let err = c
        .compile("model.taxi.m", Arc::new(Fake::new("duckdb")), false)
        .map(|_| ())
        .and_then(|_| {
            compiler_with_package(
                &[
                    ("dbt_project.yml", PROJECT),
                    ("models/m.sql", "{{ pkg.nope() }}"),
                ],
                "pkg",
                &[("macros/p.sql", "{% macro x() %}{% endmacro %}")],
            )
            .compile("model.taxi.m", Arc::new(Fake::new("duckdb")), false)
            .map(|_| ())
        })
        .expect_err("unknown package macro");
    assert!(
        err.to_string()
            .contains("the package `pkg` has no macro named `nope`"),
        "{err}"
    );
}

#[test]
fn materializations_are_found_by_adapter_then_default_and_run_their_statements() {
    let list = [
        ("dbt_project.yml", PROJECT),
        (
            "macros/mat.sql",
            "{% materialization copy, adapter='duckdb' %}\n\
             {% call statement('main') %}create table {{ this }} as {{ sql }}{% endcall %}\n\
             {{ return({'relations': [this]}) }}\n\
             {% endmaterialization %}\n\
             {%- materialization other, default -%}x{%- endmaterialization -%}",
        ),
        ("models/m.sql", "select 1 as x"),
    ];
    let c = compiler_with_package(&list, "pkg", &[]);
    assert_eq!(
        c.materialization("copy", "duckdb").as_deref(),
        Some("materialization_copy_duckdb")
    );
    assert_eq!(c.materialization("copy", "postgres"), None);
    assert_eq!(
        c.materialization("other", "postgres").as_deref(),
        Some("materialization_other_default")
    );
    assert_eq!(c.materialization("table", "duckdb"), None);
    let fake = Arc::new(Fake::new("duckdb").with("create table", &["Count"], vec![]));
    let done = c
        .run_materialization(
            "model.taxi.m",
            "materialization_copy_duckdb",
            fake.clone(),
            "select 1 as x",
        )
        .expect("runs");
    assert_eq!(
        done.main_statement.as_deref(),
        Some("create table \"warehouse\".\"analytics\".\"m\" as select 1 as x")
    );
    assert_eq!(fake.ran.lock().unwrap().len(), 1);
}

#[test]
fn run_operation_calls_a_macro_with_keyword_arguments() {
    let list = [
        ("dbt_project.yml", PROJECT),
        (
            "macros/ops.sql",
            "{% macro hello(who, times=1) %}{% do log('hi ' ~ who, info=True) %}{% do log('quiet') %}\
             {% do print(who * times) %}{{ return(times + 1) }}{% endmacro %}",
        ),
    ];
    let c = compiler_with_package(&list, "pkg", &[]);
    let mut args = Map::new();
    args.insert("who".into(), json!("ab"));
    args.insert("times".into(), json!(2));
    let done = c
        .run_operation("hello", &args, Arc::new(Fake::new("duckdb")))
        .expect("runs");
    assert_eq!(done.sql, "3");
    assert_eq!(
        done.stdout,
        vec![(true, "hi ab".to_string()), (false, "abab".to_string())]
    );
    let err = c
        .run_operation("nope", &Map::new(), Arc::new(Fake::new("duckdb")))
        .expect_err("no such macro");
    assert!(err.to_string().contains("no macro named `nope`"), "{err}");
    let err = c
        .run_operation("a b", &Map::new(), Arc::new(Fake::new("duckdb")))
        .expect_err("not a name");
    assert!(err.to_string().contains("is not a macro name"), "{err}");
}

#[test]
fn dispatch_config_sets_a_namespace_search_order() {
    // dbt's docs: `dispatch: [{macro_namespace: dbt_utils, search_order: [my_project, dbt_utils]}]`
    // makes the listed packages the only ones searched, in that order.
    let pkg_macros = [(
        "macros/p.sql",
        "{% macro greet() %}{{ return(adapter.dispatch('greet', 'pkg')()) }}{% endmacro %}\n\
         {% macro default__greet() %}package{% endmacro %}",
    )];
    let over = "{% macro default__greet() %}project{% endmacro %}";
    let model = "{{ pkg.greet() }}";
    let with = |config: &str| {
        let project = format!("{PROJECT}{config}");
        let list = [
            ("dbt_project.yml", project.as_str()),
            ("macros/over.sql", over),
            ("models/m.sql", model),
        ];
        compiler_with_package(&list, "pkg", &pkg_macros)
            .compile("model.taxi.m", Arc::new(Fake::new("duckdb")), false)
            .expect("compiles")
            .sql
    };
    assert_eq!(with(""), "project");
    assert_eq!(
        with("dispatch:\n  - macro_namespace: pkg\n    search_order: [pkg, taxi]\n"),
        "package"
    );
}

#[test]
fn columns_answer_the_type_questions_union_relations_asks() {
    check(
        &[
            ("models/n.sql", "select 1"),
            (
                "models/m.sql",
                "{% for c in adapter.get_columns_in_relation(ref('n')) -%}\
                 {{ c.name }}:{{ c.is_string() }}:{{ c.is_number() }}:{{ c.quoted }}\
                 {%- if c.is_string() %}:{{ c.string_size() }}{% endif %} {% endfor %}",
            ),
        ],
        "model.taxi.m",
        "id:False:True:\"id\" n_name:True:False:\"n_name\":65535",
    );
}
