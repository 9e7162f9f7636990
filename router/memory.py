"""Sticky decisions: a chunk sent as an image stays an image in every later request of its session.

Agents resend the whole history every turn, and the provider's prompt cache only pays if the prefix
is the very same bytes. Rules that look at a chunk's position (the live turn, "not yet answered",
turns since) would otherwise flip an old chunk back and forth as the conversation grows, and the
image limits would push different chunks out as more images arrive. So once a chunk has gone as an
image, this memory says so for the same text at the same place (message, part, offset) for the same
model and encoder, and the router keeps it an image; renderings are deterministic and cached, so
the pages are byte-identical. Text sends are remembered too, but not made sticky: a chunk that was
text because the model was still acting on it may become an image once it is old, if drawing it
still pays with the provider's cache of it counted (``router.cache_gate``).

Bounded (least recently used entries go first), per cache scope: the proxy keeps one per API key.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from router.cache_scope import current_scope
from router.models import Chunk

__all__ = ["DecisionMemory"]

_Key = tuple[str, str, str, int, int, int, int, bytes]


class DecisionMemory:
    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[_Key, tuple[str, str] | None] = OrderedDict()  # None: sent as text
        self._lock = threading.Lock()

    def recalled(self, chunk: Chunk, model: str, encoder: str) -> tuple[str, str] | None:
        """(density, reason) this chunk was sent as an image with before, or None."""
        key = _key(chunk, model, encoder)
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def sent_as_text(self, chunk: Chunk, model: str, encoder: str) -> bool:
        """Whether this chunk went as text in an earlier request (so the provider may hold it cached)."""
        key = _key(chunk, model, encoder)
        with self._lock:
            return key in self._items and self._items[key] is None

    def remember(self, chunk: Chunk, model: str, encoder: str, density: str, reason: str) -> None:
        self._put(_key(chunk, model, encoder), (density, reason))

    def remember_text(self, chunk: Chunk, model: str, encoder: str) -> None:
        key = _key(chunk, model, encoder)
        with self._lock:
            known = key in self._items
        if not known:  # an image decision is never overwritten: it stays sticky
            self._put(key, None)

    def _put(self, key: _Key, value: tuple[str, str] | None) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


def _key(chunk: Chunk, model: str, encoder: str) -> _Key:
    digest = hashlib.blake2b(chunk.text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    part = -1 if chunk.part_index is None else chunk.part_index
    sub = -1 if chunk.sub_index is None else chunk.sub_index
    return (current_scope(), model, encoder, chunk.message_index, part, sub, chunk.start, digest)
