//! The engine: turns a flow, inputs and a trigger into an execution, walks its task tree, and
//! records every step in the store.
//!
//! Retries, timeouts, `errors`/`finally`, `allowFailure`, concurrency limits and kills are all
//! decided here; tasks only do their work and return outputs.

mod context;
mod exec;
pub mod ids;
pub mod owner;
pub mod resume;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use weir_core::State;
use weir_flow::{Catalog, Flow, JsonMap};
use weir_storage::InternalStorage;
use weir_store::{Advance, ExecutionRecord, QueueSlot, Store, StoreError};
use weir_template::{Masker, Renderer};

pub use exec::new_record;
pub use owner::{current_owner, is_alive};

/// What happens while an execution runs, for live views.
#[derive(Debug, Clone)]
pub enum Event {
    Execution {
        id: String,
        state: State,
    },
    TaskRun {
        execution_id: String,
        task_run_id: String,
        task_id: String,
        value: Option<String>,
        state: State,
        attempt: u32,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("flow `{namespace}.{id}` is disabled")]
    Disabled { namespace: String, id: String },
}

/// A request to run a flow once.
pub struct RunRequest {
    pub flow: Arc<Flow>,
    pub revision: i64,
    /// Inputs already checked and typed (see `weir_flow::resolve_inputs`).
    pub inputs: JsonMap,
    pub labels: Vec<(String, String)>,
    /// `trigger.*` in templates: `date`, and `next`/`previous` when known.
    pub trigger: serde_json::Value,
    pub parent_id: Option<String>,
}

/// The end of an execution: its record, and the first failure met, for the user.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub execution: ExecutionRecord,
    pub failure: Option<String>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    storage: Arc<InternalStorage>,
    catalog: Arc<Catalog>,
    renderer: Renderer,
    masker: Masker,
    http: weir_tasks::HttpClient,
    work_root: PathBuf,
    home: PathBuf,
    events: Option<mpsc::UnboundedSender<Event>>,
    cancel: watch::Receiver<bool>,
    detached: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The executions running in this process, each with its own kill switch.
    running: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// The worker is stopping: running attempts finish, nothing new starts, and executions
    /// stopped by `cancel` go back to the queue instead of ending KILLED.
    suspend: AtomicBool,
}

/// How the engine is wired: the store, where files go, and who listens.
pub struct EngineConfig {
    pub store: Arc<dyn Store>,
    pub storage: Arc<InternalStorage>,
    pub catalog: Arc<Catalog>,
    pub work_root: PathBuf,
    /// weir's home folder (tasks keep local buckets in `<home>/buckets`).
    pub home: PathBuf,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Set to `true` to kill every running task (Ctrl-C, SIGTERM).
    pub cancel: watch::Receiver<bool>,
}

struct StoreKv(Arc<dyn Store>);

impl weir_template::KvLookup for StoreKv {
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<serde_json::Value>, String> {
        self.0
            .kv_get(namespace, key)
            .map(|e| e.map(|e| e.value))
            .map_err(|e| e.to_string())
    }
}

/// What templates read of a running execution: storage files and its ERROR logs.
struct StorageLookup {
    storage: Arc<InternalStorage>,
    store: Arc<dyn Store>,
}

