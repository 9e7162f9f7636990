"""The inspector and /metrics on a real proxy: keys, tenants, content kept or not, metrics, log lines."""

from __future__ import annotations

import json
import logging
import re

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from router.logs import JsonFormatter
from router.testing import AnthropicBackend, OpenAIBackend
from tests.inspector.servers import MASTER, TENANT_A, TENANT_B, proxy

QUESTION = "Which freedoms does the preamble list?"


def ask(url: str, key: str, prose: str, **extra: object) -> openai.APIResponse:
    client = openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=60)
    content = f"Here is a licence:\n\n{prose}\n\n{QUESTION} <script>window.hacked = 1</script>"
    return client.chat.completions.with_raw_response.create(
        model="gpt", messages=[{"role": "user", "content": content}], **extra
    )


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics read with prometheus_client's own parser: (sample name, labels) -> value."""
    text = httpx.get(url + "/metrics", headers=bearer(MASTER)).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_tenants_see_only_their_own_requests(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend, ui={"keep_content": True}) as url:
        mine = ask(url, TENANT_A, english_prose).headers["x-hcr-request-id"]
        theirs = ask(url, TENANT_B, english_prose[:3000]).headers["x-hcr-request-id"]

        listed_a = httpx.get(url + "/ui/api/requests", headers=bearer(TENANT_A)).json()["requests"]
        listed_b = httpx.get(url + "/ui/api/requests", headers=bearer(TENANT_B)).json()["requests"]
        assert [r["id"] for r in listed_a] == [mine]
        assert [r["id"] for r in listed_b] == [theirs]
        assert listed_a[0]["tokens_after"] < listed_a[0]["tokens_before"]
        assert listed_a[0]["billed"] == 10  # the backend's own usage figure, carried beside the estimate

        # B can open neither A's request nor its pages; A can.
        html = httpx.get(f"{url}/ui/requests/{mine}", headers=bearer(TENANT_A)).text
        pages = re.findall(r'<img class="page" src="([^"]+)"', html)
        assert pages and all(p.startswith(f"/ui/requests/{mine}/pages/") for p in pages)
        assert httpx.get(f"{url}/ui/requests/{mine}", headers=bearer(TENANT_B)).status_code == 404
        assert httpx.get(url + pages[0], headers=bearer(TENANT_B)).status_code == 404
        page = httpx.get(url + pages[0], headers=bearer(TENANT_A))
        assert page.status_code == 200 and page.content.startswith(b"\x89PNG")
        assert "Which freedoms does the preamble list?" in html
        assert "<script>window.hacked" not in html and "&lt;script&gt;window.hacked" in html  # shown, never run


