//! [`Context`]: what a template sees, as shared JSON layers.
//!
//! An execution's context grows with every task run (all outputs so far). Copying it for each
//! render would make a flow of n tasks cost n² — so a context is a few shared layers instead:
//! the parts fixed for the execution, the outputs so far, and the task run's own small part.
//! Building one is a handful of reference-count increments.

use std::sync::Arc;

use serde_json::Value as Json;

/// JSON objects stacked in layers; a top-level name is looked up from the last layer down.
#[derive(Debug, Clone, Default)]
pub struct Context {
    layers: Vec<Arc<Json>>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// Adds a layer whose names hide the same names in earlier layers. Layers that are not
    /// JSON objects contribute no names.
    #[must_use]
    pub fn with(mut self, layer: Arc<Json>) -> Self {
        self.layers.push(layer);
        self
    }

    /// The value of a top-level name.
    pub fn get(&self, name: &str) -> Option<&Json> {
        self.layers.iter().rev().find_map(|l| l.get(name))
    }

    pub(crate) fn layers(&self) -> &[Arc<Json>] {
        &self.layers
    }

    /// Every top-level name, each once, in first-seen order.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for layer in &self.layers {
            if let Json::Object(map) = layer.as_ref() {
                for k in map.keys() {
                    if !out.contains(&k.as_str()) {
                        out.push(k);
                    }
                }
            }
        }
        out
    }
}

impl From<Json> for Context {
    fn from(json: Json) -> Self {
        Context::new().with(Arc::new(json))
    }
}

impl From<&Json> for Context {
    fn from(json: &Json) -> Self {
        Context::from(json.clone())
    }
}

impl From<&Context> for Context {
    fn from(ctx: &Context) -> Self {
        ctx.clone()
    }
}

impl From<Arc<Json>> for Context {
    fn from(json: Arc<Json>) -> Self {
        Context::new().with(json)
    }
}
