"""Markdown tables on pages: column widths like a browser's, and tables too wide to fit split up.

Column widths follow the automatic table layout of browsers (``table_widths``): columns that fit keep
their natural width, the rest share what is left. A table whose columns cannot all stand side by side
even at their narrowest (``_column_floors``: the longest unbreakable run in each) is not cut at the
page edge: it becomes several tables of column groups, each repeating the first (key) column under a
caption that names its columns (``split_wide_tables``).
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Callable

import numpy as np
import pymupdf
from markdown_it.token import Token as MdToken

__all__ = [
    "BREAK_EVERY", "LONG_RUN_MIN", "MONO_ADVANCE_EM",
    "records_markdown", "size_tables", "split_wide_tables", "table_widths",
]  # fmt: skip

LONG_RUN_MIN = 24  # runs of this many characters get zero-width break points (``markup.soft_breaks``)
BREAK_EVERY = 12  # ... one every this many characters
MONO_ADVANCE_EM = 0.5859375  # Cascadia Mono (markup.fonts): every glyph advances 1200/2048 em
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~&])")


def records_markdown(text: str) -> str:
    """CSV/TSV records as a markdown table: the first record is the header (tabs in it make it TSV);
    markdown syntax in cells is escaped, so every cell is drawn exactly as written."""
    delimiter = "\t" if "\t" in text.split("\n", 1)[0] else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]
    width = max(len(row) for row in rows)
    lines = []
    for r, row in enumerate(rows):
        cells = [_MARKDOWN_SPECIAL.sub(r"\\\1", cell.strip()) for cell in row] + [""] * (width - len(row))
        lines.append("| " + " | ".join(cells) + " |")
        if r == 0:
            lines.append("|" + "---|" * width)
    return "\n".join(lines) + "\n"


def split_wide_tables(
    tokens: list[MdToken], parse: Callable[[str], list[MdToken]], width_px: float, em_px: float
) -> list[MdToken]:
    """Tables whose columns cannot all fit side by side become several tables of column groups, each
    repeating the first (key) column under a caption naming its columns: nothing runs off the page."""
    out: list[MdToken] = []
    i = 0
    while i < len(tokens):
        if tokens[i].type != "table_open":
            out.append(tokens[i])
            i += 1
            continue
        end = next(k for k in range(i, len(tokens)) if tokens[k].type == "table_close")
        rows, aligns = _table_cells(tokens[i:end])
        floors = _column_floors(rows, em_px)
        groups = _column_groups(floors, width_px - 2) if sum(floors) > width_px - 2 else None
        if groups is None:
            out.extend(tokens[i : end + 1])
        else:
            out.extend(parse(_groups_markdown(rows, aligns, groups)))
        i = end + 1
    return out


def _table_cells(tokens: list[MdToken]) -> tuple[list[list[str]], list[str]]:
    rows: list[list[str]] = []
    aligns: list[str] = []
    for k, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            if token.type == "th_open":
                aligns.append(str(token.attrGet("style") or "").removeprefix("text-align:"))
            rows[-1].append(tokens[k + 1].content if tokens[k + 1].type == "inline" else "")
    return rows, aligns


def _column_groups(floors: list[float], width_px: float) -> list[list[int]] | None:
    """Columns 1.. packed greedily beside column 0; None when even one of them cannot sit beside it."""
    groups: list[list[int]] = []
    group, used = [0], floors[0]
    for j in range(1, len(floors)):
        if floors[0] + floors[j] > width_px:
            return None
        if used + floors[j] > width_px:
            groups.append(group)
            group, used = [0], floors[0]
        group.append(j)
        used += floors[j]
    groups.append(group)
    return groups


def _groups_markdown(rows: list[list[str]], aligns: list[str], groups: list[list[int]]) -> str:
    separator = {"left": ":--", "center": ":-:", "right": "--:"}
    parts = []
    for group in groups:
        first, last = group[1] + 1, group[-1] + 1
        span = f"{first}" if first == last else f"{first}-{last}"
        parts.append(f"*Columns 1 and {span} of {len(aligns)} (column 1 repeated)*\n")
        lines = []
        for r, row in enumerate(rows):
            cells = [row[j].replace("|", "\\|") if j < len(row) else "" for j in group]
            lines.append("| " + " | ".join(cells) + " |")
            if r == 0:
                lines.append("|" + "|".join(separator.get(aligns[j], "---") for j in group) + "|")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _column_floors(cells: list[list[str]], em_px: float) -> list[float]:
    """The narrowest each column can be: its longest unbreakable run (``soft_breaks`` cuts longer ones),
    or four ems, plus padding."""
    columns = max(len(row) for row in cells)
    padding = _cell_padding(em_px)
    floor = text_width("M" * 4, em_px)
    floors = [floor] * columns
    for row in cells:
        for j, cell in enumerate(row):
            for word in cell.split():
                run = word[: LONG_RUN_MIN - 1]  # bold headers and inline code (monospace) run wider than text
                floors[j] = max(floors[j], text_width(run, em_px) * 1.1, len(run) * MONO_ADVANCE_EM * em_px)
    return [w + padding for w in floors]


def table_widths(
    cells: list[list[str]],
    width_px: float,
    em_px: float,
    *,
    by_area: bool = False,
    line_height: float = 1.0,
    beside: float = 0.0,
) -> list[float]:
    """Column widths like a browser's automatic table layout: columns that fit get their natural
    width, the others share what is left in proportion to theirs, none below one short word. Where
    the page is billed by its area (``by_area``), a table that fits is drawn in the least area
    instead: a column whose widest cells are rare wraps them (``_least_area``); the page is at least
    ``beside`` wide whatever the table's width (other content on it).

    Each width is a whole number of pixels of content plus the cell's padding (``_cell_padding``,
    half a pixel at even ems): rounding the whole width instead set the content of a column at its
    natural width up to half a pixel narrower than its widest cell, which then wrapped (``Debian,
    main`` on two lines at 10 px, every row of a CSV one line taller)."""
    columns = max(len(row) for row in cells)
    padding = _cell_padding(em_px)
    natural = [0.0] * columns
    for row in cells:
        for j, cell in enumerate(row):
            natural[j] = max(natural[j], text_width(cell, em_px) + padding)
    floors = _column_floors(cells, em_px)
    natural = [math.ceil(max(w, f) - padding) + padding for w, f in zip(natural, floors, strict=True)]
    if sum(natural) <= width_px:
        return _least_area(cells, natural, floors, em_px, line_height, beside) if by_area else natural
    widths = list(natural)
    open_columns = set(range(columns))
    left = width_px
    while open_columns:  # max-min fairness: columns narrower than an equal share keep their width
        share = left / len(open_columns)
        settled = {j for j in open_columns if natural[j] <= share}
        if not settled:
            _share_by_natural(widths, natural, floors, open_columns, left)
            break
        left -= sum(natural[j] for j in settled)
        open_columns -= settled
    return [max(1, math.floor(w - padding)) + padding for w in _within(widths, floors, width_px)]


def _least_area(
    cells: list[list[str]], natural: list[float], floors: list[float], em_px: float, line_height: float, beside: float
) -> list[float]:
    """Column widths, none wider than its natural width nor narrower than its median cell, that give the
    table the least area: its width (at least ``beside``) times the estimated height of its rows (cells
    wrapped where MuPDF wraps them, ``_pieces``; the cell padding and rule on top). Found a
    column at a time, each held at the width that gives the least area beside the others, until none
    moves. litellm's price map: its model names run to 76 characters, nine in ten to 51; drawn with
    all of them on one line, its 50k-token table was 571 px wide on Claude's pages (3.73x at dense),
    with the longest wrapped 475 px (4.35x)."""
    padding = _cell_padding(em_px)
    space = text_width(" ", em_px)
    rows, columns = len(cells), len(natural)
    pieces = [[_pieces(row[j], em_px) if j < len(row) else [] for row in cells] for j in range(columns)]
    # Each column's candidate widths (content only) and, for each, the lines of every row in it.
    options: list[list[tuple[int, np.ndarray]]] = []
    for j in range(columns):
        widths = np.array([sum(sum(w) for w in cell) + space * (len(cell) - 1) if cell else 0.0 for cell in pieces[j]])
        low = max(math.ceil(floors[j] - padding), math.ceil(float(np.quantile(widths, 0.5))))
        top = round(natural[j] - padding)
        candidates = sorted({top} | {min(top, max(low, math.ceil(float(np.quantile(widths, q))))) for q in _QUANTILES})
        if all(len(cell) < 2 and len(cell[0] if cell else ()) < 2 for cell in pieces[j]):
            candidates = [top]  # no cell in the column can wrap
        column: list[tuple[int, np.ndarray]] = []
        for c in candidates:
            lines = np.ones(rows)
            for r in np.flatnonzero(widths > c):
                lines[r] = _lines(pieces[j][r], space, c)
            column.append((c, lines))
        options.append(column)
    chosen = [len(o) - 1 for o in options]  # natural widths to start
    # A row's padding and rule, in lines (``base_css``: 0.2 em above and below, a 0.7-px rule).
    vertical = (0.4 * em_px + 0.7) / (line_height * em_px)
    for _ in range(4):
        moved = False
        for j in range(columns):
            others = np.ones(rows)
            for k in range(columns):
                if k != j:
                    others = np.maximum(others, options[k][chosen[k]][1])
            fixed = sum(options[k][chosen[k]][0] + padding for k in range(columns) if k != j)

            def area(i: int, j: int = j, others: np.ndarray = others, fixed: float = fixed) -> float:
                width, lines = options[j][i]
                drawn = max(fixed + width + padding, beside)  # the page is as wide as its widest content
                return drawn * float((np.maximum(others, lines) + vertical).sum())

            best = min(range(len(options[j])), key=lambda i: (area(i), -i))
            moved |= best != chosen[j]
            chosen[j] = best
        if not moved:
            break
    return [options[j][chosen[j]][0] + padding for j in range(columns)]


_QUANTILES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)


def _pieces(cell: str, em_px: float) -> list[list[float]]:
    """A cell's words as the widths of their unbreakable pieces: MuPDF breaks a word after a hyphen or a
    slash, and ``markup.soft_breaks`` gives words of ``LONG_RUN_MIN`` characters or more a break point
    every ``BREAK_EVERY``."""
    words = []
    for word in cell.split():
        cuts = {i + 1 for i, char in enumerate(word[:-1]) if char in "-/"}
        if len(word) >= LONG_RUN_MIN:
            cuts |= set(range(BREAK_EVERY, len(word), BREAK_EVERY))
        ends = [*sorted(cuts), len(word)]
        words.append([text_width(word[a:b], em_px) for a, b in zip([0, *ends[:-1]], ends, strict=True)])
    return words


def _lines(cell: list[list[float]], space: float, width: float) -> int:
    """The lines a cell's words take in ``width`` px, filled greedily."""
    lines, used = 1, 0.0
    for word in cell:
        for k, piece in enumerate(word):
            gap = space if k == 0 and used else 0.0
            if used and used + gap + piece > width:
                lines, used = lines + 1, piece
            else:
                used += gap + piece
    return lines


