"""Reading order: OCR boxes back in the order the text was written, ruled tables cell by cell."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from router.fidelity.engines import TextBox
from router.fidelity.readback import check
from router.fidelity.reading_order import in_reading_order, ruled_grid, table_parts
from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Typesetting, get_density

RULE = (153, 153, 153)


def ruled_table(rows: list[int], columns: list[int], *, width: int = 400, height: int = 200) -> Image.Image:
    """A blank page with a table's rules: horizontal at ``rows``, vertical at ``columns`` between them."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for y in rows:
        draw.line([(columns[0], y), (columns[-1], y)], fill=RULE)
    for x in columns:
        draw.line([(x, rows[0]), (x, rows[-1])], fill=RULE)
    return image


def test_a_wrapped_cell_is_read_before_the_next_cell() -> None:
    """Row one's first cell wraps onto a second line: read line by line, that line lands after the
    row's other cells; read cell by cell, in the order the row was written."""
    image = ruled_table(rows=[20, 60, 80], columns=[10, 150, 390])
    boxes = [
        TextBox(14, 24, 140, 36, "1024-x-1024/50-steps/bed"),
        TextBox(154, 24, 220, 36, "bedrock"),
        TextBox(14, 42, 120, 54, "rock/amazon.nova"),
        TextBox(14, 64, 100, 76, "ai21.j2-mid"),
        TextBox(154, 64, 220, 76, "bedrock"),
    ]
    assert in_reading_order(boxes).split("\n") == [
        "1024-x-1024/50-steps/bed bedrock", "rock/amazon.nova", "ai21.j2-mid bedrock"
    ]  # fmt: skip
    assert in_reading_order(boxes, ruled_grid(image)).split("\n") == [
        "1024-x-1024/50-steps/bed", "rock/amazon.nova", "bedrock", "ai21.j2-mid", "bedrock"
    ]  # fmt: skip


def test_text_outside_a_table_keeps_its_lines() -> None:
    """Lines above, below and between rules that no vertical rule crosses (a paragraph under a
    horizontal rule) are read line by line, left to right."""
    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).line([(10, 50), (390, 50)], fill=RULE)
    boxes = [TextBox(200, 60, 300, 72, "right"), TextBox(10, 20, 90, 32, "top"), TextBox(10, 61, 90, 71, "left")]
    assert in_reading_order(boxes, ruled_grid(image)).split("\n") == ["top", "left right"]


def test_engines_lines_are_kept_where_they_say() -> None:
    """tesseract says which line each word is on: a small mark (a hyphen's box, a few pixels high)
    does not start a line of its own."""
    boxes = [
        TextBox(40, 14, 48, 16, "-", (1, 1, 1)),
        TextBox(10, 10, 38, 22, "well", (1, 1, 1)),
        TextBox(50, 10, 80, 22, "known", (1, 1, 1)),
        TextBox(10, 30, 40, 42, "next", (1, 1, 2)),
    ]
    assert in_reading_order(boxes) == "well - known\nnext"


def test_rules_are_found_on_a_rendered_table_and_glyphs_are_not() -> None:
    """The price CSV drawn at Claude's dense setting, where cell padding is 1.5 px: every row rule
    and every column rule is found, and no letter's stroke is taken for one. At 7 px the last rule
    falls across two lighter rows, and the page used to end above it."""
    from router.tools.bench_corpus import price_csv

    document = price_csv(1500)
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    rendering = render_text(document.text, "csv", "latin", "csv", target)
    grid = ruled_grid(Image.open(io.BytesIO(rendering.pages[0].png)))
    records = document.text.strip("\n").count("\n") + 1
    assert len(grid.rows) == records + 1  # above the header, and under every record
    inside = grid.columns[1:-1]
    assert len(inside) == records and all(len(columns) == 6 + 1 for columns in inside)
    assert grid.columns[0] == grid.columns[-1] == []  # the margins are no table


def test_a_table_whose_cells_wrap_reads_back_at_the_exact_bar() -> None:
    """The bench's price CSV on Claude at 10 px (``exact`` for prose until prose had two calibration
    samples; tables take 12 px, where this one is drawn as column groups): model names wrap in their
    cells. Read line by line it scored 88.6% (every wrapped name split around its row); cell by cell
    it meets 99.8%. Cut to 3,000 characters: the names that wrap are there, and the OCR takes 15 s, not 43."""
    from router.tools.bench_corpus import price_csv

    document = price_csv(3000)
    profile = get_profile("anthropic")
    exact = get_density("exact", "anthropic")
    target = RenderTarget(profile, exact.model_copy(update={"table": Typesetting(em_px=10, line_height=1.1)}))
    rendering = render_text(document.text, "csv", "latin", "csv", target)
    assert "Columns 1 and" not in rendering.shown  # one table, not column groups: names wrap in their cells
    assert check(document.text, "csv", "latin", rendering, profile).char_accuracy >= 0.998


def test_each_table_column_is_cut_out_on_its_own() -> None:
    """Read as one image, an engine can join two neighbouring cells into one box across the rule
    between them; each column is cut out inside its rules, the rules between its rows painted out,
    and the page is read around the table."""
    from router.tools.bench_corpus import price_csv

    document = price_csv(1500)
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    page = render_text(document.text, "csv", "latin", "csv", target).pages[0]
    image = Image.open(io.BytesIO(page.png)).convert("RGB")
    grid = ruled_grid(image)
    rest, parts = table_parts(image, grid)
    assert len(grid.tables()) == 1 and len(parts) == 6  # six columns
    for part in parts:
        inside = ruled_grid(part.image)
        assert inside.rows == [] and not any(inside.columns)  # no rule left on a column
    left, top, right, bottom = grid.tables()[0].bounds
    assert Image.Image.getextrema(rest.crop((left, top, right, bottom)).convert("L")) == (255, 255)


def test_neighbouring_header_cells_are_read_apart() -> None:
    """The Latin calibration sample at 11 px on Claude: read as one image, RapidOCR read the header
    cells "p99 latency" and "Error rate" as one box; column by column they are two cells."""
    from router.tools.calibrate import _probe_density
    from router.tools.calibration_samples import corpus

    sample = corpus()["latin"][0]
    profile = get_profile("anthropic")
    target = RenderTarget(profile, _probe_density("latin", Typesetting(em_px=11, line_height=1.1)))
    rendering = render_text(sample.text, sample.kind, sample.script, sample.language, target)
    lines = check(sample.text, sample.kind, sample.script, rendering, profile).text.split("\n")
    assert any("latency" in line for line in lines) and any("Error" in line for line in lines)
    assert not any("latency" in line and "Error" in line for line in lines)
