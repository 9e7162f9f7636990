"""``wrap(client)``: the OpenAI or Anthropic client you already have, routing messages before sending.

The wrapped object is the SDK's own ``client.with_options()`` copy: the same class, auth, retries,
base URL and timeouts, sharing the HTTP connection pool. Only ``chat.completions.create`` (OpenAI)
and ``messages.create`` / ``messages.stream`` (Anthropic) are replaced on that copy, by functions that
route the messages and then call the original. The response keeps its type; the routing report is
``response.routing_report`` (or ``router.get_report(response)``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from router.core import Router
from router.errors import RouterError
from router.integrations.completion import attach_report, route_call
from router.integrations.recall import Recall, ReportedStream, acomplete, astream, complete, stream
from router.models import RouteReport
from router.target import Wire

ClientT = TypeVar("ClientT")


def wrap(client: ClientT, router: Router | None = None) -> ClientT:
    """A copy of ``client`` (``openai.OpenAI``/``AsyncOpenAI``, ``anthropic.Anthropic``/``AsyncAnthropic``)
    whose requests are routed by ``router`` (default policy if omitted) before they are sent."""
    router = router or Router()
    copy_of: Callable[[], Any] | None = getattr(client, "with_options", None)
    if copy_of is None:
        raise RouterError(f"cannot wrap {type(client).__name__}: expected an OpenAI or Anthropic SDK client")
    wrapped = copy_of()
    # The SDKs wrap their methods, so ask the client class rather than the function whether calls are
    # async: both SDKs derive their async clients from a base class named AsyncAPIClient.
    is_async = any(cls.__name__ == "AsyncAPIClient" for cls in type(wrapped).__mro__)
    chat = getattr(wrapped, "chat", None)
    if chat is not None and hasattr(chat, "completions"):
        completions = chat.completions
        completions.create = _routed(completions.create, router, wire="openai", is_async=is_async)
        return wrapped
    messages = getattr(wrapped, "messages", None)
    if messages is not None and hasattr(messages, "create"):
        messages.create = _routed(messages.create, router, wire="anthropic", is_async=is_async)
        if hasattr(messages, "stream"):  # returns a stream manager at once, in both clients
            messages.stream = _routed(messages.stream, router, wire="anthropic", is_async=False)
        return wrapped
    raise RouterError(f"cannot wrap {type(client).__name__}: it has neither chat.completions nor messages")


def _routed(send: Callable[..., Any], router: Router, *, wire: Wire, is_async: bool) -> Callable[..., Any]:
    """``send`` with its ``messages`` (and Anthropic ``system``) routed first, and recall rounds
    answered where the policy offers them (OpenAI calls streaming or not; Anthropic calls that do not
    stream)."""

    def route(kwargs: dict[str, Any]) -> tuple[dict[str, Any], RouteReport | None, Recall | None]:
        if "messages" not in kwargs or "model" not in kwargs:
            return kwargs, None, None  # let the SDK raise its own error for a malformed call
        sent, routed = route_call(router, kwargs, wire=wire)
        # Recall rounds on OpenAI streams too; Anthropic SDK streams (events as objects) get no tool.
        streams = wire == "anthropic" and (sent.get("stream") or send.__name__ == "stream")
        return sent, routed.report, None if streams else Recall.offered(router.policy, routed, wire)

    if is_async:

        @functools.wraps(send)
        async def send_routed_async(*args: Any, **kwargs: Any) -> Any:
            sent, report, recall = await asyncio.to_thread(route, kwargs)  # rendering is CPU work
            if recall is None:
                response = await send(*args, **sent)
            elif sent.get("stream"):
                return ReportedStream(astream(lambda kw: send(*args, **kw), sent, recall), report, recall)  # type: ignore[arg-type]
            else:
                response = await acomplete(lambda kw: send(*args, **kw), sent, recall)
                report.recall_rounds = recall.rounds  # type: ignore[union-attr]
            return attach_report(response, report) if report is not None else response

        return send_routed_async

    @functools.wraps(send)
    def send_routed(*args: Any, **kwargs: Any) -> Any:
        sent, report, recall = route(kwargs)
        if recall is None:
            response = send(*args, **sent)
        elif sent.get("stream"):
            return ReportedStream(stream(lambda kw: send(*args, **kw), sent, recall), report, recall)  # type: ignore[arg-type]
        else:
            response = complete(lambda kw: send(*args, **kw), sent, recall)
            report.recall_rounds = recall.rounds  # type: ignore[union-attr]
        return attach_report(response, report) if report is not None else response

    return send_routed
