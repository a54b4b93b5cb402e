//! Google Cloud Storage tasks (`io.kestra.plugin.gcp.gcs.*`): Upload, Download, List, Delete,
//! Copy and CreateBucket on `gs://bucket/key` URIs.
//!
//! Buckets are those of `weir_storage::buckets` in their GCS flavour: real GCS when a service
//! account is given (the task's `serviceAccount`, or `GOOGLE_APPLICATION_CREDENTIALS`), an
//! emulator when an endpoint is (`WEIR_GCS_ENDPOINT` / `STORAGE_EMULATOR_HOST`), otherwise the
//! folders under `<home>/buckets` that S3's local buckets use too.

use crate::s3::file_name;
use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::{Value, json};
use weir_storage::buckets::{BucketConfig, BucketError, Buckets, parse_gs_uri};

/// Kestra's GCP connection properties, shared by every GCS task.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    /// A service account key, as JSON text.
    service_account: Option<String>,
    project_id: Option<String>,
}

fn set(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// The task's `serviceAccount` when it is a service-account key (JSON with `"type":
/// "service_account"` and a private key), which sends `gs://` to the real Cloud Storage. Course
/// and blueprint flows fill it from a KV entry that holds a placeholder on a laptop; anything
/// else than a key keeps the local bucket folders, and the log says why.
pub(crate) fn service_account_key(ctx: &TaskContext, text: Option<&str>) -> Option<String> {
    let text = text.filter(|t| !t.trim().is_empty())?;
    let is_key = serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.get("type").and_then(|t| t.as_str()) == Some("service_account")
            && v.get("private_key").is_some_and(|k| k.is_string())
    });
    if is_key {
        Some(text.to_string())
    } else {
        ctx.log.info(
            "`serviceAccount` is not a service-account key (JSON with \"type\": \"service_account\"), \
             so gs:// buckets stay in the local folders",
        );
        None
    }
}

fn buckets(ctx: &TaskContext) -> Result<Buckets, TaskError> {
    let c: Connection = ctx.props()?;
    let mut config = BucketConfig::gcs_from_env(ctx.home.join("buckets"));
    if let Some(key) = service_account_key(ctx, c.service_account.as_deref()) {
        config.service_account_key = Some(key);
    }
    tell_backend_once(ctx, &config, set(c.project_id).as_deref());
    Ok(Buckets::new(config))
}

/// Says once per execution and backend where `gs://` buckets are.
fn tell_backend_once(ctx: &TaskContext, config: &BucketConfig, project: Option<&str>) {
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
    let project = project
        .map(|p| format!(" (project `{p}`)"))
        .unwrap_or_default();
    ctx.log
        .info(&format!("gs:// buckets are in the {location}{project}"));
}

fn failed(e: BucketError) -> TaskError {
    TaskError::Failed(crate::error_chain(&e))
}

/// `gs://bucket/key` split, or a message naming the property.
fn gs(prop: &str, uri: &str) -> Result<(String, String), TaskError> {
    parse_gs_uri(uri.trim()).ok_or_else(|| {
        TaskError::Props(format!(
            "`{prop}` must be a `gs://bucket/path` URI, found `{uri}`"
        ))
    })
}

fn gs_uri(bucket: &str, key: &str) -> String {
    format!("gs://{bucket}/{key}")
}

#[derive(Deserialize)]
struct UploadProps {
    from: String,
    to: String,
}

pub async fn upload(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: UploadProps = ctx.props()?;
    let (bucket, key) = gs("to", &p.to)?;
    let b = buckets(ctx)?;
    let path = ctx.storage.existing(&p.from)?;
    let size = b.put_file(&bucket, &key, &path).await.map_err(failed)?;
    let uri = gs_uri(&bucket, &key);
    ctx.log
        .info(&format!("uploaded {} ({size} bytes) to {uri}", p.from));
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    Ok(out)
}

#[derive(Deserialize)]
struct DownloadProps {
    from: String,
}

