"""``POST /v1/responses`` (the OpenAI Responses API, how Codex talks), with the official SDK against a
local server speaking the Responses wire format; and the item conversion on its own."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from router import Router
from router.responses import TAG, from_messages, to_messages
from router.testing import REPLY, OpenAIBackend
from router.tools.agent_session import session_requests
from tests.proxy.test_proxy import KEY, QUESTION, proxy

REASONING = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-opaque"}


def agent_input(log: str) -> list[dict]:
    """A Codex-like turn: asked, a reasoning item, a shell call, its long output, an answer, a new question."""
    return [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Why did the upgrade fail?"}]},
        REASONING,
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell", "arguments": '{"cmd": "cat"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": log},
        {"type": "message", "role": "assistant", "id": "msg_1",
         "content": [{"type": "output_text", "text": "The log shows a dependency problem.", "annotations": []}]},
        {"role": "user", "content": "Which package was it?"},
    ]  # fmt: skip


@pytest.fixture(scope="module")
def dpkg_log() -> str:
    request = session_requests("openai", max_chars=9000)[2]
    return next(m["content"] for m in request["messages"] if m["role"] == "tool" and len(m["content"]) > 5000)


def test_responses_round_trip_with_the_sdk(openai_backend: OpenAIBackend, english_prose: str) -> None:
    with proxy(openai_backend) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        document = f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"
        raw = client.responses.with_raw_response.create(
            model="gpt", instructions="Answer in one sentence.", input=[{"role": "user", "content": document}]
        )
        assert raw.parse().output_text == REPLY
        assert int(raw.headers["x-hcr-images"]) >= 1
        sent = openai_backend.last
        assert sent.path.endswith("/responses") and sent.body["instructions"] == "Answer in one sentence."
        parts = sent.body["input"][0]["content"]
        assert any(p["type"] == "input_image" and p["image_url"].startswith("data:image/png") for p in parts)
        assert any(p["type"] == "input_text" and QUESTION in p["text"] for p in parts)

        with client.responses.stream(model="gpt", input=document) as stream:  # a plain string input, streamed
            assert stream.get_final_response().output_text == REPLY
        assert openai_backend.last.body["stream"] is True
        assert any(p["type"] == "input_image" for p in openai_backend.last.body["input"][0]["content"])

        short = client.responses.create(model="gpt", input="Hello")  # nothing to improve: sent as it came
        assert short.output_text == REPLY and openai_backend.last.body["input"] == "Hello"


def test_tool_outputs_keep_their_calls_and_reasoning(openai_backend: OpenAIBackend, dpkg_log: str) -> None:
    with proxy(openai_backend) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0)
        client.responses.create(model="gpt", input=agent_input(dpkg_log), tools=[{"type": "function", "name": "shell",
                                "parameters": {"type": "object", "properties": {}}}])  # fmt: skip
    sent = openai_backend.last.body["input"]
    kinds = [item.get("type", "message") for item in sent]
    assert kinds == ["message", "reasoning", "function_call", "function_call_output", "message", "message", "message"]
    assert sent[1] == REASONING and sent[2]["id"] == "fc_1"  # untouched items go back exactly as sent
    output = sent[3]
    assert output["call_id"] == "call_1" and len(output["output"]) < 300 and dpkg_log[:40] not in json.dumps(sent)
    pages = sent[4]["content"]  # the output's pages follow the batch, as on the chat wire
    assert sent[4]["role"] == "user" and any(p["type"] == "input_image" for p in pages)
    assert sent[5]["id"] == "msg_1" and sent[6] == {"role": "user", "content": "Which package was it?"}
    assert TAG not in json.dumps(sent)


def test_responses_refuse_what_the_chat_wire_refuses(openai_backend: OpenAIBackend) -> None:
    with proxy(openai_backend) as url:
        headers = {"authorization": f"Bearer {KEY}"}
        mcp = {"model": "gpt", "input": "hi", "tools": [{"type": "mcp", "server_url": "http://10.0.0.1/mcp"}]}
        refused = httpx.post(url + "/v1/responses", headers=headers, json=mcp)
        assert refused.status_code == 400 and "'mcp' is not accepted" in refused.json()["error"]["message"]
        inner = [{"role": "user", "content": [{"type": "input_image", "image_url": "http://169.254.169.254/x.png"}]}]
        for bypass in ({}, {"x-hcr-bypass": "1"}):  # the URL guard holds on the bypass path too
            answer = httpx.post(
                url + "/v1/responses", headers={**headers, **bypass}, json={"model": "gpt", "input": inner}
            )
            assert answer.status_code == 400, answer.text
        sneaky = httpx.post(
            url + "/v1/responses", headers=headers, json={"model": "gpt", "input": "x", "api_base": "y"}
        )
        assert sneaky.status_code == 400 and "api_base" in sneaky.text
    assert not openai_backend.requests


def test_items_of_turns_folded_into_history_go_with_them(english_prose: str) -> None:
    turns: list[dict] = []
    blocks = [p for p in english_prose.split("\n\n") if len(p) > 200]
    paragraphs = ["\n\n".join(blocks[n : n + 3]) for n in range(len(blocks) - 3)]  # ~250 tokens each
    for n in range(12):  # a long chat: closed turns fold into history blocks
        turns.append(
            {"role": "user", "content": f"Question {n}: what does this mean?\n\n{paragraphs[n % len(paragraphs)]}"}
        )
        turns.append({"type": "reasoning", "id": f"rs_{n}", "summary": []})
        turns.append({"type": "message", "role": "assistant", "id": f"msg_{n}",
                      "content": [{"type": "output_text", "text": paragraphs[(n + 3) % len(paragraphs)]}]})  # fmt: skip
    turns.append({"role": "user", "content": "And the last point?"})
    converted = to_messages(turns)
    routed = Router().route(converted.messages, model="gpt-4o")
    items, instructions = from_messages(routed, converted)
    assert instructions is None and any(c.kind == "history" and c.action == "image" for c in routed.report.chunks)
    kept = [i.get("id") for i in items if i.get("type") == "reasoning"]
    for rid in kept:  # every reasoning item left still precedes its own answer
        position = next(n for n, i in enumerate(items) if i.get("id") == rid)
        assert items[position + 1].get("id") == rid.replace("rs_", "msg_")
    assert len(kept) < 12 and items[-1] == turns[-1]
    assert TAG not in json.dumps(items)
