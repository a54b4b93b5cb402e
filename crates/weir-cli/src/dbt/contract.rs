//! Model contracts (`contract: {enforced: true}`): the columns a model's query gives are
//! compared with the `columns:` (name and `data_type`) of its properties before anything is
//! built, with dbt's table of mismatches; a table is then created from the declared columns
//! with their `constraints` (`not_null`, `primary_key`, `unique`, `check`) and filled by an
//! insert, so the warehouse enforces them.

use weir_dbt::jinja::Column;
use weir_dbt::project::Node;

/// A type name as both sides spell it: upper case, DuckDB's and PostgreSQL's aliases folded,
/// lengths and precisions dropped (`varchar(10)` is `VARCHAR`).
pub(crate) fn normalize_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    match base {
        "int" | "int4" | "integer" | "signed" => "INTEGER",
        "bigint" | "int8" | "long" => "BIGINT",
        "smallint" | "int2" | "short" => "SMALLINT",
        "tinyint" | "int1" => "TINYINT",
        "text" | "string" | "varchar" | "char" | "bpchar" | "character" | "character varying" => {
            "VARCHAR"
        }
        "double" | "float8" | "double precision" => "DOUBLE",
        "real" | "float4" | "float" => "FLOAT",
        "bool" | "boolean" | "logical" => "BOOLEAN",
        "numeric" | "decimal" => "DECIMAL",
        "timestamp" | "datetime" | "timestamp without time zone" => "TIMESTAMP",
        "timestamptz" | "timestamp with time zone" => "TIMESTAMP WITH TIME ZONE",
        other => return other.to_ascii_uppercase(),
    }
    .to_string()
}

/// The mismatches between a model's declared columns and its query's, as dbt's message:
/// `None` when they agree.
pub(crate) fn mismatches(node: &Node, actual: &[Column]) -> Option<String> {
    let mut rows: Vec<[String; 4]> = Vec::new();
    for c in actual {
        match node
            .columns
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(&c.name))
        {
            None => rows.push([
                c.name.clone(),
                c.data_type.clone(),
                String::new(),
                "missing in contract".into(),
            ]),
            Some(d) => {
                let declared = d.data_type.clone().unwrap_or_default();
                if normalize_type(&declared) != normalize_type(&c.data_type) {
                    rows.push([
                        c.name.clone(),
                        c.data_type.clone(),
                        declared,
                        "data type mismatch".into(),
                    ]);
                }
            }
        }
    }
    for d in &node.columns {
        if !actual.iter().any(|c| c.name.eq_ignore_ascii_case(&d.name)) {
            rows.push([
                d.name.clone(),
                String::new(),
                d.data_type.clone().unwrap_or_default(),
                "missing in definition".into(),
            ]);
        }
    }
    if rows.is_empty() {
        return None;
    }
    let header = [
        "column_name",
        "definition_type",
        "contract_type",
        "mismatch_reason",
    ];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    let mut out = vec![
        "This model has an enforced contract that failed.".to_string(),
        "Please ensure the name, data_type, and number of columns in your contract match the \
         columns in your model's definition."
            .to_string(),
        String::new(),
        line(header),
        line([
            &"-".repeat(widths[0]),
            &"-".repeat(widths[1]),
            &"-".repeat(widths[2]),
            &"-".repeat(widths[3]),
        ]),
    ];
    for r in &rows {
        out.push(line([&r[0], &r[1], &r[2], &r[3]]));
    }
    Some(out.join("\n"))
}

/// `create table <target> (<declared columns with their constraints>)`.
pub(crate) fn create_table(node: &Node, target: &str, quote: &dyn Fn(&str) -> String) -> String {
    let cols: Vec<String> = node
        .columns
        .iter()
        .map(|c| {
            let mut col = format!(
                "{} {}",
                quote(&c.name),
                c.data_type.as_deref().unwrap_or("varchar")
            );
            for k in &c.constraints {
                match k.get("type").and_then(|t| t.as_str()) {
                    Some("not_null") => col.push_str(" not null"),
                    Some("primary_key") => col.push_str(" primary key"),
                    Some("unique") => col.push_str(" unique"),
                    Some("check") => {
                        if let Some(e) = k.get("expression").and_then(|e| e.as_str()) {
                            col.push_str(&format!(" check ({e})"));
                        }
                    }
                    _ => {}
                }
            }
            col
        })
        .collect();
    format!("create table {target} ({})", cols.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_aliases_of_both_warehouses_fold_together() {
        assert_eq!(normalize_type("int"), normalize_type("INTEGER"));
        assert_eq!(normalize_type("text"), normalize_type("VARCHAR"));
        assert_eq!(normalize_type("character varying(20)"), "VARCHAR");
        assert_ne!(normalize_type("bigint"), normalize_type("integer"));
    }
}
