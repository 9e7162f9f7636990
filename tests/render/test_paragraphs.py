"""Paragraphs of flowing text: told apart by an indented first line, not by a gap that costs a row."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Typesetting, get_density

SENTENCES = [f"Clause {i}: keep notice {i * 7}." for i in range(30)]  # short lines: kept as they are


def _ink(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L")) < 160


def test_paragraphs_take_no_more_rows_than_the_same_lines_in_one_paragraph() -> None:
    """30 one-line paragraphs and the same 30 lines kept as one paragraph's short lines are drawn the
    same height: a paragraph costs no row. With 0.35 em between paragraphs the page was 267 px tall
    against 206 (Claude's `exact`, two columns)."""
    target = RenderTarget(get_profile("anthropic"), get_density("exact", "anthropic"))
    apart = render_text("\n\n".join(SENTENCES), "prose", "latin", None, target)
    together = render_text("\n".join(SENTENCES), "prose", "latin", None, target)
    assert len(apart.pages) == len(together.pages) == 1
    assert abs(apart.pages[0].height - together.pages[0].height) <= 1, (apart.pages[0].height, together.pages[0].height)


def test_a_paragraph_starts_with_its_first_line_indented() -> None:
    """Each paragraph's first line starts an em right of the lines that continue it, so a reader tells
    paragraphs apart without a gap; the read-back still finds every word (the completeness check)."""
    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
    paragraphs = [p.replace("\n", " ") for p in gpl.split("\n\n")[4:12] if len(p) > 300]
    assert len(paragraphs) >= 3
    # Lines far enough apart that rows of ink tell them apart (no descender touches the next line).
    density = get_density("exact", "anthropic").model_copy(update={"latin": Typesetting(em_px=12, line_height=1.5)})
    target = RenderTarget(get_profile("anthropic"), density)
    page = render_text("\n\n".join(paragraphs), "prose", "latin", None, target).pages[0]
    ink = _ink(page.png)
    indented, flush = 0, 0
    for left, right in zip((0, *page.gutters), (*page.gutters, ink.shape[1]), strict=True):
        column = ink[:, left:right]
        rows = column.any(axis=1)
        # Lines are the runs of inked rows; a line starts where its leftmost ink is.
        edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.astype(int), [0]))))
        starts = [int(np.flatnonzero(column[a:b].any(axis=0))[0]) for a, b in zip(edges[::2], edges[1::2], strict=True)]
        indented += sum(s - min(starts) >= 0.8 * density.latin.em_px for s in starts)
        flush += sum(s - min(starts) <= 2 for s in starts)
    assert indented == len(paragraphs) and flush > indented, (len(paragraphs), indented, flush)
