//! Kestra's dbt CLI tasks: `dbt.cli.DbtCLI` and the older one-verb forms (`dbt.cli.Build`, …).
//!
//! Kestra runs the commands in a container where `dbt` is on `PATH`. weir runs them through the
//! shell task's machinery (working directory, input, namespace and output files, environment,
//! every line in the logs, the process group killed at the end) with a folder put first on
//! `PATH` that holds a `dbt` link to the running weir executable; weir started as `dbt` behaves
//! as `weir dbt`. After the commands, `target/run_results.json` and `target/manifest.json` are
//! read from the project folder: each node's result becomes an output, the files are kept in
//! internal storage, and the manifest optionally goes to the KV store.
//!
//! As Kestra does, each `dbt` command gets `--log-format json` (the `logFormat` property) and
//! `--log-path logs`, and each of dbt's JSON log lines becomes a log line at its own level
//! (`warn` lines make the task end in WARNING).

use crate::{Outputs, TaskContext, TaskError, TaskResult, de, scripts};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use weir_store::{KvEntry, Level, LogRecord, LogSink};

/// Where the task keeps what must outlive the working directory, which the shell machinery
/// removes when the commands succeed: the `dbt` link and the copied artifacts.
const ARTIFACTS_ENV: &str = "WEIR_DBT_ARTIFACTS";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KvRef {
    key: String,
    namespace: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DbtProps {
    #[serde(default, deserialize_with = "de::string_list")]
    commands: Vec<String>,
    profiles: Option<Value>,
    project_dir: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    parse_run_results: Option<bool>,
    store_manifest: Option<KvRef>,
    load_manifest: Option<KvRef>,
    docker_options: Option<Value>,
    #[serde(default)]
    env: Map<String, Value>,
    input_files: Option<Value>,
    /// `JSON` (default), `TEXT`, `DEBUG` or `NONE`: the `--log-format` given to dbt commands.
    log_format: Option<String>,
}

/// The properties of the one-verb forms, translated into one `dbt <verb> …` line.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct VerbProps {
    #[serde(default, deserialize_with = "de::string_list")]
    select: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    exclude: Vec<String>,
    selector: Option<String>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    thread: Option<u64>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    threads: Option<u64>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    full_refresh: Option<bool>,
    target: Option<String>,
    dbt_path: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fail_fast: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    warn_error: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    debug: Option<bool>,
}

/// `io.kestra.plugin.dbt.cli.DbtCLI`.
pub async fn dbt_cli(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    let p: DbtProps = ctx.props()?;
    if p.commands.is_empty() {
        return Err(TaskError::Props(
            "`commands` must name at least one command".into(),
        ));
    }
    run(ctx, p).await
}

/// The older one-verb tasks (`dbt.cli.Build`, `Run`, `Test`, …): their properties become one
/// `dbt <verb>` line, run as DbtCLI runs its commands.
pub async fn verb(ctx: &TaskContext, verb: &str) -> Result<TaskResult, TaskError> {
    let mut p: DbtProps = ctx.props()?;
    let v: VerbProps = ctx.props()?;
    verb_notes(ctx, &v);
    p.commands = vec![verb_line(verb, &v)?];
    run(ctx, p).await
}

fn verb_notes(ctx: &TaskContext, v: &VerbProps) {
    if let Some(path) = v.dbt_path.as_deref()
        && !matches!(path, "dbt" | "./bin/dbt")
    {
        ctx.log.info(&format!(
            "`dbtPath` `{path}` is ignored: weir runs dbt projects itself"
        ));
    }
}

