//! Walking one execution: the task tree, retries, timeouts, errors/finally, concurrency, kills.

use crate::context::{self, Scope, TaskRunInfo};
use crate::ids::new_id;
use crate::{Engine, EngineError, Event, Outcome, RunRequest};
use chrono::Utc;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use weir_core::State;
use weir_flow::{ConcurrencyBehavior, Flow, Task};
use weir_store::{ExecutionRecord, Level, StateChange, TaskRunRecord};
use weir_tasks::registry::Runner;
use weir_tasks::{Behavior, Flowable, Logger, TaskContext, TaskError};
use weir_template::Context;

mod flowables;

struct Exec {
    engine: Engine,
    flow: Arc<Flow>,
    id: String,
    /// The template names fixed for the whole execution (inputs, vars, trigger, execution…).
    base: Arc<Value>,
    /// `{"outputs": {…}}`, shared with contexts being rendered; written copy-on-write.
    outputs: Mutex<Arc<Value>>,
    labels: Mutex<Vec<(String, String)>>,
    log: Logger,
    failure: Mutex<Option<String>>,
    killed: AtomicBool,
    /// Set to kill this execution alone (an API kill, a kill asked through the store).
    kill: watch::Sender<bool>,
    /// Task runs recorded before this process took the execution (a resumed, restarted or
    /// replayed execution), by where they sit in the tree: they are reused, not run again.
    prior: Mutex<HashMap<RunKey, TaskRunRecord>>,
}

/// Where a task run sits in the tree: its parent run, its task and its iteration value.
type RunKey = (Option<String>, String, Option<String>);

enum AttemptError {
    Failed(String),
    /// A failure that still produced outputs; they are stored if no attempt follows.
    FailedWithOutputs(String, Map<String, Value>),
    Killed,
}

impl AttemptError {
    fn from_task(e: TaskError) -> AttemptError {
        match e {
            TaskError::FailedWithOutputs { message, outputs } => {
                AttemptError::FailedWithOutputs(message, outputs)
            }
            e => AttemptError::Failed(describe(&e)),
        }
    }
}

/// How often a running execution records that its process is alive.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Stops a background task when its owner is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves when the user asks to stop everything.
async fn cancelled(mut rx: watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

fn iso(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("PT{}S", d.as_secs())
    } else {
        format!("PT{secs}S")
    }
}

/// The template names fixed for a whole execution.
fn base_context(flow: &Flow, record: &ExecutionRecord, inputs: &Map<String, Value>) -> Value {
    let mut base = Map::new();
    base.insert("inputs".into(), Value::Object(inputs.clone()));
    base.insert("vars".into(), Value::Object(flow.variables.clone()));
    // A trigger recorded in Kestra's shape (`{id, type, variables}`) shows its variables.
    let trigger = match &record.trigger {
        Value::Object(t) if t.contains_key("type") && t.contains_key("variables") => {
            t["variables"].clone()
        }
        other => other.clone(),
    };
    base.insert("trigger".into(), trigger);
    base.insert(
        "execution".into(),
        json!({
            "id": record.id,
            "startDate": record.created.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "originalId": record.original_id.as_deref().unwrap_or(&record.id),
            "parentId": record.parent_id,
        }),
    );
    base.insert(
        "flow".into(),
        json!({"id": flow.id, "namespace": flow.namespace, "revision": record.flow_revision}),
    );
    base.insert("envs".into(), context::envs());
    Value::Object(base)
}

/// Makes the record of a new execution: its labels rendered (the flow's, then the request's).
/// A label that cannot be rendered is returned as the error the execution fails with.
pub fn new_record(
    engine: &Engine,
    req: &RunRequest,
    queue: Option<weir_store::QueueSlot>,
) -> (ExecutionRecord, Option<String>) {
    let inner = &engine.inner;
    let flow = &req.flow;
    // SECRET inputs are masked wherever they would be shown, as secrets are.
    for def in flow
        .inputs
        .iter()
        .filter(|d| d.kind == weir_flow::InputKind::Secret)
    {
        if let Some(Value::String(v)) = req.inputs.get(&def.id) {
            inner.masker.add(v);
        }
    }
    let mut record = ExecutionRecord {
        id: new_id(),
        namespace: flow.namespace.clone(),
        flow_id: flow.id.clone(),
        flow_revision: req.revision,
        state: State::Created,
        inputs: Value::Object(
            inner
                .masker
                .mask_json(&Value::Object(req.inputs.clone()))
                .as_object()
                .cloned()
                .unwrap_or_default(),
        ),
        labels: Vec::new(),
        trigger: req.trigger.clone(),
        outputs: json!({}),
        created: Utc::now(),
        started: None,
        ended: None,
        original_id: None,
        parent_id: req.parent_id.clone(),
        owner: queue.is_none().then(crate::current_owner),
        queue,
    };
    let base = base_context(flow, &record, &req.inputs);
    let outputs = json!({"outputs": {}});
    let ctx = context::build(
        &Arc::new(base),
        &Arc::new(outputs),
        &[],
        &Scope::default(),
        None,
    );
    let mut label_error = None;
    for (k, v) in &flow.labels {
        match inner.renderer.render_str(v, &ctx, &flow.namespace) {
            // Labels are stored and shown everywhere; a secret rendered into one stays masked.
            Ok(v) => record.labels.push((k.clone(), inner.masker.mask(&v))),
            Err(e) => label_error = Some(format!("cannot render label `{k}`: {e}")),
        }
    }
    for (k, v) in &req.labels {
        record.labels.retain(|(lk, _)| lk != k);
        record.labels.push((k.clone(), v.clone()));
    }
    (record, label_error)
}

fn check_enabled(flow: &Flow) -> Result<(), EngineError> {
    if flow.disabled {
        return Err(EngineError::Disabled {
            namespace: flow.namespace.clone(),
            id: flow.id.clone(),
        });
    }
    Ok(())
}

