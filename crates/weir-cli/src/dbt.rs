//! `weir dbt <verb>`: a dbt project read from disk into `weir_dbt`'s pure model, and dbt's
//! commands on it. `ls` lists as dbt does, `deps` installs packages offline, `debug` checks the
//! profile's connection; the verbs that build are in `dbt_run`, `dbt_snapshot`,
//! `dbt_freshness` and `dbt_docs`.

#![expect(
    clippy::print_stderr,
    reason = "dbt commands report progress and warnings on stderr"
)]

mod contract;
mod docs;
mod freshness;
pub(crate) mod log;
mod materialization;
mod operation;
pub(crate) mod run;
mod snapshot;

use crate::args::{DbtArgs, DbtCommand, DbtDocsCommand, DbtFlags, DbtSourceCommand};
use crate::commands::{emit, plural};
use crate::output::{self, paint, user_error, user_error_hint};
use anyhow::{Context, Result};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use weir_core::Diagnostic;
use weir_dbt::graph_select;
use weir_dbt::project::{Graph, Node, Project, ProjectFiles, ResourceType};
use weir_dbt::select::{self, IndirectSelection, Selection, State};

pub fn dbt(args: DbtArgs) -> Result<u8> {
    let DbtArgs { global, command } = args;
    let project_dir = match &command {
        DbtCommand::Deps(f)
        | DbtCommand::Parse(f)
        | DbtCommand::Clean(f)
        | DbtCommand::Seed(f)
        | DbtCommand::Run(f)
        | DbtCommand::Test(f)
        | DbtCommand::Build(f)
        | DbtCommand::Compile(f)
        | DbtCommand::Ls(f)
        | DbtCommand::Snapshot(f)
        | DbtCommand::Source(DbtSourceCommand::Freshness(f))
        | DbtCommand::Docs(DbtDocsCommand::Generate(f))
        | DbtCommand::Debug(f) => f.project_dir.clone(),
        DbtCommand::RunOperation(op) => op.flags.project_dir.clone(),
    };
    crate::dbt::log::init(&global, &project_dir)?;
    match command {
        DbtCommand::Ls(f) => ls(&f),
        DbtCommand::Deps(f) => deps(&f),
        DbtCommand::Parse(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Parse, &f),
        DbtCommand::Clean(f) => clean(&f),
        DbtCommand::Debug(f) => debug(&f),
        DbtCommand::Seed(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Seed, &f),
        DbtCommand::Run(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Run, &f),
        DbtCommand::Test(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Test, &f),
        DbtCommand::Build(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Build, &f),
        DbtCommand::Compile(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Compile, &f),
        DbtCommand::Snapshot(f) => crate::dbt::run::execute(crate::dbt::run::Verb::Snapshot, &f),
        DbtCommand::Source(DbtSourceCommand::Freshness(f)) => crate::dbt::freshness::freshness(&f),
        DbtCommand::Docs(DbtDocsCommand::Generate(f)) => crate::dbt::docs::generate(&f),
        DbtCommand::RunOperation(op) => crate::dbt::operation::run_operation(&op),
    }
}

pub(crate) fn warn(message: &str) {
    crate::dbt::log::warning("Note", message);
}

fn warn_located(d: &Diagnostic) {
    let mut out = format!(
        "{} {}\n  {} {}",
        paint("33", "warning:"),
        d.message,
        paint("34", "-->"),
        d.location
    );
    if let Some(h) = &d.hint {
        let _ = write!(out, "\n  {} {h}", paint("1;36", "hint:"));
    }
    eprintln!("{out}");
}

// ---------------------------------------------------------------------------------------------
// Reading a project from disk.

/// Folders at a project's root that hold no sources: build output, installed packages, logs.
const SKIPPED_ROOT_DIRS: &[&str] = &["target", "dbt_packages", "logs"];
/// The files dbt reads as text; everything else is left on disk.
const TEXT_EXTENSIONS: &[&str] = &["sql", "yml", "yaml", "csv", "md", "py"];
/// Deep enough for any real project, and an end to a symlink loop.
const MAX_DEPTH: usize = 32;

/// Reads the text files of a project (see `TEXT_EXTENSIONS`), skipping hidden folders and
/// `target/`, `dbt_packages/` and `logs/` at the root.
pub(crate) fn read_project(root: &Path) -> Result<ProjectFiles> {
    if !root.join("dbt_project.yml").is_file() {
        return Err(user_error_hint(
            format!("no `dbt_project.yml` in `{}`", root.display()),
            "run weir dbt in a dbt project's folder, or pass `--project-dir`",
        ));
    }
    let mut files = ProjectFiles::new();
    walk(root, "", 0, &mut files)?;
    Ok(files)
}

fn walk(dir: &Path, rel: &str, depth: usize, files: &mut ProjectFiles) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("could not read folder `{}`", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        // Follows symlinks; a dangling one is skipped.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let skipped = rel.is_empty() && SKIPPED_ROOT_DIRS.contains(&name.as_str());
            if !skipped && depth < MAX_DEPTH {
                walk(&path, &rel_path, depth + 1, files)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| TEXT_EXTENSIONS.contains(&e))
        {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| user_error(format!("could not read `{}`: {e}", path.display())))?;
            files.insert(&rel_path, text);
        }
    }
    Ok(())
}

/// A project with its installed packages, ready for selection.
pub(crate) struct Loaded {
    pub(crate) project: Project,
    pub(crate) graph: Graph,
    /// The macro files of the installed packages, each in its package's namespace.
    pub(crate) package_macros: Vec<weir_dbt::jinja::MacroFile>,
}

/// The files of the root project and of each package, for source lines in diagnostics.
struct Sources {
    root: ProjectFiles,
    /// (`dbt_packages/<dir>/`, the package's files).
    packages: Vec<(String, ProjectFiles)>,
}

impl Sources {
    fn get(&self, file: &str) -> Option<&str> {
        self.packages
            .iter()
            .find_map(|(prefix, files)| {
                file.strip_prefix(prefix.as_str())
                    .and_then(|f| files.get(f))
            })
            .or_else(|| self.root.get(file))
    }
}

