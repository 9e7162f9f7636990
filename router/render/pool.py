"""Rendering in worker processes, so every core lays out pages.

PyMuPDF is not thread-safe: in one process, pages are laid out one at a time behind ``MUPDF_LOCK``.
A ``RenderPool`` runs that work in ``workers`` processes instead (each with its own PyMuPDF, started
with ``spawn``: a threaded server is never forked). A chunk's pages are rendered together in one
worker; the bytes are the same as in-process rendering (``router.render.chunks._render`` is run as
is), and the render cache stays in the calling process, so a cached chunk never reaches the pool.

Back-pressure: at most ``max_queued`` renderings wait or run at once; a chunk that finds no place
within ``wait_s`` raises ``RenderError`` and goes as text (reported), never failing the request.

The proxy starts one pool per process (``general_settings.render_workers``, default: the core
count); library users may call ``use_render_pool(RenderPool(4))``.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextvars import ContextVar
from typing import TYPE_CHECKING

from router.errors import RenderError

if TYPE_CHECKING:
    from router.kinds import Kind
    from router.models import Rendering, Script
    from router.render.chunks import RenderTarget

__all__ = ["RENDER_DEADLINE", "RenderPool", "current_render_pool", "default_workers", "use_render_pool"]

# The request's deadline (time.monotonic()), where the caller has one: a rendering waits for a place
# no longer than the request can, leaving it time to send the chunk as text.
RENDER_DEADLINE: ContextVar[float | None] = ContextVar("hcr_render_deadline", default=None)


def default_workers() -> int:
    """One render process per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _warm() -> None:
    """Import the renderer once (fonts, PyMuPDF), not on the first chunk."""
    import router.render.chunks  # noqa: F401


def _start_worker() -> None:
    """Worker start: warm, and leave when the parent does, however it ends. A worker waits on a queue
    whose other end it holds itself, so a parent killed before it could send the pool's stop (SIGKILL,
    the OOM killer, a signal re-raised after shutdown) would leave it waiting for ever."""
    _warm()
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), name="hcr-parent-watch", daemon=True).start()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()  # returns when the parent process has ended
    os._exit(0)


def _render_here(text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
    from router.render.chunks import _render

    return _render(text, kind, script, language, target)


class RenderPool:
    def __init__(self, workers: int, *, max_queued: int | None = None, wait_s: float = 30.0) -> None:
        self.workers = workers
        self.wait_s = wait_s
        context = multiprocessing.get_context("spawn")
        self._executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker)
        self._places = threading.BoundedSemaphore(max_queued or workers * 4)
        self.waited_out = 0  # renderings that found no place in time (sent as text)

    def warm(self) -> None:
        """Start every worker now (a first request should not pay for process start-up)."""
        for future in [self._executor.submit(_warm) for _ in range(self.workers)]:
            future.result()

    def render(self, text: str, kind: Kind, script: Script, language: str | None, target: RenderTarget) -> Rendering:
        wait = self.wait_s
        deadline = RENDER_DEADLINE.get()
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic() - 1.0))
        if not self._places.acquire(timeout=wait):
            self.waited_out += 1
            raise RenderError(f"the render queue stayed full for {wait:g} s")
        try:
            future = self._executor.submit(_render_here, text, kind, script, language, target)
            try:
                return future.result(timeout=max(self.wait_s, 60.0))
            except FutureTimeout:
                future.cancel()
                raise RenderError("rendering took too long in the worker") from None
        finally:
            self._places.release()

    def close(self) -> None:
        """Stop the workers: queued renderings are cancelled, running ones finish. Waited for, since
        a server may end right after (uvicorn re-raises the signal that stopped it)."""
        self._executor.shutdown(wait=True, cancel_futures=True)


_pool: RenderPool | None = None
_pool_lock = threading.Lock()


def use_render_pool(pool: RenderPool | None) -> None:
    """Render this process's chunks in ``pool`` (None: in-process again); the previous pool is closed."""
    global _pool
    with _pool_lock:
        previous, _pool = _pool, pool
    if previous is not None and previous is not pool:
        previous.close()


def current_render_pool() -> RenderPool | None:
    return _pool


atexit.register(lambda: use_render_pool(None))
