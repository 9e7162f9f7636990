"""The hcr command as a user runs it: route the bundled examples, render a file, list families."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from router.cli import main
from tests.conftest import EXAMPLES


def test_readme_command_routes_an_example(tmp_path: Path) -> None:
    hcr = shutil.which("hcr") or str(Path(sys.executable).parent / "hcr")
    result = subprocess.run(
        [hcr, "route", str(EXAMPLES / "long_chat.json"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tokens" in result.stdout and "->" in result.stdout
    routed = json.loads((tmp_path / "routed_request.json").read_text(encoding="utf-8"))
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    pages = sorted(tmp_path.glob("chunk*_page*.png"))
    assert routed["model"] == "gemini/gemini-2.5-flash" and len(routed["messages"]) == 6
    assert report["tokens_after"] < report["tokens_before"] and len(pages) == report["images"] > 0
    assert all(Image.open(p).size[0] <= 768 for p in pages)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_every_example_routes(example: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", str(EXAMPLES / example), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["tokens_after"] <= report["tokens_before"]
    assert "Routing for" in capsys.readouterr().out


def test_route_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["route", str(EXAMPLES / "code_review.json"), "--model", "claude-sonnet-4-6", "--density", "dense"]
    assert main([*args, "--policy", "text-only"]) == 0
    assert "0 image(s)" in capsys.readouterr().out
    assert main([*args, "--encoder", "gemini-2"]) == 0
    assert "encoder gemini-2" in capsys.readouterr().out


def test_render_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = Path(json.__file__).parent / "decoder.py"
    assert main(["render", str(source), "--model", "gpt-4o", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "code (python)" in out and "openai-tile" in out
    assert list(tmp_path.glob("decoder_page*.png"))


def test_profiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "anthropic" in out and "768x1536" in out and "512x2048" in out


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("{not json", [], "request.json: not JSON (Expecting property name enclosed in double quotes at line 1"),
        ('{"model": "gpt4o", "messages": [{"role": "user", "content": "hi"}]}', [], "did you mean gpt-4o"),
        (
            '{"model": "totally-made-up-model", "messages": [{"role": "user", "content": "hi"}]}',
            [],
            "unknown model 'totally-made-up-model'",
        ),
        ('{"model": "gpt-4o"}', [], "expected a chat request object with 'messages'"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', [], "no model given"),
        ('{"model": "gpt-4o", "messages": [{"role": "bot", "content": "hi"}]}', [], "messages[0].role"),
        ('{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}', ["--policy", "nope"], "no built-in"),
    ],
)
def test_route_errors_are_clear(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, args: list[str], message: str
) -> None:
    path = tmp_path / "request.json"
    path.write_text(content, encoding="utf-8")
    assert main(["route", str(path), *args]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1  # one line, however long: the path and the message are not broken up


def test_self_hosted_model_routes_once_its_encoder_is_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "request.json"
    path.write_text('{"model": "my-vlm", "messages": [{"role": "user", "content": "hi"}]}', encoding="utf-8")
    assert main(["route", str(path)]) == 1
    assert main(["route", str(path), "--encoder", "qwen2.5-vl"]) == 0
    assert main(["route", str(path), "--model", "hosted_vllm/my-vlm"]) == 0  # a provider prefix places it
    assert "Provider List" not in capsys.readouterr().out


def test_version_and_brackets_in_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("hcr ")
    missing = tmp_path / "request[fidelity].json"
    assert main(["route", str(missing)]) == 1
    assert "request[fidelity].json" in capsys.readouterr().err.replace("\n", "")  # not eaten as Rich markup


def test_json_outputs_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["route", str(EXAMPLES / "long_chat.json"), "--json"]) == 0
    routed = json.loads(capsys.readouterr().out)
    assert routed["report"]["tokens_after"] < routed["report"]["tokens_before"] and routed["out"] is None

    assert main(["profiles", "--json"]) == 0
    families = {p["name"]: p for p in json.loads(capsys.readouterr().out)}
    assert families["anthropic"]["page_width"] > 0 and "gemini-2" in families

    source = tmp_path / "shlex_like.py"
    source.write_text("\n".join(f"def f{i}(x):\n    return x * {i}  # step {i}\n" for i in range(300)))
    assert main(["render", str(source), "--model", "gpt-4o", "--out", str(tmp_path / "pages"), "--json"]) == 0
    drawn = json.loads(capsys.readouterr().out)
    assert drawn["kind"] == "code" and drawn["language"] == "python" and drawn["warning"] is None
    assert [p["file"] for p in drawn["pages"]] == sorted(p.name for p in (tmp_path / "pages").iterdir())


def test_render_warns_when_the_pages_cost_more_than_the_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "note.md"
    short.write_text("# Note\n\nShip it on Friday.\n")
    assert main(["render", str(short), "--model", "gpt-4o", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr()
    assert "the pages cost more than the text" in " ".join(printed.err.split())
    # Its one 512-px tile is paid for whatever the glyphs: it is drawn as large as the densities go.
    assert "(drawn at exact: same tokens)" in " ".join(printed.out.split())


def test_every_command_explains_its_options() -> None:
    hcr = shutil.which("hcr") or str(Path(sys.executable).parent / "hcr")
    for command in ("route", "render", "serve", "inspect", "calibrate", "bench", "profiles"):
        shown = subprocess.run([hcr, command, "--help"], capture_output=True, text=True, check=True).stdout
        options = [line.split()[0] for line in shown.splitlines() if line.strip().startswith("--")]
        undocumented = [line for line in shown.splitlines() if line.strip().startswith("--") and len(line.split()) < 2]
        assert options and not undocumented, (command, undocumented)
        assert "--log-level" in shown and "-v, --verbose" in shown


def test_log_level_and_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    assert main(["profiles", "--log-level", "debug"]) == 0
    assert logging.getLogger("router").level == logging.DEBUG
    assert main(["profiles", "-v"]) == 0
    assert logging.getLogger("router").level == logging.INFO
    assert main(["profiles"]) == 0
    assert logging.getLogger("router").level == logging.WARNING


def test_bench_says_which_extra_it_needs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["bench", "--quick", "--out", "unused"]) == 1
    said = " ".join(capsys.readouterr().err.split())
    assert "hcr bench needs the 'bench' extra (matplotlib missing)" in said
    assert "pip install 'hybrid-context-router[bench]'" in said  # brackets kept (not read as Rich markup)


def test_render_batch_in_a_pool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = []
    for n in range(3):
        path = tmp_path / "in" / f"module{n}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n".join(f"def f{i}(x):\n    return x * {i + n}  # step {i}\n" for i in range(150)))
        files.append(str(path))
    empty = tmp_path / "in" / "empty.md"
    empty.write_text("  \n")
    args = ["render", "--batch", *files, str(empty), "--model", "gpt-4o", "--out", str(tmp_path / "out")]
    assert main([*args, "--workers", "2", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["summary"]["files"] == 4 and done["summary"]["failed"] == 1 and done["summary"]["workers"] == 2
    drawn = [f for f in done["files"] if "error" not in f]
    assert [f["kind"] for f in drawn] == ["code"] * 3 and all(f["pages"] >= 1 for f in drawn)
    assert "the file is empty" in next(f["error"] for f in done["files"] if "error" in f)
    # The pool draws what a single render draws, byte for byte.
    assert main(["render", files[0], "--model", "gpt-4o", "--out", str(tmp_path / "single")]) == 0
    single = (tmp_path / "single" / "module0_page01.png").read_bytes()
    assert (Path(drawn[0]["out"]) / "page01.png").read_bytes() == single
