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

#[test]
fn billion_laughs_is_refused_with_a_location() {
    let mut src = String::from("id: f\nnamespace: n\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        let items = [prev.as_str(); 10].join(", ");
        src.push_str(&format!("a{i}: &a{i} [{items}]\n"));
    }
    src.push_str("tasks: []\n");
    let p = problems(&src);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("aliases expand to more than 100000 nodes"),
        "{p:?}"
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_refused_at_its_line() {
    let depth = crate::parse::MAX_TASK_DEPTH + 1;
    let mut src = String::from("id: f\nnamespace: n\ntasks:\n");
    let mut indent = String::new();
    for i in 0..depth {
        src.push_str(&format!(
            "{indent}  - id: s{i}\n{indent}    type: io.kestra.plugin.core.flow.If\n{indent}    condition: 'true'\n{indent}    then:\n"
        ));
        indent.push_str("    ");
    }
    src.push_str(&format!(
        "{indent}  - id: leaf\n{indent}    type: io.kestra.plugin.core.log.Log\n{indent}    message: hi\n"
    ));
    let p = problems(&src);
    assert_eq!(p.len(), 1, "{p:?}");
    let line = 4 + 4 * crate::parse::MAX_TASK_DEPTH;
    assert!(
        p[0].starts_with(&format!("{line}:"))
            && p[0].contains("tasks are nested more than 64 levels deep"),
        "{p:?}"
    );
}

#[test]
fn deep_yaml_is_refused_not_overflowing_the_stack() {
    // Block style: weir's own limit. Flow style (`[[[…`): the YAML parser's.
    let mut src = String::from("id: f\nnamespace: n\nx:\n");
    for i in 0..5000 {
        src.push_str(&" ".repeat(i + 1));
        src.push_str("a:\n");
    }
    let p = problems(&src);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("collections are nested more than 256 levels deep"),
        "{p:?}"
    );
    let src = format!(
        "id: f\nnamespace: n\nx: {}1{}\ntasks: []\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let p = problems(&src);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("recursion limit exceeded"), "{p:?}");
}

#[test]
fn negative_or_zero_delay_factor_is_refused() {
    let src = "id: f\nnamespace: n\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n    retry:\n      type: exponential\n      interval: PT1S\n      maxAttempt: 3\n      delayFactor: -2\n";
    assert_eq!(
        problems(src),
        vec!["11:20 `delayFactor` must be a positive number".to_string()]
    );
}

#[test]
fn a_json_inputs_string_default_is_parsed_like_the_same_text_given() {
    // Kestra's documented form: the default of a JSON input written as JSON text.
    let src = "id: f\nnamespace: n\ninputs:\n  - id: cfg\n    type: JSON\n    defaults: '{\"region\": \"eu-west-1\"}'\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let flow = parse_flow("f.yaml", src, &catalog()).expect("valid");
    let by_default = resolve_inputs(&flow, &[]).expect("inputs");
    let given = resolve_inputs(
        &flow,
        &[("cfg".into(), "{\"region\": \"eu-west-1\"}".into())],
    )
    .expect("inputs");
    assert_eq!(by_default["cfg"]["region"], "eu-west-1");
    assert_eq!(by_default, given);
    let bad = src.replace("'{\"region\": \"eu-west-1\"}'", "'{not json'");
    let p = problems(&bad);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("is not valid JSON"), "{p:?}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// YAML-ish text built from the pieces flows are made of, so that the generator reaches
    /// the validator's paths and not only the YAML parser's errors.
    fn flowish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("id: f\n".to_string()),
            Just("namespace: n\n".to_string()),
            Just("tasks:\n".to_string()),
            Just("  - id: a\n".to_string()),
            Just("    type: io.kestra.plugin.core.log.Log\n".to_string()),
            Just("    type: io.kestra.plugin.core.flow.If\n".to_string()),
            Just("    message: \"{{ outputs.a.x }}\"\n".to_string()),
            Just("    condition: \"{{ true }}\"\n".to_string()),
            Just("    then: &t\n".to_string()),
            Just("    else: *t\n".to_string()),
            Just("    retry: {type: exponential, interval: PT1S, maxAttempt: 2}\n".to_string()),
            Just("    timeout: PT99999999999999999999S\n".to_string()),
            Just("<<: *t\n".to_string()),
            Just("inputs:\n  - id: x\n    type: INT\n    defaults: 3\n".to_string()),
            "[ -~]{0,20}\n",
            "[ \\[\\]{}:,&*!|>'\"#-]{0,12}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        /// The validator returns a flow or diagnostics for any text; it never panics.
        #[test]
        fn any_text_validates_or_is_refused(src in "\\PC{0,200}") {
            let _ = parse_flow("f.yaml", &src, &catalog());
        }

        #[test]
        fn flow_shaped_text_validates_or_is_refused(src in flowish()) {
            if let Err(diags) = parse_flow("f.yaml", &src, &catalog()) {
                // Every diagnostic points inside the file.
                let lines = src.lines().count().max(1);
                for d in diags {
                    prop_assert!(d.location.line >= 1 && d.location.line <= lines + 1, "{d:?} in {src:?}");
                }
            }
        }
    }
}

