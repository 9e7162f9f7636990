"""Stage 6: totals and input-cost estimates for a routed request, from litellm's cost map."""

from __future__ import annotations

import functools

from router.models import ChunkReport, RouteReport
from router.tokens import token_counter


@functools.lru_cache(maxsize=128)
def input_price(model: str) -> float | None:
    """USD per input token for ``model`` (images are billed as input tokens), or None if unknown."""
    from router._litellm import litellm

    try:
        info = litellm.get_model_info(model=model)
    except Exception:  # litellm raises for models its cost map does not hold
        return None
    price = info.get("input_cost_per_token")
    return float(price) if price else None


def build_report(model: str, encoder: str, vision: bool, chunks: list[ChunkReport], route_ms: float) -> RouteReport:
    before = sum(c.text_tokens for c in chunks)
    after = sum(c.tokens_after for c in chunks)
    price = input_price(model)
    return RouteReport(
        model=model,
        encoder=encoder,
        vision=vision,
        tokens_before=before,
        tokens_after=after,
        cost_before=before * price if price is not None else None,
        cost_after=after * price if price is not None else None,
        images=sum(c.pages for c in chunks if c.action == "image"),
        route_ms=route_ms,
        chunks=chunks,
        tokenizer=token_counter(model).note,
    )
