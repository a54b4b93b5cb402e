//! Runnable core tasks and inputs through the real binary: internal-storage tasks (Write,
//! Split, Concat, Size, Delete), FILE inputs, Node.js script tasks, Python `dependencies`,
//! `inputFiles`/`outputFiles` on JDBC queries and `execution.Count`, each checked against the
//! example of Kestra's documentation it mirrors.

use crate::common::*;
use serde_json::Value;

fn stored(env: &Env, uri: &str) -> String {
    env.stored(uri)
}

fn run_ok(env: &Env, name: &str, yaml: &str, extra: &[&str]) -> Value {
    let o = env.run_flow(name, yaml, extra);
    assert_eq!(o.code, 0, "{o:#?}");
    env.show(&o.id())
}

fn uris(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|u| u.as_str().unwrap_or_default().to_string())
        .collect()
}

// Kestra docs, storage.Write: `content: Hello World`, `extension: .txt` → output `uri`.
#[test]
fn storage_write_puts_content_in_a_file_with_its_extension() {
    let env = Env::new();
    let ex = run_ok(
        &env,
        "write.yaml",
        r#"
id: write_file
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: Hello World
    extension: .txt
  - id: default_ext
    type: io.kestra.plugin.core.storage.Write
    content: "{{ 6 * 7 }}"
"#,
        &[],
    );
    let uri = run_of(&ex, "write")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with("kestra:///company/team/write_file/executions/"),
        "{uri}"
    );
    assert!(uri.ends_with(".txt"), "{uri}");
    assert_eq!(stored(&env, &uri), "Hello World");
    let other = run_of(&ex, "default_ext")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        other.ends_with(".ion"),
        "Kestra's default extension is .ion: {other}"
    );
    assert_eq!(stored(&env, &other), "42");
}

// Kestra docs, storage.Split: the `split_rows` (`rows: 10`), `split_partitions`
// (`partitions: 4`) and `split_bytes` (`bytes: 5KB`) examples, on a file written by the flow.
#[test]
fn storage_split_by_rows_partitions_and_bytes() {
    let env = Env::new();
    let ex = run_ok(
        &env,
        "split.yaml",
        r#"
id: split
namespace: company.team
tasks:
  - id: data
    type: io.kestra.plugin.core.storage.Write
    extension: .csv
    content: |
      l1
      l2
      l3
      l4
      l5
  - id: rows
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.data.uri }}"
    rows: 2
  - id: partitions
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.data.uri }}"
    partitions: 2
  - id: bytes
    type: io.kestra.plugin.core.storage.Split
    from: "{{ outputs.data.uri }}"
    bytes: 7
  - id: count
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.rows.uris | length }}"
"#,
        &[],
    );
    let rows = uris(&run_of(&ex, "rows")["outputs"]["uris"]);
    let texts: Vec<String> = rows.iter().map(|u| stored(&env, u)).collect();
    assert_eq!(texts, ["l1\nl2\n", "l3\nl4\n", "l5\n"]);
    assert!(rows.iter().all(|u| u.ends_with(".csv")), "{rows:?}");
    let parts = uris(&run_of(&ex, "partitions")["outputs"]["uris"]);
    let texts: Vec<String> = parts.iter().map(|u| stored(&env, u)).collect();
    assert_eq!(
        texts,
        ["l1\nl3\nl5\n", "l2\nl4\n"],
        "lines are dealt in turn"
    );
    let bytes = uris(&run_of(&ex, "bytes")["outputs"]["uris"]);
    let texts: Vec<String> = bytes.iter().map(|u| stored(&env, u)).collect();
    assert_eq!(
        texts,
        ["l1\nl2\n", "l3\nl4\n", "l5\n"],
        "at most 7 bytes each"
    );
    assert_eq!(run_of(&ex, "count")["outputs"]["value"], 3);
}