/// Runs a flow now, in this process: `weir run`, subflows.
pub async fn execute(engine: Engine, req: RunRequest) -> Result<Outcome, EngineError> {
    check_enabled(&req.flow)?;
    let (record, label_error) = new_record(&engine, &req, None);
    engine.inner.store.create_execution(&record)?;
    let exec = Exec::new(
        &engine,
        req.flow.clone(),
        &record,
        req.inputs.clone(),
        Vec::new(),
    );
    guarded(exec, Start::WaitForSlot { label_error }).await
}

/// Runs an execution a worker claimed from the queue (RUNNING, owned by this process),
/// reusing the task runs it already has.
pub async fn run_claimed(
    engine: Engine,
    flow: Arc<Flow>,
    record: ExecutionRecord,
) -> Result<Outcome, EngineError> {
    let prior = engine.inner.store.task_runs(&record.id)?;
    let inputs = record.inputs.as_object().cloned().unwrap_or_default();
    let exec = Exec::new(&engine, flow, &record, inputs, prior);
    guarded(exec, Start::Claimed).await
}

enum Start {
    /// Made by this process: claim a concurrency slot first (or queue, cancel, fail).
    WaitForSlot { label_error: Option<String> },
    /// Claimed from the queue: the slot is held already.
    Claimed,
}

/// Runs the body with a heartbeat, turning a panic into a FAILED execution.
async fn guarded(exec: Arc<Exec>, start: Start) -> Result<Outcome, EngineError> {
    let inner = &exec.engine.inner;
    let id = exec.id.clone();
    let (kill_tx, _) = (exec.kill.clone(), ());
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.clone(), kill_tx);
    // While it runs, the execution says every second that its process is alive, so that after
    // a crash it is recorded as ending when the process died, not when someone noticed. The
    // answer says whether someone asked (through the store) to kill it.
    let heartbeat = {
        let store = inner.store.clone();
        let id = id.clone();
        let kill = exec.kill.clone();
        AbortOnDrop(tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.tick().await;
            loop {
                every.tick().await;
                if let Ok(true) = store.heartbeat(&id) {
                    let _ = kill.send(true);
                }
            }
        }))
    };
    // Whatever panics from here on is a bug in weir; the execution still ends, FAILED, at once.
    let body = std::panic::AssertUnwindSafe(run_body(exec.clone(), start)).catch_unwind();
    let outcome = body.await;
    drop(heartbeat);
    inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match outcome {
        Ok(outcome) => outcome,
        Err(panic) => {
            let msg = panic_message("weir", &*panic);
            exec.log.error(&msg);
            exec.finish(State::Failed, Some(msg)).await
        }
    }
}

/// An execution once recorded: the concurrency slot, then its task lists.
async fn run_body(exec: Arc<Exec>, start: Start) -> Result<Outcome, EngineError> {
    let engine = exec.engine.clone();
    let inner = &engine.inner;
    let flow = exec.flow.clone();
    let id = exec.id.clone();
    if let Start::WaitForSlot { label_error } = start {
        if let Some(e) = label_error {
            return exec.finish(State::Failed, Some(e)).await;
        }
        // Concurrency: claim a slot, or queue, cancel or fail as the flow says.
        let limit = flow.concurrency.map(|c| c.limit);
        let owner = crate::current_owner();
        let mut queued = false;
        while !inner.store.try_start_execution(&id, limit, owner)? {
            let behavior = flow
                .concurrency
                .map_or(ConcurrencyBehavior::Queue, |c| c.behavior);
            let limit = limit.unwrap_or_default();
            match behavior {
                ConcurrencyBehavior::Queue => {
                    if !queued {
                        queued = true;
                        inner.store.set_execution_state(&id, State::Queued)?;
                        exec.emit_execution(State::Queued);
                        exec.log.info(&format!("queued: {limit} execution(s) of this flow already running (concurrency limit {limit})"));
                        exec.log.flush();
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = exec.stopped() => return exec.finish(State::Killed, Some("killed while queued".into())).await,
                    }
                }
                ConcurrencyBehavior::Cancel => {
                    let msg = format!(
                        "cancelled: concurrency limit {limit} of flow `{}` reached",
                        flow.id
                    );
                    exec.log.warn(&msg);
                    return exec.finish(State::Cancelled, Some(msg)).await;
                }
                ConcurrencyBehavior::Fail => {
                    let msg = format!(
                        "concurrency limit {limit} of flow `{}` reached (behavior FAIL)",
                        flow.id
                    );
                    exec.log.error(&msg);
                    return exec.finish(State::Failed, Some(msg)).await;
                }
            }
        }
    } else if !exec
        .prior
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty()
    {
        exec.log
            .info("resuming: task runs that already ended are kept, the others run again");
    }
    exec.emit_execution(State::Running);

    let root = Scope::default();
    let mut state = exec.run_list(&flow.tasks, &root).await;
    if state == State::Paused && !exec.is_killed() {
        // `errors` and `finally` wait for the real end, after a resume.
        exec.log.info(&format!(
            "paused: resume it with `weir executions resume {id}` or POST /api/v1/executions/{id}/resume"
        ));
        let outcome = exec.finish(State::Paused, None).await;
        // A worker lets go of it: whoever resumes it (a worker, `weir executions resume`)
        // takes it then.
        inner.store.release_execution(&id)?;
        return outcome;
    }
    if state.is_failure() && !exec.is_killed() && !flow.errors.is_empty() {
        let errors_state = exec.run_list(&flow.errors, &root).await;
        state = state.worst(errors_state);
    }
    if !exec.is_killed() && !flow.finally.is_empty() {
        let finally_state = exec.run_list(&flow.finally, &root).await;
        state = state.worst(finally_state);
    }
    if exec.is_killed() {
        // A worker stopping (not a kill of this execution) leaves it for the next one.
        if exec.suspended() {
            exec.log.warn("the worker stopped before this execution ended; it goes back to the queue and resumes on the next start");
            exec.log.flush();
            inner.store.release_execution(&id)?;
            let execution = inner.store.get_execution(&id)?.ok_or_else(vanished)?;
            return Ok(Outcome {
                execution,
                failure: Some("suspended: the worker stopped".into()),
            });
        }
        state = State::Killed;
    }
    if state == State::Skipped {
        state = State::Success;
    }
    let failure = exec
        .failure
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    exec.finish(state, failure).await
}

