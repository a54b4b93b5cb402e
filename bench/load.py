# Load benchmark for weir: the yellow 2021-01 taxi month into DuckDB (and PostgreSQL), against direct-SQL and dlt baselines.
"""Measure how long weir takes to load one taxi month, and what the same load costs without weir.

The file is the yellow 2021-01 month that `weir demo` generates (1,369,765 rows at scale 1,
a `.csv.gz`). It is generated once per benchmark run (not timed), then hard-linked into
every fresh weir home, so `weir demo` finds it and skips generation.

Cases (interleaved round-robin: run 1 of every case, then run 2, ...):

  weir-load       `weir demo --taxi yellow` into a fresh home: download, bucket, then
                  `weir.warehouse.Load` into DuckDB. Timed: the `load` task run (RUNNING ->
                  SUCCESS in its state history) and the whole execution (started -> ended).
  weir-rerun      the same command again on the same home: the same month, 0 rows inserted.
  weir-article    `weir demo --article` into a fresh home: the article's SQL (CREATE, CREATE LIKE,
                  TRUNCATE, COPY from the bucket, UPDATE md5, MERGE). Timed: the sum of the six
                  `yellow_*` warehouse tasks, and the whole execution.
  duckdb-article  baseline (a): the article's SQL run directly with Python's `duckdb` on a fresh
                  database file, COPY from the gunzipped CSV (gunzipped before timing).
  duckdb-onestmt  baseline (b): one INSERT ... SELECT DISTINCT ON over `read_csv` of the .csv.gz
                  with weir's md5 key (of the fields' text) and an anti-join, into an existing empty
                  table, fresh file.
  dlt-arrow       baseline (c): `dlt` (PyPI) with `write_disposition="merge"`, `primary_key` on an
                  md5 column, the resource yielding one pyarrow table read from the .csv.gz
                  (dlt's fast path: parquet, no row-by-row normalizing).
  dlt             the same with a resource yielding rows read with the `csv` module (slow: runs
                  `--dlt-runs` times). The target compares the load with the faster of the two.
  pg-psql         PostgreSQL baseline: `psql \\copy` into a staging table, the article's UPDATE md5,
                  INSERT ... SELECT DISTINCT ON ... WHERE NOT EXISTS; fresh database.
  weir-pg         `weir demo --url jdbc:postgresql://...` into a fresh home and fresh database:
                  the `load` task on the same throwaway PostgreSQL 15 cluster.

Baselines run in a venv under ~/.cache/weir/bench-venv (duckdb 1.5.x pinned, dlt[duckdb], pyarrow);
this script itself needs only Python 3.11's standard library. Peak memory is the maximum
resident set size from `/usr/bin/time -v` (or RUSAGE_CHILDREN when it is missing).

Growth case (`--growth`, instead of the cases above): the same month loaded by `weir demo` into
a table that already holds 0, 10 M, 50 M, 100 M rows (`--growth-sizes`), on DuckDB and on
PostgreSQL (`--growth-engines`), each without a key index (the article's table as it is) and with
one. The table is filled untimed with direct SQL (md5 text keys of generated rows, taxi-like
values), the same way in both cases; with the key index, `weir warehouse index` then builds weir's
key store from the table (timed apart: `index_s`). The timed part is the demo's `load` task.
PostgreSQL runs with wal_level=minimal and fills the table in the transaction that creates it, with
fsync, full_page_writes and synchronous_commit off; they are back on, and the table VACUUM
ANALYZEd and CHECKPOINTed, before anything is timed. Each sample's database is dropped before the
next fill; the free disk is checked before and during each fill (bytes per row as measured), and
the run stops cleanly when a fill would not fit. Reported: seconds, microseconds per file row,
the ratio to the empty table without a key index (target <= 1.2 at 100 M), weir's peak RSS
(< 500 MB), the key check the load logged, fill seconds and bytes per row.

Usage: python3 bench/load.py [--runs N] [--scale S] [--weir PATH] [--no-dlt] [--no-postgres]
       python3 bench/load.py --growth [--growth-sizes 0,10M,50M,100M] [--growth-pg-sizes ...]
               [--growth-engines duckdb,postgres] [--growth-no-index] [--runs N] [--weir PATH] [--no-postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import busy_builds, loadavg, git_commit, result_path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
CACHE = Path(os.environ.get("WEIR_CACHE", Path.home() / ".cache" / "weir"))
VENV = CACHE / "bench-venv"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TIME_BIN = Path("/usr/bin/time")

MONTH = "2021-01"
FILE_GZ = f"yellow_tripdata_{MONTH}.csv.gz"
FILE_CSV = f"yellow_tripdata_{MONTH}.csv"
ROWS_AT_SCALE_1 = 1_369_765

TARGET_ARTICLE_VS_A = 1.1   # weir article flow (warehouse tasks) / (a)  <= 1.1
TARGET_LOAD_VS_B = 1.2      # weir load task / (b)                       <= 1.2
TARGET_A_OVER_LOAD = 2.0    # (a) / weir load task                       >= 2
TARGET_PEAK_MB = 500.0      # weir max RSS                                < 500 MB

ARTICLE_TASKS = [
    "yellow_table_create",
    "yellow_create_staging_table",
    "yellow_truncate_staging_table",
    "yellow_copy_into_staging_table",
    "yellow_add_unique_id_and_filename",
    "yellow_merge_data",
]

# --- The article's SQL (examples/nyc-taxi/flows/taxi_article.yaml, yellow branch) -----------

COLUMNS = [  # (name, article DDL type, DuckDB type for read_csv)
    ("VendorID", "text", "VARCHAR"),
    ("tpep_pickup_datetime", "timestamp", "TIMESTAMP"),
    ("tpep_dropoff_datetime", "timestamp", "TIMESTAMP"),
    ("passenger_count", "integer", "INTEGER"),
    ("trip_distance", "double precision", "DOUBLE"),
    ("RatecodeID", "text", "VARCHAR"),
    ("store_and_fwd_flag", "text", "VARCHAR"),
    ("PULocationID", "text", "VARCHAR"),
    ("DOLocationID", "text", "VARCHAR"),
    ("payment_type", "integer", "INTEGER"),
    ("fare_amount", "double precision", "DOUBLE"),
    ("extra", "double precision", "DOUBLE"),
    ("mta_tax", "double precision", "DOUBLE"),
    ("tip_amount", "double precision", "DOUBLE"),
    ("tolls_amount", "double precision", "DOUBLE"),
    ("improvement_surcharge", "double precision", "DOUBLE"),
    ("total_amount", "double precision", "DOUBLE"),
    ("congestion_surcharge", "double precision", "DOUBLE"),
]
FILE_COLS = [c for c, _, _ in COLUMNS]
ALL_COLS = ["unique_row_id", "filename"] + FILE_COLS
# weir.warehouse.Load's keyColumns in taxi_load.yaml (also the columns of the article's md5).
KEY_COLS = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID",
            "DOLocationID", "fare_amount", "trip_distance"]

TABLE = "public.yellow_tripdata"
STAGING = "public.yellow_tripdata_staging"

CREATE_MAIN = (f"CREATE TABLE IF NOT EXISTS {TABLE} (\n    unique_row_id text,\n    filename text,\n"
               + ",\n".join(f"    {c} {t}" for c, t, _ in COLUMNS) + "\n)")
CREATE_STAGING_DUCKDB = f"CREATE TABLE IF NOT EXISTS {STAGING} AS SELECT * FROM {TABLE} LIMIT 0"  # weir's rewrite of (LIKE …)
CREATE_STAGING_PG = f"CREATE TABLE IF NOT EXISTS {STAGING} (LIKE {TABLE})"
TRUNCATE_STAGING = f"TRUNCATE TABLE {STAGING}"
ARTICLE_MD5 = """md5(
    COALESCE(VendorID, '') ||
    COALESCE(CAST(tpep_pickup_datetime AS varchar), '') ||
    COALESCE(CAST(tpep_dropoff_datetime AS varchar), '') ||
    COALESCE(PULocationID, '') ||
    COALESCE(DOLocationID, '') ||
    COALESCE(CAST(fare_amount AS varchar), '') ||
    COALESCE(CAST(trip_distance AS varchar), '')
  )"""
UPDATE_MD5 = f"UPDATE {STAGING}\nSET\n  unique_row_id = {ARTICLE_MD5},\n  filename = '{FILE_CSV}'"
MERGE = (f"MERGE INTO {TABLE}\nUSING {STAGING} AS S\nON {TABLE}.unique_row_id = S.unique_row_id\n"
         "WHEN MATCHED THEN\n  UPDATE SET\n    unique_row_id = S.unique_row_id\n"
         f"WHEN NOT MATCHED THEN\n  INSERT ({', '.join(ALL_COLS)})\n"
         f"  VALUES ({', '.join('S.' + c for c in ALL_COLS)})")
# weir's DuckDB COPY for the article's Redshift COPY (crates/weir-warehouse/src/duck.rs copy_csv).
def copy_duckdb(csv_path: str) -> str:
    return (f"COPY {STAGING} ({', '.join(FILE_COLS)}) FROM '{csv_path}' "
            "(FORMAT csv, DELIMITER ',', QUOTE '\"', NULLSTR '', HEADER true, COMPRESSION none)")

# weir.warehouse.Load's key (crates/weir-warehouse/src/load/rows.rs, README "row keys"): md5 of
# each key field's text as written in the file, prefixed by its length in characters and `:`,
# `N` for an empty (NULL) field, concatenated. Baseline (b) reads every column as text so that it
# computes exactly the same key, then casts the typed columns.
WEIR_KEY = "md5(concat(" + ", ".join(f"coalesce(length({c}) || ':' || {c}, 'N')" for c in KEY_COLS) + "))"


def one_statement_duckdb(gz_path: str) -> str:
    as_text = ", ".join(f"'{c}': 'VARCHAR'" for c, _, _ in COLUMNS)
    cols = ", ".join(FILE_COLS)
    typed = ", ".join(c if d == "VARCHAR" else f"CAST({c} AS {d})" for c, _, d in COLUMNS)
    return (f"INSERT INTO {TABLE} (unique_row_id, filename, {cols})\n"
            f"SELECT DISTINCT ON (k) k, '{FILE_CSV}', {typed}\n"
            f"FROM (SELECT {WEIR_KEY} AS k, * FROM read_csv('{gz_path}', header = true, nullstr = '', "
            f"compression = 'gzip', auto_detect = false, columns = {{{as_text}}})) s\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE} t WHERE t.unique_row_id = s.k)")


def pg_steps(csv_path: str) -> str:
    cols = ", ".join(FILE_COLS)
    return "\n".join([
        "\\timing on",
        f"\\copy {STAGING} ({cols}) FROM '{csv_path}' WITH (FORMAT csv, HEADER true)",
        UPDATE_MD5 + ";",
        f"INSERT INTO {TABLE} ({', '.join(ALL_COLS)})\n"
        f"SELECT DISTINCT ON (unique_row_id) {', '.join(ALL_COLS)} FROM {STAGING} s\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {TABLE} t WHERE t.unique_row_id = s.unique_row_id);",
        "",
    ])


# --- The helper run by the venv's Python (duckdb, dlt) ----------------------------------------

HELPER = r'''
import json, sys, time, os
mode, args = sys.argv[1], json.loads(sys.argv[2])
out = {}
t_all = time.perf_counter()
if mode in ("article", "onestmt"):
    import duckdb
    out["duckdb_version"] = duckdb.__version__
    if mode == "onestmt":  # the table exists and is empty, as for weir's load task
        con = duckdb.connect(args["db"])
        con.execute("CREATE SCHEMA IF NOT EXISTS public")
        con.execute(args["create"])
        con.close()
    steps = {}
    t0 = time.perf_counter()
    con = duckdb.connect(args["db"])
    con.execute("CREATE SCHEMA IF NOT EXISTS public")
    steps["connect"] = time.perf_counter() - t0
    for name, sql in args["steps"]:
        t = time.perf_counter()
        con.execute(sql)
        steps[name] = time.perf_counter() - t
    t = time.perf_counter()
    con.close()
    steps["close"] = time.perf_counter() - t
    out["seconds"] = time.perf_counter() - t0
    out["steps"] = steps
    con = duckdb.connect(args["db"], read_only=True)
    out["rows"], out["keys"] = con.execute(args["count"]).fetchone()
    con.close()
elif mode == "dlt":
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import csv, gzip, hashlib
    import dlt, duckdb
    out["dlt_version"] = dlt.__version__
    out["duckdb_version"] = duckdb.__version__
    path, key_cols = args["gz"], args["key_cols"]
    fname = os.path.basename(path)[: -len(".gz")]

    @dlt.resource(name="yellow_tripdata", write_disposition="merge", primary_key="unique_row_id")
    def trips_csv():
        with gzip.open(path, "rt", newline="") as f:
            for row in csv.DictReader(f):
                # the article's key: md5 of the key columns' text, concatenated
                row["unique_row_id"] = hashlib.md5("".join(row[c] for c in key_cols).encode()).hexdigest()
                row["filename"] = fname
                yield row

    @dlt.resource(name="yellow_tripdata", write_disposition="merge", primary_key="unique_row_id")
    def trips_arrow():
        # dlt's fast path: one Arrow table (pyarrow reads the .csv.gz on all cores; dlt writes
        # it as parquet and skips row-by-row normalizing). Key columns are read as text, for the
        # article's key, then typed; the other columns' types are inferred.
        import pyarrow as pa, pyarrow.csv as pacsv, pyarrow.compute as pc
        t = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in key_cols}))
        texts = [t.column(c).to_pylist() for c in key_cols]
        keys = [hashlib.md5("".join(v).encode()).hexdigest() for v in zip(*texts)]
        for c in key_cols:
            col = t.column(c)
            if c.endswith("_datetime"):
                col = pc.strptime(col, format="%Y-%m-%d %H:%M:%S", unit="us")
            elif c in ("fare_amount", "trip_distance"):
                col = pc.cast(pc.if_else(pc.equal(col, ""), None, col), pa.float64())
            else:
                continue
            t = t.set_column(t.schema.get_field_index(c), c, col)
        t = t.append_column("unique_row_id", pa.array(keys))
        t = t.append_column("filename", pa.array([fname] * t.num_rows))
        yield t

    trips = trips_arrow if args.get("reader") == "arrow" else trips_csv

    steps = {}
    t0 = time.perf_counter()
    pipeline = dlt.pipeline(pipeline_name="taxi", destination=dlt.destinations.duckdb(args["db"]),
                            dataset_name="public", pipelines_dir=args["pipelines_dir"])
    for phase in ("extract", "normalize", "load"):
        t = time.perf_counter()
        if phase == "extract":
            pipeline.extract(trips())
        elif phase == "normalize":
            pipeline.normalize()
        else:
            info = pipeline.load()
            info.raise_on_failed_jobs()
        steps[phase] = time.perf_counter() - t
    out["seconds"] = time.perf_counter() - t0
    out["steps"] = steps
    con = duckdb.connect(args["db"], read_only=True)
    out["rows"], out["keys"] = con.execute(
        "SELECT count(*), count(DISTINCT unique_row_id) FROM public.yellow_tripdata").fetchone()
    con.close()
out["process_seconds"] = time.perf_counter() - t_all
print(json.dumps(out))
'''


# --- Plumbing ---------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(target_dir: str) -> Path:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", target_dir)
    if (REPO / "dev" / "install-duckdb").is_file() and not (REPO / ".duckdb").exists():
        subprocess.run([str(REPO / "dev" / "install-duckdb")], cwd=REPO, check=True)
    log(f"building: cargo build --release -p weir-cli (CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})")
    subprocess.run(["cargo", "build", "--release", "-p", "weir-cli"], cwd=REPO, env=env, check=True)
    return Path(env["CARGO_TARGET_DIR"]) / "release" / "weir"


def pip(py: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)


def ensure_venv(want_dlt: bool) -> tuple[Path, str | None]:
    """The venv's python, and why dlt is unavailable (None when it is installed)."""
    py = VENV / "bin" / "python"
    if not py.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    # duckdb: a 1.5.x release (the series weir's library is), else the latest.
    r = pip(py, "duckdb>=1.5,<1.6")
    if r.returncode != 0:
        r = pip(py, "duckdb")
        if r.returncode != 0:
            raise SystemExit(f"could not install duckdb into {VENV}:\n{r.stderr}")
    if not want_dlt:
        return py, "not run: --no-dlt"
    ver = subprocess.run([str(py), "-c", "import duckdb; print(duckdb.__version__)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    pin = VENV / "constraints.txt"
    pin.write_text(f"duckdb=={ver}\n")  # keep the pinned duckdb when dlt comes in
    r = pip(py, "dlt[duckdb]", "pyarrow", "-c", str(pin))
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["pip failed"])[-1]
        return py, f"not run: pip install \"dlt[duckdb]\" pyarrow failed: {last}"
    return py, None




class Proc:
    """A finished subprocess: wall seconds, output, and peak RSS in MB."""

    def __init__(self, argv: list[str], env: dict | None = None, cwd: Path | None = None, check=True):
        self.argv = argv
        use_time = TIME_BIN.exists()
        tfile = None
        run_argv = argv
        if use_time:
            fd, tfile = tempfile.mkstemp(prefix="time-", suffix=".txt")
            os.close(fd)
            run_argv = [str(TIME_BIN), "-v", "-o", tfile] + argv
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        p = subprocess.run(run_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.seconds = time.perf_counter() - t0
        self.stdout, self.stderr, self.returncode = p.stdout, p.stderr, p.returncode
        self.max_rss_mb = None
        if tfile:
            text = Path(tfile).read_text(errors="replace")
            os.unlink(tfile)
            m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
            if m:
                self.max_rss_mb = int(m.group(1)) / 1024.0
        else:
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            # RUSAGE_CHILDREN keeps the largest child so far: only a new maximum is this child's.
            self.max_rss_mb = after / 1024.0 if after > before else None
        if check and p.returncode != 0:
            raise SystemExit(f"exit {p.returncode}\n$ {' '.join(argv)}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")


def ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def run_seconds(run: dict) -> float:
    """RUNNING -> the terminal state, from a task run's history."""
    hist = run["history"]
    start = next(h["at"] for h in hist if h["state"] == "RUNNING")
    end = hist[-1]["at"]
    if hist[-1]["state"] != "SUCCESS":
        raise SystemExit(f"task {run['taskId']} ended {hist[-1]['state']}")
    return (ts(end) - ts(start)).total_seconds()


class Weir:
    def __init__(self, binary: Path, scale_arg: str, data_dir_name: str, src_gz: Path, scratch: Path):
        self.bin, self.scale_arg, self.data_dir_name = binary, scale_arg, data_dir_name
        self.src_gz, self.scratch = src_gz, scratch
        self.env = dict(os.environ, NO_COLOR="1")

    def fresh_home(self) -> Path:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.scratch))
        data = home / "demo" / "tlc" / self.data_dir_name
        data.mkdir(parents=True)
        try:
            os.link(self.src_gz, data / FILE_GZ)
        except OSError:
            shutil.copy2(self.src_gz, data / FILE_GZ)
        return home

    def demo(self, home: Path, article=False, url: str | None = None) -> dict:
        argv = [str(self.bin), "--home", str(home), "demo", "--scale", self.scale_arg,
                "--from", MONTH, "--to", MONTH, "--taxi", "yellow"]
        if article:
            argv.append("--article")
        if url:
            argv += ["--url", url]
        p = Proc(argv, env=self.env)
        line = next((ln for ln in p.stdout.splitlines() if ln.startswith(f"yellow {MONTH}")), None)
        if line is None:
            raise SystemExit(f"no result line in the demo's output:\n{p.stdout}\n{p.stderr}")
        exec_id = line.split()[-1]
        show = subprocess.run([str(self.bin), "--home", str(home), "executions", "show", exec_id, "--json"],
                              capture_output=True, text=True, check=True, env=self.env)
        ex = json.loads(show.stdout)
        runs = {r["taskId"]: r for r in ex["taskRuns"]}
        res = {
            "wall_s": p.seconds,
            "max_rss_mb": p.max_rss_mb,
            "execution_s": (ts(ex["ended"]) - ts(ex["started"])).total_seconds(),
            "demo_table_seconds": float(line.split()[-2]),
            "tasks_s": {t: run_seconds(r) for t, r in runs.items() if r.get("history")},
            "execution_id": exec_id,
        }
        if "load" in runs:
            o = runs["load"]["outputs"]
            res["rows_read"], res["rows_inserted"] = o.get("rowsRead"), o.get("rowsInserted")
            res["duplicates_skipped"] = o.get("duplicatesSkipped")
        return res


