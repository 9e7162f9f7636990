"""State shared by every replica: sticky decisions and renderings in Redis, when configured.

Routing is decided by content, policy and target, except for one thing: what was sent before (a
chunk sent as an image stays one; text sent before may be cached by the provider). With several
``hcr serve`` processes or replicas behind a load balancer, that memory must be one, or an agent's
history could be drawn differently depending on which replica answers. With a shared store
(``cache: {type: redis, url: ...}`` in the proxy config) the decision memory and the render cache
read through to Redis on a local miss and write through to it, so any replica sends the same bytes
and finds the pages another one drew. Keys carry the cache scope (a digest of the caller's key):
tenants never share entries. Entries expire (``ttl_s``) and large renderings are not shared.

A Redis outage never fails a request: each operation gives up after a short timeout, the store is
skipped for a few seconds, a warning is logged (once per outage), and local caches carry on.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from router.models import Page, Rendering

__all__ = ["RedisStore", "rendering_from_bytes", "rendering_to_bytes", "shared_store", "use_shared_store"]

log = logging.getLogger("router.shared_store")
_RETRY_AFTER_S = 5.0


class RedisStore:
    def __init__(self, url: str, *, ttl_s: int = 86_400, max_value_bytes: int = 8 * 1024 * 1024,
                 prefix: str = "hcr:", timeout_s: float = 0.25) -> None:  # fmt: skip
        import redis

        self.url, self.ttl_s, self.max_value_bytes, self.prefix = url, ttl_s, max_value_bytes, prefix
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.outages = 0

    def get(self, key: str) -> bytes | None:
        if self._skipping():
            return None
        try:
            value = self._client.get(self.prefix + key)
        except self._errors as exc:
            self._down(exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes) -> None:
        if len(value) > self.max_value_bytes or self._skipping():
            return
        try:
            self._client.set(self.prefix + key, value, ex=self.ttl_s)
        except self._errors as exc:
            self._down(exc)

    def _skipping(self) -> bool:
        return time.monotonic() < self._down_until

    def _down(self, exc: BaseException) -> None:
        with self._lock:
            if not self._skipping():
                self.outages += 1
                log.warning("shared store %s unreachable (%s); using local caches for %g s",
                            self.url, type(exc).__name__, _RETRY_AFTER_S)  # fmt: skip
            self._down_until = time.monotonic() + _RETRY_AFTER_S


def rendering_to_bytes(rendering: Rendering) -> bytes:
    """A rendering as JSON (its PNGs as the data URLs it carries anyway); never pickled."""
    pages = [{"data_url": p.data_url, "width": p.width, "height": p.height, "tokens": p.tokens,
              "grayscale": p.grayscale, "gutters": list(p.gutters)} for p in rendering.pages]  # fmt: skip
    stored = {"pages": pages, "columns": rendering.columns, "undrawn": rendering.undrawn, "shown": rendering.shown}
    return json.dumps(stored).encode()


def rendering_from_bytes(data: bytes) -> Rendering | None:
    """The rendering stored by ``rendering_to_bytes``; None for anything else."""
    try:
        stored: Any = json.loads(data)
        pages = [
            Page(png=base64.b64decode(p["data_url"].split(",", 1)[1], validate=True), data_url=p["data_url"],
                 width=p["width"], height=p["height"], tokens=p["tokens"], grayscale=p["grayscale"],
                 gutters=tuple(p.get("gutters") or ()))
            for p in stored["pages"]
        ]  # fmt: skip
        return Rendering(
            pages=pages, columns=stored["columns"], undrawn=list(stored.get("undrawn") or []),
            shown=str(stored.get("shown") or ""),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, IndexError):
        return None


_store: RedisStore | None = None


def use_shared_store(store: RedisStore | None) -> None:
    """Read and write decisions and renderings through ``store`` (None: local caches only)."""
    global _store
    _store = store


def shared_store() -> RedisStore | None:
    return _store
