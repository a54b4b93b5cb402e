//! Generic data tests as SQL: dbt's built-in test queries (`unique`, `not_null`,
//! `accepted_values`, `relationships`), the wrapper that counts their failing rows, and the status
//! dbt decides from the counts.
//!
//! The SQL has the shapes of dbt-core's `default__test_*` macros, so the failing rows (and their
//! count) are the ones dbt finds: `where` filters the tested relation only (dbt's
//! `get_where_subquery`), never the parent of `relationships`; `not_null` selects `*` when the
//! test stores its failures.

use crate::project::{Config, Graph, Node, ResourceType, TestTarget};
use serde_json::Value;

/// A test's outcome, as dbt decides it from `severity`, `warn_if` and `error_if`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestSqlError {
    /// A generic test defined by the project or a package (`{% test name(model, …) %}`), not yet
    /// run by weir; carries the test's name (`dbt_utils.expression_is_true`).
    #[error(
        "generic test `{0}` is not supported yet (weir runs dbt's unique, not_null, accepted_values and relationships)"
    )]
    Unsupported(String),
    /// The test lacks an argument its SQL needs, or has one of the wrong shape.
    #[error("test `{test}`: {message}")]
    Invalid { test: String, message: String },
    /// A relation the test reads is not known to the caller.
    #[error("test `{test}`: no relation for `{what}`")]
    UnknownRelation { test: String, what: String },
}

/// The SELECT whose rows are the failures of a generic test node.
///
/// `relation_of(unique_id)` renders a node's or source's relation (`"db"."schema"."name"`);
/// `adapter` is `duckdb`, `postgres` or `redshift` (all quote identifiers with `"`).
/// Errors: a test that is not one of dbt's built-ins (`Unsupported`), a missing argument
/// (`values`, `to`, `field`), a relation that `relation_of` does not know.
pub fn generic_test_sql(
    test: &Node,
    graph: &Graph,
    relation_of: &dyn Fn(&str) -> Option<String>,
    adapter: &str,
) -> Result<String, TestSqlError> {
    let _ = adapter; // The four built-ins read the same on every adapter weir speaks.
    builtin_sql(test, graph, relation_of, false)
}

