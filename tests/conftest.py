"""Shared fixtures: real documents nobody on the team wrote, and provider-shaped HTTP backends."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # tests that import litellm themselves stay offline
if "XDG_STATE_HOME" not in os.environ:  # proxies under test keep their event logs out of the user's home
    import tempfile

    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="hcr-test-state-")

import gzip
import http
import inspect
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.testing import AnthropicBackend, GeminiBackend, OpenAIBackend

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "requests"
GPL = Path("/usr/share/common-licenses/GPL-3")
DEBIAN_REFERENCE_ZH = Path("/usr/share/doc/debian-reference-zh-cn/docs/debian-reference.zh-cn.txt.gz")


@pytest.fixture(autouse=True)
def _router_logging_restored() -> Iterator[None]:
    """``hcr`` commands run in-process set up the 'router' loggers as a user's shell would; each test
    starts from, and leaves, the state pytest's log capture expects."""
    import logging

    logger = logging.getLogger("router")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    yield
    logger.handlers[:], logger.propagate = saved[1], saved[2]
    logger.setLevel(saved[0])  # (clears logging's cached levels)


@pytest.fixture(scope="session")
def english_prose() -> str:
    """The GPL-3 preamble (Debian base-files), hard-wrapped English prose."""
    text = GPL.read_text(encoding="utf-8")
    start = text.index("The GNU General Public License is a free")
    return text[start : start + 4200]


@pytest.fixture(scope="session")
def python_code() -> str:
    """The first 120 lines of CPython's textwrap module."""
    return "\n".join(inspect.getsource(textwrap).splitlines()[:120]) + "\n"


@pytest.fixture(scope="session")
def markdown_table() -> str:
    """HTTP status codes from the standard library, as a markdown table."""
    rows = [f"| {s.value} | {s.phrase} | {s.description} |" for s in list(http.HTTPStatus)[:30]]
    return "| Code | Phrase | Description |\n|---|---|---|\n" + "\n".join(rows) + "\n"


@pytest.fixture(scope="session")
def chinese_prose() -> str:
    """A section of the Debian Reference in Chinese (package debian-reference-zh-cn)."""
    if not DEBIAN_REFERENCE_ZH.exists():
        pytest.skip("debian-reference-zh-cn is not installed (.ci/run installs it)")
    text = gzip.open(DEBIAN_REFERENCE_ZH, "rt", encoding="utf-8").read()
    start = text.index("GNU/Linux 教程\n", 3000)
    return text[start : start + 1200]


@pytest.fixture()
def openai_backend() -> Iterator[OpenAIBackend]:
    with OpenAIBackend() as backend:
        yield backend


@pytest.fixture()
def anthropic_backend() -> Iterator[AnthropicBackend]:
    with AnthropicBackend() as backend:
        yield backend


@pytest.fixture()
def gemini_backend() -> Iterator[GeminiBackend]:
    with GeminiBackend() as backend:
        yield backend
