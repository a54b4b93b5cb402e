//! The JSON the API speaks, shaped like Kestra's models (`Execution`, `TaskRun`, `Flow`,
//! `LogEntry`, `KVEntry`, `Trigger`), and the conversions from weir's store records.
//!
//! Invariant: every type here that is a response is exactly what the handlers serialise, and
//! its `ToSchema` is the document's description of it; no field is left out of either.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use weir_core::State;
use weir_store::{
    BackfillRecord, BackfillState, ExecutionRecord, KvEntry, Level, LogRecord, StateChange,
    TaskRunRecord,
};

use crate::control::TriggerView;

/// An error: what went wrong, and for a flow source every problem with its line and column.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<Located>>,
}

/// One problem in a flow source (lines and columns are 1-based).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Located {
    pub message: String,
    pub line: u64,
    pub column: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Located {
    pub fn from_diagnostic(d: &weir_core::Diagnostic, line_offset: u64) -> Self {
        Located {
            message: d.message.clone(),
            line: d.location.line as u64 + line_offset,
            column: d.location.column as u64,
            hint: d.hint.clone(),
        }
    }
}

/// Kestra's state names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum StateType {
    Created,
    Queued,
    Running,
    Retrying,
    Success,
    Warning,
    Failed,
    Killed,
    Cancelled,
    Skipped,
    Restarted,
    Paused,
}

