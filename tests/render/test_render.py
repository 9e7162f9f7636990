"""Rendering: page geometry, cropping, colour, determinism, cache, escaping, overlong words."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from router.errors import RenderError
from router.providers.geometry import get_profile
from router.render import markup
from router.render.cache import render_cache
from router.render.chunks import RenderTarget, render_text
from router.render.density import Typesetting, get_density
from router.render.lines import CONTINUATION, lines_html, wrap_runs
from router.render.pages import side_margin
from router.render.png import png_bytes
from router.render.reflow import reflow_json
from router.render.tables import MONO_ADVANCE_EM, table_widths

BALANCED = get_density("balanced")


def target(family: str = "anthropic", density: str = "balanced") -> RenderTarget:
    return RenderTarget(get_profile(family), get_density(density, family))


@pytest.mark.parametrize("family", ["openai-tile", "openai-patch-mini", "anthropic", "gemini-2", "qwen2.5-vl"])
def test_pages_fit_the_encoder_and_the_last_is_cropped(family: str, english_prose: str) -> None:
    profile = get_profile(family)
    rendering = render_text(english_prose * 4, "prose", "latin", None, target(family))
    for page in rendering.pages:
        image = Image.open(io.BytesIO(page.png))
        assert image.size == (page.width, page.height)
        assert page.width <= profile.page_width and page.height <= profile.page_height
        assert page.tokens == profile.image_tokens(page.width, page.height)
    assert rendering.pages[-1].height < profile.page_height  # cropped to content, not a full blank page


def test_wide_pages_get_two_balanced_columns_of_prose(english_prose: str) -> None:
    # The same glyphs on both (calibrated densities differ per family).
    rendering = render_text(english_prose, "prose", "latin", None, RenderTarget(get_profile("anthropic"), BALANCED))
    assert rendering.columns == 2 and len(rendering.pages) == 1
    # The single page is shared between both columns, so it is about half the one-column height.
    one_column = render_text(english_prose, "prose", "latin", None, RenderTarget(get_profile("openai-tile"), BALANCED))
    assert rendering.pages[0].height < one_column.pages[0].height * 0.75


def test_grayscale_unless_colour_is_used(english_prose: str, python_code: str) -> None:
    prose = render_text(english_prose, "prose", "latin", None, target())
    code = render_text(python_code, "code", "latin", "python", target())
    log = render_text(python_code, "log", "latin", None, target())
    for rendering in (prose, log):
        image = Image.open(io.BytesIO(rendering.pages[0].png))
        assert image.mode == "L" and rendering.pages[0].grayscale
        assert png_bit_depth(rendering.pages[0].png) == 4  # 16 grey levels
        assert set(np.unique(np.asarray(image))) <= {level * 17 for level in range(16)}
    assert Image.open(io.BytesIO(code.pages[0].png)).mode == "RGB" and not code.pages[0].grayscale


def test_png_holds_the_pixels_exactly() -> None:
    # Grey keeps the top 4 bits of each pixel; RGB every bit, whatever the width's parity.
    rng = np.random.default_rng(7)
    for width in (1, 2, 7, 768):
        grey = rng.integers(0, 256, (9, width), dtype=np.uint8)
        decoded = np.asarray(Image.open(io.BytesIO(png_bytes(grey, grayscale=True))))
        assert decoded.shape == grey.shape and (decoded == (grey >> 4) * 17).all()
        colour = rng.integers(0, 256, (9, width, 3), dtype=np.uint8)
        decoded = np.asarray(Image.open(io.BytesIO(png_bytes(colour, grayscale=False))))
        assert (decoded == colour).all()
    assert png_bytes(grey, grayscale=True) == png_bytes(grey.copy(), grayscale=True)


def png_bit_depth(png: bytes) -> int:
    return png[24]  # IHDR: 8-byte signature, 4 length, 4 type, 4 width, 4 height, then bit depth


def test_short_lines_pack_into_columns_where_tiles_are_billed() -> None:
    lines = "\n".join(f"2026-11-29 14:{i // 60:02d}:{i % 60:02d} INFO worker {i % 7} heartbeat ok" for i in range(600))
    packed = render_text(lines, "log", "latin", None, RenderTarget(get_profile("gemini-2"), BALANCED))
    assert packed.columns >= 2
    # Claude bills area: each column is as wide as its longest line, and the page as wide as its columns.
    claude = RenderTarget(get_profile("anthropic"), BALANCED)
    narrow = render_text(lines, "log", "latin", None, claude)
    line_px = 48 * MONO_ADVANCE_EM * claude.density.mono.em_px  # every line is 48 cells
    for page in narrow.pages:
        columns = len(page.gutters) + 1
        assert page.width <= 2 * claude.density.margin_px + columns * (line_px + 1) + (columns - 1) * 10 + 1


def test_long_code_lines_wrap_with_a_visible_marker() -> None:
    runs = [("x = '" + "a" * 200 + "'\nshort()\n", None)]
    lines = wrap_runs(runs, width_em=40)
    assert [line.continuation for line in lines][:3] == [False, True, True]
    assert lines[1].runs[0][0] == CONTINUATION
    assert all(line.width_em <= 40 + 1e-9 for line in lines)
    assert "".join(t for line in lines for t, _ in line.runs).replace(CONTINUATION, "") == runs[0][0].replace("\n", "")


def test_same_input_gives_the_same_bytes(python_code: str, markdown_table: str) -> None:
    for text, kind, language in ((python_code, "code", "python"), (markdown_table, "table", None)):
        render_cache().clear()
        first = render_text(text, kind, "latin", language, target())
        render_cache().clear()
        second = render_text(text, kind, "latin", language, target())
        assert [p.png for p in first.pages] == [p.png for p in second.pages]


def test_concurrent_renders_match_serial_ones(english_prose: str, python_code: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(english_prose[i * 300 :], "prose", None) for i in range(4)] + [
        (python_code[i * 500 :], "code", "python") for i in range(4)
    ]
    render_cache().clear()
    serial = [[p.png for p in render_text(t, k, "latin", lang, target()).pages] for t, k, lang in jobs]
    render_cache().clear()
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(render_text, t, k, "latin", lang, target()) for t, k, lang in jobs]
        parallel = [[p.png for p in f.result().pages] for f in futures]
    assert parallel == serial


def test_cache_hits_return_the_same_pages(english_prose: str) -> None:
    render_cache().clear()
    first = render_text(english_prose, "prose", "latin", None, target())
    second = render_text(english_prose, "prose", "latin", None, target())
    assert not first.cached and second.cached
    assert render_cache().hits == 1 and render_cache().misses == 1
    assert [p.png for p in first.pages] == [p.png for p in second.pages]
    other = render_text(english_prose, "prose", "latin", None, target(density="dense"))
    assert not other.cached  # density is part of the key


HOSTILE = (
    '<img src="file:///etc/passwd"> <a href="http://127.0.0.1:1/steal">link</a> '
    "![logo](file:///etc/hostname) [docs](http://169.254.169.254/latest/meta-data) "
    '<link rel="stylesheet" href="http://127.0.0.1:1/x.css"><style>@import url(http://127.0.0.1:1/y.css);</style>'
)


@pytest.mark.parametrize("kind", ["prose", "markdown", "table", "json", "code", "html"])
def test_user_text_is_escaped_never_loaded(kind: str) -> None:
    text = f"{HOSTILE}\n\n| a | b |\n|---|---|\n| {HOSTILE[:40]} | x |\n" if kind == "table" else HOSTILE
    if kind == "json":  # the same text as a string value: HTML inside JSON strings is text too
        text = json.dumps({"note": HOSTILE, "lines": HOSTILE.splitlines()}, indent=2)
    if kind in ("prose", "markdown", "table", "json"):
        if kind == "json":
            body = markup.json_html(reflow_json(text) or [], 40)
        else:
            body = markup.prose_html(text) if kind == "prose" else markup.markdown_html(text, 700, 10)
        for tag in ("<img", "<a ", "<link", "<style"):
            assert tag not in body
        visible = body.replace(markup.ZERO_WIDTH_SPACE, "")
        assert "file:///etc/passwd" in visible and "http://169.254.169.254/latest/meta-data" in visible
    rendering = render_text(text, kind, "latin", None, target())
    assert rendering.pages  # rendered as literal text


def test_overlong_words_get_break_points() -> None:
    token = "QUJD" * 60  # 240 characters with no break opportunity
    body = markup.prose_html(f"key: {token}")
    assert markup.ZERO_WIDTH_SPACE in body
    assert body.replace(markup.ZERO_WIDTH_SPACE, "").count(token) == 1
    assert markup.soft_breaks("&amp;" * 30).count("&amp;") == 30  # entities are never split


def test_content_sized_table_columns() -> None:
    widths = table_widths([["a long first column with words"] * 1 + ["✓"] * 6] * 3, 700, 10)
    assert widths[0] > 3 * widths[1]
    assert sum(widths) <= 700
    many = table_widths([["word " * 40, "word " * 40, "x"]], 700, 10)
    assert sum(many) <= 700 and many[2] < many[0]


def test_unrenderable_text_raises_render_error() -> None:
    lone_surrogate = json.loads('"value: \\ud800"')  # valid JSON escape, not encodable text
    with pytest.raises(RenderError, match="could not render"):
        render_text(lone_surrogate * 20, "prose", "latin", None, target())
    with pytest.raises(RenderError, match="blank"):
        render_text("   \n ", "prose", "latin", None, target())


def test_wide_characters_take_two_monospace_cells() -> None:
    """An ASCII-art table around Chinese names stays aligned, as a terminal draws it: each East Asian
    wide character is two cells wide on the page."""
    import io

    import pymupdf

    table = "+----------+--------+\n| 软件包   | 版本   |\n| apt      | 2.6.1  |\n| 中文字体 | 1.0    |\n"
    archive, _ = markup.fonts()
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    device = writer.begin_page(pymupdf.Rect(0, 0, 600, 300))
    html = lines_html(wrap_runs([(table, None)], 80))
    story = pymupdf.Story(html=html, user_css=markup.base_css(20, 1.2), archive=archive)
    story.place(pymupdf.Rect(0, 0, 600, 300))
    story.draw(device)
    writer.end_page()
    writer.close()
    page = pymupdf.open("pdf", out.getvalue())[0]
    bars: dict[float, list[float]] = {}
    for block in page.get_text("rawdict")["blocks"]:
        for line in block.get("lines", []):
            for span in line["spans"]:
                for char in span["chars"]:
                    if char["c"] == "|":
                        bars.setdefault(round(char["origin"][1]), []).append(round(char["origin"][0], 1))
    rows = list(bars.values())
    # Every column rule at the same x, to a twentieth of a cell (the spacer is 0.005 em short per wide character).
    cell = MONO_ADVANCE_EM * 20
    assert len(rows) == 3 and all(row == pytest.approx(rows[0], abs=cell / 20) for row in rows), rows


def test_shell_symbols_in_prose_are_drawn_in_the_monospace_font() -> None:
    """``~`` and ``$`` in prose take Cascadia Mono: in FiraGO the engine read ``~/.bashrc`` as
    ``-/.bashrc`` and ``$HOME`` as ``SHOME`` inside Chinese instructions at 11 px, where both read in Cascadia."""
    from router.fidelity.readback import check

    assert (
        markup.prose_html("cd ~ && echo $$HOME")
        == '<p>cd <span class="m">~</span> &amp;&amp; echo <span class="m">$$</span>HOME</p>'
    )
    text = "登录 build-07 后，在提示符 build-07:~$ 下运行 source ~/.bashrc，再用 echo $HOME 检查家目录。"
    eleven = get_density("balanced", "anthropic").model_copy(update={"cjk": Typesetting(em_px=11, line_height=1.2)})
    rendering = render_text(text, "prose", "cjk", None, RenderTarget(get_profile("anthropic"), eleven))
    read = check(text, "prose", "cjk", rendering, get_profile("anthropic")).text
    assert "~/.bashrc" in read and "$HOME" in read, read


def test_pages_recorded_without_a_pdf_give_their_pixels_and_the_characters_drawn() -> None:
    """Stories drawn straight into a display list: the pixels inside each clip are the page's own
    (colour and grey), the text of each clip holds the characters as written (a ligature, box drawing
    and CJK as themselves), and a character no font draws is left out of it."""
    import pymupdf

    from router.render.pages import rasterise, recorded

    archive, _ = markup.fonts()
    stories = []
    for x0, html in (
        (0, '<p>offer after <span style="color:#a31515">"red"</span> 软件包 \ue000</p>'),
        (150, "<pre>  x = 1\n├── a.py</pre>"),
    ):
        story = pymupdf.Story(html=html, user_css=markup.base_css(11, 1.2), archive=archive)
        story.place(pymupdf.Rect(x0, 0, x0 + 140, 80))
        stories.append(story)
    listed = recorded(pymupdf.Rect(0, 0, 300, 80), stories)
    clips = [pymupdf.Rect(0, 0, 145, 80), pymupdf.Rect(145, 0, 300, 80)]
    for grayscale in (False, True):
        (whole,), texts = rasterise(listed, [None], clips, grayscale=grayscale)
        halves, _ = rasterise(
            listed, [pymupdf.Rect(0, 0, 300, 40), pymupdf.Rect(0, 40, 300, 80)], [], grayscale=grayscale
        )
        assert whole.shape[:2] == (80, 300) and (whole.ndim == 2) == grayscale
        assert (np.concatenate(halves) == whole).all() and (whole < 128).any()
        assert texts[0].split() == ["offer", "after", '"red"', "软件包"]  # the private-use box left out
        assert texts[1].split() == ["x", "=", "1", "├──", "a.py"]


def test_code_wraps_where_tokens_end() -> None:
    """A line too long for its column wraps after a token, not inside a name; only a token longer
    than half the line is cut where the line is full."""
    line = "    policy = Policy.load(router.policies.default_policy_for_model(never_wrap_mid_word))"
    wrapped = ["".join(text for text, _ in visual.runs) for visual in wrap_runs([(line, None)], 40)]
    assert wrapped == ["    policy = Policy.load(router.policies.default_policy_for_model", "↪ (never_wrap_mid_word))"]
    long = wrap_runs([("x" * 100, None)], 40)
    fits = int(40 / MONO_ADVANCE_EM)  # cells in 40 em
    assert ["".join(t for t, _ in v.runs) for v in long] == ["x" * fits, "↪ " + "x" * (100 - fits)]
    assert all(v.width_em <= 40 for v in long)


def test_a_page_piece_starts_on_its_first_mark_however_light() -> None:
    """Where a strip is cut into columns or pages, the next piece starts at its first drawn row, not its
    first dark one: a table's grey rule after the cut is kept, not dropped."""
    from router.render.flow import _Strip

    pixels = np.full((24, 20), 255, dtype=np.uint8)
    pixels[0:16] = 0  # lines of text
    pixels[17] = 220  # a light rule, after the one blank row where the strip is cut
    pixels[18:24] = 0
    strip = _Strip([pixels[:10], pixels[10:]])  # laid out in two segments
    first, second = (strip.rows(a, b, 20) for a, b in strip.cut(columns=1, column_height=17))
    assert first.shape[0] == 16 and (first == 0).all()
    assert second.shape[0] == 7 and (second[0] == 220).all()


