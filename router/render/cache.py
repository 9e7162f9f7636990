"""Renderings cached in memory by a digest of their content, settings and cache scope (and in the
shared store, when one is configured: ``router.shared_store``)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict

from router.models import Rendering
from router.shared_store import rendering_from_bytes, rendering_to_bytes, shared_store

__all__ = ["RenderCache", "render_cache"]


class RenderCache:
    """Thread-safe LRU of renderings, bounded by entry count and PNG bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, Rendering] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Rendering | None:
        """The rendering for ``key``: from memory, else from the shared store (another replica's)."""
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return item
        store = shared_store()
        stored = store.get(f"render:{key}") if store is not None else None
        found = rendering_from_bytes(stored) if stored is not None else None
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
        self._keep(key, found)
        return found

    def put(self, key: str, rendering: Rendering) -> None:
        self._keep(key, rendering)
        store = shared_store()
        if store is not None:
            store.set(f"render:{key}", rendering_to_bytes(rendering))

    def _keep(self, key: str, rendering: Rendering) -> None:
        size = _held(rendering)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = rendering
            self._bytes += size
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= _held(old)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


@functools.lru_cache(maxsize=1)
def render_cache() -> RenderCache:
    """The process's render cache, made on first use."""
    return RenderCache()


def _held(rendering: Rendering) -> int:
    """Bytes a cached rendering holds: its PNGs, their data URLs and the drawn text kept for scoring."""
    return sum(len(p.png) + len(p.data_url) for p in rendering.pages) + len(rendering.shown)
