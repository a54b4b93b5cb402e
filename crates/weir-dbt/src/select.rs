//! Node selection: dbt's `--select` / `--exclude` syntax and its evaluation over a graph.
