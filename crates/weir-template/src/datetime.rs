//! Date handling for the `date`, `dateAdd` and `timestamp` filters and `now()`.
//!
//! Kestra formats and parses dates with Java `DateTimeFormatter` patterns, so this module
//! implements those patterns directly instead of translating them to `strftime`.

use chrono::{
    DateTime, Datelike, Days, Duration, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime,
    NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

/// A `timeZone=` argument, as Java's `ZoneId.of` understands it: a fixed offset or a region.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

impl Zone {
    /// Kestra's servers run in UTC, so UTC stands in for Java's system default zone.
    pub(crate) fn utc() -> Zone {
        Zone::Fixed(Utc.fix())
    }

    /// An unknown zone is an error, as in Kestra (`ZoneId.of` throws): silently keeping UTC
    /// would print a wrong time.
    pub(crate) fn parse(zone: &str) -> Result<Zone, String> {
        if let Some(offset) = parse_fixed_zone(zone) {
            return Ok(Zone::Fixed(offset));
        }
        zone.trim().parse::<Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "unknown time zone `{zone}`: expected a region like `Europe/Paris` or an offset like `+01:00`"
            )
        })
    }

    /// The same instant seen in this zone.
    pub(crate) fn convert(&self, dt: &DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        match self {
            Zone::Fixed(offset) => dt.with_timezone(offset),
            Zone::Named(tz) => dt.with_timezone(tz).fixed_offset(),
        }
    }

    /// A wall-clock time in this zone. Like Java's `ZonedDateTime.of`, an ambiguous time (the
    /// hour repeated when clocks go back) takes the earlier offset, and a time that does not
    /// exist (skipped when clocks go forward) moves forward by the length of the gap.
    pub(crate) fn localize(&self, naive: NaiveDateTime) -> Result<DateTime<FixedOffset>, String> {
        let tz = match self {
            Zone::Fixed(offset) => {
                return offset
                    .from_local_datetime(&naive)
                    .single()
                    .ok_or_else(|| format!("`{naive}` is out of range for a date"));
            }
            Zone::Named(tz) => tz,
        };
        match tz.from_local_datetime(&naive) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(dt, _) => Ok(dt.fixed_offset()),
            LocalResult::None => {
                // The offset in force just before the gap, applied to the wall-clock time,
                // lands after the gap by exactly its length.
                let before = tz
                    .offset_from_utc_datetime(&(naive - Duration::hours(3)))
                    .fix();
                let utc = naive - Duration::seconds(i64::from(before.local_minus_utc()));
                Ok(tz.from_utc_datetime(&utc).fixed_offset())
            }
        }
    }
}

/// Parses a date from a string (ISO date, ISO date-time with or without offset, epoch seconds
/// as a string) or from epoch seconds. Values without an offset are taken as UTC.
#[cfg(test)]
pub(crate) fn parse_str(s: &str) -> Result<DateTime<FixedOffset>, String> {
    parse_str_in(s, &Zone::utc()).map(|p| p.at)
}

/// A parsed date, and whether it was read as a wall-clock time in the zone it was parsed in
/// (it had no offset of its own).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parsed {
    pub at: DateTime<FixedOffset>,
    pub local: bool,
}

impl Parsed {
    fn zoned(at: DateTime<FixedOffset>) -> Parsed {
        Parsed { at, local: false }
    }

    fn local(at: Result<DateTime<FixedOffset>, String>) -> Result<Parsed, String> {
        at.map(|at| Parsed { at, local: true })
    }
}

