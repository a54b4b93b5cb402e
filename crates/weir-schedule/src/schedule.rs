//! The Schedule trigger: a cron expression in a time zone, filtered by calendar conditions, and
//! what a scheduler must start after a pause (`recoverMissedSchedules`, `lateMaximumDelay`).

use crate::ScheduleError;
use crate::condition::{Condition, Scope};
use crate::props::Props;
use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde_json::{Map, Value};
use std::time::Duration;
use weir_core::State;
use weir_flow::Trigger;

/// At most this many dates from `dates_between`, and from one `due` call.
pub const MAX_DATES: usize = 100_000;

/// A date at most this old when `due` first sees it is on time, not missed: the scheduler is taken
/// to have been running when it came. `recoverMissedSchedules` applies only to older ones.
pub const ON_TIME_GRACE: Duration = Duration::from_secs(60);

/// How far `next_after`/`previous_before` look for a date the conditions accept (Kestra: ten
/// years), and how many rejected dates they try before giving up.
const CONDITION_SEARCH_YEARS: i64 = 10;
const CONDITION_SEARCH_TRIES: usize = 100_000;

/// `recoverMissedSchedules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recover {
    /// Every missed date, oldest first (Kestra's default).
    All,
    /// Only the latest missed date.
    Last,
    /// None of the missed dates.
    None,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub id: String,
    pub disabled: bool,
    /// The expression as written (`0 9 * * *`, `@daily`).
    pub cron: String,
    pub with_seconds: bool,
    /// `timezone`, UTC when not set.
    pub timezone: Tz,
    /// Unrendered, as written: the scheduler renders them.
    pub inputs: Map<String, Value>,
    pub labels: Vec<(String, String)>,
    pub recover: Recover,
    pub late_maximum_delay: Option<Duration>,
    /// After an execution of this trigger ends in one of these states, the trigger is disabled.
    pub stop_after: Vec<State>,
    /// `conditions` and `scheduleConditions`, all of which must accept a date.
    pub conditions: Vec<Condition>,
    parsed: Box<Cron>,
}

/// What the scheduler must do now; see `Schedule::due`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Dates to start executions for, oldest first.
    pub run: Vec<DateTime<Utc>>,
    /// Dates that came and will not run (missed and not recovered, or later than
    /// `lateMaximumDelay`).
    pub skipped: usize,
    /// The last date dealt with (run or skipped): persist it and pass it as `last` next time.
    pub new_last: DateTime<Utc>,
    /// The backlog held more than `MAX_DATES` dates: call `due` again with `new_last`.
    pub more: bool,
    /// The first date after `new_last`, to sleep until; `None` if the schedule never fires again.
    pub next: Option<DateTime<Utc>>,
}

