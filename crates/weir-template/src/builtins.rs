//! Kestra's functions, filters and tests, registered on the minijinja environment.

use std::cell::Cell;
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::context::Context;
use crate::json::{self, JsonNode};
use crate::lookup::{EnvSecrets, ExecutionLookup, KvLookup, Masker, SecretLookup};
use crate::{datetime, pebble};

mod data;
mod files;
mod filters;

/// Name of the hidden context variable holding the render root (context and namespace).
pub(crate) const ROOT_VAR: &str = "__weir_root";

/// Largest list `range()` / `a..b` may build, to keep templates from exhausting memory.
const MAX_RANGE: usize = 100_000;

/// How deep `render()` may nest (a variable that renders itself would recurse forever).
const MAX_RENDER_DEPTH: usize = 16;

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// The context a template is rendered with: the caller's JSON plus the flow namespace.
#[derive(Debug, Clone)]
pub(crate) struct Root {
    /// The context's layers as lazy minijinja values, last layer first.
    layers: Arc<[Value]>,
    names: Arc<[Value]>,
    namespace: Arc<str>,
}

impl Root {
    pub fn new(ctx: Context, namespace: &str) -> Self {
        Root {
            layers: ctx
                .layers()
                .iter()
                .rev()
                .map(|l| json::to_value(Arc::clone(l)))
                .collect(),
            names: ctx.names().into_iter().map(Value::from).collect(),
            namespace: Arc::from(namespace),
        }
    }

    pub fn value(&self) -> Value {
        Value::from_object(self.clone())
    }

    fn of(state: &State) -> Result<Root, Error> {
        state
            .lookup(ROOT_VAR)
            .and_then(|v| v.downcast_object_ref::<Root>().cloned())
            .ok_or_else(|| err("internal error: render context is missing"))
    }
}

impl minijinja::value::Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if key.as_str() == Some(ROOT_VAR) {
            return Some(Value::from_object((**self).clone()));
        }
        self.layers
            .iter()
            .find_map(|l| l.get_item(key).ok().filter(|v| !v.is_undefined()))
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        minijinja::value::Enumerator::Values(self.names.to_vec())
    }
}

