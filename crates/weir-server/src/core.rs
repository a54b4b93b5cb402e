//! The server's core: the queue's workers, the scheduler (Schedule triggers, backfills, Flow
//! triggers) and every action of the API (`impl Control`).
//!
//! State lives in the store, never here: a worker claims an execution from the store, the
//! scheduler reads each trigger's last date from it and advances it in the same transaction as
//! the execution it creates. So a restart (or a second server on the same store) neither skips
//! nor repeats anything; what is kept in memory is only caches and metrics.

use crate::control::{Control, ControlError, Metrics, TriggerView};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};
use weir_core::{Diagnostic, State};
use weir_engine::{Engine, RunRequest};
use weir_flow::{Catalog, Flow};
use weir_schedule::{FinishedExecution, Schedule, TriggerDef};
use weir_store::{
    Advance, BackfillRecord, BackfillState, ExecutionFilter, ExecutionRecord, FlowRecord,
    KillOutcome, Store, TaskRunRecord,
};

/// How long an idle worker waits before looking at the store again (work queued by another
/// process, a concurrency slot freed elsewhere). Work queued here wakes it at once.
const IDLE_POLL: Duration = Duration::from_millis(150);
/// How often the scheduler looks at triggers and backfills.
const TICK: Duration = Duration::from_millis(500);
/// Task run duration buckets for `/metrics`, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0];

/// A trigger: `(namespace, flow, trigger id)`.
type TriggerKey = (String, String, String);
/// A precondition met, and when.
type Met = (String, DateTime<Utc>);

/// Something the server tells its operator (stderr in `weir server`).
pub type Notice = Arc<dyn Fn(&str) + Send + Sync>;

pub struct Core {
    store: Arc<dyn Store>,
    engine: Engine,
    catalog: Arc<Catalog>,
    workers: usize,
    /// Parsed flows by `(namespace, id, revision)`: a revision never changes.
    flows: Mutex<HashMap<(String, String, i64), Arc<Flow>>>,
    wake: Notify,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<()>>>>,
    metrics: Mutex<MetricsState>,
    /// Preconditions met so far per Flow trigger with several upstream flows:
    /// `(namespace, flow, trigger)` → (key met, when).
    preconditions: Mutex<HashMap<TriggerKey, Vec<Met>>>,
    notice: Notice,
}

#[derive(Default)]
struct MetricsState {
    ended: HashMap<State, u64>,
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

fn not_found(what: String) -> ControlError {
    ControlError::NotFound(what)
}

impl Core {
    pub fn new(
        store: Arc<dyn Store>,
        engine: Engine,
        catalog: Arc<Catalog>,
        workers: usize,
        notice: Notice,
    ) -> Arc<Core> {
        Arc::new(Core {
            store,
            engine,
            catalog,
            workers: workers.max(1),
            flows: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            waiters: Mutex::new(HashMap::new()),
            metrics: Mutex::new(MetricsState::default()),
            preconditions: Mutex::new(HashMap::new()),
            notice,
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A flow revision, parsed once.
    fn parsed(&self, record: &FlowRecord) -> Result<Arc<Flow>, Vec<Diagnostic>> {
        let key = (record.namespace.clone(), record.id.clone(), record.revision);
        if let Some(f) = self
            .flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(f.clone());
        }
        let name = format!("{}.{}@{}", record.namespace, record.id, record.revision);
        let flow = Arc::new(weir_flow::parse_flow(&name, &record.source, &self.catalog)?);
        self.flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, flow.clone());
        Ok(flow)
    }

    /// The deployed revision of a flow (or the given one), parsed.
    fn flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<i64>,
    ) -> Result<(FlowRecord, Arc<Flow>), ControlError> {
        let record =
            self.store
                .get_flow(namespace, id, revision)?
                .ok_or_else(|| match revision {
                    Some(r) => not_found(format!("flow `{namespace}.{id}` has no revision {r}")),
                    None => not_found(format!("flow `{namespace}.{id}` not found")),
                })?;
        let flow = self.parsed(&record).map_err(ControlError::Flow)?;
        Ok((record, flow))
    }

    /// Every deployed flow that parses.
    fn deployed(&self) -> Vec<(FlowRecord, Arc<Flow>)> {
        let Ok(list) = self.store.list_flows() else {
            return Vec::new();
        };
        list.into_iter()
            .filter_map(|r| self.parsed(&r).ok().map(|f| (r, f)))
            .collect()
    }

