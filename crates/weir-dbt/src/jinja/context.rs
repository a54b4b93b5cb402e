//! dbt's Jinja context for one render: the root object every name falls back to (`ref`,
//! `this`, `adapter`, macros by name, …), the functions behind those names, and the `MacroRef`
//! proxy that makes project macros global.

use super::objects::{self, RelationObj, TableObj};
use super::{Adapter, GLOBAL_PACKAGE, Inner, MacroDef, find_ref, relation_of, ser};
use crate::project::{Node, ResourceType};
use minijinja::value::{Kwargs, Object, Rest, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// The parameter a macro reading `kwargs` gets (see `jinja::with_kwargs`).
pub(crate) const KWARGS_PARAM: &str = "kwargs";

/// The error text `return()` aborts a macro with; never shown when `return` is used in a macro.
const RETURN_SENTINEL: &str = "`return()` was called outside of a macro";

/// What a render accumulates.
#[derive(Default)]
pub(crate) struct RenderState {
    pub config: Map<String, Json>,
    pub depends_on: BTreeSet<String>,
    /// Ephemeral nodes `ref`fed, in first-call order.
    pub ephemerals: Vec<String>,
    pub logs: Vec<String>,
    /// `statement` results by name, as `load_result` returns them.
    pub results: BTreeMap<String, Value>,
    pub main_statement: Option<String>,
    /// `log(…, info=True)` (true) and `print(…)` (false) messages.
    pub stdout: Vec<(bool, String)>,
    /// One slot per macro call in progress; `return(x)` fills the innermost.
    pub returns: Vec<Option<Value>>,
}

pub(crate) struct Shared {
    pub inner: Arc<Inner>,
    pub adapter: Arc<dyn Adapter>,
    pub node: Node,
    pub is_incremental: bool,
    /// Names only some renders have (`sql` in a materialization).
    pub extra: BTreeMap<String, Value>,
    state: Mutex<RenderState>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<dbt context of {}>", self.node.unique_id)
    }
}

