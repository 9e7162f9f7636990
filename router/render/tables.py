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

import pymupdf
from markdown_it.token import Token as MdToken

__all__ = ["LONG_RUN_MIN", "MONO_ADVANCE_EM", "records_markdown", "size_tables", "split_wide_tables", "table_widths"]

LONG_RUN_MIN = 24  # runs of this many characters get zero-width break points (``html.soft_breaks``)
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


def table_widths(cells: list[list[str]], width_px: float, em_px: float) -> list[float]:
    """Column widths like a browser's automatic table layout: columns that fit get their natural
    width, the others share what is left in proportion to theirs, none below one short word.

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
        return natural
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


def size_tables(tokens: list[MdToken], width_px: float, em_px: float) -> None:
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
            padding = _cell_padding(em_px)  # CSS widths are content widths: padding and rules come on top
            for token, width in zip(heads, table_widths(rows, width_px - 2, em_px), strict=False):
                style = str(token.attrGet("style") or "")
                token.attrSet("style", f"{style + ';' if style else ''}width:{round(width - padding)}px")
        i = end + 1


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
