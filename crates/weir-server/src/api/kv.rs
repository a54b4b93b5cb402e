//! The KV store of a namespace. Writes go straight to the store: they need no engine.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use serde_json::Value;
use weir_store::KvEntry;

use super::wire::{self, ErrorBody, KvKey, TypedValue};
use super::{ApiError, ApiState, blocking};

/// Kestra's rule for keys: a letter or digit, then letters, digits, `.`, `_` or `-`.
fn check_key(key: &str) -> Result<(), ApiError> {
    let mut chars = key.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{key}` is not a valid key: a letter or digit, then letters, digits, `.`, `_` or `-`"
        )))
    }
}

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/kv", tag = "KV",
    params(("namespace" = String, Path, description = "The namespace")),
    responses((status = 200, description = "The namespace's keys (expired ones left out)", body = Vec<KvKey>)))]
pub async fn list_keys(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<KvKey>>, ApiError> {
    blocking(move || {
        Ok(Json(
            st.store
                .kv_list(&namespace)?
                .iter()
                .map(wire::kv_key)
                .collect(),
        ))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "KV",
    params(("namespace" = String, Path, description = "The namespace"),
           ("key" = String, Path, description = "The key")),
    responses(
        (status = 200, description = "The value and its type", body = TypedValue),
        (status = 404, description = "No such key, or it expired", body = ErrorBody),
    ))]
pub async fn get_key(
    State(st): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<TypedValue>, ApiError> {
    blocking(move || match st.store.kv_get(&namespace, &key)? {
        Some(e) => Ok(Json(wire::typed_value(&e))),
        None => Err(ApiError::not_found(format!(
            "No value found for key '{key}' in namespace '{namespace}'"
        ))),
    })
    .await
}

/// The type Kestra gives a value written through the API.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Number(_) => "NUMBER",
        Value::Bool(_) => "BOOLEAN",
        Value::Object(_) | Value::Array(_) => "JSON",
        Value::String(_) | Value::Null => "STRING",
    }
}

#[utoipa::path(put, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "KV",
    params(("namespace" = String, Path, description = "The namespace"),
           ("key" = String, Path, description = "The key"),
           ("ttl" = Option<String>, Header, description = "Time to live, ISO 8601 (`PT1H`)")),
    request_body(description = "The value: JSON (`\"text\"`, `42`, `true`, `{…}`); a body that is not JSON is stored as a string",
        content(("application/json"), ("text/plain"))),
    responses(
        (status = 200, description = "Stored"),
        (status = 422, description = "Invalid key or TTL", body = ErrorBody),
    ))]
pub async fn put_key(
    State(st): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    check_key(&key)?;
    if namespace.trim().is_empty() {
        return Err(ApiError::invalid("the namespace is empty"));
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::invalid("the value is not UTF-8 text"))?;
    let value =
        serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.to_string()));
    let now = Utc::now();
    let expires = match headers.get("ttl") {
        None => None,
        Some(v) => {
            let ttl = v
                .to_str()
                .map_err(|_| ApiError::invalid("the `ttl` header is not text"))?;
            Some(
                KvEntry::expiry(ttl, now)
                    .map_err(|e| ApiError::invalid(format!("the `ttl` header: {e}")))?,
            )
        }
    };
    let entry = KvEntry {
        namespace,
        key,
        kind: kind_of(&value).to_string(),
        value,
        expires,
        updated: now,
    };
    blocking(move || {
        st.store.kv_set(&entry)?;
        Ok(StatusCode::OK)
    })
    .await
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/kv/{key}", tag = "KV",
    params(("namespace" = String, Path, description = "The namespace"),
           ("key" = String, Path, description = "The key")),
    responses((status = 200, description = "Whether the key existed", body = bool, content_type = "application/json")))]
pub async fn delete_key(
    State(st): State<ApiState>,
    Path((namespace, key)): Path<(String, String)>,
) -> Result<Json<bool>, ApiError> {
    blocking(move || Ok(Json(st.store.kv_delete(&namespace, &key)?))).await
}
