//! The idempotent load: a CSV file into a table, one copy of each row, however many times the
//! same file is loaded and however many exact duplicates it holds.
//!
//! weir reads the file itself (`rows`): each record gets a key (md5 of its key fields' text), and
//! a record is passed on only if its key is new to the file and, on DuckDB, to the table. Values
//! are parsed by weir (`values`), so a bad one is reported with its line and column on every
//! engine. Each adapter then inserts the rows its fastest way (`Warehouse::load_rows`): DuckDB
//! through a table function its threads pull batches from, fed by a reading thread; PostgreSQL
//! through `COPY` into a staging table and an anti-join. Everything happens in one transaction: a bad row fails the load and
//! nothing is inserted.

pub mod key_index;
pub mod key_store;
mod rows;
pub(crate) mod values;

pub use key_index::{KeyCheck, KnownKeys};
pub use rows::{Batch, KeySet, KeyedReader, Reject, Rejects, bad_value, key_hex, parse_key_hex};
pub use values::Kind;

use crate::{CsvOptions, Result, Warehouse, WarehouseError};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub table: String,
    /// A local CSV file, gzip-compressed or not.
    pub file: PathBuf,
    /// The value stored in `filename_column`.
    pub file_name: String,
    pub csv: CsvOptions,
    /// The file's columns in order; empty means "read the header".
    pub columns: Vec<String>,
    /// Columns the row key is computed from; empty means all of `columns`.
    pub key_columns: Vec<String>,
    pub key_column: String,
    pub filename_column: Option<String>,
    /// DuckDB's memory limit during the load (`SET memory_limit`), e.g. `300MB`; DuckDB's own
    /// when `None`.
    pub memory_limit: Option<String>,
    /// How many malformed rows the load may skip. 0: the first one fails the load. Above 0, they
    /// are left out and listed in `rejects_file`, and the load fails (inserting nothing) only
    /// when there are more.
    pub max_bad_rows: u64,
    /// Where the malformed rows are written (CSV: line, column, reason, record) when
    /// `max_bad_rows` is above 0.
    pub rejects_file: Option<PathBuf>,
    /// Create the table's key index when it has none (`keyIndex: true`; see `key_index`).
    pub key_index: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub rows_read: u64,
    pub inserted: u64,
    /// Rows not inserted because their key was already in the table or earlier in the file.
    pub duplicates_skipped: u64,
    /// Rows left out as malformed (at most `max_bad_rows`; always 0 when that is 0, since a
    /// malformed row then fails the load).
    pub rejected: u64,
}

/// What an adapter needs to load rows: the table, the file's columns as the table types them,
/// where the key and file name go.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub table: String,
    /// The file's columns in order: the table's column name and the engine's type name.
    pub columns: Vec<(String, String)>,
    /// How each of `columns` is parsed.
    pub kinds: Vec<Kind>,
    /// The key column and its type.
    pub key_column: (String, String),
    /// The file-name column, its type and the value stored in it.
    pub filename: Option<(String, String, String)>,
    pub memory_limit: Option<String>,
    /// Whether malformed rows are rejected rather than failing the load: then every pass
    /// that inserts must read the whole file, to find them.
    pub tolerant: bool,
    /// Create the key index when the table has none.
    pub key_index: bool,
}

/// Rows read from the file and inserted into the table by an adapter's `load_rows`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadCounts {
    pub read: u64,
    pub inserted: u64,
    /// With a key index: the sorted fingerprints of the keys inserted
    /// (`key_index::fingerprints`; more may be listed: keys the table already held), which the
    /// index adds.
    pub fingerprints: Vec<u64>,
}

/// Loads a file idempotently. Opens and ends its own transaction.
pub fn load(w: &mut dyn Warehouse, spec: &LoadSpec) -> Result<LoadReport> {
    load_checked(w, spec).map(|(report, _)| report)
}

