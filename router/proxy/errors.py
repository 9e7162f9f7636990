"""Errors the proxy answers with: in the caller's wire format, with the provider's own message.

A backend failure reaches the caller as the status it means (504 timeout, 429 rate limit, 400 bad
request, 502 otherwise) and the provider's message, stripped of Python tracebacks, source paths,
library prefixes and the deployment's configured base URLs and keys.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from router._litellm import litellm
from router.errors import InvalidRequestError, RouterError

__all__ = ["ProxyError", "backend_error", "error_body", "provider_message", "register_error_handlers", "wire_of"]

_TRACEBACK = re.compile(r"Traceback \(most recent call last\).*", re.DOTALL)
_SOURCE_PATH = re.compile(r"(?:/[\w.@+-]+)+\.py\S*|File \"[^\"]*\", line \d+")
_LIBRARY_PREFIX = re.compile(r"\blitellm\.\w+(?:Error|Exception)?:\s*|\b\w+Exception - ")
log = logging.getLogger("router.proxy")
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
    413: "request_too_large", 422: "invalid_request_error", 429: "rate_limit_error",
}  # fmt: skip


class ProxyError(RouterError):
    """An error answered to the caller: ``status`` and a message in the caller's wire format."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind


def error_body(error: ProxyError, wire: Literal["openai", "anthropic"]) -> dict[str, Any]:
    if wire == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(error.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}
    return {"error": {"message": error.message, "type": error.kind, "param": None, "code": error.status}}


def backend_error(exc: BaseException, deployment: str, secrets: tuple[str, ...] = ()) -> ProxyError:
    """A litellm exception as the status a caller of this proxy should see, with the provider's message."""
    message = f"backend {deployment!r}: {provider_message(exc, secrets)}"
    if isinstance(exc, (litellm.Timeout, asyncio.TimeoutError)) or "timeout" in type(exc).__name__.lower():
        return ProxyError(504, message, "timeout")
    if isinstance(exc, (litellm.BadRequestError, litellm.ContextWindowExceededError)):
        return ProxyError(400, message)
    if isinstance(exc, litellm.RateLimitError):
        return ProxyError(429, message, "rate_limit_exceeded")
    return ProxyError(502, message, "backend_error")


def provider_message(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """What the provider said, without Python tracebacks, source paths, library prefixes or the
    deployment's own base URLs and keys (``secrets``)."""
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer within the request's deadline"
    text = str(getattr(exc, "message", None) or exc or type(exc).__name__)
    text = _TRACEBACK.sub("", text)
    text = _SOURCE_PATH.sub("", text)
    text = _LIBRARY_PREFIX.sub("", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[configured]")
    text = " ".join(text.split())
    return text[:1000] or type(exc).__name__


def wire_of(request: Request) -> Literal["openai", "anthropic"]:
    """The wire format the caller speaks, from the endpoint it called."""
    return "anthropic" if request.url.path.rstrip("/") == "/v1/messages" else "openai"


def register_error_handlers(app: FastAPI) -> None:
    """Errors raised anywhere in a request answered once, here, in the caller's format."""

    async def proxy_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProxyError)
        request.state.error = exc.message  # for the request's trace and log line
        if exc.status == 499:  # the client left mid-upload: nobody is there to read an answer
            log.info("%s %s: %s", request.method, request.url.path, exc.message)
            return Response(status_code=499)
        return JSONResponse(error_body(exc, wire_of(request)), status_code=exc.status)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        request.state.error = str(exc)
        return JSONResponse(error_body(ProxyError(400, str(exc)), wire_of(request)), status_code=400)

    app.add_exception_handler(ProxyError, proxy_error)
    app.add_exception_handler(InvalidRequestError, invalid_request)
