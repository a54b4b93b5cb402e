//! Lets this crate's binaries and test binaries find DuckDB's shared library at run time.
include!("rpath.rs");

fn main() {
    println!("cargo:rerun-if-changed=rpath.rs");
    weir_rpath();
}
