"""The named densities, spelled once: policies, the request API and every CLI option read them here.

A module of its own, free of heavy imports, so ``hcr --help`` can offer them without loading the
renderer. What each density sets per encoder family is ``router.render.density``.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["DENSITY_NAMES", "THRESHOLDS", "DensityName"]

DensityName = Literal["dense", "balanced", "exact"]
DENSITY_NAMES: tuple[str, ...] = get_args(DensityName)  # from the smallest glyphs to the largest
# Character accuracy each density must reach on read-back (RapidOCR, provider-visible pixels).
THRESHOLDS: dict[str, float] = {"dense": 0.98, "balanced": 0.995, "exact": 0.998}
