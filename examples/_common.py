"""Shared by the examples: the real provider when its API key is set, a local backend otherwise.

Each example imports this module first: it tells litellm to use its bundled price map before litellm
is imported (otherwise litellm fetches one from the internet on import), as your own code should when
it imports litellm itself; the router does the same for its own import of litellm.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from router import RouteReport
from router.testing import AnthropicBackend, Backend, GeminiBackend, OpenAIBackend, free_port, wait_until_up

__all__ = ["free_port", "load_request", "provider", "show", "wait_until_up"]
REQUESTS = Path(__file__).parent / "requests"
KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
LOCAL = {"openai": OpenAIBackend, "anthropic": AnthropicBackend, "gemini": GeminiBackend}


def load_request(name: str) -> dict[str, Any]:
    return json.loads((REQUESTS / name).read_text(encoding="utf-8"))


@contextlib.contextmanager
def provider(name: str) -> Iterator[Backend | None]:
    """Yield None when the provider's key is set (talk to it for real), else a local backend."""
    if os.environ.get(KEYS[name]):
        print(f"{KEYS[name]} is set: calling the real {name} API.")
        yield None
        return
    with LOCAL[name]() as backend:
        print(f"{KEYS[name]} is not set: using a local {name}-compatible backend at {backend.url}.")
        yield backend


def show(report: RouteReport | None, answer: str | None) -> None:
    if report is not None:
        images = sum(c.action == "image" for c in report.chunks)
        print(
            f"routed for {report.model} ({report.encoder}): {report.tokens_before:,} -> {report.tokens_after:,} "
            f"input tokens, {images} chunk(s) as {report.images} image(s)"
        )
    print(f"answer: {answer}")