def test_a_line_is_never_shared_between_columns() -> None:
    """The last page's rest is shared between its columns at a gap between lines. A one-line chunk
    has none: it was cut through its descenders, which went to the second column, and the engine read
    "jumps" as "iumos". It is drawn whole in one column now, and a cut that finds no gap near its
    target takes the nearest gap in reach rather than a row of ink."""
    from router.fidelity.readback import check
    from router.render.flow import _Strip

    line = "The quick brown fox jumps after the lazy dog; the gypsy's pyjamas quip."
    profile = get_profile("anthropic")
    rendering = render_text(line, "prose", "latin", None, target("anthropic", "dense"))
    assert rendering.columns == 2 and [page.gutters for page in rendering.pages] == [()]
    assert check(line, "prose", "latin", rendering, profile).char_accuracy >= 0.98

    strip = np.full((40, 10), 255, dtype=np.uint8)
    strip[0:12] = 0  # a line
    strip[12] = 255  # the one gap, outside the window around the target
    strip[13:40] = 0
    strip[20:23, 0] = 0  # a row of little ink in the window: the old cut
    strip[20:23, 1:] = 255
    laid = _Strip([strip])
    pieces = [laid.rows(a, b, 10) for a, b in laid.cut(columns=1, column_height=24)]
    assert pieces[0].shape[0] == 12 and (pieces[0] == 0).all()  # cut at the gap, not at row 20
    assert sum(piece.shape[0] for piece in pieces) == 39  # every row but the gap, once
    single = np.full((11, 10), 255, dtype=np.uint8)
    single[0:11] = 0
    single[6, 1:] = 255  # the line's thinnest row
    assert [b - a for a, b in _Strip([single]).cut(columns=2, column_height=100)] == [11]