/// Registers everything Kestra templates expect on top of minijinja's builtins.
pub(crate) fn register(
    env: &mut Environment<'static>,
    kv: Arc<dyn KvLookup>,
    secrets: Arc<dyn SecretLookup>,
    masker: Masker,
    execution: Arc<dyn ExecutionLookup>,
) {
    // Functions.
    env.add_function("render", render_fn);
    register_execution(env, execution);
    env.add_function("currentEachOutput", files::current_each_output);
    env.add_function("yaml", data::yaml);
    env.add_function(
        "kv",
        move |state: &State, key: String, ns: Option<String>, kwargs: Kwargs| {
            kv_fn(kv.as_ref(), state, &key, ns, &kwargs)
        },
    );
    env.add_function("secret", move |name: String| -> Result<Value, Error> {
        match secrets.secret(&name) {
            Some(value) => {
                masker.add(&value);
                Ok(Value::from(value))
            }
            None => Err(err(format!(
                "secret `{name}` not found: set the environment variable `{}`",
                EnvSecrets::env_var(&name)
            ))),
        }
    });
    env.add_function("now", now_fn);
    env.add_function("uuid", || uuid::Uuid::new_v4().to_string());
    env.add_function("randomInt", random_int);
    env.add_function("range", range_fn);
    env.add_function("fromJson", from_json);
    env.add_function("json", from_json);
    env.add_function("max", |args: Rest<Value>| {
        extreme(args, std::cmp::Ordering::Greater)
    });
    env.add_function("min", |args: Rest<Value>| {
        extreme(args, std::cmp::Ordering::Less)
    });
    env.add_function("__weir_get", lenient_get);
    env.add_function("__weir_concat", concat);

    // Filters.
    env.add_filter("default", default_filter);
    env.add_filter("replace", replace_filter);
    env.add_filter("json", to_json);
    env.add_filter("toJson", to_json);
    env.add_filter("slugify", slugify);
    env.add_filter("number", number_filter);
    env.add_filter("startsWith", |s: String, p: String| s.starts_with(&p));
    env.add_filter("endsWith", |s: String, p: String| s.ends_with(&p));
    env.add_filter("keys", keys_filter);
    env.add_filter("values", values_filter);
    env.add_filter("substringBefore", |s: String, sep: String| {
        s.find(&sep).map_or(s.clone(), |i| s[..i].to_string())
    });
    env.add_filter("substringAfter", |s: String, sep: String| {
        s.find(&sep)
            .map_or(String::new(), |i| s[i + sep.len()..].to_string())
    });
    env.add_filter("substringBeforeLast", |s: String, sep: String| {
        s.rfind(&sep).map_or(s.clone(), |i| s[..i].to_string())
    });
    env.add_filter("substringAfterLast", |s: String, sep: String| {
        s.rfind(&sep)
            .map_or(String::new(), |i| s[i + sep.len()..].to_string())
    });
    env.add_filter("date", date_filter);
    env.add_filter("dateAdd", date_add_filter);
    env.add_filter("timestamp", |v: Value, k: Kwargs| timestamp(v, k, 1));
    env.add_filter("timestampMilli", |v: Value, k: Kwargs| {
        timestamp(v, k, 1_000)
    });
    env.add_filter("timestampMicro", |v: Value, k: Kwargs| {
        timestamp(v, k, 1_000_000)
    });
    env.add_filter("timestampNano", |v: Value, k: Kwargs| {
        timestamp(v, k, 1_000_000_000)
    });
    env.add_filter("base64encode", |s: String| base64_encode(s.as_bytes()));
    env.add_filter("base64decode", |s: String| -> Result<String, Error> {
        let bytes =
            base64_decode(&s).ok_or_else(|| err("base64decode: input is not valid base64"))?;
        String::from_utf8(bytes).map_err(|_| err("base64decode: decoded bytes are not UTF-8 text"))
    });
    env.add_filter("distinct", distinct);
    // Replaces minijinja's `slice`, which splits a list into N parts.
    env.add_filter("slice", slice_filter);
    // These replace minijinja's filters of the same name, which mean something else.
    env.add_filter("split", filters::split);
    env.add_filter("urlencode", filters::urlencode);
    env.add_filter("urldecode", filters::urldecode);
    env.add_filter("escapeChar", filters::escape_char);
    env.add_filter("rsort", filters::rsort);
    env.add_filter("chunk", filters::chunk);
    env.add_filter("flatten", filters::flatten);
    env.add_filter("merge", filters::merge);
    // Kestra spells it `numberFormat`, Pebble `numberformat`.
    env.add_filter("numberFormat", filters::number_format);
    env.add_filter("numberformat", filters::number_format);
    env.add_filter("nindent", |s: String, width: usize| {
        let pad = " ".repeat(width);
        let body: Vec<String> = s.lines().map(|l| format!("{pad}{l}")).collect();
        format!("\n{}", body.join("\n"))
    });
    env.add_filter("yaml", data::yaml);
    env.add_filter("jq", data::jq);
    env.add_filter("sha256", data::sha256);
    env.add_filter("sha1", data::sha1);
    env.add_filter("md5", data::md5);
    env.add_filter("toIon", data::to_ion);
    env.add_filter("abbreviate", |s: String, max: usize| {
        if s.chars().count() <= max {
            s
        } else {
            let keep = max.saturating_sub(3);
            format!("{}...", s.chars().take(keep).collect::<String>())
        }
    });

    // Tests.
    env.add_test("__weir_present", |v: &Value| {
        !v.is_undefined() && !v.is_none()
    });
    env.add_test("__weir_contains", contains_test);
    env.add_test("empty", is_empty);
    env.add_test("null", |v: &Value| v.is_none() || v.is_undefined());
    env.add_test("map", |v: &Value| v.kind() == ValueKind::Map);
    env.add_test("json", filters::is_json);
}

/// Functions reading the running execution's files and logs.
fn register_execution(env: &mut Environment<'static>, execution: Arc<dyn ExecutionLookup>) {
    let x = Arc::clone(&execution);
    env.add_function("read", move |state: &State, path: Value| {
        files::read(x.as_ref(), state, &path)
    });
    let x = Arc::clone(&execution);
    env.add_function("fileURI", move |state: &State, path: Value| {
        files::file_uri(x.as_ref(), state, &path)
    });
    let x = Arc::clone(&execution);
    env.add_function("fileExists", move |state: &State, path: Value| {
        files::file_exists(x.as_ref(), state, &path)
    });
    let x = Arc::clone(&execution);
    env.add_function("fileSize", move |state: &State, path: Value| {
        files::file_size(x.as_ref(), state, &path)
    });
    let x = Arc::clone(&execution);
    env.add_function("isFileEmpty", move |state: &State, path: Value| {
        files::is_file_empty(x.as_ref(), state, &path)
    });
    env.add_function("errorLogs", move |state: &State| {
        files::error_logs(execution.as_ref(), state)
    });
}

