"""Two ``hcr serve`` replicas sharing a real Redis (Debian's ``redis-server``, started here) route one
agent session alternately and send the same bytes turn over turn; Redis stopping fails nothing."""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router import Router
from router.testing import OpenAIBackend, free_port, wait_until_up
from router.tools.agent_session import session_requests

KEY = "sk-hcr-replicas-0123456789"
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextlib.contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    assert Path(REDIS).exists(), "the replica tests need Debian's redis-server (apt-get install redis-server)"
    port = free_port()
    server = subprocess.Popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            __import__("time").sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def replica(tmp_path: Path, name: str, backend: OpenAIBackend, redis_url: str) -> Iterator[str]:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        "model_list:\n  - model_name: gpt\n"
        f"    litellm_params: {{model: openai/gpt-4o, api_base: '{backend.url}', api_key: up}}\n"
        f"general_settings: {{master_key: {KEY}, render_workers: 0, event_log: null}}\n"
        f"cache: {{type: redis, url: '{redis_url}'}}\n"
    )
    port = free_port()
    command = [sys.executable, "-m", "router.cli", "serve", "--config", str(config), "--port", str(port)]
    log = (tmp_path / f"{name}.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/readiness", seconds=90)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def render_cache_hits(url: str) -> float:
    text = httpx.get(url + "/metrics", headers={"authorization": f"Bearer {KEY}"}).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "hcr_render_cache_total" and s.labels.get("result") == "hit")  # fmt: skip


def test_replicas_share_decisions_and_pages(tmp_path: Path) -> None:
    turns = session_requests("openai", max_chars=9000)
    with OpenAIBackend() as backend, redis_server() as (redis_url, redis_process):
        with replica(tmp_path, "a", backend, redis_url) as a, replica(tmp_path, "b", backend, redis_url) as b:
            sent: list[list[dict]] = []
            for n, turn in enumerate(turns[:5]):
                url = (a, b)[n % 2]
                answer = httpx.post(url + "/v1/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                                    json={"model": "gpt", "messages": turn["messages"]}, timeout=120)  # fmt: skip
                assert answer.status_code == 200, answer.text
                sent.append(backend.last.body["messages"])
                if n == 3:
                    assert render_cache_hits(b) >= 1  # the log's pages, drawn by A on turn 2, found in Redis
                    redis_process.terminate()  # Redis goes away mid-session
                    redis_process.wait(timeout=10)
        # One router on its own, turn after turn, is what the replicas must add up to: where it resends
        # its history byte for byte, so do they, replica after replica; where its cache gate finds that
        # drawing the cached results pays (argparse and the log at turn 2, since code is drawn in FiraGO
        # at dense), they draw the same messages on the same turn.
        lone_router = Router()
        lone = [[dict(m) for m in lone_router.route(t["messages"], model="gpt-4o").messages] for t in turns[:5]]
        for n, (current, alone) in enumerate(zip(sent, lone, strict=True)):
            drawn = [m["role"] == "user" and isinstance(m["content"], list) for m in current]
            assert drawn == [m["role"] == "user" and isinstance(m.get("content"), list) for m in alone], n
        for n, ((previous, current), (lone_previous, lone_current)) in enumerate(
            zip(itertools.pairwise(sent), itertools.pairwise(lone), strict=True)
        ):
            kept = json.dumps(lone_current[: len(lone_previous) - 1]) == json.dumps(lone_previous[:-1])
            assert (json.dumps(current[: len(previous) - 1]) == json.dumps(previous[:-1])) == kept, n
        assert any(m["role"] == "user" and isinstance(m["content"], list) for m in sent[2])  # pages were sent
    assert "unreachable" in (tmp_path / "a.log").read_text()  # turn 4, on A: logged, and answered

    # B kept argparse.py as text on turn 1 because A had sent it as text on turn 0 (the provider holds
    # it cached): a replica on its own, with no memory of turn 0, would have drawn it.
    alone = Router().route(turns[1]["messages"], model="gpt-4o")
    drawn_alone = next(c for c in alone.report.chunks if c.tool_name == "read_file")
    assert drawn_alone.action == "image"
    tool_message = next(m for m in sent[1] if m.get("role") == "tool")
    assert tool_message["content"] == turns[1]["messages"][3]["content"]  # sent as it came


@pytest.mark.parametrize("value", [b"not json", b'{"pages": [{"data_url": "x"}]}'])
def test_bad_entries_are_misses(value: bytes) -> None:
    from router.shared_store import rendering_from_bytes

    assert rendering_from_bytes(value) is None


def test_a_stored_rendering_comes_back_whole() -> None:
    """What one replica drew and another reads: pages, columns and the text the read-back scores
    against (a table split into column groups)."""
    from router.providers.geometry import get_profile
    from router.render.chunks import RenderTarget, _render
    from router.render.density import get_density
    from router.shared_store import rendering_from_bytes, rendering_to_bytes
    from router.tools.bench_corpus import price_csv

    document = price_csv(6000)
    target = RenderTarget(get_profile("openai-tile"), get_density("balanced", "openai-tile"))
    drawn = _render(document.text, "csv", "latin", "csv", target)
    back = rendering_from_bytes(rendering_to_bytes(drawn))
    assert back is not None and "Columns 1 and 2-" in back.shown
    assert back.model_dump(exclude={"render_ms", "encode_ms"}) == drawn.model_dump(exclude={"render_ms", "encode_ms"})
