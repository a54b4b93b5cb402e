//! Internal storage: the files tasks produce, addressed by `kestra:///…` URIs.
//!
//! Every file a task writes gets a URI under its execution, so later tasks can name it through
//! templates (`{{ outputs.extract.outputFiles['x.csv'] }}`) exactly as Kestra flows do. The
//! embedded implementation keeps them in a folder under weir's home.

pub mod buckets;
mod namespace_files;
pub use namespace_files::NamespaceEntry;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;
pub mod tls;

use std::fs;
use std::path::{Path, PathBuf};

pub const SCHEME: &str = "kestra://";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("`{uri}` is not an internal storage URI (they start with `kestra:///`)")]
    NotInternal { uri: String },
    #[error("internal storage URI `{uri}` is outside the storage root")]
    Escapes { uri: String },
    #[error("file `{uri}` does not exist in internal storage")]
    Missing { uri: String },
    #[error("internal storage I/O failed on `{path}`")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where a task run's files go: one folder per task run of an execution.
#[derive(Debug, Clone)]
pub struct TaskScope<'a> {
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub execution_id: &'a str,
    pub task_id: &'a str,
    pub task_run_id: &'a str,
}

#[derive(Debug, Clone)]
pub struct InternalStorage {
    root: PathBuf,
}

impl InternalStorage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        InternalStorage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn execution_prefix(namespace: &str, flow_id: &str, execution_id: &str) -> String {
        format!(
            "{}/{flow_id}/executions/{execution_id}",
            namespace.replace('.', "/")
        )
    }

    /// The URI a task run's file called `name` gets.
    pub fn task_file_uri(&self, scope: &TaskScope<'_>, name: &str) -> String {
        format!(
            "{SCHEME}/{}/tasks/{}/{}/{}",
            Self::execution_prefix(scope.namespace, scope.flow_id, scope.execution_id),
            scope.task_id,
            scope.task_run_id,
            name.trim_start_matches('/')
        )
    }

    pub fn is_uri(text: &str) -> bool {
        text.starts_with(SCHEME)
    }

    /// The local path behind a URI. Refuses URIs that would leave the storage root.
    pub fn path_of(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let rel = uri
            .strip_prefix(SCHEME)
            .ok_or_else(|| StorageError::NotInternal { uri: uri.into() })?;
        let rel = rel.trim_start_matches('/');
        if rel.split('/').any(|seg| seg == ".." || seg == ".") || rel.is_empty() {
            return Err(StorageError::Escapes { uri: uri.into() });
        }
        Ok(self.root.join(rel))
    }

    /// Moves or copies a local file into storage under `uri`, returning its size.
    pub fn put_file(&self, src: &Path, uri: &str) -> Result<u64, StorageError> {
        let dest = self.path_of(uri)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // A hard link is instant and safe here: working directories are never written after
        // the task ends. Fall back to a copy across file systems.
        if fs::hard_link(src, &dest).is_err() {
            fs::copy(src, &dest).map_err(io(&dest))?;
        }
        fs::metadata(&dest).map(|m| m.len()).map_err(io(&dest))
    }

    /// A path to write a new file for `uri` to, with its folder created.
    pub fn create_path(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let dest = self.path_of(uri)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        Ok(dest)
    }

    /// The path of an existing file, or a clear error naming the URI.
    pub fn existing(&self, uri: &str) -> Result<PathBuf, StorageError> {
        let path = self.path_of(uri)?;
        if path.is_file() {
            Ok(path)
        } else {
            Err(StorageError::Missing { uri: uri.into() })
        }
    }

    /// Deletes the files of one task run (a task run interrupted by a crash leaves partial
    /// ones). Returns how many files were removed.
    pub fn purge_task_run(&self, scope: &TaskScope<'_>) -> Result<usize, StorageError> {
        let dir = self.root.join(format!(
            "{}/tasks/{}/{}",
            Self::execution_prefix(scope.namespace, scope.flow_id, scope.execution_id),
            scope.task_id,
            scope.task_run_id
        ));
        if !dir.exists() {
            return Ok(0);
        }
        let count = count_files(&dir);
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
        Ok(count)
    }

    /// Deletes every file of an execution. Returns how many files were removed.
    pub fn purge_execution(
        &self,
        namespace: &str,
        flow_id: &str,
        execution_id: &str,
    ) -> Result<usize, StorageError> {
        let dir = self
            .root
            .join(Self::execution_prefix(namespace, flow_id, execution_id));
        if !dir.exists() {
            return Ok(0);
        }
        let count = count_files(&dir);
        fs::remove_dir_all(&dir).map_err(io(&dir))?;
        Ok(count)
    }
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        count_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_refuse_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let s = InternalStorage::new(dir.path());
        let scope = TaskScope {
            namespace: "a.b",
            flow_id: "f",
            execution_id: "e",
            task_id: "t",
            task_run_id: "r",
        };
        let uri = s.task_file_uri(&scope, "x.csv");
        assert_eq!(uri, "kestra:///a/b/f/executions/e/tasks/t/r/x.csv");
        let src = dir.path().join("src.csv");
        std::fs::write(&src, "1,2\n").unwrap();
        assert_eq!(s.put_file(&src, &uri).unwrap(), 4);
        assert_eq!(
            std::fs::read_to_string(s.existing(&uri).unwrap()).unwrap(),
            "1,2\n"
        );
        assert!(matches!(
            s.path_of("kestra:///a/../../etc/passwd"),
            Err(StorageError::Escapes { .. })
        ));
        assert!(matches!(
            s.path_of("/etc/passwd"),
            Err(StorageError::NotInternal { .. })
        ));
        assert_eq!(s.purge_execution("a.b", "f", "e").unwrap(), 1);
        assert!(matches!(
            s.existing(&uri),
            Err(StorageError::Missing { .. })
        ));
    }
}
