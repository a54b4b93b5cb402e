//! Script tasks (shell and Python) with the Process task runner: a working directory per task
//! run, input and output files, environment, and every output line in the logs.

use crate::{Outputs, TaskContext, TaskError, TaskResult, de};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use weir_storage::InternalStorage;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScriptProps {
    #[serde(default, deserialize_with = "de::string_list")]
    commands: Vec<String>,
    script: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, Value>,
    input_files: Option<Value>,
    #[serde(default, deserialize_with = "de::string_list")]
    output_files: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    before_commands: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    interpreter: Vec<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    warning_on_std_err: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fail_fast: Option<bool>,
    task_runner: Option<Value>,
    container_image: Option<String>,
    runner: Option<String>,
    docker: Option<Value>,
    namespace_files: Option<Value>,
    /// Python packages for `scripts.python.*`: installed into a cached virtual environment.
    #[serde(default, deserialize_with = "de::string_list")]
    dependencies: Vec<String>,
}

const STDERR_TAIL: usize = 10;

/// Kills the whole process group when dropped: a timeout or a kill must not leave the
/// script's children running.
struct GroupGuard(Option<i32>);

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn warn_about_runner(ctx: &TaskContext, p: &ScriptProps) {
    let runner_type = p
        .task_runner
        .as_ref()
        .and_then(|r| r.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let dockerish = p.container_image.is_some()
        || p.docker.is_some()
        || p.runner
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("DOCKER"))
        || (!runner_type.is_empty() && !runner_type.ends_with(".Process"));
    if dockerish {
        ctx.log.warn("containers are not supported: `containerImage`/`taskRunner` are ignored and the commands run as local processes");
    }
}

pub(crate) async fn prepare_dir(ctx: &TaskContext, p: &ScriptProps) -> Result<(), TaskError> {
    let dir = &ctx.working_dir;
    let io = |e: std::io::Error, what: &str| {
        TaskError::Failed(format!(
            "{what} in working directory `{}` failed: {e}",
            dir.display()
        ))
    };
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io(e, "creating it"))?;
    let files: serde_json::Map<String, Value> = match &p.input_files {
        None | Some(Value::Null) => Default::default(),
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
    for (name, content) in files {
        if name.split('/').any(|s| s == "..") || name.starts_with('/') {
            return Err(TaskError::Props(format!(
                "input file name `{name}` must stay inside the working directory"
            )));
        }
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io(e, "creating a folder"))?;
        }
        let content = de::scalar_text(content);
        if InternalStorage::is_uri(content.trim()) {
            let src = ctx.storage.existing(content.trim())?;
            tokio::fs::copy(&src, &path)
                .await
                .map_err(|e| io(e, &format!("copying `{}` to `{name}`", content.trim())))?;
        } else {
            tokio::fs::write(&path, content)
                .await
                .map_err(|e| io(e, &format!("writing `{name}`")))?;
        }
    }
    if let Some(spec) = &p.namespace_files {
        copy_namespace_files(ctx, spec).await?;
    }
    Ok(())
}

/// `namespaceFiles`, as Kestra reads it: which namespaces' files to copy into the working
/// directory, filtered by `include`/`exclude` globs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceFilesProps {
    #[serde(default, deserialize_with = "de::bool_opt")]
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "de::string_list")]
    include: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    exclude: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    namespaces: Vec<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    folder_per_namespace: Option<bool>,
    if_exists: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IfExists {
    Overwrite,
    Skip,
    Fail,
}

