"""Stage 2: decide text or image per chunk, from a YAML policy and then from guards.

Rules are evaluated in order and the first match wins. Guards always apply on top of the rules: the
backend must accept images, assistant turns stay text, short text stays text, secrets and text dense
with hashes stay text (``router.exact``), and (after rendering, see ``check_saving``) the image must
cost at most ``1 / min_saving`` of the text.
The optional read-back guard (``fidelity``) lives in ``router.fidelity.guard``.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from router._yaml import load_yaml_file, load_yaml_text
from router.cache_gate import CacheSettings
from router.density_names import DensityName
from router.detect import looks_binary
from router.errors import PolicyError
from router.exact import ExactSettings, keep_sharp
from router.fidelity.guard import FidelitySettings
from router.history import HistorySettings
from router.local.encoder import LocalSettings
from router.models import Action, Chunk, Decision, Kind, Rendering, Role, Script
from router.providers.geometry import PROFILES, EncoderName, EncoderProfile, resolve_encoder

if TYPE_CHECKING:
    from router.target import Target


class When(BaseModel):
    """Conditions of a rule; all given ones must hold. ``role``, ``kind`` and ``script`` take one value
    or a list of them."""

    model_config = ConfigDict(extra="forbid")

    role: list[Role] | None = None
    kind: list[Kind] | None = None
    script: list[Script] | None = None
    min_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=0)
    min_age: int | None = Field(None, ge=0)
    max_age: int | None = Field(None, ge=0)
    live_turn: bool | None = None
    min_turns: int | None = Field(None, ge=0, description="at least this many user turns came after")
    max_turns: int | None = Field(None, ge=0)
    answered: bool | None = Field(None, description="whether the model has replied since (an assistant turn follows)")
    tool_name: list[str] | None = Field(None, description="glob(s) on the name of the tool whose result this is")
    regex: str | None = Field(None, description="Python regular expression searched in the chunk text")

    @field_validator("role", "kind", "script", "tool_name", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def matches(self, chunk: Chunk) -> bool:
        checks = (
            self.role is None or chunk.role in self.role,
            self.kind is None or chunk.kind in self.kind,
            self.script is None or chunk.script in self.script,
            self.min_tokens is None or chunk.text_tokens >= self.min_tokens,
            self.max_tokens is None or chunk.text_tokens <= self.max_tokens,
            self.min_age is None or chunk.age >= self.min_age,
            self.max_age is None or chunk.age <= self.max_age,
            self.live_turn is None or chunk.live_turn == self.live_turn,
            self.min_turns is None or chunk.turns_after >= self.min_turns,
            self.max_turns is None or chunk.turns_after <= self.max_turns,
            self.answered is None or chunk.answered == self.answered,
            self.tool_name is None
            or (chunk.tool_name is not None and any(fnmatch.fnmatchcase(chunk.tool_name, g) for g in self.tool_name)),
            self.regex is None or _compiled(self.regex).search(chunk.text) is not None,
        )
        return all(checks)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    when: When = Field(default_factory=When)
    action: Action
    density: DensityName | None = None


class ModelOverride(BaseModel):
    """Facts for models litellm does not know, matched by a glob on the model string."""

    model_config = ConfigDict(extra="forbid")

    match: str
    encoder: EncoderName | Literal["local"] | None = Field(
        None, description="an encoder family, or 'local': pages go as embeddings of the checkpoint's own tower"
    )
    checkpoint: str | None = Field(None, description="with encoder 'local': the model's checkpoint directory")
    vision: bool | None = None
    density: DensityName | None = None

    @model_validator(mode="after")
    def _checkpoint_with_local(self) -> ModelOverride:
        if (self.encoder == "local") != (self.checkpoint is not None):
            raise ValueError("encoder 'local' and checkpoint go together: the checkpoint is what is run locally")
        if self.checkpoint is not None:  # clear errors now, not at the first request
            from router.local.checkpoint import require_torch
            from router.local.preprocess import ProcessorSettings

            ProcessorSettings.from_checkpoint(self.checkpoint)
            require_torch()
        return self

    def profile(self) -> EncoderProfile | None:
        """The geometry these facts name: a family's row, or the local checkpoint's own."""
        if self.checkpoint is not None:
            from router.local.preprocess import checkpoint_profile

            return checkpoint_profile(self.checkpoint)
        return PROFILES[self.encoder] if self.encoder else None


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    description: str = ""
    density: DensityName = "balanced"
    min_saving: float = Field(1.25, gt=0, description="text tokens must be >= min_saving x image tokens")
    min_tokens: int = Field(300, ge=0, description="chunks with fewer text tokens stay text")
    max_images: int | None = Field(None, gt=0, description="cap below the encoder's own limit")
    max_image_bytes: int = Field(
        18 * 1024 * 1024, gt=0, description="decoded PNG bytes per request, all pages together (and the provider's)"
    )
    max_pages: int = Field(100, gt=0, description="pages read from one attached document; the rest are cut")
    pages: str | None = Field(None, description='page range read from attached documents, e.g. "1-5,9"')
    fidelity: FidelitySettings = Field(default_factory=FidelitySettings, description="read-back guard")
    exact: ExactSettings = Field(default_factory=ExactSettings, description="factsheets and what stays sharp")
    history: HistorySettings = Field(default_factory=HistorySettings, description="closed turns drawn in blocks")
    count: Literal["local", "provider"] = Field(
        "local", description="text tokens: the local counter, or the provider's count-tokens endpoint (needs its key)"
    )
    cache: CacheSettings = Field(default_factory=CacheSettings, description="the prompt cache counted in decisions")
    recall: bool = Field(False, description="offer the hcr_recall tool: exact source text of imaged chunks")
    recall_rounds: int = Field(3, ge=1, le=10, description="recall rounds the router answers per request")
    local: LocalSettings = Field(default_factory=LocalSettings, description="the local vision encoder, where used")
    models: list[ModelOverride] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used twice")
            seen.add(rule.name)
        return self

    # --- loading ---------------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> Policy:
        return load_yaml_file(path, cls, PolicyError)

    @classmethod
    def from_yaml_text(cls, text: str, source: str = "<policy>") -> Policy:
        return load_yaml_text(text, cls, PolicyError, source)

    @classmethod
    def load(cls, spec: str | Path) -> Policy:
        """A policy file (``*.yaml`` or an existing path) or the name of a built-in policy."""
        path = Path(spec)
        return cls.from_yaml(path) if path.suffix in (".yaml", ".yml") or path.exists() else cls.builtin(str(spec))

    @classmethod
    def builtin(cls, name: str = "default") -> Policy:
        """A policy shipped with the package (``default``, ``conservative``, ``aggressive``, ``text-only``)."""
        return _builtin(name)

    # --- deciding --------------------------------------------------------------------------------

    def override_for(self, model: str) -> ModelOverride | None:
        lowered = model.lower()
        for override in self.models:
            if fnmatch.fnmatch(lowered, override.match.lower()):
                return override
        return None

    def encoder_for(self, model: str) -> EncoderProfile:
        override = self.override_for(model)
        profile = override.profile() if override else None
        return profile or resolve_encoder(model)

    def vision_for(self, model: str) -> bool:
        override = self.override_for(model)
        if override and override.vision is not None:
            return override.vision
        return _supports_vision(model)

    def match(self, chunk: Chunk, target: Target) -> Decision:
        """The first matching rule's decision (no guards). A density the request asked for beats the rule's."""
        for rule in self.rules:
            if rule.when.matches(chunk):
                density = target.density if target.density_forced else rule.density or target.density
                return Decision(action=rule.action, reason=f"rule:{rule.name}", density=density)
        return Decision(action="text", reason="rule:(no rule matched)", density=target.density)

    def decide(self, chunk: Chunk, target: Target) -> Decision:
        """The first matching rule, then the guards that hold before rendering."""
        decision = self.match(chunk, target)
        if decision.action == "text":
            return decision
        guard = _guard_before_render(chunk, vision=target.vision, min_tokens=self.min_tokens) or keep_sharp(
            chunk.text, self.exact
        )
        return decision.model_copy(update={"action": "text", "reason": guard}) if guard else decision

    def check_saving(self, chunk: Chunk, rendering: Rendering, text_beside: int) -> str | None:
        """A guard reason when the image (with ``text_beside`` tokens of label and factsheet) does not
        pay for itself, else None."""
        image_tokens = rendering.image_tokens + text_beside
        if chunk.text_tokens < self.min_saving * image_tokens:
            return (
                f"guard:min-saving: {chunk.text_tokens} text tokens < {self.min_saving} x {image_tokens} image tokens"
            )
        return None


def _guard_before_render(chunk: Chunk, *, vision: bool, min_tokens: int) -> str | None:
    if not vision:
        return "guard:no-vision: the backend does not accept images"
    if chunk.role == "assistant":
        return "guard:role: providers accept no images in assistant turns"
    if chunk.text_tokens < min_tokens:
        return f"guard:short-text: {chunk.text_tokens} < {min_tokens} tokens"
    if looks_binary(chunk.text):
        return "guard:binary-like: base64, minified or hex-dump text is not worth drawing"
    return None


@functools.lru_cache(maxsize=1024)
def _supports_vision(model: str) -> bool:
    from router._litellm import litellm

    if "/" not in model and model not in litellm.model_cost:
        return False  # a bare name litellm does not know; asking it would print its provider list
    try:
        return bool(litellm.supports_vision(model=model))
    except Exception:  # litellm raises for names it cannot place; such a model gets text
        return False


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@functools.lru_cache(maxsize=8)
def _builtin(name: str) -> Policy:
    files = resources.files("router.policies")
    resource = files.joinpath(f"{name}.yaml")
    if not resource.is_file():
        shipped = sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))
        raise PolicyError(f"no built-in policy {name!r}; shipped: {', '.join(shipped)}")
    return Policy.from_yaml_text(resource.read_text(encoding="utf-8"), source=f"router.policies/{name}.yaml")
