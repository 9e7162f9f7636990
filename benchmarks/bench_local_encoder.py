"""Local vision encoder benchmark: pages per second and peak memory of a real-size Qwen2.5-VL tower.

    python benchmarks/bench_local_encoder.py [--out benchmarks/results] [--pages 2] [--device cpu]

The tower has the dimensions of Qwen2.5-VL-7B-Instruct's (32 blocks, width 1280, 16 heads, MLP 3420,
window attention with full attention in blocks 7/15/23/31, merger to 3584) with random weights, saved
as a bf16 safetensors checkpoint as the hub ships it, and loaded back through ``LocalVisionEncoder``.
Pages are the router's own: the GPL-3 text drawn for the checkpoint's geometry at ``balanced``
(two pages: 784x1564 and 784x1291, 1568 and 1288 embeddings). Measured on this machine: load time,
encoding one page at a time, several pages in one forward pass, bf16 compute, then the same pages
from the memory cache and from the disk store, the payload size per page, and the process's peak
resident memory (sampled).
On a machine with CUDA the same runs are repeated on the GPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=None if sys.stdout.isatty() else 150)
QWEN25_7B_VISION = {
    "depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "out_hidden_size": 3584,
    "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31], "patch_size": 14, "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}  # fmt: skip
HUB_PROCESSOR = {"min_pixels": 3136, "max_pixels": 12845056, "patch_size": 14, "temporal_patch_size": 2,
                 "merge_size": 2}  # fmt: skip


class PeakMemory:
    """The process's resident set, sampled every 20 ms; ``peak_mb`` since ``reset``."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _rss())

    def reset(self) -> None:
        self.peak = _rss()

    @property
    def peak_mb(self) -> float:
        return round(max(self.peak, _rss()) / 2**20, 1)


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def make_checkpoint(folder: Path) -> float:
    import torch
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    torch.manual_seed(0)
    model = Qwen2_5_VisionTransformerPretrainedModel(Qwen2_5_VLVisionConfig(**QWEN25_7B_VISION))
    model.to(torch.bfloat16).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(HUB_PROCESSOR))
    return sum(p.numel() for p in model.parameters()) / 1e6


def pages(checkpoint: Path, count: int) -> list[Any]:
    from router.local.preprocess import ProcessorSettings
    from router.render.chunks import RenderTarget, render_text
    from router.render.density import get_density

    profile = ProcessorSettings.from_checkpoint(checkpoint).profile()
    text = Path("/usr/share/common-licenses/GPL-3").read_text()
    rendering = render_text(text, "prose", "latin", None, RenderTarget(profile, get_density("balanced")))
    assert len(rendering.pages) >= count, f"the licence fills {len(rendering.pages)} pages; ask for fewer"
    return rendering.pages[:count]  # 784x1564 (two columns, full), then the rest of the licence


def run(checkpoint: Path, device: str, count: int, memory: PeakMemory) -> dict[str, Any]:
    from router.local.encoder import LocalSettings, LocalVisionEncoder
    from router.local.payload import embeds_part

    drawn = pages(checkpoint, count)
    record: dict[str, Any] = {"device": device, "pages": ", ".join(f"{p.width}x{p.height}" for p in drawn)}
    with tempfile.TemporaryDirectory() as store:
        memory.reset()
        started = time.perf_counter()
        settings = LocalSettings(device=device, batch_pages=1, cache_dir=store)
        one = LocalVisionEncoder.from_checkpoint(checkpoint, settings)
        record["load_s"] = round(time.perf_counter() - started, 2)
        record["rss_after_load_mb"] = memory.peak_mb
        record["embeddings"] = sum(one.settings.tokens(p.width, p.height) for p in drawn)

        def timed(encoder: LocalVisionEncoder, pngs: list[bytes]) -> tuple[float, list[Any]]:
            started = time.perf_counter()
            encoded = encoder.encode(pngs)
            return time.perf_counter() - started, encoded

        seconds, encoded = timed(one, [p.png for p in drawn])
        record["fp32_one_by_one_pages_per_s"] = round(count / seconds, 4)
        record["fp32_s_per_page"] = round(seconds / count, 2)
        record["peak_rss_fp32_mb"] = memory.peak_mb
        batched = LocalVisionEncoder(one.tower, LocalSettings(device=device, batch_pages=count, memory_mb=0))
        seconds, _ = timed(batched, [p.png for p in drawn])
        record[f"fp32_batch_of_{count}_pages_per_s"] = round(count / seconds, 4)
        seconds, again = timed(one, [p.png for p in drawn])
        assert {p.source for p in again} == {"memory"}
        record["memory_hit_ms_per_page"] = round(seconds / count * 1000, 2)
        fresh = LocalVisionEncoder(one.tower, LocalSettings(device=device, cache_dir=store))
        seconds, again = timed(fresh, [p.png for p in drawn])
        assert {p.source for p in again} == {"disk"}
        record["disk_hit_ms_per_page"] = round(seconds / count * 1000, 2)
        started = time.perf_counter()
        part = embeds_part(encoded[0], one.identity)
        record["payload_build_ms_per_page"] = round((time.perf_counter() - started) * 1000, 1)
        record["payload_mb_per_page"] = round(len(part["image_embeds"]["image_embeds"]) / 2**20, 2)
        del one, batched, fresh
        import gc

        gc.collect()
        memory.reset()
        bf16 = LocalVisionEncoder.from_checkpoint(checkpoint, LocalSettings(device=device, dtype="bfloat16"))
        seconds, _ = timed(bf16, [drawn[0].png])
        record["bf16_pages_per_s"] = round(1 / seconds, 4)
        record["peak_rss_bf16_mb"] = memory.peak_mb
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--pages", type=int, default=2)
    args = parser.parse_args()
    import torch

    memory = PeakMemory()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder)
        params = make_checkpoint(checkpoint)
        console.print(f"Qwen2.5-VL-7B-size vision tower: {params:.0f} M parameters (random weights, bf16 on disk)")
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        results = [run(checkpoint, device, args.pages, memory) for device in devices]
    table = Table(title="Local vision encoder (figures from this machine)", title_justify="left")
    table.add_column("figure")
    for r in results:
        table.add_column(r["device"], justify="right")
    for key in results[0]:
        if key != "device":
            table.add_row(key, *(str(r.get(key, "")) for r in results))
    console.print(table)
    record = {
        "date": datetime.date.today().isoformat(), "machine": f"{os.cpu_count()} cores",
        "torch": torch.__version__, "threads": torch.get_num_threads(), "parameters_m": round(params, 1),
        "config": QWEN25_7B_VISION, "runs": results,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_local_encoder.json").write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"-> {args.out / 'bench_local_encoder.json'}")


if __name__ == "__main__":
    main()
