"""The recall tool: the model asks for the exact source text of an imaged chunk and gets it.

Pixels can be misread; the source cannot. With ``recall: true`` in the policy, a request that has
imaged chunks gets one more tool, ``hcr_recall`` (a chunk id from an image label, plus a line range
or a search string). When the model calls it, the router answers from the chunk's source text and
calls the backend again with the answer, up to ``recall_rounds`` times, so the caller sees one
ordinary response. The caller's own tools keep working: a response that calls the caller's tools is
returned to the caller at once, with any ``hcr_recall`` calls in it removed (the model can ask again
once it has the caller's results). The last round is made without the tool, so it ends in an answer.

``Recall`` holds one request's rounds and knows both wire formats (OpenAI chat, through litellm;
Anthropic Messages, as the proxy receives them). The loops are ``complete`` / ``acomplete``, and
``stream`` / ``astream`` for OpenAI streams, which hold chunks back only until they show whether the
model is answering (passed on at once) or calling ``hcr_recall`` (a recall round, then the next call).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any

from router.models import RoutedRequest, RouteReport
from router.policy import Policy
from router.target import Wire

__all__ = [
    "RECALL_TOOL_NAME", "Recall", "ReportedStream", "StreamRound", "acomplete", "answer", "astream", "complete",
    "stream",
]  # fmt: skip

RECALL_TOOL_NAME = "hcr_recall"
_DESCRIPTION = (
    "Return the exact source text of context shown as an image. Image labels name each chunk, e.g. "
    "'[Context #3b6b65b33b rendered as an image ...]'. Give the chunk id and a 1-based line range "
    "('120-160') or a string to search for. Use it before copying hashes, ids, numbers or code exactly."
)
_PARAMETERS = {
    "type": "object",
    "properties": {
        "chunk": {"type": "string", "description": "the chunk id from the image label, e.g. 3b6b65b33b"},
        "lines": {"type": "string", "description": "a 1-based line range, e.g. '120-160', or one line"},
        "search": {"type": "string", "description": "return the lines that contain this exact string"},
    },
    "required": ["chunk"],
}
_MAX_ANSWER_CHARS = 12_000
_MAX_MATCHES = 40


def answer(arguments: Any, sources: Mapping[str, str]) -> str:
    """The exact text asked for, or a short explanation of what was wrong with the call."""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            return "hcr_recall: the arguments are not valid JSON"
    if not isinstance(arguments, Mapping):
        return "hcr_recall: expected an object with 'chunk'"
    chunk = str(arguments.get("chunk") or "").strip().lstrip("#")
    if chunk not in sources:
        return f"hcr_recall: no chunk #{chunk} in this request; chunks shown as images: " + ", ".join(
            f"#{c}" for c in sources
        )
    lines = sources[chunk].splitlines()
    search = arguments.get("search")
    if isinstance(search, str) and search:
        hits = [f"{n}: {line}" for n, line in enumerate(lines, 1) if search in line]
        if not hits:
            return f"#{chunk}: no line contains {search!r}"
        shown = _fit(hits[:_MAX_MATCHES])
        return f"#{chunk}: {len(hits)} lines contain {search!r} (line: text)\n" + "\n".join(shown)
    first, last = _line_range(arguments.get("lines"), len(lines))
    shown = _fit(lines[first - 1 : last])
    end = first + len(shown) - 1
    more = f"; {len(lines) - end} more lines follow" if end < len(lines) else ""
    return f"#{chunk} lines {first}-{end} of {len(lines)}, exactly as sent{more}:\n" + "\n".join(shown)


def _line_range(spec: Any, total: int) -> tuple[int, int]:
    text = str(spec or "").strip()
    try:
        if "-" in text:
            a, b = text.split("-", 1)
            first, last = int(a), int(b)
        elif text:
            first = last = int(text)
        else:
            first, last = 1, total
    except ValueError:
        first, last = 1, total
    first = min(max(first, 1), max(total, 1))
    return first, min(max(last, first), total)


def _fit(lines: list[str]) -> list[str]:
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > _MAX_ANSWER_CHARS and kept:
            break
        kept.append(line)
    return kept


class Recall:
    """One request's recall rounds on one wire format."""

    @classmethod
    def offered(cls, policy: Policy, routed: RoutedRequest, wire: Wire) -> Recall | None:
        """The recall of a routed request, when the policy offers it and something went as images."""
        if not policy.recall or not routed.sources:
            return None
        return cls(routed.sources, wire, policy.recall_rounds)

    def __init__(self, sources: Mapping[str, str], wire: Wire, max_rounds: int) -> None:
        self.sources, self.wire, self.max_rounds = dict(sources), wire, max_rounds
        self.rounds = 0
        self.asked: list[str] = []  # each call's arguments as the model sent them (the inspector shows them)
        self._recall_indexes: set[int] = set()  # tool-call indexes of hcr_recall in an OpenAI stream

    # --- the request ---------------------------------------------------------------------------------

    def prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call with ``hcr_recall`` among its tools (not where the caller forbade tools)."""
        if kwargs.get("tool_choice") in ("none", {"type": "none"}):
            return kwargs
        if self.wire == "anthropic":
            tool = {"name": RECALL_TOOL_NAME, "description": _DESCRIPTION, "input_schema": _PARAMETERS}
        else:
            tool = {"type": "function", "function": {"name": RECALL_TOOL_NAME, "description": _DESCRIPTION,
                                                     "parameters": _PARAMETERS}}  # fmt: skip
        return {**kwargs, "tools": [*(kwargs.get("tools") or []), tool]}

    def next_request(self, kwargs: dict[str, Any], response: Any) -> dict[str, Any] | None:
        """The next call when ``response`` only calls ``hcr_recall`` and rounds are left; else None."""
        calls = self._calls(response)
        ours = [c for c in calls if c[1] == RECALL_TOOL_NAME]
        if not ours or len(ours) < len(calls) or self.rounds >= self.max_rounds:
            return None
        self.rounds += 1
        self.asked += [(a if isinstance(a, str) else json.dumps(a, ensure_ascii=False))[:500] for _, _, a in ours]
        answers = [(call_id, answer(arguments, self.sources)) for call_id, _, arguments in ours]
        following = {**kwargs, "messages": [*kwargs["messages"], *self._continuation(response, answers)]}
        return self._without_tool(following) if self.rounds >= self.max_rounds else following

    def _without_tool(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The last round, where the model must answer. The tool stays defined (providers refuse tool
        calls in the history of a request without their tool); with no tools of the caller's, tool
        choice is "none"; otherwise a last call of ``hcr_recall`` is removed by ``finish``."""
        if any(_tool_name(t) != RECALL_TOOL_NAME for t in kwargs.get("tools") or []):
            return kwargs
        return {**kwargs, "tool_choice": {"type": "none"} if self.wire == "anthropic" else "none"}

    # --- wire formats ---------------------------------------------------------------------------------

    def _calls(self, response: Any) -> list[tuple[str, str, Any]]:
        """(id, name, arguments) of every tool call in ``response``."""
        if self.wire == "anthropic":
            blocks = _get(response, "content") or []
            return [(_get(b, "id"), _get(b, "name"), _get(b, "input")) for b in blocks if _get(b, "type") == "tool_use"]
        message = _get(_get(response, "choices")[0], "message")
        return [
            (_get(c, "id"), _get(_get(c, "function"), "name"), _get(_get(c, "function"), "arguments"))
            for c in _get(message, "tool_calls") or []
        ]

    def _continuation(self, response: Any, answers: list[tuple[str, str]]) -> list[dict[str, Any]]:
        if self.wire == "anthropic":
            content = [_plain(b) for b in _get(response, "content") or []]
            results = [{"type": "tool_result", "tool_use_id": i, "content": text} for i, text in answers]
            return [{"role": "assistant", "content": content}, {"role": "user", "content": results}]
        message = _get(_get(response, "choices")[0], "message")
        calls = []
        for call in _get(message, "tool_calls") or []:
            function = _get(call, "function")
            named = {"name": _get(function, "name"), "arguments": _get(function, "arguments")}
            calls.append({"id": _get(call, "id"), "type": "function", "function": named})
        assistant = {"role": "assistant", "content": _get(message, "content"), "tool_calls": calls}
        return [assistant, *({"role": "tool", "tool_call_id": i, "content": text} for i, text in answers)]

    def finish(self, response: Any) -> Any:
        """``response`` as the caller gets it: no ``hcr_recall`` calls left in it."""
        if self.wire == "anthropic":
            blocks = _get(response, "content") or []
            kept = [b for b in blocks if not _is_recall_block(b)]
            if len(kept) < len(blocks):
                stop = _get(response, "stop_reason")
                if stop == "tool_use" and not any(_get(b, "type") == "tool_use" for b in kept):
                    stop = "end_turn"
                if isinstance(response, dict):
                    return {**response, "content": kept, "stop_reason": stop}
                response.content, response.stop_reason = kept, stop
            return response
        choice = _get(response, "choices")[0]
        message = _get(choice, "message")
        calls = _get(message, "tool_calls") or []
        kept = [c for c in calls if _get(_get(c, "function"), "name") != RECALL_TOOL_NAME]
        if len(kept) < len(calls):
            message.tool_calls = kept or None
            if not kept and getattr(choice, "finish_reason", None) == "tool_calls":
                choice.finish_reason = "stop"
        return response

    # --- OpenAI streams -----------------------------------------------------------------------------

    def verdict(self, chunk: Any) -> str | None:
        """'pass' once the model is answering or calling the caller's tools, 'recall' once it calls
        ours, None while a chunk shows neither."""
        delta = _delta(chunk)
        if delta is None:
            return None
        for call in _get(delta, "tool_calls") or []:
            name = _get(_get(call, "function"), "name")
            if name == RECALL_TOOL_NAME:
                self._recall_indexes.add(_get(call, "index") or 0)
                return "recall"
            if name:
                return "pass"
        return "pass" if _get(delta, "content") else None

    def filtered(self, chunk: Any) -> Any:
        """``chunk`` without deltas of ``hcr_recall`` calls (a stream handed to the caller)."""
        delta = _delta(chunk)
        calls = _get(delta, "tool_calls") if delta is not None else None
        if not calls:
            return chunk
        for call in calls:
            if _get(_get(call, "function"), "name") == RECALL_TOOL_NAME:
                self._recall_indexes.add(_get(call, "index") or 0)
        kept = [c for c in calls if (_get(c, "index") or 0) not in self._recall_indexes]
        if len(kept) < len(calls):
            delta.tool_calls = kept or None
        return chunk


