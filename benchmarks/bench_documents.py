"""Document benchmark: a ~300-page PDF of real Debian manuals, routed page by page.

    python benchmarks/bench_documents.py [--out benchmarks/results] [--model claude-sonnet-4-6]

Prints and writes ``bench_documents.json``: pages per second, peak RSS (pages are streamed, so it
should not grow with the page count), and per page kind (text, tables, figures, scanned) the tokens
the pages cost as text and as images, against the provider's own PDF input.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import resource
import sys
import time
from pathlib import Path

import pymupdf
from rich.console import Console
from rich.table import Table

from router import Policy, Router

console = Console(width=None if sys.stdout.isatty() else 150)
SOURCES = [
    Path("/usr/share/debian-reference/debian-reference.zh-cn.pdf"),
    Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
    Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
]


def corpus(pages: int) -> bytes:
    """Real PDFs joined (repeated if needed) into one of ``pages`` pages."""
    out = pymupdf.open()
    available = [pymupdf.open(p) for p in SOURCES if p.exists()]
    if not available:
        raise SystemExit("no Debian PDF found: apt-get install debian-reference-zh-cn")
    while out.page_count < pages:
        for doc in available:
            out.insert_pdf(doc, to_page=min(doc.page_count, pages - out.page_count) - 1)
            if out.page_count >= pages:
                break
    return out.tobytes(garbage=3, deflate=True)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--model", default="claude-sonnet-4-6")
    parser.add_argument("--pages", type=int, default=304)
    args = parser.parse_args()

    data = corpus(args.pages)
    file = {
        "filename": "debian-manuals.pdf",
        "file_data": "data:application/pdf;base64," + base64.b64encode(data).decode(),
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": "Summarise."}, {"type": "file", "file": file}]}]
    router = Router(Policy.builtin("default").model_copy(update={"max_pages": args.pages}))
    router.route([{"role": "user", "content": "warm up"}], model=args.model)
    rss_before = peak_rss_mib()
    started = time.perf_counter()
    routed = router.route(messages, model=args.model)
    seconds = time.perf_counter() - started
    rss_after = peak_rss_mib()

    kinds: dict[str, dict[str, int]] = {}
    for chunk in routed.report.chunks:
        if chunk.kind != "page":
            continue
        look = chunk.reason.rsplit("(", 1)[1].split(" page")[0]
        row = kinds.setdefault(
            look, {"pages": 0, "as_images": 0, "text_tokens": 0, "image_tokens": 0, "sent_tokens": 0}
        )
        row["pages"] += 1
        row["as_images"] += chunk.action == "image"
        row["text_tokens"] += chunk.text_tokens
        row["image_tokens"] += chunk.image_tokens
        row["sent_tokens"] += chunk.tokens_after
    document = routed.report.documents[0]
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": args.model, "encoder": routed.report.encoder, "pages": document.pages_used,
        "seconds": round(seconds, 2), "pages_per_second": round(document.pages_used / seconds, 1),
        "peak_rss_mib_before": round(rss_before, 1), "peak_rss_mib_after": round(rss_after, 1),
        "tokens_as_text": routed.report.tokens_before, "tokens_sent": document.tokens_after,
        "tokens_native_pdf": document.native_tokens, "by_page_kind": kinds,
    }  # fmt: skip
    table = Table(title=f"{document.pages_used} pages for {args.model} ({routed.report.encoder})", title_justify="left")
    for column in ("page kind", "pages", "as images", "tokens as text", "image tokens", "tokens sent"):
        table.add_column(column, justify="left" if column == "page kind" else "right")
    for look, row in sorted(kinds.items()):
        table.add_row(look, *(f"{v:,}" for v in row.values()))
    console.print(table)
    console.print(
        f"{result['pages_per_second']} pages/s ({seconds:.1f} s); peak RSS {rss_before:.0f} -> {rss_after:.0f} MiB; "
        f"tokens: {result['tokens_as_text']:,} as text, {result['tokens_sent']:,} sent, "
        f"~{document.native_tokens:,} if the provider read the PDF itself",
        highlight=False,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "bench_documents.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
