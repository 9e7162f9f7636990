"""Monospace lines: source runs wrapped to a column, drawn as HTML for PyMuPDF's Story.

Monospace kinds (code, logs, HTML source, config) are wrapped here rather than by the layout engine:
the packer (``router.render.mono``) needs each line's exact width and height to fill columns, and a
wrapped line's continuation starts with a visible marker so the model can tell it from a new line.

Two things on a code page are drawn smaller than a cell, because they carry no characters:

- Indentation, in kinds whose indentation is nesting (``KindSpec.compact_indent``: code, HTML source,
  config, diffs, and JSON that is not JSON tokens), is drawn at ``INDENT_SCALE`` of a cell per space.
  Depth stays proportional, so deeper is still further right and equal depths still line up; a third
  of a code line's cells were leading spaces (CPython's stdlib: 11 of 45 on average). A diff's line
  starts with its marker (``KindSpec.marker``), drawn in a cell of its own; the spaces after it are
  the code's indentation. Logs and terminal output keep full cells, since their leading spaces align
  columns.
- Blank lines are drawn at ``INDENT_SCALE`` of a line's height: still a visible break between blocks.

Kinds whose lines are statements rather than aligned columns (code, HTML source, config:
``KindSpec.sans``) can be drawn in FiraGO, the prose font, instead of Cascadia Mono's cells, where
the calibration chose it for the density (``Typesetting.proportional``): at the same em an average
character of CPython's stdlib takes 0.45 em against 0.586 (a line of code is mostly lowercase, dots
and brackets), and at `dense` the read-back is as good (1k tokens of the stdlib, 98.5% at 10 px / 1.2
on Claude's pages, 98.1% in cells). The indentation and the continuation marker keep their
monospace widths, so depth still reads as it did. Each line is measured before it
is laid out, so its width must be an upper bound of what MuPDF draws: FiraGO kerns a few pairs apart
(``f)`` by 0.08 em), so each character's advance carries the most its font kerns after it
(``SANS_KERN_AFTER``, checked against MuPDF's own layout of every pair by the tests). That is known
for printable ASCII only, so a line with any other character (``─``, ``é``, CJK) is drawn in
Cascadia Mono, in cells, as before.
"""

from __future__ import annotations

import functools
import html
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby, repeat
from typing import Literal

import pymupdf

from router.render.tables import MONO_ADVANCE_EM

__all__ = [
    "AS_PRINTED",
    "CONTINUATION",
    "INDENT_SCALE",
    "MARKERS",
    "MARK_COLOUR",
    "SANS_KERN_AFTER",
    "Face",
    "LineForm",
    "Run",
    "VisualLine",
    "Wrapping",
    "coloured",
    "face_of",
    "is_wide",
    "line_runs",
    "lines_html",
    "span",
    "wrap_runs",
]

Run = tuple[str, "str | None"]  # text and its colour (None = black)
Face = Literal["mono", "sans"]  # Cascadia Mono's cells, or FiraGO where every character is printable ASCII

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
_MONO_IN_SANS = '<span class="o">{}</span>'  # a line of a FiraGO column drawn in Cascadia Mono
# The most FiraGO kerns a pair apart after each character, in em (MuPDF lays out with HarfBuzz, whose
# kerning and contextual forms set ``f)`` 0.08 em wider than the advances; most pairs kern closer).
# Measured by laying out every pair of printable ASCII; tests/render/test_sans_code.py checks it.
SANS_KERN_AFTER: dict[str, float] = {
    "!": 0.01, '"': 0.011, "#": 0.02, "'": 0.011, "(": 0.036, "*": 0.011, ",": 0.011, ".": 0.011, "7": 0.021,
    ":": 0.01, ";": 0.01, "?": 0.01, "A": 0.01, "E": 0.004, "F": 0.005, "K": 0.01, "Q": 0.014, "R": 0.009,
    "T": 0.011, "V": 0.014, "W": 0.005, "X": 0.009, "Y": 0.01, "Z": 0.011, "[": 0.033, "\\": 0.021, "_": 0.037,
    "c": 0.011, "f": 0.08, "g": 0.031, "k": 0.01, "l": 0.005, "q": 0.006, "r": 0.02, "t": 0.01, "v": 0.01,
    "w": 0.009, "x": 0.009, "y": 0.01, "{": 0.028,
}  # fmt: skip


@dataclass(frozen=True)
class VisualLine:
    runs: tuple[Run, ...]
    width_em: float  # indentation included
    continuation: bool
    indent: int = 0  # leading spaces drawn at INDENT_SCALE of a cell (not in ``runs``)
    face: Face = "mono"
    marker: Run | None = None  # a diff's ``+``/``-``/space, drawn in a cell before the indentation

    @property
    def blank(self) -> bool:
        marked = self.marker is not None and self.marker[0].strip()
        return not self.continuation and not marked and all(not text.strip() for text, _ in self.runs)

    @property
    def height(self) -> float:
        """In lines: a blank line is drawn INDENT_SCALE of a line high."""
        return INDENT_SCALE if self.blank else 1.0


