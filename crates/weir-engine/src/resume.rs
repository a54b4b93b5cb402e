//! Resuming a PAUSED execution: the `onResume` inputs of its Pause, checked by the same rules
//! as a flow's inputs, and the time a Pause with a `timeout` must be resumed by.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use weir_core::State;
use weir_flow::{Catalog, Flow, Task};
use weir_store::{Store, StoreError};

/// The key, in a paused Pause task run's outputs, of the time it must be resumed by.
pub const DEADLINE: &str = "resumeBy";

#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The `onResume` values given do not fit its definitions (every problem, one a line).
    #[error("{}", .0.join("\n"))]
    Inputs(Vec<String>),
}

/// When a paused Pause must be resumed by, from its task run's outputs.
pub fn deadline(outputs: &Value) -> Option<DateTime<Utc>> {
    let text = outputs.get(DEADLINE)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Whether a Pause of execution `id` waits past its `timeout` at `now`.
pub fn overdue(store: &dyn Store, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    Ok(store
        .task_runs(id)?
        .iter()
        .filter(|r| r.state == State::Paused)
        .filter_map(|r| deadline(&r.outputs))
        .any(|d| d < now))
}

/// Checks the `onResume` values given for the Pause tasks execution `id` waits at (defaults
/// applied, required ones asked for) and records them in those task runs' outputs, where the
/// resumed Pause reads them: `outputs.<pause>.onResume.<input>`.
pub fn prepare(
    store: &dyn Store,
    catalog: &Catalog,
    flow: &Flow,
    id: &str,
    given: &[(String, String)],
) -> Result<(), ResumeError> {
    let tasks = flow.all_tasks();
    let paused: Vec<_> = store
        .task_runs(id)?
        .into_iter()
        .filter(|r| r.state == State::Paused)
        .collect();
    let mut errors = Vec::new();
    let mut known = Vec::new();
    for run in &paused {
        let Some(task) = tasks.iter().find(|t| t.id == run.task_id) else {
            continue;
        };
        let defs = task.props.get("onResume").cloned().unwrap_or(Value::Null);
        let defs = match defs {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            _ => {
                errors.push(format!(
                    "task `{}`: `onResume` must be a list of inputs",
                    task.id
                ));
                continue;
            }
        };
        known.extend(
            defs.iter()
                .filter_map(|d| d.get("id").and_then(Value::as_str))
                .map(str::to_string),
        );
        // Beside other paused tasks, each takes only the values it defines.
        let mine: Vec<(String, String)> = given
            .iter()
            .filter(|(n, _)| {
                paused.len() == 1
                    || defs
                        .iter()
                        .any(|d| d.get("id").and_then(Value::as_str) == Some(n))
            })
            .cloned()
            .collect();
        match on_resume_values(catalog, task, defs, &mine) {
            Ok(values) => {
                let mut outputs = match &run.outputs {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                outputs.insert("onResume".into(), Value::Object(values));
                store.set_task_run_outputs(&run.id, &Value::Object(outputs))?;
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    for (name, _) in given {
        if !known.contains(name) && paused.len() != 1 {
            errors.push(format!(
                "no paused task of execution {id} takes the input `{name}` on resume"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ResumeError::Inputs(errors))
    }
}

/// The Pause's `onResume` definitions are read as a flow's `inputs` are, so every input type
/// and rule applies the same way.
fn on_resume_values(
    catalog: &Catalog,
    task: &Task,
    defs: Vec<Value>,
    given: &[(String, String)],
) -> Result<Map<String, Value>, Vec<String>> {
    if defs.is_empty() && given.is_empty() {
        return Ok(Map::new());
    }
    let source = serde_json::json!({
        "id": task.id,
        "namespace": "weir.resume",
        "inputs": defs,
        "tasks": [{"id": task.id, "type": "io.kestra.plugin.core.flow.Pause"}],
    })
    .to_string();
    let label = format!("`onResume` of task `{}`", task.id);
    let flow = weir_flow::parse_flow(&label, &source, catalog).map_err(|d| {
        d.iter()
            .map(|d| format!("{label}: {d}"))
            .collect::<Vec<_>>()
    })?;
    let flow_name = format!("flow `{}`", task.id);
    weir_flow::resolve_inputs(&flow, given).map_err(|e| {
        e.into_iter()
            .map(|m| match m.strip_prefix(&flow_name) {
                Some(rest) => format!("the Pause `{}`{rest}", task.id),
                None => format!("{label}: {m}"),
            })
            .collect()
    })
}
