//! Python's mutable lists and dicts for dbt's Jinja. minijinja's values are immutable, while dbt
//! packages build results with `{% do cols.append(c) %}` and `{% do d.update({...}) %}`. So
//! every list and dict literal written in a template (`[]`, `[a, b]`, `{}`, `{'k': v}`) is
//! rewritten at load time into a call that makes a `List` or `Dict` object: a shared value with
//! interior mutability that iterates, indexes, renders and serializes like the literal would.
//! Lists and dicts that come from elsewhere (filters, `split`, query results) stay immutable; a
//! mutating method on one of them is an error saying so.

use minijinja::value::{Enumerator, Object, ObjectRepr, Value, ValueKind, from_args};
use minijinja::{Error, ErrorKind, State};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

/// The global function a list literal is wrapped in.
pub(crate) const LIST_FN: &str = "__weir_list";
/// The global function a dict literal is wrapped in.
pub(crate) const DICT_FN: &str = "__weir_dict";

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// A Python list.
#[derive(Default)]
pub(crate) struct List(Mutex<Vec<Value>>);

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items().iter()).finish()
    }
}

impl List {
    pub fn value(items: Vec<Value>) -> Value {
        Value::from_object(List(Mutex::new(items)))
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Value>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn items(&self) -> Vec<Value> {
        self.lock().clone()
    }
}

/// A Python index (negative from the end) into a list of `len` items.
fn index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

impl Object for List {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.lock();
        let i = index(i64::try_from(key.clone()).ok()?, items.len())?;
        items.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.lock().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "append" => {
                let (item,): (Value,) = from_args(args)?;
                self.lock().push(item);
                Ok(none)
            }
            "extend" => {
                let (items,): (Value,) = from_args(args)?;
                let new: Vec<Value> = items.try_iter()?.collect();
                self.lock().extend(new);
                Ok(none)
            }
            "insert" => {
                let (at, item): (i64, Value) = from_args(args)?;
                let mut items = self.lock();
                let len = items.len() as i64;
                let at = if at < 0 {
                    (len + at).max(0)
                } else {
                    at.min(len)
                };
                items.insert(at as usize, item);
                Ok(none)
            }
            "pop" => {
                let (at,): (Option<i64>,) = from_args(args)?;
                let mut items = self.lock();
                let len = items.len();
                match index(at.unwrap_or(-1), len) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(invalid("pop index out of range")),
                }
            }
            "remove" => {
                let (item,): (Value,) = from_args(args)?;
                let mut items = self.lock();
                match items.iter().position(|v| *v == item) {
                    Some(i) => {
                        items.remove(i);
                        Ok(none)
                    }
                    None => Err(invalid(format!("list.remove({item}): not in list"))),
                }
            }
            "index" => {
                let (item,): (Value,) = from_args(args)?;
                self.lock()
                    .iter()
                    .position(|v| *v == item)
                    .map(Value::from)
                    .ok_or_else(|| invalid(format!("{item} is not in list")))
            }
            "count" => {
                let (item,): (Value,) = from_args(args)?;
                Ok(Value::from(
                    self.lock().iter().filter(|v| **v == item).count(),
                ))
            }
            "reverse" => {
                self.lock().reverse();
                Ok(none)
            }
            "clear" => {
                self.lock().clear();
                Ok(none)
            }
            "copy" => Ok(List::value(self.items())),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("list has no method named {method}"),
            )),
        }
    }
}

/// A Python dict, keeping insertion order.
#[derive(Default)]
pub(crate) struct Dict(Mutex<Vec<(Value, Value)>>);

impl fmt::Debug for Dict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.pairs()).finish()
    }
}

impl Dict {
    pub fn value(pairs: Vec<(Value, Value)>) -> Value {
        let dict = Dict::default();
        for (k, v) in pairs {
            dict.set(k, v);
        }
        Value::from_object(dict)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Value, Value)>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pairs(&self) -> Vec<(Value, Value)> {
        self.lock().clone()
    }

