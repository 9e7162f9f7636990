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
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from router._litellm import litellm
from router.core import Router
from router.inspector.app import Access, inspector_routes, mount_static
from router.integrations.completion import route_call
from router.integrations.recall import Recall, acomplete, astream
from router.integrations.recall_events import astream_events
from router.models import RoutedRequest
from router.provider_count import counting_with
from router.proxy.config import ProxyConfig
from router.proxy.errors import ProxyError, backend_error, register_error_handlers
from router.proxy.metrics import CONTENT_TYPE
from router.proxy.observe import request_id_and_record
from router.proxy.request import (
    AnthropicCountTokensRequest,
    AnthropicMessagesRequest,
    OpenAIChatRequest,
    OpenAIResponsesRequest,
    RouteRequest,
)
from router.proxy.state import ProxyState
from router.proxy.streaming import HoldingStream, anthropic_events, openai_events, responses_events, within
from router.render.pool import RenderPool, default_workers, use_render_pool
from router.responses import check_responses, route_responses
from router.shared_store import RedisStore, use_shared_store
from router.tokens import count_tokens

__all__ = ["ProxyError", "create_app", "serve"]

Wire = Literal["openai", "anthropic"]
Endpoint = Literal["openai", "anthropic", "responses"]  # the chat wires, and the Responses API
_CONTRACTS: dict[str, type[Any]] = {"openai": OpenAIChatRequest, "anthropic": AnthropicMessagesRequest,
                                    "responses": OpenAIResponsesRequest}  # fmt: skip
log = logging.getLogger("router.proxy")
BYPASS_HEADER = "x-hcr-bypass"


def create_app(config: ProxyConfig | None = None) -> FastAPI:
    proxy = ProxyState(config or ProxyConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Render processes live as long as the server (``render_workers``; none: render in-process)."""
        workers = proxy.config.general_settings.render_workers or 0
        pool = RenderPool(workers) if workers > 0 else None
        if pool is not None:
            await asyncio.to_thread(pool.warm)
            use_render_pool(pool)
        shared = proxy.config.cache
        if shared is not None:
            use_shared_store(
                RedisStore(shared.url, ttl_s=shared.ttl_s, max_value_bytes=int(shared.max_value_mb * 2**20))
            )
        try:
            yield
        finally:
            if pool is not None:
                use_render_pool(None)
            if shared is not None:
                use_shared_store(None)

    app = FastAPI(title="hcr proxy", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)

    @app.get("/health/liveliness")
    async def liveliness() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/readiness")
    async def readiness() -> dict[str, Any]:
        return {
            "status": "ready",
            "models": list(proxy.config.groups()),
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

    @app.post("/v1/responses")
    async def responses(request: Request) -> Response:
        return await _complete(proxy, request, "responses")

    @app.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> Response:
        return await _count_tokens(proxy, request)

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


async def _models(proxy: ProxyState, request: Request) -> Response:
    """The served names, in one body both SDKs read: OpenAI's list (``object``, ``owned_by``) and
    Anthropic's page (``type``, ``display_name``, ``created_at``, ``has_more``, first and last ids)."""
    proxy.authorise(request)
    names = list(proxy.config.groups())
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "hcr", "type": "model", "display_name": name,
         "created_at": "1970-01-01T00:00:00Z"}
        for name in names
    ]  # fmt: skip
    first, last = (names[0], names[-1]) if names else (None, None)
    return JSONResponse({"object": "list", "data": data, "has_more": False, "first_id": first, "last_id": last})


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


