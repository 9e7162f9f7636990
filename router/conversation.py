"""Where the text of a conversation lives, and where each piece stands in it.

Chunking needs more than message contents: a tool result is context exactly like a pasted document,
but it lives in an OpenAI ``tool`` message or inside an Anthropic ``tool_result`` block, it answers a
call whose tool name is in an earlier assistant message, and whether the model has replied since
decides whether it is still being acted on. This module reads that structure once per request:

- ``text_slots``: every place text lives, in request order: a message's string content, its text
  parts, and the content of tool results (string, or the text blocks of a block list), each with
  the role a policy sees (``tool`` for tool results on both wires), the tool's name, and the kind
  of the file the call read where its arguments name one (a ``.py`` read is code);
- ``positions``: per message, its age in messages and in user turns, whether the model has replied
  since, and whether it is the live turn (the question being asked now).

A tool result whose call cannot be found (no earlier assistant message made a call with its id) is
not a slot: the router does not understand that structure, so it passes unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.detect import kind_for_filename
from router.kinds import Kind
from router.models import Role

__all__ = ["Position", "TextSlot", "live_turn_index", "positions", "text_slots"]

_TOOL_ROLES = ("tool", "function")
_MAX_ARGUMENTS_CHARS = 65536


@dataclass(frozen=True)
class TextSlot:
    """One string of text in the request and the address that finds it again."""

    message_index: int
    part_index: int | None  # None: the message content is this string
    sub_index: int | None  # inside a tool_result block: None for string content, else the block
    role: Role  # what the policy sees: "tool" for every tool result
    text: str
    tool_name: str | None = None
    tool_call_id: str | None = None
    file_kind: tuple[Kind, str | None] | None = None  # the file the call read, when its arguments name one


@dataclass(frozen=True)
class _Call:
    name: str
    file_kind: tuple[Kind, str | None] | None


@dataclass(frozen=True)
class Position:
    age: int  # messages after this one
    turns_after: int  # user turns (messages with the user's own text) after this one
    answered: bool  # an assistant message follows: the model has seen this and replied
    live_turn: bool  # the last user turn: the question being asked now


def text_slots(messages: Sequence[Mapping[str, Any]]) -> list[TextSlot]:
    """Every routable string of text, in request order."""
    calls = _tool_calls(messages)
    slots: list[TextSlot] = []
    for i, message in enumerate(messages):
        role: Role = message["role"]
        content = message.get("content")
        if role in _TOOL_ROLES:
            call_id = message.get("tool_call_id") if role == "tool" else None
            call = calls.get(call_id) if isinstance(call_id, str) else None
            if call is None and role == "function" and isinstance(message.get("name"), str):
                call = _Call(message["name"], None)  # the legacy function role names its function
            if call is None:
                continue  # a result of no call we can see: pass it unchanged
            slots += _texts(i, content, role, call, call_id if isinstance(call_id, str) else None)
            continue
        if isinstance(content, str):
            slots.append(TextSlot(i, None, None, role, content))
            continue
        for j, part in enumerate(content or []):
            if part["type"] == "text":
                slots.append(TextSlot(i, j, None, role, part["text"]))
            elif part["type"] == "tool_result" and role == "user":
                use_id = part.get("tool_use_id")
                call = calls.get(use_id) if isinstance(use_id, str) else None
                if call is not None:
                    slots += _result_texts(i, j, part.get("content"), call, use_id)
    return slots


def _texts(i: int, content: Any, role: Role, call: _Call, call_id: str | None) -> list[TextSlot]:
    if isinstance(content, str):
        return [TextSlot(i, None, None, role, content, call.name, call_id, call.file_kind)]
    if isinstance(content, list):
        return [
            TextSlot(i, j, None, role, p["text"], call.name, call_id, call.file_kind)
            for j, p in enumerate(content)
            if p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
    return []


def _result_texts(i: int, j: int, content: Any, call: _Call, use_id: str) -> list[TextSlot]:
    """The text of one Anthropic ``tool_result`` block (string content, or its text blocks)."""
    if isinstance(content, str):
        return [TextSlot(i, j, None, "tool", content, call.name, use_id, call.file_kind)]
    if not isinstance(content, list):
        return []
    return [
        TextSlot(i, j, k, "tool", block["text"], call.name, use_id, call.file_kind)
        for k, block in enumerate(content)
        if isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]


def _tool_calls(messages: Sequence[Mapping[str, Any]]) -> dict[str, _Call]:
    """Call id -> the call, from OpenAI ``tool_calls`` and Anthropic ``tool_use`` blocks of assistant turns."""
    calls: dict[str, _Call] = {}
    for message in messages:
        if message.get("role") != "assistant":
            continue
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping) and isinstance(call.get("id"), str):
                calls[call["id"]] = _Call(str(function.get("name") or ""), _file_kind(function.get("arguments")))
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if block.get("type") == "tool_use" and isinstance(block.get("id"), str):
                calls[block["id"]] = _Call(str(block.get("name") or ""), _file_kind(block.get("input")))
    return calls


def _file_kind(arguments: Any) -> tuple[Kind, str | None] | None:
    """The kind of the file a call names in its arguments (``{"path": "src/app.py"}``), if any.

    A file read's result is that file: a ``.py`` read is code, whatever its first lines look like."""
    if isinstance(arguments, str) and len(arguments) <= _MAX_ARGUMENTS_CHARS:
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, Mapping):
        return None
    for key, value in arguments.items():
        named = any(word in str(key).lower() for word in ("path", "file", "url", "uri"))
        if named and isinstance(value, str) and len(value) < 1024:
            return kind_for_filename(value.split("?")[0].split("#")[0])
    return None


def _is_user_turn(message: Mapping[str, Any]) -> bool:
    """A user message with the user's own words (not only tool results, as Anthropic agents send)."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    if not isinstance(content, list):
        return True
    return any(part.get("type") != "tool_result" for part in content)


def live_turn_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the last user turn: the question being asked now."""
    for i in range(len(messages) - 1, -1, -1):
        if _is_user_turn(messages[i]):
            return i
    return None


def positions(messages: Sequence[Mapping[str, Any]]) -> list[Position]:
    live = live_turn_index(messages)
    found: list[Position] = []
    turns_after, answered = 0, False
    for i in range(len(messages) - 1, -1, -1):
        found.append(Position(len(messages) - 1 - i, turns_after, answered, i == live))
        message = messages[i]
        turns_after += _is_user_turn(message)
        answered = answered or message.get("role") == "assistant"
    return found[::-1]