/// Copies the selected namespace files into the working directory, keeping their paths. With
/// several namespaces, later ones override earlier ones (unless `ifExists` says otherwise).
async fn copy_namespace_files(ctx: &TaskContext, spec: &Value) -> Result<(), TaskError> {
    let spec = match spec {
        Value::Null => return Ok(()),
        Value::String(s) => serde_json::from_str(s).map_err(|_| {
            TaskError::Props("`namespaceFiles` must be a map (`enabled`, `include`, …)".into())
        })?,
        v => v.clone(),
    };
    let nf: NamespaceFilesProps = serde_json::from_value(spec)
        .map_err(|e| TaskError::Props(format!("`namespaceFiles`: {e}")))?;
    if nf.enabled == Some(false) {
        return Ok(());
    }
    let if_exists = match nf
        .if_exists
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("OVERWRITE") => IfExists::Overwrite,
        Some("SKIP") => IfExists::Skip,
        Some("FAIL") => IfExists::Fail,
        Some(other) => {
            return Err(TaskError::Props(format!(
                "`namespaceFiles.ifExists` must be OVERWRITE, SKIP or FAIL, not `{other}`"
            )));
        }
    };
    let include = PathGlobs::new(&nf.include, "include")?;
    let exclude = PathGlobs::new(&nf.exclude, "exclude")?;
    let namespaces = if nf.namespaces.is_empty() {
        vec![ctx.namespace.clone()]
    } else {
        nf.namespaces.clone()
    };
    let per_namespace = nf.folder_per_namespace == Some(true);
    let mut copied = 0usize;
    for ns in &namespaces {
        if !weir_flow::valid_namespace(ns) {
            return Err(TaskError::Props(format!(
                "`namespaceFiles.namespaces`: `{ns}` is not a valid namespace"
            )));
        }
        for path in ctx.storage.list_namespace_files(ns, "")? {
            let rooted = format!("/{path}");
            if (!include.is_empty() && !include.matches(&rooted)) || exclude.matches(&rooted) {
                continue;
            }
            let dest = if per_namespace {
                ctx.working_dir.join(ns).join(&path)
            } else {
                ctx.working_dir.join(&path)
            };
            if dest.exists() {
                match if_exists {
                    IfExists::Overwrite => {}
                    IfExists::Skip => continue,
                    IfExists::Fail => {
                        return Err(TaskError::Failed(format!(
                            "namespace file `{path}` of `{ns}` already exists in the working directory (`namespaceFiles.ifExists: FAIL`)"
                        )));
                    }
                }
            }
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(|e| {
                    TaskError::Failed(format!("creating `{}` failed: {e}", parent.display()))
                })?;
            }
            let src = ctx.storage.namespace_file_path(ns, &path)?;
            tokio::fs::copy(&src, &dest).await.map_err(|e| {
                TaskError::Failed(format!(
                    "copying namespace file `{path}` of `{ns}` failed: {e}"
                ))
            })?;
            copied += 1;
        }
    }
    ctx.log.info(&format!(
        "copied {copied} namespace file{} from {} into the working directory",
        if copied == 1 { "" } else { "s" },
        namespaces.join(", ")
    ));
    Ok(())
}

/// Kestra's path patterns: globs (`*` within a folder, `**` across folders, `?`, `[…]`,
/// `{a,b}`), or `regex:…`, matched against the file's path with a leading `/`. A glob that
/// starts with a word character matches at any depth (`main.py` is `**/main.py`).
pub(crate) struct PathGlobs(Vec<regex::Regex>);

impl PathGlobs {
    pub(crate) fn new(patterns: &[String], what: &str) -> Result<Self, TaskError> {
        let mut out = Vec::with_capacity(patterns.len());
        for p in patterns {
            let re = if let Some(r) = p.strip_prefix("regex:") {
                format!("^(?:{r})$")
            } else {
                let g = p.strip_prefix("glob:").unwrap_or(p);
                let g = if g.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
                    format!("**/{g}")
                } else {
                    g.to_string()
                };
                glob_to_regex(&g)
            };
            out.push(regex::Regex::new(&re).map_err(|e| {
                TaskError::Props(format!(
                    "`namespaceFiles.{what}`: `{p}` is not a valid pattern ({e})"
                ))
            })?);
        }
        Ok(PathGlobs(out))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|re| re.is_match(path))
    }
}

