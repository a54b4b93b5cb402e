//! Warehouses weir loads into and queries: DuckDB embedded (the default), PostgreSQL, and
//! Redshift over the PostgreSQL wire protocol.
//!
//! A JDBC-style URL chooses the engine (`jdbc:duckdb:PATH`, `jdbc:postgresql://…`,
//! `jdbc:redshift://…`), so a flow written for Redshift runs on DuckDB by changing one KV value.
//! `sql` splits scripts and plans Redshift-only statements (`COPY … FROM 's3://…'`,
//! `CREATE TABLE … (LIKE …)`) into what each engine can do. This is the only crate that links
//! DuckDB.

pub mod bigquery;
mod duck;
pub mod load;
mod pg;
mod pg_values;
pub mod sql;
pub mod text;
pub mod url;

use std::path::Path;

pub use duck::{close_all, close_idle, on_lock_wait};
pub use load::{LoadReport, LoadSpec};
pub use url::{Engine, Target};

#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("{0}")]
    Url(String),
    #[error("could not connect to {target}: {message}")]
    Connect { target: String, message: String },
    /// A statement failed: which one, its text, and the engine's message.
    #[error("statement {index} failed: {message}\n  in: {statement}")]
    Statement {
        index: usize,
        statement: String,
        message: String,
    },
    #[error("{0}")]
    Load(String),
    #[error("{action} failed: {message}")]
    Engine { action: String, message: String },
}

pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

/// Rows returned by a query, values as JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl Rows {
    /// Each row as a JSON object keyed by column name.
    pub fn objects(&self) -> Vec<serde_json::Value> {
        self.rows
            .iter()
            .map(|r| {
                serde_json::Value::Object(
                    self.columns
                        .iter()
                        .cloned()
                        .zip(r.iter().cloned())
                        .collect(),
                )
            })
            .collect()
    }
}

/// How a CSV file is read by `copy_csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    pub header_lines: u64,
    pub delimiter: char,
    pub quote: char,
    pub gzip: bool,
    /// Text that stands for NULL; empty by default, as in Redshift's CSV.
    pub null: String,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header_lines: 1,
            delimiter: ',',
            quote: '"',
            gzip: false,
            null: String::new(),
        }
    }
}

/// One connection to a warehouse. Statements run inside the transaction the caller opens.
pub trait Warehouse: Send {
    fn engine(&self) -> Engine;
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self) -> Result<()>;
    /// Runs one statement; returns the rows it changed when the engine says.
    fn execute(&mut self, sql: &str) -> Result<u64>;
    /// Runs one statement and returns its rows.
    fn query(&mut self, sql: &str) -> Result<Rows>;
    /// Loads a local CSV file (gzip or not) into `table`'s `columns`, streaming it.
    fn copy_csv(
        &mut self,
        table: &str,
        columns: &[String],
        file: &Path,
        opts: &CsvOptions,
    ) -> Result<u64>;
    /// Writes the rows of a query to a local CSV file (with a header line when asked),
    /// streaming; returns the number of rows.
    fn copy_out_csv(
        &mut self,
        query: &str,
        file: &Path,
        header: bool,
        delimiter: char,
    ) -> Result<u64>;
    /// Inserts the rows of a load (`load::load` has opened the file, checked the columns and
    /// begun the transaction): each row `rows` yields, with its key and the file name, into
    /// `plan.table`, except rows whose key the table already holds.
    /// With the table's key index (`known`), a row whose key the index does not know is new
    /// to the table, and the keys inserted are returned for the index.
    fn load_rows(
        &mut self,
        plan: &load::LoadPlan,
        rows: load::KeyedReader,
        known: Option<&load::KnownKeys>,
    ) -> Result<load::LoadCounts>;
    /// Calls `each` with every non-NULL value of a text column, in bounded memory.
    fn scan_column(
        &mut self,
        table: &str,
        column: &str,
        each: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<()>;
    /// Where weir keeps the key indexes of this warehouse's tables (`load::key_store`), or
    /// `None` when it has no such place.
    fn key_store_root(&self) -> Option<std::path::PathBuf>;
    /// The column names and types of a table, in order; `None` when it does not exist.
    fn table_columns(&mut self, table: &str) -> Result<Option<Vec<(String, String)>>>;
    /// Proves the connection works by doing what real work does: a round trip.
    fn healthcheck(&mut self) -> Result<()> {
        self.query("SELECT 1").map(|_| ())
    }
}

