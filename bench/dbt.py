# dbt benchmark and equivalence check: the example dbt project built by dbt-core (the baseline) and by `weir dbt`.
"""Build examples/nyc-taxi/transform with dbt-core 1.11 + dbt-duckdb, and with weir when given,
on the same data, and compare what they produce.

Data: one untimed `weir demo --scale S --from F --to T` into a scratch home gives a DuckDB
file with `public.green_tripdata` and `public.yellow_tripdata` (about 1.25 M rows at the
default scale 0.1, Jan-Jun 2021). Every run of every side starts from its own copy of that
file and its own copy of the project (so `target/` and `logs/` never land in the repository).

One run of a side, each step timed as the wall time of one process under `/usr/bin/time -v`
(peak RSS from it), in this order, as a user would type them:

  parse      `dbt parse` with an empty target/ (a cold parse: no partial-parse file yet)
  compile    `dbt compile` (dbt-core reuses the partial-parse file the parse wrote)
  build      `dbt build` on the fresh copy: seeds, models, tests; fact_trips built in full
  build2     `dbt build` again: the incremental fact_trips merges instead of rebuilding

The weir side runs `BIN dbt <verb> --project-dir P --profiles-dir P` the same way. Sides are
interleaved round-robin (run 1 of each side, then run 2, ...).

After run 1's `build` and `build2`, every relation the project created (schemas starting with
the profile's schema, `analytics`) is read with the venv's duckdb (the same library reads both
sides' files): row count, columns and types, `bit_xor(hash(row))`, and an md5 over the sorted
md5s of the rows cast to text. Every node's status from `target/run_results.json` (tests:
status and failures) is kept. With `--weir`, relations and results are diffed against
dbt-core's; without it, the weir side is reported as missing.

The venv (~/.cache/weir/dbt-venv) gets `dbt-core>=1.11,<1.12`, `dbt-duckdb` and duckdb pinned
to the 1.5 series (weir's DuckDB library). This script needs only Python 3.11's standard
library.

Usage: python3 bench/dbt.py [--runs N] [--scale S] [--weir BIN] [--demo-weir BIN]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import busy_builds, loadavg, git_commit, result_path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "examples" / "nyc-taxi" / "transform"
RESULTS = REPO / "bench" / "results"
CACHE = Path(os.environ.get("WEIR_CACHE", Path.home() / ".cache" / "weir"))
VENV = CACHE / "dbt-venv"
TIME_BIN = Path("/usr/bin/time")
SCHEMA_PREFIX = "analytics"  # the profile's schema (examples/nyc-taxi/transform/profiles.yml)
STEPS = ["parse", "compile", "build", "build2"]

TARGET_COMPILE_S = 0.100    # weir compile < 100 ms
TARGET_BUILD_RATIO = 0.5    # weir full build <= 0.5 x dbt-core's
TARGET_PEAK_MB = 300.0      # weir peak RSS <= 300 MB

# Run by the venv's python: one JSON document describing every relation the project made.
SNAPSHOT = r'''
import json, sys, duckdb
db, prefix = sys.argv[1], sys.argv[2]
con = duckdb.connect(db, read_only=True)
con.execute("SET enable_progress_bar = false")
rels = con.execute("""
    select table_schema, table_name, table_type from information_schema.tables
    where table_schema like ? || '%' order by 1, 2""", [prefix]).fetchall()
out = {"duckdb_version": duckdb.__version__, "relations": {}}
for schema, name, kind in rels:
    q = f'"{schema}"."{name}"'
    cols = con.execute("""select column_name, data_type from information_schema.columns
        where table_schema = ? and table_name = ? order by ordinal_position""", [schema, name]).fetchall()
    n, h = con.execute(f"select count(*), bit_xor(hash(t)) from {q} t").fetchone()
    (m,) = con.execute(f"select md5(string_agg(r, '' order by r)) from "
                       f"(select md5(cast(t as varchar)) as r from {q} t)").fetchone()
    out["relations"][f"{schema}.{name}"] = {
        "type": "view" if kind == "VIEW" else "table", "rows": n,
        "hash_xor": str(h), "md5_sorted_rows": m,
        "columns": [f"{c} {t}" for c, t in cols]}
print(json.dumps(out))
'''


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Proc:
    """A finished subprocess: wall seconds, output, and peak RSS in MB."""

    def __init__(self, argv: list[str], env: dict | None = None, cwd: Path | None = None, check=True):
        self.argv = argv
        tfile = None
        run_argv = argv
        if TIME_BIN.exists():
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
            self.max_rss_mb = after / 1024.0 if after > before else None
        if check and p.returncode != 0:
            raise SystemExit(f"exit {p.returncode}\n$ {' '.join(argv)}\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")


def pip(py: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)


def ensure_venv() -> tuple[Path, dict]:
    """The venv's python and the versions of dbt-core, dbt-duckdb and duckdb in it."""
    py = VENV / "bin" / "python"
    probe = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
             "('dbt-core', 'dbt-duckdb', 'duckdb')}))")

    def versions() -> dict | None:
        r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True)
        return json.loads(r.stdout) if r.returncode == 0 else None

    if not py.exists():
        log(f"creating {VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    v = versions()
    if not v or not v["dbt-core"].startswith("1.11.") or not v["duckdb"].startswith("1.5."):
        # dbt-core 1.12 is what a bare `pip install dbt-core` resolves and it fails offline;
        # duckdb in the 1.5 series is the library weir links.
        log("pip install \"dbt-core>=1.11,<1.12\" dbt-duckdb \"duckdb>=1.5,<1.6\"")
        r = pip(py, "dbt-core>=1.11,<1.12", "dbt-duckdb", "duckdb>=1.5,<1.6")
        if r.returncode != 0:
            raise SystemExit(f"could not install dbt-core into {VENV}:\n{r.stderr}")
        v = versions()
    return py, v


def default_weir() -> Path:
    target = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
    binary = target / "release" / "weir"
    if not binary.exists():
        log(f"building: cargo build --release -p weir-cli (CARGO_TARGET_DIR={target})")
        env = dict(os.environ, CARGO_TARGET_DIR=str(target))
        subprocess.run(["cargo", "build", "--release", "-p", "weir-cli"], cwd=REPO, env=env, check=True)
    return binary


def snapshot(py: Path, db: Path) -> dict:
    r = subprocess.run([str(py), "-c", SNAPSHOT, str(db), SCHEMA_PREFIX], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"snapshot of {db} failed:\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def run_results(project: Path) -> dict:
    """unique_id -> {status, failures} from target/run_results.json (empty when missing)."""
    path = project / "target" / "run_results.json"
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return {r["unique_id"]: {"status": r["status"], "failures": r.get("failures")} for r in doc["results"]}


class Side:
    """One implementation: the argv prefix in front of `<verb> --project-dir … --profiles-dir …`."""

    def __init__(self, name: str, prefix: list[str], env: dict):
        self.name, self.prefix, self.env = name, prefix, env
        self.samples: dict[str, list[dict]] = {s: [] for s in STEPS}
        self.outputs: dict[str, dict] = {}  # after run 1: "build" / "build2" -> relations + results
        self.node_counts: dict[str, dict] = {}

    def run(self, r: int, scratch: Path, warehouse: Path, py: Path) -> None:
        work = scratch / f"{self.name}-{r}"
        project = work / "project"
        shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
        db = work / "warehouse.duckdb"
        shutil.copyfile(warehouse, db)
        env = dict(self.env, WEIR_WAREHOUSE=str(db))
        for step in STEPS:
            verb = "build" if step == "build2" else step
            p = Proc(self.prefix + [verb, "--project-dir", str(project), "--profiles-dir", str(project)],
                     env=env, cwd=project, check=False)
            results = run_results(project)
            statuses: dict[str, int] = {}
            for res in results.values():
                statuses[res["status"]] = statuses.get(res["status"], 0) + 1
            self.samples[step].append({"seconds": p.seconds, "max_rss_mb": p.max_rss_mb,
                                       "exit": p.returncode, "statuses": statuses if verb == "build" else None})
            log(f"  {self.name} run {r} {step:8s} {p.seconds:7.2f} s  "
                f"{(p.max_rss_mb or 0):6.0f} MB  exit {p.returncode}"
                + (f"  {statuses}" if verb == "build" else ""))
            if p.returncode != 0:
                (work / f"{step}.out").write_text(p.stdout + "\n" + p.stderr)
                log(f"    output kept in {work / f'{step}.out'}")
            if r == 1 and verb == "build":
                self.outputs[step] = {"relations": snapshot(py, db)["relations"], "results": results}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(side: Side) -> dict:
    out = {}
    for step, ss in side.samples.items():
        ok = [s for s in ss if s["exit"] == 0]
        out[step] = {"median_s": median([s["seconds"] for s in ok]),
                     "min_s": min((s["seconds"] for s in ok), default=None),
                     "max_s": max((s["seconds"] for s in ok), default=None),
                     "max_rss_mb": max((s["max_rss_mb"] for s in ss if s["max_rss_mb"]), default=None),
                     "failed_runs": len(ss) - len(ok)}
    out["peak_rss_mb"] = max((v["max_rss_mb"] for v in out.values() if v["max_rss_mb"]), default=None)
    return out


def diff(base: dict, other: dict) -> list[str]:
    """Differences between dbt-core's outputs and another side's, one line each."""
    lines = []
    for step in ("build", "build2"):
        b, o = base.get(step), other.get(step)
        if o is None:
            lines.append(f"{step}: no output from the other side")
            continue
        br, orl = b["relations"], o["relations"]
        for name in sorted(br.keys() | orl.keys()):
            if name not in orl:
                lines.append(f"{step}: {name} missing")
            elif name not in br:
                lines.append(f"{step}: {name} not made by dbt-core")
            else:
                for k in ("type", "columns", "rows", "hash_xor", "md5_sorted_rows"):
                    if br[name][k] != orl[name][k]:
                        lines.append(f"{step}: {name} {k}: dbt-core {br[name][k]!r}, other {orl[name][k]!r}")
        bt, ot = b["results"], o["results"]
        for uid in sorted(bt.keys() | ot.keys()):
            if uid not in ot:
                lines.append(f"{step}: result {uid} missing")
            elif uid not in bt:
                lines.append(f"{step}: result {uid} not in dbt-core's run")
            elif bt[uid] != ot[uid]:
                lines.append(f"{step}: result {uid}: dbt-core {bt[uid]}, other {ot[uid]}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scale", default="0.1", help="weir demo --scale (0.1 of Jan-Jun 2021 is about 1.25 M trips)")
    ap.add_argument("--from", dest="start", default="2021-01")
    ap.add_argument("--to", dest="end", default="2021-06")
    ap.add_argument("--weir", help="a weir binary with `weir dbt`: run the weir side and diff it against dbt-core")
    ap.add_argument("--demo-weir", help="the weir binary that makes the data (default: --weir, else the release build)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--out", help="JSON output path (default bench/results/dbt-<date>.json)")
    args = ap.parse_args()

    py, versions = ensure_venv()
    demo_weir = Path(args.demo_weir or args.weir or default_weir()).resolve()
    weir_version = subprocess.run([str(demo_weir), "--version"], capture_output=True, text=True).stdout.strip()
    log(f"dbt-core {versions['dbt-core']}, dbt-duckdb {versions['dbt-duckdb']}, duckdb {versions['duckdb']}; "
        f"data from {demo_weir} ({weir_version})")
    load_before, busy = loadavg(), busy_builds()

    scratch = Path(tempfile.mkdtemp(prefix="weir-bench-dbt-"))
    try:
        home = scratch / "demo-home"
        log(f"making the data: weir demo --scale {args.scale} --from {args.start} --to {args.end} (not timed)")
        demo = Proc([str(demo_weir), "demo", "--no-transform", "--scale", args.scale, "--from", args.start, "--to", args.end,
                     "--home", str(home)], cwd=scratch)
        warehouse = home / "demo" / "warehouse.duckdb"
        counts = subprocess.run([str(py), "-c", "import duckdb,sys,json; c=duckdb.connect(sys.argv[1], read_only=True); "
                                 "print(json.dumps({t: c.execute(f'select count(*) from public.{t}').fetchone()[0] "
                                 "for t in ('green_tripdata','yellow_tripdata')}))", str(warehouse)],
                                capture_output=True, text=True, check=True)
        source_rows = json.loads(counts.stdout)
        log(f"  source rows: {source_rows} (demo took {demo.seconds:.1f} s)")

        env = dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false", DO_NOT_TRACK="1")
        sides = [Side("dbt-core", [str(VENV / "bin" / "dbt")], env)]
        if args.weir:
            sides.append(Side("weir", [str(Path(args.weir).resolve()), "dbt"], env))
        for r in range(1, args.runs + 1):
            for side in sides:
                side.run(r, scratch, warehouse, py)
        load_after, busy_after = loadavg(), busy_builds()
        for k, v in busy_after.items():
            busy[k] = max(busy.get(k, 0), v)
    finally:
        if args.keep:
            log(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    base = sides[0]
    summary = {s.name: summarize(s) for s in sides}
    out = sys.stdout
    print(f"\ndbt-core {versions['dbt-core']} + dbt-duckdb {versions['dbt-duckdb']} (duckdb {versions['duckdb']}), "
          f"{sum(source_rows.values()):,} trip rows, {args.runs} runs, medians:", file=out)
    print(f"{'side':10s} " + " ".join(f"{s:>10s}" for s in STEPS) + f" {'peak RSS':>10s}", file=out)
    for s in sides:
        row = summary[s.name]
        cells = [f"{row[st]['median_s']:9.2f}s" if row[st]["median_s"] is not None else f"{'failed':>10s}" for st in STEPS]
        print(f"{s.name:10s} " + " ".join(cells) + f" {row['peak_rss_mb'] or 0:8.0f}MB", file=out)

    rels = base.outputs.get("build", {}).get("relations", {})
    print("\nrelations after the full build (dbt-core):", file=out)
    for name, rel in rels.items():
        print(f"  {name:45s} {rel['type']:5s} {rel['rows']:>10,} rows  md5 {rel['md5_sorted_rows'][:12]}", file=out)
    res = base.outputs.get("build", {}).get("results", {})
    st: dict[str, int] = {}
    for v in res.values():
        st[v["status"]] = st.get(v["status"], 0) + 1
    print(f"  node results: {st}", file=out)

    targets = {}
    comparison = None
    if len(sides) == 2:
        w, b = summary["weir"], summary["dbt-core"]
        comparison = diff(base.outputs, sides[1].outputs)
        print(f"\nweir vs dbt-core: {len(comparison)} difference(s)", file=out)
        for line in comparison[:50]:
            print(f"  {line}", file=out)

        def t(name, value, limit, ok):
            targets[name] = {"value": value, "limit": limit, "pass": bool(ok) if value is not None else False}
            mark = "PASS" if targets[name]["pass"] else "MISS"
            print(f"  {mark}  {name}: {value if value is None else round(value, 3)} (limit {limit})", file=out)

        print("\ntargets:", file=out)
        wc = w["compile"]["median_s"]
        t("weir compile seconds", wc, TARGET_COMPILE_S, wc is not None and wc < TARGET_COMPILE_S)
        ratio = (w["build"]["median_s"] / b["build"]["median_s"]) if w["build"]["median_s"] else None
        t("weir build / dbt-core build", ratio, TARGET_BUILD_RATIO, ratio is not None and ratio <= TARGET_BUILD_RATIO)
        t("weir peak RSS MB", w["peak_rss_mb"], TARGET_PEAK_MB, w["peak_rss_mb"] is not None and w["peak_rss_mb"] <= TARGET_PEAK_MB)
        t("same relations and results as dbt-core", float(len(comparison)), 0, not comparison)
    else:
        print("\nweir side: MISSING (`weir dbt` is not built yet; pass --weir BIN when it is). "
              "Only dbt-core's figures above; no target is checked.", file=out)
    if busy or (load_before and load_before[0] > 1.0):
        print(f"\nWARNING: machine not quiet (builds seen: "
              f"{', '.join(f'{k}x{v}' for k, v in sorted(busy.items())) or 'none'}; "
              f"load before {load_before}, after {load_after}).", file=out)

    path = result_path(args.out, RESULTS, "dbt")
    commit = git_commit(REPO)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                           capture_output=True, text=True).stdout.split("\n")
    doc = {
        "benchmark": "dbt",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "git_modified": [ln[3:] for ln in dirty if ln.strip()],
        "command": " ".join([Path(sys.executable).name, "bench/dbt.py"] + sys.argv[1:]),
        "project": str(PROJECT.relative_to(REPO)),
        "versions": versions,
        "data": {"weir": str(demo_weir), "weir_version": weir_version, "scale": args.scale,
                 "months": [args.start, args.end], "source_rows": source_rows},
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "bench_python": platform.python_version()},
        "runs": args.runs,
        "method": "per run and side: fresh copies of the demo's DuckDB file and of the project; parse (empty "
                  "target/), compile, build, build again, each the wall time of one process under "
                  "/usr/bin/time -v; sides interleaved round-robin; relations read after run 1's builds",
        "weir_side": "run" if args.weir else "missing: `weir dbt` is not built yet",
        "load": {"loadavg_before": load_before, "loadavg_after": load_after, "builds_seen": busy},
        "summary": summary,
        "samples": {s.name: s.samples for s in sides},
        "outputs": {s.name: s.outputs for s in sides},
        "differences": comparison,
        "targets": targets or None,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