thread_local! {
    static RENDER_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Restores the `render()` nesting depth even when rendering fails.
struct DepthGuard;

impl DepthGuard {
    fn enter() -> Result<DepthGuard, Error> {
        let depth = RENDER_DEPTH.with(|d| {
            let n = d.get() + 1;
            d.set(n);
            n
        });
        let guard = DepthGuard;
        if depth > MAX_RENDER_DEPTH {
            return Err(err(format!(
                "render() nested more than {MAX_RENDER_DEPTH} levels deep (does a variable render itself?)"
            )));
        }
        Ok(guard)
    }
}

impl Drop for DepthGuard {
    fn drop(&mut self) {
        RENDER_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// `render(x)`: renders string `x` as a template with the current context. Kestra renders the
/// result again until it stops changing unless `recursive=false`.
fn render_fn(state: &State, value: Value, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive: Option<bool> = kwargs.get("recursive")?;
    kwargs.assert_all_used()?;
    let Some(text) = value.as_str() else {
        return Ok(value);
    };
    let _guard = DepthGuard::enter()?;
    let root = Root::of(state)?.value();
    let mut current = text.to_string();
    for _ in 0..MAX_RENDER_DEPTH {
        if !crate::has_template_syntax(&current) {
            break;
        }
        let translated = pebble::translate(&current);
        let next = state.env().render_str(&translated.source, root.clone())?;
        let done = !recursive.unwrap_or(true) || next == current;
        current = next;
        if done {
            break;
        }
    }
    Ok(Value::from(current))
}

fn kv_fn(
    kv: &dyn KvLookup,
    state: &State,
    key: &str,
    ns: Option<String>,
    kwargs: &Kwargs,
) -> Result<Value, Error> {
    let ns_kw: Option<String> = kwargs.get("namespace")?;
    let error_on_missing: Option<bool> = kwargs.get("errorOnMissing")?;
    kwargs.assert_all_used()?;
    let namespace = match ns.or(ns_kw) {
        Some(ns) => ns,
        None => Root::of(state)?.namespace.to_string(),
    };
    match kv.kv_get(&namespace, key) {
        Ok(Some(value)) => Ok(json::to_value(Arc::new(value))),
        Ok(None) if error_on_missing == Some(false) => Ok(Value::from(())),
        Ok(None) => Err(err(format!(
            "kv key `{key}` not found in namespace `{namespace}`"
        ))),
        Err(e) => Err(err(format!(
            "cannot read kv key `{key}` in namespace `{namespace}`: {e}"
        ))),
    }
}

fn now_fn(kwargs: Kwargs) -> Result<Value, Error> {
    let zone = zone_arg(&kwargs)?;
    kwargs.assert_all_used()?;
    let now = zone.convert(&chrono::Utc::now().fixed_offset());
    datetime::format(&now, "iso_micro")
        .map(Value::from)
        .map_err(err)
}

/// A random integer in `[lower, upper)`.
fn random_int(lower: i64, upper: i64) -> Result<i64, Error> {
    if upper <= lower {
        return Err(err(format!(
            "randomInt({lower}, {upper}): upper bound must be greater than lower bound"
        )));
    }
    // uuid v4 is backed by the OS random source, which avoids pulling in a RNG crate.
    let random = uuid::Uuid::new_v4().as_u128();
    let span = u128::from(upper.abs_diff(lower));
    let offset = i128::try_from(random % span).map_err(|_| err("randomInt: range too large"))?;
    i64::try_from(i128::from(lower) + offset).map_err(|_| err("randomInt: range too large"))
}

/// Pebble's `range(start, end, step=1)` is inclusive of `end`.
fn range_fn(start: i64, end: i64, step: Option<i64>) -> Result<Value, Error> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(err("range(): step must not be zero"));
    }
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        end.abs_diff(start) / step.unsigned_abs() + 1
    } else {
        0
    };
    if count > MAX_RANGE as u64 {
        return Err(err(format!(
            "range() would produce {count} items, more than the limit of {MAX_RANGE}"
        )));
    }
    let mut items = Vec::new();
    let mut cur = start;
    for _ in 0..count {
        items.push(Value::from(cur));
        cur = cur.saturating_add(step);
    }
    Ok(Value::from(items))
}

