"""What a caller of the proxy may send: the request body's contract, checked before anything else.

Everything a caller controls is hostile. A request body is decoded within limits (nesting depth, no
lone surrogates), then checked against an **allow-list** per wire format: the documented fields of
OpenAI Chat Completions and of Anthropic Messages, each with its type (``"stream": "yes"`` is not a
boolean). Whatever chooses where, how or with which credentials the backend is called (base URLs,
keys, headers, fallbacks, retries, provider switches, TLS settings, routing lists) is not on either
list: it comes from the proxy's config only, and a caller who sends one gets 400 naming the field.
An operator can allow further provider fields (``general_settings.allowed_request_fields``, e.g.
vLLM's ``top_k``); litellm's own call settings can never be allowed that way.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from router.errors import InvalidRequestError

__all__ = [
    "MAX_JSON_DEPTH",
    "AnthropicCountTokensRequest",
    "AnthropicMessagesRequest",
    "OpenAIChatRequest",
    "OpenAIResponsesRequest",
    "RouteRequest",
    "check_fields",
    "decode_body",
    "forbidden_extra_fields",
]

MAX_JSON_DEPTH = 64  # real requests nest about 8 deep (tool schemas a little more)
_SURROGATE = re.compile("[\ud800-\udfff]")
_Number = float  # strict mode still takes JSON integers for floats


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    model: Annotated[str, Field(min_length=1, max_length=256)]
    stream: bool | None = None
    temperature: _Number | None = None
    top_p: _Number | None = None
    hcr_bypass: bool | None = Field(None, description="the proxy's own: send this request unrouted")


class _Contract(_Common):
    messages: list[Any]


class _StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class OpenAIChatRequest(_Contract):
    """The documented request fields of OpenAI Chat Completions."""

    audio: dict[str, Any] | None = None
    frequency_penalty: _Number | None = None
    function_call: str | dict[str, Any] | None = None
    functions: list[dict[str, Any]] | None = None
    logit_bias: dict[str, _Number] | None = None
    logprobs: bool | None = None
    max_completion_tokens: Annotated[int, Field(gt=0)] | None = None
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None = None
    modalities: list[str] | None = None
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    parallel_tool_calls: bool | None = None
    prediction: dict[str, Any] | None = None
    presence_penalty: _Number | None = None
    prompt_cache_key: str | None = None
    reasoning_effort: str | None = None
    response_format: dict[str, Any] | None = None
    safety_identifier: str | None = None
    seed: int | None = None
    service_tier: str | None = None
    stop: str | list[str] | None = None
    store: bool | None = None
    stream_options: _StreamOptions | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    user: str | None = None
    verbosity: str | None = None
    web_search_options: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _at_most_16_keys(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) > 16:
            raise ValueError("at most 16 keys")
        return value

    @field_validator("tools")
    @classmethod
    def _function_tools(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for i, tool in enumerate(value or []):
            if tool.get("type") not in ("function", "custom"):
                raise ValueError(f"tools[{i}].type: expected 'function' or 'custom', got {tool.get('type')!r}")
        return value


class _AnthropicMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: Annotated[str, Field(max_length=512)] | None = None


class AnthropicMessagesRequest(_Contract):
    """The documented request fields of Anthropic Messages."""

    max_tokens: Annotated[int, Field(gt=0)]
    system: str | list[dict[str, Any]] | None = None
    metadata: _AnthropicMetadata | None = None
    stop_sequences: list[str] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    service_tier: str | None = None
    context_management: dict[str, Any] | None = None


class AnthropicCountTokensRequest(_Contract):
    """``POST /v1/messages/count_tokens``: what Anthropic's count takes (no ``max_tokens``)."""

    system: str | list[dict[str, Any]] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    context_management: dict[str, Any] | None = None


# Responses tools that run at the provider or in the caller's own client; never ``mcp`` (a server the
# call would make someone connect to on the caller's say).
_RESPONSES_TOOLS = frozenset(
    {"function", "custom", "web_search", "web_search_preview", "file_search", "code_interpreter",
     "image_generation", "local_shell", "shell", "apply_patch"}
)  # fmt: skip


class OpenAIResponsesRequest(_Common):
    """The documented request fields of the OpenAI Responses API (``POST /v1/responses``)."""

    input: str | list[Any]
    instructions: str | None = None
    background: bool | None = None
    include: list[str] | None = None
    max_output_tokens: Annotated[int, Field(gt=0)] | None = None
    max_tool_calls: Annotated[int, Field(gt=0)] | None = None
    metadata: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: Annotated[str, Field(max_length=256)] | None = None
    prompt_cache_key: str | None = None
    reasoning: dict[str, Any] | None = None
    safety_identifier: str | None = None
    service_tier: str | None = None
    store: bool | None = None
    stream_options: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    truncation: str | None = None
    user: str | None = None

    @field_validator("tools")
    @classmethod
    def _known_tools(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for i, tool in enumerate(value or []):
            if tool.get("type") not in _RESPONSES_TOOLS:
                raise ValueError(f"tools[{i}]: type {tool.get('type')!r} is not accepted here")
        return value


class RouteRequest(OpenAIChatRequest):
    """``POST /v1/route``: a dry run of either wire format's request."""

    wire: Literal["openai", "anthropic"] = "openai"
    system: str | list[dict[str, Any]] | None = None
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    stop_sequences: list[str] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    thinking: dict[str, Any] | None = None
    context_management: dict[str, Any] | None = None
    tool_choice: str | dict[str, Any] | None = None


def decode_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object, refused (``InvalidRequestError``) past the depth or with lone surrogates."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise InvalidRequestError("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError("body", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("body", f"must be a JSON object, got {type(data).__name__}")
    _check_values(data)
    return data


def _check_values(data: dict[str, Any]) -> None:
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidRequestError(path, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(node, dict):
            items: Any = ((f"{path}.{k}" if path else str(k), k, v) for k, v in node.items())
        elif isinstance(node, list):
            items = ((f"{path}[{i}]", None, v) for i, v in enumerate(node))
        else:
            continue
        for child_path, key, value in items:
            if (isinstance(key, str) and _SURROGATE.search(key)) or (
                isinstance(value, str) and _SURROGATE.search(value)
            ):
                raise InvalidRequestError(child_path, "text holds a lone UTF-16 surrogate (not valid Unicode)")
            if isinstance(value, (dict, list)):
                stack.append((value, child_path, depth + 1))


def check_fields(data: dict[str, Any], contract: type[_Common], allowed_extra: frozenset[str]) -> None:
    """Refuse fields outside ``contract`` (and the operator's ``allowed_extra``) and values of the wrong type."""
    unknown = sorted(k for k in data if k not in contract.model_fields and k not in allowed_extra)
    if unknown:
        raise InvalidRequestError(
            ", ".join(unknown),
            "not accepted in requests: the proxy's config decides where, how and with which credentials "
            "the backend is called",
        )
    try:
        contract.model_validate({k: v for k, v in data.items() if k in contract.model_fields})
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(p) for p in error["loc"] if not str(p).startswith(("function-", "list[", "dict[")))
        raise InvalidRequestError(location or "body", error["msg"]) from None


def forbidden_extra_fields(fields: list[str]) -> list[str]:
    """Those of ``fields`` an operator may not allow: litellm's own call settings (where, how and with
    which credentials it calls), whatever their spelling."""
    from router._litellm import litellm

    all_litellm_params = litellm.types.utils.all_litellm_params

    settings = {name.lower() for name in all_litellm_params} | {"extra_body", "extra_query"}
    return sorted(f for f in fields if f.lower() in settings or f.lower().startswith(("litellm", "api_", "aws_")))
