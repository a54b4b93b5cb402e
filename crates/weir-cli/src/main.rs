//! The `weir` binary: parses the command line, wires the store, storage and engine together,
//! and renders results, diagnostics and errors for people.

mod args;
mod commands;
mod demo;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::init_color();
    let result = commands::dispatch(cli);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(output::exit_code_of(&err))
        }
    }
}
