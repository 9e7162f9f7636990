"""Agent sessions over the wire: what each provider's server receives when tool results are imaged.

Every request goes through litellm (or the proxy, with the official SDKs) to a real HTTP server on
127.0.0.1 speaking that provider's wire format; the recorded request body is the evidence that the
pages sit where the provider accepts them and that every tool call is still paired with its result.
"""

from __future__ import annotations

import anthropic
import openai
import pytest

from router import Router, get_report
from router.testing import REPLY, AnthropicBackend, BedrockBackend, GeminiBackend, OpenAIBackend
from router.tools.agent_session import session_requests
from tests.proxy.test_proxy import KEY, proxy

MAX_CHARS = 9000


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


@pytest.fixture(scope="module")
def openai_request() -> dict:
    return session_requests("openai", max_chars=MAX_CHARS)[2]  # three tool results, the newest unanswered


@pytest.fixture(scope="module")
def anthropic_request() -> dict:
    return session_requests("anthropic", max_chars=MAX_CHARS)[2]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_server_gets_stubs_then_pages(
    router: Router, openai_backend: OpenAIBackend, openai_request: dict, stream: bool
) -> None:
    response = router.completion(
        model="openai/gpt-4o", messages=openai_request["messages"], api_base=openai_backend.url, api_key="sk-test",
        stream=stream,
    )  # fmt: skip
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in response) == REPLY
    else:
        assert response.choices[0].message.content == REPLY and get_report(response).images > 0
    sent = openai_backend.last.body["messages"]
    roles = [m["role"] for m in sent]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant", "tool", "user", "assistant", "tool"]
    for n in (3, 6):
        assert sent[n]["tool_call_id"] == sent[n - 1]["tool_calls"][0]["id"]
        assert sent[n]["content"].startswith("[Tool result #")
        pages = [p for p in sent[n + 1]["content"] if p["type"] == "image_url"]
        assert pages and all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in pages)
    assert sent[9] == openai_request["messages"][-1]  # unanswered: as the tool returned it


def test_anthropic_server_gets_pages_after_the_results(
    router: Router, anthropic_backend: AnthropicBackend, openai_request: dict
) -> None:
    """OpenAI-shaped history sent to Claude through litellm: the results and their pages share a user turn."""
    router.completion(
        model="anthropic/claude-sonnet-4-6", messages=openai_request["messages"], api_base=anthropic_backend.url,
        api_key="sk-ant-test", max_tokens=64,
    )  # fmt: skip
    sent = anthropic_backend.last.body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
    for n in range(1, len(sent), 2):
        uses = [b["id"] for b in sent[n]["content"] if b["type"] == "tool_use"]
        results = [b["tool_use_id"] for b in sent[n + 1]["content"] if b["type"] == "tool_result"]
        assert uses == results and sent[n + 1]["content"][0]["type"] == "tool_result"  # results come first
    assert any(b["type"] == "image" for b in sent[4]["content"])  # the answered log's pages


def test_gemini_server_gets_function_responses_then_pages(
    router: Router, gemini_backend: GeminiBackend, openai_request: dict
) -> None:
    router.completion(
        model="gemini/gemini-2.5-flash", messages=openai_request["messages"], api_base=gemini_backend.url,
        api_key="test-key",
    )  # fmt: skip
    contents = gemini_backend.last.body["contents"]
    calls = [p["function_call"]["name"] for c in contents for p in c["parts"] if "function_call" in p]
    answers = [p["function_response"]["name"] for c in contents for p in c["parts"] if "function_response" in p]
    assert calls == answers == ["read_file", "bash", "read_file"]
    inline = [p for c in contents for p in c["parts"] if "inline_data" in p]
    assert inline and all(p["inline_data"]["mime_type"] == "image/png" for p in inline)


@pytest.mark.parametrize("stream", [False, True])
def test_proxy_anthropic_wire_puts_pages_inside_tool_results(
    anthropic_backend: AnthropicBackend, anthropic_request: dict, stream: bool
) -> None:
    with proxy(anthropic_backend) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        ask = {"model": "claude", "max_tokens": 64, **anthropic_request}
        if stream:
            with client.messages.stream(**ask) as events:
                assert "".join(events.text_stream) == REPLY
        else:
            assert client.messages.create(**ask).content[0].text == REPLY
    sent = anthropic_backend.last.body["messages"]
    assert len(sent) == len(anthropic_request["messages"])
    log_result = sent[4]["content"][0]
    assert log_result["type"] == "tool_result" and log_result["tool_use_id"] == "toolu_1"
    assert log_result["content"][0]["text"].startswith("[Tool result #")
    assert any(b["type"] == "image" for b in log_result["content"])
    assert sent[-1] == anthropic_request["messages"][-1]


def test_proxy_openai_wire_with_the_official_client(openai_backend: OpenAIBackend, openai_request: dict) -> None:
    with proxy(openai_backend) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        response = client.chat.completions.create(model="gpt", messages=openai_request["messages"])
        assert response.choices[0].message.content == REPLY
    sent = openai_backend.last.body["messages"]
    assert [m["role"] for m in sent].count("user") == 3 and sent[3]["content"].startswith("[Tool result #")


def test_bedrock_server_gets_tool_results_then_pages(
    router: Router, openai_request: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bedrock's Converse API through litellm: toolUse and toolResult blocks stay paired, and the pages
    of each answered result follow its toolResult in the same user turn."""
    credentials = {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION_NAME": "us-east-1"}
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("read_file", "bash")]  # fmt: skip
    with BedrockBackend() as backend:
        router.completion(
            model="bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", messages=openai_request["messages"],
            api_base=backend.url, max_tokens=64, tools=tools,
        )  # fmt: skip
        sent = backend.last.body["messages"]
    assert backend.last.path.endswith("/converse")
    uses = [b["toolUse"]["toolUseId"] for m in sent for b in m["content"] if "toolUse" in b]
    results = [b["toolResult"]["toolUseId"] for m in sent for b in m["content"] if "toolResult" in b]
    assert uses == results == ["call_0", "call_1", "call_2"]
    log_turn = next(m for m in sent if any(b.get("toolResult", {}).get("toolUseId") == "call_1" for b in m["content"]))
    kinds = [next(iter(b)) for b in log_turn["content"]]
    assert kinds[0] == "toolResult" and "image" in kinds  # the answered log's pages, after its result
