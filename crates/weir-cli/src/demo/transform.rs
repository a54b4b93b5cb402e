//! `weir demo`'s second flow: the example dbt project (`examples/nyc-taxi/transform`) put into
//! the demo namespace's files and built by `nyc_taxi_transform_local` (DbtCLI) on the warehouse
//! the loads just filled, then the monthly revenue mart's top rows.

use crate::output::table;
use anyhow::Result;
use serde_json::Value;
use weir_storage::InternalStorage;
use weir_warehouse::url::Target;

/// The transform flow, shipped inside the binary like the load flow.
pub const TRANSFORM_FLOW: &str =
    include_str!("../../../../examples/nyc-taxi/flows/nyc_taxi_transform_local.yaml");

macro_rules! project {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../../../examples/nyc-taxi/transform/", $path)))),*]
    };
}

/// Every file of the example dbt project but its READMEs (a unit test keeps this list equal
/// to the folder), as (path inside the project, text).
pub const PROJECT: &[(&str, &str)] = project![
    "dbt_project.yml",
    "profiles.yml",
    "macros/payment_type.sql",
    "macros/surrogate_key.sql",
    "models/core/dim_zones.sql",
    "models/core/fact_trips.sql",
    "models/core/schema.yml",
    "models/core/trips_unioned.sql",
    "models/marts/dm_monthly_zone_revenue.sql",
    "models/marts/schema.yml",
    "models/staging/schema.yml",
    "models/staging/sources.yml",
    "models/staging/stg_green_tripdata.sql",
    "models/staging/stg_yellow_tripdata.sql",
    "seeds/payment_type_lookup.csv",
    "seeds/properties.yml",
    "seeds/taxi_zone_lookup.csv",
    "tests/assert_fact_trips_total_not_negative.sql",
    "tests/generic/unique_zone_month_service.sql",
];

/// Writes the project into `namespace`'s files and removes any other file there, so the
/// namespace holds exactly this binary's copy.
pub(crate) fn put_project(storage: &InternalStorage, namespace: &str) -> Result<()> {
    for old in storage.list_namespace_files(namespace, "")? {
        if !PROJECT.iter().any(|(p, _)| *p == old) {
            storage.delete_namespace_file(namespace, &old)?;
        }
    }
    for (path, text) in PROJECT {
        storage.put_namespace_file(namespace, path, text.as_bytes())?;
    }
    Ok(())
}

/// The KV entries the transform flow's `profiles` reads for the warehouse at `url`; `Err` with
/// the reason when the example project has no target for it.
pub(crate) fn profile_kv(
    url: &str,
) -> Result<std::result::Result<Vec<(&'static str, String)>, String>> {
    Ok(match weir_warehouse::url::parse(url, None, None)? {
        Target::DuckDb { path: Some(p) } => {
            let p = std::path::absolute(&p).unwrap_or(p);
            Ok(vec![
                ("DBT_TARGET", "dev".into()),
                ("DUCKDB_PATH", p.display().to_string()),
            ])
        }
        Target::DuckDb { path: None } => Err("an in-memory DuckDB ends with the load".into()),
        Target::Postgres(c) if c.engine == weir_warehouse::Engine::Postgres => {
            let mut kv = vec![
                ("DBT_TARGET", "pg".into()),
                ("PG_HOST", c.host.clone()),
                ("PG_PORT", c.port.to_string()),
                ("PG_DATABASE", c.database.clone()),
            ];
            if let Some(u) = &c.user {
                kv.push(("DB_USER", u.clone()));
            }
            if let Some(p) = &c.password {
                kv.push(("DB_PASS", p.clone()));
            }
            Ok(kv)
        }
        Target::Postgres(_) => Err("the example dbt project has no Redshift target".into()),
    })
}

