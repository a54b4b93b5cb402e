//! `profiles.yml`: profile → target → connection settings for DuckDB and PostgreSQL/Redshift,
//! with `{{ env_var('X') }}` and `{{ env_var('X', 'default') }}` resolved through the caller's
//! lookup (this crate reads no environment itself). Only the chosen target is rendered, as dbt
//! does, so a variable missing for another target is no error.

use super::yaml::{self, Yaml};
use super::{Diagnostics, location};
use serde_json::{Map, Value};
use weir_core::Diagnostic;

/// Looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The connection a run uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub profile: String,
    /// The target's name (`dev`), `target.name` in Jinja.
    pub name: String,
    pub threads: u32,
    pub adapter: Adapter,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Adapter {
    DuckDb(DuckDbTarget),
    Postgres(PostgresTarget),
    Redshift(PostgresTarget),
}

impl Adapter {
    /// `target.type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Adapter::DuckDb(_) => "duckdb",
            Adapter::Postgres(_) => "postgres",
            Adapter::Redshift(_) => "redshift",
        }
    }

    /// `target.schema`.
    pub fn schema(&self) -> &str {
        match self {
            Adapter::DuckDb(d) => &d.schema,
            Adapter::Postgres(p) | Adapter::Redshift(p) => &p.schema,
        }
    }

    /// `target.database`.
    pub fn database(&self) -> &str {
        match self {
            Adapter::DuckDb(d) => &d.database,
            Adapter::Postgres(p) | Adapter::Redshift(p) => &p.dbname,
        }
    }
}

/// dbt-duckdb's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DuckDbTarget {
    /// The database file, `:memory:` by default.
    pub path: String,
    /// `schema`, default `main`.
    pub schema: String,
    /// `database`, default the file's name without extension (`memory` in memory).
    pub database: String,
    pub attach: Vec<DuckDbAttach>,
    pub extensions: Vec<String>,
    /// `settings:` passed to DuckDB as `SET key = value`.
    pub settings: Map<String, Value>,
}

/// One `attach:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DuckDbAttach {
    pub path: String,
    pub alias: Option<String>,
    pub read_only: bool,
    /// `type` (`sqlite`, `postgres`, …), absent for DuckDB files.
    pub kind: Option<String>,
}

/// dbt-postgres's and dbt-redshift's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// `password` or its alias `pass`.
    pub password: Option<String>,
    /// `dbname` or its alias `database`.
    pub dbname: String,
    pub schema: String,
    pub sslmode: Option<String>,
    /// Everything else the output sets (`keepalives_idle`, `search_path`, …).
    pub extra: Map<String, Value>,
}

