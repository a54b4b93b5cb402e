//! What the HTTP API asks of the server: every action that changes state goes through
//! `Control`, while reads go straight to the `Store`. The server's core implements it.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;
use weir_core::Diagnostic;
use weir_store::{
    BackfillRecord, BackfillState, ExecutionRecord, FlowRecord, KillOutcome, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Unknown flow, execution, trigger or backfill (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// A request that cannot be done as asked: bad inputs, a wrong state (HTTP 422).
    #[error("{0}")]
    Invalid(String),
    /// A flow source with problems, each located (HTTP 422).
    #[error("the flow is invalid: {}", .0.iter().map(|d| d.message.as_str()).collect::<Vec<_>>().join("; "))]
    Flow(Vec<Diagnostic>),
    /// A webhook key that does not match (HTTP 404, as Kestra answers).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A trigger as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerView {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The Kestra type name, e.g. `io.kestra.plugin.core.trigger.Schedule`.
    #[serde(rename = "type")]
    pub kind: String,
    pub disabled: bool,
    /// The last scheduled date handled (Schedule triggers).
    pub date: Option<DateTime<Utc>>,
    pub next_execution_date: Option<DateTime<Utc>>,
    /// The running or paused backfill of this trigger, if any.
    pub backfill: Option<BackfillRecord>,
}

/// Live figures for `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    /// Executions waiting for a worker (CREATED or QUEUED in the queue).
    pub queue_depth: u64,
    /// Executions running in this server.
    pub running: u64,
    pub workers: u64,
    /// Executions ended, by final state, since the server started (state name, count).
    pub ended: Vec<(String, u64)>,
    /// Task run durations since the server started: `(upper bound in seconds, count)` buckets
    /// (cumulative, the last bound `+Inf`), their sum in seconds and count.
    pub task_duration_buckets: Vec<(f64, u64)>,
    pub task_duration_sum: f64,
    pub task_duration_count: u64,
}

pub trait Control: Send + Sync + 'static {
    /// Checks a flow source without saving it: every problem with its line and column.
    fn validate_flow(&self, source: &str) -> Vec<Diagnostic>;
    /// The flow JSON Schema of the task types this server runs (what the editor completes
    /// from); without a catalog, the schema of a flow with no task type.
    fn flow_schema(&self) -> Value {
        weir_flow::schema::flow_schema(&weir_flow::Catalog::default())
    }
    /// Validates and deploys a flow source: a new revision when it changed.
    fn deploy_flow(&self, source: &str) -> Result<FlowRecord, ControlError>;
    fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool, ControlError>;

    /// Queues an execution of the deployed flow (or of `revision`). Inputs are given as text,
    /// as on the command line and in Kestra's multipart form, and checked against the flow.
    fn start_execution(
        &self,
        namespace: &str,
        flow_id: &str,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
        revision: Option<i64>,
    ) -> Result<ExecutionRecord, ControlError>;
    fn kill(&self, id: &str) -> Result<KillOutcome, ControlError>;
    /// Restarts a failed or killed execution: runs that ended well are kept, the others run
    /// again as new attempts.
    fn restart(&self, id: &str) -> Result<ExecutionRecord, ControlError>;
    /// Resumes a PAUSED execution: back in the queue, a worker continues it past its Pause.
    /// `inputs` are the values of the Pause's `onResume` inputs, checked like flow inputs.
    fn resume(
        &self,
        id: &str,
        inputs: &[(String, String)],
    ) -> Result<ExecutionRecord, ControlError> {
        let _ = inputs;
        Err(ControlError::Invalid(format!(
            "execution `{id}` cannot be resumed here"
        )))
    }
    /// A new execution replaying `id` from task run `task_run_id` (or from the start).
    fn replay(&self, id: &str, task_run_id: Option<&str>) -> Result<ExecutionRecord, ControlError>;
    /// Starts the flow's Webhook trigger whose key is `key`; `variables` become `trigger.*`
    /// (body, headers, parameters). Returns the execution and whether the caller should wait
    /// for its end (the trigger's `wait`) and return its outputs (`returnOutputs`).
    fn webhook(
        &self,
        namespace: &str,
        flow_id: &str,
        key: &str,
        variables: Value,
    ) -> Result<(ExecutionRecord, bool, bool), ControlError>;
    /// Resolves with the execution once it has ended.
    fn wait(&self, id: &str) -> BoxFuture<'static, Result<ExecutionRecord, ControlError>>;

    fn triggers(&self) -> Result<Vec<TriggerView>, ControlError>;
    fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<(), ControlError>;
    /// Starts a backfill of a Schedule trigger from `start` to `end` (inclusive).
    #[allow(clippy::too_many_arguments)]
    fn start_backfill(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
    ) -> Result<BackfillRecord, ControlError>;
    /// Pauses (`Paused`), resumes (`Running`) or cancels (`Cancelled`) a backfill.
    fn set_backfill_state(
        &self,
        id: &str,
        state: BackfillState,
    ) -> Result<BackfillRecord, ControlError>;

    fn metrics(&self) -> Metrics;
}
