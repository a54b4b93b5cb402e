//! The embedded store: one SQLite file in WAL mode, shared safely by several weir processes.

use crate::*;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::Mutex;

const SCHEMA_VERSION: i64 = 3;

/// Version 2: when each running execution's process was last seen alive (an orphan ends then,
/// not when it is noticed), and which flow revisions are deployed (what Subflows and
/// `flows list` see) as opposed to only run.
const MIGRATION_2: &str = r#"
ALTER TABLE executions ADD COLUMN seen TEXT;
ALTER TABLE flows ADD COLUMN deployed INTEGER NOT NULL DEFAULT 1;
"#;

/// Version 3: the queue (executions run by whichever worker claims them, their concurrency
/// limit, kill requests), the attempt of each task run state, Schedule triggers' last dates
/// and backfills.
const MIGRATION_3: &str = r#"
ALTER TABLE executions ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN queue_limit INTEGER;
ALTER TABLE executions ADD COLUMN kill_requested INTEGER NOT NULL DEFAULT 0;
CREATE INDEX executions_queue ON executions (queued, state, created) WHERE queued = 1 AND owner_pid IS NULL;
ALTER TABLE task_run_states ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
CREATE TABLE triggers (
    namespace TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    trigger_id TEXT NOT NULL,
    last_date TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    updated TEXT NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id)
);
CREATE TABLE backfills (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    trigger_id TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    current TEXT,
    inputs TEXT NOT NULL,
    labels TEXT NOT NULL,
    state TEXT NOT NULL,
    total INTEGER NOT NULL,
    created_count INTEGER NOT NULL,
    created TEXT NOT NULL
);
"#;

const MIGRATIONS: [&str; 3] = [MIGRATION_1, MIGRATION_2, MIGRATION_3];

const MIGRATION_1: &str = r#"
CREATE TABLE flows (
    namespace TEXT NOT NULL,
    id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    source TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (namespace, id, revision)
);
CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    namespace TEXT NOT NULL,
    flow_id TEXT NOT NULL,
    flow_revision INTEGER NOT NULL,
    state TEXT NOT NULL,
    inputs TEXT NOT NULL,
    labels TEXT NOT NULL,
    trigger TEXT NOT NULL,
    outputs TEXT NOT NULL,
    created TEXT NOT NULL,
    started TEXT,
    ended TEXT,
    original_id TEXT,
    parent_id TEXT,
    owner_pid INTEGER,
    owner_start INTEGER
);
CREATE INDEX executions_by_flow ON executions (namespace, flow_id, state);
CREATE INDEX executions_by_created ON executions (created);
CREATE TABLE task_runs (
    id TEXT PRIMARY KEY,
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    task_id TEXT NOT NULL,
    task_type TEXT NOT NULL,
    parent_id TEXT,
    value TEXT,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    outputs TEXT NOT NULL
);
CREATE INDEX task_runs_by_execution ON task_runs (execution_id, seq);
CREATE TABLE task_run_states (
    task_run_id TEXT NOT NULL,
    state TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX task_run_states_by_run ON task_run_states (task_run_id);
CREATE TABLE logs (
    execution_id TEXT NOT NULL,
    task_run_id TEXT,
    task_id TEXT,
    attempt INTEGER,
    level TEXT NOT NULL,
    at TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX logs_by_execution ON logs (execution_id);
CREATE TABLE kv (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires TEXT,
    updated TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
);
"#;

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: String,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_default()
}

fn db(action: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| StoreError::Database {
        action,
        source: Box::new(e),
    }
}

fn state_of(s: &str) -> State {
    State::parse(s).unwrap_or(State::Failed)
}

fn json_of(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or(serde_json::Value::Null)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        let shown = path.display().to_string();
        let open_err = |e: rusqlite::Error| StoreError::Open {
            path: shown.clone(),
            source: Box::new(e),
        };
        // Opening a new file in WAL mode and migrating it must not race with another weir
        // process doing the same: SQLite answers BUSY there without waiting.
        let lock_path = path.with_extension("db.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|e| StoreError::Open {
                path: lock_path.display().to_string(),
                source: Box::new(e),
            })?;
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        // WAL lets readers (the CLI, the UI) see progress while a run writes; NORMAL sync is
        // durable against process crashes, which is what execution state must survive.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        .map_err(open_err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: shown,
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            let mut conn = conn;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(open_err)?;
            let current: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(open_err)?;
            for (done, migration) in (1i64..).zip(MIGRATIONS) {
                if current < done {
                    tx.execute_batch(migration).map_err(open_err)?;
                }
            }
            tx.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))
                .map_err(open_err)?;
            tx.commit().map_err(open_err)?;
            drop(lock);
            return Ok(SqliteStore {
                conn: Mutex::new(conn),
                path: path.display().to_string(),
            });
        }
        drop(lock);
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            path: shown,
        })
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const FLOW_COLS: &str = "namespace, id, revision, source, updated, deployed";

fn flow_row(r: &Row<'_>) -> rusqlite::Result<FlowRecord> {
    Ok(FlowRecord {
        namespace: r.get(0)?,
        id: r.get(1)?,
        revision: r.get(2)?,
        source: r.get(3)?,
        updated: parse_ts(&r.get::<_, String>(4)?),
        deployed: r.get(5)?,
    })
}

const EXEC_COLS: &str = "id, namespace, flow_id, flow_revision, state, inputs, labels, trigger, outputs, created, started, ended, original_id, parent_id, owner_pid, owner_start, queued, queue_limit";

fn exec_row(r: &Row<'_>) -> rusqlite::Result<ExecutionRecord> {
    let labels: Vec<(String, String)> =
        serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default();
    let pid: Option<u32> = r.get(14)?;
    let start: Option<i64> = r.get(15)?;
    Ok(ExecutionRecord {
        id: r.get(0)?,
        namespace: r.get(1)?,
        flow_id: r.get(2)?,
        flow_revision: r.get(3)?,
        state: state_of(&r.get::<_, String>(4)?),
        inputs: json_of(&r.get::<_, String>(5)?),
        labels,
        trigger: json_of(&r.get::<_, String>(7)?),
        outputs: json_of(&r.get::<_, String>(8)?),
        created: parse_ts(&r.get::<_, String>(9)?),
        started: r.get::<_, Option<String>>(10)?.map(|s| parse_ts(&s)),
        ended: r.get::<_, Option<String>>(11)?.map(|s| parse_ts(&s)),
        original_id: r.get(12)?,
        parent_id: r.get(13)?,
        owner: pid.map(|pid| Owner {
            pid,
            start: start.unwrap_or(0) as u64,
        }),
        queue: r
            .get::<_, bool>(16)?
            .then(|| r.get(17).map(|limit| QueueSlot { limit }))
            .transpose()?,
    })
}

