//! BigQuery SQL on DuckDB: statements parsed with `sqlparser`'s BigQuery dialect and written
//! back as DuckDB SQL.
//!
//! What changes: backquoted `project.dataset.table` names become `"dataset"."table"` (the
//! project is recorded, a dataset is a schema); double-quoted string literals become
//! single-quoted ones; BigQuery's types (`STRING`, `INT64`, `FLOAT64`, `NUMERIC`, `BYTES`) and
//! functions (`MD5`, `TO_HEX`, `FARM_FINGERPRINT`, `PARSE_DATE`, `FORMAT_DATE`,
//! `TIMESTAMP_MICROS`, `DATE_TRUNC`, `GENERATE_UUID`, `SAFE_CAST`, …) become DuckDB's; `SELECT *
//! EXCEPT (…)` becomes `EXCLUDE`; column and table `OPTIONS (…)`, `PARTITION BY` and
//! `CLUSTER BY` are dropped. `CREATE EXTERNAL TABLE … OPTIONS (format, uris, …)` becomes an
//! [`ExternalTable`], which the caller turns into SQL once it knows the local files behind the
//! URIs. What has no DuckDB counterpart is a [`RewriteError`] naming the construct.

use crate::sql;
use sqlparser::ast::{
    CastKind, ColumnDef, ColumnOption, CreateTableOptions, DataType, ExactNumberInfo,
    ExcludeSelectItem, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Select, SelectItem, SqlOption, Statement as Ast, TableFactor, Value, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::{BigQueryDialect, DuckDbDialect};
use sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// A BigQuery statement weir cannot run on DuckDB, with the construct named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RewriteError {
    /// 1-based line of the statement in the script.
    pub line: usize,
    pub message: String,
}

/// One step of a rewritten script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// DuckDB SQL to run, with the line its statement started on.
    Sql { text: String, line: usize },
    /// `CREATE EXTERNAL TABLE`: a table over files that must be made local first.
    External(ExternalTable),
}

/// A BigQuery script rewritten for DuckDB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub steps: Vec<Step>,
    /// Projects named in table names (dropped from the SQL).
    pub projects: BTreeSet<String>,
    /// Datasets of the tables the script creates: schemas to create first.
    pub created_datasets: BTreeSet<String>,
}

/// The file formats BigQuery loads and external tables read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
    Parquet,
    Avro,
    Orc,
}

impl FileFormat {
    /// BigQuery's names: `CSV`, `NEWLINE_DELIMITED_JSON` (or `JSON`), `PARQUET`, `AVRO`, `ORC`.
    pub fn parse(s: &str) -> Option<FileFormat> {
        match s.to_ascii_uppercase().as_str() {
            "CSV" => Some(FileFormat::Csv),
            "JSON" | "NEWLINE_DELIMITED_JSON" => Some(FileFormat::Json),
            "PARQUET" => Some(FileFormat::Parquet),
            "AVRO" => Some(FileFormat::Avro),
            "ORC" => Some(FileFormat::Orc),
            _ => None,
        }
    }
}

/// How files are read into a table (external tables and loads).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadOptions {
    pub format: FileFormat,
    /// CSV lines to skip; the last skipped line names the columns when no columns are given.
    pub skip_leading_rows: u64,
    pub field_delimiter: Option<String>,
    pub quote: Option<String>,
    /// Rows with missing trailing columns get NULLs.
    pub allow_jagged_rows: bool,
    /// Extra values in a row are ignored.
    pub ignore_unknown_values: bool,
    pub allow_quoted_newlines: bool,
    /// Declared columns (name, DuckDB type), in file order; empty: detected.
    pub columns: Vec<(String, String)>,
}

impl ReadOptions {
    pub fn new(format: FileFormat) -> ReadOptions {
        ReadOptions {
            format,
            skip_leading_rows: 0,
            field_delimiter: None,
            quote: None,
            allow_jagged_rows: false,
            ignore_unknown_values: false,
            allow_quoted_newlines: false,
            columns: Vec::new(),
        }
    }