/// Like [`parse_str`], but a value without an offset is a wall-clock time in `zone`, as Kestra
/// reads it when a filter is given `timeZone`.
pub(crate) fn parse_str_in(s: &str, zone: &Zone) -> Result<Parsed, String> {
    let s = s.trim();
    // Java's ZonedDateTime.toString() appends the zone id, e.g. `...+01:00[Europe/Paris]`.
    let s = match s.find('[') {
        Some(i) if s.ends_with(']') => &s[..i],
        _ => s,
    };
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(Parsed::zoned(dt));
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
            return Ok(Parsed::zoned(dt));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
            return Parsed::local(zone.localize(naive));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Parsed::local(zone.localize(date.and_time(NaiveTime::MIN)));
    }
    if let Ok(secs) = s.parse::<f64>() {
        return from_epoch_seconds(secs).map(Parsed::zoned);
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

/// Parses a zone given as `UTC`, `Z`, `GMT` or a fixed offset like `+02:00`; `None` for
/// anything else, such as a region name (see [`Zone::parse`]).
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

/// Parses `s` with `existingFormat`: a named Kestra format or a Java pattern. As in Kestra, a
/// value without an offset or zone is a wall-clock time in `zone`, and one without a time is
/// the start of its day.
pub(crate) fn parse_with(s: &str, existing_format: &str, zone: &Zone) -> Result<Parsed, String> {
    if matches!(
        existing_format,
        "iso_offset_date_time" | "iso_date_time" | "iso_zoned_date_time" | "iso_instant"
    ) {
        // Java's ISO formatters accept what the automatic detection accepts.
        return parse_str_in(s, zone);
    }
    let pattern = named_pattern(existing_format).unwrap_or(existing_format);
    parse_java(s, pattern, zone).map_err(|why| {
        format!("cannot parse `{s}` as a date with existingFormat `{existing_format}`: {why}")
    })
}

/// Kestra's named formats that stand for a plain pattern.
fn named_pattern(name: &str) -> Option<&'static str> {
    Some(match name {
        "sql" | "sql_micro" => "yyyy-MM-dd HH:mm:ss.SSSSSS",
        // Kestra's own name is `sql_seq`.
        "sql_sec" | "sql_seq" => "yyyy-MM-dd HH:mm:ss",
        "sql_milli" => "yyyy-MM-dd HH:mm:ss.SSS",
        "sql_nano" => "yyyy-MM-dd HH:mm:ss.SSSSSSSSS",
        "iso_sec" => "yyyy-MM-dd'T'HH:mm:ssXXX",
        "iso_milli" => "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        // Kestra's `iso` always prints microseconds, unlike Java's ISO formatters.
        "iso" | "iso_micro" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
        "iso_nano" => "yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX",
        "iso_local_date" | "iso_date" => "yyyy-MM-dd",
        "iso_local_time" | "iso_time" => "HH:mm:ss",
        "iso_offset_time" => "HH:mm:ssXXX",
        "basic_iso_date" => "yyyyMMdd",
        "iso_ordinal_date" => "yyyy-DDD",
        "iso_week_date" => "YYYY-'W'ww-e",
        "rfc_1123_date_time" => "EEE, d MMM yyyy HH:mm:ss 'GMT'",
        _ => return None,
    })
}

/// Formats with a named Kestra format or a Java `DateTimeFormatter` pattern.
pub(crate) fn format(dt: &DateTime<FixedOffset>, format: &str) -> Result<String, String> {
    let pattern = match format {
        "iso_offset_date_time" | "iso_date_time" | "iso_zoned_date_time" => {
            return Ok(iso(dt));
        }
        "iso_instant" => return Ok(iso(&dt.with_timezone(&Utc).fixed_offset())),
        "iso_local_date_time" => {
            let s = iso(dt);
            let cut = s.len() - offset_id(dt.offset()).len();
            return Ok(s[..cut].to_string());
        }
        other => named_pattern(other).unwrap_or(other),
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

/// Adds `amount` Java `ChronoUnit`s (NANOS ... CENTURIES) to a date. Like Java's
/// `ZonedDateTime.plus`, days and longer move the wall-clock date and keep the time of day;
/// shorter units move the instant.
pub(crate) fn add<Z: TimeZone>(
    dt: &DateTime<Z>,
    amount: i64,
    unit: &str,
) -> Result<DateTime<Z>, String> {
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
        "DAY" | "WEEK" => {
            let days = if upper.starts_with("WEEK") {
                amount.checked_mul(7).ok_or_else(overflow)?
            } else {
                amount
            };
            let d = Days::new(days.unsigned_abs());
            let shifted = if days >= 0 {
                dt.clone().checked_add_days(d)
            } else {
                dt.clone().checked_sub_days(d)
            };
            return shifted.ok_or_else(overflow);
        }
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
                dt.clone().checked_add_months(m)
            } else {
                dt.clone().checked_sub_months(m)
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
        .and_then(|d| dt.clone().checked_add_signed(d))
        .ok_or_else(overflow)
}

/// One piece of a Java date pattern: literal text, or a run of `len` copies of a field letter.
#[derive(Debug, PartialEq)]
enum Piece {
    Literal(String),
    Field(char, usize),
}

/// Splits a pattern into pieces; `[` and `]` (optional sections) are dropped, which is enough
/// for the formats Kestra's named formats use.
fn pieces(pattern: &str) -> Vec<Piece> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut text = String::new();
            if chars.get(i + 1) == Some(&'\'') {
                text.push('\'');
                i += 2;
            } else {
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            text.push('\'');
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            out.push(Piece::Literal(text));
        } else if c.is_ascii_alphabetic() {
            let mut n = 1;
            while chars.get(i + n) == Some(&c) {
                n += 1;
            }
            out.push(Piece::Field(c, n));
            i += n;
        } else {
            if c != '[' && c != ']' {
                out.push(Piece::Literal(c.to_string()));
            }
            i += 1;
        }
    }
    out
}

