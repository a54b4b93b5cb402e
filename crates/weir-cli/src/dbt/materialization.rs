//! Project-defined materializations: a model whose `materialized` names a
//! `{% materialization name, adapter=… %}` block of the project or of a package runs that
//! block's macro (through `weir_dbt`'s compiler) instead of one of weir's built-in ones. The
//! macro runs its own statements (`{% call statement('main') %}`); the model's pre- and
//! post-hooks run around it.

use std::sync::Arc;
use weir_dbt::jinja::{Adapter, Compiler};
use weir_dbt::project::Node;

/// What a project-defined materialization did.
pub(crate) struct Ran {
    /// The statements it ran, hooks included, for `target/run/`.
    pub(crate) statements: Vec<String>,
}

/// Runs the node with the project's materialization `mat` when there is one; `None` when `mat`
/// is not project-defined (a built-in one then applies).
pub(crate) fn run(
    compiler: &Compiler,
    node: &Node,
    adapter: Arc<dyn Adapter>,
    mat: &str,
    sql: &str,
    pre: &[String],
    post: &[String],
) -> Option<Result<Ran, String>> {
    let macro_name = compiler.materialization(mat, adapter.kind())?;
    Some((|| {
        let mut statements = Vec::new();
        for hook in pre {
            adapter.run_query(hook)?;
            statements.push(hook.clone());
        }
        let done = compiler
            .run_materialization(&node.unique_id, &macro_name, adapter.clone(), sql)
            .map_err(|e| e.diagnostic.to_string())?;
        statements.extend(done.main_statement);
        for hook in post {
            adapter.run_query(hook)?;
            statements.push(hook.clone());
        }
        Ok(Ran { statements })
    })())
}
