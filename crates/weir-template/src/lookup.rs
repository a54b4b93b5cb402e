//! Lookups the renderer needs from the outside world (KV store, secrets) and secret masking.

use std::sync::{Arc, Mutex, MutexGuard};

/// Read access to the KV store, used by `kv()`.
pub trait KvLookup: Send + Sync {
    /// Ok(None) when the key does not exist (or expired).
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<serde_json::Value>, String>;
}

/// Source of secret values, used by `secret()`.
pub trait SecretLookup: Send + Sync {
    /// The plain-text value of secret `name`, or `None` if it is not defined.
    fn secret(&self, name: &str) -> Option<String>;
}

/// Reads secret NAME from env var SECRET_NAME (plain text value).
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvSecrets;

impl EnvSecrets {
    /// The environment variable holding secret `name`.
    pub fn env_var(name: &str) -> String {
        format!("SECRET_{name}")
    }
}

impl SecretLookup for EnvSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        std::env::var(Self::env_var(name)).ok()
    }
}

/// Collects every secret value resolved so callers can mask them in logs/outputs.
#[derive(Clone, Default, Debug)]
pub struct Masker {
    /// Kept sorted longest first so a secret containing another is replaced whole.
    secrets: Arc<Mutex<Vec<String>>>,
}

impl Masker {
    const MASK: &'static str = "******";

    fn lock(&self) -> MutexGuard<'_, Vec<String>> {
        // A panic while holding the lock cannot leave the list inconsistent, so recover it.
        self.secrets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a secret value to be masked. Empty values are ignored.
    pub fn add(&self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut secrets = self.lock();
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Replaces every registered secret in `text` with `******`.
    pub fn mask(&self, text: &str) -> String {
        let secrets = self.lock();
        let mut out = text.to_string();
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), Self::MASK);
            }
        }
        out
    }

    /// Masks every string inside a JSON value (object keys are left as they are).
    pub fn mask_json(&self, v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as Json;
        if self.lock().is_empty() {
            return v.clone();
        }
        match v {
            Json::String(s) => Json::String(self.mask(s)),
            Json::Array(items) => Json::Array(items.iter().map(|x| self.mask_json(x)).collect()),
            Json::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), self.mask_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// What templates reach of the running execution beyond its context: internal-storage and
/// namespace files (`read()`, `fileURI()`, `fileExists()`, `fileSize()`, `isFileEmpty()`) and
/// its logs (`errorLogs()`). Read-only; the engine implements it over its storage and store.
pub trait ExecutionLookup: Send + Sync {
    /// The bytes of the internal-storage file `uri` (`kestra:///…`); Ok(None) when there is
    /// no such file.
    fn read_file(&self, uri: &str) -> Result<Option<Vec<u8>>, String>;

    /// The size in bytes of the internal-storage file `uri`; Ok(None) when there is none.
    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        Ok(self.read_file(uri)?.map(|b| b.len() as u64))
    }

    /// The internal-storage URI of `namespace`'s file `path` (which may not exist).
    fn namespace_file_uri(&self, namespace: &str, path: &str) -> Result<String, String>;

    /// The ERROR log lines of execution `execution_id` so far, oldest first, each an object
    /// with `taskId`, `taskRunId`, `level`, `timestamp` and `message`.
    fn error_logs(&self, execution_id: &str) -> Result<Vec<serde_json::Value>, String>;
}

/// For renderers outside an execution (validation, tests): every lookup is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExecution;

impl NoExecution {
    const WHY: &'static str = "files and logs are only readable while an execution runs";
}

impl ExecutionLookup for NoExecution {
    fn read_file(&self, _: &str) -> Result<Option<Vec<u8>>, String> {
        Err(Self::WHY.into())
    }

    fn namespace_file_uri(&self, _: &str, _: &str) -> Result<String, String> {
        Err(Self::WHY.into())
    }

    fn error_logs(&self, _: &str) -> Result<Vec<serde_json::Value>, String> {
        Err(Self::WHY.into())
    }
}
