//! The DuckDB adapter: an embedded database file, the default warehouse.

mod library;
mod load;

use crate::load::{KeyedReader, KnownKeys, LoadCounts, LoadPlan};
use crate::text;
use crate::{CsvOptions, Engine, Result, Rows, Warehouse, WarehouseError};
use duckdb::arrow::datatypes::DataType;
use duckdb::types::{TimeUnit, ValueRef};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

pub struct DuckWarehouse {
    conn: duckdb::Connection,
    /// The database file; `None` in memory.
    path: Option<PathBuf>,
    /// Held while this connection lives, so that `close_idle` can tell which instances have
    /// no connection out.
    _user: Option<std::sync::Arc<()>>,
}

pub(crate) fn err(action: &str) -> impl FnOnce(duckdb::Error) -> WarehouseError + '_ {
    move |e| WarehouseError::Engine {
        action: action.to_string(),
        message: e.to_string(),
    }
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The DuckDB databases this process has open, by file: every connection to a file is a
/// connection to one instance, which keeps its cache warm between tasks and is the only one
/// writing the file (two instances of one file in one process would corrupt it).
static DATABASES: LazyLock<Mutex<HashMap<PathBuf, Instance>>> = LazyLock::new(Default::default);

/// One open database: its first connection (which keeps the instance alive) and a token each
/// connection handed out holds a clone of.
struct Instance {
    root: duckdb::Connection,
    users: std::sync::Arc<()>,
}

/// Closes the DuckDB databases no connection of this process is using, checkpointing each into
/// its file and releasing its lock, so that another process (a `dbt` command a flow's task
/// starts, another `weir` command) can open the file. Databases in use stay open; this process
/// opens the others again when next asked.
pub fn close_idle() {
    DATABASES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|_, db| std::sync::Arc::strong_count(&db.users) > 1);
}

/// Closes every DuckDB database this process opened, checkpointing each into its file. The
/// command line calls it before exiting; a database left open is still safe (its write-ahead
/// log is replayed on the next open).
pub fn close_all() {
    DATABASES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
}

/// Who is told that this process waits for a DuckDB file another process holds.
type Notice = Box<dyn Fn(&str) + Send + Sync>;
static LOCK_WAIT_NOTICE: std::sync::OnceLock<Notice> = std::sync::OnceLock::new();

/// Sets who is told (once per wait) that a DuckDB file is held by another process and this one
/// waits for it. Without it, the wait is silent.
pub fn on_lock_wait(notice: impl Fn(&str) + Send + Sync + 'static) {
    let _ = LOCK_WAIT_NOTICE.set(Box::new(notice));
}

/// How often a process waiting for a DuckDB file tries again.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// DuckDB lets one process hold a file. When another holds it, wait for it (saying once which
/// process it is) rather than fail: two `weir` commands on one warehouse take turns.
fn open_waiting(path: &Path) -> duckdb::Result<duckdb::Connection> {
    let mut told = false;
    loop {
        match open_instance(Some(path)) {
            Err(e) if is_lock_conflict(&e.to_string()) => {
                if !told {
                    told = true;
                    if let Some(notice) = LOCK_WAIT_NOTICE.get() {
                        notice(&format!(
                            "waiting for DuckDB file `{}`: {}",
                            path.display(),
                            lock_holder(&e.to_string())
                        ));
                    }
                }
                std::thread::sleep(LOCK_RETRY);
            }
            other => return other,
        }
    }
}

fn is_lock_conflict(message: &str) -> bool {
    message.contains("Could not set lock on file") && message.contains("Conflicting lock")
}

/// "held by process 1234 (/usr/bin/weir)" from DuckDB's `Conflicting lock is held in
/// /usr/bin/weir (PID 1234) by user …`.
fn lock_holder(message: &str) -> String {
    let Some(rest) = message.split("Conflicting lock is held in ").nth(1) else {
        return "another process holds it".into();
    };
    match rest.split_once(" (PID ") {
        Some((program, tail)) => {
            let pid: String = tail.chars().take_while(char::is_ascii_digit).collect();
            format!("process {pid} ({program}) holds it")
        }
        None => "another process holds it".into(),
    }
}

/// Opens a database instance: the `public` schema, the load's table function and the optional
/// memory cap are set up once per instance.
fn open_instance(path: Option<&Path>) -> duckdb::Result<duckdb::Connection> {
    let conn = match path {
        Some(p) => duckdb::Connection::open(p)?,
        None => duckdb::Connection::open_in_memory()?,
    };
    // An optional cap on DuckDB's memory for everything but loads (which set their own).
    let limit = std::env::var(weir_core::env::WEIR_DUCKDB_MEMORY_LIMIT)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|l| format!("SET memory_limit = {};", lit(&l)))
        .unwrap_or_default();
    conn.execute_batch(&format!("CREATE SCHEMA IF NOT EXISTS public; {limit}"))?;
    load::register(&conn)?;
    Ok(conn)
}