impl Shared {
    pub fn new(
        inner: Arc<Inner>,
        adapter: Arc<dyn Adapter>,
        node: Node,
        is_incremental: bool,
    ) -> Shared {
        Shared {
            inner,
            adapter,
            node,
            is_incremental,
            extra: BTreeMap::new(),
            state: Mutex::new(RenderState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RenderState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn take(&self) -> RenderState {
        std::mem::take(&mut *self.lock())
    }

    /// A config as the node has it now: set in the file, else from the project.
    fn config_value(&self, key: &str) -> Option<Json> {
        self.lock()
            .config
            .get(key)
            .cloned()
            .or_else(|| self.node.config.get(key).cloned())
    }

    fn relation_value(&self, node: &Node) -> Value {
        let relation = relation_of(&self.inner, node);
        Value::from_object(RelationObj::new(relation, self.adapter.as_ref()))
    }

    fn log(&self, message: String) {
        self.lock().logs.push(message);
    }
}

/// The root value of a render.
pub(crate) fn root(shared: &Arc<Shared>) -> Value {
    Value::from_object(Ctx(shared.clone()))
}

#[derive(Debug)]
struct Ctx(Arc<Shared>);

#[derive(Debug, Clone, Copy)]
enum Builtin {
    Ref,
    Source,
    Var,
    EnvVar,
    IsIncremental,
    Log,
    Print,
    RunQuery,
    Statement,
    LoadResult,
    Return,
    ToJson,
    FromJson,
}

impl Object for Ctx {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let shared = &self.0;
        let key = key.as_str()?;
        let builtin = |b| Some(Value::from_object(Func(shared.clone(), b)));
        if let Some(v) = shared.extra.get(key) {
            return Some(v.clone());
        }
        match key {
            "ref" => builtin(Builtin::Ref),
            "source" => builtin(Builtin::Source),
            "var" => builtin(Builtin::Var),
            "env_var" => builtin(Builtin::EnvVar),
            "is_incremental" => builtin(Builtin::IsIncremental),
            "log" => builtin(Builtin::Log),
            "print" => builtin(Builtin::Print),
            "run_query" => builtin(Builtin::RunQuery),
            "statement" => builtin(Builtin::Statement),
            "load_result" => builtin(Builtin::LoadResult),
            "return" => builtin(Builtin::Return),
            "tojson" => builtin(Builtin::ToJson),
            "fromjson" => builtin(Builtin::FromJson),
            "config" => Some(Value::from_object(ConfigObj(shared.clone()))),
            "adapter" => Some(Value::from_object(AdapterObj(shared.clone()))),
            "exceptions" => Some(Value::from_object(Exceptions(shared.clone()))),
            "modules" => Some(super::datetime::modules()),
            "run_started_at" => Some(super::datetime::now()),
            "this" => Some(shared.relation_value(&shared.node)),
            "target" => {
                let t = &shared.inner.target;
                Some(ser(serde_json::json!({
                    "name": t.name, "schema": t.schema, "database": t.database,
                    "type": t.kind, "threads": t.threads, "profile_name": t.name,
                })))
            }
            "model" => Some(model_value(&shared.node)),
            "execute" => Some(Value::from(true)),
            "pre_hooks" | "post_hooks" => Some(super::mutable::List::value(Vec::new())),
            "should_full_refresh" => Some(Value::from_function(|| false)),
            "api" => Some(Value::from_pairs([(
                "Relation",
                Value::from_object(RelationApi(shared.clone())),
            )])),
            "graph" => Some(graph_value(&shared.inner)),
            "zip" => Some(Value::from_function(zip)),
            "set" => Some(Value::from_function(py_set)),
            "list" => Some(Value::from_function(|v: Option<Value>| match v {
                Some(v) => super::mutable::make_list(v),
                None => Ok(super::mutable::List::value(Vec::new())),
            })),
            "dict" => Some(Value::from_function(
                |v: Option<Value>, kwargs: Kwargs| -> Result<Value, Error> {
                    let d = match v {
                        Some(v) => super::mutable::make_dict(v)?,
                        None => super::mutable::Dict::value(Vec::new()),
                    };
                    let mut pairs: Vec<(Value, Value)> = Vec::new();
                    for k in kwargs.args() {
                        pairs.push((Value::from(k), kwargs.get::<Value>(k)?));
                    }
                    let extra = super::mutable::Dict::value(pairs);
                    if let Some(obj) = d.downcast_object_ref::<super::mutable::Dict>() {
                        for k in extra.try_iter()? {
                            let v = extra.get_item(&k)?;
                            obj.set(k, v);
                        }
                    }
                    Ok(d)
                },
            )),
            "project_name" => Some(Value::from(shared.inner.project_name.clone())),
            "flags" => Some(ser(serde_json::json!({
                "FULL_REFRESH": false, "WHICH": "compile", "STORE_FAILURES": false,
            }))),
            _ => {
                if let Some(m) = find_macro(&shared.inner, &shared.node.package_name, key) {
                    return Some(macro_ref(shared, key, m));
                }
                if shared.inner.macros.contains_key(key) {
                    return Some(Value::from_object(Namespace(
                        shared.clone(),
                        key.to_string(),
                    )));
                }
                None
            }
        }
    }
}

/// `zip(a, b, …)`: lists of the items at each position, as long as the shortest input.
fn zip(lists: Rest<Value>) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = lists
        .iter()
        .map(|l| l.try_iter().map(Iterator::collect))
        .collect::<Result<_, _>>()?;
    let n = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..n)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

/// `set(items)`: the distinct items, in first-seen order.
fn py_set(items: Option<Value>) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    if let Some(items) = items {
        for v in items.try_iter()? {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    Ok(super::mutable::List::value(out))
}

/// `graph`: the project's nodes and sources by unique id, as the parts macros read.
fn graph_value(inner: &Inner) -> Value {
    let mut nodes = Map::new();
    let mut sources = Map::new();
    for (id, node) in &inner.nodes {
        let mut v = to_json(&model_value(node));
        if let (Some(src), Json::Object(m)) = (&node.source, &mut v) {
            m.insert("source_name".into(), Json::from(src.source_name.clone()));
            m.insert("schema".into(), Json::from(src.schema.clone()));
            m.insert("identifier".into(), Json::from(src.identifier.clone()));
            sources.insert(id.clone(), v);
        } else {
            nodes.insert(id.clone(), v);
        }
    }
    ser(serde_json::json!({"nodes": nodes, "sources": sources, "exposures": {}, "metrics": {}}))
}

/// A generic test node's call of its test macro, its arguments written as Jinja: a string
/// that holds `{{ … }}` is rendered (dbt renders test arguments), the others are literals.
pub(crate) fn test_call(node: &Node) -> Option<String> {
    let test = node.test.as_ref()?;
    if !node.raw_code.contains("_dbt_generic_test_kwargs") {
        return None;
    }
    let name = match &test.namespace {
        Some(ns) => format!("{ns}.test_{}", test.name),
        None => format!("test_{}", test.name),
    };
    let args: Vec<String> = test
        .kwargs
        .iter()
        .map(|(k, v)| format!("{k}={}", jinja_literal(v)))
        .collect();
    Some(format!("{{{{ {name}({}) }}}}", args.join(", ")))
}

fn jinja_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A YAML value as a Jinja expression.
fn jinja_literal(value: &Json) -> String {
    match value {
        Json::Null => "none".into(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => {
            if !s.contains("{{") {
                return jinja_string(s);
            }
            // `a {{ x }} b` → `('a ' ~ (x) ~ ' b')`.
            let mut parts = Vec::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("{{") {
                let Some(j) = rest[i..].find("}}") else {
                    break;
                };
                if i > 0 {
                    parts.push(jinja_string(&rest[..i]));
                }
                parts.push(format!("({})", rest[i + 2..i + j].trim()));
                rest = &rest[i + j + 2..];
            }
            if !rest.is_empty() {
                parts.push(jinja_string(rest));
            }
            if parts.len() == 1 {
                parts.remove(0)
            } else {
                format!("({})", parts.join(" ~ "))
            }
        }
        Json::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(jinja_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", jinja_string(k), jinja_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `api.Relation.create(database=…, schema=…, identifier=…)`.
#[derive(Debug)]
struct RelationApi(Arc<Shared>);

impl Object for RelationApi {
    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(invalid(format!(
                "`api.Relation.{method}` is not supported by weir"
            )));
        }
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let part = |i: usize, name: &str| -> Result<Option<String>, Error> {
            Ok(match pos.get(i) {
                Some(v) if !v.is_none() => Some(v.to_string()),
                Some(_) => None,
                None => kwargs
                    .get::<Option<Value>>(name)?
                    .filter(|v| !v.is_none() && !v.is_undefined())
                    .map(|v| v.to_string()),
            })
        };
        let relation = super::Relation {
            database: part(0, "database")?,
            schema: part(1, "schema")?.unwrap_or_default(),
            identifier: part(2, "identifier")?.unwrap_or_default(),
        };
        for k in ["type", "quote_policy", "include_policy"] {
            let _ = kwargs.get::<Option<Value>>(k);
        }
        Ok(Value::from_object(RelationObj::new(
            relation,
            self.0.adapter.as_ref(),
        )))
    }
}

/// `model`: the node being rendered, as the parts of dbt's node that macros read.
fn model_value(node: &Node) -> Value {
    ser(serde_json::json!({
        "unique_id": node.unique_id,
        "name": node.name,
        "resource_type": node.resource_type.as_str(),
        "package_name": node.package_name,
        "original_file_path": node.original_file_path,
        "path": node.path,
        "fqn": node.fqn,
        "config": node.config.0,
        "tags": node.tags,
        "raw_code": node.raw_code,
        "description": node.description,
    }))
}

/// A macro by name as dbt finds it from a node: its own package, the root project, then the
/// global macros.
fn find_macro<'a>(inner: &'a Inner, package: &str, name: &str) -> Option<&'a MacroDef> {
    [package, inner.project_name.as_str(), GLOBAL_PACKAGE]
        .iter()
        .find_map(|p| inner.macros.get(*p).and_then(|m| m.get(name)))
        .or_else(|| inner.macros.values().find_map(|m| m.get(name)))
}

fn macro_ref(shared: &Arc<Shared>, name: &str, def: &MacroDef) -> Value {
    Value::from_object(MacroRef {
        shared: shared.clone(),
        name: name.to_string(),
        file: def.file.clone(),
    })
}

/// A package's macros as attributes: `dbt.datediff`, `dbt_utils.star`.
#[derive(Debug)]
struct Namespace(Arc<Shared>, String);

impl Object for Namespace {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let def = self.0.inner.macros.get(&self.1)?.get(name)?;
        Some(macro_ref(&self.0, name, def))
    }

    /// `dbt_utils.star(…)`: the macro, or an error naming the package.
    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if let Some(m) = self.get_value(&Value::from(method)) {
            return m.call(state, args);
        }
        Err(invalid(format!(
            "the package `{}` has no macro named `{method}`",
            self.1
        )))
    }
}

