//! A YAML tree that remembers where every node came from.
//!
//! Flows are parsed into this tree first so that every later check can point at a line and
//! column. Plain scalars are typed with the YAML 1.2 core schema (`yes` stays a string).

use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Where a node starts in its file. 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    /// `|` or `>`: the text starts on the line after the indicator.
    Block,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Yaml {
    Null,
    Scalar { text: String, style: Style },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Yaml,
    pub pos: Pos,
}

/// A YAML syntax error, already located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    pub hint: Option<String>,
}

impl Node {
    /// How many nodes this tree holds, itself included.
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Yaml::Seq(items) => items.iter().map(Node::count).sum(),
            Yaml::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
            _ => 0,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar, whatever its style.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Yaml::Null)
    }

    /// What kind of node this is, in words for messages.
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Yaml::Null => "null",
            Yaml::Seq(_) => "a list",
            Yaml::Map(_) => "a map",
            Yaml::Scalar { .. } => match self.to_json() {
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                _ => "a string",
            },
        }
    }

    /// Converts to JSON, typing plain scalars by the YAML 1.2 core schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            Yaml::Null => Value::Null,
            Yaml::Scalar {
                text,
                style: Style::Plain,
            } => plain_scalar(text),
            Yaml::Scalar { text, .. } => Value::String(text.clone()),
            Yaml::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Yaml::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| k.to_json().to_string()),
                            v.to_json(),
                        )
                    })
                    .collect(),
            ),
        }
    }
}