/// Prints every diagnostic with its source line; the error summarises them (exit code 2).
fn report(diags: &[Diagnostic], sources: &Sources, root: &Path) -> anyhow::Error {
    for d in diags {
        output::print_diagnostic(d, sources.get(&d.location.file));
    }
    user_error(format!(
        "{} in the dbt project `{}`",
        plural(diags.len(), "problem"),
        root.display()
    ))
}

/// Reads the project and the packages installed under its `packages-install-path`, and builds
/// the graph. Every problem is printed, located.
pub(crate) fn load(root: &Path) -> Result<Loaded> {
    let files = read_project(root)?;
    let mut sources = Sources {
        root: files,
        packages: Vec::new(),
    };
    let mut project = match Project::load(&sources.root) {
        Ok(p) => p,
        Err(d) => return Err(report(&d.0, &sources, root)),
    };
    let install = root.join(&project.config.packages_install_path);
    let mut errors = Vec::new();
    let mut package_macros = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&install) {
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("dbt_project.yml").is_file())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            let prefix = format!("{}/{name}/", project.config.packages_install_path);
            let files = read_project(&dir)?;
            match Project::load(&files) {
                Ok(package) => {
                    for file in &package.macro_files {
                        if let Some(text) = files.get(file) {
                            package_macros.push(weir_dbt::jinja::MacroFile {
                                package: package.config.name.clone(),
                                file: format!("{prefix}{file}"),
                                text: text.to_string(),
                            });
                        }
                    }
                    // Nodes keep paths relative to their package, as in dbt's manifest.
                    project.nodes.extend(package.nodes);
                    project.disabled.extend(package.disabled);
                }
                Err(d) => errors.extend(d.0.into_iter().map(|mut d| {
                    d.location.file = format!("{prefix}{}", d.location.file);
                    d
                })),
            }
            sources.packages.push((prefix, files));
        }
    }
    if !errors.is_empty() {
        return Err(report(&errors, &sources, root));
    }
    for w in &project.warnings {
        warn_located(w);
    }
    let graph = project.graph().map_err(|d| report(&d.0, &sources, root))?;
    Ok(Loaded {
        project,
        graph,
        package_macros,
    })
}

/// `--vars` as a map (YAML or JSON text).
pub(crate) fn cli_vars(flags: &DbtFlags) -> Result<Map<String, Value>> {
    let Some(text) = &flags.vars else {
        return Ok(Map::new());
    };
    let hint = "write `--vars` as a YAML or JSON map: `--vars '{start_date: 2021-01-01}'`";
    let node = weir_flow::yaml::parse(text).map_err(|errors| {
        let why = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        user_error_hint(format!("`--vars` is not valid YAML: {why}"), hint)
    })?;
    match node.to_json() {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(user_error_hint(
            format!("`--vars` should be a map, found `{other}`"),
            hint,
        )),
    }
}

/// Checks the flags every verb reads the same way.
pub(crate) fn check_flags(flags: &DbtFlags) -> Result<IndirectSelection> {
    cli_vars(flags)?;
    if flags.threads == Some(0) {
        return Err(user_error("`--threads` should be at least 1"));
    }
    for (given, name) in [
        (flags.defer, "--defer"),
        (flags.favor_state, "--favor-state"),
    ] {
        if given {
            return Err(user_error_hint(
                format!("`{name}` is not supported by weir yet"),
                "build the upstream nodes too (leave out `--defer`), or select them with `--select state:modified+`",
            ));
        }
    }
    match &flags.indirect_selection {
        None => Ok(IndirectSelection::Eager),
        Some(s) => s
            .parse()
            .map_err(|e: select::SelectError| user_error(e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// `ls`

/// `--resource-type` values: dbt's default set leaves analyses out.
fn resource_types(values: &[String]) -> Result<Vec<select::ResourceType>> {
    use select::ResourceType as T;
    let default = || T::ALL.into_iter().filter(|t| *t != T::Analysis);
    if values.is_empty() {
        return Ok(default().collect());
    }
    let mut types = Vec::new();
    for value in values.iter().flat_map(|v| v.split_whitespace()) {
        match value {
            "default" => types.extend(default()),
            "all" => types.extend(T::ALL),
            // dbt's types that weir has no nodes of select nothing.
            "metric" | "semantic_model" | "saved_query" | "unit_test" | "function" => {}
            other => match T::ALL.into_iter().find(|t| t.as_str() == other) {
                Some(t) => types.push(t),
                None => {
                    return Err(user_error_hint(
                        format!("invalid `--resource-type` value `{other}`"),
                        "expected one of `model`, `seed`, `snapshot`, `test`, `source`, \
                         `analysis`, `exposure`, `metric`, `semantic_model`, `saved_query`, \
                         `unit_test`, `function`, `default`, `all`",
                    ));
                }
            },
        }
    }
    Ok(types)
}

/// The previous run's `manifest.json` in the `--state` folder, for `state:`.
pub(crate) fn read_state(dir: &Path) -> Result<State> {
    let file = dir.join("manifest.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        user_error_hint(
            format!("could not read `{}`: {e}", file.display()),
            "`--state` names a folder holding the `manifest.json` of an earlier run",
        )
    })?;
    let manifest: Value = serde_json::from_str(&text)
        .map_err(|e| user_error(format!("`{}` is not JSON: {e}", file.display())))?;
    let mut state = State::default();
    for section in ["nodes", "sources"] {
        let Some(nodes) = manifest.get(section).and_then(Value::as_object) else {
            continue;
        };
        for (id, node) in nodes {
            let sum = node
                .pointer("/checksum/checksum")
                .and_then(Value::as_str)
                .unwrap_or_default();
            state.checksums.insert(id.clone(), sum.to_string());
            if let Some(config) = node.get("config").and_then(Value::as_object) {
                state.configs.insert(id.clone(), config.clone());
            }
        }
    }
    Ok(state)
}

/// The nodes `--select` / `--exclude` choose, warning (as dbt does) about each selector word
/// that matches nothing.
pub(crate) fn select_nodes(
    graph: &weir_dbt::project::Graph,
    root_project: &str,
    flags: &DbtFlags,
    indirect: select::IndirectSelection,
    state: Option<&select::State>,
    types: &[select::ResourceType],
) -> Result<select::Selected> {
    let sg = graph_select::select_graph(graph, root_project);
    let named = named_selector(flags)?;
    let selected = if let Some(named) = &named {
        let mut selected = select::evaluate_spec(&sg, &named.spec, state, indirect)
            .map_err(|e| user_error(e.to_string()))?;
        selected.nodes.retain(|id| {
            sg.node(id)
                .is_some_and(|n| types.contains(&n.resource_type))
        });
        selected
    } else {
        let selection = Selection {
            select: &flags.select,
            exclude: &flags.exclude,
            state,
            indirect,
            resource_types: Some(types),
        };
        select::evaluate(&sg, &selection).map_err(|e| user_error(e.to_string()))?
    };
    for word in &selected.unmatched {
        let msg = format!("The selection criterion '{word}' does not match any enabled nodes");
        if crate::dbt::log::warn_is_error("NoNodesForSelectionCriteria") {
            return Err(user_error_hint(
                msg,
                "`--warn-error` makes this warning an error",
            ));
        }
        warn(&msg);
    }
    Ok(selected)
}

/// The YAML selector to use: `--selector NAME`, else the one of `selectors.yml` marked
/// `default: true` when neither `--select` nor `--exclude` is given (as dbt decides).
fn named_selector(flags: &DbtFlags) -> Result<Option<select::selectors::NamedSelector>> {
    let path = flags.project_dir.join("selectors.yml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(user_error(format!(
                "could not read `{}`: {e}",
                path.display()
            )));
        }
    };
    let selectors = match &text {
        None => select::selectors::Selectors::default(),
        Some(text) => select::selectors::Selectors::parse(text, "selectors.yml").map_err(|ds| {
            for d in &ds {
                output::print_diagnostic(d, Some(text));
            }
            user_error(format!(
                "`{}` has {}",
                path.display(),
                plural(ds.len(), "mistake")
            ))
        })?,
    };
    if let Some(name) = &flags.selector {
        if !flags.select.is_empty() || !flags.exclude.is_empty() {
            warn(&format!(
                "`--selector {name}` is used; `--select` and `--exclude` are ignored, as dbt ignores them"
            ));
        }
        let named = selectors.get(name).map_err(|e| {
            user_error_hint(
                e.to_string(),
                "selectors are defined in `selectors.yml` at the project's root",
            )
        })?;
        return Ok(Some(named.clone()));
    }
    if flags.select.is_empty()
        && flags.exclude.is_empty()
        && let Some(default) = selectors.default_selector()
    {
        say_default_selector(&default.name);
        return Ok(Some(default.clone()));
    }
    Ok(None)
}

