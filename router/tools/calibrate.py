"""``hcr calibrate``: sweep glyph sizes and line heights, read every page back, choose the densities.

For each encoder family and class of text (``latin``, ``table``, ``data`` (JSON), ``cjk``, ``mono``, ``logs``), fixed
calibration samples (``router.tools.calibration_samples``) are rendered at every em and line height of
the sweep, read back by OCR at the resolution the provider sees, and scored; then each family's
settings per class are chosen per density by ``router.tools.calibration_rule``. Each family's
samples are drawn on its own pages; families whose pages come out pixel for pixel the same and are
resized alike (gpt-4o's tile families) share one read-back and differ only in what the pages cost.
The table is JSON, written where ``--out`` says; ``router/render/calibration.json`` is the one the
package ships and reads.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from router.density_names import THRESHOLDS
from router.errors import FidelityError, RenderError
from router.fidelity.engines import engine_version
from router.fidelity.readback import check
from router.models import ReadBack, Rendering
from router.providers.geometry import PROFILES, EncoderProfile, get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import DENSITIES, TEXT_CLASSES, Density, TextClass, Typesetting
from router.tools.calibration_rule import PLATEAU_SLACK, Measurement, choose
from router.tools.calibration_samples import Sample, corpus

__all__ = ["DEFAULT_SWEEP", "PROPORTIONAL", "Sweep", "calibrate", "measure", "rechoose", "steps", "swept"]


class Sweep(BaseModel):
    em_px: dict[TextClass, list[float]]
    line_heights: list[float]

    def settings(self, text_class: TextClass) -> list[Typesetting]:
        """The settings measured for ``text_class``: code in both of its faces (``PROPORTIONAL``),
        FiraGO at whole pixels per em only (see ``DEFAULT_SWEEP``)."""
        return [
            Typesetting(em_px=em, line_height=line_height, proportional=proportional)
            for proportional in PROPORTIONAL.get(text_class, (False,))
            for line_height in self.line_heights
            for em in self.em_px[text_class]
            if not (proportional and em % 1)
        ]

    def size(self, classes: Sequence[TextClass]) -> int:
        return sum(len(self.settings(c)) for c in classes)


# Code is measured in both faces. At `dense` they compete, and FiraGO's narrower letters pack more
# characters into a token at its bar (1k tokens of the stdlib read 98.5% at 10 px / 1.2 on Claude's
# pages in FiraGO, 98.1% in cells; 20k tokens went from 1.41x to 1.76x). Above it, cells only: each
# setting held to the next larger em's read, FiraGO's Python holds 99.5% at the top of the sweep only
# (14 px / 1.2 on gpt-4o's and gpt-4.1-mini's pages, held to no larger em), which set Python's
# plateau over the bar for both faces and drew `balanced` code on gpt-4.1-mini's pages at 14 px.
# Logs likewise since 2026-12-03 (evening): dpkg's log in FiraGO at 10 px / 1.1 read 99.54% on Claude's
# pages where its cells at 10.5 / 1.1 read 99.24%, with 10% more text to a token at 20k tokens. The
# class's traceback sample stays in cells at the setting measured, so a FiraGO row is held to it too.
PROPORTIONAL: dict[TextClass, tuple[bool, ...]] = {"mono": (False, True), "logs": (False, True)}


# FiraGO (prose, tables, JSON and, since 2026-12-03, code in it) is swept at whole pixels per em only. At
# half-pixel ems its stems fall between pixels and the engine misreads letters its neighbours read
# (8.5 px: `l` as `t`; 7.5 px: `bedrock` as `bedirock`): in the 2026-12-01 table, 62-77% of its
# half-pixel settings read more than 0.2 points under the mean of the two whole ems around them,
# against 0-19% of its whole ems under theirs, and litellm's price table read 98.5% at 7 px, 97.4% at
# 7.5 and 99.8% at 8 on Claude's pages. Cascadia Mono (logs, code in cells) dips far less (its
# half-pixel ems read 0.02-0.25 points over their neighbours' mean) and keeps its half pixels.
DEFAULT_SWEEP = Sweep(
    em_px={
        "latin": [6, 7, 8, 9, 10, 11, 12, 13],
        "table": [7, 8, 9, 10, 11, 12, 13],
        "data": [8, 9, 10, 11, 12, 13],
        "cjk": [7, 8, 9, 10, 11, 12, 13, 14],
        "mono": [8, 9, 9.5, 10, 10.5, 11, 12, 13, 14],
        "logs": [8, 9, 9.5, 10, 10.5, 11, 12, 13, 14],
    },
    line_heights=[1.0, 1.1, 1.2, 1.3],
)


_MEASUREMENTS = TypeAdapter(list[Measurement])


def steps(encoders: Sequence[str], classes: Sequence[TextClass] = TEXT_CLASSES, sweep: Sweep = DEFAULT_SWEEP) -> int:
    """How many family-settings ``measure`` will report through ``on_step``."""
    return len(encoders) * sweep.size(classes)


def measure(
    encoders: Sequence[str],
    classes: Sequence[TextClass] = TEXT_CLASSES,
    sweep: Sweep = DEFAULT_SWEEP,
    *,
    engine: str = "rapidocr",
    on_step: Callable[[str], None] | None = None,
) -> list[Measurement]:
    """Render every sweep setting on each family's own pages, and read each distinct set of pixels
    back once: families (and settings) whose pages come out identical and are resized alike share a
    read-back.

    Each family draws its own pages: Claude and Gemini 2 both draw 768x1536 pages, but Gemini 2 keeps
    4-px margins beside the text (Claude 1 px), may draw monospace pages two or three tiles wide, and
    plans columns to fill whole tiles, so its rows measured on Claude's pages were measured on pages
    it never draws. Rendering costs milliseconds a page; the OCR, seconds, is what is shared."""
    samples = corpus()
    profiles = [get_profile(name) for name in encoders]
    results: list[Measurement] = []
    # Per sample and pixels seen. Across settings too: code's JSON sample is drawn in cells in both faces.
    reads: dict[tuple[str, tuple[Any, ...]], ReadBack] = {}
    for text_class in classes:
        for setting in sweep.settings(text_class):
            at = f"{text_class} {setting.em_px:g} px x {setting.line_height:g}"
            at += " in FiraGO" if setting.proportional else ""
            density = _probe_density(text_class, setting)
            for profile in profiles:
                try:
                    target = RenderTarget(profile, density)
                    drawn = [
                        (sample, render_text(sample.text, sample.kind, sample.script, sample.language, target))
                        for sample in samples[text_class]
                    ]
                except RenderError as exc:  # the router would send such a chunk as text: not a candidate
                    if on_step:
                        on_step(f"{profile.name}: {at} not drawn: {exc}")
                    continue
                read = []
                for sample, rendering in drawn:
                    key = (sample.name, _seen(rendering, profile))
                    if key not in reads:
                        reads[key] = check(sample.text, sample.kind, sample.script, rendering, profile, engine=engine)
                    read.append((sample, rendering, reads[key]))
                results.append(_measurement(profile, text_class, setting, read))
                if on_step:
                    on_step(f"{profile.name}: {at} -> {min(r.char_accuracy for _, _, r in read):.2%}")
    return results


def _seen(rendering: Rendering, profile: EncoderProfile) -> tuple[Any, ...]:
    """What the OCR is given: each page's pixels, the size the provider resizes it to, its gutters."""
    return tuple(
        (hashlib.sha256(page.png).digest(), profile.visible_size(page.width, page.height), page.gutters)
        for page in rendering.pages
    )


