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
            json!({
                "id": run.id,
                "value": scope.value(),
                "attemptsCount": run.attempt,
                "parentId": scope.parent_run,
                // The context is built as the attempt starts.
                "startDate": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            }),
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

/// `envs`: the environment variables starting with `ENV_`, by their name without the prefix,
/// lower-cased, as Kestra exposes them (`ENV_MY_ENV` is `{{ envs.my_env }}`).
pub fn envs() -> Value {
    envs_from(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    )
}

fn envs_from(vars: impl Iterator<Item = (String, String)>) -> Value {
    let mut out: Vec<(String, String)> = vars
        .filter_map(|(k, v)| {
            let name = k.strip_prefix(ENV_PREFIX)?;
            (!name.is_empty()).then(|| (name.to_lowercase(), v))
        })
        .collect();
    out.sort();
    Value::Object(
        out.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

/// The prefix of the environment variables a flow sees as `envs`.
pub const ENV_PREFIX: &str = "ENV_";

/// A layer giving `execution` its current `state` (RUNNING, or FAILED once a task failed:
/// what `errors` and `finally` tasks see), on top of the execution's fixed part in `base`.
pub fn execution_state(base: &Value, state: &str) -> Arc<Value> {
    let mut execution = base.get("execution").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut execution {
        map.insert("state".into(), Value::String(state.to_string()));
    }
    Arc::new(json!({ "execution": execution }))
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

#[cfg(test)]
mod tests {
    use super::*;

    // Kestra docs, configuration guide (variables): an environment variable named
    // `KESTRA_MY_ENV` (now `ENV_MY_ENV`, the 0.23 default prefix) is `{{ envs.my_env }}`.
    #[test]
    fn envs_keep_env_prefixed_variables_lower_cased() {
        let vars = [
            ("ENV_MY_ENV", "a"),
            ("ENV_Other_Name", "b"),
            ("ENV_", "empty name"),
            ("HOME", "/root"),
            ("MY_ENV_X", "no"),
        ];
        let got = envs_from(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(got, json!({"my_env": "a", "other_name": "b"}));
    }

    #[test]
    fn execution_state_adds_state_to_the_fixed_part() {
        let base = json!({"execution": {"id": "e1"}});
        assert_eq!(
            *execution_state(&base, "RUNNING"),
            json!({"execution": {"id": "e1", "state": "RUNNING"}})
        );
    }
}