fn hints(src: &str) -> Vec<(String, Option<String>)> {
    match parse_flow("f.yaml", src, &catalog()) {
        Ok(_) => Vec::new(),
        Err(d) => d
            .iter()
            .map(|d| (d.message.clone(), d.hint.clone()))
            .collect(),
    }
}

fn one_task(ty: &str) -> String {
    format!("id: f\nnamespace: a.b\ntasks:\n  - id: t\n    type: {ty}\n    message: hi\n")
}

#[test]
fn near_type_names_get_a_suggestion_far_ones_do_not() {
    use crate::catalog::closest_type;
    let known = [
        "io.kestra.plugin.core.log.Log",
        "io.kestra.plugin.core.execution.Fail",
        "io.kestra.plugin.git.SyncNamespaceFiles",
        "io.kestra.plugin.git.Clone",
        "io.kestra.plugin.jdbc.duckdb.Query",
    ];
    let near = |w: &str| closest_type(w, known.iter().copied());
    // Typos in the class, or in the package, of a known type.
    assert_eq!(
        near("io.kestra.plugin.core.log.Lg"),
        Some("io.kestra.plugin.core.log.Log")
    );
    assert_eq!(
        near("io.kestra.plugin.core.log.Logg"),
        Some("io.kestra.plugin.core.log.Log")
    );
    assert_eq!(
        near("io.kestra.plugin.core.logs.Log"),
        Some("io.kestra.plugin.core.log.Log")
    );
    assert_eq!(
        near("io.kestra.plugin.git.clone"),
        Some("io.kestra.plugin.git.Clone")
    );
    // Real Kestra types weir does not run map to nothing.
    for far in [
        "io.kestra.plugin.git.SyncFlows",
        "io.kestra.plugin.git.PushFlows",
        "io.kestra.plugin.core.execution.Exit",
        "io.kestra.plugin.ai.completion.ChatCompletion",
        "io.kestra.plugin.jdbc.mysql.Query",
        "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
    ] {
        assert_eq!(near(far), None, "{far}");
    }
}

#[test]
fn kestra_types_weir_lacks_say_so_without_a_did_you_mean() {
    assert_eq!(
        hints(&one_task("io.kestra.plugin.ai.completion.ChatCompletion")),
        [(
            "weir does not run `io.kestra.plugin.ai.completion.ChatCompletion` yet".to_string(),
            Some("`weir tasks` lists the task types weir runs".to_string())
        )]
    );
    assert_eq!(
        hints(&one_task("io.kestra.plugin.core.log.Lg")),
        [(
            "unknown task type `io.kestra.plugin.core.log.Lg`".to_string(),
            Some("did you mean `io.kestra.plugin.core.log.Log`?".to_string())
        )]
    );
    // Not Kestra's shape: an unknown type, not a missing feature.
    assert_eq!(
        hints(&one_task("my.company.Thing"))[0].0,
        "unknown task type `my.company.Thing`"
    );
}

#[test]
fn a_branch_of_unknown_types_is_not_reported_empty() {
    let src = "id: f\nnamespace: a.b\ntasks:\n  - id: if\n    type: io.kestra.plugin.core.flow.If\n    condition: \"{{ true }}\"\n    then:\n      - id: chat\n        type: io.kestra.plugin.ai.completion.ChatCompletion\n";
    assert_eq!(
        problems(src),
        ["9:15 weir does not run `io.kestra.plugin.ai.completion.ChatCompletion` yet"]
    );
}