# --- PostgreSQL -------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    PASSWORD = "weir-bench"

    def __init__(self, server_options: dict[str, str] | None = None):
        """A fresh cluster; `server_options` go on the server's command line (fixed for its life)."""
        self.root = Path(tempfile.mkdtemp(prefix="weir-bench-pg-"))
        self.root.chmod(0o755)
        self.data, self.sock = self.root / "data", self.root / "sock"
        self.data.mkdir()
        self.sock.mkdir()
        pw = self.root / "pw"
        pw.write_text(self.PASSWORD + "\n")
        for p in (self.data, self.sock, pw):
            shutil.chown(p, "postgres", "postgres")
        self.port = free_port()
        self.as_pg([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                    f"--pwfile={pw}", "-E", "UTF8", "--locale=C"])
        extra = "".join(f" -c {k}={v}" for k, v in (server_options or {}).items())
        self.as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "sock" / "log"), "-w",
                    "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.sock}"
                    + extra, "start"])
        self.env = dict(os.environ, PGPASSWORD=self.PASSWORD, PGHOST="127.0.0.1", PGPORT=str(self.port),
                        PGUSER="postgres")
        self.version = self.psql("postgres", "SHOW server_version").strip()

    @staticmethod
    def as_pg(argv: list[str]) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--"] + argv, check=True, capture_output=True, text=True)

    def psql(self, db: str, sql: str) -> str:
        return subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                              capture_output=True, text=True, check=True, env=self.env).stdout

    def configure(self, settings: dict[str, str]) -> None:
        """ALTER SYSTEM SET each setting, reload, and wait until a new session sees them all."""
        for k, v in settings.items():
            self.psql("postgres", f"ALTER SYSTEM SET {k} = '{v}'")
        self.psql("postgres", "SELECT pg_reload_conf()")
        for _ in range(100):
            if all(self.psql("postgres", f"SHOW {k}").strip() == v for k, v in settings.items()):
                return
            time.sleep(0.1)
        raise SystemExit(f"PostgreSQL did not take {settings} after pg_reload_conf()")

    def url(self, db: str) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{db}?user=postgres&password={self.PASSWORD}"

    def stop(self) -> None:
        try:
            self.as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- Growth -----------------------------------------------------------------------------------

