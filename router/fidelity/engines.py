"""OCR engines: what text is where on an image, as boxes; putting boxes in reading order is not theirs.

Two local engines, neither of which downloads anything: RapidOCR (ONNX models shipped in its wheel;
the default) and tesseract (the Debian package ``tesseract-ocr``). RapidOCR finds text lines;
tesseract finds words and says which of its lines each belongs to. ``router.fidelity.reading_order``
turns either into text, column by column, table cell by table cell, line by line.
"""

from __future__ import annotations

import csv
import functools
import io
import shutil
import subprocess
from typing import Literal, NamedTuple, Protocol

from PIL import Image, ImageOps

from router.errors import FidelityError
from router.models import Script
from router.render.pages import PAPER_LEVEL

__all__ = ["ENGINES", "EngineName", "OcrEngine", "TextBox", "engine_version", "get_engine"]

EngineName = Literal["rapidocr", "tesseract"]
ENGINES: tuple[EngineName, ...] = ("rapidocr", "tesseract")


class TextBox(NamedTuple):
    """Text an engine found, and where, in the pixels of the image it was given."""

    left: float
    top: float
    right: float
    bottom: float
    text: str
    line: tuple[int, ...] | None = None  # the engine's own line, where it says; None: found from the geometry

    @property
    def centre_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def centre_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


class OcrEngine(Protocol):
    name: str

    def boxes(self, image: Image.Image, script: Script) -> list[TextBox]:
        """The text found on ``image`` (one column of a page), in any order."""
        ...


class RapidOCREngine:
    """RapidOCR, run on the image upscaled 2x, at one scale whatever the image's size.

    Left to itself, RapidOCR's detector upscales an image until its shorter side is 736 px and
    shrinks one whose longer side passes 2,000 px: a 300-px-tall calibration page was read at 2.45x,
    a full page at 1x, and the Latin sample at 10 px read 99.75% on one short page but 97.1% once it
    was long enough to fill one (its detection boxes at 1x overlap the lines above and below). A
    fixed scale makes a page's score depend on its glyphs, not on how much else is on it.
    Resampling adds no information (as for tesseract).

    Each image gets a white border first: RapidOCR's detector half-loses a line within a few pixels
    of the image's edge. The Chinese checklist at 9 px on gpt-4.1-mini's pages (3-px margins, its last
    line 3 px from the bottom) read 91.8% with "版本，而实际上…" missing; with 4 px of border, 99.8%.
    Pages have margins of 1 px where that bills fewer tokens (every page where billing is by area), so
    each side gets at least 4 px, and more where its content would stand closer than 8 px to the edge:
    where the page has its density's 4-px margins, as a 4-px border always gave. The model sees no
    border, and the engine's reading moves with a line's offset in the image (FiraGO's ``fi`` in
    "confirm" read ``f`` on Claude's pages once their margins were cut to 1 px)."""

    name = "rapidocr"
    _SCALE = 2
    _BORDER = 4  # px of white added on each side of the image, at least, in its own pixels
    _CLEAR = 8  # px of white between the content and the image's edge, at least
    _MAX_SIDE = 16_384  # no page is shrunk for detection

    def __init__(self) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise FidelityError(
                "the rapidocr engine needs rapidocr-onnxruntime: pip install 'hybrid-context-router[fidelity]'"
            ) from exc
        self._ocr = RapidOCR(max_side_len=self._MAX_SIDE, det_limit_side_len=32, det_limit_type="min")

    def boxes(self, image: Image.Image, script: Script) -> list[TextBox]:
        import numpy as np

        scale = self._SCALE
        left, top, right, bottom = self._padding(image)
        image = ImageOps.expand(image.convert("RGB"), border=(left, top, right, bottom), fill="white")
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.BICUBIC)
        # The detector resizes its input to whole multiples of 32 px: a 150-px strip was stretched to
        # 160 (a digit in it read "e" where the same line on a tall page read "0"). White to the next
        # multiple, right and below, and nothing is resized.
        image = ImageOps.expand(image, border=(0, 0, -image.width % 32, -image.height % 32), fill="white")
        # The angle classifier flips small text upside down, so it stays off.
        result, _ = self._ocr(np.asarray(image), use_cls=False)
        found = []
        for corners, text, _confidence in result or []:
            xs, ys = [p[0] / scale - left for p in corners], [p[1] / scale - top for p in corners]
            found.append(TextBox(min(xs), min(ys), max(xs), max(ys), text))
        return found

    def _padding(self, image: Image.Image) -> tuple[int, int, int, int]:
        """White to add left, above, right and below: ``_BORDER``, or up to ``_CLEAR`` from the content."""
        import numpy as np

        drawn = np.asarray(image.convert("L")) < PAPER_LEVEL
        rows, columns = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
        if not rows.size:
            return (self._BORDER,) * 4

        def pad(blank: int) -> int:
            return max(self._BORDER, self._CLEAR - blank)

        return (pad(int(columns[0])), pad(int(rows[0])), pad(image.width - 1 - int(columns[-1])),
                pad(image.height - 1 - int(rows[-1])))  # fmt: skip


class TesseractEngine:
    """The tesseract CLI (page segmentation mode 6: one uniform block of text), read as words.

    Images are upscaled 2x first: tesseract's line finder wants taller glyphs than providers see;
    resampling adds no information, so the score still reflects the provider-visible pixels."""

    name = "tesseract"
    _SCALE = 2

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("tesseract")
        if not found:
            raise FidelityError("the tesseract engine needs the tesseract binary: apt-get install tesseract-ocr")
        self.binary = found
        listed = subprocess.run([found, "--list-langs"], capture_output=True, text=True, check=False).stdout
        self.languages = set(listed.split()[1:]) if listed else set()

    def boxes(self, image: Image.Image, script: Script) -> list[TextBox]:
        language = "chi_sim+eng" if script != "latin" and "chi_sim" in self.languages else "eng"
        scale = self._SCALE
        image = image.convert("L").resize((image.width * scale, image.height * scale), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        run = subprocess.run(
            [self.binary, "stdin", "stdout", "-l", language, "--psm", "6", "tsv"],
            input=buffer.getvalue(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        if run.returncode != 0:
            raise FidelityError(f"tesseract failed: {run.stderr.decode(errors='replace').strip()[:300]}")
        rows = csv.DictReader(io.StringIO(run.stdout.decode("utf-8", errors="replace")), delimiter="\t",
                              quoting=csv.QUOTE_NONE)  # fmt: skip
        found = []
        for row in rows:
            text = (row.get("text") or "").strip()
            if row.get("level") != "5" or not text:
                continue  # level 5 is a word; the others are the blocks, paragraphs and lines around words
            left, top = int(row["left"]) / scale, int(row["top"]) / scale
            right, bottom = left + int(row["width"]) / scale, top + int(row["height"]) / scale
            line = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            found.append(TextBox(left, top, right, bottom, text, line))
        return found


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
