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
With a shared store (``router.shared_store``) every replica reads and writes the same memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any

from router.cache_scope import current_scope
from router.models import Chunk
from router.shared_store import shared_store

__all__ = ["DecisionMemory"]

_Key = tuple[str, str, str, int, int, int, int, bytes]


class DecisionMemory:
    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[_Key, tuple[str, str] | str] = OrderedDict()  # "text": sent as text
        self._lock = threading.Lock()

    def recalled(self, chunk: Chunk, model: str, encoder: str) -> tuple[str, str] | None:
        """(density, reason) this chunk was sent as an image with before, or None."""
        found = self._lookup(_key(chunk, model, encoder))
        return found if found != _TEXT else None  # type: ignore[return-value]

    def sent_as_text(self, chunk: Chunk, model: str, encoder: str) -> bool:
        """Whether this chunk went as text in an earlier request (so the provider may hold it cached)."""
        return self._lookup(_key(chunk, model, encoder)) == _TEXT

    def remember(self, chunk: Chunk, model: str, encoder: str, density: str, reason: str) -> None:
        self._put(_key(chunk, model, encoder), (density, reason))

    def remember_text(self, chunk: Chunk, model: str, encoder: str) -> None:
        key = _key(chunk, model, encoder)
        if self._lookup(key) is None:  # an image decision is never overwritten: it stays sticky
            self._put(key, _TEXT)

    def _lookup(self, key: _Key) -> tuple[str, str] | str | None:
        """Here, else in the shared store (what another replica sent), else None. A text send known
        here is checked against the store too: another replica may have drawn the chunk since (an
        image decision is sticky), and this one resending it as text would break the prompt cache
        the other's request started (two replicas of an agent session: argparse drawn by one at
        turn 2, sent as text again by the other at turn 3)."""
        with self._lock:
            local = self._items.get(key)
            if local is not None:
                self._items.move_to_end(key)
        store = shared_store()
        if local is not None and (local != _TEXT or store is None):
            return local
        stored = store.get(_shared_key(key)) if store is not None else None
        if stored is None:
            return local
        try:
            value: Any = json.loads(stored)
        except ValueError:
            return local
        found = _TEXT if value == _TEXT else (str(value[0]), str(value[1])) if isinstance(value, list) else None
        if found is None:
            return local
        self._keep(key, found)
        return found

    def _put(self, key: _Key, value: tuple[str, str] | str) -> None:
        self._keep(key, value)
        store = shared_store()
        if store is not None:
            store.set(_shared_key(key), json.dumps(value).encode())

    def _keep(self, key: _Key, value: tuple[str, str] | str) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


_TEXT = "text"


def _shared_key(key: _Key) -> str:
    """The shared store's name for a memory entry (the scope is in it: tenants never share)."""
    named = "|".join(str(part) for part in key[:-1]) + "|" + key[-1].hex()
    return "memory:" + hashlib.sha256(named.encode("utf-8", "surrogatepass")).hexdigest()


def _key(chunk: Chunk, model: str, encoder: str) -> _Key:
    digest = hashlib.blake2b(chunk.text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    part = -1 if chunk.part_index is None else chunk.part_index
    sub = -1 if chunk.sub_index is None else chunk.sub_index
    return (current_scope(), model, encoder, chunk.message_index, part, sub, chunk.start, digest)
