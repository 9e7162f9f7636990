"""The ``hcr`` command: route a request, render a file, list encoder families."""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

from router.density_names import DENSITY_NAMES
from router.errors import RouterError
from router.kinds import KINDS, RENDERABLE_KINDS, kind_for_extension


@functools.lru_cache(maxsize=1)
def _consoles() -> tuple[Console, Console]:
    from rich.console import Console

    # Piped output (CI logs, files) gets a wide table instead of Rich's 80-column default.
    return Console(width=None if sys.stdout.isatty() else 160), Console(stderr=True)


def console() -> Console:
    return _consoles()[0]


def err_console() -> Console:
    return _consoles()[1]


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (RouterError, OSError, json.JSONDecodeError) as exc:
        err_console().print(f"[bold red]error:[/] {_plain(str(exc))}", highlight=False)
        return 1


def _plain(text: str) -> str:
    """``text`` as it reads, not as Rich markup: ``'hybrid-context-router[fidelity]'`` keeps its brackets."""
    from rich.markup import escape

    return escape(text)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("hybrid-context-router")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


_LOG_LEVELS = ("debug", "info", "warning", "error")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hcr", description="Hybrid text/image context router")
    parser.add_argument("--version", action="version", version=f"hcr {_version()}")
    sub = parser.add_subparsers(title="commands")

    route = sub.add_parser("route", help="route a chat request; print decisions, write the routed request and pages")
    route.add_argument("request", type=Path, help="JSON file: an OpenAI chat request or a list of messages")
    route.add_argument("--model", help="target model (default: the request's 'model')")
    route.add_argument("--policy", default="default", help="policy YAML path or built-in name (default: default)")
    route.add_argument("--encoder", help="encoder family override (see 'hcr profiles')")
    route.add_argument("--density", choices=DENSITY_NAMES, help="density override")
    route.add_argument("--out", type=Path, help="folder for routed_request.json and the PNG pages")
    route.add_argument(
        "--attach",
        type=Path,
        action="append",
        default=[],
        help="attach a file (PDF, XPS, EPUB...) to the last user message",
    )
    route.add_argument("--pages", help='page range read from attached documents, e.g. "1-5,9"')
    route.set_defaults(handler=_route)

    render = sub.add_parser("render", help="render a file into pages for a model's encoder")
    render.add_argument("file", type=Path)
    render.add_argument("--model", required=True)
    render.add_argument("--density", default="balanced", choices=DENSITY_NAMES)
    render.add_argument("--kind", choices=RENDERABLE_KINDS, help="how to draw the file (default: guessed)")
    render.add_argument("--encoder", help="encoder family override")
    render.add_argument("--out", type=Path, required=True)
    render.set_defaults(handler=_render)

    serve = sub.add_parser("serve", help="run the OpenAI- and Anthropic-compatible routing proxy")
    serve.add_argument("--config", type=Path, help="proxy.yaml (LiteLLM-style model_list); none = pass-through")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8088)
    serve.add_argument("--log-level", default="info", choices=_LOG_LEVELS, help="one JSON line per request at info")
    serve.set_defaults(handler=_serve)

    inspect = sub.add_parser("inspect", help="look at what 'hcr route --out' wrote, page by page, in a browser")
    inspect.add_argument("folder", type=Path, help="an out folder, or a folder of them")
    inspect.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1; the inspector has no key)")
    inspect.add_argument("--port", type=int, default=8089)
    inspect.set_defaults(handler=_inspect)

    calibrate = sub.add_parser(
        "calibrate", help="sweep glyph sizes per encoder family, read pages back with OCR, write a calibration table"
    )
    calibrate.add_argument("--encoder", action="append", help="encoder family (repeatable; default: all)")
    calibrate.add_argument("--kinds", nargs="+", choices=["latin", "cjk", "mono"], help="text classes (default: all)")
    calibrate.add_argument("--engine", default="rapidocr", choices=["rapidocr", "tesseract"])
    calibrate.add_argument("--ems", help="comma-separated em sizes in px for every class (default: the full sweep)")
    calibrate.add_argument("--line-heights", help="comma-separated line heights (default: 1.1,1.2,1.3)")
    calibrate.add_argument(
        "--out",
        type=Path,
        default=Path("calibration.json"),
        help="table to write or update (default: ./calibration.json)",
    )
    calibrate.add_argument(
        "--rechoose", action="store_true", help="choose again from the measurements already in --out (no OCR)"
    )
    calibrate.set_defaults(handler=_tool("calibrate"))

    bench = sub.add_parser("bench", help="compression and OCR read-back on real documents; plots; answer equivalence")
    bench.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder (default: bench-results)")
    bench.add_argument("--quick", action="store_true", help="two documents, two encoder families")
    bench.add_argument("--encoder", action="append", help="encoder family (repeatable)")
    bench.add_argument("--density", action="append", choices=DENSITY_NAMES, help="(repeatable)")
    bench.add_argument("--engine", default="rapidocr", choices=["rapidocr", "tesseract"])
    bench.add_argument(
        "--backend", metavar="MODEL", help="also ask MODEL questions as text and routed (API key from env)"
    )
    bench.add_argument("--api-base", help="base URL for --backend (a local vLLM or gateway)")
    bench.add_argument("--policy", default="default", help="policy for the routed arm of --backend")
    bench.add_argument(
        "--questions", type=int, default=2, help="questions per document for --backend (default: 2; agent session: +1)"
    )
    bench.set_defaults(handler=_tool("bench"))

    profiles = sub.add_parser("profiles", help="list encoder families with their page geometry")
    profiles.set_defaults(handler=_profiles)
    return parser


