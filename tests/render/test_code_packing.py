"""Code pages spend their pixels on characters: indentation and blank lines drawn small, columns as wide
as their lines, the wrap width that bills fewest tokens; the read-back still sees the nesting."""

from __future__ import annotations

import difflib
import math
import statistics

import numpy as np
import pytest
from PIL import Image

from router.fidelity.engines import TextBox, get_engine
from router.fidelity.readback import visible
from router.fidelity.reading_order import split_columns
from router.models import Rendering
from router.providers.geometry import get_profile
from router.render import chunks, markup, mono
from router.render.chunks import RenderTarget, render_text
from router.render.density import Typesetting, get_density
from router.render.lines import INDENT_SCALE, LineForm, VisualLine, Wrapping, lines_html, wrap_runs
from router.render.tables import MONO_ADVANCE_EM

CLAUDE = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))

NESTED = """\
def outer(values):
    alpha = 0
    for value in values:
        if value > 0:
            while value:
                beta = value - 1
                value = beta
            gamma = alpha
        delta = gamma
    return alpha
"""


def test_indentation_is_half_width_and_read_back_as_nesting() -> None:
    """Each leading space is half a cell; OCR finds every line's first word where its depth puts it:
    equal depths line up, each level is 2 cells further right."""
    rendering = render_text(NESTED * 3, "code", "latin", "python", CLAUDE)
    _assert_read_back_as_nesting(rendering, {line.strip().split(" ")[0]: _depth(line) for line in NESTED.splitlines()})


def test_a_diffs_code_is_indented_half_width_after_its_marker() -> None:
    """A diff's marker is drawn in a cell at the line's start, and the code after it is indented as code
    is: half a cell a space, read back as nesting (the engine drops a lone ``-``; the words are enough)."""
    changed = NESTED.replace("alpha = 0", "alpha = 1").replace("beta = value - 1", "beta = value - 2")
    diff = "".join(difflib.unified_diff(NESTED.splitlines(True), changed.splitlines(True), "a.py", "b.py", n=20))
    runs = markup.highlight(diff.rstrip("\n"), "diff", "diff")
    lines = wrap_runs(runs, math.inf, LineForm(compact_indent=True, marker=True))
    body = lines[3:]  # after the file names and the hunk's header
    assert [line.marker[0] if line.marker else None for line in body] == [line[0] for line in diff.splitlines()[3:]]
    assert [line.indent for line in body] == [_depth(line[1:]) for line in diff.splitlines()[3:]]
    rendering = render_text(diff * 3, "diff", "latin", "diff", CLAUDE)
    _assert_read_back_as_nesting(rendering, {line.strip().split(" ")[0]: _depth(line) for line in NESTED.splitlines()})
    # The indentation is the code's, not the marker column's: in full cells the same diff bills more.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chunks, "LineForm", lambda **form: LineForm(**{**form, "compact_indent": False}))
        wide = chunks._render(diff * 3, "diff", "latin", "diff", CLAUDE)
    assert rendering.image_tokens < wide.image_tokens


def test_a_marker_alone_on_its_line_is_drawn() -> None:
    """An added or removed blank line is its marker alone: a line of its own, never a small blank one."""
    lines = wrap_runs([("-\n+\n \n-x", None)], 80, LineForm(compact_indent=True, marker=True))
    assert [(line.marker, line.blank) for line in lines] == [
        (("-", None), False),
        (("+", None), False),
        ((" ", None), True),
        (("-", None), False),
    ]
    assert "-" in lines_html(lines[:1]) and "+" in lines_html(lines[1:2])


def _depth(line: str) -> int:
    return len(line) - len(line.lstrip())


