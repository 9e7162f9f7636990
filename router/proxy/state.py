"""The proxy's shared state: its config, one router per model group, the deployments behind them,
keys and tenants, request bodies read within their limits, concurrency slots and the routing pool."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import hmac
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect

from router.cache_scope import cache_scope
from router.core import Router
from router.errors import InvalidRequestError
from router.policy import ModelOverride, Policy
from router.proxy.config import ModelEntry, ProxyConfig
from router.proxy.deployments import Deployments
from router.proxy.errors import ProxyError
from router.proxy.observe import Observer
from router.proxy.request import check_fields, decode_body
from router.render.pool import RENDER_DEADLINE

__all__ = ["ProxyState", "Slot"]


class Slot:
    """One of ``max_concurrency`` places, held from routing to the stream's last byte; released once."""

    def __init__(self, proxy: ProxyState) -> None:
        self.proxy, self.held = proxy, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.proxy.running -= 1
            self.proxy.semaphore.release()


@dataclass
class ProxyState:
    config: ProxyConfig
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4, thread_name_prefix="hcr-route"))
    routers: dict[str, Router] = field(default_factory=dict)
    running: int = 0
    waiting: int = 0

    def __post_init__(self) -> None:
        settings = self.config.general_settings
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.default_policy = Policy.load(settings.policy)
        self.allowed_fields = frozenset(settings.allowed_request_fields)
        self.deployments = Deployments(self.config)
        for name, entries in self.config.groups().items():
            self.routers[name] = self._router(entries)
        self.routers[""] = self._router([])
        self.secrets = self.deployments.secrets
        fidelity = [r.fidelity.stats for r in self.routers.values()]
        self.observer = Observer(self.config.ui, lambda: self.running, lambda: self.waiting, fidelity,
                                 event_log=settings.event_log)  # fmt: skip

    def _router(self, group: list[ModelEntry]) -> Router:
        """The router of one model group (its deployments share policy and encoder family)."""
        settings = self.config.general_settings
        policy = Policy.load(group[0].policy) if group and group[0].policy else self.default_policy
        updates: dict[str, Any] = {}
        if settings.max_images:
            updates["max_images"] = settings.max_images
        overrides = [ModelOverride(match=e.litellm_params.model, encoder=e.encoder) for e in group if e.encoder]
        if overrides:  # each override holds for its entry's deployment model
            updates["models"] = [*overrides, *policy.models]
        return Router(
            policy.model_copy(update=updates),
            allowed_image_hosts=frozenset(settings.allowed_image_hosts),
            block_private_image_hosts=True,
        )

    def target(self, model_name: str) -> tuple[str, Router]:
        """The model routing is done for behind ``model_name`` (its group's first deployment), and its router."""
        if not self.config.model_list:
            return model_name, self.routers[""]
        if model_name not in self.routers or not model_name:
            served = ", ".join(self.config.groups())
            raise ProxyError(422, f"model {model_name!r} is not served by this proxy; it serves: {served}")
        return self.deployments.model(model_name), self.routers[model_name]

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

    async def acquire(self, deadline: float) -> Slot:
        """A place among ``max_concurrency``, waited for within the request's deadline."""
        self.waiting += 1
        try:
            await asyncio.wait_for(self.semaphore.acquire(), max(0.0, deadline - asyncio.get_running_loop().time()))
        except asyncio.TimeoutError:
            raise ProxyError(503, "the proxy is at its concurrency limit; try again later", "overloaded") from None
        finally:
            self.waiting -= 1
        self.running += 1
        return Slot(self)

    async def in_thread(self, scope: str, deadline: float, work: Callable[[], Any]) -> Any:
        """Run CPU work (routing) in the pool, inside the caller's cache scope, within the deadline."""

        def scoped() -> Any:
            token = RENDER_DEADLINE.set(deadline)  # (loop time is time.monotonic())
            try:
                with cache_scope(scope):
                    return work()
            finally:
                RENDER_DEADLINE.reset(token)

        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, contextvars.copy_context().run, scoped)
        try:
            return await asyncio.wait_for(future, max(0.0, deadline - loop.time()))
        except InvalidRequestError as exc:
            raise ProxyError(400, str(exc)) from None
        except asyncio.TimeoutError:
            raise ProxyError(504, "routing did not finish within the request's deadline", "timeout") from None