/// A glob as a regular expression, with the semantics of Java's `glob:` path matchers.
fn glob_to_regex(glob: &str) -> String {
    let mut re = String::from("^");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let mut in_group = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                re.push_str(".*");
                i += 1;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '{' if !in_group => {
                in_group = true;
                re.push_str("(?:");
            }
            '}' if in_group => {
                in_group = false;
                re.push(')');
            }
            ',' if in_group => re.push('|'),
            '[' => {
                let mut j = i + 1;
                let mut class = String::from("[");
                if matches!(chars.get(j), Some('!') | Some('^')) {
                    class.push('^');
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    if chars[j] == '\\' || chars[j] == '[' {
                        class.push('\\');
                    }
                    class.push(chars[j]);
                    j += 1;
                }
                if j < chars.len() {
                    class.push(']');
                    re.push_str(&class);
                    i = j;
                } else {
                    re.push_str("\\[");
                }
            }
            '\\' if i + 1 < chars.len() => {
                i += 1;
                re.push_str(&regex::escape(&chars[i].to_string()));
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    re.push('$');
    re
}

/// `scripts.shell.Commands` and `scripts.python.Commands`.
pub async fn commands(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    let p: ScriptProps = ctx.props()?;
    let mut lines: Vec<String> = Vec::new();
    if p.fail_fast != Some(false) {
        lines.push("set -e".into());
    }
    lines.extend(p.before_commands.iter().cloned());
    lines.extend(p.commands.iter().cloned());
    let interpreter = if p.interpreter.is_empty() {
        vec!["/bin/sh".to_string(), "-c".to_string()]
    } else {
        p.interpreter.clone()
    };
    let mut argv = interpreter;
    argv.push(lines.join("\n"));
    run_process(ctx, &p, argv).await
}

/// `scripts.shell.Script` and `scripts.python.Script`: the script is written to a file first.
pub async fn script(
    ctx: &TaskContext,
    file: &str,
    interpreter: &[&str],
) -> Result<TaskResult, TaskError> {
    let p: ScriptProps = ctx.props()?;
    prepare_dir(ctx, &p).await?;
    let path = ctx.working_dir.join(file);
    tokio::fs::write(&path, p.script.clone().unwrap_or_default())
        .await
        .map_err(|e| {
            TaskError::Failed(format!(
                "writing the script to `{}` failed: {e}",
                path.display()
            ))
        })?;
    let run: Vec<String> = if p.interpreter.is_empty() {
        interpreter.iter().map(|s| s.to_string()).collect()
    } else {
        p.interpreter.clone()
    };
    let argv = if p.before_commands.is_empty() {
        let mut argv = run;
        argv.push(file.to_string());
        argv
    } else {
        let mut shell = vec!["set -e".to_string()];
        shell.extend(p.before_commands.iter().cloned());
        shell.push(format!(
            "exec {} {file}",
            run.iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        vec!["/bin/sh".into(), "-c".into(), shell.join("\n")]
    };
    run_process(ctx, &p, argv).await
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn run_process(
    ctx: &TaskContext,
    p: &ScriptProps,
    argv: Vec<String>,
) -> Result<TaskResult, TaskError> {
    warn_about_runner(ctx, p);
    // A folder that already exists is shared (WorkingDirectory) or the engine's to remove.
    let shared = ctx.working_dir.exists();
    prepare_dir(ctx, p).await?;
    let dir = &ctx.working_dir;
    // With `dependencies`, the cached virtual environment comes first on PATH, so `python`,
    // `python3` and `pip` (and the packages' own commands) are the environment's.
    let mut program = std::path::PathBuf::from(&argv[0]);
    let mut venv_env: Vec<(&str, std::ffi::OsString)> = Vec::new();
    if !p.dependencies.is_empty() {
        let venv = python_env(ctx, &p.dependencies).await?;
        let bin = venv.join("bin");
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined =
            std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))
                .map_err(|e| TaskError::Failed(format!("could not set PATH: {e}")))?;
        let configured = std::env::var(weir_core::env::WEIR_PYTHON).ok();
        if matches!(argv[0].as_str(), "python" | "python3")
            || configured.as_deref() == Some(argv[0].as_str())
        {
            program = bin.join("python");
        }
        venv_env.push(("PATH", joined));
        venv_env.push(("VIRTUAL_ENV", venv.into_os_string()));
    }
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .envs(venv_env)
        .current_dir(dir)
        .env("WORKING_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in &p.env {
        cmd.env(k, de::scalar_text(v.clone()));
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| TaskError::Failed(format!("could not start `{}`: {e}", argv[0])))?;
    let mut guard = GroupGuard(child.id().map(|id| id as i32));

    let vars = Arc::new(Mutex::new(serde_json::Map::new()));
    let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
    let stdout = child.stdout.take().map(|out| {
        let log = ctx.log.clone();
        let vars = vars.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // Kestra's convention: `::{"outputs":{…}}::` on stdout sets output variables.
                if let Some(json) = line
                    .trim()
                    .strip_prefix("::")
                    .and_then(|l| l.strip_suffix("::"))
                    && let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json)
                {
                    if let Some(Value::Object(outs)) = obj.get("outputs") {
                        vars.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend(outs.clone());
                    }
                    continue;
                }
                log.info(&line);
            }
        })
    });
    let stderr = child.stderr.take().map(|err| {
        let log = ctx.log.clone();
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.warn(&line);
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        })
    });
    let status = child
        .wait()
        .await
        .map_err(|e| TaskError::Failed(format!("waiting for `{}` failed: {e}", argv[0])))?;
    // Background processes the script left behind would hold the pipes open forever.
    guard.kill();
    if let Some(h) = stdout {
        let _ = h.await;
    }
    if let Some(h) = stderr {
        let _ = h.await;
    }
    ctx.log.flush();
    let tail: Vec<String> = tail
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .cloned()
        .collect();
    let code = status.code();
    if !status.success() {
        let how = match code {
            Some(c) => format!("exited with code {c}"),
            None => "was killed by a signal".to_string(),
        };
        let mut msg = format!("command {how}");
        if !tail.is_empty() {
            msg.push_str("; last lines of stderr:");
            for l in &tail {
                msg.push_str("\n  ");
                msg.push_str(&ctx.masker.mask(l));
            }
        }
        return Err(TaskError::Failed(msg));
    }
    let output_files = collect_outputs(ctx, dir, &p.output_files)?;
    if !shared {
        let _ = tokio::fs::remove_dir_all(dir).await;
    }
    let mut out = Outputs::new();
    out.insert("exitCode".into(), code.unwrap_or(0).into());
    out.insert("outputFiles".into(), Value::Object(output_files));
    out.insert(
        "vars".into(),
        Value::Object(vars.lock().unwrap_or_else(|p| p.into_inner()).clone()),
    );
    Ok(TaskResult {
        outputs: out,
        warning: p.warning_on_std_err == Some(true) && !tail.is_empty(),
    })
}