// Kestra docs, storage.Concat: "Concat 2 files with a custom separator" (`separator: "\n"`),
// and `files` given as a JSON string (“can be a list of string or json string”).
#[test]
fn storage_concat_joins_files_with_a_separator() {
    let env = Env::new();
    let ex = run_ok(
        &env,
        "concat.yaml",
        r#"
id: concat_example
namespace: company.team
tasks:
  - id: first_file
    type: io.kestra.plugin.core.storage.Write
    content: Hello John
  - id: second_file
    type: io.kestra.plugin.core.storage.Write
    content: Hello Jane
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    separator: "\n"
    files:
      - "{{ outputs.first_file.uri }}"
      - "{{ outputs.second_file.uri }}"
  - id: concat_json
    type: io.kestra.plugin.core.storage.Concat
    extension: .txt
    files: '["{{ outputs.second_file.uri }}", "{{ outputs.first_file.uri }}"]'
"#,
        &[],
    );
    let uri = run_of(&ex, "concat")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uri.ends_with(".tmp"), "default extension .tmp: {uri}");
    assert_eq!(stored(&env, &uri), "Hello John\nHello Jane");
    let uri = run_of(&ex, "concat_json")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(uri.ends_with(".txt"), "{uri}");
    assert_eq!(stored(&env, &uri), "Hello JaneHello John");
}

// Kestra docs, storage.Size (`uri` → output `size` in bytes) and storage.Delete (`uri`,
// `errorOnMissing`; outputs `uri` and `deleted`).
#[test]
fn storage_size_and_delete() {
    let env = Env::new();
    let ex = run_ok(
        &env,
        "size.yaml",
        r#"
id: size_delete
namespace: company.team
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "12345"
  - id: size
    type: io.kestra.plugin.core.storage.Size
    uri: "{{ outputs.write.uri }}"
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{ outputs.write.uri }}"
  - id: again
    type: io.kestra.plugin.core.storage.Delete
    uri: "{{ outputs.write.uri }}"
"#,
        &[],
    );
    assert_eq!(run_of(&ex, "size")["outputs"]["size"], 5);
    assert_eq!(run_of(&ex, "delete")["outputs"]["deleted"], true);
    assert_eq!(run_of(&ex, "again")["outputs"]["deleted"], false);
    let uri = run_of(&ex, "write")["outputs"]["uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !env.home()
            .join("storage")
            .join(uri.trim_start_matches("kestra:///"))
            .exists()
    );

    let o = env.run_flow(
        "missing.yaml",
        r#"
id: missing
namespace: company.team
tasks:
  - id: delete
    type: io.kestra.plugin.core.storage.Delete
    uri: kestra:///company/team/nothing/here.txt
    errorOnMissing: true
"#,
        &[],
    );
    assert_ne!(o.code, 0, "{o:#?}");
    assert!(o.stderr.contains("does not exist"), "{}", o.stderr);
}

// Kestra docs, "Inputs" (FILE type): `inputs: [{id: file, type: FILE}]`, the value is a
// `kestra:///` URI a task reads, here through a script's `inputFiles`.
#[test]
fn file_input_is_copied_into_internal_storage() {
    let env = Env::new();
    env.write("orders.csv", "id,amount\n1,10\n2,32\n");
    let flow = r#"
id: file_input
namespace: company.team
inputs:
  - id: data
    type: FILE
tasks:
  - id: uri
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.data }}"
  - id: read
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      data.csv: "{{ inputs.data }}"
    commands:
      - wc -l < data.csv
"#;
    let ex = run_ok(&env, "file.yaml", flow, &["-i", "data=@orders.csv"]);
    let uri = run_of(&ex, "uri")["outputs"]["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        uri.starts_with("kestra:///company/team/file_input/") && uri.ends_with("/orders.csv"),
        "{uri}"
    );
    assert_eq!(stored(&env, &uri), "id,amount\n1,10\n2,32\n");
    let id = ex["id"].as_str().unwrap().to_string();
    let logs = env.log_messages(&id, Some("read"));
    assert!(logs.iter().any(|l| l.trim() == "3"), "{logs:?}");

    // A file that does not exist names its path; nothing runs.
    let o = env.run_flow("file.yaml", flow, &["-i", "data=@nope/missing.csv"]);
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("error:") && o.stderr.contains("nope/missing.csv"),
        "{}",
        o.stderr
    );
    // A path without `@` is refused with a hint.
    let o = env.run_flow("file.yaml", flow, &["-i", "data=orders.csv"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("is not a file"), "{}", o.stderr);
    assert!(
        o.stderr.contains("hint:") && o.stderr.contains("data=@orders.csv"),
        "{}",
        o.stderr
    );
}

