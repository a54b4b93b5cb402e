//! BigQuery's Query, Load and LoadFromGcs (`io.kestra.plugin.gcp.bigquery.*`) on the warehouse
//! `bigquery_url` names (DuckDB by default).
//!
//! Query's SQL is BigQuery's: `weir_warehouse::bigquery` rewrites it for DuckDB, and an
//! external table's `gs://` URIs are read from the local bucket folders (`<home>/buckets/<bucket>/`).
//! Load reads a file of internal storage, LoadFromGcs `gs://` objects (wildcards allowed), into
//! a table with BigQuery's write and create dispositions. Every task runs in one transaction.

use crate::bigquery::{BqTable, bigquery_url, split_table};
use crate::jdbc::{Fetch, fetch_outputs};
use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use weir_storage::InternalStorage;
use weir_storage::buckets::{BucketConfig, Buckets, parse_gs_uri};
use weir_warehouse::bigquery::{self as bq, FileFormat, ReadOptions, Step};
use weir_warehouse::{Rows, Target, Warehouse, WarehouseError};

fn target(ctx: &TaskContext, url: Option<&str>) -> Result<Target, TaskError> {
    let url = bigquery_url(ctx, url);
    weir_warehouse::url::parse(&url, None, None).map_err(|e| TaskError::Props(e.to_string()))
}

fn failed(e: WarehouseError) -> TaskError {
    TaskError::Failed(e.to_string())
}

fn table_json(t: &BqTable) -> Value {
    json!({"project": t.project, "dataset": t.dataset, "table": t.table})
}

fn job_id(ctx: &TaskContext) -> String {
    format!("weir_{}", ctx.task_run_id)
}

/// The files behind `gs://bucket/path` (`*` wildcards allowed in the object name): with GCS
/// configured (a service account, `GOOGLE_APPLICATION_CREDENTIALS` or an emulator endpoint) the
/// matching objects are downloaded into the task's working directory; otherwise the bucket is the
/// folder `<home>/buckets/<bucket>`.
async fn gs_objects(
    ctx: &TaskContext,
    uri: &str,
    service_account: Option<&str>,
) -> Result<Vec<PathBuf>, TaskError> {
    let mut config = BucketConfig::gcs_from_env(ctx.home.join("buckets"));
    if let Some(key) = crate::gcs::service_account_key(ctx, service_account) {
        config.service_account_key = Some(key);
    }
    if !config.is_remote() {
        return gs_files(ctx, uri);
    }
    let Some((bucket, key)) = parse_gs_uri(uri.trim()).filter(|(_, k)| !k.is_empty()) else {
        return Err(TaskError::Failed(format!(
            "`{uri}` names no object: expected `gs://bucket/path`"
        )));
    };
    let buckets = Buckets::new(config);
    let gcs_err = |e: weir_storage::buckets::BucketError| TaskError::Failed(crate::error_chain(&e));
    let keys: Vec<String> = match key.find('*') {
        None => vec![key.clone()],
        Some(star) => {
            let mut keys: Vec<String> = buckets
                .list(&bucket, &key[..star])
                .await
                .map_err(gcs_err)?
                .into_iter()
                .map(|o| o.key)
                .filter(|k| wildcard_match(&key, k))
                .collect();
            keys.sort();
            if keys.is_empty() {
                return Err(TaskError::Failed(format!("no object matches `{uri}`")));
            }
            keys
        }
    };
    tokio::fs::create_dir_all(&ctx.working_dir)
        .await
        .map_err(|e| {
            TaskError::Failed(format!(
                "cannot create `{}`: {e}",
                ctx.working_dir.display()
            ))
        })?;
    let mut files = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let name = k.rsplit('/').next().unwrap_or("object");
        let dest = ctx.working_dir.join(format!("gcs_{i}_{name}"));
        buckets
            .get_to_file(&bucket, k, &dest)
            .await
            .map_err(gcs_err)?;
        files.push(dest);
    }
    Ok(files)
}