def _measurement(
    profile: EncoderProfile,
    text_class: TextClass,
    setting: Typesetting,
    read: Sequence[tuple[Sample, Rendering, ReadBack]],
) -> Measurement:
    """One setting's result over the class's samples: the worst sample's read-back, all samples' cost."""
    pages = [page for _, rendering, _ in read for page in rendering.pages]
    chars = sum(len(sample.text) for sample, _, _ in read)
    # Characters per token on full pages: what a long document gets, free of the rounding of one
    # short sample's last page (a whole tile on tile-billed families).
    rate = chars * profile.pixels_per_token / sum(p.width * p.height for p in pages)
    return Measurement(
        encoder=profile.name, text_class=text_class, em_px=setting.em_px, line_height=setting.line_height,
        proportional=setting.proportional,
        accuracy=min(r.char_accuracy for _, _, r in read), word_accuracy=min(r.word_accuracy for _, _, r in read),
        identifier_recall=min(r.identifier_recall for _, _, r in read), pages=len(pages),
        image_tokens=sum(profile.image_tokens(p.width, p.height) for p in pages), chars=chars,
        chars_per_token=round(rate, 3), ocr_ms=round(sum(r.ocr_ms for _, _, r in read), 1),
        samples={sample.name: r.char_accuracy for sample, _, r in read},
    )  # fmt: skip


