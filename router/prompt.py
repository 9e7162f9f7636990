"""Stage 4: build the mixed prompt from the original messages and the per-chunk outcome.

A message none of whose chunks became images is passed on as the very same object. Otherwise its
content becomes a list of parts in the original order: text chunks as text parts holding their exact
original text, and each rendered chunk as one short label followed by its pages as ``image_url``
parts with PNG data URLs. Providers accept no images in system or developer messages, so rendered
chunks from those move to the start of the first user message, labelled as system context, and the
system message keeps a pointer in their place. Every other field of every message (tool calls, names,
cache markers on untouched parts) is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from router.kinds import KINDS
from router.models import Chunk, Page
from router.providers.geometry import EncoderProfile

SYSTEM_POINTER = "[The rest of the system instructions are attached as images at the start of the first user message.]"
_SYSTEM_ROLES = ("system", "developer")


def label_for(chunk: Chunk, pages: int) -> str:
    """The short text that introduces a rendered chunk's pages (a document page's: its number)."""
    if chunk.kind == "page":
        return f"[page {chunk.page}]"
    what = f"{chunk.kind} ({chunk.language})" if chunk.language else chunk.kind
    source = "System context" if chunk.role in _SYSTEM_ROLES else "Context"
    span = "page 1 of 1" if pages == 1 else f"pages 1-{pages} of {pages}"
    legend = KINDS[chunk.kind].legend
    legend = f"; {legend}" if legend else ""
    return f"[{source} rendered as an image: {what}, {span}, about {chunk.text_tokens} text tokens{legend}]"


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
) -> list[Any]:
    """The routed messages. ``pages`` maps the index of each chunk sent as an image to its pages.

    ``make_image`` gives the wire format of an image part: OpenAI's by default, or Anthropic's.
    Anthropic text blocks have the shape of OpenAI text parts, so one builder serves both.
    ``replacements`` maps (message, part) of attached documents to the parts that replace them.
    """
    replacements = replacements or {}
    by_message: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        by_message.setdefault(chunk.message_index, []).append(chunk)
    routed: list[Any] = []
    relocated: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        own = by_message.get(i, [])
        replaced = any(m == i for m, _ in replacements)
        if not replaced and not any(c.index in pages for c in own):
            routed.append(message)
            continue
        system = message["role"] in _SYSTEM_ROLES
        content = message["content"]
        parts: list[dict[str, Any]] = []
        if isinstance(content, str):
            parts = _expand(own, pages, profile, system, relocated, {"type": "text"}, make_image)
        else:
            for j, part in enumerate(content):
                part_chunks = [c for c in own if c.part_index == j]
                if (i, j) in replacements:
                    parts.extend(replacements[(i, j)])
                elif part.get("type") == "text" and any(c.index in pages for c in part_chunks):
                    template = {k: v for k, v in part.items() if k not in ("text", "cache_control")}
                    expanded = _expand(part_chunks, pages, profile, system, relocated, template, make_image)
                    if "cache_control" in part and expanded:  # the marker moves to what replaces the part
                        expanded[-1] = {**expanded[-1], "cache_control": part["cache_control"]}
                    parts.extend(expanded)
                else:
                    parts.append(part)
        routed.append({**message, "content": _simplify(parts, system)})
    if relocated:
        routed = _prepend_to_first_user(routed, relocated)
    return routed


def _expand(
    chunks: Sequence[Chunk],
    pages: Mapping[int, list[Page]],
    profile: EncoderProfile,
    system: bool,
    relocated: list[dict[str, Any]],
    template: dict[str, Any],
    make_image: ImagePart,
) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        chunk_pages = pages.get(chunk.index)
        if chunk_pages is None:
            if parts and parts[-1].get("type") == "text" and "_joinable" in parts[-1]:
                parts[-1]["text"] += chunk.text
            else:
                parts.append({**template, "text": chunk.text, "_joinable": True})
            continue
        rendered = [{"type": "text", "text": label_for(chunk, len(chunk_pages))}]
        rendered += [make_image(page, profile) for page in chunk_pages]
        if system:
            relocated.extend(rendered)
            parts.append({**template, "text": SYSTEM_POINTER})
        else:
            parts.extend(rendered)
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
