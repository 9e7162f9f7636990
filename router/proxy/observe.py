"""What the proxy records of each request: a trace for the inspector, metrics, one JSON log line.

A handler names its request (``Observer.named``: endpoint and model, once read) and its routing
(``Observer.routed``); the middleware closes the record when the response starts (``finish``). A
stream's billed usage and recall calls arrive later, through ``Observer.watch``, into the same trace.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from router.events import EventLog, event_of
from router.fidelity.guard import FidelityStats
from router.inspector.store import TraceStore
from router.inspector.trace import Trace, trace_of
from router.models import RoutedRequest
from router.proxy.config import UISettings
from router.proxy.errors import ProxyError, error_body, wire_of
from router.proxy.metrics import ProxyMetrics
from router.report import billed_input_tokens

__all__ = ["Observer", "request_id_and_record"]

log = logging.getLogger("router.proxy")
API_PATHS = frozenset(
    {"/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens", "/v1/responses", "/v1/route", "/v1/models"}
)  # counted by endpoint
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(request: Request) -> str:
    """The caller's ``x-request-id`` when it is a short plain token; a fresh one otherwise (never echoed raw)."""
    given = request.headers.get("x-request-id") or ""
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


async def request_id_and_record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The proxy's middleware: give every request an id (the caller's when it is plain, never echoed
    raw), record it (``Observer.finish``), and answer a bug in the proxy with a 500 in the caller's
    format, never a stack trace."""
    request_id = _request_id(request)
    request.state.request_id = request_id
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:  # errors the registered handlers do not know: a bug here must not kill the server
        log.exception("request %s failed", request_id)
        error = ProxyError(500, "internal error in the proxy", "api_error")
        response = JSONResponse(error_body(error, wire_of(request)), status_code=500)
    response.headers["x-hcr-request-id"] = request_id
    observer: Observer = request.app.state.observer
    tenant = getattr(request.state, "tenant", None)
    observer.finish(request, tenant, response.status_code, (time.perf_counter() - started) * 1000)
    return response


class Observer:
    def __init__(self, ui: UISettings, running: Any, waiting: Any, fidelity: Iterable[FidelityStats],
                 event_log: str | None = None) -> None:  # fmt: skip
        self.ui = ui
        self.events = EventLog(event_log) if event_log else None
        self._streaming: dict[int, str | None] = {}  # traces of open streams -> their key, once answered
        self._image_bytes: dict[int, int] = {}
        self.store = TraceStore(ui.max_requests, int(ui.max_content_mb * 1024 * 1024))
        stats = list(fidelity)
        self.metrics = ProxyMetrics(running, waiting, lambda: stats)

    def named(self, request: Request, endpoint: str, model: str, wire: str) -> None:
        """The request's endpoint and model, once its body is read (before routing, which may fail)."""
        request.state.trace = Trace(id=request.state.request_id, endpoint=endpoint, wire=wire, model=model)

    def routed(self, request: Request, routed: RoutedRequest | None, deployment: str) -> Trace:
        """The routing of the named request (None: bypassed)."""
        named: Trace = request.state.trace
        if routed is None:
            named.bypassed, named.deployment = True, deployment
            return named
        trace = trace_of(routed, id=named.id, model=named.model, wire=named.wire, endpoint=named.endpoint,
                         keep_content=self.ui.enabled and self.ui.keep_content)  # fmt: skip
        trace.at = named.at
        request.state.trace = trace
        request.state.image_bytes = sum(len(p.png) for pages in routed.pages.values() for p in pages)
        return trace

    def answered(self, trace: Trace, response: Any, backend_ms: float, recall: Any) -> None:
        trace.backend_ms = round(backend_ms, 1)
        trace.billed_input_tokens = billed_input_tokens(response)
        if trace.report is not None:
            trace.report.billed_input_tokens = trace.billed_input_tokens
        self._recalled(trace, recall)

    def _recalled(self, trace: Trace, recall: Any) -> None:
        if recall is not None and trace.report is not None:
            trace.recall = list(recall.asked)
            trace.report.recall_rounds = recall.rounds

    def watch(
        self, stream: AsyncIterator[Any], trace: Trace, recall: Any, *, hide_usage: bool = False
    ) -> AsyncIterator[Any]:
        """``stream`` passed through; its usage (where the backend sends it) and recall calls noted, and
        the request's event written when it ends (not when its headers go)."""
        if len(self._streaming) > 10_000:  # streams whose body never started (the client left first)
            self._streaming.clear()
            self._image_bytes.clear()
        self._streaming[id(trace)] = None

        async def passed() -> AsyncIterator[Any]:
            try:
                async for item in stream:
                    billed = _usage_of(item)
                    if billed is not None:
                        trace.billed_input_tokens = billed
                        if trace.report is not None:
                            trace.report.billed_input_tokens = billed
                        if hide_usage:  # asked for by the proxy, not by the caller: kept from them
                            if not getattr(item, "choices", None):
                                continue
                            _without_usage(item)
                    yield item
            finally:
                self._recalled(trace, recall)
                key = self._streaming.pop(id(trace), None)
                if key is not None:
                    self._write_event(trace, key)

        return passed()

    def _write_event(self, trace: Trace, key: str) -> None:
        image_bytes = self._image_bytes.pop(id(trace), 0)
        if self.events is not None:
            try:
                self.events.write(event_of(trace, key=key, image_bytes=image_bytes))
            except OSError:  # a full disk must not fail requests
                log.exception("could not write the event log %s", self.events.path)

    def finish(self, request: Request, tenant: str | None, status: int, total_ms: float) -> None:
        """Close the request's record: store its trace for its tenant, count it, log one line."""
        trace: Trace | None = getattr(request.state, "trace", None)
        fields: dict[str, Any] = {"request_id": request.state.request_id, "method": request.method,
                                  "path": request.url.path, "status": status, "ms": round(total_ms, 1)}  # fmt: skip
        if trace is not None or request.url.path in API_PATHS:
            self.metrics.count(request.url.path, trace.model if trace else "", status)
        if trace is not None:
            trace.status, trace.total_ms = status, round(total_ms, 1)
            if status >= 400 and trace.error is None:
                trace.error = getattr(request.state, "error", None) or f"HTTP {status}"
            image_bytes = getattr(request.state, "image_bytes", 0)
            self.metrics.observe(trace, image_bytes)
            if self.ui.enabled and tenant is not None:
                self.store.add(tenant, trace)
            self._image_bytes[id(trace)] = image_bytes
            if id(trace) in self._streaming:  # written when the stream ends, with its usage
                self._streaming[id(trace)] = tenant or ""
            else:
                self._write_event(trace, tenant or "")
            fields |= _figures(trace)
        message = f"{fields['request_id']} {request.method} {request.url.path} -> {status} in {total_ms:.0f} ms"
        log.info(message, extra={"fields": fields})


