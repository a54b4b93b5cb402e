//! YAML text → validated `Flow`, reporting every problem at once with its position.

use crate::catalog::{Catalog, PropKind, TaskSpec, closest};
use crate::model::*;
use crate::yaml::{self, Node, Pos, Style, Yaml};
use std::collections::{HashMap, HashSet};
use weir_core::{Diagnostic, Location, parse_duration};

const FLOW_KEYS: &[&str] = &[
    "id",
    "namespace",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "retry",
    "errors",
    "finally",
    "outputs",
    "disabled",
    "revision",
    "deleted",
    "tenantId",
];
const COMMON_TASK_KEYS: &[&str] = &[
    "id",
    "type",
    "description",
    "retry",
    "timeout",
    "disabled",
    "allowFailure",
    "allowWarning",
    "runIf",
    "logLevel",
    "logToFile",
    "workerGroup",
];
const INPUT_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "defaults",
    "required",
    "displayName",
    "description",
    "values",
    "itemType",
    "allowCustomValue",
    "validator",
    "min",
    "max",
    "dependsOn",
    "prefill",
];
const TRIGGER_TYPES: &[(&str, &[&str], &[&str])] = &[
    (
        "io.kestra.plugin.core.trigger.Schedule",
        &["cron"],
        &[
            "cron",
            "timezone",
            "inputs",
            "backfill",
            "lateMaximumDelay",
            "conditions",
            "stopAfter",
            "withSeconds",
            "recoverMissedSchedules",
            "labels",
            "scheduleConditions",
        ],
    ),
    (
        "io.kestra.plugin.core.trigger.Flow",
        &[],
        &["conditions", "inputs", "preconditions", "states", "labels"],
    ),
    (
        "io.kestra.plugin.core.trigger.Webhook",
        &["key"],
        &[
            "key",
            "conditions",
            "inputs",
            "labels",
            "wait",
            "returnOutputs",
        ],
    ),
];
const TRIGGER_COMMON: &[&str] = &[
    "id",
    "type",
    "description",
    "disabled",
    "logLevel",
    "minLogLevel",
    "stopAfter",
];

/// Parses and validates a flow. `file` is only used in messages.
pub fn parse_flow(file: &str, source: &str, catalog: &Catalog) -> Result<Flow, Vec<Diagnostic>> {
    let mut cx = Cx {
        file,
        source,
        catalog,
        diags: Vec::new(),
        task_ids: HashMap::new(),
        task_depth: 0,
    };
    let root = match yaml::parse(source) {
        Ok(root) => root,
        Err(errors) => {
            // The parser reports an unclosed collection one line past the end; point at the
            // last line instead, where the snippet can show something.
            let last = source.lines().count().max(1);
            return Err(errors
                .into_iter()
                .map(|mut e| {
                    if e.pos.line > last {
                        e.pos = Pos {
                            line: last,
                            column: source.lines().last().map_or(0, |l| l.chars().count()) + 1,
                        };
                    }
                    let d = Diagnostic::new(cx.loc(e.pos), e.message);
                    match e.hint {
                        Some(h) => d.with_hint(h),
                        None => d,
                    }
                })
                .collect());
        }
    };
    if root.as_map().is_none() {
        cx.error(
            root.pos,
            format!(
                "a flow must be a YAML map with `id`, `namespace` and `tasks`, found {}",
                root.kind_name()
            ),
        );
        return Err(cx.diags);
    }
    let flow = cx.flow(&root);
    cx.check_output_references(&flow);
    if cx.diags.is_empty() {
        Ok(flow)
    } else {
        cx.diags
            .sort_by_key(|d| (d.location.line, d.location.column));
        Err(cx.diags)
    }
}

struct Cx<'a> {
    file: &'a str,
    source: &'a str,
    catalog: &'a Catalog,
    diags: Vec<Diagnostic>,
    task_ids: HashMap<String, Pos>,
    /// How many task lists enclose the one being read.
    task_depth: usize,
}

/// How deep task lists may nest (`Sequential` in `Sequential`…). Real flows nest a few levels;
/// the bound keeps validation and the engine's walk far from the end of the stack.
pub const MAX_TASK_DEPTH: usize = 64;

fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

fn valid_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && s.len() <= 100
}

/// Whether `s` is a valid namespace: dot-separated words of letters, digits, `_` and `-`.
pub fn valid_namespace(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && !s.ends_with('.')
        && !s.contains("..")
}

