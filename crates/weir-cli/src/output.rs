//! Everything weir prints for people: errors in the `error:` / `Caused by:` / `hint:` shape,
//! located diagnostics with a source snippet, and plain tables.

#![expect(
    clippy::print_stderr,
    reason = "this module is where the binary talks to people"
)]

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use weir_core::Diagnostic;

static COLOR: AtomicBool = AtomicBool::new(false);

pub fn init_color() {
    let on =
        std::env::var_os(weir_core::env::NO_COLOR).is_none() && std::io::stderr().is_terminal();
    COLOR.store(on, Ordering::Relaxed);
}

/// A note for the person at the terminal, on stderr.
#[expect(clippy::print_stderr, reason = "notes go to the terminal")]
pub fn note(message: &str) {
    eprintln!("{} {message}", paint("36", "note:"));
}

pub fn paint(code: &str, text: &str) -> String {
    if COLOR.load(Ordering::Relaxed) {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A mistake of the user's (bad flow, bad input, unknown id): exit code 2 and an optional hint.
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    /// Diagnostics already printed; the message only summarises them.
    pub code: u8,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

pub fn user_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError {
        message: message.into(),
        hint: None,
        code: 2,
    })
}

pub fn user_error_hint(message: impl Into<String>, hint: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError {
        message: message.into(),
        hint: Some(hint.into()),
        code: 2,
    })
}

pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<UserError>())
        .map_or(2, |u| u.code)
}

pub fn print_error(err: &anyhow::Error) {
    let mut out = format!("{} {err}", paint("1;31", "error:"));
    for cause in err.chain().skip(1) {
        let _ = write!(out, "\n  {} {cause}", paint("1", "Caused by:"));
    }
    if let Some(hint) = err
        .chain()
        .find_map(|e| e.downcast_ref::<UserError>())
        .and_then(|u| u.hint.as_deref())
    {
        let _ = write!(out, "\n\n{} {hint}", paint("1;36", "hint:"));
    }
    eprintln!("{out}");
}

/// Prints a diagnostic like a compiler: message, location, the line with a caret, hint.
pub fn print_diagnostic(d: &Diagnostic, source: Option<&str>) {
    let mut out = format!(
        "{} {}\n  {} {}",
        paint("1;31", "error:"),
        d.message,
        paint("34", "-->"),
        d.location
    );
    if let Some(line) = source.and_then(|s| s.lines().nth(d.location.line.saturating_sub(1))) {
        let num = d.location.line.to_string();
        let pad = " ".repeat(num.len());
        let caret = " ".repeat(d.location.column.saturating_sub(1));
        let _ = write!(
            out,
            "\n {pad} |\n {num} | {line}\n {pad} | {caret}{}",
            paint("1;31", "^")
        );
    }
    if let Some(h) = &d.hint {
        let _ = write!(out, "\n  {} {h}", paint("1;36", "hint:"));
    }
    eprintln!("{out}");
}

/// A table with left-aligned columns, as text ending in a newline.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

pub fn state_color(state: weir_core::State) -> String {
    use weir_core::State::*;
    let code = match state {
        Success => "32",
        Warning => "33",
        Failed | Killed | Cancelled => "31",
        Running | Retrying => "36",
        _ => "2",
    };
    paint(code, state.as_str())
}