impl DuckWarehouse {
    pub fn connect(path: &Option<PathBuf>) -> Result<Self> {
        let target = || {
            path.as_ref().map_or("in-memory DuckDB".into(), |p| {
                format!("DuckDB file `{}`", p.display())
            })
        };
        let failed = |message: String| WarehouseError::Connect {
            target: target(),
            message,
        };
        // DuckDB's library is opened here, on first use, not when the process starts.
        library::ensure_loaded().map_err(|e| failed(e.to_string()))?;
        let conn = match path {
            Some(p) => {
                if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| failed(format!("cannot create its folder: {e}")))?;
                }
                let key = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                let mut open = DATABASES.lock().unwrap_or_else(PoisonError::into_inner);
                let db = match open.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => e.insert(Instance {
                        root: open_waiting(p).map_err(|e| failed(e.to_string()))?,
                        users: std::sync::Arc::new(()),
                    }),
                };
                let conn = db.root.try_clone().map_err(|e| failed(e.to_string()))?;
                (conn, Some(db.users.clone()))
            }
            None => (
                open_instance(None).map_err(|e| failed(e.to_string()))?,
                None,
            ),
        };
        let (conn, user) = conn;
        // Redshift and PostgreSQL flows name tables `public.x`; DuckDB's default schema is
        // `main`. Both exist, and unqualified names find tables in either.
        conn.execute_batch("SET search_path = 'main,public'")
            .map_err(|e| failed(e.to_string()))?;
        Ok(DuckWarehouse {
            conn,
            path: path
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
            _user: user,
        })
    }
}

impl DuckWarehouse {
    /// `scan_column`'s reading, `RANGE` row ids at a time up to `extent`.
    fn scan_ranges(
        &mut self,
        table: &str,
        col: &str,
        extent: i64,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        const RANGE: i64 = 1 << 20;
        let mut from = 0;
        while from < extent {
            let sql = format!(
                "SELECT {col} FROM {table} WHERE rowid >= {from} AND rowid < {} AND {col} IS NOT NULL",
                from + RANGE
            );
            let mut stmt = self.conn.prepare(&sql).map_err(err("reading the table"))?;
            let mut rows = stmt.query([]).map_err(err("reading the table"))?;
            while let Some(row) = rows.next().map_err(err("reading the table"))? {
                if let ValueRef::Text(t) = row.get_ref(0).map_err(err("reading the table"))? {
                    each(t)?;
                }
            }
            from += RANGE;
        }
        Ok(())
    }
}

/// Microseconds from a value in `unit`, saturating (infinite timestamps are `i64::MAX`).
fn micros(unit: TimeUnit, v: i64) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000_000),
        TimeUnit::Millisecond => v.saturating_mul(1000),
        TimeUnit::Microsecond => v,
        TimeUnit::Nanosecond => v / 1000,
    }
}

/// A value as JSON, in the canonical text of `crate::text`; `utc` when the column is a
/// TIMESTAMPTZ (a value alone does not say).
fn json_of(v: ValueRef<'_>, utc: bool) -> serde_json::Value {
    use serde_json::Value;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Boolean(b) => b.into(),
        ValueRef::TinyInt(i) => i.into(),
        ValueRef::SmallInt(i) => i.into(),
        ValueRef::Int(i) => i.into(),
        ValueRef::BigInt(i) => i.into(),
        ValueRef::HugeInt(i) => text::big_int(i),
        ValueRef::UHugeInt(i) => i128::try_from(i)
            .map(text::big_int)
            .unwrap_or_else(|_| Value::String(i.to_string())),
        ValueRef::UTinyInt(i) => i.into(),
        ValueRef::USmallInt(i) => i.into(),
        ValueRef::UInt(i) => i.into(),
        ValueRef::UBigInt(i) => i.into(),
        ValueRef::Float(f) => text::real(f),
        ValueRef::Double(f) => text::double(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) | ValueRef::Geometry(b) => Value::String(text::hex(b)),
        ValueRef::Decimal(d) => Value::String(d.to_string()),
        ValueRef::Date32(d) => Value::String(text::date(i64::from(d))),
        ValueRef::Time64(unit, t) => Value::String(text::time(micros(unit, t))),
        ValueRef::Timestamp(unit, t) => Value::String(text::timestamp(micros(unit, t), utc)),
        ValueRef::Interval {
            months,
            days,
            nanos,
        } => Value::String(text::interval(months, days, nanos / 1000)),
        other => json_of_value(other.to_owned()),
    }
}

