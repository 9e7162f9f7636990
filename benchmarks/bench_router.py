"""Router benchmark: render speed, route() latency and compression, on documents nobody here wrote.

    python benchmarks/bench_router.py [--out benchmarks/results] [--quick]

Prints tables and writes ``bench_router.json`` into ``--out``. Figures, not asserts: the machines are
shared and noisy, so compare ratios from one run rather than absolute times across runs.

Corpus (all present on a Debian machine with this project installed): the licence texts in
/usr/share/common-licenses (English prose), package READMEs from installed metadata (markdown),
CPython's own modules (code), litellm's provider-endpoint data (JSON, and a table built from it),
/var/log/dpkg.log (log) and the Debian Reference in Chinese (package debian-reference-zh-cn).
"""

from __future__ import annotations

import argparse
import datetime
import email
import gzip
import importlib.metadata
import inspect
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console
from rich.table import Table

import router
from router.chunking import detect_script
from router.density_names import DENSITY_NAMES
from router.errors import RenderError
from router.providers.geometry import get_profile
from router.render.cache import render_cache
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density
from router.render.png import PNG_LEVEL
from router.tokens import count_tokens

console = Console(width=None if sys.stdout.isatty() else 150)
FAMILIES = {  # family -> a model whose tokenizer counts the text side
    "anthropic": "claude-sonnet-4-6",
    "openai-tile": "gpt-4o",
    "gemini-2": "gemini/gemini-2.5-flash",
    "qwen2.5-vl": "hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct",
}
DOC_TOKENS = 8000  # each compression sample is cut to about this many text tokens


# --- corpus -----------------------------------------------------------------------------------------


def _cut(text: str, tokens: int, model: str = "gpt-4o") -> str:
    """A prefix of ``text`` with about ``tokens`` tokens, ending at a line break."""
    chars = min(len(text), tokens * 8)  # no tokenizer packs more than ~8 characters a token here
    while count_tokens(text[:chars], model) > tokens and chars > 100:
        chars = int(chars * 0.8)
    cut = text[:chars]
    return cut[: cut.rfind("\n") + 1] or cut


def prose_corpus() -> str:
    licences = Path("/usr/share/common-licenses")
    names = ["GPL-3", "Apache-2.0", "MPL-2.0", "GFDL-1.3", "LGPL-2.1", "GPL-2", "Artistic"]
    return "\n\n".join(licences.joinpath(n).read_text(encoding="utf-8", errors="replace") for n in names)


def markdown_corpus() -> str:
    texts = []
    for name in ("litellm", "rich", "pydantic", "httpx", "markdown-it-py"):
        try:
            body = email.message_from_string(importlib.metadata.distribution(name).read_text("METADATA")).get_payload()
        except importlib.metadata.PackageNotFoundError:
            continue
        texts.append(body[body.find("\n## ") :] if "\n## " in body else body)
    return "\n\n".join(texts)


def code_corpus() -> str:
    import argparse as module

    return inspect.getsource(module)


def _endpoint_data() -> dict[str, Any]:
    import litellm  # ships this table of providers and the endpoints each supports

    data = json.loads((Path(litellm.__file__).parent / "provider_endpoints_support_backup.json").read_text())
    return data.get("providers", data)


def json_corpus() -> str:
    return json.dumps(_endpoint_data(), indent=2)


def table_corpus() -> str:
    providers = _endpoint_data()
    endpoints = sorted({e for p in providers.values() for e in (p.get("endpoints") or {})})[:8]
    header = "| Provider | Display name | " + " | ".join(endpoints) + " |"
    rule = "|" + "---|" * (len(endpoints) + 2)
    rows = []
    for key, info in providers.items():
        marks = ["✓" if (info.get("endpoints") or {}).get(e) else "" for e in endpoints]
        rows.append(f"| {key} | {info.get('display_name', key)} | " + " | ".join(marks) + " |")
    return "\n".join([header, rule, *rows]) + "\n"


def log_corpus() -> str:
    path = Path("/var/log/dpkg.log")
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def chinese_corpus() -> str:
    path = Path("/usr/share/doc/debian-reference-zh-cn/docs/debian-reference.zh-cn.txt.gz")
    if not path.exists():
        return ""
    text = gzip.open(path, "rt", encoding="utf-8").read()
    return text[text.index("GNU/Linux 教程\n", 3000) :]


def documents() -> list[tuple[str, str, str, str | None]]:
    """(name, kind, text, language) samples of about DOC_TOKENS tokens each."""
    docs = [
        ("licences (English prose)", "prose", prose_corpus(), None),
        ("package READMEs", "markdown", markdown_corpus(), None),
        ("argparse.py", "code", code_corpus(), "python"),
        ("provider table", "table", table_corpus(), None),
        ("provider JSON", "json", json_corpus(), None),
        ("dpkg.log", "log", log_corpus(), None),
        ("Debian Reference (Chinese)", "prose", chinese_corpus(), None),
    ]
    return [(name, kind, _cut(text, DOC_TOKENS), lang) for name, kind, text, lang in docs if text.strip()]


# --- measurements -----------------------------------------------------------------------------------


