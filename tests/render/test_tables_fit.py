"""Table columns: they fit the page (a column held at its floor width does not push the table past it),
and where the page is billed by area they take the least of it."""

from __future__ import annotations

import pytest

from router.providers.geometry import get_profile
from router.render import markup
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density
from router.render.tables import _column_floors, table_widths

ROWS = [
    ["Credential", "Usage", "Reference", "Notes"],
    [
        "[`InteractiveBrowserCredential`][interactive_cred_ref]",
        "Interactively authenticates a user with the default system browser.",
        "[OAuth2 authentication code](https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow)",
        "`InteractiveBrowserCredential` doesn't support GitHub Codespaces. As a workaround, use "
        "[`DeviceCodeCredential`][device_code_cred_ref].",
    ],
    ["[`DeviceCodeCredential`][device_code_cred_ref]", "Interactively authenticates a user on devices.", "x", ""],
]


def test_widths_never_exceed_the_page_when_floors_hold() -> None:
    floors = _column_floors(ROWS, 7.5)
    assert sum(floors) < 420  # narrower pages split the table into column groups (split_wide_tables)
    for width in (420, 504, 760):
        widths = table_widths(ROWS, width, 7.5)
        assert sum(widths) <= width, (width, widths)
        assert all(w >= int(f) for w, f in zip(widths, floors, strict=True))


def test_short_columns_give_way_to_a_key_column_held_at_its_floor() -> None:
    """A price sheet's six columns at 13 px on a 502-px column: the narrow numeric columns fit at their
    natural widths, the key column of long instance names only at its floor; together they ran 21 px
    past the page, and the cut-off cells failed the completeness check."""
    rows = [["Instance type", "Region", "vCPU", "Memory GiB", "Max IOPS", "Net Gbps"]]
    rows += [["burst-l1.16xlarge-ea", "ap-northeast-3", "192", "1536", "256000", "1.25"]] * 3
    floors = _column_floors(rows, 13)
    assert sum(floors) < 502
    widths = table_widths(rows, 502, 13)
    assert sum(widths) <= 502, widths
    assert all(w >= int(f) for w, f in zip(widths, floors, strict=True))


def test_text_width_is_pymupdfs_text_length_to_the_bit() -> None:
    """Column widths come from cached per-character advances; they must equal what PyMuPDF measures,
    so the pages' bytes do not change (fallback fonts for CJK and symbols included)."""
    import random

    import pymupdf

    from router.render.tables import text_width

    font = pymupdf.Font("figo")
    rng = random.Random(7)
    samples = ["", "M" * 4, "1024-x-1024/50-steps/bedrock", "中文混合 text ①→", "Ünïcödé façade"]
    samples += ["".join(chr(rng.randint(32, 0x9FFF)) for _ in range(40)) for _ in range(100)]
    for text in samples:
        for em in (8.5, 11.0, 13.37):
            assert text_width(text, em) == font.text_length(text, fontsize=em), (text, em)


def test_a_column_at_its_natural_width_holds_its_widest_cell_on_one_line() -> None:
    """A cell's padding is half a pixel at even ems; rounding the whole width set the content up to half
    a pixel narrower than the widest cell, which wrapped: ``Debian, main`` on two lines at 8, 10 and 12 px,
    and a CSV of 400 such rows drew 6 pages on Claude's where 4 hold it."""
    from router.render.tables import _cell_padding, text_width

    rows = [["id", "origin"], ["0", "Debian, main"], ["1", "local"]]
    for em in (8, 9, 10, 11, 12, 13):
        widths = table_widths(rows, 700, em)
        content = [w - _cell_padding(em) for w in widths]
        assert content[1] >= text_width("Debian, main", em), (em, content)
        assert all(c == round(c) for c in content), (em, content)  # CSS widths are whole pixels


def _model_table(rows: int = 240) -> str:
    """A price sheet like litellm's: model names mostly short, one in twelve three times as long."""
    lines = ["| Model | Provider | Max input | Input $/M |", "|---|---|---:|---:|"]
    for i in range(rows):
        name = f"vendor-{i % 7}.model-{i:03d}-v{i % 4}"
        if i % 12 == 5:
            name = f"region-{i % 3}.vendor-{i % 7}.family-{i:03d}-instruct-2025{i % 12 + 1:02d}15-v{i % 4}:0"
        provider = ("openai", "azure", "vertex_ai", "mistral", "groq")[i % 5]
        lines.append(f"| {name} | {provider} | {(i * 7919) % 400000} | {i * 0.05:.2f} |")
    return "\n".join(lines)


def test_where_area_is_billed_rare_wide_cells_wrap_and_the_table_takes_less() -> None:
    """One long model name in twelve set the key column's width for every row: litellm's price table
    at 50k tokens was 571 px wide on Claude's pages (3.73x at dense); its longest names wrapped, 475
    px (4.35x). Where tiles are billed, the width beside a table costs nothing and the table keeps its
    natural widths."""
    cells = _cells(_model_table())
    natural = table_widths(cells, 700, 8)
    least = table_widths(cells, 700, 8, by_area=True, line_height=1.0)
    assert sum(least) < 0.85 * sum(natural), (least, natural)
    assert all(f <= w + 1e-9 for w, f in zip(least, _column_floors(cells, 8), strict=True))
    uniform = [["name", "size"]] + [[f"item-{i:04d}", f"{i} kB"] for i in range(100)]
    assert table_widths(uniform, 700, 8, by_area=True) == table_widths(uniform, 700, 8)


