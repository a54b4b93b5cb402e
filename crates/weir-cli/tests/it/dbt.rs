//! `weir dbt` through the binary: `ls` on a small taxi project (selectors, resource types,
//! outputs), located errors for a broken project, `deps` with local, `file://` git and missing
//! hub packages, `debug` on a DuckDB profile, and the verbs that are not there yet.

use crate::common::{Env, Out};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Two sources, two staging models, a core fact table with generic tests, a mart tagged `x`,
/// a seed and a singular test.
const PROJECT: &[(&str, &str)] = &[
    (
        "dbt_project.yml",
        "name: taxi\nversion: \"1.0.0\"\nprofile: taxi\nmodels:\n  taxi:\n    marts:\n      +materialized: table\n      +tags: [x]\n",
    ),
    (
        "models/staging/sources.yml",
        "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: green\n      - name: yellow\n",
    ),
    (
        "models/staging/stg_green.sql",
        "select * from {{ source('raw', 'green') }}\n",
    ),
    (
        "models/staging/stg_yellow.sql",
        "select * from {{ source('raw', 'yellow') }}\n",
    ),
    (
        "models/core/fact_trips.sql",
        "select * from {{ ref('stg_green') }}\nunion all\nselect * from {{ ref('stg_yellow') }}\n",
    ),
    (
        "models/core/schema.yml",
        "version: 2\nmodels:\n  - name: fact_trips\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n",
    ),
    (
        "models/marts/revenue.sql",
        "select * from {{ ref('fact_trips') }} join {{ ref('zones') }} using (zone)\n",
    ),
    ("seeds/zones.csv", "zone,name\n1,a\n"),
    (
        "tests/revenue_ok.sql",
        "select 1 from {{ ref('revenue') }} where false\n",
    ),
    // Not read: build output and hidden folders.
    ("target/compiled/ignored.sql", "select {{ ref('nowhere') }}"),
    (".venv/models/ignored.sql", "select {{ ref('nowhere') }}"),
];

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }
}

fn project() -> Env {
    let env = Env::new();
    write_tree(&env.path().join("taxi"), PROJECT);
    env
}

fn ls(env: &Env, args: &[&str]) -> Out {
    let mut all = vec!["dbt", "ls", "--project-dir", "taxi"];
    all.extend_from_slice(args);
    env.weir(&all)
}

