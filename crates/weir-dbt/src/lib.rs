//! dbt projects, read as dbt reads them: the project model (`project`) and node selection
//! (`select`), joined by `graph_select`. Pure: files come in as text, nothing here touches the
//! disk or a database.
//!
//! The executor's schedule (`run`) is pure too: the database work is the caller's, through
//! `run::NodeRunner` and `jinja::Adapter`.

pub mod graph_select;
pub mod jinja;
pub mod project;
pub mod run;
pub mod seeds;
pub mod select;
pub mod tests_sql;
