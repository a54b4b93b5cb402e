//! PostgreSQL values in their binary wire format, decoded into the canonical text of
//! `crate::text` (the same as DuckDB's).
//!
//! The server sends results of prepared statements in binary; decoding them here, rather than
//! reading the server's text, makes the text independent of session settings (`DateStyle`,
//! `TimeZone`, `IntervalStyle`, `bytea_output`).

use crate::text;
use postgres::types::{FromSql, Kind, Type};
use serde_json::Value;

type DecodeError = Box<dyn std::error::Error + Sync + Send>;

/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const EPOCH_DAYS: i64 = 10_957;
const EPOCH_MICROS: i64 = EPOCH_DAYS * 86_400_000_000;

/// One value of a result, as JSON.
pub(crate) struct Cell(pub Value);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, DecodeError> {
        decode(ty, raw).map(Cell)
    }

    fn accepts(ty: &Type) -> bool {
        known(ty)
    }
}

/// Whether `decode` understands values of this type.
pub(crate) fn known(ty: &Type) -> bool {
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Array(elem) | Kind::Domain(elem) => known(elem),
        Kind::Simple => [
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::OID,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::VARCHAR,
            Type::BPCHAR,
            Type::NAME,
            Type::UNKNOWN,
            Type::CHAR,
            Type::DATE,
            Type::TIME,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
            Type::UUID,
            Type::BYTEA,
            Type::JSON,
            Type::JSONB,
        ]
        .contains(ty),
        _ => false,
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], DecodeError> {
    raw.get(..N)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("a value of {} bytes where {N} were expected", raw.len()).into())
}

fn i16_at(raw: &[u8], at: usize) -> Result<i16, DecodeError> {
    Ok(i16::from_be_bytes(fixed(raw.get(at..).unwrap_or(&[]))?))
}

fn i32_at(raw: &[u8], at: usize) -> Result<i32, DecodeError> {
    Ok(i32::from_be_bytes(fixed(raw.get(at..).unwrap_or(&[]))?))
}

fn i64_at(raw: &[u8], at: usize) -> Result<i64, DecodeError> {
    Ok(i64::from_be_bytes(fixed(raw.get(at..).unwrap_or(&[]))?))
}

fn utf8(raw: &[u8]) -> Result<String, DecodeError> {
    Ok(std::str::from_utf8(raw)?.to_string())
}

fn decode(ty: &Type, raw: &[u8]) -> Result<Value, DecodeError> {
    match ty.kind() {
        Kind::Enum(_) => return utf8(raw).map(Value::String),
        Kind::Domain(base) => return decode(base, raw),
        Kind::Array(elem) => return array(elem, raw),
        _ => {}
    }
    Ok(match *ty {
        Type::BOOL => Value::Bool(fixed::<1>(raw)?[0] != 0),
        Type::INT2 => i16_at(raw, 0)?.into(),
        Type::INT4 => i32_at(raw, 0)?.into(),
        Type::INT8 => i64_at(raw, 0)?.into(),
        Type::OID => u32::from_be_bytes(fixed(raw)?).into(),
        Type::FLOAT4 => text::real(f32::from_be_bytes(fixed(raw)?)),
        Type::FLOAT8 => text::double(f64::from_be_bytes(fixed(raw)?)),
        Type::NUMERIC => numeric(raw)?,
        Type::DATE => Value::String(match i32_at(raw, 0)? {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            d => text::date(i64::from(d) + EPOCH_DAYS),
        }),
        Type::TIME => Value::String(text::time(i64_at(raw, 0)?)),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let utc = *ty == Type::TIMESTAMPTZ;
            Value::String(match i64_at(raw, 0)? {
                i64::MAX => "infinity".into(),
                i64::MIN => "-infinity".into(),
                t => text::timestamp(t.saturating_add(EPOCH_MICROS), utc),
            })
        }
        Type::INTERVAL => Value::String(text::interval(
            i32_at(raw, 12)?,
            i32_at(raw, 8)?,
            i64_at(raw, 0)?,
        )),
        Type::UUID => Value::String(text::uuid(&fixed(raw)?)),
        Type::BYTEA => Value::String(text::hex(raw)),
        Type::JSON => serde_json::from_slice(raw)?,
        // A version byte (1), then the JSON text.
        Type::JSONB => serde_json::from_slice(raw.get(1..).unwrap_or(&[]))?,
        Type::CHAR => Value::String(char::from(fixed::<1>(raw)?[0]).to_string()),
        _ => utf8(raw).map(Value::String)?,
    })
}

