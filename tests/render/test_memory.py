"""Memory while a long part is drawn: its strip is held once, and its pages one at a time."""

from __future__ import annotations

import tracemalloc

from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density

_SECTION = (
    "## Section {i}\n\nSome *prose* with `inline code` and a [link](https://example.com/{i}).\n\n"
    "```python\ndef f{i}(x):\n    return x * {i}  # comment\n```\n\n"
)


def test_a_long_part_is_drawn_holding_its_strip_once() -> None:
    """43k characters of highlighted markdown at exact on gpt-4o's tiles: 12 colour pages, 28 MB of
    pixels. The strip was joined from its segments (held twice while copied) and every page composed
    before the first was encoded: 69.5 MB at the peak, 2.48 times the pages. The segments are kept
    apart now and each page is composed as it is encoded: 50.1 MB, 1.78 times."""
    target = RenderTarget(get_profile("openai-tile"), get_density("exact", "openai-tile"))
    render_text("warm *up*", "markdown", "latin", None, target)  # fonts and caches outside the count
    text = "".join(_SECTION.format(i=i) for i in range(300))
    tracemalloc.start()
    try:
        rendering = render_text(text, "markdown", "latin", None, target)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pixels = sum(page.width * page.height * 3 for page in rendering.pages)
    assert len(rendering.pages) > 8
    assert peak < 2.1 * pixels, (peak / 2**20, pixels / 2**20)