fn vanished() -> EngineError {
    EngineError::Store(weir_store::StoreError::Database {
        action: "reading back an execution",
        source: "the execution vanished from the store".into(),
    })
}

impl Exec {
    fn new(
        engine: &Engine,
        flow: Arc<Flow>,
        record: &ExecutionRecord,
        inputs: Map<String, Value>,
        prior: Vec<TaskRunRecord>,
    ) -> Arc<Exec> {
        let inner = &engine.inner;
        let base = base_context(&flow, record, &inputs);
        let log = Logger::new(
            inner.store.clone(),
            inner.masker.clone(),
            &record.id,
            None,
            Level::Trace,
        );
        let prior = prior
            .into_iter()
            .map(|r| ((r.parent_id.clone(), r.task_id.clone(), r.value.clone()), r))
            .collect();
        Arc::new(Exec {
            engine: engine.clone(),
            flow,
            id: record.id.clone(),
            base: Arc::new(base),
            outputs: Mutex::new(Arc::new(json!({"outputs": {}}))),
            labels: Mutex::new(record.labels.clone()),
            log,
            failure: Mutex::new(None),
            killed: AtomicBool::new(false),
            kill: watch::channel(false).0,
            prior: Mutex::new(prior),
        })
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
            || *self.kill.borrow()
            || *self.engine.inner.cancel.borrow()
    }

    /// Stopped by the worker shutting down rather than by a kill of this execution.
    fn suspended(&self) -> bool {
        self.engine.inner.suspend.load(Ordering::SeqCst) && !*self.kill.borrow()
    }

    /// Resolves when this execution must stop: killed alone, or everything is.
    async fn stopped(&self) {
        tokio::select! {
            _ = cancelled(self.engine.inner.cancel.clone()) => {}
            _ = cancelled(self.kill.subscribe()) => {}
        }
    }

    /// Whether the engine is draining: running attempts finish, nothing new starts.
    fn draining(&self) -> bool {
        self.engine.inner.suspend.load(Ordering::SeqCst)
    }

    fn emit_execution(&self, state: State) {
        if let Some(tx) = &self.engine.inner.events {
            let _ = tx.send(Event::Execution {
                id: self.id.clone(),
                state,
            });
        }
    }

    fn emit_task(&self, run: &TaskRunRecord, state: State, attempt: u32) {
        if let Some(tx) = &self.engine.inner.events {
            let _ = tx.send(Event::TaskRun {
                execution_id: self.id.clone(),
                task_run_id: run.id.clone(),
                task_id: run.task_id.clone(),
                value: run.value.clone(),
                state,
                attempt,
            });
        }
    }

