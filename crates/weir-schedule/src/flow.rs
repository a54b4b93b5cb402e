//! The Flow trigger: start this flow when another flow's execution reaches one of `states` and
//! passes the trigger's conditions and preconditions.

use crate::ScheduleError;
use crate::condition::{Condition, Scope};
use crate::props::Props;
use chrono::{DateTime, Duration as TimeDelta, NaiveTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use weir_core::State;
use weir_flow::Trigger;

/// The execution whose state changed, as a Flow trigger sees it.
#[derive(Debug, Clone, Copy)]
pub struct FinishedExecution<'a> {
    pub id: &'a str,
    pub namespace: &'a str,
    pub flow_id: &'a str,
    pub flow_revision: i64,
    pub state: State,
    pub labels: &'a [(String, String)],
    /// The flow's `outputs`, `Value::Null` when it has none.
    pub outputs: &'a Value,
}

#[derive(Debug, Clone)]
pub struct FlowTrigger {
    pub id: String,
    pub disabled: bool,
    /// Unrendered; `{{ trigger.outputs.x }}` in them reads the upstream flow's outputs.
    pub inputs: Map<String, Value>,
    pub labels: Vec<(String, String)>,
    /// The states that fire the trigger; by default every terminal state.
    pub states: Vec<State>,
    pub conditions: Vec<Condition>,
    pub preconditions: Option<Preconditions>,
}

/// `preconditions`: each upstream flow and each `where` filter is one condition; the trigger
/// fires once every one has been met by some execution within the time window.
#[derive(Debug, Clone, PartialEq)]
pub struct Preconditions {
    pub id: Option<String>,
    pub flows: Vec<UpstreamFlow>,
    pub filters: Vec<ExecutionFilter>,
    pub time_window: TimeWindow,
    /// After firing, forget which conditions were met (Kestra's default).
    pub reset_on_success: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamFlow {
    pub namespace: String,
    pub flow_id: Option<String>,
    pub states: Option<Vec<State>>,
    pub labels: Vec<(String, String)>,
}

/// One entry of `preconditions.where`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionFilter {
    pub id: String,
    /// `operand: OR` (any filter) rather than `AND` (every filter).
    pub any: bool,
    pub filters: Vec<(FilterField, FilterOp)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    FlowId,
    Namespace,
    State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterOp {
    EqualTo(String),
    NotEqualTo(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    IsTrue,
    IsFalse,
    IsNull,
    IsNotNull,
    StartsWith(String),
    EndsWith(String),
    Contains(String),
}

/// `preconditions.timeWindow`: the period within which every precondition must be met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeWindow {
    /// Consecutive windows of `window`, the first starting `advance` after midnight UTC.
    Duration { window: Duration, advance: Duration },
    /// The `window` up to now.
    Sliding { window: Duration },
    /// From midnight UTC to `deadline`.
    DailyDeadline { deadline: NaiveTime },
    /// From `start` to `end`, each day (UTC).
    Daily { start: NaiveTime, end: NaiveTime },
}

impl TimeWindow {
    /// The window `now` falls in, `[start, end)`. The daily windows may lie wholly before or after
    /// `now`: executions count only when they end within it.
    pub fn bounds(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let midnight = now.date_naive().and_time(NaiveTime::MIN).and_utc();
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        match *self {
            TimeWindow::Sliding { window } => (
                now.checked_sub_signed(delta(window))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                now,
            ),
            TimeWindow::Duration { window, advance } => {
                let window = delta(window).max(TimeDelta::seconds(1));
                let mut base = midnight + delta(advance).min(TimeDelta::days(1));
                if base > now {
                    base -= TimeDelta::days(1);
                }
                let n = (now - base).num_seconds() / window.num_seconds().max(1);
                let start = base + window * i32::try_from(n).unwrap_or(i32::MAX);
                (start, start + window)
            }
            TimeWindow::DailyDeadline { deadline } => {
                (midnight, now.date_naive().and_time(deadline).and_utc())
            }
            TimeWindow::Daily { start, end } => (
                now.date_naive().and_time(start).and_utc(),
                now.date_naive().and_time(end).and_utc(),
            ),
        }
    }
}

fn truthy(s: &str) -> bool {
    !s.is_empty() && !s.eq_ignore_ascii_case("false") && s != "0"
}

impl FilterOp {
    fn test(&self, v: &str) -> bool {
        match self {
            FilterOp::EqualTo(x) => v == x,
            FilterOp::NotEqualTo(x) => v != x,
            FilterOp::In(xs) => xs.iter().any(|x| x == v),
            FilterOp::NotIn(xs) => !xs.iter().any(|x| x == v),
            FilterOp::IsTrue => truthy(v),
            FilterOp::IsFalse => !truthy(v),
            // The fields a filter reads are never null.
            FilterOp::IsNull => false,
            FilterOp::IsNotNull => true,
            FilterOp::StartsWith(x) => v.starts_with(x.as_str()),
            FilterOp::EndsWith(x) => v.ends_with(x.as_str()),
            FilterOp::Contains(x) => v.contains(x.as_str()),
        }
    }
}

impl UpstreamFlow {
    fn test(&self, e: &FinishedExecution) -> bool {
        e.namespace == self.namespace
            && self.flow_id.as_ref().is_none_or(|f| f == e.flow_id)
            && self.states.as_ref().is_none_or(|s| s.contains(&e.state))
            && self.labels.iter().all(|l| e.labels.contains(l))
    }
}

impl ExecutionFilter {
    fn test(&self, e: &FinishedExecution) -> bool {
        let one = |(field, op): &(FilterField, FilterOp)| {
            op.test(match field {
                FilterField::FlowId => e.flow_id,
                FilterField::Namespace => e.namespace,
                FilterField::State => e.state.as_str(),
            })
        };
        if self.any {
            self.filters.iter().any(one)
        } else {
            self.filters.iter().all(one)
        }
    }
}

impl Preconditions {
    /// The key of every precondition, `flows[i]` and `where[id]`.
    pub fn keys(&self) -> Vec<String> {
        (0..self.flows.len())
            .map(|i| format!("flows[{i}]"))
            .chain(self.filters.iter().map(|f| format!("where[{}]", f.id)))
            .collect()
    }

