//! `weir server` and `weir backfill`.

#![expect(
    clippy::print_stderr,
    reason = "the server reports to its operator on stderr"
)]

use crate::args::{BackfillArgs, ServerArgs};
use crate::commands::{
    Home, catalog, load_flow, open_home, parse_pairs, parse_trigger_date, plural,
    remove_partial_files,
};
use crate::output::{paint, state_color, table, user_error, user_error_hint};
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use weir_core::State;
use weir_engine::{Engine, EngineConfig};
use weir_server::core::{Core, Notice};
use weir_store::{BackfillState, ExecutionFilter};

/// `30s`, `5m`, `1h`, a number of seconds, or ISO 8601 (`PT30S`).
fn parse_grace(text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let mult = match unit {
        "" | "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        _ => None,
    };
    if let (Ok(n), Some(m)) = (num.parse::<u64>(), mult) {
        return Ok(Duration::from_secs(n.saturating_mul(m)));
    }
    weir_core::parse_duration(t).map_err(|e| {
        user_error_hint(
            format!("`{text}` is not a duration: {e}"),
            "write it as `30s`, `5m` or `PT30S`",
        )
    })
}

fn engine_for(h: &Home, cancel: tokio::sync::watch::Receiver<bool>) -> Engine {
    Engine::new(EngineConfig {
        store: h.store.clone(),
        storage: h.storage.clone(),
        catalog: catalog(),
        work_root: h.work.clone(),
        home: h.root.clone(),
        events: None,
        cancel,
    })
}

