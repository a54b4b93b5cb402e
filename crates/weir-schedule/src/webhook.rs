//! The Webhook trigger: its key, and `trigger.*` built from an HTTP request.

use crate::ScheduleError;
use crate::props::Props;
use serde_json::{Map, Value};
use weir_flow::Trigger;

#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub disabled: bool,
    /// The secret part of `/api/v1/executions/webhook/{namespace}/{flowId}/{key}`.
    pub key: String,
    pub inputs: Map<String, Value>,
    pub labels: Vec<(String, String)>,
    /// Answer only when the execution ends.
    pub wait: bool,
    /// With `wait`, answer with the flow's outputs.
    pub return_outputs: bool,
}

impl Webhook {
    pub(crate) fn parse(t: &Trigger) -> Result<Webhook, ScheduleError> {
        let p = Props::new(&t.id, &t.props);
        let key = p.str("key")?;
        if key.is_empty() {
            return Err(p.err("key", "must not be empty"));
        }
        if !p.list("conditions")?.is_empty() {
            return Err(p.err(
                "conditions",
                "conditions on Webhook triggers are not supported by weir",
            ));
        }
        Ok(Webhook {
            id: t.id.clone(),
            disabled: t.disabled,
            key: key.to_string(),
            inputs: p.object("inputs")?,
            labels: p.labels("labels")?,
            wait: p.bool("wait", false)?,
            return_outputs: p.bool("returnOutputs", false)?,
        })
    }

    /// Compares the key of a request with this trigger's in time that depends only on their
    /// lengths, not on where they first differ.
    pub fn key_matches(&self, given: &str) -> bool {
        let (a, b) = (self.key.as_bytes(), given.as_bytes());
        let mut diff = u8::from(a.len() != b.len());
        for i in 0..a.len().max(b.len()) {
            diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
        }
        std::hint::black_box(diff) == 0
    }

    /// `trigger.body` as Kestra gives it: a JSON object or array when the body parses as one,
    /// else the text; `None` for an empty body. Bytes that are not UTF-8 are replaced (Kestra
    /// base64-encodes binary bodies).
    pub fn body(raw: &[u8]) -> Option<Value> {
        if raw.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(raw);
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
            _ => Some(Value::String(text.into_owned())),
        }
    }

    /// `trigger.*` for a request: `body` (see `Webhook::body`; absent when `None`), `headers`
    /// and `parameters` (the query string), each name mapped to the list of its values in the
    /// order they came.
    pub fn variables(
        body: Option<Value>,
        headers: &[(String, String)],
        parameters: &[(String, String)],
    ) -> Value {
        fn multimap(pairs: &[(String, String)]) -> Value {
            let mut m = Map::new();
            for (k, v) in pairs {
                let entry = m
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = entry {
                    values.push(Value::String(v.clone()));
                }
            }
            Value::Object(m)
        }
        let mut m = Map::new();
        if let Some(body) = body {
            m.insert("body".into(), body);
        }
        m.insert("headers".into(), multimap(headers));
        m.insert("parameters".into(), multimap(parameters));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::trigger;
    use serde_json::json;

    fn webhook(props: Value) -> Result<Webhook, ScheduleError> {
        Webhook::parse(&trigger("io.kestra.plugin.core.trigger.Webhook", props))
    }

    #[test]
    fn key_compare() {
        let w = webhook(json!({"key": "4wjtkzwVGBM9yKnjm3yv8r", "wait": true})).unwrap();
        assert!(w.wait && !w.return_outputs);
        assert!(w.key_matches("4wjtkzwVGBM9yKnjm3yv8r"));
        assert!(!w.key_matches("4wjtkzwVGBM9yKnjm3yv8R"));
        assert!(!w.key_matches("4wjtkzwVGBM9yKnjm3yv8"));
        assert!(!w.key_matches("4wjtkzwVGBM9yKnjm3yv8rr"));
        assert!(!w.key_matches(""));
        assert_eq!(webhook(json!({"key": ""})).unwrap_err().property, "key");
    }

    #[test]
    fn variables() {
        let headers = [
            ("content-type".to_string(), "application/json".to_string()),
            ("x-a".to_string(), "1".to_string()),
            ("x-a".to_string(), "2".to_string()),
        ];
        let params = [("validationToken".to_string(), "abc".to_string())];
        let v = Webhook::variables(Webhook::body(br#"{"hello": "world"}"#), &headers, &params);
        assert_eq!(
            v,
            json!({
                "body": {"hello": "world"},
                "headers": {"content-type": ["application/json"], "x-a": ["1", "2"]},
                "parameters": {"validationToken": ["abc"]}
            })
        );
        assert_eq!(Webhook::body(b"42"), Some(json!("42")));
        assert_eq!(Webhook::body(b"[1]"), Some(json!([1])));
        assert_eq!(Webhook::body(b""), None);
    }
}