/// Reads a gzip file to its end, checking every member's CRC and length.
///
/// DuckDB's reader stops quietly at some truncations and would load a prefix of the file as if
/// it were whole; a load must fail instead. Costs one decompression pass.
pub fn verify_gzip(file: &Path) -> Result<()> {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let f = std::fs::File::open(file)
        .map_err(|e| WarehouseError::Load(format!("cannot open `{name}`: {e}")))?;
    let mut decoder =
        flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, f));
    std::io::copy(&mut decoder, &mut std::io::sink())
        .map(|_| ())
        .map_err(|e| {
            WarehouseError::Load(format!(
                "`{name}` is not a complete gzip file ({e}): it is truncated or damaged"
            ))
        })
}

/// Opens a connection for a target.
pub fn connect(target: &Target) -> Result<Box<dyn Warehouse>> {
    match target {
        Target::DuckDb { path } => Ok(Box::new(duck::DuckWarehouse::connect(path)?)),
        Target::Postgres(cfg) => Ok(Box::new(pg::PgWarehouse::connect(cfg)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duck(dir: &Path) -> Box<dyn Warehouse> {
        connect(
            &url::parse(
                &format!("jdbc:duckdb:{}", dir.join("w.duckdb").display()),
                None,
                None,
            )
            .unwrap(),
        )
        .unwrap()
    }

    /// A load of `file` into `t` with the defaults of `weir.warehouse.Load`.
    fn spec_for(file: &Path, name: &str) -> LoadSpec {
        LoadSpec {
            table: "t".into(),
            file: file.to_path_buf(),
            file_name: name.into(),
            csv: CsvOptions::default(),
            columns: vec![],
            key_columns: vec![],
            key_column: "unique_row_id".into(),
            filename_column: Some("filename".into()),
            memory_limit: None,
            max_bad_rows: 0,
            rejects_file: None,
            key_index: false,
        }
    }

    /// Connections to one file share one DuckDB instance: what one writes, the next sees,
    /// and the load's table function works on every connection.
    #[test]
    fn connections_to_one_file_share_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = duck(dir.path());
        first
            .execute("CREATE TABLE t (unique_row_id text, filename text, id integer)")
            .unwrap();
        drop(first);
        let csv = dir.path().join("s.csv");
        std::fs::write(&csv, "id\n1\n2\n").unwrap();
        let mut second = duck(dir.path());
        let spec = spec_for(&csv, "s.csv");
        assert_eq!(load::load(second.as_mut(), &spec).unwrap().inserted, 2);
        let mut third = duck(dir.path());
        assert_eq!(third.query("SELECT count(*) FROM t").unwrap().rows[0][0], 2);
        close_all();
    }

    #[test]
    fn duckdb_links_and_runs() {
        let mut w = connect(&Target::DuckDb { path: None }).unwrap();
        let rows = w.query("SELECT version() AS v, 1 + 1 AS two").unwrap();
        assert_eq!(rows.columns, vec!["v", "two"]);
        assert!(rows.rows[0][0].as_str().unwrap().starts_with("v1.5"));
        assert_eq!(rows.rows[0][1], 2);
    }

    #[test]
    fn load_is_idempotent_and_keeps_one_copy_of_in_file_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("m.csv");
        std::fs::write(&csv, "id,name,amount\n1,a,1.5\n2,b,2.5\n2,b,2.5\n3,,\n").unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, id integer, name text, amount double)").unwrap();
        let spec = LoadSpec {
            memory_limit: Some("300MB".into()),
            ..spec_for(&csv, "m.csv")
        };
        let first = load::load(w.as_mut(), &spec).unwrap();
        assert_eq!(
            first,
            LoadReport {
                rows_read: 4,
                inserted: 3,
                duplicates_skipped: 1,
                rejected: 0
            }
        );
        let again = load::load(w.as_mut(), &spec).unwrap();
        assert_eq!(
            again,
            LoadReport {
                rows_read: 4,
                inserted: 0,
                duplicates_skipped: 4,
                rejected: 0
            }
        );
        let counts = w
            .query("SELECT count(*), count(DISTINCT unique_row_id), count(name) FROM t")
            .unwrap();
        assert_eq!(
            counts.rows[0],
            vec![
                serde_json::json!(3),
                serde_json::json!(3),
                serde_json::json!(2)
            ]
        );
    }

    #[test]
    fn a_bad_row_fails_the_load_with_its_line_and_inserts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, "id,amount\n1,1.5\n2,abc\n").unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, id integer, amount double)")
            .unwrap();
        let spec = LoadSpec {
            memory_limit: Some("300MB".into()),
            ..spec_for(&csv, "bad.csv")
        };
        let e = load::load(w.as_mut(), &spec).unwrap_err().to_string();
        assert!(
            e.contains("nothing was inserted") && e.contains("abc") && e.contains("line 3"),
            "{e}"
        );
        assert_eq!(w.query("SELECT count(*) FROM t").unwrap().rows[0][0], 0);
    }

    /// Rows already handed to DuckDB's appender belong to the load's transaction: a bad row
    /// far into the file, after many batches, still leaves the table as it was.
    #[test]
    fn a_bad_row_after_many_appended_batches_inserts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("big.csv");
        let mut text = String::from("id,ts,amount\n");
        for i in 0..50_000 {
            text.push_str(&format!("{i},2021-01-01 00:00:{:02},{i}.5\n", i % 60));
        }
        text.push_str("50000,2021-01-01 00:00:00,oops\n");
        std::fs::write(&csv, text).unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, id bigint, ts timestamp, amount double)").unwrap();
        w.execute("INSERT INTO t VALUES ('k', 'f', -1, NULL, NULL)")
            .unwrap();
        let spec = spec_for(&csv, "big.csv");
        let e = load::load(w.as_mut(), &spec).unwrap_err().to_string();
        assert!(e.contains("line 50002") && e.contains("oops"), "{e}");
        assert_eq!(w.query("SELECT count(*) FROM t").unwrap().rows[0][0], 1);
    }

    /// Columns of types weir does not parse itself go through a staging table, cast by DuckDB;
    /// keys and duplicates work the same.
    #[test]
    fn a_table_with_a_decimal_column_loads_through_a_staging_table() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        std::fs::write(
            &csv,
            "id,price,day\n1,1.25,2021-01-02\n2,2.50,\n1,1.25,2021-01-02\n",
        )
        .unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, id integer, price decimal(10,2), day date)").unwrap();
        let spec = spec_for(&csv, "d.csv");
        let r = load::load(w.as_mut(), &spec).unwrap();
        assert_eq!((r.rows_read, r.inserted, r.duplicates_skipped), (3, 2, 1));
        let again = load::load(w.as_mut(), &spec).unwrap();
        assert_eq!(again.inserted, 0);
        let rows = w
            .query("SELECT CAST(sum(price) AS VARCHAR), count(day), min(filename) FROM t")
            .unwrap();
        assert_eq!(
            rows.rows[0],
            vec![
                serde_json::json!("3.75"),
                serde_json::json!(1),
                serde_json::json!("d.csv")
            ]
        );
    }

    /// Loads `text` into a fresh table `t (unique_row_id, filename, a, b)` of text columns;
    /// returns the connection and the report.
    fn load_text(dir: &Path, text: &[u8]) -> (Box<dyn Warehouse>, LoadReport) {
        let csv = dir.join("k.csv");
        std::fs::write(&csv, text).unwrap();
        let mut w = duck(dir);
        w.execute("CREATE TABLE t (unique_row_id text, filename text, a text, b text)")
            .unwrap();
        let report = load::load(w.as_mut(), &spec_for(&csv, "k.csv")).unwrap();
        (w, report)
    }

    /// Issue 8: a NULL field and a field holding the two characters `\N` had one key.
    #[test]
    fn a_null_field_and_a_backslash_n_field_get_different_keys() {
        let dir = tempfile::tempdir().unwrap();
        let (_, r) = load_text(dir.path(), b"a,b\nx,\nx,\\N\n");
        assert_eq!((r.rows_read, r.inserted, r.duplicates_skipped), (2, 2, 0));
    }

    /// Issue 8: a field holding 0x1f and the two fields around it had one key.
    #[test]
    fn a_unit_separator_inside_a_field_is_not_a_field_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let (_, r) = load_text(dir.path(), b"a,b\nx\x1fy,z\nx,y\x1fz\n");
        assert_eq!((r.rows_read, r.inserted, r.duplicates_skipped), (2, 2, 0));
    }

    /// The SQL expression the README gives computes the key the load stored.
    #[test]
    fn the_documented_sql_expression_gives_the_loaded_key() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, r) = load_text(
            dir.path(),
            "a,b\n1,x\n2,\n,\nh\u{e9}llo \u{1f44d}\u{1f3fd},\"q,\"\"\"\nx\u{1f}y,z\n".as_bytes(),
        );
        assert_eq!(r.inserted, 5);
        let rows = w
            .query(
                "SELECT count(*) AS n, count(*) FILTER (WHERE unique_row_id = \
                 md5(concat(coalesce(length(a) || ':' || a, 'N'), coalesce(length(b) || ':' || b, 'N')))) AS same FROM t",
            )
            .unwrap();
        assert_eq!(
            rows.rows[0],
            vec![serde_json::json!(5), serde_json::json!(5)]
        );
    }

    /// A table holding a file's rows under the earlier key (fields joined by 0x1f) refuses to
    /// load that file again, which would insert every row twice.
    #[test]
    fn a_file_loaded_with_the_earlier_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("old.csv");
        std::fs::write(&csv, "a,b\n1,x\n2,\n").unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, a text, b text)")
            .unwrap();
        w.execute("INSERT INTO t VALUES (md5('1' || chr(31) || 'x'), 'old.csv', '1', 'x'), (md5('2' || chr(31) || '\\N'), 'old.csv', '2', NULL)")
            .unwrap();
        let e = load::load(w.as_mut(), &spec_for(&csv, "old.csv"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("earlier row key") && e.contains("DELETE FROM t WHERE filename = 'old.csv'"),
            "{e}"
        );
        assert_eq!(w.query("SELECT count(*) FROM t").unwrap().rows[0][0], 2);
        w.execute("DELETE FROM t WHERE filename = 'old.csv'")
            .unwrap();
        assert_eq!(
            load::load(w.as_mut(), &spec_for(&csv, "old.csv"))
                .unwrap()
                .inserted,
            2
        );
        // Loaded with the new key, it loads again as a no-op.
        assert_eq!(
            load::load(w.as_mut(), &spec_for(&csv, "old.csv"))
                .unwrap()
                .inserted,
            0
        );
    }

    /// With `maxBadRows`, text that is not UTF-8 is a rejected row like any other, listed
    /// with its line and column; the rest loads.
    #[test]
    fn bad_utf8_is_rejected_with_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("u.csv");
        std::fs::write(&csv, b"a,b\n1,x\n2,\xff\xfe\n3,z\n").unwrap();
        let mut w = duck(dir.path());
        w.execute("CREATE TABLE t (unique_row_id text, filename text, a integer, b text)")
            .unwrap();
        let rejects = dir.path().join("rejects.csv");
        let spec = LoadSpec {
            max_bad_rows: 1,
            rejects_file: Some(rejects.clone()),
            ..spec_for(&csv, "u.csv")
        };
        let r = load::load(w.as_mut(), &spec).unwrap();
        assert_eq!((r.rows_read, r.inserted, r.rejected), (3, 2, 1));
        let text = std::fs::read_to_string(&rejects).unwrap();
        assert!(
            text.contains("\n3,b,the value is not valid UTF-8,"),
            "{text}"
        );
    }
}