/// The WHERE clause of `ExecutionFilter`, on parameters ?1‥?6.
const FILTER_SQL: &str =
    "(?1 IS NULL OR namespace = ?1 OR substr(namespace, 1, length(?1) + 1) = ?1 || '.')
     AND (?2 IS NULL OR flow_id = ?2)
     AND (?3 IS NULL OR state IN (SELECT value FROM json_each(?3)))
     AND (?4 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?4) w WHERE NOT EXISTS (
            SELECT 1 FROM json_each(executions.labels) l
            WHERE json_extract(l.value, '$[0]') = json_extract(w.value, '$[0]')
              AND json_extract(l.value, '$[1]') = json_extract(w.value, '$[1]'))))
     AND (?5 IS NULL OR created >= ?5)
     AND (?6 IS NULL OR created < ?6)";

fn filter_params(f: &ExecutionFilter) -> [Option<String>; 6] {
    [
        f.namespace.clone(),
        f.flow_id.clone(),
        (!f.states.is_empty()).then(|| {
            serde_json::to_string(&f.states.iter().map(|s| s.as_str()).collect::<Vec<_>>())
                .unwrap_or_default()
        }),
        (!f.labels.is_empty()).then(|| serde_json::to_string(&f.labels).unwrap_or_default()),
        f.from.map(ts),
        f.to.map(ts),
    ]
}

fn backfill_row(r: &Row<'_>) -> rusqlite::Result<BackfillRecord> {
    Ok(BackfillRecord {
        id: r.get(0)?,
        namespace: r.get(1)?,
        flow_id: r.get(2)?,
        trigger_id: r.get(3)?,
        start: parse_ts(&r.get::<_, String>(4)?),
        end: parse_ts(&r.get::<_, String>(5)?),
        current: r.get::<_, Option<String>>(6)?.map(|s| parse_ts(&s)),
        inputs: json_of(&r.get::<_, String>(7)?),
        labels: serde_json::from_str(&r.get::<_, String>(8)?).unwrap_or_default(),
        state: BackfillState::parse(&r.get::<_, String>(9)?).unwrap_or(BackfillState::Cancelled),
        total: r.get::<_, i64>(10)? as u64,
        created_count: r.get::<_, i64>(11)? as u64,
        created: parse_ts(&r.get::<_, String>(12)?),
    })
}

const BACKFILL_COLS: &str = "id, namespace, flow_id, trigger_id, start, end, current, inputs, labels, state, total, created_count, created";

fn trigger_row(r: &Row<'_>) -> rusqlite::Result<TriggerRecord> {
    Ok(TriggerRecord {
        namespace: r.get(0)?,
        flow_id: r.get(1)?,
        trigger_id: r.get(2)?,
        last_date: r.get::<_, Option<String>>(3)?.map(|s| parse_ts(&s)),
        disabled: r.get(4)?,
        updated: parse_ts(&r.get::<_, String>(5)?),
    })
}

/// The moment an execution's process was last seen alive: its last heartbeat, state change
/// or log line, whichever is latest (timestamps share one format, so text order is time order).
fn last_seen(tx: &rusqlite::Transaction<'_>, id: &str) -> rusqlite::Result<String> {
    Ok(tx
        .query_row(
            "SELECT MAX(t) FROM (
                SELECT seen AS t FROM executions WHERE id = ?1
                UNION ALL SELECT started FROM executions WHERE id = ?1
                UNION ALL SELECT created FROM executions WHERE id = ?1
                UNION ALL SELECT s.at FROM task_run_states s JOIN task_runs r ON r.id = s.task_run_id WHERE r.execution_id = ?1
                UNION ALL SELECT at FROM logs WHERE execution_id = ?1)",
            params![id],
            |r| r.get::<_, Option<String>>(0),
        )?
        .unwrap_or_else(|| ts(Utc::now())))
}

/// Records a trigger's last handled date, creating its row when needed.
fn write_trigger_date(
    conn: &Connection,
    namespace: &str,
    flow_id: &str,
    trigger_id: &str,
    date: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date, disabled, updated) VALUES (?1, ?2, ?3, ?4, 0, ?5)
         ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET last_date = excluded.last_date, updated = excluded.updated",
        params![namespace, flow_id, trigger_id, ts(date), ts(Utc::now())],
    )
}

/// Ends every unfinished task run of an execution in `state` at `at`, recording it for the
/// attempt each was in. Returns them as `(task run id, task id)`.
fn end_open_task_runs(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: State,
    at: &str,
) -> rusqlite::Result<Vec<(String, String)>> {
    let open = open_task_runs(tx, id)?;
    for (run, _, attempts) in &open {
        tx.execute(
            "UPDATE task_runs SET state = ?2 WHERE id = ?1",
            params![run, state.as_str()],
        )?;
        tx.execute(
            "INSERT INTO task_run_states VALUES (?1, ?2, ?3, ?4)",
            params![run, state.as_str(), at, attempts],
        )?;
    }
    Ok(open.into_iter().map(|(r, t, _)| (r, t)).collect())
}

/// A log line from `execution_id, task_run_id, task_id, attempt, level, at, message`, starting
/// at column `from`.
fn log_row(r: &Row<'_>, from: usize) -> rusqlite::Result<LogRecord> {
    Ok(LogRecord {
        execution_id: r.get(from)?,
        task_run_id: r.get(from + 1)?,
        task_id: r.get(from + 2)?,
        attempt: r.get(from + 3)?,
        level: Level::parse(&r.get::<_, String>(from + 4)?).unwrap_or(Level::Info),
        at: parse_ts(&r.get::<_, String>(from + 5)?),
        message: r.get(from + 6)?,
    })
}

