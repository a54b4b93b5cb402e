//! The flows of `examples/blueprints/`, written in the style of Kestra's public blueprints, run
//! unchanged through the binary against local data: each must end as its description says, with
//! the outputs and log lines a user would look at.

use crate::common::*;
use serde_json::Value;
use std::path::PathBuf;

fn blueprint(name: &str) -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "../../examples/blueprints",
        name,
    ]
    .iter()
    .collect();
    p.display().to_string()
}

/// Runs a blueprint; returns the execution as `weir executions show --json` gives it.
fn run(env: &Env, name: &str, args: &[&str], code: i32) -> Value {
    let path = blueprint(name);
    let mut all = vec!["run", path.as_str()];
    all.extend_from_slice(args);
    let o = env.weir(&all);
    assert_eq!(o.code, code, "{name}: {o:#?}");
    env.show(&o.id())
}

fn state(ex: &Value) -> &str {
    ex["state"].as_str().unwrap_or_default()
}

fn logs(env: &Env, ex: &Value, task: &str) -> Vec<String> {
    env.log_messages(ex["id"].as_str().expect("id"), Some(task))
}

#[test]
fn etl_csv_to_duckdb() {
    let env = Env::new();
    let port = serve(&[(
        "/orders.csv",
        "order_id,customer_name,total\n1,Ann,10.5\n2,Bob,3\n3,Ann,4.5\n",
    )]);
    let url = format!("orders_url=http://127.0.0.1:{port}/orders.csv");
    let ex = run(&env, "etl_csv_to_duckdb.yaml", &["-i", &url], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    let uri = run_of(&ex, "transform")["outputs"]["outputFiles"]["revenue_by_customer.csv"]
        .as_str()
        .unwrap_or_else(|| panic!("no output file: {ex:#}"))
        .to_string();
    let csv = env.stored(&uri);
    assert!(
        csv.starts_with("customer_name,orders,revenue\nAnn,2,15.0\n"),
        "{csv}"
    );
}

#[test]
fn api_to_duckdb() {
    let env = Env::new();
    let body = r#"[{"id": 1, "name": "Ann", "address": {"city": "Lyon"}}, {"id": 2, "name": "Bob", "address": {"city": "Oslo"}}]"#;
    let port = serve(&[("/users", body)]);
    let api = format!("api_url=http://127.0.0.1:{port}/users");
    let wh = format!("warehouse={}", env.path().join("api.duckdb").display());
    let ex = run(&env, "api_to_duckdb.yaml", &["-i", &api, "-i", &wh], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "done")
            .iter()
            .any(|l| l == "loaded 2 of 2 users"),
        "{ex:#}"
    );
}

