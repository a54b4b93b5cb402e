//! The `weir` binary: parses the command line, wires the store, storage and engine together,
//! and renders results, diagnostics and errors for people.

mod args;
mod commands;
mod dbt;
mod dbt_run;
mod demo;
mod output;
mod server;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
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
