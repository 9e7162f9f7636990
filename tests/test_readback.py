"""Rendered pages read back with a real OCR engine at the resolution the provider sees.

Default density (``balanced``): >= 0.98 character accuracy for English prose, code and tables, and
>= 0.95 for Chinese. OCR takes seconds per page on these CPUs, so each case reads one page.
"""

from __future__ import annotations

import pytest

from router.density import get_density
from router.geometry import get_profile
from router.render import RenderTarget, render_text
from tests.readback import char_accuracy, read_page


def accuracy(text: str, kind: str, script: str, language: str | None, family: str, density: str = "balanced") -> float:
    profile = get_profile(family)
    rendering = render_text(text, kind, script, language, RenderTarget(profile, get_density(density)))
    assert len(rendering.pages) == 1, "keep read-back samples to one page"
    read = read_page(rendering.pages[0], profile, rendering.columns)
    if kind == "table":  # rules between cells are read as bars by some engines; the markup is not content
        read, text = read.replace("|", ""), text.replace("|", "").replace("---", "")
    return char_accuracy(read, text)


@pytest.mark.parametrize(
    "family", ["openai-tile", "openai-patch-mini", "anthropic", "gemini-2", "gemini-3", "qwen2.5-vl", "qwen3-vl"]
)
def test_english_prose_reads_back(family: str, english_prose: str) -> None:
    assert accuracy(english_prose[:2400], "prose", "latin", None, family) >= 0.98


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_code_reads_back(family: str, python_code: str) -> None:
    sample = "\n".join(python_code.splitlines()[:70])
    assert accuracy(sample, "code", "latin", "python", family) >= 0.98


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_table_reads_back(family: str, markdown_table: str) -> None:
    assert accuracy(markdown_table, "table", "latin", None, family) >= 0.98


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_chinese_reads_back(family: str, chinese_prose: str) -> None:
    assert accuracy(chinese_prose, "prose", "cjk", None, family) >= 0.95


def test_scoring_catches_a_page_rendered_too_small(english_prose: str) -> None:
    from router.density import Density, Typesetting

    tiny = Density(
        name="tiny",
        latin=Typesetting(em_px=4.5, line_height=1.1),
        cjk=Typesetting(em_px=5),
        mono=Typesetting(em_px=5),
        margin_px=2,
    )
    profile = get_profile("anthropic")
    rendering = render_text(english_prose[:2400], "prose", "latin", None, RenderTarget(profile, tiny))
    assert char_accuracy(read_page(rendering.pages[0], profile, rendering.columns), english_prose[:2400]) < 0.9


def test_char_accuracy_on_known_inputs() -> None:
    assert char_accuracy("hello world", "hello  world") == 1.0
    assert char_accuracy("hel1o", "hello") == pytest.approx(0.8)
    assert char_accuracy("（a，b）‘c’", "(a,b)'c'") == 1.0  # full-width and curly forms fold
    assert char_accuracy("", "abc") == 0.0
