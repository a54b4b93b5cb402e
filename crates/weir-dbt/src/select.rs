//! Node selection: dbt's `--select` / `--exclude` syntax and its evaluation over a graph.
//!
//! Follows dbt-core's `graph/selector_spec.py`, `selector_methods.py` and `selector.py`:
//! arguments are split on spaces (union) and commas (intersection) into criteria; a criterion
//! is a method (`tag:`, `path:`, …, `fqn:` by default) and graph operators (`+x`, `x+`, `2+x`,
//! `x+3`, `@x`); tests next to selected nodes come along by indirect selection; `--exclude`
//! is evaluated the same way (always with eager indirect selection) and subtracted.
//!
//! Pure: the caller gives the nodes (`SelectNode`) and, for `state:`, the previous manifest's
//! checksums (`State`). Wildcards are `fnmatch`'s, through `glob::Pattern`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use glob::{MatchOptions, Pattern};
use serde_json::{Map, Value};

pub mod selectors;
#[cfg(test)]
mod tests;

/// The kinds of node selection knows about (dbt's `NodeType`, the part weir builds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Model,
    Seed,
    Snapshot,
    Test,
    Source,
    Analysis,
    Exposure,
}

impl ResourceType {
    pub const ALL: [ResourceType; 7] = [
        ResourceType::Model,
        ResourceType::Seed,
        ResourceType::Snapshot,
        ResourceType::Test,
        ResourceType::Source,
        ResourceType::Analysis,
        ResourceType::Exposure,
    ];

    /// The name dbt uses in unique ids and in `resource_type:`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::Analysis => "analysis",
            ResourceType::Exposure => "exposure",
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// dbt's node types that weir has no nodes of: `resource_type:metric` is valid and selects
/// nothing, `resource_type:bogus` is an error.
const OTHER_DBT_RESOURCE_TYPES: &[&str] = &[
    "operation",
    "rpc",
    "sql_operation",
    "doc",
    "macro",
    "metric",
    "group",
    "saved_query",
    "semantic_model",
    "unit_test",
    "fixture",
    "function",
];

/// One node as selection sees it: the fields of a manifest node that selectors read.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectNode {
    /// `model.taxi.stg_green`, `source.taxi.staging.green_tripdata`, `test.taxi.not_null_….f3a1`.
    pub unique_id: String,
    /// For a source, the table's name.
    pub name: String,
    pub resource_type: ResourceType,
    pub package_name: String,
    /// Relative to the package's root: `models/staging/stg_green.sql`; for a generic test or a
    /// source, the `.yml` file that defines it.
    pub original_file_path: String,
    /// `["taxi", "staging", "stg_green"]`; for a source `[package, folders…, source, table]`.
    pub fqn: Vec<String>,
    pub tags: Vec<String>,
    /// The node's resolved config (`materialized`, `severity`, `meta`, …).
    pub config: Map<String, Value>,
    /// Unique ids of the nodes this one depends on (refs and sources; a test's models).
    pub depends_on: Vec<String>,
    /// The checksum `state:` compares with the previous manifest's.
    pub checksum: String,
    /// For a generic test, its test's name (`not_null`, `relationships`, `expression_is_true`:
    /// the manifest's `test_metadata.name`); `None` for a singular test and for other nodes.
    pub test_metadata_name: Option<String>,
}

/// The nodes and their edges, built once and queried by `select`.
#[derive(Debug, Clone, Default)]
pub struct SelectGraph {
    /// Sorted by unique id, so index order is id order.
    nodes: Vec<SelectNode>,
    index: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    /// Every folder holding a node's file: a bare selector naming one is a `path:` (dbt's
    /// `os.path.exists` check, without the disk).
    dirs: HashSet<String>,
    root_project: Option<String>,
}

