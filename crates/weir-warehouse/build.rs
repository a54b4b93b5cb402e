//! Records where the build found DuckDB's shared library, the first place `duck/library.rs`
//! looks for it at run time.
include!("duckdb_dir.rs");

fn main() {
    println!("cargo:rerun-if-changed=duckdb_dir.rs");
    weir_duckdb_dir();
}
