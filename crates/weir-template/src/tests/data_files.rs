//! `yaml`, `jq`, hashes, `toIon`, the file and log functions and `currentEachOutput`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::{ExecutionLookup, KvLookup, Masker, NoExecution, Renderer, SecretLookup};

struct Nothing;

impl KvLookup for Nothing {
    fn kv_get(&self, _: &str, _: &str) -> Result<Option<Json>, String> {
        Ok(None)
    }
}

impl SecretLookup for Nothing {
    fn secret(&self, _: &str) -> Option<String> {
        None
    }
}

/// Files by URI, and namespace files at `kestra:///<ns as folders>/_files/<path>`.
struct Files(HashMap<String, Vec<u8>>);

impl ExecutionLookup for Files {
    fn read_file(&self, uri: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.0.get(uri).cloned())
    }

    fn namespace_file_uri(&self, namespace: &str, path: &str) -> Result<String, String> {
        if path.contains("..") {
            return Err("`..` is not allowed".into());
        }
        Ok(format!(
            "kestra:///{}/_files/{}",
            namespace.replace('.', "/"),
            path.trim_start_matches('/')
        ))
    }

    fn error_logs(&self, execution_id: &str) -> Result<Vec<Json>, String> {
        Ok(vec![
            json!({"taskId": "boom", "level": "ERROR", "message": format!("failed in {execution_id}")}),
        ])
    }
}

fn renderer() -> Renderer {
    let mut files = HashMap::new();
    files.insert(
        "kestra:///company/team/_files/queries/q.sql".to_string(),
        b"select 1".to_vec(),
    );
    files.insert(
        "kestra:///company/team/_files/empty.txt".to_string(),
        Vec::new(),
    );
    files.insert(
        "kestra:///other/_files/hello.txt".to_string(),
        b"hi".to_vec(),
    );
    files.insert(
        "kestra:///company/team/f/executions/e1/tasks/t/r/out.csv".to_string(),
        b"a,b\n1,2\n".to_vec(),
    );
    Renderer::with_execution(
        Arc::new(Nothing),
        Arc::new(Nothing),
        Masker::default(),
        Arc::new(Files(files)),
    )
}