def _assert_read_back_as_nesting(rendering: Rendering, depth_of: dict[str, int]) -> None:
    """OCR finds each line's first word where its depth puts it: 2 cells a level, equal depths aligned."""
    page = rendering.pages[0]
    image = visible(page, CLAUDE.profile)
    column = split_columns(image, [round(x * image.width / page.width) for x in page.gutters])[0]
    engine = get_engine("rapidocr")
    result, _ = engine._ocr(np.asarray(column.convert("RGB")), use_cls=False)  # type: ignore[attr-defined]
    lefts: dict[int, list[float]] = {}
    # Boxes whose centres are closer than half a box height are one text line; keep each line's leftmost.
    boxes = sorted((sum(p[1] for p in box) / len(box), min(p[0] for p in box), text) for box, text, _ in result)
    half_height = statistics.median(max(p[1] for p in box) - min(p[1] for p in box) for box, _, _ in result) / 2
    starts: list[tuple[float, float, str]] = []  # (centre, left, text) of each line's leftmost box
    for centre, left, text in boxes:
        if starts and centre - starts[-1][0] < half_height:
            if left < starts[-1][1]:
                starts[-1] = (starts[-1][0], left, text)
        else:
            starts.append((centre, left, text))
    for _centre, left, text in starts:
        first = text.strip().split(" ")[0]
        if first in depth_of:
            lefts.setdefault(depth_of[first], []).append(left)
    assert set(lefts) == {0, 4, 8, 12, 16}, lefts
    x = {depth: statistics.median(found) for depth, found in lefts.items()}
    step = 4 * INDENT_SCALE * MONO_ADVANCE_EM * CLAUDE.density.mono.em_px  # 4 spaces, in page pixels
    for depth in (4, 8, 12, 16):
        assert x[depth] - x[depth - 4] == pytest.approx(step, abs=3)
    # Equal depths line up: within half a level (5.9 px), so no line reads as the next level's. They are
    # drawn at the same x; the engine's boxes start up to 4 px apart with the first glyph (`while`, `gamma`).
    assert all(max(found) - min(found) < step / 2 for found in lefts.values()), sorted(lefts.items())


def test_logs_keep_full_width_leading_spaces() -> None:
    """Leading spaces that align columns (a log, terminal output) are not compacted."""
    log = [("  12 ok\n1234 ok", None)]
    assert [line.indent for line in wrap_runs(log, 80)] == [0, 0]
    assert [line.indent for line in wrap_runs(log, 80, LineForm(compact_indent=True))] == [2, 0]


def test_blank_lines_are_half_a_line_high() -> None:
    setting = CLAUDE.density.mono
    # 20 lines, 19 blank lines between them; too long to share a page, so one column
    code = "\n\n".join(f"value_{i} = '{'x' * 70}'" for i in range(20))
    lines, pages = mono.plan_mono(markup.highlight(code, "python", "code"), setting, CLAUDE.density, CLAUDE.profile)
    assert [[column.height for column in page] for page in pages] == [[20 + 19 * INDENT_SCALE]]
    rendering = render_text(code, "code", "latin", "python", CLAUDE)
    line_px = setting.em_px * setting.line_height
    assert rendering.pages[0].height <= 2 * CLAUDE.density.margin_px + (20 + 19 * INDENT_SCALE) * line_px + 2
    assert '<span class="i">\n</span>' in lines_html(lines)


def test_no_column_starts_with_a_blank_line() -> None:
    code = "\n".join("" if i % 5 == 4 else f"value_{i} = compute({i})" for i in range(900))
    lines, pages = mono.plan_mono(
        markup.highlight(code, "python", "code"), CLAUDE.density.mono, CLAUDE.density, CLAUDE.profile
    )
    for page in pages:
        for column in page:
            assert not lines[column.start].blank and not lines[column.end - 1].blank


def test_columns_are_as_wide_as_their_longest_line() -> None:
    """A stretch of short lines gets a narrow column, so more of them share a page."""
    short = "\n".join(f"x{i} = {i}" for i in range(400))
    long = "\n".join(f"configuration_value_{i} = load_setting('section', 'key_{i}', default=None)" for i in range(400))
    setting = CLAUDE.density.mono
    _, pages = mono.plan_mono(
        markup.highlight(short + "\n" + long, "python", "code"), setting, CLAUDE.density, CLAUDE.profile
    )
    widths = [column.width_px for page in pages for column in page]
    assert min(widths) < 0.5 * max(widths)
    usable = CLAUDE.profile.page_width - 2 * CLAUDE.density.margin_px
    for page in pages:
        assert sum(c.width_px for c in page) + CLAUDE.density.column_gap_px * (len(page) - 1) <= usable


