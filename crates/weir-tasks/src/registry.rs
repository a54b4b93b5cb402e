//! The one list of task types: each declared once, with its spec and how it runs.
//!
//! The catalog (validation), the flow JSON Schema, `weir tasks`, dispatch and the engine all
//! derive from [`REGISTRY`], so a task type added here is complete: there is no second list to
//! forget. A runnable type carries its runner; a flowable type names its [`Flowable`] kind,
//! which the engine matches exhaustively.

use crate::bigquery_query;
use crate::catalog::*;
use crate::context::TaskContext;
use crate::execution_count;
use crate::storage_tasks;
use crate::{TaskError, TaskResult, core, dbt_cli, git, http, jdbc, kv, s3, scripts};
use crate::{bigquery, gcs};
use futures::future::BoxFuture;
use weir_flow::TaskSpec;

/// The task types the engine runs itself, because they create child task runs or change the
/// execution. The engine's `match` on this enum has no fallback arm: a new kind does not compile
/// until the engine runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flowable {
    If,
    Switch,
    ForEach,
    Parallel,
    Sequential,
    Subflow,
    Labels,
    WorkingDirectory,
    Pause,
    Dag,
    AllowFailure,
    ForEachItem,
}

/// One attempt of a runnable task.
pub type Runner = for<'a> fn(&'a TaskContext) -> BoxFuture<'a, Result<TaskResult, TaskError>>;

#[derive(Clone, Copy)]
pub enum Behavior {
    Run(Runner),
    Flowable(Flowable),
}

/// A task type: what flows may write (its spec) and what running it means.
#[derive(Clone, Copy)]
pub struct TaskType {
    pub spec: &'static TaskSpec,
    pub behavior: Behavior,
}

/// A runner from an async task function returning anything that becomes a `TaskResult`.
macro_rules! run_async {
    ($f:expr) => {{
        fn runner<'a>(ctx: &'a TaskContext) -> BoxFuture<'a, Result<TaskResult, TaskError>> {
            Box::pin(async move { $f(ctx).await.map(Into::into) })
        }
        Behavior::Run(runner)
    }};
}

/// A runner from a synchronous task function.
macro_rules! run_sync {
    ($f:expr) => {{
        fn runner<'a>(ctx: &'a TaskContext) -> BoxFuture<'a, Result<TaskResult, TaskError>> {
            Box::pin(std::future::ready($f(ctx).map(Into::into)))
        }
        Behavior::Run(runner)
    }};
}

const fn t(spec: &'static TaskSpec, behavior: Behavior) -> TaskType {
    TaskType { spec, behavior }
}

const fn flowable(spec: &'static TaskSpec, kind: Flowable) -> TaskType {
    TaskType {
        spec,
        behavior: Behavior::Flowable(kind),
    }
}

async fn python_script(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    let python = std::env::var(weir_core::env::WEIR_PYTHON).unwrap_or_else(|_| "python3".into());
    scripts::script(ctx, "script.py", &[python.as_str()]).await
}

async fn node_script(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    scripts::script(ctx, "script.js", &["node"]).await
}

async fn shell_script(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
    scripts::script(ctx, "script.sh", &["/bin/sh"]).await
}

/// The older one-verb dbt tasks: each a `dbt <verb>` line.
macro_rules! dbt_verb {
    ($verb:literal) => {{
        async fn verb(ctx: &TaskContext) -> Result<TaskResult, TaskError> {
            dbt_cli::verb(ctx, $verb).await
        }
        run_async!(verb)
    }};
}

