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
_MAX_UNDRAWN = 20  # words in scripts no font covers that may go beside the pages as text


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)))


def _non_blank(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).split())


def markup_text(body: str) -> str:
    """The visible text of renderer HTML: tags as spaces, entities decoded."""
    return html.unescape(_TAG.sub(" ", body))


def check_verbatim(source: str, laid_out: str) -> None:
    """Every non-blank character of ``source`` is on the pages, in order."""
    expected = _non_blank(source)
    shown = _non_blank(_MARKER_AT_LINE_START.sub("", laid_out))
    if expected == shown:
        return
    pairs = zip(expected, shown, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(expected), len(shown)))
    missing = max(0, len(expected) - len(shown))
    raise IncompleteRenderError(
        f"the pages differ from the source from character {at} on ({len(shown)} of {len(expected)} non-blank "
        f"characters drawn{f', {missing} missing' if missing else ''}): expected {expected[at : at + 24]!r}, "
        f"drawn {shown[at : at + 24]!r}"
    )


def _drawable(word: str) -> bool:
    """Whether the fonts draw every letter of ``word`` (Latin, Greek, Cyrillic, CJK and kana, Hangul);
    words in other scripts (Malayalam, Thai, Devanagari...) may be missing from the pages for want of
    a glyph, not of layout."""
    return all(ord(ch) < 0x0590 or 0x2000 <= ord(ch) < 0xA000 or 0xAC00 <= ord(ch) < 0xD7B0
               or 0xF900 <= ord(ch) < 0x10000 for ch in word)  # fmt: skip


def check_flow(source: str, markup: str, laid_out: str, *, markdown: bool) -> list[str]:
    """Every word of ``source`` is in ``markup`` (counted), and every word of ``markup`` on the pages (in
    order); returns the few words the fonts could not draw (a script no font covers), which then go as
    text beside the pages. More than a few, or any other loss, raises."""
    if markdown:
        source = _ORDERED_MARKER.sub(r"\1", _FENCE_INFO.sub(r"\1", html.unescape(source)))
    markup_words = _words(markup_text(markup))
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
    undrawable = [word for word in missing if not _drawable(word)]
    if missing and (len(undrawable) < len(missing) or len(missing) > max(_MAX_UNDRAWN, len(markup_words) // 1000)):
        raise IncompleteRenderError(
            f"{len(missing)} of {len(markup_words)} words are not on the pages, e.g. {', '.join(missing[:_SHOWN])}"
        )
    return undrawable
