//! End-to-end tests of the renderer against a Kestra-shaped context.

mod data_files;
mod pebble_table;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value as Json, json};

use crate::{
    KvLookup, Masker, Renderer, SecretLookup, TemplateError, check_syntax, referenced_outputs,
};

struct MapKv(HashMap<(String, String), Json>);

impl KvLookup for MapKv {
    fn kv_get(&self, namespace: &str, key: &str) -> Result<Option<Json>, String> {
        if key == "BROKEN" {
            return Err("store unavailable".into());
        }
        Ok(self
            .0
            .get(&(namespace.to_string(), key.to_string()))
            .cloned())
    }
}

struct MapSecrets(HashMap<String, String>);

impl SecretLookup for MapSecrets {
    fn secret(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn setup() -> (Renderer, Masker) {
    let mut kv = HashMap::new();
    kv.insert(
        ("company.team".into(), "MY_KEY".into()),
        json!("team-value"),
    );
    kv.insert(("other.ns".into(), "MY_KEY".into()), json!({"a": [1, 2]}));
    let mut secrets = HashMap::new();
    secrets.insert("API_TOKEN".to_string(), "s3cr3t-token".to_string());
    let masker = Masker::default();
    let renderer = Renderer::new(
        Arc::new(MapKv(kv)),
        Arc::new(MapSecrets(secrets)),
        masker.clone(),
    );
    (renderer, masker)
}

fn ctx() -> Json {
    json!({
        "inputs": {"taxi": "green", "count": 3, "empty": "", "nothing": null, "flag": true},
        "vars": {
            "file": "{{inputs.taxi}}_tripdata_{{trigger.date | date('yyyy-MM')}}.csv",
            "nested": "{{ vars.file }}"
        },
        "outputs": {
            "extract": {
                "outputFiles": {"x.csv": "kestra:///x.csv"},
                "list": [1, 2, 3],
                "map": {"z": 1, "a": 2},
                "value": null
            },
            "a-b": {"x": "dashed"}
        },
        "trigger": {"date": "2021-01-01T00:00:00Z"},
        "execution": {"id": "exec1", "startDate": "2024-03-05T10:20:30.123456Z"},
        "flow": {"id": "f", "namespace": "company.team", "revision": 2},
        "labels": {"team": "data"},
        "taskrun": {"id": "tr1", "value": "v1", "attemptsCount": 0}
    })
}

fn render(tpl: &str) -> Result<String, TemplateError> {
    let (r, _) = setup();
    r.render_str(tpl, ctx(), "company.team")
}

fn ok(tpl: &str) -> String {
    match render(tpl) {
        Ok(s) => s,
        Err(e) => panic!("render of {tpl:?} failed: {e}"),
    }
}

fn fails(tpl: &str) -> TemplateError {
    match render(tpl) {
        Ok(s) => panic!("render of {tpl:?} unexpectedly gave {s:?}"),
        Err(e) => e,
    }
}

#[test]
fn plain_text_is_unchanged() {
    assert_eq!(ok("no templates here { } }}"), "no templates here { } }}");
}

#[test]
fn basic_expressions() {
    assert_eq!(ok("{{ inputs.taxi }}-{{ flow.revision + 1 }}"), "green-3");
    assert_eq!(ok("{{ 'a' ~ inputs.count ~ 'b' }}"), "a3b");
    assert_eq!(
        ok("{{ outputs.extract.outputFiles['x.csv'] }}"),
        "kestra:///x.csv"
    );
    assert_eq!(ok("{{ outputs['a-b'].x }}"), "dashed");
    assert_eq!(
        ok("{{ taskrun.value }} {{ execution.id }} {{ labels.team }}"),
        "v1 exec1 data"
    );
    assert_eq!(
        ok("{{ inputs.count > 2 and not inputs.flag == false }}"),
        "true"
    );
    assert_eq!(
        ok("{{ 'a' ~ inputs.flag ~ false ~ inputs.nothing }}"),
        "atruefalse"
    );
}

#[test]
fn no_html_escaping_and_newlines_kept() {
    assert_eq!(ok("{{ '<a href=\"x\">&</a>' }}\n"), "<a href=\"x\">&</a>\n");
    assert_eq!(ok("{% if true %}\nx\n{% endif %}\n"), "\nx\n\n");
}

#[test]
fn null_prints_empty_and_containers_print_json() {
    assert_eq!(ok("[{{ outputs.extract.value }}]"), "[]");
    assert_eq!(ok("{{ outputs.extract.map }}"), r#"{"z":1,"a":2}"#);
    assert_eq!(ok("{{ outputs.extract.list }}"), "[1,2,3]");
}

#[test]
fn control_flow_with_elseif() {
    let tpl = "{% if inputs.count == 1 %}one{% elseif inputs.count == 3 %}three{% else %}other{% endif %}";
    assert_eq!(ok(tpl), "three");
    let tpl = "{% if inputs.count == 1 %}one{% elif inputs.count == 3 %}three{% endif %}";
    assert_eq!(ok(tpl), "three");
    assert_eq!(
        ok("{% if inputs.missing %}yes{% else %}no{% endif %}"),
        "no"
    );
}

#[test]
fn loops_and_set() {
    assert_eq!(
        ok("{% for x in outputs.extract.list %}{{ loop.index }}:{{ x }} {% endfor %}"),
        "0:1 1:2 2:3 "
    );
    assert_eq!(ok("{% set total = inputs.count * 2 %}{{ total }}"), "6");
    assert_eq!(ok("{% for i in 1..3 %}{{ i }}{% endfor %}"), "123");
    assert_eq!(ok("{% for i in range(0, 2) %}{{ i }}{% endfor %}"), "012");
    assert_eq!(
        ok(
            "{% for k in outputs.extract.map | keys %}{{ k }}{% if not loop.last %},{% endif %}{% endfor %}"
        ),
        "z,a"
    );
}

#[test]
fn pebble_operators() {
    assert_eq!(ok("{{ inputs.flag ? 'yes' : 'no' }}"), "yes");
    assert_eq!(
        ok("{{ inputs.count > 5 ? 'big' : inputs.count > 2 ? 'mid' : 'small' }}"),
        "mid"
    );
    assert_eq!(ok("{{ outputs.extract.list contains 2 }}"), "true");
    assert_eq!(ok("{{ inputs.taxi contains 'ree' }}"), "true");
    assert_eq!(ok("{{ inputs.taxi equals 'green' }}"), "true");
    assert_eq!(ok("{{ inputs.nothing is null }}"), "true");
    assert_eq!(ok("{{ inputs.nothing == null }}"), "true");
    assert_eq!(ok("{{ inputs.empty is empty }}"), "true");
}

#[test]
fn null_coalescing() {
    assert_eq!(ok("{{ inputs.nope ?? 'dflt' }}"), "dflt");
    assert_eq!(ok("{{ outputs.t.missing ?? 'dflt' }}"), "dflt");
    assert_eq!(ok("{{ outputs.extract.value ?? 'was null' }}"), "was null");
    assert_eq!(ok("{{ inputs.taxi ?? 'dflt' }}"), "green");
    assert_eq!(
        ok("{{ nope.a.b ?? outputs.x['y'].z ?? inputs.taxi }}"),
        "green"
    );
    assert_eq!(ok("{{ inputs.nope ?? inputs.nope2 ?? 'last' }}"), "last");
    assert_eq!(ok("{{ (inputs.nope ?? 'a') ~ 'b' }}"), "ab");
    assert_eq!(ok("{{ inputs.nope ?? 'x' | upper }}"), "X");
    assert_eq!(
        ok("{{ outputs.extract.outputFiles['missing.csv'] ?? 'none' }}"),
        "none"
    );
    assert_eq!(
        ok("{% if (inputs.nope ?? false) %}y{% else %}n{% endif %}"),
        "n"
    );
    // The right-hand side is only evaluated when needed.
    assert_eq!(ok("{{ inputs.taxi ?? kv('NOT_THERE') }}"), "green");
}

#[test]
fn undefined_coalescing() {
    // `???` only replaces undefined values, a null stays null.
    assert_eq!(ok("[{{ outputs.extract.value ??? 'x' }}]"), "[]");
    assert_eq!(ok("{{ outputs.extract.nope ??? 'x' }}"), "x");
}

#[test]
fn strict_undefined_names_the_variable() {
    let e = fails("{{ inputs.nope }}");
    assert!(e.message.contains("inputs.nope"), "{e}");
    assert_eq!(e.line, Some(1));
    let e = fails("a\n{{ outputs.missing.value }}");
    assert!(e.message.contains("outputs.missing"), "{e}");
    assert_eq!(e.line, Some(2));
    let e = fails("{{ inputs.nope | upper }}");
    assert!(e.message.contains("inputs.nope"), "{e}");
}

#[test]
fn render_function_uses_the_same_context() {
    // Without render() the variable's text is returned raw, like Kestra.
    assert_eq!(
        ok("{{ vars.file }}"),
        "{{inputs.taxi}}_tripdata_{{trigger.date | date('yyyy-MM')}}.csv"
    );
    assert_eq!(ok("{{ render(vars.file) }}"), "green_tripdata_2021-01.csv");
    // Recursive by default; `recursive=false` renders one level only.
    assert_eq!(
        ok("{{ render(vars.nested) }}"),
        "green_tripdata_2021-01.csv"
    );
    assert_eq!(
        ok("{{ render(vars.nested, recursive=false) }}"),
        "{{inputs.taxi}}_tripdata_{{trigger.date | date('yyyy-MM')}}.csv"
    );
    assert_eq!(ok("{{ render(inputs.count) }}"), "3");
}

#[test]
fn self_rendering_variable_is_an_error_not_a_crash() {
    let (r, _) = setup();
    let c = json!({"vars": {"loop": "{{ render(vars.loop) }}"}});
    let e = r.render_str("{{ render(vars.loop) }}", &c, "ns");
    assert!(e.is_err());
}

#[test]
fn kv_function() {
    assert_eq!(ok("{{ kv('MY_KEY') }}"), "team-value");
    assert_eq!(ok("{{ kv('MY_KEY', 'other.ns').a[1] }}"), "2");
    assert_eq!(
        ok("{{ kv('MY_KEY', namespace='other.ns').a | length }}"),
        "2"
    );
    assert_eq!(ok("[{{ kv('NOPE', errorOnMissing=false) }}]"), "[]");
    assert_eq!(
        ok("{{ kv('NOPE', errorOnMissing=false) ?? 'dflt' }}"),
        "dflt"
    );
    let e = fails("{{ kv('NOPE') }}");
    assert_eq!(
        e.message,
        "kv key `NOPE` not found in namespace `company.team`"
    );
    let e = fails("{{ kv('NOPE', 'x.y') }}");
    assert!(e.message.contains("namespace `x.y`"), "{e}");
    let e = fails("{{ kv('BROKEN') }}");
    assert!(e.message.contains("store unavailable"), "{e}");
}

#[test]
fn secrets_are_recorded_for_masking() {
    let (r, masker) = setup();
    let out = r
        .render_str("token={{ secret('API_TOKEN') }}", ctx(), "ns")
        .unwrap_or_default();
    assert_eq!(out, "token=s3cr3t-token");
    assert_eq!(masker.mask(&out), "token=******");
    assert_eq!(
        masker.mask_json(&json!({"k": ["x s3cr3t-token y", 1]})),
        json!({"k": ["x ****** y", 1]})
    );
    let e = fails("{{ secret('MISSING') }}");
    assert!(e.message.contains("`MISSING`"), "{e}");
    assert!(e.message.contains("SECRET_MISSING"), "{e}");
}

#[test]
fn masker_prefers_longest_secret() {
    let m = Masker::default();
    m.add("abc");
    m.add("abcdef");
    m.add("");
    assert_eq!(m.mask("xabcdefx abc"), "x******x ******");
}

#[test]
fn typed_render_value() {
    let (r, _) = setup();
    let value = json!({
        "values": "{{ outputs.extract.list }}",
        "map": "{{ outputs.extract.map }}",
        "count": "{{ inputs.count }}",
        "flag": "{{inputs.flag}}",
        "text": "n={{ inputs.count }}",
        "str": "{{ inputs.taxi }}",
        "null": "{{ outputs.extract.value }}",
        "plain": "unchanged",
        "list": ["{{ inputs.count + 1 }}", 5, {"deep": "{{ 'a' | upper }}"}],
        "{{ keys }}": "are not rendered"
    });
    let out = r.render_value(&value, ctx(), "ns").unwrap_or_default();
    assert_eq!(
        out,
        json!({
            "values": [1, 2, 3],
            "map": {"z": 1, "a": 2},
            "count": 3,
            "flag": true,
            "text": "n=3",
            "str": "green",
            "null": null,
            "plain": "unchanged",
            "list": [4, 5, {"deep": "A"}],
            "{{ keys }}": "are not rendered"
        })
    );
    // Map key order survives the round trip.
    let keys: Vec<&String> = out["map"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["z", "a"]);
    let e = r.render_value(&json!(["{{ inputs.nope }}"]), ctx(), "ns");
    assert!(e.is_err_and(|e| e.message.contains("inputs.nope")));
}

#[test]
fn date_filters() {
    assert_eq!(
        ok("{{ trigger.date | date('yyyy-MM-dd HH:mm:ss') }}"),
        "2021-01-01 00:00:00"
    );
    assert_eq!(ok("{{ trigger.date | date('yyyyMMdd') }}"), "20210101");
    assert_eq!(
        ok("{{ trigger.date | date('MMM MMMM EEE EEEE') }}"),
        "Jan January Fri Friday"
    );
    assert_eq!(
        ok("{{ trigger.date | date(\"yyyy-MM-dd'T'HH:mm'Z'\") }}"),
        "2021-01-01T00:00Z"
    );
    assert_eq!(
        ok("{{ trigger.date | date(\"h a 'o''clock' D yy\") }}"),
        "12 AM o'clock 1 21"
    );
    assert_eq!(
        ok("{{ execution.startDate | date('ss.SSS SSSSSS XXX') }}"),
        "30.123 123456 Z"
    );
    assert_eq!(
        ok("{{ execution.startDate | date('iso') }}"),
        "2024-03-05T10:20:30.123456Z"
    );
    assert_eq!(
        ok("{{ execution.startDate | date('sql') }}"),
        "2024-03-05 10:20:30.123456"
    );
    assert_eq!(
        ok("{{ '2021-01-01' | date('iso_local_date') }}"),
        "2021-01-01"
    );
    assert_eq!(
        ok("{{ '2021-06-15T12:00:00+02:00' | date('HH:mm XXX') }}"),
        "10:00 Z"
    );
    assert_eq!(
        ok("{{ '2021-06-15T12:00:00Z' | date('HH:mm xx', timeZone='+05:30') }}"),
        "17:30 +0530"
    );
    assert_eq!(ok("{{ '2021-06-15 08:09:10' | date('H:m:s') }}"), "8:9:10");
    assert_eq!(ok("{{ 1609459200 | date('yyyy-MM-dd') }}"), "2021-01-01");
    // Kestra's default format is `iso`, `yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX` (kestra.io/docs,
    // Temporal Filters: "format & existingFormat").
    assert_eq!(
        ok("{{ trigger.date | date }}"),
        "2021-01-01T00:00:00.000000Z"
    );
    let e = fails("{{ 'not a date' | date('yyyy') }}");
    assert!(e.message.contains("not a date"), "{e}");
    let e = fails("{{ trigger.date | date('yyyy-bb') }}");
    assert!(e.message.contains("`b`"), "{e}");
}

#[test]
fn date_add_and_timestamps() {
    assert_eq!(
        ok("{{ trigger.date | dateAdd(1, 'DAYS') }}"),
        "2021-01-02T00:00:00.000000Z"
    );
    assert_eq!(
        ok("{{ trigger.date | dateAdd(-1, 'MONTHS') }}"),
        "2020-12-01T00:00:00.000000Z"
    );
    assert_eq!(
        ok("{{ trigger.date | dateAdd(90, 'MINUTES') | date('HH:mm') }}"),
        "01:30"
    );
    assert_eq!(
        ok("{{ trigger.date | dateAdd(2, 'WEEKS') | date('yyyy-MM-dd') }}"),
        "2021-01-15"
    );
    assert_eq!(
        ok("{{ trigger.date | dateAdd(1, 'YEARS') | date('yyyy') }}"),
        "2022"
    );
    assert_eq!(ok("{{ trigger.date | timestamp }}"), "1609459200");
    assert_eq!(ok("{{ trigger.date | timestampMilli }}"), "1609459200000");
    let e = fails("{{ trigger.date | dateAdd(1, 'FORTNIGHTS') }}");
    assert!(e.message.contains("FORTNIGHTS"), "{e}");
}

#[test]
fn now_uuid_random() {
    let now = ok("{{ now() }}");
    assert!(crate::datetime::parse_str(&now).is_ok(), "{now}");
    assert!(now.ends_with('Z') && now.len() == 27, "{now}");
    assert_eq!(ok("{{ now() | date('yyyy') }}").len(), 4);
    let id = ok("{{ uuid() }}");
    assert_eq!(id.len(), 36);
    assert_ne!(id, ok("{{ uuid() }}"));
    let n: i64 = ok("{{ randomInt(5, 7) }}").parse().unwrap_or(-1);
    assert!((5..7).contains(&n));
}

#[test]
fn string_and_collection_filters() {
    assert_eq!(
        ok("{{ 'Hello' | upper }} {{ 'Hello' | lower }} {{ '  x ' | trim }}"),
        "HELLO hello x"
    );
    assert_eq!(
        ok("{{ 'hello world' | title }} {{ 'hello' | capitalize }}"),
        "Hello World Hello"
    );
    assert_eq!(
        ok("{{ inputs.empty | default('d') }} {{ inputs.nope | default('d') }}"),
        "d d"
    );
    assert_eq!(ok("{{ inputs.taxi | default('d') }}"), "green");
    assert_eq!(ok("{{ outputs.extract.map | json }}"), r#"{"z":1,"a":2}"#);
    assert_eq!(ok("{{ {'a': [1, 'x']} | toJson }}"), r#"{"a":[1,"x"]}"#);
    assert_eq!(
        ok("{{ 'Hello World, Kestra!' | slugify }}"),
        "hello-world-kestra"
    );
    assert_eq!(
        ok("{{ outputs.extract.list | first }}-{{ outputs.extract.list | last }}"),
        "1-3"
    );
    assert_eq!(
        ok("{{ outputs.extract.list | length }} {{ 'abc' | length }}"),
        "3 3"
    );
    assert_eq!(ok("{{ outputs.extract.list | join(',') }}"), "1,2,3");
    assert_eq!(ok("{{ 'a-b-c' | replace({'-': '_', 'a': 'A'}) }}"), "A_b_c");
    assert_eq!(ok("{{ 'a-b-c' | replace('-', '+') }}"), "a+b+c");
    assert_eq!(ok("{{ 'a,b' | split(',') | last }}"), "b");
    assert_eq!(ok("{{ -3 | abs }}"), "3");
    assert_eq!(ok("{{ '42' | number + 1 }} {{ '1.5' | number }}"), "43 1.5");
    assert_eq!(
        ok("{{ 'abc' | startsWith('ab') }} {{ 'abc' | endsWith('x') }}"),
        "true false"
    );
    assert_eq!(
        ok("{{ outputs.extract.map | keys }} {{ outputs.extract.map | values }}"),
        r#"["z","a"] [1,2]"#
    );
    assert_eq!(
        ok("{{ 'a/b/c' | substringAfterLast('/') }} {{ 'a/b/c' | substringBefore('/') }}"),
        "c a"
    );
    assert_eq!(
        ok("{{ 'hi' | base64encode }} {{ 'aGk=' | base64decode }}"),
        "aGk= hi"
    );
}

#[test]
fn json_functions() {
    assert_eq!(ok("{{ fromJson('{\"a\": [1, 2]}').a[1] }}"), "2");
    assert_eq!(ok("{{ json('[1,2,3]') | length }}"), "3");
    let e = fails("{{ fromJson('{') }}");
    assert!(e.message.contains("invalid JSON"), "{e}");
}

#[test]
fn syntax_errors_have_positions() {
    let e = check_syntax("line one\n{{ inputs.taxi | }}").err();
    let e = e.unwrap_or_else(|| TemplateError::new("no error"));
    assert_eq!(e.line, Some(2), "{e}");
    assert!(e.column.is_some(), "{e}");
    assert!(e.message.contains("syntax error"), "{e}");
    assert!(e.to_string().contains("template line 2"), "{e}");

    let e = check_syntax("ok\n  {% if x %}\nnever closed").err();
    assert!(e.is_some());
    let e = fails("a\nb {{ 1 + }}");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.column, Some(10), "{e}");

    assert!(check_syntax("{{ a ?? b }} {% elseif %}").is_err());
    assert!(check_syntax("{% if a ?? b %}{{ c ? 1 : 2 }}{% elseif d %}{% endif %}").is_ok());
    assert!(check_syntax("plain").is_ok());
}

#[test]
fn error_column_maps_through_rewrites() {
    // The `??` rewrite lengthens line 1; the error on line 2 keeps its own column.
    let e = fails("{{ a ?? 'b' }}\n  {{ nope }}");
    assert_eq!(e.line, Some(2));
    assert_eq!(e.column, Some(6), "{e}");
}

#[test]
fn referenced_outputs_finds_task_ids() {
    let tpl = "{{ outputs.extract.outputFiles['x.csv'] }} and {{ outputs['a-b'].x }}";
    assert_eq!(
        referenced_outputs(tpl),
        vec![("extract".to_string(), 3), ("a-b".to_string(), 50)]
    );
    let tpl = "{% if outputs.t1.x ?? false %}{{ foo.outputs.no }}{% endif %} outputs.text";
    assert_eq!(referenced_outputs(tpl), vec![("t1".to_string(), 6)]);
}

#[test]
fn raw_blocks_are_left_alone() {
    assert_eq!(ok("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
    assert_eq!(
        ok("{% verbatim %}{{ a ?? b }}{% endverbatim %}"),
        "{{ a ?? b }}"
    );
    assert_eq!(ok("a{# comment {{ x }} #}b"), "ab");
}

#[test]
fn bad_templates_never_panic() {
    for tpl in [
        "{{",
        "{{ }}",
        "{% if %}",
        "{{ ?? }}",
        "{{ a ?? }}",
        "{{ ? : }}",
        "{{ (((( }}",
        "{{ ']' }}",
        "{% for %}",
        "{{ a.. }}",
        "{{ 'é' ?? 'ü' }}",
        "{{ x[ }}",
        "}}{{",
        "{% verbatim %}",
        "{{ 1..100000000 }}",
        "{{ 'x' | date('yyyy') }}",
    ] {
        let _ = render(tpl);
        let _ = check_syntax(tpl);
        let _ = referenced_outputs(tpl);
    }
}

fn check_err(tpl: &str) -> TemplateError {
    match check_syntax(tpl) {
        Ok(()) => panic!("check_syntax({tpl:?}) unexpectedly passed"),
        Err(e) => e,
    }
}

#[test]
fn check_syntax_reports_unknown_functions() {
    let e = check_err("line one\n  {{ nowish() }}");
    assert_eq!(e.message, "unknown function `nowish` (did you mean `now`?)");
    assert_eq!((e.line, e.column), (Some(2), Some(6)), "{e}");

    let e = check_err("{{ frobnicate(1) }}");
    assert_eq!(e.message, "unknown function `frobnicate`");
    assert_eq!((e.line, e.column), (Some(1), Some(4)), "{e}");

    // Nested in arguments, in tags, and after Pebble rewrites that shift columns.
    let e = check_err("{% if x ?? false %}{{ now(nowish()) }}{% endif %}");
    assert_eq!(e.message, "unknown function `nowish` (did you mean `now`?)");
    assert_eq!(e.column, Some(27), "{e}");
    let e = check_err("{{ a ?? 'b' }} {{ c ? uuidd() : 1 }}");
    assert_eq!(e.message, "unknown function `uuidd` (did you mean `uuid`?)");
    assert_eq!(e.column, Some(23), "{e}");
    let e = check_err("{% for i in rnage(3) %}{{ i }}{% endfor %}");
    assert_eq!(
        e.message,
        "unknown function `rnage` (did you mean `range`?)"
    );
    assert_eq!(e.column, Some(13), "{e}");

    // The first unknown name by position is reported.
    let e = check_err("{{ one() }}\n{{ x | two }}");
    assert_eq!(e.message, "unknown function `one`");
}

#[test]
fn check_syntax_accepts_known_and_local_callables() {
    for tpl in [
        "{{ now() }} {{ uuid() }} {{ randomInt(1, 5) }} {{ kv('K') }} {{ secret('S') }}",
        "{{ range(3) }} {{ dict(a=1) }} {{ namespace() }} {{ fromJson('{}') }} {{ max(1, 2) }}",
        "{{ render(vars.x) }} {{ 1..3 }} {{ a ?? b }} {{ a contains 'x' }}",
        "{% macro greet(n) %}hi {{ n }}{% endmacro %}{{ greet('x') }}",
        "{% set f = namespace() %}{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}",
        "{{ 'nowish()' }} {# {{ nowish() }} #} {% raw %}{{ nowish() }}{% endraw %}",
        "{{ x | upper | slugify | dateAdd(1, 'DAYS') | json | tojson | default('a') }}",
        "{% if x is defined and y is null and z is empty and m is map %}{% endif %}",
        "{% filter upper %}text{% endfilter %}",
    ] {
        if let Err(e) = check_syntax(tpl) {
            panic!("check_syntax({tpl:?}) failed: {e}");
        }
    }
}

#[test]
fn check_syntax_reports_unknown_filters_and_tests() {
    let e = check_err("a\n{{ inputs.taxi | shout }}");
    assert_eq!(e.message, "unknown filter `shout`");
    assert_eq!((e.line, e.column), (Some(2), Some(18)), "{e}");

    let e = check_err("{{ x | uper }}");
    assert_eq!(e.message, "unknown filter `uper` (did you mean `upper`?)");
    let e = check_err("{{ x | tojSon }}");
    assert!(
        e.message
            .starts_with("unknown filter `tojSon` (did you mean `"),
        "{e}"
    );

    let e = check_err("{% if x | lenght > 1 %}{% endif %}");
    assert_eq!(
        e.message,
        "unknown filter `lenght` (did you mean `length`?)"
    );
    assert_eq!(e.column, Some(11), "{e}");
    let e = check_err("{% for i in xs | srot %}{% endfor %}");
    assert_eq!(e.message, "unknown filter `srot` (did you mean `sort`?)");
    let e = check_err("{% set y = x ?? 1 | shout %}");
    assert_eq!(e.message, "unknown filter `shout`");
    let e = check_err("text {% filter shout %}body{% endfilter %}");
    assert_eq!(e.message, "unknown filter `shout`");
    assert_eq!(e.column, Some(16), "{e}");

    let e = check_err("{% if x is nul %}{% endif %}");
    assert_eq!(e.message, "unknown test `nul` (did you mean `null`?)");
    assert_eq!(e.column, Some(12), "{e}");
}

#[test]
fn runtime_unknown_names_are_worded_like_check_syntax() {
    let e = fails("{{ render('{{ nowish() }}') }}");
    assert_eq!(e.message, "unknown function `nowish` (did you mean `now`?)");
    let e = fails("{{ render('{{ 1 | shout }}') }}");
    assert_eq!(e.message, "unknown filter `shout`");
    let e = fails("{{ render('{% if 1 is nul %}{% endif %}') }}");
    assert_eq!(e.message, "unknown test `nul` (did you mean `null`?)");
    let e = fails("{{ nowish() }}");
    assert_eq!(e.message, "unknown function `nowish` (did you mean `now`?)");
    assert_eq!(e.column, Some(4), "{e}");
}

#[test]
fn unclosed_expression_points_at_its_opening() {
    let e = check_err("ok\n  {{ name");
    assert!(e.message.contains("unexpected end of input"), "{e}");
    assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e}");
    let e = check_err("{{ a }} and {{ inputs.taxi");
    assert_eq!(e.column, Some(13), "{e}");
    let e = fails("x {% if a");
    assert_eq!(e.column, Some(3), "{e}");
}

#[test]
fn known_names_come_from_the_environment() {
    let known = crate::names::known();
    for (kind, name) in [
        (crate::names::NameKind::Function, "now"),
        (crate::names::NameKind::Function, "range"),
        (crate::names::NameKind::Filter, "slugify"),
        (crate::names::NameKind::Filter, "upper"),
        (crate::names::NameKind::Test, "empty"),
        (crate::names::NameKind::Test, "defined"),
    ] {
        assert!(known.contains(kind, name), "{name}");
    }
    // Reading the names from minijinja's Debug output must keep working: an empty list
    // would silently accept every name.
    assert!(!known.contains(crate::names::NameKind::Filter, "shout"));
    assert!(!known.contains(crate::names::NameKind::Test, "nul"));
    assert!(!known.contains(crate::names::NameKind::Function, "nowish"));
}

// Issue 8, item 4: no silent wrong results in templates.

#[test]
fn issue_8_time_zone_is_applied() {
    // Pebble's and Kestra's `date` docs: "the provided time zone will override the system
    // default": `{{ someInstant | date("yyyy-MM-dd'T'HH:mm:ssX", timeZone="Pacific/Funafuti") }}`.
    assert_eq!(
        ok(
            "{{ '2024-01-15T12:00:00Z' | date(\"yyyy-MM-dd'T'HH:mm:ssX\", timeZone=\"Pacific/Funafuti\") }}"
        ),
        "2024-01-16T00:00:00+12"
    );
    assert_eq!(
        ok(
            "{{ '2024-01-15T12:00:00Z' | date(\"yyyy-MM-dd'T'HH:mm:ssXXX\", timeZone='Europe/Paris') }}"
        ),
        "2024-01-15T13:00:00+01:00"
    );
    // Summer time comes from the zone's rules, not a fixed offset.
    assert_eq!(
        ok("{{ '2024-07-15T12:00:00Z' | date('HH:mm XXX', timeZone='Europe/Paris') }}"),
        "14:00 +02:00"
    );
    // `{{ now() | date("yyyy-MM-dd'T'HH:mm:ssX", timeZone="UTC") }}` (Kestra's docs).
    assert!(ok("{{ now() | date(\"yyyy-MM-dd'T'HH:mm:ssX\", timeZone=\"UTC\") }}").ends_with('Z'));
    // `{{ now(timeZone="Europe/Paris") }}` (Kestra's docs): an offset of +01:00 or +02:00.
    let now = ok("{{ now(timeZone=\"Europe/Paris\") }}");
    assert!(now.ends_with("+01:00") || now.ends_with("+02:00"), "{now}");
    // A date without an offset is a wall-clock time in `timeZone`, also for timestamps
    // (`{{ now() | timestamp(timeZone="Europe/Paris") }}` in Kestra's docs).
    assert_eq!(
        ok("{{ '2024-01-15 12:00:00' | timestamp(timeZone='Europe/Paris') }}"),
        "1705316400"
    );
    assert_eq!(
        ok("{{ '2024-01-15T12:00:00Z' | timestamp(timeZone='Europe/Paris') }}"),
        "1705320000"
    );
    // dateAdd keeps the wall-clock time across the change to summer time in the zone.
    assert_eq!(
        ok(
            "{{ '2024-03-30 12:00:00' | dateAdd(1, 'DAYS', timeZone='Europe/Paris', format='iso_sec') }}"
        ),
        "2024-03-31T12:00:00+02:00"
    );
    // Positional, as Pebble allows: `date(format, timeZone)`.
    assert_eq!(
        ok("{{ '2024-01-15T12:00:00Z' | date('HH:mm', 'Asia/Kolkata') }}"),
        "17:30"
    );
    let e = fails("{{ '2024-01-15T12:00:00Z' | date('HH:mm', timeZone='Mars/Olympus') }}");
    assert!(
        e.message.contains("unknown time zone `Mars/Olympus`"),
        "{e}"
    );
}

#[test]
fn issue_8_slice_is_pebbles() {
    // Pebble's and Kestra's `slice` docs.
    assert_eq!(
        ok("{{ ['apple', 'peach', 'pear', 'banana'] | slice(1,3) }}"),
        r#"["peach","pear"]"#
    );
    assert_eq!(ok("{{ 'Mitchell' | slice(1,3) }}"), "it");
    assert_eq!(ok("{{ [1,2,3,4] | slice(1,3) }}"), "[2,3]");
    assert_eq!(ok("{{ 'abcdef' | slice(1,3) }}"), "bc");
    assert_eq!(ok("{{ 'héllo' | slice(1) }}"), "éllo");
    let e = fails("{{ [1,2] | slice(1,3) }}");
    assert!(e.message.contains("toIndex 3"), "{e}");
}

#[test]
fn issue_8_existing_format_is_used() {
    // Pebble's and Kestra's `date` docs.
    assert_eq!(
        ok("{{ \"July 24, 2001\" | date(\"yyyy-MM-dd\", existingFormat=\"MMMM dd, yyyy\") }}"),
        "2001-07-24"
    );
    assert_eq!(
        ok("{{ '2024/01/15' | date('yyyy-MM-dd', existingFormat='yyyy/MM/dd') }}"),
        "2024-01-15"
    );
    // Kestra's docs also name both formats: `date(existingFormat="yyyy-MMMM-d", format="yyyy/MMMM/d")`.
    assert_eq!(
        ok("{{ '2024-January-5' | date(existingFormat=\"yyyy-MMMM-d\", format=\"yyyy/MMMM/d\") }}"),
        "2024/January/5"
    );
    assert_eq!(
        ok(
            "{{ '15.01.2024 13:45' | date('iso_sec', existingFormat='dd.MM.yyyy HH:mm', timeZone='Europe/Paris') }}"
        ),
        "2024-01-15T13:45:00+01:00"
    );
    assert_eq!(
        ok("{{ '20240115' | timestamp(existingFormat='yyyyMMdd') }}"),
        "1705276800"
    );
    let e = fails("{{ '2024-01-15' | date('yyyy', existingFormat='yyyy/MM/dd') }}");
    assert!(e.message.contains("existingFormat `yyyy/MM/dd`"), "{e}");
}

#[test]
fn issue_8_undefined_is_null() {
    // Kestra's tests docs: `{% if user.email is null %}` / `{% if name is not null %}`; an
    // undefined variable is null to Pebble.
    assert_eq!(ok("{{ nope is null }}"), "true");
    assert_eq!(ok("{{ inputs.nope is null }}"), "true");
    assert_eq!(ok("{{ inputs.nope is not null }}"), "false");
    assert_eq!(ok("{% if inputs.nope is null %}none{% endif %}"), "none");
    assert_eq!(ok("{{ inputs.nothing is null }}"), "true");
    assert_eq!(ok("{{ inputs.taxi is null }}"), "false");
    assert_eq!(ok("{{ inputs.taxi is not null }}"), "true");
    // `null` as a value is still Jinja's `none`.
    assert_eq!(ok("{{ inputs.nothing == null }}"), "true");
}