impl SelectGraph {
    /// Builds the graph. A `depends_on` id with no node (a disabled model, a macro) is no edge;
    /// of two nodes with one unique id the first is kept.
    pub fn new(nodes: impl IntoIterator<Item = SelectNode>) -> Self {
        let mut by_id = BTreeMap::new();
        for node in nodes {
            by_id.entry(node.unique_id.clone()).or_insert(node);
        }
        let nodes: Vec<SelectNode> = by_id.into_values().collect();
        let index: HashMap<String, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.unique_id.clone(), i))
            .collect();
        let mut parents = vec![Vec::new(); nodes.len()];
        let mut children = vec![Vec::new(); nodes.len()];
        for (i, node) in nodes.iter().enumerate() {
            for dep in &node.depends_on {
                if let Some(&p) = index.get(dep)
                    && !parents[i].contains(&p)
                {
                    parents[i].push(p);
                    children[p].push(i);
                }
            }
        }
        let mut dirs = HashSet::new();
        for node in &nodes {
            let mut path = node.original_file_path.as_str();
            while let Some((dir, _)) = path.rsplit_once('/') {
                dirs.insert(dir.to_owned());
                path = dir;
            }
        }
        SelectGraph {
            nodes,
            index,
            parents,
            children,
            dirs,
            root_project: None,
        }
    }

    /// The root project's name, for `package:this`.
    pub fn with_root_project(mut self, name: impl Into<String>) -> Self {
        self.root_project = Some(name.into());
        self
    }

    pub fn node(&self, unique_id: &str) -> Option<&SelectNode> {
        self.index.get(unique_id).map(|&i| &self.nodes[i])
    }

    /// All nodes, by unique id.
    pub fn nodes(&self) -> impl Iterator<Item = &SelectNode> {
        self.nodes.iter()
    }

    /// Unique ids of the nodes `unique_id` depends on that are in the graph.
    pub fn parents(&self, unique_id: &str) -> Vec<&str> {
        self.edges(unique_id, &self.parents)
    }

    /// Unique ids of the nodes in the graph that depend on `unique_id`.
    pub fn children(&self, unique_id: &str) -> Vec<&str> {
        self.edges(unique_id, &self.children)
    }

    fn edges(&self, unique_id: &str, edges: &[Vec<usize>]) -> Vec<&str> {
        match self.index.get(unique_id) {
            Some(&i) => edges[i]
                .iter()
                .map(|&j| self.nodes[j].unique_id.as_str())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Nodes reached from `from` in at most `depth` steps (any number with `None`), `from`
    /// itself only where one of them reaches another.
    fn walk(&self, from: &Ids, depth: Option<u32>, edges: &[Vec<usize>]) -> Ids {
        let mut seen = Ids::new();
        let mut frontier: Vec<usize> = from.iter().copied().collect();
        let mut level = 0;
        while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
            level += 1;
            let mut next = Vec::new();
            for &n in &frontier {
                for &m in &edges[n] {
                    if seen.insert(m) {
                        next.push(m);
                    }
                }
            }
            frontier = next;
        }
        seen
    }

    fn ancestors(&self, from: &Ids, depth: Option<u32>) -> Ids {
        self.walk(from, depth, &self.parents)
    }

    fn descendants(&self, from: &Ids, depth: Option<u32>) -> Ids {
        self.walk(from, depth, &self.children)
    }

    fn all(&self) -> Ids {
        (0..self.nodes.len()).collect()
    }
}

type Ids = BTreeSet<usize>;

/// How a set operator combines its components' nodes.
type Combine = fn(Vec<Ids>) -> Ids;

/// The previous manifest, for `state:` (`--state`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    /// Unique id → checksum, for every node of the previous manifest.
    pub checksums: HashMap<String, String>,
    /// Unique id → config in the previous manifest. May be empty: config changes are then not
    /// seen by `state:modified` and `state:modified.configs`.
    pub configs: HashMap<String, Map<String, Value>>,
}

impl State {
    pub fn from_checksums(checksums: HashMap<String, String>) -> Self {
        State {
            checksums,
            configs: HashMap::new(),
        }
    }
}

/// `--indirect-selection`: which tests come along with the nodes they test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndirectSelection {
    /// A test is selected when any of its parents is (dbt's default).
    #[default]
    Eager,
    /// A test is selected when all its parents are.
    Cautious,
    /// A test is selected when all its parents are selected or are ancestors of the selection.
    Buildable,
    /// Only tests selected directly.
    Empty,
}

impl FromStr for IndirectSelection {
    type Err = SelectError;

    fn from_str(s: &str) -> Result<Self, SelectError> {
        match s {
            "eager" => Ok(IndirectSelection::Eager),
            "cautious" => Ok(IndirectSelection::Cautious),
            "buildable" => Ok(IndirectSelection::Buildable),
            "empty" => Ok(IndirectSelection::Empty),
            _ => Err(SelectError::IndirectSelection {
                value: s.to_owned(),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("invalid selector `{selector}`: {reason}")]
    Invalid { selector: String, reason: String },
    #[error(
        "unknown selector method `{method}` in `{selector}`; expected one of `fqn`, `tag`, `path`, `file`, `source`, `resource_type`, `package`, `config.KEY`, `test_name`, `test_type`, `state`, `exposure`, `group`, `access`"
    )]
    UnknownMethod { selector: String, method: String },
    #[error("`{selector}` is not supported by weir yet")]
    Unsupported { selector: String },
    #[error("`{selector}` needs a previous manifest to compare with (`--state`)")]
    NoState { selector: String },
    #[error(
        "invalid `--indirect-selection` value `{value}`; expected one of `eager`, `cautious`, `buildable`, `empty`"
    )]
    IndirectSelection { value: String },
}

fn invalid(selector: &str, reason: impl Into<String>) -> SelectError {
    SelectError::Invalid {
        selector: selector.to_owned(),
        reason: reason.into(),
    }
}

/// How a criterion picks its nodes before graph operators apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `fqn:`, and a bare word that is neither a path nor a file name.
    Fqn,
    Tag,
    Path,
    File,
    Source,
    ResourceType,
    Package,
    /// `config.materialized:` → `["materialized"]`; `config.meta.owner:` → `["meta", "owner"]`.
    Config(Vec<String>),
    TestName,
    TestType,
    State,
    Exposure,
    Group,
    Access,
}