def _route(args: argparse.Namespace) -> int:
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
        from router.inspector.folder import write_out

        written = write_out(args.out, {**request, "model": model}, routed)
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


def _render(args: argparse.Namespace) -> int:
    from router.chunking import detect_script
    from router.policy import Policy
    from router.providers.geometry import get_profile
    from router.render.chunks import RenderTarget, render_text
    from router.render.density import get_density
    from router.tokens import count_tokens

    text = args.file.read_text(encoding="utf-8")
    if not text.strip():
        raise RouterError(f"{args.file}: the file is empty")
    kind, language = args.kind, None
    if kind is None:
        kind, language = _guess_kind(args.file, text)
    profile = get_profile(args.encoder) if args.encoder else Policy.builtin("default").encoder_for(args.model)
    rendering = render_text(
        text, kind, detect_script(text), language, RenderTarget(profile, get_density(args.density, profile.name))
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for n, page in enumerate(rendering.pages, 1):
        (args.out / f"{args.file.stem}_page{n:02d}.png").write_bytes(page.png)
    tokens = count_tokens(text, args.model)
    console().print(
        f"{args.file}: {kind}{f' ({language})' if language else ''}, {len(rendering.pages)} page(s) "
        f"for {profile.name}, {rendering.columns} column(s); {tokens:,} text tokens -> "
        f"{rendering.image_tokens:,} image tokens ({tokens / max(rendering.image_tokens, 1):.2f}x); "
        f"layout {rendering.render_ms:.0f} ms, PNG {rendering.encode_ms:.0f} ms -> {args.out}/",
        highlight=False,
    )
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


def _serve(args: argparse.Namespace) -> int:
    from router.proxy.app import serve
    from router.proxy.config import ProxyConfig

    config = ProxyConfig.from_yaml(args.config) if args.config else None
    where = f"http://{args.host}:{args.port}"
    ui = "" if config is not None and not config.ui.enabled else f", inspector at {where}/ui"
    console().print(_plain(f"hcr proxy on {where} ({args.config or 'no config: pass-through'}){ui}"), highlight=False)
    serve(config, args.host, args.port, log_level=args.log_level)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import uvicorn

    from router.inspector.folder import inspector_app, load_traces

    traces = load_traces(args.folder)
    app = inspector_app(traces, note=f"{len(traces)} request(s) from {args.folder}")
    console().print(_plain(f"inspector for {args.folder} on http://{args.host}:{args.port}/ui (Ctrl-C stops it)"),
                    highlight=False)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _tool(name: str) -> Callable[[argparse.Namespace], int]:
    """A handler from ``router.tools.commands`` (calibration and benchmark: tooling, imported when run)."""

    def run(args: argparse.Namespace) -> int:
        from router.tools import commands

        handler: Callable[[argparse.Namespace], int] = getattr(commands, name)
        return handler(args)

    return run


def _profiles(args: argparse.Namespace) -> int:
    from rich.table import Table

    from router.providers.geometry import PROFILES

    table = Table(title="Encoder families", title_justify="left")
    for column in ("family", "page (px)", "tokens/page", "px/token", "max images", "billing"):
        table.add_column(
            column, justify="left" if column in ("family", "billing") else "right", no_wrap=column != "billing"
        )
    for p in PROFILES.values():
        table.add_row(
            p.name, f"{p.page_width}x{p.page_height}", f"{p.page_tokens:,}", f"{p.pixels_per_token:,.0f}",
            f"{p.max_images:,}", p.description,
        )  # fmt: skip
    console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
