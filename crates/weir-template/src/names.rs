//! Static detection of calls to unknown functions, filters and tests.
//!
//! minijinja only notices an unknown function or filter when the instruction runs, which in
//! the engine means after earlier tasks already ran. [`find_unknown`] walks the compiled
//! instructions instead, so `check_syntax` can reject such templates up front.
//!
//! The known names are read from a fully configured environment (the very one [`Renderer`]
//! builds, with inert KV/secret lookups), so they cannot drift from the registration code.
//!
//! [`Renderer`]: crate::Renderer

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use minijinja::machinery::{CompiledTemplate, Instruction, Instructions};

use crate::lookup::{KvLookup, Masker, SecretLookup};

/// What kind of callable a template names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    Function,
    Filter,
    Test,
}

impl NameKind {
    pub fn label(self) -> &'static str {
        match self {
            NameKind::Function => "function",
            NameKind::Filter => "filter",
            NameKind::Test => "test",
        }
    }
}

/// Every function, filter and test a Kestra template may use.
#[derive(Debug)]
pub(crate) struct KnownNames {
    functions: BTreeSet<String>,
    filters: BTreeSet<String>,
    tests: BTreeSet<String>,
}

impl KnownNames {
    fn of(&self, kind: NameKind) -> &BTreeSet<String> {
        match kind {
            NameKind::Function => &self.functions,
            NameKind::Filter => &self.filters,
            NameKind::Test => &self.tests,
        }
    }

    /// Whether `name` is known. When the list could not be read (see [`debug_list`]), every
    /// name is accepted: a false "unknown" would block valid flows.
    pub fn contains(&self, kind: NameKind, name: &str) -> bool {
        let set = self.of(kind);
        set.is_empty() || set.contains(name)
    }

    /// The closest known name, if one is close enough to be a plausible typo.
    pub fn suggest(&self, kind: NameKind, name: &str) -> Option<&str> {
        let wanted = name.to_lowercase();
        self.of(kind)
            .iter()
            .filter(|k| !k.starts_with("__"))
            .map(|k| (strsim::jaro_winkler(&wanted, &k.to_lowercase()), k))
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.as_str())
    }
}

/// The names registered on the renderer's environment, computed once.
pub(crate) fn known() -> &'static KnownNames {
    static KNOWN: OnceLock<KnownNames> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let env = crate::renderer::kestra_environment(
            Arc::new(Inert),
            Arc::new(Inert),
            Masker::default(),
            Arc::new(crate::lookup::NoExecution),
        );
        // minijinja has no public way to list filters and tests, but its `Debug` output does.
        let debug = format!("{env:?}");
        KnownNames {
            functions: env.globals().map(|(name, _)| name.to_string()).collect(),
            filters: debug_list(&debug, "filters"),
            tests: debug_list(&debug, "tests"),
        }
    })
}

/// KV store and secrets that are never consulted: only the names of the environment are read.
struct Inert;

impl KvLookup for Inert {
    fn kv_get(&self, _: &str, _: &str) -> Result<Option<serde_json::Value>, String> {
        Ok(None)
    }
}

impl SecretLookup for Inert {
    fn secret(&self, _: &str) -> Option<String> {
        None
    }
}

/// Reads the quoted names of `field: ["a", "b", ...]` from an environment's `Debug` output.
/// Returns an empty set if the format is not what we expect.
fn debug_list(debug: &str, field: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Some(start) = debug.find(&format!("{field}: [")) else {
        return names;
    };
    let mut rest = &debug[start + field.len() + 3..];
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.starts_with(']') {
            return names;
        }
        let Some(body) = rest.strip_prefix('"') else {
            return BTreeSet::new();
        };
        let Some(end) = body.find('"') else {
            return BTreeSet::new();
        };
        names.insert(body[..end].to_string());
        rest = &body[end + 1..];
    }
}

/// Names a template binds itself and may call like functions.
const IMPLICIT_LOCALS: [&str; 6] = ["loop", "caller", "super", "self", "varargs", "kwargs"];

/// A call to a function, filter or test that does not exist.
#[derive(Debug)]
pub(crate) struct Unknown<'s> {
    pub kind: NameKind,
    pub name: &'s str,
    /// Byte offset of the name in the compiled (translated) source, when known.
    pub offset: Option<usize>,
    /// 1-based line in the compiled source, when the offset is not known.
    pub line: Option<usize>,
}

impl Unknown<'_> {
    pub fn message(&self) -> String {
        unknown_message(self.kind, self.name)
    }
}

/// "unknown filter `shout`", with a suggestion when a known name is close.
pub(crate) fn unknown_message(kind: NameKind, name: &str) -> String {
    let mut msg = format!("unknown {} `{name}`", kind.label());
    if let Some(close) = known().suggest(kind, name) {
        msg.push_str(&format!(" (did you mean `{close}`?)"));
    }
    msg
}

/// The first (by position) call of an unknown function, filter or test in a compiled template.
pub(crate) fn find_unknown<'s>(compiled: &CompiledTemplate<'s>) -> Option<Unknown<'s>> {
    let all: Vec<&Instructions<'s>> = std::iter::once(&compiled.instructions)
        .chain(compiled.blocks.values())
        .collect();
    // Variables and macros the template defines itself (`{% set %}`, `{% macro %}`, loop
    // targets) may be called; context variables are plain JSON and never callable.
    let mut locals: BTreeSet<&str> = IMPLICIT_LOCALS.into_iter().collect();
    for instrs in &all {
        for (_, instr) in iter(instrs) {
            if let Instruction::StoreLocal(name) = instr {
                locals.insert(name);
            }
        }
    }
    let known = known();
    let mut found: BTreeMap<(usize, usize), Unknown<'s>> = BTreeMap::new();
    for instrs in &all {
        for (idx, instr) in iter(instrs) {
            let (kind, name) = match *instr {
                Instruction::CallFunction(name, _) if !locals.contains(name) => {
                    (NameKind::Function, name)
                }
                Instruction::ApplyFilter(name, _, _) => (NameKind::Filter, name),
                Instruction::PerformTest(name, _, _) => (NameKind::Test, name),
                _ => continue,
            };
            // minijinja ignores whitespace inside dotted filter and test names.
            let normalized: String = name.split_whitespace().collect();
            if known.contains(kind, &normalized) {
                continue;
            }
            let span = instrs.get_span(idx);
            let offset = span.map(|s| s.start_offset as usize);
            let line = span
                .map(|s| s.start_line as usize)
                .or_else(|| instrs.get_line(idx));
            let key = (line.unwrap_or(usize::MAX), offset.unwrap_or(usize::MAX));
            found.entry(key).or_insert(Unknown {
                kind,
                name,
                offset,
                line,
            });
        }
    }
    found.into_values().next()
}

fn iter<'a, 's>(instrs: &'a Instructions<'s>) -> impl Iterator<Item = (u32, &'a Instruction<'s>)> {
    (0u32..).map_while(move |idx| instrs.get(idx).map(|i| (idx, i)))
}
