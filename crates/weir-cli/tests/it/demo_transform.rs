//! `weir demo`'s second flow: after the loads, the example dbt project (embedded, put into the
//! demo namespace's files) is built by the DbtCLI flow on the demo warehouse, and the monthly
//! revenue mart's top rows are printed. A failed build fails the demo; `--no-transform` skips it.

use crate::common::Env;
use serde_json::Value;

const MONTHS: [&str; 6] = ["--scale", "0.01", "--from", "2021-01", "--to", "2021-02"];

fn demo(env: &Env, extra: &[&str]) -> crate::common::Out {
    let mut args = vec!["demo"];
    args.extend_from_slice(&MONTHS);
    args.extend_from_slice(extra);
    env.weir(&args)
}

fn query(env: &Env, sql: &str) -> Vec<Value> {
    let url = format!(
        "jdbc:duckdb:{}",
        env.home().join("demo/warehouse.duckdb").display()
    );
    let o = env.weir(&["query", &url, sql, "--json"]);
    assert_eq!(o.code, 0, "{sql}: {o:#?}");
    serde_json::from_str(&o.stdout).expect("json rows")
}

/// The rows of the mart table the demo prints: (month, zone, service, trips, total).
fn mart_rows(stdout: &str) -> Vec<Vec<String>> {
    let mut lines = stdout
        .lines()
        .skip_while(|l| !l.starts_with("REVENUE MONTH"));
    let header = lines.next().expect("the mart table on stdout");
    assert!(
        header.contains("ZONE") && header.contains("TOTAL AMOUNT"),
        "{header}"
    );
    lines
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect()
        })
        .collect()
}

#[test]
fn demo_builds_the_mart_and_it_sums_the_fact_table_run_after_run() {
    let env = Env::new();
    for round in 0..2 {
        let o = demo(&env, &[]);
        assert_eq!(o.code, 0, "round {round}: {o:#?}");
        assert!(
            o.stderr.contains("transform: dbt build")
                && o.stderr.contains("PASS=50 WARN=0 ERROR=0 SKIP=0"),
            "round {round}: {}",
            o.stderr
        );
        let rows = mart_rows(&o.stdout);
        assert_eq!(rows.len(), 10, "top 10: {}", o.stdout);
        for r in &rows {
            assert_eq!(r.len(), 5, "{r:?}");
            assert!(r[0] == "2021-01" || r[0] == "2021-02", "{r:?}");
            assert!(r[2] == "Yellow" || r[2] == "Green", "{r:?}");
            assert!(r[3].parse::<u64>().expect("trips") > 0, "{r:?}");
        }
        let totals: Vec<f64> = rows.iter().map(|r| r[4].parse().expect("total")).collect();
        assert!(
            totals.windows(2).all(|w| w[0] >= w[1]),
            "largest first: {totals:?}"
        );

        // The mart counts every trip of the fact table once, and the fact table has each
        // loaded trip once: the second round's incremental merge added nothing twice.
        let fact = query(
            &env,
            "select count(*) as n, count(distinct trip_id) as k, sum(total_amount)::varchar as t \
             from analytics_core.fact_trips",
        );
        let mart = query(
            &env,
            "select sum(total_monthly_trips)::bigint as n, \
             sum(revenue_monthly_total_amount)::varchar as t \
             from analytics_marts.dm_monthly_zone_revenue",
        );
        assert_eq!(
            fact[0]["n"], mart[0]["n"],
            "round {round}: {fact:?} {mart:?}"
        );
        assert_eq!(
            fact[0]["t"], mart[0]["t"],
            "round {round}: {fact:?} {mart:?}"
        );
        assert_eq!(fact[0]["n"], fact[0]["k"], "round {round}: {fact:?}");
        assert!(fact[0]["n"].as_i64().expect("count") > 20_000, "{fact:?}");
    }
    // The project went into the demo namespace's files, the flow ran in that namespace.
    let files = env.weir(&["namespace", "files", "list", "weir.demo"]);
    assert!(
        files
            .stdout
            .contains("models/marts/dm_monthly_zone_revenue.sql"),
        "{files:#?}"
    );
    let runs: Vec<Value> = env
        .executions()
        .into_iter()
        .filter(|e| e["flowId"] == "nyc_taxi_transform_local")
        .collect();
    assert_eq!(runs.len(), 2, "{runs:#?}");
    assert!(
        runs.iter().all(|e| e["namespace"] == "weir.demo"),
        "{runs:#?}"
    );
}

#[test]
fn no_transform_skips_it_and_a_failing_build_fails_the_demo() {
    let env = Env::new();
    let o = demo(&env, &["--no-transform"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(!o.stdout.contains("REVENUE MONTH"), "{o:#?}");
    assert!(!o.stderr.contains("transform"), "{o:#?}");
    let schemas = query(
        &env,
        "select count(*) as n from information_schema.schemata where schema_name like 'analytics%'",
    );
    assert_eq!(schemas[0]["n"], 0, "nothing built: {schemas:?}");

    // A table in the fact table's place with other columns: the incremental model's insert
    // fails, so the build fails, and so does the demo, naming the execution.
    query(
        &env,
        "create schema analytics_core; create table analytics_core.fact_trips (x integer)",
    );
    let o = demo(&env, &[]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stderr.contains("error: the transform execution "),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("fact_trips"), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("hint: see its logs with `weir executions logs "),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("ERROR=1"), "{}", o.stderr);
    assert!(!o.stdout.contains("REVENUE MONTH"), "{o:#?}");
}
