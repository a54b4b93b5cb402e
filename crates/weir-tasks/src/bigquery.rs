//! BigQuery tasks (`io.kestra.plugin.gcp.bigquery.*`) on a local warehouse.
//!
//! BigQuery's datasets are schemas and its tables are tables of the warehouse
//! `WEIR_BIGQUERY_URL` names (default `jdbc:duckdb:<home>/bigquery.duckdb`); a task's `url`
//! property wins, so `pluginDefaults` can point every BigQuery task elsewhere. A name
//! `project.dataset.table` becomes schema `dataset`, table `table`: the project is logged,
//! not used as a catalog.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::{Value, json};
use weir_warehouse::{Engine, Rows, Target};

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

/// A SQL identifier, quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The warehouse type of a BigQuery column type (`INT64`, `NUMERIC(10, 2)`, `STRING(20)`…).
pub(crate) fn sql_type(bq_type: &str, engine: Engine) -> Result<String, TaskError> {
    let t = bq_type.trim().to_ascii_uppercase();
    let (base, args) = match t.split_once('(') {
        Some((b, rest)) => (
            b.trim().to_string(),
            Some(rest.trim_end_matches(')').trim().to_string()),
        ),
        None => (t.clone(), None),
    };
    let pg = engine != Engine::DuckDb;
    let sql = match base.as_str() {
        "STRING" => match &args {
            Some(n) if pg => format!("VARCHAR({n})"),
            _ => "VARCHAR".into(),
        },
        "INT64" | "INTEGER" | "INT" | "SMALLINT" | "BIGINT" | "TINYINT" | "BYTEINT" => {
            "BIGINT".into()
        }
        "FLOAT64" | "FLOAT" => {
            if pg {
                "DOUBLE PRECISION".into()
            } else {
                "DOUBLE".into()
            }
        }
        "NUMERIC" | "DECIMAL" => match &args {
            Some(a) => format!("DECIMAL({a})"),
            None => "DECIMAL(38,9)".into(),
        },
        // BigQuery's BIGNUMERIC has up to 76 digits; the warehouse keeps 38.
        "BIGNUMERIC" | "BIGDECIMAL" => "DECIMAL(38,9)".into(),
        "BOOL" | "BOOLEAN" => "BOOLEAN".into(),
        "TIMESTAMP" => "TIMESTAMPTZ".into(),
        "DATE" => "DATE".into(),
        "DATETIME" => "TIMESTAMP".into(),
        "TIME" => "TIME".into(),
        "BYTES" => {
            if pg {
                "BYTEA".into()
            } else {
                "BLOB".into()
            }
        }
        "JSON" => {
            if pg {
                "JSONB".into()
            } else {
                "JSON".into()
            }
        }
        "GEOGRAPHY" => "VARCHAR".into(),
        other => {
            return Err(TaskError::Props(format!(
                "BigQuery type `{other}` is not supported here (STRING, INT64, FLOAT64, NUMERIC, BIGNUMERIC, BOOL, TIMESTAMP, DATE, DATETIME, TIME, BYTES, JSON, GEOGRAPHY are)"
            )));
        }
    };
    Ok(sql)
}

/// The BigQuery type of a warehouse column type, as `information_schema` spells it; `true`
/// when it is an array (mode REPEATED).
pub(crate) fn bq_type(data_type: &str) -> (String, bool) {
    let t = data_type.trim().to_ascii_uppercase();
    if let Some(inner) = t.strip_suffix("[]") {
        return (bq_type(inner).0, true);
    }
    let base = t.split('(').next().unwrap_or("").trim();
    let bq = match base {
        "VARCHAR" | "TEXT" | "CHARACTER VARYING" | "CHARACTER" | "CHAR" | "UUID" => "STRING",
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" | "HUGEINT" | "UBIGINT" | "UINTEGER"
        | "USMALLINT" | "UTINYINT" => "INT64",
        "DOUBLE" | "REAL" | "FLOAT" | "DOUBLE PRECISION" => "FLOAT64",
        "DECIMAL" | "NUMERIC" => "NUMERIC",
        "BOOLEAN" => "BOOL",
        "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" => "TIMESTAMP",
        "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => "DATETIME",
        "DATE" => "DATE",
        "TIME" | "TIME WITHOUT TIME ZONE" => "TIME",
        "BLOB" | "BYTEA" => "BYTES",
        "JSON" | "JSONB" => "JSON",
        "ARRAY" => return ("STRING".into(), true),
        _ => "STRING",
    };
    (bq.into(), false)
}

fn target(ctx: &TaskContext, url: Option<&str>) -> Result<Target, TaskError> {
    let url = bigquery_url(ctx, url);
    weir_warehouse::url::parse(&url, None, None).map_err(|e| TaskError::Props(e.to_string()))
}

