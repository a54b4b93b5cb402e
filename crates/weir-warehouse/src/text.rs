//! The canonical text of query values, shared by both adapters so that a value reads the same
//! whichever engine returned it.
//!
//! - DATE `2021-01-02`; TIME `13:04:05[.fraction]`; TIMESTAMP `2021-01-02T13:04:05[.fraction]`;
//!   TIMESTAMPTZ the same in UTC with `+00:00`. Fractions are microseconds without trailing
//!   zeros; `infinity` and `-infinity` as PostgreSQL spells them.
//! - DECIMAL/NUMERIC: its exact digits with its scale (`2.50`), as a JSON string.
//! - INTERVAL: ISO 8601 as PostgreSQL's `IntervalStyle = iso_8601` writes it (`P1Y2M3DT4H5M6.5S`,
//!   `PT0S`), each part with its own sign.
//! - UUID lowercase with hyphens; BLOB/BYTEA `\x` and lowercase hex.
//! - Integers and finite floats are JSON numbers (a REAL by its shortest float text, so `0.1`
//!   stays `0.1`); NaN and infinities the strings `NaN`, `Infinity`, `-Infinity`; integers beyond
//!   64 bits strings. BOOLEAN a JSON boolean, NULL `null`; lists and arrays JSON arrays, structs
//!   and maps JSON objects.

use serde_json::Value;
use std::fmt::Write;

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// `HH:MM:SS[.ffffff]`, trailing zeros of the fraction dropped.
fn push_time(out: &mut String, micros: i64) {
    let secs = micros / 1_000_000;
    let frac = micros % 1_000_000;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    push_fraction(out, frac);
}