/// Every task type weir knows, in the order `weir tasks` lists them.
pub static REGISTRY: &[TaskType] = &[
    t(&DUCKDB_QUERY, run_async!(jdbc::query)),
    t(&POSTGRES_QUERY, run_async!(jdbc::query)),
    t(&REDSHIFT_QUERY, run_async!(jdbc::query)),
    t(&POSTGRES_COPY_IN, run_async!(jdbc::copy_in)),
    t(&POSTGRES_COPY_OUT, run_async!(jdbc::copy_out)),
    t(&WEIR_LOAD, run_async!(jdbc::load)),
    t(&BQ_QUERY, run_async!(bigquery_query::query)),
    t(&BQ_LOAD, run_async!(bigquery_query::load)),
    t(&BQ_LOAD_FROM_GCS, run_async!(bigquery_query::load_from_gcs)),
    flowable(&IF, Flowable::If),
    flowable(&SWITCH, Flowable::Switch),
    flowable(&FOR_EACH, Flowable::ForEach),
    flowable(&PARALLEL, Flowable::Parallel),
    flowable(&SEQUENTIAL, Flowable::Sequential),
    flowable(&SUBFLOW, Flowable::Subflow),
    flowable(&LABELS, Flowable::Labels),
    flowable(&WORKING_DIRECTORY, Flowable::WorkingDirectory),
    flowable(&PAUSE, Flowable::Pause),
    flowable(&DAG, Flowable::Dag),
    flowable(&ALLOW_FAILURE, Flowable::AllowFailure),
    flowable(&FOR_EACH_ITEM, Flowable::ForEachItem),
    t(&LOG, run_sync!(core::log)),
    t(&RETURN, run_sync!(core::return_value)),
    t(&OUTPUT_VALUES, run_sync!(core::output_values)),
    t(&FAIL, run_sync!(core::fail)),
    t(&SLEEP, run_async!(core::sleep)),
    t(&PURGE, run_sync!(core::purge)),
    t(&KV_SET, run_sync!(kv::set)),
    t(&KV_GET, run_sync!(kv::get)),
    t(&KV_DELETE, run_sync!(kv::delete)),
    t(&KV_GET_KEYS, run_sync!(kv::get_keys)),
    t(&DOWNLOAD, run_async!(http::download)),
    t(&REQUEST, run_async!(http::request)),
    t(&SHELL_COMMANDS, run_async!(scripts::commands)),
    t(&SHELL_SCRIPT, run_async!(shell_script)),
    t(&PYTHON_COMMANDS, run_async!(scripts::commands)),
    t(&PYTHON_SCRIPT, run_async!(python_script)),
    t(&NODE_COMMANDS, run_async!(scripts::commands)),
    t(&NODE_SCRIPT, run_async!(node_script)),
    t(&STORAGE_WRITE, run_sync!(storage_tasks::write)),
    t(&STORAGE_SPLIT, run_sync!(storage_tasks::split)),
    t(&STORAGE_CONCAT, run_sync!(storage_tasks::concat)),
    t(&STORAGE_SIZE, run_sync!(storage_tasks::size)),
    t(&STORAGE_DELETE, run_sync!(storage_tasks::delete)),
    t(&EXECUTION_COUNT, run_async!(execution_count::count)),
    t(&S3_UPLOAD, run_async!(s3::upload)),
    t(&S3_DOWNLOAD, run_async!(s3::download)),
    t(&S3_LIST, run_async!(s3::list)),
    t(&S3_DELETE, run_async!(s3::delete)),
    t(&S3_COPY, run_async!(s3::copy)),
    t(&GCS_UPLOAD, run_async!(gcs::upload)),
    t(&GCS_DOWNLOAD, run_async!(gcs::download)),
    t(&GCS_LIST, run_async!(gcs::list)),
    t(&GCS_DELETE, run_async!(gcs::delete)),
    t(&GCS_COPY, run_async!(gcs::copy)),
    t(&GCS_CREATE_BUCKET, run_async!(gcs::create_bucket)),
    t(&BQ_CREATE_DATASET, run_async!(bigquery::create_dataset)),
    t(&BQ_DELETE_DATASET, run_async!(bigquery::delete_dataset)),
    t(&BQ_CREATE_TABLE, run_async!(bigquery::create_table)),
    t(&BQ_DELETE_TABLE, run_async!(bigquery::delete_table)),
    t(&BQ_TABLE_METADATA, run_async!(bigquery::table_metadata)),
    t(&DBT_CLI, run_async!(dbt_cli::dbt_cli)),
    t(&DBT_BUILD, dbt_verb!("build")),
    t(&DBT_RUN, dbt_verb!("run")),
    t(&DBT_TEST, dbt_verb!("test")),
    t(&DBT_COMPILE, dbt_verb!("compile")),
    t(&DBT_SEED, dbt_verb!("seed")),
    t(&DBT_SNAPSHOT, dbt_verb!("snapshot")),
    t(&DBT_DEPS, dbt_verb!("deps")),
    t(&DBT_LIST, dbt_verb!("ls")),
    t(&DBT_FRESHNESS, dbt_verb!("source freshness")),
    t(&GIT_CLONE, run_async!(git::clone)),
    t(
        &GIT_SYNC_NAMESPACE_FILES,
        run_async!(git::sync_namespace_files),
    ),
];

/// The task type of a canonical name (as validation leaves it in `Task::kind`).
pub fn lookup(name: &str) -> Option<&'static TaskType> {
    REGISTRY.iter().find(|t| t.spec.name == name)
}

/// The task types' specs, for validation and the JSON Schema.
pub fn specs() -> impl Iterator<Item = &'static TaskSpec> {
    REGISTRY.iter().map(|t| t.spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_and_alias_is_declared_once() {
        let mut seen = std::collections::HashSet::new();
        for t in REGISTRY {
            for name in std::iter::once(&t.spec.name).chain(t.spec.aliases.iter()) {
                assert!(seen.insert(*name), "`{name}` is declared twice");
            }
        }
    }

    #[test]
    fn the_catalog_resolves_every_name_and_alias_to_its_registered_spec() {
        let catalog = crate::catalog::catalog();
        for t in REGISTRY {
            for name in std::iter::once(&t.spec.name).chain(t.spec.aliases.iter()) {
                let spec = catalog.get(name);
                assert!(spec.is_some_and(|s| std::ptr::eq(s, t.spec)), "{name}");
            }
            assert!(lookup(t.spec.name).is_some_and(|found| std::ptr::eq(found.spec, t.spec)));
        }
    }
}