impl<'a> Cx<'a> {
    fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
        }
    }

    fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic::new(self.loc(pos), message);
        self.diags.push(d);
    }

    fn error_hint(&mut self, pos: Pos, message: impl Into<String>, hint: impl Into<String>) {
        let d = Diagnostic::new(self.loc(pos), message).with_hint(hint);
        self.diags.push(d);
    }

    fn unknown_keys(&mut self, node: &Node, allowed: &[&str], what: &str) {
        let Some(map) = node.as_map() else { return };
        for (k, _) in map {
            let Some(key) = k.as_str() else {
                self.error(k.pos, format!("keys of {what} must be strings"));
                continue;
            };
            if !allowed.contains(&key) {
                match closest(key, allowed.iter().copied()) {
                    Some(c) => self.error_hint(
                        k.pos,
                        format!("unknown property `{key}` in {what}"),
                        format!("did you mean `{c}`?"),
                    ),
                    None => self.error_hint(
                        k.pos,
                        format!("unknown property `{key}` in {what}"),
                        format!(
                            "known properties: {}",
                            allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ),
                }
            }
        }
    }

    fn string(&mut self, node: &Node, key: &str, required: bool, what: &str) -> Option<String> {
        match node.get(key) {
            None
            | Some(Node {
                value: Yaml::Null, ..
            }) => {
                if required {
                    self.error(
                        node.pos,
                        format!("{what} is missing required property `{key}`"),
                    );
                }
                None
            }
            Some(v) => match &v.value {
                Yaml::Scalar { text, .. } => Some(text.clone()),
                _ => {
                    self.error(
                        v.pos,
                        format!("`{key}` must be a string, found {}", v.kind_name()),
                    );
                    None
                }
            },
        }
    }

    fn bool(&mut self, node: &Node, key: &str) -> Option<bool> {
        let v = node.get(key)?;
        match v.to_json() {
            serde_json::Value::Bool(b) => Some(b),
            serde_json::Value::Null => None,
            _ => {
                self.error(
                    v.pos,
                    format!(
                        "`{key}` must be a boolean (`true` or `false`), found {}",
                        v.kind_name()
                    ),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node, key: &str) -> Option<std::time::Duration> {
        let v = node.get(key).filter(|v| !matches!(v.value, Yaml::Null))?;
        let Some(text) = v.as_str() else {
            self.error(
                v.pos,
                format!(
                    "`{key}` must be an ISO-8601 duration like `PT15S`, found {}",
                    v.kind_name()
                ),
            );
            return None;
        };
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(v.pos, format!("`{key}`: {e}"));
                None
            }
        }
    }

    fn flow(&mut self, root: &Node) -> Flow {
        self.unknown_keys(root, FLOW_KEYS, "the flow");
        let id = self
            .string(root, "id", true, "the flow")
            .unwrap_or_default();
        if !id.is_empty() && !valid_id(&id) {
            let pos = root.get("id").map_or(root.pos, |n| n.pos);
            self.error_hint(
                pos,
                format!("invalid flow id `{id}`"),
                "ids use letters, digits, `_` and `-`, and start with a letter or digit",
            );
        }
        let namespace = self
            .string(root, "namespace", true, "the flow")
            .unwrap_or_default();
        if !namespace.is_empty() && !valid_namespace(&namespace) {
            let pos = root.get("namespace").map_or(root.pos, |n| n.pos);
            self.error_hint(pos, format!("invalid namespace `{namespace}`"), "namespaces are dot-separated words of letters, digits, `_` and `-`, such as `company.team`");
        }
        let description = self.string(root, "description", false, "the flow");
        let labels = self.labels(root.get("labels"));
        let inputs = self.inputs(root.get("inputs"));
        let variables = match root.get("variables") {
            None => JsonMap::new(),
            Some(v) => match v.to_json() {
                serde_json::Value::Object(m) => m,
                serde_json::Value::Null => JsonMap::new(),
                _ => {
                    self.error(
                        v.pos,
                        format!("`variables` must be a map, found {}", v.kind_name()),
                    );
                    JsonMap::new()
                }
            },
        };
        let defaults = self.plugin_defaults(
            root.get("pluginDefaults")
                .or_else(|| root.get("taskDefaults")),
        );
        let tasks = match root.get("tasks") {
            None => {
                self.error(root.pos, "the flow is missing required property `tasks`");
                Vec::new()
            }
            Some(n) => {
                let t = self.task_list(n, "tasks", &defaults);
                if n.is_null() || n.as_seq().is_some_and(<[Node]>::is_empty) {
                    self.error(n.pos, "`tasks` must list at least one task");
                }
                t
            }
        };
        let errors = root
            .get("errors")
            .map(|n| self.task_list(n, "errors", &defaults))
            .unwrap_or_default();
        let finally = root
            .get("finally")
            .map(|n| self.task_list(n, "finally", &defaults))
            .unwrap_or_default();
        let triggers = self.triggers(root.get("triggers"));
        let concurrency = root.get("concurrency").and_then(|n| self.concurrency(n));
        let retry = root
            .get("retry")
            .and_then(|n| self.retry(n, key_pos(root, "retry")));
        let outputs = self.flow_outputs(root.get("outputs"));
        let disabled = self.bool(root, "disabled").unwrap_or(false);
        self.check_templates_in(root.get("labels"), "labels");
        self.check_templates_in(root.get("variables"), "variables");
        Flow {
            id,
            namespace,
            description,
            labels,
            inputs,
            variables,
            tasks,
            errors,
            finally,
            triggers,
            concurrency,
            retry,
            outputs,
            disabled,
            file: self.file.to_string(),
            source: self.source.to_string(),
        }
    }

    fn labels(&mut self, node: Option<&Node>) -> Vec<(String, String)> {
        let Some(node) = node else { return Vec::new() };
        let mut out = Vec::new();
        match &node.value {
            Yaml::Null => {}
            Yaml::Map(entries) => {
                for (k, v) in entries {
                    let key = k.as_str().unwrap_or_default().to_string();
                    match &v.value {
                        Yaml::Scalar { text, .. } => out.push((key, text.clone())),
                        _ => self.error(
                            v.pos,
                            format!(
                                "label `{key}` must have a string value, found {}",
                                v.kind_name()
                            ),
                        ),
                    }
                }
            }
            Yaml::Seq(items) => {
                for item in items {
                    let key = self.string(item, "key", true, "a label");
                    let value = self.string(item, "value", true, "a label");
                    if let (Some(k), Some(v)) = (key, value) {
                        out.push((k, v));
                    }
                }
            }
            Yaml::Scalar { .. } => self.error(
                node.pos,
                "`labels` must be a map or a list of `key`/`value` pairs",
            ),
        }
        out
    }

    fn inputs(&mut self, node: Option<&Node>) -> Vec<InputDef> {
        let Some(node) = node else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            if !node.is_null() {
                self.error(
                    node.pos,
                    format!("`inputs` must be a list, found {}", node.kind_name()),
                );
            }
            return Vec::new();
        };
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for item in items {
            if item.as_map().is_none() {
                self.error(
                    item.pos,
                    format!(
                        "each input must be a map with `id` and `type`, found {}",
                        item.kind_name()
                    ),
                );
                continue;
            }
            self.unknown_keys(item, INPUT_KEYS, "an input");
            let id = match item.get("id") {
                Some(_) => self.string(item, "id", true, "an input"),
                None => self.string(item, "name", true, "an input"),
            };
            let Some(id) = id else { continue };
            if !seen.insert(id.clone()) {
                self.error(item.pos, format!("duplicate input id `{id}`"));
            }
            let kind_text = self
                .string(item, "type", true, &format!("input `{id}`"))
                .unwrap_or_default();
            let kind = match InputKind::parse(&kind_text) {
                Some(k) => k,
                None => {
                    if !kind_text.is_empty() {
                        let pos = item.get("type").map_or(item.pos, |n| n.pos);
                        self.error_hint(
                            pos,
                            format!("unknown input type `{kind_text}`"),
                            format!("input types: {}", InputKind::NAMES.join(", ")),
                        );
                    }
                    InputKind::String
                }
            };
            let values: Vec<String> = match item.get("values") {
                Some(v) => match v.as_seq() {
                    Some(seq) => seq
                        .iter()
                        .map(|x| {
                            x.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| x.to_json().to_string())
                        })
                        .collect(),
                    None => {
                        self.error(v.pos, "`values` must be a list");
                        Vec::new()
                    }
                },
                None => Vec::new(),
            };
            if matches!(kind, InputKind::Select | InputKind::MultiSelect) && values.is_empty() {
                self.error(
                    item.pos,
                    format!("input `{id}` of type {kind_text} needs a non-empty `values` list"),
                );
            }
            let item_type = match self.string(item, "itemType", false, "an input") {
                Some(t) => match InputKind::parse(&t) {
                    Some(k) => Some(k),
                    None => {
                        let pos = item.get("itemType").map_or(item.pos, |n| n.pos);
                        self.error(pos, format!("unknown item type `{t}`"));
                        None
                    }
                },
                None => None,
            };
            if kind == InputKind::Array && item_type.is_none() {
                self.error(
                    item.pos,
                    format!("input `{id}` of type ARRAY needs an `itemType`"),
                );
            }
            let defaults = item
                .get("defaults")
                .map(Node::to_json)
                .filter(|v| !v.is_null());
            let required = self.bool(item, "required").unwrap_or(true);
            let def = InputDef {
                id,
                kind,
                required,
                defaults,
                display_name: self.string(item, "displayName", false, "an input"),
                description: self.string(item, "description", false, "an input"),
                values,
                item_type,
                allow_custom_value: self.bool(item, "allowCustomValue").unwrap_or(false),
                pos: item.pos,
            };
            if let Some(d) = &def.defaults
                && !(d.as_str().is_some_and(is_template))
                && let Err(e) = crate::inputs::coerce_default(&def, d)
            {
                let pos = item.get("defaults").map_or(item.pos, |n| n.pos);
                self.error(pos, format!("default of input `{}`: {e}", def.id));
            }
            out.push(def);
        }
        out
    }

    fn plugin_defaults(&mut self, node: Option<&Node>) -> Vec<(String, bool, Node)> {
        let Some(node) = node else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            self.error(
                node.pos,
                "`pluginDefaults` must be a list of `type`/`values` entries",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            self.unknown_keys(item, &["type", "values", "forced"], "a plugin default");
            let ty = self.string(item, "type", true, "a plugin default");
            let forced = self.bool(item, "forced").unwrap_or(false);
            match (ty, item.get("values")) {
                (Some(ty), Some(values)) if values.as_map().is_some() => {
                    out.push((ty, forced, values.clone()))
                }
                (_, Some(values)) => {
                    self.error(values.pos, "`values` of a plugin default must be a map")
                }
                (_, None) => self.error(
                    item.pos,
                    "a plugin default is missing required property `values`",
                ),
            }
        }
        out
    }

    fn task_list(
        &mut self,
        node: &Node,
        what: &str,
        defaults: &[(String, bool, Node)],
    ) -> Vec<Task> {
        match &node.value {
            Yaml::Seq(_) if self.task_depth >= MAX_TASK_DEPTH => {
                self.error_hint(
                    node.pos,
                    format!("tasks are nested more than {MAX_TASK_DEPTH} levels deep"),
                    "split the flow, or run the deepest part as a Subflow",
                );
                Vec::new()
            }
            Yaml::Seq(items) => {
                self.task_depth += 1;
                let tasks = items
                    .iter()
                    .filter_map(|item| self.task(item, defaults))
                    .collect();
                self.task_depth -= 1;
                tasks
            }
            Yaml::Null => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "`{what}` must be a list of tasks, found {}",
                        node.kind_name()
                    ),
                );
                Vec::new()
            }
        }
    }

    fn task(&mut self, node: &Node, defaults: &[(String, bool, Node)]) -> Option<Task> {
        if node.as_map().is_none() {
            self.error(
                node.pos,
                format!(
                    "a task must be a map with `id` and `type`, found {}",
                    node.kind_name()
                ),
            );
            return None;
        }
        let id = self.string(node, "id", true, "a task");
        let type_name = self.string(
            node,
            "type",
            true,
            &format!("task `{}`", id.as_deref().unwrap_or("?")),
        );
        if let Some(id) = &id {
            let pos = node.get("id").map_or(node.pos, |n| n.pos);
            if !valid_id(id) {
                self.error_hint(
                    pos,
                    format!("invalid task id `{id}`"),
                    "ids use letters, digits, `_` and `-`, and start with a letter or digit",
                );
            }
            if let Some(first) = self.task_ids.get(id) {
                let first = *first;
                self.error_hint(
                    pos,
                    format!("duplicate task id `{id}`"),
                    format!("first used at line {}", first.line),
                );
            } else {
                self.task_ids.insert(id.clone(), pos);
            }
        }
        let type_name = type_name?;
        let Some(spec) = self.catalog.get(&type_name) else {
            let pos = node.get("type").map_or(node.pos, |n| n.pos);
            match self.catalog.closest(&type_name) {
                Some(c) => self.error_hint(
                    pos,
                    format!("unknown task type `{type_name}`"),
                    format!("did you mean `{c}`?"),
                ),
                None if crate::catalog::is_kestra_type(&type_name) => self.error_hint(
                    pos,
                    format!("weir does not run `{type_name}` yet"),
                    "`weir tasks` lists the task types weir runs",
                ),
                None => self.error_hint(
                    pos,
                    format!("unknown task type `{type_name}`"),
                    "`weir tasks` lists the task types weir runs",
                ),
            }
            return None;
        };
        let node = apply_defaults(node, &type_name, spec, defaults);
        let what = format!(
            "task `{}` ({})",
            id.as_deref().unwrap_or("?"),
            short_type(spec.name)
        );
        let allowed: Vec<&str> = COMMON_TASK_KEYS
            .iter()
            .copied()
            .chain(spec.props.iter().map(|p| p.name))
            .collect();
        self.unknown_keys(&node, &allowed, &what);

        let mut props = JsonMap::new();
        let mut prop_pos = HashMap::new();
        let mut branches = Vec::new();
        for p in spec.props {
            let value = node.get(p.name).filter(|v| !v.is_null());
            let Some(value) = value else {
                // A misspelt required property is already reported as an unknown key with a
                // did-you-mean; a second "missing" error would only repeat it.
                let misspelt = node.as_map().unwrap_or_default().iter().any(|(k, _)| {
                    k.as_str().is_some_and(|k| {
                        !allowed.contains(&k) && closest(k, allowed.iter().copied()) == Some(p.name)
                    })
                });
                if p.required && !misspelt {
                    self.error(
                        node.pos,
                        format!("{what} is missing required property `{}`", p.name),
                    );
                }
                continue;
            };
            match p.kind {
                PropKind::Tasks => {
                    let tasks = self.task_list(value, p.name, defaults);
                    if p.required
                        && tasks.is_empty()
                        && value.as_seq().is_some_and(<[Node]>::is_empty)
                    {
                        self.error(
                            value.pos,
                            format!("`{}` of {what} must list at least one task", p.name),
                        );
                    }
                    branches.push(Branch {
                        name: p.name.to_string(),
                        tasks,
                    });
                }
                PropKind::TaskCases => match value.as_map() {
                    Some(cases) => {
                        for (k, v) in cases {
                            let case = k
                                .as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| k.to_json().to_string());
                            let tasks = self.task_list(v, p.name, defaults);
                            branches.push(Branch {
                                name: format!("{}/{case}", p.name),
                                tasks,
                            });
                        }
                    }
                    None => self.error(
                        value.pos,
                        format!(
                            "`{}` of {what} must be a map from values to lists of tasks",
                            p.name
                        ),
                    ),
                },
                PropKind::DagTasks => {
                    let (tasks, deps) = self.dag_tasks(value, p.name, &what, defaults);
                    props.insert("dependsOn".to_string(), deps);
                    branches.push(Branch {
                        name: p.name.to_string(),
                        tasks,
                    });
                }
                kind => {
                    self.check_kind(value, kind, p.name, &what);
                    self.check_templates_in(Some(value), p.name);
                    let style = match &value.value {
                        Yaml::Scalar { style, .. } => *style,
                        _ => Style::Plain,
                    };
                    prop_pos.insert(p.name.to_string(), (value.pos, style));
                    let json = match kind {
                        // A string property keeps the text as written: `version: 1.10` stays "1.10".
                        PropKind::String => match &value.value {
                            Yaml::Scalar { text, .. } => serde_json::Value::String(text.clone()),
                            _ => value.to_json(),
                        },
                        _ => value.to_json(),
                    };
                    props.insert(p.name.to_string(), json);
                }
            }
        }
        let run_if = self.string(&node, "runIf", false, &what);
        if let (Some(r), Some(n)) = (&run_if, node.get("runIf")) {
            self.check_template_text(r, n, "runIf");
        }
        let log_level = self.string(&node, "logLevel", false, &what);
        if let Some(l) = &log_level
            && !["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&l.as_str())
        {
            let pos = node.get("logLevel").map_or(node.pos, |n| n.pos);
            self.error(
                pos,
                format!("`logLevel` must be one of TRACE, DEBUG, INFO, WARN, ERROR, found `{l}`"),
            );
        }
        crate::model::runtime_templates(spec.name, &mut props);
        Some(Task {
            id: id?,
            type_name,
            kind: spec.name,
            description: self.string(&node, "description", false, &what),
            retry: node
                .get("retry")
                .and_then(|n| self.retry(n, key_pos(&node, "retry"))),
            timeout: self.duration(&node, "timeout"),
            disabled: self.bool(&node, "disabled").unwrap_or(false),
            allow_failure: self.bool(&node, "allowFailure").unwrap_or(false),
            run_if,
            log_level,
            props,
            prop_pos,
            branches,
            pos: node.pos,
        })
    }

    /// Dag's `tasks`: each item a `task` and the ids it `dependsOn`. Ids must name tasks of the
    /// same Dag, and the dependencies must not form a cycle. Returns the tasks and
    /// `{task id: [ids]}`.
    fn dag_tasks(
        &mut self,
        node: &Node,
        name: &str,
        what: &str,
        defaults: &[(String, bool, Node)],
    ) -> (Vec<Task>, serde_json::Value) {
        let Some(items) = node.as_seq() else {
            self.error(
                node.pos,
                format!("`{name}` of {what} must be a list of `task` and `dependsOn` pairs"),
            );
            return (Vec::new(), serde_json::Value::Object(JsonMap::new()));
        };
        let mut tasks = Vec::new();
        // (task id, dependencies with where each is written)
        let mut edges: Vec<(String, Vec<(String, Pos)>)> = Vec::new();
        for item in items {
            if item.as_map().is_none() {
                self.error(
                    item.pos,
                    format!(
                        "each item of `{name}` of {what} must be a map with `task` and `dependsOn`"
                    ),
                );
                continue;
            }
            self.unknown_keys(
                item,
                &["task", "dependsOn"],
                &format!("an item of `{name}` of {what}"),
            );
            let Some(task_node) = item.get("task") else {
                self.error(
                    item.pos,
                    format!("an item of `{name}` of {what} is missing `task`"),
                );
                continue;
            };
            self.task_depth += 1;
            let task = self.task(task_node, defaults);
            self.task_depth -= 1;
            let mut deps = Vec::new();
            match item.get("dependsOn").map(|d| (&d.value, d)) {
                None | Some((Yaml::Null, _)) => {}
                Some((Yaml::Seq(ids), _)) => {
                    for id in ids {
                        match &id.value {
                            Yaml::Scalar { text, .. } => deps.push((text.clone(), id.pos)),
                            _ => self.error(id.pos, "`dependsOn` lists task ids (strings)"),
                        }
                    }
                }
                Some((_, d)) => self.error(d.pos, "`dependsOn` must be a list of task ids"),
            }
            if let Some(task) = task {
                edges.push((task.id.clone(), deps));
                tasks.push(task);
            }
        }
        let ids: Vec<&str> = edges.iter().map(|(id, _)| id.as_str()).collect();
        for (id, deps) in &edges {
            for (dep, pos) in deps {
                if !ids.contains(&dep.as_str()) {
                    match closest(dep, ids.iter().copied()) {
                        Some(c) => self.error_hint(
                            *pos,
                            format!(
                                "task `{id}` depends on `{dep}`, which is not a task of this Dag"
                            ),
                            format!("did you mean `{c}`?"),
                        ),
                        None => self.error_hint(
                            *pos,
                            format!(
                                "task `{id}` depends on `{dep}`, which is not a task of this Dag"
                            ),
                            "a Dag's tasks can depend only on tasks of the same Dag",
                        ),
                    }
                } else if dep == id {
                    self.error(*pos, format!("task `{id}` depends on itself"));
                }
            }
        }
        if let Some((cycle, pos)) = dag_cycle(&edges) {
            self.error_hint(
                pos,
                format!(
                    "the dependencies of {what} form a cycle: {}",
                    cycle.join(" → ")
                ),
                "a Dag's tasks must not depend on each other in a circle; remove one `dependsOn`",
            );
        }
        let deps = edges
            .into_iter()
            .map(|(id, deps)| {
                let list = deps
                    .into_iter()
                    .map(|(d, _)| serde_json::Value::String(d))
                    .collect();
                (id, serde_json::Value::Array(list))
            })
            .collect();
        (tasks, serde_json::Value::Object(deps))
    }

    fn check_kind(&mut self, value: &Node, kind: PropKind, name: &str, what: &str) {
        let json = value.to_json();
        let templated = json.as_str().is_some_and(is_template);
        let ok = match kind {
            PropKind::String => matches!(value.value, Yaml::Scalar { .. }),
            PropKind::Int => templated || json.is_i64() || json.is_u64(),
            PropKind::Number => templated || json.is_number(),
            PropKind::Bool => templated || json.is_boolean(),
            PropKind::Duration => match json.as_str() {
                Some(s) if is_template(s) => true,
                Some(s) => {
                    if let Err(e) = parse_duration(s) {
                        self.error(value.pos, format!("`{name}` of {what}: {e}"));
                    }
                    true
                }
                None => false,
            },
            PropKind::StringList => {
                templated
                    || json
                        .as_array()
                        .is_some_and(|a| a.iter().all(|x| !x.is_array() && !x.is_object()))
            }
            PropKind::StringOrList => {
                json.is_string()
                    || json
                        .as_array()
                        .is_some_and(|a| a.iter().all(|x| !x.is_array() && !x.is_object()))
            }
            PropKind::List => templated || json.is_array(),
            PropKind::Map => templated || json.is_object(),
            PropKind::StringMap => {
                templated
                    || json
                        .as_object()
                        .is_some_and(|m| m.values().all(|x| !x.is_array() && !x.is_object()))
            }
            PropKind::MapOrString => json.is_object() || json.is_string(),
            PropKind::Any | PropKind::Tasks | PropKind::TaskCases | PropKind::DagTasks => true,
        };
        // A list of strings with one bad item: point at the item, not the list.
        if !ok
            && matches!(kind, PropKind::StringList | PropKind::StringOrList)
            && let Some(items) = value.as_seq()
        {
            for (i, item) in items.iter().enumerate() {
                if item.as_map().is_some() || item.as_seq().is_some() {
                    let hint = if item.as_map().is_some() {
                        "an unquoted `: ` makes YAML read a map; quote the whole item, e.g. `- \"echo a: b\"`"
                    } else {
                        "nested lists are not allowed here"
                    };
                    self.error_hint(
                        item.pos,
                        format!(
                            "item {} of `{name}` of {what} must be a string, found {}",
                            i + 1,
                            item.kind_name()
                        ),
                        hint,
                    );
                }
            }
            return;
        }
        if !ok {
            self.error(
                value.pos,
                format!(
                    "`{name}` of {what} must be {}, found {}",
                    kind.describe(),
                    value.kind_name()
                ),
            );
        }
    }

    /// Checks the syntax of every template inside a node.
    fn check_templates_in(&mut self, node: Option<&Node>, prop: &str) {
        let Some(node) = node else { return };
        match &node.value {
            Yaml::Scalar { text, .. } => self.check_template_text(text, node, prop),
            Yaml::Seq(items) => items
                .iter()
                .for_each(|i| self.check_templates_in(Some(i), prop)),
            Yaml::Map(entries) => entries
                .iter()
                .for_each(|(_, v)| self.check_templates_in(Some(v), prop)),
            Yaml::Null => {}
        }
    }

    fn check_template_text(&mut self, text: &str, node: &Node, prop: &str) {
        if !is_template(text) {
            return;
        }
        if let Err(e) = weir_template::check_syntax(text) {
            let style = match &node.value {
                Yaml::Scalar { style, .. } => *style,
                _ => Style::Plain,
            };
            let pos = template_pos(
                self.source,
                node.pos,
                style,
                text,
                e.line.unwrap_or(1),
                e.column.unwrap_or(1),
            );
            self.error(pos, format!("invalid template in `{prop}`: {}", e.message));
        }
    }

    fn retry(&mut self, node: &Node, at: Pos) -> Option<RetryPolicy> {
        self.unknown_keys(
            node,
            &[
                "type",
                "interval",
                "minInterval",
                "maxInterval",
                "delayFactor",
                "maxAttempt",
                "maxAttempts",
                "maxDuration",
                "warningOnRetry",
                "behavior",
            ],
            "`retry`",
        );
        let kind = match self.string(node, "type", true, "`retry`")?.as_str() {
            "constant" => RetryKind::Constant,
            "exponential" => RetryKind::Exponential,
            "random" => RetryKind::Random,
            other => {
                let pos = node.get("type").map_or(node.pos, |n| n.pos);
                self.error(pos, format!("unknown retry type `{other}` (expected `constant`, `exponential` or `random`)"));
                return None;
            }
        };
        let interval = self.duration(node, "interval");
        // A present but invalid `interval` has had its own error.
        if interval.is_none() && kind != RetryKind::Random && node.get("interval").is_none() {
            self.error(at, "`retry` is missing required property `interval`");
        }
        let max_attempts = match node.get("maxAttempt").or_else(|| node.get("maxAttempts")) {
            None => None,
            Some(v) => match v.to_json().as_u64() {
                Some(n) if n >= 1 => Some(n as u32),
                _ => {
                    self.error(v.pos, "`maxAttempt` must be a positive integer");
                    None
                }
            },
        };
        let delay_factor = match node.get("delayFactor") {
            None => None,
            Some(v) => match v.to_json().as_f64() {
                Some(f) if f.is_finite() && f > 0.0 => Some(f),
                _ => {
                    self.error(v.pos, "`delayFactor` must be a positive number");
                    None
                }
            },
        };
        let max_duration = self.duration(node, "maxDuration");
        if max_attempts.is_none() && max_duration.is_none() {
            self.error_hint(
                at,
                "`retry` needs `maxAttempt` or `maxDuration`",
                "without one of them a failing task would retry forever",
            );
        }
        Some(RetryPolicy {
            kind,
            interval: interval.unwrap_or_default(),
            min_interval: self.duration(node, "minInterval"),
            max_interval: self.duration(node, "maxInterval"),
            delay_factor,
            max_attempts,
            max_duration,
            warning_on_retry: self.bool(node, "warningOnRetry").unwrap_or(false),
        })
    }

    fn concurrency(&mut self, node: &Node) -> Option<Concurrency> {
        self.unknown_keys(node, &["limit", "behavior"], "`concurrency`");
        let limit = match node.get("limit") {
            Some(v) => match v.to_json().as_u64() {
                Some(n) if n >= 1 => n as u32,
                _ => {
                    self.error(v.pos, "`limit` must be a positive integer");
                    return None;
                }
            },
            None => {
                self.error(
                    node.pos,
                    "`concurrency` is missing required property `limit`",
                );
                return None;
            }
        };
        let behavior = match self
            .string(node, "behavior", false, "`concurrency`")
            .as_deref()
        {
            None | Some("QUEUE") => ConcurrencyBehavior::Queue,
            Some("CANCEL") => ConcurrencyBehavior::Cancel,
            Some("FAIL") => ConcurrencyBehavior::Fail,
            Some(other) => {
                let pos = node.get("behavior").map_or(node.pos, |n| n.pos);
                self.error(
                    pos,
                    format!("`behavior` must be QUEUE, CANCEL or FAIL, found `{other}`"),
                );
                return None;
            }
        };
        Some(Concurrency { limit, behavior })
    }

    fn triggers(&mut self, node: Option<&Node>) -> Vec<Trigger> {
        let Some(node) = node else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            self.error(node.pos, "`triggers` must be a list");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let id = self.string(item, "id", true, "a trigger");
            let ty = self.string(item, "type", true, "a trigger");
            let (Some(id), Some(ty)) = (id, ty) else {
                continue;
            };
            let canonical = ty.replace(
                "io.kestra.core.models.triggers.types.",
                "io.kestra.plugin.core.trigger.",
            );
            let Some((_, required, known)) = TRIGGER_TYPES.iter().find(|(n, _, _)| *n == canonical)
            else {
                let pos = item.get("type").map_or(item.pos, |n| n.pos);
                let hint = closest(&ty, TRIGGER_TYPES.iter().map(|t| t.0))
                    .map(|c| format!("did you mean `{c}`?"))
                    .unwrap_or_else(|| "weir knows Schedule, Flow and Webhook triggers".into());
                self.error_hint(pos, format!("unknown trigger type `{ty}`"), hint);
                continue;
            };
            let allowed: Vec<&str> = TRIGGER_COMMON.iter().chain(known.iter()).copied().collect();
            self.unknown_keys(item, &allowed, &format!("trigger `{id}`"));
            for r in *required {
                if item.get(r).is_none() {
                    self.error(
                        item.pos,
                        format!("trigger `{id}` is missing required property `{r}`"),
                    );
                }
            }
            if let Some(cron) = item.get("cron").and_then(Node::as_str) {
                let fields = cron.split_whitespace().count();
                let with_seconds = self.bool(item, "withSeconds").unwrap_or(false);
                let expected = if with_seconds { 6 } else { 5 };
                if !cron.starts_with('@') && fields != expected {
                    let pos = item.get("cron").map_or(item.pos, |n| n.pos);
                    self.error(
                        pos,
                        format!("`cron` must have {expected} fields, found {fields} in `{cron}`"),
                    );
                }
            }
            let mut props = match item.to_json() {
                serde_json::Value::Object(m) => m,
                _ => JsonMap::new(),
            };
            for k in ["id", "type", "disabled"] {
                props.remove(k);
            }
            out.push(Trigger {
                id,
                type_name: canonical,
                disabled: self.bool(item, "disabled").unwrap_or(false),
                props,
                pos: item.pos,
            });
        }
        out
    }

    fn flow_outputs(&mut self, node: Option<&Node>) -> Vec<FlowOutput> {
        let Some(node) = node else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            self.error(
                node.pos,
                "`outputs` must be a list of `id`/`type`/`value` entries",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            self.unknown_keys(
                item,
                &[
                    "id",
                    "type",
                    "value",
                    "displayName",
                    "description",
                    "required",
                ],
                "a flow output",
            );
            let id = self.string(item, "id", true, "a flow output");
            let kind = self
                .string(item, "type", false, "a flow output")
                .unwrap_or_else(|| "STRING".into());
            let Some(value) = item.get("value") else {
                self.error(
                    item.pos,
                    "a flow output is missing required property `value`",
                );
                continue;
            };
            self.check_templates_in(Some(value), "value");
            if let Some(id) = id {
                out.push(FlowOutput {
                    id,
                    kind,
                    value: value.to_json(),
                    pos: item.pos,
                });
            }
        }
        out
    }

    /// A template naming `outputs.X` for a task that does not exist can never render.
    fn check_output_references(&mut self, flow: &Flow) {
        let known: HashSet<String> = self.task_ids.keys().cloned().collect();
        let mut problems = Vec::new();
        let mut check = |text: &str, pos: Pos, style: Style, prop: &str| {
            for (task, offset) in weir_template::referenced_outputs(text) {
                if !known.contains(&task) {
                    let (line, col) = line_col(text, offset);
                    problems.push((
                        template_pos(self.source, pos, style, text, line, col),
                        task,
                        prop.to_string(),
                    ));
                }
            }
        };
        for task in flow.all_tasks() {
            for (name, value) in &task.props {
                let (pos, style) = task
                    .prop_pos
                    .get(name)
                    .copied()
                    .unwrap_or((task.pos, Style::Plain));
                visit_strings(value, &mut |s| check(s, pos, style, name));
            }
            if let Some(r) = &task.run_if {
                check(r, task.pos, Style::Plain, "runIf");
            }
        }
        for o in &flow.outputs {
            visit_strings(&o.value, &mut |s| check(s, o.pos, Style::Plain, "outputs"));
        }
        for (pos, task, prop) in problems {
            let hint = closest(&task, known.iter().map(String::as_str))
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| "outputs can only name tasks of this flow".into());
            self.error_hint(
                pos,
                format!("`{prop}` refers to `outputs.{task}` but the flow has no task `{task}`"),
                hint,
            );
        }
    }
}