@pytest.mark.parametrize("family", ["anthropic", "qwen2.5-vl"])
def test_a_table_with_rare_wide_cells_bills_less_and_reads_back_where_area_is_billed(family: str) -> None:
    """120 rows of the price sheet at dense: at their natural widths 647 image tokens on Claude's pages
    and 758 on Qwen2.5-VL's; in the least area 481 and 562, read back 99.92% and 99.75%, every word on
    the pages."""
    from router.fidelity.readback import check
    from router.render.flow import layout_flow

    table = _model_table(120)
    t = RenderTarget(get_profile(family), get_density("dense", family))
    rendering = render_text(table, "table", "latin", None, t)
    assert not rendering.undrawn
    setting = t.density.typesetting("table", "latin")
    css = markup.base_css(setting.em_px, setting.line_height)
    full = t.profile.page_width - 2 * t.density.margin_px
    natural = layout_flow(markup.markdown_html(table, full, setting.em_px), css, t.density, t.profile, grayscale=True)
    natural_tokens = sum(t.profile.image_tokens(p.shape[1], p.shape[0]) for p in natural.pages)
    assert rendering.image_tokens <= 0.85 * natural_tokens, (rendering.image_tokens, natural_tokens)
    assert check(table, "table", "latin", rendering, t.profile).char_accuracy >= 0.98


def test_tables_keep_natural_widths_where_tiles_are_billed() -> None:
    """On gpt-4o's tiles the blank beside a table is paid for anyway: wrapping cells would only add rows."""
    from router.render.flow import layout_flow

    table = _model_table(60)
    t = RenderTarget(get_profile("openai-tile"), get_density("dense", "openai-tile"))
    setting = t.density.typesetting("table", "latin")
    css = markup.base_css(setting.em_px, setting.line_height)
    full = t.profile.page_width - 2 * t.density.margin_px
    drawn = render_text(table, "table", "latin", None, t)
    natural = layout_flow(markup.markdown_html(table, full, setting.em_px), css, t.density, t.profile, grayscale=True)
    assert [(p.width, p.height) for p in drawn.pages] == [(p.shape[1], p.shape[0]) for p in natural.pages]


def _cells(table: str) -> list[list[str]]:
    tokens = markup._markdown().parse(table)
    rows: list[list[str]] = []
    for k, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            rows[-1].append(tokens[k + 1].content)
    return rows


def test_no_page_holds_only_a_tables_bottom_rule() -> None:
    """A page break just above a table's bottom rule left the rule, grey and lighter than ink, for a
    page of its own: a price sheet of 120 rows at dense on Claude drew a second page 10 px tall, one
    rule. Every page has ink on it."""
    import io

    import numpy as np
    from PIL import Image

    t = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    for rows in range(100, 140, 4):
        for page in render_text(_model_table(rows), "table", "latin", None, t).pages:
            grey = np.asarray(Image.open(io.BytesIO(page.png)).convert("L"))
            assert grey.min() < 160, (rows, page.width, page.height)


def test_a_table_is_narrowed_only_where_it_is_the_widest_thing_on_the_page() -> None:
    """The page is cropped to its widest content. litellm's price CSV at exact on Claude is drawn as two
    column groups: each in its own least area, the narrower group saved nothing and grew taller (3,815
    image tokens against 3,596). Beside a paragraph as wide as the page, a table keeps its natural widths."""
    from router.render.flow import layout_flow
    from router.tools.bench_corpus import price_csv

    t = RenderTarget(get_profile("anthropic"), get_density("exact", "anthropic"))
    setting = t.density.typesetting("csv", "latin")
    css = markup.base_css(setting.em_px, setting.line_height)
    full = t.profile.page_width - 2 * t.density.margin_px
    csv = price_csv(6000).text
    natural = layout_flow(markup.csv_html(csv, full, setting.em_px), css, t.density, t.profile, grayscale=True)
    natural_tokens = sum(t.profile.image_tokens(p.shape[1], p.shape[0]) for p in natural.pages)
    assert render_text(csv, "csv", "latin", "csv", t).image_tokens <= natural_tokens
    prose = "A paragraph as wide as the page, " * 12
    cells = _cells(_model_table(60))
    html = markup.markdown_html(prose + "\n\n" + _model_table(60), full, 8, by_area=True)
    natural_widths = table_widths(cells, full - 2, 8)
    padding = 0.5 * 8 + 1.5
    assert f"width:{round(natural_widths[0] - padding)}px" in html
    assert f"width:{round(natural_widths[0] - padding)}px" not in markup.markdown_html(
        _model_table(60), full, 8, by_area=True
    )


def test_a_long_table_of_empty_cells_is_drawn_page_after_page() -> None:
    """Past its header such a table has rules and no ink: no piece of it may be cut short of the last ink."""
    table = "| a | b |\n|---|---|\n" + "|  |  |\n" * 3000
    t = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    pages = render_text(table, "table", "latin", None, t).pages
    assert len(pages) >= 3 and all(page.height > 1000 for page in pages[:-1])
