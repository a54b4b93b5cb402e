//! `selectors.yml`: dbt's named YAML selectors, used with `--selector NAME`, and the one marked
//! `default: true` used when neither `--select` nor `--exclude` is given.
//!
//! The file is a map with one key, `selectors:`, a list of `{name, description, default,
//! definition}`. Each definition is parsed when the file is read (as dbt does), so a mistake in
//! any selector is reported with its position even when another one is used.

use super::{SelectError, Spec, parse_yaml_definition};
use serde_json::Value;
use std::collections::BTreeMap;
use weir_core::{Diagnostic, Location};
use weir_flow::yaml::Node as Yaml;

/// One named selector of `selectors.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedSelector {
    pub name: String,
    pub description: Option<String>,
    /// `default: true`: used when no `--select`/`--exclude` is given.
    pub default: bool,
    /// The parsed definition.
    pub spec: Spec,
}

/// The selectors of a project, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selectors {
    pub selectors: Vec<NamedSelector>,
}

fn at(file: &str, node: &Yaml, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        Location {
            file: file.to_string(),
            line: node.pos.line,
            column: node.pos.column,
        },
        message,
    )
}

impl Selectors {
    /// Reads the text of `selectors.yml` (`file` names it in diagnostics).
    pub fn parse(text: &str, file: &str) -> Result<Selectors, Vec<Diagnostic>> {
        let root = weir_flow::yaml::parse(text).map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    Diagnostic::new(
                        Location {
                            file: file.to_string(),
                            line: e.pos.line,
                            column: e.pos.column,
                        },
                        e.message,
                    )
                })
                .collect::<Vec<_>>()
        })?;
        if root.is_null() {
            return Ok(Selectors::default());
        }
        let Some(list) = root.get("selectors") else {
            return Err(vec![
                at(
                    file,
                    &root,
                    "`selectors.yml` should have a `selectors:` list",
                )
                .with_hint("selectors:\n  - name: nightly\n    definition: 'tag:nightly'"),
            ]);
        };
        if list.is_null() {
            return Ok(Selectors::default());
        }
        let Some(items) = list.as_seq() else {
            return Err(vec![at(
                file,
                list,
                format!("`selectors` should be a list, found {}", list.kind_name()),
            )]);
        };

        let mut errors = Vec::new();
        // Definitions by name first: `method: selector` refers to any of them.
        let mut definitions: BTreeMap<String, Value> = BTreeMap::new();
        let mut raw = Vec::new();
        for item in items {
            if item.as_map().is_none() {
                errors.push(at(file, item, "each selector should be a mapping"));
                continue;
            }
            let name = match item.get("name").and_then(Yaml::as_str) {
                Some(n) if !n.trim().is_empty() => n.to_string(),
                _ => {
                    errors.push(at(file, item, "a selector needs a `name`"));
                    continue;
                }
            };
            let Some(definition) = item.get("definition").filter(|d| !d.is_null()) else {
                errors.push(at(
                    file,
                    item,
                    format!("selector `{name}` needs a `definition`"),
                ));
                continue;
            };
            if definitions
                .insert(name.clone(), definition.to_json())
                .is_some()
            {
                errors.push(at(
                    file,
                    item,
                    format!("selector `{name}` is defined more than once"),
                ));
                continue;
            }
            raw.push((name, item, definition));
        }

        let mut selectors = Vec::new();
        for (name, item, definition) in raw {
            let default = match item.get("default").map(Yaml::to_json) {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => b,
                Some(_) => {
                    errors.push(at(
                        file,
                        item.get("default").unwrap_or(item),
                        format!(
                            "`default` of selector `{name}` should be true or false (weir does not render Jinja here)"
                        ),
                    ));
                    false
                }
            };
            let description = item
                .get("description")
                .and_then(Yaml::as_str)
                .map(str::to_string);
            match parse_yaml_definition(&definition.to_json(), &definitions) {
                Ok(spec) => selectors.push(NamedSelector {
                    name,
                    description,
                    default,
                    spec,
                }),
                Err(e) => errors.push(at(file, definition, format!("selector `{name}`: {e}"))),
            }
        }
        let defaults: Vec<&str> = selectors
            .iter()
            .filter(|s| s.default)
            .map(|s| s.name.as_str())
            .collect();
        if defaults.len() > 1 {
            errors.push(at(
                file,
                &root,
                format!(
                    "found more than one selector with `default: true`: {}",
                    defaults.join(", ")
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Selectors { selectors })
        } else {
            Err(errors)
        }
    }

    /// The selector named `name`.
    pub fn get(&self, name: &str) -> Result<&NamedSelector, SelectError> {
        self.selectors
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.selectors.iter().map(|s| s.name.as_str()).collect();
                SelectError::Invalid {
                    selector: name.to_string(),
                    reason: if known.is_empty() {
                        "the project has no selectors (`selectors.yml`)".into()
                    } else {
                        format!(
                            "no selector of that name in `selectors.yml`; it defines {}",
                            known.join(", ")
                        )
                    },
                }
            })
    }

    /// The selector marked `default: true`, if any.
    pub fn default_selector(&self) -> Option<&NamedSelector> {
        self.selectors.iter().find(|s| s.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::select::{IndirectSelection, ResourceType, SelectGraph, SelectNode, evaluate_spec};

    fn node(id: &str, tags: &[&str], depends_on: &[&str]) -> SelectNode {
        let name = id.rsplit('.').next().unwrap_or(id).to_string();
        SelectNode {
            unique_id: id.to_string(),
            name: name.clone(),
            resource_type: ResourceType::Model,
            package_name: "p".into(),
            fqn: vec!["p".into(), name.clone()],
            original_file_path: format!("models/{name}.sql"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            config: serde_json::Map::new(),
            depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
            checksum: String::new(),
            test_metadata_name: None,
        }
    }

    fn graph() -> SelectGraph {
        SelectGraph::new([
            node("model.p.a", &["nightly"], &[]),
            node("model.p.b", &["nightly"], &["model.p.a"]),
            node("model.p.c", &[], &["model.p.b"]),
            node("model.p.d", &["hourly"], &[]),
        ])
        .with_root_project("p")
    }

    fn ids(s: &Selectors, name: &str) -> Vec<String> {
        let spec = &s.get(name).unwrap().spec;
        evaluate_spec(&graph(), spec, None, IndirectSelection::Eager)
            .unwrap()
            .nodes
            .into_iter()
            .collect()
    }

    // dbt's "YAML selectors" page: a union of criteria with one `exclude`, `children` and
    // `parents_depth` keys, `method: selector` reuse, and one `default: true`.
    const FILE: &str = "selectors:
  - name: nightly_but_not_c
    description: nightly models without c
    default: true
    definition:
      union:
        - method: tag
          value: nightly
          children: true
        - exclude:
            - method: fqn
              value: c
  - name: parents_of_c
    definition:
      method: fqn
      value: c
      parents: true
      parents_depth: 1
  - name: both
    definition:
      union:
        - method: selector
          value: parents_of_c
        - 'tag:hourly'
  - name: nightly_and_hourly
    definition:
      intersection:
        - tag: nightly
        - tag: hourly
";

    #[test]
    fn reads_named_selectors_and_the_default() {
        let s = Selectors::parse(FILE, "selectors.yml").unwrap();
        assert_eq!(s.selectors.len(), 4);
        assert_eq!(s.default_selector().unwrap().name, "nightly_but_not_c");
        assert_eq!(
            s.selectors[0].description.as_deref(),
            Some("nightly models without c")
        );
        assert_eq!(ids(&s, "nightly_but_not_c"), ["model.p.a", "model.p.b"]);
        assert_eq!(ids(&s, "parents_of_c"), ["model.p.b", "model.p.c"]);
        assert_eq!(ids(&s, "both"), ["model.p.b", "model.p.c", "model.p.d"]);
        assert!(ids(&s, "nightly_and_hourly").is_empty());
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let s = Selectors::parse(FILE, "selectors.yml").unwrap();
        let e = s.get("nope").unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("parents_of_c"), "{e}");
        assert!(Selectors::default().get("x").is_err());
    }

    #[test]
    fn mistakes_are_located() {
        let two_defaults = "selectors:
  - name: a
    default: true
    definition: 'tag:x'
  - name: b
    default: true
    definition: 'tag:y'
";
        let e = Selectors::parse(two_defaults, "selectors.yml").unwrap_err();
        assert!(e[0].message.contains("a, b"), "{:?}", e);

        let bad = "selectors:
  - name: a
    definition:
      method: colour
      value: red
  - name: b
";
        let e = Selectors::parse(bad, "selectors.yml").unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().any(|d| d.message.contains("needs a `definition`")));
        let method = e.iter().find(|d| d.message.contains("colour")).unwrap();
        assert_eq!(method.location.line, 4);

        let loop_ = "selectors:
  - name: a
    definition: {method: selector, value: a}
";
        assert!(Selectors::parse(loop_, "selectors.yml").is_err());
        assert!(Selectors::parse("other: 1", "selectors.yml").is_err());
        assert_eq!(
            Selectors::parse("", "selectors.yml").unwrap(),
            Selectors::default()
        );
    }
}