/// The local files behind `gs://bucket/path` when buckets are the folders
/// `<home>/buckets/<bucket>`.
fn gs_files(ctx: &TaskContext, uri: &str) -> Result<Vec<PathBuf>, TaskError> {
    let Some(rest) = uri.trim().strip_prefix("gs://") else {
        return Err(TaskError::Failed(format!(
            "`{uri}` is not a `gs://bucket/path` URI"
        )));
    };
    let Some((bucket, key)) = rest
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
    else {
        return Err(TaskError::Failed(format!(
            "`{uri}` names no object: expected `gs://bucket/path`"
        )));
    };
    if bucket.contains("..") || key.split('/').any(|p| p == "..") {
        return Err(TaskError::Failed(format!("`{uri}` may not contain `..`")));
    }
    let root = ctx.home.join("buckets").join(bucket);
    if !root.is_dir() {
        return Err(TaskError::Failed(format!(
            "bucket `{bucket}` of `{uri}` does not exist (local buckets are folders under `{}`)",
            ctx.home.join("buckets").display()
        )));
    }
    if !key.contains('*') {
        let path = root.join(key);
        return if path.is_file() {
            Ok(vec![path])
        } else {
            Err(TaskError::Failed(format!(
                "object `{uri}` does not exist (looked for `{}`)",
                path.display()
            )))
        };
    }
    let mut found = Vec::new();
    walk(&root, &root, &mut |rel, path| {
        if wildcard_match(key, rel) {
            found.push(path.to_path_buf());
        }
    })
    .map_err(|e| TaskError::Failed(format!("listing `{}` failed: {e}", root.display())))?;
    found.sort();
    if found.is_empty() {
        return Err(TaskError::Failed(format!("no object matches `{uri}`")));
    }
    Ok(found)
}

fn walk(root: &Path, dir: &Path, f: &mut dyn FnMut(&str, &Path)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, f)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            f(&rel.to_string_lossy().replace('\\', "/"), &path);
        }
    }
    Ok(())
}

