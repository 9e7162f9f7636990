"""Router.completion through litellm to real HTTP servers speaking each provider's wire format.

The assertions are on what arrived over the wire: images in the provider's own format, text chunks
unchanged and in order, every other request field intact, streaming working.
"""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image

from router import Router, get_report
from router.testing import REPLY, AnthropicBackend, GeminiBackend, OpenAIBackend

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a term up",
            "parameters": {"type": "object", "properties": {"term": {"type": "string"}}, "required": ["term"]},
        },
    }
]
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}},
}
QUESTION = "Which freedoms does the preamble list?"


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def request(prose: str) -> list[dict]:
    return [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": f"Here is a licence:\n\n{prose}\n\n{QUESTION}"},
    ]


def png_size(data: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(data))).size


def test_openai_wire(router: Router, openai_backend: OpenAIBackend, english_prose: str) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"term": "GPL"}'}}
    messages = [
        *request(english_prose),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "GPL: a copyleft licence"},
    ]
    response = router.completion(
        model="openai/gpt-4o",
        messages=messages,
        api_base=openai_backend.url,
        api_key="sk-test",
        tools=TOOLS,
        tool_choice="auto",
        response_format=RESPONSE_FORMAT,
        seed=7,
        temperature=0.1,
    )
    assert response.choices[0].message.content == REPLY
    report = get_report(response)
    assert report is response.routing_report and report.images >= 1
    assert report.billed_input_tokens == 10  # the backend's usage, beside the estimate
    assert report.summary()["billed_input_tokens"] == 10

    body = openai_backend.last.body
    assert openai_backend.last.path.endswith("/chat/completions")
    assert body["tools"] == TOOLS and body["tool_choice"] == "auto" and body["seed"] == 7
    assert body["response_format"] == RESPONSE_FORMAT and body["temperature"] == 0.1
    sent = body["messages"]
    assert sent[0] == {"role": "system", "content": "Answer briefly."}
    assert sent[2]["tool_calls"] == [call] and sent[3] == messages[3]  # tool round-trip untouched
    parts = sent[1]["content"]
    kinds = [p["type"] for p in parts]
    assert kinds[0] == "text" and kinds[-1] == "text" and "image_url" in kinds
    assert parts[0]["text"].startswith("Here is a licence:\n\n")
    assert parts[-1]["text"].endswith(QUESTION)
    for part in parts:
        if part["type"] == "image_url":
            header, data = part["image_url"]["url"].split(",", 1)
            assert header == "data:image/png;base64" and part["image_url"]["detail"] == "high"
            width, height = png_size(data)
            assert width <= 512 and height <= 2048  # the tile model's strip


def test_anthropic_wire(router: Router, anthropic_backend: AnthropicBackend, english_prose: str) -> None:
    response = router.completion(
        model="anthropic/claude-sonnet-4-6",
        messages=request(english_prose),
        api_base=anthropic_backend.url,
        api_key="sk-ant-test",
        max_tokens=64,
        tools=TOOLS,
    )
    assert response.choices[0].message.content == REPLY and response.routing_report.encoder == "anthropic"
    assert response.routing_report.billed_input_tokens == 10  # Anthropic's input_tokens, through litellm
    body = anthropic_backend.last.body
    assert anthropic_backend.last.path == "/v1/messages"
    assert body["system"][0]["text"] == "Answer briefly." and body["max_tokens"] == 64
    assert body["tools"][0]["name"] == "lookup"
    blocks = body["messages"][0]["content"]
    images = [b for b in blocks if b["type"] == "image"]
    assert images and all(b["source"]["type"] == "base64" and b["source"]["media_type"] == "image/png" for b in images)
    for block in images:
        width, height = png_size(block["source"]["data"])
        assert max(width, height) <= 1568 and width * height <= 1092 * 1092  # never downscaled by Anthropic
    assert blocks[0]["text"].startswith("Here is a licence:") and blocks[-1]["text"].endswith(QUESTION)


def test_gemini_wire(router: Router, gemini_backend: GeminiBackend, english_prose: str) -> None:
    response = router.completion(
        model="gemini/gemini-2.5-flash",
        messages=request(english_prose),
        api_base=gemini_backend.url,
        api_key="test-key",
    )
    assert response.choices[0].message.content == REPLY and response.routing_report.encoder == "gemini-2"
    recorded = gemini_backend.last
    assert recorded.path.startswith("/models/gemini-2.5-flash:generateContent")
    parts = recorded.body["contents"][0]["parts"]
    inline = [p["inline_data"] for p in parts if "inline_data" in p]
    assert inline and {p["mime_type"] for p in inline} == {"image/png"}
    assert parts[0]["text"].startswith("Here is a licence:") and parts[-1]["text"].endswith(QUESTION)
    assert recorded.body["system_instruction"]["parts"][0]["text"] == "Answer briefly."


@pytest.mark.parametrize(
    ("backend_class", "model"),
    [
        (OpenAIBackend, "openai/gpt-4o"),
        (AnthropicBackend, "anthropic/claude-sonnet-4-6"),
        (GeminiBackend, "gemini/gemini-2.5-flash"),
    ],
)
def test_streaming(router: Router, backend_class: type, model: str, english_prose: str) -> None:
    with backend_class() as backend:
        stream = router.completion(
            model=model, messages=request(english_prose), api_base=backend.url, api_key="k", stream=True, max_tokens=32
        )
        assert stream.routing_report.images >= 1
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
        assert text == REPLY
        assert backend.requests and backend.requests[-1].body is not None


def test_async_completion_and_stream(router: Router, openai_backend: OpenAIBackend, english_prose: str) -> None:
    async def run() -> tuple[str, str]:
        response = await router.acompletion(
            model="openai/gpt-4o", messages=request(english_prose), api_base=openai_backend.url, api_key="k"
        )
        stream = await router.acompletion(
            model="openai/gpt-4o",
            messages=request(english_prose),
            api_base=openai_backend.url,
            api_key="k",
            stream=True,
        )
        streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream])
        return response.choices[0].message.content, streamed

    assert asyncio.run(run()) == (REPLY, REPLY)
    assert len(openai_backend.requests) == 2


def test_text_only_backend_gets_the_request_unchanged(
    router: Router, openai_backend: OpenAIBackend, english_prose: str
) -> None:
    messages = request(english_prose)
    router.completion(model="openai/gpt-3.5-turbo", messages=messages, api_base=openai_backend.url, api_key="k")
    assert openai_backend.last.body["messages"] == messages
