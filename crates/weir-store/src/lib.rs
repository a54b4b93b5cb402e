//! Durable state of weir: flows with revisions, executions, task runs with their state history,
//! logs and the KV store.
//!
//! The `Store` trait is what the engine and the CLI talk to; `SqliteStore` is the embedded
//! implementation. The trait speaks only in weir's own records so a PostgreSQL implementation
//! can sit beside it without callers changing.

mod records;
mod sqlite;

pub use records::*;
pub use sqlite::SqliteStore;

use weir_core::State;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database error while {action}")]
    Database {
        action: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("could not open the state database at `{path}`")]
    Open {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the state database at `{path}` was written by a newer weir (schema {found}, this weir knows {known})"
    )]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Filters for listing executions; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct ExecutionFilter {
    /// The namespace or any namespace under it (`company` matches `company.team`).
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// Any of these states; empty means any state.
    pub states: Vec<State>,
    /// Every one of these labels.
    pub labels: Vec<(String, String)>,
    /// Created at or after / before.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Newest first: skip `offset`, return at most `limit`.
    pub offset: usize,
    pub limit: Option<usize>,
}

/// What creating an execution also records, in the same transaction, so that a crash can
/// neither lose a scheduled date nor run it twice.
#[derive(Debug, Clone, Copy)]
pub enum Advance<'a> {
    /// A Schedule trigger handled `date` (and every date before it).
    Trigger {
        namespace: &'a str,
        flow_id: &'a str,
        trigger_id: &'a str,
        date: chrono::DateTime<chrono::Utc>,
    },
    /// A backfill made its execution for `date`.
    Backfill {
        id: &'a str,
        date: chrono::DateTime<chrono::Utc>,
    },
}

/// What asking to kill an execution did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// It had not started: it is KILLED now.
    Killed,
    /// It is running: its process kills it at its next heartbeat.
    Requested,
    /// It had already ended in this state.
    AlreadyEnded(State),
    NotFound,
}

/// An execution found without its process, now FAILED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub execution_id: String,
    /// The task runs that were running when the process died: `(task run id, task id)`.
    pub interrupted: Vec<(String, String)>,
}

/// Is the process that owns an execution still alive? Given its pid and start token.
pub type LivenessCheck<'a> = &'a dyn Fn(u32, u64) -> bool;

/// The KV store alone: what KV tasks and the `kv()` template function may touch.
pub trait KvStore: Send + Sync {
    fn kv_set(&self, entry: &KvEntry) -> Result<()>;
    /// Expired entries are not returned.
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>>;
    fn kv_list(&self, namespace: &str) -> Result<Vec<KvEntry>>;
    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool>;
}

/// Appending log lines alone: what a task's logger may touch.
pub trait LogSink: Send + Sync {
    fn append_logs(&self, logs: &[LogRecord]) -> Result<()>;
}

/// Counting executions alone, read-only: what the `execution.Count` task may see.
pub trait ExecutionCounter: Send + Sync {
    /// How many executions match the filter (its `offset` and `limit` are ignored).
    fn count_matching(&self, filter: &ExecutionFilter) -> Result<u64>;
}

