"""The rule ``hcr calibrate`` chooses densities by, from the measured settings (``Measurement``).

A setting's accuracy is the lower of its own score and the next larger em's at the same line height,
so one lucky page cannot pick a size that its neighbours fail at. Per density:

- the settings that reach the density's bar (``router.density_names.THRESHOLDS``) compete on characters
  per image token, and the best one wins;
- where none reaches the bar, the engine has plateaued below it (OCR confusions no glyph size
  fixes). ``dense`` and ``balanced`` take the cheapest setting within a slack of the plateau, but
  no smaller than their uncalibrated default em (a plateau cannot tell the sizes on it apart), and
  ``exact``, which asks for fidelity before cost, the largest glyphs within it. Either way the row
  is marked ``reached: false`` so the table says so.

Densities never shrink going from ``dense`` to ``exact``. ``hcr calibrate --rechoose`` runs this rule again on a
stored table's measurements, without any OCR.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

from router.density_names import DENSITY_NAMES, THRESHOLDS
from router.errors import FidelityError
from router.render.density import DENSITIES, TextClass

__all__ = ["PLATEAU_SLACK", "PROPORTIONAL_DENSITIES", "Measurement", "choose"]

# Below the bar, accept settings this close to the best accuracy the engine reached at any size.
PLATEAU_SLACK: dict[str, float] = {"dense": 0.01, "balanced": 0.005, "exact": 0.002}

# The densities where code and logs drawn in FiraGO compete with their cells (``calibrate.PROPORTIONAL``).
PROPORTIONAL_DENSITIES = ("dense",)


class Measurement(BaseModel):
    encoder: str
    text_class: TextClass
    em_px: float
    line_height: float
    proportional: bool = Field(False, description="code drawn in FiraGO (class mono), else in cells")
    accuracy: float = Field(description="character accuracy of the read-back")
    word_accuracy: float
    identifier_recall: float
    pages: int
    image_tokens: int
    chars: int
    chars_per_token: float = Field(description="sample characters per image token, on full pages")
    ocr_ms: float
    samples: dict[str, float] = Field(default_factory=dict, description="character accuracy per sample")


def choose(measurements: Sequence[Measurement]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """Per encoder, density and class: the chosen setting and what it reached.

    Each sample of a class is held to the bar, or where the engine never reads that sample at the
    bar, to its own plateau less the density's slack: JSON, whose lone braces cap it near 99%, does
    not let Python, which reads 99.5% at larger glyphs, go at a size where it reads less."""
    table: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    by_key: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        by_key.setdefault((m.encoder, m.text_class), []).append(m)
    for (encoder, text_class), items in by_key.items():
        named = sorted({tuple(sorted(m.samples)) for m in items})
        if len(named) > 1:  # a table merged by hand from runs on different corpora
            sets = " / ".join(", ".join(names) or "none kept" for names in named)
            raise FidelityError(
                f"{encoder} {text_class}: the measurements name different samples ({sets}); measure the class "
                f"again: hcr calibrate --encoder {encoder} --kinds {text_class}"
            )
        rows = _choose_class(items, text_class)
        cells = [m for m in items if not m.proportional]
        # Kinds that stay in cells (diffs, JSON with comments) where code goes in FiraGO: the best row
        # of the cells alone (gpt-4o's `dense`: 10.5 px / 1.1, not FiraGO's 10 / 1.3)
        in_cells = _choose_class(cells, text_class) if cells and len(cells) < len(items) else {}
        for density, row in rows.items():
            if row["proportional"] and density in in_cells:
                row["cells"] = in_cells[density]
            table.setdefault(encoder, {}).setdefault(density, {})[text_class] = row
    return table


def _choose_class(items: list[Measurement], text_class: str) -> dict[str, dict[str, Any]]:
    """Per density, the setting chosen for one encoder and class from ``items``."""
    rows: dict[str, dict[str, Any]] = {}
    every = _smoothed(items)
    names = list(every[0][1])
    previous: Measurement | None = None
    for density in DENSITY_NAMES:
        bar = THRESHOLDS[density]
        smoothed = [pair for pair in every if density in PROPORTIONAL_DENSITIES or not pair[0].proportional]
        smoothed = smoothed or every  # a table measured in FiraGO only
        plateaus = {name: max(accs[name] for _, accs in smoothed) for name in names}
        required = {name: bar if top >= bar else top - PLATEAU_SLACK[density] for name, top in plateaus.items()}
        # Never smaller glyphs, nor tighter lines of them, than the density below
        allowed = [(m, accs) for m, accs in smoothed if previous is None or _at_least(m, previous)]
        if density != "exact" and any(top < bar for top in plateaus.values()):
            # Below the bar, dense and balanced go no smaller than their default em either. On a
            # plateau the measurement cannot tell the sizes apart (code reads 98.3-98.9% from 10
            # to 14 px, a few characters either way), and the cheapest setting on it gave
            # balanced dense's own glyphs: glyphs under the default are earned by reaching the
            # bar. Exact takes the largest glyphs on the plateau; held to its default too, it drew
            # logs at 14 px, where the bench's logs read no better than at 12 (dpkg's log 99.93%
            # against 100% on Claude's pages) for 25-35% fewer characters per token.
            default_em = getattr(DENSITIES[density], text_class).em_px
            allowed = [pair for pair in allowed if pair[0].em_px >= default_em] or allowed
        pool = [(m, accs) for m, accs in allowed if all(accs[name] >= required[name] for name in names)]
        # Reached: one setting reads every sample at the bar (samples that each reach it at
        # different settings, none at the same one, are not)
        reached = bool(pool) and all(top >= bar for top in plateaus.values())
        if not pool:  # no one setting holds every sample: the one that misses by the least
            pool = [max(allowed, key=lambda pair: min(pair[1][name] - required[name] for name in names))]
        if reached or density != "exact":
            best, accs = max(pool, key=lambda pair: (pair[0].chars_per_token, pair[0].em_px))
        else:  # exact asks for fidelity first: below the bar, the largest glyphs on the plateau
            best, accs = max(pool, key=lambda pair: (pair[0].em_px, pair[0].chars_per_token))
        previous = best
        rows[density] = {
            "em_px": best.em_px,
            "line_height": best.line_height,
            "proportional": best.proportional,
            "accuracy": round(min(accs.values()), 5),
            "identifier_recall": best.identifier_recall,
            "chars_per_token": best.chars_per_token,
            "reached": reached,
            "bar": bar,
            "plateau": round(min(plateaus.values()), 5),
        }
    return rows


def _at_least(m: Measurement, other: Measurement) -> bool:
    """``m`` sets text no smaller than ``other``: the same em or larger, and in the same face lines no
    closer together (gpt-4o's `dense` code in FiraGO at 10 px / 1.3 would have pushed `balanced`
    code in cells from 10.5 px / 1.2 to 11 / 1.3, fewer characters per token for no better reading)."""
    if m.proportional != other.proportional:
        return m.em_px >= other.em_px
    return m.em_px >= other.em_px and m.em_px * m.line_height >= other.em_px * other.line_height


def _smoothed(items: list[Measurement]) -> list[tuple[Measurement, dict[str, float]]]:
    """Each setting with its accuracy per sample, each the lower of its own and the next larger em's
    at the same line height (so one lucky page cannot pick a size its neighbours fail at)."""

    def per_sample(m: Measurement) -> dict[str, float]:
        return m.samples or {"": m.accuracy}  # tables written before samples were kept

    out = []
    for m in items:
        larger = sorted(
            (
                o
                for o in items
                if (o.line_height, o.proportional) == (m.line_height, m.proportional) and o.em_px > m.em_px
            ),
            key=lambda o: o.em_px,
        )
        own = per_sample(m)
        above = per_sample(larger[0]) if larger else own
        out.append((m, {name: min(acc, above.get(name, acc)) for name, acc in own.items()}))
    return out
