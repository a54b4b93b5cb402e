//! Executions: create, read, search, kill, restart, replay, follow (SSE), their files in
//! internal storage, and webhooks.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::{Map, Value};
use weir_core::State as ExecState;
use weir_store::{ExecutionFilter, ExecutionRecord, KillOutcome, Store};

use super::wire::{self, ErrorBody, Execution, PagedExecutions};
use super::{ApiError, ApiState, Params, blocking};

/// How often a follow stream reads the store.
pub(super) const POLL: Duration = Duration::from_millis(200);
/// The largest request body read for inputs and webhooks.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// The execution with its task runs, as Kestra shows it.
pub(super) fn load(store: &dyn Store, id: &str) -> Result<Execution, ApiError> {
    let rec = store
        .get_execution(id)?
        .ok_or_else(|| ApiError::not_found(format!("execution `{id}` not found")))?;
    let runs = store.task_runs(id)?;
    Ok(wire::execution(&rec, &runs))
}

fn shape(store: &dyn Store, rec: &ExecutionRecord) -> Result<Execution, ApiError> {
    let runs = store.task_runs(&rec.id)?;
    Ok(wire::execution(rec, &runs))
}

/// A JSON value as the text an input is given as (strings as they are).
fn input_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Where the files of a multipart form go: the flow's folder of internal storage.
struct Uploads<'a> {
    storage: Option<&'a weir_storage::InternalStorage>,
    namespace: &'a str,
    flow_id: &'a str,
}

/// Inputs from Kestra's multipart form, a JSON object or a urlencoded form. A file part (a
/// FILE input) is streamed into internal storage and the input's value is its `kestra:///` URI.
async fn read_inputs(
    req: Request,
    uploads: Uploads<'_>,
) -> Result<Vec<(String, String)>, ApiError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        let mut form = Multipart::from_request(req, &())
            .await
            .map_err(|e| ApiError::invalid(format!("the multipart body is invalid: {e}")))?;
        let mut inputs = Vec::new();
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(format!("the multipart body is invalid: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_string();
            if let Some(file_name) = field.file_name().map(str::to_string) {
                let uri = upload(&uploads, &name, &file_name, field).await?;
                inputs.push((name, uri));
                continue;
            }
            let text = field.text().await.map_err(|e| {
                ApiError::invalid(format!("input `{name}` could not be read as text: {e}"))
            })?;
            inputs.push((name, text));
        }
        return Ok(inputs);
    }
    let body = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|e| ApiError::invalid(format!("the body could not be read: {e}")))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(vec![]);
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        return Ok(form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect());
    }
    if ctype.is_empty() || ctype.starts_with("application/json") {
        return match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), input_text(v))).collect()),
            _ => Err(ApiError::invalid(
                "the inputs must be a JSON object of input names to values",
            )),
        };
    }
    Err(ApiError::invalid(format!(
        "inputs are sent as multipart/form-data, application/json or application/x-www-form-urlencoded, not `{ctype}`"
    )))
}

/// Streams one file part into `kestra:///<namespace>/<flow>/inputs/<input>/<id>/<file name>`.
async fn upload(
    uploads: &Uploads<'_>,
    name: &str,
    file_name: &str,
    mut field: axum::extract::multipart::Field<'_>,
) -> Result<String, ApiError> {
    use tokio::io::AsyncWriteExt;
    let Some(storage) = uploads.storage else {
        return Err(ApiError::invalid(format!(
            "input `{name}` is a file upload, and this server has no internal storage"
        )));
    };
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or("");
    let base = if base.is_empty() || base == "." || base == ".." {
        "file"
    } else {
        base
    };
    let uri = format!(
        "kestra:///{}/{}/inputs/{name}/{}/{base}",
        uploads.namespace.replace('.', "/"),
        uploads.flow_id,
        weir_engine::ids::new_id()
    );
    let failed = |e: &dyn std::fmt::Display| {
        ApiError::invalid(format!("input `{name}`: the file could not be stored: {e}"))
    };
    let path = storage.create_path(&uri).map_err(|e| failed(&e))?;
    let mut f = tokio::fs::File::create(&path)
        .await
        .map_err(|e| failed(&e))?;
    while let Some(chunk) = field.chunk().await.map_err(|e| failed(&e))? {
        f.write_all(&chunk).await.map_err(|e| failed(&e))?;
    }
    f.flush().await.map_err(|e| failed(&e))?;
    Ok(uri)
}

