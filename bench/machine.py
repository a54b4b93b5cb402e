# How busy the machine is while a benchmark runs, and where its results go; shared by the benchmarks.
import subprocess
from pathlib import Path


def busy_builds() -> dict[str, int]:
    """Compilers running right now (another build sharing the cores skews the figures)."""
    seen = {}
    for prog in ("rustc", "cargo", "cc1", "cc1plus", "ld", "lld", "mold"):
        r = subprocess.run(["pgrep", "-x", prog], capture_output=True, text=True)
        if n := len(r.stdout.split()):
            seen[prog] = n
    return seen


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


def result_path(out: str | None, results: Path, name: str) -> Path:
    """`--out` when given, else `results/<name>-<today>.json`; its folder exists."""
    import datetime as dt
    path = Path(out) if out else results / f"{name}-{dt.date.today().isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def git_commit(repo: Path) -> str:
    """The commit the benchmark ran from ('' outside a git checkout)."""
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
