//! Routing, shaping, auth and error mapping of the API, with a real store and a stand-in
//! `Control` (the real one, and end-to-end tests through the binary, live elsewhere).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use chrono::{DateTime, TimeDelta, Utc};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use weir_core::{Diagnostic, Location, State};
use weir_store::{
    BackfillRecord, BackfillState, ExecutionRecord, FlowRecord, KillOutcome, LogRecord, LogSink,
    SqliteStore, Store, TaskRunRecord,
};

use super::{ApiState, openapi, router};
use crate::control::{Control, ControlError, Metrics, TriggerView};

/// Does what the server's core would, just enough for the API's own tests.
struct TestControl {
    store: Arc<SqliteStore>,
}

fn diag(line: usize, column: usize, message: &str) -> Diagnostic {
    Diagnostic::new(
        Location {
            file: "flow.yaml".into(),
            line,
            column,
        },
        message,
    )
}

fn record(id: &str, ns: &str, flow: &str, state: State, created: DateTime<Utc>) -> ExecutionRecord {
    ExecutionRecord {
        id: id.into(),
        namespace: ns.into(),
        flow_id: flow.into(),
        flow_revision: 1,
        state,
        inputs: json!({}),
        labels: vec![("team".into(), "data".into())],
        trigger: Value::Null,
        outputs: Value::Null,
        created,
        started: None,
        ended: None,
        original_id: None,
        parent_id: None,
        owner: None,
        queue: None,
    }
}

impl Control for TestControl {
    fn validate_flow(&self, source: &str) -> Vec<Diagnostic> {
        match source.lines().position(|l| l.contains("bad")) {
            Some(i) => vec![diag(i + 1, 3, "unknown key `bad`")],
            None => vec![],
        }
    }
    fn deploy_flow(&self, source: &str) -> Result<FlowRecord, ControlError> {
        let problems = self.validate_flow(source);
        if !problems.is_empty() {
            return Err(ControlError::Flow(problems));
        }
        let node = weir_flow::yaml::parse(source).map_err(|_| ControlError::Flow(vec![]))?;
        let ns = node.get("namespace").and_then(|n| n.as_str()).unwrap_or("");
        let id = node.get("id").and_then(|n| n.as_str()).unwrap_or("");
        Ok(self.store.save_flow(ns, id, source, true)?)
    }
    fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool, ControlError> {
        Ok(self.store.delete_flow(namespace, id)?)
    }
    fn start_execution(
        &self,
        namespace: &str,
        flow_id: &str,
        inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
        _revision: Option<i64>,
    ) -> Result<ExecutionRecord, ControlError> {
        if self.store.get_flow(namespace, flow_id, None)?.is_none() {
            return Err(ControlError::NotFound(format!(
                "flow `{namespace}.{flow_id}` not found"
            )));
        }
        let mut e = record(
            &format!("e{}", inputs.len() + labels.len()),
            namespace,
            flow_id,
            State::Created,
            Utc::now(),
        );
        e.inputs = Value::Object(
            inputs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        );
        e.labels = labels;
        self.store.create_execution(&e)?;
        Ok(e)
    }
    fn kill(&self, id: &str) -> Result<KillOutcome, ControlError> {
        Ok(self.store.request_kill(id)?)
    }
    fn restart(&self, id: &str) -> Result<ExecutionRecord, ControlError> {
        Err(ControlError::Invalid(format!(
            "execution `{id}` did not fail"
        )))
    }
    fn replay(
        &self,
        id: &str,
        _task_run_id: Option<&str>,
    ) -> Result<ExecutionRecord, ControlError> {
        Err(ControlError::NotFound(format!(
            "execution `{id}` not found"
        )))
    }
    fn webhook(
        &self,
        namespace: &str,
        flow_id: &str,
        key: &str,
        variables: Value,
    ) -> Result<(ExecutionRecord, bool, bool), ControlError> {
        if key != "right" {
            return Err(ControlError::Forbidden("no webhook with this key".into()));
        }
        let mut e = record("wh", namespace, flow_id, State::Created, Utc::now());
        e.trigger = json!({ "id": "hook", "variables": variables });
        self.store.create_execution(&e)?;
        Ok((e, false, false))
    }
    fn wait(&self, id: &str) -> BoxFuture<'static, Result<ExecutionRecord, ControlError>> {
        let r = self.store.get_execution(id);
        Box::pin(
            async move { r?.ok_or_else(|| ControlError::NotFound("no such execution".into())) },
        )
    }
    fn triggers(&self) -> Result<Vec<TriggerView>, ControlError> {
        let backfill = self
            .store
            .list_backfills()?
            .into_iter()
            .find(|b| matches!(b.state, BackfillState::Running | BackfillState::Paused));
        let t = self.store.get_trigger("company", "daily", "schedule")?;
        Ok(vec![TriggerView {
            namespace: "company".into(),
            flow_id: "daily".into(),
            trigger_id: "schedule".into(),
            kind: "io.kestra.plugin.core.trigger.Schedule".into(),
            disabled: t.is_some_and(|t| t.disabled),
            date: None,
            next_execution_date: None,
            backfill,
        }])
    }
    fn set_trigger_disabled(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        disabled: bool,
    ) -> Result<(), ControlError> {
        Ok(self
            .store
            .set_trigger_disabled(namespace, flow_id, trigger_id, disabled)?)
    }
    fn start_backfill(
        &self,
        namespace: &str,
        flow_id: &str,
        trigger_id: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        _inputs: Vec<(String, String)>,
        labels: Vec<(String, String)>,
    ) -> Result<BackfillRecord, ControlError> {
        let b = BackfillRecord {
            id: "b1".into(),
            namespace: namespace.into(),
            flow_id: flow_id.into(),
            trigger_id: trigger_id.into(),
            start,
            end,
            current: None,
            inputs: json!({}),
            labels,
            state: BackfillState::Running,
            total: 3,
            created_count: 0,
            created: Utc::now(),
        };
        self.store.create_backfill(&b)?;
        Ok(b)
    }
    fn set_backfill_state(
        &self,
        id: &str,
        state: BackfillState,
    ) -> Result<BackfillRecord, ControlError> {
        self.store.set_backfill_state(id, state)?;
        self.store
            .get_backfill(id)?
            .ok_or_else(|| ControlError::NotFound(id.into()))
    }
    fn metrics(&self) -> Metrics {
        Metrics {
            queue_depth: 2,
            running: 1,
            workers: 4,
            ended: vec![("SUCCESS".into(), 5)],
            task_duration_buckets: vec![(0.5, 3), (f64::INFINITY, 4)],
            task_duration_sum: 2.5,
            task_duration_count: 4,
        }
    }
}

