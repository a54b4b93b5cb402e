//! `weir warehouse …`: maintenance of warehouse tables weir loads into.

use crate::output::{user_error, user_error_hint};
use anyhow::Result;
use clap::Subcommand;
use std::path::Path;
use weir_warehouse::load::key_index;

#[derive(Subcommand)]
pub enum WarehouseCommand {
    /// Give TABLE a key index, so that a load checks a file of new rows against it in time that
    /// grows with the file, not the table: weir's own store of the table's key fingerprints
    /// (beside a DuckDB file; under `$WEIR_KEY_CACHE`, default `~/.cache/weir/keys`, for
    /// PostgreSQL), built here from the table's key column and kept in step by every load.
    /// Writes by anything else are noticed (a token in `weir_key_store`) and the index is rebuilt
    /// before use. Does nothing when the table has one.
    Index {
        /// The table, as a Load task names it (`public.yellow_tripdata`).
        table: String,
        /// `jdbc:duckdb:PATH` or `jdbc:postgresql://HOST:PORT/DB?user=…`; the demo's DuckDB file
        /// (`<home>/demo/warehouse.duckdb`) by default.
        #[arg(long)]
        url: Option<String>,
        /// The column holding the row key.
        #[arg(long, default_value = "unique_row_id")]
        key_column: String,
    },
}

pub fn warehouse(home: &Path, cmd: WarehouseCommand) -> Result<u8> {
    match cmd {
        WarehouseCommand::Index {
            table,
            url,
            key_column,
        } => index(home, &table, url, &key_column),
    }
}

fn index(home: &Path, table: &str, url: Option<String>, key_column: &str) -> Result<u8> {
    let url = match url {
        Some(u) => u,
        None => {
            let file = home.join("demo").join("warehouse.duckdb");
            if !file.is_file() {
                return Err(user_error_hint(
                    format!("there is no warehouse at `{}`", file.display()),
                    "name one with `--url jdbc:duckdb:PATH` or `--url jdbc:postgresql://…`",
                ));
            }
            format!("jdbc:duckdb:{}", file.display())
        }
    };
    let target =
        weir_warehouse::url::parse(&url, None, None).map_err(|e| user_error(e.to_string()))?;
    let mut w = weir_warehouse::connect(&target)?;
    let made = key_index::create(w.as_mut(), table, key_column)
        .map_err(|e| user_error(format!("could not give `{table}` a key index: {e}")))?;
    match made {
        key_index::Created::New(what) => {
            crate::commands::emit(&format!("created the key index of `{table}`: {what}\n"))
        }
        key_index::Created::Existing(what) => {
            crate::commands::emit(&format!("`{table}` already has a key index: {what}\n"))
        }
    }
    Ok(0)
}