impl Schedule {
    pub(crate) fn parse(t: &Trigger) -> Result<Schedule, ScheduleError> {
        let p = Props::new(&t.id, &t.props);
        let cron = p.str("cron")?.trim().to_string();
        let with_seconds = p.bool("withSeconds", false)?;
        let parser = CronParser::builder()
            .seconds(if with_seconds {
                Seconds::Required
            } else {
                Seconds::Disallowed
            })
            .year(Year::Disallowed)
            .build();
        let fields = cron.split_whitespace().count();
        let expected = if with_seconds { 6 } else { 5 };
        if !cron.starts_with('@') && fields != expected {
            return Err(p.err(
                "cron",
                format!("`{cron}` has {fields} fields, expected {expected}"),
            ));
        }
        if cron.starts_with('@')
            && !matches!(
                cron.to_ascii_lowercase().as_str(),
                "@yearly"
                    | "@annually"
                    | "@monthly"
                    | "@weekly"
                    | "@daily"
                    | "@midnight"
                    | "@hourly"
            )
        {
            return Err(p.err(
                "cron",
                format!("`{cron}` is not one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly"),
            ));
        }
        let parsed = parser
            .parse(&expand_nickname(&cron, with_seconds))
            .map_err(|e| {
                p.err(
                    "cron",
                    format!("`{cron}` is not a valid cron expression: {e}"),
                )
            })?;
        let timezone = match p.opt_str("timezone")? {
            None => Tz::UTC,
            Some(name) => name
                .parse::<Tz>()
                .map_err(|_| p.err("timezone", format!("`{name}` is not an IANA time zone")))?,
        };
        let recover = match p.opt_str("recoverMissedSchedules")? {
            None => Recover::All,
            Some(s) => match s.to_ascii_uppercase().as_str() {
                "ALL" => Recover::All,
                "LAST" => Recover::Last,
                "NONE" => Recover::None,
                _ => {
                    return Err(p.err(
                        "recoverMissedSchedules",
                        format!("`{s}` is not one of ALL, LAST, NONE"),
                    ));
                }
            },
        };
        let mut conditions = Condition::parse_list(&p, "conditions", Scope::Date)?;
        conditions.extend(Condition::parse_list(
            &p,
            "scheduleConditions",
            Scope::Date,
        )?);
        if p.get("backfill").is_some() {
            return Err(p.err(
                "backfill",
                "is deprecated in Kestra and not supported by weir; backfill from the command line instead",
            ));
        }
        let schedule = Schedule {
            id: t.id.clone(),
            disabled: t.disabled,
            cron,
            with_seconds,
            timezone,
            inputs: p.object("inputs")?,
            labels: p.labels("labels")?,
            recover,
            late_maximum_delay: p.duration("lateMaximumDelay")?,
            stop_after: p.states("stopAfter")?.unwrap_or_default(),
            conditions,
            parsed: Box::new(parsed),
        };
        Ok(schedule)
    }

    /// The cron alone, one step from `t` (no conditions). Sub-second parts are ignored as Kestra
    /// truncates dates to seconds; the result is strictly after (before) `t`.
    fn step(&self, t: DateTime<Utc>, forward: bool) -> Option<DateTime<Utc>> {
        let whole = t.trunc_subsecs(0);
        let local = whole.with_timezone(&self.timezone);
        let found = if forward {
            self.parsed.find_next_occurrence(&local, false)
        } else {
            // `whole` < `t` when `t` had a fraction: `whole` itself is then before `t`.
            self.parsed.find_previous_occurrence(&local, whole < t)
        };
        found.ok().map(|d| d.with_timezone(&Utc))
    }

    fn accepts(&self, d: DateTime<Utc>) -> bool {
        let local = d.with_timezone(&self.timezone);
        self.conditions.iter().all(|c| c.test_date(&local))
    }

    fn search(&self, t: DateTime<Utc>, forward: bool) -> Option<DateTime<Utc>> {
        let first = self.step(t, forward)?;
        if self.conditions.is_empty() {
            return Some(first);
        }
        let span = TimeDelta::days(366 * CONDITION_SEARCH_YEARS);
        let limit = if forward {
            t.checked_add_signed(span)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        } else {
            t.checked_sub_signed(span)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let mut d = first;
        for _ in 0..CONDITION_SEARCH_TRIES {
            if (forward && d > limit) || (!forward && d < limit) {
                return None;
            }
            if self.accepts(d) {
                return Some(d);
            }
            d = self.step(d, forward)?;
        }
        None
    }

    /// The first date strictly after `t` that the cron gives and the conditions accept. With
    /// conditions, the search stops after ten years or 100 000 rejected dates (`None`).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.search(t, true)
    }

