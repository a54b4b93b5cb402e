//! The executor's schedule: which selected nodes wait for which, and running them in that order
//! with up to `threads` at once, as dbt's `run`, `test`, `seed` and `build` do. Pure
//! orchestration: the work on a node (compiling, the database) is a `NodeRunner`'s.
//!
//! A node whose parent ended in error (a model that failed, a test that failed at severity
//! error) or was skipped is skipped itself, and so is everything downstream of it. In `build`,
//! a model waits for the tests of its parents (`Plan::build`), so a failing test stops the
//! models that read the tested one.

use crate::project::{Graph, ResourceType};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What became of a node, with dbt's names (`run_results.json`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A model, seed or snapshot built.
    Success,
    /// A node that could not be built, or a test that could not run.
    Error,
    Skipped,
    /// A test with no failures over its thresholds.
    Pass,
    /// A test over its `error_if` threshold at severity error.
    Fail,
    /// A test over its `warn_if` threshold (or failing at severity warn).
    Warn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
        }
    }

    /// Whether the node's children are skipped.
    pub fn stops_children(self) -> bool {
        matches!(self, Status::Error | Status::Fail | Status::Skipped)
    }
}

/// The result of one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeResult {
    pub status: Status,
    /// dbt's `message`: `OK`, `SELECT 12`, `Got 3 results, configured to fail if != 0`, or the
    /// error.
    pub message: String,
    /// A test's failing rows (dbt's `failures`), `None` for other nodes.
    pub failures: Option<u64>,
    pub execution_time: Duration,
}

impl NodeResult {
    pub fn skipped(message: impl Into<String>) -> NodeResult {
        NodeResult {
            status: Status::Skipped,
            message: message.into(),
            failures: None,
            execution_time: Duration::ZERO,
        }
    }
}

/// Does the work on one node. `worker` is in `0..threads`, one per thread at a time, so an
/// implementation can keep one connection per worker.
pub trait NodeRunner: Sync {
    fn run(&self, worker: usize, node_id: &str) -> NodeResult;
}

/// What the executor tells as it goes: `index` is the node's 1-based number in start order.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    Start {
        index: usize,
        node_id: &'a str,
    },
    Done {
        index: usize,
        node_id: &'a str,
        result: &'a NodeResult,
    },
}

/// The nodes to run and, for each, the planned nodes it waits for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In graph order: each after the nodes it waits for.
    pub nodes: Vec<String>,
    pub waits_for: BTreeMap<String, Vec<String>>,
}

impl Plan {
    /// The nodes of `selected` (kept in the graph's order) waiting for their selected
    /// ancestors: a parent that is not selected is looked through, so `a -> b -> c` with `b`
    /// left out still runs `c` after `a`.
    pub fn new(graph: &Graph, selected: &BTreeSet<String>) -> Plan {
        let nodes: Vec<String> = graph
            .order()
            .iter()
            .filter(|id| selected.contains(*id))
            .cloned()
            .collect();
        let mut waits_for = BTreeMap::new();
        for id in &nodes {
            let mut waits = BTreeSet::new();
            let mut stack: Vec<&str> = graph.parents(id).iter().map(String::as_str).collect();
            let mut seen = BTreeSet::new();
            while let Some(p) = stack.pop() {
                if !seen.insert(p) {
                    continue;
                }
                if selected.contains(p) {
                    waits.insert(p.to_string());
                } else {
                    stack.extend(graph.parents(p).iter().map(String::as_str));
                }
            }
            waits_for.insert(id.clone(), waits.into_iter().collect());
        }
        Plan { nodes, waits_for }
    }

    /// As `new`, and a model (seed, snapshot) also waits for the selected tests on its
    /// parents, as in dbt's `build` (a test with several parents, such as `relationships`, is
    /// not waited for by a node upstream of one of them, which would be a cycle).
    pub fn build(graph: &Graph, selected: &BTreeSet<String>) -> Plan {
        let mut plan = Plan::new(graph, selected);
        let tests: Vec<&String> = plan
            .nodes
            .iter()
            .filter(|id| {
                graph
                    .node(id)
                    .is_some_and(|n| n.resource_type == ResourceType::Test)
            })
            .collect();
        let mut extra: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for test in tests {
            let parents = graph.parents(test);
            // Everything upstream of the test: a node there cannot wait for it.
            let upstream: BTreeSet<String> = graph.ancestors(test, None);
            for parent in parents {
                for child in graph.children(parent) {
                    let Some(node) = graph.node(child) else {
                        continue;
                    };
                    if node.resource_type == ResourceType::Test
                        || !selected.contains(child)
                        || upstream.contains(child)
                    {
                        continue;
                    }
                    extra.entry(child.clone()).or_default().insert(test.clone());
                }
            }
        }
        for (id, tests) in extra {
            let waits = plan.waits_for.entry(id).or_default();
            for t in tests {
                if !waits.contains(&t) {
                    waits.push(t);
                }
            }
        }
        // Tests right after their parents: order the plan again with the new edges, a
        // ready node first by its place in the graph's order.
        let place: BTreeMap<&str, usize> = graph
            .order()
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        plan.nodes = order(&plan, &place);
        plan
    }
}