def rechoose(out: Path) -> dict[str, Any]:
    """Choose again from the measurements stored in ``out`` (after a change to the rules); no OCR."""
    table, measurements = _load(out)
    if not measurements:
        raise FidelityError(f"{out}: no measurements to choose from; run hcr calibrate first")
    table["encoders"] = choose(measurements)
    table["plateau_slack"] = PLATEAU_SLACK
    table["thresholds"] = THRESHOLDS
    out.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
    return table


def _load(out: Path) -> tuple[dict[str, Any], list[Measurement]]:
    """The table in ``out`` and its measurements, each checked: a hand-edited one is named, not a KeyError."""
    if not out.exists():
        return {}, []
    try:
        table = json.loads(out.read_text(encoding="utf-8"))
        return table, _MEASUREMENTS.validate_python(table.get("measurements", []))
    except json.JSONDecodeError as exc:
        raise FidelityError(f"{out}: not a calibration table ({exc})") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise FidelityError(f"{out}: measurements{where}: {error['msg']}") from exc


def calibrate(
    out: Path,
    encoders: Sequence[str] | None = None,
    classes: Sequence[TextClass] = TEXT_CLASSES,
    sweep: Sweep = DEFAULT_SWEEP,
    *,
    engine: str = "rapidocr",
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure, choose and write the table to ``out``.

    Measurements already in ``out`` of settings this run does not measure are kept, and each family
    and class measured is chosen again from all of its settings: a run with a few ``--ems`` adds to
    the sweep rather than replacing it."""
    names = list(encoders or PROFILES)
    measurements = measure(names, classes, sweep, engine=engine, on_step=on_step)
    table, earlier = _load(out)
    fresh = {_setting(m): m for m in measurements}
    stored = [fresh.pop(_setting(m), m) for m in earlier] + list(fresh.values())  # in place: small diffs
    chosen = choose([m for m in stored if (m.encoder, m.text_class) in _keys(measurements)])
    encoders_table = table.get("encoders", {})
    for encoder, densities in chosen.items():
        merged = encoders_table.get(encoder, {})
        for density, settings in densities.items():
            merged.setdefault(density, {}).update(settings)
        encoders_table[encoder] = merged
    table.update(
        {
            "engine": engine_version(engine),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
            "thresholds": THRESHOLDS,
            "plateau_slack": PLATEAU_SLACK,
            "sweep": swept(stored),
            "encoders": encoders_table,
            "measurements": [m.model_dump() for m in stored],
        }
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, ensure_ascii=False, indent=1), encoding="utf-8")
    return table


def swept(measurements: Sequence[Measurement]) -> dict[str, dict[str, list[float]]]:
    """Per class, the ems and line heights the stored measurements cover: a table merged from runs
    with different sweeps says what each class was measured at, not what the last run swept."""
    out: dict[str, dict[str, set[Any]]] = {}
    for m in measurements:
        seen = out.setdefault(m.text_class, {"em_px": set(), "line_heights": set()})
        seen["em_px"].add(m.em_px)
        seen["line_heights"].add(m.line_height)
        seen.setdefault("proportional", set()).add(m.proportional)
    return {c: {axis: sorted(values) for axis, values in axes.items()} for c, axes in out.items()}


def _keys(measurements: Sequence[Measurement]) -> set[tuple[str, str]]:
    return {(m.encoder, m.text_class) for m in measurements}


def _setting(m: Measurement) -> tuple[str, str, float, float, bool]:
    return m.encoder, m.text_class, m.em_px, m.line_height, m.proportional


def _probe_density(text_class: TextClass, setting: Typesetting) -> Density:
    """The balanced density (every density draws its margins) with one class's setting swept."""
    return DENSITIES["balanced"].model_copy(update={text_class: setting})
