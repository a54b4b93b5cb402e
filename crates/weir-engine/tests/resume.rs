//! Executions from the queue resume from their stored task runs: what ended well is kept (its
//! outputs back in the context), the rest runs again as a new attempt.

use std::sync::Arc;
use weir_core::State;
use weir_engine::{Engine, EngineConfig, RunRequest};
use weir_storage::InternalStorage;
use weir_store::{KvEntry, SqliteStore, Store, TaskRunRecord};

struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    engine: Engine,
    cancel: tokio::sync::watch::Sender<bool>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("weir.db")).expect("store"));
    let (tx, cancel) = tokio::sync::watch::channel(false);
    let engine = Engine::new(EngineConfig {
        store: store.clone(),
        storage: Arc::new(InternalStorage::new(dir.path().join("storage"))),
        catalog: Arc::new(weir_tasks::catalog::catalog()),
        work_root: dir.path().join("work"),
        home: dir.path().to_path_buf(),
        events: None,
        cancel,
    });
    Setup {
        _dir: dir,
        store,
        engine,
        cancel: tx,
    }
}

fn flow(source: &str) -> Arc<weir_flow::Flow> {
    Arc::new(
        weir_flow::parse_flow("flow.yaml", source, &weir_tasks::catalog::catalog())
            .expect("valid flow"),
    )
}

/// A run of the flow's revision 1, with no inputs, labels or trigger.
fn request(f: &Arc<weir_flow::Flow>) -> RunRequest {
    RunRequest {
        flow: f.clone(),
        revision: 1,
        inputs: Default::default(),
        labels: vec![],
        trigger: serde_json::Value::Null,
        parent_id: None,
    }
}

fn set_kv(store: &dyn Store, key: &str, value: &str) {
    store
        .kv_set(&KvEntry {
            namespace: "it".into(),
            key: key.into(),
            value: value.into(),
            kind: "STRING".into(),
            expires: None,
            updated: chrono::Utc::now(),
        })
        .expect("kv");
}

/// Claims the next queued execution and runs it to its end (or its suspension).
async fn work(s: &Setup, f: &Arc<weir_flow::Flow>) -> weir_store::ExecutionRecord {
    let claimed = s
        .store
        .claim_execution(weir_engine::current_owner())
        .expect("claim")
        .expect("an execution is queued");
    s.engine
        .run_claimed(f.clone(), claimed)
        .await
        .expect("run")
        .execution
}

fn run_of<'a>(runs: &'a [TaskRunRecord], task: &str, value: Option<&str>) -> &'a TaskRunRecord {
    runs.iter()
        .find(|r| r.task_id == task && r.value.as_deref() == value)
        .unwrap_or_else(|| panic!("no run of `{task}` {value:?} in {runs:#?}"))
}