def test_without_a_key_nothing_is_shown(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        ask(url, TENANT_A, english_prose)
        for path in ("/ui", "/ui/api/requests", "/ui/requests/x"):
            refused = httpx.get(url + path)
            assert refused.status_code == 401, path
            assert "tokens" not in refused.text.lower()
        assert httpx.get(url + "/ui", headers=bearer("sk-wrong")).status_code == 401
        assert httpx.get(url + "/metrics").status_code == 401
        assert httpx.get(url + "/metrics", headers=bearer(TENANT_A)).status_code == 403  # operators only
        assert httpx.get(url + "/metrics", headers=bearer(MASTER)).status_code == 200

        # A browser signs in with its key and gets a cookie for its tenant only.
        with httpx.Client(base_url=url) as browser:
            wrong = browser.post("/ui/login", data={"key": "sk-wrong"})
            assert wrong.status_code == 401 and "not accepted" in wrong.text
            signed = browser.post("/ui/login", data={"key": TENANT_A}, follow_redirects=True)
            assert signed.status_code == 200 and "gpt" in signed.text
            assert "content-security-policy" in signed.headers
            browser.cookies.set("hcr_ui", browser.cookies["hcr_ui"].replace(".", "x.", 1), path="/ui")
            assert browser.get("/ui").status_code == 401  # a forged cookie is no cookie


def test_content_is_kept_only_when_asked(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:  # keep_content defaults to false
        request_id = ask(url, TENANT_A, english_prose).headers["x-hcr-request-id"]
        html = httpx.get(f"{url}/ui/requests/{request_id}", headers=bearer(TENANT_A)).text
        assert "Content is not kept" in html and "image" in html
        assert QUESTION not in html and english_prose[:60] not in html
        assert "<img" not in html
    with proxy(openai_backend, ui=False) as url:
        ask(url, TENANT_A, english_prose)
        assert httpx.get(url + "/ui", headers=bearer(TENANT_A)).status_code == 404
        assert httpx.get(url + "/metrics", headers=bearer(MASTER)).status_code == 200


def test_metrics_move_with_requests(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        before = samples(url)
        assert before[("hcr_in_flight_requests", ())] == 0
        first = ask(url, TENANT_A, english_prose)
        ask(url, TENANT_B, english_prose)  # the same document again: drawn once, then from the render cache
        bypassed = ask(url, TENANT_A, english_prose, extra_headers={"x-hcr-bypass": "1"})
        refused = httpx.post(url + "/v1/chat/completions", headers=bearer(TENANT_A), json={"model": "gpt"})
        after = samples(url)

    ok = ("hcr_requests_total", (("endpoint", "/v1/chat/completions"), ("model", "gpt"), ("status", "200")))
    bad = ("hcr_requests_total", (("endpoint", "/v1/chat/completions"), ("model", ""), ("status", "400")))
    assert after[ok] == 3 and refused.status_code == 400 and after[bad] == 1
    tokens_before = int(first.headers["x-hcr-tokens-before"])
    tokens_after = int(first.headers["x-hcr-tokens-after"])
    assert bypassed.headers["x-hcr-bypassed"] == "true"
    assert after[("hcr_tokens_before_total", (("model", "gpt"),))] == 2 * tokens_before
    assert after[("hcr_tokens_after_total", (("model", "gpt"),))] == 2 * tokens_after
    assert after[("hcr_images_total", (("model", "gpt"),))] == 2 * int(first.headers["x-hcr-images"])
    assert after[("hcr_image_bytes_total", (("model", "gpt"),))] > 10_000
    assert after[("hcr_route_seconds_count", (("model", "gpt"),))] == 2
    assert after[("hcr_backend_seconds_count", (("model", "gpt"),))] == 3
    assert after[("hcr_render_cache_total", (("result", "hit"),))] >= 1
    assert ("hcr_fidelity_checks_total", (("result", "passed"),)) in after


def test_one_json_line_per_request(
    openai_backend: OpenAIBackend, english_prose: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="router.proxy")
    with proxy(openai_backend) as url:
        request_id = ask(url, TENANT_A, english_prose).headers["x-hcr-request-id"]
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "router.proxy"]
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert len(mine) == 1
    line = mine[0]
    assert line["logger"] == "router.proxy" and line["status"] == 200 and line["model"] == "gpt"
    assert line["tokens_after"] < line["tokens_before"] and line["images"] >= 1 and line["billed_input_tokens"] == 10
    assert english_prose[:40] not in json.dumps(line)  # figures, never the caller's text


def test_anthropic_stream_usage_reaches_the_trace(anthropic_backend: AnthropicBackend, english_prose: str) -> None:
    with proxy(anthropic_backend, ui={"keep_content": True}) as url:
        client = anthropic.Anthropic(base_url=url, api_key=TENANT_A, max_retries=0)
        content = f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"
        with client.messages.stream(
            model="claude", max_tokens=50, messages=[{"role": "user", "content": content}]
        ) as stream:
            assert "42" in stream.get_final_text()
        listed = httpx.get(url + "/ui/api/requests", headers=bearer(TENANT_A)).json()["requests"]
    assert len(listed) == 1
    assert listed[0]["billed"] == 10 and listed[0]["images"] >= 1 and listed[0]["encoder"] == "anthropic"


def test_openai_stream_usage_is_recorded_and_kept_from_callers_who_did_not_ask(
    openai_backend: OpenAIBackend, english_prose: str
) -> None:
    with proxy(openai_backend) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=TENANT_A, max_retries=0, timeout=60)
        messages = [{"role": "user", "content": f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"}]
        chunks = list(client.chat.completions.create(model="gpt", messages=messages, stream=True))
        assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)  # as without the proxy
        assert openai_backend.last.body["stream_options"] == {"include_usage": True}  # asked by the proxy
        asked = list(client.chat.completions.create(model="gpt", messages=messages, stream=True,
                                                    stream_options={"include_usage": True}))  # fmt: skip
        assert asked[-1].usage is not None and asked[-1].usage.prompt_tokens == 10  # the caller's own, kept
        listed = httpx.get(url + "/ui/api/requests", headers=bearer(TENANT_A)).json()["requests"]
    assert [r["billed"] for r in listed] == [10, 10]
