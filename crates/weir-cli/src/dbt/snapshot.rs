//! dbt snapshots (type-2 slowly changing dimensions) over weir-warehouse: the `timestamp` and
//! `check` strategies, `unique_key` (one column or several), `hard_deletes`
//! (`ignore`/`invalidate`/`new_record`, and the older `invalidate_hard_deletes`) and
//! `dbt_valid_to_current`, with dbt's meta columns `dbt_scd_id`, `dbt_updated_at`,
//! `dbt_valid_from`, `dbt_valid_to` (and `dbt_is_deleted` for `new_record`).
//!
//! A run is one transaction: the snapshot's query is staged in a table next to the target, the
//! new versions are computed from it, the changed current rows closed, the new versions
//! inserted, and hard deletes handled; the staging tables are dropped before the commit.

use serde_json::Value;
use weir_dbt::jinja::{Adapter, Column};
use weir_dbt::project::Node;
use weir_warehouse::Warehouse;

/// What a snapshot's config asks for, checked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spec {
    pub keys: Vec<String>,
    pub strategy: Strategy,
    pub hard_deletes: HardDeletes,
    /// `dbt_valid_to_current`: the SQL expression current rows carry instead of null.
    pub valid_to_current: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Strategy {
    Timestamp {
        updated_at: String,
    },
    /// `None` is `check_cols: all`.
    Check {
        cols: Option<Vec<String>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HardDeletes {
    Ignore,
    Invalidate,
    NewRecord,
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

impl Spec {
    /// Reads a snapshot's effective config; the error names the missing or wrong key as dbt's
    /// parse errors do.
    pub(crate) fn from_node(node: &Node) -> Result<Spec, String> {
        let c = &node.config;
        let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
        let keys = strings(c.get("unique_key"))
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                format!(
                    "Snapshot '{}' ({}) has no `unique_key` config; a snapshot needs `strategy` and \
                     `unique_key`",
                    node.unique_id, node.original_file_path
                )
            })?;
        let strategy = match text("strategy").as_deref() {
            Some("timestamp") => Strategy::Timestamp {
                updated_at: text("updated_at").ok_or_else(|| {
                    format!(
                        "Snapshot '{}' ({}) uses the `timestamp` strategy and has no `updated_at` \
                         config",
                        node.unique_id, node.original_file_path
                    )
                })?,
            },
            Some("check") => match c.get("check_cols") {
                Some(Value::String(s)) if s == "all" => Strategy::Check { cols: None },
                other => Strategy::Check {
                    cols: Some(strings(other).filter(|v| !v.is_empty()).ok_or_else(|| {
                        format!(
                            "Snapshot '{}' ({}) uses the `check` strategy and has no \
                             `check_cols` config (a list of columns, or `all`)",
                            node.unique_id, node.original_file_path
                        )
                    })?),
                },
            },
            Some(other) => {
                return Err(format!(
                    "Snapshot '{}' ({}): the snapshot strategy `{other}` is not one of \
                     `timestamp` and `check`",
                    node.unique_id, node.original_file_path
                ));
            }
            None => {
                return Err(format!(
                    "Snapshot '{}' ({}) has no `strategy` config; a snapshot needs `strategy` \
                     and `unique_key`",
                    node.unique_id, node.original_file_path
                ));
            }
        };
        let hard_deletes = match text("hard_deletes").as_deref() {
            Some("invalidate") => HardDeletes::Invalidate,
            Some("new_record") => HardDeletes::NewRecord,
            Some("ignore") => HardDeletes::Ignore,
            Some(other) => {
                return Err(format!(
                    "Snapshot '{}' ({}): `hard_deletes` is `{other}`; expected `ignore`, \
                     `invalidate` or `new_record`",
                    node.unique_id, node.original_file_path
                ));
            }
            None if c.get("invalidate_hard_deletes").and_then(Value::as_bool) == Some(true) => {
                HardDeletes::Invalidate
            }
            None => HardDeletes::Ignore,
        };
        Ok(Spec {
            keys,
            strategy,
            hard_deletes,
            valid_to_current: text("dbt_valid_to_current"),
        })
    }
}

/// Names the work needs: the target, the two staging tables, and the run's time.
pub(crate) struct Names<'a> {
    pub target: &'a str,
    /// The snapshot's query, as rows (`<name>__dbt_tmp_src`).
    pub staged: &'a str,
    /// The new versions (`<name>__dbt_tmp_new`).
    pub fresh: &'a str,
    /// `cast('…' as timestamp)`: the time of this run, the same in every statement.
    pub now: &'a str,
}

/// Reads a relation's columns, by its rendered name (the target or a staging table).
pub(crate) type ColumnsOf<'a> =
    dyn Fn(&mut dyn Warehouse, &str) -> Result<Vec<Column>, String> + 'a;

