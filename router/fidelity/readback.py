"""Read-back fidelity: OCR a rendered page as the provider sees it and score it against the source.

A page is first resized by the target provider's own rule (``EncoderProfile.visible_size``), so the
score is for the pixels the model will get. Two local engines read it: RapidOCR (ONNX models shipped
in its wheel; the default) and tesseract (the Debian package ``tesseract-ocr``). Neither downloads
anything. OCR costs seconds per page on a CPU, so callers run it off the request path where they can
(see ``router.fidelity.guard``).

Scores (all 0..1):

- character accuracy, 1 - CER, after folding what OCR engines cannot be expected to keep apart and
  a model does not need: whitespace, full-width and ASCII forms of one character (NFKC), curly and
  straight quotes, the router's own continuation markers, list bullets, and rules drawn with a repeated symbol
  (``=====``, ``-----``: engines skip them, and they carry no content, so a run counts as one);
- word accuracy, 1 - WER over letter/digit words (each CJK ideograph is a word);
- identifier recall: the share of numbers, hashes, URLs, e-mail addresses and mixed letter-digit
  names in the source that appear exactly in the read-back.
"""

from __future__ import annotations

import functools
import html
import io
import itertools
import re
import shutil
import subprocess
import threading
import time
import unicodedata
from collections.abc import Sequence
from typing import Literal, Protocol

from PIL import Image

from router.errors import FidelityError
from router.exact import identifiers
from router.kinds import KINDS, Kind
from router.models import Page, ReadBack, Rendering, Script
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.lines import MARKERS

EngineName = Literal["rapidocr", "tesseract"]
ENGINES: tuple[EngineName, ...] = ("rapidocr", "tesseract")

_QUOTES = str.maketrans({"‘": "'", "’": "'", "′": "'", "`": "'", "´": "'", "“": '"', "”": '"', "″": '"'})
# The continuation marker and the arrows engines read it as; list bullets, which are drawn but are
# not in the source text.
_MARKS = re.compile("|".join(re.escape(m) for m in (*MARKERS, "→", "↳", "⤷", "•", "·", "◦", "▪")))
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c"), None)  # break points and unjoined f's: drawn as nothing
_RULE = re.compile(r"([^\w\s])\1{2,}")
_SPACE = re.compile(r"\s+")
_TAGS = re.compile(r"<[^>]+>")
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


# --- scoring -------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """The text as scored: folded forms, no markers, one char per drawn rule, no whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).translate(_ZERO_WIDTH)
    text = _RULE.sub(r"\1", _MARKS.sub("", text))
    return _SPACE.sub("", text)


def char_accuracy(read: str, source: str) -> float:
    """1 - character error rate of ``read`` against ``source``, both normalised."""
    return _accuracy(normalise(read), normalise(source))


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


def visible_source(text: str, kind: Kind, shown: str = "") -> str:
    """The characters drawn for ``text``: markdown markup resolved, table rules and pipes dropped.

    ``shown`` is the visible text of the markup as it was drawn (``Rendering.shown``): a table too
    wide for the page is drawn as column groups, the first column repeated, and that is what the
    pages hold and what an engine reads, so it is the reference where the renderer gives it."""
    spec = KINDS[kind]
    if shown:
        return shown.replace("|", " ")
    if spec.markup in ("markdown", "csv"):
        source = markup.csv_html(text, 10_000, 10) if spec.markup == "csv" else markup.markdown_html(text, 10_000, 10)
        return html.unescape(_TAGS.sub(" ", source)).replace("|", " ")
    return markup.visible_text(text, kind) if spec.layout == "mono" else text


READ_TEXT_CHARS = 20_000  # kept with the verdict, for the inspector; bounded like every cached thing


def score(
    read: str, source: str, kind: Kind, *, engine: str, pages: int = 1, ocr_ms: float = 0.0, shown: str = ""
) -> ReadBack:
    """Score an OCR read-back against the chunk text it was rendered from (as drawn: ``shown``)."""
    drawn = visible_source(source, kind, shown)
    if KINDS[kind].markup in ("markdown", "csv"):
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


# --- engines -------------------------------------------------------------------------------------


class OcrEngine(Protocol):
    name: str

    def read(self, image: Image.Image, columns: int, script: Script) -> str:
        """Text of ``image`` in reading order: column by column, line by line."""
        ...


class RapidOCREngine:
    name = "rapidocr"

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise FidelityError(
                "the rapidocr engine needs rapidocr-onnxruntime: pip install 'hybrid-context-router[fidelity]'"
            ) from exc
        self._ocr = RapidOCR()

    def read(self, image: Image.Image, columns: int, script: Script) -> str:
        import numpy as np

        texts = []
        for part in split_columns(image, columns):
            # The angle classifier flips small text upside down, so it stays off.
            result, _ = self._ocr(np.asarray(part.convert("RGB")), use_cls=False)
            boxes = [
                ((min(p[1] for p in box) + max(p[1] for p in box)) / 2, max(p[1] for p in box) - min(p[1] for p in box),
                 min(p[0] for p in box), text)
                for box, text, _confidence in result or []
            ]  # fmt: skip
            texts.append(_reading_order(boxes))
        return "\n".join(texts)


