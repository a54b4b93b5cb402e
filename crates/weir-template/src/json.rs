//! Bridging between `serde_json` values and minijinja values.
//!
//! The render context is exposed to templates lazily through [`JsonNode`], an object that points
//! into a shared JSON tree: nothing is converted up front (contexts can hold large task outputs),
//! and key order is preserved when a map comes back out as JSON.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind};
use serde_json::Value as Json;

/// One step from a JSON container to a child.
#[derive(Debug, Clone)]
enum Seg {
    Key(Arc<str>),
    Index(usize),
}

/// A JSON object or array inside a shared tree, addressed by its path from the root.
#[derive(Debug)]
pub(crate) struct JsonNode {
    root: Arc<Json>,
    path: Vec<Seg>,
}

impl JsonNode {
    /// The JSON this node points at (`null` if the path no longer resolves, which cannot
    /// happen since the tree is immutable).
    pub fn json(&self) -> &Json {
        let mut cur = self.root.as_ref();
        for seg in &self.path {
            let next = match (seg, cur) {
                (Seg::Key(k), Json::Object(map)) => map.get(k.as_ref()),
                (Seg::Index(i), Json::Array(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => return &Json::Null,
            }
        }
        cur
    }

    fn child(&self, seg: Seg, value: &Json) -> Value {
        match value {
            Json::Object(_) | Json::Array(_) => {
                let mut path = Vec::with_capacity(self.path.len() + 1);
                path.extend(self.path.iter().cloned());
                path.push(seg);
                Value::from_object(JsonNode {
                    root: Arc::clone(&self.root),
                    path,
                })
            }
            scalar => scalar_to_value(scalar),
        }
    }
}

impl Object for JsonNode {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        match self.json() {
            Json::Array(_) => ObjectRepr::Seq,
            _ => ObjectRepr::Map,
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.json() {
            Json::Object(map) => {
                let k = key.as_str()?;
                let v = map.get(k)?;
                Some(self.child(Seg::Key(Arc::from(k)), v))
            }
            Json::Array(items) => {
                let idx = key.as_i64()?;
                // Negative indexes count from the end, as in Pebble and Python.
                let idx = if idx < 0 {
                    usize::try_from(i64::try_from(items.len()).ok()? + idx).ok()?
                } else {
                    usize::try_from(idx).ok()?
                };
                let v = items.get(idx)?;
                Some(self.child(Seg::Index(idx), v))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.json() {
            Json::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Value::from(k.as_str())).collect())
            }
            Json::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        match self.json() {
            Json::Object(map) => Some(map.len()),
            Json::Array(items) => Some(items.len()),
            _ => Some(0),
        }
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.enumerator_len().is_some_and(|n| n > 0)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Containers print as compact JSON, like Kestra does.
        f.write_str(&serde_json::to_string(self.json()).map_err(|_| fmt::Error)?)
    }
}

fn scalar_to_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(_) | Json::Object(_) => to_value(Arc::new(v.clone())),
    }
}

/// Wraps a JSON tree as a template value without copying it.
pub(crate) fn to_value(root: Arc<Json>) -> Value {
    match root.as_ref() {
        Json::Array(_) | Json::Object(_) => Value::from_object(JsonNode {
            root,
            path: Vec::new(),
        }),
        scalar => scalar_to_value(scalar),
    }
}

/// Converts a template value back to JSON. Undefined becomes `null`; functions and other
/// opaque objects become their string form.
pub(crate) fn from_value(v: &Value) -> Json {
    from_value_depth(v, 0)
}

const MAX_DEPTH: usize = 256;

fn from_value_depth(v: &Value, depth: usize) -> Json {
    if let Some(node) = v.downcast_object_ref::<JsonNode>() {
        return node.json().clone();
    }
    if depth > MAX_DEPTH {
        return Json::Null;
    }
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => Json::Null,
        ValueKind::Bool => Json::Bool(v.is_true()),
        ValueKind::Number => number_to_json(v),
        ValueKind::String => Json::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Bytes => {
            Json::String(String::from_utf8_lossy(v.as_bytes().unwrap_or_default()).into_owned())
        }
        ValueKind::Seq | ValueKind::Iterable => match v.try_iter() {
            Ok(iter) => Json::Array(iter.map(|x| from_value_depth(&x, depth + 1)).collect()),
            Err(_) => Json::Null,
        },
        ValueKind::Map => {
            let mut map = serde_json::Map::new();
            if let Ok(keys) = v.try_iter() {
                for key in keys {
                    let item = v.get_item(&key).unwrap_or_default();
                    let key = match key.as_str() {
                        Some(s) => s.to_string(),
                        None => key.to_string(),
                    };
                    map.insert(key, from_value_depth(&item, depth + 1));
                }
            }
            Json::Object(map)
        }
        _ => Json::String(v.to_string()),
    }
}

fn number_to_json(v: &Value) -> Json {
    if v.is_integer() {
        if let Some(i) = v.as_i64() {
            return Json::from(i);
        }
        if let Ok(u) = u64::try_from(v.clone()) {
            return Json::from(u);
        }
    }
    f64::try_from(v.clone())
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::Null, Json::Number)
}
