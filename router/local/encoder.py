"""``LocalVisionEncoder``: pages in, one embedding per merge window out, each page encoded once.

Pages are preprocessed as the model's own processor does (``router.local.preprocess``), run through
the vision tower in batches (the tower takes several images' patches concatenated, with their
grids, and attends within each image), cast to the payload dtype, and kept in the embedding cache
(``router.local.cache``) under the page's PNG digest and the encoder's identity.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from router.local.cache import EmbeddingCache, Source
from router.local.checkpoint import VisionTower, load_tower, require_torch, torch_device
from router.local.preprocess import ProcessorSettings, preprocess
from router.providers.geometry import EncoderProfile

__all__ = ["EncodedPage", "LocalSettings", "LocalVisionEncoder", "local_encoder", "unload_encoders"]

DType = Literal["float32", "bfloat16", "float16"]


class LocalSettings(BaseModel):
    """How the local encoder runs (policy ``local:``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str = Field("cpu", description="torch device: cpu, cuda, cuda:1")
    dtype: DType = Field("float32", description="compute dtype of the tower (bfloat16 on GPUs)")
    payload_dtype: DType = Field("bfloat16", description="dtype the embeddings are sent and cached in")
    batch_pages: int = Field(4, ge=1, le=256, description="pages per forward pass")
    memory_mb: int = Field(512, ge=0, description="embeddings kept in memory, least recently used dropped")
    cache_dir: str | None = Field(None, description="on-disk embedding store shared by processes; None: memory only")
    max_request_mb: float = Field(
        256, gt=0, description="embedding payload per request (base64); above it pages go as PNGs"
    )


class EncodedPage(BaseModel):
    """One page's embeddings: (tokens, hidden) in the payload dtype, and its grid."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: str = Field(description="digest of the page's PNG bytes")
    embeds: Any = Field(repr=False)
    grid: tuple[int, int, int]
    source: Source

    @property
    def tokens(self) -> int:
        return int(self.embeds.shape[0])


class LocalVisionEncoder:
    """A Qwen2-VL / Qwen2.5-VL vision tower run here.

    >>> encoder = LocalVisionEncoder.from_checkpoint("/models/Qwen2.5-VL-7B-Instruct")
    >>> [page] = encoder.encode([png_bytes])
    >>> page.embeds.shape, page.grid      # (tokens, 3584), (1, rows, columns)
    """

    def __init__(self, tower: VisionTower, settings: LocalSettings | None = None) -> None:
        self.tower = tower
        self.local = settings or LocalSettings()
        self.settings: ProcessorSettings = tower.settings
        local = self.local
        described = f"{tower.weights_digest}|{self.settings.model_dump_json()}|{local.dtype}|{local.payload_dtype}"
        self.identity = hashlib.blake2b(described.encode(), digest_size=12).hexdigest()
        self.cache = EmbeddingCache(
            self.identity, folder=self.local.cache_dir, memory_bytes=self.local.memory_mb * 1024 * 1024
        )
        self._forward_lock = threading.Lock()  # one forward at a time: torch already uses every core
        self.encode_seconds = 0.0

    @classmethod
    def from_checkpoint(cls, path: str | Path, settings: LocalSettings | None = None) -> LocalVisionEncoder:
        settings = settings or LocalSettings()
        return cls(load_tower(path, device=settings.device, dtype=settings.dtype), settings)

    @property
    def profile(self) -> EncoderProfile:
        """The page geometry and token formula, from this checkpoint's own processor settings."""
        return self.settings.profile()

    @property
    def hidden_size(self) -> int:
        return self.tower.out_hidden

    def encode(self, pngs: Sequence[bytes]) -> list[EncodedPage]:
        """Each page's embeddings, from the cache where it holds them, encoded in batches otherwise."""
        keys = [hashlib.sha256(png).hexdigest() for png in pngs]
        found: dict[str, EncodedPage] = {}
        missing: dict[str, bytes] = {}
        for key, png in zip(keys, pngs, strict=True):
            if key in found or key in missing:
                continue
            cached = self.cache.get(key)
            if cached is None:
                missing[key] = png
            else:
                tensor, source = cached
                found[key] = EncodedPage(key=key, embeds=tensor, grid=self._grid_of(png), source=source)
        todo = list(missing.items())
        for start in range(0, len(todo), self.local.batch_pages):
            batch = todo[start : start + self.local.batch_pages]
            for (key, _), (tensor, grid) in zip(batch, self.forward([png for _, png in batch]), strict=True):
                self.cache.put(key, tensor)
                found[key] = EncodedPage(key=key, embeds=tensor, grid=grid, source="encoded")
        return [found[key] for key in keys]

    def forward(self, pngs: Sequence[bytes]) -> list[tuple[Any, tuple[int, int, int]]]:
        """One forward pass over ``pngs``: per page (embeddings in the payload dtype, grid). No cache."""
        torch = require_torch()
        patches = [preprocess(png, self.settings) for png in pngs]
        device = torch_device(self.local.device)
        pixels = torch.from_numpy(_concatenate([p.pixel_values for p in patches]))
        pixels = pixels.to(device, getattr(torch, self.local.dtype))
        grids = torch.tensor([p.grid for p in patches], dtype=torch.long, device=device)
        started = time.perf_counter()
        with self._forward_lock, torch.inference_mode():
            output = self.tower.module(hidden_states=pixels, grid_thw=grids)
        merged = getattr(output, "pooler_output", output)
        self.encode_seconds += time.perf_counter() - started
        sizes = [self.settings.tokens_of_grid(p.grid) for p in patches]
        pieces = torch.split(merged.to("cpu", getattr(torch, self.local.payload_dtype)), sizes)
        return [(piece.clone(), p.grid) for piece, p in zip(pieces, patches, strict=True)]

    def _grid_of(self, png: bytes) -> tuple[int, int, int]:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(png)) as image:
            return self.settings.grid(image.width, image.height)


def _concatenate(arrays: list[Any]) -> Any:
    import numpy as np

    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)


_loading = threading.Lock()


def local_encoder(checkpoint: str, settings: LocalSettings) -> LocalVisionEncoder:
    """The process's encoder for ``checkpoint`` under ``settings``: loaded once, on first use (the
    proxy's routing threads wait for the one load rather than each loading the tower)."""
    with _loading:
        return _loaded(checkpoint, settings)


@functools.lru_cache(maxsize=4)
def _loaded(checkpoint: str, settings: LocalSettings) -> LocalVisionEncoder:
    return LocalVisionEncoder.from_checkpoint(checkpoint, settings)


def unload_encoders() -> None:
    """Forget the process's loaded encoders (their memory is freed once nothing else holds them)."""
    with _loading:
        _loaded.cache_clear()
