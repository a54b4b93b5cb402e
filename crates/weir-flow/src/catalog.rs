//! What task types exist and which properties each takes: the contract between flows and tasks.
//!
//! `weir-flow` only defines the shape; `weir-tasks` fills the catalog with the task types it
//! implements, so validation never drifts from what can actually run.

use std::collections::HashMap;

/// The type a property's value must have. Templates (`{{ … }}`) are accepted for any scalar kind
/// and checked when rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropKind {
    String,
    Int,
    Number,
    Bool,
    /// ISO-8601 duration such as `PT15S`.
    Duration,
    StringList,
    /// A string, or a list of strings (e.g. `values` of ForEach, `outputFiles`).
    StringOrList,
    List,
    Map,
    StringMap,
    /// A map, or a template that renders to one (e.g. `inputFiles`).
    MapOrString,
    Any,
    /// A list of child tasks: they become a branch named after the property.
    Tasks,
    /// A map from a case value to a list of child tasks (Switch's `cases`).
    TaskCases,
    /// Dag's `tasks`: a list of `{task, dependsOn}`. The tasks become a branch named after the
    /// property; the dependencies go in the property `dependsOn` as `{task id: [ids]}`.
    DagTasks,
}

impl PropKind {
    pub fn describe(self) -> &'static str {
        match self {
            PropKind::String => "a string",
            PropKind::Int => "an integer",
            PropKind::Number => "a number",
            PropKind::Bool => "a boolean",
            PropKind::Duration => "an ISO-8601 duration such as `PT15S`",
            PropKind::StringList => "a list of strings",
            PropKind::StringOrList => "a string or a list of strings",
            PropKind::List => "a list",
            PropKind::Map => "a map",
            PropKind::StringMap => "a map of strings",
            PropKind::MapOrString => "a map or a string",
            PropKind::Any => "any value",
            PropKind::Tasks => "a list of tasks",
            PropKind::TaskCases => "a map of lists of tasks",
            PropKind::DagTasks => "a list of `task` and `dependsOn` pairs",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PropSpec {
    pub name: &'static str,
    pub kind: PropKind,
    pub required: bool,
    pub doc: &'static str,
}

impl PropSpec {
    pub const fn req(name: &'static str, kind: PropKind, doc: &'static str) -> Self {
        PropSpec {
            name,
            kind,
            required: true,
            doc,
        }
    }
    pub const fn opt(name: &'static str, kind: PropKind, doc: &'static str) -> Self {
        PropSpec {
            name,
            kind,
            required: false,
            doc,
        }
    }
}

/// One task type: its canonical Kestra name, other names it answers to, and its properties.
#[derive(Debug, Clone, Copy)]
pub struct TaskSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub doc: &'static str,
    pub props: &'static [PropSpec],
}

impl TaskSpec {
    pub fn prop(&self, name: &str) -> Option<&PropSpec> {
        self.props.iter().find(|p| p.name == name)
    }
}

/// Every task type weir can run, indexed by each of its names.
#[derive(Debug, Default)]
pub struct Catalog {
    specs: Vec<&'static TaskSpec>,
    index: HashMap<&'static str, usize>,
}

impl Catalog {
    pub fn new(specs: impl IntoIterator<Item = &'static TaskSpec>) -> Self {
        let mut catalog = Catalog::default();
        for spec in specs {
            let i = catalog.specs.len();
            catalog.specs.push(spec);
            catalog.index.insert(spec.name, i);
            for alias in spec.aliases {
                catalog.index.insert(alias, i);
            }
        }
        catalog
    }

    pub fn get(&self, type_name: &str) -> Option<&'static TaskSpec> {
        self.index.get(type_name).map(|&i| self.specs[i])
    }

    pub fn specs(&self) -> impl Iterator<Item = &'static TaskSpec> + '_ {
        self.specs.iter().copied()
    }

    /// The known type name closest to a misspelt one, if any is close enough to be a useful hint.
    ///
    /// Kestra's type names share long prefixes (`io.kestra.plugin.`), so comparing whole names
    /// would make every unknown plugin look like some known one. A name is suggested only when
    /// it is a plausible typo: the same package with a class name at most a few letters off
    /// (`core.log.Lg` → `core.log.Log`), or a package a letter or two off (`core.logs.Log`). A
    /// class of the same name in another plugin is another task, never suggested.
    pub fn closest(&self, type_name: &str) -> Option<&'static str> {
        closest_type(
            type_name,
            self.specs
                .iter()
                .flat_map(|s| std::iter::once(&s.name).chain(s.aliases.iter()))
                .copied(),
        )
        .map(|name| self.get(name).map_or(name, |s| s.name))
    }
}

/// How alike two words are, from 0 to 1: Jaro-Winkler, raised to 0.9 when a few edits turn
/// one into the other (one edit for words up to 5 letters, two up to 11…), since short class
/// names (`Lg` for `Log`) are far apart by Jaro-Winkler alone.
fn likeness(a: &str, b: &str) -> f64 {
    let longest = a.chars().count().max(b.chars().count());
    let jw = strsim::jaro_winkler(a, b);
    if strsim::levenshtein(a, b) <= 1 + longest / 6 {
        jw.max(0.9)
    } else {
        jw
    }
}

/// How close a type name must be to a known one to be suggested (see [`likeness`]).
pub const TYPE_SUGGESTION_THRESHOLD: f64 = 0.85;

/// The task type a misspelt `word` most plausibly meant (see [`Catalog::closest`]).
pub fn closest_type<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let (package, class) = lower.rsplit_once('.').unwrap_or(("", &lower));
    candidates
        .filter_map(|c| {
            let cl = c.to_ascii_lowercase();
            let (c_package, c_class) = cl.rsplit_once('.').unwrap_or(("", &cl));
            let score = if package == c_package {
                likeness(class, c_class)
            } else if strsim::levenshtein(package, c_package) <= 1 + package.len() / 20 {
                // A typo in the package (`core.logs`): about one edit per 20 letters.
                likeness(class, c_class) * 0.95
            } else {
                // Another plugin: a class of the same name there is a different task.
                0.0
            };
            (score >= TYPE_SUGGESTION_THRESHOLD).then_some((score, c))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether `name` has the shape of a Kestra plugin type (`io.kestra.plugin.ai.completion.ChatCompletion`,
/// `io.kestra.core.tasks.log.Log`): Kestra's prefix, lower-case packages, a capitalised class.
pub fn is_kestra_type(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("io.kestra.") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    let Some((class, packages)) = parts.split_last() else {
        return false;
    };
    !packages.is_empty()
        && packages.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        && class.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && class.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The candidate most similar to `word`, when it is similar enough to suggest.
pub fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let last = lower.rsplit('.').next().unwrap_or(&lower).to_string();
    candidates
        .map(|c| {
            let cl = c.to_ascii_lowercase();
            let c_last = cl.rsplit('.').next().unwrap_or(&cl).to_string();
            let whole = strsim::jaro_winkler(&lower, &cl);
            // A right class name in a wrong package is still a good guess.
            let tail = if last == c_last {
                0.95
            } else {
                strsim::jaro_winkler(&last, &c_last) * 0.9
            };
            (whole.max(tail), c)
        })
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