/// Runs one snapshot in one transaction; returns dbt's status message.
pub(crate) fn run(
    wh: &mut dyn Warehouse,
    a: &dyn Adapter,
    spec: &Spec,
    names: &Names<'_>,
    exists: bool,
    sql: &str,
    columns_of: &ColumnsOf<'_>,
) -> Result<String, String> {
    wh.begin().map_err(|e| e.to_string())?;
    let result = (|| {
        if exists {
            update(wh, a, spec, names, sql, columns_of)
        } else {
            let select = versions_select(a, spec, names, &format!("(\n{sql}\n)"), None);
            wh.execute(&format!("create table {} as (\n{select}\n)", names.target))
                .map_err(|e| e.to_string())?;
            Ok("OK".to_string())
        }
    })();
    match result {
        Ok(message) => {
            wh.commit().map_err(|e| e.to_string())?;
            Ok(message)
        }
        Err(e) => {
            let _ = wh.rollback();
            Err(e)
        }
    }
}

fn key_match(a: &dyn Adapter, spec: &Spec, left: &str, right: &str) -> String {
    spec.keys
        .iter()
        .map(|k| {
            let k = quote_key(a, k);
            format!("{left}.{k} = {right}.{k}")
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

/// A key as written may already be an expression or quoted; plain names are quoted.
fn quote_key(a: &dyn Adapter, k: &str) -> String {
    if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        a.quote(k)
    } else {
        k.to_string()
    }
}

fn current(spec: &Spec, alias: &str) -> String {
    match &spec.valid_to_current {
        Some(cur) => format!("({alias}.dbt_valid_to is null or {alias}.dbt_valid_to = {cur})"),
        None => format!("{alias}.dbt_valid_to is null"),
    }
}

/// `select s.*, <meta columns> from <from> s`: the rows of `from` as new current versions.
fn versions_select(
    a: &dyn Adapter,
    spec: &Spec,
    names: &Names<'_>,
    from: &str,
    extra: Option<&str>,
) -> String {
    let upd = match &spec.strategy {
        Strategy::Timestamp { updated_at } => format!("s.{}", quote_key(a, updated_at)),
        Strategy::Check { .. } => names.now.to_string(),
    };
    let key = spec
        .keys
        .iter()
        .map(|k| format!("coalesce(cast(s.{} as varchar), '')", quote_key(a, k)))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let valid_to = match &spec.valid_to_current {
        Some(cur) => format!("coalesce(nullif({upd}, {upd}), {cur})"),
        None => format!("nullif({upd}, {upd})"),
    };
    let deleted = if spec.hard_deletes == HardDeletes::NewRecord {
        ", 'False' as dbt_is_deleted"
    } else {
        ""
    };
    format!(
        "select s.*, md5({key} || '|' || coalesce(cast({upd} as varchar), '')) as dbt_scd_id, \
         {upd} as dbt_updated_at, {upd} as dbt_valid_from, {valid_to} as dbt_valid_to{deleted} \
         from {from} s{}",
        extra.map(|e| format!(" {e}")).unwrap_or_default()
    )
}

const META: &[&str] = &[
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
    "dbt_is_deleted",
];

fn update(
    wh: &mut dyn Warehouse,
    a: &dyn Adapter,
    spec: &Spec,
    names: &Names<'_>,
    sql: &str,
    columns_of: &ColumnsOf<'_>,
) -> Result<String, String> {
    let ex = |wh: &mut dyn Warehouse, s: &str| wh.execute(s).map_err(|e| e.to_string());
    let (target, staged, fresh) = (names.target, names.staged, names.fresh);
    ex(wh, &format!("drop table if exists {staged}"))?;
    ex(wh, &format!("drop table if exists {fresh}"))?;
    ex(wh, &format!("create table {staged} as (\n{sql}\n)"))?;

    // New source columns are added to the snapshot, as dbt does.
    let src_cols = columns_of(wh, staged)?;
    let dst_cols = columns_of(wh, target)?;
    let has = |cols: &[Column], n: &str| cols.iter().any(|c| c.name.eq_ignore_ascii_case(n));
    for c in src_cols.iter().filter(|c| !has(&dst_cols, &c.name)) {
        ex(
            wh,
            &format!(
                "alter table {target} add column {} {}",
                a.quote(&c.name),
                c.data_type
            ),
        )?;
    }

    let changed = match &spec.strategy {
        Strategy::Timestamp { updated_at } => {
            format!("t.dbt_valid_from < s.{}", quote_key(a, updated_at))
        }
        Strategy::Check { cols } => {
            let cols: Vec<String> = match cols {
                Some(cols) => cols.clone(),
                None => src_cols.iter().map(|c| c.name.clone()).collect(),
            };
            cols.iter()
                .map(|c| {
                    let c = quote_key(a, c);
                    format!("s.{c} is distinct from t.{c}")
                })
                .collect::<Vec<_>>()
                .join(" or ")
        }
    };
    let changed = if spec.hard_deletes == HardDeletes::NewRecord {
        format!("({changed}) or t.dbt_is_deleted = 'True'")
    } else {
        changed
    };
    let first_key = quote_key(a, &spec.keys[0]);
    let join = format!(
        "left join (select * from {target} t where {}) t on {}",
        current(spec, "t"),
        key_match(a, spec, "s", "t")
    );
    let select = versions_select(
        a,
        spec,
        names,
        staged,
        Some(&format!(
            "{join} where t.{first_key} is null or {}",
            changed
        )),
    );
    ex(wh, &format!("create table {fresh} as (\n{select}\n)"))?;

    // Close the current versions of the changed rows.
    let close = format!(
        "update {target} as d set dbt_valid_to = (select n.dbt_valid_from from {fresh} n where \
         {} limit 1) where {} and exists (select 1 from {fresh} n where {})",
        key_match(a, spec, "n", "d"),
        current(spec, "d"),
        key_match(a, spec, "n", "d"),
    );
    ex(wh, &close)?;

    // Hard deletes: current rows whose key is gone from the query.
    let gone = format!(
        "{} and not exists (select 1 from {staged} s where {})",
        current(spec, "d"),
        key_match(a, spec, "s", "d")
    );
    match spec.hard_deletes {
        HardDeletes::Ignore => {}
        HardDeletes::Invalidate => {
            ex(
                wh,
                &format!(
                    "update {target} as d set dbt_valid_to = {} where {gone}",
                    names.now
                ),
            )?;
        }
        HardDeletes::NewRecord => {
            let gone = format!("{gone} and d.dbt_is_deleted = 'False'");
            let all = columns_of(wh, target)?;
            let data: Vec<String> = all
                .iter()
                .filter(|c| !META.contains(&c.name.as_str()))
                .map(|c| a.quote(&c.name))
                .collect();
            let valid_to = spec
                .valid_to_current
                .clone()
                .unwrap_or_else(|| format!("nullif({0}, {0})", names.now));
            let key = spec
                .keys
                .iter()
                .map(|k| format!("coalesce(cast({} as varchar), '')", quote_key(a, k)))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            // The deletion records are computed before the rows they follow are closed.
            ex(
                wh,
                &format!(
                    "insert into {fresh} ({cols}, dbt_scd_id, dbt_updated_at, dbt_valid_from, \
                     dbt_valid_to, dbt_is_deleted) select {cols}, md5({key} || '|' || \
                     cast({now} as varchar)), {now}, {now}, {valid_to}, 'True' from {target} d \
                     where {gone}",
                    cols = data.join(", "),
                    now = names.now,
                ),
            )?;
            ex(
                wh,
                &format!(
                    "update {target} as d set dbt_valid_to = {} where {gone}",
                    names.now
                ),
            )?;
        }
    }

    // Insert the new versions, by column name.
    let cols: Vec<String> = columns_of(wh, fresh)?
        .iter()
        .map(|c| a.quote(&c.name))
        .collect();
    let cols = cols.join(", ");
    ex(
        wh,
        &format!("insert into {target} ({cols}) select {cols} from {fresh}"),
    )?;
    ex(wh, &format!("drop table if exists {staged}"))?;
    ex(wh, &format!("drop table if exists {fresh}"))?;
    Ok("OK".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_dbt::project::{Config, Node};

    fn spec(config: Value) -> Result<Spec, String> {
        let files = weir_dbt::project::ProjectFiles::from_iter([
            ("dbt_project.yml", "name: p\nprofile: p\n"),
            (
                "snapshots/s.sql",
                "{% snapshot s %}select 1{% endsnapshot %}",
            ),
        ]);
        let project = weir_dbt::project::Project::load(&files).expect("loads");
        let mut node: Node = project.nodes["snapshot.p.s"].clone();
        node.apply_config(&Config(config.as_object().cloned().unwrap_or_default()));
        Spec::from_node(&node)
    }

    #[test]
    fn configs_are_read_as_dbt_documents_them() {
        let s = spec(serde_json::json!({"strategy": "check", "check_cols": "all",
            "unique_key": ["a", "b"], "invalidate_hard_deletes": true}))
        .unwrap();
        assert_eq!(s.keys, ["a", "b"]);
        assert_eq!(s.strategy, Strategy::Check { cols: None });
        assert_eq!(s.hard_deletes, HardDeletes::Invalidate);
        let e = spec(serde_json::json!({"strategy": "timestamp", "unique_key": "id"})).unwrap_err();
        assert!(e.contains("no `updated_at`"), "{e}");
        let e = spec(serde_json::json!({"unique_key": "id"})).unwrap_err();
        assert!(e.contains("no `strategy`"), "{e}");
        let e = spec(serde_json::json!({"strategy": "check", "unique_key": "id",
            "check_cols": ["x"], "hard_deletes": "sometimes"}))
        .unwrap_err();
        assert!(e.contains("`sometimes`"), "{e}");
    }
}
