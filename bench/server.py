# Server benchmark for weir: webhook-triggered executions under open-loop load, against a one-shot `weir run`.
"""Measure `weir server`: latency from a webhook request to SUCCESS, the highest sustained
rate, idle memory and start-up time; with a one-shot `weir run` of the same flow as the
baseline, in the same run.

The flow has two tasks (a Log, then a Return) and a Webhook trigger. The client sends
`POST /api/v1/executions/webhook/bench/hook/KEY` at a steady rate (open loop: each request
is sent at its due time whatever the answers before it did), over keep-alive connections
from a pool that grows when every connection is busy. For each execution:

  latency = the server's SUCCESS date (state.endDate) - the client's send time

both read from the same machine clock. The client records how late each send was against
its schedule, and the achieved send rate, so a client that cannot keep up shows.

Phases, each against its own fresh server and home:
  start-up   spawn -> first 200 from /health (median of --starts starts), VmRSS when idle
  rate-1000, rate-10000   1,000 and 10,000 per minute for --seconds (60) each
  ramp       --ramp rates (per minute) for --step-seconds each, on one server, until a
             step is not held: the client sent less than 95 % of the rate, the queue (`weir_queue_depth` from /metrics) still holds
             work at the end of the step, an execution takes more than 30 s, or p99 > 1 s
  baseline   `weir run FLOW --home H` one process per execution, sequential, on a home of
             its own with no server (half the runs before the phases, half after)

Targets (issue 9, on a 2-core machine): p50 < 20 ms at 1,000 per minute; no saturation below
20,000 per minute; idle RSS < 50 MB; ready to serve in < 200 ms.

Python 3.11 standard library only. Usage: python3 bench/server.py [--weir PATH] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from machine import busy_builds, loadavg

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
KEY = "bench-key-0123456789"

FLOW = f"""id: hook
namespace: bench
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "request {{{{ trigger.body.n ?? 'none' }}}}"
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "done {{{{ execution.id }}}}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: {KEY}
"""

TARGET_P50_MS = 20.0
TARGET_SATURATION_PER_MIN = 20_000
TARGET_IDLE_RSS_MB = 50.0
TARGET_READY_MS = 200.0
DRAIN_S = 30.0


def build(target_dir: str) -> Path:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", target_dir)
    if not (REPO / ".duckdb").exists():
        subprocess.run([str(REPO / "dev" / "install-duckdb")], cwd=REPO, check=True)
    print(f"building: cargo build --release -p weir-cli (CARGO_TARGET_DIR={env['CARGO_TARGET_DIR']})",
          file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "-p", "weir-cli"], cwd=REPO, env=env, check=True)
    return Path(env["CARGO_TARGET_DIR"]) / "release" / "weir"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(sorted_xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    k = max(1, math.ceil(q * len(sorted_xs)))
    return sorted_xs[k - 1]


def summary(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    return {"n": len(s), "p50_ms": round(statistics.median(s), 3), "p90_ms": round(pct(s, 0.9), 3),
            "p99_ms": round(pct(s, 0.99), 3), "max_ms": round(s[-1], 3), "min_ms": round(s[0], 3)}


def parse_date(s: str) -> float:
    """An RFC 3339 UTC date with up to 9 fractional digits -> POSIX seconds."""
    s = s.rstrip("Z")
    frac = 0.0
    if "." in s:
        s, f = s.split(".", 1)
        frac = float("0." + f)
    base = dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc)
    return base.timestamp() + frac


def proc_status(pid: int, field: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0  # kB -> MB
    except OSError:
        pass
    return None


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def metrics(port: int) -> dict[str, float]:
    _, body = http_get(port, "/metrics")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


class Server:
    """One `weir server` on a fresh home with the bench flow in its watched folder."""

    def __init__(self, weir: Path, scratch: Path, workers: int | None):
        self.home = Path(tempfile.mkdtemp(prefix="home-", dir=scratch))
        self.home.rmdir()  # weir creates it: state creation is part of the start
        self.flows = scratch / "flows"
        self.port = free_port()
        self.log = open(scratch / f"server-{self.port}.log", "w")
        argv = [str(weir), "server", "--bind", f"127.0.0.1:{self.port}", "--home", str(self.home),
                "--flows", str(self.flows)]
        if workers:
            argv += ["--workers", str(workers)]
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        self.ready_ms = self._wait_ready()

    def _wait_ready(self) -> float:
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"weir server exited {self.proc.returncode}; see {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return (time.perf_counter() - self.t_spawn) * 1000.0
            except OSError:
                pass
            time.sleep(0.001)
        raise SystemExit("weir server not ready after 30 s")

    def rss_mb(self) -> float | None:
        return proc_status(self.proc.pid, "VmRSS")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


# --- the open-loop client ---------------------------------------------------------------

class Sent:
    __slots__ = ("n", "due", "sent", "answered", "status", "exec_id")

    def __init__(self, n: int, due: float):
        self.n, self.due = n, due
        self.sent = self.answered = 0.0
        self.status = 0
        self.exec_id = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    return status, await reader.read()


class Client:
    def __init__(self, port: int, max_conns: int):
        self.port = port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.max_conns = max_conns
        self.slots = asyncio.Semaphore(max_conns)
        self.errors: list[str] = []

    async def one(self, rec: Sent):
        async with self.slots:
            if self.idle:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                self.opened += 1
            body = json.dumps({"n": rec.n}).encode()
            req = (f"POST /api/v1/executions/webhook/bench/hook/{KEY} HTTP/1.1\r\n"
                   f"Host: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            try:
                rec.sent = time.time()
                writer.write(req)
                await writer.drain()
                rec.status, payload = await read_response(reader)
                rec.answered = time.time()
                if rec.status == 200:
                    rec.exec_id = json.loads(payload)["id"]
                else:
                    self.errors.append(f"{rec.status}: {payload[:200]!r}")
                self.idle.append((reader, writer))
            except (OSError, asyncio.IncompleteReadError) as e:
                self.errors.append(repr(e))
                writer.close()

    async def close(self):
        for _, w in self.idle:
            w.close()


async def send_at_rate(port: int, per_min: float, seconds: float, first_n: int,
                       sample_queue: bool) -> tuple[list[Sent], list[tuple[float, float]], Client]:
    client = Client(port, max_conns=512)
    interval = 60.0 / per_min
    count = int(round(per_min * seconds / 60.0))
    loop = asyncio.get_running_loop()
    queue_samples: list[tuple[float, float]] = []
    stop = asyncio.Event()

    async def sampler():
        # A separate connection polls /metrics twice a second while the load runs.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        t0 = time.time()
        while not stop.is_set():
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            _, body = await read_response(reader)
            for line in body.decode().splitlines():
                if line.startswith("weir_queue_depth "):
                    queue_samples.append((round(time.time() - t0, 3), float(line.split()[1])))
            try:
                await asyncio.wait_for(stop.wait(), 0.5)
            except asyncio.TimeoutError:
                pass
        writer.close()

    samp = asyncio.create_task(sampler()) if sample_queue else None
    recs, tasks = [], []
    start = loop.time() + 0.05
    for i in range(count):
        due = start + i * interval
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        rec = Sent(first_n + i, due)
        recs.append(rec)
        tasks.append(asyncio.create_task(client.one(rec)))
    await asyncio.gather(*tasks)
    stop.set()
    if samp:
        await samp
    await client.close()
    # `due` is on the loop's monotonic clock; keep only the lateness of each send.
    mono_to_wall = time.time() - loop.time()
    for r in recs:
        r.due += mono_to_wall
    return recs, queue_samples, client


def fetch_executions(port: int) -> dict[str, dict]:
    """Every execution of the bench flow, by id, through the search API."""
    out, page = {}, 1
    while True:
        status, body = http_get(port, f"/api/v1/executions/search?namespace=bench&flowId=hook"
                                      f"&size=1000&page={page}", timeout=60)
        if status != 200:
            raise SystemExit(f"search answered {status}: {body[:300]!r}")
        results = json.loads(body)["results"]
        for e in results:
            out[e["id"]] = e
        if len(results) < 1000:
            return out
        page += 1


def wait_drained(port: int, timeout: float) -> float:
    """Seconds until the queue is empty and nothing runs (or the timeout)."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        m = metrics(port)
        if m.get("weir_queue_depth", 1) == 0 and m.get("weir_executions_running", 1) == 0:
            return time.perf_counter() - t0
        time.sleep(0.2)
    return time.perf_counter() - t0