def test_the_read_back_cuts_pages_where_the_layout_put_the_gutters() -> None:
    code = "\n".join(f"x{i} = {i}" for i in range(300))
    rendering = render_text(code, "code", "latin", "python", CLAUDE)
    page = rendering.pages[0]
    assert len(page.gutters) >= 1
    image = Image.new("L", (page.width, page.height), 255)
    parts = split_columns(image, page.gutters)
    assert [p.width for p in parts][:-1] == [b - a for a, b in zip((0, *page.gutters), page.gutters, strict=False)]


@pytest.mark.parametrize("family", ["anthropic", "openai-tile", "gemini-2"])
def test_the_chosen_wrap_width_bills_about_the_fewest_tokens(family: str, python_code: str) -> None:
    """Wrap widths are compared on an estimate; wrapping and packing at every candidate for real
    finds none more than 3% cheaper than the one chosen."""
    target = RenderTarget(get_profile(family), get_density("dense", family))
    setting, density, profile = target.density.mono, target.density, target.profile
    runs = markup.highlight(python_code * 3, "python", "code")
    chosen, _ = mono.plan_mono(runs, setting, density, profile, LineForm(compact_indent=True))

    def tokens(lines: list[VisualLine]) -> int:
        rows = [(line.height, line.width_em) for line in lines]
        return mono._tokens(rows, setting, density, profile)

    usable = profile.page_width - 2 * density.margin_px
    candidates = mono._candidate_widths(usable, setting.em_px, density.column_gap_px)
    compact = LineForm(compact_indent=True)
    source = [line for line in wrap_runs(runs, usable / setting.em_px, compact) if not line.continuation]
    allowed = mono.MAX_WRAP_SHARE * sum(not line.blank for line in source)
    real = []
    for width in candidates:
        lines = wrap_runs(runs, width, LineForm(compact_indent=True))
        if width == candidates[0] or sum(line.continuation for line in lines) <= allowed:
            real.append(tokens(lines))
    assert len(real) >= 3 and tokens(chosen) <= 1.03 * min(real)


@pytest.mark.parametrize("family", ["anthropic", "openai-tile", "gemini-2", "qwen2.5-vl"])
def test_the_widest_lines_that_fit_each_column_count_are_a_wrap_width_tried(family: str) -> None:
    """For 2 to ``MAX_COLUMNS`` columns, the most cells a line can have with that many columns side by
    side is a width the planner tries, and lines wrapped there do stand that many to a page. The
    even split once ignored each column's slack pixel: on gpt-4o's tile it wrapped at 40 cells where
    39 fit two columns, and a 20k-token JSON document was drawn one column a page (1.7x the tokens)."""
    from router.render.pages import MAX_COLUMNS

    target = RenderTarget(get_profile(family), get_density("dense", family))
    setting, density, profile = target.density.mono, target.density, target.profile
    em, gap = setting.em_px, density.column_gap_px
    usable = profile.page_width - 2 * density.margin_px
    tried = {math.floor(w / MONO_ADVANCE_EM + 1e-9) for w in mono._candidate_widths(usable, em, gap)}
    capacity = math.floor((profile.page_height - 2 * density.margin_px) / (em * setting.line_height))
    for n in range(2, MAX_COLUMNS + 1):

        def fits(cells: int, n: int = n) -> bool:
            return n * (cells * MONO_ADVANCE_EM * em + mono._COLUMN_SLACK_PX) + (n - 1) * gap <= usable

        widest = max((c for c in range(1, 400) if fits(c)), default=0)
        if widest < mono.MIN_MONO_CELLS:
            continue
        assert widest in tried, (n, widest, sorted(tried))
        pages = mono._pack([(1.0, widest * MONO_ADVANCE_EM)] * (capacity * n), setting, density, profile)
        assert [len(page) for page in pages] == [n], (n, widest)


