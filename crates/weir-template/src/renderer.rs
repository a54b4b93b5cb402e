//! The [`Renderer`]: one configured minijinja environment rendering Kestra templates.

use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;

use crate::builtins::{self, Root};
use crate::context::Context;
use crate::error::TemplateError;
use crate::lookup::{ExecutionLookup, KvLookup, Masker, NoExecution, SecretLookup};
use crate::names::{self, NameKind};
use crate::pebble::{self, Translated};
use crate::{has_template_syntax, json};

/// Renders Kestra (Pebble) templates against a JSON context.
///
/// The environment is built once: building one per render is too slow for the engine.
pub struct Renderer {
    env: Environment<'static>,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").finish_non_exhaustive()
    }
}

/// Settings shared by rendering and syntax checking.
fn base_environment<'a>() -> Environment<'a> {
    let mut env = Environment::new();
    // Kestra keeps newlines exactly as written (Pebble's newLineTrimming is off).
    if let Ok(syntax) = SyntaxConfig::builder().keep_trailing_newline(true).build() {
        env.set_syntax(syntax);
    }
    env.set_auto_escape_callback(|_| AutoEscape::None);
    // Missing values are errors, but `{% if inputs.maybe %}` is simply false.
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    // Debug mode makes minijinja name the undefined expression in its errors.
    env.set_debug(true);
    env
}

/// The full rendering environment: base settings plus Kestra's functions, filters and tests.
/// Also the source of the known names used by [`check_syntax`].
pub(crate) fn kestra_environment(
    kv: Arc<dyn KvLookup>,
    secrets: Arc<dyn SecretLookup>,
    masker: Masker,
    execution: Arc<dyn ExecutionLookup>,
) -> Environment<'static> {
    let mut env = base_environment();
    env.set_formatter(builtins::format_value);
    builtins::register(&mut env, kv, secrets, masker, execution);
    env
}

impl Renderer {
    /// Builds the environment with Kestra's functions, filters and tests. File and log
    /// functions (`read()`, `errorLogs()`…) fail: see [`Renderer::with_execution`].
    pub fn new(kv: Arc<dyn KvLookup>, secrets: Arc<dyn SecretLookup>, masker: Masker) -> Self {
        Self::with_execution(kv, secrets, masker, Arc::new(NoExecution))
    }

    /// Like [`Renderer::new`], with file and log functions reading through `execution`.
    pub fn with_execution(
        kv: Arc<dyn KvLookup>,
        secrets: Arc<dyn SecretLookup>,
        masker: Masker,
        execution: Arc<dyn ExecutionLookup>,
    ) -> Self {
        Renderer {
            env: kestra_environment(kv, secrets, masker, execution),
        }
    }

    /// Render one template string. `namespace` is the flow's namespace: the default for kv('KEY').
    pub fn render_str(
        &self,
        template: &str,
        ctx: impl Into<Context>,
        namespace: &str,
    ) -> Result<String, TemplateError> {
        if !has_template_syntax(template) {
            return Ok(template.to_string());
        }
        let root = Root::new(ctx.into(), namespace);
        self.render_template(template, &root)
    }

    /// Render every string inside a JSON value (objects, arrays; keys untouched). Strings without
    /// "{{" or "{%" are returned unchanged fast.
    ///
    /// A string that is exactly one expression `{{ expr }}` whose result is not a string (a
    /// number, bool, list, map) keeps that type; otherwise the result is a string.
    pub fn render_value(
        &self,
        value: &Json,
        ctx: impl Into<Context>,
        namespace: &str,
    ) -> Result<Json, TemplateError> {
        if !contains_template(value) {
            return Ok(value.clone());
        }
        let root = Root::new(ctx.into(), namespace);
        self.render_json(value, &root)
    }

    fn render_json(&self, value: &Json, root: &Root) -> Result<Json, TemplateError> {
        Ok(match value {
            Json::String(s) if has_template_syntax(s) => self.render_typed(s, root)?,
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|v| self.render_json(v, root))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v, root)?)))
                    .collect::<Result<_, TemplateError>>()?,
            ),
            other => other.clone(),
        })
    }

    fn render_typed(&self, template: &str, root: &Root) -> Result<Json, TemplateError> {
        if let Some(expr) = pebble::single_expression(template)
            && let Ok(compiled) = self.env.compile_expression_owned(expr)
            && let Ok(value) = compiled.eval(root.value())
            && !value.is_undefined()
        {
            return Ok(match value.as_str() {
                Some(s) => Json::String(s.to_string()),
                None => json::from_value(&value),
            });
        }
        // Anything unusual (including every error) goes through the template path, which
        // reports errors with positions in the original text.
        self.render_template(template, root).map(Json::String)
    }

    fn render_template(&self, template: &str, root: &Root) -> Result<String, TemplateError> {
        let translated = pebble::translate(template);
        self.env
            .render_str(&translated.source, root.value())
            .map_err(|e| convert_error(&e, template, &translated))
    }
}

