"""Chunk text to HTML + CSS for PyMuPDF's Story layout.

Every piece of user text is escaped: markdown is parsed with raw HTML off and with images and links
disabled, so ``<img src="file:///etc/passwd">`` or ``![x](http://host/)`` render as literal text and
Story never loads a file or URL. Link targets stay visible because they are text the model may need.

Monospace kinds (code, logs, HTML source) are highlighted here into coloured runs; they are wrapped
into lines by ``router.render.lines``. JSON is highlighted the same way and drawn as flowing text,
one paragraph a line of ``router.render.reflow``.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Sequence
from typing import Any

import pymupdf
from markdown_it import MarkdownIt
from markdown_it.token import Token as MdToken
from pygments import lex
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import Token, _TokenType
from pygments.util import ClassNotFound

from router.kinds import KINDS, Kind
from router.render.lines import INDENT_SCALE, MARK_COLOUR, Run, coloured, is_wide, line_runs, span
from router.render.reflow import JsonLine
from router.render.tables import BREAK_EVERY, LONG_RUN_MIN, records_markdown, size_tables, split_wide_tables
from router.render.terminal import terminal_runs, terminal_text

ZERO_WIDTH_SPACE = "\u200b"
ZERO_WIDTH_NON_JOINER = "\u200c"
_HARD_WRAP_MIN = 50  # a paragraph whose lines all reach this length was wrapped by hand: reflow it
_TEXT_NODE = re.compile(r">([^<>]+)<")
MAX_INDENTED_LISTS = 6  # deeper lists are drawn flat, with depth markers
_UNIT = re.compile(r"&#?\w+;|.", re.DOTALL)
_SHELL_SYMBOL = re.compile(r"[~$]+")
# A wrapped JSON line's continuation is indented half a level: it never lines up with a member's first
# line, and at 1.5 em the indent cost Claude's pages of litellm's price map 2.4% (3.99x -> 4.09x at 0.5).
JSON_HANG_EM = 0.5
# JSON wraps at the spaces between its tokens: a key such as "supports_function_calling" (27 characters)
# is not cut, only a run longer than this (a URL, a long value), which a narrow column could not hold.
JSON_LONG_RUN_MIN = 40
_WIDE_CHAR_EM = 0.65  # a run is estimated this wide a character: wider than FiraGO's lowercase letters and digits
_JSON_SHORTEST_BREAK = 8


@functools.lru_cache(maxsize=1)
def fonts() -> tuple[pymupdf.Archive, str]:
    """The font archive and @font-face CSS: FiraGO for text, Cascadia Mono for code (pymupdf-fonts).

    Cascadia Mono reads monospace text back best at small sizes (``benchmarks/bench_fonts.py``: the
    best mean and worst sample at 10-12 px, in cells 2% narrower than Fira Mono's) and has no
    ligatures, so every character is drawn as itself. At 10 px the engine reads its footed ``l`` as
    ``L`` and drops its short hyphen in logs, so logs are their own class (``router.render.density``)
    and set from 11 px, where they read better than in Fira Mono."""
    archive = pymupdf.Archive()
    css = pymupdf.css_for_pymupdf_font("figo", CSS=None, archive=archive, name="sans")
    css = pymupdf.css_for_pymupdf_font("figbo", CSS=css, archive=archive, name="sans")
    css = pymupdf.css_for_pymupdf_font("cascadia", CSS=css, archive=archive, name="mono")
    css = pymupdf.css_for_pymupdf_font("cascadiab", CSS=css, archive=archive, name="mono")  # bold terminal text
    return archive, css


def base_css(em_px: float, line_height: float) -> str:
    return fonts()[1] + (
        f"body {{font-family: sans; font-size: {em_px:.2f}px; line-height: {line_height}; margin: 0;}}"
        # A paragraph starts with its first line indented, not after a gap: 0.35 em between paragraphs
        # was 7-13% of a page of licences or of the Debian Reference (Claude's `dense` pages, 50k tokens:
        # 3.92x -> 4.24x and 3.50x -> 4.00x), and an indent costs no row. Paragraphs of a list item
        # keep the gap: the item's first line is not indented, it follows its bullet.
        "p {margin: 0; text-indent: 1em;}"
        f"li p {{text-indent: 0; margin: 0 0 {em_px * 0.35:.2f}px 0;}} td p, th p {{text-indent: 0;}}"
        f"h1, h2, h3, h4, h5, h6 {{font-weight: bold; margin: {em_px * 0.3:.2f}px 0 {em_px * 0.2:.2f}px 0;}}"
        "h1 {font-size: 1.35em;} h2 {font-size: 1.2em;} h3 {font-size: 1.1em;} h4, h5, h6 {font-size: 1em;}"
        f"ul, ol {{margin: 0 0 {em_px * 0.3:.2f}px 0; padding-left: 1.4em;}}"
        "pre, code, .m {font-family: mono;} pre {white-space: pre-wrap; margin: 0 0 0.3em 0;}"
        f".m {{white-space: pre;}} .i {{font-size: {INDENT_SCALE:.0%};}}"
        # Code's lines in FiraGO (``lines.face_of``): its indentation, markers and other lines in cells.
        ".s {font-family: sans;} .s .i, .s .o {font-family: mono;}"
        "blockquote {margin: 0 0 0.3em 0.6em; padding-left: 0.5em; border-left: 1px solid #777;}"
        "table {border-collapse: collapse; margin: 0 0 0.35em 0;}"
        # Cells get 0.2 em above and below and grey rules: glyphs that touch a black rule merge with it
        # (RapidOCR lost whole cells of dense price tables: 88.8% read back at dense on Claude; 99.2%
        # with this, for 32% more pixels; see "Densities" in the README).
        "th, td {border: 0.7px solid #999; padding: 0.2em 0.25em; vertical-align: top;}"
        "th {font-weight: bold;}"
        f".mk {{color: {MARK_COLOUR};}}"
        # Reflowed JSON (``json_html``): spaces inside strings are kept, a wrapped line hangs under its first.
        f"p.j {{text-indent: -{JSON_HANG_EM}em; white-space: pre-wrap;}}"
    )


# --- flowing text: prose, markdown, tables ----------------------------------------------------------


def prose_html(text: str) -> str:
    """Paragraphs on blank lines. Hard-wrapped paragraphs reflow; short-line ones keep their breaks."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip("\n")) if p.strip()]
    out = []
    for paragraph in paragraphs:
        lines = [html.escape(line.strip(), quote=False) for line in paragraph.split("\n") if line.strip()]
        if all(_display_width(line) >= _HARD_WRAP_MIN for line in lines[:-1]):
            joined = lines[0]
            for line in lines[1:]:  # CJK text has no spaces between words, so none between its lines
                joined += ("" if is_wide(joined[-1]) and is_wide(line[0]) else " ") + line
            out.append(f"<p>{joined}</p>")
        else:
            out.append("<p>" + "<br/>".join(lines) + "</p>")
    return _shell_symbols(soft_breaks("".join(out)))


def _shell_symbols(markup: str) -> str:
    """``~`` and ``$`` in prose are drawn in the monospace font.

    FiraGO's tilde is a short flat stroke at mid-height and its dollar a narrow S: the engine read
    ``~/.bashrc`` as ``-/.bashrc`` and ``$HOME`` as ``SHOME`` in Chinese instructions up to 13-14 px,
    which held the Chinese rows at 13 px. Cascadia Mono's wide wave and barred dollar read from 11 px
    (the instructions sample on Claude's pages: 98.89% -> 99.26% at 11 px / 1.0, 99.26% -> 99.50% at
    11 / 1.2). At 10 px the engine reads Cascadia's tilde as the ideograph 一 (98.89% -> 98.39% at
    10 / 1.0, still over the dense bar of 98%)."""
    return _TEXT_NODE.sub(
        lambda m: ">" + _SHELL_SYMBOL.sub(lambda s: f'<span class="m">{s.group(0)}</span>', m.group(1)) + "<",
        "<>" + markup + "<>",
    )[2:-2]


def json_html(lines: Sequence[JsonLine], column_em: float) -> str:
    """Reflowed JSON (``router.render.reflow``), highlighted: one paragraph a line, 1 em a nesting level,
    wrapped lines hanging ``JSON_HANG_EM`` under their first (not a whole level: a continuation never
    lines up with a member's first line).

    In a column ``column_em`` wide, nesting deeper than half the column is drawn at that indent (its
    brackets still say how deep it is), as monospace indentation is, and a run gets break points
    where the room left beside its indent could not hold it (``JSON_LONG_RUN_MIN`` characters where it
    could): 60 levels of nesting ran off Claude's column and the chunk went as text."""
    runs = highlight("\n".join(line.text for line in lines), None, "json")
    paragraphs = [[coloured(html.escape(text, quote=False), c) for text, c in line] for line in line_runs(runs)]
    deepest = max(0, math.floor(column_em / 2))
    out: list[str] = []
    for line, spans in zip(lines, paragraphs, strict=True):
        indent = min(line.depth, deepest)
        room = column_em - indent - JSON_HANG_EM
        longest = max(_JSON_SHORTEST_BREAK, min(JSON_LONG_RUN_MIN, math.floor(room / _WIDE_CHAR_EM)))
        paragraph = f'<p class="j" style="margin-left: {indent + JSON_HANG_EM}em">{"".join(spans)}</p>'
        out.append(soft_breaks(paragraph, longest))
    return "".join(out)


def soft_breaks(markup: str, longest: int = LONG_RUN_MIN) -> str:
    """Give runs of ``longest`` characters or more (URLs, hashes, base64) zero-width break points;
    MuPDF would let them overflow."""
    run = _long_run(longest)
    return _TEXT_NODE.sub(lambda m: ">" + run.sub(_insert_breaks, m.group(1)) + "<", "<>" + markup + "<>")[2:-2]


@functools.lru_cache(maxsize=64)
def _long_run(longest: int) -> re.Pattern[str]:
    return re.compile(r"(?:&#?\w+;|[^\s&<>\u200b]){" + str(longest) + ",}")


def unjoined_ffs(markup: str) -> str:
    """Two f's in a row are kept from forming a ligature (a zero-width non-joiner between them).

    Apart they read back better: 206 ff's among the GPL at Claude's `dense` 8 px, 197 of the words
    read whole against 185 with FiraGO's ff ligatures (99.29% against 99.05% of the text; gpt-4o's
    pages 191 against 189). Until pages stopped going through a PDF, the ff and ffl ligatures also
    came back from the text extraction as "ú" and "ù", and the completeness check missed "shuffle"."""
    return _TEXT_NODE.sub(lambda m: ">" + m.group(1).replace("ff", "f" + ZERO_WIDTH_NON_JOINER + "f") + "<",
                          "<>" + markup + "<>")[2:-2]  # fmt: skip


def _insert_breaks(match: re.Match[str]) -> str:
    units = _UNIT.findall(match.group(0))
    return ZERO_WIDTH_SPACE.join("".join(units[i : i + BREAK_EVERY]) for i in range(0, len(units), BREAK_EVERY))


@functools.lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # maxNesting: past it markdown-it silently drops the rest of the text (commonmark's 20 is 10 list
    # levels); deep lists are drawn flat with depth markers instead (``_shape_lists``).
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "maxNesting": 200})
    md.enable("table")
    # Keep targets as visible text and never load anything; link reference definitions ("[r]: url")
    # would otherwise vanish from the page, so they stay paragraphs.
    md.disable(["image", "link", "autolink", "reference"])
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("code_block", _render_fence)
    return md


