"""Proxy load benchmark on loopback: added latency and throughput against calling the backend directly.

    python benchmarks/bench_proxy.py [--out benchmarks/results] [--quick]

The backend (a fast local OpenAI-compatible server) and the proxy (`hcr serve`) each run in their own
process; an asyncio client drives them at 1, 16 and 128 concurrent clients with a bounded number of
requests. Scenarios: pass-through (a short chat, nothing to render), a ~20k-token document that is
new on every request (cold: rendered each time) or the same each time (cached), and 128 concurrent
streams. Reports p50 / p99 latency, requests per second, failures and the proxy's peak RSS.
Figures, not asserts: compare within one run on this shared 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from router.testing import free_port, wait_until_up

console = Console(width=None if sys.stdout.isatty() else 150)
KEY = "sk-bench-0123456789"
BACKEND = (
    "from router.testing import OpenAIBackend\nimport time\n"
    "b = OpenAIBackend().__enter__()\nprint(b.url, flush=True)\ntime.sleep(3600)\n"
)


def document(tokens: int, salt: str) -> str:
    licences = Path("/usr/share/common-licenses")
    text = "\n\n".join(licences.joinpath(n).read_text(encoding="utf-8") for n in ("GPL-3", "Apache-2.0", "MPL-2.0"))
    # The salt goes inside the first long paragraph: a short first line would be split off as the
    # question, leaving the document chunk identical (and cached) across requests.
    return text[: tokens * 4].replace("GNU General Public License", f"GNU General Public License ({salt})", 1)


async def drive(url: str, bodies: list[dict[str, Any]], clients: int, stream: bool = False) -> dict[str, Any]:
    latencies: list[float] = []
    failures = 0
    reasons: dict[str, int] = {}
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers={"authorization": f"Bearer {KEY}"}) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                try:
                    if stream:
                        async with client.stream("POST", url, json={**body, "stream": True}) as response:
                            text = "".join([line async for line in response.aiter_lines()])
                            ok = response.status_code == 200 and "[DONE]" in text and '"error"' not in text
                            reason = f"{response.status_code}: {text[-160:]}"
                    else:
                        response = await client.post(url, json=body)
                        ok = response.status_code == 200
                        reason = f"{response.status_code}: {response.text[:160]}"
                except httpx.HTTPError as exc:
                    ok, reason = False, f"{type(exc).__name__}: {exc}"[:160]
                if not ok:
                    reasons[reason] = reasons.get(reason, 0) + 1
                latencies.append((time.perf_counter() - started) * 1000)
                failures += not ok

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(bodies), "failed": failures, "rps": round(len(bodies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        **({"failures": reasons} if reasons else {}),
    }  # fmt: skip


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def litellm_proxy_passthrough(
    config: Path, env: dict[str, str], chat: dict[str, Any], scale: int
) -> list[tuple[int, dict[str, Any]]]:
    """The same pass-through load through LiteLLM Proxy itself, for its own overhead side by side."""
    port = free_port()
    litellm_cli = str(Path(sys.executable).parent / "litellm")
    proxy = subprocess.Popen([litellm_cli, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/liveliness")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        asyncio.run(drive(url, [chat] * 10, 1))
        return [
            (clients, asyncio.run(drive(url, [chat] * max(40, clients * 2) * scale, clients))) for clients in (1, 16)
        ]
    finally:
        proxy.terminate()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--litellm", action="store_true", help="also measure LiteLLM Proxy's own pass-through")
    args = parser.parse_args()
    scale = 1 if args.quick else 3
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    backend = subprocess.Popen([sys.executable, "-c", BACKEND], stdout=subprocess.PIPE, text=True, env=env)
    backend_url = backend.stdout.readline().strip()  # type: ignore[union-attr]
    folder = tempfile.mkdtemp()
    config = Path(folder) / "proxy.yaml"
    config.write_text(
        f"model_list:\n  - model_name: gpt\n    litellm_params: {{model: openai/gpt-4o, api_base: {backend_url}, "
        f"api_key: up}}\ngeneral_settings:\n  master_key: {KEY}\n  max_concurrency: 256\n"
    )
    port = free_port()
    hcr = str(Path(sys.executable).parent / "hcr")
    proxy = subprocess.Popen([hcr, "serve", "--config", str(config), "--port", str(port)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proxy_url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/readiness")
        chat = {"model": "gpt", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
        direct = {**chat, "model": "gpt-4o"}
        rows: list[dict[str, Any]] = []

        def run(name: str, url: str, bodies: list[dict[str, Any]], clients: int, stream: bool = False) -> None:
            result = asyncio.run(drive(url, bodies, clients, stream))
            rows.append({"scenario": name, "clients": clients, **result})
            console.print(rows[-1])

        asyncio.run(drive(proxy_url, [chat] * 5, 1))  # warm up imports and tokenizers
        for clients in (1, 16, 128):
            count = max(40, clients * 2) * scale
            run("direct to backend", backend_url + "/v1/chat/completions", [direct] * count, clients)
            run("proxy, pass-through", proxy_url, [chat] * count, clients)
        doc = document(20000, "cached")
        cached = {"model": "gpt", "messages": [{"role": "user", "content": doc + "\n\nSummarise."}]}
        asyncio.run(drive(proxy_url, [cached], 1))  # render once
        for clients in (1, 16, 128):
            run("proxy, 20k-token document, cached", proxy_url, [cached] * max(20, clients) * scale, clients)
        for clients in (1, 16):
            bodies = [
                {
                    "model": "gpt",
                    "messages": [{"role": "user", "content": document(20000, f"{clients}-{i}") + "\n\nQ?"}],
                }
                for i in range(max(4, clients) * scale)
            ]
            run("proxy, 20k-token document, cold", proxy_url, bodies, clients)
        run("proxy, streams", proxy_url, [chat] * 128 * scale, 128, stream=True)
        rss = peak_rss_mib(proxy.pid)
        if args.litellm:
            for clients, seconds in litellm_proxy_passthrough(config, env, chat, scale):
                rows.append({"scenario": "LiteLLM Proxy, pass-through", "clients": clients, **seconds})
                console.print(rows[-1])
    finally:
        proxy.terminate()
        backend.terminate()

    table = Table(title=f"Proxy on loopback (peak RSS {rss} MiB)", title_justify="left")
    for column in rows[0]:
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        table.add_row(*(str(v) for v in row.values()))
    console.print(table)
    by = {(r["scenario"], r["clients"]): r for r in rows}
    added = {
        clients: round(by[("proxy, pass-through", clients)]["p50_ms"] - by[("direct to backend", clients)]["p50_ms"], 1)
        for clients in (1, 16, 128)
    }
    console.print(f"added p50 latency of pass-through (ms) by clients: {added}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_proxy.json"
    path.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(), "peak_rss_mib": rss, "added_p50_ms": added, "rows": rows,
    }, indent=1) + "\n")  # fmt: skip
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
