//! The project model: `dbt_project.yml`, `profiles.yml`, and the nodes found in a project.
//!
//! Pure: a project comes in as a `ProjectFiles` (paths relative to the project root, with their
//! text) and every mistake in a user's file comes back as a located `Diagnostic`. The order of
//! work is dbt's: read `dbt_project.yml`, discover files by their paths, apply the configs of
//! `dbt_project.yml` by folder, patch nodes with the properties of `*.yml` files (making generic
//! tests into nodes on the way), and finally resolve `ref`/`source` into a `Graph`.
//!
//! In-file `{{ config(...) }}` calls are not read here: the Jinja stage renders them and hands
//! the result to `Node::apply_config`, which merges with dbt's precedence rules.

mod dbt_project;
mod discover;
mod graph;
mod profiles;
mod properties;
mod refs;
mod testname;
mod yaml;

pub use dbt_project::{ConfigTree, DbtProject, Vars};
pub use graph::Graph;
pub use profiles::{Adapter, DuckDbAttach, DuckDbTarget, EnvLookup, PostgresTarget, Target};
pub use refs::{RefCall, SourceCall};

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use weir_core::{Diagnostic, Location};

/// The text files of a dbt project, keyed by their path relative to the project root with `/`
/// separators. The CLI fills it from disk; tests write it inline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFiles {
    files: BTreeMap<String, String>,
}

impl ProjectFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file. `\` separators and a leading `./` are normalised away.
    pub fn insert(&mut self, path: impl AsRef<str>, text: impl Into<String>) {
        self.files
            .insert(normalize_path(path.as_ref()), text.into());
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(&normalize_path(path)).map(String::as_str)
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// The files below the folder `dir` (a project path such as `models`), in path order, as
    /// (path relative to `dir`, path relative to the root, text). Files in hidden folders or
    /// hidden themselves are left out, as dbt does.
    pub(crate) fn under<'a>(
        &'a self,
        dir: &str,
    ) -> impl Iterator<Item = (&'a str, &'a str, &'a str)> + 'a {
        let dir = normalize_path(dir);
        let prefix = if dir.is_empty() || dir == "." {
            String::new()
        } else {
            format!("{dir}/")
        };
        let len = prefix.len();
        self.files
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
            .filter_map(move |(p, t)| {
                let rel = &p[len..];
                (!rel.split('/').any(|part| part.starts_with('.'))).then_some((
                    rel,
                    p.as_str(),
                    t.as_str(),
                ))
            })
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for ProjectFiles {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut files = ProjectFiles::new();
        for (k, v) in iter {
            files.insert(k, v);
        }
        files
    }
}

fn normalize_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.trim_end_matches('/').to_string()
}

/// Every problem found, each located in its file. The error of this module's fallible steps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Diagnostics {
    /// Whether some diagnostic's message contains `needle` (for tests and callers' checks).
    pub fn mentions(&self, needle: &str) -> bool {
        self.0.iter().any(|d| d.message.contains(needle))
    }
}

pub(crate) fn location(file: &str, line: usize, column: usize) -> Location {
    Location {
        file: file.to_string(),
        line,
        column,
    }
}

/// dbt's resource types, as they appear in unique ids and `resource_type:` selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceType {
    Model,
    Seed,
    Snapshot,
    Test,
    Source,
    Analysis,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Model => "model",
            ResourceType::Seed => "seed",
            ResourceType::Snapshot => "snapshot",
            ResourceType::Test => "test",
            ResourceType::Source => "source",
            ResourceType::Analysis => "analysis",
        }
    }

    /// Whether `ref()` can point at nodes of this type.
    pub fn is_refable(self) -> bool {
        matches!(
            self,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        )
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The language a node is written in. weir runs SQL only; Python models are kept in the graph
/// (so that `ref` to them resolves) and reported in `Project::warnings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Sql,
    Python,
}

/// A node's effective configs (`materialized`, `schema`, `tags`, `enabled`, …) as JSON values,
/// in the order they were first set. Merged with dbt's rules by `Config::merge`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config(pub Map<String, Value>);

