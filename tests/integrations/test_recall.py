"""The recall tool, round trip: local servers scripted to call ``hcr_recall`` and then answer.

The scripted model reads the chunk id from an image label in the request it receives, asks for the
line holding a planted hash, and answers with what the tool returned; the caller sees one ordinary
response. Evidence is what the servers received: the tool offered, the exact source line returned.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any

import anthropic
import httpx
import openai
import pytest

from router import Policy, Router, get_report, wrap
from router.integrations.recall import RECALL_TOOL_NAME, Recall, answer
from router.integrations.recall_events import astream_events
from router.testing import AnthropicBackend, OpenAIBackend, ToolCalls
from router.tools.agent_session import session_requests
from tests.proxy.test_proxy import KEY, proxy

HASH = "3f9ab2c41d7e6f0a5b8c9d2e1f4a7b6c5d8e9f01"
PLANTED = f"2025-06-24 14:36:27 status installed build-fix:{HASH} 1.0"
LOOKUP = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(scope="module")
def recall_router() -> Router:
    return Router(Policy.builtin("default").model_copy(update={"recall": True}))


def with_planted_hash(request: dict) -> dict:
    """The session's third turn, a hash planted in the dpkg log (an answered, imaged tool result)."""
    request = copy.deepcopy(request)
    if "system" in request:  # Anthropic: the log is the second tool_result
        holder = request["messages"][4]["content"][0]
    else:
        holder = request["messages"][5]
    holder["content"] = holder["content"][:5000] + PLANTED + "\n" + holder["content"][5000:]
    return request


def scripted(always_recall: bool = False, also: tuple = ()) -> Any:
    """A model that calls hcr_recall for the hash, then answers with the line it got back."""

    def respond(body: dict) -> str | ToolCalls:
        last = body["messages"][-1]
        content = last.get("content")
        if isinstance(content, list) and content and content[0].get("type") == "tool_result":
            content = content[0]["content"]
        returned = content if isinstance(content, str) and last["role"] in ("tool", "user") else None
        if returned and re.match(r"#[0-9a-f]{10}[ :]", returned) and not always_recall:
            return f"The line is: {returned.splitlines()[-1]}"
        chunk = re.search(r"#([0-9a-f]{10}) of bash rendered as an image", json.dumps(body)).group(1)
        ask = {"chunk": chunk, "search": "build-fix"}
        return ToolCalls([(f"r{len(body['messages'])}", RECALL_TOOL_NAME, ask), *also])

    return respond


def test_answer_returns_exact_lines_and_explains_mistakes() -> None:
    sources = {"0123456789": "alpha\nbeta 42\ngamma\ndelta 42\n"}
    assert answer({"chunk": "#0123456789", "lines": "2-3"}, sources).endswith("beta 42\ngamma")
    assert answer('{"chunk": "0123456789", "search": "42"}', sources).endswith("2: beta 42\n4: delta 42")
    assert "no chunk #nope" in answer({"chunk": "nope"}, sources) and "#0123456789" in answer({"chunk": "x"}, sources)
    assert "not valid JSON" in answer("{", sources)
    assert "lines 1-4 of 4" in answer({"chunk": "0123456789", "lines": "-5-x"}, sources)


@pytest.mark.parametrize("stream", [False, True])
def test_round_trip_through_litellm(recall_router: Router, stream: bool) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend:
        response = recall_router.completion(
            model="openai/gpt-4o", messages=request["messages"], api_base=backend.url, api_key="sk-test", stream=stream
        )
        if stream:
            text = "".join(c.choices[0].delta.content or "" for c in response)
        else:
            text = response.choices[0].message.content
        assert PLANTED in text and get_report(response).recall_rounds == 1
        first, second = (r.body for r in backend.requests)
        assert any(t["function"]["name"] == RECALL_TOOL_NAME for t in first["tools"])
        assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == RECALL_TOOL_NAME
        assert PLANTED in second["messages"][-1]["content"]  # the exact line, from the source


def test_a_turn_that_also_calls_the_callers_tool_goes_back_to_the_caller(recall_router: Router) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted(also=(("c1", "lookup", {}),))) as backend:
        response = recall_router.completion(
            model="openai/gpt-4o", messages=request["messages"], api_base=backend.url, api_key="sk-test", tools=[LOOKUP]
        )
        assert len(backend.requests) == 1 and response.routing_report.recall_rounds == 0
    calls = response.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["lookup"] and response.choices[0].finish_reason == "tool_calls"


