//! End-to-end tests of the `weir` binary: behaviour of runs (`engine`), the bad-input corpus
//! (`corpus`), buckets (`buckets`) and the data plane (`warehouse`, with a throwaway PostgreSQL
//! from `pg`), query values on both engines (`values`), malformed rows of a load (`rejects`), loads
//! and downloads killed at random moments (`crash`), secrets kept out of every stored byte
//! (`secrets`), behaviours that must not surprise (`surprises`), `weir server` and `weir backfill`
//! over HTTP (`server`), `weir dbt` on dbt projects (`dbt`), sharing the harness in `common`.

mod bigquery;
mod blueprints;
mod buckets;
mod common;
mod core_tasks;
mod corpus;
mod course_shapes;
mod crash;
mod dbt;
mod dbt_cli;
mod dbt_compiled;
mod dbt_flags;
mod dbt_memory;
mod dbt_packages;
mod dbt_pg;
mod dbt_run;
mod dbt_snapshot;
mod demo_transform;
mod duckdb_library;
mod engine;
mod expressions;
mod flowables;
mod gcp;
mod load_index;
mod namespace_files;
mod pg;
mod rejects;
mod secrets;
mod server;
mod surprises;
mod values;
mod warehouse;
