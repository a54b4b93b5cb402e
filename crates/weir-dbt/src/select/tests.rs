//! Selection over a small taxi project, following the examples of dbt's node selection docs.
//!
//! seed taxi_zone_lookup → dim_zones; sources green/yellow → stg_green, stg_yellow →
//! trips_unioned → fact_trips ← dim_zones; fact_trips → dm_monthly_zone_revenue → an analysis
//! and an exposure; tests on them; one model in a package `audit`.

use super::*;
use serde_json::json;

struct Fixture {
    id: &'static str,
    path: &'static str,
    fqn: &'static [&'static str],
    tags: &'static [&'static str],
    config: Value,
    depends_on: &'static [&'static str],
    test: Option<&'static str>,
}

fn node(f: Fixture) -> SelectNode {
    let mut parts = f.id.split('.');
    let resource_type = match parts.next().unwrap() {
        "model" => ResourceType::Model,
        "seed" => ResourceType::Seed,
        "snapshot" => ResourceType::Snapshot,
        "test" => ResourceType::Test,
        "source" => ResourceType::Source,
        "analysis" => ResourceType::Analysis,
        "exposure" => ResourceType::Exposure,
        other => panic!("{other}"),
    };
    let package_name = parts.next().unwrap().to_owned();
    SelectNode {
        unique_id: f.id.to_owned(),
        name: f.fqn.last().unwrap().to_string(),
        resource_type,
        package_name,
        original_file_path: f.path.to_owned(),
        fqn: f.fqn.iter().map(|s| s.to_string()).collect(),
        tags: f.tags.iter().map(|s| s.to_string()).collect(),
        config: f.config.as_object().cloned().unwrap_or_default(),
        depends_on: f.depends_on.iter().map(|s| s.to_string()).collect(),
        checksum: format!("sum-{}", f.id),
        test_metadata_name: f.test.map(str::to_owned),
    }
}

const GREEN: &str = "source.taxi.staging.green_tripdata";
const YELLOW: &str = "source.taxi.staging.yellow_tripdata";
const SEED: &str = "seed.taxi.taxi_zone_lookup";
const STG_GREEN: &str = "model.taxi.stg_green";
const STG_YELLOW: &str = "model.taxi.stg_yellow";
const UNIONED: &str = "model.taxi.trips_unioned";
const DIM: &str = "model.taxi.dim_zones";
const FACT: &str = "model.taxi.fact_trips";
const DM: &str = "model.taxi.dm_monthly_zone_revenue";

