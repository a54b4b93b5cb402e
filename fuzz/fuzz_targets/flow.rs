//! Any text as a flow file: a `Flow` or diagnostics, never a panic, a hang or unbounded memory.
#![no_main]

use weir_flow::{Catalog, PropKind as K, PropSpec as P, TaskSpec};

static LOG: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.core.log.Log",
    aliases: &["io.kestra.core.tasks.log.Log"],
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
static SWITCH: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.core.flow.Switch",
    aliases: &[],
    doc: "",
    props: &[
        P::req("value", K::String, ""),
        P::req("cases", K::TaskCases, ""),
        P::opt("defaults", K::Tasks, ""),
    ],
};
static SLEEP: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.core.flow.Sleep",
    aliases: &[],
    doc: "",
    props: &[P::req("duration", K::Duration, "")],
};
static SHELL: TaskSpec = TaskSpec {
    name: "io.kestra.plugin.scripts.shell.Commands",
    aliases: &[],
    doc: "",
    props: &[
        P::req("commands", K::StringList, ""),
        P::opt("env", K::Any, ""),
    ],
};

libfuzzer_sys::fuzz_target!(|text: &str| {
    let catalog = Catalog::new([&LOG, &IF, &SWITCH, &SLEEP, &SHELL]);
    if let Ok(flow) = weir_flow::parse_flow("f.yaml", text, &catalog) {
        let _ = weir_flow::resolve_inputs(&flow, &[]);
        let _ = weir_flow::schema::flow_schema(&catalog);
    }
});
