//! `io.kestra.plugin.core.execution.Count`: how many executions each flow had, kept where
//! `expression` holds. Counting goes through the context's read-only `ExecutionCounter`; the
//! task sees no other part of the store.

use crate::{Outputs, TaskContext, TaskError, de};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use weir_core::State;
use weir_store::ExecutionFilter;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlowRef {
    namespace: String,
    flow_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CountProps {
    expression: String,
    #[serde(default)]
    flows: Vec<FlowRef>,
    #[serde(default, deserialize_with = "de::string_list")]
    namespaces: Vec<String>,
    #[serde(default, deserialize_with = "de::string_list")]
    states: Vec<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// A comparison of `count` with a number, as Kestra's examples write it: `{{ count == 0 }}`,
/// `{{ count >= 5 }}`, or the Pebble forms `{{ eq count 0 }}`, `{{ gte count 5 }}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Condition {
    op: Op,
    value: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Condition {
    pub(crate) fn parse(text: &str) -> Option<Condition> {
        let t = text.trim();
        let t = t
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .unwrap_or(t)
            .trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        let op = |w: &str| {
            Some(match w {
                "==" | "eq" => Op::Eq,
                "!=" | "ne" => Op::Ne,
                ">" | "gt" => Op::Gt,
                ">=" | "gte" => Op::Ge,
                "<" | "lt" => Op::Lt,
                "<=" | "lte" => Op::Le,
                _ => return None,
            })
        };
        match words.as_slice() {
            ["count", o, n] => Some(Condition {
                op: op(o)?,
                value: n.parse().ok()?,
            }),
            [o, "count", n] => Some(Condition {
                op: op(o)?,
                value: n.parse().ok()?,
            }),
            _ => None,
        }
    }

    pub(crate) fn holds(self, count: i64) -> bool {
        match self.op {
            Op::Eq => count == self.value,
            Op::Ne => count != self.value,
            Op::Gt => count > self.value,
            Op::Ge => count >= self.value,
            Op::Lt => count < self.value,
            Op::Le => count <= self.value,
        }
    }
}

fn date(text: &Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, TaskError> {
    let Some(t) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    DateTime::parse_from_rfc3339(t)
        .map(|d| Some(d.with_timezone(&Utc)))
        .map_err(|_| {
            TaskError::Props(format!(
                "`{name}` must be an ISO 8601 date-time, found `{t}`"
            ))
        })
}

pub async fn count(ctx: &TaskContext) -> Result<Outputs, TaskError> {
    let p: CountProps = ctx.props()?;
    let cond = Condition::parse(&p.expression).ok_or_else(|| {
        TaskError::Props(format!(
            "`expression` must compare `count` with a number (`{{{{ count == 0 }}}}`, `{{{{ gte count 5 }}}}`), found `{}`",
            p.expression
        ))
    })?;
    let mut states = Vec::new();
    for s in &p.states {
        states.push(State::parse(s).ok_or_else(|| {
            TaskError::Props(format!("`states`: `{s}` is not an execution state"))
        })?);
    }
    let from = date(&p.start_date, "startDate")?;
    let to = date(&p.end_date, "endDate")?;
    if p.flows.is_empty() && p.namespaces.is_empty() {
        return Err(TaskError::Props(
            "set `flows` (namespace and flowId) or `namespaces`".into(),
        ));
    }
    let mut targets: Vec<(String, Option<String>)> = p
        .flows
        .iter()
        .map(|f| (f.namespace.clone(), Some(f.flow_id.clone())))
        .collect();
    targets.extend(p.namespaces.iter().map(|n| (n.clone(), None)));
    let counter = ctx.executions.clone();
    let rows = tokio::task::spawn_blocking(
        move || -> Result<Vec<(String, Option<String>, u64)>, TaskError> {
            let mut out = Vec::new();
            for (namespace, flow_id) in targets {
                let filter = ExecutionFilter {
                    namespace: Some(namespace.clone()),
                    flow_id: flow_id.clone(),
                    states: states.clone(),
                    from,
                    to,
                    ..Default::default()
                };
                let n = counter.count_matching(&filter)?;
                out.push((namespace, flow_id, n));
            }
            Ok(out)
        },
    )
    .await
    .map_err(|e| TaskError::Failed(format!("counting executions stopped unexpectedly: {e}")))??;
    let mut results = Vec::new();
    let mut total = 0u64;
    for (namespace, flow_id, n) in rows {
        if cond.holds(i64::try_from(n).unwrap_or(i64::MAX)) {
            total += n;
            results.push(json!({"namespace": namespace, "flowId": flow_id, "count": n}));
        }
    }
    let mut out = Outputs::new();
    out.insert("results".into(), Value::Array(results));
    out.insert("total".into(), total.into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_compare_count_as_kestras_examples_do() {
        let c = Condition::parse("{{ count == 0 }}").unwrap();
        assert!(c.holds(0) && !c.holds(1));
        let c = Condition::parse("{{ eq count 0 }}").unwrap();
        assert!(c.holds(0) && !c.holds(2));
        let c = Condition::parse("{{ gte count 5 }}").unwrap();
        assert!(c.holds(5) && c.holds(6) && !c.holds(4));
        let c = Condition::parse("{{count < 3}}").unwrap();
        assert!(c.holds(2) && !c.holds(3));
        assert!(Condition::parse("{{ count == 'x' }}").is_none());
        assert!(Condition::parse("{{ true }}").is_none());
    }
}
