"""Streams from the backend to the caller, in the caller's wire format, within the request's deadline.

The concurrency slot a streaming request holds is freed when its stream ends, however it ends (done,
failed, cut at the deadline, or the client gone before the first byte). Once streaming has started
the status line is gone, so a backend failure travels inside the stream as an error event.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi.responses import StreamingResponse

from router.proxy.errors import backend_error, error_body

__all__ = ["HoldingStream", "Releasable", "anthropic_events", "openai_events", "responses_events", "within"]


class Releasable(Protocol):
    def release(self) -> None: ...


class HoldingStream(StreamingResponse):
    """A streaming response that frees its slot however it ends, even if its body never starts."""

    def __init__(self, slot: Releasable, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


async def within(stream: Any, deadline: float, slot: Releasable) -> AsyncIterator[Any]:
    """The backend's stream, ended at the request's deadline; the slot is freed when it ends, however."""
    loop = asyncio.get_running_loop()
    iterator = stream.__aiter__()
    try:
        while True:
            try:
                item = await asyncio.wait_for(iterator.__anext__(), max(0.0, deadline - loop.time()))
            except StopAsyncIteration:
                return
            yield item
    finally:
        slot.release()


async def openai_events(stream: AsyncIterator[Any], deployment: str, secrets: tuple[str, ...]) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"
    except Exception as exc:  # the status line is gone: the error travels inside the stream
        error = backend_error(exc, deployment, secrets)
        yield b"data: " + json.dumps(error_body(error, "openai")).encode() + b"\n\n"
        return
    yield b"data: [DONE]\n\n"


async def anthropic_events(
    stream: AsyncIterator[Any], deployment: str, secrets: tuple[str, ...]
) -> AsyncIterator[bytes]:
    try:
        async for event in stream:
            yield event if isinstance(event, bytes) else str(event).encode()
    except Exception as exc:
        error = backend_error(exc, deployment, secrets)
        yield b"event: error\ndata: " + json.dumps(error_body(error, "anthropic")).encode() + b"\n\n"


async def responses_events(
    stream: AsyncIterator[Any], deployment: str, secrets: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """Responses API events as OpenAI sends them: ``event: TYPE`` then the event as JSON."""
    try:
        async for event in stream:
            data = event.model_dump_json(exclude_none=True) if hasattr(event, "model_dump_json") else json.dumps(event)
            kind = getattr(event, "type", None) or (event.get("type") if isinstance(event, dict) else "message")
            yield f"event: {kind}\ndata: ".encode() + data.encode() + b"\n\n"
    except Exception as exc:
        error = backend_error(exc, deployment, secrets)
        yield b"event: error\ndata: " + json.dumps({"type": "error", **error_body(error, "openai")}).encode() + b"\n\n"