/// How far a graph operator reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Unlimited,
    Max(u32),
}

impl Depth {
    fn limit(self) -> Option<u32> {
        match self {
            Depth::Unlimited => None,
            Depth::Max(n) => Some(n),
        }
    }
}

/// One selector without set operators: `2+tag:nightly+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Criteria {
    /// As written, for messages.
    pub raw: String,
    pub method: Method,
    /// Whether the method was written (`fqn:x`) or guessed from a bare word (`x`).
    pub method_explicit: bool,
    pub value: String,
    /// `+x` / `2+x`.
    pub parents: Option<Depth>,
    /// `x+` / `x+3`.
    pub children: Option<Depth>,
    /// `@x`: `x`, its descendants, and all their ancestors.
    pub childrens_parents: bool,
    /// A YAML selector's own `indirect_selection`, over the evaluation's.
    pub indirect: Option<IndirectSelection>,
}

/// A parsed selection: dbt's `SelectionSpec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Criteria(Criteria),
    Union(Vec<Spec>),
    /// `a,b`; `raw` is the comma-separated word, named when it selects nothing.
    Intersection {
        raw: String,
        parts: Vec<Spec>,
    },
    /// Nodes of the first, minus those of the second.
    Difference(Box<Spec>, Box<Spec>),
}

/// Parses one criterion: `[@][N+][method[.arg…]:]value[+[N]]`.
pub fn parse_criteria(raw: &str) -> Result<Criteria, SelectError> {
    let mut rest = raw;
    let childrens_parents = match rest.strip_prefix('@') {
        Some(r) => {
            rest = r;
            true
        }
        None => false,
    };
    let mut parents = None;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if rest[digits..].starts_with('+') {
        parents = Some(depth(raw, &rest[..digits])?);
        rest = &rest[digits + 1..];
    }
    if childrens_parents && parents.is_some() {
        return Err(invalid(
            raw,
            "the `@` prefix and the `+` prefix cannot be used together",
        ));
    }
    let mut children = None;
    let trailing = rest.bytes().rev().take_while(u8::is_ascii_digit).count();
    let before = &rest[..rest.len() - trailing];
    if let Some(value) = before.strip_suffix('+') {
        children = Some(depth(raw, &rest[rest.len() - trailing..])?);
        rest = value;
    }

    let (method, method_explicit, value) = match rest.split_once(':') {
        Some((name, value))
            if !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '.') =>
        {
            (method(raw, name)?, true, value)
        }
        _ => (default_method(rest), false, rest),
    };
    if value.is_empty() {
        return Err(invalid(raw, "nothing to select: the value is empty"));
    }
    Ok(Criteria {
        raw: raw.to_owned(),
        method,
        method_explicit,
        value: value.to_owned(),
        parents,
        children,
        childrens_parents,
        indirect: None,
    })
}

fn depth(raw: &str, digits: &str) -> Result<Depth, SelectError> {
    if digits.is_empty() {
        return Ok(Depth::Unlimited);
    }
    digits
        .parse()
        .map(Depth::Max)
        .map_err(|_| invalid(raw, format!("depth `{digits}` is too large")))
}

fn method(raw: &str, name: &str) -> Result<Method, SelectError> {
    let mut parts = name.split('.');
    let head = parts.next().unwrap_or_default();
    let args: Vec<String> = parts.map(str::to_owned).collect();
    if head != "config" && !args.is_empty() {
        return Err(invalid(
            raw,
            format!("the method `{head}` takes no arguments (`{name}`)"),
        ));
    }
    Ok(match head {
        "fqn" => Method::Fqn,
        "tag" => Method::Tag,
        "path" => Method::Path,
        "file" => Method::File,
        "source" => Method::Source,
        "resource_type" => Method::ResourceType,
        "package" => Method::Package,
        "config" => {
            if args.is_empty() || args.iter().any(String::is_empty) {
                return Err(invalid(
                    raw,
                    "`config` needs a key, as in `config.materialized:view`",
                ));
            }
            Method::Config(args)
        }
        "test_name" => Method::TestName,
        "test_type" => Method::TestType,
        "state" => Method::State,
        "exposure" => Method::Exposure,
        "group" => Method::Group,
        "access" => Method::Access,
        "result" | "metric" | "semantic_model" | "saved_query" | "unit_test" | "version"
        | "source_status" | "wildcard" => {
            return Err(SelectError::Unsupported {
                selector: raw.to_owned(),
            });
        }
        _ => {
            return Err(SelectError::UnknownMethod {
                selector: raw.to_owned(),
                method: head.to_owned(),
            });
        }
    })
}

/// dbt's guess for a bare word: a path if it has a separator, a file if it ends like one,
/// otherwise an fqn (and, at evaluation, a path after all if it names a folder of the project).
fn default_method(value: &str) -> Method {
    if value.contains('/') || value.contains('\\') {
        Method::Path
    } else if [".sql", ".py", ".csv"]
        .iter()
        .any(|ext| value.to_lowercase().ends_with(ext))
    {
        Method::File
    } else {
        Method::Fqn
    }
}