/// Kahn's algorithm over the plan's edges, ties broken by `place`.
fn order(plan: &Plan, place: &BTreeMap<&str, usize>) -> Vec<String> {
    let mut pending: BTreeMap<&str, usize> = plan
        .nodes
        .iter()
        .map(|id| (id.as_str(), plan.waits_for.get(id).map_or(0, Vec::len)))
        .collect();
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, waits) in &plan.waits_for {
        for w in waits {
            children.entry(w.as_str()).or_default().push(id.as_str());
        }
    }
    let key = |id: &str| (place.get(id).copied().unwrap_or(usize::MAX), id.to_string());
    let mut ready: BTreeSet<(usize, String)> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(id, _)| key(id))
        .collect();
    let mut out = Vec::with_capacity(plan.nodes.len());
    while let Some((_, id)) = ready.pop_first() {
        for c in children.get(id.as_str()).into_iter().flatten() {
            if let Some(n) = pending.get_mut(c) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(key(c));
                }
            }
        }
        out.push(id);
    }
    out
}

/// How the executor runs a plan.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub threads: usize,
    /// Stop starting nodes after the first error or failure; what has not started is skipped.
    pub fail_fast: bool,
}

struct Sched {
    /// Index into `plan.nodes` → result, once done.
    results: Vec<Option<NodeResult>>,
    started: Vec<bool>,
    next_index: usize,
    running: usize,
    free_workers: Vec<usize>,
    stop: bool,
}

