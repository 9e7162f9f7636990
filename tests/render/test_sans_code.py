"""Code is drawn in FiraGO, measured before it is laid out: the measure must bound what MuPDF draws,
the extraction must give back every character, and a line FiraGO is not measured for keeps its cells."""

from __future__ import annotations

import difflib
import html
import inspect
import math
import textwrap

import pymupdf
import pytest

from router.fidelity.readback import check
from router.providers.geometry import get_profile
from router.render import chunks, markup
from router.render.chunks import RenderTarget, _render
from router.render.density import get_density
from router.render.lines import CONTINUATION, SANS_KERN_AFTER, LineForm, face_of, lines_html, width_em_of, wrap_runs
from router.render.pages import recorded


def _claude(proportional: bool) -> RenderTarget:
    """Claude's dense pages with code in FiraGO or in cells, whichever the calibration chose."""
    density = get_density("dense", "anthropic")
    code = density.mono.model_copy(update={"proportional": proportional})
    return RenderTarget(get_profile("anthropic"), density.model_copy(update={"mono": code}))


SANS, CELLS = _claude(True), _claude(False)
PRINTABLE = [chr(c) for c in range(0x21, 0x7F)]
_EM = 100.0  # laid out large, so positions are exact to far below a pixel at any em drawn


def _laid_out_lines(lines: list[str]) -> list[list[dict[str, object]]]:
    """Each line drawn as code in FiraGO (``markup.base_css``), and its characters as MuPDF placed them."""
    body = '<div class="m s">' + "\n".join(html.escape(line, quote=False) for line in lines) + "</div>"
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=body, user_css=markup.base_css(_EM, 1.2), archive=archive)
    box = pymupdf.Rect(0, 0, 20 * _EM, len(lines) * 1.3 * _EM)
    story.place(box)
    raw = pymupdf.TextPage(recorded(box, [story]).get_textpage()).extractRAWDICT()
    return [
        [char for span in line["spans"] for char in span["chars"]]
        for block in raw["blocks"]
        for line in block.get("lines", [])
    ]


def test_the_measure_of_every_pair_bounds_what_mupdf_draws() -> None:
    """Each pair of printable ASCII, then a bar: the bar starts no further right than the pair's
    measure (advances, and the most each character is kerned apart from the next). And the table is
    no looser than it must be: each character it names is set that far apart from some follower."""
    font = pymupdf.Font("figo")
    advance = {ch: font.glyph_advance(ord(ch)) for ch in [*PRINTABLE, " "]}

    def bar_at(chars: list[dict[str, object]]) -> float:
        # Every line starts at x = 0. A ligature comes back as one character (or none: "fj"), and
        # contextual forms under other code points, but the bar always as itself.
        return next(char for char in chars if char["c"] == "|")["origin"][0] / _EM  # type: ignore[index]

    after_last = {
        ch: bar_at(chars) - advance[ch]
        for ch, chars in zip(PRINTABLE, _laid_out_lines([ch + "|" for ch in PRINTABLE]), strict=True)
    }
    pairs = [a + b for a in [*PRINTABLE, " "] for b in PRINTABLE]
    placed = _laid_out_lines([pair + "|" for pair in pairs])
    assert len(placed) == len(pairs)
    widest_after: dict[str, float] = {}
    for pair, chars in zip(pairs, placed, strict=True):
        bar = bar_at(chars)
        assert bar <= width_em_of(pair, "sans") + 1e-4, pair
        apart = bar - advance[pair[0]] - advance[pair[1]] - after_last[pair[1]]
        widest_after[pair[0]] = max(widest_after.get(pair[0], 0.0), apart)
    for ch, allowance in SANS_KERN_AFTER.items():
        assert widest_after[ch] > allowance - 0.002, ch


def test_every_pair_of_printable_ascii_is_drawn_and_read_back_from_the_layout() -> None:
    """FiraGO draws some pairs with glyphs MuPDF's extraction names wrongly (``ft``, a backtick after a
    capital, ``#&``); the completeness check sees every character of code made of all pairs."""
    lines = [" ".join(a + b for b in PRINTABLE) for a in PRINTABLE]
    text = "\n".join(lines)
    assert {line.face for line in wrap_runs([(text, None)], math.inf, LineForm(sans=True))} == {"sans"}
    rendering = _render(text, "code", "latin", None, SANS)  # raises if a character is not on the pages
    assert rendering.pages


def test_a_line_outside_printable_ascii_keeps_its_cells() -> None:
    source = "def name():\n    return 'café'\n"
    lines = wrap_runs([(source, None)], math.inf, LineForm(compact_indent=True, sans=True))
    assert [face_of(line) for line in source.splitlines()] == ["sans", "mono"]
    assert [line.face for line in lines[:2]] == ["sans", "mono"]
    assert lines[1].width_em == width_em_of("return 'café'") + 4 * 0.5 * width_em_of(" ")
    drawn = lines_html(lines)
    assert drawn.startswith('<div class="m s">')
    assert "<span class=\"o\">return 'café'</span>" in drawn
    assert _render(source, "code", "latin", None, SANS).pages  # drawn whole