/// The task runs of an execution that had not ended: `(task run id, task id, attempts)`.
fn open_task_runs(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
) -> rusqlite::Result<Vec<(String, String, u32)>> {
    let mut stmt = tx.prepare("SELECT id, task_id, attempts FROM task_runs WHERE execution_id = ?1 AND state IN ('CREATED', 'RUNNING', 'RETRYING', 'QUEUED')")?;
    let rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

impl LogSink for SqliteStore {
    fn append_logs(&self, logs: &[LogRecord]) -> Result<()> {
        if logs.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("writing logs"))?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO logs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
                .map_err(db("writing logs"))?;
            for l in logs {
                stmt.execute(params![
                    l.execution_id,
                    l.task_run_id,
                    l.task_id,
                    l.attempt,
                    l.level.as_str(),
                    ts(l.at),
                    l.message
                ])
                .map_err(db("writing logs"))?;
            }
        }
        tx.commit().map_err(db("writing logs"))
    }
}

impl KvStore for SqliteStore {
    fn kv_set(&self, e: &KvEntry) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO kv VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, kind = excluded.kind, expires = excluded.expires, updated = excluded.updated",
            params![e.namespace, e.key, e.value.to_string(), e.kind, e.expires.map(ts), ts(e.updated)],
        )
        .map_err(db("writing a KV entry"))?;
        Ok(())
    }

    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<KvEntry>> {
        let conn = self.conn();
        conn.prepare_cached("SELECT namespace, key, value, kind, expires, updated FROM kv WHERE namespace = ?1 AND key = ?2 AND (expires IS NULL OR expires > ?3)")
            .and_then(|mut s| s.query_row(params![namespace, key, ts(Utc::now())], kv_row).optional())
            .map_err(db("reading a KV entry"))
    }

    fn kv_list(&self, namespace: &str) -> Result<Vec<KvEntry>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT namespace, key, value, kind, expires, updated FROM kv WHERE namespace = ?1 AND (expires IS NULL OR expires > ?2) ORDER BY key")
            .map_err(db("listing KV entries"))?;
        let rows = stmt
            .query_map(params![namespace, ts(Utc::now())], kv_row)
            .map_err(db("listing KV entries"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing KV entries"))
    }

    fn kv_delete(&self, namespace: &str, key: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute(
                "DELETE FROM kv WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
            )
            .map_err(db("deleting a KV entry"))?;
        Ok(n > 0)
    }
}

impl ExecutionCounter for SqliteStore {
    fn count_matching(&self, filter: &ExecutionFilter) -> Result<u64> {
        Store::count_executions(self, filter)
    }
}

