//! Seeds: a CSV read and typed as dbt does (agate's type tester, in dbt's order of types), and the
//! statements that load it.
//!
//! Inference, per column, over every row: the first of number, date (`%Y-%m-%d`), datetime
//! (`%Y-%m-%d %H:%M:%S`), ISO-8601 datetime (with a `T`), boolean (`true`/`false`, any case)
//! that every non-null cell parses as, else text. Empty, blank and `null` cells are NULL in
//! every column; a column of NULLs only is an integer, as in dbt. Numbers are `integer` when no
//! cell has decimals and `float8` otherwise (dbt's `convert_number_type`), `bigint` where a cell
//! would overflow `integer` (dbt would fail there). `column_types` overrides a column's type and,
//! as in dbt, keeps its cells as text (`00501` stays `00501`).

use serde_json::{Map, Value};
use weir_core::{Diagnostic, Location};

/// Rows per `insert` statement.
pub const SEED_BATCH_SIZE: usize = 1000;

/// A seed's columns with their SQL types, and its rows as text (`None` for NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedTable {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Reads a seed's CSV (a header row, RFC 4180 quoting, an optional BOM) and types its columns as
/// dbt does, `column_types` (column → SQL type) taking precedence. Number and boolean cells are
/// normalized (`1,234` → `1234`, `TRUE` → `true`) as dbt's agate casts them.
///
/// Errors name the file, line and column: an unterminated quote, a row with more cells than
/// the header, an empty or duplicate column name, a file without a header.
pub fn read_seed(
    file: &str,
    csv: &str,
    column_types: &Map<String, Value>,
    adapter: &str,
) -> Result<SeedTable, Diagnostic> {
    let records = parse_csv(file, csv.strip_prefix('\u{feff}').unwrap_or(csv))?;
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        return Err(diag(
            file,
            1,
            1,
            "the seed is empty: a header row is needed",
        ));
    };
    let mut names: Vec<String> = Vec::new();
    for (i, cell) in header.cells.iter().enumerate() {
        let name = cell.text.trim().to_string();
        if name.is_empty() {
            return Err(diag(
                file,
                cell.line,
                cell.column,
                format!("column {} of the header has no name", i + 1),
            ));
        }
        if names.contains(&name) {
            return Err(diag(
                file,
                cell.line,
                cell.column,
                format!("column `{name}` appears twice in the header"),
            ));
        }
        names.push(name);
    }

    let width = names.len();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for record in records {
        if record.cells.len() == 1 && record.cells[0].text.is_empty() && !record.cells[0].quoted {
            continue; // a blank line
        }
        if record.cells.len() > width {
            let extra = &record.cells[width];
            return Err(diag(
                file,
                extra.line,
                extra.column,
                format!(
                    "this row has {} values but the header names {width} columns",
                    record.cells.len()
                ),
            )
            .with_hint("quote values that contain commas: \"a, b\""));
        }
        let mut row: Vec<Option<String>> = record
            .cells
            .into_iter()
            .map(|c| (!is_null(&c.text)).then_some(c.text))
            .collect();
        row.resize(width, None);
        rows.push(row);
    }

    let mut columns = Vec::with_capacity(width);
    for (i, name) in names.iter().enumerate() {
        let sql_type = match column_types.get(name) {
            Some(v) => crate::project::scalar_text(v),
            None => {
                let kind = infer(rows.iter().filter_map(|r| r[i].as_deref()));
                for row in &mut rows {
                    if let Some(v) = &mut row[i] {
                        *v = normalize(kind, v);
                    }
                }
                sql_type(kind, adapter, rows.iter().filter_map(|r| r[i].as_deref()))
            }
        };
        columns.push((name.clone(), sql_type));
    }
    Ok(SeedTable { columns, rows })
}

/// The statements that load a seed into `relation` (rendered, `"db"."schema"."name"`):
/// `create table` when the table does not exist (`existing: false`; on `--full-refresh` the
/// caller drops an existing one first, as dbt does) or `truncate table` when it does
/// (`existing: true`, dbt's reload without `--full-refresh`), then `insert … values` in batches of
/// `SEED_BATCH_SIZE` rows. Column names are quoted (dbt's default `quote_columns`).
pub fn seed_statements(
    table: &SeedTable,
    relation: &str,
    adapter: &str,
    existing: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let names: Vec<String> = table.columns.iter().map(|(n, _)| quote_ident(n)).collect();
    if existing {
        out.push(format!("truncate table {relation}"));
    } else {
        let cols: Vec<String> = table
            .columns
            .iter()
            .zip(&names)
            .map(|((_, t), n)| format!("{n} {t}"))
            .collect();
        out.push(format!("create table {relation} ({})", cols.join(", ")));
    }
    let kinds: Vec<LiteralKind> = table.columns.iter().map(|(_, t)| literal_kind(t)).collect();
    for chunk in table.rows.chunks(SEED_BATCH_SIZE) {
        let mut sql = format!("insert into {relation} ({}) values\n", names.join(", "));
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(",\n");
            }
            sql.push('(');
            for (c, value) in row.iter().enumerate() {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&literal(value.as_deref(), kinds[c], adapter));
            }
            sql.push(')');
        }
        out.push(sql);
    }
    out
}

