//! Git tasks on the `git` command line: `Clone` (a repository into the working directory) and
//! `SyncNamespaceFiles` (a repository's folder into a namespace's files, Git being the source
//! of truth). URLs may be `https://…` (credentials from `username`/`password`, masked in logs
//! and errors), `file://…` or local paths.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// Connection properties shared by the git tasks.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remote {
    url: String,
    branch: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    depth: Option<u64>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    clone_submodules: Option<bool>,
}

impl Remote {
    /// The URL git is given: credentials go into the userinfo of http(s) URLs. Both the
    /// password and the URL carrying it are registered with the masker.
    fn authed_url(&self, ctx: &TaskContext) -> String {
        let (user, pass) = (
            self.username.as_deref().unwrap_or(""),
            self.password.as_deref().unwrap_or(""),
        );
        if let Some(p) = self.password.as_deref() {
            ctx.masker.add(p);
            ctx.masker.add(&userinfo_encode(p));
        }
        let scheme_end = ["https://", "http://"]
            .iter()
            .find(|s| self.url.starts_with(*s))
            .map(|s| s.len());
        match scheme_end {
            Some(n) if !user.is_empty() || !pass.is_empty() => {
                let user = if user.is_empty() { "git" } else { user };
                let mut creds = userinfo_encode(user);
                if !pass.is_empty() {
                    creds.push(':');
                    creds.push_str(&userinfo_encode(pass));
                }
                format!("{}{creds}@{}", &self.url[..n], &self.url[n..])
            }
            _ => self.url.clone(),
        }
    }

    /// `git clone` into `dest`, which must not exist or be empty.
    async fn clone_into(
        &self,
        ctx: &TaskContext,
        dest: &Path,
        default_branch: Option<&str>,
        default_depth: u64,
    ) -> Result<(), TaskError> {
        let url = self.authed_url(ctx);
        let mut args: Vec<String> = vec!["clone".into(), "--quiet".into()];
        let depth = self.depth.unwrap_or(default_depth);
        if depth > 0 {
            args.push(format!("--depth={depth}"));
        }
        if let Some(b) = self.branch.as_deref().or(default_branch) {
            args.push(format!("--branch={b}"));
        }
        if self.clone_submodules == Some(true) {
            args.push("--recurse-submodules".into());
        }
        args.push("--".into());
        args.push(url.clone());
        args.push(dest.to_string_lossy().into_owned());
        git(ctx, None, &args, &url, &self.url).await?;
        Ok(())
    }
}

/// Percent-encodes a userinfo part (everything but RFC 3986's unreserved characters).
fn userinfo_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs `git` with `args`; its stdout on success. The URL with credentials is shown as the
/// plain one in any message, and secrets are masked.
async fn git(
    ctx: &TaskContext,
    cwd: Option<&Path>,
    args: &[String],
    authed_url: &str,
    plain_url: &str,
) -> Result<String, TaskError> {
    let mut cmd = Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            TaskError::Failed(
                "`git` was not found on PATH\nhint: the git tasks run the git command line; install git (e.g. `apt-get install git`) and run again".into(),
            )
        } else {
            TaskError::Failed(format!("could not start `git`: {e}"))
        }
    })?;
    let clean = |text: &str| ctx.masker.mask(&text.replace(authed_url, plain_url));
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let verb = args.first().map(String::as_str).unwrap_or("");
        return Err(TaskError::Failed(format!(
            "`git {verb}` of `{}` failed: {}",
            plain_url,
            clean(stderr.trim())
        )));
    }
    Ok(clean(String::from_utf8_lossy(&out.stdout).trim()))
}

/// The commit checked out in `repo`.
async fn head_commit(ctx: &TaskContext, repo: &Path, url: &str) -> Result<String, TaskError> {
    git(
        ctx,
        Some(repo),
        &["rev-parse".into(), "HEAD".into()],
        url,
        url,
    )
    .await
}

