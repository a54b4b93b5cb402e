//! Vocabulary shared by every weir crate: states, diagnostics, durations, environment variables
//! and calendar arithmetic.
//!
//! This crate does no I/O and depends on no runtime or driver.

pub mod civil;
pub mod diagnostic;
pub mod duration;
pub mod env;
pub mod state;

pub use diagnostic::{Diagnostic, Location};
pub use duration::{DurationError, format_duration, parse_duration};
pub use state::State;