// ---- types -------------------------------------------------------------------------------------

/// agate's types, in dbt's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Only for columns of NULLs (dbt's `Integer` never matches text).
    Null,
    Number,
    Date,
    DateTime,
    IsoDateTime,
    Boolean,
    Text,
}

fn is_null(cell: &str) -> bool {
    let t = cell.trim();
    t.is_empty() || t.eq_ignore_ascii_case("null")
}

fn infer<'a>(values: impl Iterator<Item = &'a str>) -> Kind {
    let mut possible = [
        Kind::Number,
        Kind::Date,
        Kind::DateTime,
        Kind::IsoDateTime,
        Kind::Boolean,
    ]
    .to_vec();
    let mut any = false;
    for v in values {
        any = true;
        possible.retain(|k| fits(*k, v.trim()));
        if possible.is_empty() {
            return Kind::Text;
        }
    }
    if any { possible[0] } else { Kind::Null }
}

fn fits(kind: Kind, v: &str) -> bool {
    match kind {
        Kind::Number => number(v).is_some(),
        Kind::Date => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok(),
        Kind::DateTime => chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S").is_ok(),
        Kind::IsoDateTime => iso_datetime(v),
        Kind::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        Kind::Null | Kind::Text => true,
    }
}

/// agate's `Number` on text: currency symbols and group separators dropped, then a decimal.
/// Returns the number as SQL can read it.
fn number(v: &str) -> Option<String> {
    let mut s: String = v
        .chars()
        .filter(|c| !matches!(c, ',' | '$' | '€' | '£' | '¥' | ' '))
        .collect();
    if let Some(rest) = s.strip_prefix('+') {
        s = rest.to_string();
    }
    let body = s.strip_prefix('-').unwrap_or(&s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let ok = !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exponent.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        });
    ok.then_some(s)
}

/// Digits after the point, as agate's `MaxPrecision` counts them (`1.50` → 2, `1e-3` → 3).
fn precision(n: &str) -> i64 {
    let body = n.trim_start_matches('-');
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (body, 0),
    };
    let frac = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i64);
    frac - exponent
}

/// isodate's `parse_datetime`: a date and a time joined by `T`, with an optional offset.
fn iso_datetime(v: &str) -> bool {
    let Some((date, time)) = v.split_once('T') else {
        return false;
    };
    let date_ok = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok()
        || (date.len() == 8 && chrono::NaiveDate::parse_from_str(date, "%Y%m%d").is_ok());
    if !date_ok {
        return false;
    }
    let time = time.strip_suffix('Z').unwrap_or(time);
    let time = match time.rfind(['+', '-']) {
        Some(i) => {
            let offset = &time[i + 1..];
            let offset_ok = matches!(offset.len(), 2 | 4 | 5)
                && offset
                    .bytes()
                    .filter(|b| *b != b':')
                    .all(|b| b.is_ascii_digit());
            if !offset_ok {
                return false;
            }
            &time[..i]
        }
        None => time,
    };
    ["%H:%M:%S%.f", "%H:%M", "%H%M%S%.f", "%H%M"]
        .iter()
        .any(|f| chrono::NaiveTime::parse_from_str(time, f).is_ok())
}

/// A cell as dbt loads it: numbers without separators, booleans in lower case.
fn normalize(kind: Kind, v: &str) -> String {
    match kind {
        Kind::Number => number(v.trim()).unwrap_or_else(|| v.to_string()),
        Kind::Boolean => v.trim().to_ascii_lowercase(),
        Kind::Date | Kind::DateTime | Kind::IsoDateTime => v.trim().to_string(),
        Kind::Null | Kind::Text => v.to_string(),
    }
}

