//! The compile stage: dbt's Jinja on minijinja. A `Compiler` holds one minijinja environment
//! with every macro of the project (and weir's own versions of dbt's global macros) and
//! renders a node's SQL with dbt's context: `ref`, `source`, `config`, `var`, `env_var`,
//! `target`, `this`, `is_incremental()`, `adapter.dispatch`, `run_query`, `statement`, …
//!
//! Pure: the database is reached only through the `Adapter` trait (the executor implements it
//! on weir-warehouse; `OfflineAdapter` answers for `compile` without a connection).
//!
//! dbt's macros are global names, while a minijinja macro belongs to the render that defined
//! it. So a macro name resolves to a `MacroRef` proxy, and calling it renders the macro's file
//! in a fresh state with the same dbt context and calls the macro there. That call boundary is
//! also where dbt's `return(x)` lands: `return` stores its value and aborts the render with an
//! error, and the proxy hands back the stored value instead.

mod context;
mod datetime;
mod mutable;
mod objects;

#[cfg(test)]
mod tests;

use crate::project::{Config, Node, Project, ProjectFiles, ResourceType, Target};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use weir_core::{Diagnostic, Location};

/// A serializable value as a template value.
pub(crate) fn ser<T: serde::Serialize>(value: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

/// weir's own versions of dbt's global macros (`dbt.datediff`, `dbt.type_string`, …).
const GLOBAL_MACROS: &str = include_str!("jinja/global.sql");
const GLOBAL_FILE: &str = "<dbt>/global.sql";
/// The package name under which the global macros are found (`dbt.datediff`).
const GLOBAL_PACKAGE: &str = "dbt";

/// What the compile stage asks of a database.
pub trait Adapter: Send + Sync {
    /// `duckdb`, `postgres` or `redshift`: picks `<kind>__macro` in `adapter.dispatch`.
    fn kind(&self) -> &str;
    /// An identifier quoted for this database.
    fn quote(&self, identifier: &str) -> String {
        format!("\"{}\"", identifier.replace('"', "\"\""))
    }
    fn run_query(&self, sql: &str) -> Result<Table, String>;
    fn get_columns(&self, relation: &Relation) -> Result<Vec<Column>, String>;
    fn relation_exists(&self, relation: &Relation) -> Result<bool, String>;
    /// `table` or `view` when the relation exists (for `adapter.drop_relation` and
    /// `rename_relation`); `None` when it does not or the adapter cannot tell.
    fn relation_type(&self, relation: &Relation) -> Result<Option<String>, String> {
        let _ = relation;
        Ok(None)
    }
}

/// A query's result, as `run_query` and `load_result(…)['table']` return it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

/// A column of a relation in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub data_type: String,
}

/// A relation's three-part name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub database: Option<String>,
    pub schema: String,
    pub identifier: String,
}

impl Relation {
    /// `"db"."schema"."identifier"`, each part quoted by the adapter.
    pub fn render(&self, adapter: &dyn Adapter) -> String {
        let mut parts = Vec::with_capacity(3);
        if let Some(db) = self.database.as_deref().filter(|d| !d.is_empty()) {
            parts.push(adapter.quote(db));
        }
        if !self.schema.is_empty() {
            parts.push(adapter.quote(&self.schema));
        }
        parts.push(adapter.quote(&self.identifier));
        parts.join(".")
    }
}

/// The adapter of `weir dbt compile` without a connection: quoting works, queries fail with a
/// message saying why.
#[derive(Debug, Clone)]
pub struct OfflineAdapter {
    pub kind: String,
}

impl OfflineAdapter {
    pub fn new(kind: impl Into<String>) -> Self {
        OfflineAdapter { kind: kind.into() }
    }
}

const OFFLINE: &str = "there is no database connection while compiling offline";

impl Adapter for OfflineAdapter {
    fn kind(&self) -> &str {
        &self.kind
    }
    fn run_query(&self, sql: &str) -> Result<Table, String> {
        Err(format!("cannot run `{}`: {OFFLINE}", sql.trim()))
    }
    fn get_columns(&self, relation: &Relation) -> Result<Vec<Column>, String> {
        Err(format!(
            "cannot read the columns of `{}`: {OFFLINE}",
            relation.render(self)
        ))
    }
    fn relation_exists(&self, relation: &Relation) -> Result<bool, String> {
        Err(format!(
            "cannot look up `{}`: {OFFLINE}",
            relation.render(self)
        ))
    }
}

