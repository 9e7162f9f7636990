"""The record users can check: the proxy's event log, ``hcr stats`` over it, and the saving written
where LiteLLM's spend tracking reads it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import anthropic
import openai
import pytest

from router import Router
from router.cli import main
from router.errors import RouterError
from router.events import read_events
from router.integrations.litellm_hook import RoutingHook
from router.testing import AnthropicBackend, OpenAIBackend
from tests.inspector.servers import TENANT_A, TENANT_B, proxy

QUESTION = "Which freedoms does the preamble list?"


def document(prose: str) -> list[dict]:
    return [{"role": "user", "content": f"Here is a licence:\n\n{prose}\n\n{QUESTION}"}]


def test_the_proxy_logs_one_line_per_request(
    tmp_path: Path, openai_backend: OpenAIBackend, anthropic_backend: AnthropicBackend, english_prose: str
) -> None:
    log = tmp_path / "events" / "hcr.jsonl"
    with proxy(openai_backend, anthropic_backend, event_log=str(log)) as url:
        gpt = openai.OpenAI(base_url=url + "/v1", api_key=TENANT_A, max_retries=0)
        gpt.chat.completions.create(model="gpt", messages=document(english_prose))
        gpt.chat.completions.create(model="gpt", messages=document(english_prose), extra_headers={"x-hcr-bypass": "1"})
        claude = anthropic.Anthropic(base_url=url, api_key=TENANT_B, max_retries=0)
        with claude.messages.stream(model="claude", max_tokens=20, messages=document(english_prose)) as stream:
            stream.get_final_text()
    events = list(read_events(log))
    assert [(e["model"], e["status"], e["bypassed"]) for e in events] == [
        ("gpt", 200, False), ("gpt", 200, True), ("claude", 200, False),
    ]  # fmt: skip
    routed, bypassed, streamed = events
    assert routed["tokens_after"] < routed["tokens_before"] and routed["images"] >= 1 and routed["image_bytes"] > 0
    assert routed["billed_input_tokens"] == 10 and routed["cost_before"] > routed["cost_after"]
    assert {c["action"] for c in routed["chunks"]} == {"text", "image"}
    assert "tokens_before" not in bypassed
    assert streamed["billed_input_tokens"] == 10  # read from the stream's message_start, written when it ended
    assert routed["key"] != streamed["key"] and TENANT_A not in log.read_text()  # a digest, never the key
    assert english_prose[:40] not in log.read_text() and QUESTION not in log.read_text()


def write_log(path: Path) -> None:
    lines = [
        {"time": "2026-11-29T10:00:00Z", "model": "gpt", "key": "a", "tokens_before": 10_000, "tokens_after": 3_000,
         "cost_before": 0.025, "cost_after": 0.0075, "billed_input_tokens": 3_100},
        {"time": "2026-11-29T11:00:00Z", "model": "gpt", "key": "b", "tokens_before": 8_000, "tokens_after": 2_000,
         "cost_before": 0.02, "cost_after": 0.005},
        {"time": "2026-11-30T09:00:00Z", "model": "claude", "key": "a", "tokens_before": 900, "tokens_after": 1_200,
         "cost_before": 0.0027, "cost_after": 0.0036, "billed_input_tokens": 1_180},
        {"time": "2026-11-30T09:05:00Z", "model": "claude", "key": "a", "status": 200, "bypassed": True},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"time": "2026-11-30T09:06', "utf-8")


def test_stats_by_model_day_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "events.jsonl"
    write_log(log)  # its last line was cut short by a crash: skipped
    assert main(["stats", str(log), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    groups = {g["name"]: g for g in summary["groups"]}
    assert groups["gpt"]["saved"] == 13_000 and groups["gpt"]["requests"] == 2
    assert groups["claude"]["saved"] == -300 and groups["claude"]["routed"] == 1 and groups["claude"]["requests"] == 2
    assert [g["name"] for g in summary["groups"]] == ["gpt", "claude"]  # the loss is shown, last
    assert summary["total"]["money_saved"] == pytest.approx(0.0175 + 0.015 - 0.0009)
    assert summary["total"]["billed_vs_estimate"] == pytest.approx((3_100 + 1_180) / (3_000 + 1_200))

    assert main(["stats", str(log), "--by", "day", "--json"]) == 0
    days = [(g["name"], g["saved"]) for g in json.loads(capsys.readouterr().out)["groups"]]
    assert days == [("2026-11-29", 13_000), ("2026-11-30", -300)]
    assert main(["stats", str(log), "--by", "key"]) == 0
    table = capsys.readouterr().out
    assert "total" in table and "12,700" in table and "billed / estimate" in table


def test_a_broken_log_is_named_by_line(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"model": "gpt"}\nnot json\n{"model": "gpt"}\n', "utf-8")
    with pytest.raises(RouterError, match=r"events.jsonl:2: not a JSON line"):
        list(read_events(log))
    with pytest.raises(RouterError, match="no event log here"):
        list(read_events(tmp_path / "missing.jsonl"))


def test_litellm_spend_logs_get_the_saving(english_prose: str) -> None:
    hook = RoutingHook(Router())
    metadata: dict = {"user_api_key_alias": "team-a"}
    kwargs = {"model": "gpt-4o", "messages": document(english_prose), "litellm_metadata": metadata}
    sent = asyncio.run(hook.async_pre_call_deployment_hook(kwargs, "acompletion"))
    assert sent is not None
    savings = metadata["compression_savings"]  # the very dict LiteLLM's logging holds
    assert savings["source"] == "hcr" and savings["tokens_saved"] == savings["tokens_before"] - savings["tokens_after"]
    assert savings["tokens_saved"] > 0