/// WorkingDirectory's start: its folder (`ctx.working_dir`) created with `inputFiles` and
/// `namespaceFiles`, as a script task's would be.
pub async fn prepare_shared_dir(ctx: &TaskContext) -> Result<(), TaskError> {
    let p: ScriptProps = ctx.props()?;
    prepare_dir(ctx, &p).await
}

/// WorkingDirectory's end: the files its `outputFiles` globs match, stored as task files.
pub fn collect_shared_outputs(
    ctx: &TaskContext,
) -> Result<serde_json::Map<String, Value>, TaskError> {
    let p: ScriptProps = ctx.props()?;
    collect_outputs(ctx, &ctx.working_dir, &p.output_files)
}

pub(crate) fn collect_outputs(
    ctx: &TaskContext,
    dir: &Path,
    globs: &[String],
) -> Result<serde_json::Map<String, Value>, TaskError> {
    let mut out = serde_json::Map::new();
    for pattern in globs {
        let full = dir.join(pattern);
        let matches = glob::glob(&full.to_string_lossy()).map_err(|e| {
            TaskError::Props(format!(
                "`outputFiles`: `{pattern}` is not a valid glob ({e})"
            ))
        })?;
        let mut found = false;
        for entry in matches.flatten() {
            if !entry.is_file() {
                continue;
            }
            found = true;
            let name = entry
                .strip_prefix(dir)
                .unwrap_or(&entry)
                .to_string_lossy()
                .to_string();
            let uri = ctx.storage.task_file_uri(&ctx.scope(), &name);
            ctx.storage.put_file(&entry, &uri)?;
            out.insert(name, Value::String(uri));
        }
        if !found {
            ctx.log
                .warn(&format!("no file matched output file pattern `{pattern}`"));
        }
    }
    Ok(out)
}