/// The fields read from a date string; what is missing gets Java's defaults.
#[derive(Default)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    day_of_year: Option<u32>,
    hour: Option<u32>,
    hour12: Option<u32>,
    pm: Option<bool>,
    minute: u32,
    second: u32,
    nano: u32,
    offset: Option<FixedOffset>,
    zone: Option<Zone>,
}

/// Java `DateTimeFormatter.ofPattern` parsing (English locale) of the common pattern letters.
fn parse_java(s: &str, pattern: &str, zone: &Zone) -> Result<Parsed, String> {
    let pieces = pieces(pattern);
    let mut f = Fields::default();
    let mut rest = s;
    for (i, piece) in pieces.iter().enumerate() {
        let (c, n) = match piece {
            Piece::Literal(text) => {
                rest = rest
                    .strip_prefix(text.as_str())
                    .ok_or_else(|| format!("expected `{text}` at `{rest}`"))?;
                continue;
            }
            Piece::Field(c, n) => (*c, *n),
        };
        // Adjacent numeric fields (`yyyyMMdd`) are split by width, as Java does.
        let next_is_number = matches!(
            pieces.get(i + 1),
            Some(Piece::Field(next, m)) if is_numeric_field(*next, *m)
        );
        let width = |min: usize| if next_is_number { n.max(min) } else { 9 };
        match c {
            'y' | 'u' | 'Y' if n == 2 => f.year = Some(2000 + number::<i32>(&mut rest, 2, 2)?),
            'y' | 'u' | 'Y' => f.year = Some(number(&mut rest, n, width(4))?),
            'M' | 'L' if n >= 3 => f.month = Some(month_name(&mut rest, n == 3)?),
            'M' | 'L' => f.month = Some(number(&mut rest, n, n.max(2))?),
            'd' => f.day = Some(number(&mut rest, n, n.max(2))?),
            'D' => f.day_of_year = Some(number(&mut rest, n, n.max(3))?),
            'H' => f.hour = Some(number(&mut rest, n, n.max(2))?),
            'k' => f.hour = Some(number::<u32>(&mut rest, n, n.max(2))? % 24),
            'h' | 'K' => f.hour12 = Some(number::<u32>(&mut rest, n, n.max(2))? % 12),
            'm' => f.minute = number(&mut rest, n, n.max(2))?,
            's' => f.second = number(&mut rest, n, n.max(2))?,
            'S' => {
                // Java reads exactly `n` digits; weir takes any fraction unless a number follows.
                let (min, max) = if next_is_number { (n, n) } else { (1, 9) };
                let digits = take_digits(&mut rest, min.min(9), max.min(9))?;
                let scale = 10u32.pow(u32::try_from(9 - digits.len()).unwrap_or(0));
                f.nano = digits.parse::<u32>().map_err(|e| e.to_string())? * scale;
            }
            'n' => f.nano = number(&mut rest, 1, 9)?,
            'a' => f.pm = Some(am_pm(&mut rest)?),
            'E' | 'G' => {
                // Day names and eras are checked by the date itself; skip the word.
                let end = rest
                    .find(|ch: char| !ch.is_alphabetic())
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("expected a name at `{rest}`"));
                }
                rest = &rest[end..];
            }
            'X' | 'x' | 'Z' => f.offset = Some(offset(&mut rest, c == 'X' || n >= 4)?),
            'V' | 'z' | 'O' => {
                let end = rest
                    .find(|ch: char| !(ch.is_ascii_alphanumeric() || "/_+-:".contains(ch)))
                    .unwrap_or(rest.len());
                f.zone = Some(Zone::parse(&rest[..end])?);
                rest = &rest[end..];
            }
            other => return Err(format!("unsupported letter `{other}` in the pattern")),
        }
    }
    if !rest.is_empty() {
        return Err(format!("unexpected text `{rest}` at the end"));
    }
    let year = f.year.ok_or("the pattern has no year")?;
    let date = match (f.month, f.day, f.day_of_year) {
        (Some(month), Some(day), _) => NaiveDate::from_ymd_opt(year, month, day),
        (_, _, Some(ordinal)) => NaiveDate::from_yo_opt(year, ordinal),
        _ => return Err("the pattern has no month and day".into()),
    }
    .ok_or("no such date")?;
    let hour = match (f.hour, f.hour12, f.pm) {
        (Some(h), _, _) => h,
        (None, Some(h), Some(true)) => h + 12,
        (None, Some(h), _) => h,
        (None, None, _) => 0,
    };
    let time =
        NaiveTime::from_hms_nano_opt(hour, f.minute, f.second, f.nano).ok_or("no such time")?;
    let naive = date.and_time(time);
    match (f.offset, f.zone) {
        (Some(offset), _) => Zone::Fixed(offset).localize(naive).map(Parsed::zoned),
        (None, Some(named)) => named.localize(naive).map(Parsed::zoned),
        (None, None) => Parsed::local(zone.localize(naive)),
    }
}

