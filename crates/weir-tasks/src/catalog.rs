//! The task types' specs: Kestra names, older aliases and properties with their docs.
//!
//! Only data: `registry.rs` pairs each spec with how it runs and is the one list of types.

use weir_flow::{Catalog, PropKind as K, PropSpec as P, TaskSpec};

macro_rules! spec {
    ($ident:ident, $name:literal, [$($alias:literal),*], $doc:literal, [$($prop:expr),* $(,)?]) => {
        pub static $ident: TaskSpec = TaskSpec { name: $name, aliases: &[$($alias),*], doc: $doc, props: &[$($prop),*] };
    };
    ($ident:ident, $name:literal, [$($alias:literal),*], $doc:literal, $props:expr) => {
        pub static $ident: TaskSpec = TaskSpec { name: $name, aliases: &[$($alias),*], doc: $doc, props: &$props };
    };
}

// Flowable tasks: the engine runs them, since they create child task runs.
spec!(
    IF,
    "io.kestra.plugin.core.flow.If",
    ["io.kestra.core.tasks.flows.If"],
    "Runs `then` when the condition is true, `else` otherwise.",
    [
        P::req(
            "condition",
            K::String,
            "A template whose result is true or false."
        ),
        P::req("then", K::Tasks, "Tasks to run when the condition is true."),
        P::opt(
            "else",
            K::Tasks,
            "Tasks to run when the condition is false."
        ),
    ]
);
spec!(
    SWITCH,
    "io.kestra.plugin.core.flow.Switch",
    ["io.kestra.core.tasks.flows.Switch"],
    "Runs the tasks of the case equal to `value`, or `defaults`.",
    [
        P::req("value", K::String, "The value choosing the case."),
        P::req("cases", K::TaskCases, "Tasks to run, by value."),
        P::opt("defaults", K::Tasks, "Tasks to run when no case matches."),
    ]
);
spec!(
    FOR_EACH,
    "io.kestra.plugin.core.flow.ForEach",
    ["io.kestra.core.tasks.flows.ForEach"],
    "Runs `tasks` once per value, `taskrun.value` naming it.",
    [
        P::req("values", K::Any, "A list, or a JSON list as a string."),
        P::req("tasks", K::Tasks, "Tasks to run for each value."),
        P::opt(
            "concurrencyLimit",
            K::Int,
            "How many values run at once; 0 for all. Default 1."
        ),
    ]
);
spec!(
    PARALLEL,
    "io.kestra.plugin.core.flow.Parallel",
    ["io.kestra.core.tasks.flows.Parallel"],
    "Runs `tasks` at the same time.",
    [
        P::req("tasks", K::Tasks, "Tasks to run in parallel."),
        P::opt("concurrent", K::Int, "How many run at once; 0 for all."),
    ]
);
spec!(
    SEQUENTIAL,
    "io.kestra.plugin.core.flow.Sequential",
    ["io.kestra.core.tasks.flows.Sequential"],
    "Runs `tasks` one after another.",
    [P::req("tasks", K::Tasks, "Tasks to run in order."),]
);
spec!(
    SUBFLOW,
    "io.kestra.plugin.core.flow.Subflow",
    [
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow"
    ],
    "Runs another flow as a child execution.",
    [
        P::req("namespace", K::String, "Namespace of the flow to run."),
        P::req("flowId", K::String, "Id of the flow to run."),
        P::opt("inputs", K::Map, "Inputs of the child execution."),
        P::opt("labels", K::Any, "Labels of the child execution."),
        P::opt("wait", K::Bool, "Wait for the child to end. Default true."),
        P::opt(
            "transmitFailed",
            K::Bool,
            "Fail when the child fails (with `wait`). Default true."
        ),
        P::opt(
            "inheritLabels",
            K::Bool,
            "Give the child this execution's labels."
        ),
        P::opt(
            "revision",
            K::Int,
            "Revision of the flow; the latest by default."
        ),
        P::opt(
            "outputs",
            K::Map,
            "Outputs to expose, rendered with the child's outputs."
        ),
    ]
);
spec!(
    LABELS,
    "io.kestra.plugin.core.execution.Labels",
    ["io.kestra.core.tasks.executions.Labels"],
    "Adds or replaces labels of the current execution.",
    [P::req(
        "labels",
        K::Any,
        "A map of labels, or a list of `key`/`value` pairs."
    ),]
);

spec!(
    WORKING_DIRECTORY,
    "io.kestra.plugin.core.flow.WorkingDirectory",
    ["io.kestra.core.tasks.flows.WorkingDirectory"],
    "Runs `tasks` in one shared working directory, removed at the end.",
    [
        P::req("tasks", K::Tasks, "Tasks sharing the directory."),
        P::opt(
            "inputFiles",
            K::MapOrString,
            "Files to create first: name → content or kestra:// URI."
        ),
        P::opt(
            "outputFiles",
            K::StringOrList,
            "Globs of files to keep as outputs (`outputFiles`)."
        ),
        P::opt(
            "namespaceFiles",
            K::MapOrString,
            "Namespace files to copy in (`enabled`, `include`, `exclude`)."
        ),
    ]
);
spec!(
    PAUSE,
    "io.kestra.plugin.core.flow.Pause",
    ["io.kestra.core.tasks.flows.Pause"],
    "Pauses the execution until it is resumed, or for `pauseDuration`.",
    [
        P::opt(
            "pauseDuration",
            K::Duration,
            "Resume by itself after this long; without it, wait for a resume."
        ),
        P::opt("delay", K::Duration, "Older name of `pauseDuration`."),
        P::opt(
            "behavior",
            K::String,
            "When `pauseDuration` ends: RESUME (default), WARN, FAIL or CANCEL."
        ),
        P::opt(
            "onResume",
            K::Any,
            "Inputs given on resume (`weir executions resume ID -i name=value`), checked like flow inputs; the next tasks read `outputs.<pause>.onResume.<name>`."
        ),
    ]
);
spec!(
    DAG,
    "io.kestra.plugin.core.flow.Dag",
    ["io.kestra.core.tasks.flows.Dag"],
    "Runs each task once the tasks it `dependsOn` have ended.",
    [
        P::req("tasks", K::DagTasks, "The tasks, each with `dependsOn`."),
        P::opt("concurrent", K::Int, "How many run at once; 0 for all."),
    ]
);
spec!(
    ALLOW_FAILURE,
    "io.kestra.plugin.core.flow.AllowFailure",
    ["io.kestra.core.tasks.flows.AllowFailure"],
    "Runs `tasks`; a failure among them ends this task WARNING and the flow goes on.",
    [P::req("tasks", K::Tasks, "Tasks allowed to fail."),]
);
spec!(
    FOR_EACH_ITEM,
    "io.kestra.plugin.core.flow.ForEachItem",
    ["io.kestra.core.tasks.flows.ForEachItem"],
    "Splits a file into batches and runs a subflow per batch (`taskrun.items`).",
    [
        P::req(
            "items",
            K::String,
            "A kestra:// URI of a file, one item a line."
        ),
        P::opt(
            "batch",
            K::Map,
            "`rows` (default 1), `bytes` (e.g. 10MB) or `partitions`."
        ),
        P::req("namespace", K::String, "Namespace of the subflow."),
        P::req("flowId", K::String, "Id of the subflow."),
        P::opt(
            "inputs",
            K::Map,
            "Inputs of each execution; `taskrun.items` is the batch file."
        ),
        P::opt("labels", K::Any, "Labels of each execution."),
        P::opt("wait", K::Bool, "Wait for the executions. Default true."),
        P::opt(
            "transmitFailed",
            K::Bool,
            "Fail when one fails (with `wait`). Default true."
        ),
        P::opt(
            "inheritLabels",
            K::Bool,
            "Give them this execution's labels."
        ),
        P::opt("revision", K::Int, "Revision of the subflow."),
    ]
);

