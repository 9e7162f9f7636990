"""Stage 3: render one chunk into PNG pages at the target encoder's geometry.

``render_chunk`` is the one entry point: chunk text -> HTML (``router.render.markup``) -> pages laid
out and rasterised at the encoder's geometry (``router.render.flow`` for flowing text, ``router.render.mono``
for monospace) -> PNG (``router.render.png``).
Pages are at most the pixel size the encoder reads without downscaling, and the last page is cropped
to its content so no tokens pay for blank space. Output is deterministic (same bytes for the same
input and settings) and cached in memory by a hash of content and settings (``router.render.cache``).
Where a render pool is in use (``router.render.pool``), layout runs in its worker processes.
Every rendering passes ``router.render.completeness`` (the pages hold every word of the source) before
it is cached or sent; one that does not raises, and the chunk goes as text.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from router.cache_scope import current_scope
from router.errors import RenderError
from router.kinds import KINDS, Kind, KindSpec
from router.models import Chunk, Rendering, Script
from router.providers.geometry import EncoderProfile
from router.render import markup
from router.render._mupdf import MUPDF_LOCK
from router.render.cache import render_cache
from router.render.completeness import check_flow, check_verbatim, markup_text
from router.render.density import Density, Typesetting
from router.render.flow import flow_columns, layout_flow
from router.render.heads import heads_repeated
from router.render.lines import LineForm
from router.render.mono import layout_mono
from router.render.png import encode_page
from router.render.pool import current_render_pool
from router.render.reflow import JsonLine, reflow_json

RENDER_VERSION = "36"  # bump when output bytes change, so cached pages are never stale


@dataclass(frozen=True)
class RenderTarget:
    """Everything besides the text that decides the output bytes."""

    profile: EncoderProfile
    density: Density

    def key(self) -> str:
        # The whole profile: a family adjusted in place (its page widths, say) is another target.
        return f"{RENDER_VERSION}|{self.profile.model_dump_json()}|{self.density.model_dump_json()}"


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
    pool = current_render_pool()
    try:
        if pool is not None:  # laid out in a worker process: every core works
            rendering = pool.render(text.strip("\n"), kind, script, language, target)
        else:
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
    spec = KINDS[kind]
    json_lines = reflow_json(text) if spec.markup == "json" else None
    if spec.markup == "json" and json_lines is None:  # not JSON tokens (comments, single quotes): as code
        kind, language, spec = "code", "json", KINDS["code"]
    density, profile = target.density, target.profile
    setting = density.typesetting(kind, script, language)
    css = markup.base_css(setting.em_px, setting.line_height)
    started = time.perf_counter()
    undrawn: list[str] = []
    shown = ""
    if spec.layout == "mono":
        runs = markup.highlight(text, language, kind)
        grayscale = all(colour is None for _, colour in runs)
        # Code in FiraGO where the calibration chose it (the setting of kinds that stay in cells is not proportional)
        form = LineForm(compact_indent=spec.compact_indent, sans=setting.proportional, marker=spec.marker)
        laid = layout_mono(runs, setting, css, density, profile, grayscale=grayscale, form=form)
        undrawn = check_verbatim(markup.visible_text(text, kind), laid.text)
    else:
        body = markup.unjoined_ffs(_flow_body(text, spec, json_lines, setting, target))
        grayscale = 'style="color:' not in body
        laid = layout_flow(body, css, density, profile, grayscale=grayscale)
        if json_lines is not None:
            undrawn = check_verbatim(text, laid.text)  # only whitespace between tokens was redrawn
            shown = "\n".join("  " * line.depth + line.text for line in json_lines)
        else:
            undrawn = check_flow(text, body, laid.text, markdown=spec.markup != "prose")
            if spec.markup != "prose":  # tables may be split into column groups, their heads repeated
                shown = markup_text(heads_repeated(body, list(laid.heads)))
    laid_out = time.perf_counter()
    pages = [
        encode_page(array, profile, grayscale=grayscale, gutters=gutters)
        for array, gutters in zip(laid.pages, laid.gutters, strict=True)
    ]
    done = time.perf_counter()
    return Rendering(
        pages=pages,
        columns=laid.columns,
        undrawn=undrawn,
        shown=shown,
        render_ms=(laid_out - started) * 1000,
        encode_ms=(done - laid_out) * 1000,
    )


def _flow_body(
    text: str, spec: KindSpec, json_lines: list[JsonLine] | None, setting: Typesetting, target: RenderTarget
) -> str:
    """The HTML of a flowing chunk."""
    if json_lines is not None:
        _, column_px = flow_columns(target.density, target.profile, tables=False)
        return markup.json_html(json_lines, column_px / setting.em_px)
    if spec.markup == "prose":
        return markup.prose_html(text)
    full_width = target.profile.page_width - 2 * target.density.margin_px  # a chunk with tables: one full column
    # Where the page is billed by its area, a table is drawn in the least area (rare wide cells wrap).
    by_area, em, line_height = not target.profile.bills_whole_tiles, setting.em_px, setting.line_height
    if spec.markup == "csv":
        return markup.csv_html(text, full_width, em, by_area=by_area, line_height=line_height)
    return markup.markdown_html(text, full_width, em, by_area=by_area, line_height=line_height)
