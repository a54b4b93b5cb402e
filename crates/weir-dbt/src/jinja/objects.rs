//! The values dbt's Jinja hands around: relations (`this`, `ref(…)`), query results
//! (`run_query`, `load_result`), columns, and the Python methods on strings, lists and dicts
//! that dbt code calls (`.lower()`, `.items()`, …).

use super::ser;
use super::{Adapter, Column, Relation, Table};
use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Error, ErrorKind, State};
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

/// A relation: renders as its quoted name; `.database`, `.schema`, `.identifier`, `.name`.
#[derive(Debug)]
pub(crate) struct RelationObj {
    pub relation: Relation,
    rendered: String,
}

impl RelationObj {
    pub fn new(relation: Relation, adapter: &dyn Adapter) -> Self {
        let rendered = relation.render(adapter);
        RelationObj { relation, rendered }
    }
}

impl Object for RelationObj {
    /// A mapping, as dbt's relations are (`dbt_utils._is_relation` checks `is mapping` and
    /// `metadata.type`); it still renders as its quoted name.
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let r = &self.relation;
        Some(match key.as_str()? {
            "database" => Value::from(r.database.clone()),
            "schema" => Value::from(r.schema.clone()),
            "identifier" | "name" | "table" => Value::from(r.identifier.clone()),
            "metadata" => Value::from_pairs([("type", Value::from("Relation"))]),
            "is_cte" => Value::from(false),
            "type" => Value::from(()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier"])
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "render" => Ok(Value::from(self.rendered.clone())),
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                Ok(self.get_value(&key).or(default).unwrap_or(Value::from(())))
            }
            // `relation.include(database=false)`: the name without the parts left out.
            "include" => {
                let (kwargs,): (minijinja::value::Kwargs,) = from_args(args)?;
                let keep = |k: &str| -> Result<bool, Error> {
                    Ok(kwargs.get::<Option<bool>>(k)?.unwrap_or(true))
                };
                let (db, schema, ident) = (keep("database")?, keep("schema")?, keep("identifier")?);
                let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                let r = &self.relation;
                let mut parts = Vec::new();
                if db && let Some(d) = r.database.as_deref().filter(|d| !d.is_empty()) {
                    parts.push(quoted(d));
                }
                if schema && !r.schema.is_empty() {
                    parts.push(quoted(&r.schema));
                }
                if ident {
                    parts.push(quoted(&r.identifier));
                }
                Ok(Value::from(parts.join(".")))
            }
            "incorporate" | "quote" => Ok(Value::from_dyn_object(self.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// The relation behind a `this`/`ref` value.
pub(crate) fn relation_arg(value: &Value) -> Result<Relation, Error> {
    value
        .downcast_object_ref::<RelationObj>()
        .map(|r| r.relation.clone())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("expected a relation (from `ref`, `source` or `this`), got `{value}`"),
            )
        })
}

/// A query's result as agate shows it to dbt code: `.rows`, `.columns`, `.column_names`,
/// `table[i]`, `len(table)`, `.print_table()`.
#[derive(Debug)]
pub(crate) struct TableObj(Arc<Table>);

impl TableObj {
    pub fn new(table: Table) -> Self {
        TableObj(Arc::new(table))
    }
}

fn rows_value(table: &Arc<Table>) -> Value {
    Value::from(
        (0..table.rows.len())
            .map(|i| Value::from_object(RowObj(table.clone(), i)))
            .collect::<Vec<_>>(),
    )
}

impl Object for TableObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return (i < self.0.rows.len()).then(|| Value::from_object(RowObj(self.0.clone(), i)));
        }
        match key.as_str()? {
            "rows" => Some(rows_value(&self.0)),
            "columns" => Some(Value::from(
                (0..self.0.columns.len())
                    .map(|i| Value::from_object(TableColumnObj(self.0.clone(), i)))
                    .collect::<Vec<_>>(),
            )),
            "column_names" => Some(ser(&self.0.columns)),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// One row: by position or by column name.
#[derive(Debug)]
struct RowObj(Arc<Table>, usize);

impl Object for RowObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let row = &self.0.rows[self.1];
        let i = match key.as_usize() {
            Some(i) => i,
            None => self
                .0
                .columns
                .iter()
                .position(|c| Some(c.as_str()) == key.as_str())?,
        };
        row.get(i).map(ser)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.rows[self.1].len())
    }
}

/// One column of a result: `.name`, `.values()`.
#[derive(Debug)]
struct TableColumnObj(Arc<Table>, usize);

impl TableColumnObj {
    fn values(&self) -> Value {
        Value::from(
            self.0
                .rows
                .iter()
                .map(|r| r.get(self.1).map(ser).unwrap_or_default())
                .collect::<Vec<_>>(),
        )
    }
}

impl Object for TableColumnObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.0.columns[self.1].clone())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(self.values()),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A column of a relation (`adapter.get_columns_in_relation`): `.name`, `.column`,
/// `.data_type`, `.dtype`, `.quoted`.
#[derive(Debug)]
pub(crate) struct ColumnObj(pub Column);

