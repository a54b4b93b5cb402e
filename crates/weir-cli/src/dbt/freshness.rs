//! `weir dbt source freshness`: for each selected source table with a `freshness` block and a
//! `loaded_at_field`, the age of its newest row against `warn_after`/`error_after`, with dbt's
//! log lines and `target/sources.json`. Exits 1 when a source is stale past `error_after` or
//! its query fails.

use crate::args::DbtFlags;
use crate::dbt::run::{generated_at, plural_of, progress, read_target, say, write_json};
use crate::dbt::{check_flags, load, profiles_dir, warehouse_target};
use crate::output::user_error;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};
use std::time::Instant;
use weir_dbt::project::{Freshness, FreshnessThreshold, ResourceType};
use weir_dbt::select;

fn seconds(t: &FreshnessThreshold) -> f64 {
    let unit = match t.period.as_str() {
        "minute" => 60.0,
        "hour" => 3600.0,
        _ => 86400.0,
    };
    t.count as f64 * unit
}

/// dbt's verdict for an age in seconds: `error` past `error_after`, else `warn` past
/// `warn_after`, else `pass`.
pub(crate) fn verdict(freshness: &Freshness, age: f64) -> &'static str {
    if freshness
        .error_after
        .as_ref()
        .is_some_and(|t| age > seconds(t))
    {
        "error"
    } else if freshness
        .warn_after
        .as_ref()
        .is_some_and(|t| age > seconds(t))
    {
        "warn"
    } else {
        "pass"
    }
}

