# Engine-overhead benchmark for weir: 40 Log tasks, 40 shell tasks vs a bare python3 loop, with baselines.
"""Measure weir's per-task engine overhead and its cost over bare processes.

Cases (all run in this one process, interleaved round-robin so that a change in
machine load hits every case alike):

  noop        `/bin/true`: what starting any process costs on this machine (the baseline of the
              start-up targets).
  version     `weir --version`: process start-up alone, no state, no flow.
  log-1       a flow of 1 Log task: start-up + state creation + flow parse + 1 task.
  log-40      a flow of 40 sequential Log tasks.
  shell-40    a flow of 40 sequential shell.Commands tasks, each `python3 -c` fib(10).
  bare-40     `/bin/sh -c 'for i in $(seq 40); do python3 -c …fib(10)…; done'`.
  log-1000    a flow of 1,000 sequential Log tasks.
  log-10000   a flow of 10,000 sequential Log tasks.
  foreach-10000  a ForEach over 10,000 values, one Log task each (10,001 task runs).

The long cases check that the engine's cost per task run stays flat as a flow grows (a cost
that grows with the task runs already done shows up as a larger per-task figure at 10,000
than at 40). They run fewer times (--long-runs), interleaved with the rest.

Every weir run gets a fresh, empty `--home`, so creating the SQLite state
(database, schema, WAL) is part of the measured cost, as it is for a first run.

Targets (from the issues):
  * median(version) - median(noop) <= 5 ms, median(log-1) - median(noop) <= 12 ms: a command
    that never touches DuckDB does not pay for loading its library
  * per-task engine overhead = (median(log-40) - median(log-1)) / 39 < 1 ms
  * median(log-40) end to end, start-up included, < 50 ms
  * median(shell-40) / median(bare-40) <= 1.3
  * per-task engine time at 1,000 and 10,000 Log tasks, and per ForEach iteration over
    10,000 values, <= 1 ms, as at 40 tasks

Python 3.11 standard library only. Usage: python3 bench/engine.py [--runs N] [--weir PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from machine import busy_builds, git_commit, loadavg, result_path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

N_TASKS = 40
LONG_SIZES = (1_000, 10_000)
FIB_CODE = "def f(n): return n if n < 2 else f(n-1)+f(n-2)\nprint(f(10))"
FIB_OUT = "55"

TARGET_PER_TASK_MS = 1.0
TARGET_LOG40_MS = 50.0
TARGET_SHELL_RATIO = 1.3
TARGET_VERSION_OVER_NOOP_MS = 5.0
TARGET_LOG1_OVER_NOOP_MS = 12.0
NOOP = shutil.which("true") or "/bin/true"


def sh_quote(s: str) -> str:
    """Single-quote for /bin/sh (FIB_CODE holds no single quote, but be correct anyway)."""
    return "'" + s.replace("'", "'\\''") + "'"


def yaml_str(s: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(s)


def log_flow(n: int) -> str:
    lines = [f"id: log_{n}", "namespace: bench", "tasks:"]
    for i in range(1, n + 1):
        lines += [
            f"  - id: log_{i}",
            "    type: io.kestra.plugin.core.log.Log",
            f"    message: {yaml_str(f'task {i} of {n}')}",
        ]
    return "\n".join(lines) + "\n"


def foreach_flow(n: int) -> str:
    return (f"id: foreach_{n}\nnamespace: bench\ntasks:\n"
            f"  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
            f"    values: {json.dumps(list(range(n)))}\n"
            f"    tasks:\n      - id: log\n        type: io.kestra.plugin.core.log.Log\n"
            f"        message: \"value {{{{ taskrun.value }}}}\"\n")


def shell_flow(n: int, python: str) -> str:
    cmd = f"{sh_quote(python)} -c {sh_quote(FIB_CODE)}"
    lines = [f"id: shell_{n}", "namespace: bench", "tasks:"]
    for i in range(1, n + 1):
        lines += [
            f"  - id: fib_{i}",
            "    type: io.kestra.plugin.scripts.shell.Commands",
            "    commands:",
            f"      - {yaml_str(cmd)}",
        ]
    return "\n".join(lines) + "\n"


def bare_loop(n: int, python: str) -> str:
    return f"for i in $(seq {n}); do {sh_quote(python)} -c {sh_quote(FIB_CODE)}; done"


def build(target_dir: str) -> Path:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", target_dir)
    print(f"building: cargo build --release -p weir-cli (CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})",
          file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "-p", "weir-cli"], cwd=REPO, env=env, check=True)
    return Path(env["CARGO_TARGET_DIR"]) / "release" / "weir"


def resolve_python(name: str) -> str:
    """The real interpreter behind `name`: version-manager shims (pyenv's is a bash
    script) add ~100-200 ms per call, which would hide the engine's cost in the ratio."""
    out = subprocess.run([name, "-c", "import sys; print(sys.executable)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip() or name




class Case:
    def __init__(self, name: str, desc: str, argv_for, check=None, needs_home=False, long=False):
        self.name, self.desc, self.long = name, desc, long
        self.argv_for = argv_for  # home -> argv
        self.check = check  # (CompletedProcess, home) -> None, raises on a wrong result
        self.needs_home = needs_home
        self.samples_ms: list[float] = []

    def once(self, scratch: Path, record: bool, verify: bool) -> float:
        home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch)) if self.needs_home else None
        if home is not None:
            home.rmdir()  # weir creates it: state creation is part of the cost
        argv = self.argv_for(home)
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ms = (time.perf_counter() - t0) * 1000.0
        if p.returncode != 0:
            raise SystemExit(f"{self.name}: exit {p.returncode}\n$ {argv}\n{p.stdout}\n{p.stderr}")
        if verify and self.check:
            self.check(p, home)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
        if record:
            self.samples_ms.append(ms)
        return ms


