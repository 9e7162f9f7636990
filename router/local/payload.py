"""Stage 4b for self-hosted models: the prompt's pages sent as ``image_embeds`` parts for vLLM.

vLLM's OpenAI-compatible server, started with ``--enable-mm-embeds``, takes precomputed image
embeddings in chat messages. For Qwen2-VL family models each part carries the base64 of the
``torch.save``-serialised embedding tensor (tokens, hidden size of the LM) together with its
``image_grid_thw`` (3,), and an optional ``uuid`` that vLLM's multimodal cache keys on:

    {"type": "image_embeds",
     "image_embeds": {"image_embeds": "<base64>", "image_grid_thw": "<base64>"},
     "uuid": "..."}

Format from vLLM's docs/features/multimodal_inputs.md ("Embedding Inputs", online serving) and its
test ``test_parse_chat_messages_multiple_dict_image_embeds`` (tests/entrypoints/test_chat_utils.py),
where ``tensor2base64`` (vllm/utils/serial_utils.py) is base64 of ``torch.save`` bytes. vLLM refuses a
request that mixes raw images and embeddings ("Mixing raw image and embedding inputs is not
allowed"), so a request that carries the caller's own images keeps its pages as PNGs; so does one
whose embeddings would pass ``local.max_request_mb``. The page PNGs are the same either way, so the
token counts in the report do not change.
"""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from router._litellm import accept_image_embeds
from router.errors import RouterError
from router.local.encoder import EncodedPage, LocalSettings, LocalVisionEncoder, local_encoder
from router.models import EmbeddedPage, EmbeddingReport, Page

__all__ = ["embeds_part", "send_as_embeddings", "tensor_base64"]

logger = logging.getLogger(__name__)
_IMAGE_TYPES = ("image_url", "input_image", "image")


def tensor_base64(tensor: Any) -> str:
    """What vLLM's ``tensor2base64`` makes: base64 of the ``torch.save`` bytes."""
    import torch

    buffer = io.BytesIO()
    torch.save(tensor, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def embeds_part(page: EncodedPage, identity: str) -> dict[str, Any]:
    """One ``image_embeds`` content part for vLLM's chat API."""
    import torch

    return {
        "type": "image_embeds",
        "image_embeds": {
            "image_embeds": tensor_base64(page.embeds),
            "image_grid_thw": tensor_base64(torch.tensor(page.grid, dtype=torch.long)),
        },
        "uuid": f"hcr-{identity}-{page.key[:32]}",
    }


def send_as_embeddings(
    messages: Sequence[Any],
    pages: Mapping[int, list[Page]],
    checkpoint: str,
    settings: LocalSettings,
    *,
    wire: str = "openai",
) -> tuple[list[Any], EmbeddingReport]:
    """``messages`` with each of the router's page images replaced by its embeddings, and the report.

    Messages without one of those pages are passed on as the very same objects."""
    if wire != "openai":
        note = "embeddings travel in OpenAI chat messages only; this request's pages went as PNGs"
        return list(messages), EmbeddingReport(encoder=checkpoint, sent=False, note=note)
    accept_image_embeds()
    try:
        return _send(messages, pages, local_encoder(checkpoint, settings), settings)
    except (RouterError, RuntimeError, OSError) as exc:  # a tower that cannot load or run (out of memory...)
        logger.warning("local encoder %s failed; pages sent as PNGs: %s", checkpoint, exc)
        note = f"the local encoder failed ({type(exc).__name__}: {str(exc)[:200]}); the pages went as PNGs"
        return list(messages), EmbeddingReport(encoder=checkpoint, sent=False, note=note)


def _send(
    messages: Sequence[Any], pages: Mapping[int, list[Page]], encoder: LocalVisionEncoder, settings: LocalSettings
) -> tuple[list[Any], EmbeddingReport]:
    ours: dict[str, tuple[int, int, Page]] = {
        page.data_url: (chunk, k, page) for chunk, chunk_pages in pages.items() for k, page in enumerate(chunk_pages)
    }
    report = EmbeddingReport(encoder=encoder.identity, sent=False)
    if _carries_other_images(messages, ours):
        report.note = "the request carries its own images, and vLLM takes no mix of images and embeddings"
        return list(messages), report
    wanted = {url: place for url, place in ours.items() if _uses(messages, url)}
    size = sum(_payload_bytes(encoder, page) for _, _, page in wanted.values())
    if size > settings.max_request_mb * 1024 * 1024:
        report.note = f"embeddings of {size / 2**20:.2f} MiB pass local.max_request_mb ({settings.max_request_mb})"
        return list(messages), report
    started = time.perf_counter()
    urls = list(wanted)
    encoded = dict(zip(urls, encoder.encode([wanted[url][2].png for url in urls]), strict=True))
    report.encode_ms = (time.perf_counter() - started) * 1000
    parts = {url: embeds_part(page, encoder.identity) for url, page in encoded.items()}
    report.sent = True
    report.payload_bytes = sum(len(p["image_embeds"]["image_embeds"]) for p in parts.values())
    report.pages = [
        EmbeddedPage(chunk=wanted[url][0], page=wanted[url][1], tokens=page.tokens, source=page.source)
        for url, page in encoded.items()
    ]
    return [_replaced(message, parts) for message in messages], report


def _image_url(part: Any) -> str | None:
    if not isinstance(part, Mapping) or part.get("type") not in _IMAGE_TYPES:
        return None
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    return url if isinstance(url, str) else ""


def _parts(message: Any) -> list[Any]:
    content = message.get("content") if isinstance(message, Mapping) else None
    return content if isinstance(content, list) else []


def _carries_other_images(messages: Sequence[Any], ours: Mapping[str, Any]) -> bool:
    return any(
        (url := _image_url(part)) is not None and url not in ours for message in messages for part in _parts(message)
    )


def _uses(messages: Sequence[Any], url: str) -> bool:
    return any(_image_url(part) == url for message in messages for part in _parts(message))


def _payload_bytes(encoder: LocalVisionEncoder, page: Page) -> int:
    """Base64 bytes of a page's embeddings, known from its grid before anything is encoded."""
    tokens = encoder.settings.tokens(page.width, page.height)
    itemsize = 4 if encoder.local.payload_dtype == "float32" else 2
    return tokens * encoder.hidden_size * itemsize * 4 // 3


def _replaced(message: Any, parts: Mapping[str, dict[str, Any]]) -> Any:
    content = _parts(message)
    if not any(_image_url(part) in parts for part in content):
        return message
    return {**message, "content": [parts.get(_image_url(part) or "", part) for part in content]}
