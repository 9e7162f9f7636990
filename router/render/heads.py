"""Table heads drawn again where a table is cut: a piece of flowing text (``router.render.flow``) that
starts inside a table's body gets that table's head rows above it, as a printed table repeats its
header on each page, so the model reads a continued column of numbers under its name and not from
memory of an earlier page (litellm's price table: four columns of numbers, two token limits and two
prices, told apart only by their header).

The renderer's HTML (``router.render.markup``: markdown-it's and the CSV table's) is tagged with ids,
and the story reports where each tagged element was placed (``pymupdf.Story.element_positions``),
so the head's rows are known in the strip's pixels. The read-back's reference repeats the head's
text where the pages do (``heads_repeated``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import pymupdf

__all__ = ["Head", "TableHeads", "heads_repeated", "tagged"]

_ID = "hcr-"  # the renderer's ids; the caller's markup never has tags (markdown-it runs with html off)
_TAG = re.compile(r"<(/?thead|table|tr)\b")
_HEAD = re.compile(r"<thead>(.*?)</thead>", re.DOTALL)
_ROW = re.compile(r"<tr\b")
MAX_HEAD_SHARE = 0.25  # a head taller than this share of a column is not repeated: it would crowd the rows


@dataclass(frozen=True)
class Head:
    top: int  # the strip's rows top:bottom hold the table's head, its rules included
    bottom: int
    row: int  # the row (numbered as ``tagged`` numbers them) that the continued piece starts with


def tagged(body: str) -> str:
    """``body`` with an id on each table and row: rows numbered in document order, a head's rows
    named ``th``, a body's ``tr``. (The story reports no position for ``thead`` and ``tbody``.)"""
    tables, rows, in_head = 0, 0, False

    def tag(match: re.Match[str]) -> str:
        nonlocal tables, rows, in_head
        name = match.group(1)
        if name in ("thead", "/thead"):
            in_head = name == "thead"
            return match.group(0)
        if name == "table":
            tables += 1
            return f'<table id="{_ID}table{tables - 1}"'
        rows += 1
        return f'<tr id="{_ID}{"th" if in_head else "tr"}{rows - 1}"'

    return _TAG.sub(tag, body)


class TableHeads:
    """Where each table's head and body rows were placed in a story laid out as one strip."""

    def __init__(self, story: pymupdf.Story, column_height: int) -> None:
        placed: dict[str, pymupdf.Rect] = {}  # in document order; each element is reported open and closed

        def seen(position: Any) -> None:
            ident = position.id or ""  # headings are reported too, most without an id
            if ident.startswith(_ID):
                placed.setdefault(ident, pymupdf.Rect(position.rect))

        story.element_positions(seen, {})
        # Each table: the rows its head spans (its top rule to its bottom rule) and its body's rows
        # (row number, top, bottom), in order.
        self._tables: list[tuple[int, int, list[tuple[int, float, float]]]] = []
        for ident, rect in placed.items():
            name = ident[len(_ID) :].rstrip("0123456789")
            if name == "table":
                self._tables.append((math.floor(rect.y0), math.floor(rect.y0), []))
            elif name == "th" and self._tables:
                top, _, rows = self._tables[-1]
                self._tables[-1] = (top, math.ceil(rect.y1), rows)
            elif name == "tr" and self._tables:
                self._tables[-1][2].append((int(ident[len(_ID) + 2 :]), rect.y0, rect.y1))
        self._most = MAX_HEAD_SHARE * column_height

    def at(self, position: int) -> Head | None:
        """The head to draw above a piece that starts at the strip's row ``position``: None unless the
        piece starts inside a table's body, with at least one row's text still to come."""
        for top, body, rows in self._tables:
            if not rows or not body - top or body - top > self._most:
                continue
            if body < position and position < rows[-1][2] - 1:
                # The row the piece starts with is the first whose middle is below the cut: a cut in a
                # row's bottom padding leaves that row's text above it, on the piece before.
                row = next((number for number, y0, y1 in rows if (y0 + y1) / 2 > position), rows[-1][0])
                return Head(top, body, row)
        return None


def heads_repeated(body: str, rows: list[int]) -> str:
    """``body`` with its table's head rows again before each row numbered in ``rows``: the markup as
    the pages show it, for the read-back's reference."""
    if not rows:
        return body
    wanted = set(rows)
    heads = [(match.start(), match.group(1)) for match in _HEAD.finditer(body)]
    out: list[str] = []
    at = 0
    for number, match in enumerate(_ROW.finditer(body)):
        if number in wanted:
            head = next((text for start, text in reversed(heads) if start < match.start()), "")
            out += [body[at : match.start()], head]
            at = match.start()
    return "".join(out) + body[at:]
