"""The Router: one request flows one way through the stages.

    chunking.chunk_messages -> policy.decide -> render.render_chunk -> fidelity_guard.review
    -> policy.check_saving -> prompt.build_messages -> completion.completion -> report

A request the router cannot improve passes unchanged; a chunk that cannot be rendered goes as text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from router.attachments import route_attachments
from router.chunking import chunk_messages, validate_messages
from router.errors import InvalidRequestError, RenderError
from router.fidelity.guard import FidelityGuard
from router.integrations import completion
from router.models import Chunk, ChunkReport, Decision, Page, Rendering, RoutedRequest
from router.policy import Policy
from router.prompt import anthropic_image_block, build_messages, image_part, label_for
from router.providers.geometry import EncoderProfile, get_profile
from router.render.chunks import RenderTarget, render_chunk
from router.render.density import get_density
from router.report import build_report
from router.tokens import count_tokens
from router.url_guard import check_urls

_MESSAGE_PATH = re.compile(r"^messages\[(\d+)\]")


class Router:
    """Routes chat requests into mixed text/image prompts and calls any backend through litellm.

    >>> router = Router()                          # the shipped default policy
    >>> routed = router.route(messages, model="claude-sonnet-4-5")
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
        wire: Literal["openai", "anthropic"] = "openai",
        encoder: str | None = None,
        density: str | None = None,
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
        if _system_first(messages, system, wire):
            # The system prompt is routed as a leading system message, then split off again; errors
            # name the caller's own fields ("system", "messages[0]"), not the shifted ones.
            try:
                with_system = [{"role": "system", "content": system}, *messages]
                return self._route(with_system, model, wire, encoder, density, pages, started, split_system=True)
            except InvalidRequestError as exc:
                raise _unshifted(exc) from None
        return self._route(messages, model, wire, encoder, density, pages, started)

    def check(
        self,
        messages: Any,
        model: str,
        *,
        system: Any = None,
        wire: Literal["openai", "anthropic"] = "openai",
        encoder: str | None = None,
    ) -> None:
        """What every request goes through, bypassed ones too: the shape check and the URL guard."""
        if _system_first(messages, system, wire):
            try:
                self._checked([{"role": "system", "content": system}, *messages], model, encoder)
            except InvalidRequestError as exc:
                raise _unshifted(exc) from None
        else:
            self._checked(messages, model, encoder)

    def _checked(self, messages: Any, model: str, encoder: str | None) -> list[Mapping[str, Any]]:
        messages = validate_messages(messages)
        profile = get_profile(encoder) if encoder else self.policy.encoder_for(model)
        check_urls(
            messages,
            fetched_here=not profile.accepts_remote_urls,
            model=model,
            allowed_hosts=self.allowed_image_hosts,
            block_private=self.block_private_image_hosts,
        )
        return messages

    def _route(
        self,
        messages: Any,
        model: str,
        wire: Literal["openai", "anthropic"],
        encoder: str | None,
        density: str | None,
        pages: str | None,
        started: float,
        *,
        split_system: bool = False,
    ) -> RoutedRequest:
        messages = self._checked(messages, model, encoder)
        profile = get_profile(encoder) if encoder else self.policy.encoder_for(model)
        if density is not None:
            get_density(density)  # fail fast with the list of known names
        vision = self.policy.vision_for(model)

        chunks = chunk_messages(messages, model)
        has_user = any(m.get("role") == "user" for m in messages)
        reports: list[ChunkReport] = []
        rendered: dict[int, list[Page]] = {}  # chunk index -> its pages, for chunks sent as images
        for chunk in chunks:
            decision = self.policy.decide(chunk, vision=vision, model=model)
            if density is not None and decision.action == "image":
                decision = decision.model_copy(update={"density": density})
            if decision.action == "image" and chunk.role in ("system", "developer") and not has_user:
                decision = Decision(action="text", reason="guard:no-user-message: nowhere to attach images")
            report, chunk_pages = self._render_decided(chunk, decision, profile)
            reports.append(report)
            if chunk_pages:
                rendered[chunk.index] = chunk_pages
        make_image = anthropic_image_block if wire == "anthropic" else image_part
        attached = route_attachments(
            messages, policy=self.policy, profile=profile, vision=vision, model=model,
            first_index=len(chunks), make_image=make_image, pages=pages,
        )  # fmt: skip
        self._enforce_image_limits(messages, profile, reports, rendered, attached.images)
        reports += attached.reports

        if rendered or attached.replacements:
            routed_messages = build_messages(messages, chunks, rendered, profile, make_image, attached.replacements)
        else:
            routed_messages = list(messages)
        routed_system = None
        if split_system:
            routed_system, routed_messages = routed_messages[0]["content"], routed_messages[1:]
        report = build_report(model, profile.name, vision, reports, route_ms=(time.perf_counter() - started) * 1000)
        report.documents = attached.documents
        return RoutedRequest(
            model=model,
            messages=routed_messages,
            system=routed_system,
            report=report,
            pages={**rendered, **attached.pages},
        )

    def _render_decided(
        self, chunk: Chunk, decision: Decision, profile: EncoderProfile
    ) -> tuple[ChunkReport, list[Page] | None]:
        report = ChunkReport(
            index=chunk.index,
            message_index=chunk.message_index,
            role=chunk.role,
            kind=chunk.kind,
            script=chunk.script,
            chars=chunk.chars,
            action="text",
            reason=decision.reason,
            text_tokens=chunk.text_tokens,
        )
        if decision.action == "text":
            return report, None
        target = RenderTarget(profile=profile, density=get_density(decision.density, profile.name))
        try:
            rendering: Rendering = render_chunk(chunk, target)
        except RenderError as exc:
            return report.model_copy(update={"reason": f"guard:{exc.guard}: {exc}"}), None
        try:
            reviewed = self.fidelity.review(
                chunk, target, rendering, lambda density: render_chunk(chunk, RenderTarget(profile, density))
            )
        except RenderError as exc:  # a larger density can overflow where the smaller one fitted
            return report.model_copy(update={"reason": f"guard:{exc.guard}: {exc}"}), None
        checked = {"readback": reviewed.readback, "fidelity": reviewed.note, "density": reviewed.density}
        if reviewed.rendering is None:
            return report.model_copy(update={**checked, "reason": reviewed.note}), None
        rendering = reviewed.rendering
        system = chunk.role in ("system", "developer")
        label_tokens = count_tokens(label_for(chunk, len(rendering.pages), system=system), "gpt-4o")
        figures = {
            **checked,
            "image_tokens": rendering.image_tokens,
            "label_tokens": label_tokens,
            "pages": len(rendering.pages),
            "columns": rendering.columns,
            "render_ms": rendering.render_ms + rendering.encode_ms,
            "cached": rendering.cached,
        }
        refused = self.policy.check_saving(chunk, rendering, label_tokens)
        if refused:
            return report.model_copy(update={**figures, "reason": refused, "pages": 0}), None
        return report.model_copy(update={**figures, "action": "image"}), rendering.pages

    def _enforce_image_limits(
        self,
        messages: Sequence[Mapping[str, Any]],
        profile: EncoderProfile,
        reports: list[ChunkReport],
        pages: dict[int, list[Page]],
        document_images: int = 0,
    ) -> None:
        """Send the least-saving chunks back to text until images and bytes fit the provider's limits."""
        existing = document_images + sum(
            1
            for m in messages
            if isinstance(m.get("content"), list)
            for p in m["content"]
            if p.get("type") == "image_url"
        )
        max_images = min(profile.max_images, self.policy.max_images or profile.max_images) - existing
        # base64 grows bytes by 4/3; leave a quarter of the request for everything else.
        max_bytes = profile.max_request_bytes * 0.75 * 0.75

        def totals() -> tuple[int, int]:
            return sum(len(p) for p in pages.values()), sum(len(pg.png) for ps in pages.values() for pg in ps)

        by_saving = sorted(
            (r for r in reports if r.action == "image"),
            key=lambda r: (r.text_tokens - r.tokens_after) / max(r.pages, 1),
        )
        for report in by_saving:
            count, size = totals()
            too_big = [pg for pg in pages[report.index] if len(pg.png) > profile.max_image_bytes]
            if count <= max_images and size <= max_bytes and not too_big:
                continue
            del pages[report.index]
            reports[report.index] = report.model_copy(
                update={
                    "action": "text",
                    "pages": 0,
                    "reason": f"guard:image-limit: at most {max_images + existing} images, "
                    f"{profile.max_image_bytes // 1024} KiB each and {int(max_bytes) // 1024} KiB of PNG per "
                    f"request for {profile.name}",
                }
            )

    # --- calling ---------------------------------------------------------------------------------

    def completion(self, **kwargs: Any) -> Any:
        """``litellm.completion`` with the messages routed first; ``response.routing_report`` holds the report."""
        routed = self._route_kwargs(kwargs)
        return completion.completion(routed.messages, routed.report, kwargs)

    async def acompletion(self, **kwargs: Any) -> Any:
        """``litellm.acompletion`` with the messages routed first."""
        import asyncio

        routed = await asyncio.to_thread(self._route_kwargs, kwargs)
        return await completion.acompletion(routed.messages, routed.report, kwargs)

    def _route_kwargs(self, kwargs: dict[str, Any]) -> RoutedRequest:
        if "model" not in kwargs:
            raise InvalidRequestError("model", "a model name is required")
        if "messages" not in kwargs:
            raise InvalidRequestError("messages", "the request has no messages")
        return self.route(kwargs["messages"], model=kwargs["model"])


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
