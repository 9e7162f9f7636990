"""The proxy as an attacker and a careless client would use it: every case of the security issue.

Addresses a caller could smuggle in point at a ``ConnectionCounter`` on 127.0.0.1; it must see zero
connections. Backends are the real local HTTP servers, reached through litellm.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from router.proxy.config import ConfigError, ProxyConfig
from router.testing import AnthropicBackend, ConnectionCounter, OpenAIBackend
from tests.proxy.test_proxy import KEY, openai_client, proxy, user_turn

HEADERS = {"authorization": f"Bearer {KEY}"}
HI = [{"role": "user", "content": "hi"}]


def post(url: str, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(url + path, json=body, headers={**HEADERS, **headers}, timeout=30)


def message(response: httpx.Response) -> str:
    body = response.json()
    return body["error"]["message"]


# --- 1. callers cannot choose where, how or with which credentials the backend is called -----------


@pytest.mark.parametrize(
    "field",
    [
        {"fallbacks": [{"model": "openai/gpt-4o", "api_base": "LISTENER/v1"}]},
        {"fallbacks": ["openai/gpt-4o"]},
        {"num_retries": 6},
        {"azure": True},
        {"ssl_verify": False},
        {"model_list": [{"model_name": "x", "litellm_params": {"model": "openai/x", "api_base": "LISTENER"}}]},
        {"api_base": "LISTENER"},
        {"base_url": "LISTENER"},
        {"extra_headers": {"x": "y"}},
        {"custom_llm_provider": "openai"},
        {"litellm_params": {}},
        {"context_window_fallback_dict": {"gpt-4o": "openai/x"}},
    ],
)
def test_caller_cannot_send_the_upstream_key_anywhere(field: dict) -> None:
    with ConnectionCounter() as listener, OpenAIBackend(fail_status=500) as failing:
        body_field = json.loads(json.dumps(field).replace("LISTENER", listener.url))
        with proxy(failing) as url:
            for stream in (False, True):
                response = post(
                    url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "stream": stream, **body_field}
                )
                assert response.status_code == 400
                assert next(iter(field)) in message(response) and "not accepted in requests" in message(response)
    assert listener.connections == 0 and not failing.requests


def test_anthropic_wire_has_its_own_allow_list(anthropic_backend: AnthropicBackend) -> None:
    with ConnectionCounter() as listener, proxy(anthropic_backend) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="fallbacks"):
            client.messages.create(
                model="claude", max_tokens=8, messages=HI, extra_body={"fallbacks": [{"api_base": listener.url}]}
            )
        with pytest.raises(anthropic.BadRequestError, match="stream"):
            client.messages.create(model="claude", max_tokens=8, messages=HI, extra_body={"stream": "yes"})
        ok = client.messages.create(
            model="claude", max_tokens=8, messages=HI, metadata={"user_id": "u1"}, extra_body={"top_k": 5}
        )
        assert ok.content
    assert listener.connections == 0 and anthropic_backend.last.body["top_k"] == 5


def test_operator_cannot_allow_litellm_call_settings() -> None:
    with pytest.raises(ValueError, match="fallbacks"):
        ProxyConfig.model_validate({"general_settings": {"allowed_request_fields": ["top_k", "fallbacks"]}})
    ProxyConfig.model_validate({"general_settings": {"allowed_request_fields": ["top_k", "min_p"]}})


def test_backend_errors_carry_the_providers_message_only() -> None:
    class Leaky(OpenAIBackend):
        def error(self, status: int) -> dict:
            text = (
                'upstream broke Traceback (most recent call last):\n  File "/srv/app/main.py", line 3, in x\n'
                "KeyError: 'secret'"
            )
            return {"error": {"message": text, "type": "server_error", "code": status}}

    with Leaky(fail_status=500) as failing, proxy(failing) as url:
        response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI})
    assert response.status_code == 502
    text = message(response)
    assert "upstream broke" in text
    assert "Traceback" not in text and "/srv/app" not in text and ".py" not in text
    assert failing.url.split("//")[1] not in text  # the configured base URL is not told to callers


# --- 2. the URL guard: every wire, every part, bypass included ------------------------------------

HOSTILE_URLS = [
    " {L}/x.png",
    "\t{L}/x.png",
    "{L}\\@8.8.8.8/x.png",
    "http://user@{H}/x.png",
    "gopher://{H}/_x",
    "dict://{H}/x",
    "file:///etc/passwd",
    "{L}/x.png",  # a plain internal address
    "http://0x7f.1:{P}/x.png",
    "http://2130706433:{P}/x.png",
    "//{H}/x.png",
]


def _urls(listener: ConnectionCounter) -> list[str]:
    host = f"127.0.0.1:{listener.port}"
    return [u.format(L=listener.url, H=host, P=listener.port) for u in HOSTILE_URLS]


@pytest.mark.parametrize("bypass", ["none", "header", "body"])
def test_hostile_image_urls_are_refused_on_both_wires(bypass: str) -> None:
    with ConnectionCounter() as listener, OpenAIBackend() as gpt, AnthropicBackend() as claude:
        with proxy(gpt, claude) as url:
            extra_headers = {"x-hcr-bypass": "1"} if bypass == "header" else {}
            extra_body = {"hcr_bypass": True} if bypass == "body" else {}
            for bad in _urls(listener):
                openai_parts = [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": bad}}]
                body = {"model": "gpt", "messages": [{"role": "user", "content": openai_parts}], **extra_body}
                response = post(url, "/v1/chat/completions", body, **extra_headers)
                assert response.status_code == 400, (bad, response.text)
                assert "messages[0].content[1].image_url.url" in message(response)
                blocks = [
                    {"type": "image", "source": {"type": "url", "url": bad}},
                    {"type": "document", "source": {"type": "url", "url": bad}},
                ]
                for block in blocks:
                    tool_result = {"type": "tool_result", "tool_use_id": "t1", "content": [block]}
                    for content in ([block], [tool_result]):
                        body = {
                            "model": "claude",
                            "max_tokens": 8,
                            "messages": [{"role": "user", "content": content}],
                            **extra_body,
                        }
                        response = post(url, "/v1/messages", body, **extra_headers)
                        assert response.status_code == 400, (bad, response.text)
                        assert response.json()["error"]["message"].startswith("messages[0].content[0]")
    assert listener.connections == 0 and not gpt.requests and not claude.requests


def test_bypass_counts_only_a_json_true(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        refused = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "hcr_bypass": "false"})
        assert refused.status_code == 400 and "hcr_bypass" in message(refused)
        routed = post(
            url, "/v1/chat/completions", {"model": "gpt", "messages": user_turn(english_prose), "hcr_bypass": False}
        )
        assert routed.status_code == 200 and "x-hcr-bypassed" not in routed.headers
        both = post(
            url,
            "/v1/chat/completions",
            {"model": "gpt", "messages": HI, "hcr_bypass": True},
            **{"x-hcr-bypass": "1"},
        )
        assert both.headers["x-hcr-bypassed"] == "true" and "hcr_bypass" not in openai_backend.last.body
        bypassed = post(
            url, "/v1/chat/completions", {"model": "gpt", "messages": user_turn(english_prose), "hcr_bypass": True}
        )
        assert bypassed.headers["x-hcr-bypassed"] == "true"
    assert openai_backend.last.body["messages"] == user_turn(english_prose)


# --- 4. resource limits ------------------------------------------------------------------------------


def test_deadline_covers_retries() -> None:
    with OpenAIBackend(delay_s=4) as slow:
        with proxy(slow, params={"num_retries": 3}, timeout_s=1) as url:  # retries the operator configured
            response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI})
        assert response.status_code == 504
        time.sleep(0.5)
    assert len(slow.requests) == 1  # the deadline ended the request; no retry was started after it


def test_max_concurrency_bounds_streams_and_dry_runs(english_prose: str) -> None:
    with OpenAIBackend(delay_s=0.6) as slow, proxy(slow, max_concurrency=1) as url:
        seen: list[dict] = []
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                seen.append(httpx.get(url + "/health/readiness").json())
                time.sleep(0.02)

        def stream() -> None:
            with openai_client(url).chat.completions.create(model="gpt", messages=HI, stream=True) as chunks:
                for _ in chunks:
                    pass

        def dry_run() -> None:
            post(url, "/v1/route", {"model": "gpt", "messages": user_turn(english_prose)})

        watcher = threading.Thread(target=watch)
        watcher.start()
        workers = [threading.Thread(target=f) for f in (stream, stream, dry_run)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        done.set()
        watcher.join()
    assert max(s["running"] for s in seen) == 1
    assert max(s["waiting"] for s in seen) >= 1


def _raw_request(port: int, head: bytes, body: bytes, *, close: bool = False, wait: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body)
        if close:
            return b""
        sock.settimeout(wait)
        try:
            return sock.recv(65536)
        except TimeoutError:
            return b""


def test_stalled_and_abandoned_uploads(openai_backend: OpenAIBackend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.proxy")
    with proxy(openai_backend, body_timeout_s=0.5) as url:
        port = int(url.rsplit(":", 1)[1])
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\n"
            "content-type: application/json\r\ncontent-length: 1000\r\n\r\n"
        ).encode()
        answer = _raw_request(port, head, b'{"model": "gpt"')
        assert answer.startswith(b"HTTP/1.1 408")
        _raw_request(port, head, b'{"model": "gpt"', close=True)
        time.sleep(0.5)
        assert httpx.get(url + "/health/liveliness").status_code == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not openai_backend.requests


def test_request_ids_are_bounded_and_plain(openai_backend: OpenAIBackend) -> None:
    with proxy(openai_backend) as url:
        kept = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI}, **{"x-request-id": "abc-123.x"})
        assert kept.headers["x-hcr-request-id"] == "abc-123.x"
        for hostile in ("a" * 500, "id with spaces", "x<script>", "../../etc"):
            response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI}, **{"x-request-id": hostile})
            given = response.headers["x-hcr-request-id"]
            assert given != hostile and len(given) == 32 and given.isalnum()


def test_yaml_configs_are_capped(tmp_path: Path) -> None:
    laughs = tmp_path / "laughs.yaml"
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    laughs.write_text("\n".join(lines) + "\n")
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="aliases expand"):
        ProxyConfig.from_yaml(laughs)
    assert time.perf_counter() - started < 5
    huge = tmp_path / "huge.yaml"
    huge.write_text("model_list: []\n" + "# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="larger than"):
        ProxyConfig.from_yaml(huge)


# --- 5. bad input is a 400 naming the field ----------------------------------------------------------


def test_bad_input_is_400_naming_the_field(openai_backend: OpenAIBackend, anthropic_backend: AnthropicBackend) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    with proxy(openai_backend, anthropic_backend) as url:
        for path in ("/v1/chat/completions", "/v1/route", "/v1/messages"):
            nested = httpx.post(url + path, content=f'{{"model": "gpt", "messages": {deep}}}', headers=HEADERS)
            assert nested.status_code == 400 and "nested deeper" in nested.text
            surrogate = httpx.post(
                url + path,
                content=b'{"model": "gpt", "max_tokens": 5, "messages": [{"role": "user", "content": "a\\ud800b"}]}',
                headers=HEADERS,
            )
            assert surrogate.status_code == 400 and "messages[0].content" in surrogate.text
        file_part = [{"role": "user", "content": [{"type": "file", "file": "abc"}]}]
        response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": file_part})
        assert response.status_code == 400 and message(response).startswith("messages[0].content[0].file")
        response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "stream": "yes"})
        assert response.status_code == 400 and message(response).startswith("stream")
        response = post(url, "/v1/chat/completions", {"model": "gpt", "messages": HI, "temperature": "hot"})
        assert response.status_code == 400 and "temperature" in message(response)
        with_system = {"model": "claude", "max_tokens": 8, "system": "Be brief.", "messages": [{"role": "x"}]}
        response = post(url, "/v1/messages", with_system)
        assert response.status_code == 400 and response.json()["error"]["message"].startswith("messages[0].role")
        bad_system = {"model": "claude", "max_tokens": 8, "system": [{"type": "text"}], "messages": HI}
        response = post(url, "/v1/messages", bad_system)
        assert response.status_code == 400 and response.json()["error"]["message"].startswith("system[0].text")
    assert not openai_backend.requests and not anthropic_backend.requests


# --- 6. tenants ----------------------------------------------------------------------------------------


def test_render_cache_is_per_key(openai_backend: OpenAIBackend, english_prose: str) -> None:
    other = "sk-hcr-tenant-b-0123456789"
    body = {"model": "gpt", "messages": user_turn(english_prose.replace("freedom", "freedom (tenant-cache)", 1))}
    with proxy(openai_backend, api_keys=[other]) as url:

        def cached(key: str) -> list[bool]:
            response = httpx.post(url + "/v1/route", json=body, headers={"authorization": f"Bearer {key}"}, timeout=30)
            return [c["cached"] for c in response.json()["report"]["chunks"] if c["action"] == "image"]

        assert cached(KEY) == [False]
        assert cached(KEY) == [True]
        assert cached(other) == [False]  # tenant B learns nothing about what tenant A sent
