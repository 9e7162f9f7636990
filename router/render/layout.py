"""Page layout: HTML laid out by PyMuPDF's Story API, rasterised, and packed into encoder pages.

Two layouts, both returning raster pages (uint8 arrays) of at most the encoder's page size:

- Flowing text (prose, markdown, tables) is laid out as one long strip one column wide, rasterised,
  then cut at the rows with the least ink (the gaps between lines) into column pieces that are set
  side by side. Cutting the raster rather than the text balances the last page's columns exactly,
  so cropping it to its content pays for no blank space. Wide pages get two columns of a readable
  line length; a chunk with tables keeps one full-width column.
- Monospace text (code, logs, JSON, HTML source) is wrapped by ``router.render.markup`` and packed into the
  column count that bills the fewest tokens while wrapping at most ``MAX_WRAP_SHARE`` of its lines.
"""

from __future__ import annotations

import functools
import io
import math
import unicodedata
from dataclasses import dataclass

import numpy as np
import pymupdf

from router.errors import RenderError
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.density import Density, Typesetting

MAX_PAGES = 400  # per chunk; a longer chunk is an error and goes as text
MAX_COLUMNS = 4
MAX_WRAP_SHARE = 0.30  # more columns may add at most this share of continuation rows
MIN_FLOW_COLUMN_PX = 360  # a flowing-text column narrower than this reads worse than it saves
_STRIP_SEGMENT_PX = 4096  # the strip is laid out in segments of this height
_INK_LEVEL = 160  # a pixel darker than this is ink


@dataclass(frozen=True)
class LaidOut:
    pages: list[np.ndarray]
    columns: int
    text: str  # the text MuPDF placed inside the drawn areas: what the pages show, for the completeness check


def _pixmap_array(pix: pymupdf.Pixmap) -> np.ndarray:
    array = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    return array[:, :, 0].copy() if pix.n == 1 else array.copy()


# --- flowing text -----------------------------------------------------------------------------------


