//! The flowable tasks that need more than a walk of their branch: WorkingDirectory, Pause, Dag
//! and ForEachItem.

use super::{Exec, flag};
use crate::context::{Scope, TaskRunInfo};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use weir_core::State;
use weir_flow::Task;
use weir_store::{Level, TaskRunRecord};
use weir_tasks::{Logger, TaskContext};

type Ended = (State, Option<String>);

impl Exec {
    /// A task context for a flowable task's own work (files, storage), outside any attempt.
    fn flowable_context(
        &self,
        task: &Task,
        run: &TaskRunRecord,
        props: Map<String, Value>,
        working_dir: PathBuf,
    ) -> TaskContext {
        let inner = &self.engine.inner;
        TaskContext {
            props,
            namespace: self.flow.namespace.clone(),
            flow_id: self.flow.id.clone(),
            execution_id: self.id.clone(),
            task_id: task.id.clone(),
            task_run_id: run.id.clone(),
            attempt: run.attempts.max(1),
            storage: inner.storage.clone(),
            kv: inner.store.clone(),
            executions: inner.store.clone(),
            http: inner.http.clone(),
            log: Logger::new(
                inner.store.clone(),
                inner.masker.clone(),
                &self.id,
                Some((&run.id, &task.id, run.attempts.max(1))),
                Level::Trace,
            ),
            working_dir,
            masker: inner.masker.clone(),
            home: inner.home.clone(),
        }
    }

