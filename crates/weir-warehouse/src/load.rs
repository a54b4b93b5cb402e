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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub rows_read: u64,
    pub inserted: u64,
    /// Rows repeating an earlier row of the same file (by key).
    pub duplicates_in_file: u64,
    /// Distinct rows whose key was already in the table (an earlier load of the same data).
    pub already_loaded: u64,
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
    let keyed = "weir_load_keyed";

    w.begin()?;
    let result = (|| -> Result<LoadReport> {
        match w.engine() {
            Engine::DuckDb => {
                if spec.csv.gzip {
                    crate::verify_gzip(&spec.file).map_err(|e| load_error(spec, e))?;
                }
                let types: Vec<String> = typed
                    .iter()
                    .map(|(c, t)| format!("{}: {}", lit(c), lit(t)))
                    .collect();
                let sql = format!(
                    "CREATE OR REPLACE TEMP TABLE {keyed} AS SELECT {key} AS weir_key, {cols} FROM read_csv({file}, header = {header}, skip = {skip}, delim = {delim}, quote = {quote}, nullstr = {null}, compression = {comp}, auto_detect = false, columns = {{{types}}})",
                    cols = names.join(", "),
                    file = lit(&spec.file.to_string_lossy()),
                    header = spec.csv.header_lines > 0,
                    skip = spec.csv.header_lines.saturating_sub(1),
                    delim = lit(&spec.csv.delimiter.to_string()),
                    quote = lit(&spec.csv.quote.to_string()),
                    null = lit(&spec.csv.null),
                    comp = lit(if spec.csv.gzip { "gzip" } else { "none" }),
                    types = types.join(", "),
                );
                w.execute(&sql).map_err(|e| load_error(spec, e))?;
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
                w.copy_csv(stage, &names, &spec.file, &spec.csv)
                    .map_err(|e| load_error(spec, e))?;
                w.execute(&format!("DROP TABLE IF EXISTS {keyed}; CREATE TEMP TABLE {keyed} AS SELECT {key} AS weir_key, {} FROM {stage}; DROP TABLE {stage}", names.join(", ")))?;
            }
        }
        let counts = w.query(&format!(
            "SELECT count(*) AS rows_read, count(DISTINCT weir_key) AS distinct_keys FROM {keyed}"
        ))?;
        let num = |v: &serde_json::Value| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0)
        };
        let (read, distinct) = counts.rows.first().map_or((0, 0), |r| {
            let at = |i: usize| r.get(i).map_or(0, num);
            (at(0), at(1))
        });
        let (fname_col, fname_val) = match &spec.filename_column {
            Some(c) => (
                format!(", {}", quote_ident(c)),
                format!(", {}", lit(&spec.file_name)),
            ),
            None => (String::new(), String::new()),
        };
        let kc = quote_ident(&spec.key_column);
        let inserted = w.execute(&format!(
            "INSERT INTO {table} ({kc}{fname_col}, {cols}) SELECT DISTINCT ON (weir_key) weir_key{fname_val}, {cols} FROM {keyed} s WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{kc} = s.weir_key)",
            table = spec.table,
            cols = names.join(", "),
        ))?;
        w.execute(&format!("DROP TABLE {keyed}"))?;
        Ok(LoadReport {
            rows_read: read,
            inserted,
            duplicates_in_file: read - distinct,
            already_loaded: distinct.saturating_sub(inserted),
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
