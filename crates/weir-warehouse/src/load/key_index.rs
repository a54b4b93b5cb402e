//! The load's key index: what makes the existing-key check of a load cheaper on a large table —
//! in proportion to the file on PostgreSQL (see ARCHITECTURE.md, "The key index").
//!
//! - PostgreSQL: a B-tree index on the key column. The server keeps it in step with every write
//!   (weir's, a plain `INSERT`, a `DELETE`, a restore), so it can never be stale; the load
//!   probes it for each of the file's keys (an index anti-join).
//! - DuckDB: a `UUID` column `<key column>_bin` beside the text key, holding the same 128 bits
//!   in 16 bytes, which DuckDB joins faster than 32 hex characters on large tables (still a
//!   scan: DuckDB has no index a load could probe within its memory cap).
//!   It lives in the row, so a `DELETE` can never leave it behind; a row written without it (a
//!   plain `INSERT`, an `UPDATE` of the key) is found through the table's row count and row-id
//!   extent, which weir records in `weir_key_index` in the load's own transaction, and the
//!   column is then brought up to date before it is used.
//!
//! A table without one loads as always (the whole key column is checked); weir creates one only
//! when asked (`weir warehouse index TABLE`, or the Load task's `keyIndex: true`).

use super::quote_ident;
use crate::{Engine, Result, Warehouse, WarehouseError};

/// How a load checked the file's keys against the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KeyCheck {
    /// No key index: the file's keys were checked against the whole key column.
    #[default]
    Table,
    /// The key index was used.
    Index,
    /// This load created the key index (`keyIndex: true`), then used it.
    Created,
    /// The key index was out of date (the table was written outside weir's loads); this load
    /// brought it up to date, then used it.
    Rebuilt,
}

impl KeyCheck {
    /// One sentence for the load's log.
    pub fn describe(self, table: &str) -> String {
        match self {
            KeyCheck::Table => format!(
                "key check: `{table}` has no key index, so the file's keys were checked against \
                 the whole key column (`weir warehouse index {table}` or `keyIndex: true` adds one)"
            ),
            KeyCheck::Index => format!("key check: used the key index of `{table}`"),
            KeyCheck::Created => {
                format!(
                    "key check: created the key index of `{table}` (`keyIndex: true`) and used it"
                )
            }
            KeyCheck::Rebuilt => format!(
                "key check: the key index of `{table}` was out of date (the table was written \
                 outside weir's loads); brought it up to date, then used it"
            ),
        }
    }
}

/// What `create` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The index was made; the text says what it is.
    New(String),
    /// The table already had one.
    Existing(String),
}

/// The DuckDB key column holding the key in 16 bytes.
pub fn bin_column(key_column: &str) -> String {
    format!("{key_column}_bin")
}

/// weir's record of each DuckDB key index: the table's row count and row-id extent when a load
/// last brought the index up to date.
pub(crate) const DUCK_META: &str = "weir_key_index";

pub(crate) fn duck_meta_ddl() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {DUCK_META} (table_name VARCHAR, key_column VARCHAR, \
         row_count BIGINT, row_extent BIGINT)"
    )
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The table's row count and row-id extent (one past the largest row id): DuckDB answers both
/// from its row groups' metadata, without reading the key column.
pub(crate) fn duck_shape_sql(table: &str) -> String {
    format!("SELECT count(*), coalesce(max(rowid) + 1, 0) FROM {table}")
}

pub(crate) fn duck_recorded_sql(table: &str, key_column: &str) -> String {
    format!(
        "SELECT row_count, row_extent FROM {DUCK_META} WHERE table_name = {} AND key_column = {}",
        lit(table),
        lit(key_column)
    )
}

/// Records the table's shape for its index, replacing the earlier record.
pub(crate) fn duck_record_sql(table: &str, key_column: &str, count: i64, extent: i64) -> String {
    format!(
        "{}; DELETE FROM {DUCK_META} WHERE table_name = {t} AND key_column = {k}; \
         INSERT INTO {DUCK_META} VALUES ({t}, {k}, {count}, {extent})",
        duck_meta_ddl(),
        t = lit(table),
        k = lit(key_column)
    )
}

/// Sets the 16-byte key of every row whose text key it does not match (rows written outside
/// weir's loads). A key that is not 32 hex digits gets NULL: no weir key can equal it.
pub(crate) fn duck_repair_sql(table: &str, key_column: &str) -> String {
    let (kc, bin) = (
        quote_ident(key_column),
        quote_ident(&bin_column(key_column)),
    );
    format!(
        "UPDATE {table} SET {bin} = TRY_CAST({kc} AS UUID) \
         WHERE {bin} IS DISTINCT FROM TRY_CAST({kc} AS UUID)"
    )
}

