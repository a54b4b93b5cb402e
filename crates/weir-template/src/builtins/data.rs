//! Filters that parse, query, hash and print structured data: `yaml`, `jq`, `sha1`,
//! `sha256`, `md5` and `toIon`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use minijinja::Error;
use minijinja::value::Value;
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::Value as Json;

use super::err;
use crate::json;

/// How deep a YAML document given to `yaml` may nest.
const MAX_YAML_DEPTH: usize = 256;
/// How many nodes aliases may add in all (the "billion laughs").
const MAX_YAML_ALIAS_NODES: usize = 100_000;

/// `yaml`: YAML text parsed into a value (maps, lists, numbers, booleans, null), typed with
/// the YAML 1.2 core schema like flows themselves. A value that is not a string is returned
/// as it is.
pub(super) fn yaml(value: Value) -> Result<Value, Error> {
    let Some(text) = value.as_str() else {
        return Ok(value);
    };
    parse_yaml(text)
        .map(|j| json::to_value(Arc::new(j)))
        .map_err(|e| err(format!("yaml: {e}")))
}

pub(crate) fn parse_yaml(text: &str) -> Result<Json, String> {
    // (container, pending key of a map)
    let mut stack: Vec<(Json, Option<String>, usize)> = Vec::new();
    let mut anchors: HashMap<usize, Json> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut parser = Parser::new_from_str(text);
    let mut root: Option<Json> = None;
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let m = e.marker();
                return Err(format!(
                    "invalid YAML at line {}, column {}: {}",
                    m.line(),
                    m.col() + 1,
                    e.info()
                ));
            }
        };
        let _ = span;
        let done: Option<(Json, usize)> = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                if root.is_some() {
                    break;
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or("an alias names an unknown anchor")?;
                alias_nodes = alias_nodes.saturating_add(count(&node));
                if alias_nodes > MAX_YAML_ALIAS_NODES {
                    return Err(format!(
                        "aliases expand to more than {MAX_YAML_ALIAS_NODES} nodes"
                    ));
                }
                Some((node, 0))
            }
            Event::Scalar(text, style, anchor, tag) => {
                let is_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !is_str {
                    plain_scalar(&text)
                } else {
                    Json::String(text.into_owned())
                };
                Some((value, anchor))
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_YAML_DEPTH => {
                return Err(format!(
                    "collections are nested more than {MAX_YAML_DEPTH} levels deep"
                ));
            }
            Event::SequenceStart(anchor, _) => {
                stack.push((Json::Array(Vec::new()), None, anchor));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push((Json::Object(serde_json::Map::new()), None, anchor));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(|(n, _, a)| (n, a)),
        };
        let Some((node, anchor)) = done else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some((Json::Array(items), _, _)) => items.push(node),
            Some((Json::Object(map), pending, _)) => match pending.take() {
                None => {
                    *pending = Some(match node {
                        Json::String(s) => s,
                        other => other.to_string(),
                    });
                }
                Some(key) => {
                    map.insert(key, node);
                }
            },
            Some(_) => unreachable!("only lists and maps are pushed"),
        }
    }
    Ok(root.unwrap_or(Json::Null))
}

fn count(v: &Json) -> usize {
    match v {
        Json::Array(a) => 1 + a.iter().map(count).sum::<usize>(),
        Json::Object(m) => 1 + m.values().map(count).sum::<usize>(),
        _ => 1,
    }
}

/// A plain scalar typed with the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Json {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Json::Null,
        "true" | "True" | "TRUE" => return Json::Bool(true),
        "false" | "False" | "FALSE" => return Json::Bool(false),
        _ => {}
    }
    let t = text.strip_prefix('+').unwrap_or(text);
    if t.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        if let Ok(i) = t.parse::<i64>() {
            return Json::from(i);
        }
        if t.bytes()
            .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b))
            && let Ok(f) = t.parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            return Json::Number(n);
        }
    }
    Json::String(text.to_string())
}

/// `jq(expression)`: every result of the jq expression over the value, as a list (Kestra
/// always returns a list; `| first` takes the one result). A string holding a JSON object or
/// list is queried as that JSON.
pub(super) fn jq(value: Value, expression: String) -> Result<Value, Error> {
    let mut input = json::from_value(&value);
    if let Json::String(s) = &input
        && let Ok(parsed @ (Json::Object(_) | Json::Array(_))) = serde_json::from_str::<Json>(s)
    {
        input = parsed;
    }
    run_jq(&expression, &input)
        .map(|out| json::to_value(Arc::new(Json::Array(out))))
        .map_err(|e| err(format!("jq(`{expression}`): {e}")))
}

pub(crate) fn run_jq(expression: &str, input: &Json) -> Result<Vec<Json>, String> {
    use jaq_core::load::{Arena, File, Loader};
    use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};

    let program = File {
        code: expression,
        path: (),
    };
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, program)
        .map_err(|errs| format!("the expression does not parse ({} error(s))", errs.len()))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, _)| format!("`{name}`")))
                .collect();
            format!(
                "the expression names what jq does not know: {}",
                names.join(", ")
            )
        })?;
    let text = input.to_string();
    let input = jaq_json::read::parse_single(text.as_bytes()).map_err(|e| e.to_string())?;
    let ctx = Ctx::<data::JustLut<jaq_json::Val>>::new(&filter.lut, Vars::new([]));
    let mut out = Vec::new();
    for item in filter.id.run((ctx, input)).map(unwrap_valr) {
        let item = item.map_err(|e| e.to_string())?;
        let text = item.to_string();
        out.push(serde_json::from_str(&text).unwrap_or(Json::String(text)));
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The text a hash filter digests: a string as it is, anything else as its JSON.
fn hash_input(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None => json::from_value(value).to_string(),
    }
}

pub(super) fn sha256(value: Value) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(hash_input(&value).as_bytes()))
}

pub(super) fn sha1(value: Value) -> String {
    use sha1::Digest;
    hex(&sha1::Sha1::digest(hash_input(&value).as_bytes()))
}

pub(super) fn md5(value: Value) -> String {
    use md5::Digest;
    hex(&md5::Md5::digest(hash_input(&value).as_bytes()))
}

/// `toIon`: the value as Amazon Ion text, as Kestra writes it: maps as `{key:value}` (keys
/// that are not identifiers in single quotes), strings in double quotes, integers as they
/// are, other numbers as Ion floats (`1.5e0`).
pub(super) fn to_ion(value: Value) -> String {
    let mut out = String::new();
    write_ion(&mut out, &json::from_value(&value));
    out
}

pub(crate) fn write_ion(out: &mut String, v: &Json) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
        Json::Number(n) => {
            let f = n.as_f64().unwrap_or(0.0);
            let s = format!("{f:e}");
            out.push_str(&s);
            if !s.contains('e') {
                out.push_str("e0");
            }
        }
        Json::String(s) => ion_string(out, s, '"'),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_ion(out, item);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let ident = k
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                    && !matches!(k.as_str(), "null" | "true" | "false" | "nan");
                if ident {
                    out.push_str(k);
                } else {
                    ion_string(out, k, '\'');
                }
                out.push(':');
                write_ion(out, item);
            }
            out.push('}');
        }
    }
}

fn ion_string(out: &mut String, s: &str, quote: char) {
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
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}