fn from_json(value: Value) -> Result<Value, Error> {
    match value.as_str() {
        Some(s) => serde_json::from_str::<serde_json::Value>(s)
            .map(|v| json::to_value(Arc::new(v)))
            .map_err(|e| err(format!("fromJson: invalid JSON: {e}"))),
        None => Ok(value),
    }
}

fn extreme(args: Rest<Value>, want: std::cmp::Ordering) -> Value {
    let mut best: Option<Value> = None;
    for v in args.iter() {
        let better = match &best {
            None => true,
            Some(b) => v.partial_cmp(b) == Some(want),
        };
        if better {
            best = Some(v.clone());
        }
    }
    best.unwrap_or_default()
}

/// `a.b['c']` that yields undefined instead of failing when any step is missing; used by the
/// `??` / `???` rewrites.
fn lenient_get(base: Value, path: Rest<Value>) -> Value {
    let mut cur = base;
    for key in path.iter() {
        if cur.is_undefined() || cur.is_none() {
            return Value::UNDEFINED;
        }
        cur = cur.get_item(key).unwrap_or(Value::UNDEFINED);
    }
    cur
}

/// The `~` operator with Pebble's stringification.
fn concat(parts: Rest<Value>) -> Result<String, Error> {
    let mut out = String::new();
    for part in parts.iter() {
        if part.is_undefined() {
            // Fails with an error naming the undefined variable.
            part.get_attr("")?;
        }
        match part.kind() {
            ValueKind::None => {}
            ValueKind::Bool => out.push_str(if part.is_true() { "true" } else { "false" }),
            ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
                if part.downcast_object_ref::<JsonNode>().is_none() =>
            {
                out.push_str(&to_json(part)?);
            }
            _ => out.push_str(&part.to_string()),
        }
    }
    Ok(out)
}

/// Pebble's `default`: applies when the value is undefined, null, or an empty string or
/// collection.
fn default_filter(value: &Value, fallback: Option<Value>) -> Value {
    if is_empty(value) {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value.clone()
    }
}

fn is_empty(v: &Value) -> bool {
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::String => v.as_str().is_some_and(str::is_empty),
        ValueKind::Seq | ValueKind::Map => v.len() == Some(0),
        _ => false,
    }
}

/// `replace({'a': 'b', ...})` (Pebble) or `replace('a', 'b')` (Jinja).
fn replace_filter(value: String, from: Value, to: Option<String>) -> Result<String, Error> {
    match (from.kind(), to) {
        (ValueKind::Map, None) => {
            let mut out = value;
            for key in from.try_iter()? {
                let replacement = from.get_item(&key)?;
                let key = key.to_string();
                if !key.is_empty() {
                    out = out.replace(&key, &replacement.to_string());
                }
            }
            Ok(out)
        }
        (_, Some(to)) => {
            let from = from.to_string();
            if from.is_empty() {
                Ok(value)
            } else {
                Ok(value.replace(&from, &to))
            }
        }
        _ => Err(err(
            "replace expects a map of replacements (replace({'old': 'new'})) or two strings (replace('old', 'new'))",
        )),
    }
}

fn to_json(value: &Value) -> Result<String, Error> {
    serde_json::to_string(&json::from_value(value))
        .map_err(|e| err(format!("cannot serialize to JSON: {e}")))
}

fn slugify(s: String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_dash = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c);
        } else {
            pending_dash = true;
        }
    }
    out
}

fn number_filter(value: Value, kind: Option<String>) -> Result<Value, Error> {
    let text = match value.kind() {
        ValueKind::Number => value.to_string(),
        ValueKind::String => value.as_str().unwrap_or_default().trim().to_string(),
        _ => return Err(err(format!("number: cannot convert `{value}` to a number"))),
    };
    let want_float = matches!(
        kind.as_deref().map(str::to_ascii_uppercase).as_deref(),
        Some("FLOAT" | "DOUBLE" | "BIGDECIMAL")
    );
    if !want_float && let Ok(i) = text.parse::<i64>() {
        return Ok(Value::from(i));
    }
    text.parse::<f64>()
        .map(Value::from)
        .map_err(|_| err(format!("number: `{text}` is not a number")))
}

fn keys_filter(value: Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Map => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
        ValueKind::Seq => Ok(Value::from(
            (0..value.len().unwrap_or(0))
                .map(Value::from)
                .collect::<Vec<_>>(),
        )),
        _ => Err(err(format!("keys: `{value}` is not a map"))),
    }
}