/// A timestamp as the warehouse prints it; one without an offset is UTC, as dbt reads it.
pub(crate) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().replace('T', " ");
    for f in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%#z"] {
        if let Ok(t) = DateTime::parse_from_str(&text, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn threshold(t: &Option<FreshnessThreshold>) -> Value {
    match t {
        Some(t) => json!({"count": t.count, "period": t.period}),
        None => json!({"count": null, "period": null}),
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn freshness(flags: &DbtFlags) -> Result<u8> {
    let started = Instant::now();
    let indirect = check_flags(flags)?;
    let loaded = load(&flags.project_dir)?;
    let _ = profiles_dir(flags);
    let target = read_target(flags, loaded.project.config.profile.as_deref())?;
    let root = loaded.project.config.name.clone();
    let selected = crate::dbt::select_nodes(
        &loaded.graph,
        &root,
        flags,
        indirect,
        None,
        &[select::ResourceType::Source],
    )?;
    let sources: Vec<_> = selected
        .nodes
        .iter()
        .filter_map(|id| loaded.graph.node(id))
        .filter(|n| n.resource_type == ResourceType::Source)
        .filter_map(|n| {
            let s = n.source.as_ref()?;
            let f = s.freshness.as_ref()?;
            (f.warn_after.is_some() || f.error_after.is_some()).then_some((n, s, f))
        })
        .collect();

    let counts = |t: ResourceType| {
        loaded
            .graph
            .nodes()
            .values()
            .filter(|n| n.resource_type == t)
            .count()
    };
    say(&format!(
        "Running with weir={} (dbt-compatible)",
        env!("CARGO_PKG_VERSION")
    ));
    say(&format!(
        "Found {}, {}",
        plural_of(counts(ResourceType::Model), "model", "models"),
        plural_of(counts(ResourceType::Source), "source", "sources")
    ));
    let target_dir = flags.project_dir.join(&loaded.project.config.target_path);
    std::fs::create_dir_all(&target_dir)
        .with_context(|| format!("could not create `{}`", target_dir.display()))?;
    if sources.is_empty() {
        crate::dbt::warn(
            "Nothing to do. Try checking your model configs and model specification args",
        );
        return Ok(0);
    }
    say("");
    say(&format!("Concurrency: 1 thread (target='{}')", target.name));
    say("");

    let mut wt = warehouse_target(&target);
    if let weir_warehouse::Target::DuckDb { path: Some(p) } = &mut wt
        && p.is_relative()
    {
        *p = flags.project_dir.join(&*p);
    }
    let mut wh = weir_warehouse::connect(&wt)
        .map_err(|e| user_error(format!("could not connect to {wt}: {e}")))?;
    let default_db = target.adapter.database().to_string();
    let total = sources.len();
    let mut results = Vec::new();
    let mut errors = 0;
    for (i, (node, src, fresh)) in sources.iter().enumerate() {
        let index = i + 1;
        let label = format!("freshness of {}.{}", src.source_name, src.table_name);
        progress(index, total, &format!("START {label}"), "RUN", None);
        let t0 = Instant::now();
        let mut result = json!({"unique_id": node.unique_id});
        let outcome = (|| -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
            let field = src.loaded_at_field.as_deref().ok_or_else(|| {
                format!(
                    "source {}.{} has a `freshness` block and no `loaded_at_field`",
                    src.source_name, src.table_name
                )
            })?;
            let db = src.database.clone().unwrap_or_else(|| default_db.clone());
            let relation = [db.as_str(), src.schema.as_str(), src.identifier.as_str()]
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| quote(p))
                .collect::<Vec<_>>()
                .join(".");
            let filter = fresh
                .filter
                .as_deref()
                .map(|f| format!(" where {f}"))
                .unwrap_or_default();
            let sql = format!(
                "select cast(max({field}) as varchar) as max_loaded_at from {relation}{filter}"
            );
            let now = Utc::now();
            let rows = wh.query(&sql).map_err(|e| e.to_string())?;
            let max = rows
                .rows
                .first()
                .and_then(|r| r.first())
                .and_then(Value::as_str)
                .map(str::to_string);
            let max = match max {
                // dbt reads a table without rows as loaded at the epoch: maximally stale.
                None => DateTime::<Utc>::UNIX_EPOCH,
                Some(text) => parse_time(&text)
                    .ok_or_else(|| format!("`{field}` gave `{text}`, which is not a timestamp"))?,
            };
            Ok((max, now))
        })();
        let elapsed = t0.elapsed();
        match outcome {
            Ok((max, now)) => {
                let age = (now - max).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
                let status = verdict(fresh, age);
                let (word, shown) = match status {
                    "error" => {
                        errors += 1;
                        ("ERROR STALE", "ERROR STALE")
                    }
                    "warn" => ("WARN", "WARN"),
                    _ => ("PASS", "PASS"),
                };
                progress(
                    index,
                    total,
                    &format!("{word} {label}"),
                    shown,
                    Some(elapsed),
                );
                let m = result.as_object_mut().expect("an object");
                m.insert(
                    "max_loaded_at".into(),
                    json!(max.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()),
                );
                m.insert(
                    "snapshotted_at".into(),
                    json!(now.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()),
                );
                m.insert("max_loaded_at_time_ago_in_s".into(), json!(age));
                m.insert("status".into(), json!(status));
                m.insert(
                    "criteria".into(),
                    json!({
                        "warn_after": threshold(&fresh.warn_after),
                        "error_after": threshold(&fresh.error_after),
                        "filter": fresh.filter,
                    }),
                );
                m.insert("adapter_response".into(), json!({"_message": "OK"}));
            }
            Err(e) => {
                errors += 1;
                progress(
                    index,
                    total,
                    &format!("ERROR {label}"),
                    "ERROR",
                    Some(elapsed),
                );
                let m = result.as_object_mut().expect("an object");
                m.insert("error".into(), json!(e));
                m.insert("status".into(), json!("runtime error"));
            }
        }
        let m = result.as_object_mut().expect("an object");
        m.insert("timing".into(), json!([]));
        m.insert("thread_id".into(), json!("Thread-1"));
        m.insert("execution_time".into(), json!(elapsed.as_secs_f64()));
        results.push(result);
    }
    let elapsed = started.elapsed().as_secs_f64();
    write_json(
        &target_dir.join("sources.json"),
        &json!({
            "metadata": {
                "dbt_schema_version": "https://schemas.getdbt.com/dbt/sources/v3.json",
                "dbt_version": "1.11.0",
                "generated_at": generated_at(),
                "env": {},
            },
            "results": results,
            "elapsed_time": elapsed,
        }),
    )?;
    say("");
    say(&format!(
        "Finished running {} in {} hours {} minutes and {:.2} seconds ({elapsed:.2}s).",
        plural_of(total, "source", "sources"),
        (elapsed / 3600.0) as u64,
        ((elapsed % 3600.0) / 60.0) as u64,
        elapsed % 60.0
    ));
    say("Done.");
    Ok(u8::from(errors > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_judged_against_error_then_warn() {
        let f = Freshness {
            warn_after: Some(FreshnessThreshold {
                count: 1,
                period: "hour".into(),
            }),
            error_after: Some(FreshnessThreshold {
                count: 2,
                period: "day".into(),
            }),
            filter: None,
        };
        assert_eq!(verdict(&f, 60.0), "pass");
        assert_eq!(verdict(&f, 3601.0), "warn");
        assert_eq!(verdict(&f, 2.0 * 86400.0 + 1.0), "error");
    }

    #[test]
    fn warehouse_timestamps_are_read_as_utc() {
        let t = parse_time("2024-01-01 10:00:00.5").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-01T10:00:00.500+00:00");
        let t = parse_time("2024-01-01 10:00:00+02").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-01T08:00:00+00:00");
        assert!(parse_time("2024-01-01").is_some());
        assert!(parse_time("soon").is_none());
    }
}
