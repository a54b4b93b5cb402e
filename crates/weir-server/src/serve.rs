//! Running the server: the listener, the workers, the scheduler, the flows folder, and a
//! graceful stop.
//!
//! Stopping (SIGTERM, Ctrl-C): the HTTP side and the scheduler stop at once, workers take no
//! new execution and no new task starts; running task attempts have `grace` to finish, then
//! they are killed. Executions left unfinished go back to the queue with their task runs, and
//! the next start resumes them.

use crate::api::{ApiState, router};
use crate::core::{Core, Notice};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(
        "refusing to listen on {0} without a token: any machine that can reach it could run flows"
    )]
    TokenRequired(SocketAddr),
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server stopped")]
    Http(#[source] std::io::Error),
}

pub struct ServeConfig {
    pub bind: SocketAddr,
    /// Required when `bind` is not a loopback address.
    pub token: Option<String>,
    /// A folder of flow files, loaded at start and watched.
    pub flows: Option<PathBuf>,
    pub workers: usize,
    /// How long running task attempts may go on after a stop is asked.
    pub grace: Duration,
    /// Where the server records its address, so that commands on the same home find it.
    pub address_file: PathBuf,
    /// The warehouse the UI shows (`jdbc:duckdb:PATH`), if any.
    pub warehouse: Option<String>,
}

/// What `<home>/server.json` holds while a server runs on that home.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub pid: u32,
    pub url: String,
    /// The API's token, for commands on the same home (the file is readable by its owner only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The server on a home, if one is running there.
pub fn find(address_file: &Path) -> Option<Address> {
    let text = std::fs::read_to_string(address_file).ok()?;
    let a: Address = serde_json::from_str(&text).ok()?;
    nix_alive(a.pid).then_some(a)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

fn nix_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Listens, then runs until `shutdown` resolves; returns once every worker has stopped.
/// `ready` is called once the server accepts connections.
pub async fn serve(
    core: Arc<Core>,
    config: ServeConfig,
    cancel: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    notice: Notice,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if !config.bind.ip().is_loopback() && config.token.as_deref().is_none_or(str::is_empty) {
        return Err(ServeError::TokenRequired(config.bind));
    }
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.bind,
        source,
    })?;
    let address = Address {
        pid: std::process::id(),
        url: format!("http://{addr}"),
        token: config.token.clone(),
    };
    write_private(
        &config.address_file,
        &serde_json::to_string(&address).unwrap_or_default(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);

    if let Some(dir) = &config.flows {
        let mut seen = HashMap::new();
        load_flows(&core, dir, &mut seen, &notice);
        let core = core.clone();
        let dir = dir.clone();
        let notice = notice.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
                load_flows(&core, &dir, &mut seen, &notice);
            }
        });
    }
    let mut workers = Vec::new();
    for _ in 0..config.workers.max(1) {
        workers.push(tokio::spawn(core.clone().worker(stop_rx.clone())));
    }
    let scheduler = tokio::spawn(core.clone().scheduler(stop_rx.clone()));

    let app = crate::ui::router().merge(router(ApiState {
        store: core.store().clone(),
        control: core.clone(),
        token: config.token.clone(),
        warehouse: config.warehouse.clone(),
        storage: Some(core.engine().storage().clone()),
    }));
    let (http_stop_tx, http_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop_rx.await;
            })
            .await
    });
    ready(addr);

    shutdown.await;
    notice(&format!(
        "stopping: no new work; running tasks have {} to finish",
        weir_core::format_duration(config.grace)
    ));
    let _ = stop_tx.send(true);
    core.engine().suspend();
    let _ = scheduler.await;
    let deadline = Instant::now() + config.grace;
    while core.engine().running() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if core.engine().running() > 0 {
        notice(&format!(
            "grace period over: killing {} running execution(s)' tasks; they resume on the next start",
            core.engine().running()
        ));
        let _ = cancel.send(true);
    }
    for w in workers {
        let _ = w.await;
    }
    let _ = http_stop_tx.send(());
    let result = match tokio::time::timeout(Duration::from_secs(2), http).await {
        Ok(Ok(Err(e))) => Err(ServeError::Http(e)),
        _ => Ok(()),
    };
    if find(&config.address_file).is_some_and(|a| a.pid == std::process::id()) {
        let _ = std::fs::remove_file(&config.address_file);
    }
    result
}

/// Deploys the flow files of `dir` that changed since the last look. An invalid file is
/// reported with its location; the revision deployed before it keeps running.
fn load_flows(
    core: &Core,
    dir: &Path,
    seen: &mut HashMap<PathBuf, (SystemTime, u64)>,
    notice: &Notice,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        notice(&format!("cannot read the flows folder `{}`", dir.display()));
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    for path in files {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        if seen.get(&path) == Some(&stamp) {
            continue;
        }
        seen.insert(path.clone(), stamp);
        let Ok(source) = std::fs::read_to_string(&path) else {
            notice(&format!("cannot read flow file `{}`", path.display()));
            continue;
        };
        match core.deploy_file(&path.display().to_string(), &source) {
            Ok(Some(rec)) => notice(&format!(
                "flow {}.{} revision {} deployed from {}",
                rec.namespace,
                rec.id,
                rec.revision,
                path.display()
            )),
            Ok(None) => {}
            Err(diags) => {
                for d in diags {
                    notice(&format!(
                        "{}:{}:{}: {}{}",
                        path.display(),
                        d.location.line,
                        d.location.column,
                        d.message,
                        d.hint.map(|h| format!(" (hint: {h})")).unwrap_or_default()
                    ));
                }
                notice(&format!(
                    "{} is invalid; the revision deployed before keeps running",
                    path.display()
                ));
            }
        }
    }
}
