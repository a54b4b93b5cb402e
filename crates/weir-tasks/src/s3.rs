//! S3 tasks (`io.kestra.plugin.aws.s3.*`): Upload, Download, List, Delete and Copy on buckets.
//!
//! Buckets are those of `weir_storage::buckets`: an S3-compatible server when an endpoint is
//! given (`endpointOverride`, or `WEIR_S3_ENDPOINT`), otherwise folders under
//! `<home>/buckets`. Kestra's connection properties set on the task (often through
//! `pluginDefaults`) override the environment.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::{Value, json};
use weir_storage::buckets::{BucketConfig, BucketError, Buckets};

/// Kestra's AWS connection properties, shared by every S3 task.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    region: Option<String>,
    access_key_id: Option<String>,
    secret_key_id: Option<String>,
    session_token: Option<String>,
    endpoint_override: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    force_path_style: Option<bool>,
    /// Kestra uses it for S3-compatible servers; `object_store` needs nothing special.
    #[serde(default, deserialize_with = "de::bool_opt")]
    #[expect(dead_code, reason = "accepted for compatibility with Kestra flows")]
    compatibility_mode: Option<bool>,
}

fn set(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

fn buckets(ctx: &TaskContext) -> Result<Buckets, TaskError> {
    let c: Connection = ctx.props()?;
    let mut config = BucketConfig::from_env(ctx.home.join("buckets"));
    if let Some(e) = set(c.endpoint_override) {
        config.endpoint = Some(e);
    }
    if let Some(r) = set(c.region) {
        config.region = Some(r);
    }
    if let Some(k) = set(c.access_key_id) {
        config.access_key_id = Some(k);
    }
    if let Some(s) = set(c.secret_key_id) {
        config.secret_access_key = Some(s);
    }
    if let Some(t) = set(c.session_token) {
        config.session_token = Some(t);
    }
    if c.force_path_style.is_some() {
        config.force_path_style = c.force_path_style;
    }
    tell_backend_once(ctx, &config);
    Ok(Buckets::new(config))
}

/// Says in the execution's log, once per execution and backend, where its buckets are: a
/// flow written for S3 that lands in a local folder must not do so without a word.
fn tell_backend_once(ctx: &TaskContext, config: &BucketConfig) {
    static TOLD: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
    let location = config.location();
    {
        let mut told = TOLD.lock().unwrap_or_else(|p| p.into_inner());
        let key = (ctx.execution_id.clone(), location.clone());
        if told.contains(&key) {
            return;
        }
        if told.len() >= 1024 {
            told.remove(0);
        }
        told.push(key);
    }
    let env_credentials = std::env::var_os(weir_core::env::AWS_ACCESS_KEY_ID).is_some();
    if !config.is_s3() && env_credentials {
        ctx.log.warn(&format!(
            "buckets are in the {location}: AWS credentials are in the environment but no S3 endpoint is set; \
             set `WEIR_S3_ENDPOINT` (or the task's `endpointOverride`) to use S3"
        ));
    } else {
        ctx.log.info(&format!("buckets are in the {location}"));
    }
}

/// The message of an error and of its causes, without repeating itself.
fn failed(e: BucketError) -> TaskError {
    let mut parts = vec![e.to_string()];
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        src = s.source();
    }
    TaskError::Failed(parts.join(": "))
}

fn s3_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The last segment of a key or URI: the name a file is stored under.
pub(crate) fn file_name(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("object")
        .to_string()
}

#[derive(Deserialize)]
struct UploadProps {
    bucket: String,
    key: String,
    #[serde(deserialize_with = "de::string_list")]
    from: Vec<String>,
}

pub async fn upload(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: UploadProps = ctx.props()?;
    let b = buckets(ctx)?;
    if p.from.is_empty() {
        return Err(TaskError::Props("`from` names no file".into()));
    }
    // One file goes to `key`; several go into the folder `key/`, under their own names.
    let many = p.from.len() > 1;
    let mut keys = Vec::new();
    for uri in &p.from {
        let path = ctx.storage.existing(uri)?;
        let key = if many {
            format!("{}/{}", p.key.trim_end_matches('/'), file_name(uri))
        } else {
            p.key.clone()
        };
        let size = b.put_file(&p.bucket, &key, &path).await.map_err(failed)?;
        ctx.log.info(&format!(
            "uploaded {uri} ({size} bytes) to {}",
            s3_uri(&p.bucket, &key)
        ));
        keys.push(key);
    }
    let mut out = Outputs::new();
    out.insert("bucket".into(), p.bucket.clone().into());
    out.insert("key".into(), p.key.clone().into());
    out.insert("uri".into(), s3_uri(&p.bucket, &p.key).into());
    if many {
        out.insert("keys".into(), json!(keys));
    }
    Ok(out)
}

