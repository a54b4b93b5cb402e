//! Warehouse tasks: Kestra's JDBC Query/Queries/CopyIn/CopyOut for DuckDB, PostgreSQL and
//! Redshift, and weir's own idempotent `weir.warehouse.Load`.
//!
//! The URL picks the engine, whatever the task's type says: a `jdbc.redshift.Query` runs on
//! DuckDB when its `url` is `jdbc:duckdb:…`. Each task runs in one transaction; a failing
//! statement rolls back everything the task did.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use weir_storage::InternalStorage;
use weir_storage::buckets::{BucketConfig, Buckets, parse_s3_uri};
use weir_warehouse::sql::{self, Plan};
use weir_warehouse::{CsvOptions, Target, WarehouseError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conn {
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl Conn {
    fn target(&self) -> Result<Target, TaskError> {
        let url = self.url.as_deref().unwrap_or("jdbc:duckdb:");
        weir_warehouse::url::parse(url, self.username.as_deref(), self.password.as_deref())
            .map_err(|e| TaskError::Props(e.to_string()))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryProps {
    #[serde(flatten)]
    conn: Conn,
    sql: String,
    fetch_type: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fetch_one: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    fetch: Option<bool>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    store: Option<bool>,
    input_files: Option<Value>,
    #[serde(default, deserialize_with = "de::string_list")]
    output_files: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fetch {
    None,
    One,
    All,
    Store,
}

impl Fetch {
    /// Kestra's `fetchType`, or its deprecated booleans `fetchOne`/`fetch`/`store`.
    pub(crate) fn from_props(
        fetch_type: Option<&str>,
        fetch_one: Option<bool>,
        fetch: Option<bool>,
        store: Option<bool>,
    ) -> Result<Fetch, TaskError> {
        Ok(match fetch_type.map(str::to_ascii_uppercase).as_deref() {
            Some("FETCH_ONE") => Fetch::One,
            Some("FETCH") => Fetch::All,
            Some("STORE") => Fetch::Store,
            Some("NONE") | None if fetch_one == Some(true) => Fetch::One,
            Some("NONE") | None if fetch == Some(true) => Fetch::All,
            Some("NONE") | None if store == Some(true) => Fetch::Store,
            Some("NONE") | None => Fetch::None,
            Some(other) => {
                return Err(TaskError::Props(format!(
                    "`fetchType` must be NONE, FETCH_ONE, FETCH or STORE, found `{other}`"
                )));
            }
        })
    }
}

/// A query's outputs as Kestra's JDBC tasks give them: `row` (FETCH_ONE), `rows` (FETCH), `uri`
/// of a JSON-lines file named `store_name` (STORE), and `size` — rows fetched, else rows
/// affected.
pub(crate) async fn fetch_outputs(
    ctx: &TaskContext,
    fetch: Fetch,
    rows: Option<weir_warehouse::Rows>,
    affected: u64,
    store_name: &str,
    out: &mut Outputs,
) -> Result<(), TaskError> {
    match (fetch, rows) {
        (Fetch::One, Some(r)) => {
            out.insert(
                "row".into(),
                r.objects().into_iter().next().unwrap_or(Value::Null),
            );
            out.insert("size".into(), r.rows.len().min(1).into());
        }
        (Fetch::All, Some(r)) => {
            out.insert("size".into(), r.rows.len().into());
            out.insert("rows".into(), Value::Array(r.objects()));
        }
        (Fetch::Store, Some(r)) => {
            let uri = ctx.storage.task_file_uri(&ctx.scope(), store_name);
            let path = ctx.storage.create_path(&uri)?;
            let mut text = String::new();
            for o in r.objects() {
                text.push_str(&o.to_string());
                text.push('\n');
            }
            tokio::fs::write(&path, text)
                .await
                .map_err(|e| TaskError::Failed(format!("writing `{uri}` failed: {e}")))?;
            out.insert("uri".into(), uri.into());
            out.insert("size".into(), r.rows.len().into());
        }
        _ => {
            out.insert("size".into(), affected.into());
        }
    }
    Ok(())
}

fn warehouse_err(e: WarehouseError) -> TaskError {
    TaskError::Failed(e.to_string())
}

/// The local file behind `s3://bucket/key` or `kestra:///…`; S3 objects are downloaded into the
/// task's working directory first (streamed, so memory stays bounded).
async fn local_copy(ctx: &TaskContext, uri: &str) -> Result<PathBuf, TaskError> {
    if InternalStorage::is_uri(uri) {
        return Ok(ctx.storage.existing(uri)?);
    }
    let Some((bucket, key)) = parse_s3_uri(uri) else {
        return Err(TaskError::Failed(format!(
            "`{uri}` is not an `s3://bucket/key` or `kestra:///` URI"
        )));
    };
    let config = BucketConfig::from_env(ctx.home.join("buckets"));
    if !config.is_s3() {
        let path = config.local_root.join(&bucket).join(&key);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(TaskError::Failed(format!(
                "object `{uri}` does not exist (bucket `{bucket}` is the {})",
                config.location()
            )))
        };
    }
    let name = key.rsplit('/').next().unwrap_or("object").to_string();
    let dest = ctx.working_dir.join(name);
    tokio::fs::create_dir_all(&ctx.working_dir)
        .await
        .map_err(|e| {
            TaskError::Failed(format!(
                "cannot create `{}`: {e}",
                ctx.working_dir.display()
            ))
        })?;
    Buckets::new(config)
        .get_to_file(&bucket, &key, &dest)
        .await
        .map_err(|e| TaskError::Failed(crate::error_chain(&e)))?;
    Ok(dest)
}

/// How many times a DuckDB transaction that conflicted with a concurrent one is run again.
const MAX_CONFLICT_RETRIES: u32 = 8;

/// DuckDB's optimistic concurrency control refused the transaction: running it again after
/// the other one committed gives the serial result.
fn is_conflict(e: &WarehouseError) -> bool {
    let text = e.to_string();
    text.contains("write-write conflict")
        || text.contains("Conflict on tuple")
        || text.contains("Conflict on update")
}

/// The extension a plain `INSTALL name` statement (DuckDB) asks for, lower-cased; `None` for
/// anything else, `FORCE INSTALL` and `INSTALL … FROM …` included (those mean a download).
fn install_target(stmt: &str) -> Option<String> {
    let text = stmt.trim().trim_end_matches(';').trim();
    let mut words = text.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("install") {
        return None;
    }
    let name = words.next()?;
    if words.next().is_some() {
        return None;
    }
    let name = name
        .trim_matches(|c| c == '\'' || c == '"')
        .to_ascii_lowercase();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then_some(name)
}

/// Whether DuckDB already has `ext` (built in, or installed before): `INSTALL` would then only
/// look for a newer copy online, which fails offline although the extension is right there.
fn extension_present(w: &mut Box<dyn weir_warehouse::Warehouse>, ext: &str) -> bool {
    w.query(&format!(
        "SELECT 1 FROM duckdb_extensions() WHERE extension_name = '{ext}' AND (installed OR loaded)"
    ))
    .map(|r| !r.rows.is_empty())
    .unwrap_or(false)
}

fn first_line(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 160 {
        format!("{}…", one.chars().take(160).collect::<String>())
    } else {
        one
    }
}

pub async fn query(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: QueryProps = ctx.props()?;
    let fetch = Fetch::from_props(p.fetch_type.as_deref(), p.fetch_one, p.fetch, p.store)?;
    let target = p.conn.target()?;
    let engine = target.engine();
    // `inputFiles`/`outputFiles`: the SQL works in the task's own folder. The process's
    // current directory is never changed (other tasks run in this process at the same time):
    // DuckDB finds relative paths it reads through the connection's `file_search_path`, and the
    // relative targets of `COPY … TO` are made absolute.
    let folder = if p.input_files.is_some() || !p.output_files.is_empty() {
        let files = serde_json::json!({ "inputFiles": p.input_files.clone() });
        let script: crate::scripts::ScriptProps = serde_json::from_value(files)
            .map_err(|e| TaskError::Props(format!("`inputFiles`: {e}")))?;
        crate::scripts::prepare_dir(ctx, &script).await?;
        Some(ctx.working_dir.clone())
    } else {
        None
    };
    let statements = sql::split(&p.sql);
    let mut plans = Vec::with_capacity(statements.len());
    for s in &statements {
        let mut s = s.clone();
        if let Some(dir) = &folder
            && engine == weir_warehouse::Engine::DuckDb
            && let Some(text) = absolute_copy_target(&s.text, dir)
        {
            s.text = text;
        }
        let s = &s;
        let plan = sql::plan(&s.text, engine);
        let local = match &plan {
            Plan::CopyFrom { source, .. } => Some(local_copy(ctx, source).await?),
            _ => None,
        };
        plans.push((s.clone(), plan, local));
    }
    ctx.log
        .info(&format!("running {} statement(s) on {target}", plans.len()));
    let log = ctx.log.clone();
    let search_path = folder.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(u64, Option<weir_warehouse::Rows>), TaskError> {
        let mut w = weir_warehouse::connect(&target).map_err(warehouse_err)?;
        if let Some(dir) = &search_path
            && engine == weir_warehouse::Engine::DuckDb
        {
            w.execute(&format!(
                "SET file_search_path = '{}'",
                dir.to_string_lossy().replace('\'', "''")
            ))
            .map_err(warehouse_err)?;
        }
        let n = plans.len();
        // One transaction over every statement. DuckDB checks conflicts optimistically: a
        // transaction that collides with a concurrent one (two executions creating the same
        // table) is rolled back and run again, as a serializable database would have ordered them.
        let mut conflicts = 0u32;
        loop {
            let run = |w: &mut Box<dyn weir_warehouse::Warehouse>| -> Result<(u64, Option<weir_warehouse::Rows>), (usize, WarehouseError)> {
                w.begin().map_err(|e| (0, e))?;
                let mut affected = 0;
                let mut last_rows = None;
                for (i, (stmt, plan, local)) in plans.iter().enumerate() {
                    let is_last = i + 1 == n;
                    let outcome: Result<(), WarehouseError> = (|| {
                        match plan {
                            Plan::CopyFrom { table, columns, source, csv, .. } => {
                                let file = local.as_ref().ok_or_else(|| WarehouseError::Load(format!("`{source}` was not fetched")))?;
                                let rows = w.copy_csv(table, columns, file, csv)?;
                                log.info(&format!("copied {rows} rows from {source} into {table}"));
                                affected += rows;
                            }
                            Plan::AsWritten | Plan::Rewritten(_) => {
                                let text = match plan {
                                    Plan::Rewritten(t) => t.as_str(),
                                    _ => stmt.text.as_str(),
                                };
                                if engine == weir_warehouse::Engine::DuckDb
                                    && let Some(ext) = install_target(text)
                                    && extension_present(w, &ext)
                                {
                                    log.info(&format!("DuckDB extension `{ext}` is already available here; `INSTALL {ext}` has nothing to fetch"));
                                    return Ok(());
                                }
                                if is_last && fetch != Fetch::None {
                                    let rows = w.query(text)?;
                                    affected += rows.rows.len() as u64;
                                    last_rows = Some(rows);
                                } else {
                                    affected += w.execute(text)?;
                                }
                            }
                        }
                        Ok(())
                    })();
                    if let Err(e) = outcome {
                        let _ = w.rollback();
                        return Err((i, e));
                    }
                }
                w.commit().map_err(|e| (n.saturating_sub(1), e))?;
                Ok((affected, last_rows))
            };
            match run(&mut w) {
                Ok(done) => return Ok(done),
                Err((_, e)) if engine == weir_warehouse::Engine::DuckDb && is_conflict(&e) && conflicts < MAX_CONFLICT_RETRIES => {
                    conflicts += 1;
                    let _ = w.rollback();
                    log.warn(&format!("the transaction conflicted with a concurrent one; running it again ({conflicts} of {MAX_CONFLICT_RETRIES}): {e}"));
                    std::thread::sleep(std::time::Duration::from_millis(20 << conflicts.min(6)));
                }
                Err((i, e)) => {
                    let message = match e {
                        WarehouseError::Engine { message, .. } | WarehouseError::Load(message) => message,
                        other => other.to_string(),
                    };
                    let Some((stmt, _, _)) = plans.get(i).or(plans.last()) else {
                        return Err(TaskError::Failed(format!("the transaction failed on {}: {message}", w.engine().name())));
                    };
                    return Err(TaskError::Failed(format!(
                        "statement {} of {n} (line {} of `sql`) failed on {}; the task's changes were rolled back: {message}\n  statement: {}",
                        i + 1,
                        stmt.line,
                        w.engine().name(),
                        first_line(&stmt.text)
                    )));
                }
            }
        }
    })
    .await
    .map_err(|e| TaskError::Failed(format!("the warehouse task stopped unexpectedly: {e}")))??;
    let (affected, rows) = result;
    let mut out = Outputs::new();
    fetch_outputs(ctx, fetch, rows, affected, "result.jsonl", &mut out).await?;
    if let Some(dir) = &folder {
        let files = crate::scripts::collect_outputs(ctx, dir, &p.output_files)?;
        out.insert("outputFiles".into(), Value::Object(files));
    }
    Ok(out)
}

/// A DuckDB `COPY … TO '<relative path>'` with the path made absolute under `dir`; `None` when
/// the statement is no such COPY (or its target is absolute, a URL or `/dev/stdout`).
fn absolute_copy_target(stmt: &str, dir: &std::path::Path) -> Option<String> {
    static COPY_TO: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?is)^\s*COPY\b.*?\bTO\s+'((?:[^']|'')*)'").expect("valid regex")
    });
    let caps = COPY_TO.captures(stmt)?;
    let m = caps.get(1)?;
    let path = m.as_str().replace("''", "'");
    if path.is_empty() || path.starts_with('/') || path.contains("://") {
        return None;
    }
    let full = dir.join(&path).to_string_lossy().replace('\'', "''");
    Some(format!("{}{full}{}", &stmt[..m.start()], &stmt[m.end()..]))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CopyInProps {
    #[serde(flatten)]
    conn: Conn,
    table: String,
    from: String,
    #[serde(default, deserialize_with = "de::string_list")]
    columns: Vec<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    header: Option<bool>,
    delimiter: Option<String>,
    quote: Option<String>,
    null_string: Option<String>,
}

