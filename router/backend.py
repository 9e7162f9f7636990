"""Stage 5: call the backend through litellm, streaming included, and attach the routing report.

litellm downloads ``http(s)://`` image URLs itself for providers that only take inline images
(Anthropic, Gemini and others). The router never lets a caller make this machine fetch an address:
such parts pass through only where the provider fetches URLs itself, and are refused otherwise.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import router._offline  # noqa: F401
from router.errors import UnsafeURLError
from router.geometry import EncoderProfile
from router.models import RouteReport

REPORT_ATTRIBUTE = "routing_report"


def check_remote_urls(
    messages: Sequence[Mapping[str, Any]],
    profile: EncoderProfile,
    model: str,
    *,
    allowed_hosts: frozenset[str] = frozenset(),
    block_private: bool = False,
) -> None:
    """Refuse remote image URLs that litellm would download on this machine for ``model``.

    Hosts in ``allowed_hosts`` always pass. ``block_private`` (the proxy's setting) also refuses URLs
    whose host resolves to a loopback, private, link-local or otherwise internal address, for every
    provider: an OpenAI-compatible backend such as vLLM fetches URLs from inside your network.
    """
    for where, url in _remote_image_urls(messages):
        host = (urlsplit(url).hostname or "").lower()
        if host in allowed_hosts:
            continue
        if not profile.accepts_remote_urls:
            raise UnsafeURLError(
                where,
                f"remote image URL refused: for {model!r} litellm would download it on this machine; "
                "send the image inline as a data: URL",
            )
        if block_private and (reason := _internal_address(host)):
            raise UnsafeURLError(where, f"image URL refused: {reason}")


def _remote_image_urls(messages: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, str]]:
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
                yield f"messages[{i}].content[{j}].image_url.url", url


def _internal_address(host: str) -> str | None:
    """Why ``host`` must not be fetched, or None if every address it resolves to is public."""
    if not host:
        return "the URL names no host"
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return f"host {host!r} does not resolve"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return f"host {host!r} resolves to the internal address {ip}"
    return None


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
