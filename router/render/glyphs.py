"""Which characters the pages can show: the shipped fonts (FiraGO, Cascadia Mono) and MuPDF's fallback
fonts (Noto for most scripts, CJK, symbols) have a glyph for them. A character none of them has is
drawn as a box, so the completeness check leaves it out of the laid-out text and sends it beside the
pages as text (a few), or the chunk as text (many)."""

from __future__ import annotations

import functools

import pymupdf

__all__ = ["drawn_only", "has_glyph", "undrawn"]

# Scripts a character shared between scripts (the prolonged sound mark ー, CJK punctuation) takes
# from the text around it, and whose fallback fonts MuPDF then draws it with.
_CONTEXT_SCRIPTS = ("HAN", "HANGUL", "HIRAGANA", "KATAKANA", "BOPOMOFO")


@functools.lru_cache(maxsize=1 << 16)
def has_glyph(ch: str) -> bool:
    """Whether MuPDF draws ``ch`` with a glyph of its own (not a box) in either layout's font."""
    if ch.isascii():
        return True
    mupdf = pymupdf.mupdf
    sans, mono = _fonts()
    if mupdf.fz_encode_character(mono.this, ord(ch)):
        return True
    scripts = [0, *(getattr(mupdf, f"UCDN_SCRIPT_{name}") for name in _CONTEXT_SCRIPTS)]  # 0: the character's own
    return any(mupdf.fz_encode_character_with_fallback(sans.this, ord(ch), script, 0)[0] for script in scripts)


def undrawn(text: str) -> set[str]:
    """The characters of ``text`` that no font draws."""
    return set() if text.isascii() else {ch for ch in set(text) if not has_glyph(ch)}


def drawn_only(text: str) -> str:
    """``text`` without the characters no font draws.

    The text device reports each character the layout placed, drawn or not: one drawn as a box must
    be missing from the text the completeness check reads."""
    missing = undrawn(text)
    return text.translate(dict.fromkeys(map(ord, missing))) if missing else text


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[pymupdf.Font, pymupdf.Font]:
    return pymupdf.Font("figo"), pymupdf.Font("cascadia")  # the fonts ``markup.fonts`` draws with
