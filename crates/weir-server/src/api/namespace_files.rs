//! A namespace's files, as Kestra serves them: download, upload (multipart `fileContent`),
//! list one folder, delete. Paths are relative to the namespace's files, `/`-prefixed or not.

use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use weir_storage::{InternalStorage, StorageError};

use super::wire::ErrorBody;
use super::{ApiError, ApiState, Params, blocking};

/// One file or folder of a namespace folder.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileAttributes {
    pub file_name: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified_time: i64,
    pub creation_time: i64,
    /// `File` or `Directory`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub size: u64,
    pub read_only: bool,
}

fn storage_of(st: &ApiState) -> Result<std::sync::Arc<InternalStorage>, ApiError> {
    st.storage
        .clone()
        .ok_or_else(|| ApiError::not_found("this server has no internal storage"))
}

fn check_namespace(ns: &str) -> Result<(), ApiError> {
    if weir_flow::valid_namespace(ns) {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "`{ns}` is not a valid namespace: dot-separated words of letters, digits, `_` and `-`"
        )))
    }
}

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Missing { .. } => ApiError::not_found(e.to_string()),
        StorageError::Escapes { .. } => ApiError::invalid(e.to_string()),
        e => ApiError::Internal(e.to_string()),
    }
}

fn required_path(q: Option<&str>) -> Result<String, ApiError> {
    Params::parse(q)
        .get("path")
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid("`path` is required: the file's path, e.g. `/models/a.sql`")
        })
}

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files", tag = "Namespace files",
    params(("namespace" = String, Path, description = "The namespace"),
           ("path" = String, Query, description = "The file's path, e.g. `/models/a.sql`")),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 404, description = "No such file", body = ErrorBody),
    ))]
pub async fn get_file(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    check_namespace(&namespace)?;
    let path = required_path(q.as_deref())?;
    let storage = storage_of(&st)?;
    let bytes = blocking(move || {
        storage
            .read_namespace_file(&namespace, &path)
            .map_err(storage_error)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

#[utoipa::path(post, path = "/api/v1/namespaces/{namespace}/files", tag = "Namespace files",
    params(("namespace" = String, Path, description = "The namespace"),
           ("path" = String, Query, description = "Where to write the file, e.g. `/models/a.sql`; folders are created")),
    request_body(description = "Multipart form with the file as its `fileContent` part", content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Written (an existing file is replaced)"),
        (status = 422, description = "No `fileContent` part, or a path leaving the namespace", body = ErrorBody),
    ))]
pub async fn put_file(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    mut form: Multipart,
) -> Result<StatusCode, ApiError> {
    check_namespace(&namespace)?;
    let path = required_path(q.as_deref())?;
    let storage = storage_of(&st)?;
    let mut content = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::invalid(format!("the multipart body is invalid: {e}")))?
    {
        if field.name() == Some("fileContent") {
            content =
                Some(field.bytes().await.map_err(|e| {
                    ApiError::invalid(format!("`fileContent` could not be read: {e}"))
                })?);
        }
    }
    let content =
        content.ok_or_else(|| ApiError::invalid("the multipart body has no `fileContent` part"))?;
    blocking(move || {
        storage
            .put_namespace_file(&namespace, &path, &content)
            .map_err(storage_error)?;
        Ok(StatusCode::OK)
    })
    .await
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{namespace}/files", tag = "Namespace files",
    params(("namespace" = String, Path, description = "The namespace"),
           ("path" = String, Query, description = "The file or folder to delete")),
    responses(
        (status = 200, description = "Deleted"),
        (status = 404, description = "No such file or folder", body = ErrorBody),
    ))]
pub async fn delete_file(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<StatusCode, ApiError> {
    check_namespace(&namespace)?;
    let path = required_path(q.as_deref())?;
    let storage = storage_of(&st)?;
    blocking(move || {
        if storage
            .delete_namespace_file(&namespace, &path)
            .map_err(storage_error)?
        {
            Ok(StatusCode::OK)
        } else {
            Err(ApiError::not_found(format!(
                "namespace file `{path}` not found in namespace `{namespace}`"
            )))
        }
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/namespaces/{namespace}/files/directory", tag = "Namespace files",
    params(("namespace" = String, Path, description = "The namespace"),
           ("path" = Option<String>, Query, description = "The folder; the namespace's root by default")),
    responses(
        (status = 200, description = "The files and folders directly in the folder", body = Vec<FileAttributes>),
        (status = 404, description = "No such folder", body = ErrorBody),
    ))]
pub async fn list_directory(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<axum::Json<Vec<FileAttributes>>, ApiError> {
    check_namespace(&namespace)?;
    let path = Params::parse(q.as_deref())
        .get("path")
        .unwrap_or("/")
        .to_string();
    let storage = storage_of(&st)?;
    blocking(move || {
        let entries = storage
            .namespace_dir_entries(&namespace, &path)
            .map_err(storage_error)?;
        Ok(axum::Json(
            entries
                .into_iter()
                .map(|e| FileAttributes {
                    file_name: e.name,
                    last_modified_time: e.modified_ms,
                    creation_time: e.created_ms,
                    kind: if e.is_dir { "Directory" } else { "File" },
                    size: e.size,
                    read_only: false,
                })
                .collect(),
        ))
    })
    .await
}
