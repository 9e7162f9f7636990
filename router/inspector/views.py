"""What the inspector's templates draw, computed from traces: list rows, the timeline of one request
with the words OCR missed, and the savings chart (plain SVG geometry, no chart library)."""

from __future__ import annotations

import difflib
import re
import time
from typing import Any
from urllib.parse import quote

from router.inspector.store import Totals
from router.inspector.trace import Trace
from router.models import ChunkReport

__all__ = ["chart", "marked_words", "row", "timeline"]

_SHOWN_CHARS = 60_000  # text shown per chunk; longer sources say how much more there is
_WORDS = re.compile(r"\S+|\s+")


def row(trace: Trace, prefix: str) -> dict[str, Any]:
    """One line of the requests list (also its JSON, which the page polls)."""
    report = trace.report
    return {
        "id": trace.id,
        "url": f"{prefix}/requests/{quote(trace.id, safe='')}",
        "time": time.strftime("%H:%M:%S", time.localtime(trace.at)),
        "at": trace.at,
        "model": trace.model,
        "deployment": trace.deployment,
        "endpoint": trace.endpoint,
        "status": trace.status,
        "encoder": report.encoder if report else "",
        "tokens_before": report.tokens_before if report else None,
        "tokens_after": report.tokens_after if report else None,
        "cost_before": _money(report.cost_before if report else None),
        "cost_after": _money(report.cost_after if report else None),
        "images": trace.images,
        "route_ms": round(report.route_ms) if report else None,
        "billed": trace.billed_input_tokens,
        "state": "bypassed" if trace.bypassed else ("failed" if trace.error else ("routed" if report else "")),
    }


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:.4f}"


def timeline(trace: Trace, prefix: str) -> list[dict[str, Any]]:
    """The request's chunks in order, as the model sees them: text, or pages beside their source."""
    report, content = trace.report, trace.content
    if report is None:
        return []
    base = f"{prefix}/requests/{quote(trace.id, safe='')}/pages"
    shown = []
    for chunk in sorted(report.chunks, key=lambda c: c.index):
        text = content.texts.get(chunk.index) if content else None
        pages = content.pages.get(chunk.index, []) if content else []
        readback = chunk.readback
        shown.append(
            {
                "chunk": chunk,
                "where": _where(chunk),
                "tokens_after": chunk.tokens_after,
                "text": None if text is None else text[:_SHOWN_CHARS],
                "more": 0 if text is None else max(0, len(text) - _SHOWN_CHARS),
                "pages": [
                    {"url": f"{base}/{chunk.index}/{n}.png", "width": p.width, "height": p.height, "tokens": p.tokens}
                    for n, p in enumerate(pages, 1)
                ],
                "factsheet": content.factsheets.get(chunk.index) if content else None,
                "marked": marked_words(text, readback.text) if text and readback and readback.text else None,
            }
        )
    return shown


def _where(chunk: ChunkReport) -> str:
    span = (
        f"messages {chunk.message_index}-{chunk.message_index + chunk.messages - 1}"
        if chunk.messages > 1
        else (f"message {chunk.message_index}")
    )
    return f"{span}, {chunk.role}" + (f" ({chunk.tool_name})" if chunk.tool_name else "")


def marked_words(source: str, read: str) -> list[tuple[str, bool]]:
    """``source`` cut into words and spaces, each word marked True where OCR's read-back lacks it
    (matched in order, so a word read elsewhere on the page does not count)."""
    pieces = _WORDS.findall(source[:_SHOWN_CHARS])
    words = [p for p in pieces if not p.isspace()]
    matcher = difflib.SequenceMatcher(None, words, read.split(), autojunk=False)
    found = [False] * len(words)
    for block in matcher.get_matching_blocks():
        for i in range(block.a, block.a + block.size):
            found[i] = True
    marked, n = [], 0
    for piece in pieces:
        if piece.isspace():
            marked.append((piece, False))
        else:
            marked.append((piece, not found[n]))
            n += 1
    return marked


def chart(totals: Totals, width: int = 760) -> dict[str, Any]:
    """Bars of tokens before and after, by model and by kind, scaled to the largest 'before'."""
    label_width, bar_height, gap = 170, 14, 10
    groups = [("by model", totals.by_model), ("by kind", totals.by_kind)]
    largest = max((s.tokens_before for _, group in groups for s in group), default=0) or 1
    scale = (width - label_width - 190) / largest  # room for the figures after the bar
    rows, y = [], 0
    for title, group in groups:
        if not group:
            continue
        rows.append({"title": title, "y": y + 12})
        y += 20
        for saving in group:
            rows.append(
                {
                    "label": saving.name, "y": y, "label_y": y + bar_height,
                    "before": max(1, round(saving.tokens_before * scale)),
                    "after": max(1, round(saving.tokens_after * scale)),
                    "text": f"{saving.tokens_before:,} → {saving.tokens_after:,}",
                    "share": f"-{saving.saved_share:.0%}" if saving.tokens_before else "",
                }
            )  # fmt: skip
            y += 2 * bar_height + gap
    return {"width": width, "height": y + 4, "x": label_width, "bar": bar_height, "rows": rows}
