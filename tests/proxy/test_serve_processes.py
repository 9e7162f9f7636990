"""``hcr serve --workers 2``: two server processes, each rendering in its own pool of processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import openai

from router.testing import OpenAIBackend, free_port, wait_until_up

KEY = "sk-hcr-serve-0123456789"


def descendants(pid: int) -> list[str]:
    """Command lines of every process below ``pid`` (read from /proc)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            for child in task.read_text().split():
                queue.append(int(child))
                cmdline = Path(f"/proc/{child}/cmdline")
                if cmdline.exists():
                    found.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return found


def test_two_server_processes_with_render_pools(tmp_path: Path, english_prose: str) -> None:
    with OpenAIBackend() as backend:
        config = tmp_path / "proxy.yaml"
        config.write_text(
            "model_list:\n  - model_name: gpt\n"
            f"    litellm_params: {{model: openai/gpt-4o, api_base: '{backend.url}', api_key: up}}\n"
            f"general_settings: {{master_key: {KEY}, render_workers: 1, event_log: '{tmp_path / 'events.jsonl'}'}}\n"
        )
        port = free_port()
        hcr = [
            sys.executable,
            "-m",
            "router.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--workers",
            "2",
        ]
        log = (tmp_path / "serve.log").open("w")
        server = subprocess.Popen(hcr, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/health/readiness", seconds=90)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=60)
            images = 0
            for n in range(6):
                question = f"Here is a licence:\n\n{english_prose[n * 50 :]}\n\nWhich freedoms? ({n})"
                raw = client.chat.completions.with_raw_response.create(
                    model="gpt", messages=[{"role": "user", "content": question}]
                )
                images += int(raw.headers["x-hcr-images"])
            assert images >= 6 and len(backend.requests) == 6
            below = descendants(server.pid)
            assert sum("multiprocessing" in c and "spawn" in c for c in below) >= 2, below  # a pool per process
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    assert len((tmp_path / "events.jsonl").read_text().splitlines()) == 6  # both processes append one line each