impl Config {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn materialized(&self) -> Option<&str> {
        self.str("materialized")
    }

    pub fn schema(&self) -> Option<&str> {
        self.str("schema")
    }

    pub fn database(&self) -> Option<&str> {
        self.str("database")
    }

    pub fn alias(&self) -> Option<&str> {
        self.str("alias")
    }

    /// `enabled`, true unless set to false.
    pub fn enabled(&self) -> bool {
        !matches!(self.0.get("enabled"), Some(Value::Bool(false)))
    }

    /// `tags`, a string or a list of strings in the files, always a list here.
    pub fn tags(&self) -> Vec<String> {
        tag_list(self.0.get("tags"))
    }

    /// `contract: {enforced: true}`.
    pub fn contract_enforced(&self) -> bool {
        self.0
            .get("contract")
            .and_then(|c| c.get("enforced"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// A seed's `column_types`: column name → SQL type.
    pub fn column_types(&self) -> BTreeMap<String, String> {
        self.0
            .get("column_types")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect())
            .unwrap_or_default()
    }

    /// A test's `severity`, upper-cased; `ERROR` when unset.
    pub fn severity(&self) -> String {
        self.str("severity").unwrap_or("error").to_ascii_uppercase()
    }

    /// Merges `other` over `self`, the more specific over the less: most configs are replaced,
    /// `tags` accumulate (without repeats), hooks append, and `meta`/`grants`/`docs` merge key
    /// by key (dbt's "Combining configs").
    pub fn merge(&mut self, other: &Config) {
        for (key, value) in &other.0 {
            match key.as_str() {
                "tags" => {
                    let mut tags = tag_list(self.0.get("tags"));
                    for tag in tag_list(Some(value)) {
                        if !tags.contains(&tag) {
                            tags.push(tag);
                        }
                    }
                    self.0.insert(
                        key.clone(),
                        Value::Array(tags.into_iter().map(Value::String).collect()),
                    );
                }
                "pre-hook" | "post-hook" | "pre_hook" | "post_hook" => {
                    let mut hooks = as_list(self.0.get(key));
                    hooks.extend(as_list(Some(value)));
                    self.0.insert(key.clone(), Value::Array(hooks));
                }
                "meta" | "grants" | "docs" => match (self.0.get_mut(key), value) {
                    (Some(Value::Object(old)), Value::Object(new)) => {
                        for (k, v) in new {
                            old.insert(k.clone(), v.clone());
                        }
                    }
                    _ => {
                        self.0.insert(key.clone(), value.clone());
                    }
                },
                _ => {
                    self.0.insert(key.clone(), value.clone());
                }
            }
        }
    }
}

fn as_list(value: Option<&Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    }
}

fn tag_list(value: Option<&Value>) -> Vec<String> {
    as_list(value).iter().map(scalar_text).collect()
}

/// The text of a scalar JSON value, without quotes for strings.
pub(crate) fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A column as described in a properties file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Column {
    pub name: String,
    pub description: String,
    pub data_type: Option<String>,
    /// `constraints:` as written; read by contracts later.
    pub constraints: Vec<Value>,
    pub meta: Map<String, Value>,
    pub quote: Option<bool>,
    pub tags: Vec<String>,
}

/// A source table's own attributes (`sources:` in a properties file).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub source_name: String,
    /// The table's name in dbt (`source('s', name)`).
    pub table_name: String,
    /// The relation's name in the database (`identifier`, default the table's name).
    pub identifier: String,
    pub database: Option<String>,
    /// The source's `schema`, default the source's name.
    pub schema: String,
    pub loader: Option<String>,
    /// `loaded_at_field`, the table's or else the source's.
    pub loaded_at_field: Option<String>,
    /// `freshness`, the table's or else the source's; `None` when unset or set to null.
    pub freshness: Option<Freshness>,
    pub source_description: String,
}

/// A source's `freshness:` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Freshness {
    pub warn_after: Option<FreshnessThreshold>,
    pub error_after: Option<FreshnessThreshold>,
    pub filter: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FreshnessThreshold {
    pub count: i64,
    /// `minute`, `hour` or `day`.
    pub period: String,
}

