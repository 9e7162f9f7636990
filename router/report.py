"""Stage 6: totals and input-cost estimates for a routed request, from litellm's prices (``cost_per_token``)."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from router.models import ChunkReport, RouteReport
from router.tokens import token_counter


@functools.lru_cache(maxsize=128)
def model_info(model: str) -> dict[str, Any] | None:
    """litellm's facts and prices for ``model``, or None where its cost map does not hold it."""
    from router._litellm import litellm

    if "/" not in model and model not in litellm.model_cost:
        return None  # a bare name litellm does not know; asking it would print its provider list
    try:
        return dict(litellm.get_model_info(model=model))
    except Exception:  # litellm raises for models its cost map does not hold
        return None


def input_price(model: str) -> float | None:
    """USD per input token for ``model`` (images are billed as input tokens), or None if unknown."""
    price = (model_info(model) or {}).get("input_cost_per_token")
    return float(price) if price else None


def input_cost(model: str, tokens: int) -> float | None:
    """USD for ``tokens`` input tokens on ``model`` by litellm's ``cost_per_token`` (tiered prices
    included: Gemini 2.5 Pro charges more past 200k), or None for a model without a price."""
    price = input_price(model)
    if price is None:
        return None
    from router._litellm import litellm

    try:
        prompt_cost, _ = litellm.cost_per_token(model=model, prompt_tokens=tokens, completion_tokens=0)
    except Exception:  # a model litellm prices by other units: the flat rate
        return tokens * price
    return float(prompt_cost)


def build_report(model: str, encoder: str, vision: bool, chunks: list[ChunkReport], route_ms: float) -> RouteReport:
    before = sum(c.text_tokens for c in chunks)
    after = sum(c.tokens_after for c in chunks)
    return RouteReport(
        model=model,
        encoder=encoder,
        vision=vision,
        tokens_before=before,
        tokens_after=after,
        cost_before=input_cost(model, before),
        cost_after=input_cost(model, after),
        images=sum(c.pages for c in chunks if c.action == "image"),
        route_ms=route_ms,
        chunks=chunks,
        tokenizer=token_counter(model).note,
    )


def billed_input_tokens(response: Any) -> int | None:
    """Input tokens billed, from a response's ``usage`` (OpenAI or Anthropic shape), cached reads included."""
    usage = response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None)
    if usage is None:
        return None

    def field(name: str) -> int:
        value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, None)
        return value if isinstance(value, int) else 0

    if field("prompt_tokens"):
        return field("prompt_tokens")
    anthropic = field("input_tokens") + field("cache_read_input_tokens") + field("cache_creation_input_tokens")
    return anthropic or None


class Saving(BaseModel):
    """Tokens and money before and after routing, for one model or one kind."""

    name: str
    count: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    cost_before: float = 0.0
    cost_after: float = 0.0
    priced: bool = True

    @property
    def saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def saved_share(self) -> float:
        return self.saved / self.tokens_before if self.tokens_before else 0.0