/// Parses `--select` (or `--exclude`) arguments: each is split on whitespace into a union of
/// comma-separated intersections.
pub fn parse_union(args: &[String]) -> Result<Spec, SelectError> {
    let mut union = Vec::new();
    for word in args.iter().flat_map(|arg| arg.split_whitespace()) {
        let parts = word
            .split(',')
            .map(|part| {
                if part.is_empty() {
                    Err(invalid(word, "an empty part between commas"))
                } else {
                    parse_criteria(part).map(Spec::Criteria)
                }
            })
            .collect::<Result<_, _>>()?;
        union.push(Spec::Intersection {
            raw: word.to_owned(),
            parts,
        });
    }
    Ok(Spec::Union(union))
}

/// Parses a YAML selector's `definition` (`selectors.yml`, as JSON): a CLI-style string, a
/// `method: value` pair, a full `{method, value, parents, children, parents_depth,
/// children_depth, childrens_parents, indirect_selection, exclude}` map, or `union` /
/// `intersection` lists that may hold one `exclude`. `method: selector` refers to another
/// definition in `selectors` (name → definition).
pub fn parse_yaml_definition(
    definition: &Value,
    selectors: &BTreeMap<String, Value>,
) -> Result<Spec, SelectError> {
    YamlParser {
        selectors,
        stack: Vec::new(),
    }
    .definition(definition)
}

struct YamlParser<'a> {
    selectors: &'a BTreeMap<String, Value>,
    /// Selectors being expanded, to refuse a cycle.
    stack: Vec<String>,
}

fn yaml_invalid(definition: &Value, reason: impl Into<String>) -> SelectError {
    invalid(&definition.to_string(), reason)
}

impl YamlParser<'_> {
    fn definition(&mut self, definition: &Value) -> Result<Spec, SelectError> {
        match definition {
            Value::String(s) => parse_union(std::slice::from_ref(s)),
            Value::Object(map) => {
                if let Some(items) = map.get("union") {
                    self.set(definition, items, Spec::Union)
                } else if let Some(items) = map.get("intersection") {
                    self.set(definition, items, |parts| Spec::Intersection {
                        raw: definition.to_string(),
                        parts,
                    })
                } else {
                    self.criteria(definition, map)
                }
            }
            _ => Err(yaml_invalid(
                definition,
                "a selector definition is a string or a mapping",
            )),
        }
    }

    /// `union: [...]` / `intersection: [...]` with at most one `exclude` among the items.
    fn set(
        &mut self,
        definition: &Value,
        items: &Value,
        make: impl FnOnce(Vec<Spec>) -> Spec,
    ) -> Result<Spec, SelectError> {
        let Value::Array(items) = items else {
            return Err(yaml_invalid(
                definition,
                "`union` and `intersection` take a list",
            ));
        };
        let mut parts = Vec::new();
        let mut exclude = None;
        for item in items {
            match item.as_object().and_then(|m| m.get("exclude")) {
                Some(excluded) if exclude.is_some() => {
                    return Err(yaml_invalid(
                        excluded,
                        "only one `exclude` in a `union` or an `intersection`",
                    ));
                }
                Some(excluded) => exclude = Some(self.exclude(excluded)?),
                None => parts.push(self.definition(item)?),
            }
        }
        let spec = make(parts);
        Ok(match exclude {
            Some(exclude) => Spec::Difference(Box::new(spec), Box::new(exclude)),
            None => spec,
        })
    }

    fn exclude(&mut self, excluded: &Value) -> Result<Spec, SelectError> {
        match excluded {
            Value::Array(items) => Ok(Spec::Union(
                items
                    .iter()
                    .map(|item| self.definition(item))
                    .collect::<Result<_, _>>()?,
            )),
            _ => Err(yaml_invalid(excluded, "`exclude` takes a list")),
        }
    }

    fn criteria(
        &mut self,
        definition: &Value,
        map: &Map<String, Value>,
    ) -> Result<Spec, SelectError> {
        // `tag: nightly`: one key that is not a full definition's.
        let (method_name, value) = match (map.get("method"), map.get("value")) {
            (Some(Value::String(m)), Some(v)) => (m.clone(), v),
            (None, None) if map.len() == 1 => {
                let (k, v) = map.iter().next().expect("one entry");
                (k.clone(), v)
            }
            _ => {
                return Err(yaml_invalid(
                    definition,
                    "expected `method` and `value`, a `METHOD: VALUE` pair, `union` or `intersection`",
                ));
            }
        };
        let value = match value {
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => value.to_string(),
            _ => return Err(yaml_invalid(definition, "`value` must be a string")),
        };
        let spec = if method_name == "selector" {
            self.named(definition, &value)?
        } else {
            let raw = format!("{method_name}:{value}");
            let flag = |key: &str| -> Result<bool, SelectError> {
                match map.get(key) {
                    None => Ok(false),
                    Some(Value::Bool(b)) => Ok(*b),
                    Some(_) => Err(yaml_invalid(
                        definition,
                        format!("`{key}` must be true or false"),
                    )),
                }
            };
            let depth_of =
                |flag_key: &str, depth_key: &str| -> Result<Option<Depth>, SelectError> {
                    match map.get(depth_key) {
                        Some(Value::Number(n)) => n
                            .as_u64()
                            .and_then(|n| u32::try_from(n).ok())
                            .map(|n| Some(Depth::Max(n)))
                            .ok_or_else(|| {
                                yaml_invalid(
                                    definition,
                                    format!("`{depth_key}` must be a small whole number"),
                                )
                            }),
                        Some(_) => Err(yaml_invalid(
                            definition,
                            format!("`{depth_key}` must be a number"),
                        )),
                        None => Ok(flag(flag_key)?.then_some(Depth::Unlimited)),
                    }
                };
            let parents = depth_of("parents", "parents_depth")?;
            let childrens_parents = flag("childrens_parents")?;
            if childrens_parents && parents.is_some() {
                return Err(yaml_invalid(
                    definition,
                    "`childrens_parents` and `parents` cannot be used together",
                ));
            }
            let indirect = match map.get("indirect_selection") {
                None => None,
                Some(Value::String(s)) => Some(s.parse()?),
                Some(_) => {
                    return Err(yaml_invalid(
                        definition,
                        "`indirect_selection` must be a string",
                    ));
                }
            };
            Spec::Criteria(Criteria {
                method: method(&raw, &method_name)?,
                method_explicit: true,
                value,
                parents,
                children: depth_of("children", "children_depth")?,
                childrens_parents,
                indirect,
                raw,
            })
        };
        Ok(match map.get("exclude") {
            Some(excluded) => Spec::Difference(Box::new(spec), Box::new(self.exclude(excluded)?)),
            None => spec,
        })
    }

    fn named(&mut self, definition: &Value, name: &str) -> Result<Spec, SelectError> {
        let Some(target) = self.selectors.get(name) else {
            return Err(yaml_invalid(
                definition,
                format!("no selector named `{name}`"),
            ));
        };
        if self.stack.iter().any(|s| s == name) {
            return Err(yaml_invalid(
                definition,
                format!(
                    "selector `{name}` refers to itself through {}",
                    self.stack.join(" → ")
                ),
            ));
        }
        self.stack.push(name.to_owned());
        let spec = self.definition(target);
        self.stack.pop();
        spec
    }
}

