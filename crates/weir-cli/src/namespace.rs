//! `weir namespace files …`: a namespace's shared files (what `namespaceFiles` copies into
//! script tasks' working directories and `SyncNamespaceFiles` fills from Git).

use crate::args::{NamespaceCommand, NamespaceFilesCommand};
use crate::commands::{emit, open_home, plural};
use crate::output::{note, user_error, user_error_hint};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use weir_storage::{InternalStorage, StorageError};

pub fn namespace(home: &Path, cmd: NamespaceCommand) -> Result<u8> {
    match cmd {
        NamespaceCommand::Files(cmd) => files(home, cmd),
    }
}

fn check_namespace(ns: &str) -> Result<()> {
    if weir_flow::valid_namespace(ns) {
        Ok(())
    } else {
        Err(user_error_hint(
            format!("invalid namespace `{ns}`"),
            "namespaces are dot-separated words of letters, digits, `_` and `-`, such as `company.team`",
        ))
    }
}

/// A storage error about a path the user gave, as a user error.
fn path_error(e: StorageError) -> anyhow::Error {
    match e {
        StorageError::Escapes { .. } | StorageError::Missing { .. } => user_error(e.to_string()),
        e => e.into(),
    }
}

fn files(home: &Path, cmd: NamespaceFilesCommand) -> Result<u8> {
    let h = open_home(home)?;
    let storage = &*h.storage;
    match cmd {
        NamespaceFilesCommand::Upload {
            namespace,
            local,
            to,
        } => {
            check_namespace(&namespace)?;
            let n = upload(storage, &namespace, &local, &to)?;
            note(&format!(
                "uploaded {} to namespace `{namespace}`",
                plural(n, "file")
            ));
        }
        NamespaceFilesCommand::List {
            namespace,
            path,
            json,
        } => {
            check_namespace(&namespace)?;
            let files = storage
                .list_namespace_files(&namespace, path.as_deref().unwrap_or(""))
                .map_err(path_error)?;
            if json {
                let v: Vec<String> = files.iter().map(|f| format!("/{f}")).collect();
                emit(&format!("{}\n", serde_json::to_string_pretty(&v)?));
            } else {
                let mut text = String::new();
                for f in &files {
                    text.push('/');
                    text.push_str(f);
                    text.push('\n');
                }
                emit(&text);
            }
        }
        NamespaceFilesCommand::Get {
            namespace,
            path,
            output,
        } => {
            check_namespace(&namespace)?;
            let bytes = match storage.read_namespace_file(&namespace, &path) {
                Ok(b) => b,
                Err(StorageError::Missing { .. }) => {
                    return Err(user_error_hint(
                        format!("namespace file `{path}` not found in namespace `{namespace}`"),
                        format!("`weir namespace files list {namespace}` shows the files there"),
                    ));
                }
                Err(e) => return Err(path_error(e)),
            };
            match output {
                Some(file) => std::fs::write(&file, &bytes)
                    .with_context(|| format!("could not write `{}`", file.display()))?,
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes)?;
                    out.flush()?;
                }
            }
        }
        NamespaceFilesCommand::Delete { namespace, path } => {
            check_namespace(&namespace)?;
            if !storage
                .delete_namespace_file(&namespace, &path)
                .map_err(path_error)?
            {
                return Err(user_error_hint(
                    format!("namespace file `{path}` not found in namespace `{namespace}`"),
                    format!("`weir namespace files list {namespace}` shows the files there"),
                ));
            }
        }
    }
    Ok(0)
}

/// Uploads a file (to `to`, or into `to` when it ends with `/`) or a folder's files (under
/// `to`), leaving out `.git`. Returns how many files were written.
fn upload(storage: &InternalStorage, ns: &str, local: &Path, to: &str) -> Result<usize> {
    let meta = std::fs::metadata(local)
        .map_err(|e| user_error(format!("cannot read `{}`: {e}", local.display())))?;
    let to = to.trim_start_matches('/');
    if meta.is_file() {
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = if to.is_empty() || to.ends_with('/') {
            format!("{to}{name}")
        } else {
            to.to_string()
        };
        let bytes = std::fs::read(local)
            .with_context(|| format!("could not read `{}`", local.display()))?;
        storage
            .put_namespace_file(ns, &dest, &bytes)
            .map_err(path_error)?;
        return Ok(1);
    }
    let prefix = match to.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    };
    let mut count = 0;
    let mut stack = vec![local.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("could not read `{}`", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("could not read `{}`", dir.display()))?;
            if entry.file_name() == ".git" {
                continue;
            }
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if !kind.is_file() && !path.is_file() {
                continue;
            }
            let rel: Vec<String> = path
                .strip_prefix(local)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let bytes = std::fs::read(&path)
                .with_context(|| format!("could not read `{}`", path.display()))?;
            storage
                .put_namespace_file(ns, &format!("{prefix}{}", rel.join("/")), &bytes)
                .map_err(path_error)?;
            count += 1;
        }
    }
    Ok(count)
}