def _within(widths: list[float], floors: list[float], width_px: float) -> list[float]:
    """``widths`` brought back to ``width_px`` where a column held at its floor took more than its share:
    the columns above their floors give the excess back, in proportion to how far above they are (a
    narrow key column kept its natural width while the wide one beside it could not shrink enough)."""
    excess = sum(widths) - width_px
    room = [max(0.0, w - f) for w, f in zip(widths, floors, strict=True)]
    if excess <= 0 or sum(room) <= 0:
        return widths
    give = min(1.0, excess / sum(room))
    return [w - r * give for w, r in zip(widths, room, strict=True)]


def _share_by_natural(
    widths: list[float], natural: list[float], floors: list[float], columns: set[int], left: float
) -> None:
    """Share ``left`` among ``columns`` in proportion to their natural widths, none below its floor: a
    column held at its floor takes its floor out of what the others share (the table must not grow
    past the page, where its right side would be cut off)."""
    columns = set(columns)
    while columns:
        total = sum(natural[j] for j in columns)
        held = {j for j in columns if left * natural[j] / total < floors[j]}
        if not held:
            for j in columns:
                widths[j] = left * natural[j] / total
            return
        for j in held:
            widths[j] = floors[j]
        left -= sum(floors[j] for j in held)
        columns -= held