    /// The preconditions this execution meets, as keys.
    pub fn met_by(&self, e: &FinishedExecution) -> Vec<String> {
        let flows = self
            .flows
            .iter()
            .enumerate()
            .filter(|(_, f)| f.test(e))
            .map(|(i, _)| format!("flows[{i}]"));
        let filters = self
            .filters
            .iter()
            .filter(|f| f.test(e))
            .map(|f| format!("where[{}]", f.id));
        flows.chain(filters).collect()
    }

    /// Whether `met` (keys gathered within the current window) holds every precondition.
    pub fn complete(&self, met: &BTreeSet<String>) -> bool {
        self.keys().iter().all(|k| met.contains(k))
    }

    fn parse(p: &Props) -> Result<Preconditions, ScheduleError> {
        let sub = |key: &str, map| Props {
            trigger: p.trigger,
            path: p.at(key),
            map,
        };
        let mut flows = Vec::new();
        for (i, item) in p.list("flows")?.iter().enumerate() {
            let key = format!("flows[{i}]");
            let map = item
                .as_object()
                .ok_or_else(|| p.err(&key, "must be a map"))?;
            let f = sub(&key, map);
            flows.push(UpstreamFlow {
                namespace: f.str("namespace")?.to_string(),
                flow_id: f.opt_str("flowId")?.map(str::to_string),
                states: f.states("states")?,
                labels: f.labels("labels")?,
            });
        }
        let mut filters = Vec::new();
        for (i, item) in p.list("where")?.iter().enumerate() {
            let key = format!("where[{i}]");
            let map = item
                .as_object()
                .ok_or_else(|| p.err(&key, "must be a map"))?;
            let w = sub(&key, map);
            let any = match w.opt_str("operand")? {
                None => false,
                Some(o) if o.eq_ignore_ascii_case("AND") => false,
                Some(o) if o.eq_ignore_ascii_case("OR") => true,
                Some(o) => return Err(w.err("operand", format!("`{o}` is not AND or OR"))),
            };
            let mut list = Vec::new();
            for (j, f) in w.list("filters")?.iter().enumerate() {
                let key = format!("filters[{j}]");
                let map = f.as_object().ok_or_else(|| w.err(&key, "must be a map"))?;
                list.push(parse_filter(&Props {
                    trigger: p.trigger,
                    path: w.at(&key),
                    map,
                })?);
            }
            if list.is_empty() {
                return Err(w.err("filters", "must list at least one filter"));
            }
            filters.push(ExecutionFilter {
                id: w.str("id")?.to_string(),
                any,
                filters: list,
            });
        }
        if flows.is_empty() && filters.is_empty() {
            return Err(p.err("flows", "preconditions need `flows` or `where`"));
        }
        let time_window = match p.get("timeWindow") {
            None => TimeWindow::Duration {
                window: Duration::from_secs(86_400),
                advance: Duration::ZERO,
            },
            Some(Value::Object(map)) => parse_window(&sub("timeWindow", map))?,
            Some(_) => return Err(p.err("timeWindow", "must be a map")),
        };
        Ok(Preconditions {
            id: p.opt_str("id")?.map(str::to_string),
            flows,
            filters,
            time_window,
            reset_on_success: p.bool("resetOnSuccess", true)?,
        })
    }
}

fn parse_window(p: &Props) -> Result<TimeWindow, ScheduleError> {
    let time = |key: &str| -> Result<NaiveTime, ScheduleError> {
        let s = p.str(key)?;
        NaiveTime::parse_from_str(s, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .map_err(|_| p.err(key, format!("`{s}` is not a time like `09:00:00`")))
    };
    let window = p.duration("window")?.unwrap_or(Duration::from_secs(86_400));
    Ok(match p.opt_str("type")?.unwrap_or("DURATION_WINDOW") {
        "DURATION_WINDOW" => TimeWindow::Duration {
            window,
            advance: p.duration("windowAdvance")?.unwrap_or(Duration::ZERO),
        },
        "SLIDING_WINDOW" => TimeWindow::Sliding { window },
        "DAILY_TIME_DEADLINE" => TimeWindow::DailyDeadline {
            deadline: time("deadline")?,
        },
        "DAILY_TIME_WINDOW" => TimeWindow::Daily {
            start: time("startTime")?,
            end: time("endTime")?,
        },
        other => {
            return Err(p.err(
                "type",
                format!("`{other}` is not one of DURATION_WINDOW, SLIDING_WINDOW, DAILY_TIME_DEADLINE, DAILY_TIME_WINDOW"),
            ));
        }
    })
}

fn parse_filter(p: &Props) -> Result<(FilterField, FilterOp), ScheduleError> {
    let field = match p.str("field")? {
        "FLOW_ID" => FilterField::FlowId,
        "NAMESPACE" => FilterField::Namespace,
        "STATE" => FilterField::State,
        "EXPRESSION" => {
            return Err(p.err(
                "field",
                "EXPRESSION filters need templates, which weir does not evaluate here",
            ));
        }
        other => {
            return Err(p.err(
                "field",
                format!("`{other}` is not one of FLOW_ID, NAMESPACE, STATE"),
            ));
        }
    };
    let value = || p.str("value").map(str::to_string);
    let values = || {
        p.strings("values")
            .map(|v| v.into_iter().map(str::to_string).collect::<Vec<_>>())
    };
    let op = match p.str("type")? {
        "EQUAL_TO" => FilterOp::EqualTo(value()?),
        "NOT_EQUAL_TO" => FilterOp::NotEqualTo(value()?),
        "IN" => FilterOp::In(values()?),
        "NOT_IN" => FilterOp::NotIn(values()?),
        "IS_TRUE" => FilterOp::IsTrue,
        "IS_FALSE" => FilterOp::IsFalse,
        "IS_NULL" => FilterOp::IsNull,
        "IS_NOT_NULL" => FilterOp::IsNotNull,
        "STARTS_WITH" => FilterOp::StartsWith(value()?),
        "ENDS_WITH" => FilterOp::EndsWith(value()?),
        "CONTAINS" => FilterOp::Contains(value()?),
        "REGEX" => return Err(p.err("type", "REGEX filters are not supported by weir")),
        other => return Err(p.err("type", format!("`{other}` is not a filter type"))),
    };
    Ok((field, op))
}

impl FlowTrigger {
    pub(crate) fn parse(t: &Trigger) -> Result<FlowTrigger, ScheduleError> {
        let p = Props::new(&t.id, &t.props);
        let preconditions = match p.get("preconditions") {
            None => None,
            Some(Value::Object(map)) => Some(Preconditions::parse(&Props {
                trigger: &t.id,
                path: "preconditions".into(),
                map,
            })?),
            Some(_) => return Err(p.err("preconditions", "must be a map")),
        };
        Ok(FlowTrigger {
            id: t.id.clone(),
            disabled: t.disabled,
            inputs: p.object("inputs")?,
            labels: p.labels("labels")?,
            states: p.states("states")?.unwrap_or_else(|| {
                State::ALL
                    .into_iter()
                    .filter(|s| s.is_terminated())
                    .collect()
            }),
            conditions: Condition::parse_list(&p, "conditions", Scope::Execution)?,
            preconditions,
        })
    }

    /// Whether the execution passes the trigger's own filters (`states`, then `conditions`) and,
    /// when there are preconditions, meets at least one of them. With one precondition that is
    /// enough to fire; with several, the scheduler gathers `Preconditions::met_by` within the
    /// time window until `Preconditions::complete`.
    pub fn matches(&self, e: &FinishedExecution) -> bool {
        self.states.contains(&e.state)
            && self.conditions.iter().all(|c| c.test_execution(e))
            && self
                .preconditions
                .as_ref()
                .is_none_or(|p| !p.met_by(e).is_empty())
    }

    /// Whether this execution alone fires the trigger (no preconditions, or a single one).
    pub fn fires_alone(&self, e: &FinishedExecution) -> bool {
        self.matches(e)
            && self
                .preconditions
                .as_ref()
                .is_none_or(|p| p.complete(&p.met_by(e).into_iter().collect()))
    }

    /// `trigger.*` for the execution this one starts: `executionId`, `namespace`, `flowId`,
    /// `flowRevision`, `state`, `executionLabels` (nested on dots, without
    /// `system.correlationId`) and `outputs` (when the upstream flow has some).
    pub fn variables(&self, e: &FinishedExecution) -> Value {
        let mut labels = Map::new();
        for (k, v) in e.labels {
            if k != "system.correlationId" {
                insert_nested(&mut labels, k, v);
            }
        }
        let mut m = Map::new();
        m.insert("executionId".into(), e.id.into());
        m.insert("executionLabels".into(), Value::Object(labels));
        m.insert("namespace".into(), e.namespace.into());
        m.insert("flowId".into(), e.flow_id.into());
        m.insert("flowRevision".into(), e.flow_revision.into());
        m.insert("state".into(), e.state.as_str().into());
        if !e.outputs.is_null() {
            m.insert("outputs".into(), e.outputs.clone());
        }
        Value::Object(m)
    }
}

/// `a.b: x` as `{"a": {"b": "x"}}`, as Kestra's `Label.toNestedMap`; a key that is both a value
/// and a prefix keeps the value.
fn insert_nested(m: &mut Map<String, Value>, key: &str, value: &str) {
    match key.split_once('.') {
        None => {
            m.insert(key.to_string(), value.into());
        }
        Some((head, rest)) => {
            let entry = m
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_nested(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::trigger;
    use serde_json::json;

    fn flow_trigger(props: Value) -> Result<FlowTrigger, ScheduleError> {
        FlowTrigger::parse(&trigger("io.kestra.plugin.core.trigger.Flow", props))
    }

    fn exec<'a>(
        ns: &'a str,
        flow: &'a str,
        state: State,
        labels: &'a [(String, String)],
    ) -> FinishedExecution<'a> {
        static NULL: Value = Value::Null;
        FinishedExecution {
            id: "e1",
            namespace: ns,
            flow_id: flow,
            flow_revision: 3,
            state,
            labels,
            outputs: &NULL,
        }
    }

    #[test]
    fn default_states_are_terminal() {
        let t = flow_trigger(json!({})).unwrap();
        assert!(t.matches(&exec("a", "b", State::Success, &[])));
        assert!(t.matches(&exec("a", "b", State::Failed, &[])));
        assert!(!t.matches(&exec("a", "b", State::Running, &[])));
    }

    #[test]
    fn states_and_execution_flow() {
        let t = flow_trigger(json!({
            "states": ["FAILED", "WARNING", "PAUSED"],
            "conditions": [{"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "company.team", "flowId": "extract"}]
        }))
        .unwrap();
        assert!(t.matches(&exec("company.team", "extract", State::Failed, &[])));
        assert!(!t.matches(&exec("company.team", "extract", State::Success, &[])));
        assert!(!t.matches(&exec("company.team", "load", State::Failed, &[])));
        assert!(!t.matches(&exec("company", "extract", State::Failed, &[])));
    }

    #[test]
    fn namespace_status_labels_conditions() {
        let t = flow_trigger(json!({
            "conditions": [
                {"type": "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition", "namespace": "company", "prefix": true},
                {"type": "io.kestra.plugin.core.condition.ExecutionStatus", "in": ["SUCCESS", "WARNING"]},
                {"type": "io.kestra.plugin.core.condition.ExecutionLabels", "labels": {"env": "prod"}},
            ]
        }))
        .unwrap();
        let prod = [("env".to_string(), "prod".to_string())];
        assert!(t.matches(&exec("company.team", "x", State::Success, &prod)));
        assert!(!t.matches(&exec("company.team", "x", State::Success, &[])));
        assert!(!t.matches(&exec("company.team", "x", State::Failed, &prod)));
        assert!(!t.matches(&exec("other", "x", State::Success, &prod)));
        let err = flow_trigger(
            json!({"conditions": [{"type": "io.kestra.plugin.core.condition.Weekend"}]}),
        )
        .unwrap_err();
        assert_eq!(err.property, "conditions[0].type");
    }

    #[test]
    fn preconditions() {
        let t = flow_trigger(json!({
            "preconditions": {
                "id": "both",
                "flows": [
                    {"namespace": "company.team", "flowId": "a", "states": ["SUCCESS"]},
                    {"namespace": "company.team", "flowId": "b"}
                ],
                "where": [{"id": "not_dev", "filters": [{"field": "NAMESPACE", "type": "STARTS_WITH", "value": "company"}]}],
                "timeWindow": {"type": "SLIDING_WINDOW", "window": "PT1H"}
            }
        }))
        .unwrap();
        let p = t.preconditions.as_ref().unwrap();
        let a = exec("company.team", "a", State::Success, &[]);
        assert!(t.matches(&a));
        assert!(!t.fires_alone(&a));
        let mut met: BTreeSet<String> = p.met_by(&a).into_iter().collect();
        assert_eq!(
            met,
            BTreeSet::from(["flows[0]".to_string(), "where[not_dev]".to_string()])
        );
        assert!(!p.complete(&met));
        met.extend(p.met_by(&exec("company.team", "b", State::Failed, &[])));
        assert!(p.complete(&met));
        let now: DateTime<Utc> = "2024-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(p.time_window.bounds(now).0, now - TimeDelta::hours(1));

        let single = flow_trigger(json!({"preconditions": {"id": "x", "flows": [{"namespace": "n", "flowId": "f", "states": ["SUCCESS"]}]}}))
            .unwrap();
        assert!(single.fires_alone(&exec("n", "f", State::Success, &[])));
        assert!(!single.matches(&exec("n", "f", State::Failed, &[])));
        let day = single.preconditions.unwrap().time_window.bounds(now);
        assert_eq!(day.1 - day.0, TimeDelta::days(1));
    }

    #[test]
    fn variables() {
        let labels = [
            ("team".to_string(), "data".to_string()),
            ("system.correlationId".to_string(), "e0".to_string()),
        ];
        let outputs = json!({"date": "2025-01-01"});
        let e = FinishedExecution {
            outputs: &outputs,
            ..exec("company.team", "extract", State::Success, &labels)
        };
        let t = flow_trigger(json!({"inputs": {"date": "{{ trigger.outputs.date }}"}})).unwrap();
        assert_eq!(
            t.variables(&e),
            json!({
                "executionId": "e1",
                "executionLabels": {"team": "data"},
                "namespace": "company.team",
                "flowId": "extract",
                "flowRevision": 3,
                "state": "SUCCESS",
                "outputs": {"date": "2025-01-01"}
            })
        );
    }
}