@dataclass(frozen=True)
class LineForm:
    """How a kind's source lines are drawn (from its ``KindSpec`` and the density's setting)."""

    compact_indent: bool = False  # leading spaces are nesting, drawn at INDENT_SCALE of a cell
    sans: bool = False  # lines of printable ASCII in FiraGO
    marker: bool = False  # the first character is a marker (a diff's), drawn in a cell before the indentation


AS_PRINTED = LineForm()  # every character in its cell, as a terminal prints it (logs, terminal output)


def wrap_runs(runs: Sequence[Run], width_em: float, form: LineForm = AS_PRINTED) -> list[VisualLine]:
    """Split runs into source lines, then wrap each to ``width_em``; continuations get a marker.

    A line is wrapped where a token ends (after a space or punctuation, or before an opening bracket
    or a dot), so ``router.policies`` wraps before ``.policies``, not inside ``policies``; only a
    token longer than half the line is cut where the line is full. The ``form``: with
    ``compact_indent`` a source line's leading spaces are kept apart as its ``indent`` and measured
    at INDENT_SCALE of a cell; with ``sans`` each source line of printable ASCII is measured (and
    drawn) in FiraGO; with ``marker`` each source line's first character is its marker (a diff's
    ``+``, ``-`` or space), kept apart and drawn in a cell, so the indentation after it is the line's
    own and is drawn compact too.

    Every monospace advance is a multiple of 1/256 em, so sums are exact in floating point and a
    stretch of ASCII that fits is taken whole rather than a character at a time (most lines of code
    fit)."""
    return [line for segments, face in _source_lines(runs, form) for line in _wrap_line(segments, face, width_em, form)]


class Wrapping:
    """A chunk's source lines, to be wrapped at several widths (``router.render.mono`` tries a few).

    A source line that fits a width as it is laid out with none is taken as it is; only longer lines
    are wrapped again: what ``wrap_runs`` gives, for the wrapping of the lines that need it."""

    def __init__(self, runs: Sequence[Run], form: LineForm = AS_PRINTED) -> None:
        self.form = form
        self.sources = _source_lines(runs, form)
        self.unwrapped = [_wrap_line(segments, face, math.inf, form)[0] for segments, face in self.sources]

    def wrap(self, width_em: float) -> list[VisualLine]:
        lines: list[VisualLine] = []
        for line, (segments, face) in zip(self.unwrapped, self.sources, strict=True):
            if _fits_as_laid_out(line, width_em):
                lines.append(line)
            else:
                lines += _wrap_line(segments, face, width_em, self.form)
        return lines


def _fits_as_laid_out(line: VisualLine, width_em: float) -> bool:
    """Whether ``line``, laid out with no width limit, is laid out the same at ``width_em``: it fits
    (with a margin for sums taken in another order), and its indentation, taken while it is under
    half the width, is all taken."""
    lead = line.indent * INDENT_ADVANCE_EM + (MONO_ADVANCE_EM if line.marker else 0.0)
    return line.width_em < width_em - 1e-6 and lead <= width_em / 2 - 1e-6


def line_runs(runs: Sequence[Run]) -> list[list[Run]]:
    """The runs of each line of ``runs``' text, empty pieces left out (they draw nothing)."""
    lines: list[list[Run]] = [[]]
    for text, colour in runs:
        for i, piece in enumerate(text.split("\n")):
            if i:
                lines.append([])
            if piece:
                lines[-1].append((piece, colour))
    return lines


def _source_lines(runs: Sequence[Run], form: LineForm) -> list[tuple[list[Run], Face]]:
    """The runs of each source line and its face."""
    text = "".join(text for text, _ in runs)
    faces = [face_of(line) if form.sans else "mono" for line in text.split("\n")]
    return list(zip(line_runs(runs), faces, strict=True))


