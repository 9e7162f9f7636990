"""Each page is encoded once: memory, then the on-disk store shared by processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from router.local.cache import EmbeddingCache
from router.local.encoder import LocalSettings, LocalVisionEncoder


def test_memory_then_disk_then_encoded_again_only_where_nothing_holds_it(
    tmp_path: Path, tower_dir: Path, page_png: Callable[..., bytes]
) -> None:
    settings = LocalSettings(cache_dir=str(tmp_path))
    pngs = [page_png(560, 560), page_png(560, 560, "another page ")]
    encoder = LocalVisionEncoder.from_checkpoint(tower_dir, settings)
    first = encoder.encode(pngs)
    assert [p.source for p in first] == ["encoded", "encoded"]
    seconds = encoder.encode_seconds
    assert [p.source for p in encoder.encode(pngs)] == ["memory", "memory"]
    assert encoder.encode_seconds == seconds  # no forward pass
    files = sorted((tmp_path / encoder.identity).rglob("*.safetensors"))
    assert len(files) == 2 and not list(tmp_path.rglob(".tmp-*"))

    restarted = LocalVisionEncoder.from_checkpoint(tower_dir, settings)  # a new process, in effect
    again = restarted.encode([*pngs, page_png(280, 560)])
    assert [p.source for p in again] == ["disk", "disk", "encoded"]
    assert all(torch.equal(a.embeds, b.embeds) for a, b in zip(first, again, strict=False))

    files[0].write_bytes(b"damaged")  # a broken file is a miss, encoded and written again
    fresh = LocalVisionEncoder.from_checkpoint(tower_dir, settings)
    assert sorted(p.source for p in fresh.encode(pngs)) == ["disk", "encoded"]
    assert len(files[0].read_bytes()) > 100


def test_the_memory_cache_holds_at_most_its_bytes() -> None:
    cache = EmbeddingCache("id", memory_bytes=3 * 400)  # three 10x10 float32 tensors
    for i in range(5):
        cache.put(f"page{i}", torch.full((10, 10), float(i)))
    assert cache.get("page0") is None and cache.get("page1") is None
    assert [cache.get(f"page{i}")[1] for i in (2, 3, 4)] == ["memory"] * 3  # type: ignore[index]
    cache.get("page2")  # recently used: kept when the next one comes in
    cache.put("page5", torch.zeros(10, 10))
    assert cache.get("page3") is None and cache.get("page2") is not None


def test_processes_encoding_the_same_pages_into_one_store_agree(
    tmp_path: Path, tower_dir: Path, english_prose: str
) -> None:
    document = tmp_path / "prose.txt"
    document.write_text(english_prose * 3)
    store = tmp_path / "store"
    command = [sys.executable, "-m", "router.cli", "encode", str(document), "--encoder", str(tower_dir),
               "--out", str(store), "--json"]  # fmt: skip
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    files = list(store.rglob("*.safetensors"))
    assert files and not list(store.rglob(".tmp-*"))
    from safetensors.torch import load_file

    assert all(load_file(str(f))["embeds"].shape[1] == 48 for f in files)
