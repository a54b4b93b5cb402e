//! `dbt_project.yml`: the project's name, where its files are, its `vars`, and the config trees
//! (`models:`, `seeds:`, …) that set configs by folder.

use super::yaml;
use super::{Config, Diagnostics};
use serde_json::{Map, Value};

/// What `dbt_project.yml` says.
#[derive(Debug, Clone, PartialEq)]
pub struct DbtProject {
    pub name: String,
    pub version: Option<String>,
    pub profile: Option<String>,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    pub target_path: String,
    pub packages_install_path: String,
    /// `clean-targets`: what `dbt clean` deletes (default the target and packages folders).
    pub clean_targets: Vec<String>,
    pub vars: Vars,
    pub models: ConfigTree,
    pub seeds: ConfigTree,
    pub snapshots: ConfigTree,
    /// `data_tests:` (or the older `tests:`; both merged, `data_tests` last).
    pub tests: ConfigTree,
    pub sources: ConfigTree,
    pub analyses: ConfigTree,
}

/// `vars:` of `dbt_project.yml`. A key naming a package whose value is a map holds that
/// package's vars; the others are global. Which keys are packages is known only once packages
/// are installed, so the split is made on lookup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars(pub Map<String, Value>);

impl Vars {
    /// The vars seen by `package`'s nodes: the global ones, overridden by the package's own.
    pub fn for_package(&self, package: &str, packages: &[&str]) -> Map<String, Value> {
        let mut out: Map<String, Value> = self
            .0
            .iter()
            .filter(|(k, v)| !(v.is_object() && packages.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(Value::Object(own)) = self.0.get(package) {
            for (k, v) in own {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }
}

/// One resource type's config tree (`models:` …): nested maps keyed by package and folder
/// names, with configs at every level.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigTree(pub Map<String, Value>);

impl ConfigTree {
    /// The configs for a node with this fqn (`[package, folders…, name]`), as dbt computes
    /// them: the tree's top level, then each level of the fqn that the tree names, deeper
    /// levels overriding (tags accumulate). At each level, `+key` is a config; a key without
    /// `+` is a config unless its value is a map, which is then a folder (or node) level.
    pub fn resolve(&self, fqn: &[String]) -> Config {
        let mut config = Config::default();
        let mut level = &self.0;
        config.merge(&level_configs(level));
        for part in fqn {
            match level.get(part) {
                Some(Value::Object(next)) => {
                    level = next;
                    config.merge(&level_configs(level));
                }
                _ => break,
            }
        }
        config
    }
}

fn level_configs(level: &Map<String, Value>) -> Config {
    let mut config = Config::default();
    for (key, value) in level {
        if let Some(name) = key.strip_prefix('+') {
            config.0.insert(name.trim().to_string(), value.clone());
        } else if !value.is_object() {
            config.0.insert(key.clone(), value.clone());
        }
    }
    config
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl DbtProject {
    pub fn parse(text: &str, file: &str) -> Result<DbtProject, Diagnostics> {
        let root = yaml::parse(text, file).map_err(Diagnostics)?;
        let mut errors = Vec::new();
        if root.as_map().is_none() {
            return Err(Diagnostics(vec![yaml::at(
                file,
                &root,
                format!("`{file}` should be a map, found {}", root.kind_name()),
            )]));
        }
        let name = match root.get("name") {
            None => {
                errors.push(yaml::at(file, &root, "`name` is missing"));
                String::new()
            }
            Some(n) => {
                match yaml::string(file, n, "name") {
                    Ok(s) if is_identifier(&s) => s,
                    Ok(s) => {
                        errors.push(
                        yaml::at(file, n, format!("the project name `{s}` is not valid"))
                            .with_hint("use letters, digits and underscores, not starting with a digit"),
                    );
                        s
                    }
                    Err(e) => {
                        errors.push(e);
                        String::new()
                    }
                }
            }
        };
        let paths = |key: &str, default: &[&str], errors: &mut Vec<_>| match root.get(key) {
            Some(n) => yaml::string_list(file, n, key, errors),
            None => default.iter().map(|s| s.to_string()).collect(),
        };
        let model_paths = paths("model-paths", &["models"], &mut errors);
        let seed_paths = paths("seed-paths", &["seeds"], &mut errors);
        let test_paths = paths("test-paths", &["tests"], &mut errors);
        let macro_paths = paths("macro-paths", &["macros"], &mut errors);
        let snapshot_paths = paths("snapshot-paths", &["snapshots"], &mut errors);
        let analysis_paths = paths("analysis-paths", &["analyses"], &mut errors);
        let version = root.get("version").filter(|n| !n.is_null()).map(|n| {
            n.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| n.to_json().to_string())
        });
        let profile = yaml::opt_string(file, &root, "profile", &mut errors);
        let target_path = yaml::opt_string(file, &root, "target-path", &mut errors)
            .unwrap_or_else(|| "target".to_string());
        let packages_install_path =
            yaml::opt_string(file, &root, "packages-install-path", &mut errors)
                .unwrap_or_else(|| "dbt_packages".to_string());
        let clean_targets = if root.get("clean-targets").is_some() {
            paths("clean-targets", &[], &mut errors)
        } else {
            vec![target_path.clone(), packages_install_path.clone()]
        };
        let tree =
            |key: &str, errors: &mut Vec<_>| ConfigTree(yaml::json_map(file, &root, key, errors));
        let vars = Vars(yaml::json_map(file, &root, "vars", &mut errors));
        let mut tests = tree("tests", &mut errors);
        for (k, v) in tree("data_tests", &mut errors).0 {
            tests.0.insert(k, v);
        }
        let project = DbtProject {
            name,
            version,
            profile,
            model_paths,
            seed_paths,
            test_paths,
            macro_paths,
            snapshot_paths,
            analysis_paths,
            target_path,
            packages_install_path,
            clean_targets,
            vars,
            models: tree("models", &mut errors),
            seeds: tree("seeds", &mut errors),
            snapshots: tree("snapshots", &mut errors),
            tests,
            sources: tree("sources", &mut errors),
            analyses: tree("analyses", &mut errors),
        };
        if errors.is_empty() {
            Ok(project)
        } else {
            Err(Diagnostics(errors))
        }
    }

    /// The config tree for a resource type.
    pub fn tree(&self, resource_type: super::ResourceType) -> &ConfigTree {
        use super::ResourceType::*;
        match resource_type {
            Model => &self.models,
            Seed => &self.seeds,
            Snapshot => &self.snapshots,
            Test => &self.tests,
            Source => &self.sources,
            Analysis => &self.analyses,
        }
    }
}