def test_a_wrapped_line_keeps_its_marker_in_cells() -> None:
    long = "value = compute(" + ", ".join(f"argument_{i}" for i in range(40)) + ")"
    lines = wrap_runs([(long, None)], 30.0, LineForm(sans=True))
    assert len(lines) > 2 and all(line.width_em <= 30.0 for line in lines)
    drawn = lines_html(lines)
    assert drawn.count(f'<span class="o"><span style="color:#8a8a8a">{CONTINUATION}</span></span>') == len(lines) - 1


def test_json_with_comments_keeps_its_cells(monkeypatch: pytest.MonkeyPatch) -> None:
    """JSON the reflow refuses is drawn as code, in cells: FiraGO's quotes and lone braces read worse."""
    seen: list[bool] = []
    real = chunks.layout_mono

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs["form"].sans)  # type: ignore[attr-defined]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chunks, "layout_mono", spy)
    _render('{\n  // the port\n  "port": 8080\n}', "json", "latin", None, SANS)
    _render("def f():\n    return 1\n", "code", "latin", "python", SANS)
    _render("def f():\n    return 1\n", "code", "latin", "python", CELLS)  # where cells were calibrated
    assert seen == [False, True, False]


def test_code_in_firago_bills_fewer_tokens_than_in_cells() -> None:
    """The same code at the same glyph size: CPython's textwrap in FiraGO against Cascadia Mono's cells."""
    source = inspect.getsource(textwrap)
    sans = _render(source, "code", "latin", "python", SANS)
    cells = _render(source, "code", "latin", "python", CELLS)
    assert sans.image_tokens < 0.85 * cells.image_tokens


def test_kinds_that_keep_their_cells_take_the_cells_own_setting() -> None:
    """Where code goes in FiraGO, diffs and JSON with comments stay in cells at the setting calibrated
    for cells (gpt-4o's `dense`: 10.5 px / 1.1 against FiraGO's 10 / 1.3), not FiraGO's setting in
    cells: the same diff bills fewer tokens."""
    density = get_density("dense", "openai-tile")
    code = density.typesetting("code", "latin", "python")
    assert code.proportional and code.cells is not None and not code.cells.proportional
    assert density.typesetting("diff", "latin") == density.typesetting("code", "latin", "json") == code.cells
    assert code.cells.em_px * code.cells.line_height < code.em_px * code.line_height  # lines closer together
    old = inspect.getsource(textwrap).splitlines(keepends=True)
    new = inspect.getsource(html).splitlines(keepends=True)
    diff = "".join(difflib.unified_diff(old, new, "textwrap.py", "html/__init__.py"))[:12_000]
    profile = get_profile("openai-tile")
    firagos_row = density.model_copy(update={"mono": code.model_copy(update={"cells": None})})
    own = _render(diff, "diff", "latin", "diff", RenderTarget(profile, density))
    borrowed = _render(diff, "diff", "latin", "diff", RenderTarget(profile, firagos_row))
    assert own.image_tokens < borrowed.image_tokens


def test_logs_go_in_firago_at_dense_where_calibrated_and_tracebacks_keep_their_cells() -> None:
    """A log line is a statement, not a column of a table: at `dense` on Claude's pages the calibration
    chose FiraGO for logs (10 px / 1.1; cells 10.5 / 1.1), and a service log bills at least 15% fewer
    tokens than in cells and reads back at the bar. Tracebacks (their carets point at columns) and
    terminal output keep Cascadia Mono's cells, at the cells' own calibrated row."""
    density = get_density("dense", "anthropic")
    log = density.typesetting("log", "latin")
    assert log.proportional and log.cells is not None
    assert density.typesetting("trace", "latin", "pytb") == density.typesetting("terminal", "latin") == log.cells
    text = "\n".join(
        f"2026-11-29T10:{i // 60 % 60:02d}:{i % 60:02d}Z {('INFO', 'WARN', 'INFO', 'DEBUG')[i % 4]} "
        f"worker-{i % 7} job={1200 + i * 37 % 997} finished in {i * 13 % 480 + 3} ms (queue depth {i % 11})"
        for i in range(160)
    )
    profile = get_profile("anthropic")
    sans = _render(text, "log", "latin", None, RenderTarget(profile, density))
    in_cells = density.model_copy(update={"logs": log.cells})
    cells = _render(text, "log", "latin", None, RenderTarget(profile, in_cells))
    assert sans.image_tokens < 0.85 * cells.image_tokens, (sans.image_tokens, cells.image_tokens)
    assert check(text, "log", "latin", sans, profile).char_accuracy >= 0.98
