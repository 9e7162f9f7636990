"""Stage 1: validate the chat messages and cut their text into chunks.

A message that mixes a short question with a pasted document is split by structure (fenced code,
markdown tables, JSON, logs, HTML, paragraphs) so the question can stay text while the document is
rendered; in the live turn, only the question is live. Markdown is only what is markdown (headings,
bullets, quotes, links, numbered lists of two items or more), and an indented block is code only
when its lines carry code's punctuation: a licence's indented clauses are prose. Short prose
paragraphs at the head or tail of a message become chunks of their own; the structured middle
becomes one chunk whose kind is that of its blocks; mixed blocks are ``markdown`` where something
says markdown (a heading, a list, a fence, a table), otherwise preformatted ``text``.
Chunk spans tile the text exactly, so text chunks re-assemble into the original string.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router._digest_cache import DigestCache
from router.conversation import positions, text_slots
from router.detect import detect_kind
from router.errors import InvalidRequestError
from router.models import Chunk, Kind, Role, Script
from router.tokens import count_tokens

ROLES: frozenset[str] = frozenset(Role.__args__)  # type: ignore[attr-defined]
# A head or tail paragraph is a question or instruction, not document, when it is short, or when it
# asks or introduces ("?" / ":") and is not long. Essay paragraphs are longer than either bound.
_QUESTION_SHORT_CHARS = 300
_QUESTION_MAX_CHARS = 1200
_PEEL_MAX = 2
_SCRIPT_SAMPLE = 20000
_SPLITS: DigestCache[list[tuple[Kind, int, int, str | None]]] = DigestCache(max_entries=1024)

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LOG_LINE = re.compile(
    r"^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{2}:\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}"
    r"|(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL)\b)"
)
_HTML_START = re.compile(r"^\s*<(!doctype|[a-z][a-z0-9-]*)[\s>/]", re.IGNORECASE)
# Markdown is what is markdown: a heading, a bullet, a quote, a link, or a numbered list of two items or
# more. A lone "0. Definitions." is a licence's section title, not a list.
_MARKDOWN = re.compile(r"^ {0,3}(#{1,6}\s|[-*+]\s|>\s?)|\[[^\]\n]+\]\([^)\s]+\)", re.MULTILINE)
_NUMBERED = re.compile(r"^ {0,3}\d+[.)]\s", re.MULTILINE)
_CODE_MARKS = re.compile(r"\w\(|[{}=]|->|::|[;:{]\s*$|^\s*(?:#|//|--|\*|@)|\b(?:def|return|var|let|const|import)\b")
_LETTER = re.compile(r"\w")
_CJK = re.compile(r"[\u2e80-\u2fdf\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


# part type -> the field that carries its payload, and that field's type
_PART_PAYLOADS: dict[str, tuple[str, Any]] = {
    "image_url": ("image_url", (str, Mapping)),
    "file": ("file", Mapping),
    "input_audio": ("input_audio", Mapping),
    "image": ("source", Mapping),
    "document": ("source", Mapping),
}
_SHAPE_NAMES = {(str, Mapping): "a URL string or an object with 'url'", Mapping: "an object"}


@dataclass
class _Block:
    kind: Kind
    start: int
    end: int
    markdown: bool = False
    language: str | None = None
    fenced: bool = False


def validate_messages(messages: Any) -> list[Mapping[str, Any]]:
    """Check the shape the router relies on; raise with the message index and field otherwise."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise InvalidRequestError("messages", f"expected a list of message objects, got {type(messages).__name__}")
    if not messages:
        raise InvalidRequestError("messages", "the list is empty")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise InvalidRequestError(where, f"expected an object with 'role', got {type(message).__name__}")
        role = message.get("role")
        if role not in ROLES:
            raise InvalidRequestError(f"{where}.role", f"expected one of {sorted(ROLES)}, got {role!r}")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise InvalidRequestError(
                f"{where}.content",
                f"expected a string, a list of parts or null, got {type(content).__name__}",
            )
        for j, part in enumerate(content):
            if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
                raise InvalidRequestError(f"{where}.content[{j}]", "expected a content part object with a 'type'")
            if part["type"] == "text" and not isinstance(part.get("text"), str):
                raise InvalidRequestError(f"{where}.content[{j}].text", "a text part needs a string 'text'")
            if part["type"].endswith("_embeds"):
                # Embeddings reach the model's engine unchecked (vLLM: "only for trusted users"); only the
                # router's own local encoder makes them.
                raise InvalidRequestError(
                    f"{where}.content[{j}].type", f"{part['type']!r} parts are not taken from callers"
                )
            _check_part_payload(part, f"{where}.content[{j}]")
    return list(messages)


