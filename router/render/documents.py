"""Documents (PDF, XPS, EPUB, MOBI, FB2, CBZ, SVG, images) as context, page by page.

``open_document`` reads a file part's bytes with PyMuPDF within limits: encrypted, corrupt and empty
files are clear errors; page counts are cut to the limit and the cut is reported; an embedded image too
large to decode safely (a decompression bomb) makes its page text-only. ``describe_page`` gives each
page's text layer and what it looks like (scanned, tables, figures, plain text), which the policy turns
into a decision; ``rasterise_page`` draws a page at the encoder's geometry: margins trimmed, the zoom
chosen so body text lands at the density's glyph size, tall pages split into tiles. Pages are read one
at a time, so memory stays bounded by one page's pixels however long the document is.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pymupdf

from router.errors import DocumentError, RenderError
from router.providers.geometry import EncoderProfile
from router.render.pages import fit_margins

PageLook = Literal["scanned", "tables", "figures", "text"]
MAX_IMAGE_PIXELS = 64_000_000  # an embedded image larger than this is not decoded (decompression bombs)
_TEXT_ONLY = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
MAX_TILES_PER_PAGE = 6  # a page taller than this many encoder pages is cut, and the report says so
_FORMATS = {
    "application/pdf": "pdf", "application/oxps": "xps", "application/vnd.ms-xpsdocument": "xps",
    "application/epub+zip": "epub", "application/x-mobipocket-ebook": "mobi", "application/x-fictionbook+xml": "fb2",
    "application/vnd.comicbook+zip": "cbz", "image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg",
    "text/plain": "txt",
}  # fmt: skip


@dataclass(frozen=True)
class PageInfo:
    number: int  # 1-based
    text: str
    look: PageLook
    body_pt: float | None  # median font size of the text layer, None without one
    problem: str | None = None  # set when the page must not be rasterised


def filetype_for(media_type: str | None, filename: str | None) -> str:
    """PyMuPDF's filetype for a part, from its media type or file name."""
    if media_type and media_type.split(";")[0].strip().lower() in _FORMATS:
        return _FORMATS[media_type.split(";")[0].strip().lower()]
    if filename and "." in filename:
        return filename.rsplit(".", 1)[1].lower()
    return "pdf"


def open_document(data: bytes, filetype: str) -> pymupdf.Document:
    try:
        doc = pymupdf.open(stream=data, filetype=filetype)
    except Exception as exc:  # MuPDF raises its own types for unreadable input
        raise DocumentError(f"not a readable {filetype} document: {exc}") from None
    if doc.needs_pass:
        doc.close()
        raise DocumentError("the document is encrypted; send it decrypted or as text")
    if doc.page_count == 0:
        doc.close()
        raise DocumentError("the document has no pages")
    return doc


def parse_pages(spec: str | None, page_count: int) -> list[int]:
    """1-based page numbers from a spec like "1-3,7,10-" (all pages when None)."""
    if not spec:
        return list(range(1, page_count + 1))
    pages: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if "-" in part:
                first, _, last = part.partition("-")
                start, end = int(first or 1), int(last or page_count)
            else:
                start = end = int(part)
        except ValueError:
            raise DocumentError(f"page range {spec!r}: {part!r} is not a page number or range") from None
        pages.extend(n for n in range(max(1, start), min(page_count, end) + 1) if n not in pages)
    if not pages:
        raise DocumentError(f"page range {spec!r} selects no page of {page_count}")
    return pages


def iter_pages(doc: pymupdf.Document, numbers: list[int]) -> Iterator[tuple[pymupdf.Page, PageInfo]]:
    for number in numbers:
        page = doc.load_page(number - 1)
        yield page, describe_page(page, number)


def describe_page(page: pymupdf.Page, number: int) -> PageInfo:
    # Image sizes come from the image headers (get_image_info decodes nothing), before anything that
    # could decode pixels; the text layer is read without images (get_text("dict") would decode them).
    problem = _oversized_image(page)
    text = page.get_text("text", sort=True)
    sizes: list[float] = []
    for block in page.get_text("dict", flags=_TEXT_ONLY)["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                sizes.extend([span["size"]] * len(span["text"].strip()))
    area = page.rect.width * page.rect.height
    drawn = page.get_bboxlog()  # everything drawn: works for image files too, which have no PDF images
    image_area = sum(pymupdf.Rect(rect).get_area() for kind, rect in drawn if kind.endswith("image"))
    if len(text.strip()) < 20 and drawn:  # ink but (almost) no text layer: only an image can carry it
        look: PageLook = "scanned"
    elif _has_tables(page):
        look = "tables"
    elif image_area > 0.1 * area or len(page.get_drawings()) > 40:
        look = "figures"
    else:
        look = "text"
    return PageInfo(number, text, look, statistics.median(sizes) if sizes else None, problem)


def rasterise_page(page: pymupdf.Page, info: PageInfo, profile: EncoderProfile, em_px: float) -> list[np.ndarray]:
    """The page as grayscale tiles no larger than the encoder's page, text at ``em_px``."""
    if info.problem:
        raise RenderError(info.problem)
    clip = _content_box(page)
    zoom = em_px / info.body_pt if info.body_pt else profile.page_width / clip.width
    zoom = min(zoom, profile.page_width / clip.width)  # never wider than the encoder's page
    zoom = min(zoom, MAX_TILES_PER_PAGE * profile.page_height / clip.height)
    pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), clip=clip, colorspace=pymupdf.csGRAY, alpha=False)
    # The clip's edges are rounded outwards to whole pixels: one column past the page's width would bill
    # gpt-4o a second column of tiles. The column is the content box's blank margin.
    pixels = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)[:, : profile.page_width]
    tiles = [pixels[top : top + profile.page_height] for top in range(0, pix.height, profile.page_height)]
    return [fit_margins(tile.copy(), profile) for tile in tiles]  # blank rows above and below bill nothing


def _content_box(page: pymupdf.Page) -> pymupdf.Rect:
    """The page area that holds ink, with a small margin; the whole page if nothing is found."""
    box = pymupdf.Rect()
    for _kind, rect in page.get_bboxlog():
        box |= pymupdf.Rect(rect)
    box = box * page.rotation_matrix & page.rect  # the log is unrotated; clips are in rotated page space
    if box.is_empty or box.width < 4 or box.height < 4:
        return page.rect
    margin = 6  # points
    return pymupdf.Rect(box.x0 - margin, box.y0 - margin, box.x1 + margin, box.y1 + margin) & page.rect


def _has_tables(page: pymupdf.Page) -> bool:
    # Ruled tables leave many horizontal and vertical line segments; find_tables() is far slower.
    lines = 0
    for drawing in page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "l" and (item[1].x == item[2].x or item[1].y == item[2].y):
                lines += 1
            elif item[0] == "re":
                lines += 2
    return lines >= 12


def _oversized_image(page: pymupdf.Page) -> str | None:
    """Why the page must not be rasterised: an image (PDF-embedded, or the page itself for image files)
    over ``MAX_IMAGE_PIXELS``, read from its header."""
    for image in page.get_image_info():
        width, height = image["width"], image["height"]
        if width * height > MAX_IMAGE_PIXELS:
            return f"page {page.number + 1} embeds a {width}x{height} image, too large to decode safely"
    return None
