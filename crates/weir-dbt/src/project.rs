//! The project model: `dbt_project.yml`, `profiles.yml`, and the nodes found in a project.
