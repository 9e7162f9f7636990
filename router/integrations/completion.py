"""Stage 5: call the backend through litellm, streaming included, and attach the routing report.

URLs in the messages were checked by ``router.url_guard`` before routing, on every path.
"""

from __future__ import annotations

from typing import Any

from router.models import RouteReport

REPORT_ATTRIBUTE = "routing_report"


def completion(messages: list[Any], report: RouteReport, kwargs: dict[str, Any]) -> Any:
    from router._litellm import litellm

    response = litellm.completion(**{**kwargs, "messages": messages})
    return attach_report(response, report)


async def acompletion(messages: list[Any], report: RouteReport, kwargs: dict[str, Any]) -> Any:
    from router._litellm import litellm

    response = await litellm.acompletion(**{**kwargs, "messages": messages})
    return attach_report(response, report)


def attach_report(response: Any, report: RouteReport) -> Any:
    """Make the report reachable as ``response.routing_report`` without changing the response type."""
    try:
        # object.__setattr__ bypasses pydantic, so SDK models do not dump the report as a field.
        object.__setattr__(response, REPORT_ATTRIBUTE, report)
    except (AttributeError, TypeError):
        pass
    hidden = getattr(response, "_hidden_params", None)
    if isinstance(hidden, dict):
        hidden[REPORT_ATTRIBUTE] = report
    return response


def get_report(response: Any) -> RouteReport | None:
    """The routing report of a response returned by ``Router.completion``, if any."""
    report = getattr(response, REPORT_ATTRIBUTE, None)
    if report is None and isinstance(getattr(response, "_hidden_params", None), dict):
        report = response._hidden_params.get(REPORT_ATTRIBUTE)
    return report