/// The built-in `unique` test's failing rows with the tested column collected first (a
/// materialized CTE) and grouped from there; the same rows as [`generic_test_sql`]'s. `None`
/// for every other test.
///
/// For DuckDB: its hash aggregate can no longer go out of core once one of its input
/// pipelines has finished, so grouping a `union all` whose first branch is small and a later
/// one large runs out of memory under a memory limit instead of spilling. Collected first, the
/// keys come from one pipeline, and the aggregate spills as it should.
pub fn unique_test_sql_collected(
    test: &Node,
    graph: &Graph,
    relation_of: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, TestSqlError> {
    match test.test.as_ref() {
        Some(meta)
            if meta.name == "unique" && meta.namespace.as_deref().is_none_or(|ns| ns == "dbt") =>
        {
            builtin_sql(test, graph, relation_of, true).map(Some)
        }
        _ => Ok(None),
    }
}

/// The built-ins' SQL; `collect_first`: `unique` groups a materialized CTE of its column.
fn builtin_sql(
    test: &Node,
    graph: &Graph,
    relation_of: &dyn Fn(&str) -> Option<String>,
    collect_first: bool,
) -> Result<String, TestSqlError> {
    let meta = test.test.as_ref().ok_or_else(|| TestSqlError::Invalid {
        test: test.name.clone(),
        message: "not a generic test".into(),
    })?;
    let full_name = match &meta.namespace {
        Some(ns) => format!("{ns}.{}", meta.name),
        None => meta.name.clone(),
    };
    let builtin = matches!(
        meta.name.as_str(),
        "unique" | "not_null" | "accepted_values" | "relationships"
    ) && meta.namespace.as_deref().is_none_or(|ns| ns == "dbt");
    if !builtin {
        return Err(TestSqlError::Unsupported(full_name));
    }
    let invalid = |message: String| TestSqlError::Invalid {
        test: test.name.clone(),
        message,
    };

    // The tested relation, filtered by `where` as `get_where_subquery` does.
    let tested_id = match &meta.attached_node {
        Some(id) => Some(id.clone()),
        None => find_target(graph, test, &meta.target),
    };
    let tested_id = tested_id.ok_or_else(|| TestSqlError::UnknownRelation {
        test: test.name.clone(),
        what: target_text(&meta.target),
    })?;
    let relation = relation_of(&tested_id).ok_or_else(|| TestSqlError::UnknownRelation {
        test: test.name.clone(),
        what: tested_id.clone(),
    })?;
    let model = match test.config.get("where") {
        Some(w) if !is_blank(w) => {
            format!(
                "(select * from {relation} where {}) dbt_subquery",
                text_of(w)
            )
        }
        _ => relation,
    };

    let column = meta
        .kwargs
        .get("column_name")
        .map(text_of)
        .or_else(|| meta.column_name.clone())
        .ok_or_else(|| invalid(format!("`{}` needs a column", meta.name)))?;
    let column = quoted_column(graph.node(&tested_id), &column);

    Ok(match meta.name.as_str() {
        "unique" if collect_first => format!(
            "with dbt_weir_unique_input as materialized (\n    select {column} as unique_field\n    \
             from {model}\n    where {column} is not null\n)\nselect\n    unique_field,\n    \
             count(*) as n_records\nfrom dbt_weir_unique_input\ngroup by unique_field\n\
             having count(*) > 1\n"
        ),
        "unique" => format!(
            "select\n    {column} as unique_field,\n    count(*) as n_records\nfrom {model}\n\
             where {column} is not null\ngroup by {column}\nhaving count(*) > 1\n"
        ),
        "not_null" => {
            let list = if store_failures(&test.config) {
                "*"
            } else {
                column.as_str()
            };
            format!("select {list}\nfrom {model}\nwhere {column} is null\n")
        }
        "accepted_values" => {
            let values = match meta.kwargs.get("values") {
                Some(Value::Array(v)) if !v.is_empty() => v,
                Some(Value::Array(_)) => return Err(invalid("`values` is empty".into())),
                Some(_) => return Err(invalid("`values` should be a list".into())),
                None => return Err(invalid("accepted_values needs `values`".into())),
            };
            let quote = meta.kwargs.get("quote").is_none_or(truthy);
            let list = values
                .iter()
                .map(|v| {
                    let t = python_text(v);
                    if quote {
                        format!("'{}'", t.replace('\'', "''"))
                    } else {
                        t
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "with all_values as (\n    select\n        {column} as value_field,\n        \
                 count(*) as n_records\n    from {model}\n    group by {column}\n)\n\
                 select *\nfrom all_values\nwhere value_field not in ({list})\n"
            )
        }
        "relationships" => {
            let to = meta
                .kwargs
                .get("to")
                .map(text_of)
                .ok_or_else(|| invalid("relationships needs `to`".into()))?;
            let field = meta
                .kwargs
                .get("field")
                .map(text_of)
                .ok_or_else(|| invalid("relationships needs `field`".into()))?;
            let parent_id =
                resolve_to(graph, test, &to).ok_or_else(|| TestSqlError::UnknownRelation {
                    test: test.name.clone(),
                    what: to.clone(),
                })?;
            let parent = relation_of(&parent_id).ok_or_else(|| TestSqlError::UnknownRelation {
                test: test.name.clone(),
                what: parent_id.clone(),
            })?;
            let field = quoted_column(graph.node(&parent_id), &field);
            format!(
                "with child as (\n    select {column} as from_field\n    from {model}\n    \
                 where {column} is not null\n),\nparent as (\n    select {field} as to_field\n    \
                 from {parent}\n)\nselect from_field\nfrom child\nleft join parent\n    \
                 on child.from_field = parent.to_field\nwhere parent.to_field is null\n"
            )
        }
        _ => unreachable!("checked above"),
    })
}

/// dbt's wrapper around a test's failing rows (`get_test_sql`): the failure count (`fail_calc`,
/// default `count(*)`) and whether it meets `warn_if` / `error_if` (default `!= 0`), over the
/// rows cut to `limit` when set.
pub fn wrap_test_sql(failing_rows_sql: &str, config: &Config) -> String {
    let fail_calc = config_text(config, "fail_calc").unwrap_or_else(|| "count(*)".into());
    let warn_if = config_text(config, "warn_if").unwrap_or_else(|| "!= 0".into());
    let error_if = config_text(config, "error_if").unwrap_or_else(|| "!= 0".into());
    let limit = match config.get("limit") {
        None | Some(Value::Null) => String::new(),
        Some(v) => format!("\n  limit {}", text_of(v)),
    };
    let sql = failing_rows_sql.trim_end().trim_end_matches(';');
    format!(
        "select\n  {fail_calc} as failures,\n  {fail_calc} {warn_if} as should_warn,\n  \
         {fail_calc} {error_if} as should_error\nfrom (\n{sql}{limit}\n) dbt_internal_test"
    )
}

/// The status from the wrapper's row, as dbt's test runner decides: with `severity: error`,
/// an error when `error_if` holds, else a warning when `warn_if` holds; with `severity: warn`,
/// `error_if` is ignored.
pub fn test_status(config: &Config, should_warn: bool, should_error: bool) -> TestStatus {
    if config.severity() == "ERROR" && should_error {
        TestStatus::Fail
    } else if should_warn {
        TestStatus::Warn
    } else {
        TestStatus::Pass
    }
}

/// `store_failures: true` (the `--store-failures` flag is the caller's to merge in).
pub fn store_failures(config: &Config) -> bool {
    config.get("store_failures").is_some_and(truthy)
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A scalar's text, strings without quotes.
fn text_of(v: &Value) -> String {
    crate::project::scalar_text(v)
}

fn config_text(config: &Config, key: &str) -> Option<String> {
    config.get(key).filter(|v| !is_blank(v)).map(text_of)
}

/// A value as Jinja (Python) prints it inside `'…'` in dbt's `accepted_values`.
fn python_text(v: &Value) -> String {
    match v {
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => text_of(other),
    }
}

/// A column as dbt passes it to a test: quoted when the column's properties say `quote: true`.
fn quoted_column(node: Option<&Node>, column: &str) -> String {
    let quote = node
        .and_then(|n| n.columns.iter().find(|c| c.name == column))
        .and_then(|c| c.quote)
        .unwrap_or(false);
    if quote {
        format!("\"{}\"", column.replace('"', "\"\""))
    } else {
        column.to_string()
    }
}

fn target_text(target: &TestTarget) -> String {
    match target {
        TestTarget::Ref { name } => format!("ref('{name}')"),
        TestTarget::Source { source, table } => format!("source('{source}', '{table}')"),
    }
}

fn find_target(graph: &Graph, test: &Node, target: &TestTarget) -> Option<String> {
    match target {
        TestTarget::Ref { name } => find_ref(graph, test, None, name),
        TestTarget::Source { source, table } => find_source(graph, source, table),
    }
}

/// `to:` of a relationships test — `ref('m')`, `ref('pkg', 'm')`, `ref('m', v=2)`,
/// `source('s', 't')`, possibly inside `{{ … }}` — as a unique id.
fn resolve_to(graph: &Graph, test: &Node, to: &str) -> Option<String> {
    let expr = to
        .trim()
        .trim_start_matches("{{")
        .trim_end_matches("}}")
        .trim();
    let (func, rest) = expr.split_once('(')?;
    let args = string_args(rest.trim_end().strip_suffix(')')?);
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) => find_ref(graph, test, None, name),
        ("ref", [package, name]) => find_ref(graph, test, Some(package), name),
        ("source", [source, table]) => find_source(graph, source, table),
        _ => None,
    }
}

/// The quoted string arguments of a call's argument list, keyword arguments left out.
fn string_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in args.split(',') {
        let p = part.trim();
        if p.contains('=') {
            continue;
        }
        let unquoted = p
            .strip_prefix('\'')
            .and_then(|s| s.strip_suffix('\''))
            .or_else(|| p.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
        if let Some(s) = unquoted {
            out.push(s.to_string());
        }
    }
    out
}

/// A ref by name: among the test's own dependencies first, then the test's package, then any.
fn find_ref(graph: &Graph, test: &Node, package: Option<&str>, name: &str) -> Option<String> {
    let fits = |n: &Node| {
        n.resource_type.is_refable()
            && n.name == name
            && package.is_none_or(|p| n.package_name == p)
    };
    test.depends_on
        .iter()
        .filter_map(|id| graph.node(id))
        .find(|n| fits(n))
        .or_else(|| {
            graph
                .nodes()
                .values()
                .find(|n| fits(n) && n.package_name == test.package_name)
        })
        .or_else(|| graph.nodes().values().find(|n| fits(n)))
        .map(|n| n.unique_id.clone())
}

fn find_source(graph: &Graph, source: &str, table: &str) -> Option<String> {
    graph
        .nodes()
        .values()
        .find(|n| {
            n.resource_type == ResourceType::Source
                && n.source
                    .as_ref()
                    .is_some_and(|s| s.source_name == source && s.table_name == table)
        })
        .map(|n| n.unique_id.clone())
}

#[cfg(test)]
mod tests;
