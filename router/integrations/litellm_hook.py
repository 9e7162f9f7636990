"""LiteLLM integration: a callback for LiteLLM Proxy and ``litellm.acompletion``, and a context
manager / decorator for code that calls ``litellm.completion`` directly.

LiteLLM Proxy (``config.yaml``)::

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
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from router._litellm import litellm
from router.core import Router
from router.integrations.completion import attach_report
from router.policy import Policy

POLICY_ENV = "HCR_POLICY"
BYPASS_KEY = "hcr_bypass"  # metadata flag that sends one request unrouted
_ROUTED_CALLS = frozenset({"acompletion", "completion"})


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


class RoutingHook(CustomLogger):
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
        name = getattr(call_type, "value", call_type)
        messages = kwargs.get("messages")
        metadata = kwargs.get("metadata") or kwargs.get("litellm_metadata") or {}
        if name not in _ROUTED_CALLS or not isinstance(messages, list):
            return None
        if metadata.get(BYPASS_KEY) is True:  # bypass skips routing, never the checks and the URL guard
            await asyncio.to_thread(self.router.check, messages, _deployment_model(kwargs))
            return None
        routed = await asyncio.to_thread(self.router.route, messages, model=_deployment_model(kwargs))
        if isinstance(metadata, dict):
            metadata["hcr_report"] = routed.report.summary()  # reaches LiteLLM's logging callbacks
        return {**kwargs, "messages": routed.messages}


@functools.lru_cache(maxsize=1)
def _hook() -> RoutingHook:
    return RoutingHook()


def __getattr__(name: str) -> Any:
    """``hook``, what a LiteLLM Proxy config names (``router.integrations.litellm_hook.hook``): made
    when LiteLLM first asks for it, not when this module is imported."""
    if name == "hook":
        return _hook()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class routing(contextlib.ContextDecorator):
    """Route every ``litellm.completion`` / ``litellm.acompletion`` call made while active."""

    _lock = threading.Lock()
    _depth = 0
    _originals: tuple[Any, Any] | None = None

    def __init__(self, router: Router | None = None) -> None:
        self.router = router

    def __enter__(self) -> routing:

        router = self.router or Router()
        with routing._lock:
            if routing._depth == 0:
                routing._originals = (litellm.completion, litellm.acompletion)
                litellm.completion = _routed_completion(router, routing._originals[0])
                litellm.acompletion = _routed_acompletion(router, routing._originals[1])
            routing._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:

        with routing._lock:
            routing._depth -= 1
            if routing._depth == 0 and routing._originals is not None:
                litellm.completion, litellm.acompletion = routing._originals
                routing._originals = None


def _model_and_messages(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """litellm's signature starts ``(model, messages, ...)``; accept both forms."""
    named = dict(kwargs)
    for name, value in zip(("model", "messages"), args, strict=False):
        named[name] = value
    return named


def _routed_completion(router: Router, original: Any) -> Any:
    def completion(*args: Any, **kwargs: Any) -> Any:
        named = _model_and_messages(args, kwargs)
        routed = router.route(named["messages"], model=named["model"])
        return attach_report(original(**{**named, "messages": routed.messages}), routed.report)

    return completion


def _routed_acompletion(router: Router, original: Any) -> Any:
    async def acompletion(*args: Any, **kwargs: Any) -> Any:
        named = _model_and_messages(args, kwargs)
        routed = await asyncio.to_thread(router.route, named["messages"], model=named["model"])
        return attach_report(await original(**{**named, "messages": routed.messages}), routed.report)

    return acompletion
