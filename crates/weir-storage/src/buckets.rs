//! Buckets: object storage for flows, on an S3-compatible server or in local folders.
//!
//! When an endpoint is configured, bucket `b` is the bucket `b` of that server (path-style
//! requests). Otherwise bucket `b` is the folder `<local_root>/b/`, weir's embedded default, so a
//! flow using `aws.s3.*` tasks runs without any server. Both go through `object_store`, so keys,
//! listing and errors behave the same in both modes. Transfers stream: uploads switch to
//! multipart beyond [`PART_SIZE`], downloads are written chunk by chunk, so memory stays bounded
//! whatever the file size.
//!
//! Google Cloud Storage buckets (`gs://`) work the same way: real GCS (or an emulator) when a
//! service account or an endpoint is configured, otherwise the same local folders as S3's, so
//! a flow can hand a file from one to the other.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Size of one part of a multipart upload (S3 needs at least 5 MiB).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once: memory use is at most about `PART_SIZE` times this.
const PARTS_IN_FLIGHT: usize = 4;
/// The region used when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    #[error("object `{scheme}://{bucket}/{key}` does not exist")]
    Missing {
        scheme: &'static str,
        bucket: String,
        key: String,
    },
    #[error("bucket `{bucket}` does not exist on {location}")]
    NoBucket { bucket: String, location: String },
    #[error(
        "`{bucket}` is not a valid bucket name (it must be non-empty, without `/`, and not `.` or `..`)"
    )]
    InvalidBucket { bucket: String },
    #[error("`{key}` is not a valid object key: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("could not set up access to {location}: {reason}")]
    Config { location: String, reason: String },
    #[error("could not {op} `{scheme}://{bucket}/{key}` on {location}")]
    Store {
        op: &'static str,
        scheme: &'static str,
        bucket: String,
        key: String,
        location: String,
        #[source]
        source: Box<object_store::Error>,
    },
    #[error("could not {op} local file `{path}`")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = BucketError> = std::result::Result<T, E>;

/// The object store a bucket URI names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cloud {
    /// `s3://`: Amazon S3 or an S3-compatible server.
    #[default]
    S3,
    /// `gs://`: Google Cloud Storage or its emulator.
    Gcs,
}

impl Cloud {
    /// The URI scheme of its buckets.
    pub fn scheme(self) -> &'static str {
        match self {
            Cloud::S3 => "s3",
            Cloud::Gcs => "gs",
        }
    }
}

/// Where buckets live and how to reach them.
#[derive(Clone, Default)]
pub struct BucketConfig {
    /// S3 or GCS.
    pub cloud: Cloud,
    /// An S3-compatible server (`http://127.0.0.1:9000`, `https://s3.eu-west-1.amazonaws.com`).
    /// `None`: buckets are folders under `local_root`.
    pub endpoint: Option<String>,
    /// The region requests are signed for; `us-east-1` when `None`.
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// A session token, for temporary credentials.
    pub session_token: Option<String>,
    /// `Some(false)` asks for virtual-hosted-style requests (`bucket.host`); path-style
    /// (`host/bucket`) otherwise, which every S3-compatible server understands.
    pub force_path_style: Option<bool>,
    /// GCS: a service account key, as JSON text.
    pub service_account_key: Option<String>,
    /// GCS: the path of a service account key file (`GOOGLE_APPLICATION_CREDENTIALS`).
    pub service_account_path: Option<String>,
    /// The folder holding local buckets: `<weir home>/buckets`.
    pub local_root: PathBuf,
}

impl fmt::Debug for BucketConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("BucketConfig")
            .field("cloud", &self.cloud)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("force_path_style", &self.force_path_style)
            .field("service_account_key", &hidden(&self.service_account_key))
            .field("service_account_path", &self.service_account_path)
            .field("local_root", &self.local_root)
            .finish()
    }
}

