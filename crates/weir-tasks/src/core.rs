//! Core tasks: logging, returning values, failing, sleeping, purging files.

use crate::{Outputs, TaskContext, TaskError, de};
use serde::Deserialize;
use serde_json::Value;
use weir_store::Level;

pub fn log(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let level = match ctx.props.get("level").and_then(Value::as_str) {
        None => Level::Info,
        Some(l) => Level::parse(l).ok_or_else(|| {
            TaskError::Props(format!(
                "`level` must be TRACE, DEBUG, INFO, WARN or ERROR, found `{l}`"
            ))
        })?,
    };
    match ctx.props.get("message") {
        Some(Value::Array(items)) => items
            .iter()
            .for_each(|m| ctx.log.log(level, &de::scalar_text(m.clone()))),
        Some(m) => ctx.log.log(level, &de::scalar_text(m.clone())),
        None => {}
    }
    Ok(Outputs::new())
}

pub fn return_value(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let mut out = Outputs::new();
    out.insert(
        "value".into(),
        ctx.props.get("format").cloned().unwrap_or(Value::Null),
    );
    Ok(out)
}

pub fn output_values(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let mut out = Outputs::new();
    out.insert(
        "values".into(),
        ctx.props
            .get("values")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
    );
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FailProps {
    #[serde(default, deserialize_with = "de::bool_opt")]
    condition: Option<bool>,
    error_message: Option<String>,
}

pub fn fail(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: FailProps = ctx.props()?;
    if p.condition == Some(false) {
        return Ok(Outputs::new());
    }
    Err(TaskError::Failed(p.error_message.unwrap_or_else(|| {
        "the flow failed on purpose (core.execution.Fail)".into()
    })))
}

pub async fn sleep(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let text = ctx
        .props
        .get("duration")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let d = weir_core::parse_duration(text).map_err(|e| TaskError::Props(e.to_string()))?;
    tokio::time::sleep(d).await;
    Ok(Outputs::new())
}

pub fn purge(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let n = ctx
        .storage
        .purge_execution(&ctx.namespace, &ctx.flow_id, &ctx.execution_id)?;
    ctx.log.info(&format!(
        "purged {n} files of execution {}",
        ctx.execution_id
    ));
    let mut out = Outputs::new();
    out.insert("count".into(), n.into());
    Ok(out)
}
