//! Task types: one module per family, a catalog naming them, and `run` dispatching to them.
//!
//! A task gets its rendered properties in a `TaskContext` and returns its outputs; it never
//! writes execution state (the engine does). `registry.rs` is the one list of task types:
//! runnable ones carry their runner, flowable ones (If, ForEach, Subflow…) name the kind the
//! engine runs itself, since it owns child task runs.

mod bigquery;
mod bigquery_query;
pub mod catalog;
mod context;
mod core;
mod dbt_cli;
pub mod de;
mod execution_count;
mod gcs;
mod git;
mod http;
mod jdbc;
mod kv;
pub mod registry;
mod s3;
mod scripts;
mod storage_tasks;

pub use context::{HttpClient, Logger, TaskContext};
pub use registry::{Behavior, Flowable, TaskType, lookup};
pub use scripts::{collect_shared_outputs, prepare_shared_dir};

pub type Outputs = weir_flow::JsonMap;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task ran and failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// The task ran and failed, and has outputs to show anyway (a dbt build's node results,
    /// a script's exit code), as Kestra keeps a failed task run's outputs.
    #[error("{message}")]
    FailedWithOutputs { message: String, outputs: Outputs },
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
