//! dbt's names and unique ids for generic tests, reproduced exactly so that selectors, artifacts
//! and `run_results.json` match dbt-core's (dbt-core `parser/generic_test_builders.py`,
//! `synthesize_generic_test_names`, and `parser/schema_generic_tests.py`, `create_test_node`).

use md5::{Digest, Md5};
use serde_json::{Map, Value};

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// (short name, full name). The full name is `<test type>_<target>_<args…>`, arguments in key
/// order without `model`, each cleaned to `[0-9a-zA-Z_]`; when it reaches 64 characters the
/// short name is its first 30 identifying characters and the md5 of the full name.
pub(crate) fn synthesize(
    test_type: &str,
    target: &str,
    args: &Map<String, Value>,
) -> (String, String) {
    let mut keys: Vec<&String> = args.keys().collect();
    keys.sort();
    let mut flat = Vec::new();
    for key in keys {
        if key == "model" {
            continue;
        }
        match &args[key] {
            Value::Object(m) => flat.extend(m.values().map(py_str)),
            Value::Array(items) => flat.extend(items.iter().map(py_str)),
            other => flat.push(py_str(other)),
        }
    }
    let clean: Vec<String> = flat.iter().map(|s| clean_arg(s)).collect();
    let identifier = format!("{test_type}_{target}");
    let full = format!("{identifier}_{}", clean.join("__"));
    if full.chars().count() >= 64 {
        let trunc: String = identifier.chars().take(30).collect();
        (format!("{trunc}_{}", md5_hex(&full)), full)
    } else {
        (full.clone(), full)
    }
}

/// Python's `re.sub("[^0-9a-zA-Z_]+", "_", s)`.
fn clean_arg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// The 10-character suffix of a generic test's unique id: the last characters of
/// md5(name + repr(hashable metadata)), where the metadata is `{name, kwargs, namespace}` with
/// map keys sorted and every scalar turned into its Python `str`.
pub(crate) fn unique_id_hash(
    node_name: &str,
    test_name: &str,
    namespace: Option<&str>,
    kwargs: &Map<String, Value>,
) -> String {
    let mut metadata = Map::new();
    metadata.insert("name".into(), Value::String(test_name.into()));
    metadata.insert("kwargs".into(), Value::Object(kwargs.clone()));
    metadata.insert(
        "namespace".into(),
        namespace.map_or(Value::Null, |n| Value::String(n.into())),
    );
    let hex = md5_hex(&format!(
        "{node_name}{}",
        hashable_repr(&Value::Object(metadata))
    ));
    hex[hex.len() - 10..].to_string()
}

/// `repr(get_hashable_md(value))`.
fn hashable_repr(value: &Value) -> String {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", py_repr_str(k), hashable_repr(&m[k])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(hashable_repr).collect();
            format!("[{}]", items.join(", "))
        }
        other => py_repr_str(&py_str(other)),
    }
}

/// Python's `str(value)` for a value loaded from YAML.
fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)` for a value loaded from YAML (dicts keep their order).
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_repr_str(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(py_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", py_repr_str(k), py_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// Python's `repr(str)`: single quotes unless the text holds one and no double quote.
fn py_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn names_like_dbt() {
        let args = map(json!({
            "column_name": "status",
            "values": ["placed", "shipped", "completed"],
            "model": "{{ get_where_subquery(ref('orders')) }}",
        }));
        let (short, full) = synthesize("accepted_values", "orders", &args);
        assert_eq!(
            full,
            "accepted_values_orders_status__placed__shipped__completed"
        );
        assert_eq!(short, full);
        let args =
            map(json!({"column_name": "customer_id", "to": "ref('customers')", "field": "id"}));
        assert_eq!(
            synthesize("relationships", "orders", &args).0,
            "relationships_orders_customer_id__id__ref_customers_"
        );
    }

    #[test]
    fn long_names_are_hashed() {
        let args = map(
            json!({"column_name": "a_rather_long_column_name", "values": ["one", "two", "three"]}),
        );
        let (short, full) = synthesize("accepted_values", "a_long_model_name", &args);
        assert!(full.len() >= 64);
        // Python: "accepted_values_a_long_model_n" + "_" + md5(full).
        assert_eq!(
            short,
            format!("accepted_values_a_long_model_n_{}", md5_hex(&full))
        );
    }

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr_str("a'b"), "\"a'b\"");
        assert_eq!(py_repr_str("a'b\""), "'a\\'b\"'");
        assert_eq!(
            hashable_repr(&json!({"b": [1, true], "a": null})),
            "{'a': 'None', 'b': ['1', 'True']}"
        );
    }
}