// Runnable tasks.
spec!(
    LOG,
    "io.kestra.plugin.core.log.Log",
    [
        "io.kestra.core.tasks.log.Log",
        "io.kestra.core.tasks.debugs.Echo"
    ],
    "Writes a message to the execution's logs.",
    [
        P::req("message", K::Any, "A message, or a list of messages."),
        P::opt(
            "level",
            K::String,
            "TRACE, DEBUG, INFO, WARN or ERROR. Default INFO."
        ),
    ]
);
spec!(
    RETURN,
    "io.kestra.plugin.core.debug.Return",
    ["io.kestra.core.tasks.debugs.Return"],
    "Renders `format` into the output `value`.",
    [P::opt("format", K::String, "The template to render."),]
);
spec!(
    OUTPUT_VALUES,
    "io.kestra.plugin.core.output.OutputValues",
    [],
    "Exposes `values` as the output `values`.",
    [P::req("values", K::Map, "Values to output."),]
);
spec!(
    FAIL,
    "io.kestra.plugin.core.execution.Fail",
    ["io.kestra.core.tasks.executions.Fail"],
    "Fails the execution, when `condition` is true if given.",
    [
        P::opt(
            "condition",
            K::String,
            "Fail only when this renders to true."
        ),
        P::opt("errorMessage", K::String, "The failure message."),
    ]
);
spec!(
    SLEEP,
    "io.kestra.plugin.core.flow.Sleep",
    [],
    "Waits for `duration`.",
    [P::req("duration", K::Duration, "How long to wait."),]
);
spec!(
    PURGE,
    "io.kestra.plugin.core.storage.PurgeCurrentExecutionFiles",
    ["io.kestra.core.tasks.storages.PurgeExecution"],
    "Deletes the internal storage files of the current execution.",
    []
);
spec!(
    KV_SET,
    "io.kestra.plugin.core.kv.Set",
    [],
    "Stores a value in the KV store.",
    [
        P::req("key", K::String, "The key."),
        P::req("value", K::Any, "The value."),
        P::opt(
            "namespace",
            K::String,
            "Namespace of the key; the flow's by default."
        ),
        P::opt(
            "overwrite",
            K::Bool,
            "Replace an existing value. Default true."
        ),
        P::opt("ttl", K::Duration, "How long the value lives."),
        P::opt(
            "kvType",
            K::String,
            "STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON."
        ),
    ]
);
spec!(
    KV_GET,
    "io.kestra.plugin.core.kv.Get",
    [],
    "Reads a value from the KV store into the output `value`.",
    [
        P::req("key", K::String, "The key."),
        P::opt(
            "namespace",
            K::String,
            "Namespace of the key; the flow's by default."
        ),
        P::opt(
            "errorOnMissing",
            K::Bool,
            "Fail when the key does not exist. Default false."
        ),
    ]
);
spec!(
    KV_DELETE,
    "io.kestra.plugin.core.kv.Delete",
    [],
    "Deletes a key from the KV store.",
    [
        P::req("key", K::String, "The key."),
        P::opt(
            "namespace",
            K::String,
            "Namespace of the key; the flow's by default."
        ),
        P::opt(
            "errorOnMissing",
            K::Bool,
            "Fail when the key does not exist. Default false."
        ),
    ]
);
spec!(
    KV_GET_KEYS,
    "io.kestra.plugin.core.kv.GetKeys",
    [],
    "Lists keys of the KV store into the output `keys`.",
    [
        P::opt("prefix", K::String, "Only keys starting with this."),
        P::opt(
            "namespace",
            K::String,
            "Namespace of the keys; the flow's by default."
        ),
    ]
);
spec!(
    DOWNLOAD,
    "io.kestra.plugin.core.http.Download",
    ["io.kestra.plugin.fs.http.Download"],
    "Streams an HTTP response body into internal storage.",
    [
        P::req("uri", K::String, "The URL to download."),
        P::opt("method", K::String, "HTTP method. Default GET."),
        P::opt("headers", K::StringMap, "Request headers."),
        P::opt("body", K::String, "Request body."),
        P::opt(
            "failOnEmptyResponse",
            K::Bool,
            "Fail when the body is empty. Default true."
        ),
        P::opt(
            "options",
            K::Map,
            "Client options (`readTimeout`, `connectTimeout`)."
        ),
    ]
);
spec!(
    REQUEST,
    "io.kestra.plugin.core.http.Request",
    ["io.kestra.plugin.fs.http.Request"],
    "Sends an HTTP request; outputs `code`, `headers` and `body`.",
    [
        P::req("uri", K::String, "The URL."),
        P::opt("method", K::String, "HTTP method. Default GET."),
        P::opt("headers", K::StringMap, "Request headers."),
        P::opt("body", K::String, "Request body."),
        P::opt("contentType", K::String, "Content type of the body."),
        P::opt("formData", K::Map, "Form fields, sent url-encoded."),
        P::opt(
            "options",
            K::Map,
            "`allowFailed: true` keeps 4xx/5xx from failing; `readTimeout`, `connectTimeout`."
        ),
        P::opt(
            "allowFailed",
            K::Bool,
            "Keep 4xx/5xx responses from failing the task."
        ),
    ]
);

