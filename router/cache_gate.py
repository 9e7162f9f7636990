"""The cache-aware gate: an image must still pay once the provider's prompt cache is counted.

A chunk the provider has cached as text (inside a prefix the caller marked with ``cache_control``, or
sent as text by this router before, in this scope) is billed at the cache-read price while it stays
text. Drawing it now changes the prefix from that point: the pages, and every token after them, are
written to the cache again (at the cache-write price, or the plain input price where the provider
charges no write premium) before later turns read them back cheaply. Over the turns the prefix is
expected to be read again (``cache.expected_turns``), for a chunk of ``t`` text tokens drawn as ``i``
image tokens with ``L`` tokens after it, imaging changes the cost by

    i*write + L*(write - read) - t*read + (turns - 1)*read*(i - t)

and the chunk stays text unless that is negative. Chunks sent as images before are not gated: they
are the cached prefix now. Prices come from litellm's cost map; a model without cache prices has no
cache to break. Policy settings::

    cache: {aware: true, expected_turns: 5}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.models import Chunk, ChunkReport

__all__ = ["CachePrices", "CacheSettings", "cache_prices", "cached_up_to", "gate"]


class CacheSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aware: bool = Field(True, description="keep cached text as text unless the image still pays")
    expected_turns: int = Field(5, ge=1, le=1000, description="turns a cached prefix is expected to be read again")


class CachePrices(BaseModel):
    """USD per input token: plain, read from the cache, written to it."""

    input: float
    read: float
    write: float


def cache_prices(model: str) -> CachePrices | None:
    """The model's cache prices from litellm's cost map; None where it lists no cache reads."""
    from router.report import model_info

    info = model_info(model)
    if not info:
        return None
    price, read = info.get("input_cost_per_token"), info.get("cache_read_input_token_cost")
    if not price or not read:
        return None
    write = info.get("cache_creation_input_token_cost") or price  # no premium: written at the input price
    return CachePrices(input=float(price), read=float(read), write=float(write))


def cached_up_to(messages: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    """(message, part) of the last ``cache_control`` marker the caller set: all before it is a cached
    prefix. Parts are numbered as in the message's content list (-1: the message as a whole)."""
    last: tuple[int, int] | None = None
    for i, message in enumerate(messages):
        if "cache_control" in message:
            last = (i, 10**9)
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, Mapping) and "cache_control" in part:
                    last = max(last or (i, j), (i, j))
    return last


def _in_prefix(chunk: Chunk, end: tuple[int, int] | None) -> bool:
    if end is None:
        return False
    part = -1 if chunk.part_index is None else chunk.part_index
    return (chunk.message_index, part) <= end


def gate(
    chunks: Sequence[Chunk],
    reports: list[ChunkReport],
    pages: dict[int, Any],
    *,
    cached: set[int],
    prices: CachePrices,
    turns: int,
) -> None:
    """Send back to text the imaged chunks of ``cached`` whose image does not pay once the cache is
    counted (first to last: a chunk kept as text keeps the prefix warm for those after it); say on
    each gated chunk which way it went and why (``ChunkReport.cache``)."""
    for chunk in chunks:
        report = reports[chunk.index]
        if report.action != "image" or chunk.index not in cached:
            continue
        later = sum(r.tokens_after for r in reports[chunk.index + 1 :])
        text, image = report.text_tokens, report.tokens_after
        delta = (
            image * prices.write + later * (prices.write - prices.read) - text * prices.read
            + (turns - 1) * prices.read * (image - text)
        )  # fmt: skip
        over = f"over {turns} turn{'s' if turns != 1 else ''}"
        if delta >= 0:
            del pages[chunk.index]
            reports[chunk.index] = report.model_copy(
                update={"action": "text", "pages": 0, "density": None,
                        "reason": f"guard:cache: cached as text; drawing it would cost ${delta:.4f} more {over}",
                        "cache": f"kept warm: drawing it would cost ${delta:.4f} more {over}"},
            )  # fmt: skip
        else:
            reports[chunk.index] = report.model_copy(
                update={"cache": f"broken: drawing it saves ${-delta:.4f} {over}, rewriting {later:,} tokens after"}
            )


def cached_chunks(
    chunks: Sequence[Chunk], messages: Sequence[Mapping[str, Any]], sent_as_text: Any, *, explicit: bool
) -> set[int]:
    """Chunks the provider holds as text: in the caller's marked prefix, or sent as text before. Where
    the provider caches only marked prefixes (``explicit``), a request without a marker has none."""
    end = cached_up_to(messages)
    if explicit:
        return {c.index for c in chunks if _in_prefix(c, end)}
    return {c.index for c in chunks if _in_prefix(c, end) or sent_as_text(c)}
