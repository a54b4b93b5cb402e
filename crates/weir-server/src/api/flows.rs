//! Flows: create, update, read, list, revisions, delete and validate, from YAML sources.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;

use super::wire::{self, ErrorBody, Flow, Located, PagedFlows, ValidateResult};
use super::{ApiError, ApiState, Params, blocking, paginate};

fn source_text(body: &Bytes) -> Result<String, ApiError> {
    let s = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("the flow source is not UTF-8 text"))?;
    if s.trim().is_empty() {
        return Err(ApiError::invalid("the flow source is empty"));
    }
    Ok(s.to_string())
}

/// The `namespace` and `id` a source declares, if it is YAML with both as text.
fn declared_ids(source: &str) -> Option<(String, String)> {
    let node = weir_flow::yaml::parse(source).ok()?;
    let ns = node.get("namespace")?.as_str()?.to_string();
    let id = node.get("id")?.as_str()?.to_string();
    Some((ns, id))
}

/// The source's ids, or its problems as a 422.
fn ids_or_problems(st: &ApiState, source: &str) -> Result<(String, String), ApiError> {
    if let Some(ids) = declared_ids(source) {
        return Ok(ids);
    }
    let problems = st.control.validate_flow(source);
    if problems.is_empty() {
        Err(ApiError::invalid(
            "the flow source has no `id` or `namespace`",
        ))
    } else {
        Err(ApiError::flow(&problems, 0))
    }
}

#[utoipa::path(post, path = "/api/v1/flows", tag = "Flows",
    request_body(content = String, content_type = "application/x-yaml", description = "The flow's YAML source"),
    responses(
        (status = 200, description = "The flow as created", body = Flow),
        (status = 422, description = "The source is invalid or the flow already exists", body = ErrorBody),
    ))]
pub async fn create_flow(State(st): State<ApiState>, body: Bytes) -> Result<Json<Flow>, ApiError> {
    let source = source_text(&body)?;
    blocking(move || {
        let (ns, id) = ids_or_problems(&st, &source)?;
        if st.store.get_flow(&ns, &id, None)?.is_some() {
            return Err(ApiError::invalid(format!(
                "Flow id already exists: `{ns}.{id}`; update it with PUT /api/v1/flows/{ns}/{id}"
            )));
        }
        let rec = st.control.deploy_flow(&source)?;
        Ok(Json(wire::flow(&rec)))
    })
    .await
}

#[utoipa::path(put, path = "/api/v1/flows/{namespace}/{id}", tag = "Flows",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("id" = String, Path, description = "The flow id")),
    request_body(content = String, content_type = "application/x-yaml", description = "The flow's new YAML source"),
    responses(
        (status = 200, description = "The flow as updated (a new revision when the source changed)", body = Flow),
        (status = 404, description = "No such flow", body = ErrorBody),
        (status = 422, description = "The source is invalid or names another flow", body = ErrorBody),
    ))]
