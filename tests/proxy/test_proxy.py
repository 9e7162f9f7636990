"""The proxy, driven by the official openai and anthropic SDKs against real local backends."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import uvicorn

from router.policy import Policy
from router.proxy.app import create_app
from router.proxy.config import ConfigError, ProxyConfig
from router.testing import REPLY, AnthropicBackend, Backend, OpenAIBackend, free_port
from tests.inspector.servers import serving

KEY = "sk-hcr-proxy-test-0123456789"
QUESTION = "Which freedoms does the preamble list?"


@contextlib.contextmanager
def proxy(*backends: Backend, params: dict | None = None, **settings: object) -> Iterator[str]:
    """A proxy on 127.0.0.1 serving 'gpt' and/or 'claude' from the given backends; ``params`` are more
    ``litellm_params`` for each, ``settings`` its ``general_settings``."""
    entries = []
    for backend in backends:
        name, model = (
            ("claude", "anthropic/claude-sonnet-4-6") if backend.wire == "anthropic" else ("gpt", "openai/gpt-4o")
        )
        entries.append(
            {
                "model_name": name,
                "litellm_params": {"model": model, "api_base": backend.url, "api_key": "up", **(params or {})},
            }
        )
    config = ProxyConfig.model_validate({"model_list": entries, "general_settings": {"master_key": KEY, **settings}})
    with serving(create_app(config)) as url:
        yield url


def user_turn(prose: str) -> list[dict]:
    return [{"role": "user", "content": f"Here is a licence:\n\n{prose}\n\n{QUESTION}"}]


def openai_client(url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def has_images(content: object) -> bool:
    return isinstance(content, list) and any(p.get("type") in ("image_url", "image") for p in content)


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}]


def test_openai_sdk_round_trip(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend, allowed_request_fields=["vendor_field"]) as url:  # a field the operator allowed
        client = openai_client(url)
        raw = client.chat.completions.with_raw_response.create(
            model="gpt", messages=user_turn(english_prose), tools=TOOLS, tool_choice="auto", seed=3, n=1,
            response_format={"type": "json_object"}, extra_body={"vendor_field": {"x": 1}},
        )  # fmt: skip
        response = raw.parse()
        assert response.choices[0].message.content == REPLY
        assert int(raw.headers["x-hcr-tokens-after"]) < int(raw.headers["x-hcr-tokens-before"])
        assert int(raw.headers["x-hcr-images"]) >= 1 and raw.headers["x-hcr-request-id"]
        sent = openai_backend.last.body
        assert sent["model"] == "gpt-4o" and sent["seed"] == 3 and sent["n"] == 1 and sent["tool_choice"] == "auto"
        assert sent["tools"][0]["function"]["name"] == "lookup" and sent["vendor_field"] == {"x": 1}
        assert sent["response_format"] == {"type": "json_object"}
        assert has_images(sent["messages"][0]["content"])
        assert sent["messages"][0]["content"][-1]["text"].endswith(QUESTION)

        stream = client.chat.completions.create(
            model="gpt", messages=user_turn(english_prose), stream=True, stream_options={"include_usage": True}
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == REPLY
        assert openai_backend.last.body["stream_options"] == {"include_usage": True}


def test_tool_round_trip_passes_untouched(openai_backend: OpenAIBackend) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "Look it up."},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ]
    with proxy(openai_backend) as url:
        openai_client(url).chat.completions.create(model="gpt", messages=messages, tools=TOOLS)
    sent = openai_backend.last.body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_1" and sent[2]["tool_call_id"] == "call_1"


def test_anthropic_sdk_round_trip(anthropic_backend: AnthropicBackend, english_prose: str, tmp_path: Path) -> None:
    # The document is marked as a cached prefix: drawn only where that still pays (long-lived caches).
    policy = tmp_path / "long-lived-cache.yaml"
    policy.write_text(Policy.builtin("default").model_copy(update={"cache": {"expected_turns": 200}}).model_dump_json())
    history = [
        {"role": "user", "content": [
            {"type": "text", "text": english_prose, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": QUESTION},
        ]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": "GPL"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "copyleft"}]},
    ]  # fmt: skip
    with proxy(anthropic_backend, policy=str(policy)) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        message = client.messages.create(
            model="claude", max_tokens=64, system="Answer briefly.", messages=history,
            tools=[{"name": "lookup", "input_schema": {"type": "object", "properties": {}}}],
        )  # fmt: skip
        assert message.content[0].text == REPLY
        sent = anthropic_backend.last.body
        assert sent["model"] == "claude-sonnet-4-6" and sent["system"] in (
            "Answer briefly.",
            [{"type": "text", "text": "Answer briefly."}],
        )
        blocks = sent["messages"][0]["content"]
        assert has_images(blocks) and sum("cache_control" in b for b in blocks) == 1
        assert sent["messages"][1]["content"][0]["type"] == "tool_use"
        assert sent["messages"][2]["content"][0]["type"] == "tool_result"

        with client.messages.stream(model="claude", max_tokens=64, messages=user_turn(english_prose)) as stream:
            assert "".join(stream.text_stream) == REPLY


def test_bypass_sends_the_request_unchanged(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        raw = openai_client(url).chat.completions.with_raw_response.create(
            model="gpt", messages=user_turn(english_prose), extra_headers={"x-hcr-bypass": "1"}
        )
    assert raw.headers["x-hcr-bypassed"] == "true"
    assert openai_backend.last.body["messages"] == user_turn(english_prose)


def test_auth(openai_backend: OpenAIBackend, anthropic_backend: AnthropicBackend) -> None:
    with proxy(openai_backend, anthropic_backend) as url:
        with pytest.raises(openai.AuthenticationError, match="invalid API key"):
            openai_client(url, "wrong").chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "hi"}]
            )
        missing = httpx.post(url + "/v1/chat/completions", json={"model": "gpt", "messages": []})
        assert missing.status_code == 401 and "missing API key" in missing.json()["error"]["message"]
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(base_url=url, api_key="wrong", max_retries=0).messages.create(
                model="claude", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
        assert httpx.get(url + "/health/liveliness").json() == {"status": "alive"}
        assert httpx.get(url + "/health/readiness").status_code == 200
        assert [m.id for m in openai_client(url).models.list()] == ["gpt", "claude"]
    assert not openai_backend.requests and not anthropic_backend.requests


def test_bad_requests(openai_backend: OpenAIBackend, anthropic_backend: AnthropicBackend) -> None:
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    with proxy(openai_backend, anthropic_backend, max_request_bytes=20_000) as url:
        malformed = httpx.post(url + "/v1/chat/completions", content=b"{not json", headers=headers)
        assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]["message"]
        anthropic_shape = httpx.post(url + "/v1/messages", content=b"[1, 2]", headers=headers)
        assert anthropic_shape.status_code == 400 and anthropic_shape.json()["type"] == "error"
        assert anthropic_shape.json()["error"]["type"] == "invalid_request_error"
        with pytest.raises(openai.APIStatusError) as too_big:
            openai_client(url).chat.completions.create(
                model="gpt", messages=[{"role": "user", "content": "x" * 30_000}]
            )
        assert too_big.value.status_code == 413
        with pytest.raises(openai.UnprocessableEntityError, match="not served by this proxy"):
            openai_client(url).chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.role"):
            openai_client(url).chat.completions.create(model="gpt", messages=[{"role": "wizard", "content": "hi"}])
        internal = [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/secret.png"}},
        ]}]  # fmt: skip
        with pytest.raises(openai.BadRequestError, match="internal address"):
            openai_client(url).chat.completions.create(model="gpt", messages=internal)
    assert not openai_backend.requests and not anthropic_backend.requests


def test_callers_cannot_redirect_the_backend(openai_backend: OpenAIBackend) -> None:
    with proxy(openai_backend) as url:
        for field in ({"api_base": "http://169.254.169.254/"}, {"extra_headers": {"x": "y"}}, {"litellm_params": {}}):
            with pytest.raises(openai.BadRequestError, match="not accepted in requests"):
                openai_client(url).chat.completions.create(
                    model="gpt", messages=[{"role": "user", "content": "hi"}], extra_body=field
                )
    assert not openai_backend.requests


def test_no_config_passes_each_request_to_the_model_it_names(
    openai_backend: OpenAIBackend, english_prose: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_BASE", openai_backend.url)  # where litellm sends openai/ models
    monkeypatch.setenv("OPENAI_API_KEY", "sk-upstream")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="anything", max_retries=0)
        assert client.chat.completions.create(model="openai/gpt-4o", messages=user_turn(english_prose)).choices
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert openai_backend.last.body["model"] == "gpt-4o" and has_images(
        openai_backend.last.body["messages"][0]["content"]
    )


def test_allowed_image_hosts_pass() -> None:
    with OpenAIBackend() as backend, proxy(backend, allowed_image_hosts=["127.0.0.1"]) as url:
        messages = [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "http://127.0.0.1:1/chart.png"}},
        ]}]  # fmt: skip
        openai_client(url).chat.completions.create(model="gpt", messages=messages)
        assert backend.last.body["messages"][0]["content"][1]["image_url"]["url"] == "http://127.0.0.1:1/chart.png"


def test_backend_failures_come_back_in_the_callers_format() -> None:
    with OpenAIBackend(fail_status=500) as failing, AnthropicBackend(fail_status=500) as failing_claude:
        with proxy(failing, failing_claude) as url:
            with pytest.raises(openai.APIStatusError) as caught:
                openai_client(url).chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
            assert caught.value.status_code == 502 and "backend 'openai/gpt-4o'" in str(caught.value)
            with pytest.raises(anthropic.APIStatusError) as caught_claude:
                anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0).messages.create(
                    model="claude", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
                )
            assert caught_claude.value.status_code == 502
            assert caught_claude.value.body["error"]["type"] == "api_error"
            assert httpx.get(url + "/health/liveliness").status_code == 200  # still serving


def test_backend_timeout_is_504() -> None:
    with OpenAIBackend(delay_s=3) as slow, proxy(slow, timeout_s=1) as url:
        with pytest.raises(openai.APIStatusError) as caught:
            openai_client(url).chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
        assert caught.value.status_code == 504


def test_stream_dropped_midway_reports_an_error_inside_the_stream() -> None:
    with OpenAIBackend(drop_after=2) as dropping, proxy(dropping) as url:
        stream = openai_client(url).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="backend"):
            for _ in stream:
                pass


def test_dry_run_route(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        response = httpx.post(
            url + "/v1/route", json={"model": "gpt", "messages": user_turn(english_prose)},
            headers={"authorization": f"Bearer {KEY}"}, timeout=30,
        )  # fmt: skip
    body = response.json()
    assert response.status_code == 200 and body["model"] == "openai/gpt-4o"
    assert body["report"]["tokens_after"] < body["report"]["tokens_before"] and has_images(
        body["messages"][0]["content"]
    )
    assert not openai_backend.requests  # a dry run calls no backend


def test_rendering_does_not_block_other_requests(openai_backend: OpenAIBackend, english_prose: str) -> None:
    big = [{"role": "user", "content": (english_prose * 12) + "\n\nSummarise."}]
    finished: dict[str, float] = {}
    with proxy(openai_backend) as url:
        client = openai_client(url)

        def send(name: str, messages: list[dict], headers: dict[str, str]) -> None:
            client.chat.completions.create(model="gpt", messages=messages, extra_headers=headers)
            finished[name] = time.monotonic()

        render = threading.Thread(target=send, args=("render", big, {}))
        render.start()
        time.sleep(0.05)
        send("small", [{"role": "user", "content": "hi"}], {"x-hcr-bypass": "1"})
        render.join()
    assert finished["small"] < finished["render"]


def test_config_errors_name_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "proxy.yaml"
    path.write_text("model_list:\n  - model_name: a\n    litellm_params: {model: gpt-4o}\n    encoder: nope\n")
    with pytest.raises(ConfigError, match=r"proxy.yaml:4: model_list\.0\.encoder"):
        ProxyConfig.from_yaml(path)
    path.write_text("general_settings:\n  master_key: os.environ/HCR_TEST_UNSET_VARIABLE\n")
    with pytest.raises(ConfigError, match="HCR_TEST_UNSET_VARIABLE is not set"):
        ProxyConfig.from_yaml(path)


def test_anthropic_stream_dropped_midway_ends_with_an_error_event() -> None:
    with AnthropicBackend(drop_after=3) as dropping, proxy(dropping) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        with pytest.raises(anthropic.APIError):
            with client.messages.stream(
                model="claude", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            ) as s:
                for _ in s.text_stream:
                    pass