/// The name of the PostgreSQL index weir creates.
fn pg_index_name(table: &str, key_column: &str) -> String {
    let base: String = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let kc: String = key_column
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let mut name = format!("weir_{base}_{kc}_key");
    name.truncate(63);
    name.to_ascii_lowercase()
}

/// The SQL finding a usable B-tree index whose first column is the key column.
pub(crate) fn pg_find_sql(table: &str, key_column: &str) -> String {
    format!(
        "SELECT c.relname::text FROM pg_index i \
         JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_am am ON am.oid = c.relam \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE i.indrelid = to_regclass({}) AND a.attname = {} AND am.amname = 'btree' \
         AND i.indisvalid AND i.indisready AND i.indpred IS NULL AND i.indexprs IS NULL \
         LIMIT 1",
        lit(table),
        lit(key_column)
    )
}

/// The SQL creating weir's B-tree index on the key column.
pub(crate) fn pg_create_sql(table: &str, key_column: &str) -> String {
    format!(
        "CREATE INDEX {} ON {table} ({})",
        pg_index_name(table, key_column),
        quote_ident(key_column)
    )
}

/// SQL that adds and fills DuckDB's 16-byte key column, and records the table's shape.
pub(crate) fn duck_create_sql(table: &str, key_column: &str) -> String {
    let bin = quote_ident(&bin_column(key_column));
    format!(
        "ALTER TABLE {table} ADD COLUMN {bin} UUID; {}",
        duck_repair_sql(table, key_column)
    )
}

/// The key column as the table spells it, checked to be text.
fn key_column_of(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<String> {
    let cols = w
        .table_columns(table)?
        .ok_or_else(|| WarehouseError::Load(format!("table `{table}` does not exist")))?;
    cols.iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(key_column))
        .map(|(c, _)| c.clone())
        .ok_or_else(|| {
            WarehouseError::Load(format!(
                "table `{table}` has no column `{key_column}` (its columns: {})",
                cols.iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Whether `table` has a key index for `key_column`, and its name.
pub fn find(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<Option<String>> {
    let kc = key_column_of(w, table, key_column)?;
    match w.engine() {
        Engine::DuckDb => {
            let bin = bin_column(&kc);
            let cols = w.table_columns(table)?.unwrap_or_default();
            Ok(cols
                .iter()
                .find(|(c, t)| c.eq_ignore_ascii_case(&bin) && t.eq_ignore_ascii_case("UUID"))
                .map(|(c, _)| format!("column `{c}`")))
        }
        Engine::Postgres => {
            let rows = w.query(&pg_find_sql(table, &kc))?;
            Ok(rows
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(|v| v.as_str())
                .map(|n| format!("index `{n}`")))
        }
        other => Err(WarehouseError::Load(format!(
            "a key index is not available on {other:?}"
        ))),
    }
}

/// Creates the key index of `table` in one transaction (`weir warehouse index`), unless it has
/// one.
pub fn create(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<Created> {
    if let Some(found) = find(w, table, key_column)? {
        return Ok(Created::Existing(found));
    }
    let kc = key_column_of(w, table, key_column)?;
    w.begin()?;
    let made = (|| -> Result<String> {
        match w.engine() {
            Engine::DuckDb => {
                w.execute(&duck_create_sql(table, &kc))?;
                let shape = w.query(&duck_shape_sql(table))?;
                let num = |i: usize| {
                    shape
                        .rows
                        .first()
                        .and_then(|r| r.get(i))
                        .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
                        .unwrap_or(-1)
                };
                w.execute(&duck_record_sql(table, &kc, num(0), num(1)))?;
                Ok(format!(
                    "column `{}` (UUID, the key in 16 bytes)",
                    bin_column(&kc)
                ))
            }
            _ => {
                w.execute(&pg_create_sql(table, &kc))?;
                Ok(format!("index `{}`", pg_index_name(table, &kc)))
            }
        }
    })();
    match made {
        Ok(what) => {
            w.commit()?;
            Ok(Created::New(what))
        }
        Err(e) => {
            let _ = w.rollback();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_index_names_are_plain_and_short() {
        assert_eq!(
            pg_index_name("public.yellow_tripdata", "unique_row_id"),
            "weir_yellow_tripdata_unique_row_id_key"
        );
        assert!(pg_index_name(&"x".repeat(100), "k").len() <= 63);
        assert_eq!(pg_index_name("\"My T\"", "k"), "weir__my_t__k_key");
    }

    #[test]
    fn every_check_names_the_table() {
        for k in [
            KeyCheck::Table,
            KeyCheck::Index,
            KeyCheck::Created,
            KeyCheck::Rebuilt,
        ] {
            assert!(k.describe("t1").contains("`t1`"));
        }
    }
}
