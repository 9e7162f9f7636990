"""The text MuPDF reports it placed on a laid-out page, with what its extraction gets wrong put back.

The completeness check compares this text with the source (``router.render.completeness``), so a
letter the extraction misreports would look like a letter the page lost.
"""

from __future__ import annotations

import functools
import html
import io
import unicodedata

import pymupdf

from router.render import markup

__all__ = ["laid_out_pdf", "repair_extracted"]


def repair_extracted(text: str) -> str:
    """Laid-out text with the characters MuPDF misreads from the fonts' glyphs put back: FiraGO's
    ligatures, and Cascadia Mono's box drawing."""
    if not text.isascii():
        text = text.translate(_monospace_misreadings())
    for misread, letters in _ligature_misreadings():
        text = text.replace(misread, letters)
    return text


@functools.lru_cache(maxsize=1)
def _monospace_misreadings() -> dict[int, str]:
    """Cascadia Mono's box-drawing and block glyphs come back from MuPDF's text extraction as Bengali
    and Devanagari letters (``├──`` reads ``\u09b5থথ``), so every monospace chunk with a tree or a
    ruled terminal table failed the completeness check and went as text. Each printable character the
    font draws beyond ASCII is laid out once and read back (1,700 of them, 0.16 s): what comes back
    as another single character is mapped to the one drawn (161 of them)."""
    font = pymupdf.Font("cascadia")  # the font ``markup.fonts`` draws "mono" with
    drawn = [chr(c) for c in font.valid_codepoints() if c > 0x7E and chr(c).isprintable()]
    drawn = [ch for ch in drawn if not unicodedata.category(ch).startswith("M")]  # marks join the x before
    body = '<div class="m">' + "\n".join(f"{i}:x{html.escape(ch)}x" for i, ch in enumerate(drawn)) + "</div>"
    lines = _laid_out_text(body, markup.base_css(10, 1.2), len(drawn) * 13)
    found: dict[int, str] = {}
    for line in lines:
        number, _, read = line.partition(":x")
        if number.isdigit() and int(number) < len(drawn) and len(read) == 2 and read.endswith("x"):
            ch = drawn[int(number)]
            if read[0] != ch and unicodedata.normalize("NFKC", read[0]) != unicodedata.normalize("NFKC", ch):
                found[ord(read[0])] = ch
    return found


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
    _, css = markup.fonts()
    lines = _laid_out_text(body, css + "body {font-family: sans; font-size: 10px;}", 20 * len(cases))
    found = set()
    for line in lines:
        number, _, read = line.partition(":x")
        probe = cases[int(number)][1] if number.isdigit() and int(number) < len(cases) else None
        if probe and read.endswith("x") and unicodedata.normalize("NFKC", read[:-1]) != probe:
            found.add((read[:-1], probe))
    return tuple(sorted(found, key=lambda pair: -len(pair[0])))


def _laid_out_text(body: str, css: str, height: float) -> list[str]:
    """The lines MuPDF's text extraction reads from ``body`` laid out on one page ``height`` tall."""
    with pymupdf.open("pdf", laid_out_pdf(body, css, 400, height)) as doc:
        return str(doc[0].get_text("text")).split("\n")


def laid_out_pdf(body: str, css: str, width: float, height: float) -> bytes:
    """``body`` laid out with the shipped fonts on one PDF page of ``width`` x ``height``."""
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=body, user_css=css, archive=archive)
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    box = pymupdf.Rect(0, 0, width, height)
    device = writer.begin_page(box)
    story.place(box)
    story.draw(device)
    writer.end_page()
    writer.close()
    return out.getvalue()