/// Runs `statements` in one transaction, then `query` if any, on the warehouse.
async fn run(
    target: Target,
    statements: Vec<String>,
    query: Option<String>,
) -> Result<Option<Rows>, TaskError> {
    tokio::task::spawn_blocking(move || -> Result<Option<Rows>, TaskError> {
        let fail = |e: weir_warehouse::WarehouseError| TaskError::Failed(e.to_string());
        let mut w = weir_warehouse::connect(&target).map_err(fail)?;
        if !statements.is_empty() {
            w.begin().map_err(fail)?;
            for s in &statements {
                if let Err(e) = w.execute(s) {
                    let _ = w.rollback();
                    return Err(fail(e));
                }
            }
            w.commit().map_err(fail)?;
        }
        match query {
            Some(q) => Ok(Some(w.query(&q).map_err(fail)?)),
            None => Ok(None),
        }
    })
    .await
    .map_err(|e| TaskError::Failed(format!("the BigQuery task stopped unexpectedly: {e}")))?
}

async fn count(target: &Target, sql: String) -> Result<i64, TaskError> {
    let rows = run(target.clone(), vec![], Some(sql))
        .await?
        .unwrap_or_default();
    Ok(rows
        .rows
        .first()
        .and_then(|r| r.first())
        .and_then(Value::as_i64)
        .unwrap_or(0))
}

async fn dataset_exists(target: &Target, dataset: &str) -> Result<bool, TaskError> {
    let sql = format!(
        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = {}",
        quote_str(dataset)
    );
    Ok(count(target, sql).await? > 0)
}

async fn table_exists(target: &Target, t: &BqTable) -> Result<bool, TaskError> {
    let sql = format!(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = {} AND table_name = {}",
        quote_str(&t.dataset),
        quote_str(&t.table)
    );
    Ok(count(target, sql).await? > 0)
}

fn upper(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
}

