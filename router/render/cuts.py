"""Where a strip of flowing text is cut into the pieces that stand in columns (``router.render.flow``).

A piece ends between two lines, as near its column's height as a gap allows. A blank row is the
cleanest gap. Where lines touch, blank rows come only at headings and short last lines: prose at
8 px / 1.0 holds 1-11 dark pixels of descenders and ascenders in the rows between its lines, and the
licences' columns on Gemini 2's `dense` pages ended 1,345-1,527 px down where 1,528 fit (one tile
more for the 50k-token licences). There a piece may end at a seam instead, where one is nearer the
column's height than the nearest blank row: a path from the column's left edge to its right between
the baseline of the line above and the x-height of the line below, crossing no stroke (``find_seam``),
so each glyph stays whole on its own side. The piece above takes the pixels over the seam, the piece
below those under it. A straight cut through those rows split descenders ("jumps" read "iumos").
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["SEAM_INK", "SEAM_LEVEL", "Seams", "content_bottom", "cut_rows", "find_seam", "seam_band"]

_BAND_ROWS = 12  # more rows than this between a baseline and the next line's x-height: not touching lines
_X_HEIGHT = 0.5  # of the em, just under FiraGO's x-height (0.527): the body of a line starts below
# A seam may cross pixels lighter than this: antialiasing's faint fringe, never a stroke. Crossing
# nothing but blank page (250), seams were found for 6 of 79 rows tried on Claude's `dense` licences.
SEAM_LEVEL = 224
# ...and cross at most this much ink in all (how much darker than SEAM_LEVEL each pixel it crosses
# is): the fringe of a glyph, never its stroke (a black pixel is 224). Through unmarked pixels only,
# seams were found for 8 of 58 rows tried on Gemini 2's `dense` licences; with this much, 16 of 18.
SEAM_INK = 100
_SEAM_TRIES = 8  # rows between touching lines tried for a seam, nearest the target first

# The seam found for a row, if any: per pixel column, the first row of the piece below it.
Seams = dict[int, np.ndarray]
HeadRows = Callable[[int], int]  # rows a piece starting at this row loses to its table's repeated head


def seam_band(lines: np.ndarray, row: int) -> tuple[int, int] | None:
    """The rows a seam for ``row`` may take between the two text lines around it (``lines``: baselines
    and font sizes, top to bottom): from under the baseline of the line above to the top of the
    x-height of the line below. Higher, a path could rise between words over the line above's full
    stop; lower, it could pass under an ``i``'s dot on the line below. None where ``row`` is not
    between two lines, or they leave no row."""
    below = int(np.searchsorted(lines[:, 0], row, side="right"))
    if below == 0 or below == len(lines):
        return None
    top = math.ceil(lines[below - 1, 0])
    bottom = math.floor(lines[below, 0] - _X_HEIGHT * lines[below, 1])
    if not top <= row < bottom or bottom - top > _BAND_ROWS:
        return None
    return top, bottom


def find_seam(dark: np.ndarray, top: int, most_ink: int = 0) -> np.ndarray | None:
    """The highest path left to right through the pixels of ``dark`` (rows ``top`` on of a strip, each
    pixel's darkest channel) that crosses the least ink, each step at most a row up or down: per pixel
    column, the row it passes (which goes to the piece below). None where every path crosses more than
    ``most_ink`` (the sum of how much darker than ``SEAM_LEVEL`` the pixels it crosses are).

    The highest, because it runs just under the line above: that line's descenders and commas hang
    from it and the path goes round them, while what stands at the top of the line below (an ``i``'s
    dot, an accent, a quote) stays below it."""
    clean = _clean_seam(dark < SEAM_LEVEL, top)
    return clean if clean is not None else _least_ink_seam(dark, top, most_ink)


def _clean_seam(marked: np.ndarray, top: int) -> np.ndarray | None:
    """The topmost path that crosses no mark, found with a bitmask per column (one bit a row): the rows
    reachable from the left edge and from the right; then, column by column, the topmost of them a
    row from the last. 0.5 ms for a 770-px column, where the least-ink search takes several."""
    height, width = marked.shape
    weights = 1 << np.arange(height, dtype=np.int64)
    blank = [int(v) for v in ((~marked).astype(np.int64) * weights[:, None]).sum(axis=0)]
    full = (1 << height) - 1

    def reachable(columns: list[int]) -> list[int] | None:
        reach = [columns[0]]
        for bits in columns[1:]:
            previous = reach[-1]
            reach.append((previous | previous << 1 | previous >> 1) & full & bits)
        return reach if reach[-1] else None

    forward, backward = reachable(blank), reachable(blank[::-1])
    if forward is None or backward is None:
        return None
    rows = np.empty(width, dtype=np.int64)
    row = -1
    for x, bits in enumerate(f & b for f, b in zip(forward, reversed(backward), strict=True)):
        near = bits if row < 0 else bits & (0b111 << row - 1 if row else 0b11)
        row = (near & -near).bit_length() - 1
        rows[x] = top + row
    return rows


def _least_ink_seam(dark: np.ndarray, top: int, most_ink: int) -> np.ndarray | None:
    """The path that crosses the least ink, and of those the highest (least summed depth), where every
    path crosses some: dynamic programming, column by column."""
    height, width = dark.shape
    ink = np.where(dark < SEAM_LEVEL, SEAM_LEVEL - dark.astype(np.int64), 0)
    if int(ink.min(axis=0).sum()) > most_ink:  # the least each column can cost is already too much
        return None
    columns = ink.T.tolist()
    # The depth of a whole path is under ``weight``, so ``total // weight`` is the ink it crosses.
    weight = height * width
    total = [columns[0][r] * weight + r for r in range(height)]
    steps: list[list[int]] = []
    for column in columns[1:]:
        came = []
        for r in range(height):
            best = r
            if r and total[r - 1] < total[best]:
                best = r - 1
            if r + 1 < height and total[r + 1] < total[best]:
                best = r + 1
            came.append(best)
        total = [total[came[r]] + column[r] * weight + r for r in range(height)]
        steps.append(came)
    row = min(range(height), key=total.__getitem__)
    if total[row] // weight > most_ink:
        return None
    rows = np.empty(width, dtype=np.int64)
    for x in range(width - 1, -1, -1):
        rows[x] = top + row
        if x:
            row = steps[x - 1][row]
    return rows


def cut_rows(
    row_ink: np.ndarray,
    row_marks: np.ndarray,
    columns: int,
    column_height: int,
    head_rows: HeadRows = lambda _: 0,
    start: int = 0,
    seam_at: Callable[[int], np.ndarray | None] | None = None,
    seams: Seams | None = None,
) -> list[tuple[int, int]]:
    """Cut a strip with these rows of ink and of marks, from row ``start`` on, into pieces of at most
    ``column_height`` rows, at the rows with least ink: each piece's first and one-past-last row. A
    piece that continues a table has less room: its table's head is drawn above it (``head_rows``).
    With ``seam_at`` (the seam for a row, or None), a piece may end at a seam between touching lines;
    the seams taken are added to ``seams``, keyed by the row the next piece starts at."""
    total = content_bottom(row_marks)
    last_ink = content_bottom(row_ink) - 1
    pieces: list[tuple[int, int]] = []
    taken = seams if seams is not None else {}
    position = start
    while position < total:
        room = column_height - head_rows(position)
        rest = total - position
        left_on_page = columns - len(pieces) % columns
        # Fill columns until the rest fits on this page; then share the rest evenly between them.
        target = room if rest > left_on_page * room else math.ceil(rest / left_on_page)
        # Seams fill a column; a last page's rest is shared only at a gap, or not at all (two touching
        # lines of Chinese stay one column: the page reports no gutter)
        filling = seam_at if target == room else None
        cut = total if rest <= target else best_cut(row_ink, position, target, room, total, filling, taken)
        if cut < total and position < last_ink < cut:
            # Only marks lighter than ink were left (a table's bottom rule): they would be a page of their
            # own (a 237x10 image of one rule on Claude), so the cut moves up above the last line of ink.
            reach = last_ink - position
            cut = best_cut(row_ink, position, min(target, reach), reach, total)
        pieces.append((position, cut))
        position = cut
        # Start each piece on a mark, not on a gap; one cut at a seam starts on the seam's top row
        while cut not in taken and position < total and row_marks[position] == 0:
            position += 1
    return pieces


def content_bottom(row_ink: np.ndarray) -> int:
    inked = np.flatnonzero(row_ink)
    return int(inked[-1]) + 1 if inked.size else 0


def best_cut(
    row_ink: np.ndarray,
    start: int,
    target: int,
    limit: int,
    end: int,
    seam_at: Callable[[int], np.ndarray | None] | None = None,
    seams: Seams | None = None,
) -> int:
    """A row near ``start + target`` (never past ``start + limit``) through as little ink as possible.

    A blank row (a gap between lines) wherever one is in reach, the nearest to the target, unless a
    seam between touching lines (``seam_at``) is nearer; where neither is, the end of the content when
    it is in reach, so a last line is not shared between columns (a one-line chunk on a two-column page
    had its descenders cut off into the second column, "jumps" read "iumos"); through ink only where a
    column's height has no gap at all."""
    high = start + min(limit, target + max(4, target // 10))
    low = start + max(1, target - max(8, target // 4))
    window = row_ink[low:high]
    aim = start + target
    blank = np.flatnonzero(window == 0) + low if window.size else np.zeros(0, dtype=np.int64)
    nearest = int(blank[np.argmin(np.abs(blank - aim))]) if blank.size else None
    if seam_at is not None and seams is not None:
        seamed = _seam_cut(row_ink, low, min(high, start + limit), aim, nearest, seam_at, start + limit)
        if seamed is not None:
            seams[seamed[0]] = seamed[1]
            return seamed[0]
    if nearest is not None:
        return nearest
    reach = min(start + limit, end)
    candidates = np.flatnonzero(row_ink[start + 1 : reach] == 0) + start + 1
    if end <= start + limit:
        candidates = np.append(candidates, end)
    if not candidates.size:  # no gap in a column's height: an image or a table row taller than it
        if window.size == 0:
            return start + limit
        candidates = np.flatnonzero(window == window.min()) + low
    # Among the emptiest rows, the one nearest the target keeps columns even.
    return int(candidates[np.argmin(np.abs(candidates - aim))])


def _seam_cut(
    row_ink: np.ndarray,
    low: int,
    high: int,
    aim: int,
    nearest: int | None,
    seam_at: Callable[[int], np.ndarray | None],
    limit: int,
) -> tuple[int, np.ndarray] | None:
    """The row nearest ``aim`` in ``low:high``, nearer than the blank row ``nearest``, where touching
    lines part along a seam that ends the piece above by row ``limit``: rows of least ink between
    lines (local minima), nearest first. The piece below starts at the seam's top row."""
    if high - low < 3:
        return None
    ink = row_ink[low - 1 : high + 1].astype(np.int64)
    minima = np.flatnonzero((ink[1:-1] > 0) & (ink[1:-1] <= ink[:-2]) & (ink[1:-1] <= ink[2:])) + low
    if nearest is not None:
        minima = minima[np.abs(minima - aim) < abs(nearest - aim)]
    for row in minima[np.argsort(np.abs(minima - aim), kind="stable")][:_SEAM_TRIES]:
        seam = seam_at(int(row))
        # Keyed by its top row, which must not be a blank row: a cut there is a straight one
        if seam is not None and row_ink[int(seam.min())] > 0 and int(seam.max()) <= limit:
            return int(seam.min()), seam
    return None
