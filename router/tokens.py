"""The one text-token counter: litellm's tokenizer for the target model, o200k where it has none.

litellm picks the tokenizer per model (tiktoken encodings, Hugging Face tokenizers for Claude and
others) from files it ships, so counting needs no network. Tokenizers are loaded once per model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from router._digest_cache import DigestCache

_COUNTS: DigestCache[int] = DigestCache(max_entries=4096)


@functools.lru_cache(maxsize=64)
def _counter_for(model: str) -> Callable[[str], int]:
    from router._litellm import litellm

    select_tokenizer = litellm.utils.select_tokenizer

    try:
        selected = select_tokenizer(model=model)
    except Exception:  # a model name litellm cannot place: count as the newest OpenAI models do
        selected = {"type": "openai_tokenizer", "tokenizer": _o200k()}
    tokenizer: Any = selected["tokenizer"]  # tiktoken's Encoding or a Hugging Face Tokenizer
    if selected["type"] == "openai_tokenizer":
        return lambda text: len(tokenizer.encode(text, disallowed_special=()))
    return lambda text: len(tokenizer.encode(text).ids)


@functools.lru_cache(maxsize=1)
def _o200k() -> Any:
    import tiktoken
    from litellm.litellm_core_utils.default_encoding import encoding  # sets TIKTOKEN_CACHE_DIR first

    import router._litellm  # noqa: F401  (offline switches first)

    del encoding
    return tiktoken.get_encoding("o200k_base")


def count_tokens(text: str, model: str) -> int:
    """Text tokens for ``text`` as the tokenizer of ``model`` counts them."""
    if not text:
        return 0
    return _COUNTS.get(model, text, lambda: _count(text, model))


def _count(text: str, model: str) -> int:
    try:
        return _counter_for(model)(text)
    except (TypeError, UnicodeError, ValueError):
        # Lone surrogates (valid in JSON, not encodable) break some tokenizers; count the replacement.
        return _counter_for(model)(text.encode("utf-8", "replace").decode("utf-8"))