fn say_default_selector(name: &str) {
    crate::dbt::log::event(
        "DefaultSelector",
        // In `dbt.log` (and with `--debug`); `ls` output stays the list alone.
        crate::dbt::log::Level::Debug,
        &format!("Using default selector {name}"),
        json!({"name": name}),
    );
}

fn ls(flags: &DbtFlags) -> Result<u8> {
    let indirect = check_flags(flags)?;
    let types = resource_types(&flags.resource_type)?;
    let state = flags.state.as_deref().map(read_state).transpose()?;
    let loaded = load(&flags.project_dir)?;
    let selected = select_nodes(
        &loaded.graph,
        &loaded.project.config.name,
        flags,
        indirect,
        state.as_ref(),
        &types,
    )?;
    if selected.nodes.is_empty() {
        warn("No nodes selected!");
        return Ok(0);
    }
    let mut out = String::new();
    // dbt lists by unique id.
    for id in &selected.nodes {
        let Some(node) = loaded.graph.node(id) else {
            continue;
        };
        let line = match flags.output.as_str() {
            "name" => search_name(node),
            "path" => node.original_file_path.clone(),
            "json" => python_json(&Value::Object(ls_json(node, &flags.output_keys))),
            _ => selector(node),
        };
        out.push_str(&line);
        out.push('\n');
    }
    emit(&out);
    Ok(0)
}

/// dbt's `selector` output: `source:pkg.source.table` for sources, the fqn for the rest.
fn selector(node: &Node) -> String {
    match (&node.source, node.resource_type) {
        (Some(s), ResourceType::Source) => format!(
            "source:{}.{}.{}",
            node.package_name, s.source_name, s.table_name
        ),
        _ => node.fqn.join("."),
    }
}

/// dbt's `search_name`: `source.table` for sources, the name for the rest.
fn search_name(node: &Node) -> String {
    match &node.source {
        Some(s) => format!("{}.{}", s.source_name, s.table_name),
        None => node.name.clone(),
    }
}

/// The keys `ls --output json` prints without `--output-keys` (dbt's `ListTask.ALLOWED_KEYS`).
const LS_JSON_KEYS: &[&str] = &[
    "alias",
    "name",
    "package_name",
    "depends_on",
    "tags",
    "config",
    "resource_type",
    "source_name",
    "original_file_path",
    "unique_id",
];