/// Properties shared by every script task.
macro_rules! script_props {
    ($($extra:expr),*) => {
        [
            $($extra,)*
            P::opt("env", K::StringMap, "Environment variables of the process."),
            P::opt("inputFiles", K::MapOrString, "Files to create in the working directory: name → content or `kestra:///` URI."),
            P::opt("outputFiles", K::StringOrList, "Globs of files to keep in internal storage after the run."),
            P::opt("beforeCommands", K::StringList, "Commands to run first."),
            P::opt("interpreter", K::StringList, "The command that runs the script. Default `/bin/sh -c`."),
            P::opt("warningOnStdErr", K::Bool, "End as WARNING when anything is written to stderr."),
            P::opt("failFast", K::Bool, "Stop at the first failing command (`set -e`). Default true."),
            P::opt("taskRunner", K::Map, "Where commands run. Only the Process runner is supported; others run as local processes with a warning."),
            P::opt("containerImage", K::String, "Accepted for compatibility; commands run as local processes."),
            P::opt("runner", K::String, "Accepted for compatibility (PROCESS or DOCKER); commands run as local processes."),
            P::opt("docker", K::Map, "Accepted for compatibility; commands run as local processes."),
            P::opt("namespaceFiles", K::Map, "Copy namespace files into the working directory first: `enabled` (default true), `include`/`exclude` (globs on the file's path, `regex:` for a regex), `namespaces` (default the flow's; later ones override), `folderPerNamespace`, `ifExists` (OVERWRITE, SKIP or FAIL)."),
            P::opt("outputDirectory", K::Bool, "Accepted for compatibility."),
        ]
    };
}

spec!(
    SHELL_COMMANDS,
    "io.kestra.plugin.scripts.shell.Commands",
    [
        "io.kestra.core.tasks.scripts.Bash",
        "io.kestra.plugin.core.scripts.shell.Commands"
    ],
    "Runs shell commands in a working directory of their own.",
    script_props!(P::req(
        "commands",
        K::StringList,
        "Commands to run, in order."
    ))
);
spec!(
    SHELL_SCRIPT,
    "io.kestra.plugin.scripts.shell.Script",
    [],
    "Runs a shell script in a working directory of its own.",
    script_props!(P::req("script", K::String, "The script."))
);
spec!(
    PYTHON_COMMANDS,
    "io.kestra.plugin.scripts.python.Commands",
    [],
    "Runs commands (usually `python …`) in a working directory of their own.",
    script_props!(
        P::req("commands", K::StringList, "Commands to run, in order."),
        PYTHON_DEPENDENCIES
    )
);
spec!(
    PYTHON_SCRIPT,
    "io.kestra.plugin.scripts.python.Script",
    ["io.kestra.core.tasks.scripts.Python"],
    "Runs a Python script with the local `python3`.",
    script_props!(
        P::req("script", K::String, "The Python script."),
        PYTHON_DEPENDENCIES
    )
);

/// `dependencies` of the Python tasks.
const PYTHON_DEPENDENCIES: P = P::opt(
    "dependencies",
    K::StringList,
    "Python packages (pip requirement specifiers or local paths) installed into a virtual environment cached per set under `<home>/cache/python/`, with `uv` when it is on PATH, else `python3 -m venv` and pip.",
);

spec!(
    NODE_COMMANDS,
    "io.kestra.plugin.scripts.node.Commands",
    [],
    "Runs commands (usually `node …`) in a working directory of their own.",
    script_props!(P::req(
        "commands",
        K::StringList,
        "Commands to run, in order."
    ))
);
spec!(
    NODE_SCRIPT,
    "io.kestra.plugin.scripts.node.Script",
    [],
    "Runs a Node.js script with the local `node`.",
    script_props!(P::req("script", K::String, "The Node.js script."))
);

/// The properties every dbt CLI task shares, besides the script ones.
macro_rules! dbt_props {
    ($($extra:expr),*) => {
        script_props!(
            $($extra,)*
            P::opt("profiles", K::Any, "The text of a `profiles.yml` (or a map), written to `.profile/profiles.yml` in the working directory; `DBT_PROFILES_DIR` points there unless `env` sets it."),
            P::opt("projectDir", K::String, "The dbt project's folder, relative to the working directory; added to `dbt` commands as `--project-dir` and set as `DBT_PROJECT_DIR`. Default the working directory."),
            P::opt("parseRunResults", K::Bool, "Read `target/run_results.json` after the commands: each node's result in the `runResults` output. Default true."),
            P::opt("dockerOptions", K::Map, "Accepted for compatibility; dbt runs inside weir, without a container.")
        )
    };
}

spec!(
    DBT_CLI,
    "io.kestra.plugin.dbt.cli.DbtCLI",
    [],
    "Runs dbt commands in a shell, `dbt` being weir's own dbt (`weir dbt`); outputs `exitCode`, `vars`, `outputFiles` (with `manifest.json` and `run_results.json`) and `runResults` (per node: `unique_id`, `status`, `execution_time`, `message`, `failures`). A failing node fails the task, naming it.",
    dbt_props!(
        P::req(
            "commands",
            K::StringList,
            "Commands to run, in order, e.g. `dbt deps` and `dbt build`."
        ),
        P::opt(
            "storeManifest",
            K::Map,
            "`key` and `namespace` (default the flow's): store `target/manifest.json` in the KV store after the commands."
        ),
        P::opt(
            "loadManifest",
            K::Map,
            "`key` and `namespace` (default the flow's): write the manifest stored in the KV store to `target/manifest.json` before the commands."
        ),
        P::opt(
            "logFormat",
            K::String,
            "Accepted for compatibility; weir dbt writes dbt's text log lines."
        )
    )
);

/// The properties of the older one-verb dbt tasks, turned into one `dbt <verb>` command.
macro_rules! dbt_verb_props {
    () => {
        dbt_props!(
            P::opt("select", K::StringOrList, "Nodes to include (`--select`)."),
            P::opt(
                "exclude",
                K::StringOrList,
                "Nodes to leave out (`--exclude`)."
            ),
            P::opt(
                "selector",
                K::String,
                "A selector of `selectors.yml`; not supported yet."
            ),
            P::opt(
                "thread",
                K::Int,
                "How many nodes run at once (`--threads`)."
            ),
            P::opt("threads", K::Int, "Same as `thread`."),
            P::opt(
                "fullRefresh",
                K::Bool,
                "Rebuild incremental models and seeds from scratch (`--full-refresh`)."
            ),
            P::opt(
                "target",
                K::String,
                "The profile's output to use (`--target`)."
            ),
            P::opt(
                "failFast",
                K::Bool,
                "Stop at the first failure (`--fail-fast`)."
            ),
            P::opt(
                "warnError",
                K::Bool,
                "Accepted; not supported yet (warnings stay warnings)."
            ),
            P::opt("debug", K::Bool, "Accepted for compatibility."),
            P::opt(
                "dbtPath",
                K::String,
                "Accepted for compatibility; weir runs dbt itself."
            )
        )
    };
}

