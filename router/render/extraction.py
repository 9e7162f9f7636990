"""The text MuPDF reports it placed on a laid-out page, with what its extraction gets wrong put back.

The completeness check compares this text with the source (``router.render.completeness``), so a
letter the extraction misreports would look like a letter the page lost.
"""

from __future__ import annotations

import functools
import io
import unicodedata

import pymupdf

from router.render import markup

__all__ = ["repair_extracted"]


def repair_extracted(text: str) -> str:
    """Laid-out text with the letters MuPDF misreads from the text font's ligature glyphs put back."""
    for misread, letters in _ligature_misreadings():
        text = text.replace(misread, letters)
    return text


@functools.lru_cache(maxsize=1)
def _ligature_misreadings() -> tuple[tuple[str, str], ...]:
    """FiraGO draws "ft", "ffi" and other f-sequences with ligature glyphs that MuPDF's text extraction
    reports as unrelated code points ("after" reads "aǓter"), and so does a backtick after a capital
    or a backtick (its capital form), and "#&", in code drawn in FiraGO (``router.render.lines``; every
    other pair of printable ASCII extracts as itself: tests/render/test_sans_code.py). Each sequence is
    laid out once, in every style, and read back: what comes back wrong is mapped to the letters drawn."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    probes = sorted({f"f{c}" for c in letters} | {f"ff{c}" for c in "bhijklt"} | {"tt", "Th", "``", "#&"}
                    | {f"{c}`" for c in letters.upper()})  # fmt: skip
    styles = ("{}", "<b>{}</b>", "<i>{}</i>", "<b><i>{}</i></b>")
    cases = [(style, probe) for style in styles for probe in probes]
    body = "".join(f"<p>{i}:" + style.format(f"x{probe}x") + "</p>" for i, (style, probe) in enumerate(cases))
    archive, css = markup.fonts()
    story = pymupdf.Story(html=body, user_css=css + "body {font-family: sans; font-size: 10px;}", archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    box = pymupdf.Rect(0, 0, 400, 20 * len(cases))
    device = writer.begin_page(box)
    story.place(box)
    story.draw(device)
    writer.end_page()
    writer.close()
    with pymupdf.open("pdf", out.getvalue()) as doc:
        lines = doc[0].get_text("text").split("\n")
    found = set()
    for line in lines:
        number, _, read = line.partition(":x")
        probe = cases[int(number)][1] if number.isdigit() and int(number) < len(cases) else None
        if probe and read.endswith("x") and unicodedata.normalize("NFKC", read[:-1]) != probe:
            found.add((read[:-1], probe))
    return tuple(sorted(found, key=lambda pair: -len(pair[0])))
