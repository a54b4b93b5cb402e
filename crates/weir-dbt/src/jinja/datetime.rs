//! `modules.datetime` (and `run_started_at`): Python's `date`, `datetime` and `timedelta`
//! basics as objects with `strftime`, `isoformat` and their fields. Jinja has no operator
//! overloading for objects, so `datetime - timedelta` is not available.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use minijinja::value::{Kwargs, Object, Rest, Value, from_args};
use minijinja::{Error, ErrorKind, State};
use std::fmt;
use std::sync::Arc;

/// `modules`: `modules.datetime`.
pub(crate) fn modules() -> Value {
    Value::from_pairs([("datetime", Value::from_object(Module))])
}

/// `run_started_at`: now, in UTC.
pub(crate) fn now() -> Value {
    Value::from_object(DateTime(Utc::now().naive_utc()))
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

#[derive(Debug)]
struct Module;

impl Object for Module {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "datetime" => Value::from_object(Ctor::DateTime),
            "date" => Value::from_object(Ctor::Date),
            "timedelta" => Value::from_object(Ctor::TimeDelta),
            _ => return None,
        })
    }
}

/// The classes: callable as constructors, with `now`, `utcnow`, `today`, `strptime`.
#[derive(Debug)]
enum Ctor {
    DateTime,
    Date,
    TimeDelta,
}

fn date_of(y: i32, m: u32, d: u32) -> Result<NaiveDate, Error> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| invalid(format!("no date {y}-{m}-{d}")))
}

impl Object for Ctor {
    fn call(self: &Arc<Self>, _: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            Ctor::DateTime => {
                let (y, m, d, time): (i32, u32, u32, Rest<u32>) = from_args(args)?;
                let part = |i: usize| time.get(i).copied().unwrap_or(0);
                let dt = date_of(y, m, d)?
                    .and_hms_opt(part(0), part(1), part(2))
                    .ok_or_else(|| invalid("the time is out of range"))?;
                Ok(Value::from_object(DateTime(dt)))
            }
            Ctor::Date => {
                let (y, m, d): (i32, u32, u32) = from_args(args)?;
                Ok(Value::from_object(Date(date_of(y, m, d)?)))
            }
            Ctor::TimeDelta => {
                let (days, kwargs): (Option<f64>, Kwargs) = from_args(args)?;
                let mut secs = days.unwrap_or(0.0) * 86400.0;
                for (name, unit) in [
                    ("days", 86400.0),
                    ("hours", 3600.0),
                    ("minutes", 60.0),
                    ("seconds", 1.0),
                    ("weeks", 604800.0),
                ] {
                    secs += kwargs.get::<Option<f64>>(name)?.unwrap_or(0.0) * unit;
                }
                kwargs.assert_all_used()?;
                Ok(Value::from_object(TimeDelta(Duration::milliseconds(
                    (secs * 1000.0) as i64,
                ))))
            }
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let now = Utc::now().naive_utc();
        match (&**self, method) {
            (Ctor::DateTime, "now" | "utcnow") => Ok(Value::from_object(DateTime(now))),
            (Ctor::Date, "today") => Ok(Value::from_object(Date(now.date()))),
            (Ctor::DateTime, "strptime") => {
                let (text, format): (String, String) = from_args(args)?;
                let dt = NaiveDateTime::parse_from_str(&text, &format)
                    .or_else(|_| {
                        NaiveDate::parse_from_str(&text, &format)
                            .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
                    })
                    .map_err(|e| invalid(format!("cannot read `{text}` as `{format}`: {e}")))?;
                Ok(Value::from_object(DateTime(dt)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[derive(Debug)]
struct DateTime(NaiveDateTime);

impl Object for DateTime {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = &self.0;
        Some(Value::from(match key.as_str()? {
            "year" => d.year() as i64,
            "month" => d.month() as i64,
            "day" => d.day() as i64,
            "hour" => d.hour() as i64,
            "minute" => d.minute() as i64,
            "second" => d.second() as i64,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(self.0.format(&format).to_string()))
            }
            "isoformat" => Ok(Value::from(
                self.0.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            )),
            "date" => Ok(Value::from_object(Date(self.0.date()))),
            "timestamp" => Ok(Value::from(self.0.and_utc().timestamp())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d %H:%M:%S%.f"))
    }
}

#[derive(Debug)]
struct Date(NaiveDate);

impl Object for Date {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let d = &self.0;
        Some(Value::from(match key.as_str()? {
            "year" => d.year() as i64,
            "month" => d.month() as i64,
            "day" => d.day() as i64,
            _ => return None,
        }))
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (format,): (String,) = from_args(args)?;
                Ok(Value::from(self.0.format(&format).to_string()))
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%d").to_string())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

#[derive(Debug)]
struct TimeDelta(Duration);

impl Object for TimeDelta {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "days" => Value::from(self.0.num_days()),
            "seconds" => Value::from(self.0.num_seconds() - self.0.num_days() * 86400),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _: &mut State<'_, '_>,
        method: &str,
        _: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(self.0.num_milliseconds() as f64 / 1000.0)),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
