"""Page layout: HTML laid out by PyMuPDF's Story API, rasterised, and packed into encoder pages.

Two layouts, both returning raster pages (uint8 arrays) of at most the encoder's page size:

- Flowing text (prose, markdown, tables) is laid out as one long strip one column wide, rasterised,
  then cut at the rows with the least ink (the gaps between lines) into column pieces that are set
  side by side. Cutting the raster rather than the text balances the last page's columns exactly,
  so cropping it to its content pays for no blank space. Wide pages get two columns of a readable
  line length; a chunk with tables keeps one full-width column, cropped to the right edge of its
  content where its tables are narrower.
- Monospace text (code, logs, JSON, HTML source) is wrapped by ``router.render.lines`` at the width
  that bills the fewest tokens (wrapping at most ``MAX_WRAP_SHARE`` more of its lines) and packed
  into columns each as wide as its longest line, set side by side while the page has room.

Each page comes with the x of its gutters, so the read-back cuts it where the columns are.
"""

from __future__ import annotations

import functools
import io
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pymupdf

from router.errors import RenderError
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.density import Density, Typesetting
from router.render.extraction import repair_extracted
from router.render.lines import CONTINUATION, Run, VisualLine, lines_html, width_em_of, wrap_runs
from router.render.tables import MONO_ADVANCE_EM

__all__ = [
    "MAX_COLUMNS",
    "MAX_PAGES",
    "MAX_WRAP_SHARE",
    "MIN_MONO_CELLS",
    "LaidOut",
    "layout_flow",
    "layout_mono",
    "plan_mono",
]

_MARKER_EM = width_em_of(CONTINUATION)

MAX_PAGES = 400  # per chunk; a longer chunk is an error and goes as text
MAX_COLUMNS = 4
MAX_WRAP_SHARE = 0.30  # a narrower wrap width may add at most this share of continuation rows
MIN_MONO_CELLS = 24  # a monospace column wrapped narrower than this reads badly
_VERIFIED = 3  # wrap widths laid out for real after the estimate ranks them
_VERIFIED_TILED = 8  # at most, where a family bills whole tiles
MIN_FLOW_COLUMN_PX = 360  # a flowing-text column narrower than this reads worse than it saves
_STRIP_SEGMENTS_PX = (4096, 3968, 3840, 3712)  # the strip is laid out in segments of the first that works
_INK_LEVEL = 160  # a pixel darker than this is ink
_PAPER_LEVEL = 250  # a pixel darker than this is drawn on, not blank page


@dataclass(frozen=True)
class LaidOut:
    pages: list[np.ndarray]
    columns: int
    text: str  # the text MuPDF placed inside the drawn areas: what the pages show, for the completeness check
    gutters: list[tuple[int, ...]]  # per page: x of the middle of each gap between columns


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
    # A table narrower than the column leaves the rest of it blank: families billed by area pay for none
    # of it (litellm's price table at 7 px on Claude: 384 of 768 px wide, 865 image tokens a page).
    column_px = min(column_px, _content_right(strip))
    strip = strip[:, :column_px]
    pieces = _cut_strip(strip, columns, profile.page_height - 2 * m)
    pages, gutters = [], []
    for first in range(0, len(pieces), columns):
        group = pieces[first : first + columns]
        pages.append(_fit_tiles(_compose(group, column_px, density, grayscale=grayscale), profile))
        gutters.append(tuple(round(m + i * (column_px + gap) - gap / 2) for i in range(1, len(group))))
        if len(pages) > MAX_PAGES:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    return LaidOut(pages, columns, text, gutters)


def _flow_strip(body: str, css: str, column_px: int, *, grayscale: bool) -> tuple[np.ndarray, str]:
    """The whole chunk laid out one column wide, as one tall raster, and the text inside it."""
    for segment_px in _STRIP_SEGMENTS_PX:
        placed = _place(body, css, column_px, segment_px)
        if placed is not None:
            break
    else:
        raise RenderError("the layout engine placed text past the bottom of every segment height tried")
    pdf, bottoms = placed
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    segments, texts = [], []
    with pymupdf.open("pdf", pdf) as doc:
        for page, bottom in zip(doc, bottoms, strict=True):
            clip = pymupdf.Rect(0, 0, column_px, max(1, math.ceil(bottom)))
            segments.append(_pixmap_array(page.get_pixmap(colorspace=colorspace, clip=clip, alpha=False)))
            texts.append(page.get_text("text", clip=clip))  # text past the column's edge is not on the page
    return np.concatenate(segments, axis=0), repair_extracted("".join(texts))


