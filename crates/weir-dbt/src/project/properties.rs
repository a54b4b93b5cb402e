//! Properties files (`*.yml` beside models, seeds and snapshots): descriptions, columns and
//! configs patched onto nodes, source tables made into nodes, and generic tests made into test
//! nodes with dbt's names.

use super::dbt_project::DbtProject;
use super::discover::fqn;
use super::yaml::{self, Yaml};
use super::{
    Column, Config, Freshness, FreshnessThreshold, Node, ProjectFiles, ResourceType, SourceInfo,
    TestMetadata, TestTarget, location, refs, scalar_text, testname,
};
use serde_json::{Map, Value};
use weir_core::Diagnostic;

/// Keys of a test entry that are configs, not arguments of the test macro (dbt's
/// `TestBuilder.CONFIG_ARGS`).
const CONFIG_ARGS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "database",
    "schema",
    "alias",
];

struct Ctx<'a> {
    project: &'a DbtProject,
    file: &'a str,
    /// The file's path relative to its resource folder, for fqns.
    rel: &'a str,
    errors: &'a mut Vec<Diagnostic>,
    warnings: &'a mut Vec<Diagnostic>,
}

pub(crate) fn apply(
    files: &ProjectFiles,
    project: &DbtProject,
    nodes: &mut Vec<Node>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) {
    let dirs = project
        .model_paths
        .iter()
        .chain(&project.seed_paths)
        .chain(&project.snapshot_paths)
        .chain(&project.analysis_paths);
    let mut seen = std::collections::BTreeSet::new();
    for dir in dirs {
        for (rel, file, text) in files.under(dir) {
            if !(rel.ends_with(".yml") || rel.ends_with(".yaml")) || !seen.insert(file) {
                continue;
            }
            let root = match yaml::parse(text, file) {
                Ok(root) => root,
                Err(e) => {
                    errors.extend(e);
                    continue;
                }
            };
            if root.is_null() {
                continue;
            }
            if root.as_map().is_none() {
                errors.push(yaml::at(
                    file,
                    &root,
                    format!(
                        "a properties file should be a map, found {}",
                        root.kind_name()
                    ),
                ));
                continue;
            }
            let mut cx = Ctx {
                project,
                file,
                rel,
                errors,
                warnings,
            };
            file_properties(&mut cx, &root, nodes);
        }
    }
}

fn file_properties(cx: &mut Ctx, root: &Yaml, nodes: &mut Vec<Node>) {
    for (key, resource_type) in [
        ("models", ResourceType::Model),
        ("seeds", ResourceType::Seed),
        ("snapshots", ResourceType::Snapshot),
        ("analyses", ResourceType::Analysis),
    ] {
        for entry in yaml::seq(cx.file, root, key, cx.errors) {
            let Some(name) = entry_name(cx, entry) else {
                continue;
            };
            let index = nodes
                .iter()
                .position(|n| n.resource_type == resource_type && n.name == name);
            let index = match index {
                Some(i) => i,
                None if resource_type == ResourceType::Snapshot
                    && entry.get("relation").is_some() =>
                {
                    nodes.push(yaml_snapshot(cx, entry, &name));
                    nodes.len() - 1
                }
                None => {
                    cx.warnings.push(yaml::at(
                        cx.file,
                        entry,
                        format!("`{name}` is described here but there is no {resource_type} of that name"),
                    ));
                    continue;
                }
            };
            if let Some(other) = &nodes[index].patch_path {
                cx.errors.push(yaml::at(
                    cx.file,
                    entry,
                    format!(
                        "{resource_type} `{name}` is described twice: in `{other}` and `{}`",
                        cx.file
                    ),
                ));
                continue;
            }
            patch(cx, &mut nodes[index], entry);
            let target = TestTarget::Ref { name: name.clone() };
            let tests = node_tests(cx, entry, &target, &name, false);
            nodes.extend(tests);
        }
    }
    for source in yaml::seq(cx.file, root, "sources", cx.errors) {
        sources(cx, source, nodes);
    }
}

fn entry_name(cx: &mut Ctx, entry: &Yaml) -> Option<String> {
    if entry.as_map().is_none() {
        cx.errors.push(yaml::at(
            cx.file,
            entry,
            format!(
                "an entry should be a map with a `name`, found {}",
                entry.kind_name()
            ),
        ));
        return None;
    }
    match entry.get("name") {
        None => {
            cx.errors
                .push(yaml::at(cx.file, entry, "`name` is missing"));
            None
        }
        Some(n) => yaml::string(cx.file, n, "name")
            .map_err(|e| cx.errors.push(e))
            .ok(),
    }
}