def run_load(server: Server, per_min: float, seconds: float, first_n: int) -> dict:
    load_before = loadavg()
    cpu0, ru0, t0 = proc_cpu_s(server.proc.pid), resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    recs, queue, client = asyncio.run(send_at_rate(server.port, per_min, seconds, first_n, True))
    send_wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    drain_s = wait_drained(server.port, DRAIN_S)
    cpu1 = proc_cpu_s(server.proc.pid)
    time.sleep(2.0)
    rss_idle = server.rss_mb()  # drained and idle, before the search below builds its pages
    execs = fetch_executions(server.port)

    sent = [r for r in recs if r.sent]
    span = (max(r.sent for r in sent) - min(r.sent for r in sent)) if len(sent) > 1 else 0.0
    lateness = [(r.sent - r.due) * 1000.0 for r in sent]
    http_ms = [(r.answered - r.sent) * 1000.0 for r in sent if r.answered]
    latency, not_success, states = [], 0, {}
    for r in sent:
        e = execs.get(r.exec_id) if r.exec_id else None
        state = e["state"]["current"] if e else "NOT CREATED"
        states[state] = states.get(state, 0) + 1
        if state != "SUCCESS" or not e["state"].get("endDate"):
            not_success += 1
            continue
        latency.append((parse_date(e["state"]["endDate"]) - r.sent) * 1000.0)
    m = metrics(server.port)
    return {
        "target_per_min": per_min,
        "seconds": seconds,
        "requests": len(recs),
        "achieved_send_per_min": round((len(sent) - 1) / span * 60.0, 1) if span else None,
        "send_lateness": summary(lateness),
        "http_answer": summary(http_ms),
        "latency_to_success": summary(latency),
        "not_success_after_drain": not_success,
        "states": states,
        "http_errors": client.errors[:10],
        "http_error_count": len(client.errors),
        "connections_opened": client.opened,
        "drain_s": round(drain_s, 2),
        "queue_depth_samples": queue,
        "queue_depth_max": max((q for _, q in queue), default=None),
        "queue_depth_last": queue[-1][1] if queue else None,
        "server_cpu_s": round(cpu1 - cpu0, 2),
        "server_cpu_ms_per_execution": round((cpu1 - cpu0) * 1000.0 / max(1, len(sent)), 3),
        "client_cpu_s": round((ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime), 2),
        "client_wall_s": round(send_wall, 2),
        "idle_rss_after_load_mb": rss_idle,
        "rss_after_search_mb": server.rss_mb(),
        "rss_peak_mb": proc_status(server.proc.pid, "VmHWM"),
        "executions_ended_total": m.get('weir_executions_ended_total{state="SUCCESS"}'),
        "loadavg_before": load_before,
        "loadavg_after": loadavg(),
        "builds_seen": busy_builds(),
    }


