//! `weir dbt compile | seed | run | test | build`: the selected nodes compiled by
//! `weir_dbt::jinja`, scheduled by `weir_dbt::run`, and built here over weir-warehouse — the
//! `Adapter` the compile stage asks, the materializations' SQL (view, table, incremental;
//! ephemeral models are CTEs of their children), seeds, snapshots (`dbt_snapshot`) and tests —
//! with dbt's output lines and its `target/` artifacts (`compiled/`, `run/`, `manifest.json`,
//! `run_results.json`).
//!
//! One connection per worker thread; each node's statements run in one transaction.

use crate::args::DbtFlags;
use crate::dbt::log::Level;
use crate::dbt::{check_flags, cli_vars, full_config, load, profiles_dir, warehouse_target, warn};
use crate::output::{self, user_error, user_error_hint};
use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use weir_dbt::graph_select;
use weir_dbt::jinja::{self, Adapter, Column, Compiler, Relation, Settings, Table, TargetInfo};
use weir_dbt::project::{Config, Graph, Node, ResourceType, TestTarget};
use weir_dbt::run::{self, Event, NodeResult, NodeRunner, Plan, Status};
use weir_dbt::select;
use weir_dbt::{seeds, tests_sql};
use weir_warehouse::{Engine, Warehouse};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Compile,
    Seed,
    Run,
    Test,
    Build,
    Snapshot,
    /// `docs generate`: compile as `compile` does (nothing with `--no-compile`), quietly.
    Docs,
    /// `parse`: the manifest only; no node runs and no connection is opened.
    Parse,
}

impl Verb {
    fn name(self) -> &'static str {
        match self {
            Verb::Compile => "compile",
            Verb::Seed => "seed",
            Verb::Run => "run",
            Verb::Test => "test",
            Verb::Build => "build",
            Verb::Snapshot => "snapshot",
            Verb::Docs => "generate",
            Verb::Parse => "parse",
        }
    }

    fn resource_types(self) -> Vec<select::ResourceType> {
        use select::ResourceType as T;
        match self {
            Verb::Compile | Verb::Docs => vec![T::Model, T::Snapshot, T::Test, T::Analysis],
            Verb::Seed => vec![T::Seed],
            Verb::Run => vec![T::Model],
            Verb::Test => vec![T::Test],
            Verb::Build => vec![T::Model, T::Seed, T::Snapshot, T::Test],
            Verb::Snapshot => vec![T::Snapshot],
            Verb::Parse => vec![],
        }
    }
}

/// Reads the profile's target as `debug` does, failing on the first problem.
pub(crate) fn read_target(
    flags: &DbtFlags,
    profile: Option<&str>,
) -> Result<weir_dbt::project::Target> {
    let dir = profiles_dir(flags);
    let file = dir.join("profiles.yml");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        user_error_hint(
            format!("could not read `{}`: {e}", file.display()),
            "pass `--profiles-dir`, set `DBT_PROFILES_DIR`, or put `profiles.yml` in the project",
        )
    })?;
    let Some(profile) = flags.profile.as_deref().or(profile) else {
        return Err(user_error(
            "`dbt_project.yml` names no `profile:` and `--profile` is not given",
        ));
    };
    let env = |name: &str| std::env::var(name).ok();
    weir_dbt::project::Target::from_profiles(
        &text,
        &file.display().to_string(),
        profile,
        flags.target.as_deref(),
        &env,
    )
    .map_err(|d| {
        for d in &d.0 {
            output::print_diagnostic(d, Some(&text));
        }
        user_error("`profiles.yml` is not valid")
    })
}

// ---------------------------------------------------------------------------------------------
// The adapter: the compile stage's and the materializations' database, one connection.

struct Conn {
    kind: String,
    engine: Engine,
    wh: Mutex<Box<dyn Warehouse>>,
}

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Which kind of relation exists under a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    View,
}

impl Conn {
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Warehouse>> {
        self.wh.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn filter(rel: &Relation) -> String {
        let mut f = format!(
            "table_schema = {} and table_name = {}",
            lit(&rel.schema),
            lit(&rel.identifier)
        );
        if let Some(db) = rel.database.as_deref().filter(|d| !d.is_empty()) {
            f.push_str(&format!(" and table_catalog = {}", lit(db)));
        }
        f
    }

    fn kind_of(wh: &mut dyn Warehouse, rel: &Relation) -> Result<Option<Kind>, String> {
        let rows = wh
            .query(&format!(
                "select table_type from information_schema.tables where {}",
                Conn::filter(rel)
            ))
            .map_err(|e| e.to_string())?;
        Ok(rows.rows.first().and_then(|r| r.first()).map(|t| {
            if t.as_str().is_some_and(|t| t.contains("VIEW")) {
                Kind::View
            } else {
                Kind::Table
            }
        }))
    }

    fn columns_of(wh: &mut dyn Warehouse, rel: &Relation) -> Result<Vec<Column>, String> {
        let rows = wh
            .query(&format!(
                "select column_name, data_type from information_schema.columns where {} \
                 order by ordinal_position",
                Conn::filter(rel)
            ))
            .map_err(|e| e.to_string())?;
        Ok(rows
            .rows
            .iter()
            .map(|r| Column {
                name: r.first().and_then(Value::as_str).unwrap_or("").to_string(),
                data_type: r.get(1).and_then(Value::as_str).unwrap_or("").to_string(),
            })
            .collect())
    }
}

impl Adapter for Conn {
    fn kind(&self) -> &str {
        &self.kind
    }
    fn run_query(&self, sql: &str) -> Result<Table, String> {
        let rows = self.lock().query(sql).map_err(|e| e.to_string())?;
        Ok(Table {
            columns: rows.columns,
            rows: rows.rows,
        })
    }
    fn get_columns(&self, relation: &Relation) -> Result<Vec<Column>, String> {
        Conn::columns_of(self.lock().as_mut(), relation)
    }
    fn relation_exists(&self, relation: &Relation) -> Result<bool, String> {
        Conn::kind_of(self.lock().as_mut(), relation).map(|k| k.is_some())
    }
    fn relation_type(&self, relation: &Relation) -> Result<Option<String>, String> {
        Ok(
            Conn::kind_of(self.lock().as_mut(), relation)?.map(|k| match k {
                Kind::Table => "table".to_string(),
                Kind::View => "view".to_string(),
            }),
        )
    }
}

/// One connection to the target, as the compile stage's adapter (`run-operation`).
pub(crate) fn adapter_for(
    flags: &DbtFlags,
    target: &weir_dbt::project::Target,
) -> Result<Arc<dyn Adapter>> {
    let mut wt = warehouse_target(target);
    if let weir_warehouse::Target::DuckDb { path: Some(p) } = &mut wt
        && p.is_relative()
    {
        *p = flags.project_dir.join(&*p);
    }
    let mut wh = weir_warehouse::connect(&wt)
        .map_err(|e| user_error(format!("could not connect to {wt}: {e}")))?;
    duckdb_settings(target, wh.as_mut())?;
    Ok(Arc::new(Conn {
        kind: target.adapter.type_name().to_string(),
        engine: wt.engine(),
        wh: Mutex::new(wh),
    }))
}

// ---------------------------------------------------------------------------------------------
// The runner: one node's work.

/// What a node left for the artifacts.
#[derive(Default, Clone)]
struct Done {
    compiled: Option<String>,
    relation: Option<String>,
}

struct Runner<'a> {
    verb: Verb,
    graph: &'a Graph,
    compiler: RwLock<Compiler>,
    conns: Vec<Arc<Conn>>,
    full_refresh: bool,
    /// `--store-failures`.
    store_failures: bool,
    /// `--empty`: refs and sources read as no rows.
    empty: bool,
    target_dir: PathBuf,
    project_dir: PathBuf,
    root_project: String,
    schemas: Mutex<BTreeSet<String>>,
    done: Mutex<BTreeMap<String, Done>>,
}

/// A node's failure: its message for the log and `run_results.json`.
type Fail = String;

