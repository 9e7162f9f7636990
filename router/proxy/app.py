"""The local proxy (``hcr serve``): OpenAI- and Anthropic-compatible, routing every request.

Clients change only their base URL. ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages``
(Anthropic Messages) are routed (text kept, long or format-heavy chunks rendered) and forwarded to the
configured deployment through litellm, streaming included. ``POST /v1/route`` is a dry run,
``GET /v1/models`` lists the configured names, ``/health/liveliness`` and ``/health/readiness`` need
no key. Routing is CPU work and runs in a thread pool, so other requests keep streaming meanwhile.

Callers are untrusted: bodies are read within a size and time limit, checked against an allow-list of
fields (``router.proxy.request``), and every URL in them goes through ``router.url_guard``, bypassed
requests included. ``timeout_s`` is the whole deadline of a request (waiting for a slot, routing, the
backend call and its retries, the stream); ``max_concurrency`` bounds routed, streaming and dry-run
requests alike. Each caller key has its own cache scope. Errors come back in the caller's own format
with the matching status and the provider's message, never a stack trace.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from router._litellm import litellm
from router.cache_scope import cache_scope
from router.core import Router
from router.errors import InvalidRequestError
from router.inspector.app import Access, inspector_routes, mount_static
from router.integrations.completion import route_call
from router.integrations.recall import Recall, acomplete, astream
from router.integrations.recall_events import astream_events
from router.logs import json_logging
from router.models import RoutedRequest
from router.policy import ModelOverride, Policy
from router.proxy.config import ModelEntry, ProxyConfig
from router.proxy.errors import ProxyError, backend_error, register_error_handlers
from router.proxy.metrics import CONTENT_TYPE
from router.proxy.observe import Observer, request_id_and_record
from router.proxy.request import AnthropicMessagesRequest, OpenAIChatRequest, RouteRequest, check_fields, decode_body
from router.proxy.streaming import HoldingStream, anthropic_events, openai_events, within

__all__ = ["ProxyError", "create_app", "serve"]

Wire = Literal["openai", "anthropic"]
log = logging.getLogger("router.proxy")
BYPASS_HEADER = "x-hcr-bypass"


class _Slot:
    """One of ``max_concurrency`` places, held from routing to the stream's last byte; released once."""

    def __init__(self, proxy: _Proxy) -> None:
        self.proxy, self.held = proxy, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.proxy.running -= 1
            self.proxy.semaphore.release()


