//! Generic data tests as SQL: dbt's built-in test queries, the wrapper that counts failures,
//! and the status dbt decides from it.

use crate::project::{Config, Graph, Node};

/// A test's outcome, as dbt decides it from `severity`, `warn_if` and `error_if`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestStatus {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestSqlError {
    /// A generic test defined by the project or a package, not yet run by weir.
    #[error(
        "generic test `{0}` is not supported yet (only unique, not_null, accepted_values, relationships)"
    )]
    Unsupported(String),
    /// The test lacks an argument its SQL needs, or has one of the wrong shape.
    #[error("test `{test}`: {message}")]
    Invalid { test: String, message: String },
    /// A relation the test reads is not known.
    #[error("test `{test}`: no relation for `{what}`")]
    UnknownRelation { test: String, what: String },
}

pub fn generic_test_sql(
    test: &Node,
    graph: &Graph,
    relation_of: &dyn Fn(&str) -> Option<String>,
    adapter: &str,
) -> Result<String, TestSqlError> {
    let _ = (graph, relation_of, adapter);
    Err(TestSqlError::Unsupported(test.name.clone()))
}

pub fn wrap_test_sql(failing_rows_sql: &str, config: &Config) -> String {
    let _ = config;
    format!(
        "select count(*) as failures, count(*) != 0 as should_warn, count(*) != 0 as should_error from (\n{failing_rows_sql}\n) dbt_internal_test"
    )
}

pub fn test_status(config: &Config, should_warn: bool, should_error: bool) -> TestStatus {
    let severity = config.severity();
    if severity == "ERROR" && should_error {
        TestStatus::Fail
    } else if should_warn {
        TestStatus::Warn
    } else {
        TestStatus::Pass
    }
}
