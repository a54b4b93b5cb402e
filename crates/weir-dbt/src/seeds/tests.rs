//! Seed reading, typing and loading statements.

use super::*;
use serde_json::json;

fn read(csv: &str) -> SeedTable {
    read_seed("seeds/s.csv", csv, &Map::new(), "duckdb").unwrap()
}

fn types(t: &SeedTable) -> Vec<&str> {
    t.columns.iter().map(|(_, ty)| ty.as_str()).collect()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn infers_dbt_types() {
    let t = read(
        "id,big,amount,flag,day,at,iso,name,nothing\n\
         1,3000000000,1.5,true,2024-01-05,2024-01-05 10:00:00,2024-01-05T10:00:00Z,a,\n\
         2,1,2,FALSE,2024-1-6,2024-01-06 11:30:00,2024-01-06T11:30:00.5+01:00,b,null\n",
    );
    assert_eq!(
        types(&t),
        [
            "integer",
            "bigint",
            "float8",
            "boolean",
            "date",
            "timestamp without time zone",
            "timestamp without time zone",
            "text",
            "integer"
        ]
    );
    assert_eq!(t.rows[1][3], s("false"));
    assert_eq!(t.rows[0][8], None);
    assert_eq!(t.rows[1][8], None);
}

#[test]
fn mixed_columns_fall_back_to_text() {
    let t = read("a,b,c\n1,2024-01-05,true\nx,2024-01-05 10:00:00.123,1\n");
    assert_eq!(types(&t), ["text", "text", "text"]);
    // Text keeps its cells as written.
    assert_eq!(t.rows[1][1], s("2024-01-05 10:00:00.123"));
}

#[test]
fn numbers_as_agate_reads_them() {
    let t = read("n,m\n\"1,234\",1.0\n-5,2\n");
    assert_eq!(types(&t), ["integer", "float8"]);
    assert_eq!(t.rows[0][0], s("1234"));
}

#[test]
fn empty_cells_and_short_rows_are_null() {
    let t = read("a,b,c\n1,,x\n2\n\n3, ,NULL\r\n");
    assert_eq!(
        t.rows,
        vec![
            vec![s("1"), None, s("x")],
            vec![s("2"), None, None],
            vec![s("3"), None, None],
        ]
    );
}

#[test]
fn quoted_commas_quotes_and_newlines() {
    let t = read("\u{feff}id,text\n1,\"a, b\"\n2,\"say \"\"hi\"\"\nbye\"\n3,plain\n");
    assert_eq!(t.columns[0].0, "id");
    assert_eq!(
        t.rows.iter().map(|r| r[1].clone()).collect::<Vec<_>>(),
        [s("a, b"), s("say \"hi\"\nbye"), s("plain")]
    );
}

#[test]
fn column_types_override_and_keep_text() {
    let overrides = json!({"zip": "varchar(5)", "n": "bigint"});
    let t = read_seed(
        "seeds/s.csv",
        "zip,n,x\n00501,1,2\n",
        overrides.as_object().unwrap(),
        "postgres",
    )
    .unwrap();
    assert_eq!(types(&t), ["varchar(5)", "bigint", "integer"]);
    assert_eq!(t.rows[0][0], s("00501"));
}

#[test]
fn redshift_text_is_sized() {
    let t = read_seed("s.csv", "a,b\nabc,\nde,\n", &Map::new(), "redshift").unwrap();
    assert_eq!(types(&t), ["varchar(3)", "integer"]);
}

#[test]
fn a_bad_row_is_located() {
    let err = read_seed(
        "seeds/s.csv",
        "a,b\n1,2\n3,\"x, y\",4\n",
        &Map::new(),
        "duckdb",
    )
    .unwrap_err();
    assert_eq!(err.location.file, "seeds/s.csv");
    assert_eq!((err.location.line, err.location.column), (3, 10));
    assert!(err.message.contains("3 values"), "{}", err.message);
}

#[test]
fn an_unclosed_quote_is_located() {
    let err = read_seed("s.csv", "a,b\n1,2\n3,\"open\n4,5\n", &Map::new(), "duckdb").unwrap_err();
    assert_eq!((err.location.line, err.location.column), (3, 3));
}

#[test]
fn header_problems() {
    let empty = read_seed("s.csv", "", &Map::new(), "duckdb").unwrap_err();
    assert_eq!(empty.location.line, 1);
    let dup = read_seed("s.csv", "a,b,a\n1,2,3\n", &Map::new(), "duckdb").unwrap_err();
    assert_eq!((dup.location.line, dup.location.column), (1, 5));
}

#[test]
fn statements_create_and_insert() {
    let t = read("id,name,ok,day\n1,O'Neil,true,2024-01-05\n2,,false,\n");
    assert_eq!(
        seed_statements(&t, "\"db\".\"main\".\"s\"", "duckdb", false),
        [
            "create table \"db\".\"main\".\"s\" (\"id\" integer, \"name\" text, \"ok\" boolean, \"day\" date)",
            "insert into \"db\".\"main\".\"s\" (\"id\", \"name\", \"ok\", \"day\") values\n\
             (1, 'O''Neil', true, '2024-01-05'),\n(2, NULL, false, NULL)"
        ]
    );
}

#[test]
fn statements_truncate_an_existing_table() {
    let t = read("a\nx\n");
    let stmts = seed_statements(&t, "s", "postgres", true);
    assert_eq!(stmts[0], "truncate table s");
    assert_eq!(stmts[1], "insert into s (\"a\") values\n('x')");
}

#[test]
fn statements_batch_rows() {
    let mut csv = String::from("n\n");
    for i in 0..2500 {
        csv.push_str(&format!("{i}\n"));
    }
    let stmts = seed_statements(&read(&csv), "s", "duckdb", false);
    assert_eq!(stmts.len(), 4);
    assert_eq!(stmts[1].matches('(').count(), 1 + 1000);
    assert_eq!(stmts[3].matches('(').count(), 1 + 500);
    assert!(stmts[3].ends_with("(2499)"));
}

#[test]
fn redshift_escapes_backslashes() {
    let t = SeedTable {
        columns: vec![("a".into(), "varchar(4)".into())],
        rows: vec![vec![s("a\\'b")]],
    };
    assert!(seed_statements(&t, "s", "redshift", true)[1].ends_with("('a\\\\''b')"));
    assert!(seed_statements(&t, "s", "postgres", true)[1].ends_with("('a\\''b')"));
}

#[test]
fn override_types_choose_literals() {
    let t = SeedTable {
        columns: vec![
            ("n".into(), "numeric(10,2)".into()),
            ("t".into(), "varchar(5)".into()),
            ("b".into(), "bool".into()),
        ],
        rows: vec![
            vec![s("00501"), s("00501"), s("true")],
            vec![s("x1"), None, s("yes")],
        ],
    };
    let stmts = seed_statements(&t, "s", "duckdb", true);
    assert_eq!(
        stmts[1],
        "insert into s (\"n\", \"t\", \"b\") values\n(00501, '00501', true),\n('x1', NULL, 'yes')"
    );
}
