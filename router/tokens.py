"""The one text-token counter: the model's own tokenizer where it is public, a labelled estimate otherwise.

- OpenAI models (``gpt-4o``, ``openai/gpt-4.1``, ``azure/...``, ``o3``) are counted with tiktoken's
  encoding for that model: ``o200k_base`` for gpt-4o and later, ``cl100k_base`` for gpt-4 and 3.5.
  litellm's ``select_tokenizer`` answers ``cl100k_base`` for all of them, which overcounts gpt-4o's
  Chinese by about 30%.
- Anthropic's tokenizer for current Claude models is not public: Claude models (``claude-...``,
  ``anthropic/...``, Bedrock and Vertex Claude) are counted with the Claude tokenizer litellm ships,
  the same whatever the prefix, and the count is labelled an estimate.
- Every other model (Gemini, self-hosted Qwen, names nobody knows) is counted with ``o200k_base``,
  labelled an estimate naming what it counted with.

Encodings come from the files litellm ships (``TIKTOKEN_CACHE_DIR`` set before loading), so
counting needs no network. Tokenizers are loaded once per model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from router._digest_cache import DigestCache

__all__ = ["TokenCounter", "count_tokens", "token_counter"]

_COUNTS: DigestCache[int] = DigestCache(max_entries=4096)
_OPENAI_PROVIDERS = frozenset({"openai", "azure", "azure_ai", "text-completion-openai", "openrouter"})


@dataclass(frozen=True)
class TokenCounter:
    name: str  # what counts: "o200k_base", "cl100k_base", "claude (litellm)"
    exact: bool  # the model's own tokenizer; False: an estimate
    note: str  # for the report: what was counted with, and why
    count: Callable[[str], int]


def token_counter(model: str) -> TokenCounter:
    """The counter for ``model``: its own tokenizer, or a labelled estimate."""
    return _counter_for(model)


@functools.lru_cache(maxsize=64)
def _counter_for(model: str) -> TokenCounter:
    import tiktoken

    provider, bare = _provider(model)
    if provider in _OPENAI_PROVIDERS or (provider is None and _looks_openai(bare)):
        try:
            name = tiktoken.encoding_name_for_model(bare)
        except KeyError:
            return _tiktoken("o200k_base", False, f"estimate: {bare} is not a model tiktoken knows; o200k_base")
        return _tiktoken(name, True, f"{name}, {bare}'s own tokenizer")
    if "claude" in bare.lower():
        from router._litellm import litellm

        # The tokenizer litellm ships for Claude, asked for by a name it files under Anthropic, so a
        # bare and a prefixed or Bedrock name count alike.
        claude = next((m for m in sorted(litellm.anthropic_models) if m.startswith("claude")), bare)
        selected = litellm.utils.select_tokenizer(model=claude)
        if selected["type"] == "huggingface_tokenizer":
            tokenizer: Any = selected["tokenizer"]
            note = "estimate: Anthropic's tokenizer is not public; the Claude tokenizer litellm ships"
            return TokenCounter("claude (litellm)", False, note, lambda text: len(tokenizer.encode(text).ids))
    who = provider or "this model"
    return _tiktoken("o200k_base", False, f"estimate: {who}'s tokenizer is not available offline; o200k_base")


def _tiktoken(name: str, exact: bool, note: str) -> TokenCounter:
    encoding = _encoding(name)
    return TokenCounter(name, exact, note, lambda text: len(encoding.encode(text, disallowed_special=())))


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    import tiktoken
    from litellm.litellm_core_utils.default_encoding import encoding  # sets TIKTOKEN_CACHE_DIR first

    import router._litellm  # noqa: F401  (offline switches first)

    del encoding
    return tiktoken.get_encoding(name)


def _provider(model: str) -> tuple[str | None, str]:
    """(provider, model name without it), from the prefix or litellm's model map; never raises or prints."""
    if "/" in model:
        prefix, rest = model.split("/", 1)
        return prefix.lower(), rest.rsplit("/", 1)[-1]
    from router._litellm import litellm

    info = litellm.model_cost.get(model) or {}
    provider = info.get("litellm_provider")
    return (str(provider) if provider else None), model


def _looks_openai(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith(("gpt-", "chatgpt-", "o1", "o3", "o4"))


def count_tokens(text: str, model: str) -> int:
    """Text tokens for ``text`` as ``model``'s tokenizer counts them (see ``token_counter``)."""
    if not text:
        return 0
    return _COUNTS.get(model, text, lambda: _count(text, model))


def _count(text: str, model: str) -> int:
    counter = _counter_for(model).count
    try:
        return counter(text)
    except (TypeError, UnicodeError, ValueError):
        # Lone surrogates (valid in JSON, not encodable) break some tokenizers; count the replacement.
        return counter(text.encode("utf-8", "replace").decode("utf-8"))
