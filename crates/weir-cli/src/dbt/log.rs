//! The log of `weir dbt`: every line the dbt verbs print goes through here, as one of dbt's
//! events (a name such as `LogModelResult`, a level, the message, the event's data). The
//! console shows it as `--log-format` asks (`text`: `HH:MM:SS  message`; `json`: dbt's
//! structured-log object per line, `{"data": {…}, "info": {"name", "level", "msg", "ts",
//! "invocation_id", …}}`; `debug`: with microseconds, level and thread), filtered by
//! `--log-level` and `--quiet`; `dbt.log` in `--log-path` (default `logs/` in the project)
//! gets every line in the debug format (or `--log-format-file`).
//!
//! Global to the process: `weir dbt` runs one verb per process, and `init` is called before it.

#![expect(
    clippy::print_stderr,
    reason = "weir's own warnings go to stderr in the text format"
)]

use crate::args::DbtGlobalFlags;
use crate::output::{paint, user_error};
use anyhow::Result;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
    Debug,
}

impl Format {
    fn parse(s: Option<&str>, default: Format) -> Format {
        match s {
            Some("json") => Format::Json,
            Some("debug") => Format::Debug,
            Some("text" | "default") => Format::Text,
            _ => default,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug,
    Info,
    Warn,
    Error,
    /// `--log-level none`: nothing passes.
    None,
}

impl Level {
    fn parse(s: Option<&str>, default: Level) -> Level {
        match s {
            Some("debug") => Level::Debug,
            Some("info") => Level::Info,
            Some("warn") => Level::Warn,
            Some("error") => Level::Error,
            Some("none") => Level::None,
            _ => default,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error | Level::None => "error",
        }
    }
}

/// Which warnings `--warn-error`/`--warn-error-options` make errors.
#[derive(Debug, Clone, Default, PartialEq)]
struct WarnError {
    all: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl WarnError {
    fn parse(flag: bool, options: Option<&str>) -> Result<WarnError> {
        let mut w = WarnError {
            all: flag,
            ..WarnError::default()
        };
        let Some(text) = options else {
            return Ok(w);
        };
        let bad = |why: &str| {
            user_error(format!(
                "invalid `--warn-error-options` `{text}`: {why}; expected `{{include: all}}` or `{{include: [EventName], exclude: [EventName]}}`"
            ))
        };
        let value = weir_flow::yaml::parse(text)
            .map_err(|_| bad("not YAML"))?
            .to_json();
        let Value::Object(map) = value else {
            return Err(bad("not a mapping"));
        };
        let names = |v: &Value| -> Result<(bool, Vec<String>)> {
            match v {
                Value::String(s) if s == "all" || s == "*" => Ok((true, Vec::new())),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad("event names are strings"))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|v| (false, v)),
                _ => Err(bad("`include` is `all` or a list of event names")),
            }
        };
        for (key, v) in &map {
            match key.as_str() {
                // dbt 1.8 renamed `include`/`exclude` to `error`/`warn`.
                "include" | "error" => {
                    let (all, list) = names(v)?;
                    w.all |= all;
                    w.include.extend(list);
                }
                "exclude" | "warn" => w.exclude.extend(names(v)?.1),
                "silence" => {}
                other => return Err(bad(&format!("unknown key `{other}`"))),
            }
        }
        Ok(w)
    }

    fn applies(&self, event: &str) -> bool {
        (self.all || self.include.iter().any(|n| n == event))
            && !self.exclude.iter().any(|n| n == event)
    }
}

struct Logger {
    console: Format,
    console_level: Level,
    file_format: Format,
    file_level: Level,
    quiet: bool,
    colors: bool,
    width: usize,
    warn_error: WarnError,
    invocation_id: String,
    file: Mutex<Option<std::fs::File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

fn logger() -> &'static Logger {
    LOGGER.get_or_init(|| Logger::new(&DbtGlobalFlags::default(), WarnError::default()))
}

impl Logger {
    fn new(g: &DbtGlobalFlags, warn_error: WarnError) -> Logger {
        let console_level = if g.debug {
            Level::Debug
        } else {
            Level::parse(g.log_level.as_deref(), Level::Info)
        };
        Logger {
            console: Format::parse(g.log_format.as_deref(), Format::Text),
            console_level,
            file_format: Format::parse(
                g.log_format_file
                    .as_deref()
                    .or(match g.log_format.as_deref() {
                        Some("json") => Some("json"),
                        _ => None,
                    }),
                Format::Debug,
            ),
            file_level: Level::parse(g.log_level_file.as_deref(), Level::Debug),
            quiet: g.quiet,
            colors: g.use_colors && !g.no_use_colors,
            width: g.printer_width.unwrap_or(80).clamp(40, 400),
            warn_error,
            invocation_id: uuid::Uuid::new_v4().to_string(),
            file: Mutex::new(None),
        }
    }
}

/// Sets the log up from the global flags: the console's format and level, and `dbt.log` in
/// `--log-path` (else `logs/` of the project, when the folder is a dbt project).
pub(crate) fn init(g: &DbtGlobalFlags, project_dir: &Path) -> Result<()> {
    let warn_error = WarnError::parse(g.warn_error, g.warn_error_options.as_deref())?;
    let log = Logger::new(g, warn_error);
    let dir = match &g.log_path {
        Some(p) => Some(p.clone()),
        None => std::env::var_os("DBT_LOG_PATH")
            .filter(|p| !p.is_empty())
            .map(Into::into)
            .or_else(|| {
                project_dir
                    .join("dbt_project.yml")
                    .is_file()
                    .then(|| project_dir.join("logs"))
            }),
    };
    if let Some(dir) = dir
        && log.file_level != Level::None
    {
        // A log file that cannot be written is no reason to stop the command.
        let file = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("dbt.log"))
        });
        match file {
            Ok(mut f) => {
                if log.file_format != Format::Json {
                    let _ = writeln!(
                        f,
                        "\n\n============================== {} | {} ==============================",
                        chrono::Local::now().format("%H:%M:%S%.6f"),
                        log.invocation_id
                    );
                }
                *log.file.lock().unwrap_or_else(|p| p.into_inner()) = Some(f);
            }
            Err(e) => eprintln!(
                "{} could not write `{}`: {e}",
                paint("33", "warning:"),
                dir.join("dbt.log").display()
            ),
        }
    }
    let _ = LOGGER.set(log);
    Ok(())
}

