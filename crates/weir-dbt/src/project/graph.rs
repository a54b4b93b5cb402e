//! The dependency graph: `ref`/`source` calls resolved to unique ids, parents and children, a
//! topological order, and cycles reported as errors naming the cycle.

use super::{Diagnostics, Node, Project, ResourceType, TestTarget, location};
use std::collections::{BTreeMap, BTreeSet};
use weir_core::Diagnostic;

/// The enabled nodes of a project with their edges resolved.
///
/// Invariants: every id in `parents`/`children` is a key of `nodes`; `order` holds every node
/// once, each after all its parents (ties broken by unique id, so the order is stable).
#[derive(Debug, Clone)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
    parents: BTreeMap<String, Vec<String>>,
    children: BTreeMap<String, Vec<String>>,
    order: Vec<String>,
}

impl Graph {
    /// Resolves every node's `ref`/`source` calls (a ref prefers the node's own package, then
    /// any package with that name), fills `Node::depends_on` and a generic test's
    /// `attached_node`, and orders the nodes. Unknown and disabled refs and cycles are errors.
    pub fn build(project: &Project) -> Result<Graph, Diagnostics> {
        let mut errors = Vec::new();
        let mut by_name: BTreeMap<&str, Vec<&Node>> = BTreeMap::new();
        let mut sources: BTreeMap<(&str, &str), Vec<&Node>> = BTreeMap::new();
        for node in project.nodes.values() {
            if node.resource_type.is_refable() {
                by_name.entry(&node.name).or_default().push(node);
            }
            if let Some(s) = &node.source {
                sources
                    .entry((&s.source_name, &s.table_name))
                    .or_default()
                    .push(node);
            }
        }
        let pick = |candidates: Option<&Vec<&Node>>, package: &str| -> Option<String> {
            let c = candidates?;
            c.iter()
                .find(|n| n.package_name == package)
                .or_else(|| c.iter().find(|n| n.package_name == project.config.name))
                .or_else(|| c.first())
                .map(|n| n.unique_id.clone())
        };
        let mut nodes = project.nodes.clone();
        for node in nodes.values_mut() {
            let mut deps = BTreeSet::new();
            for call in &node.refs {
                let found = match &call.package {
                    Some(pkg) => by_name
                        .get(call.name.as_str())
                        .and_then(|c| c.iter().find(|n| &n.package_name == pkg))
                        .map(|n| n.unique_id.clone()),
                    None => pick(by_name.get(call.name.as_str()), &node.package_name),
                };
                match found {
                    Some(id) => {
                        deps.insert(id);
                    }
                    None => {
                        let shown = match &call.package {
                            Some(p) => format!("{p}.{}", call.name),
                            None => call.name.clone(),
                        };
                        let disabled = project.disabled.values().any(|n| {
                            n.resource_type.is_refable()
                                && n.name == call.name
                                && call.package.as_ref().is_none_or(|p| &n.package_name == p)
                        });
                        let message = if disabled {
                            format!(
                                "`{}` depends on `{shown}`, which is disabled",
                                node.unique_id
                            )
                        } else {
                            format!(
                                "`{}` depends on a node named `{shown}`, which was not found",
                                node.unique_id
                            )
                        };
                        errors.push(Diagnostic::new(
                            location(&node.original_file_path, call.line, call.column),
                            message,
                        ));
                    }
                }
            }
            for call in &node.sources {
                match pick(
                    sources.get(&(call.source.as_str(), call.table.as_str())),
                    &node.package_name,
                ) {
                    Some(id) => {
                        deps.insert(id);
                    }
                    None => errors.push(
                        Diagnostic::new(
                            location(&node.original_file_path, call.line, call.column),
                            format!(
                                "`{}` depends on the source `{}.{}`, which was not found",
                                node.unique_id, call.source, call.table
                            ),
                        )
                        .with_hint("sources are declared under `sources:` in a properties file"),
                    ),
                }
            }
            deps.remove(&node.unique_id);
            node.depends_on = deps.into_iter().collect();
            if let Some(test) = &mut node.test {
                test.attached_node = match &test.target {
                    TestTarget::Ref { name } => {
                        pick(by_name.get(name.as_str()), &node.package_name)
                    }
                    TestTarget::Source { source, table } => pick(
                        sources.get(&(source.as_str(), table.as_str())),
                        &node.package_name,
                    ),
                };
            }
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (id, node) in &nodes {
            parents.insert(id.clone(), node.depends_on.clone());
            children.entry(id.clone()).or_default();
            for p in &node.depends_on {
                children.entry(p.clone()).or_default().push(id.clone());
            }
        }
        let order = topo_order(&nodes, &parents, &children)?;
        Ok(Graph {
            nodes,
            parents,
            children,
            order,
        })
    }

    pub fn node(&self, unique_id: &str) -> Option<&Node> {
        self.nodes.get(unique_id)
    }

    /// Every node, by unique id.
    pub fn nodes(&self) -> &BTreeMap<String, Node> {
        &self.nodes
    }

    /// The direct parents of a node (empty for an unknown id).
    pub fn parents(&self, unique_id: &str) -> &[String] {
        self.parents.get(unique_id).map_or(&[], Vec::as_slice)
    }

    /// The direct children of a node (empty for an unknown id).
    pub fn children(&self, unique_id: &str) -> &[String] {
        self.children.get(unique_id).map_or(&[], Vec::as_slice)
    }

    /// Every node, each after its parents.
    pub fn order(&self) -> &[String] {
        &self.order
    }

    /// Ancestors up to `depth` generations (`None`: all), not including the node itself.
    pub fn ancestors(&self, unique_id: &str, depth: Option<usize>) -> BTreeSet<String> {
        walk(unique_id, depth, |id| self.parents(id))
    }

    /// Descendants up to `depth` generations (`None`: all), not including the node itself.
    pub fn descendants(&self, unique_id: &str, depth: Option<usize>) -> BTreeSet<String> {
        walk(unique_id, depth, |id| self.children(id))
    }

    /// The generic and singular tests that depend on a node.
    pub fn tests_of(&self, unique_id: &str) -> Vec<&Node> {
        self.children(unique_id)
            .iter()
            .filter_map(|c| self.nodes.get(c))
            .filter(|n| n.resource_type == ResourceType::Test)
            .collect()
    }
}

fn walk<'a>(
    start: &str,
    depth: Option<usize>,
    next: impl Fn(&str) -> &'a [String],
) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut frontier = vec![start.to_string()];
    let mut level = 0;
    while !frontier.is_empty() && depth.is_none_or(|d| level < d) {
        let mut following = Vec::new();
        for id in &frontier {
            for n in next(id) {
                if n != start && seen.insert(n.clone()) {
                    following.push(n.clone());
                }
            }
        }
        frontier = following;
        level += 1;
    }
    seen
}

