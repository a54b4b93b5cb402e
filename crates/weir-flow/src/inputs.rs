//! Checking and typing the values given for a flow's inputs, before anything runs.

use crate::model::{Flow, InputDef, InputKind, Json, JsonMap};
use serde_json::Value;

/// Turns the values given on the command line (text) into typed inputs, applying defaults.
/// Every problem is reported, not just the first.
pub fn resolve_inputs(flow: &Flow, given: &[(String, String)]) -> Result<JsonMap, Vec<String>> {
    let mut errors = Vec::new();
    let mut out = JsonMap::new();
    for (name, _) in given {
        if !flow.inputs.iter().any(|i| &i.id == name) {
            let known: Vec<String> = flow.inputs.iter().map(|i| format!("`{}`", i.id)).collect();
            errors.push(if known.is_empty() {
                format!(
                    "flow `{}` has no input `{name}`; it takes no inputs",
                    flow.id
                )
            } else {
                format!(
                    "flow `{}` has no input `{name}`; its inputs are {}",
                    flow.id,
                    known.join(", ")
                )
            });
        }
    }
    for def in &flow.inputs {
        let value = match given.iter().rev().find(|(n, _)| n == &def.id) {
            Some((_, text)) => coerce_text(def, text),
            None => match &def.defaults {
                Some(d) => coerce_default(def, d),
                None if def.required => {
                    errors.push(format!("input `{}` is required and has no default", def.id));
                    continue;
                }
                None => Ok(Value::Null),
            },
        };
        match value {
            Ok(v) => {
                out.insert(def.id.clone(), v);
            }
            Err(e) => errors.push(format!("input `{}`: {e}", def.id)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A value given as text, as on the command line.
pub fn coerce_text(def: &InputDef, text: &str) -> Result<Json, String> {
    let parsed = match def.kind {
        InputKind::String
        | InputKind::Select
        | InputKind::Date
        | InputKind::DateTime
        | InputKind::Duration
        | InputKind::Uri
        | InputKind::File
        | InputKind::Time
        | InputKind::Email
        | InputKind::Secret
        | InputKind::Yaml => Value::String(text.to_string()),
        InputKind::Int | InputKind::Float | InputKind::Boolean => {
            serde_json::from_str::<Value>(text.trim())
                .unwrap_or_else(|_| Value::String(text.to_string()))
        }
        InputKind::Json => {
            serde_json::from_str(text).map_err(|e| format!("`{text}` is not valid JSON ({e})"))?
        }
        InputKind::Array | InputKind::MultiSelect => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Array(_)) => v,
            _ => Value::Array(
                text.split(',')
                    .map(|s| Value::String(s.trim().to_string()))
                    .collect(),
            ),
        },
    };
    coerce_json(def, &parsed)
}

/// Types an input's `defaults`. A JSON input's default written as a string holds JSON text,
/// as in Kestra (`defaults: '{"region": "eu"}'`): it is parsed, exactly like the same text
/// given with `-i`, so `inputs.cfg.region` works either way.
pub fn coerce_default(def: &InputDef, v: &Json) -> Result<Json, String> {
    match (def.kind, v) {
        (InputKind::Json, Value::String(text)) => coerce_text(def, text),
        // A YAML default written as a mapping or list is the value itself.
        (InputKind::Yaml, Value::Object(_) | Value::Array(_)) => Ok(v.clone()),
        _ => coerce_json(def, v),
    }
}

/// What a FILE input's value may be: a file of internal storage, or a namespace file.
pub fn is_file_uri(text: &str) -> bool {
    text.starts_with("kestra:///") || text.starts_with("nsfile:///")
}

/// Checks a typed value (a default, or parsed text) against the input's definition.
pub fn coerce_json(def: &InputDef, v: &Json) -> Result<Json, String> {
    coerce_kind(def.kind, def, v)
}

fn coerce_kind(kind: InputKind, def: &InputDef, v: &Json) -> Result<Json, String> {
    let shown = match v {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    };
    match kind {
        InputKind::File => match v {
            Value::String(s) if is_file_uri(s) => Ok(v.clone()),
            _ => Err(format!(
                "{shown} is not a file: give one as `-i {}=@path/to/file` (its value is then a `kestra:///` URI)",
                def.id
            )),
        },
        InputKind::Time => {
            let s = v.as_str().ok_or_else(|| format!("{shown} is not a time"))?;
            let ok = chrono::NaiveTime::parse_from_str(s, "%H:%M:%S%.f").is_ok()
                || chrono::NaiveTime::parse_from_str(s, "%H:%M").is_ok();
            if !ok {
                return Err(format!("`{s}` is not a time in the form `14:30:00`"));
            }
            Ok(v.clone())
        }
        InputKind::Email => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("{shown} is not an email address"))?;
            let valid = s.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && !domain.starts_with('.')
                    && domain.contains('.')
                    && !domain.ends_with('.')
                    && !s.chars().any(char::is_whitespace)
                    && !domain.contains('@')
            });
            if !valid {
                return Err(format!("`{s}` is not an email address"));
            }
            Ok(v.clone())
        }
        InputKind::Yaml => match v {
            Value::String(text) => {
                crate::yaml::parse(text)
                    .map(|node| node.to_json())
                    .map_err(|e| {
                        let first = e.first().map(|e| e.message.clone()).unwrap_or_default();
                        format!("{shown} is not valid YAML ({first})")
                    })
            }
            other => Ok(other.clone()),
        },
        InputKind::String | InputKind::Uri | InputKind::Secret => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(v.to_string())),
            _ => Err(format!("{shown} is not a string")),
        },
        InputKind::Int => match v {
            Value::Number(n) if n.is_i64() => Ok(v.clone()),
            Value::String(s) if s.trim().parse::<i64>().is_ok() => {
                Ok(Value::from(s.trim().parse::<i64>().unwrap_or_default()))
            }
            _ => Err(format!("{shown} is not an integer")),
        },
        InputKind::Float => match v {
            Value::Number(_) => Ok(v.clone()),
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("{shown} is not a number")),
            _ => Err(format!("{shown} is not a number")),
        },
        InputKind::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            Value::String(s) if s == "true" || s == "false" => Ok(Value::Bool(s == "true")),
            _ => Err(format!("{shown} is not a boolean (`true` or `false`)")),
        },
        InputKind::Select => {
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            if def.values.contains(&s) || def.allow_custom_value {
                Ok(Value::String(s))
            } else {
                Err(format!("`{s}` is not one of {}", quoted_list(&def.values)))
            }
        }
        InputKind::MultiSelect => {
            let items = v
                .as_array()
                .ok_or_else(|| format!("{shown} is not a list"))?;
            for item in items {
                let s = item
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| item.to_string());
                if !def.values.contains(&s) && !def.allow_custom_value {
                    return Err(format!("`{s}` is not one of {}", quoted_list(&def.values)));
                }
            }
            Ok(v.clone())
        }
        InputKind::Array => {
            let items = v
                .as_array()
                .ok_or_else(|| format!("{shown} is not a list"))?;
            let item_kind = def.item_type.unwrap_or(InputKind::String);
            let typed: Result<Vec<Json>, String> = items
                .iter()
                .map(|i| coerce_kind(item_kind, def, i))
                .collect();
            Ok(Value::Array(typed?))
        }
        InputKind::Date => {
            let s = v.as_str().ok_or_else(|| format!("{shown} is not a date"))?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| format!("`{s}` is not a date in the form `2021-01-31`"))?;
            Ok(v.clone())
        }
        InputKind::DateTime => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("{shown} is not a datetime"))?;
            let ok = chrono::DateTime::parse_from_rfc3339(s).is_ok()
                || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok();
            if !ok {
                return Err(format!(
                    "`{s}` is not a datetime in the form `2021-01-31T10:00:00Z`"
                ));
            }
            Ok(v.clone())
        }
        InputKind::Duration => {
            let s = v
                .as_str()
                .ok_or_else(|| format!("{shown} is not a duration"))?;
            weir_core::parse_duration(s).map_err(|e| e.to_string())?;
            Ok(v.clone())
        }
        InputKind::Json => Ok(v.clone()),
    }
}

fn quoted_list(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