/// Runs every node of the plan, each once the nodes it waits for are done, and returns the
/// results in the plan's order. `on_event` is called under the executor's lock, so its output
/// lines never interleave.
pub fn execute(
    plan: &Plan,
    options: Options,
    runner: &dyn NodeRunner,
    on_event: &(dyn Fn(Event<'_>) + Sync),
) -> Vec<(String, NodeResult)> {
    let threads = options.threads.max(1);
    let position: BTreeMap<&str, usize> = plan
        .nodes
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let waits: Vec<Vec<usize>> = plan
        .nodes
        .iter()
        .map(|id| {
            plan.waits_for
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|w| position.get(w.as_str()).copied())
                .collect()
        })
        .collect();
    let state = Mutex::new(Sched {
        results: vec![None; plan.nodes.len()],
        started: vec![false; plan.nodes.len()],
        next_index: 1,
        running: 0,
        free_workers: (0..threads).rev().collect(),
        stop: false,
    });
    let wake = Condvar::new();
    let worker = || {
        let mut guard = state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            // The first node not started whose waits are all done; skips are settled here.
            let mut pick = None;
            let mut all_started = true;
            for (i, wait) in waits.iter().enumerate() {
                if guard.started[i] {
                    continue;
                }
                all_started = false;
                if !wait.iter().all(|w| guard.results[*w].is_some()) {
                    continue;
                }
                let failed_parent = wait.iter().find(|w| {
                    guard.results[**w]
                        .as_ref()
                        .is_some_and(|r| r.status.stops_children())
                });
                if guard.stop || failed_parent.is_some() {
                    guard.started[i] = true;
                    let index = guard.next_index;
                    guard.next_index += 1;
                    let why = match failed_parent {
                        Some(p) => format!("skipped: `{}` did not succeed", plan.nodes[*p]),
                        None => "skipped: --fail-fast stopped the run".to_string(),
                    };
                    let result = NodeResult::skipped(why);
                    on_event(Event::Done {
                        index,
                        node_id: &plan.nodes[i],
                        result: &result,
                    });
                    guard.results[i] = Some(result);
                    wake.notify_all();
                    continue;
                }
                pick = Some(i);
                break;
            }
            // Skipping the last waiting nodes above starts them all too.
            if all_started || guard.started.iter().all(|s| *s) {
                wake.notify_all();
                return;
            }
            let Some(i) = pick else {
                guard = wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            let Some(w) = guard.free_workers.pop() else {
                guard = wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                continue;
            };
            guard.started[i] = true;
            guard.running += 1;
            let index = guard.next_index;
            guard.next_index += 1;
            let id = &plan.nodes[i];
            on_event(Event::Start { index, node_id: id });
            drop(guard);
            let started = Instant::now();
            let mut result = runner.run(w, id);
            if result.execution_time.is_zero() {
                result.execution_time = started.elapsed();
            }
            guard = state.lock().unwrap_or_else(|e| e.into_inner());
            on_event(Event::Done {
                index,
                node_id: id,
                result: &result,
            });
            if options.fail_fast && matches!(result.status, Status::Error | Status::Fail) {
                guard.stop = true;
            }
            guard.results[i] = Some(result);
            guard.running -= 1;
            guard.free_workers.push(w);
            wake.notify_all();
        }
    };
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(worker);
        }
    });
    let sched = state.into_inner().unwrap_or_else(|e| e.into_inner());
    plan.nodes
        .iter()
        .cloned()
        .zip(sched.results)
        .map(|(id, r)| (id, r.unwrap_or_else(|| NodeResult::skipped("not run"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{Project, ProjectFiles};
    use std::sync::Mutex;

    struct Fake {
        fail: Vec<&'static str>,
        log: Mutex<Vec<String>>,
    }

    impl NodeRunner for Fake {
        fn run(&self, _worker: usize, node_id: &str) -> NodeResult {
            self.log.lock().unwrap().push(node_id.to_string());
            let failed = self.fail.iter().any(|f| node_id.contains(f));
            let is_test = node_id.starts_with("test.");
            NodeResult {
                status: match (failed, is_test) {
                    (true, true) => Status::Fail,
                    (true, false) => Status::Error,
                    (false, true) => Status::Pass,
                    (false, false) => Status::Success,
                },
                message: String::new(),
                failures: None,
                execution_time: Duration::from_millis(1),
            }
        }
    }

    fn graph() -> Graph {
        let files: ProjectFiles = [
            ("dbt_project.yml", "name: p\nprofile: p\n"),
            ("models/a.sql", "select 1 as id"),
            ("models/b.sql", "select * from {{ ref('a') }}"),
            ("models/c.sql", "select * from {{ ref('b') }}"),
            ("models/d.sql", "select 1 as id"),
            (
                "models/schema.yml",
                "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n        data_tests: [unique]\n",
            ),
        ]
        .into_iter()
        .collect();
        Project::load(&files).unwrap().graph().unwrap()
    }

    fn run(fail: Vec<&'static str>, build: bool, threads: usize) -> Vec<(String, Status)> {
        let graph = graph();
        let selected: BTreeSet<String> = graph.nodes().keys().cloned().collect();
        let plan = if build {
            Plan::build(&graph, &selected)
        } else {
            Plan::new(&graph, &selected)
        };
        let fake = Fake {
            fail,
            log: Mutex::new(Vec::new()),
        };
        let options = Options {
            threads,
            fail_fast: false,
        };
        execute(&plan, options, &fake, &|_| {})
            .into_iter()
            .map(|(id, r)| (id, r.status))
            .collect()
    }

    fn status(results: &[(String, Status)], id: &str) -> Status {
        results.iter().find(|(i, _)| i == id).unwrap().1
    }

    #[test]
    fn a_failed_model_skips_its_descendants_only() {
        for threads in [1, 3] {
            let r = run(vec!["model.p.b"], false, threads);
            assert_eq!(status(&r, "model.p.a"), Status::Success);
            assert_eq!(status(&r, "model.p.b"), Status::Error);
            assert_eq!(status(&r, "model.p.c"), Status::Skipped);
            assert_eq!(status(&r, "model.p.d"), Status::Success);
        }
    }

    #[test]
    fn in_build_a_failing_test_skips_the_models_downstream() {
        let r = run(vec!["unique_a"], true, 2);
        assert_eq!(status(&r, "model.p.a"), Status::Success);
        assert_eq!(status(&r, "model.p.b"), Status::Skipped);
        assert_eq!(status(&r, "model.p.c"), Status::Skipped);
        assert_eq!(status(&r, "model.p.d"), Status::Success);
    }

    #[test]
    fn build_orders_tests_right_after_their_parents() {
        let graph = graph();
        let selected: BTreeSet<String> = graph.nodes().keys().cloned().collect();
        let plan = Plan::build(&graph, &selected);
        let pos = |id: &str| plan.nodes.iter().position(|n| n.starts_with(id)).unwrap();
        assert!(pos("test.p.unique_a") < pos("model.p.b"));
        assert!(pos("model.p.a") < pos("test.p.unique_a"));
    }
}
