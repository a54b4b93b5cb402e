//! The load's key index: what lets a load check its file's keys against a large table in time
//! that grows with the file, not the table (see ARCHITECTURE.md, "The key index").
//!
//! It is weir's own (`key_store`): the fingerprints of the table's keys in files beside the
//! warehouse (DuckDB: `<database file>.keys/`; PostgreSQL: `$WEIR_KEY_CACHE`, by default
//! `~/.cache/weir/keys`), plus one row per indexed table in the warehouse's `weir_key_store`:
//! a token naming the store's state that matches the table.
//!
//! - A load takes the store's state for the token the database holds; it writes its new keys as
//!   a run, and a new token, in its own transaction. If the database never commits, it still
//!   holds the old token, whose state the store keeps.
//! - Writes weir does not make change the token or are seen: on PostgreSQL a statement trigger
//!   on the table (insert, update, delete, truncate) sets a new random token; DuckDB has no
//!   triggers, so weir records the table's row count and row-id extent with the token and
//!   compares them. A token or shape weir did not leave means the store is rebuilt from the
//!   table before it is used.
//! - The store's "maybe" answers (a key in the table, deleted since, or a fingerprint shared by
//!   chance) are checked against the table itself, so nothing the store remembers can make a
//!   load skip a row the table does not hold.
//!
//! A table without one loads as always (the file's keys are checked against the whole key
//! column); weir creates one only when asked (`weir warehouse index TABLE`, or the Load task's
//! `keyIndex: true`).

use super::key_store::{self, KeyStore, Run};
use super::parse_key_hex;
use crate::{Engine, Result, Warehouse, WarehouseError};
use std::path::PathBuf;

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
    /// rebuilt it from the table, then used it.
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
                 outside weir's loads); rebuilt it from the table, then used it"
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

/// The table in the warehouse naming each key index's current state.
pub(crate) const META: &str = "weir_key_store";

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A table's key index, opened and in step with the table, for one load.
pub struct KnownKeys {
    store: KeyStore,
    runs: Vec<Run>,
    /// The table's row count and row-id extent before the load (DuckDB).
    before: (Option<i64>, Option<i64>),
    pub check: KeyCheck,
}

impl KnownKeys {
    /// Those of `keys` the table may hold; every other key is certainly not in it.
    pub fn maybe_present(&self, keys: &[u128]) -> Result<Vec<u128>> {
        self.maybe_present_of(keys, &fingerprints(keys))
    }

    /// `maybe_present`, given the keys' `fingerprints`.
    pub fn maybe_present_of(&self, keys: &[u128], fps: &[u64]) -> Result<Vec<u128>> {
        let found = self.store.probe(&self.runs, fps)?;
        Ok(keys
            .iter()
            .copied()
            .filter(|&k| found.binary_search(&key_store::fingerprint(k)).is_ok())
            .collect())
    }

    /// How many keys the index holds.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|r| r.count).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table's row-id extent before the load (DuckDB).
    pub(crate) fn extent_before(&self) -> Option<i64> {
        self.before.1
    }
}

/// The sorted, distinct fingerprints of `keys`, as the index holds them.
pub fn fingerprints(keys: &[u128]) -> Vec<u64> {
    let mut fps: Vec<u64> = keys.iter().map(|&k| key_store::fingerprint(k)).collect();
    fps.sort_unstable();
    fps.dedup();
    fps
}

/// Where the store of `table`'s key index lives, or `None` when the warehouse has no place for
/// one (an in-memory DuckDB).
fn store_dir(w: &dyn Warehouse, table: &str, key_column: &str) -> Option<PathBuf> {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    w.key_store_root()
        .map(|root| root.join(format!("{}--{}", safe(table), safe(key_column))))
}

/// The row of `weir_key_store` for the table: its token, row count and row-id extent.
type Recorded = (String, Option<i64>, Option<i64>);

