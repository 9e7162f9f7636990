"""A table cut across columns and pages has its head drawn again above each piece that continues it,
and the read-back's reference repeats it where the pages do."""

from __future__ import annotations

import csv
import io

import pymupdf
import pytest

from router.fidelity.engines import get_engine
from router.fidelity.readback import _read_column, score, visible
from router.fidelity.reading_order import split_columns
from router.models import Rendering
from router.providers.geometry import get_profile
from router.render import chunks, heads, markup
from router.render.chunks import RenderTarget
from router.render.density import get_density

HEADER = ["id", "package", "version", "size_kb", "origin"]


def _records(rows: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow([i, f"lib{i:03d}", f"{i // 50}.{i % 50}.{i % 7}", i * 17 % 9000, "main" if i % 3 else "local"])
    return out.getvalue()


@pytest.mark.parametrize(("family", "density"), [("anthropic", "dense"), ("openai-tile", "balanced")])
def test_every_piece_of_a_long_table_starts_with_its_head(family: str, density: str) -> None:
    """Read back column by column, each piece of 200 records starts with the header's names, and
    the read-back, scored against the markup as the pages show it, still reads at the bar."""
    target = RenderTarget(get_profile(family), get_density(density, family))
    text = _records(200)
    rendering = chunks._render(text, "csv", "latin", "csv", target)
    pieces = sum(len(page.gutters) + 1 for page in rendering.pages)
    assert pieces >= 2
    columns = _columns(rendering, target)
    assert [column.split()[:5] for column in columns] == [HEADER] * pieces, [c[:80] for c in columns]
    assert rendering.shown.count("package") == pieces
    read = score("\n".join(columns), text, "csv", engine="rapidocr", shown=rendering.shown)
    assert read.char_accuracy >= 0.995


def _columns(rendering: Rendering, target: RenderTarget) -> list[str]:
    """The text of each column of each page, read on its own as the read-back reads it."""
    texts = []
    for page in rendering.pages:
        image = visible(page, target.profile)
        scale = image.width / page.width
        for part in split_columns(image, [round(x * scale) for x in page.gutters]):
            texts.append(_read_column(get_engine("rapidocr"), part, "latin", True))
    return texts


def test_a_last_page_goes_without_its_head_where_the_head_alone_bills_another_row_of_tiles(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """gpt-4o bills 512-px tiles: 200 rows of litellm's price map as CSV end 15 px into a tile row,
    the 15 px of the repeated head. The last page goes without it, every row still on the pages and
    read back at the bar; the pages before keep theirs."""
    from router.render import flow
    from router.tools.bench_corpus import price_csv

    target = RenderTarget(get_profile("openai-tile"), get_density("balanced", "openai-tile"))
    text = price_csv(6000).text
    rendering = chunks._render(text, "csv", "latin", "csv", target)
    monkeypatch.setattr(flow, "_drop_costly_heads", lambda *args, **kwargs: None)
    with_heads = chunks._render(text, "csv", "latin", "csv", target)
    assert len(rendering.pages) == len(with_heads.pages) == 2
    assert rendering.image_tokens < with_heads.image_tokens
    assert rendering.pages[-1].height <= 512 < with_heads.pages[-1].height
    # The price map is drawn in two groups of columns: the second group's head is not drawn again.
    head = ("model", "input_cost_per_token", "output_cost_per_token")
    assert [with_heads.shown.split().count(name) - rendering.shown.split().count(name) for name in head] == [1, 1, 1]
    assert len(with_heads.shown.split()) - len(rendering.shown.split()) == 3
    columns = _columns(rendering, target)
    read = score("\n".join(columns), text, "csv", engine="rapidocr", shown=rendering.shown)
    assert read.char_accuracy >= 0.995


def test_a_table_that_fits_one_piece_is_drawn_once() -> None:
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    rendering = chunks._render(_records(20), "csv", "latin", "csv", target)
    assert rendering.shown.count("package") == 1


def test_the_reference_repeats_the_head_before_the_row_a_piece_starts_with() -> None:
    rows = "<tbody><tr><td>x</td></tr><tr><td>y</td></tr></tbody>"
    body = f"<p>a</p><table><thead><tr><th>name</th></tr></thead>{rows}</table>"
    shown = heads.heads_repeated(body, [2])  # rows are numbered from the head's: y is row 2
    head, x, y = (shown.index(row) for row in ("<tr><th>name", "<tr><td>x", "<tr><td>y"))
    assert head < x < shown.rindex("<tr><th>name") < y
    assert heads.heads_repeated(body, []) == body
    assert heads.tagged(body).count('id="hcr-') == 4  # the table and its three rows


def test_a_head_taller_than_a_quarter_of_a_column_is_not_repeated() -> None:
    """A head that would crowd out the rows below it (a long header cell wrapped over many lines)."""
    title = " ".join(["a long column title"] * 12)
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(40))
    body = heads.tagged(f"<table><thead><tr><th>{title}</th></tr></thead><tbody>{rows}</tbody></table>")
    archive, _ = markup.fonts()
    story = pymupdf.Story(html=body, user_css=markup.base_css(10, 1.2), archive=archive)
    story.place(pymupdf.Rect(0, 0, 120, 10_000))
    tall = heads.TableHeads(story, 10_000)
    head = tall.at(400)
    assert head is not None and head.bottom - head.top > 100  # the title wraps over many lines
    assert heads.TableHeads(story, 4 * (head.bottom - head.top) - 1).at(400) is None
