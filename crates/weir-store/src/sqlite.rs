//! The embedded store: one SQLite file in WAL mode, shared safely by several weir processes.

use crate::*;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::Mutex;

const SCHEMA_VERSION: i64 = 2;

/// Version 2: when each running execution's process was last seen alive (an orphan ends then,
/// not when it is noticed), and which flow revisions are deployed (what Subflows and
/// `flows list` see) as opposed to only run.
const MIGRATION_2: &str = r#"
ALTER TABLE executions ADD COLUMN seen TEXT;
ALTER TABLE flows ADD COLUMN deployed INTEGER NOT NULL DEFAULT 1;
"#;

const MIGRATIONS: [&str; 2] = [MIGRATION_1, MIGRATION_2];

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

const EXEC_COLS: &str = "id, namespace, flow_id, flow_revision, state, inputs, labels, trigger, outputs, created, started, ended, original_id, parent_id, owner_pid, owner_start";

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
    })
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

    fn create_execution(&self, e: &ExecutionRecord) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached(&format!("INSERT INTO executions ({EXEC_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"))
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
                ])
            })
            .map_err(db("creating an execution"))?;
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
            "SELECT {EXEC_COLS} FROM executions WHERE (?1 IS NULL OR namespace = ?1) AND (?2 IS NULL OR flow_id = ?2) AND (?3 IS NULL OR state = ?3)
             ORDER BY created DESC LIMIT ?4"
        );
        let mut stmt = conn.prepare(&sql).map_err(db("listing executions"))?;
        let limit = f.limit.map_or(-1, |l| l as i64);
        let rows = stmt
            .query_map(
                params![f.namespace, f.flow_id, f.state.map(State::as_str), limit],
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
            tx.prepare_cached("INSERT INTO task_run_states VALUES (?1, ?2, ?3)")
                .and_then(|mut s| s.execute(params![t.id, h.state.as_str(), ts(h.at)]))
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
        tx.prepare_cached("INSERT INTO task_run_states VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![id, state.as_str(), ts(Utc::now())]))
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
            .prepare("SELECT s.task_run_id, s.state, s.at FROM task_run_states s JOIN task_runs t ON t.id = s.task_run_id WHERE t.execution_id = ?1 ORDER BY s.rowid")
            .map_err(db("reading task runs"))?;
        let changes = hist
            .query_map(params![execution_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(db("reading task runs"))?;
        let index: std::collections::HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        for c in changes {
            let (id, state, at) = c.map_err(db("reading task runs"))?;
            if let Some(&i) = index.get(&id) {
                runs[i].history.push(StateChange {
                    state: state_of(&state),
                    at: parse_ts(&at),
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
            .query_map(params![execution_id], |r| {
                Ok(LogRecord {
                    execution_id: r.get(0)?,
                    task_run_id: r.get(1)?,
                    task_id: r.get(2)?,
                    attempt: r.get(3)?,
                    level: Level::parse(&r.get::<_, String>(4)?).unwrap_or(Level::Info),
                    at: parse_ts(&r.get::<_, String>(5)?),
                    message: r.get(6)?,
                })
            })
            .map_err(db("reading logs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(db("reading logs"))
    }

    fn heartbeat(&self, id: &str) -> Result<()> {
        let conn = self.conn();
        conn.prepare_cached("UPDATE executions SET seen = ?2 WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id, ts(Utc::now())]))
            .map_err(db("recording that an execution is alive"))?;
        Ok(())
    }

    fn fail_orphans(&self, alive: LivenessCheck<'_>) -> Result<Vec<Orphan>> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db("recovering executions"))?;
        let candidates: Vec<(String, Option<u32>, Option<i64>)> = {
            let mut stmt = tx
                .prepare("SELECT id, owner_pid, owner_start FROM executions WHERE state IN ('CREATED', 'QUEUED', 'RUNNING')")
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
            // It ended when its process was last seen alive: the last heartbeat, state change
            // or log line, whichever is latest (timestamps share one format, so text order is
            // time order).
            let now: String = tx
                .query_row(
                    "SELECT MAX(t) FROM (
                        SELECT seen AS t FROM executions WHERE id = ?1
                        UNION ALL SELECT started FROM executions WHERE id = ?1
                        UNION ALL SELECT created FROM executions WHERE id = ?1
                        UNION ALL SELECT s.at FROM task_run_states s JOIN task_runs r ON r.id = s.task_run_id WHERE r.execution_id = ?1
                        UNION ALL SELECT at FROM logs WHERE execution_id = ?1)",
                    params![id],
                    |r| r.get::<_, Option<String>>(0),
                )
                .map_err(db("recovering executions"))?
                .unwrap_or_else(|| ts(Utc::now()));
            tx.execute(
                "UPDATE executions SET state = 'FAILED', ended = ?2 WHERE id = ?1",
                params![id, now],
            )
            .map_err(db("recovering executions"))?;
            let open: Vec<(String, String)> = {
                let mut stmt = tx
                    .prepare("SELECT id, task_id FROM task_runs WHERE execution_id = ?1 AND state IN ('CREATED', 'RUNNING', 'RETRYING', 'QUEUED')")
                    .map_err(db("recovering executions"))?;
                let rows = stmt
                    .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(db("recovering executions"))?;
                rows.collect::<rusqlite::Result<_>>()
                    .map_err(db("recovering executions"))?
            };
            for (run, _) in &open {
                tx.execute(
                    "UPDATE task_runs SET state = 'FAILED' WHERE id = ?1",
                    params![run],
                )
                .map_err(db("recovering executions"))?;
                tx.execute(
                    "INSERT INTO task_run_states VALUES (?1, 'FAILED', ?2)",
                    params![run, now],
                )
                .map_err(db("recovering executions"))?;
            }
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
        }
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
