"""Fonts at small sizes: which one packs the most text into an image token and still reads back.

    python benchmarks/bench_fonts.py [--out benchmarks/results] [--encoders anthropic,openai-tile]
                                     [--ems 9,10,11,12,13] [--line-heights 1.0,1.1]
    python benchmarks/bench_fonts.py --prose [--encoders anthropic] [--ems 7,8] [--line-heights 1.1]

Draws four monospace samples (the calibration corpus's Python, the first 1k o200k tokens of
CPython's argparse, of litellm's price map as JSON and of dpkg's log where the machine has one) with
each monospace font the machine has (the four in pymupdf-fonts and Debian's DejaVu Sans Mono), and
as shipped (code in FiraGO, logs and JSON with comments in Cascadia Mono), at every em and line
height, exactly as the router draws them (the same wrapping, packing and PNGs; only the font and its
advance change), reads every page back with RapidOCR at the provider's
resolution, and reports per font and setting the mean character accuracy, the worst sample, and
characters per image token. The winner per family is the setting with the most characters per
token whose mean reaches the ``dense`` bar (98%). Writes ``bench_fonts.json`` and ``bench_fonts.md``
under ``--out``. A font whose ligatures draw other characters than the source (Space Mono draws
``->`` as an arrow) fails the completeness check and is reported as refused.

With ``--prose`` the same for the proportional font of prose and tables: the calibration's two Latin
samples (a release checklist in markdown, with a table, and the Language Reference's running prose)
and the first 1k tokens of Debian's licences, drawn with each proportional font the machine has
(FiraGO, Noto Sans and Ubuntu from pymupdf-fonts, Debian's DejaVu Sans and DejaVu Sans Condensed);
written to ``bench_fonts_prose.json`` and ``bench_fonts_prose.md``.

The router ships one font of each; this benchmark swaps it for the run only (``_drawn_with``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import functools
import json
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
from pydantic import BaseModel

from router.density_names import THRESHOLDS
from router.errors import IncompleteRenderError
from router.fidelity.engines import engine_version
from router.fidelity.readback import check
from router.kinds import KINDS
from router.models import Kind
from router.providers.geometry import get_profile
from router.render import lines, markup, mono, tables
from router.render.chunks import RenderTarget, _render
from router.render.density import Typesetting, get_density
from router.tools.bench import machine
from router.tools.bench_lengths import cut_to_tokens, long_documents
from router.tools.calibration_samples import corpus

ROOT = Path(__file__).resolve().parent.parent
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# name: (regular, bold, advance in em); pymupdf-fonts names, or a file under DEJAVU
FONTS: dict[str, tuple[str, str, float]] = {
    "Fira Mono": ("fimo", "fimbo", 0.6),
    "Ubuntu Mono": ("ubuntm", "ubuntmbo", 0.5),
    "Cascadia Mono (shipped: logs)": ("cascadia", "cascadiab", 0.5859375),
    "Space Mono": ("spacemo", "spacembo", 0.612),
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", 0.60205078125),
}
# name: (regular, bold); proportional, so no advance: MuPDF lays the text out with the font itself
PROSE_FONTS: dict[str, tuple[str, str]] = {
    "FiraGO (shipped)": ("figo", "figbo"),
    "Noto Sans": ("notos", "notosbo"),
    "Ubuntu": ("ubuntu", "ubuntubo"),
    "DejaVu Sans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
    "DejaVu Sans Condensed": ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
}
SHIPPED_SANS = PROSE_FONTS["FiraGO (shipped)"]
SHIPPED_MONO = FONTS["Cascadia Mono (shipped: logs)"][:2]
# Code, HTML source and config are drawn in the prose font since 2026-12-03 (``router.render.lines``):
# measured beside the monospace fonts as the router draws them, nothing swapped.
PROPORTIONAL_CODE = "FiraGO, proportional (shipped: code)"
FONTS[PROPORTIONAL_CODE] = ("figo", "figbo", 0.0)


class Case(BaseModel):
    """One sample: what is drawn, as what kind of text."""

    name: str
    text: str
    kind: Kind
    language: str | None = None


def _face(css: str, archive: pymupdf.Archive, font: str, family: str, bold: bool = False) -> str:
    if font.endswith(".ttf"):
        archive.add(str(DEJAVU))
        weight = " font-weight: bold;" if bold else ""
        return css + f"@font-face {{font-family: {family}; src: url({font});{weight}}}\n"
    return pymupdf.css_for_pymupdf_font(font, CSS=css, archive=archive, name=family)


def _font_css(sans: tuple[str, str], mono_font: tuple[str, str]) -> tuple[pymupdf.Archive, str]:
    archive = pymupdf.Archive()
    css = _face("", archive, sans[0], "sans")
    css = _face(css, archive, sans[1], "sans", bold=True)
    css = _face(css, archive, mono_font[0], "mono")
    return archive, _face(css, archive, mono_font[1], "mono", bold=True)


def _font(name: str) -> pymupdf.Font:
    return pymupdf.Font(fontfile=str(DEJAVU / name)) if name.endswith(".ttf") else pymupdf.Font(name)


@contextlib.contextmanager
def _drawn_with(font: str) -> Iterator[None]:
    """Text drawn in ``font`` for the duration: the font the HTML names, the advance the wrapping and
    packing measure monospace text with and the advances table columns are sized with (proportional);
    pages are drawn without a PDF, so no extraction has ligatures to repair. Code is drawn in cells (it is
    drawn in FiraGO where ``font`` is ``PROPORTIONAL_CODE``, as shipped). Restored after."""
    if font == PROPORTIONAL_CODE:
        yield
        return
    sans, mono_font = (PROSE_FONTS[font], SHIPPED_MONO) if font in PROSE_FONTS else (SHIPPED_SANS, FONTS[font][:2])
    advance = FONTS[font][2] if font in FONTS else FONTS["Cascadia Mono (shipped: logs)"][2]
    saved = (markup.fonts, lines.MONO_ADVANCE_EM, lines.INDENT_ADVANCE_EM, mono.MONO_ADVANCE_EM, mono._MARKER_EM,
             tables._text_font, KINDS.copy())  # fmt: skip
    KINDS.update({name: dataclasses.replace(spec, sans=False) for name, spec in KINDS.items() if spec.sans})
    markup.fonts = functools.lru_cache(maxsize=1)(lambda: _font_css(sans, mono_font))
    tables._text_font = functools.lru_cache(maxsize=1)(lambda: _font(sans[0]))
    lines.MONO_ADVANCE_EM = mono.MONO_ADVANCE_EM = advance
    lines.INDENT_ADVANCE_EM = lines.INDENT_SCALE * advance
    mono._MARKER_EM = lines.width_em_of(lines.CONTINUATION)
    tables._advance.cache_clear()
    try:
        yield
    finally:
        (markup.fonts, lines.MONO_ADVANCE_EM, lines.INDENT_ADVANCE_EM, mono.MONO_ADVANCE_EM, mono._MARKER_EM,
         tables._text_font, kinds) = saved  # fmt: skip
        KINDS.update(kinds)
        tables._advance.cache_clear()


def samples(prose: bool) -> list[Case]:
    """Code: the calibration's Python, then the first 1k tokens of CPython's stdlib, of litellm's price
    map as JSON and of dpkg's log (where it is here). Prose: the calibration's two Latin samples, then
    the first 1k tokens of Debian's licences (where they are here)."""
    if prose:
        found = [Case(name=s.name, text=s.text, kind=s.kind) for s in corpus()["latin"]]
        wanted: tuple[str, ...] = ("licences-prose",)
    else:
        found = [Case(name="calibration.py", text=corpus()["mono"][0].text, kind="code", language="python")]
        wanted = ("stdlib-code", "litellm-prices-json", "dpkg-log")
    for document in long_documents()[0]:
        if document.name in wanted:
            text = cut_to_tokens(document.text, 1000)
            found.append(Case(name=document.name, text=text, kind=document.kind, language=document.language))
    return found


