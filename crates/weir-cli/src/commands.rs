//! One function per command: wiring adapters, calling the crates, printing results.

#![expect(
    clippy::print_stderr,
    reason = "commands report progress and notes on stderr"
)]

use crate::args::*;
use crate::output::{self, paint, state_color, table, user_error, user_error_hint};
use anyhow::{Context, Result};
use chrono::Utc;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weir_core::State;
use weir_engine::{Engine, EngineConfig, Event, RunRequest};
use weir_flow::{Catalog, Flow};
use weir_storage::InternalStorage;
use weir_store::{ExecutionFilter, KvEntry, Level, SqliteStore, Store};

/// Writes data to stdout; a closed pipe (`weir … | head`) ends quietly.
pub(crate) fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

fn emit_json(v: &impl serde::Serialize) {
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(v).unwrap_or_default()
    ));
}

pub fn dispatch(cli: Cli) -> Result<u8> {
    let home = cli.home;
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Run(args) => run(&home, args),
        Command::Executions(cmd) => executions(&home, cmd),
        Command::Kv(cmd) => kv(&home, cmd),
        Command::Flows(cmd) => flows(&home, cmd),
        Command::Namespace(cmd) => crate::namespace::namespace(&home, cmd),
        Command::Demo(args) => crate::demo::demo(&home, args),
        Command::Server(args) => crate::server::server(&home, args),
        Command::Backfill(args) => crate::server::backfill(&home, args),
        Command::Query {
            url,
            sql,
            json,
            csv,
        } => query(&home, &url, &sql, json, csv),
        Command::Dbt(cmd) => crate::dbt::dbt(*cmd),
        Command::Warehouse(cmd) => crate::warehouse::warehouse(&home, cmd),
        Command::Tasks => {
            // Every name a flow may use: each type, then its older names, marked as aliases.
            let rows: Vec<Vec<String>> = weir_tasks::registry::specs()
                .flat_map(|s| {
                    std::iter::once(vec![s.name.to_string(), s.doc.to_string()]).chain(
                        s.aliases
                            .iter()
                            .map(|a| vec![a.to_string(), format!("(alias of `{}`)", s.name)]),
                    )
                })
                .collect();
            emit(&table(&["TYPE", "WHAT IT DOES"], &rows));
            Ok(0)
        }
    }
}

pub(crate) struct Home {
    /// The home folder, absolute.
    pub root: PathBuf,
    pub store: Arc<dyn Store>,
    pub storage: Arc<InternalStorage>,
    pub work: PathBuf,
}

/// Opens weir's home folder, creating it on first use, and fails executions left RUNNING by a
/// process that is gone.
pub(crate) fn open_home(home: &Path) -> Result<Home> {
    std::fs::create_dir_all(home)
        .with_context(|| format!("could not create weir's home folder `{}`", home.display()))?;
    // Absolute from here on: `{{ workingDir }}` and file paths handed to scripts must hold
    // wherever the script's process runs (its working directory is not ours).
    let home = &std::path::absolute(home)
        .with_context(|| format!("could not resolve weir's home folder `{}`", home.display()))?;
    let store = SqliteStore::open(&home.join("weir.db"))?;
    let h = Home {
        root: home.clone(),
        store: Arc::new(store),
        storage: Arc::new(InternalStorage::new(home.join("storage"))),
        work: home.join("work"),
    };
    for orphan in h.store.fail_orphans(&weir_engine::is_alive)? {
        let removed = remove_partial_files(&h, &orphan);
        eprintln!(
            "{} execution {} was left running by a weir process that is gone; marked FAILED{}",
            paint("33", "note:"),
            orphan.execution_id,
            if removed > 0 {
                format!(
                    " and removed {} of its interrupted tasks",
                    plural(removed, "partial file")
                )
            } else {
                String::new()
            }
        );
    }
    Ok(h)
}

