"""The LiteLLM Proxy plugin as a guardrail: on for every request (``default_on``), or only for the keys
and requests that name it, with its own policy, the way LiteLLM's own compression hooks are set up::

    guardrails:
      - guardrail_name: hcr
        litellm_params:
          guardrail: router.integrations.litellm_guardrail.RoutingGuardrail
          mode: pre_call
          default_on: false       # false: keys (metadata: {guardrails: [hcr]}) or requests that ask for it
          policy: aggressive      # optional: a policy file or built-in name (default: the shipped default)

It routes what ``router.integrations.litellm_hook`` routes (chat, Anthropic Messages, Responses),
after LiteLLM has picked the deployment, and answers recall rounds the same way.
"""

from __future__ import annotations

from typing import Any

from router._litellm import litellm
from router.core import Router
from router.integrations.litellm_hook import RoutingHook
from router.policy import Policy

__all__ = ["RoutingGuardrail"]

_CustomGuardrail: Any = litellm.integrations.custom_guardrail.CustomGuardrail


class RoutingGuardrail(_CustomGuardrail):
    def __init__(self, policy: str | None = None, **kwargs: Any) -> None:
        self.routing = RoutingHook(Router(Policy.load(policy)) if policy else None)
        super().__init__(**kwargs)

    def _applies(self, data: dict[str, Any]) -> bool:
        from litellm.types.guardrails import GuardrailEventHooks

        return bool(self.should_run_guardrail(data=data, event_type=GuardrailEventHooks.pre_call))

    async def async_pre_call_deployment_hook(self, kwargs: dict[str, Any], call_type: Any) -> dict[str, Any] | None:
        if not self._applies(kwargs):
            return None
        result: dict[str, Any] | None = await self.routing.async_pre_call_deployment_hook(kwargs, call_type)
        return result

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any, response: Any) -> Any:
        if not self._applies(data):
            return None
        return await self.routing.async_post_call_success_hook(data, user_api_key_dict, response)