#[utoipa::path(post, path = "/api/v1/executions/{namespace}/{flowId}", tag = "Executions",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("flowId" = String, Path, description = "The flow id"),
           ("labels" = Option<Vec<String>>, Query, description = "Labels as `key:value`, repeatable"),
           ("revision" = Option<i64>, Query, description = "The flow revision; the deployed one by default"),
           ("wait" = Option<bool>, Query, description = "Answer once the execution has ended")),
    request_body(description = "The inputs, by name", content(
        (Object = "multipart/form-data"),
        (Object = "application/json"),
        (Object = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The execution created (or ended, with `wait=true`)", body = Execution),
        (status = 404, description = "No such flow or revision", body = ErrorBody),
        (status = 422, description = "Invalid inputs, labels or parameters", body = ErrorBody),
    ))]
pub async fn create_execution(
    State(st): State<ApiState>,
    Path((namespace, flow_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<Json<Execution>, ApiError> {
    let p = Params::parse(q.as_deref());
    let labels = p.labels("labels")?;
    let revision = p.opt_i64("revision")?;
    let wait = p.bool("wait")?;
    let inputs = read_inputs(
        req,
        Uploads {
            storage: st.storage.as_deref(),
            namespace: &namespace,
            flow_id: &flow_id,
        },
    )
    .await?;
    let control = st.control.clone();
    let rec = blocking(move || {
        Ok(control.start_execution(&namespace, &flow_id, inputs, labels, revision)?)
    })
    .await?;
    let rec = if wait {
        st.control.wait(&rec.id).await?
    } else {
        rec
    };
    let store = st.store.clone();
    Ok(Json(blocking(move || shape(&*store, &rec)).await?))
}

#[utoipa::path(get, path = "/api/v1/executions/{executionId}", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id")),
    responses(
        (status = 200, description = "The execution", body = Execution),
        (status = 404, description = "No such execution", body = ErrorBody),
    ))]
pub async fn get_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    blocking(move || load(&*st.store, &id).map(Json)).await
}

fn states(p: &Params) -> Result<Vec<ExecState>, ApiError> {
    p.all("state")
        .into_iter()
        .map(|s| {
            ExecState::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "`{s}` is not a state ({})",
                    ExecState::ALL.map(ExecState::as_str).join(", ")
                ))
            })
        })
        .collect()
}

fn search(st: ApiState, filter: ExecutionFilter) -> Result<PagedExecutions, ApiError> {
    let total = st.store.count_executions(&filter)?;
    let results = st
        .store
        .list_executions(&filter)?
        .iter()
        .map(|e| shape(&*st.store, e))
        .collect::<Result<_, _>>()?;
    Ok(PagedExecutions { results, total })
}

#[utoipa::path(get, path = "/api/v1/executions/search", tag = "Executions",
    params(("namespace" = Option<String>, Query, description = "A namespace and the namespaces under it"),
           ("flowId" = Option<String>, Query, description = "The flow id"),
           ("state" = Option<Vec<String>>, Query, description = "States (CREATED, RUNNING, SUCCESS, …), repeatable"),
           ("labels" = Option<Vec<String>>, Query, description = "Labels as `key:value`, repeatable; all must match"),
           ("startDate" = Option<String>, Query, description = "Created at or after (ISO 8601)"),
           ("endDate" = Option<String>, Query, description = "Created at or before (ISO 8601)"),
           ("page" = Option<u64>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
           ("size" = Option<u64>, Query, minimum = 1, description = "The page size (default 10)")),
    responses((status = 200, description = "The executions that match, newest first", body = PagedExecutions)))]
pub async fn search_executions(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<PagedExecutions>, ApiError> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page()?;
    let filter = ExecutionFilter {
        namespace: p.get("namespace").map(str::to_string),
        flow_id: p.get("flowId").map(str::to_string),
        states: states(&p)?,
        labels: p.labels("labels")?,
        from: p.date("startDate")?,
        to: p.date("endDate")?,
        offset,
        limit: Some(limit),
    };
    blocking(move || search(st, filter).map(Json)).await
}