pub async fn update_flow(
    State(st): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Flow>, ApiError> {
    let source = source_text(&body)?;
    blocking(move || {
        if st.store.get_flow(&namespace, &id, None)?.is_none() {
            return Err(ApiError::not_found(format!(
                "flow `{namespace}.{id}` not found"
            )));
        }
        let (ns, fid) = ids_or_problems(&st, &source)?;
        if ns != namespace || fid != id {
            return Err(ApiError::invalid(format!(
                "the source declares flow `{ns}.{fid}`, not `{namespace}.{id}`: a flow's namespace and id cannot change"
            )));
        }
        let rec = st.control.deploy_flow(&source)?;
        Ok(Json(wire::flow(&rec)))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/flows/{namespace}/{id}", tag = "Flows",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("id" = String, Path, description = "The flow id"),
           ("revision" = Option<i64>, Query, description = "A revision; the latest deployed one by default"),
           ("source" = Option<bool>, Query, description = "Accepted for Kestra; the source is always included")),
    responses(
        (status = 200, description = "The flow", body = Flow),
        (status = 404, description = "No such flow or revision", body = ErrorBody),
    ))]
pub async fn get_flow(
    State(st): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Json<Flow>, ApiError> {
    let p = Params::parse(q.as_deref());
    let revision = p.opt_i64("revision")?;
    p.bool("source")?;
    blocking(
        move || match st.store.get_flow(&namespace, &id, revision)? {
            Some(f) => Ok(Json(wire::flow(&f))),
            None => Err(ApiError::not_found(match revision {
                Some(r) => format!("flow `{namespace}.{id}` has no revision {r}"),
                None => format!("flow `{namespace}.{id}` not found"),
            })),
        },
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/flows/{namespace}/{id}", tag = "Flows",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("id" = String, Path, description = "The flow id")),
    responses(
        (status = 204, description = "The flow is deleted (its executions keep their revision)"),
        (status = 404, description = "No such flow", body = ErrorBody),
    ))]
pub async fn delete_flow(
    State(st): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    blocking(move || {
        if st.control.delete_flow(&namespace, &id)? {
            Ok(StatusCode::NO_CONTENT)
        } else {
            Err(ApiError::not_found(format!(
                "flow `{namespace}.{id}` not found"
            )))
        }
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/flows/{namespace}/{id}/revisions", tag = "Flows",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("id" = String, Path, description = "The flow id")),
    responses(
        (status = 200, description = "Every revision, oldest first", body = Vec<Flow>),
        (status = 404, description = "No such flow", body = ErrorBody),
    ))]
pub async fn flow_revisions(
    State(st): State<ApiState>,
    Path((namespace, id)): Path<(String, String)>,
) -> Result<Json<Vec<Flow>>, ApiError> {
    blocking(move || {
        let revs = st.store.flow_revisions(&namespace, &id)?;
        if revs.is_empty() {
            return Err(ApiError::not_found(format!(
                "flow `{namespace}.{id}` not found"
            )));
        }
        Ok(Json(revs.iter().map(wire::flow).collect()))
    })
    .await
}

fn in_namespace(ns: &str, prefix: &str) -> bool {
    ns == prefix
        || ns
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[utoipa::path(get, path = "/api/v1/flows/search", tag = "Flows",
    params(("namespace" = Option<String>, Query, description = "A namespace and the namespaces under it"),
           ("q" = Option<String>, Query, description = "Text the flow's id or namespace contains"),
           ("page" = Option<u64>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
           ("size" = Option<u64>, Query, minimum = 1, description = "The page size (default 10)")),
    responses((status = 200, description = "The deployed flows that match", body = PagedFlows)))]
pub async fn search_flows(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<PagedFlows>, ApiError> {
    let p = Params::parse(q.as_deref());
    let (offset, size) = p.page()?;
    let namespace = p.get("namespace").map(str::to_string);
    let text = p.get("q").map(str::to_lowercase);
    blocking(move || {
        let flows: Vec<_> = st
            .store
            .list_flows()?
            .into_iter()
            .filter(|f| {
                namespace
                    .as_deref()
                    .is_none_or(|n| in_namespace(&f.namespace, n))
            })
            .filter(|f| {
                text.as_deref().is_none_or(|t| {
                    f.id.to_lowercase().contains(t) || f.namespace.to_lowercase().contains(t)
                })
            })
            .collect();
        let (page, total) = paginate(flows, offset, size);
        Ok(Json(PagedFlows {
            results: page.iter().map(wire::flow).collect(),
            total,
        }))
    })
    .await
}

#[utoipa::path(get, path = "/api/v1/flows/{namespace}", tag = "Flows",
    params(("namespace" = String, Path, description = "The namespace (exactly)")),
    responses((status = 200, description = "The deployed flows of the namespace", body = Vec<Flow>)))]
pub async fn list_namespace(
    State(st): State<ApiState>,
    Path(namespace): Path<String>,
) -> Result<Json<Vec<Flow>>, ApiError> {
    blocking(move || {
        Ok(Json(
            st.store
                .list_flows()?
                .iter()
                .filter(|f| f.namespace == namespace)
                .map(wire::flow)
                .collect(),
        ))
    })
    .await
}

/// The YAML documents of a body, each with the line it starts on (0-based offset).
fn documents(source: &str) -> Vec<(String, u64)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 0u64;
    for (i, line) in source.lines().enumerate() {
        if line.trim_end() == "---" {
            if !current.trim().is_empty() {
                docs.push((std::mem::take(&mut current), start));
            }
            current.clear();
            start = i as u64 + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.trim().is_empty() || docs.is_empty() {
        docs.push((current, start));
    }
    docs
}

#[utoipa::path(post, path = "/api/v1/flows/validate", tag = "Flows",
    request_body(content = String, content_type = "application/x-yaml", description = "One or more flow sources separated by `---`"),
    responses((status = 200, description = "One result per flow; `constraints` is null for a valid one", body = Vec<ValidateResult>)))]
pub async fn validate_flows(
    State(st): State<ApiState>,
    body: Bytes,
) -> Result<Json<Vec<ValidateResult>>, ApiError> {
    let source = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("the flow source is not UTF-8 text"))?
        .to_string();
    blocking(move || {
        let results = documents(&source)
            .into_iter()
            .enumerate()
            .map(|(i, (doc, offset))| {
                let problems = st.control.validate_flow(&doc);
                let errors: Vec<Located> = problems
                    .iter()
                    .map(|d| Located::from_diagnostic(d, offset))
                    .collect();
                let ids = declared_ids(&doc);
                ValidateResult {
                    index: i as u64,
                    flow: ids.as_ref().map(|(_, id)| id.clone()),
                    namespace: ids.map(|(ns, _)| ns),
                    constraints: (!errors.is_empty()).then(|| {
                        errors
                            .iter()
                            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
                            .collect::<Vec<_>>()
                            .join("\n")
                    }),
                    outdated: false,
                    deprecation_paths: vec![],
                    warnings: vec![],
                    infos: vec![],
                    errors,
                }
            })
            .collect();
        Ok(Json(results))
    })
    .await
}