    /// WorkingDirectory: one folder for every task under it, with `inputFiles` and
    /// `namespaceFiles` written first and `outputFiles` kept at the end; then removed.
    pub(super) async fn run_working_directory(
        self: &Arc<Self>,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Ended {
        let dir = self.engine.inner.work_root.join(format!("{}-wd", run.id));
        let wd = dir.to_string_lossy().to_string();
        let info = TaskRunInfo {
            id: &run.id,
            task_id: &task.id,
            task_type: task.kind,
            attempt: run.attempts.max(1),
            working_dir: Some(&wd),
        };
        let ctx = self.context(scope, Some(&info));
        let props = match self.render_props(task, &ctx) {
            Ok(p) => p,
            Err(e) => return (State::Failed, Some(e)),
        };
        drop(ctx);
        let tctx = self.flowable_context(task, run, props, dir.clone());
        // A resumed WorkingDirectory finds its folder as the pause left it.
        if let Err(e) = weir_tasks::prepare_shared_dir(&tctx).await {
            tctx.log.flush();
            return (State::Failed, Some(e.to_string()));
        }
        let mut child = scope.child(&run.id, None);
        child.working_dir = Some(Arc::new(dir.clone()));
        let state = self
            .run_list(task.branch("tasks").unwrap_or_default(), &child)
            .await;
        if state == State::Paused {
            tctx.log.flush();
            return (state, None);
        }
        let mut error = None;
        if !state.is_failure() {
            match weir_tasks::collect_shared_outputs(&tctx) {
                Ok(files) => {
                    let outputs = Map::from_iter([("outputFiles".into(), Value::Object(files))]);
                    self.store_outputs(task, run, scope, outputs);
                }
                Err(e) => error = Some(e.to_string()),
            }
        }
        tctx.log.flush();
        let _ = tokio::fs::remove_dir_all(&dir).await;
        match error {
            Some(e) => (State::Failed, Some(e)),
            None => (state, None),
        }
    }

    /// Pause: without a duration the execution stops PAUSED until resumed; with one it waits
    /// (PAUSED meanwhile) and then applies `behavior`.
    pub(super) async fn run_pause(
        self: &Arc<Self>,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Ended {
        if run.state == State::Paused {
            // Resumed: past its `timeout` the Pause fails (as Kestra's does when nobody resumes
            // in time); otherwise it ends well with the `onResume` values given on resume.
            if let Some(deadline) = crate::resume::deadline(&run.outputs)
                && chrono::Utc::now() > deadline
            {
                return (
                    State::Failed,
                    Some(format!(
                        "nobody resumed the pause before its `timeout` ({}) ended at {}",
                        task.timeout
                            .map(weir_core::format_duration)
                            .unwrap_or_default(),
                        deadline.to_rfc3339()
                    )),
                );
            }
            self.log.info(&format!("task `{}`: resumed", task.id));
            let on_resume = run
                .outputs
                .get("onResume")
                .cloned()
                .unwrap_or_else(|| Value::Object(Default::default()));
            let mut outs = serde_json::Map::new();
            outs.insert("onResume".into(), on_resume);
            self.store_outputs(task, run, scope, outs);
            return (State::Success, None);
        }
        let mut duration = None;
        for name in ["pauseDuration", "delay"] {
            match self.render_prop(task, name, scope, run).await {
                Ok(Value::Null) => {}
                Ok(v) => {
                    let text = weir_tasks::de::scalar_text(v);
                    match weir_core::parse_duration(&text) {
                        Ok(d) => {
                            duration = Some(d);
                            break;
                        }
                        Err(e) => return (State::Failed, Some(format!("`{name}`: {e}"))),
                    }
                }
                Err(e) => return (State::Failed, Some(e)),
            }
        }
        let behavior = match self.render_prop(task, "behavior", scope, run).await {
            Ok(Value::Null) => "RESUME".to_string(),
            Ok(v) => weir_tasks::de::scalar_text(v).to_ascii_uppercase(),
            Err(e) => return (State::Failed, Some(e)),
        };
        if !["RESUME", "WARN", "FAIL", "CANCEL"].contains(&behavior.as_str()) {
            return (
                State::Failed,
                Some(format!(
                    "`behavior` must be RESUME, WARN, FAIL or CANCEL, got `{behavior}`"
                )),
            );
        }
        let Some(duration) = duration else {
            // Waiting for a resume; a `timeout` sets the time it must come by.
            if let Some(limit) = task.timeout {
                let deadline = chrono::Utc::now()
                    + chrono::Duration::from_std(limit).unwrap_or(chrono::Duration::MAX);
                let mut outs = serde_json::Map::new();
                outs.insert(
                    crate::resume::DEADLINE.into(),
                    Value::String(deadline.to_rfc3339()),
                );
                self.store_outputs(task, run, scope, outs);
            }
            return (State::Paused, None);
        };
        let store = &self.engine.inner.store;
        self.set_state(run, State::Paused, run.attempts.max(1));
        let _ = store.set_execution_state(&self.id, State::Paused);
        self.emit_execution(State::Paused);
        self.log.info(&format!(
            "task `{}`: paused for {}",
            task.id,
            weir_core::format_duration(duration)
        ));
        self.log.flush();
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = self.stopped() => return (State::Killed, None),
        }
        let _ = store.set_execution_state(&self.id, State::Running);
        self.emit_execution(State::Running);
        self.set_state(run, State::Running, run.attempts.max(1));
        match behavior.as_str() {
            "WARN" => (State::Warning, None),
            "FAIL" => (
                State::Failed,
                Some(format!(
                    "the pause of {} ended (behavior FAIL)",
                    weir_core::format_duration(duration)
                )),
            ),
            "CANCEL" => (State::Cancelled, None),
            _ => (State::Success, None),
        }
    }

    /// Dag: each task starts once every task it `dependsOn` has ended well; after a failure
    /// nothing new starts. At most `concurrent` run at once (0: all).
    pub(super) async fn run_dag(
        self: &Arc<Self>,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Result<State, String> {
        let children = task.branch("tasks").unwrap_or_default();
        let deps: HashMap<&str, Vec<&str>> = match task.props.get("dependsOn") {
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    let list = v
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    (k.as_str(), list)
                })
                .collect(),
            _ => HashMap::new(),
        };
        let v = self.render_prop(task, "concurrent", scope, run).await?;
        let limit = v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n > 0)
            .map_or(children.len().max(1), |n| n as usize);
        let child_scope = scope.child(&run.id, None);
        let mut pending: Vec<&Task> = children.iter().collect();
        let mut done: HashSet<&str> = HashSet::new();
        let mut running = FuturesUnordered::new();
        let mut acc = State::Success;
        let mut stop = false;
        loop {
            if !stop && !self.is_killed() {
                let mut i = 0;
                while i < pending.len() && running.len() < limit {
                    let t = pending[i];
                    let ready = deps
                        .get(t.id.as_str())
                        .is_none_or(|d| d.iter().all(|d| done.contains(d)));
                    if ready {
                        pending.remove(i);
                        let scope = &child_scope;
                        running.push(
                            async move { (t.id.as_str(), self.run_task(t, scope).await) }.boxed(),
                        );
                    } else {
                        i += 1;
                    }
                }
            }
            let Some((id, st)) = running.next().await else {
                break;
            };
            acc = acc.worst(st);
            if st.is_failure() || st == State::Paused {
                stop = true;
            } else {
                done.insert(id);
            }
        }
        Ok(acc)
    }

    /// ForEachItem: the `items` file split into batch files (by `rows`, `bytes` or
    /// `partitions`), then one execution of the subflow per batch, `taskrun.items` naming the
    /// batch file and `taskrun.iteration` its number (from 1) in `inputs`.
    pub(super) async fn run_for_each_item(
        self: &Arc<Self>,
        task: &Task,
        run: &TaskRunRecord,
        scope: &Scope,
    ) -> Ended {
        let mut props = Map::new();
        for name in [
            "items",
            "batch",
            "namespace",
            "flowId",
            "labels",
            "wait",
            "transmitFailed",
            "inheritLabels",
            "revision",
        ] {
            match self.render_prop(task, name, scope, run).await {
                Ok(Value::Null) => {}
                Ok(v) => {
                    props.insert(name.to_string(), v);
                }
                Err(e) => return (State::Failed, Some(e)),
            }
        }
        let items = props
            .get("items")
            .map(|v| weir_tasks::de::scalar_text(v.clone()))
            .unwrap_or_default();
        let storage = self.engine.inner.storage.clone();
        let text = match storage.existing(items.trim()) {
            Ok(path) => match tokio::fs::read_to_string(&path).await {
                Ok(t) => t,
                Err(e) => return (State::Failed, Some(format!("reading `{items}`: {e}"))),
            },
            Err(e) => {
                return (
                    State::Failed,
                    Some(format!(
                        "`items` must be a kestra:// URI of a file in internal storage: {e}"
                    )),
                );
            }
        };
        let how = match Batching::from_prop(props.get("batch")) {
            Ok(b) => b,
            Err(e) => return (State::Failed, Some(e)),
        };
        let batches = split_batches(&text, how);
        let tctx = self.flowable_context(task, run, Map::new(), PathBuf::new());
        let mut uris = Vec::with_capacity(batches.len());
        for (i, batch) in batches.iter().enumerate() {
            let uri = storage.task_file_uri(&tctx.scope(), &format!("batch-{}.ion", i + 1));
            let written = match storage.create_path(&uri) {
                Ok(path) => tokio::fs::write(&path, batch)
                    .await
                    .map_err(|e| format!("writing batch {}: {e}", i + 1)),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = written {
                return (State::Failed, Some(e));
            }
            uris.push(uri);
        }
        let wait = flag(&props, "wait", true);
        let transmit = flag(&props, "transmitFailed", true);
        let mut counts: Map<String, Value> = Map::new();
        let mut failure = None;
        for (i, uri) in uris.iter().enumerate() {
            if self.is_killed() {
                return (State::Killed, None);
            }
            // `inputs` is rendered per batch, with `taskrun.items` and `taskrun.iteration`.
            let info = TaskRunInfo {
                id: &run.id,
                task_id: &task.id,
                task_type: task.kind,
                attempt: run.attempts.max(1),
                working_dir: None,
            };
            let ctx = self.context(scope, Some(&info)).with(Arc::new(json!({
                "taskrun": {
                    "id": run.id, "value": scope.value(), "attemptsCount": run.attempts.max(1),
                    "parentId": scope.parent_run, "items": uri, "iteration": i + 1,
                }
            })));
            let mut one = task.clone();
            one.props = task
                .props
                .get("inputs")
                .map(|v| Map::from_iter([("inputs".to_string(), v.clone())]))
                .unwrap_or_default();
            let mut batch_props = props.clone();
            match self.render_props(&one, &ctx) {
                Ok(r) => batch_props.extend(r),
                Err(e) => return (State::Failed, Some(e)),
            }
            drop(ctx);
            let (req, ns, flow_id) = match self.subflow_request(&batch_props) {
                Ok(r) => r,
                Err(e) => return (State::Failed, Some(e)),
            };
            if !wait {
                self.spawn_detached(req);
                continue;
            }
            let outcome = match Box::pin(self.engine.execute(req)).await {
                Ok(o) => o,
                Err(e) => return (State::Failed, Some(e.to_string())),
            };
            let st = outcome.execution.state;
            let n = counts.entry(st.as_str().to_string()).or_insert(json!(0));
            *n = json!(n.as_u64().unwrap_or(0) + 1);
            if st.is_failure() && transmit && failure.is_none() {
                failure = Some(format!(
                    "subflow execution `{}` of `{ns}.{flow_id}` (batch {}) ended {st}",
                    outcome.execution.id,
                    i + 1
                ));
            }
        }
        let outputs = Map::from_iter([
            ("numberOfBatches".into(), json!(uris.len())),
            ("iterations".into(), Value::Object(counts)),
        ]);
        self.store_outputs(task, run, scope, outputs);
        match failure {
            Some(f) => (State::Failed, Some(f)),
            None => (State::Success, None),
        }
    }
}

