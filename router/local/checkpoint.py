"""A Qwen-VL vision tower loaded from a local checkpoint directory (safetensors), and its identity.

A checkpoint is either a full model (``config.json`` with a ``vision_config``, weights under
``visual.`` or ``model.visual.``, one file or shards listed in ``model.safetensors.index.json``) or
just the vision tower as ``save_pretrained`` writes it. Only the tower's tensors are read. The
identity that keys the embedding cache is a digest of those tensors' bytes as stored, with the
settings that change the output (compute dtype, payload dtype, processor settings): two checkpoints
with the same weights share cached embeddings, and any changed weight misses.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from router.errors import ConfigError
from router.local.preprocess import ProcessorSettings

__all__ = ["VisionTower", "load_tower", "require_torch", "torch_device"]

_PREFIXES = ("model.visual.", "visual.")
_EXTRA = 'pip install "hybrid-context-router[local]"'


def require_torch() -> Any:
    """torch, or a clear error naming the extra that brings it."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the local vision encoder needs torch and transformers ({exc.name} is not installed): {_EXTRA}"
        ) from None
    return torch


class VisionTower:
    """The loaded tower, its processor settings and the identity of its weights."""

    def __init__(self, module: Any, settings: ProcessorSettings, weights_digest: str, out_hidden: int) -> None:
        self.module, self.settings, self.weights_digest, self.out_hidden = module, settings, weights_digest, out_hidden


def load_tower(path: str | Path, *, device: str = "cpu", dtype: str = "float32") -> VisionTower:
    """The vision tower of the checkpoint at ``path``, in eval mode on ``device`` in ``dtype``."""
    torch = require_torch()
    target = torch_device(device)
    folder = Path(path)
    settings = ProcessorSettings.from_checkpoint(folder)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    vision_config, model_class = _vision_classes(config, settings.model_type)
    files = _weight_files(folder)
    state, digest = _read_tower_tensors(files, full_model="vision_config" in config)
    vision_config._attn_implementation = "sdpa"
    module = model_class(vision_config)
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(
            f"{folder}: the weights do not fit a {settings.model_type} vision tower "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    module = module.to(device=target, dtype=getattr(torch, dtype)).eval()
    out_hidden = int(getattr(vision_config, "out_hidden_size", 0) or vision_config.hidden_size)
    return VisionTower(module, settings, digest, out_hidden)


def torch_device(name: str) -> Any:
    """``name`` as a torch device this torch can use, or a clear error naming the setting."""
    torch = require_torch()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"local.device {name!r} is not a torch device (cpu, cuda, cuda:1, mps...)") from None
    usable = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}.get(device.type, lambda: True)
    if not usable():
        raise ConfigError(
            f"local.device {name!r}: this torch ({torch.__version__}) cannot use {device.type}; "
            "install a torch build for it, or use cpu"
        )
    return device


def _vision_classes(config: dict[str, Any], model_type: str) -> tuple[Any, Any]:
    vision = dict(config.get("vision_config", config))
    for key in ("architectures", "model_type", "transformers_version", "dtype", "torch_dtype"):
        vision.pop(key, None)
    if model_type == "qwen2_5_vl":
        from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
        from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

        return Qwen2_5_VLVisionConfig(**vision), Qwen2_5_VisionTransformerPretrainedModel
    from transformers.models.qwen2_vl.configuration_qwen2_vl import Qwen2VLVisionConfig
    from transformers.models.qwen2_vl.modeling_qwen2_vl import Qwen2VisionTransformerPretrainedModel

    return Qwen2VLVisionConfig(**vision), Qwen2VisionTransformerPretrainedModel


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.exists():
        weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        return [folder / name for name in sorted(set(weight_map.values()))]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{folder}: no .safetensors weights (other formats are not loaded: they can run code)")
    return files


def _read_tower_tensors(files: list[Path], *, full_model: bool) -> tuple[dict[str, Any], str]:
    """The tower's tensors (prefix stripped) and a digest of their stored bytes, names and shapes."""
    from safetensors import safe_open

    digest = hashlib.blake2b(digest_size=16)
    state: dict[str, Any] = {}
    for file in files:
        header, data_start = _header(file)
        wanted = {name: _strip(name) for name in sorted(header) if name != "__metadata__"}
        if full_model:
            wanted = {name: local for name, local in wanted.items() if local != name}
        if not wanted:
            continue
        with file.open("rb") as raw, safe_open(str(file), framework="pt") as tensors:
            for name, local in wanted.items():
                entry = header[name]
                start, end = entry["data_offsets"]
                raw.seek(data_start + start)
                digest.update(f"{local}|{entry['dtype']}|{entry['shape']}|".encode())
                digest.update(raw.read(end - start))
                state[local] = tensors.get_tensor(name)
    if not state:
        raise ConfigError(f"{files[0].parent}: no vision-tower tensors (expected names under {', '.join(_PREFIXES)})")
    return state, digest.hexdigest()


def _strip(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _header(file: Path) -> tuple[dict[str, Any], int]:
    """The safetensors header of ``file`` (8-byte little-endian length, then JSON) and where data starts."""
    with file.open("rb") as raw:
        (length,) = struct.unpack("<Q", raw.read(8))
        if length > 100 * 1024 * 1024:
            raise ConfigError(f"{file}: not a safetensors file (header of {length} bytes)")
        header = json.loads(raw.read(length))
    return header, 8 + length