def complete(call: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any], recall: Recall) -> Any:
    kwargs = recall.prepare(kwargs)
    while True:
        response = call(kwargs)
        following = recall.next_request(kwargs, response)
        if following is None:
            return recall.finish(response)
        kwargs = following


async def acomplete(call: Callable[[dict[str, Any]], Awaitable[Any]], kwargs: dict[str, Any], recall: Recall) -> Any:
    kwargs = recall.prepare(kwargs)
    while True:
        response = await call(kwargs)
        following = recall.next_request(kwargs, response)
        if following is None:
            return recall.finish(response)
        kwargs = following


class StreamRound:
    """One round of a stream: items held back until ``verdict`` decides ('pass': the model answers or
    calls the caller's tools; 'recall': it calls ``hcr_recall``), then passed on through ``shown``
    (which may drop an item by returning None). Serves OpenAI chunks here and Anthropic events in
    ``recall_events``."""

    def __init__(self, verdict: Callable[[Any], str | None], shown: Callable[[Any], Any]) -> None:
        self.verdict, self.shown = verdict, shown
        self.decided: str | None = None
        self.held: list[Any] = []

    def take(self, item: Any) -> list[Any]:
        """What to pass on now that ``item`` has arrived."""
        if self.decided != "pass":
            self.held.append(item)
            self.decided = self.verdict(item) or self.decided
            if self.decided != "pass":
                return []
            released, self.held = self.held, []
        else:
            released = [item]
        return [out for out in map(self.shown, released) if out is not None]

    def following(self, recall: Recall, kwargs: dict[str, Any], assemble: Callable[[list[Any]], Any]) -> Any:
        """The next call when the round called ``hcr_recall`` (and may be answered), else None."""
        return recall.next_request(kwargs, assemble(self.held)) if self.decided == "recall" else None

    def rest(self) -> list[Any]:
        """What is still held when the round ends without another call."""
        return [out for out in map(self.shown, self.held) if out is not None]


