"""Endpoints agents call besides chat: Anthropic's token count and the model list, with the official SDKs."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai

from router.testing import AnthropicBackend, OpenAIBackend
from router.tokens import count_tokens
from tests.proxy.test_proxy import KEY, QUESTION, proxy

TOOLS = [{"name": "read_file", "description": "Read a file", "input_schema": {"type": "object", "properties": {}}}]


def test_count_tokens_answers_the_routed_count_without_calling_the_backend(
    anthropic_backend: AnthropicBackend, english_prose: str
) -> None:
    messages = [{"role": "user", "content": f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"}]
    with proxy(anthropic_backend) as url:
        client = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0)
        counted = client.messages.count_tokens(model="claude", messages=messages, system="Be brief.", tools=TOOLS)
        dry = httpx.post(
            url + "/v1/route",
            headers={"authorization": f"Bearer {KEY}"},
            json={"model": "claude", "wire": "anthropic", "messages": messages, "system": "Be brief."},
        ).json()["report"]
    assert not anthropic_backend.requests  # counted here: no backend call
    tools = count_tokens(json.dumps(TOOLS), "anthropic/claude-sonnet-4-6")
    assert counted.input_tokens == dry["tokens_after"] + tools
    # The licence drawn at Claude's balanced 10 px: 931 tokens as text, 482 routed.
    assert dry["images"] >= 1 and counted.input_tokens < dry["tokens_before"] * 0.6


def test_count_tokens_refuses_what_anthropic_refuses(anthropic_backend: AnthropicBackend) -> None:
    with proxy(anthropic_backend) as url:
        refused = httpx.post(
            url + "/v1/messages/count_tokens",
            headers={"x-api-key": KEY},
            json={"model": "claude", "messages": [{"role": "user", "content": "hi"}], "api_base": "http://evil"},
        )
        assert refused.status_code == 400 and "api_base" in refused.json()["error"]["message"]
        unknown = httpx.post(
            url + "/v1/messages/count_tokens", headers={"x-api-key": KEY}, json={"model": "nope", "messages": []}
        )
        assert unknown.status_code == 422


def test_models_list_reads_in_both_sdks(openai_backend: OpenAIBackend, anthropic_backend: AnthropicBackend) -> None:
    with proxy(openai_backend, anthropic_backend) as url:
        listed = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0).models.list()
        assert sorted(m.id for m in listed.data) == ["claude", "gpt"]
        page = anthropic.Anthropic(base_url=url, api_key=KEY, max_retries=0).models.list()
        assert sorted(m.id for m in page.data) == ["claude", "gpt"]
        assert all(m.type == "model" and m.display_name for m in page.data)