/// NUMERIC: digit count, weight of the first base-10000 digit, sign, display scale, digits.
fn numeric(raw: &[u8]) -> Result<Value, DecodeError> {
    let ndigits = usize::try_from(i16_at(raw, 0)?).map_err(|_| "a negative digit count")?;
    let weight = i64::from(i16_at(raw, 2)?);
    let sign = u16::from_be_bytes(fixed(raw.get(4..).unwrap_or(&[]))?);
    let dscale = usize::from(u16::from_be_bytes(fixed(raw.get(6..).unwrap_or(&[]))?));
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|i| i16_at(raw, 8 + 2 * i))
        .collect::<Result<Vec<_>, _>>()?;
    let group = |i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        s.push_str(&group(0).to_string());
        for i in 1..=weight {
            s.push_str(&format!("{:04}", group(i)));
        }
    }
    if dscale > 0 {
        s.push('.');
        let mut frac = String::with_capacity(dscale + 4);
        let mut i = weight + 1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", group(i)));
            i += 1;
        }
        frac.truncate(dscale);
        s.push_str(&frac);
    }
    Ok(Value::String(s))
}

/// An array: dimensions, a null flag, the element type, each dimension's length and lower
/// bound, then each element's length (-1 for NULL) and bytes. Nested dimensions become nested
/// JSON arrays.
fn array(elem: &Type, raw: &[u8]) -> Result<Value, DecodeError> {
    let ndim = usize::try_from(i32_at(raw, 0)?).map_err(|_| "a negative dimension count")?;
    let mut lens = Vec::with_capacity(ndim);
    for d in 0..ndim {
        lens.push(usize::try_from(i32_at(raw, 12 + 8 * d)?).map_err(|_| "a negative length")?);
    }
    let mut at = 12 + 8 * ndim;
    let total: usize = if ndim == 0 { 0 } else { lens.iter().product() };
    let mut items = Vec::with_capacity(total);
    for _ in 0..total {
        let len = i32_at(raw, at)?;
        at += 4;
        if len < 0 {
            items.push(Value::Null);
            continue;
        }
        let len = len as usize;
        let bytes = raw
            .get(at..at + len)
            .ok_or("an array element past its end")?;
        items.push(decode(elem, bytes)?);
        at += len;
    }
    // Innermost dimension first: group the flat items into nested arrays.
    for &len in lens.iter().skip(1).rev() {
        items = items
            .chunks(len.max(1))
            .map(|c| Value::Array(c.to_vec()))
            .collect();
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Value {
        let mut raw = Vec::new();
        for v in [ndigits, weight] {
            raw.extend_from_slice(&v.to_be_bytes());
        }
        raw.extend_from_slice(&sign.to_be_bytes());
        raw.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        numeric(&raw).unwrap()
    }

    #[test]
    fn numerics_keep_their_digits_and_scale() {
        assert_eq!(num(2, 0, 0, 2, &[1, 2500]), "1.25");
        assert_eq!(num(2, 0, 0, 2, &[2, 5000]), "2.50");
        assert_eq!(num(1, -1, 0x4000, 3, &[50]), "-0.005");
        assert_eq!(num(2, 1, 0, 0, &[12, 3456]), "123456");
        assert_eq!(num(1, 1, 0, 0, &[1]), "10000");
        assert_eq!(num(0, 0, 0, 2, &[]), "0.00");
        assert_eq!(num(1, -2, 0, 8, &[12]), "0.00000012");
        assert_eq!(num(0, 0, 0xC000, 0, &[]), "NaN");
    }
}