/// What `target` shows to Jinja.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    pub name: String,
    pub schema: String,
    pub database: String,
    /// `duckdb`, `postgres`, `redshift`.
    pub kind: String,
    pub threads: u32,
}

impl TargetInfo {
    pub fn from_target(target: &Target) -> TargetInfo {
        TargetInfo {
            name: target.name.clone(),
            schema: target.adapter.schema().to_string(),
            database: target.adapter.database().to_string(),
            kind: target.adapter.type_name().to_string(),
            threads: target.threads,
        }
    }
}

/// Looks up an environment variable for `env_var()`.
pub type EnvFn = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Everything a `Compiler` needs besides the project.
#[derive(Clone)]
pub struct Settings {
    pub target: TargetInfo,
    /// `--vars`, over the project's `vars:`.
    pub vars: Map<String, Json>,
    pub env: EnvFn,
}

/// One node's compiled SQL and what rendering it found out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Compiled {
    /// The SQL with ephemeral models injected as CTEs.
    pub sql: String,
    /// What `{{ config(...) }}` set in the file (not merged with the node's other configs:
    /// pass it to `Node::apply_config`).
    pub config: Config,
    /// Unique ids of the nodes and sources the render called `ref`/`source` on, sorted.
    pub depends_on: Vec<String>,
    /// The ephemeral models injected as CTEs (directly or through another ephemeral model),
    /// in injection order, by unique id.
    pub ephemerals: Vec<String>,
    /// `log(...)` and `exceptions.warn(...)` messages, in order.
    pub logs: Vec<String>,
    /// The SQL of `{% call statement('main') %}`, when a materialization set it.
    pub main_statement: Option<String>,
    /// What dbt would print on stdout: `log(msg, info=True)` (`true`: a log line, shown with
    /// the time) and `print(msg)` (`false`: as it is), in order.
    pub stdout: Vec<(bool, String)>,
}

/// A failed compile: the node and the located problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CompileError {
    /// The unique id of the node being compiled.
    pub node: String,
    pub diagnostic: Diagnostic,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (compiling `{}`)", self.diagnostic, self.node)
    }
}

/// Where a macro is defined.
#[derive(Debug, Clone)]
pub(crate) struct MacroDef {
    /// The template (file) that defines it.
    pub file: String,
}

/// The project data shared by every render; cheap to clone through its `Arc`.
#[derive(Clone)]
pub(crate) struct Inner {
    pub project_name: String,
    pub nodes: BTreeMap<String, Node>,
    pub disabled: Vec<(String, String)>,
    /// Macros by package, then by name. The root project's name and `dbt` (the globals) are
    /// among the packages.
    pub macros: BTreeMap<String, BTreeMap<String, MacroDef>>,
    pub target: TargetInfo,
    pub project_vars: crate::project::Vars,
    pub cli_vars: Map<String, Json>,
    pub env: EnvFn,
    /// `dispatch:` of `dbt_project.yml`: a macro namespace's package search order.
    pub dispatch: BTreeMap<String, Vec<String>>,
}

/// A macro file of an installed package.
#[derive(Debug, Clone)]
pub struct MacroFile {
    /// The package's name (from its `dbt_project.yml`).
    pub package: String,
    /// The file's path as diagnostics show it (`dbt_packages/<dir>/macros/x.sql`).
    pub file: String,
    pub text: String,
}

/// Renders the nodes of one project. Built once; `compile` is called per node.
pub struct Compiler {
    env: Environment<'static>,
    inner: Arc<Inner>,
}

impl fmt::Debug for Compiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiler")
            .field("project", &self.inner.project_name)
            .finish_non_exhaustive()
    }
}

impl Compiler {
    /// Loads every macro file of the project into one namespace. A macro file that does not
    /// parse, or two macros of one name, are located errors.
    pub fn new(
        project: &Project,
        files: &ProjectFiles,
        settings: Settings,
    ) -> Result<Compiler, crate::project::Diagnostics> {
        Compiler::with_packages(project, files, &[], settings)
    }

