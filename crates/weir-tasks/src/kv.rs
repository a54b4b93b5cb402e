//! KV store tasks: set, get, delete and list keys of a namespace.

use crate::{Outputs, TaskContext, TaskError, de};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;
use weir_store::KvEntry;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeyProps {
    key: String,
    namespace: Option<String>,
    #[serde(default, deserialize_with = "de::bool_opt")]
    error_on_missing: Option<bool>,
}

/// Kestra's KV types, guessed from the value when not given.
pub fn kv_type_of(value: &Value) -> &'static str {
    match value {
        Value::Bool(_) => "BOOLEAN",
        Value::Number(_) => "NUMBER",
        Value::Object(_) | Value::Array(_) => "JSON",
        _ => "STRING",
    }
}

pub fn set(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct P {
        key: String,
        value: Value,
        namespace: Option<String>,
        #[serde(default, deserialize_with = "de::bool_opt")]
        overwrite: Option<bool>,
        ttl: Option<String>,
        kv_type: Option<String>,
    }
    let p: P = ctx.props()?;
    let ns = p.namespace.unwrap_or_else(|| ctx.namespace.clone());
    if p.overwrite == Some(false) && ctx.kv.kv_get(&ns, &p.key)?.is_some() {
        return Err(TaskError::Failed(format!(
            "kv key `{}` already exists in namespace `{ns}` and `overwrite` is false",
            p.key
        )));
    }
    let expires = match p.ttl {
        Some(t) => Some(KvEntry::expiry(&t, Utc::now()).map_err(TaskError::Props)?),
        None => None,
    };
    let kind = p.kv_type.unwrap_or_else(|| kv_type_of(&p.value).into());
    ctx.kv.kv_set(&KvEntry {
        namespace: ns,
        key: p.key,
        value: p.value,
        kind,
        expires,
        updated: Utc::now(),
    })?;
    Ok(Outputs::new())
}

pub fn get(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: KeyProps = ctx.props()?;
    let ns = p.namespace.unwrap_or_else(|| ctx.namespace.clone());
    let value = match ctx.kv.kv_get(&ns, &p.key)? {
        Some(e) => e.value,
        None if p.error_on_missing == Some(true) => {
            return Err(TaskError::Failed(format!(
                "kv key `{}` not found in namespace `{ns}`",
                p.key
            )));
        }
        None => Value::Null,
    };
    let mut out = Outputs::new();
    out.insert("value".into(), value);
    Ok(out)
}

pub fn delete(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: KeyProps = ctx.props()?;
    let ns = p.namespace.unwrap_or_else(|| ctx.namespace.clone());
    let deleted = ctx.kv.kv_delete(&ns, &p.key)?;
    if !deleted && p.error_on_missing == Some(true) {
        return Err(TaskError::Failed(format!(
            "kv key `{}` not found in namespace `{ns}`",
            p.key
        )));
    }
    let mut out = Outputs::new();
    out.insert("deleted".into(), deleted.into());
    Ok(out)
}

pub fn get_keys(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let ns = ctx
        .props
        .get("namespace")
        .and_then(Value::as_str)
        .unwrap_or(&ctx.namespace)
        .to_string();
    let prefix = ctx
        .props
        .get("prefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    let keys: Vec<Value> = ctx
        .kv
        .kv_list(&ns)?
        .into_iter()
        .filter(|e| e.key.starts_with(prefix))
        .map(|e| Value::String(e.key))
        .collect();
    let mut out = Outputs::new();
    out.insert("keys".into(), Value::Array(keys));
    Ok(out)
}