    fn get(&self, key: &Value) -> Option<Value> {
        self.lock()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn set(&self, key: Value, value: Value) {
        let mut pairs = self.lock();
        match pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => pairs.push((key, value)),
        }
    }

    fn remove(&self, key: &Value) -> Option<Value> {
        let mut pairs = self.lock();
        let i = pairs.iter().position(|(k, _)| k == key)?;
        Some(pairs.remove(i).1)
    }
}

/// The key/value pairs of any map value (a `Dict`, a plain map, an object).
fn pairs_of(value: &Value) -> Result<Vec<(Value, Value)>, Error> {
    if let Some(d) = value.downcast_object_ref::<Dict>() {
        return Ok(d.pairs());
    }
    if value.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "expected a dict, got {} `{value}`",
            value.kind()
        )));
    }
    Ok(value
        .try_iter()?
        .map(|k| {
            let v = value.get_item(&k).unwrap_or_default();
            (k, v)
        })
        .collect())
}

impl Object for Dict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.lock().iter().map(|(k, _)| k.clone()).collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.lock().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "update" => {
                let (pos, kwargs): (Option<Value>, minijinja::value::Kwargs) = from_args(args)?;
                if let Some(other) = pos {
                    for (k, v) in pairs_of(&other)? {
                        self.set(k, v);
                    }
                }
                for k in kwargs.args() {
                    let v: Value = kwargs.get(k)?;
                    self.set(Value::from(k), v);
                }
                Ok(none)
            }
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                Ok(self.get(&key).or(default).unwrap_or(none))
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                self.remove(&key)
                    .or(default)
                    .ok_or_else(|| invalid(format!("dict.pop: no key {key}")))
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                if let Some(v) = self.get(&key) {
                    return Ok(v);
                }
                let v = default.unwrap_or(none);
                self.set(key, v.clone());
                Ok(v)
            }
            "items" => Ok(List::value(
                self.pairs()
                    .into_iter()
                    .map(|(k, v)| Value::from(vec![k, v]))
                    .collect(),
            )),
            "keys" => Ok(List::value(
                self.pairs().into_iter().map(|(k, _)| k).collect(),
            )),
            "values" => Ok(List::value(
                self.pairs().into_iter().map(|(_, v)| v).collect(),
            )),
            "copy" => Ok(Dict::value(self.pairs())),
            "clear" => {
                self.lock().clear();
                Ok(none)
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("dict has no method named {method}"),
            )),
        }
    }
}

/// `__weir_list([…])`: a mutable copy of a list literal.
pub(crate) fn make_list(items: Value) -> Result<Value, Error> {
    Ok(List::value(items.try_iter()?.collect()))
}

/// `__weir_dict({…})`: a mutable copy of a dict literal.
pub(crate) fn make_dict(map: Value) -> Result<Value, Error> {
    Ok(Dict::value(pairs_of(&map)?))
}

