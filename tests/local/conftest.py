"""Tiny, randomly initialised vision towers of the real Qwen architectures, saved as checkpoints the
way ``save_pretrained`` writes them, and loaded back only through the public loader."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

# The Qwen2.5-VL hub checkpoints' preprocessor_config.json (Qwen/Qwen2.5-VL-7B-Instruct).
HUB_PROCESSOR = {
    "min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor", "processor_class": "Qwen2_5_VLProcessor",
}  # fmt: skip
OUT_HIDDEN = 48


def tiny_vision_config() -> object:
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig

    return Qwen2_5_VLVisionConfig(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=OUT_HIDDEN,
        fullatt_block_indexes=[1], window_size=112,
    )  # fmt: skip


def save_processor(folder: Path) -> Path:
    (folder / "preprocessor_config.json").write_text(json.dumps(HUB_PROCESSOR))
    return folder


@pytest.fixture(scope="session")
def tower_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Qwen2.5-VL vision tower alone (model_type qwen2_5_vl_vision), one safetensors file."""
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("qwen25-tower")
    Qwen2_5_VisionTransformerPretrainedModel(tiny_vision_config()).save_pretrained(folder)
    return save_processor(folder)


@pytest.fixture(scope="session")
def full_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A whole Qwen2.5-VL model (weights under visual.*), and the same model's tower saved alone."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(1)
    text = {"hidden_size": OUT_HIDDEN, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
            "num_key_value_heads": 1, "vocab_size": 128}  # fmt: skip
    config = Qwen2_5_VLConfig(vision_config=tiny_vision_config().to_dict(), text_config=text)
    model = Qwen2_5_VLForConditionalGeneration(config)
    full = tmp_path_factory.mktemp("qwen25-full")
    model.save_pretrained(full)
    alone = tmp_path_factory.mktemp("qwen25-visual")
    model.model.visual.save_pretrained(alone)
    return save_processor(full), save_processor(alone)


@pytest.fixture(scope="session")
def qwen2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Qwen2-VL vision tower (no window attention, LayerNorm, its own config names)."""
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel

    torch.manual_seed(2)
    folder = tmp_path_factory.mktemp("qwen2-tower")
    config = Qwen2VLVisionConfig(depth=2, embed_dim=32, hidden_size=OUT_HIDDEN, num_heads=2, mlp_ratio=2)
    Qwen2VisionTransformerPretrainedModel(config).save_pretrained(folder)
    return save_processor(folder)


@pytest.fixture(scope="session")
def page_png() -> Callable[[int, int, str], bytes]:
    """A page of text of a given size, drawn by the router's own renderer-free PIL path."""
    import io

    from PIL import Image, ImageDraw

    def make(width: int, height: int, text: str = "") -> bytes:
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        for row in range(0, height - 12, 14):
            draw.text((6, row), (text or f"row {row}: the quick brown fox 0x{row:04x}") * 3, fill="black")
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    return make