    fn note_failure(&self, task: &Task, scope: &Scope, msg: &str) {
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            let at = scope.value().map(|v| format!(" [{v}]")).unwrap_or_default();
            *f = Some(format!(
                "task `{}`{at} failed: {}",
                task.id,
                self.engine.inner.masker.mask(msg)
            ));
        }
    }

    /// Renders flow outputs, stores the final state and returns the outcome.
    async fn finish(
        &self,
        mut state: State,
        mut failure: Option<String>,
    ) -> Result<Outcome, EngineError> {
        let inner = &self.engine.inner;
        if !state.is_failure() && state != State::Paused && !self.flow.outputs.is_empty() {
            let ctx = self.context(&Scope::default(), None);
            let mut outs = Map::new();
            for o in &self.flow.outputs {
                match inner
                    .renderer
                    .render_value(&o.value, &ctx, &self.flow.namespace)
                {
                    Ok(v) => {
                        outs.insert(o.id.clone(), v);
                    }
                    Err(e) => {
                        let msg = format!("cannot render flow output `{}`: {e}", o.id);
                        self.log.error(&msg);
                        failure.get_or_insert(msg);
                        state = State::Failed;
                    }
                }
            }
            inner
                .store
                .set_execution_outputs(&self.id, &inner.masker.mask_json(&Value::Object(outs)))?;
        }
        self.log.flush();
        inner.store.set_execution_state(&self.id, state)?;
        self.emit_execution(state);
        let execution = inner.store.get_execution(&self.id)?.ok_or_else(vanished)?;
        Ok(Outcome { execution, failure })
    }

    /// The context of a task run's first attempt, outside any working directory: for `runIf`
    /// and flowable tasks' own properties.
    fn first_attempt_context(&self, task: &Task, run: &TaskRunRecord, scope: &Scope) -> Context {
        let info = TaskRunInfo {
            id: &run.id,
            task_id: &task.id,
            task_type: task.kind,
            attempt: 1,
            working_dir: None,
        };
        self.context(scope, Some(&info))
    }

    fn context(&self, scope: &Scope, run: Option<&TaskRunInfo<'_>>) -> Context {
        let outputs = Arc::clone(&self.outputs.lock().unwrap_or_else(|p| p.into_inner()));
        let labels = self.labels.lock().unwrap_or_else(|p| p.into_inner());
        let failed = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        let state = if failed { "FAILED" } else { "RUNNING" };
        context::build(&self.base, &outputs, &labels, scope, run)
            .with(context::execution_state(&self.base, state))
    }

    /// Runs tasks in order, stopping at the first failure. Returns the worst state met.
    fn run_list<'a>(
        self: &'a Arc<Self>,
        tasks: &'a [Task],
        scope: &'a Scope,
    ) -> BoxFuture<'a, State> {
        async move {
            let mut acc = State::Success;
            for task in tasks {
                if self.is_killed() {
                    return State::Killed;
                }
                if self.draining() {
                    // Nothing new starts while the worker stops: the next one resumes here.
                    self.killed.store(true, Ordering::SeqCst);
                    return State::Killed;
                }
                let st = self.run_task(task, scope).await;
                acc = acc.worst(st);
                // A pause stops the list too: what follows runs when the execution resumes.
                if st.is_failure() || st == State::Paused {
                    break;
                }
            }
            acc
        }
        .boxed()
    }

    fn set_state(&self, run: &TaskRunRecord, state: State, attempt: u32) {
        if let Err(e) = self
            .engine
            .inner
            .store
            .set_task_run_state(&run.id, state, attempt)
        {
            self.log.error(&format!(
                "could not record state {state} of task run `{}`: {e}",
                run.task_id
            ));
        }
        self.emit_task(run, state, attempt);
    }

    async fn run_task(self: &Arc<Self>, task: &Task, scope: &Scope) -> State {
        if task.disabled {
            return State::Skipped;
        }
        let behavior = weir_tasks::lookup(task.kind).map(|t| t.behavior);
        // A run this execution already has (resumed, restarted, replayed): one that ended well
        // is kept — its outputs back in the context, a container walked again so its children
        // are kept the same way — and any other gets a new attempt.
        let masked_value = scope.value().map(|v| self.engine.inner.masker.mask(v));
        let key = (
            scope.parent_run.clone(),
            task.id.clone(),
            masked_value.clone(),
        );
        let prior = self
            .prior
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        let mut first_attempt = 1;
        let run = match prior {
            Some(p) if matches!(p.state, State::Success | State::Warning | State::Skipped) => {
                return self.keep(behavior, task, p, scope).await;
            }
            Some(p) => {
                let container = matches!(behavior, Some(Behavior::Flowable(k)) if has_children(k));
                first_attempt = if container {
                    p.attempts.max(1)
                } else {
                    p.attempts + 1
                };
                p
            }
            None => {
                let now = Utc::now();
                let run = TaskRunRecord {
                    id: new_id(),
                    execution_id: self.id.clone(),
                    task_id: task.id.clone(),
                    task_type: task.kind.to_string(),
                    parent_id: scope.parent_run.clone(),
                    // Stored and shown as a label of the run: a value rendered from a secret is
                    // masked there, while `taskrun.value` keeps the real one for the tasks.
                    value: masked_value,
                    state: State::Created,
                    attempts: 1,
                    outputs: json!({}),
                    history: vec![StateChange {
                        state: State::Created,
                        at: now,
                        attempt: 1,
                    }],
                };
                if let Err(e) = self.engine.inner.store.create_task_run(&run) {
                    let msg = format!("could not record the task run: {e}");
                    self.note_failure(task, scope, &msg);
                    return State::Failed;
                }
                self.emit_task(&run, State::Created, 1);
                run
            }
        };

        if let Some(cond) = &task.run_if {
            let ctx = self.first_attempt_context(task, &run, scope);
            match self
                .engine
                .inner
                .renderer
                .render_str(cond, &ctx, &self.flow.namespace)
            {
                Ok(v) if !context::truthy(&Value::String(v.clone())) => {
                    self.set_state(&run, State::Skipped, first_attempt);
                    return State::Skipped;
                }
                Ok(_) => {}
                Err(e) => {
                    let msg = format!("cannot render `runIf`: {e}");
                    return self.end_failed(task, &run, scope, first_attempt, msg);
                }
            }
        }
        self.set_state(&run, State::Running, first_attempt);
        let (state, attempt, error) = match behavior {
            Some(Behavior::Flowable(kind)) => {
                let (s, e) = self.run_flowable(kind, task, &run, scope).await;
                (s, first_attempt, e)
            }
            Some(Behavior::Run(runner)) => {
                self.run_runnable(runner, task, &run, scope, first_attempt)
                    .await
            }
            None => (
                State::Failed,
                1,
                Some(format!(
                    "task type `{}` is not registered; this is a bug in weir, please report it",
                    task.kind
                )),
            ),
        };
        match (state, error) {
            (State::Killed, _) => {
                self.killed.store(true, Ordering::SeqCst);
                self.set_state(&run, State::Killed, attempt);
                State::Killed
            }
            (s, Some(msg)) if s.is_failure() => self.end_failed(task, &run, scope, attempt, msg),
            (s, _) if s.is_failure() && task.allow_failure => {
                self.set_state(&run, State::Warning, attempt);
                State::Warning
            }
            (s, _) => {
                self.set_state(&run, s, attempt);
                s
            }
        }
    }

    /// Keeps a run that ended well before this process took the execution.
    async fn keep(
        self: &Arc<Self>,
        behavior: Option<Behavior>,
        task: &Task,
        prior: TaskRunRecord,
        scope: &Scope,
    ) -> State {
        match behavior {
            Some(Behavior::Flowable(kind))
                if has_children(kind) && prior.state != State::Skipped =>
            {
                // Its children are kept (or, when they did not end well, run) the same way.
                let (state, _) = self.run_flowable(kind, task, &prior, scope).await;
                if state != prior.state
                    && !(state == State::Success && prior.state == State::Skipped)
                {
                    self.set_state(&prior, state, prior.attempts.max(1));
                }
                state
            }
            _ => {
                if prior.outputs.as_object().is_some_and(|o| !o.is_empty()) {
                    self.remember_outputs(task, scope, prior.outputs.clone());
                }
                self.emit_task(&prior, prior.state, prior.attempts);
                prior.state
            }
        }
    }

    /// Ends a task run as FAILED, or WARNING when the task allows failure.
    fn end_failed(
        &self,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
        attempt: u32,
        msg: String,
    ) -> State {
        let logger = Logger::new(
            self.engine.inner.store.clone(),
            self.engine.inner.masker.clone(),
            &self.id,
            Some((&run.id, &task.id, attempt)),
            Level::Trace,
        );
        if task.allow_failure {
            logger.warn(&format!("{msg} (allowed to fail: continuing)"));
            logger.flush();
            self.set_state(run, State::Warning, attempt);
            return State::Warning;
        }
        logger.error(&msg);
        logger.flush();
        self.note_failure(task, scope, &msg);
        self.set_state(run, State::Failed, attempt);
        State::Failed
    }

    /// Renders a task's properties, each on its own so an error can name the property.
    fn render_props(&self, task: &Task, ctx: &Context) -> Result<Map<String, Value>, String> {
        let mut out = Map::new();
        for (name, value) in &task.props {
            match self
                .engine
                .inner
                .renderer
                .render_value(value, ctx, &self.flow.namespace)
            {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => {
                    let at = match task.prop_pos.get(name) {
                        Some((pos, style)) if value.is_string() => {
                            let p = weir_flow::parse::template_pos(
                                &self.flow.source,
                                *pos,
                                *style,
                                "",
                                e.line.unwrap_or(1),
                                e.column.unwrap_or(1),
                            );
                            format!("{}:{}:{}", self.flow.file, p.line, p.column)
                        }
                        Some((pos, _)) => format!("{}:{}:{}", self.flow.file, pos.line, pos.column),
                        None => format!("{}:{}:{}", self.flow.file, task.pos.line, task.pos.column),
                    };
                    return Err(format!(
                        "cannot render property `{name}` ({at}): {}",
                        e.message
                    ));
                }
            }
        }
        Ok(out)
    }

    fn min_level(task: &Task) -> Level {
        task.log_level
            .as_deref()
            .and_then(Level::parse)
            .unwrap_or(Level::Trace)
    }

    fn store_outputs(
        &self,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
        outputs: Map<String, Value>,
    ) {
        let inner = &self.engine.inner;
        let value = Value::Object(outputs);
        if let Err(e) = inner
            .store
            .set_task_run_outputs(&run.id, &inner.masker.mask_json(&value))
        {
            self.log
                .error(&format!("could not store outputs of `{}`: {e}", task.id));
        }
        self.remember_outputs(task, scope, value);
    }

    /// Puts a task run's outputs where templates find them: `outputs.task.prop`, or
    /// `outputs.task[value].prop` inside ForEach.
    fn remember_outputs(&self, task: &Task, scope: &Scope, value: Value) {
        let mut shared = self.outputs.lock().unwrap_or_else(|p| p.into_inner());
        // Copies only while a render still holds the previous version.
        let Some(Value::Object(all)) = Arc::make_mut(&mut shared).get_mut("outputs") else {
            unreachable!("`outputs` is created as an object and only ever replaced by one")
        };
        // Inside ForEach, outputs are keyed by iteration value: `outputs.task[value].prop`.
        let mut slot = all.entry(task.id.clone()).or_insert_with(|| {
            if scope.values.is_empty() {
                Value::Null
            } else {
                json!({})
            }
        });
        for v in &scope.values {
            if !slot.is_object() {
                *slot = json!({});
            }
            slot = match slot {
                Value::Object(m) => m.entry(v.clone()).or_insert(Value::Null),
                _ => unreachable!("made an object just above"),
            };
        }
        *slot = value;
    }

    async fn run_runnable(
        self: &Arc<Self>,
        runner: Runner,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
        first_attempt: u32,
    ) -> (State, u32, Option<String>) {
        let inner = &self.engine.inner;
        let policy = task.retry.as_ref().or(self.flow.retry.as_ref());
        let started = Instant::now();
        let mut attempt = first_attempt;
        loop {
            // Under a WorkingDirectory, every attempt of every task uses its folder.
            let shared = scope.working_dir.as_deref().cloned();
            let working_dir = shared
                .clone()
                .unwrap_or_else(|| inner.work_root.join(format!("{}-{attempt}", run.id)));
            let wd = working_dir.to_string_lossy().to_string();
            let info = TaskRunInfo {
                id: &run.id,
                task_id: &task.id,
                task_type: task.kind,
                attempt,
                working_dir: Some(&wd),
            };
            let ctx = self.context(scope, Some(&info));
            let logger = Logger::new(
                inner.store.clone(),
                inner.masker.clone(),
                &self.id,
                Some((&run.id, &task.id, attempt)),
                Self::min_level(task),
            );
            let result = match self.render_props(task, &ctx) {
                Err(msg) => Err(AttemptError::Failed(msg)),
                Ok(props) => {
                    let tctx = TaskContext {
                        props,
                        namespace: self.flow.namespace.clone(),
                        flow_id: self.flow.id.clone(),
                        execution_id: self.id.clone(),
                        task_id: task.id.clone(),
                        task_run_id: run.id.clone(),
                        attempt,
                        storage: inner.storage.clone(),
                        kv: inner.store.clone(),
                        executions: inner.store.clone(),
                        http: inner.http.clone(),
                        log: logger.clone(),
                        working_dir: working_dir.clone(),
                        masker: inner.masker.clone(),
                        home: inner.home.clone(),
                    };
                    let r = self.attempt(runner, task, &tctx).await;
                    if shared.is_none() && working_dir.exists() {
                        let _ = tokio::fs::remove_dir_all(&working_dir).await;
                    }
                    r
                }
            };
            // The context shares the outputs so far; let go of it before adding this run's,
            // or adding them would copy all the others.
            drop(ctx);
            logger.flush();
            match result {
                Ok(r) => {
                    self.store_outputs(task, run, scope, r.outputs);
                    let retried = attempt > 1 && policy.is_some_and(|p| p.warning_on_retry);
                    return (
                        if r.warning || retried {
                            State::Warning
                        } else {
                            State::Success
                        },
                        attempt,
                        None,
                    );
                }
                Err(AttemptError::Killed) => return (State::Killed, attempt, None),
                Err(failure) => {
                    let (msg, outputs) = match failure {
                        AttemptError::FailedWithOutputs(msg, outputs) => (msg, Some(outputs)),
                        AttemptError::Failed(msg) => (msg, None),
                        AttemptError::Killed => unreachable!("matched above"),
                    };
                    let last = |outputs: Option<Map<String, Value>>, msg: String| {
                        if let Some(outputs) = outputs {
                            self.store_outputs(task, run, scope, outputs);
                        }
                        (State::Failed, attempt, Some(msg))
                    };
                    let Some(p) = policy else {
                        return last(outputs, msg);
                    };
                    let delay = p.delay(attempt + 1, rand_unit());
                    let attempts_left = p.max_attempts.is_none_or(|m| attempt < m);
                    let time_left = p
                        .max_duration
                        .is_none_or(|m| started.elapsed().saturating_add(delay) < m);
                    if !(attempts_left && time_left) {
                        return last(outputs, msg);
                    }
                    logger.warn(&format!(
                        "attempt {attempt} failed: {msg}; retrying in {}",
                        weir_core::format_duration(delay)
                    ));
                    logger.flush();
                    self.set_state(run, State::Retrying, attempt);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.stopped() => return (State::Killed, attempt, None),
                    }
                    attempt += 1;
                    self.set_state(run, State::Running, attempt);
                }
            }
        }
    }

    /// One attempt, bounded by the task's timeout and by a kill.
    async fn attempt(
        &self,
        runner: Runner,
        task: &Task,
        ctx: &TaskContext,
    ) -> Result<weir_tasks::TaskResult, AttemptError> {
        let work = async {
            // A panic inside a task is a bug in weir, but it must not leave the execution
            // RUNNING: it fails this attempt like any other error, with the panic's message.
            let fut = panics_as_failures(runner(ctx));
            match task.timeout {
                Some(limit) => match tokio::time::timeout(limit, fut).await {
                    Ok(r) => r.map_err(AttemptError::from_task),
                    Err(_) => Err(AttemptError::Failed(format!(
                        "timed out after {} (timeout {})",
                        weir_core::format_duration(limit),
                        iso(limit)
                    ))),
                },
                None => fut.await.map_err(AttemptError::from_task),
            }
        };
        tokio::select! {
            r = work => r,
            _ = self.stopped() => Err(AttemptError::Killed),
        }
    }

    async fn render_prop(
        &self,
        task: &Task,
        name: &str,
        scope: &Scope,
        run: &TaskRunRecord,
    ) -> Result<Value, String> {
        let ctx = self.first_attempt_context(task, run, scope);
        match task.props.get(name) {
            None => Ok(Value::Null),
            Some(v) => {
                let mut one = task.clone();
                one.props = Map::from_iter([(name.to_string(), v.clone())]);
                self.render_props(&one, &ctx)
                    .map(|mut m| m.remove(name).unwrap_or(Value::Null))
            }
        }
    }

    /// Boxed: flowable tasks recurse into `run_task`, and the box makes the future's size and
    /// `Send`-ness finite.
    fn run_flowable<'a>(
        self: &'a Arc<Self>,
        kind: Flowable,
        task: &'a Task,
        run: &'a TaskRunRecord,
        scope: &'a Scope,
    ) -> BoxFuture<'a, (State, Option<String>)> {
        self.run_flowable_inner(kind, task, run, scope).boxed()
    }

    async fn run_flowable_inner(
        self: &Arc<Self>,
        kind: Flowable,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> (State, Option<String>) {
        let child_scope = scope.child(&run.id, None);
        let mut outputs = Map::new();
        let state = match kind {
            Flowable::If => {
                let cond = match self.render_prop(task, "condition", scope, run).await {
                    Ok(v) => context::truthy(&v),
                    Err(e) => return (State::Failed, Some(e)),
                };
                outputs.insert("evaluationResult".into(), cond.into());
                self.store_outputs(task, run, scope, outputs);
                match task.branch(if cond { "then" } else { "else" }) {
                    Some(tasks) => self.run_list(tasks, &child_scope).await,
                    None => State::Success,
                }
            }
            Flowable::Switch => {
                let value = match self.render_prop(task, "value", scope, run).await {
                    Ok(v) => weir_tasks::de::scalar_text(v),
                    Err(e) => return (State::Failed, Some(e)),
                };
                let case = format!("cases/{value}");
                let (branch, defaults) = match task.branch(&case) {
                    Some(t) => (Some(t), false),
                    None => (task.branch("defaults"), true),
                };
                outputs.insert("value".into(), value.clone().into());
                outputs.insert("defaults".into(), defaults.into());
                self.store_outputs(task, run, scope, outputs);
                match branch {
                    Some(tasks) => self.run_list(tasks, &child_scope).await,
                    None => {
                        return (
                            State::Failed,
                            Some(format!(
                                "no case matches value `{value}` and there are no `defaults`"
                            )),
                        );
                    }
                }
            }
            Flowable::ForEach => {
                let values = match self.render_prop(task, "values", scope, run).await {
                    Ok(Value::Array(a)) => a,
                    Ok(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                        Ok(Value::Array(a)) => a,
                        _ => {
                            return (
                                State::Failed,
                                Some(format!("`values` must be a list or a JSON list, got `{s}`")),
                            );
                        }
                    },
                    Ok(other) => {
                        return (
                            State::Failed,
                            Some(format!("`values` must be a list, got `{other}`")),
                        );
                    }
                    Err(e) => return (State::Failed, Some(e)),
                };
                let limit = match self.render_prop(task, "concurrencyLimit", scope, run).await {
                    Ok(Value::Null) => 1,
                    Ok(v) => match v
                        .as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                    {
                        Some(0) => values.len().max(1),
                        Some(n) => n as usize,
                        None => {
                            return (
                                State::Failed,
                                Some(format!(
                                    "`concurrencyLimit` must be a non-negative integer, got `{v}`"
                                )),
                            );
                        }
                    },
                    Err(e) => return (State::Failed, Some(e)),
                };
                let children = task.branch("tasks").unwrap_or_default();
                let failed = AtomicBool::new(false);
                let scopes: Vec<Scope> = values
                    .into_iter()
                    .map(|v| scope.child(&run.id, Some(weir_tasks::de::scalar_text(v))))
                    .collect();
                let mut iterations = Vec::with_capacity(scopes.len());
                for s in &scopes {
                    iterations.push(self.iteration(children, s, &failed));
                }
                run_bounded(iterations, limit).await
            }
            Flowable::Parallel => {
                let children = task.branch("tasks").unwrap_or_default();
                let limit = match self.render_prop(task, "concurrent", scope, run).await {
                    Ok(v) => v
                        .as_u64()
                        .filter(|n| *n > 0)
                        .map_or(children.len().max(1), |n| n as usize),
                    Err(e) => return (State::Failed, Some(e)),
                };
                let mut runs = Vec::with_capacity(children.len());
                for t in children {
                    runs.push(self.run_task(t, &child_scope).boxed());
                }
                run_bounded(runs, limit).await
            }
            Flowable::Sequential => {
                self.run_list(task.branch("tasks").unwrap_or_default(), &child_scope)
                    .await
            }
            Flowable::Labels => match self.render_prop(task, "labels", scope, run).await {
                Ok(v) => match self.apply_labels(&v) {
                    Ok(()) => State::Success,
                    Err(e) => return (State::Failed, Some(e)),
                },
                Err(e) => return (State::Failed, Some(e)),
            },
            Flowable::Subflow => {
                return self.run_subflow(task, run, scope).await;
            }
            Flowable::WorkingDirectory => {
                return self.run_working_directory(task, run, scope).await;
            }
            Flowable::Pause => return self.run_pause(task, run, scope).await,
            Flowable::Dag => match self.run_dag(task, run, scope).await {
                Ok(s) => s,
                Err(e) => return (State::Failed, Some(e)),
            },
            Flowable::AllowFailure => {
                let st = self
                    .run_list(task.branch("tasks").unwrap_or_default(), &child_scope)
                    .await;
                if st.is_failure() && st != State::Killed {
                    State::Warning
                } else {
                    st
                }
            }
            Flowable::ForEachItem => {
                return self.run_for_each_item(task, run, scope).await;
            }
        };
        (state, None)
    }

    /// One ForEach iteration. After a failure no new iteration starts; running ones finish.
    fn iteration<'a>(
        self: &'a Arc<Self>,
        children: &'a [Task],
        scope: &'a Scope,
        failed: &'a AtomicBool,
    ) -> BoxFuture<'a, State> {
        async move {
            if failed.load(Ordering::SeqCst) {
                return State::Skipped;
            }
            let st = self.run_list(children, scope).await;
            if st.is_failure() {
                failed.store(true, Ordering::SeqCst);
            }
            st
        }
        .boxed()
    }

    fn apply_labels(&self, v: &Value) -> Result<(), String> {
        let pairs: Vec<(String, String)> = match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), weir_tasks::de::scalar_text(v.clone())))
                .collect(),
            Value::Array(items) => items
                .iter()
                .map(
                    |i| match (i.get("key").and_then(Value::as_str), i.get("value")) {
                        (Some(k), Some(v)) => {
                            Ok((k.to_string(), weir_tasks::de::scalar_text(v.clone())))
                        }
                        _ => Err("each label in the list needs `key` and `value`".to_string()),
                    },
                )
                .collect::<Result<_, _>>()?,
            other => {
                return Err(format!(
                    "`labels` must be a map or a list of `key`/`value` pairs, got `{other}`"
                ));
            }
        };
        let snapshot = {
            let mut labels = self.labels.lock().unwrap_or_else(|p| p.into_inner());
            for (k, v) in pairs {
                labels.retain(|(lk, _)| lk != &k);
                labels.push((k, self.engine.inner.masker.mask(&v)));
            }
            labels.clone()
        };
        self.engine
            .inner
            .store
            .set_execution_labels(&self.id, &snapshot)
            .map_err(|e| e.to_string())
    }

    async fn run_subflow(
        self: &Arc<Self>,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> (State, Option<String>) {
        let ctx = self.first_attempt_context(task, run, scope);
        let props = match self.render_props(task, &ctx) {
            Ok(p) => p,
            Err(e) => return (State::Failed, Some(e)),
        };
        drop(ctx);
        let flag = |k: &str, default: bool| flag(&props, k, default);
        let (req, ns, flow_id) = match self.subflow_request(&props) {
            Ok(r) => r,
            Err(e) => return (State::Failed, Some(e)),
        };
        if !flag("wait", true) {
            self.spawn_detached(req);
            self.store_outputs(
                task,
                run,
                scope,
                Map::from_iter([("executionId".into(), Value::Null)]),
            );
            return (State::Success, None);
        }
        let outcome = match Box::pin(self.engine.execute(req)).await {
            Ok(o) => o,
            Err(e) => return (State::Failed, Some(e.to_string())),
        };
        let child_state = outcome.execution.state;
        let mut outputs = Map::new();
        outputs.insert("executionId".into(), outcome.execution.id.clone().into());
        outputs.insert("state".into(), child_state.as_str().into());
        outputs.insert("outputs".into(), outcome.execution.outputs.clone());
        self.store_outputs(task, run, scope, outputs);
        if child_state.is_failure() && flag("transmitFailed", true) {
            let why = outcome
                .failure
                .map(|f| format!(": {f}"))
                .unwrap_or_default();
            return (
                State::Failed,
                Some(format!(
                    "subflow execution `{}` of `{ns}.{flow_id}` ended {child_state}{why}",
                    outcome.execution.id
                )),
            );
        }
        (
            if child_state == State::Warning {
                State::Warning
            } else {
                State::Success
            },
            None,
        )
    }

    /// Starts a child execution without waiting for it.
    fn spawn_detached(&self, req: RunRequest) {
        let engine = self.engine.clone();
        let handle = tokio::spawn(async move {
            let _ = Box::pin(engine.execute(req)).await;
        });
        self.engine
            .inner
            .detached
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(handle);
    }

    /// The request of a child execution from Subflow's (or ForEachItem's) rendered properties:
    /// the flow looked up and validated, its inputs typed, its labels. Returns it with the
    /// flow's namespace and id.
    fn subflow_request(
        &self,
        props: &Map<String, Value>,
    ) -> Result<(RunRequest, String, String), String> {
        let text = |k: &str| props.get(k).map(|v| weir_tasks::de::scalar_text(v.clone()));
        let flag = |k: &str, default: bool| flag(props, k, default);
        let (ns, flow_id) = (
            text("namespace").unwrap_or_default(),
            text("flowId").unwrap_or_default(),
        );
        let revision = props.get("revision").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        let store = &self.engine.inner.store;
        let record = match store.get_flow(&ns, &flow_id, revision) {
            Ok(Some(r)) => r,
            Ok(None) => {
                return Err(format!(
                    "flow `{ns}.{flow_id}` is not deployed; deploy it with `weir flows deploy FILE`"
                ));
            }
            Err(e) => return Err(e.to_string()),
        };
        let file = format!("{ns}.{flow_id} (revision {})", record.revision);
        let child = match weir_flow::parse_flow(&file, &record.source, &self.engine.inner.catalog) {
            Ok(f) => f,
            Err(diags) => {
                return Err(format!("flow `{ns}.{flow_id}` is invalid: {}", diags[0]));
            }
        };
        let given: Vec<(String, String)> = props
            .get("inputs")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), weir_tasks::de::scalar_text(v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let inputs = match weir_flow::resolve_inputs(&child, &given) {
            Ok(i) => i,
            Err(errors) => {
                return Err(format!(
                    "inputs of subflow `{ns}.{flow_id}`: {}",
                    errors.join("; ")
                ));
            }
        };
        let mut labels: Vec<(String, String)> = if flag("inheritLabels", false) {
            self.labels
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        } else {
            Vec::new()
        };
        if let Some(Value::Object(m)) = props.get("labels") {
            labels.extend(
                m.iter()
                    .map(|(k, v)| (k.clone(), weir_tasks::de::scalar_text(v.clone()))),
            );
        }
        let req = RunRequest {
            flow: Arc::new(child),
            revision: record.revision,
            inputs,
            labels,
            trigger: Value::Null,
            parent_id: Some(self.id.clone()),
        };
        Ok((req, ns, flow_id))
    }
}