fn graph() -> SelectGraph {
    let fixtures = vec![
        Fixture {
            id: GREEN,
            path: "models/staging/schema.yml",
            fqn: &["taxi", "staging", "staging", "green_tripdata"],
            tags: &[],
            config: json!({"enabled": true}),
            depends_on: &[],
            test: None,
        },
        Fixture {
            id: YELLOW,
            path: "models/staging/schema.yml",
            fqn: &["taxi", "staging", "staging", "yellow_tripdata"],
            tags: &[],
            config: json!({"enabled": true}),
            depends_on: &[],
            test: None,
        },
        Fixture {
            id: SEED,
            path: "seeds/taxi_zone_lookup.csv",
            fqn: &["taxi", "taxi_zone_lookup"],
            tags: &[],
            config: json!({"materialized": "seed"}),
            depends_on: &[],
            test: None,
        },
        Fixture {
            id: STG_GREEN,
            path: "models/staging/stg_green.sql",
            fqn: &["taxi", "staging", "stg_green"],
            tags: &["staging"],
            config: json!({"materialized": "view", "tags": ["staging"], "meta": {"owner": "data-eng"}}),
            depends_on: &[GREEN, "macro.taxi.get_payment_type"],
            test: None,
        },
        Fixture {
            id: STG_YELLOW,
            path: "models/staging/stg_yellow.sql",
            fqn: &["taxi", "staging", "stg_yellow"],
            tags: &["staging"],
            config: json!({"materialized": "view", "tags": ["staging"], "meta": {"owner": "analytics"}}),
            depends_on: &[YELLOW],
            test: None,
        },
        Fixture {
            id: UNIONED,
            path: "models/core/trips_unioned.sql",
            fqn: &["taxi", "core", "trips_unioned"],
            tags: &[],
            config: json!({"materialized": "table"}),
            depends_on: &[STG_GREEN, STG_YELLOW],
            test: None,
        },
        Fixture {
            id: DIM,
            path: "models/core/dim_zones.sql",
            fqn: &["taxi", "core", "dim_zones"],
            tags: &[],
            config: json!({"materialized": "table", "enabled": true}),
            depends_on: &[SEED],
            test: None,
        },
        Fixture {
            id: FACT,
            path: "models/core/fact_trips.sql",
            fqn: &["taxi", "core", "fact_trips"],
            tags: &["core", "nightly"],
            config: json!({"materialized": "incremental", "unique_key": "tripid", "tags": ["core", "nightly"]}),
            depends_on: &[UNIONED, DIM],
            test: None,
        },
        Fixture {
            id: DM,
            path: "models/core/dm_monthly_zone_revenue.sql",
            fqn: &["taxi", "core", "dm_monthly_zone_revenue"],
            tags: &["mart"],
            config: json!({"materialized": "table", "group": "finance", "access": "public"}),
            depends_on: &[FACT],
            test: None,
        },
        Fixture {
            id: "analysis.taxi.revenue_by_month",
            path: "analyses/revenue_by_month.sql",
            fqn: &["taxi", "analysis", "revenue_by_month"],
            tags: &[],
            config: json!({}),
            depends_on: &[DM],
            test: None,
        },
        Fixture {
            id: "exposure.taxi.revenue_dashboard",
            path: "models/exposures.yml",
            fqn: &["taxi", "revenue_dashboard"],
            tags: &[],
            config: json!({}),
            depends_on: &[DM],
            test: None,
        },
        Fixture {
            id: "model.audit.audit_log",
            path: "models/audit_log.sql",
            fqn: &["audit", "audit_log"],
            tags: &[],
            config: json!({"materialized": "table"}),
            depends_on: &[],
            test: None,
        },
        Fixture {
            id: "test.taxi.not_null_stg_green_tripid.5a1b",
            path: "models/staging/schema.yml",
            fqn: &["taxi", "staging", "not_null_stg_green_tripid"],
            tags: &[],
            config: json!({"severity": "ERROR"}),
            depends_on: &[STG_GREEN],
            test: Some("not_null"),
        },
        Fixture {
            id: "test.taxi.accepted_values_stg_yellow_payment_type.77c2",
            path: "models/staging/schema.yml",
            fqn: &["taxi", "staging", "accepted_values_stg_yellow_payment_type"],
            tags: &[],
            config: json!({"severity": "warn"}),
            depends_on: &[STG_YELLOW],
            test: Some("accepted_values"),
        },
        Fixture {
            id: "test.taxi.source_not_null_staging_green_tripdata_vendorid.91ff",
            path: "models/staging/schema.yml",
            fqn: &[
                "taxi",
                "staging",
                "source_not_null_staging_green_tripdata_vendorid",
            ],
            tags: &[],
            config: json!({"severity": "ERROR"}),
            depends_on: &[GREEN],
            test: Some("not_null"),
        },
        Fixture {
            id: "test.taxi.unique_fact_trips_tripid.0d3e",
            path: "models/core/schema.yml",
            fqn: &["taxi", "core", "unique_fact_trips_tripid"],
            tags: &[],
            config: json!({"severity": "ERROR"}),
            depends_on: &[FACT],
            test: Some("unique"),
        },
        Fixture {
            id: "test.taxi.relationships_fact_trips_pickup.e4f0",
            path: "models/core/schema.yml",
            fqn: &["taxi", "core", "relationships_fact_trips_pickup"],
            tags: &[],
            config: json!({"severity": "ERROR"}),
            depends_on: &[FACT, DIM],
            test: Some("relationships"),
        },
        Fixture {
            id: "test.taxi.assert_revenue_positive",
            path: "tests/assert_revenue_positive.sql",
            fqn: &["taxi", "assert_revenue_positive"],
            tags: &["mart"],
            config: json!({"severity": "ERROR"}),
            depends_on: &[DM],
            test: None,
        },
    ];
    SelectGraph::new(fixtures.into_iter().map(node)).with_root_project("taxi")
}

/// Selected node names, sorted, space-separated.
fn names(graph: &SelectGraph, ids: &BTreeSet<String>) -> String {
    let mut names: Vec<&str> = ids
        .iter()
        .map(|id| graph.node(id).unwrap().name.as_str())
        .collect();
    names.sort_unstable();
    names.join(" ")
}

fn sorted(expected: &str) -> String {
    let mut names: Vec<&str> = expected.split_whitespace().collect();
    names.sort_unstable();
    names.join(" ")
}

fn args(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![s.to_owned()]
    }
}

fn run(selection: Selection<'_>) -> Result<String, SelectError> {
    let graph = graph();
    evaluate(&graph, &selection).map(|selected| names(&graph, &selected.nodes))
}