impl BucketConfig {
    /// The configuration from weir's environment variables (`WEIR_S3_ENDPOINT`,
    /// `WEIR_S3_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); empty values count as
    /// unset.
    pub fn from_env(local_root: impl Into<PathBuf>) -> Self {
        use weir_core::env;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        BucketConfig {
            endpoint: var(env::WEIR_S3_ENDPOINT),
            region: Some(var(env::WEIR_S3_REGION).unwrap_or_else(|| DEFAULT_REGION.into())),
            access_key_id: var(env::AWS_ACCESS_KEY_ID),
            secret_access_key: var(env::AWS_SECRET_ACCESS_KEY),
            local_root: local_root.into(),
            ..Default::default()
        }
    }

    /// The GCS configuration from the environment: an emulator endpoint (`WEIR_GCS_ENDPOINT`,
    /// else `STORAGE_EMULATOR_HOST`) and a service account key file
    /// (`GOOGLE_APPLICATION_CREDENTIALS`); with neither, buckets are local folders.
    pub fn gcs_from_env(local_root: impl Into<PathBuf>) -> Self {
        use weir_core::env;
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let endpoint = var(env::WEIR_GCS_ENDPOINT)
            .or_else(|| var(env::STORAGE_EMULATOR_HOST))
            .map(|e| {
                if e.contains("://") {
                    e
                } else {
                    format!("http://{e}")
                }
            });
        BucketConfig {
            cloud: Cloud::Gcs,
            endpoint,
            service_account_path: var(env::GOOGLE_APPLICATION_CREDENTIALS),
            local_root: local_root.into(),
            ..Default::default()
        }
    }

    /// Whether buckets are on an S3-compatible server rather than in local folders.
    pub fn is_s3(&self) -> bool {
        self.cloud == Cloud::S3 && self.endpoint.is_some()
    }

    /// Whether buckets are on a server (S3, GCS or an emulator) rather than in local folders.
    pub fn is_remote(&self) -> bool {
        match self.cloud {
            Cloud::S3 => self.endpoint.is_some(),
            Cloud::Gcs => {
                self.endpoint.is_some()
                    || self.service_account_key.is_some()
                    || self.service_account_path.is_some()
            }
        }
    }

    /// Where the buckets are, for messages: "S3 endpoint `…`", "GCS endpoint `…`",
    /// "Google Cloud Storage" or "local folder `…`".
    pub fn location(&self) -> String {
        match (&self.endpoint, self.cloud) {
            (Some(e), Cloud::S3) => format!("S3 endpoint `{e}`"),
            (Some(e), Cloud::Gcs) => format!("GCS endpoint `{e}`"),
            (None, Cloud::Gcs) if self.is_remote() => "Google Cloud Storage".into(),
            (None, _) => format!("local folder `{}`", self.local_root.display()),
        }
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: DateTime<Utc>,
}

/// Splits `s3://bucket/key` into its bucket and key (the key may be empty).
pub fn parse_s3_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_string(), key.to_string()))
}

