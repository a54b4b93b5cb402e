//! The [`Renderer`]: one configured minijinja environment rendering Kestra templates.

use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value as Json;

use crate::builtins::{self, Root};
use crate::error::TemplateError;
use crate::lookup::{KvLookup, Masker, SecretLookup};
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

impl Renderer {
    /// Builds the environment with Kestra's functions, filters and tests.
    pub fn new(kv: Arc<dyn KvLookup>, secrets: Arc<dyn SecretLookup>, masker: Masker) -> Self {
        let mut env = base_environment();
        env.set_formatter(builtins::format_value);
        builtins::register(&mut env, kv, secrets, masker);
        Renderer { env }
    }

    /// Render one template string. `namespace` is the flow's namespace: the default for kv('KEY').
    pub fn render_str(
        &self,
        template: &str,
        ctx: &Json,
        namespace: &str,
    ) -> Result<String, TemplateError> {
        if !has_template_syntax(template) {
            return Ok(template.to_string());
        }
        let root = Root::new(Arc::new(ctx.clone()), namespace);
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
        ctx: &Json,
        namespace: &str,
    ) -> Result<Json, TemplateError> {
        if !contains_template(value) {
            return Ok(value.clone());
        }
        let root = Root::new(Arc::new(ctx.clone()), namespace);
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
pub fn check_syntax(template: &str) -> Result<(), TemplateError> {
    if !has_template_syntax(template) {
        return Ok(());
    }
    let translated = pebble::translate(template);
    let env = base_environment();
    env.template_from_str(&translated.source)
        .map(|_| ())
        .map_err(|e| convert_error(&e, template, &translated))
}

/// Turns a minijinja error into a [`TemplateError`] with positions in the original template.
fn convert_error(err: &minijinja::Error, original: &str, translated: &Translated) -> TemplateError {
    let message = match (err.kind(), err.detail()) {
        (ErrorKind::UndefinedError | ErrorKind::InvalidOperation, Some(detail)) => {
            detail.to_string()
        }
        (ErrorKind::UndefinedError, None) => "undefined value".to_string(),
        (
            ErrorKind::UnknownFunction | ErrorKind::UnknownFilter | ErrorKind::UnknownTest,
            Some(d),
        ) => d.to_string(),
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
        let offset = translated.original_offset(range.start).min(original.len());
        let offset = floor_char_boundary(original, offset);
        let before = &original[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        out.line = Some(before.matches('\n').count() + 1);
        out.column = Some(before[line_start..].chars().count() + 1);
    } else {
        out.line = err.line();
    }
    out
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
