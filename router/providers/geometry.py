"""Provider facts in one table: page geometry, image-token formulas and request limits.

Every vision encoder family has a page size that the provider takes without downscaling, the formula
it bills images by, and per-request limits. Page shapes are chosen by pixels per billed token, not by
habit:

- OpenAI tile models fit an image into 2048x2048, then shrink its shortest side to 768, then bill
  ``base + tile * tiles`` for 512-px tiles. A 512x2048 strip is never resized and bills 4 tiles
  (765 tokens on gpt-4o) for 1.78x the pixels of a 768x768 page, which also bills 4 tiles.
- OpenAI patch models bill 32-px patches (capped at 1536, the image shrunk to fit) times a per-model
  multiplier. Any shape under the cap has the same pixels per token; 1024x1536 is exactly the cap.
- Anthropic bills ``w*h/750`` and shrinks anything over 1568 px on the long edge or about 1.19 MP.
  768x1536 (1.18 MP) stays under both.
- Gemini 2.x bills 258 tokens per whole 768x768 tile (258 flat when both sides are <= 384).
  A page of two or three tiles across bills in proportion too: monospace and table pages take one
  where their columns fill it better (one 545-px column of dpkg's log fills 71% of a tile; wrapped
  at 505 px, three stand on a page of two tiles).
- Gemini 3 bills a fixed budget per image part set by ``media_resolution`` (1120 at high, the default
  for images). Its internal resize is not published, so the page is kept at about 1 MP.
- Qwen2/2.5-VL resizes to multiples of 28 px (``smart_resize``) and spends one token per 28x28 block,
  Qwen3-VL likewise with 32 px; both add two vision start/end tokens per image.

Image tokens here are what the provider bills for the image, so cost estimates stay honest; for patch
models that is the patch count times the model's multiplier.
"""

from __future__ import annotations

import fnmatch
import functools
import math
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from router.errors import UnknownEncoderError

Formula = Literal["openai_tile", "openai_patch", "anthropic", "gemini_tile", "gemini_fixed", "qwen_units"]


class EncoderProfile(BaseModel):
    """One vision-encoder family: the page it reads unscaled, how it bills, and its limits."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    formula: Formula
    page_width: int = Field(gt=0, description="page width in pixels that the provider never downscales")
    page_height: int = Field(gt=0)
    base_tokens: int = 0
    tile_tokens: int = 0
    tile_px: int = 0
    patch_px: int = 0
    max_patches: int = 0
    multiplier: float = 1.0
    max_long_edge: int = 0
    max_short_edge: int = 0
    max_pixels: int = 0
    max_page_width: int = Field(
        0,
        description="where wider than page_width: the widest page billed in proportion to its whole tiles and "
        "never downscaled; monospace and table pages may be any whole number of tiles up to it",
    )
    min_pixels: int = 0
    fixed_tokens: int = 0
    extra_tokens: int = 0
    max_images: int = Field(gt=0, description="images per request the provider accepts")
    max_image_bytes: int = Field(gt=0)
    max_request_bytes: int = Field(gt=0)
    detail: str | None = Field(None, description="OpenAI image_url.detail to send, where the API has one")
    accepts_remote_urls: bool = Field(
        False, description="the provider fetches http(s) image URLs itself (litellm does not download them)"
    )
    native_pdf_page_tokens: int | None = Field(
        None, description="image tokens per page when the provider reads a PDF itself; None: no PDF input"
    )
    native_pdf_adds_text: bool = Field(False, description="the provider also bills each page's extracted text")
    explicit_cache: bool = Field(
        False, description="the provider caches a prompt prefix only where the caller marks it (cache_control)"
    )

    def visible_size(self, width: int, height: int) -> tuple[int, int]:
        """The size the provider resizes a ``width`` x ``height`` image to before encoding it."""
        return _VISIBLE[self.formula](self, width, height)

    def image_tokens(self, width: int, height: int) -> int:
        """Billed input tokens for one image of this size."""
        return _TOKENS[self.formula](self, width, height)

    @property
    def bills_whole_tiles(self) -> bool:
        """Billed by whole tiles or whole images, not by area: blank rows of a tile cost as much as text."""
        return self.tile_px > 0 or self.fixed_tokens > 0

    def room(self, width: int, height: int) -> int:
        """The tallest image ``width`` wide, up to the page height, billed no more than one of ``height``:
        where billing is by whole tiles or whole images, the rows a page's last tile still has free."""
        tokens, low, high = self.image_tokens(width, height), height, max(height, self.page_height)
        while low < high:  # tokens never fall as an image grows taller
            middle = (low + high + 1) // 2
            low, high = (middle, high) if self.image_tokens(width, middle) <= tokens else (low, middle - 1)
        return low

    @property
    def page_widths(self) -> tuple[int, ...]:
        """The page widths columns may be set side by side in, narrowest first: the page's own, then
        each whole number of tiles (of pages, where the family has no tiles) more up to ``max_page_width``."""
        step = self.tile_px or self.page_width
        return (self.page_width, *range(self.page_width + step, self.max_page_width + 1, step))

    @property
    def page_tokens(self) -> int:
        return self.image_tokens(self.page_width, self.page_height)

    @property
    def pixels_per_token(self) -> float:
        return self.page_width * self.page_height / self.page_tokens