/// The adapter's type for a kind (dbt's `convert_*_type` for postgres, duckdb and redshift).
fn sql_type<'a>(kind: Kind, adapter: &str, values: impl Iterator<Item = &'a str>) -> String {
    match kind {
        Kind::Null => "integer".into(),
        Kind::Number => {
            let values: Vec<&str> = values.collect();
            if values.iter().any(|v| precision(v) > 0) {
                "float8".into()
            } else if values.iter().any(|v| v.parse::<i32>().is_err()) {
                "bigint".into()
            } else {
                "integer".into()
            }
        }
        Kind::Date => "date".into(),
        Kind::DateTime | Kind::IsoDateTime => "timestamp without time zone".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Text if adapter == "redshift" => {
            let longest = values.map(str::len).max().unwrap_or(64);
            format!("varchar({longest})")
        }
        Kind::Text => "text".into(),
    }
}

// ---- literals ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LiteralKind {
    Number,
    Boolean,
    String,
}

fn literal_kind(sql_type: &str) -> LiteralKind {
    let t = sql_type.trim().to_ascii_lowercase();
    const NUMERIC: &[&str] = &[
        "int", "bigint", "smallint", "tinyint", "hugeint", "float", "double", "real", "numeric",
        "decimal", "number",
    ];
    if NUMERIC.iter().any(|p| t.starts_with(p)) {
        LiteralKind::Number
    } else if t.starts_with("bool") {
        LiteralKind::Boolean
    } else {
        LiteralKind::String
    }
}

fn literal(value: Option<&str>, kind: LiteralKind, adapter: &str) -> String {
    let Some(v) = value else {
        return "NULL".into();
    };
    let plain_number = || {
        let b = v.strip_prefix('-').unwrap_or(v);
        !b.is_empty()
            && b.bytes().next().is_some_and(|c| c.is_ascii_digit())
            && number(v).as_deref() == Some(v)
    };
    match kind {
        LiteralKind::Number if plain_number() => v.to_string(),
        LiteralKind::Boolean if v == "true" || v == "false" => v.to_string(),
        _ => quote_string(v, adapter),
    }
}

/// A string literal: quotes doubled; on Redshift backslashes too (they escape there).
fn quote_string(v: &str, adapter: &str) -> String {
    let mut s = v.replace('\'', "''");
    if adapter == "redshift" {
        s = s.replace('\\', "\\\\");
    }
    format!("'{s}'")
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

// ---- CSV ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Cell {
    text: String,
    quoted: bool,
    line: usize,
    column: usize,
}

#[derive(Debug)]
struct Record {
    cells: Vec<Cell>,
}

fn diag(file: &str, line: usize, column: usize, message: impl Into<String>) -> Diagnostic {
    Diagnostic::new(
        Location {
            file: file.to_string(),
            line,
            column,
        },
        message,
    )
}

/// RFC 4180 with Python's leniency: `\n`, `\r\n` or `\r` ends a record; a quoted cell may hold
/// commas, quotes (doubled) and line breaks; text after a closing quote is kept.
fn parse_csv(file: &str, text: &str) -> Result<Vec<Record>, Diagnostic> {
    let mut records = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut chars = text.chars().peekable();
    let (mut line, mut column) = (1usize, 1usize);
    loop {
        // The start of a cell.
        let (start_line, start_column) = (line, column);
        let mut cell = String::new();
        let mut quoted = false;
        if chars.peek() == Some(&'"') {
            quoted = true;
            chars.next();
            column += 1;
            loop {
                match chars.next() {
                    None => {
                        return Err(diag(
                            file,
                            start_line,
                            start_column,
                            "this quoted value is never closed",
                        )
                        .with_hint("a quote inside a quoted value is written twice: \"\""));
                    }
                    Some('"') => {
                        column += 1;
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            column += 1;
                            cell.push('"');
                        } else {
                            break;
                        }
                    }
                    Some('\n') => {
                        line += 1;
                        column = 1;
                        cell.push('\n');
                    }
                    Some('\r') => {
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                        line += 1;
                        column = 1;
                        cell.push('\n');
                    }
                    Some(c) => {
                        column += 1;
                        cell.push(c);
                    }
                }
            }
        }
        // Unquoted text (or what follows a closing quote) up to a comma or the line's end.
        let end = loop {
            match chars.next() {
                None => break None,
                Some(',') => {
                    column += 1;
                    break Some(',');
                }
                Some('\n') => break Some('\n'),
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    break Some('\n');
                }
                Some(c) => {
                    column += 1;
                    cell.push(c);
                }
            }
        };
        cells.push(Cell {
            text: cell,
            quoted,
            line: start_line,
            column: start_column,
        });
        match end {
            Some(',') => {}
            Some(_) => {
                records.push(Record {
                    cells: std::mem::take(&mut cells),
                });
                line += 1;
                column = 1;
                if chars.peek().is_none() {
                    break;
                }
            }
            None => {
                let blank = cells.len() == 1 && cells[0].text.is_empty() && !cells[0].quoted;
                if !blank {
                    records.push(Record { cells });
                }
                break;
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests;