def test_a_narrow_table_is_drawn_on_a_page_as_narrow_as_it() -> None:
    """A table narrower than the page's column leaves the rest blank; the page is cropped to the table's
    right rule, so Claude, billed by area, pays for the table, not for the blank beside it (a margin of
    1 px right of the rule: every blank column is paid for)."""
    rows = "\n".join(f"| node-{i:02d} | {i * 37 % 101} | {i * 0.25:g} |" for i in range(40))
    table = "| Node | Jobs | Load |\n|---|---:|---:|\n" + rows
    claude = target(density="dense")
    page = render_text(table, "table", "latin", None, claude).pages[0]
    grey = np.asarray(Image.open(io.BytesIO(page.png)).convert("L"))
    margin = side_margin(claude.density.margin_px, claude.profile)
    assert margin == 1
    assert page.width < claude.profile.page_width / 2
    assert grey[:, page.width - margin - 1].min() < 250  # the right rule is the last thing drawn
    assert (grey[:, page.width - margin :] == 255).all()
    assert page.tokens < claude.profile.image_tokens(claude.profile.page_width, page.height) / 2


@pytest.mark.parametrize("family", ["openai-tile", "gemini-2", "anthropic"])
def test_a_narrow_table_is_set_side_by_side_where_tiles_are_billed(family: str) -> None:
    """Beside a narrow table, gpt-4o's and Gemini 2's tiles are paid for and blank: 250 rows of three
    columns, 198 px wide, took two pages and 1,190 image tokens on gpt-4o and 1,032 on Gemini 2 (read
    99.52% and 99.56%). Set side by side, they take one page (595 and 516) and read back as well
    (99.50% both, in two columns), each column of rows read on its own. Claude bills area and keeps
    one column."""
    import sys

    from router.fidelity.readback import check

    names = sorted(sys.stdlib_module_names)[:250]
    rows = "\n".join(f"| {n} | {i % 9 + 1}.{i % 31}.{i % 7} | {i * 337 % 99991} kB |" for i, n in enumerate(names))
    table = "| module | version | size |\n|---|---|---:|\n" + rows
    t = target(family, "dense")
    rendering = render_text(table, "table", "latin", None, t)
    if not t.profile.bills_whole_tiles:
        assert rendering.columns == 1
        return
    assert rendering.columns >= 2 and len(rendering.pages) == 1
    assert rendering.image_tokens <= t.profile.image_tokens(t.profile.page_width, t.profile.page_height)
    assert check(table, "table", "latin", rendering, t.profile).char_accuracy >= 0.98


