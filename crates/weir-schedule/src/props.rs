//! Reading a trigger's raw properties into typed values, with errors that name the property.

use crate::ScheduleError;
use serde_json::Value;
use std::time::Duration;
use weir_core::State;
use weir_flow::JsonMap;

/// Kestra states weir never enters: accepted in state lists (so flows written for Kestra load),
/// matching nothing.
const KESTRA_ONLY_STATES: &[&str] = &[
    "PAUSED",
    "RESTARTED",
    "KILLING",
    "RETRIED",
    "BREAKPOINT",
    "RESUBMITTED",
];

/// The properties of one trigger, or of one condition inside it (`path` is then its prefix).
pub(crate) struct Props<'a> {
    pub trigger: &'a str,
    pub path: String,
    pub map: &'a JsonMap,
}

impl<'a> Props<'a> {
    pub fn new(trigger: &'a str, map: &'a JsonMap) -> Self {
        Props {
            trigger,
            path: String::new(),
            map,
        }
    }

    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub fn err(&self, key: &str, message: impl Into<String>) -> ScheduleError {
        ScheduleError {
            trigger: self.trigger.to_string(),
            property: self.at(key),
            message: message.into(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ScheduleError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.err(key, format!("must be a string, found `{other}`"))),
        }
    }

    pub fn str(&self, key: &str) -> Result<&'a str, ScheduleError> {
        self.opt_str(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    /// A literal (not templated) string: weir evaluates these conditions without rendering.
    pub fn literal(&self, key: &str) -> Result<Option<&'a str>, ScheduleError> {
        let s = self.opt_str(key)?;
        if let Some(s) = s
            && s.contains("{{")
        {
            return Err(self.err(
                key,
                format!("templated values are not supported here, found `{s}`"),
            ));
        }
        Ok(s)
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ScheduleError> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => {
                Err(self.err(key, format!("must be `true` or `false`, found `{other}`")))
            }
        }
    }

    pub fn duration(&self, key: &str) -> Result<Option<Duration>, ScheduleError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(s) => weir_core::parse_duration(s)
                .map(Some)
                .map_err(|e| self.err(key, e.to_string())),
        }
    }

    pub fn list(&self, key: &str) -> Result<&'a [Value], ScheduleError> {
        match self.get(key) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.err(key, format!("must be a list, found `{other}`"))),
        }
    }

    pub fn strings(&self, key: &str) -> Result<Vec<&'a str>, ScheduleError> {
        self.list(key)?
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .ok_or_else(|| self.err(&format!("{key}[{i}]"), "must be a string"))
            })
            .collect()
    }

    /// A list of execution states; `None` when the property is absent.
    pub fn states(&self, key: &str) -> Result<Option<Vec<State>>, ScheduleError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (i, s) in self.strings(key)?.into_iter().enumerate() {
            match State::parse(s) {
                Some(st) => out.push(st),
                None if KESTRA_ONLY_STATES.contains(&s.to_ascii_uppercase().as_str()) => {}
                None => {
                    return Err(self.err(
                        &format!("{key}[{i}]"),
                        format!("`{s}` is not an execution state"),
                    ));
                }
            }
        }
        Ok(Some(out))
    }

    pub fn object(&self, key: &str) -> Result<JsonMap, ScheduleError> {
        match self.get(key) {
            None => Ok(JsonMap::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(other) => Err(self.err(key, format!("must be a map, found `{other}`"))),
        }
    }

    /// Labels as Kestra writes them: a map, or a list of `{key, value}`.
    pub fn labels(&self, key: &str) -> Result<Vec<(String, String)>, ScheduleError> {
        fn text(v: &Value) -> String {
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Object(m)) => Ok(m.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let k = item.get("key").and_then(Value::as_str);
                    let v = item.get("value").filter(|v| !v.is_null());
                    match (k, v) {
                        (Some(k), Some(v)) => Ok((k.to_string(), text(v))),
                        _ => Err(self.err(
                            &format!("{key}[{i}]"),
                            "must be a map with `key` and `value`",
                        )),
                    }
                })
                .collect(),
            Some(other) => Err(self.err(key, format!("must be a map or a list, found `{other}`"))),
        }
    }
}