spec!(
    DBT_BUILD,
    "io.kestra.plugin.dbt.cli.Build",
    [],
    "Runs `dbt build` with the given selection; outputs as DbtCLI.",
    dbt_verb_props!()
);
spec!(
    DBT_RUN,
    "io.kestra.plugin.dbt.cli.Run",
    [],
    "Runs `dbt run` with the given selection; outputs as DbtCLI.",
    dbt_verb_props!()
);
spec!(
    DBT_TEST,
    "io.kestra.plugin.dbt.cli.Test",
    [],
    "Runs `dbt test` with the given selection; outputs as DbtCLI.",
    dbt_verb_props!()
);
spec!(
    DBT_COMPILE,
    "io.kestra.plugin.dbt.cli.Compile",
    [],
    "Runs `dbt compile` with the given selection; outputs as DbtCLI.",
    dbt_verb_props!()
);
spec!(
    DBT_SEED,
    "io.kestra.plugin.dbt.cli.Seed",
    [],
    "Runs `dbt seed` with the given selection; outputs as DbtCLI.",
    dbt_verb_props!()
);
spec!(
    DBT_SNAPSHOT,
    "io.kestra.plugin.dbt.cli.Snapshot",
    [],
    "Runs `dbt snapshot` (weir dbt has no snapshots yet).",
    dbt_verb_props!()
);
spec!(
    DBT_DEPS,
    "io.kestra.plugin.dbt.cli.Deps",
    [],
    "Runs `dbt deps` (offline: local, `file://` git and cached packages).",
    dbt_verb_props!()
);
spec!(
    DBT_LIST,
    "io.kestra.plugin.dbt.cli.List",
    [],
    "Runs `dbt ls` with the given selection; the nodes are in the logs.",
    dbt_verb_props!()
);
spec!(
    DBT_FRESHNESS,
    "io.kestra.plugin.dbt.cli.Freshness",
    [],
    "Runs `dbt source freshness`.",
    dbt_verb_props!()
);

/// Kestra's AWS connection properties, accepted by every S3 task (usually set through
/// `pluginDefaults` for `io.kestra.plugin.aws`).
macro_rules! aws_props {
    ($($extra:expr),*) => {
        [
            $($extra,)*
            P::opt("region", K::String, "The AWS region. Default `WEIR_S3_REGION` or us-east-1."),
            P::opt("accessKeyId", K::String, "The access key id. Default `AWS_ACCESS_KEY_ID`."),
            P::opt("secretKeyId", K::String, "The secret access key. Default `AWS_SECRET_ACCESS_KEY`."),
            P::opt("sessionToken", K::String, "A session token, for temporary credentials."),
            P::opt("endpointOverride", K::String, "An S3-compatible server. Default `WEIR_S3_ENDPOINT`; without one, buckets are folders under `<home>/buckets`."),
            P::opt("forcePathStyle", K::Bool, "Path-style requests (`host/bucket`); `false` asks for virtual-hosted style."),
            P::opt("compatibilityMode", K::Bool, "Accepted for compatibility."),
        ]
    };
}

spec!(
    S3_UPLOAD,
    "io.kestra.plugin.aws.s3.Upload",
    [],
    "Uploads internal storage files to a bucket; outputs `bucket`, `key` and `uri`.",
    aws_props!(
        P::req("bucket", K::String, "The bucket."),
        P::req(
            "key",
            K::String,
            "The key; with several files, the folder they go into."
        ),
        P::req(
            "from",
            K::StringOrList,
            "A `kestra:///` URI, or a list of them."
        )
    )
);
spec!(
    S3_DOWNLOAD,
    "io.kestra.plugin.aws.s3.Download",
    [],
    "Downloads an object into internal storage; outputs `uri` and `contentLength`.",
    aws_props!(
        P::req("bucket", K::String, "The bucket."),
        P::req("key", K::String, "The key of the object.")
    )
);
spec!(
    S3_LIST,
    "io.kestra.plugin.aws.s3.List",
    [],
    "Lists objects of a bucket into the output `objects` (`key`, `size`, `lastModified`).",
    aws_props!(
        P::req("bucket", K::String, "The bucket."),
        P::opt("prefix", K::String, "Only keys starting with this."),
        P::opt(
            "regexp",
            K::String,
            "Only keys this regular expression matches in full."
        )
    )
);
spec!(
    S3_DELETE,
    "io.kestra.plugin.aws.s3.Delete",
    [],
    "Deletes an object; outputs `deleted`.",
    aws_props!(
        P::req("bucket", K::String, "The bucket."),
        P::req("key", K::String, "The key of the object.")
    )
);
spec!(
    S3_COPY,
    "io.kestra.plugin.aws.s3.Copy",
    [],
    "Copies an object, within a bucket or across buckets.",
    aws_props!(
        P::req("from", K::Map, "The source: `bucket` and `key`."),
        P::req("to", K::Map, "The destination: `bucket` and `key`."),
        P::opt("delete", K::Bool, "Delete the source once copied.")
    )
);

/// Kestra's GCP connection properties, shared by every GCS and BigQuery task.
macro_rules! gcp_props {
    ($($extra:expr),*) => {
        [
            $($extra,)*
            P::opt("projectId", K::String, "The GCP project; logged, and recorded in outputs."),
            P::opt("serviceAccount", K::String, "A service account key (JSON). GCS: with it (or `GOOGLE_APPLICATION_CREDENTIALS`) buckets are real GCS buckets."),
            P::opt("scopes", K::Any, "Accepted for compatibility."),
            P::opt("impersonatedServiceAccount", K::String, "Accepted for compatibility."),
        ]
    };
}

