//! A throwaway PostgreSQL 15 cluster for one test: `initdb` into a temporary folder, a free
//! loopback port, `pg_ctl start`, and `pg_ctl stop -m immediate` when dropped.
//!
//! `initdb` refuses to run as root, so when the tests run as root the cluster belongs to the
//! `postgres` user: its folder is handed over with `chown` and the binaries run through
//! `runuser -u postgres --`.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = "/usr/lib/postgresql/15/bin";
pub const USER: &str = "weir";
pub const PASSWORD: &str = "weir-test-pw";

pub struct Pg {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
    started: bool,
}

/// Whether this process runs with effective uid 0. `/proc/self` belongs to the effective uid;
/// reading it needs no `unsafe` and no extra `nix` feature.
fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of the `postgres` user, through `id` (so NSS is honoured).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("run `id`");
        assert!(
            o.status.success(),
            "there is no `postgres` user to own the test cluster: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse()
            .expect("`id` prints a number")
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

impl Pg {
    /// Creates and starts a cluster; panics with the server's log when that fails.
    pub fn start() -> Pg {
        assert!(
            Path::new(BIN).join("initdb").is_file(),
            "PostgreSQL 15 is not installed in {BIN}"
        );
        let as_postgres = running_as_root();
        // The postgres user must reach the folder: keep it under /tmp, not a root-only TMPDIR.
        let dir = if as_postgres {
            tempfile::Builder::new()
                .prefix("weir-pg-")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("weir-pg-").tempdir()
        }
        .expect("tempdir for the cluster");
        let mut pg = Pg {
            dir,
            port: free_port(),
            as_postgres,
            started: false,
        };
        let pwfile = pg.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).expect("write the password file");
        if as_postgres {
            let (uid, gid) = postgres_ids();
            for p in [pg.dir.path(), pwfile.as_path()] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let data = pg.data();
        let pw_arg = format!("--pwfile={}", pwfile.display());
        pg.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                USER,
                &pw_arg,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            pg.port,
            data.display()
        );
        let log = pg.dir.path().join("server.log");
        // `-l`: the server must not inherit our pipes, or collecting pg_ctl's output would wait
        // for the server to exit.
        pg.started = true;
        pg.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data),
                "-l",
                path_str(&log),
                "-w",
                "-t",
                "30",
                "-o",
                &opts,
                "start",
            ],
        );
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `jdbc:postgresql://127.0.0.1:PORT/postgres`, without credentials.
    pub fn url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/postgres", self.port)
    }

    /// The URL with `?user=…&password=…`, for `weir query` and `weir demo --url`.
    pub fn url_with_login(&self) -> String {
        format!("{}?user={USER}&password={PASSWORD}", self.url())
    }

    fn command(&self, prog: &str) -> Command {
        let bin = format!("{BIN}/{prog}");
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &bin]);
            c
        } else {
            Command::new(bin)
        };
        c.current_dir(self.dir.path())
            .stdin(Stdio::null())
            .env("LC_ALL", "C");
        c
    }

    fn run(&self, prog: &str, args: &[&str]) -> Output {
        let o = self
            .command(prog)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("could not run {prog}: {e}"));
        if !o.status.success() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "{prog} {args:?} failed ({}):\n{}{}\nserver log:\n{log}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        o
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

impl Drop for Pg {
    fn drop(&mut self) {
        if self.started {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D", path_str(&data), "-m", "immediate", "stop"])
                .output();
        }
    }
}