def compression(docs: list[tuple[str, str, str, str | None]], densities: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, kind, text, language in docs:
        script = detect_script(text)
        for family, model in FAMILIES.items():
            text_tokens = count_tokens(text, model)
            for density in densities:
                target = RenderTarget(get_profile(family), get_density(density, family))
                try:
                    rendering = render_text(text, kind, script, language, target)
                except RenderError as exc:  # the router sends such a chunk as text: recorded, not drawn
                    refused = {"document": name, "kind": kind, "script": script, "family": family}
                    rows.append({**refused, "density": density, "text_tokens": text_tokens, "refused": str(exc)[:200]})
                    continue
                rows.append({
                    "document": name, "kind": kind, "script": script, "family": family, "density": density,
                    "text_tokens": text_tokens, "image_tokens": rendering.image_tokens,
                    "compression": round(text_tokens / rendering.image_tokens, 2), "pages": len(rendering.pages),
                    "columns": rendering.columns, "render_ms": round(rendering.render_ms + rendering.encode_ms, 1),
                })  # fmt: skip
    return rows


def page_speed(docs: list[tuple[str, str, str, str | None]]) -> list[dict[str, Any]]:
    """ms per page for layout+raster and for PNG encoding, on full ~1.18 MP Claude pages."""
    rows = []
    target = RenderTarget(get_profile("anthropic"), get_density("balanced", "anthropic"))
    for name, kind, text, language in docs:
        render_cache().clear()
        started = time.perf_counter()
        rendering = render_text(text, kind, detect_script(text), language, target)
        wall = (time.perf_counter() - started) * 1000
        pages = len(rendering.pages)
        megapixels = sum(p.width * p.height for p in rendering.pages) / 1e6
        rows.append({
            "document": name, "pages": pages, "megapixels": round(megapixels, 2),
            "layout_ms_per_page": round(rendering.render_ms / pages, 1),
            "png_ms_per_page": round(rendering.encode_ms / pages, 1),
            "ms_per_page": round(wall / pages, 1), "pages_per_second": round(pages / (wall / 1000), 1),
            "png_kib_per_page": round(sum(len(p.png) for p in rendering.pages) / pages / 1024, 1),
        })  # fmt: skip
    return rows


def png_levels(docs: list[tuple[str, str, str, str | None]]) -> list[dict[str, Any]]:
    """PNG size and encode time by zlib level for one full grayscale page."""
    _name, kind, text, language = docs[0]
    target = RenderTarget(get_profile("anthropic"), get_density("balanced", "anthropic"))
    page = render_text(text, kind, "latin", language, target)
    image = Image.open(io.BytesIO(page.pages[0].png))
    rows = []
    for level in (1, 3, 6, 9):
        times = []
        for _ in range(5):
            buffer = io.BytesIO()
            started = time.perf_counter()
            image.save(buffer, format="PNG", compress_level=level)
            times.append((time.perf_counter() - started) * 1000)
        rows.append(
            {"level": level, "kib": round(len(buffer.getvalue()) / 1024, 1), "ms": round(statistics.median(times), 1)}
        )
    return rows


def route_latency(sizes: list[int]) -> list[dict[str, Any]]:
    """Router.route on one user message of N tokens of prose plus a question, cold and cached."""
    r = router.Router()
    model = "claude-sonnet-4-6"
    corpus = prose_corpus()
    for path in sorted(Path("/usr/share/doc").glob("*/copyright")):  # more real prose, up to ~1.6M chars
        if len(corpus) > max(sizes) * 8:
            break
        corpus += "\n\n" + path.read_text(encoding="utf-8", errors="replace")
    rows = []
    r.route([{"role": "user", "content": "warm up the tokenizers " * 50}], model=model)
    chat = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
    ]
    times = []
    for _ in range(50):
        started = time.perf_counter()
        r.route(chat, model=model)
        times.append((time.perf_counter() - started) * 1000)
    rows.append({
        "request": "short chat, nothing to render", "text_tokens": 30, "tokens_after": 30,
        "cold_ms": round(statistics.median(times), 2), "cached_ms": None, "images": 0,
    })  # fmt: skip
    for size in sizes:
        text = _cut(corpus, size, model)
        messages = [{"role": "user", "content": text + "\n\nWhat does this say about warranties?"}]
        render_cache().clear()
        started = time.perf_counter()
        routed = r.route(messages, model=model)
        cold = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        r.route(messages, model=model)
        cached = (time.perf_counter() - started) * 1000
        rows.append({
            "request": f"{size // 1000}k-token document", "text_tokens": routed.report.tokens_before,
            "tokens_after": routed.report.tokens_after, "cold_ms": round(cold, 1), "cached_ms": round(cached, 1),
            "images": routed.report.images,
        })  # fmt: skip
    return rows


# --- output -----------------------------------------------------------------------------------------


def show(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    keys = list(dict.fromkeys(key for row in rows for key in row))  # refused rows lack some columns
    for key in keys:
        sample = next(row[key] for row in rows if key in row)
        table.add_column(key, justify="left" if isinstance(sample, str) else "right")
    for row in rows:
        values = (row.get(key) for key in keys)
        table.add_row(*("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in values))
    console.print(table)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true", help="smaller requests, balanced and dense only")
    args = parser.parse_args()

    docs = documents()
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "router": router.__version__, "png_level": PNG_LEVEL,
    }  # fmt: skip
    results["page_speed"] = page_speed(docs)
    show("Render speed (Claude pages, balanced)", results["page_speed"])
    results["png_levels"] = png_levels(docs)
    show("PNG zlib level (one full grayscale page)", results["png_levels"])
    sizes = [1000, 10000, 50000] if args.quick else [1000, 10000, 50000, 200000]
    results["route"] = route_latency(sizes)
    show("Router.route latency (claude-sonnet-4-6)", results["route"])
    densities = ["balanced", "dense"] if args.quick else list(DENSITY_NAMES)
    results["compression"] = compression(docs, densities)
    show("Compression (text tokens / image tokens)", results["compression"])

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_router.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