/// A global macro: calling it renders its file in a fresh state with the same context and
/// calls the macro there, catching `return(x)`.
#[derive(Debug)]
pub(crate) struct MacroRef {
    shared: Arc<Shared>,
    name: String,
    file: String,
}

impl Object for MacroRef {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let args = render_caller(state, args)?;
        let template = state.env().get_template(&self.file)?;
        let mut captured = template.render_captured(root(&self.shared))?;
        self.shared.lock().returns.push(None);
        let macro_name = format!("{}{}", super::MACRO_PREFIX, self.name);
        let result = captured.with_state_mut(|s| {
            let args = match s.lookup(&macro_name) {
                Some(m) => pack_kwargs(&m, args)?,
                None => args,
            };
            s.call_macro(&macro_name, &args)
        });
        let returned = self.shared.lock().returns.pop().flatten();
        match (returned, result) {
            (Some(value), _) => Ok(value),
            (None, Ok(text)) => Ok(Value::from(text)),
            (None, Err(e)) => Err(e),
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }
}

/// For a macro with a `kwargs` parameter: the keyword arguments it does not declare, gathered
/// into a dict passed as `kwargs` (always a dict, empty when there are none).
fn pack_kwargs(m: &Value, mut args: Vec<Value>) -> Result<Vec<Value>, Error> {
    let declared: Vec<String> = match m.get_attr("arguments") {
        Ok(list) if !list.is_undefined() => list
            .try_iter()
            .map(|it| it.map(|v| v.to_string()).collect())
            .unwrap_or_default(),
        _ => return Ok(args),
    };
    if !declared.iter().any(|a| a == KWARGS_PARAM) {
        return Ok(args);
    }
    let kwargs = match args.last() {
        Some(last) if last.is_kwargs() => {
            from_args::<(Rest<Value>, Kwargs)>(std::slice::from_ref(last))
                .ok()
                .map(|(_, k)| k)
        }
        _ => None,
    };
    let mut known: Vec<(String, Value)> = Vec::new();
    let mut extra: Vec<(Value, Value)> = Vec::new();
    if let Some(kwargs) = &kwargs {
        for key in kwargs.args() {
            let value: Value = kwargs.peek(key)?;
            if declared.iter().any(|a| a == key) && key != KWARGS_PARAM {
                known.push((key.to_string(), value));
            } else if key == KWARGS_PARAM {
                for k in value.try_iter()? {
                    let v = value.get_item(&k)?;
                    extra.push((k, v));
                }
            } else {
                extra.push((Value::from(key), value));
            }
        }
        args.pop();
    }
    known.push((KWARGS_PARAM.to_string(), super::mutable::Dict::value(extra)));
    args.push(Value::from(known.into_iter().collect::<Kwargs>()));
    Ok(args)
}

