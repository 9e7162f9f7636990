"""One routed request as the inspector shows it: figures and decisions always, content when kept.

A ``Trace`` is made from a ``RoutedRequest`` by the proxy (``hcr serve``) or by ``hcr route --out``
(written there as ``trace.json`` beside the PNG pages). Without content it holds no text of the
caller's: the report (kinds, decisions, token counts) and the call's outcome. With content it adds
each chunk's source text, the pages as sent, the factsheets and what OCR read back.
"""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, Field

from router.models import RoutedRequest, RouteReport

__all__ = ["PageView", "Trace", "TraceContent", "strip_content", "trace_of"]


class PageView(BaseModel):
    """One page as sent: its size and billed tokens; the PNG in memory or as a file of an out folder."""

    width: int
    height: int
    tokens: int
    size: int = Field(description="PNG bytes")
    file: str | None = Field(None, description="file name in the out folder it was loaded from")
    png: bytes | None = Field(None, exclude=True, repr=False)


class TraceContent(BaseModel):
    """The caller's content: kept only where the operator asked (``ui.keep_content``) or by ``hcr route``."""

    texts: dict[int, str] = Field(default_factory=dict, description="chunk index -> source text")
    pages: dict[int, list[PageView]] = Field(default_factory=dict, description="chunk index -> pages as sent")
    factsheets: dict[int, str] = Field(default_factory=dict, description="chunk index -> exact strings sent as text")

    @property
    def size(self) -> int:
        """Bytes held: text (UTF-8 length estimated as characters) and PNGs."""
        pages = sum(p.size for views in self.pages.values() for p in views)
        return pages + sum(len(t) for t in self.texts.values()) + sum(len(f) for f in self.factsheets.values())


class Trace(BaseModel):
    """What the inspector knows of one request."""

    id: str
    at: float = Field(default_factory=time.time, description="when it arrived (seconds since the epoch)")
    endpoint: str = ""
    wire: Literal["openai", "anthropic"] = "openai"
    model: str = Field(description="the name the caller asked for")
    deployment: str = Field("", description="the model it was sent to")
    status: int | None = Field(None, description="HTTP status returned; None for a dry run from the CLI")
    bypassed: bool = False
    report: RouteReport | None = None
    total_ms: float | None = None
    backend_ms: float | None = Field(None, description="the backend call, until its answer or its stream opened")
    billed_input_tokens: int | None = Field(None, description="input tokens the backend reported in `usage`")
    recall: list[str] = Field(default_factory=list, description="hcr_recall calls answered, as the model asked")
    error: str | None = None
    content: TraceContent | None = None

    @property
    def images(self) -> int:
        return self.report.images if self.report else 0


def trace_of(routed: RoutedRequest, *, id: str, model: str, wire: Literal["openai", "anthropic"] = "openai",
             endpoint: str = "", keep_content: bool = False) -> Trace:  # fmt: skip
    """A trace of ``routed``; with ``keep_content``, its texts, pages and factsheets too."""
    report = routed.report.model_copy(deep=True)
    trace = Trace(id=id, endpoint=endpoint, wire=wire, model=model, deployment=routed.model, report=report)
    if not keep_content:
        return strip_content(trace)
    pages = {
        index: [PageView(width=p.width, height=p.height, tokens=p.tokens, size=len(p.png), png=p.png) for p in views]
        for index, views in routed.pages.items()
    }
    texts = {c.index: c.text for c in routed.chunks}
    trace.content = TraceContent(texts=texts, pages=pages, factsheets=dict(routed.factsheets))
    return trace


def strip_content(trace: Trace) -> Trace:
    """``trace`` without anything of the caller's text: no content, no read-back text, no missing strings."""
    trace.content = None
    if trace.report is not None:
        for chunk in trace.report.chunks:
            if chunk.readback is not None:
                chunk.readback = chunk.readback.model_copy(update={"text": "", "missing": []})
    return trace
