"""Read-back fidelity: OCR a rendered page as the provider sees it and score it against the source.

A page is first resized by the target provider's own rule (``EncoderProfile.visible_size``), so the
score is for the pixels the model will get. An engine (``router.fidelity.engines``) finds the text on
it and ``router.fidelity.reading_order`` puts it in the order it was written. OCR costs seconds per
page on a CPU, so callers run it off the request path where they can (see ``router.fidelity.guard``).

Scores (all 0..1):

- character accuracy, 1 - CER, after folding what OCR engines cannot be expected to keep apart and
  a model does not need: whitespace, full-width and ASCII forms of one character (NFKC), curly and
  straight quotes, the router's own continuation markers, list bullets, and rules drawn with a repeated symbol
  (``=====``, ``-----``, a traceback's ``^^^^``: a run counts as one character, on the page and in
  the read-back, whatever the engine reads it as);
- word accuracy, 1 - WER over letter/digit words (each CJK ideograph is a word);
- identifier recall: the share of numbers, hashes, URLs, e-mail addresses and mixed letter-digit
  names in the source that appear exactly in the read-back.
"""

from __future__ import annotations

import html
import io
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from router.exact import identifiers
from router.fidelity.engines import OcrEngine, get_engine
from router.fidelity.reading_order import in_reading_order, ruled_grid, split_columns, table_parts
from router.kinds import KINDS, Kind
from router.models import Page, ReadBack, Rendering, Script
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.lines import MARKERS

__all__ = ["char_accuracy", "check", "identifier_recall", "read_pages", "score", "visible", "word_accuracy"]

_QUOTES = str.maketrans({"‘": "'", "’": "'", "′": "'", "`": "'", "´": "'", "“": '"', "”": '"', "″": '"'})
# The continuation marker and the arrows engines read it as; list bullets, which are drawn but are
# not in the source text.
_MARKS = re.compile("|".join(re.escape(m) for m in (*MARKERS, "→", "↳", "⤷", "•", "·", "◦", "▪")))
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c"), None)  # break points and unjoined f's: drawn as nothing
_RULE = re.compile(r"([^\w\s])\1{2,}")
_RUN = re.compile(r"(\S)\1{2,}")  # in a normalised read-back: three or more of one character
_SPACE = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


# --- scoring -------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The text as scored: folded forms, no markers, one char per drawn rule, no whitespace."""
    return _folded(text)[0]


def _folded(text: str) -> tuple[str, list[int]]:
    """``normalise(text)`` and where in it each drawn rule's one character stands."""
    text = _MARKS.sub("", unicodedata.normalize("NFKC", text).translate(_QUOTES).translate(_ZERO_WIDTH))
    parts: list[str] = []
    rules: list[int] = []
    length = start = 0
    for rule in _RULE.finditer(text):
        before = _SPACE.sub("", text[start : rule.start()])
        parts += (before, rule.group(1))
        rules.append(length + len(before))
        length += len(before) + 1
        start = rule.end()
    parts.append(_SPACE.sub("", text[start:]))
    return "".join(parts), rules


def char_accuracy(read: str, source: str) -> float:
    """1 - character error rate of ``read`` against ``source``, both normalised.

    A drawn rule counts as one character whatever the engine makes of it: read as the symbol, its
    run is folded like the source's; read as a run of another character (RapidOCR reads a
    traceback's ``^^^^^^^^`` as ``AAAAAAAA`` and ``~~~~`` as ``NNNN``), that run standing against the
    rule counts as one misread character, not one per caret."""
    drawn, rules = _folded(source)
    seen = normalise(read)
    if rules and _RUN.search(seen):
        seen = _misread_rules_folded(seen, drawn, set(rules))
    return _accuracy(seen, drawn)


def _misread_rules_folded(read: str, source: str, rules: set[int]) -> str:
    """``read`` with each run of one character that the alignment sets against a source rule cut to
    one character; runs anywhere else (``1000``, ``www``) are the engine's to get right."""
    from rapidfuzz.distance import Levenshtein

    on_rule = [False] * len(read)
    ops = [op for op in Levenshtein.opcodes(read, source) if op[0] != "equal"]
    for block in _adjacent(ops):  # one misread stretch: a replace beside a delete is one alignment's choice
        i1, i2, j1, j2 = block[0][1], block[-1][2], block[0][3], block[-1][4]
        near = range(j1, j2) if j2 > j1 else (j1 - 1, j1)  # read where the source has nothing: next to a rule?
        if any(j in rules for j in near):
            on_rule[i1:i2] = [True] * (i2 - i1)
    out: list[str] = []
    start = 0
    for run in _RUN.finditer(read):
        i, j = run.span()
        if any(on_rule[i:j]):
            out += (read[start:i], run.group(1))
            start = j
    out.append(read[start:])
    return "".join(out)


def _adjacent(ops: list[Any]) -> list[list[Any]]:
    """Edit operations grouped where each starts where the one before ended, in both strings."""
    blocks: list[list[Any]] = []
    for op in ops:
        if blocks and (blocks[-1][-1][2], blocks[-1][-1][4]) == (op[1], op[3]):
            blocks[-1].append(op)
        else:
            blocks.append([op])
    return blocks


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", _MARKS.sub("", text)).translate(_ZERO_WIDTH))


def word_accuracy(read: str, source: str) -> float:
    """1 - word error rate: word-level edit distance over the source's word count."""
    return _accuracy(words(read), words(source))