YELLOW_DDL = """CREATE TABLE IF NOT EXISTS public.yellow_tripdata (
  unique_row_id text, filename text, VendorID text, tpep_pickup_datetime timestamp,
  tpep_dropoff_datetime timestamp, passenger_count integer, trip_distance double precision,
  RatecodeID text, store_and_fwd_flag text, PULocationID text, DOLocationID text, payment_type integer,
  fare_amount double precision, extra double precision, mta_tax double precision, tip_amount double precision,
  tolls_amount double precision, improvement_surcharge double precision, total_amount double precision,
  congestion_surcharge double precision)"""

# The throwaway cluster of the growth case. Fixed for its life: no WAL beyond crash recovery, so a
# table created and filled in one transaction writes no WAL at all (PostgreSQL syncs its files at
# commit instead), and no checkpoint forced by WAL volume.
PG_GROWTH_SERVER = {"wal_level": "minimal", "max_wal_senders": "0", "max_wal_size": "8GB"}
# While filling (and the VACUUM after it) only: nothing is made durable. Restored to the durable
# defaults, then CHECKPOINT and sync(2), before anything is timed.
PG_FILL_MODE = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
PG_DURABLE = {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"}

FILL_CHUNK = 5_000_000
# Disk per filled row before one was measured on this run (these fills measured 36.5 and 205 at
# 10 M rows; see bench/README.md); each chunk of a fill measures it and the check is repeated.
DEFAULT_BYTES_PER_ROW = {"duckdb": 40.0, "postgres": 215.0}
# The key store built by `weir warehouse index` (fingerprints, filters, fences, sort runs): a bound.
KEY_STORE_BYTES_PER_ROW = 40.0
# Kept free on top of every estimate (`--growth-keep-free`): the month's load itself, WAL, temp
# files, other users of the disk.
DISK_RESERVE_GB = 4.0


class DiskFull(Exception):
    """A fill would not fit in the free disk space; the run stops cleanly."""


def disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


def gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def fill_sql(engine: str, start: int, n: int) -> str:
    """INSERT of n generated trips (rows start..start+n) with md5 text keys; earlier months' files."""
    if engine == "duckdb":
        series, i, ts0 = f"range({start}, {start + n}) r(i)", "i", "TIMESTAMP '2015-01-01'"
        secs = lambda e: f"to_seconds({e})"  # noqa: E731
    else:
        series, i, ts0 = f"generate_series({start}, {start + n - 1}) i", "i", "TIMESTAMP '2015-01-01'"
        secs = lambda e: f"make_interval(secs => {e})"  # noqa: E731
    md5 = "md5('fill:' || i)"
    return (f"INSERT INTO public.yellow_tripdata (unique_row_id, filename, VendorID, tpep_pickup_datetime, "
            f"tpep_dropoff_datetime, passenger_count, trip_distance, RatecodeID, store_and_fwd_flag, PULocationID, "
            f"DOLocationID, payment_type, fare_amount, extra, mta_tax, tip_amount, tolls_amount, "
            f"improvement_surcharge, total_amount, congestion_surcharge) "
            f"SELECT {md5}, 'yellow_tripdata_' || (2015 + {i} / 30000000) || '.csv', ({i} % 2 + 1)::text, "
            f"{ts0} + {secs(f'({i} * 7) % 200000000')}, {ts0} + {secs(f'({i} * 7) % 200000000 + 600')}, "
            f"({i} % 6)::integer, ({i} % 300) / 10.0, '1', 'N', ({i} % 265)::text, (({i} * 7) % 265)::text, "
            f"({i} % 4)::integer, ({i} % 60) + 2.5, 0.5, 0.5, ({i} % 5)::double precision, 0, 0.3, "
            f"({i} % 60) + 6.3, 2.5 FROM {series}")


class PsqlSession:
    """One psql process fed statement by statement: a transaction can span steps of Python code."""

    MARK = "--weir-bench-step-done--"

    def __init__(self, pg: "Postgres", db: str):
        self.err = tempfile.TemporaryFile(mode="w+")
        self.p = subprocess.Popen(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-d", db],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                  text=True, env=pg.env)

    def run(self, sql: str) -> list[str]:
        """Run SQL (one or more statements); its output lines."""
        self.p.stdin.write(sql.rstrip().rstrip(";") + ";\n\\echo " + self.MARK + "\n")
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.rstrip("\n") == self.MARK:
                return out
            out.append(line.rstrip("\n"))
        self.p.wait()
        self.err.seek(0)
        raise SystemExit(f"psql failed (exit {self.p.returncode}) on:\n{sql[:300]}\n{self.err.read()[-3000:]}")

    def close(self, last_sql: str) -> None:
        self.run(last_sql)
        self.p.stdin.close()
        self.p.wait()

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def parse_size(text: str) -> int:
    t = text.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(t[-1:], 1)
    return int(float(t.rstrip("KMG")) * mult)


def growth(args, weir: Path, weir_version: str) -> int:
    """The growth case: the month into tables of several sizes, without and with a key index."""
    scale_arg = repr(args.scale)
    sizes = [parse_size(x) for x in args.growth_sizes.split(",") if x.strip()]
    pg_sizes = [parse_size(x) for x in (args.growth_pg_sizes or args.growth_sizes).split(",") if x.strip()]
    engines = [e.strip() for e in args.growth_engines.split(",") if e.strip()]
    if not engines or any(e not in ("duckdb", "postgres") for e in engines):
        raise SystemExit(f"--growth-engines: a comma-separated list of duckdb, postgres (got {args.growth_engines!r})")
    index_cases = (False,) if args.growth_no_index else (False, True)
    scratch = Path(tempfile.mkdtemp(prefix="weir-bench-growth-"))
    key_cache = scratch / "key-cache"
    # WEIR_KEY_CACHE: where weir keeps a PostgreSQL table's key store (a DuckDB one lives beside
    # the database file): in the scratch folder, so nothing lands in ~/.cache.
    env = dict(os.environ, NO_COLOR="1", WEIR_KEY_CACHE=str(key_cache))
    pg = None
    pg_skip = None
    if "postgres" not in engines:
        pg_skip = "not run: --growth-engines without postgres"
    elif args.no_postgres:
        pg_skip = "not run: --no-postgres"
    elif not (PG_BIN / "initdb").exists() or shutil.which("psql") is None or os.geteuid() != 0:
        pg_skip = "not run: no PostgreSQL 15 or not root"
    results: list[dict] = []
    # Disk per filled row, per engine: the default until a fill has measured it.
    bytes_per_row = dict(DEFAULT_BYTES_PER_ROW)
    measured: dict[str, bool] = {}
    aborted = None
    load_before = loadavg()
    busy_seen = busy_builds()
    file_rows = None
    try:
        log(f"weir: {weir} ({weir_version})\ngenerating yellow {MONTH} at scale {scale_arg} (not timed)...")
        gen_home = scratch / "gen-home"
        Proc([str(weir), "--home", str(gen_home), "demo", "--scale", scale_arg, "--from", MONTH, "--to", MONTH,
              "--taxi", "yellow", "--no-transform"], env=env)
        found = sorted(gen_home.glob(f"demo/tlc/*/{FILE_GZ}"))
        if not found:
            raise SystemExit(f"the demo left no {FILE_GZ} under {gen_home}/demo/tlc")
        src_gz = scratch / FILE_GZ
        os.replace(found[0], src_gz)
        data_dir_name = found[0].parent.name
        shutil.rmtree(gen_home, ignore_errors=True)
        shutil.rmtree(key_cache, ignore_errors=True)
        with gzip.open(src_gz, "rb") as f:
            file_rows = sum(1 for _ in f) - 1
        w = Weir(weir, scale_arg, data_dir_name, src_gz, scratch)
        if pg_skip is None:
            pg = Postgres(PG_GROWTH_SERVER)
            log(f"PostgreSQL {pg.version} on 127.0.0.1:{pg.port} ({pg.root}), "
                + ", ".join(f"{k}={v}" for k, v in PG_GROWTH_SERVER.items()))

        def weir_query(url: str, sql: str) -> None:
            subprocess.run([str(weir), "query", url, sql], check=True, capture_output=True, text=True, env=env)

        reserve = args.growth_keep_free * 1e9

        def need_bytes(engine: str, rows: int, index: bool) -> float:
            per_row = bytes_per_row[engine] + (KEY_STORE_BYTES_PER_ROW if index else 0)
            return rows * per_row * 1.05 + reserve

        def check_fits(engine: str, size: int, done: int, index: bool, what: str) -> None:
            free = disk_free(scratch)
            need = need_bytes(engine, size - done, index)
            src = "measured" if measured.get(engine) else "default"
            log(f"  disk {what}: {gb(free)} free; {size - done:,} more rows need ~{gb(need)} "
                f"({bytes_per_row[engine]:.0f} B/row {src}{', + key store' if index else ''}, "
                f"+ {gb(reserve)} kept free)")
            if need > free:
                raise DiskFull(f"{engine} at {size:,} rows would not fit: ~{gb(need)} needed "
                               f"({bytes_per_row[engine]:.0f} B/row {src}), {gb(free)} free on {scratch}")

        def fill(engine: str, size: int, index: bool, url: str, dbname: str | None, db_file: Path | None) -> dict:
            """Create the table and fill it with `size` rows; untimed here, but measured."""
            check_fits(engine, size, 0, index, "before the fill")
            t0 = time.perf_counter()
            session = None
            table_bytes = 0
            try:
                if engine == "duckdb":
                    weir_query(url, YELLOW_DDL)
                else:
                    pg.configure(PG_FILL_MODE)
                    # Created and filled in one transaction: with wal_level=minimal no WAL is written.
                    session = PsqlSession(pg, dbname)
                    session.run("BEGIN; " + YELLOW_DDL)
                for start in range(0, size, FILL_CHUNK):
                    n = min(FILL_CHUNK, size - start)
                    if engine == "duckdb":
                        weir_query(url, fill_sql("duckdb", start, n))
                        table_bytes = sum(p.stat().st_size for p in db_file.parent.glob(db_file.name + "*")
                                          if p.is_file())
                    else:
                        session.run(fill_sql("postgres", start, n))
                        table_bytes = int(session.run(
                            "SELECT pg_total_relation_size('public.yellow_tripdata')")[0])
                    done = start + n
                    bytes_per_row[engine] = table_bytes / done
                    measured[engine] = True
                    el = time.perf_counter() - t0
                    log(f"    filled {done:>11,} rows  {el:6.0f} s  {done / el:9,.0f} rows/s  "
                        f"{bytes_per_row[engine]:.0f} B/row")
                    if done < size:
                        check_fits(engine, size, done, index, "during the fill")
                if session is not None:
                    session.close("COMMIT")
                    session = None
            finally:
                if session is not None:
                    session.kill()  # the transaction rolls back: the half-filled table is gone
            fill_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            if engine == "postgres":
                pg.psql(dbname, "VACUUM ANALYZE public.yellow_tripdata")
                table_bytes = int(pg.psql(dbname, "SELECT pg_total_relation_size('public.yellow_tripdata')"))
                pg.configure(PG_DURABLE)
                pg.psql(dbname, "CHECKPOINT")
            os.sync()  # nothing of the fill is left to write back while the load is timed
            info = {"fill_s": round(fill_s, 1), "prepare_s": round(time.perf_counter() - t1, 1),
                    "fill_rows_per_s": round(size / fill_s) if size else None,
                    "table_bytes": table_bytes, "bytes_per_row": round(table_bytes / size, 1) if size else None}
            return info

        def one(engine: str, size: int, index: bool) -> None:
            home = w.fresh_home()
            db_file = dbname = None
            if engine == "duckdb":
                db_file = home / "demo" / "warehouse.duckdb"
                url = f"jdbc:duckdb:{db_file}"
                demo_url = None
            else:
                dbname = f"g{len(results)}"
                pg.psql("postgres", f"CREATE DATABASE {dbname}")
                url = demo_url = pg.url(dbname)
            try:
                info = fill(engine, size, index, url, dbname, db_file)
                index_s = None
                if index:
                    p = Proc([str(weir), "--home", str(home), "warehouse", "index", "public.yellow_tripdata",
                              "--url", url], env=env, check=False)
                    if p.returncode != 0:
                        raise SystemExit(f"weir warehouse index failed (exit {p.returncode}):\n"
                                         f"{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
                    index_s = p.seconds
                    info["index_max_rss_mb"] = p.max_rss_mb
                    os.sync()
                argv = [str(weir), "--home", str(home), "demo", "--scale", scale_arg, "--from", MONTH,
                        "--to", MONTH, "--taxi", "yellow", "--no-transform"]
                if demo_url:
                    argv += ["--url", demo_url]
                # The demo's closing check (count(DISTINCT key) under 256 MB) may run out of memory on a
                # large table after the load succeeded: the load task's own state decides.
                p = Proc(argv, env=env, check=False)
                line = next((ln for ln in p.stdout.splitlines() if ln.startswith(f"yellow {MONTH}")), None)
                if line is None:
                    raise SystemExit(f"no result line in the demo's output:\n{p.stdout}\n{p.stderr}")
                exec_id = line.split()[-1]
                ex = json.loads(subprocess.run([str(weir), "--home", str(home), "executions", "show", exec_id,
                                                "--json"], capture_output=True, text=True, check=True,
                                               env=env).stdout)
                run = next(r for r in ex["taskRuns"] if r["taskId"] == "load")
                logs = subprocess.run([str(weir), "--home", str(home), "executions", "logs", exec_id],
                                      capture_output=True, text=True, env=env).stdout
                check = next((ln.split("key check: ", 1)[1] for ln in logs.splitlines() if "key check: " in ln),
                             None)
                secs = run_seconds(run)
                res = {"engine": engine, "table_rows": size, "key_index": index, "load_s": secs,
                       "index_s": round(index_s, 2) if index_s is not None else None,
                       "us_per_file_row": secs / file_rows * 1e6, "max_rss_mb": p.max_rss_mb,
                       "rows_inserted": run["outputs"].get("rowsInserted"), **info,
                       "disk_free_after": disk_free(scratch), "key_check": check}
                if res["rows_inserted"] != file_rows - run["outputs"].get("duplicatesSkipped", 0):
                    raise SystemExit(f"unexpected counts: {run['outputs']}")
                results.append(res)
                idx = f"  index {index_s:6.1f} s" if index_s is not None else ""
                log(f"  {engine:8} {size:>11,} rows  index={index!s:5}  load {secs:6.2f} s  "
                    f"RSS {p.max_rss_mb or 0:4.0f} MB  (fill {info['fill_s']:.0f} s){idx}  {check}")
            finally:
                # Each sample's database goes before the next fill: two large tables never coexist.
                shutil.rmtree(home, ignore_errors=True)
                shutil.rmtree(key_cache, ignore_errors=True)
                if engine == "postgres":
                    pg.psql("postgres", f"DROP DATABASE IF EXISTS {dbname}")

        for engine, engine_sizes in (("duckdb", sizes), ("postgres", pg_sizes)):
            if engine not in engines or (engine == "postgres" and pg is None):
                continue
            log(f"{engine}: sizes {', '.join(f'{s:,}' for s in engine_sizes)}; disk {gb(disk_free(scratch))} free")
            for size in engine_sizes:
                for index in index_cases:
                    for _ in range(args.runs):
                        one(engine, size, index)
    except DiskFull as e:
        aborted = str(e)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    if aborted:
        log(f"\nABORTED: {aborted}.\nThe PostgreSQL cluster is stopped and the scratch folder removed; "
            f"the samples taken so far are written below.")

    def med(engine, size, index, key="load_s"):
        xs = [r[key] for r in results if (r["engine"], r["table_rows"], r["key_index"]) == (engine, size, index)]
        return median(xs)

    out = sys.stdout
    print(f"\ngrowth: yellow {MONTH} at scale {scale_arg} ({file_rows} rows) into tables of N rows; "
          f"medians of {args.runs} run(s)\n", file=out)
    print(f"{'engine':<9} {'rows in table':>14} {'key index':>9} {'load':>8} {'us/row':>7} {'vs empty':>8} "
          f"{'max RSS':>8} {'index':>8} {'fill':>7} {'B/row':>6}", file=out)
    summary = []
    for engine in ("duckdb", "postgres"):
        base = med(engine, 0, False)
        for size in sorted({r["table_rows"] for r in results if r["engine"] == engine}):
            for index in (False, True):
                m = med(engine, size, index)
                if m is None:
                    continue
                rss = max((r["max_rss_mb"] or 0) for r in results
                          if (r["engine"], r["table_rows"], r["key_index"]) == (engine, size, index))
                ratio = m / base if base else None
                index_s = med(engine, size, index, "index_s")
                fill_s = med(engine, size, index, "fill_s")
                bpr = med(engine, size, index, "bytes_per_row")
                summary.append({"engine": engine, "table_rows": size, "key_index": index, "median_load_s": m,
                                "us_per_file_row": m / file_rows * 1e6, "ratio_vs_empty_no_index": ratio,
                                "max_rss_mb": rss, "median_index_s": index_s, "median_fill_s": fill_s,
                                "bytes_per_row": bpr})
                print(f"{engine:<9} {size:>14,} {'yes' if index else 'no':>9} {m:7.2f}s {m / file_rows * 1e6:7.2f} "
                      f"{f'{ratio:.2f}x' if ratio else '-':>8} {rss:6.0f}MB "
                      f"{f'{index_s:7.1f}s' if index_s is not None else '      -':>8} {fill_s:6.0f}s "
                      f"{f'{bpr:.0f}' if bpr else '-':>6}", file=out)
    print("\n(vs empty: the median load time over the same engine's empty table without a key index; "
          "target <= 1.2 at 100 M rows; RSS target < 500 MB; index: `weir warehouse index`, not part of "
          "the load; fill: untimed preparation)", file=out)
    path = result_path(args.out, RESULTS, "load-growth")
    commit = git_commit(REPO)
    doc = {
        "benchmark": "load-growth",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "command": " ".join([Path(sys.executable).name, "bench/load.py"] + sys.argv[1:]),
        "weir": str(weir), "weir_version": weir_version,
        "host": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "file": {"name": FILE_GZ, "scale": args.scale, "rows": file_rows},
        "postgres": {"version": pg.version if pg else None, "skipped": pg_skip,
                     "server": PG_GROWTH_SERVER if pg else None, "fill_mode": PG_FILL_MODE if pg else None},
        "load": {"loadavg_before": load_before, "loadavg_after": loadavg(), "builds_seen": busy_seen},
        "aborted": aborted,
        "summary": summary,
        "samples": results,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=out)
    return 1 if aborted else 0


# --- Cases ------------------------------------------------------------------------------------

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="measured runs per case (default 3); medians reported")
    ap.add_argument("--scale", type=float, default=1.0, help="size of the generated month (default 1.0)")
    ap.add_argument("--weir", help="use this weir binary instead of building the release one")
    ap.add_argument("--no-dlt", action="store_true", help="skip baseline (c), dlt")
    ap.add_argument("--dlt-runs", type=int, help="runs of the dlt case (default: --runs)")
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL cases")
    ap.add_argument("--out", help="JSON output path (default bench/results/load-<date>.json)")
    ap.add_argument("--growth", action="store_true",
                    help="run the growth case only: the month into tables of --growth-sizes rows")
    ap.add_argument("--growth-sizes", default="0,10M,50M,100M",
                    help="rows already in the table, comma-separated, K/M suffixes (default 0,10M,50M,100M)")
    ap.add_argument("--growth-pg-sizes", help="sizes for PostgreSQL (default: --growth-sizes)")
    ap.add_argument("--growth-engines", default="duckdb,postgres",
                    help="engines of the growth case, comma-separated (default duckdb,postgres)")
    ap.add_argument("--growth-no-index", action="store_true",
                    help="growth case without the key index samples (no `weir warehouse index`)")
    ap.add_argument("--growth-keep-free", type=float, default=DISK_RESERVE_GB, metavar="GB",
                    help=f"growth case: disk kept free beyond each fill's estimate (default {DISK_RESERVE_GB:g})")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    scale_arg = repr(args.scale)

    weir = Path(args.weir) if args.weir else build(str(CACHE / "target"))
    weir = weir.resolve()
    if not weir.is_file():
        raise SystemExit(f"no weir binary at {weir}")
    weir_version = subprocess.run([str(weir), "--version"], capture_output=True, text=True).stdout.strip()
    if args.growth:
        return growth(args, weir, weir_version)
    py, dlt_skip = ensure_venv(not args.no_dlt)
    pg_skip = None
    if args.no_postgres:
        pg_skip = "not run: --no-postgres"
    elif not (PG_BIN / "initdb").exists() or shutil.which("psql") is None:
        pg_skip = f"not run: no PostgreSQL 15 in {PG_BIN} or no psql"
    elif os.geteuid() != 0:
        pg_skip = "not run: starting the throwaway cluster needs root (runuser -u postgres)"

    scratch = Path(tempfile.mkdtemp(prefix="weir-bench-load-"))
    pg = None
    samples: dict[str, list[dict]] = {}
    busy_seen = busy_builds()
    load_before = loadavg()
    try:
        helper = scratch / "helper.py"
        helper.write_text(HELPER)

        # 1. Generate the month once (untimed): a throwaway demo run, which also warms the page cache.
        log(f"weir: {weir} ({weir_version})\ngenerating yellow {MONTH} at scale {scale_arg} (not timed)...")
        gen_home = scratch / "gen-home"
        t0 = time.perf_counter()
        Proc([str(weir), "--home", str(gen_home), "demo", "--scale", scale_arg, "--from", MONTH, "--to", MONTH,
              "--taxi", "yellow"], env=dict(os.environ, NO_COLOR="1"))
        found = sorted(gen_home.glob(f"demo/tlc/*/{FILE_GZ}"))
        if not found:
            raise SystemExit(f"the demo left no {FILE_GZ} under {gen_home}/demo/tlc")
        data = scratch / "data"
        data.mkdir()
        src_gz = data / FILE_GZ
        os.replace(found[0], src_gz)
        data_dir_name = found[0].parent.name
        shutil.rmtree(gen_home, ignore_errors=True)
        csv_path = data / FILE_CSV  # the article's flow gunzips before COPY; so do (a) and PostgreSQL
        with gzip.open(src_gz, "rb") as fi, open(csv_path, "wb") as fo:
            shutil.copyfileobj(fi, fo, 1 << 20)
        with open(csv_path, "rb") as f:
            file_rows = sum(1 for _ in f) - 1
        log(f"  {file_rows} rows, {src_gz.stat().st_size / 1e6:.1f} MB gzipped, "
            f"{csv_path.stat().st_size / 1e6:.1f} MB as CSV ({time.perf_counter() - t0:.1f} s)")
        if args.scale == 1.0 and file_rows != ROWS_AT_SCALE_1:
            log(f"WARNING: expected {ROWS_AT_SCALE_1} rows at scale 1, found {file_rows}")

        w = Weir(weir, scale_arg, data_dir_name, src_gz, scratch)
        if pg_skip is None:
            log("starting a throwaway PostgreSQL 15 cluster (default settings)...")
            pg = Postgres()
            log(f"  PostgreSQL {pg.version} on 127.0.0.1:{pg.port}")

        def helper_run(mode: str, payload: dict) -> tuple[dict, Proc]:
            p = Proc([str(py), str(helper), mode, json.dumps(payload)],
                     env=dict(os.environ, RUNTIME__DLTHUB_TELEMETRY="false"), cwd=scratch)
            return json.loads(p.stdout.strip().splitlines()[-1]), p

        def case_weir_load(r: int) -> None:
            home = w.fresh_home()
            first = w.demo(home)
            again = w.demo(home)
            for name, res in (("weir-load", first), ("weir-rerun", again)):
                samples.setdefault(name, []).append({
                    "seconds": res["tasks_s"]["load"], "execution_s": res["execution_s"], "wall_s": res["wall_s"],
                    "max_rss_mb": res["max_rss_mb"], "rows_read": res["rows_read"],
                    "rows_inserted": res["rows_inserted"], "duplicates_skipped": res["duplicates_skipped"],
                    "tasks_s": res["tasks_s"]})
            if first["rows_read"] != file_rows or again["rows_inserted"] != 0:
                raise SystemExit(f"weir load: read {first['rows_read']} (file has {file_rows}), "
                                 f"re-run inserted {again['rows_inserted']} (expected 0)")
            shutil.rmtree(home, ignore_errors=True)

        def case_weir_article(r: int) -> None:
            home = w.fresh_home()
            res = w.demo(home, article=True)
            wh = sum(res["tasks_s"][t] for t in ARTICLE_TASKS)
            samples.setdefault("weir-article", []).append({
                "seconds": wh, "execution_s": res["execution_s"], "wall_s": res["wall_s"],
                "max_rss_mb": res["max_rss_mb"], "tasks_s": res["tasks_s"]})
            shutil.rmtree(home, ignore_errors=True)

        def case_duckdb_article(r: int) -> None:
            db = scratch / f"a-{r}.duckdb"
            out, p = helper_run("article", {
                "db": str(db),
                "steps": [["create", CREATE_MAIN], ["create_staging", CREATE_STAGING_DUCKDB],
                          ["truncate", TRUNCATE_STAGING], ["copy", copy_duckdb(str(csv_path))],
                          ["update_md5", UPDATE_MD5], ["merge", MERGE]],
                "count": f"SELECT count(*), count(DISTINCT unique_row_id) FROM {TABLE}"})
            samples.setdefault("duckdb-article", []).append({
                "seconds": out["seconds"], "steps_s": out["steps"], "wall_s": p.seconds,
                "max_rss_mb": p.max_rss_mb, "rows": out["rows"], "keys": out["keys"],
                "duckdb_version": out["duckdb_version"]})
            if out["rows"] != file_rows:
                raise SystemExit(f"(a) left {out['rows']} rows, the file has {file_rows}")
            for f in scratch.glob(f"a-{r}.duckdb*"):
                f.unlink()

        def case_duckdb_onestmt(r: int) -> None:
            db = scratch / f"b-{r}.duckdb"
            out, p = helper_run("onestmt", {
                "db": str(db), "create": CREATE_MAIN,
                "steps": [["insert", one_statement_duckdb(str(src_gz))]],
                "count": f"SELECT count(*), count(DISTINCT unique_row_id) FROM {TABLE}"})
            samples.setdefault("duckdb-onestmt", []).append({
                "seconds": out["seconds"], "steps_s": out["steps"], "wall_s": p.seconds,
                "max_rss_mb": p.max_rss_mb, "rows": out["rows"], "keys": out["keys"],
                "duckdb_version": out["duckdb_version"]})
            want = samples["weir-load"][-1]["rows_inserted"] if samples.get("weir-load") else None
            if want is not None and out["rows"] != want:
                raise SystemExit(f"(b) inserted {out['rows']} rows, weir's load {want}")
            for f in scratch.glob(f"b-{r}.duckdb*"):
                f.unlink()

        def case_dlt(r: int, reader: str = "csv") -> None:
            name = "dlt" if reader == "csv" else "dlt-arrow"
            db = scratch / f"c-{r}.duckdb"
            pdir = scratch / f"dlt-{r}"
            out, p = helper_run("dlt", {"db": str(db), "gz": str(src_gz), "key_cols": KEY_COLS,
                                        "pipelines_dir": str(pdir), "reader": reader})
            samples.setdefault(name, []).append({
                "seconds": out["seconds"], "steps_s": out["steps"], "wall_s": p.seconds,
                "max_rss_mb": p.max_rss_mb, "rows": out["rows"], "keys": out["keys"],
                "dlt_version": out["dlt_version"], "duckdb_version": out["duckdb_version"]})
            if out["rows"] != out["keys"]:
                raise SystemExit(f"dlt merge left {out['rows']} rows for {out['keys']} keys")
            shutil.rmtree(pdir, ignore_errors=True)
            for f in scratch.glob(f"c-{r}.duckdb*"):
                f.unlink()

        def case_pg_psql(r: int) -> None:
            db = f"bench_psql_{r}"
            pg.psql("postgres", f"CREATE DATABASE {db}")
            pg.psql(db, CREATE_MAIN + ";" + CREATE_STAGING_PG)  # untimed: the tables exist, empty
            script = scratch / "pg-steps.sql"
            script.write_text(pg_steps(str(csv_path)))
            p = Proc(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-f", str(script)], env=pg.env)
            step_ms = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", p.stdout)]
            rows = int(pg.psql(db, f"SELECT count(*) FROM {TABLE}").strip())
            samples.setdefault("pg-psql", []).append({
                "seconds": p.seconds, "steps_s": dict(zip(["copy", "update_md5", "insert"], [x / 1000 for x in step_ms])),
                "wall_s": p.seconds, "rows": rows})
            pg.psql("postgres", f"DROP DATABASE {db}")

        def case_weir_pg(r: int) -> None:
            db = f"bench_weir_{r}"
            pg.psql("postgres", f"CREATE DATABASE {db}")
            home = w.fresh_home()
            res = w.demo(home, url=pg.url(db))
            samples.setdefault("weir-pg", []).append({
                "seconds": res["tasks_s"]["load"], "execution_s": res["execution_s"], "wall_s": res["wall_s"],
                "max_rss_mb": res["max_rss_mb"], "rows_read": res["rows_read"],
                "rows_inserted": res["rows_inserted"], "tasks_s": res["tasks_s"]})
            shutil.rmtree(home, ignore_errors=True)
            pg.psql("postgres", f"DROP DATABASE {db}")

        plan = [("weir-load", case_weir_load), ("weir-article", case_weir_article),
                ("duckdb-article", case_duckdb_article), ("duckdb-onestmt", case_duckdb_onestmt)]
        if dlt_skip is None:
            plan.append(("dlt-arrow", lambda r: case_dlt(r, "arrow")))
            plan.append(("dlt", case_dlt))
        if pg is not None:
            plan += [("pg-psql", case_pg_psql), ("weir-pg", case_weir_pg)]
        dlt_runs = args.dlt_runs if args.dlt_runs is not None else args.runs
        for r in range(args.runs):
            for name, fn in plan:
                if name == "dlt" and r >= dlt_runs:
                    continue
                t = time.perf_counter()
                fn(r)
                log(f"  run {r + 1}/{args.runs} {name}: {samples[name][-1]['seconds']:.2f} s "
                    f"(case took {time.perf_counter() - t:.1f} s)")
                for prog, n in busy_builds().items():
                    busy_seen[prog] = max(n, busy_seen.get(prog, 0))
        load_after = loadavg()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    # --- Report ---------------------------------------------------------------------------------
    med = {k: median([s["seconds"] for s in v]) for k, v in samples.items()}
    summary = {}
    for k, v in samples.items():
        summary[k] = {"median_s": med[k], "min_s": min(s["seconds"] for s in v),
                      "max_s": max(s["seconds"] for s in v), "runs": len(v),
                      "median_execution_s": median([s.get("execution_s") for s in v]),
                      "median_wall_s": median([s.get("wall_s") for s in v]),
                      "max_rss_mb": max((s["max_rss_mb"] for s in v if s.get("max_rss_mb")), default=None)}
        steps = [s.get("steps_s") or {} for s in v]
        if any(steps):
            summary[k]["median_steps_s"] = {n: median([s.get(n) for s in steps]) for n in steps[0]}
        tasks = [s.get("tasks_s") or {} for s in v]
        if any(tasks):
            summary[k]["median_tasks_s"] = {n: median([s.get(n) for s in tasks]) for n in tasks[0]}

    # The memory target is the load's (the article flow's memory is DuckDB running the article's
    # SQL, reported next to (a) doing the same).
    weir_rss = max((summary[k]["max_rss_mb"] or 0) for k in ("weir-load", "weir-rerun") if k in summary)
    article_rss = (summary.get("weir-article") or {}).get("max_rss_mb")
    a_rss = (summary.get("duckdb-article") or {}).get("max_rss_mb")
    a, b = med.get("duckdb-article"), med.get("duckdb-onestmt")
    # (c) is the faster of dlt's two ways in: what a Python user would pick.
    c_name = min((k for k in ("dlt", "dlt-arrow") if k in med), key=lambda k: med[k], default=None)
    c = med[c_name] if c_name else None
    load, art = med["weir-load"], med["weir-article"]
    targets = {
        "article_vs_a": {"value": art / a, "target": f"<= {TARGET_ARTICLE_VS_A}", "pass": art / a <= TARGET_ARTICLE_VS_A},
        "load_vs_b": {"value": load / b, "target": f"<= {TARGET_LOAD_VS_B}", "pass": load / b <= TARGET_LOAD_VS_B},
        "a_over_load": {"value": a / load, "target": f">= {TARGET_A_OVER_LOAD}", "pass": a / load >= TARGET_A_OVER_LOAD},
        "load_vs_c": ({"value": load / c, "target": "< 1", "pass": load < c, "baseline": c_name} if c is not None
                      else {"value": None, "target": "< 1", "pass": None, "note": dlt_skip}),
        "weir_peak_rss_mb": {"value": weir_rss, "target": f"< {TARGET_PEAK_MB}", "pass": weir_rss < TARGET_PEAK_MB,
                             "note": "max RSS of `weir demo` running the load (first load and rerun)"},
        "article_flow_rss_mb": {"value": article_rss, "baseline_a_rss_mb": a_rss,
                                "note": "not a target: DuckDB running the article's SQL, in weir and in (a)"},
    }

    out = sys.stdout
    desc = {
        "weir-load": "weir.warehouse.Load task, fresh home (DuckDB)",
        "weir-rerun": "the same load again, 0 inserted",
        "weir-article": "article flow: sum of the 6 yellow_* warehouse tasks",
        "duckdb-article": "(a) article SQL in Python duckdb, COPY from .csv",
        "duckdb-onestmt": "(b) one INSERT..read_csv(.csv.gz)+weir's md5+DISTINCT ON+anti-join",
        "dlt-arrow": "(c) dlt merge, md5 primary_key, one pyarrow table",
        "dlt": "(c) dlt merge, md5 primary_key, csv module rows",
        "pg-psql": "psql \\copy + UPDATE md5 + INSERT DISTINCT ON/NOT EXISTS",
        "weir-pg": "weir.warehouse.Load task into PostgreSQL",
    }
    print(f"\nyellow {MONTH}, scale {scale_arg}: {file_rows} rows; medians of {args.runs} run(s)\n", file=out)
    print(f"{'case':<15} {'median':>8} {'min':>8} {'max':>8} {'execution':>10} {'process':>8} {'max RSS':>8}   what",
          file=out)
    fmt = lambda x, u="s": f"{x:7.2f}{u}" if x is not None else f"{'-':>8}"  # noqa: E731
    for k in desc:
        if k not in summary:
            continue
        s = summary[k]
        rss = f"{s['max_rss_mb']:6.0f}MB" if s["max_rss_mb"] else f"{'-':>8}"
        print(f"{k:<15} {fmt(s['median_s'])} {fmt(s['min_s'])} {fmt(s['max_s'])} {fmt(s['median_execution_s']):>10} "
              f"{fmt(s['median_wall_s'])} {rss}   {desc[k]}", file=out)
    if dlt_skip:
        print(f"{'dlt':<15} {dlt_skip}", file=out)
    if pg_skip:
        print(f"{'pg-psql/weir-pg':<15} {pg_skip}", file=out)
    print("\n(median: the timed part: weir's task runs from their state history, the baselines' "
          "statements\n incl. connect and close; execution: weir's whole execution; process: wall time "
          "of the process)", file=out)
    for k in ("weir-load", "weir-article", "weir-pg"):
        if k in summary and "median_tasks_s" in summary[k]:
            parts = ", ".join(f"{n} {v:.2f}" for n, v in summary[k]["median_tasks_s"].items() if v is not None)
            print(f"  {k} tasks (s): {parts}", file=out)
    for k in ("duckdb-article", "duckdb-onestmt", "dlt-arrow", "dlt", "pg-psql"):
        if k in summary and "median_steps_s" in summary[k]:
            parts = ", ".join(f"{n} {v:.2f}" for n, v in summary[k]["median_steps_s"].items() if v is not None)
            print(f"  {k} steps (s): {parts}", file=out)

    print("\nratios (medians)", file=out)
    print(f"  weir article / (a)            {art / a:6.2f}×", file=out)
    print(f"  weir load / (b)               {load / b:6.2f}×", file=out)
    print(f"  (a) / weir load               {a / load:6.2f}×", file=out)
    if c is not None:
        print(f"  (c) {c_name} / weir load {c / load:9.2f}×", file=out)
    if "weir-pg" in med and "pg-psql" in med:
        print(f"  weir-pg load / psql baseline  {med['weir-pg'] / med['pg-psql']:6.2f}×", file=out)
    mark = lambda ok: "PASS" if ok else ("n/a " if ok is None else "MISS")  # noqa: E731
    t = targets
    print("\ntargets", file=out)
    print(f"  {mark(t['article_vs_a']['pass'])}  article flow in weir within {TARGET_ARTICLE_VS_A}× of (a): "
          f"{art:.2f} s vs {a:.2f} s = {art / a:.2f}×", file=out)
    print(f"  {mark(t['load_vs_b']['pass'])}  load task within {TARGET_LOAD_VS_B}× of (b): "
          f"{load:.2f} s vs {b:.2f} s = {load / b:.2f}×", file=out)
    print(f"  {mark(t['a_over_load']['pass'])}  load task >= {TARGET_A_OVER_LOAD:g}× faster than (a): "
          f"{a:.2f} s / {load:.2f} s = {a / load:.2f}×", file=out)
    if c is not None:
        print(f"  {mark(t['load_vs_c']['pass'])}  load task faster than (c) {c_name}: {load:.2f} s vs {c:.2f} s",
              file=out)
    else:
        print(f"  n/a   load task faster than (c) dlt: {dlt_skip}", file=out)
    print(f"  {mark(t['weir_peak_rss_mb']['pass'])}  weir peak memory < {TARGET_PEAK_MB:g} MB: {weir_rss:.0f} MB "
          f"(max RSS of `weir demo` running the load and its rerun)", file=out)
    if article_rss and a_rss:
        print(f"        article flow (not a target): weir {article_rss:.0f} MB, (a) {a_rss:.0f} MB", file=out)
    if busy_seen or (load_before and load_before[0] > 1.0):
        print(f"\nWARNING: machine not quiet (builds seen: "
              f"{', '.join(f'{k}×{v}' for k, v in sorted(busy_seen.items())) or 'none'}; "
              f"load before {load_before}, after {load_after}); re-run when idle.", file=out)

    path = result_path(args.out, RESULTS, "load")
    commit = git_commit(REPO)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True).stdout.split("\n")
    doc = {
        "benchmark": "load",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "git_modified": [ln[3:] for ln in dirty if ln.strip()],
        "command": " ".join([Path(sys.executable).name, "bench/load.py"] + sys.argv[1:]),
        "weir": str(weir), "weir_version": weir_version,
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "bench_python": platform.python_version()},
        "file": {"name": FILE_GZ, "scale": args.scale, "rows": file_rows},
        "runs": args.runs,
        "method": "cases interleaved round-robin; weir times from task-run state histories (RUNNING -> SUCCESS) "
                  "and the execution's started/ended; baselines timed inside the process (perf_counter, "
                  "connect..close) except pg-psql (wall time of one psql -f); max RSS from /usr/bin/time -v",
        "skipped": {"dlt": dlt_skip, "postgres": pg_skip},
        "postgres": {"version": pg.version, "settings": "initdb defaults"} if pg is not None else None,
        "load": {"loadavg_before": load_before, "loadavg_after": load_after, "builds_seen": busy_seen},
        "cases": summary,
        "samples": samples,
        "targets": targets,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