def _render_fence(self: Any, tokens: Sequence[MdToken], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    language = token.info.strip().split(" ")[0] if token.info else None
    runs = highlight(token.content.rstrip("\n"), language, "code")
    return "<pre>" + "".join(span(text, colour) for text, colour in runs) + "</pre>"


def visible_text(text: str, kind: Kind) -> str:
    """The characters a monospace kind draws: the text itself, or terminal output with its escapes applied."""
    return terminal_text(text) if KINDS[kind].markup == "terminal" else text


def csv_html(text: str, width_px: float, em_px: float, *, by_area: bool = False, line_height: float = 1.0) -> str:
    """CSV/TSV records as a ruled table, one record per row (wide ones split like any wide table)."""
    return markdown_html(records_markdown(text), width_px, em_px, by_area=by_area, line_height=line_height)


def markdown_html(text: str, width_px: float, em_px: float, *, by_area: bool = False, line_height: float = 1.0) -> str:
    """Markdown to HTML; tables get column widths from their content (``router.render.tables``), in the
    least area where the page is billed by area (``by_area``; its lines ``line_height`` ems apart)."""
    md = _markdown()
    tokens = split_wide_tables(md.parse(text), md.parse, width_px, em_px)
    _shape_lists(tokens)
    size_tables(tokens, width_px, em_px, by_area=by_area, line_height=line_height)
    return soft_breaks(md.renderer.render(tokens, md.options, {}))


def _shape_lists(tokens: list[MdToken]) -> None:
    """Ordered lists show the numbers the source wrote, as text: a list that starts at 6 starts at 6,
    "1. 1. 1." stays so, and the number is on the page for the completeness check to find (a list
    inside a bullet, as in a licence's boxed "*  6. Disclaimer", lost its numbers to CSS numbering).
    Lists nested deeper than ``MAX_INDENTED_LISTS`` stop indenting; their items start with one ``›``
    per extra level, so the depth stays visible without squeezing the text to nothing."""
    lists: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.type in ("bullet_list_open", "ordered_list_open"):
            lists.append(token.type)
            styles = ["list-style-type:none"] if token.type == "ordered_list_open" else []
            if len(lists) > MAX_INDENTED_LISTS:
                styles.append("padding-left:0")
            if styles:
                token.attrSet("style", ";".join(styles))
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            prefix = "›" * max(0, len(lists) - MAX_INDENTED_LISTS)
            if lists[-1] == "ordered_list_open":
                prefix += f"{token.info}{token.markup}"
            if prefix:
                _prefix_item(tokens, i, prefix + " ")
        i += 1


def _prefix_item(tokens: list[MdToken], item: int, prefix: str) -> None:
    """Start list item ``item`` with ``prefix``: in its first paragraph, or in a paragraph of its own
    where the item opens with something else (a code block, a table)."""
    following = tokens[item + 1] if item + 1 < len(tokens) else None
    inline = tokens[item + 2] if following is not None and following.type == "paragraph_open" else None
    if inline is not None and inline.type == "inline" and inline.children is not None:
        inline.children.insert(0, MdToken("text", "", 0, content=prefix))
        inline.content = prefix + inline.content
        return
    level = tokens[item].level + 1
    opened = MdToken("paragraph_open", "p", 1, level=level, block=True)
    text = MdToken("inline", "", 0, level=level + 1, content=prefix, children=[MdToken("text", "", 0, content=prefix)])
    tokens[item + 1 : item + 1] = [opened, text, MdToken("paragraph_close", "p", -1, level=level, block=True)]


# --- monospace: code, logs, JSON, HTML source -------------------------------------------------------


def highlight(text: str, language: str | None, kind: Kind) -> list[Run]:
    """Pygments tokens as (text, colour) runs; plain black where no lexer applies. Terminal output
    gets the colours its escape codes asked for (``router.render.terminal``)."""
    if KINDS[kind].markup == "terminal":
        return terminal_runs(text)
    lexer = _lexer(language, kind)
    if lexer is None:
        return [(text, None)]
    style = _style()
    runs: list[Run] = []
    for token_type, value in lex(text, lexer):
        colour = _colour_of(style, token_type)
        if runs and runs[-1][1] == colour:
            runs[-1] = (runs[-1][0] + value, colour)
        else:
            runs.append((value, colour))
    if runs and text and not text.endswith("\n") and runs[-1][0].endswith("\n"):
        runs[-1] = (runs[-1][0][:-1], runs[-1][1])  # pygments always appends a newline
    return runs


def _display_width(text: str) -> int:
    if len(text) >= _HARD_WRAP_MIN:  # only compared with that bound; long lines need no count
        return len(text)
    return sum(2 if is_wide(ch) else 1 for ch in text)


def _lexer(language: str | None, kind: Kind) -> Lexer | None:
    spec = KINDS[kind]
    name = spec.lexer or (language if spec.by_language else None)
    if not name:
        return None
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return None


@functools.lru_cache(maxsize=1)
def _style() -> Any:
    # Visual Studio's light colours: dark enough on white to read at small sizes.
    return get_style_by_name("vs")


_DIFF_COLOURS = {
    Token.Generic.Inserted: "#007000",
    Token.Generic.Deleted: "#b00000",
    Token.Generic.Subheading: "#6a3d9a",
}


@functools.lru_cache(maxsize=512)
def _colour_of(style: Any, token_type: _TokenType) -> str | None:
    if token_type in _DIFF_COLOURS:  # the light style has none: added and removed lines must stand out
        return _DIFF_COLOURS[token_type]
    while token_type is not Token:
        try:
            colour = style.style_for_token(token_type).get("color")
        except KeyError:  # a lexer's own token type (YAML's Literal.Scalar.Plain): its parent's colour
            colour = None
        if colour:
            return None if colour.lower() == "000000" else f"#{colour.lower()}"
        token_type = token_type.parent
    return None