/// Description, configs, tags, meta and columns of a properties entry onto its node.
fn patch(cx: &mut Ctx, node: &mut Node, entry: &Yaml) {
    node.patch_path = Some(cx.file.to_string());
    if let Some(d) = yaml::opt_string(cx.file, entry, "description", cx.errors) {
        node.description = d;
    }
    let mut config = Config(yaml::json_map(cx.file, entry, "config", cx.errors));
    if let Some(tags) = entry.get("tags") {
        Config::merge(
            &mut config,
            &Config(Map::from_iter([("tags".to_string(), tags.to_json())])),
        );
    }
    node.apply_config(&config);
    for (k, v) in yaml::json_map(cx.file, entry, "meta", cx.errors) {
        node.meta.insert(k, v);
    }
    node.columns = columns(cx, entry);
}

fn columns(cx: &mut Ctx, entry: &Yaml) -> Vec<Column> {
    let mut out = Vec::new();
    for col in yaml::seq(cx.file, entry, "columns", cx.errors) {
        let Some(name) = entry_name(cx, col) else {
            continue;
        };
        let constraints = match col.get("constraints").map(Yaml::to_json) {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        let tags = match col.get("tags").map(Yaml::to_json) {
            Some(Value::Array(items)) => items.iter().map(scalar_text).collect(),
            Some(Value::String(s)) => vec![s],
            _ => Vec::new(),
        };
        out.push(Column {
            name,
            description: yaml::opt_string(cx.file, col, "description", cx.errors)
                .unwrap_or_default(),
            data_type: yaml::opt_string(cx.file, col, "data_type", cx.errors),
            constraints,
            meta: yaml::json_map(cx.file, col, "meta", cx.errors),
            quote: col.get("quote").and_then(|q| q.to_json().as_bool()),
            tags,
        });
    }
    out
}

/// The entry's own tests (`data_tests:` and `tests:`) and its columns' tests.
fn node_tests(
    cx: &mut Ctx,
    entry: &Yaml,
    target: &TestTarget,
    target_name: &str,
    is_source: bool,
) -> Vec<Node> {
    let mut out = Vec::new();
    for key in ["data_tests", "tests"] {
        for test in yaml::seq(cx.file, entry, key, cx.errors) {
            out.extend(generic_test(cx, test, target, target_name, is_source, None));
        }
    }
    for col in yaml::seq(cx.file, entry, "columns", cx.errors) {
        let Some(column) = col.get("name").and_then(Yaml::as_str) else {
            continue;
        };
        for key in ["data_tests", "tests"] {
            for test in yaml::seq(cx.file, col, key, cx.errors) {
                out.extend(generic_test(
                    cx,
                    test,
                    target,
                    target_name,
                    is_source,
                    Some(column),
                ));
            }
        }
    }
    out
}

fn is_test_name(s: &str) -> bool {
    let ident = |p: &str| {
        let mut c = p.chars();
        c.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match s.split_once('.') {
        Some((ns, name)) => ident(ns) && ident(name),
        None => ident(s),
    }
}

/// One generic test in any syntax dbt accepts: `- unique`; `- accepted_values: {values: […]}`
/// with configs beside the arguments; `- accepted_values: {arguments: {…}, config: {…}}`;
/// `- name: …, test_name: …, arguments: …`.
fn generic_test(
    cx: &mut Ctx,
    test: &Yaml,
    target: &TestTarget,
    target_name: &str,
    is_source: bool,
    column: Option<&str>,
) -> Option<Node> {
    let (test_name, mut args) = match (&test.as_str(), test.as_map()) {
        (Some(name), _) => (name.to_string(), Map::new()),
        (None, Some(entries)) if test.get("test_name").is_some() => {
            let Some(name) = test.get("test_name").and_then(Yaml::as_str) else {
                cx.errors
                    .push(yaml::at(cx.file, test, "`test_name` should be a string"));
                return None;
            };
            let mut args = Map::new();
            for (k, v) in entries {
                if let Some(k) = k.as_str().filter(|k| *k != "test_name") {
                    args.insert(k.to_string(), v.to_json());
                }
            }
            (name.to_string(), args)
        }
        (None, Some([(k, v)])) => {
            let Some(name) = k.as_str() else {
                cx.errors
                    .push(yaml::at(cx.file, k, "a test's name should be a string"));
                return None;
            };
            let args = match v.to_json() {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => {
                    cx.errors.push(yaml::at(
                        cx.file,
                        v,
                        format!(
                            "the arguments of test `{name}` should be a map, found {}",
                            v.kind_name()
                        ),
                    ));
                    return None;
                }
            };
            (name.to_string(), args)
        }
        _ => {
            cx.errors.push(
                yaml::at(
                    cx.file,
                    test,
                    "a test should be a name or a map with one key, the test's name",
                )
                .with_hint(
                    "for example `- unique` or `- accepted_values: {arguments: {values: [a, b]}}`",
                ),
            );
            return None;
        }
    };
    if !is_test_name(&test_name) {
        cx.errors.push(yaml::at(
            cx.file,
            test,
            format!("`{test_name}` is not a test name (`name` or `package.name`)"),
        ));
        return None;
    }
    if args.contains_key("model") {
        cx.errors.push(yaml::at(
            cx.file,
            test,
            format!("test `{test_name}` has an argument named `model`, which dbt sets itself"),
        ));
        return None;
    }
    // Arguments under `arguments:` (dbt 1.10.5 and later) are the macro's, like the legacy
    // top-level ones.
    if let Some(arguments) = args.remove("arguments") {
        match arguments {
            Value::Object(m) => args.extend(m),
            Value::Null => {}
            _ => {
                cx.errors
                    .push(yaml::at(cx.file, test, "`arguments` should be a map"));
                return None;
            }
        }
    }
    let mut config = match args.remove("config") {
        Some(Value::Object(m)) => Config(m),
        None | Some(Value::Null) => Config::default(),
        Some(_) => {
            cx.errors
                .push(yaml::at(cx.file, test, "`config` should be a map"));
            return None;
        }
    };
    for key in CONFIG_ARGS {
        if let Some(v) = args.remove(*key) {
            if config.0.contains_key(*key) {
                cx.errors.push(yaml::at(
                    cx.file,
                    test,
                    format!(
                        "test `{test_name}` sets `{key}` both beside its arguments and in `config`"
                    ),
                ));
            }
            config.0.insert(key.to_string(), v);
        }
    }
    args.remove("description");
    let custom_name = args.remove("name").map(|n| scalar_text(&n));
    if let Some(column) = column {
        args.insert("column_name".into(), Value::String(column.into()));
    }
    let (namespace, name) = match test_name.split_once('.') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, test_name.clone()),
    };
    let model_call = match target {
        TestTarget::Ref { name } => format!("ref('{name}')"),
        TestTarget::Source { source, table } => format!("source('{source}', '{table}')"),
    };
    args.insert(
        "model".into(),
        Value::String(format!("{{{{ get_where_subquery({model_call}) }}}}")),
    );
    let (compiled_name, fqn_name) = match custom_name {
        Some(n) => (n.clone(), n),
        None => {
            let mut test_type = if is_source {
                format!("source_{name}")
            } else {
                name.clone()
            };
            if let Some(ns) = &namespace {
                test_type = format!("{ns}_{test_type}");
            }
            let (short, full) = testname::synthesize(&test_type, target_name, &args);
            if short != full && !config.0.contains_key("alias") {
                config
                    .0
                    .insert("alias".into(), Value::String(short.clone()));
            }
            (short, full)
        }
    };
    // As dbt-core's `create_test_node`: the node's name, unique id and hash use the full name;
    // only the file path (and the alias, set above) use the shortened one.
    let hash = testname::unique_id_hash(&fqn_name, &name, namespace.as_deref(), &args);
    let project = &cx.project.name;
    let mut node = Node::new(ResourceType::Test, project, &fqn_name, cx.file);
    node.unique_id = format!("test.{project}.{fqn_name}.{hash}");
    node.path = format!("{compiled_name}.sql");
    node.fqn = fqn(project, cx.rel, &fqn_name);
    node.line = test.pos.line;
    let macro_name = match &namespace {
        Some(ns) => format!("{ns}.test_{name}"),
        None => format!("test_{name}"),
    };
    node.raw_code = format!("{{{{ {macro_name}(**_dbt_generic_test_kwargs) }}}}");
    node.apply_config(&cx.project.tests.resolve(&node.fqn));
    node.apply_config(&config);
    for value in args.values() {
        scan_value(value, test.pos.line, &mut node);
    }
    node.test = Some(TestMetadata {
        name,
        namespace,
        kwargs: args,
        column_name: column.map(str::to_string),
        target: target.clone(),
        attached_node: None,
    });
    Some(node)
}

