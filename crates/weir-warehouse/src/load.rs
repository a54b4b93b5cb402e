//! The idempotent load: a CSV file into a table, one copy of each row, however many times the
//! same file is loaded and however many exact duplicates it holds.
//!
//! Each row gets a key (md5 of the chosen columns, NULL-safe and separator-safe), the file's
//! name, and is inserted only when no row with that key is in the table yet; rows repeated
//! inside the file are inserted once. Everything happens in one transaction: a bad row fails the
//! load with its line and nothing is inserted.

use crate::duck::lit;
use crate::{CsvOptions, Engine, Result, Warehouse, WarehouseError};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub rows_read: u64,
    pub inserted: u64,
    /// Rows not inserted because their key was already in the table or earlier in the file.
    pub duplicates_skipped: u64,
    /// Rows refused as malformed. Loads are strict: a malformed row fails the whole load, so
    /// this is 0 whenever a load succeeds.
    pub rejected: u64,
}

fn header_of(file: &Path, csv: &CsvOptions) -> Result<Vec<String>> {
    let io = |e: std::io::Error| {
        WarehouseError::Load(format!(
            "cannot read the header of `{}`: {e}",
            file.display()
        ))
    };
    let f = std::fs::File::open(file).map_err(io)?;
    let r: Box<dyn Read> = if csv.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut line = String::new();
    BufReader::new(r).read_line(&mut line).map_err(io)?;
    let cols: Vec<String> = line
        .trim_end_matches(['\r', '\n'])
        .split(csv.delimiter)
        .map(|c| c.trim().trim_matches(csv.quote).to_string())
        .collect();
    if cols.iter().all(String::is_empty) {
        return Err(WarehouseError::Load(format!(
            "`{}` is empty: no header line",
            file.display()
        )));
    }
    Ok(cols)
}

fn key_expr(cols: &[String]) -> String {
    // chr(31) (unit separator) keeps `1`,`23` apart from `12`,`3`; `\N` marks NULL apart from ''.
    let parts: Vec<String> = cols
        .iter()
        .map(|c| format!("coalesce(CAST({c} AS VARCHAR), '\\N')"))
        .collect();
    format!("md5(concat_ws(chr(31), {}))", parts.join(", "))
}