fn log_project(ctx: &TaskContext, project: Option<&str>, target: &Target) {
    match project {
        Some(p) => ctx.log.info(&format!(
            "BigQuery project `{p}` runs on {target} (the project is not part of table names)"
        )),
        None => ctx.log.info(&format!("BigQuery runs on {target}")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetProps {
    name: String,
    project_id: Option<String>,
    url: Option<String>,
    if_exists: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    delete_contents: Option<bool>,
}

fn dataset_name(name: &str) -> Result<(Option<String>, String), TaskError> {
    let cleaned: String = name.trim().chars().filter(|c| *c != '`').collect();
    let cleaned = cleaned.replace(':', ".");
    match cleaned.split('.').collect::<Vec<_>>().as_slice() {
        [d] if !d.is_empty() => Ok((None, (*d).to_string())),
        [p, d] if !p.is_empty() && !d.is_empty() => Ok((Some((*p).to_string()), (*d).to_string())),
        _ => Err(TaskError::Props(format!(
            "`{name}` is not a dataset name: expected `dataset` or `project.dataset`"
        ))),
    }
}

pub async fn create_dataset(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: DatasetProps = ctx.props()?;
    let policy = upper(p.if_exists).unwrap_or_else(|| "ERROR".into());
    if !matches!(policy.as_str(), "ERROR" | "UPDATE" | "SKIP") {
        return Err(TaskError::Props(format!(
            "`ifExists` must be ERROR, UPDATE or SKIP, found `{policy}`"
        )));
    }
    let (project, dataset) = dataset_name(&p.name)?;
    let project = project.or(p.project_id);
    let target = target(ctx, p.url.as_deref())?;
    log_project(ctx, project.as_deref(), &target);
    let exists = dataset_exists(&target, &dataset).await?;
    match (exists, policy.as_str()) {
        (true, "ERROR") => {
            return Err(TaskError::Failed(format!(
                "dataset `{dataset}` already exists (set `ifExists: SKIP` or `UPDATE` to go on)"
            )));
        }
        (true, "UPDATE") => ctx
            .log
            .info(&format!("dataset `{dataset}` exists; nothing to update")),
        (true, _) => ctx
            .log
            .info(&format!("dataset `{dataset}` exists; skipped")),
        (false, _) => {
            run(
                target.clone(),
                vec![format!(
                    "CREATE SCHEMA IF NOT EXISTS {}",
                    quote_ident(&dataset)
                )],
                None,
            )
            .await?;
            ctx.log.info(&format!("created dataset `{dataset}`"));
        }
    }
    let mut out = Outputs::new();
    out.insert("datasetId".into(), dataset.into());
    out.insert(
        "projectId".into(),
        project.map(Value::from).unwrap_or(Value::Null),
    );
    Ok(out)
}

pub async fn delete_dataset(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: DatasetProps = ctx.props()?;
    let (project, dataset) = dataset_name(&p.name)?;
    let project = project.or(p.project_id);
    let target = target(ctx, p.url.as_deref())?;
    log_project(ctx, project.as_deref(), &target);
    if !dataset_exists(&target, &dataset).await? {
        return Err(TaskError::Failed(format!(
            "dataset `{dataset}` does not exist"
        )));
    }
    let cascade = if p.delete_contents == Some(true) {
        " CASCADE"
    } else {
        ""
    };
    run(
        target,
        vec![format!("DROP SCHEMA {}{cascade}", quote_ident(&dataset))],
        None,
    )
    .await
    .map_err(|e| match p.delete_contents {
        Some(true) => e,
        _ => TaskError::Failed(format!(
            "{e} (set `deleteContents: true` to delete its tables too)"
        )),
    })?;
    ctx.log.info(&format!("deleted dataset `{dataset}`"));
    let mut out = Outputs::new();
    out.insert("datasetId".into(), dataset.into());
    out.insert(
        "projectId".into(),
        project.map(Value::from).unwrap_or(Value::Null),
    );
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableProps {
    project_id: Option<String>,
    dataset: Option<String>,
    table: String,
    url: Option<String>,
    table_definition: Option<Value>,
    /// TableMetadata: ERROR (default) or SKIP when the table does not exist.
    if_not_exists: Option<String>,
}

impl TableProps {
    fn table(&self) -> Result<BqTable, TaskError> {
        split_table(
            &self.table,
            self.project_id.as_deref(),
            self.dataset.as_deref(),
        )
    }
}

/// `CREATE TABLE` for a `tableDefinition` (`schema.fields` with `name`, `type`, `mode`).
fn create_table_sql(
    t: &BqTable,
    definition: Option<&Value>,
    engine: Engine,
) -> Result<String, TaskError> {
    let fields = definition
        .and_then(|d| d.get("schema"))
        .and_then(|s| s.get("fields"))
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            TaskError::Props("`tableDefinition.schema.fields` must list the table's columns".into())
        })?;
    let mut columns = Vec::new();
    for f in fields {
        let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
            TaskError::Props(format!(
                "a field of `tableDefinition.schema.fields` has no `name`: {f}"
            ))
        })?;
        let ty = f.get("type").and_then(Value::as_str).unwrap_or("STRING");
        let mut sql = sql_type(ty, engine)?;
        match f
            .get("mode")
            .and_then(Value::as_str)
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("REPEATED") => sql.push_str("[]"),
            Some("REQUIRED") => sql.push_str(" NOT NULL"),
            _ => {}
        }
        columns.push(format!("{} {sql}", quote_ident(name)));
    }
    Ok(format!(
        "CREATE TABLE {}.{} ({})",
        quote_ident(&t.dataset),
        quote_ident(&t.table),
        columns.join(", ")
    ))
}

fn table_outputs(t: &BqTable) -> Outputs {
    let mut out = Outputs::new();
    out.insert(
        "projectId".into(),
        t.project.clone().map(Value::from).unwrap_or(Value::Null),
    );
    out.insert("datasetId".into(), t.dataset.clone().into());
    out.insert("table".into(), t.table.clone().into());
    out
}

pub async fn create_table(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: TableProps = ctx.props()?;
    let t = p.table()?;
    let target = target(ctx, p.url.as_deref())?;
    log_project(ctx, t.project.as_deref(), &target);
    let sql = create_table_sql(&t, p.table_definition.as_ref(), target.engine())?;
    if !dataset_exists(&target, &t.dataset).await? {
        return Err(TaskError::Failed(format!(
            "dataset `{}` does not exist (create it first with `io.kestra.plugin.gcp.bigquery.CreateDataset`)",
            t.dataset
        )));
    }
    if table_exists(&target, &t).await? {
        return Err(TaskError::Failed(format!(
            "table `{}.{}` already exists",
            t.dataset, t.table
        )));
    }
    run(target, vec![sql], None).await?;
    ctx.log
        .info(&format!("created table `{}.{}`", t.dataset, t.table));
    let mut out = table_outputs(&t);
    if let Some(d) = p.table_definition {
        out.insert("definition".into(), d);
    }
    Ok(out)
}

