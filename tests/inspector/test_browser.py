"""The inspector in headless Chromium (Debian's ``chromium``, driven by Playwright): on a live proxy
and on what ``hcr route --out`` wrote, served by the real ``hcr inspect`` command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from router.cli import main as hcr
from router.testing import OpenAIBackend, free_port, wait_until_up
from tests.inspector.servers import TENANT_A, proxy

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUESTION = "Which freedoms does the preamble list?"
# As root, with this machine's closed network: no sandbox, no background connections.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "the browser tests need Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def reading_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy with the fidelity guard reading every page back."""
    policy = yaml.safe_load((Path(__file__).resolve().parents[2] / "policies" / "default.yaml").read_text())
    policy["fidelity"] = {"mode": "always", "min_accuracy": 0.5}
    path = tmp_path_factory.mktemp("policy") / "reading.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


def licence_turn(prose: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": f"Here is a licence:\n\n{prose}\n\n{QUESTION} <script>window.hacked = 1</script>"}
    ]


def check_request_page(page: Any, sent: str) -> None:
    """Pages load at the size they were sent; the text beside them is the chunk's source; nothing ran."""
    page.wait_for_selector("li.chunk.image img.page")
    images = page.eval_on_selector_all(
        "li.chunk.image img.page", "els => els.map(e => [e.complete, e.naturalWidth, e.width, e.naturalHeight])"
    )
    assert images and all(done and natural == shown > 0 and height > 0 for done, natural, shown, height in images)
    source = page.inner_text("li.chunk.image .source pre.text")
    assert len(source) > 1000 and source.strip() in sent
    assert "Read back by" in page.inner_text("li.chunk.image .source")
    assert page.evaluate("window.hacked === undefined")
    assert QUESTION in page.inner_text("#timeline")  # the live question, kept as text


def test_proxy_inspector_in_chromium(
    browser: Any, openai_backend: OpenAIBackend, english_prose: str, reading_policy: Path
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    prose = english_prose[:6000]
    settings = {"policy": str(reading_policy)}
    with proxy(openai_backend, ui={"keep_content": True}, **settings) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=TENANT_A, max_retries=0, timeout=120)
        client.chat.completions.create(model="gpt", messages=licence_turn(prose))

        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(url + "/ui")
        page.fill("#login input[name=key]", TENANT_A)
        page.click("#login button")
        page.wait_for_selector("#requests tbody tr[data-id]")
        assert page.locator("#requests tbody tr[data-id]").count() == 1
        assert "gpt" in page.inner_text("#requests") and "openai-tile" in page.inner_text("#requests")
        assert page.locator("#chart rect.after").count() >= 1

        # The list stays live: a new request appears without a reload.
        page.evaluate("window.stayed = true")
        client.chat.completions.create(model="gpt", messages=licence_turn(prose[:3000]))
        page.wait_for_selector("#requests tbody tr[data-id]:nth-child(2)", timeout=15_000)  # (the CSP forbids eval)
        assert page.evaluate("window.stayed === true")
        page.wait_for_selector("#totals .figures:has-text('of 2')", timeout=15_000)  # the totals follow
        page.screenshot(path=str(ARTIFACTS / "inspector-requests.png"), full_page=True)

        page.click("#requests tbody tr[data-id]:last-child a")  # the first request: the longer document
        check_request_page(page, licence_turn(prose)[0]["content"])
        page.screenshot(path=str(ARTIFACTS / "inspector-request.png"), full_page=True)
        page.close()


def test_hcr_inspect_serves_an_out_folder(
    browser: Any, tmp_path: Path, english_prose: str, reading_policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    messages = licence_turn(english_prose[:6000])
    request.write_text(json.dumps({"model": "gpt-4o", "messages": messages}))
    out = tmp_path / "runs" / "licence"
    assert hcr(["route", str(request), "--out", str(out), "--policy", str(reading_policy)]) == 0
    assert f"hcr inspect {out}" in capsys.readouterr().out
    trace = json.loads((out / "trace.json").read_text())
    assert trace["content"]["texts"] and all((out / p["file"]).is_file() for ps in trace["content"]["pages"].values()
                                             for p in ps)  # fmt: skip

    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "router.cli", "inspect", str(out.parent), "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ui", seconds=60)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/")
        assert "1 request(s) from" in page.inner_text("header")
        page.click("#requests tbody tr[data-id] a")
        check_request_page(page, messages[0]["content"])
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_hcr_inspect_names_a_folder_without_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert hcr(["inspect", str(tmp_path)]) == 1
    assert "no trace.json here or in its subfolders" in " ".join(capsys.readouterr().err.split())