/// What to select: the arguments of `--select`, `--exclude`, `--state`, `--indirect-selection`
/// and `--resource-type`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    /// Empty: every node.
    pub select: &'a [String],
    pub exclude: &'a [String],
    pub state: Option<&'a State>,
    pub indirect: IndirectSelection,
    /// Keep only nodes of these types at the end (a command's own types, `--resource-type`);
    /// `None` keeps all.
    pub resource_types: Option<&'a [ResourceType]>,
}

/// The outcome of a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selected {
    /// Unique ids.
    pub nodes: BTreeSet<String>,
    /// Space-separated words of `--select`/`--exclude` that matched nothing (dbt warns
    /// "The selection criterion '…' does not match any enabled nodes").
    pub unmatched: Vec<String>,
}

/// `--select`/`--exclude` with dbt's default eager indirect selection, over all node types.
pub fn select(
    graph: &SelectGraph,
    select: &[String],
    exclude: &[String],
    state: Option<&State>,
) -> Result<BTreeSet<String>, SelectError> {
    let selection = Selection {
        select,
        exclude,
        state,
        ..Selection::default()
    };
    evaluate(graph, &selection).map(|selected| selected.nodes)
}

/// Evaluates a selection: `(select or everything) - exclude`, then the resource type filter.
pub fn evaluate(graph: &SelectGraph, selection: &Selection<'_>) -> Result<Selected, SelectError> {
    let include = parse_union(selection.select)?;
    let exclude = parse_union(selection.exclude)?;
    let mut evaluator = Evaluator {
        graph,
        state: selection.state,
        unmatched: Vec::new(),
    };
    let (included, _) = if selection.select.iter().all(|s| s.trim().is_empty()) {
        (graph.all(), Ids::new())
    } else {
        evaluator.eval(&include, selection.indirect)?
    };
    // dbt excludes with eager indirect selection whatever the flag: excluding a model
    // excludes every test that touches it.
    let (excluded, _) = evaluator.eval(&exclude, IndirectSelection::Eager)?;
    let nodes = included
        .difference(&excluded)
        .map(|&i| &graph.nodes[i])
        .filter(|node| {
            selection
                .resource_types
                .is_none_or(|types| types.contains(&node.resource_type))
        })
        .map(|node| node.unique_id.clone())
        .collect();
    Ok(Selected {
        nodes,
        unmatched: evaluator.unmatched,
    })
}

/// Evaluates a parsed `Spec` (for YAML selectors), returning unique ids.
pub fn evaluate_spec(
    graph: &SelectGraph,
    spec: &Spec,
    state: Option<&State>,
    indirect: IndirectSelection,
) -> Result<Selected, SelectError> {
    let mut evaluator = Evaluator {
        graph,
        state,
        unmatched: Vec::new(),
    };
    let (direct, _) = evaluator.eval(spec, indirect)?;
    Ok(Selected {
        nodes: direct
            .iter()
            .map(|&i| graph.nodes[i].unique_id.clone())
            .collect(),
        unmatched: evaluator.unmatched,
    })
}

