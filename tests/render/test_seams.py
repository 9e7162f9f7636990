"""Columns of flowing text end at a seam between touching lines where no blank row is near: every mark
goes with its own line, and columns are filled to their height."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from router.fidelity.readback import check
from router.providers.geometry import get_profile
from router.render import flow, markup
from router.render.chunks import RenderTarget, render_text
from router.render.cuts import SEAM_LEVEL, find_seam
from router.render.density import get_density
from router.render.pages import PAPER_LEVEL, darkest

GPL = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")


def test_a_seam_runs_under_the_line_above_and_over_the_dot_below() -> None:
    """The highest path: under a descender hanging from above, over an ``i``'s dot standing free below
    (a path kept near the middle went between the dot and its stem: "in" read "ın")."""
    band = np.full((5, 12), 255, dtype=np.uint8)
    band[0:3, 2] = 0  # a descender of the line above, three rows deep
    band[2, 7] = 0  # the dot of an i on the line below, its stem under the band
    band[4, 7] = 0
    rows = find_seam(band, 100)
    assert rows is not None
    assert rows[2] == 103  # under the descender
    assert rows[7] <= 101  # over the dot
    assert all(band[r - 100, x] >= SEAM_LEVEL for x, r in enumerate(rows))  # through blank pixels only
    assert all(abs(int(a) - int(b)) <= 1 for a, b in itertools.pairwise(rows))


def test_no_seam_where_every_path_crosses_a_stroke() -> None:
    band = np.full((4, 8), 255, dtype=np.uint8)
    band[:, 3] = 0  # a stroke through every row
    assert find_seam(band, 0, most_ink=100) is None
    band[1, 3] = 200  # a fringe pixel: 24 of ink to cross
    assert find_seam(band, 0, most_ink=100) is not None


def _strip(text: str, family: str) -> tuple[flow._Strip, int]:
    density = get_density("dense", family)
    profile = get_profile(family)
    setting = density.latin
    css = markup.base_css(setting.em_px, setting.line_height)
    _, column_px = flow.flow_columns(density, profile, tables=False)
    column_height = profile.page_height - 2 * density.margin_px
    strip, _ = flow._flow_strip(
        markup.prose_html(text), css, column_px, 100 * column_height, column_height, column_height, grayscale=True
    )
    return strip, column_height


def test_pieces_cut_at_seams_hold_every_mark_once_and_fill_their_columns() -> None:
    """The GPL at Claude's `dense` 8 px / 1.0, where lines touch: pieces that end at a seam take the
    pixels above it and the next piece those below, so the pieces hold every marked pixel of the strip
    exactly once; each full column is filled to within a line of its height (columns ended up to 12%
    short at blank rows alone)."""
    strip, column_height = _strip(GPL[:60_000], "anthropic")
    pieces = strip.cut(2, column_height)
    assert strip.seams, "no piece ended at a seam"
    width = strip.segments[0].shape[1]
    drawn = sum(int((darkest(strip.piece(a, b, width, None)) < PAPER_LEVEL).sum()) for a, b in pieces)
    assert drawn == int((darkest(strip.rows(0, strip.height, width)) < PAPER_LEVEL).sum())
    line_px = get_density("dense", "anthropic").latin.em_px * get_density("dense", "anthropic").latin.line_height
    full = pieces[:-2]  # the last page's columns share what is left
    heights = [strip.piece(a, b, width, None).shape[0] for a, b in full]
    assert all(column_height - 2 * line_px <= h <= column_height for h in heights), heights


def test_prose_cut_at_seams_reads_back_at_its_bar() -> None:
    """Two pages of the GPL at Claude's `dense`, its columns ending at seams, read back at the bar:
    no line loses a descender, a dot or an accent to the next column."""
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    text = GPL[:45_000]
    rendering = render_text(text, "prose", "latin", None, target)
    assert len(rendering.pages) >= 2
    assert check(text, "prose", "latin", rendering, target.profile).char_accuracy >= 0.98
