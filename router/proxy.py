"""The local proxy (``hcr serve``): OpenAI- and Anthropic-compatible, routing every request.

Clients change only their base URL. ``POST /v1/chat/completions`` (OpenAI) and ``POST /v1/messages``
(Anthropic Messages) are routed (text kept, long or format-heavy chunks rendered) and forwarded to the
configured deployment through litellm, streaming included. ``POST /v1/route`` is a dry run,
``GET /v1/models`` lists the configured names, ``/health/liveliness`` and ``/health/readiness`` need
no key. Routing is CPU work and runs in a thread pool, so other requests keep streaming meanwhile.
Errors come back in the caller's own format with the matching status, never as a stack trace.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import litellm
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from router.core import Router
from router.errors import InvalidRequestError
from router.models import RoutedRequest
from router.policy import ModelOverride, Policy
from router.proxy_config import ModelEntry, ProxyConfig

Wire = Literal["openai", "anthropic"]
log = logging.getLogger("hcr.proxy")
BYPASS_HEADER = "x-hcr-bypass"
# litellm takes these as call settings, not as request fields: a caller who could set them could send
# the proxy's credentials, or the proxy itself, anywhere. They come from the config only.
_CALLER_FORBIDDEN = frozenset({
    "api_base", "base_url", "api_key", "api_version", "organization", "custom_llm_provider", "headers",
    "extra_headers", "timeout", "max_retries", "mock_response", "client", "deployment_id", "proxy",
})  # fmt: skip
_CALLER_FORBIDDEN_PREFIXES = ("litellm_", "aws_", "vertex_", "azure_", "input_cost", "output_cost")
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
    413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
}  # fmt: skip


class ProxyError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def error_body(error: ProxyError, wire: Wire) -> dict[str, Any]:
    if wire == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    return {"error": {"message": error.message, "type": error.kind, "param": None, "code": error.status}}


def backend_error(exc: Exception, deployment: str) -> ProxyError:
    """A litellm exception as the status a caller of this proxy should see."""
    message = f"backend {deployment!r}: {getattr(exc, 'message', None) or exc}"[:2000]
    if isinstance(exc, litellm.Timeout) or "timeout" in type(exc).__name__.lower():
        return ProxyError(504, message, "timeout")
    if isinstance(exc, (litellm.BadRequestError, litellm.ContextWindowExceededError)):
        return ProxyError(400, message)
    if isinstance(exc, litellm.RateLimitError):
        return ProxyError(429, message, "rate_limit_exceeded")
    return ProxyError(502, message, "backend_error")


@dataclass
class _Proxy:
    config: ProxyConfig
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="hcr-route"))
    routers: dict[str, Router] = field(default_factory=dict)

    def __post_init__(self) -> None:
        settings = self.config.general_settings
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.default_policy = Policy.load(settings.policy)
        for entry in self.config.model_list:
            self.routers[entry.model_name] = self._router(entry)
        self.routers[""] = self._router(None)

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
        entry = self.config.entry(model_name)
        if entry is None:
            served = ", ".join(m.model_name for m in self.config.model_list)
            raise ProxyError(422, f"model {model_name!r} is not served by this proxy; it serves: {served}")
        return entry.litellm_params.as_kwargs(), self.routers[model_name]

    def authorise(self, request: Request) -> None:
        keys = self.config.general_settings.keys
        if not keys:
            return
        given = request.headers.get("x-api-key") or ""
        bearer = request.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:].strip()
        if not given:
            raise ProxyError(401, "missing API key: send 'Authorization: Bearer KEY' or 'x-api-key: KEY'", "auth_error")
        if not any(hmac.compare_digest(given.encode(), key.encode()) for key in keys):
            raise ProxyError(401, "invalid API key", "auth_error")

    async def read_json(self, request: Request) -> dict[str, Any]:
        limit = self.config.general_settings.max_request_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ProxyError(413, f"request body of {declared} bytes is over the {limit}-byte limit")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ProxyError(413, f"request body is over the {limit}-byte limit")
            chunks.append(chunk)
        try:
            data = json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProxyError(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ProxyError(400, f"request body must be a JSON object, got {type(data).__name__}")
        if not isinstance(data.get("model"), str) or not data["model"]:
            raise ProxyError(400, "model: a model name is required")
        if not isinstance(data.get("messages"), list):
            raise ProxyError(400, "messages: expected a list of messages")
        forbidden = sorted(k for k in data if k in _CALLER_FORBIDDEN or k.startswith(_CALLER_FORBIDDEN_PREFIXES))
        if forbidden:
            raise ProxyError(400, f"{', '.join(forbidden)}: not accepted in requests; the proxy config sets these")
        return data

    async def route(self, router: Router, data: dict[str, Any], model: str, wire: Wire) -> RoutedRequest:
        system = data.get("system") if wire == "anthropic" else None
        call = partial(router.route, data["messages"], model=model, system=system, wire=wire)
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, call)
        except InvalidRequestError as exc:
            raise ProxyError(400, str(exc)) from None


def create_app(config: ProxyConfig | None = None) -> FastAPI:
    proxy = _Proxy(config or ProxyConfig())
    app = FastAPI(title="hcr proxy", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/health/liveliness")
    async def liveliness() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/readiness")
    async def readiness() -> dict[str, Any]:
        return {"status": "ready", "models": [m.model_name for m in proxy.config.model_list]}

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        return await _guarded(request, "openai", lambda _id: _models(proxy, request))

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await _guarded(request, "openai", lambda rid: _complete(proxy, request, rid, "openai"))

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        return await _guarded(request, "anthropic", lambda rid: _complete(proxy, request, rid, "anthropic"))

    @app.post("/v1/route")
    async def route(request: Request) -> Response:
        return await _guarded(request, "openai", lambda rid: _dry_run(proxy, request, rid))

    return app


async def _guarded(request: Request, wire: Wire, handle: Any) -> Response:
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    started = time.perf_counter()
    try:
        response: Response = await handle(request_id)
    except ProxyError as exc:
        response = JSONResponse(error_body(exc, wire), status_code=exc.status)
    except Exception:  # a bug here must not cost the caller a stack trace or the server its life
        log.exception("request %s failed", request_id)
        response = JSONResponse(error_body(ProxyError(500, "internal error in the proxy", "api_error"), wire), 500)
    response.headers["x-hcr-request-id"] = request_id
    log.info(
        "%s %s %s -> %s in %.0f ms",
        request_id, request.method, request.url.path, response.status_code, (time.perf_counter() - started) * 1000,
    )  # fmt: skip
    return response


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


async def _complete(proxy: _Proxy, request: Request, request_id: str, wire: Wire) -> Response:
    proxy.authorise(request)
    data = await proxy.read_json(request)
    kwargs, router = proxy.target(data["model"])
    deployment = kwargs["model"]
    bypass = request.headers.get(BYPASS_HEADER, "").lower() in ("1", "true", "yes") or bool(
        data.pop("hcr_bypass", False)
    )
    async with proxy.semaphore:
        routed = None if bypass else await proxy.route(router, data, deployment, wire)
        send = {**data, **kwargs, "timeout": proxy.config.general_settings.timeout_s}
        if routed is not None:
            send["messages"] = routed.messages
            if wire == "anthropic" and "system" in data:
                send["system"] = routed.system
        headers = _report_headers(routed)
        try:
            if wire == "anthropic":
                result = await litellm.anthropic.messages.acreate(**send)
            else:
                result = await litellm.acompletion(**send)
        except Exception as exc:
            raise backend_error(exc, deployment) from None
    if data.get("stream"):
        events = _anthropic_events(result, deployment) if wire == "anthropic" else _openai_events(result, deployment)
        return StreamingResponse(
            events, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}
        )
    body = result if isinstance(result, dict) else result.model_dump(exclude_none=True)
    return JSONResponse(body, headers=headers)


async def _openai_events(stream: Any, deployment: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"
    except Exception as exc:  # the status line is gone: the error travels inside the stream
        error = backend_error(exc, deployment)
        yield b"data: " + json.dumps(error_body(error, "openai")).encode() + b"\n\n"
        return
    yield b"data: [DONE]\n\n"


async def _anthropic_events(stream: Any, deployment: str) -> AsyncIterator[bytes]:
    try:
        async for event in stream:
            yield event if isinstance(event, bytes) else str(event).encode()
    except Exception as exc:
        error = backend_error(exc, deployment)
        yield b"event: error\ndata: " + json.dumps(error_body(error, "anthropic")).encode() + b"\n\n"


async def _dry_run(proxy: _Proxy, request: Request, request_id: str) -> Response:
    proxy.authorise(request)
    data = await proxy.read_json(request)
    kwargs, router = proxy.target(data["model"])
    wire: Wire = "anthropic" if data.get("wire") == "anthropic" else "openai"
    routed = await proxy.route(router, data, kwargs["model"], wire)
    body: dict[str, Any] = {"model": kwargs["model"], "messages": routed.messages, "report": routed.report.model_dump()}
    if wire == "anthropic":
        body["system"] = routed.system
    return JSONResponse(body, headers=_report_headers(routed))


def serve(config: ProxyConfig | None, host: str, port: int) -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Keep idle connections longer than clients and load balancers usually do (60 s): with uvicorn's
    # 5 s default, a client reusing a pooled connection races the server closing it (seen under load
    # as reset streams).
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=75)