def _here(regular: str) -> bool:
    return not regular.endswith(".ttf") or (DEJAVU / regular).exists()


def measure(encoder: str, font: str, setting: Typesetting, cases: list[Case], prose: bool) -> dict[str, Any]:
    """One font at one setting on one family: every sample drawn as the router draws it and read back."""
    profile = get_profile(encoder)
    classes = {"latin": setting, "table": setting} if prose else {"mono": setting, "logs": setting}
    target = RenderTarget(profile, get_density("dense", encoder).model_copy(update=classes))
    accuracies, tokens, chars, refused = [], 0, 0, ""
    with _drawn_with(font):
        for case in cases:
            try:
                drawn = _render(case.text.strip("\n"), case.kind, "latin", case.language, target)
            except IncompleteRenderError as exc:  # ligatures that draw other characters
                refused = str(exc)
                break
            accuracies.append(check(case.text, case.kind, "latin", drawn, profile).char_accuracy)
            tokens += drawn.image_tokens
            chars += len(case.text)
    return {"encoder": encoder, "font": font, "em_px": setting.em_px, "line_height": setting.line_height,
            "accuracy": round(statistics.mean(accuracies), 5) if not refused else 0.0,
            "worst": min(accuracies) if not refused else 0.0, "refused": refused,
            "chars_per_token": round(chars / tokens, 3) if not refused else 0.0, "image_tokens": tokens,
            "samples": dict(zip([c.name for c in cases], accuracies, strict=False))}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--prose", action="store_true", help="proportional fonts on prose (default: code)")
    parser.add_argument("--encoders", default=None, help="default: anthropic,openai-tile (code), anthropic (prose)")
    parser.add_argument("--ems", default=None, help="default: 9,10,11,12,13 (code), 7,8 (prose)")
    parser.add_argument("--line-heights", default=None, help="default: 1.0,1.1 (code), 1.1 (prose)")
    args = parser.parse_args()
    encoders = (args.encoders or ("anthropic" if args.prose else "anthropic,openai-tile")).split(",")
    ems = [float(x) for x in (args.ems or ("7,8" if args.prose else "9,10,11,12,13")).split(",")]
    heights = [float(x) for x in (args.line_heights or ("1.1" if args.prose else "1.0,1.1")).split(",")]
    fonts = [f for f, (regular, *_) in (PROSE_FONTS if args.prose else FONTS).items() if _here(regular)]
    cases = samples(args.prose)
    # The bar is the mean (code) or, for prose, the worst sample, as calibration holds a class to each sample
    score = "worst" if args.prose else "accuracy"
    rows = []
    for encoder in encoders:
        for font in fonts:
            for height in heights:
                for em in ems:
                    # FiraGO's code is drawn proportional by its typesetting, as the calibration sets it at `dense`
                    setting = Typesetting(em_px=em, line_height=height, proportional=font == PROPORTIONAL_CODE)
                    row = measure(encoder, font, setting, cases, args.prose)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    bar = THRESHOLDS["dense"]
    what = "Proportional fonts for prose" if args.prose else "Monospace fonts"
    report = [f"# {what} at small sizes", "",
              f"Generated on {datetime.date.today()}: {machine()}. {engine_version('rapidocr')}; samples: "
              + ", ".join(c.name for c in cases) + f"; bar: {'worst sample' if args.prose else 'mean'} "
              f"≥ {bar:.0%} (`dense`).", ""]  # fmt: skip
    for encoder in encoders:
        mine = [r for r in rows if r["encoder"] == encoder]
        report += [f"**{encoder}** (mean read-back / worst sample, chars per image token)", "",
                   "| font | " + " | ".join(f"{em:g} px / {h:g}" for h in heights for em in ems) + " |",
                   "|---|" + "---:|" * (len(ems) * len(heights))]  # fmt: skip
        for font in fonts:
            cells = []
            for height in heights:
                for em in ems:
                    r = next(r for r in mine if r["font"] == font and r["em_px"] == em and r["line_height"] == height)
                    mean, worst = (f"{r['accuracy']:.1%}", f"{r['worst']:.1%}")
                    if r[score] >= bar:
                        mean, worst = (mean, f"**{worst}**") if args.prose else (f"**{mean}**", worst)
                    cells.append(f"{mean} / {worst}, {r['chars_per_token']:.2f}"
                                 if not r["refused"]
                                 else "refused: " + str(r["refused"]).split(":", 1)[-1][-60:])  # fmt: skip
            report.append(f"| {font} | " + " | ".join(cells) + " |")
        passing = [r for r in mine if not r["refused"] and r[score] >= bar]
        best = max(passing, key=lambda r: r["chars_per_token"], default=None)
        report += ["", f"Winner on {encoder}: " + (
            f"{best['font']} at {best['em_px']:g} px / {best['line_height']:g} "
            f"({best[score]:.2%}, {best['chars_per_token']:.2f} chars per token)" if best
            else "none reaches the bar") , ""]  # fmt: skip
    stem = "bench_fonts_prose" if args.prose else "bench_fonts"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
