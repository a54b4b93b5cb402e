//! DuckDB's side of the load: new rows stream into one `INSERT … SELECT` through a table
//! function, so DuckDB writes them with all its threads.
//!
//! A reading thread (`produce`) decompresses the file, splits records, keys them and drops
//! repeated and existing keys; it hands raw batches of at most one vector (2048 rows) to a
//! channel. `weir_load_rows(id)` is a table function DuckDB calls from as many threads as it
//! runs: each call takes one batch and parses its fields straight into DuckDB's vectors. The
//! INSERT runs with `preserve_insertion_order = false`, which lets DuckDB write row groups in
//! parallel.

use super::{err, lit};
use crate::load::key_index::{self, KnownKeys};
use crate::load::{
    Batch, KeySet, KeyedReader, Kind, LoadCounts, LoadPlan, bad_value, key_hex, parse_key_hex,
    quote_ident, values,
};
use crate::{Result, WarehouseError};
use duckdb::core::{DataChunkHandle, FlatVector, LogicalTypeHandle, LogicalTypeId};
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// Rows per batch: DuckDB's standard vector size, the most one table-function call returns.
const VECTOR_SIZE: usize = 2048;

/// DuckDB's memory limit during a load unless the task sets one (`memoryLimit`).
pub(super) const LOAD_MEMORY_LIMIT: &str = "256MB";

/// The table function's name.
const FUNCTION: &str = "weir_load_rows";

/// Registers the table function on a connection.
pub(super) fn register(conn: &duckdb::Connection) -> duckdb::Result<()> {
    conn.register_table_function::<RowsFunction>(FUNCTION)
}

/// What one load's table function reads from.
struct Source {
    kinds: Vec<Kind>,
    columns: Vec<String>,
    null: Vec<u8>,
    batches: Mutex<Option<Receiver<Batch>>>,
    /// Used batches go back to the reading thread, which refills them instead of allocating.
    used: Sender<Batch>,
}

impl Source {
    fn next(&self) -> Option<Batch> {
        let guard = self.batches.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().and_then(|rx| rx.recv().ok())
    }

    /// Stops the reading thread: its next send fails.
    fn close(&self) {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// Sources of the loads running in this process, by the id passed to the table function.
static SOURCES: LazyLock<Mutex<HashMap<i64, Arc<Source>>>> = LazyLock::new(Default::default);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A source registered for the duration of one INSERT.
struct Registered {
    id: i64,
    source: Arc<Source>,
}

impl Registered {
    fn new(source: Source) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) as i64;
        let source = Arc::new(source);
        SOURCES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, source.clone());
        Registered { id, source }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.source.close();
        SOURCES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

fn logical_type(kind: &Kind) -> LogicalTypeHandle {
    LogicalTypeHandle::from(match kind {
        Kind::Text | Kind::Other(_) => LogicalTypeId::Varchar,
        Kind::Int16 => LogicalTypeId::Smallint,
        Kind::Int32 => LogicalTypeId::Integer,
        Kind::Int64 => LogicalTypeId::Bigint,
        Kind::Float32 => LogicalTypeId::Float,
        Kind::Float64 => LogicalTypeId::Double,
        Kind::Bool => LogicalTypeId::Boolean,
        Kind::Date => LogicalTypeId::Date,
        Kind::Timestamp => LogicalTypeId::Timestamp,
    })
}

struct RowsFunction;

struct Bound(Arc<Source>);

impl VTab for RowsFunction {
    type InitData = ();
    type BindData = Bound;

    fn bind(bind: &BindInfo) -> std::result::Result<Bound, Box<dyn std::error::Error>> {
        let id = bind.get_parameter(0).to_int64();
        let source = SOURCES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or_else(|| format!("{FUNCTION}: no load with id {id} is running"))?;
        bind.add_result_column("weir_key", LogicalTypeHandle::from(LogicalTypeId::Varchar));
        for (i, kind) in source.kinds.iter().enumerate() {
            bind.add_result_column(&format!("c{i}"), logical_type(kind));
        }
        Ok(Bound(source))
    }

