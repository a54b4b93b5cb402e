//! Pebble's and Kestra's filters that minijinja lacks or defines differently.

use minijinja::Error;
use minijinja::value::{Value, ValueKind};

use super::err;

/// Java's `String.split(regex, limit)`: the delimiter is a regular expression; a positive
/// `limit` caps the number of pieces (the last keeps the rest), zero drops trailing empty
/// pieces, a negative one keeps them. minijinja's `split` counts splits instead and takes
/// the delimiter literally.
pub(super) fn split(
    text: String,
    delimiter: Option<String>,
    limit: Option<i64>,
) -> Result<Value, Error> {
    let Some(delimiter) = delimiter else {
        // Pebble requires a delimiter; splitting on whitespace keeps Jinja's meaning.
        return Ok(Value::from_iter(text.split_whitespace().map(Value::from)));
    };
    let re = regex::Regex::new(&delimiter).map_err(|e| {
        err(format!(
            "split: `{delimiter}` is not a valid regular expression: {e}"
        ))
    })?;
    let limit = limit.unwrap_or(0);
    let max_pieces = usize::try_from(limit).ok().filter(|&n| n > 0);
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    for m in re.find_iter(&text) {
        if max_pieces.is_some_and(|n| pieces.len() + 1 >= n) {
            break;
        }
        // A zero-width match at the start yields no leading empty piece (Java 8 and later).
        if m.end() == 0 {
            continue;
        }
        if m.start() == m.end() && m.start() == start && start != 0 {
            continue;
        }
        pieces.push(&text[start..m.start()]);
        start = m.end();
    }
    pieces.push(&text[start..]);
    if limit == 0 {
        while pieces.len() > 1 && pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        if pieces == [""] && !text.is_empty() {
            pieces.clear();
        }
    }
    Ok(Value::from_iter(pieces.into_iter().map(Value::from)))
}

/// Java's `URLEncoder.encode(s, UTF_8)` (form encoding): letters, digits and `.-*_` stay,
/// a space becomes `+`, every other byte is `%XX`. minijinja's `urlencode` writes `%20`.
pub(super) fn urlencode(text: String) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Java's `URLDecoder.decode(s, UTF_8)`: `+` is a space, `%XX` a byte.
pub(super) fn urldecode(text: String) -> Result<String, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = text
                    .get(i + 1..i + 3)
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| err(format!("urldecode: bad escape at byte {i} of `{text}`")))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| err(format!("urldecode: `{text}` does not decode to UTF-8 text")))
}

/// Kestra's `escapeChar('single' | 'double' | 'shell')`.
pub(super) fn escape_char(text: String, kind: String) -> Result<String, Error> {
    match kind.as_str() {
        "single" => Ok(text.replace('\'', "\\'")),
        "double" => Ok(text.replace('"', "\\\"")),
        // Closes the shell's single quotes, adds an escaped quote, and reopens them.
        "shell" => Ok(text.replace('\'', "'\\''")),
        other => Err(err(format!(
            "escapeChar: unknown type `{other}`: expected `single`, `double` or `shell`"
        ))),
    }
}

fn items(value: &Value, filter: &str) -> Result<Vec<Value>, Error> {
    match value.kind() {
        ValueKind::Seq | ValueKind::Iterable => Ok(value.try_iter()?.collect()),
        _ => Err(err(format!("{filter} expects a list, got `{value}`"))),
    }
}

/// Pebble's `rsort`: the list sorted in descending order.
pub(super) fn rsort(value: Value) -> Result<Value, Error> {
    let mut list = items(&value, "rsort")?;
    list.sort_by(|a, b| b.cmp(a));
    Ok(Value::from(list))
}

/// Kestra's `chunk(size)`: the list cut into lists of `size` items (the last may be shorter).
pub(super) fn chunk(value: Value, size: usize) -> Result<Value, Error> {
    if size == 0 {
        return Err(err("chunk: the size must be at least 1"));
    }
    let list = items(&value, "chunk")?;
    Ok(Value::from(
        list.chunks(size)
            .map(|c| Value::from(c.to_vec()))
            .collect::<Vec<_>>(),
    ))
}

/// Kestra's `flatten`: one level of nesting removed; items that are not lists stay as they are.
pub(super) fn flatten(value: Value) -> Result<Value, Error> {
    let mut out = Vec::new();
    for item in items(&value, "flatten")? {
        if item.kind() == ValueKind::Seq {
            out.extend(item.try_iter()?);
        } else {
            out.push(item);
        }
    }
    Ok(Value::from(out))
}

