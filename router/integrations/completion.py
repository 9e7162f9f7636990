"""Stage 5: route a chat call, then make it through litellm, streaming included, with the report attached.

``route_call`` is the one place where a call becomes a routed call: ``Router.completion``, wrapped
SDK clients, the litellm hook and ``routing()``, the proxy and the answer harness all go through it,
and it alone knows that Anthropic calls carry a separate ``system`` prompt. URLs in the messages are
checked by ``router.url_guard`` as part of routing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from router.errors import InvalidRequestError
from router.models import RoutedRequest, RouteReport
from router.provider_count import counting_with

if TYPE_CHECKING:
    from router.core import Router
    from router.target import Wire

__all__ = [
    "REPORT_ATTRIBUTE", "acompletion", "aroute_call", "asend_routed", "attach_report", "completion", "get_report",
    "route_call", "send_routed",
]  # fmt: skip

REPORT_ATTRIBUTE = "routing_report"


def route_call(
    router: Router, kwargs: dict[str, Any], *, wire: Wire = "openai", model: str | None = None
) -> tuple[dict[str, Any], RoutedRequest]:
    """The call's keyword arguments with ``messages`` (and, on the Anthropic wire, ``system``) routed
    for ``model`` (default: the call's own), and the routed request."""
    model = model or kwargs.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model", "a model name is required")
    if "messages" not in kwargs:
        raise InvalidRequestError("messages", "the request has no messages")
    system = kwargs.get("system") if wire == "anthropic" else None
    with counting_with(kwargs.get("api_key"), kwargs.get("api_base")):  # (policy count: provider)
        routed = router.route(kwargs["messages"], model=model, system=system, wire=wire)
    sent = {**kwargs, "messages": routed.messages}
    if system is not None:
        sent["system"] = routed.system
    return sent, routed


async def aroute_call(
    router: Router, kwargs: dict[str, Any], *, wire: Wire = "openai", model: str | None = None
) -> tuple[dict[str, Any], RoutedRequest]:
    """``route_call`` in a worker thread: rendering is CPU work, the event loop keeps serving."""
    return await asyncio.to_thread(route_call, router, kwargs, wire=wire, model=model)


def completion(router: Router, kwargs: dict[str, Any]) -> Any:
    """``litellm.completion`` with the messages routed first (and recall rounds, where offered)."""
    from router._litellm import litellm

    sent, routed = route_call(router, kwargs)
    return send_routed(router, sent, routed, litellm.completion)


async def acompletion(router: Router, kwargs: dict[str, Any]) -> Any:
    """``litellm.acompletion`` with the messages routed first (and recall rounds, where offered)."""
    from router._litellm import litellm

    sent, routed = await aroute_call(router, kwargs)
    return await asend_routed(router, sent, routed, litellm.acompletion)


def send_routed(router: Router, sent: dict[str, Any], routed: RoutedRequest, send: Callable[..., Any]) -> Any:
    """Make the routed call with ``send`` (litellm's ``completion`` or a stand-in), answering recall
    rounds where the policy offers them; the report rides on the response (or stream)."""
    from router.integrations import recall as recalling

    recall = recalling.Recall.offered(router.policy, routed, "openai")
    if recall is None:
        return attach_report(send(**sent), routed.report)
    call = functools.partial(_call, send)
    if sent.get("stream"):
        return recalling.ReportedStream(recalling.stream(call, sent, recall), routed.report, recall)
    response = recalling.complete(call, sent, recall)
    routed.report.recall_rounds = recall.rounds
    return attach_report(response, routed.report)


async def asend_routed(
    router: Router, sent: dict[str, Any], routed: RoutedRequest, send: Callable[..., Awaitable[Any]]
) -> Any:
    """``send_routed`` for ``acompletion``."""
    from router.integrations import recall as recalling

    recall = recalling.Recall.offered(router.policy, routed, "openai")
    if recall is None:
        return attach_report(await send(**sent), routed.report)
    call = functools.partial(_call, send)
    if sent.get("stream"):
        return recalling.ReportedStream(recalling.astream(call, sent, recall), routed.report, recall)
    response = await recalling.acomplete(call, sent, recall)
    routed.report.recall_rounds = recall.rounds
    return attach_report(response, routed.report)


def _call(send: Any, kwargs: dict[str, Any]) -> Any:
    return send(**kwargs)


def attach_report(response: Any, report: RouteReport) -> Any:
    """Make the report reachable as ``response.routing_report`` without changing the response type;
    the input tokens the backend billed go beside the estimate where the response reports them."""
    from router.report import billed_input_tokens

    billed = billed_input_tokens(response) if not _is_stream(response) else None
    if billed is not None:
        report.billed_input_tokens = billed
    try:
        # object.__setattr__ bypasses pydantic, so SDK models do not dump the report as a field.
        object.__setattr__(response, REPORT_ATTRIBUTE, report)
    except (AttributeError, TypeError):
        pass
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, dict):
        hidden[REPORT_ATTRIBUTE] = report
    return response


def _is_stream(response: Any) -> bool:
    """A stream (its usage, if any, comes at its end); models are iterable too, so not ``__iter__``."""
    return hasattr(response, "__next__") or hasattr(response, "__anext__")


def get_report(response: Any) -> RouteReport | None:
    """The routing report of a response returned by ``Router.completion``, if any."""
    report = getattr(response, REPORT_ATTRIBUTE, None)
    if report is None and isinstance(getattr(response, "_hidden_params", None), dict):
        report = response._hidden_params.get(REPORT_ATTRIBUTE)
    return report