/// Splits `gs://bucket/key` into its bucket and key (the key may be empty).
pub fn parse_gs_uri(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("gs://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((bucket.to_string(), key.to_string()))
}

/// Access to buckets; cheap to share, stores are built on first use of each bucket.
pub struct Buckets {
    config: BucketConfig,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl fmt::Debug for Buckets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buckets")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// An object of a bucket, resolved to its store.
struct Target {
    store: Arc<dyn ObjectStore>,
    path: ObjPath,
    bucket: String,
    key: String,
}

impl Buckets {
    pub fn new(config: BucketConfig) -> Self {
        Buckets {
            config,
            stores: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &BucketConfig {
        &self.config
    }

    fn check_bucket(bucket: &str) -> Result<()> {
        if bucket.is_empty() || bucket.contains('/') || bucket == "." || bucket == ".." {
            return Err(BucketError::InvalidBucket {
                bucket: bucket.into(),
            });
        }
        ObjPath::parse(bucket).map_err(|_| BucketError::InvalidBucket {
            bucket: bucket.into(),
        })?;
        Ok(())
    }

    fn parse_key(key: &str) -> Result<ObjPath> {
        let invalid = |reason: String| BucketError::InvalidKey {
            key: key.into(),
            reason,
        };
        let trimmed = key.trim_start_matches('/');
        if trimmed.is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if trimmed.ends_with('/') {
            return Err(invalid("it ends with `/`".into()));
        }
        match ObjPath::parse(trimmed) {
            Ok(p) => Ok(p),
            Err(object_store::path::Error::EmptySegment { .. }) => {
                Err(invalid("it contains an empty segment (`//`)".into()))
            }
            Err(_) => Err(invalid(
                "segments cannot be `.` or `..` or hold control characters".into(),
            )),
        }
    }

    /// The store of a bucket: one local store for all local buckets (paths start with the
    /// bucket), one S3 client per bucket otherwise.
    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
        Self::check_bucket(bucket)?;
        let name = if self.config.is_remote() { bucket } else { "" };
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get(name) {
            return Ok(s.clone());
        }
        let store: Arc<dyn ObjectStore> = match &self.config.endpoint {
            _ if self.config.cloud == Cloud::Gcs && self.config.is_remote() => {
                Arc::new(self.gcs_store(bucket)?)
            }
            None => {
                let root = &self.config.local_root;
                std::fs::create_dir_all(root).map_err(|source| BucketError::Io {
                    op: "create the buckets folder",
                    path: root.display().to_string(),
                    source,
                })?;
                Arc::new(LocalFileSystem::new_with_prefix(root).map_err(|e| {
                    BucketError::Config {
                        location: self.config.location(),
                        reason: e.to_string(),
                    }
                })?)
            }
            Some(endpoint) => Arc::new(self.s3_store(endpoint, bucket)?),
        };
        stores.insert(name.to_string(), store.clone());
        Ok(store)
    }

    fn s3_store(&self, endpoint: &str, bucket: &str) -> Result<object_store::aws::AmazonS3> {
        crate::tls::install_crypto_provider();
        let c = &self.config;
        let mut b = AmazonS3Builder::new()
            .with_endpoint(endpoint.trim_end_matches('/'))
            .with_bucket_name(bucket)
            .with_region(c.region.as_deref().unwrap_or(DEFAULT_REGION))
            .with_virtual_hosted_style_request(c.force_path_style == Some(false))
            .with_allow_http(endpoint.starts_with("http://"))
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_allow_http(endpoint.starts_with("http://")),
            )
            // A server that is down should fail the task in seconds, not minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
            });
        match (&c.access_key_id, &c.secret_access_key) {
            (Some(id), Some(secret)) => {
                b = b.with_access_key_id(id).with_secret_access_key(secret);
                if let Some(t) = &c.session_token {
                    b = b.with_token(t);
                }
            }
            (None, None) => b = b.with_skip_signature(true),
            _ => {
                return Err(BucketError::Config {
                    location: c.location(),
                    reason: "an access key id needs a secret access key, and the other way round"
                        .into(),
                });
            }
        }
        b.build().map_err(|e| BucketError::Config {
            location: c.location(),
            reason: e.to_string(),
        })
    }

    fn gcs_store(&self, bucket: &str) -> Result<object_store::gcp::GoogleCloudStorage> {
        crate::tls::install_crypto_provider();
        let c = &self.config;
        let http = c
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let mut b = GoogleCloudStorageBuilder::new()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_allow_http(http),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: 2,
                retry_timeout: Duration::from_secs(30),
            });
        if let Some(e) = &c.endpoint {
            b = b.with_base_url(e.trim_end_matches('/'));
        }
        if let Some(key) = &c.service_account_key {
            b = b.with_service_account_key(key);
        } else if let Some(path) = &c.service_account_path {
            b = b.with_service_account_path(path);
        } else {
            // An emulator without credentials.
            b = b.with_skip_signature(true);
        }
        b.build().map_err(|e| BucketError::Config {
            location: c.location(),
            reason: e.to_string(),
        })
    }

    /// Whether a bucket exists (a local bucket is its folder).
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool> {
        Self::check_bucket(bucket)?;
        if !self.config.is_remote() {
            return Ok(self.config.local_root.join(bucket).is_dir());
        }
        let store = self.store(bucket)?;
        let mut stream = store.list(None);
        match stream.next().await {
            None | Some(Ok(_)) => Ok(true),
            Some(Err(object_store::Error::NotFound { .. })) => Ok(false),
            Some(Err(source)) => Err(BucketError::Store {
                op: "look up",
                scheme: self.config.cloud.scheme(),
                bucket: bucket.into(),
                key: String::new(),
                location: self.config.location(),
                source: Box::new(source),
            }),
        }
    }

    /// Creates a local bucket (its folder); `false` when it already existed. Buckets on a
    /// server are created with the cloud's own tools.
    pub fn create_local_bucket(&self, bucket: &str) -> Result<bool> {
        Self::check_bucket(bucket)?;
        if self.config.is_remote() {
            return Err(BucketError::Config {
                location: self.config.location(),
                reason: format!(
                    "weir creates local buckets only; create bucket `{bucket}` with the cloud's own tools"
                ),
            });
        }
        let existed = self.config.local_root.join(bucket).is_dir();
        self.ensure_local_bucket(bucket)?;
        Ok(!existed)
    }

    fn target(&self, bucket: &str, key: &str) -> Result<Target> {
        let store = self.store(bucket)?;
        let key_path = Self::parse_key(key)?;
        let path = if self.config.is_remote() {
            key_path
        } else {
            ObjPath::from(bucket)
                .parts()
                .chain(key_path.parts())
                .collect()
        };
        Ok(Target {
            store,
            path,
            bucket: bucket.into(),
            key: key.trim_start_matches('/').into(),
        })
    }

    fn fail(&self, op: &'static str, t: &Target, e: object_store::Error) -> BucketError {
        match e {
            object_store::Error::NotFound { .. } => BucketError::Missing {
                scheme: self.config.cloud.scheme(),
                bucket: t.bucket.clone(),
                key: t.key.clone(),
            },
            source => BucketError::Store {
                op,
                scheme: self.config.cloud.scheme(),
                bucket: t.bucket.clone(),
                key: t.key.clone(),
                location: self.config.location(),
                source: Box::new(source),
            },
        }
    }

    /// Uploads a local file, streaming it (multipart beyond [`PART_SIZE`]). Returns its size.
    pub async fn put_file(&self, bucket: &str, key: &str, src: &Path) -> Result<u64> {
        let t = self.target(bucket, key)?;
        if !self.config.is_remote() {
            self.ensure_local_bucket(bucket)?;
        }
        let io = |op, source| BucketError::Io {
            op,
            path: src.display().to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(src)
            .await
            .map_err(|e| io("open", e))?;
        let mut writer = BufWriter::with_capacity(t.store.clone(), t.path.clone(), PART_SIZE)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let n = match tokio::io::copy(&mut file, &mut writer).await {
            Ok(n) => n,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(self.writer_error("upload to", &t, e, Some(src)));
            }
        };
        writer
            .shutdown()
            .await
            .map_err(|e| self.writer_error("upload to", &t, e, Some(src)))?;
        Ok(n)
    }

    /// `BufWriter` reports store failures as I/O errors wrapping object_store's; anything else
    /// is a failure to read the local file.
    fn writer_error(
        &self,
        op: &'static str,
        t: &Target,
        e: std::io::Error,
        src: Option<&Path>,
    ) -> BucketError {
        match e.downcast::<object_store::Error>() {
            Ok(store_err) => self.fail(op, t, store_err),
            Err(e) => match src {
                Some(src) => BucketError::Io {
                    op: "read",
                    path: src.display().to_string(),
                    source: e,
                },
                None => self.fail(
                    op,
                    t,
                    object_store::Error::Generic {
                        store: "S3",
                        source: Box::new(e),
                    },
                ),
            },
        }
    }

    /// Downloads an object into `dest` (its folder is created), streaming. Returns its size.
    pub async fn get_to_file(&self, bucket: &str, key: &str, dest: &Path) -> Result<u64> {
        let t = self.target(bucket, key)?;
        let got = t
            .store
            .get(&t.path)
            .await
            .map_err(|e| self.fail("download", &t, e))?;
        let io = |op, source| BucketError::Io {
            op,
            path: dest.display().to_string(),
            source,
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io("create the folder of", e))?;
        }
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| io("create", e))?;
        let mut stream = got.into_stream();
        let mut size = 0u64;
        let result: Result<()> = async {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.fail("download", &t, e))?;
                size += chunk.len() as u64;
                file.write_all(&chunk).await.map_err(|e| io("write", e))?;
            }
            file.flush().await.map_err(|e| io("write", e))
        }
        .await;
        if let Err(e) = result {
            drop(file);
            let _ = tokio::fs::remove_file(dest).await;
            return Err(e);
        }
        Ok(size)
    }

    /// Objects of a bucket whose key starts with `prefix` (plain text, as in S3), by key.
    pub async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let store = self.store(bucket)?;
        let prefix = prefix.trim_start_matches('/');
        // object_store lists by whole segments: list the folder holding the prefix, then filter.
        let folder = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let folder_path = if folder.is_empty() {
            ObjPath::default()
        } else {
            Self::parse_key(folder)?
        };
        let (list_path, strip) = if self.config.is_remote() {
            (folder_path, String::new())
        } else {
            if !self.config.local_root.join(bucket).is_dir() {
                return Err(BucketError::NoBucket {
                    bucket: bucket.into(),
                    location: self.config.location(),
                });
            }
            (
                ObjPath::from(bucket)
                    .parts()
                    .chain(folder_path.parts())
                    .collect(),
                format!("{bucket}/"),
            )
        };
        let list_prefix = (!list_path.as_ref().is_empty()).then_some(&list_path);
        let mut stream = store.list(list_prefix);
        let mut out = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| match e {
                object_store::Error::NotFound { .. } => BucketError::NoBucket {
                    bucket: bucket.into(),
                    location: self.config.location(),
                },
                source => BucketError::Store {
                    op: "list",
                    scheme: self.config.cloud.scheme(),
                    bucket: bucket.into(),
                    key: prefix.into(),
                    location: self.config.location(),
                    source: Box::new(source),
                },
            })?;
            let loc = meta.location.as_ref();
            let key = loc.strip_prefix(strip.as_str()).unwrap_or(loc);
            if key.starts_with(prefix) {
                out.push(ObjectInfo {
                    key: key.to_string(),
                    size: meta.size,
                    last_modified: meta.last_modified,
                });
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Whether an object exists.
    pub async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        let t = self.target(bucket, key)?;
        match t.store.head(&t.path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.fail("look up", &t, e)),
        }
    }

    /// Deletes an object; `false` when there was none.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<bool> {
        if !self.exists(bucket, key).await? {
            return Ok(false);
        }
        let t = self.target(bucket, key)?;
        match t.store.delete(&t.path).await {
            Ok(()) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.fail("delete", &t, e)),
        }
    }

    /// Copies an object, within a bucket or across buckets. Returns the size copied.
    pub async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
    ) -> Result<u64> {
        let from = self.target(from_bucket, from_key)?;
        let to = self.target(to_bucket, to_key)?;
        let size = from
            .store
            .head(&from.path)
            .await
            .map_err(|e| self.fail("copy", &from, e))?
            .size;
        if !self.config.is_remote() {
            self.ensure_local_bucket(to_bucket)?;
        }
        if Arc::ptr_eq(&from.store, &to.store) {
            to.store
                .copy(&from.path, &to.path)
                .await
                .map_err(|e| self.fail("copy", &from, e))?;
            return Ok(size);
        }
        // Different S3 buckets: object_store copies within one, so stream through weir.
        let got = from
            .store
            .get(&from.path)
            .await
            .map_err(|e| self.fail("copy", &from, e))?;
        let mut stream = got.into_stream();
        let mut writer = BufWriter::with_capacity(to.store.clone(), to.path.clone(), PART_SIZE)
            .with_max_concurrency(PARTS_IN_FLIGHT);
        let mut copied = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(self.fail("copy", &from, e));
                }
            };
            copied += chunk.len() as u64;
            if let Err(e) = writer.put(chunk).await {
                let _ = writer.abort().await;
                return Err(self.fail("copy to", &to, e));
            }
        }
        writer
            .shutdown()
            .await
            .map_err(|e| self.writer_error("copy to", &to, e, None))?;
        Ok(copied)
    }

    fn ensure_local_bucket(&self, bucket: &str) -> Result<()> {
        let dir = self.config.local_root.join(bucket);
        std::fs::create_dir_all(&dir).map_err(|source| BucketError::Io {
            op: "create the bucket folder",
            path: dir.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests;