pub async fn download(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: DownloadProps = ctx.props()?;
    let (bucket, key) = gs("from", &p.from)?;
    let b = buckets(ctx)?;
    let uri = ctx.storage.task_file_uri(&ctx.scope(), &file_name(&key));
    let path = ctx.storage.create_path(&uri)?;
    let size = b.get_to_file(&bucket, &key, &path).await.map_err(failed)?;
    ctx.log.info(&format!(
        "downloaded {} ({size} bytes) to {uri}",
        gs_uri(&bucket, &key)
    ));
    let mut out = Outputs::new();
    out.insert("bucket".into(), bucket.into());
    out.insert("path".into(), key.into());
    out.insert("uri".into(), uri.into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListProps {
    from: String,
    filter: Option<String>,
    listing_type: Option<String>,
    reg_exp: Option<String>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    max_files: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Filter {
    Files,
    Directory,
    Both,
}

fn upper(v: Option<String>) -> Option<String> {
    set(v).map(|s| s.trim().to_ascii_uppercase())
}

/// One entry of a listing: `(name, size, updated, is_directory)`.
type Entry = (String, u64, Option<String>, bool);

/// The entries a DIRECTORY listing shows: objects right under `prefix`, and each sub-folder
/// once, as `prefix/sub/` (GCS's "directory" blobs).
fn directory_entries(prefix: &str, objects: Vec<Entry>) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for (name, size, updated, _) in objects {
        let rest = &name[prefix.len().min(name.len())..];
        match rest.find('/') {
            Some(i) => {
                let dir = format!("{prefix}{}", &rest[..=i]);
                if !out.iter().any(|e| e.0 == dir) {
                    out.push((dir, 0, None, true));
                }
            }
            None => out.push((name, size, updated, false)),
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

pub async fn list(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: ListProps = ctx.props()?;
    let (bucket, prefix) = gs("from", &p.from)?;
    let filter = match upper(p.filter).as_deref() {
        None | Some("BOTH") => Filter::Both,
        Some("FILES") => Filter::Files,
        Some("DIRECTORY") => Filter::Directory,
        Some(other) => {
            return Err(TaskError::Props(format!(
                "`filter` must be FILES, DIRECTORY or BOTH, found `{other}`"
            )));
        }
    };
    let recursive = match upper(p.listing_type).as_deref() {
        None | Some("DIRECTORY") => false,
        Some("RECURSIVE") => true,
        Some(other) => {
            return Err(TaskError::Props(format!(
                "`listingType` must be DIRECTORY or RECURSIVE, found `{other}`"
            )));
        }
    };
    // As in Kestra, the expression must match the whole URI (`gs://bucket/path`).
    let re = match set(p.reg_exp) {
        Some(r) => Some(regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
            TaskError::Props(format!("`regExp`: `{r}` is not a valid expression ({e})"))
        })?),
        None => None,
    };
    let b = buckets(ctx)?;
    let objects: Vec<Entry> = b
        .list(&bucket, &prefix)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|o| {
            let updated = o
                .last_modified
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            (o.key, o.size, Some(updated), false)
        })
        .collect();
    let entries = if recursive {
        objects
    } else {
        directory_entries(&prefix, objects)
    };
    let mut blobs: Vec<Value> = entries
        .into_iter()
        .filter(|e| match filter {
            Filter::Both => true,
            Filter::Files => !e.3,
            Filter::Directory => e.3,
        })
        .filter(|e| {
            re.as_ref()
                .is_none_or(|re| re.is_match(&gs_uri(&bucket, &e.0)))
        })
        .map(|(name, size, updated, is_dir)| {
            json!({
                "uri": gs_uri(&bucket, &name),
                "bucket": bucket,
                "name": name,
                "size": size,
                "isDirectory": is_dir,
                "updateTime": updated,
            })
        })
        .collect();
    if let Some(max) = p.max_files
        && blobs.len() as u64 > max
    {
        ctx.log.warn(&format!(
            "the listing found {} blobs; only the first {max} (`maxFiles`) are kept",
            blobs.len()
        ));
        blobs.truncate(max as usize);
    }
    ctx.log.info(&format!(
        "found {} blobs in {}",
        blobs.len(),
        gs_uri(&bucket, &prefix)
    ));
    let mut out = Outputs::new();
    out.insert("blobs".into(), Value::Array(blobs));
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteProps {
    uri: String,
    #[serde(default, deserialize_with = "de::bool_opt")]
    error_on_missing: Option<bool>,
}

pub async fn delete(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: DeleteProps = ctx.props()?;
    let (bucket, key) = gs("uri", &p.uri)?;
    let b = buckets(ctx)?;
    let deleted = b.delete(&bucket, &key).await.map_err(failed)?;
    let uri = gs_uri(&bucket, &key);
    if !deleted && p.error_on_missing == Some(true) {
        return Err(TaskError::Failed(format!(
            "{uri} does not exist (`errorOnMissing` is true)"
        )));
    }
    ctx.log.info(&if deleted {
        format!("deleted {uri}")
    } else {
        format!("{uri} did not exist; nothing to delete")
    });
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    out.insert("deleted".into(), deleted.into());
    Ok(out)
}

#[derive(Deserialize)]
struct CopyProps {
    from: String,
    to: String,
    #[serde(default, deserialize_with = "de::bool_opt")]
    delete: Option<bool>,
}

pub async fn copy(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: CopyProps = ctx.props()?;
    let (to_bucket, to_key) = gs("to", &p.to)?;
    let b = buckets(ctx)?;
    let to = gs_uri(&to_bucket, &to_key);
    // Kestra copies internal storage files too (`from: "{{ inputs.file }}"`).
    let size = if weir_storage::InternalStorage::is_uri(&p.from) {
        let path = ctx.storage.existing(&p.from)?;
        let size = b
            .put_file(&to_bucket, &to_key, &path)
            .await
            .map_err(failed)?;
        if p.delete == Some(true) {
            std::fs::remove_file(&path).map_err(|e| {
                TaskError::Failed(format!("cannot delete {} once copied: {e}", p.from))
            })?;
        }
        size
    } else {
        let (from_bucket, from_key) = gs("from", &p.from)?;
        let size = b
            .copy(&from_bucket, &from_key, &to_bucket, &to_key)
            .await
            .map_err(failed)?;
        if p.delete == Some(true) {
            b.delete(&from_bucket, &from_key).await.map_err(failed)?;
        }
        size
    };
    ctx.log
        .info(&format!("copied {} ({size} bytes) to {to}", p.from));
    if p.delete == Some(true) {
        ctx.log.info(&format!("deleted {}", p.from));
    }
    let mut out = Outputs::new();
    out.insert("uri".into(), to.into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBucketProps {
    name: String,
    if_exists: Option<String>,
}

pub async fn create_bucket(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: CreateBucketProps = ctx.props()?;
    let policy = upper(p.if_exists).unwrap_or_else(|| "ERROR".into());
    if !matches!(policy.as_str(), "ERROR" | "UPDATE" | "SKIP") {
        return Err(TaskError::Props(format!(
            "`ifExists` must be ERROR, UPDATE or SKIP, found `{policy}`"
        )));
    }
    let name = p
        .name
        .trim()
        .trim_start_matches("gs://")
        .trim_end_matches('/');
    let b = buckets(ctx)?;
    let exists = b.bucket_exists(name).await.map_err(failed)?;
    let (created, updated) = match (exists, policy.as_str()) {
        (true, "ERROR") => {
            return Err(TaskError::Failed(format!(
                "bucket `{name}` already exists (set `ifExists: SKIP` or `UPDATE` to go on)"
            )));
        }
        // Local buckets have no settings to update.
        (true, "UPDATE") => (false, true),
        (true, _) => (false, false),
        (false, _) => {
            b.create_local_bucket(name).map_err(failed)?;
            (true, false)
        }
    };
    ctx.log.info(&match (created, updated) {
        (true, _) => format!("created bucket gs://{name}"),
        (_, true) => format!("bucket gs://{name} exists; nothing to update"),
        _ => format!("bucket gs://{name} exists; skipped"),
    });
    let mut out = Outputs::new();
    out.insert("bucket".into(), name.into());
    out.insert("bucketUri".into(), format!("gs://{name}").into());
    out.insert("created".into(), created.into());
    out.insert("updated".into(), updated.into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_listing_shows_sub_folders_once() {
        let e = |n: &str| (n.to_string(), 1, None, false);
        let got = directory_entries(
            "dir/",
            vec![e("dir/a.csv"), e("dir/sub/b.csv"), e("dir/sub/c.csv")],
        );
        let names: Vec<(&str, bool)> = got.iter().map(|e| (e.0.as_str(), e.3)).collect();
        assert_eq!(names, vec![("dir/a.csv", false), ("dir/sub/", true)]);
    }
}
