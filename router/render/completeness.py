"""Nothing is lost between a chunk's source and its pages: checked from the laid-out text itself.

PyMuPDF reports the text it placed inside each drawn area (the layout gives it back with the
pixels), so the check needs no OCR and runs on every rendering, once, before it is cached:

- Monospace kinds (code, logs, JSON, HTML source) are drawn verbatim: every non-blank character of
  the source must be on the pages, in order, apart from the continuation marker that starts a wrapped
  line.
- Flowing kinds (prose, markdown, tables) are checked in two steps. The markup must carry every word
  of the source (markdown syntax, fence labels and list numbers aside; a table split into column
  groups reorders words, so this step counts them rather than ordering them). Then the pages must show
  every word of the markup, in order: a table cut at the page edge or content dropped by the layout
  engine fails here.

Characters no font draws (``router.render.glyphs``: MuPDF draws a box) cannot be on the pages: a few
of them (a word in a script no font covers, an emoji newer than the fallback fonts, a private-use
icon) go beside the pages as text; more than a few send the chunk as text. Flowing kinds look for
them among the symbols too, which the word check does not see.

A failed check raises ``IncompleteRenderError`` naming the first missing words, and the chunk goes as
text. Words are runs of letters and digits after NFKC folding (ligatures, full-width forms); each CJK
ideograph is a word of its own.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter

from router.errors import IncompleteRenderError
from router.render.glyphs import undrawn

__all__ = ["check_flow", "check_verbatim", "markup_text"]

# Ideographs and kana count one by one: CJK lines are joined without spaces when text reflows.
_IDEOGRAPHS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_WORD = re.compile(f"[{_IDEOGRAPHS}]|[^\\W_{_IDEOGRAPHS}]+")
_TAG = re.compile(r"<[^>]*>")
_MARKER_AT_LINE_START = re.compile(r"^[ \t]*↪", re.MULTILINE)
_FENCE_INFO = re.compile(r"^( {0,3}(?:`{3,}|~{3,}))[^\n`]*$", re.MULTILINE)
_ORDERED_MARKER = re.compile(r"^([ \t>]*)\d{1,9}[.)](?=[ \t]|$)", re.MULTILINE)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u00ad\ufeff"), None)
_MAX_SKIP = 48  # letters and digits the pages may hold between two source words (list numbers, captions)
_SHOWN = 6  # missing words named in the error
_MAX_UNDRAWN = 20  # words or symbols no font draws that may go beside the pages as text


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)))


def _non_blank(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).split())


def markup_text(body: str) -> str:
    """The visible text of renderer HTML: tags as spaces, entities decoded."""
    return html.unescape(_TAG.sub(" ", body))


def check_verbatim(source: str, laid_out: str) -> list[str]:
    """Every non-blank character of ``source`` is on the pages, in order, but those no font draws;
    returns the runs of those (a few), which then go as text beside the pages. More raise."""
    boxes = undrawn(source)
    unshown = _unshown(source, boxes)
    expected = _non_blank(source.translate(dict.fromkeys(map(ord, boxes))) if boxes else source)
    shown = _non_blank(_MARKER_AT_LINE_START.sub("", laid_out))
    if expected == shown:
        if not _few(len(unshown), len(expected) // 6):
            raise IncompleteRenderError(
                f"{len(unshown)} runs of characters no font draws, e.g. {' '.join(unshown[:_SHOWN])}"
            )
        return unshown
    pairs = zip(expected, shown, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(expected), len(shown)))
    missing = max(0, len(expected) - len(shown))
    raise IncompleteRenderError(
        f"the pages differ from the source from character {at} on ({len(shown)} of {len(expected)} non-blank "
        f"characters drawn{f', {missing} missing' if missing else ''}): expected {expected[at : at + 24]!r}, "
        f"drawn {shown[at : at + 24]!r}"
    )


def _few(count: int, words: int) -> bool:
    """Whether ``count`` words or symbols may go beside the pages of a chunk of ``words`` words."""
    return count <= max(_MAX_UNDRAWN, words // 1000)


def _unshown(text: str, missing: set[str]) -> list[str]:
    """The runs of characters of ``text`` no font draws (``missing``, from ``undrawn``), in order:
    letters in a script no font covers, an emoji newer than the fallback fonts, a private-use icon.
    Marks and format characters (a variation selector, a soft hyphen) draw nothing of their own and
    are left out."""
    visible = {ch for ch in missing if unicodedata.category(ch)[0] in "LNSP" or unicodedata.category(ch) == "Co"}
    runs, run = [], ""
    for ch in text if visible else "":
        if ch in visible:
            run += ch
        elif run:
            runs.append(run)
            run = ""
    return [*runs, run] if run else runs


def check_flow(source: str, markup: str, laid_out: str, *, markdown: bool) -> list[str]:
    """Every word of ``source`` is in ``markup`` (counted), and every word of ``markup`` on the pages (in
    order); returns the few words and symbols the fonts could not draw (a script no font covers, a new
    emoji), which then go as text beside the pages. More than a few, or any other loss, raises."""
    if markdown:
        source = _ORDERED_MARKER.sub(r"\1", _FENCE_INFO.sub(r"\1", html.unescape(source)))
    marked_up = markup_text(markup)
    markup_words = _words(marked_up)
    lost = Counter(_words(source)) - Counter(markup_words)
    if lost:
        raise IncompleteRenderError(
            f"the markup lost {sum(lost.values())} words of the source, e.g. {', '.join(list(lost)[:_SHOWN])}"
        )
    shown = "".join(_words(laid_out))
    position, missing = 0, []
    for word in markup_words:
        found = shown.find(word, position, position + len(word) + _MAX_SKIP)
        if found < 0:
            missing.append(word)
            continue
        position = found + len(word)
    if any(not undrawn(word) for word in missing):  # a word the fonts draw was lost by the layout
        raise IncompleteRenderError(
            f"{len(missing)} of {len(markup_words)} words are not on the pages, e.g. {', '.join(missing[:_SHOWN])}"
        )
    symbols = [run for run in _unshown(marked_up, undrawn(marked_up)) if not _WORD.search(run)]
    unshown = missing + symbols
    if not _few(len(unshown), len(markup_words)):
        raise IncompleteRenderError(
            f"{len(unshown)} words or symbols of {len(markup_words)} words no font draws, e.g. "
            f"{', '.join(unshown[:_SHOWN])}"
        )
    return unshown
