"""The event log: one JSON line per request, appended, for ``hcr stats`` and anyone's own tooling.

On by default in the proxy (``general_settings.event_log``, ``hcr-events.jsonl``; ``null`` turns it
off), off in the library. A line holds figures and decisions, never message content::

    {"time": "2026-11-30T03:31:02.114Z", "request_id": "...", "key": "3f9ab2c41d7e6f0a", "endpoint":
     "/v1/chat/completions", "model": "gpt", "deployment": "openai/gpt-4o", "status": 200, "bypassed": false,
     "encoder": "openai-tile", "tokens_before": 4209, "tokens_after": 907, "cost_before": 0.0105,
     "cost_after": 0.0023, "billed_input_tokens": 912, "images": 1, "image_bytes": 163310,
     "render_cache_hits": 0, "route_ms": 519.0, "backend_ms": 111.5, "chunks": [{"kind": "prose", ...}]}

``key`` is the caller's tenant (a digest of its API key), never the key.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from router.errors import RouterError
from router.inspector.trace import Trace

__all__ = ["EventLog", "event_of", "read_events"]


class EventLog:
    """Appends lines to ``path`` (created with its folder); safe across threads and processes (O_APPEND)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event, ensure_ascii=False, default=str) + "\n").encode()
        with self._lock:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(descriptor, line)  # one write per line: lines never interleave
            finally:
                os.close(descriptor)


def event_of(trace: Trace, *, key: str, image_bytes: int = 0) -> dict[str, Any]:
    """The log line of one request, from its trace: figures and decisions only."""
    at = time.gmtime(trace.at)
    event: dict[str, Any] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", at) + f".{int(trace.at % 1 * 1000):03d}Z",
        "request_id": trace.id,
        "key": key,
        "endpoint": trace.endpoint,
        "model": trace.model,
        "deployment": trace.deployment,
        "status": trace.status,
        "bypassed": trace.bypassed,
        "billed_input_tokens": trace.billed_input_tokens,
        "backend_ms": trace.backend_ms,
        "total_ms": trace.total_ms,
    }
    report = trace.report
    if report is not None:
        hits = sum(c.cached for c in report.chunks if c.action == "image")
        event |= {
            "encoder": report.encoder, "tokens_before": report.tokens_before, "tokens_after": report.tokens_after,
            "cost_before": report.cost_before, "cost_after": report.cost_after, "images": report.images,
            "image_bytes": image_bytes, "render_cache_hits": hits, "route_ms": round(report.route_ms, 1),
            "tokenizer": report.tokenizer, "recall_rounds": report.recall_rounds,
            "chunks": [
                {"kind": c.kind, "role": c.role, "action": c.action, "reason": c.reason, "density": c.density,
                 "text_tokens": c.text_tokens, "tokens_after": c.tokens_after, "pages": c.pages}
                for c in report.chunks
            ],
        }  # fmt: skip
    return event


def read_events(path: str | Path) -> Iterator[dict[str, Any]]:
    """The lines of an event log; a line cut short (a crash mid-write) is skipped, anything else that
    is not an event is an error naming the line."""
    source = Path(path)
    if not source.is_file():
        raise RouterError(f"{source}: no event log here (hcr serve writes one: general_settings.event_log)")
    with source.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                if not line.endswith("\n"):  # the last line, cut short
                    return
                raise RouterError(f"{source}:{number}: not a JSON line") from None
            if not isinstance(event, dict) or "model" not in event:
                raise RouterError(f"{source}:{number}: not an hcr event")
            yield event
