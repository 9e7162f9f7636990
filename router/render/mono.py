"""Monospace text (code, logs, HTML source, config): lines wrapped by ``router.render.lines`` at the
width that bills the fewest tokens (wrapping at most ``MAX_WRAP_SHARE`` more of them) and packed into
columns each as wide as its longest line, set side by side while the page has room. Each column is
laid out by PyMuPDF's Story API at its place on the page, and the pages are rasterised.

Each page comes with the x of its gutters, so the read-back cuts it where the columns are.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import pymupdf

from router.errors import RenderError
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.density import Density, Typesetting
from router.render.lines import AS_PRINTED, CONTINUATION, LineForm, Run, VisualLine, Wrapping, lines_html, width_em_of
from router.render.pages import (
    MAX_COLUMNS,
    MAX_PAGES,
    LaidOut,
    billed_height,
    fit_margins,
    rasterise,
    recorded,
    side_margin,
)
from router.render.tables import MONO_ADVANCE_EM

__all__ = ["MAX_WRAP_SHARE", "MIN_MONO_CELLS", "layout_mono", "plan_mono"]

_MARKER_EM = width_em_of(CONTINUATION)

MAX_WRAP_SHARE = 0.30  # a narrower wrap width may add at most this share of continuation rows
MIN_MONO_CELLS = 24  # a monospace column wrapped narrower than this reads badly
_MIN_COLUMN_EM = MIN_MONO_CELLS * MONO_ADVANCE_EM
_VERIFIED = 3  # wrap widths laid out for real after the estimate ranks them
_VERIFIED_TILED = 8  # at most, where a family bills whole tiles
_COLUMN_SLACK_PX = 1  # a column is drawn this much wider than its longest line: rounding must not push one out


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
    form: LineForm = AS_PRINTED,
) -> LaidOut:
    em, line_px = setting.em_px, setting.em_px * setting.line_height
    lines, pages = plan_mono(runs, setting, density, profile, form)
    archive, _ = markup.fonts()
    m, gap = density.margin_px, density.column_gap_px
    side = side_margin(m, profile)
    gutters: list[tuple[int, ...]] = []
    arrays: list[np.ndarray] = []
    texts: list[str] = []
    for columns in pages:
        width, height = _page_size(columns, em, line_px, density, profile)
        lefts = list(itertools.accumulate((column.width_px + gap for column in columns[:-1]), initial=float(side)))
        between = tuple(round(x0 - gap / 2) for x0 in lefts[1:])
        stories = []
        for x0, column in zip(lefts, columns, strict=True):
            story = pymupdf.Story(html=lines_html(lines[column.start : column.end]), user_css=css, archive=archive)
            # Slack right and below: the lines were measured to fit, and rounding must not push one out.
            story.place(pymupdf.Rect(x0, m, x0 + column.width_px + 2, height + 2 * m))
            stories.append(story)
        listed = recorded(pymupdf.Rect(0, 0, width, height), stories)
        # Column by column: extracted whole, lines of neighbouring columns on one baseline are joined.
        clips = [pymupdf.Rect(left, 0, right, height) for left, right in itertools.pairwise((0, *between, width))]
        (pixels,), column_texts = rasterise(listed, [None], clips, grayscale=grayscale)
        arrays.append(fit_margins(pixels, profile))
        texts += column_texts
        gutters.append(between)
    return LaidOut(arrays, max(len(columns) for columns in pages), "".join(texts), gutters)


def plan_mono(
    runs: list[Run],
    setting: Typesetting,
    density: Density,
    profile: EncoderProfile,
    form: LineForm = AS_PRINTED,
) -> tuple[list[VisualLine], list[list[_Column]]]:
    """Wrap monospace lines at the width that bills the fewest tokens, and pack them into pages.

    Each column is as wide as its longest line, and columns are set side by side until the page is
    full, so a stretch of short lines takes less width than a stretch of long ones. Candidate wrap
    widths are compared on an estimate from each source line's measured width (wrapping is done
    only for the best few); a width that would wrap more than ``MAX_WRAP_SHARE`` of the lines only
    competes if it is the page's full width. Where the family bills wider pages in proportion
    (``EncoderProfile.page_widths``), each width is planned and the one billing fewest is kept (ties:
    the narrower): lines of 545 px leave 29% of a 768-px tile blank, and wrapped at 505 px they stand
    three to a page of two tiles."""
    em = setting.em_px
    full_em = (profile.page_width - 2 * density.margin_px) / em
    if full_em < _MIN_COLUMN_EM:
        raise RenderError(f"a page {profile.page_width}px wide is too narrow for a {em}px monospace em")
    wrapping = Wrapping(runs, form)
    best: tuple[int, int, float, list[VisualLine], list[list[_Column]]] | None = None
    for page_width in profile.page_widths:
        if best is not None and best[0] <= profile.image_tokens(page_width, 1):
            break  # one page this wide, however short, bills as much: a short chunk is planned once
        wide = profile if page_width == profile.page_width else profile.model_copy(update={"page_width": page_width})
        tokens, negative_width, lines, pages = _plan_at(wrapping, setting, density, wide)
        if best is None or (tokens, page_width) < best[:2]:
            best = (tokens, page_width, negative_width, lines, pages)
    assert best is not None
    return best[3], best[4]


def _plan_at(
    wrapping: Wrapping, setting: Typesetting, density: Density, profile: EncoderProfile
) -> tuple[int, float, list[VisualLine], list[list[_Column]]]:
    """The wrap width billing the fewest tokens on ``profile``'s page, its tokens, lines and pages."""
    em = setting.em_px
    usable = profile.page_width - 2 * density.margin_px
    full_em = usable / em
    source = wrapping.unwrapped
    measured = [(line.height, line.width_em) for line in source]
    allowed_wraps = MAX_WRAP_SHARE * max(1, sum(not line.blank for line in source))
    estimated: list[tuple[int, float]] = []
    for width_em in _candidate_widths(usable, em, density.column_gap_px):
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
        lines = wrapping.wrap(-negative_width)
        pages = _pack([(line.height, line.width_em) for line in lines], setting, density, profile)
        tokens = _billed(pages, setting, density, profile)
        if best is None or (tokens, negative_width) < best[:2]:
            best = (tokens, negative_width, lines, pages)
    assert best is not None  # the full width is always a candidate
    return best