/// dbt's closing counts (`PASS=… WARN=… ERROR=… SKIP=…`) from the DbtCLI task's `runResults`,
/// if it has them.
pub(crate) fn counts(outputs: &Value) -> Option<String> {
    let (mut pass, mut warn, mut error, mut skip) = (0, 0, 0, 0);
    for r in outputs.get("runResults")?.as_array()? {
        match r.get("status").and_then(Value::as_str).unwrap_or("") {
            "success" | "pass" => pass += 1,
            "warn" => warn += 1,
            "skipped" => skip += 1,
            _ => error += 1,
        }
    }
    Some(format!("PASS={pass} WARN={warn} ERROR={error} SKIP={skip}"))
}

/// The mart's ten largest zone-months by total amount, as a table.
pub(crate) fn mart_table(url: &str) -> Result<String> {
    let target = weir_warehouse::url::parse(url, None, None)?;
    let mut w = weir_warehouse::connect(&target)?;
    let r = w.query(
        "SELECT cast(revenue_month AS varchar) AS m, revenue_zone, service_type, \
         total_monthly_trips, cast(revenue_monthly_total_amount AS varchar) AS total \
         FROM analytics_marts.dm_monthly_zone_revenue \
         ORDER BY revenue_monthly_total_amount DESC, revenue_month, revenue_zone, service_type \
         LIMIT 10",
    )?;
    drop(w);
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let cell = |i: usize| match row.get(i) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "-".into(),
                Some(v) => v.to_string(),
            };
            let month = cell(0);
            vec![
                month.get(..7).unwrap_or(&month).to_string(),
                cell(1),
                cell(2),
                cell(3),
                cell(4),
            ]
        })
        .collect();
    Ok(table(
        &["REVENUE MONTH", "ZONE", "SERVICE", "TRIPS", "TOTAL AMOUNT"],
        &rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir)
            .expect("read the example project")
            .flatten()
        {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "README.md" {
                continue;
            }
            let path = e.path();
            if path.is_dir() {
                if dir == root && matches!(name.as_str(), "target" | "logs" | "dbt_packages") {
                    continue;
                }
                files(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("inside the project");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    /// The embedded copy can never drift from the folder: every file is listed (READMEs,
    /// dotfiles and dbt's own output folders aside) and every listed file is the folder's.
    #[test]
    fn the_embedded_project_lists_every_file_of_the_example() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nyc-taxi/transform");
        let mut on_disk = Vec::new();
        files(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut listed: Vec<String> = PROJECT.iter().map(|(p, _)| (*p).to_string()).collect();
        listed.sort();
        assert_eq!(listed, on_disk);
        for (p, text) in PROJECT {
            let disk = std::fs::read_to_string(root.join(p)).expect("read");
            assert_eq!(*text, disk, "{p}");
        }
    }

    #[test]
    fn profile_kv_follows_the_warehouse() {
        let duck = profile_kv("jdbc:duckdb:/tmp/w.duckdb").unwrap().unwrap();
        assert_eq!(duck[0], ("DBT_TARGET", "dev".to_string()));
        assert_eq!(duck[1], ("DUCKDB_PATH", "/tmp/w.duckdb".to_string()));
        let pg = profile_kv("jdbc:postgresql://db:5433/taxi?user=u&password=p")
            .unwrap()
            .unwrap();
        assert_eq!(
            pg,
            [
                ("DBT_TARGET", "pg".to_string()),
                ("PG_HOST", "db".to_string()),
                ("PG_PORT", "5433".to_string()),
                ("PG_DATABASE", "taxi".to_string()),
                ("DB_USER", "u".to_string()),
                ("DB_PASS", "p".to_string()),
            ]
        );
        assert!(profile_kv("jdbc:redshift://h:5439/d").unwrap().is_err());
        assert!(profile_kv("jdbc:duckdb:").unwrap().is_err());
    }

    #[test]
    fn counts_read_dbt_statuses() {
        let out = serde_json::json!({"runResults": [
            {"status": "success"}, {"status": "pass"}, {"status": "warn"},
            {"status": "fail"}, {"status": "skipped"}
        ]});
        assert_eq!(counts(&out).unwrap(), "PASS=2 WARN=1 ERROR=1 SKIP=1");
        assert!(counts(&serde_json::json!({})).is_none());
    }
}