def test_short_lines_in_two_columns_take_more_where_that_bills_less() -> None:
    """Narrow content in a two-column layout: 400 short lines on Gemini 2 were two columns 46 px wide
    on two pages, 774 image tokens; in three columns they fit one page of two tiles (516)."""
    text = "\n".join(f"line {i}: ok" for i in range(400))
    rendering = render_text(text, "prose", "latin", None, target("gemini-2", "dense"))
    assert rendering.columns >= 3 and len(rendering.pages) == 1 and rendering.image_tokens <= 516


def test_a_flow_placed_past_its_segment_is_drawn_whole() -> None:
    """MuPDF at times places the rest of a story past the segment's bottom and reports nothing left:
    the first 32,751 characters of the GPL at 10 px in Claude's two columns came back 5,382 px tall
    from a 4,096-px box, and the pages lost the quarter past it (1,342 of 5,301 words: the chunk went
    as text). The story is now placed in one box; the completeness check inside ``render_text`` fails
    unless every word is drawn."""
    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")[:32751]
    ten = get_density("exact").model_copy(update={"latin": Typesetting(em_px=10, line_height=1.1)})
    rendering = render_text(gpl, "prose", "latin", None, RenderTarget(get_profile("anthropic"), ten))
    assert rendering.columns == 2 and not rendering.undrawn


