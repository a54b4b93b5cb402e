//! The typed flow: what a validated YAML flow turns into.

use crate::yaml::{Pos, Style};
use std::collections::HashMap;
use std::time::Duration;

pub type Json = serde_json::Value;
pub type JsonMap = serde_json::Map<String, Json>;

#[derive(Debug, Clone)]
pub struct Flow {
    pub id: String,
    pub namespace: String,
    pub description: Option<String>,
    pub labels: Vec<(String, String)>,
    pub inputs: Vec<InputDef>,
    /// Kept raw: `{{ vars.x }}` yields the text as written, `{{ render(vars.x) }}` renders it.
    pub variables: JsonMap,
    pub tasks: Vec<Task>,
    pub errors: Vec<Task>,
    pub finally: Vec<Task>,
    pub triggers: Vec<Trigger>,
    pub concurrency: Option<Concurrency>,
    pub retry: Option<RetryPolicy>,
    pub outputs: Vec<FlowOutput>,
    pub disabled: bool,
    /// The file the flow was read from, for messages.
    pub file: String,
    /// The YAML text, stored with each revision.
    pub source: String,
}

impl Flow {
    /// Every task of the flow, depth first, including `errors`, `finally` and nested branches.
    pub fn all_tasks(&self) -> Vec<&Task> {
        fn walk<'a>(tasks: &'a [Task], out: &mut Vec<&'a Task>) {
            for t in tasks {
                out.push(t);
                for b in &t.branches {
                    walk(&b.tasks, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.tasks, &mut out);
        walk(&self.errors, &mut out);
        walk(&self.finally, &mut out);
        out
    }
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    /// The type as written in the flow.
    pub type_name: String,
    /// The canonical name of the type in the catalog.
    pub kind: &'static str,
    pub description: Option<String>,
    pub retry: Option<RetryPolicy>,
    pub timeout: Option<Duration>,
    pub disabled: bool,
    pub allow_failure: bool,
    pub run_if: Option<String>,
    pub log_level: Option<String>,
    /// Properties specific to the task type, unrendered, `pluginDefaults` already applied.
    pub props: JsonMap,
    /// Where each property's value starts, to locate template errors.
    pub prop_pos: HashMap<String, (Pos, Style)>,
    /// Child tasks of flowable tasks: `tasks`, `then`, `else`, `defaults`, `cases/<value>`.
    pub branches: Vec<Branch>,
    pub pos: Pos,
}

impl Task {
    pub fn branch(&self, name: &str) -> Option<&[Task]> {
        self.branches
            .iter()
            .find(|b| b.name == name)
            .map(|b| b.tasks.as_slice())
    }
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub name: String,
    pub tasks: Vec<Task>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryKind {
    Constant,
    Exponential,
    Random,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub kind: RetryKind,
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub max_interval: Option<Duration>,
    pub delay_factor: Option<f64>,
    /// Total attempts including the first one.
    pub max_attempts: Option<u32>,
    pub max_duration: Option<Duration>,
    pub warning_on_retry: bool,
}

impl RetryPolicy {
    /// The wait before attempt `next_attempt` (2 for the first retry). Saturates rather than
    /// overflows: an exponential delay with a large factor and no `maxInterval` grows to
    /// `Duration::MAX` (which the engine treats as "wait until killed"), never panics.
    pub fn delay(&self, next_attempt: u32, random: f64) -> Duration {
        let retries_done = i32::try_from(next_attempt.saturating_sub(2)).unwrap_or(i32::MAX);
        match self.kind {
            RetryKind::Constant => self.interval,
            RetryKind::Exponential => {
                let factor = self.delay_factor.unwrap_or(2.0);
                let d = self.interval.as_secs_f64() * factor.powi(retries_done);
                let d = match self.max_interval {
                    Some(max) => d.min(max.as_secs_f64()),
                    None => d,
                };
                secs_saturating(d)
            }
            RetryKind::Random => {
                let min = self.min_interval.unwrap_or(Duration::ZERO).as_secs_f64();
                let max = self
                    .max_interval
                    .unwrap_or(self.interval)
                    .as_secs_f64()
                    .max(min);
                secs_saturating(min + (max - min) * random.clamp(0.0, 1.0))
            }
        }
    }
}

/// Seconds as a `Duration`: NaN and negatives are zero, too large is `Duration::MAX`.
fn secs_saturating(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcurrencyBehavior {
    Queue,
    Cancel,
    Fail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    pub limit: u32,
    pub behavior: ConcurrencyBehavior,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    String,
    Int,
    Float,
    Boolean,
    Select,
    MultiSelect,
    Array,
    Date,
    DateTime,
    Duration,
    Json,
    /// Kestra's URI input: a string.
    Uri,
    /// A file: its value is the `kestra:///` URI of the file's copy in internal storage (`weir
    /// run -i data=@path` makes that copy; a default may name one, or a namespace file).
    File,
    /// A time of day, `HH:MM[:SS]`.
    Time,
    /// An email address (checked for its shape only).
    Email,
    /// YAML text, parsed into a value (`inputs.cfg.key` works).
    Yaml,
    /// A string masked in logs and outputs, as Kestra's SECRET input.
    Secret,
}

impl InputKind {
    pub fn parse(s: &str) -> Option<InputKind> {
        Some(match s {
            "STRING" => InputKind::String,
            "INT" => InputKind::Int,
            "FLOAT" => InputKind::Float,
            "BOOLEAN" | "BOOL" => InputKind::Boolean,
            "SELECT" | "ENUM" => InputKind::Select,
            "MULTISELECT" => InputKind::MultiSelect,
            "ARRAY" => InputKind::Array,
            "DATE" => InputKind::Date,
            "DATETIME" => InputKind::DateTime,
            "DURATION" => InputKind::Duration,
            "JSON" => InputKind::Json,
            "URI" => InputKind::Uri,
            "FILE" => InputKind::File,
            "TIME" => InputKind::Time,
            "EMAIL" => InputKind::Email,
            "YAML" => InputKind::Yaml,
            "SECRET" => InputKind::Secret,
            _ => return None,
        })
    }

    /// The name as flows write it.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::String => "STRING",
            InputKind::Int => "INT",
            InputKind::Float => "FLOAT",
            InputKind::Boolean => "BOOLEAN",
            InputKind::Select => "SELECT",
            InputKind::MultiSelect => "MULTISELECT",
            InputKind::Array => "ARRAY",
            InputKind::Date => "DATE",
            InputKind::DateTime => "DATETIME",
            InputKind::Duration => "DURATION",
            InputKind::Json => "JSON",
            InputKind::Uri => "URI",
            InputKind::File => "FILE",
            InputKind::Time => "TIME",
            InputKind::Email => "EMAIL",
            InputKind::Yaml => "YAML",
            InputKind::Secret => "SECRET",
        }
    }

    pub const NAMES: &'static [&'static str] = &[
        "STRING",
        "INT",
        "FLOAT",
        "BOOLEAN",
        "SELECT",
        "MULTISELECT",
        "ARRAY",
        "DATE",
        "DATETIME",
        "DURATION",
        "JSON",
        "URI",
        "FILE",
        "TIME",
        "EMAIL",
        "YAML",
        "SECRET",
    ];
}

#[derive(Debug, Clone)]
pub struct InputDef {
    pub id: String,
    pub kind: InputKind,
    pub required: bool,
    pub defaults: Option<Json>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub values: Vec<String>,
    pub item_type: Option<InputKind>,
    pub allow_custom_value: bool,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub id: String,
    pub type_name: String,
    pub disabled: bool,
    pub props: JsonMap,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub struct FlowOutput {
    pub id: String,
    pub kind: String,
    pub value: Json,
    pub pos: Pos,
}

/// Templates Kestra renders while the task runs, with variables the engine does not have
/// beforehand: `execution.Count`'s `expression` (about each flow's `count`) is kept as written
/// for the task to evaluate, and SQL's `{{ outputFiles.x }}` is resolved below.
pub fn runtime_templates(kind: &str, props: &mut JsonMap) {
    if kind == "io.kestra.plugin.core.execution.Count"
        && let Some(serde_json::Value::String(e)) = props.get_mut("expression")
        && !e.contains("{% raw %}")
    {
        *e = format!("{{% raw %}}{e}{{% endraw %}}");
    }
    resolve_sql_output_files(props);
}

/// Kestra's DuckDB Query names its `outputFiles` in its SQL as `{{ outputFiles.out }}`, a path
/// in the task's working directory. weir's query tasks run their SQL with relative paths
/// resolved in that folder, so such a reference becomes the name itself (`out`) before anything
/// is rendered. Only simple references to names the task lists are replaced.
pub fn resolve_sql_output_files(props: &mut JsonMap) {
    let Some(serde_json::Value::Array(names)) = props.get("outputFiles") else {
        return;
    };
    let names: Vec<String> = names
        .iter()
        .filter_map(|n| n.as_str())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || "_-.".contains(c)))
        .map(str::to_string)
        .collect();
    let Some(serde_json::Value::String(sql)) = props.get_mut("sql") else {
        return;
    };
    if !sql.contains("outputFiles") {
        return;
    }
    let mut text = sql.clone();
    for name in &names {
        for form in [
            format!("outputFiles.{name}"),
            format!("outputFiles['{name}']"),
            format!("outputFiles[\"{name}\"]"),
        ] {
            for (open, close) in [("{{ ", " }}"), ("{{", "}}")] {
                text = text.replace(&format!("{open}{form}{close}"), name);
            }
        }
    }
    *sql = text;
}

#[cfg(test)]
mod output_files_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sql_references_to_output_files_become_their_names() {
        let mut props: JsonMap = json!({
            "outputFiles": ["out", "b.csv"],
            "sql": "COPY t TO '{{ outputFiles.out }}'; COPY u TO '{{outputFiles['b.csv']}}'; SELECT '{{ outputFiles.other }}'"
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        resolve_sql_output_files(&mut props);
        assert_eq!(
            props["sql"],
            "COPY t TO 'out'; COPY u TO 'b.csv'; SELECT '{{ outputFiles.other }}'"
        );
    }
}