/// `ref`/`source` calls in a test argument (`to: ref('dim_zones')`), all at the test's line.
fn scan_value(value: &Value, line: usize, node: &mut Node) {
    match value {
        Value::String(s) => {
            let (r, s) = refs::scan(s, false, line);
            for mut call in r {
                call.column = 1;
                if !node
                    .refs
                    .iter()
                    .any(|c| c.name == call.name && c.package == call.package)
                {
                    node.refs.push(call);
                }
            }
            for mut call in s {
                call.column = 1;
                if !node
                    .sources
                    .iter()
                    .any(|c| c.source == call.source && c.table == call.table)
                {
                    node.sources.push(call);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| scan_value(v, line, node)),
        Value::Object(m) => m.values().for_each(|v| scan_value(v, line, node)),
        _ => {}
    }
}

/// A snapshot defined in YAML (dbt 1.9+): `relation:` names what it snapshots.
fn yaml_snapshot(cx: &mut Ctx, entry: &Yaml, name: &str) -> Node {
    let project = cx.project;
    let mut node = Node::new(ResourceType::Snapshot, &project.name, name, cx.file);
    node.path = cx.rel.to_string();
    node.fqn = fqn(&project.name, cx.rel, name);
    node.line = entry.pos.line;
    let relation = yaml::opt_string(cx.file, entry, "relation", cx.errors).unwrap_or_default();
    node.raw_code = format!("select * from {{{{ {relation} }}}}");
    (node.refs, node.sources) = refs::scan(&relation, false, entry.pos.line);
    node.apply_config(&project.snapshots.resolve(&node.fqn));
    node
}

fn freshness(cx: &mut Ctx, node: &Yaml) -> Option<Freshness> {
    if node.is_null() {
        return None;
    }
    let threshold = |cx: &mut Ctx, key: &str| -> Option<FreshnessThreshold> {
        let t = node.get(key).filter(|n| !n.is_null())?;
        let count = t.get("count").and_then(|c| c.to_json().as_i64());
        let period = t.get("period").and_then(Yaml::as_str);
        match (count, period) {
            (Some(count), Some(period @ ("minute" | "hour" | "day"))) => Some(FreshnessThreshold {
                count,
                period: period.to_string(),
            }),
            _ => {
                cx.errors.push(
                    yaml::at(
                        cx.file,
                        t,
                        format!("`{key}` needs a whole `count` and a `period`"),
                    )
                    .with_hint(
                        "for example `{count: 12, period: hour}`; periods are minute, hour and day",
                    ),
                );
                None
            }
        }
    };
    Some(Freshness {
        warn_after: threshold(cx, "warn_after"),
        error_after: threshold(cx, "error_after"),
        filter: yaml::opt_string(cx.file, node, "filter", cx.errors),
    })
}

fn sources(cx: &mut Ctx, source: &Yaml, nodes: &mut Vec<Node>) {
    let Some(source_name) = entry_name(cx, source) else {
        return;
    };
    let project = cx.project;
    let database = yaml::opt_string(cx.file, source, "database", cx.errors);
    let schema = yaml::opt_string(cx.file, source, "schema", cx.errors)
        .unwrap_or_else(|| source_name.clone());
    let loader = yaml::opt_string(cx.file, source, "loader", cx.errors);
    let loaded_at = yaml::opt_string(cx.file, source, "loaded_at_field", cx.errors);
    let source_freshness = source.get("freshness").and_then(|f| freshness(cx, f));
    let source_description =
        yaml::opt_string(cx.file, source, "description", cx.errors).unwrap_or_default();
    let mut source_config = Config(yaml::json_map(cx.file, source, "config", cx.errors));
    if let Some(tags) = source.get("tags") {
        source_config.merge(&Config(Map::from_iter([(
            "tags".to_string(),
            tags.to_json(),
        )])));
    }
    let tables = yaml::seq(cx.file, source, "tables", cx.errors);
    for table in tables {
        let Some(table_name) = entry_name(cx, table) else {
            continue;
        };
        let mut node = Node::new(ResourceType::Source, &project.name, &table_name, cx.file);
        node.unique_id = format!("source.{}.{source_name}.{table_name}", project.name);
        node.path = cx.file.to_string();
        node.line = table.pos.line;
        let mut fqn = fqn(&project.name, cx.rel, &source_name);
        fqn.push(table_name.clone());
        node.fqn = fqn;
        node.apply_config(&project.sources.resolve(&node.fqn));
        node.apply_config(&source_config);
        patch(cx, &mut node, table);
        let table_freshness = match table.get("freshness") {
            Some(f) => freshness(cx, f),
            None => source_freshness.clone(),
        };
        node.source = Some(SourceInfo {
            source_name: source_name.clone(),
            table_name: table_name.clone(),
            identifier: yaml::opt_string(cx.file, table, "identifier", cx.errors)
                .unwrap_or_else(|| table_name.clone()),
            database: database.clone(),
            schema: schema.clone(),
            loader: loader.clone(),
            loaded_at_field: yaml::opt_string(cx.file, table, "loaded_at_field", cx.errors)
                .or_else(|| loaded_at.clone()),
            freshness: table_freshness,
            source_description: source_description.clone(),
        });
        let target = TestTarget::Source {
            source: source_name.clone(),
            table: table_name.clone(),
        };
        let tests = node_tests(
            cx,
            table,
            &target,
            &format!("{source_name}_{table_name}"),
            true,
        );
        if nodes.iter().any(|n| n.unique_id == node.unique_id) {
            cx.errors.push(Diagnostic::new(
                location(cx.file, table.pos.line, table.pos.column),
                format!("source table `{source_name}.{table_name}` is defined twice"),
            ));
            continue;
        }
        nodes.push(node);
        nodes.extend(tests);
    }
}
