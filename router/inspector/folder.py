"""Out folders: what ``hcr route --out`` writes, and ``hcr inspect`` reads and serves.

routed_request.json   the request as it would be sent
report.json           the routing report
chunkNNN_pageMM.png   the pages, exactly as sent
trace.json            the inspector's record: report, source texts, factsheets, page files
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from router.errors import RouterError
from router.inspector.trace import Trace, trace_of
from router.models import RoutedRequest

__all__ = ["inspector_app", "load_traces", "write_out"]

TRACE_FILE = "trace.json"


def write_out(out: Path, request: dict[str, Any], routed: RoutedRequest) -> int:
    """Write ``routed`` into ``out``; returns the number of pages written."""
    out.mkdir(parents=True, exist_ok=True)
    body = {**request, "model": routed.model, "messages": routed.messages}
    (out / "routed_request.json").write_text(json.dumps(body, ensure_ascii=False, indent=1), "utf-8")
    (out / "report.json").write_text(routed.report.model_dump_json(indent=1), "utf-8")
    trace = trace_of(routed, id=uuid.uuid4().hex[:12], model=routed.model, keep_content=True)
    assert trace.content is not None
    written = 0
    for index, views in trace.content.pages.items():
        for n, view in enumerate(views, 1):
            view.file = f"chunk{index:03d}_page{n:02d}.png"
            (out / view.file).write_bytes(view.png or b"")
            written += 1
    (out / TRACE_FILE).write_text(trace.model_dump_json(indent=1), "utf-8")
    return written


def load_traces(folder: Path) -> list[Trace]:
    """The traces of ``folder`` (an out folder) or of the out folders directly inside it, pages loaded."""
    if not folder.is_dir():
        raise RouterError(f"{folder}: not a folder (give the folder 'hcr route --out' wrote)")
    files = [folder / TRACE_FILE] if (folder / TRACE_FILE).is_file() else sorted(folder.glob(f"*/{TRACE_FILE}"))
    if not files:
        raise RouterError(f"{folder}: no {TRACE_FILE} here or in its subfolders (write one with 'hcr route --out')")
    traces = []
    for file in files:
        try:
            trace = Trace.model_validate_json(file.read_bytes())
        except ValueError as exc:
            raise RouterError(f"{file}: not a trace written by hcr route ({str(exc).splitlines()[0]})") from None
        for views in trace.content.pages.values() if trace.content else ():
            for view in views:
                page = file.parent / (view.file or "")
                if view.file and Path(view.file).name == view.file and page.is_file():
                    view.png = page.read_bytes()
        traces.append(trace)
    return sorted(traces, key=lambda t: t.at)


def inspector_app(traces: list[Trace], note: str) -> Any:
    """A local app serving ``traces`` under /ui (no key: bind it to 127.0.0.1)."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from router.inspector.app import Access, inspector_routes, mount_static
    from router.inspector.store import TraceStore

    store = TraceStore(max_traces=max(1, len(traces)), max_content_bytes=1 << 62)
    for trace in traces:
        store.add("", trace)
    app = FastAPI(title="hcr inspect", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(inspector_routes(store, Access(), note=note))
    mount_static(app)

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse("/ui")

    return app
