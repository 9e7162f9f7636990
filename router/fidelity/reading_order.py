"""Reading order: the boxes an OCR engine found on a page, put back in the order the text was written.

A page is cut at its column gutters first (engines join lines across a narrow gutter). Within a
column, boxes form lines top to bottom, left to right. A table drawn with rules is read cell by
cell: a cell whose text wraps puts its second line below the row's other cells, and a line-by-line
reading interleaves it with them ("1024-x-1024/50-steps/bed bedrock image_generation 2600 rock/
amazon.nova-canvas-"), so the score counted a perfectly read table as misread (a price CSV at
``exact``: 88.6% read line by line, 99.9% cell by cell). Each table column is cut out inside its
rules and read as an image of its own (``table_parts``): read as one image, an engine joined two
neighbouring header cells into one box across the rule between them.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from router.fidelity.engines import TextBox

__all__ = ["Grid", "Part", "Table", "in_reading_order", "ruled_grid", "split_columns", "table_parts"]

_RULE_LEVEL = 235  # darker than this is ink or rule: table rules are drawn grey (#999, 187 as rasterised)
_MAX_RULE_PX = 4  # thicker than this is a filled area (a shaded block), not a rule
_MIN_RULE_PX = 40  # horizontal rules: at least this long, and a share of the width (no word is)
_MIN_RULE_SHARE = 0.15
_VERTICAL_COVER = 0.95  # a vertical rule runs through this share of its row: glyphs never do, cell padding is blank


# --- columns ---------------------------------------------------------------------------------------


def split_columns(image: Image.Image, gutters: Sequence[int]) -> list[Image.Image]:
    """The page cut at its gutters (in the image's pixels), one image per column: read column by
    column, engines cannot join lines across a narrow gutter into one."""
    edges = [0, *gutters, image.width]
    return [image.crop((left, 0, right, image.height)) for left, right in itertools.pairwise(edges)]


# --- ruled tables ----------------------------------------------------------------------------------


Run = tuple[int, int]  # first and last pixel of a rule, across its thickness


@dataclass(frozen=True)
class Grid:
    """The rules of a column image: each horizontal rule, and per band between them the vertical
    rules crossing it (none: the band is not part of a ruled table)."""

    rows: list[Run]
    columns: list[list[Run]]  # len(rows) + 1 bands

    def cell(self, box: TextBox) -> tuple[int, int]:
        band = bisect.bisect([(a + b) / 2 for a, b in self.rows], box.centre_y)
        return band, bisect.bisect([(a + b) / 2 for a, b in self.columns[band]], box.centre_x)

    def tables(self) -> list[Table]:
        """The ruled tables: runs of bands crossed by the same vertical rules (a table too wide for
        the page is drawn as several, one under the other, each with its own columns)."""
        found: list[Table] = []
        band = 0
        while band < len(self.columns):
            rules = self.columns[band]
            last = band
            while rules and last + 1 < len(self.columns) and _same_rules(self.columns[last + 1], rules):
                last += 1
            if rules:
                found.append(Table(self.rows[band - 1 : last + 1], rules))
            band = last + 1
        return found


@dataclass(frozen=True)
class Table:
    """One ruled table: its horizontal rules, top to bottom, and the vertical rules of its columns."""

    rows: list[Run]
    rules: list[Run]

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """The table with its outer rules, as a crop box (left, top, right, bottom)."""
        return self.rules[0][0], self.rows[0][0], self.rules[-1][1] + 1, self.rows[-1][1] + 1

    def columns(self) -> list[tuple[int, int, int, int]]:
        """Each column inside its rules, as a crop box: read one by one, an engine cannot join two
        neighbouring cells into one box across the rule between them."""
        top, bottom = self.rows[0][1] + 1, self.rows[-1][0]
        return [(left + 1, top, right, bottom) for (_, left), (right, _) in itertools.pairwise(self.rules)]


def _same_rules(a: list[Run], b: list[Run]) -> bool:
    return len(a) == len(b) and all(abs(x[0] - y[0]) <= 2 and abs(x[1] - y[1]) <= 2 for x, y in zip(a, b, strict=True))


def ruled_grid(image: Image.Image) -> Grid:
    """Find the rules of a ruled table: thin rows dark over a long unbroken run, then within each
    band between two of them the thin columns dark from its top to its bottom."""
    dark = np.asarray(image.convert("L")) < _RULE_LEVEL
    height, width = dark.shape
    long_enough = max(_MIN_RULE_PX, _MIN_RULE_SHARE * width)
    rules = _thin_runs(np.flatnonzero(_longest_runs(dark) >= long_enough))
    edges = [(-1, -1), *rules, (height, height)]
    columns: list[list[Run]] = []
    for (_, top), (bottom, _) in itertools.pairwise(edges):
        band = dark[top + 1 : bottom]
        if top < 0 or bottom >= height or len(band) < 2:
            columns.append([])  # above the first rule or below the last: not inside a table
            continue
        columns.append(_thin_runs(np.flatnonzero(band.mean(axis=0) >= _VERTICAL_COVER)))
    return Grid(rules, columns)


def table_parts(image: Image.Image, grid: Grid, margin: int = 8) -> tuple[Image.Image, list[Part]]:
    """``image`` cut for reading: each table column on its own, rules painted out and a blank margin
    around it, and the rest of the image with the tables painted out. Boxes found on a part go back
    to the image's pixels with ``Part.place``."""
    rest = image.copy()
    draw = ImageDraw.Draw(rest)
    parts = []
    for table in grid.tables():
        for left, top, right, bottom in table.columns():
            column = image.crop((left, top, right, bottom))
            paint = ImageDraw.Draw(column)
            for first, last in table.rows[1:-1]:  # the rules between rows cross the column
                paint.rectangle((0, first - top, column.width, last - top), fill="white")
            parts.append(Part(ImageOps.expand(column, margin, fill="white"), left - margin, top - margin))
        draw.rectangle(table.bounds, fill="white")
    return rest, parts


@dataclass(frozen=True)
class Part:
    image: Image.Image
    x: int  # where the part's (0, 0) is on the image it was cut from
    y: int

    def place(self, boxes: Sequence[TextBox], index: int) -> list[TextBox]:
        """``boxes`` found on this part, in the pixels of the whole image; engine line ids made unique."""
        return [
            box._replace(
                left=box.left + self.x, right=box.right + self.x, top=box.top + self.y, bottom=box.bottom + self.y,
                line=None if box.line is None else (index, *box.line),
            )
            for box in boxes
        ]  # fmt: skip


def _thin_runs(values: np.ndarray) -> list[tuple[int, int]]:
    """First and last of each run of consecutive integers no longer than a rule is thick."""
    if values.size == 0:
        return []
    runs = np.split(values, np.flatnonzero(np.diff(values) > 1) + 1)
    return [(int(run[0]), int(run[-1])) for run in runs if len(run) <= _MAX_RULE_PX]


def _longest_runs(mask: np.ndarray) -> np.ndarray:
    """Per row, the length of the longest run of True."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    starts, ends = np.argwhere(steps == 1), np.argwhere(steps == -1)  # row-major: pairs line up
    longest = np.zeros(height, dtype=np.int64)
    np.maximum.at(longest, starts[:, 0], ends[:, 1] - starts[:, 1])
    return longest


# --- lines -----------------------------------------------------------------------------------------


def in_reading_order(boxes: Sequence[TextBox], grid: Grid | None = None) -> str:
    """The text of one column's boxes: lines top to bottom; inside a ruled table (``grid`` given),
    row by row and cell by cell, each cell's lines top to bottom."""
    if grid is None or not boxes or not any(grid.columns):
        return _lines(boxes)
    cells: dict[tuple[int, int], list[TextBox]] = {}
    for box in boxes:
        cells.setdefault(grid.cell(box), []).append(box)
    # A band without vertical rules is one "cell": its lines keep their order.
    return "\n".join(_lines(cells[key]) for key in sorted(cells))


def _lines(boxes: Sequence[TextBox]) -> str:
    """Join boxes into lines, top to bottom: by the engine's own lines where it gives them, else
    boxes whose centres are within half a box height of a line's first box are on that line."""
    lines: list[list[TextBox]] = []
    if boxes and all(box.line is not None for box in boxes):
        by_line: dict[tuple[int, ...] | None, list[TextBox]] = {}
        for box in boxes:
            by_line.setdefault(box.line, []).append(box)
        lines = sorted(by_line.values(), key=lambda line: sum(b.centre_y for b in line) / len(line))
    else:
        for box in sorted(boxes, key=lambda b: b.centre_y):
            if not lines or abs(box.centre_y - lines[-1][0].centre_y) > lines[-1][0].height * 0.5:
                lines.append([box])
            else:
                lines[-1].append(box)
    return "\n".join(" ".join(b.text for b in sorted(line, key=lambda b: b.left)) for line in lines)