    fn init(init: &InitInfo) -> std::result::Result<(), Box<dyn std::error::Error>> {
        init.set_max_threads(64);
        Ok(())
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let source = &func.get_bind_data().0;
        match source.next() {
            Some(batch) => {
                fill(source, &batch, output)?;
                output.set_len(batch.len());
                // The reading thread may have finished; then the batch is simply dropped.
                let _ = source.used.send(batch);
            }
            None => output.set_len(0),
        }
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::Bigint)])
    }
}

/// A Rust type that is the physical layout of some DuckDB vector types.
trait Physical: Copy {
    /// The logical types whose vectors hold values of exactly this type.
    const TYPES: &'static [LogicalTypeId];
}

impl Physical for i16 {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Smallint];
}
impl Physical for i32 {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Integer, LogicalTypeId::Date];
}
impl Physical for i64 {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Bigint, LogicalTypeId::Timestamp];
}
impl Physical for f32 {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Float];
}
impl Physical for f64 {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Double];
}
impl Physical for bool {
    const TYPES: &'static [LogicalTypeId] = &[LogicalTypeId::Boolean];
}

/// The values of a vector of fixed-size values, to write into.
///
/// One of the load's three `unsafe` spots (with `TextVector` and `KeySet`'s prefetch). Sound
/// because the vector's logical type is checked here, once per column and chunk, to be one
/// whose physical layout is `T`; a mismatch is an error, not undefined behaviour. The slice
/// spans the vector's capacity, so every write is bounds-checked.
#[allow(unsafe_code)]
fn values_of<'v, T: Physical>(vector: &'v mut FlatVector<'_>) -> Result<&'v mut [T]> {
    let id = vector.logical_type().id();
    if !T::TYPES.contains(&id) {
        return Err(WarehouseError::Load(format!(
            "a DuckDB vector of type {id:?} cannot hold `{}` values; this is a bug in weir, please report it",
            std::any::type_name::<T>()
        )));
    }
    // SAFETY: `T` is the physical type of the vector's logical type (checked just above).
    Ok(unsafe { vector.as_mut_slice::<T>() })
}

/// A VARCHAR output vector, written without the UTF-8 check DuckDB's C API makes per value:
/// weir checks each batch once (and names the field when the check fails).
///
/// Another of the load's `unsafe` spots (see `values_of`). Values of at most 12 bytes are stored
/// inline in the vector's `duckdb_string_t` slots (length, then the bytes, zero-padded: DuckDB's
/// layout for short strings, published in `duckdb.h`); longer ones are copied into the vector's
/// string heap by `duckdb_unsafe_vector_assign_string_element_len`. Every row index is checked
/// against the vector's capacity first.
struct TextVector {
    raw: duckdb::ffi::duckdb_vector,
    data: *mut duckdb::ffi::duckdb_string_t,
    capacity: usize,
}

impl TextVector {
    /// Column `column` of `output`, checked to be a VARCHAR column.
    #[allow(unsafe_code)]
    fn of(output: &DataChunkHandle, column: usize) -> Result<Self> {
        let vector = output.flat_vector(column);
        let id = vector.logical_type().id();
        if id != LogicalTypeId::Varchar {
            return Err(WarehouseError::Load(format!(
                "column {column} of the load's output is {id:?}, not VARCHAR; this is a bug in weir, please report it"
            )));
        }
        let capacity = vector.capacity();
        // SAFETY: `column` is one of the chunk's columns (the caller's loop runs over the
        // columns declared at bind time); the vector lives as long as the chunk.
        let raw =
            unsafe { duckdb::ffi::duckdb_data_chunk_get_vector(output.get_ptr(), column as u64) };
        // SAFETY: a VARCHAR vector's data (checked above) is an array of `capacity`
        // `duckdb_string_t`.
        let data = unsafe { duckdb::ffi::duckdb_vector_get_data(raw) }.cast();
        Ok(TextVector {
            raw,
            data,
            capacity,
        })
    }