/// What a generic test is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestTarget {
    /// A model, seed or snapshot, by name.
    Ref {
        name: String,
    },
    Source {
        source: String,
        table: String,
    },
}

/// A generic test's metadata: the test macro, its arguments, and what it tests.
#[derive(Debug, Clone, PartialEq)]
pub struct TestMetadata {
    /// The test's name without namespace: `unique`, `accepted_values`, `expression_is_true`.
    pub name: String,
    /// The package of a namespaced test (`dbt_utils` in `dbt_utils.expression_is_true`).
    pub namespace: Option<String>,
    /// The macro's keyword arguments as dbt passes them, `model` and `column_name` included.
    pub kwargs: Map<String, Value>,
    pub column_name: Option<String>,
    pub target: TestTarget,
    /// The unique id of the tested node, set by `Graph::build`.
    pub attached_node: Option<String>,
}

/// One node of a project: a model, seed, snapshot, test, source table or analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `model.<package>.<name>`, `seed.…`, `snapshot.…`, `analysis.…`,
    /// `test.<package>.<name>[.<hash>]`, `source.<package>.<source>.<table>`.
    pub unique_id: String,
    pub name: String,
    pub resource_type: ResourceType,
    pub package_name: String,
    /// The file the node comes from, relative to the project root (`models/staging/x.sql`;
    /// the properties file for sources and generic tests).
    pub original_file_path: String,
    /// The path relative to its resource folder (`staging/x.sql`).
    pub path: String,
    /// `[package, folders…, name]`; sources end with `source, table`.
    pub fqn: Vec<String>,
    pub language: Language,
    /// The file's text (SQL, or a seed's CSV); a generic test's call of its test macro.
    pub raw_code: String,
    /// Line in `original_file_path` where the node starts (1 for whole files).
    pub line: usize,
    /// The effective config: `dbt_project.yml` by folder, then properties files, then (later)
    /// the in-file `config()` through `apply_config`.
    pub config: Config,
    /// The config's tags, kept in step with `config` by `apply_config`.
    pub tags: Vec<String>,
    pub description: String,
    pub columns: Vec<Column>,
    pub meta: Map<String, Value>,
    /// The properties file that described this node, if one did.
    pub patch_path: Option<String>,
    /// `ref(…)` calls found by the first-pass scanner (see `refs`).
    pub refs: Vec<RefCall>,
    /// `source(…)` calls found by the first-pass scanner.
    pub sources: Vec<SourceCall>,
    /// Unique ids of the nodes this one depends on, filled by `Graph::build`.
    pub depends_on: Vec<String>,
    pub source: Option<SourceInfo>,
    pub test: Option<TestMetadata>,
}

impl Node {
    /// Merges configs over the node's current ones (more specific wins; tags accumulate).
    /// The Jinja stage calls this with what `{{ config(...) }}` set in the file.
    pub fn apply_config(&mut self, config: &Config) {
        self.config.merge(config);
        self.tags = self.config.tags();
    }

    /// The materialization, with dbt's default per resource type.
    pub fn materialized(&self) -> &str {
        self.config
            .materialized()
            .unwrap_or(match self.resource_type {
                ResourceType::Model => "view",
                ResourceType::Seed => "seed",
                ResourceType::Snapshot => "snapshot",
                ResourceType::Test => "test",
                ResourceType::Analysis => "view",
                ResourceType::Source => "source",
            })
    }

    pub(crate) fn new(resource_type: ResourceType, package: &str, name: &str, file: &str) -> Node {
        Node {
            unique_id: format!("{resource_type}.{package}.{name}"),
            name: name.to_string(),
            resource_type,
            package_name: package.to_string(),
            original_file_path: file.to_string(),
            path: String::new(),
            fqn: Vec::new(),
            language: Language::Sql,
            raw_code: String::new(),
            line: 1,
            config: Config::default(),
            tags: Vec::new(),
            description: String::new(),
            columns: Vec::new(),
            meta: Map::new(),
            patch_path: None,
            refs: Vec::new(),
            sources: Vec::new(),
            depends_on: Vec::new(),
            source: None,
            test: None,
        }
    }
}

