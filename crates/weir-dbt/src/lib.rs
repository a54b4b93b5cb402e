//! dbt projects, read as dbt reads them: the project model (`project`) and node selection
//! (`select`), joined by `graph_select`. Pure: files come in as text, nothing here touches the
//! disk or a database.
//!
//! This crate is the start of `weir dbt` (issue 11); compiling and running models come later.

pub mod graph_select;
pub mod jinja;
pub mod project;
pub mod seeds;
pub mod select;
pub mod tests_sql;
