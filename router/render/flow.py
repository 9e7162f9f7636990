"""Flowing text (prose, markdown, tables): HTML laid out by PyMuPDF's Story API as one long strip
one column wide, rasterised, then cut at the rows with the least ink (the gaps between lines) into
column pieces that are set side by side. Cutting the raster rather than the text balances the last
page's columns exactly, so cropping it to its content pays for no blank space. Wide pages get two
columns of a readable line length; a chunk with tables keeps one full-width column, cropped to the
right edge of its content where its tables are narrower; where whole tiles are billed, narrow
content (a narrow table, short lines) is set in more such columns side by side where that bills less,
and a last page in fewer where its wide short page would bill more. Monospace text is
``router.render.mono``'s.

Each page comes with the x of its gutters, so the read-back cuts it where the columns are.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections.abc import Callable

import numpy as np
import pymupdf

from router.errors import RenderError
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.cuts import SEAM_INK, Seams, cut_rows, find_seam, seam_band
from router.render.density import Density
from router.render.heads import Head, TableHeads, tagged
from router.render.pages import (
    MAX_COLUMNS,
    MAX_PAGES,
    PAPER_LEVEL,
    LaidOut,
    baselines,
    darkest,
    fit_margins,
    rasterise,
    recorded,
    side_margin,
)

__all__ = ["MIN_FLOW_COLUMN_PX", "flow_columns", "layout_flow"]

MIN_FLOW_COLUMN_PX = 360  # a flowing-text column narrower than this reads worse than it saves
_SEGMENT_PX = 4096  # the strip is rasterised this many rows at a time
_INK_LEVEL = 160  # a pixel darker than this is ink


def flow_columns(density: Density, profile: EncoderProfile, *, tables: bool) -> tuple[int, int]:
    """How many columns flowing text is laid out in, and how wide each is: as many as are at least
    ``MIN_FLOW_COLUMN_PX`` wide, one full-width column for a chunk with tables."""
    usable, gap = profile.page_width - 2 * density.margin_px, density.column_gap_px
    columns = 1 if tables else max(1, min(MAX_COLUMNS, (usable + gap) // (MIN_FLOW_COLUMN_PX + gap)))
    return columns, (usable - (columns - 1) * gap) // columns


def layout_flow(body: str, css: str, density: Density, profile: EncoderProfile, *, grayscale: bool) -> LaidOut:
    m, gap = density.margin_px, density.column_gap_px
    columns, column_px = flow_columns(density, profile, tables="<table" in body)
    column_height = profile.page_height - 2 * m
    most = MAX_PAGES * MAX_COLUMNS * column_height  # the longest strip the pages could hold
    # A table is cut where the strip is taller than a column, or set in columns side by side where whole
    # tiles are billed: only then are its rows' positions asked for (20 us a row, pymupdf's callback).
    cut_from = 0 if profile.bills_whole_tiles else column_height
    strip, text = _flow_strip(body, css, column_px, most, column_height, cut_from, grayscale=grayscale)
    # A table narrower than the column leaves the rest of it blank: families billed by area pay for none
    # of it (litellm's price table at 7 px on Claude: 384 of 768 px wide, 865 image tokens a page).
    column_px = min(column_px, strip.right)
    if profile.bills_whole_tiles:
        columns = _side_by_side(strip.height, column_px, columns, density, profile)
    pieces = strip.cut(columns, column_height)
    groups = [pieces[first : first + columns] for first in range(0, len(pieces), columns)]
    if len(groups) > MAX_PAGES:
        raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    side = side_margin(m, profile)
    if profile.bills_whole_tiles and len(groups[-1]) > 1:
        groups[-1] = _cheapest_last_page(
            groups[-1], strip, column_px, column_height, density, side, profile, grayscale=grayscale
        )
    gutters = [tuple(round(side + i * (column_px + gap) - gap / 2) for i in range(1, len(g))) for g in groups]
    heads = {a: strip.head(a) for g in groups for a, _ in g}  # the head each piece is drawn below, if any
    if profile.bills_whole_tiles and any(heads[a] for a, _ in groups[-1]):
        _drop_costly_heads(groups[-1], heads, strip, column_px, density, side, profile, grayscale=grayscale)
    # Composed one at a time as they are encoded: all of a long part's pages at once held its strip twice.
    pieces_of = ([strip.piece(a, b, column_px, heads[a]) for a, b in group] for group in groups)
    pages = (fit_margins(_compose(p, column_px, density, side, grayscale=grayscale), profile) for p in pieces_of)
    return LaidOut(pages, columns, text, gutters, tuple(head.row for head in heads.values() if head))


class _Strip:
    """The chunk laid out one column wide: the pixels of its segments, kept apart (joined, a long part's
    strip was held twice while it was copied), and what its rows and columns hold."""

    def __init__(
        self,
        segments: list[np.ndarray],
        heads: TableHeads | None = None,
        lines: Callable[[], np.ndarray] = lambda: np.zeros((0, 2)),
    ) -> None:
        self.segments = segments
        self.heads = heads
        self._lines = functools.cache(lines)  # baselines and sizes, asked for where a seam is tried
        self.seams: Seams = {}  # pieces that start at a seam: their first row -> the seam
        self._found: dict[tuple[int, int], np.ndarray | None] = {}
        self.starts = list(itertools.accumulate((s.shape[0] for s in segments), initial=0))
        ink, marks, marked = [], [], []
        for segment in segments:
            darkness = darkest(segment)
            ink.append((darkness < _INK_LEVEL).sum(axis=1))
            # Content starts and ends at a mark, however light: a table's rules (grey, and split over two
            # rows at some sizes) and glyphs' antialiased edges are lighter than ink.
            drawn = darkness < PAPER_LEVEL
            marks.append(drawn.sum(axis=1))
            marked.append(drawn.any(axis=0))
        self.row_ink = np.concatenate(ink) if ink else np.zeros(0, dtype=np.int64)
        self.row_marks = np.concatenate(marks) if marks else np.zeros(0, dtype=np.int64)
        columns = np.flatnonzero(np.logical_or.reduce(marked)) if marked else np.zeros(0)
        # One past the rightmost column with a mark on it, however light (a table's right rule).
        self.right = int(columns[-1]) + 1 if columns.size else (segments[0].shape[1] if segments else 0)

    @property
    def height(self) -> int:
        return self.starts[-1]

    def rows(self, start: int, end: int, width: int) -> np.ndarray:
        """Rows ``start:end`` of the strip, ``width`` px of them: a view where one segment holds them."""
        first = bisect.bisect_right(self.starts, start) - 1
        last = bisect.bisect_left(self.starts, end) - 1
        parts = [
            self.segments[i][max(start - self.starts[i], 0) : end - self.starts[i], :width]
            for i in range(first, last + 1)
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)

    def piece(self, start: int, end: int, width: int, head: Head | None) -> np.ndarray:
        """Rows ``start:end``, below ``head``, the head of the table they continue, if they do; a piece
        that starts or ends at a seam has the pixels on the seam's other side left blank."""
        top, bottom = self.seams.get(start), self.seams.get(end)
        rows = self.rows(start, end if bottom is None else int(bottom.max()), width)
        if top is not None or bottom is not None:
            rows = rows.copy()
            y = np.arange(start, start + rows.shape[0])[:, None]
            if top is not None:
                rows[y < top[None, :width]] = 255
            if bottom is not None:
                rows[y >= bottom[None, :width]] = 255
        return np.concatenate([self.rows(head.top, head.bottom, width), rows]) if head else rows

    def head(self, start: int) -> Head | None:
        """The head of the table that a piece starting at row ``start`` continues."""
        return self.heads.at(start) if self.heads else None

    def cut(self, columns: int, column_height: int, start: int = 0) -> list[tuple[int, int]]:
        """The rows of each piece from row ``start`` on: at most ``column_height`` of them with the head
        drawn above it, cut at the rows with least ink."""
        return cut_rows(
            self.row_ink, self.row_marks, columns, column_height, self._head_rows, start, self._seam_at, self.seams
        )

    def _head_rows(self, start: int) -> int:
        head = self.head(start)
        return head.bottom - head.top if head else 0

    def _seam_at(self, row: int) -> np.ndarray | None:
        """The seam between touching lines found for ``row`` (``router.render.cuts``), remembered."""
        rows = seam_band(self._lines(), row)
        if rows is None:
            return None
        if rows not in self._found:  # rows between the same two lines share their seam
            self._found[rows] = find_seam(darkest(self.rows(*rows, self.segments[0].shape[1])), rows[0], SEAM_INK)
        return self._found[rows]


