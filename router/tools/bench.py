"""``hcr bench``: compression and read-back fidelity on real documents, per encoder family and density.

For each document of the corpus (``router.tools.bench_corpus``) x encoder family x density, the document is
rendered as the router would render it, read back by OCR at the provider-visible resolution, and
recorded: text tokens (the family's own tokenizer), image tokens (the family's billing formula),
compression (text / image tokens, labels excluded), character and word accuracy, identifier recall,
render and OCR time. Output, in ``--out``: ``bench.json``, ``bench.md`` and two PNG plots. With
``--backend MODEL`` it also runs the answer-equivalence harness (``router.tools.answers``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from router.density_names import DENSITY_NAMES
from router.fidelity.engines import engine_version
from router.fidelity.readback import check
from router.models import Rendering
from router.providers.geometry import EncoderProfile, get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Density, get_density
from router.route_chunk import largest_at_the_same_price
from router.tokens import count_tokens
from router.tools.bench_corpus import Document, build_corpus
from router.tools.bench_lengths import measure_lengths
from router.tools.bench_report import (
    BenchResult,
    BenchRow,
    markdown,
    plot_compression,
    plot_glyph_curve,
    plot_savings,
)

DEFAULT_ENCODERS = ("anthropic", "openai-tile", "gemini-2", "qwen2.5-vl")
QUICK_ENCODERS = ("anthropic", "openai-tile")
# A model of each family, for its tokenizer (text tokens) and its price.
MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-4-6",
    "openai-tile": "gpt-4o",
    "openai-tile-4o-mini": "gpt-4o-mini",
    "openai-tile-gpt5": "gpt-5",
    "openai-tile-o": "o3",
    "openai-patch-mini": "gpt-4.1-mini",
    "openai-patch-nano": "gpt-4.1-nano",
    "openai-patch-o4-mini": "o4-mini",
    "gemini-2": "gemini/gemini-2.5-flash",
    "gemini-3": "gemini/gemini-3-pro-preview",
    "qwen2.5-vl": "hosted_vllm/Qwen/Qwen2.5-VL-72B-Instruct",
    "qwen3-vl": "hosted_vllm/Qwen/Qwen3-VL-235B-A22B-Instruct",
}
COMPRESSION_PLOT = "compression_vs_readback.png"
SAVINGS_PLOT = "tokens_saved_by_kind.png"
GLYPH_PLOT = "readback_vs_glyph_size.png"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()} ({cpu}), {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


def measure(
    documents: Sequence[Document],
    encoders: Sequence[str],
    densities: Sequence[str] = DENSITY_NAMES,
    *,
    engine: str = "rapidocr",
    on_step: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    rows = []
    for document in documents:
        for encoder in encoders:
            profile = get_profile(encoder)
            text_tokens = count_tokens(document.text, MODELS.get(encoder, "gpt-4o"))
            for density in densities:
                # Drawn as the router draws it: at larger glyphs where they bill no more tokens.
                draw = functools.partial(_draw, document, profile)
                asked = get_density(density, encoder)
                drawn, rendering = largest_at_the_same_price(
                    document.kind, document.script, asked, draw(asked), draw, profile
                )
                read = check(document.text, document.kind, document.script, rendering, profile, engine=engine)
                rows.append(
                    BenchRow(
                        document=document.name, kind=document.kind, script=document.script, encoder=encoder,
                        density=density, drawn=drawn.name if drawn is not asked else None,
                        text_tokens=text_tokens, image_tokens=rendering.image_tokens,
                        compression=round(text_tokens / max(rendering.image_tokens, 1), 3),
                        pages=len(rendering.pages), columns=rendering.columns, char_accuracy=read.char_accuracy,
                        word_accuracy=read.word_accuracy, identifier_recall=read.identifier_recall,
                        identifiers=read.identifiers, render_ms=round(rendering.render_ms + rendering.encode_ms, 1),
                        ocr_ms=read.ocr_ms,
                    )
                )  # fmt: skip
                if on_step:
                    on_step(
                        f"{document.name} {encoder} {density}: {text_tokens / max(rendering.image_tokens, 1):.2f}x,"
                        f" {read.char_accuracy:.2%}"
                    )
    return rows


def _draw(document: Document, profile: EncoderProfile, density: Density) -> Rendering:
    return render_text(document.text, document.kind, document.script, document.language, RenderTarget(profile, density))


def steps(documents: Sequence[Document], encoders: Sequence[str], densities: Sequence[str] = DENSITY_NAMES) -> int:
    return len(documents) * len(encoders) * len(densities)


def run_bench(
    out: Path,
    *,
    quick: bool = False,
    encoders: Sequence[str] | None = None,
    densities: Sequence[str] = DENSITY_NAMES,
    engine: str = "rapidocr",
    documents: Sequence[Document] | None = None,
    missing: Sequence[str] = (),
    on_step: Callable[[str], None] | None = None,
    answers: Callable[[Sequence[Document]], dict[str, Any]] | None = None,
    lengths: Sequence[int] = (),
    long_documents: Sequence[Document] = (),
) -> BenchResult:
    """Measure, then write ``bench.json``, ``bench.md`` and the plots into ``out``."""
    if documents is None:
        documents, missing = build_corpus(quick=quick)
    chosen = list(encoders or (QUICK_ENCODERS if quick else DEFAULT_ENCODERS))
    result = BenchResult(
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        machine=machine(),
        engine=engine_version(engine),
        quick=quick,
        documents=[{"name": d.name, "kind": d.kind, "source": d.source, "chars": len(d.text)} for d in documents],
        missing=list(missing),
        rows=measure(documents, chosen, densities, engine=engine, on_step=on_step),
    )
    if lengths and long_documents:
        result.lengths = measure_lengths(
            long_documents, chosen, densities, lengths, models=MODELS, engine=engine, on_step=on_step
        )
    if answers is not None:
        result.answers = answers(documents)
    write(result, out)
    return result


# --- output --------------------------------------------------------------------------------------


def write(result: BenchResult, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(result.model_dump(), ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "bench.md").write_text(markdown(result), encoding="utf-8")
    if result.rows:  # none when only long documents were measured (``--documents`` naming them alone)
        plot_compression(result, out / COMPRESSION_PLOT)
        plot_savings(result, out / SAVINGS_PLOT)
        plot_glyph_curve(result, out / GLYPH_PLOT)
