//! A loaded project as node selection sees it: `project::Graph` and its `Node`s made into a
//! `select::SelectGraph` of `SelectNode`s, so `--select`/`--exclude` work on a real project.
//!
//! The checksum is dbt's: sha256 of the file's text (`FileHash.from_contents`), so `state:` can
//! compare with a manifest written by dbt-core. Sources have no file of their own; their
//! checksum is empty and `state:modified` does not see changes to them (dbt compares their
//! properties instead).

use crate::project::{self, Graph, Node};
use crate::select::{self, SelectGraph, SelectNode};
use sha2::{Digest, Sha256};

/// The selection type of a project node.
pub fn resource_type(resource_type: project::ResourceType) -> select::ResourceType {
    match resource_type {
        project::ResourceType::Model => select::ResourceType::Model,
        project::ResourceType::Seed => select::ResourceType::Seed,
        project::ResourceType::Snapshot => select::ResourceType::Snapshot,
        project::ResourceType::Test => select::ResourceType::Test,
        project::ResourceType::Source => select::ResourceType::Source,
        project::ResourceType::Analysis => select::ResourceType::Analysis,
    }
}

/// dbt's checksum of a node: the hex sha256 of its raw code, empty for sources.
pub fn checksum(node: &Node) -> String {
    if node.resource_type == project::ResourceType::Source {
        return String::new();
    }
    let digest = Sha256::digest(node.raw_code.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One node as selection sees it.
pub fn select_node(node: &Node) -> SelectNode {
    SelectNode {
        unique_id: node.unique_id.clone(),
        name: node.name.clone(),
        resource_type: resource_type(node.resource_type),
        package_name: node.package_name.clone(),
        original_file_path: node.original_file_path.clone(),
        fqn: node.fqn.clone(),
        tags: node.tags.clone(),
        config: node.config.0.clone(),
        depends_on: node.depends_on.clone(),
        checksum: checksum(node),
        // A singular test has no test metadata: `test_type:singular` tells them apart.
        test_metadata_name: node.test.as_ref().map(|t| t.name.clone()),
    }
}

/// Every node of the graph, with `package:this` meaning `root_project`.
pub fn select_graph(graph: &Graph, root_project: &str) -> SelectGraph {
    SelectGraph::new(graph.nodes().values().map(select_node)).with_root_project(root_project)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{Project, ProjectFiles};
    use crate::select::{IndirectSelection, Selection, evaluate};

    fn project() -> (Project, Graph) {
        let files: ProjectFiles = [
            (
                "dbt_project.yml",
                "name: taxi\nprofile: taxi\nmodels:\n  taxi:\n    marts:\n      +tags: [nightly]\n      +materialized: table\n",
            ),
            (
                "models/staging/sources.yml",
                "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: green\n      - name: yellow\n",
            ),
            (
                "models/staging/stg_green.sql",
                "select * from {{ source('raw', 'green') }}",
            ),
            (
                "models/staging/stg_yellow.sql",
                "select * from {{ source('raw', 'yellow') }}",
            ),
            (
                "models/core/trips.sql",
                "select * from {{ ref('stg_green') }} union all select * from {{ ref('stg_yellow') }}",
            ),
            (
                "models/marts/revenue.sql",
                "select * from {{ ref('trips') }} join {{ ref('zones') }} using (zone)",
            ),
            (
                "models/core/schema.yml",
                "version: 2\nmodels:\n  - name: trips\n    columns:\n      - name: id\n        data_tests: [unique, not_null]\n",
            ),
            ("seeds/zones.csv", "zone,name\n1,a\n"),
            (
                "tests/revenue_positive.sql",
                "select * from {{ ref('revenue') }} where amount < 0",
            ),
        ]
        .into_iter()
        .collect();
        let project = Project::load(&files).expect("project loads");
        let graph = project.graph().expect("graph builds");
        (project, graph)
    }

    fn check(select: &[&str], exclude: &[&str], expected: &[&str]) {
        let (_, graph) = project();
        let sg = select_graph(&graph, "taxi");
        let select: Vec<String> = select.iter().map(|s| s.to_string()).collect();
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        let selection = Selection {
            select: &select,
            exclude: &exclude,
            indirect: IndirectSelection::Eager,
            ..Selection::default()
        };
        let got = evaluate(&sg, &selection).expect("selection evaluates");
        let got: Vec<&str> = got.nodes.iter().map(String::as_str).collect();
        assert_eq!(got, expected, "select {select:?} exclude {exclude:?}");
    }

    #[test]
    fn fields_come_from_the_project_node() {
        let (_, graph) = project();
        let sg = select_graph(&graph, "taxi");
        let revenue = sg.node("model.taxi.revenue").expect("revenue");
        assert_eq!(revenue.fqn, ["taxi", "marts", "revenue"]);
        assert_eq!(revenue.tags, ["nightly"]);
        assert_eq!(revenue.config["materialized"], "table");
        assert_eq!(
            revenue.depends_on,
            ["model.taxi.trips", "seed.taxi.zones"],
            "refs resolved to unique ids"
        );
        // sha256 of the file's text, as dbt's manifest has it.
        let empty = Node {
            raw_code: String::new(),
            ..graph.node("model.taxi.revenue").expect("node").clone()
        };
        assert_eq!(
            checksum(&empty),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(revenue.checksum.len(), 64);
        let source = sg.node("source.taxi.raw.green").expect("source");
        assert_eq!(source.resource_type, select::ResourceType::Source);
        assert_eq!(source.checksum, "");
        let unique = sg
            .nodes()
            .find(|n| n.unique_id.starts_with("test.taxi.unique_trips_id"))
            .expect("generic test");
        assert_eq!(unique.test_metadata_name.as_deref(), Some("unique"));
        assert_eq!(unique.depends_on, ["model.taxi.trips"]);
        let singular = sg
            .node("test.taxi.revenue_positive")
            .expect("singular test");
        assert_eq!(singular.test_metadata_name, None);
    }

    #[test]
    fn selection_runs_on_a_loaded_project() {
        check(
            &["+revenue"],
            &[],
            &[
                "model.taxi.revenue",
                "model.taxi.stg_green",
                "model.taxi.stg_yellow",
                "model.taxi.trips",
                "seed.taxi.zones",
                "source.taxi.raw.green",
                "source.taxi.raw.yellow",
                "test.taxi.not_null_trips_id.8b9871c9b1",
                "test.taxi.revenue_positive",
                "test.taxi.unique_trips_id.5a9fc92fc1",
            ],
        );
        check(
            &["tag:nightly"],
            &[],
            &["model.taxi.revenue", "test.taxi.revenue_positive"],
        );
        check(
            &["source:raw.green+"],
            &["trips+"],
            &["model.taxi.stg_green", "source.taxi.raw.green"],
        );
        check(
            &["test_type:generic"],
            &[],
            &[
                "test.taxi.not_null_trips_id.8b9871c9b1",
                "test.taxi.unique_trips_id.5a9fc92fc1",
            ],
        );
        check(
            &["test_name:unique"],
            &[],
            &["test.taxi.unique_trips_id.5a9fc92fc1"],
        );
        check(
            &["config.materialized:table"],
            &[],
            &["model.taxi.revenue", "test.taxi.revenue_positive"],
        );
        check(
            &["path:models/core"],
            &["resource_type:test"],
            &["model.taxi.trips"],
        );
    }
}
