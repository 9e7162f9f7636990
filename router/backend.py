"""Stage 5: call the backend through litellm, streaming included, and attach the routing report.

litellm downloads ``http(s)://`` image URLs itself for providers that only take inline images
(Anthropic, Gemini and others). The router never lets a caller make this machine fetch an address:
such parts pass through only where the provider fetches URLs itself, and are refused otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import router._offline  # noqa: F401
from router.errors import UnsafeURLError
from router.geometry import EncoderProfile
from router.models import RouteReport

REPORT_ATTRIBUTE = "routing_report"


def check_remote_urls(messages: Sequence[Mapping[str, Any]], profile: EncoderProfile, model: str) -> None:
    """Refuse remote image URLs that litellm would download on this machine for ``model``."""
    if profile.accepts_remote_urls:
        return
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if part.get("type") != "image_url":
                continue
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
            if isinstance(url, str) and url.split(":", 1)[0].lower() in ("http", "https", "ftp", "file"):
                raise UnsafeURLError(
                    f"messages[{i}].content[{j}].image_url.url",
                    f"remote image URL refused: for {model!r} litellm would download it on this machine; "
                    "send the image inline as a data: URL",
                )


def completion(messages: list[Any], report: RouteReport, kwargs: dict[str, Any]) -> Any:
    import litellm

    response = litellm.completion(**{**kwargs, "messages": messages})
    return attach_report(response, report)


async def acompletion(messages: list[Any], report: RouteReport, kwargs: dict[str, Any]) -> Any:
    import litellm

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
