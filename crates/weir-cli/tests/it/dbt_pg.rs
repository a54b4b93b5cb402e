//! The example dbt project (`examples/nyc-taxi/transform`) on a throwaway PostgreSQL cluster:
//! `weir demo --url` loads a month of both services into it, `weir dbt build --target pg`
//! builds every model and runs every test there, twice (the second time the incremental fact
//! table merges), and the mart agrees with the fact table it sums.

use crate::common::Env;
use crate::pg::{PASSWORD, Pg, USER};
use std::path::Path;

#[test]
fn the_example_project_builds_on_postgres() {
    let pg = Pg::start();
    let mut env = Env::new();
    let o = env.weir(&[
        "demo",
        "--scale",
        "0.01",
        "--from",
        "2021-01",
        "--to",
        "2021-01",
        "--url",
        &pg.url_with_login(),
    ]);
    assert_eq!(o.code, 0, "{o:#?}");

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nyc-taxi/transform");
    crate::dbt_run::copy_dir(&example, &env.path().join("transform"));
    env.set_env("PGHOST", "127.0.0.1");
    env.set_env("PGPORT", &pg.port().to_string());
    env.set_env("PGUSER", USER);
    env.set_env("PGPASSWORD", PASSWORD);
    env.set_env("PGDATABASE", "postgres");
    for round in 0..2 {
        let o = env.weir(&[
            "dbt",
            "build",
            "--project-dir",
            "transform",
            "--profiles-dir",
            "transform",
            "--target",
            "pg",
        ]);
        assert_eq!(o.code, 0, "round {round}: {o:#?}");
        assert!(o.stdout.contains("ERROR=0 SKIP=0"), "round {round}: {o:#?}");
        let results = crate::dbt_run::statuses(&env.path().join("transform"));
        assert!(results.len() >= 45, "{results:?}");
        assert!(
            results.iter().all(|(_, s)| s == "success" || s == "pass"),
            "round {round}: {results:?}"
        );
    }

    // The mart sums the fact table: same trips, same total, and the fact table has one row
    // per trip of the loaded month whose zones are known.
    let q = |sql: &str| -> serde_json::Value {
        let o = env.weir(&["query", &pg.url_with_login(), sql, "--json"]);
        assert_eq!(o.code, 0, "{sql}: {o:#?}");
        serde_json::from_str(&o.stdout).expect("json rows")
    };
    let fact = q("select count(*) as n, sum(total_amount)::text as total, \
                  count(distinct trip_id) as keys from analytics_core.fact_trips");
    let mart = q("select sum(total_monthly_trips)::bigint as n, \
                  sum(revenue_monthly_total_amount)::text as total \
                  from analytics_marts.dm_monthly_zone_revenue");
    assert_eq!(fact[0]["n"], fact[0]["keys"], "{fact}");
    assert_eq!(fact[0]["n"], mart[0]["n"], "{fact} {mart}");
    assert_eq!(fact[0]["total"], mart[0]["total"], "{fact} {mart}");
    let n = fact[0]["n"].as_i64().expect("count");
    assert!(n > 10_000, "{fact}");
    let services = q(
        "select string_agg(distinct service_type, ',' order by service_type) as s \
                      from analytics_core.fact_trips",
    );
    assert_eq!(services[0]["s"], "Green,Yellow", "{services}");
}