    /// Like `new`, with the macro files of the installed packages, each in its package's
    /// namespace (`dbt_utils.star`).
    pub fn with_packages(
        project: &Project,
        files: &ProjectFiles,
        packages: &[MacroFile],
        settings: Settings,
    ) -> Result<Compiler, crate::project::Diagnostics> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Lenient);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_recursion_limit(1000);
        env.set_unknown_method_callback(objects::python_methods);
        env.add_function(mutable::LIST_FN, mutable::make_list);
        env.add_function(mutable::DICT_FN, mutable::make_dict);
        let mut errors = Vec::new();
        let mut macros: BTreeMap<String, BTreeMap<String, MacroDef>> = BTreeMap::new();
        let mut sources = vec![(
            GLOBAL_FILE.to_string(),
            GLOBAL_PACKAGE.to_string(),
            GLOBAL_MACROS.to_string(),
        )];
        for file in &project.macro_files {
            if let Some(text) = files.get(file) {
                sources.push((file.clone(), project.config.name.clone(), text.to_string()));
            }
        }
        for m in packages {
            sources.push((m.file.clone(), m.package.clone(), m.text.clone()));
        }
        for (file, package, text) in sources {
            let (text, names) = rewrite_blocks(&mutable::rewrite_literals(&text));
            for (name, line) in names {
                let defs = macros.entry(package.clone()).or_default();
                if let Some(old) = defs.get(&name) {
                    errors.push(Diagnostic::new(
                        Location {
                            file: file.clone(),
                            line,
                            column: 1,
                        },
                        format!(
                            "the macro `{name}` is defined twice: in `{}` and `{file}`",
                            old.file
                        ),
                    ));
                    continue;
                }
                defs.insert(name, MacroDef { file: file.clone() });
            }
            if let Err(e) = env.add_template_owned(file.clone(), text) {
                errors.push(diagnostic_of(&e, &file, 0));
            }
        }
        if !errors.is_empty() {
            return Err(crate::project::Diagnostics(errors));
        }
        let inner = Inner {
            project_name: project.config.name.clone(),
            nodes: project.nodes.clone(),
            disabled: project
                .disabled
                .values()
                .map(|n| (n.package_name.clone(), n.name.clone()))
                .collect(),
            macros,
            target: settings.target,
            project_vars: project.config.vars.clone(),
            cli_vars: settings.vars,
            env: settings.env,
            dispatch: files
                .get("dbt_project.yml")
                .map(dispatch_config)
                .unwrap_or_default(),
        };
        Ok(Compiler {
            env,
            inner: Arc::new(inner),
        })
    }

    /// Records a node's in-file config (from an earlier `compile`) so that `ref`s to it see
    /// its `schema`, `alias` and `materialized`. Compile in graph order and call this after
    /// each node.
    pub fn apply_config(&mut self, node_id: &str, config: &Config) {
        if let Some(node) = Arc::make_mut(&mut self.inner).nodes.get_mut(node_id) {
            node.apply_config(config);
        }
    }

    /// A node as the compiler sees it: its configs merged with what `apply_config` recorded.
    pub fn node(&self, node_id: &str) -> Option<&Node> {
        self.inner.nodes.get(node_id)
    }

    /// The relation a node is built as (or a source read from), with the configs recorded so
    /// far (custom `schema`, `alias`, `database`).
    pub fn relation(&self, node_id: &str) -> Option<Relation> {
        self.inner
            .nodes
            .get(node_id)
            .map(|n| relation_of(&self.inner, n))
    }

    /// The macro of a materialization the project or a package defines
    /// (`{% materialization name, adapter='duckdb' %}` or `default`): the adapter's own first,
    /// the root project before packages. weir's built-in materializations are not macros, so
    /// `None` means "use the built-in one" (or that there is none).
    pub fn materialization(&self, name: &str, adapter: &str) -> Option<String> {
        let inner = &self.inner;
        let mut packages: Vec<&str> = vec![inner.project_name.as_str()];
        packages.extend(
            inner
                .macros
                .keys()
                .map(String::as_str)
                .filter(|p| *p != inner.project_name && *p != GLOBAL_PACKAGE),
        );
        let mut kinds = vec![adapter];
        if adapter == "redshift" {
            kinds.push("postgres");
        }
        kinds.push("default");
        for kind in kinds {
            let macro_name = format!("materialization_{name}_{kind}");
            if packages.iter().any(|p| {
                inner
                    .macros
                    .get(*p)
                    .is_some_and(|m| m.contains_key(&macro_name))
            }) {
                return Some(macro_name);
            }
        }
        None
    }

    /// Runs a project-defined materialization for a node whose SQL is compiled: the macro sees
    /// `sql`/`compiled_code`, `this`, `config`, `pre_hooks`/`post_hooks`, and runs its
    /// statements through the adapter (`{% call statement('main') %}`). Returns what it logged
    /// and the main statement.
    pub fn run_materialization(
        &self,
        node_id: &str,
        macro_name: &str,
        adapter: Arc<dyn Adapter>,
        compiled_sql: &str,
    ) -> Result<Compiled, CompileError> {
        let Some(node) = self.inner.nodes.get(node_id) else {
            return Err(CompileError {
                node: node_id.to_string(),
                diagnostic: Diagnostic::new(
                    Location {
                        file: String::new(),
                        line: 0,
                        column: 0,
                    },
                    format!("no enabled node `{node_id}`; this is a bug in weir, please report it"),
                ),
            });
        };
        let mut shared = context::Shared::new(self.inner.clone(), adapter, node.clone(), false);
        shared
            .extra
            .insert("sql".into(), minijinja::Value::from(compiled_sql));
        shared
            .extra
            .insert("compiled_code".into(), minijinja::Value::from(compiled_sql));
        let shared = Arc::new(shared);
        let code = format!("{{{{ {macro_name}() }}}}");
        let rendered = self
            .env
            .template_from_named_str(&node.original_file_path, &code)
            .and_then(|t| t.render(context::root(&shared)));
        let state = shared.take();
        rendered.map_err(|e| CompileError {
            node: node_id.to_string(),
            diagnostic: diagnostic_of(&e, &node.original_file_path, node.line - 1),
        })?;
        Ok(Compiled {
            sql: compiled_sql.to_string(),
            config: Config(state.config),
            depends_on: Vec::new(),
            ephemerals: Vec::new(),
            logs: state.logs,
            main_statement: state.main_statement,
            stdout: state.stdout,
        })
    }

    /// `dbt run-operation`: calls a macro (`name` or `package.name`) with keyword arguments,
    /// as the root project. Returns its rendered text (or `return` value) as `sql` and what it
    /// logged and printed.
    pub fn run_operation(
        &self,
        macro_name: &str,
        args: &Map<String, Json>,
        adapter: Arc<dyn Adapter>,
    ) -> Result<Compiled, CompileError> {
        let project = &self.inner.project_name;
        let (package, name) = match macro_name.split_once('.') {
            Some((p, n)) => (Some(p), n),
            None => (None, macro_name),
        };
        let located = |message: String| CompileError {
            node: format!("operation.{project}.{name}"),
            diagnostic: Diagnostic::new(
                Location {
                    file: String::new(),
                    line: 0,
                    column: 0,
                },
                message,
            ),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !valid(name) || package.is_some_and(|p| !valid(p)) {
            return Err(located(format!("`{macro_name}` is not a macro name")));
        }
        let found = match package {
            Some(p) => self
                .inner
                .macros
                .get(p)
                .is_some_and(|m| m.contains_key(name)),
            None => self.inner.macros.values().any(|m| m.contains_key(name)),
        };
        if !found {
            return Err(located(format!(
                "no macro named `{macro_name}` in the project or its packages"
            )));
        }
        let mut node = Node::new(ResourceType::Model, project, name, "");
        node.unique_id = format!("operation.{project}.{name}");
        let mut shared = context::Shared::new(self.inner.clone(), adapter, node, false);
        shared.extra.insert(
            "__weir_operation_args".into(),
            ser(Json::Object(args.clone())),
        );
        let shared = Arc::new(shared);
        let code = format!(
            "{{%- set __weir_result = {macro_name}(**__weir_operation_args) -%}}{{{{ __weir_result }}}}"
        );
        let rendered = self
            .env
            .template_from_named_str("<run-operation>", &mutable::rewrite_literals(&code))
            .and_then(|t| t.render(context::root(&shared)));
        let state = shared.take();
        let text = rendered.map_err(|e| CompileError {
            node: format!("operation.{project}.{name}"),
            diagnostic: diagnostic_of(&e, "<run-operation>", 0),
        })?;
        Ok(Compiled {
            sql: text,
            config: Config(state.config),
            depends_on: Vec::new(),
            ephemerals: Vec::new(),
            logs: state.logs,
            main_statement: state.main_statement,
            stdout: state.stdout,
        })
    }

    /// Renders one node. `is_incremental` is what `is_incremental()` answers for an
    /// incremental model (the caller knows whether the relation exists and about
    /// `--full-refresh`).
    pub fn compile(
        &self,
        node_id: &str,
        adapter: Arc<dyn Adapter>,
        is_incremental: bool,
    ) -> Result<Compiled, CompileError> {
        let mut ctes = Vec::new();
        let mut stack = vec![node_id.to_string()];
        let mut compiled = self.render(node_id, &adapter, is_incremental, &mut ctes, &mut stack)?;
        if !ctes.is_empty() {
            compiled.sql = inject_ctes(&compiled.sql, &ctes);
        }
        compiled.ephemerals = ctes.into_iter().map(|(id, _, _)| id).collect();
        Ok(compiled)
    }

    /// Renders a node; ephemeral parents are rendered after it, outside the render, and their
    /// CTEs added to `ctes` (a parent's own ephemeral parents first, so a CTE only refers to
    /// CTEs before it).
    fn render(
        &self,
        node_id: &str,
        adapter: &Arc<dyn Adapter>,
        is_incremental: bool,
        ctes: &mut Vec<(String, String, String)>,
        stack: &mut Vec<String>,
    ) -> Result<Compiled, CompileError> {
        let Some(node) = self.inner.nodes.get(node_id) else {
            return Err(CompileError {
                node: node_id.to_string(),
                diagnostic: Diagnostic::new(
                    Location {
                        file: String::new(),
                        line: 0,
                        column: 0,
                    },
                    format!("no enabled node `{node_id}`; this is a bug in weir, please report it"),
                ),
            });
        };
        let shared = Arc::new(context::Shared::new(
            self.inner.clone(),
            adapter.clone(),
            node.clone(),
            is_incremental,
        ));
        let root = context::root(&shared);
        let code = mutable::rewrite_literals(
            &context::test_call(node).unwrap_or_else(|| node.raw_code.clone()),
        );
        let rendered = self
            .env
            .template_from_named_str(&node.original_file_path, &code)
            .and_then(|t| t.render(root));
        let state = shared.take();
        let sql = match rendered {
            Ok(sql) => sql,
            Err(e) => {
                return Err(CompileError {
                    node: node_id.to_string(),
                    diagnostic: diagnostic_of(&e, &node.original_file_path, node.line - 1),
                });
            }
        };
        let compiled = Compiled {
            sql,
            config: Config(state.config),
            depends_on: state.depends_on.into_iter().collect(),
            ephemerals: Vec::new(),
            logs: state.logs,
            main_statement: state.main_statement,
            stdout: state.stdout,
        };
        for id in state.ephemerals {
            let name = self.inner.nodes.get(&id).map_or("", |n| n.name.as_str());
            let cte = format!("__dbt__cte__{name}");
            if ctes.iter().any(|(i, _, _)| *i == id) {
                continue;
            }
            if stack.contains(&id) {
                return Err(CompileError {
                    node: node_id.to_string(),
                    diagnostic: Diagnostic::new(
                        Location {
                            file: node.original_file_path.clone(),
                            line: node.line,
                            column: 1,
                        },
                        format!(
                            "ephemeral models refer to each other in a cycle: {} --> {id}",
                            stack.join(" --> ")
                        ),
                    ),
                });
            }
            stack.push(id.clone());
            let child = self.render(&id, adapter, false, ctes, stack)?;
            stack.pop();
            ctes.push((id, cte, child.sql));
        }
        Ok(compiled)
    }
}