def stream(call: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any], recall: Recall) -> Iterator[Any]:
    """An OpenAI-format stream (litellm's or the SDK's chunks); chunks are held back only while a round
    is undecided."""
    kwargs = recall.prepare(kwargs)
    while True:
        round_ = StreamRound(recall.verdict, recall.filtered)
        for chunk in call(kwargs):
            yield from round_.take(chunk)
        following = round_.following(recall, kwargs, _assembled)
        if following is None:
            yield from round_.rest()
            return
        kwargs = following


async def astream(
    call: Callable[[dict[str, Any]], Awaitable[Any]], kwargs: dict[str, Any], recall: Recall, first: Any = None
) -> AsyncIterator[Any]:
    """``stream`` for async calls (``litellm.acompletion``). ``first``: the first round's stream, already
    opened with ``recall.prepare(kwargs)`` (so a failing backend fails the request, not the stream)."""
    if first is None:
        kwargs = recall.prepare(kwargs)
    while True:
        round_ = StreamRound(recall.verdict, recall.filtered)
        opened, first = first if first is not None else await call(kwargs), None
        async for chunk in opened:
            for out in round_.take(chunk):
                yield out
        following = round_.following(recall, kwargs, _assembled)
        if following is None:
            for out in round_.rest():
                yield out
            return
        kwargs = following


