//! DuckDB's shared library is opened when a DuckDB warehouse is first used, not when `weir`
//! starts: commands that never touch DuckDB work without it, and one that does says where it
//! looked and how to get it.

use crate::common::Env;

/// A path where no library is.
fn unreachable_library(env: &mut Env) -> String {
    let missing = env.path().join("missing").join("libduckdb.so");
    let missing = missing.display().to_string();
    env.set_env("WEIR_DUCKDB_LIB", &missing);
    missing
}

/// Logs how many of the weir process's mappings are DuckDB's library: the shell task's
/// parent is the `weir` running the flow.
const COUNT_MAPPINGS: &str = r#"
  - id: maps
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - "echo duckdb-mappings=$(grep -c libduckdb /proc/$PPID/maps || true)"
"#;

fn mappings_logged(env: &Env, id: &str) -> u64 {
    let line = env
        .log_messages(id, Some("maps"))
        .into_iter()
        .find_map(|m| m.strip_prefix("duckdb-mappings=").map(str::to_string))
        .unwrap_or_else(|| panic!("no mapping count in the logs of {id}"));
    line.trim().parse().expect("a count")
}

#[test]
fn commands_without_duckdb_run_without_its_library() {
    let mut env = Env::new();
    unreachable_library(&mut env);

    let o = env.weir(&["--version"]);
    assert_eq!(o.code, 0, "{o:#?}");
    assert!(o.stdout.starts_with("weir "), "{o:#?}");

    let flow = format!(
        "id: logs\nnamespace: it\ntasks:\n  - id: hello\n    type: io.kestra.plugin.core.log.Log\n    message: hello{COUNT_MAPPINGS}"
    );
    let o = env.run_flow("logs.yaml", &flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let id = o.id();
    assert_eq!(env.show(&id)["state"], "SUCCESS");
    assert_eq!(mappings_logged(&env, &id), 0, "a Log flow mapped DuckDB");

    let o = env.weir(&["executions", "list"]);
    assert_eq!(o.code, 0, "{o:#?}");
}

#[test]
fn a_duckdb_warehouse_without_its_library_fails_naming_the_path_and_the_fix() {
    let mut env = Env::new();
    let missing = unreachable_library(&mut env);
    let url = format!("jdbc:duckdb:{}", env.path().join("w.duckdb").display());

    let o = env.weir(&["query", &url, "SELECT 1 AS x"]);
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.starts_with("error: "), "{o:#?}");
    assert!(o.stderr.contains("cannot load DuckDB's library"), "{o:#?}");
    assert!(o.stderr.contains(&format!("tried `{missing}`")), "{o:#?}");
    assert!(
        o.stderr.contains("hint: run `dev/install-duckdb`"),
        "{o:#?}"
    );
    assert!(!o.stderr.contains("panicked"), "{o:#?}");

    let flow = format!(
        "id: q\nnamespace: it\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: \"{url}\"\n    sql: SELECT 1\n"
    );
    let o = env.run_flow("q.yaml", &flow, &[]);
    assert_ne!(o.code, 0, "{o:#?}");
    let id = o.id();
    assert_eq!(env.show(&id)["state"], "FAILED");
    let logs = env.log_messages(&id, Some("q")).join("\n");
    assert!(logs.contains("cannot load DuckDB's library"), "{logs}");
    assert!(logs.contains(&missing), "{logs}");
    assert!(logs.contains("dev/install-duckdb"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn the_library_is_loaded_on_first_use_and_found_through_the_variable() {
    let mut env = Env::new();
    let url = format!("jdbc:duckdb:{}", env.path().join("w.duckdb").display());
    let flow = format!(
        "id: q\nnamespace: it\ntasks:\n  - id: q\n    type: io.kestra.plugin.jdbc.duckdb.Query\n    url: \"{url}\"\n    sql: SELECT 1\n{COUNT_MAPPINGS}"
    );
    // Found where the build found it (the build's DUCKDB_LIB_DIR), mapped once used.
    let o = env.run_flow("q.yaml", &flow, &[]);
    assert_eq!(o.code, 0, "{o:#?}");
    let id = o.id();
    assert!(mappings_logged(&env, &id) > 0, "DuckDB was not mapped");

    // WEIR_DUCKDB_LIB may name the folder holding the library.
    if let Some(dir) = option_env!("DUCKDB_LIB_DIR") {
        env.set_env("WEIR_DUCKDB_LIB", dir);
        let q = env.json(&["query", &url, "SELECT 41 + 1 AS x", "--json"]);
        assert_eq!(q[0]["x"], 42, "{q}");
    }
}