class TesseractEngine:
    """The tesseract CLI, one run per column (page segmentation mode 6: one uniform block of text).

    Columns are upscaled 2x first: tesseract's line finder wants taller glyphs than providers see;
    resampling adds no information, so the score still reflects the provider-visible pixels."""

    name = "tesseract"

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("tesseract")
        if not found:
            raise FidelityError("the tesseract engine needs the tesseract binary: apt-get install tesseract-ocr")
        self.binary = found
        listed = subprocess.run([found, "--list-langs"], capture_output=True, text=True, check=False).stdout
        self.languages = set(listed.split()[1:]) if listed else set()

    def read(self, image: Image.Image, columns: int, script: Script) -> str:
        language = "chi_sim+eng" if script != "latin" and "chi_sim" in self.languages else "eng"
        texts = []
        for part in split_columns(image.convert("L"), columns):
            part = part.resize((part.width * 2, part.height * 2), Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            part.save(buffer, format="PNG")
            run = subprocess.run(
                [self.binary, "stdin", "stdout", "-l", language, "--psm", "6"],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=120,
                check=False,
            )
            if run.returncode != 0:
                raise FidelityError(f"tesseract failed: {run.stderr.decode(errors='replace').strip()[:300]}")
            texts.append(run.stdout.decode("utf-8", errors="replace"))
        return "\n".join(texts)


def split_columns(image: Image.Image, columns: int, gutters: Sequence[int] = ()) -> list[Image.Image]:
    """The page cut at its gutters, one image per column: read column by column, engines cannot
    join lines across a narrow gutter into one. ``gutters`` are where the layout put them (in the
    image's pixels); without them they are found from the ink."""
    edges = [0, *(gutters or column_gutters(image, columns)), image.width]
    return [image.crop((left, 0, right, image.height)) for left, right in itertools.pairwise(edges)]


def column_gutters(image: Image.Image, columns: int) -> list[int]:
    """x positions of the blank gutters between ``columns`` text columns, found from the ink.

    Columns are not equal thirds or halves of the page (code columns are as wide as their longest
    line), so each gutter is the middle of the widest blank band near where an even split puts it."""
    import numpy as np

    if columns <= 1:
        return []
    ink = (255 - np.asarray(image.convert("L"), dtype=np.int32)).sum(axis=0)
    blank = ink <= ink.max() * 0.002
    width = len(ink)
    gutters = []
    for i in range(1, columns):
        guess = width * i // columns
        lo, hi = max(1, guess - width // (3 * columns)), min(width - 1, guess + width // (3 * columns))
        best, run_start, best_len = guess, None, 0
        for x in range(lo, hi + 1):
            if x < hi and blank[x]:
                run_start = x if run_start is None else run_start
            elif run_start is not None:
                if x - run_start > best_len:
                    best, best_len = (run_start + x) // 2, x - run_start
                run_start = None
        gutters.append(best)
    return gutters


def _reading_order(boxes: list[tuple[float, float, float, str]]) -> str:
    """Join (centre y, height, left x, text) boxes of one column into lines, top to bottom."""
    boxes.sort(key=lambda b: b[0])
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        if not lines or abs(box[0] - lines[-1][0][0]) > lines[-1][0][1] * 0.5:
            lines.append([box])
        else:
            lines[-1].append(box)
    return "\n".join(" ".join(b[3] for b in sorted(line, key=lambda b: b[2])) for line in lines)


@functools.lru_cache(maxsize=4)
def get_engine(name: str = "rapidocr") -> OcrEngine:
    """A loaded OCR engine (cached: loading RapidOCR's models takes about a second)."""
    if name == "rapidocr":
        return RapidOCREngine()
    if name == "tesseract":
        return TesseractEngine()
    raise FidelityError(f"unknown OCR engine {name!r}; known: {', '.join(ENGINES)}")


def engine_version(name: str) -> str:
    """The engine and its version, for calibration and benchmark records."""
    from importlib.metadata import PackageNotFoundError, version

    if name == "tesseract":
        binary = shutil.which("tesseract")
        if binary is None:
            return "tesseract (not installed)"
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout
        return out.splitlines()[0] if out else "tesseract"
    try:
        return f"rapidocr-onnxruntime {version('rapidocr-onnxruntime')}"
    except PackageNotFoundError:
        return "rapidocr-onnxruntime (not installed)"


# --- pages ---------------------------------------------------------------------------------------

# OCR engines are not safe to call from several threads at once.
_OCR_LOCK = threading.Lock()


def visible(page: Page, profile: EncoderProfile) -> Image.Image:
    """The page as the provider sees it: resized by the provider's own rule."""
    image: Image.Image = Image.open(io.BytesIO(page.png)).convert("RGB")
    size = profile.visible_size(image.width, image.height)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return image


def read_pages(
    pages: list[Page], profile: EncoderProfile, *, columns: int = 1, script: Script = "latin", engine: str = "rapidocr"
) -> str:
    """OCR text of ``pages`` as the provider sees them, in reading order."""
    ocr = get_engine(engine)
    # Pages laid out by this version say where their gutters are (none: one column); a rendering
    # whose pages say nothing predates that, and its columns are found from the ink.
    reported = any(page.gutters for page in pages)
    texts = []
    with _OCR_LOCK:
        for page in pages:
            image = visible(page, profile)
            if reported or columns <= 1:
                scale = image.width / page.width
                gutters = [round(x * scale) for x in page.gutters]
                texts += [ocr.read(part, 1, script) for part in split_columns(image, 1 + len(gutters), gutters)]
            else:
                texts.append(ocr.read(image, columns, script))
    return "\n".join(texts)


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
    read = read_pages(rendering.pages, profile, columns=rendering.columns, script=script, engine=engine)
    elapsed = (time.perf_counter() - started) * 1000
    return score(read, text, kind, engine=engine, pages=len(rendering.pages), ocr_ms=elapsed, shown=rendering.shown)
