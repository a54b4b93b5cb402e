//! The `weir` binary: parses the command line, wires the store, storage and engine together,
//! and renders results, diagnostics and errors for people.

mod args;
mod commands;
mod dbt;
mod demo;
mod namespace;
mod output;
mod server;
mod warehouse;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse_from(command_line());
    output::init_color();
    weir_warehouse::on_lock_wait(output::note);
    let result = commands::dispatch(cli);
    // Checkpoint the DuckDB files this run wrote, so they are whole without their WAL.
    weir_warehouse::close_all();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(output::exit_code_of(&err))
        }
    }
}

/// The command line, where weir started as `dbt` (the link the DbtCLI task puts first on
/// `PATH`) is `weir dbt`: `dbt build --select x` runs as `weir dbt build --select x`.
fn command_line() -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let as_dbt = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|name| name == "dbt");
    if as_dbt {
        args.splice(0..1, ["weir".into(), "dbt".into()]);
    }
    args
}
