//! Lenient deserializers: a templated property renders to text, so `"true"` must read as `true`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

pub fn bool_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) if s.trim() == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s.trim() == "false" => Ok(Some(false)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected `true` or `false`, found `{other}`"
        ))),
    }
}

pub fn u64_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a non-negative integer, found `{other}`"
        ))),
    }
}

/// A string, or a list of strings (a single string is a list of one).
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.into_iter().map(scalar_text).collect()),
        Some(Value::String(s)) => match serde_json::from_str::<Vec<Value>>(&s) {
            Ok(items) if s.trim_start().starts_with('[') => {
                Ok(items.into_iter().map(scalar_text).collect())
            }
            _ => Ok(vec![s]),
        },
        Some(other) => Ok(vec![scalar_text(other)]),
    }
}

/// The text of a scalar as a user would write it (`3`, not `"3"`).
pub fn scalar_text(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
