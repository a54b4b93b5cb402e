//! Every environment variable weir reads, declared in one place.

/// The folder holding all of weir's state (SQLite file, internal storage). Default `./.weir`.
pub const WEIR_HOME: &str = "WEIR_HOME";
/// Prefix of secrets: `secret('NAME')` reads `SECRET_NAME`.
pub const SECRET_PREFIX: &str = "SECRET_";
/// Set to anything to turn off colours in terminal output.
pub const NO_COLOR: &str = "NO_COLOR";
/// The Python interpreter used by `scripts.python.*` tasks (default `python3`).
pub const WEIR_PYTHON: &str = "WEIR_PYTHON";