def layout_flow(body: str, css: str, density: Density, profile: EncoderProfile, *, grayscale: bool) -> LaidOut:
    m, gap = density.margin_px, density.column_gap_px
    usable = profile.page_width - 2 * m
    columns = 1 if "<table" in body else max(1, min(MAX_COLUMNS, (usable + gap) // (MIN_FLOW_COLUMN_PX + gap)))
    column_px = (usable - (columns - 1) * gap) // columns
    strip, text = _flow_strip(body, css, column_px, grayscale=grayscale)
    pieces = _cut_strip(strip, columns, profile.page_height - 2 * m)
    pages = []
    for first in range(0, len(pieces), columns):
        group = pieces[first : first + columns]
        pages.append(_compose(group, column_px, density, grayscale=grayscale))
        if len(pages) > MAX_PAGES:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    return LaidOut(pages, columns, text)


def _flow_strip(body: str, css: str, column_px: int, *, grayscale: bool) -> tuple[np.ndarray, str]:
    """The whole chunk laid out one column wide, as one tall raster, and the text inside it."""
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=body, user_css=css, archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    box = pymupdf.Rect(0, 0, column_px, _STRIP_SEGMENT_PX)
    bottoms: list[float] = []
    more = 1
    while more:
        if len(bottoms) * _STRIP_SEGMENT_PX > MAX_PAGES * 2048:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
        device = writer.begin_page(box)
        more, filled = story.place(box)
        story.draw(device)
        writer.end_page()
        bottoms.append(_STRIP_SEGMENT_PX if more else filled[3])
    writer.close()
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    segments, texts = [], []
    with pymupdf.open("pdf", out.getvalue()) as doc:
        for page, bottom in zip(doc, bottoms, strict=True):
            clip = pymupdf.Rect(0, 0, column_px, max(1, math.ceil(bottom)))
            segments.append(_pixmap_array(page.get_pixmap(colorspace=colorspace, clip=clip, alpha=False)))
            texts.append(page.get_text("text", clip=clip))  # text past the column's edge is not on the page
    return np.concatenate(segments, axis=0), repair_extracted("".join(texts))


def repair_extracted(text: str) -> str:
    """LaidOut-out text with the letters MuPDF misreads from the text font's ligature glyphs put back."""
    for misread, letters in _ligature_misreadings():
        text = text.replace(misread, letters)
    return text


@functools.lru_cache(maxsize=1)
def _ligature_misreadings() -> tuple[tuple[str, str], ...]:
    """FiraGO draws "ft", "ffi" and other f-sequences with ligature glyphs that MuPDF's text extraction
    reports as unrelated code points ("after" reads "aǓter"). Each sequence is laid out once, in every
    style, and read back: what comes back wrong is mapped to the letters drawn."""
    probes = sorted({f"f{c}" for c in "abcdefghijklmnopqrstuvwxyz"} | {f"ff{c}" for c in "bhijklt"} | {"tt", "Th"})
    styles = ("{}", "<b>{}</b>", "<i>{}</i>", "<b><i>{}</i></b>")
    cases = [(style, probe) for style in styles for probe in probes]
    body = "".join(f"<p>{i}:" + style.format(f"x{probe}x") + "</p>" for i, (style, probe) in enumerate(cases))
    archive, css = markup.fonts()
    story = pymupdf.Story(html=body, user_css=css + "body {font-family: sans; font-size: 10px;}", archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    box = pymupdf.Rect(0, 0, 400, 20 * len(cases))
    device = writer.begin_page(box)
    story.place(box)
    story.draw(device)
    writer.end_page()
    writer.close()
    with pymupdf.open("pdf", out.getvalue()) as doc:
        lines = doc[0].get_text("text").split("\n")
    found = set()
    for line in lines:
        number, _, read = line.partition(":x")
        probe = cases[int(number)][1] if number.isdigit() and int(number) < len(cases) else None
        if probe and read.endswith("x") and unicodedata.normalize("NFKC", read[:-1]) != probe:
            found.add((read[:-1], probe))
    return tuple(sorted(found, key=lambda pair: -len(pair[0])))


def _cut_strip(strip: np.ndarray, columns: int, column_height: int) -> list[np.ndarray]:
    """Cut the strip into pieces of at most ``column_height`` rows, at the rows with least ink."""
    ink = (strip.min(axis=2) if strip.ndim == 3 else strip) < _INK_LEVEL
    row_ink = ink.sum(axis=1)
    total = _content_bottom(row_ink)
    pieces: list[np.ndarray] = []
    position = 0
    while position < total:
        rest = total - position
        left_on_page = columns - len(pieces) % columns
        # Fill columns until the rest fits on this page; then share the rest evenly between them.
        target = column_height if rest > left_on_page * column_height else math.ceil(rest / left_on_page)
        cut = total if rest <= target else _best_cut(row_ink, position, target, column_height)
        pieces.append(strip[position:cut])
        position = cut
        while position < total and row_ink[position] == 0:  # start each piece on ink, not on a gap
            position += 1
    return pieces


def _content_bottom(row_ink: np.ndarray) -> int:
    inked = np.flatnonzero(row_ink)
    return int(inked[-1]) + 1 if inked.size else 0


def _best_cut(row_ink: np.ndarray, start: int, target: int, limit: int) -> int:
    """A row near ``start + target`` (never past ``start + limit``) through as little ink as possible."""
    high = start + min(limit, target + max(4, target // 10))
    low = start + max(1, target - max(8, target // 4))
    window = row_ink[low:high]
    if window.size == 0:
        return start + limit
    least = window.min()
    candidates = np.flatnonzero(window == least) + low
    # Among the emptiest rows, the one nearest the target keeps columns even.
    return int(candidates[np.argmin(np.abs(candidates - (start + target)))])


def _compose(pieces: list[np.ndarray], column_px: int, density: Density, *, grayscale: bool) -> np.ndarray:
    m, gap = density.margin_px, density.column_gap_px
    height = 2 * m + max(p.shape[0] for p in pieces)
    width = 2 * m + len(pieces) * column_px + (len(pieces) - 1) * gap
    shape = (height, width) if grayscale else (height, width, 3)
    page = np.full(shape, 255, dtype=np.uint8)
    for i, piece in enumerate(pieces):
        x = m + i * (column_px + gap)
        page[m : m + piece.shape[0], x : x + piece.shape[1]] = piece
    return page


# --- monospace --------------------------------------------------------------------------------------


@dataclass
class _PagePlan:
    width: int
    height: int
    columns: list[str]  # HTML per column
    column_px: float


def layout_mono(
    runs: list[markup.Run],
    setting: Typesetting,
    css: str,
    density: Density,
    profile: EncoderProfile,
    *,
    grayscale: bool,
) -> LaidOut:
    plans = _plan_mono(runs, setting.em_px, setting.line_height, density, profile)
    archive, _ = markup.fonts()
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    m, gap = density.margin_px, density.column_gap_px
    for plan in plans:
        device = writer.begin_page(pymupdf.Rect(0, 0, plan.width, plan.height))
        for i, column in enumerate(plan.columns):
            x0 = m + i * (plan.column_px + gap)
            story = pymupdf.Story(html=column, user_css=css, archive=archive)
            # Slack below: the rows were counted to fit, and rounding must not push the last one over.
            story.place(pymupdf.Rect(x0, m, x0 + plan.column_px + 2, plan.height + 2 * m))
            story.draw(device)
        writer.end_page()
    writer.close()
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    with pymupdf.open("pdf", out.getvalue()) as doc:
        pages = [_pixmap_array(page.get_pixmap(colorspace=colorspace, alpha=False)) for page in doc]
        text = "".join(page.get_text("text", clip=page.rect) for page in doc)
    return LaidOut(pages, len(plans[0].columns), text)


def _plan_mono(
    runs: list[markup.Run], em: float, line_height: float, density: Density, profile: EncoderProfile
) -> list[_PagePlan]:
    """Wrap and pack monospace lines into the column count that bills the fewest tokens."""
    m, gap = density.margin_px, density.column_gap_px
    line_px = em * line_height
    rows_per_column = max(1, int((profile.page_height - 2 * m) / line_px))
    best: tuple[int, list[_PagePlan]] | None = None
    source_lines = 0
    for n in range(1, MAX_COLUMNS + 1):
        column_px = (profile.page_width - 2 * m - (n - 1) * gap) / n
        if column_px < 24 * markup.MONO_ADVANCE_EM * em:  # under 24 cells a column reads badly
            break
        lines = markup.wrap_runs(runs, column_px / em)
        source_lines = source_lines or len(lines) - sum(line.continuation for line in lines)
        if n > 1 and len(lines) > source_lines * (1 + MAX_WRAP_SHARE):
            break  # narrower columns would split too many lines to be worth their saving
        used_px = min(column_px, max(line.width_em for line in lines) * em + 1)
        plans = _pack(lines, n, rows_per_column, used_px, line_px, density, profile)
        tokens = sum(profile.image_tokens(p.width, p.height) for p in plans)
        if best is None or tokens < best[0]:
            best = (tokens, plans)
    if best is None:
        raise RenderError(f"a page {profile.page_width}px wide is too narrow for a {em}px monospace em")
    return best[1]


def _pack(
    lines: list[markup.VisualLine],
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
        plans.append(_PagePlan(width, height, [markup.lines_html(c) for c in columns], column_px))
        if len(plans) > MAX_PAGES:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    return plans