/// `load`, also saying how the file's keys were checked against the table.
pub fn load_checked(w: &mut dyn Warehouse, spec: &LoadSpec) -> Result<(LoadReport, KeyCheck)> {
    trace("start");
    let (plan, mut rows) = plan(w, spec).map_err(|e| load_error(spec, e))?;
    let rejects = (spec.max_bad_rows > 0).then(|| {
        let keep = usize::try_from(spec.max_bad_rows).unwrap_or(usize::MAX);
        Arc::new(Mutex::new(Rejects::new(keep)))
    });
    if let Some(r) = &rejects {
        rows.reject_into(r.clone(), plan.kinds.clone());
    }
    w.begin()?;
    let known = match key_index::prepare(w, &plan.table, &plan.key_column.0, plan.key_index) {
        Ok(known) => known,
        Err(e) => {
            let _ = w.rollback();
            return Err(load_error(spec, e));
        }
    };
    if let Err(e) = refuse_legacy_keys(w, &plan, &rows, known.as_ref()) {
        let _ = w.rollback();
        return Err(load_error(spec, e));
    }
    trace("key index and legacy check");
    let key_check = known.as_ref().map_or(KeyCheck::Table, |k| k.check);
    let counts = match w.load_rows(&plan, rows, known.as_ref()) {
        Ok(counts) => counts,
        Err(e) => {
            let _ = w.rollback();
            return Err(load_error(spec, e));
        }
    };
    trace("rows inserted");
    let rejects =
        rejects.map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(PoisonError::into_inner)));
    let rejected = rejects.as_ref().map_or(0, |r| r.count);
    if rejected > spec.max_bad_rows {
        let _ = w.rollback();
        let first = rejects
            .as_ref()
            .and_then(|r| r.kept.first())
            .map(|r| format!("; the first, line {}: {}", r.line, r.reason))
            .unwrap_or_default();
        return Err(load_error(
            spec,
            WarehouseError::Load(format!(
                "{rejected} rows are malformed, more than `maxBadRows` ({}){first}",
                spec.max_bad_rows
            )),
        ));
    }
    if let (Some(r), Some(path)) = (&rejects, &spec.rejects_file)
        && let Err(e) = write_rejects(path, &r.kept)
    {
        let _ = w.rollback();
        return Err(load_error(spec, e));
    }
    if let Some(known) = known
        && let Err(e) = key_index::finish(
            w,
            &plan.table,
            &plan.key_column.0,
            known,
            &counts.fingerprints,
        )
    {
        let _ = w.rollback();
        return Err(load_error(spec, e));
    }
    trace("key index written");
    w.commit()?;
    trace("committed");
    let report = LoadReport {
        rows_read: counts.read,
        inserted: counts.inserted,
        duplicates_skipped: counts.read.saturating_sub(counts.inserted + rejected),
        rejected,
    };
    Ok((report, key_check))
}

