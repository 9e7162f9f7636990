"""LocalVisionEncoder on tiny random towers of the real architectures, loaded from checkpoints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from router.errors import ConfigError
from router.local.checkpoint import require_torch
from router.local.encoder import LocalSettings, LocalVisionEncoder
from tests.local.conftest import OUT_HIDDEN

EXACT = LocalSettings(payload_dtype="float32", memory_mb=0)  # no cache between calls: every page encoded


def test_embeddings_have_one_row_per_merge_window(tower_dir: Path, page_png: Callable[..., bytes]) -> None:
    encoder = LocalVisionEncoder.from_checkpoint(tower_dir, EXACT)
    sizes = [(784, 1568), (500, 700), (28, 28), (1000, 37)]
    pages = encoder.encode([page_png(w, h) for w, h in sizes])
    for (width, height), page in zip(sizes, pages, strict=True):
        t, rows, columns = encoder.settings.grid(width, height)
        assert page.grid == (t, rows, columns)
        assert page.embeds.shape == (t * rows * columns // 4, OUT_HIDDEN)
        assert page.tokens == encoder.profile.image_tokens(width, height) - 2  # the geometry row agrees
        assert page.embeds.dtype == torch.float32 and torch.isfinite(page.embeds).all()
        assert page.source == "encoded"


def test_the_same_weights_give_the_same_embeddings(tower_dir: Path, page_png: Callable[..., bytes]) -> None:
    pngs = [page_png(784, 1568), page_png(500, 700, "other text "), page_png(300, 300, "third ")]
    first = LocalVisionEncoder.from_checkpoint(tower_dir, EXACT).encode(pngs)
    again = LocalVisionEncoder.from_checkpoint(tower_dir, EXACT).encode(pngs)
    assert all(torch.equal(a.embeds, b.embeds) for a, b in zip(first, again, strict=True))
    # Batching several pages into one forward pass gives what encoding them one by one gives.
    one_by_one = LocalVisionEncoder.from_checkpoint(tower_dir, EXACT.model_copy(update={"batch_pages": 1}))
    for a, b in zip(first, one_by_one.encode(pngs), strict=True):
        assert torch.allclose(a.embeds, b.embeds, atol=1e-4)
    # Different pages give different embeddings.
    assert not torch.allclose(first[0].embeds[:10], first[2].embeds[:10])


def test_a_whole_model_checkpoint_and_its_tower_alone_are_one_encoder(
    full_dirs: tuple[Path, Path], page_png: Callable[..., bytes]
) -> None:
    full, alone = (LocalVisionEncoder.from_checkpoint(d, EXACT) for d in full_dirs)
    assert full.identity == alone.identity  # the same tower weights, whatever else the file holds
    png = page_png(448, 448)
    assert torch.equal(full.encode([png])[0].embeds, alone.encode([png])[0].embeds)


def test_a_qwen2_vl_tower_is_built_from_its_own_config(qwen2_dir: Path, page_png: Callable[..., bytes]) -> None:
    encoder = LocalVisionEncoder.from_checkpoint(qwen2_dir, EXACT)
    assert encoder.settings.model_type == "qwen2_vl" and encoder.hidden_size == OUT_HIDDEN
    [page] = encoder.encode([page_png(560, 840)])
    assert page.grid == (1, 60, 40) and page.embeds.shape == (600, OUT_HIDDEN)


def test_the_payload_dtype_names_a_different_encoder(tower_dir: Path, page_png: Callable[..., bytes]) -> None:
    bf16 = LocalVisionEncoder.from_checkpoint(tower_dir, LocalSettings(payload_dtype="bfloat16"))
    fp32 = LocalVisionEncoder.from_checkpoint(tower_dir, EXACT)
    assert bf16.identity != fp32.identity
    png = page_png(280, 280)
    [a], [b] = bf16.encode([png]), fp32.encode([png])
    assert a.embeds.dtype == torch.bfloat16
    assert torch.allclose(a.embeds.float(), b.embeds, atol=0.05, rtol=0.02)


def test_weights_that_do_not_fit_the_tower_are_refused(tmp_path: Path, tower_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(tower_dir / "model.safetensors"))
    del tensors["merger.mlp.0.weight"]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    for name in ("config.json", "preprocessor_config.json"):
        (tmp_path / name).write_bytes((tower_dir / name).read_bytes())
    with pytest.raises(ConfigError, match=r"do not fit a qwen2_5_vl vision tower.*merger\.mlp\.0\.weight"):
        LocalVisionEncoder.from_checkpoint(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ConfigError, match=r"no \.safetensors weights"):
        LocalVisionEncoder.from_checkpoint(tmp_path)


def test_a_device_this_torch_cannot_use_is_named(tower_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"local\.device 'banana' is not a torch device"):
        LocalVisionEncoder.from_checkpoint(tower_dir, LocalSettings(device="banana"))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"local.device 'cuda': this torch \(.*\) cannot use cuda"):
            LocalVisionEncoder.from_checkpoint(tower_dir, LocalSettings(device="cuda"))


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch, tower_dir: Path) -> None:
    from router.errors import PolicyError
    from router.policy import Policy

    monkeypatch.setitem(sys.modules, "torch", None)  # what an environment without torch imports
    with pytest.raises(ConfigError, match=r'torch is not installed.*pip install "hybrid-context-router\[local\]"'):
        require_torch()
    # A policy that names a local checkpoint says so when it loads, not at its first request.
    entry = f"models:\n  - {{match: 'hosted_vllm/*', encoder: local, checkpoint: '{tower_dir}'}}\n"
    with pytest.raises(PolicyError, match=r"models\.0.*hybrid-context-router\[local\]"):
        Policy.from_yaml_text(entry)


def test_a_policy_names_the_checkpoint_or_is_refused(tmp_path: Path, tower_dir: Path) -> None:
    from router.errors import PolicyError
    from router.policy import Policy

    def policy(entry: str) -> Policy:
        return Policy.from_yaml_text(f"models:\n  - {entry}\n")

    assert policy(f"{{match: 'hosted_vllm/*', encoder: local, checkpoint: '{tower_dir}'}}").models[0].checkpoint
    with pytest.raises(PolicyError, match="encoder 'local' and checkpoint go together"):
        policy("{match: 'hosted_vllm/*', encoder: local}")
    with pytest.raises(PolicyError, match=r"config\.json: not found"):
        policy(f"{{match: 'x', encoder: local, checkpoint: '{tmp_path / 'missing'}'}}")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    with pytest.raises(PolicyError, match="'qwen3_vl' is not one the local encoder builds"):
        policy(f"{{match: 'x', encoder: local, checkpoint: '{tmp_path}'}}")
