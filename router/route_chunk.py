"""One chunk's way from its decision to its pages: the routine text chunks and document pages share.

    decision -> draw at the density -> the largest glyphs at the same price (whole-tile billing)
    -> fidelity guard (read back; larger glyphs, or text)
    -> label and factsheet (the exact strings, read-back misses first) counted for the target model
    -> does the image pay for itself (``min_saving``), label and factsheet included

``draw`` is what differs: ``router.render.chunks`` lays out chunk text, ``router.attachments``
rasterises a document page. A chunk whose drawing fails or is incomplete, that reads back badly, or
whose image costs too much goes as text, with the reason in its report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from router.errors import RenderError
from router.exact import factsheet
from router.fidelity.guard import FidelityGuard
from router.kinds import KINDS, Kind
from router.models import Chunk, ChunkReport, Decision, Page, Rendering, Script
from router.policy import Policy
from router.prompt import added_texts
from router.providers.geometry import EncoderProfile
from router.render.chunks import RenderTarget
from router.render.density import Density, get_density, larger_setting
from router.render.terminal import terminal_changes
from router.target import Target
from router.tokens import count_tokens

__all__ = ["ChunkOutcome", "Draw", "largest_at_the_same_price", "route_chunk"]

Draw = Callable[[Density], Rendering]


@dataclass(frozen=True)
class ChunkOutcome:
    report: ChunkReport
    pages: list[Page] = field(default_factory=list)  # empty: the chunk goes as text
    facts: str | None = None  # the factsheet sent as text beside the pages


def route_chunk(
    chunk: Chunk,
    decision: Decision,
    target: Target,
    policy: Policy,
    fidelity: FidelityGuard,
    draw: Draw,
    *,
    must_pay: bool = True,
    read_back: bool = True,
) -> ChunkOutcome:
    """``must_pay``: the image must save ``min_saving``; off for pages whose text layer misses content.
    ``read_back``: the fidelity guard may read the pages back (there must be text to compare with)."""
    report = ChunkReport(
        index=chunk.index,
        id=chunk.id,
        message_index=chunk.message_index,
        messages=chunk.messages,
        role=chunk.role,
        tool_name=chunk.tool_name,
        kind=chunk.kind,
        script=chunk.script,
        chars=chunk.chars,
        action="text",
        reason=decision.reason,
        text_tokens=chunk.text_tokens,
    )
    if decision.action == "text":
        return ChunkOutcome(report)
    asked = get_density(decision.density, target.profile.name)
    try:
        drawn = draw(asked)
        density, rendering = largest_at_the_same_price(chunk.kind, chunk.script, asked, drawn, draw, target.profile)
        if density is not asked:
            larger = f"drawn at {density.name}: larger glyphs for the same {rendering.image_tokens} image tokens"
            report = report.model_copy(update={"reason": f"{decision.reason}; {larger}"})
        if read_back:
            reviewed = fidelity.review(chunk, RenderTarget(target.profile, density), rendering, draw)
    except RenderError as exc:  # also from the guard: larger glyphs can overflow where smaller ones fitted
        return ChunkOutcome(report.model_copy(update={"reason": f"guard:{exc.guard}: {exc}"}))
    outcome: dict[str, object] = {"density": density.name}
    if read_back:
        outcome = {"readback": reviewed.readback, "fidelity": reviewed.note, "density": reviewed.density}
        if reviewed.rendering is None:
            return ChunkOutcome(report.model_copy(update={**outcome, "reason": reviewed.note}))
        rendering = reviewed.rendering
    label_tokens = sum(count_tokens(t, target.model) for t in added_texts(chunk, len(rendering.pages), target.wire))
    missed = reviewed.readback.missing if read_back and reviewed.readback else ()
    facts = factsheet(chunk.id, chunk.text, target.model, policy.exact, missed)
    if rendering.undrawn:  # words and symbols no font could draw travel as text: nothing is lost
        undrawn = f"[Drawn as boxes in #{chunk.id}, in order (no font draws them): {' '.join(rendering.undrawn)}]"
        facts = f"{facts}\n{undrawn}" if facts else undrawn
    facts_tokens = count_tokens(facts, target.model) if facts else 0
    outcome |= {
        "image_tokens": rendering.image_tokens,
        "label_tokens": label_tokens,
        "factsheet_tokens": facts_tokens,
        "pages": len(rendering.pages),
        "columns": rendering.columns,
        "render_ms": rendering.render_ms + rendering.encode_ms,
        "cached": rendering.cached,
    }
    if must_pay and (refused := policy.check_saving(chunk, rendering, label_tokens + facts_tokens)):
        return ChunkOutcome(report.model_copy(update={**outcome, "reason": refused, "pages": 0}))
    drawing = terminal_changes(chunk.text) if KINDS[chunk.kind].markup == "terminal" else None
    if rendering.undrawn:
        drawing = f"{len(rendering.undrawn)} word(s) or symbol(s) no font draws sent as text beside the pages"
    imaged = report.model_copy(update={**outcome, "action": "image", "drawing": drawing})
    return ChunkOutcome(imaged, rendering.pages, facts)


def largest_at_the_same_price(
    kind: Kind, script: Script, density: Density, rendering: Rendering, draw: Draw, profile: EncoderProfile
) -> tuple[Density, Rendering]:
    """``rendering`` drawn at the larger densities that bill no more image tokens and pages than it.

    Where billing is by whole tiles or whole images (gpt-4o, Gemini), a chunk often leaves much of its
    last tile blank, and larger glyphs, which read back better, cost nothing there. A larger density
    is drawn only where the pages' billed tiles have room for it: its text takes about the em ratio
    times the line-height ratio of the area (more where lines wrap; packed code columns can hide room
    this misses). Families billed by area (Claude, Qwen) are never drawn twice."""
    while profile.bills_whole_tiles and (bigger := larger_setting(density, kind, script, profile.name)) is not None:
        now, then = density.typesetting(kind, script), bigger.typesetting(kind, script)
        growth = then.em_px * then.line_height / (now.em_px * now.line_height)
        used = sum(page.width * page.height for page in rendering.pages)
        if used * growth > sum(page.width * profile.room(page.width, page.height) for page in rendering.pages):
            break
        try:
            candidate = draw(bigger)
        except RenderError:  # larger glyphs can overflow where smaller ones fitted
            break
        if candidate.image_tokens > rendering.image_tokens or len(candidate.pages) > len(rendering.pages):
            break
        density, rendering = bigger, candidate
    return density, rendering
