"""What agents read, drawn as it was printed: real tool output produced on this machine at test time.

Each sample is classified as a person would (diff, terminal output, CSV, config, trace, source code),
drawn with its structure (markers in place, escapes applied, one record per row, comments kept), read
back by OCR at the provider's resolution, and checked character for character by the completeness
check, which catches a renderer that draws the escapes instead of applying them.
"""

from __future__ import annotations

import base64
import csv
import inspect
import io
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from router import Policy, Router
from router.chunking import split_text
from router.errors import IncompleteRenderError
from router.fidelity.readback import read_pages
from router.models import Rendering
from router.providers.geometry import get_profile
from router.render import chunks as render_module
from router.render import markup
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = RenderTarget(get_profile("anthropic"), get_density("balanced", "anthropic"))


def _lines_upto(text: str, limit: int) -> str:
    return text[: text.rfind("\n", 0, limit) + 1] if len(text) > limit else text


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Tool output made now, on this machine: nothing is a hand-written imitation."""
    tmp = tmp_path_factory.mktemp("tool-output")
    a, b = inspect.getsourcefile(textwrap), inspect.getsourcefile(shlex)
    diff = subprocess.run(["diff", "-u", str(a), str(b)], capture_output=True, text=True).stdout
    suite = tmp / "test_generated.py"
    suite.write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(40))\ndef test_ok(n):\n    assert n >= 0\n\n"
        "def test_bad():\n    assert {'a': 1, 'b': 2} == {'a': 1, 'b': 3}\n"
    )
    env = {**os.environ, "PYTEST_ADDOPTS": ""}
    terminal = subprocess.run(
        [sys.executable, "-m", "pytest", "--color=yes", "-p", "no:cacheprovider", str(suite)],
        capture_output=True, text=True, cwd=tmp, env=env,
    ).stdout  # fmt: skip
    records = io.StringIO()
    writer = csv.writer(records)
    writer.writerow(["id", "package", "version", "size_kb", "origin"])
    for i in range(400):
        writer.writerow(
            [i, f"lib{i:03d}", f"{i // 50}.{i % 50}.{i % 7}", i * 17 % 9000, "Debian, main" if i % 3 else "local"]
        )
    failing = (
        "import traceback\n"
        "def parse(v):\n    return int(v)\n"
        "def load(i):\n    return parse(f'x{i}')\n"
        "for i in range(60):\n"
        "    try:\n        load(i)\n    except ValueError:\n        traceback.print_exc()\n"
    )
    traces = subprocess.run([sys.executable, "-c", failing], capture_output=True, text=True).stderr
    numbered = subprocess.run(["cat", "-n", str(a)], capture_output=True, text=True).stdout
    source_lines = inspect.getsource(shlex).splitlines()[:150]  # an agent's partial read: lines 1-150
    agent_view = "\n".join(f"{n:>6}→{line}" for n, line in enumerate(source_lines, 1))
    return {
        "cat -n": _lines_upto(numbered, 8000),
        "agent view": agent_view,
        "diff": _lines_upto(diff, 6000),
        "terminal": terminal,
        "csv": records.getvalue(),
        "config": (ROOT / "policies" / "default.yaml").read_text(encoding="utf-8"),
        "trace": _lines_upto(traces, 6000),
        "code": _lines_upto(inspect.getsource(__import__("argparse")), 12000),
    }


EXPECTED = {
    "cat -n": ("code", "python"),  # line numbers kept, highlighted as the lines they number
    "agent view": ("code", "python"),
    "diff": ("diff", "diff"),
    "terminal": ("terminal", None),
    "csv": ("csv", "csv"),
    "config": ("config", "yaml"),
    "trace": ("trace", "pytb"),
    "code": ("code", "python"),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_tool_output_is_classified_whole(samples: dict[str, str], name: str) -> None:
    spans = split_text(samples[name])
    assert [(kind, language) for kind, _, _, language in spans] == [EXPECTED[name]]
    asked = f"Here is what the tool printed:\n\n{samples[name]}\n\nWhat went wrong?"
    middle = [kind for kind, _, _, _ in split_text(asked)]  # inside a message, the middle chunk still is
    assert EXPECTED[name][0] in middle


def _laid_out(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    seen: dict[str, str] = {}
    for name in ("layout_flow", "layout_mono"):
        original = getattr(render_module, name)

        def recording(*args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            laid = _original(*args, **kwargs)
            seen["text"] = laid.text
            return laid

        monkeypatch.setattr(render_module, name, recording)
    return seen


def _render(samples: dict[str, str], name: str) -> Rendering:
    kind, language = EXPECTED[name]
    return render_text(samples[name], kind, "latin", language, CLAUDE)  # type: ignore[arg-type]


def test_structure_is_drawn_as_printed(samples: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _laid_out(monkeypatch)
    continuation = re.compile(r"^↪ ?", re.MULTILINE)

    _render(samples, "diff")
    drawn = [line for line in continuation.sub("\0", seen["text"]).splitlines() if not line.startswith("\0")]
    source = [line for line in samples["diff"].splitlines() if line.strip()]
    assert [line[0] for line in drawn if line.strip()] == [line[0] for line in source]  # markers at line starts

    _render(samples, "terminal")
    assert "\x1b" not in seen["text"] and "[0m" not in seen["text"] and "[32m" not in seen["text"]
    assert "1 failed, 40 passed" in seen["text"]

    _render(samples, "csv")
    rows = seen["text"].splitlines()
    assert "lib123" in rows and "Debian, main" in rows  # one cell per line of the table's text, commas kept

    _render(samples, "agent view")
    numbers = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)→", seen["text"], re.MULTILINE)]
    assert numbers == list(range(1, 151))  # every line drawn with its number, in order

    _render(samples, "config")
    comments = [line for line in seen["text"].splitlines() if line.startswith("#")]
    assert len(comments) >= 4 and "  - name: document-pages" in seen["text"]  # comments and nesting kept

    _render(samples, "trace")
    assert seen["text"].count("Traceback (most recent call last):") == samples["trace"].count("Traceback (most")


@pytest.mark.parametrize("name", ["diff", "terminal", "csv", "config"])
def test_pages_read_back(samples: dict[str, str], name: str) -> None:
    """OCR at the provider's resolution reads back what the tool printed: its words, its diff markers,
    and no escape-code garbage. (Character accuracy is not the measure here: OCR cannot count a row of
    progress dots or a rule of '=' signs.)"""
    kind, language = EXPECTED[name]
    text = _lines_upto(samples[name], 2500) if name != "csv" else "\n".join(samples[name].splitlines()[:60])
    rendering = render_text(text, kind, "latin", language, CLAUDE)  # type: ignore[arg-type]
    read = read_pages(rendering.pages, CLAUDE.profile)
    drawn = markup.visible_text(text, kind)  # type: ignore[arg-type]
    wanted = re.findall(r"[A-Za-z0-9]{3,}", drawn)
    joined = re.sub(r"\s+", "", read)  # OCR often drops the spaces between words; not their letters
    assert sum(w in joined for w in wanted) >= 0.95 * len(wanted), (name, read[:500])
    assert not re.search(r"\[\d{1,2}(;\d+)*m", read)  # no "[32m" escape garbage
    # Diff markers are checked on the drawn text (test_structure_is_drawn_as_printed): RapidOCR drops a
    # line-initial "-" or "+" about half the time, isolated punctuation being its weak spot.
    if name == "config":
        assert sum(line.strip().startswith("#") for line in read.splitlines()) >= 4  # comments read as comments


def test_a_renderer_that_draws_the_escapes_is_caught(samples: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markup, "terminal_runs", lambda text: [(text.replace("\x1b", ""), None)])
    with pytest.raises(IncompleteRenderError, match="differ from the source"):
        render_text(samples["terminal"] + "\n(broken)", "terminal", "latin", None, CLAUDE)


def test_binary_like_text_stays_text() -> None:
    blob = base64.b64encode(bytes(range(256)) * 40).decode()
    text = f"The attachment, base64:\n\n{blob}\n\nWhat is it?"
    routed = Router().route([{"role": "user", "content": text}], model="claude-sonnet-4-6")
    assert routed.messages[0]["content"] == text
    assert any(c.reason.startswith("guard:binary-like") for c in routed.report.chunks)


def test_yaml_aliases_in_a_callers_text_are_never_expanded() -> None:
    """Detection composes YAML without constructing it: a billion-laughs text is recognised as config
    (expanding it would take 10^10 values) and drawn as the text it is."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    text = "\n".join([*lines, "name: bomb", "kind: test", "size: huge"]) + "\n"
    assert [kind for kind, _, _, _ in split_text(text)] == ["config"]


def test_the_report_says_what_drawing_terminal_output_changed(samples: dict[str, str]) -> None:
    progress = "".join(f"\rdownloading {n:3d}%" for n in range(0, 101, 10)) + "\n\x1b]0;build\x07done\n"
    text = samples["terminal"] + progress
    policy = Policy.builtin("default").model_copy(update={"min_tokens": 50, "min_saving": 0.1})
    routed = Router(policy).route([{"role": "user", "content": text}], model="claude-sonnet-4-6")
    chunk = next(c for c in routed.report.chunks if c.kind == "terminal")
    assert chunk.action == "image", chunk.reason
    assert re.fullmatch(
        r"terminal output: \d+ colour codes applied, [12] other escape sequences and control characters removed, "
        r"1 progress lines collapsed to their final state",
        chunk.drawing,
    )
