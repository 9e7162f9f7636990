"""Stage 4: build the mixed prompt from the original messages and the per-chunk outcome.

A message none of whose chunks became images is passed on as the very same object. Otherwise its
content becomes a list of parts in the original order: text chunks as text parts holding their exact
original text, and each rendered chunk as one short label followed by its pages as ``image_url``
parts with PNG data URLs. Providers accept no images in system or developer messages, so rendered
chunks from those move to the start of the first user message, labelled as system context, and the
system message keeps a pointer in their place. Tool results: an Anthropic ``tool_result`` block takes
images, so its pages go inside it, in place; an OpenAI ``tool`` message takes none, so it keeps a
one-line stub naming the result's id, and the pages follow the batch of tool messages in one user
message. A history block (closed turns folded by ``router.history``) becomes one user message of
pages in place of its turns. An imaged chunk's factsheet (its exact strings) goes as text right
after its pages, or in the tool message beside the stub. Every other field of every message (tool
calls and their ids, names, ``is_error``, cache markers, moved to the part that now carries their
content) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from router.kinds import KINDS
from router.models import Chunk, Page
from router.providers.geometry import EncoderProfile

SYSTEM_POINTER = "[The rest of the system instructions are attached as images at the start of the first user message.]"
_SYSTEM_ROLES = ("system", "developer")
_TOOL_ROLES = ("tool", "function")


def label_for(chunk: Chunk, pages: int) -> str:
    """The short text that introduces a rendered chunk's pages (a document page's: its number).

    It names the chunk's content id, the same in every request that carries the same text, so the
    model can cite it and the recall tool can return the exact source."""
    if chunk.kind == "page":
        return f"[page {chunk.page}]"
    what = f"{chunk.kind} ({chunk.language})" if chunk.language else chunk.kind
    if chunk.role in _TOOL_ROLES:
        source = f"Tool result #{chunk.id} of {chunk.tool_name}" if chunk.tool_name else f"Tool result #{chunk.id}"
    else:
        source = f"{'System context' if chunk.role in _SYSTEM_ROLES else 'Context'} #{chunk.id}"
    span = "page 1 of 1" if pages == 1 else f"pages 1-{pages} of {pages}"
    legend = KINDS[chunk.kind].legend
    legend = f"; {legend}" if legend else ""
    return f"[{source} rendered as an image: {what}, {span}, about {chunk.text_tokens} text tokens{legend}]"


def stub_for(chunk: Chunk, pages: int) -> str:
    """What an OpenAI ``tool`` message keeps of an imaged result: the images travel in the next user
    message, because OpenAI chat takes no images in tool messages."""
    span = "1 image" if pages == 1 else f"{pages} images"
    return f"[Tool result #{chunk.id} ({chunk.kind}) is shown as {span} in the next user message.]"


def added_texts(chunk: Chunk, pages: int, wire: str) -> list[str]:
    """Every text the prompt adds for an imaged chunk (its label; for OpenAI tool results the stub too)."""
    texts = [label_for(chunk, pages)]
    if wire == "openai" and chunk.role in _TOOL_ROLES:
        texts.append(stub_for(chunk, pages))
    return texts


def image_part(page: Page, profile: EncoderProfile) -> dict[str, Any]:
    """An OpenAI Chat Completions image part."""
    image_url: dict[str, Any] = {"url": page.data_url}
    if profile.detail:
        image_url["detail"] = profile.detail
    return {"type": "image_url", "image_url": image_url}


def anthropic_image_block(page: Page, profile: EncoderProfile) -> dict[str, Any]:
    """An Anthropic Messages image block."""
    data = page.data_url.split(",", 1)[1]
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}


ImagePart = Callable[[Page, EncoderProfile], dict[str, Any]]


def build_messages(
    messages: Sequence[Mapping[str, Any]],
    chunks: Sequence[Chunk],
    pages: Mapping[int, list[Page]],
    profile: EncoderProfile,
    make_image: ImagePart = image_part,
    replacements: Mapping[tuple[int, int], list[dict[str, Any]]] | None = None,
    facts: Mapping[int, str] | None = None,
) -> list[Any]:
    """The routed messages. ``pages`` maps the index of each chunk sent as an image to its pages.

    ``make_image`` gives the wire format of an image part: OpenAI's by default, or Anthropic's.
    Anthropic text blocks have the shape of OpenAI text parts, so one builder serves both.
    ``replacements`` maps (message, part) of attached documents to the parts that replace them;
    ``facts`` maps an imaged chunk to the factsheet sent as text right after its pages.
    """
    place = _Placer(pages, profile, make_image, facts or {})
    replacements = replacements or {}
    by_message: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        by_message.setdefault(chunk.message_index, []).append(chunk)
    routed: list[Any] = []
    folded_until = -1
    for i, message in enumerate(messages):
        own = by_message.get(i, [])
        if i <= folded_until:
            continue
        block = next((c for c in own if c.messages > 1 and c.index in pages), None)
        if block is not None:  # a history block: its turns become one user message of pages
            routed.append({"role": "user", "content": place.expand([block], "user", {"type": "text"})})
            folded_until = i + block.messages - 1
            continue
        replaced = any(m == i for m, _ in replacements)
        if replaced or any(c.index in pages for c in own):
            routed.append(place.message(i, message, own, replacements))
        else:
            routed.append(message)
        following = messages[i + 1].get("role") if i + 1 < len(messages) else None
        if place.carried and following not in _TOOL_ROLES:
            # Pages of OpenAI tool results follow their batch of tool messages as one user message.
            routed.append({"role": "user", "content": place.carried})
            place.carried = []
    if place.relocated:
        routed = _prepend_to_first_user(routed, place.relocated)
    return routed


class _Placer:
    """Puts each chunk's parts where its provider accepts them, for one request."""

    def __init__(
        self, pages: Mapping[int, list[Page]], profile: EncoderProfile, make_image: ImagePart, facts: Mapping[int, str]
    ) -> None:
        self.pages, self.profile, self.make_image, self.facts = pages, profile, make_image, facts
        self.relocated: list[dict[str, Any]] = []  # system context, for the first user message
        self.carried: list[dict[str, Any]] = []  # OpenAI tool results' pages, for the next user message

    def message(
        self,
        i: int,
        message: Mapping[str, Any],
        own: list[Chunk],
        replacements: Mapping[tuple[int, int], list[dict[str, Any]]],
    ) -> dict[str, Any]:
        role = message["role"]
        content = message["content"]
        if isinstance(content, str):
            parts = self.expand(own, role, {"type": "text"})
            if role in _TOOL_ROLES:  # tool content stays a string, the form every provider takes
                return {**message, "content": "\n\n".join(p["text"] for p in parts)}
            return {**message, "content": _simplify(parts, role in _SYSTEM_ROLES)}
        parts = []
        for j, part in enumerate(content):
            part_chunks = [c for c in own if c.part_index == j]
            if (i, j) in replacements:
                parts.extend(replacements[(i, j)])
            elif not any(c.index in self.pages for c in part_chunks):
                parts.append(part)
            elif part.get("type") == "tool_result":
                parts.append(self.tool_result(part, part_chunks))
            else:
                parts.extend(self.replace_text(part, part_chunks, role))
        return {**message, "content": _simplify(parts, role in _SYSTEM_ROLES)}

    def tool_result(self, block: Mapping[str, Any], chunks: list[Chunk]) -> dict[str, Any]:
        """An Anthropic tool result keeps its id and flags; its text becomes its pages, in place."""
        content = block["content"]
        if isinstance(content, str):
            return {**block, "content": self.expand(chunks, "user", {"type": "text"})}
        blocks: list[dict[str, Any]] = []
        for k, inner in enumerate(content):
            inner_chunks = [c for c in chunks if c.sub_index == k]
            if any(c.index in self.pages for c in inner_chunks):
                blocks.extend(self.replace_text(inner, inner_chunks, "user"))
            else:
                blocks.append(inner)
        return {**block, "content": blocks}

    def replace_text(self, part: Mapping[str, Any], chunks: list[Chunk], role: str) -> list[dict[str, Any]]:
        template = {k: v for k, v in part.items() if k not in ("text", "cache_control")}
        expanded = self.expand(chunks, role, template)
        if "cache_control" in part and expanded:  # the marker moves to what replaces the part
            expanded[-1] = {**expanded[-1], "cache_control": part["cache_control"]}
        return expanded

    def expand(self, chunks: Sequence[Chunk], role: str, template: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for chunk in chunks:
            chunk_pages = self.pages.get(chunk.index)
            if chunk_pages is None:
                if parts and parts[-1].get("type") == "text" and "_joinable" in parts[-1]:
                    parts[-1]["text"] += chunk.text
                else:
                    parts.append({**template, "text": chunk.text, "_joinable": True})
                continue
            rendered = [{"type": "text", "text": label_for(chunk, len(chunk_pages))}]
            rendered += [self.make_image(page, self.profile) for page in chunk_pages]
            facts = [{**template, "text": self.facts[chunk.index]}] if chunk.index in self.facts else []
            if role in _SYSTEM_ROLES:
                self.relocated.extend(rendered + facts)
                parts.append({**template, "text": SYSTEM_POINTER})
            elif role in _TOOL_ROLES:
                self.carried.extend(rendered)
                parts += [{**template, "text": stub_for(chunk, len(chunk_pages))}, *facts]
            else:
                parts += rendered + facts
        for part in parts:
            part.pop("_joinable", None)
        # A text part of only whitespace carries nothing a model reads; drop it rather than send it.
        return [p for p in parts if p.get("type") != "text" or p["text"].strip()]


def _simplify(parts: list[dict[str, Any]], system: bool) -> str | list[dict[str, Any]]:
    """System content that is all plain text goes back to a string, the form every provider takes."""
    if system and all(set(p) == {"type", "text"} and p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"].strip() for p in parts)
    return parts


def _prepend_to_first_user(messages: list[Any], relocated: list[dict[str, Any]]) -> list[Any]:
    for i, message in enumerate(messages):
        if message.get("role") == "user":
            content = message.get("content")
            existing = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
            messages = list(messages)
            messages[i] = {**message, "content": relocated + existing}
            return messages
    raise ValueError("rendered system context needs a user message to carry it")  # core guards this case
