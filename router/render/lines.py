"""Monospace lines: source runs wrapped to a column, drawn as HTML for PyMuPDF's Story.

Monospace kinds (code, logs, HTML source, config) are wrapped here rather than by the layout engine:
the packer (``router.render.mono``) needs each line's exact width and height to fill columns, and a
wrapped line's continuation starts with a visible marker so the model can tell it from a new line.

Two things on a code page are drawn smaller than a cell, because they carry no characters:

- Indentation, in kinds whose indentation is nesting (``KindSpec.compact_indent``: code, HTML source,
  config, and JSON that is not JSON tokens), is drawn at ``INDENT_SCALE`` of a cell per space. Depth
  stays proportional, so deeper is still further right and equal depths still line up; a third of a
  code line's cells were leading spaces (CPython's stdlib: 11 of 45 on average). Logs, diffs and
  terminal output keep full cells, since their leading spaces align columns.
- Blank lines are drawn at ``INDENT_SCALE`` of a line's height: still a visible break between blocks.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby, repeat

from router.render.tables import MONO_ADVANCE_EM

__all__ = [
    "CONTINUATION",
    "INDENT_SCALE",
    "MARKERS",
    "MARK_COLOUR",
    "Run",
    "VisualLine",
    "is_wide",
    "lines_html",
    "span",
    "wrap_runs",
]

Run = tuple[str, "str | None"]  # text and its colour (None = black)

WIDE_ADVANCE_EM = 2 * MONO_ADVANCE_EM  # a CJK glyph (1 em, Droid Sans Fallback) and a spacer: two cells
INDENT_SCALE = 0.5  # of a cell per leading space (compact kinds), and of a line per blank line
INDENT_ADVANCE_EM = INDENT_SCALE * MONO_ADVANCE_EM
CONTINUATION = "↪ "  # starts a wrapped line's continuation
MARKERS = (CONTINUATION.strip(),)
MARK_COLOUR = "#8a8a8a"
TAB = 4
_SPACER = "\u2006"  # six-per-em space: 1/6 em, the nearest MuPDF space to two cells less 1 em (0.172 em)
# Spaces and line ends in this span are drawn at INDENT_SCALE of the em (the CSS is ``markup.base_css``).
_SMALL = '<span class="i">{}</span>'


@dataclass(frozen=True)
class VisualLine:
    runs: tuple[Run, ...]
    width_em: float  # indentation included
    continuation: bool
    indent: int = 0  # leading spaces drawn at INDENT_SCALE of a cell (not in ``runs``)

    @property
    def blank(self) -> bool:
        return not self.continuation and all(not text.strip() for text, _ in self.runs)

    @property
    def height(self) -> float:
        """In lines: a blank line is drawn INDENT_SCALE of a line high."""
        return INDENT_SCALE if self.blank else 1.0


def wrap_runs(runs: Sequence[Run], width_em: float, *, compact_indent: bool = False) -> list[VisualLine]:
    """Split runs into source lines, then wrap each to ``width_em``; continuations get a marker.

    A line is wrapped where a token ends (after a space or punctuation, or before an opening bracket
    or a dot), so ``router.policies`` wraps before ``.policies``, not inside ``policies``; only a
    token longer than half the line is cut where the line is full. With ``compact_indent`` a source
    line's leading spaces are kept apart as its ``indent`` and measured at INDENT_SCALE of a cell.

    Every advance is a multiple of 1/256 em, so sums are exact in floating point and a stretch of
    ASCII that fits is taken whole rather than a character at a time (most lines of code fit)."""
    marker_em = width_em_of(CONTINUATION)
    lines: list[VisualLine] = []
    chars: list[str] = []  # the visual line being filled, and each character's colour
    colours: list[str | None] = []
    indent = 0  # the current source line's leading spaces, drawn compact
    leading = compact_indent  # still inside that indentation
    used = 0.0
    continuation = False

    def emit(chars: list[str], colours: list[str | None], wrapped: bool) -> None:
        text = "".join(chars)
        grouped: list[Run] = [(CONTINUATION, MARK_COLOUR)] if wrapped else []
        at = 0
        for colour, group in groupby(colours):
            n = len(list(group))
            grouped.append((text[at : at + n], colour))
            at += n
        own_indent = 0 if wrapped else indent
        width = width_em_of(text) + own_indent * INDENT_ADVANCE_EM
        lines.append(VisualLine(tuple(grouped), width + (marker_em if wrapped else 0.0), wrapped, own_indent))

    for text, colour in runs:
        for i, segment in enumerate(text.expandtabs(TAB).split("\n")):
            if i:
                emit(chars, colours, continuation)
                chars, colours, used, continuation, indent, leading = [], [], 0.0, False, 0, compact_indent
            rest = segment
            if leading:
                taken = 0
                while taken < len(segment) and segment[taken] == " " and used + INDENT_ADVANCE_EM <= width_em / 2:
                    taken += 1  # deeper than half the line is drawn as it is
                    used += INDENT_ADVANCE_EM
                indent += taken
                rest = segment[taken:]
                leading = taken == len(segment)  # the whole run was indentation: the next may add to it
            start = marker_em if continuation else 0.0
            if rest.isascii() and start + used + len(rest) * MONO_ADVANCE_EM <= width_em:
                chars += rest
                colours += repeat(colour, len(rest))
                used += len(rest) * MONO_ADVANCE_EM
                continue
            for ch in rest:
                advance = _advance_em(ch)
                start = marker_em if continuation else 0.0
                if chars and start + used + advance > width_em:
                    cut = _token_break(chars)
                    if cut and marker_em + width_em_of("".join(chars[cut:])) + advance > width_em:
                        cut = 0  # nothing fits beside it: cut where the line is full
                    end = cut or len(chars)
                    emit(chars[:end], colours[:end], continuation)
                    continuation = True
                    chars, colours = chars[end:], colours[end:]
                    used = width_em_of("".join(chars))
                chars.append(ch)
                colours.append(colour)
                used += advance
    emit(chars, colours, continuation)
    return lines


_BREAK_AFTER = frozenset(" \t,;:)]}>/\\=|&+-*")
_BREAK_BEFORE = frozenset("([{<.")


def _token_break(chars: list[str]) -> int:
    """Where to wrap a full line: after its last token boundary in its second half; 0 for none."""
    for j in range(len(chars) - 1, max(1, len(chars) // 2) - 1, -1):
        if chars[j - 1] in _BREAK_AFTER or (chars[j] in _BREAK_BEFORE and not chars[j - 1].isspace()):
            return j
    return 0


def lines_html(lines: list[VisualLine]) -> str:
    """One column of lines; blank lines and indentation are drawn small (see the module's docstring)."""
    out: list[str] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if line.blank:  # the line's own end, drawn small, is what makes it a short line
            out.append("" if last else _SMALL.format("\n"))
            continue
        indent = _SMALL.format(" " * line.indent) if line.indent else ""
        out.append(indent + "".join(span(text, colour) for text, colour in line.runs) + ("" if last else "\n"))
    return f'<div class="m">{"".join(out)}</div>'


def width_em_of(text: str) -> float:
    if text.isascii():  # the common case, measured without a Unicode lookup per character
        return len(text) * MONO_ADVANCE_EM
    return sum(_advance_em(ch) for ch in text)


def is_wide(ch: str) -> bool:
    # No assigned character below U+1100 (Hangul Jamo) is wide; the check skips the lookup for them.
    return ch >= "\u1100" and unicodedata.east_asian_width(ch) in ("W", "F")


def _advance_em(ch: str) -> float:
    return WIDE_ADVANCE_EM if is_wide(ch) else MONO_ADVANCE_EM


def span(text: str, colour: str | None) -> str:
    escaped = _two_cells(html.escape(text, quote=False))
    return f'<span style="color:{colour}">{escaped}</span>' if colour else escaped


def _two_cells(text: str) -> str:
    """Monospace text with each East Asian wide character two cells wide, as terminals draw it: the
    CJK fallback font advances 1 em, a cell is 0.586 em, and a six-per-em space makes up the rest
    (0.005 em short: a tenth of a cell after 20 wide characters), so ASCII-art tables around Chinese
    text stay aligned. MuPDF's HTML has no letter-spacing."""
    if text.isascii():
        return text
    return "".join(ch + _SPACER if is_wide(ch) else ch for ch in text)