fn values_filter(value: Value) -> Result<Value, Error> {
    match value.kind() {
        ValueKind::Map => {
            let mut out = Vec::new();
            for key in value.try_iter()? {
                out.push(value.get_item(&key)?);
            }
            Ok(Value::from(out))
        }
        ValueKind::Seq => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
        _ => Err(err(format!("values: `{value}` is not a map"))),
    }
}

/// Pebble's `slice(fromIndex=0, toIndex=length)`: a sub-list, or a substring counted in
/// characters. Indexes out of range are errors, as in Pebble.
fn slice_filter(value: Value, from: Option<usize>, to: Option<usize>) -> Result<Value, Error> {
    let check = |len: usize| -> Result<(usize, usize), Error> {
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(len));
        if to > len {
            return Err(err(format!(
                "slice: toIndex {to} is past the end (the length is {len})"
            )));
        }
        if from > to {
            return Err(err(format!(
                "slice: fromIndex {from} is after toIndex {to}"
            )));
        }
        Ok((from, to))
    };
    if let Some(text) = value.as_str() {
        let (from, to) = check(text.chars().count())?;
        return Ok(Value::from(
            text.chars().skip(from).take(to - from).collect::<String>(),
        ));
    }
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            let (from, to) = check(items.len())?;
            Ok(Value::from(items[from..to].to_vec()))
        }
        ValueKind::Undefined => {
            // Fails with an error naming the undefined variable.
            value.get_attr("")?;
            Err(err("slice: the value is undefined"))
        }
        _ => Err(err(format!(
            "slice expects a list or a string, got `{value}`"
        ))),
    }
}

fn distinct(value: Value) -> Result<Value, Error> {
    let mut out: Vec<Value> = Vec::new();
    for v in value.try_iter()? {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Value::from(out))
}

fn contains_test(haystack: &Value, needle: &Value) -> bool {
    match haystack.kind() {
        ValueKind::String => match (haystack.as_str(), needle.as_str()) {
            (Some(h), Some(n)) => h.contains(n),
            (Some(h), None) => h.contains(&needle.to_string()),
            _ => false,
        },
        ValueKind::Map => haystack.get_item(needle).is_ok_and(|v| !v.is_undefined()),
        ValueKind::Seq | ValueKind::Iterable => {
            // Pebble: a list contains another list when it contains all of its items.
            let items: Vec<Value> = haystack
                .try_iter()
                .map(Iterator::collect)
                .unwrap_or_default();
            if needle.kind() == ValueKind::Seq {
                needle
                    .try_iter()
                    .map(|mut it| it.all(|n| items.contains(&n)))
                    .unwrap_or(false)
            } else {
                items.contains(needle)
            }
        }
        _ => false,
    }
}

/// The `timeZone` argument; Kestra reads dates in UTC (its servers' zone) without one.
fn zone_arg(kwargs: &Kwargs) -> Result<datetime::Zone, Error> {
    let zone: Option<String> = kwargs.get("timeZone")?;
    match zone {
        Some(zone) => datetime::Zone::parse(&zone).map_err(err),
        None => Ok(datetime::Zone::utc()),
    }
}

/// Parses the input of a date filter: a date string or epoch seconds. As in Kestra, a string
/// without an offset is a wall-clock time in `zone`, and `existing_format` is the pattern the
/// string is written in.
fn to_datetime(
    value: &Value,
    zone: &datetime::Zone,
    existing_format: Option<&str>,
) -> Result<datetime::Parsed, Error> {
    match value.kind() {
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            match existing_format {
                Some(pattern) => datetime::parse_with(text, pattern, zone),
                None => datetime::parse_str_in(text, zone),
            }
            .map_err(err)
        }
        ValueKind::Number => {
            let secs = f64::try_from(value.clone())
                .map_err(|_| err(format!("`{value}` is not a valid timestamp")))?;
            datetime::from_epoch_seconds(secs)
                .map(|at| datetime::Parsed { at, local: false })
                .map_err(err)
        }
        ValueKind::Undefined => {
            // `get_attr` on undefined fails with an error naming the undefined variable.
            value.get_attr("")?;
            Err(err("date: the value is undefined"))
        }
        _ => Err(err(format!(
            "date filters expect a date string or epoch seconds, got `{value}`"
        ))),
    }
}