@dataclass
class _Proxy:
    config: ProxyConfig
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="hcr-route"))
    routers: dict[str, Router] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    running: int = 0
    waiting: int = 0

    def __post_init__(self) -> None:
        settings = self.config.general_settings
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.default_policy = Policy.load(settings.policy)
        self.allowed_fields = frozenset(settings.allowed_request_fields)
        for entry in self.config.model_list:
            self.routers[entry.model_name] = self._router(entry)
            self.deployments[entry.model_name] = entry.litellm_params.as_kwargs()  # once, not per request
        self.routers[""] = self._router(None)
        self.secrets = tuple(
            str(v) for kw in self.deployments.values() for k, v in kw.items() if k != "model" and isinstance(v, str)
        )
        fidelity = [r.fidelity.stats for r in self.routers.values()]
        self.observer = Observer(self.config.ui, lambda: self.running, lambda: self.waiting, fidelity)

    def _router(self, entry: ModelEntry | None) -> Router:
        settings = self.config.general_settings
        policy = Policy.load(entry.policy) if entry and entry.policy else self.default_policy
        updates: dict[str, Any] = {}
        if settings.max_images:
            updates["max_images"] = settings.max_images
        if entry and entry.encoder:  # the override holds for this entry's deployment model
            updates["models"] = [ModelOverride(match=entry.litellm_params.model, encoder=entry.encoder), *policy.models]
        return Router(
            policy.model_copy(update=updates),
            allowed_image_hosts=frozenset(settings.allowed_image_hosts),
            block_private_image_hosts=True,
        )

    def target(self, model_name: str) -> tuple[dict[str, Any], Router]:
        """litellm keyword arguments for the deployment behind ``model_name``, and its router."""
        if not self.config.model_list:
            return {"model": model_name}, self.routers[""]
        if model_name not in self.deployments:
            served = ", ".join(m.model_name for m in self.config.model_list)
            raise ProxyError(422, f"model {model_name!r} is not served by this proxy; it serves: {served}")
        return dict(self.deployments[model_name]), self.routers[model_name]

    def tenant_for_key(self, given: str) -> str | None:
        """A key's tenant and cache scope (a digest of the key), or None when it is not one of ours."""
        if not any(hmac.compare_digest(given.encode(), key.encode()) for key in self.config.general_settings.keys):
            return None
        return hashlib.sha256(given.encode()).hexdigest()[:16]

    def authorise(self, request: Request, *, master: bool = False) -> str:
        """The caller's cache scope ("" when the proxy has no keys); ``master``: only the master key
        (when one is set) may call."""
        settings = self.config.general_settings
        if not settings.keys:
            request.state.tenant = ""
            return ""
        given = request.headers.get("x-api-key") or ""
        bearer = request.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        if not given:
            raise ProxyError(401, "missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'", "auth_error")
        tenant = self.tenant_for_key(given)
        if tenant is None:
            raise ProxyError(401, "invalid API key", "auth_error")
        if master and settings.master_key and not hmac.compare_digest(given.encode(), settings.master_key.encode()):
            raise ProxyError(403, "only the master key may read this", "permission_error")
        request.state.tenant = tenant
        return tenant

    async def read_request(self, request: Request, contract: type[Any], deadline: float) -> dict[str, Any]:
        """The body, read within the size and time limits, decoded and checked against ``contract``."""
        settings = self.config.general_settings
        limit = settings.max_request_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ProxyError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
        loop = asyncio.get_running_loop()
        body_deadline = min(deadline, loop.time() + settings.body_timeout_s)
        chunks, size = [], 0
        stream = request.stream().__aiter__()
        while True:
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), max(0.0, body_deadline - loop.time()))
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise ProxyError(408, f"request body not received within {settings.body_timeout_s:g} s") from None
            except ClientDisconnect:
                raise ProxyError(499, "the client disconnected during the upload", "client_gone") from None
            size += len(chunk)
            if size > limit:
                raise ProxyError(413, f"request body is over the {limit}-byte limit")
            chunks.append(chunk)
        data = decode_body(b"".join(chunks))
        check_fields(data, contract, self.allowed_fields)
        return data

    async def acquire(self, deadline: float) -> _Slot:
        """A place among ``max_concurrency``, waited for within the request's deadline."""
        self.waiting += 1
        try:
            await asyncio.wait_for(self.semaphore.acquire(), max(0.0, deadline - asyncio.get_running_loop().time()))
        except asyncio.TimeoutError:
            raise ProxyError(503, "the proxy is at its concurrency limit; try again later", "overloaded") from None
        finally:
            self.waiting -= 1
        self.running += 1
        return _Slot(self)

    async def in_thread(self, scope: str, deadline: float, work: Callable[[], Any]) -> Any:
        """Run CPU work (routing) in the pool, inside the caller's cache scope, within the deadline."""

        def scoped() -> Any:
            with cache_scope(scope):
                return work()

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, contextvars.copy_context().run, scoped)
        try:
            return await asyncio.wait_for(future, max(0.0, deadline - loop.time()))
        except InvalidRequestError as exc:
            raise ProxyError(400, str(exc)) from None
        except asyncio.TimeoutError:
            raise ProxyError(504, "routing did not finish within the request's deadline", "timeout") from None


