"""Pages into the patches a Qwen2-VL / Qwen2.5-VL vision tower reads, exactly as its image processor does.

The model's processor (``Qwen2VLImageProcessor``) converts to RGB, resizes with ``smart_resize`` to
multiples of ``patch_size * merge_size`` inside ``[min_pixels, max_pixels]`` (bicubic), rescales by
1/255, normalises with the CLIP mean and std, repeats the frame ``temporal_patch_size`` times and
cuts it into flat patches ordered merge-window by merge-window; ``image_grid_thw`` is
``(1, height / patch, width / patch)``. The settings come from the checkpoint's
``preprocessor_config.json``. The page geometry the policy bills by comes from the same settings and
the same ``smart_resize`` (``ProcessorSettings.profile``), so the token count the router plans with
is the one the encoder produces. NumPy and Pillow only: no torch needed to plan.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from router.errors import ConfigError
from router.providers.geometry import EncoderProfile, get_profile, smart_resize

__all__ = ["Patches", "ProcessorSettings", "checkpoint_profile", "preprocess"]

_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# Families the local encoder builds, by the checkpoint's ``model_type``; their geometry rows.
FAMILIES = {"qwen2_vl": "qwen2.5-vl", "qwen2_5_vl": "qwen2.5-vl"}


class ProcessorSettings(BaseModel):
    """What the model's image processor does to a page, read from the checkpoint."""

    model_config = ConfigDict(frozen=True)

    model_type: str = Field(description="the checkpoint's model_type: qwen2_vl or qwen2_5_vl")
    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 28 * 28 * 1280
    image_mean: tuple[float, float, float] = _CLIP_MEAN
    image_std: tuple[float, float, float] = _CLIP_STD

    @property
    def unit(self) -> int:
        """Pixels per side of one output token: a merge window of patches."""
        return self.patch_size * self.merge_size

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> ProcessorSettings:
        """The settings of the checkpoint at ``path`` (``config.json`` and ``preprocessor_config.json``)."""
        folder = Path(path)
        config = _read_json(folder / "config.json")
        model_type = str(config.get("model_type", ""))
        vision = config.get("vision_config", config)  # a full model, or just the vision tower
        if model_type.endswith("_vision"):  # a vision-only config names itself "qwen2_5_vl_vision"
            model_type = model_type[: -len("_vision")]
        if model_type not in FAMILIES:
            raise ConfigError(
                f"{folder / 'config.json'}: model_type {model_type or '(none)'!r} is not one the local encoder "
                f"builds; supported: {', '.join(sorted(FAMILIES))} (Qwen2-VL and Qwen2.5-VL checkpoints)"
            )
        processor_file = folder / "preprocessor_config.json"
        processor = _read_json(processor_file) if processor_file.exists() else {}
        size = processor.get("size") or {}
        values: dict[str, Any] = {
            "model_type": model_type,
            "patch_size": processor.get("patch_size", vision.get("patch_size", 14)),
            "merge_size": processor.get("merge_size", vision.get("spatial_merge_size", 2)),
            "temporal_patch_size": processor.get("temporal_patch_size", vision.get("temporal_patch_size", 2)),
            "min_pixels": processor.get("min_pixels", size.get("shortest_edge", 56 * 56)),
            "max_pixels": processor.get("max_pixels", size.get("longest_edge", 28 * 28 * 1280)),
        }
        if "image_mean" in processor:
            values["image_mean"] = tuple(processor["image_mean"])
        if "image_std" in processor:
            values["image_std"] = tuple(processor["image_std"])
        return cls(**values)

    def grid(self, width: int, height: int) -> tuple[int, int, int]:
        """``image_grid_thw`` of a ``width`` x ``height`` page: (frames, patch rows, patch columns)."""
        h, w = smart_resize(height, width, self.unit, self.min_pixels, self.max_pixels)
        return 1, h // self.patch_size, w // self.patch_size

    def tokens(self, width: int, height: int) -> int:
        """Embeddings the tower returns for such a page: one per merge window."""
        return self.tokens_of_grid(self.grid(width, height))

    def tokens_of_grid(self, grid: tuple[int, int, int]) -> int:
        t, h, w = grid
        return t * h * w // (self.merge_size * self.merge_size)

    def profile(self) -> EncoderProfile:
        """The geometry row for this checkpoint: its family's, with its own unit and pixel bounds."""
        family = get_profile(FAMILIES[self.model_type])
        unit = self.unit
        # The page keeps the family's shape, snapped to whole units and inside the checkpoint's budget.
        width = max(unit, family.page_width // unit * unit)
        height = max(unit, family.page_height // unit * unit)
        while width * height > self.max_pixels and height > unit:
            height -= unit
        return family.model_copy(
            update={
                "name": f"{family.name} (local)",
                "description": f"{family.description}; encoded here from the checkpoint",
                "patch_px": unit,
                "min_pixels": self.min_pixels,
                "max_pixels": self.max_pixels,
                "page_width": width,
                "page_height": height,
            }
        )


@functools.lru_cache(maxsize=16)
def checkpoint_profile(path: str) -> EncoderProfile:
    """The geometry row of the checkpoint at ``path``, read once per process (every request to a
    local model resolves its target with it)."""
    return ProcessorSettings.from_checkpoint(path).profile()


class Patches(BaseModel):
    """One page as the tower takes it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pixel_values: Any = Field(description="float32 array (patches, channels * temporal * patch * patch)")
    grid: tuple[int, int, int] = Field(description="image_grid_thw: (1, patch rows, patch columns)")


def preprocess(image: Image.Image | bytes, settings: ProcessorSettings) -> Patches:
    """``image`` (a PIL image or encoded PNG bytes) as flat patches and its grid."""
    if isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    image = image.convert("RGB")
    _, rows, columns = settings.grid(image.width, image.height)
    p, m, t = settings.patch_size, settings.merge_size, settings.temporal_patch_size
    resized = image.resize((columns * p, rows * p), Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32) * np.float32(1 / 255)
    pixels = (pixels - np.asarray(settings.image_mean, np.float32)) / np.asarray(settings.image_std, np.float32)
    channels = pixels.transpose(2, 0, 1)  # (C, H, W)
    c = channels.shape[0]
    blocks = channels.reshape(c, rows // m, m, p, columns // m, m, p).transpose(1, 4, 2, 5, 0, 3, 6)
    # One still page: the temporal axis repeats the frame, as the processor does for images.
    frames = np.broadcast_to(blocks[:, :, :, :, :, None], (*blocks.shape[:5], t, p, p))
    flat = np.ascontiguousarray(frames).reshape(rows * columns, c * t * p * p)
    return Patches(pixel_values=flat, grid=(1, rows, columns))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; a checkpoint folder holds config.json and safetensors weights") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return data
