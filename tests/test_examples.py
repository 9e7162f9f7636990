"""Every example runs end to end in local mode (no API key): it says so, routes, and stays offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def test_there_are_examples() -> None:
    assert {"code_review.py", "litellm_proxy_plugin.py", "chinese_document.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_locally(script: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    result = subprocess.run(
        [sys.executable, script], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "using a local" in output and "answer: The answer is 42." in output
    assert "routed for" in output or "image block(s)" in output
    assert "cost map fetch" not in output and "raw.githubusercontent" not in output, output  # stayed offline
