//! End-to-end tests of the `weir` binary: behaviour of runs (`engine`) and the bad-input
//! corpus (`corpus`), sharing the harness in `common`.

mod buckets;
mod common;
mod corpus;
mod engine;
