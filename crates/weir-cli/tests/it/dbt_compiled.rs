//! The SQL `weir dbt compile` writes for the example project (`examples/nyc-taxi/transform`),
//! file by file, against committed copies in `tests/snapshots/dbt_compiled/` (paths mirrored
//! under `target/compiled/`). Any change to what the project compiles to shows up here as a
//! diff; `WEIR_BLESS=1` rewrites the copies when the change is meant.
//!
//! Compiling needs no data: the warehouse is an empty DuckDB file named `warehouse.duckdb`,
//! the name the profile's `dev` target uses by default, so the database part of every relation
//! (`"warehouse"."analytics_core"."…"`) is the same wherever the test runs. On an empty
//! warehouse `is_incremental()` is false, so the fact table compiles to its full build.
//!
//! Checked once by hand against dbt-core 1.11 with dbt-duckdb on the same copy: the same 48
//! files, the same SQL except for whitespace (blank lines and indentation around Jinja tags,
//! `accepted_values` lists on one line) and `dbt.type_string()`, which dbt-duckdb renders
//! `TEXT` and weir `varchar` (the same type in DuckDB).

use crate::common::Env;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/dbt_compiled")
}

/// Every file under `root`, by `/`-separated path relative to it.
fn files(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("inside").to_string_lossy();
                let text = std::fs::read_to_string(&path).expect("read a compiled file");
                out.insert(rel.replace('\\', "/"), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The first line where two texts part, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    format!(
        "  line {}:\n  - {}\n  + {}",
        at + 1,
        e.get(at).unwrap_or(&"<end of file>"),
        a.get(at).unwrap_or(&"<end of file>")
    )
}

#[test]
fn the_example_project_compiles_to_the_committed_sql() {
    let mut env = Env::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nyc-taxi/transform");
    let project = env.path().join("transform");
    crate::dbt_run::copy_dir(&example, &project);
    let warehouse = env.path().join("warehouse.duckdb");
    env.set_env("WEIR_WAREHOUSE", &warehouse.display().to_string());
    let o = env.weir(&[
        "dbt",
        "compile",
        "--project-dir",
        "transform",
        "--profiles-dir",
        "transform",
    ]);
    assert_eq!(o.code, 0, "{o:#?}");

    // Only the temporary folder could vary; no compiled file should name it.
    let tmp = env.path().display().to_string();
    let actual: BTreeMap<String, String> = files(&project.join("target/compiled"))
        .into_iter()
        .map(|(p, text)| (p, text.replace(&tmp, "<TMP>")))
        .collect();
    assert!(actual.len() >= 48, "{:?}", actual.keys());

    let dir = snapshots_dir();
    if std::env::var_os("WEIR_BLESS").is_some_and(|v| v == "1") {
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, text) in &actual {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write a snapshot");
        }
        return;
    }
    let expected = files(&dir);
    let mut problems = Vec::new();
    for rel in expected.keys().filter(|k| !actual.contains_key(*k)) {
        problems.push(format!("{rel}: no longer compiled"));
    }
    for (rel, text) in &actual {
        match expected.get(rel) {
            None => problems.push(format!("{rel}: compiled but has no snapshot")),
            Some(want) if want != text => {
                problems.push(format!("{rel}:\n{}", first_difference(want, text)));
            }
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} compiled files differ from tests/snapshots/dbt_compiled \
         (rerun with WEIR_BLESS=1 to accept the new SQL):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
