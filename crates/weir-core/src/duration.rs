//! ISO-8601 durations (`PT15S`, `P1DT2H`, `PT0.25S`) as Kestra writes them.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ISO-8601 duration (expected a form like `PT15S`, `PT1M30S` or `P1D`)")]
pub struct DurationError {
    pub text: String,
}

/// Parses `P[nD][T[nH][nM][n.nS]]` (weeks as `nW` too). Years and months are refused: they have no fixed length.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let err = || DurationError {
        text: text.to_string(),
    };
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(err)?;
    if rest.is_empty() {
        return Err(err());
    }
    let (date_part, time_part) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err(err());
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut secs = 0f64;
    let mut take = |part: &str, units: &[(char, f64)]| -> Result<(), DurationError> {
        let mut number = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let pos = units.iter().position(|(u, _)| *u == c).ok_or_else(err)?;
            if pos < last_unit || number.is_empty() {
                return Err(err());
            }
            last_unit = pos + 1;
            let n: f64 = number.parse().map_err(|_| err())?;
            secs += n * units[pos].1;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(err())
        }
    };
    take(date_part, &[('W', 604_800.0), ('D', 86_400.0)])?;
    if let Some(t) = time_part {
        take(t, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way weir prints it to people: `850ms`, `12.3s`, `4m05s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        format!("{}m{:02}s", s / 60, s % 60)
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
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["15s", "P", "PT", "PTS", "P1M", "PT1S1M", "PT1.2.3S"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