/// Whether the warning event `name` is to be an error (`--warn-error`, `--warn-error-options`).
pub(crate) fn warn_is_error(name: &str) -> bool {
    logger().warn_error.applies(name)
}

/// The width progress lines are padded to (`--printer-width`).
pub(crate) fn width() -> usize {
    logger().width
}

/// `text` painted when `--use-colors` is given.
pub(crate) fn colour(code: &str, text: &str) -> String {
    if logger().colors {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// dbt's event codes, for the names weir emits that dbt has.
fn code(name: &str) -> &'static str {
    match name {
        "MainReportVersion" => "A001",
        "FoundStats" => "W006",
        "ConcurrencyLine" => "Q027",
        "LogStartLine" => "Q011",
        "LogModelResult" => "Q012",
        "LogTestResult" => "Q007",
        "LogSeedResult" => "Q016",
        "LogSnapshotResult" => "Q015",
        "LogSkipBecauseError" => "Z034",
        "FinishedRunningStats" => "E047",
        "EndOfRunSummary" => "Z030",
        "RunResultWarning" => "Z021",
        "RunResultFailure" => "Z022",
        "RunResultError" => "Z024",
        "RunResultWarningMessage" => "Z046",
        "StatsLine" => "Z023",
        "Formatting" => "Z017",
        "NoNodesForSelectionCriteria" => "M030",
        "NothingToDo" => "Z012",
        _ => "",
    }
}

fn thread_name() -> String {
    match std::thread::current().name() {
        None | Some("main") => "MainThread".into(),
        Some(n) => n.to_string(),
    }
}

/// One event: `msg` at `level` with dbt's `data`.
pub(crate) fn event(name: &str, level: Level, msg: &str, data: Value) {
    let log = logger();
    let now = chrono::Utc::now();
    let thread = thread_name();
    let json_line = || {
        json!({
            "data": data,
            "info": {
                "category": "",
                "code": code(name),
                "extra": {},
                "invocation_id": log.invocation_id,
                "level": level.as_str(),
                "msg": msg,
                "name": name,
                "pid": std::process::id(),
                "thread": thread,
                "ts": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            }
        })
        .to_string()
    };
    let local = now.with_timezone(&chrono::Local);
    let debug_line = || {
        let plain = strip_ansi(msg);
        format!(
            "{} [{:<5}] [{thread}]: {plain}",
            local.format("%H:%M:%S%.6f"),
            level.as_str()
        )
    };

    if level >= log.file_level
        && let Some(f) = log.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
    {
        let line = match log.file_format {
            Format::Json => json_line(),
            Format::Debug => debug_line(),
            Format::Text => format!("{}  {}", local.format("%H:%M:%S"), strip_ansi(msg)),
        };
        let _ = writeln!(f, "{line}");
    }

    let shown = level >= log.console_level && (!log.quiet || level >= Level::Error);
    if !shown {
        return;
    }
    let line = match log.console {
        Format::Json => json_line(),
        Format::Debug => debug_line(),
        Format::Text => format!("{}  {msg}", local.format("%H:%M:%S")),
    };
    // A closed stdout (`| head`) is no reason to panic.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A warning weir itself reports: `warning: …` on stderr in text, a `warn` event in JSON.
pub(crate) fn warning(name: &str, msg: &str) {
    let log = logger();
    if log.console == Format::Json {
        event(name, Level::Warn, msg, json!({"msg": msg}));
        return;
    }
    // Still in dbt.log; the console line goes to stderr in weir's style.
    if let Some(f) = log.file.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
        let _ = writeln!(
            f,
            "{} [warn ] [{}]: {msg}",
            chrono::Local::now().format("%H:%M:%S%.6f"),
            thread_name()
        );
    }
    if !log.quiet && log.console_level <= Level::Warn {
        eprintln!("{} {msg}", paint("33", "warning:"));
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_error_options_take_dbt_shapes() {
        let all = WarnError::parse(false, Some("{include: all}")).unwrap();
        assert!(all.applies("LogTestResult"));
        let some = WarnError::parse(
            false,
            Some(r#"{"include": ["LogTestResult"], "exclude": ["NoNodesForSelectionCriteria"]}"#),
        )
        .unwrap();
        assert!(some.applies("LogTestResult"));
        assert!(!some.applies("NoNodesForSelectionCriteria"));
        let new_names =
            WarnError::parse(false, Some("{error: all, warn: [LogTestResult]}")).unwrap();
        assert!(!new_names.applies("LogTestResult"));
        assert!(new_names.applies("NothingToDo"));
        assert!(WarnError::parse(false, Some("{include: 3}")).is_err());
        assert!(WarnError::parse(false, Some("{colour: all}")).is_err());
        assert!(WarnError::parse(true, None).unwrap().applies("anything"));
        assert!(!WarnError::parse(false, None).unwrap().applies("anything"));
    }

    #[test]
    fn ansi_codes_are_stripped_for_the_file() {
        assert_eq!(strip_ansi("[\x1b[32mOK\x1b[0m in 0.1s]"), "[OK in 0.1s]");
    }
}
