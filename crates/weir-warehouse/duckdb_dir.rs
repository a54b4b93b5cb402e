// Included by `build.rs` (kept apart so that the build script's job is plain to see).

/// Records where the build found DuckDB's shared library (`DUCKDB_LIB_DIR`, made absolute) as
/// `WEIR_DUCKDB_BUILD_DIR`, the first place `duck/library.rs` looks when `WEIR_DUCKDB_LIB` is
/// unset. Nothing is linked: the library is opened when a DuckDB warehouse is first used.
fn weir_duckdb_dir() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        // Absolute, but links kept: a `.duckdb` link that `dev/install-duckdb` moves to another
        // DuckDB release is followed at run time, without a rebuild.
        let dir = std::path::absolute(&dir)
            .map(|p| p.display().to_string())
            .unwrap_or(dir);
        println!("cargo:rustc-env=WEIR_DUCKDB_BUILD_DIR={dir}");
    }
}