impl Runner<'_> {
    fn compiler(&self) -> std::sync::RwLockReadGuard<'_, Compiler> {
        self.compiler.read().unwrap_or_else(|e| e.into_inner())
    }

    fn relation(&self, id: &str) -> Option<Relation> {
        self.compiler().relation(id)
    }

    fn node(&self, id: &str) -> Option<Node> {
        self.compiler().node(id).cloned()
    }

    fn pg(&self, conn: &Conn) -> bool {
        conn.engine != Engine::DuckDb
    }

    fn write_file(&self, kind: &str, node: &Node, sql: &str) {
        let mut rel = node.original_file_path.clone();
        if node.test.is_some() {
            rel = format!("{rel}/{}", node.path);
        }
        let file = self
            .target_dir
            .join(kind)
            .join(&node.package_name)
            .join(rel);
        if let Some(dir) = file.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(file, sql);
    }

    fn remember(&self, id: &str, f: impl FnOnce(&mut Done)) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        f(done.entry(id.to_string()).or_default());
    }

    fn compile_error(&self, node: &Node, e: &jinja::CompileError) -> Fail {
        format!(
            "Compilation Error in {} {} ({})\n  {}",
            node.resource_type, node.name, node.original_file_path, e.diagnostic
        )
    }

    /// Compiles a node, records its in-file config, and writes `target/compiled/…`.
    fn compile(&self, node: &Node, conn: &Arc<Conn>, incremental: bool) -> Result<String, Fail> {
        let adapter: Arc<dyn Adapter> = conn.clone();
        let compiled = self
            .compiler()
            .compile(&node.unique_id, adapter, incremental)
            .map_err(|e| self.compile_error(node, &e))?;
        if !compiled.config.0.is_empty() {
            self.compiler
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .apply_config(&node.unique_id, &compiled.config);
        }
        let sql = if self.empty && node.resource_type == ResourceType::Model {
            self.emptied(node, conn, compiled.sql)
        } else {
            compiled.sql
        };
        self.write_file("compiled", node, &sql);
        self.remember(&node.unique_id, |d| d.compiled = Some(sql.clone()));
        Ok(sql)
    }

    /// `--empty`: every relation of a ref or a source in a model's SQL read as dbt 1.8 reads it,
    /// `(select * from REL where false limit 0) _dbt_limit_subq_NAME`; `this` stays itself.
    fn emptied(&self, node: &Node, conn: &Arc<Conn>, mut sql: String) -> String {
        for other in self.graph.nodes().values() {
            if other.unique_id == node.unique_id
                || !matches!(
                    other.resource_type,
                    ResourceType::Model
                        | ResourceType::Seed
                        | ResourceType::Snapshot
                        | ResourceType::Source
                )
            {
                continue;
            }
            let Some(rel) = self.relation(&other.unique_id) else {
                continue;
            };
            let rendered = rel.render(conn.as_ref());
            if sql.contains(&rendered) {
                sql = sql.replace(
                    &rendered,
                    &format!(
                        "(select * from {rendered} where false limit 0) _dbt_limit_subq_{}",
                        rel.identifier
                    ),
                );
            }
        }
        sql
    }

    /// A generic test's failing-rows query: built-in tests from `tests_sql`, the project's
    /// own generic tests through their macro.
    fn test_sql(&self, node: &Node, conn: &Arc<Conn>) -> Result<String, Fail> {
        if node.test.is_none() {
            return self.compile(node, conn, false);
        }
        let relation_of = |id: &str| self.relation(id).map(|r| r.render(conn.as_ref()));
        match tests_sql::generic_test_sql(node, self.graph, &relation_of, &conn.kind) {
            Ok(sql) => {
                self.write_file("compiled", node, &sql);
                let s = sql.clone();
                self.remember(&node.unique_id, |d| d.compiled = Some(s));
                Ok(sql)
            }
            Err(tests_sql::TestSqlError::Unsupported(_)) => self.compile(node, conn, false),
            Err(e) => Err(format!(
                "Compilation Error in test {} ({})\n  {e}",
                node.name, node.original_file_path
            )),
        }
    }

    fn ensure_schema(&self, conn: &Conn, rel: &Relation) -> Result<(), Fail> {
        let key = format!("{:?}.{}", rel.database, rel.schema);
        let mut schemas = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
        if schemas.contains(&key) {
            return Ok(());
        }
        // PostgreSQL and Redshift name a schema within the connected database only (dbt's
        // `postgres__create_schema` leaves the database out too); DuckDB can name its catalog.
        let schema = Relation {
            database: rel.database.clone().filter(|_| conn.kind == "duckdb"),
            schema: String::new(),
            identifier: rel.schema.clone(),
        }
        .render(conn);
        conn.lock()
            .execute(&format!("create schema if not exists {schema}"))
            .map_err(|e| format!("could not create the schema `{}`: {e}", rel.schema))?;
        schemas.insert(key);
        Ok(())
    }

    /// Runs statements in one transaction; the first failure rolls back.
    fn transaction(&self, conn: &Conn, statements: &[String]) -> Result<(), String> {
        let mut wh = conn.lock();
        wh.begin().map_err(|e| e.to_string())?;
        for sql in statements {
            if let Err(e) = wh.execute(sql) {
                let _ = wh.rollback();
                return Err(e.to_string());
            }
        }
        wh.commit().map_err(|e| e.to_string())
    }

    fn run_model(&self, node: &Node, conn: &Arc<Conn>) -> Result<String, Fail> {
        let id = &node.unique_id;
        let existing = |rel: &Relation| {
            Conn::kind_of(conn.lock().as_mut(), rel).map_err(|e| format!("Database Error: {e}"))
        };
        let before = node.materialized().to_string();
        let rel0 = self.relation(id).ok_or("no relation")?;
        let exists0 = existing(&rel0)?;
        let incr = |mat: &str, exists: Option<Kind>| {
            mat == "incremental" && exists == Some(Kind::Table) && !self.full_refresh
        };
        let mut sql = self.compile(node, conn, incr(&before, exists0))?;
        let node = self.node(id).ok_or("no node")?;
        let mat = node.materialized().to_string();
        let rel = self.relation(id).ok_or("no relation")?;
        let exists = if rel == rel0 {
            exists0
        } else {
            existing(&rel)?
        };
        if incr(&mat, exists) != incr(&before, exists0) {
            sql = self.compile(&node, conn, incr(&mat, exists))?;
        }
        if mat == "ephemeral" {
            return Ok("OK".into());
        }
        let hooks = |key: &str| -> Result<Vec<String>, Fail> {
            let mut out = Vec::new();
            for k in [key.to_string(), key.replace('-', "_")] {
                for h in match node.config.get(&k) {
                    Some(Value::Array(items)) => items.clone(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => vec![other.clone()],
                } {
                    let text = match &h {
                        Value::String(s) => s.clone(),
                        Value::Object(o) => o
                            .get("sql")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        _ => String::new(),
                    };
                    if text.contains("{{") || text.contains("{%") {
                        return Err(format!(
                            "Compilation Error in model {} ({})\n  hooks with Jinja are not available yet in weir: `{text}`",
                            node.name, node.original_file_path
                        ));
                    }
                    if !text.trim().is_empty() {
                        out.push(text);
                    }
                }
            }
            Ok(out)
        };
        let pre = hooks("pre-hook")?;
        let post = hooks("post-hook")?;
        self.ensure_schema(conn, &rel)?;
        let contract = node.config.contract_enforced() && mat != "ephemeral";
        if contract {
            self.check_contract(&node, conn, &rel, &sql)?;
        }
        if let Some(ran) = crate::dbt::materialization::run(
            &self.compiler(),
            &node,
            conn.clone(),
            &mat,
            &sql,
            &pre,
            &post,
        ) {
            let ran = ran.map_err(|e| {
                format!(
                    "Database Error in model {} ({})\n  {e}",
                    node.name, node.original_file_path
                )
            })?;
            self.write_file("run", &node, &ran.statements.join(";\n\n"));
            self.remember(id, |d| d.relation = Some(rel.render(conn.as_ref())));
            return Ok("OK".into());
        }
        let statements = if contract && mat == "table" {
            // The declared columns and their constraints make the table; the query fills it.
            let a = conn.as_ref();
            let target = rel.render(a);
            let cascade = if self.pg(conn) { " cascade" } else { "" };
            let mut out = Vec::new();
            match exists {
                Some(Kind::View) => out.push(format!("drop view if exists {target}{cascade}")),
                Some(Kind::Table) => out.push(format!("drop table if exists {target}{cascade}")),
                None => {}
            }
            out.push(crate::dbt::contract::create_table(&node, &target, &|c| {
                a.quote(c)
            }));
            let cols: Vec<String> = node.columns.iter().map(|c| a.quote(&c.name)).collect();
            let cols = cols.join(", ");
            out.push(format!(
                "insert into {target} ({cols}) select {cols} from (\n{sql}\n) as model_subq"
            ));
            out
        } else {
            self.materialize(&node, conn, &mat, &rel, exists, &sql)
                .map_err(|e| {
                    format!(
                        "Database Error in model {} ({})\n  {e}",
                        node.name, node.original_file_path
                    )
                })?
        };
        let mut all = pre;
        all.extend(statements);
        all.extend(post);
        self.write_file("run", &node, &all.join(";\n\n"));
        self.transaction(conn, &all).map_err(|e| {
            format!(
                "Database Error in model {} ({})\n  {e}",
                node.name, node.original_file_path
            )
        })?;
        self.remember(id, |d| d.relation = Some(rel.render(conn.as_ref())));
        Ok(if self.pg(conn) {
            match mat.as_str() {
                "view" => "CREATE VIEW".into(),
                _ => "SELECT".into(),
            }
        } else {
            "OK".into()
        })
    }

    /// The statements that build `rel` from `sql`.
    fn materialize(
        &self,
        node: &Node,
        conn: &Arc<Conn>,
        mat: &str,
        rel: &Relation,
        exists: Option<Kind>,
        sql: &str,
    ) -> Result<Vec<String>, String> {
        let a = conn.as_ref();
        let pg = self.pg(conn);
        let cascade = if pg { " cascade" } else { "" };
        let target = rel.render(a);
        let drop = |kind: Kind| match kind {
            Kind::Table => format!("drop table if exists {target}{cascade}"),
            Kind::View => format!("drop view if exists {target}{cascade}"),
        };
        let tmp_rel = Relation {
            identifier: format!("{}__dbt_tmp", rel.identifier),
            ..rel.clone()
        };
        let tmp = tmp_rel.render(a);
        let table = |out: &mut Vec<String>| {
            if pg {
                out.push(format!("drop table if exists {tmp}"));
                out.push(format!("create table {tmp} as (\n{sql}\n)"));
                if let Some(k) = exists {
                    out.push(drop(k));
                }
                out.push(format!(
                    "alter table {tmp} rename to {}",
                    a.quote(&rel.identifier)
                ));
            } else {
                if exists == Some(Kind::View) {
                    out.push(drop(Kind::View));
                }
                out.push(format!("create or replace table {target} as (\n{sql}\n)"));
            }
        };
        let mut out = Vec::new();
        match mat {
            "view" => {
                if let Some(k) = exists
                    && (pg || k == Kind::Table)
                {
                    out.push(drop(k));
                }
                let verb = if pg { "create" } else { "create or replace" };
                out.push(format!("{verb} view {target} as (\n{sql}\n)"));
            }
            "table" => table(&mut out),
            "incremental" if self.full_refresh || exists != Some(Kind::Table) => table(&mut out),
            "incremental" => {
                return self.incremental(node, conn, rel, &tmp_rel, sql);
            }
            other => {
                return Err(format!(
                    "the materialization `{other}` is not available yet in weir (view, table, \
                     incremental and ephemeral are)"
                ));
            }
        }
        Ok(out)
    }

    fn incremental(
        &self,
        node: &Node,
        conn: &Arc<Conn>,
        rel: &Relation,
        tmp_rel: &Relation,
        sql: &str,
    ) -> Result<Vec<String>, String> {
        let a = conn.as_ref();
        let target = rel.render(a);
        let tmp = tmp_rel.render(a);
        // The new rows go to a table next to the target first, so their columns can be compared.
        {
            let mut wh = conn.lock();
            wh.execute(&format!("drop table if exists {tmp}"))
                .map_err(|e| e.to_string())?;
            wh.execute(&format!("create table {tmp} as (\n{sql}\n)"))
                .map_err(|e| e.to_string())?;
        }
        let result = (|| {
            let src = Conn::columns_of(conn.lock().as_mut(), tmp_rel)?;
            let dst = Conn::columns_of(conn.lock().as_mut(), rel)?;
            let has = |cols: &[Column], name: &str| {
                cols.iter().any(|c| c.name.eq_ignore_ascii_case(name))
            };
            let added: Vec<&Column> = src.iter().filter(|c| !has(&dst, &c.name)).collect();
            let removed: Vec<&Column> = dst.iter().filter(|c| !has(&src, &c.name)).collect();
            let on_change = node
                .config
                .get("on_schema_change")
                .and_then(Value::as_str)
                .unwrap_or("ignore");
            let mut out = Vec::new();
            let changed = !added.is_empty() || !removed.is_empty();
            match on_change {
                "ignore" => {}
                "fail" if changed => {
                    return Err(format!(
                        "The source and target schemas on this incremental model are out of sync! \
                         New columns: [{}]; missing columns: [{}]. Set `on_schema_change` to \
                         `append_new_columns` or `sync_all_columns`, or rebuild with `--full-refresh`",
                        added
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        removed
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                "fail" => {}
                "append_new_columns" | "sync_all_columns" => {
                    for c in &added {
                        out.push(format!(
                            "alter table {target} add column {} {}",
                            a.quote(&c.name),
                            c.data_type
                        ));
                    }
                    if on_change == "sync_all_columns" {
                        for c in &removed {
                            out.push(format!(
                                "alter table {target} drop column {}",
                                a.quote(&c.name)
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "`on_schema_change` is `{other}`; expected `ignore`, `fail`, \
                         `append_new_columns` or `sync_all_columns`"
                    ));
                }
            }
            // The columns the insert writes: the target's that the new rows have (plus those
            // just added).
            let cols: Vec<String> = match on_change {
                "append_new_columns" | "sync_all_columns" => {
                    src.iter().map(|c| a.quote(&c.name)).collect()
                }
                _ => dst
                    .iter()
                    .filter(|c| has(&src, &c.name))
                    .map(|c| a.quote(&c.name))
                    .collect(),
            };
            let cols = cols.join(", ");
            let keys: Vec<String> = match node.config.get("unique_key") {
                Some(Value::String(k)) => vec![k.clone()],
                Some(Value::Array(ks)) => ks
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            };
            let strategy = node
                .config
                .get("incremental_strategy")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if keys.is_empty() {
                        "append".into()
                    } else {
                        "delete+insert".into()
                    }
                });
            let insert = format!("insert into {target} ({cols}) select {cols} from {tmp}");
            match strategy.as_str() {
                "append" => out.push(insert),
                "delete+insert" => {
                    if keys.is_empty() {
                        return Err("the `delete+insert` strategy needs a `unique_key`".into());
                    }
                    let k = keys.join(", ");
                    out.push(format!(
                        "delete from {target} where ({k}) in (select {k} from {tmp})"
                    ));
                    out.push(insert);
                }
                "merge" => {
                    let on = if keys.is_empty() {
                        "false".to_string()
                    } else {
                        keys.iter()
                            .map(|k| format!("DBT_INTERNAL_SOURCE.{k} = DBT_INTERNAL_DEST.{k}"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    };
                    let names: Vec<String> = src
                        .iter()
                        .filter(|c| has(&dst, &c.name) || on_change != "ignore")
                        .map(|c| a.quote(&c.name))
                        .collect();
                    let set = names
                        .iter()
                        .map(|c| format!("{c} = DBT_INTERNAL_SOURCE.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let values = names
                        .iter()
                        .map(|c| format!("DBT_INTERNAL_SOURCE.{c}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    out.push(format!(
                        "merge into {target} as DBT_INTERNAL_DEST using {tmp} as DBT_INTERNAL_SOURCE \
                         on ({on}) when matched then update set {set} \
                         when not matched then insert ({}) values ({values})",
                        names.join(", ")
                    ));
                }
                other => {
                    return Err(format!(
                        "the incremental strategy `{other}` is not available yet in weir \
                         (append, delete+insert and merge are)"
                    ));
                }
            }
            out.push(format!("drop table if exists {tmp}"));
            Ok(out)
        })();
        if result.is_err() {
            let _ = conn.lock().execute(&format!("drop table if exists {tmp}"));
        }
        result
    }

    /// An enforced contract: the query's columns (read from a view made for the purpose and
    /// dropped) against the declared ones; a mismatch fails the model before it is built.
    fn check_contract(
        &self,
        node: &Node,
        conn: &Arc<Conn>,
        rel: &Relation,
        sql: &str,
    ) -> Result<(), Fail> {
        let probe = Relation {
            identifier: format!("{}__dbt_contract", rel.identifier),
            ..rel.clone()
        };
        let name = probe.render(conn.as_ref());
        let actual = {
            let mut wh = conn.lock();
            let made = wh
                .execute(&format!("drop view if exists {name}"))
                .and_then(|_| wh.execute(&format!("create view {name} as (\n{sql}\n)")));
            let cols = made
                .map_err(|e| e.to_string())
                .and_then(|_| Conn::columns_of(wh.as_mut(), &probe));
            let _ = wh.execute(&format!("drop view if exists {name}"));
            cols.map_err(|e| {
                format!(
                    "Database Error in model {} ({})\n  {e}",
                    node.name, node.original_file_path
                )
            })?
        };
        match crate::dbt::contract::mismatches(node, &actual) {
            None => Ok(()),
            Some(table) => Err(format!(
                "Compilation Error in model {} ({})\n  {}",
                node.name,
                node.original_file_path,
                table.replace('\n', "\n  ")
            )),
        }
    }

    /// A snapshot: compiled, checked, then run by `dbt_snapshot` in one transaction.
    fn run_snapshot(&self, node: &Node, conn: &Arc<Conn>) -> Result<String, Fail> {
        let sql = self.compile(node, conn, false)?;
        let node = self.node(&node.unique_id).ok_or("no node")?;
        let db_error = |e: String| {
            format!(
                "Database Error in snapshot {} ({})\n  {e}",
                node.name, node.original_file_path
            )
        };
        let spec = crate::dbt::snapshot::Spec::from_node(&node).map_err(|e| {
            format!(
                "Compilation Error in snapshot {} ({})\n  {e}",
                node.name, node.original_file_path
            )
        })?;
        let rel = self.relation(&node.unique_id).ok_or("no relation")?;
        self.ensure_schema(conn, &rel)?;
        let exists = Conn::kind_of(conn.lock().as_mut(), &rel).map_err(db_error)?;
        if exists == Some(Kind::View) {
            return Err(db_error(format!(
                "the snapshot's relation `{}.{}` is a view; a snapshot is a table",
                rel.schema, rel.identifier
            )));
        }
        let a = conn.as_ref();
        let with = |suffix: &str| Relation {
            identifier: format!("{}{suffix}", rel.identifier),
            ..rel.clone()
        };
        let rels = [rel.clone(), with("__dbt_tmp_src"), with("__dbt_tmp_new")];
        let rendered: Vec<String> = rels.iter().map(|r| r.render(a)).collect();
        let now = format!(
            "cast({} as timestamp)",
            lit(&chrono::Utc::now()
                .format("%Y-%m-%d %H:%M:%S%.6f")
                .to_string())
        );
        let names = crate::dbt::snapshot::Names {
            target: &rendered[0],
            staged: &rendered[1],
            fresh: &rendered[2],
            now: &now,
        };
        let columns_of = |wh: &mut dyn Warehouse, name: &str| {
            let i = rendered.iter().position(|r| r == name).unwrap_or(0);
            Conn::columns_of(wh, &rels[i])
        };
        self.write_file("run", &node, &sql);
        let message = crate::dbt::snapshot::run(
            conn.lock().as_mut(),
            a,
            &spec,
            &names,
            exists.is_some(),
            &sql,
            &columns_of,
        )
        .map_err(db_error)?;
        self.remember(&node.unique_id, |d| d.relation = Some(rendered[0].clone()));
        Ok(message)
    }

    fn run_seed(&self, node: &Node, conn: &Arc<Conn>) -> Result<String, Fail> {
        let rel = self.relation(&node.unique_id).ok_or("no relation")?;
        let types = node
            .config
            .get("column_types")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let table = seeds::read_seed(&node.original_file_path, &node.raw_code, &types, &conn.kind)
            .map_err(|d| format!("Compilation Error in seed {} ({d})", node.name))?;
        let exists = Conn::kind_of(conn.lock().as_mut(), &rel).map_err(|e| e.to_string())?;
        self.ensure_schema(conn, &rel)?;
        let target = rel.render(conn.as_ref());
        let mut statements = Vec::new();
        let cascade = if self.pg(conn) { " cascade" } else { "" };
        let keep = match exists {
            Some(Kind::Table) if !self.full_refresh => true,
            Some(Kind::Table) => {
                statements.push(format!("drop table if exists {target}{cascade}"));
                false
            }
            Some(Kind::View) => {
                statements.push(format!("drop view if exists {target}{cascade}"));
                false
            }
            None => false,
        };
        statements.extend(seeds::seed_statements(&table, &target, &conn.kind, keep));
        self.transaction(conn, &statements).map_err(|e| {
            format!(
                "Database Error in seed {} ({})\n  {e}",
                node.name, node.original_file_path
            )
        })?;
        self.remember(&node.unique_id, |d| d.relation = Some(target));
        Ok(format!("INSERT {}", table.rows.len()))
    }

    /// `store_failures`: the test's failing rows kept in `<schema>_dbt_test__audit.<test name>`
    /// (a table, or a view with `store_failures_as: view`), replaced on each run; the test then
    /// counts the stored rows.
    fn store_failures(
        &self,
        node: &Node,
        conn: &Arc<Conn>,
        config: &Config,
        sql: &str,
    ) -> Result<String, Fail> {
        let base = self.relation(&node.unique_id).ok_or("no relation")?;
        let rel = Relation {
            schema: match config.schema() {
                Some(_) => base.schema.clone(),
                None => format!("{}_dbt_test__audit", base.schema),
            },
            ..base
        };
        self.ensure_schema(conn, &rel)?;
        let target = rel.render(conn.as_ref());
        let exists = Conn::kind_of(conn.lock().as_mut(), &rel).map_err(|e| e.to_string())?;
        let mut statements = Vec::new();
        match exists {
            Some(Kind::Table) => statements.push(format!("drop table if exists {target}")),
            Some(Kind::View) => statements.push(format!("drop view if exists {target}")),
            None => {}
        }
        let kind = match config.get("store_failures_as").and_then(Value::as_str) {
            Some("view") => "view",
            _ => "table",
        };
        statements.push(format!("create {kind} {target} as (\n{sql}\n)"));
        self.transaction(conn, &statements).map_err(|e| {
            format!(
                "Database Error in test {} ({})\n  {e}",
                node.name, node.original_file_path
            )
        })?;
        let t = target.clone();
        self.remember(&node.unique_id, |d| d.relation = Some(t));
        Ok(format!("select * from {target}"))
    }

    fn run_test(&self, node: &Node, conn: &Arc<Conn>) -> NodeResult {
        let failed = |message: String| NodeResult {
            status: Status::Error,
            message,
            failures: None,
            execution_time: Duration::ZERO,
        };
        let sql = match self.test_sql(node, conn) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let config = self
            .node(&node.unique_id)
            .map(|n| n.config)
            .unwrap_or_default();
        let store = self.store_failures
            || config.get("store_failures").and_then(Value::as_bool) == Some(true);
        let sql = if store {
            match self.store_failures(node, conn, &config, &sql) {
                Ok(select) => select,
                Err(e) => return failed(e),
            }
        } else {
            sql
        };
        // DuckDB and the built-in `unique`: its keys collected first where grouping them
        // straight from the relation may not spill (`tests_sql::unique_test_sql_collected`):
        // always over a view (a `union all` is the usual case), and once more after running out
        // of memory over anything else. The compiled file keeps dbt's query.
        let collected = || {
            if conn.kind != "duckdb" || store {
                return None;
            }
            let relation_of = |id: &str| self.relation(id).map(|r| r.render(conn.as_ref()));
            tests_sql::unique_test_sql_collected(node, self.graph, &relation_of)
                .ok()
                .flatten()
        };
        let over_view = self
            .graph
            .node(&node.unique_id)
            .and_then(|n| n.test.as_ref())
            .and_then(|t| t.attached_node.as_deref())
            .and_then(|id| self.node(id))
            .is_some_and(|n| n.resource_type == ResourceType::Model && n.materialized() == "view");
        let sql = match over_view.then(collected).flatten() {
            Some(c) => c,
            None => sql,
        };
        let wrapped = tests_sql::wrap_test_sql(&sql, &config);
        self.write_file("run", node, &wrapped);
        let mut result = conn.lock().query(&wrapped);
        if let Err(e) = &result
            && !over_view
            && e.to_string().contains("Out of Memory Error")
            && let Some(c) = collected()
        {
            let msg = format!(
                "{}: DuckDB ran out of memory grouping the keys; running the test again with \
                 its keys collected first",
                node.name
            );
            crate::dbt::log::event("Note", Level::Debug, &msg, json!({"msg": msg}));
            let wrapped = tests_sql::wrap_test_sql(&c, &config);
            self.write_file("run", node, &wrapped);
            result = conn.lock().query(&wrapped);
        }
        let rows = match result {
            Ok(r) => r,
            Err(e) => {
                return failed(format!(
                    "Database Error in test {} ({})\n  {e}",
                    node.name, node.original_file_path
                ));
            }
        };
        let row = rows.rows.first().cloned().unwrap_or_default();
        let truthy = |v: Option<&Value>| match v {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::String(s)) => s == "true" || s == "1",
            _ => false,
        };
        let failures = match row.first() {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        let mut status = tests_sql::test_status(&config, truthy(row.get(1)), truthy(row.get(2)));
        // `--warn-error`: a test over its warn threshold fails, as in dbt.
        if status == tests_sql::TestStatus::Warn && crate::dbt::log::warn_is_error("LogTestResult")
        {
            status = tests_sql::TestStatus::Fail;
        }
        let warned_error = status == tests_sql::TestStatus::Fail && !truthy(row.get(2));
        let (status, message) = match status {
            tests_sql::TestStatus::Pass => (Status::Pass, String::new()),
            tests_sql::TestStatus::Warn => (
                Status::Warn,
                format!(
                    "Got {failures} result{}, configured to warn if {}",
                    if failures == 1 { "" } else { "s" },
                    config
                        .get("warn_if")
                        .and_then(Value::as_str)
                        .unwrap_or("!= 0")
                ),
            ),
            tests_sql::TestStatus::Fail => (
                Status::Fail,
                format!(
                    "Got {failures} result{}, configured to fail if {}",
                    if failures == 1 { "" } else { "s" },
                    config
                        .get(if warned_error { "warn_if" } else { "error_if" })
                        .and_then(Value::as_str)
                        .unwrap_or("!= 0")
                ),
            ),
        };
        NodeResult {
            status,
            message,
            failures: Some(failures),
            execution_time: Duration::ZERO,
        }
    }
}

impl NodeRunner for Runner<'_> {
    fn run(&self, worker: usize, node_id: &str) -> NodeResult {
        let conn = &self.conns[worker % self.conns.len()];
        let Some(node) = self.node(node_id) else {
            return NodeResult {
                status: Status::Error,
                message: format!("no node `{node_id}`; this is a bug in weir, please report it"),
                failures: None,
                execution_time: Duration::ZERO,
            };
        };
        let outcome = |r: Result<String, Fail>| match r {
            Ok(message) => NodeResult {
                status: Status::Success,
                message,
                failures: None,
                execution_time: Duration::ZERO,
            },
            Err(message) => NodeResult {
                status: Status::Error,
                message,
                failures: None,
                execution_time: Duration::ZERO,
            },
        };
        if matches!(self.verb, Verb::Compile | Verb::Docs) {
            let r = match node.resource_type {
                ResourceType::Test => self.test_sql(&node, conn),
                _ => {
                    let rel = self.relation(node_id);
                    let incr = node.materialized() == "incremental"
                        && !self.full_refresh
                        && rel.is_some_and(|r| conn.relation_exists(&r).unwrap_or(false));
                    self.compile(&node, conn, incr)
                }
            };
            return outcome(r.map(|_| "OK".into()));
        }
        match node.resource_type {
            ResourceType::Model => outcome(self.run_model(&node, conn)),
            ResourceType::Seed => outcome(self.run_seed(&node, conn)),
            ResourceType::Test => self.run_test(&node, conn),
            ResourceType::Snapshot => outcome(self.run_snapshot(&node, conn)),
            other => outcome(Err(format!("weir does not run {other} nodes"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-file configs known before compiling: what dbt learns at parse time.

/// The literal `materialized`, `schema` and `alias` of a model's `{{ config(...) }}`, so that
/// ephemeral models are known before their children compile and the log can name relations.
fn static_config(raw: &str) -> Config {
    let mut config = Config::default();
    let mut at = 0;
    while let Some(i) = raw[at..].find("config(") {
        let start = at + i + "config(".len();
        let end = raw[start..].find(')').map_or(raw.len(), |e| start + e);
        let args = &raw[start..end];
        for key in ["materialized", "schema", "alias", "target_schema"] {
            let mut from = 0;
            while let Some(k) = args[from..].find(key) {
                let after = args[from + k + key.len()..].trim_start();
                from += k + key.len();
                let Some(rest) = after.strip_prefix('=') else {
                    continue;
                };
                let rest = rest.trim_start();
                let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                    continue;
                };
                if let Some(close) = rest[1..].find(q) {
                    config
                        .0
                        .insert(key.into(), Value::String(rest[1..1 + close].to_string()));
                }
                break;
            }
        }
        at = end;
    }
    config
}

/// A project generic test called through its macro, as dbt does with the test's arguments.
fn generic_test_call(node: &Node) -> Option<String> {
    let test = node.test.as_ref()?;
    let model = match &test.target {
        TestTarget::Ref { name } => format!("ref({})", lit(name)),
        TestTarget::Source { source, table } => format!("source({}, {})", lit(source), lit(table)),
    };
    let mut args = vec![format!("model={model}")];
    if let Some(c) = &test.column_name {
        args.push(format!("column_name={}", lit(c)));
    }
    for (k, v) in &test.kwargs {
        if k == "model" || k == "column_name" {
            continue;
        }
        let value = match v {
            Value::String(s) if s.starts_with("ref(") || s.starts_with("source(") => s.clone(),
            other => other.to_string(),
        };
        args.push(format!("{k}={value}"));
    }
    let name = match &test.namespace {
        Some(ns) => format!("{ns}.test_{}", test.name),
        None => format!("test_{}", test.name),
    };
    Some(format!("{{{{ {name}({}) }}}}", args.join(", ")))
}

// ---------------------------------------------------------------------------------------------
// Output.

/// A line of the run log (dbt's `Formatting` event when empty), through `dbt_log`.
pub(crate) fn say(line: &str) {
    if line.is_empty() {
        say_as("Formatting", line, json!({"msg": ""}));
    } else {
        say_as("Note", line, json!({"msg": line}));
    }
}

/// A line of the run log as dbt's event `name` with its `data`, at info level.
pub(crate) fn say_as(name: &str, line: &str, data: Value) {
    crate::dbt::log::event(name, crate::dbt::log::Level::Info, line, data);
}

/// dbt's progress line: `N of M message ....... [STATUS in 0.05s]`, padded to 80 columns.
pub(crate) fn progress(
    index: usize,
    total: usize,
    message: &str,
    status: &str,
    time: Option<Duration>,
) {
    let line = progress_line(index, total, message, status, time);
    say_as(
        "LogProgress",
        &line,
        json!({"index": index, "total": total, "description": message, "status": status}),
    );
}

fn progress_line(
    index: usize,
    total: usize,
    message: &str,
    status: &str,
    time: Option<Duration>,
) -> String {
    let prefix = format!("{index} of {total} {message} ");
    let mut justified = prefix.clone();
    while justified.chars().count() < crate::dbt::log::width() {
        justified.push('.');
    }
    let time = time
        .map(|t| format!(" in {:.2}s", t.as_secs_f64()))
        .unwrap_or_default();
    let colour = match status.split(' ').next().unwrap_or("") {
        "OK" | "PASS" | "SUCCESS" | "INSERT" | "CREATE" => "32",
        "WARN" => "33",
        "ERROR" | "FAIL" => "31",
        _ => "",
    };
    let status = if colour.is_empty() {
        status.to_string()
    } else {
        crate::dbt::log::colour(colour, status)
    };
    format!("{justified} [{status}{time}]")
}

/// dbt's `node_info` of a node's events.
fn node_info(
    node: &Node,
    rel: Option<&Relation>,
    status: &str,
    started: &str,
    finished: &str,
) -> Value {
    let (database, schema, alias) =
        rel.map_or((String::new(), String::new(), node.name.clone()), |r| {
            (
                r.database.clone().unwrap_or_default(),
                r.schema.clone(),
                r.identifier.clone(),
            )
        });
    let relation = if node.resource_type == ResourceType::Test || rel.is_none() {
        String::new()
    } else {
        [&database, &schema, &alias]
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(".")
    };
    json!({
        "materialized": if node.resource_type == ResourceType::Test {
            "test".to_string()
        } else {
            node.materialized().to_string()
        },
        "meta": node.meta,
        "node_checksum": graph_select::checksum(node),
        "node_finished_at": finished,
        "node_name": node.name,
        "node_path": node.path,
        "node_relation": {
            "alias": alias,
            "database": database,
            "relation_name": relation,
            "schema": schema,
        },
        "node_started_at": started,
        "node_status": status,
        "resource_type": node.resource_type.to_string(),
        "unique_id": node.unique_id,
    })
}

/// A node's start or result line as dbt's event (`LogStartLine`, `LogModelResult`,
/// `LogTestResult`, …) with its `node_info`.
#[expect(
    clippy::too_many_arguments,
    reason = "one line of dbt's log and its data"
)]
fn node_progress(
    name: &str,
    level: crate::dbt::log::Level,
    index: usize,
    total: usize,
    message: &str,
    status: &str,
    time: Option<Duration>,
    mut data: Value,
) {
    let line = progress_line(index, total, message, status, time);
    if let Value::Object(m) = &mut data {
        m.insert("index".into(), json!(index));
        m.insert("total".into(), json!(total));
        if let Some(t) = time {
            m.insert("execution_time".into(), json!(t.as_secs_f64()));
        }
    }
    crate::dbt::log::event(name, level, &line, data);
}

fn describe(node: &Node, relation: &str) -> (String, String) {
    match node.resource_type {
        ResourceType::Model => (
            format!("sql {} model {relation}", node.materialized()),
            relation.to_string(),
        ),
        ResourceType::Seed => ("seed file".into(), relation.to_string()),
        ResourceType::Snapshot => (format!("snapshot {relation}"), relation.to_string()),
        _ => ("test".into(), node.name.clone()),
    }
}

pub(crate) fn plural_of(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

// ---------------------------------------------------------------------------------------------
// The command.

pub fn execute(verb: Verb, flags: &DbtFlags) -> Result<u8> {
    let started = Instant::now();
    let indirect = check_flags(flags)?;
    let state = flags
        .state
        .as_deref()
        .map(crate::dbt::read_state)
        .transpose()?;
    let mut loaded = load(&flags.project_dir)?;
    let target = read_target(flags, loaded.project.config.profile.as_deref())?;
    let threads = flags.threads.unwrap_or(target.threads).max(1) as usize;
    let root_project = loaded.project.config.name.clone();

    // In-file configs that must be known before anything compiles, and project generic tests
    // as calls of their macros.
    let mut known: BTreeMap<String, Config> = BTreeMap::new();
    for node in loaded.project.nodes.values_mut() {
        if matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Snapshot
        ) {
            let c = static_config(&node.raw_code);
            if !c.0.is_empty() {
                known.insert(node.unique_id.clone(), c);
            }
        }
        if let Some(t) = &node.test
            && !matches!(
                t.name.as_str(),
                "unique" | "not_null" | "accepted_values" | "relationships"
            )
            && let Some(call) = generic_test_call(node)
        {
            node.raw_code = call;
        }
    }
    for (id, c) in &known {
        if let Some(n) = loaded.project.nodes.get_mut(id) {
            n.apply_config(c);
        }
    }
    let graph = loaded
        .project
        .graph()
        .map_err(|d| user_error(d.to_string()))?;

    let types = verb.resource_types();
    let selected = crate::dbt::select_nodes(
        &graph,
        &root_project,
        flags,
        indirect,
        state.as_ref(),
        &types,
    )?;
    let to_run: BTreeSet<String> = selected
        .nodes
        .iter()
        .filter(|id| {
            verb != Verb::Parse
                && graph.node(id).is_some_and(|n| {
                    (verb == Verb::Docs && !flags.no_compile)
                        || verb == Verb::Compile
                        || (verb != Verb::Docs
                            && !(n.resource_type == ResourceType::Model
                                && n.materialized() == "ephemeral"))
                })
        })
        .cloned()
        .collect();

    // Connections, one per worker.
    let mut wt = warehouse_target(&target);
    if let weir_warehouse::Target::DuckDb { path: Some(p) } = &mut wt
        && p.is_relative()
    {
        *p = flags.project_dir.join(&*p);
    }
    let mut conns = Vec::new();
    let wanted = if verb == Verb::Parse {
        0
    } else {
        threads.min(to_run.len().max(1))
    };
    for _ in 0..wanted {
        let mut wh = weir_warehouse::connect(&wt)
            .map_err(|e| user_error(format!("could not connect to {wt}: {e}")))?;
        duckdb_settings(&target, wh.as_mut())?;
        conns.push(Arc::new(Conn {
            kind: target.adapter.type_name().to_string(),
            engine: wt.engine(),
            wh: Mutex::new(wh),
        }));
    }

    let mut info = TargetInfo::from_target(&target);
    info.threads = threads as u32;
    let settings = Settings {
        target: info,
        vars: cli_vars(flags)?,
        env: Arc::new(|name: &str| std::env::var(name).ok()),
    };
    let files_for_macros = crate::dbt::read_project(&flags.project_dir)?;
    let compiler = Compiler::with_packages(
        &loaded.project,
        &files_for_macros,
        &loaded.package_macros,
        settings,
    )
    .map_err(|d| {
        for d in &d.0 {
            output::print_diagnostic(d, files_for_macros.get(&d.location.file));
        }
        user_error("the project's macros do not compile")
    })?;
    let target_dir = flags.project_dir.join(&loaded.project.config.target_path);
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("could not create `{}`", target_dir.display()))?;

    let runner = Runner {
        verb,
        graph: &graph,
        compiler: RwLock::new(compiler),
        conns,
        full_refresh: flags.full_refresh,
        store_failures: flags.store_failures,
        empty: flags.empty,
        target_dir: target_dir.clone(),
        project_dir: flags.project_dir.clone(),
        root_project: root_project.clone(),
        schemas: Mutex::new(BTreeSet::new()),
        done: Mutex::new(BTreeMap::new()),
    };
    let _ = (&runner.project_dir, &runner.root_project);

    // The header.
    let count = |t: ResourceType| {
        graph
            .nodes()
            .values()
            .filter(|n| n.resource_type == t)
            .count()
    };
    let mut found = vec![
        plural_of(count(ResourceType::Model), "model", "models"),
        plural_of(count(ResourceType::Seed), "seed", "seeds"),
        plural_of(count(ResourceType::Test), "data test", "data tests"),
        plural_of(count(ResourceType::Source), "source", "sources"),
    ];
    if count(ResourceType::Snapshot) > 0 {
        found.insert(
            1,
            plural_of(count(ResourceType::Snapshot), "snapshot", "snapshots"),
        );
    }
    if count(ResourceType::Analysis) > 0 {
        found.push(plural_of(
            count(ResourceType::Analysis),
            "analysis",
            "analyses",
        ));
    }
    say_as(
        "MainReportVersion",
        &format!(
            "Running with weir={} (dbt-compatible)",
            env!("CARGO_PKG_VERSION")
        ),
        json!({"log_version": 3, "version": format!("={}", env!("CARGO_PKG_VERSION"))}),
    );
    say_as(
        "FoundStats",
        &format!("Found {}", found.join(", ")),
        json!({"stat_line": found.join(", ")}),
    );
    if to_run.is_empty() {
        if matches!(verb, Verb::Docs | Verb::Parse) {
            write_manifest(&runner, &graph, &target_dir, &target)?;
            return Ok(0);
        }
        write_manifest(&runner, &graph, &target_dir, &target)?;
        let msg = "Nothing to do. Try checking your model configs and model specification args";
        if crate::dbt::log::warn_is_error("NothingToDo") {
            return Err(user_error_hint(
                msg,
                "`--warn-error` makes this warning an error",
            ));
        }
        warn(msg);
        return Ok(0);
    }
    say("");
    say_as(
        "ConcurrencyLine",
        &format!(
            "Concurrency: {} (target='{}')",
            plural_of(threads, "thread", "threads"),
            target.name
        ),
        json!({"num_threads": threads, "target_name": target.name, "node_count": to_run.len()}),
    );
    say("");

    let plan = if verb == Verb::Build {
        Plan::build(&graph, &to_run)
    } else {
        Plan::new(&graph, &to_run)
    };
    let total = plan.nodes.len();
    let quiet = matches!(verb, Verb::Compile | Verb::Docs);
    let on_event = |event: Event<'_>| {
        if quiet {
            return;
        }
        let (index, id) = match event {
            Event::Start { index, node_id } | Event::Done { index, node_id, .. } => {
                (index, node_id)
            }
        };
        let Some(node) = runner.node(id) else {
            return;
        };
        let relation = runner
            .relation(id)
            .map(|r| format!("{}.{}", r.schema, r.identifier))
            .unwrap_or_default();
        let (what, name) = describe(&node, &relation);
        let rel = runner.relation(id);
        let stamp =
            |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
        match event {
            Event::Start { .. } => {
                let text = if node.resource_type == ResourceType::Test {
                    format!("START test {name}")
                } else {
                    format!("START {what}")
                };
                let info = node_info(
                    &node,
                    rel.as_ref(),
                    "started",
                    &stamp(chrono::Utc::now()),
                    "",
                );
                node_progress(
                    "LogStartLine",
                    Level::Info,
                    index,
                    total,
                    &text,
                    "RUN",
                    None,
                    json!({"description": text, "node_info": info}),
                )
            }
            Event::Done { result, .. } => {
                let t = Some(result.execution_time);
                let failures = result.failures.unwrap_or(0);
                let (text, status) = match (result.status, node.resource_type) {
                    (Status::Success, ResourceType::Snapshot) => {
                        (format!("OK snapshotted {name}"), result.message.clone())
                    }
                    (Status::Success, ResourceType::Seed) => {
                        (format!("OK loaded {what} {name}"), result.message.clone())
                    }
                    (Status::Success, _) => (format!("OK created {what}"), result.message.clone()),
                    (Status::Pass, _) => (format!("PASS {name}"), "PASS".into()),
                    (Status::Warn, _) => (
                        format!("WARN {failures} {name}"),
                        format!("WARN {failures}"),
                    ),
                    (Status::Fail, _) => (
                        format!("FAIL {failures} {name}"),
                        format!("FAIL {failures}"),
                    ),
                    (Status::Error, ResourceType::Test) => {
                        (format!("ERROR {name}"), "ERROR".into())
                    }
                    (Status::Error, ResourceType::Seed) => {
                        (format!("ERROR loading {what} {name}"), "ERROR".into())
                    }
                    (Status::Error, _) => (format!("ERROR creating {what}"), "ERROR".into()),
                    (Status::Skipped, ResourceType::Test) => {
                        (format!("SKIP test {name}"), "SKIP".into())
                    }
                    (Status::Skipped, _) => (format!("SKIP relation {relation}"), "SKIP".into()),
                };
                let time = if result.status == Status::Skipped {
                    None
                } else {
                    t
                };
                let level = match result.status {
                    Status::Warn => Level::Warn,
                    Status::Fail | Status::Error => Level::Error,
                    _ => Level::Info,
                };
                let event_name = match (result.status, node.resource_type) {
                    (Status::Skipped, _) => "LogSkipBecauseError",
                    (_, ResourceType::Test) => "LogTestResult",
                    (_, ResourceType::Seed) => "LogSeedResult",
                    (_, ResourceType::Snapshot) => "LogSnapshotResult",
                    _ => "LogModelResult",
                };
                let finished = chrono::Utc::now();
                let started = finished
                    - chrono::Duration::from_std(result.execution_time).unwrap_or_default();
                let node_status = result.status.as_str();
                let info = node_info(
                    &node,
                    rel.as_ref(),
                    node_status,
                    &stamp(started),
                    &stamp(finished),
                );
                let mut data = json!({
                    "description": text,
                    "node_info": info,
                    "status": if node.resource_type == ResourceType::Test {
                        node_status.to_string()
                    } else {
                        status.clone()
                    },
                });
                if node.resource_type == ResourceType::Test {
                    data["name"] = json!(node.name);
                    data["num_failures"] = json!(failures);
                }
                node_progress(event_name, level, index, total, &text, &status, time, data)
            }
        }
    };
    let options = run::Options {
        threads,
        fail_fast: flags.fail_fast,
    };
    let results = run::execute(&plan, options, &runner, &on_event);
    let elapsed = started.elapsed();

    // Artifacts.
    write_manifest(&runner, &graph, &target_dir, &target)?;
    write_run_results(&runner, verb, &results, elapsed, &target_dir)?;

    // The summary.
    let n = |s: Status| results.iter().filter(|(_, r)| r.status == s).count();
    let errors: Vec<&(String, NodeResult)> = results
        .iter()
        .filter(|(_, r)| matches!(r.status, Status::Error | Status::Fail))
        .collect();
    let warns: Vec<&(String, NodeResult)> = results
        .iter()
        .filter(|(_, r)| r.status == Status::Warn)
        .collect();
    if verb == Verb::Docs {
        for (id, r) in &errors {
            say(&format!("{} ({id})", r.message));
        }
        return Ok(u8::from(!errors.is_empty()));
    }
    if verb == Verb::Compile {
        for (id, r) in &errors {
            say(&format!("{} ({id})", r.message));
        }
        if errors.is_empty() {
            say(&format!(
                "Compiled {} into `{}`",
                plural_of(results.len(), "node", "nodes"),
                target_dir.join("compiled").display()
            ));
            return Ok(0);
        }
        return Ok(1);
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for (id, _) in &results {
        if let Some(node) = graph.node(id) {
            let label = match node.resource_type {
                ResourceType::Model => format!(
                    "{} model",
                    runner
                        .node(id)
                        .map_or("view".into(), |n| n.materialized().to_string())
                ),
                ResourceType::Test => "data test".into(),
                other => other.to_string(),
            };
            *kinds.entry(label).or_default() += 1;
        }
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(k, n)| {
            let many = if k.ends_with("analysis") {
                k.replace("analysis", "analyses")
            } else {
                format!("{k}s")
            };
            plural_of(*n, k, &many)
        })
        .collect();
    let secs = elapsed.as_secs_f64();
    say("");
    let execution = format!(
        " in {} hours {} minutes and {:.2} seconds",
        (secs / 3600.0) as u64,
        ((secs % 3600.0) / 60.0) as u64,
        secs % 60.0
    );
    say_as(
        "FinishedRunningStats",
        &format!(
            "Finished running {}{execution} ({secs:.2}s).",
            kinds.join(", ")
        ),
        json!({"execution": execution, "execution_time": secs, "stat_line": kinds.join(", ")}),
    );
    say("");
    let summary = json!({
        "keyboard_interrupt": false,
        "num_errors": errors.len(),
        "num_partial_success": 0,
        "num_warnings": warns.len(),
    });
    if errors.is_empty() && warns.is_empty() {
        say_as("EndOfRunSummary", "Completed successfully", summary);
    } else {
        say_as(
            "EndOfRunSummary",
            &format!(
                "Completed with {}, 0 partial successes, and {}:",
                plural_of(errors.len(), "error", "errors"),
                plural_of(warns.len(), "warning", "warnings")
            ),
            summary,
        );
        for (id, r) in errors.iter().chain(warns.iter()) {
            say("");
            let node = graph.node(id);
            let what = match (r.status, node) {
                (Status::Fail, Some(n)) => {
                    format!(
                        "Failure in test {} ({})\n  {}",
                        n.name, n.original_file_path, r.message
                    )
                }
                (Status::Warn, Some(n)) => {
                    format!(
                        "Warning in test {} ({})\n  {}",
                        n.name, n.original_file_path, r.message
                    )
                }
                _ => r.message.clone(),
            };
            let (event_name, level) = match r.status {
                Status::Warn => ("RunResultWarning", Level::Warn),
                Status::Fail => ("RunResultFailure", Level::Error),
                _ => ("RunResultError", Level::Error),
            };
            let info = node.map(|n| node_info(n, None, r.status.as_str(), "", ""));
            for line in what.lines() {
                crate::dbt::log::event(
                    event_name,
                    level,
                    line,
                    json!({"msg": line, "node_info": info}),
                );
            }
        }
    }
    say("");
    let stats = json!({
        "error": n(Status::Error) + n(Status::Fail),
        "noop": 0,
        "pass": n(Status::Success) + n(Status::Pass),
        "skip": n(Status::Skipped),
        "total": results.len(),
        "warn": n(Status::Warn),
    });
    say_as(
        "StatsLine",
        &format!(
            "Done. PASS={} WARN={} ERROR={} SKIP={} NO-OP=0 TOTAL={}",
            n(Status::Success) + n(Status::Pass),
            n(Status::Warn),
            n(Status::Error) + n(Status::Fail),
            n(Status::Skipped),
            results.len()
        ),
        json!({"stats": stats}),
    );
    Ok(u8::from(!errors.is_empty()))
}

// ---------------------------------------------------------------------------------------------
// Artifacts.

/// DuckDB's memory limit for a dbt run whose profile sets none (nor `WEIR_DUCKDB_MEMORY_LIMIT`).
///
/// DuckDB's own default is 80 % of the machine's memory, and it keeps every page it reads
/// cached up to that limit, so a build's footprint grows with the machine rather than with the
/// project (dbt-duckdb leaves it so). Under a limit, what a build does spills to the database's
/// temporary folder (`<file>.tmp`): sorts, joins, aggregates, table writes. 128 MB keeps a whole
/// `weir dbt build` of the example project at 1.2 M trips — weir itself, DuckDB's buffers and
/// what DuckDB allocates outside them while four nodes run at once — under 300 MB, and builds
/// the demo's six full months (12.5 M trips) too.
pub(crate) const DEFAULT_MEMORY_LIMIT: &str = "128MB";

/// The profile's DuckDB `settings:` (dbt-duckdb's `SET key = value` on each connection), then
/// weir's `memory_limit` ([`DEFAULT_MEMORY_LIMIT`]) when neither the profile nor
/// `WEIR_DUCKDB_MEMORY_LIMIT` names one.
fn duckdb_settings(target: &weir_dbt::project::Target, wh: &mut dyn Warehouse) -> Result<()> {
    let weir_dbt::project::Adapter::DuckDb(d) = &target.adapter else {
        return Ok(());
    };
    let limited =
        d.settings.keys().any(|k| {
            k.eq_ignore_ascii_case("memory_limit") || k.eq_ignore_ascii_case("max_memory")
        }) || std::env::var(weir_core::env::WEIR_DUCKDB_MEMORY_LIMIT)
            .is_ok_and(|v| !v.trim().is_empty());
    if !limited {
        wh.execute(&format!("SET memory_limit = {}", lit(DEFAULT_MEMORY_LIMIT)))
            .map_err(|e| user_error(format!("could not set DuckDB's memory_limit: {e}")))?;
    }
    for (key, value) in &d.settings {
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(user_error(format!(
                "profile setting `{key}` is not a DuckDB setting name"
            )));
        }
        let value = match value {
            Value::String(s) => lit(s),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => lit(&other.to_string()),
        };
        wh.execute(&format!("SET {key} = {value}")).map_err(|e| {
            user_error(format!(
                "could not apply the profile's setting `{key}`: {e}"
            ))
        })?;
    }
    Ok(())
}

pub(crate) fn generated_at() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub(crate) fn write_json(file: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string(value).context("could not serialise an artifact")?;
    std::fs::write(file, text).with_context(|| format!("could not write `{}`", file.display()))
}

fn write_manifest(
    runner: &Runner<'_>,
    graph: &Graph,
    target_dir: &Path,
    target: &weir_dbt::project::Target,
) -> Result<()> {
    let done = runner
        .done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut nodes = Map::new();
    let mut sources = Map::new();
    for (id, original) in graph.nodes() {
        let node = runner.node(id).unwrap_or_else(|| original.clone());
        let mut m = Map::new();
        m.insert("unique_id".into(), json!(id));
        m.insert("resource_type".into(), json!(node.resource_type.as_str()));
        m.insert("name".into(), json!(node.name));
        m.insert("package_name".into(), json!(node.package_name));
        m.insert("path".into(), json!(node.path));
        m.insert("original_file_path".into(), json!(node.original_file_path));
        m.insert("fqn".into(), json!(node.fqn));
        if let Some(rel) = runner.relation(id) {
            m.insert("database".into(), json!(rel.database));
            m.insert("schema".into(), json!(rel.schema));
            if node.resource_type == ResourceType::Source {
                m.insert("identifier".into(), json!(rel.identifier));
            } else {
                m.insert("alias".into(), json!(rel.identifier));
            }
        }
        m.insert("tags".into(), json!(node.tags));
        m.insert("description".into(), json!(node.description));
        m.insert("config".into(), Value::Object(full_config(&node)));
        m.insert(
            "checksum".into(),
            json!({"name": "sha256", "checksum": graph_select::checksum(original)}),
        );
        if node.resource_type == ResourceType::Source {
            sources.insert(id.clone(), Value::Object(m));
            continue;
        }
        m.insert("raw_code".into(), json!(original.raw_code));
        m.insert("language".into(), json!("sql"));
        m.insert(
            "depends_on".into(),
            json!({"macros": [], "nodes": original.depends_on}),
        );
        if let Some(t) = &node.test {
            m.insert(
                "test_metadata".into(),
                json!({"name": t.name, "kwargs": t.kwargs, "namespace": t.namespace}),
            );
            m.insert("column_name".into(), json!(t.column_name));
            m.insert(
                "attached_node".into(),
                json!(original.test.as_ref().and_then(|o| o.attached_node.clone())),
            );
        }
        if let Some(d) = done.get(id) {
            m.insert("compiled".into(), json!(d.compiled.is_some()));
            m.insert("compiled_code".into(), json!(d.compiled));
            m.insert("relation_name".into(), json!(d.relation));
        }
        nodes.insert(id.clone(), Value::Object(m));
    }
    let manifest = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
            "dbt_version": "1.11.0",
            "generated_at": generated_at(),
            "adapter_type": target.adapter.type_name(),
            "project_name": runner.root_project,
        },
        "nodes": nodes,
        "sources": sources,
        "macros": {},
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": {},
        "parent_map": graph.nodes().keys().map(|k| (k.clone(), json!(graph.parents(k)))).collect::<Map<_, _>>(),
        "child_map": graph.nodes().keys().map(|k| (k.clone(), json!(graph.children(k)))).collect::<Map<_, _>>(),
    });
    write_json(&target_dir.join("manifest.json"), &manifest)
}

fn write_run_results(
    runner: &Runner<'_>,
    verb: Verb,
    results: &[(String, NodeResult)],
    elapsed: Duration,
    target_dir: &Path,
) -> Result<()> {
    let done = runner
        .done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let list: Vec<Value> = results
        .iter()
        .map(|(id, r)| {
            let d = done.get(id).cloned().unwrap_or_default();
            let status = match (verb, r.status) {
                (Verb::Compile, Status::Success) => "success",
                (_, s) => s.as_str(),
            };
            json!({
                "status": status,
                "timing": [],
                "thread_id": "Thread-1",
                "execution_time": r.execution_time.as_secs_f64(),
                "adapter_response": {},
                "message": if r.message.is_empty() { Value::Null } else { json!(r.message) },
                "failures": r.failures,
                "unique_id": id,
                "compiled": d.compiled.is_some(),
                "compiled_code": d.compiled,
                "relation_name": d.relation,
            })
        })
        .collect();
    let value = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "dbt_version": "1.11.0",
            "generated_at": generated_at(),
        },
        "results": list,
        "elapsed_time": elapsed.as_secs_f64(),
        "args": {"which": verb.name()},
    });
    write_json(&target_dir.join("run_results.json"), &value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_configs_are_known_before_compiling() {
        let c = static_config("{{ config(materialized='ephemeral', schema = \"x\") }}\nselect 1");
        assert_eq!(c.materialized(), Some("ephemeral"));
        assert_eq!(c.schema(), Some("x"));
        assert_eq!(static_config("select 1").0.len(), 0);
    }
}