/// A node as `ls --output json` prints it: the manifest's keys, in the manifest's order, kept
/// when listed in `keys` (or dbt's default set).
fn ls_json(node: &Node, keys: &[String]) -> Map<String, Value> {
    let mut all = Map::new();
    all.insert("name".into(), json!(node.name));
    all.insert("resource_type".into(), json!(node.resource_type.as_str()));
    all.insert("package_name".into(), json!(node.package_name));
    all.insert("path".into(), json!(node.path));
    all.insert("original_file_path".into(), json!(node.original_file_path));
    all.insert("unique_id".into(), json!(node.unique_id));
    all.insert("fqn".into(), json!(node.fqn));
    if let Some(s) = &node.source {
        all.insert("source_name".into(), json!(s.source_name));
        all.insert("source_description".into(), json!(s.source_description));
        all.insert("loader".into(), json!(s.loader.clone().unwrap_or_default()));
        all.insert("identifier".into(), json!(s.identifier));
    } else {
        let alias = node.config.alias().unwrap_or(&node.name);
        all.insert("alias".into(), json!(alias));
        all.insert(
            "checksum".into(),
            json!({"name": "sha256", "checksum": graph_select::checksum(node)}),
        );
    }
    all.insert("config".into(), Value::Object(full_config(node)));
    all.insert("tags".into(), json!(node.tags));
    all.insert("description".into(), json!(node.description));
    all.insert("meta".into(), Value::Object(node.meta.clone()));
    all.insert("patch_path".into(), json!(node.patch_path));
    if node.resource_type != ResourceType::Source {
        all.insert("raw_code".into(), json!(node.raw_code));
        let depends_on = if node.resource_type == ResourceType::Seed {
            json!({"macros": []})
        } else {
            json!({"macros": [], "nodes": node.depends_on})
        };
        all.insert("depends_on".into(), depends_on);
    }
    all.into_iter()
        .filter(|(k, _)| {
            if keys.is_empty() {
                LS_JSON_KEYS.contains(&k.as_str())
            } else {
                keys.iter()
                    .flat_map(|k| k.split_whitespace())
                    .any(|w| w == k)
            }
        })
        .collect()
}

/// The node's config with dbt's defaults for the keys it leaves unset, in dbt's order.
pub(crate) fn full_config(node: &Node) -> Map<String, Value> {
    let mut config = Map::new();
    config.insert("enabled".into(), json!(true));
    if node.resource_type != ResourceType::Source {
        for key in ["alias", "schema", "database"] {
            config.insert(key.into(), Value::Null);
        }
    }
    config.insert("tags".into(), json!(node.tags));
    config.insert("meta".into(), json!({}));
    if node.resource_type != ResourceType::Source {
        config.insert("materialized".into(), json!(node.materialized()));
    }
    if node.resource_type == ResourceType::Test {
        config.insert("schema".into(), json!("dbt_test__audit"));
        config.insert("severity".into(), json!("ERROR"));
        config.insert("fail_calc".into(), json!("count(*)"));
        config.insert("warn_if".into(), json!("!= 0"));
        config.insert("error_if".into(), json!("!= 0"));
    }
    for (k, v) in &node.config.0 {
        config.insert(k.clone(), v.clone());
    }
    config.insert("tags".into(), json!(node.tags));
    if node.resource_type == ResourceType::Test {
        config.insert("severity".into(), json!(node.config.severity()));
    }
    config
}

/// JSON as Python's `json.dumps` writes it (what dbt prints): `", "` and `": "` between items,
/// non-ASCII escaped as `\uXXXX`.
pub(crate) fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(value, &mut out);
    out
}

fn write_python_json(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_python_string(k, out);
                out.push_str(": ");
                write_python_json(v, out);
            }
            out.push('}');
        }
        Value::String(s) => write_python_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_python_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// `debug`

/// Where `profiles.yml` is looked for: `--profiles-dir`, `DBT_PROFILES_DIR`, the project
/// folder when it holds one, `~/.dbt`.
pub(crate) fn profiles_dir(flags: &DbtFlags) -> PathBuf {
    if let Some(dir) = &flags.profiles_dir {
        return dir.clone();
    }
    if let Some(dir) = std::env::var_os(weir_core::env::DBT_PROFILES_DIR) {
        return PathBuf::from(dir);
    }
    if flags.project_dir.join("profiles.yml").is_file() {
        return flags.project_dir.clone();
    }
    std::env::home_dir()
        .map(|h| h.join(".dbt"))
        .unwrap_or_else(|| PathBuf::from(".dbt"))
}

/// The warehouse a dbt target connects to.
pub(crate) fn warehouse_target(target: &weir_dbt::project::Target) -> weir_warehouse::Target {
    use weir_dbt::project::Adapter;
    use weir_warehouse::url::{Engine, PgConfig};
    let pg = |p: &weir_dbt::project::PostgresTarget, engine| {
        weir_warehouse::Target::Postgres(PgConfig {
            engine,
            host: p.host.clone(),
            port: p.port,
            database: p.dbname.clone(),
            user: Some(p.user.clone()),
            password: p.password.clone(),
            connect_timeout_secs: 10,
        })
    };
    match &target.adapter {
        // dbt-duckdb opens a relative path from the folder dbt runs in, as weir does.
        Adapter::DuckDb(d) if d.path == ":memory:" || d.path.is_empty() => {
            weir_warehouse::Target::DuckDb { path: None }
        }
        Adapter::DuckDb(d) => weir_warehouse::Target::DuckDb {
            path: Some(PathBuf::from(&d.path)),
        },
        Adapter::Postgres(p) => pg(p, Engine::Postgres),
        Adapter::Redshift(p) => pg(p, Engine::Redshift),
    }
}

/// `dbt clean`: removes the project's `clean-targets`, each a folder inside the project.
fn clean(flags: &DbtFlags) -> Result<u8> {
    let loaded = load(&flags.project_dir)?;
    for name in &loaded.project.config.clean_targets {
        let path = flags.project_dir.join(name);
        let inside = std::path::Path::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            return Err(user_error(format!(
                "clean-target `{name}` is not a folder inside the project; nothing was deleted"
            )));
        }
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("could not delete `{}`", path.display()))?;
            crate::dbt::run::say(&format!("Cleaned {name}/"));
        } else {
            crate::dbt::run::say(&format!("Checked {name}/, nothing to clean"));
        }
    }
    crate::dbt::run::say("Finished cleaning all paths.");
    Ok(0)
}

