"""The local encoder prepares pages exactly as the model family's own image processor does, and the
geometry the policy bills by is the same arithmetic."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from router.errors import ConfigError
from router.local.preprocess import ProcessorSettings, preprocess
from router.providers.geometry import PROFILES
from tests.local.conftest import HUB_PROCESSOR

SIZES = [(784, 1568), (500, 700), (28, 28), (1000, 37), (3000, 2000), (61, 4000)]


def hf_processor() -> object:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    return Qwen2VLImageProcessorPil(min_pixels=HUB_PROCESSOR["min_pixels"], max_pixels=HUB_PROCESSOR["max_pixels"])


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_pixels_and_grid_match_the_model_families_own_processor(
    tower_dir: Path, page_png: Callable[..., bytes], width: int, height: int
) -> None:
    import io

    png = page_png(width, height)
    ours = preprocess(png, ProcessorSettings.from_checkpoint(tower_dir))
    theirs = hf_processor()(images=[Image.open(io.BytesIO(png))], return_tensors="np")  # type: ignore[operator]
    assert ours.grid == tuple(theirs["image_grid_thw"][0])
    assert ours.pixel_values.shape == theirs["pixel_values"].shape
    assert np.abs(ours.pixel_values - theirs["pixel_values"]).max() < 1e-5


def test_a_page_the_router_drew_is_prepared_like_the_processor_does(tower_dir: Path, english_prose: str) -> None:
    import io

    from router.render.chunks import RenderTarget, render_text
    from router.render.density import get_density

    settings = ProcessorSettings.from_checkpoint(tower_dir)
    profile = settings.profile()
    rendering = render_text(english_prose, "prose", "latin", None, RenderTarget(profile, get_density("balanced")))
    page = rendering.pages[0]
    ours = preprocess(page.png, settings)
    theirs = hf_processor()(images=[Image.open(io.BytesIO(page.png)).convert("RGB")], return_tensors="np")  # type: ignore[operator]
    assert np.abs(ours.pixel_values - theirs["pixel_values"]).max() < 1e-5
    # The tokens the page was billed at are the embeddings the tower returns, plus the two
    # vision start/end tokens around them.
    assert page.tokens == settings.tokens(page.width, page.height) + 2


@pytest.mark.parametrize(("width", "height"), [*SIZES, (784, 1569), (1200, 900), (10, 10)])
def test_the_geometry_row_bills_what_the_processor_produces(tower_dir: Path, width: int, height: int) -> None:
    settings = ProcessorSettings.from_checkpoint(tower_dir)
    patches = hf_processor().get_number_of_image_patches(height, width)  # type: ignore[attr-defined]
    assert settings.tokens(width, height) == patches // 4
    # The shipped qwen2.5-vl row (the hub checkpoints' settings) and the checkpoint's own agree.
    assert PROFILES["qwen2.5-vl"].image_tokens(width, height) == patches // 4 + 2
    assert settings.profile().image_tokens(width, height) == patches // 4 + 2


def test_a_smaller_pixel_budget_shrinks_the_page_the_policy_plans_with(tmp_path: Path, tower_dir: Path) -> None:
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((tower_dir / name).read_bytes())
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps({**HUB_PROCESSOR, "max_pixels": 28 * 28 * 1280, "min_pixels": 56 * 56})
    )
    profile = ProcessorSettings.from_checkpoint(tmp_path).profile()
    assert profile.page_width * profile.page_height <= 28 * 28 * 1280
    assert profile.page_width % 28 == 0 and profile.page_height % 28 == 0
    assert profile.image_tokens(profile.page_width, profile.page_height) == (
        profile.page_width // 28 * (profile.page_height // 28) + 2
    )


def test_a_checkpoint_of_another_family_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(ConfigError, match="'llava' is not one the local encoder builds; supported: qwen2_5_vl"):
        ProcessorSettings.from_checkpoint(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.json: not found"):
        ProcessorSettings.from_checkpoint(tmp_path / "nowhere")