/// A nested value (list, struct, map, union, enum) as JSON. Timestamps inside count as
/// TIMESTAMP: a nested value does not say whether it had a time zone.
fn json_of_value(v: duckdb::types::Value) -> serde_json::Value {
    use duckdb::types::Value as D;
    use serde_json::Value;
    match v {
        D::List(items) | D::Array(items) => {
            Value::Array(items.into_iter().map(json_of_value).collect())
        }
        D::Struct(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), json_of_value(v.clone())))
                .collect(),
        ),
        D::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        text::cell(&json_of_value(k.clone()), "NULL"),
                        json_of_value(v.clone()),
                    )
                })
                .collect(),
        ),
        D::Union(inner) => json_of_value(*inner),
        D::Enum(s) | D::Text(s) => Value::String(s),
        other => json_of(ValueRef::from(&other), false),
    }
}

impl Warehouse for DuckWarehouse {
    fn engine(&self) -> Engine {
        Engine::DuckDb
    }

    fn begin(&mut self) -> Result<()> {
        self.conn
            .execute_batch("BEGIN TRANSACTION")
            .map_err(err("BEGIN"))
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(err("COMMIT"))
    }

    fn rollback(&mut self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK").map_err(err("ROLLBACK"))
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        // `execute` refuses statements that return rows; fall back to running them as a query.
        match self.conn.execute(sql, []) {
            Ok(n) => Ok(n as u64),
            Err(duckdb::Error::ExecuteReturnedResults) => {
                self.query(sql).map(|r| r.rows.len() as u64)
            }
            Err(e) => Err(WarehouseError::Engine {
                action: "the statement".into(),
                message: e.to_string(),
            }),
        }
    }

    fn query(&mut self, sql: &str) -> Result<Rows> {
        let mut stmt = self.conn.prepare(sql).map_err(err("the query"))?;
        let mut rows_out = Vec::new();
        let mut rows = stmt.query([]).map_err(err("the query"))?;
        let mut columns: Option<Vec<String>> = None;
        // Which columns are TIMESTAMPTZ: known once the first row is read.
        let mut utc = Vec::new();
        while let Some(row) = rows.next().map_err(err("reading rows"))? {
            let stmt_ref = row.as_ref();
            let n = stmt_ref.column_count();
            if columns.is_none() {
                utc = (0..n)
                    .map(|i| matches!(stmt_ref.column_type(i), DataType::Timestamp(_, Some(_))))
                    .collect();
                columns = Some(
                    (0..n)
                        .map(|i| {
                            stmt_ref
                                .column_name(i)
                                .map(|s| s.to_string())
                                .unwrap_or_default()
                        })
                        .collect(),
                );
            }
            let mut vals = Vec::with_capacity(n);
            for (i, &utc) in utc.iter().enumerate() {
                vals.push(json_of(
                    row.get_ref(i).map_err(err("reading a value"))?,
                    utc,
                ));
            }
            rows_out.push(vals);
        }
        drop(rows);
        let columns = match columns {
            Some(c) => c,
            None => {
                let n = stmt.column_count();
                (0..n)
                    .map(|i| {
                        stmt.column_name(i)
                            .map(|s| s.to_string())
                            .unwrap_or_default()
                    })
                    .collect()
            }
        };
        Ok(Rows {
            columns,
            rows: rows_out,
        })
    }

    fn copy_csv(
        &mut self,
        table: &str,
        columns: &[String],
        file: &Path,
        opts: &CsvOptions,
    ) -> Result<u64> {
        if opts.gzip {
            crate::verify_gzip(file)?;
        }
        let cols = if columns.is_empty() {
            String::new()
        } else {
            format!(" ({})", columns.join(", "))
        };
        let mut options = vec![
            "FORMAT csv".to_string(),
            format!("DELIMITER {}", lit(&opts.delimiter.to_string())),
            format!("QUOTE {}", lit(&opts.quote.to_string())),
            format!("NULLSTR {}", lit(&opts.null)),
            format!("HEADER {}", opts.header_lines > 0),
        ];
        if opts.header_lines > 1 {
            options.push(format!("SKIP {}", opts.header_lines - 1));
        }
        options.push(format!(
            "COMPRESSION {}",
            if opts.gzip { "gzip" } else { "none" }
        ));
        let sql = format!(
            "COPY {table}{cols} FROM {} ({})",
            lit(&file.to_string_lossy()),
            options.join(", ")
        );
        self.conn
            .execute(&sql, [])
            .map(|n| n as u64)
            .map_err(err("COPY"))
    }