pub async fn delete_table(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: TableProps = ctx.props()?;
    let t = p.table()?;
    let target = target(ctx, p.url.as_deref())?;
    log_project(ctx, t.project.as_deref(), &target);
    if !table_exists(&target, &t).await? {
        return Err(TaskError::Failed(format!(
            "table `{}.{}` does not exist",
            t.dataset, t.table
        )));
    }
    run(
        target,
        vec![format!(
            "DROP TABLE {}.{}",
            quote_ident(&t.dataset),
            quote_ident(&t.table)
        )],
        None,
    )
    .await?;
    ctx.log
        .info(&format!("deleted table `{}.{}`", t.dataset, t.table));
    Ok(table_outputs(&t))
}

pub async fn table_metadata(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: TableProps = ctx.props()?;
    let t = p.table()?;
    let policy = upper(p.if_not_exists.clone()).unwrap_or_else(|| "ERROR".into());
    if !matches!(policy.as_str(), "ERROR" | "SKIP") {
        return Err(TaskError::Props(format!(
            "`ifNotExists` must be ERROR or SKIP, found `{policy}`"
        )));
    }
    let target = target(ctx, p.url.as_deref())?;
    log_project(ctx, t.project.as_deref(), &target);
    let sql = format!(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position",
        quote_str(&t.dataset),
        quote_str(&t.table)
    );
    let cols = run(target.clone(), vec![], Some(sql))
        .await?
        .unwrap_or_default();
    if cols.rows.is_empty() {
        return match policy.as_str() {
            "SKIP" => {
                ctx.log.info(&format!(
                    "table `{}.{}` does not exist; skipped",
                    t.dataset, t.table
                ));
                Ok(Outputs::new())
            }
            _ => Err(TaskError::Failed(format!(
                "table `{}.{}` does not exist",
                t.dataset, t.table
            ))),
        };
    }
    let fields: Vec<Value> = cols
        .rows
        .iter()
        .map(|r| {
            let text = |i: usize| r.get(i).and_then(Value::as_str).unwrap_or("").to_string();
            let (ty, repeated) = bq_type(&text(1));
            let mode = if repeated {
                "REPEATED"
            } else if text(2) == "NO" {
                "REQUIRED"
            } else {
                "NULLABLE"
            };
            json!({ "name": text(0), "type": ty, "mode": mode })
        })
        .collect();
    let rows = count(
        &target,
        format!(
            "SELECT count(*) FROM {}.{}",
            quote_ident(&t.dataset),
            quote_ident(&t.table)
        ),
    )
    .await?;
    let mut out = table_outputs(&t);
    out.insert("numRows".into(), rows.into());
    out.insert(
        "definition".into(),
        json!({ "type": "TABLE", "schema": { "fields": fields } }),
    );
    Ok(out)
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

    #[test]
    fn maps_types_both_ways() {
        let duck = |t: &str| sql_type(t, Engine::DuckDb).unwrap();
        assert_eq!(duck("STRING"), "VARCHAR");
        assert_eq!(duck("int64"), "BIGINT");
        assert_eq!(duck("FLOAT64"), "DOUBLE");
        assert_eq!(duck("NUMERIC"), "DECIMAL(38,9)");
        assert_eq!(duck("NUMERIC(10, 2)"), "DECIMAL(10, 2)");
        assert_eq!(duck("BOOL"), "BOOLEAN");
        assert_eq!(duck("TIMESTAMP"), "TIMESTAMPTZ");
        assert_eq!(duck("DATETIME"), "TIMESTAMP");
        assert_eq!(duck("DATE"), "DATE");
        assert_eq!(duck("BYTES"), "BLOB");
        assert_eq!(sql_type("BYTES", Engine::Postgres).unwrap(), "BYTEA");
        assert!(sql_type("RECORD", Engine::DuckDb).is_err());
        assert_eq!(
            bq_type("TIMESTAMP WITH TIME ZONE"),
            ("TIMESTAMP".into(), false)
        );
        assert_eq!(bq_type("DECIMAL(38,9)"), ("NUMERIC".into(), false));
        assert_eq!(bq_type("BIGINT[]"), ("INT64".into(), true));
        assert_eq!(bq_type("TIMESTAMP"), ("DATETIME".into(), false));
    }

    #[test]
    fn create_table_statement() {
        let t = split_table("p.d.t", None, None).unwrap();
        let def = json!({"schema": {"fields": [
            {"name": "id", "type": "INT64", "mode": "REQUIRED"},
            {"name": "tags", "type": "STRING", "mode": "REPEATED"}
        ]}});
        assert_eq!(
            create_table_sql(&t, Some(&def), Engine::DuckDb).unwrap(),
            "CREATE TABLE \"d\".\"t\" (\"id\" BIGINT NOT NULL, \"tags\" VARCHAR[])"
        );
        assert!(create_table_sql(&t, None, Engine::DuckDb).is_err());
    }
}