def test_a_story_once_filled_far_past_a_segments_bottom_is_drawn_whole() -> None:
    """With more of the story to place, MuPDF at times reports a segment filled twice its height and
    squeezes the rest of it into a sliver at its top: the GPL and LGPL-2 at 10 px in Gemini 2's
    375-px columns filled 8,188 px of a 4,096-px segment, and half the words of the 96k-character
    part they were in were lost (the part went as text). Placed in one box, it is drawn whole."""
    licences = Path("/usr/share/common-licenses")
    text = (licences / "GPL-3").read_text(encoding="utf-8") + "\n\n" + (licences / "LGPL-2").read_text(encoding="utf-8")
    ten = get_density("exact").model_copy(update={"latin": Typesetting(em_px=10, line_height=1.1)})
    rendering = render_text(text, "prose", "latin", None, RenderTarget(get_profile("gemini-2"), ten))
    assert rendering.columns == 2


def test_flowing_text_longer_than_the_pages_hold_raises_before_it_is_drawn(monkeypatch: pytest.MonkeyPatch) -> None:
    """A story that does not fit the most pages a chunk may have is refused (the chunk goes as text),
    and it is never drawn: only placing it tells that it does not fit. Its 400 short lines are one
    paragraph, which MuPDF places whole past the box's bottom with nothing reported left: until
    2026-12-03 that was drawn and then lost half its words (the completeness check sent it as text).
    The limits are made small here; the shipped ones (400 pages of four columns) take hundreds of
    thousands of lines to pass."""
    from router.render import flow

    drawn: list[int] = []
    real_draw = flow.recorded
    monkeypatch.setattr(flow, "recorded", lambda *a, **k: drawn.append(1) or real_draw(*a, **k))
    monkeypatch.setattr(flow, "MAX_PAGES", 1)
    monkeypatch.setattr(flow, "MAX_COLUMNS", 1)
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    lines = "\n".join(f"Clause {i}: keep notice {i * 7}." for i in range(400))  # 400 rows, 8 px: 3,200 px
    with pytest.raises(RenderError, match="more than 1 pages"):
        render_text(lines, "prose", "latin", None, target)
    assert not drawn
    assert render_text(lines[:2000], "prose", "latin", None, target).pages and drawn  # what fits is drawn