/// Pebble's `date(format, timeZone, existingFormat, locale)`: each argument by position or by
/// name. The date is printed in `timeZone` (UTC without one), whatever zone it was written in.
fn date_filter(
    value: Value,
    format: Option<String>,
    zone: Option<String>,
    existing_format: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let format = named_or_positional(&kwargs, "format", format)?;
    let zone = match named_or_positional(&kwargs, "timeZone", zone)? {
        Some(zone) => datetime::Zone::parse(&zone).map_err(err)?,
        None => datetime::Zone::utc(),
    };
    let existing_format = named_or_positional(&kwargs, "existingFormat", existing_format)?;
    // weir prints English names whatever the locale; accepted so flows that pass it still run.
    let _: Option<String> = kwargs.get("locale")?;
    kwargs.assert_all_used()?;
    let dt = to_datetime(&value, &zone, existing_format.as_deref())?.at;
    datetime::format(&zone.convert(&dt), format.as_deref().unwrap_or("iso")).map_err(err)
}

/// An argument Pebble accepts by position or by name; giving both is a mistake worth reporting.
fn named_or_positional(
    kwargs: &Kwargs,
    name: &str,
    positional: Option<String>,
) -> Result<Option<String>, Error> {
    let named: Option<String> = kwargs.get(name)?;
    match (named, positional) {
        (Some(_), Some(_)) => Err(err(format!(
            "`{name}` is given both by position and by name"
        ))),
        (named, positional) => Ok(named.or(positional)),
    }
}

/// Kestra adds in the date's own zone (so `DAYS` keep the wall-clock time across a change of
/// offset in a region), then prints in `timeZone`.
fn date_add_filter(
    value: Value,
    amount: i64,
    unit: String,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let format: Option<String> = kwargs.get("format")?;
    let existing_format: Option<String> = kwargs.get("existingFormat")?;
    let _: Option<String> = kwargs.get("locale")?;
    let zone = zone_arg(&kwargs)?;
    kwargs.assert_all_used()?;
    let parsed = to_datetime(&value, &zone, existing_format.as_deref())?;
    let shifted = match zone {
        datetime::Zone::Named(tz) if parsed.local => {
            datetime::add(&parsed.at.with_timezone(&tz), amount, &unit)
                .map(|dt| dt.fixed_offset())
                .map_err(err)?
        }
        _ => datetime::add(&parsed.at, amount, &unit).map_err(err)?,
    };
    datetime::format(&zone.convert(&shifted), format.as_deref().unwrap_or("iso")).map_err(err)
}

fn timestamp(value: Value, kwargs: Kwargs, per_second: i64) -> Result<i64, Error> {
    let existing_format: Option<String> = kwargs.get("existingFormat")?;
    let zone = zone_arg(&kwargs)?;
    kwargs.assert_all_used()?;
    let dt = to_datetime(&value, &zone, existing_format.as_deref())?.at;
    let nanos_per_unit = 1_000_000_000 / per_second;
    dt.timestamp()
        .checked_mul(per_second)
        .and_then(|s| s.checked_add(i64::from(dt.timestamp_subsec_nanos()) / nanos_per_unit))
        .ok_or_else(|| err("timestamp out of range"))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data = clean
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(&clean[..0], |last| &clean[..=last]);
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The output formatter: null prints nothing (like Pebble), maps and lists print as JSON, and
/// printing an undefined value fails with minijinja's message naming the variable.
pub(crate) fn format_value(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), Error> {
    if value.is_undefined() {
        // `get_attr` on undefined fails with an error that remembers where the undefined value
        // came from, so minijinja reports "`inputs.nope` is undefined".
        return value.get_attr("").map(|_| ());
    }
    if value.is_none() {
        return Ok(());
    }
    if value.kind() == ValueKind::Bool {
        // Java prints booleans in lowercase; minijinja would print `True`.
        return out
            .write_str(if value.is_true() { "true" } else { "false" })
            .map_err(Error::from);
    }
    let is_container = matches!(
        value.kind(),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
    );
    if is_container && value.downcast_object_ref::<JsonNode>().is_none() {
        let text = serde_json::to_string(&json::from_value(value))
            .map_err(|e| err(format!("cannot print value as JSON: {e}")))?;
        out.write_str(&text).map_err(Error::from)
    } else {
        minijinja::escape_formatter(out, state, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip() {
        for s in ["", "f", "fo", "foo", "foobar", "héllo wörld"] {
            let enc = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&enc).as_deref(), Some(s.as_bytes()));
        }
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn slugify_words() {
        assert_eq!(slugify("Hello, World! 2024".into()), "hello-world-2024");
    }

    #[test]
    fn inclusive_range() {
        let v = range_fn(1, 3, None)
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert_eq!(v, "[1, 2, 3]");
    }
}