    /// The last date strictly before `t`, as `next_after` in reverse.
    pub fn previous_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.search(t, false)
    }

    /// Every date in `[from, to]`, oldest first. More than `MAX_DATES` is an error.
    pub fn dates_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, ScheduleError> {
        let mut out = Vec::new();
        let mut cursor = from - TimeDelta::nanoseconds(1);
        while let Some(d) = self.next_after(cursor).filter(|d| *d <= to) {
            if out.len() == MAX_DATES {
                return Err(ScheduleError {
                    trigger: self.id.clone(),
                    property: "cron".into(),
                    message: format!(
                        "`{}` gives more than {MAX_DATES} dates between {from} and {to}",
                        self.cron
                    ),
                });
            }
            out.push(d);
            cursor = d;
        }
        Ok(out)
    }

    /// What to start now, given the last date dealt with (persisted by the scheduler) and `now`.
    /// When the trigger has never run, pass the time it was first seen as `last`: nothing before
    /// it is missed.
    ///
    /// Dates in `(last, now]` older than `ON_TIME_GRACE` are missed: `recoverMissedSchedules`
    /// decides which of them run (ALL: every one, LAST: the latest, and only when no date is on
    /// time, NONE: none). Then any date older than `now - lateMaximumDelay` is skipped too.
    pub fn due(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Due {
        self.due_with_grace(last, now, ON_TIME_GRACE)
    }

    /// `due` with another boundary between on time and missed (`Duration::ZERO` when the
    /// scheduler knows it has just started, so every past date is missed).
    pub fn due_with_grace(&self, last: DateTime<Utc>, now: DateTime<Utc>, grace: Duration) -> Due {
        let mut dates = Vec::new();
        let mut cursor = last;
        let mut more = false;
        while let Some(d) = self.next_after(cursor).filter(|d| *d <= now) {
            if dates.len() == MAX_DATES {
                more = true;
                break;
            }
            dates.push(d);
            cursor = d;
        }
        let new_last = dates.last().copied().unwrap_or(last);
        let on_time_from = now
            .checked_sub_signed(TimeDelta::from_std(grace).unwrap_or(TimeDelta::MAX))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let missed = dates.partition_point(|d| *d < on_time_from);
        let any_on_time = missed < dates.len();
        let mut run: Vec<DateTime<Utc>> = match self.recover {
            Recover::All => dates.clone(),
            // The latest missed date is the latest date only when the backlog is complete and
            // nothing came on time.
            Recover::Last if missed > 0 && !any_on_time && !more => vec![dates[missed - 1]],
            Recover::Last | Recover::None => dates[missed..].to_vec(),
        };
        if let Some(delay) = self.late_maximum_delay {
            let delay = TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
            run.retain(|d| d.checked_add_signed(delay).is_none_or(|limit| limit >= now));
        }
        Due {
            skipped: dates.len() - run.len(),
            run,
            new_last,
            more,
            next: self.next_after(new_last),
        }
    }

    /// `trigger.*` for the execution scheduled at `date`: `date`, `next` and `previous` (the
    /// dates around it that the conditions accept, absent when there is none), as ISO-8601 in
    /// the trigger's time zone with its offset, whole seconds: `2021-01-01T09:00:00Z`,
    /// `2021-07-01T09:00:00+02:00`.
    pub fn variables(&self, date: DateTime<Utc>) -> Value {
        let fmt = |d: DateTime<Utc>| {
            Value::String(
                d.with_timezone(&self.timezone)
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
            )
        };
        let mut m = Map::new();
        m.insert("date".into(), fmt(date.trunc_subsecs(0)));
        if let Some(n) = self.next_after(date) {
            m.insert("next".into(), fmt(n));
        }
        if let Some(p) = self.previous_before(date.trunc_subsecs(0)) {
            m.insert("previous".into(), fmt(p));
        }
        Value::Object(m)
    }
}

