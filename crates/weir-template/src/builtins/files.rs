//! Functions that reach the running execution through [`ExecutionLookup`]: files (`read`,
//! `fileURI`, `fileExists`, `fileSize`, `isFileEmpty`) and logs (`errorLogs`), plus
//! `currentEachOutput`, which reads only the context.

use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Error, State};

use super::{Root, err};
use crate::json;
use crate::lookup::ExecutionLookup;

/// Kestra's internal-storage scheme.
const STORAGE: &str = "kestra://";
/// Kestra's namespace-file scheme: `nsfile:///path` (the flow's namespace) or
/// `nsfile://namespace/path`.
const NSFILE: &str = "nsfile://";

/// The internal-storage URI a file argument names: a `kestra://` URI as it is, an
/// `nsfile://` URI or a bare path as a namespace file (of the flow's namespace by default).
fn resolve(lookup: &dyn ExecutionLookup, state: &State, path: &str) -> Result<String, Error> {
    if path.starts_with(STORAGE) {
        return Ok(path.to_string());
    }
    let (namespace, file) = match path.strip_prefix(NSFILE) {
        Some(rest) => match rest.strip_prefix('/') {
            Some(file) => (Root::of(state)?.namespace.to_string(), file.to_string()),
            None => match rest.split_once('/') {
                Some((ns, file)) => (ns.to_string(), file.to_string()),
                None => return Err(err(format!("`{path}` names no file after its namespace"))),
            },
        },
        None => (Root::of(state)?.namespace.to_string(), path.to_string()),
    };
    lookup
        .namespace_file_uri(&namespace, &file)
        .map_err(|e| err(format!("namespace file `{file}` of `{namespace}`: {e}")))
}

fn path_arg(value: &Value, function: &str) -> Result<String, Error> {
    match value.as_str() {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(err(format!(
            "{function}() expects a file URI or a namespace file path, got `{value}`"
        ))),
    }
}

/// `read(path)`: a file's content as text.
pub(super) fn read(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
) -> Result<Value, Error> {
    let path = path_arg(path, "read")?;
    let uri = resolve(lookup, state, &path)?;
    match lookup.read_file(&uri) {
        Ok(Some(bytes)) => Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned())),
        Ok(None) => Err(err(format!("read(): file `{path}` does not exist"))),
        Err(e) => Err(err(format!("read(): cannot read `{path}`: {e}"))),
    }
}

/// `fileURI(path)`: the internal-storage URI of a namespace file.
pub(super) fn file_uri(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
) -> Result<Value, Error> {
    let path = path_arg(path, "fileURI")?;
    resolve(lookup, state, &path).map(Value::from)
}

fn size(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
    function: &str,
) -> Result<Option<u64>, Error> {
    let path = path_arg(path, function)?;
    let uri = resolve(lookup, state, &path)?;
    lookup
        .file_size(&uri)
        .map_err(|e| err(format!("{function}(): cannot read `{path}`: {e}")))
}

/// `fileExists(path)`.
pub(super) fn file_exists(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
) -> Result<bool, Error> {
    Ok(size(lookup, state, path, "fileExists")?.is_some())
}

/// `fileSize(path)`: the size in bytes; a missing file is an error.
pub(super) fn file_size(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
) -> Result<u64, Error> {
    size(lookup, state, path, "fileSize")?
        .ok_or_else(|| err(format!("fileSize(): file `{path}` does not exist")))
}

/// `isFileEmpty(path)`: whether the file has no bytes; a missing file is an error.
pub(super) fn is_file_empty(
    lookup: &dyn ExecutionLookup,
    state: &State,
    path: &Value,
) -> Result<bool, Error> {
    size(lookup, state, path, "isFileEmpty")?
        .map(|n| n == 0)
        .ok_or_else(|| err(format!("isFileEmpty(): file `{path}` does not exist")))
}

/// `errorLogs()`: the execution's ERROR log lines so far.
pub(super) fn error_logs(lookup: &dyn ExecutionLookup, state: &State) -> Result<Value, Error> {
    let id = state
        .lookup("execution")
        .and_then(|e| e.get_attr("id").ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| err("errorLogs() is only available while an execution runs"))?;
    let logs = lookup
        .error_logs(&id)
        .map_err(|e| err(format!("errorLogs(): {e}")))?;
    Ok(json::to_value(Arc::new(serde_json::Value::Array(logs))))
}

/// `currentEachOutput(outputs.task)`: inside ForEach, the task's outputs of the current
/// iteration (of every enclosing iteration, outermost first) — what
/// `outputs.task[parent.taskrun.value][taskrun.value]` spells out by hand.
pub(super) fn current_each_output(state: &State, outputs: Value) -> Result<Value, Error> {
    let mut values: Vec<Value> = Vec::new();
    if let Some(parents) = state.lookup("parents")
        && let Ok(iter) = parents.try_iter()
    {
        let mut outer: Vec<Value> = iter
            .filter_map(|p| p.get_attr("taskrun").ok()?.get_attr("value").ok())
            .collect();
        outer.reverse();
        values.extend(outer);
    }
    let current = state
        .lookup("taskrun")
        .and_then(|t| t.get_attr("value").ok())
        .filter(|v| !v.is_none() && !v.is_undefined())
        .ok_or_else(|| err("currentEachOutput() is only available inside ForEach"))?;
    values.push(current);
    let mut out = outputs;
    for v in values {
        let next = out.get_item(&v)?;
        if next.is_undefined() {
            return Err(err(format!(
                "currentEachOutput(): no outputs for the iteration `{v}`"
            )));
        }
        out = next;
    }
    Ok(out)
}
