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
from router.kinds import RENDERABLE_KINDS


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
    _configure_logging(args)
    try:
        return args.handler(args)
    except (RouterError, OSError, json.JSONDecodeError) as exc:
        # Not wrapped by Rich: a path or a model name broken over two lines cannot be copied back
        err_console().print(f"[bold red]error:[/] {_plain(str(exc))}", highlight=False, soft_wrap=True)
        return 1


def _configure_logging(args: argparse.Namespace) -> None:
    """``--log-level``, else ``-v``/``-vv``; ``hcr serve`` logs one JSON line per request at info."""
    from router.logs import json_logging, text_logging

    level = args.log_level or {0: None, 1: "info"}.get(args.verbose, "debug")
    if args.handler is _serve:
        json_logging(level or "info")
    else:
        text_logging(level or "warning")


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


def _common() -> argparse.ArgumentParser:
    """Options every command takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    common.add_argument("--log-level", choices=_LOG_LEVELS, help="log level of the 'router' loggers on stderr")
    return common


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hcr", description="Hybrid text/image context router")
    parser.add_argument("--version", action="version", version=f"hcr {_version()}")
    sub = parser.add_subparsers(title="commands")
    common = [_common()]
    as_json = "print one JSON document on stdout instead of tables (for scripts)"

    route = sub.add_parser("route", parents=common, help="route a chat request: decisions, routed request, pages",
                           description="Route a chat request as the proxy would; no backend is called.")  # fmt: skip
    route.add_argument("request", type=Path, help="JSON file: an OpenAI chat request or a list of messages")
    route.add_argument("--model", help="target model (default: the request's 'model')")
    route.add_argument("--policy", default="default", help="policy YAML path or built-in name (default: default)")
    route.add_argument("--encoder", help="encoder family override (see 'hcr profiles')")
    route.add_argument("--density", choices=DENSITY_NAMES, help="density override")
    route.add_argument("--out", type=Path, help="folder for the routed request, report, trace and PNG pages")
    route.add_argument("--attach", type=Path, action="append", default=[],
                       help="attach a file (PDF, XPS, EPUB...) to the last user message (repeatable)")  # fmt: skip
    route.add_argument("--pages", help='page range read from attached documents, e.g. "1-5,9"')
    route.add_argument("--json", action="store_true", help=as_json)
    route.set_defaults(handler=_lazy("router.commands", "route"))

    render = sub.add_parser("render", parents=common, help="render a file into pages for a model's encoder",
                            description="Draw one file as the router would draw it as a chunk.")  # fmt: skip
    render.add_argument("file", type=Path, nargs="+",
                        help="a text file (code, markdown, JSON, a log, CSV, a diff...); several: a batch")  # fmt: skip
    render.add_argument("--batch", action="store_true",
                        help="render in a pool of processes, each file into its own folder under --out")  # fmt: skip
    render.add_argument("--workers", type=int, help="render processes for --batch (default: one per core)")
    render.add_argument("--model", required=True, help="the model the pages are for (its encoder's geometry)")
    render.add_argument("--density", default="balanced", choices=DENSITY_NAMES, help="(default: balanced)")
    render.add_argument("--kind", choices=RENDERABLE_KINDS, help="how to draw the file (default: guessed)")
    render.add_argument("--encoder", help="encoder family override (see 'hcr profiles')")
    render.add_argument("--out", type=Path, required=True, help="folder for the PNG pages")
    render.add_argument("--json", action="store_true", help=as_json)
    render.set_defaults(handler=_lazy("router.commands", "render"))

    encode = sub.add_parser("encode", parents=common,
                            help="pre-encode files into page embeddings with a local vision checkpoint",
                            description="Draw files as requests would and store their pages' embeddings "
                                        "(needs the [local] extra).")  # fmt: skip
    encode.add_argument("files", type=Path, nargs="+", help="documents (PDF, EPUB...), text or code files")
    encode.add_argument("--encoder", type=Path, required=True, help="the model's checkpoint folder (safetensors)")
    encode.add_argument("--out", type=Path, help="the embedding store (default: ~/.cache/hcr/embeddings)")
    encode.add_argument("--model", help="the model name requests will use (default: hosted_vllm/<folder name>)")
    encode.add_argument("--policy", default="default", help="policy YAML path or built-in name (default: default)")
    encode.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    encode.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    encode.add_argument("--batch-pages", type=int, default=4, help="pages per forward pass (default: 4)")
    encode.add_argument("--json", action="store_true", help=as_json)
    encode.set_defaults(handler=_lazy("router.local.command", "encode"))

    serve = sub.add_parser("serve", parents=common, help="run the OpenAI- and Anthropic-compatible routing proxy")
    serve.add_argument("--config", type=Path, help="a LiteLLM Proxy config.yaml (model_list...); none = pass-through")
    serve.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8088, help="(default: 8088)")
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes, each with its render pool (default: 1)")  # fmt: skip
    serve.set_defaults(handler=_serve)

    inspect = sub.add_parser("inspect", parents=common,
                             help="look at what 'hcr route --out' wrote, page by page, in a browser")  # fmt: skip
    inspect.add_argument("folder", type=Path, help="an out folder, or a folder of them")
    inspect.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1; the inspector has no key)")
    inspect.add_argument("--port", type=int, default=8089, help="(default: 8089)")
    inspect.set_defaults(handler=_inspect)

    calibrate = sub.add_parser(
        "calibrate", parents=common,
        help="sweep glyph sizes per encoder family, read pages back with OCR, write a calibration table",
        description="Needs the 'fidelity' extra (OCR). The full sweep reads thousands of pages back: hours on "
        "2 cores; one family and class with --ems takes minutes. The time left is shown as it runs.",
    )  # fmt: skip
    calibrate.add_argument("--encoder", action="append", help="encoder family (repeatable; default: all)")
    calibrate.add_argument("--kinds", nargs="+", choices=["latin", "table", "data", "cjk", "mono", "logs"],
                           help="text classes (default: all)")  # fmt: skip
    calibrate.add_argument("--engine", default="rapidocr", choices=["rapidocr", "tesseract"], help="OCR engine")
    calibrate.add_argument("--ems", help="comma-separated em sizes in px for every class (default: the full sweep); "
                           "added to the measurements in --out, each class chosen again from all of them")  # fmt: skip
    calibrate.add_argument("--line-heights", help="comma-separated line heights (default: 1.0,1.1,1.2,1.3)")
    calibrate.add_argument("--out", type=Path, default=Path("calibration.json"),
                           help="table to write or update (default: ./calibration.json)")  # fmt: skip
    calibrate.add_argument("--rechoose", action="store_true",
                           help="choose again from the measurements already in --out (no OCR)")  # fmt: skip
    calibrate.set_defaults(handler=_lazy("router.tools.commands", "calibrate"))

    bench = sub.add_parser(
        "bench", parents=common, help="compression and OCR read-back on real documents; plots; answer equivalence",
        description="Needs the 'bench' extra (OCR and plots). A full run took 25 min on 2 cores; --quick a few "
        "minutes. The time left is shown as it runs.",
    )  # fmt: skip
    bench.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder (default: bench-results)")
    bench.add_argument("--quick", action="store_true", help="two documents, two encoder families")
    bench.add_argument("--encoder", action="append", help="encoder family (repeatable)")
    bench.add_argument("--density", action="append", choices=DENSITY_NAMES, help="density (repeatable)")
    bench.add_argument("--engine", default="rapidocr", choices=["rapidocr", "tesseract"], help="OCR engine")
    bench.add_argument("--documents", default=None, metavar="NAME,...",
                       help="only these documents of the corpus (and of --lengths' long documents), "
                            "e.g. after a calibration that changed one kind (default: all)")  # fmt: skip
    bench.add_argument("--lengths", default=None, metavar="N,N,...",
                       help="also measure long documents cut to these o200k token counts "
                            "(e.g. 1000,5000,20000,50000; default: none)")  # fmt: skip
    bench.add_argument("--backend", metavar="MODEL",
                       help="also ask MODEL questions as text and routed (API key from env)")  # fmt: skip
    bench.add_argument("--api-base", help="base URL for --backend (a local vLLM or gateway)")
    bench.add_argument("--policy", default="default", help="policy for the routed arm of --backend")
    bench.add_argument("--questions", type=int, default=2,
                       help="questions per document for --backend (default: 2; agent session: +1)")  # fmt: skip
    bench.add_argument("--json", action="store_true", help=as_json)
    bench.set_defaults(handler=_lazy("router.tools.commands", "bench"))

    stats = sub.add_parser("stats", parents=common, help="savings in tokens and money from the proxy's event log")
    stats.add_argument("log", type=Path, nargs="?", default=None,
                       help="an event log (default: where hcr serve writes: ~/.local/state/hcr/...)")  # fmt: skip
    stats.add_argument("--by", choices=["model", "day", "key"], default="model", help="group by (default: model)")
    stats.add_argument("--json", action="store_true", help=as_json)
    stats.set_defaults(handler=_lazy("router.tools.commands", "stats"))

    profiles = sub.add_parser("profiles", parents=common, help="list encoder families with their page geometry")
    profiles.add_argument("--json", action="store_true", help=as_json)
    profiles.set_defaults(handler=_profiles)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from router.proxy.app import serve
    from router.proxy.config import ProxyConfig

    config = ProxyConfig.from_yaml(args.config) if args.config else None
    where = f"http://{args.host}:{args.port}"
    ui = "" if config is not None and not config.ui.enabled else f", inspector at {where}/ui"
    console().print(_plain(f"hcr proxy on {where} ({args.config or 'no config: pass-through'}){ui}"), highlight=False)
    serve(str(args.config) if args.config else None, args.host, args.port, workers=args.workers)
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


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A handler imported when its command runs (``hcr --help`` stays fast)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        handler: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
        return handler(args)

    return run


def emit_json(data: Any) -> None:
    """``--json`` output: one JSON document on stdout, nothing else there."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=1, default=str) + "\n")


def _profiles(args: argparse.Namespace) -> int:
    from rich.table import Table

    from router.providers.geometry import PROFILES

    if args.json:
        emit_json([p.model_dump(mode="json") for p in PROFILES.values()])
        return 0
    table = Table(title="Encoder families", title_justify="left")
    for column in ("family", "page (px)", "tokens/page", "px/token", "max images", "billing"):
        table.add_column(
            column, justify="left" if column in ("family", "billing") else "right", no_wrap=column != "billing"
        )
    for p in PROFILES.values():
        table.add_row(
            p.name, f"{p.page_width}x{p.page_height}" + (f", to {p.page_widths[-1]} wide" if p.max_page_width else ""),
            f"{p.page_tokens:,}", f"{p.pixels_per_token:,.0f}",
            f"{p.max_images:,}", p.description,
        )  # fmt: skip
    console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
