//! Focused tests of parsing and validation against a small catalog.

use crate::catalog::{Catalog, PropKind as K, PropSpec as P, TaskSpec};
use crate::{parse_flow, resolve_inputs};

static LOG: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.core.log.Log",
    aliases: &[],
    doc: "",
    props: &[
        P::req("message", K::Any, ""),
        P::opt("level", K::String, ""),
    ],
};
static IF: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.core.flow.If",
    aliases: &[],
    doc: "",
    props: &[
        P::req("condition", K::String, ""),
        P::req("then", K::Tasks, ""),
        P::opt("else", K::Tasks, ""),
    ],
};
static SHELL: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.scripts.shell.Commands",
    aliases: &[],
    doc: "",
    props: &[
        P::req("commands", K::StringList, ""),
        P::opt("containerImage", K::String, ""),
    ],
};

fn catalog() -> Catalog {
    Catalog::new([&LOG, &IF, &SHELL])
}

/// Problems as `line:column message`, to compare whole lists at once.
fn problems(src: &str) -> Vec<String> {
    match parse_flow("f.yaml", src, &catalog()) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .iter()
            .map(|d| format!("{}:{} {}", d.location.line, d.location.column, d.message))
            .collect(),
    }
}

#[test]
fn valid_flow_parses_with_branches() {
    let src = "id: f\nnamespace: a.b\ntasks:\n  - id: i\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n    then:\n      - id: l\n        type: io.kestra.plugin.core.log.Log\n        message: hi\n";
    let flow = parse_flow("f.yaml", src, &catalog()).expect("valid");
    assert_eq!(flow.tasks[0].branch("then").unwrap()[0].id, "l");
    assert_eq!(flow.all_tasks().len(), 2);
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let src = "id: bad id\nnamespace: a.b\ncolour: red\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Logg\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n  - id: c\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ outputs.nope.value }}\"\n";
    assert_eq!(
        problems(src),
        vec![
            "1:5 invalid flow id `bad id`",
            "3:1 unknown property `colour` in the flow",
            "6:11 unknown task type `io.kestra.plugin.core.log.Logg`",
            "7:5 task `a` (core.log.Log) is missing required property `message`",
            "7:9 duplicate task id `a`",
            "11:18 `message` refers to `outputs.nope` but the flow has no task `nope`",
        ]
    );
}

#[test]
fn wrong_types_and_bad_durations_are_located() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n    timeout: 15s\n    commands:\n      a: b\n";
    assert_eq!(
        problems(src),
        vec![
            "6:14 `timeout`: `15s` is not an ISO-8601 duration (expected a form like `PT15S`, `PT1M30S` or `P1D`)",
            "8:7 `commands` of task `s` (scripts.shell.Commands) must be a list of strings, found a map",
        ]
    );
}

#[test]
fn plugin_defaults_fill_unset_properties_by_type_prefix() {
    let src = "id: f\nnamespace: n\npluginDefaults:\n  - type: io.kestra.plugin.scripts\n    values:\n      containerImage: ubuntu\n      unrelated: 1\ntasks:\n  - id: s\n    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [ls]\n";
    let flow = parse_flow("f.yaml", src, &catalog()).expect("valid");
    assert_eq!(flow.tasks[0].props["containerImage"], "ubuntu");
    assert!(!flow.tasks[0].props.contains_key("unrelated"));
}

#[test]
fn inputs_are_typed_and_checked_before_running() {
    let src = "id: f\nnamespace: n\ninputs:\n  - id: taxi\n    type: SELECT\n    values: [yellow, green]\n    defaults: green\n  - id: n\n    type: INT\n  - id: when\n    type: DATE\n    required: false\ntasks:\n  - id: l\n    type: io.kestra.plugin.core.log.Log\n    message: x\n";
    let flow = parse_flow("f.yaml", src, &catalog()).expect("valid");
    let ok = resolve_inputs(&flow, &[("n".into(), "3".into())]).unwrap();
    assert_eq!(ok["taxi"], "green");
    assert_eq!(ok["n"], 3);
    let err = resolve_inputs(
        &flow,
        &[
            ("taxi".into(), "blue".into()),
            ("n".into(), "x".into()),
            ("when".into(), "2021-13-01".into()),
            ("zzz".into(), "1".into()),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err,
        vec![
            "flow `f` has no input `zzz`; its inputs are `taxi`, `n`, `when`",
            "input `taxi`: `blue` is not one of `yellow`, `green`",
            "input `n`: `x` is not an integer",
            "input `when`: `2021-13-01` is not a date in the form `2021-01-31`",
        ]
    );
}

#[test]
fn yaml_syntax_errors_are_located() {
    let p = problems("id: f\nnamespace: n\ntasks: [\n");
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("invalid YAML"), "{p:?}");
}