struct Api {
    _dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    app: axum::Router,
}

fn api_with(token: Option<&str>) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(SqliteStore::open(&dir.path().join("weir.db")).expect("store"));
    let state = ApiState {
        store: store.clone(),
        control: Arc::new(TestControl {
            store: store.clone(),
        }),
        token: token.map(str::to_string),
        warehouse: None,
        storage: Some(Arc::new(weir_storage::InternalStorage::new(
            dir.path().join("storage"),
        ))),
    };
    Api {
        _dir: dir,
        store,
        app: router(state),
    }
}

fn api() -> Api {
    api_with(None)
}

struct Answer {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Answer {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Answer {
            status,
            content_type,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
    async fn call(&self, method: Method, uri: &str, ctype: &str, body: &str) -> Answer {
        let mut b = Request::builder().method(method).uri(uri);
        if !ctype.is_empty() {
            b = b.header(header::CONTENT_TYPE, ctype);
        }
        self.send(b.body(Body::from(body.to_string())).expect("request"))
            .await
    }
    async fn get(&self, uri: &str) -> Answer {
        self.call(Method::GET, uri, "", "").await
    }
}

const FLOW: &str = "id: hello\nnamespace: company.team\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";

#[tokio::test]
async fn flows_are_created_read_listed_and_deleted() {
    let api = api();
    let a = api
        .call(Method::POST, "/api/v1/flows", "application/x-yaml", FLOW)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let f = a.json();
    assert_eq!(
        (
            f["id"].as_str(),
            f["namespace"].as_str(),
            f["revision"].as_i64()
        ),
        (Some("hello"), Some("company.team"), Some(1))
    );
    assert_eq!(f["source"], FLOW);
    assert_eq!(f["tasks"][0]["id"], "log");

    // Creating it again is refused; updating makes a new revision.
    let again = api
        .call(Method::POST, "/api/v1/flows", "application/x-yaml", FLOW)
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let changed = FLOW.replace("hi", "hello");
    let a = api
        .call(
            Method::PUT,
            "/api/v1/flows/company.team/hello",
            "application/x-yaml",
            &changed,
        )
        .await;
    assert_eq!(a.json()["revision"], 2);
    let a = api
        .call(
            Method::PUT,
            "/api/v1/flows/company.team/other",
            "application/x-yaml",
            &changed,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // Kestra's tenant segment is accepted.
    let a = api
        .get("/api/v1/main/flows/company.team/hello?revision=1")
        .await;
    assert_eq!(a.json()["revision"], 1);
    let a = api.get("/api/v1/flows/company.team/hello/revisions").await;
    assert_eq!(a.json().as_array().map(Vec::len), Some(2));
    let a = api
        .get("/api/v1/flows/search?namespace=company&q=HEL")
        .await;
    assert_eq!(a.json()["total"], 1);
    let a = api.get("/api/v1/flows/company").await;
    assert_eq!(a.json(), json!([]));

    let a = api
        .call(Method::DELETE, "/api/v1/flows/company.team/hello", "", "")
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = api.get("/api/v1/flows/company.team/hello").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["message"].as_str().is_some());
}

#[tokio::test]
async fn flow_problems_are_located() {
    let api = api();
    let bad = "id: a\nnamespace: n\nbad: 1\n";
    let a = api
        .call(Method::POST, "/api/v1/flows", "application/x-yaml", bad)
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        a.json()["errors"],
        json!([{"message": "unknown key `bad`", "line": 3, "column": 3}])
    );
    // Validation takes several documents; lines count from the top of the body.
    let body = format!("{FLOW}---\n{bad}");
    let a = api
        .call(
            Method::POST,
            "/api/v1/flows/validate",
            "application/x-yaml",
            &body,
        )
        .await;
    let v = a.json();
    assert_eq!(v[0]["constraints"], Value::Null);
    assert_eq!(v[1]["flow"], "a");
    assert_eq!(v[1]["errors"][0]["line"], 10);
}

#[tokio::test]
async fn the_flow_schema_is_served_for_the_editor() {
    let api = api();
    for uri in [
        "/api/v1/plugins/schemas/flow",
        "/api/v1/main/plugins/schemas/flow",
    ] {
        let a = api.get(uri).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.text);
        assert!(a.content_type.starts_with("application/json"), "{uri}");
        let v = a.json();
        assert_eq!(v["required"][2], "tasks", "{v}");
        assert!(v["$defs"]["task"].is_object(), "{v}");
    }
}