    /// Sets row `r` to `value`, which the caller has checked is UTF-8.
    #[allow(unsafe_code)]
    fn set(&mut self, r: usize, value: &[u8]) {
        assert!(
            r < self.capacity,
            "row {r} outside a vector of {}",
            self.capacity
        );
        if value.len() <= 12 {
            let mut inlined = [0; 12];
            for (to, from) in inlined.iter_mut().zip(value) {
                *to = *from as std::ffi::c_char;
            }
            let short = duckdb::ffi::duckdb_string_t {
                value: duckdb::ffi::duckdb_string_t__bindgen_ty_1 {
                    inlined: duckdb::ffi::duckdb_string_t__bindgen_ty_1__bindgen_ty_2 {
                        length: value.len() as u32,
                        inlined,
                    },
                },
            };
            // SAFETY: `r` is within the vector's capacity (checked above).
            unsafe { self.data.add(r).write(short) }
        } else {
            // SAFETY: as above; DuckDB copies the bytes into the vector's own heap.
            unsafe {
                duckdb::ffi::duckdb_unsafe_vector_assign_string_element_len(
                    self.raw,
                    r as u64,
                    value.as_ptr().cast(),
                    value.len() as u64,
                )
            }
        }
    }
}

/// One column of a batch: where each row's field is, and how to name a bad one.
struct Column<'a> {
    source: &'a Source,
    batch: &'a Batch,
    c: usize,
}

impl Column<'_> {
    fn field(&self, r: usize) -> &[u8] {
        self.batch.field(r, self.c)
    }

    fn is_null(&self, field: &[u8]) -> bool {
        field == self.source.null.as_slice()
    }

    fn bad(&self, r: usize) -> WarehouseError {
        bad_value(
            self.batch,
            r,
            &self.source.columns[self.c],
            self.field(r),
            &self.source.kinds[self.c],
        )
    }

    /// Parses every row of the column into a vector of fixed-size values.
    fn fixed<T: Physical>(
        &self,
        vector: &mut FlatVector<'_>,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<()> {
        let mut nulls = Vec::new();
        let data = values_of::<T>(vector)?;
        for (r, slot) in data.iter_mut().take(self.batch.len()).enumerate() {
            let field = self.field(r);
            if self.is_null(field) {
                nulls.push(r);
            } else {
                *slot = parse(field).ok_or_else(|| self.bad(r))?;
            }
        }
        for r in nulls {
            vector.set_null(r);
        }
        Ok(())
    }
}

/// Parses a batch's fields into the output vectors.
fn fill(source: &Source, batch: &Batch, output: &mut DataChunkHandle) -> Result<()> {
    let mut keys = TextVector::of(output, 0)?;
    if batch.len() > keys.capacity {
        return Err(WarehouseError::Load(format!(
            "a batch of {} rows does not fit DuckDB's vectors of {}",
            batch.len(),
            keys.capacity
        )));
    }
    for r in 0..batch.len() {
        keys.set(r, key_hex(batch.key(r)).as_slice());
    }
    // Text fields are checked for UTF-8 once per batch; field by field only to name a bad one.
    let all_utf8 = std::str::from_utf8(batch.bytes()).is_ok();
    for (c, kind) in source.kinds.iter().enumerate() {
        let mut vector = output.flat_vector(c + 1);
        let col = Column { source, batch, c };
        let int = |f: &[u8]| values::parse_int(f);
        match kind {
            Kind::Text | Kind::Other(_) => {
                let mut text = TextVector::of(output, c + 1)?;
                for r in 0..batch.len() {
                    let field = col.field(r);
                    if col.is_null(field) {
                        vector.set_null(r);
                    } else {
                        if !all_utf8 && std::str::from_utf8(field).is_err() {
                            return Err(col.bad(r));
                        }
                        text.set(r, field);
                    }
                }
            }
            Kind::Int16 => {
                col.fixed(&mut vector, |f| int(f).and_then(|v| i16::try_from(v).ok()))?
            }
            Kind::Int32 => {
                col.fixed(&mut vector, |f| int(f).and_then(|v| i32::try_from(v).ok()))?
            }
            Kind::Int64 => col.fixed(&mut vector, int)?,
            Kind::Float32 => col.fixed(&mut vector, values::parse_float32)?,
            Kind::Float64 => col.fixed(&mut vector, values::parse_float)?,
            Kind::Bool => col.fixed(&mut vector, values::parse_bool)?,
            Kind::Date => col.fixed(&mut vector, values::parse_date)?,
            Kind::Timestamp => col.fixed(&mut vector, values::parse_timestamp)?,
        }
    }
    Ok(())
}