    /// The DuckDB table function reading `files` (a `read_csv(…)`/`read_parquet(…)` call).
    pub fn table_function(&self, files: &[PathBuf]) -> Result<String, String> {
        let list = files
            .iter()
            .map(|f| literal(&f.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(", ");
        let list = format!("[{list}]");
        match self.format {
            FileFormat::Csv => {
                let mut args = vec![list];
                if self.columns.is_empty() {
                    // The last skipped line holds the names, as BigQuery's autodetect reads
                    // it; with none skipped, DuckDB detects whether there is a header.
                    if self.skip_leading_rows > 0 {
                        args.push("header = true".into());
                    }
                    if self.skip_leading_rows > 1 {
                        args.push(format!("skip = {}", self.skip_leading_rows - 1));
                    }
                } else {
                    args.push("header = false".into());
                    args.push(format!("skip = {}", self.skip_leading_rows));
                    let cols = self
                        .columns
                        .iter()
                        .map(|(n, t)| format!("{}: {}", literal(n), literal(t)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    args.push(format!("columns = {{{cols}}}"));
                }
                if let Some(d) = &self.field_delimiter {
                    let d = if d == "\\t" { "\t" } else { d };
                    args.push(format!("delim = {}", literal(d)));
                }
                if let Some(q) = &self.quote {
                    args.push(format!("quote = {}", literal(q)));
                }
                if self.allow_jagged_rows {
                    args.push("null_padding = true".into());
                }
                if self.ignore_unknown_values {
                    args.push("strict_mode = false".into());
                }
                Ok(format!("read_csv({})", args.join(", ")))
            }
            FileFormat::Parquet => Ok(format!("read_parquet({list})")),
            FileFormat::Json => {
                if self.columns.is_empty() {
                    Ok(format!(
                        "read_json({list}, format = 'newline_delimited')"
                    ))
                } else {
                    let cols = self
                        .columns
                        .iter()
                        .map(|(n, t)| format!("{}: {}", literal(n), literal(t)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    Ok(format!(
                        "read_json({list}, format = 'newline_delimited', columns = {{{cols}}})"
                    ))
                }
            }
            FileFormat::Avro => Err(
                "AVRO files are not read on DuckDB here (it needs DuckDB's avro extension); use CSV, NEWLINE_DELIMITED_JSON or PARQUET".into(),
            ),
            FileFormat::Orc => Err(
                "ORC files are not read on DuckDB; use CSV, NEWLINE_DELIMITED_JSON or PARQUET"
                    .into(),
            ),
        }
    }
}

/// `CREATE [OR REPLACE] EXTERNAL TABLE name [(columns)] OPTIONS (format = …, uris = […], …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTable {
    pub dataset: Option<String>,
    pub table: String,
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// `gs://bucket/path` URIs, possibly with one `*` wildcard each.
    pub uris: Vec<String>,
    pub read: ReadOptions,
    pub line: usize,
}

impl ExternalTable {
    /// The quoted DuckDB name.
    pub fn name(&self) -> String {
        quoted_name(self.dataset.as_deref(), &self.table)
    }

    /// The statement creating the table from the local `files` behind the URIs. DuckDB has no
    /// external tables: the files' rows are copied into a table (they may be temporary copies
    /// of remote objects).
    pub fn sql(&self, files: &[PathBuf]) -> Result<String, String> {
        let create = if self.or_replace {
            "CREATE OR REPLACE TABLE"
        } else if self.if_not_exists {
            "CREATE TABLE IF NOT EXISTS"
        } else {
            "CREATE TABLE"
        };
        Ok(format!(
            "{create} {} AS SELECT * FROM {}",
            self.name(),
            self.read.table_function(files)?
        ))
    }
}

/// `"dataset"."table"`, or `"table"`.
pub fn quoted_name(dataset: Option<&str>, table: &str) -> String {
    match dataset {
        Some(d) => format!("{}.{}", quote_ident(d), quote_ident(table)),
        None => quote_ident(table),
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Rewrites a BigQuery script into DuckDB steps, statement by statement.
pub fn rewrite(script: &str) -> Result<Script, RewriteError> {
    let mut out = Script::default();
    for stmt in sql::split(script) {
        let line = stmt.line;
        let err = |message: String| RewriteError { line, message };
        let mut parsed = Parser::parse_sql(&BigQueryDialect {}, &stmt.text).map_err(|e| {
            err(format!(
                "this statement is not BigQuery SQL weir can read: {e}\n  statement: {}",
                first_line(&stmt.text)
            ))
        })?;
        for mut ast in parsed.drain(..) {
            let mut v = Rewriter {
                projects: BTreeSet::new(),
                error: None,
            };
            check_statement(&ast).map_err(err)?;
            if let ControlFlow::Break(()) = ast.visit(&mut v) {
                return Err(err(v.error.unwrap_or_default()));
            }
            if let Some(e) = v.error.take() {
                return Err(err(e));
            }
            out.projects.extend(std::mem::take(&mut v.projects));
            match ast {
                Ast::CreateTable(mut ct) => {
                    v.fix_name(&mut ct.name);
                    if let Some(d) = dataset_of(&ct.name) {
                        out.created_datasets.insert(d);
                    }
                    if ct.external {
                        out.steps
                            .push(Step::External(external_table(&ct, line).map_err(err)?));
                        continue;
                    }
                    for c in &mut ct.columns {
                        fix_column(c).map_err(err)?;
                    }
                    ct.table_options = CreateTableOptions::None;
                    ct.partition_by = None;
                    ct.cluster_by = None;
                    out.steps.push(Step::Sql {
                        text: Ast::CreateTable(ct).to_string(),
                        line,
                    });
                }
                Ast::CreateView(mut cv) => {
                    v.fix_name(&mut cv.name);
                    if let Some(d) = dataset_of(&cv.name) {
                        out.created_datasets.insert(d);
                    }
                    cv.options = sqlparser::ast::CreateTableOptions::None;
                    out.steps.push(Step::Sql {
                        text: Ast::CreateView(cv).to_string(),
                        line,
                    });
                }
                Ast::Merge(mut m) => {
                    m.into = true;
                    out.steps.push(Step::Sql {
                        text: Ast::Merge(m).to_string(),
                        line,
                    });
                }
                other => out.steps.push(Step::Sql {
                    text: other.to_string(),
                    line,
                }),
            }
            out.projects.extend(std::mem::take(&mut v.projects));
        }
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else {
        one
    }
}

/// Statements with no DuckDB counterpart.
fn check_statement(ast: &Ast) -> Result<(), String> {
    let text = ast.to_string();
    let head: String = text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    for (prefix, what) in [
        ("CREATE MODEL", "BigQuery ML models (`CREATE MODEL`)"),
        (
            "CREATE OR REPLACE MODEL",
            "BigQuery ML models (`CREATE MODEL`)",
        ),
        ("EXPORT DATA", "`EXPORT DATA`"),
        ("CREATE SNAPSHOT", "table snapshots"),
        ("CREATE ROW ACCESS", "row access policies"),
    ] {
        if head.starts_with(prefix) {
            return Err(format!(
                "{what} cannot run on DuckDB; weir rewrites tables, views, queries and MERGE"
            ));
        }
    }
    Ok(())
}

fn dataset_of(name: &ObjectName) -> Option<String> {
    let parts = idents(name);
    (parts.len() >= 2).then(|| parts[parts.len() - 2].clone())
}

fn idents(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|p| match p {
            ObjectNamePart::Identifier(i) => Some(i.value.clone()),
            _ => None,
        })
        .collect()
}

/// Column options DuckDB has no place for (`OPTIONS (description = …)`) dropped, types mapped.
fn fix_column(c: &mut ColumnDef) -> Result<(), String> {
    c.data_type = map_type(&c.data_type)?;
    c.options
        .retain(|o| !matches!(o.option, ColumnOption::Options(_)));
    if c.name.quote_style == Some('`') {
        c.name.quote_style = Some('"');
    }
    Ok(())
}

/// A BigQuery type name (`STRING`, `INT64`, `NUMERIC`, `TIMESTAMP`…, as a load's `schema`
/// gives them) as DuckDB's.
pub fn duckdb_type(bq: &str) -> Result<String, String> {
    let bq = match bq.trim().to_ascii_uppercase().as_str() {
        "INTEGER" => "INT64".to_string(),
        "FLOAT" => "FLOAT64".to_string(),
        "BOOLEAN" => "BOOL".to_string(),
        "RECORD" | "STRUCT" => {
            return Err("RECORD/STRUCT columns are not loaded on DuckDB".into());
        }
        other => other.to_string(),
    };
    let parsed = Parser::new(&BigQueryDialect {})
        .try_with_sql(&bq)
        .and_then(|mut p| p.parse_data_type())
        .map_err(|e| format!("`{bq}` is not a BigQuery type: {e}"))?;
    map_type(&parsed).map(|t| t.to_string())
}

/// BigQuery's types as DuckDB's.
fn map_type(t: &DataType) -> Result<DataType, String> {
    Ok(match t {
        DataType::String(_) => DataType::Varchar(None),
        DataType::Int64 | DataType::Integer(_) | DataType::Int(_) => DataType::BigInt(None),
        DataType::Float64 | DataType::Float(_) => DataType::Double(ExactNumberInfo::None),
        DataType::Numeric(ExactNumberInfo::None) | DataType::Decimal(ExactNumberInfo::None) => {
            DataType::Decimal(ExactNumberInfo::PrecisionAndScale(38, 9))
        }
        DataType::BigNumeric(_) | DataType::BigDecimal(_) => {
            DataType::Decimal(ExactNumberInfo::PrecisionAndScale(38, 18))
        }
        DataType::Bytes(_) => DataType::Blob(None),
        DataType::Array(sqlparser::ast::ArrayElemTypeDef::AngleBracket(inner)) => DataType::Array(
            sqlparser::ast::ArrayElemTypeDef::SquareBracket(Box::new(map_type(inner)?), None),
        ),
        DataType::Custom(name, _) => {
            let n = name.to_string().to_ascii_uppercase();
            match n.as_str() {
                "GEOGRAPHY" => {
                    return Err(
                        "the GEOGRAPHY type has no DuckDB counterpart here (DuckDB's spatial extension is not loaded)".into(),
                    );
                }
                "RANGE" => return Err("the RANGE type has no DuckDB counterpart".into()),
                _ => t.clone(),
            }
        }
        other => other.clone(),
    })
}

/// The columns and options of an external table.
fn external_table(ct: &sqlparser::ast::CreateTable, line: usize) -> Result<ExternalTable, String> {
    let options: &[SqlOption] = match &ct.table_options {
        CreateTableOptions::Options(o) | CreateTableOptions::With(o) => o,
        _ => &[],
    };
    let mut format = None;
    let mut uris = Vec::new();
    let mut read = ReadOptions::new(FileFormat::Csv);
    for o in options {
        let SqlOption::KeyValue { key, value } = o else {
            continue;
        };
        let key = key.to_string().to_ascii_lowercase();
        match key.as_str() {
            "format" => {
                let f =
                    string_of(value).ok_or("external table option `format` must be a string")?;
                format = Some(FileFormat::parse(&f).ok_or_else(|| {
                    format!("external table format `{f}` is not one weir reads (CSV, NEWLINE_DELIMITED_JSON, PARQUET)")
                })?);
            }
            "uris" => match value {
                Expr::Array(a) => {
                    for e in &a.elem {
                        uris.push(string_of(e).ok_or("external table `uris` must be strings")?);
                    }
                }
                other => uris.push(
                    string_of(other).ok_or("external table `uris` must be a list of strings")?,
                ),
            },
            "skip_leading_rows" => {
                read.skip_leading_rows = value.to_string().parse().map_err(|_| {
                    format!("`skip_leading_rows` must be a number, found `{value}`")
                })?;
            }
            "field_delimiter" => read.field_delimiter = string_of(value),
            "quote" => read.quote = string_of(value),
            "allow_jagged_rows" => read.allow_jagged_rows = is_true(value),
            "ignore_unknown_values" => read.ignore_unknown_values = is_true(value),
            "allow_quoted_newlines" => read.allow_quoted_newlines = is_true(value),
            // Accepted, with no effect on DuckDB.
            "description"
            | "labels"
            | "expiration_timestamp"
            | "max_staleness"
            | "compression"
            | "encoding"
            | "null_marker"
            | "preserve_ascii_control_characters"
            | "max_bad_records"
            | "hive_partition_uri_prefix"
            | "require_hive_partition_filter"
            | "json_extension"
            | "enable_logical_types"
            | "decimal_target_types"
            | "enable_list_inference"
            | "column_name_character_map"
            | "metadata_cache_mode"
            | "object_metadata"
            | "reference_file_schema_uri"
            | "file_set_spec_type" => {}
            other => {
                return Err(format!(
                    "external table option `{other}` is not supported on DuckDB"
                ));
            }
        }
    }
    read.format = format.ok_or("an external table needs `format` in its OPTIONS")?;
    if uris.is_empty() {
        return Err("an external table needs `uris` in its OPTIONS".into());
    }
    for c in &ct.columns {
        let t = map_type(&c.data_type)?;
        read.columns.push((c.name.value.clone(), t.to_string()));
    }
    let parts = idents(&ct.name);
    let (dataset, table) = match parts.as_slice() {
        [.., d, t] => (Some(d.clone()), t.clone()),
        [t] => (None, t.clone()),
        [] => return Err("the external table has no name".into()),
    };
    Ok(ExternalTable {
        dataset,
        table,
        or_replace: ct.or_replace,
        if_not_exists: ct.if_not_exists,
        uris,
        read,
        line,
    })
}

fn string_of(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s)
            | Value::DoubleQuotedString(s)
            | Value::TripleSingleQuotedString(s)
            | Value::TripleDoubleQuotedString(s)
            | Value::SingleQuotedRawStringLiteral(s)
            | Value::DoubleQuotedRawStringLiteral(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn is_true(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(v.value, Value::Boolean(true)))
}

struct Rewriter {
    projects: BTreeSet<String>,
    error: Option<String>,
}

impl Rewriter {
    /// `` `p.d.t` `` / `p.d.t` → `"d"."t"`, the project recorded.
    fn fix_name(&mut self, name: &mut ObjectName) {
        let mut parts: Vec<Ident> = Vec::new();
        let mut quoted = false;
        for p in &name.0 {
            match p {
                ObjectNamePart::Identifier(i) => {
                    if i.quote_style == Some('`') || i.quote_style == Some('"') {
                        quoted = true;
                        for piece in i.value.split('.') {
                            parts.push(Ident::with_quote('"', piece));
                        }
                    } else {
                        parts.push(i.clone());
                    }
                }
                ObjectNamePart::Function(_) => return,
            }
        }
        if parts.len() >= 3 {
            let project = parts.remove(0);
            self.projects.insert(project.value);
            quoted = true;
        }
        if quoted || parts.len() == 2 {
            for p in &mut parts {
                p.quote_style = Some('"');
            }
        }
        name.0 = parts.into_iter().map(ObjectNamePart::Identifier).collect();
    }

    fn fail(&mut self, message: String) -> ControlFlow<()> {
        self.error = Some(message);
        ControlFlow::Break(())
    }
}

/// A DuckDB expression from text (for replacements).
fn duck_expr(text: &str) -> Result<Expr, String> {
    Parser::new(&DuckDbDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("internal rewrite produced invalid SQL `{text}`: {e}"))
}

fn plain_args(f: &sqlparser::ast::Function) -> Option<Vec<&Expr>> {
    match &f.args {
        FunctionArguments::None => Some(Vec::new()),
        FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        FunctionArguments::Subquery(_) => None,
    }
}

/// BigQuery's format elements (`%F`, `%T`, `%E6S`, …) as DuckDB's strftime/strptime ones.
pub fn map_format(fmt: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(n) = chars.next() else {
            return Err("the format ends with a lone `%`".into());
        };
        match n {
            'Y' | 'm' | 'd' | 'H' | 'M' | 'S' | 'y' | 'b' | 'B' | 'h' | 'a' | 'A' | 'I' | 'p'
            | 'j' | 'z' | 'Z' | 'U' | 'W' | 'w' | 'c' | 'x' | 'X' | '%' => {
                out.push('%');
                out.push(if n == 'h' { 'b' } else { n });
            }
            'F' => out.push_str("%Y-%m-%d"),
            'T' => out.push_str("%H:%M:%S"),
            'D' => out.push_str("%m/%d/%y"),
            'R' => out.push_str("%H:%M"),
            'e' => out.push_str("%-d"),
            'k' => out.push_str("%-H"),
            'l' => out.push_str("%-I"),
            'u' => out.push_str("%u"),
            'E' => {
                // %E*S, %E3S, %E6S: seconds with fractions.
                let mut spec = String::new();
                while let Some(&d) = chars.peek() {
                    chars.next();
                    spec.push(d);
                    if d == 'S' || d == 'Y' || d == 'z' {
                        break;
                    }
                }
                match spec.as_str() {
                    "*S" | "6S" => out.push_str("%S.%f"),
                    "3S" => out.push_str("%S.%g"),
                    "4Y" => out.push_str("%Y"),
                    other => {
                        return Err(format!(
                            "the format element `%E{other}` has no DuckDB counterpart"
                        ));
                    }
                }
            }
            other => {
                return Err(format!(
                    "the format element `%{other}` has no DuckDB counterpart"
                ));
            }
        }
    }
    Ok(out)
}

/// The literal format string of a PARSE_/FORMAT_ call, mapped.
fn format_arg(e: &Expr, func: &str) -> Result<String, String> {
    match string_of(e) {
        Some(f) => map_format(&f).map(|f| literal(&f)),
        None => Err(format!(
            "{func} needs a literal format string on DuckDB (found `{e}`)"
        )),
    }
}

/// Functions BigQuery has and DuckDB lacks (named in the error).
const UNSUPPORTED: &[&str] = &[
    "ST_GEOGPOINT",
    "ST_DISTANCE",
    "ST_GEOGFROMTEXT",
    "APPROX_TOP_COUNT",
    "APPROX_TOP_SUM",
    "HLL_COUNT.INIT",
    "HLL_COUNT.MERGE",
    "ML.PREDICT",
    "ML.EVALUATE",
    "NET.HOST",
    "NET.IP_FROM_STRING",
    "KEYS.NEW_KEYSET",
    "AEAD.ENCRYPT",
    "AEAD.DECRYPT_STRING",
];

impl Rewriter {
    fn function(&mut self, f: &sqlparser::ast::Function) -> Result<Option<Expr>, String> {
        let name = f.name.to_string().to_ascii_uppercase();
        if UNSUPPORTED.contains(&name.as_str())
            || name.starts_with("ML.")
            || name.starts_with("ST_")
        {
            return Err(format!(
                "the BigQuery function {name} has no DuckDB counterpart in weir"
            ));
        }
        if let Some(rest) = name.strip_prefix("SAFE.") {
            return Err(format!(
                "`SAFE.{rest}` (NULL instead of an error) is not rewritten for DuckDB; call {rest} or use TRY(…)"
            ));
        }
        let Some(args) = plain_args(f) else {
            return Ok(None);
        };
        let a = |i: usize| args.get(i).map(|e| e.to_string()).unwrap_or_default();
        let want = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "{name} takes {n} argument(s), found {}",
                    args.len()
                ))
            }
        };
        let text = match name.as_str() {
            // BigQuery's MD5/SHA256 return BYTES; DuckDB's return hex text.
            "MD5" => {
                want(1)?;
                format!("unhex(md5({}))", a(0))
            }
            "SHA256" => {
                want(1)?;
                format!("unhex(sha256({}))", a(0))
            }
            "SHA1" => {
                want(1)?;
                format!("unhex(sha1({}))", a(0))
            }
            "TO_HEX" => {
                want(1)?;
                // TO_HEX(MD5(x)) is DuckDB's md5(x).
                if let Expr::Function(inner) = args[0]
                    && inner.name.to_string().eq_ignore_ascii_case("unhex")
                    && let Some(inner_args) = plain_args(inner)
                    && inner_args.len() == 1
                {
                    inner_args[0].to_string()
                } else {
                    format!("lower(hex({}))", a(0))
                }
            }
            "FROM_HEX" => {
                want(1)?;
                format!("unhex({})", a(0))
            }
            // A 64-bit fingerprint; DuckDB's hash differs from BigQuery's FarmHash values.
            "FARM_FINGERPRINT" => {
                want(1)?;
                format!(
                    "CAST(CAST(hash({}) AS HUGEINT) - 9223372036854775808 AS BIGINT)",
                    a(0)
                )
            }
            "GENERATE_UUID" => {
                want(0)?;
                "CAST(uuid() AS VARCHAR)".into()
            }
            "CURRENT_TIMESTAMP" => "current_timestamp".into(),
            "CURRENT_DATE" => "current_date".into(),
            "CURRENT_DATETIME" => "CAST(current_timestamp AS TIMESTAMP)".into(),
            "PARSE_DATE" => {
                want(2)?;
                format!(
                    "CAST(strptime({}, {}) AS DATE)",
                    a(1),
                    format_arg(args[0], &name)?
                )
            }
            "PARSE_TIMESTAMP" | "PARSE_DATETIME" => {
                if args.len() != 2 {
                    return Err(format!(
                        "{name} with a time zone argument is not rewritten for DuckDB"
                    ));
                }
                format!(
                    "CAST(strptime({}, {}) AS TIMESTAMP)",
                    a(1),
                    format_arg(args[0], &name)?
                )
            }
            "FORMAT_DATE" | "FORMAT_TIMESTAMP" | "FORMAT_DATETIME" => {
                if args.len() != 2 {
                    return Err(format!(
                        "{name} with a time zone argument is not rewritten for DuckDB"
                    ));
                }
                format!("strftime({}, {})", a(1), format_arg(args[0], &name)?)
            }
            "TIMESTAMP_MICROS" => {
                want(1)?;
                format!("make_timestamp(CAST({} AS BIGINT))", a(0))
            }
            "TIMESTAMP_MILLIS" => {
                want(1)?;
                format!("epoch_ms(CAST({} AS BIGINT))", a(0))
            }
            "TIMESTAMP_SECONDS" => {
                want(1)?;
                format!("make_timestamp(CAST({} AS BIGINT) * 1000000)", a(0))
            }
            "UNIX_SECONDS" => {
                want(1)?;
                format!("CAST(epoch({}) AS BIGINT)", a(0))
            }
            "UNIX_MILLIS" => {
                want(1)?;
                format!("epoch_ms({})", a(0))
            }
            "UNIX_MICROS" => {
                want(1)?;
                format!("epoch_us({})", a(0))
            }
            "DATE_TRUNC" | "TIMESTAMP_TRUNC" | "DATETIME_TRUNC" => {
                if args.len() != 2 {
                    return Err(format!("{name} takes 2 arguments (a value and a part)"));
                }
                let part = args[1].to_string().to_ascii_lowercase();
                let part = part.trim_matches('\'').to_string();
                let part = match part.as_str() {
                    "isoweek" | "week" => "week".to_string(),
                    "isoyear" => "isoyear".to_string(),
                    other if other.starts_with("week(") => "week".to_string(),
                    other => other.to_string(),
                };
                let cast = if name == "DATE_TRUNC" {
                    "DATE"
                } else {
                    "TIMESTAMP"
                };
                format!("CAST(date_trunc({}, {}) AS {cast})", literal(&part), a(0))
            }
            "DATE_ADD" | "DATE_SUB" | "TIMESTAMP_ADD" | "TIMESTAMP_SUB" | "DATETIME_ADD"
            | "DATETIME_SUB" => {
                want(2)?;
                let op = if name.ends_with("_ADD") { "+" } else { "-" };
                let cast = if name.starts_with("DATE_") {
                    "DATE"
                } else {
                    "TIMESTAMP"
                };
                format!("CAST(({}) {op} {} AS {cast})", a(0), a(1))
            }
            "DATE_DIFF" | "TIMESTAMP_DIFF" | "DATETIME_DIFF" => {
                want(3)?;
                let part = args[2].to_string().to_ascii_lowercase();
                format!("date_diff({}, {}, {})", literal(&part), a(1), a(0))
            }
            "DATE_FROM_UNIX_DATE" => {
                want(1)?;
                format!(
                    "CAST(DATE '1970-01-01' + CAST({} AS INTEGER) AS DATE)",
                    a(0)
                )
            }
            "IFNULL" | "COALESCE" | "CONCAT" => return Ok(None),
            "CHAR_LENGTH" | "CHARACTER_LENGTH" => {
                want(1)?;
                format!("length({})", a(0))
            }
            "BYTE_LENGTH" => {
                want(1)?;
                format!("octet_length(CAST({} AS BLOB))", a(0))
            }
            "LOGICAL_AND" => {
                want(1)?;
                format!("bool_and({})", a(0))
            }
            "LOGICAL_OR" => {
                want(1)?;
                format!("bool_or({})", a(0))
            }
            "SAFE_DIVIDE" => {
                want(2)?;
                format!(
                    "CASE WHEN ({1}) = 0 THEN NULL ELSE ({0}) / ({1}) END",
                    a(0),
                    a(1)
                )
            }
            "REGEXP_CONTAINS" => {
                want(2)?;
                format!("regexp_matches({}, {})", a(0), a(1))
            }
            "REGEXP_EXTRACT" => {
                want(2)?;
                format!("regexp_extract({}, {}, 1)", a(0), a(1))
            }
            "ARRAY_LENGTH" => {
                want(1)?;
                format!("len({})", a(0))
            }
            _ => return Ok(None),
        };
        duck_expr(&text).map(Some)
    }
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        self.fix_name(relation);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, tf: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { name, .. } = tf {
            self.fix_name(name);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            let opts = match item {
                SelectItem::Wildcard(o) | SelectItem::QualifiedWildcard(_, o) => o,
                _ => continue,
            };
            if let Some(except) = opts.opt_except.take() {
                let mut cols = vec![except.first_element];
                cols.extend(except.additional_elements);
                opts.opt_exclude = Some(ExcludeSelectItem::Multiple(
                    cols.into_iter()
                        .map(|c| ObjectName(vec![ObjectNamePart::Identifier(c)]))
                        .collect(),
                ));
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Value(v) => match &v.value {
                Value::DoubleQuotedString(s)
                | Value::TripleSingleQuotedString(s)
                | Value::TripleDoubleQuotedString(s)
                | Value::SingleQuotedRawStringLiteral(s)
                | Value::DoubleQuotedRawStringLiteral(s)
                | Value::TripleSingleQuotedRawStringLiteral(s)
                | Value::TripleDoubleQuotedRawStringLiteral(s) => {
                    v.value = Value::SingleQuotedString(s.clone());
                }
                Value::DoubleQuotedByteStringLiteral(s)
                | Value::SingleQuotedByteStringLiteral(s) => {
                    let s = s.clone();
                    match duck_expr(&format!("CAST({} AS BLOB)", literal(&s))) {
                        Ok(e) => *expr = e,
                        Err(e) => return self.fail(e),
                    }
                }
                _ => {}
            },
            Expr::Identifier(i) if i.quote_style == Some('`') => {
                i.quote_style = Some('"');
            }
            Expr::CompoundIdentifier(parts) => {
                let mut out = Vec::new();
                for p in parts.iter() {
                    if p.quote_style == Some('`') {
                        for piece in p.value.split('.') {
                            out.push(Ident::with_quote('"', piece));
                        }
                    } else {
                        out.push(p.clone());
                    }
                }
                *parts = out;
            }
            Expr::Cast {
                kind,
                data_type,
                format,
                ..
            } => {
                if *kind == CastKind::SafeCast {
                    *kind = CastKind::TryCast;
                }
                if format.is_some() {
                    return self.fail("CAST … FORMAT is not rewritten for DuckDB".into());
                }
                match map_type(data_type) {
                    Ok(t) => *data_type = t,
                    Err(e) => return self.fail(e),
                }
            }
            Expr::Function(f) => match self.function(f) {
                Ok(Some(e)) => *expr = e,
                Ok(None) => {}
                Err(e) => return self.fail(e),
            },
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> String {
        let s = rewrite(sql).unwrap();
        match &s.steps[..] {
            [Step::Sql { text, .. }] => text.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_lose_the_project_and_strings_get_single_quotes() {
        let s = rewrite("SELECT \"a\" AS x, * FROM `proj.ds.t` WHERE y = \"it's\"").unwrap();
        assert_eq!(
            s.steps,
            vec![Step::Sql {
                text: "SELECT 'a' AS x, * FROM \"ds\".\"t\" WHERE y = 'it''s'".into(),
                line: 1
            }]
        );
        assert!(s.projects.contains("proj"));
    }

    #[test]
    fn split_backquoted_parts() {
        assert_eq!(
            one("SELECT * FROM `proj`.`ds`.`t`"),
            "SELECT * FROM \"ds\".\"t\""
        );
        assert_eq!(one("SELECT * FROM ds.t"), "SELECT * FROM \"ds\".\"t\"");
    }

    #[test]
    fn create_table_drops_options_partitioning_and_maps_types() {
        let s = rewrite(
            "CREATE TABLE IF NOT EXISTS `p.d.trips` (\n id BYTES OPTIONS (description = 'key'),\n name STRING OPTIONS (description = 'a \"b\"'),\n n INT64, f FLOAT64, amount NUMERIC, at TIMESTAMP\n) PARTITION BY DATE(at)",
        )
        .unwrap();
        assert_eq!(
            s.steps,
            vec![Step::Sql {
                text: "CREATE TABLE IF NOT EXISTS \"d\".\"trips\" (id BLOB, name VARCHAR, n BIGINT, f DOUBLE, amount DECIMAL(38,9), at TIMESTAMP)".into(),
                line: 1
            }]
        );
        assert!(s.created_datasets.contains("d"));
    }

    #[test]
    fn md5_is_bytes_and_to_hex_of_md5_is_duckdb_md5() {
        assert_eq!(
            one("SELECT MD5(CONCAT(COALESCE(CAST(a AS STRING), \"\"), b)) AS k FROM t"),
            "SELECT unhex(md5(CONCAT(COALESCE(CAST(a AS VARCHAR), ''), b))) AS k FROM t"
        );
        assert_eq!(one("SELECT TO_HEX(MD5(a))"), "SELECT md5(a)");
        assert_eq!(one("SELECT TO_HEX(b)"), "SELECT lower(hex(b))");
    }

    #[test]
    fn functions() {
        assert_eq!(
            one("SELECT PARSE_DATE('%Y%m%d', s)"),
            "SELECT CAST(strptime(s, '%Y%m%d') AS DATE)"
        );
        assert_eq!(
            one("SELECT PARSE_TIMESTAMP('%F %T', s)"),
            "SELECT CAST(strptime(s, '%Y-%m-%d %H:%M:%S') AS TIMESTAMP)"
        );
        assert_eq!(
            one("SELECT FORMAT_DATE('%d/%m/%Y', d)"),
            "SELECT strftime(d, '%d/%m/%Y')"
        );
        assert_eq!(
            one("SELECT TIMESTAMP_MICROS(1)"),
            "SELECT make_timestamp(CAST(1 AS BIGINT))"
        );
        assert_eq!(
            one("SELECT TIMESTAMP_MILLIS(1)"),
            "SELECT epoch_ms(CAST(1 AS BIGINT))"
        );
        assert_eq!(
            one("SELECT TIMESTAMP_SECONDS(1)"),
            "SELECT make_timestamp(CAST(1 AS BIGINT) * 1000000)"
        );
        assert_eq!(
            one("SELECT SAFE_CAST(x AS INT64)"),
            "SELECT TRY_CAST(x AS BIGINT)"
        );
        assert_eq!(
            one("SELECT DATE_TRUNC(d, MONTH)"),
            "SELECT CAST(date_trunc('month', d) AS DATE)"
        );
        assert_eq!(
            one("SELECT GENERATE_UUID()"),
            "SELECT CAST(uuid() AS VARCHAR)"
        );
        assert_eq!(
            one("SELECT CURRENT_TIMESTAMP()"),
            "SELECT current_timestamp"
        );
        assert_eq!(
            one("SELECT FARM_FINGERPRINT(s)"),
            "SELECT CAST(CAST(hash(s) AS HUGEINT) - 9223372036854775808 AS BIGINT)"
        );
        assert_eq!(one("SELECT IFNULL(a, 0)"), "SELECT IFNULL(a, 0)");
        assert_eq!(
            one("SELECT CAST(x AS NUMERIC), CAST(y AS FLOAT64)"),
            "SELECT CAST(x AS DECIMAL(38,9)), CAST(y AS DOUBLE)"
        );
    }

    #[test]
    fn select_star_except_is_exclude() {
        assert_eq!(
            one("SELECT * EXCEPT (a, b) FROM t"),
            "SELECT * EXCLUDE (a, b) FROM t"
        );
    }

    #[test]
    fn merge_keeps_its_clauses() {
        assert_eq!(
            one(
                "MERGE `p.d.main` T USING `p.d.stage` S ON T.k = S.k WHEN NOT MATCHED THEN INSERT (k, v) VALUES (S.k, S.v)"
            ),
            "MERGE INTO \"d\".\"main\" T USING \"d\".\"stage\" S ON T.k = S.k WHEN NOT MATCHED THEN INSERT (k, v) VALUES (S.k, S.v)"
        );
    }

    #[test]
    fn external_table() {
        let s = rewrite(
            "CREATE OR REPLACE EXTERNAL TABLE `p.d.ext` (id STRING, n INTEGER)\nOPTIONS (format = 'CSV', uris = ['gs://b/x/*.csv'], skip_leading_rows = 1, ignore_unknown_values = TRUE)",
        )
        .unwrap();
        let [Step::External(e)] = &s.steps[..] else {
            panic!("{:?}", s.steps)
        };
        assert_eq!(e.uris, vec!["gs://b/x/*.csv".to_string()]);
        assert_eq!(e.name(), "\"d\".\"ext\"");
        assert_eq!(
            e.sql(&[PathBuf::from("/tmp/a.csv")]).unwrap(),
            "CREATE OR REPLACE TABLE \"d\".\"ext\" AS SELECT * FROM read_csv(['/tmp/a.csv'], header = false, skip = 1, columns = {'id': 'VARCHAR', 'n': 'BIGINT'}, strict_mode = false)"
        );
        let s = rewrite(
            "CREATE EXTERNAL TABLE d.p OPTIONS (format = 'PARQUET', uris = ['gs://b/p.parquet'])",
        )
        .unwrap();
        let [Step::External(e)] = &s.steps[..] else {
            panic!()
        };
        assert_eq!(
            e.sql(&[PathBuf::from("/x.parquet")]).unwrap(),
            "CREATE TABLE \"d\".\"p\" AS SELECT * FROM read_parquet(['/x.parquet'])"
        );
    }

    #[test]
    fn schema_types() {
        assert_eq!(duckdb_type("STRING").unwrap(), "VARCHAR");
        assert_eq!(duckdb_type("integer").unwrap(), "BIGINT");
        assert_eq!(duckdb_type("FLOAT").unwrap(), "DOUBLE");
        assert_eq!(duckdb_type("NUMERIC").unwrap(), "DECIMAL(38,9)");
        assert_eq!(duckdb_type("TIMESTAMP").unwrap(), "TIMESTAMP");
        assert!(duckdb_type("RECORD").is_err());
    }

    #[test]
    fn format_elements() {
        assert_eq!(map_format("%F %T").unwrap(), "%Y-%m-%d %H:%M:%S");
        assert_eq!(map_format("%E6S").unwrap(), "%S.%f");
        assert!(map_format("%Q").unwrap_err().contains("%Q"));
    }

    #[test]
    fn clear_errors_name_the_construct() {
        let e = rewrite("SELECT 1;\nSELECT ST_GEOGPOINT(1, 2)").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("ST_GEOGPOINT"), "{e}");
        let e = rewrite("SELECT PARSE_DATE('%Q', s)").unwrap_err();
        assert!(e.message.contains("%Q"), "{e}");
        let e = rewrite("CREATE TABLE t (g GEOGRAPHY)").unwrap_err();
        assert!(e.message.contains("GEOGRAPHY"), "{e}");
        let e = rewrite("SELEC 1").unwrap_err();
        assert!(e.message.contains("not BigQuery SQL"), "{e}");
        let e = rewrite(
            "CREATE EXTERNAL TABLE d.x OPTIONS (format = 'GOOGLE_SHEETS', uris = ['https://x'])",
        )
        .unwrap_err();
        assert!(e.message.contains("GOOGLE_SHEETS"), "{e}");
    }
}
