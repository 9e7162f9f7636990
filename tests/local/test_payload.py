"""Pages reach a self-hosted model as vLLM ``image_embeds`` parts: through litellm to a real HTTP
server on 127.0.0.1, through the proxy with the official client, and never from a caller."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import torch

from router import Policy, Router
from router.errors import InvalidRequestError
from router.local.encoder import LocalSettings, local_encoder
from router.proxy.app import create_app
from router.proxy.config import ProxyConfig
from router.testing import OpenAIBackend
from tests.inspector.servers import serving

MODEL = "hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct"
KEY = "sk-hcr-local-encoder-0123456789"


def local_policy(checkpoint: Path, **local: Any) -> Policy:
    policy = Policy.builtin("default")
    return Policy.from_yaml_text(
        f"models:\n  - {{match: 'hosted_vllm/*', encoder: local, checkpoint: '{checkpoint}', vision: true}}\n"
        f"rules: {[r.model_dump(exclude_none=True) for r in policy.rules]}\n"
    ).model_copy(update={"local": LocalSettings(**local)})


def decoded(value: str) -> torch.Tensor:
    """What vLLM does with the field: base64, then ``torch.load`` (weights only: no code runs)."""
    return torch.load(io.BytesIO(base64.b64decode(value)), weights_only=True)


def embeds_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for m in body["messages"] if isinstance(m["content"], list) for p in m["content"]
            if p["type"] == "image_embeds"]  # fmt: skip


def test_the_backend_receives_each_page_as_its_embeddings(tower_dir: Path, english_prose: str) -> None:
    router = Router(local_policy(tower_dir))
    messages = [{"role": "user", "content": english_prose * 3 + "\n\nWhich freedoms does it name?"}]
    with OpenAIBackend() as backend:
        response = router.completion(model=MODEL, messages=messages, api_base=backend.url + "/v1", api_key="x")
        body = backend.last.body
    report = response.routing_report
    assert report.encoder == "qwen2.5-vl (local)" and report.embeddings.sent
    parts = embeds_parts(body)
    assert len(parts) == report.images == len(report.embeddings.pages) >= 1
    assert not any(p["type"] == "image_url" for m in body["messages"] for p in m["content"])
    encoder = local_encoder(str(tower_dir), router.policy.local)
    for part, page in zip(parts, report.embeddings.pages, strict=True):
        embeds, grid = decoded(part["image_embeds"]["image_embeds"]), decoded(part["image_embeds"]["image_grid_thw"])
        assert grid.shape == (3,) and embeds.shape == (int(grid.prod()) // 4, encoder.hidden_size) == (page.tokens, 48)
        assert embeds.dtype == torch.bfloat16 and part["uuid"].startswith(f"hcr-{encoder.identity}-")
    # What was sent is what the encoder makes of the routed pages.
    routed = router.route(messages, model=MODEL)
    pages = [p for ps in routed.pages.values() for p in ps]
    again = encoder.encode([p.png for p in pages])
    assert all(torch.equal(decoded(part["image_embeds"]["image_embeds"]), page.embeds)
               for part, page in zip(parts, again, strict=True))  # fmt: skip
    assert {p.source for p in routed.report.embeddings.pages} == {"memory"}  # the second time: no encoding
    # The question stays text, and the billed tokens are what the pages' embeddings count.
    texts = [p["text"] for m in body["messages"] for p in m["content"] if p["type"] == "text"]
    assert any("Which freedoms does it name?" in t for t in texts)
    image_tokens = sum(c.image_tokens for c in report.chunks)
    assert image_tokens == sum(p.tokens + 2 for p in report.embeddings.pages)


def test_a_request_with_its_own_images_keeps_pngs(tower_dir: Path, english_prose: str) -> None:
    photo = "data:image/png;base64," + base64.b64encode(_tiny_png()).decode()
    messages = [{"role": "user", "content": [{"type": "text", "text": english_prose * 3},
                                             {"type": "image_url", "image_url": {"url": photo}}]}]  # fmt: skip
    routed = Router(local_policy(tower_dir)).route(messages, model=MODEL)
    assert routed.report.embeddings is not None and not routed.report.embeddings.sent
    assert "no mix of images and embeddings" in (routed.report.embeddings.note or "")
    assert not embeds_parts({"messages": routed.messages}) and routed.report.images >= 1


def test_the_anthropic_wire_and_oversized_payloads_keep_pngs(tower_dir: Path, english_prose: str) -> None:
    messages = [{"role": "user", "content": english_prose * 3}]
    anthropic = Router(local_policy(tower_dir)).route(messages, model=MODEL, wire="anthropic")
    assert "OpenAI chat messages only" in (anthropic.report.embeddings.note or "")  # type: ignore[union-attr]
    small = Router(local_policy(tower_dir, max_request_mb=0.01)).route(messages, model=MODEL)
    assert small.report.embeddings is not None and not small.report.embeddings.sent
    assert "pass local.max_request_mb (0.01)" in (small.report.embeddings.note or "")
    assert any(p["type"] == "image_url" for m in small.messages if isinstance(m["content"], list) for p in m["content"])


def test_an_encoder_that_cannot_run_leaves_the_pages_as_pngs(
    tmp_path: Path, tower_dir: Path, english_prose: str
) -> None:
    for name in ("config.json", "preprocessor_config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((tower_dir / name).read_bytes())
    router = Router(local_policy(tmp_path))  # the policy checked the checkpoint when it loaded
    (tmp_path / "model.safetensors").unlink()  # then its weights went away
    routed = router.route([{"role": "user", "content": english_prose * 3}], model=MODEL)
    assert routed.report.embeddings is not None and not routed.report.embeddings.sent
    assert "the local encoder failed (ConfigError" in (routed.report.embeddings.note or "")
    assert routed.report.images >= 1 and not embeds_parts({"messages": routed.messages})


def test_callers_cannot_send_embeddings_on_any_path(tower_dir: Path, tmp_path: Path) -> None:
    hostile = [{"role": "user", "content": [{"type": "image_embeds", "image_embeds": "AAAA"}]}]
    router = Router(local_policy(tower_dir))
    with pytest.raises(InvalidRequestError, match=r"messages\[0\].content\[0\].type: 'image_embeds' parts are not"):
        router.route(hostile, model=MODEL)
    with pytest.raises(InvalidRequestError):
        router.check(hostile, MODEL)  # the check bypassed requests get
    with OpenAIBackend() as backend, serving(create_app(_proxy_config(tmp_path, tower_dir, backend))) as url:
        for headers in ({}, {"x-hcr-bypass": "1"}):
            refused = httpx.post(url + "/v1/chat/completions", json={"model": "qwen", "messages": hostile},
                                 headers={"authorization": f"Bearer {KEY}", **headers})  # fmt: skip
            assert refused.status_code == 400 and "image_embeds" in refused.text
        assert not backend.requests


def test_the_proxy_sends_embeddings_to_a_vllm_deployment(tower_dir: Path, tmp_path: Path, english_prose: str) -> None:
    with OpenAIBackend() as backend, serving(create_app(_proxy_config(tmp_path, tower_dir, backend))) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=60)
        raw = client.chat.completions.with_raw_response.create(
            model="qwen", messages=[{"role": "user", "content": english_prose * 3 + "\n\nSummarise."}]
        )
        assert raw.parse().choices[0].message.content == "The answer is 42."
        parts = embeds_parts(backend.last.body)
        assert parts and int(raw.headers["x-hcr-images"]) == len(parts)
        assert backend.last.body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
        assert list((tmp_path / "store").rglob("*.safetensors"))  # the policy's store was filled


def _proxy_config(tmp_path: Path, checkpoint: Path, backend: OpenAIBackend) -> ProxyConfig:
    policy = tmp_path / "local.yaml"
    rules = Policy.builtin("default").rules
    policy.write_text(
        f"models:\n  - {{match: 'hosted_vllm/*', encoder: local, checkpoint: '{checkpoint}', vision: true}}\n"
        f"local: {{cache_dir: '{tmp_path / 'store'}'}}\n"
        f"rules: {[r.model_dump(exclude_none=True) for r in rules]}\n"
    )
    return ProxyConfig.model_validate({
        "model_list": [{"model_name": "qwen", "litellm_params": {"model": MODEL, "api_base": backend.url + "/v1",
                                                                 "api_key": "up"}}],
        "general_settings": {"master_key": KEY, "policy": str(policy)},
    })  # fmt: skip


def _tiny_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
    return buffer.getvalue()