fn debug(flags: &DbtFlags) -> Result<u8> {
    check_flags(flags)?;
    let mut out = String::new();
    let mut failures: Vec<String> = Vec::new();
    let _ = writeln!(out, "weir version: {}", env!("CARGO_PKG_VERSION"));
    let profiles_dir = profiles_dir(flags);
    let profiles_file = profiles_dir.join("profiles.yml");
    let project_file = flags.project_dir.join("dbt_project.yml");
    let _ = writeln!(out, "Using profiles dir at {}", profiles_dir.display());
    let _ = writeln!(
        out,
        "Using profiles.yml file at {}",
        profiles_file.display()
    );
    let _ = writeln!(
        out,
        "Using dbt_project.yml file at {}",
        project_file.display()
    );
    // The project: its name and profile.
    let project = match std::fs::read_to_string(&project_file) {
        Err(e) => {
            failures.push(format!("could not read `{}`: {e}", project_file.display()));
            None
        }
        Ok(text) => match weir_dbt::project::DbtProject::parse(&text, "dbt_project.yml") {
            Ok(p) => Some(p),
            Err(d) => {
                for d in &d.0 {
                    output::print_diagnostic(d, Some(&text));
                }
                failures.push("`dbt_project.yml` is not valid".into());
                None
            }
        },
    };
    let profile_name = flags
        .profile
        .clone()
        .or_else(|| project.as_ref().and_then(|p| p.profile.clone()));
    // The profile's target.
    let env = |name: &str| std::env::var(name).ok();
    let target = match (std::fs::read_to_string(&profiles_file), &profile_name) {
        (Err(e), _) => {
            failures.push(format!("could not read `{}`: {e}", profiles_file.display()));
            None
        }
        (Ok(_), None) => {
            failures
                .push("`dbt_project.yml` names no `profile:` and `--profile` is not given".into());
            None
        }
        (Ok(text), Some(profile)) => {
            let file = profiles_file.display().to_string();
            match weir_dbt::project::Target::from_profiles(
                &text,
                &file,
                profile,
                flags.target.as_deref(),
                &env,
            ) {
                Ok(t) => Some(t),
                Err(d) => {
                    for d in &d.0 {
                        output::print_diagnostic(d, Some(&text));
                    }
                    failures.push("`profiles.yml` is not valid".into());
                    None
                }
            }
        }
    };
    if let Some(t) = &target {
        let _ = writeln!(out, "adapter type: {}", t.adapter.type_name());
    }
    let ok = |good: bool| {
        if good {
            "[OK found and valid]"
        } else {
            "[ERROR invalid]"
        }
    };
    let _ = writeln!(out, "Configuration:");
    let _ = writeln!(out, "  profiles.yml file {}", ok(target.is_some()));
    let _ = writeln!(out, "  dbt_project.yml file {}", ok(project.is_some()));
    let git = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let _ = writeln!(out, "Required dependencies:");
    let _ = writeln!(
        out,
        " - git [{}]",
        if git { "OK found" } else { "ERROR not found" }
    );
    if let Some(t) = &target {
        let _ = writeln!(out, "\nConnection:");
        match &t.adapter {
            weir_dbt::project::Adapter::DuckDb(d) => {
                let _ = writeln!(out, "  database: {}", d.database);
                let _ = writeln!(out, "  schema: {}", d.schema);
                let _ = writeln!(out, "  path: {}", d.path);
            }
            weir_dbt::project::Adapter::Postgres(p) | weir_dbt::project::Adapter::Redshift(p) => {
                let _ = writeln!(out, "  host: {}", p.host);
                let _ = writeln!(out, "  port: {}", p.port);
                let _ = writeln!(out, "  user: {}", p.user);
                let _ = writeln!(out, "  database: {}", p.dbname);
                let _ = writeln!(out, "  schema: {}", p.schema);
            }
        }
        let warehouse = warehouse_target(t);
        let result = weir_warehouse::connect(&warehouse).and_then(|mut w| w.query("select 1"));
        match result {
            Ok(_) => {
                let _ = writeln!(out, "  Connection test: [OK connection ok]");
            }
            Err(e) => {
                let _ = writeln!(out, "  Connection test: [ERROR]");
                failures.push(format!("could not connect to {warehouse}: {e}"));
            }
        }
    }
    let _ = writeln!(out);
    if failures.is_empty() {
        let _ = writeln!(out, "All checks passed!");
        emit(&out);
        return Ok(0);
    }
    let _ = writeln!(out, "{} failed:", plural(failures.len(), "check"));
    for f in &failures {
        let _ = writeln!(out, "  {f}");
    }
    emit(&out);
    // As dbt: a failed check is a failed run (exit code 1), not weir failing to run.
    Ok(1)
}

// ---------------------------------------------------------------------------------------------
// `deps`

/// One entry of `packages.yml`, `dependencies.yml` or `package-lock.yml`.
#[derive(Debug, Clone)]
struct PackageSpec {
    kind: PackageKind,
    /// The entry as written, for the lock's hash.
    raw: Value,
    /// The folder relative `local:` paths start from.
    base: PathBuf,
    /// The file and position, for errors.
    at: String,
}

#[derive(Debug, Clone)]
enum PackageKind {
    Local {
        path: String,
    },
    Git {
        url: String,
        revision: Option<String>,
        subdirectory: Option<String>,
    },
    Hub {
        package: String,
        versions: Vec<String>,
    },
}

impl PackageSpec {
    fn label(&self) -> String {
        match &self.kind {
            PackageKind::Local { path } => path.clone(),
            PackageKind::Git { url, .. } => url.clone(),
            PackageKind::Hub { package, .. } => package.clone(),
        }
    }
}

/// Where an installed package comes from.
enum Install {
    /// A symlink to a local package.
    Link(PathBuf),
    /// A folder to move into place (a git clone in the staging folder).
    Move(PathBuf),
    /// A folder to copy (a package in the cache).
    Copy(PathBuf),
    /// Already in `dbt_packages/`.
    Keep,
}

struct Resolved {
    name: String,
    /// The lock entry: key → value, `name` included; written with sorted keys.
    lock: BTreeMap<String, String>,
    install: Install,
    /// What to print after "Installed from".
    from: String,
}

