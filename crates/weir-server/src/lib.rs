//! `weir server`: the queue's workers, the scheduler and the REST API in one process.

pub mod api;
pub mod control;
pub mod core;
pub mod serve;
pub mod ui;
