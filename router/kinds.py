"""Chunk kinds, each described once: how it is drawn, how its source becomes visible text, how it is
highlighted, what its label tells the model, and which file names are of that kind.

Chunking detects kinds (``router.chunking``); rendering, read-back scoring, labels and the CLI read
what they need from ``KINDS`` here, so a new kind is a detector in chunking, a spec here, and the
rules of the policies that should treat it specially.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["KINDS", "MONO_KINDS", "RENDERABLE_KINDS", "Kind", "KindSpec", "kind_for_extension"]

Kind = Literal[
    "prose",
    "markdown",
    "table",
    "code",
    "json",
    "log",
    "html",
    "diff",
    "terminal",
    "csv",
    "config",
    "trace",
    "page",
    "history",
    "text",
]
CONTINUATION_LEGEND = "↪ starts a wrapped line"
DIFF_LEGEND = (
    f"{CONTINUATION_LEGEND}; each line starts with its diff marker (+ added, - removed); each space after it"
    " that starts the line's code is drawn half a character wide"
)
INDENT_LEGEND = f"{CONTINUATION_LEGEND}; each leading space of a line is drawn half a character wide"
JSON_LEGEND = "spacing redrawn: small objects and arrays on one line; a wrapped line is indented or starts with ↪"
TERMINAL_LEGEND = f"{CONTINUATION_LEGEND}; colour codes drawn as colour, other terminal escapes removed"


@dataclass(frozen=True)
class KindSpec:
    name: Kind
    layout: Literal["flow", "mono", "page"]
    """``flow``: proportional text laid out and reflowed; ``mono``: monospace lines wrapped with a
    visible continuation marker and packed into columns; ``page``: a document page drawn as it is."""
    markup: Literal["prose", "markdown", "verbatim", "terminal", "csv", "json", "page"]
    """How the source becomes what is drawn: paragraphs, markdown resolved, every character as is,
    terminal output with its escape sequences applied, records of a CSV/TSV file as a ruled table,
    JSON tokens as written with their whitespace redrawn (``router.render.reflow``; text that is not
    JSON tokens is drawn as code)."""
    lexer: str | None = None
    """Pygments lexer for highlighting; None: the fence's language where the chunk has one, else plain."""
    by_language: bool = False
    """Highlighted by the language of its fence (code)."""
    legend: str | None = None
    """What the label tells the model about markers drawn on the page."""
    extensions: tuple[str, ...] = ()
    """File name suffixes of this kind (``hcr render``)."""
    compact_indent: bool = False
    """Leading spaces are nesting, drawn at half a cell each (``router.render.lines``); kinds whose
    leading spaces align columns (logs, terminal output, tracebacks' carets) keep full cells. Such
    kinds are set at code's sizes (the ``mono`` class, ``router.render.density``)."""
    sans: bool = False
    """Lines of printable ASCII may be drawn in FiraGO instead of monospace cells, where the density's
    calibrated setting says so (``Typesetting.proportional``, ``router.render.lines``): kinds of
    statements and records, whose lines do not align in columns (code, config, logs: JSON Lines read
    99.08% in FiraGO at Claude's `dense` against 99.45% in cells, 271 tokens against 362); terminal
    output and tracebacks keep their cells (columns, carets under code), and so do diffs: the code
    of the bench's stdlib diff read 97.4% in FiraGO at code's `dense` setting on
    Claude (98.8% in cells; its markers left out of both counts). Kinds of the ``mono`` class that
    keep their cells take the cells' own calibrated row (``Typesetting.in_cells``)."""
    marker: bool = False
    """Each line starts with a one-character marker (a diff's ``+``, ``-`` or space), drawn in a cell
    of its own; the rest of the line is a line of code, its indentation drawn compact where the kind's
    is (``router.render.lines``)."""
    sizes: Literal["latin", "table", "data"] = "latin"
    """The calibrated sizes a flowing kind is set at (``router.render.density``): prose's; tables' for
    rows of narrow cells (identifiers, versions, numbers), where a misread glyph has no word around it
    to correct it; JSON's (``data``), whose quotes and braces the engine misreads first."""


KINDS: dict[str, KindSpec] = {
    spec.name: spec
    for spec in [
        KindSpec("prose", "flow", "prose", extensions=(".txt", ".rst")),
        KindSpec("markdown", "flow", "markdown", extensions=(".md", ".markdown")),
        KindSpec("table", "flow", "markdown", sizes="table"),
        KindSpec("code", "mono", "verbatim", by_language=True, legend=INDENT_LEGEND, compact_indent=True, sans=True),
        KindSpec("json", "flow", "json", lexer="json", legend=JSON_LEGEND, extensions=(".json",), sizes="data"),
        KindSpec("log", "mono", "verbatim", legend=CONTINUATION_LEGEND, extensions=(".log", ".jsonl"), sans=True),
        KindSpec("html", "mono", "verbatim", lexer="html", legend=INDENT_LEGEND,
                 extensions=(".html", ".htm"), compact_indent=True, sans=True),
        KindSpec("diff", "mono", "verbatim", lexer="diff", legend=DIFF_LEGEND, extensions=(".diff", ".patch"),
                 compact_indent=True, marker=True),
        KindSpec("terminal", "mono", "terminal", legend=TERMINAL_LEGEND),
        KindSpec("csv", "flow", "csv", extensions=(".csv", ".tsv"), sizes="table"),
        KindSpec("config", "mono", "verbatim", by_language=True, legend=INDENT_LEGEND,
                 extensions=(".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".xml"), compact_indent=True,
                 sans=True),
        KindSpec("trace", "mono", "verbatim", by_language=True, legend=CONTINUATION_LEGEND),
        KindSpec("page", "page", "page"),
        KindSpec("history", "flow", "markdown", legend="earlier turns of this conversation, in order"),
        KindSpec("text", "mono", "verbatim", legend=CONTINUATION_LEGEND),  # unknown text, drawn as it is
    ]
}  # fmt: skip

MONO_KINDS: frozenset[str] = frozenset(name for name, spec in KINDS.items() if spec.layout == "mono")
RENDERABLE_KINDS: tuple[str, ...] = tuple(name for name, spec in KINDS.items() if spec.layout != "page")


def kind_for_extension(suffix: str) -> Kind | None:
    """The kind of a file with this suffix (".md" -> markdown), if one claims it."""
    return next((spec.name for spec in KINDS.values() if suffix.lower() in spec.extensions), None)