fn contains_template(value: &Json) -> bool {
    match value {
        Json::String(s) => has_template_syntax(s),
        Json::Array(items) => items.iter().any(contains_template),
        Json::Object(map) => map.values().any(contains_template),
        _ => false,
    }
}

/// Syntax-checks a template without rendering it.
///
/// Besides syntax errors this reports calls to functions, filters and tests that do not
/// exist, which minijinja itself would only notice while rendering.
pub fn check_syntax(template: &str) -> Result<(), TemplateError> {
    if !has_template_syntax(template) {
        return Ok(());
    }
    let translated = pebble::translate(template);
    let env = base_environment();
    let tmpl = env
        .template_from_str(&translated.source)
        .map_err(|e| convert_error(&e, template, &translated))?;
    let compiled = minijinja::machinery::get_compiled_template(&tmpl);
    let Some(unknown) = names::find_unknown(compiled) else {
        return Ok(());
    };
    let mut err = TemplateError::new(unknown.message());
    match unknown.offset {
        Some(offset) => {
            let approx = translated.original_offset(offset);
            let at = locate_name(template, approx, unknown.name);
            (err.line, err.column) = line_column(template, at);
        }
        None => err.line = unknown.line,
    }
    Err(err)
}

/// Turns a minijinja error into a [`TemplateError`] with positions in the original template.
fn convert_error(err: &minijinja::Error, original: &str, translated: &Translated) -> TemplateError {
    let message = match (err.kind(), err.detail()) {
        (ErrorKind::UndefinedError | ErrorKind::InvalidOperation, Some(detail)) => {
            detail.to_string()
        }
        (ErrorKind::UndefinedError, None) => "undefined value".to_string(),
        (ErrorKind::UnknownFunction, detail) => unknown_message(NameKind::Function, detail),
        (ErrorKind::UnknownFilter, detail) => unknown_message(NameKind::Filter, detail),
        (ErrorKind::UnknownTest, detail) => unknown_message(NameKind::Test, detail),
        (kind, Some(detail)) => format!("{kind}: {detail}"),
        (kind, None) => kind.to_string(),
    };
    let mut out = TemplateError::new(message);
    // Errors raised inside `render()` point into another template; only map our own.
    let ours = err
        .template_source()
        .is_none_or(|src| src == translated.source);
    if !ours {
        return out;
    }
    if let Some(range) = err.range() {
        let mut offset = translated.original_offset(range.start).min(original.len());
        if err.kind() == ErrorKind::SyntaxError
            && err
                .detail()
                .is_some_and(|d| d.starts_with("unexpected end of input"))
        {
            // minijinja points inside the last token; the tag left open is what matters.
            offset = unclosed_tag_start(original).unwrap_or(original.len());
        }
        (out.line, out.column) = line_column(original, offset);
    } else {
        out.line = err.line();
    }
    out
}

/// Rewrites minijinja's "x is unknown" / "filter x is unknown" into our wording, with a
/// suggestion when a known name is close.
fn unknown_message(kind: NameKind, detail: Option<&str>) -> String {
    let name = detail.and_then(|d| {
        let d = d.strip_suffix(" is unknown")?;
        let d = d
            .strip_prefix("filter ")
            .or_else(|| d.strip_prefix("test "))
            .unwrap_or(d);
        (!d.is_empty() && !d.contains(char::is_whitespace)).then_some(d)
    });
    match (name, detail) {
        (Some(name), _) => names::unknown_message(kind, name),
        (None, Some(detail)) => format!("unknown {}: {detail}", kind.label()),
        (None, None) => format!("unknown {}", kind.label()),
    }
}

/// The start of the last `{{` / `{%` tag that is never closed, if any.
fn unclosed_tag_start(src: &str) -> Option<usize> {
    let open = src.rfind("{{").into_iter().chain(src.rfind("{%")).max()?;
    let close = if src[open..].starts_with("{{") {
        "}}"
    } else {
        "%}"
    };
    (!src[open + 2..].contains(close)).then_some(open)
}

/// Finds where `name` is written near `approx`. Rewritten Pebble syntax only maps back
/// approximately, so when the name is not exactly at `approx`, the nearest whole-word
/// occurrence is taken.
fn locate_name(src: &str, approx: usize, name: &str) -> usize {
    let approx = floor_char_boundary(src, approx.min(src.len()));
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let whole_word = |at: usize| {
        src[..at].chars().next_back().is_none_or(|c| !is_ident(c))
            && src[at + name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !is_ident(c))
    };
    if name.is_empty() {
        return approx;
    }
    if src[approx..].starts_with(name) && whole_word(approx) {
        return approx;
    }
    src.match_indices(name)
        .map(|(at, _)| at)
        .filter(|&at| whole_word(at))
        .min_by_key(|&at| at.abs_diff(approx))
        .unwrap_or(approx)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(src: &str, offset: usize) -> (Option<usize>, Option<usize>) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        Some(before.matches('\n').count() + 1),
        Some(before[line_start..].chars().count() + 1),
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
