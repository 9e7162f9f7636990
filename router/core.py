"""The Router: one request flows one way through the stages.

    url_guard.check_urls -> chunking.chunk_messages (message text and tool results, placed by
    conversation) -> for each chunk, memory (sent as an image before?) or policy.decide ->
    route_chunk.route_chunk (render -> fidelity guard -> label, factsheet -> check_saving); attachments
    (document pages through the same routine) -> image limits -> prompt.build_messages -> report

The request's target (model, encoder family, vision, density, wire, limits) is resolved once
(``router.target``). ``Router.completion`` then calls the backend through litellm
(``router.integrations.completion``). A request the router cannot improve passes unchanged; a chunk
that cannot be rendered goes as text.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from router.attachments import Attachments, route_attachments
from router.cache_gate import cache_prices, cached_chunks, gate
from router.chunking import chunk_messages, validate_messages
from router.density_names import DensityName
from router.errors import InvalidRequestError
from router.fidelity.guard import FidelityGuard
from router.history import fold_history
from router.memory import DecisionMemory
from router.models import Chunk, ChunkReport, Decision, Page, Rendering, RoutedRequest
from router.policy import Policy
from router.prompt import anthropic_image_block, build_messages, image_part
from router.provider_count import recount
from router.render.chunks import RenderTarget, render_chunk
from router.render.density import Density
from router.report import build_report
from router.route_chunk import route_chunk
from router.target import Target, Wire, resolve_target
from router.url_guard import check_urls

__all__ = ["Router"]

_MESSAGE_PATH = re.compile(r"^messages\[(\d+)\]")


class Router:
    """Routes chat requests into mixed text/image prompts and calls any backend through litellm.

    >>> router = Router()                          # the shipped default policy
    >>> routed = router.route(messages, model="claude-sonnet-4-6")
    >>> routed.messages, routed.report.tokens_after
    >>> response = router.completion(model="gpt-4o", messages=messages)
    >>> response.routing_report
    """

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        allowed_image_hosts: frozenset[str] = frozenset(),
        block_private_image_hosts: bool = False,
    ) -> None:
        self.policy = policy or Policy.builtin("default")
        self.allowed_image_hosts = frozenset(h.lower() for h in allowed_image_hosts)
        self.block_private_image_hosts = block_private_image_hosts
        self.fidelity = FidelityGuard(self.policy.fidelity)  # read-back guard; ``.stats``, ``.wait()``
        self.memory = DecisionMemory()  # chunks sent as images before stay images: the prompt cache stays warm
        # litellm (model facts, tokenizers, prices) is loaded with the first Router, not by the first
        # request: ``route_ms`` then measures routing, and a cold start shows up where it belongs.
        import router._litellm  # noqa: F401

    @classmethod
    def from_yaml(cls, path: str | Path) -> Router:
        return cls(Policy.from_yaml(path))

    # --- routing ---------------------------------------------------------------------------------

    def route(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        *,
        system: str | list[Any] | None = None,
        wire: Wire = "openai",
        encoder: str | None = None,
        density: DensityName | None = None,
        pages: str | None = None,
    ) -> RoutedRequest:
        """Decide, render and build the mixed prompt for ``model``; never calls a backend.

        ``wire="anthropic"`` takes and returns Anthropic Messages content (image blocks, and the
        separate ``system`` prompt, returned as ``RoutedRequest.system``). ``encoder``, ``density``
        and ``pages`` (a page range for attached documents, e.g. "1-5,9") override the policy.
        """
        started = time.perf_counter()
        if not isinstance(model, str) or not model:
            raise InvalidRequestError("model", "a model name is required")
        target = resolve_target(self.policy, model, wire=wire, encoder=encoder, density=density, pages=pages)
        if _system_first(messages, system, wire):
            # The system prompt is routed as a leading system message, then split off again; errors
            # name the caller's own fields ("system", "messages[0]"), not the shifted ones.
            try:
                with_system = [{"role": "system", "content": system}, *messages]
                return self._route(with_system, target, started, split_system=True)
            except InvalidRequestError as exc:
                raise _unshifted(exc) from None
        return self._route(messages, target, started)

    def check(self, messages: Any, model: str, *, system: Any = None, wire: Wire = "openai") -> None:
        """What every request goes through, bypassed ones too: the shape check and the URL guard."""
        target = resolve_target(self.policy, model, wire=wire)
        if _system_first(messages, system, wire):
            try:
                self._checked([{"role": "system", "content": system}, *messages], target)
            except InvalidRequestError as exc:
                raise _unshifted(exc) from None
        else:
            self._checked(messages, target)

    def _checked(self, messages: Any, target: Target) -> list[Mapping[str, Any]]:
        messages = validate_messages(messages)
        check_urls(
            messages,
            fetched_here=not target.profile.accepts_remote_urls,
            model=target.model,
            allowed_hosts=self.allowed_image_hosts,
            block_private=self.block_private_image_hosts,
        )
        return messages

    def _route(self, messages: Any, target: Target, started: float, *, split_system: bool = False) -> RoutedRequest:
        messages = self._checked(messages, target)
        chunks = chunk_messages(messages, target.model)
        if target.vision:  # closed turns of a long chat, folded into history blocks
            chunks = fold_history(messages, chunks, self.policy.history, self.policy.min_tokens, target.model)
        counted_with = None
        if self.policy.count == "provider":  # the provider's own counts, where it can be asked
            chunks, counted_with = recount(chunks, target.model)
        has_user = any(m.get("role") == "user" for m in messages)
        reports: list[ChunkReport] = []
        rendered: dict[int, list[Page]] = {}  # chunk index -> its pages, for chunks sent as images
        facts: dict[int, str] = {}  # chunk index -> its factsheet
        sticky: set[int] = set()  # chunks sent as images by an earlier request
        for chunk in chunks:
            decision = self._decide(chunk, target, has_user, sticky)
            draw = functools.partial(_draw_chunk, chunk, target)
            outcome = route_chunk(chunk, decision, target, self.policy, self.fidelity, draw)
            reports.append(outcome.report)
            if outcome.pages:
                rendered[chunk.index] = outcome.pages
            if outcome.facts:
                facts[chunk.index] = outcome.facts
        make_image = anthropic_image_block if target.wire == "anthropic" else image_part
        attached = route_attachments(
            messages, target, self.policy, self.fidelity, first_index=len(chunks), make_image=make_image
        )
        self._enforce_image_limits(messages, chunks, target, reports, rendered, attached, sticky)
        self._count_the_cache(messages, chunks, target, reports, rendered, sticky)
        for chunk in chunks:
            if chunk.index in rendered:
                done = reports[chunk.index]
                self.memory.remember(chunk, target.model, target.profile.name, done.density or "", done.reason)
            else:
                self.memory.remember_text(chunk, target.model, target.profile.name)
        reports += attached.reports

        if rendered or attached.replacements:
            routed_messages = build_messages(
                messages, chunks, rendered, target.profile, make_image, attached.replacements, facts
            )
        else:
            routed_messages = list(messages)
        embeddings = None
        if target.checkpoint and (rendered or attached.pages):  # a self-hosted model: pages as its embeddings
            from router.local.payload import send_as_embeddings

            routed_messages, embeddings = send_as_embeddings(
                routed_messages, {**rendered, **attached.pages}, target.checkpoint, self.policy.local, wire=target.wire
            )
        routed_system = None
        if split_system:
            routed_system, routed_messages = routed_messages[0]["content"], routed_messages[1:]
        route_ms = (time.perf_counter() - started) * 1000
        report = build_report(target.model, target.profile.name, target.vision, reports, route_ms=route_ms)
        if counted_with is not None:
            report.tokenizer = counted_with
        report.documents = attached.documents
        report.embeddings = embeddings
        return RoutedRequest(
            model=target.model,
            messages=routed_messages,
            system=routed_system,
            report=report,
            pages={**rendered, **attached.pages},
            sources={c.id: c.text for c in chunks if c.index in rendered},
            chunks=chunks,
            factsheets={i: f for i, f in facts.items() if i in rendered},
        )

    def _decide(self, chunk: Chunk, target: Target, has_user: bool, sticky: set[int]) -> Decision:
        """The policy's decision, unless this chunk went as an image before: then the same again."""
        recalled = self.memory.recalled(chunk, target.model, target.profile.name)
        if recalled is not None and target.vision:
            sticky.add(chunk.index)
            density, reason = recalled
            return Decision(action="image", reason=reason, density=density)
        decision = self.policy.decide(chunk, target)
        if decision.action == "image" and chunk.role in ("system", "developer") and not has_user:
            return Decision(action="text", reason="guard:no-user-message: nowhere to attach images")
        return decision

    def _count_the_cache(
        self,
        messages: Sequence[Mapping[str, Any]],
        chunks: Sequence[Chunk],
        target: Target,
        reports: list[ChunkReport],
        rendered: dict[int, list[Page]],
        sticky: set[int],
    ) -> None:
        """Chunks the provider holds cached as text stay text unless drawing them pays with the cache
        counted (``router.cache_gate``)."""
        if not rendered or not self.policy.cache.aware:
            return
        prices = cache_prices(target.model)
        if prices is None:
            return
        model, encoder = target.model, target.profile.name
        cached = cached_chunks(
            chunks, messages, lambda c: self.memory.sent_as_text(c, model, encoder),
            explicit=target.profile.explicit_cache,
        ) - sticky  # fmt: skip
        if cached & set(rendered):
            gate(chunks, reports, rendered, cached=cached, prices=prices, turns=self.policy.cache.expected_turns)

    def _enforce_image_limits(
        self,
        messages: Sequence[Mapping[str, Any]],
        chunks: Sequence[Chunk],
        target: Target,
        reports: list[ChunkReport],
        pages: dict[int, list[Page]],
        attached: Attachments,
        sticky: frozenset[int] | set[int] = frozenset(),
    ) -> None:
        """Send the least profitable groups back to text until images and bytes fit the budget (the
        provider's limits, and the policy's ``max_image_bytes``). A group is what one text holds (a
        message part, a tool result) or one attached document (where every page has a text layer):
        drawn whole or not at all. Groups sent as images before go last, so earlier turns keep their
        bytes (and the cache). Nothing is dropped: text stays."""
        existing = sum(
            1
            for m in messages
            if isinstance(m.get("content"), list)
            for p in m["content"]
            if p.get("type") == "image_url"
        )
        profile = target.profile
        max_images = target.max_images - existing
        # base64 grows bytes by 4/3; leave a quarter of the request for everything else.
        max_bytes = min(profile.max_request_bytes * 0.75 * 0.75, self.policy.max_image_bytes)
        groups: dict[tuple[Any, ...], list[ChunkReport]] = {}
        for chunk in chunks:
            if chunk.index in pages:
                place = ("part", chunk.message_index, _or_minus(chunk.part_index), _or_minus(chunk.sub_index))
                groups.setdefault(place, []).append(reports[chunk.index])
        first = attached.reports[0].index if attached.reports else 0
        for document in attached.text_layers:
            drawn = [attached.reports[i - first] for i in attached.page_chunks[document]]
            if any(r.action == "image" for r in drawn):
                groups[("document", document[0], document[1])] = drawn

        def profit(group: list[ChunkReport]) -> tuple[bool, float]:
            saved = sum(r.text_tokens - r.tokens_after for r in group)
            return any(r.index in sticky for r in group), saved / max(sum(r.pages for r in group), 1)

        every = [pages, attached.pages]
        for place, group in sorted(groups.items(), key=lambda item: profit(item[1])):
            count = sum(len(p) for kept in every for p in kept.values())
            size = sum(len(pg.png) for kept in every for ps in kept.values() for pg in ps)
            own = [pg for r in group for pg in (pages.get(r.index) or attached.pages.get(r.index) or [])]
            too_big = any(len(pg.png) > profile.max_image_bytes for pg in own)
            if count <= max_images and size <= max_bytes and not too_big:
                continue
            reason = (
                f"guard:image-limit: at most {max_images + existing} images, {profile.max_image_bytes // 1024} KiB "
                f"each and {int(max_bytes) // 1024} KiB of PNG per request for {profile.name}"
            )
            if place[0] == "document":
                attached.as_text((place[1], place[2]), reason)
                continue
            for report in group:
                del pages[report.index]
                reports[report.index] = report.model_copy(update={"action": "text", "pages": 0, "reason": reason})

    # --- calling ---------------------------------------------------------------------------------

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion`` with the messages routed first; ``response.routing_report`` holds the report."""
        from router.integrations.completion import completion

        return completion(self, kwargs)

    async def acompletion(self, **kwargs: Any) -> Any:
        """``litellm.acompletion`` with the messages routed first."""
        from router.integrations.completion import acompletion

        return await acompletion(self, kwargs)


def _or_minus(index: int | None) -> int:
    return -1 if index is None else index


def _draw_chunk(chunk: Chunk, target: Target, density: Density) -> Rendering:
    return render_chunk(chunk, RenderTarget(target.profile, density))


def _system_first(messages: Any, system: Any, wire: str) -> bool:
    """Whether an Anthropic ``system`` prompt travels as a leading system message through the stages."""
    return wire == "anthropic" and system is not None and isinstance(messages, (list, tuple))


def _unshifted(exc: InvalidRequestError) -> InvalidRequestError:
    """``exc`` with its location in the caller's terms, where the system prompt was message 0."""
    match = _MESSAGE_PATH.match(exc.location)
    if match is None:
        return exc
    index = int(match.group(1))
    head = "system" if index == 0 else f"messages[{index - 1}]"
    location = head + exc.location[match.end() :]
    if index == 0 and location.startswith("system.content"):
        location = "system" + location[len("system.content") :]
    return type(exc)(location, exc.problem)