/// How ForEachItem splits its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batching {
    Rows(usize),
    Bytes(u64),
    Partitions(usize),
}

impl Batching {
    fn from_prop(v: Option<&Value>) -> Result<Batching, String> {
        let Some(Value::Object(m)) = v else {
            return match v {
                None | Some(Value::Null) => Ok(Batching::Rows(1)),
                Some(other) => Err(format!(
                    "`batch` must be a map with `rows`, `bytes` or `partitions`, got `{other}`"
                )),
            };
        };
        let count = |k: &str| -> Result<Option<u64>, String> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                    .filter(|n| *n > 0)
                    .map(Some)
                    .ok_or_else(|| format!("`batch.{k}` must be a positive integer, got `{v}`")),
            }
        };
        if let Some(n) = count("partitions")? {
            return Ok(Batching::Partitions(n as usize));
        }
        if let Some(v) = m.get("bytes").filter(|v| !v.is_null()) {
            return parse_size(&weir_tasks::de::scalar_text(v.clone()))
                .map(Batching::Bytes)
                .ok_or_else(|| format!("`batch.bytes` must be a size such as `10MB`, got `{v}`"));
        }
        Ok(Batching::Rows(count("rows")?.unwrap_or(1) as usize))
    }
}

/// `10MB`, `512KB`, `1GB` or plain bytes (powers of 1024, as Kestra reads them).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_uppercase();
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = s[digits.len()..].trim();
    let n: u64 = digits.trim().parse().ok()?;
    let mult: u64 = match unit {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|n| *n > 0)
}

