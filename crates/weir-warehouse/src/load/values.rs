//! What a CSV field means for a column type: the kinds the load understands, and strict parsers
//! for them.
//!
//! Parsing happens in weir, not in the engine, so that a bad value is reported the same way on
//! every engine: with its line, its column and the value itself.

/// The column types the load converts itself. Anything else is `Other`: passed through as text
/// and cast by the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Bool,
    Date,
    Timestamp,
    Other(String),
}

impl Kind {
    /// The kind of a column from the type name its engine reports (DuckDB's or PostgreSQL's
    /// `information_schema.columns.data_type`).
    pub fn of(type_name: &str) -> Kind {
        let t = type_name.trim().to_ascii_lowercase();
        match t.as_str() {
            "varchar" | "text" | "string" | "character varying" | "bpchar" | "character" => {
                Kind::Text
            }
            "smallint" | "int2" | "short" => Kind::Int16,
            "integer" | "int" | "int4" | "signed" => Kind::Int32,
            "bigint" | "int8" | "long" => Kind::Int64,
            "float" | "real" | "float4" => Kind::Float32,
            "double" | "double precision" | "float8" => Kind::Float64,
            "boolean" | "bool" | "logical" => Kind::Bool,
            "date" => Kind::Date,
            "timestamp" | "timestamp without time zone" | "datetime" => Kind::Timestamp,
            _ if t.starts_with("varchar(") || t.starts_with("character varying(") => Kind::Text,
            _ => Kind::Other(type_name.to_string()),
        }
    }

    /// What a value of this kind is, for error messages ("`abc` is not …").
    pub fn expected(&self) -> String {
        match self {
            Kind::Text => "valid UTF-8 text".into(),
            Kind::Int16 => "a SMALLINT (a whole number from -32768 to 32767)".into(),
            Kind::Int32 => "an INTEGER (a whole number)".into(),
            Kind::Int64 => "a BIGINT (a whole number)".into(),
            Kind::Float32 => "a REAL number".into(),
            Kind::Float64 => "a DOUBLE number".into(),
            Kind::Bool => "a BOOLEAN (true/false)".into(),
            Kind::Date => "a DATE (YYYY-MM-DD)".into(),
            Kind::Timestamp => "a TIMESTAMP (YYYY-MM-DD HH:MM:SS[.ffffff])".into(),
            Kind::Other(t) => format!("a {t}"),
        }
    }
}

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(trim(b)).ok()
}

/// Without surrounding ASCII whitespace; free when there is none, the usual case.
fn trim(b: &[u8]) -> &[u8] {
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii_whitespace() || l.is_ascii_whitespace() => b.trim_ascii(),
        _ => b,
    }
}

pub fn parse_int(b: &[u8]) -> Option<i64> {
    let b = trim(b);
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -n } else { n })
}

/// Powers of ten that are exact doubles.
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten that are exact floats.
const POW10_F32: [f32; 11] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10];

/// A plain decimal (`[+-]digits[.digits]`, at most 19 digits) as its sign, digits as an integer
/// and number of digits after the point.
fn plain_decimal(b: &[u8]) -> Option<(bool, u64, usize)> {
    let (negative, rest) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let (mut m, mut digits, mut frac, mut point) = (0u64, 0usize, 0usize, false);
    for &c in rest {
        match c {
            b'0'..=b'9' if digits < 19 => {
                m = m * 10 + u64::from(c - b'0');
                digits += 1;
                frac += usize::from(point);
            }
            b'.' if !point => point = true,
            _ => return None,
        }
    }
    (digits > 0).then_some((negative, m, frac))
}

/// A DOUBLE. Plain decimals whose digits fit a double exactly take the fast path: the digits and
/// the power of ten are both exact, so one division rounds correctly (Clinger's fast path);
/// anything else (exponents, `inf`, long fractions) goes to the standard library's parser.
pub fn parse_float(b: &[u8]) -> Option<f64> {
    parse_decimal(b, &POW10_F64, 1 << 53, |m| m as f64)
}

/// A REAL, parsed as one (not as a double rounded again to a float), the same way.
pub fn parse_float32(b: &[u8]) -> Option<f32> {
    parse_decimal(b, &POW10_F32, 1 << 24, |m| m as f32)
}