/// Reads the file on its own thread, handing new rows over in batches of one vector (only their
/// keys when `fields` is false). Returns the number of records read and of rows handed over, or
/// `None` when DuckDB stopped taking rows (its error is the one to report).
fn produce(
    mut rows: KeyedReader,
    existing: &KeySet,
    fields: bool,
    tx: &SyncSender<Batch>,
    used: &Receiver<Batch>,
    mut keys: Option<&mut Vec<u128>>,
) -> Result<Option<(u64, u64)>> {
    let width = if fields { rows.columns().len() } else { 0 };
    let mut batch = Batch::with_capacity(VECTOR_SIZE, width);
    let mut sent = 0u64;
    while rows.next_batch(existing, &mut batch, fields, VECTOR_SIZE)? {
        sent += batch.len() as u64;
        if let Some(keys) = keys.as_deref_mut() {
            keys.extend((0..batch.len()).map(|r| batch.key(r)));
        }
        let next = used
            .try_recv()
            .unwrap_or_else(|_| Batch::with_capacity(VECTOR_SIZE, width));
        let full = std::mem::replace(&mut batch, next);
        if tx.send(full).is_err() {
            return Ok(None);
        }
    }
    Ok(Some((rows.rows_read, sent)))
}

/// Streams the new rows of `rows` (or only their keys) to `weir_load_rows(id)` while `run`
/// executes a statement that reads it; returns the records read, the rows handed over and what
/// `run` returned.
fn stream<T>(
    rows: KeyedReader,
    kinds: Vec<Kind>,
    existing: &KeySet,
    keys: Option<&mut Vec<u128>>,
    run: impl FnOnce(i64) -> duckdb::Result<T>,
) -> Result<(u64, u64, T)> {
    let fields = !kinds.is_empty();
    // Room for a few row groups' worth of batches, so that neither side waits for the other
    // while DuckDB compresses a row group.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(32);
    let (used_tx, used_rx) = std::sync::mpsc::channel::<Batch>();
    let registered = Registered::new(Source {
        used: used_tx,
        kinds,
        columns: rows.columns().to_vec(),
        null: rows.null().to_vec(),
        batches: Mutex::new(Some(rx)),
    });
    std::thread::scope(|s| {
        let producer = std::thread::Builder::new()
            .name("weir-load-read".into())
            .spawn_scoped(s, move || {
                produce(rows, existing, fields, &tx, &used_rx, keys)
            })
            .map_err(|e| WarehouseError::Load(format!("cannot start the reading thread: {e}")))?;
        let ran = run(registered.id);
        registered.source.close();
        let read = producer
            .join()
            .map_err(|_| WarehouseError::Load("reading the file stopped unexpectedly".into()))?;
        // The reader's error comes first: when it fails, the statement sees the rows end early
        // and may succeed with some of them, which the caller's rollback undoes.
        let read = read?;
        let ran = ran.map_err(|e| WarehouseError::Load(e.to_string()))?;
        let (read, sent) = read.ok_or_else(|| {
            WarehouseError::Load("DuckDB stopped taking rows before the file ended".into())
        })?;
        Ok((read, sent, ran))
    })
}

/// What the table already holds of the file.
enum Existing {
    /// These keys of the file's rows (none when the table is empty).
    Some(KeySet),
    /// Every key of the file, which has this many records.
    All { read: u64 },
}

/// The keys of the file's rows that the table already holds.
///
/// An empty table holds none. Otherwise the file's keys are read in a first pass and DuckDB
/// finds which of them the table has: memory grows with the file, not with the table, but the
/// whole key column is read.
fn existing_keys(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: &KeyedReader,
) -> Result<Existing> {
    let kc = quote_ident(&plan.key_column.0);
    let any: bool = conn
        .query_row(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {} WHERE {kc} IS NOT NULL)",
                plan.table
            ),
            [],
            |r| r.get(0),
        )
        .map_err(err("reading the table's row keys"))?;
    if !any {
        return Ok(Existing::Some(KeySet::default()));
    }
    let probe = |id: i64| {
        // DuckDB hashes the file's keys (the subquery), so memory grows with the file, and
        // scans the table's keys against them.
        let sql = format!(
            "SELECT DISTINCT {kc} FROM {} WHERE {kc} IN (SELECT weir_key FROM {FUNCTION}({id}))",
            plan.table
        );
        found_keys(conn, &sql)
    };
    let (read, distinct, keys) =
        stream(rows.reopen()?, Vec::new(), &KeySet::default(), None, probe)?;
    // With malformed rows allowed, the inserting pass must still run to reject them.
    Ok(if keys.len() as u64 == distinct && !plan.tolerant {
        // A month loaded again: nothing to insert, no second pass.
        Existing::All { read }
    } else {
        Existing::Some(keys)
    })
}

