//! ISO-8601 durations (`PT15S`, `P1DT2H`, `PT0.25S`) as Kestra writes them.

use std::time::Duration;

/// The longest duration weir accepts: about 292 billion years, what fits a `Duration` of whole
/// seconds. Anything a user writes above it is a mistake, reported rather than wrapped.
const MAX_SECS: u128 = u64::MAX as u128;
const NANOS_PER_SEC: u128 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "`{text}` is not an ISO-8601 duration (expected a form like `PT15S`, `PT1M30S` or `P1D`)"
    )]
    Syntax { text: String },
    #[error("`{text}` is too long a duration (at most {MAX_SECS} seconds)")]
    TooLong { text: String },
    #[error(
        "`{text}` counts months or years, which have no fixed length (write days or weeks, like `P30D` or `P52W`)"
    )]
    Calendar { text: String },
}

/// Parses `P[nW][nD][T[nH][nM][n.nS]]` exactly, in integer nanoseconds: no float rounding and
/// no overflow, whatever the digits. Years and months are refused: they have no fixed length.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let syntax = || DurationError::Syntax {
        text: text.to_string(),
    };
    let too_long = || DurationError::TooLong {
        text: text.to_string(),
    };
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(syntax)?;
    if rest.is_empty() {
        return Err(syntax());
    }
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err(syntax());
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut nanos: u128 = 0;
    let mut take = |part: &str, units: &[(char, u128)]| -> Result<(), DurationError> {
        let mut number = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let pos = units.iter().position(|(u, _)| *u == c).ok_or_else(syntax)?;
            if pos < last_unit || number.is_empty() {
                return Err(syntax());
            }
            last_unit = pos + 1;
            let n = component_nanos(&number, units[pos].1)
                .ok_or_else(syntax)?
                .ok_or_else(too_long)?;
            nanos = nanos.checked_add(n).ok_or_else(too_long)?;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(syntax())
        }
    };
    if date_part.contains(['Y', 'M']) {
        return Err(DurationError::Calendar {
            text: text.to_string(),
        });
    }
    take(date_part, &[('W', 604_800), ('D', 86_400)])?;
    if let Some(t) = time_part {
        take(t, &[('H', 3_600), ('M', 60), ('S', 1)])?;
    }
    let secs = nanos / NANOS_PER_SEC;
    if secs > MAX_SECS {
        return Err(too_long());
    }
    // Both conversions are in range: secs ≤ u64::MAX and the remainder < 10^9.
    Ok(Duration::new(secs as u64, (nanos % NANOS_PER_SEC) as u32))
}

/// `number` (digits, at most one `.`) times `unit_secs`, in nanoseconds. `None` for bad
/// syntax, `Some(None)` when the value does not fit. Fraction digits past the nanosecond are
/// dropped, as `Duration` cannot hold them.
fn component_nanos(number: &str, unit_secs: u128) -> Option<Option<u128>> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if frac.contains('.') || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let unit_nanos = unit_secs * NANOS_PER_SEC;
    let mut whole: u128 = 0;
    for d in int.bytes() {
        let Some(w) = whole
            .checked_mul(10)
            .and_then(|w| w.checked_add(u128::from(d - b'0')))
        else {
            return Some(None);
        };
        whole = w;
    }
    let Some(whole_nanos) = whole.checked_mul(unit_nanos) else {
        return Some(None);
    };
    // 18 fraction digits keep every nanosecond of a week and stay far inside u128.
    let kept = &frac[..frac.len().min(18)];
    let mut f: u128 = 0;
    for d in kept.bytes() {
        f = f * 10 + u128::from(d - b'0');
    }
    let frac_nanos = f * unit_nanos / 10u128.pow(kept.len() as u32);
    Some(whole_nanos.checked_add(frac_nanos))
}

/// Formats a duration the way weir prints it to people: `850ms`, `12.3s`, `4m05s`, `2h07m`,
/// `3d04h`, and `more than 100 years` past that (a saturated retry delay, say).
pub fn format_duration(d: Duration) -> String {
    const HOUR: u64 = 3_600;
    const DAY: u64 = 86_400;
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else if s < HOUR {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < DAY {
        format!("{}h{:02}m", s / HOUR, s % HOUR / 60)
    } else if s < 100 * 365 * DAY {
        format!("{}d{:02}h", s / DAY, s % DAY / HOUR)
    } else {
        "more than 100 years".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kestra_durations() {
        assert_eq!(parse_duration("PT15S").unwrap(), Duration::from_secs(15));
        assert_eq!(
            parse_duration("PT0.25S").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("PT1M30S").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_duration("P1DT2H").unwrap(),
            Duration::from_secs(93_600)
        );
        assert_eq!(parse_duration("P1W").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("PT.5S").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("PT0.1H").unwrap(), Duration::from_secs(360));
        assert_eq!(
            parse_duration("PT0.000000001S").unwrap(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn formats_for_people_at_every_scale() {
        let f = |s: u64| format_duration(Duration::from_secs(s));
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(f(245), "4m05s");
        assert_eq!(f(7_620), "2h07m");
        assert_eq!(f(273_600), "3d04h");
        assert_eq!(format_duration(Duration::MAX), "more than 100 years");
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "15s", "P", "PT", "PTS", "PT1S1M", "PT1.2.3S", "PT.S", "P1.D2",
        ] {
            assert!(
                matches!(parse_duration(bad), Err(DurationError::Syntax { .. })),
                "{bad}"
            );
        }
        for calendar in ["P1M", "P1Y", "P1Y2M3DT4H", "p2m"] {
            assert!(
                matches!(
                    parse_duration(calendar),
                    Err(DurationError::Calendar { .. })
                ),
                "{calendar}"
            );
        }
    }

    #[test]
    fn refuses_durations_too_long_instead_of_panicking() {
        for long in [
            "PT99999999999999999999S",
            "P100000000000000000000000000000000000000000W",
            "PT18446744073709551616S",
        ] {
            assert!(
                matches!(parse_duration(long), Err(DurationError::TooLong { .. })),
                "{long}"
            );
        }
        assert_eq!(
            parse_duration("PT18446744073709551615S").unwrap(),
            Duration::from_secs(u64::MAX)
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    // 256 cases each by default; `PROPTEST_CASES=100000` (as `dev/fuzz` sets) for a long round.
    proptest! {
        /// Whatever the text, parsing returns; it never panics or wraps.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}") {
            let _ = parse_duration(&text);
        }

        /// Text shaped like a duration, with any number of digits.
        #[test]
        fn duration_shaped_text_parses_or_is_refused(
            text in "P([0-9]{0,30}(\\.[0-9]{0,12})?[WD]){0,2}(T([0-9]{0,30}(\\.[0-9]{0,12})?[HMS]){0,3})?"
        ) {
            let _ = parse_duration(&text);
        }

        /// Seconds and nanoseconds written out come back exactly.
        #[test]
        fn seconds_round_trip(secs: u64, nanos in 0u32..1_000_000_000) {
            let text = format!("PT{secs}.{nanos:09}S");
            prop_assert_eq!(parse_duration(&text), Ok(Duration::new(secs, nanos)));
        }

        /// Each unit counts what it says.
        #[test]
        fn units_add_up(w in 0u64..1000, d in 0u64..1000, h in 0u64..1000, m in 0u64..1000, s in 0u64..1000) {
            let text = format!("P{w}W{d}DT{h}H{m}M{s}S");
            let want = w * 604_800 + d * 86_400 + h * 3_600 + m * 60 + s;
            prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(want)));
        }
    }
}