#[tokio::test]
async fn executions_are_shaped_like_kestra() {
    let api = api();
    let t0 = Utc::now() - TimeDelta::seconds(10);
    let mut e = record("ex1", "company.team", "hello", State::Success, t0);
    e.started = Some(t0 + TimeDelta::seconds(1));
    e.ended = Some(t0 + TimeDelta::milliseconds(3500));
    e.outputs = json!({"n": 1});
    api.store.create_execution(&e).expect("create");
    api.store
        .create_task_run(&TaskRunRecord {
            id: "tr1".into(),
            execution_id: "ex1".into(),
            task_id: "log".into(),
            task_type: "io.kestra.plugin.core.log.Log".into(),
            parent_id: None,
            value: None,
            state: State::Created,
            attempts: 0,
            outputs: Value::Null,
            history: vec![],
        })
        .expect("task run");
    for (s, attempt) in [
        (State::Running, 1),
        (State::Retrying, 1),
        (State::Running, 2),
        (State::Success, 2),
    ] {
        api.store
            .set_task_run_state("tr1", s, attempt)
            .expect("state");
    }

    let x = api.get("/api/v1/executions/ex1").await.json();
    assert_eq!(x["flowId"], "hello");
    assert_eq!(x["labels"], json!([{"key": "team", "value": "data"}]));
    assert_eq!(x["state"]["current"], "SUCCESS");
    let states: Vec<&str> = x["state"]["histories"]
        .as_array()
        .expect("histories")
        .iter()
        .filter_map(|h| h["state"].as_str())
        .collect();
    assert_eq!(states, ["CREATED", "RUNNING", "SUCCESS"]);
    assert_eq!(x["state"]["duration"], "PT3.500S");
    assert_eq!(x["outputs"], json!({"n": 1}));
    let run = &x["taskRunList"][0];
    assert_eq!(run["taskId"], "log");
    assert_eq!(run["state"]["current"], "SUCCESS");
    let attempts = run["attempts"].as_array().expect("attempts");
    assert_eq!(
        attempts.last().map(|a| &a["state"]["current"]),
        Some(&json!("SUCCESS"))
    );

    let a = api.get("/api/v1/executions/nope").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    let a = api
        .get("/api/v1/executions/search?namespace=company&state=SUCCESS&labels=team:data&page=1&size=5")
        .await;
    assert_eq!(a.json()["total"], 1);
    let a = api
        .get("/api/v1/executions/search?state=FAILED&state=KILLED")
        .await;
    assert_eq!(a.json()["total"], 0);
    for bad in [
        "state=NOPE",
        "labels=nocolon",
        "page=0",
        "size=x",
        "startDate=yesterday",
        "page=18446744073709551615&size=18446744073709551615",
    ] {
        let a = api.get(&format!("/api/v1/executions/search?{bad}")).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // Killing an ended execution is a conflict, as in Kestra.
    let a = api
        .call(Method::DELETE, "/api/v1/executions/ex1/kill", "", "")
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = api
        .call(Method::DELETE, "/api/v1/executions/nope/kill", "", "")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = api
        .call(Method::POST, "/api/v1/executions/ex1/restart", "", "")
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    // An ended execution's follow stream sends it once and ends.
    let a = api.get("/api/v1/executions/ex1/follow").await;
    assert!(a.content_type.starts_with("text/event-stream"));
    assert!(a.text.contains("id: end"), "{}", a.text);

    api.store
        .append_logs(&[LogRecord {
            execution_id: "ex1".into(),
            task_run_id: Some("tr1".into()),
            task_id: Some("log".into()),
            attempt: Some(1),
            level: weir_store::Level::Info,
            at: Utc::now(),
            message: "hi".into(),
        }])
        .expect("logs");
    let a = api.get("/api/v1/logs/ex1?minLevel=INFO").await;
    assert_eq!(a.json()[0]["message"], "hi");
    let a = api.get("/api/v1/logs/ex1?minLevel=ERROR").await;
    assert_eq!(a.json(), json!([]));
    let a = api.get("/api/v1/logs/ex1/follow").await;
    assert!(a.text.contains("\"message\":\"hi\""), "{}", a.text);
}

#[tokio::test]
async fn executions_are_created_with_inputs_and_labels() {
    let api = api();
    api.call(Method::POST, "/api/v1/flows", "application/x-yaml", FLOW)
        .await;
    let multipart = "--X\r\nContent-Disposition: form-data; name=\"who\"\r\n\r\nworld\r\n--X--\r\n";
    let a = api
        .call(
            Method::POST,
            "/api/v1/executions/company.team/hello?labels=a:1&labels=b:2",
            "multipart/form-data; boundary=X",
            multipart,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let x = a.json();
    assert_eq!(x["inputs"], json!({"who": "world"}));
    assert_eq!(x["labels"][1], json!({"key": "b", "value": "2"}));
    assert!(
        x["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("/ui/executions/"))
    );

    let a = api
        .call(
            Method::POST,
            "/api/v1/executions/company.team/hello",
            "application/json",
            r#"{"n": 3}"#,
        )
        .await;
    assert_eq!(a.json()["inputs"], json!({"n": "3"}));
    let a = api
        .call(
            Method::POST,
            "/api/v1/executions/company.team/hello",
            "application/json",
            "[1]",
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = api
        .call(Method::POST, "/api/v1/executions/company.team/nope", "", "")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhooks_need_the_right_key() {
    let api = api();
    let a = api
        .call(
            Method::POST,
            "/api/v1/executions/webhook/company.team/hello/right?x=1",
            "application/json",
            r#"{"a": 1}"#,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let x = a.json();
    assert_eq!(x["trigger"]["variables"]["body"], json!({"a": 1}));
    assert_eq!(x["trigger"]["variables"]["parameters"], json!({"x": ["1"]}));
    let a = api
        .call(
            Method::GET,
            "/api/v1/executions/webhook/company.team/hello/wrong",
            "",
            "",
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_token_guards_everything_but_health() {
    let api = api_with(Some("s3cret"));
    assert_eq!(api.get("/health").await.json(), json!({"status": "UP"}));
    let a = api.get("/api/v1/flows/search").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.json()["message"].as_str().is_some());
    let with = |token: &str| {
        Request::get("/api/v1/flows/search")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(api.send(with("s3cret")).await.status, StatusCode::OK);
    assert_eq!(
        api.send(with("s3creT")).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(api.send(with("s3")).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn kv_entries_are_written_read_and_deleted() {
    let api = api();
    let put = |key: &str, body: &'static str| {
        let uri = format!("/api/v1/namespaces/company/kv/{key}");
        let api = &api;
        async move { api.call(Method::PUT, &uri, "application/json", body).await }
    };
    assert_eq!(put("n", "42").await.status, StatusCode::OK);
    assert_eq!(put("s", "plain text").await.status, StatusCode::OK);
    assert_eq!(
        put("bad%20key", "1").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let a = api.get("/api/v1/namespaces/company/kv/n").await;
    assert_eq!(a.json(), json!({"type": "NUMBER", "value": 42}));
    let a = api.get("/api/v1/namespaces/company/kv/s").await;
    assert_eq!(a.json(), json!({"type": "STRING", "value": "plain text"}));
    let a = api
        .send(
            Request::put("/api/v1/namespaces/company/kv/t")
                .header("ttl", "forever")
                .body(Body::from("1"))
                .expect("request"),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let keys = api.get("/api/v1/namespaces/company/kv").await.json();
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    let a = api
        .call(Method::DELETE, "/api/v1/namespaces/company/kv/n", "", "")
        .await;
    assert_eq!(a.json(), json!(true));
    let a = api.get("/api/v1/namespaces/company/kv/n").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

fn api_with_warehouse(url: &str) -> Api {
    let mut a = api();
    let state = ApiState {
        store: a.store.clone(),
        control: Arc::new(TestControl {
            store: a.store.clone(),
        }),
        token: None,
        warehouse: Some(url.to_string()),
        storage: None,
    };
    a.app = router(state);
    a
}

#[tokio::test]
async fn the_warehouse_lists_its_tables_with_row_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("w.duckdb");
    let url = format!("jdbc:duckdb:{}", file.display());
    {
        let target = weir_warehouse::url::parse(&url, None, None).expect("url");
        let mut w = weir_warehouse::connect(&target).expect("duckdb");
        w.execute("CREATE SCHEMA s").expect("schema");
        w.execute("CREATE TABLE s.\"odd \"\"name\"\"\" AS SELECT * FROM range(3)")
            .expect("table");
        w.execute("CREATE TABLE main.t (x INT)").expect("table");
    }
    let none = api();
    assert_eq!(
        none.get("/api/v1/warehouse").await.json(),
        json!({"url": null})
    );
    let a = none.get("/api/v1/warehouse/tables").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);

    let api = api_with_warehouse(&url);
    assert_eq!(
        api.get("/api/v1/warehouse").await.json(),
        json!({"url": url})
    );
    let want = json!([
        {"schema": "main", "name": "t", "rows": 0},
        {"schema": "s", "name": "odd \"name\"", "rows": 3},
    ]);
    assert_eq!(api.get("/api/v1/warehouse/tables").await.json(), want);
    let given = format!(
        "/api/v1/warehouse/tables?url={}",
        form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
    );
    assert_eq!(none.get(&given).await.json(), want);
    let missing = none
        .get("/api/v1/warehouse/tables?url=jdbc:duckdb:/nonexistent/x.duckdb")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let pg = none
        .get("/api/v1/warehouse/tables?url=jdbc:postgresql://localhost/db")
        .await;
    assert_eq!(pg.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", pg.text);
}

#[tokio::test]
async fn triggers_are_disabled_and_backfilled() {
    let api = api();
    let a = api.get("/api/v1/triggers/search").await.json();
    assert_eq!(a["results"][0]["abstractTrigger"]["id"], "schedule");
    let trigger = r#"{"namespace":"company","flowId":"daily","triggerId":"schedule"}"#;
    let a = api
        .call(
            Method::PUT,
            "/api/v1/triggers/backfill/pause",
            "application/json",
            trigger,
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "no backfill yet"
    );
    let body = r#"{"namespace":"company","flowId":"daily","triggerId":"schedule",
        "backfill":{"start":"2024-01-01T00:00:00Z","end":"2024-01-03T00:00:00Z","labels":[{"key":"k","value":"v"}]}}"#;
    let a = api
        .call(Method::PUT, "/api/v1/triggers", "application/json", body)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["backfill"]["paused"], false);
    let a = api
        .call(
            Method::PUT,
            "/api/v1/triggers/backfill/pause",
            "application/json",
            trigger,
        )
        .await;
    assert_eq!(a.json()["backfill"]["paused"], true);
    let a = api
        .call(
            Method::POST,
            "/api/v1/triggers/backfill/delete",
            "application/json",
            trigger,
        )
        .await;
    assert_eq!(a.json()["backfill"], Value::Null);
    let a = api.get("/api/v1/triggers/backfills").await.json();
    assert_eq!(a[0]["state"], "CANCELLED");

    let body = format!(r#"{{"triggers":[{trigger}],"disabled":true}}"#);
    let a = api
        .call(
            Method::POST,
            "/api/v1/triggers/set-disabled/by-triggers",
            "application/json",
            &body,
        )
        .await;
    assert_eq!(a.json(), json!({"count": 1}));
    let a = api.get("/api/v1/triggers/search").await.json();
    assert_eq!(a["results"][0]["triggerContext"]["disabled"], true);
    let a = api
        .call(Method::PUT, "/api/v1/triggers", "application/json", "{")
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let api = api();
    api.store
        .create_execution(&record("e", "n", "f", State::Success, Utc::now()))
        .expect("create");
    let a = api.get("/metrics").await;
    assert!(a.content_type.starts_with("text/plain"));
    for line in [
        "weir_executions{state=\"SUCCESS\"} 1",
        "weir_executions{state=\"FAILED\"} 0",
        "weir_queue_depth 2",
        "weir_executions_running 1",
        "weir_task_duration_seconds_bucket{le=\"0.5\"} 3",
        "weir_task_duration_seconds_bucket{le=\"+Inf\"} 4",
        "weir_task_duration_seconds_count 4",
    ] {
        assert!(a.text.lines().any(|l| l == line), "{line} in\n{}", a.text);
    }
}

#[tokio::test]
async fn refusals_are_json() {
    let api = api();
    let a = api.get("/nowhere").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.json()["message"].as_str().is_some());
    let a = api
        .call(Method::PATCH, "/api/v1/flows/search", "", "")
        .await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(a.json()["message"].as_str().is_some());
    let a = api.get("/api/v1/executions/%FF").await;
    assert!(a.status.is_client_error(), "{}", a.status);
    assert!(a.json()["message"].as_str().is_some());
    let a = api
        .call(
            Method::POST,
            "/api/v1/flows",
            "application/x-yaml",
            "\u{0}: [",
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
}

fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

#[test]
fn committed_openapi_is_current() {
    let path = Path::new(&manifest_dir()).join("../../docs/openapi.json");
    let fresh = openapi().to_pretty_json().expect("the document serialises") + "\n";
    if std::env::var_os("WEIR_BLESS").is_some() {
        std::fs::write(&path, &fresh).expect("docs/openapi.json is writable");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "docs/openapi.json is stale: regenerate it with `WEIR_BLESS=1 cargo test -p weir-server committed_openapi`"
    );
}

/// Every documented operation is routed, and every method the router answers on a documented
/// path is documented. (Routes are only ever added through `routes!`, which documents them.)
#[tokio::test]
async fn routes_and_document_agree() {
    let api = api();
    let doc = serde_json::to_value(openapi()).expect("document");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() > 20);
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["get", "put", "post", "delete", "patch"] {
            let documented = item.get(method).is_some();
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let req = Request::builder()
                .method(m)
                .uri(&concrete)
                .body(Body::empty())
                .expect("request");
            // A follow stream of an unknown execution answers 404 at once, so no call hangs.
            let a = api.send(req).await;
            let no_route = a.status == StatusCode::METHOD_NOT_ALLOWED
                || (a.status == StatusCode::NOT_FOUND && a.text.contains("no route for"));
            assert_eq!(
                documented, !no_route,
                "{method} {path}: documented {documented}, answered {} {}",
                a.status, a.text
            );
            if documented {
                let codes = item[method]["responses"].as_object().expect("responses");
                assert!(
                    codes.contains_key(a.status.as_str()),
                    "{method} {path} answered undocumented {} {}",
                    a.status,
                    a.text
                );
            }
        }
    }
}

/// schemathesis (dev/schemathesis): in OpenAPI 3.1 an event stream's schema describes each
/// event (`data`, `event`, `id`, `retry`), so documenting the stream as one `String` made every
/// event of both follow streams a schema violation.
#[test]
fn event_streams_document_each_event() {
    let doc = serde_json::to_value(openapi()).expect("document");
    let event = &doc["components"]["schemas"]["ServerSentEvent"];
    assert_eq!(event["type"], "object", "{event}");
    assert_eq!(event["required"], json!(["data"]), "{event}");
    for path in [
        "/api/v1/executions/{executionId}/follow",
        "/api/v1/logs/{executionId}/follow",
    ] {
        let schema = &doc["paths"][path]["get"]["responses"]["200"]["content"]["text/event-stream"]
            ["schema"];
        assert_eq!(
            schema["$ref"], "#/components/schemas/ServerSentEvent",
            "{path}: {schema}"
        );
    }
}

/// schemathesis (content_type_conformance): deleting a KV entry answers JSON `true`/`false`, as
/// Kestra does, but the document said `text/plain` (utoipa's default for a bare `bool`).
#[tokio::test]
async fn kv_delete_is_documented_as_the_json_it_answers() {
    let api = api();
    let a = api
        .call(
            Method::DELETE,
            "/api/v1/namespaces/company.team/kv/nope",
            "",
            "",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert!(
        a.content_type.starts_with("application/json"),
        "{}",
        a.content_type
    );
    assert_eq!(a.json(), json!(false));
    let doc = serde_json::to_value(openapi()).expect("document");
    let content = &doc["paths"]["/api/v1/namespaces/{namespace}/kv/{key}"]["delete"]["responses"]["200"]
        ["content"];
    assert_eq!(
        content["application/json"]["schema"]["type"], "boolean",
        "{content}"
    );
    assert!(content.get("text/plain").is_none(), "{content}");
}

/// A file of an execution in internal storage: served with its type and name; a file of
/// another execution, or a path outside storage, is refused; a missing one is a 404.
#[tokio::test]
async fn an_execution_file_is_served_and_others_are_refused() {
    let api = api();
    let now = Utc::now();
    for id in ["e1", "e2"] {
        let e = record(id, "company.team", "hello", State::Success, now);
        api.store.create_execution(&e).expect("create");
    }
    let root = api._dir.path().join("storage");
    let rel = "company/team/hello/executions/e1/tasks/extract/tr1/out.csv";
    std::fs::create_dir_all(root.join(rel).parent().expect("parent")).expect("mkdir");
    std::fs::write(root.join(rel), "a,b\n1,2\n").expect("write");
    let uri = format!("kestra:///{rel}");
    let q = |id: &str, uri: &str| {
        format!(
            "/api/v1/executions/{id}/file?path={}",
            form_urlencoded::byte_serialize(uri.as_bytes()).collect::<String>()
        )
    };

    let resp = api
        .app
        .clone()
        .oneshot(
            Request::builder()
                .uri(q("e1", &uri))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"out.csv\""
    );
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&body[..], b"a,b\n1,2\n");

    // The same file asked through another execution.
    let other = api.get(&q("e2", &uri)).await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        other.text
    );
    // Climbing out of the execution's folder.
    let climb = api
        .get(&q(
            "e1",
            "kestra:///company/team/hello/executions/e1/../e2/x.csv",
        ))
        .await;
    assert_eq!(
        climb.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        climb.text
    );
    // Missing file, missing execution, missing parameter.
    let missing = api.get(&q("e1", &uri.replace("out.csv", "nope.csv"))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    assert_eq!(missing.content_type, "application/json");
    let no_exec = api.get(&q("e9", &uri)).await;
    assert_eq!(no_exec.status, StatusCode::NOT_FOUND, "{}", no_exec.text);
    let no_path = api.get("/api/v1/executions/e1/file").await;
    assert_eq!(
        no_path.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_path.text
    );
}

/// Kestra's namespace files endpoints: upload (multipart `fileContent`), download, list one
/// folder, delete.
#[tokio::test]
async fn namespace_files_are_uploaded_listed_read_and_deleted() {
    let api = api();
    let upload = |path: &str, content: &str| {
        let body = format!(
            "--XX\r\nContent-Disposition: form-data; name=\"fileContent\"; filename=\"f\"\r\n\r\n{content}\r\n--XX--\r\n"
        );
        let uri = format!("/api/v1/main/namespaces/company.team/files?path={path}");
        let api = &api;
        async move {
            api.call(
                Method::POST,
                &uri,
                "multipart/form-data; boundary=XX",
                &body,
            )
            .await
        }
    };
    assert_eq!(
        upload("/models/a.sql", "select 1").await.status,
        StatusCode::OK
    );
    assert_eq!(upload("/readme.md", "hi").await.status, StatusCode::OK);
    assert_eq!(
        upload("/../escape", "x").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let a = api
        .get("/api/v1/namespaces/company.team/files?path=/models/a.sql")
        .await;
    assert_eq!((a.status, a.text.as_str()), (StatusCode::OK, "select 1"));
    let root = api
        .get("/api/v1/namespaces/company.team/files/directory")
        .await
        .json();
    let names: Vec<(&str, &str)> = root
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| (e["fileName"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("models", "Directory"), ("readme.md", "File")]);
    let models = api
        .get("/api/v1/namespaces/company.team/files/directory?path=/models")
        .await
        .json();
    assert_eq!(models[0]["fileName"], "a.sql");
    assert_eq!(models[0]["size"], 8);
    let a = api
        .call(
            Method::DELETE,
            "/api/v1/namespaces/company.team/files?path=/models",
            "",
            "",
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = api
        .get("/api/v1/namespaces/company.team/files?path=/models/a.sql")
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = api
        .get("/api/v1/namespaces/company..team/files/directory")
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Kestra's API takes a FILE input as a file part of the multipart form; weir stores it in
/// internal storage and the input's value is its `kestra:///` URI.
#[tokio::test]
async fn file_parts_of_a_multipart_form_become_kestra_uris() {
    let api = api();
    let flow = "id: files\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    api.call(Method::POST, "/api/v1/flows", "application/x-yaml", flow)
        .await;
    let multipart = "--X\r\nContent-Disposition: form-data; name=\"data\"; filename=\"../orders.csv\"\r\nContent-Type: text/csv\r\n\r\nid,n\n1,2\n\r\n--X--\r\n";
    let a = api
        .call(
            Method::POST,
            "/api/v1/executions/company.team/files",
            "multipart/form-data; boundary=X",
            multipart,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let uri = a.json()["inputs"]["data"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        uri.starts_with("kestra:///company/team/files/inputs/data/")
            && uri.ends_with("/orders.csv"),
        "{uri}"
    );
    let path = api
        ._dir
        .path()
        .join("storage")
        .join(uri.trim_start_matches("kestra:///"));
    assert_eq!(
        std::fs::read_to_string(path).expect("stored"),
        "id,n\n1,2\n"
    );
}