/// The keys (32 hex digits) a query returns in its first column.
fn found_keys(conn: &duckdb::Connection, sql: &str) -> duckdb::Result<KeySet> {
    let mut stmt = conn.prepare(sql)?;
    let mut found = stmt.query([])?;
    let mut keys = KeySet::default();
    while let Some(row) = found.next()? {
        if let duckdb::types::ValueRef::Text(t) = row.get_ref(0)?
            && let Some(k) = parse_key_hex(t)
        {
            keys.insert(k);
        }
    }
    Ok(keys)
}

pub(super) fn load_rows(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: KeyedReader,
    known: Option<&KnownKeys>,
) -> Result<LoadCounts> {
    // DuckDB keeps written blocks cached up to its memory limit (80% of RAM by default); a
    // load needs little, so it runs under a cap and the connection's own limit comes back after.
    let previous: String = conn
        .query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))
        .map_err(err("reading memory_limit"))?;
    let limit = plan.memory_limit.as_deref().unwrap_or(LOAD_MEMORY_LIMIT);
    conn.execute_batch(&format!("SET memory_limit = {}", lit(limit)))
        .map_err(err("SET memory_limit"))?;
    let result = match known {
        Some(known) => insert_known(conn, plan, rows, known),
        None => insert_rows(conn, plan, rows),
    };
    let restored = conn
        .execute_batch(&format!("SET memory_limit = {}", lit(&previous)))
        .map_err(err("SET memory_limit"));
    let counts = result?;
    restored?;
    Ok(counts)
}

/// The INSERT of a load's rows from the table function, and how many rows it inserted.
fn insert_sql(plan: &LoadPlan, id: i64) -> String {
    let mut targets = vec![quote_ident(&plan.key_column.0)];
    let mut values = vec!["weir_key".to_string()];
    if let Some((c, _, v)) = &plan.filename {
        targets.push(quote_ident(c));
        values.push(lit(v));
    }
    for (i, ((c, ty), kind)) in plan.columns.iter().zip(&plan.kinds).enumerate() {
        targets.push(quote_ident(c));
        values.push(match kind {
            // Types weir does not parse arrive as text and are cast by DuckDB.
            Kind::Other(_) => format!("CAST(c{i} AS {ty})"),
            _ => format!("c{i}"),
        });
    }
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {FUNCTION}({id})",
        plan.table,
        targets.join(", "),
        values.join(", ")
    )
}

/// Streams the file's rows that are not in `existing` into the table, collecting their keys
/// into `keys` when given.
fn insert_stream(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: KeyedReader,
    existing: &KeySet,
    keys: Option<&mut Vec<u128>>,
) -> Result<(u64, u64)> {
    let insert = |id: i64| {
        // Without insertion order DuckDB writes row groups from all its threads at once.
        conn.execute_batch("SET preserve_insertion_order = false")?;
        let inserted = conn.execute(&insert_sql(plan, id), []);
        let reset = conn.execute_batch("RESET preserve_insertion_order");
        let inserted = inserted?;
        reset?;
        Ok(inserted)
    };
    let (read, _, inserted) = stream(rows, plan.kinds.clone(), existing, keys, insert)?;
    Ok((read, inserted as u64))
}

/// A load without a key index: the file's keys are checked against the whole key column.
fn insert_rows(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: KeyedReader,
) -> Result<LoadCounts> {
    insert_checked(conn, plan, rows, None)
}