/// Puts `ctes` in front of `sql` as dbt does: `with a as (…), b as (…) select …`, merged into
/// the model's own `with` when it starts with one.
fn inject_ctes(sql: &str, ctes: &[(String, String, String)]) -> String {
    let list: Vec<String> = ctes
        .iter()
        .map(|(_, name, text)| format!("{name} as (\n{}\n)", text.trim()))
        .collect();
    let joined = list.join(", ");
    let trimmed = sql.trim_start();
    let starts_with_with = trimmed.len() > 5
        && trimmed[..4].eq_ignore_ascii_case("with")
        && trimmed[4..].starts_with(|c: char| c.is_whitespace());
    if starts_with_with {
        format!("with {joined}, {}", trimmed[4..].trim_start())
    } else {
        format!("with {joined}\n{trimmed}")
    }
}

/// The prefix a project macro gets in its file, so that no macro is a plain local of its file
/// and every call of a macro by name goes through the global `MacroRef` (which catches
/// `return`).
pub(crate) const MACRO_PREFIX: &str = "__weir_m_";

/// Prepares a macro file for minijinja, keeping every line where it was: top-level
/// `{% macro name(…) %}` becomes `{% macro __weir_m_name(…) %}`, and dbt's `{% test name(…) %}`
/// blocks become macros named `test_name`. Returns the text and the macros with their lines.
fn rewrite_blocks(text: &str) -> (String, Vec<(String, usize)>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut names = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    while let Some(i) = text[at..].find("{%") {
        let start = at + i;
        let Some(end) = text[start..].find("%}").map(|e| start + e) else {
            break;
        };
        out.push_str(&text[at..start]);
        let tag = &text[start..end + 2];
        let inner = tag[2..tag.len() - 2]
            .trim_start_matches(['-', '+'])
            .trim_start();
        let keyword: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        match keyword.as_str() {
            "materialization" if depth == 0 => {
                // `{% materialization name, adapter='duckdb' %}` (or `default`) becomes the
                // macro `materialization_<name>_<adapter>`, dbt's own name for it.
                let args = &tag[tag.find(&keyword).unwrap_or(0) + keyword.len()..tag.len() - 2];
                let args = args.trim_end_matches(['-', '+']);
                let mut parts = args.split(',').map(str::trim);
                let name = parts.next().unwrap_or_default().to_string();
                let mut adapter = "default".to_string();
                for p in parts {
                    if let Some((k, v)) = p.split_once('=')
                        && k.trim() == "adapter"
                    {
                        adapter = v.trim().trim_matches(['\'', '"']).to_string();
                    }
                }
                let macro_name = format!("materialization_{name}_{adapter}");
                let open = if tag.starts_with("{%-") { "{%-" } else { "{%" };
                let close = if tag.ends_with("-%}") { "-%}" } else { "%}" };
                out.push_str(&format!(
                    "{open} macro {MACRO_PREFIX}{macro_name}() {close}"
                ));
                names.push((macro_name, text[..start].matches('\n').count() + 1));
                depth += 1;
            }
            "macro" | "test" if depth == 0 => {
                let pos = start + tag.find(&keyword).unwrap_or(0);
                let after = text[pos + keyword.len()..end + 2].trim_start();
                let name: String = after
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let name = if keyword == "test" {
                    format!("test_{name}")
                } else {
                    name
                };
                let rest = &after[after.len().min(
                    after
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .map(char::len_utf8)
                        .sum(),
                )..];
                out.push_str(&text[start..pos]);
                out.push_str(&format!(
                    "macro {MACRO_PREFIX}{name}{}",
                    with_kwargs(rest, &text[end + 2..])
                ));
                names.push((name, text[..start].matches('\n').count() + 1));
                depth += 1;
            }
            "macro" => {
                out.push_str(tag);
                depth += 1;
            }
            "endmacro" | "endtest" | "endmaterialization" => {
                out.push_str(&tag.replacen("endtest", "endmacro", 1).replacen(
                    "endmaterialization",
                    "endmacro",
                    1,
                ));
                depth = depth.saturating_sub(1);
            }
            _ => out.push_str(tag),
        }
        at = end + 2;
    }
    out.push_str(&text[at..]);
    (out, names)
}