fn is_numeric_field(c: char, n: usize) -> bool {
    match c {
        'M' | 'L' => n <= 2,
        _ => "yuYdDHkKhmsSn".contains(c),
    }
}

fn take_digits<'a>(rest: &mut &'a str, min: usize, max: usize) -> Result<&'a str, String> {
    let len = rest
        .bytes()
        .take(max)
        .take_while(u8::is_ascii_digit)
        .count();
    if len < min {
        return Err(format!("expected {min} digit(s) at `{rest}`"));
    }
    let (digits, tail) = rest.split_at(len);
    *rest = tail;
    Ok(digits)
}

fn number<T: std::str::FromStr>(rest: &mut &str, min: usize, max: usize) -> Result<T, String> {
    let digits = take_digits(rest, min, max)?;
    digits
        .parse()
        .map_err(|_| format!("`{digits}` is out of range"))
}

fn month_name(rest: &mut &str, short: bool) -> Result<u32, String> {
    for (i, name) in MONTHS_LONG.iter().enumerate() {
        let name = if short { &name[..3] } else { name };
        if rest.len() >= name.len()
            && rest.is_char_boundary(name.len())
            && rest[..name.len()].eq_ignore_ascii_case(name)
        {
            *rest = &rest[name.len()..];
            return u32::try_from(i + 1).map_err(|e| e.to_string());
        }
    }
    Err(format!("expected a month name at `{rest}`"))
}

fn am_pm(rest: &mut &str) -> Result<bool, String> {
    let word = rest.get(..2).unwrap_or_default().to_ascii_uppercase();
    let pm = match word.as_str() {
        "AM" => false,
        "PM" => true,
        _ => return Err(format!("expected AM or PM at `{rest}`")),
    };
    *rest = &rest[2..];
    Ok(pm)
}

/// `Z` (when `z_is_zero`), `+HH`, `+HHmm` or `+HH:mm`.
fn offset(rest: &mut &str, z_is_zero: bool) -> Result<FixedOffset, String> {
    if z_is_zero && let Some(tail) = rest.strip_prefix('Z') {
        *rest = tail;
        return Ok(Utc.fix());
    }
    let sign = match rest.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(format!("expected an offset at `{rest}`")),
    };
    *rest = &rest[1..];
    let hours: i32 = number(rest, 2, 2)?;
    if let Some(tail) = rest.strip_prefix(':') {
        *rest = tail;
    }
    let minutes: i32 = if rest.starts_with(|c: char| c.is_ascii_digit()) {
        number(rest, 2, 2)?
    } else {
        0
    };
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
        .ok_or_else(|| "no such offset".into())
}
