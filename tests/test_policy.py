"""Policies: shipped presets load (also from a built wheel), bad files fail with file:line and field."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from router.errors import PolicyError
from router.models import Chunk
from router.policy import Policy
from router.render.density import calibration_table
from router.target import resolve_target

ROOT = Path(__file__).resolve().parent.parent


def chunk(**fields: object) -> Chunk:
    base = dict(
        index=0, message_index=0, start=0, end=10, role="user", age=3, live_turn=False, kind="prose",
        script="latin", text="x" * 10, chars=10, text_tokens=5000,
    )  # fmt: skip
    return Chunk(**{**base, **fields})


@pytest.mark.parametrize("name", ["default", "conservative", "aggressive", "text-only"])
def test_shipped_policies_load(name: str) -> None:
    assert Policy.builtin(name).name == name


def test_unknown_builtin_lists_the_shipped_ones() -> None:
    with pytest.raises(PolicyError, match="shipped: aggressive, conservative, default, text-only"):
        Policy.builtin("nope")


def test_bad_field_names_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: t\nrules:\n  - name: a\n    action: text\n  - name: b\n    when:\n      kind: poetry\n"
        "    action: image\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as caught:
        Policy.from_yaml(path)
    message = str(caught.value)
    assert f"{path}:7: rules.1.when.kind.0" in message
    assert "'prose'" in message  # says what was expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules: [\n", ":2: not valid YAML"),
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("min_saving: -1\n", ":1: min_saving: Input should be greater than 0"),
        ("rules:\n  - name: a\n    action: image\n    density: huge\n", ":4: rules.0.density"),
        ("rules:\n  - name: a\n    when: {regex: '('}\n    action: text\n", "not a valid regular expression"),
        ("models:\n  - match: '*'\n    encoder: gpt9\n", ":3: models.0.encoder"),
        ("colour: blue\n", ":1: colour: Extra inputs are not permitted"),
        ("rules:\n  - {name: a, action: text}\n  - {name: a, action: image}\n", "rule name 'a' is used twice"),
    ],
)
def test_policy_errors(text: str, expected: str) -> None:
    with pytest.raises(PolicyError, match=None) as caught:
        Policy.from_yaml_text(text, source="p.yaml")
    assert expected in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(PolicyError, match="cannot read the file"):
        Policy.from_yaml("/nonexistent/policy.yaml")


def test_first_matching_rule_wins_then_guards() -> None:
    policy = Policy.from_yaml_text(
        "min_tokens: 100\nrules:\n"
        "  - {name: secrets, when: {regex: 'API_KEY'}, action: text}\n"
        "  - {name: old, when: {min_age: 2}, action: image, density: dense}\n"
        "  - {name: rest, action: text}\n"
    )
    target = resolve_target(policy, "gpt-4o")
    assert policy.decide(chunk(text="the API_KEY is"), target).reason == "rule:secrets"
    decision = policy.decide(chunk(), target)
    assert (decision.action, decision.reason, decision.density) == ("image", "rule:old", "dense")
    assert policy.decide(chunk(age=0), target).reason == "rule:rest"
    assert policy.decide(chunk(), resolve_target(policy, "gpt-3.5-turbo")).reason.startswith("guard:no-vision")
    assert policy.decide(chunk(role="assistant"), target).reason.startswith("guard:role")
    assert policy.decide(chunk(role="tool"), target).reason == "rule:old"  # tool results are context too
    assert policy.decide(chunk(text="key AKIAIOSFODNN7EXAMPLE"), target).reason.startswith("guard:secret")
    assert policy.decide(chunk(text_tokens=50), target).reason.startswith("guard:short-text")
    forced = resolve_target(policy, "gpt-4o", density="exact")  # the request's density beats the rule's
    assert policy.decide(chunk(), forced).density == "exact"


def test_agent_conditions_tool_name_turns_and_answered() -> None:
    policy = Policy.from_yaml_text(
        "rules:\n"
        "  - {name: acting, when: {role: tool, answered: false}, action: text}\n"
        "  - {name: reads, when: {tool_name: ['read_*', 'cat'], max_turns: 1}, action: image, density: dense}\n"
        "  - {name: old-turns, when: {min_turns: 2}, action: image}\n"
        "  - {name: rest, action: text}\n"
    )
    target = resolve_target(policy, "gpt-4o")
    assert policy.decide(chunk(role="tool", tool_name="read_file"), target).reason == "rule:acting"
    answered = chunk(role="tool", tool_name="read_file", answered=True)
    assert policy.decide(answered, target).reason == "rule:reads"
    assert policy.decide(answered.model_copy(update={"tool_name": "bash"}), target).reason == "rule:rest"
    assert policy.decide(answered.model_copy(update={"turns_after": 3}), target).reason == "rule:old-turns"
    assert policy.decide(chunk(turns_after=1), target).reason == "rule:rest"


def test_model_overrides_set_encoder_and_vision() -> None:
    policy = Policy.from_yaml_text("models:\n  - {match: 'hosted_vllm/*', encoder: qwen3-vl, vision: true}\n")
    assert policy.encoder_for("hosted_vllm/my-local-vlm").name == "qwen3-vl"
    assert policy.vision_for("hosted_vllm/my-local-vlm") is True
    assert policy.vision_for("gpt-3.5-turbo") is False
    assert policy.vision_for("gpt-4o") is True


def test_default_policy_loads_from_an_installed_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())  # the inspector's pages and assets ship too
    for name in ("templates/requests.html", "templates/request.html", "static/inspector.js", "static/inspector.css"):
        assert f"router/inspector/{name}" in shipped, name
    # Import the package from the wheel itself (a zip), not from the checkout.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import router; "
        "assert router.__file__.startswith(sys.argv[1]), router.__file__; "
        "print(router.Policy.builtin('default').name, len(router.Policy.builtin('aggressive').rules)); "
        "from router.tools.calibration_samples import corpus; from router.render.density import calibration_table; "
        "print(len(calibration_table().encoders), sorted(corpus()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(wheel)], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["default", str(len(Policy.builtin("aggressive").rules))]
    # The calibration table and corpus ship as package data.
    assert lines[1] == f"{len(calibration_table().encoders)} ['cjk', 'data', 'latin', 'logs', 'mono', 'table']"