/// Kahn's algorithm, smallest unique id first among the ready nodes. Nodes left over sit on
/// or behind a cycle; one cycle is found among them and reported.
fn topo_order(
    nodes: &BTreeMap<String, Node>,
    parents: &BTreeMap<String, Vec<String>>,
    children: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, Diagnostics> {
    let mut pending: BTreeMap<&str, usize> = parents
        .iter()
        .map(|(id, ps)| (id.as_str(), ps.len()))
        .collect();
    let mut ready: BTreeSet<&str> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| *id)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(id) = ready.pop_first() {
        order.push(id.to_string());
        pending.remove(id);
        for child in &children[id] {
            if let Some(n) = pending.get_mut(child.as_str()) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(child);
                }
            }
        }
    }
    if pending.is_empty() {
        return Ok(order);
    }
    // Every leftover node has a leftover parent: walk parents until a node repeats.
    let mut path: Vec<&str> = vec![pending.keys().next().copied().unwrap_or_default()];
    loop {
        let last = path[path.len() - 1];
        let Some(parent) = parents[last]
            .iter()
            .find(|p| pending.contains_key(p.as_str()))
        else {
            break;
        };
        if let Some(start) = path.iter().position(|p| p == parent) {
            let mut cycle: Vec<&str> = path[start..].to_vec();
            cycle.reverse();
            // Start at the smallest id, so the message does not depend on where the walk began.
            let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
            cycle.rotate_left(smallest);
            cycle.push(cycle[0]);
            let first = &nodes[cycle[0]];
            return Err(Diagnostics(vec![
                Diagnostic::new(
                    location(&first.original_file_path, first.line, 1),
                    format!("found a cycle: {}", cycle.join(" --> ")),
                )
                .with_hint("a node cannot depend on itself, directly or through others"),
            ]));
        }
        path.push(parent);
    }
    Err(Diagnostics(vec![Diagnostic::new(
        location("dbt_project.yml", 1, 1),
        "the graph could not be ordered; this is a bug in weir, please report it",
    )]))
}
