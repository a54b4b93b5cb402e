//! Property tests: the Pebble rewriter and the renderer return for any text, never panic.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use crate::{KvLookup, Masker, Renderer, SecretLookup, check_syntax, pebble};

struct NoKv;
impl KvLookup for NoKv {
    fn kv_get(&self, _: &str, key: &str) -> Result<Option<serde_json::Value>, String> {
        Ok((key == "K").then(|| json!("v")))
    }
}

struct NoSecrets;
impl SecretLookup for NoSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        (name == "S").then(|| "hunter2".to_string())
    }
}

fn renderer() -> Renderer {
    Renderer::new(Arc::new(NoKv), Arc::new(NoSecrets), Masker::default())
}

/// Template-shaped text: Pebble's delimiters, operators, filters and functions in any order,
/// so the generator reaches the rewriter's and the renderer's paths, not only syntax errors.
fn templatish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{%".to_string()),
        Just("%}".to_string()),
        Just(" if ".to_string()),
        Just(" endif ".to_string()),
        Just(" elseif ".to_string()),
        Just(" for x in ".to_string()),
        Just(" endfor ".to_string()),
        Just(" ?? ".to_string()),
        Just(" ??? ".to_string()),
        Just(" ? ".to_string()),
        Just(" : ".to_string()),
        Just("..".to_string()),
        Just(" | ".to_string()),
        Just("inputs.a".to_string()),
        Just("outputs.t.value".to_string()),
        Just("vars.list".to_string()),
        Just("kv('K')".to_string()),
        Just("secret('S')".to_string()),
        Just("render(vars.t)".to_string()),
        Just("date('yyyy-MM-dd')".to_string()),
        Just("dateAdd(1, 'DAYS')".to_string()),
        Just("slice(1, 3)".to_string()),
        Just("json".to_string()),
        Just("toJson".to_string()),
        Just("upper".to_string()),
        Just("split(',')".to_string()),
        Just("replace({'a': 'b'})".to_string()),
        Just(" is null ".to_string()),
        Just(" is defined ".to_string()),
        Just(" contains ".to_string()),
        Just("'text'".to_string()),
        Just("\"q\"".to_string()),
        Just("[1, 2, 3]".to_string()),
        Just("-7".to_string()),
        Just("1e308".to_string()),
        Just("99999999999999999999".to_string()),
        "[ -~]{0,8}",
    ];
    prop::collection::vec(piece, 0..16).prop_map(|v| v.concat())
}

fn context() -> serde_json::Value {
    json!({
        "inputs": {"a": "x,y", "n": 3},
        "outputs": {"t": {"value": 1.5}},
        "vars": {"list": [1, 2, 3], "t": "{{ inputs.a }}"},
        "execution": {"id": "e1", "startDate": "2024-01-15T12:00:00.000000Z"},
        "trigger": {"date": "2024-01-15T12:00:00Z"},
    })
}

proptest! {
    /// The rewriter's offset map stays inside the original text for every output offset.
    #[test]
    fn rewriter_offsets_stay_inside_the_text(src in templatish()) {
        let t = pebble::translate(&src);
        for i in 0..=t.source.len() {
            prop_assert!(t.original_offset(i) <= src.len());
        }
    }

    #[test]
    fn any_text_renders_or_is_refused(src in "\\PC{0,80}") {
        let r = renderer();
        let _ = check_syntax(&src);
        let _ = r.render_str(&src, context(), "ns");
    }

    #[test]
    fn template_shaped_text_renders_or_is_refused(src in templatish()) {
        let r = renderer();
        let _ = check_syntax(&src);
        let _ = r.render_str(&src, context(), "ns");
        let _ = r.render_value(&json!([src]), context(), "ns");
    }

    /// A secret reached by any template never comes out in clear once masked.
    #[test]
    fn rendered_secrets_are_masked(prefix in "[a-z ]{0,8}", suffix in "[a-z ]{0,8}") {
        let masker = Masker::default();
        let r = Renderer::new(Arc::new(NoKv), Arc::new(NoSecrets), masker.clone());
        let out = r
            .render_str(&format!("{prefix}{{{{ secret('S') }}}}{suffix}"), context(), "ns")
            .unwrap_or_default();
        prop_assert!(!masker.mask(&out).contains("hunter2"));
    }
}