def _candidate_widths(usable: float, em: float, gap: float) -> list[float]:
    """Wrap widths in em to try on ``usable`` page pixels, widest first (a tie keeps fewer wraps): the
    page split evenly into 1 to ``MAX_COLUMNS`` columns, and every sixth cell count from
    ``MIN_MONO_CELLS`` up. An even split leaves each column its slack pixel: without it two columns of
    gpt-4o's 512-px tile (4-px margins) came 0.2 px too wide to stand side by side, and a 20k-token
    JSON document was drawn one column a page, at 1.7 times the tokens."""
    full_em = usable / em
    widths = {full_em}
    widths |= {(usable - (n - 1) * gap - n * _COLUMN_SLACK_PX) / n / em for n in range(2, MAX_COLUMNS + 1)}
    widths |= {cells * MONO_ADVANCE_EM for cells in range(MIN_MONO_CELLS, int(full_em / MONO_ADVANCE_EM), 6)}
    return sorted((w for w in widths if w >= _MIN_COLUMN_EM), reverse=True)


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
    """The tokens one page bills, its margins cut as ``fit_margins`` will cut them (at least: glyphs
    leave blank rows inside the lines' boxes too)."""
    width, height = _page_size(columns, setting.em_px, setting.em_px * setting.line_height, density, profile)
    return profile.image_tokens(width, billed_height(height - 2 * density.margin_px, height, width, profile))


def _pack(
    rows: list[tuple[float, float]], setting: Typesetting, density: Density, profile: EncoderProfile
) -> list[list[_Column]]:
    """Rows (height in lines, width in em) filled into columns in reading order, columns into pages;
    the last page's columns are made as short as the page width allows where that bills fewer tokens."""
    em, line_px = setting.em_px, setting.em_px * setting.line_height
    m, gap = density.margin_px, density.column_gap_px
    usable = profile.page_width - 2 * m
    capacity = max(1.0, (profile.page_height - 2 * m) / line_px)
    packed = _Rows.of(rows)
    pages = _pages(_columns(packed, 0, len(rows), capacity, em, usable), usable, gap)
    if len(pages) > MAX_PAGES:
        raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    if not pages:
        return pages
    last = pages[-1]
    first, end = last[0].start, last[-1].end
    low, high = 1.0, max(column.height for column in last)
    while high - low > 0.5:  # the shortest column height at which the last page's lines fit one page
        middle = math.floor(low + high) / 2
        if len(_pages(_columns(packed, first, end, middle, em, usable), usable, gap)) == 1:
            high = middle
        else:
            low = middle
    shortest = _pages(_columns(packed, first, end, high, em, usable), usable, gap)
    if len(shortest) == 1:
        tokens_of = functools.partial(_page_tokens, setting=setting, density=density, profile=profile)
        if tokens_of(shortest[0]) < tokens_of(last):
            pages[-1] = shortest[0]
    return pages


@dataclass(frozen=True)
class _Rows:
    """Rows to pack: each one's height in lines and width in em, and where each starts (the heights
    before it: halves and wholes, so every sum is exact)."""

    heights: list[float]
    widths: list[float]
    tops: list[float]

    @classmethod
    def of(cls, rows: list[tuple[float, float]]) -> _Rows:
        heights = [height for height, _ in rows]
        return cls(heights, [width for _, width in rows], list(itertools.accumulate(heights, initial=0.0)))


def _columns(rows: _Rows, start: int, end: int, capacity: float, em: float, usable: float) -> list[_Column]:
    """Rows ``start:end`` cut into columns at most ``capacity`` lines high (at least one row each); no
    column starts or ends with a blank line (the column break shows the gap)."""
    heights, widths, tops = rows.heights, rows.widths, rows.tops
    columns: list[_Column] = []
    i = start
    while i < end:
        while i < end and heights[i] < 1:
            i += 1
        if i == end:
            break
        first = i
        i = max(first + 1, min(end, bisect.bisect_right(tops, tops[first] + capacity + 1e-9) - 1))
        last = i
        while heights[last - 1] < 1:
            last -= 1
        width = max(widths[first:i])  # trailing blank lines' indentation counts: they are drawn
        columns.append(_Column(first, last, min(usable, width * em + _COLUMN_SLACK_PX), tops[last] - tops[first]))
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
    width = 2 * side_margin(m, profile) + sum(c.width_px for c in columns) + gap * (len(columns) - 1)
    height = 2 * m + max(c.height for c in columns) * line_px
    return min(profile.page_widths[-1], math.ceil(width)), min(profile.page_height, math.ceil(height) + 1)
