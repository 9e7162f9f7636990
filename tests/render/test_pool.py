"""Rendering in worker processes: the same bytes as in-process rendering, and back-pressure that
sends a chunk as text rather than failing the request."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router import Router
from router.errors import RenderError
from router.providers.geometry import get_profile
from router.render.cache import render_cache
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density
from router.render.pool import RenderPool, use_render_pool


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    workers = RenderPool(2)
    workers.warm()
    yield workers
    workers.close()


def samples(english_prose: str, python_code: str, markdown_table: str, chinese_prose: str) -> list[tuple]:
    return [
        (english_prose, "prose", "latin", None),
        (python_code, "code", "latin", "python"),
        (markdown_table, "markdown", "latin", None),
        (chinese_prose[:3000], "prose", "cjk", None),
    ]


def test_pool_pages_are_byte_identical(
    pool: RenderPool, english_prose: str, python_code: str, markdown_table: str, chinese_prose: str
) -> None:
    for family in ("anthropic", "openai-tile", "qwen2.5-vl"):
        profile = get_profile(family)
        target = RenderTarget(profile, get_density("balanced", profile.name))
        for text, kind, script, language in samples(english_prose, python_code, markdown_table, chinese_prose):
            render_cache().clear()
            here = render_text(text, kind, script, language, target)
            render_cache().clear()
            with rendering_in(pool):
                there = render_text(text, kind, script, language, target)
            assert [p.png for p in there.pages] == [p.png for p in here.pages], (family, kind)
            assert there.columns == here.columns and there.pages[0].tokens == here.pages[0].tokens


@contextlib.contextmanager
def rendering_in(pool: RenderPool) -> Iterator[None]:
    """Render in ``pool`` for a while, without closing it afterwards (the fixture does)."""
    import router.render.pool as module

    previous, module._pool = module._pool, pool
    try:
        yield
    finally:
        module._pool = previous


def test_a_full_queue_sends_the_chunk_as_text(english_prose: str) -> None:
    jammed = RenderPool(1, max_queued=1, wait_s=0.2)
    jammed._places.acquire()  # every place taken
    use_render_pool(jammed)
    try:
        render_cache().clear()
        routed = Router().route([{"role": "user", "content": f"Read:\n\n{english_prose}\n\nWhat?"}], model="gpt-4o")
    finally:
        use_render_pool(None)
    document = max(routed.report.chunks, key=lambda c: c.text_tokens)
    assert document.action == "text" and "render queue stayed full" in document.reason
    assert routed.messages[0]["content"].startswith("Read:")  # nothing lost
    assert jammed.waited_out == 1


def test_a_worker_failure_is_a_render_error(pool: RenderPool) -> None:
    profile = get_profile("openai-tile")
    with pytest.raises(RenderError, match="blank"):
        pool.render("   ", "prose", "latin", None, RenderTarget(profile, get_density("balanced", profile.name)))


_OWNER = """
import sys
from router.render.pool import RenderPool
if __name__ == "__main__":
    pool = RenderPool(2)
    pool.warm()
    print(" ".join(str(p) for p in pool._executor._processes), flush=True)
    if sys.argv[1] == "close":
        pool.close()
        print("closed", flush=True)
    sys.stdin.read()  # until killed, or stdin closes
"""


@pytest.mark.parametrize("end", ["close", "kill"])
def test_workers_end_with_their_pool_or_its_process(tmp_path: Path, end: str) -> None:
    # Closed, the pool waits for its workers to stop; killed (SIGKILL: no stop is ever sent), the
    # workers notice their parent is gone and leave instead of waiting on their queue for ever.
    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    owner = subprocess.Popen(
        [sys.executable, str(script), end], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert owner.stdout is not None
    workers = [int(pid) for pid in owner.stdout.readline().split()]
    assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    if end == "close":
        assert owner.stdout.readline().strip() == "closed"
        assert not any(_alive(pid) for pid in workers)
    owner.kill()
    owner.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")
