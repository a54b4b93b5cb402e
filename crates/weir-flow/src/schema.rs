//! The JSON Schema of flows, generated from the catalog so editors complete what weir runs.

use crate::catalog::{Catalog, PropKind};
use serde_json::{Value, json};

fn prop_schema(kind: PropKind) -> Value {
    let template = json!({"type": "string", "pattern": ".*\\{[{%].*"});
    match kind {
        PropKind::String => json!({"type": ["string", "number", "boolean"]}),
        PropKind::Int => json!({"anyOf": [{"type": "integer"}, template]}),
        PropKind::Number => json!({"anyOf": [{"type": "number"}, template]}),
        PropKind::Bool => json!({"anyOf": [{"type": "boolean"}, template]}),
        PropKind::Duration => {
            json!({"type": "string", "description": "ISO-8601 duration such as PT15S"})
        }
        PropKind::StringList => {
            json!({"anyOf": [{"type": "array", "items": {"type": ["string", "number", "boolean"]}}, template]})
        }
        PropKind::StringOrList => {
            json!({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": ["string", "number", "boolean"]}}]})
        }
        PropKind::List => json!({"anyOf": [{"type": "array"}, template]}),
        PropKind::Map => json!({"anyOf": [{"type": "object"}, template]}),
        PropKind::StringMap => {
            json!({"anyOf": [{"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}, template]})
        }
        PropKind::MapOrString => json!({"type": ["object", "string"]}),
        PropKind::Any => json!({}),
        PropKind::Tasks => json!({"type": "array", "items": {"$ref": "#/$defs/task"}}),
        PropKind::TaskCases => {
            json!({"type": "object", "additionalProperties": {"type": "array", "items": {"$ref": "#/$defs/task"}}})
        }
        PropKind::DagTasks => json!({"type": "array", "items": {
            "type": "object", "required": ["task"], "additionalProperties": false,
            "properties": {"task": {"$ref": "#/$defs/task"}, "dependsOn": {"type": "array", "items": {"type": "string"}}}
        }}),
    }
}

/// The schema as a JSON value; `weir flows schema` prints it and `schema/flow.schema.json` holds it.
pub fn flow_schema(catalog: &Catalog) -> Value {
    let duration = json!({"type": "string", "pattern": "^P"});
    let retry = json!({
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"enum": ["constant", "exponential", "random"]},
            "interval": duration, "minInterval": duration, "maxInterval": duration, "maxDuration": duration,
            "delayFactor": {"type": "number"}, "maxAttempt": {"type": "integer", "minimum": 1},
            "maxAttempts": {"type": "integer", "minimum": 1}, "warningOnRetry": {"type": "boolean"}
        },
        "additionalProperties": false
    });
    let mut variants = Vec::new();
    for spec in catalog.specs() {
        let mut props = serde_json::Map::new();
        let mut names: Vec<&str> = vec![spec.name];
        names.extend(spec.aliases.iter().copied());
        props.insert(
            "id".into(),
            json!({"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"}),
        );
        props.insert("type".into(), json!({"enum": names}));
        props.insert("description".into(), json!({"type": "string"}));
        props.insert("retry".into(), retry.clone());
        props.insert("timeout".into(), duration.clone());
        props.insert("disabled".into(), json!({"type": "boolean"}));
        props.insert("allowFailure".into(), json!({"type": "boolean"}));
        props.insert("runIf".into(), json!({"type": "string"}));
        props.insert(
            "logLevel".into(),
            json!({"enum": ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]}),
        );
        let mut required = vec!["id", "type"];
        for p in spec.props {
            let mut s = prop_schema(p.kind);
            if let Value::Object(m) = &mut s {
                m.insert("description".into(), Value::String(p.doc.into()));
            }
            props.insert(p.name.into(), s);
            if p.required {
                required.push(p.name);
            }
        }
        variants.push(json!({
            "title": spec.name,
            "description": spec.doc,
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": false
        }));
    }
    let input_types: Vec<&str> = crate::model::InputKind::NAMES.to_vec();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "weir flow",
        "description": "A Kestra-compatible flow as weir runs it.",
        "type": "object",
        "required": ["id", "namespace", "tasks"],
        "properties": {
            "id": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9_-]*$"},
            "namespace": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9._-]*$"},
            "description": {"type": "string"},
            "labels": {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object", "required": ["key", "value"]}}]},
            "inputs": {"type": "array", "items": {
                "type": "object", "required": ["id", "type"],
                "properties": {
                    "id": {"type": "string"}, "type": {"enum": input_types}, "defaults": {},
                    "required": {"type": "boolean"}, "displayName": {"type": "string"},
                    "description": {"type": "string"}, "values": {"type": "array"},
                    "itemType": {"enum": input_types}, "allowCustomValue": {"type": "boolean"}
                }
            }},
            "variables": {"type": "object"},
            "tasks": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/task"}},
            "errors": {"type": "array", "items": {"$ref": "#/$defs/task"}},
            "finally": {"type": "array", "items": {"$ref": "#/$defs/task"}},
            "triggers": {"type": "array", "items": {"type": "object", "required": ["id", "type"]}},
            "pluginDefaults": {"type": "array", "items": {
                "type": "object", "required": ["type", "values"],
                "properties": {"type": {"type": "string"}, "values": {"type": "object"}, "forced": {"type": "boolean"}}
            }},
            "concurrency": {"type": "object", "required": ["limit"], "properties": {
                "limit": {"type": "integer", "minimum": 1}, "behavior": {"enum": ["QUEUE", "CANCEL", "FAIL"]}
            }},
            "retry": retry,
            "outputs": {"type": "array", "items": {"type": "object", "required": ["id", "value"]}},
            "disabled": {"type": "boolean"}
        },
        "$defs": {"task": {"oneOf": variants}}
    })
}
