"""``hcr encode``: documents, text and code encoded ahead of time into the embedding store.

Each file goes through the router exactly as a request carrying it would (a user message holding
its text, or the document attached), under the chosen policy with the checkpoint as the model's
local encoder, so the pages drawn here are the very pages a later request draws, and their
embeddings are found in the store (``local.cache_dir``) instead of being encoded again.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from router.cli import _plain, console, emit_json, err_console
from router.errors import RouterError

__all__ = ["default_store", "encode"]

_DOCUMENTS = {".pdf", ".xps", ".oxps", ".epub", ".mobi", ".fb2", ".cbz"}


def default_store() -> Path:
    """``$XDG_CACHE_HOME/hcr/embeddings`` (``~/.cache/hcr/embeddings``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "hcr" / "embeddings"


def encode(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from router.commands import _attach
    from router.core import Router
    from router.local.encoder import local_encoder
    from router.local.preprocess import ProcessorSettings
    from router.policy import ModelOverride, Policy

    ProcessorSettings.from_checkpoint(args.encoder)  # a missing or foreign checkpoint, named before anything runs
    out = args.out or default_store()
    base = Policy.load(args.policy)
    local = base.local.model_copy(
        update={"cache_dir": str(out), "device": args.device, "dtype": args.dtype, "batch_pages": args.batch_pages}
    )
    model = args.model or f"hosted_vllm/{Path(args.encoder).resolve().name}"
    entry = ModelOverride(match=model, encoder="local", checkpoint=str(args.encoder), vision=True)
    router = Router(base.model_copy(update={"models": [entry, *base.models], "local": local}))
    started = time.perf_counter()
    encoder = local_encoder(str(args.encoder), local)  # loaded before the clock of the first file
    load_s = time.perf_counter() - started
    results: list[dict[str, Any]] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    started = time.perf_counter()
    with Progress(*columns, console=err_console(), disable=args.json) as progress:
        task = progress.add_task(f"encoding on {args.device}", total=len(args.files))
        for path in args.files:
            results.append(_one(router, model, path, _attach))
            progress.update(task, advance=1)
    seconds = time.perf_counter() - started
    encoded = sum(r.get("encoded", 0) for r in results)
    summary = {
        "files": len(results), "failed": sum("error" in r for r in results),
        "pages": sum(r.get("pages", 0) for r in results), "encoded": encoded,
        "from_store": sum(r.get("from_store", 0) for r in results),
        "tokens": sum(r.get("tokens", 0) for r in results), "seconds": round(seconds, 2),
        "encode_seconds": round(encoder.encode_seconds, 2), "load_seconds": round(load_s, 2),
        "pages_per_second": round(encoded / encoder.encode_seconds, 3) if encoder.encode_seconds else None,
        "encoder": encoder.identity, "store": str(out),
    }  # fmt: skip
    if args.json:
        emit_json({"summary": summary, "files": results})
        return 1 if summary["failed"] else 0
    for failed in (r for r in results if "error" in r):
        err_console().print(f"[yellow]skipped[/] {_plain(failed['error'])}", highlight=False)
    console().print(
        _plain(
            f"{summary['files']} file(s): {summary['pages']:,} page(s), {summary['tokens']:,} image tokens; "
            f"{encoded:,} encoded, {summary['from_store']:,} already in the store; {seconds:.1f} s "
            f"({summary['pages_per_second'] or '-'} pages/s encoding) -> {out}/{encoder.identity}/\n"
            f"Requests find them with the policy setting  local: {{cache_dir: {out}}}"
        ),
        highlight=False,
    )
    return 1 if summary["failed"] else 0


def _one(router: Any, model: str, path: Path, attach: Any) -> dict[str, Any]:
    try:
        if path.suffix.lower() in _DOCUMENTS:
            messages: list[Any] = [{"role": "user", "content": f"The attached document {path.name}."}]
            attach(messages, path)
        else:
            text = path.read_text(encoding="utf-8")
            if not text.strip():
                raise RouterError(f"{path}: the file is empty")
            messages = [{"role": "user", "content": text}]
        routed = router.route(messages, model=model)
    except (RouterError, OSError, UnicodeDecodeError) as exc:
        return {"file": str(path), "error": str(exc)}
    embedded = routed.report.embeddings
    if embedded is None or not embedded.sent:
        reasons = sorted({c.reason for c in routed.report.chunks if c.action == "text"})
        why = embedded.note if embedded is not None else f"sent as text, nothing to encode ({'; '.join(reasons)})"
        return {"file": str(path), "pages": 0, "note": why}
    pages = embedded.pages
    return {
        "file": str(path), "pages": len(pages), "tokens": sum(p.tokens for p in pages),
        "encoded": sum(p.source == "encoded" for p in pages), "from_store": sum(p.source != "encoded" for p in pages),
        "encode_ms": round(embedded.encode_ms, 1),
    }  # fmt: skip
