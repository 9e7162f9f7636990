"""Named render densities: glyph sizes chosen by how well a real OCR engine reads them back.

Pages are rendered at exactly the size the target encoder reads without downscaling (see
``router.geometry``), so a glyph's em in page pixels is the em the model sees, whatever the family.
The figures below are ems in pixels, per class of text:

- ``latin``: proportional text (FiraGO), prose, markdown and tables;
- ``cjk``: text that is mostly Chinese, Japanese or Korean (Droid Sans Fallback);
- ``mono``: code, logs, JSON and HTML source (Fira Mono, 0.6 em per cell).

Measured here with RapidOCR (angle classifier off) on pages at provider-visible resolution, 98%
character accuracy needs about a 7 px em for English and tables, 8 px for Chinese and 9 px for code.
``dense`` sits just above those limits (gist, compression first), ``balanced`` well above them, and
``exact`` at sizes where vision LLMs copy identifiers reliably (published sweeps: 12-character hex
strings are read 95% right at 10x16 px glyph cells, 35% at 7x10). ``tests/test_readback.py`` checks
the read-back of each; ``benchmarks/bench_router.py`` reports the compression each reaches.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from router.errors import RouterError
from router.models import Kind, Script


class Density(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    latin_px: float = Field(gt=3)
    cjk_px: float = Field(gt=3)
    mono_px: float = Field(gt=3)
    line_height: float = Field(1.2, ge=1.0, le=2.0)
    margin_px: int = Field(4, ge=0)
    column_gap_px: int = Field(10, ge=0)

    def em_px(self, kind: Kind, script: Script) -> float:
        if kind in MONO_KINDS:
            return max(self.mono_px, self.cjk_px) if script == "cjk" else self.mono_px
        return self.cjk_px if script in ("cjk", "mixed") else self.latin_px


MONO_KINDS: frozenset[str] = frozenset({"code", "log", "json", "html"})

DENSITIES: dict[str, Density] = {
    d.name: d
    for d in [
        Density(name="exact", latin_px=13, cjk_px=14, mono_px=13.5, line_height=1.25, margin_px=6),
        Density(name="balanced", latin_px=9.5, cjk_px=10.5, mono_px=10.5, line_height=1.2, margin_px=4),
        Density(name="dense", latin_px=7.5, cjk_px=9, mono_px=9.2, line_height=1.15, margin_px=3),
    ]
}
ORDER: tuple[str, ...] = ("dense", "balanced", "exact")


def get_density(name: str) -> Density:
    try:
        return DENSITIES[name]
    except KeyError:
        raise RouterError(f"unknown density {name!r}; known: {', '.join(ORDER)}") from None