def size_tables(tokens: list[MdToken], width_px: float, em_px: float, *, by_area: bool, line_height: float) -> None:
    """Give each table's header cells their column widths (``table_widths``). Where the page is billed
    by its area, a table is drawn in its least area where it is the widest thing on the page: the page
    is cropped to its widest content, so a table narrower than the text or tables beside it saved
    nothing and took more height (litellm's price CSV at exact on Claude, as two column groups: 3,596
    image tokens at natural widths, 3,815 with each group in its own least area)."""
    found: list[tuple[list[MdToken], list[list[str]]]] = []
    i = 0
    while i < len(tokens):
        if tokens[i].type != "table_open":
            i += 1
            continue
        end = next(k for k in range(i, len(tokens)) if tokens[k].type == "table_close")
        rows: list[list[str]] = []
        heads: list[MdToken] = []
        for k in range(i, end):
            token = tokens[k]
            if token.type == "tr_open":
                rows.append([])
            elif token.type in ("th_open", "td_open"):
                if token.type == "th_open" and len(rows) == 1:
                    heads.append(token)
                rows[-1].append(tokens[k + 1].content if tokens[k + 1].type == "inline" else "")
        if rows and heads:
            found.append((heads, rows))
        i = end + 1
    widths = [table_widths(rows, width_px - 2, em_px) for _, rows in found]
    if by_area:
        beside = _widest_beside_tables(tokens, width_px, em_px)
        for t, (_, rows) in enumerate(found):
            others = max([beside, *(sum(w) for u, w in enumerate(widths) if u != t)])
            widths[t] = table_widths(rows, width_px - 2, em_px, by_area=True, line_height=line_height, beside=others)
    padding = _cell_padding(em_px)  # CSS widths are content widths: padding and rules come on top
    for (heads, _), table in zip(found, widths, strict=True):
        for token, width in zip(heads, table, strict=False):
            style = str(token.attrGet("style") or "")
            token.attrSet("style", f"{style + ';' if style else ''}width:{round(width - padding)}px")


