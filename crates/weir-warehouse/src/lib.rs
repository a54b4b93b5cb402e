//! Warehouses weir loads into and queries: DuckDB embedded, PostgreSQL and Redshift over the wire.

#[cfg(test)]
mod tests {
    #[test]
    fn duckdb_links_and_runs() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let v: String = conn
            .query_row("SELECT version()", [], |r| r.get(0))
            .unwrap();
        assert!(v.starts_with("v1.5"), "{v}");
    }
}
