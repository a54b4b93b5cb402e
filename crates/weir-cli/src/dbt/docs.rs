//! `weir dbt docs generate`: the nodes compiled as `compile` does (unless `--no-compile`),
//! `target/manifest.json`, and `target/catalog.json` in dbt's shape — for each model, seed,
//! snapshot and source that exists in the warehouse, its type and columns (name, type, index)
//! from the information schema. `--empty-catalog` writes the catalog without asking.

use crate::args::DbtFlags;
use crate::dbt::run::{Verb, execute, generated_at, read_target, say, write_json};
use crate::dbt::warehouse_target;
use crate::output::user_error;
use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A relation the catalog describes: (unique id, database, schema, name).
struct Wanted {
    id: String,
    is_source: bool,
    database: String,
    schema: String,
    name: String,
}

fn wanted(manifest: &Value) -> Vec<Wanted> {
    let mut out = Vec::new();
    for (section, is_source) in [("nodes", false), ("sources", true)] {
        let Some(map) = manifest.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (id, n) in map {
            let text = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let kind = text("resource_type");
            let materialized = n
                .get("config")
                .and_then(|c| c.get("materialized"))
                .and_then(Value::as_str)
                .unwrap_or("");
            if !is_source
                && (!matches!(kind.as_str(), "model" | "seed" | "snapshot")
                    || materialized == "ephemeral")
            {
                continue;
            }
            let name = if is_source {
                text("identifier")
            } else {
                text("alias")
            };
            out.push(Wanted {
                id: id.clone(),
                is_source,
                database: text("database"),
                schema: text("schema"),
                name,
            });
        }
    }
    out
}

/// A relation in the information schema: its type and its columns.
type Found = (String, Map<String, Value>);

fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn generate(flags: &DbtFlags) -> Result<u8> {
    let code = execute(Verb::Docs, flags)?;
    let loaded = crate::dbt::load(&flags.project_dir)?;
    let target_dir = flags.project_dir.join(&loaded.project.config.target_path);
    let manifest_file = target_dir.join("manifest.json");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(&manifest_file)
            .with_context(|| format!("could not read `{}`", manifest_file.display()))?,
    )
    .context("`manifest.json` is not JSON")?;
    let wanted = wanted(&manifest);
    say("Building catalog");
    let mut nodes = Map::new();
    let mut sources = Map::new();
    if !flags.empty_catalog && !wanted.is_empty() {
        let target = read_target(flags, loaded.project.config.profile.as_deref())?;
        let mut wt = warehouse_target(&target);
        if let weir_warehouse::Target::DuckDb { path: Some(p) } = &mut wt
            && p.is_relative()
        {
            *p = flags.project_dir.join(&*p);
        }
        let mut wh = weir_warehouse::connect(&wt)
            .map_err(|e| user_error(format!("could not connect to {wt}: {e}")))?;
        let mut schemas: Vec<String> = wanted.iter().map(|w| lit(&w.schema)).collect();
        schemas.sort();
        schemas.dedup();
        let rows = wh
            .query(&format!(
                "select t.table_catalog, t.table_schema, t.table_name, t.table_type, \
                 c.column_name, c.ordinal_position, c.data_type \
                 from information_schema.tables t join information_schema.columns c \
                 on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema \
                 and c.table_name = t.table_name \
                 where t.table_schema in ({}) \
                 order by t.table_schema, t.table_name, c.ordinal_position",
                schemas.join(", ")
            ))
            .map_err(|e| user_error(format!("could not read the information schema: {e}")))?;
        // (database, schema, name) lower-cased → (type, columns).
        let mut found: BTreeMap<(String, String, String), Found> = BTreeMap::new();
        for r in &rows.rows {
            let s = |i: usize| match r.get(i) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let key = (
                s(0).to_lowercase(),
                s(1).to_lowercase(),
                s(2).to_lowercase(),
            );
            let entry = found.entry(key).or_insert_with(|| (s(3), Map::new()));
            let index = s(5).parse::<i64>().unwrap_or(0);
            entry.1.insert(
                s(4),
                json!({"type": s(6), "index": index, "name": s(4), "comment": null}),
            );
        }
        for w in &wanted {
            let key = (
                w.database.to_lowercase(),
                w.schema.to_lowercase(),
                w.name.to_lowercase(),
            );
            let hit = found.get(&key).or_else(|| {
                // A database not named in the manifest (one attached file): schema and name.
                found
                    .iter()
                    .find(|((_, s, n), _)| *s == key.1 && *n == key.2)
                    .map(|(_, v)| v)
            });
            let Some((kind, columns)) = hit else {
                continue;
            };
            let entry = json!({
                "metadata": {
                    "type": kind,
                    "schema": w.schema,
                    "name": w.name,
                    "database": w.database,
                    "comment": null,
                    "owner": null,
                },
                "columns": columns,
                "stats": {"has_stats": {
                    "id": "has_stats",
                    "label": "Has Stats?",
                    "value": false,
                    "include": false,
                    "description": "Indicates whether there are statistics for this table",
                }},
                "unique_id": w.id,
            });
            if w.is_source {
                sources.insert(w.id.clone(), entry);
            } else {
                nodes.insert(w.id.clone(), entry);
            }
        }
    }
    let file = std::path::absolute(target_dir.join("catalog.json"))
        .unwrap_or_else(|_| target_dir.join("catalog.json"));
    write_json(
        &file,
        &json!({
            "metadata": {
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
                "dbt_version": "1.11.0",
                "generated_at": generated_at(),
                "env": {},
            },
            "nodes": nodes,
            "sources": sources,
            "errors": null,
        }),
    )?;
    say(&format!("Catalog written to {}", file.display()));
    Ok(code)
}