def _check_part_payload(part: Mapping[str, Any], where: str) -> None:
    """Parts that carry data hold it in an object of a known shape (``{"type": "file", "file": "abc"}`` is refused)."""
    if part["type"] not in _PART_PAYLOADS:
        return
    field, shape = _PART_PAYLOADS[part["type"]]
    value = part.get(field)
    if not isinstance(value, shape):
        raise InvalidRequestError(f"{where}.{field}", f"expected {_SHAPE_NAMES[shape]}, got {type(value).__name__}")
    if part["type"] == "image_url" and isinstance(value, Mapping) and not isinstance(value.get("url"), str):
        raise InvalidRequestError(f"{where}.image_url.url", "expected a URL string")


def chunk_messages(messages: Sequence[Mapping[str, Any]], model: str) -> list[Chunk]:
    """Every text span of every message and tool result, as chunks in request order."""
    messages = validate_messages(messages)
    where = positions(messages)
    chunks: list[Chunk] = []
    for slot in text_slots(messages):
        at = where[slot.message_index]
        spans = split_text(slot.text, peel=slot.role not in ("tool", "function"))
        if slot.file_kind is not None and spans:  # a file read is that file, whole
            spans = [(slot.file_kind[0], 0, len(slot.text), slot.file_kind[1])]
        for kind, whole_start, whole_end, language in spans:
            whole = slot.text[whole_start:whole_end]
            # Of a live message split around a pasted document, the question is live, not the document.
            asks = len(spans) == 1 or (kind == "prose" and _asks(whole.strip()))
            for a, b in parts_of(kind, whole):  # a very long document: parts drawn apart, refused apart
                start, end, span = whole_start + a, whole_start + b, whole[a:b]
                chunks.append(
                    Chunk(
                        index=len(chunks),
                        message_index=slot.message_index,
                        part_index=slot.part_index,
                        sub_index=slot.sub_index,
                        start=start,
                        end=end,
                        role=slot.role,
                        age=at.age,
                        turns_after=at.turns_after,
                        answered=at.answered,
                        live_turn=at.live_turn and slot.role == "user" and asks,
                        tool_name=slot.tool_name,
                        kind=kind,
                        language=language,
                        script=detect_script(span),
                        text=span,
                        chars=len(span),
                        text_tokens=count_tokens(span, model),
                    )
                )
    return chunks


# About 32k tokens of English; longer texts are drawn in parts, each refused or sent as text on its own.
# Where a family bills whole tiles or images, each part pays for its own part-filled last page: in
# parts of 32k characters the 237k characters of Debian's licences billed 9.7% more image tokens than
# drawn whole on gpt-4o and 17.6% more on Gemini 2 (dense); in parts of 128k, 3.2% and 5.9% then, and
# 8.3% and 6.3% since paragraphs are indented (the whole is smaller): under a page a part boundary.
MAX_CHUNK_CHARS = 128_000
# Kinds whose text can be cut at a line: not diffs (hunks), terminal output (escape state), tables.
_SPLITTABLE = frozenset({"prose", "markdown", "code", "json", "log", "text", "config", "trace", "html"})


