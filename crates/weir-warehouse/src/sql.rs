//! SQL scripts: splitting them into statements, and planning the statements one engine cannot
//! run as written (Redshift's `COPY … FROM 's3://…'`, `CREATE TABLE … (LIKE …)` on DuckDB).
//!
//! Statements are parsed with `sqlparser`; a statement it cannot parse, or that needs no
//! rewrite, runs exactly as the user wrote it.

use crate::{CsvOptions, Engine};
use sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopySource, CopyTarget, CreateTableLikeKind,
    Statement as Ast,
};
use sqlparser::dialect::{DuckDbDialect, PostgreSqlDialect, RedshiftSqlDialect};
use sqlparser::parser::Parser;

/// One statement of a script, with where it starts (1-based line) for messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub text: String,
    pub line: usize,
}

/// Splits a script on `;`, respecting quotes, dollar quotes and comments. Empty statements and
/// comment-only pieces are dropped.
pub fn split(script: &str) -> Vec<Statement> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, out: &mut Vec<Statement>| {
        let piece = &script[from..to];
        if has_code(piece) {
            let lead = piece.len() - piece.trim_start().len();
            let line = script[..from + lead].matches('\n').count() + 1;
            out.push(Statement {
                text: piece.trim().to_string(),
                line,
            });
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let q = bytes[i];
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == q {
                        if bytes.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // `$tag$ … $tag$`
                if let Some(end) = script[i + 1..].find('$') {
                    let tag = &script[i..i + end + 2];
                    if tag[1..tag.len() - 1]
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_')
                        && let Some(close) = script[i + tag.len()..].find(tag)
                    {
                        i += tag.len() + close + tag.len() - 1;
                    }
                }
            }
            b';' => {
                push(start, i, &mut out);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(start, script.len(), &mut out);
    out
}

fn has_code(piece: &str) -> bool {
    piece
        .lines()
        .map(|l| l.split("--").next().unwrap_or("").trim())
        .any(|l| !l.is_empty())
}

/// What to do with one statement on one engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Run the text as written.
    AsWritten,
    /// Run this text instead.
    Rewritten(String),
    /// Load an object (`s3://bucket/key`, or a local path) into a table through the engine's
    /// own bulk path.
    CopyFrom {
        table: String,
        columns: Vec<String>,
        source: String,
        csv: CsvOptions,
        format: CopyFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Csv,
    Parquet,
    Json,
}

/// Plans a statement for an engine. Never fails: what it does not understand runs as written.
pub fn plan(text: &str, engine: Engine) -> Plan {
    // Redshift's dialect knows its COPY options; fall back to the engine's own for the rest.
    let parsed = Parser::parse_sql(&RedshiftSqlDialect {}, text).or_else(|_| match engine {
        Engine::DuckDb => Parser::parse_sql(&DuckDbDialect {}, text),
        _ => Parser::parse_sql(&PostgreSqlDialect {}, text),
    });
    let Ok(mut stmts) = parsed else {
        return Plan::AsWritten;
    };
    if stmts.len() != 1 {
        return Plan::AsWritten;
    }
    match stmts.remove(0) {
        Ast::Copy {
            source:
                CopySource::Table {
                    table_name,
                    columns,
                },
            to: false,
            target: CopyTarget::File { filename },
            legacy_options,
            ..
        } if is_object_uri(&filename) => {
            let mut csv = CsvOptions {
                header_lines: 0,
                ..CsvOptions::default()
            };
            let mut format = CopyFormat::Csv;
            for o in &legacy_options {
                match o {
                    CopyLegacyOption::IgnoreHeader(n) => csv.header_lines = *n,
                    CopyLegacyOption::Header => csv.header_lines = 1,
                    CopyLegacyOption::Delimiter(c) => csv.delimiter = *c,
                    CopyLegacyOption::Gzip => csv.gzip = true,
                    CopyLegacyOption::Null(s) => csv.null = s.clone(),
                    CopyLegacyOption::Parquet => format = CopyFormat::Parquet,
                    CopyLegacyOption::Json(_) => format = CopyFormat::Json,
                    CopyLegacyOption::Csv(opts) => {
                        for c in opts {
                            match c {
                                CopyLegacyCsvOption::Header => csv.header_lines = 1,
                                CopyLegacyCsvOption::Quote(q) => csv.quote = *q,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            if filename.ends_with(".gz") {
                csv.gzip = true;
            }
            Plan::CopyFrom {
                table: table_name.to_string(),
                columns: columns.iter().map(|c| c.value.clone()).collect(),
                source: filename,
                csv,
                format,
            }
        }
        Ast::CreateTable(ct)
            if engine == Engine::DuckDb && ct.like.is_some() && ct.columns.is_empty() =>
        {
            let like = match &ct.like {
                Some(CreateTableLikeKind::Parenthesized(l))
                | Some(CreateTableLikeKind::Plain(l)) => l.name.to_string(),
                None => return Plan::AsWritten,
            };
            let ine = if ct.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            };
            Plan::Rewritten(format!(
                "CREATE TABLE {ine}{} AS SELECT * FROM {like} LIMIT 0",
                ct.name
            ))
        }
        _ => Plan::AsWritten,
    }
}

fn is_object_uri(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("kestra://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let s = split(
            "CREATE TABLE a (x text); -- note; not a split\nINSERT INTO a VALUES ('x;y');\n\n$$ a;b $$;  ;",
        );
        let texts: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "CREATE TABLE a (x text)",
                "-- note; not a split\nINSERT INTO a VALUES ('x;y')",
                "$$ a;b $$"
            ]
        );
        assert_eq!(s[1].line, 1);
        assert_eq!(s[2].line, 4);
    }

    #[test]
    fn plans_the_articles_redshift_copy() {
        let sql = "COPY public.yellow_tripdata_staging (\n  VendorID, tpep_pickup_datetime\n)\nFROM 's3://my-bucket/yellow_tripdata_2021-01.csv'\nIAM_ROLE 'arn:aws:iam::1:role/k'\nFORMAT AS CSV\nIGNOREHEADER 1";
        match plan(sql, Engine::DuckDb) {
            Plan::CopyFrom {
                table,
                columns,
                source,
                csv,
                format,
            } => {
                assert_eq!(table, "public.yellow_tripdata_staging");
                assert_eq!(columns, vec!["VendorID", "tpep_pickup_datetime"]);
                assert_eq!(source, "s3://my-bucket/yellow_tripdata_2021-01.csv");
                assert_eq!(csv.header_lines, 1);
                assert_eq!(format, CopyFormat::Csv);
            }
            other => panic!("not planned as a copy: {other:?}"),
        }
        match plan(
            "COPY t FROM 's3://b/k.csv.gz' IAM_ROLE default CSV DELIMITER '|' GZIP",
            Engine::Postgres,
        ) {
            Plan::CopyFrom { csv, .. } => {
                assert!(csv.gzip && csv.delimiter == '|' && csv.header_lines == 0)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_like_is_rewritten_only_for_duckdb() {
        assert_eq!(
            plan("CREATE TABLE IF NOT EXISTS s (LIKE m)", Engine::DuckDb),
            Plan::Rewritten("CREATE TABLE IF NOT EXISTS s AS SELECT * FROM m LIMIT 0".into())
        );
        assert_eq!(
            plan("CREATE TABLE IF NOT EXISTS s (LIKE m)", Engine::Postgres),
            Plan::AsWritten
        );
    }

    #[test]
    fn what_is_not_understood_runs_as_written() {
        assert_eq!(plan("PRAGMA threads=2", Engine::DuckDb), Plan::AsWritten);
        assert_eq!(
            plan(
                "SELECT * EXCLUDE (a) FROM t QUALIFY row_number() OVER () = 1",
                Engine::DuckDb
            ),
            Plan::AsWritten
        );
        assert_eq!(
            plan(
                "MERGE INTO t USING s AS S ON t.k = S.k WHEN NOT MATCHED THEN INSERT (k) VALUES (S.k)",
                Engine::Postgres
            ),
            Plan::AsWritten
        );
    }
}