// Kestra docs, scripts.node.Script: a script whose `console.log` prints
// `::{"outputs":{…}}::`, read as `outputs.<id>.vars`; scripts.node.Commands runs `node` on a
// file given in `inputFiles`.
#[test]
fn node_script_and_commands() {
    let env = Env::new();
    let ex = run_ok(
        &env,
        "node.yaml",
        r#"
id: node_scripts
namespace: company.team
tasks:
  - id: script
    type: io.kestra.plugin.scripts.node.Script
    script: |
      const n = [1, 2, 3].reduce((a, b) => a + b, 0);
      console.log("sum is " + n);
      console.log('::' + JSON.stringify({outputs: {sum: n}}) + '::');
  - id: commands
    type: io.kestra.plugin.scripts.node.Commands
    inputFiles:
      main.js: |
        console.log(`::{"outputs":{"got":"${process.argv[2]}"}}::`);
    commands:
      - node main.js "{{ outputs.script.vars.sum }}"
"#,
        &[],
    );
    assert_eq!(run_of(&ex, "script")["outputs"]["vars"]["sum"], 6);
    assert_eq!(run_of(&ex, "commands")["outputs"]["vars"]["got"], "6");
    let id = ex["id"].as_str().unwrap().to_string();
    assert!(
        env.log_messages(&id, Some("script"))
            .iter()
            .any(|l| l == "sum is 6")
    );
}