/// A stable 64-bit FNV-1a hash, as 16 hex digits: the cache key of a dependency set.
fn fnv_hex(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The cache folder's name for a set of dependencies: the same set in any order (and with
/// repeats) is the same environment; the interpreter is part of the key.
fn dependency_key(python: &str, deps: &[String]) -> String {
    let mut set: Vec<&str> = deps
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .collect();
    set.sort_unstable();
    set.dedup();
    fnv_hex(&format!("{python}\n{}", set.join("\n")))
}

const VENV_READY: &str = ".weir-ready";

/// The virtual environment holding `deps`, from `<home>/cache/python/<key>`, created when
/// missing. An environment is used only once its marker file exists, written after every
/// package installed; builders of one set take turns through a lock folder, and a folder left
/// half-built (a crash, a failed install) is removed and built again.
async fn python_env(ctx: &TaskContext, deps: &[String]) -> Result<std::path::PathBuf, TaskError> {
    let python = std::env::var(weir_core::env::WEIR_PYTHON).unwrap_or_else(|_| "python3".into());
    let root = ctx.home.join("cache").join("python");
    let key = dependency_key(&python, deps);
    let venv = root.join(&key);
    let lock = root.join(format!("{key}.lock"));
    let fail = |what: &str, e: std::io::Error| {
        TaskError::Failed(format!("{what} `{}` failed: {e}", root.display()))
    };
    tokio::fs::create_dir_all(&root)
        .await
        .map_err(|e| fail("creating", e))?;
    let mut waited = false;
    loop {
        if venv.join(VENV_READY).is_file() {
            ctx.log.info(&format!(
                "using the cached Python environment {} for {}",
                venv.display(),
                deps.join(", ")
            ));
            return Ok(venv);
        }
        match std::fs::create_dir(&lock) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = std::fs::read_to_string(lock.join("pid"))
                    .ok()
                    .and_then(|t| t.trim().parse::<i32>().ok());
                let alive = holder.is_none_or(|pid| {
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
                });
                if !alive {
                    let _ = std::fs::remove_dir_all(&lock);
                    continue;
                }
                if !waited {
                    ctx.log
                        .info("waiting for another task installing the same Python dependencies");
                    waited = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => return Err(fail("locking a folder in", e)),
        }
    }
    let _ = std::fs::write(lock.join("pid"), std::process::id().to_string());
    let built = build_python_env(ctx, &python, &venv, deps).await;
    let _ = std::fs::remove_dir_all(&lock);
    built.map(|()| venv)
}

async fn build_python_env(
    ctx: &TaskContext,
    python: &str,
    venv: &Path,
    deps: &[String],
) -> Result<(), TaskError> {
    if venv.exists() {
        // Half-built by an earlier attempt: never used, built again.
        let _ = tokio::fs::remove_dir_all(venv).await;
    }
    let started = std::time::Instant::now();
    let uv = which("uv");
    let venv_text = venv.to_string_lossy().to_string();
    let (create, install): (Vec<String>, Vec<String>) = match &uv {
        Some(uv) => {
            let uv = uv.to_string_lossy().to_string();
            (
                vec![
                    uv.clone(),
                    "venv".into(),
                    "--quiet".into(),
                    "--python".into(),
                    python.into(),
                    venv_text.clone(),
                ],
                [
                    uv,
                    "pip".into(),
                    "install".into(),
                    "--python".into(),
                    format!("{venv_text}/bin/python"),
                ]
                .into_iter()
                .chain(deps.iter().cloned())
                .collect(),
            )
        }
        None => (
            vec![python.into(), "-m".into(), "venv".into(), venv_text.clone()],
            [
                format!("{venv_text}/bin/python"),
                "-m".into(),
                "pip".into(),
                "install".into(),
                "--disable-pip-version-check".into(),
                "--no-input".into(),
                "--retries".into(),
                "1".into(),
                "--timeout".into(),
                "15".into(),
            ]
            .into_iter()
            .chain(deps.iter().cloned())
            .collect(),
        ),
    };
    ctx.log.info(&format!(
        "installing Python dependencies {} into {} with {}",
        deps.join(", "),
        venv.display(),
        if uv.is_some() { "uv" } else { "pip" }
    ));
    let result = async {
        run_quiet(&create)
            .await
            .map_err(|e| format!("creating the virtual environment failed: {e}"))?;
        run_quiet(&install).await.map_err(|e| {
            format!(
                "{} could not install the Python dependencies {}: {e}",
                if uv.is_some() { "uv" } else { "pip" },
                deps.join(", ")
            )
        })
    }
    .await;
    if let Err(message) = result {
        let _ = tokio::fs::remove_dir_all(venv).await;
        ctx.log.error(&message);
        return Err(TaskError::Failed(message));
    }
    tokio::fs::write(venv.join(VENV_READY), deps.join("\n"))
        .await
        .map_err(|e| {
            TaskError::Failed(format!("marking `{}` ready failed: {e}", venv.display()))
        })?;
    ctx.log.info(&format!(
        "installed Python dependencies in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Runs a command to its end; on failure, the error is its stderr's last lines (pip's reason).
async fn run_quiet(argv: &[String]) -> Result<(), String> {
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("could not start `{}`: {e}", argv[0]))?;
    if out.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(6)..].join("\n  ");
    Err(match out.status.code() {
        Some(c) => format!("`{}` exited with code {c}:\n  {tail}", argv[0]),
        None => format!("`{}` was killed:\n  {tail}", argv[0]),
    })
}

/// The path of a command found on PATH.
fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_set_is_keyed_by_its_sorted_contents() {
        let a = dependency_key("python3", &["pandas".into(), "requests==2.31".into()]);
        let b = dependency_key(
            "python3",
            &["requests==2.31".into(), " pandas".into(), "pandas".into()],
        );
        assert_eq!(a, b);
        assert_ne!(a, dependency_key("python3", &["pandas".into()]));
        assert_ne!(
            a,
            dependency_key(
                "/usr/bin/python3.12",
                &["pandas".into(), "requests==2.31".into()]
            )
        );
        assert_eq!(a.len(), 16);
    }

    fn globs(p: &[&str]) -> PathGlobs {
        PathGlobs::new(
            &p.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "include",
        )
        .unwrap()
    }

    #[test]
    fn namespace_file_patterns_match_as_kestra_does() {
        // A pattern starting with a word character matches at any depth.
        let g = globs(&["main.py"]);
        assert!(g.matches("/main.py") && g.matches("/a/b/main.py"));
        assert!(!g.matches("/main.pyc"));
        // `*` stays within a folder, `**` crosses folders.
        let g = globs(&["/scripts/*.py"]);
        assert!(g.matches("/scripts/a.py") && !g.matches("/scripts/x/a.py"));
        let g = globs(&["scripts/**"]);
        assert!(g.matches("/scripts/x/a.py") && !g.matches("/other/a.py"));
        let g = globs(&["**/*.{sql,yml}", "/dat?/[ab].csv"]);
        assert!(g.matches("/models/a.sql") && g.matches("/x.yml") && !g.matches("/x.py"));
        assert!(g.matches("/data/a.csv") && !g.matches("/data/c.csv"));
        let g = globs(&["regex:.*\\.sql"]);
        assert!(g.matches("/m/a.sql") && !g.matches("/m/a.sqlx"));
        assert!(PathGlobs::new(&["regex:(".into()], "include").is_err());
    }
}