fn runnings(r: &TaskRunRecord) -> usize {
    r.history
        .iter()
        .filter(|h| h.state == State::Running)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_execution_keeps_what_succeeded_and_retries_what_failed() {
    let s = setup();
    let f = flow(
        r#"
id: restartable
namespace: it
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: "made {{ execution.id | length }}"
  - id: gate
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('GO') }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }} {{ kv('GO') }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.value }} / {{ outputs.gate.value }}"
"#,
    );
    let req = request(&f);
    let queued = s
        .engine
        .enqueue(&req, None)
        .expect("enqueue")
        .expect("created");
    assert_eq!(queued.state, State::Created);

    // No KV entry: `gate` fails, nothing after it runs.
    let first = work(&s, &f).await;
    assert_eq!(first.state, State::Failed);
    let before = s.store.task_runs(&first.id).expect("runs");
    let first_run = run_of(&before, "first", None).clone();
    assert_eq!(run_of(&before, "gate", None).state, State::Failed);

    set_kv(&*s.store, "GO", "go");
    assert!(s.store.restart_execution(&first.id).expect("restart"));
    assert_eq!(
        s.store
            .get_execution(&first.id)
            .expect("get")
            .expect("exists")
            .state,
        State::Restarted
    );
    let again = work(&s, &f).await;
    assert_eq!(again.state, State::Success, "{again:#?}");
    let runs = s.store.task_runs(&again.id).expect("runs");

    // `first` is the same run, not run again: one attempt, one RUNNING, the same outputs.
    let kept = run_of(&runs, "first", None);
    assert_eq!(kept.id, first_run.id);
    assert_eq!((kept.attempts, runnings(kept)), (1, 1));
    assert_eq!(kept.outputs, first_run.outputs);
    // `gate` is the same run with a second attempt, recorded in its history.
    let gate = run_of(&runs, "gate", None);
    assert_eq!(
        (gate.state, gate.attempts, runnings(gate)),
        (State::Success, 2, 2)
    );
    assert_eq!(
        gate.history
            .iter()
            .map(|h| (h.state, h.attempt))
            .collect::<Vec<_>>(),
        vec![
            (State::Created, 1),
            (State::Running, 1),
            (State::Failed, 1),
            (State::Running, 2),
            (State::Success, 2)
        ]
    );
    // The kept run's outputs are back in the context for the tasks after it.
    let last = run_of(&runs, "last", None);
    let made = first_run.outputs["value"]
        .as_str()
        .expect("text")
        .to_string();
    assert_eq!(last.outputs["value"], format!("{made} / go"));
    assert_eq!(run_of(&runs, "inner", Some("b")).outputs["value"], "b go");
    // One run per task and iteration: nothing was duplicated.
    assert_eq!(runs.len(), 6, "{runs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_foreach_only_the_iteration_that_failed_runs_again() {
    let s = setup();
    let f = flow(
        r#"
id: loop
namespace: it
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value == 'b' ? kv('GO') : taskrun.value }}"
"#,
    );
    let req = request(&f);
    s.engine.enqueue(&req, None).expect("enqueue");
    let failed = work(&s, &f).await;
    assert_eq!(failed.state, State::Failed);
    let a_before = run_of(
        &s.store.task_runs(&failed.id).expect("runs"),
        "inner",
        Some("a"),
    )
    .clone();

    set_kv(&*s.store, "GO", "b!");
    s.store.restart_execution(&failed.id).expect("restart");
    let done = work(&s, &f).await;
    assert_eq!(done.state, State::Success);
    let runs = s.store.task_runs(&done.id).expect("runs");
    let a = run_of(&runs, "inner", Some("a"));
    assert_eq!(
        (a.id.as_str(), a.attempts, runnings(a)),
        (a_before.id.as_str(), 1, 1)
    );
    assert_eq!(run_of(&runs, "inner", Some("b")).attempts, 2);
    assert_eq!(run_of(&runs, "inner", Some("b")).outputs["value"], "b!");
    assert_eq!(run_of(&runs, "inner", Some("c")).attempts, 1);
    assert_eq!(runs.iter().filter(|r| r.task_id == "each").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_gives_its_execution_back_and_the_next_one_resumes_it() {
    let s = setup();
    let f = flow(
        r#"
id: slow
namespace: it
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: kept
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.before.value }}"
"#,
    );
    let req = request(&f);
    s.engine.enqueue(&req, None).expect("enqueue");
    let claimed = s
        .store
        .claim_execution(weir_engine::current_owner())
        .expect("claim")
        .expect("queued");
    let id = claimed.id.clone();
    let run = tokio::spawn({
        let engine = s.engine.clone();
        let f = f.clone();
        async move { engine.run_claimed(f, claimed).await }
    });
    // Stop while `nap` sleeps: drain (nothing new starts), then kill the running attempt.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    s.engine.suspend();
    let _ = s.cancel.send(true);
    let stopped = run.await.expect("join").expect("run").execution;
    assert_eq!(
        stopped.state,
        State::Running,
        "left for the next worker: {stopped:#?}"
    );
    assert_eq!(stopped.owner, None);
    let runs = s.store.task_runs(&id).expect("runs");
    assert_eq!(run_of(&runs, "nap", None).state, State::Killed);
    assert!(
        runs.iter().all(|r| r.task_id != "after"),
        "nothing new started: {runs:#?}"
    );

    // The next worker (a fresh engine, as after a restart) resumes it.
    let next = setup_on(&s);
    let done = work(&next, &f).await;
    assert_eq!(done.id, id);
    assert_eq!(done.state, State::Success);
    let runs = s.store.task_runs(&id).expect("runs");
    assert_eq!(run_of(&runs, "before", None).attempts, 1);
    let nap = run_of(&runs, "nap", None);
    assert_eq!((nap.state, nap.attempts), (State::Success, 2));
    assert_eq!(run_of(&runs, "after", None).outputs["value"], "kept");
}

/// Another engine on the same store, as a restarted server would have.
fn setup_on(s: &Setup) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let (tx, cancel) = tokio::sync::watch::channel(false);
    let engine = Engine::new(EngineConfig {
        store: s.store.clone(),
        storage: Arc::new(InternalStorage::new(dir.path().join("storage"))),
        catalog: Arc::new(weir_tasks::catalog::catalog()),
        work_root: dir.path().join("work"),
        home: dir.path().to_path_buf(),
        events: None,
        cancel,
    });
    Setup {
        _dir: dir,
        store: s.store.clone(),
        engine,
        cancel: tx,
    }
}
