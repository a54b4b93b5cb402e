//! JDBC-style URLs: which engine, where, and with which credentials.

use crate::{Result, WarehouseError};
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    DuckDb,
    Postgres,
    Redshift,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "DuckDB",
            Engine::Postgres => "PostgreSQL",
            Engine::Redshift => "Redshift",
        }
    }
}

/// Connection settings for the PostgreSQL wire protocol. `Display` masks the password.
#[derive(Clone, PartialEq)]
pub struct PgConfig {
    pub engine: Engine,
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub connect_timeout_secs: u64,
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self
            .user
            .as_deref()
            .map(|u| format!("{u}@"))
            .unwrap_or_default();
        write!(
            f,
            "{} at {user}{}:{}/{}",
            self.engine.name(),
            self.host,
            self.port,
            self.database
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// `None` is an in-memory database.
    DuckDb {
        path: Option<PathBuf>,
    },
    Postgres(PgConfig),
}

impl Target {
    pub fn engine(&self) -> Engine {
        match self {
            Target::DuckDb { .. } => Engine::DuckDb,
            Target::Postgres(c) => c.engine,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::DuckDb { path: Some(p) } => write!(f, "DuckDB file `{}`", p.display()),
            Target::DuckDb { path: None } => write!(f, "in-memory DuckDB"),
            Target::Postgres(c) => write!(f, "{c}"),
        }
    }
}

/// Parses `jdbc:duckdb:PATH`, `jdbc:postgresql://HOST[:PORT]/DB[?user=…&password=…]` and
/// `jdbc:redshift://HOST[:PORT]/DB`. `username`/`password` given apart win over the URL's.
pub fn parse(url: &str, username: Option<&str>, password: Option<&str>) -> Result<Target> {
    let bad = |why: &str| {
        WarehouseError::Url(format!(
            "`{}` is not a warehouse URL: {why} (expected `jdbc:duckdb:PATH`, `jdbc:postgresql://HOST:PORT/DB` or `jdbc:redshift://HOST:PORT/DB`)",
            mask_url(url)
        ))
    };
    let rest = url
        .trim()
        .strip_prefix("jdbc:")
        .ok_or_else(|| bad("it does not start with `jdbc:`"))?;
    if let Some(path) = rest.strip_prefix("duckdb:") {
        let path = path.trim();
        return Ok(Target::DuckDb {
            path: if path.is_empty() || path == ":memory:" {
                None
            } else {
                Some(PathBuf::from(path))
            },
        });
    }
    let (engine, rest, default_port) = if let Some(r) = rest.strip_prefix("postgresql://") {
        (Engine::Postgres, r, 5432)
    } else if let Some(r) = rest.strip_prefix("redshift://") {
        (Engine::Redshift, r, 5439)
    } else {
        return Err(bad("unknown engine"));
    };
    let (authority_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, database) = authority_path
        .split_once('/')
        .ok_or_else(|| bad("no database name after the host"))?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| bad(&format!("`{p}` is not a port")))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() || database.is_empty() {
        return Err(bad("host and database must not be empty"));
    }
    let mut cfg = PgConfig {
        engine,
        host: host.to_string(),
        port,
        database: database.to_string(),
        user: None,
        password: None,
        connect_timeout_secs: 10,
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "user" => cfg.user = Some(v.to_string()),
            "password" => cfg.password = Some(v.to_string()),
            "connectTimeout" | "loginTimeout" => cfg.connect_timeout_secs = v.parse().unwrap_or(10),
            _ => {}
        }
    }
    if let Some(u) = username.filter(|u| !u.is_empty()) {
        cfg.user = Some(u.to_string());
    }
    if let Some(p) = password.filter(|p| !p.is_empty()) {
        cfg.password = Some(p.to_string());
    }
    Ok(Target::Postgres(cfg))
}

/// A URL with any `password=` value hidden, for messages.
pub fn mask_url(url: &str) -> String {
    match url.find("password=") {
        Some(i) => {
            let end = url[i..].find('&').map_or(url.len(), |j| i + j);
            format!("{}password=******{}", &url[..i], &url[end..])
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_engine() {
        assert_eq!(
            parse("jdbc:duckdb:/tmp/w.duckdb", None, None).unwrap(),
            Target::DuckDb {
                path: Some("/tmp/w.duckdb".into())
            }
        );
        assert_eq!(
            parse("jdbc:duckdb:", None, None).unwrap(),
            Target::DuckDb { path: None }
        );
        let Target::Postgres(c) = parse(
            "jdbc:redshift://h.example:5439/dev?user=a&password=b",
            Some("kestra"),
            None,
        )
        .unwrap() else {
            panic!("not postgres")
        };
        assert_eq!(
            (c.engine, c.host.as_str(), c.port, c.database.as_str()),
            (Engine::Redshift, "h.example", 5439, "dev")
        );
        assert_eq!(
            (c.user.as_deref(), c.password.as_deref()),
            (Some("kestra"), Some("b"))
        );
        assert_eq!(c.to_string(), "Redshift at kestra@h.example:5439/dev");
    }

    #[test]
    fn bad_urls_say_why_and_hide_passwords() {
        let e = parse("postgres://h/db?password=secret", None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not start with `jdbc:`") && !e.contains("secret"),
            "{e}"
        );
        let e = parse("jdbc:postgresql://h:xx/db", None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`xx` is not a port"), "{e}");
    }
}