/// A float whose digits below `exact_below` and powers of ten in `pow10` are exact.
fn parse_decimal<T>(b: &[u8], pow10: &[T], exact_below: u64, exact: fn(u64) -> T) -> Option<T>
where
    T: Copy + std::str::FromStr + std::ops::Div<Output = T> + std::ops::Neg<Output = T>,
{
    let b = trim(b);
    match plain_decimal(b) {
        Some((negative, m, frac)) if m < exact_below && frac < pow10.len() => {
            let v = exact(m) / pow10[frac];
            Some(if negative { -v } else { v })
        }
        _ => std::str::from_utf8(b).ok()?.parse().ok(),
    }
}

pub fn parse_bool(b: &[u8]) -> Option<bool> {
    match text(b)?.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" | "y" => Some(true),
        "false" | "f" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// `YYYY-MM-DD` → days since the Unix epoch.
fn date_part(b: &[u8]) -> Option<i64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let max_day = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(i64::from(y)) => 29,
        2 => 28,
        _ => return None,
    };
    if d == 0 || d > max_day {
        return None;
    }
    Some(weir_core::civil::days_from_civil(i64::from(y), m, d))
}

pub fn parse_date(b: &[u8]) -> Option<i32> {
    let b = trim(b);
    date_part(b).and_then(|d| i32::try_from(d).ok())
}