def test_rounds_are_bounded_and_the_last_one_must_answer(recall_router: Router) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted(always_recall=True)) as backend:
        response = asyncio.run(
            recall_router.acompletion(
                model="openai/gpt-4o", messages=request["messages"], api_base=backend.url, api_key="sk-test"
            )
        )
        assert len(backend.requests) == 4 and backend.requests[-1].body["tool_choice"] == "none"
    assert response.choices[0].message.tool_calls is None and response.routing_report.recall_rounds == 3


def test_no_recall_tool_without_images_or_when_tools_are_forbidden(recall_router: Router) -> None:
    with OpenAIBackend() as backend:
        recall_router.completion(
            model="openai/gpt-4o", messages=[{"role": "user", "content": "hi"}], api_base=backend.url, api_key="k"
        )
        assert "tools" not in backend.last.body
        request = session_requests("openai", max_chars=9000)[2]
        recall_router.completion(
            model="openai/gpt-4o", messages=request["messages"], api_base=backend.url, api_key="k",
            tools=[LOOKUP], tool_choice="none",
        )  # fmt: skip
        assert [t["function"]["name"] for t in backend.last.body["tools"]] == ["lookup"]


def recall_policy(tmp_path: Any) -> str:
    path = tmp_path / "recall.yaml"
    path.write_text(Policy.builtin("default").model_copy(update={"recall": True}).model_dump_json())
    return str(path)


def assert_inspected_recall(url: str) -> None:
    """The inspector shows the round: what the model asked for, and the report's round count."""
    auth = {"authorization": f"Bearer {KEY}"}
    latest = httpx.get(f"{url}/ui/api/requests", headers=auth).json()["requests"][0]
    page = httpx.get(url + latest["url"], headers=auth).text
    assert "Recall calls" in page and "build-fix" in page
    assert re.search(r"<dt>recall rounds</dt><dd>1</dd>", page)


@pytest.mark.parametrize("stream", [False, True])
def test_proxy_openai_wire(tmp_path: Any, stream: bool) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend, proxy(backend, policy=recall_policy(tmp_path)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        if stream:
            chunks = client.chat.completions.create(model="gpt", messages=request["messages"], stream=True)
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        else:
            text = client.chat.completions.create(model="gpt", messages=request["messages"]).choices[0].message.content
        assert PLANTED in text and len(backend.requests) == 2
        assert_inspected_recall(url)


@pytest.mark.parametrize("stream", [False, True])
def test_proxy_anthropic_wire(tmp_path: Any, stream: bool) -> None:
    request = with_planted_hash(session_requests("anthropic", max_chars=9000)[2])
    with AnthropicBackend(responder=scripted()) as backend, proxy(backend, policy=recall_policy(tmp_path)) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        if stream:
            with client.messages.stream(model="claude", max_tokens=64, **request) as events:
                message = events.get_final_message()
        else:
            message = client.messages.create(model="claude", max_tokens=64, **request)
        assert [b.type for b in message.content] == ["text"]  # the recall round is not shown
        assert PLANTED in message.content[0].text and message.stop_reason == "end_turn"
        first, second = (r.body for r in backend.requests)
        assert any(t["name"] == RECALL_TOOL_NAME for t in first["tools"])
        result = second["messages"][-1]["content"][0]
        assert result["type"] == "tool_result" and PLANTED in result["content"]
        assert_inspected_recall(url)


def test_wrapped_openai_client(recall_router: Router) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend:
        client = wrap(openai.OpenAI(api_key="sk-test", base_url=backend.url, max_retries=0), recall_router)
        response = client.chat.completions.create(model="gpt-4o", messages=request["messages"])
        assert PLANTED in response.choices[0].message.content and len(backend.requests) == 2
        assert isinstance(response, openai.types.chat.ChatCompletion) and response.routing_report.recall_rounds == 1


def test_wrapped_async_anthropic_client(recall_router: Router) -> None:
    request = with_planted_hash(session_requests("anthropic", max_chars=9000)[2])

    async def run(url: str) -> anthropic.types.Message:
        client = wrap(anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=url, max_retries=0), recall_router)
        return await client.messages.create(model="claude-sonnet-4-6", max_tokens=64, **request)

    with AnthropicBackend(responder=scripted()) as backend:
        message = asyncio.run(run(backend.url))
        assert PLANTED in message.content[0].text and len(backend.requests) == 2
        assert backend.requests[1].body["messages"][-2]["content"][0]["name"] == RECALL_TOOL_NAME