fn verb_line(verb: &str, v: &VerbProps) -> Result<String, TaskError> {
    let mut line = vec!["dbt".to_string()];
    if v.warn_error == Some(true) {
        line.push("--warn-error".into());
    }
    if v.debug == Some(true) {
        line.push("--debug".into());
    }
    line.extend(verb.split(' ').map(String::from));
    if v.fail_fast == Some(true) {
        line.push("--fail-fast".into());
    }
    if let Some(n) = v.threads.or(v.thread) {
        line.push(format!("--threads {n}"));
    }
    if v.full_refresh == Some(true) {
        line.push("--full-refresh".into());
    }
    if let Some(t) = &v.target {
        line.push(format!("--target {}", shell_quote(t)));
    }
    if let Some(s) = &v.selector {
        line.push(format!("--selector {}", shell_quote(s)));
    }
    if !v.select.is_empty() {
        line.push("--select".into());
        line.extend(v.select.iter().map(|s| shell_quote(s)));
    }
    if !v.exclude.is_empty() {
        line.push("--exclude".into());
        line.extend(v.exclude.iter().map(|s| shell_quote(s)));
    }
    Ok(line.join(" "))
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:+@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn failed(what: &str, e: impl std::fmt::Display) -> TaskError {
    TaskError::Failed(format!("{what} failed: {e}"))
}

/// The profiles property as the text of `profiles.yml`: a string as written, a map as JSON
/// (which is YAML).
fn profiles_text(v: &Value) -> Result<Option<String>, TaskError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(_) => Ok(Some(v.to_string())),
        _ => Err(TaskError::Props(
            "`profiles` must be the text of a `profiles.yml` or a map".into(),
        )),
    }
}

/// A relative folder inside the working directory, or a props error.
fn relative_dir(name: &str, dir: &str) -> Result<String, TaskError> {
    let trimmed = dir.trim().trim_end_matches('/');
    if trimmed.starts_with('/') || trimmed.split('/').any(|s| s == "..") {
        return Err(TaskError::Props(format!(
            "`{name}` `{dir}` must be a folder inside the working directory"
        )));
    }
    Ok(if trimmed.is_empty() {
        ".".into()
    } else {
        trimmed.into()
    })
}

async fn run(ctx: &TaskContext, p: DbtProps) -> Result<TaskResult, TaskError> {
    // The `dbt` commands are another process: DuckDB files this process has open but is not
    // using are closed first, or that process would wait for them forever (a flow that loads
    // a DuckDB file and then transforms it). Files in use by other tasks stay open; dbt then
    // waits for them, saying so in its output.
    weir_warehouse::close_idle();
    if p.docker_options.is_some() {
        ctx.log
            .info("`dockerOptions` is ignored: dbt runs inside weir, without a container");
    }
    let project_dir = match &p.project_dir {
        Some(d) => Some(relative_dir("projectDir", d)?),
        None => None,
    };
    let project_abs = match &project_dir {
        Some(d) => ctx.working_dir.join(d),
        None => ctx.working_dir.clone(),
    };

    // The `dbt` link and the artifacts live beside the working directory, not in it: outputFiles
    // globs never see them and they survive the working directory's removal.
    let side = PathBuf::from(format!("{}.dbt", ctx.working_dir.display()));
    let bin = side.join("bin");
    let artifacts = side.join("artifacts");
    let _ = tokio::fs::remove_dir_all(&side).await;
    for d in [&bin, &artifacts] {
        tokio::fs::create_dir_all(d)
            .await
            .map_err(|e| failed(&format!("creating `{}`", d.display()), e))?;
    }
    let exe = std::env::current_exe().map_err(|e| failed("finding the weir executable", e))?;
    tokio::fs::symlink(&exe, bin.join("dbt"))
        .await
        .map_err(|e| failed("linking `dbt` to the weir executable", e))?;

    let result = run_commands(
        ctx,
        &p,
        project_dir.as_deref(),
        &project_abs,
        &bin,
        &artifacts,
    )
    .await;
    let outcome = finish(ctx, &p, result, &artifacts).await;
    let _ = tokio::fs::remove_dir_all(&side).await;
    outcome
}