#[derive(Deserialize)]
struct ObjectProps {
    bucket: String,
    key: String,
}

pub async fn download(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: ObjectProps = ctx.props()?;
    let b = buckets(ctx)?;
    let uri = ctx.storage.task_file_uri(&ctx.scope(), &file_name(&p.key));
    let path = ctx.storage.create_path(&uri)?;
    let size = b
        .get_to_file(&p.bucket, &p.key, &path)
        .await
        .map_err(failed)?;
    ctx.log.info(&format!(
        "downloaded {} ({size} bytes) to {uri}",
        s3_uri(&p.bucket, &p.key)
    ));
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    out.insert("contentLength".into(), size.into());
    Ok(out)
}

#[derive(Deserialize)]
struct ListProps {
    bucket: String,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    regexp: Option<String>,
}

pub async fn list(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: ListProps = ctx.props()?;
    let b = buckets(ctx)?;
    // As in Kestra, the expression must match the whole key.
    let re = match set(p.regexp) {
        Some(r) => Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
            TaskError::Props(format!("`regexp`: `{r}` is not a valid expression ({e})"))
        })?),
        None => None,
    };
    let objects: Vec<Value> = b
        .list(&p.bucket, p.prefix.as_deref().unwrap_or(""))
        .await
        .map_err(failed)?
        .into_iter()
        .filter(|o| re.as_ref().is_none_or(|re| re.is_match(&o.key)))
        .map(|o| {
            json!({
                "key": o.key,
                "size": o.size,
                "lastModified": o.last_modified.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            })
        })
        .collect();
    ctx.log.info(&format!(
        "found {} objects in s3://{}/{}",
        objects.len(),
        p.bucket,
        p.prefix.as_deref().unwrap_or("")
    ));
    let mut out = Outputs::new();
    out.insert("objects".into(), Value::Array(objects));
    Ok(out)
}

pub async fn delete(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: ObjectProps = ctx.props()?;
    let b = buckets(ctx)?;
    let deleted = b.delete(&p.bucket, &p.key).await.map_err(failed)?;
    let uri = s3_uri(&p.bucket, &p.key);
    ctx.log.info(&if deleted {
        format!("deleted {uri}")
    } else {
        format!("{uri} did not exist; nothing to delete")
    });
    let mut out = Outputs::new();
    out.insert("bucket".into(), p.bucket.into());
    out.insert("key".into(), p.key.into());
    out.insert("deleted".into(), deleted.into());
    Ok(out)
}

#[derive(Deserialize)]
struct CopyProps {
    from: ObjectProps,
    to: ObjectProps,
    /// Delete the source once copied (a move).
    #[serde(default, deserialize_with = "de::bool_opt")]
    delete: Option<bool>,
}

/// `from`/`to` of Copy must be maps; say so plainly rather than with serde's wording.
fn object_prop(ctx: &TaskContext, name: &str) -> Result<(), TaskError> {
    match ctx.props.get(name) {
        Some(Value::Object(_)) => Ok(()),
        Some(other) => Err(TaskError::Props(format!(
            "`{name}` must be a map with `bucket` and `key`, found `{other}`"
        ))),
        None => Err(TaskError::Props(format!("`{name}` is required"))),
    }
}

pub async fn copy(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    object_prop(ctx, "from")?;
    object_prop(ctx, "to")?;
    let p: CopyProps = ctx.props()?;
    let b = buckets(ctx)?;
    let size = b
        .copy(&p.from.bucket, &p.from.key, &p.to.bucket, &p.to.key)
        .await
        .map_err(failed)?;
    let (from, to) = (
        s3_uri(&p.from.bucket, &p.from.key),
        s3_uri(&p.to.bucket, &p.to.key),
    );
    ctx.log
        .info(&format!("copied {from} ({size} bytes) to {to}"));
    if p.delete == Some(true) {
        b.delete(&p.from.bucket, &p.from.key)
            .await
            .map_err(failed)?;
        ctx.log.info(&format!("deleted {from}"));
    }
    let mut out = Outputs::new();
    out.insert("bucket".into(), p.to.bucket.into());
    out.insert("key".into(), p.to.key.into());
    out.insert("uri".into(), to.into());
    Ok(out)
}
