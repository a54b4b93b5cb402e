//! Task types: one module per family, a catalog naming them, and `run` dispatching to them.
//!
//! A task gets its rendered properties in a `TaskContext` and returns its outputs; it never
//! writes execution state (the engine does). Flowable tasks (If, ForEach, Subflow…) are in the
//! catalog for validation but are run by the engine, which owns child task runs.

pub mod catalog;
mod context;
mod core;
pub mod de;
mod http;
mod jdbc;
mod kv;
mod s3;
mod scripts;

pub use context::{HttpClient, Logger, TaskContext};

pub type Outputs = weir_flow::JsonMap;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task ran and failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// The rendered properties do not fit the task.
    #[error("invalid properties: {0}")]
    Props(String),
    #[error(transparent)]
    Storage(#[from] weir_storage::StorageError),
    #[error(transparent)]
    Store(#[from] weir_store::StoreError),
}

/// What a finished task reports: its outputs, and whether it ends as WARNING rather than SUCCESS.
#[derive(Debug, Default)]
pub struct TaskResult {
    pub outputs: Outputs,
    pub warning: bool,
}

impl From<Outputs> for TaskResult {
    fn from(outputs: Outputs) -> Self {
        TaskResult {
            outputs,
            warning: false,
        }
    }
}

/// Whether the engine must run this task type itself.
pub fn is_flowable(kind: &str) -> bool {
    use catalog::*;
    [
        &IF,
        &SWITCH,
        &FOR_EACH,
        &PARALLEL,
        &SEQUENTIAL,
        &SUBFLOW,
        &LABELS,
    ]
    .iter()
    .any(|s| s.name == kind)
}

/// Runs one attempt of a runnable task. `kind` is the canonical type name from the catalog.
pub async fn run(kind: &str, ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    use catalog::*;
    let k = |s: &weir_flow::TaskSpec| s.name == kind;
    if k(&LOG) {
        core::log(ctx).map(Into::into)
    } else if k(&RETURN) {
        core::return_value(ctx).map(Into::into)
    } else if k(&OUTPUT_VALUES) {
        core::output_values(ctx).map(Into::into)
    } else if k(&FAIL) {
        core::fail(ctx).map(Into::into)
    } else if k(&SLEEP) {
        core::sleep(ctx).await.map(Into::into)
    } else if k(&PURGE) {
        core::purge(ctx).map(Into::into)
    } else if k(&KV_SET) {
        kv::set(ctx).map(Into::into)
    } else if k(&KV_GET) {
        kv::get(ctx).map(Into::into)
    } else if k(&KV_DELETE) {
        kv::delete(ctx).map(Into::into)
    } else if k(&KV_GET_KEYS) {
        kv::get_keys(ctx).map(Into::into)
    } else if k(&DOWNLOAD) {
        http::download(ctx).await.map(Into::into)
    } else if k(&REQUEST) {
        http::request(ctx).await.map(Into::into)
    } else if k(&SHELL_COMMANDS) || k(&PYTHON_COMMANDS) {
        scripts::commands(ctx).await
    } else if k(&SHELL_SCRIPT) {
        scripts::script(ctx, "script.sh", &["/bin/sh"]).await
    } else if k(&DUCKDB_QUERY) || k(&POSTGRES_QUERY) || k(&REDSHIFT_QUERY) {
        jdbc::query(ctx).await.map(Into::into)
    } else if k(&POSTGRES_COPY_IN) {
        jdbc::copy_in(ctx).await.map(Into::into)
    } else if k(&POSTGRES_COPY_OUT) {
        jdbc::copy_out(ctx).await.map(Into::into)
    } else if k(&WEIR_LOAD) {
        jdbc::load(ctx).await.map(Into::into)
    } else if k(&PYTHON_SCRIPT) {
        let python =
            std::env::var(weir_core::env::WEIR_PYTHON).unwrap_or_else(|_| "python3".into());
        scripts::script(ctx, "script.py", &[python.as_str()]).await
    } else if k(&S3_UPLOAD) {
        s3::upload(ctx).await.map(Into::into)
    } else if k(&S3_DOWNLOAD) {
        s3::download(ctx).await.map(Into::into)
    } else if k(&S3_LIST) {
        s3::list(ctx).await.map(Into::into)
    } else if k(&S3_DELETE) {
        s3::delete(ctx).await.map(Into::into)
    } else if k(&S3_COPY) {
        s3::copy(ctx).await.map(Into::into)
    } else {
        Err(TaskError::Failed(format!(
            "task type `{kind}` is not runnable here; this is a bug in weir, please report it"
        )))
    }
}

/// An error with its causes, for messages: "what failed: why: deeper why".
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg
}