def _wrap_line(segments: list[Run], face: Face, width_em: float, form: LineForm) -> list[VisualLine]:
    """One source line wrapped to ``width_em``: its visual lines."""
    marker_em = width_em_of(CONTINUATION)
    lines: list[VisualLine] = []
    chars: list[str] = []  # the visual line being filled, and each character's colour
    colours: list[str | None] = []
    indent = 0  # the line's leading spaces, drawn compact
    leading = form.compact_indent  # still inside that indentation
    own_marker: Run | None = None  # the line's marker
    marking = form.marker  # its marker is still to be taken
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
        own_indent, mark = (0, None) if wrapped else (indent, own_marker)
        width = width_em_of(text, face) + own_indent * INDENT_ADVANCE_EM + (MONO_ADVANCE_EM if mark else 0.0)
        lines.append(
            VisualLine(tuple(grouped), width + (marker_em if wrapped else 0.0), wrapped, own_indent, face, mark)
        )

    for segment, colour in segments:
        if marking:
            own_marker, segment, marking = (segment[0], colour), segment[1:], False
            used += MONO_ADVANCE_EM
        segment = segment.expandtabs(TAB)
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
        rest_em = width_em_of(rest, face) if rest.isascii() else None
        if rest_em is not None and start + used + rest_em <= width_em:
            chars += rest
            colours += repeat(colour, len(rest))
            used += rest_em
            continue
        for ch in rest:
            advance = _advance_em(ch, face)
            start = marker_em if continuation else 0.0
            if chars and start + used + advance > width_em:
                cut = _token_break(chars)
                if cut and marker_em + width_em_of("".join(chars[cut:]), face) + advance > width_em:
                    cut = 0  # nothing fits beside it: cut where the line is full
                end = cut or len(chars)
                emit(chars[:end], colours[:end], continuation)
                continuation = True
                chars, colours = chars[end:], colours[end:]
                used = width_em_of("".join(chars), face)
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
    """One column of lines; blank lines and indentation are drawn small (see the module's docstring).

    A column with a line in FiraGO is a FiraGO block whose other lines are spans of Cascadia Mono;
    the indentation and the continuation marker are Cascadia Mono in both."""
    sans = any(line.face == "sans" for line in lines)
    out: list[str] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1
        if line.blank:  # the line's own end, drawn small, is what makes it a short line
            out.append("" if last else _SMALL.format("\n"))
            continue
        indent = _SMALL.format(" " * line.indent) if line.indent else ""
        if line.marker:  # in a cell, in a FiraGO column too
            marker = span(*line.marker)
            indent = (_MONO_IN_SANS.format(marker) if sans else marker) + indent
        if line.face == "sans":
            runs = line.runs[1:] if line.continuation else line.runs  # the marker is the first run
            body = "".join(span(_unjoined_ffs(text), colour) for text, colour in runs)
            if line.continuation:
                body = _MONO_IN_SANS.format(span(*line.runs[0])) + body
        else:
            body = "".join(span(text, colour) for text, colour in line.runs)
        if line.face == "mono" and sans:
            body = _MONO_IN_SANS.format(body)
        out.append(indent + body + ("" if last else "\n"))
    return f'<div class="{"m s" if sans else "m"}">{"".join(out)}</div>'


def face_of(line: str) -> Face:
    """FiraGO for a line of printable ASCII (tabs too), whose kerning ``SANS_KERN_AFTER`` bounds."""
    return "sans" if all(" " <= ch <= "~" or ch == "\t" for ch in line) else "mono"


def width_em_of(text: str, face: Face = "mono") -> float:
    if face == "sans":
        advances = _sans_advances()
        return sum(advances[ch] for ch in text)
    if text.isascii():  # the common case, measured without a Unicode lookup per character
        return len(text) * MONO_ADVANCE_EM
    return sum(_advance_em(ch) for ch in text)


@functools.cache
def _sans_advances() -> dict[str, float]:
    """Each printable ASCII character's FiraGO advance, with the most it is kerned apart from the next."""
    font = pymupdf.Font("figo")  # the font ``markup.fonts`` draws "sans" with
    return {chr(c): font.glyph_advance(c) + SANS_KERN_AFTER.get(chr(c), 0.0) for c in range(0x20, 0x7F)}


def is_wide(ch: str) -> bool:
    # No assigned character below U+1100 (Hangul Jamo) is wide; the check skips the lookup for them.
    return ch >= "\u1100" and unicodedata.east_asian_width(ch) in ("W", "F")


def _advance_em(ch: str, face: Face = "mono") -> float:
    if face == "sans":
        return _sans_advances()[ch]
    return WIDE_ADVANCE_EM if is_wide(ch) else MONO_ADVANCE_EM


def _unjoined_ffs(text: str) -> str:
    """FiraGO joins ``ff`` into a ligature, which reads back worse than two f's: a zero-width
    non-joiner between them, as ``router.render.markup.unjoined_ffs`` does for prose."""
    return text.replace("ff", "f\u200cf")


def span(text: str, colour: str | None) -> str:
    return coloured(_two_cells(html.escape(text, quote=False)), colour)


def coloured(escaped: str, colour: str | None) -> str:
    """HTML text in ``colour`` (None: the page's)."""
    return f'<span style="color:{colour}">{escaped}</span>' if colour else escaped


def _two_cells(text: str) -> str:
    """Monospace text with each East Asian wide character two cells wide, as terminals draw it: the
    CJK fallback font advances 1 em, a cell is 0.586 em, and a six-per-em space makes up the rest
    (0.005 em short: a tenth of a cell after 20 wide characters), so ASCII-art tables around Chinese
    text stay aligned. MuPDF's HTML has no letter-spacing."""
    if text.isascii():
        return text
    return "".join(ch + _SPACER if is_wide(ch) else ch for ch in text)
