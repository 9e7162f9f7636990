"""``count: provider``: text tokens counted by the provider's own count-tokens endpoint.

Claude's tokenizer is not public and Gemini's is not offline, so ``router.tokens`` estimates them.
With ``count: provider`` in the policy, every chunk's text is counted by the provider instead
(Anthropic's ``/v1/messages/count_tokens``, Gemini's ``countTokens``..., through
``litellm.acount_tokens``), each text once: answers are cached by content digest. It needs the
provider's key: the deployment's (``Router.completion``'s ``api_key``/``api_base``, the proxy's
config) or the provider's environment variable. Where the provider cannot be asked (no key, no
endpoint for that provider, an error), the chunks keep the local counts and the report says why.

A count of one user message holds the message's own framing; that overhead (the count of a
one-character message, less one) is taken off each text.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from router._digest_cache import DigestCache
from router.models import Chunk
from router.tokens import token_counter

__all__ = ["counting_with", "recount"]

_CREDENTIALS: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("hcr_count_credentials", default=())
_COUNTS: DigestCache[int] = DigestCache(max_entries=20_000)
_PARALLEL = 8  # count requests in flight at once


@contextlib.contextmanager
def counting_with(api_key: Any = None, api_base: Any = None) -> Iterator[None]:
    """Count with these credentials (a deployment's) in this context."""
    found = tuple((k, v) for k, v in (("api_key", api_key), ("api_base", api_base)) if isinstance(v, str) and v)
    token = _CREDENTIALS.set(found)
    try:
        yield
    finally:
        _CREDENTIALS.reset(token)


def recount(chunks: Sequence[Chunk], model: str) -> tuple[list[Chunk], str]:
    """``chunks`` with the provider's counts, and the report's note on what counted them; where the
    provider could not be asked, the chunks as they were and a note saying why."""
    credentials = dict(_CREDENTIALS.get())
    try:
        with ThreadPoolExecutor(1) as runner:  # its own event loop, whatever the caller runs in
            work = _counts([c.text for c in chunks], model, credentials)
            counts = runner.submit(contextvars.copy_context().run, asyncio.run, work).result()  # (cache scope)
    except Exception as exc:
        why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return list(chunks), f"{token_counter(model).note} (the provider's count failed: {why})"
    counted = [c.model_copy(update={"text_tokens": n}) for c, n in zip(chunks, counts, strict=True)]
    return counted, f"provider: {model}'s own count-tokens endpoint, each text once"


async def _counts(texts: list[str], model: str, credentials: dict[str, str]) -> list[int]:
    limit = asyncio.Semaphore(_PARALLEL)

    async def one(text: str) -> int:
        async with limit:
            return await _ask(text, model, credentials)

    overhead = await _cached(".", model, lambda: one(".")) - 1
    return [max(0, n - overhead) if text else 0 for text, n in zip(texts, await asyncio.gather(
        *(_cached(text, model, lambda text=text: one(text)) if text else _zero() for text in texts)
    ), strict=True)]  # fmt: skip


async def _zero() -> int:
    return 0


async def _cached(text: str, model: str, ask: Any) -> int:
    known = _COUNTS.peek(model, text)
    if known is not None:
        return known
    counted = int(await ask())
    _COUNTS.put(model, text, counted)
    return counted


async def _ask(text: str, model: str, credentials: dict[str, str]) -> int:
    from router._litellm import litellm

    answer = await litellm.acount_tokens(
        model=model, messages=[{"role": "user", "content": text}],
        api_key=credentials.get("api_key"), api_base=credentials.get("api_base"),
    )  # fmt: skip
    if answer.error:
        raise RuntimeError(answer.error_message or "the count-tokens endpoint answered an error")
    if answer.tokenizer_type == "local_tokenizer":
        raise RuntimeError(f"litellm could not ask the provider for {model} (no key, or no count-tokens endpoint)")
    return int(answer.total_tokens)
