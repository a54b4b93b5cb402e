//! `weir dbt run-operation MACRO --args '{…}'`: calls a macro of the project or of a package
//! with the profile's connection, as dbt does: what the macro logs with `log(…, info=True)` is
//! printed with the time, what it `print`s as it is; an error in the macro is
//! "Encountered an error while running operation" and exit code 1.

#![expect(
    clippy::print_stdout,
    reason = "run-operation prints what the macro logs"
)]

use crate::args::DbtRunOperation;
use crate::dbt::run::{adapter_for, read_target, say};
use crate::dbt::{cli_vars, load};
use crate::output::{user_error, user_error_hint};
use anyhow::Result;
use serde_json::{Map, Value};
use std::sync::Arc;
use weir_dbt::jinja::{Compiler, Settings, TargetInfo};

/// `--args` as a map (YAML or JSON text).
fn macro_args(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    let hint = "write `--args` as a YAML or JSON map: `--args '{table_name: orders}'`";
    let node = weir_flow::yaml::parse(text).map_err(|errors| {
        let why = errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        user_error_hint(format!("`--args` is not valid YAML: {why}"), hint)
    })?;
    match node.to_json() {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(user_error_hint(
            format!("`--args` should be a map, found `{other}`"),
            hint,
        )),
    }
}

pub(crate) fn run_operation(op: &DbtRunOperation) -> Result<u8> {
    let flags = &op.flags;
    let args = macro_args(op.args.as_deref())?;
    let loaded = load(&flags.project_dir)?;
    let target = read_target(flags, loaded.project.config.profile.as_deref())?;
    say(&format!(
        "Running with weir={} (dbt-compatible)",
        env!("CARGO_PKG_VERSION")
    ));
    let settings = Settings {
        target: TargetInfo::from_target(&target),
        vars: cli_vars(flags)?,
        env: Arc::new(|name: &str| std::env::var(name).ok()),
    };
    let files = crate::dbt::read_project(&flags.project_dir)?;
    let compiler =
        Compiler::with_packages(&loaded.project, &files, &loaded.package_macros, settings)
            .map_err(|d| {
                for d in &d.0 {
                    crate::output::print_diagnostic(d, files.get(&d.location.file));
                }
                user_error("the project's macros do not compile")
            })?;
    let adapter = adapter_for(flags, &target)?;
    match compiler.run_operation(&op.macro_name, &args, adapter) {
        Ok(done) => {
            for (timed, line) in &done.stdout {
                if *timed {
                    say(line);
                } else {
                    println!("{line}");
                }
            }
            Ok(0)
        }
        Err(e) => {
            let d = &e.diagnostic;
            let why = if d.location.file.is_empty() {
                d.message.clone()
            } else {
                d.to_string()
            };
            say(&format!(
                "Encountered an error while running operation: Compilation Error in macro {}\n  {why}",
                op.macro_name
            ));
            Ok(1)
        }
    }
}