    /// A run request, its inputs typed and checked against the flow.
    fn request(
        flow: &Arc<Flow>,
        revision: i64,
        inputs: &[(String, String)],
        labels: Vec<(String, String)>,
        trigger: Value,
    ) -> Result<RunRequest, ControlError> {
        let inputs = weir_flow::resolve_inputs(flow, inputs).map_err(|errors| {
            ControlError::Invalid(format!(
                "invalid inputs for flow `{}.{}`: {}",
                flow.namespace,
                flow.id,
                errors.join("; ")
            ))
        })?;
        Ok(RunRequest {
            flow: flow.clone(),
            revision,
            inputs,
            labels,
            trigger,
            parent_id: None,
        })
    }

    /// Queues an execution and wakes a worker. `None` when `advance` was handled already.
    fn enqueue(
        &self,
        req: &RunRequest,
        advance: Option<Advance<'_>>,
    ) -> Result<Option<ExecutionRecord>, ControlError> {
        let record = self.engine.enqueue(req, advance).map_err(|e| match e {
            weir_engine::EngineError::Store(s) => ControlError::Store(s),
            other => ControlError::Invalid(other.to_string()),
        })?;
        if record.is_some() {
            self.wake.notify_one();
        }
        Ok(record)
    }

    // ---- workers ----