/// The batches of a file of one item per line, each line kept with its newline.
fn split_batches(text: &str, how: Batching) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    match how {
        Batching::Rows(n) => {
            for chunk in lines.chunks(n.max(1)) {
                out.push(chunk.concat());
            }
        }
        Batching::Partitions(p) => {
            let p = p.max(1);
            let size = lines.len().div_ceil(p).max(1);
            for chunk in lines.chunks(size) {
                out.push(chunk.concat());
            }
        }
        Batching::Bytes(max) => {
            let mut cur = String::new();
            for l in lines {
                if !cur.is_empty() && (cur.len() + l.len()) as u64 > max {
                    out.push(std::mem::take(&mut cur));
                }
                cur.push_str(l);
            }
            if !cur.is_empty() {
                out.push(cur);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_lines_in_batches_of_three_make_four_batches() {
        let text: String = (1..=10).map(|i| format!("{i}\n")).collect();
        let b = split_batches(&text, Batching::Rows(3));
        assert_eq!(b, vec!["1\n2\n3\n", "4\n5\n6\n", "7\n8\n9\n", "10\n"]);
        let b = split_batches(&text, Batching::Partitions(2));
        assert_eq!(b.len(), 2);
        assert_eq!(b[1], "6\n7\n8\n9\n10\n");
        let b = split_batches("aaaa\nbbbb\ncc\n", Batching::Bytes(10));
        assert_eq!(b, vec!["aaaa\nbbbb\n", "cc\n"]);
        assert!(split_batches("", Batching::Rows(3)).is_empty());
    }

    #[test]
    fn batch_settings_read_as_kestra_writes_them() {
        assert_eq!(Batching::from_prop(None), Ok(Batching::Rows(1)));
        assert_eq!(
            Batching::from_prop(Some(&json!({"rows": 3}))),
            Ok(Batching::Rows(3))
        );
        assert_eq!(
            Batching::from_prop(Some(&json!({"bytes": "10MB"}))),
            Ok(Batching::Bytes(10 << 20))
        );
        assert_eq!(
            Batching::from_prop(Some(&json!({"partitions": "4"}))),
            Ok(Batching::Partitions(4))
        );
        assert!(Batching::from_prop(Some(&json!({"rows": 0}))).is_err());
        assert!(Batching::from_prop(Some(&json!({"bytes": "ten"}))).is_err());
    }
}