/// `io.kestra.plugin.git.Clone`: clones into the working directory (or `directory` under it);
/// outputs `directory`, the absolute path of the clone.
pub async fn clone(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P {
        #[serde(flatten)]
        remote: Remote,
        directory: Option<String>,
        private_key: Option<String>,
    }
    let p: P = ctx.props()?;
    if p.private_key.is_some() {
        return Err(TaskError::Props(
            "`privateKey` (SSH) is not supported; use an https URL with `username`/`password`, a `file://` URL or a local path".into(),
        ));
    }
    let dest = match p.directory.as_deref().map(|d| d.trim_matches('/')) {
        None | Some("") => ctx.working_dir.clone(),
        Some(d) => {
            if Path::new(d)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                return Err(TaskError::Props(format!(
                    "`directory` `{d}` must stay inside the working directory"
                )));
            }
            ctx.working_dir.join(d)
        }
    };
    tokio::fs::create_dir_all(&dest)
        .await
        .map_err(|e| TaskError::Failed(format!("creating `{}` failed: {e}", dest.display())))?;
    // Kestra clones shallow (depth 1) unless told otherwise.
    p.remote.clone_into(ctx, &dest, None, 1).await?;
    let commit = head_commit(ctx, &dest, &p.remote.url).await?;
    let files = repo_files(&dest)?;
    ctx.log.info(&format!(
        "cloned `{}` at {} into `{}` ({} file{})",
        p.remote.url,
        &commit[..commit.len().min(12)],
        dest.display(),
        files.len(),
        if files.len() == 1 { "" } else { "s" }
    ));
    let mut out = Outputs::new();
    out.insert(
        "directory".into(),
        Value::String(dest.to_string_lossy().into_owned()),
    );
    Ok(out)
}