/// Removes what the interrupted task runs of a crashed execution left: their files in internal
/// storage (a download cut short) and their working directories. Files of task runs that
/// finished are kept: their outputs point at them. Returns how many files were removed.
pub(crate) fn remove_partial_files(h: &Home, orphan: &weir_store::Orphan) -> usize {
    let Ok(Some(ex)) = h.store.get_execution(&orphan.execution_id) else {
        return 0;
    };
    let mut removed = 0;
    for (run_id, task_id) in &orphan.interrupted {
        let scope = weir_storage::TaskScope {
            namespace: &ex.namespace,
            flow_id: &ex.flow_id,
            execution_id: &ex.id,
            task_id,
            task_run_id: run_id,
        };
        removed += h.storage.purge_task_run(&scope).unwrap_or(0);
        // Working directories are `<task run id>-<attempt>`.
        if let Ok(entries) = std::fs::read_dir(&h.work) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name
                    .strip_prefix(run_id.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
    removed
}

pub(crate) fn catalog() -> Arc<Catalog> {
    Arc::new(weir_tasks::catalog::catalog())
}

fn flow_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("could not read folder `{}`", p.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Reads and validates a flow file, printing its diagnostics. `None` when it has problems.
pub(crate) fn load_flow(path: &Path, catalog: &Catalog) -> Result<Result<Flow, usize>> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        user_error(format!(
            "could not read flow file `{}`: {e}",
            path.display()
        ))
    })?;
    match weir_flow::parse_flow(&path.display().to_string(), &source, catalog) {
        Ok(flow) => {
            warn_unrun_triggers(&flow);
            Ok(Ok(flow))
        }
        Err(diags) => {
            for d in &diags {
                output::print_diagnostic(d, Some(&source));
            }
            Ok(Err(diags.len()))
        }
    }
}

/// Triggers fire only under `weir server`; a flow run or checked here must not look scheduled.
fn warn_unrun_triggers(flow: &Flow) {
    for t in flow.triggers.iter().filter(|t| !t.disabled) {
        eprintln!(
            "{} {}:{}:{}: trigger `{}` fires only while `weir server` runs this flow \
             (deploy it there, or `weir backfill` its past dates)",
            paint("36", "note:"),
            flow.file,
            t.pos.line,
            t.pos.column,
            t.id
        );
    }
}

pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn validate(paths: &[PathBuf]) -> Result<u8> {
    let catalog = catalog();
    let files = flow_files(paths)?;
    let mut problems = 0;
    let mut bad_files = 0;
    for f in &files {
        if let Err(n) = load_flow(f, &catalog)? {
            problems += n;
            bad_files += 1;
        }
    }
    if problems > 0 {
        return Err(user_error(format!(
            "{} in {} of {}",
            plural(problems, "problem"),
            plural(bad_files, "file"),
            plural(files.len(), "flow file")
        )));
    }
    eprintln!("{} {} valid", paint("32", "✓"), plural(files.len(), "flow"));
    Ok(0)
}

pub(crate) fn parse_pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|i| match i.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(user_error_hint(
                format!("`{i}` is not a valid {what}"),
                format!("write {what}s as `NAME=VALUE`"),
            )),
        })
        .collect()
}

/// Inputs as given, FILE ones turned into URIs, and the local files to copy to those URIs.
pub(crate) struct FileInputs {
    pub given: Vec<(String, String)>,
    pub uploads: Vec<(PathBuf, String)>,
}

/// FILE inputs given as `NAME=@path`: each file must exist; its value becomes the `kestra:///`
/// URI its copy will have in internal storage (under the flow's `inputs/<input>/<upload id>/`),
/// and the copies to make are returned beside the inputs.
pub(crate) fn file_inputs(
    flow: &weir_flow::Flow,
    given: Vec<(String, String)>,
) -> Result<FileInputs> {
    let mut uploads = Vec::new();
    let mut out = Vec::with_capacity(given.len());
    for (name, value) in given {
        let is_file = flow
            .inputs
            .iter()
            .any(|i| i.id == name && i.kind == weir_flow::InputKind::File);
        if !is_file {
            out.push((name, value));
            continue;
        }
        let Some(path) = value.strip_prefix('@') else {
            if value.starts_with("kestra:///") || value.starts_with("nsfile:///") {
                out.push((name, value));
                continue;
            }
            return Err(user_error_hint(
                format!("input `{name}` is a FILE input, and `{value}` is not a file"),
                format!("give the file's path after `@`: `-i {name}=@{value}`"),
            ));
        };
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(user_error_hint(
                format!("input `{name}`: file `{}` does not exist", path.display()),
                "give the path of an existing file after `@`, relative to the current folder",
            ));
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "file".into());
        let uri = format!(
            "kestra:///{}/{}/inputs/{name}/{}/{file_name}",
            flow.namespace.replace('.', "/"),
            flow.id,
            uuid::Uuid::new_v4().simple()
        );
        uploads.push((path, uri.clone()));
        out.push((name, uri));
    }
    Ok(FileInputs {
        given: out,
        uploads,
    })
}