impl From<State> for StateType {
    fn from(s: State) -> Self {
        match s {
            State::Created => StateType::Created,
            State::Queued => StateType::Queued,
            State::Running => StateType::Running,
            State::Retrying => StateType::Retrying,
            State::Success => StateType::Success,
            State::Warning => StateType::Warning,
            State::Failed => StateType::Failed,
            State::Killed => StateType::Killed,
            State::Cancelled => StateType::Cancelled,
            State::Skipped => StateType::Skipped,
            State::Restarted => StateType::Restarted,
            State::Paused => StateType::Paused,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct History {
    pub state: StateType,
    pub date: DateTime<Utc>,
}

/// A state with how it got there: Kestra's `State` (`duration` is ISO 8601, e.g. `PT1.5S`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateJson {
    pub current: StateType,
    pub histories: Vec<History>,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub duration: Option<String>,
}

impl StateJson {
    /// `histories` must not be empty; its last entry is the current state.
    fn from_histories(current: State, histories: Vec<History>) -> Self {
        let start = histories.first().map(|h| h.date).unwrap_or_else(Utc::now);
        let end = current
            .is_terminated()
            .then(|| histories.last().map(|h| h.date))
            .flatten();
        StateJson {
            current: current.into(),
            start_date: start,
            end_date: end,
            duration: end.map(|e| iso_duration(e - start)),
            histories,
        }
    }
}

/// `PT1.234S`, as Java's `Duration.toString` writes it (seconds only, which Java also accepts).
fn iso_duration(d: chrono::TimeDelta) -> String {
    let ms = d.num_milliseconds().max(0);
    let (s, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        format!("PT{s}S")
    } else {
        format!("PT{s}.{frac:03}S")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Label {
    pub key: String,
    pub value: String,
}

pub fn labels(l: &[(String, String)]) -> Vec<Label> {
    l.iter()
        .map(|(k, v)| Label {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

/// A JSON object, or `None` for anything else (Kestra shows absent maps as null).
fn object(v: &Value) -> Option<Map<String, Value>> {
    match v {
        Value::Object(m) => Some(m.clone()),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub state: StateJson,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskRun {
    pub id: String,
    pub execution_id: String,
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    pub parent_task_run_id: Option<String>,
    /// The ForEach iteration value.
    pub value: Option<String>,
    pub state: StateJson,
    /// The task run's history grouped by attempt.
    pub attempts: Vec<Attempt>,
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Map<String, Value>>,
}

/// Kestra's `Execution` (with `url`, as the create, restart and replay answers have it).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i64,
    pub state: StateJson,
    pub labels: Vec<Label>,
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Map<String, Value>>,
    pub task_run_list: Vec<TaskRun>,
    pub original_id: Option<String>,
    pub parent_id: Option<String>,
    pub deleted: bool,
    /// Where the execution is shown: `/ui/executions/{namespace}/{flowId}/{id}`.
    pub url: String,
}

fn h(state: State, date: DateTime<Utc>) -> History {
    History {
        state: state.into(),
        date,
    }
}

/// The execution's history, from the dates the store keeps: CREATED, RUNNING when it started,
/// and its final state when it ended. A state in between (QUEUED, a RUNNING that has no start
/// date yet) is dated at the last date known.
pub fn execution_state(e: &ExecutionRecord) -> StateJson {
    let mut hs = vec![h(State::Created, e.created)];
    if let Some(s) = e.started {
        hs.push(h(State::Running, s));
    }
    let last = hs.last().map(|x| x.date).unwrap_or(e.created);
    if e.state.is_terminated() {
        hs.push(h(e.state, e.ended.unwrap_or(last)));
    } else if hs.last().map(|x| x.state) != Some(e.state.into()) {
        hs.push(h(e.state, last));
    }
    StateJson::from_histories(e.state, hs)
}

fn change_histories(changes: &[&StateChange]) -> Vec<History> {
    changes.iter().map(|c| h(c.state, c.at)).collect()
}

pub fn task_run(e: &ExecutionRecord, r: &TaskRunRecord) -> TaskRun {
    let all: Vec<&StateChange> = r.history.iter().collect();
    let mut hs = change_histories(&all);
    if hs.last().map(|x| x.state) != Some(r.state.into()) {
        let at = hs.last().map(|x| x.date).unwrap_or(e.created);
        hs.push(h(r.state, at));
    }
    // Attempts in the order they started; each one's last change is its state.
    let mut numbers: Vec<u32> = r.history.iter().map(|c| c.attempt).collect();
    numbers.dedup();
    numbers.sort_unstable();
    numbers.dedup();
    let attempts = numbers
        .into_iter()
        .filter_map(|n| {
            // weir records a failed attempt that will be retried as RETRYING; an attempt is over
            // then, and Kestra shows it FAILED.
            let changes: Vec<StateChange> = r
                .history
                .iter()
                .filter(|c| c.attempt == n)
                .map(|c| StateChange {
                    state: if c.state == State::Retrying {
                        State::Failed
                    } else {
                        c.state
                    },
                    ..c.clone()
                })
                .collect();
            let current = changes.last()?.state;
            let refs: Vec<&StateChange> = changes.iter().collect();
            Some(Attempt {
                state: StateJson::from_histories(current, change_histories(&refs)),
            })
        })
        .collect();
    TaskRun {
        id: r.id.clone(),
        execution_id: r.execution_id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        task_id: r.task_id.clone(),
        parent_task_run_id: r.parent_id.clone(),
        value: r.value.clone(),
        state: StateJson::from_histories(r.state, hs),
        attempts,
        outputs: object(&r.outputs),
    }
}

pub fn execution_url(e: &ExecutionRecord) -> String {
    format!("/ui/executions/{}/{}/{}", e.namespace, e.flow_id, e.id)
}

pub fn execution(e: &ExecutionRecord, runs: &[TaskRunRecord]) -> Execution {
    Execution {
        id: e.id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        flow_revision: e.flow_revision,
        state: execution_state(e),
        labels: labels(&e.labels),
        inputs: object(&e.inputs),
        outputs: object(&e.outputs),
        trigger: object(&e.trigger),
        task_run_list: runs.iter().map(|r| task_run(e, r)).collect(),
        original_id: e.original_id.clone(),
        parent_id: e.parent_id.clone(),
        deleted: false,
        url: execution_url(e),
    }
}

/// What a webhook answers when the trigger does not return outputs: Kestra's `WebhookResponse`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookResponse {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub flow_revision: i64,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub outputs: Option<Map<String, Value>>,
    pub labels: Vec<Label>,
    pub state: StateJson,
    pub url: String,
}

pub fn webhook_response(e: &ExecutionRecord) -> WebhookResponse {
    WebhookResponse {
        id: e.id.clone(),
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        flow_revision: e.flow_revision,
        trigger: object(&e.trigger),
        outputs: object(&e.outputs),
        labels: labels(&e.labels),
        state: execution_state(e),
        url: execution_url(e),
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PagedExecutions {
    pub results: Vec<Execution>,
    pub total: u64,
}

/// A flow revision as Kestra's `FlowWithSource`: the fixed fields below, plus every other
/// top-level key of the source (`tasks`, `inputs`, `triggers`, …) as JSON.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    pub revision: i64,
    pub source: String,
    pub deleted: bool,
    pub disabled: bool,
    pub updated: DateTime<Utc>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: Map<String, Value>,
}

const FLOW_FIXED: [&str; 7] = [
    "id",
    "namespace",
    "revision",
    "source",
    "deleted",
    "disabled",
    "updated",
];

pub fn flow(f: &weir_store::FlowRecord) -> Flow {
    let mut rest = match weir_flow::yaml::parse(&f.source).map(|n| n.to_json()) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let disabled = rest
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    for k in FLOW_FIXED {
        rest.remove(k);
    }
    Flow {
        id: f.id.clone(),
        namespace: f.namespace.clone(),
        revision: f.revision,
        source: f.source.clone(),
        deleted: !f.deployed,
        disabled,
        updated: f.updated,
        rest,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PagedFlows {
    pub results: Vec<Flow>,
    pub total: u64,
}

/// One flow of a validated source, as Kestra's `ValidateConstraintViolation`; `errors` is
/// weir's: the same problems, each located in the body sent.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResult {
    /// Which YAML document of the body (0-based; documents are separated by `---`).
    pub index: u64,
    pub flow: Option<String>,
    pub namespace: Option<String>,
    /// The problems, one per line; null when the flow is valid.
    pub constraints: Option<String>,
    pub outdated: bool,
    pub deprecation_paths: Vec<String>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    pub errors: Vec<Located>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<Level> for LogLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::Trace => LogLevel::Trace,
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// One event of a `text/event-stream` answer, as a client reads it (in OpenAPI 3.1 the schema
/// of an event stream describes each event). Only the document uses it: the handlers write
/// events with axum's `Event`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServerSentEvent {
    /// One JSON document: an `Execution` or a `LogEntry`, as the operation says.
    #[schema(content_media_type = "application/json")]
    pub data: String,
    /// The event type; `message` when the stream names none.
    pub event: Option<String>,
    /// The event id: `progress` or `end` for an execution, the line's number for logs.
    pub id: Option<String>,
    /// A reconnection delay in milliseconds (weir sends none).
    pub retry: Option<u64>,
}

/// Kestra's `LogEntry`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_id: Option<String>,
    pub task_run_id: Option<String>,
    pub attempt_number: Option<u32>,
    pub timestamp: DateTime<Utc>,
    pub level: LogLevel,
    pub message: String,
}

pub fn log_entry(e: &ExecutionRecord, l: &LogRecord) -> LogEntry {
    LogEntry {
        namespace: e.namespace.clone(),
        flow_id: e.flow_id.clone(),
        execution_id: l.execution_id.clone(),
        task_id: l.task_id.clone(),
        task_run_id: l.task_run_id.clone(),
        attempt_number: l.attempt,
        timestamp: l.at,
        level: l.level.into(),
        message: l.message.clone(),
    }
}

/// Kestra's `KVEntry` (weir keeps no description; the creation date is the last write).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KvKey {
    pub key: String,
    pub description: Option<String>,
    pub creation_date: DateTime<Utc>,
    pub update_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
}

pub fn kv_key(e: &KvEntry) -> KvKey {
    KvKey {
        key: e.key.clone(),
        description: None,
        creation_date: e.updated,
        update_date: e.updated,
        expiration_date: e.expires,
    }
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum KvType {
    String,
    Number,
    Boolean,
    Datetime,
    Date,
    Duration,
    Json,
}

/// Kestra's `TypedValue`: a KV value and its type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TypedValue {
    #[serde(rename = "type")]
    pub kind: KvType,
    pub value: Value,
}

pub fn typed_value(e: &KvEntry) -> TypedValue {
    let kind = match e.kind.as_str() {
        "NUMBER" => KvType::Number,
        "BOOLEAN" => KvType::Boolean,
        "DATETIME" => KvType::Datetime,
        "DATE" => KvType::Date,
        "DURATION" => KvType::Duration,
        "JSON" => KvType::Json,
        _ => KvType::String,
    };
    TypedValue {
        kind,
        value: e.value.clone(),
    }
}

/// A backfill as Kestra shows it inside a trigger, with weir's id, state and progress.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backfill {
    pub id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The last date an execution was made for.
    pub current_date: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Map<String, Value>>,
    pub labels: Vec<Label>,
    pub paused: bool,
    pub state: BackfillStateJson,
    pub total: u64,
    pub created_count: u64,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum BackfillStateJson {
    Running,
    Paused,
    Cancelled,
    Done,
}

pub fn backfill(b: &BackfillRecord) -> Backfill {
    Backfill {
        id: b.id.clone(),
        start: b.start,
        end: b.end,
        current_date: b.current,
        inputs: object(&b.inputs),
        labels: labels(&b.labels),
        paused: b.state == BackfillState::Paused,
        state: match b.state {
            BackfillState::Running => BackfillStateJson::Running,
            BackfillState::Paused => BackfillStateJson::Paused,
            BackfillState::Cancelled => BackfillStateJson::Cancelled,
            BackfillState::Done => BackfillStateJson::Done,
        },
        total: b.total,
        created_count: b.created_count,
    }
}

/// Kestra's `Trigger` (the trigger's context).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    /// The last scheduled date handled.
    pub date: Option<DateTime<Utc>>,
    pub next_execution_date: Option<DateTime<Utc>>,
    pub disabled: bool,
    pub backfill: Option<Backfill>,
}

pub fn trigger(t: &TriggerView) -> Trigger {
    Trigger {
        namespace: t.namespace.clone(),
        flow_id: t.flow_id.clone(),
        trigger_id: t.trigger_id.clone(),
        date: t.date,
        next_execution_date: t.next_execution_date,
        disabled: t.disabled,
        backfill: t.backfill.as_ref().map(backfill),
    }
}

/// The trigger as declared in the flow (weir shows its id and type).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AbstractTrigger {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerItem {
    pub abstract_trigger: AbstractTrigger,
    pub trigger_context: Trigger,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PagedTriggers {
    pub results: Vec<TriggerItem>,
    pub total: u64,
}

/// Names a trigger in a request body; other fields of Kestra's `Trigger` are accepted and
/// ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerRef {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

/// `PUT /triggers`: with `backfill`, starts a backfill; otherwise sets `disabled`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerUpdate {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub backfill: Option<BackfillRequest>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BackfillRequest {
    pub start: DateTime<Utc>,
    /// Now when absent.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub inputs: Option<Map<String, Value>>,
    #[serde(default)]
    pub labels: Option<Vec<Label>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SetDisabledRequest {
    pub triggers: Vec<TriggerRef>,
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResponse {
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// Always `UP` while the server answers.
    pub status: String,
}