def held(step: dict) -> tuple[bool, str]:
    lat = step["latency_to_success"]
    if step["not_success_after_drain"]:
        return False, f"{step['not_success_after_drain']} executions not SUCCESS {DRAIN_S:.0f} s after the step"
    if step["achieved_send_per_min"] and step["achieved_send_per_min"] < 0.95 * step["target_per_min"]:
        return False, f"the client sent only {step['achieved_send_per_min']:.0f}/min"
    backlog = step["queue_depth_last"] or 0
    if backlog > max(10, step["target_per_min"] / 60.0):
        return False, f"{backlog:.0f} executions still queued at the end of the step (more than 1 s of work)"
    if lat.get("p99_ms", 0) > 1000:
        return False, f"p99 {lat['p99_ms']:.0f} ms > 1 s"
    return True, "held"


def one_shot(weir: Path, flow: Path, home: Path) -> float:
    t0 = time.perf_counter()
    p = subprocess.run([str(weir), "run", str(flow), "--home", str(home)], capture_output=True, text=True)
    ms = (time.perf_counter() - t0) * 1000.0
    if p.returncode != 0:
        raise SystemExit(f"weir run exit {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return ms


def fmt(x, unit="ms"):
    return "–" if x is None else f"{x:.1f} {unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weir", help="use this weir binary instead of building the release one")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the 1,000 and 10,000/min phases")
    ap.add_argument("--rates", default="1000,10000", help="per-minute rates of the fixed phases")
    ap.add_argument("--ramp", default="20000,30000,40000,50000,60000,80000",
                    help="per-minute rates of the ramp, stepped up until one is not held")
    ap.add_argument("--step-seconds", type=float, default=20.0, help="length of each ramp step")
    ap.add_argument("--starts", type=int, default=7, help="server starts for the start-up figure")
    ap.add_argument("--baseline-runs", type=int, default=20, help="one-shot `weir run`s (half before, half after)")
    ap.add_argument("--workers", type=int, help="`weir server --workers` (default: the server's own)")
    ap.add_argument("--quick", action="store_true", help="10 s phases, 5 s steps, 3 starts: a smoke run")
    ap.add_argument("--out", help="JSON output path (default bench/results/server-<date>.json)")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.step_seconds, args.starts, args.baseline_runs = 10.0, 5.0, 3, 6

    weir = Path(args.weir) if args.weir else build(str(Path.home() / ".cache" / "weir" / "target"))
    weir = weir.resolve()
    if not weir.is_file():
        raise SystemExit(f"no weir binary at {weir}")
    weir_version = subprocess.run([str(weir), "--version"], capture_output=True, text=True).stdout.strip()
    result: dict = {"date": dt.date.today().isoformat(), "weir": str(weir), "weir_version": weir_version,
                    "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                    "args": vars(args), "loadavg_start": loadavg(), "builds_seen_start": busy_builds()}

    scratch = Path(tempfile.mkdtemp(prefix="weir-bench-server-"))
    try:
        (scratch / "flows").mkdir()
        flow = scratch / "flows" / "hook.yaml"
        flow.write_text(FLOW)
        base_home = scratch / "oneshot-home"
        baseline: list[float] = []
        for _ in range(2):  # warm-up: creates the home, warms the page cache
            one_shot(weir, flow, base_home)

        def baseline_half(n):
            for _ in range(n):
                baseline.append(one_shot(weir, flow, base_home))

        baseline_half(args.baseline_runs // 2)

        # Start-up and idle memory.
        ready, idle_rss = [], []
        for _ in range(args.starts):
            s = Server(weir, scratch, args.workers)
            ready.append(s.ready_ms)
            time.sleep(1.0)
            idle_rss.append(s.rss_mb())
            s.stop()
        result["startup"] = {"ready_ms": summary(ready), "samples_ms": [round(x, 2) for x in ready],
                             "idle_rss_mb_samples": idle_rss, "idle_rss_mb_median": statistics.median(idle_rss)}
        print(f"start-up: ready in {statistics.median(ready):.1f} ms (median of {len(ready)}), "
              f"idle RSS {statistics.median(idle_rss):.1f} MB", file=sys.stderr)

        # Fixed rates, each on a fresh server.
        result["phases"] = []
        n = 0
        for rate in [float(r) for r in args.rates.split(",") if r]:
            s = Server(weir, scratch, args.workers)
            try:
                ph = run_load(s, rate, args.seconds, n)
            finally:
                s.stop()
            n += ph["requests"]
            result["phases"].append(ph)
            lat = ph["latency_to_success"]
            print(f"{rate:>8.0f}/min: sent {ph['achieved_send_per_min']}/min, "
                  f"p50 {fmt(lat.get('p50_ms'))}, p99 {fmt(lat.get('p99_ms'))}, max {fmt(lat.get('max_ms'))}, "
                  f"not SUCCESS {ph['not_success_after_drain']}, idle RSS after {fmt(ph['idle_rss_after_load_mb'], 'MB')}, "
                  f"load {ph['loadavg_after']}", file=sys.stderr)

        # The ramp, on one server.
        result["ramp"] = []
        last_held = None
        s = Server(weir, scratch, args.workers)
        try:
            for rate in [float(r) for r in args.ramp.split(",") if r]:
                st = run_load(s, rate, args.step_seconds, n)
                n += st["requests"]
                ok, why = held(st)
                st["held"], st["verdict"] = ok, why
                result["ramp"].append(st)
                lat = st["latency_to_success"]
                print(f"ramp {rate:>8.0f}/min: sent {st['achieved_send_per_min']}/min, p50 {fmt(lat.get('p50_ms'))}, "
                      f"p99 {fmt(lat.get('p99_ms'))}, queue max {st['queue_depth_max']} last {st['queue_depth_last']}, "
                      f"server CPU {st['server_cpu_ms_per_execution']} ms/exec: {why}", file=sys.stderr)
                if not ok:
                    break
                last_held = rate
        finally:
            s.stop()
        result["highest_sustained_per_min"] = last_held

        baseline_half(args.baseline_runs - args.baseline_runs // 2)
        result["baseline_one_shot_run"] = summary(baseline) | {"samples_ms": [round(x, 2) for x in baseline]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    p1000 = next((p for p in result["phases"] if p["target_per_min"] == 1000), None)
    base_p50 = result["baseline_one_shot_run"]["p50_ms"]
    derived = {}
    if p1000 and p1000["latency_to_success"].get("n"):
        p50 = p1000["latency_to_success"]["p50_ms"]
        derived["p50_at_1000_ms"] = p50
        derived["p50_at_1000_vs_one_shot"] = round(p50 / base_p50, 4)
    for p in result["phases"]:
        if p["latency_to_success"].get("n"):
            derived[f"p50_at_{int(p['target_per_min'])}_vs_one_shot"] = round(
                p["latency_to_success"]["p50_ms"] / base_p50, 4)
    idle_after = [p["idle_rss_after_load_mb"] for p in result["phases"] if p.get("idle_rss_after_load_mb")]
    targets = {
        "p50 < 20 ms at 1,000/min": (derived.get("p50_at_1000_ms", math.inf) < TARGET_P50_MS),
        "no saturation below 20,000/min": (last_held or 0) >= TARGET_SATURATION_PER_MIN,
        "idle RSS < 50 MB": max([result["startup"]["idle_rss_mb_median"]] + idle_after) < TARGET_IDLE_RSS_MB,
        "ready < 200 ms": result["startup"]["ready_ms"]["p50_ms"] < TARGET_READY_MS,
    }
    result["derived"] = derived
    result["targets"] = {k: ("PASS" if v else "MISS") for k, v in targets.items()}
    result["loadavg_end"] = loadavg()
    result["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                                          text=True).stdout.strip() or None

    print(f"\none-shot `weir run` (baseline): p50 {base_p50:.1f} ms over {len(baseline)} runs")
    for p in result["phases"]:
        lat = p["latency_to_success"]
        print(f"{int(p['target_per_min']):>6}/min (sent {p['achieved_send_per_min']}/min): "
              f"p50 {fmt(lat.get('p50_ms'))} ({lat.get('p50_ms', math.nan) / base_p50:.3f}x one-shot), "
              f"p99 {fmt(lat.get('p99_ms'))}, max {fmt(lat.get('max_ms'))}, "
              f"not SUCCESS after {DRAIN_S:.0f} s: {p['not_success_after_drain']}, "
              f"server CPU {p['server_cpu_ms_per_execution']} ms/execution")
    print(f"highest sustained rate: {last_held}/min")
    print(f"start-up: {result['startup']['ready_ms']['p50_ms']:.1f} ms; idle RSS "
          f"{result['startup']['idle_rss_mb_median']:.1f} MB after start, {idle_after} MB after load")
    for k, v in result["targets"].items():
        print(f"  {k}: {v}")
    if max(result["loadavg_start"][:1] + [2.0]) > 2.0 or result["builds_seen_start"]:
        print(f"warning: the machine was busy (load {result['loadavg_start']}, builds {result['builds_seen_start']})")

    out = Path(args.out) if args.out else RESULTS / f"server-{result['date']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