def test_anthropic_events_cut_anywhere_and_a_late_recall_block_is_hidden() -> None:
    """A text answer that also calls hcr_recall after it (and then the caller's tool): the text and the
    caller's call reach the caller, renumbered; the recall block does not; bytes cut at odd places."""

    def event(name: str, **data: Any) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    stream = b"".join([
        event("message_start", message={"id": "m", "content": []}),
        event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        event("content_block_delta", index=0, delta={"type": "text_delta", "text": "Checking."}),
        event("content_block_stop", index=0),
        event("content_block_start", index=1, content_block={"type": "tool_use", "id": "t1", "name": RECALL_TOOL_NAME}),
        event("content_block_delta", index=1, delta={"type": "input_json_delta", "partial_json": '{"chunk": "x"}'}),
        event("content_block_stop", index=1),
        event("content_block_start", index=2, content_block={"type": "tool_use", "id": "t2", "name": "lookup"}),
        event("content_block_stop", index=2),
        event("message_delta", delta={"stop_reason": "tool_use"}),
        event("message_stop"),
    ])  # fmt: skip

    async def pieces() -> Any:
        for at in range(0, len(stream), 37):
            yield stream[at : at + 37]

    async def run() -> list[dict]:
        async def call(kwargs: dict) -> Any:
            return pieces()

        recall = Recall({"x": "source"}, "anthropic", 3)
        out = b"".join([chunk async for chunk in astream_events(call, {"messages": []}, recall)])
        return [json.loads(line[5:]) for line in out.decode().splitlines() if line.startswith("data:")]

    seen = asyncio.run(run())
    starts = [e for e in seen if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"].get("name")) for e in starts] == [(0, None), (1, "lookup")]
    assert RECALL_TOOL_NAME not in json.dumps(seen)
    assert seen[-2]["delta"]["stop_reason"] == "tool_use"  # the caller's own call is still there


def test_routing_context_answers_recall_rounds(recall_router: Router) -> None:
    from router._litellm import litellm
    from router.integrations.litellm_hook import routing

    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend, routing(recall_router):
        response = litellm.completion(
            model="openai/gpt-4o", messages=request["messages"], api_base=backend.url, api_key="sk-test"
        )
        assert PLANTED in response.choices[0].message.content and len(backend.requests) == 2
    assert get_report(response).recall_rounds == 1


def test_wrapped_openai_client_streams(recall_router: Router) -> None:
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend:
        client = wrap(openai.OpenAI(api_key="sk-test", base_url=backend.url, max_retries=0), recall_router)
        with client.chat.completions.create(model="gpt-4o", messages=request["messages"], stream=True) as chunks:
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert PLANTED in text and len(backend.requests) == 2
        assert chunks.routing_report.recall_rounds == 1

        async def run() -> str:
            aclient = wrap(openai.AsyncOpenAI(api_key="sk-test", base_url=backend.url, max_retries=0), recall_router)
            stream = await aclient.chat.completions.create(model="gpt-4o", messages=request["messages"], stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        assert PLANTED in asyncio.run(run()) and len(backend.requests) == 4


def test_litellm_proxy_callback_answers_recall_rounds(tmp_path: Any) -> None:
    """A real LiteLLM Proxy with the hook in its config: the model's hcr_recall call is answered after
    the call and the model asked again through the proxy's own router; the client sees one answer."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from router.testing import free_port, wait_until_up

    master = "sk-hcr-test-master-key-0123456789abcdef"
    request = with_planted_hash(session_requests("openai", max_chars=9000)[2])
    with OpenAIBackend(responder=scripted()) as backend:
        config = tmp_path / "config.yaml"
        config.write_text(
            "model_list:\n  - model_name: gpt\n    litellm_params:\n      model: openai/gpt-4o\n"
            f"      api_base: {backend.url}\n      api_key: sk-test\n"
            "litellm_settings:\n  callbacks: router.integrations.litellm_hook.hook\n"
            f"environment_variables:\n  HCR_POLICY: {recall_policy(tmp_path)}\n"
            f"general_settings:\n  master_key: {master}\n",
            encoding="utf-8",
        )
        port, log = free_port(), tmp_path / "proxy.log"
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        with log.open("w") as out:
            litellm_proxy = subprocess.Popen(
                [str(Path(sys.executable).parent / "litellm"), "--config", str(config), "--port", str(port)],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
            )  # fmt: skip
            try:
                wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", seconds=90)
                client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=master, max_retries=0)
                response = client.chat.completions.create(model="gpt", messages=request["messages"])
            finally:
                litellm_proxy.terminate()
                litellm_proxy.wait(timeout=20)
        assert PLANTED in (response.choices[0].message.content or ""), log.read_text()[-3000:]
        assert response.choices[0].message.tool_calls is None
        first, second = (r.body for r in backend.requests)
        assert any(t["function"]["name"] == RECALL_TOOL_NAME for t in first["tools"])
        assert PLANTED in second["messages"][-1]["content"] and "image_url" in json.dumps(second["messages"])