#[utoipa::path(get, path = "/api/v1/executions", tag = "Executions",
    params(("namespace" = String, Query, description = "The flow namespace"),
           ("flowId" = String, Query, description = "The flow id"),
           ("page" = Option<u64>, Query, minimum = 1, description = "The page, from 1 (default 1)"),
           ("size" = Option<u64>, Query, minimum = 1, description = "The page size (default 10)")),
    responses((status = 200, description = "The flow's executions, newest first", body = PagedExecutions)))]
pub async fn list_flow_executions(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
) -> Result<Json<PagedExecutions>, ApiError> {
    let p = Params::parse(q.as_deref());
    let (offset, limit) = p.page()?;
    let (Some(namespace), Some(flow_id)) = (p.get("namespace"), p.get("flowId")) else {
        return Err(ApiError::invalid("`namespace` and `flowId` are required"));
    };
    let namespace = namespace.to_string();
    let filter = ExecutionFilter {
        namespace: Some(namespace.clone()),
        flow_id: Some(flow_id.to_string()),
        offset,
        limit: Some(limit),
        ..Default::default()
    };
    blocking(move || {
        // The filter takes sub-namespaces too; this endpoint names one flow exactly.
        let mut page = search(st, filter)?;
        page.results.retain(|e| e.namespace == namespace);
        Ok(Json(page))
    })
    .await
}

#[utoipa::path(delete, path = "/api/v1/executions/{executionId}/kill", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id")),
    responses(
        (status = 202, description = "The kill was requested (or done, for an execution not started)"),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 409, description = "The execution has already ended", body = ErrorBody),
    ))]
pub async fn kill_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(move || match st.control.kill(&id)? {
        KillOutcome::Killed | KillOutcome::Requested => Ok(StatusCode::ACCEPTED),
        KillOutcome::AlreadyEnded(s) => Err(ApiError::Conflict(format!(
            "execution `{id}` has already ended ({s}), it cannot be killed"
        ))),
        KillOutcome::NotFound => Err(ApiError::not_found(format!("execution `{id}` not found"))),
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/executions/{executionId}/restart", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id")),
    responses(
        (status = 200, description = "The execution, restarted", body = Execution),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 422, description = "The execution cannot be restarted (it did not fail)", body = ErrorBody),
    ))]
pub async fn restart_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Execution>, ApiError> {
    blocking(move || {
        let rec = st.control.restart(&id)?;
        shape(&*st.store, &rec).map(Json)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/executions/{executionId}/resume", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id")),
    request_body(content = Object, description = "The Pause's `onResume` input values, as multipart/form-data (as Kestra sends them), a JSON object or a urlencoded form; none for a Pause without `onResume`", content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The execution, back in the queue to continue past its Pause", body = Execution),
        (status = 404, description = "No such execution", body = ErrorBody),
        (status = 422, description = "The execution is not PAUSED, or an onResume input is missing or invalid", body = ErrorBody),
    ))]
pub async fn resume_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    req: Request,
) -> Result<Json<Execution>, ApiError> {
    let inputs = read_inputs(
        req,
        Uploads {
            storage: None,
            namespace: "",
            flow_id: "",
        },
    )
    .await?;
    blocking(move || {
        let rec = st.control.resume(&id, &inputs)?;
        shape(&*st.store, &rec).map(Json)
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/executions/{executionId}/replay", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution to replay"),
           ("taskRunId" = Option<String>, Query, description = "The task run to replay from; the start by default")),
    responses(
        (status = 200, description = "The new execution", body = Execution),
        (status = 404, description = "No such execution or task run", body = ErrorBody),
        (status = 422, description = "The execution cannot be replayed", body = ErrorBody),
    ))]
pub async fn replay_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Execution>, ApiError> {
    let p = Params::parse(q.as_deref());
    let task_run = p.get("taskRunId").map(str::to_string);
    if p.get("revision").is_some() {
        return Err(ApiError::invalid(
            "`revision` is not supported: weir replays with the execution's own revision",
        ));
    }
    blocking(move || {
        let rec = st.control.replay(&id, task_run.as_deref())?;
        shape(&*st.store, &rec).map(Json)
    })
    .await
}