/// Reads the `packages:` list of a packages file in `dir`, if there is one.
fn read_package_specs(dir: &Path, file: &str) -> Result<Option<Vec<PackageSpec>>> {
    let path = dir.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let located = |d: Diagnostic| -> anyhow::Error {
        output::print_diagnostic(&d, Some(&text));
        user_error(format!("`{shown}` is not a valid packages file"))
    };
    let at = |node: &weir_flow::yaml::Node, message: String| {
        Diagnostic::new(
            weir_core::Location {
                file: shown.clone(),
                line: node.pos.line,
                column: node.pos.column,
            },
            message,
        )
    };
    let root = weir_flow::yaml::parse(&text).map_err(|errors| {
        let e = &errors[0];
        located(Diagnostic::new(
            weir_core::Location {
                file: shown.clone(),
                line: e.pos.line,
                column: e.pos.column,
            },
            e.message.clone(),
        ))
    })?;
    let Some(list) = root.get("packages") else {
        return Ok(Some(Vec::new()));
    };
    if list.is_null() {
        return Ok(Some(Vec::new()));
    }
    let Some(items) = list.as_seq() else {
        return Err(located(at(list, "`packages` should be a list".into())));
    };
    let mut specs = Vec::new();
    for item in items {
        let raw = item.to_json();
        let text_of = |key: &str| {
            item.get(key).map(|v| v.to_json()).map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            })
        };
        let kind = if let Some(path) = text_of("local") {
            PackageKind::Local { path }
        } else if let Some(url) = text_of("git") {
            PackageKind::Git {
                url,
                revision: text_of("revision"),
                subdirectory: text_of("subdirectory"),
            }
        } else if let Some(package) = text_of("package") {
            let versions = match item.get("version").map(|v| v.to_json()) {
                Some(Value::Array(vs)) => vs
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect(),
                Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_string()).collect(),
                Some(Value::Null) | None => {
                    return Err(located(
                        at(
                            item,
                            format!("the hub package `{package}` has no `version`"),
                        )
                        .with_hint(
                            "pin a version or a range: `version: [\">=1.0.0\", \"<2.0.0\"]`",
                        ),
                    ));
                }
                Some(other) => vec![other.to_string()],
            };
            PackageKind::Hub { package, versions }
        } else if item.get("tarball").is_some() || item.get("private").is_some() {
            return Err(located(at(
                item,
                "tarball and private packages are not supported by weir yet".into(),
            )));
        } else {
            return Err(located(
                at(
                    item,
                    "a package needs `local:`, `git:` or `package:`".into(),
                )
                .with_hint("for example `- package: dbt-labs/dbt_utils` with `version: 1.3.0`"),
            ));
        };
        specs.push(PackageSpec {
            kind,
            raw,
            base: dir.to_path_buf(),
            at: format!("{shown}:{}:{}", item.pos.line, item.pos.column),
        });
    }
    Ok(Some(specs))
}

/// `packages.yml`, else `dependencies.yml`, of a project folder.
fn project_specs(dir: &Path) -> Result<Vec<PackageSpec>> {
    for file in ["packages.yml", "dependencies.yml"] {
        if let Some(specs) = read_package_specs(dir, file)? {
            return Ok(specs);
        }
    }
    Ok(Vec::new())
}

/// dbt's `sha1_hash`: sha1 of the entries as JSON with sorted keys, one a line, sorted.
fn lock_hash(specs: &[PackageSpec]) -> String {
    use sha1::{Digest, Sha1};
    let mut lines: Vec<String> = specs.iter().map(|s| python_json(&sorted(&s.raw))).collect();
    lines.sort();
    Sha1::digest(lines.join("\n").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The `name:` of the `dbt_project.yml` in `dir`.
fn package_name(dir: &Path, what: &str) -> Result<String> {
    let file = dir.join("dbt_project.yml");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        user_error_hint(
            format!("{what} has no `dbt_project.yml` at `{}`", dir.display()),
            "a dbt package is a dbt project: its root folder holds a `dbt_project.yml`",
        )
    })?;
    weir_dbt::project::DbtProject::parse(&text, &file.display().to_string())
        .map(|p| p.name)
        .map_err(|d| {
            for d in &d.0 {
                output::print_diagnostic(d, Some(&text));
            }
            user_error(format!("{what} has an invalid `dbt_project.yml`"))
        })
}

fn package_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("dbt_project.yml")).ok()?;
    weir_dbt::project::DbtProject::parse(&text, "dbt_project.yml")
        .ok()?
        .version
}

/// `1.2.3` (a `v` prefix and a pre-release suffix are ignored) as numbers.
fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim().trim_start_matches('v');
    let core = text.split(['-', '+']).next()?;
    let parts: Option<Vec<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    let mut parts = parts?;
    parts.resize(3, 0);
    Some(parts)
}

/// Whether `version` meets every constraint (`1.2.3`, `=1.2.3`, `>=1.0.0`, `<2.0.0`, …).
fn version_matches(version: &str, constraints: &[String]) -> bool {
    let Some(v) = parse_version(version) else {
        return false;
    };
    constraints.iter().all(|c| {
        let c = c.trim();
        let (op, rest) = [">=", "<=", "==", ">", "<", "="]
            .iter()
            .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", c));
        let Some(want) = parse_version(rest) else {
            return false;
        };
        match op {
            ">=" => v >= want,
            "<=" => v <= want,
            ">" => v > want,
            "<" => v < want,
            _ => v == want,
        }
    })
}