def _widest_beside_tables(tokens: list[MdToken], width_px: float, em_px: float) -> float:
    """About how wide the widest thing outside the tables is drawn: a paragraph or heading as wide as its
    text (headings at their largest size), up to ``width_px``; any other block (code, lists, quotes,
    rules) the full width."""
    widest, depth = 0.0, 0
    for k, token in enumerate(tokens):
        if token.type == "table_open":
            depth += 1
        elif token.type == "table_close":
            depth -= 1
        elif depth:
            continue
        elif token.type == "inline" and k and tokens[k - 1].type in ("paragraph_open", "heading_open"):
            scale = _LARGEST_HEADING if tokens[k - 1].type == "heading_open" else 1.0
            widest = max(widest, min(width_px, text_width(token.content.replace("\n", " "), em_px * scale) * 1.1))
        elif token.type in _FULL_WIDTH_BLOCKS:
            return width_px
    return widest


_LARGEST_HEADING = 1.35  # h1's font size in ``markup.base_css``
_FULL_WIDTH_BLOCKS = {
    "fence", "code_block", "hr", "bullet_list_open", "ordered_list_open", "blockquote_open", "html_block",
}  # fmt: skip


def _cell_padding(em_px: float) -> float:
    """What a table cell adds to its content width: 0.25 em of padding each side and its rules (``base_css``)."""
    return 0.5 * em_px + 1.5


@functools.lru_cache(maxsize=1)
def _text_font() -> pymupdf.Font:
    return pymupdf.Font("figo")


@functools.lru_cache(maxsize=4096)
def _advance(char: str) -> float:
    """One character's advance at font size 1, fallback fonts included (what ``Font.text_length`` adds)."""
    return float(_text_font().text_length(char, fontsize=1))


def text_width(text: str, em_px: float) -> float:
    """``Font("figo").text_length(text, em_px)``, to the bit: the same advances summed in the same order,
    each looked up once (PyMuPDF resolves every character through its fallback fonts on each call,
    which was two thirds of a table page's layout time)."""
    total = 0.0
    for char in text:
        total += _advance(char)
    return total * em_px
