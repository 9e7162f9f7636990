"""History blocks: closed turns of a long chat, drawn together once there are enough of them.

A long chat of short turns never saves anything chunk by chunk: every message is under the policy's
``min_tokens``. So runs of old, short, plain turns are folded into one chunk of kind ``history``, a
transcript ("User: ... / Assistant: ...") that the policy can send as pages like any other chunk.

A block is whole closed turns (it starts at a user message and ends at an assistant message), every
message in it at least ``min_turns_after`` user turns old, short (under the policy's ``min_tokens``),
plain text (no tool calls or results, images, files or cache markers), and it is cut as soon as its
text reaches ``block_tokens``. Blocks are cut greedily from the start of the conversation, so as the
chat grows the blocks already cut stay exactly as they were: the provider's prompt cache is broken
once per new block, not every turn. An imaged block replaces its messages with one user message
holding its label and pages (``router.prompt``); a block that goes as text leaves them untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from router.chunking import detect_script
from router.conversation import Position, positions
from router.models import Chunk
from router.tokens import count_tokens

__all__ = ["HistorySettings", "fold_history"]

_SPEAKERS = {"user": "User", "assistant": "Assistant"}


class HistorySettings(BaseModel):
    """The policy's ``history:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    block_tokens: int = Field(2000, ge=0, description="a block of closed turns is cut at this many text tokens; 0: off")
    min_turns_after: int = Field(2, ge=1, description="only turns at least this many user turns old go into blocks")


def fold_history(
    messages: Sequence[Mapping[str, Any]], chunks: list[Chunk], settings: HistorySettings, min_tokens: int, model: str
) -> list[Chunk]:
    """``chunks`` with the chunks of each history block replaced by one ``history`` chunk, re-indexed."""
    if not settings.block_tokens:
        return chunks
    by_message: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        by_message.setdefault(chunk.message_index, []).append(chunk)
    blocks = _blocks(messages, by_message, positions(messages), settings, min_tokens)
    if not blocks:
        return chunks
    starts = {start: end for start, end in blocks}
    folded: list[Chunk] = []
    skip_until = -1
    for i in range(len(messages)):
        if i <= skip_until:
            continue
        if i in starts:
            end = starts[i]
            members = [c for m in range(i, end + 1) for c in by_message.get(m, [])]
            folded.append(_block_chunk(messages, i, end, members, model))
            skip_until = end
        else:
            folded += by_message.get(i, [])
    return [c.model_copy(update={"index": n}) for n, c in enumerate(folded)]


def _blocks(
    messages: Sequence[Mapping[str, Any]],
    by_message: Mapping[int, list[Chunk]],
    where: Sequence[Position],
    settings: HistorySettings,
    min_tokens: int,
) -> list[tuple[int, int]]:
    blocks: list[tuple[int, int]] = []
    run_start: int | None = None
    tokens = 0
    for i, message in enumerate(messages):
        own = by_message.get(i, [])
        size = sum(c.text_tokens for c in own)
        eligible = _plain_turn(message) and where[i].turns_after >= settings.min_turns_after and 0 < size < min_tokens
        if not eligible:
            run_start, tokens = None, 0
            continue
        if run_start is None:
            if message["role"] != "user":
                continue  # a block starts with the user's turn
            run_start = i
        tokens += size
        if message["role"] == "assistant" and tokens >= settings.block_tokens:
            blocks.append((run_start, i))
            run_start, tokens = None, 0
    return blocks


def _plain_turn(message: Mapping[str, Any]) -> bool:
    """A user or assistant message of plain text only: nothing a block could not carry over."""
    if message.get("role") not in _SPEAKERS or message.get("tool_calls") or message.get("function_call"):
        return False
    if {k for k in message if not k.startswith("_hcr")} - {"role", "content", "name"}:  # (_hcr: our own tags)
        return False
    content = message.get("content")
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(set(p) == {"type", "text"} and p["type"] == "text" for p in content)


def _block_chunk(
    messages: Sequence[Mapping[str, Any]], start: int, end: int, members: list[Chunk], model: str
) -> Chunk:
    turns = []
    for message in messages[start : end + 1]:
        content = message["content"]
        text = content if isinstance(content, str) else "\n\n".join(p["text"] for p in content)
        turns.append(f"{_SPEAKERS[message['role']]}: {text.strip()}")
    transcript = "\n\n".join(turns)
    first = members[0]
    return first.model_copy(
        update={
            "part_index": None, "sub_index": None, "start": 0, "end": len(transcript), "role": "user",
            "live_turn": False, "tool_name": None, "kind": "history", "language": None, "text": transcript,
            "chars": len(transcript), "messages": end - start + 1, "script": detect_script(transcript),
            # What the block replaces, counted as it was sent; the speaker names are drawn, not sent.
            "text_tokens": sum(c.text_tokens for c in members) or count_tokens(transcript, model),
        }
    )  # fmt: skip
