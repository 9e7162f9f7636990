"""Read rendered pages back with a real OCR engine (RapidOCR, ONNX models shipped in its wheel).

Pages are first resized exactly as the target provider resizes them, so the score is for what the
model will see. Character accuracy is 1 - CER after folding what OCR engines cannot be expected to
keep apart: whitespace, full-width and ASCII forms of the same character (NFKC), curly and straight
quotes, and the router's own continuation markers.
"""

from __future__ import annotations

import functools
import io
import re
import unicodedata

import numpy as np
from PIL import Image
from rapidfuzz.distance import Levenshtein

from router.geometry import EncoderProfile
from router.html import MARKERS
from router.models import Page

_QUOTES = str.maketrans({"‘": "'", "’": "'", "′": "'", "`": "'", "“": '"', "”": '"', "″": '"'})


@functools.lru_cache(maxsize=1)
def engine():  # type: ignore[no-untyped-def]
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def visible(page: Page, profile: EncoderProfile) -> np.ndarray:
    """The page as the provider sees it: resized by the provider's own rule."""
    image = Image.open(io.BytesIO(page.png)).convert("RGB")
    size = profile.visible_size(image.width, image.height)
    if size != image.size:
        image = image.resize(size, Image.Resampling.BICUBIC)
    return np.asarray(image)


def read_page(page: Page, profile: EncoderProfile, columns: int = 1) -> str:
    """OCR text in reading order: column by column, line by line, left to right within a line."""
    pixels = visible(page, profile)
    result, _ = engine()(pixels, use_cls=False)  # the angle classifier flips small text upside down
    width = pixels.shape[1]
    items = []
    for box, text, _score in result or []:
        xs, ys = [p[0] for p in box], [p[1] for p in box]
        column = int(min(xs) // (width / columns))
        items.append((column, (min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    items.sort(key=lambda item: (item[0], item[1]))
    lines: list[list[tuple]] = []
    for item in items:
        first = lines[-1][0] if lines else None
        if first is None or item[0] != first[0] or abs(item[1] - first[1]) > first[2] * 0.5:
            lines.append([item])
        else:
            lines[-1].append(item)
    return "\n".join(" ".join(i[4] for i in sorted(line, key=lambda i: i[3])) for line in lines)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).replace("\u200b", "")
    for marker in MARKERS:
        text = text.replace(marker, "")
    return re.sub(r"\s+", "", text)


def char_accuracy(read: str, source: str) -> float:
    """1 - character error rate of ``read`` against ``source``, both normalised."""
    a, b = normalise(read), normalise(source)
    if not b:
        return 1.0 if not a else 0.0
    return max(0.0, 1 - Levenshtein.distance(a, b) / len(b))
