//! An execution's log lines: all at once, or followed as server-sent events.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use weir_store::{ExecutionRecord, Level};

use super::executions::poll_stream;
use super::wire::{self, ErrorBody, LogEntry};
use super::{ApiError, ApiState, Params, blocking};

/// Log lines read from the store at a time while following.
const BATCH: usize = 500;

fn execution(st: &ApiState, id: &str) -> Result<ExecutionRecord, ApiError> {
    st.store
        .get_execution(id)?
        .ok_or_else(|| ApiError::not_found(format!("execution `{id}` not found")))
}

#[utoipa::path(get, path = "/api/v1/logs/{executionId}", tag = "Logs",
    params(("executionId" = String, Path, description = "The execution id"),
           ("minLevel" = Option<String>, Query, description = "The lowest level shown: TRACE, DEBUG, INFO, WARN or ERROR"),
           ("taskRunId" = Option<String>, Query, description = "Only this task run's lines"),
           ("taskId" = Option<String>, Query, description = "Only this task's lines")),
    responses(
        (status = 200, description = "The execution's log lines, oldest first", body = Vec<LogEntry>),
        (status = 404, description = "No such execution", body = ErrorBody),
    ))]
pub async fn list_logs(
    State(st): State<ApiState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Json<Vec<LogEntry>>, ApiError> {
    let p = Params::parse(q.as_deref());
    let min = match p.get("minLevel") {
        None => Level::Trace,
        Some(l) => Level::parse(l).ok_or_else(|| {
            ApiError::invalid(format!(
                "`{l}` is not a log level (TRACE, DEBUG, INFO, WARN, ERROR)"
            ))
        })?,
    };
    let task_run = p.get("taskRunId").map(str::to_string);
    let task = p.get("taskId").map(str::to_string);
    blocking(move || {
        let e = execution(&st, &id)?;
        Ok(Json(
            st.store
                .logs(&id)?
                .iter()
                .filter(|l| l.level >= min)
                .filter(|l| task_run.is_none() || l.task_run_id == task_run)
                .filter(|l| task.is_none() || l.task_id == task)
                .map(|l| wire::log_entry(&e, l))
                .collect(),
        ))
    })
    .await
}

struct Follow {
    cursor: i64,
    /// The execution was seen ended: one more read after it, then the stream ends.
    ended_seen: bool,
}

#[utoipa::path(get, path = "/api/v1/logs/{executionId}/follow", tag = "Logs",
    params(("executionId" = String, Path, description = "The execution id")),
    responses(
        (status = 200, description = "Server-sent events: each log line as a JSON LogEntry, from the first; the stream ends once the execution has ended and every line was sent", body = wire::ServerSentEvent, content_type = "text/event-stream"),
        (status = 404, description = "No such execution", body = ErrorBody),
    ))]
pub async fn follow_logs(
    State(st): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let check = st.clone();
    let first_id = id.clone();
    blocking(move || execution(&check, &first_id).map(|_| ())).await?;
    let state = Follow {
        cursor: 0,
        ended_seen: false,
    };
    let stream = poll_stream(state, move |f: &mut Follow| {
        // Read the state before the lines: a line written before the end is then always read.
        let e = execution(&st, &id)?;
        let ended = e.state.is_terminated();
        let mut events = vec![];
        loop {
            let batch = st.store.logs_after(&id, f.cursor, BATCH)?;
            let n = batch.len();
            for (cursor, line) in batch {
                f.cursor = cursor;
                let data = serde_json::to_string(&wire::log_entry(&e, &line)).unwrap_or_default();
                events.push(Event::default().id(cursor.to_string()).data(data));
            }
            if n < BATCH {
                break;
            }
        }
        let done = f.ended_seen;
        f.ended_seen = ended;
        Ok((events, done))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