def _flow_strip(
    body: str, css: str, column_px: int, limit_px: int, column_height: int, cut_from: int, *, grayscale: bool
) -> tuple[_Strip, str]:
    """The whole chunk laid out one column wide, as one tall raster, and the text inside it; where it
    is taller than ``cut_from``, where its tables' heads and rows were placed (``router.render.heads``).

    The story is placed once, in one box as tall as the most the pages could hold (``limit_px``), and
    rasterised ``_SEGMENT_PX`` rows at a time. Placed box after box instead, MuPDF breaks the story at
    each box's bottom, and at some heights it placed the rest past the bottom and drew none of it (the
    GPL at 10 px in a 377-px column: 5,382 px filled from a 4,096-px box, a quarter of its words
    lost), or stopped moving on: with no margin between paragraphs the GPL filled the same 4,094 px
    box after box, for ever."""
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=tagged(body), user_css=css, archive=archive)
    box = pymupdf.Rect(0, 0, column_px, limit_px)
    more, filled = story.place(box)
    # Checked before drawing: a story that long is not drawn only to be sent as text. A paragraph
    # taller than the box is placed whole past its bottom with nothing reported left (400 short
    # lines kept as one paragraph: 3,200 px filled of a 1,528-px box, more=0), so the height counts too.
    if more or filled[3] > limit_px:
        raise RenderError(f"chunk needs more than {MAX_PAGES} pages")
    # Asked before drawing: a drawn story reports no positions.
    heads = TableHeads(story, column_height) if "<table" in body and filled[3] > cut_from else None
    height = max(1, math.ceil(filled[3]))
    clips = [pymupdf.Rect(0, top, column_px, min(top + _SEGMENT_PX, height)) for top in range(0, height, _SEGMENT_PX)]
    # The text is taken inside the clip too: text past the column's edge is not on the page.
    listed = recorded(box, [story])
    segments, texts = rasterise(listed, clips, [pymupdf.Rect(0, 0, column_px, height)], grayscale=grayscale)
    return _Strip(segments, heads, functools.partial(baselines, listed)), "".join(texts)


