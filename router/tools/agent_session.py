"""A coding-agent session built from real files on this machine, as the requests an agent sends.

An agent resends its whole history every turn: turn ``n``'s request is turn ``n-1``'s plus the
model's reply (a tool call) and that tool's result, which the model has not answered yet. The tool
results are real: a CPython module read from disk, dpkg's log, an installed package's markdown
README, litellm's price map as JSON, a ``diff -u`` of two standard-library modules, and the GPL. The
same session comes in both wire formats (OpenAI ``tool`` messages; Anthropic ``tool_use`` /
``tool_result`` blocks), so the benchmark and the tests route what an agent really sends.

    requests = session_requests(wire="openai")      # one request per turn, growing
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from router.tools import bench_corpus

__all__ = ["TASK", "ToolStep", "session_requests", "session_steps"]

SYSTEM = "You are a coding agent working in a Debian container. Use the tools; answer briefly."
TASK = "The nightly build broke after the last package upgrade. Find out what changed and why."


@dataclass(frozen=True)
class ToolStep:
    """One model turn: what it said, the tool it called with which arguments, and what came back."""

    said: str
    tool: str
    arguments: dict[str, Any]
    result: str


def session_steps(max_chars: int = 26000) -> list[ToolStep]:
    """The session's tool calls, in order; each result cut to about ``max_chars`` characters."""
    found = [
        ("", "read_file", {"path": "Lib/argparse.py"}, bench_corpus.argparse_code(max_chars)),
        ("The parser code looks unchanged; checking what dpkg installed.", "bash",
         {"command": "cat /var/log/dpkg.log"}, bench_corpus.dpkg_log(max_chars)),
        ("Several upgrades. Reading the client library's documentation.", "read_file",
         {"path": "docs/README.md"}, bench_corpus.package_readme(max_chars)),
        ("Checking the model prices the build job reads.", "http_get",
         {"url": "https://example.invalid/model_prices.json"}, _prices(max_chars)),
        ("Comparing the two modules the failing step imports.", "bash",
         {"command": "diff -u Lib/textwrap.py Lib/shlex.py"}, bench_corpus.stdlib_diff(max_chars)),
        ("Finally, the licence the packaging step checks.", "read_file",
         {"path": "/usr/share/common-licenses/GPL-3"}, bench_corpus.gpl_prose(max_chars)),
    ]  # fmt: skip
    return [ToolStep(said, tool, args, doc.text) for said, tool, args, doc in found if doc is not None]


def session_requests(
    wire: Literal["openai", "anthropic"] = "openai", *, max_chars: int = 26000
) -> list[dict[str, Any]]:
    """One request (``messages``, and ``system`` on the Anthropic wire) per turn of the session."""
    steps = session_steps(max_chars)
    requests: list[dict[str, Any]] = []
    messages: list[dict[str, Any]]
    for turn in range(1, len(steps) + 1):
        if wire == "openai":
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}]
            messages += [m for n, step in enumerate(steps[:turn]) for m in _openai_turn(n, step)]
            requests.append({"messages": messages})
        else:
            messages = [{"role": "user", "content": TASK}]
            messages += [m for n, step in enumerate(steps[:turn]) for m in _anthropic_turn(n, step)]
            requests.append({"system": SYSTEM, "messages": messages})
    return requests


def _prices(max_chars: int) -> bench_corpus.Document:
    """litellm's price entries for OpenAI and Anthropic models, as a whole JSON document (an API's answer)."""
    providers = ("anthropic", "openai")
    entries = {k: v for k, v in bench_corpus.price_map().items() if v.get("litellm_provider") in providers}
    chosen: dict[str, Any] = {}
    for name, entry in entries.items():
        if len(json.dumps({**chosen, name: entry}, indent=2)) > max_chars:
            break
        chosen[name] = entry
    text = json.dumps(chosen, indent=2)
    return bench_corpus.Document(name="litellm-prices-json", kind="json", source="litellm model price map", text=text)


def _openai_turn(n: int, step: ToolStep) -> list[dict[str, Any]]:
    function = {"name": step.tool, "arguments": json.dumps(step.arguments)}
    call = {"id": f"call_{n}", "type": "function", "function": function}
    return [
        {"role": "assistant", "content": step.said or None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{n}", "content": step.result},
    ]


def _anthropic_turn(n: int, step: ToolStep) -> list[dict[str, Any]]:
    said = [{"type": "text", "text": step.said}] if step.said else []
    use = {"type": "tool_use", "id": f"toolu_{n}", "name": step.tool, "input": step.arguments}
    result = {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": step.result}
    return [{"role": "assistant", "content": [*said, use]}, {"role": "user", "content": [result]}]