/// A parsed project: its `dbt_project.yml`, its enabled nodes and its disabled ones.
#[derive(Debug, Clone)]
pub struct Project {
    pub config: DbtProject,
    /// Enabled nodes by unique id.
    pub nodes: BTreeMap<String, Node>,
    /// Nodes with `enabled: false`, by unique id; a `ref` to one is an error naming it.
    pub disabled: BTreeMap<String, Node>,
    /// Macro files (`*.sql` under macro-paths, and `generic/` under test-paths), read by the
    /// Jinja stage.
    pub macro_files: Vec<String>,
    /// Things that do not stop the load: Python models, properties for missing nodes, …
    pub warnings: Vec<Diagnostic>,
}

impl Project {
    /// Reads a project: `dbt_project.yml`, then every node and properties file. Reports every
    /// problem found, not just the first.
    pub fn load(files: &ProjectFiles) -> Result<Project, Diagnostics> {
        let Some(text) = files.get("dbt_project.yml") else {
            return Err(Diagnostics(vec![
                Diagnostic::new(
                    location("dbt_project.yml", 1, 1),
                    "no `dbt_project.yml` found",
                )
                .with_hint("a dbt project's root folder holds a `dbt_project.yml`"),
            ]));
        };
        let config = DbtProject::parse(text, "dbt_project.yml")?;
        let mut errors = Vec::new();
        let mut project = Project {
            config,
            nodes: BTreeMap::new(),
            disabled: BTreeMap::new(),
            macro_files: Vec::new(),
            warnings: Vec::new(),
        };
        let found = discover::discover(files, &project.config, &mut errors, &mut project.warnings);
        project.macro_files = found.macro_files;
        let mut nodes = found.nodes;
        properties::apply(
            files,
            &project.config,
            &mut nodes,
            &mut errors,
            &mut project.warnings,
        );
        check_unique_names(&nodes, &mut errors);
        for node in nodes {
            let map = if node.config.enabled() {
                &mut project.nodes
            } else {
                &mut project.disabled
            };
            if let Some(old) = map.get(&node.unique_id) {
                errors.push(Diagnostic::new(
                    location(&node.original_file_path, node.line, 1),
                    format!(
                        "two nodes have the unique id `{}`: in `{}` and `{}`",
                        node.unique_id, old.original_file_path, node.original_file_path
                    ),
                ));
                continue;
            }
            map.insert(node.unique_id.clone(), node);
        }
        if errors.is_empty() {
            Ok(project)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// Resolves `ref`/`source` and orders the nodes. See `Graph::build`.
    pub fn graph(&self) -> Result<Graph, Diagnostics> {
        Graph::build(self)
    }

    /// The node with this unique id, enabled or not.
    pub fn node(&self, unique_id: &str) -> Option<&Node> {
        self.nodes
            .get(unique_id)
            .or_else(|| self.disabled.get(unique_id))
    }
}

/// dbt refuses two enabled refable nodes (models, seeds, snapshots) of one package with the
/// same name, naming both files.
fn check_unique_names(nodes: &[Node], errors: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<(&str, &str), &Node> = BTreeMap::new();
    for node in nodes {
        if !node.resource_type.is_refable() || !node.config.enabled() {
            continue;
        }
        if let Some(first) = seen.get(&(node.package_name.as_str(), node.name.as_str())) {
            errors.push(
                Diagnostic::new(
                    location(&node.original_file_path, node.line, 1),
                    format!(
                        "two resources are named `{}`: {} `{}` and {} `{}`",
                        node.name,
                        first.resource_type,
                        first.original_file_path,
                        node.resource_type,
                        node.original_file_path
                    ),
                )
                .with_hint("names are unique within a project; rename one of the files"),
            );
        } else {
            seen.insert((&node.package_name, &node.name), node);
        }
    }
}

#[cfg(test)]
mod tests;
