// Shared by the build scripts of every crate whose binaries or test binaries link DuckDB
// (included, not a crate: build scripts cannot share code otherwise without a build-dependency).

/// Lets the binaries find DuckDB's shared library at run time: an rpath to `DUCKDB_LIB_DIR`.
fn weir_rpath() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        let dir = std::fs::canonicalize(&dir)
            .map(|p| p.display().to_string())
            .unwrap_or(dir);
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