def _accuracy(read: Sequence[str], source: Sequence[str]) -> float:
    """1 - edit distance / source length, floored at 0 (characters or words alike)."""
    from rapidfuzz.distance import Levenshtein

    if not source:
        return 1.0 if not read else 0.0
    return max(0.0, 1 - Levenshtein.distance(read, source) / len(source))


def identifier_recall(read: str, source: str) -> tuple[int, list[str]]:
    """How many of the source's identifiers the read-back holds exactly, and the missing ones."""
    haystack = normalise(read)
    wanted = identifiers(source)
    missing = [token for token in wanted if normalise(token) not in haystack]
    return len(wanted) - len(missing), missing


def draws_tables(kind: Kind) -> bool:
    """Whether ``kind``'s markup can draw ruled tables (markdown and CSV; prose and monospace never do)."""
    return KINDS[kind].markup in ("markdown", "csv")


def visible_source(text: str, kind: Kind, shown: str = "") -> str:
    """The characters drawn for ``text``: markdown markup resolved, table rules and pipes dropped.

    ``shown`` is the visible text of the markup as it was drawn (``Rendering.shown``): a table too
    wide for the page is drawn as column groups, the first column repeated, and that is what the
    pages hold and what an engine reads, so it is the reference where the renderer gives it."""
    spec = KINDS[kind]
    if shown:
        return shown.replace("|", " ")
    if draws_tables(kind):
        source = markup.csv_html(text, 10_000, 10) if spec.markup == "csv" else markup.markdown_html(text, 10_000, 10)
        return html.unescape(_TAGS.sub(" ", source)).replace("|", " ")
    return markup.visible_text(text, kind) if spec.layout == "mono" else text


READ_TEXT_CHARS = 20_000  # kept with the verdict, for the inspector; bounded like every cached thing


def score(
    read: str, source: str, kind: Kind, *, engine: str, pages: int = 1, ocr_ms: float = 0.0, shown: str = ""
) -> ReadBack:
    """Score an OCR read-back against the chunk text it was rendered from (as drawn: ``shown``)."""
    drawn = visible_source(source, kind, shown)
    if draws_tables(kind):
        read = read.replace("|", " ")  # cell borders are read as bars by some engines
    found, missing = identifier_recall(read, drawn)
    total = found + len(missing)
    return ReadBack(
        engine=engine,
        char_accuracy=round(char_accuracy(read, drawn), 5),
        word_accuracy=round(word_accuracy(read, drawn), 5),
        identifiers=total,
        identifiers_found=found,
        identifier_recall=round(found / total, 5) if total else 1.0,
        missing=missing[:50],
        text=read[:READ_TEXT_CHARS],
        pages=pages,
        ocr_ms=round(ocr_ms, 1),
    )


# --- pages ---------------------------------------------------------------------------------------

# OCR engines are not safe to call from several threads at once.
_OCR_LOCK = threading.Lock()
_INK = 200  # a page with no pixel darker than this holds no text (antialiased edges are lighter)


def visible(page: Page, profile: EncoderProfile) -> Image.Image:
    """The page as the provider sees it: resized by the provider's own rule."""
    image: Image.Image = Image.open(io.BytesIO(page.png)).convert("RGB")
    size = profile.visible_size(image.width, image.height)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return image


def read_pages(
    pages: list[Page],
    profile: EncoderProfile,
    *,
    script: Script = "latin",
    engine: str = "rapidocr",
    ruled_tables: bool = False,
) -> str:
    """OCR text of ``pages`` as the provider sees them, in reading order.

    Each page is cut at the gutters its layout reports (none: one column) and read column by column.
    They are never guessed from the ink: a chunk that fills less than one column is drawn in one even
    where its rendering has two, and a guess cut its lines in half and read their halves out of order.
    ``ruled_tables``: the pages may hold tables drawn with rules (``draws_tables``), read cell by cell.
    Monospace pages are read line by line whatever lines they draw: a box-drawn table in a log is
    written row by row."""
    ocr = get_engine(engine)
    texts: list[str] = []
    with _OCR_LOCK:
        for page in pages:
            image = visible(page, profile)
            scale = image.width / page.width
            parts = split_columns(image, [round(x * scale) for x in page.gutters])
            texts.extend(_read_column(ocr, part, script, ruled_tables) for part in parts)
    return "\n".join(texts)


def _read_column(ocr: OcrEngine, image: Image.Image, script: Script, ruled_tables: bool) -> str:
    """One column of a page in reading order; its ruled tables read column by column, then cell by cell."""
    grid = ruled_grid(image) if ruled_tables else None
    if grid is None or not any(grid.columns):
        return in_reading_order(ocr.boxes(image, script))
    rest, parts = table_parts(image, grid)
    boxes = [box for i, part in enumerate(parts) for box in part.place(ocr.boxes(part.image, script), i)]
    if np.asarray(rest.convert("L")).min() < _INK:  # text around the tables
        boxes += ocr.boxes(rest, script)
    return in_reading_order(boxes, grid)


def check(
    text: str,
    kind: Kind,
    script: Script,
    rendering: Rendering,
    profile: EncoderProfile,
    *,
    engine: str = "rapidocr",
) -> ReadBack:
    """Read ``rendering`` back and score it against the ``text`` it was rendered from."""
    started = time.perf_counter()
    read = read_pages(rendering.pages, profile, script=script, engine=engine, ruled_tables=draws_tables(kind))
    elapsed = (time.perf_counter() - started) * 1000
    return score(read, text, kind, engine=engine, pages=len(rendering.pages), ocr_ms=elapsed, shown=rendering.shown)