/// Writes the malformed rows of a load as CSV: `line,column,reason,record`.
fn write_rejects(path: &std::path::Path, rejects: &[Reject]) -> Result<()> {
    use std::io::Write;
    let failed = |e: std::io::Error| {
        WarehouseError::Load(format!(
            "could not write the rejected rows to `{}`: {e}",
            path.display()
        ))
    };
    let field = |text: &str| {
        if text.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", text.replace('"', "\"\""))
        } else {
            text.to_string()
        }
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    writeln!(out, "line,column,reason,record").map_err(failed)?;
    for r in rejects {
        writeln!(
            out,
            "{},{},{},{}",
            r.line,
            field(&r.column),
            field(&r.reason),
            field(&String::from_utf8_lossy(&r.record))
        )
        .map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// Records read from the start of the file to recognise it under the old key text.
const LEGACY_SAMPLE: usize = 64;

/// Fails when the table holds rows of this file keyed with weir's old key text (fields joined by
/// 0x1f): loading it again would insert every row a second time under its new key. Costs one
/// lookup of a few keys when the table has rows (answered by the key index when it has one),
/// nothing when it is empty.
fn refuse_legacy_keys(
    w: &mut dyn Warehouse,
    plan: &LoadPlan,
    rows: &KeyedReader,
    known: Option<&KnownKeys>,
) -> Result<()> {
    if let Some(known) = known {
        let keys = rows.legacy_keys(LEGACY_SAMPLE)?;
        if known.maybe_present(&keys)?.is_empty() {
            return Ok(());
        }
    }
    let kc = quote_ident(&plan.key_column.0);
    let any = w.query(&format!(
        "SELECT 1 AS x FROM {} WHERE {kc} IS NOT NULL LIMIT 1",
        plan.table
    ))?;
    if any.rows.is_empty() {
        return Ok(());
    }
    let keys = rows.legacy_keys(LEGACY_SAMPLE)?;
    if keys.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = keys
        .iter()
        .map(|&k| format!("'{}'", String::from_utf8_lossy(&key_hex(k))))
        .collect();
    let found = w.query(&format!(
        "SELECT count(*) AS n FROM {} WHERE {kc} IN ({})",
        plan.table,
        list.join(", ")
    ))?;
    if found.rows.first().and_then(|r| r.first()) == Some(&serde_json::json!(0)) {
        return Ok(());
    }
    let delete = match &plan.filename {
        Some((c, _, name)) => format!(
            "`DELETE FROM {} WHERE {} = '{}'`",
            plan.table,
            quote_ident(c),
            name.replace('\'', "''")
        ),
        None => "delete them".into(),
    };
    Err(WarehouseError::Load(format!(
        "table `{}` holds rows of this file keyed with weir's earlier row key (key fields \
         joined by 0x1f), and loading it again would insert every row a second time \
         under its new key; remove those rows first ({delete}) and load the file again",
        plan.table
    )))
}

/// Checks the file's columns against the table and opens the file.
fn plan(w: &mut dyn Warehouse, spec: &LoadSpec) -> Result<(LoadPlan, KeyedReader)> {
    let target_cols = w.table_columns(&spec.table)?.ok_or_else(|| {
        WarehouseError::Load(format!(
            "table `{}` does not exist; create it first (for example with a Query task)",
            spec.table
        ))
    })?;
    let find = |name: &str| {
        target_cols
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .cloned()
    };
    let (mut rows, header) = KeyedReader::open(&spec.file, &spec.file_name, &spec.csv)?;
    let columns = if !spec.columns.is_empty() {
        spec.columns.clone()
    } else if spec.csv.header_lines == 0 {
        return Err(WarehouseError::Load(
            "`columns` must be given when the file has no header".into(),
        ));
    } else {
        match header.filter(|h| !h.iter().all(String::is_empty)) {
            Some(h) => h,
            None => {
                return Err(WarehouseError::Load(
                    "the file is empty: no header line".into(),
                ));
            }
        }
    };
    let mut typed = Vec::new();
    for c in &columns {
        match find(c) {
            Some(t) => typed.push(t),
            None => {
                return Err(WarehouseError::Load(format!(
                    "column `{c}` of the file is not in table `{}` (its columns: {})",
                    spec.table,
                    target_cols
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    let extra = |name: &str| {
        let (col, ty) = find(name).ok_or_else(|| {
            WarehouseError::Load(format!(
                "table `{}` has no column `{name}` to hold the row key or file name",
                spec.table
            ))
        })?;
        if Kind::of(&ty) != Kind::Text {
            return Err(WarehouseError::Load(format!(
                "column `{col}` of `{}` holds the row key or file name, so it must be text, not {ty}",
                spec.table
            )));
        }
        Ok((col, ty))
    };
    let key_column = extra(&spec.key_column)?;
    let filename = match &spec.filename_column {
        Some(c) => {
            let (name, ty) = extra(c)?;
            Some((name, ty, spec.file_name.clone()))
        }
        None => None,
    };
    let key_fields: Vec<usize> = if spec.key_columns.is_empty() {
        (0..typed.len()).collect()
    } else {
        let mut k = Vec::new();
        for c in &spec.key_columns {
            k.push(
                typed
                    .iter()
                    .position(|(n, _)| n.eq_ignore_ascii_case(c))
                    .ok_or_else(|| {
                        WarehouseError::Load(format!(
                            "key column `{c}` is not one of the file's columns ({})",
                            columns.join(", ")
                        ))
                    })?,
            );
        }
        k
    };
    rows.set_columns(columns, key_fields);
    if spec.key_index && w.engine() == crate::Engine::Redshift {
        return Err(WarehouseError::Load(
            "`keyIndex` is not available on Redshift".into(),
        ));
    }
    let plan = LoadPlan {
        table: spec.table.clone(),
        kinds: typed.iter().map(|(_, t)| Kind::of(t)).collect(),
        columns: typed,
        key_column,
        filename,
        memory_limit: spec.memory_limit.clone(),
        tolerant: spec.max_bad_rows > 0,
        key_index: spec.key_index,
    };
    Ok((plan, rows))
}

/// With `WEIR_TRACE_LOAD` set, prints how long each step of a load took, to stderr (for
/// finding where a load's time goes; see bench/README.md).
pub(crate) fn trace(step: &str) {
    use std::io::Write;
    use std::sync::OnceLock;
    static START: OnceLock<Option<std::time::Instant>> = OnceLock::new();
    static LAST: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    let on = START.get_or_init(|| {
        std::env::var_os(weir_core::env::WEIR_TRACE_LOAD).map(|_| std::time::Instant::now())
    });
    if on.is_none() {
        return;
    }
    let now = std::time::Instant::now();
    let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
    let since = last.map_or(0.0, |l| now.duration_since(l).as_secs_f64());
    let _ = writeln!(std::io::stderr(), "weir load trace: {step}: {since:.3}s");
    *last = Some(now);
}

fn load_error(spec: &LoadSpec, e: WarehouseError) -> WarehouseError {
    let msg = match e {
        WarehouseError::Engine { message, .. } | WarehouseError::Load(message) => message,
        other => other.to_string(),
    };
    WarehouseError::Load(format!(
        "loading `{}` into `{}` failed; nothing was inserted: {msg}",
        spec.file_name, spec.table
    ))
}

/// Quotes an identifier only when it needs it, so `VendorID` matches an unquoted column.
pub(crate) fn quote_ident(c: &str) -> String {
    if c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !c.starts_with(|ch: char| ch.is_ascii_digit())
    {
        c.to_string()
    } else {
        format!("\"{}\"", c.replace('"', "\"\""))
    }
}
