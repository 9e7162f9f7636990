"""Worked examples of each encoder family's image-token formula, and model -> family resolution."""

from __future__ import annotations

import pytest

from router.errors import UnknownEncoderError
from router.providers.geometry import PROFILES, get_profile, resolve_encoder


@pytest.mark.parametrize(
    ("family", "size", "visible", "tokens"),
    [
        # OpenAI tile: 1024^2 -> shortest side 768 -> 768x768 = 4 tiles -> 85 + 4 * 170
        ("openai-tile", (1024, 1024), (768, 768), 765),
        # OpenAI's own example: 2048x4096 -> fit 2048 -> 1024x2048 -> 768x1536 = 6 tiles
        ("openai-tile", (2048, 4096), (768, 1536), 1105),
        # The strip the router uses: never resized, 4 tiles
        ("openai-tile", (512, 2048), (512, 2048), 765),
        ("openai-tile-gpt5", (512, 2048), (512, 2048), 70 + 4 * 140),
        ("openai-tile-4o-mini", (512, 512), (512, 512), 2833 + 5667),
        # OpenAI patch: 1024x1024 = 32x32 patches, times gpt-4.1-mini's 1.62
        ("openai-patch-mini", (1024, 1024), (1024, 1024), 1659),
        # OpenAI's own example: 1800x2400 shrinks to 1056x1408 = 33x44 = 1452 patches
        ("openai-patch-mini", (1800, 2400), (1056, 1408), 2353),
        ("openai-patch-nano", (1800, 2400), (1056, 1408), 3572),
        # Anthropic: w*h/750; 1000x1000 is Anthropic's documented ~1334
        ("anthropic", (1000, 1000), (1000, 1000), 1334),
        ("anthropic", (768, 1536), (768, 1536), 1573),
        # over 1568 px long edge and ~1.19 MP: shrunk by the tighter of the two
        ("anthropic", (2000, 1000), (1544, 772), 1590),
        # Gemini 2.x: 258 flat when both sides <= 384, else 258 per 768x768 tile
        ("gemini-2", (384, 384), (384, 384), 258),
        ("gemini-2", (1000, 1000), (1000, 1000), 4 * 258),
        ("gemini-2", (768, 1536), (768, 1536), 516),
        ("gemini-3", (1024, 1024), (1024, 1024), 1120),
        # Qwen2.5-VL smart_resize: 1000 -> 1008 = 36 units of 28 px; + vision start/end tokens
        ("qwen2.5-vl", (1000, 1000), (1008, 1008), 36 * 36 + 2),
        ("qwen2.5-vl", (784, 1568), (784, 1568), 28 * 56 + 2),
        ("qwen3-vl", (768, 1536), (768, 1536), 24 * 48 + 2),
    ],
)
def test_worked_examples(family: str, size: tuple[int, int], visible: tuple[int, int], tokens: int) -> None:
    profile = get_profile(family)
    assert profile.visible_size(*size) == visible
    assert profile.image_tokens(*size) == tokens


@pytest.mark.parametrize("family", sorted(PROFILES))
def test_pages_are_never_downscaled(family: str) -> None:
    profile = PROFILES[family]
    assert profile.visible_size(profile.page_width, profile.page_height) == (profile.page_width, profile.page_height)


@pytest.mark.parametrize("family", sorted(PROFILES))
def test_every_page_width_is_read_unscaled_and_billed_in_proportion(family: str) -> None:
    """A wider page (``page_widths``, Gemini 2's two and three tiles across) is never downscaled and
    bills as many page-widths' tokens as it is page-widths wide: no family pays more per pixel for it."""
    profile = PROFILES[family]
    assert profile.page_widths[0] == profile.page_width
    for n, width in enumerate(profile.page_widths, start=1):
        assert width == n * profile.page_width
        assert profile.visible_size(width, profile.page_height) == (width, profile.page_height)
        assert profile.image_tokens(width, profile.page_height) == n * profile.page_tokens
    assert len(PROFILES["gemini-2"].page_widths) == 3


def test_strip_beats_square_on_tile_models() -> None:
    tile = get_profile("openai-tile")
    assert tile.image_tokens(512, 2048) == tile.image_tokens(768, 768) == 765
    assert (512 * 2048) / (768 * 768) > 1.77


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-4o", "openai-tile"),
        ("openai/gpt-4.1", "openai-tile"),
        ("azure/gpt-4o", "openai-tile"),
        ("gpt-4o-mini", "openai-tile-4o-mini"),
        ("gpt-4.1-mini", "openai-patch-mini"),
        ("gpt-4.1-nano", "openai-patch-nano"),
        ("o4-mini", "openai-patch-o4-mini"),
        ("gpt-5", "openai-tile-gpt5"),
        ("gpt-5-mini", "openai-patch-mini"),
        ("claude-sonnet-4-6", "anthropic"),
        ("claude-sonnet-4-5", "anthropic"),  # retired on 2026-11-30; the name still routes
        ("anthropic/some-private-deployment", "anthropic"),
        ("bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "anthropic"),
        ("gemini/gemini-2.5-flash", "gemini-2"),
        ("gemini/gemini-3-pro-preview", "gemini-3"),
        ("hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"),
        ("openai/Qwen3-VL-8B-Instruct", "qwen3-vl"),
    ],
)
def test_resolve_encoder(model: str, family: str) -> None:
    assert resolve_encoder(model).name == family


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(UnknownEncoderError, match="anthropic"):
        get_profile("nope")


def test_room_is_what_the_billed_tiles_still_hold() -> None:
    # Whole tiles or whole images: a short page pays for the rest of its tile.
    assert get_profile("openai-tile").room(512, 100) == 512 and get_profile("openai-tile").room(512, 513) == 1024
    assert get_profile("gemini-2").room(768, 300) == 768 and get_profile("gemini-2").room(768, 800) == 1536
    assert get_profile("gemini-3").room(1024, 10) == 1024
    assert all(get_profile(name).bills_whole_tiles for name in ("openai-tile", "gemini-2", "gemini-3"))
    # Billed by area: no room beyond the page itself (Qwen: up to one 28-px unit of rounding).
    assert not any(get_profile(name).bills_whole_tiles for name in ("anthropic", "qwen2.5-vl", "openai-patch-mini"))
    assert get_profile("anthropic").room(768, 700) == 700
    qwen = get_profile("qwen2.5-vl")
    assert 700 <= qwen.room(784, 700) < 700 + 28
    for profile in (get_profile("anthropic"), get_profile("gemini-2"), qwen):
        assert profile.image_tokens(profile.page_width, profile.room(profile.page_width, 300)) == profile.image_tokens(
            profile.page_width, 300
        )
