"""OpenAI Responses API input as chat messages, and back: how ``POST /v1/responses`` and LiteLLM's
``responses`` call type go through the one router.

Each ``message``, ``function_call`` and ``function_call_output`` item becomes one chat message
(``instructions`` a leading system message), tagged with its place so the routed messages can be
turned back into items: an untouched message gives back its item exactly as the caller sent it (ids
included), a routed one its item with the new content (``input_text`` and ``input_image`` parts; a
tool output's pages follow its batch in a user message, as on the chat wire), a history block one new
user message. Items the router does not read (reasoning, item references, custom and hosted tool
calls...) keep their place before the item they preceded; those of turns folded into a history block
go with them (a reasoning item must not lose the call or message it belongs to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from router.errors import InvalidRequestError
from router.models import RoutedRequest

if TYPE_CHECKING:
    from router.core import Router

__all__ = ["TAG", "ResponsesInput", "check_responses", "from_messages", "route_responses", "to_messages"]

TAG = "_hcr_item"  # the chat message's place in the conversion; never leaves this module's callers
_CONVERTED = frozenset({"message", "function_call", "function_call_output"})


@dataclass
class ResponsesInput:
    """A Responses request's input as chat messages, with what is needed to turn them back."""

    messages: list[dict[str, Any]]
    items: list[Any]
    item_of: dict[int, int] = field(default_factory=dict)  # chat index -> item index
    before: dict[int, list[int]] = field(default_factory=dict)  # chat index -> unread items just before it
    after: list[int] = field(default_factory=list)  # unread items after the last chat message
    instructions: bool = False


def to_messages(input: Any, instructions: Any = None) -> ResponsesInput:
    """Chat messages for ``input`` (a string or a list of items) and ``instructions``."""
    items = [{"type": "message", "role": "user", "content": input}] if isinstance(input, str) else input
    if not isinstance(items, list):
        raise InvalidRequestError("input", f"expected a string or a list of items, got {type(input).__name__}")
    converted = ResponsesInput(messages=[], items=list(items), instructions=isinstance(instructions, str))
    if isinstance(instructions, str):
        converted.messages.append({"role": "system", "content": instructions, TAG: 0})
    waiting: list[int] = []
    for k, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidRequestError(f"input[{k}]", "expected an item object")
        kind = item.get("type", "message" if "role" in item else None)
        if kind not in _CONVERTED:
            waiting.append(k)
            continue
        index = len(converted.messages)
        converted.messages.append({**_message(item, kind, f"input[{k}]"), TAG: index})
        converted.item_of[index] = k
        if waiting:
            converted.before[index], waiting = waiting, []
    converted.after = waiting
    return converted


def _message(item: Mapping[str, Any], kind: str, where: str) -> dict[str, Any]:
    if kind == "function_call":
        call = {"name": item.get("name"), "arguments": item.get("arguments") or ""}
        return {"role": "assistant", "content": None,
                "tool_calls": [{"id": item.get("call_id"), "type": "function", "function": call}]}  # fmt: skip
    if kind == "function_call_output":
        output = item.get("output")
        content = output if isinstance(output, str) else _chat_parts(output, f"{where}.output")
        return {"role": "tool", "tool_call_id": item.get("call_id"), "content": content}
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequestError(f"{where}.role", f"expected user, assistant, system or developer, got {role!r}")
    given = item.get("content")
    return {"role": role, "content": given if isinstance(given, str) else _chat_parts(given, f"{where}.content")}


def _chat_parts(parts: Any, where: str) -> list[Any]:
    if not isinstance(parts, list):
        raise InvalidRequestError(where, "expected a string or a list of content parts")
    chat = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            chat.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):  # the URL guard reads it
            chat.append({"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail")}})
        else:
            chat.append(part)  # kept as it is (files, refusals, ids): the router does not read it
    return chat


def from_messages(routed: RoutedRequest, converted: ResponsesInput) -> tuple[list[Any], str | None]:
    """The routed messages as Responses input items, and the instructions."""
    folded = {
        i
        for c in routed.report.chunks
        if c.kind == "history" and c.action == "image"
        for i in range(c.message_index, c.message_index + c.messages)
    }
    items: list[Any] = []
    instructions: str | None = None
    flushed: set[int] = set()

    def flush(upto: int) -> None:
        for index in sorted(i for i in converted.before if i <= upto and i not in flushed):
            flushed.add(index)
            if index not in folded:  # unread items of a folded turn go with it
                items.extend(converted.items[k] for k in converted.before[index])

    for message in routed.messages:
        index = message.get(TAG)
        if index is not None:
            flush(index)
        if index == 0 and converted.instructions:
            instructions = _text_of(message.get("content"))
            continue
        if index is None:  # a message routing added: a tool batch's pages, a history block
            items.append(_item(message, None, unchanged=False))
            continue
        original = converted.items[converted.item_of[index]]
        items.append(_item(message, original, unchanged=message is converted.messages[index]))
    flush(len(converted.messages))
    items.extend(converted.items[k] for k in converted.after)
    return items, instructions


def _item(message: Mapping[str, Any], original: Any, *, unchanged: bool) -> Any:
    if unchanged:
        return original
    content = message.get("content")
    if message.get("role") == "tool" and isinstance(original, Mapping):
        return {**original, "output": content if isinstance(content, str) else _response_parts(content or [], "user")}
    role = message.get("role", "user")
    parts = content if isinstance(content, str) else _response_parts(content or [], role)
    if isinstance(original, Mapping) and original.get("type", "message") == "message":
        return {**original, "content": parts}
    return {"type": "message", "role": role, "content": parts}


def _response_parts(parts: Sequence[Any], role: str) -> list[Any]:
    text_type = "output_text" if role == "assistant" else "input_text"
    out = []
    for part in parts:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            out.append({"type": text_type, "text": part["text"]})
        elif kind == "image_url":
            image = part["image_url"]
            url, detail = (image.get("url"), image.get("detail")) if isinstance(image, Mapping) else (image, None)
            out.append({"type": "input_image", "image_url": url, "detail": detail or "auto"})
        else:
            out.append(part)
    return out


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n\n".join(p.get("text", "") for p in content or [] if isinstance(p, Mapping) and p.get("type") == "text")


def route_responses(router: Router, kwargs: dict[str, Any], *, model: str) -> tuple[dict[str, Any], RoutedRequest]:
    """A Responses call's keyword arguments with ``input`` (and ``instructions``) routed for ``model``;
    unchanged (the caller's own objects) when nothing went as an image."""
    converted = to_messages(kwargs.get("input"), kwargs.get("instructions"))
    routed = router.route(converted.messages, model=model)
    if not routed.pages:
        return kwargs, routed
    items, instructions = from_messages(routed, converted)
    sent = {**kwargs, "input": items}
    if converted.instructions:
        sent["instructions"] = instructions
    return sent, routed


def check_responses(router: Router, kwargs: dict[str, Any], *, model: str) -> None:
    """A bypassed Responses call still goes through the shape check and the URL guard."""
    converted = to_messages(kwargs.get("input"), kwargs.get("instructions"))
    router.check(converted.messages, model)
