//! Kestra's trigger conditions that need no data beyond the date being scheduled or the
//! execution that finished: calendar conditions for schedules, execution conditions for Flow
//! triggers, and `Not`/`Or` over either.

use crate::ScheduleError;
use crate::flow::FinishedExecution;
use crate::props::Props;
use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Offset, TimeZone, Timelike, Weekday};
use serde_json::Value;
use weir_core::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayInMonth {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Equals,
    Prefix,
    Suffix,
}

/// A time of day with an offset (Java's `OffsetTime`): compared as Java does, by the instant on
/// a common day (the local time minus the offset, not wrapped around midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetTime {
    pub time: NaiveTime,
    pub offset: FixedOffset,
}

impl OffsetTime {
    fn key(&self) -> i64 {
        i64::from(self.time.num_seconds_from_midnight()) * 1_000_000_000
            + i64::from(self.time.nanosecond())
            - i64::from(self.offset.local_minus_utc()) * 1_000_000_000
    }

    fn parse(s: &str) -> Option<OffsetTime> {
        let s = s.trim();
        let (time, offset) = if let Some(t) = s.strip_suffix('Z') {
            (t, FixedOffset::east_opt(0)?)
        } else {
            let at = s.rfind(['+', '-'])?;
            let (t, o) = s.split_at(at);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let o = &o[1..];
            let (h, m) = o.split_once(':').unwrap_or((o, "0"));
            let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
            (t, FixedOffset::east_opt(sign * secs)?)
        };
        let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
            .ok()?;
        Some(OffsetTime { time, offset })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    DayWeek(Weekday),
    DayWeekInMonth {
        day: Weekday,
        nth: DayInMonth,
    },
    Weekend,
    /// Both bounds inclusive.
    DateTimeBetween {
        after: Option<DateTime<FixedOffset>>,
        before: Option<DateTime<FixedOffset>>,
    },
    /// Both bounds exclusive.
    TimeBetween {
        after: Option<OffsetTime>,
        before: Option<OffsetTime>,
    },
    ExecutionFlow {
        namespace: String,
        flow_id: String,
    },
    ExecutionNamespace {
        namespace: String,
        comparison: Comparison,
    },
    ExecutionStatus {
        in_states: Option<Vec<State>>,
        not_in: Option<Vec<State>>,
    },
    ExecutionLabels(Vec<(String, String)>),
    /// True when none of its conditions is.
    Not(Vec<Condition>),
    /// True when any of its conditions is.
    Or(Vec<Condition>),
}

/// What a condition may look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The date being scheduled (`trigger.date`).
    Date,
    /// The execution that changed state.
    Execution,
}

const PREFIXES: &[&str] = &[
    "io.kestra.plugin.core.condition.",
    "io.kestra.core.models.conditions.types.",
];

/// The condition's short name: `DayWeek` for every spelling of it.
fn short_name(type_name: &str) -> Option<&str> {
    let rest = PREFIXES.iter().find_map(|p| type_name.strip_prefix(p))?;
    Some(rest.strip_suffix("Condition").unwrap_or(rest))
}

fn weekday(p: &Props, key: &str) -> Result<Weekday, ScheduleError> {
    let s = p.literal(key)?.ok_or_else(|| p.err(key, "is required"))?;
    match s.to_ascii_uppercase().as_str() {
        "MONDAY" => Ok(Weekday::Mon),
        "TUESDAY" => Ok(Weekday::Tue),
        "WEDNESDAY" => Ok(Weekday::Wed),
        "THURSDAY" => Ok(Weekday::Thu),
        "FRIDAY" => Ok(Weekday::Fri),
        "SATURDAY" => Ok(Weekday::Sat),
        "SUNDAY" => Ok(Weekday::Sun),
        _ => Err(p.err(
            key,
            format!("`{s}` is not a day of the week (MONDAY … SUNDAY)"),
        )),
    }
}