def pct(sorted_xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(1, math.ceil(q * len(sorted_xs)))
    return sorted_xs[k - 1]


def stats(xs: list[float]) -> dict:
    s = sorted(xs)
    return {"median_ms": statistics.median(s), "min_ms": s[0], "p90_ms": pct(s, 0.9),
            "max_ms": s[-1], "runs": len(s), "samples_ms": [round(x, 3) for x in xs]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="measured runs per case (default 10)")
    ap.add_argument("--warmup", type=int, default=2, help="unmeasured runs per case first (default 2)")
    ap.add_argument("--long-runs", type=int, default=3,
                    help="measured runs of the 1,000- and 10,000-task cases (default 3; no warm-up)")
    ap.add_argument("--weir", help="use this weir binary instead of building the release one")
    ap.add_argument("--python", default="python3",
                    help="interpreter for the fib(10) commands; resolved to the real executable "
                         "unless --no-resolve-python (default python3)")
    ap.add_argument("--no-resolve-python", action="store_true",
                    help="use --python as given (e.g. a pyenv shim) in both the flow and the loop")
    ap.add_argument("--out", help="JSON output path (default bench/results/engine-<date>.json)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    weir = Path(args.weir) if args.weir else build(str(Path.home() / ".cache" / "weir" / "target"))
    weir = weir.resolve()
    if not weir.is_file():
        raise SystemExit(f"no weir binary at {weir}")
    python = args.python if args.no_resolve_python else resolve_python(args.python)
    weir_version = subprocess.run([str(weir), "--version"], capture_output=True, text=True).stdout.strip()

    scratch = Path(tempfile.mkdtemp(prefix="weir-bench-"))
    try:
        flows = scratch / "flows"
        flows.mkdir()
        (flows / "log1.yaml").write_text(log_flow(1))
        (flows / "log40.yaml").write_text(log_flow(N_TASKS))
        (flows / "shell40.yaml").write_text(shell_flow(N_TASKS, python))
        for n in LONG_SIZES:
            (flows / f"log{n}.yaml").write_text(log_flow(n))
        (flows / f"foreach{LONG_SIZES[-1]}.yaml").write_text(foreach_flow(LONG_SIZES[-1]))
        loop = bare_loop(N_TASKS, python)

        def run_argv(flow: str):
            return lambda home: [str(weir), "--home", str(home), "run", str(flows / flow)]

        def check_flow(n: int, expect_line: str | None):
            def check(p, home):
                if f"({n} task" not in p.stderr or "SUCCESS" not in p.stderr:
                    raise SystemExit(f"unexpected summary:\n{p.stderr}")
                if expect_line is not None:
                    exec_id = p.stdout.strip().splitlines()[-1]
                    logs = subprocess.run([str(weir), "--home", str(home), "executions", "logs", exec_id],
                                          capture_output=True, text=True, check=True).stdout
                    got = sum(1 for ln in logs.splitlines() if ln.rstrip().endswith(" " + expect_line))
                    if got != n:
                        raise SystemExit(f"expected {n} log lines ending in {expect_line!r}, got {got}:\n{logs}")
            return check

        def check_bare(p, _home):
            got = p.stdout.split()
            if got != [FIB_OUT] * N_TASKS:
                raise SystemExit(f"bare loop printed {got!r}")

        cases = [
            Case("noop", f"{NOOP} (any process start-up)", lambda _h: [NOOP]),
            Case("version", "weir --version (start-up only)", lambda _h: [str(weir), "--version"]),
            Case("log-1", "flow of 1 Log task", run_argv("log1.yaml"), check_flow(1, None), True),
            Case("log-40", f"flow of {N_TASKS} Log tasks", run_argv("log40.yaml"), check_flow(N_TASKS, None), True),
            Case("shell-40", f"flow of {N_TASKS} shell tasks, python3 fib(10)", run_argv("shell40.yaml"),
                 check_flow(N_TASKS, FIB_OUT), True),
            Case("bare-40", f"/bin/sh loop of {N_TASKS} python3 fib(10)", lambda _h: ["/bin/sh", "-c", loop],
                 check_bare),
        ]
        for n in LONG_SIZES:
            cases.append(Case(f"log-{n}", f"flow of {n:,} Log tasks", run_argv(f"log{n}.yaml"),
                              check_flow(n, None), True, long=True))
        big = LONG_SIZES[-1]
        cases.append(Case(f"foreach-{big}", f"ForEach over {big:,} values, 1 Log each",
                          run_argv(f"foreach{big}.yaml"), check_flow(big + 1, None), True, long=True))

        print(f"weir: {weir} ({weir_version})\npython for fib(10): {python}\n"
              f"runs: {args.runs} (+{args.warmup} warm-up) per case, interleaved; fresh --home per weir run",
              file=sys.stderr)
        load_before = loadavg()
        busy_seen: dict[str, int] = busy_builds()  # program -> most processes seen at once
        short = [c for c in cases if not c.long]
        for i in range(args.warmup):
            for c in short:
                c.once(scratch, record=False, verify=(i == 0))
        if args.warmup == 0:
            for c in short:
                c.once(scratch, record=False, verify=True)
                c.samples_ms.clear()
        for c in cases:
            if c.long:  # checked once, on a run of its own, then measured below
                c.once(scratch, record=False, verify=True)
        for r in range(max(args.runs, args.long_runs)):
            for c in cases:
                if r < (args.long_runs if c.long else args.runs):
                    c.once(scratch, record=True, verify=False)
            for prog, n in busy_builds().items():
                busy_seen[prog] = max(n, busy_seen.get(prog, 0))
            print(f"  run {r + 1}/{args.runs} done", file=sys.stderr)
        load_after = loadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    st = {c.name: stats(c.samples_ms) for c in cases}
    med = {k: v["median_ms"] for k, v in st.items()}
    per_task = (med["log-40"] - med["log-1"]) / (N_TASKS - 1)
    per_task_at = {N_TASKS: per_task}
    for n in LONG_SIZES:
        per_task_at[n] = (med[f"log-{n}"] - med["log-1"]) / (n - 1)
    big = LONG_SIZES[-1]
    per_iteration = (med[f"foreach-{big}"] - med["log-1"]) / big
    ratio = med["shell-40"] / med["bare-40"]
    shell_over_bare_per_task = (med["shell-40"] - med["bare-40"]) / N_TASKS
    version_over_noop = med["version"] - med["noop"]
    log1_over_noop = med["log-1"] - med["noop"]
    targets = {
        "version_over_noop": {"value_ms": version_over_noop, "target_ms": TARGET_VERSION_OVER_NOOP_MS,
                              "pass": version_over_noop <= TARGET_VERSION_OVER_NOOP_MS},
        "log1_over_noop": {"value_ms": log1_over_noop, "target_ms": TARGET_LOG1_OVER_NOOP_MS,
                           "pass": log1_over_noop <= TARGET_LOG1_OVER_NOOP_MS},
        "per_task_overhead": {"value_ms": per_task, "target_ms": TARGET_PER_TASK_MS,
                              "pass": per_task < TARGET_PER_TASK_MS},
        "log40_end_to_end": {"value_ms": med["log-40"], "target_ms": TARGET_LOG40_MS,
                             "pass": med["log-40"] < TARGET_LOG40_MS},
        "shell40_vs_bare_ratio": {"value": ratio, "target": TARGET_SHELL_RATIO,
                                  "pass": ratio <= TARGET_SHELL_RATIO},
    }
    for n in LONG_SIZES:
        targets[f"per_task_at_{n}"] = {"value_ms": per_task_at[n], "target_ms": TARGET_PER_TASK_MS,
                                       "pass": per_task_at[n] <= TARGET_PER_TASK_MS}
    targets[f"per_foreach_iteration_at_{big}"] = {"value_ms": per_iteration, "target_ms": TARGET_PER_TASK_MS,
                                                  "pass": per_iteration <= TARGET_PER_TASK_MS}

    out = sys.stdout
    print(f"\n{'case':<10} {'median':>10} {'min':>10} {'p90':>10}   what", file=out)
    for c in cases:
        s = st[c.name]
        print(f"{c.name:<10} {s['median_ms']:>8.1f}ms {s['min_ms']:>8.1f}ms {s['p90_ms']:>8.1f}ms   {c.desc}", file=out)
    print("\nderived (from medians)", file=out)
    print(f"  no-op process ({NOOP})                   {med['noop']:8.2f} ms", file=out)
    print(f"  start-up (weir --version)                {med['version']:8.2f} ms", file=out)
    print(f"  1-Log flow minus start-up (state+parse+1) {med['log-1'] - med['version']:7.2f} ms", file=out)
    print(f"  shell-40 minus bare-40, per task         {shell_over_bare_per_task:8.2f} ms", file=out)
    print("\ntargets", file=out)
    mark = lambda ok: "PASS" if ok else "MISS"  # noqa: E731
    t = targets
    print(f"  {mark(t['version_over_noop']['pass'])}  weir --version over the no-op = {version_over_noop:.2f} ms  "
          f"(target <= {TARGET_VERSION_OVER_NOOP_MS:g} ms)", file=out)
    print(f"  {mark(t['log1_over_noop']['pass'])}  1-Log flow over the no-op = {log1_over_noop:.2f} ms  "
          f"(target <= {TARGET_LOG1_OVER_NOOP_MS:g} ms)", file=out)
    print(f"  {mark(t['per_task_overhead']['pass'])}  engine overhead per task "
          f"(log-40 - log-1)/39 = {per_task:.3f} ms  (target < {TARGET_PER_TASK_MS:g} ms)", file=out)
    print(f"  {mark(t['log40_end_to_end']['pass'])}  40-Log flow end to end median = {med['log-40']:.1f} ms  "
          f"(target < {TARGET_LOG40_MS:g} ms)", file=out)
    print(f"  {mark(t['shell40_vs_bare_ratio']['pass'])}  shell-40 / bare-40 = {ratio:.3f}×  "
          f"(target <= {TARGET_SHELL_RATIO:g}×)", file=out)
    for n in LONG_SIZES:
        print(f"  {mark(t[f'per_task_at_{n}']['pass'])}  engine time per task at {n:,} Log tasks "
              f"(log-{n} - log-1)/{n - 1} = {per_task_at[n]:.3f} ms  (target <= {TARGET_PER_TASK_MS:g} ms)", file=out)
    print(f"  {mark(t[f'per_foreach_iteration_at_{big}']['pass'])}  engine time per ForEach iteration "
          f"(foreach-{big} - log-1)/{big} = {per_iteration:.3f} ms  (target <= {TARGET_PER_TASK_MS:g} ms)", file=out)
    if busy_seen or (load_before and load_before[0] > 1.0):
        print(f"\nWARNING: machine not quiet (builds seen: {', '.join(f'{k}×{v}' for k, v in sorted(busy_seen.items())) or 'none'}; "
              f"load before {load_before}, after {load_after}); re-run when idle.", file=out)

    path = result_path(args.out, RESULTS, "engine")
    commit = git_commit(REPO)
    doc = {
        "benchmark": "engine",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "weir": str(weir), "weir_version": weir_version,
        "python_for_fib": python,
        "host": {"cpus": os.cpu_count(), "platform": platform.platform(), "bench_python": platform.python_version()},
        "runs": args.runs, "warmup": args.warmup, "tasks": N_TASKS,
        "method": "wall time via time.perf_counter around subprocess.run; fresh --home per weir run "
                  "(state creation included); cases interleaved round-robin",
        "load": {"loadavg_before": load_before, "loadavg_after": load_after, "builds_seen": busy_seen},
        "cases": st,
        "derived": {"noop_ms": med["noop"], "startup_ms": med["version"],
                    "version_over_noop_ms": version_over_noop, "log1_over_noop_ms": log1_over_noop,
                    "log1_minus_startup_ms": med["log-1"] - med["version"],
                    "per_task_overhead_ms": per_task,
                    "per_task_ms_at": {str(k): v for k, v in per_task_at.items()},
                    f"per_foreach_iteration_ms_at_{big}": per_iteration, "shell40_over_bare40_ratio": ratio,
                    "shell_minus_bare_per_task_ms": shell_over_bare_per_task},
        "targets": targets,
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"\nwrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