spec!(
    GCS_UPLOAD,
    "io.kestra.plugin.gcp.gcs.Upload",
    [],
    "Uploads an internal storage file to `gs://bucket/path`; outputs `uri`. Without GCS configured, buckets are folders under `<home>/buckets`.",
    gcp_props!(
        P::req("from", K::String, "A `kestra:///` URI."),
        P::req("to", K::String, "The destination, `gs://bucket/path`."),
        P::opt("contentType", K::String, "Accepted for compatibility."),
        P::opt("contentEncoding", K::String, "Accepted for compatibility."),
        P::opt(
            "contentDisposition",
            K::String,
            "Accepted for compatibility."
        ),
        P::opt("cacheControl", K::String, "Accepted for compatibility.")
    )
);
spec!(
    GCS_DOWNLOAD,
    "io.kestra.plugin.gcp.gcs.Download",
    [],
    "Downloads `gs://bucket/path` into internal storage; outputs `bucket`, `path` and `uri`.",
    gcp_props!(P::req("from", K::String, "The object, `gs://bucket/path`."))
);
spec!(
    GCS_LIST,
    "io.kestra.plugin.gcp.gcs.List",
    [],
    "Lists the blobs under `gs://bucket/prefix`; outputs `blobs` (`uri`, `name`, `size`, `isDirectory`…).",
    gcp_props!(
        P::req("from", K::String, "The folder to list, `gs://bucket/dir/`."),
        P::opt("filter", K::String, "FILES, DIRECTORY or BOTH (default)."),
        P::opt(
            "listingType",
            K::String,
            "DIRECTORY (default: this folder only) or RECURSIVE."
        ),
        P::opt(
            "regExp",
            K::String,
            "Keep blobs whose whole `gs://` URI matches."
        ),
        P::opt("maxFiles", K::Int, "Keep at most this many blobs."),
        P::opt("allVersions", K::Bool, "Accepted for compatibility.")
    )
);
spec!(
    GCS_DELETE,
    "io.kestra.plugin.gcp.gcs.Delete",
    [],
    "Deletes `gs://bucket/path`; outputs `uri` and `deleted`.",
    gcp_props!(
        P::req("uri", K::String, "The object, `gs://bucket/path`."),
        P::opt(
            "errorOnMissing",
            K::Bool,
            "Fail when the object does not exist."
        )
    )
);
spec!(
    GCS_COPY,
    "io.kestra.plugin.gcp.gcs.Copy",
    [],
    "Copies a `gs://` object (or an internal storage file) to `gs://bucket/path`; outputs `uri`.",
    gcp_props!(
        P::req(
            "from",
            K::String,
            "`gs://bucket/path` or a `kestra:///` URI."
        ),
        P::req("to", K::String, "The destination, `gs://bucket/path`."),
        P::opt("delete", K::Bool, "Delete the source once copied (a move).")
    )
);
spec!(
    GCS_CREATE_BUCKET,
    "io.kestra.plugin.gcp.gcs.CreateBucket",
    [],
    "Creates a bucket (a folder under `<home>/buckets` locally); outputs `bucket`, `bucketUri`, `created`, `updated`.",
    gcp_props!(
        P::req("name", K::String, "The bucket's name."),
        P::opt("ifExists", K::String, "ERROR (default), UPDATE or SKIP."),
        P::opt("location", K::String, "Accepted for compatibility."),
        P::opt("storageClass", K::String, "Accepted for compatibility."),
        P::opt("versioningEnabled", K::Bool, "Accepted for compatibility."),
        P::opt("labels", K::Any, "Accepted for compatibility.")
    )
);

/// BigQuery tasks run on the warehouse `url` names.
macro_rules! bq_props {
    ($($extra:expr),*) => {
        gcp_props!(
            $($extra,)*
            P::opt("url", K::String, "The warehouse BigQuery runs on. Default `WEIR_BIGQUERY_URL`, else `jdbc:duckdb:<home>/bigquery.duckdb`."),
            P::opt("location", K::String, "Accepted for compatibility."),
            P::opt("retryAuto", K::Any, "Accepted for compatibility."),
            P::opt("retryMessages", K::Any, "Accepted for compatibility."),
            P::opt("retryReasons", K::Any, "Accepted for compatibility.")
        )
    };
}