fn one_char(v: &Option<String>, default: char, name: &str) -> Result<char, TaskError> {
    match v.as_deref() {
        None => Ok(default),
        Some(s) if s.chars().count() == 1 => Ok(s.chars().next().unwrap_or(default)),
        Some(s) => Err(TaskError::Props(format!(
            "`{name}` must be one character, found `{s}`"
        ))),
    }
}

pub async fn copy_in(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: CopyInProps = ctx.props()?;
    let target = p.conn.target()?;
    let file = local_copy(ctx, &p.from).await?;
    let csv = CsvOptions {
        header_lines: u64::from(p.header == Some(true)),
        delimiter: one_char(&p.delimiter, ',', "delimiter")?,
        quote: one_char(&p.quote, '"', "quote")?,
        gzip: p.from.ends_with(".gz"),
        null: p.null_string.clone().unwrap_or_default(),
    };
    let (table, columns) = (p.table.clone(), p.columns.clone());
    let rows = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
        let mut w = weir_warehouse::connect(&target).map_err(warehouse_err)?;
        w.begin().map_err(warehouse_err)?;
        match w.copy_csv(&table, &columns, &file, &csv) {
            Ok(n) => {
                w.commit().map_err(warehouse_err)?;
                Ok(n)
            }
            Err(e) => {
                let _ = w.rollback();
                Err(TaskError::Failed(format!(
                    "copying into `{table}` failed; nothing was loaded: {e}"
                )))
            }
        }
    })
    .await
    .map_err(|e| TaskError::Failed(format!("the warehouse task stopped unexpectedly: {e}")))??;
    let mut out = Outputs::new();
    out.insert("rowCount".into(), rows.into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadProps {
    #[serde(flatten)]
    conn: Conn,
    from: String,
    table: String,
    #[serde(default, deserialize_with = "de::string_list")]
    columns: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    key_columns: Vec<String>,
    key_column: Option<String>,
    filename_column: Option<String>,
    file_name: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    header: Option<bool>,
    delimiter: Option<String>,
    memory_limit: Option<String>,
    #[serde(default, deserialize_with = "de::u64_opt")]
    max_bad_rows: Option<u64>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    key_index: Option<bool>,
}

/// `weir.warehouse.Load`: an idempotent, duplicate-free load (see `weir_warehouse::load`).
pub async fn load(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: LoadProps = ctx.props()?;
    let target = p.conn.target()?;
    let file = local_copy(ctx, &p.from).await?;
    let file_name = p.file_name.clone().unwrap_or_else(|| {
        let base = p.from.rsplit('/').next().unwrap_or(&p.from);
        base.strip_suffix(".gz").unwrap_or(base).to_string()
    });
    let mut spec = weir_warehouse::LoadSpec {
        table: p.table.clone(),
        file,
        file_name: file_name.clone(),
        csv: CsvOptions {
            header_lines: u64::from(p.header != Some(false)),
            delimiter: one_char(&p.delimiter, ',', "delimiter")?,
            gzip: p.from.ends_with(".gz"),
            ..CsvOptions::default()
        },
        columns: p.columns.clone(),
        key_columns: p.key_columns.clone(),
        key_column: p
            .key_column
            .clone()
            .unwrap_or_else(|| "unique_row_id".into()),
        filename_column: Some(
            p.filename_column
                .clone()
                .unwrap_or_else(|| "filename".into()),
        )
        .filter(|c| !c.is_empty()),
        memory_limit: p.memory_limit.clone(),
        max_bad_rows: p.max_bad_rows.unwrap_or(0),
        rejects_file: None,
        key_index: p.key_index == Some(true),
    };
    // Malformed rows, when some may be left out, go to a CSV in internal storage.
    let rejects_uri = if spec.max_bad_rows > 0 {
        let uri = ctx.storage.task_file_uri(&ctx.scope(), "rejects.csv");
        spec.rejects_file = Some(ctx.storage.create_path(&uri)?);
        Some(uri)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let (report, key_check) = tokio::task::spawn_blocking(
        move || -> Result<(weir_warehouse::LoadReport, weir_warehouse::load::KeyCheck), TaskError> {
            let mut w = weir_warehouse::connect(&target).map_err(warehouse_err)?;
            weir_warehouse::load::load_checked(w.as_mut(), &spec).map_err(warehouse_err)
        },
    )
    .await
    .map_err(|e| TaskError::Failed(format!("the load stopped unexpectedly: {e}")))??;
    ctx.log.info(&key_check.describe(&p.table));
    ctx.log.info(&format!(
        "{file_name} → {}: {} rows read, {} inserted, {} duplicates skipped, {} rejected in {:.1}s",
        p.table,
        report.rows_read,
        report.inserted,
        report.duplicates_skipped,
        report.rejected,
        started.elapsed().as_secs_f64()
    ));
    let mut out = Outputs::new();
    out.insert("rowsRead".into(), report.rows_read.into());
    out.insert("rowsInserted".into(), report.inserted.into());

    out.insert("duplicatesSkipped".into(), report.duplicates_skipped.into());
    out.insert("rowsRejected".into(), report.rejected.into());
    if let Some(uri) = rejects_uri {
        out.insert("rejectsUri".into(), uri.into());
    }
    out.insert("fileName".into(), file_name.into());
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CopyOutProps {
    #[serde(flatten)]
    conn: Conn,
    sql: Option<String>,
    table: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    header: Option<bool>,
    delimiter: Option<String>,
}

/// `jdbc.postgresql.CopyOut`: a query's rows (or a whole table) to a CSV file in internal storage.
pub async fn copy_out(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: CopyOutProps = ctx.props()?;
    let target = p.conn.target()?;
    let query = match (&p.sql, &p.table) {
        (Some(q), _) => q.clone(),
        (None, Some(t)) => format!("SELECT * FROM {t}"),
        (None, None) => return Err(TaskError::Props("give `sql` or `table`".into())),
    };
    let delimiter = one_char(&p.delimiter, ',', "delimiter")?;
    let header = p.header == Some(true);
    let uri = ctx.storage.task_file_uri(&ctx.scope(), "copy_out.csv");
    let path = ctx.storage.create_path(&uri)?;
    let rows = tokio::task::spawn_blocking(move || -> Result<u64, TaskError> {
        let mut w = weir_warehouse::connect(&target).map_err(warehouse_err)?;
        w.copy_out_csv(&query, &path, header, delimiter)
            .map_err(|e| TaskError::Failed(format!("copying out failed: {e}")))
    })
    .await
    .map_err(|e| TaskError::Failed(format!("the warehouse task stopped unexpectedly: {e}")))??;
    let mut out = Outputs::new();
    out.insert("uri".into(), uri.into());
    out.insert("rowCount".into(), rows.into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn install_statements_name_their_extension() {
        assert_eq!(install_target("INSTALL json;").as_deref(), Some("json"));
        assert_eq!(
            install_target("  install 'Parquet' ").as_deref(),
            Some("parquet")
        );
        assert_eq!(install_target("FORCE INSTALL json"), None);
        assert_eq!(install_target("INSTALL spatial FROM core_nightly"), None);
        assert_eq!(install_target("INSTALL"), None);
        assert_eq!(install_target("LOAD json"), None);
        assert_eq!(install_target("INSTALL x; DROP TABLE t"), None);
    }

    #[test]
    fn relative_copy_targets_are_made_absolute_in_the_task_folder() {
        let dir = Path::new("/w/run 1");
        assert_eq!(
            absolute_copy_target("COPY t TO 'out.csv' (HEADER)", dir).as_deref(),
            Some("COPY t TO '/w/run 1/out.csv' (HEADER)")
        );
        assert_eq!(
            absolute_copy_target("copy (select 1) to 'sub/o''k.parquet'", dir).as_deref(),
            Some("copy (select 1) to '/w/run 1/sub/o''k.parquet'")
        );
        assert_eq!(absolute_copy_target("COPY t TO '/abs/out.csv'", dir), None);
        assert_eq!(absolute_copy_target("COPY t TO 's3://b/k.csv'", dir), None);
        assert_eq!(absolute_copy_target("COPY t FROM 'in.csv'", dir), None);
        assert_eq!(absolute_copy_target("SELECT 'TO ''x'''", dir), None);
    }
}