fn check_ls(env: &Env, args: &[&str], expected: &[&str]) {
    let o = ls(env, args);
    assert_eq!(o.code, 0, "weir dbt ls {args:?}:\n{o:#?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines, expected, "weir dbt ls {args:?}:\n{o:#?}");
}

#[test]
fn ls_lists_a_project_as_dbt_does() {
    let env = project();
    // dbt's default `selector` output, by unique id: models, seeds, sources, tests.
    check_ls(
        &env,
        &[],
        &[
            "taxi.core.fact_trips",
            "taxi.marts.revenue",
            "taxi.staging.stg_green",
            "taxi.staging.stg_yellow",
            "taxi.zones",
            "source:taxi.raw.green",
            "source:taxi.raw.yellow",
            "taxi.core.not_null_fact_trips_id",
            "taxi.revenue_ok",
            "taxi.core.unique_fact_trips_id",
        ],
    );
    check_ls(
        &env,
        &["-s", "+fact_trips"],
        &[
            "taxi.core.fact_trips",
            "taxi.staging.stg_green",
            "taxi.staging.stg_yellow",
            "source:taxi.raw.green",
            "source:taxi.raw.yellow",
            "taxi.core.not_null_fact_trips_id",
            "taxi.core.unique_fact_trips_id",
        ],
    );
    check_ls(
        &env,
        &["-s", "tag:x"],
        &["taxi.marts.revenue", "taxi.revenue_ok"],
    );
    check_ls(
        &env,
        &["--resource-type", "test", "--output", "path"],
        &[
            "models/core/schema.yml",
            "tests/revenue_ok.sql",
            "models/core/schema.yml",
        ],
    );
    check_ls(
        &env,
        &[
            "--select",
            "+revenue",
            "--exclude",
            "staging",
            "resource_type:test",
            "--output",
            "name",
        ],
        &["fact_trips", "revenue", "zones", "raw.green", "raw.yellow"],
    );
    check_ls(
        &env,
        &[
            "-s",
            "fact_trips",
            "--indirect-selection",
            "empty",
            "-o",
            "name",
        ],
        &["fact_trips"],
    );
}

#[test]
fn ls_json_prints_dbts_keys_one_object_a_line() {
    let env = project();
    let o = ls(
        &env,
        &["-s", "revenue", "source:raw.green", "--output", "json"],
    );
    assert_eq!(o.code, 0, "{o:#?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    // The singular test on `revenue` comes along (eager indirect selection).
    assert_eq!(lines.len(), 3, "{o:#?}");
    assert!(
        lines[2].contains(r#""unique_id": "test.taxi.revenue_ok""#),
        "{o:#?}"
    );
    // Python's `json.dumps` spacing, as dbt prints.
    assert!(
        lines[0].starts_with(
            r#"{"name": "revenue", "resource_type": "model", "package_name": "taxi", "original_file_path": "models/marts/revenue.sql", "unique_id": "model.taxi.revenue", "alias": "revenue", "config": {"enabled": true"#
        ),
        "{}",
        lines[0]
    );
    let model: Value = serde_json::from_str(lines[0]).expect("json");
    let keys: Vec<&str> = model
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "resource_type",
            "package_name",
            "original_file_path",
            "unique_id",
            "alias",
            "config",
            "tags",
            "depends_on"
        ]
    );
    assert_eq!(model["config"]["materialized"], "table");
    assert_eq!(model["tags"], serde_json::json!(["x"]));
    assert_eq!(
        model["depends_on"]["nodes"],
        serde_json::json!(["model.taxi.fact_trips", "seed.taxi.zones"])
    );
    let source: Value = serde_json::from_str(lines[1]).expect("json");
    assert_eq!(source["unique_id"], "source.taxi.raw.green");
    assert_eq!(source["source_name"], "raw");
    assert_eq!(source["resource_type"], "source");
    assert!(source.get("depends_on").is_none(), "{source}");
    // `--output-keys` picks keys, still in the manifest's order.
    let o = ls(
        &env,
        &[
            "-s",
            "stg_green",
            "-o",
            "json",
            "--output-keys",
            "unique_id",
            "fqn",
        ],
    );
    assert_eq!(
        o.stdout,
        "{\"unique_id\": \"model.taxi.stg_green\", \"fqn\": [\"taxi\", \"staging\", \"stg_green\"]}\n",
        "{o:#?}"
    );
}

#[test]
fn ls_warns_about_selectors_that_match_nothing() {
    let env = project();
    let o = ls(&env, &["-s", "revenue", "nope"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert_eq!(o.stdout, "taxi.marts.revenue\ntaxi.revenue_ok\n");
    assert!(
        o.stderr
            .contains("warning: The selection criterion 'nope' does not match any enabled nodes"),
        "{o:#?}"
    );
    let o = ls(&env, &["-s", "tag:none"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, ""), "{o:#?}");
    assert!(o.stderr.contains("warning: No nodes selected!"), "{o:#?}");
    let o = ls(&env, &["-s", "bogus_method:x"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr
            .contains("error: unknown selector method `bogus_method`"),
        "{o:#?}"
    );
    let o = ls(&env, &["--resource-type", "modle"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr.contains("invalid `--resource-type` value `modle`"),
        "{o:#?}"
    );
}

#[test]
fn a_broken_project_is_reported_with_file_line_and_column() {
    let env = project();
    write_tree(
        &env.path().join("taxi"),
        &[(
            "models/core/broken.sql",
            "select *\nfrom {{ ref('nowhere') }}\n",
        )],
    );
    let o = ls(&env, &[]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr.contains(
            "error: `model.taxi.broken` depends on a node named `nowhere`, which was not found\n  --> models/core/broken.sql:2:9"
        ),
        "{o:#?}"
    );
    assert!(
        o.stderr.contains(" 2 | from {{ ref('nowhere') }}"),
        "{o:#?}"
    );
    assert!(
        o.stderr
            .contains("error: 1 problem in the dbt project `taxi`"),
        "{o:#?}"
    );
    // No project at all.
    let o = env.weir(&["dbt", "ls", "--project-dir", "nowhere"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr
            .contains("error: no `dbt_project.yml` in `nowhere`"),
        "{o:#?}"
    );
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(["-c", "user.name=weir", "-c", "user.email=weir@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git");
    assert!(o.status.success(), "git {args:?}: {o:?}");
}

#[test]
fn deps_installs_local_and_git_packages_offline() {
    let env = project();
    let root = env.path();
    write_tree(
        &root.join("local_pkg"),
        &[
            ("dbt_project.yml", "name: local_utils\nversion: \"0.1.0\"\n"),
            ("models/lu.sql", "select 1 as one\n"),
        ],
    );
    let repo = root.join("git_pkg");
    write_tree(
        &repo,
        &[
            ("dbt_project.yml", "name: git_utils\nversion: \"0.2.0\"\n"),
            ("models/gu.sql", "select 2 as two\n"),
        ],
    );
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "v0.2.0"]);
    git(&repo, &["tag", "v0.2.0"]);
    // A later commit the lock must not pick up.
    write_tree(&repo, &[("models/later.sql", "select 3\n")]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "later"]);
    let url = format!("file://{}", repo.display());
    write_tree(
        &root.join("taxi"),
        &[(
            "packages.yml",
            &format!(
                "packages:\n  - local: ../local_pkg\n  - git: \"{url}\"\n    revision: v0.2.0\n"
            ),
        )],
    );
    let o = env.weir(&["dbt", "deps", "--project-dir", "taxi"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let installed = root.join("taxi/dbt_packages");
    assert!(installed.join("local_utils/models/lu.sql").is_file());
    assert!(installed.join("git_utils/models/gu.sql").is_file());
    assert!(!installed.join("git_utils/models/later.sql").exists());
    let lock = std::fs::read_to_string(root.join("taxi/package-lock.yml")).expect("lock");
    let lines: Vec<&str> = lock.lines().collect();
    assert_eq!(lines[0], "packages:");
    assert_eq!(lines[1], "  - local: ../local_pkg");
    assert_eq!(lines[2], "    name: local_utils");
    assert_eq!(lines[3], format!("  - git: {url}"));
    assert_eq!(lines[4], "    name: git_utils");
    assert!(
        lines[5].starts_with("    revision: ") && lines[5].len() == 14 + 40,
        "{lock}"
    );
    assert!(
        lines[6].starts_with("sha1_hash: ") && lines[6].len() == 11 + 40,
        "{lock}"
    );
    // Installed packages are part of the project.
    check_ls(
        &env,
        &["-s", "package:local_utils", "package:git_utils"],
        &["git_utils.gu", "local_utils.lu"],
    );
    // A second run installs from the lock, at the locked revision.
    let o = env.weir(&["dbt", "deps", "--project-dir", "taxi"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(!installed.join("git_utils/models/later.sql").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("taxi/package-lock.yml")).expect("lock"),
        lock
    );
}

#[test]
fn deps_names_a_hub_package_it_cannot_find_offline() {
    let mut env = project();
    write_tree(
        &env.path().join("taxi"),
        &[(
            "packages.yml",
            "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n",
        )],
    );
    let o = env.weir(&["dbt", "deps", "--project-dir", "taxi"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(
        o.stderr
            .contains("error: the hub package `dbt-labs/dbt_utils` (version `>=1.0.0, <2.0.0`"),
        "{o:#?}"
    );
    assert!(o.stderr.contains("hint: weir works offline"), "{o:#?}");
    // From the package cache: the highest version that fits.
    let cache = env.path().join("cache");
    for version in ["0.9.0", "1.1.0", "1.3.0", "2.0.0"] {
        write_tree(
            &cache.join("dbt-labs/dbt_utils").join(version),
            &[(
                "dbt_project.yml",
                &format!("name: dbt_utils\nversion: \"{version}\"\n"),
            )],
        );
    }
    env.set_env("WEIR_DBT_PACKAGE_CACHE", cache.to_str().expect("utf-8"));
    let o = env.weir(&["dbt", "deps", "--project-dir", "taxi"]);
    assert_eq!(o.code, 0, "{o:#?}");
    let project = std::fs::read_to_string(
        env.path()
            .join("taxi/dbt_packages/dbt_utils/dbt_project.yml"),
    )
    .expect("installed");
    assert!(project.contains("1.3.0"), "{project}");
    let lock = std::fs::read_to_string(env.path().join("taxi/package-lock.yml")).expect("lock");
    assert!(
        lock.starts_with(
            "packages:\n  - name: dbt_utils\n    package: dbt-labs/dbt_utils\n    version: 1.3.0\nsha1_hash: "
        ),
        "{lock}"
    );
}

#[test]
fn debug_checks_a_duckdb_profile() {
    let env = project();
    write_tree(
        &env.path().join("taxi"),
        &[(
            "profiles.yml",
            "taxi:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{{ env_var('TAXI_DB', 'taxi.duckdb') }}\"\n      schema: analytics\n",
        )],
    );
    let o = env.weir(&["dbt", "debug", "--project-dir", "taxi"]);
    assert_eq!(o.code, 0, "{o:#?}");
    for line in [
        "Using profiles.yml file at taxi/profiles.yml",
        "adapter type: duckdb",
        "  profiles.yml file [OK found and valid]",
        "  dbt_project.yml file [OK found and valid]",
        "  schema: analytics",
        "  path: taxi.duckdb",
        "  Connection test: [OK connection ok]",
        "All checks passed!",
    ] {
        assert!(
            o.stdout.lines().any(|l| l == line),
            "no `{line}` in:\n{o:#?}"
        );
    }
    // A target the profile does not have.
    let o = env.weir(&["dbt", "debug", "--project-dir", "taxi", "--target", "prod"]);
    assert_eq!(o.code, 1, "{o:#?}");
    assert!(
        o.stderr
            .contains("profile `taxi` has no output named `prod`"),
        "{o:#?}"
    );
    assert!(o.stdout.contains("1 check failed:"), "{o:#?}");
}

#[test]
fn vars_that_are_not_a_map_are_refused() {
    // (snapshot, source freshness and docs generate run today: see `dbt_snapshot.rs`.)
    let env = project();
    let o = env.weir(&["dbt", "ls", "--project-dir", "taxi", "--vars", "[1, 2]"]);
    assert_eq!(o.code, 2, "{o:#?}");
    assert!(o.stderr.contains("`--vars` should be a map"), "{o:#?}");
}

/// `dbt parse` writes the manifest without a connection (the profile names a PostgreSQL
/// server nobody runs), and `dbt clean` deletes the clean-targets and nothing else.
#[test]
fn parse_needs_no_connection_and_clean_deletes_the_clean_targets() {
    let env = project();
    env.write(
        "taxi/profiles.yml",
        "taxi:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      host: 127.0.0.1\n      port: 1\n      user: u\n      password: p\n      dbname: d\n      schema: s\n",
    );
    let o = env.weir(&[
        "dbt",
        "parse",
        "--project-dir",
        "taxi",
        "--profiles-dir",
        "taxi",
    ]);
    assert_eq!(o.code, 0, "{o:#?}");
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(env.path().join("taxi/target/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let nodes = manifest["nodes"].as_object().expect("nodes");
    assert!(nodes.contains_key("model.taxi.fact_trips"), "{nodes:?}");
    assert!(nodes.contains_key("seed.taxi.zones"), "{nodes:?}");
    assert_eq!(
        manifest["sources"]
            .as_object()
            .map(|s| s.len())
            .unwrap_or(0),
        2
    );
    std::fs::create_dir_all(env.path().join("taxi/dbt_packages/p")).expect("mkdir");
    let o = env.weir(&[
        "dbt",
        "clean",
        "--project-dir",
        "taxi",
        "--profiles-dir",
        "taxi",
    ]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(!env.path().join("taxi/target").exists());
    assert!(!env.path().join("taxi/dbt_packages").exists());
    assert!(env.path().join("taxi/models/core/fact_trips.sql").is_file());
}