@pytest.mark.parametrize(
    ("document", "kind", "family", "density"),
    [
        ("price_csv", "csv", "openai-tile", "dense"),
        ("argparse_code", "code", "openai-tile", "exact"),
        ("price_csv", "csv", "gemini-2", "balanced"),
        ("argparse_code", "code", "gemini-2", "dense"),
    ],
)
def test_margins_never_bill_a_tile_of_their_own(document: str, kind: str, family: str, density: str) -> None:
    """gpt-4o and Gemini 2 bill whole tiles however few rows of the last one are drawn on. gpt-4o's
    dense CSV pages were 503x2047 and 503x513, the 513th row blank margin: 1,190 image tokens where
    1,020 do. No page may bill more than its drawn rows with a 1-px margin above and below."""
    from router.tools import bench_corpus

    text = getattr(bench_corpus, document)(6000).text
    t = target(family, density)
    rendering = render_text(text, kind, "latin", "csv" if kind == "csv" else "python", t)
    for page in rendering.pages:
        grey = np.asarray(Image.open(io.BytesIO(page.png)).convert("L"))
        drawn = np.flatnonzero((grey < 250).any(axis=1))
        assert page.tokens == t.profile.image_tokens(page.width, int(drawn[-1] - drawn[0]) + 3)
        assert drawn[0] >= 1 and drawn[-1] <= page.height - 2  # at least 1 px of margin is kept