    fn copy_out_csv(
        &mut self,
        query: &str,
        file: &Path,
        header: bool,
        delimiter: char,
    ) -> Result<u64> {
        let sql = format!(
            "COPY ({}) TO {} (FORMAT csv, HEADER {header}, DELIMITER {})",
            query.trim().trim_end_matches(';'),
            lit(&file.to_string_lossy()),
            lit(&delimiter.to_string())
        );
        self.conn
            .execute(&sql, [])
            .map(|n| n as u64)
            .map_err(err("COPY TO"))
    }

    fn load_rows(
        &mut self,
        plan: &LoadPlan,
        rows: KeyedReader,
        known: Option<&KnownKeys>,
    ) -> Result<LoadCounts> {
        load::load_rows(&self.conn, plan, rows, known)
    }

    fn scan_column(
        &mut self,
        table: &str,
        column: &str,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        // A query's whole result is held in memory before its first row is read, so the table
        // is read a range of row ids at a time (DuckDB skips the other row groups).
        let extent: i64 = self
            .conn
            .query_row(
                &format!("SELECT coalesce(max(rowid) + 1, 0) FROM {table}"),
                [],
                |r| r.get(0),
            )
            .map_err(err("reading the table"))?;
        let col = crate::load::quote_ident(column);
        // Under a load's memory cap: DuckDB would otherwise keep the blocks it read cached, up
        // to 80% of the machine's memory.
        let previous: String = self
            .conn
            .query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))
            .map_err(err("reading memory_limit"))?;
        self.conn
            .execute_batch(&format!(
                "SET memory_limit = {}",
                lit(load::LOAD_MEMORY_LIMIT)
            ))
            .map_err(err("SET memory_limit"))?;
        let scanned = self.scan_ranges(table, &col, extent, each);
        self.conn
            .execute_batch(&format!("SET memory_limit = {}", lit(&previous)))
            .map_err(err("SET memory_limit"))?;
        scanned
    }

    /// Beside the database file: `<file>.keys/`.
    fn key_store_root(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|p| {
            let mut name = p.as_os_str().to_owned();
            name.push(".keys");
            PathBuf::from(name)
        })
    }

    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>> {
        let (schema, name) = match table.rsplit_once('.') {
            Some((s, n)) => (Some(s.to_string()), n.to_string()),
            None => (None, table.to_string()),
        };
        let sql = format!(
            "SELECT column_name, data_type FROM information_schema.columns WHERE lower(table_name) = lower({}) {} ORDER BY ordinal_position",
            lit(&name),
            schema
                .map(|s| format!("AND lower(table_schema) = lower({})", lit(&s)))
                .unwrap_or_default()
        );
        let rows = self.query(&sql)?;
        if rows.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.rows
                .into_iter()
                .map(|r| {
                    (
                        r[0].as_str().unwrap_or_default().to_string(),
                        r[1].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect(),
        ))
    }
}

#[cfg(test)]
mod lock_tests {
    #[test]
    fn the_lock_holder_is_read_from_duckdbs_message() {
        let m = "IO Error: Could not set lock on file \"/tmp/w.duckdb\": Conflicting lock is held in /usr/bin/weir (PID 4242) by user me. See also https://duckdb.org/docs/stable/connect/concurrency";
        assert!(super::is_lock_conflict(m));
        assert_eq!(
            super::lock_holder(m),
            "process 4242 (/usr/bin/weir) holds it"
        );
        assert!(!super::is_lock_conflict("IO Error: disk full"));
    }
}

#[cfg(test)]
mod idle_tests {
    use super::*;

    fn is_open(path: &Path) -> bool {
        let key = std::path::absolute(path).expect("absolute");
        DATABASES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&key)
    }

    #[test]
    fn close_idle_closes_only_databases_without_a_connection_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let busy = dir.path().join("busy.duckdb");
        let idle = dir.path().join("idle.duckdb");
        let mut in_use = DuckWarehouse::connect(&Some(busy.clone())).expect("busy");
        drop(DuckWarehouse::connect(&Some(idle.clone())).expect("idle"));
        close_idle();
        assert!(is_open(&busy), "a database in use must stay open");
        assert!(!is_open(&idle), "an idle database must be closed");
        // The connection still works, and once it is gone the database closes too.
        in_use
            .execute("CREATE TABLE t AS SELECT 1 AS x")
            .expect("still usable");
        drop(in_use);
        close_idle();
        assert!(!is_open(&busy));
        // Opened again on demand, with what was written.
        let mut again = DuckWarehouse::connect(&Some(busy)).expect("reopen");
        assert_eq!(again.query("SELECT x FROM t").expect("query").rows[0][0], 1);
    }
}