struct Evaluator<'a> {
    graph: &'a SelectGraph,
    state: Option<&'a State>,
    unmatched: Vec<String>,
}

impl Evaluator<'_> {
    /// Returns the nodes selected directly and the tests held back by cautious or buildable
    /// indirect selection until their other parents show up (dbt's `select_nodes_recursively`).
    fn eval(&mut self, spec: &Spec, mode: IndirectSelection) -> Result<(Ids, Ids), SelectError> {
        let (components, combine): (Vec<&Spec>, Combine) = match spec {
            Spec::Criteria(criteria) => return self.criteria(criteria, mode),
            Spec::Union(parts) => (parts.iter().collect(), union),
            Spec::Intersection { parts, .. } => (parts.iter().collect(), intersection),
            Spec::Difference(a, b) => (vec![&**a, &**b], difference),
        };
        let mut directs = Vec::new();
        let mut indirects = Vec::new();
        for component in components {
            // The subtracted side of a difference is always eager, as `--exclude` is.
            let mode = match spec {
                Spec::Difference(_, b) if std::ptr::eq(component, &**b) => IndirectSelection::Eager,
                _ => mode,
            };
            let (direct, indirect) = self.eval(component, mode)?;
            indirects.push(direct.union(&indirect).copied().collect());
            directs.push(direct);
        }
        let direct = combine(directs);
        let indirect = combine(indirects);
        let direct = self.incorporate(direct, &indirect, mode);
        if let Spec::Intersection { raw, .. } = spec
            && direct.is_empty()
        {
            self.unmatched.push(raw.clone());
        }
        Ok((direct, indirect))
    }

    fn criteria(
        &mut self,
        criteria: &Criteria,
        mode: IndirectSelection,
    ) -> Result<(Ids, Ids), SelectError> {
        let graph = self.graph;
        let mode = criteria.indirect.unwrap_or(mode);
        let collected = self.collect(criteria)?;
        let mut selected = collected.clone();
        if criteria.childrens_parents {
            let mut with_children = graph.descendants(&collected, None);
            with_children.extend(&collected);
            selected.extend(graph.ancestors(&with_children, None));
            selected.extend(with_children);
        }
        if let Some(depth) = criteria.parents {
            selected.extend(graph.ancestors(&collected, depth.limit()));
        }
        if let Some(depth) = criteria.children {
            selected.extend(graph.descendants(&collected, depth.limit()));
        }
        Ok(self.expand(selected, mode))
    }

    /// Indirect test selection around one criterion's nodes (dbt's `expand_selection`).
    fn expand(&self, selected: Ids, mode: IndirectSelection) -> (Ids, Ids) {
        let graph = self.graph;
        if mode == IndirectSelection::Empty {
            return (selected, Ids::new());
        }
        let mut buildable = Ids::new();
        if mode == IndirectSelection::Buildable {
            buildable = graph.ancestors(&selected, None);
            buildable.extend(&selected);
            buildable.extend(
                (0..graph.nodes.len())
                    .filter(|&i| graph.nodes[i].resource_type == ResourceType::Source),
            );
        }
        let mut direct = selected.clone();
        let mut indirect = Ids::new();
        for &s in &selected {
            for &child in &graph.children[s] {
                if graph.nodes[child].resource_type != ResourceType::Test {
                    continue;
                }
                let take = mode == IndirectSelection::Eager
                    || self.parents_within(child, &selected)
                    || (mode == IndirectSelection::Buildable
                        && self.parents_within(child, &buildable));
                if take {
                    direct.insert(child);
                } else {
                    indirect.insert(child);
                }
            }
        }
        (direct, indirect)
    }

    /// Tests held back by cautious or buildable selection whose parents are now all selected
    /// (dbt's `incorporate_indirect_nodes`).
    fn incorporate(&self, mut direct: Ids, indirect: &Ids, mode: IndirectSelection) -> Ids {
        let within = match mode {
            IndirectSelection::Eager | IndirectSelection::Empty => return direct,
            IndirectSelection::Cautious => direct.clone(),
            IndirectSelection::Buildable => {
                let mut with_parents = self.graph.ancestors(&direct, None);
                with_parents.extend(&direct);
                with_parents
            }
        };
        for &test in indirect {
            if self.parents_within(test, &within) {
                direct.insert(test);
            }
        }
        direct
    }

    /// Whether every `depends_on` of the node is in `set` (a dependency outside the graph
    /// never is, as in dbt).
    fn parents_within(&self, node: usize, set: &Ids) -> bool {
        self.graph.nodes[node]
            .depends_on
            .iter()
            .all(|dep| self.graph.index.get(dep).is_some_and(|i| set.contains(i)))
    }

    /// The nodes a criterion's method picks.
    fn collect(&self, criteria: &Criteria) -> Result<Ids, SelectError> {
        let graph = self.graph;
        let raw = criteria.raw.as_str();
        let value = criteria.value.as_str();
        let matching = |keep: &dyn Fn(&SelectNode) -> bool| -> Ids {
            (0..graph.nodes.len())
                .filter(|&i| keep(&graph.nodes[i]))
                .collect()
        };
        let method = if criteria.method == Method::Fqn
            && !criteria.method_explicit
            && graph.dirs.contains(value.trim_end_matches('/'))
        {
            &Method::Path
        } else {
            &criteria.method
        };
        Ok(match method {
            Method::Fqn => {
                pattern(raw, value)?;
                matching(&|node| {
                    node.resource_type != ResourceType::Source
                        && (fqn_matches(&node.fqn, value)
                            || fqn_matches(node.fqn.get(1..).unwrap_or_default(), value))
                })
            }
            Method::Tag => {
                let pattern = pattern(raw, value)?;
                matching(&|node| node.tags.iter().any(|tag| pattern.matches(tag)))
            }
            Method::Path => {
                let value = value.trim_start_matches("./").trim_end_matches('/');
                let pattern = pattern(raw, value)?;
                matching(&|node| path_matches(&pattern, &node.original_file_path))
            }
            Method::File => {
                let pattern = pattern(raw, value)?;
                matching(&|node| {
                    let name = node
                        .original_file_path
                        .rsplit('/')
                        .next()
                        .unwrap_or_default();
                    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
                    pattern.matches(name) || pattern.matches(stem)
                })
            }
            Method::Source => {
                let parts: Vec<&str> = value.split('.').collect();
                let (package, source, table) = match parts[..] {
                    [source] => ("*", source, "*"),
                    [source, table] => ("*", source, table),
                    [package, source, table] => (package, source, table),
                    _ => {
                        return Err(invalid(
                            raw,
                            "a source is `SOURCE`, `SOURCE.TABLE` or `PACKAGE.SOURCE.TABLE`",
                        ));
                    }
                };
                let (package, source, table) = (
                    pattern(raw, package)?,
                    pattern(raw, source)?,
                    pattern(raw, table)?,
                );
                matching(&|node| {
                    node.resource_type == ResourceType::Source
                        && package.matches(&node.package_name)
                        && source.matches(source_name(node))
                        && table.matches(&node.name)
                })
            }
            Method::ResourceType => match ResourceType::ALL.iter().find(|t| t.as_str() == value) {
                Some(&wanted) => matching(&|node| node.resource_type == wanted),
                None if OTHER_DBT_RESOURCE_TYPES.contains(&value) => Ids::new(),
                None => {
                    return Err(invalid(raw, format!("`{value}` is not a resource type")));
                }
            },
            Method::Package => {
                let value = match (value, &graph.root_project) {
                    ("this", Some(root)) => root.as_str(),
                    _ => value,
                };
                let pattern = pattern(raw, value)?;
                matching(&|node| pattern.matches(&node.package_name))
            }
            Method::Config(keys) => matching(&|node| config_matches(&node.config, keys, value)),
            Method::TestName => {
                let pattern = pattern(raw, value)?;
                matching(&|node| {
                    node.resource_type == ResourceType::Test
                        && node
                            .test_metadata_name
                            .as_deref()
                            .is_some_and(|name| pattern.matches(name))
                })
            }
            Method::TestType => {
                let generic = match value {
                    "generic" | "schema" => Some(true),
                    "singular" => Some(false),
                    "data" => None,
                    // weir has no unit tests yet: valid, and nothing to select.
                    "unit" => return Ok(Ids::new()),
                    _ => {
                        return Err(invalid(
                            raw,
                            "expected `test_type:generic`, `singular`, `unit` or `data`",
                        ));
                    }
                };
                matching(&|node| {
                    node.resource_type == ResourceType::Test
                        && generic.is_none_or(|g| g == node.test_metadata_name.is_some())
                })
            }
            Method::State => {
                let check = state_check(raw, value)?;
                let Some(state) = self.state else {
                    return Err(SelectError::NoState {
                        selector: raw.to_owned(),
                    });
                };
                matching(&|node| check(state, node))
            }
            Method::Exposure => {
                let pattern = pattern(raw, value)?;
                matching(&|node| {
                    node.resource_type == ResourceType::Exposure && pattern.matches(&node.name)
                })
            }
            Method::Group => {
                matching(&|node| node.config.get("group").and_then(Value::as_str) == Some(value))
            }
            Method::Access => {
                matching(&|node| node.config.get("access").and_then(Value::as_str) == Some(value))
            }
        })
    }
}

