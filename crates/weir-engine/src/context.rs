//! The template context of a task run: inputs, vars, outputs so far, trigger, execution, flow,
//! labels and the task run itself.

use serde_json::{Map, Value, json};
use std::sync::Arc;
use weir_template::Context;

/// Iteration values of enclosing ForEach tasks, innermost last.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub values: Vec<String>,
    pub parent_run: Option<String>,
    /// The folder a WorkingDirectory task shares with the tasks under it.
    pub working_dir: Option<Arc<std::path::PathBuf>>,
}

impl Scope {
    pub fn value(&self) -> Option<&str> {
        self.values.last().map(String::as_str)
    }

    pub fn child(&self, parent_run: &str, value: Option<String>) -> Scope {
        let mut values = self.values.clone();
        values.extend(value);
        Scope {
            values,
            parent_run: Some(parent_run.to_string()),
            working_dir: self.working_dir.clone(),
        }
    }
}

pub struct TaskRunInfo<'a> {
    pub id: &'a str,
    pub task_id: &'a str,
    pub task_type: &'a str,
    pub attempt: u32,
    pub working_dir: Option<&'a str>,
}

/// Builds what the renderer sees: `base` (fixed for the execution) and `outputs` (a
/// `{"outputs": {…}}` object, shared) as layers under the task run's own small part, so the
/// cost does not grow with the number of task runs already finished.
pub fn build(
    base: &Arc<Value>,
    outputs: &Arc<Value>,
    labels: &[(String, String)],
    scope: &Scope,
    run: Option<&TaskRunInfo<'_>>,
) -> Context {
    let mut ctx = Map::new();
    ctx.insert(
        "labels".into(),
        Value::Object(
            labels
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        ),
    );
    if let Some(run) = run {
        ctx.insert(
            "taskrun".into(),
            json!({"id": run.id, "value": scope.value(), "attemptsCount": run.attempt, "parentId": scope.parent_run}),
        );
        ctx.insert(
            "task".into(),
            json!({"id": run.task_id, "type": run.task_type}),
        );
        if let Some(dir) = run.working_dir {
            ctx.insert("workingDir".into(), Value::String(dir.to_string()));
        }
        // `parent.taskrun.value` and `parents[i]` reach enclosing ForEach iterations.
        let n = scope.values.len();
        if n >= 2 {
            let parents: Vec<Value> = scope.values[..n - 1]
                .iter()
                .rev()
                .map(|v| json!({"taskrun": {"value": v}}))
                .collect();
            ctx.insert("parent".into(), parents[0].clone());
            ctx.insert("parents".into(), Value::Array(parents));
        }
    }
    Context::new()
        .with(Arc::clone(base))
        .with(Arc::clone(outputs))
        .with(Arc::new(Value::Object(ctx)))
}

/// Pebble/Kestra truthiness of a rendered condition.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "" | "false" | "0" | "-0" | "null" | "undefined" | "nan"
        ),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