#[track_caller]
fn check_full(select: &str, exclude: &str, indirect: IndirectSelection, expected: &str) {
    let (select, exclude) = (args(select), args(exclude));
    let actual = run(Selection {
        select: &select,
        exclude: &exclude,
        indirect,
        ..Selection::default()
    })
    .unwrap();
    assert_eq!(
        actual,
        sorted(expected),
        "select {select:?} exclude {exclude:?}"
    );
}

#[track_caller]
fn check(select: &str, expected: &str) {
    check_full(select, "", IndirectSelection::Eager, expected);
}

#[track_caller]
fn check_indirect(select: &str, indirect: IndirectSelection, expected: &str) {
    check_full(select, "", indirect, expected);
}

#[track_caller]
fn check_error(select: &str, expected: &str) {
    let select = args(select);
    let err = run(Selection {
        select: &select,
        ..Selection::default()
    })
    .unwrap_err();
    assert_eq!(err.to_string(), expected);
}

const ALL: &str = "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
    dim_zones fact_trips dm_monthly_zone_revenue revenue_by_month revenue_dashboard audit_log \
    not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
    source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid \
    relationships_fact_trips_pickup assert_revenue_positive";

const FACT_TESTS: &str = "unique_fact_trips_tripid relationships_fact_trips_pickup";

#[test]
fn no_select_is_everything() {
    check("", ALL);
    check_full("  ", "", IndirectSelection::Cautious, ALL);
}

#[test]
fn a_bare_name_selects_the_node_and_its_tests() {
    check("stg_green", "stg_green not_null_stg_green_tripid");
    check("fqn:stg_green", "stg_green not_null_stg_green_tripid");
}