fn union(sets: Vec<Ids>) -> Ids {
    sets.into_iter().flatten().collect()
}

fn intersection(sets: Vec<Ids>) -> Ids {
    let mut sets = sets.into_iter();
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, set| acc.intersection(&set).copied().collect())
}

fn difference(sets: Vec<Ids>) -> Ids {
    let mut sets = sets.into_iter();
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, set| acc.difference(&set).copied().collect())
}

/// A wildcard pattern, as Python's `fnmatch`: `*`, `?`, `[abc]`, `[!abc]`.
fn pattern(raw: &str, value: &str) -> Result<Pattern, SelectError> {
    Pattern::new(value)
        .map_err(|err| invalid(raw, format!("bad wildcard pattern `{value}`: {}", err.msg)))
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '[', ']'])
}

/// dbt's `is_selected_node`: the last fqn part equals the selector, or the selector's dotted
/// parts are a prefix of the fqn's, a wildcard part matching the rest of the fqn.
fn fqn_matches(fqn: &[String], selector: &str) -> bool {
    if fqn.last().is_some_and(|last| last == selector) {
        return true;
    }
    let flat: Vec<&str> = fqn.iter().flat_map(|part| part.split('.')).collect();
    let parts: Vec<&str> = selector.split('.').collect();
    if flat.len() < parts.len() {
        return false;
    }
    for (i, part) in parts.iter().enumerate() {
        if has_wildcard(part) {
            return Pattern::new(&parts[i..].join("."))
                .is_ok_and(|pattern| pattern.matches(&flat[i..].join(".")));
        }
        if flat[i] != *part {
            return false;
        }
    }
    true
}