async fn run_commands(
    ctx: &TaskContext,
    p: &DbtProps,
    project_dir: Option<&str>,
    project_abs: &Path,
    bin: &Path,
    artifacts: &Path,
) -> Result<TaskResult, TaskError> {
    let mut props = ctx.props.clone();

    // Input files, plus profiles.yml in a folder of its own (Kestra's `.profile`), so neither
    // namespace files nor input files can shadow it.
    let mut files: Map<String, Value> = match &p.input_files {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| {
            TaskError::Props("`inputFiles` must be a map of file names to contents".into())
        })?,
        Some(_) => {
            return Err(TaskError::Props(
                "`inputFiles` must be a map of file names to contents".into(),
            ));
        }
    };
    let profiles = match &p.profiles {
        Some(v) => profiles_text(v)?,
        None => None,
    };
    if let Some(text) = &profiles {
        files.insert(".profile/profiles.yml".into(), Value::String(text.clone()));
    }
    if let Some(load) = &p.load_manifest {
        let ns = load
            .namespace
            .clone()
            .unwrap_or_else(|| ctx.namespace.clone());
        match ctx.kv.kv_get(&ns, &load.key)? {
            Some(entry) if !entry.value.is_null() => {
                let text = match entry.value {
                    Value::String(s) => s,
                    v => v.to_string(),
                };
                let at = match project_dir {
                    Some(d) => format!("{d}/target/manifest.json"),
                    None => "target/manifest.json".into(),
                };
                files.insert(at, Value::String(text));
            }
            _ => ctx.log.warn(&format!(
                "`loadManifest`: no manifest under key `{}` in namespace `{ns}`",
                load.key
            )),
        }
    }
    props.insert("inputFiles".into(), Value::Object(files));

    // Environment: `dbt` first on PATH, the profiles folder, the project folder.
    let mut env = p.env.clone();
    let path = env
        .get("PATH")
        .map(|v| de::scalar_text(v.clone()))
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    env.insert(
        "PATH".into(),
        Value::String(format!("{}:{path}", bin.display())),
    );
    if profiles.is_some() && !env.contains_key("DBT_PROFILES_DIR") {
        let dir = ctx.working_dir.join(".profile");
        env.insert(
            "DBT_PROFILES_DIR".into(),
            Value::String(dir.display().to_string()),
        );
    }
    if project_dir.is_some() && !env.contains_key("DBT_PROJECT_DIR") {
        env.insert(
            "DBT_PROJECT_DIR".into(),
            Value::String(project_abs.display().to_string()),
        );
    }
    env.insert(
        ARTIFACTS_ENV.into(),
        Value::String(artifacts.display().to_string()),
    );
    props.insert("env".into(), Value::Object(env));

    // Whatever way the commands end, the shell copies the artifacts out first: from the project
    // folder, else from the folder the commands `cd`-ed into.
    let project_var = if project_dir.is_some() {
        "\"$DBT_PROJECT_DIR\""
    } else {
        "\"$WORKING_DIR\""
    };
    let trap = format!(
        "trap 'weir_rc=$?; for weir_d in {project_var} \"$PWD\"; do \
         if [ -f \"$weir_d/target/manifest.json\" ] || [ -f \"$weir_d/target/run_results.json\" ]; then \
         cp \"$weir_d\"/target/manifest.json \"$weir_d\"/target/run_results.json \"${ARTIFACTS_ENV}\"/ 2>/dev/null || true; break; fi; \
         done; exit $weir_rc' EXIT"
    );
    let mut before = vec![trap];
    if let Some(Value::Array(b)) = props.get("beforeCommands") {
        before.extend(b.iter().map(|v| de::scalar_text(v.clone())));
    } else if let Some(Value::String(b)) = props.get("beforeCommands") {
        before.push(b.clone());
    }
    props.insert(
        "beforeCommands".into(),
        Value::Array(before.into_iter().map(Value::String).collect()),
    );

    // As Kestra does: a `dbt` command gets `--project-dir` when `projectDir` is set, then
    // `--log-format` (unless `logFormat: NONE`) and `--log-path logs`.
    let log_format = log_format(p.log_format.as_deref())?;
    let commands: Vec<Value> = p
        .commands
        .iter()
        .map(|c| Value::String(dbt_command(c, project_dir, log_format)))
        .collect();
    props.insert("commands".into(), Value::Array(commands));
    // These belong to DbtCLI; the shell task must not see them.
    for key in ["interpreter", "script"] {
        props.remove(key);
    }

    // dbt's JSON lines become log lines at their own level.
    let warned = Arc::new(AtomicBool::new(false));
    let log = weir_tasks_logger(ctx, warned.clone());
    let shell = TaskContext {
        props,
        namespace: ctx.namespace.clone(),
        flow_id: ctx.flow_id.clone(),
        execution_id: ctx.execution_id.clone(),
        task_id: ctx.task_id.clone(),
        task_run_id: ctx.task_run_id.clone(),
        attempt: ctx.attempt,
        storage: ctx.storage.clone(),
        kv: ctx.kv.clone(),
        executions: ctx.executions.clone(),
        http: ctx.http.clone(),
        log: log.clone(),
        working_dir: ctx.working_dir.clone(),
        masker: ctx.masker.clone(),
        home: ctx.home.clone(),
    };
    let result = scripts::commands(&shell).await;
    log.flush();
    drop(shell);
    drop(log);
    ctx.log.flush();
    match result {
        Ok(mut ok) => {
            ok.warning |= warned.load(Ordering::Relaxed);
            Ok(ok)
        }
        Err(e) => Err(e),
    }
}