/// Where a key of a map is written (for errors about its value as a whole).
fn key_pos(map: &Node, key: &str) -> Pos {
    map.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_str() == Some(key)))
        .map_or(map.pos, |(k, _)| k.pos)
}

fn short_type(name: &str) -> &str {
    name.strip_prefix("io.kestra.plugin.").unwrap_or(name)
}

fn visit_strings(v: &serde_json::Value, f: &mut dyn FnMut(&str)) {
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(a) => a.iter().for_each(|x| visit_strings(x, f)),
        serde_json::Value::Object(m) => m.values().for_each(|x| visit_strings(x, f)),
        _ => {}
    }
}

/// 1-based line and column of a byte offset in a text.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Maps a line/column inside a template to a position in the flow file.
pub fn template_pos(
    source: &str,
    start: Pos,
    style: Style,
    _text: &str,
    line: usize,
    column: usize,
) -> Pos {
    match style {
        Style::Block => {
            // The scalar's position is the `|`/`>` indicator or its first content line,
            // depending on the parser; the text starts on the line after an indicator.
            let lines: Vec<&str> = source.lines().collect();
            let at_indicator = lines
                .get(start.line.saturating_sub(1))
                .and_then(|l| l.get(start.column.saturating_sub(1)..))
                .is_some_and(|rest| rest.trim_start().starts_with(['|', '>']));
            let first = if at_indicator {
                start.line + 1
            } else {
                start.line
            };
            let file_line = first + line - 1;
            let indent = lines
                .get(file_line.saturating_sub(1))
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count());
            Pos {
                line: file_line,
                column: indent + column,
            }
        }
        Style::Quoted if line == 1 => Pos {
            line: start.line,
            column: start.column + column,
        },
        _ if line == 1 => Pos {
            line: start.line,
            column: start.column + column - 1,
        },
        _ => Pos {
            line: start.line + line - 1,
            column,
        },
    }
}