/// dbt's path method globs from the project root and selects nodes whose file, or a folder
/// above it, is among the matches; here the pattern is matched against the file and each
/// folder above it. `*` does not cross `/`, as in `pathlib`.
fn path_matches(pattern: &Pattern, file: &str) -> bool {
    let options = MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut path = file;
    loop {
        if pattern.matches_with(path, options) {
            return true;
        }
        match path.rsplit_once('/') {
            Some((dir, _)) => path = dir,
            None => return false,
        }
    }
}

/// A source's `source_name`: its unique id is `source.PACKAGE.SOURCE.TABLE`.
fn source_name(node: &SelectNode) -> &str {
    let prefix_len = "source.".len() + node.package_name.len() + 1;
    node.unique_id
        .get(prefix_len..)
        .and_then(|rest| rest.split('.').next())
        .unwrap_or_default()
}

/// dbt's config method: the value at the dotted keys equals the selector (a list contains it);
/// `true`/`false` match booleans; `severity` is compared without case. Numbers and objects
/// match nothing, as in dbt (the selector is a string).
fn config_matches(config: &Map<String, Value>, keys: &[String], selector: &str) -> bool {
    let Some((first, rest)) = keys.split_first() else {
        return false;
    };
    let mut value = config.get(first);
    for key in rest {
        value = value
            .and_then(Value::as_object)
            .and_then(|map| map.get(key));
    }
    let ignore_case = keys.len() == 1 && keys[0] == "severity";
    let equal = |value: &Value| match value {
        Value::String(s) if ignore_case => s.eq_ignore_ascii_case(selector),
        Value::String(s) => s == selector,
        Value::Bool(b) => selector.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        _ => false,
    };
    match value {
        Some(Value::Array(items)) => items.iter().any(equal),
        Some(value) => equal(value),
        None => false,
    }
}

type StateCheck = fn(&State, &SelectNode) -> bool;

/// `state:` subselectors. Only checksums (and configs, when given) are compared: a changed
/// macro or description is not seen, so those subselectors are refused rather than silently
/// selecting nothing.
fn state_check(raw: &str, value: &str) -> Result<StateCheck, SelectError> {
    fn new(state: &State, node: &SelectNode) -> bool {
        !state.checksums.contains_key(&node.unique_id)
    }
    fn body_changed(state: &State, node: &SelectNode) -> bool {
        state
            .checksums
            .get(&node.unique_id)
            .is_none_or(|old| *old != node.checksum)
    }
    fn config_changed(state: &State, node: &SelectNode, keys: Option<&[&str]>) -> bool {
        if new(state, node) {
            return true;
        }
        let Some(old) = state.configs.get(&node.unique_id) else {
            return false;
        };
        match keys {
            None => *old != node.config,
            Some(keys) => keys.iter().any(|k| old.get(*k) != node.config.get(*k)),
        }
    }
    fn modified(state: &State, node: &SelectNode) -> bool {
        body_changed(state, node) || config_changed(state, node, None)
    }
    Ok(match value {
        "new" => new,
        "old" => |state, node| !new(state, node),
        "modified" => modified,
        "unmodified" => |state, node| !new(state, node) && !modified(state, node),
        "modified.body" => body_changed,
        "modified.configs" => |state, node| config_changed(state, node, None),
        "modified.relation" => {
            |state, node| config_changed(state, node, Some(&["database", "schema", "alias"]))
        }
        "modified.contract" => |state, node| config_changed(state, node, Some(&["contract"])),
        "modified.macros" | "modified.persisted_descriptions" => {
            return Err(SelectError::Unsupported {
                selector: raw.to_owned(),
            });
        }
        _ => {
            return Err(invalid(
                raw,
                "expected `state:new`, `old`, `modified`, `unmodified`, `modified.body`, `modified.configs`, `modified.relation` or `modified.contract`",
            ));
        }
    })
}
