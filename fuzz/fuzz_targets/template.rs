//! Any text as a Kestra template: checked and rendered, or refused, never a panic.
#![no_main]

use std::sync::Arc;
use weir_template::{KvLookup, Masker, Renderer, SecretLookup};

struct Kv;
impl KvLookup for Kv {
    fn kv_get(&self, _: &str, key: &str) -> Result<Option<serde_json::Value>, String> {
        Ok((key == "K").then(|| serde_json::json!({"a": [1, 2]})))
    }
}

struct Secrets;
impl SecretLookup for Secrets {
    fn secret(&self, name: &str) -> Option<String> {
        (name == "S").then(|| "hunter2".to_string())
    }
}

libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = weir_template::check_syntax(text);
    let r = Renderer::new(Arc::new(Kv), Arc::new(Secrets), Masker::default());
    let ctx = serde_json::json!({
        "inputs": {"a": "x,y", "n": 3, "d": "2024-01-15T12:00:00Z"},
        "outputs": {"t": {"value": 1.5, "list": [1, 2, 3]}},
        "vars": {"t": "{{ inputs.a }}"},
        "execution": {"id": "e1", "startDate": "2024-01-15T12:00:00.000000Z"},
        "trigger": {"date": "2024-01-15T12:00:00Z"},
    });
    let _ = r.render_str(text, &ctx, "ns");
});
