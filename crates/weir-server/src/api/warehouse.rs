//! SQL on a DuckDB warehouse file the server holds. DuckDB lets one process open a file, so
//! while a server runs on a home, `weir query` on a DuckDB file asks the server to run it.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::ErrorBody;
use super::{ApiError, ApiState, blocking};

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
        let target = weir_warehouse::url::parse(&req.url, None, None)
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
        let mut w = weir_warehouse::connect(&target).map_err(|e| ApiError::invalid(e.to_string()))?;
        let rows = w.query(&req.sql).map_err(|e| ApiError::invalid(e.to_string()))?;
        Ok(Json(QueryResult {
            columns: rows.columns,
            rows: rows.rows,
        }))
    })
    .await
}