/// `YYYY-MM-DD[ |T]HH:MM[:SS[.fraction]]`, or a bare date → microseconds since the Unix epoch.
pub fn parse_timestamp(b: &[u8]) -> Option<i64> {
    let b = trim(b);
    let days = date_part(b.get(..10)?)?;
    let mut micros = days * 86_400_000_000;
    let rest = &b[10..];
    if rest.is_empty() {
        return Some(micros);
    }
    if !(rest[0] == b' ' || rest[0] == b'T') || rest.len() < 6 || rest[3] != b':' {
        return None;
    }
    let (h, mi) = (digits(&rest[1..3])?, digits(&rest[4..6])?);
    let mut s = 0;
    let mut frac = 0i64;
    let tail = &rest[6..];
    if !tail.is_empty() {
        if tail[0] != b':' || tail.len() < 3 {
            return None;
        }
        s = digits(&tail[1..3])?;
        let f = &tail[3..];
        if !f.is_empty() {
            if f[0] != b'.' || f.len() == 1 {
                return None;
            }
            let f = &f[1..];
            digits(f)?;
            // Microseconds: the first six digits, padded.
            for i in 0..6 {
                frac = frac * 10 + f.get(i).map_or(0, |d| i64::from(d - b'0'));
            }
        }
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    micros += (i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)) * 1_000_000 + frac;
    Some(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_both_engines_type_names() {
        assert_eq!(Kind::of("VARCHAR"), Kind::Text);
        assert_eq!(Kind::of("text"), Kind::Text);
        assert_eq!(Kind::of("character varying(20)"), Kind::Text);
        assert_eq!(Kind::of("INTEGER"), Kind::Int32);
        assert_eq!(Kind::of("double precision"), Kind::Float64);
        assert_eq!(Kind::of("timestamp without time zone"), Kind::Timestamp);
        assert_eq!(
            Kind::of("DECIMAL(10,2)"),
            Kind::Other("DECIMAL(10,2)".into())
        );
    }

    #[test]
    fn numbers_and_booleans() {
        assert_eq!(parse_int(b"42"), Some(42));
        assert_eq!(parse_int(b" -7 "), Some(-7));
        assert_eq!(parse_int(b"1.0"), None);
        assert_eq!(parse_int(b"abc"), None);
        assert_eq!(parse_int(b"+3"), Some(3));
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_float(b"1.40"), Some(1.4));
        assert_eq!(parse_float(b"-0.5e2"), Some(-50.0));
        assert_eq!(parse_float(b"1,5"), None);
        assert_eq!(parse_float(b"."), None);
        assert_eq!(parse_float(b"-"), None);
        assert_eq!(parse_float(b"1.2.3"), None);
        assert_eq!(parse_float(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_float32(b"0.1"), Some(0.1f32));
        assert_eq!(parse_bool(b"TRUE"), Some(true));
        assert_eq!(parse_bool(b"n"), Some(false));
        assert_eq!(parse_bool(b"maybe"), None);
    }

    #[test]
    fn dates_and_timestamps() {
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_date(b"2021-03-01"), Some(18_687));
        assert_eq!(parse_date(b"2020-02-29"), Some(18_321));
        assert_eq!(parse_date(b"2021-02-29"), None);
        assert_eq!(parse_date(b"2021-13-01"), None);
        assert_eq!(parse_timestamp(b"1970-01-01 00:00:01"), Some(1_000_000));
        assert_eq!(
            parse_timestamp(b"2021-01-01 00:15:56"),
            Some((18_628 * 86_400 + 15 * 60 + 56) * 1_000_000)
        );
        assert_eq!(
            parse_timestamp(b"2021-01-01T00:00:00.25"),
            Some(18_628 * 86_400 * 1_000_000 + 250_000)
        );
        assert_eq!(
            parse_timestamp(b"2021-01-01 00:00"),
            Some(18_628 * 86_400 * 1_000_000)
        );
        assert_eq!(
            parse_timestamp(b"2021-01-01"),
            Some(18_628 * 86_400 * 1_000_000)
        );
        assert_eq!(parse_timestamp(b"1969-12-31 23:59:59"), Some(-1_000_000));
        assert_eq!(parse_timestamp(b"2021-01-01 24:00:00"), None);
        assert_eq!(parse_timestamp(b"2021-01-01 00:00:00+02"), None);
        assert_eq!(parse_timestamp(b"yesterday"), None);
    }

    /// The fast paths give exactly what the standard library's correctly rounded parser gives.
    #[test]
    fn fast_float_paths_round_like_the_standard_library() {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200_000 {
            let r = next();
            let int_digits = (r % 12) as usize;
            let frac_digits = ((r >> 8) % 12) as usize;
            let mut s = String::new();
            if r & (1 << 20) != 0 {
                s.push('-');
            }
            for i in 0..int_digits {
                s.push(char::from(b'0' + ((next() >> (i % 7)) % 10) as u8));
            }
            if frac_digits > 0 || int_digits == 0 {
                s.push('.');
                for i in 0..frac_digits.max(1) {
                    s.push(char::from(b'0' + ((next() >> (i % 5)) % 10) as u8));
                }
            }
            let want64 = s.parse::<f64>().ok();
            let want32 = s.parse::<f32>().ok();
            assert_eq!(
                parse_float(s.as_bytes()).map(f64::to_bits),
                want64.map(f64::to_bits),
                "{s}"
            );
            assert_eq!(
                parse_float32(s.as_bytes()).map(f32::to_bits),
                want32.map(f32::to_bits),
                "{s}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes: every parser answers, none panics or overflows.
            #[test]
            fn any_bytes_parse_or_are_refused(b in prop::collection::vec(any::<u8>(), 0..40)) {
                let _ = (parse_int(&b), parse_float(&b), parse_float32(&b), parse_bool(&b));
                let _ = (parse_date(&b), parse_timestamp(&b));
            }

            /// Text shaped like the values, with digits where they break things.
            #[test]
            fn value_shaped_text_parses_or_is_refused(s in "[-+ ]?[0-9]{0,25}(\\.[0-9]{0,25})?([eE][-+]?[0-9]{0,5})?") {
                let _ = (parse_int(s.as_bytes()), parse_float(s.as_bytes()), parse_float32(s.as_bytes()));
            }

            #[test]
            fn integers_round_trip(n: i64) {
                prop_assert_eq!(parse_int(n.to_string().as_bytes()), Some(n));
            }

            /// Every day of years 1..9999 comes back as its day count, the same as chrono's.
            #[test]
            fn dates_and_timestamps_agree_with_chrono(
                days in -719_162i32..2_932_896,
                secs in 0u32..86_400,
                micros in 0u32..1_000_000,
            ) {
                let date = chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163).unwrap();
                prop_assert_eq!(parse_date(date.format("%Y-%m-%d").to_string().as_bytes()), Some(days));
                let t = date.and_hms_micro_opt(secs / 3600, secs / 60 % 60, secs % 60, micros).unwrap();
                let text = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
                prop_assert_eq!(parse_timestamp(text.as_bytes()), Some(t.and_utc().timestamp_micros()));
            }
        }
    }
}
