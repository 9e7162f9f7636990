"""The cache-aware gate: text the provider holds cached stays text unless drawing it still pays."""

from __future__ import annotations

import copy

from router import Policy, Router
from router.cache_gate import cache_prices
from router.models import RouteReport
from router.tools.agent_session import session_requests

QUESTION = "Which freedoms does the preamble list?"


def marked_document(prose: str) -> list[dict]:
    """A long document the caller marked as a cached prefix, then a short question."""
    return [
        {"role": "user", "content": [
            {"type": "text", "text": f"Here is a licence:\n\n{prose}", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": QUESTION},
        ]},
    ]  # fmt: skip


def imaging_costs_more_by(report: RouteReport, index: int, model: str, turns: int) -> float:
    """The gate's sum, from the report's own figures and litellm's prices."""
    prices = cache_prices(model)
    assert prices is not None
    chunk = report.chunks[index]
    image = chunk.image_tokens + chunk.label_tokens + chunk.factsheet_tokens or chunk.tokens_after
    later = sum(c.tokens_after for c in report.chunks[index + 1 :])
    return (
        image * prices.write + later * (prices.write - prices.read) - chunk.text_tokens * prices.read
        + (turns - 1) * prices.read * (image - chunk.text_tokens)
    )  # fmt: skip


def largest(report: RouteReport) -> int:
    return max(range(len(report.chunks)), key=lambda i: report.chunks[i].text_tokens)


def policy(**cache: object) -> Policy:
    return Policy.model_validate({**Policy.builtin("default").model_dump(), "cache": cache})


def test_a_cached_prefix_stays_text_where_drawing_it_costs_more(english_prose: str) -> None:
    prices = cache_prices("claude-sonnet-4-6")
    assert prices is not None and prices.read < prices.input < prices.write  # 0.1x reads, 1.25x writes
    routed = Router().route(marked_document(english_prose), model="claude-sonnet-4-6", wire="anthropic")
    document = routed.report.chunks[largest(routed.report)]
    assert document.action == "text" and document.reason.startswith("guard:cache: cached as text")
    assert document.cache is not None and document.cache.startswith("kept warm")
    assert not routed.pages and routed.messages[0]["content"][0]["cache_control"] == {"type": "ephemeral"}

    without = Router(policy(aware=False)).route(marked_document(english_prose), model="claude-sonnet-4-6")
    drawn = without.report.chunks[largest(without.report)]
    assert drawn.action == "image" and drawn.cache is None  # what the gate turned down
    assert imaging_costs_more_by(without.report, drawn.index, "claude-sonnet-4-6", turns=5) > 0


def test_a_cached_prefix_is_drawn_where_the_saving_survives(english_prose: str) -> None:
    # gpt-4o reads its cache at 0.5x and charges no write premium: the image still pays.
    routed = Router().route(marked_document(english_prose), model="gpt-4o")
    document = routed.report.chunks[largest(routed.report)]
    assert document.action == "image" and document.cache is not None and document.cache.startswith("broken")
    assert imaging_costs_more_by(routed.report, document.index, "gpt-4o", turns=5) < 0
    # On Claude too, once the prefix is expected to be read often enough.
    long_lived = Router(policy(expected_turns=200)).route(marked_document(english_prose), model="claude-sonnet-4-6")
    kept = long_lived.report.chunks[largest(long_lived.report)]
    assert kept.action == "image" and kept.cache is not None
    assert imaging_costs_more_by(long_lived.report, kept.index, "claude-sonnet-4-6", turns=200) < 0


def test_text_sent_before_is_cached_where_the_provider_caches_by_itself() -> None:
    turns = session_requests("openai", max_chars=9000)
    router = Router()
    first = router.route(turns[1]["messages"], model="gpt-4o")  # the log arrives: unanswered, sent as text
    log = next(c for c in first.report.chunks if c.reason == "rule:unanswered-tool-results")
    assert log.action == "text" and log.cache is None and log.text_tokens > 4000
    second = router.route(turns[2]["messages"], model="gpt-4o")  # answered since: drawn, if it still pays
    again = next(c for c in second.report.chunks if c.index == log.index)
    assert again.cache is not None  # the gate weighed the cache it breaks
    expected = imaging_costs_more_by(second.report, log.index, "gpt-4o", turns=5)
    if again.action == "image":
        assert again.cache.startswith("broken") and expected < 0
    else:
        assert again.reason.startswith("guard:cache:")

    # Claude caches only marked prefixes: without a marker there is no cache to break.
    claude = Router()
    anthropic_turns = session_requests("anthropic", max_chars=9000)
    claude.route(anthropic_turns[1]["messages"], model="claude-sonnet-4-6", system=anthropic_turns[1]["system"],
                 wire="anthropic")  # fmt: skip
    unmarked = claude.route(anthropic_turns[2]["messages"], model="claude-sonnet-4-6",
                            system=anthropic_turns[2]["system"], wire="anthropic")  # fmt: skip
    assert all(c.cache is None for c in unmarked.report.chunks)


def test_a_model_without_cache_prices_is_not_gated(english_prose: str) -> None:
    request = copy.deepcopy(marked_document(english_prose))
    routed = Router().route(request, model="hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct")
    assert cache_prices("hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct") is None
    document = routed.report.chunks[largest(routed.report)]
    assert document.action == "image" and document.cache is None
