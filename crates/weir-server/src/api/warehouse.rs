//! SQL on a DuckDB warehouse file the server holds. DuckDB lets one process open a file, so
//! while a server runs on a home, `weir query` on a DuckDB file asks the server to run it. The
//! UI lists the configured warehouse's tables (`--warehouse`) and queries it here too.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::ErrorBody;
use super::{ApiError, ApiState, Params, blocking};

#[derive(Debug, Deserialize, ToSchema)]
pub struct QueryRequest {
    /// `jdbc:duckdb:PATH` of an existing DuckDB file (or `jdbc:duckdb:` for an in-memory one).
    pub url: String,
    /// The SQL to run.
    pub sql: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResult {
    pub columns: Vec<String>,
    /// Each row's values, in column order, in weir's canonical JSON form.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub rows: Vec<Vec<serde_json::Value>>,
}

#[utoipa::path(post, path = "/api/v1/warehouse/query", tag = "Warehouse",
    request_body = QueryRequest,
    responses(
        (status = 200, description = "The rows", body = QueryResult),
        (status = 404, description = "No such DuckDB file", body = ErrorBody),
        (status = 422, description = "Not a DuckDB URL, or the SQL failed", body = ErrorBody),
    ))]
pub async fn query(
    State(_): State<ApiState>,
    Json(req): Json<QueryRequest>,
) -> Result<Json<QueryResult>, ApiError> {
    blocking(move || {
        let mut w = open_duckdb(&req.url)?;
        let rows = w
            .query(&req.sql)
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(Json(QueryResult {
            columns: rows.columns,
            rows: rows.rows,
        }))
    })
    .await
}

/// A connection to an existing DuckDB file (or an in-memory one); anything else is refused.
fn open_duckdb(url: &str) -> Result<Box<dyn weir_warehouse::Warehouse>, ApiError> {
    let target = weir_warehouse::url::parse(url, None, None)
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    match &target {
        weir_warehouse::Target::DuckDb { path: Some(p) } if !p.is_file() => {
            return Err(ApiError::not_found(format!(
                "no DuckDB file at `{}`",
                p.display()
            )));
        }
        weir_warehouse::Target::DuckDb { .. } => {}
        weir_warehouse::Target::Postgres(_) => {
            return Err(ApiError::invalid(
                "only DuckDB files are queried through the server; connect to PostgreSQL or Redshift directly",
            ));
        }
    }
    weir_warehouse::connect(&target).map_err(|e| ApiError::invalid(e.to_string()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarehouseInfo {
    /// The warehouse given to `weir server --warehouse`, its password masked; `null` when none.
    pub url: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/warehouse", tag = "Warehouse",
    responses((status = 200, description = "The configured warehouse (weir's own endpoint)", body = WarehouseInfo)))]
pub async fn configured(State(st): State<ApiState>) -> Json<WarehouseInfo> {
    Json(WarehouseInfo {
        url: st.warehouse.as_deref().map(weir_warehouse::url::mask_url),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TableInfo {
    pub schema: String,
    pub name: String,
    /// `count(*)` of the table.
    pub rows: u64,
}

/// `"a""b"`: an identifier quoted for SQL.
fn quoted(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn text_of(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[utoipa::path(get, path = "/api/v1/warehouse/tables", tag = "Warehouse",
    params(("url" = Option<String>, Query, description = "`jdbc:duckdb:PATH` of an existing DuckDB file; the configured warehouse when not given")),
    responses(
        (status = 200, description = "The warehouse's tables with their row counts (weir's own endpoint)", body = Vec<TableInfo>),
        (status = 404, description = "No such DuckDB file", body = ErrorBody),
        (status = 422, description = "No URL given or configured, or not a DuckDB URL", body = ErrorBody),
    ))]
pub async fn tables(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<Vec<TableInfo>>, ApiError> {
    let p = Params::parse(q.as_deref());
    let url = p
        .get("url")
        .map(str::to_string)
        .or_else(|| st.warehouse.clone())
        .ok_or_else(|| {
            ApiError::invalid("no warehouse: give `url` or start the server with `--warehouse`")
        })?;
    blocking(move || {
        let mut w = open_duckdb(&url)?;
        let list = w
            .query(
                "SELECT table_schema, table_name FROM information_schema.tables \
                 WHERE table_type = 'BASE TABLE' \
                 AND table_schema NOT IN ('information_schema', 'pg_catalog') \
                 ORDER BY table_schema, table_name",
            )
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let mut out = Vec::with_capacity(list.rows.len());
        for row in &list.rows {
            let (schema, name) = match row.as_slice() {
                [s, n, ..] => (text_of(s), text_of(n)),
                _ => continue,
            };
            let counted = w
                .query(&format!(
                    "SELECT count(*) FROM {}.{}",
                    quoted(&schema),
                    quoted(&name)
                ))
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            let rows = counted
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.as_u64().or_else(|| text_of(v).parse().ok()))
                .unwrap_or(0);
            out.push(TableInfo { schema, name, rows });
        }
        Ok(Json(out))
    })
    .await
}