#[test]
fn file_split_and_concat() {
    let env = Env::new();
    let ex = run(&env, "file_split_and_concat.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert_eq!(
        run_of(&ex, "split")["outputs"]["uris"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{ex:#}"
    );
    assert_eq!(runs_of(&ex, "upper").len(), 3, "{ex:#}");
}

#[test]
fn orders_fanout_with_for_each_item() {
    let env = Env::new();
    let o = env.weir(&["flows", "deploy", &blueprint("process_order_batch.yaml")]);
    assert_eq!(o.code, 0, "{o:#?}");
    let orders = env.write("orders.csv", "1\n2\n3\n4\n5\n6\n7\n");
    let input = format!("orders=@{}", orders.display());
    let ex = run(&env, "orders_fanout.yaml", &["-i", &input], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert_eq!(
        run_of(&ex, "each_batch")["outputs"]["numberOfBatches"],
        3,
        "{ex:#}"
    );
    let children: Vec<Value> = env
        .executions()
        .into_iter()
        .filter(|e| e["flowId"] == "process_order_batch")
        .collect();
    assert_eq!(children.len(), 3, "{children:#?}");
}

#[test]
fn pause_for_approval_waits_for_resume() {
    let env = Env::new();
    let ex = run(&env, "pause_for_approval.yaml", &[], 0);
    assert_eq!(state(&ex), "PAUSED", "{ex:#}");
    let id = ex["id"].as_str().unwrap().to_string();
    let o = env.weir(&["executions", "resume", &id]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = env.show(&id);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert_eq!(run_of(&ex, "publish")["state"], "SUCCESS");
}

#[test]
fn working_directory_python() {
    let env = Env::new();
    let ex = run(&env, "working_directory_python.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "summarise").iter().any(|l| l == "49"),
        "{ex:#}"
    );
}

#[test]
fn dag_pipeline() {
    let env = Env::new();
    let ex = run(&env, "dag_pipeline.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "load")
            .iter()
            .any(|l| l == "loading orders joined with customers"),
        "{ex:#}"
    );
}

#[test]
fn allow_failure() {
    let env = Env::new();
    let ex = run(&env, "allow_failure.yaml", &[], 0);
    assert_eq!(state(&ex), "WARNING", "{ex:#}");
    assert_eq!(run_of(&ex, "optional_cleanup")["state"], "WARNING");
    assert_eq!(run_of(&ex, "main_work")["state"], "SUCCESS");
}

#[test]
fn kv_watermark_moves_forward() {
    let env = Env::new();
    let first = run(&env, "kv_watermark.yaml", &[], 0);
    assert!(
        logs(&env, &first, "report")
            .iter()
            .any(|l| l == "100 new rows"),
        "{first:#}"
    );
    let second = run(&env, "kv_watermark.yaml", &[], 0);
    assert_eq!(state(&second), "SUCCESS", "{second:#}");
    assert!(
        logs(&env, &second, "report")
            .iter()
            .any(|l| l == "0 new rows"),
        "{second:#}"
    );
}

#[test]
fn parallel_downloads() {
    let env = Env::new();
    let port = serve(&[
        ("/f/a.csv", "a\n"),
        ("/f/b.csv", "b\n"),
        ("/f/c.csv", "c\n"),
    ]);
    let base = format!("base_url=http://127.0.0.1:{port}/f");
    let ex = run(&env, "parallel_downloads.yaml", &["-i", &base], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert_eq!(runs_of(&ex, "download").len(), 3, "{ex:#}");
}

#[test]
fn node_transform() {
    let env = Env::new();
    let ex = run(&env, "node_transform.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "report")
            .iter()
            .any(|l| l == "basket total 23.75"),
        "{ex:#}"
    );
}

#[test]
fn gcs_to_bigquery_on_a_laptop() {
    let env = Env::new();
    let ex = run(&env, "gcs_to_bigquery.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "report")
            .iter()
            .any(|l| l == "revenue 63.22"),
        "{ex:#}"
    );
    assert!(
        env.home()
            .join("buckets/shop-landing/sales/sales.csv")
            .is_file()
    );
}

#[test]
fn s3_roundtrip() {
    let env = Env::new();
    let ex = run(&env, "s3_roundtrip.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "report")
            .iter()
            .any(|l| l == "1 object(s) under daily/"),
        "{ex:#}"
    );
}

#[test]
fn subflow_with_inputs_and_outputs() {
    let env = Env::new();
    let o = env.weir(&["flows", "deploy", &blueprint("subflow_greeting.yaml")]);
    assert_eq!(o.code, 0, "{o:#?}");
    let ex = run(&env, "subflow_parent.yaml", &[], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "show").iter().any(|l| l == "hello, weir"),
        "{ex:#}"
    );
}

#[test]
fn file_input_report() {
    let env = Env::new();
    let data = env.write("data.csv", "a,b\n1,2\n3,4\n5,6\n");
    let input = format!("data=@{}", data.display());
    let ex = run(&env, "file_input_report.yaml", &["-i", &input], 0);
    assert_eq!(state(&ex), "SUCCESS", "{ex:#}");
    assert!(
        logs(&env, &ex, "report").iter().any(|l| l == "3 rows"),
        "{ex:#}"
    );
}

#[test]
fn route_by_input() {
    let env = Env::new();
    let dev = run(&env, "route_by_input.yaml", &[], 0);
    assert_eq!(run_of(&dev, "skip")["state"], "SUCCESS", "{dev:#}");
    assert!(runs_of(&dev, "prod_target").is_empty());
    let prod = run(&env, "route_by_input.yaml", &["-i", "environment=prod"], 0);
    assert_eq!(run_of(&prod, "notify")["state"], "SUCCESS", "{prod:#}");
    assert_eq!(
        run_of(&prod, "prod_target")["outputs"]["value"],
        "jdbc:postgresql://db.internal:5432/prod"
    );
}

#[test]
fn errors_alert_names_the_failed_task() {
    let env = Env::new();
    let ex = run(&env, "errors_alert.yaml", &[], 1);
    assert_eq!(state(&ex), "FAILED", "{ex:#}");
    let alert = logs(&env, &ex, "alert");
    assert!(
        alert.iter().any(|l| l.ends_with("failed in flaky")),
        "{alert:#?}"
    );
}

#[test]
fn execution_count_guard() {
    let env = Env::new();
    let first = run(&env, "execution_count_guard.yaml", &[], 0);
    assert_eq!(
        run_of(&first, "heavy_work")["state"],
        "SUCCESS",
        "{first:#}"
    );
    let second = run(&env, "execution_count_guard.yaml", &[], 0);
    assert_eq!(run_of(&second, "skip")["state"], "SUCCESS", "{second:#}");
}
