//! A first pass over Jinja-SQL for `ref(…)` and `source(…)` calls with literal arguments, so the
//! graph can be built before any template is rendered (dbt's own "static parser" does the same
//! for most models). The Jinja stage replaces this with the calls made while rendering; calls
//! whose arguments are not literals (`ref(var('m'))`) are skipped here, not reported.

/// `ref('name')`, `ref('package', 'name')`, `ref('name', v=2)` / `version=2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefCall {
    pub package: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Where the call is, 1-based, in the node's file.
    pub line: usize,
    pub column: usize,
}

/// `source('source_name', 'table_name')`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCall {
    pub source: String,
    pub table: String,
    pub line: usize,
    pub column: usize,
}

/// The calls in `text`. With `jinja_only`, only `{{ … }}` and `{% … %}` are looked at (SQL
/// files); without, the whole text is an expression (a test's arguments). `first_line` is the
/// line of `text`'s first character in its file.
pub(crate) fn scan(
    text: &str,
    jinja_only: bool,
    first_line: usize,
) -> (Vec<RefCall>, Vec<SourceCall>) {
    let mut out = (Vec::new(), Vec::new());
    if !jinja_only {
        scan_expr(text, 0, text, first_line, &mut out);
        return out;
    }
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'{' {
            i += 1;
            continue;
        }
        let close: &str = match bytes[i + 1] {
            b'{' => "}}",
            b'%' => "%}",
            b'#' => "#}",
            _ => {
                i += 1;
                continue;
            }
        };
        let start = i + 2;
        let end = text[start..].find(close).map_or(text.len(), |e| start + e);
        if close != "#}" {
            scan_expr(&text[start..end], start, text, first_line, &mut out);
        }
        i = end + 2;
    }
    out
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn line_col(text: &str, offset: usize, first_line: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + first_line;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

fn scan_expr(
    expr: &str,
    base: usize,
    whole: &str,
    first_line: usize,
    out: &mut (Vec<RefCall>, Vec<SourceCall>),
) {
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = skip_string(b, i);
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == b'_')
            || (i > 0 && (is_ident(b[i - 1]) || b[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        let word = &expr[start..i];
        if word != "ref" && word != "source" {
            continue;
        }
        let mut j = i;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if j >= b.len() || b[j] != b'(' {
            continue;
        }
        let Some((positional, keywords, end)) = parse_args(expr, j + 1) else {
            continue;
        };
        i = end;
        let (line, column) = line_col(whole, base + start, first_line);
        if word == "ref" {
            let version = keywords
                .iter()
                .find(|(k, _)| k == "v" || k == "version")
                .map(|(_, v)| v.clone());
            let (package, name) = match positional.as_slice() {
                [name] => (None, name.clone()),
                [package, name] => (Some(package.clone()), name.clone()),
                _ => continue,
            };
            out.0.push(RefCall {
                package,
                name,
                version,
                line,
                column,
            });
        } else if let [source, table] = positional.as_slice() {
            out.1.push(SourceCall {
                source: source.clone(),
                table: table.clone(),
                line,
                column,
            });
        }
    }
}

/// The index just past the string literal starting at `i`.
fn skip_string(b: &[u8], i: usize) -> usize {
    let quote = b[i];
    let mut j = i + 1;
    while j < b.len() && b[j] != quote {
        if b[j] == b'\\' {
            j += 1;
        }
        j += 1;
    }
    (j + 1).min(b.len())
}

/// Literal arguments from just after `(`: positional strings, keyword strings or numbers.
/// `None` when an argument is anything else.
#[expect(clippy::type_complexity, reason = "a private parser's tuple result")]
fn parse_args(expr: &str, mut i: usize) -> Option<(Vec<String>, Vec<(String, String)>, usize)> {
    let b = expr.as_bytes();
    let mut positional = Vec::new();
    let mut keywords = Vec::new();
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        if b[i] == b')' {
            return Some((positional, keywords, i + 1));
        }
        let mut keyword = None;
        if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let start = i;
            while i < b.len() && is_ident(b[i]) {
                i += 1;
            }
            let name = &expr[start..i];
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i >= b.len() || b[i] != b'=' {
                return None;
            }
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            keyword = Some(name.to_string());
        }
        let value = if i < b.len() && (b[i] == b'\'' || b[i] == b'"') {
            let end = skip_string(b, i);
            let v = expr.get(i + 1..end.saturating_sub(1))?.to_string();
            i = end;
            v
        } else if keyword.is_some() {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            if start == i {
                return None;
            }
            expr[start..i].to_string()
        } else {
            return None;
        };
        match keyword {
            Some(k) => keywords.push((k, value)),
            None => positional.push(value),
        }
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b',' {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_literal_calls_with_positions() {
        let sql = "select *\nfrom {{ ref('a') }} join {{ ref(\"pkg\", 'b') }}\n\
                   {# {{ ref('commented') }} #}\n\
                   join {{ ref('c', v=2) }} join {{ source('raw', 'trips') }}\n\
                   {{ ref(var('dynamic')) }} {{ my.ref('x') }} where x = 'ref(z)'";
        let (refs, sources) = scan(sql, true, 1);
        let names: Vec<_> = refs
            .iter()
            .map(|r| {
                (
                    r.package.as_deref(),
                    r.name.as_str(),
                    r.version.as_deref(),
                    r.line,
                    r.column,
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                (None, "a", None, 2, 9),
                (Some("pkg"), "b", None, 2, 29),
                (None, "c", Some("2"), 4, 9),
            ]
        );
        assert_eq!(sources.len(), 1);
        assert_eq!(
            (sources[0].source.as_str(), sources[0].table.as_str()),
            ("raw", "trips")
        );
        assert_eq!((sources[0].line, sources[0].column), (4, 34));
    }

    #[test]
    fn whole_text_mode_reads_test_arguments() {
        let (refs, _) = scan("ref('dim_zones')", false, 7);
        assert_eq!(refs[0].name, "dim_zones");
        assert_eq!(refs[0].line, 7);
        let (refs, _) = scan("{{ ref('x', version='3') }}", true, 1);
        assert_eq!(refs[0].version.as_deref(), Some("3"));
    }
}
