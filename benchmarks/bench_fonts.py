"""Monospace fonts at small sizes: which one packs the most code into an image token and still reads back.

    python benchmarks/bench_fonts.py [--out benchmarks/results] [--encoders anthropic,openai-tile]
                                     [--ems 9,10,11,12,13] [--line-heights 1.0,1.1]

Draws four monospace samples (the calibration corpus's Python, the first 1k o200k tokens of
CPython's argparse, of litellm's price map as JSON and of dpkg's log where the machine has one) with
each monospace font the machine has (the four in pymupdf-fonts and Debian's DejaVu Sans Mono) at
every em and line height, exactly as the router draws them (the same wrapping, packing and PNGs;
only the font and its advance change), reads every page back with RapidOCR at the provider's
resolution, and reports per font and setting the mean character accuracy, the worst sample, and
characters per image token. The winner per family is the setting with the most characters per
token whose mean reaches the ``dense`` bar (98%). Writes ``bench_fonts.json`` and ``bench_fonts.md``
under ``--out``. A font whose ligatures draw other characters than the source (Space Mono draws
``->`` as an arrow) fails the completeness check and is reported as refused.

The router ships one monospace font; this benchmark swaps it for the run only (``_drawn_with``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import statistics
from collections.abc import Iterator
from pathlib import Path

import pymupdf

from router.density_names import THRESHOLDS
from router.errors import IncompleteRenderError
from router.fidelity.engines import engine_version
from router.fidelity.readback import check
from router.providers.geometry import get_profile
from router.render import lines, markup, mono
from router.render.chunks import RenderTarget, _render
from router.render.density import Typesetting, get_density
from router.tools.bench import machine
from router.tools.bench_lengths import cut_to_tokens, long_documents
from router.tools.calibrate import corpus

ROOT = Path(__file__).resolve().parent.parent
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# name: (regular, bold, advance in em); pymupdf-fonts names, or a file under DEJAVU
FONTS: dict[str, tuple[str, str, float]] = {
    "Fira Mono": ("fimo", "fimbo", 0.6),
    "Ubuntu Mono": ("ubuntm", "ubuntmbo", 0.5),
    "Cascadia Mono (shipped)": ("cascadia", "cascadiab", 0.5859375),
    "Space Mono": ("spacemo", "spacembo", 0.612),
    "DejaVu Sans Mono": ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", 0.60205078125),
}


def _font_css(regular: str, bold: str) -> tuple[pymupdf.Archive, str]:
    archive = pymupdf.Archive()
    css = pymupdf.css_for_pymupdf_font("figo", CSS=None, archive=archive, name="sans")
    css = pymupdf.css_for_pymupdf_font("figbo", CSS=css, archive=archive, name="sans")
    if regular.endswith(".ttf"):
        archive.add(str(DEJAVU))
        css += f"@font-face {{font-family: mono; src: url({regular});}}\n"
        css += f"@font-face {{font-family: mono; src: url({bold}); font-weight: bold;}}\n"
        return archive, css
    css = pymupdf.css_for_pymupdf_font(regular, CSS=css, archive=archive, name="mono")
    return archive, pymupdf.css_for_pymupdf_font(bold, CSS=css, archive=archive, name="mono")


@contextlib.contextmanager
def _drawn_with(font: str) -> Iterator[None]:
    """Code drawn in ``font`` for the duration: the font the HTML names and the advance the wrapping
    and packing measure with. Restored after."""
    regular, bold, advance = FONTS[font]
    saved = (markup.fonts, lines.MONO_ADVANCE_EM, lines.INDENT_ADVANCE_EM, mono.MONO_ADVANCE_EM, mono._MARKER_EM)
    markup.fonts = functools.lru_cache(maxsize=1)(lambda: _font_css(regular, bold))  # type: ignore[assignment]
    lines.MONO_ADVANCE_EM = mono.MONO_ADVANCE_EM = advance  # type: ignore[misc]
    lines.INDENT_ADVANCE_EM = lines.INDENT_SCALE * advance  # type: ignore[misc]
    mono._MARKER_EM = lines.width_em_of(lines.CONTINUATION)
    try:
        yield
    finally:
        markup.fonts, lines.MONO_ADVANCE_EM, lines.INDENT_ADVANCE_EM, mono.MONO_ADVANCE_EM, mono._MARKER_EM = saved  # type: ignore[misc]


def samples() -> list[tuple[str, str, str, str | None]]:
    """(name, text, kind, language) of the code samples: the calibration's Python, then the first 1k
    tokens of CPython's stdlib, of litellm's price map as JSON and of dpkg's log (where it is here)."""
    found = [("calibration.py", corpus()["mono"][0].text, "code", "python")]
    for document in long_documents()[0]:
        if document.name in ("stdlib-code", "litellm-prices-json", "dpkg-log"):
            found.append((document.name, cut_to_tokens(document.text, 1000), document.kind, document.language))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--encoders", default="anthropic,openai-tile")
    parser.add_argument("--ems", default="9,10,11,12,13")
    parser.add_argument("--line-heights", default="1.0,1.1")
    args = parser.parse_args()
    ems = [float(x) for x in args.ems.split(",")]
    heights = [float(x) for x in args.line_heights.split(",")]
    fonts = [f for f, (regular, _, _) in FONTS.items() if not regular.endswith(".ttf") or (DEJAVU / regular).exists()]
    cases = samples()
    names = [name for name, *_ in cases]  # per-sample accuracies: a refused font has none
    rows = []
    for encoder in args.encoders.split(","):
        profile = get_profile(encoder)
        base = get_density("dense", encoder)
        for font in fonts:
            with _drawn_with(font):
                for height in heights:
                    for em in ems:
                        setting = Typesetting(em_px=em, line_height=height)
                        density = base.model_copy(update={"mono": setting, "logs": setting})
                        target = RenderTarget(profile, density)
                        accuracies, tokens, chars, refused = [], 0, 0, ""
                        for _name, text, kind, language in cases:
                            try:
                                drawn = _render(text.strip("\n"), kind, "latin", language, target)
                            except IncompleteRenderError as exc:  # ligatures that draw other characters
                                refused = str(exc)
                                break
                            accuracies.append(check(text, kind, "latin", drawn, profile).char_accuracy)
                            tokens += drawn.image_tokens
                            chars += len(text)
                        row = {"encoder": encoder, "font": font, "em_px": em, "line_height": height,
                               "accuracy": round(statistics.mean(accuracies), 5) if not refused else 0.0,
                               "worst": min(accuracies) if not refused else 0.0, "refused": refused,
                               "chars_per_token": round(chars / tokens, 3) if not refused else 0.0,
                               "image_tokens": tokens,
                               "samples": dict(zip(names, accuracies, strict=False))}  # fmt: skip
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    bar = THRESHOLDS["dense"]
    report = ["# Monospace fonts at small sizes", "",
              f"Generated on {datetime.date.today()}: {machine()}. {engine_version('rapidocr')}; samples: "
              + ", ".join(name for name, *_ in cases) + f"; bar: mean ≥ {bar:.0%} (`dense`).", ""]  # fmt: skip
    for encoder in args.encoders.split(","):
        mine = [r for r in rows if r["encoder"] == encoder]
        report += [f"**{encoder}** (mean read-back / worst sample, chars per image token)", "",
                   "| font | " + " | ".join(f"{em:g} px / {h:g}" for h in heights for em in ems) + " |",
                   "|---|" + "---:|" * (len(ems) * len(heights))]  # fmt: skip
        for font in fonts:
            cells = []
            for height in heights:
                for em in ems:
                    r = next(r for r in mine if r["font"] == font and r["em_px"] == em and r["line_height"] == height)
                    mark = "**" if r["accuracy"] >= bar else ""
                    cells.append(f"{mark}{r['accuracy']:.1%}{mark} / {r['worst']:.1%}, {r['chars_per_token']:.2f}"
                                 if not r["refused"]
                                 else "refused: " + r["refused"].split(":", 1)[-1][-60:])  # fmt: skip
            report.append(f"| {font} | " + " | ".join(cells) + " |")
        passing = [r for r in mine if r["accuracy"] >= bar]
        best = max(passing, key=lambda r: r["chars_per_token"], default=None)
        report += ["", f"Winner on {encoder}: " + (
            f"{best['font']} at {best['em_px']:g} px / {best['line_height']:g} "
            f"({best['accuracy']:.2%}, {best['chars_per_token']:.2f} chars per token)" if best
            else "none reaches the bar") , ""]  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_fonts.json").write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1) + "\n")
    (args.out / "bench_fonts.md").write_text("\n".join(report) + "\n")
    print("\n".join(report))


if __name__ == "__main__":
    main()