impl Condition {
    /// Parses `conditions` (a list of `{type, …}`) for a trigger whose conditions see `scope`.
    pub(crate) fn parse_list(
        p: &Props,
        key: &str,
        scope: Scope,
    ) -> Result<Vec<Condition>, ScheduleError> {
        p.list(key)?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let path = format!("{}[{i}]", p.at(key));
                let Value::Object(map) = item else {
                    return Err(ScheduleError {
                        trigger: p.trigger.to_string(),
                        property: path,
                        message: "must be a map with a `type`".into(),
                    });
                };
                let inner = Props {
                    trigger: p.trigger,
                    path,
                    map,
                };
                Condition::parse(&inner, scope)
            })
            .collect()
    }

    fn parse(p: &Props, scope: Scope) -> Result<Condition, ScheduleError> {
        let ty = p.str("type")?;
        let Some(name) = short_name(ty) else {
            return Err(p.err("type", format!("unknown condition type `{ty}`")));
        };
        let date_scoped = matches!(
            name,
            "DayWeek" | "DayWeekInMonth" | "Weekend" | "DateTimeBetween" | "TimeBetween"
        );
        if date_scoped {
            if scope != Scope::Date {
                return Err(p.err(
                    "type",
                    format!("`{ty}` tests `trigger.date`, which only Schedule triggers have"),
                ));
            }
            if let Some(date) = p.opt_str("date")?
                && date.split_whitespace().collect::<String>() != "{{trigger.date}}"
            {
                return Err(p.err(
                    "date",
                    format!(
                        "weir tests only the scheduled date (`{{{{ trigger.date }}}}`), templated dates like `{date}` are not supported"
                    ),
                ));
            }
        }
        let execution_scoped = name.starts_with("Execution");
        if execution_scoped && scope != Scope::Execution {
            return Err(p.err(
                "type",
                format!("`{ty}` tests an execution, which only Flow triggers have"),
            ));
        }
        Ok(match name {
            "DayWeek" => Condition::DayWeek(weekday(p, "dayOfWeek")?),
            "DayWeekInMonth" => {
                let nth = p
                    .literal("dayInMonth")?
                    .ok_or_else(|| p.err("dayInMonth", "is required"))?;
                let nth = match nth.to_ascii_uppercase().as_str() {
                    "FIRST" => DayInMonth::First,
                    "SECOND" => DayInMonth::Second,
                    "THIRD" => DayInMonth::Third,
                    "FOURTH" => DayInMonth::Fourth,
                    "LAST" => DayInMonth::Last,
                    _ => {
                        return Err(p.err(
                            "dayInMonth",
                            format!("`{nth}` is not one of FIRST, SECOND, THIRD, FOURTH, LAST"),
                        ));
                    }
                };
                Condition::DayWeekInMonth {
                    day: weekday(p, "dayOfWeek")?,
                    nth,
                }
            }
            "Weekend" => Condition::Weekend,
            "DateTimeBetween" => {
                let bound = |key: &str| -> Result<_, ScheduleError> {
                    p.literal(key)?
                        .map(|s| {
                            DateTime::parse_from_rfc3339(s).map_err(|e| {
                                p.err(
                                    key,
                                    format!(
                                        "`{s}` is not an ISO-8601 date-time with an offset: {e}"
                                    ),
                                )
                            })
                        })
                        .transpose()
                };
                let (after, before) = (bound("after")?, bound("before")?);
                if after.is_none() && before.is_none() {
                    return Err(p.err("after", "`after` or `before` is required"));
                }
                Condition::DateTimeBetween { after, before }
            }
            "TimeBetween" => {
                let bound = |key: &str| -> Result<_, ScheduleError> {
                    p.literal(key)?
                        .map(|s| {
                            OffsetTime::parse(s).ok_or_else(|| {
                                p.err(
                                    key,
                                    format!("`{s}` is not a time with an offset like `16:00:00+02:00` or `09:30:00Z`"),
                                )
                            })
                        })
                        .transpose()
                };
                let (after, before) = (bound("after")?, bound("before")?);
                if after.is_none() && before.is_none() {
                    return Err(p.err("after", "`after` or `before` is required"));
                }
                Condition::TimeBetween { after, before }
            }
            "ExecutionFlow" => Condition::ExecutionFlow {
                namespace: p.str("namespace")?.to_string(),
                flow_id: p.str("flowId")?.to_string(),
            },
            "ExecutionNamespace" => {
                let comparison = match p.opt_str("comparison")? {
                    None if p.bool("prefix", false)? => Comparison::Prefix,
                    None => Comparison::Equals,
                    Some(c) => match c.to_ascii_uppercase().as_str() {
                        "EQUALS" => Comparison::Equals,
                        "PREFIX" => Comparison::Prefix,
                        "SUFFIX" => Comparison::Suffix,
                        _ => {
                            return Err(p.err(
                                "comparison",
                                format!("`{c}` is not one of EQUALS, PREFIX, SUFFIX"),
                            ));
                        }
                    },
                };
                Condition::ExecutionNamespace {
                    namespace: p.str("namespace")?.to_string(),
                    comparison,
                }
            }
            "ExecutionStatus" => Condition::ExecutionStatus {
                in_states: p.states("in")?,
                not_in: p.states("notIn")?,
            },
            "ExecutionLabels" => {
                if p.get("labels").is_none() {
                    return Err(p.err("labels", "is required"));
                }
                Condition::ExecutionLabels(p.labels("labels")?)
            }
            "Not" | "Or" => {
                let inner = Condition::parse_list(p, "conditions", scope)?;
                if inner.is_empty() {
                    return Err(p.err("conditions", "must list at least one condition"));
                }
                if name == "Not" {
                    Condition::Not(inner)
                } else {
                    Condition::Or(inner)
                }
            }
            _ => {
                return Err(p.err(
                    "type",
                    format!("weir does not support condition type `{ty}` here"),
                ));
            }
        })
    }

    /// Whether the scheduled `date` (in the trigger's time zone) passes.
    pub fn test_date<Tz: TimeZone>(&self, date: &DateTime<Tz>) -> bool {
        match self {
            Condition::DayWeek(d) => date.weekday() == *d,
            Condition::DayWeekInMonth { day, nth } => {
                let d = date.date_naive();
                if d.weekday() != *day {
                    return false;
                }
                let week = (d.day() - 1) / 7; // 0 for days 1–7, the first of its weekday
                match nth {
                    DayInMonth::First => week == 0,
                    DayInMonth::Second => week == 1,
                    DayInMonth::Third => week == 2,
                    DayInMonth::Fourth => week == 3,
                    DayInMonth::Last => (d + chrono::Days::new(7)).month() != d.month(),
                }
            }
            Condition::Weekend => matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
            Condition::DateTimeBetween { after, before } => {
                let t = date.fixed_offset();
                after.is_none_or(|a| t >= a) && before.is_none_or(|b| t <= b)
            }
            Condition::TimeBetween { after, before } => {
                let now = OffsetTime {
                    time: date.time(),
                    offset: date.offset().fix(),
                };
                after.is_none_or(|a| now.key() > a.key())
                    && before.is_none_or(|b| now.key() < b.key())
            }
            Condition::Not(cs) => !cs.iter().any(|c| c.test_date(date)),
            Condition::Or(cs) => cs.iter().any(|c| c.test_date(date)),
            // Parsing keeps execution conditions out of schedules.
            _ => true,
        }
    }

    /// Whether the execution that changed state passes.
    pub fn test_execution(&self, e: &FinishedExecution) -> bool {
        match self {
            Condition::ExecutionFlow { namespace, flow_id } => {
                e.namespace == namespace && e.flow_id == flow_id
            }
            Condition::ExecutionNamespace {
                namespace,
                comparison,
            } => match comparison {
                Comparison::Equals => e.namespace == namespace,
                Comparison::Prefix => e.namespace.starts_with(namespace.as_str()),
                Comparison::Suffix => e.namespace.ends_with(namespace.as_str()),
            },
            Condition::ExecutionStatus { in_states, not_in } => {
                in_states.as_ref().is_none_or(|s| s.contains(&e.state))
                    && not_in.as_ref().is_none_or(|s| !s.contains(&e.state))
            }
            Condition::ExecutionLabels(labels) => labels.iter().all(|l| e.labels.contains(l)),
            Condition::Not(cs) => !cs.iter().any(|c| c.test_execution(e)),
            Condition::Or(cs) => cs.iter().any(|c| c.test_execution(e)),
            // Parsing keeps calendar conditions out of Flow triggers.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    fn parse(v: Value, scope: Scope) -> Result<Condition, ScheduleError> {
        let map = json!({ "conditions": [v] });
        let map = map.as_object().unwrap();
        let p = Props::new("t", map);
        Condition::parse_list(&p, "conditions", scope).map(|mut v| v.remove(0))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn day_week_in_month() {
        let c = parse(
            json!({"type": "io.kestra.plugin.core.condition.DayWeekInMonth", "dayOfWeek": "MONDAY", "dayInMonth": "FIRST", "date": "{{ trigger.date }}"}),
            Scope::Date,
        )
        .unwrap();
        assert!(c.test_date(&at("2024-01-01T11:00:00Z")));
        assert!(!c.test_date(&at("2024-01-08T11:00:00Z")));
        let last = parse(
            json!({"type": "io.kestra.core.models.conditions.types.DayWeekInMonthCondition", "dayOfWeek": "FRIDAY", "dayInMonth": "LAST"}),
            Scope::Date,
        )
        .unwrap();
        assert!(last.test_date(&at("2024-05-31T00:00:00Z")));
        assert!(!last.test_date(&at("2024-05-24T00:00:00Z")));
    }

    #[test]
    fn between_bounds() {
        let c = parse(
            json!({"type": "io.kestra.plugin.core.condition.DateTimeBetween", "after": "2025-01-01T00:00:00Z", "before": "2025-01-31T00:00:00+01:00"}),
            Scope::Date,
        )
        .unwrap();
        assert!(
            c.test_date(&at("2025-01-01T00:00:00Z")),
            "after is inclusive"
        );
        assert!(
            c.test_date(&at("2025-01-30T23:00:00Z")),
            "before is inclusive"
        );
        assert!(!c.test_date(&at("2025-01-30T23:00:01Z")));
        let t = parse(
            json!({"type": "io.kestra.plugin.core.condition.TimeBetween", "after": "16:00:00+02:00", "before": "20:00:00+02:00"}),
            Scope::Date,
        )
        .unwrap();
        assert!(t.test_date(&at("2025-06-01T15:00:00Z")));
        assert!(
            !t.test_date(&at("2025-06-01T14:00:00Z")),
            "after is exclusive"
        );
        assert!(!t.test_date(&at("2025-06-01T19:00:00Z")));
    }

    #[test]
    fn not_and_or() {
        let c = parse(
            json!({"type": "io.kestra.plugin.core.condition.Not", "conditions": [
                {"type": "io.kestra.plugin.core.condition.Or", "conditions": [
                    {"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "SUNDAY"},
                    {"type": "io.kestra.plugin.core.condition.Weekend"}
                ]}
            ]}),
            Scope::Date,
        )
        .unwrap();
        assert!(c.test_date(&at("2024-06-07T00:00:00Z"))); // a Friday
        assert!(!c.test_date(&at("2024-06-08T00:00:00Z"))); // a Saturday
    }

    #[test]
    fn errors_name_the_property() {
        let e = parse(
            json!({"type": "io.kestra.plugin.core.condition.DayWeek", "dayOfWeek": "MONDAY", "date": "{{ execution.startDate }}"}),
            Scope::Date,
        )
        .unwrap_err();
        assert_eq!(e.property, "conditions[0].date");
        assert!(e.message.contains("not supported"), "{e}");
        let e = parse(
            json!({"type": "io.kestra.plugin.core.condition.PublicHoliday"}),
            Scope::Date,
        )
        .unwrap_err();
        assert!(e.message.contains("PublicHoliday"), "{e}");
        let e = parse(json!({"type": "com.example.Nope"}), Scope::Date).unwrap_err();
        assert_eq!(
            e.to_string(),
            "trigger `t`, property `conditions[0].type`: unknown condition type `com.example.Nope`"
        );
        let e = parse(
            json!({"type": "io.kestra.plugin.core.condition.ExecutionFlow", "namespace": "a", "flowId": "b"}),
            Scope::Date,
        )
        .unwrap_err();
        assert!(e.message.contains("only Flow triggers"), "{e}");
    }
}
