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
    assert message in capsys.readouterr().err.replace("\n", " ").replace("  ", " ")


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