fn render(t: &str, ctx: &Json) -> String {
    renderer()
        .render_str(t, ctx, "company.team")
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn value(t: &str, ctx: &Json) -> Json {
    renderer()
        .render_value(&json!(t), ctx, "company.team")
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn fails(t: &str, ctx: &Json) -> String {
    match renderer().render_str(t, ctx, "company.team") {
        Ok(out) => panic!("{t} rendered `{out}`"),
        Err(e) => e.to_string(),
    }
}

// Kestra docs, expressions/filters/json: `{{ [1, 2, 3] | jq('.') }}`,
// `{{ [1, 2, 3] | jq('.[0]') | first }}`, `{{ outputs | jq('.task1.value') | first }}`.
#[test]
fn jq_returns_a_list_and_first_takes_the_result() {
    let ctx = json!({"outputs": {"task1": {"value": "v1"}}});
    assert_eq!(value("{{ [1, 2, 3] | jq('.') }}", &ctx), json!([[1, 2, 3]]));
    assert_eq!(
        value("{{ [1, 2, 3] | jq('.[0]') | first }}", &ctx),
        json!(1)
    );
    assert_eq!(
        render("{{ outputs | jq('.task1.value') | first }}", &ctx),
        "v1"
    );
    // A stream gives every result; the standard library is there (`map`, `select`).
    assert_eq!(
        value("{{ [1, 2, 3] | jq('.[] | select(. > 1)') }}", &ctx),
        json!([2, 3])
    );
    assert_eq!(
        value("{{ {'value': 2} | jq('.value * 2') | first }}", &ctx),
        json!(4)
    );
    // JSON text is queried as JSON.
    assert_eq!(
        value(r#"{{ '{"a": [1, 2]}' | jq('.a | length') | first }}"#, &ctx),
        json!(2)
    );
    assert!(fails("{{ [1] | jq('.[') }}", &ctx).contains("jq(`.[`)"));
    assert!(fails("{{ [1] | jq('nosuchfn') }}", &ctx).contains("nosuchfn"));
}

// Kestra docs, expressions/filters/yaml: `{{ "foo: bar" | yaml }}` parses YAML into an object;
// `{{ {"key": "value"} | yaml }}` (already an object) stays as it is.
#[test]
fn yaml_parses_text_into_values() {
    assert_eq!(
        value("{{ ('foo: bar' | yaml).foo }}", &json!({})),
        json!("bar")
    );
    assert_eq!(
        value("{{ {'key': 'value'} | yaml }}", &json!({})),
        json!({"key": "value"})
    );
    let ctx = json!({"text": "a: 1\nb: [x, true, null]\nc: '2'\n"});
    assert_eq!(
        value("{{ text | yaml }}", &ctx),
        json!({"a": 1, "b": ["x", true, null], "c": "2"})
    );
    assert_eq!(value("{{ yaml(text).b[0] }}", &ctx), json!("x"));
    assert!(fails("{{ 'a: [1' | yaml }}", &ctx).contains("yaml: invalid YAML"));
}

#[test]
fn hashes_are_lowercase_hex() {
    let ctx = json!({});
    assert_eq!(
        render("{{ 'hello' | sha256 }}", &ctx),
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(
        render("{{ 'hello' | sha1 }}", &ctx),
        "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    );
    assert_eq!(
        render("{{ 'hello' | md5 }}", &ctx),
        "5d41402abc4b2a76b9719d911017c592"
    );
}

// Kestra docs, expressions/filters/json: `{{ myObject | toIon }}`.
#[test]
fn to_ion_writes_ion_text() {
    let ctx = json!({"myObject": {"id": 1, "name": "a\"b", "my-key": [1.5, null, true]}});
    assert_eq!(
        render("{{ myObject | toIon }}", &ctx),
        r#"{id:1,name:"a\"b",'my-key':[1.5e0,null,true]}"#
    );
}

#[test]
fn merge_chunk_escape_and_number_format_behave_as_kestra() {
    let ctx = json!({});
    assert_eq!(
        value("{{ {'a': 1, 'b': 2} | merge({'b': 3, 'c': 4}) }}", &ctx),
        json!({"a": 1, "b": 3, "c": 4})
    );
    assert_eq!(
        value("{{ [1, 2, 3, 4, 5] | chunk(2) }}", &ctx),
        json!([[1, 2], [3, 4], [5]])
    );
    assert_eq!(
        render("{{ \"it's\" | escapeChar('single') }}", &ctx),
        "it\\'s"
    );
    assert_eq!(
        render("{{ 1234567.891 | numberFormat('#,##0.00') }}", &ctx),
        "1,234,567.89"
    );
}

// Kestra docs, faq/internal-storage: `{{ read(outputs.mytaskid.uri) }}`; function reference:
// `read()` reads a namespace file or an internal-storage file, `fileURI()` resolves a
// namespace file.
#[test]
fn file_functions_read_storage_and_namespace_files() {
    let ctx = json!({"outputs": {"mytaskid": {"uri": "kestra:///company/team/f/executions/e1/tasks/t/r/out.csv"}}});
    assert_eq!(
        render("{{ read(outputs.mytaskid.uri) }}", &ctx),
        "a,b\n1,2\n"
    );
    assert_eq!(render("{{ read('queries/q.sql') }}", &ctx), "select 1");
    assert_eq!(
        render("{{ read('nsfile:///queries/q.sql') }}", &ctx),
        "select 1"
    );
    assert_eq!(render("{{ read('nsfile://other/hello.txt') }}", &ctx), "hi");
    assert_eq!(
        render("{{ fileURI('queries/q.sql') }}", &ctx),
        "kestra:///company/team/_files/queries/q.sql"
    );
    assert_eq!(
        value("{{ fileSize(outputs.mytaskid.uri) }}", &ctx),
        json!(8)
    );
    assert_eq!(
        value("{{ fileExists(outputs.mytaskid.uri) }}", &ctx),
        json!(true)
    );
    assert_eq!(value("{{ fileExists('missing.txt') }}", &ctx), json!(false));
    assert_eq!(value("{{ isFileEmpty('empty.txt') }}", &ctx), json!(true));
    assert_eq!(
        value("{{ isFileEmpty('queries/q.sql') }}", &ctx),
        json!(false)
    );
    assert!(fails("{{ read('missing.txt') }}", &ctx).contains("`missing.txt` does not exist"));
    assert!(fails("{{ fileSize('missing.txt') }}", &ctx).contains("does not exist"));
    assert!(fails("{{ read('../x') }}", &ctx).contains("not allowed"));
}

#[test]
fn file_functions_outside_an_execution_say_so() {
    let r = Renderer::new(Arc::new(Nothing), Arc::new(Nothing), Masker::default());
    let err = r
        .render_str("{{ read('a.txt') }}", json!({}), "ns")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only readable while an execution runs"),
        "{err}"
    );
    let _ = NoExecution;
}

#[test]
fn error_logs_reads_the_execution_logs() {
    let ctx = json!({"execution": {"id": "e42"}});
    assert_eq!(
        render(
            "{{ errorLogs()[0].message }} in {{ errorLogs()[0].taskId }}",
            &ctx
        ),
        "failed in e42 in boom"
    );
}

// Kestra docs, function reference (workflow helpers): `currentEachOutput(outputs.x)`.
#[test]
fn current_each_output_picks_the_current_iteration() {
    let ctx = json!({
        "outputs": {"inner": {"a": {"x": {"value": "ax"}}, "b": {"x": {"value": "bx"}}}},
        "taskrun": {"value": "x"},
        "parents": [{"taskrun": {"value": "b"}}],
    });
    assert_eq!(
        render("{{ currentEachOutput(outputs.inner).value }}", &ctx),
        "bx"
    );
    let flat = json!({"outputs": {"t": {"1": {"value": "one"}}}, "taskrun": {"value": "1"}});
    assert_eq!(
        render("{{ currentEachOutput(outputs.t).value }}", &flat),
        "one"
    );
    assert!(
        fails(
            "{{ currentEachOutput(outputs.t) }}",
            &json!({"outputs": {"t": {}}})
        )
        .contains("only available inside ForEach")
    );
}
