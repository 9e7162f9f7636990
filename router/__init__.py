"""Hybrid text/image context router.

Long or format-heavy context is rendered into images that a vision encoder reads with fewer tokens;
short, editable text stays text. ``Router.route`` builds the mixed prompt, ``Router.completion``
sends it to any backend through litellm.

The names below are loaded on first use (PEP 562), so ``import router`` and ``hcr --help`` load
neither litellm nor PyMuPDF, and change no environment variable.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Router": "router.core",
    "wrap": "router.integrations.wrap",
    "get_report": "router.integrations.completion",
    "Policy": "router.policy", "Rule": "router.policy", "When": "router.policy",
    "FidelitySettings": "router.fidelity.guard",
    "PROFILES": "router.providers.geometry", "EncoderProfile": "router.providers.geometry",
    "get_profile": "router.providers.geometry", "resolve_encoder": "router.providers.geometry",
    "DENSITIES": "router.render.density", "Density": "router.render.density",
    **dict.fromkeys(
        ["Chunk", "ChunkReport", "Decision", "Page", "ReadBack", "Rendering", "RoutedRequest", "RouteReport"],
        "router.models",
    ),
    **dict.fromkeys(
        ["RouterError", "InvalidRequestError", "UnsafeURLError", "PolicyError", "ConfigError", "DocumentError",
         "RenderError", "UnknownEncoderError", "FidelityError"],
        "router.errors",
    ),
}  # fmt: skip

__all__ = [
    "DENSITIES",
    "PROFILES",
    "Chunk",
    "ChunkReport",
    "ConfigError",
    "Decision",
    "Density",
    "DocumentError",
    "EncoderProfile",
    "FidelityError",
    "FidelitySettings",
    "InvalidRequestError",
    "Page",
    "Policy",
    "PolicyError",
    "ReadBack",
    "RenderError",
    "Rendering",
    "RouteReport",
    "RoutedRequest",
    "Router",
    "RouterError",
    "Rule",
    "UnknownEncoderError",
    "UnsafeURLError",
    "When",
    "get_profile",
    "get_report",
    "resolve_encoder",
    "wrap",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ loads each on first use
    from router.core import Router
    from router.errors import (
        ConfigError,
        DocumentError,
        FidelityError,
        InvalidRequestError,
        PolicyError,
        RenderError,
        RouterError,
        UnknownEncoderError,
        UnsafeURLError,
    )
    from router.fidelity.guard import FidelitySettings
    from router.integrations.completion import get_report
    from router.integrations.wrap import wrap
    from router.models import Chunk, ChunkReport, Decision, Page, ReadBack, Rendering, RoutedRequest, RouteReport
    from router.policy import Policy, Rule, When
    from router.providers.geometry import PROFILES, EncoderProfile, get_profile, resolve_encoder
    from router.render.density import DENSITIES, Density


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
