//! The PostgreSQL adapter, also used for Redshift (same wire protocol).

use crate::load::key_index;
use crate::load::{
    Batch, KeySet, KeyedReader, KnownKeys, LoadCounts, LoadPlan, key_hex, quote_ident,
};
use crate::pg_values;
use crate::url::PgConfig;
use crate::{CsvOptions, Engine, Result, Rows, Warehouse, WarehouseError};
use postgres::{Client, NoTls, SimpleQueryMessage};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The staging table of loads.
const STAGE: &str = "weir_load_stage";

/// Rows read from the file per batch during a load.
const BATCH_ROWS: usize = 2048;

pub struct PgWarehouse {
    client: Client,
    engine: Engine,
    /// Names the server and database among key indexes (`key_store_root`).
    place: String,
}

/// The folder of PostgreSQL key indexes: `WEIR_KEY_CACHE`, else the user's cache folder.
fn key_cache() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    var(weir_core::env::WEIR_KEY_CACHE)
        .map(PathBuf::from)
        .or_else(|| var("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("weir").join("keys")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache").join("weir").join("keys")))
}

fn describe(e: &postgres::Error) -> String {
    // The driver's own text is terse ("db error"); the server's message says what happened.
    match e.as_db_error() {
        Some(db) => {
            let mut msg = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                msg.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                msg.push_str(&format!("; hint: {h}"));
            }
            msg
        }
        None => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                let t = s.to_string();
                if !msg.contains(&t) {
                    msg.push_str(": ");
                    msg.push_str(&t);
                }
                src = s.source();
            }
            msg
        }
    }
}

fn err(action: &str) -> impl FnOnce(postgres::Error) -> WarehouseError + '_ {
    move |e| WarehouseError::Engine {
        action: action.to_string(),
        message: describe(&e),
    }
}

impl PgWarehouse {
    pub fn connect(cfg: &PgConfig) -> Result<Self> {
        let mut c = postgres::Config::new();
        c.host(&cfg.host)
            .port(cfg.port)
            .dbname(&cfg.database)
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs));
        c.application_name("weir");
        if let Some(u) = &cfg.user {
            c.user(u);
        }
        if let Some(p) = &cfg.password {
            c.password(p);
        }
        let client = c.connect(NoTls).map_err(|e| WarehouseError::Connect {
            target: cfg.to_string(),
            message: describe(&e),
        })?;
        let place = format!("pg-{}-{}-{}", cfg.host, cfg.port, cfg.database)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(PgWarehouse {
            client,
            engine: cfg.engine,
            place,
        })
    }
}

impl PgWarehouse {
    /// Writes keys into a new temporary table `name (k text)`.
    fn stage_keys(&mut self, name: &str, keys: &[u128]) -> Result<()> {
        self.execute(&format!(
            "DROP TABLE IF EXISTS {name}; CREATE TEMP TABLE {name} (k text)"
        ))?;
        let mut copy = self
            .client
            .copy_in(format!("COPY {name} FROM STDIN").as_str())
            .map_err(err("COPY"))?;
        let mut out = Vec::with_capacity(keys.len() * 33);
        for &k in keys {
            out.extend_from_slice(&key_hex(k));
            out.push(b'\n');
        }
        copy.write_all(&out).map_err(|e| WarehouseError::Engine {
            action: "COPY".into(),
            message: e.to_string(),
        })?;
        copy.finish().map_err(err("COPY"))?;
        Ok(())
    }
}