impl weir_template::ExecutionLookup for StorageLookup {
    fn read_file(&self, uri: &str) -> Result<Option<Vec<u8>>, String> {
        let path = self.storage.path_of(uri).map_err(|e| e.to_string())?;
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || path.is_dir() => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        let path = self.storage.path_of(uri).map_err(|e| e.to_string())?;
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn namespace_file_uri(&self, namespace: &str, path: &str) -> Result<String, String> {
        // Checks the path (no `..`, not empty) the way namespace files are read.
        self.storage
            .namespace_file_path(namespace, path)
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "{}/{}/_files/{}",
            weir_storage::SCHEME,
            namespace.replace('.', "/"),
            path.trim_start_matches('/')
        ))
    }

    fn error_logs(&self, execution_id: &str) -> Result<Vec<serde_json::Value>, String> {
        let logs = self.store.logs(execution_id).map_err(|e| e.to_string())?;
        Ok(logs
            .into_iter()
            .filter(|l| l.level == weir_store::Level::Error)
            .map(|l| {
                serde_json::json!({
                    "executionId": l.execution_id,
                    "taskId": l.task_id,
                    "taskRunId": l.task_run_id,
                    "attemptNumber": l.attempt,
                    "level": "ERROR",
                    "timestamp": l.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "message": l.message,
                })
            })
            .collect())
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        let masker = Masker::default();
        let renderer = Renderer::with_execution(
            Arc::new(StoreKv(config.store.clone())),
            Arc::new(weir_template::EnvSecrets),
            masker.clone(),
            Arc::new(StorageLookup {
                storage: config.storage.clone(),
                store: config.store.clone(),
            }),
        );
        Engine {
            inner: Arc::new(Inner {
                store: config.store,
                storage: config.storage,
                catalog: config.catalog,
                renderer,
                masker,
                http: weir_tasks::HttpClient::default(),
                work_root: config.work_root,
                home: config.home,
                events: config.events,
                cancel: config.cancel,
                detached: Mutex::new(Vec::new()),
                running: Mutex::new(HashMap::new()),
                suspend: AtomicBool::new(false),
            }),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Where task files go (`kestra:///…`).
    pub fn storage(&self) -> &Arc<InternalStorage> {
        &self.inner.storage
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Runs one execution to its end and returns its final record.
    pub async fn execute(&self, req: RunRequest) -> Result<Outcome, EngineError> {
        exec::execute(self.clone(), req).await
    }

    /// Puts a new execution in the queue, for whichever worker claims it; with `advance`, in
    /// the same transaction as the trigger's or backfill's date (`None` when that date was
    /// handled already). A label that cannot be rendered makes the execution FAILED at once.
    pub fn enqueue(
        &self,
        req: &RunRequest,
        advance: Option<Advance<'_>>,
    ) -> Result<Option<ExecutionRecord>, EngineError> {
        if req.flow.disabled {
            return Err(EngineError::Disabled {
                namespace: req.flow.namespace.clone(),
                id: req.flow.id.clone(),
            });
        }
        let queue = QueueSlot {
            limit: req
                .flow
                .concurrency
                .filter(|c| c.behavior == weir_flow::ConcurrencyBehavior::Queue)
                .map(|c| c.limit),
        };
        let (mut record, label_error) = exec::new_record(self, req, Some(queue));
        if !self
            .inner
            .store
            .create_execution_advancing(&record, advance)?
        {
            return Ok(None);
        }
        if let Some(e) = label_error {
            let log = weir_store::LogRecord {
                execution_id: record.id.clone(),
                task_run_id: None,
                task_id: None,
                attempt: None,
                level: weir_store::Level::Error,
                at: chrono::Utc::now(),
                message: e,
            };
            self.inner.store.append_logs(&[log])?;
            self.inner
                .store
                .set_execution_state(&record.id, State::Failed)?;
            record.state = State::Failed;
        }
        Ok(Some(record))
    }

    /// Runs an execution this process claimed from the queue, resuming it where it stopped.
    pub async fn run_claimed(
        &self,
        flow: Arc<Flow>,
        record: ExecutionRecord,
    ) -> Result<Outcome, EngineError> {
        exec::run_claimed(self.clone(), flow, record).await
    }

    /// Kills an execution running in this process. Returns whether it was running here.
    pub fn kill(&self, id: &str) -> bool {
        match self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            Some(k) => {
                let _ = k.send(true);
                true
            }
            None => false,
        }
    }

    /// How many executions run in this process now.
    pub fn running(&self) -> usize {
        self.inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Starts stopping the worker: no task starts from now on; running attempts go on until
    /// `cancel` is set. Executions stopped this way go back to the queue.
    pub fn suspend(&self) {
        self.inner.suspend.store(true, Ordering::SeqCst);
    }

    /// Waits for subflows started with `wait: false`: they belong to this process.
    pub async fn wait_detached(&self) {
        loop {
            let handles: Vec<_> = std::mem::take(
                &mut *self
                    .inner
                    .detached
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
            if handles.is_empty() {
                return;
            }
            for h in handles {
                let _ = h.await;
            }
        }
    }
}