/// Every file under `root` as a sorted `/`-separated relative path, leaving out `.git`.
fn repo_files(root: &Path) -> Result<Vec<String>, TaskError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| TaskError::Failed(format!("reading `{}` failed: {e}", dir.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| {
                TaskError::Failed(format!("reading `{}` failed: {e}", dir.display()))
            })?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| {
                TaskError::Failed(format!("reading `{}` failed: {e}", path.display()))
            })?;
            if entry.file_name() == ".git" {
                continue;
            }
            if file_type.is_dir() {
                stack.push(path);
            } else if file_type.is_file()
                && let Ok(rel) = path.strip_prefix(root)
            {
                let parts: Vec<_> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `io.kestra.plugin.git.SyncNamespaceFiles`: makes the namespace's files equal to the
/// repository's `gitDirectory` (default `_files`). Files are added or updated; namespace
/// files missing from Git are deleted only with `delete: true`. `dryRun: true` changes
/// nothing. Outputs `diff` (a JSON-lines file in internal storage, one line per file:
/// `gitPath`, `kestraPath`, `syncState` ADDED/UPDATED/DELETED/UNCHANGED) and the `added`,
/// `updated` and `deleted` lists of namespace paths.
pub async fn sync_namespace_files(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P {
        #[serde(flatten)]
        remote: Remote,
        namespace: Option<String>,
        git_directory: Option<String>,
        #[serde(default, deserialize_with = "de::bool_opt")]
        dry_run: Option<bool>,
        #[serde(default, deserialize_with = "de::bool_opt")]
        delete: Option<bool>,
        #[serde(default, deserialize_with = "de::bool_opt")]
        fail_on_missing_directory: Option<bool>,
    }
    let p: P = ctx.props()?;
    let ns = p.namespace.clone().unwrap_or_else(|| ctx.namespace.clone());
    if !weir_flow::valid_namespace(&ns) {
        return Err(TaskError::Props(format!(
            "`namespace`: `{ns}` is not a valid namespace"
        )));
    }
    let git_dir = p.git_directory.as_deref().unwrap_or("_files");
    let git_dir = git_dir.trim_matches('/');
    if Path::new(git_dir)
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(TaskError::Props(format!(
            "`gitDirectory` `{git_dir}` must be a folder inside the repository"
        )));
    }
    let dry_run = p.dry_run == Some(true);
    let repo = ctx.working_dir.join("repository");
    tokio::fs::create_dir_all(&ctx.working_dir)
        .await
        .map_err(|e| {
            TaskError::Failed(format!(
                "creating `{}` failed: {e}",
                ctx.working_dir.display()
            ))
        })?;
    p.remote.clone_into(ctx, &repo, Some("main"), 1).await?;
    let commit = head_commit(ctx, &repo, &p.remote.url).await?;
    let source: PathBuf = if git_dir.is_empty() {
        repo.clone()
    } else {
        repo.join(git_dir)
    };
    let git_files = if source.is_dir() {
        repo_files(&source)?
    } else if p.fail_on_missing_directory == Some(false) {
        ctx.log.warn(&format!(
            "`{git_dir}` is not a folder of `{}`; nothing to sync",
            p.remote.url
        ));
        Vec::new()
    } else {
        return Err(TaskError::Failed(format!(
            "`gitDirectory` `{git_dir}` is not a folder of `{}` at {}\nhint: set `gitDirectory` to the folder holding the namespace files (`.` style paths are relative to the repository root), or `failOnMissingDirectory: false`",
            p.remote.url,
            &commit[..commit.len().min(12)]
        )));
    };
    let existing: BTreeSet<String> = ctx
        .storage
        .list_namespace_files(&ns, "")?
        .into_iter()
        .collect();
    let git_prefix = if git_dir.is_empty() {
        String::new()
    } else {
        format!("{git_dir}/")
    };
    let (mut added, mut updated, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    let mut diff = String::new();
    let mut line = |git_path: Option<String>, path: &str, state: &str| {
        diff.push_str(
            &json!({"gitPath": git_path, "kestraPath": format!("/{path}"), "syncState": state})
                .to_string(),
        );
        diff.push('\n');
    };
    for path in &git_files {
        let bytes = std::fs::read(source.join(path))
            .map_err(|e| TaskError::Failed(format!("reading `{git_prefix}{path}` failed: {e}")))?;
        let state = if !existing.contains(path) {
            added.push(path.clone());
            "ADDED"
        } else if ctx.storage.read_namespace_file(&ns, path)? != bytes {
            updated.push(path.clone());
            "UPDATED"
        } else {
            "UNCHANGED"
        };
        line(Some(format!("{git_prefix}{path}")), path, state);
        if state != "UNCHANGED" && !dry_run {
            ctx.storage.put_namespace_file(&ns, path, &bytes)?;
        }
    }
    let in_git: BTreeSet<&String> = git_files.iter().collect();
    if p.delete == Some(true) {
        for path in existing.iter().filter(|p| !in_git.contains(p)) {
            deleted.push(path.clone());
            line(None, path, "DELETED");
            if !dry_run {
                ctx.storage.delete_namespace_file(&ns, path)?;
            }
        }
    }
    let verb = if dry_run { "would be " } else { "" };
    for (list, what) in [
        (&added, "added"),
        (&updated, "updated"),
        (&deleted, "deleted"),
    ] {
        for path in list.iter() {
            ctx.log.info(&format!("/{path} {verb}{what}"));
        }
    }
    ctx.log.info(&format!(
        "{}synced `{}` at {} into namespace `{ns}`: {} added, {} updated, {} deleted",
        if dry_run {
            "dry run, nothing changed: "
        } else {
            ""
        },
        p.remote.url,
        &commit[..commit.len().min(12)],
        added.len(),
        updated.len(),
        deleted.len()
    ));
    let uri = ctx.storage.task_file_uri(&ctx.scope(), "diff.jsonl");
    let dest = ctx.storage.create_path(&uri)?;
    std::fs::write(&dest, diff)
        .map_err(|e| TaskError::Failed(format!("writing `{}` failed: {e}", dest.display())))?;
    let mut out = Outputs::new();
    out.insert("diff".into(), Value::String(uri));
    out.insert("added".into(), json!(added));
    out.insert("updated".into(), json!(updated));
    out.insert("deleted".into(), json!(deleted));
    out.insert("commitId".into(), Value::String(commit));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_percent_encoded() {
        assert_eq!(userinfo_encode("a b:c@d/é"), "a%20b%3Ac%40d%2F%C3%A9");
        assert_eq!(userinfo_encode("ghp_AZaz09-._~"), "ghp_AZaz09-._~");
    }
}