/// Rewrites every list and dict literal inside the `{{ … }}` and `{% … %}` tags of a template
/// into `__weir_list([…])` / `__weir_dict({…})`, keeping every line where it was. A `[` right
/// after a name, `)` or `]` is a subscript and stays as it is.
pub(crate) fn rewrite_literals(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    loop {
        let next = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|open| text[at..].find(open).map(|i| (at + i, *open)))
            .min_by_key(|(i, _)| *i);
        let Some((start, open)) = next else {
            break;
        };
        let close = match open {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let body_start = start + 2;
        let Some(end) = find_close(text, body_start, close) else {
            break;
        };
        out.push_str(&text[at..body_start]);
        let body = &text[body_start..end];
        if open == "{#" || is_raw(body) {
            out.push_str(body);
        } else {
            out.push_str(&rewrite_expr(body));
        }
        if open == "{%" && is_raw(body) {
            // Copy a `{% raw %}` block untouched.
            let after = end + 2;
            let stop = text[after..]
                .find("endraw")
                .and_then(|i| text[after + i..].find("%}").map(|j| after + i + j))
                .unwrap_or(end);
            out.push_str(&text[end..stop]);
            at = stop;
            continue;
        }
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn is_raw(body: &str) -> bool {
    body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

/// The position of `close` ending a tag that starts at `from`, skipping string literals.
fn find_close(text: &str, from: usize, close: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) => {
                if b == b'\\' {
                    i += 1;
                } else if b == q {
                    quote = None;
                }
            }
            None => {
                if close != "#}" && (b == b'\'' || b == b'"') {
                    quote = Some(b);
                } else if text[i..].starts_with(close) {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

/// Wraps the list and dict literals of one tag's body.
fn rewrite_expr(body: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Open {
        Plain,
        Wrapped,
    }
    let mut out = String::with_capacity(body.len() + 32);
    let mut stack: Vec<(u8, Open)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    // The last significant character outside strings, to tell a literal from a subscript.
    let mut prev: Option<char> = None;
    // The last name (or keyword) written, when `prev` ends it.
    let mut word = String::new();
    let mut raw_prev: Option<char> = None;
    for c in body.chars() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
                prev = Some(c);
                word.clear();
            }
            raw_prev = Some(c);
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '[' | '{' => {
                let after_keyword = matches!(
                    word.as_str(),
                    "in" | "and" | "or" | "not" | "if" | "else" | "is" | "return"
                );
                let subscript = c == '['
                    && !after_keyword
                    && prev
                        .is_some_and(|p| p.is_alphanumeric() || matches!(p, '_' | ')' | ']' | '}'));
                if subscript {
                    stack.push((b'[', Open::Plain));
                    out.push(c);
                } else {
                    out.push_str(if c == '[' { LIST_FN } else { DICT_FN });
                    out.push('(');
                    out.push(c);
                    stack.push((c as u8, Open::Wrapped));
                }
                prev = Some(c);
                word.clear();
                raw_prev = Some(c);
                continue;
            }
            ']' | '}' => {
                out.push(c);
                match stack.pop() {
                    Some((_, Open::Wrapped)) => out.push(')'),
                    Some((_, Open::Plain)) | None => {}
                }
            }
            '(' => {
                stack.push((b'(', Open::Plain));
                out.push(c);
            }
            ')' => {
                if matches!(stack.last(), Some((b'(', _))) {
                    stack.pop();
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        if c.is_alphanumeric() || c == '_' {
            if !raw_prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
                word.clear();
            }
            word.push(c);
        } else if !c.is_whitespace() {
            word.clear();
        }
        if !c.is_whitespace() {
            prev = Some(c);
        }
        raw_prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_wrapped_and_subscripts_are_not() {
        assert_eq!(
            rewrite_literals("{% set x = [] %}{{ y[0] }}{% set d = {'a': [1]} %}"),
            "{% set x = __weir_list([]) %}{{ y[0] }}\
             {% set d = __weir_dict({'a': __weir_list([1])}) %}"
        );
        assert_eq!(
            rewrite_literals("select '[x]' {# [c] #} {{ f(a)[1] ~ '{' }} {{ g([1]) }}"),
            "select '[x]' {# [c] #} {{ f(a)[1] ~ '{' }} {{ g(__weir_list([1])) }}"
        );
        assert_eq!(
            rewrite_literals("{%- for c in ['a', \"b]\"] -%}\n{{ c }}{% endfor %}"),
            "{%- for c in __weir_list(['a', \"b]\"]) -%}\n{{ c }}{% endfor %}"
        );
        assert_eq!(
            rewrite_literals("{% raw %}{{ [1] }}{% endraw %}{{ [2] }}"),
            "{% raw %}{{ [1] }}{% endraw %}{{ __weir_list([2]) }}"
        );
    }
}
