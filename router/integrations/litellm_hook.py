"""LiteLLM integration: a callback for LiteLLM Proxy and ``litellm.acompletion``, and a context
manager / decorator for code that calls ``litellm.completion`` directly.

Routed call types: chat completions, Anthropic Messages (``/v1/messages``: Claude Code) and the
Responses API (``/v1/responses``: Codex). LiteLLM Proxy (``config.yaml``)::

    litellm_settings:
      callbacks: router.integrations.litellm_hook.hook
    environment_variables:
      HCR_POLICY: /etc/hcr/policy.yaml     # optional; the shipped default policy otherwise

The hook runs in ``async_pre_call_deployment_hook``: after LiteLLM has picked the deployment, so the
messages are routed for the deployment's real model (its geometry and prices), not the public alias.

Your own code::

    litellm.callbacks.append(RoutingHook())          # every litellm.acompletion call is routed

    with routing():                                  # or @routing() on a function
        litellm.completion(model="gpt-4o", messages=messages)

``routing()`` replaces the ``completion`` and ``acompletion`` attributes of the ``litellm`` module
while it is active, so it reaches calls written ``litellm.completion(...)``, not names imported
earlier with ``from litellm import completion``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from contextvars import ContextVar, Token
from typing import Any

from router._litellm import litellm
from router.chunking import chunk_messages
from router.core import Router
from router.integrations.completion import aroute_call, asend_routed, route_call, send_routed
from router.integrations.recall import Recall
from router.models import RouteReport
from router.policy import Policy
from router.responses import check_responses, route_responses
from router.target import Wire

__all__ = ["BYPASS_KEY", "POLICY_ENV", "RoutingHook", "routing"]

POLICY_ENV = "HCR_POLICY"
BYPASS_KEY = "hcr_bypass"  # metadata flag that sends one request unrouted
# Call types routed, and the wire format of their messages: chat completions, and Anthropic Messages
# (``/v1/messages`` on LiteLLM Proxy: how Claude Code talks to it).
_RESPONSES_CALLS = frozenset({"responses", "aresponses"})
_ROUTED_CALLS: dict[str, Wire] = {"acompletion": "openai", "completion": "openai", "anthropic_messages": "anthropic"}
# litellm's module is imported through router._litellm (offline switches first); its callback base
# class is reached from there rather than by an import that could run before the switches are set.
_CustomLogger: Any = litellm.integrations.custom_logger.CustomLogger


def _router_from_env() -> Router:
    policy = os.environ.get(POLICY_ENV)
    return Router(Policy.load(policy)) if policy else Router()


def _deployment_model(kwargs: dict[str, Any]) -> str:
    """The deployment's model as litellm names it, provider prefix included."""
    model = str(kwargs.get("model") or "")
    provider = kwargs.get("custom_llm_provider")
    if provider and not model.startswith(f"{provider}/"):
        return f"{provider}/{model}"
    return model


class RoutingHook(_CustomLogger):
    """Routes ``messages`` just before LiteLLM sends a request to the chosen deployment."""

    def __init__(self, router: Router | None = None) -> None:
        super().__init__()
        self._router = router
        self._lock = threading.Lock()

    @property
    def router(self) -> Router:
        with self._lock:  # the policy file is read once, on first use, from the environment
            if self._router is None:
                self._router = _router_from_env()
            return self._router

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        name = str(getattr(call_type, "value", call_type))
        if name in _RESPONSES_CALLS:
            return await self._route_responses(kwargs)
        wire = _ROUTED_CALLS.get(name)
        messages = kwargs.get("messages")
        metadata = kwargs.get("metadata") or kwargs.get("litellm_metadata") or {}
        if wire is None or not isinstance(messages, list):
            return None
        model = _deployment_model(kwargs)
        system = kwargs.get("system") if wire == "anthropic" else None
        if metadata.get(BYPASS_KEY) is True:  # bypass skips routing, never the checks and the URL guard
            await asyncio.to_thread(self.router.check, messages, model, system=system, wire=wire)
            return None
        sent, routed = await aroute_call(self.router, kwargs, wire=wire, model=model)
        if isinstance(metadata, dict):
            metadata["hcr_report"] = routed.report.summary()  # reaches LiteLLM's logging callbacks
        _record_savings(sent, routed.report)
        recall = Recall.offered(self.router.policy, routed, "openai") if wire == "openai" else None
        if recall is not None and not kwargs.get("stream"):  # the proxy answers recall rounds after the call
            sent = recall.prepare(sent)
        return sent

    async def _route_responses(self, kwargs: dict[str, Any]) -> dict[str, Any] | None:
        """The Responses API (``/v1/responses`` on LiteLLM Proxy: how Codex talks): its input items
        routed as chat, then turned back into items."""
        if not isinstance(kwargs.get("input"), (str, list)):
            return None
        model = _deployment_model(kwargs)
        metadata = kwargs.get("metadata") or kwargs.get("litellm_metadata") or {}
        if isinstance(metadata, dict) and metadata.get(BYPASS_KEY) is True:
            await asyncio.to_thread(check_responses, self.router, kwargs, model=model)
            return None
        sent, routed = await asyncio.to_thread(route_responses, self.router, kwargs, model=model)
        if isinstance(metadata, dict):
            metadata["hcr_report"] = routed.report.summary()
        _record_savings(sent, routed.report)
        return sent if routed.pages else None

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any, response: Any) -> Any:
        """LiteLLM Proxy: a response that calls ``hcr_recall`` is answered here, and the model asked
        again through the proxy's router (each call routed by the hook above) until it answers."""
        policy = self.router.policy
        messages = data.get("messages")
        if not policy.recall or not isinstance(messages, list) or not getattr(response, "choices", None):
            return None
        # The ids the model can ask for are content ids: every chunk of the request, whatever was drawn.
        chunks = await asyncio.to_thread(chunk_messages, messages, str(data.get("model") or ""))
        recall = Recall({c.id: c.text for c in chunks}, "openai", policy.recall_rounds)
        asked = {"messages": messages, **{k: data[k] for k in _FORWARDED if k in data}}
        following = recall.next_request(asked, response)
        if following is not None:
            from litellm.proxy.proxy_server import llm_router

            while following is not None:
                response = await llm_router.acompletion(model=data["model"], **following)  # type: ignore[union-attr]
                following = recall.next_request(following, response)
        return recall.finish(response)