/// Loads a file idempotently. Opens and ends its own transaction.
pub fn load(w: &mut dyn Warehouse, spec: &LoadSpec) -> Result<LoadReport> {
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
    let columns = if spec.columns.is_empty() {
        if spec.csv.header_lines == 0 {
            return Err(WarehouseError::Load(
                "`columns` must be given when the file has no header".into(),
            ));
        }
        header_of(&spec.file, &spec.csv)?
    } else {
        spec.columns.clone()
    };
    let mut typed = Vec::new();
    for c in &columns {
        match find(c) {
            Some(t) => typed.push(t),
            None => {
                return Err(WarehouseError::Load(format!(
                    "column `{c}` of `{}` is not in table `{}` (its columns: {})",
                    spec.file_name,
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
    for extra in std::iter::once(&spec.key_column).chain(spec.filename_column.iter()) {
        if find(extra).is_none() {
            return Err(WarehouseError::Load(format!(
                "table `{}` has no column `{extra}` to hold the row key or file name",
                spec.table
            )));
        }
    }
    let key_cols: Vec<String> = if spec.key_columns.is_empty() {
        typed.iter().map(|(c, _)| c.clone()).collect()
    } else {
        let mut k = Vec::new();
        for c in &spec.key_columns {
            k.push(find(c).map(|(n, _)| n).ok_or_else(|| {
                WarehouseError::Load(format!("key column `{c}` is not in table `{}`", spec.table))
            })?);
        }
        k
    };
    let names: Vec<String> = typed.iter().map(|(c, _)| quote_ident(c)).collect();
    let key = key_expr(&key_cols.iter().map(|c| quote_ident(c)).collect::<Vec<_>>());

    let (fname_col, fname_val) = match &spec.filename_column {
        Some(c) => (
            format!(", {}", quote_ident(c)),
            format!(", {}", lit(&spec.file_name)),
        ),
        None => (String::new(), String::new()),
    };
    let kc = quote_ident(&spec.key_column);
    // One pass: key every row, keep one row per key, skip keys the table already has.
    let insert_from = |source: &str| {
        format!(
            "INSERT INTO {table} ({kc}{fname_col}, {cols}) SELECT DISTINCT ON (weir_key) weir_key{fname_val}, {cols} FROM (SELECT {key} AS weir_key, {cols} FROM {source}) s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{kc} = s.weir_key)",
            table = spec.table,
            cols = names.join(", "),
        )
    };

    w.begin()?;
    let result = (|| -> Result<LoadReport> {
        let (read, inserted) = match w.engine() {
            Engine::DuckDb => {
                // Counting the file's records also proves a gzip file whole (DuckDB's reader
                // stops quietly at some truncations); it runs beside the insert, on its own
                // thread, and the transaction commits only if it succeeds.
                let counter = {
                    let (file, csv) = (spec.file.clone(), spec.csv.clone());
                    std::thread::spawn(move || count_records(&file, &csv))
                };
                let types: Vec<String> = typed
                    .iter()
                    .map(|(c, t)| format!("{}: {}", lit(c), lit(t)))
                    .collect();
                let source = format!(
                    "read_csv({file}, header = {header}, skip = {skip}, delim = {delim}, quote = {quote}, nullstr = {null}, compression = {comp}, auto_detect = false, columns = {{{types}}})",
                    file = lit(&spec.file.to_string_lossy()),
                    header = spec.csv.header_lines > 0,
                    skip = spec.csv.header_lines.saturating_sub(1),
                    delim = lit(&spec.csv.delimiter.to_string()),
                    quote = lit(&spec.csv.quote.to_string()),
                    null = lit(&spec.csv.null),
                    comp = lit(if spec.csv.gzip { "gzip" } else { "none" }),
                    types = types.join(", "),
                );
                if let Some(limit) = &spec.memory_limit {
                    w.execute(&format!("SET memory_limit = {}", lit(limit)))?;
                }
                let inserted = w.execute(&insert_from(&source));
                let read = counter
                    .join()
                    .map_err(|_| {
                        WarehouseError::Load(
                            "counting the file's records stopped unexpectedly".into(),
                        )
                    })
                    .and_then(|r| r)
                    .map_err(|e| load_error(spec, e))?;
                (read, inserted.map_err(|e| load_error(spec, e))?)
            }
            Engine::Postgres | Engine::Redshift => {
                let stage = "weir_load_stage";
                let defs: Vec<String> = typed
                    .iter()
                    .map(|(c, t)| format!("{} {t}", quote_ident(c)))
                    .collect();
                w.execute(&format!(
                    "DROP TABLE IF EXISTS {stage}; CREATE TEMP TABLE {stage} ({})",
                    defs.join(", ")
                ))?;
                let read = w
                    .copy_csv(stage, &names, &spec.file, &spec.csv)
                    .map_err(|e| load_error(spec, e))?;
                let inserted = w.execute(&insert_from(stage))?;
                w.execute(&format!("DROP TABLE {stage}"))?;
                (read, inserted)
            }
        };
        Ok(LoadReport {
            rows_read: read,
            inserted,
            duplicates_skipped: read.saturating_sub(inserted),
            rejected: 0,
        })
    })();
    match result {
        Ok(r) => {
            w.commit()?;
            Ok(r)
        }
        Err(e) => {
            let _ = w.rollback();
            Err(e)
        }
    }
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
fn quote_ident(c: &str) -> String {
    if c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && !c.starts_with(|ch: char| ch.is_ascii_digit())
    {
        c.to_string()
    } else {
        format!("\"{}\"", c.replace('"', "\"\""))
    }
}

/// The number of records of a CSV file (gzip or not), header lines excluded, reading it to the
/// end: a truncated or damaged gzip file is an error here. Newlines inside quoted fields do not
/// end a record.
pub fn count_records(file: &Path, csv: &CsvOptions) -> Result<u64> {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let f = std::fs::File::open(file)
        .map_err(|e| WarehouseError::Load(format!("cannot open `{name}`: {e}")))?;
    let mut r: Box<dyn Read> = if csv.gzip {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 20,
            f,
        )))
    } else {
        Box::new(f)
    };
    let quote = csv.quote as u8;
    let (mut lines, mut in_quotes, mut last) = (0u64, false, b'\n');
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let what = if csv.gzip {
                    "is not a complete gzip file"
                } else {
                    "could not be read"
                };
                return Err(WarehouseError::Load(format!(
                    "`{name}` {what} ({e}): it is truncated or damaged"
                )));
            }
        };
        for &b in &buf[..n] {
            if b == quote {
                in_quotes = !in_quotes;
            } else if b == b'\n' && !in_quotes {
                lines += 1;
            }
        }
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines.saturating_sub(csv.header_lines))
}