fn run_git(args: &[&str], what: &str) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .map_err(|e| user_error(format!("could not run `git` to {what}: {e}")))?;
    if !out.status.success() {
        return Err(user_error(format!(
            "could not {what}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn resolve(spec: &PackageSpec, install_dir: &Path, staging: &Path, n: usize) -> Result<Resolved> {
    let mut lock = BTreeMap::new();
    match &spec.kind {
        PackageKind::Local { path } => {
            let dir = spec.base.join(path);
            let what = format!("the local package `{path}` ({})", spec.at);
            let name = package_name(&dir, &what)?;
            let dir = std::fs::canonicalize(&dir)
                .with_context(|| format!("could not resolve `{}`", dir.display()))?;
            lock.insert("local".into(), path.clone());
            lock.insert("name".into(), name.clone());
            Ok(Resolved {
                name,
                lock,
                install: Install::Link(dir),
                from: format!("<local @ {path}>"),
            })
        }
        PackageKind::Git {
            url,
            revision,
            subdirectory,
        } => {
            let local = url.starts_with("file://") || url.starts_with('/');
            if !local {
                return Err(user_error_hint(
                    format!(
                        "the git package `{url}` ({}) is not on this machine",
                        spec.at
                    ),
                    "weir works offline: git packages are cloned from `file://` URLs; clone the \
                     repository here and point `git:` at `file:///path/to/repo`",
                ));
            }
            let dest = staging.join(format!("git-{n}"));
            let dest_s = dest.display().to_string();
            run_git(
                &["clone", "--quiet", url, &dest_s],
                &format!("clone `{url}`"),
            )?;
            if let Some(rev) = revision {
                run_git(
                    &["-C", &dest_s, "checkout", "--quiet", rev],
                    &format!("check out revision `{rev}` of `{url}`"),
                )?;
            }
            let sha = run_git(
                &["-C", &dest_s, "rev-parse", "HEAD"],
                &format!("read the revision of `{url}`"),
            )?;
            let root = match subdirectory {
                Some(sub) => dest.join(sub),
                None => dest.clone(),
            };
            let name = package_name(&root, &format!("the git package `{url}`"))?;
            lock.insert("git".into(), url.clone());
            lock.insert("name".into(), name.clone());
            lock.insert("revision".into(), sha.clone());
            if let Some(sub) = subdirectory {
                lock.insert("subdirectory".into(), sub.clone());
            }
            Ok(Resolved {
                name,
                lock,
                install: Install::Move(root),
                from: format!("revision {}", revision.as_deref().unwrap_or(&sha)),
            })
        }
        PackageKind::Hub { package, versions } => {
            let short = package.rsplit('/').next().unwrap_or(package);
            // The highest cached version that fits.
            let cache = std::env::var_os(weir_core::env::WEIR_DBT_PACKAGE_CACHE).map(PathBuf::from);
            let mut found: Option<(Vec<u64>, String, Install)> = None;
            if let Some(cache) = &cache
                && let Ok(entries) = std::fs::read_dir(cache.join(package))
            {
                for e in entries.flatten() {
                    let v = e.file_name().to_string_lossy().into_owned();
                    if version_matches(&v, versions)
                        && e.path().join("dbt_project.yml").is_file()
                        && let Some(parsed) = parse_version(&v)
                        && found.as_ref().is_none_or(|(best, _, _)| parsed > *best)
                    {
                        found = Some((parsed, v, Install::Copy(e.path())));
                    }
                }
            }
            // Else the copy already installed, if its version fits.
            if found.is_none() {
                let existing = install_dir.join(short);
                if let Some(v) = package_version(&existing)
                    && version_matches(&v, versions)
                    && let Some(parsed) = parse_version(&v)
                {
                    found = Some((parsed, v, Install::Keep));
                }
            }
            let Some((_, version, install)) = found else {
                let wanted = versions.join(", ");
                let cache_hint = match &cache {
                    Some(c) => format!("`{}`", c.join(package).join("<version>").display()),
                    None => format!(
                        "`${}/{package}/<version>/`",
                        weir_core::env::WEIR_DBT_PACKAGE_CACHE
                    ),
                };
                return Err(user_error_hint(
                    format!(
                        "the hub package `{package}` (version `{wanted}`, {}) is neither in \
                         `{}` nor in the package cache",
                        spec.at,
                        install_dir.join(short).display()
                    ),
                    format!(
                        "weir works offline and does not download from hub.getdbt.com: put the \
                         package's files in {cache_hint} (a clone of its git repository at that \
                         tag will do), or use a `git:` package with a `file://` URL"
                    ),
                ));
            };
            let dir = match &install {
                Install::Copy(d) => d.clone(),
                _ => install_dir.join(short),
            };
            let name = package_name(&dir, &format!("the hub package `{package}`"))?;
            lock.insert("name".into(), name.clone());
            lock.insert("package".into(), package.clone());
            lock.insert("version".into(), version.clone());
            Ok(Resolved {
                name,
                lock,
                install,
                from: format!("version {version}"),
            })
        }
    }
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("could not create `{}`", to.display()))?;
    for e in std::fs::read_dir(from)
        .with_context(|| format!("could not read `{}`", from.display()))?
        .flatten()
    {
        let target = to.join(e.file_name());
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)
                .with_context(|| format!("could not copy `{}`", e.path().display()))?;
        }
    }
    Ok(())
}

fn remove(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path);
    let result = match meta {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    result.with_context(|| format!("could not remove `{}`", path.display()))
}

/// A YAML scalar as PyYAML writes it: plain unless it would read as another type.
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.parse::<f64>().is_err()
        && !["true", "false", "yes", "no", "null", "on", "off", "~"]
            .contains(&s.to_ascii_lowercase().as_str())
        && !s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace())
        && !s.ends_with(char::is_whitespace)
        && !s.contains(": ")
        && !s.contains(" #");
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn write_lock(root: &Path, resolved: &[Resolved], hash: &str) -> Result<()> {
    let mut text = String::from("packages:\n");
    for r in resolved {
        for (i, (k, v)) in r.lock.iter().enumerate() {
            let lead = if i == 0 { "  - " } else { "    " };
            let _ = writeln!(text, "{lead}{k}: {}", yaml_scalar(v));
        }
    }
    let _ = writeln!(text, "sha1_hash: {hash}");
    let file = root.join("package-lock.yml");
    std::fs::write(&file, text).with_context(|| format!("could not write `{}`", file.display()))
}

/// The entries of `package-lock.yml` when it was written for these packages.
fn locked_specs(root: &Path, hash: &str) -> Result<Option<Vec<PackageSpec>>> {
    let Ok(text) = std::fs::read_to_string(root.join("package-lock.yml")) else {
        return Ok(None);
    };
    let same = weir_flow::yaml::parse(&text)
        .ok()
        .and_then(|n| {
            n.get("sha1_hash")
                .and_then(|h| h.as_str().map(str::to_string))
        })
        .is_some_and(|h| h == hash);
    if !same {
        return Ok(None);
    }
    read_package_specs(root, "package-lock.yml")
}