/// BigQuery's URI wildcard: `*` matches any run of characters, `/` included.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for m in middle {
        match rest.find(m) {
            Some(i) => rest = &rest[i + m.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn wants(p: &QueryProps) -> Result<Fetch, TaskError> {
    Fetch::from_props(p.fetch_type.as_deref(), p.fetch_one, p.fetch, p.store)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Write {
    Truncate,
    Append,
    Empty,
}

fn write_disposition(v: Option<&str>, default: Write) -> Result<Write, TaskError> {
    match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None => Ok(default),
        Some("WRITE_TRUNCATE") => Ok(Write::Truncate),
        Some("WRITE_APPEND") => Ok(Write::Append),
        Some("WRITE_EMPTY") => Ok(Write::Empty),
        Some(other) => Err(TaskError::Props(format!(
            "`writeDisposition` must be WRITE_TRUNCATE, WRITE_APPEND or WRITE_EMPTY, found `{other}`"
        ))),
    }
}

fn create_never(v: Option<&str>) -> Result<bool, TaskError> {
    match v.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        None | Some("CREATE_IF_NEEDED") => Ok(false),
        Some("CREATE_NEVER") => Ok(true),
        Some(other) => Err(TaskError::Props(format!(
            "`createDisposition` must be CREATE_IF_NEEDED or CREATE_NEVER, found `{other}`"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryProps {
    sql: String,
    url: Option<String>,
    project_id: Option<String>,
    service_account: Option<String>,
    dataset: Option<String>,
    destination_table: Option<String>,
    write_disposition: Option<String>,
    create_disposition: Option<String>,
    fetch_type: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fetch_one: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fetch: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    store: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    legacy_sql: Option<bool>,
}

/// Writes the rows of `select` into `table` as BigQuery's dispositions say; the rows written.
fn write_into(
    w: &mut dyn Warehouse,
    table: &BqTable,
    select: &str,
    write: Write,
    never_create: bool,
    by_name: bool,
) -> Result<u64, WarehouseError> {
    let name = bq::quoted_name(Some(&table.dataset), &table.table);
    let plain = format!("{}.{}", table.dataset, table.table);
    let exists = w.table_columns(&plain)?.is_some();
    let load_err = |m: String| WarehouseError::Load(m);
    if !exists && never_create {
        return Err(load_err(format!(
            "table `{plain}` does not exist and `createDisposition` is CREATE_NEVER"
        )));
    }
    w.execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        bq::quoted_name(None, &table.dataset)
    ))?;
    if exists && write == Write::Empty {
        let n = w.query(&format!("SELECT count(*) FROM {name}"))?;
        if n.rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_u64)
            != Some(0)
        {
            return Err(load_err(format!(
                "table `{plain}` is not empty and `writeDisposition` is WRITE_EMPTY"
            )));
        }
    }
    if !exists || write == Write::Truncate {
        w.execute(&format!("CREATE OR REPLACE TABLE {name} AS {select}"))?;
        let n = w.query(&format!("SELECT count(*) FROM {name}"))?;
        return Ok(n
            .rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_u64)
            .unwrap_or(0));
    }
    let by = if by_name { " BY NAME" } else { "" };
    w.execute(&format!("INSERT INTO {name}{by} {select}"))
}

/// One rewritten statement, ready to run.
struct Ready {
    text: String,
    line: usize,
}

/// `io.kestra.plugin.gcp.bigquery.Query`.
pub async fn query(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: QueryProps = ctx.props()?;
    if p.legacy_sql == Some(true) {
        return Err(TaskError::Props(
            "`legacySql: true` is not supported: weir runs BigQuery's standard SQL".into(),
        ));
    }
    let fetch = wants(&p)?;
    let write = write_disposition(p.write_disposition.as_deref(), Write::Empty)?;
    let never_create = create_never(p.create_disposition.as_deref())?;
    let destination = p
        .destination_table
        .as_deref()
        .map(|d| split_table(d, p.project_id.as_deref(), p.dataset.as_deref()))
        .transpose()?;
    let script =
        bq::rewrite(&p.sql).map_err(|e| TaskError::Failed(format!("BigQuery SQL, {e}")))?;
    if !script.projects.is_empty() {
        ctx.log.info(&format!(
            "project(s) {} recorded; their datasets are schemas of the local warehouse",
            script
                .projects
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut ready = Vec::new();
    for d in &script.created_datasets {
        ready.push(Ready {
            text: format!("CREATE SCHEMA IF NOT EXISTS {}", bq::quoted_name(None, d)),
            line: 1,
        });
    }
    for step in &script.steps {
        match step {
            Step::Sql { text, line } => ready.push(Ready {
                text: text.clone(),
                line: *line,
            }),
            Step::External(ext) => {
                let mut files = Vec::new();
                for uri in &ext.uris {
                    files.extend(gs_objects(ctx, uri, p.service_account.as_deref()).await?);
                }
                ctx.log.info(&format!(
                    "external table {} over {} file(s) of {}",
                    ext.name(),
                    files.len(),
                    ext.uris.join(", ")
                ));
                let text = ext.sql(&files).map_err(|e| {
                    TaskError::Failed(format!("BigQuery SQL, line {}: {e}", ext.line))
                })?;
                ready.push(Ready {
                    text,
                    line: ext.line,
                });
            }
        }
    }
    if ready.is_empty() {
        return Err(TaskError::Props("`sql` holds no statement".into()));
    }
    let target = target(ctx, p.url.as_deref())?;
    ctx.log.info(&format!(
        "running {} statement(s) on {target}",
        script.steps.len()
    ));
    let dest = destination.clone();
    let (affected, rows) = tokio::task::spawn_blocking(
        move || -> Result<(u64, Option<Rows>), TaskError> {
            let mut w = weir_warehouse::connect(&target).map_err(failed)?;
            w.begin().map_err(failed)?;
            let n = ready.len();
            let mut affected = 0;
            let mut last = None;
            for (i, r) in ready.iter().enumerate() {
                let is_last = i + 1 == n;
                let outcome = (|| -> Result<(), WarehouseError> {
                    if is_last && let Some(t) = &dest {
                        affected += write_into(w.as_mut(), t, &r.text, write, never_create, true)?;
                        if fetch != Fetch::None {
                            let name = bq::quoted_name(Some(&t.dataset), &t.table);
                            last = Some(w.query(&format!("SELECT * FROM {name}"))?);
                        }
                    } else if is_last && fetch != Fetch::None {
                        let rows = w.query(&r.text)?;
                        affected += rows.rows.len() as u64;
                        last = Some(rows);
                    } else {
                        affected += w.execute(&r.text)?;
                    }
                    Ok(())
                })();
                if let Err(e) = outcome {
                    let _ = w.rollback();
                    let message = match e {
                        WarehouseError::Engine { message, .. } | WarehouseError::Load(message) => {
                            message
                        }
                        other => other.to_string(),
                    };
                    return Err(TaskError::Failed(format!(
                        "statement {} of {n} (line {} of `sql`) failed on {}; the task's changes were rolled back: {message}\n  ran as: {}",
                        i + 1,
                        r.line,
                        w.engine().name(),
                        short(&r.text)
                    )));
                }
            }
            w.commit().map_err(failed)?;
            Ok((affected, last))
        },
    )
    .await
    .map_err(|e| TaskError::Failed(format!("the BigQuery task stopped unexpectedly: {e}")))??;
    let mut out = Outputs::new();
    out.insert("jobId".into(), job_id(ctx).into());
    if let Some(t) = &destination {
        out.insert("destinationTable".into(), table_json(t));
    }
    fetch_outputs(ctx, fetch, rows, affected, "result.ion", &mut out).await?;
    Ok(out)
}

fn short(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct CsvProps {
    field_delimiter: Option<String>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    skip_leading_rows: Option<u64>,
    quote: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    allow_jagged_rows: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    allow_quoted_newlines: Option<bool>,
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct SchemaField {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct SchemaProps {
    #[serde(default)]
    fields: Vec<SchemaField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadProps {
    url: Option<String>,
    project_id: Option<String>,
    destination_table: String,
    format: Option<String>,
    csv_options: Option<CsvProps>,
    schema: Option<SchemaProps>,
    write_disposition: Option<String>,
    create_disposition: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    ignore_unknown_values: Option<bool>,
}

/// `io.kestra.plugin.gcp.bigquery.Load`: a file of internal storage into a table.
pub async fn load(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    #[derive(Deserialize)]
    struct From {
        from: String,
    }
    let f: From = ctx.props()?;
    if !InternalStorage::is_uri(&f.from) {
        return Err(TaskError::Props(format!(
            "`from` must be a `kestra:///` file of internal storage, found `{}`; use LoadFromGcs for `gs://` objects",
            f.from
        )));
    }
    let file = ctx.storage.existing(&f.from)?;
    load_files(ctx, vec![file], &f.from).await
}

/// `io.kestra.plugin.gcp.bigquery.LoadFromGcs`: `gs://` objects (wildcards allowed) into a table.
pub async fn load_from_gcs(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    #[derive(Deserialize)]
    struct From {
        #[serde(deserialize_with = "de::string_list")]
        from: Vec<String>,
        #[serde(rename = "serviceAccount")]
        service_account: Option<String>,
    }
    let f: From = ctx.props()?;
    if f.from.is_empty() {
        return Err(TaskError::Props("`from` lists no `gs://` URI".into()));
    }
    let mut files = Vec::new();
    for uri in &f.from {
        files.extend(gs_objects(ctx, uri, f.service_account.as_deref()).await?);
    }
    load_files(ctx, files, &f.from.join(", ")).await
}

async fn load_files(
    ctx: &TaskContext,
    files: Vec<PathBuf>,
    what: &str,
) -> Result<Outputs, TaskError> {
    let p: LoadProps = ctx.props()?;
    let table = split_table(&p.destination_table, p.project_id.as_deref(), None)?;
    let format = match p.format.as_deref() {
        None => FileFormat::Csv,
        Some(f) => FileFormat::parse(f).ok_or_else(|| {
            TaskError::Props(format!(
                "`format` must be CSV, JSON, AVRO, PARQUET or ORC, found `{f}`"
            ))
        })?,
    };
    let mut read = ReadOptions::new(format);
    let csv = p.csv_options.unwrap_or_default();
    read.skip_leading_rows = csv.skip_leading_rows.unwrap_or(0);
    read.field_delimiter = csv.field_delimiter;
    read.quote = csv.quote;
    read.allow_jagged_rows = csv.allow_jagged_rows == Some(true);
    read.allow_quoted_newlines = csv.allow_quoted_newlines == Some(true);
    read.ignore_unknown_values = p.ignore_unknown_values == Some(true);
    if let Some(enc) = csv.encoding.as_deref()
        && !enc.eq_ignore_ascii_case("UTF-8")
    {
        return Err(TaskError::Props(format!(
            "`csvOptions.encoding` `{enc}` is not supported: weir reads UTF-8"
        )));
    }
    if let Some(schema) = &p.schema {
        for f in &schema.fields {
            let t = bq::duckdb_type(&f.kind)
                .map_err(|e| TaskError::Props(format!("`schema` field `{}`: {e}", f.name)))?;
            read.columns.push((f.name.clone(), t));
        }
    }
    let by_name = read.columns.is_empty() && format != FileFormat::Csv
        || read.columns.is_empty() && read.skip_leading_rows > 0;
    let source = read.table_function(&files).map_err(TaskError::Props)?;
    let select = format!("SELECT * FROM {source}");
    let write = write_disposition(p.write_disposition.as_deref(), Write::Append)?;
    let never_create = create_never(p.create_disposition.as_deref())?;
    let target = target(ctx, p.url.as_deref())?;
    ctx.log.info(&format!(
        "loading {what} ({} file(s)) into {}.{} on {target}",
        files.len(),
        table.dataset,
        table.table
    ));
    let t = table.clone();
    let rows = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
        let mut w = weir_warehouse::connect(&target).map_err(failed)?;
        w.begin().map_err(failed)?;
        match write_into(w.as_mut(), &t, &select, write, never_create, by_name) {
            Ok(n) => {
                w.commit().map_err(failed)?;
                Ok(n)
            }
            Err(e) => {
                let _ = w.rollback();
                Err(TaskError::Failed(format!(
                    "loading into `{}.{}` failed; nothing was loaded: {e}",
                    t.dataset, t.table
                )))
            }
        }
    })
    .await
    .map_err(|e| TaskError::Failed(format!("the load stopped unexpectedly: {e}")))??;
    ctx.log.info(&format!(
        "{rows} rows loaded into {}.{}",
        table.dataset, table.table
    ));
    let mut out = Outputs::new();
    out.insert("jobId".into(), job_id(ctx).into());
    out.insert("destinationTable".into(), table_json(&table));
    out.insert("rows".into(), rows.into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("raw/*.csv", "raw/a.csv"));
        assert!(wildcard_match("raw/*.csv", "raw/sub/a.csv"));
        assert!(!wildcard_match("raw/*.csv", "raw/a.parquet"));
        assert!(wildcard_match("raw/a_*_x*.csv", "raw/a_1_x2.csv"));
        assert!(wildcard_match("a.csv", "a.csv"));
        assert!(!wildcard_match("a*a", "a"));
    }

    #[test]
    fn dispositions() {
        assert_eq!(
            write_disposition(None, Write::Append).unwrap(),
            Write::Append
        );
        assert_eq!(
            write_disposition(Some("write_truncate"), Write::Append).unwrap(),
            Write::Truncate
        );
        assert!(write_disposition(Some("OVERWRITE"), Write::Append).is_err());
        assert!(create_never(Some("CREATE_NEVER")).unwrap());
        assert!(create_never(Some("SOMETIMES")).is_err());
    }
}