# --- formulas ---------------------------------------------------------------------------------------


def _scale(width: float, height: float, factor: float) -> tuple[float, float]:
    return (width * factor, height * factor) if factor < 1 else (width, height)


def _openai_tile_visible(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    w, h = _scale(width, height, p.max_long_edge / max(width, height))
    w, h = _scale(w, h, p.max_short_edge / min(w, h))
    return int(w), int(h)


def _openai_tile_tokens(p: EncoderProfile, width: int, height: int) -> int:
    w, h = _openai_tile_visible(p, width, height)
    tiles = math.ceil(w / p.tile_px) * math.ceil(h / p.tile_px)
    return p.base_tokens + p.tile_tokens * tiles


def _openai_patch_visible(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    px = p.patch_px
    if math.ceil(width / px) * math.ceil(height / px) <= p.max_patches:
        return width, height
    # OpenAI's published procedure: shrink to the patch budget, then snap so whole patches fit.
    r = math.sqrt(px * px * p.max_patches / (width * height))
    r *= min(math.floor(width * r / px) / (width * r / px), math.floor(height * r / px) / (height * r / px))
    return int(width * r), int(height * r)


def _openai_patch_tokens(p: EncoderProfile, width: int, height: int) -> int:
    w, h = _openai_patch_visible(p, width, height)
    patches = min(p.max_patches, math.ceil(w / p.patch_px) * math.ceil(h / p.patch_px))
    return math.ceil(patches * p.multiplier)


def _anthropic_visible(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    factor = min(p.max_long_edge / max(width, height), math.sqrt(p.max_pixels / (width * height)))
    w, h = _scale(width, height, factor)
    return int(w), int(h)


def _anthropic_tokens(p: EncoderProfile, width: int, height: int) -> int:
    w, h = _anthropic_visible(p, width, height)
    return math.ceil(w * h / 750)


def _identity(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    return width, height


def _gemini_tile_tokens(p: EncoderProfile, width: int, height: int) -> int:
    if width <= p.tile_px // 2 and height <= p.tile_px // 2:
        return p.tile_tokens
    return math.ceil(width / p.tile_px) * math.ceil(height / p.tile_px) * p.tile_tokens


def _gemini_fixed_visible(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    w, h = _scale(width, height, math.sqrt(p.max_pixels / (width * height)))
    return int(w), int(h)


def _gemini_fixed_tokens(p: EncoderProfile, width: int, height: int) -> int:
    return p.fixed_tokens


def smart_resize(height: int, width: int, unit: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen-VL's ``smart_resize``: (height, width) rounded to multiples of ``unit`` (patch x merge),
    then scaled into ``[min_pixels, max_pixels]`` keeping the aspect ratio. The billed-token formula
    and the local encoder's preprocessing (``router.local.preprocess``) both use this one function."""
    h_bar = max(unit, round(height / unit) * unit)
    w_bar = max(unit, round(width / unit) * unit)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(unit, math.floor(height / beta / unit) * unit)
        w_bar = max(unit, math.floor(width / beta / unit) * unit)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / unit) * unit
        w_bar = math.ceil(width * beta / unit) * unit
    return h_bar, w_bar


def _qwen_visible(p: EncoderProfile, width: int, height: int) -> tuple[int, int]:
    h, w = smart_resize(height, width, p.patch_px, p.min_pixels, p.max_pixels)
    return w, h


def _qwen_tokens(p: EncoderProfile, width: int, height: int) -> int:
    w, h = _qwen_visible(p, width, height)
    return (w // p.patch_px) * (h // p.patch_px) + p.extra_tokens


_VISIBLE: dict[str, Callable[[EncoderProfile, int, int], tuple[int, int]]] = {
    "openai_tile": _openai_tile_visible,
    "openai_patch": _openai_patch_visible,
    "anthropic": _anthropic_visible,
    "gemini_tile": _identity,
    "gemini_fixed": _gemini_fixed_visible,
    "qwen_units": _qwen_visible,
}
_TOKENS: dict[str, Callable[[EncoderProfile, int, int], int]] = {
    "openai_tile": _openai_tile_tokens,
    "openai_patch": _openai_patch_tokens,
    "anthropic": _anthropic_tokens,
    "gemini_tile": _gemini_tile_tokens,
    "gemini_fixed": _gemini_fixed_tokens,
    "qwen_units": _qwen_tokens,
}

# --- the table --------------------------------------------------------------------------------------

_MB = 1024 * 1024
_OPENAI_LIMITS = {"max_images": 500, "max_image_bytes": 20 * _MB, "max_request_bytes": 50 * _MB}
# OpenAI file inputs bill each page's extracted text plus an image of it (about 768x994: 4 tiles).
_OPENAI_TILE = {
    "formula": "openai_tile", "page_width": 512, "page_height": 2048, "tile_px": 512,
    "max_long_edge": 2048, "max_short_edge": 768, "detail": "high", "accepts_remote_urls": True,
    "native_pdf_adds_text": True, **_OPENAI_LIMITS,
}  # fmt: skip
_OPENAI_PATCH = {
    "formula": "openai_patch", "page_width": 1024, "page_height": 1536, "patch_px": 32,
    "max_patches": 1536, "detail": "high", "accepts_remote_urls": True, "native_pdf_adds_text": True,
    **_OPENAI_LIMITS,
}  # fmt: skip
_QWEN_LIMITS = {"max_images": 32, "max_image_bytes": 20 * _MB, "max_request_bytes": 64 * _MB}

PROFILES: dict[str, EncoderProfile] = {
    p.name: p
    for p in [
        EncoderProfile(name="openai-tile", description="gpt-4o, gpt-4.1, gpt-4.5: 85 + 170 per 512-px tile",
                       base_tokens=85, tile_tokens=170, **_OPENAI_TILE),
        EncoderProfile(name="openai-tile-4o-mini", description="gpt-4o-mini: 2833 + 5667 per 512-px tile",
                       base_tokens=2833, tile_tokens=5667, **_OPENAI_TILE),
        EncoderProfile(name="openai-tile-gpt5", description="gpt-5 and gpt-5-chat: 70 + 140 per 512-px tile",
                       base_tokens=70, tile_tokens=140, **_OPENAI_TILE),
        EncoderProfile(name="openai-tile-o", description="o1, o3: 75 + 150 per 512-px tile",
                       base_tokens=75, tile_tokens=150, **_OPENAI_TILE),
        EncoderProfile(name="openai-patch-mini", description="gpt-4.1-mini, gpt-5-mini: 32-px patches x 1.62",
                       multiplier=1.62, **_OPENAI_PATCH),
        EncoderProfile(name="openai-patch-nano", description="gpt-4.1-nano, gpt-5-nano: 32-px patches x 2.46",
                       multiplier=2.46, **_OPENAI_PATCH),
        EncoderProfile(name="openai-patch-o4-mini", description="o4-mini: 32-px patches x 1.72",
                       multiplier=1.72, **_OPENAI_PATCH),
        EncoderProfile(name="anthropic", description="Claude: w*h/750, long edge <= 1568, about 1.19 MP",
                       formula="anthropic", page_width=768, page_height=1536, max_long_edge=1568,
                       max_pixels=1092 * 1092, max_images=100, max_image_bytes=5 * _MB,
                       max_request_bytes=32 * _MB, explicit_cache=True),
        EncoderProfile(name="gemini-2", description="Gemini 2.x: 258 per 768x768 tile",
                       formula="gemini_tile", page_width=768, page_height=1536, tile_px=768, tile_tokens=258,
                       max_page_width=3 * 768,
                       max_images=3000, max_image_bytes=7 * _MB, max_request_bytes=20 * _MB),
        EncoderProfile(name="gemini-3", description="Gemini 3: fixed 1120 tokens per image (media_resolution high)",
                       formula="gemini_fixed", page_width=1024, page_height=1024, fixed_tokens=1120,
                       max_pixels=1024 * 1024, max_images=900, max_image_bytes=7 * _MB,
                       max_request_bytes=20 * _MB),
        EncoderProfile(name="qwen2.5-vl", description="Qwen2/2.5-VL: one token per 28x28 block (smart_resize)",
                       formula="qwen_units", page_width=784, page_height=1568, patch_px=28, extra_tokens=2,
                       min_pixels=56 * 56, max_pixels=28 * 28 * 16384, **_QWEN_LIMITS),
        EncoderProfile(name="qwen3-vl", description="Qwen3-VL: one token per 32x32 block",
                       formula="qwen_units", page_width=768, page_height=1536, patch_px=32, extra_tokens=2,
                       min_pixels=65536, max_pixels=16777216, **_QWEN_LIMITS),
    ]
}  # fmt: skip

# Providers that read PDFs themselves: image tokens per page (text is billed on top where
# native_pdf_adds_text). OpenAI renders a page at about 768x994 (4 tiles, or 24x32 patches);
# Anthropic at its image cap (~1590 tokens) plus the page's text; Gemini bills 258 per page
# (2.x) or 560 (3, default media resolution for documents). Qwen-VL servers take no PDFs.
_NATIVE_PDF: dict[str, dict[str, object]] = {
    "openai-tile": {"native_pdf_page_tokens": 765},
    "openai-tile-4o-mini": {"native_pdf_page_tokens": 25501},
    "openai-tile-gpt5": {"native_pdf_page_tokens": 630},
    "openai-tile-o": {"native_pdf_page_tokens": 675},
    "openai-patch-mini": {"native_pdf_page_tokens": 1245},
    "openai-patch-nano": {"native_pdf_page_tokens": 1890},
    "openai-patch-o4-mini": {"native_pdf_page_tokens": 1321},
    "anthropic": {"native_pdf_page_tokens": 1590, "native_pdf_adds_text": True},
    "gemini-2": {"native_pdf_page_tokens": 258},
    "gemini-3": {"native_pdf_page_tokens": 560},
}
PROFILES = {name: p.model_copy(update=_NATIVE_PDF.get(name, {})) for name, p in PROFILES.items()}

# (glob on the model name, glob on litellm's provider, family). First match wins, so the specific
# names come before the generic ones.
MODEL_FAMILIES: list[tuple[str, str, str]] = [
    ("*qwen3-vl*", "*", "qwen3-vl"),
    ("*qwen2.5-vl*", "*", "qwen2.5-vl"),
    ("*qwen2-vl*", "*", "qwen2.5-vl"),
    ("*claude*", "*", "anthropic"),
    ("*gemini-3*", "*", "gemini-3"),
    ("*gemini*", "*", "gemini-2"),
    ("*gpt-4.1-nano*", "*", "openai-patch-nano"),
    ("*gpt-5-nano*", "*", "openai-patch-nano"),
    ("*gpt-4.1-mini*", "*", "openai-patch-mini"),
    ("*gpt-5-mini*", "*", "openai-patch-mini"),
    ("*o4-mini*", "*", "openai-patch-o4-mini"),
    ("*gpt-4o-mini*", "*", "openai-tile-4o-mini"),
    ("*gpt-5*", "*", "openai-tile-gpt5"),
    ("o1*", "*", "openai-tile-o"),
    ("o3*", "*", "openai-tile-o"),
    ("*", "anthropic", "anthropic"),
    ("*", "bedrock", "anthropic"),
    ("*", "gemini", "gemini-2"),
    ("*", "vertex_ai", "gemini-2"),
    ("*", "*", "openai-tile"),
]


def _known_encoder(name: str) -> str:
    get_profile(name)  # UnknownEncoderError (a ValueError too) names the known families
    return name


EncoderName = Annotated[str, AfterValidator(_known_encoder)]
"""A field type for encoder family names in policies and configs."""


def get_profile(name: str) -> EncoderProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownEncoderError(f"unknown encoder family {name!r}; known: {', '.join(sorted(PROFILES))}") from None


def split_model(model: str) -> tuple[str, str]:
    """(model name, provider) as litellm resolves them; ("model", "") when litellm does not know it."""
    from router._litellm import litellm

    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
    except Exception:  # litellm raises its own BadRequestError for names it cannot place
        return model, ""
    return name, provider or ""


@functools.lru_cache(maxsize=1024)  # litellm's provider resolution is not free, and models recur
def resolve_encoder(model: str) -> EncoderProfile:
    """The encoder family for ``model``, from litellm's provider resolution and the name table."""
    name, provider = split_model(model)
    lowered, full = name.lower(), model.lower()
    for name_glob, provider_glob, family in MODEL_FAMILIES:
        if (fnmatch.fnmatch(lowered, name_glob) or fnmatch.fnmatch(full, name_glob)) and fnmatch.fnmatch(
            provider, provider_glob
        ):
            return PROFILES[family]
    return PROFILES["openai-tile"]
