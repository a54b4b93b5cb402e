//! Every environment variable weir reads, declared in one place.

/// The folder holding all of weir's state (SQLite file, internal storage). Default `./.weir`.
pub const WEIR_HOME: &str = "WEIR_HOME";
/// Where the key indexes of PostgreSQL tables are kept (weir's own files, a cache the warehouse
/// validates). Default `$XDG_CACHE_HOME/weir/keys`, else `~/.cache/weir/keys`.
pub const WEIR_KEY_CACHE: &str = "WEIR_KEY_CACHE";
/// Set to anything to have loads print how long each of their steps took (stderr).
pub const WEIR_TRACE_LOAD: &str = "WEIR_TRACE_LOAD";
/// Prefix of secrets: `secret('NAME')` reads `SECRET_NAME`.
pub const SECRET_PREFIX: &str = "SECRET_";
/// Set to anything to turn off colours in terminal output.
pub const NO_COLOR: &str = "NO_COLOR";
/// The Python interpreter used by `scripts.python.*` tasks (default `python3`).
pub const WEIR_PYTHON: &str = "WEIR_PYTHON";
/// The S3-compatible server buckets live on (e.g. `http://127.0.0.1:9000`). Unset: buckets are
/// folders under `<home>/buckets`.
pub const WEIR_S3_ENDPOINT: &str = "WEIR_S3_ENDPOINT";
/// The region of S3 buckets (default `us-east-1`).
pub const WEIR_S3_REGION: &str = "WEIR_S3_REGION";
/// The access key of S3 buckets, read as the AWS tools do.
pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
/// The secret key of S3 buckets, read as the AWS tools do.
pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";

/// The warehouse BigQuery tasks (`io.kestra.plugin.gcp.bigquery.*`) run on, as a JDBC URL.
/// Default `jdbc:duckdb:<home>/bigquery.duckdb`; a task's `url` property wins over it.
pub const WEIR_BIGQUERY_URL: &str = "WEIR_BIGQUERY_URL";
/// A Google Cloud Storage endpoint for `gs://` buckets, such as an emulator
/// (`http://127.0.0.1:4443`). Unset, with no GCS credentials: buckets are folders under
/// `<home>/buckets`, shared with S3's local buckets.
pub const WEIR_GCS_ENDPOINT: &str = "WEIR_GCS_ENDPOINT";
/// The GCS emulator's endpoint as Google's client libraries read it; `WEIR_GCS_ENDPOINT` wins.
pub const STORAGE_EMULATOR_HOST: &str = "STORAGE_EMULATOR_HOST";
/// A service account key file for Google Cloud Storage, read as Google's tools do; when set,
/// `gs://` buckets are real GCS buckets.
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// A memory limit for DuckDB warehouse connections (`SET memory_limit`), e.g. `2GB`. Unset by
/// default (DuckDB's own default, 80% of RAM).
pub const WEIR_DUCKDB_MEMORY_LIMIT: &str = "WEIR_DUCKDB_MEMORY_LIMIT";
/// DuckDB's shared library (`libduckdb.so`, or a folder holding it), loaded when a DuckDB
/// warehouse is first used. Unset: the build's `DUCKDB_LIB_DIR`, the executable's folder, then the
/// system's search.
pub const WEIR_DUCKDB_LIB: &str = "WEIR_DUCKDB_LIB";

/// The folder holding dbt's `profiles.yml` for `weir dbt`, as dbt reads it; `--profiles-dir`
/// wins over it.
pub const DBT_PROFILES_DIR: &str = "DBT_PROFILES_DIR";
/// A folder of dbt hub packages for `weir dbt deps`, which works offline:
/// `<cache>/<org>/<package>/<version>/` holds the package (`dbt-labs/dbt_utils/1.3.0/`).
pub const WEIR_DBT_PACKAGE_CACHE: &str = "WEIR_DBT_PACKAGE_CACHE";
