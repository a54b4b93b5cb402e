//! The server's own endpoints: health, Prometheus metrics and the OpenAPI document.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use weir_core::State as ExecState;
use weir_store::ExecutionFilter;

use super::wire::{ErrorBody, Health};
use super::{ApiError, ApiState, blocking};

#[utoipa::path(get, path = "/health", tag = "Server",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "UP".into(),
    })
}

#[utoipa::path(get, path = "/api/v1/health", tag = "Server",
    responses((status = 200, description = "The server is up", body = Health)))]
pub async fn health_v1() -> Json<Health> {
    health().await
}

#[utoipa::path(get, path = "/metrics", tag = "Server",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
        (status = 500, description = "The store could not be read", body = ErrorBody),
    ))]
pub async fn metrics(State(st): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let store = st.store.clone();
    let counts = blocking(move || {
        ExecState::ALL
            .into_iter()
            .map(|s| {
                let filter = ExecutionFilter {
                    states: vec![s],
                    ..Default::default()
                };
                Ok((s, store.count_executions(&filter)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    let m = st.control.metrics();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "weir_queue_depth",
        "Executions waiting for a worker.",
        m.queue_depth,
    );
    gauge(
        "weir_executions_running",
        "Executions running in this server.",
        m.running,
    );
    gauge("weir_workers", "Workers of this server.", m.workers);
    let _ = writeln!(
        out,
        "# HELP weir_executions Executions in the store by state.\n# TYPE weir_executions gauge"
    );
    for (s, n) in counts {
        let _ = writeln!(out, "weir_executions{{state=\"{s}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP weir_executions_ended_total Executions ended since the server started, by state.\n# TYPE weir_executions_ended_total counter"
    );
    for (s, n) in &m.ended {
        let _ = writeln!(
            out,
            "weir_executions_ended_total{{state=\"{}\"}} {n}",
            label_value(s)
        );
    }
    let _ = writeln!(
        out,
        "# HELP weir_task_duration_seconds Task run durations since the server started.\n# TYPE weir_task_duration_seconds histogram"
    );
    let mut has_inf = false;
    for (le, n) in &m.task_duration_buckets {
        let le = if le.is_infinite() {
            has_inf = true;
            "+Inf".to_string()
        } else {
            le.to_string()
        };
        let _ = writeln!(out, "weir_task_duration_seconds_bucket{{le=\"{le}\"}} {n}");
    }
    if !has_inf {
        let _ = writeln!(
            out,
            "weir_task_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            m.task_duration_count
        );
    }
    let _ = writeln!(
        out,
        "weir_task_duration_seconds_sum {}\nweir_task_duration_seconds_count {}",
        m.task_duration_sum, m.task_duration_count
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// Escapes a Prometheus label value.
fn label_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "Server",
    responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi_json() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| super::openapi().to_pretty_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str())
}
