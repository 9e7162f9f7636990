"""``hcr bench --lengths``: compression as documents grow, per kind and encoder family.

Short documents lose to quantisation (a page, a tile or a whole image is billed however little it
holds); long ones show what each family's billing and the smallest legible glyph allow. Each long
document (50k+ tokens of one kind, from sources on any Debian machine) is cut at a line to 1k, 5k,
20k and 50k o200k tokens and drawn as the router draws a long span: in parts of about
``MAX_CHUNK_CHARS`` (``router.chunking.parts_of``), each part a rendering of its own. Text tokens are
counted with the family's own tokenizer, image tokens with its billing formula. The typesetting is
the same at every length, so a sample of each document (its first ~1k tokens, cut at a line: about
half a page) is read back by OCR at the provider's resolution and stands beside the ratios: a full
page of dense text costs RapidOCR a minute or more.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from router.chunking import parts_of
from router.fidelity.readback import check
from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density
from router.tokens import count_tokens
from router.tools.bench_corpus import (
    DEBIAN_REFERENCE_ZH,
    DPKG_LOG,
    Document,
    chinese_reference_text,
    price_map,
    price_table_text,
)

__all__ = ["LENGTHS", "LengthRow", "lengths_markdown", "long_documents", "measure_lengths"]

LENGTHS = (1_000, 5_000, 20_000, 50_000)
SAMPLE_TOKENS = 1_000  # read back per document, family and density
LICENCES = Path("/usr/share/common-licenses")
_STDLIB = ("argparse", "configparser", "textwrap", "shlex", "difflib", "tarfile", "zipfile", "logging", "csv")


class LengthRow(BaseModel):
    document: str
    kind: str
    script: str
    encoder: str
    density: str
    length: int = Field(description="the cut, in o200k tokens")
    text_tokens: int = Field(description="the cut's text tokens with the family's tokenizer")
    image_tokens: int
    pages: int
    parts: int
    compression: float
    char_accuracy: float | None = Field(None, description="read-back of the document's sample (longest cut's row)")


def long_documents() -> tuple[list[Document], list[str]]:
    """Documents of 50k+ o200k tokens each, and a note for each source missing here."""
    found: list[Document] = []
    missing: list[str] = []
    licences = sorted(p for p in LICENCES.glob("*") if p.is_file() and not p.is_symlink()) if LICENCES.exists() else []
    if licences:
        text = "\n\n".join(p.read_text(encoding="utf-8", errors="replace") for p in licences)
        found.append(Document(name="licences-prose", kind="prose", source=str(LICENCES), text=text))
    else:
        missing.append(f"prose: {LICENCES} not found")
    chinese = chinese_reference_text()
    if chinese is not None:
        found.append(Document(name="debian-reference-zh", kind="prose", script="cjk",
                              source=str(DEBIAN_REFERENCE_ZH), text=chinese))  # fmt: skip
    else:
        missing.append(f"Chinese prose: {DEBIAN_REFERENCE_ZH} not found")
    modules = [__import__(name) for name in _STDLIB]
    code = "\n\n".join(inspect.getsource(module) for module in modules)
    found.append(Document(name="stdlib-code", kind="code", language="python",
                          source="CPython Lib/" + ", ".join(f"{n}.py" for n in _STDLIB), text=code))  # fmt: skip
    if DPKG_LOG.exists() and DPKG_LOG.stat().st_size > 250_000:
        found.append(Document(name="dpkg-log", kind="log", source=str(DPKG_LOG),
                              text=DPKG_LOG.read_text(encoding="utf-8", errors="replace")))  # fmt: skip
    else:
        missing.append(f"log: {DPKG_LOG} missing or under 250 kB")
    prices = price_map()
    found.append(Document(name="litellm-prices-json", kind="json", source="litellm model price map",
                          text=json.dumps(prices, indent=2)))  # fmt: skip
    found.append(Document(name="litellm-prices-table", kind="table", source="litellm model price map",
                          text=price_table_text()))  # fmt: skip
    return found, missing


def cut_to_tokens(text: str, tokens: int) -> str:
    """The first lines of ``text`` holding about ``tokens`` o200k tokens."""
    lines = text.splitlines(keepends=True)
    kept: list[str] = []
    counted = 0
    for line in lines:
        counted += count_tokens(line, "gpt-4o")
        kept.append(line)
        if counted >= tokens:
            break
    return "".join(kept).rstrip("\n")


def measure_lengths(
    documents: Sequence[Document],
    encoders: Sequence[str],
    densities: Sequence[str],
    lengths: Sequence[int] = LENGTHS,
    *,
    models: dict[str, str],
    engine: str = "rapidocr",
    on_step: Callable[[str], None] | None = None,
) -> list[LengthRow]:
    rows: list[LengthRow] = []
    longest = max(lengths)
    for document in documents:
        for length in lengths:
            text = cut_to_tokens(document.text, length)
            parts = [text[a:b] for a, b in parts_of(document.kind, text)]
            for encoder in encoders:
                profile = get_profile(encoder)
                text_tokens = count_tokens(text, models.get(encoder, "gpt-4o"))
                for density in densities:
                    target = RenderTarget(profile, get_density(density, encoder))
                    renderings = [
                        render_text(part, document.kind, document.script, document.language, target) for part in parts
                    ]
                    image_tokens = sum(r.image_tokens for r in renderings)
                    accuracy = None
                    if length == longest:
                        sample = cut_to_tokens(document.text, SAMPLE_TOKENS)
                        drawn = render_text(sample, document.kind, document.script, document.language, target)
                        read = check(sample, document.kind, document.script, drawn, profile, engine=engine)
                        accuracy = read.char_accuracy
                    rows.append(LengthRow(
                        document=document.name, kind=document.kind, script=document.script, encoder=encoder,
                        density=density, length=length, text_tokens=text_tokens, image_tokens=image_tokens,
                        pages=sum(len(r.pages) for r in renderings), parts=len(parts),
                        compression=round(text_tokens / max(image_tokens, 1), 3), char_accuracy=accuracy,
                    ))  # fmt: skip
                    if on_step:
                        on_step(f"{document.name} {length // 1000}k {encoder} {density}: "
                                f"{text_tokens / max(image_tokens, 1):.2f}x")  # fmt: skip
    return rows


def lengths_steps(documents: Sequence[Document], encoders: Sequence[str], densities: Sequence[str],
                  lengths: Sequence[int]) -> int:  # fmt: skip
    return len(documents) * len(encoders) * len(densities) * len(lengths)


def lengths_markdown(rows: Sequence[LengthRow]) -> list[str]:
    """Per density: one row per document, one column per family, the ratio at each length."""
    if not rows:
        return []
    lengths = sorted({r.length for r in rows})
    encoders = list(dict.fromkeys(r.encoder for r in rows))
    lines = [
        "Compression as documents grow (text tokens / image tokens at "
        + ", ".join(f"{n // 1000}k" for n in lengths)
        + f" o200k tokens; then the read-back of a {SAMPLE_TOKENS:,}-token sample at the same typesetting):",
        "",
    ]
    for density in dict.fromkeys(r.density for r in rows):
        lines += [f"**{density}**", "", "| document | " + " | ".join(encoders) + " |",
                  "|---|" + "---:|" * len(encoders)]  # fmt: skip
        for document in dict.fromkeys(r.document for r in rows):
            cells = []
            for encoder in encoders:
                mine = sorted(
                    (r for r in rows if r.document == document and r.encoder == encoder and r.density == density),
                    key=lambda r: r.length,
                )
                ratios = " / ".join(f"{r.compression:.2f}" for r in mine)
                read = next((r.char_accuracy for r in mine if r.char_accuracy is not None), None)
                cells.append(f"{ratios}x" + (f", {read:.1%}" if read is not None else ""))
            lines.append(f"| {document} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
