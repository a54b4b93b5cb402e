//! Kestra-compatible flows as data: YAML text in, a validated `Flow` with source positions out.
//!
//! Nothing here reads files or runs anything: callers hand in the text and a `Catalog` of task
//! types, and get back either a `Flow` or every problem found, each with file, line and column.

pub mod catalog;
pub mod inputs;
pub mod model;
pub mod parse;
pub mod schema;
pub mod yaml;

pub use catalog::{Catalog, PropKind, PropSpec, TaskSpec};
pub use inputs::resolve_inputs;
pub use model::*;
pub use parse::{parse_flow, valid_namespace};

#[cfg(test)]
mod tests;
