"""The backends behind the proxy's model names: a ``litellm.Router`` over the config's ``model_list``.

Several entries under one ``model_name`` are deployments of one model group, as in LiteLLM Proxy:
the Router spreads requests over them (``router_settings.routing_strategy``), retries, falls back
and cools failing deployments down as the operator configured (``router_settings``, and the
Router-level keys of ``litellm_settings``). Routing (text or image per chunk) happens once per
request, before the Router picks a deployment, for the group's first deployment: every deployment
of a group must read images the same way (one encoder family), which the config checks at start.

With no ``model_list`` the proxy passes each request to the model it names, through litellm directly.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from router.proxy.config import ProxyConfig

__all__ = ["Deployments"]

log = logging.getLogger("router.proxy")
Wire = Literal["openai", "anthropic", "responses"]

# litellm_settings keys that configure the Router (LiteLLM Proxy passes these to its Router too) ...
_ROUTER_KEYS = {"num_retries", "fallbacks", "context_window_fallbacks", "content_policy_fallbacks",
                "default_fallbacks", "allowed_fails", "cooldown_time", "retry_after", "request_timeout"}  # fmt: skip
# ... and those that travel with every call.
_CALL_KEYS = {"drop_params", "modify_params"}


@functools.lru_cache(maxsize=1)
def _router_parameters() -> frozenset[str]:
    from router._litellm import litellm

    return frozenset(inspect.signature(litellm.Router.__init__).parameters) - {"self", "model_list"}


class Deployments:
    def __init__(self, config: ProxyConfig) -> None:
        self.groups = config.groups()
        self.secrets = tuple(
            str(v)
            for entry in config.model_list
            for k, v in entry.litellm_params.as_kwargs().items()
            if k != "model" and isinstance(v, str)
        )
        self.router: Any = None
        if config.model_list:
            settings, ignored = self._router_settings(config)
            if ignored:
                log.info("config keys hcr does not use (ignored): %s", ", ".join(ignored))
            from router._litellm import litellm

            model_list = [
                {"model_name": e.model_name, "litellm_params": e.litellm_params.as_kwargs(), "model_info": e.model_info}
                for e in config.model_list
            ]
            self.router = litellm.Router(model_list=model_list, **settings)

    @staticmethod
    def _router_settings(config: ProxyConfig) -> tuple[dict[str, Any], list[str]]:
        accepted = _router_parameters()
        settings: dict[str, Any] = {}
        ignored = list(config.ignored_keys())
        for key, value in config.router_settings.items():
            if key in accepted:
                settings[key] = value
            else:
                ignored.append(f"router_settings.{key}")
        per_call: dict[str, Any] = {}
        for key, value in config.litellm_settings.items():
            if key in _ROUTER_KEYS:
                settings.setdefault("timeout" if key == "request_timeout" else key, value)
            elif key in _CALL_KEYS:
                per_call[key] = value
            else:
                ignored.append(f"litellm_settings.{key}")
        if per_call:
            settings["default_litellm_params"] = {**settings.get("default_litellm_params", {}), **per_call}
        return settings, ignored

    def model(self, name: str) -> str:
        """The model routing is done for: the group's first deployment, or ``name`` in pass-through."""
        entries = self.groups.get(name)
        return entries[0].litellm_params.model if entries else name

    def credentials(self, name: str) -> tuple[str | None, str | None]:
        """The key and base URL of the group's first deployment (for the provider's token counts)."""
        entries = self.groups.get(name)
        if not entries:
            return None, None
        params = entries[0].litellm_params
        return params.api_key, params.api_base

    def call(self, wire: Wire) -> Callable[..., Awaitable[Any]]:
        """The backend call for ``wire``: through the Router when there is a model list."""
        from router._litellm import litellm

        if self.router is not None:
            calls = {"anthropic": self.router.aanthropic_messages, "responses": self.router.aresponses}
            return calls.get(wire, self.router.acompletion)
        direct = {"anthropic": litellm.anthropic.messages.acreate, "responses": litellm.aresponses}
        return direct.get(wire, litellm.acompletion)