def parts_of(kind: str, text: str) -> list[tuple[int, int]]:
    """(start, end) parts of a span, each as full as ``MAX_CHUNK_CHARS`` allows: cut at the last blank
    line before a part would pass it (in kinds other than prose and markdown, at a line where no blank
    line comes in its last quarter), never inside a markdown code fence. One part for short spans and
    for kinds that are not cut.

    Full parts are the fewest, and each pays for its own part-filled last page: cut at the first
    blank line past three quarters of the limit, the 231k characters of the 50k-token licences were
    three parts, and on gpt-4o 6.58x at ``dense`` against 6.89x in two; nine stdlib modules 2.63x
    against 2.90x. A part is cut where it is full, not where the whole ends, so text appended to a
    span leaves its earlier parts, and their cached pages, as they were."""
    if len(text) <= MAX_CHUNK_CHARS or kind not in _SPLITTABLE:
        return [(0, len(text))]
    flow = kind in ("prose", "markdown")
    cuts, start, offset, fenced, blank_cut = [], 0, 0, False, None
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and offset - start + len(line) > MAX_CHUNK_CHARS and len(text) - start > MAX_CHUNK_CHARS:
            cut = None
            if blank_cut is not None and blank_cut - start >= MAX_CHUNK_CHARS * 3 // 4:
                cut = blank_cut
            elif not flow and offset > start:  # a log or code with no blank line near: cut at a line
                cut = offset
            if cut is not None:
                cuts.append(cut)
                start, blank_cut = cut, None
        offset += len(line)
        if not fenced and not line.strip():
            blank_cut = offset
    edges = [0, *cuts, len(text)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def split_text(text: str, *, peel: bool = True) -> list[tuple[Kind, int, int, str | None]]:
    """(kind, start, end, language) spans that tile ``text``; empty for blank text.

    ``peel``: short prose paragraphs at the head and tail become chunks of their own (a question
    around a pasted document); off for tool results, which ask nothing."""
    return _SPLITS.get(f"split|{peel}", text, lambda: _split(text, peel))


def _split(text: str, peel: bool = True) -> list[tuple[Kind, int, int, str | None]]:
    whole = detect_kind(text)  # tool output (a diff, a CSV, a config, ...) is one chunk, drawn as printed
    if whole is not None:
        return [(whole[0], 0, len(text), whole[1])]
    blocks = _blocks(text)
    if not blocks:
        return []
    head: list[_Block] = []
    tail: list[_Block] = []
    while peel and len(blocks) > 1 and len(head) < _PEEL_MAX and _is_question(text, blocks[0]):
        head.append(blocks.pop(0))
    while peel and len(blocks) > 1 and len(tail) < _PEEL_MAX and _is_question(text, blocks[-1]):
        tail.insert(0, blocks.pop())
    groups: list[list[_Block]] = [[b] for b in head] + [blocks] + [[b] for b in tail]
    spans: list[tuple[Kind, int, int, str | None]] = []
    for n, group in enumerate(groups):
        start = 0 if n == 0 else group[0].start
        end = len(text) if n == len(groups) - 1 else groups[n + 1][0].start
        # Only the structured middle can be tool output; peeled head and tail paragraphs are questions.
        middle = n == len(head) and len(groups) > 1
        kind, language = (detect_kind(text[start:end]) if middle else None) or _group_kind(group)
        spans.append((kind, start, end, language))
    return spans


def detect_script(text: str) -> Script:
    if len(text) > _SCRIPT_SAMPLE:  # an even sample is as good as every character for a share
        text = text[:: len(text) // _SCRIPT_SAMPLE]
    letters = len(_LETTER.findall(text))  # regex scans run in C: this is on every request's path
    if not letters:
        return "latin"
    share = len(_CJK.findall(text)) / letters
    return "cjk" if share > 0.5 else "mixed" if share > 0.05 else "latin"


def _is_question(text: str, block: _Block) -> bool:
    if block.kind != "prose" or block.markdown:
        return False
    return _asks(text[block.start : block.end].strip())


def _asks(paragraph: str) -> bool:
    """A question or an instruction: short, or not long and asking or introducing."""
    return len(paragraph) <= _QUESTION_SHORT_CHARS or (
        len(paragraph) <= _QUESTION_MAX_CHARS and paragraph.endswith(("?", ":", "？", "：", "。"))
    )


def _group_kind(group: list[_Block]) -> tuple[Kind, str | None]:
    kinds = {b.kind for b in group}
    if len(kinds) == 1 and not any(b.markdown for b in group):
        kind = group[0].kind
        languages = {b.language for b in group}
        return kind, languages.pop() if len(languages) == 1 else None
    if kinds <= {"log", "prose"} and "log" in kinds and sum(b.kind == "log" for b in group) > len(group) / 2:
        return "log", None
    if any(b.markdown or b.fenced or b.kind == "table" for b in group):
        return "markdown", None
    return "text", None  # mixed, and nothing says markdown: drawn as it is, never reflowed as markdown


def _blocks(text: str) -> list[_Block]:
    stripped = text.strip()
    if not stripped:
        return []
    if stripped[0] in "[{" and _is_json(stripped):
        offset = text.index(stripped[0])
        return [_Block("json", offset, offset + len(stripped))]
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        fence = _FENCE.match(line)
        if fence:
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].lstrip().startswith(marker):
                j += 1
            j = min(j, len(lines) - 1)
            blocks.append(_Block("code", starts[i], starts[j + 1], language=fence.group(2) or None, fenced=True))
            i = j + 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]):
            j = i + 2
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                j += 1
            blocks.append(_Block("table", starts[i], starts[j]))
            i = j
            continue
        j = i + 1
        while (
            j < len(lines)
            and lines[j].strip()
            and not _FENCE.match(lines[j])
            and not ("|" in lines[j] and j + 1 < len(lines) and _TABLE_SEP.match(lines[j + 1]))
        ):
            j += 1
        blocks.append(_classify_paragraph(text, starts[i], starts[j]))
        i = j
    return blocks


def _classify_paragraph(text: str, start: int, end: int) -> _Block:
    para = text[start:end]
    lines = [line for line in para.splitlines() if line.strip()]
    stripped = para.strip()
    if stripped[0] in "[{" and _is_json(stripped):
        return _Block("json", start, end)
    if len(lines) >= 2 and sum(bool(_LOG_LINE.match(line)) for line in lines) >= len(lines) / 2:
        return _Block("log", start, end)
    if _HTML_START.match(lines[0]) and "</" in para:
        return _Block("html", start, end)
    if len(lines) >= 2 and all(line.startswith(("    ", "\t")) for line in lines) and _reads_as_code(lines):
        return _Block("code", start, end)
    markdown = bool(_MARKDOWN.search(para)) or len(_NUMBERED.findall(para)) >= 2
    return _Block("prose", start, end, markdown=markdown)


def _reads_as_code(lines: list[str]) -> bool:
    """An indented block is code when its lines carry code's punctuation; a licence's indented
    clauses ("a) The work must carry prominent notices ...") are sentences."""
    return sum(bool(_CODE_MARKS.search(line)) for line in lines) >= len(lines) / 3


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