/// `.ffffff` without trailing zeros; nothing for 0.
fn push_fraction(out: &mut String, frac: i64) {
    if frac != 0 {
        let digits = format!("{:06}", frac.unsigned_abs());
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn push_date(out: &mut String, days: i64) {
    let (y, m, d) = weir_core::civil::civil_from_days(days);
    if y < 0 {
        let _ = write!(out, "-{:04}-{m:02}-{d:02}", -y);
    } else {
        let _ = write!(out, "{y:04}-{m:02}-{d:02}");
    }
}

/// A DATE from days since 1970-01-01.
pub fn date(days: i64) -> String {
    match days {
        i64::MAX | 2_147_483_647 => "infinity".into(),
        i64::MIN | -2_147_483_647 | -2_147_483_648 => "-infinity".into(),
        _ => {
            let mut s = String::with_capacity(10);
            push_date(&mut s, days);
            s
        }
    }
}

/// A TIME from microseconds since midnight.
pub fn time(micros: i64) -> String {
    let mut s = String::with_capacity(15);
    push_time(&mut s, micros);
    s
}

/// A TIMESTAMP (or, with `utc`, a TIMESTAMPTZ) from microseconds since 1970-01-01 00:00.
pub fn timestamp(micros: i64, utc: bool) -> String {
    match micros {
        i64::MAX => return "infinity".into(),
        i64::MIN | -9_223_372_036_854_775_807 => return "-infinity".into(),
        _ => {}
    }
    let days = micros.div_euclid(MICROS_PER_DAY);
    let mut s = String::with_capacity(32);
    push_date(&mut s, days);
    s.push('T');
    push_time(&mut s, micros.rem_euclid(MICROS_PER_DAY));
    if utc {
        s.push_str("+00:00");
    }
    s
}

/// An INTERVAL in ISO 8601, as PostgreSQL's `iso_8601` interval style writes it.
pub fn interval(months: i32, days: i32, micros: i64) -> String {
    if months == 0 && days == 0 && micros == 0 {
        return "PT0S".into();
    }
    let mut s = String::from("P");
    let (years, months) = (months / 12, months % 12);
    for (n, unit) in [(years, 'Y'), (months, 'M'), (days, 'D')] {
        if n != 0 {
            let _ = write!(s, "{n}{unit}");
        }
    }
    if micros != 0 {
        s.push('T');
        let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
        let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
        if hours != 0 {
            let _ = write!(s, "{hours}H");
        }
        if minutes != 0 {
            let _ = write!(s, "{minutes}M");
        }
        if rest != 0 {
            if rest < 0 {
                s.push('-');
            }
            let _ = write!(s, "{}", (rest / 1_000_000).unsigned_abs());
            push_fraction(&mut s, rest % 1_000_000);
            s.push('S');
        }
    }
    s
}

/// Bytes as `\x` and lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("\\x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A UUID from its 16 bytes.
pub fn uuid(b: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// A DOUBLE: a JSON number, or the text of a NaN or an infinity.
pub fn double(f: f64) -> Value {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// A REAL: the double its shortest text stands for, so `0.1f32` is `0.1`, not
/// `0.10000000149011612`.
pub fn real(f: f32) -> Value {
    double(f.to_string().parse().unwrap_or(f64::NAN))
}

/// An integer that may not fit 64 bits.
pub fn big_int(i: i128) -> Value {
    i64::try_from(i)
        .map(Value::from)
        .or_else(|_| u64::try_from(i).map(Value::from))
        .unwrap_or_else(|_| Value::String(i.to_string()))
}

/// A decimal from its digits as an integer and its scale: `(250, 2)` is `2.50`.
pub fn decimal(value: i128, scale: u32) -> String {
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let mut s = String::with_capacity(digits.len() + scale + 3);
    if value < 0 {
        s.push('-');
    }
    if scale == 0 {
        s.push_str(&digits);
    } else if digits.len() <= scale {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', scale - digits.len()));
        s.push_str(&digits);
    } else {
        let point = digits.len() - scale;
        s.push_str(&digits[..point]);
        s.push('.');
        s.push_str(&digits[point..]);
    }
    s
}

/// The text of a value in a table cell or a CSV field: strings as they are, `NULL` for null
/// (`null` is the caller's choice), anything else as its JSON.
pub fn cell(v: &Value, null: &str) -> String {
    match v {
        Value::Null => null.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_timestamps() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(18_628), "2021-01-01");
        assert_eq!(date(-1), "1969-12-31");
        assert_eq!(time(0), "00:00:00");
        assert_eq!(time(45_296_500_000), "12:34:56.5");
        assert_eq!(timestamp(1_000_001, false), "1970-01-01T00:00:01.000001");
        assert_eq!(timestamp(-1_000_000, true), "1969-12-31T23:59:59+00:00");
        assert_eq!(timestamp(i64::MAX, false), "infinity");
    }

    #[test]
    fn intervals_like_postgresql_iso_8601_style() {
        assert_eq!(interval(0, 0, 0), "PT0S");
        assert_eq!(interval(14, 3, 14_706_500_000), "P1Y2M3DT4H5M6.5S");
        assert_eq!(interval(-14, 0, 0), "P-1Y-2M");
        assert_eq!(interval(0, -1, -90_000_000), "P-1DT-1M-30S");
        assert_eq!(interval(0, 0, -500_000), "PT-0.5S");
    }

    #[test]
    fn decimals_keep_their_scale_and_digits() {
        assert_eq!(decimal(250, 2), "2.50");
        assert_eq!(decimal(-5, 3), "-0.005");
        assert_eq!(decimal(12, 0), "12");
        assert_eq!(
            decimal(12_345_678_901_234_567_890_123_456_789_012_345_678, 10),
            "1234567890123456789012345678.9012345678"
        );
    }

    #[test]
    fn floats_blobs_and_uuids() {
        assert_eq!(real(0.1), serde_json::json!(0.1));
        assert_eq!(double(f64::NAN), serde_json::json!("NaN"));
        assert_eq!(double(f64::NEG_INFINITY), serde_json::json!("-Infinity"));
        assert_eq!(hex(&[0, 0xab, 0x10]), "\\x00ab10");
        assert_eq!(
            uuid(&[
                0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                0xde, 0xf0
            ]),
            "12345678-9abc-def0-1234-56789abcdef0"
        );
        assert_eq!(big_int(i128::from(u64::MAX) + 1), "18446744073709551616");
    }
}
