//! Namespace files: a namespace's shared files (dbt projects, scripts, SQL), kept in internal
//! storage where Kestra keeps them, `kestra:///<namespace as folders>/_files/<path>`, so a
//! flow's tasks can copy them into their working directory (`namespaceFiles`) and
//! `weir namespace files` can upload, list and read them.

use crate::{InternalStorage, StorageError, io};
use std::fs;
use std::path::{Component, Path, PathBuf};

impl InternalStorage {
    /// The folder holding `namespace`'s files (it may not exist yet).
    pub fn namespace_files_root(&self, namespace: &str) -> PathBuf {
        self.root.join(namespace.replace('.', "/")).join("_files")
    }

    /// Where the namespace file `path` lives. `path` is relative to the namespace's files
    /// (a leading `/` is allowed, as Kestra writes them); `..` and absolute escapes are refused.
    pub fn namespace_file_path(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<PathBuf, StorageError> {
        let rel = Path::new(path.trim_start_matches('/'));
        let clean = rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !clean || rel.as_os_str().is_empty() {
            return Err(StorageError::Escapes {
                uri: format!("namespace file `{path}`"),
            });
        }
        Ok(self.namespace_files_root(namespace).join(rel))
    }

    /// Writes (or replaces) one namespace file; the replacement is atomic.
    pub fn put_namespace_file(
        &self,
        namespace: &str,
        path: &str,
        bytes: &[u8],
    ) -> Result<u64, StorageError> {
        let dest = self.namespace_file_path(namespace, path)?;
        let parent = dest.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(io(parent))?;
        let tmp = dest.with_extension("weir-part");
        fs::write(&tmp, bytes).map_err(io(&tmp))?;
        fs::rename(&tmp, &dest).map_err(io(&dest))?;
        Ok(bytes.len() as u64)
    }

    /// One namespace file's bytes.
    pub fn read_namespace_file(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<Vec<u8>, StorageError> {
        let file = self.namespace_file_path(namespace, path)?;
        match fs::read(&file) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || file.is_dir() => {
                Err(StorageError::Missing {
                    uri: format!("namespace file `{path}` of `{namespace}`"),
                })
            }
            Err(e) => Err(io(&file)(e)),
        }
    }

    /// The namespace's files under `prefix` (a folder, `""` or `/` for all), as sorted paths
    /// relative to the namespace's files, `/`-separated.
    pub fn list_namespace_files(
        &self,
        namespace: &str,
        prefix: &str,
    ) -> Result<Vec<String>, StorageError> {
        let root = self.namespace_files_root(namespace);
        let start = match prefix.trim_matches('/') {
            "" => root.clone(),
            p => self.namespace_file_path(namespace, p)?,
        };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
                    push_relative(&root, &dir, &mut out);
                    continue;
                }
                Err(e) => return Err(io(&dir)(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir))?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_none_or(|x| x != "weir-part") {
                    push_relative(&root, &path, &mut out);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes one namespace file (or a whole folder); false when there was nothing.
    pub fn delete_namespace_file(&self, namespace: &str, path: &str) -> Result<bool, StorageError> {
        let file = self.namespace_file_path(namespace, path)?;
        let result = if file.is_dir() {
            fs::remove_dir_all(&file)
        } else {
            fs::remove_file(&file)
        };
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&file)(e)),
        }
    }
}

/// One entry of a namespace folder, as Kestra's API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub modified_ms: i64,
    pub created_ms: i64,
}

impl InternalStorage {
    /// The files and folders directly in the namespace folder `path` (`""` or `/` for the
    /// root), sorted by name. A missing root is empty; a missing folder is `Missing`.
    pub fn namespace_dir_entries(
        &self,
        namespace: &str,
        path: &str,
    ) -> Result<Vec<NamespaceEntry>, StorageError> {
        let dir = match path.trim_matches('/') {
            "" => self.namespace_files_root(namespace),
            p => self.namespace_file_path(namespace, p)?,
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && path.trim_matches('/').is_empty() =>
            {
                return Ok(Vec::new());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Err(StorageError::Missing {
                    uri: format!("namespace folder `{path}` of `{namespace}`"),
                });
            }
            Err(e) => return Err(io(&dir)(e)),
        };
        let ms = |t: std::io::Result<std::time::SystemTime>| {
            t.ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64)
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".weir-part") {
                continue;
            }
            let meta = entry.metadata().map_err(io(&entry.path()))?;
            out.push(NamespaceEntry {
                name,
                is_dir: meta.is_dir(),
                size: if meta.is_dir() { 0 } else { meta.len() },
                modified_ms: ms(meta.modified()),
                created_ms: ms(meta.created().or_else(|_| meta.modified())),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn push_relative(root: &Path, path: &Path, out: &mut Vec<String>) {
    if let Ok(rel) = path.strip_prefix(root) {
        let parts: Vec<_> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        out.push(parts.join("/"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_list_read_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let storage = InternalStorage::new(dir.path());
        storage
            .put_namespace_file("team.dbt", "/models/a.sql", b"select 1")
            .unwrap();
        storage
            .put_namespace_file("team.dbt", "dbt_project.yml", b"name: x")
            .unwrap();
        storage
            .put_namespace_file("team", "other.txt", b"o")
            .unwrap();
        assert_eq!(
            storage.list_namespace_files("team.dbt", "").unwrap(),
            vec!["dbt_project.yml", "models/a.sql"]
        );
        assert_eq!(
            storage.list_namespace_files("team.dbt", "models").unwrap(),
            vec!["models/a.sql"]
        );
        assert_eq!(
            storage
                .read_namespace_file("team.dbt", "models/a.sql")
                .unwrap(),
            b"select 1"
        );
        assert!(matches!(
            storage.read_namespace_file("team.dbt", "nope.sql"),
            Err(StorageError::Missing { .. })
        ));
        assert!(storage.delete_namespace_file("team.dbt", "models").unwrap());
        assert_eq!(
            storage.list_namespace_files("team.dbt", "").unwrap(),
            vec!["dbt_project.yml"]
        );
    }

    #[test]
    fn folder_entries_are_one_level() {
        let dir = tempfile::tempdir().unwrap();
        let storage = InternalStorage::new(dir.path());
        assert!(storage.namespace_dir_entries("ns", "/").unwrap().is_empty());
        storage.put_namespace_file("ns", "a/b.txt", b"bb").unwrap();
        storage.put_namespace_file("ns", "c.txt", b"c").unwrap();
        let root = storage.namespace_dir_entries("ns", "").unwrap();
        let names: Vec<_> = root.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
        assert_eq!(names, [("a", true), ("c.txt", false)]);
        let a = storage.namespace_dir_entries("ns", "/a").unwrap();
        assert_eq!((a[0].name.as_str(), a[0].size), ("b.txt", 2));
        assert!(matches!(
            storage.namespace_dir_entries("ns", "nope"),
            Err(StorageError::Missing { .. })
        ));
    }

    #[test]
    fn escapes_are_refused() {
        let storage = InternalStorage::new("/tmp/x");
        assert!(storage.namespace_file_path("ns", "../secret").is_err());
        assert!(storage.namespace_file_path("ns", "").is_err());
        assert!(storage.namespace_file_path("ns", "a/../../b").is_err());
    }
}
