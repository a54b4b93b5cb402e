//! Lets this crate's binaries and test binaries find DuckDB's shared library at run time.
include!("../weir-warehouse/rpath.rs");

fn main() {
    println!("cargo:rerun-if-changed=../weir-warehouse/rpath.rs");
    weir_rpath();
}