/// `dispatch: [{macro_namespace: dbt_utils, search_order: [my_project, dbt_utils]}]` of
/// `dbt_project.yml`, by namespace. The project file was validated already; entries that are
/// not of this shape are left out.
fn dispatch_config(text: &str) -> BTreeMap<String, Vec<String>> {
    let Ok(root) = weir_flow::yaml::parse(text) else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    if let Some(Json::Array(entries)) = root.to_json().get("dispatch") {
        for entry in entries {
            let ns = entry.get("macro_namespace").and_then(Json::as_str);
            let order = entry.get("search_order").and_then(Json::as_array);
            if let (Some(ns), Some(order)) = (ns, order) {
                let order = order
                    .iter()
                    .filter_map(Json::as_str)
                    .map(str::to_string)
                    .collect();
                out.insert(ns.to_string(), order);
            }
        }
    }
    out
}

/// dbt's macros (as Jinja's) take any keyword argument when their body reads `kwargs`; minijinja
/// has no such magic, so such a macro gets a last parameter `kwargs`, which `MacroRef` fills
/// with the keyword arguments the macro does not declare. `signature` is the tag's text after
/// the name (`(a, b=1) %}`), `after` the file after the tag.
fn with_kwargs(signature: &str, after: &str) -> String {
    let body_end = ["endmacro", "endtest"]
        .iter()
        .filter_map(|k| after.find(k))
        .min()
        .unwrap_or(after.len());
    let body = &after[..body_end];
    let uses = body.match_indices("kwargs").any(|(i, _)| {
        let before = body[..i].chars().next_back();
        let next = body[i + 6..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
    });
    let Some(close) = signature.rfind(')') else {
        return signature.to_string();
    };
    if !uses || signature[..close].contains("kwargs") {
        return signature.to_string();
    }
    let empty = signature[..close].trim_end().ends_with('(');
    let sep = if empty { "" } else { ", " };
    format!(
        "{}{sep}{}={}{}",
        &signature[..close],
        context::KWARGS_PARAM,
        "none",
        &signature[close..]
    )
}

/// A minijinja error as a diagnostic: the innermost error's template and line (a macro's file
/// when it failed inside a macro), `line_offset` added for the node's own file.
fn diagnostic_of(err: &minijinja::Error, node_file: &str, line_offset: usize) -> Diagnostic {
    let mut inner: &minijinja::Error = err;
    let mut message = message_of(err);
    let mut file = err.name().unwrap_or(node_file).to_string();
    let mut line = err.line().unwrap_or(1);
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(e) = s.downcast_ref::<minijinja::Error>() {
            inner = e;
            message = message_of(e);
            if let (Some(n), Some(l)) = (e.name(), e.line()) {
                file = n.to_string();
                line = l;
            }
        }
        source = s.source();
    }
    let _ = inner;
    if file == node_file {
        line += line_offset;
    }
    Diagnostic::new(
        Location {
            file,
            line,
            column: 1,
        },
        message,
    )
}

