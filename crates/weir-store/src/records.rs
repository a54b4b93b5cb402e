//! The records the store keeps, as plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use weir_core::State;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRecord {
    pub namespace: String,
    pub id: String,
    pub revision: i64,
    pub source: String,
    pub updated: DateTime<Utc>,
    /// Deployed revisions are what Subflows and `flows list` see; a revision that was only run
    /// (`weir run FILE` without `--deploy`) is kept for its executions' sake.
    pub deployed: bool,
}

/// The process that runs an execution: its pid and a start token (so a reused pid is not
/// mistaken for the owner).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub pid: u32,
    pub start: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRecord {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i64,
    pub state: State,
    pub inputs: serde_json::Value,
    #[serde(serialize_with = "labels_as_map")]
    pub labels: Vec<(String, String)>,
    pub trigger: serde_json::Value,
    pub outputs: serde_json::Value,
    pub created: DateTime<Utc>,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    /// The execution this one replays, if any.
    pub original_id: Option<String>,
    /// The execution that started this one as a subflow, if any.
    pub parent_id: Option<String>,
    #[serde(skip)]
    pub owner: Option<Owner>,
    /// How it is run: by the process that created it (`weir run`), or from the queue by
    /// whichever worker claims it (the server), which also resumes it after a crash.
    #[serde(skip)]
    pub queue: Option<QueueSlot>,
}

/// An execution waiting in the queue: a worker claims it only while fewer than `limit`
/// executions of its flow run (the flow's `concurrency` with behavior QUEUE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSlot {
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateChange {
    pub state: State,
    pub at: DateTime<Utc>,
    /// The attempt this change belongs to (1 for the first).
    pub attempt: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRunRecord {
    pub id: String,
    pub execution_id: String,
    pub task_id: String,
    pub task_type: String,
    /// The flowable task run this one is a child of.
    pub parent_id: Option<String>,
    /// The iteration value for runs inside a ForEach.
    pub value: Option<String>,
    pub state: State,
    pub attempts: u32,
    pub outputs: serde_json::Value,
    /// Every state the run went through, oldest first: the Gantt chart is drawn from it.
    pub history: Vec<StateChange>,
}

impl TaskRunRecord {
    pub fn started(&self) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .find(|h| h.state == State::Running)
            .map(|h| h.at)
    }
    pub fn ended(&self) -> Option<DateTime<Utc>> {
        self.history
            .last()
            .filter(|h| h.state.is_terminated())
            .map(|h| h.at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_uppercase().as_str() {
            "TRACE" => Level::Trace,
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" => Level::Error,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogRecord {
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub attempt: Option<u32>,
    pub level: Level,
    pub at: DateTime<Utc>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KvEntry {
    pub namespace: String,
    pub key: String,
    pub value: serde_json::Value,
    /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON, as in Kestra.
    pub kind: String,
    pub expires: Option<DateTime<Utc>>,
    pub updated: DateTime<Utc>,
}

impl KvEntry {
    /// When an entry written at `now` with time-to-live `ttl` (ISO-8601, `PT1H`) expires.
    /// A TTL past the last date the store can hold is an error, not an overflow.
    pub fn expiry(ttl: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
        let d = weir_core::parse_duration(ttl).map_err(|e| e.to_string())?;
        chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .ok_or_else(|| {
                format!("ttl `{ttl}` ends after the last date weir can store (year 262143)")
            })
    }
}

/// Labels keep their order in memory but read as a map in JSON, as Kestra shows them.
fn labels_as_map<S: serde::Serializer>(
    labels: &[(String, String)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(labels.len()))?;
    for (k, v) in labels {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// What a Schedule trigger remembers between runs of the scheduler.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRecord {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The last date the scheduler handled (ran or skipped); the next run is after it.
    pub last_date: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub updated: DateTime<Utc>,
}

/// A backfill: one execution per scheduled date from `start` to `end`, made one at a time.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillRecord {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The last date an execution was created for; the next one is the first date after it.
    pub current: Option<DateTime<Utc>>,
    pub inputs: serde_json::Value,
    #[serde(serialize_with = "labels_as_map")]
    pub labels: Vec<(String, String)>,
    pub state: BackfillState,
    /// How many dates there are in all, and how many executions were made so far.
    pub total: u64,
    pub created_count: u64,
    pub created: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BackfillState {
    Running,
    Paused,
    Cancelled,
    Done,
}

impl BackfillState {
    pub fn as_str(self) -> &'static str {
        match self {
            BackfillState::Running => "RUNNING",
            BackfillState::Paused => "PAUSED",
            BackfillState::Cancelled => "CANCELLED",
            BackfillState::Done => "DONE",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => BackfillState::Running,
            "PAUSED" => BackfillState::Paused,
            "CANCELLED" => BackfillState::Cancelled,
            "DONE" => BackfillState::Done,
            _ => return None,
        })
    }
}