spec!(
    BQ_CREATE_DATASET,
    "io.kestra.plugin.gcp.bigquery.CreateDataset",
    [],
    "Creates a dataset (a schema of the warehouse); outputs `datasetId`, `projectId`.",
    bq_props!(
        P::req(
            "name",
            K::String,
            "The dataset, `dataset` or `project.dataset`."
        ),
        P::opt("ifExists", K::String, "ERROR (default), UPDATE or SKIP."),
        P::opt("description", K::String, "Accepted for compatibility."),
        P::opt("friendlyName", K::String, "Accepted for compatibility."),
        P::opt("labels", K::Any, "Accepted for compatibility."),
        P::opt(
            "defaultTableLifetime",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt(
            "defaultPartitionExpirationMs",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt(
            "defaultEncryptionConfiguration",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt("acl", K::Any, "Accepted for compatibility.")
    )
);
spec!(
    BQ_DELETE_DATASET,
    "io.kestra.plugin.gcp.bigquery.DeleteDataset",
    [],
    "Deletes a dataset (a schema of the warehouse); outputs `datasetId`, `projectId`.",
    bq_props!(
        P::req(
            "name",
            K::String,
            "The dataset, `dataset` or `project.dataset`."
        ),
        P::opt("deleteContents", K::Bool, "Delete its tables too.")
    )
);
spec!(
    BQ_CREATE_TABLE,
    "io.kestra.plugin.gcp.bigquery.CreateTable",
    [],
    "Creates a table from `tableDefinition.schema.fields` (BigQuery types mapped to the warehouse's).",
    bq_props!(
        P::req("dataset", K::String, "The dataset."),
        P::req("table", K::String, "The table."),
        P::opt(
            "tableDefinition",
            K::Any,
            "`schema.fields`: `name`, `type`, `mode` (NULLABLE, REQUIRED, REPEATED)."
        ),
        P::opt("friendlyName", K::String, "Accepted for compatibility."),
        P::opt("description", K::String, "Accepted for compatibility."),
        P::opt("labels", K::Any, "Accepted for compatibility."),
        P::opt("expirationDuration", K::Any, "Accepted for compatibility."),
        P::opt(
            "requirePartitionFilter",
            K::Bool,
            "Accepted for compatibility."
        ),
        P::opt(
            "encryptionConfiguration",
            K::Any,
            "Accepted for compatibility."
        )
    )
);
spec!(
    BQ_DELETE_TABLE,
    "io.kestra.plugin.gcp.bigquery.DeleteTable",
    [],
    "Deletes a table; outputs `projectId`, `datasetId`, `table`.",
    bq_props!(
        P::req("dataset", K::String, "The dataset."),
        P::req("table", K::String, "The table.")
    )
);
spec!(
    BQ_TABLE_METADATA,
    "io.kestra.plugin.gcp.bigquery.TableMetadata",
    [],
    "Reads a table's metadata; outputs `projectId`, `datasetId`, `table`, `numRows`, `definition.schema.fields`.",
    bq_props!(
        P::req("dataset", K::String, "The dataset."),
        P::req("table", K::String, "The table."),
        P::opt(
            "ifNotExists",
            K::String,
            "ERROR (default) or SKIP when the table does not exist."
        )
    )
);

/// Kestra's GCP properties on BigQuery's Query/Load tasks, which run on the warehouse `url` names.
macro_rules! bq_job_props {
    ($($extra:expr),*) => {
        [
            $($extra,)*
            P::opt("url", K::String, "The warehouse BigQuery runs on. Default `WEIR_BIGQUERY_URL`, else `jdbc:duckdb:<home>/bigquery.duckdb`."),
            P::opt("projectId", K::String, "The GCP project; recorded, a dataset is a schema of the warehouse."),
            P::opt("serviceAccount", K::String, "Accepted for compatibility (real BigQuery is not reached)."),
            P::opt("scopes", K::Any, "Accepted for compatibility."),
            P::opt("impersonatedServiceAccount", K::String, "Accepted for compatibility."),
            P::opt("location", K::String, "Accepted for compatibility."),
            P::opt("labels", K::Any, "Accepted for compatibility."),
            P::opt("retryAuto", K::Any, "Accepted for compatibility."),
            P::opt("retryReasons", K::Any, "Accepted for compatibility."),
            P::opt("retryMessages", K::Any, "Accepted for compatibility."),
            P::opt("dryRun", K::Bool, "Accepted for compatibility."),
            P::opt("jobTimeout", K::String, "Accepted for compatibility."),
            P::opt("createDisposition", K::String, "CREATE_IF_NEEDED (default) or CREATE_NEVER."),
        ]
    };
}

spec!(
    BQ_QUERY,
    "io.kestra.plugin.gcp.bigquery.Query",
    [],
    "Runs BigQuery SQL, rewritten for the warehouse (backquoted names, external tables over `gs://` files, MERGE, BigQuery's functions and types); outputs `jobId`, `rows`/`row`/`uri`/`size`, `destinationTable`.",
    bq_job_props!(
        P::req(
            "sql",
            K::String,
            "BigQuery standard SQL; statements separated by `;` run in one transaction."
        ),
        P::opt(
            "fetchType",
            K::String,
            "NONE, FETCH_ONE (output `row`), FETCH (output `rows`) or STORE (rows to internal storage, output `uri`)."
        ),
        P::opt("fetch", K::Bool, "Deprecated form of `fetchType: FETCH`."),
        P::opt(
            "fetchOne",
            K::Bool,
            "Deprecated form of `fetchType: FETCH_ONE`."
        ),
        P::opt("store", K::Bool, "Deprecated form of `fetchType: STORE`."),
        P::opt(
            "destinationTable",
            K::String,
            "Write the last query's rows into this table (`project.dataset.table`)."
        ),
        P::opt(
            "writeDisposition",
            K::String,
            "With `destinationTable`: WRITE_TRUNCATE, WRITE_APPEND or WRITE_EMPTY (default)."
        ),
        P::opt(
            "dataset",
            K::String,
            "Default dataset for `destinationTable`."
        ),
        P::opt("legacySql", K::Bool, "Must be false: standard SQL only."),
        P::opt("priority", K::String, "Accepted for compatibility."),
        P::opt("useQueryCache", K::Bool, "Accepted for compatibility."),
        P::opt("useLegacySql", K::Bool, "Accepted for compatibility."),
        P::opt("allowLargeResults", K::Bool, "Accepted for compatibility."),
        P::opt("flattenResults", K::Bool, "Accepted for compatibility."),
        P::opt("clusteringFields", K::Any, "Accepted for compatibility."),
        P::opt(
            "timePartitioningField",
            K::String,
            "Accepted for compatibility."
        ),
        P::opt(
            "timePartitioningType",
            K::String,
            "Accepted for compatibility."
        ),
        P::opt(
            "rangePartitioningField",
            K::String,
            "Accepted for compatibility."
        ),
        P::opt(
            "rangePartitioningStart",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt(
            "rangePartitioningEnd",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt(
            "rangePartitioningInterval",
            K::Any,
            "Accepted for compatibility."
        ),
        P::opt("schemaUpdateOptions", K::Any, "Accepted for compatibility."),
        P::opt("maximumBytesBilled", K::Any, "Accepted for compatibility."),
        P::opt("defaultDataset", K::String, "Accepted for compatibility.")
    )
);

/// BigQuery's load options, shared by Load and LoadFromGcs.
macro_rules! bq_load_props {
    ($from:expr) => {
        bq_job_props!(
            $from,
            P::req("destinationTable", K::String, "The table, `project.dataset.table` or `dataset.table`."),
            P::opt("format", K::String, "CSV (default), JSON (newline-delimited) or PARQUET; AVRO and ORC are refused on DuckDB."),
            P::opt("csvOptions", K::Map, "`fieldDelimiter`, `skipLeadingRows`, `quote`, `allowJaggedRows`, `allowQuotedNewLines`, `encoding` (UTF-8)."),
            P::opt("autodetect", K::Bool, "Detect column names and types (the default without `schema`)."),
            P::opt("schema", K::Map, "`fields`: a list of `name`/`type` (`mode` accepted)."),
            P::opt("writeDisposition", K::String, "WRITE_APPEND (default), WRITE_TRUNCATE or WRITE_EMPTY."),
            P::opt("ignoreUnknownValues", K::Bool, "Ignore values beyond the declared columns."),
            P::opt("maxBadRecords", K::Int, "Accepted for compatibility."),
            P::opt("schemaUpdateOptions", K::Any, "Accepted for compatibility."),
            P::opt("timePartitioningField", K::String, "Accepted for compatibility."),
            P::opt("clusteringFields", K::Any, "Accepted for compatibility."),
            P::opt("avroOptions", K::Any, "Accepted for compatibility.")
        )
    };
}

spec!(
    BQ_LOAD,
    "io.kestra.plugin.gcp.bigquery.Load",
    [],
    "Loads a file of internal storage into a table; outputs `rows`, `jobId`, `destinationTable`.",
    bq_load_props!(P::req("from", K::String, "A `kestra:///` file."))
);
spec!(
    BQ_LOAD_FROM_GCS,
    "io.kestra.plugin.gcp.bigquery.LoadFromGcs",
    [],
    "Loads `gs://` objects (`*` wildcards allowed) into a table; outputs `rows`, `jobId`, `destinationTable`.",
    bq_load_props!(P::req("from", K::StringList, "`gs://bucket/path` URIs."))
);

/// Connection properties shared by every warehouse task.
macro_rules! jdbc_props {
    ($($extra:expr),*) => {
        [
            P::opt("url", K::String, "`jdbc:duckdb:PATH`, `jdbc:postgresql://HOST:PORT/DB` or `jdbc:redshift://HOST:PORT/DB`; the URL, not the task type, chooses the engine."),
            P::opt("username", K::String, "Database user."),
            P::opt("password", K::String, "Database password."),
            $($extra,)*
        ]
    };
}

macro_rules! query_props {
    () => {
        jdbc_props!(
            P::req("sql", K::String, "One or more statements separated by `;`, run in one transaction."),
            P::opt("fetchType", K::String, "NONE, FETCH_ONE (output `row`), FETCH (output `rows`) or STORE (rows to internal storage, output `uri`)."),
            P::opt("fetchOne", K::Bool, "Deprecated form of `fetchType: FETCH_ONE`."),
            P::opt("fetch", K::Bool, "Deprecated form of `fetchType: FETCH`."),
            P::opt("store", K::Bool, "Deprecated form of `fetchType: STORE`."),
            P::opt("fetchSize", K::Int, "Accepted for compatibility."),
            P::opt("timeZoneId", K::String, "Accepted for compatibility."),
            P::opt("autoCommit", K::Bool, "Accepted for compatibility; each task runs in one transaction."),
            P::opt("databaseFile", K::String, "Accepted for compatibility (DuckDB); use `url`."),
            P::opt("inputFiles", K::MapOrString, "Files to create in the task's working directory first: name → content or `kestra:///` URI. On DuckDB, relative file paths in the SQL are found there (reads through `file_search_path`, `COPY … TO` relative paths rewritten)."),
            P::opt("outputFiles", K::StringOrList, "Globs of files of the working directory to keep in internal storage after the SQL ran; output `outputFiles`.")
        )
    };
}

spec!(
    DUCKDB_QUERY,
    "io.kestra.plugin.jdbc.duckdb.Query",
    ["io.kestra.plugin.jdbc.duckdb.Queries"],
    "Runs SQL on the warehouse its `url` names (DuckDB by default).",
    query_props!()
);
spec!(
    POSTGRES_QUERY,
    "io.kestra.plugin.jdbc.postgresql.Query",
    ["io.kestra.plugin.jdbc.postgresql.Queries"],
    "Runs SQL on the warehouse its `url` names.",
    query_props!()
);
spec!(
    REDSHIFT_QUERY,
    "io.kestra.plugin.jdbc.redshift.Query",
    ["io.kestra.plugin.jdbc.redshift.Queries"],
    "Runs SQL on the warehouse its `url` names; Redshift's `COPY … FROM 's3://…'` works on every engine.",
    query_props!()
);
spec!(
    POSTGRES_COPY_IN,
    "io.kestra.plugin.jdbc.postgresql.CopyIn",
    [],
    "Streams a CSV file (`kestra:///` or `s3://`) into a table.",
    jdbc_props!(
        P::req("table", K::String, "The table to load."),
        P::req(
            "from",
            K::String,
            "The file: `kestra:///…` or `s3://bucket/key`."
        ),
        P::opt("columns", K::StringList, "Columns of the file, in order."),
        P::opt("header", K::Bool, "The file starts with a header line."),
        P::opt("delimiter", K::String, "Field separator. Default `,`."),
        P::opt("quote", K::String, "Quote character. Default `\"`."),
        P::opt(
            "nullString",
            K::String,
            "Text standing for NULL. Default empty."
        ),
        P::opt("format", K::String, "CSV (the only format for now)."),
        P::opt("escape", K::String, "Accepted for compatibility.")
    )
);
spec!(
    POSTGRES_COPY_OUT,
    "io.kestra.plugin.jdbc.postgresql.CopyOut",
    [],
    "Writes a query's rows (or a table) to a CSV file in internal storage; outputs `uri` and `rowCount`.",
    jdbc_props!(
        P::opt("sql", K::String, "The query whose rows are written."),
        P::opt(
            "table",
            K::String,
            "A table to write whole, when `sql` is not given."
        ),
        P::opt("header", K::Bool, "Write a header line."),
        P::opt("delimiter", K::String, "Field separator. Default `,`."),
        P::opt("format", K::String, "CSV (the only format for now).")
    )
);
spec!(
    WEIR_LOAD,
    "weir.warehouse.Load",
    [],
    "Loads a CSV file into a table idempotently: an md5 row key, one copy of rows duplicated in the file, nothing inserted twice; outputs rows read, inserted, skipped and rejected (and `rejectsUri` with `maxBadRows`).",
    jdbc_props!(
        P::req(
            "from",
            K::String,
            "The file: `s3://bucket/key`, `kestra:///…`; gzip when it ends in `.gz`."
        ),
        P::req(
            "table",
            K::String,
            "The table, which must exist (create it with a Query task)."
        ),
        P::opt(
            "columns",
            K::StringList,
            "Columns of the file, in order; the header by default."
        ),
        P::opt(
            "keyColumns",
            K::StringList,
            "Columns the row key (md5 of their text in the file) is computed from; all columns by default."
        ),
        P::opt(
            "keyColumn",
            K::String,
            "Column holding the row key. Default `unique_row_id`."
        ),
        P::opt(
            "filenameColumn",
            K::String,
            "Column holding the file name. Default `filename`; empty for none."
        ),
        P::opt(
            "fileName",
            K::String,
            "The file name stored; the last part of `from` without `.gz` by default."
        ),
        P::opt(
            "header",
            K::Bool,
            "The file starts with a header line. Default true."
        ),
        P::opt(
            "memoryLimit",
            K::String,
            "DuckDB's memory limit during the load, e.g. `1GB`. Default `256MB`."
        ),
        P::opt(
            "maxBadRows",
            K::Int,
            "How many malformed rows (wrong field count, unterminated quote, a value that does not parse for its column, bad UTF-8) the load may leave out. Default 0: the first one fails the load. Above 0 they are listed in a CSV in internal storage (output `rejectsUri`: line, column, reason, record) and counted in `rowsRejected`; more than this many fail the load, inserting nothing."
        ),
        P::opt(
            "keyIndex",
            K::Bool,
            "Give the table a key index when it has none: weir's own store of the table's key fingerprints (beside a DuckDB file; in `$WEIR_KEY_CACHE`, default `~/.cache/weir/keys`, for PostgreSQL), with which a file of new rows is checked against the table without reading the table, so a load costs time with the file, not the table. A token in the table `weir_key_store` (renewed by a trigger on PostgreSQL; the table's row count and row-id extent on DuckDB) tells when someone else wrote the table; the index is then rebuilt from the table before it is used, and keys it may hold are always checked against the table itself. Default false: a table without one is never changed (`weir warehouse index TABLE` adds one too). The log says whether the index was used, created or rebuilt."
        ),
        P::opt("delimiter", K::String, "Field separator. Default `,`.")
    )
);

/// Connection properties shared by the git tasks.
macro_rules! git_props {
    ($($extra:expr),*) => {
        [
            P::req("url", K::String, "The repository: `https://…`, `file://…` or a local path."),
            P::opt("username", K::String, "User name for an https URL (with a token as `password`)."),
            P::opt("password", K::String, "Password or access token for an https URL; masked in logs."),
            P::opt("cloneSubmodules", K::Bool, "Clone submodules too."),
            P::opt("depth", K::Int, "How many commits to fetch. Default 1 (shallow)."),
            P::opt("privateKey", K::String, "Not supported (SSH); use https with a token."),
            P::opt("passphrase", K::String, "Not supported (SSH)."),
            P::opt("gitConfig", K::Map, "Accepted for compatibility."),
            P::opt("connectTimeout", K::Int, "Accepted for compatibility."),
            $($extra,)*
        ]
    };
}

spec!(
    GIT_CLONE,
    "io.kestra.plugin.git.Clone",
    [],
    "Clones a git repository into the working directory; outputs `directory`.",
    git_props!(
        P::opt(
            "branch",
            K::String,
            "The branch to check out. Default the remote's HEAD."
        ),
        P::opt(
            "directory",
            K::String,
            "A folder under the working directory to clone into."
        )
    )
);
spec!(
    GIT_SYNC_NAMESPACE_FILES,
    "io.kestra.plugin.git.SyncNamespaceFiles",
    [],
    "Makes a namespace's files equal to a folder of a git repository; outputs `diff`, `added`, `updated`, `deleted`.",
    git_props!(
        P::opt(
            "branch",
            K::String,
            "The branch to sync from. Default `main`."
        ),
        P::opt(
            "namespace",
            K::String,
            "The namespace whose files are synced; the flow's by default."
        ),
        P::opt(
            "gitDirectory",
            K::String,
            "The repository's folder holding the files. Default `_files`."
        ),
        P::opt("dryRun", K::Bool, "Only report what would change."),
        P::opt(
            "delete",
            K::Bool,
            "Delete namespace files that are not in Git. Default false."
        ),
        P::opt(
            "failOnMissingDirectory",
            K::Bool,
            "Fail when `gitDirectory` is not in the repository. Default true."
        )
    )
);

// Internal storage tasks (`storage_tasks.rs`).
spec!(
    STORAGE_WRITE,
    "io.kestra.plugin.core.storage.Write",
    [],
    "Writes `content` to a new file of internal storage; outputs `uri`.",
    [
        P::req("content", K::Any, "The text to write."),
        P::opt(
            "extension",
            K::String,
            "The file's extension. Default `.ion`."
        ),
    ]
);
spec!(
    STORAGE_SPLIT,
    "io.kestra.plugin.core.storage.Split",
    ["io.kestra.core.tasks.storages.Split"],
    "Splits a file of internal storage at line ends; outputs `uris`. Set one of `bytes`, `rows`, `partitions`, `regexPattern`.",
    [
        P::req("from", K::String, "The `kestra:///` URI of the file."),
        P::opt(
            "bytes",
            K::Any,
            "Pieces of at most this size (`10MB`, `200KB` or bytes)."
        ),
        P::opt("rows", K::Int, "Pieces of at most this many lines."),
        P::opt(
            "partitions",
            K::Int,
            "This many pieces, lines dealt in turn."
        ),
        P::opt(
            "regexPattern",
            K::String,
            "One piece per value of the regex's first group."
        ),
        P::opt(
            "separator",
            K::String,
            "Written after each line. Default a newline."
        ),
    ]
);
spec!(
    STORAGE_CONCAT,
    "io.kestra.plugin.core.storage.Concat",
    ["io.kestra.core.tasks.storages.Concat"],
    "Concatenates files of internal storage into one; outputs `uri`.",
    [
        P::req(
            "files",
            K::Any,
            "`kestra:///` URIs: a list, or a JSON list as a string."
        ),
        P::opt("separator", K::String, "Written between files."),
        P::opt(
            "extension",
            K::String,
            "The new file's extension. Default `.tmp`."
        ),
    ]
);
spec!(
    STORAGE_SIZE,
    "io.kestra.plugin.core.storage.Size",
    ["io.kestra.core.tasks.storages.Size"],
    "The size in bytes of a file of internal storage; outputs `size`.",
    [P::req(
        "uri",
        K::String,
        "The `kestra:///` URI of the file."
    ),]
);
spec!(
    STORAGE_DELETE,
    "io.kestra.plugin.core.storage.Delete",
    ["io.kestra.core.tasks.storages.Delete"],
    "Deletes a file of internal storage; outputs `uri` and `deleted`.",
    [
        P::req("uri", K::String, "The `kestra:///` URI of the file."),
        P::opt(
            "errorOnMissing",
            K::Bool,
            "Fail when the file does not exist. Default false."
        ),
    ]
);
spec!(
    EXECUTION_COUNT,
    "io.kestra.plugin.core.execution.Count",
    [
        "io.kestra.plugin.core.execution.Counts",
        "io.kestra.core.tasks.executions.Counts"
    ],
    "Counts each flow's executions; outputs `results` (`namespace`, `flowId`, `count` of the flows where `expression` holds) and `total`.",
    [
        P::req(
            "expression",
            K::String,
            "Compares `count` with a number: `{{ count == 0 }}`, `{{ gte count 5 }}`; evaluated per flow."
        ),
        P::opt(
            "flows",
            K::List,
            "Flows to count: `namespace` and `flowId` each."
        ),
        P::opt(
            "namespaces",
            K::StringList,
            "Namespaces to count (each with the namespaces under it)."
        ),
        P::opt("states", K::StringList, "Only executions in these states."),
        P::opt(
            "startDate",
            K::String,
            "Only executions created at or after this date-time."
        ),
        P::opt(
            "endDate",
            K::String,
            "Only executions created before this date-time."
        ),
    ]
);

pub fn catalog() -> Catalog {
    Catalog::new(crate::registry::specs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Editors complete flows from `schema/flow.schema.json`; it must match what weir accepts.
    /// The package's folder, as cargo sets it when running the tests (read at run time, so a test
    /// binary built from another checkout still looks at this one).
    fn manifest_dir() -> String {
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
    }

    #[test]
    fn committed_flow_schema_is_current() {
        let path = Path::new(&manifest_dir()).join("../../schema/flow.schema.json");
        let fresh = serde_json::to_string_pretty(&weir_flow::schema::flow_schema(&catalog()))
            .expect("schema serialises")
            + "\n";
        if std::env::var_os("WEIR_BLESS").is_some() {
            std::fs::write(&path, &fresh).expect("schema file is writable");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "schema/flow.schema.json is stale: regenerate it with `WEIR_BLESS=1 cargo test -p weir-tasks committed_flow_schema`"
        );
    }
}