def create_app(config: ProxyConfig | None = None) -> FastAPI:
    proxy = _Proxy(config or ProxyConfig())
    app = FastAPI(title="hcr proxy", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health/liveliness")
    async def liveliness() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/readiness")
    async def readiness() -> dict[str, Any]:
        return {
            "status": "ready",
            "models": [m.model_name for m in proxy.config.model_list],
            "running": proxy.running,
            "waiting": proxy.waiting,
        }

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        return await _models(proxy, request)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await _complete(proxy, request, "openai")

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        return await _complete(proxy, request, "anthropic")

    @app.post("/v1/route")
    async def route(request: Request) -> Response:
        return await _dry_run(proxy, request)

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        proxy.authorise(request, master=True)
        return Response(proxy.observer.metrics.exposition(), media_type=CONTENT_TYPE)

    if proxy.config.ui.enabled:
        access = Access(bool(proxy.config.general_settings.keys), proxy.tenant_for_key)
        app.include_router(inspector_routes(proxy.observer.store, access, note="live from this proxy"))
        mount_static(app)

    register_error_handlers(app)
    app.state.observer = proxy.observer
    app.middleware("http")(request_id_and_record)
    return app


async def _models(proxy: _Proxy, request: Request) -> Response:
    proxy.authorise(request)
    data = [{"id": m.model_name, "object": "model", "created": 0, "owned_by": "hcr"} for m in proxy.config.model_list]
    return JSONResponse({"object": "list", "data": data})


def _report_headers(routed: RoutedRequest | None) -> dict[str, str]:
    if routed is None:
        return {"x-hcr-bypassed": "true"}
    report = routed.report
    return {
        "x-hcr-tokens-before": str(report.tokens_before),
        "x-hcr-tokens-after": str(report.tokens_after),
        "x-hcr-images": str(report.images),
        "x-hcr-encoder": report.encoder,
        "x-hcr-route-ms": f"{report.route_ms:.1f}",
    }


def _bypassed(request: Request, data: dict[str, Any]) -> bool:
    """Bypass skips routing only (the URL guard still runs): header 1/true/yes, or JSON ``true``."""
    in_body = data.pop("hcr_bypass", None) is True  # the proxy's own field never reaches the backend
    return in_body or request.headers.get(BYPASS_HEADER, "").strip().lower() in ("1", "true", "yes")


async def _complete(proxy: _Proxy, request: Request, wire: Wire) -> Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + proxy.config.general_settings.timeout_s
    scope = proxy.authorise(request)
    contract = AnthropicMessagesRequest if wire == "anthropic" else OpenAIChatRequest
    data = await proxy.read_request(request, contract, deadline)
    proxy.observer.named(request, request.url.path, data["model"], wire)
    kwargs, router = proxy.target(data["model"])
    deployment = kwargs["model"]
    bypass = _bypassed(request, data)
    system = data.get("system") if wire == "anthropic" else None
    slot = await proxy.acquire(deadline)
    try:
        routed = None
        if bypass:
            check = partial(router.check, data["messages"], deployment, system=system, wire=wire)
            await proxy.in_thread(scope, deadline, check)
        else:
            data, routed = await proxy.in_thread(
                scope, deadline, partial(route_call, router, data, wire=wire, model=deployment)
            )
        trace = proxy.observer.routed(request, routed, deployment)
        send = {**data, **kwargs, "timeout": max(0.001, deadline - loop.time())}
        recall = Recall.offered(router.policy, routed, wire) if routed is not None else None
        sent = time.perf_counter()
        try:
            result = await asyncio.wait_for(_send(wire, send, recall), max(0.0, deadline - loop.time()))
        except Exception as exc:
            raise backend_error(exc, deployment, proxy.secrets) from None
        proxy.observer.answered(trace, result, (time.perf_counter() - sent) * 1000, recall)
    except BaseException:
        slot.release()
        raise
    headers = _report_headers(routed)
    if data.get("stream"):
        events = anthropic_events if wire == "anthropic" else openai_events
        stream = proxy.observer.watch(within(result, deadline, slot), trace, recall)
        return HoldingStream(
            slot,
            events(stream, deployment, proxy.secrets),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    slot.release()
    body = result if isinstance(result, dict) else result.model_dump(exclude_none=True)
    return JSONResponse(body, headers=headers)


async def _send(wire: Wire, send: dict[str, Any], recall: Recall | None) -> Any:
    """The backend call through litellm; with recall, its rounds (a stream's first round opened here,
    so a failing backend is an error status, not an error inside the stream)."""
    call = litellm.anthropic.messages.acreate if wire == "anthropic" else litellm.acompletion

    def one(kwargs: dict[str, Any]) -> Awaitable[Any]:
        return call(**kwargs)

    if recall is None:
        return await one(send)
    if not send.get("stream"):
        return await acomplete(one, send, recall)
    prepared = recall.prepare(send)
    rounds = astream_events if wire == "anthropic" else astream
    return rounds(one, prepared, recall, first=await one(prepared))


async def _dry_run(proxy: _Proxy, request: Request) -> Response:
    deadline = asyncio.get_running_loop().time() + proxy.config.general_settings.timeout_s
    scope = proxy.authorise(request)
    data = await proxy.read_request(request, RouteRequest, deadline)
    wire: Wire = data.get("wire") or "openai"
    proxy.observer.named(request, request.url.path, data["model"], wire)
    kwargs, router = proxy.target(data["model"])
    slot = await proxy.acquire(deadline)
    try:
        route = partial(route_call, router, data, wire=wire, model=kwargs["model"])
        sent, routed = await proxy.in_thread(scope, deadline, route)
    finally:
        slot.release()
    proxy.observer.routed(request, routed, kwargs["model"])
    body: dict[str, Any] = {
        "model": kwargs["model"],
        "messages": sent["messages"],
        "report": routed.report.model_dump(),
    }
    if wire == "anthropic":
        body["system"] = sent.get("system")
    return JSONResponse(body, headers=_report_headers(routed))


def serve(config: ProxyConfig | None, host: str, port: int, *, log_level: str = "info") -> None:
    import uvicorn

    json_logging(log_level)
    # Keep idle connections longer than clients and load balancers usually do (60 s): with uvicorn's
    # 5 s default, a client reusing a pooled connection races the server closing it (seen under load
    # as reset streams).
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=75)
