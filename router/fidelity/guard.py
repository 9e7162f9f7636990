"""The runtime fidelity guard: read rendered chunks back and re-render or fall back when they fail.

Policy settings (``fidelity:`` in a policy YAML)::

    fidelity: {mode: sample, min_accuracy: 0.98, engine: rapidocr, sample_rate: 0.1}

- ``off`` (default): no read-back.
- ``always``: every rendered chunk is read back before it is sent. A rendering under the bar is
  rendered again at the next larger density and read again; past ``exact`` the chunk goes as text.
  This adds OCR time (seconds per page on a CPU) to the request, once per rendering: verdicts are
  remembered, so history resent on the next turn is not read again.
- ``sample``: one rendered chunk in ``1 / sample_rate`` is queued for read-back on a background
  thread, so the request it samples is not slowed down. Verdicts are remembered by rendering: chat
  clients send the same history every turn, so a rendering that failed its sample is replaced,
  without OCR, the next time the same chunk is routed (larger density, or text).

Every chunk the guard touched says so in ``ChunkReport.fidelity``; ``FidelityGuard.stats`` counts
checks, and failures are logged on the ``router.fidelity`` logger.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from router.fidelity.engines import EngineName
from router.models import Chunk, ReadBack, Rendering
from router.render.chunks import RenderTarget, render_key
from router.render.density import Density, larger_setting

log = logging.getLogger("router.fidelity")
MAX_VERDICTS = 4096
MAX_QUEUED = 64  # samples beyond this are skipped, never allowed to pile up behind a slow engine


class FidelitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["off", "sample", "always"] = "off"
    min_accuracy: float = Field(0.98, gt=0, le=1, description="character accuracy a rendering must read back at")
    engine: EngineName = "rapidocr"
    sample_rate: float = Field(0.1, gt=0, le=1, description="share of rendered chunks read back in sample mode")


class Reviewed(BaseModel):
    """What the guard decided for one rendering."""

    rendering: Rendering | None = Field(description="the rendering to send; None: send the chunk as text")
    density: str
    readback: ReadBack | None = None
    note: str | None = None


class FidelityStats(BaseModel):
    checked: int = 0
    passed: int = 0
    failed: int = 0
    queued: int = 0
    skipped: int = Field(0, description="samples dropped because the read-back queue was full")


Render = Callable[[Density], Rendering]


class FidelityGuard:
    """Applies a policy's ``fidelity`` settings; one per Router, shared by its threads."""

    def __init__(self, settings: FidelitySettings) -> None:
        self.settings = settings
        self.stats = FidelityStats()
        self._verdicts: OrderedDict[str, ReadBack] = OrderedDict()
        self._lock = threading.Lock()
        self._seen = 0
        self._queue: queue.Queue[tuple[str, Chunk, RenderTarget, Rendering]] | None = None
        self._idle = threading.Condition(self._lock)

    def review(self, chunk: Chunk, target: RenderTarget, rendering: Rendering, render: Render) -> Reviewed:
        """Check ``rendering`` as the settings say; ``render`` renders the chunk at another density."""
        if self.settings.mode == "always":
            return self._check_now(chunk, target, rendering, render)
        if self.settings.mode == "sample":
            return self._apply_samples(chunk, target, rendering, render)
        return Reviewed(rendering=rendering, density=target.density.name)

    def verdict(self, chunk: Chunk, target: RenderTarget) -> ReadBack | None:
        with self._lock:
            return self._verdicts.get(_key(chunk, target))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until queued samples are read back; False if ``timeout`` ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self.stats.queued == 0, timeout)

    # --- always --------------------------------------------------------------------------------

    def _check_now(self, chunk: Chunk, target: RenderTarget, rendering: Rendering, render: Render) -> Reviewed:
        tried: list[str] = []
        while True:
            # A chunk seen before (chat history is resent every turn) keeps its verdict: no OCR again.
            readback = self.verdict(chunk, target) or self._read(chunk, target, rendering)
            tried.append(f"{target.density.name} {readback.char_accuracy:.1%}")
            if readback.char_accuracy >= self.settings.min_accuracy:
                note = f"read back {readback.char_accuracy:.1%}"
                if len(tried) > 1:
                    note = f"re-rendered at {target.density.name} (read back: {', '.join(tried)})"
                return Reviewed(rendering=rendering, density=target.density.name, readback=readback, note=note)
            step = _next_target(chunk, target)
            if step is None:
                return Reviewed(
                    rendering=None,
                    density=target.density.name,
                    readback=readback,
                    note=f"guard:fidelity: read back {', '.join(tried)}, under {self.settings.min_accuracy:.1%}",
                )
            target = step
            rendering = render(target.density)

    # --- sample --------------------------------------------------------------------------------

    def _apply_samples(self, chunk: Chunk, target: RenderTarget, rendering: Rendering, render: Render) -> Reviewed:
        failed: list[str] = []
        verdict = self.verdict(chunk, target)
        while verdict is not None and verdict.char_accuracy < self.settings.min_accuracy:
            failed.append(f"{target.density.name} {verdict.char_accuracy:.1%}")
            step = _next_target(chunk, target)
            if step is None:
                failure = f"guard:fidelity: earlier samples read back {', '.join(failed)}"
                return Reviewed(rendering=None, density=target.density.name, readback=verdict, note=failure)
            target = step
            rendering = render(target.density)
            verdict = self.verdict(chunk, target)
        note: str | None = (
            f"re-rendered at {target.density.name}: earlier samples read back {', '.join(failed)}" if failed else None
        )
        if verdict is not None:
            passed = f"an earlier sample read back {verdict.char_accuracy:.1%}"
            return Reviewed(rendering=rendering, density=target.density.name, readback=verdict, note=note or passed)
        if self._sampled():
            queued = self._enqueue(chunk, target, rendering)
            note = (note + "; " if note else "") + ("sampled: read back in the background" if queued else "")
        return Reviewed(rendering=rendering, density=target.density.name, note=note or None)

    def _sampled(self) -> bool:
        with self._lock:
            every = max(1, round(1 / self.settings.sample_rate))
            self._seen += 1
            return (self._seen - 1) % every == 0

    def _enqueue(self, chunk: Chunk, target: RenderTarget, rendering: Rendering) -> bool:
        with self._lock:
            if self._queue is None:
                self._queue = queue.Queue(MAX_QUEUED)
                threading.Thread(target=self._work, name="router-fidelity", daemon=True).start()
                atexit.register(self._drop_queued)
            if self.stats.queued >= MAX_QUEUED:
                self.stats.skipped += 1
                return False
            self.stats.queued += 1
            self._queue.put_nowait((_key(chunk, target), chunk, target, rendering))
            return True

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            _, chunk, target, rendering = self._queue.get()
            try:
                self._read(chunk, target, rendering)
            except Exception:  # a broken engine must not kill the worker; the request already went out
                log.exception("fidelity sample of chunk %d failed", chunk.index)
            finally:
                with self._idle:
                    self.stats.queued -= 1
                    self._idle.notify_all()

    def _drop_queued(self) -> None:
        """At exit: drop what is queued and let the page being read finish; an OCR engine killed
        mid-page by interpreter shutdown aborts the process."""
        assert self._queue is not None
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            with self._idle:
                self.stats.queued -= 1
                self.stats.skipped += 1
        self.wait(timeout=60)

    # --- shared --------------------------------------------------------------------------------

    def _read(self, chunk: Chunk, target: RenderTarget, rendering: Rendering) -> ReadBack:
        from router.fidelity.readback import check

        readback = check(chunk.text, chunk.kind, chunk.script, rendering, target.profile, engine=self.settings.engine)
        passed = readback.char_accuracy >= self.settings.min_accuracy
        with self._lock:
            self._verdicts[_key(chunk, target)] = readback
            while len(self._verdicts) > MAX_VERDICTS:
                self._verdicts.popitem(last=False)
            self.stats.checked += 1
            self.stats.passed += passed
            self.stats.failed += not passed
        if not passed:
            log.warning(
                "chunk %d (%s) at %s for %s read back %.1f%% < %.1f%%; missing identifiers: %s",
                chunk.index, chunk.kind, target.density.name, target.profile.name,
                readback.char_accuracy * 100, self.settings.min_accuracy * 100, readback.missing,
            )  # fmt: skip
        return readback


def _next_target(chunk: Chunk, target: RenderTarget) -> RenderTarget | None:
    density = larger_setting(target.density, chunk.kind, chunk.script, target.profile.name)
    return None if density is None else RenderTarget(target.profile, density)


def _key(chunk: Chunk, target: RenderTarget) -> str:
    return render_key(chunk.text, chunk.kind, chunk.script, chunk.language, target)