impl Store for SqliteStore {
    fn save_flow(
        &self,
        namespace: &str,
        id: &str,
        source: &str,
        deploy: bool,
    ) -> Result<FlowRecord> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("saving a flow"))?;
        let latest = tx
            .query_row(
                &format!("SELECT {FLOW_COLS} FROM flows WHERE namespace = ?1 AND id = ?2 ORDER BY revision DESC LIMIT 1"),
                params![namespace, id],
                flow_row,
            )
            .optional()
            .map_err(db("saving a flow"))?;
        if let Some(mut latest) = latest
            && latest.source == source
        {
            if deploy && !latest.deployed {
                tx.execute(
                    "UPDATE flows SET deployed = 1 WHERE namespace = ?1 AND id = ?2 AND revision = ?3",
                    params![namespace, id, latest.revision],
                )
                .map_err(db("saving a flow"))?;
                tx.commit().map_err(db("saving a flow"))?;
                latest.deployed = true;
            }
            return Ok(latest);
        }
        let revision = tx
            .query_row(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM flows WHERE namespace = ?1 AND id = ?2",
                params![namespace, id],
                |r| r.get(0),
            )
            .map_err(db("saving a flow"))?;
        let now = Utc::now();
        tx.execute(
            &format!("INSERT INTO flows ({FLOW_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
            params![namespace, id, revision, source, ts(now), deploy],
        )
        .map_err(db("saving a flow"))?;
        tx.commit().map_err(db("saving a flow"))?;
        Ok(FlowRecord {
            namespace: namespace.into(),
            id: id.into(),
            revision,
            source: source.into(),
            updated: now,
            deployed: deploy,
        })
    }

    fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<i64>,
    ) -> Result<Option<FlowRecord>> {
        let conn = self.conn();
        // Without a revision: the latest deployed one. With one: that one, deployed or not.
        let sql = format!(
            "SELECT {FLOW_COLS} FROM flows WHERE namespace = ?1 AND id = ?2 AND (?3 IS NULL AND deployed = 1 OR revision = ?3) ORDER BY revision DESC LIMIT 1"
        );
        conn.query_row(&sql, params![namespace, id, revision], flow_row)
            .optional()
            .map_err(db("reading a flow"))
    }

    fn list_flows(&self) -> Result<Vec<FlowRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT f.namespace, f.id, f.revision, f.source, f.updated, f.deployed FROM flows f
                 WHERE f.revision = (SELECT MAX(revision) FROM flows g WHERE g.namespace = f.namespace AND g.id = f.id AND g.deployed = 1)
                 ORDER BY f.namespace, f.id",
            )
            .map_err(db("listing flows"))?;
        let rows = stmt.query_map([], flow_row).map_err(db("listing flows"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing flows"))
    }

    fn create_execution_advancing(
        &self,
        e: &ExecutionRecord,
        advance: Option<Advance<'_>>,
    ) -> Result<bool> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("creating an execution"))?;
        match advance {
            None => {}
            Some(Advance::Trigger {
                namespace,
                flow_id,
                trigger_id,
                date,
            }) => {
                let last: Option<String> = tx
                    .query_row(
                        "SELECT last_date FROM triggers WHERE namespace = ?1 AND flow_id = ?2 AND trigger_id = ?3",
                        params![namespace, flow_id, trigger_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db("creating an execution"))?
                    .flatten();
                // Same format, so text order is time order (and both are cut to microseconds).
                if last.is_some_and(|l| l >= ts(date)) {
                    return Ok(false);
                }
                write_trigger_date(&tx, namespace, flow_id, trigger_id, date)
                    .map_err(db("creating an execution"))?;
            }
            Some(Advance::Backfill { id, date }) => {
                let current: Option<Option<String>> = tx
                    .query_row(
                        "SELECT current FROM backfills WHERE id = ?1",
                        params![id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(db("creating an execution"))?;
                let Some(current) = current else {
                    return Ok(false);
                };
                if current.is_some_and(|c| c >= ts(date)) {
                    return Ok(false);
                }
                tx.execute(
                    "UPDATE backfills SET current = ?2, created_count = created_count + 1 WHERE id = ?1",
                    params![id, ts(date)],
                )
                .map_err(db("creating an execution"))?;
            }
        }
        tx.prepare_cached(&format!("INSERT INTO executions ({EXEC_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"))
            .and_then(|mut s| {
                s.execute(params![
                    e.id,
                    e.namespace,
                    e.flow_id,
                    e.flow_revision,
                    e.state.as_str(),
                    e.inputs.to_string(),
                    serde_json::to_string(&e.labels).unwrap_or_default(),
                    e.trigger.to_string(),
                    e.outputs.to_string(),
                    ts(e.created),
                    e.started.map(ts),
                    e.ended.map(ts),
                    e.original_id,
                    e.parent_id,
                    e.owner.map(|o| o.pid),
                    e.owner.map(|o| o.start as i64),
                    e.queue.is_some(),
                    e.queue.and_then(|q| q.limit),
                ])
            })
            .map_err(db("creating an execution"))?;
        tx.commit().map_err(db("creating an execution"))?;
        Ok(true)
    }

    fn claim_execution(&self, owner: Owner) -> Result<Option<ExecutionRecord>> {
        let mut conn = self.conn();
        // Idle workers ask often: an empty queue is answered by a read, without the write lock.
        let waiting: bool = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM executions WHERE queued = 1 AND owner_pid IS NULL
                 AND state IN ('CREATED', 'QUEUED', 'RUNNING', 'RESTARTED'))",
            )
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(db("claiming an execution"))?;
        if !waiting {
            return Ok(None);
        }
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("claiming an execution"))?;
        // The oldest unowned queued execution whose flow has a free slot. Executions being
        // resumed (already RUNNING) count against nothing: they held their slot.
        let id: Option<String> = tx
            .query_row(
                "SELECT e.id FROM executions e
                 WHERE e.queued = 1 AND e.owner_pid IS NULL AND e.state IN ('CREATED', 'QUEUED', 'RUNNING', 'RESTARTED')
                   AND (e.state IN ('RUNNING', 'RESTARTED') OR e.queue_limit IS NULL OR e.queue_limit > (
                        SELECT COUNT(*) FROM executions r
                        WHERE r.namespace = e.namespace AND r.flow_id = e.flow_id AND r.state IN ('RUNNING', 'RESTARTED')))
                 ORDER BY e.state IN ('RUNNING', 'RESTARTED') DESC, e.created, e.id LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("claiming an execution"))?;
        let Some(id) = id else {
            // Executions that must wait for a slot show it.
            tx.execute(
                "UPDATE executions SET state = 'QUEUED' WHERE queued = 1 AND owner_pid IS NULL AND state = 'CREATED'",
                [],
            )
            .map_err(db("claiming an execution"))?;
            tx.commit().map_err(db("claiming an execution"))?;
            return Ok(None);
        };
        let now = ts(Utc::now());
        tx.execute(
            "UPDATE executions SET state = 'RUNNING', started = COALESCE(started, ?2), owner_pid = ?3, owner_start = ?4, seen = ?2 WHERE id = ?1",
            params![id, now, owner.pid, owner.start as i64],
        )
        .map_err(db("claiming an execution"))?;
        let record = tx
            .query_row(
                &format!("SELECT {EXEC_COLS} FROM executions WHERE id = ?1"),
                params![id],
                exec_row,
            )
            .map_err(db("claiming an execution"))?;
        tx.commit().map_err(db("claiming an execution"))?;
        Ok(Some(record))
    }

    fn release_execution(&self, id: &str) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE executions SET owner_pid = NULL, owner_start = NULL WHERE id = ?1 AND queued = 1",
            params![id],
        )
        .map_err(db("releasing an execution"))?;
        Ok(())
    }

    fn release_orphans(&self, alive: LivenessCheck<'_>) -> Result<Vec<Orphan>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("recovering executions"))?;
        let candidates: Vec<(String, u32, Option<i64>)> = {
            let mut stmt = tx
                .prepare("SELECT id, owner_pid, owner_start FROM executions WHERE queued = 1 AND owner_pid IS NOT NULL AND state IN ('CREATED', 'QUEUED', 'RUNNING', 'RESTARTED')")
                .map_err(db("recovering executions"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db("recovering executions"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(db("recovering executions"))?
        };
        let mut released = Vec::new();
        for (id, pid, start) in candidates {
            if alive(pid, start.unwrap_or(0) as u64) {
                continue;
            }
            let seen = last_seen(&tx, &id).map_err(db("recovering executions"))?;
            let open = end_open_task_runs(&tx, &id, State::Failed, &seen)
                .map_err(db("recovering executions"))?;
            tx.execute(
                "UPDATE executions SET owner_pid = NULL, owner_start = NULL WHERE id = ?1",
                params![id],
            )
            .map_err(db("recovering executions"))?;
            tx.execute(
                "INSERT INTO logs VALUES (?1, NULL, NULL, NULL, 'WARN', ?2, ?3)",
                params![id, seen, format!("the weir worker (pid {pid}) that ran this execution is gone; it goes back to the queue and resumes where it stopped")],
            )
            .map_err(db("recovering executions"))?;
            released.push(Orphan {
                execution_id: id,
                interrupted: open,
            });
        }
        tx.commit().map_err(db("recovering executions"))?;
        Ok(released)
    }

    fn restart_execution(&self, id: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE executions SET state = 'RESTARTED', ended = NULL, queued = 1, owner_pid = NULL, owner_start = NULL, kill_requested = 0
                 WHERE id = ?1 AND state IN ('FAILED', 'KILLED')",
                params![id],
            )
            .map_err(db("restarting an execution"))?;
        Ok(n > 0)
    }

    fn resume_execution(&self, id: &str, owner: Option<Owner>) -> Result<Option<ExecutionRecord>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("resuming an execution"))?;
        let n = tx
            .execute(
                "UPDATE executions SET state = 'RUNNING', owner_pid = ?2, owner_start = ?3,
                 queued = (?2 IS NULL), seen = ?4, kill_requested = 0
                 WHERE id = ?1 AND state = 'PAUSED'",
                params![
                    id,
                    owner.map(|o| o.pid),
                    owner.map(|o| o.start as i64),
                    ts(Utc::now())
                ],
            )
            .map_err(db("resuming an execution"))?;
        if n == 0 {
            return Ok(None);
        }
        let record = tx
            .query_row(
                &format!("SELECT {EXEC_COLS} FROM executions WHERE id = ?1"),
                params![id],
                exec_row,
            )
            .map_err(db("resuming an execution"))?;
        tx.commit().map_err(db("resuming an execution"))?;
        Ok(Some(record))
    }

    fn request_kill(&self, id: &str) -> Result<KillOutcome> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("killing an execution"))?;
        let row: Option<(String, Option<u32>)> = tx
            .query_row(
                "SELECT state, owner_pid FROM executions WHERE id = ?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("killing an execution"))?;
        let Some((state, owner)) = row else {
            return Ok(KillOutcome::NotFound);
        };
        let state = state_of(&state);
        if state.is_terminated() {
            return Ok(KillOutcome::AlreadyEnded(state));
        }
        let outcome = if owner.is_none() {
            let now = ts(Utc::now());
            tx.execute(
                "UPDATE executions SET state = 'KILLED', ended = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(db("killing an execution"))?;
            end_open_task_runs(&tx, id, State::Killed, &now).map_err(db("killing an execution"))?;
            KillOutcome::Killed
        } else {
            tx.execute(
                "UPDATE executions SET kill_requested = 1 WHERE id = ?1",
                params![id],
            )
            .map_err(db("killing an execution"))?;
            KillOutcome::Requested
        };
        tx.commit().map_err(db("killing an execution"))?;
        Ok(outcome)
    }

    fn count_executions(&self, f: &ExecutionFilter) -> Result<u64> {
        let conn = self.conn();
        let p = filter_params(f);
        conn.query_row(
            &format!("SELECT COUNT(*) FROM executions WHERE {FILTER_SQL}"),
            params![p[0], p[1], p[2], p[3], p[4], p[5]],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n as u64)
        .map_err(db("counting executions"))
    }

    fn flow_revisions(&self, namespace: &str, id: &str) -> Result<Vec<FlowRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {FLOW_COLS} FROM flows WHERE namespace = ?1 AND id = ?2 ORDER BY revision"
            ))
            .map_err(db("listing flow revisions"))?;
        let rows = stmt
            .query_map(params![namespace, id], flow_row)
            .map_err(db("listing flow revisions"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing flow revisions"))
    }

    fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool> {
        let conn = self.conn();
        let n = conn
            .execute(
                "UPDATE flows SET deployed = 0 WHERE namespace = ?1 AND id = ?2 AND deployed = 1",
                params![namespace, id],
            )
            .map_err(db("deleting a flow"))?;
        Ok(n > 0)
    }

    fn logs_after(
        &self,
        execution_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, LogRecord)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT rowid, execution_id, task_run_id, task_id, attempt, level, at, message FROM logs WHERE execution_id = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3")
            .map_err(db("reading logs"))?;
        let rows = stmt
            .query_map(params![execution_id, after, limit as i64], |r| {
                Ok((r.get(0)?, log_row(r, 1)?))
            })
            .map_err(db("reading logs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("reading logs"))
    }

    fn get_trigger(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
    ) -> Result<Option<TriggerRecord>> {
        let conn = self.conn();
        conn.query_row(
            "SELECT namespace, flow_id, trigger_id, last_date, disabled, updated FROM triggers WHERE namespace = ?1 AND flow_id = ?2 AND trigger_id = ?3",
            params![namespace, flow_id, trigger_id],
            trigger_row,
        )
        .optional()
        .map_err(db("reading a trigger"))
    }

    fn list_triggers(&self) -> Result<Vec<TriggerRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT namespace, flow_id, trigger_id, last_date, disabled, updated FROM triggers ORDER BY namespace, flow_id, trigger_id")
            .map_err(db("listing triggers"))?;
        let rows = stmt
            .query_map([], trigger_row)
            .map_err(db("listing triggers"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing triggers"))
    }

    fn set_trigger_date(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        date: DateTime<Utc>,
    ) -> Result<()> {
        write_trigger_date(&self.conn(), namespace, flow_id, trigger_id, date)
            .map_err(db("updating a trigger"))?;
        Ok(())
    }

    fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO triggers (namespace, flow_id, trigger_id, last_date, disabled, updated) VALUES (?1, ?2, ?3, NULL, ?4, ?5)
             ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET disabled = excluded.disabled, updated = excluded.updated",
            params![namespace, flow_id, trigger_id, disabled, ts(Utc::now())],
        )
        .map_err(db("updating a trigger"))?;
        Ok(())
    }

    fn create_backfill(&self, b: &BackfillRecord) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            &format!("INSERT INTO backfills ({BACKFILL_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
            params![
                b.id,
                b.namespace,
                b.flow_id,
                b.trigger_id,
                ts(b.start),
                ts(b.end),
                b.current.map(ts),
                b.inputs.to_string(),
                serde_json::to_string(&b.labels).unwrap_or_default(),
                b.state.as_str(),
                b.total as i64,
                b.created_count as i64,
                ts(b.created)
            ],
        )
        .map_err(db("creating a backfill"))?;
        Ok(())
    }

    fn get_backfill(&self, id: &str) -> Result<Option<BackfillRecord>> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {BACKFILL_COLS} FROM backfills WHERE id = ?1"),
            params![id],
            backfill_row,
        )
        .optional()
        .map_err(db("reading a backfill"))
    }

    fn list_backfills(&self) -> Result<Vec<BackfillRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {BACKFILL_COLS} FROM backfills ORDER BY created DESC, id"
            ))
            .map_err(db("listing backfills"))?;
        let rows = stmt
            .query_map([], backfill_row)
            .map_err(db("listing backfills"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing backfills"))
    }

    fn set_backfill_state(&self, id: &str, state: BackfillState) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE backfills SET state = ?2 WHERE id = ?1",
            params![id, state.as_str()],
        )
        .map_err(db("updating a backfill"))?;
        Ok(())
    }

    fn try_start_execution(&self, id: &str, limit: Option<u32>, owner: Owner) -> Result<bool> {
        let mut conn = self.conn();
        // IMMEDIATE takes the write lock first, so two processes cannot both see a free slot.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("starting an execution"))?;
        if let Some(limit) = limit {
            let running: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM executions r JOIN executions e ON e.id = ?1
                     WHERE r.namespace = e.namespace AND r.flow_id = e.flow_id AND r.state = 'RUNNING' AND r.id <> e.id",
                    params![id],
                    |r| r.get(0),
                )
                .map_err(db("starting an execution"))?;
            if running >= i64::from(limit) {
                return Ok(false);
            }
        }
        let now = ts(Utc::now());
        tx.execute(
            "UPDATE executions SET state = 'RUNNING', started = ?2, owner_pid = ?3, owner_start = ?4 WHERE id = ?1",
            params![id, now, owner.pid, owner.start as i64],
        )
        .map_err(db("starting an execution"))?;
        tx.commit().map_err(db("starting an execution"))?;
        Ok(true)
    }

    fn set_execution_state(&self, id: &str, state: State) -> Result<()> {
        let conn = self.conn();
        let ended = state.is_terminated().then(|| ts(Utc::now()));
        conn.prepare_cached(
            "UPDATE executions SET state = ?2, ended = COALESCE(?3, ended) WHERE id = ?1",
        )
        .and_then(|mut s| s.execute(params![id, state.as_str(), ended]))
        .map_err(db("updating an execution"))?;
        Ok(())
    }

    fn set_execution_labels(&self, id: &str, labels: &[(String, String)]) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE executions SET labels = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(labels).unwrap_or_default()],
        )
        .map_err(db("updating execution labels"))?;
        Ok(())
    }

    fn set_execution_outputs(&self, id: &str, outputs: &serde_json::Value) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "UPDATE executions SET outputs = ?2 WHERE id = ?1",
            params![id, outputs.to_string()],
        )
        .map_err(db("updating execution outputs"))?;
        Ok(())
    }

    fn get_execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        let conn = self.conn();
        conn.query_row(
            &format!("SELECT {EXEC_COLS} FROM executions WHERE id = ?1"),
            params![id],
            exec_row,
        )
        .optional()
        .map_err(db("reading an execution"))
    }

    fn find_execution(&self, id_prefix: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id FROM executions WHERE id >= ?1 AND id < ?1 || x'ff' LIMIT 5")
            .map_err(db("finding an execution"))?;
        let rows = stmt
            .query_map(params![id_prefix], |r| r.get(0))
            .map_err(db("finding an execution"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("finding an execution"))
    }

    fn list_executions(&self, f: &ExecutionFilter) -> Result<Vec<ExecutionRecord>> {
        let conn = self.conn();
        let sql = format!(
            "SELECT {EXEC_COLS} FROM executions WHERE {FILTER_SQL} ORDER BY created DESC, id DESC LIMIT ?7 OFFSET ?8"
        );
        let mut stmt = conn.prepare(&sql).map_err(db("listing executions"))?;
        let limit = f.limit.map_or(-1, |l| l as i64);
        let p = filter_params(f);
        let rows = stmt
            .query_map(
                params![p[0], p[1], p[2], p[3], p[4], p[5], limit, f.offset as i64],
                exec_row,
            )
            .map_err(db("listing executions"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("listing executions"))
    }

    /// `seq` is the next number in the execution: one step down the `(execution_id, seq)`
    /// index, not a count of its runs, so a long flow's cost per task run stays flat.
    fn create_task_run(&self, t: &TaskRunRecord) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("creating a task run"))?;
        tx.prepare_cached(
            "INSERT INTO task_runs (id, execution_id, seq, task_id, task_type, parent_id, value, state, attempts, outputs)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(seq) + 1, 0) FROM task_runs WHERE execution_id = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut s| {
            s.execute(params![t.id, t.execution_id, t.task_id, t.task_type, t.parent_id, t.value, t.state.as_str(), t.attempts, t.outputs.to_string()])
        })
        .map_err(db("creating a task run"))?;
        for h in &t.history {
            tx.prepare_cached("INSERT INTO task_run_states VALUES (?1, ?2, ?3, ?4)")
                .and_then(|mut s| s.execute(params![t.id, h.state.as_str(), ts(h.at), h.attempt]))
                .map_err(db("creating a task run"))?;
        }
        tx.commit().map_err(db("creating a task run"))
    }

    fn set_task_run_state(&self, id: &str, state: State, attempts: u32) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(db("updating a task run"))?;
        tx.prepare_cached("UPDATE task_runs SET state = ?2, attempts = ?3 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, state.as_str(), attempts]))
            .map_err(db("updating a task run"))?;
        tx.prepare_cached("INSERT INTO task_run_states VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![id, state.as_str(), ts(Utc::now()), attempts]))
            .map_err(db("updating a task run"))?;
        tx.commit().map_err(db("updating a task run"))
    }

    fn set_task_run_outputs(&self, id: &str, outputs: &serde_json::Value) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached("UPDATE task_runs SET outputs = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, outputs.to_string()]))
            .map_err(db("storing task outputs"))?;
        Ok(())
    }

    fn task_runs(&self, execution_id: &str) -> Result<Vec<TaskRunRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, execution_id, task_id, task_type, parent_id, value, state, attempts, outputs FROM task_runs WHERE execution_id = ?1 ORDER BY seq")
            .map_err(db("reading task runs"))?;
        let mut runs: Vec<TaskRunRecord> = stmt
            .query_map(params![execution_id], |r| {
                Ok(TaskRunRecord {
                    id: r.get(0)?,
                    execution_id: r.get(1)?,
                    task_id: r.get(2)?,
                    task_type: r.get(3)?,
                    parent_id: r.get(4)?,
                    value: r.get(5)?,
                    state: state_of(&r.get::<_, String>(6)?),
                    attempts: r.get(7)?,
                    outputs: json_of(&r.get::<_, String>(8)?),
                    history: Vec::new(),
                })
            })
            .map_err(db("reading task runs"))?
            .collect::<rusqlite::Result<_>>()
            .map_err(db("reading task runs"))?;
        let mut hist = conn
            .prepare("SELECT s.task_run_id, s.state, s.at, s.attempt FROM task_run_states s JOIN task_runs t ON t.id = s.task_run_id WHERE t.execution_id = ?1 ORDER BY s.rowid")
            .map_err(db("reading task runs"))?;
        let changes = hist
            .query_map(params![execution_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })
            .map_err(db("reading task runs"))?;
        let index: std::collections::HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for c in changes {
            let (id, state, at, attempt) = c.map_err(db("reading task runs"))?;
            if let Some(&i) = index.get(&id) {
                runs[i].history.push(StateChange {
                    state: state_of(&state),
                    at: parse_ts(&at),
                    attempt,
                });
            }
        }
        Ok(runs)
    }

    fn logs(&self, execution_id: &str) -> Result<Vec<LogRecord>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT execution_id, task_run_id, task_id, attempt, level, at, message FROM logs WHERE execution_id = ?1 ORDER BY rowid")
            .map_err(db("reading logs"))?;
        let rows = stmt
            .query_map(params![execution_id], |r| log_row(r, 0))
            .map_err(db("reading logs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("reading logs"))
    }

    fn heartbeat(&self, id: &str) -> Result<bool> {
        let conn = self.conn();
        conn.prepare_cached(
            "UPDATE executions SET seen = ?2 WHERE id = ?1 RETURNING kill_requested",
        )
        .and_then(|mut s| {
            s.query_row(params![id, ts(Utc::now())], |r| r.get::<_, bool>(0))
                .optional()
        })
        .map(|k| k.unwrap_or(false))
        .map_err(db("recording that an execution is alive"))
    }

    fn fail_orphans(&self, alive: LivenessCheck<'_>) -> Result<Vec<Orphan>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("recovering executions"))?;
        let candidates: Vec<(String, Option<u32>, Option<i64>)> = {
            let mut stmt = tx
                .prepare("SELECT id, owner_pid, owner_start FROM executions WHERE queued = 0 AND state IN ('CREATED', 'QUEUED', 'RUNNING')")
                .map_err(db("recovering executions"))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db("recovering executions"))?;
            rows.collect::<rusqlite::Result<_>>()
                .map_err(db("recovering executions"))?
        };
        let mut failed = Vec::new();
        for (id, pid, start) in candidates {
            let Some(pid) = pid else { continue };
            if alive(pid, start.unwrap_or(0) as u64) {
                continue;
            }
            // It ended when its process was last seen alive.
            let now = last_seen(&tx, &id).map_err(db("recovering executions"))?;
            tx.execute(
                "UPDATE executions SET state = 'FAILED', ended = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(db("recovering executions"))?;
            let open = end_open_task_runs(&tx, &id, State::Failed, &now)
                .map_err(db("recovering executions"))?;
            tx.execute(
                "INSERT INTO logs VALUES (?1, NULL, NULL, NULL, 'ERROR', ?2, ?3)",
                params![id, now, format!("the weir process (pid {pid}) that ran this execution is gone (killed, or the machine stopped); marked FAILED as of when it was last seen alive")],
            )
            .map_err(db("recovering executions"))?;
            failed.push(Orphan {
                execution_id: id,
                interrupted: open,
            });
        }
        tx.commit().map_err(db("recovering executions"))?;
        Ok(failed)
    }
}