def _place(body: str, css: str, column_px: int, segment_px: int) -> tuple[bytes, list[float]] | None:
    """The story placed in segments ``segment_px`` tall: the PDF and each segment's filled height. None
    where MuPDF says it placed the rest of the story past a segment's bottom, which it does at some
    heights and draws none of (the GPL at 10 px in a 377-px column: 5,382 px from a 4,096-px segment,
    a quarter of its words lost)."""
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=body, user_css=css, archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    box = pymupdf.Rect(0, 0, column_px, segment_px)
    bottoms: list[float] = []
    more = 1
    while more:
        if len(bottoms) * segment_px > MAX_PAGES * 2048:
            raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
        device = writer.begin_page(box)
        more, filled = story.place(box)
        story.draw(device)
        writer.end_page()
        if not more and filled[3] > segment_px + 0.5:  # a row a few px over, with more to place: as before
            writer.close()
            return None
        bottoms.append(segment_px if more else filled[3])
    writer.close()
    return out.getvalue(), bottoms


def _darkest(strip: np.ndarray) -> np.ndarray:
    """Each pixel's darkest channel. Plane by plane: numpy's min over a last axis of 3 is 10x slower."""
    return strip if strip.ndim == 2 else np.minimum(np.minimum(strip[..., 0], strip[..., 1]), strip[..., 2])