/// The `logFormat` property: the `--log-format` value, or `None` for `NONE`.
fn log_format(value: Option<&str>) -> Result<Option<&'static str>, TaskError> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        None | Some("JSON") => Ok(Some("json")),
        Some("TEXT") => Ok(Some("text")),
        Some("DEBUG") => Ok(Some("debug")),
        Some("NONE") => Ok(None),
        Some(_) => Err(TaskError::Props(format!(
            "`logFormat` `{}` is not one of JSON, TEXT, DEBUG, NONE",
            value.unwrap_or_default()
        ))),
    }
}

/// A command line as Kestra runs it: a `dbt` command gets `--project-dir`, `--log-format`
/// and `--log-path logs` unless it has them.
fn dbt_command(c: &str, project_dir: Option<&str>, log_format: Option<&str>) -> String {
    let is_dbt = c.trim_start() == "dbt" || c.trim_start().starts_with("dbt ");
    if !is_dbt {
        return c.to_string();
    }
    let mut line = c.to_string();
    if let Some(d) = project_dir
        && !c.contains("--project-dir")
    {
        line.push_str(&format!(" --project-dir {}", shell_quote(d)));
    }
    if let Some(f) = log_format
        && !c.contains("--log-format")
    {
        line.push_str(&format!(" --log-format {f}"));
    }
    if !c.contains("--log-path") {
        line.push_str(" --log-path logs");
    }
    line
}

/// A logger for the commands whose lines pass through `DbtLines` on their way to the task's.
fn weir_tasks_logger(ctx: &TaskContext, warned: Arc<AtomicBool>) -> crate::Logger {
    crate::Logger::new(
        Arc::new(DbtLines {
            target: ctx.log.clone(),
            warned,
        }),
        ctx.masker.clone(),
        &ctx.execution_id,
        Some((&ctx.task_run_id, &ctx.task_id, ctx.attempt)),
        Level::Trace,
    )
}

/// Turns dbt's structured log lines (`{"info": {"level", "msg", …}, "data": {…}}`, or the
/// older flat `{"level", "msg", …}`) into log lines at their level, as Kestra's DbtCLI does;
/// other lines pass unchanged.
struct DbtLines {
    target: crate::Logger,
    warned: Arc<AtomicBool>,
}

impl LogSink for DbtLines {
    fn append_logs(&self, logs: &[LogRecord]) -> weir_store::Result<()> {
        for r in logs {
            match dbt_line(&r.message) {
                Some((_, msg)) if msg.trim().is_empty() => {}
                Some((level, msg)) => {
                    if level == Level::Warn {
                        self.warned.store(true, Ordering::Relaxed);
                    }
                    self.target.log(level, &msg);
                }
                None => self.target.log(r.level, &r.message),
            }
        }
        Ok(())
    }
}