impl Target {
    /// Reads `profiles.yml` and renders the target `target` (or the profile's `target:`) of
    /// `profile`. `file` names the file in diagnostics.
    pub fn from_profiles(
        text: &str,
        file: &str,
        profile: &str,
        target: Option<&str>,
        env: EnvLookup,
    ) -> Result<Target, Diagnostics> {
        let root = yaml::parse(text, file).map_err(Diagnostics)?;
        let one = |d: Diagnostic| Diagnostics(vec![d]);
        let Some(prof) = root.get(profile) else {
            let names: Vec<&str> = root
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter_map(|(k, _)| k.as_str())
                .filter(|k| *k != "config")
                .collect();
            return Err(one(yaml::at(
                file,
                &root,
                format!("no profile named `{profile}` in `{file}`"),
            )
            .with_hint(format!("the profiles here: {}", names.join(", ")))));
        };
        let name = match target {
            Some(t) => t.to_string(),
            None => match prof.get("target") {
                Some(t) => render(file, t, env).map_err(one)?,
                None => "default".to_string(),
            },
        };
        let output = prof
            .get("outputs")
            .and_then(|o| o.get(&name))
            .ok_or_else(|| {
                one(yaml::at(
                    file,
                    prof,
                    format!("profile `{profile}` has no output named `{name}` under `outputs`"),
                ))
            })?;
        if output.as_map().is_none() {
            return Err(one(yaml::at(file, output, "an output should be a map")));
        }
        let mut values = Map::new();
        let mut errors = Vec::new();
        for (k, v) in output.as_map().unwrap_or_default() {
            let Some(k) = k.as_str() else { continue };
            match render_value(file, v, env) {
                Ok(v) => {
                    values.insert(k.to_string(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        let at = |key: &str| {
            let node = output.get(key).unwrap_or(output);
            location(file, node.pos.line, node.pos.column)
        };
        let text = |key: &str| {
            values
                .get(key)
                .filter(|v| !v.is_null())
                .map(super::scalar_text)
        };
        let number = |key: &str| -> Result<Option<u64>, Diagnostics> {
            match text(key) {
                None => Ok(None),
                Some(t) => t.trim().parse::<u64>().map(Some).map_err(|_| {
                    one(Diagnostic::new(
                        at(key),
                        format!("`{key}` should be a whole number, found `{t}`"),
                    ))
                }),
            }
        };
        let threads = number("threads")?.unwrap_or(1).max(1) as u32;
        let kind = text("type").ok_or_else(|| {
            one(Diagnostic::new(
                at("type"),
                format!("output `{name}` has no `type`"),
            ))
        })?;
        let adapter = match kind.as_str() {
            "duckdb" => {
                let path = text("path").unwrap_or_else(|| ":memory:".to_string());
                let database = text("database").unwrap_or_else(|| duckdb_database(&path));
                let attach = match values.get("attach") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|a| DuckDbAttach {
                            path: a.get("path").map(super::scalar_text).unwrap_or_default(),
                            alias: a.get("alias").map(super::scalar_text),
                            read_only: a.get("read_only").and_then(Value::as_bool).unwrap_or(false),
                            kind: a.get("type").map(super::scalar_text),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let extensions = match values.get("extensions") {
                    Some(Value::Array(items)) => items.iter().map(super::scalar_text).collect(),
                    _ => Vec::new(),
                };
                let settings = match values.get("settings") {
                    Some(Value::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                Adapter::DuckDb(DuckDbTarget {
                    path,
                    schema: text("schema").unwrap_or_else(|| "main".to_string()),
                    database,
                    attach,
                    extensions,
                    settings,
                })
            }
            "postgres" | "redshift" => {
                let required = |key: &str, alias: Option<&str>| {
                    text(key).or_else(|| alias.and_then(text)).ok_or_else(|| {
                        one(Diagnostic::new(
                            at("type"),
                            format!("output `{name}` ({kind}) needs `{key}`"),
                        ))
                    })
                };
                let default_port = if kind == "redshift" { 5439 } else { 5432 };
                let port = match number("port")? {
                    None => default_port,
                    Some(p) => u16::try_from(p).map_err(|_| {
                        one(Diagnostic::new(
                            at("port"),
                            format!("`port` {p} is not a port number"),
                        ))
                    })?,
                };
                let known = [
                    "type", "host", "port", "user", "password", "pass", "dbname", "database",
                    "schema", "threads", "sslmode",
                ];
                let pg = PostgresTarget {
                    host: required("host", None)?,
                    port,
                    user: required("user", None)?,
                    password: text("password").or_else(|| text("pass")),
                    dbname: required("dbname", Some("database"))?,
                    schema: required("schema", None)?,
                    sslmode: text("sslmode"),
                    extra: values
                        .iter()
                        .filter(|(k, _)| !known.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                };
                if kind == "redshift" {
                    Adapter::Redshift(pg)
                } else {
                    Adapter::Postgres(pg)
                }
            }
            other => {
                return Err(one(Diagnostic::new(
                    at("type"),
                    format!("the adapter type `{other}` is not supported"),
                )
                .with_hint("weir runs dbt projects on duckdb, postgres and redshift")));
            }
        };
        Ok(Target {
            profile: profile.to_string(),
            name,
            threads,
            adapter,
        })
    }
}

/// dbt-duckdb names the database after the file: `dev.duckdb` → `dev`, `:memory:` → `memory`.
fn duckdb_database(path: &str) -> String {
    if path == ":memory:" || path.is_empty() {
        return "memory".to_string();
    }
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    file.split('.').next().unwrap_or(file).to_string()
}

/// A value with every string rendered. Scalars stay typed where they were not templates.
fn render_value(file: &str, node: &Yaml, env: EnvLookup) -> Result<Value, Diagnostic> {
    if let Some(items) = node.as_seq() {
        return items
            .iter()
            .map(|i| render_value(file, i, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    if let Some(entries) = node.as_map() {
        let mut m = Map::new();
        for (k, v) in entries {
            if let Some(k) = k.as_str() {
                m.insert(k.to_string(), render_value(file, v, env)?);
            }
        }
        return Ok(Value::Object(m));
    }
    match node.as_str() {
        Some(s) if s.contains("{{") => render(file, node, env).map(Value::String),
        _ => Ok(node.to_json()),
    }
}

/// Renders the `{{ … }}` in a scalar. Only `env_var('X')` and `env_var('X', 'default')` are
/// understood, optionally piped through `int`, `as_number`, `as_text`, `as_bool` or `string`
/// (which change nothing in text). Anything else is an error naming the expression.
fn render(file: &str, node: &Yaml, env: EnvLookup) -> Result<String, Diagnostic> {
    let text = node.as_str().unwrap_or_default();
    let err =
        |message: String| Diagnostic::new(location(file, node.pos.line, node.pos.column), message);
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| err("`{{` without `}}`".to_string()))?;
        let expr = after[..end].trim();
        let mut parts = expr.split('|').map(str::trim);
        let call = parts.next().unwrap_or_default();
        for filter in parts {
            if !matches!(
                filter,
                "int" | "as_number" | "as_text" | "as_bool" | "string" | "trim"
            ) {
                return Err(err(format!(
                    "the filter `{filter}` is not supported in profiles"
                )));
            }
        }
        let args = call
            .strip_prefix("env_var")
            .map(str::trim_start)
            .and_then(|c| c.strip_prefix('('))
            .and_then(|c| c.trim_end().strip_suffix(')'))
            .ok_or_else(|| {
                err(format!("`{{{{ {expr} }}}}` is not supported here")).with_hint(
                    "profiles take `{{ env_var('NAME') }}` or `{{ env_var('NAME', 'default') }}`",
                )
            })?;
        let args = string_args(args)
            .ok_or_else(|| err(format!("`env_var` takes string literals, found `{args}`")))?;
        let value = match args.as_slice() {
            [name] => env(name).ok_or_else(|| {
                err(format!("the environment variable `{name}` is not set")).with_hint(format!(
                    "set `{name}`, or give a default: `env_var('{name}', '…')`"
                ))
            })?,
            [name, default] => env(name).unwrap_or_else(|| default.clone()),
            _ => {
                return Err(err(
                    "`env_var` takes a name and an optional default".to_string()
                ));
            }
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `'a', "b"` → `[a, b]`; `None` if an argument is not a string literal.
fn string_args(args: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = args.trim();
    while !rest.is_empty() {
        let quote = rest.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let end = rest[1..].find(quote)? + 1;
        out.push(rest[1..end].to_string());
        rest = rest[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}