/// All of weir's state. Tasks never see it whole: they get a `KvStore`, a `LogSink` and an
/// `ExecutionCounter`, so "tasks never write execution state" is kept by the compiler.
pub trait Store: KvStore + LogSink + ExecutionCounter {
    /// Stores a flow's source; a new revision is made only when the source changed. `deploy`
    /// makes it the revision Subflows and `flows list` see; otherwise it is only recorded.
    fn save_flow(
        &self,
        namespace: &str,
        id: &str,
        source: &str,
        deploy: bool,
    ) -> Result<FlowRecord>;
    fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<i64>,
    ) -> Result<Option<FlowRecord>>;
    /// The latest deployed revision of every flow.
    fn list_flows(&self) -> Result<Vec<FlowRecord>>;

    fn create_execution(&self, execution: &ExecutionRecord) -> Result<()> {
        self.create_execution_advancing(execution, None).map(|_| ())
    }
    /// Creates an execution and records what it advances (a trigger's or a backfill's date)
    /// in one transaction. Returns `false`, creating nothing, when that date was already
    /// handled.
    fn create_execution_advancing(
        &self,
        execution: &ExecutionRecord,
        advance: Option<Advance<'_>>,
    ) -> Result<bool>;
    /// Hands the oldest queued execution that may start (its flow's concurrency allows it) to
    /// `owner`, as RUNNING; executions released by a stopped or dead worker are resumed the
    /// same way. Exactly one caller gets each execution.
    fn claim_execution(&self, owner: Owner) -> Result<Option<ExecutionRecord>>;
    /// Gives a queued execution back to the queue (its worker is stopping), keeping its state
    /// and task runs so that the next worker resumes it.
    fn release_execution(&self, id: &str) -> Result<()>;
    /// Gives back to the queue every queued execution whose worker process is gone; their
    /// interrupted task runs are marked FAILED for the attempt that was cut, as of when the
    /// process was last seen alive, so the resumed run starts a new attempt.
    fn release_orphans(&self, alive: LivenessCheck<'_>) -> Result<Vec<Orphan>>;
    /// Puts a FAILED or KILLED execution back in the queue as RESTARTED, for a worker to run
    /// again from its stored task runs. Returns whether it was restartable.
    fn restart_execution(&self, id: &str) -> Result<bool>;
    /// Takes a PAUSED execution out of its pause, as RUNNING: owned by `owner` (a process
    /// resuming it itself), or without one, back in the queue for a worker. Returns the
    /// execution, or `None` when it is not PAUSED.
    fn resume_execution(&self, id: &str, owner: Option<Owner>) -> Result<Option<ExecutionRecord>>;
    /// Kills an execution that has not started, or asks the process running it to.
    fn request_kill(&self, id: &str) -> Result<KillOutcome>;
    /// How many executions match (ignoring offset and limit).
    fn count_executions(&self, filter: &ExecutionFilter) -> Result<u64>;
    /// Every revision of a flow, oldest first.
    fn flow_revisions(&self, namespace: &str, id: &str) -> Result<Vec<FlowRecord>>;
    /// Undeploys every revision of a flow; its executions keep theirs. Returns whether it was deployed.
    fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool>;
    /// Log lines after the cursor `after` (0 for the start), with the cursor of each.
    fn logs_after(
        &self,
        execution_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LogRecord)>>;

    fn get_trigger(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<Option<TriggerRecord>>;
    fn list_triggers(&self) -> Result<Vec<TriggerRecord>>;
    /// Records a trigger's last handled date (creating its record when needed).
    fn set_trigger_date(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        date: chrono::DateTime<chrono::Utc>,
    ) -> Result<()>;
    fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<()>;

    fn create_backfill(&self, backfill: &BackfillRecord) -> Result<()>;
    fn get_backfill(&self, id: &str) -> Result<Option<BackfillRecord>>;
    /// Every backfill, newest first.
    fn list_backfills(&self) -> Result<Vec<BackfillRecord>>;
    fn set_backfill_state(&self, id: &str, state: BackfillState) -> Result<()>;
    /// Atomically moves a CREATED or QUEUED execution to RUNNING when fewer than `limit`
    /// executions of its flow are running. Returns whether it started.
    fn try_start_execution(&self, id: &str, limit: Option<u32>, owner: Owner) -> Result<bool>;
    fn set_execution_state(&self, id: &str, state: State) -> Result<()>;
    fn set_execution_labels(&self, id: &str, labels: &[(String, String)]) -> Result<()>;
    fn set_execution_outputs(&self, id: &str, outputs: &serde_json::Value) -> Result<()>;
    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>>;
    /// Finds an execution by a unique prefix of its id.
    fn find_execution(&self, id_prefix: &str) -> Result<Vec<String>>;
    fn list_executions(&self, filter: &ExecutionFilter) -> Result<Vec<ExecutionRecord>>;

    fn create_task_run(&self, run: &TaskRunRecord) -> Result<()>;
    /// Moves a task run to a new state, appending to its history.
    fn set_task_run_state(&self, id: &str, state: State, attempts: u32) -> Result<()>;
    fn set_task_run_outputs(&self, id: &str, outputs: &serde_json::Value) -> Result<()>;
    fn task_runs(&self, execution_id: &str) -> Result<Vec<TaskRunRecord>>;

    fn logs(&self, execution_id: &str) -> Result<Vec<LogRecord>>;

    /// Records that the process running execution `id` is alive now. Returns whether someone
    /// asked to kill it.
    fn heartbeat(&self, id: &str) -> Result<bool>;

    /// Marks FAILED every unfinished execution not run from the queue whose owning process is gone, with its
    /// unfinished task runs, as of when the process was last seen alive. Returns what it
    /// changed, so the caller can remove the interrupted task runs' partial files.
    fn fail_orphans(&self, alive: LivenessCheck<'_>) -> Result<Vec<Orphan>>;
}