/// A boolean property (`true`, or the text `true`), or its default.
fn flag(props: &Map<String, Value>, k: &str, default: bool) -> bool {
    match props.get(k) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => default,
    }
}

/// Runs futures with at most `limit` at once; returns the worst state.
/// Flowable tasks that run other tasks under them (as opposed to Subflow and Labels).
fn has_children(kind: Flowable) -> bool {
    match kind {
        Flowable::If
        | Flowable::Switch
        | Flowable::ForEach
        | Flowable::Parallel
        | Flowable::Sequential
        | Flowable::WorkingDirectory
        | Flowable::Dag
        | Flowable::AllowFailure => true,
        Flowable::Subflow | Flowable::Labels | Flowable::Pause | Flowable::ForEachItem => false,
    }
}

async fn run_bounded(futs: Vec<BoxFuture<'_, State>>, limit: usize) -> State {
    let states: Vec<State> = futures::stream::iter(futs)
        .buffer_unordered(limit.max(1))
        .collect()
        .await;
    states.into_iter().fold(State::Success, State::worst)
}

fn describe(e: &TaskError) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// A task attempt whose panic becomes a failure with the panic's message.
async fn panics_as_failures(
    attempt: impl std::future::Future<Output = Result<weir_tasks::TaskResult, TaskError>>,
) -> Result<weir_tasks::TaskResult, TaskError> {
    std::panic::AssertUnwindSafe(attempt)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(TaskError::Failed(panic_message("the task", &*panic))))
}

/// The message of a caught panic, worded as the bug it is.
fn panic_message(who: &str, panic: &(dyn std::any::Any + Send)) -> String {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("{who} panicked: {what}; this is a bug in weir, please report it")
}

/// A number in [0, 1) for random retry delays; randomness quality does not matter here.
fn rand_unit() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_fails_its_attempt_with_the_message() {
        let r = panics_as_failures(async {
            let values: Vec<u8> = Vec::new();
            // An index out of bounds: the kind of bug a task could still have.
            let _ = values[usize::from(values.is_empty())];
            Ok(weir_tasks::TaskResult::default())
        })
        .await;
        let Err(TaskError::Failed(msg)) = r else {
            panic!("expected a failure, got {r:?}")
        };
        assert!(
            msg.starts_with("the task panicked: index out of bounds")
                && msg.ends_with("this is a bug in weir, please report it"),
            "{msg}"
        );
    }
}