/// Pebble's `merge`: two lists joined, or two maps combined (the argument's keys win).
pub(super) fn merge(value: Value, other: Value) -> Result<Value, Error> {
    match (value.kind(), other.kind()) {
        (ValueKind::Map, ValueKind::Map) => {
            // A map, not a list of pairs: a key of `other` replaces the same key of `value`.
            let mut out = serde_json::Map::new();
            for source in [&value, &other] {
                if let serde_json::Value::Object(map) = crate::json::from_value(source) {
                    out.extend(map);
                }
            }
            Ok(crate::json::to_value(std::sync::Arc::new(
                serde_json::Value::Object(out),
            )))
        }
        _ => {
            let mut out = items(&value, "merge")?;
            out.extend(items(&other, "merge")?);
            Ok(Value::from(out))
        }
    }
}

/// Kestra's `json` test: the value is a string holding valid JSON.
pub(super) fn is_json(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| serde_json::from_str::<serde_json::Value>(s).is_ok())
}

/// Java's `DecimalFormat` for the usual patterns (`#,##0.00`, `#.##`, `0.0%`): `0` is a digit
/// always shown, `#` one shown when needed, `,` groups the integer digits, and the value is
/// rounded half to even. Scientific notation and quoted text are not supported.
pub(super) fn number_format(value: Value, pattern: String) -> Result<String, Error> {
    let number = match value.kind() {
        ValueKind::Number => f64::try_from(value.clone()).ok(),
        ValueKind::String => value.as_str().and_then(|s| s.trim().parse().ok()),
        _ => None,
    }
    .ok_or_else(|| err(format!("numberFormat: `{value}` is not a number")))?;
    // Only the positive part of `positive;negative` is used: Java's default negative form
    // is the positive one with a minus sign.
    let positive = pattern.split(';').next().unwrap_or_default();
    let is_body = |c: char| "#0,.".contains(c);
    let start = positive.find(is_body).unwrap_or(positive.len());
    let end = positive.rfind(is_body).map_or(start, |i| i + 1);
    let (prefix, body, suffix) = (&positive[..start], &positive[start..end], &positive[end..]);
    if body.contains('E') || positive.contains('\'') {
        return Err(err(format!(
            "numberFormat: pattern `{pattern}` is not supported (no exponents or quoted text)"
        )));
    }
    let scale = if prefix.contains('%') || suffix.contains('%') {
        100.0
    } else {
        1.0
    };
    let (int_pattern, frac_pattern) = body.split_once('.').unwrap_or((body, ""));
    let min_int = int_pattern.chars().filter(|&c| c == '0').count();
    let min_frac = frac_pattern.chars().filter(|&c| c == '0').count();
    let max_frac = frac_pattern
        .chars()
        .filter(|&c| c == '0' || c == '#')
        .count();
    let group = int_pattern
        .rfind(',')
        .map(|i| int_pattern.len() - i - 1)
        .filter(|&g| g > 0);

    let rounded = format!("{:.*}", max_frac, (number * scale).abs());
    let (int_digits, frac_digits) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let mut frac = frac_digits.to_string();
    while frac.len() > min_frac && frac.ends_with('0') {
        frac.pop();
    }
    let mut int = int_digits.trim_start_matches('0').to_string();
    while int.len() < min_int {
        int.insert(0, '0');
    }
    if int.is_empty() && frac.is_empty() {
        int.push('0');
    }
    if let Some(size) = group {
        let digits: Vec<char> = int.chars().collect();
        int = digits
            .rchunks(size)
            .rev()
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(",");
    }
    let negative = number < 0.0 && (int.chars().chain(frac.chars())).any(|c| c != '0' && c != ',');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(prefix);
    out.push_str(&int);
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    out.push_str(suffix);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(n: f64, pattern: &str) -> String {
        number_format(Value::from(n), pattern.into()).unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn decimal_format_patterns() {
        assert_eq!(fmt(1.234_56, "#.##"), "1.23");
        assert_eq!(fmt(1234.5, "#,##0.00"), "1,234.50");
        assert_eq!(fmt(0.456, "#.##"), ".46");
        assert_eq!(fmt(0.0, "#.##"), "0");
        assert_eq!(fmt(-7.0, "000"), "-007");
        assert_eq!(fmt(0.125, "0.0%"), "12.5%");
        assert_eq!(fmt(2.5, "#"), "2");
    }

    #[test]
    fn java_split() {
        let split = |s: &str, d: &str, limit: Option<i64>| -> Vec<String> {
            split(s.into(), Some(d.into()), limit)
                .and_then(|v| Ok(v.try_iter()?.map(|p| p.to_string()).collect()))
                .unwrap_or_else(|e| vec![e.to_string()])
        };
        assert_eq!(split("a.b.c", "\\.", None), ["a", "b", "c"]);
        assert_eq!(split("a,b,,", ",", None), ["a", "b"]);
        assert_eq!(split("a,b,,", ",", Some(-1)), ["a", "b", "", ""]);
        assert_eq!(split("a,b,c", ",", Some(2)), ["a", "b,c"]);
        assert_eq!(split("a1b22c", "\\d+", None), ["a", "b", "c"]);
        assert_eq!(split("", ",", None), [""]);
    }
}
