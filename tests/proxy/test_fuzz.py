"""Property-based fuzzing of the proxy: both wire formats and the dry run, 1,000 generated requests a run.

Requests mix documented fields, call settings a caller must not set, junk keys and values, hostile
URLs in every part type, and broken bodies. Whatever arrives: no 5xx except an upstream failure (502,
504), no unhandled exception in the proxy's log, and no connection to the address the URLs point at.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from router.proxy.app import create_app
from router.proxy.config import ProxyConfig
from router.testing import AnthropicBackend, ConnectionCounter, OpenAIBackend

KEY = "sk-hcr-fuzz-0123456789"
PATHS = ["/v1/chat/completions", "/v1/messages", "/v1/route"]
ALLOWED = ["temperature", "top_p", "max_tokens", "stream", "stop", "seed", "n", "tools", "tool_choice",
           "metadata", "response_format", "stream_options", "user", "system", "top_k", "stop_sequences",
           "hcr_bypass", "wire"]  # fmt: skip
FORBIDDEN = ["fallbacks", "api_base", "base_url", "api_key", "num_retries", "azure", "ssl_verify", "model_list",
             "extra_headers", "custom_llm_provider", "litellm_params", "mock_response", "timeout"]  # fmt: skip


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def fuzz_target() -> Iterator[tuple[TestClient, ConnectionCounter, _Errors]]:
    errors = _Errors()
    logging.getLogger("router.proxy").addHandler(errors)
    with ConnectionCounter() as listener, OpenAIBackend() as gpt, AnthropicBackend() as claude:
        entries = [
            {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o", "api_base": gpt.url, "api_key": "up"}},
            {
                "model_name": "claude",
                "litellm_params": {"model": "anthropic/claude-sonnet-4-6", "api_base": claude.url, "api_key": "up"},
            },
        ]
        config = ProxyConfig.model_validate(
            {"model_list": entries, "general_settings": {"master_key": KEY, "timeout_s": 20}}
        )
        with TestClient(create_app(config), raise_server_exceptions=False) as client:
            yield client, listener, errors
    logging.getLogger("router.proxy").removeHandler(errors)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_text = st.text(max_size=40) | st.sampled_from(
    ["", "\ud800", "héllo ✓", "a\x00b", "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |"]
)


URLS = [" LISTENER/x.png", "\tLISTENER/x.png", "LISTENER\\@8.8.8.8/x.png", "http://u@HOSTPORT/x.png",
        "gopher://HOSTPORT/_x", "dict://HOSTPORT/x", "file:///etc/passwd", "LISTENER/x.png", "//HOSTPORT/x",
        "http://0x7f.1:PORT/x", "data:image/png;base64,iVBORw0KGgo=", "https://images.example.com/x.png"]  # fmt: skip


@st.composite
def _part(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["text", "image_url", "image", "document", "file", "tool_result", "junk"]))
    url = draw(st.sampled_from(URLS))
    if kind == "text":
        return {"type": "text", "text": draw(_text)}
    if kind == "image_url":
        return {"type": "image_url", "image_url": draw(st.sampled_from([{"url": url}, url, None, 5]))}
    if kind in ("image", "document"):
        return {"type": kind, "source": draw(st.sampled_from([{"type": "url", "url": url}, "abc", {"type": "base64"}]))}
    if kind == "file":
        return {"type": "file", "file": draw(st.sampled_from(["abc", {"file_id": url}, {"file_data": "@@"}, {}]))}
    if kind == "tool_result":
        inner = {"type": "image", "source": {"type": "url", "url": url}}
        return {"type": "tool_result", "tool_use_id": "t1", "content": draw(st.sampled_from(["ok", [inner]]))}
    return draw(_json)


@st.composite
def _message(draw: st.DrawFn) -> Any:
    role = draw(st.sampled_from(["user", "user", "assistant", "system", "tool", "wizard", None]))
    content = draw(_text | st.lists(_part(), max_size=3) | _json)
    message = {"role": role, "content": content}
    if draw(st.booleans()) and role == "tool":
        message["tool_call_id"] = "call_1"
    return message if draw(st.integers(0, 9)) else draw(_json)


@st.composite
def _request(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    path = draw(st.sampled_from(PATHS))
    body: dict[str, Any] = {
        "model": draw(st.sampled_from(["gpt", "claude", "gpt", "claude", "nope", "", 7])),
        "messages": draw(st.lists(_message(), max_size=3) | _json),
    }
    if path == "/v1/messages" and draw(st.integers(0, 3)):
        body["max_tokens"] = draw(st.sampled_from([16, 0, "16"]))
    for key in draw(st.lists(st.sampled_from(ALLOWED + FORBIDDEN) | st.text(max_size=8), max_size=3)):
        body[key] = draw(_json | st.booleans())
    raw = json.dumps(body).encode()
    kind = draw(st.integers(0, 19))
    if kind == 0:
        raw = raw[: draw(st.integers(0, len(raw)))]  # cut short
    elif kind == 1:
        raw = b"[" * 5000 + b"]" * 5000
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    if draw(st.integers(0, 4)) == 0:
        headers["x-hcr-bypass"] = "1"
    if draw(st.integers(0, 9)) == 0:
        headers["x-request-id"] = draw(
            st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300)
        )
    return path, raw, headers


@st.composite
def _well_formed(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    """A request a real client could send (so routing and the backends are exercised), now and then
    with one field or URL it must not carry."""
    path = draw(st.sampled_from(PATHS))
    model = draw(st.sampled_from(["gpt", "claude"]))
    turns = draw(st.integers(1, 3)) * 2 - 1
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        role = "user" if i % 2 == 0 else "assistant"
        text = draw(st.text(min_size=1, max_size=300).filter(lambda t: t.strip()))
        if role == "user" and draw(st.integers(0, 3)) == 0:
            image = {"type": "image_url", "image_url": {"url": draw(st.sampled_from(URLS))}}
            if path == "/v1/messages":
                image = {"type": "image", "source": {"type": "url", "url": draw(st.sampled_from(URLS))}}
            messages.append({"role": role, "content": [{"type": "text", "text": text}, image]})
        else:
            messages.append({"role": role, "content": text})
    body: dict[str, Any] = {"model": model, "messages": messages}
    if path == "/v1/messages" or draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(1, 64))
    if path != "/v1/route" and draw(st.booleans()):
        body["stream"] = draw(st.booleans())
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 1))
    if draw(st.integers(0, 3)) == 0:
        body["hcr_bypass"] = draw(st.booleans())
    if path == "/v1/messages" and draw(st.booleans()):
        body["system"] = draw(st.text(max_size=80))
    if draw(st.integers(0, 4)) == 0:
        body[draw(st.sampled_from(FORBIDDEN))] = draw(_json)
    return path, json.dumps(body).encode(), {"authorization": f"Bearer {KEY}", "content-type": "application/json"}


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,  # the same 1,000 requests every CI run; a failure names the request that caused it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(request=st.one_of(_well_formed(), _request()))
def test_fuzzed_requests_never_fail_inside_the_proxy(
    fuzz_target: tuple[TestClient, ConnectionCounter, _Errors], request: tuple[str, bytes, dict[str, str]]
) -> None:
    client, listener, errors = fuzz_target
    path, raw, headers = request
    raw = raw.replace(b"LISTENER", listener.url.encode())
    raw = raw.replace(b"HOSTPORT", f"127.0.0.1:{listener.port}".encode()).replace(b"PORT", str(listener.port).encode())
    response = client.post(path, content=raw, headers=headers)
    assert response.status_code < 500 or response.status_code in (502, 504), (response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        message = body["error"]["message"]
        assert message and "Traceback" not in message
    assert not errors.records, errors.records[0].getMessage()
    assert listener.connections == 0