impl Object for ColumnObj {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.0.name.clone()),
            "data_type" | "dtype" => Value::from(self.0.data_type.clone()),
            "quoted" => Value::from(format!("\"{}\"", self.0.name.replace('"', "\"\""))),
            "fields" => Value::from(Vec::<Value>::new()),
            _ => return None,
        })
    }

    /// dbt's `Column` methods packages call (`union_relations` compares string sizes).
    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (): () = from_args(args)?;
        let t = self.0.data_type.to_lowercase();
        let base = t.split('(').next().unwrap_or("").trim().to_string();
        let is = |names: &[&str]| names.contains(&base.as_str());
        let string = is(&[
            "text",
            "varchar",
            "character varying",
            "string",
            "char",
            "character",
            "bpchar",
        ]);
        Ok(match method {
            "is_string" => Value::from(string),
            "is_integer" => Value::from(is(&[
                "integer", "int", "bigint", "smallint", "tinyint", "hugeint", "int4", "int8",
                "int2",
            ])),
            "is_float" => Value::from(is(&[
                "double",
                "float",
                "real",
                "double precision",
                "float4",
                "float8",
            ])),
            "is_numeric" => Value::from(is(&["numeric", "decimal"])),
            "is_number" => Value::from(is(&[
                "integer",
                "int",
                "bigint",
                "smallint",
                "tinyint",
                "hugeint",
                "double",
                "float",
                "real",
                "numeric",
                "decimal",
                "double precision",
            ])),
            // A string column without a declared size holds any length.
            "string_size" if string => {
                let size = t
                    .split_once('(')
                    .and_then(|(_, r)| r.trim_end_matches(')').trim().parse::<i64>().ok());
                Value::from(size.unwrap_or(i64::from(u16::MAX)))
            }
            "string_size" => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("string_size: `{}` is not a string column", self.0.name),
                ));
            }
            "string_type" => Value::from(self.0.data_type.clone()),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    }
}

/// What `load_result(name)` returns: `response`, `data` (rows as lists), `table`.
pub(crate) fn result_value(sql: &str, data: Vec<Vec<Json>>, table: Table) -> Value {
    let rows = table.rows.len();
    Value::from_pairs([
        (
            "response",
            ser(serde_json::json!({"code": "OK", "rows_affected": rows, "_message": "OK"})),
        ),
        ("data", ser(data)),
        ("table", Value::from_object(TableObj::new(table))),
        ("sql", Value::from(sql.to_string())),
    ])
}

/// Python's methods on strings, lists and dicts that dbt code calls. Lists and dicts are
/// immutable in minijinja, so `.append`/`.update` are not here.
pub(crate) fn python_methods(
    _: &mut State,
    value: &Value,
    method: &str,
    args: &[Value],
) -> Result<Value, Error> {
    match (value.kind(), method) {
        (ValueKind::String, _) => {
            let s = value.as_str().unwrap_or_default();
            string_method(s, method, args)
        }
        (ValueKind::Map, "items") => {
            let (): () = from_args(args)?;
            Ok(Value::from(
                value
                    .try_iter()?
                    .map(|k| {
                        let v = value.get_item(&k).unwrap_or_default();
                        Value::from(vec![k, v])
                    })
                    .collect::<Vec<_>>(),
            ))
        }
        (ValueKind::Map, "keys") => Ok(Value::from(value.try_iter()?.collect::<Vec<_>>())),
        (ValueKind::Map, "values") => Ok(Value::from(
            value
                .try_iter()?
                .map(|k| value.get_item(&k).unwrap_or_default())
                .collect::<Vec<_>>(),
        )),
        (ValueKind::Map, "get") => {
            let (key, default): (Value, Option<Value>) = from_args(args)?;
            let found = value.get_item(&key).ok().filter(|v| !v.is_undefined());
            Ok(found.or(default).unwrap_or(Value::from(())))
        }
        _ => Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("{} has no method named {method}", value.kind()),
        )),
    }
}

fn string_method(s: &str, method: &str, args: &[Value]) -> Result<Value, Error> {
    let text = |v: Option<String>| v.unwrap_or_default();
    Ok(match method {
        "lower" => Value::from(s.to_lowercase()),
        "upper" => Value::from(s.to_uppercase()),
        "strip" | "lstrip" | "rstrip" => {
            let (chars,): (Option<String>,) = from_args(args)?;
            let pat = |c: char| match &chars {
                Some(set) => set.contains(c),
                None => c.is_whitespace(),
            };
            Value::from(match method {
                "strip" => s.trim_matches(pat),
                "lstrip" => s.trim_start_matches(pat),
                _ => s.trim_end_matches(pat),
            })
        }
        "split" => {
            let (sep,): (Option<String>,) = from_args(args)?;
            let parts: Vec<Value> = match sep {
                Some(sep) => s.split(sep.as_str()).map(Value::from).collect(),
                None => s.split_whitespace().map(Value::from).collect(),
            };
            Value::from(parts)
        }
        "replace" => {
            let (from, to): (String, String) = from_args(args)?;
            Value::from(s.replace(&from, &to))
        }
        "startswith" => {
            let (p,): (Option<String>,) = from_args(args)?;
            Value::from(s.starts_with(&text(p)))
        }
        "endswith" => {
            let (p,): (Option<String>,) = from_args(args)?;
            Value::from(s.ends_with(&text(p)))
        }
        "join" => {
            let (items,): (Value,) = from_args(args)?;
            let parts: Vec<String> = items.try_iter()?.map(|v| v.to_string()).collect();
            Value::from(parts.join(s))
        }
        "format" => {
            let mut out = s.to_string();
            for a in args {
                out = out.replacen("{}", &a.to_string(), 1);
            }
            Value::from(out)
        }
        _ => {
            return Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("string has no method named {method}"),
            ));
        }
    })
}
