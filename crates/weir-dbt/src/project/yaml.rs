//! Reading dbt's YAML files through `weir_flow::yaml`'s positioned tree: parse errors and type
//! mistakes become located diagnostics.

use super::location;
use weir_core::Diagnostic;
pub(crate) use weir_flow::yaml::Node as Yaml;

/// Parses one YAML file; a syntax error is a diagnostic at its position.
pub(crate) fn parse(text: &str, file: &str) -> Result<Yaml, Vec<Diagnostic>> {
    weir_flow::yaml::parse(text).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                let d = Diagnostic::new(location(file, e.pos.line, e.pos.column), e.message);
                match e.hint {
                    Some(h) => d.with_hint(h),
                    None => d,
                }
            })
            .collect()
    })
}

/// A diagnostic at `node`.
pub(crate) fn at(file: &str, node: &Yaml, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(location(file, node.pos.line, node.pos.column), message)
}

/// The scalar text of `node`, or a diagnostic saying what was expected.
pub(crate) fn string(file: &str, node: &Yaml, what: &str) -> Result<String, Diagnostic> {
    node.as_str().map(str::to_string).ok_or_else(|| {
        at(
            file,
            node,
            format!("`{what}` should be a string, found {}", node.kind_name()),
        )
    })
}

/// An optional string field of a map; null counts as absent.
pub(crate) fn opt_string(
    file: &str,
    map: &Yaml,
    key: &str,
    errors: &mut Vec<Diagnostic>,
) -> Option<String> {
    let node = map.get(key).filter(|n| !n.is_null())?;
    match string(file, node, key) {
        Ok(s) => Some(s),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

/// A list of strings, also accepting one string alone (`model-paths: models`).
pub(crate) fn string_list(
    file: &str,
    node: &Yaml,
    key: &str,
    errors: &mut Vec<Diagnostic>,
) -> Vec<String> {
    if let Some(items) = node.as_seq() {
        items
            .iter()
            .filter_map(|item| match string(file, item, key) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.push(e);
                    None
                }
            })
            .collect()
    } else if node.is_null() {
        Vec::new()
    } else {
        match string(file, node, key) {
            Ok(s) => vec![s],
            Err(e) => {
                errors.push(e);
                Vec::new()
            }
        }
    }
}

/// The items of a list field; a missing or null field is empty; anything else is an error.
pub(crate) fn seq<'a>(
    file: &str,
    map: &'a Yaml,
    key: &str,
    errors: &mut Vec<Diagnostic>,
) -> &'a [Yaml] {
    match map.get(key) {
        None => &[],
        Some(n) if n.is_null() => &[],
        Some(n) => match n.as_seq() {
            Some(items) => items,
            None => {
                errors.push(at(
                    file,
                    n,
                    format!("`{key}` should be a list, found {}", n.kind_name()),
                ));
                &[]
            }
        },
    }
}

/// A map field as JSON (`config:`, `meta:`); a missing or null field is empty.
pub(crate) fn json_map(
    file: &str,
    map: &Yaml,
    key: &str,
    errors: &mut Vec<Diagnostic>,
) -> serde_json::Map<String, serde_json::Value> {
    match map.get(key) {
        None => serde_json::Map::new(),
        Some(n) if n.is_null() => serde_json::Map::new(),
        Some(n) => match n.to_json() {
            serde_json::Value::Object(m) => m,
            _ => {
                errors.push(at(
                    file,
                    n,
                    format!("`{key}` should be a map, found {}", n.kind_name()),
                ));
                serde_json::Map::new()
            }
        },
    }
}