/// A JSON value as an integer (engines return counts as numbers or as text).
fn int(v: &serde_json::Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

/// The first column of the first row a query returns, as an integer.
fn first_int(w: &mut dyn Warehouse, sql: &str) -> Result<Option<i64>> {
    let rows = w.query(sql)?;
    Ok(rows.rows.first().and_then(|r| r.first()).and_then(int))
}

fn meta_exists(w: &mut dyn Warehouse) -> Result<bool> {
    // The engines' catalog functions: their `information_schema` views cost milliseconds.
    let sql = match w.engine() {
        Engine::DuckDb => format!(
            "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = {}",
            lit(META)
        ),
        _ => format!(
            "SELECT count(*) AS n FROM pg_class WHERE relname = {} AND relkind = 'r' \
             AND pg_table_is_visible(oid)",
            lit(META)
        ),
    };
    Ok(first_int(w, &sql)?.unwrap_or(0) > 0)
}

fn recorded(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<Option<Recorded>> {
    if !meta_exists(w)? {
        return Ok(None);
    }
    // On PostgreSQL the row is locked for the load: two loads into one table take turns.
    let lock = if w.engine() == Engine::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let rows = w.query(&format!(
        "SELECT token, row_count, row_extent FROM {META} WHERE table_name = {} AND key_column = {}{lock}",
        lit(table),
        lit(key_column)
    ))?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let num = |i: usize| row.get(i).and_then(int);
    let token = row
        .first()
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(Some((token, num(1), num(2))))
}

/// DuckDB: the table's row count and row-id extent (one past the largest row id), which any
/// insert or delete changes. `None` on engines whose triggers change the token instead.
fn shape(w: &mut dyn Warehouse, table: &str) -> Result<(Option<i64>, Option<i64>)> {
    if w.engine() != Engine::DuckDb {
        return Ok((None, None));
    }
    // DuckDB's catalog knows how many rows the table's row groups hold, deleted ones included
    // until a checkpoint compacts them: the row-id extent, without reading the row ids (which
    // `max(rowid)` does: 40 ms at 100 M rows).
    let extent = match split_name(table) {
        Some((schema, name)) => format!(
            "(SELECT max(estimated_size) FROM duckdb_tables() WHERE lower(table_name) = {} \
             AND lower(schema_name) IN ({}) AND database_name = current_database())",
            lit(&name.to_lowercase()),
            schema.map_or("'main', 'public'".to_string(), |s| lit(&s.to_lowercase()))
        ),
        None => format!("(SELECT coalesce(max(rowid) + 1, 0) FROM {table})"),
    };
    let rows = w.query(&format!("SELECT count(*) AS n, {extent} AS e FROM {table}"))?;
    let num = |i: usize| rows.rows.first().and_then(|r| r.get(i)).and_then(int);
    Ok((num(0), num(1)))
}

/// A table's name as `[schema.]name`, quotes removed; `None` for anything else (a catalog too).
fn split_name(table: &str) -> Option<(Option<String>, String)> {
    let mut parts = Vec::new();
    let mut rest = table.trim();
    while !rest.is_empty() {
        let (part, after) = if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = rest.find('.').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        parts.push(part);
        rest = match after.strip_prefix('.') {
            Some(r) => r,
            None if after.is_empty() => "",
            None => return None,
        };
    }
    match parts.as_slice() {
        [name] => Some((None, name.clone())),
        [schema, name] => Some((Some(schema.clone()), name.clone())),
        _ => None,
    }
}

/// DuckDB: the table's row count (from its metadata).
fn row_count(w: &mut dyn Warehouse, table: &str) -> Result<Option<i64>> {
    if w.engine() != Engine::DuckDb {
        return Ok(None);
    }
    first_int(w, &format!("SELECT count(*) AS n FROM {table}"))
}

/// The PostgreSQL trigger renewing the token of `key_column`'s index.
fn trigger_name(key_column: &str) -> String {
    format!("weir_key_store_{key_column}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(63)
        .collect()
}

/// PostgreSQL: whether the table still has the trigger that renews its token (a table dropped
/// and created again has not).
fn has_trigger(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<bool> {
    if w.engine() != Engine::Postgres {
        return Ok(true);
    }
    let n = first_int(
        w,
        &format!(
            "SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = to_regclass({}) AND tgname = {}",
            lit(table),
            lit(&trigger_name(key_column))
        ),
    )?;
    Ok(n.unwrap_or(0) > 0)
}

/// Creates `weir_key_store` and, on PostgreSQL, the trigger that renews the table's token on
/// every write.
fn setup(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<()> {
    match w.engine() {
        Engine::DuckDb => {
            w.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {META} (table_name VARCHAR, key_column VARCHAR, \
                 token VARCHAR, row_count BIGINT, row_extent BIGINT)"
            ))?;
        }
        Engine::Postgres => {
            w.execute(&format!(
                "CREATE TABLE IF NOT EXISTS {META} (table_name text, key_column text, \
                 token text, row_count bigint, row_extent bigint, \
                 PRIMARY KEY (table_name, key_column))"
            ))?;
            w.execute(&format!(
                "CREATE OR REPLACE FUNCTION weir_key_store_touch() RETURNS trigger \
                 LANGUAGE plpgsql AS $weir$ BEGIN \
                 UPDATE {META} SET token = md5(random()::text || clock_timestamp()::text) \
                 WHERE table_name = TG_ARGV[0] AND key_column = TG_ARGV[1]; \
                 RETURN NULL; END $weir$"
            ))?;
            let name = trigger_name(key_column);
            w.execute(&format!(
                "DROP TRIGGER IF EXISTS {name} ON {table}; \
                 CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} \
                 FOR EACH STATEMENT EXECUTE FUNCTION weir_key_store_touch({}, {})",
                lit(table),
                lit(key_column)
            ))?;
        }
        other => {
            return Err(WarehouseError::Load(format!(
                "a key index is not available on {other:?}"
            )));
        }
    }
    Ok(())
}

/// Reads every key of the table into a fresh store.
fn rebuild(w: &mut dyn Warehouse, store: &mut KeyStore, table: &str, kc: &str) -> Result<Vec<Run>> {
    store.clear()?;
    let mut builder = store.builder();
    w.scan_column(table, kc, &mut |text| {
        // A key that is not 32 hex digits is no weir key: no load's row can have it.
        match parse_key_hex(text) {
            Some(k) => builder.push(key_store::fingerprint(k)),
            None => Ok(()),
        }
    })?;
    builder.finish()
}

/// Opens the table's key index for a load, in the load's transaction: `None` when it has none
/// and `create` is false. Creates it when asked, and rebuilds it when the table changed outside
/// weir's loads.
pub fn prepare(
    w: &mut dyn Warehouse,
    table: &str,
    key_column: &str,
    create: bool,
) -> Result<Option<KnownKeys>> {
    let found = recorded(w, table, key_column)?;
    if found.is_none() && !create {
        return Ok(None);
    }
    let dir = store_dir(w, table, key_column).ok_or_else(|| {
        WarehouseError::Load(
            "a key index needs a warehouse kept in a file or a server; an in-memory DuckDB has \
             none"
                .into(),
        )
    })?;
    let mut store = KeyStore::open(&dir)?;
    super::trace("key index: token read");
    let now = shape(w, table)?;
    super::trace("key index: table shape read");
    let (runs, check) = match found {
        None => {
            setup(w, table, key_column)?;
            (
                rebuild(w, &mut store, table, key_column)?,
                KeyCheck::Created,
            )
        }
        Some(_) if !has_trigger(w, table, key_column)? => {
            // The table was dropped and created again: its rows are unknown to the store.
            setup(w, table, key_column)?;
            (
                rebuild(w, &mut store, table, key_column)?,
                KeyCheck::Rebuilt,
            )
        }
        Some((token, count, extent)) => match store.state(&token) {
            Some(state) if now == (count, extent) => (state.runs.clone(), KeyCheck::Index),
            _ => (
                rebuild(w, &mut store, table, key_column)?,
                KeyCheck::Rebuilt,
            ),
        },
    };
    Ok(Some(KnownKeys {
        store,
        runs,
        before: now,
        check,
    }))
}

/// Adds the keys a load inserted (their sorted fingerprints, `fingerprints`) to the index, with
/// a new token, in the load's transaction (before it commits).
pub fn finish(
    w: &mut dyn Warehouse,
    table: &str,
    key_column: &str,
    mut known: KnownKeys,
    fps: &[u64],
) -> Result<()> {
    let runs = if fps.is_empty() {
        known.runs.clone()
    } else {
        let run = known.store.write_run(fps)?;
        super::trace("key index: run written");
        known.store.add_run(&known.runs, run)?
    };
    super::trace("key index: runs merged");
    let token = key_store::new_token();
    // Rows a transaction adds get their lasting row ids when it commits: appended after the
    // table's extent, without the ones it deleted again. The extent the table will have is the
    // one before plus the rows this load added.
    let count = row_count(w, table)?;
    let extent = match (known.before, count) {
        ((Some(c0), Some(e0)), Some(c1)) => Some(e0 + (c1 - c0)),
        _ => None,
    };
    let num = |v: Option<i64>| v.map_or("NULL".to_string(), |n| n.to_string());
    w.execute(&format!(
        "DELETE FROM {META} WHERE table_name = {t} AND key_column = {k}",
        t = lit(table),
        k = lit(key_column)
    ))?;
    w.execute(&format!(
        "INSERT INTO {META} (table_name, key_column, token, row_count, row_extent) \
         VALUES ({}, {}, {}, {}, {})",
        lit(table),
        lit(key_column),
        lit(&token),
        num(count),
        num(extent)
    ))?;
    super::trace("key index: token written");
    // The store names the new state before the database commits to it; until then (or if it
    // never does) the database's token still names the state before.
    known.store.commit(&token, runs)
}

/// The key column as the table spells it, checked to exist.
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

/// Creates the key index of `table` in one transaction (`weir warehouse index`), unless it has
/// one.
pub fn create(w: &mut dyn Warehouse, table: &str, key_column: &str) -> Result<Created> {
    if !matches!(w.engine(), Engine::DuckDb | Engine::Postgres) {
        return Err(WarehouseError::Load(format!(
            "a key index is not available on {:?}",
            w.engine()
        )));
    }
    let kc = key_column_of(w, table, key_column)?;
    let where_ = |w: &dyn Warehouse| {
        store_dir(w, table, &kc).map_or_else(String::new, |d| format!(" in `{}`", d.display()))
    };
    w.begin()?;
    let made = (|| -> Result<Created> {
        let known = prepare(w, table, &kc, true)?
            .ok_or_else(|| WarehouseError::Load("the key index was not created".into()))?;
        let keys = known.len();
        match known.check {
            KeyCheck::Index => Ok(Created::Existing(format!(
                "weir's key store{}, {keys} keys",
                where_(w)
            ))),
            check => {
                finish(w, table, &kc, known, &[])?;
                let how = if check == KeyCheck::Rebuilt {
                    " (it was out of date or missing: rebuilt)"
                } else {
                    ""
                };
                Ok(Created::New(format!(
                    "weir's key store{}, {keys} keys{how}",
                    where_(w)
                )))
            }
        }
    })();
    match made {
        Ok(what) => {
            w.commit()?;
            Ok(what)
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
    fn table_names_split_into_schema_and_name() {
        assert_eq!(
            split_name("public.yellow_tripdata"),
            Some((Some("public".into()), "yellow_tripdata".into()))
        );
        assert_eq!(split_name("t"), Some((None, "t".into())));
        assert_eq!(
            split_name("\"My s\".\"a.b\""),
            Some((Some("My s".into()), "a.b".into()))
        );
        assert_eq!(split_name("db.s.t"), None);
        assert_eq!(split_name("\"open"), None);
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