def _fit_tiles(page: np.ndarray, profile: EncoderProfile) -> np.ndarray:
    """The page with its blank rows above and below cut to 1 px each where that bills a tile fewer.
    Whole tiles are billed however few rows of the last one are drawn on: gpt-4o's CSV pages were
    503x2047 and 503x513, the 513th row blank margin, 1,190 image tokens where 1,020 do."""
    height, width = page.shape[:2]
    if not profile.bills_whole_tiles:
        return page
    marked = np.flatnonzero((_darkest(page) < _PAPER_LEVEL).any(axis=1))
    if not marked.size:
        return page
    top, bottom = int(marked[0]), int(marked[-1]) + 1
    fitted = _billed_height(bottom - top, height, width, profile)
    if fitted == height:
        return page
    start = min(max(0, top - (fitted - (bottom - top)) // 2), height - fitted)  # the margins shrink evenly
    return page[start : start + fitted].copy()


def _billed_height(content_px: int, height: int, width: int, profile: EncoderProfile) -> int:
    """The height of a page ``height`` tall with ``content_px`` rows of content: less where the family
    bills whole tiles and margins of 1 px bill fewer than the page's own."""
    if not profile.bills_whole_tiles:
        return height
    return min(height, profile.room(width, content_px + 2))


def _content_right(strip: np.ndarray) -> int:
    """One past the rightmost column of the strip with a mark on it, however light (a table's right rule)."""
    marked = np.flatnonzero((_darkest(strip) < _PAPER_LEVEL).any(axis=0))
    return int(marked[-1]) + 1 if marked.size else strip.shape[1]


def _cut_strip(strip: np.ndarray, columns: int, column_height: int) -> list[np.ndarray]:
    """Cut the strip into pieces of at most ``column_height`` rows, at the rows with least ink."""
    darkest = _darkest(strip)
    ink = darkest < _INK_LEVEL
    row_ink = ink.sum(axis=1)
    # Content starts and ends at a mark, however light: a table's rules (grey, and split over two
    # rows at some sizes) and glyphs' antialiased edges are lighter than ink.
    row_marks = (darkest < _PAPER_LEVEL).sum(axis=1)
    total = _content_bottom(row_marks)
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
        while position < total and row_marks[position] == 0:  # start each piece on a mark, not on a gap
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


@dataclass(frozen=True)
class _Column:
    start: int  # lines[start:end] are drawn in it
    end: int
    width_px: float
    height: float  # in lines


def layout_mono(
    runs: list[Run],
    setting: Typesetting,
    css: str,
    density: Density,
    profile: EncoderProfile,
    *,
    grayscale: bool,
    compact_indent: bool = False,
) -> LaidOut:
    em, line_px = setting.em_px, setting.em_px * setting.line_height
    lines, pages = plan_mono(runs, setting, density, profile, compact_indent=compact_indent)
    archive, _ = markup.fonts()
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    m, gap = density.margin_px, density.column_gap_px
    gutters: list[tuple[int, ...]] = []
    for columns in pages:
        width, height = _page_size(columns, em, line_px, density, profile)
        device = writer.begin_page(pymupdf.Rect(0, 0, width, height))
        x0, between = float(m), []
        for i, column in enumerate(columns):
            if i:
                between.append(round(x0 - gap / 2))
            story = pymupdf.Story(html=lines_html(lines[column.start : column.end]), user_css=css, archive=archive)
            # Slack right and below: the lines were measured to fit, and rounding must not push one out.
            story.place(pymupdf.Rect(x0, m, x0 + column.width_px + 2, height + 2 * m))
            story.draw(device)
            x0 += column.width_px + gap
        gutters.append(tuple(between))
        writer.end_page()
    writer.close()
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    with pymupdf.open("pdf", out.getvalue()) as doc:
        drawn = [_pixmap_array(page.get_pixmap(colorspace=colorspace, alpha=False)) for page in doc]
        arrays = [_fit_tiles(array, profile) for array in drawn]
        # Column by column: extracted whole, lines of neighbouring columns on one baseline are joined.
        text = "".join(
            page.get_text("text", clip=pymupdf.Rect(left, 0, right, page.rect.height))
            for page, cuts in zip(doc, gutters, strict=True)
            for left, right in itertools.pairwise((0, *cuts, page.rect.width))
        )
    return LaidOut(arrays, max(len(columns) for columns in pages), text, gutters)


def plan_mono(
    runs: list[Run], setting: Typesetting, density: Density, profile: EncoderProfile, *, compact_indent: bool = False
) -> tuple[list[VisualLine], list[list[_Column]]]:
    """Wrap monospace lines at the width that bills the fewest tokens, and pack them into pages.

    Each column is as wide as its longest line, and columns are set side by side until the page is
    full, so a stretch of short lines takes less width than a stretch of long ones. Candidate wrap
    widths are compared on an estimate from each source line's measured width (wrapping is done
    only for the best few); a width that would wrap more than ``MAX_WRAP_SHARE`` of the lines only
    competes if it is the page's full width."""
    em = setting.em_px
    m, gap = density.margin_px, density.column_gap_px
    usable = profile.page_width - 2 * m
    full_em, min_em = usable / em, MIN_MONO_CELLS * MONO_ADVANCE_EM
    if full_em < min_em:
        raise RenderError(f"a page {profile.page_width}px wide is too narrow for a {em}px monospace em")
    source = wrap_runs(runs, math.inf, compact_indent=compact_indent)
    measured = [(line.height, line.width_em) for line in source]
    allowed_wraps = MAX_WRAP_SHARE * max(1, sum(not line.blank for line in source))
    estimated: list[tuple[int, float]] = []
    for width_em in _candidate_widths(full_em, min_em, gap / em):
        rows = _estimated_rows(measured, width_em)
        if width_em == full_em or len(rows) - len(measured) <= allowed_wraps:
            estimated.append((_tokens(rows, setting, density, profile), -width_em))
    # A few more rows can start a page the estimate did not see: the best few are wrapped for real.
    best: tuple[int, float, list[VisualLine], list[list[_Column]]] | None = None
    # Tile-billed families bill in steps of a whole tile, where a few rows flip the count: the widths
    # estimated within a tile of the best are wrapped too, up to _VERIFIED_TILED.
    ranked = sorted(estimated)
    close = [w for tokens, w in ranked if tokens <= ranked[0][0] + profile.tile_tokens] if profile.tile_tokens else []
    tried = list(dict.fromkeys([w for _, w in ranked[:_VERIFIED]] + close[:_VERIFIED_TILED]))
    for negative_width in tried:
        lines = wrap_runs(runs, -negative_width, compact_indent=compact_indent)
        pages = _pack([(line.height, line.width_em) for line in lines], setting, density, profile)
        tokens = _billed(pages, setting, density, profile)
        if best is None or (tokens, negative_width) < best[:2]:
            best = (tokens, negative_width, lines, pages)
    assert best is not None  # the full width is always a candidate
    return best[2], best[3]


def _candidate_widths(full_em: float, min_em: float, gap_em: float) -> list[float]:
    """Wrap widths to try, widest first (a tie keeps fewer wraps): the page split evenly into 1 to
    ``MAX_COLUMNS`` columns, and every sixth cell count from ``MIN_MONO_CELLS`` up."""
    widths = {full_em}
    widths |= {(full_em - (n - 1) * gap_em) / n for n in range(2, MAX_COLUMNS + 1)}
    widths |= {cells * MONO_ADVANCE_EM for cells in range(MIN_MONO_CELLS, int(full_em / MONO_ADVANCE_EM), 6)}
    return sorted((w for w in widths if w >= min_em), reverse=True)


def _estimated_rows(measured: list[tuple[float, float]], width_em: float) -> list[tuple[float, float]]:
    """(height, width) of the visual lines that wrapping each source line at ``width_em`` gives."""
    # A wrapped piece fills whole cells: at most the cells that fit, not the width itself (two columns
    # of an even page split fit side by side only at their real width).
    full = math.floor(width_em / MONO_ADVANCE_EM + 1e-9) * MONO_ADVANCE_EM
    step = full - _MARKER_EM
    rows: list[tuple[float, float]] = []
    for height, width in measured:
        if width <= width_em:
            rows.append((height, width))
            continue
        extra = math.ceil((width - full) / step)
        rows.extend([(1.0, full)] * extra)
        rows.append((1.0, _MARKER_EM + (width - full) - (extra - 1) * step))
    return rows


def _tokens(rows: list[tuple[float, float]], setting: Typesetting, density: Density, profile: EncoderProfile) -> int:
    return _billed(_pack(rows, setting, density, profile), setting, density, profile)


def _billed(pages: list[list[_Column]], setting: Typesetting, density: Density, profile: EncoderProfile) -> int:
    return sum(_page_tokens(page, setting, density, profile) for page in pages)


def _page_tokens(columns: list[_Column], setting: Typesetting, density: Density, profile: EncoderProfile) -> int:
    """The tokens one page bills, its margins cut as ``_fit_tiles`` will cut them (at least: glyphs
    leave blank rows inside the lines' boxes too)."""
    width, height = _page_size(columns, setting.em_px, setting.em_px * setting.line_height, density, profile)
    return profile.image_tokens(width, _billed_height(height - 2 * density.margin_px, height, width, profile))


def _pack(
    rows: list[tuple[float, float]], setting: Typesetting, density: Density, profile: EncoderProfile
) -> list[list[_Column]]:
    """Rows (height in lines, width in em) filled into columns in reading order, columns into pages;
    the last page's columns are made as short as the page width allows where that bills fewer tokens."""
    em, line_px = setting.em_px, setting.em_px * setting.line_height
    m, gap = density.margin_px, density.column_gap_px
    usable = profile.page_width - 2 * m
    capacity = max(1.0, (profile.page_height - 2 * m) / line_px)
    pages = _pages(_columns(rows, 0, len(rows), capacity, em, usable), usable, gap)
    if len(pages) > MAX_PAGES:
        raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    if not pages:
        return pages
    last = pages[-1]
    first, end = last[0].start, last[-1].end
    low, high = 1.0, max(column.height for column in last)
    while high - low > 0.5:  # the shortest column height at which the last page's lines fit one page
        middle = math.floor(low + high) / 2
        if len(_pages(_columns(rows, first, end, middle, em, usable), usable, gap)) == 1:
            high = middle
        else:
            low = middle
    shortest = _pages(_columns(rows, first, end, high, em, usable), usable, gap)
    if len(shortest) == 1:
        tokens_of = functools.partial(_page_tokens, setting=setting, density=density, profile=profile)
        if tokens_of(shortest[0]) < tokens_of(last):
            pages[-1] = shortest[0]
    return pages


def _columns(
    rows: list[tuple[float, float]], start: int, end: int, capacity: float, em: float, usable: float
) -> list[_Column]:
    """rows[start:end] cut into columns at most ``capacity`` lines high; no column starts or ends
    with a blank line (the column break shows the gap)."""
    columns: list[_Column] = []
    i = start
    while i < end:
        while i < end and rows[i][0] < 1:
            i += 1
        if i == end:
            break
        first, height, width = i, 0.0, 0.0
        while i < end and (i == first or height + rows[i][0] <= capacity + 1e-9):
            height += rows[i][0]
            width = max(width, rows[i][1])
            i += 1
        last = i
        while rows[last - 1][0] < 1:
            last -= 1
            height -= rows[last][0]
        columns.append(_Column(first, last, min(usable, width * em + 1), height))
    return columns


def _pages(columns: list[_Column], usable: float, gap: float) -> list[list[_Column]]:
    """Columns set side by side while the page has width for them (at most ``MAX_COLUMNS``)."""
    pages: list[list[_Column]] = []
    used = 0.0
    for column in columns:
        if pages and len(pages[-1]) < MAX_COLUMNS and used + gap + column.width_px <= usable:
            pages[-1].append(column)
            used += gap + column.width_px
        else:
            pages.append([column])
            used = column.width_px
    return pages


def _page_size(
    columns: list[_Column], em: float, line_px: float, density: Density, profile: EncoderProfile
) -> tuple[int, int]:
    m, gap = density.margin_px, density.column_gap_px
    width = 2 * m + sum(c.width_px for c in columns) + gap * (len(columns) - 1)
    height = 2 * m + max(c.height for c in columns) * line_px
    return min(profile.page_width, math.ceil(width)), min(profile.page_height, math.ceil(height) + 1)