/// A `caller` passed to a macro belongs to the calling render, so it is rendered there (with
/// no arguments, as `{% call %}` blocks in dbt are used) and passed on as a function returning
/// the text.
fn render_caller(state: &mut State<'_, '_>, args: &[Value]) -> Result<Vec<Value>, Error> {
    let mut args = args.to_vec();
    let Some(last) = args.last() else {
        return Ok(args);
    };
    let Ok((_, kwargs)) = from_args::<(Rest<Value>, Kwargs)>(std::slice::from_ref(last)) else {
        return Ok(args);
    };
    if !kwargs.has("caller") {
        return Ok(args);
    }
    let mut map: Vec<(String, Value)> = Vec::new();
    for key in kwargs.args() {
        let value: Value = kwargs.peek(key)?;
        if key == "caller" {
            let text = value.call(state, &[])?;
            let text = text.to_string();
            map.push((
                key.to_string(),
                Value::from_function(move |_: Rest<Value>| text.clone()),
            ));
        } else {
            map.push((key.to_string(), value));
        }
    }
    let n = args.len();
    args[n - 1] = Value::from(map.into_iter().collect::<Kwargs>());
    Ok(args)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

fn to_json(value: &Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

#[derive(Debug)]
struct Func(Arc<Shared>, Builtin);

impl Object for Func {
    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let shared = &self.0;
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let arg = |i: usize, name: &str| -> Option<Value> {
            pos.get(i)
                .cloned()
                .or_else(|| kwargs.get::<Option<Value>>(name).ok().flatten())
        };
        match self.1 {
            Builtin::Ref => {
                let strings: Vec<String> = pos.iter().map(|v| v.to_string()).collect();
                let (package, name) = match strings.as_slice() {
                    [name] => (None, name.as_str()),
                    [package, name] => (Some(package.as_str()), name.as_str()),
                    _ => {
                        return Err(invalid(format!(
                            "`ref` takes a name or a package and a name, got {} arguments",
                            strings.len()
                        )));
                    }
                };
                let _ = kwargs.get::<Option<Value>>("v");
                let _ = kwargs.get::<Option<Value>>("version");
                let inner = &shared.inner;
                let Some(target) = find_ref(inner, &shared.node.package_name, package, name) else {
                    let shown = package.map_or(name.to_string(), |p| format!("{p}.{name}"));
                    let disabled = inner
                        .disabled
                        .iter()
                        .any(|(p, n)| n == name && package.is_none_or(|q| q == p));
                    let what = if disabled {
                        "which is disabled"
                    } else {
                        "which was not found"
                    };
                    return Err(invalid(format!(
                        "`{}` depends on a node named `{shown}`, {what}",
                        shared.node.unique_id
                    )));
                };
                let mut st = shared.lock();
                st.depends_on.insert(target.unique_id.clone());
                if target.materialized() == "ephemeral"
                    && target.resource_type == ResourceType::Model
                {
                    if !st.ephemerals.contains(&target.unique_id) {
                        st.ephemerals.push(target.unique_id.clone());
                    }
                    return Ok(Value::from(format!("__dbt__cte__{}", target.name)));
                }
                drop(st);
                Ok(shared.relation_value(target))
            }
            Builtin::Source => {
                let [source, table] = pos else {
                    return Err(invalid("`source` takes a source name and a table name"));
                };
                let (source, table) = (source.to_string(), table.to_string());
                let found = shared
                    .inner
                    .nodes
                    .values()
                    .filter(|n| {
                        n.source
                            .as_ref()
                            .is_some_and(|s| s.source_name == source && s.table_name == table)
                    })
                    .min_by_key(|n| n.package_name != shared.node.package_name);
                let Some(found) = found else {
                    return Err(invalid(format!(
                        "`{}` depends on the source `{source}.{table}`, which was not found",
                        shared.node.unique_id
                    )));
                };
                shared.lock().depends_on.insert(found.unique_id.clone());
                Ok(shared.relation_value(found))
            }
            Builtin::Var => {
                let name = arg(0, "name").map(|v| v.to_string()).unwrap_or_default();
                let default = arg(1, "default");
                let inner = &shared.inner;
                if let Some(v) = inner.cli_vars.get(&name) {
                    return Ok(ser(v));
                }
                let packages: Vec<&str> = inner.macros.keys().map(String::as_str).collect();
                let vars = inner
                    .project_vars
                    .for_package(&shared.node.package_name, &packages);
                if let Some(v) = vars.get(&name) {
                    return Ok(ser(v));
                }
                default.ok_or_else(|| {
                    invalid(format!(
                        "the var `{name}` is required by `{}` but not set; set it under `vars:` in dbt_project.yml or with `--vars`",
                        shared.node.unique_id
                    ))
                })
            }
            Builtin::EnvVar => {
                let name = arg(0, "var").map(|v| v.to_string()).unwrap_or_default();
                match (shared.inner.env)(&name) {
                    Some(v) => Ok(Value::from(v)),
                    None => arg(1, "default").ok_or_else(|| {
                        invalid(format!(
                            "the environment variable `{name}` is required but not set"
                        ))
                    }),
                }
            }
            Builtin::IsIncremental => {
                let materialized = shared.config_value("materialized");
                Ok(Value::from(
                    shared.is_incremental
                        && materialized.as_ref().and_then(Json::as_str) == Some("incremental"),
                ))
            }
            Builtin::Log => {
                let msg = arg(0, "msg").map(|v| v.to_string()).unwrap_or_default();
                let info = arg(1, "info").is_some_and(|v| v.is_true());
                if info {
                    shared.lock().stdout.push((true, msg.clone()));
                }
                shared.log(msg);
                Ok(Value::from(""))
            }
            Builtin::Print => {
                let msg = arg(0, "msg").map(|v| v.to_string()).unwrap_or_default();
                shared.lock().stdout.push((false, msg));
                Ok(Value::from(""))
            }
            Builtin::RunQuery => {
                let sql = arg(0, "sql").map(|v| v.to_string()).unwrap_or_default();
                let table = shared
                    .adapter
                    .run_query(&sql)
                    .map_err(|e| invalid(format!("`run_query` failed: {e}")))?;
                Ok(Value::from_object(TableObj::new(table)))
            }
            Builtin::Statement => {
                let name = arg(0, "name").map(|v| v.to_string());
                let fetch = arg(1, "fetch_result").is_some_and(|v| v.is_true());
                for k in ["auto_begin", "language"] {
                    let _ = kwargs.get::<Option<Value>>(k);
                }
                let caller: Value = kwargs.get("caller")?;
                let sql = caller.call(state, &[])?.to_string();
                // dbt's `statement()` has no name by default; only `main` is the node's SQL.
                let name = name.filter(|n| n != "none").unwrap_or_default();
                if name == "main" {
                    shared.lock().main_statement = Some(sql.clone());
                }
                let table = shared
                    .adapter
                    .run_query(&sql)
                    .map_err(|e| invalid(format!("the statement `{name}` failed: {e}")))?;
                let data: Vec<Vec<Json>> = if fetch {
                    table.rows.clone()
                } else {
                    Vec::new()
                };
                let result = objects::result_value(&sql, data, table);
                shared.lock().results.insert(name, result);
                Ok(Value::from(""))
            }
            Builtin::LoadResult => {
                let name = arg(0, "name").map(|v| v.to_string()).unwrap_or_default();
                Ok(shared
                    .lock()
                    .results
                    .get(&name)
                    .cloned()
                    .unwrap_or(Value::from(())))
            }
            Builtin::Return => {
                let value = arg(0, "data").unwrap_or(Value::from(""));
                let mut st = shared.lock();
                match st.returns.last_mut() {
                    Some(slot) => {
                        *slot = Some(value);
                        Err(invalid(RETURN_SENTINEL))
                    }
                    None => Err(invalid(RETURN_SENTINEL)),
                }
            }
            Builtin::ToJson => {
                let value = arg(0, "value").unwrap_or_default();
                let _ = kwargs.get::<Option<Value>>("sort_keys");
                Ok(Value::from(to_json(&value).to_string()))
            }
            Builtin::FromJson => {
                let text = arg(0, "string").map(|v| v.to_string()).unwrap_or_default();
                match serde_json::from_str::<Json>(&text) {
                    Ok(v) => Ok(ser(v)),
                    Err(_) => Ok(arg(1, "default").unwrap_or(Value::from(()))),
                }
            }
        }
    }
}

/// `config`: `config(materialized='table')` captures and renders nothing; `config.get`,
/// `config.require` read the node's config.
#[derive(Debug)]
struct ConfigObj(Arc<Shared>);

impl Object for ConfigObj {
    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
        let mut st = self.0.lock();
        for p in pos {
            if let Json::Object(map) = to_json(p) {
                st.config.extend(map);
            }
        }
        for key in kwargs.args() {
            let value: Value = kwargs.get(key)?;
            st.config.insert(key.to_string(), to_json(&value));
        }
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (key, default): (String, Option<Value>) = from_args(args)?;
        let found = self.0.config_value(&key).map(ser);
        match method {
            "get" => Ok(found.or(default).unwrap_or(Value::from(()))),
            "require" => found.ok_or_else(|| {
                invalid(format!(
                    "the config `{key}` is required by `{}`",
                    self.0.node.unique_id
                ))
            }),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `adapter`: `dispatch`, `quote`, `get_columns_in_relation`, `get_relation`, `type`.
#[derive(Debug)]
struct AdapterObj(Arc<Shared>);

impl Object for AdapterObj {
    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let shared = &self.0;
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace = namespace.or(kwargs.get::<Option<String>>("macro_namespace")?);
                dispatch(shared, &name, namespace.as_deref())
            }
            "quote" => {
                let (ident,): (String,) = from_args(args)?;
                Ok(Value::from(shared.adapter.quote(&ident)))
            }
            "type" => Ok(Value::from(shared.adapter.kind().to_string())),
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                let relation = objects::relation_arg(&relation)?;
                let columns = shared
                    .adapter
                    .get_columns(&relation)
                    .map_err(|e| invalid(format!("`get_columns_in_relation` failed: {e}")))?;
                Ok(Value::from(
                    columns
                        .into_iter()
                        .map(|c| Value::from_object(objects::ColumnObj(c)))
                        .collect::<Vec<_>>(),
                ))
            }
            "get_relation" => {
                let (pos, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let part = |i: usize, name: &str| -> Result<Option<String>, Error> {
                    Ok(match pos.get(i) {
                        Some(v) => Some(v.to_string()),
                        None => kwargs.get::<Option<String>>(name)?,
                    })
                };
                let relation = super::Relation {
                    database: part(0, "database")?,
                    schema: part(1, "schema")?.unwrap_or_default(),
                    identifier: part(2, "identifier")?.unwrap_or_default(),
                };
                let exists = shared
                    .adapter
                    .relation_exists(&relation)
                    .map_err(|e| invalid(format!("`get_relation` failed: {e}")))?;
                Ok(if exists {
                    Value::from_object(RelationObj::new(relation, shared.adapter.as_ref()))
                } else {
                    Value::from(())
                })
            }
            "drop_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                let relation = objects::relation_arg(&relation)?;
                let a = shared.adapter.as_ref();
                let kind = a
                    .relation_type(&relation)
                    .map_err(|e| invalid(format!("`drop_relation` failed: {e}")))?;
                if let Some(kind) = kind {
                    let cascade = if a.kind() == "duckdb" { "" } else { " cascade" };
                    a.run_query(&format!(
                        "drop {kind} if exists {}{cascade}",
                        relation.render(a)
                    ))
                    .map_err(|e| invalid(format!("`drop_relation` failed: {e}")))?;
                }
                Ok(Value::from(()))
            }
            "rename_relation" => {
                let (from, to): (Value, Value) = from_args(args)?;
                let (from, to) = (objects::relation_arg(&from)?, objects::relation_arg(&to)?);
                let a = shared.adapter.as_ref();
                let kind = a
                    .relation_type(&from)
                    .map_err(|e| invalid(format!("`rename_relation` failed: {e}")))?
                    .unwrap_or_else(|| "table".into());
                a.run_query(&format!(
                    "alter {kind} {} rename to {}",
                    from.render(a),
                    a.quote(&to.identifier)
                ))
                .map_err(|e| invalid(format!("`rename_relation` failed: {e}")))?;
                Ok(Value::from(()))
            }
            _ => Err(invalid(format!(
                "`adapter.{method}` is not supported by weir"
            ))),
        }
    }
}