/// Gives back to the queue what a killed server left running, removing the partial files of
/// its interrupted task runs.
fn release_orphans(h: &Home) -> Result<()> {
    for orphan in h.store.release_orphans(&weir_engine::is_alive)? {
        let removed = remove_partial_files(h, &orphan);
        eprintln!(
            "{} execution {} was left running by a weir worker that is gone; it resumes{}",
            paint("33", "note:"),
            orphan.execution_id,
            if removed > 0 {
                format!(
                    " (removed {} of its interrupted tasks)",
                    plural(removed, "partial file")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}

fn notice() -> Notice {
    Arc::new(|m: &str| {
        eprintln!(
            "{} {m}",
            paint("2", &chrono::Utc::now().format("%H:%M:%S").to_string())
        )
    })
}

/// Resolves at the first SIGTERM or SIGINT, saying which came; a server stops gracefully then.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    eprintln!("{} {name} received", paint("33", "note:"));
}

pub fn server(home: &Path, args: ServerArgs) -> Result<u8> {
    let grace = parse_grace(&args.grace)?;
    let h = open_home(home)?;
    if let Some(other) = weir_server::serve::find(&h.root.join("server.json"))
        && other.pid != std::process::id()
    {
        return Err(user_error_hint(
            format!(
                "a weir server (pid {}) already runs on this home at {}",
                other.pid, other.url
            ),
            "stop it first, or give this one another `--home`",
        ));
    }
    release_orphans(&h)?;
    let rt = runtime()?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let engine = engine_for(&h, cancel_rx);
    let notice = notice();
    let core = Core::new(
        h.store.clone(),
        engine,
        catalog(),
        args.workers,
        notice.clone(),
    );
    let config = weir_server::serve::ServeConfig {
        bind: args.bind,
        token: args.token.filter(|t| !t.is_empty()),
        flows: args.flows.clone(),
        workers: args.workers,
        grace,
        address_file: h.root.join("server.json"),
        warehouse: args.warehouse.clone(),
    };
    let workers = args.workers;
    let result = rt.block_on(async move {
        let shutdown = stop_signal();
        weir_server::serve::serve(core, config, cancel_tx, shutdown, notice, |addr| {
            eprintln!(
                "{} weir server listening on http://{addr} ({}; API at http://{addr}/api/v1, OpenAPI at http://{addr}/api/v1/openapi.json)",
                paint("32", "ready:"),
                plural(workers, "worker")
            );
        })
        .await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => Ok(0),
        Err(e @ weir_server::serve::ServeError::TokenRequired(_)) => Err(user_error_hint(
            e.to_string(),
            "give one with `--token` or WEIR_SERVER_TOKEN, or bind to 127.0.0.1",
        )),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// `FLOW` as a file (validated and deployed) or `namespace.flowId`.
fn backfill_flow(h: &Home, flow: &str) -> Result<(String, String)> {
    let path = Path::new(flow);
    if path.is_file() {
        let f = match load_flow(path, &catalog())? {
            Ok(f) => f,
            Err(n) => {
                return Err(user_error(format!(
                    "flow `{flow}` is invalid ({}); nothing was run",
                    plural(n, "problem")
                )));
            }
        };
        h.store.save_flow(&f.namespace, &f.id, &f.source, true)?;
        return Ok((f.namespace, f.id));
    }
    match flow.rsplit_once('.') {
        Some((ns, id)) if !ns.is_empty() && !id.is_empty() => Ok((ns.into(), id.into())),
        _ => Err(user_error_hint(
            format!("`{flow}` is neither a flow file nor `namespace.flowId`"),
            "give the path of a flow file, or the namespace and id of a deployed flow",
        )),
    }
}

pub fn backfill(home: &Path, args: BackfillArgs) -> Result<u8> {
    let start = parse_trigger_date(&args.from)?;
    let end = parse_trigger_date(&args.to)?;
    let labels = parse_pairs(&args.labels, "label")?;
    let inputs = parse_pairs(&args.inputs, "input")?;
    let h = open_home(home)?;
    let (namespace, flow_id) = backfill_flow(&h, &args.flow)?;
    let rt = runtime()?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let engine = engine_for(&h, cancel_rx);
    let core = Core::new(h.store.clone(), engine, catalog(), args.workers, notice());
    let server = weir_server::serve::find(&h.root.join("server.json"));
    let b = core
        .new_backfill(
            &namespace,
            &flow_id,
            &args.trigger,
            start,
            end,
            inputs,
            labels,
        )
        .map_err(|e| match e {
            weir_server::control::ControlError::NotFound(m)
            | weir_server::control::ControlError::Invalid(m) => user_error(m),
            other => anyhow::Error::new(other),
        })?;
    match &server {
        Some(s) => eprintln!(
            "backfill {} of {}.{} trigger `{}`: {} handed to the server at {} (pid {})",
            b.id,
            namespace,
            flow_id,
            args.trigger,
            plural(b.total as usize, "date"),
            s.url,
            s.pid
        ),
        None => {
            release_orphans(&h)?;
            eprintln!(
                "backfill {} of {}.{} trigger `{}`: {}",
                b.id,
                namespace,
                flow_id,
                args.trigger,
                plural(b.total as usize, "date")
            );
        }
    }
    let bar = indicatif::ProgressBar::new(b.total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} executions ended {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let store = h.store.clone();
    let id = b.id.clone();
    let filter = ExecutionFilter {
        namespace: Some(namespace.clone()),
        flow_id: Some(flow_id.clone()),
        labels: vec![("backfill".into(), "true".into())],
        from: Some(b.created),
        ..Default::default()
    };
    let mine = move |e: &weir_store::ExecutionRecord| {
        e.trigger.get("backfill").and_then(|v| v.as_str()) == Some(id.as_str())
    };
    let local = server.is_none();
    let workers = args.workers;
    let ended = rt.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut handles = Vec::new();
        if local {
            for _ in 0..workers.max(1) {
                handles.push(tokio::spawn(core.clone().worker(stop_rx.clone())));
            }
        }
        let signals = tokio::spawn(crate::commands::watch_signals(cancel_tx));
        let address_file = h.root.join("server.json");
        let mut server_gone = false;
        let result = loop {
            if local {
                core.backfill_tick(&b.id);
            } else if weir_server::serve::find(&address_file).is_none() != server_gone {
                // The backfill lives in the store: a server started on this home finishes it.
                server_gone = !server_gone;
                bar.suspend(|| {
                    if server_gone {
                        eprintln!(
                            "{} the weir server that runs this backfill is gone; it goes on when a server starts on this home again",
                            paint("33", "note:")
                        );
                    } else {
                        eprintln!("{} a weir server runs this backfill again", paint("36", "note:"));
                    }
                });
            }
            let list = store.list_executions(&filter)?;
            let mine: Vec<_> = list.into_iter().filter(|e| mine(e)).collect();
            let done = mine.iter().filter(|e| e.state.is_terminated()).count();
            bar.set_position(done as u64);
            let record = store.get_backfill(&b.id)?;
            let finished = record
                .as_ref()
                .is_none_or(|r| matches!(r.state, BackfillState::Done | BackfillState::Cancelled))
                && done == mine.len();
            if finished {
                break Ok::<_, anyhow::Error>(mine);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let _ = stop_tx.send(true);
        for h in handles {
            let _ = h.await;
        }
        signals.abort();
        result
    })?;
    bar.finish_and_clear();
    rt.shutdown_timeout(Duration::from_millis(100));
    let mut ended = ended;
    ended.sort_by_key(date_of);
    let rows: Vec<Vec<String>> = ended
        .iter()
        .map(|e| vec![date_of(e), e.id.clone(), state_color(e.state)])
        .collect();
    // The table is data (stdout, for pipes); the summary is for the person (stderr).
    crate::commands::emit(&table(&["DATE", "EXECUTION", "STATE"], &rows));
    let failed = ended.iter().filter(|e| e.state.is_failure()).count();
    let state = if failed > 0 {
        State::Failed
    } else {
        State::Success
    };
    eprintln!(
        "\nbackfill {} {}: {} ({} failed)",
        b.id,
        state_color(state),
        plural(ended.len(), "execution"),
        failed
    );
    Ok(if failed > 0 { 1 } else { 0 })
}

fn date_of(e: &weir_store::ExecutionRecord) -> String {
    e.trigger
        .pointer("/variables/date")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Runs SQL on a DuckDB file through the server that holds it.
pub fn remote_query(
    server: &weir_server::serve::Address,
    url: &str,
    sql: &str,
) -> Result<weir_warehouse::Rows> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let body = serde_json::json!({"url": url, "sql": sql}).to_string();
    let endpoint = format!("{}/api/v1/warehouse/query", server.url);
    let (status, text) = rt
        .block_on(async {
            weir_storage::tls::install_crypto_provider();
            let mut req = reqwest::Client::new()
                .post(&endpoint)
                .header("content-type", "application/json")
                .body(body);
            if let Some(t) = &server.token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await?;
            let status = resp.status();
            Ok::<_, reqwest::Error>((status, resp.text().await?))
        })
        .with_context(|| {
            format!(
                "could not reach the weir server at {} (pid {})",
                server.url, server.pid
            )
        })?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !status.is_success() {
        let msg = v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or(&text)
            .to_string();
        return Err(user_error(format!(
            "the weir server at {} answered: {msg}",
            server.url
        )));
    }
    let columns = v
        .get("columns")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    let rows = v
        .get("rows")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    Ok(weir_warehouse::Rows { columns, rows })
}

/// `weir run` with a server on the home: the execution goes into the server's queue and this
/// command follows it in the store, feeding the same live view as a local run.
pub async fn run_on_server(
    engine: &Engine,
    server: &weir_server::serve::Address,
    req: weir_engine::RunRequest,
    events: tokio::sync::mpsc::UnboundedSender<weir_engine::Event>,
    mut cancel: tokio::sync::watch::Receiver<bool>,
) -> Result<weir_engine::Outcome> {
    let store = engine.store().clone();
    let record = engine
        .enqueue(&req, None)?
        .context("the execution was not created")?;
    let id = record.id.clone();
    eprintln!(
        "{} execution {id} handed to the weir server at {} (pid {}); Ctrl-C kills it there",
        paint("36", "note:"),
        server.url,
        server.pid
    );
    let mut seen: std::collections::HashMap<String, (State, u32)> = Default::default();
    let mut kill_asked = false;
    let execution = loop {
        for r in store.task_runs(&id)? {
            if seen.get(&r.id) != Some(&(r.state, r.attempts)) {
                seen.insert(r.id.clone(), (r.state, r.attempts));
                let _ = events.send(weir_engine::Event::TaskRun {
                    execution_id: id.clone(),
                    task_run_id: r.id.clone(),
                    task_id: r.task_id.clone(),
                    value: r.value.clone(),
                    state: r.state,
                    attempt: r.attempts,
                });
            }
        }
        let e = store
            .get_execution(&id)?
            .context("the execution vanished from the store")?;
        if e.state.is_terminated() {
            break e;
        }
        if *cancel.borrow() && !kill_asked {
            kill_asked = true;
            store.request_kill(&id)?;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = cancel.changed(), if !kill_asked => {}
        }
    };
    // The first error logged says why it failed, as a local run's summary does.
    let failure = store
        .logs(&id)?
        .into_iter()
        .find(|l| l.level == weir_store::Level::Error)
        .map(|l| match l.task_id {
            Some(t) => format!("task `{t}` failed: {}", l.message),
            None => l.message,
        });
    Ok(weir_engine::Outcome { execution, failure })
}

/// `weir demo --server`: the taxi flow deployed with its schedule, a server on `bind`, and a
/// backfill of the demo's months per taxi run through it; then it keeps serving.
#[allow(clippy::too_many_arguments)]
pub async fn demo_server(
    h: &Home,
    engine: Engine,
    catalog: Arc<weir_flow::Catalog>,
    flow: &weir_flow::Flow,
    specs: &[weir_taxi::MonthSpec],
    cancel: Option<tokio::sync::watch::Sender<bool>>,
    bind: std::net::SocketAddr,
    url: &str,
    taxis: &[weir_taxi::Taxi],
) -> Result<()> {
    let cancel = cancel.context("the demo's stop switch was taken")?;
    let notice = notice();
    let workers = 2;
    let core = Core::new(h.store.clone(), engine, catalog, workers, notice.clone());
    release_orphans(h)?;
    let (first, last) = match (
        specs.iter().min_by_key(|s| (s.year, s.month)),
        specs.iter().max_by_key(|s| (s.year, s.month)),
    ) {
        (Some(a), Some(b)) => (a, b),
        _ => return Ok(()),
    };
    let date = |y: i32, m: u32, end: bool| {
        let text = if end {
            format!("{y}-{m:02}-28T23:59:59Z")
        } else {
            format!("{y}-{m:02}-01T00:00:00Z")
        };
        parse_trigger_date(&text)
    };
    let (start, end) = (
        date(first.year, first.month, false)?,
        date(last.year, last.month, true)?,
    );
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = weir_server::serve::ServeConfig {
        bind,
        token: None,
        flows: None,
        workers,
        grace: Duration::from_secs(10),
        address_file: h.root.join("server.json"),
        warehouse: Some(url.to_string()),
    };
    let shutdown = async move {
        tokio::select! {
            () = stop_signal() => {}
            _ = stop_rx => {}
        }
    };
    let server = tokio::spawn(weir_server::serve::serve(
        core.clone(),
        config,
        cancel,
        shutdown,
        notice,
        move |addr| {
            let _ = ready_tx.send(addr);
        },
    ));
    let Ok(addr) = ready_rx.await else {
        let _ = stop_tx.send(());
        return match server.await {
            Ok(Err(e)) => Err(anyhow::Error::new(e)),
            _ => Err(user_error("the demo's server did not start")),
        };
    };
    eprintln!(
        "{} server at http://{addr}: flow {}.{} with Schedule trigger `monthly` (cron `0 9 1 * *`)",
        paint("32", "ready:"),
        flow.namespace,
        flow.id
    );
    let mut ids = Vec::new();
    for t in taxis {
        let b = core
            .new_backfill(
                &flow.namespace,
                &flow.id,
                "monthly",
                start,
                end,
                vec![("taxi".into(), t.as_str().into())],
                vec![("demo".into(), "true".into())],
            )
            .map_err(|e| user_error(e.to_string()))?;
        eprintln!(
            "backfill {} ({}): {} through the server",
            b.id,
            t.as_str(),
            plural(b.total as usize, "scheduled date")
        );
        ids.push(b.id);
    }
    // Follow the backfills in the store, as anyone watching the API would.
    let store = h.store.clone();
    let total: u64 = ids
        .iter()
        .filter_map(|id| store.get_backfill(id).ok().flatten())
        .map(|b| b.total)
        .sum();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} months loaded {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mine = |e: &weir_store::ExecutionRecord| {
        e.trigger
            .get("backfill")
            .and_then(|v| v.as_str())
            .is_some_and(|b| ids.iter().any(|i| i == b))
    };
    let filter = ExecutionFilter {
        namespace: Some(flow.namespace.clone()),
        flow_id: Some(flow.id.clone()),
        labels: vec![("backfill".into(), "true".into())],
        ..Default::default()
    };
    let ended = loop {
        let list: Vec<_> = store
            .list_executions(&filter)?
            .into_iter()
            .filter(|e| mine(e))
            .collect();
        let done = list.iter().filter(|e| e.state.is_terminated()).count();
        bar.set_position(done as u64);
        let backfills_done =
            ids.iter().all(|id| {
                store.get_backfill(id).ok().flatten().is_none_or(|b| {
                    matches!(b.state, BackfillState::Done | BackfillState::Cancelled)
                })
            });
        if (backfills_done && done == list.len()) || server.is_finished() {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    bar.finish_and_clear();
    let mut ended = ended;
    ended.sort_by_key(|e| {
        (
            e.labels
                .iter()
                .find(|(k, _)| k == "taxi")
                .map(|(_, v)| v.clone()),
            date_of(e),
        )
    });
    let mut rows = Vec::new();
    for e in &ended {
        let runs = store.task_runs(&e.id)?;
        let load = runs
            .iter()
            .find(|r| r.task_id == "load")
            .map(|r| r.outputs.clone())
            .unwrap_or_default();
        let taxi = e
            .labels
            .iter()
            .find(|(k, _)| k == "taxi")
            .map_or("", |(_, v)| v.as_str());
        let secs = match (e.started, e.ended) {
            (Some(s), Some(x)) => format!("{:.1}", (x - s).num_milliseconds() as f64 / 1000.0),
            _ => "-".into(),
        };
        let mut row = vec![
            format!("{taxi} {}", &date_of(e).get(..7).unwrap_or("")),
            state_color(e.state),
        ];
        row.extend(crate::demo::load_cells(&load));
        row.extend([secs, e.id.clone()]);
        rows.push(row);
    }
    crate::commands::emit(&format!("\n{}", crate::demo::month_table(&rows)));
    crate::demo::print_totals(url, taxis)?;
    eprintln!(
        "\n{} the server keeps running at http://{addr} — Ctrl-C stops it. Look at:\n  \
         http://{addr}/api/v1/executions/search?namespace={ns}&labels=backfill:true   the backfill's executions\n  \
         http://{addr}/api/v1/executions/{{id}}                                        one with its task runs (a Gantt chart's data)\n  \
         http://{addr}/api/v1/triggers/search                                          the schedule, its next date\n  \
         weir --home {home} executions list                                            the same from the command line",
        paint("1;36", "next:"),
        ns = flow.namespace,
        home = h.root.display(),
    );
    match server.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(anyhow::Error::new(e)),
        Err(e) => Err(anyhow::anyhow!("the demo's server stopped: {e}")),
    }
}