fn returns_rows(sql: &str) -> bool {
    let head = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    matches!(head.as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE")
}

impl Warehouse for PgWarehouse {
    fn engine(&self) -> Engine {
        self.engine
    }

    fn begin(&mut self) -> Result<()> {
        self.client.batch_execute("BEGIN").map_err(err("BEGIN"))
    }

    fn commit(&mut self) -> Result<()> {
        self.client.batch_execute("COMMIT").map_err(err("COMMIT"))
    }

    fn rollback(&mut self) -> Result<()> {
        self.client
            .batch_execute("ROLLBACK")
            .map_err(err("ROLLBACK"))
    }

    fn execute(&mut self, sql: &str) -> Result<u64> {
        // The simple protocol runs any statement (DDL, MERGE, utility commands) as written.
        let msgs = self
            .client
            .simple_query(sql)
            .map_err(err("the statement"))?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => Some(*n),
                _ => None,
            })
            .sum())
    }

    fn query(&mut self, sql: &str) -> Result<Rows> {
        if returns_rows(sql) {
            // Results of a prepared statement come in binary, which `pg_values` decodes into
            // the same text DuckDB's values get. Types it does not know fall back to the
            // server's own text, below.
            let stmt = self.client.prepare(sql).map_err(err("the query"))?;
            if stmt.columns().iter().all(|c| pg_values::known(c.type_())) {
                let rows = self.client.query(&stmt, &[]).map_err(err("the query"))?;
                let mut out = Rows {
                    columns: stmt
                        .columns()
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect(),
                    rows: Vec::with_capacity(rows.len()),
                };
                for row in rows {
                    let mut values = Vec::with_capacity(row.len());
                    for i in 0..row.len() {
                        let cell: Option<pg_values::Cell> =
                            row.try_get(i).map_err(err("reading a value"))?;
                        values.push(cell.map_or(serde_json::Value::Null, |c| c.0));
                    }
                    out.rows.push(values);
                }
                return Ok(out);
            }
        }
        let msgs = self.client.simple_query(sql).map_err(err("the query"))?;
        let mut out = Rows::default();
        for m in msgs {
            if let SimpleQueryMessage::Row(r) = m {
                if out.columns.is_empty() {
                    out.columns = r.columns().iter().map(|c| c.name().to_string()).collect();
                }
                out.rows.push(
                    (0..r.len())
                        .map(|i| r.get(i).map_or(serde_json::Value::Null, |s| s.into()))
                        .collect(),
                );
            }
        }
        Ok(out)
    }

    fn copy_csv(
        &mut self,
        table: &str,
        columns: &[String],
        file: &Path,
        opts: &CsvOptions,
    ) -> Result<u64> {
        let io = |e: std::io::Error| WarehouseError::Engine {
            action: format!("reading `{}`", file.display()),
            message: e.to_string(),
        };
        let f = std::fs::File::open(file).map_err(io)?;
        let reader: Box<dyn Read> = if opts.gzip {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        };
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        // Header lines are skipped here so that any number of them works the same way.
        let mut skip = String::new();
        for _ in 0..opts.header_lines {
            skip.clear();
            reader.read_line(&mut skip).map_err(io)?;
        }
        let cols = if columns.is_empty() {
            String::new()
        } else {
            format!(" ({})", columns.join(", "))
        };
        let lit = |c: &str| format!("'{}'", c.replace('\'', "''"));
        let sql = format!(
            "COPY {table}{cols} FROM STDIN WITH (FORMAT csv, DELIMITER {}, QUOTE {}, NULL {})",
            lit(&opts.delimiter.to_string()),
            lit(&opts.quote.to_string()),
            lit(&opts.null)
        );
        let mut writer = self.client.copy_in(sql.as_str()).map_err(err("COPY"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    return Err(WarehouseError::Load(format!(
                        "`{}` could not be read: {e} (is it a complete gzip file?)",
                        file.display()
                    )));
                }
            };
            writer
                .write_all(&buf[..n])
                .map_err(|e| WarehouseError::Engine {
                    action: "COPY".into(),
                    message: e.to_string(),
                })?;
        }
        writer.finish().map_err(err("COPY"))
    }

    fn copy_out_csv(
        &mut self,
        query: &str,
        file: &Path,
        header: bool,
        delimiter: char,
    ) -> Result<u64> {
        let io = |e: std::io::Error| WarehouseError::Engine {
            action: format!("writing `{}`", file.display()),
            message: e.to_string(),
        };
        let sql = format!(
            "COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER {header}, DELIMITER '{}')",
            query.trim().trim_end_matches(';'),
            delimiter.to_string().replace('\'', "''")
        );
        let mut reader = self.client.copy_out(sql.as_str()).map_err(err("COPY TO"))?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(file).map_err(io)?);
        let bytes = std::io::copy(&mut reader, &mut out).map_err(io)?;
        out.flush().map_err(io)?;
        drop(out);
        // COPY TO STDOUT does not report a row count; count the lines written.
        let text_lines = if bytes == 0 {
            0
        } else {
            count_lines(file).map_err(io)?
        };
        Ok(text_lines.saturating_sub(u64::from(header)))
    }

    fn load_rows(
        &mut self,
        plan: &LoadPlan,
        mut rows: KeyedReader,
        known: Option<&KnownKeys>,
    ) -> Result<LoadCounts> {
        // The file's new rows (one per key) go to a staging table shaped like the target's
        // columns; one INSERT then skips keys the table already holds.
        let kc = quote_ident(&plan.key_column.0);
        let cols: Vec<String> = plan.columns.iter().map(|(c, _)| quote_ident(c)).collect();
        self.execute(&format!(
            "DROP TABLE IF EXISTS {STAGE}; CREATE TEMP TABLE {STAGE} AS SELECT {kc} AS weir_key, {} FROM {} LIMIT 0",
            cols.join(", "),
            plan.table
        ))?;
        let mut copy = self
            .client
            .copy_in(format!("COPY {STAGE} FROM STDIN WITH (FORMAT csv)").as_str())
            .map_err(err("COPY"))?;
        let mut out = Vec::with_capacity(1 << 20);
        let none = KeySet::default();
        let write = |copy: &mut postgres::CopyInWriter<'_>, out: &mut Vec<u8>| {
            let r = copy.write_all(out).map_err(|e| WarehouseError::Engine {
                action: "COPY".into(),
                message: e.to_string(),
            });
            out.clear();
            r
        };
        let mut keys = Vec::new();
        let mut batch = Batch::with_capacity(BATCH_ROWS, plan.kinds.len());
        while rows.next_batch(&none, &mut batch, true, BATCH_ROWS)? {
            for r in 0..batch.len() {
                if known.is_some() {
                    keys.push(batch.key(r));
                }
                out.extend_from_slice(&key_hex(batch.key(r)));
                for (i, kind) in plan.kinds.iter().enumerate() {
                    rows.check_field(&batch, r, i, kind)?;
                    out.push(b',');
                    let f = batch.field(r, i);
                    // Unquoted and empty is NULL in COPY's CSV; anything else is quoted.
                    if !rows.is_null(f) {
                        out.push(b'"');
                        for &b in f {
                            if b == b'"' {
                                out.push(b'"');
                            }
                            out.push(b);
                        }
                        out.push(b'"');
                    }
                }
                out.push(b'\n');
            }
            if out.len() >= 1 << 20 {
                write(&mut copy, &mut out)?;
            }
        }
        write(&mut copy, &mut out)?;
        copy.finish().map_err(err("COPY"))?;
        crate::load::trace("staged (COPY)");
        let (fc, fv) = match &plan.filename {
            Some((c, _, v)) => (
                format!(", {}", quote_ident(c)),
                format!(", '{}'", v.replace('\'', "''")),
            ),
            None => (String::new(), String::new()),
        };
        let t = &plan.table;
        let cols = cols.join(", ");
        let mut fingerprints = Vec::new();
        let inserted = match known {
            // With the key index, only the keys it may know are looked up in the table (almost
            // never any for a file of new rows): no part of the table is read otherwise.
            Some(known) => {
                fingerprints = key_index::fingerprints(&keys);
                let maybe = known.maybe_present_of(&keys, &fingerprints)?;
                crate::load::trace("key index probed");
                let mut filter = String::new();
                if !maybe.is_empty() {
                    // Hash joins both: the keys found in the table, then the staged rows
                    // without them (never a nested loop over a temporary table the planner
                    // has no statistics for).
                    self.stage_keys("weir_maybe", &maybe)?;
                    self.execute(&format!(
                        "SET LOCAL enable_nestloop = off; \
                         CREATE TEMP TABLE weir_found AS SELECT DISTINCT t.{kc} AS k FROM {t} t \
                         JOIN weir_maybe m ON t.{kc} = m.k; DROP TABLE weir_maybe"
                    ))?;
                    filter =
                        " WHERE NOT EXISTS (SELECT 1 FROM weir_found f WHERE f.k = s.weir_key)"
                            .to_string();
                }
                let n = self.execute(&format!(
                    "INSERT INTO {t} ({kc}{fc}, {cols}) SELECT weir_key{fv}, {cols} FROM {STAGE} s{filter}; DROP TABLE {STAGE}"
                ))?;
                if !maybe.is_empty() {
                    self.execute("DROP TABLE weir_found; RESET enable_nestloop")?;
                }
                n
            }
            None => {
                // The staging table's size, for the planner.
                self.execute(&format!("ANALYZE {STAGE}"))?;
                // A table whose statistics say it is empty (analysed before its first load)
                // would get a nested loop that scans the table once per staged row, rereading
                // the rows this very INSERT adds: quadratic. A hash anti join reads it once.
                self.execute("SET LOCAL enable_nestloop = off")?;
                let n = self.execute(&format!(
                    "INSERT INTO {t} ({kc}{fc}, {cols}) SELECT weir_key{fv}, {cols} FROM {STAGE} s WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.{kc} = s.weir_key); DROP TABLE {STAGE}"
                ))?;
                self.execute("RESET enable_nestloop")?;
                n
            }
        };
        Ok(LoadCounts {
            read: rows.rows_read,
            inserted,
            fingerprints,
        })
    }

    fn scan_column(
        &mut self,
        table: &str,
        column: &str,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        // COPY's text format, streamed: one line per row; keys (hex digits) need no
        // unescaping, and any other text is not a weir key either way.
        let col = quote_ident(column);
        let reader = self
            .client
            .copy_out(
                format!("COPY (SELECT {col} FROM {table} WHERE {col} IS NOT NULL) TO STDOUT")
                    .as_str(),
            )
            .map_err(err("COPY TO"))?;
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| WarehouseError::Engine {
                    action: "COPY TO".into(),
                    message: e.to_string(),
                })?;
            if n == 0 {
                return Ok(());
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            each(&line)?;
        }
    }

    fn key_store_root(&self) -> Option<PathBuf> {
        if self.engine != Engine::Postgres {
            return None;
        }
        key_cache().map(|c| c.join(&self.place))
    }

    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>> {
        let rows = self
            .client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&table],
            )
            .map_err(err("reading the table's columns"))?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect(),
        ))
    }
}

/// Lines of a CSV file; quoted fields with newlines make this an upper bound, which is why it is
/// only used for the output count of `CopyOut`.
fn count_lines(file: &Path) -> std::io::Result<u64> {
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(file)?);
    let mut n = 0;
    let mut buf = Vec::new();
    while r.read_until(b'\n', &mut buf)? > 0 {
        n += 1;
        buf.clear();
    }
    Ok(n)
}