    /// One worker: claims executions from the store and runs them until `stop`.
    pub async fn worker(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let owner = weir_engine::current_owner();
        loop {
            if *stop.borrow() {
                return;
            }
            match self.store.claim_execution(owner) {
                Ok(Some(record)) => {
                    // Another worker may find more to do.
                    self.wake.notify_one();
                    self.run_claimed(record).await;
                    // A slot of the flow's concurrency may be free now.
                    self.wake.notify_one();
                }
                Ok(None) => {
                    tokio::select! {
                        _ = self.wake.notified() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(e) => {
                    (self.notice)(&format!("worker: could not read the queue: {e}"));
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    async fn run_claimed(&self, record: ExecutionRecord) {
        let id = record.id.clone();
        let flow = match self.flow(
            &record.namespace,
            &record.flow_id,
            Some(record.flow_revision),
        ) {
            Ok((_, f)) => f,
            Err(e) => {
                let msg = format!("cannot run: {e}");
                let _ = self.store.append_logs(&[weir_store::LogRecord {
                    execution_id: id.clone(),
                    task_run_id: None,
                    task_id: None,
                    attempt: None,
                    level: weir_store::Level::Error,
                    at: Utc::now(),
                    message: msg,
                }]);
                let _ = self.store.set_execution_state(&id, State::Failed);
                self.ended(&id);
                return;
            }
        };
        match self.engine.run_claimed(flow, record).await {
            Ok(outcome) if outcome.execution.state.is_terminated() => {
                self.ended(&id);
                self.after(&outcome.execution);
            }
            Ok(_) => {} // suspended: back in the queue
            Err(e) => (self.notice)(&format!("execution {id}: {e}")),
        }
    }

    /// Wakes whoever waits for an execution's end.
    fn ended(&self, id: &str) {
        if let Some(list) = self
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
        {
            for tx in list {
                let _ = tx.send(());
            }
        }
    }

    /// What follows an execution's end: metrics, `stopAfter`, Flow triggers.
    fn after(&self, e: &ExecutionRecord) {
        let runs = self.store.task_runs(&e.id).unwrap_or_default();
        self.record_metrics(e.state, &runs);
        if let Some(tid) = e.trigger.get("id").and_then(Value::as_str)
            && e.trigger.get("type").and_then(Value::as_str) == Some(weir_schedule::SCHEDULE)
            && let Ok((_, flow)) = self.flow(&e.namespace, &e.flow_id, None)
            && let Some(TriggerDef::Schedule(s)) = trigger_def(&flow, tid)
            && s.stop_after.contains(&e.state)
        {
            let _ = self
                .store
                .set_trigger_disabled(&e.namespace, &e.flow_id, tid, true);
            (self.notice)(&format!(
                "trigger `{tid}` of flow `{}.{}` disabled: an execution ended {} (stopAfter)",
                e.namespace, e.flow_id, e.state
            ));
        }
        self.fire_flow_triggers(e);
    }

    fn record_metrics(&self, state: State, runs: &[TaskRunRecord]) {
        let mut m = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        *m.ended.entry(state).or_default() += 1;
        for r in runs {
            if let (Some(s), Some(e)) = (r.started(), r.ended()) {
                let secs = (e - s).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                for (i, b) in BUCKETS.iter().enumerate() {
                    if secs <= *b {
                        m.buckets[i] += 1;
                    }
                }
                m.sum += secs;
                m.count += 1;
            }
        }
    }

    fn fire_flow_triggers(&self, e: &ExecutionRecord) {
        let finished = FinishedExecution {
            id: &e.id,
            namespace: &e.namespace,
            flow_id: &e.flow_id,
            flow_revision: e.flow_revision,
            state: e.state,
            labels: &e.labels,
            outputs: &e.outputs,
        };
        for (record, flow) in self.deployed() {
            if flow.disabled {
                continue;
            }
            for (_, def) in weir_schedule::triggers_of(&flow) {
                let Ok(TriggerDef::Flow(t)) = def else {
                    continue;
                };
                if t.disabled || self.trigger_disabled(&flow, &t.id) || !t.matches(&finished) {
                    continue;
                }
                let fire = match &t.preconditions {
                    Some(p) if !t.fires_alone(&finished) => {
                        let now = Utc::now();
                        let (start, _) = p.time_window.bounds(now);
                        let key = (flow.namespace.clone(), flow.id.clone(), t.id.clone());
                        let mut all = self.preconditions.lock().unwrap_or_else(|p| p.into_inner());
                        let met = all.entry(key).or_default();
                        met.retain(|(_, at)| *at >= start);
                        met.extend(p.met_by(&finished).into_iter().map(|k| (k, now)));
                        let keys = met.iter().map(|(k, _)| k.clone()).collect();
                        let complete = p.complete(&keys);
                        if complete && p.reset_on_success {
                            met.clear();
                        }
                        complete
                    }
                    _ => true,
                };
                if !fire {
                    continue;
                }
                let inputs = scalar_pairs(&t.inputs);
                let trigger = json!({"id": t.id, "type": weir_schedule::FLOW, "variables": t.variables(&finished)});
                let result =
                    Self::request(&flow, record.revision, &inputs, t.labels.clone(), trigger)
                        .and_then(|req| self.enqueue(&req, None));
                if let Err(err) = result {
                    (self.notice)(&format!(
                        "trigger `{}` of flow `{}.{}` could not start an execution: {err}",
                        t.id, flow.namespace, flow.id
                    ));
                }
            }
        }
    }

    fn trigger_disabled(&self, flow: &Flow, trigger_id: &str) -> bool {
        self.store
            .get_trigger(&flow.namespace, &flow.id, trigger_id)
            .ok()
            .flatten()
            .is_some_and(|t| t.disabled)
    }

    // ---- scheduler ----

    /// The scheduler: Schedule triggers and backfills, every `TICK`, until `stop`.
    pub async fn scheduler(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut first = true;
        loop {
            if *stop.borrow() {
                return;
            }
            self.tick(Utc::now(), first);
            first = false;
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// A Pause whose `timeout` passed with nobody resuming it: back in the queue, where a
    /// worker fails the Pause and the execution goes on to its `errors` and `finally`.
    fn overdue_pauses(&self, now: DateTime<Utc>) {
        let filter = weir_store::ExecutionFilter {
            states: vec![weir_core::State::Paused],
            ..Default::default()
        };
        let Ok(paused) = self.store.list_executions(&filter) else {
            return;
        };
        for e in paused {
            if e.owner
                .is_some_and(|o| weir_engine::is_alive(o.pid, o.start))
            {
                continue;
            }
            if weir_engine::resume::overdue(&*self.store, &e.id, now).unwrap_or(false)
                && matches!(self.store.resume_execution(&e.id, None), Ok(Some(_)))
            {
                (self.notice)(&format!(
                    "execution `{}`: its Pause was not resumed before its `timeout`",
                    e.id
                ));
                self.wake.notify_one();
            }
        }
    }

    /// One look at every trigger and backfill. `starting`: the first look after a start,
    /// when every past date counts as missed (the server was down).
    pub fn tick(&self, now: DateTime<Utc>, starting: bool) {
        self.overdue_pauses(now);
        for (record, flow) in self.deployed() {
            if flow.disabled {
                continue;
            }
            for (id, def) in weir_schedule::triggers_of(&flow) {
                match def {
                    Ok(TriggerDef::Schedule(s)) => {
                        if let Err(e) = self.schedule(&record, &flow, &s, now, starting) {
                            (self.notice)(&format!(
                                "trigger `{id}` of flow `{}.{}`: {e}",
                                flow.namespace, flow.id
                            ));
                        }
                    }
                    Ok(_) => {}
                    Err(e) if starting => (self.notice)(&format!(
                        "flow `{}.{}`: {e}; this trigger is not run",
                        flow.namespace, flow.id
                    )),
                    Err(_) => {}
                }
            }
        }
        if let Ok(backfills) = self.store.list_backfills() {
            for b in backfills
                .into_iter()
                .filter(|b| b.state == BackfillState::Running)
            {
                if let Err(e) = self.backfill_step(&b) {
                    (self.notice)(&format!("backfill {}: {e}", b.id));
                }
            }
        }
    }

    fn schedule(
        &self,
        record: &FlowRecord,
        flow: &Arc<Flow>,
        s: &Schedule,
        now: DateTime<Utc>,
        starting: bool,
    ) -> Result<(), ControlError> {
        if s.disabled {
            return Ok(());
        }
        let state = self.store.get_trigger(&flow.namespace, &flow.id, &s.id)?;
        if state.as_ref().is_some_and(|t| t.disabled) {
            return Ok(());
        }
        let Some(last) = state.and_then(|t| t.last_date) else {
            // First seen: nothing was missed; the first date is the next one from now.
            self.store
                .set_trigger_date(&flow.namespace, &flow.id, &s.id, now)?;
            return Ok(());
        };
        let due = if starting {
            s.due_with_grace(last, now, Duration::ZERO)
        } else {
            s.due(last, now)
        };
        let inputs = scalar_pairs(&s.inputs);
        for date in &due.run {
            let trigger = json!({"id": s.id, "type": weir_schedule::SCHEDULE, "variables": s.variables(*date)});
            let req = Self::request(flow, record.revision, &inputs, s.labels.clone(), trigger)?;
            let advance = Advance::Trigger {
                namespace: &flow.namespace,
                flow_id: &flow.id,
                trigger_id: &s.id,
                date: *date,
            };
            self.enqueue(&req, Some(advance))?;
        }
        if due.skipped > 0 {
            (self.notice)(&format!(
                "trigger `{}` of flow `{}.{}`: {} missed date(s) not run (recoverMissedSchedules / lateMaximumDelay)",
                s.id, flow.namespace, flow.id, due.skipped
            ));
        }
        if due.run.last().is_none_or(|d| *d < due.new_last) && due.new_last > last {
            self.store
                .set_trigger_date(&flow.namespace, &flow.id, &s.id, due.new_last)?;
        }
        Ok(())
    }

    /// One step of one backfill (for `weir backfill` without a server).
    pub fn backfill_tick(&self, id: &str) {
        if let Ok(Some(b)) = self.store.get_backfill(id)
            && b.state == BackfillState::Running
            && let Err(e) = self.backfill_step(&b)
        {
            (self.notice)(&format!("backfill {id}: {e}"));
        }
    }

    /// Makes a backfill's next executions: at most one per worker unfinished at a time, so a
    /// pause takes effect at once and the flow's concurrency is respected.
    fn backfill_step(&self, b: &BackfillRecord) -> Result<(), ControlError> {
        let (record, flow) = self.flow(&b.namespace, &b.flow_id, None)?;
        let Some(TriggerDef::Schedule(s)) = trigger_def(&flow, &b.trigger_id) else {
            self.store
                .set_backfill_state(&b.id, BackfillState::Cancelled)?;
            return Err(not_found(format!(
                "flow `{}.{}` has no Schedule trigger `{}` any more; backfill cancelled",
                b.namespace, b.flow_id, b.trigger_id
            )));
        };
        let unfinished = self.store.count_executions(&ExecutionFilter {
            namespace: Some(b.namespace.clone()),
            flow_id: Some(b.flow_id.clone()),
            states: vec![
                State::Created,
                State::Queued,
                State::Running,
                State::Restarted,
            ],
            labels: vec![("backfill".into(), "true".into())],
            ..Default::default()
        })?;
        let room = (self.workers as u64).saturating_sub(unfinished);
        if room == 0 {
            return Ok(());
        }
        let dates = s
            .dates_between(b.start, b.end)
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        let next: Vec<DateTime<Utc>> = dates
            .into_iter()
            .filter(|d| b.current.is_none_or(|c| *d > c))
            .collect();
        if next.is_empty() {
            self.store.set_backfill_state(&b.id, BackfillState::Done)?;
            return Ok(());
        }
        let mut inputs = scalar_pairs(&s.inputs);
        for (k, v) in scalar_pairs(b.inputs.as_object().unwrap_or(&serde_json::Map::new())) {
            inputs.retain(|(ik, _)| *ik != k);
            inputs.push((k, v));
        }
        let mut labels = s.labels.clone();
        for (k, v) in b
            .labels
            .iter()
            .cloned()
            .chain([("backfill".to_string(), "true".to_string())])
        {
            labels.retain(|(lk, _)| *lk != k);
            labels.push((k, v));
        }
        for date in next.iter().take(room as usize) {
            let trigger = json!({"id": s.id, "type": weir_schedule::SCHEDULE, "variables": s.variables(*date), "backfill": b.id});
            let req = Self::request(&flow, record.revision, &inputs, labels.clone(), trigger)?;
            self.enqueue(
                &req,
                Some(Advance::Backfill {
                    id: &b.id,
                    date: *date,
                }),
            )?;
        }
        if next.len() <= room as usize {
            self.store.set_backfill_state(&b.id, BackfillState::Done)?;
        }
        Ok(())
    }

    /// Deploys a flow file's source. `Ok(None)` when it is the revision deployed already.
    pub fn deploy_file(
        &self,
        file: &str,
        source: &str,
    ) -> Result<Option<FlowRecord>, Vec<Diagnostic>> {
        let flow = weir_flow::parse_flow(file, source, &self.catalog)?;
        let before = self
            .store
            .get_flow(&flow.namespace, &flow.id, None)
            .ok()
            .flatten()
            .map(|r| r.revision);
        match self
            .store
            .save_flow(&flow.namespace, &flow.id, source, true)
        {
            Ok(r) if Some(r.revision) == before => Ok(None),
            Ok(r) => Ok(Some(r)),
            Err(e) => Err(vec![Diagnostic::new(
                weir_core::Location {
                    file: file.into(),
                    line: 1,
                    column: 1,
                },
                format!("could not save the flow: {e}"),
            )]),
        }
    }

    /// Starts a backfill (see `Control::start_backfill`); usable without a server.
    #[allow(clippy::too_many_arguments)]
    pub fn new_backfill(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
    ) -> Result<BackfillRecord, ControlError> {
        let (record, flow) = self.flow(namespace, flow_id, None)?;
        let s = match trigger_def(&flow, trigger_id) {
            Some(TriggerDef::Schedule(s)) => s,
            Some(_) => {
                return Err(ControlError::Invalid(format!(
                    "trigger `{trigger_id}` of flow `{namespace}.{flow_id}` is not a Schedule; only schedules can be backfilled"
                )));
            }
            None => {
                return Err(not_found(format!(
                    "flow `{namespace}.{flow_id}` has no trigger `{trigger_id}`"
                )));
            }
        };
        if end < start {
            return Err(ControlError::Invalid(format!(
                "the backfill ends ({end}) before it starts ({start})"
            )));
        }
        let dates = s
            .dates_between(start, end)
            .map_err(|e| ControlError::Invalid(e.to_string()))?;
        // Inputs are checked now, not at the first date.
        let mut all = scalar_pairs(&s.inputs);
        for (k, v) in &inputs {
            all.retain(|(ik, _)| ik != k);
            all.push((k.clone(), v.clone()));
        }
        Self::request(&flow, record.revision, &all, Vec::new(), Value::Null)?;
        let b = BackfillRecord {
            id: weir_engine::ids::new_id(),
            namespace: namespace.into(),
            flow_id: flow_id.into(),
            trigger_id: trigger_id.into(),
            start,
            end,
            current: None,
            inputs: Value::Object(
                inputs
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
            labels,
            state: if dates.is_empty() {
                BackfillState::Done
            } else {
                BackfillState::Running
            },
            total: dates.len() as u64,
            created_count: 0,
            created: Utc::now(),
        };
        self.store.create_backfill(&b)?;
        Ok(b)
    }
}

/// A flow's trigger by id, parsed.
fn trigger_def(flow: &Flow, id: &str) -> Option<TriggerDef> {
    weir_schedule::triggers_of(flow)
        .into_iter()
        .find(|(tid, _)| tid == id)
        .and_then(|(_, d)| d.ok())
}

/// Trigger inputs (JSON values) as the text the input parser takes.
fn scalar_pairs(map: &serde_json::Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

impl Control for Core {
    fn flow_schema(&self) -> Value {
        weir_flow::schema::flow_schema(&self.catalog)
    }

    fn validate_flow(&self, source: &str) -> Vec<Diagnostic> {
        weir_flow::parse_flow("<flow>", source, &self.catalog)
            .err()
            .unwrap_or_default()
    }

    fn deploy_flow(&self, source: &str) -> Result<FlowRecord, ControlError> {
        let flow =
            weir_flow::parse_flow("<flow>", source, &self.catalog).map_err(ControlError::Flow)?;
        Ok(self
            .store
            .save_flow(&flow.namespace, &flow.id, source, true)?)
    }

    fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool, ControlError> {
        Ok(self.store.delete_flow(namespace, id)?)
    }

    fn start_execution(
        &self,
        namespace: &str,
        flow_id: &str,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
        revision: Option<i64>,
    ) -> Result<ExecutionRecord, ControlError> {
        let (record, flow) = self.flow(namespace, flow_id, revision)?;
        if flow.disabled {
            return Err(ControlError::Invalid(format!(
                "flow `{namespace}.{flow_id}` is disabled"
            )));
        }
        let req = Self::request(&flow, record.revision, &inputs, labels, Value::Null)?;
        self.enqueue(&req, None)?
            .ok_or_else(|| ControlError::Invalid("the execution was not created".into()))
    }

    fn kill(&self, id: &str) -> Result<KillOutcome, ControlError> {
        let outcome = self.store.request_kill(id)?;
        if outcome == KillOutcome::Requested {
            self.engine.kill(id);
        }
        if outcome == KillOutcome::Killed {
            self.ended(id);
        }
        Ok(outcome)
    }

    fn restart(&self, id: &str) -> Result<ExecutionRecord, ControlError> {
        let e = self
            .store
            .get_execution(id)?
            .ok_or_else(|| not_found(format!("execution `{id}` not found")))?;
        if !self.store.restart_execution(id)? {
            return Err(ControlError::Invalid(format!(
                "execution `{id}` is {}; only FAILED or KILLED executions can be restarted",
                e.state
            )));
        }
        self.wake.notify_one();
        self.store
            .get_execution(id)?
            .ok_or_else(|| not_found(format!("execution `{id}` not found")))
    }

    fn resume(
        &self,
        id: &str,
        inputs: &[(String, String)],
    ) -> Result<ExecutionRecord, ControlError> {
        let e = self
            .store
            .get_execution(id)?
            .ok_or_else(|| not_found(format!("execution `{id}` not found")))?;
        if let Some(o) = e.owner.filter(|o| weir_engine::is_alive(o.pid, o.start)) {
            return Err(ControlError::Invalid(format!(
                "execution `{id}` is paused for a set time by weir process {}; it resumes by itself",
                o.pid
            )));
        }
        if e.state == weir_core::State::Paused {
            let (_, flow) = self.flow(&e.namespace, &e.flow_id, Some(e.flow_revision))?;
            weir_engine::resume::prepare(&*self.store, &self.catalog, &flow, id, inputs).map_err(
                |err| match err {
                    weir_engine::resume::ResumeError::Store(s) => ControlError::from(s),
                    other => ControlError::Invalid(other.to_string()),
                },
            )?;
        }
        let Some(resumed) = self.store.resume_execution(id, None)? else {
            return Err(ControlError::Invalid(format!(
                "execution `{id}` is {}; only a PAUSED execution can be resumed",
                e.state
            )));
        };
        self.wake.notify_one();
        Ok(resumed)
    }

    fn replay(&self, id: &str, task_run_id: Option<&str>) -> Result<ExecutionRecord, ControlError> {
        let old = self
            .store
            .get_execution(id)?
            .ok_or_else(|| not_found(format!("execution `{id}` not found")))?;
        if !old.state.is_terminated() {
            return Err(ControlError::Invalid(format!(
                "execution `{id}` is {}; only an ended execution can be replayed",
                old.state
            )));
        }
        let (_, flow) = self.flow(&old.namespace, &old.flow_id, Some(old.flow_revision))?;
        let runs = self.store.task_runs(id)?;
        // Runs before the chosen one that ended well are kept; the chosen one's ancestors are
        // walked again (kept as unfinished), the rest runs anew.
        let (keep, ancestors) = match task_run_id {
            None => (0, Vec::new()),
            Some(tr) => {
                let pos = runs
                    .iter()
                    .position(|r| r.id == tr)
                    .ok_or_else(|| not_found(format!("execution `{id}` has no task run `{tr}`")))?;
                let mut ancestors = Vec::new();
                let mut parent = runs[pos].parent_id.clone();
                while let Some(p) = parent {
                    parent = runs
                        .iter()
                        .find(|r| r.id == p)
                        .and_then(|r| r.parent_id.clone());
                    ancestors.push(p);
                }
                (pos, ancestors)
            }
        };
        let req = RunRequest {
            flow: flow.clone(),
            revision: old.flow_revision,
            inputs: old.inputs.as_object().cloned().unwrap_or_default(),
            labels: old.labels.clone(),
            trigger: old.trigger.clone(),
            parent_id: old.parent_id.clone(),
        };
        let (mut record, _) = weir_engine::new_record(
            &self.engine,
            &req,
            Some(weir_store::QueueSlot {
                limit: flow
                    .concurrency
                    .filter(|c| c.behavior == weir_flow::ConcurrencyBehavior::Queue)
                    .map(|c| c.limit),
            }),
        );
        record.labels = old.labels.clone();
        record.original_id = Some(old.original_id.clone().unwrap_or_else(|| old.id.clone()));
        // Held by this process until its kept runs are copied, so no worker takes it half made.
        record.owner = Some(weir_engine::current_owner());
        self.store.create_execution(&record)?;
        let mut ids: HashMap<String, String> = HashMap::new();
        for r in &runs[..keep] {
            let ancestor = ancestors.contains(&r.id);
            let kept = matches!(r.state, State::Success | State::Warning | State::Skipped);
            let parent_kept = r.parent_id.as_ref().is_none_or(|p| ids.contains_key(p));
            if !(ancestor || kept) || !parent_kept {
                continue;
            }
            let new_id = weir_engine::ids::new_id();
            ids.insert(r.id.clone(), new_id.clone());
            let state = if ancestor { State::Running } else { r.state };
            let copy = TaskRunRecord {
                id: new_id,
                execution_id: record.id.clone(),
                parent_id: r.parent_id.as_ref().and_then(|p| ids.get(p).cloned()),
                state,
                history: vec![weir_store::StateChange {
                    state,
                    at: Utc::now(),
                    attempt: r.attempts.max(1),
                }],
                ..r.clone()
            };
            self.store.create_task_run(&copy)?;
        }
        self.store.release_execution(&record.id)?;
        self.wake.notify_one();
        Ok(self.store.get_execution(&record.id)?.unwrap_or(record))
    }

    fn webhook(
        &self,
        namespace: &str,
        flow_id: &str,
        key: &str,
        variables: Value,
    ) -> Result<(ExecutionRecord, bool, bool), ControlError> {
        let refused = || {
            ControlError::Forbidden(format!(
                "no webhook of flow `{namespace}.{flow_id}` has this key"
            ))
        };
        let (record, flow) = self.flow(namespace, flow_id, None).map_err(|_| refused())?;
        let hook = weir_schedule::triggers_of(&flow)
            .into_iter()
            .filter_map(|(_, d)| match d {
                Ok(TriggerDef::Webhook(w)) => Some(w),
                _ => None,
            })
            // Every key is compared, so the time taken does not tell which one came close.
            .fold(None, |found, w| {
                let m = w.key_matches(key);
                found.or(m.then_some(w))
            })
            .ok_or_else(refused)?;
        if flow.disabled || hook.disabled || self.trigger_disabled(&flow, &hook.id) {
            return Err(ControlError::Invalid(format!(
                "webhook `{}` of flow `{namespace}.{flow_id}` is disabled",
                hook.id
            )));
        }
        let trigger =
            json!({"id": hook.id, "type": weir_schedule::WEBHOOK, "variables": variables});
        let inputs = scalar_pairs(&hook.inputs);
        let req = Self::request(
            &flow,
            record.revision,
            &inputs,
            hook.labels.clone(),
            trigger,
        )?;
        let e = self
            .enqueue(&req, None)?
            .ok_or_else(|| ControlError::Invalid("the execution was not created".into()))?;
        Ok((e, hook.wait, hook.return_outputs))
    }

    fn wait(&self, id: &str) -> BoxFuture<'static, Result<ExecutionRecord, ControlError>> {
        let (tx, mut rx) = oneshot::channel();
        self.waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_string())
            .or_default()
            .push(tx);
        let store = self.store.clone();
        let id = id.to_string();
        async move {
            loop {
                // Registered first, then checked: an end in between is not missed. Executions
                // run by another process are seen by the periodic look.
                match store.get_execution(&id)? {
                    None => return Err(not_found(format!("execution `{id}` not found"))),
                    Some(e) if e.state.is_terminated() => return Ok(e),
                    Some(_) => {}
                }
                tokio::select! {
                    _ = &mut rx => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
        .boxed()
    }

    fn triggers(&self) -> Result<Vec<TriggerView>, ControlError> {
        let now = Utc::now();
        let backfills = self.store.list_backfills()?;
        let mut out = Vec::new();
        for (_, flow) in self.deployed() {
            for t in &flow.triggers {
                let state = self.store.get_trigger(&flow.namespace, &flow.id, &t.id)?;
                let def = trigger_def(&flow, &t.id);
                let last = state.as_ref().and_then(|s| s.last_date);
                let next = match &def {
                    Some(TriggerDef::Schedule(s)) => s.next_after(last.map_or(now, |l| l.max(now))),
                    _ => None,
                };
                out.push(TriggerView {
                    namespace: flow.namespace.clone(),
                    flow_id: flow.id.clone(),
                    trigger_id: t.id.clone(),
                    kind: t.type_name.clone(),
                    disabled: flow.disabled
                        || t.disabled
                        || state.as_ref().is_some_and(|s| s.disabled),
                    date: last,
                    next_execution_date: next,
                    backfill: backfills
                        .iter()
                        .find(|b| {
                            b.namespace == flow.namespace
                                && b.flow_id == flow.id
                                && b.trigger_id == t.id
                                && matches!(b.state, BackfillState::Running | BackfillState::Paused)
                        })
                        .cloned(),
                });
            }
        }
        Ok(out)
    }

    fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<(), ControlError> {
        let (_, flow) = self.flow(namespace, flow_id, None)?;
        if !flow.triggers.iter().any(|t| t.id == trigger_id) {
            return Err(not_found(format!(
                "flow `{namespace}.{flow_id}` has no trigger `{trigger_id}`"
            )));
        }
        Ok(self
            .store
            .set_trigger_disabled(namespace, flow_id, trigger_id, disabled)?)
    }

    fn start_backfill(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
    ) -> Result<BackfillRecord, ControlError> {
        let b = self.new_backfill(namespace, flow_id, trigger_id, start, end, inputs, labels)?;
        // The first executions now, not at the next tick.
        if b.state == BackfillState::Running {
            let _ = self.backfill_step(&b);
        }
        Ok(self.store.get_backfill(&b.id)?.unwrap_or(b))
    }

    fn set_backfill_state(
        &self,
        id: &str,
        state: BackfillState,
    ) -> Result<BackfillRecord, ControlError> {
        let b = self
            .store
            .get_backfill(id)?
            .ok_or_else(|| not_found(format!("backfill `{id}` not found")))?;
        let allowed = match (b.state, state) {
            (BackfillState::Running, BackfillState::Paused | BackfillState::Cancelled)
            | (BackfillState::Paused, BackfillState::Running | BackfillState::Cancelled) => true,
            (a, b) => a == b,
        };
        if !allowed {
            return Err(ControlError::Invalid(format!(
                "backfill `{id}` is {}; it cannot become {}",
                b.state.as_str(),
                state.as_str()
            )));
        }
        self.store.set_backfill_state(id, state)?;
        Ok(self.store.get_backfill(id)?.unwrap_or(b))
    }

    fn metrics(&self) -> Metrics {
        let queue_depth = self
            .store
            .count_executions(&ExecutionFilter {
                states: vec![State::Created, State::Queued, State::Restarted],
                ..Default::default()
            })
            .unwrap_or(0);
        let m = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        let mut ended: Vec<(String, u64)> = m
            .ended
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), *n))
            .collect();
        ended.sort();
        let mut buckets: Vec<(f64, u64)> = BUCKETS.iter().copied().zip(m.buckets).collect();
        buckets.push((f64::INFINITY, m.count));
        Metrics {
            queue_depth,
            running: self.engine.running() as u64,
            workers: self.workers as u64,
            ended,
            task_duration_buckets: buckets,
            task_duration_sum: m.sum,
            task_duration_count: m.count,
        }
    }
}