fn deps(flags: &DbtFlags) -> Result<u8> {
    check_flags(flags)?;
    let root = std::path::absolute(&flags.project_dir)
        .with_context(|| format!("could not resolve `{}`", flags.project_dir.display()))?;
    let project_file = root.join("dbt_project.yml");
    let text = std::fs::read_to_string(&project_file).map_err(|_| {
        user_error_hint(
            format!("no `dbt_project.yml` in `{}`", root.display()),
            "run weir dbt in a dbt project's folder, or pass `--project-dir`",
        )
    })?;
    let config = weir_dbt::project::DbtProject::parse(&text, "dbt_project.yml").map_err(|d| {
        for d in &d.0 {
            output::print_diagnostic(d, Some(&text));
        }
        user_error("`dbt_project.yml` is not valid")
    })?;
    let specs = project_specs(&root)?;
    if specs.is_empty() {
        // dbt's `DepsNoPackagesFound` is an info event: it does not make a run "warned".
        crate::dbt::log::event(
            "DepsNoPackagesFound",
            crate::dbt::log::Level::Info,
            "Warning: No packages were found in packages.yml",
            json!({}),
        );
        return Ok(0);
    }
    let hash = lock_hash(&specs);
    let locked = locked_specs(&root, &hash)?;
    let from_lock = locked.is_some();
    let install_dir = root.join(&config.packages_install_path);
    std::fs::create_dir_all(&install_dir)
        .with_context(|| format!("could not create `{}`", install_dir.display()))?;
    let staging = install_dir.join(format!(".weir-deps-{}", std::process::id()));
    remove(&staging)?;
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("could not create `{}`", staging.display()))?;
    let result = resolve_all(locked.unwrap_or(specs), from_lock, &install_dir, &staging);
    let result = result.and_then(|resolved| {
        install_all(&resolved, &install_dir)?;
        Ok(resolved)
    });
    let _ = remove(&staging);
    let resolved = result?;
    if !from_lock {
        write_lock(&root, &resolved, &hash)?;
        eprintln!("Updated lock file `package-lock.yml`");
    }
    Ok(0)
}

/// Resolves every package, and those the packages need (unless the lock lists them all).
fn resolve_all(
    specs: Vec<PackageSpec>,
    from_lock: bool,
    install_dir: &Path,
    staging: &Path,
) -> Result<Vec<Resolved>> {
    let mut queue: std::collections::VecDeque<PackageSpec> = specs.into();
    let mut resolved: Vec<Resolved> = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut n = 0;
    while let Some(spec) = queue.pop_front() {
        n += 1;
        let r = resolve(&spec, install_dir, staging, n)?;
        if let Some(first) = seen.get(&r.name) {
            if *first != spec.label() {
                warn(&format!(
                    "the package `{}` is required as `{first}` and as `{}`; the first is installed",
                    r.name,
                    spec.label()
                ));
            }
            continue;
        }
        seen.insert(r.name.clone(), spec.label());
        if !from_lock {
            let dir = match &r.install {
                Install::Link(d) | Install::Move(d) | Install::Copy(d) => d.clone(),
                Install::Keep => install_dir.join(&r.name),
            };
            queue.extend(project_specs(&dir)?);
        }
        resolved.push(r);
    }
    Ok(resolved)
}

/// Puts every package in `dbt_packages/<name>`, removing what was there before.
fn install_all(resolved: &[Resolved], install_dir: &Path) -> Result<()> {
    // As dbt: the folder holds exactly the packages installed, apart from those kept in place.
    for e in std::fs::read_dir(install_dir)
        .with_context(|| format!("could not read `{}`", install_dir.display()))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let kept = resolved
            .iter()
            .any(|r| matches!(r.install, Install::Keep) && r.name == name);
        if !kept && !name.starts_with(".weir-deps-") {
            remove(&e.path())?;
        }
    }
    for r in resolved {
        eprintln!(
            "Installing {}",
            r.lock
                .get("package")
                .or(r.lock.get("git"))
                .or(r.lock.get("local"))
                .map_or("", String::as_str)
        );
        let dest = install_dir.join(&r.name);
        match &r.install {
            Install::Keep => {}
            Install::Link(dir) => {
                if std::os::unix::fs::symlink(dir, &dest).is_err() {
                    copy_dir(dir, &dest)?;
                }
            }
            Install::Move(dir) => std::fs::rename(dir, &dest)
                .with_context(|| format!("could not move a clone to `{}`", dest.display()))?,
            Install::Copy(dir) => copy_dir(dir, &dest)?,
        }
        eprintln!("  Installed from {}", r.from);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_meet_dbt_style_constraints() {
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(version_matches("1.3.0", &c(&[">=1.0.0", "<2.0.0"])));
        assert!(!version_matches("2.0.0", &c(&[">=1.0.0", "<2.0.0"])));
        assert!(version_matches("1.3.0", &c(&["1.3.0"])));
        assert!(version_matches("1.3", &c(&["=1.3.0"])));
        assert!(!version_matches("1.2.9", &c(&["1.3.0"])));
        assert!(!version_matches("main", &c(&["1.3.0"])));
    }

    #[test]
    fn json_is_written_as_python_writes_it() {
        let v = json!({"name": "é", "list": [1, "a"], "map": {}, "none": null});
        assert_eq!(
            python_json(&v),
            r#"{"name": "\u00e9", "list": [1, "a"], "map": {}, "none": null}"#
        );
    }

    #[test]
    fn yaml_scalars_are_quoted_only_when_needed() {
        assert_eq!(yaml_scalar("1.3.0"), "1.3.0");
        assert_eq!(yaml_scalar("1.0"), "'1.0'");
        assert_eq!(yaml_scalar("file:///tmp/x"), "file:///tmp/x");
        assert_eq!(yaml_scalar("../pkg"), "../pkg");
        assert_eq!(yaml_scalar("true"), "'true'");
    }
}