/// Polls `next` every `POLL` and sends what it returns until it says the stream is over.
pub(super) fn poll_stream<S, F>(state: S, next: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    S: Send + 'static,
    F: Fn(&mut S) -> Result<(Vec<Event>, bool), ApiError> + Send + Sync + 'static,
{
    let next = Arc::new(next);
    let init = (Some(state), true);
    futures::stream::unfold(init, move |(state, first)| {
        let next = next.clone();
        async move {
            let mut state = state?;
            if !first {
                tokio::time::sleep(POLL).await;
            }
            let res = tokio::task::spawn_blocking(move || {
                let r = next(&mut state);
                (state, r)
            })
            .await;
            let (events, more) = match res {
                Ok((state, Ok((events, done)))) => (events, (!done).then_some(state)),
                Ok((_, Err(e))) => (vec![error_event(&e)], None),
                Err(_) => (
                    vec![error_event(&ApiError::Internal(
                        "a follow stream failed".into(),
                    ))],
                    None,
                ),
            };
            Some((
                futures::stream::iter(events.into_iter().map(Ok)),
                (more, false),
            ))
        }
    })
    .flatten()
}

fn error_event(e: &ApiError) -> Event {
    let message = match e {
        ApiError::Internal(_) => "weir could not read the store; the cause is in the server's log",
        _ => "the stream ended on an error",
    };
    Event::default()
        .event("error")
        .data(serde_json::json!({ "message": message }).to_string())
}

#[utoipa::path(get, path = "/api/v1/executions/{executionId}/follow", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id")),
    responses(
        (status = 200, description = "Server-sent events: the execution as JSON on each change (event id `progress`), the last one (id `end`) once it has ended", body = wire::ServerSentEvent, content_type = "text/event-stream"),
        (status = 404, description = "No such execution", body = ErrorBody),
    ))]
pub async fn follow_execution(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let store = st.store.clone();
    let first_id = id.clone();
    blocking(move || load(&*store, &first_id).map(|_| ())).await?;
    let store = st.store.clone();
    let stream = poll_stream(None::<String>, move |last: &mut Option<String>| {
        let e = load(&*store, &id)?;
        let ended = matches!(
            e.state.current,
            wire::StateType::Success
                | wire::StateType::Warning
                | wire::StateType::Failed
                | wire::StateType::Killed
                | wire::StateType::Cancelled
                | wire::StateType::Skipped
        );
        let text = serde_json::to_string(&e).unwrap_or_default();
        let mut events = vec![];
        if last.as_deref() != Some(text.as_str()) {
            let event_id = if ended { "end" } else { "progress" };
            events.push(Event::default().id(event_id).data(text.clone()));
            *last = Some(text);
        }
        Ok((events, ended))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Header and query values by name, each name with all its values.
fn multimap<'a>(pairs: impl Iterator<Item = (String, &'a str)>) -> Value {
    let mut m: Map<String, Value> = Map::new();
    for (k, v) in pairs {
        let entry = m.entry(k).or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(a) = entry {
            a.push(Value::String(v.to_string()));
        }
    }
    Value::Object(m)
}

#[utoipa::path(method(get, post, put), path = "/api/v1/executions/webhook/{namespace}/{flowId}/{key}", tag = "Executions",
    params(("namespace" = String, Path, description = "The flow namespace"),
           ("flowId" = String, Path, description = "The flow id"),
           ("key" = String, Path, description = "The Webhook trigger's key")),
    request_body(description = "Any body: JSON when it parses as JSON, else text; it becomes `trigger.body`", content(("application/json"), ("text/plain"))),
    responses(
        (status = 200, description = "The execution started (Kestra's `WebhookResponse`: id, namespace, flowId, flowRevision, trigger, outputs, labels, state, url) or, when the trigger has `returnOutputs`, the ended execution's outputs", body = Object),
        (status = 404, description = "No such flow, or no Webhook trigger with this key", body = ErrorBody),
    ))]