def _assembled(chunks: list[Any]) -> dict[str, Any]:
    """The message a round's chunks spell out (its text and tool calls), as a chat completion."""
    content: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        delta = _delta(chunk)
        if delta is None:
            continue
        content.append(_get(delta, "content") or "")
        for call in _get(delta, "tool_calls") or []:
            entry = calls.setdefault(_get(call, "index") or 0, {"id": None, "name": "", "arguments": ""})
            function = _get(call, "function")
            entry["id"] = _get(call, "id") or entry["id"]
            entry["name"] += _get(function, "name") or ""
            entry["arguments"] += _get(function, "arguments") or ""
    tool_calls = [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for _, c in sorted(calls.items())
    ]
    message = {"role": "assistant", "content": "".join(content) or None, "tool_calls": tool_calls}
    return {"choices": [{"message": message}]}


class ReportedStream:
    """A stream made of recall rounds, iterable (sync or async, as made) with ``routing_report`` on it."""

    def __init__(self, chunks: Iterator[Any] | AsyncIterator[Any], report: RouteReport, recall: Recall) -> None:
        self._chunks, self.routing_report, self._recall = chunks, report, recall

    def __iter__(self) -> Iterator[Any]:
        assert isinstance(self._chunks, Iterator)
        yield from self._chunks
        self.routing_report.recall_rounds = self._recall.rounds

    async def __aiter__(self) -> AsyncIterator[Any]:
        assert isinstance(self._chunks, AsyncIterator)
        async for chunk in self._chunks:
            yield chunk
        self.routing_report.recall_rounds = self._recall.rounds

    # Used as the SDKs' streams are: ``with client.chat.completions.create(..., stream=True) as s``.
    def __enter__(self) -> ReportedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()

    async def __aenter__(self) -> ReportedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK object, a litellm object or a dict alike."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _delta(chunk: Any) -> Any:
    choices = _get(chunk, "choices")
    return _get(choices[0], "delta") if choices else None


def _tool_name(tool: Mapping[str, Any]) -> Any:
    return tool.get("name") or (tool.get("function") or {}).get("name")


def _plain(block: Any) -> dict[str, Any]:
    return dict(block) if isinstance(block, Mapping) else block.model_dump(exclude_none=True)


def _is_recall_block(block: Any) -> bool:
    return _get(block, "type") == "tool_use" and _get(block, "name") == RECALL_TOOL_NAME