/// Whether a failure comes from a template reading the trigger's date (or the trigger itself)
/// where a run by hand has none.
fn needs_trigger_date(failure: &str) -> bool {
    [
        "`trigger.date` is undefined",
        "`trigger` is undefined",
        "`trigger.date` is none",
    ]
    .iter()
    .any(|m| failure.contains(m))
}

pub(crate) fn parse_trigger_date(text: &str) -> Result<chrono::DateTime<Utc>> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Ok(d.and_utc());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    Err(user_error_hint(
        format!("`{text}` is not a date"),
        "use `2021-01-01` or `2021-01-01T06:00:00Z`",
    ))
}

fn run(home: &Path, args: RunArgs) -> Result<u8> {
    let catalog = catalog();
    let flow = match load_flow(&args.flow, &catalog)? {
        Ok(f) => f,
        Err(n) => {
            return Err(user_error(format!(
                "flow `{}` is invalid ({}); nothing was run",
                args.flow.display(),
                plural(n, "problem")
            )));
        }
    };
    let given = parse_pairs(&args.inputs, "input")?;
    let labels = parse_pairs(&args.labels, "label")?;
    let FileInputs { given, uploads } = file_inputs(&flow, given)?;
    let inputs = weir_flow::resolve_inputs(&flow, &given).map_err(|errors| {
        user_error_hint(
            format!(
                "invalid inputs for flow `{}`: {}; nothing was run",
                flow.id,
                errors.join("; ")
            ),
            flow_inputs_hint(&flow),
        )
    })?;
    let trigger = match &args.trigger_date {
        Some(t) => {
            let d = parse_trigger_date(t)?;
            serde_json::json!({"date": d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
        }
        None => serde_json::Value::Null,
    };
    let h = open_home(home)?;
    for (path, uri) in &uploads {
        h.storage.put_file(path, uri).with_context(|| {
            format!("could not copy `{}` into internal storage", path.display())
        })?;
    }
    let record = h
        .store
        .save_flow(&flow.namespace, &flow.id, &flow.source, args.deploy)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let remote_cancel = cancel_rx.clone();
    let engine = Engine::new(EngineConfig {
        store: h.store.clone(),
        storage: h.storage.clone(),
        catalog: catalog.clone(),
        work_root: h.work.clone(),
        home: h.root.clone(),
        events: Some(events_tx.clone()),
        cancel: cancel_rx,
    });
    let flow = Arc::new(flow);
    let started = std::time::Instant::now();
    let outcome = runtime.block_on(async {
        tokio::spawn(watch_signals(cancel_tx));
        let view = tokio::spawn(crate::commands::live::show(events_rx));
        let req = RunRequest {
            flow: flow.clone(),
            revision: record.revision,
            inputs,
            labels,
            trigger,
            parent_id: None,
        };
        // A server on this home runs it (it holds the home's DuckDB files); the view is the same.
        let out = match weir_server::serve::find(&h.root.join("server.json")) {
            Some(server) => {
                crate::server::run_on_server(
                    &engine,
                    &server,
                    req,
                    events_tx.clone(),
                    remote_cancel,
                )
                .await
            }
            None => engine.execute(req).await.map_err(anyhow::Error::from),
        };
        drop(events_tx);
        engine.wait_detached().await;
        drop(engine);
        let _ = view.await;
        out
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));

    let ex = &outcome.execution;
    if let Some(f) = print_summary(&*h.store, &outcome, started, "")? {
        if args.trigger_date.is_none() && needs_trigger_date(f) {
            eprintln!(
                "{} the flow reads `trigger.date`, which only a trigger sets: to run it by hand as \
                 its Schedule would, pass `--trigger-date` (e.g. `--trigger-date 2024-01-01T00:00:00Z`)",
                paint("1;36", "hint:"),
            );
        }
        eprintln!(
            "{} see all logs with `weir executions logs {}`",
            paint("1;36", "hint:"),
            ex.id
        );
    }
    say_if_paused(ex);
    if args.json {
        emit_json(&execution_json(&*h.store, &ex.id)?);
    } else {
        emit(&format!("{}\n", ex.id));
    }
    Ok(if ex.state.is_failure() { 1 } else { 0 })
}

/// A paused execution is not a failure (exit 0); the user is told how to go on.
fn say_if_paused(ex: &weir_store::ExecutionRecord) {
    if ex.state == State::Paused {
        eprintln!(
            "{} resume it with `weir executions resume {}`",
            paint("1;35", "paused:"),
            ex.id
        );
    }
}

/// `weir executions resume`: a PAUSED execution continues in this process from its stored
/// task runs, past the Pause task that stopped it.
fn resume(h: &Home, id: &str, inputs: &[String]) -> Result<u8> {
    let store = &*h.store;
    let id = resolve_execution(store, id)?;
    let ex = store
        .get_execution(&id)?
        .ok_or_else(|| user_error(format!("no execution `{id}`")))?;
    if ex.state != State::Paused {
        return Err(user_error_hint(
            format!(
                "execution {id} is {}, not PAUSED; nothing to resume",
                ex.state
            ),
            "only an execution stopped by a Pause task can be resumed; `weir executions list --state PAUSED` lists them",
        ));
    }
    if let Some(o) = ex.owner.filter(|o| weir_engine::is_alive(o.pid, o.start)) {
        return Err(user_error_hint(
            format!(
                "execution {id} is paused for a set time by weir process {}",
                o.pid
            ),
            "it resumes by itself when its `pauseDuration` ends",
        ));
    }
    let flow_record = store
        .get_flow(&ex.namespace, &ex.flow_id, Some(ex.flow_revision))?
        .ok_or_else(|| {
            user_error(format!(
                "revision {} of flow `{}.{}` is no longer stored; execution {id} cannot resume",
                ex.flow_revision, ex.namespace, ex.flow_id
            ))
        })?;
    let catalog = catalog();
    let file = format!(
        "{}.{} (revision {})",
        ex.namespace, ex.flow_id, ex.flow_revision
    );
    let flow = weir_flow::parse_flow(&file, &flow_record.source, &catalog)
        .map_err(|d| user_error(format!("flow `{file}` no longer validates: {}", d[0])))?;
    // The Pause's `onResume` inputs, checked before anything continues.
    let given = parse_pairs(inputs, "input")?;
    weir_engine::resume::prepare(store, &catalog, &flow, &id, &given).map_err(|e| match e {
        weir_engine::resume::ResumeError::Inputs(errors) => user_error_hint(
            format!(
                "invalid `onResume` inputs for execution {id}: {}; it stays PAUSED",
                errors.join("; ")
            ),
            "give each with `-i NAME=VALUE`",
        ),
        e => anyhow::Error::new(e),
    })?;
    let record = store
        .resume_execution(&id, Some(weir_engine::current_owner()))?
        .ok_or_else(|| user_error(format!("execution {id} was resumed by someone else")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let (cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let engine = Engine::new(EngineConfig {
        store: h.store.clone(),
        storage: h.storage.clone(),
        catalog: catalog.clone(),
        work_root: h.work.clone(),
        home: h.root.clone(),
        events: Some(events_tx.clone()),
        cancel: cancel_rx,
    });
    let started = std::time::Instant::now();
    let outcome = runtime.block_on(async {
        tokio::spawn(watch_signals(cancel_tx));
        let view = tokio::spawn(crate::commands::live::show(events_rx));
        let out = engine.run_claimed(Arc::new(flow), record).await;
        drop(events_tx);
        engine.wait_detached().await;
        drop(engine);
        let _ = view.await;
        out
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    let ex = &outcome.execution;
    print_summary(store, &outcome, started, " after resuming")?;
    say_if_paused(ex);
    emit(&format!("{}\n", ex.id));
    Ok(if ex.state.is_failure() { 1 } else { 0 })
}

/// The end of `weir run` and `weir executions resume` on stderr: the task table, the
/// execution's line and its failure; returns the failure when the execution failed, for hints.
fn print_summary<'o>(
    store: &dyn weir_store::Store,
    outcome: &'o weir_engine::Outcome,
    started: std::time::Instant,
    how: &str,
) -> Result<Option<&'o str>> {
    let ex = &outcome.execution;
    log_stop_signal(store, ex);
    let runs = store.task_runs(&ex.id)?;
    eprintln!();
    eprint!("{}", task_table(&runs));
    eprintln!(
        "\nexecution {} {} in {}{how} ({}, flow {}.{} revision {})",
        ex.id,
        state_color(ex.state),
        weir_core::format_duration(started.elapsed()),
        plural(runs.len(), "task"),
        ex.namespace,
        ex.flow_id,
        ex.flow_revision
    );
    let failure = outcome.failure.as_deref().filter(|_| ex.state.is_failure());
    if let Some(f) = failure {
        eprintln!("{} {f}", paint("1;31", "error:"));
    }
    Ok(failure)
}

fn flow_inputs_hint(flow: &Flow) -> String {
    if flow.inputs.is_empty() {
        return "this flow takes no inputs".into();
    }
    let list: Vec<String> = flow
        .inputs
        .iter()
        .map(|i| {
            let what = if i.values.is_empty() {
                i.kind.name().to_string()
            } else {
                format!("{}: {}", i.kind.name(), i.values.join("|"))
            };
            let optional = if !i.required || i.defaults.is_some() {
                ", optional"
            } else {
                ""
            };
            format!("`--input {}=…` ({what}{optional})", i.id)
        })
        .collect();
    format!("this flow takes {}", list.join(", "))
}

/// The signal that stopped this process's executions, for their logs.
pub(crate) static STOPPED_BY: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Says in an execution's log which signal killed it.
pub(crate) fn log_stop_signal(store: &dyn Store, execution: &weir_store::ExecutionRecord) {
    if execution.state != weir_core::State::Killed {
        return;
    }
    if let Some(name) = STOPPED_BY.get() {
        let _ = store.append_logs(&[weir_store::LogRecord {
            execution_id: execution.id.clone(),
            task_run_id: None,
            task_id: None,
            attempt: None,
            level: Level::Warn,
            at: Utc::now(),
            message: format!("killed: weir received {name} and stopped the running tasks"),
        }]);
    }
}

/// Ctrl-C and SIGTERM stop running tasks; the execution is recorded as KILLED.
pub(crate) async fn watch_signals(cancel: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    let _ = STOPPED_BY.set(name);
    eprintln!(
        "\n{} stopping: killing running tasks",
        paint("33", &format!("{name} received:"))
    );
    let _ = cancel.send(true);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    eprintln!("second signal: exiting now");
    std::process::exit(130);
}

pub mod live {
    //! The live view of a running execution: a spinner per running task on a terminal, a line
    //! per finished task run otherwise.

    #![expect(clippy::print_stderr, reason = "the live view is drawn on stderr")]

    use super::*;
    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::collections::HashMap;
    use std::time::Instant;

    pub async fn show(mut rx: tokio::sync::mpsc::UnboundedReceiver<Event>) {
        let tty = std::io::stderr().is_terminal();
        let mp = MultiProgress::with_draw_target(if tty {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let style = ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let mut bars: HashMap<String, ProgressBar> = HashMap::new();
        let mut started: HashMap<String, Instant> = HashMap::new();
        while let Some(ev) = rx.recv().await {
            let Event::TaskRun {
                task_run_id,
                task_id,
                value,
                state,
                attempt,
                ..
            } = ev
            else {
                continue;
            };
            let name = match &value {
                Some(v) => format!("{task_id} [{v}]"),
                None => task_id.clone(),
            };
            match state {
                State::Running | State::Retrying => {
                    started
                        .entry(task_run_id.clone())
                        .or_insert_with(Instant::now);
                    // Without a terminal there is nothing to animate: only finished runs print.
                    if !tty {
                        continue;
                    }
                    let pb = bars.entry(task_run_id.clone()).or_insert_with(|| {
                        let pb = mp.add(ProgressBar::new_spinner());
                        pb.set_style(style.clone());
                        pb.enable_steady_tick(std::time::Duration::from_millis(100));
                        pb
                    });
                    let what = if state == State::Retrying {
                        format!("{name} retrying after attempt {attempt}")
                    } else if attempt > 1 {
                        format!("{name} attempt {attempt}")
                    } else {
                        name.clone()
                    };
                    pb.set_message(what);
                }
                s if s.is_terminated() => {
                    if let Some(pb) = bars.remove(&task_run_id) {
                        pb.finish_and_clear();
                        mp.remove(&pb);
                    }
                    let took = started
                        .remove(&task_run_id)
                        .map(|t| weir_core::format_duration(t.elapsed()))
                        .unwrap_or_default();
                    let line = format!("  {:<9} {name} {}", state_color(s), paint("2", &took));
                    if tty {
                        let _ = mp.println(line);
                    } else {
                        eprintln!("{line}");
                    }
                }
                _ => {}
            }
        }
        let _ = mp.clear();
    }
}

fn task_table(runs: &[weir_store::TaskRunRecord]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let took = match (r.started(), r.ended()) {
                (Some(s), Some(e)) => {
                    weir_core::format_duration((e - s).to_std().unwrap_or_default())
                }
                _ => "-".into(),
            };
            let name = match &r.value {
                Some(v) => format!("{} [{v}]", r.task_id),
                None => r.task_id.clone(),
            };
            vec![
                name,
                state_color(r.state),
                r.attempts.to_string(),
                took,
                short_type(&r.task_type),
            ]
        })
        .collect();
    table(&["TASK", "STATE", "ATTEMPTS", "DURATION", "TYPE"], &rows)
}

fn short_type(t: &str) -> String {
    t.strip_prefix("io.kestra.plugin.").unwrap_or(t).to_string()
}

fn resolve_execution(store: &dyn Store, id: &str) -> Result<String> {
    if store.get_execution(id)?.is_some() {
        return Ok(id.to_string());
    }
    let found = store.find_execution(id)?;
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(user_error_hint(
            format!("no execution `{id}`"),
            "`weir executions list` shows recent executions",
        )),
        _ => Err(user_error(format!(
            "`{id}` matches several executions; give more characters"
        ))),
    }
}

fn execution_json(store: &dyn Store, id: &str) -> Result<serde_json::Value> {
    let ex = store
        .get_execution(id)?
        .ok_or_else(|| user_error(format!("no execution `{id}`")))?;
    let runs = store.task_runs(id)?;
    let mut v = serde_json::to_value(&ex)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("taskRuns".into(), serde_json::to_value(&runs)?);
    }
    Ok(v)
}

fn executions(home: &Path, cmd: ExecutionsCommand) -> Result<u8> {
    let h = open_home(home)?;
    let store = &*h.store;
    match cmd {
        ExecutionsCommand::List {
            namespace,
            flow,
            state,
            limit,
            json,
        } => {
            let state = match state {
                Some(s) => Some(State::parse(&s).ok_or_else(|| {
                    user_error(format!("`{s}` is not a state (SUCCESS, FAILED, RUNNING…)"))
                })?),
                None => None,
            };
            let list = store.list_executions(&ExecutionFilter {
                namespace,
                flow_id: flow,
                states: state.into_iter().collect(),
                limit: Some(limit),
                ..Default::default()
            })?;
            if json {
                emit_json(&list);
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|e| {
                        let took = match (e.started, e.ended) {
                            (Some(s), Some(end)) => {
                                weir_core::format_duration((end - s).to_std().unwrap_or_default())
                            }
                            _ => "-".into(),
                        };
                        let labels = e
                            .labels
                            .iter()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect::<Vec<_>>()
                            .join(" ");
                        vec![
                            e.id.clone(),
                            format!("{}.{}", e.namespace, e.flow_id),
                            state_color(e.state),
                            e.created.format("%Y-%m-%d %H:%M:%S").to_string(),
                            took,
                            labels,
                        ]
                    })
                    .collect();
                emit(&table(
                    &["ID", "FLOW", "STATE", "CREATED", "DURATION", "LABELS"],
                    &rows,
                ));
            }
        }
        ExecutionsCommand::Resume { id, inputs } => return resume(&h, &id, &inputs),
        ExecutionsCommand::Show { id, json } => {
            let id = resolve_execution(store, &id)?;
            let v = execution_json(store, &id)?;
            if json {
                emit_json(&v);
            } else {
                let ex = store
                    .get_execution(&id)?
                    .ok_or_else(|| user_error(format!("no execution `{id}`")))?;
                let mut text = format!(
                    "execution {}\n  flow     {}.{} (revision {})\n  state    {}\n  created  {}\n",
                    ex.id,
                    ex.namespace,
                    ex.flow_id,
                    ex.flow_revision,
                    state_color(ex.state),
                    ex.created.to_rfc3339()
                );
                if !ex.labels.is_empty() {
                    text.push_str(&format!(
                        "  labels   {}\n",
                        ex.labels
                            .iter()
                            .map(|(k, v)| format!("{k}:{v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
                text.push_str(&format!(
                    "  inputs   {}\n  outputs  {}\n\n",
                    ex.inputs, ex.outputs
                ));
                text.push_str(&task_table(&store.task_runs(&id)?));
                emit(&text);
            }
        }
        ExecutionsCommand::Logs {
            id,
            task,
            level,
            json,
        } => {
            let id = resolve_execution(store, &id)?;
            let min = match level {
                Some(l) => Level::parse(&l).ok_or_else(|| {
                    user_error(format!(
                        "`{l}` is not a log level (TRACE, DEBUG, INFO, WARN, ERROR)"
                    ))
                })?,
                None => Level::Trace,
            };
            let logs: Vec<_> = store
                .logs(&id)?
                .into_iter()
                .filter(|l| l.level >= min && (task.is_none() || l.task_id == task))
                .collect();
            if json {
                emit_json(&logs);
            } else {
                let mut text = String::new();
                for l in logs {
                    text.push_str(&format!(
                        "{} {:<5} {} {}\n",
                        l.at.format("%H:%M:%S%.3f"),
                        l.level.as_str(),
                        l.task_id.as_deref().unwrap_or("-"),
                        l.message
                    ));
                }
                emit(&text);
            }
        }
    }
    Ok(0)
}

fn kv_value(kind: &str, text: &str) -> Result<serde_json::Value> {
    let kind = kind.to_ascii_uppercase();
    let bad = |what: &str| user_error(format!("`{text}` is not {what} (--type {kind})"));
    Ok(match kind.as_str() {
        "STRING" | "DATETIME" | "DATE" => serde_json::Value::String(text.to_string()),
        "DURATION" => {
            weir_core::parse_duration(text).map_err(|e| user_error(e.to_string()))?;
            serde_json::Value::String(text.to_string())
        }
        "NUMBER" => text
            .parse::<f64>()
            .ok()
            .and_then(|_| serde_json::from_str(text).ok())
            .ok_or_else(|| bad("a number"))?,
        "BOOLEAN" => match text {
            "true" => true.into(),
            "false" => false.into(),
            _ => return Err(bad("a boolean")),
        },
        "JSON" => serde_json::from_str(text).map_err(|_| bad("valid JSON"))?,
        _ => {
            return Err(user_error(format!(
                "`{kind}` is not a KV type (STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON)"
            )));
        }
    })
}

fn kv(home: &Path, cmd: KvCommand) -> Result<u8> {
    let h = open_home(home)?;
    let store = &*h.store;
    match cmd {
        KvCommand::Set {
            namespace,
            key,
            value,
            kind,
            ttl,
        } => {
            let v = kv_value(&kind, &value)?;
            let expires = match ttl {
                Some(t) => {
                    // Named here, as the store's own message cannot know it was an option.
                    weir_core::parse_duration(&t)
                        .map_err(|e| user_error(format!("`--ttl`: {e}")))?;
                    Some(KvEntry::expiry(&t, Utc::now()).map_err(user_error)?)
                }
                None => None,
            };
            store.kv_set(&KvEntry {
                namespace,
                key,
                value: v,
                kind: kind.to_ascii_uppercase(),
                expires,
                updated: Utc::now(),
            })?;
        }
        KvCommand::Get { namespace, key } => match store.kv_get(&namespace, &key)? {
            Some(e) => emit(&format!("{}\n", weir_tasks::de::scalar_text(e.value))),
            None => {
                return Err(user_error_hint(
                    format!("kv key `{key}` not found in namespace `{namespace}`"),
                    format!("`weir kv list --namespace {namespace}` shows the keys there"),
                ));
            }
        },
        KvCommand::List { namespace, json } => {
            let entries = store.kv_list(&namespace)?;
            if json {
                emit_json(&entries);
            } else {
                let rows: Vec<Vec<String>> = entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.key.clone(),
                            e.kind.clone(),
                            e.expires
                                .map(|x| x.to_rfc3339())
                                .unwrap_or_else(|| "-".into()),
                            weir_tasks::de::scalar_text(e.value.clone()),
                        ]
                    })
                    .collect();
                emit(&table(&["KEY", "TYPE", "EXPIRES", "VALUE"], &rows));
            }
        }
        KvCommand::Delete { namespace, key } => {
            if !store.kv_delete(&namespace, &key)? {
                return Err(user_error(format!(
                    "kv key `{key}` not found in namespace `{namespace}`"
                )));
            }
        }
    }
    Ok(0)
}

fn flows(home: &Path, cmd: FlowsCommand) -> Result<u8> {
    match cmd {
        FlowsCommand::Schema => {
            emit_json(&weir_flow::schema::flow_schema(&catalog()));
            Ok(0)
        }
        FlowsCommand::Deploy { paths } => {
            let catalog = catalog();
            let files = flow_files(&paths)?;
            let mut flows = Vec::new();
            let mut problems = 0;
            for f in &files {
                match load_flow(f, &catalog)? {
                    Ok(flow) => flows.push(flow),
                    Err(n) => problems += n,
                }
            }
            if problems > 0 {
                return Err(user_error(format!(
                    "{}; nothing was deployed",
                    plural(problems, "problem")
                )));
            }
            let h = open_home(home)?;
            for flow in flows {
                let r = h
                    .store
                    .save_flow(&flow.namespace, &flow.id, &flow.source, true)?;
                eprintln!("deployed {}.{} revision {}", r.namespace, r.id, r.revision);
            }
            Ok(0)
        }
        FlowsCommand::List { json } => {
            let h = open_home(home)?;
            let list = h.store.list_flows()?;
            if json {
                emit_json(&list.iter().map(|f| serde_json::json!({"namespace": f.namespace, "id": f.id, "revision": f.revision, "updated": f.updated})).collect::<Vec<_>>());
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|f| {
                        vec![
                            f.namespace.clone(),
                            f.id.clone(),
                            f.revision.to_string(),
                            f.updated.format("%Y-%m-%d %H:%M:%S").to_string(),
                        ]
                    })
                    .collect();
                emit(&table(&["NAMESPACE", "ID", "REVISION", "UPDATED"], &rows));
            }
            Ok(0)
        }
    }
}

/// `weir query`: values in the canonical text of `weir_warehouse::text`, the same on every
/// engine, as a table, JSON or CSV.
fn query(home: &Path, url: &str, sql: &str, json: bool, csv: bool) -> Result<u8> {
    use weir_warehouse::text::cell;
    let target =
        weir_warehouse::url::parse(url, None, None).map_err(|e| user_error(e.to_string()))?;
    // A server on this home holds its DuckDB files: it runs the query.
    let server = match &target {
        weir_warehouse::Target::DuckDb { path: Some(p) } if p.is_file() => {
            weir_server::serve::find(&home.join("server.json"))
        }
        _ => None,
    };
    let rows = match server {
        Some(server) => crate::server::remote_query(&server, url, sql)?,
        None => weir_warehouse::connect(&target)?.query(sql)?,
    };
    if json {
        emit_json(&rows.objects());
    } else if csv {
        let field = |text: &str| {
            if text.is_empty() || text.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", text.replace('"', "\"\""))
            } else {
                text.to_string()
            }
        };
        let mut out = String::new();
        let header: Vec<String> = rows.columns.iter().map(|c| field(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for r in &rows.rows {
            let line: Vec<String> = r
                .iter()
                .map(|v| match v {
                    serde_json::Value::Null => String::new(),
                    other => field(&cell(other, "")),
                })
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        emit(&out);
    } else {
        let cells: Vec<Vec<String>> = rows
            .rows
            .iter()
            .map(|r| r.iter().map(|v| cell(v, "NULL")).collect())
            .collect();
        let headers: Vec<&str> = rows.columns.iter().map(String::as_str).collect();
        emit(&table(&headers, &cells));
    }
    Ok(0)
}
