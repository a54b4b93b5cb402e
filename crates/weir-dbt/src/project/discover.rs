//! Finding nodes by their files: models under model-paths, seeds under seed-paths, snapshot
//! blocks under snapshot-paths, singular tests under test-paths, analyses, and macro files.

use super::dbt_project::DbtProject;
use super::refs;
use super::{Language, Node, ProjectFiles, ResourceType, location};
use weir_core::Diagnostic;

pub(crate) struct Found {
    pub nodes: Vec<Node>,
    pub macro_files: Vec<String>,
}

/// A node for a whole file: path, fqn, text, `dbt_project.yml` configs, first-pass refs.
fn file_node(
    project: &DbtProject,
    resource_type: ResourceType,
    rel: &str,
    file: &str,
    name: &str,
    text: &str,
) -> Node {
    let mut node = Node::new(resource_type, &project.name, name, file);
    node.path = rel.to_string();
    node.fqn = fqn(&project.name, rel, name);
    node.raw_code = text.to_string();
    node.apply_config(&project.tree(resource_type).resolve(&node.fqn));
    if resource_type != ResourceType::Seed {
        (node.refs, node.sources) = refs::scan(text, true, 1);
    }
    node
}

/// `[package, folders of rel…, name]`.
pub(crate) fn fqn(package: &str, rel: &str, name: &str) -> Vec<String> {
    let mut parts: Vec<String> = vec![package.to_string()];
    let folders: Vec<&str> = rel.split('/').collect();
    parts.extend(
        folders[..folders.len().saturating_sub(1)]
            .iter()
            .map(|s| s.to_string()),
    );
    parts.push(name.to_string());
    parts
}

fn stem(rel: &str) -> &str {
    let file = rel.rsplit('/').next().unwrap_or(rel);
    file.rsplit_once('.').map_or(file, |(s, _)| s)
}

pub(crate) fn discover(
    files: &ProjectFiles,
    project: &DbtProject,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Found {
    let mut nodes = Vec::new();
    let mut macro_files = Vec::new();
    for dir in &project.model_paths {
        for (rel, file, text) in files.under(dir) {
            if rel.ends_with(".sql") {
                nodes.push(file_node(
                    project,
                    ResourceType::Model,
                    rel,
                    file,
                    stem(rel),
                    text,
                ));
            } else if rel.ends_with(".py") {
                let mut node = file_node(project, ResourceType::Model, rel, file, stem(rel), text);
                node.language = Language::Python;
                node.refs.clear();
                node.sources.clear();
                warnings.push(Diagnostic::new(
                    location(file, 1, 1),
                    format!("`{}` is a Python model, which weir does not run", node.name),
                ));
                nodes.push(node);
            }
        }
    }
    for dir in &project.seed_paths {
        for (rel, file, text) in files.under(dir) {
            if rel.ends_with(".csv") {
                nodes.push(file_node(
                    project,
                    ResourceType::Seed,
                    rel,
                    file,
                    stem(rel),
                    text,
                ));
            }
        }
    }
    for dir in &project.snapshot_paths {
        for (rel, file, text) in files.under(dir) {
            if rel.ends_with(".sql") {
                snapshot_blocks(project, rel, file, text, &mut nodes, errors);
            }
        }
    }
    for dir in &project.test_paths {
        for (rel, file, text) in files.under(dir) {
            if !rel.ends_with(".sql") {
                continue;
            }
            // `tests/generic/` holds generic test definitions, which are macros.
            if rel.starts_with("generic/") {
                macro_files.push(file.to_string());
            } else {
                nodes.push(file_node(
                    project,
                    ResourceType::Test,
                    rel,
                    file,
                    stem(rel),
                    text,
                ));
            }
        }
    }
    for dir in &project.analysis_paths {
        for (rel, file, text) in files.under(dir) {
            if rel.ends_with(".sql") {
                nodes.push(file_node(
                    project,
                    ResourceType::Analysis,
                    rel,
                    file,
                    stem(rel),
                    text,
                ));
            }
        }
    }
    for dir in &project.macro_paths {
        for (rel, file, _) in files.under(dir) {
            if rel.ends_with(".sql") {
                macro_files.push(file.to_string());
            }
        }
    }
    Found { nodes, macro_files }
}

/// A `{% snapshot name %}` … `{% endsnapshot %}` block: where its tag starts, the name, and the
/// body's bounds.
struct Block<'a> {
    tag_start: usize,
    name: &'a str,
    body: std::ops::Range<usize>,
}

/// The next `{% <keyword> … %}` tag at or after `from`: (start, end after `%}`, tag's inside).
fn next_tag<'a>(text: &'a str, from: usize, keyword: &str) -> Option<(usize, usize, &'a str)> {
    let mut at = from;
    while let Some(i) = text[at..].find("{%") {
        let start = at + i;
        let end = text[start..].find("%}").map(|e| start + e)?;
        let inside = text[start + 2..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        if inside == keyword || inside.starts_with(&format!("{keyword} ")) {
            return Some((start, end + 2, inside));
        }
        at = end + 2;
    }
    None
}

fn snapshot_blocks(
    project: &DbtProject,
    rel: &str,
    file: &str,
    text: &str,
    nodes: &mut Vec<Node>,
    errors: &mut Vec<Diagnostic>,
) {
    let mut blocks = Vec::new();
    let mut at = 0;
    while let Some((start, end, inside)) = next_tag(text, at, "snapshot") {
        let name = inside["snapshot".len()..].trim();
        let line = text[..start].matches('\n').count() + 1;
        let Some((close, after, _)) = next_tag(text, end, "endsnapshot") else {
            errors.push(Diagnostic::new(
                location(file, line, 1),
                format!("the snapshot block `{name}` has no `{{% endsnapshot %}}`"),
            ));
            return;
        };
        blocks.push(Block {
            tag_start: start,
            name,
            body: end..close,
        });
        at = after;
    }
    if blocks.is_empty() {
        errors.push(
            Diagnostic::new(location(file, 1, 1), "no snapshot block in this file").with_hint(
                "a snapshot file holds `{% snapshot name %} select … {% endsnapshot %}`",
            ),
        );
    }
    for block in blocks {
        let line = text[..block.tag_start].matches('\n').count() + 1;
        let body = &text[block.body.clone()];
        let mut node = file_node(project, ResourceType::Snapshot, rel, file, block.name, body);
        node.line = line;
        let body_line = text[..block.body.start].matches('\n').count() + 1;
        (node.refs, node.sources) = refs::scan(body, true, body_line);
        // A ref's column on the block's first line counts from the tag's end; close enough
        // for a first pass, and exact on every later line.
        nodes.push(node);
    }
}
