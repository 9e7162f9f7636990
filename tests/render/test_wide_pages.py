"""Pages wider than a tile where the family bills them in proportion (Gemini 2): monospace columns and
narrow tables too wide for two to a tile stand side by side on a page of two or three tiles."""

from __future__ import annotations

import pytest

from router.fidelity.readback import check
from router.providers.geometry import EncoderProfile, get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density

GEMINI = get_profile("gemini-2")
ONE_TILE = GEMINI.model_copy(update={"max_page_width": 0})  # the same family, its pages one tile wide

_PACKAGES = ["libc6", "libssl3", "python3.11-minimal", "openssh-client", "ca-certificates", "libgcc-s1"]


def _dpkg_log(lines: int) -> str:
    """A dpkg log: lines of 83 to 96 characters, about 460 px at Gemini 2's `dense` setting, too wide
    for two to a 768-px tile."""
    actions = ["status installed", "status half-configured", "status unpacked", "configure", "upgrade"]
    return "\n".join(
        f"2026-11-{i % 28 + 1:02d} {i % 24:02d}:{i * 7 % 60:02d}:{i * 13 % 60:02d} {actions[i % 5]} "
        f"{_PACKAGES[i % 6]}:amd64 {i % 9 + 1}.{i % 17}.{i % 5}-{i % 3 + 1}deb12u{i % 4}"
        + (f" {i % 9 + 1}.{i % 17}.{i % 5}-{i % 3 + 1}" if i % 5 == 4 else "")
        + " (configured)"
        for i in range(lines)
    )


def _price_table(rows: int) -> str:
    """A table of model prices 437 px wide at Gemini 2's dense size: one to a tile leaves 43% of it blank."""
    head = "| model | provider | mode | input $/M | output $/M | cache read $/M | context |\n"
    return (
        head
        + "|---|---|---|---:|---:|---:|---:|\n"
        + "\n".join(
            f"| {_PACKAGES[i % 6]}-chat-{i:03d} | vertex_ai-language-{i % 7} | chat | {i * 0.37 % 15:.3f} "
            f"| {i * 1.13 % 60:.3f} | {i * 0.037 % 1.5:.4f} | {(i % 8 + 1) * 32_768:,} |"
            for i in range(rows)
        )
    )


def _render(text: str, kind: str, profile: EncoderProfile) -> tuple[int, list[tuple[int, int, int]]]:
    rendering = render_text(text, kind, "latin", None, RenderTarget(profile, get_density("dense", "gemini-2")))
    return rendering.image_tokens, [(p.width, p.height, len(p.gutters) + 1) for p in rendering.pages]


@pytest.mark.parametrize(("kind", "text"), [("log", _dpkg_log(200)), ("table", _price_table(150))])
def test_columns_too_wide_for_two_to_a_tile_stand_side_by_side_on_a_wider_page(kind: str, text: str) -> None:
    """One column to a 768-px tile, a fifth to a third of every tile is blank; on pages of two or three
    tiles the columns stand side by side, for fewer tokens, and the pages read back as well. (200 log
    lines: at 10 px / 1.0, Gemini 2's `dense` logs row since it was measured on its own pages, 150 fit
    one 1,509-px column, 1.1 before.)"""
    wide_tokens, wide = _render(text, kind, GEMINI)
    narrow_tokens, narrow = _render(text, kind, ONE_TILE)
    assert all(width <= 768 for width, _, _ in narrow)
    assert max(width for width, _, _ in wide) > 768 and max(columns for _, _, columns in wide) >= 2
    assert all(width <= GEMINI.page_widths[-1] for width, _, _ in wide)
    assert wide_tokens <= 0.9 * narrow_tokens, (wide_tokens, narrow_tokens)
    rendering = render_text(text, kind, "latin", None, RenderTarget(GEMINI, get_density("dense", "gemini-2")))
    assert check(text, kind, "latin", rendering, GEMINI).char_accuracy >= 0.98


def test_a_short_chunk_keeps_its_one_tile() -> None:
    """A wider page is taken only where it bills fewer tokens: forty log lines fit one tile."""
    tokens, pages = _render(_dpkg_log(40), "log", GEMINI)
    assert tokens == 258 * len(pages) and all(width <= 768 for width, _, _ in pages)


def test_a_last_page_goes_in_fewer_columns_where_its_wide_short_page_bills_more() -> None:
    """405 rows of the table fill one page of three columns, two tiles wide, and leave 117 px for each
    of three columns on the last: two tiles again (1,548 tokens in all). In one column the rest is
    307 px tall on one tile: 258 tokens fewer, every row still read back."""
    text = _price_table(405)
    rendering = render_text(text, "table", "latin", None, RenderTarget(GEMINI, get_density("dense", "gemini-2")))
    *full, last = rendering.pages
    assert full and all(len(page.gutters) == 2 and page.width > 768 for page in full)
    assert last.width <= 768 and not last.gutters and last.tokens == 258
    assert rendering.image_tokens == sum(page.tokens for page in full) + 258 == 1290
    assert check(text, "table", "latin", rendering, GEMINI).char_accuracy >= 0.98
