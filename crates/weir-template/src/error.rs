//! The error type for template syntax and rendering failures.

use std::fmt;

/// A template failed to parse or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    /// What went wrong, phrased for the flow author.
    pub message: String,
    /// 1-based line within the template, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) within that line, when known.
    pub column: Option<usize>,
}

impl TemplateError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TemplateError {
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, " (template line {l}, column {c})"),
            (Some(l), None) => write!(f, " (template line {l})"),
            _ => Ok(()),
        }
    }
}