/// Fills the properties a task does not set from matching `pluginDefaults` (type-prefix match).
fn apply_defaults(
    node: &Node,
    type_name: &str,
    spec: &TaskSpec,
    defaults: &[(String, bool, Node)],
) -> Node {
    let mut node = node.clone();
    for (prefix, forced, values) in defaults {
        let matches = type_name.starts_with(prefix.as_str())
            || spec.name.starts_with(prefix.as_str())
            || spec.aliases.iter().any(|a| a.starts_with(prefix.as_str()));
        if !matches {
            continue;
        }
        let Yaml::Map(entries) = &mut node.value else {
            continue;
        };
        for (k, v) in values.as_map().unwrap_or_default() {
            let key = k.as_str().unwrap_or_default();
            // A default for a whole plugin family only fills what this task type accepts.
            if spec.prop(key).is_none() && !COMMON_TASK_KEYS.contains(&key) {
                continue;
            }
            let existing = entries.iter().position(|(e, _)| e.as_str() == k.as_str());
            match existing {
                None => entries.push((k.clone(), v.clone())),
                Some(i) if *forced => entries[i].1 = v.clone(),
                Some(_) => {}
            }
        }
    }
    node
}

/// A cycle among a Dag's dependencies (ignoring unknown ids and self-loops, reported apart):
/// its ids, first repeated at the end, and where the edge closing it is written.
fn dag_cycle(edges: &[(String, Vec<(String, Pos)>)]) -> Option<(Vec<String>, Pos)> {
    let index: HashMap<&str, usize> = edges
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    // 0 unvisited, 1 on the current path, 2 done. Iterative, so a long chain cannot overflow.
    let mut mark = vec![0u8; edges.len()];
    for start in 0..edges.len() {
        if mark[start] != 0 {
            continue;
        }
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = 1;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let deps = &edges[node].1;
            if *next >= deps.len() {
                mark[node] = 2;
                path.pop();
                continue;
            }
            let (dep, pos) = &deps[*next];
            *next += 1;
            let Some(&d) = index.get(dep.as_str()) else {
                continue;
            };
            if d == node {
                continue;
            }
            match mark[d] {
                0 => {
                    mark[d] = 1;
                    path.push((d, 0));
                }
                1 => {
                    let from = path.iter().position(|(n, _)| *n == d).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..]
                        .iter()
                        .map(|(n, _)| edges[*n].0.clone())
                        .collect();
                    cycle.push(edges[d].0.clone());
                    return Some((cycle, *pos));
                }
                _ => {}
            }
        }
    }
    None
}
