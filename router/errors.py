"""Exceptions raised by the router: one tree under ``RouterError``. Every message names what was
wrong and where (the field of the request, the file and line of a policy or config)."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DocumentError",
    "FidelityError",
    "IncompleteRenderError",
    "InvalidRequestError",
    "PolicyError",
    "RenderError",
    "RouterError",
    "UnknownEncoderError",
    "UnsafeURLError",
]


class RouterError(Exception):
    """Base class for every error the router raises on purpose."""


class InvalidRequestError(RouterError, ValueError):
    """The chat request is malformed; ``location`` is a path such as ``messages[3].content[1]``."""

    def __init__(self, location: str, problem: str) -> None:
        self.location = location
        self.problem = problem
        super().__init__(f"{location}: {problem}")


class PolicyError(RouterError, ValueError):
    """A policy file or mapping failed validation; the message names the file, line and field."""


class ConfigError(RouterError, ValueError):
    """The proxy configuration is invalid; the message names the file, line and field."""


class DocumentError(RouterError, ValueError):
    """An attached document that cannot be used (encrypted, corrupt, empty, a bad page range)."""


class UnsafeURLError(InvalidRequestError):
    """A content part names a remote URL that litellm would fetch from this machine."""


class RenderError(RouterError):
    """A chunk could not be rendered. The router catches it and sends that chunk as text."""

    guard = "render-failed"  # the report's reason reads ``guard:<guard>: <message>``


class IncompleteRenderError(RenderError):
    """The laid-out pages do not hold every word of the chunk's source; the chunk goes as text."""

    guard = "incomplete"


class UnknownEncoderError(RouterError, KeyError, ValueError):
    """An encoder family name that the geometry table does not hold."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else "unknown encoder"


class FidelityError(RouterError):
    """An OCR engine is missing or failed, or a calibration or benchmark input is unusable."""
