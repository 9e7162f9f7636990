"""Hybrid text/image context router.

Long or format-heavy context is rendered into images that a vision encoder reads with fewer tokens;
short, editable text stays text. ``Router.route`` builds the mixed prompt, ``Router.completion``
sends it to any backend through litellm.
"""

from router import _offline  # noqa: F401  (must run before anything imports litellm)
from router.core import Router
from router.errors import (
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

__version__ = "0.1.0"

__all__ = [
    "DENSITIES",
    "PROFILES",
    "Chunk",
    "ChunkReport",
    "Decision",
    "Density",
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