fn message_of(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(d) if err.kind() == minijinja::ErrorKind::InvalidOperation => d.to_string(),
        Some(d) => format!("{}: {d}", err.kind()),
        None => err.kind().to_string(),
    }
}

/// `ref` resolution: the node's own package first, then the root project, then any.
pub(crate) fn find_ref<'a>(
    inner: &'a Inner,
    from_package: &str,
    package: Option<&str>,
    name: &str,
) -> Option<&'a Node> {
    let candidates: Vec<&Node> = inner
        .nodes
        .values()
        .filter(|n| n.resource_type.is_refable() && n.name == name)
        .collect();
    match package {
        Some(p) => candidates.into_iter().find(|n| n.package_name == p),
        None => candidates
            .iter()
            .find(|n| n.package_name == from_package)
            .or_else(|| {
                candidates
                    .iter()
                    .find(|n| n.package_name == inner.project_name)
            })
            .or_else(|| candidates.first())
            .copied(),
    }
}

/// The relation a node is built as: dbt's default `generate_schema_name` (`<target>_<custom>`)
/// and `generate_alias_name` (alias or name).
pub(crate) fn relation_of(inner: &Inner, node: &Node) -> Relation {
    if let Some(src) = &node.source {
        return Relation {
            database: Some(
                src.database
                    .clone()
                    .unwrap_or_else(|| inner.target.database.clone()),
            ),
            schema: src.schema.clone(),
            identifier: src.identifier.clone(),
        };
    }
    let config = &node.config;
    let schema = match (
        node.resource_type,
        config.get("target_schema").and_then(Json::as_str),
    ) {
        (ResourceType::Snapshot, Some(s)) => s.to_string(),
        _ => match config.schema() {
            Some(custom) => format!("{}_{}", inner.target.schema, custom.trim()),
            None => inner.target.schema.clone(),
        },
    };
    Relation {
        database: Some(
            config
                .database()
                .map(str::to_string)
                .unwrap_or_else(|| inner.target.database.clone()),
        ),
        schema,
        identifier: config.alias().unwrap_or(&node.name).to_string(),
    }
}