def _side_by_side(height: int, column_px: int, columns: int, density: Density, profile: EncoderProfile) -> int:
    """How many columns, ``columns`` or more, content ``height`` px tall in one bills the fewest tokens
    in (ties: fewer). Where whole tiles are billed, the width beside narrow content (a narrow table,
    short lines) is paid for: 250 rows of module, version and size, 198 px wide, billed 1,190 image
    tokens on gpt-4o's 512-px tiles in one column and 595 in two; 1,032 and 516 on Gemini 2's 768-px
    tiles. Content as wide as its column keeps the layout's count: no more fit beside it, unless the
    family bills wider pages in proportion: litellm's price table, 571 px wide, stands four to a page
    three Gemini 2 tiles wide (10.77x at 50k tokens against 8.43x one to a tile). Gemini 3 bills a
    whole image however it is filled, so a table that fits one stays in one column there."""
    m, gap = density.margin_px, density.column_gap_px
    column_height = profile.page_height - 2 * m
    # As many as the widest page the family bills in proportion has room for (Gemini 2: three tiles).
    most = max(1, min(MAX_COLUMNS, (profile.page_widths[-1] - 2 * m + gap) // (column_px + gap)))

    def billed(n: int) -> int:
        width = 2 * m + n * column_px + (n - 1) * gap
        full, rest = divmod(height, n * column_height)
        last = profile.image_tokens(width, 2 * m + math.ceil(rest / n)) if rest else 0
        return full * profile.image_tokens(width, profile.page_height) + last

    return min(range(columns, max(columns, most) + 1), key=lambda n: (billed(n), n))


def _cheapest_last_page(
    last: list[tuple[int, int]],
    strip: _Strip,
    column_px: int,
    column_height: int,
    density: Density,
    side: int,
    profile: EncoderProfile,
    *,
    grayscale: bool,
) -> list[tuple[int, int]]:
    """The last page's rows in as many columns, up to the layout's, as bill the fewest tokens on one
    page (ties: the layout's count).

    The layout shares a last page's rows evenly between its columns, the shortest page they fit. Where
    whole tiles are billed, a wide short page can bill more than a narrow tall one: litellm's price
    table at 20k tokens on Gemini 2's `dense` pages ended in four columns 267 px tall, three tiles
    wide (774 image tokens), where two columns hold the same rows two tiles wide (516)."""

    def billed(pieces: list[tuple[int, int]]) -> int:
        drawn = [strip.piece(a, b, column_px, strip.head(a)) for a, b in pieces]
        return _page_tokens(drawn, column_px, density, side, profile, grayscale=grayscale)

    best, fewest = last, billed(last)
    for count in range(len(last) - 1, 0, -1):
        pieces = strip.cut(count, column_height, start=last[0][0])
        if len(pieces) > count:  # no longer one page
            break
        if (tokens := billed(pieces)) < fewest:
            best, fewest = pieces, tokens
    return best


def _drop_costly_heads(
    last: list[tuple[int, int]],
    heads: dict[int, Head | None],
    strip: _Strip,
    column_px: int,
    density: Density,
    side: int,
    profile: EncoderProfile,
    *,
    grayscale: bool,
) -> None:
    """The last page's repeated heads left out where they alone make it bill another row of tiles.

    A repeated head is a reminder: its rows are drawn where the table starts, and last on the page
    before. Where whole tiles are billed, its few rows can push a last page over a tile's edge: 200
    rows of litellm's price map as CSV on gpt-4o's `balanced` pages came to 508x2045 and 508x527
    px, 15 of the 527 rows the repeated head: 1,190 image tokens where 1,020 hold every row."""

    def billed(drawn: dict[int, Head | None]) -> int:
        pieces = [strip.piece(a, b, column_px, drawn[a]) for a, b in last]
        return _page_tokens(pieces, column_px, density, side, profile, grayscale=grayscale)

    without = heads | dict.fromkeys((a for a, _ in last), None)
    if billed(without) < billed(heads):
        heads.update(without)


def _page_tokens(
    pieces: list[np.ndarray], column_px: int, density: Density, side: int, profile: EncoderProfile, *, grayscale: bool
) -> int:
    """The tokens a page of these pieces bills, composed and fitted as ``layout_flow`` draws it."""
    page = fit_margins(_compose(pieces, column_px, density, side, grayscale=grayscale), profile)
    return profile.image_tokens(page.shape[1], page.shape[0])


def _compose(pieces: list[np.ndarray], column_px: int, density: Density, side: int, *, grayscale: bool) -> np.ndarray:
    """Pieces side by side, ``side`` px blank left and right of them and the density's margin above and below."""
    m, gap = density.margin_px, density.column_gap_px
    height = 2 * m + max(p.shape[0] for p in pieces)
    width = 2 * side + len(pieces) * column_px + (len(pieces) - 1) * gap
    shape = (height, width) if grayscale else (height, width, 3)
    page = np.full(shape, 255, dtype=np.uint8)
    for i, piece in enumerate(pieces):
        x = side + i * (column_px + gap)
        page[m : m + piece.shape[0], x : x + piece.shape[1]] = piece
    return page
