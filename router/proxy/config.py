"""Proxy configuration, close to LiteLLM Proxy's ``config.yaml`` so its users feel at home.

    model_list:
      - model_name: claude                      # the name clients send
        litellm_params:                         # passed to litellm as they are
          model: anthropic/claude-sonnet-4-6
          api_key: os.environ/ANTHROPIC_API_KEY # read from the environment at start-up
        policy: /etc/hcr/claude.yaml            # optional: policy file or built-in name
        encoder: anthropic                      # optional: encoder family override
    general_settings:
      master_key: os.environ/HCR_MASTER_KEY     # and/or api_keys: [...]; no key = no auth
      max_request_bytes: 33554432
      max_images: 100
      timeout_s: 600
      max_concurrency: 64                       # requests routed or streaming at once; the rest wait
      body_timeout_s: 30                        # the whole body must arrive within this
      allowed_image_hosts: [images.example.com]
      allowed_request_fields: [top_k]           # provider fields callers may send besides the documented ones
      render_workers: 4                         # render processes (default under hcr serve: one per core)
      event_log: /var/log/hcr/events.jsonl      # one JSON line per request (default ~/.local/state/hcr/events.jsonl)
    cache: {type: redis, url: redis://redis:6379/0}   # decisions and renderings shared by replicas
    ui:                                         # the inspector at /ui (``ui: false`` turns it off)
      keep_content: false                       # keep texts and pages for the inspector (else figures only)
      max_requests: 200                         # kept per API key, newest first
      max_content_mb: 256                       # content kept in all; the oldest loses its content first

With no ``model_list`` the proxy passes each request to the model it names, with the default policy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from router._yaml import load_yaml_file
from router.errors import ConfigError
from router.providers.geometry import EncoderName

_ENV_PREFIX = "os.environ/"


def _from_environment(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_ENV_PREFIX):
        name = value[len(_ENV_PREFIX) :]
        if name not in os.environ:
            raise ValueError(f"environment variable {name} is not set")
        return os.environ[name]
    return value


class LitellmParams(BaseModel):
    """Keyword arguments for litellm; any besides these pass through unchanged."""

    model_config = ConfigDict(extra="allow")

    model: str
    api_base: str | None = None
    api_key: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _resolve_environment(cls, data: Any) -> Any:
        return {k: _from_environment(v) for k, v in data.items()} if isinstance(data, dict) else data

    def as_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ModelEntry(BaseModel):
    """One deployment; entries sharing a ``model_name`` are one group, load-balanced by litellm's Router."""

    model_config = ConfigDict(extra="allow")  # LiteLLM's other entry keys: ignored, named in one log line

    model_name: str
    litellm_params: LitellmParams
    model_info: dict[str, Any] = Field(default_factory=dict, description="passed to litellm's Router as it is")
    policy: str | None = None
    encoder: EncoderName | None = None


def default_event_log() -> str:
    """``$XDG_STATE_HOME/hcr/events.jsonl`` (``~/.local/state/hcr/events.jsonl``): where ``hcr stats`` looks."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "hcr", "events.jsonl")


class GeneralSettings(BaseModel):
    model_config = ConfigDict(extra="allow")  # LiteLLM Proxy's own settings (database_url...): ignored, logged

    master_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    policy: str = Field("default", description="policy file or built-in name for models without their own")
    max_request_bytes: int = Field(32 * 1024 * 1024, gt=0)
    max_images: int | None = Field(None, gt=0)
    timeout_s: float = Field(600, gt=0, description="the whole deadline of one request: waiting, routing, retries")
    max_concurrency: int = Field(64, gt=0)
    body_timeout_s: float = Field(30, gt=0, description="a request body must arrive within this")
    allowed_image_hosts: list[str] = Field(default_factory=list)
    allowed_request_fields: list[str] = Field(
        default_factory=list, description="provider fields callers may send besides the documented ones"
    )
    render_workers: int | None = Field(
        None, ge=0, description="render processes per server process (hcr serve: the cores shared; 0: in-process)"
    )
    event_log: str | None = Field(
        default_factory=lambda: default_event_log(),
        description="append one JSON line per request here (hcr stats reads it); null: no event log",
    )

    @field_validator("allowed_request_fields")
    @classmethod
    def _never_call_settings(cls, value: list[str]) -> list[str]:
        from router.proxy.request import forbidden_extra_fields

        refused = forbidden_extra_fields(value)
        if refused:
            raise ValueError(
                f"{', '.join(refused)}: litellm call settings (where, how and with which credentials the backend is "
                "called) come from this config only; callers can never be allowed to send them"
            )
        return value

    @field_validator("master_key", mode="before")
    @classmethod
    def _key_from_environment(cls, value: Any) -> Any:
        return _from_environment(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_from_environment(cls, value: Any) -> Any:
        return [_from_environment(v) for v in value] if isinstance(value, list) else value

    @property
    def keys(self) -> list[str]:
        return [k for k in [self.master_key, *self.api_keys] if k]


class UISettings(BaseModel):
    """The inspector (``/ui``) and what it keeps in memory."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    keep_content: bool = Field(False, description="keep chunk texts, pages and read-backs, not only figures")
    max_requests: int = Field(200, gt=0, le=100_000, description="requests kept per API key")
    max_content_mb: float = Field(256, gt=0, description="content kept in all, before the oldest loses its own")

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, data: Any) -> Any:
        return {"enabled": data} if isinstance(data, bool) else data