/// Checks the file's keys against the whole key column, then inserts the rest (collecting
/// their keys into `keys` when given).
fn insert_checked(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: KeyedReader,
    keys: Option<&mut Vec<u128>>,
) -> Result<LoadCounts> {
    let existing = match existing_keys(conn, plan, &rows)? {
        Existing::Some(keys) => keys,
        Existing::All { read } => {
            return Ok(LoadCounts {
                read,
                ..LoadCounts::default()
            });
        }
    };
    let (read, inserted) = insert_stream(conn, plan, rows, &existing, keys)?;
    Ok(LoadCounts {
        read,
        inserted,
        fingerprints: Vec::new(),
    })
}

/// Keys read from the start of the file to tell a file loaded before from a new one.
const SAMPLE_KEYS: usize = 2048;

/// A load with the table's key index (`key_index`), in one pass over the file when its rows are
/// new to the table.
///
/// The file's first keys are looked up first. When the index says none of them may be in the
/// table, the file's rows go straight in, and only then are their keys looked up: those the index
/// says may be in the table (almost always none) are checked against the rows that were there
/// before, and the new copies of the ones found are deleted again, in the same transaction. When
/// some first keys may be in the table (a file loaded before), the load checks the file's keys
/// against the key column first, as without an index.
fn insert_known(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    rows: KeyedReader,
    known: &KnownKeys,
) -> Result<LoadCounts> {
    let mut keys = Vec::new();
    let sampled = !known.is_empty()
        && !known
            .maybe_present(&rows.first_keys(SAMPLE_KEYS)?)?
            .is_empty();
    crate::load::trace("first keys sampled");
    if sampled {
        let counts = insert_checked(conn, plan, rows, Some(&mut keys))?;
        return Ok(LoadCounts {
            fingerprints: key_index::fingerprints(&keys),
            ..counts
        });
    }
    let extent = known.extent_before().unwrap_or(0);
    let (read, mut inserted) =
        insert_stream(conn, plan, rows, &KeySet::default(), Some(&mut keys))?;
    crate::load::trace("one-pass insert");
    let fingerprints = key_index::fingerprints(&keys);
    let maybe = if known.is_empty() {
        Vec::new()
    } else {
        known.maybe_present_of(&keys, &fingerprints)?
    };
    crate::load::trace("key index probed");
    if !maybe.is_empty() {
        // The keys of removed copies stay in `keys`: the table holds them.
        inserted = inserted.saturating_sub(remove_copies(conn, plan, extent, &maybe)?);
    }
    Ok(LoadCounts {
        read,
        inserted,
        fingerprints,
    })
}

/// Deletes the rows this load inserted (row id at or past `extent`) whose key the table held
/// before (a row id below it), among `maybe`; returns how many.
fn remove_copies(
    conn: &duckdb::Connection,
    plan: &LoadPlan,
    extent: i64,
    maybe: &[u128],
) -> Result<u64> {
    let kc = quote_ident(&plan.key_column.0);
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE weir_maybe (k VARCHAR); \
         CREATE OR REPLACE TEMP TABLE weir_held (k VARCHAR)",
    )
    .map_err(err("creating weir_maybe"))?;
    {
        let mut app = conn
            .appender("weir_maybe")
            .map_err(err("writing weir_maybe"))?;
        for &k in maybe {
            let hex = key_hex(k);
            let text = std::str::from_utf8(&hex).unwrap_or_default();
            app.append_row([text]).map_err(err("writing weir_maybe"))?;
        }
        app.flush().map_err(err("writing weir_maybe"))?;
    }
    conn.execute_batch(&format!(
        "INSERT INTO weir_held SELECT DISTINCT {kc} FROM {t} \
         WHERE rowid < {extent} AND {kc} IN (SELECT k FROM weir_maybe)",
        t = plan.table
    ))
    .map_err(err("checking the key index's candidates against the table"))?;
    let removed = conn
        .execute(
            &format!(
                "DELETE FROM {t} WHERE rowid >= {extent} AND {kc} IN (SELECT k FROM weir_held)",
                t = plan.table
            ),
            [],
        )
        .map_err(err("removing rows the table already held"))?;
    conn.execute_batch("DROP TABLE weir_maybe; DROP TABLE weir_held")
        .map_err(err("dropping weir_maybe"))?;
    Ok(removed as u64)
}