/// `adapter.dispatch(name, namespace)`: the first of `<adapter>__name` (for redshift also
/// `postgres__name`) and `default__name`, searching package by package — the namespace's
/// `search_order` from `dispatch:` in `dbt_project.yml` when there is one, else the root
/// project, then the namespace's package (all packages without one) — then dbt's global
/// macros.
fn dispatch(shared: &Arc<Shared>, name: &str, namespace: Option<&str>) -> Result<Value, Error> {
    let inner = &shared.inner;
    let kind = shared.adapter.kind();
    let mut prefixes = vec![kind];
    if kind == "redshift" {
        prefixes.push("postgres");
    }
    prefixes.push("default");
    let mut packages: Vec<&str> = Vec::new();
    match namespace.and_then(|ns| inner.dispatch.get(ns)) {
        // The project's `dispatch:` config decides the search order.
        Some(order) => packages.extend(order.iter().map(String::as_str)),
        None => {
            packages.push(inner.project_name.as_str());
            match namespace {
                Some(ns) => packages.push(ns),
                None => packages.extend(inner.macros.keys().map(String::as_str)),
            }
        }
    }
    packages.push(GLOBAL_PACKAGE);
    let mut tried = Vec::new();
    for package in &packages {
        let Some(macros) = inner.macros.get(*package) else {
            continue;
        };
        for prefix in &prefixes {
            let candidate = format!("{prefix}__{name}");
            if let Some(def) = macros.get(&candidate) {
                return Ok(macro_ref(shared, &candidate, def));
            }
            if !tried.contains(&candidate) {
                tried.push(candidate);
            }
        }
    }
    Err(invalid(format!(
        "no implementation of the macro `{name}` for `{kind}` (looked for {})",
        tried
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// `exceptions.raise_compiler_error(msg)`, `exceptions.warn(msg)`.
#[derive(Debug)]
struct Exceptions(Arc<Shared>);

impl Object for Exceptions {
    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (pos, _kwargs): (&[Value], Kwargs) = from_args(args)?;
        let msg = pos.first().map(|v| v.to_string()).unwrap_or_default();
        match method {
            "raise_compiler_error" | "raise_not_implemented" | "raise_fail_fast_error" => {
                Err(invalid(msg))
            }
            "warn" => {
                self.0.log(format!("warning: {msg}"));
                Ok(Value::from(""))
            }
            _ => Err(invalid(format!(
                "`exceptions.{method}` is not supported by weir"
            ))),
        }
    }
}
