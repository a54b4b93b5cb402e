//! Flow triggers with Kestra's semantics: a validated `weir_flow::Trigger` turned into a typed
//! `Schedule`, `FlowTrigger` or `Webhook`, and the pure questions a scheduler asks of them (which
//! dates are due, does this finished execution match, what does `trigger.*` hold).
//!
//! Invariant: no I/O, no async, no clock reads; "now" is always a parameter.

mod condition;
mod flow;
mod props;
mod schedule;
mod webhook;

pub use condition::{Comparison, Condition, DayInMonth, OffsetTime};
pub use flow::{
    ExecutionFilter, FilterField, FilterOp, FinishedExecution, FlowTrigger, Preconditions,
    TimeWindow, UpstreamFlow,
};
pub use schedule::{Due, MAX_DATES, ON_TIME_GRACE, Recover, Schedule};
pub use webhook::Webhook;

use weir_flow::{Flow, Trigger};

pub const SCHEDULE: &str = "io.kestra.plugin.core.trigger.Schedule";
pub const FLOW: &str = "io.kestra.plugin.core.trigger.Flow";
pub const WEBHOOK: &str = "io.kestra.plugin.core.trigger.Webhook";

/// A trigger that cannot be used as written. The message names the trigger and the property.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trigger `{trigger}`, property `{property}`: {message}")]
pub struct ScheduleError {
    pub trigger: String,
    /// The property at fault, as a path (`conditions[0].dayOfWeek`); `type` for an unknown type.
    pub property: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub enum TriggerDef {
    Schedule(Schedule),
    Flow(FlowTrigger),
    Webhook(Webhook),
}

impl TriggerDef {
    pub fn id(&self) -> &str {
        match self {
            TriggerDef::Schedule(s) => &s.id,
            TriggerDef::Flow(f) => &f.id,
            TriggerDef::Webhook(w) => &w.id,
        }
    }

    pub fn disabled(&self) -> bool {
        match self {
            TriggerDef::Schedule(s) => s.disabled,
            TriggerDef::Flow(f) => f.disabled,
            TriggerDef::Webhook(w) => w.disabled,
        }
    }
}

/// Types one trigger. `t.type_name` is the canonical name the validator leaves there; the older
/// `io.kestra.core.models.triggers.types.*` names are accepted too.
pub fn parse_trigger(t: &Trigger) -> Result<TriggerDef, ScheduleError> {
    let canonical = t.type_name.replace(
        "io.kestra.core.models.triggers.types.",
        "io.kestra.plugin.core.trigger.",
    );
    match canonical.as_str() {
        SCHEDULE => Schedule::parse(t).map(TriggerDef::Schedule),
        FLOW => FlowTrigger::parse(t).map(TriggerDef::Flow),
        WEBHOOK => Webhook::parse(t).map(TriggerDef::Webhook),
        other => Err(ScheduleError {
            trigger: t.id.clone(),
            property: "type".into(),
            message: format!("weir does not run `{other}` triggers"),
        }),
    }
}

/// Every trigger of a flow, in order, each typed or with the reason it cannot be.
pub fn triggers_of(flow: &Flow) -> Vec<(String, Result<TriggerDef, ScheduleError>)> {
    flow.triggers
        .iter()
        .map(|t| (t.id.clone(), parse_trigger(t)))
        .collect()
}

#[cfg(test)]
pub(crate) mod test_support {
    use serde_json::Value;
    use weir_flow::yaml::Pos;
    use weir_flow::{JsonMap, Trigger};

    /// A trigger as the validator leaves it: `id`, `type` and `disabled` taken out of `props`.
    pub fn trigger(type_name: &str, props: Value) -> Trigger {
        let Value::Object(mut props) = props else {
            panic!("props must be an object")
        };
        let disabled = props
            .remove("disabled")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        Trigger {
            id: "t".into(),
            type_name: type_name.into(),
            disabled,
            props: JsonMap::from_iter(props),
            pos: Pos { line: 1, column: 1 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use test_support::trigger;

    #[test]
    fn unknown_type_names_the_type() {
        let err =
            parse_trigger(&trigger("io.kestra.plugin.core.trigger.Nope", json!({}))).unwrap_err();
        assert_eq!(err.property, "type");
        assert!(err.to_string().contains("trigger `t`"), "{err}");
    }

    #[test]
    fn old_type_names_are_accepted() {
        let t = trigger(
            "io.kestra.core.models.triggers.types.Schedule",
            json!({"cron": "@daily", "disabled": true}),
        );
        let def = parse_trigger(&t).unwrap();
        assert!(matches!(def, TriggerDef::Schedule(_)));
        assert!(def.disabled());
        assert_eq!(def.id(), "t");
    }
}
