"""Stage 3: render one chunk into PNG pages at the target encoder's geometry.

``render_chunk`` is the one entry point: chunk text -> HTML (``router.render.markup``) -> pages laid out and
rasterised at the encoder's geometry (``router.render.layout``) -> PNG. Pages are at most the pixel size the
encoder reads without downscaling, and the last page is cropped to its content so no tokens pay for
blank space. PNGs are 4-bit grayscale unless the chunk uses colour (highlighted code: 8-bit RGB). Output is
deterministic (same bytes for the same input and settings) and cached in memory, keyed by a hash of
content and settings. Every rendering passes ``router.render.completeness`` (the pages hold every word of the
source) before it is cached or sent; one that does not raises, and the chunk goes as text.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PIL import Image

from router.cache_scope import current_scope
from router.errors import RenderError
from router.kinds import KINDS, Kind
from router.models import Chunk, Page, Rendering, Script
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render.completeness import check_flow, check_verbatim
from router.render.density import Density
from router.render.layout import layout_flow, layout_mono

RENDER_VERSION = "6"  # bump when output bytes change, so cached pages are never stale
PNG_LEVEL = 3  # zlib level; measured on text pages: 6 is 1.7x slower and no smaller, 9 is 14x slower
_GREY16 = [level * 17 for level in range(16) for _ in range(3)]
# PyMuPDF is not thread-safe; routing runs in worker threads (acompletion, servers), so one at a time.
MUPDF_LOCK = threading.Lock()


@dataclass(frozen=True)
class RenderTarget:
    """Everything besides the text that decides the output bytes."""

    profile: EncoderProfile
    density: Density

    def key(self) -> str:
        p = self.profile
        return f"{RENDER_VERSION}|{p.name}|{p.page_width}x{p.page_height}|{self.density.model_dump_json()}"


def render_chunk(chunk: Chunk, target: RenderTarget) -> Rendering:
    """Render ``chunk`` (cached). Raises RenderError when it cannot be laid out."""
    return render_text(chunk.text, chunk.kind, chunk.script, chunk.language, target)


def render_key(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> str:
    """A digest of everything that decides a rendering's bytes, and of the cache scope (the cache key)."""
    fields = (current_scope(), target.key(), kind, script, language or "", text)
    return hashlib.sha256("\x00".join(fields).encode("utf-8", "surrogatepass")).hexdigest()


def render_text(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
    key = render_key(text, kind, script, language, target)
    cached = render_cache().get(key)
    if cached is not None:
        return cached.model_copy(update={"cached": True, "render_ms": 0.0, "encode_ms": 0.0})
    try:
        with MUPDF_LOCK:
            rendering = _render(text.strip("\n"), kind, script, language, target)
    except RenderError:
        raise
    except Exception as exc:  # MuPDF raises its own error types for layout failures
        raise RenderError(f"could not render {kind} chunk: {type(exc).__name__}: {exc}") from exc
    render_cache().put(key, rendering)
    return rendering


# --- layout + PNG ---------------------------------------------------------------------------------


def _render(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
    if not text.strip():
        raise RenderError("nothing to render: the chunk is blank")
    density, profile = target.density, target.profile
    setting = density.typesetting(kind, script)
    css = markup.base_css(setting.em_px, setting.line_height)
    started = time.perf_counter()
    spec = KINDS[kind]
    if spec.layout == "mono":
        runs = markup.highlight(text, language, kind)
        grayscale = all(colour is None for _, colour in runs)
        laid = layout_mono(runs, setting, css, density, profile, grayscale=grayscale)
        check_verbatim(text, laid.text)
    else:
        full_width = profile.page_width - 2 * density.margin_px  # a chunk with tables gets one full column
        if spec.markup == "prose":
            body = markup.prose_html(text)
        else:
            body = markup.markdown_html(text, full_width, setting.em_px)
        grayscale = 'style="color:' not in body
        laid = layout_flow(body, css, density, profile, grayscale=grayscale)
        check_flow(text, body, laid.text, markdown=spec.markup == "markdown")
    laid_out = time.perf_counter()
    pages = [encode_page(array, profile, grayscale=grayscale) for array in laid.pages]
    done = time.perf_counter()
    return Rendering(
        pages=pages,
        columns=laid.columns,
        render_ms=(laid_out - started) * 1000,
        encode_ms=(done - laid_out) * 1000,
    )


def encode_page(array: np.ndarray, profile: EncoderProfile, *, grayscale: bool) -> Page:
    height, width = array.shape[:2]
    buffer = io.BytesIO()
    # No timestamps or text chunks are written, so equal pixels give equal bytes.
    if grayscale:
        # 16 grey levels are plenty for anti-aliased text and make PNGs about 37% smaller.
        image = Image.fromarray(array >> 4, mode="P")
        image.putpalette(_GREY16)
        image.save(buffer, format="PNG", compress_level=PNG_LEVEL, bits=4)
    else:
        Image.fromarray(array, mode="RGB").save(buffer, format="PNG", compress_level=PNG_LEVEL)
    png = buffer.getvalue()
    return Page(
        png=png,
        data_url="data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        width=width,
        height=height,
        tokens=profile.image_tokens(width, height),
        grayscale=grayscale,
    )


# --- cache ------------------------------------------------------------------------------------------


class RenderCache:
    """Thread-safe LRU of renderings, bounded by entry count and PNG bytes."""

    def __init__(self, max_entries: int = 512, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._items: OrderedDict[str, Rendering] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> Rendering | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: str, rendering: Rendering) -> None:
        size = sum(len(p.png) + len(p.data_url) for p in rendering.pages)
        with self._lock:
            if key in self._items:
                return
            self._items[key] = rendering
            self._bytes += size
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= sum(len(p.png) + len(p.data_url) for p in old.pages)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)


@functools.lru_cache(maxsize=1)
def render_cache() -> RenderCache:
    """The process's render cache, made on first use."""
    return RenderCache()