/// The level and message of one of dbt's JSON log lines.
fn dbt_line(line: &str) -> Option<(Level, String)> {
    let trimmed = line.trim();
    if !trimmed.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(trimmed).ok()?;
    let info = v.get("info").filter(|i| i.is_object()).unwrap_or(&v);
    let level = info.get("level")?.as_str()?;
    let msg = info.get("msg").and_then(Value::as_str).unwrap_or("");
    let level = match level {
        "debug" => Level::Debug,
        "info" => Level::Info,
        "warn" | "warning" => Level::Warn,
        _ => Level::Error,
    };
    Some((level, strip_ansi(msg)))
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One node's result, as the task's outputs show it.
fn node_results(run_results: &Value) -> Vec<Value> {
    let Some(results) = run_results.get("results").and_then(Value::as_array) else {
        return Vec::new();
    };
    results
        .iter()
        .map(|r| {
            json!({
                "unique_id": r.get("unique_id").cloned().unwrap_or(Value::Null),
                "status": r.get("status").cloned().unwrap_or(Value::Null),
                "execution_time": r.get("execution_time").cloned().unwrap_or(Value::Null),
                "message": r.get("message").cloned().unwrap_or(Value::Null),
                "failures": r.get("failures").cloned().unwrap_or(Value::Null),
                "thread_id": r.get("thread_id").cloned().unwrap_or(Value::Null),
            })
        })
        .collect()
}

async fn read_json(path: &Path) -> Option<Value> {
    let text = tokio::fs::read_to_string(path).await.ok()?;
    serde_json::from_str(&text).ok()
}

async fn finish(
    ctx: &TaskContext,
    p: &DbtProps,
    result: Result<TaskResult, TaskError>,
    artifacts: &Path,
) -> Result<TaskResult, TaskError> {
    let manifest_path = artifacts.join("manifest.json");
    let results_path = artifacts.join("run_results.json");
    let parse = p.parse_run_results != Some(false);
    let mut files = Map::new();

    if manifest_path.is_file() {
        let uri = ctx.storage.task_file_uri(&ctx.scope(), "manifest.json");
        ctx.storage.put_file(&manifest_path, &uri)?;
        files.insert("manifest.json".into(), Value::String(uri));
        if let Some(store) = &p.store_manifest {
            match read_json(&manifest_path).await {
                Some(manifest) => {
                    let ns = store
                        .namespace
                        .clone()
                        .unwrap_or_else(|| ctx.namespace.clone());
                    ctx.kv.kv_set(&KvEntry {
                        namespace: ns.clone(),
                        key: store.key.clone(),
                        value: manifest,
                        kind: "JSON".into(),
                        expires: None,
                        updated: Utc::now(),
                    })?;
                    ctx.log.info(&format!(
                        "stored the manifest under key `{}` in namespace `{ns}`",
                        store.key
                    ));
                }
                None => ctx
                    .log
                    .warn("`storeManifest`: `target/manifest.json` is not valid JSON"),
            }
        }
    } else {
        ctx.log.warn("dbt wrote no `target/manifest.json`");
    }

    let mut nodes = Vec::new();
    if parse && results_path.is_file() {
        let uri = ctx.storage.task_file_uri(&ctx.scope(), "run_results.json");
        ctx.storage.put_file(&results_path, &uri)?;
        files.insert("run_results.json".into(), Value::String(uri));
        if let Some(results) = read_json(&results_path).await {
            nodes = node_results(&results);
        }
    }
    let status_of = |n: &Value| {
        n.get("status")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let id_of = |n: &Value| {
        n.get("unique_id")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };

    match result {
        Ok(mut ok) => {
            let outputs: &mut Outputs = &mut ok.outputs;
            if let Some(Value::Object(of)) = outputs.get_mut("outputFiles") {
                of.extend(files);
            } else {
                outputs.insert("outputFiles".into(), Value::Object(files));
            }
            if parse {
                let warned = nodes.iter().any(|n| status_of(n) == "warn");
                outputs.insert("runResults".into(), Value::Array(nodes));
                ok.warning |= warned;
            }
            Ok(ok)
        }
        Err(TaskError::Failed(msg)) => {
            let bad: Vec<String> = nodes
                .iter()
                .filter(|n| matches!(status_of(n).as_str(), "error" | "fail" | "runtime error"))
                .map(|n| {
                    let m = n.get("message").and_then(Value::as_str).unwrap_or("");
                    format!(
                        "`{}` ({}{}{})",
                        id_of(n),
                        status_of(n),
                        if m.is_empty() { "" } else { ": " },
                        m
                    )
                })
                .collect();
            let skipped: Vec<String> = nodes
                .iter()
                .filter(|n| status_of(n) == "skipped")
                .map(|n| format!("`{}`", id_of(n)))
                .collect();
            let text = if bad.is_empty() {
                format!("dbt {msg}")
            } else {
                let mut text = format!("dbt failed on {}", bad.join(", "));
                if !skipped.is_empty() {
                    text.push_str(&format!("; skipped: {}", skipped.join(", ")));
                }
                text.push_str(&format!(" ({msg})"));
                text
            };
            // The failed run keeps its outputs, as in Kestra: which nodes passed, failed and
            // were skipped, and the artifacts to look at.
            let mut outputs = Outputs::new();
            outputs.insert("outputFiles".into(), Value::Object(files));
            if parse {
                outputs.insert("runResults".into(), Value::Array(nodes));
            }
            Err(TaskError::FailedWithOutputs {
                message: text,
                outputs,
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(verb: &str, props: Value) -> Result<String, TaskError> {
        verb_line(verb, &serde_json::from_value(props).unwrap())
    }

    #[test]
    fn verb_props_accept_kestra_names() {
        assert_eq!(
            line("build", json!({"thread": 4, "fullRefresh": true, "select": ["+a", "tag:x y"], "exclude": "b", "target": "prod"})).unwrap(),
            "dbt build --threads 4 --full-refresh --target prod --select +a 'tag:x y' --exclude b"
        );
        assert_eq!(
            line("source freshness", json!({"failFast": true})).unwrap(),
            "dbt source freshness --fail-fast"
        );
        assert_eq!(
            line(
                "run",
                json!({"selector": "nightly", "warnError": true, "debug": true})
            )
            .unwrap(),
            "dbt --warn-error --debug run --selector nightly"
        );
    }

    #[test]
    fn dbt_commands_get_kestra_flags() {
        assert_eq!(
            dbt_command("dbt build --select a", Some("proj"), Some("json")),
            "dbt build --select a --project-dir proj --log-format json --log-path logs"
        );
        assert_eq!(
            dbt_command("dbt run --log-format text --log-path l", None, Some("json")),
            "dbt run --log-format text --log-path l"
        );
        assert_eq!(
            dbt_command("dbt deps", None, None),
            "dbt deps --log-path logs"
        );
        assert_eq!(dbt_command("echo dbt", None, Some("json")), "echo dbt");
        assert_eq!(log_format(Some("none")).unwrap(), None);
        assert!(log_format(Some("xml")).is_err());
    }

    #[test]
    fn dbt_json_lines_keep_their_level() {
        // The shape of dbt's `--log-format json` lines (dbt docs, "Logs": log formatting).
        let warn = r#"{"data": {}, "info": {"level": "warn", "msg": "2 of 2 WARN 1 unique_a_id [\u001b[33mWARN 1\u001b[0m]", "name": "LogTestResult"}}"#;
        assert_eq!(
            dbt_line(warn),
            Some((Level::Warn, "2 of 2 WARN 1 unique_a_id [WARN 1]".into()))
        );
        let flat = r#"{"level": "error", "msg": "boom", "type": "log_line"}"#;
        assert_eq!(dbt_line(flat), Some((Level::Error, "boom".into())));
        assert_eq!(dbt_line("12:00:00  Done."), None);
        assert_eq!(dbt_line("{not json"), None);
    }

    #[test]
    fn profiles_text_takes_strings_and_maps() {
        assert_eq!(
            profiles_text(&json!("p:\n  target: dev\n"))
                .unwrap()
                .unwrap(),
            "p:\n  target: dev\n"
        );
        assert_eq!(
            profiles_text(&json!({"p": {"target": "dev"}}))
                .unwrap()
                .unwrap(),
            r#"{"p":{"target":"dev"}}"#
        );
        assert!(profiles_text(&json!(3)).is_err());
        assert!(profiles_text(&json!("")).unwrap().is_none());
    }

    #[test]
    fn project_dir_stays_inside() {
        assert_eq!(relative_dir("projectDir", "proj/").unwrap(), "proj");
        assert!(relative_dir("projectDir", "../x").is_err());
        assert!(relative_dir("projectDir", "/etc").is_err());
    }

    #[test]
    fn node_results_keep_dbt_fields() {
        let r = json!({"results": [{"unique_id": "model.p.a", "status": "success", "execution_time": 0.5, "message": "OK", "failures": null, "thread_id": "Thread-1", "timing": []}]});
        let nodes = node_results(&r);
        assert_eq!(nodes[0]["unique_id"], "model.p.a");
        assert_eq!(nodes[0]["status"], "success");
        assert!(nodes[0].get("timing").is_none());
    }
}
