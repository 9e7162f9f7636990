"""Raster pages, whichever layout drew them: the result both layouts return, and the page-level
rules they share (how many pages and columns at most, what counts as drawn on, margins fitted to
what a family bills)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pymupdf

from router.providers.geometry import EncoderProfile
from router.render.glyphs import drawn_only

__all__ = [
    "MAX_COLUMNS",
    "MAX_PAGES",
    "PAPER_LEVEL",
    "LaidOut",
    "baselines",
    "billed_height",
    "darkest",
    "fit_margins",
    "pixmap_array",
    "rasterise",
    "recorded",
    "side_margin",
]

MAX_PAGES = 400  # per chunk; a longer chunk is an error and goes as text
MAX_COLUMNS = 4
PAPER_LEVEL = 250  # a pixel darker than this is drawn on, not blank page


@dataclass(frozen=True)
class LaidOut:
    pages: Iterable[np.ndarray]  # iterated once, in order: flowing text composes each page as it is taken
    columns: int
    text: str  # the text MuPDF placed inside the drawn areas: what the pages show, for the completeness check
    gutters: list[tuple[int, ...]]  # per page: x of the middle of each gap between columns
    heads: tuple[int, ...] = ()  # the table rows drawn below their table's head again (``router.render.heads``)


def recorded(bounds: pymupdf.Rect, stories: Iterable[pymupdf.Story]) -> pymupdf.DisplayList:
    """Placed ``stories`` drawn into one display list ``bounds`` large, the page they make.

    Drawn straight into the list, not into a PDF that is then written, parsed and interpreted: the
    same glyphs at the positions the layout gave them (the PDF rounded them, so some edges move),
    in 40% less time (the GPL's 536-px strip at 8 px: 16 -> 9.6 ms), and the text comes from the
    story's own characters, not from the written fonts' glyph names (through a PDF, FiraGO's ``ft``
    ligature read ``Ǔ`` and Cascadia Mono's box drawing Bengali letters)."""
    mupdf = pymupdf.mupdf
    listed = mupdf.FzDisplayList(mupdf.FzRect(bounds.x0, bounds.y0, bounds.x1, bounds.y1))
    device = mupdf.fz_new_list_device(listed)
    for story in stories:
        mupdf.fz_draw_story(story.this, device, mupdf.FzMatrix())
    mupdf.fz_close_device(device)
    return pymupdf.DisplayList(listed)


def rasterise(
    listed: pymupdf.DisplayList,
    clips: Sequence[pymupdf.Rect | None],
    text_clips: Sequence[pymupdf.Rect],
    *,
    grayscale: bool,
) -> tuple[list[np.ndarray], list[str]]:
    """The page's pixels inside each of ``clips`` (all of it: None) and its text inside each of ``text_clips``,
    both taken from the one display list the page was recorded into (``recorded``)."""
    colorspace = pymupdf.csGRAY if grayscale else pymupdf.csRGB
    pixels = [pixmap_array(listed.get_pixmap(colorspace=colorspace, alpha=False, clip=clip)) for clip in clips]
    return pixels, [_text(listed, text_clip) for text_clip in text_clips]


def _text(listed: pymupdf.DisplayList, clip: pymupdf.Rect) -> str:
    """What ``Page.get_text("text", clip=clip)`` extracts: characters outside ``clip`` left out."""
    mupdf = pymupdf.mupdf
    page = mupdf.FzStextPage(mupdf.FzRect(clip.x0, clip.y0, clip.x1, clip.y1))
    device = mupdf.fz_new_stext_device(page, mupdf.FzStextOptions(pymupdf.TEXTFLAGS_TEXT))
    everywhere = mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE)
    mupdf.fz_run_display_list(listed.this, device, mupdf.FzMatrix(), everywhere, mupdf.FzCookie())
    mupdf.fz_close_device(device)
    return drawn_only(str(pymupdf.TextPage(page).extractText()))


def baselines(listed: pymupdf.DisplayList) -> np.ndarray:
    """Each text line's baseline and font size, in the display list's pixels, top to bottom."""
    found = [
        (line["spans"][0]["origin"][1], line["spans"][0]["size"])
        for block in pymupdf.TextPage(listed.get_textpage()).extractDICT()["blocks"]
        for line in block.get("lines", ())
        if line["spans"]
    ]
    return np.array(sorted(found), dtype=np.float64).reshape(-1, 2)


def pixmap_array(pix: pymupdf.Pixmap) -> np.ndarray:
    array = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    return array[:, :, 0].copy() if pix.n == 1 else array.copy()


def darkest(strip: np.ndarray) -> np.ndarray:
    """Each pixel's darkest channel. Plane by plane: numpy's min over a last axis of 3 is 10x slower."""
    return strip if strip.ndim == 2 else np.minimum(np.minimum(strip[..., 0], strip[..., 1]), strip[..., 2])


def fit_margins(page: np.ndarray, profile: EncoderProfile) -> np.ndarray:
    """The page with its blank rows above and below cut to 1 px each where that bills fewer tokens.
    Whole tiles are billed however few rows of the last one are drawn on: gpt-4o's CSV pages were
    503x2047 and 503x513, the 513th row blank margin, 1,190 image tokens where 1,020 do. Where
    billing is by area every blank row costs: a 768-px row is a token on Claude."""
    height, width = page.shape[:2]
    # Row by row from each end: margins are a few rows, and a whole colour page's scan took 3.3 ms.
    marked = (y for y in range(height) if (page[y] < PAPER_LEVEL).any())  # any channel darker than paper
    top = next(marked, None)
    if top is None:
        return page
    bottom = next(y for y in range(height - 1, top - 1, -1) if (page[y] < PAPER_LEVEL).any()) + 1
    fitted = billed_height(bottom - top, height, width, profile)
    if fitted == height:
        return page
    start = min(max(0, top - (fitted - (bottom - top)) // 2), height - fitted)  # the margins shrink evenly
    return page[start : start + fitted].copy()


def side_margin(margin_px: int, profile: EncoderProfile) -> int:
    """The blank left and right of a page's content: the density's margin where whole tiles are billed
    (the tile's width is paid for either way), 1 px where billing is by area and every blank column
    costs (8 px of a 768-px page: 1% of its tokens on Claude). The layout's width is the same."""
    return margin_px if profile.bills_whole_tiles else min(1, margin_px)


def billed_height(content_px: int, height: int, width: int, profile: EncoderProfile) -> int:
    """The height of a page ``height`` tall with ``content_px`` rows of content: less where margins of
    1 px bill fewer tokens than the page's own."""
    return min(height, profile.room(width, content_px + 2))
