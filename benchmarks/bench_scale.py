"""Scale benchmark: cold-document throughput against render processes and clients, side by side.

    python benchmarks/bench_scale.py [--out benchmarks/results] [--quick]

One backend process (a fast local OpenAI-compatible server) and one `hcr serve` process per setting:
rendering in the serving process (`render_workers: 0`, one page at a time behind PyMuPDF's lock) and
in a pool of 1 and 2 render processes. Every request carries a ~20k-token document never seen
before (cold: laid out and rasterised each time). Clients 1, 16 and 64; p50 / p99 latency and
requests per second, measured on this machine. Then a projection to 16 and 64 cores from the
measured costs (a request's render time at one client, and the serving process's own time per
request from a pass-through run); the projection is labelled as such.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from bench_proxy import BACKEND, KEY, document, drive

from router.testing import free_port, wait_until_up

console = Console(width=None if sys.stdout.isatty() else 150)


def serve(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    hcr = str(Path(sys.executable).parent / "hcr")
    proxy = subprocess.Popen([hcr, "serve", "--config", str(config), "--port", str(port)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    wait_until_up(f"http://127.0.0.1:{port}/health/readiness")
    return proxy, f"http://127.0.0.1:{port}/v1/chat/completions"


def cold(clients: int, count: int, salt: str) -> list[dict[str, Any]]:
    return [
        {"model": "gpt", "messages": [{"role": "user", "content": document(20000, f"{salt}-{i}") + "\n\nQ?"}]}
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    backend = subprocess.Popen([sys.executable, "-c", BACKEND], stdout=subprocess.PIPE, text=True, env=env)
    backend_url = backend.stdout.readline().strip()  # type: ignore[union-attr]
    folder = Path(tempfile.mkdtemp())
    rows: list[dict[str, Any]] = []
    clients_list = (1, 16) if args.quick else (1, 16, 64)
    try:
        for workers in (0, 1, 2):
            config = folder / f"proxy-{workers}.yaml"
            params = f"{{model: openai/gpt-4o, api_base: {backend_url}, api_key: up}}"
            config.write_text(
                f"model_list:\n  - model_name: gpt\n    litellm_params: {params}\ngeneral_settings:\n"
                f"  master_key: {KEY}\n  max_concurrency: 256\n  render_workers: {workers}\n  event_log: null\n"
            )
            proxy, url = serve(config, env)
            try:
                asyncio.run(drive(url, cold(1, 2, f"warm{workers}"), 1))  # imports, tokenizers, fonts
                if workers == 0:
                    chat = {"model": "gpt", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
                    passthrough = asyncio.run(drive(url, [chat] * 40, 1))
                for clients in clients_list:
                    count = max(8, clients * (1 if args.quick else 2))
                    result = asyncio.run(drive(url, cold(clients, count, f"w{workers}c{clients}"), clients))
                    rows.append({"render_workers": workers, "clients": clients, **result})
                    console.print(rows[-1])
            finally:
                proxy.terminate()
                proxy.wait(timeout=30)
    finally:
        backend.terminate()

    table = Table(title=f"Cold 20k-token documents on {os.cpu_count()} cores (measured)", title_justify="left")
    for column in ("render_workers", "clients", "requests", "failed", "rps", "p50_ms", "p99_ms"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            *(str(row[c]) for c in ("render_workers", "clients", "requests", "failed", "rps", "p50_ms", "p99_ms"))
        )
    console.print(table)

    # Projection from measured costs: a cold request holds a render process for `render_s`, and its
    # serving process for `serve_s` (measured as the pass-through latency at one client).
    render_s = next(r["p50_ms"] for r in rows if r["render_workers"] == 0 and r["clients"] == 1) / 1000
    serve_s = passthrough["p50_ms"] / 1000
    projection = {
        cores: {"render_bound_rps": round(cores / render_s, 1), "one_server_process_rps": round(1 / serve_s, 1),
                "server_processes_needed": max(1, round(cores / render_s * serve_s + 0.5))}
        for cores in (16, 64)
    }  # fmt: skip
    console.print(f"projected (not measured): render {render_s * 1000:.0f} ms per cold request, serving "
                  f"{serve_s * 1000:.1f} ms: {projection}")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_scale.json"
    path.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "rows": rows, "render_ms_per_cold_request": round(render_s * 1000, 1),
        "serve_ms_per_request": round(serve_s * 1000, 1), "projected": projection,
    }, indent=1) + "\n")  # fmt: skip
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