/// A tiny wheel, built with Python's zipfile: pip installs a local wheel without any network.
fn tiny_wheel(env: &Env) -> std::path::PathBuf {
    let dir = env.path().join("wheels");
    std::fs::create_dir_all(&dir).unwrap();
    let wheel = dir.join("weirtiny-0.1-py3-none-any.whl");
    let script = r#"
import sys, zipfile
files = {
    "weirtiny/__init__.py": "ANSWER = 42\n",
    "weirtiny-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: weirtiny\nVersion: 0.1\n",
    "weirtiny-0.1.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
files["weirtiny-0.1.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + "weirtiny-0.1.dist-info/RECORD,,\n"
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, t in files.items():
        z.writestr(n, t)
"#;
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&wheel)
        .output()
        .expect("python3");
    assert!(o.status.success(), "{o:?}");
    wheel
}

// Kestra docs, scripts.python.Script: `dependencies: [requests, kestra]` installed before the
// script runs; here a local wheel, since tests have no network. The two tasks run in Parallel,
// so one waits for the other's install of the same set.
#[test]
fn python_dependencies_are_installed_once_into_a_cached_environment() {
    let env = Env::new();
    let wheel = tiny_wheel(&env);
    let flow = format!(
        r#"
id: py_deps
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: script
        type: io.kestra.plugin.scripts.python.Script
        dependencies:
          - "{}"
        script: |
          import weirtiny, sys
          print('::{{"outputs":{{"answer":%d,"venv":%s}}}}::' % (weirtiny.ANSWER, str(sys.prefix != sys.base_prefix).lower()))
      - id: commands
        type: io.kestra.plugin.scripts.python.Commands
        dependencies: ["{}"]
        commands:
          - python -c "import weirtiny; print(weirtiny.ANSWER)"
"#,
        wheel.display(),
        wheel.display()
    );
    let started = std::time::Instant::now();
    let ex = run_ok(&env, "deps.yaml", &flow, &[]);
    let first = started.elapsed();
    assert_eq!(run_of(&ex, "script")["outputs"]["vars"]["answer"], 42);
    assert_eq!(run_of(&ex, "script")["outputs"]["vars"]["venv"], true);
    let id = ex["id"].as_str().unwrap().to_string();
    assert!(
        env.log_messages(&id, Some("commands"))
            .iter()
            .any(|l| l == "42")
    );
    let logs = env.log_messages(&id, None);
    assert_eq!(
        logs.iter()
            .filter(|l| l.starts_with("installing Python dependencies"))
            .count(),
        1,
        "one install for the set, the task running beside it waits and reuses it: {logs:?}"
    );
    let cache = env.home().join("cache").join("python");
    let envs: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(envs.len(), 1, "one environment per dependency set");

    let started = std::time::Instant::now();
    let ex = run_ok(&env, "deps.yaml", &flow, &[]);
    let second = started.elapsed();
    let id = ex["id"].as_str().unwrap().to_string();
    let logs = env.log_messages(&id, None);
    assert!(
        !logs
            .iter()
            .any(|l| l.starts_with("installing Python dependencies")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|l| l.starts_with("using the cached Python environment"))
    );
    assert!(second < first, "reuse is faster: {second:?} vs {first:?}");
}

// A package pip cannot fetch fails the task with an ERROR log naming it and pip's reason, and
// leaves no environment behind to be used later.
#[test]
fn python_dependency_that_cannot_be_installed_fails_clearly() {
    let env = Env::new();
    let missing = env.path().join("no-such-package");
    let o = env.run_flow(
        "bad.yaml",
        &format!(
            r#"
id: py_bad
namespace: company.team
tasks:
  - id: script
    type: io.kestra.plugin.scripts.python.Script
    dependencies: ["{}"]
    script: print("never")
"#,
            missing.display()
        ),
        &[],
    );
    assert_ne!(o.code, 0, "{o:#?}");
    let ex = env.executions();
    let id = ex[0]["id"].as_str().unwrap().to_string();
    let errors: Vec<Value> = env
        .logs(&id)
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert!(
        errors.iter().any(|l| {
            let m = l["message"].as_str().unwrap_or_default();
            m.contains("no-such-package") && m.contains("pip")
        }),
        "{errors:#?}"
    );
    let cache = env.home().join("cache").join("python");
    let left: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing half-built is kept: {left:?}");
}

// Kestra docs, jdbc.duckdb.Query: "Execute a query that reads a CSV file, and outputs another
// CSV file" — `read_csv_auto('data.csv')` on an `inputFiles` entry and
// `COPY … TO '{{ outputFiles.out }}'` with `outputFiles: [out]`; the orders come from a FILE
// input instead of an HTTP download. A relative `COPY … TO` and the `{{ workingDir }}` form work
// too.
#[test]
fn duckdb_query_reads_input_files_and_keeps_output_files() {
    let env = Env::new();
    env.write(
        "orders.csv",
        "order_id,customer_name,total\n1,Ann,10\n2,Bob,32\n3,Ann,5\n",
    );
    let ex = run_ok(
        &env,
        "duck.yaml",
        r#"
id: query_duckdb
namespace: company.team
inputs:
  - id: orders
    type: FILE
tasks:
  - id: query
    type: io.kestra.plugin.jdbc.duckdb.Query
    url: 'jdbc:duckdb:'
    timeZoneId: Europe/Paris
    sql: |-
      CREATE TABLE new_tbl AS SELECT * FROM read_csv_auto('data.csv', header=True);
      COPY (SELECT order_id, customer_name FROM new_tbl ORDER BY order_id) TO '{{ outputFiles.out }}' (HEADER, DELIMITER ',');
    inputFiles:
      data.csv: "{{ inputs.orders }}"
    outputFiles:
      - out
  - id: totals
    type: io.kestra.plugin.jdbc.duckdb.Query
    sql: |-
      CREATE TABLE t AS SELECT customer_name, sum(total) AS total FROM read_csv_auto('{{ workingDir }}/in.csv') GROUP BY 1;
      COPY (SELECT * FROM t ORDER BY 1) TO 'sums/totals.csv' (HEADER);
      SELECT count(*) AS n FROM t;
    fetchType: FETCH_ONE
    inputFiles:
      in.csv: "{{ inputs.orders }}"
      sums/.keep: ""
    outputFiles:
      - "sums/*.csv"
"#,
        &["-i", "orders=@orders.csv"],
    );
    let out = run_of(&ex, "query")["outputs"]["outputFiles"]["out"]
        .as_str()
        .unwrap_or_else(|| panic!("{ex:#}"))
        .to_string();
    assert_eq!(
        stored(&env, &out),
        "order_id,customer_name\n1,Ann\n2,Bob\n3,Ann\n"
    );
    let totals = &run_of(&ex, "totals")["outputs"];
    assert_eq!(totals["row"]["n"], 2);
    let uri = totals["outputFiles"]["sums/totals.csv"]
        .as_str()
        .unwrap_or_else(|| panic!("{totals:#}"));
    assert_eq!(stored(&env, uri), "customer_name,total\nAnn,15\nBob,32\n");
    // Nothing was written to the current folder of the process.
    assert!(!env.path().join("out").exists() && !env.path().join("sums").exists());
}

// Kestra docs, execution.Count: `expression: "{{ count == 0 }}"`, `flows: [{namespace,
// flowId}]`, `startDate: "{{ now() | dateAdd(-1, 'DAYS') }}"` → `results` of the flows where
// the expression holds (here also `{{ count >= 2 }}` and `states`).
#[test]
fn execution_count_counts_each_flows_executions() {
    let env = Env::new();
    let logs = r#"
id: logs
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
"#;
    for _ in 0..2 {
        let o = env.run_flow("logs.yaml", logs, &[]);
        assert_eq!(o.code, 0, "{o:#?}");
    }
    let ex = run_ok(
        &env,
        "count.yaml",
        r#"
id: executions_count
namespace: company.team
tasks:
  - id: none
    type: io.kestra.plugin.core.execution.Count
    expression: "{{ count == 0 }}"
    flows:
      - namespace: company.team
        flowId: logs
      - namespace: company.team
        flowId: never_ran
    startDate: "{{ now() | dateAdd(-1, 'DAYS') }}"
  - id: busy
    type: io.kestra.plugin.core.execution.Count
    expression: "{{ count >= 2 }}"
    flows:
      - namespace: company.team
        flowId: logs
    states: [SUCCESS]
"#,
        &[],
    );
    let none = &run_of(&ex, "none")["outputs"];
    assert_eq!(
        none["results"],
        serde_json::json!([{"namespace": "company.team", "flowId": "never_ran", "count": 0}])
    );
    let busy = &run_of(&ex, "busy")["outputs"];
    assert_eq!(busy["results"][0]["count"], 2, "{busy:#}");
    assert_eq!(busy["total"], 2);
}

/// Kestra docs, "Inputs" (types TIME, EMAIL, YAML, SECRET): a TIME is `HH:mm[:ss]`, an EMAIL
/// is checked for its shape, a YAML input's text becomes a value templates can walk, and a
/// SECRET input's value never shows in logs or stored inputs.
#[test]
fn time_email_yaml_and_secret_inputs() {
    let env = Env::new();
    let flow = r#"
id: typed_inputs
namespace: company.team
inputs:
  - id: at
    type: TIME
  - id: owner
    type: EMAIL
  - id: config
    type: YAML
    defaults: |
      region: eu-west-1
      retries: 3
  - id: token
    type: SECRET
tasks:
  - id: show
    type: io.kestra.plugin.core.log.Log
    message: "at {{ inputs.at }} for {{ inputs.owner }} in {{ inputs.config.region }} x{{ inputs.config.retries + 1 }} with {{ inputs.token }}"
"#;
    let ex = run_ok(
        &env,
        "typed.yaml",
        flow,
        &[
            "-i",
            "at=14:30",
            "-i",
            "owner=ann@example.com",
            "-i",
            "token=s3cr3t-value",
        ],
    );
    let id = ex["id"].as_str().unwrap().to_string();
    let logs = env.log_messages(&id, Some("show"));
    assert_eq!(
        logs,
        vec!["at 14:30 for ann@example.com in eu-west-1 x4 with ******".to_string()],
        "{ex:#}"
    );
    assert!(!ex.to_string().contains("s3cr3t-value"), "{ex:#}");

    let bad = env.run_flow(
        "typed.yaml",
        flow,
        &[
            "-i",
            "at=25:61",
            "-i",
            "owner=not-an-address",
            "-i",
            "token=x",
        ],
    );
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(bad.stderr.contains("`25:61` is not a time"), "{bad:#?}");
    assert!(
        bad.stderr
            .contains("`not-an-address` is not an email address"),
        "{bad:#?}"
    );
}
