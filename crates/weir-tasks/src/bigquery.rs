//! BigQuery tasks (`io.kestra.plugin.gcp.bigquery.*`) on a local warehouse.
//!
//! BigQuery's datasets are schemas and its tables are tables of the warehouse
//! `WEIR_BIGQUERY_URL` names (default `jdbc:duckdb:<home>/bigquery.duckdb`); a task's `url`
//! property wins, so `pluginDefaults` can point every BigQuery task elsewhere. A name
//! `project.dataset.table` becomes schema `dataset`, table `table`: the project is logged,
//! not used as a catalog.

// The tasks that call these land in the next commits.
#![allow(dead_code)]

use crate::{TaskContext, TaskError};

/// The warehouse a BigQuery task runs on: the task's `url`, else `WEIR_BIGQUERY_URL`, else the
/// DuckDB file `<home>/bigquery.duckdb`.
pub(crate) fn bigquery_url(ctx: &TaskContext, url_prop: Option<&str>) -> String {
    if let Some(url) = url_prop.map(str::trim).filter(|u| !u.is_empty()) {
        return url.to_string();
    }
    if let Ok(url) = std::env::var(weir_core::env::WEIR_BIGQUERY_URL)
        && !url.trim().is_empty()
    {
        return url.trim().to_string();
    }
    format!("jdbc:duckdb:{}", ctx.home.join("bigquery.duckdb").display())
}

/// A BigQuery table name split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BqTable {
    pub project: Option<String>,
    pub dataset: String,
    pub table: String,
}

/// Splits `table`, `dataset.table` or `project.dataset.table` (with or without backquotes,
/// around the whole name or each part; `project:dataset.table` as the bq tool writes it too).
/// Missing parts come from the defaults (the task's `projectId` and `dataset`).
pub(crate) fn split_table(
    name: &str,
    default_project: Option<&str>,
    default_dataset: Option<&str>,
) -> Result<BqTable, TaskError> {
    let cleaned: String = name.trim().chars().filter(|c| *c != '`').collect();
    // The bq tool's `project:dataset.table`.
    let cleaned = match cleaned.split_once(':') {
        Some((project, rest)) if !project.contains('.') => format!("{project}.{rest}"),
        _ => cleaned,
    };
    let parts: Vec<&str> = cleaned.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(TaskError::Props(format!(
            "`{name}` is not a table name: expected `table`, `dataset.table` or `project.dataset.table`"
        )));
    }
    let own = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let (project, dataset, table) = match parts.as_slice() {
        [t] => (own(default_project), own(default_dataset), *t),
        [d, t] => (own(default_project), Some((*d).to_string()), *t),
        [p, d, t] => (Some((*p).to_string()), Some((*d).to_string()), *t),
        _ => {
            return Err(TaskError::Props(format!(
                "`{name}` is not a table name: expected at most `project.dataset.table`"
            )));
        }
    };
    let Some(dataset) = dataset else {
        return Err(TaskError::Props(format!(
            "`{name}` names no dataset: write `dataset.table` or set the task's `dataset`"
        )));
    };
    Ok(BqTable {
        project,
        dataset,
        table: table.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names() {
        let t = split_table("`my-proj.sales.orders`", None, None).unwrap();
        assert_eq!(t.project.as_deref(), Some("my-proj"));
        assert_eq!((t.dataset.as_str(), t.table.as_str()), ("sales", "orders"));
        let t = split_table("`my-proj`.`sales`.`orders`", None, None).unwrap();
        assert_eq!((t.dataset.as_str(), t.table.as_str()), ("sales", "orders"));
        let t = split_table("my-proj:sales.orders", None, None).unwrap();
        assert_eq!(t.project.as_deref(), Some("my-proj"));
        let t = split_table("orders", Some("p"), Some("d")).unwrap();
        assert_eq!(
            t,
            BqTable {
                project: Some("p".into()),
                dataset: "d".into(),
                table: "orders".into()
            }
        );
        let t = split_table("d2.orders", Some("p"), Some("d")).unwrap();
        assert_eq!(t.dataset, "d2");
        assert!(split_table("orders", None, None).is_err());
        assert!(split_table("a..b", None, None).is_err());
        assert!(split_table("a.b.c.d", None, None).is_err());
    }
}