async def _complete(proxy: ProxyState, request: Request, endpoint: Endpoint) -> Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + proxy.config.general_settings.timeout_s
    scope = proxy.authorise(request)
    data = await proxy.read_request(request, _CONTRACTS[endpoint], deadline)
    wire: Wire = "anthropic" if endpoint == "anthropic" else "openai"  # Responses input is routed as chat
    proxy.observer.named(request, request.url.path, data["model"], wire)
    deployment, router = proxy.target(data["model"])
    bypass = _bypassed(request, data)
    slot = await proxy.acquire(deadline)
    try:
        routed = None
        if bypass:
            await proxy.in_thread(scope, deadline, partial(_check, router, data, endpoint, deployment))
        else:
            with counting_with(*proxy.deployments.credentials(data["model"])):  # (policy count: provider)
                route = partial(_route, router, data, endpoint, deployment)
                data, routed = await proxy.in_thread(scope, deadline, route)
        trace = proxy.observer.routed(request, routed, deployment)
        send = {**data, "timeout": max(0.001, deadline - loop.time())}  # the deployment's settings: litellm's
        hide_usage = endpoint == "openai" and _ask_for_usage(send, deployment)
        offered = routed is not None and endpoint != "responses"  # (recall rounds: the chat wires)
        recall = Recall.offered(router.policy, routed, wire) if offered and routed is not None else None
        sent = time.perf_counter()
        try:
            call = proxy.deployments.call(endpoint)
            result = await asyncio.wait_for(_send(call, send, recall, wire), max(0.0, deadline - loop.time()))
        except Exception as exc:
            raise backend_error(exc, deployment, proxy.secrets) from None
        proxy.observer.answered(trace, result, (time.perf_counter() - sent) * 1000, recall)
    except BaseException:
        slot.release()
        raise
    headers = _report_headers(routed)
    if data.get("stream"):
        events = {"anthropic": anthropic_events, "responses": responses_events}.get(endpoint, openai_events)
        stream = proxy.observer.watch(within(result, deadline, slot), trace, recall, hide_usage=hide_usage)
        return HoldingStream(
            slot,
            events(stream, deployment, proxy.secrets),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    slot.release()
    body = result if isinstance(result, dict) else result.model_dump(exclude_none=True)
    return JSONResponse(body, headers=headers)


def _ask_for_usage(send: dict[str, Any], deployment: str) -> bool:
    """A stream the caller did not ask usage for gets it anyway, where the provider sends it, so the
    billed tokens are recorded; True when the usage chunk must then be kept from the caller."""
    options = send.get("stream_options") or {}
    if not send.get("stream") or options.get("include_usage"):
        return False
    try:
        supported = litellm.get_supported_openai_params(model=deployment) or []
    except Exception:  # a model litellm cannot place: leave the request as it is
        return False
    if "stream_options" not in supported:
        return False
    send["stream_options"] = {**options, "include_usage": True}
    return True


def _route(router: Router, data: dict[str, Any], endpoint: Endpoint, model: str) -> tuple[dict[str, Any], Any]:
    if endpoint == "responses":
        return route_responses(router, data, model=model)
    return route_call(router, data, wire=endpoint, model=model)


def _check(router: Router, data: dict[str, Any], endpoint: Endpoint, model: str) -> None:
    """What a bypassed request still goes through: the shape check and the URL guard."""
    if endpoint == "responses":
        return check_responses(router, data, model=model)
    return router.check(data["messages"], model, system=data.get("system"), wire=endpoint)


async def _send(call: Callable[..., Awaitable[Any]], send: dict[str, Any], recall: Recall | None, wire: Wire) -> Any:
    """The backend call through litellm; with recall, its rounds (a stream's first round opened here,
    so a failing backend is an error status, not an error inside the stream)."""

    def one(kwargs: dict[str, Any]) -> Awaitable[Any]:
        return call(**kwargs)

    if recall is None:
        return await one(send)
    if not send.get("stream"):
        return await acomplete(one, send, recall)
    prepared = recall.prepare(send)
    rounds = astream_events if wire == "anthropic" else astream
    return rounds(one, prepared, recall, first=await one(prepared))


async def _route_only(proxy: ProxyState, request: Request, contract: type[Any]) -> tuple[dict[str, Any], RoutedRequest]:
    """Route a request without calling the backend (dry runs, token counts): the routed call and request."""
    deadline = asyncio.get_running_loop().time() + proxy.config.general_settings.timeout_s
    scope = proxy.authorise(request)
    data = await proxy.read_request(request, contract, deadline)
    wire: Wire = "anthropic" if contract is AnthropicCountTokensRequest else data.get("wire") or "openai"
    proxy.observer.named(request, request.url.path, data["model"], wire)
    deployment, router = proxy.target(data["model"])
    data.pop("wire", None)
    slot = await proxy.acquire(deadline)
    try:
        route = partial(route_call, router, data, wire=wire, model=deployment)
        with counting_with(*proxy.deployments.credentials(data["model"])):
            sent, routed = await proxy.in_thread(scope, deadline, route)
    finally:
        slot.release()
    proxy.observer.routed(request, routed, deployment)
    return sent, routed


async def _dry_run(proxy: ProxyState, request: Request) -> Response:
    sent, routed = await _route_only(proxy, request, RouteRequest)
    body: dict[str, Any] = {"model": routed.model, "messages": sent["messages"], "report": routed.report.model_dump()}
    if "system" in sent:
        body["system"] = sent.get("system")
    return JSONResponse(body, headers=_report_headers(routed))


async def _count_tokens(proxy: ProxyState, request: Request) -> Response:
    """Anthropic's token count, as routed (text chunks, images, labels, factsheets; tool definitions
    counted as their JSON), without calling the backend: what the request will cost once routed."""
    sent, routed = await _route_only(proxy, request, AnthropicCountTokensRequest)
    tools = sent.get("tools")
    counted = routed.report.tokens_after + (count_tokens(json.dumps(tools), routed.model) if tools else 0)
    return JSONResponse({"input_tokens": counted}, headers=_report_headers(routed))


CONFIG_ENV = "HCR_CONFIG"  # the config file each server process reads (``hcr serve --workers N``)


def app_from_environment() -> FastAPI:
    """The app of one server process of ``hcr serve --workers N`` (a uvicorn factory)."""
    path = os.environ.get(CONFIG_ENV)
    config = ProxyConfig.from_yaml(path) if path else ProxyConfig()
    if config.general_settings.render_workers is None:
        config.general_settings.render_workers = int(os.environ.get(_RENDER_WORKERS_ENV, "0"))
    return create_app(config)


_RENDER_WORKERS_ENV = "HCR_RENDER_WORKERS"


def serve(config_path: str | None, host: str, port: int, *, workers: int = 1) -> None:
    """Run the proxy in ``workers`` server processes, each rendering in its own pool (``render_workers``;
    by default the cores shared among the server processes). Logging is the caller's (JSON lines)."""
    import uvicorn

    config = ProxyConfig.from_yaml(config_path) if config_path else ProxyConfig()
    render_workers = config.general_settings.render_workers
    if render_workers is None:
        render_workers = max(1, default_workers() // workers)
    # Keep idle connections longer than clients and load balancers usually do (60 s): with uvicorn's
    # 5 s default, a client reusing a pooled connection races the server closing it (seen under load
    # as reset streams).
    options = {"host": host, "port": port, "log_level": "warning", "access_log": False, "timeout_keep_alive": 75}
    if workers == 1:
        config.general_settings.render_workers = render_workers
        uvicorn.run(create_app(config), **options)  # type: ignore[arg-type]
        return
    os.environ[CONFIG_ENV] = config_path or ""
    os.environ[_RENDER_WORKERS_ENV] = str(render_workers)
    uvicorn.run("router.proxy.app:app_from_environment", factory=True, workers=workers, **options)  # type: ignore[arg-type]