def _record_savings(kwargs: dict[str, Any], report: RouteReport) -> None:
    """The saving where LiteLLM's spend tracking reads compression savings (``compression_savings`` in
    the request's LiteLLM metadata), so it shows in LiteLLM's own spend logs. The metadata dict is
    updated in place: LiteLLM's logging holds the same object."""
    savings = {"tokens_before": report.tokens_before, "tokens_after": report.tokens_after,
               "tokens_saved": report.tokens_before - report.tokens_after, "source": "hcr"}  # fmt: skip
    existing = kwargs.get("litellm_metadata")
    if isinstance(existing, dict):
        existing["compression_savings"] = savings
    else:
        kwargs["litellm_metadata"] = {"compression_savings": savings}


# Request fields a recall round passes on to the next call (the rest of ``data`` is the proxy's own).
_FORWARDED = (
    "tools", "tool_choice", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed",
    "response_format", "parallel_tool_calls", "user", "reasoning_effort",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _hook() -> RoutingHook:
    return RoutingHook()


def __getattr__(name: str) -> Any:
    """``hook``, what a LiteLLM Proxy config names (``router.integrations.litellm_hook.hook``): made
    when LiteLLM first asks for it, not when this module is imported."""
    if name == "hook":
        return _hook()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- routing(): litellm.completion / acompletion routed within a context ---------------------------

_ACTIVE: ContextVar[Router | None] = ContextVar("hcr_routing", default=None)
_install_lock = threading.Lock()
_originals: tuple[Any, Any] | None = None  # litellm's own functions while the dispatchers stand in
_active_blocks = 0


class routing(contextlib.ContextDecorator):
    """Route every ``litellm.completion`` / ``litellm.acompletion`` call made in this context.

    The router is held in a context variable: a nested ``routing(other)`` routes with ``other`` until
    it exits, and threads or asyncio tasks started elsewhere do not see it. While any ``routing()``
    block is open, litellm's two functions are replaced by dispatchers that route only where a block
    is active in the caller's context and pass every other call straight through.
    """

    def __init__(self, router: Router | None = None) -> None:
        self.router = router
        self._tokens: list[Token[Router | None]] = []

    def _recreate_cm(self) -> routing:  # each decorated call gets its own block (threads may share one)
        return type(self)(self.router)

    def __enter__(self) -> routing:
        _install()
        self._tokens.append(_ACTIVE.set(self.router or Router()))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())
        _uninstall()


def _install() -> None:
    global _originals, _active_blocks
    with _install_lock:
        if _active_blocks == 0:
            _originals = (litellm.completion, litellm.acompletion)
            litellm.completion, litellm.acompletion = _dispatch_completion, _dispatch_acompletion
        _active_blocks += 1


def _uninstall() -> None:
    global _originals, _active_blocks
    with _install_lock:
        _active_blocks -= 1
        if _active_blocks == 0 and _originals is not None:
            litellm.completion, litellm.acompletion = _originals
            _originals = None


def _named(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """litellm's signature starts ``(model, messages, ...)``; accept both forms."""
    named = dict(kwargs)
    for name, value in zip(("model", "messages"), args, strict=False):
        named[name] = value
    return named


def _dispatch_completion(*args: Any, **kwargs: Any) -> Any:
    original, router = _originals[0] if _originals else litellm.completion, _ACTIVE.get()
    if router is None:
        return original(*args, **kwargs)
    sent, routed = route_call(router, _named(args, kwargs))
    return send_routed(router, sent, routed, original)


async def _dispatch_acompletion(*args: Any, **kwargs: Any) -> Any:
    original, router = _originals[1] if _originals else litellm.acompletion, _ACTIVE.get()
    if router is None:
        return await original(*args, **kwargs)
    sent, routed = await aroute_call(router, _named(args, kwargs))
    return await asend_routed(router, sent, routed, original)
