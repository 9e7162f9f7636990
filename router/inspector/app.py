"""The inspector's web pages: server-rendered HTML (Jinja2, autoescaped), one small script, no CDN.

Served under ``/ui`` by ``hcr serve`` (same keys as the API) and by ``hcr inspect`` (no key, on
127.0.0.1). A browser signs in once with its key (``POST /ui/login``) and gets a signed cookie naming
its tenant; API clients may send the key as they do to ``/v1``. Every page carries a strict Content
Security Policy: the caller's text is shown, never run.

    GET  /ui                                  requests (newest first, ?model= filter) and totals
    GET  /ui/requests/{id}                    one request: its chunks as the model sees them
    GET  /ui/requests/{id}/pages/{chunk}/{n}  a page as sent (PNG)
    GET  /ui/api/requests                     the list as JSON (the page polls it to stay live)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from router.inspector.store import TraceStore, totals
from router.inspector.trace import Trace
from router.inspector.views import chart, row, timeline

__all__ = ["Access", "inspector_routes", "mount_static"]

_HERE = Path(__file__).parent
_COOKIE = "hcr_ui"
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_MAX_LOGIN_BYTES = 4096


@dataclass
class Access:
    """Who may look: ``tenant_for_key`` maps a key to its tenant (None: not a key); no keys, no sign-in."""

    keys_required: bool = False
    tenant_for_key: Callable[[str], str | None] = lambda key: None
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))  # cookies die with the process

    def cookie_for(self, tenant: str) -> str:
        return f"{tenant}.{self._sign(tenant)}"

    def _sign(self, tenant: str) -> str:
        return hmac.new(self.secret, tenant.encode(), hashlib.sha256).hexdigest()

    def tenant(self, request: Request) -> str | None:
        """The caller's tenant from its cookie or key; None when it has neither."""
        if not self.keys_required:
            return ""
        cookie = request.cookies.get(_COOKIE, "")
        tenant, _, signature = cookie.rpartition(".")
        if tenant and hmac.compare_digest(signature, self._sign(tenant)):
            return tenant
        given = request.headers.get("x-api-key") or ""
        bearer = request.headers.get("authorization") or ""
        if not given and bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return self.tenant_for_key(given) if given else None


def _templates() -> Any:
    from fastapi.templating import Jinja2Templates

    return Jinja2Templates(directory=_HERE / "templates")


def mount_static(app: Any, prefix: str = "/ui") -> None:
    """The stylesheet and the script, served from the package (the wheel ships them)."""
    app.mount(f"{prefix}/static", StaticFiles(directory=_HERE / "static"), name="inspector-static")


def inspector_routes(store: TraceStore, access: Access, *, prefix: str = "/ui", note: str = "") -> APIRouter:
    """The inspector's routes over ``store``; ``note`` is shown under the title (where the data comes from)."""
    routes = APIRouter()
    templates = _templates()

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        context = {"prefix": prefix, "note": note, "signed_in": access.keys_required, **context}
        response = templates.TemplateResponse(request, name, context, status_code=status)
        response.headers.update({"content-security-policy": _CSP, "x-content-type-options": "nosniff",
                                 "referrer-policy": "no-referrer", "cache-control": "no-store"})  # fmt: skip
        return response

    def sign_in(request: Request, problem: str = "") -> Response:
        return page(request, "login.html", status=401, problem=problem)

    def summed(tenant: str, model: str) -> dict[str, Any]:
        """The totals section: every request's figures, and the chart of the model shown (or all)."""
        every = totals(store.traces(tenant))
        return {"totals": every, "chart": chart(totals(store.traces(tenant, model)) if model else every)}

    @routes.get(prefix)
    async def requests(request: Request, model: str = "") -> Response:
        tenant = access.tenant(request)
        if tenant is None:
            return sign_in(request)
        traces = store.traces(tenant, model or None)
        return page(request, "requests.html", rows=[row(t, prefix) for t in traces], models=store.models(tenant),
                    model=model, **summed(tenant, model))  # fmt: skip

    @routes.get(f"{prefix}/totals")
    async def totals_part(request: Request, model: str = "") -> Response:
        """The totals section alone: the list page swaps it in when new requests arrive."""
        tenant = access.tenant(request)
        if tenant is None:
            return sign_in(request)
        return page(request, "totals.html", **summed(tenant, model))

    @routes.get(f"{prefix}/login")
    async def login_form(request: Request) -> Response:
        return page(request, "login.html", problem="")

    @routes.post(f"{prefix}/login")
    async def login(request: Request) -> Response:
        body = b""
        async for part in request.stream():
            body += part
            if len(body) > _MAX_LOGIN_BYTES:
                return sign_in(request, "the form is too large")
        key = (parse_qs(body.decode("utf-8", "replace")).get("key") or [""])[0].strip()
        tenant = access.tenant_for_key(key) if key else None
        if tenant is None:
            return sign_in(request, "that key is not accepted here")
        response = RedirectResponse(prefix, status_code=303)
        response.set_cookie(_COOKIE, access.cookie_for(tenant), path=prefix, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip
        return response

    @routes.post(f"{prefix}/logout")
    async def logout() -> Response:
        response = RedirectResponse(f"{prefix}/login", status_code=303)
        response.delete_cookie(_COOKIE, path=prefix)
        return response

    @routes.get(f"{prefix}/requests/{{trace_id}}")
    async def one(request: Request, trace_id: str) -> Response:
        tenant = access.tenant(request)
        if tenant is None:
            return sign_in(request)
        trace = store.get(tenant, trace_id)
        if trace is None:
            return page(request, "missing.html", status=404, trace_id=trace_id)
        return page(request, "request.html", trace=trace, row=row(trace, prefix),
                    chunks=timeline(trace, prefix), when=_when(trace))  # fmt: skip

    @routes.get(prefix + "/requests/{trace_id}/pages/{chunk}/{number}.png")
    async def png(request: Request, trace_id: str, chunk: int, number: int) -> Response:
        tenant = access.tenant(request)
        trace = store.get(tenant, trace_id) if tenant is not None else None
        views = trace.content.pages.get(chunk, []) if trace and trace.content else []
        if tenant is None:
            return Response(status_code=401)
        if not 1 <= number <= len(views) or views[number - 1].png is None:
            return Response(status_code=404)
        headers = {"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"}
        return Response(views[number - 1].png, media_type="image/png", headers=headers)

    @routes.get(f"{prefix}/api/requests")
    async def listing(request: Request, model: str = "") -> Response:
        tenant = access.tenant(request)
        if tenant is None:
            return JSONResponse({"error": "sign in with your key"}, status_code=401)
        return JSONResponse({"requests": [row(t, prefix) for t in store.traces(tenant, model or None)]},
                            headers={"cache-control": "no-store"})  # fmt: skip

    return routes


def _when(trace: Trace) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(trace.at))
