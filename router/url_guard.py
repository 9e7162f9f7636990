"""The URL guard: no caller can make this machine, or a backend inside its network, fetch an address.

litellm downloads ``http(s)://`` image and file URLs itself for providers that only take inline data
(Anthropic, Gemini and others), and self-hosted OpenAI-compatible servers (vLLM) fetch URLs from
inside the operator's network. So every URL-bearing field of every message is checked, on every
wire format and every path (bypass included), wherever it is nested (tool results hold images too):

- only ``https``, ``http`` and ``data:`` URLs are accepted; ``gopher://``, ``file://`` and the rest
  are refused;
- a URL must be exactly what a fetching library would fetch: no surrounding or embedded whitespace
  or control characters (HTTP clients strip them and fetch what is behind), no backslashes, no
  user-info, no percent-encoded host, and ``urllib.parse``, ``httpx`` and ``urllib3`` must all read
  the same host and port from it (``http://127.0.0.1\\@8.8.8.8/`` reads differently in each);
- where litellm would download the URL on this machine for the target model, it is refused unless
  its host is on the allow-list; with ``block_private`` (the proxy) a host that resolves to a
  loopback, private, link-local or otherwise non-global address is refused for every provider.

The check resolves the host once; a host whose DNS answer changes between this check and the fetch
(DNS rebinding) is only stopped by listing hosts in ``allowed_image_hosts`` and keeping
``block_private`` on, or by sending images inline.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from router.errors import UnsafeURLError

__all__ = ["URL_FIELDS", "check_urls", "find_urls"]

# Fields whose string value is a URL a client library may fetch. ``file_id`` and ``file_data`` are
# checked only when they carry a scheme: ids ("file-abc") and raw base64 are not URLs.
URL_FIELDS = frozenset({"url", "image_url", "file_url", "video_url", "audio_url", "uri", "file_uri"})
_MAYBE_URL_FIELDS = frozenset({"file_id", "file_data"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_UNSAFE_CHARACTER = re.compile(r"[\x00-\x20\x7f-\x9f\\\u00a0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u3000\ufeff]")
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9-]{1,63})*\.?|\[[0-9a-f:.]+\])$")
_MAX_DEPTH = 64
_CALL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


def find_urls(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every (path, URL) in ``value``: strings under a URL field, at any depth, in any part type."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > _MAX_DEPTH:
            raise UnsafeURLError(path, f"nested deeper than {_MAX_DEPTH} levels")
        if isinstance(node, Mapping):
            for key, child in node.items():
                if key == "input" and node.get("type") in _CALL_BLOCKS:
                    continue  # a tool call's arguments go to the caller's tool, never to a fetcher
                child_path = f"{path}.{key}"
                if isinstance(child, str):
                    if key in URL_FIELDS or (key in _MAYBE_URL_FIELDS and _SCHEME.match(child.strip()[:32])):
                        yield child_path, child
                elif isinstance(child, (Mapping, list, tuple)):
                    stack.append((child, child_path, depth + 1))
        elif isinstance(node, (list, tuple)):
            for i, child in enumerate(node):
                if isinstance(child, (Mapping, list, tuple)):
                    stack.append((child, f"{path}[{i}]", depth + 1))


def check_urls(
    messages: Sequence[Any],
    *,
    system: Any = None,
    fetched_here: bool,
    model: str,
    allowed_hosts: frozenset[str] = frozenset(),
    block_private: bool = False,
) -> None:
    """Raise ``UnsafeURLError`` naming the field of the first URL that must not be sent.

    ``fetched_here``: litellm downloads remote URLs on this machine for ``model``'s provider.
    """
    found = list(find_urls(system, "system")) if system is not None else []
    found += find_urls(list(messages), "messages")
    for where, url in found:
        _check_url(where, url, fetched_here, model, allowed_hosts, block_private)


def _check_url(
    where: str, url: str, fetched_here: bool, model: str, allowed_hosts: frozenset[str], block_private: bool
) -> None:
    scheme_match = _SCHEME.match(url)
    if _UNSAFE_CHARACTER.search(url[:4096] if scheme_match and scheme_match.group(1).lower() == "data" else url):
        raise UnsafeURLError(where, "URL refused: it contains whitespace, control characters or a backslash")
    if scheme_match is None:
        raise UnsafeURLError(where, "URL refused: not an absolute https, http or data: URL")
    scheme = scheme_match.group(1).lower()
    if scheme == "data":
        return
    if scheme not in ("http", "https"):
        raise UnsafeURLError(where, f"URL refused: scheme {scheme!r}; only https, http and data: URLs are accepted")
    host = _single_reading_host(where, url)
    if host in allowed_hosts:
        return
    if fetched_here:
        raise UnsafeURLError(
            where,
            f"remote URL refused: for {model!r} litellm would download it on this machine; "
            "send it inline as a data: URL",
        )
    if block_private and (reason := _internal_address(host)):
        raise UnsafeURLError(where, f"URL refused: {reason}")


def _single_reading_host(where: str, url: str) -> str:
    """The URL's host, when every parser a fetch may go through reads the same host and port."""
    try:
        parts = urlsplit(url)
        readings = {(parts.hostname or "", parts.port or _default_port(parts.scheme))}
    except ValueError as exc:
        raise UnsafeURLError(where, f"URL refused: it does not parse ({exc})") from None
    if "@" in parts.netloc or "%" in parts.netloc:
        raise UnsafeURLError(where, "URL refused: user-info and percent-encoded hosts are not accepted")
    host = (parts.hostname or "").lower()
    if not _HOST.match(host if ":" not in host else f"[{host}]"):
        raise UnsafeURLError(where, f"URL refused: {host or '(none)'!r} is not a plain host name or IP address")
    for reading in _other_readings(url):
        readings.add(reading)
    if len(readings) != 1:
        raise UnsafeURLError(where, "URL refused: HTTP libraries disagree on which host it names")
    return host


def _other_readings(url: str) -> Iterator[tuple[str, int]]:
    import httpx

    try:
        parsed = httpx.URL(url)
        yield parsed.host.lower(), parsed.port or _default_port(parsed.scheme)
    except (httpx.InvalidURL, ValueError, TypeError):
        yield "(httpx: invalid)", 0
    try:
        from urllib3.util import parse_url
    except ImportError:  # urllib3 is optional; httpx and urllib.parse already agree
        return
    try:
        other = parse_url(url)
        yield (other.host or "").lower().strip("[]"), other.port or _default_port(other.scheme or "")
    except ValueError:
        yield "(urllib3: invalid)", 0


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def _internal_address(host: str) -> str | None:
    """Why ``host`` must not be fetched, or None if every address it resolves to is public."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host.strip("[]"), None)}
    except (OSError, UnicodeError):
        return f"host {host!r} does not resolve"
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return f"host {host!r} resolves to the internal address {ip}"
    return None
