//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "weir",
    version,
    about = "Run Kestra-style data pipelines from one binary",
    propagate_version = true
)]
pub struct Cli {
    /// Folder holding all of weir's state: executions, logs, KV, internal storage.
    #[arg(long, global = true, env = "WEIR_HOME", default_value = ".weir")]
    pub home: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check flows and report every problem with its file, line and column.
    Validate {
        /// Flow files, or folders to search for `*.yaml`/`*.yml`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run a flow once and wait for the end.
    Run(RunArgs),
    /// Inspect executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Read and write the KV store.
    #[command(subcommand)]
    Kv(KvCommand),
    /// Deployed flows.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// A namespace's shared files (`weir namespace files upload|list|get|delete`).
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// List the task types weir runs.
    Tasks,
    /// Run the NYC-taxi pipeline on embedded defaults: generate Jan–Jun 2021, serve, load.
    Demo(DemoArgs),
    /// Run the scheduler, a pool of workers and the REST API in one process.
    Server(ServerArgs),
    /// Run a Schedule trigger over past dates: one execution per scheduled date.
    Backfill(BackfillArgs),
    /// Run SQL on a warehouse and print the rows.
    Query {
        /// `jdbc:duckdb:PATH`, `jdbc:postgresql://HOST:PORT/DB?user=…` or `jdbc:redshift://…`.
        url: String,
        sql: String,
        /// Print the rows as a JSON array of objects.
        #[arg(long)]
        json: bool,
        /// Print the rows as CSV: a header line, NULL as an empty field, `""` for empty text.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// dbt's commands on a dbt project, in-process (`weir dbt ls`, `weir dbt deps`, …).
    Dbt(Box<DbtArgs>),
    /// Maintain warehouse tables weir loads into (`weir warehouse index TABLE`).
    #[command(subcommand)]
    Warehouse(crate::warehouse::WarehouseCommand),
}

#[derive(Args)]
pub struct DemoArgs {
    /// First month to load.
    #[arg(long, default_value = "2021-01")]
    pub from: String,
    /// Last month to load.
    #[arg(long, default_value = "2021-06")]
    pub to: String,
    /// Taxi colours to load; repeatable.
    #[arg(long, default_values_t = ["green".to_string(), "yellow".to_string()])]
    pub taxi: Vec<String>,
    /// Size of the generated months: 1.0 is as large as the real ones (1.37 M yellow trips in 2021-01).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Load into this warehouse instead of the demo's DuckDB file (sets KV `JDBC_URL`).
    #[arg(long)]
    pub url: Option<String>,
    /// Run the article's own SQL (staging table + COPY + MERGE) instead of `weir.warehouse.Load`.
    #[arg(long)]
    pub article: bool,
    /// Start `weir server` with the taxi flow and its schedule, backfill the months through it,
    /// and keep serving (Ctrl-C stops it).
    #[arg(long)]
    pub server: bool,
    /// Where the demo's server listens (with `--server`).
    #[arg(long, default_value = "127.0.0.1:8080", requires = "server")]
    pub bind: std::net::SocketAddr,
    /// Skip the dbt transform (the example project built by DbtCLI) after the loads.
    #[arg(long)]
    pub no_transform: bool,
}

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on. Any address but loopback needs `--token`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// A folder of flow files to deploy and watch: a changed file is a new revision.
    #[arg(long, value_name = "DIR")]
    pub flows: Option<PathBuf>,
    /// How many executions run at once.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// How long running tasks may finish after SIGTERM before they are killed (`30s`, `PT1M`).
    #[arg(long, default_value = "30s")]
    pub grace: String,
    /// Bearer token every API request must carry (required off loopback).
    #[arg(long, env = "WEIR_SERVER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The warehouse the web UI shows and queries (`jdbc:duckdb:PATH`).
    #[arg(long, value_name = "URL")]
    pub warehouse: Option<String>,
}

#[derive(Args)]
pub struct BackfillArgs {
    /// A flow file (deployed first) or `namespace.flowId` of a deployed flow.
    pub flow: String,
    /// The Schedule trigger whose dates to run.
    #[arg(long)]
    pub trigger: String,
    /// First date (inclusive): `2021-01-01` or `2021-01-01T09:00:00Z`.
    #[arg(long)]
    pub from: String,
    /// Last date (inclusive).
    #[arg(long)]
    pub to: String,
    /// A label for every execution, `KEY=VALUE`; repeatable (`backfill=true` is always added).
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// An input value, `NAME=VALUE`, over the trigger's; repeatable.
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// How many executions run at once when no server runs on this home.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

#[derive(Args)]
pub struct RunArgs {
    /// The flow file.
    pub flow: PathBuf,
    /// An input value, `NAME=VALUE`; repeatable.
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// The schedule date this run stands for (`trigger.date`), e.g. `2021-01-01`.
    #[arg(long, value_name = "DATE")]
    pub trigger_date: Option<String>,
    /// A label for this execution, `KEY=VALUE`; repeatable.
    #[arg(long = "label", short = 'l', value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Print the final execution as JSON on stdout instead of its id.
    #[arg(long)]
    pub json: bool,
    /// Also deploy this revision, so Subflows and `weir flows list` see it (as `weir flows
    /// deploy` does). Without it the revision is only recorded for this execution.
    #[arg(long)]
    pub deploy: bool,
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// List executions, newest first.
    List {
        #[arg(long)]
        namespace: Option<String>,
        #[arg(long)]
        flow: Option<String>,
        /// Only executions in this state (SUCCESS, FAILED…).
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Show one execution with its task runs, labels, inputs and outputs.
    Show {
        /// The execution id, or a unique prefix of it.
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Continue a PAUSED execution in this process, past its Pause task.
    Resume {
        /// The execution id, or a unique prefix of it.
        id: String,
        /// A value for the Pause's `onResume` inputs, `NAME=VALUE`; repeatable.
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
    },
    /// Print the logs of an execution.
    Logs {
        id: String,
        /// Only the logs of this task.
        #[arg(long)]
        task: Option<String>,
        /// Only lines at this level or above.
        #[arg(long)]
        level: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum KvCommand {
    /// Store a value.
    Set {
        #[arg(long, short)]
        namespace: String,
        key: String,
        value: String,
        /// STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON.
        #[arg(long = "type", default_value = "STRING")]
        kind: String,
        /// How long the value lives, e.g. `PT1H`.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Print a value.
    Get {
        #[arg(long, short)]
        namespace: String,
        key: String,
    },
    /// List the keys of a namespace.
    List {
        #[arg(long, short)]
        namespace: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a key.
    Delete {
        #[arg(long, short)]
        namespace: String,
        key: String,
    },
}

#[derive(Subcommand)]
pub enum NamespaceCommand {
    /// Namespace files: what script tasks copy with `namespaceFiles`.
    #[command(subcommand)]
    Files(NamespaceFilesCommand),
}

#[derive(Subcommand)]
pub enum NamespaceFilesCommand {
    /// Upload a file, or a folder's files recursively (`.git/` left out).
    Upload {
        namespace: String,
        local: PathBuf,
        /// Where in the namespace: a folder for a folder; for a file, its path (or a folder
        /// when it ends with `/`).
        #[arg(default_value = "/")]
        to: String,
    },
    /// List the files, one path per line.
    List {
        namespace: String,
        /// Only the files under this folder.
        path: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print a file's bytes, or write them to a file.
    Get {
        namespace: String,
        path: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Delete a file or a folder.
    Delete { namespace: String, path: String },
}

#[derive(Subcommand)]
pub enum FlowsCommand {
    /// List deployed flows (latest revisions).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Validate and store flows so that subflows and later runs find them.
    Deploy {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the JSON Schema of flows.
    Schema,
}

/// `weir dbt [GLOBAL FLAGS] <verb> [FLAGS]`.
#[derive(Args)]
pub struct DbtArgs {
    #[command(flatten)]
    pub global: DbtGlobalFlags,
    #[command(subcommand)]
    pub command: DbtCommand,
}

/// dbt's global flags: accepted before the verb (`dbt --log-format json build`) and after it
/// (`dbt build --log-format json`), as dbt accepts them.
#[derive(Args, Clone, Debug, Default)]
pub struct DbtGlobalFlags {
    /// How the console lines look: `text` (default), `json` (one dbt structured-log object
    /// per line), `debug` (with levels and threads), `default` (= text).
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json", "debug", "default"])]
    pub log_format: Option<String>,
    /// The format of `dbt.log`: `debug` (default), `json`, `text`, `default`.
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json", "debug", "default"])]
    pub log_format_file: Option<String>,
    /// The folder of `dbt.log` (default: `logs` in the project folder).
    #[arg(long, global = true, value_name = "DIR")]
    pub log_path: Option<PathBuf>,
    /// The least severe lines printed: `debug`, `info` (default), `warn`, `error`, `none`.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = ["debug", "info", "warn", "error", "none"])]
    pub log_level: Option<String>,
    /// The least severe lines written to `dbt.log` (default `debug`).
    #[arg(long, global = true, value_name = "LEVEL", value_parser = ["debug", "info", "warn", "error", "none"])]
    pub log_level_file: Option<String>,
    /// Print debug lines too.
    #[arg(long, short = 'd', global = true)]
    pub debug: bool,
    /// Colour the status words of progress lines.
    #[arg(long, global = true, overrides_with = "no_use_colors")]
    pub use_colors: bool,
    /// No colours (weir's default when stdout is not a terminal).
    #[arg(long, global = true)]
    pub no_use_colors: bool,
    /// Accepted as dbt accepts it; `dbt.log` has no colours.
    #[arg(long, global = true, hide = true)]
    pub use_colors_file: bool,
    /// Accepted as dbt accepts it; `dbt.log` has no colours.
    #[arg(long, global = true, hide = true)]
    pub no_use_colors_file: bool,
    /// Print only errors (and what `print()` prints).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Turn warnings into errors: a `warn` test fails, a selection of nothing fails (exit 1).
    #[arg(long, global = true)]
    pub warn_error: bool,
    /// Which warnings become errors, as YAML/JSON: `{include: all}` or `{include: [NAME, …],
    /// exclude: [NAME, …]}` with dbt's event names (`LogTestResult`,
    /// `NoNodesForSelectionCriteria`).
    #[arg(long, global = true, value_name = "YAML")]
    pub warn_error_options: Option<String>,
    /// Accepted; weir parses the whole project each time (no partial parsing).
    #[arg(long, global = true)]
    pub partial_parse: bool,
    /// Accepted; weir parses the whole project each time (no partial parsing).
    #[arg(long, global = true)]
    pub no_partial_parse: bool,
    /// Accepted; weir never checks for new versions.
    #[arg(long, global = true)]
    pub version_check: bool,
    /// Accepted; weir never checks for new versions.
    #[arg(long, global = true)]
    pub no_version_check: bool,
    /// The width of progress lines (default 80).
    #[arg(long, global = true, value_name = "N")]
    pub printer_width: Option<usize>,
    /// Accepted; weir sends no usage statistics.
    #[arg(long, global = true)]
    pub send_anonymous_usage_stats: bool,
    /// Accepted; weir sends no usage statistics.
    #[arg(long, global = true)]
    pub no_send_anonymous_usage_stats: bool,
    /// Accepted; weir has no cache of relations to log.
    #[arg(long, global = true, hide = true)]
    pub log_cache_events: bool,
    /// Accepted; weir writes no `perf_info.json`.
    #[arg(long, global = true, hide = true)]
    pub record_timing_info: Option<PathBuf>,
}

/// `weir dbt <verb>`: dbt's verbs, each with dbt's flags.
#[derive(Subcommand)]
pub enum DbtCommand {
    /// Install the packages of `packages.yml` offline: local, `file://` git, cached hub packages.
    Deps(DbtFlags),
    /// Read the project and write `target/manifest.json`, without a connection.
    Parse(DbtFlags),
    /// Delete the project's `clean-targets` (by default `target/` and `dbt_packages/`).
    Clean(DbtFlags),
    /// Load the CSV files of the seed paths into tables.
    Seed(DbtFlags),
    /// Build the selected models.
    Run(DbtFlags),
    /// Run the selected tests.
    Test(DbtFlags),
    /// Seed, run, snapshot and test the selected nodes in graph order.
    Build(DbtFlags),
    /// Write the compiled SQL of the selected nodes to `target/compiled/`.
    Compile(DbtFlags),
    /// List the selected resources.
    #[command(visible_alias = "list")]
    Ls(DbtFlags),
    /// Run the selected snapshots.
    Snapshot(DbtFlags),
    /// Commands on sources.
    #[command(subcommand)]
    Source(DbtSourceCommand),
    /// Documentation artifacts.
    #[command(subcommand)]
    Docs(DbtDocsCommand),
    /// Show the project and profile found, and test the connection.
    Debug(DbtFlags),
    /// Run a macro of the project or a package, printing what it logs.
    RunOperation(DbtRunOperation),
}

/// `weir dbt run-operation MACRO --args '{key: value}'`.
#[derive(Args, Clone, Debug)]
pub struct DbtRunOperation {
    /// The macro: `name` or `package.name`.
    pub macro_name: String,
    /// The macro's keyword arguments, as a YAML or JSON map.
    #[arg(long, value_name = "YAML")]
    pub args: Option<String>,
    #[command(flatten)]
    pub flags: DbtFlags,
}

#[derive(Subcommand)]
pub enum DbtSourceCommand {
    /// Check the freshness of the selected sources.
    Freshness(DbtFlags),
}

#[derive(Subcommand)]
pub enum DbtDocsCommand {
    /// Write `target/catalog.json` and `target/manifest.json`.
    Generate(DbtFlags),
}

/// dbt's flags, shared by its verbs.
#[derive(Args, Clone, Debug)]
pub struct DbtFlags {
    /// The folder holding `dbt_project.yml`.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project_dir: PathBuf,
    /// The folder holding `profiles.yml` (default: `DBT_PROFILES_DIR`, else the project folder
    /// when it has one, else `~/.dbt`).
    #[arg(long, value_name = "DIR")]
    pub profiles_dir: Option<PathBuf>,
    /// The profile to use, over `profile:` of `dbt_project.yml`.
    #[arg(long)]
    pub profile: Option<String>,
    /// The profile's output to use, over its `target:`.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// Variables over `vars:` of `dbt_project.yml`, as a YAML or JSON map: `{key: value}`.
    #[arg(long, value_name = "YAML")]
    pub vars: Option<String>,
    /// How many nodes run at once, over the profile's `threads`.
    #[arg(long)]
    pub threads: Option<u32>,
    /// Rebuild incremental models and seeds from scratch.
    #[arg(long, short = 'f')]
    pub full_refresh: bool,
    /// Stop at the first failure.
    #[arg(long, short = 'x')]
    pub fail_fast: bool,
    /// Nodes to include: `model`, `+model`, `tag:x`, `path:models/staging`, `source:s.t+`, …
    #[arg(long, short = 's', alias = "models", short_alias = 'm', num_args = 1.., value_name = "SELECTOR")]
    pub select: Vec<String>,
    /// Nodes to leave out, in the syntax of `--select`.
    #[arg(long, num_args = 1.., value_name = "SELECTOR")]
    pub exclude: Vec<String>,
    /// Only nodes of these types: `model`, `seed`, `snapshot`, `test`, `source`, `analysis`,
    /// `exposure`, `default`, `all`.
    #[arg(long, num_args = 1.., value_name = "TYPE")]
    pub resource_type: Vec<String>,
    /// A folder holding a previous `manifest.json`, for `state:modified` and `state:new`.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Which tests come along with selected nodes: `eager` (default), `cautious`,
    /// `buildable`, `empty`.
    #[arg(long, value_name = "MODE")]
    pub indirect_selection: Option<String>,
    /// What `ls` prints per node.
    #[arg(long, short = 'o', value_parser = ["selector", "name", "path", "json"], default_value = "selector")]
    pub output: String,
    /// The keys of `ls --output json`, over dbt's default set.
    #[arg(long, num_args = 1.., value_name = "KEY")]
    pub output_keys: Vec<String>,
    /// Store the failing rows of tests in tables of `<schema>_dbt_test__audit`.
    #[arg(long)]
    pub store_failures: bool,
    /// `docs generate`: do not compile the nodes first.
    #[arg(long)]
    pub no_compile: bool,
    /// `docs generate`: write a catalog without asking the warehouse.
    #[arg(long)]
    pub empty_catalog: bool,
    /// A named selector of `selectors.yml`, instead of `--select`/`--exclude`.
    #[arg(long, value_name = "NAME")]
    pub selector: Option<String>,
    /// Build models with no rows: refs and sources read as empty (dbt 1.8's `--empty`).
    #[arg(long)]
    pub empty: bool,
    /// Resolve refs to unselected nodes from the `--state` manifest (not supported yet).
    #[arg(long)]
    pub defer: bool,
    /// With `--defer`: prefer the state's relations (not supported yet).
    #[arg(long)]
    pub favor_state: bool,
}