fn plain_scalar(text: &str) -> serde_json::Value {
    use serde_json::Value;
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let t = text.strip_prefix('+').unwrap_or(text);
    let looks_numeric = t
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'.');
    if looks_numeric {
        if let Ok(i) = t.parse::<i64>() {
            return Value::from(i);
        }
        if t.bytes()
            .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b))
            && let Ok(f) = t.parse::<f64>()
            && let Some(n) = serde_json::Number::from_f64(f)
        {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// How deep collections may nest. Flows nest a few dozen levels at most; the bound keeps every
/// later recursive walk of the tree far from the end of the stack.
pub const MAX_DEPTH: usize = 256;

/// How many nodes aliases may add in all. Aliases are expanded by copying, so without a bound
/// a few lines of nested aliases (the "billion laughs") would fill the memory.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The parser's message, made to name what it found where it can. `pos` is where it stopped.
fn parser_error(info: &str, source: &str, pos: Pos) -> SyntaxError {
    if info.contains("unknown anchor") {
        // The parser stops on the alias itself: `*name`.
        let name: String = source
            .lines()
            .nth(pos.line.saturating_sub(1))
            .unwrap_or_default()
            .chars()
            .skip(pos.column)
            .take_while(|c| !c.is_whitespace() && !",[]{}".contains(*c))
            .collect();
        if !name.is_empty() {
            return SyntaxError {
                pos,
                message: format!("alias `*{name}` names no anchor"),
                hint: Some(format!(
                    "an alias repeats a value marked `&{name}` earlier in the file"
                )),
            };
        }
    }
    SyntaxError {
        pos,
        message: format!("invalid YAML: {info}"),
        hint: (info.contains("quoted scalar")
            && (info.contains("end of stream") || info.contains("indentation")))
        .then(|| "a quote opened here is not closed on its line".to_string()),
    }
}

/// Parses one YAML document. Anchors and aliases are resolved; duplicate keys are reported.
pub fn parse(source: &str) -> Result<Node, Vec<SyntaxError>> {
    let mut parser = Parser::new_from_str(source);
    // (container, pending map key, anchor, keys that came from a `<<` merge and may be overridden)
    let mut stack: Vec<(Node, Option<Node>, usize, Vec<String>)> = Vec::new();
    // Each anchored node with its size in nodes, so an alias's cost is known before copying.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut errors = Vec::new();

    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                let m = e.marker();
                let pos = Pos {
                    line: m.line(),
                    column: m.col() + 1,
                };
                errors.push(parser_error(e.info(), source, pos));
                return Err(errors);
            }
        };
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentEnd => {
                if root.is_some() {
                    // Only the first document of a file is a flow.
                    break;
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some((n, size)) => {
                    alias_nodes = alias_nodes.saturating_add(*size);
                    if alias_nodes > MAX_ALIAS_NODES {
                        errors.push(SyntaxError {
                            pos,
                            message: format!(
                                "aliases expand to more than {MAX_ALIAS_NODES} nodes; \
                                 a flow this large is refused"
                            ),
                            hint: None,
                        });
                        return Err(errors);
                    }
                    Some((
                        Node {
                            value: n.value.clone(),
                            pos,
                        },
                        0,
                    ))
                }
                None => {
                    errors.push(SyntaxError {
                        pos,
                        message: "alias names an unknown anchor".into(),
                        hint: None,
                    });
                    Some((
                        Node {
                            value: Yaml::Null,
                            pos,
                        },
                        0,
                    ))
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                    _ => Style::Quoted,
                };
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == Style::Plain
                    && !is_str_tag
                    && matches!(&*text, "" | "~" | "null" | "Null" | "NULL")
                {
                    Yaml::Null
                } else {
                    Yaml::Scalar {
                        text: text.into_owned(),
                        style: if is_str_tag { Style::Quoted } else { style },
                    }
                };
                Some((Node { value, pos }, anchor))
            }
            Event::SequenceStart(..) | Event::MappingStart(..) if stack.len() >= MAX_DEPTH => {
                errors.push(SyntaxError {
                    pos,
                    message: format!("collections are nested more than {MAX_DEPTH} levels deep"),
                    hint: None,
                });
                return Err(errors);
            }
            Event::SequenceStart(anchor, _) => {
                stack.push((
                    Node {
                        value: Yaml::Seq(Vec::new()),
                        pos,
                    },
                    None,
                    anchor,
                    Vec::new(),
                ));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push((
                    Node {
                        value: Yaml::Map(Vec::new()),
                        pos,
                    },
                    None,
                    anchor,
                    Vec::new(),
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => stack.pop().map(|(n, _, a, _)| (n, a)),
        };
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            anchors.insert(anchor, (node.clone(), node.count()));
        }
        match stack.last_mut() {
            None => {
                if root.is_none() {
                    root = Some(node);
                }
            }
            Some((parent, pending, _, merged_keys)) => match &mut parent.value {
                Yaml::Seq(items) => items.push(node),
                Yaml::Map(entries) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => {
                        let name = key.as_str().map(str::to_string);
                        if key.as_str() == Some("<<")
                            && matches!(
                                key.value,
                                Yaml::Scalar {
                                    style: Style::Plain,
                                    ..
                                }
                            )
                        {
                            // `<<: *anchor` merges the anchored map's keys that are not set here.
                            if let Yaml::Map(merged) = node.value {
                                for (k, v) in merged {
                                    if !entries.iter().any(|(e, _)| e.as_str() == k.as_str()) {
                                        merged_keys.extend(k.as_str().map(str::to_string));
                                        entries.push((k, v));
                                    }
                                }
                            }
                        } else if let Some(i) = name
                            .as_ref()
                            .and_then(|k| entries.iter().position(|(e, _)| e.as_str() == Some(k)))
                        {
                            let k = name.unwrap_or_default();
                            if let Some(m) = merged_keys.iter().position(|m| *m == k) {
                                merged_keys.remove(m);
                                entries[i] = (key, node);
                            } else {
                                errors.push(SyntaxError {
                                    pos: key.pos,
                                    message: format!("duplicate key `{k}`"),
                                    hint: None,
                                });
                            }
                        } else {
                            entries.push((key, node));
                        }
                    }
                },
                _ => unreachable!("only sequences and maps are pushed on the stack"),
            },
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(root.unwrap_or(Node {
        value: Yaml::Null,
        pos: Pos { line: 1, column: 1 },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_positions_and_core_types() {
        let n = parse("id: a\nlist:\n  - yes\n  - 3\n  - 1.5\n  - ~\n  - 'true'\n").unwrap();
        assert_eq!(n.get("list").unwrap().pos.line, 3);
        assert_eq!(n.get("id").unwrap().pos, Pos { line: 1, column: 5 });
        assert_eq!(
            n.to_json(),
            json!({"id": "a", "list": ["yes", 3, 1.5, null, "true"]})
        );
    }

    #[test]
    fn reports_duplicate_keys_and_syntax_errors() {
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(e[0].message, "duplicate key `a`");
        assert_eq!(e[0].pos.line, 2);
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e[0].message.starts_with("invalid YAML"), "{:?}", e);
    }

    #[test]
    fn resolves_anchors_and_merge_keys() {
        let n = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n");
        let n = n.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(n.get("other").unwrap().to_json(), json!({"y": 3, "x": 1}));
    }
}