pub async fn webhook(
    State(st): State<ApiState>,
    Path((namespace, flow_id, key)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body_value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    let header_values = multimap(
        headers
            .iter()
            .filter(|(name, _)| *name != header::AUTHORIZATION)
            .filter_map(|(name, v)| Some((name.as_str().to_string(), v.to_str().ok()?))),
    );
    let params = Params::parse(q.as_deref());
    let parameters = multimap(params.0.iter().map(|(k, v)| (k.clone(), v.as_str())));
    let variables = serde_json::json!({
        "body": body_value,
        "headers": header_values,
        "parameters": parameters,
    });
    let control = st.control.clone();
    let (rec, wait, return_outputs) =
        blocking(move || Ok(control.webhook(&namespace, &flow_id, &key, variables)?)).await?;
    let rec = if wait || return_outputs {
        st.control.wait(&rec.id).await?
    } else {
        rec
    };
    if return_outputs {
        return Ok(Json(match rec.outputs {
            Value::Object(m) => Value::Object(m),
            _ => Value::Object(Map::new()),
        }));
    }
    let shaped = wire::webhook_response(&rec);
    Ok(Json(serde_json::to_value(shaped).map_err(|e| {
        ApiError::Internal(format!("serialising a webhook answer: {e}"))
    })?))
}

/// The content type a stored file is served with, from its extension.
fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("tsv") => "text/tab-separated-values; charset=utf-8",
        Some("json") => "application/json",
        Some("jsonl" | "ndjson") => "application/x-ndjson",
        Some("ion") => "application/ion",
        Some("txt" | "log" | "md" | "sql") => "text/plain; charset=utf-8",
        Some("yaml" | "yml") => "application/yaml",
        Some("xml") => "application/xml",
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("parquet") => "application/vnd.apache.parquet",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        Some("gz") => "application/gzip",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

/// Where the files of an execution live in internal storage: `kestra:///ns/path/flow/executions/id/`.
fn execution_prefix(e: &ExecutionRecord) -> String {
    format!(
        "{}/{}/{}/executions/{}/",
        weir_storage::SCHEME,
        e.namespace.replace('.', "/"),
        e.flow_id,
        e.id
    )
}

#[utoipa::path(get, path = "/api/v1/executions/{executionId}/file", tag = "Executions",
    params(("executionId" = String, Path, description = "The execution id"),
           ("path" = String, Query, description = "The file's internal storage URI (`kestra:///…`); it must be one of this execution's files")),
    responses(
        (status = 200, description = "The file, with a content type from its extension and its name in `Content-Disposition`", content_type = "application/octet-stream"),
        (status = 404, description = "No such execution, or no such file", body = ErrorBody),
        (status = 422, description = "The path is not an internal storage URI of this execution", body = ErrorBody),
    ))]
pub async fn download_file(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let p = Params::parse(q.as_deref());
    let uri = p
        .get("path")
        .ok_or_else(|| ApiError::invalid("`path` is required: a `kestra:///…` URI"))?
        .to_string();
    let storage = st
        .storage
        .clone()
        .ok_or_else(|| ApiError::not_found("this server has no internal storage"))?;
    let store = st.store.clone();
    let path = blocking(move || {
        let rec = store
            .get_execution(&id)?
            .ok_or_else(|| ApiError::not_found(format!("execution `{id}` not found")))?;
        if !uri.starts_with(&execution_prefix(&rec)) {
            return Err(ApiError::invalid(format!(
                "`{uri}` is not a file of execution `{id}`"
            )));
        }
        storage.existing(&uri).map_err(|e| match e {
            weir_storage::StorageError::Missing { .. } => ApiError::not_found(e.to_string()),
            weir_storage::StorageError::Io { .. } => ApiError::Internal(e.to_string()),
            _ => ApiError::invalid(e.to_string()),
        })
    })
    .await?;
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(format!("opening `{}`: {e}", path.display())))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let ctype = content_type(&name);
    // A quoted filename: characters that would break the header become `_`.
    let safe: String = name
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() || !c.is_ascii() {
                '_'
            } else {
                c
            }
        })
        .collect();
    // Read in chunks: a file may be larger than memory. After an error the stream ends.
    let stream = futures::stream::unfold(Some(file), |f| async move {
        use tokio::io::AsyncReadExt;
        let mut f = f?;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut resp = axum::body::Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(ctype),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(len));
    }
    Ok(resp)
}
