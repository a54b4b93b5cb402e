# How busy the machine is while a benchmark runs; shared by engine.py and load.py.
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
