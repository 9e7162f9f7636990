"""Start-up benchmark: what importing the package and starting the CLI cost, apart from routing.

    python benchmarks/bench_startup.py [--out benchmarks/results] [--runs 7]

Each figure is the median of ``--runs`` fresh processes on this machine:

- ``import router``: the lazy top level (no litellm, no PyMuPDF); the modules it loaded are listed.
- ``hcr --help``: the CLI parser with every subcommand (target: under 0.3 s).
- ``from router import Router``, the first ``Router()`` (it loads litellm) and the first route in a
  fresh process: wall time of each, and the ``route_ms`` that first route reports, which counts
  routing (with its first tokenizer and font loads), not the imports before it.

Prints a table and writes ``bench_startup.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
HCR = Path(sys.executable).parent / "hcr"
console = Console(width=None if sys.stdout.isatty() else 150)

_IMPORT = """
import sys, time
started = time.perf_counter()
import router
elapsed = time.perf_counter() - started
heavy = sorted(m for m in ("litellm", "pymupdf", "fitz", "pydantic", "numpy", "PIL") if m in sys.modules)
print(elapsed, ",".join(heavy) or "-")
"""

_FIRST_ROUTE = """
import json, time
started = time.perf_counter()
from router import Router
imported = time.perf_counter()
request = json.load(open(sys_argv_1))
router = Router()
constructed = time.perf_counter()
routed = router.route(request["messages"], model=request["model"])
done = time.perf_counter()
print(imported - started, constructed - imported, done - constructed, routed.report.route_ms / 1000)
"""


def _median_of(runs: int, command: list[str]) -> tuple[float, list[str]]:
    times, outputs = [], []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(time.perf_counter() - started)
        outputs.append(result.stdout.strip())
    return statistics.median(times), outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    interpreter, _ = _median_of(args.runs, [sys.executable, "-c", "pass"])
    import_wall, outputs = _median_of(args.runs, [sys.executable, "-c", _IMPORT])
    import_s = statistics.median(float(line.split()[0]) for line in outputs)
    loaded = outputs[-1].split()[1]
    help_wall, _ = _median_of(args.runs, [str(HCR), "--help"])
    request = ROOT / "examples" / "requests" / "long_chat.json"
    script = _FIRST_ROUTE.replace("sys_argv_1", repr(str(request)))
    _, routes = _median_of(args.runs, [sys.executable, "-c", script])
    first = [tuple(float(x) for x in line.split()) for line in routes]
    import_router = statistics.median(f[0] for f in first)
    construct = statistics.median(f[1] for f in first)
    first_route = statistics.median(f[2] for f in first)
    route_ms = statistics.median(f[3] for f in first)

    figures = {
        "python_startup_s": round(interpreter, 4),
        "import_router_s": round(import_s, 4),
        "import_router_process_s": round(import_wall, 4),
        "heavy_modules_after_import_router": loaded,
        "hcr_help_s": round(help_wall, 4),
        "from_router_import_Router_s": round(import_router, 4),
        "first_Router_s": round(construct, 4),
        "first_route_wall_s": round(first_route, 4),
        "first_route_reported_route_ms_s": round(route_ms, 4),
    }
    table = Table(title=f"Start-up (median of {args.runs} fresh processes)", title_justify="left")
    table.add_column("what")
    table.add_column("seconds", justify="right")
    for name, value in figures.items():
        table.add_row(name, str(value))
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "runs": args.runs,
        **figures,
    }
    (args.out / "bench_startup.json").write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"wrote {args.out / 'bench_startup.json'}")


if __name__ == "__main__":
    main()