/// Kestra's nicknames as plain expressions (croner lacks `@midnight`).
fn expand_nickname(cron: &str, with_seconds: bool) -> String {
    let plain = match cron.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return cron.to_string(),
    };
    if with_seconds {
        format!("0 {plain}")
    } else {
        plain.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::trigger;
    use serde_json::json;

    fn schedule(props: Value) -> Schedule {
        Schedule::parse(&trigger("io.kestra.plugin.core.trigger.Schedule", props)).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn check_next(props: Value, from: &str, expected: &[&str]) {
        let s = schedule(props);
        let mut t = at(from);
        for e in expected {
            t = s.next_after(t).unwrap();
            assert_eq!(t, at(e));
        }
    }

    #[test]
    fn monthly() {
        check_next(
            json!({"cron": "0 9 1 * *"}),
            "2021-01-15T00:00:00Z",
            &[
                "2021-02-01T09:00:00Z",
                "2021-03-01T09:00:00Z",
                "2021-04-01T09:00:00Z",
            ],
        );
    }

    #[test]
    fn next_and_previous_are_strict() {
        let s = schedule(json!({"cron": "0 9 * * *"}));
        let nine = at("2021-01-01T09:00:00Z");
        assert_eq!(s.next_after(nine), Some(at("2021-01-02T09:00:00Z")));
        assert_eq!(s.previous_before(nine), Some(at("2020-12-31T09:00:00Z")));
        let just_after = nine + TimeDelta::milliseconds(500);
        assert_eq!(s.previous_before(just_after), Some(nine));
        assert_eq!(s.next_after(nine - TimeDelta::milliseconds(1)), Some(nine));
    }

    #[test]
    fn with_seconds() {
        check_next(
            json!({"cron": "*/15 * * * * *", "withSeconds": true}),
            "2021-01-01T00:00:00Z",
            &["2021-01-01T00:00:15Z", "2021-01-01T00:00:30Z"],
        );
        let err = Schedule::parse(&trigger(
            "io.kestra.plugin.core.trigger.Schedule",
            json!({"cron": "*/15 * * * * *"}),
        ))
        .unwrap_err();
        assert_eq!(err.property, "cron");
    }

    #[test]
    fn nicknames() {
        let from = "2021-03-10T10:30:00Z";
        check_next(json!({"cron": "@hourly"}), from, &["2021-03-10T11:00:00Z"]);
        check_next(json!({"cron": "@daily"}), from, &["2021-03-11T00:00:00Z"]);
        check_next(
            json!({"cron": "@midnight"}),
            from,
            &["2021-03-11T00:00:00Z"],
        );
        check_next(json!({"cron": "@weekly"}), from, &["2021-03-14T00:00:00Z"]); // Sunday
        check_next(json!({"cron": "@monthly"}), from, &["2021-04-01T00:00:00Z"]);
        check_next(json!({"cron": "@yearly"}), from, &["2022-01-01T00:00:00Z"]);
        check_next(
            json!({"cron": "@annually"}),
            from,
            &["2022-01-01T00:00:00Z"],
        );
        check_next(
            json!({"cron": "@hourly", "withSeconds": true}),
            from,
            &["2021-03-10T11:00:00Z"],
        );
    }

    #[test]
    fn berlin_across_dst() {
        // 09:00 Berlin is 08:00 UTC in winter, 07:00 UTC in summer; clocks go forward on
        // 2021-03-28 at 02:00.
        check_next(
            json!({"cron": "0 9 * * *", "timezone": "Europe/Berlin"}),
            "2021-03-26T12:00:00Z",
            &["2021-03-27T08:00:00Z", "2021-03-28T07:00:00Z"],
        );
        // 02:30 does not exist on 2021-03-28: that day's run comes when the clock jumps.
        let s = schedule(json!({"cron": "30 2 * * *", "timezone": "Europe/Berlin"}));
        let d = s.next_after(at("2021-03-27T12:00:00Z")).unwrap();
        // croner runs it at the jump (03:00 CEST); Kestra (cron-utils, java.time) may run it at 03:30.
        assert_eq!(d, at("2021-03-28T01:00:00Z"));
        let v = schedule(json!({"cron": "0 9 * * *", "timezone": "Europe/Berlin"}))
            .variables(at("2021-07-01T07:00:00Z"));
        assert_eq!(
            v,
            json!({"date": "2021-07-01T09:00:00+02:00", "next": "2021-07-02T09:00:00+02:00", "previous": "2021-06-30T09:00:00+02:00"})
        );
    }

    #[test]
    fn variables_in_utc() {
        let s = schedule(json!({"cron": "0 9 1 * *"}));
        assert_eq!(
            s.variables(at("2021-01-01T09:00:00Z")),
            json!({"date": "2021-01-01T09:00:00Z", "next": "2021-02-01T09:00:00Z", "previous": "2020-12-01T09:00:00Z"})
        );
    }

    #[test]
    fn dates_between_is_inclusive_and_bounded() {
        let s = schedule(json!({"cron": "0 9 1 * *"}));
        let dates = s
            .dates_between(at("2021-01-01T09:00:00Z"), at("2021-06-01T09:00:00Z"))
            .unwrap();
        assert_eq!(dates.len(), 6);
        assert_eq!(dates[0], at("2021-01-01T09:00:00Z"));
        assert_eq!(dates[5], at("2021-06-01T09:00:00Z"));
        let every_second = schedule(json!({"cron": "* * * * * *", "withSeconds": true}));
        let err = every_second
            .dates_between(at("2021-01-01T00:00:00Z"), at("2021-01-03T00:00:00Z"))
            .unwrap_err();
        assert!(err.message.contains("more than 100000"), "{err}");
    }

    /// A daily 09:00 schedule last run on Jan 1st; weir was down until Jan 4th 12:00, so Jan
    /// 2nd, 3rd and 4th were missed.
    fn after_downtime(extra: Value) -> Due {
        let mut props = json!({"cron": "0 9 * * *"});
        props
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        schedule(props).due(at("2021-01-01T09:00:00Z"), at("2021-01-04T12:00:00Z"))
    }

    #[test]
    fn recover_all_last_none() {
        let all = after_downtime(json!({}));
        assert_eq!(
            all.run,
            vec![
                at("2021-01-02T09:00:00Z"),
                at("2021-01-03T09:00:00Z"),
                at("2021-01-04T09:00:00Z")
            ]
        );
        assert_eq!((all.skipped, all.new_last), (0, at("2021-01-04T09:00:00Z")));
        assert_eq!(all.next, Some(at("2021-01-05T09:00:00Z")));
        assert!(!all.more);

        let last = after_downtime(json!({"recoverMissedSchedules": "LAST"}));
        assert_eq!(last.run, vec![at("2021-01-04T09:00:00Z")]);
        assert_eq!(
            (last.skipped, last.new_last),
            (2, at("2021-01-04T09:00:00Z"))
        );

        let none = after_downtime(json!({"recoverMissedSchedules": "NONE"}));
        assert!(none.run.is_empty());
        assert_eq!(
            (none.skipped, none.new_last),
            (3, at("2021-01-04T09:00:00Z"))
        );
    }

    #[test]
    fn on_time_dates_always_run() {
        let s = schedule(json!({"cron": "0 9 * * *", "recoverMissedSchedules": "NONE"}));
        let due = s.due(at("2021-01-01T09:00:00Z"), at("2021-01-02T09:00:01Z"));
        assert_eq!(due.run, vec![at("2021-01-02T09:00:00Z")]);
        let nothing = s.due(due.new_last, at("2021-01-02T10:00:00Z"));
        assert_eq!((nothing.run.len(), nothing.skipped), (0, 0));
        assert_eq!(nothing.new_last, due.new_last);
        // LAST with a missed backlog and an on-time date: only the on-time one.
        let s = schedule(json!({"cron": "0 * * * *", "recoverMissedSchedules": "LAST"}));
        let due = s.due(at("2021-01-01T00:00:00Z"), at("2021-01-01T05:00:30Z"));
        assert_eq!(
            (due.run.clone(), due.skipped),
            (vec![at("2021-01-01T05:00:00Z")], 4)
        );
    }

    #[test]
    fn late_maximum_delay() {
        let due = after_downtime(json!({"lateMaximumDelay": "PT1H"}));
        assert!(due.run.is_empty());
        assert_eq!(due.skipped, 3);
        let due = after_downtime(json!({"lateMaximumDelay": "P1D"}));
        assert_eq!(due.run, vec![at("2021-01-04T09:00:00Z")]);
        assert_eq!(due.skipped, 2);
    }

    #[test]
    fn conditions_filter_dates() {
        let s = schedule(json!({
            "cron": "0 11 * * 1",
            "conditions": [{
                "type": "io.kestra.plugin.core.condition.DayWeekInMonth",
                "date": "{{ trigger.date }}",
                "dayOfWeek": "MONDAY",
                "dayInMonth": "FIRST"
            }]
        }));
        let dates = s
            .dates_between(at("2024-01-01T00:00:00Z"), at("2024-04-30T00:00:00Z"))
            .unwrap();
        assert_eq!(
            dates,
            vec![
                at("2024-01-01T11:00:00Z"),
                at("2024-02-05T11:00:00Z"),
                at("2024-03-04T11:00:00Z"),
                at("2024-04-01T11:00:00Z")
            ]
        );
        assert_eq!(
            s.variables(at("2024-02-05T11:00:00Z")),
            json!({"date": "2024-02-05T11:00:00Z", "next": "2024-03-04T11:00:00Z", "previous": "2024-01-01T11:00:00Z"})
        );
        let never = schedule(json!({
            "cron": "0 11 * * *",
            "conditions": [{"type": "io.kestra.plugin.core.condition.DateTimeBetween", "before": "2000-01-01T00:00:00Z"}]
        }));
        assert_eq!(never.next_after(at("2024-01-01T00:00:00Z")), None);
    }

    #[test]
    fn properties() {
        let s = schedule(json!({
            "cron": "0 9 * * *",
            "timezone": "America/New_York",
            "inputs": {"day": "{{ trigger.date }}"},
            "labels": {"team": "data", "n": 1},
            "stopAfter": ["FAILED", "PAUSED"],
        }));
        assert_eq!(s.timezone, chrono_tz::America::New_York);
        assert_eq!(s.recover, Recover::All);
        assert_eq!(
            s.labels,
            vec![("team".into(), "data".into()), ("n".into(), "1".into())]
        );
        assert_eq!(s.stop_after, vec![State::Failed, State::Paused]);
        assert_eq!(s.inputs["day"], "{{ trigger.date }}");
        let bad = |props: Value, property: &str| {
            let err = Schedule::parse(&trigger("io.kestra.plugin.core.trigger.Schedule", props))
                .unwrap_err();
            assert_eq!(err.property, property, "{err}");
        };
        bad(
            json!({"cron": "0 9 * * *", "timezone": "Mars/Olympus"}),
            "timezone",
        );
        bad(json!({"cron": "61 9 * * *"}), "cron");
        bad(json!({"cron": "@often"}), "cron");
        bad(
            json!({"cron": "@daily", "recoverMissedSchedules": "SOME"}),
            "recoverMissedSchedules",
        );
        bad(
            json!({"cron": "@daily", "lateMaximumDelay": "1h"}),
            "lateMaximumDelay",
        );
        bad(
            json!({"cron": "@daily", "stopAfter": ["DONE"]}),
            "stopAfter[0]",
        );
    }

    #[test]
    fn impossible_dates_never_come() {
        let s = schedule(json!({"cron": "0 0 30 2 *"}));
        assert_eq!(s.next_after(at("2024-01-01T00:00:00Z")), None);
        let due = s.due(at("2024-01-01T00:00:00Z"), at("2024-06-01T00:00:00Z"));
        assert_eq!((due.run.len(), due.skipped, due.next), (0, 0, None));
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        const CRONS: &[&str] = &[
            "0 9 1 * *",
            "*/7 * * * *",
            "30 2 * * 0",
            "0 0 29 2 *",
            "@hourly",
        ];
        const ZONES: &[&str] = &[
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
        ];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]
            #[test]
            fn next_is_after_and_previous_of_next_is_not(
                cron in 0..CRONS.len(),
                zone in 0..ZONES.len(),
                secs in 0i64..4_000_000_000,
                nanos in 0u32..1_000_000_000,
            ) {
                let s = schedule(json!({"cron": CRONS[cron], "timezone": ZONES[zone]}));
                let t = DateTime::from_timestamp(secs, nanos).unwrap();
                let n = s.next_after(t).unwrap();
                prop_assert!(n > t);
                let p = s.previous_before(n).unwrap();
                prop_assert!(p <= t, "previous_before({n}) = {p} > {t}");
            }
        }
    }
}