#[test]
fn space_is_union() {
    check(
        "stg_green stg_yellow",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    // Several `--select` arguments are a union too.
    let graph = graph();
    let selected = select(
        &graph,
        &["stg_green".to_owned(), "dim_zones".to_owned()],
        &[],
        None,
    )
    .unwrap();
    assert_eq!(
        names(&graph, &selected),
        sorted("stg_green not_null_stg_green_tripid dim_zones relationships_fact_trips_pickup")
    );
}

#[test]
fn comma_is_intersection() {
    check(
        "tag:nightly,config.materialized:incremental",
        &format!("fact_trips {FACT_TESTS}"),
    );
    check("tag:staging,config.materialized:table", "");
    // Tests of the models tagged `staging`: `+` on the left, a type on the right.
    check(
        "tag:staging+,resource_type:test",
        "not_null_stg_green_tripid accepted_values_stg_yellow_payment_type unique_fact_trips_tripid \
         relationships_fact_trips_pickup assert_revenue_positive",
    );
    check(
        "path:models/core,config.materialized:table",
        "trips_unioned dim_zones dm_monthly_zone_revenue relationships_fact_trips_pickup \
         assert_revenue_positive",
    );
}

#[test]
fn ancestors() {
    check(
        "+fact_trips",
        &format!(
            "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
             dim_zones fact_trips not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
             source_not_null_staging_green_tripdata_vendorid {FACT_TESTS}"
        ),
    );
}

#[test]
fn descendants() {
    check(
        "fact_trips+",
        &format!(
            "fact_trips dm_monthly_zone_revenue revenue_by_month revenue_dashboard \
             assert_revenue_positive {FACT_TESTS}"
        ),
    );
    check(
        "+stg_green+",
        &format!(
            "green_tripdata stg_green trips_unioned fact_trips dm_monthly_zone_revenue \
             revenue_by_month revenue_dashboard not_null_stg_green_tripid \
             source_not_null_staging_green_tripdata_vendorid assert_revenue_positive {FACT_TESTS}"
        ),
    );
}

#[test]
fn depth_limits() {
    check(
        "1+fact_trips",
        &format!("trips_unioned dim_zones fact_trips {FACT_TESTS}"),
    );
    check(
        "2+dm_monthly_zone_revenue",
        &format!(
            "trips_unioned dim_zones fact_trips dm_monthly_zone_revenue assert_revenue_positive \
             {FACT_TESTS}"
        ),
    );
    check(
        "stg_green+2",
        "stg_green trips_unioned fact_trips not_null_stg_green_tripid unique_fact_trips_tripid \
         relationships_fact_trips_pickup",
    );
    check(
        "stg_green+1",
        "stg_green trips_unioned not_null_stg_green_tripid",
    );
    check("stg_green+0", "stg_green not_null_stg_green_tripid");
    check(
        "1+stg_green+1",
        "green_tripdata stg_green trips_unioned not_null_stg_green_tripid source_not_null_staging_green_tripdata_vendorid",
    );
}

#[test]
fn at_selects_descendants_and_their_ancestors() {
    // Everything needed to build `dim_zones` and what depends on it: trips_unioned's branch
    // comes in as a parent of fact_trips.
    check(
        "@dim_zones",
        "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
         dim_zones fact_trips dm_monthly_zone_revenue revenue_by_month revenue_dashboard \
         not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid \
         relationships_fact_trips_pickup assert_revenue_positive",
    );
    check(
        "@dm_monthly_zone_revenue",
        &format!(
            "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
             dim_zones fact_trips dm_monthly_zone_revenue revenue_by_month revenue_dashboard \
             not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
             source_not_null_staging_green_tripdata_vendorid assert_revenue_positive {FACT_TESTS}"
        ),
    );
    check(
        "@taxi_zone_lookup",
        "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
         dim_zones fact_trips dm_monthly_zone_revenue revenue_by_month revenue_dashboard \
         not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid \
         relationships_fact_trips_pickup assert_revenue_positive",
    );
}

#[test]
fn tag_method() {
    check("tag:nightly", &format!("fact_trips {FACT_TESTS}"));
    // A test's own tag selects it; its model's tests come along.
    check(
        "tag:mart",
        "dm_monthly_zone_revenue assert_revenue_positive",
    );
    check("tag:night*", &format!("fact_trips {FACT_TESTS}"));
    check("tag:nope", "");
}

#[test]
fn path_method() {
    let staging = "green_tripdata yellow_tripdata stg_green stg_yellow not_null_stg_green_tripid \
        accepted_values_stg_yellow_payment_type source_not_null_staging_green_tripdata_vendorid";
    check("path:models/staging", staging);
    check("path:models/staging/", staging);
    check("models/staging", staging);
    // A bare folder name is a path when the project has that folder (dbt checks the disk).
    check("seeds", "taxi_zone_lookup");
    check(
        "path:models/core/fact_trips.sql",
        &format!("fact_trips {FACT_TESTS}"),
    );
    check(
        "models/core/fact_trips.sql",
        &format!("fact_trips {FACT_TESTS}"),
    );
    check(
        "path:models/*/stg_*.sql",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    // `*` stays within one folder; `**` crosses them.
    check("path:models/*.sql", "audit_log");
    check(
        "path:models/**/stg_g*.sql",
        "stg_green not_null_stg_green_tripid",
    );
    check("path:tests", "assert_revenue_positive");
}

#[test]
fn file_method() {
    check("file:fact_trips.sql", &format!("fact_trips {FACT_TESTS}"));
    check("fact_trips.sql", &format!("fact_trips {FACT_TESTS}"));
    check("file:stg_green", "stg_green not_null_stg_green_tripid");
    check("taxi_zone_lookup.csv", "taxi_zone_lookup");
}

#[test]
fn fqn_method() {
    check("staging.stg_green", "stg_green not_null_stg_green_tripid");
    check(
        "taxi.staging.stg_green",
        "stg_green not_null_stg_green_tripid",
    );
    check(
        "staging.*",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid",
    );
    // A wildcard matches the rest of the fqn from its part on: dbt-core 1.11's `stg_*` selects
    // only models at the root of `models/` (dbt-core#11333, expected there; Fusion differs).
    check("stg_*", "");
    check(
        "fqn:*.stg_*",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    check(
        "*stg_*",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    check(
        "file:stg_*",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    check("audit_*", "audit_log");
    // The project's name selects all its nodes (sources are not fqn-selectable; their tests are).
    let taxi_without_sources = ALL
        .split_whitespace()
        .filter(|n| !["green_tripdata", "yellow_tripdata", "audit_log"].contains(n))
        .collect::<Vec<_>>()
        .join(" ");
    check("taxi", &taxi_without_sources);
    check("audit", "audit_log");
    // `*` is every non-source node.
    let without_sources = ALL
        .split_whitespace()
        .filter(|n| !["green_tripdata", "yellow_tripdata"].contains(n))
        .collect::<Vec<_>>()
        .join(" ");
    check("*", &without_sources);
    check("core.fact_trips.extra", "");
}

#[test]
fn source_method() {
    check(
        "source:staging",
        "green_tripdata yellow_tripdata source_not_null_staging_green_tripdata_vendorid",
    );
    check(
        "source:staging.green_tripdata",
        "green_tripdata source_not_null_staging_green_tripdata_vendorid",
    );
    check("source:taxi.staging.yellow_*", "yellow_tripdata");
    check(
        "source:staging.yellow_tripdata+",
        &format!(
            "yellow_tripdata stg_yellow trips_unioned fact_trips dm_monthly_zone_revenue \
             revenue_by_month revenue_dashboard accepted_values_stg_yellow_payment_type \
             assert_revenue_positive {FACT_TESTS}"
        ),
    );
    check(
        "source:*",
        "green_tripdata yellow_tripdata source_not_null_staging_green_tripdata_vendorid",
    );
    check("source:other", "");
}

#[test]
fn resource_type_and_package_methods() {
    check("resource_type:seed", "taxi_zone_lookup");
    check("resource_type:exposure", "revenue_dashboard");
    check("resource_type:analysis", "revenue_by_month");
    check("resource_type:metric", "");
    check("package:audit", "audit_log");
    check("package:aud*", "audit_log");
    check("package:this,resource_type:seed", "taxi_zone_lookup");
    check("exposure:revenue_*", "revenue_dashboard");
    check(
        "group:finance",
        "dm_monthly_zone_revenue assert_revenue_positive",
    );
    check(
        "access:public",
        "dm_monthly_zone_revenue assert_revenue_positive",
    );
}

#[test]
fn config_method() {
    check(
        "config.materialized:view",
        "stg_green stg_yellow not_null_stg_green_tripid accepted_values_stg_yellow_payment_type",
    );
    check("config.materialized:seed", "taxi_zone_lookup");
    // Nested keys, list values, booleans, case-insensitive severity.
    check(
        "config.meta.owner:data-eng",
        "stg_green not_null_stg_green_tripid",
    );
    check("config.tags:nightly", &format!("fact_trips {FACT_TESTS}"));
    check(
        "config.enabled:true",
        "green_tripdata yellow_tripdata dim_zones source_not_null_staging_green_tripdata_vendorid \
         relationships_fact_trips_pickup",
    );
    check(
        "config.severity:WARN,resource_type:test",
        "accepted_values_stg_yellow_payment_type",
    );
    check(
        "config.unique_key:tripid",
        &format!("fact_trips {FACT_TESTS}"),
    );
    // Case matters for other keys, as in dbt.
    check("config.materialized:VIEW", "");
    check("config.meta.missing:x", "");
}

#[test]
fn test_type_and_test_name_methods() {
    check(
        "test_type:generic",
        "not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid \
         relationships_fact_trips_pickup",
    );
    check("test_type:singular", "assert_revenue_positive");
    check(
        "test_type:data",
        "not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid \
         relationships_fact_trips_pickup assert_revenue_positive",
    );
    check("test_type:unit", "");
    check(
        "test_name:not_null",
        "not_null_stg_green_tripid source_not_null_staging_green_tripdata_vendorid",
    );
    check("test_name:relationships", "relationships_fact_trips_pickup");
    check("test_name:not_null,stg_green", "not_null_stg_green_tripid");
}

#[test]
fn exclude() {
    check_full(
        "fact_trips+",
        "dm_monthly_zone_revenue",
        IndirectSelection::Eager,
        &format!("fact_trips revenue_by_month revenue_dashboard {FACT_TESTS}"),
    );
    check_full(
        "",
        "tag:staging source:* package:audit resource_type:test",
        IndirectSelection::Eager,
        "taxi_zone_lookup trips_unioned dim_zones fact_trips dm_monthly_zone_revenue \
         revenue_by_month revenue_dashboard",
    );
    // An excluded model takes all its tests along, even with cautious selection.
    check_full(
        "+fact_trips",
        "dim_zones",
        IndirectSelection::Cautious,
        "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
         fact_trips not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid unique_fact_trips_tripid",
    );
    check_full(
        "staging.*",
        "*.stg_*,config.meta.owner:analytics",
        IndirectSelection::Eager,
        "stg_green not_null_stg_green_tripid source_not_null_staging_green_tripdata_vendorid",
    );
}

#[test]
fn indirect_selection_modes() {
    use IndirectSelection::*;
    // The relationships test has two parents: fact_trips and dim_zones.
    check_indirect("fact_trips", Eager, &format!("fact_trips {FACT_TESTS}"));
    check_indirect(
        "fact_trips",
        Cautious,
        "fact_trips unique_fact_trips_tripid",
    );
    // dim_zones is an ancestor of fact_trips: the test can be built.
    check_indirect("fact_trips", Buildable, &format!("fact_trips {FACT_TESTS}"));
    check_indirect("fact_trips", Empty, "fact_trips");

    check_indirect(
        "dim_zones",
        Eager,
        "dim_zones relationships_fact_trips_pickup",
    );
    check_indirect("dim_zones", Cautious, "dim_zones");
    check_indirect("dim_zones", Buildable, "dim_zones");
    check_indirect("dim_zones", Empty, "dim_zones");

    // Both parents in two words of the union: cautious takes the test in at the union.
    check_indirect(
        "fact_trips dim_zones",
        Cautious,
        &format!("fact_trips dim_zones {FACT_TESTS}"),
    );
    // Directly selected tests stay selected in every mode.
    check_indirect(
        "resource_type:test,tag:mart",
        Empty,
        "assert_revenue_positive",
    );
    check_indirect(
        "+fact_trips",
        Cautious,
        &format!(
            "green_tripdata yellow_tripdata taxi_zone_lookup stg_green stg_yellow trips_unioned \
         dim_zones fact_trips not_null_stg_green_tripid accepted_values_stg_yellow_payment_type \
         source_not_null_staging_green_tripdata_vendorid {FACT_TESTS}"
        ),
    );
    check_indirect("source:staging.green_tripdata", Empty, "green_tripdata");
}

#[test]
fn indirect_selection_flag() {
    assert_eq!("buildable".parse(), Ok(IndirectSelection::Buildable));
    assert_eq!(
        "lazy".parse::<IndirectSelection>().unwrap_err().to_string(),
        "invalid `--indirect-selection` value `lazy`; expected one of `eager`, `cautious`, `buildable`, `empty`"
    );
}

fn state_run(select: &str, state: &State) -> String {
    let graph = graph();
    let select = args(select);
    let selected = evaluate(
        &graph,
        &Selection {
            select: &select,
            state: Some(state),
            indirect: IndirectSelection::Empty,
            ..Selection::default()
        },
    )
    .unwrap();
    names(&graph, &selected.nodes)
}

/// The previous manifest: every node as now, except `stg_green`'s body changed,
/// `dm_monthly_zone_revenue`'s config changed, and `dim_zones` is new.
fn previous_state() -> State {
    let graph = graph();
    let mut state = State::default();
    for node in graph.nodes() {
        if node.unique_id == DIM {
            continue;
        }
        let checksum = if node.unique_id == STG_GREEN {
            "old".to_owned()
        } else {
            node.checksum.clone()
        };
        state.checksums.insert(node.unique_id.clone(), checksum);
        let mut config = node.config.clone();
        if node.unique_id == DM {
            config.insert("schema".into(), json!("marts_old"));
        }
        state.configs.insert(node.unique_id.clone(), config);
    }
    // A node that is gone now is ignored.
    state
        .checksums
        .insert("model.taxi.removed".into(), "x".into());
    state
}

#[test]
fn state_methods() {
    let state = previous_state();
    assert_eq!(
        state_run("state:modified", &state),
        sorted("stg_green dim_zones dm_monthly_zone_revenue")
    );
    assert_eq!(state_run("state:new", &state), "dim_zones");
    assert_eq!(
        state_run("state:modified.body", &state),
        sorted("stg_green dim_zones")
    );
    assert_eq!(
        state_run("state:modified.configs", &state),
        sorted("dim_zones dm_monthly_zone_revenue")
    );
    assert_eq!(
        state_run("state:modified.relation", &state),
        sorted("dim_zones dm_monthly_zone_revenue")
    );
    assert_eq!(state_run("state:modified.contract", &state), "dim_zones");
    let unmodified = state_run("state:unmodified", &state);
    let unmodified: Vec<&str> = unmodified.split(' ').collect();
    assert!(!unmodified.contains(&"stg_green") && unmodified.contains(&"stg_yellow"));
    assert_eq!(
        state_run("state:old", &state).split(' ').count(),
        graph().nodes().count() - 1
    );
    assert_eq!(
        state_run("state:modified+,resource_type:model", &state),
        sorted("stg_green trips_unioned dim_zones fact_trips dm_monthly_zone_revenue")
    );
    // Checksums alone: config changes are not seen.
    let checksums_only = State::from_checksums(state.checksums.clone());
    assert_eq!(
        state_run("state:modified", &checksums_only),
        sorted("stg_green dim_zones")
    );
}

#[test]
fn state_without_a_previous_manifest_is_an_error() {
    check_error(
        "state:modified+",
        "`state:modified+` needs a previous manifest to compare with (`--state`)",
    );
    let state = State::default();
    let select = args("state:modified.macros");
    let err = evaluate(
        &graph(),
        &Selection {
            select: &select,
            state: Some(&state),
            ..Selection::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`state:modified.macros` is not supported by weir yet"
    );
}

#[test]
fn errors_name_the_bad_part() {
    check_error(
        "stg_green tgs:nightly",
        "unknown selector method `tgs` in `tgs:nightly`; expected one of `fqn`, `tag`, `path`, `file`, `source`, `resource_type`, `package`, `config.KEY`, `test_name`, `test_type`, `state`, `exposure`, `group`, `access`",
    );
    check_error(
        "@+fact_trips",
        "invalid selector `@+fact_trips`: the `@` prefix and the `+` prefix cannot be used together",
    );
    check_error(
        "tag:",
        "invalid selector `tag:`: nothing to select: the value is empty",
    );
    check_error(
        "+",
        "invalid selector `+`: nothing to select: the value is empty",
    );
    check_error(
        "tag:a,",
        "invalid selector `tag:a,`: an empty part between commas",
    );
    check_error(
        "source:a.b.c.d",
        "invalid selector `source:a.b.c.d`: a source is `SOURCE`, `SOURCE.TABLE` or `PACKAGE.SOURCE.TABLE`",
    );
    check_error(
        "resource_type:modle",
        "invalid selector `resource_type:modle`: `modle` is not a resource type",
    );
    check_error(
        "test_type:schemas",
        "invalid selector `test_type:schemas`: expected `test_type:generic`, `singular`, `unit` or `data`",
    );
    check_error(
        "state:changed",
        "invalid selector `state:changed`: expected `state:new`, `old`, `modified`, `unmodified`, `modified.body`, `modified.configs`, `modified.relation` or `modified.contract`",
    );
    check_error(
        "config:view",
        "invalid selector `config:view`: `config` needs a key, as in `config.materialized:view`",
    );
    check_error(
        "tag.x:y",
        "invalid selector `tag.x:y`: the method `tag` takes no arguments (`tag.x`)",
    );
    check_error(
        "tag:[abc",
        "invalid selector `tag:[abc`: bad wildcard pattern `[abc`: invalid range pattern",
    );
    check_error(
        "result:error",
        "`result:error` is not supported by weir yet",
    );
    check_error(
        "99999999999+fact_trips",
        "invalid selector `99999999999+fact_trips`: depth `99999999999` is too large",
    );
}

#[test]
fn words_matching_nothing_are_reported() {
    let graph = graph();
    let select = vec!["stg_green nothing_here tag:nightly,tag:mart".to_owned()];
    let exclude = vec!["also_nothing".to_owned()];
    let selected = evaluate(
        &graph,
        &Selection {
            select: &select,
            exclude: &exclude,
            ..Selection::default()
        },
    )
    .unwrap();
    assert_eq!(
        selected.unmatched,
        ["nothing_here", "tag:nightly,tag:mart", "also_nothing"]
    );
}

#[test]
fn resource_type_filter() {
    let graph = graph();
    let select = args("+fact_trips");
    let selected = evaluate(
        &graph,
        &Selection {
            select: &select,
            resource_types: Some(&[ResourceType::Model]),
            ..Selection::default()
        },
    )
    .unwrap();
    assert_eq!(
        names(&graph, &selected.nodes),
        sorted("stg_green stg_yellow trips_unioned dim_zones fact_trips")
    );
}

#[test]
fn parse_criteria_shapes() {
    let c = parse_criteria("2+config.meta.owner:data-eng+3").unwrap();
    assert_eq!(
        c.method,
        Method::Config(vec!["meta".into(), "owner".into()])
    );
    assert_eq!(c.value, "data-eng");
    assert_eq!(c.parents, Some(Depth::Max(2)));
    assert_eq!(c.children, Some(Depth::Max(3)));
    let c = parse_criteria("@source:staging.green_tripdata").unwrap();
    assert!(c.childrens_parents);
    assert_eq!(
        (c.method, c.value.as_str()),
        (Method::Source, "staging.green_tripdata")
    );
    // `@x+` is allowed: only `@` and a `+` prefix conflict.
    assert!(parse_criteria("@stg_green+").is_ok());
    let c = parse_criteria("models/staging/").unwrap();
    assert_eq!((c.method, c.method_explicit), (Method::Path, false));
}

#[test]
fn graph_edges() {
    let graph = graph();
    assert_eq!(graph.parents(FACT), [UNIONED, DIM]);
    // A dependency that is no node (a macro) is no edge.
    assert_eq!(graph.parents(STG_GREEN), [GREEN]);
    let mut children = graph.children(DIM);
    children.sort_unstable();
    assert_eq!(
        children,
        [FACT, "test.taxi.relationships_fact_trips_pickup.e4f0"]
    );
    assert!(graph.children("model.taxi.nope").is_empty());
}

#[track_caller]
fn check_yaml(definition: Value, indirect: IndirectSelection, expected: &str) {
    let graph = graph();
    let selectors = BTreeMap::from([
        ("nightly".to_owned(), json!("tag:nightly")),
        (
            "loop_a".to_owned(),
            json!({"method": "selector", "value": "loop_b"}),
        ),
        (
            "loop_b".to_owned(),
            json!({"method": "selector", "value": "loop_a"}),
        ),
    ]);
    let spec = parse_yaml_definition(&definition, &selectors).unwrap();
    let selected = evaluate_spec(&graph, &spec, None, indirect).unwrap();
    assert_eq!(
        names(&graph, &selected.nodes),
        sorted(expected),
        "{definition}"
    );
}

#[test]
fn yaml_selectors() {
    use IndirectSelection::*;
    check_yaml(
        json!("tag:nightly"),
        Eager,
        &format!("fact_trips {FACT_TESTS}"),
    );
    check_yaml(
        json!({"tag": "nightly"}),
        Eager,
        &format!("fact_trips {FACT_TESTS}"),
    );
    check_yaml(
        json!({"method": "fqn", "value": "fact_trips", "parents": true, "parents_depth": 1}),
        Empty,
        "trips_unioned dim_zones fact_trips",
    );
    check_yaml(
        json!({"method": "fqn", "value": "fact_trips", "indirect_selection": "cautious"}),
        Eager,
        "fact_trips unique_fact_trips_tripid",
    );
    check_yaml(
        json!({"method": "config.materialized", "value": "view", "children": true,
               "exclude": ["fact_trips+"]}),
        Empty,
        "stg_green stg_yellow trips_unioned not_null_stg_green_tripid \
         accepted_values_stg_yellow_payment_type",
    );
    // dbt's docs example shape: a union holding an intersection, a path and one exclude.
    check_yaml(
        json!({"union": [
            {"intersection": ["@source:staging", "tag:nightly"]},
            "analyses",
            {"exclude": [{"intersection": ["package:taxi", "config.materialized:incremental"]}]},
        ]}),
        Eager,
        "revenue_by_month",
    );
    check_yaml(
        json!({"union": [{"method": "selector", "value": "nightly"}, "stg_green"]}),
        Empty,
        "fact_trips stg_green",
    );
}

#[test]
fn yaml_selector_errors() {
    let selectors = BTreeMap::from([
        (
            "loop_a".to_owned(),
            json!({"method": "selector", "value": "loop_b"}),
        ),
        (
            "loop_b".to_owned(),
            json!({"method": "selector", "value": "loop_a"}),
        ),
    ]);
    let error = |definition: Value| {
        parse_yaml_definition(&definition, &selectors)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error(json!({"method": "selector", "value": "loop_a"})),
        "invalid selector `{\"method\":\"selector\",\"value\":\"loop_a\"}`: selector `loop_a` refers to itself through loop_a → loop_b"
    );
    assert_eq!(
        error(json!({"method": "selector", "value": "nope"})),
        "invalid selector `{\"method\":\"selector\",\"value\":\"nope\"}`: no selector named `nope`"
    );
    assert_eq!(
        error(json!({"union": ["a", {"exclude": ["b"]}, {"exclude": ["c"]}]})),
        "invalid selector `[\"c\"]`: only one `exclude` in a `union` or an `intersection`"
    );
    assert_eq!(
        error(json!({"method": "tgs", "value": "x"})),
        "unknown selector method `tgs` in `tgs:x`; expected one of `fqn`, `tag`, `path`, `file`, `source`, `resource_type`, `package`, `config.KEY`, `test_name`, `test_type`, `state`, `exposure`, `group`, `access`"
    );
    assert_eq!(
        error(json!({"method": "tag", "value": "x", "parents": true, "childrens_parents": true})),
        "invalid selector `{\"method\":\"tag\",\"value\":\"x\",\"parents\":true,\"childrens_parents\":true}`: `childrens_parents` and `parents` cannot be used together"
    );
    assert_eq!(
        error(json!(["tag:x"])),
        "invalid selector `[\"tag:x\"]`: a selector definition is a string or a mapping"
    );
}
