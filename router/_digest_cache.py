"""A small thread-safe LRU keyed by a digest of (long) text, so keys never hold the text itself.

Long documents recur across the turns of a conversation; hashing one is far cheaper than tokenizing
or re-splitting it. Used for token counts and chunk splits; keys are per cache scope (tenant).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from router.cache_scope import current_scope

T = TypeVar("T")


class DigestCache(Generic[T]):
    def __init__(self, max_entries: int, min_chars: int = 4096) -> None:
        self.max_entries, self.min_chars = max_entries, min_chars
        self._items: OrderedDict[tuple[str, bytes], T] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, namespace: str, text: str) -> tuple[str, bytes]:
        digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        return (f"{current_scope()}|{namespace}", digest)

    def peek(self, namespace: str, text: str) -> T | None:
        """The cached value for ``text``, or None (whatever its length: for callers that compute elsewhere)."""
        key = self._key(namespace, text)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, namespace: str, text: str, value: T) -> None:
        key = self._key(namespace, text)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get(self, namespace: str, text: str, compute: Callable[[], T]) -> T:
        """The cached value for ``text`` (in ``namespace``), computing it on a miss; short texts skip the cache."""
        if len(text) < self.min_chars:
            return compute()
        key = self._key(namespace, text)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value
