//! Kestra's Pebble template dialect implemented on minijinja.
//!
//! This crate is pure: it performs no file or network I/O. The KV store and secrets are reached
//! through the [`KvLookup`] and [`SecretLookup`] traits, and every secret value that a template
//! resolves is recorded in a [`Masker`] so callers can hide it in logs and outputs.
//!
//! Pebble-only syntax (`??`, `? :`, `elseif`, `..`, `contains`, `null`, ...) is translated into
//! minijinja source before compiling; see the `pebble` module.

mod builtins;
mod context;
mod datetime;
mod error;
mod json;
mod lookup;
mod names;
mod pebble;
mod renderer;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

pub use context::Context;
pub use error::TemplateError;
pub use lookup::{EnvSecrets, ExecutionLookup, KvLookup, Masker, NoExecution, SecretLookup};
pub use renderer::{Renderer, check_syntax};

/// For static validation: every `outputs.<id>` / `outputs['id']` task id referenced by a
/// template, with the byte offset of the reference in the template text.
pub fn referenced_outputs(template: &str) -> Vec<(String, usize)> {
    pebble::referenced_outputs(template)
}

/// Whether a string contains anything the template engine would act on.
pub(crate) fn has_template_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}