fn kv_row(r: &Row<'_>) -> rusqlite::Result<KvEntry> {
    Ok(KvEntry {
        namespace: r.get(0)?,
        key: r.get(1)?,
        value: json_of(&r.get::<_, String>(2)?),
        kind: r.get(3)?,
        expires: r.get::<_, Option<String>>(4)?.map(|s| parse_ts(&s)),
        updated: parse_ts(&r.get::<_, String>(5)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(id: &str) -> ExecutionRecord {
        ExecutionRecord {
            id: id.into(),
            namespace: "ns".into(),
            flow_id: "f".into(),
            flow_revision: 1,
            state: State::Created,
            inputs: serde_json::json!({}),
            labels: vec![],
            trigger: serde_json::Value::Null,
            outputs: serde_json::json!({}),
            created: Utc::now(),
            started: None,
            ended: None,
            original_id: None,
            parent_id: None,
            owner: None,
            queue: None,
        }
    }

    fn queued(id: &str, limit: Option<u32>) -> ExecutionRecord {
        ExecutionRecord {
            queue: Some(QueueSlot { limit }),
            ..exec(id)
        }
    }

    #[test]
    fn each_queued_execution_goes_to_one_worker_within_the_flow_limit() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let w1 = Owner { pid: 1, start: 1 };
        let w2 = Owner { pid: 2, start: 2 };
        for id in ["a", "b", "c"] {
            s.create_execution(&queued(id, Some(2))).unwrap();
        }
        assert_eq!(s.claim_execution(w1).unwrap().unwrap().id, "a");
        assert_eq!(s.claim_execution(w2).unwrap().unwrap().id, "b");
        // Two run: the limit holds `c` back, and shows it QUEUED.
        assert!(s.claim_execution(w1).unwrap().is_none());
        assert_eq!(s.get_execution("c").unwrap().unwrap().state, State::Queued);
        s.set_execution_state("a", State::Success).unwrap();
        let c = s.claim_execution(w1).unwrap().unwrap();
        assert_eq!(
            (c.id.as_str(), c.state, c.owner),
            ("c", State::Running, Some(w1))
        );
        assert!(s.claim_execution(w2).unwrap().is_none());
    }

    #[test]
    fn a_dead_workers_execution_is_released_with_a_failed_attempt_and_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        s.create_execution(&queued("a", None)).unwrap();
        let dead = Owner { pid: 9, start: 9 };
        s.claim_execution(dead).unwrap().unwrap();
        let run = TaskRunRecord {
            id: "r".into(),
            execution_id: "a".into(),
            task_id: "t".into(),
            task_type: "x".into(),
            parent_id: None,
            value: None,
            state: State::Running,
            attempts: 1,
            outputs: serde_json::json!({}),
            history: vec![StateChange {
                state: State::Running,
                at: Utc::now(),
                attempt: 1,
            }],
        };
        s.create_task_run(&run).unwrap();
        // Not queued executions are failed, queued ones left alone by `fail_orphans`.
        assert!(s.fail_orphans(&|_, _| false).unwrap().is_empty());
        let released = s.release_orphans(&|_, _| false).unwrap();
        assert_eq!(
            released[0].interrupted,
            vec![("r".to_string(), "t".to_string())]
        );
        let runs = s.task_runs("a").unwrap();
        assert_eq!(runs[0].state, State::Failed);
        assert_eq!(
            runs[0].history.last().map(|h| (h.state, h.attempt)),
            Some((State::Failed, 1))
        );
        let again = s
            .claim_execution(Owner { pid: 3, start: 3 })
            .unwrap()
            .unwrap();
        assert_eq!((again.id.as_str(), again.state), ("a", State::Running));
    }

    #[test]
    fn a_scheduled_date_makes_one_execution_even_when_offered_twice() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let date = Utc::now();
        let adv = Advance::Trigger {
            namespace: "ns",
            flow_id: "f",
            trigger_id: "t",
            date,
        };
        assert!(
            s.create_execution_advancing(&queued("a", None), Some(adv))
                .unwrap()
        );
        assert!(
            !s.create_execution_advancing(&queued("b", None), Some(adv))
                .unwrap()
        );
        assert!(s.get_execution("b").unwrap().is_none());
        assert_eq!(
            s.get_trigger("ns", "f", "t")
                .unwrap()
                .unwrap()
                .last_date
                .map(|d| d.timestamp_micros()),
            Some(date.timestamp_micros())
        );
    }

    #[test]
    fn kills_end_waiting_executions_and_ask_running_ones() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        s.create_execution(&queued("a", None)).unwrap();
        s.create_execution(&queued("b", None)).unwrap();
        s.claim_execution(Owner { pid: 1, start: 1 }).unwrap();
        assert!(!s.heartbeat("a").unwrap());
        assert_eq!(s.request_kill("a").unwrap(), KillOutcome::Requested);
        assert!(s.heartbeat("a").unwrap());
        assert_eq!(s.request_kill("b").unwrap(), KillOutcome::Killed);
        assert_eq!(s.get_execution("b").unwrap().unwrap().state, State::Killed);
        assert_eq!(
            s.request_kill("b").unwrap(),
            KillOutcome::AlreadyEnded(State::Killed)
        );
        assert_eq!(s.request_kill("zz").unwrap(), KillOutcome::NotFound);
    }

    #[test]
    fn executions_filter_by_namespace_prefix_labels_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        for (i, ns) in ["co", "co.team", "cop"].iter().enumerate() {
            let mut e = exec(&format!("e{i}"));
            e.namespace = (*ns).into();
            e.labels = vec![
                ("backfill".into(), "true".into()),
                ("n".into(), i.to_string()),
            ];
            s.create_execution(&e).unwrap();
        }
        let f = ExecutionFilter {
            namespace: Some("co".into()),
            ..Default::default()
        };
        assert_eq!(s.count_executions(&f).unwrap(), 2);
        let f = ExecutionFilter {
            labels: vec![("backfill".into(), "true".into()), ("n".into(), "2".into())],
            ..Default::default()
        };
        let found = s.list_executions(&f).unwrap();
        assert_eq!(
            found.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["e2"]
        );
        let f = ExecutionFilter {
            offset: 1,
            limit: Some(1),
            ..Default::default()
        };
        assert_eq!(s.list_executions(&f).unwrap().len(), 1);
        let f = ExecutionFilter {
            states: vec![State::Success],
            ..Default::default()
        };
        assert_eq!(s.count_executions(&f).unwrap(), 0);
    }

    #[test]
    fn flow_revisions_only_change_with_source() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(s.save_flow("ns", "f", "a", true).unwrap().revision, 1);
        assert_eq!(s.save_flow("ns", "f", "a", true).unwrap().revision, 1);
        assert_eq!(s.save_flow("ns", "f", "b", true).unwrap().revision, 2);
        assert_eq!(s.get_flow("ns", "f", Some(1)).unwrap().unwrap().source, "a");
        assert_eq!(s.list_flows().unwrap().len(), 1);
    }

    #[test]
    fn concurrency_limit_is_enforced_and_orphans_fail() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let owner = Owner { pid: 1, start: 7 };
        s.create_execution(&exec("a")).unwrap();
        s.create_execution(&exec("b")).unwrap();
        assert!(s.try_start_execution("a", Some(1), owner).unwrap());
        assert!(!s.try_start_execution("b", Some(1), owner).unwrap());
        let failed = s.fail_orphans(&|_, _| false).unwrap();
        assert_eq!(
            failed,
            vec![Orphan {
                execution_id: "a".into(),
                interrupted: vec![]
            }]
        );
        assert_eq!(s.get_execution("a").unwrap().unwrap().state, State::Failed);
        assert!(s.try_start_execution("b", Some(1), owner).unwrap());
    }

    #[test]
    fn an_orphan_ends_when_its_process_was_last_seen_alive() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        s.create_execution(&exec("a")).unwrap();
        assert!(
            s.try_start_execution("a", None, Owner { pid: 1, start: 7 })
                .unwrap()
        );
        s.heartbeat("a").unwrap();
        let seen = Utc::now();
        std::thread::sleep(std::time::Duration::from_millis(300));
        s.fail_orphans(&|_, _| false).unwrap();
        let ended = s.get_execution("a").unwrap().unwrap().ended.unwrap();
        // Ended at the heartbeat, not 300 ms later when the orphan was noticed.
        assert!(ended <= seen, "ended {ended}, last seen {seen}");
    }

    #[test]
    fn a_revision_only_run_is_not_deployed() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        s.save_flow("ns", "f", "a", true).unwrap();
        let run = s.save_flow("ns", "f", "b", false).unwrap();
        assert_eq!((run.revision, run.deployed), (2, false));
        assert_eq!(s.get_flow("ns", "f", None).unwrap().unwrap().source, "a");
        assert_eq!(s.get_flow("ns", "f", Some(2)).unwrap().unwrap().source, "b");
        assert_eq!(s.list_flows().unwrap()[0].revision, 1);
        // Deploying the same source later deploys that revision, without a new one.
        let deployed = s.save_flow("ns", "f", "b", true).unwrap();
        assert_eq!((deployed.revision, deployed.deployed), (2, true));
        assert_eq!(s.get_flow("ns", "f", None).unwrap().unwrap().revision, 2);
    }

    #[test]
    fn kv_respects_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let mut e = KvEntry {
            namespace: "ns".into(),
            key: "k".into(),
            value: "v".into(),
            kind: "STRING".into(),
            expires: None,
            updated: Utc::now(),
        };
        s.kv_set(&e).unwrap();
        assert_eq!(s.kv_get("ns", "k").unwrap().unwrap().value, "v");
        e.expires = Some(Utc::now() - chrono::Duration::seconds(1));
        s.kv_set(&e).unwrap();
        assert!(s.kv_get("ns", "k").unwrap().is_none());
        assert!(s.kv_delete("ns", "k").unwrap());
    }
}
