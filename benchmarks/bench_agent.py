"""Agent-session benchmark: what routing saves on a coding agent's growing history, turn by turn.

    python benchmarks/bench_agent.py [--out benchmarks/results] [--max-chars 26000]

The session (``router.tools.agent_session``) is built from real files on this machine: a CPython
module, dpkg's log, an installed package's README, litellm's price map as JSON, a stdlib diff and
the GPL, returned as tool results over six turns; each turn's newest result is unanswered (the model
is acting on it) and stays text under the default policy. One Router per encoder family routes every
turn in order, as an agent's requests arrive, on that family's wire format. Per turn it records text
tokens before (the model's own tokenizer, via litellm), tokens after (text + image tokens + labels and
factsheets), images and PNG bytes, and how much of the previous request is resent byte-identical as
the next one's prefix (what the provider's prompt cache can reuse): of the history before the
previous request's newest result, the share the next request resends unchanged. Writes ``bench_agent.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from rich.console import Console
from rich.table import Table

from router import Router
from router.models import ChunkReport
from router.tools.agent_session import session_requests

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {  # family -> (model, wire the agent speaks)
    "anthropic": ("claude-sonnet-4-6", "anthropic"),
    "openai-tile": ("gpt-4o", "openai"),
    "gemini-2": ("gemini/gemini-2.5-flash", "openai"),
    "qwen2.5-vl": ("hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct", "openai"),
}
console = Console(width=None if sys.stdout.isatty() else 160)


def _stable_prefix_bytes(previous: list[Any], current: list[Any]) -> int:
    """Bytes of ``previous`` (as JSON) that ``current`` resends unchanged at its start, message by message."""
    stable = 0
    for before, now in zip(previous, current, strict=False):
        if before != now:
            break
        stable += len(json.dumps(before))
    return stable


def _chunk_row(c: ChunkReport) -> dict[str, Any]:
    return {
        "message": c.message_index, "tool": c.tool_name, "kind": c.kind, "action": c.action, "reason": c.reason,
        "density": c.density, "text_tokens": c.text_tokens, "tokens_after": c.tokens_after,
    }  # fmt: skip


def _last_assistant(messages: list[Any]) -> int:
    return max(i for i, m in enumerate(messages) if m["role"] == "assistant")


def run_family(family: str, model: str, wire: str, max_chars: int) -> dict[str, Any]:
    router = Router()
    turns: list[dict[str, Any]] = []
    previous: list[Any] | None = None
    for number, request in enumerate(session_requests(wire, max_chars=max_chars), start=1):  # type: ignore[arg-type]
        started = time.perf_counter()
        routed = router.route(request["messages"], model, system=request.get("system"), wire=wire)  # type: ignore[arg-type]
        wall_ms = (time.perf_counter() - started) * 1000
        report = routed.report
        sent = routed.messages
        stable = _stable_prefix_bytes(previous, sent) if previous is not None else None
        # What the previous request held before its newest result (the one the model had not answered,
        # sent as text then and drawn now that it is history): the part the prompt cache can keep.
        history = previous[: _last_assistant(previous) + 1] if previous is not None else None
        history_bytes = sum(len(json.dumps(m)) for m in history) if history is not None else None
        newest = max(c.message_index for c in report.chunks if c.role == "tool")
        turns.append(
            {
                "turn": number,
                "tokens_before": report.tokens_before,
                "tokens_after": report.tokens_after,
                "saved": round(1 - report.tokens_after / report.tokens_before, 4),
                "newest_result_tokens": sum(c.text_tokens for c in report.chunks if c.message_index == newest),
                "newest_result_as_text": all(c.action == "text" for c in report.chunks if c.message_index == newest),
                "images": report.images,
                "png_bytes": sum(len(p.png) for pages in routed.pages.values() for p in pages),
                "request_bytes": len(json.dumps(sent)),
                "stable_prefix_bytes": stable,
                "stable_history_share": round(min(stable, history_bytes) / history_bytes, 4)
                if stable is not None and history_bytes
                else None,
                "route_ms": round(wall_ms, 1),
                "chunks": [_chunk_row(c) for c in report.chunks if c.role == "tool"],
            }
        )
        previous = sent
    return {"family": family, "model": model, "wire": wire, "turns": turns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--max-chars", type=int, default=26000, help="characters of each tool result")
    args = parser.parse_args()

    results = [run_family(f, model, wire, args.max_chars) for f, (model, wire) in FAMILIES.items()]
    title = "Agent session, final turn (default policy; newest tool result stays text)"
    table = Table(title=title, title_justify="left")
    for column in ("family", "model", "turns", "tokens before", "tokens after", "saved", "images", "PNG KiB",
                   "history resent as is (min over turns)", "route ms (turn 1..n)"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("family", "model") else "right")
    for result in results:
        last = result["turns"][-1]
        shares = [t["stable_history_share"] for t in result["turns"] if t["stable_history_share"] is not None]
        table.add_row(
            result["family"], result["model"], str(len(result["turns"])), f"{last['tokens_before']:,}",
            f"{last['tokens_after']:,}", f"{last['saved']:.1%}", str(last["images"]), f"{last['png_bytes'] / 1024:.0f}",
            f"{min(shares):.1%}" if shares else "-", " / ".join(f"{t['route_ms']:.0f}" for t in result["turns"]),
        )  # fmt: skip
    console.print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "max_chars": args.max_chars,
        "results": results,
    }
    (args.out / "bench_agent.json").write_text(json.dumps(record, indent=2) + "\n")
    console.print(f"wrote {args.out / 'bench_agent.json'}")


if __name__ == "__main__":
    main()