def _figures(trace: Trace) -> dict[str, Any]:
    fields: dict[str, Any] = {"model": trace.model, "deployment": trace.deployment, "bypassed": trace.bypassed}
    report = trace.report
    if report is not None:
        fields |= {"encoder": report.encoder, "tokens_before": report.tokens_before,
                   "tokens_after": report.tokens_after, "images": report.images, "route_ms": round(report.route_ms, 1),
                   "cost_before": report.cost_before, "cost_after": report.cost_after}  # fmt: skip
    if trace.backend_ms is not None:
        fields["backend_ms"] = trace.backend_ms
    if trace.billed_input_tokens is not None:
        fields["billed_input_tokens"] = trace.billed_input_tokens
    return fields


def _without_usage(item: Any) -> None:
    """Drop ``usage`` from a stream chunk (litellm puts it on the last chunk that has choices)."""
    try:
        item.usage = None
    except (AttributeError, TypeError, ValueError):
        if isinstance(getattr(item, "__dict__", None), dict):
            item.__dict__.pop("usage", None)


def _usage_of(item: Any) -> int | None:
    """Billed input tokens in a stream item: an OpenAI chunk with ``usage``, or Anthropic's
    ``message_start`` event (raw SSE bytes or an event object)."""
    if isinstance(item, (bytes, str)):
        text = item.decode("utf-8", "replace") if isinstance(item, bytes) else item
        if '"message_start"' not in text:
            return None
        for line in text.splitlines():
            if line.startswith("data:"):
                try:
                    event = json.loads(line[5:])
                except ValueError:
                    return None
                return billed_input_tokens(event.get("message") or {}) if isinstance(event, dict) else None
        return None
    if getattr(item, "type", None) == "message_start":
        return billed_input_tokens(getattr(item, "message", None))
    return billed_input_tokens(item) if getattr(item, "usage", None) is not None else None
