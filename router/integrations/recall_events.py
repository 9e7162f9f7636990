"""Recall rounds on Anthropic event streams: what the proxy streams back on ``POST /v1/messages``.

litellm passes Anthropic's server-sent events through as bytes (an event may span chunks, a chunk may
hold several). They are parsed here as they arrive: while the round is undecided they are held back;
once a text block or one of the caller's tools starts, everything flows to the caller (with any later
``hcr_recall`` block removed and the blocks after it renumbered); when ``hcr_recall`` starts, the
round is read to its end, assembled into a message, answered, and the next round streams instead.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from router.integrations.recall import RECALL_TOOL_NAME, Recall, StreamRound

__all__ = ["astream_events"]


@dataclass
class _Event:
    name: str
    data: dict[str, Any]


@dataclass
class _Parser:
    """Server-sent events from byte chunks, however they are cut."""

    buffer: bytes = b""

    def feed(self, chunk: bytes | str) -> Iterator[_Event]:
        self.buffer += chunk.encode() if isinstance(chunk, str) else chunk
        while b"\n\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            event = _parse(raw)
            if event is not None:
                yield event

    def rest(self) -> Iterator[_Event]:
        event = _parse(self.buffer) if self.buffer.strip() else None
        self.buffer = b""
        if event is not None:
            yield event


def _parse(raw: bytes) -> _Event | None:
    name, data = "", []
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
    try:
        payload = json.loads("\n".join(data)) if data else {}
    except ValueError:
        return None
    return _Event(name or payload.get("type", ""), payload) if isinstance(payload, dict) else None


def _encode(event: _Event) -> bytes:
    return f"event: {event.name}\ndata: {json.dumps(event.data)}\n\n".encode()


def _verdict(event: _Event) -> str | None:
    if event.name != "content_block_start":
        return None
    block = event.data.get("content_block") or {}
    if block.get("type") == "tool_use":
        return "recall" if block.get("name") == RECALL_TOOL_NAME else "pass"
    return "pass" if block.get("type") == "text" else None


@dataclass
class _Filter:
    """Drops the events of ``hcr_recall`` blocks and renumbers the blocks after them."""

    removed: set[int] = field(default_factory=set)
    tools_shown: bool = False

    def __call__(self, event: _Event) -> bytes | None:
        index = event.data.get("index")
        if event.name == "content_block_start":
            block = event.data.get("content_block") or {}
            if block.get("type") == "tool_use" and block.get("name") == RECALL_TOOL_NAME and isinstance(index, int):
                self.removed.add(index)
                return None
            self.tools_shown = self.tools_shown or block.get("type") == "tool_use"
        if isinstance(index, int):
            if index in self.removed:
                return None
            shifted = index - sum(1 for r in self.removed if r < index)
            event = _Event(event.name, {**event.data, "index": shifted})
        delta = event.data.get("delta") or {}
        if event.name == "message_delta" and delta.get("stop_reason") == "tool_use" and not self.tools_shown:
            event = _Event(event.name, {**event.data, "delta": {**delta, "stop_reason": "end_turn"}})
        return _encode(event)


def _assemble(events: list[_Event]) -> dict[str, Any]:
    """The message a round's events describe (content blocks with their inputs, and the stop reason)."""
    blocks: dict[int, dict[str, Any]] = {}
    inputs: dict[int, str] = {}
    stop = None
    for event in events:
        index = event.data.get("index", 0)
        if event.name == "content_block_start":
            blocks[index] = dict(event.data.get("content_block") or {})
        elif event.name == "content_block_delta":
            delta = event.data.get("delta") or {}
            if delta.get("type") == "text_delta":
                blocks[index]["text"] = blocks[index].get("text", "") + delta.get("text", "")
            elif delta.get("type") == "input_json_delta":
                inputs[index] = inputs.get(index, "") + delta.get("partial_json", "")
        elif event.name == "message_delta":
            stop = (event.data.get("delta") or {}).get("stop_reason")
    for index, text in inputs.items():
        try:
            blocks[index]["input"] = json.loads(text or "{}")
        except ValueError:
            blocks[index]["input"] = {}
    return {"content": [blocks[i] for i in sorted(blocks)], "stop_reason": stop}


async def astream_events(
    call: Callable[[dict[str, Any]], Awaitable[Any]], kwargs: dict[str, Any], recall: Recall, first: Any = None
) -> AsyncIterator[bytes]:
    """An Anthropic event stream with recall rounds answered; ``first`` as in ``recall.astream``."""
    if first is None:
        kwargs = recall.prepare(kwargs)
    while True:
        parser, round_ = _Parser(), StreamRound(_verdict, _Filter())
        opened, first = first if first is not None else await call(kwargs), None
        async for chunk in opened:
            for event in parser.feed(chunk):
                for out in round_.take(event):
                    yield out
        for event in parser.rest():
            for out in round_.take(event):
                yield out
        following = round_.following(recall, kwargs, _assemble)
        if following is None:
            for out in round_.rest():
                yield out
            return
        kwargs = following
