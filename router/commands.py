"""``hcr route`` and ``hcr render``: the commands that run the request path on files, from ``router.cli``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from router.cli import _plain, console, emit_json, err_console
from router.errors import RouterError
from router.inspector.folder import write_out
from router.kinds import KINDS, kind_for_extension

__all__ = ["render", "route"]


def route(args: argparse.Namespace) -> int:
    from router.core import Router
    from router.policy import Policy
    from router.target import unknown_model

    try:
        data: Any = json.loads(args.request.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RouterError(f"{args.request}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    request = {"messages": data} if isinstance(data, list) else data
    if not isinstance(request, dict) or "messages" not in request:
        raise RouterError(f"{args.request}: expected a chat request object with 'messages', or a list of messages")
    model = args.model or request.get("model")
    if not model:
        raise RouterError(f"{args.request}: no model given; pass --model")
    policy = Policy.load(args.policy)
    if not args.encoder and (problem := unknown_model(policy, str(model))):
        raise RouterError(problem)
    for path in args.attach:
        _attach(request["messages"], path)
    routed = Router(policy).route(
        request["messages"], model=model, encoder=args.encoder, density=args.density, pages=args.pages
    )
    report = routed.report
    written = write_out(args.out, {**request, "model": model}, routed) if args.out else 0
    if args.json:
        emit_json({"report": report.model_dump(mode="json"), "out": str(args.out) if args.out else None,
                   "pages_written": written})  # fmt: skip
        return 0
    from rich.table import Table

    table = Table(title=f"Routing for {model} (encoder {report.encoder})", title_justify="left")
    for column in ("#", "msg", "role", "kind", "script", "action", "text tok", "image tok", "pages", "ms", "reason"):
        table.add_column(
            column, justify="right" if column in ("#", "msg", "text tok", "image tok", "pages", "ms") else "left"
        )
    for c in report.chunks:
        action = "[green]image[/]" if c.action == "image" else "text"
        messages = f"{c.message_index}-{c.message_index + c.messages - 1}" if c.messages > 1 else str(c.message_index)
        role = _plain(f"{c.role} ({c.tool_name})" if c.tool_name else c.role)  # tool names are the caller's
        table.add_row(
            str(c.index), messages, role, c.kind, c.script, action, f"{c.text_tokens:,}",
            f"{c.image_tokens:,}" if c.image_tokens else "", str(c.pages or ""),
            f"{c.render_ms:.0f}" if c.render_ms else "", _plain(c.reason),
        )  # fmt: skip
    console().print(table)
    cost = ""
    if report.cost_before is not None and report.cost_after is not None:
        cost = f"   input cost ${report.cost_before:.4f} -> ${report.cost_after:.4f}"
    for doc in report.documents:
        native = f"; read natively by the provider: ~{doc.native_tokens:,} tokens" if doc.native_tokens else ""
        console().print(
            _plain(f"{doc.name}: {doc.pages_used} of {doc.pages_total} pages -> {doc.tokens_after:,} tokens{native}")
            + (f" ({_plain(doc.note)})" if doc.note else ""),
            highlight=False,
        )
    console().print(
        f"[bold]tokens {report.tokens_before:,} -> {report.tokens_after:,}[/] "
        f"({report.compression:.2f}x, {report.tokens_saved:,} saved), {report.images} image(s), "
        f"routed in {report.route_ms:.0f} ms{cost}",
        highlight=False,
    )
    console().print(f"[dim]text tokens counted with {_plain(report.tokenizer)}[/]", highlight=False)
    if args.out:
        console().print(
            _plain(
                f"wrote {args.out}/routed_request.json, report.json, trace.json and {written} page(s); "
                f"look at them with: hcr inspect {args.out}"
            ),
            highlight=False,
        )
    return 0


def _attach(messages: list[Any], path: Path) -> None:
    """Add ``path`` as an OpenAI file part to the last user message."""
    import base64
    import mimetypes

    data = base64.b64encode(path.read_bytes()).decode("ascii")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    part = {"type": "file", "file": {"filename": path.name, "file_data": f"data:{media_type};base64,{data}"}}
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            message["content"] = (
                [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            ) + [part]
            return
    messages.append({"role": "user", "content": [part]})


def render(args: argparse.Namespace) -> int:
    if args.batch or len(args.file) > 1:
        return _render_batch(args)
    from router.tokens import count_tokens

    args.file = args.file[0]
    text, kind, language, profile, drawn, rendering = _render_file(args.file, args)
    args.out.mkdir(parents=True, exist_ok=True)
    for n, page in enumerate(rendering.pages, 1):
        (args.out / f"{args.file.stem}_page{n:02d}.png").write_bytes(page.png)
    tokens = count_tokens(text, args.model)
    costlier = (
        f"the pages cost more than the text ({rendering.image_tokens:,} image tokens against {tokens:,} text "
        f"tokens): the router would send this file as text"
        if rendering.image_tokens > tokens
        else None
    )
    if args.json:
        pages = [{"file": f"{args.file.stem}_page{n:02d}.png", "width": p.width, "height": p.height,
                  "tokens": p.tokens} for n, p in enumerate(rendering.pages, 1)]  # fmt: skip
        emit_json({"file": str(args.file), "kind": kind, "language": language, "encoder": profile.name,
                   "density": args.density, "drawn_at": drawn, "columns": rendering.columns, "text_tokens": tokens,
                   "image_tokens": rendering.image_tokens, "render_ms": round(rendering.render_ms, 1),
                   "encode_ms": round(rendering.encode_ms, 1), "out": str(args.out), "pages": pages,
                   "warning": costlier})  # fmt: skip
        return 0
    console().print(
        _plain(
            f"{args.file}: {kind}{f' ({language})' if language else ''}, {len(rendering.pages)} page(s) "
            f"for {profile.name}{f' (drawn at {drawn}: same tokens)' if drawn != args.density else ''}, "
            f"{rendering.columns} column(s); {tokens:,} text tokens -> "
            f"{rendering.image_tokens:,} image tokens ({tokens / max(rendering.image_tokens, 1):.2f}x); "
            f"layout {rendering.render_ms:.0f} ms, PNG {rendering.encode_ms:.0f} ms -> {args.out}/"
        ),
        highlight=False,
    )
    if costlier:
        err_console().print(f"[yellow]warning:[/] {_plain(costlier)}", highlight=False)
    return 0


def _render_file(path: Path, args: argparse.Namespace) -> tuple[str, str, str | None, Any, str, Any]:
    """(text, kind, language, encoder profile, density drawn, rendering) of one file, as the router
    would draw it: at larger glyphs where they bill no more tokens."""
    from router.chunking import detect_script
    from router.policy import Policy
    from router.providers.geometry import get_profile
    from router.render.chunks import RenderTarget, render_text
    from router.render.density import get_density
    from router.route_chunk import largest_at_the_same_price

    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise RouterError(f"{path}: the file is empty")
    kind, language = args.kind, None
    if kind is None:
        kind, language = _guess_kind(path, text)
    profile = get_profile(args.encoder) if args.encoder else Policy.builtin("default").encoder_for(args.model)
    script = detect_script(text)

    def draw(density: Any) -> Any:
        return render_text(text, kind, script, language, RenderTarget(profile, density))

    asked = get_density(args.density, profile.name)
    drawn, rendering = largest_at_the_same_price(kind, script, asked, draw(asked), draw, profile)
    return text, kind, language, profile, drawn.name, rendering


def _render_batch(args: argparse.Namespace) -> int:
    """Many files at once, laid out in a pool of render processes (one PyMuPDF each); each file's
    pages in a folder of its own under ``--out``. A file that cannot be drawn is named, not fatal."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from router.render.pool import RenderPool, default_workers, use_render_pool

    workers = args.workers or default_workers()
    pool = RenderPool(workers, wait_s=3600)
    use_render_pool(pool)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()

    def one(n_path: tuple[int, Path]) -> dict[str, Any]:
        n, path = n_path
        folder = args.out / f"{n:04d}_{path.stem}"
        try:
            _, kind, language, profile, _, rendering = _render_file(path, args)
        except (RouterError, OSError, UnicodeDecodeError) as exc:
            return {"file": str(path), "error": str(exc)}
        folder.mkdir(parents=True, exist_ok=True)
        for page_number, page in enumerate(rendering.pages, 1):
            (folder / f"page{page_number:02d}.png").write_bytes(page.png)
        return {"file": str(path), "kind": kind, "language": language, "encoder": profile.name,
                "pages": len(rendering.pages), "image_tokens": rendering.image_tokens, "out": str(folder)}  # fmt: skip

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err_console()) as progress, ThreadPoolExecutor(workers * 2) as threads:
            task = progress.add_task(f"rendering in {workers} process(es)", total=len(args.file))
            for result in threads.map(one, enumerate(args.file)):
                results.append(result)
                progress.update(task, advance=1)
    finally:
        use_render_pool(None)
    seconds = time.perf_counter() - started
    pages = sum(r.get("pages", 0) for r in results)
    summary = {"files": len(results), "failed": sum("error" in r for r in results), "pages": pages,
               "seconds": round(seconds, 2), "pages_per_second": round(pages / seconds, 2) if seconds else None,
               "workers": workers}  # fmt: skip
    if args.json:
        emit_json({"summary": summary, "files": results})
        return 0
    for failed in (r for r in results if "error" in r):
        err_console().print(f"[yellow]skipped[/] {_plain(failed['error'])}", highlight=False)
    console().print(
        _plain(f"{summary['files']} file(s), {pages:,} page(s) in {seconds:.1f} s ({summary['pages_per_second']} "
               f"pages/s, {workers} render process(es)) -> {args.out}/"),
        highlight=False,
    )  # fmt: skip
    return 0


def _guess_kind(path: Path, text: str) -> tuple[str, str | None]:
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    from router.chunking import split_text

    kind = kind_for_extension(path.suffix)
    if kind is not None and not KINDS[kind].by_language:
        return kind, None
    try:
        lexer = get_lexer_for_filename(path.name)
        return kind or "code", lexer.aliases[0] if lexer.aliases else None
    except ClassNotFound:
        spans = split_text(text)
        return (spans[0][0], spans[0][3]) if len(spans) == 1 else ("markdown", None)