class SharedCache(BaseModel):
    """Decisions and renderings shared by every replica (``router.shared_store``)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["redis"]
    url: str = Field(description="redis://host:port/db (os.environ/NAME reads it from the environment)")
    ttl_s: int = Field(86_400, gt=0, description="entries expire after this")
    max_value_mb: float = Field(8, gt=0, description="renderings larger than this are not shared")

    @field_validator("url", mode="before")
    @classmethod
    def _url_from_environment(cls, value: Any) -> Any:
        return _from_environment(value)


class ProxyConfig(BaseModel):
    """A LiteLLM Proxy ``config.yaml`` as it is, plus hcr's own keys (``policy``, ``encoder``, ``ui``)."""

    model_config = ConfigDict(extra="allow")  # environment_variables, callback settings...: ignored, logged

    model_list: list[ModelEntry] = Field(default_factory=list)
    general_settings: GeneralSettings = Field(default_factory=GeneralSettings)
    litellm_settings: dict[str, Any] = Field(default_factory=dict, description="Router-level keys are used")
    router_settings: dict[str, Any] = Field(default_factory=dict, description="passed to litellm's Router")
    ui: UISettings = Field(default_factory=UISettings)
    cache: SharedCache | None = Field(None, description="state shared by replicas (Redis); none: in-process")

    @model_validator(mode="after")
    def _known_models_read_alike(self) -> ProxyConfig:
        """Every deployment's model is one the router can place, and a group's deployments read images
        with one encoder family (routing happens once, before the Router picks a deployment)."""
        if not self.model_list:
            return self
        from router.policy import Policy
        from router.target import resolve_target, unknown_model

        policies: dict[str, Policy] = {}
        families: dict[str, dict[str, str]] = {}
        for i, entry in enumerate(self.model_list):
            name = entry.policy or self.general_settings.policy
            policy = policies.get(name) or policies.setdefault(name, Policy.load(name))
            model = entry.litellm_params.model
            if entry.encoder is None:
                problem = unknown_model(policy, model)
                if problem is not None:
                    raise ValueError(f"model_list[{i}] ({entry.model_name}): {problem.split(' (for a self')[0]} "
                                     "(for a self-hosted model, give the entry an 'encoder:')")  # fmt: skip
            family = entry.encoder or resolve_target(policy, model).profile.name
            families.setdefault(entry.model_name, {})[model] = family
        for group, entries in self.groups().items():
            if len({e.policy for e in entries}) > 1:
                raise ValueError(f"the deployments of {group!r} name different policies; give them one")
        for group, members in families.items():
            if len(set(members.values())) > 1:
                read = ", ".join(f"{model} reads as {family}" for model, family in members.items())
                raise ValueError(
                    f"the deployments of {group!r} read images differently ({read}); routing is done once per "
                    "request, so give them one 'encoder:' or serve them under different names"
                )
        return self

    def groups(self) -> dict[str, list[ModelEntry]]:
        """Deployments by model name, in config order."""
        grouped: dict[str, list[ModelEntry]] = {}
        for entry in self.model_list:
            grouped.setdefault(entry.model_name, []).append(entry)
        return grouped

    def ignored_keys(self) -> list[str]:
        """Keys of the file hcr does not use (LiteLLM Proxy's own): logged once at start, never refused."""
        keys = [*(self.model_extra or {}), *(f"general_settings.{k}" for k in self.general_settings.model_extra or {})]
        for i, entry in enumerate(self.model_list):
            keys += [f"model_list[{i}].{k}" for k in entry.model_extra or {}]
        return keys

    @classmethod
    def from_yaml(cls, path: str | Path) -> ProxyConfig:
        return load_yaml_file(path, cls, ConfigError)

    def entry(self, model_name: str) -> ModelEntry | None:
        return next((m for m in self.model_list if m.model_name == model_name), None)
