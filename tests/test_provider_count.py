"""``count: provider``: chunk text counted by the provider's own endpoint, through litellm, once per text."""

from __future__ import annotations

import pytest

from router import Policy, Router
from router.testing import REPLY, AnthropicBackend

QUESTION = "Which freedoms does the preamble list?"


def counting_router() -> Router:
    return Router(Policy.model_validate({**Policy.builtin("default").model_dump(), "count": "provider"}))


def test_chunks_are_counted_by_the_provider(anthropic_backend: AnthropicBackend, english_prose: str) -> None:
    router = counting_router()
    messages = [{"role": "user", "content": f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"}]
    kwargs = {"model": "anthropic/claude-sonnet-4-6", "api_base": anthropic_backend.url, "api_key": "sk-ant-test",
              "max_tokens": 50}  # fmt: skip
    response = router.completion(messages=messages, **kwargs)
    assert response.choices[0].message.content == REPLY
    report = response.routing_report
    assert report.tokenizer.startswith("provider:")
    routed = router.route(messages, model="anthropic/claude-sonnet-4-6")  # the same texts: counted already
    counts = [r for r in anthropic_backend.requests if r.path.endswith("/count_tokens")]
    texts = [c.text for c in routed.chunks]
    assert len(counts) == len(set(texts)) + 1  # each text once, and one probe for the message framing
    for chunk in routed.chunks:  # the backend's count (a token per word), less its framing
        assert chunk.text_tokens == len(chunk.text.split())
    assert routed.report.tokens_before == sum(c.text_tokens for c in routed.report.chunks)


def test_without_a_key_the_local_count_stays_and_says_why(english_prose: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    messages = [{"role": "user", "content": f"Here is a licence:\n\n{english_prose}\n\n{QUESTION}"}]
    counted = counting_router().route(messages, model="claude-sonnet-4-6")
    local = Router().route(messages, model="claude-sonnet-4-6")
    assert "the provider's count failed" in counted.report.tokenizer and "no key" in counted.report.tokenizer
    assert [c.text_tokens for c in counted.report.chunks] == [c.text_tokens for c in local.report.chunks]
