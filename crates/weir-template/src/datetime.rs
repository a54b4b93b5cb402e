//! Date handling for the `date`, `dateAdd` and `timestamp` filters and `now()`.
//!
//! Kestra formats dates with Java `DateTimeFormatter` patterns, so this module implements a
//! formatter for those patterns directly instead of translating them to `strftime`.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Timelike, Utc,
};

/// Parses a date from a string (ISO date, ISO date-time with or without offset, epoch seconds
/// as a string) or from epoch seconds. Values without an offset are taken as UTC.
pub(crate) fn parse_str(s: &str) -> Result<DateTime<FixedOffset>, String> {
    let s = s.trim();
    // Java's ZonedDateTime.toString() appends the zone id, e.g. `...+01:00[Europe/Paris]`.
    let s = match s.find('[') {
        Some(i) if s.ends_with(']') => &s[..i],
        _ => s,
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt);
    }
    let normalized = match s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        Some(rest) => format!("{rest}+00:00"),
        None => s.to_string(),
    };
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(&normalized, fmt) {
            return Ok(dt);
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(naive.and_utc().fixed_offset());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return date
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc().fixed_offset())
            .ok_or_else(|| format!("invalid date `{s}`"));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return from_epoch_seconds(secs);
    }
    Err(format!(
        "cannot parse `{s}` as a date: expected an ISO-8601 date or date-time (e.g. `2021-01-01` or `2021-01-01T00:00:00Z`) or epoch seconds"
    ))
}

/// Converts epoch seconds (fraction allowed) to a UTC date-time.
pub(crate) fn from_epoch_seconds(secs: f64) -> Result<DateTime<FixedOffset>, String> {
    if !secs.is_finite() {
        return Err(format!("`{secs}` is not a valid timestamp"));
    }
    let whole = secs.floor();
    let nanos = ((secs - whole) * 1e9).round().clamp(0.0, 999_999_999.0);
    // Values beyond i64 are rejected by the range check in `timestamp_opt` anyway.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (whole, nanos) = (whole as i64, nanos as u32);
    Utc.timestamp_opt(whole, nanos)
        .single()
        .map(|d| d.fixed_offset())
        .ok_or_else(|| format!("`{secs}` is out of range for a timestamp"))
}

