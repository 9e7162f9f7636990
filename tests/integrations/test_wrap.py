"""router.integrations.wrap on the official OpenAI and Anthropic SDK clients, against real local HTTP backends."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from openai.types.chat import ChatCompletion

from router import Router, get_report, wrap
from router.errors import RouterError
from router.testing import REPLY, AnthropicBackend, OpenAIBackend

QUESTION = "Which freedoms does the preamble list?"


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def user_turn(prose: str) -> list[dict]:
    return [{"role": "user", "content": f"Here is a licence:\n\n{prose}\n\n{QUESTION}"}]


def test_openai_client(router: Router, openai_backend: OpenAIBackend, english_prose: str) -> None:
    client = openai.OpenAI(api_key="sk-test", base_url=openai_backend.url + "/v1", max_retries=1, timeout=20)
    wrapped = wrap(client, router)
    assert isinstance(wrapped, openai.OpenAI)
    assert (wrapped.base_url, wrapped.max_retries, wrapped.timeout, wrapped.api_key) == (
        client.base_url, client.max_retries, client.timeout, client.api_key,
    )  # fmt: skip

    response = wrapped.chat.completions.create(model="gpt-4o", messages=user_turn(english_prose), temperature=0)
    assert isinstance(response, ChatCompletion) and response.choices[0].message.content == REPLY
    assert get_report(response) is response.routing_report and response.routing_report.images >= 1
    assert "routing_report" not in response.model_dump()  # the SDK type is untouched
    sent = openai_backend.last.body
    assert openai_backend.last.path == "/v1/chat/completions" and sent["temperature"] == 0
    parts = sent["messages"][0]["content"]
    assert any(p["type"] == "image_url" for p in parts) and parts[-1]["text"].endswith(QUESTION)

    stream = wrapped.chat.completions.create(model="gpt-4o", messages=user_turn(english_prose), stream=True)
    assert stream.routing_report.images >= 1
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == REPLY

    client.chat.completions.create(model="gpt-4o", messages=user_turn(english_prose))
    assert isinstance(openai_backend.last.body["messages"][0]["content"], str)  # the original is unchanged


def test_async_openai_client(router: Router, openai_backend: OpenAIBackend, english_prose: str) -> None:
    async def run() -> tuple[str, str]:
        wrapped = wrap(openai.AsyncOpenAI(api_key="k", base_url=openai_backend.url + "/v1"), router)
        response = await wrapped.chat.completions.create(model="gpt-4o", messages=user_turn(english_prose))
        stream = await wrapped.chat.completions.create(model="gpt-4o", messages=user_turn(english_prose), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert response.routing_report.images >= 1
        return response.choices[0].message.content, text

    assert asyncio.run(run()) == (REPLY, REPLY)
    assert all(any(p["type"] == "image_url" for p in r.body["messages"][0]["content"]) for r in openai_backend.requests)


def test_anthropic_client(router: Router, anthropic_backend: AnthropicBackend, english_prose: str) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url=anthropic_backend.url)
    wrapped = wrap(client, router)
    assert isinstance(wrapped, anthropic.Anthropic)
    system = "Answer from the licence.\n\n" + english_prose
    message = wrapped.messages.create(
        model="claude-sonnet-4-6", max_tokens=64, system=system, messages=user_turn(english_prose)
    )
    assert isinstance(message, anthropic.types.Message) and message.content[0].text == REPLY
    assert message.routing_report.encoder == "anthropic"
    body = anthropic_backend.last.body
    assert body["system"].startswith("Answer from the licence.") and len(body["system"]) < len(system)
    blocks = body["messages"][0]["content"]
    assert blocks[0]["text"].startswith("[System context #") and "rendered as an image" in blocks[0]["text"]
    images = [b for b in blocks if b["type"] == "image"]
    assert len(images) >= 2 and all(b["source"]["media_type"] == "image/png" for b in images)
    assert blocks[-1]["text"].endswith(QUESTION)

    with wrapped.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=user_turn(english_prose)) as stream:
        assert "".join(stream.text_stream) == REPLY
    assert any(b["type"] == "image" for b in anthropic_backend.last.body["messages"][0]["content"])


def test_async_anthropic_client(router: Router, anthropic_backend: AnthropicBackend, english_prose: str) -> None:
    async def run() -> str:
        wrapped = wrap(anthropic.AsyncAnthropic(api_key="k", base_url=anthropic_backend.url), router)
        message = await wrapped.messages.create(
            model="claude-sonnet-4-6", max_tokens=32, messages=user_turn(english_prose)
        )
        return message.content[0].text

    assert asyncio.run(run()) == REPLY
    assert any(b["type"] == "image" for b in anthropic_backend.last.body["messages"][0]["content"])


def test_wrapping_something_else_is_a_clear_error() -> None:
    with pytest.raises(RouterError, match="cannot wrap dict"):
        wrap({})
