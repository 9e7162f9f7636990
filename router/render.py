"""Stage 3: render one chunk into PNG pages at the target encoder's geometry.

``render_chunk`` is the one entry point. Pages have exactly the pixel size the encoder reads without
downscaling; the last page is cropped to its content so no tokens pay for blank space. Flowing text
(prose, markdown, tables) is laid out by PyMuPDF's Story API one column wide. Monospace text (code,
logs, JSON, HTML source) is wrapped by ``router.html`` with a continuation marker and packed into as
many columns as minimise billed tokens: short lines side by side, and the last page's columns
balanced before it is cropped. Output is deterministic (same bytes for the same input and settings)
and cached in memory, keyed by a hash of content and settings.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import pymupdf

from router import html as H
from router.density import MONO_KINDS, Density
from router.errors import RenderError
from router.geometry import EncoderProfile
from router.models import Chunk, Kind, Page, Rendering, Script

RENDER_VERSION = "1"  # bump when output bytes change, so cached pages are never stale
MAX_PAGES = 400  # per chunk; a longer chunk is an error and goes as text
MAX_COLUMNS = 4
MAX_WRAP_SHARE = 0.30  # more columns may add at most this share of continuation rows


@dataclass(frozen=True)
class RenderTarget:
    """Everything besides the text that decides the output bytes."""

    profile: EncoderProfile
    density: Density

    def key(self) -> str:
        p = self.profile
        return f"{RENDER_VERSION}|{p.name}|{p.page_width}x{p.page_height}|{self.density.model_dump_json()}"


def render_chunk(chunk: Chunk, target: RenderTarget) -> Rendering:
    """Render ``chunk`` (cached). Raises RenderError when it cannot be laid out."""
    return render_text(chunk.text, chunk.kind, chunk.script, chunk.language, target)


def render_text(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
    key = hashlib.sha256(
        "\x00".join((target.key(), kind, script, language or "", text)).encode("utf-8", "surrogatepass")
    ).hexdigest()
    cached = CACHE.get(key)
    if cached is not None:
        return cached.model_copy(update={"cached": True, "render_ms": 0.0, "encode_ms": 0.0})
    try:
        rendering = _render(text.strip("\n"), kind, script, language, target)
    except RenderError:
        raise
    except Exception as exc:  # MuPDF raises its own error types for layout failures
        raise RenderError(f"could not render {kind} chunk: {type(exc).__name__}: {exc}") from exc
    CACHE.put(key, rendering)
    return rendering


# --- layout -----------------------------------------------------------------------------------------


@dataclass
class _PagePlan:
    width: int
    height: int
    columns: list[str]  # HTML per column (one for flowing text)
    column_width: float


def _render(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
    if not text.strip():
        raise RenderError("nothing to render: the chunk is blank")
    density, profile = target.density, target.profile
    em = density.em_px(kind, script)
    css = H.base_css(em, density.line_height)
    started = time.perf_counter()
    colour = False
    if kind in MONO_KINDS:
        runs = H.highlight(text, language, kind)
        colour = any(c is not None for _, c in runs)
        plans = _plan_mono(runs, em, density, profile)
        pdf, bottoms = _draw_columns(plans, css, density)
        columns = len(plans[0].columns)
    else:
        body = H.prose_html(text) if kind == "prose" else H.markdown_html(text)
        colour = 'style="color:' in body
        pdf, bottoms = _draw_flow(body, css, density, profile)
        columns = 1
    laid_out = time.perf_counter()
    pages = _rasterise(pdf, bottoms, profile, grayscale=not colour)
    done = time.perf_counter()
    return Rendering(
        pages=pages,
        columns=columns,
        render_ms=(laid_out - started) * 1000,
        encode_ms=(done - laid_out) * 1000,
    )


def _draw_flow(body: str, css: str, density: Density, profile: EncoderProfile) -> tuple[bytes, list[tuple[int, int]]]:
    """Story layout one column wide; returns the PDF and each page's (width, height) to keep."""
    archive, _ = H.fonts()
    story = pymupdf.Story(html=body, user_css=css, archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    m, w, h = density.margin_px, profile.page_width, profile.page_height
    mediabox = pymupdf.Rect(0, 0, w, h)
    where = pymupdf.Rect(m, m, w - m, h - m)
    sizes: list[tuple[int, int]] = []
    more = 1
    while more:
        if len(sizes) >= MAX_PAGES:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
        device = writer.begin_page(mediabox)
        more, filled = story.place(where)
        story.draw(device)
        writer.end_page()
        bottom = h if more else min(h, math.ceil(filled[3]) + m)
        sizes.append((w, max(bottom, 2 * m + 1)))
    writer.close()
    return out.getvalue(), sizes


def _plan_mono(runs: list[H.Run], em: float, density: Density, profile: EncoderProfile) -> list[_PagePlan]:
    """Wrap and pack monospace lines into the column count that bills the fewest tokens."""
    m, gap = density.margin_px, density.column_gap_px
    line_px = em * density.line_height
    rows_per_column = max(1, int((profile.page_height - 2 * m) / line_px))
    best: tuple[int, int, list[_PagePlan]] | None = None
    source_lines = 0
    for n in range(1, MAX_COLUMNS + 1):
        column_px = (profile.page_width - 2 * m - (n - 1) * gap) / n
        if column_px < 24 * H.MONO_ADVANCE_EM * em:  # under 24 cells a column reads badly
            break
        lines = H.wrap_runs(runs, column_px / em)
        source_lines = source_lines or len(lines) - sum(line.continuation for line in lines)
        if n > 1 and len(lines) > source_lines * (1 + MAX_WRAP_SHARE):
            break  # narrower columns would split too many lines to be worth their saving
        used_px = min(column_px, max(line.width_em for line in lines) * em + 1)
        plans = _pack(lines, n, rows_per_column, used_px, line_px, density, profile)
        tokens = sum(profile.image_tokens(p.width, p.height) for p in plans)
        if best is None or tokens < best[0]:
            best = (tokens, n, plans)
    if best is None:
        raise RenderError(f"page {profile.page_width}px wide is too narrow for a {em}px monospace em")
    return best[2]


def _pack(
    lines: list[H.VisualLine],
    n: int,
    rows: int,
    column_px: float,
    line_px: float,
    density: Density,
    profile: EncoderProfile,
) -> list[_PagePlan]:
    m, gap = density.margin_px, density.column_gap_px
    plans: list[_PagePlan] = []
    per_page = n * rows
    for first in range(0, len(lines), per_page):
        page_lines = lines[first : first + per_page]
        page_rows = min(rows, math.ceil(len(page_lines) / n))  # balance the last page's columns
        columns = [page_lines[i : i + page_rows] for i in range(0, len(page_lines), page_rows)]
        width = min(profile.page_width, math.ceil(2 * m + len(columns) * column_px + (len(columns) - 1) * gap))
        height = min(profile.page_height, math.ceil(2 * m + page_rows * line_px) + 1)
        plans.append(_PagePlan(width, height, [H.lines_html(c) for c in columns], column_px))
        if len(plans) > MAX_PAGES:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    return plans


def _draw_columns(plans: list[_PagePlan], css: str, density: Density) -> tuple[bytes, list[tuple[int, int]]]:
    archive, _ = H.fonts()
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    m, gap = density.margin_px, density.column_gap_px
    for plan in plans:
        device = writer.begin_page(pymupdf.Rect(0, 0, plan.width, plan.height))
        for i, column in enumerate(plan.columns):
            x0 = m + i * (plan.column_width + gap)
            story = pymupdf.Story(html=column, user_css=css, archive=archive)
            # A little slack below: the rows were counted to fit, rounding must not push one over.
            story.place(pymupdf.Rect(x0, m, x0 + plan.column_width + 2, plan.height + 2 * m))
            story.draw(device)
        writer.end_page()
    writer.close()
    return out.getvalue(), [(p.width, p.height) for p in plans]


# --- raster + PNG -----------------------------------------------------------------------------------


def _rasterise(pdf: bytes, sizes: list[tuple[int, int]], profile: EncoderProfile, *, grayscale: bool) -> list[Page]:
    doc = pymupdf.open("pdf", pdf)
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    pages = []
    try:
        for page, (width, height) in zip(doc, sizes, strict=True):
            pix = page.get_pixmap(colorspace=colorspace, clip=pymupdf.Rect(0, 0, width, height), alpha=False)
            pages.append(
                Page(
                    png=pix.tobytes("png"),
                    width=pix.width,
                    height=pix.height,
                    tokens=profile.image_tokens(pix.width, pix.height),
                    grayscale=grayscale,
                )
            )
    finally:
        doc.close()
    return pages


# --- cache ------------------------------------------------------------------------------------------


class RenderCache:
    """Thread-safe LRU of renderings, bounded by entry count and PNG bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, Rendering] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Rendering | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: str, rendering: Rendering) -> None:
        size = sum(len(p.png) for p in rendering.pages)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = rendering
            self._bytes += size
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= sum(len(p.png) for p in old.pages)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


CACHE = RenderCache()