def test_single_column_pages_of_a_multi_column_rendering_are_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendering may end in a two-column page after one-column pages: each page is cut only at
    its own gutters (cutting a one-column page in two read argparse back at 50%)."""
    from router.fidelity import readback

    code = "\n".join(f"value_{i} = compute_the_value('{'x' * 60}', {i})" for i in range(150))
    code += "\n" + "\n".join(f"x{i} = {i}" for i in range(40))
    rendering = render_text(code, "code", "latin", "python", CLAUDE)
    assert rendering.columns >= 2 and not rendering.pages[0].gutters
    widths: list[int] = []

    class Recorder:
        name = "recorder"

        def boxes(self, image: Image.Image, script: str) -> list[TextBox]:
            widths.append(image.width)  # the engine is given one column at a time, never a page to split
            return []

    monkeypatch.setattr(readback, "get_engine", lambda name: Recorder())
    readback.read_pages(rendering.pages, CLAUDE.profile)
    expected = [len(page.gutters) + 1 for page in rendering.pages]
    assert len(widths) == sum(expected) and widths[0] == rendering.pages[0].width


def test_a_continuation_that_starts_a_column_is_checked_as_one() -> None:
    """MuPDF extracts a page's text by baselines: a wrapped line's continuation at the top of a
    column was joined to the neighbouring column's line, and the completeness check refused the
    page ("↪null}" is not in the source). Columns are extracted one by one."""
    from router.tools.calibrate import _probe_density
    from router.tools.calibration_samples import corpus

    code, response = corpus()["mono"]
    text = code.text + "\n\n" + response.text  # Python, then a JSON response
    target = RenderTarget(
        get_profile("openai-patch-mini"), _probe_density("mono", Typesetting(em_px=14, line_height=1.1))
    )
    lines, pages = mono.plan_mono([(text, None)], target.density.mono, target.density, target.profile,
                                    LineForm(compact_indent=True))  # fmt: skip
    assert any(lines[column.start].continuation for page in pages for column in page[1:])
    rendering = render_text(text, "code", "latin", "python", target)  # raised IncompleteRenderError
    assert rendering.columns >= 2


@pytest.mark.parametrize(
    "form",
    [
        LineForm(),
        LineForm(compact_indent=True),
        LineForm(compact_indent=True, sans=True),
        LineForm(compact_indent=True, marker=True),
    ],
)
def test_wrapping_at_several_widths_is_wrapping_each_time(form: LineForm) -> None:
    """The packer wraps a chunk at several widths, re-wrapping only the lines that do not fit as they
    are (``Wrapping``): at every width, the same visual lines as wrapping the whole chunk there. The
    text has what moves a line at a width: long lines, indentation deeper than half a narrow width,
    tabs, wide characters, colour runs splitting a line, a marker alone, blank lines."""
    import argparse
    import inspect

    source = inspect.getsource(argparse)[:30_000]
    diff = "".join(difflib.unified_diff(source.splitlines(True)[:300], source.splitlines(True)[100:400]))
    text = "\n".join([
        diff if form.marker else source,
        " " * 90 + "deep = 'indentation past half of a narrow column'",
        "\tcolumns\tafter\ttabs",
        "宽字符的行，" * 12,
        "+", "-", "", "",
        "x" * 300,
    ])  # fmt: skip
    runs = markup.highlight(text, "python", "code")
    assert len(runs) > 200  # colour runs split the lines
    wrapping = Wrapping(runs, form)
    for width_em in (8.0, 13.2, 20.0, 24 * MONO_ADVANCE_EM, 31.7, 40.0, 57.5, 80.0, 200.0, math.inf):
        assert wrapping.wrap(width_em) == wrap_runs(runs, width_em, form), width_em
