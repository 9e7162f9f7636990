"""Cache scopes: a tenant's cached work is found only by that tenant.

Renderings, chunk splits and token counts are cached by content. Shared between the callers of one
proxy, a cache hit would tell tenant B, by a ``cached`` flag or by its speed, that tenant A sent the
same document. The proxy runs each request inside ``cache_scope(<digest of the caller's key>)`` and
every content-keyed cache puts ``current_scope()`` into its keys. A context variable, so threads and
tasks each see their own scope; the library default is one shared scope.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

__all__ = ["cache_scope", "current_scope"]

_SCOPE: ContextVar[str] = ContextVar("hcr_cache_scope", default="")


@contextlib.contextmanager
def cache_scope(name: str) -> Iterator[None]:
    """Cache entries made and found inside this block belong to ``name`` alone."""
    token = _SCOPE.set(name)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def current_scope() -> str:
    return _SCOPE.get()
