//! What a task gets to do its work: rendered properties, storage, the KV store, a logger.
//!
//! Deliberately narrow: no handle here can change an execution's state.

use crate::TaskError;
use chrono::Utc;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use weir_flow::JsonMap;
use weir_storage::{InternalStorage, TaskScope};
use weir_store::{ExecutionCounter, KvStore, Level, LogRecord, LogSink};
use weir_template::Masker;

/// Writes log lines of one task run (or of the execution itself) to the store, masking secrets.
///
/// Lines are buffered and written in batches: a shell task printing thousands of lines must not
/// cost a transaction per line.
#[derive(Clone)]
pub struct Logger {
    inner: Arc<LoggerInner>,
}

struct LoggerInner {
    store: Arc<dyn LogSink>,
    masker: Masker,
    execution_id: String,
    task_run_id: Option<String>,
    task_id: Option<String>,
    attempt: Option<u32>,
    min_level: Level,
    buffer: Mutex<Vec<LogRecord>>,
}

const BATCH: usize = 64;

impl Logger {
    pub fn new(
        store: Arc<dyn LogSink>,
        masker: Masker,
        execution_id: &str,
        task: Option<(&str, &str, u32)>,
        min_level: Level,
    ) -> Self {
        Logger {
            inner: Arc::new(LoggerInner {
                store,
                masker,
                execution_id: execution_id.to_string(),
                task_run_id: task.map(|t| t.0.to_string()),
                task_id: task.map(|t| t.1.to_string()),
                attempt: task.map(|t| t.2),
                min_level,
                buffer: Mutex::new(Vec::new()),
            }),
        }
    }

    pub fn log(&self, level: Level, message: &str) {
        if level < self.inner.min_level {
            return;
        }
        let record = LogRecord {
            execution_id: self.inner.execution_id.clone(),
            task_run_id: self.inner.task_run_id.clone(),
            task_id: self.inner.task_id.clone(),
            attempt: self.inner.attempt,
            level,
            at: Utc::now(),
            message: self.inner.masker.mask(message),
        };
        let full = {
            let mut buf = self.inner.buffer.lock().unwrap_or_else(|p| p.into_inner());
            buf.push(record);
            buf.len() >= BATCH
        };
        if full {
            self.flush();
        }
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    /// Writes buffered lines. A failure to write logs must not fail the task, so it is only
    /// reported on stderr.
    pub fn flush(&self) {
        let batch =
            std::mem::take(&mut *self.inner.buffer.lock().unwrap_or_else(|p| p.into_inner()));
        if let Err(e) = self.inner.store.append_logs(&batch) {
            #[expect(
                clippy::print_stderr,
                reason = "the log store itself failed; stderr is the last resort"
            )]
            {
                eprintln!("warning: could not write {} log lines: {e}", batch.len());
            }
        }
    }
}

impl Drop for LoggerInner {
    fn drop(&mut self) {
        let batch = std::mem::take(self.buffer.get_mut().unwrap_or_else(|p| p.into_inner()));
        let _ = self.store.append_logs(&batch);
    }
}

/// The HTTP client, built on first use: building it reads the system's CA certificates, which
/// costs milliseconds that flows without HTTP tasks should not pay (and fails on hosts without
/// certificates, which only HTTP tasks should notice).
#[derive(Clone, Default)]
pub struct HttpClient(Arc<std::sync::OnceLock<Result<reqwest::Client, String>>>);

impl HttpClient {
    pub fn get(&self) -> Result<&reqwest::Client, TaskError> {
        self.0
            .get_or_init(|| {
                weir_storage::tls::install_crypto_provider();
                reqwest::Client::builder()
                    .user_agent(concat!("weir/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("could not set up the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| TaskError::Failed(e.clone()))
    }
}

/// Everything one attempt of one task run can use.
pub struct TaskContext {
    /// Properties with every template already rendered.
    pub props: JsonMap,
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    pub task_id: String,
    pub task_run_id: String,
    pub attempt: u32,
    pub storage: Arc<InternalStorage>,
    /// The KV store, for the KV tasks.
    pub kv: Arc<dyn KvStore>,
    /// Counting executions (read-only), for `execution.Count`.
    pub executions: Arc<dyn ExecutionCounter>,
    pub http: HttpClient,
    pub log: Logger,
    /// The working directory of this attempt (created by script tasks when they need it);
    /// templates see it as `{{ workingDir }}`.
    pub working_dir: PathBuf,
    pub masker: Masker,
    /// weir's home folder; local buckets live in `<home>/buckets`.
    pub home: PathBuf,
}

impl TaskContext {
    pub fn scope(&self) -> TaskScope<'_> {
        TaskScope {
            namespace: &self.namespace,
            flow_id: &self.flow_id,
            execution_id: &self.execution_id,
            task_id: &self.task_id,
            task_run_id: &self.task_run_id,
        }
    }

    /// The rendered properties as a task's own config struct.
    pub fn props<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_value(serde_json::Value::Object(self.props.clone()))
            .map_err(|e| TaskError::Props(e.to_string()))
    }
}