/// Parses a zone given as `UTC`, `Z`, `GMT` or a fixed offset like `+02:00`. Region names
/// (`Europe/Paris`) are not supported without a time-zone database and return `None`.
pub(crate) fn parse_fixed_zone(zone: &str) -> Option<FixedOffset> {
    let z = zone.trim();
    if matches!(z, "UTC" | "Z" | "GMT" | "Etc/UTC" | "Etc/GMT" | "UT") {
        return FixedOffset::east_opt(0);
    }
    let z = z
        .strip_prefix("UTC")
        .or_else(|| z.strip_prefix("GMT"))
        .unwrap_or(z);
    let (sign, rest) = match z.as_bytes().first() {
        Some(b'+') => (1, &z[1..]),
        Some(b'-') => (-1, &z[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// ISO-8601 like Java's `ISO_OFFSET_DATE_TIME`: fraction only when non-zero, trailing zeros
/// removed, `Z` for UTC.
pub(crate) fn iso(dt: &DateTime<FixedOffset>) -> String {
    let mut s = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = dt.nanosecond() % 1_000_000_000;
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push_str(&offset_id(dt.offset()));
    s
}

/// Formats the current time the way `now()` returns it.
pub(crate) fn now_iso() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `+HH:MM`, or `Z` for a zero offset.
fn offset_id(offset: &FixedOffset) -> String {
    let secs = offset.local_minus_utc();
    if secs == 0 {
        return "Z".into();
    }
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
}

/// Formats with a named Kestra format or a Java `DateTimeFormatter` pattern.
pub(crate) fn format(dt: &DateTime<FixedOffset>, format: &str) -> Result<String, String> {
    let pattern = match format {
        "iso" | "iso_offset_date_time" | "iso_date_time" | "iso_zoned_date_time" => {
            return Ok(iso(dt));
        }
        "iso_instant" => return Ok(iso(&dt.with_timezone(&Utc).fixed_offset())),
        "iso_local_date_time" => {
            let s = iso(dt);
            let cut = s.len() - offset_id(dt.offset()).len();
            return Ok(s[..cut].to_string());
        }
        "sql" | "sql_micro" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        "sql_sec" => "yyyy-MM-dd HH:mm:ss",
        "sql_milli" => "yyyy-MM-dd HH:mm:ss.SSS",
        "sql_nano" => "yyyy-MM-dd HH:mm:ss.SSSSSSSSS",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "iso_milli" => "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "iso_micro" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_nano" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX",
        "iso_local_date" | "iso_date" => "yyyy-MM-dd",
        "iso_local_time" | "iso_time" => "HH:mm:ss",
        "iso_offset_time" => "HH:mm:ssXXX",
        "basic_iso_date" => "yyyyMMdd",
        "iso_ordinal_date" => "yyyy-DDD",
        "iso_week_date" => "YYYY-'W'ww-e",
        "rfc_1123_date_time" => "EEE, d MMM yyyy HH:mm:ss 'GMT'",
        other => other,
    };
    format_java(dt, pattern)
}

const MONTHS_LONG: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS_LONG: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn pad(out: &mut String, n: i64, width: usize) {
    if n < 0 {
        out.push('-');
    }
    let digits = n.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Java `DateTimeFormatter.ofPattern` formatting (English locale).
pub(crate) fn format_java(dt: &DateTime<FixedOffset>, pattern: &str) -> Result<String, String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // `''` is a literal quote; otherwise everything up to the next quote is literal.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            // Optional-section brackets print their content; other symbols are literals.
            if c != '[' && c != ']' {
                out.push(c);
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        i += n;
        format_field(&mut out, dt, c, n)?;
    }
    Ok(out)
}

fn format_field(
    out: &mut String,
    dt: &DateTime<FixedOffset>,
    c: char,
    n: usize,
) -> Result<(), String> {
    let month0 = dt.month0() as usize;
    let weekday0 = dt.weekday().num_days_from_monday() as usize;
    match c {
        'y' | 'u' | 'Y' => {
            let year = if c == 'Y' {
                i64::from(dt.iso_week().year())
            } else {
                i64::from(dt.year())
            };
            if n == 2 {
                pad(out, year.rem_euclid(100), 2);
            } else {
                pad(out, year, n);
            }
        }
        'M' | 'L' => match n {
            1 | 2 => pad(out, i64::from(dt.month()), n),
            3 => out.push_str(&MONTHS_LONG[month0][..3]),
            4 => out.push_str(MONTHS_LONG[month0]),
            _ => out.push_str(&MONTHS_LONG[month0][..1]),
        },
        'd' => pad(out, i64::from(dt.day()), n),
        'D' => pad(out, i64::from(dt.ordinal()), n),
        'Q' | 'q' => pad(out, i64::from(dt.month0() / 3 + 1), n),
        'w' => pad(out, i64::from(dt.iso_week().week()), n),
        'E' => match n {
            1..=3 => out.push_str(&DAYS_LONG[weekday0][..3]),
            4 => out.push_str(DAYS_LONG[weekday0]),
            _ => out.push_str(&DAYS_LONG[weekday0][..1]),
        },
        'e' | 'c' => match n {
            1 | 2 => pad(out, i64::from(dt.weekday().number_from_monday()), n),
            3 => out.push_str(&DAYS_LONG[weekday0][..3]),
            _ => out.push_str(DAYS_LONG[weekday0]),
        },
        'a' => out.push_str(if dt.hour() < 12 { "AM" } else { "PM" }),
        'H' => pad(out, i64::from(dt.hour()), n),
        'k' => pad(
            out,
            i64::from(if dt.hour() == 0 { 24 } else { dt.hour() }),
            n,
        ),
        'K' => pad(out, i64::from(dt.hour() % 12), n),
        'h' => pad(out, i64::from(dt.hour12().1), n),
        'm' => pad(out, i64::from(dt.minute()), n),
        's' => pad(out, i64::from(dt.second()), n),
        'S' => {
            let frac = format!("{:09}", dt.nanosecond() % 1_000_000_000);
            if n <= 9 {
                out.push_str(&frac[..n]);
            } else {
                out.push_str(&frac);
                out.extend(std::iter::repeat_n('0', n - 9));
            }
        }
        'n' => pad(out, i64::from(dt.nanosecond() % 1_000_000_000), n),
        'A' => pad(
            out,
            i64::from(dt.num_seconds_from_midnight()) * 1000
                + i64::from(dt.nanosecond() / 1_000_000),
            n,
        ),
        'G' => out.push_str(if n == 4 { "Anno Domini" } else { "AD" }),
        'X' | 'x' => {
            let secs = dt.offset().local_minus_utc();
            if secs == 0 && c == 'X' {
                out.push('Z');
            } else {
                out.push_str(&offset_text(secs, n, c == 'x' && secs == 0));
            }
        }
        'Z' => {
            let secs = dt.offset().local_minus_utc();
            match n {
                1..=3 => out.push_str(&offset_text(secs, 2, true)),
                4 => {
                    if secs == 0 {
                        out.push_str("GMT");
                    } else {
                        out.push_str("GMT");
                        out.push_str(&offset_text(secs, 3, true));
                    }
                }
                _ => {
                    if secs == 0 {
                        out.push('Z');
                    } else {
                        out.push_str(&offset_text(secs, 3, true));
                    }
                }
            }
        }
        'z' | 'V' | 'O' => {
            let secs = dt.offset().local_minus_utc();
            if secs == 0 {
                out.push_str(if c == 'V' { "Z" } else { "UTC" });
            } else {
                out.push_str(&offset_text(secs, 3, true));
            }
        }
        other => {
            return Err(format!(
                "unsupported letter `{other}` in date format pattern (quote literal text with single quotes, e.g. 'T')"
            ));
        }
    }
    Ok(())
}

/// Offset text for pattern letters X/x/Z: width 1 → `+HH` (`+HHmm` if minutes), 2 → `+HHmm`,
/// 3+ → `+HH:mm`.
fn offset_text(secs: i32, width: usize, zero_as_digits: bool) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    let (h, m) = (abs / 3600, (abs % 3600) / 60);
    if secs == 0 && !zero_as_digits {
        return "Z".into();
    }
    match width {
        1 if m == 0 => format!("{sign}{h:02}"),
        1 | 2 => format!("{sign}{h:02}{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}"),
    }
}

/// Adds `amount` Java `ChronoUnit`s (SECONDS ... YEARS) to a date.
pub(crate) fn add(
    dt: &DateTime<FixedOffset>,
    amount: i64,
    unit: &str,
) -> Result<DateTime<FixedOffset>, String> {
    let overflow = || format!("adding {amount} {unit} overflows the date range");
    let upper = unit.to_ascii_uppercase();
    let duration = match upper.trim_end_matches('S') {
        "NANO" => Some(Duration::nanoseconds(amount)),
        "MICRO" => Some(Duration::microseconds(amount)),
        "MILLI" => Some(Duration::milliseconds(amount)),
        "SECOND" => Duration::try_seconds(amount),
        "MINUTE" => Duration::try_minutes(amount),
        "HOUR" => Duration::try_hours(amount),
        "HALF_DAY" => Duration::try_hours(amount.saturating_mul(12)),
        "DAY" => Duration::try_days(amount),
        "WEEK" => Duration::try_weeks(amount),
        "MONTH" | "YEAR" | "DECADE" | "CENTURIE" | "CENTURY" => {
            let factor = match upper.trim_end_matches('S') {
                "MONTH" => 1,
                "YEAR" => 12,
                "DECADE" => 120,
                _ => 1200,
            };
            let months = amount.checked_mul(factor).ok_or_else(overflow)?;
            let m = Months::new(u32::try_from(months.unsigned_abs()).map_err(|_| overflow())?);
            let shifted = if months >= 0 {
                dt.checked_add_months(m)
            } else {
                dt.checked_sub_months(m)
            };
            return shifted.ok_or_else(overflow);
        }
        _ => {
            return Err(format!(
                "unknown time unit `{unit}`: expected one of SECONDS, MINUTES, HOURS, DAYS, WEEKS, MONTHS, YEARS"
            ));
        }
    };
    duration
        .and_then(|d| dt.checked_add_signed(d))
        .ok_or_else(overflow)
}

/// Re-expresses a date in another fixed offset.
pub(crate) fn in_offset(dt: &DateTime<FixedOffset>, offset: FixedOffset) -> DateTime<FixedOffset> {
    dt.with_timezone(&offset.fix())
}
