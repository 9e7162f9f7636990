"""Local HTTP backends on 127.0.0.1 that speak provider wire formats and record every request.

Each server answers the way the provider does (OpenAI Chat Completions, Anthropic Messages, Gemini
generateContent, Bedrock Converse), as JSON or as a server-sent-event stream, so litellm and the official SDKs talk to
it exactly as they would to the provider. The examples use them when no API key is set; the tests
assert on ``server.requests``: what really went over the wire. They never call out anywhere.

    with AnthropicBackend() as backend:
        client = anthropic.Anthropic(api_key="local", base_url=backend.url)
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from router.testing_network import ConnectionCounter, free_port, wait_until_up

REPLY = "The answer is 42."

__all__ = [
    "REPLY", "AnthropicBackend", "Backend", "BedrockBackend", "ConnectionCounter", "GeminiBackend", "OpenAIBackend",
    "RecordedRequest", "ToolCalls", "free_port", "wait_until_up",
]  # fmt: skip


class ToolCalls(list[tuple[str, str, dict[str, Any]]]):
    """A reply that calls tools: (call id, tool name, arguments) for each call."""


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default backlog of 5 refuses connections under concurrent load
    daemon_threads = True


class RecordedRequest:
    def __init__(self, path: str, headers: dict[str, str], body: Any) -> None:
        self.path, self.headers, self.body = path, headers, body


class Backend:
    """A provider-shaped HTTP server in a background thread. Use as a context manager."""

    wire = "openai"

    def __init__(
        self,
        *,
        fail_status: int | None = None,
        delay_s: float = 0.0,
        drop_after: int | None = None,
        responder: Callable[[Any], str | ToolCalls] | None = None,
    ) -> None:
        """``fail_status`` answers every request with that error status; ``delay_s`` waits before
        answering; ``drop_after`` cuts a stream after that many events, without ending it;
        ``responder`` makes the reply from the request body: its text (default: a fixed sentence), or
        ``ToolCalls`` to answer with tool calls instead (a scripted agent turn)."""
        self.requests: list[RecordedRequest] = []
        self.responder = responder
        self.fail_status, self.delay_s, self.drop_after = fail_status, delay_s, drop_after
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without this, Nagle's algorithm and
                # delayed ACKs hold every response back by ~40 ms.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else None
                backend.requests.append(RecordedRequest(self.path, dict(self.headers), body))
                if backend.delay_s:
                    time.sleep(backend.delay_s)
                if backend.fail_status:
                    self._send_json(backend.fail_status, backend.error(backend.fail_status))
                    return
                if backend.is_stream(self.path, body):
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for n, event in enumerate(backend.stream_events_for(self.path, body)):
                        if backend.drop_after is not None and n >= backend.drop_after:
                            self.close_connection = True  # no terminating chunk: the stream is cut
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            return
                        data = event.encode()
                        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self._send_json(200, backend.reply_for(self.path, body))

            def _send_json(self, status: int, data: Any) -> None:
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def last(self) -> RecordedRequest:
        assert self.requests, f"{type(self).__name__} received no request"
        return self.requests[-1]

    def __enter__(self) -> Backend:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # provider specifics ---------------------------------------------------------------------------

    def is_stream(self, path: str, body: Any) -> bool:
        return bool(body and body.get("stream"))

    def answer(self, body: Any) -> str | ToolCalls:
        return self.responder(body) if self.responder else REPLY

    def reply(self, body: Any) -> dict[str, Any]:
        raise NotImplementedError

    def reply_for(self, path: str, body: Any) -> dict[str, Any]:
        """The reply for a request to ``path`` (providers with more than one endpoint look at it)."""
        return self.reply(body)

    def stream_events_for(self, path: str, body: Any) -> list[str]:
        return self.stream_events(body)

    def error(self, status: int) -> dict[str, Any]:
        return {"error": {"message": f"simulated failure {status}", "type": "server_error", "code": status}}

    def stream_events(self, body: Any) -> list[str]:
        raise NotImplementedError


class OpenAIBackend(Backend):
    wire = "openai"

    def reply(self, body: Any) -> dict[str, Any]:
        answer = self.answer(body)
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        finish = "stop"
        if isinstance(answer, ToolCalls):
            calls = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}} for i, n, a in answer
            ]
            message, finish = {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }

    def stream_events(self, body: Any) -> list[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            data = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "test"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(data)}\n\n"

        answer = self.answer(body)
        events = [chunk({"role": "assistant", "content": None if isinstance(answer, ToolCalls) else ""})]
        if isinstance(answer, ToolCalls):
            for n, (call_id, name, arguments) in enumerate(answer):
                start = {"index": n, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                events.append(chunk({"tool_calls": [start]}))
                events.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": json.dumps(arguments)}}]}))
            events.append(chunk({}, "tool_calls"))
        else:
            words = answer.split(" ")
            events += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
            events.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):  # OpenAI's last chunk: usage, no choices
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            events.append(chunk({}).replace('"choices": [{"index": 0, "delta": {}, "finish_reason": null}]',
                                            f'"choices": [], "usage": {json.dumps(usage)}'))  # fmt: skip
        events.append("data: [DONE]\n\n")
        return events

    # The Responses API (POST /v1/responses): one assistant message with the answer.

    def reply_for(self, path: str, body: Any) -> dict[str, Any]:
        return self.response(body) if path.rstrip("/").endswith("/responses") else self.reply(body)

    def stream_events_for(self, path: str, body: Any) -> list[str]:
        if not path.rstrip("/").endswith("/responses"):
            return self.stream_events(body)
        done = self.response(body)
        message, text = done["output"][0], done["output"][0]["content"][0]["text"]
        opened = {**done, "status": "in_progress", "output": []}
        events: list[tuple[str, dict[str, Any]]] = [
            ("response.created", {"response": opened}),
            ("response.in_progress", {"response": opened}),
            ("response.output_item.added", {"output_index": 0, "item": {**message, "status": "in_progress",
                                                                         "content": []}}),
            ("response.content_part.added", {"item_id": message["id"], "output_index": 0, "content_index": 0,
                                             "part": {"type": "output_text", "text": "", "annotations": []}}),
        ]  # fmt: skip
        for i, word in enumerate(text.split(" ")):
            delta = {"item_id": message["id"], "output_index": 0, "content_index": 0, "logprobs": [],
                     "delta": word if i == 0 else " " + word}  # fmt: skip
            events.append(("response.output_text.delta", delta))
        events += [
            ("response.output_text.done", {"item_id": message["id"], "output_index": 0, "content_index": 0,
                                           "text": text, "logprobs": []}),
            ("response.content_part.done", {"item_id": message["id"], "output_index": 0, "content_index": 0,
                                            "part": message["content"][0]}),
            ("response.output_item.done", {"output_index": 0, "item": message}),
            ("response.completed", {"response": done}),
        ]  # fmt: skip
        return [
            f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': n, **data})}\n\n"
            for n, (name, data) in enumerate(events)
        ]

    def response(self, body: Any) -> dict[str, Any]:
        answer = self.answer(body)
        text = answer if isinstance(answer, str) else REPLY
        message = {"id": "msg_test", "type": "message", "status": "completed", "role": "assistant",
                   "content": [{"type": "output_text", "text": text, "annotations": []}]}  # fmt: skip
        return {
            "id": "resp_test", "object": "response", "created_at": int(time.time()), "status": "completed",
            "model": body.get("model", "test"), "output": [message], "parallel_tool_calls": True,
            "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}},
            "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
        }  # fmt: skip


class AnthropicBackend(Backend):
    wire = "anthropic"

    def reply_for(self, path: str, body: Any) -> dict[str, Any]:
        """``/v1/messages/count_tokens`` too: a stand-in count (a token per word, 7 per message)."""
        if path.rstrip("/").endswith("/count_tokens"):
            return {"input_tokens": sum(7 + _words(m["content"]) for m in body["messages"])}
        return self.reply(body)

    def error(self, status: int) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "api_error", "message": f"simulated failure {status}"}}

    def reply(self, body: Any) -> dict[str, Any]:
        answer = self.answer(body)
        content: list[dict[str, Any]] = [{"type": "text", "text": answer}]
        if isinstance(answer, ToolCalls):
            content = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in answer]
        return {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude"),
            "content": content,
            "stop_reason": "tool_use" if isinstance(answer, ToolCalls) else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }

    def stream_events(self, body: Any) -> list[str]:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        reply = self.reply(body)  # asks the responder once: scripted responders count their calls
        message = {**reply, "content": [], "stop_reason": None}
        events = [event("message_start", {"message": message})]
        for n, block in enumerate(reply["content"]):
            if block["type"] == "tool_use":
                start = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                events.append(event("content_block_start", {"index": n, "content_block": start}))
                events.append(event("content_block_delta", {"index": n, "delta": delta}))
            else:
                events.append(event("content_block_start", {"index": n, "content_block": {"type": "text", "text": ""}}))
                for i, word in enumerate(block["text"].split(" ")):
                    text = {"type": "text_delta", "text": word if i == 0 else " " + word}
                    events.append(event("content_block_delta", {"index": n, "delta": text}))
            events.append(event("content_block_stop", {"index": n}))
        events += [
            event("message_delta", {"delta": {"stop_reason": reply["stop_reason"]}, "usage": {"output_tokens": 5}}),
            event("message_stop", {}),
        ]
        return events


class BedrockBackend(Backend):
    """Amazon Bedrock's Converse API (``/model/{id}/converse``), answers only: litellm signs its
    requests with whatever AWS credentials the environment holds, and this server does not check them."""

    wire = "bedrock"

    def is_stream(self, path: str, body: Any) -> bool:
        return False

    def reply(self, body: Any) -> dict[str, Any]:
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": str(self.answer(body))}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
            "metrics": {"latencyMs": 1},
        }


class GeminiBackend(Backend):
    wire = "gemini"

    def is_stream(self, path: str, body: Any) -> bool:
        return "streamGenerateContent" in path

    def reply(self, body: Any) -> dict[str, Any]:
        return {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": self.answer(body)}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
            "modelVersion": "gemini-test",
        }

    def stream_events(self, body: Any) -> list[str]:
        words = str(self.answer(body)).split(" ")  # text replies only: no scripted tool calls here
        events = []
        for i, word in enumerate(words):
            data: dict[str, Any] = {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": word if i == 0 else " " + word}]}, "index": 0}
                ]
            }
            if i == len(words) - 1:
                data["candidates"][0]["finishReason"] = "STOP"
                data["usageMetadata"] = {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}
            events.append(f"data: {json.dumps(data)}\n\n")
        return events


def _words(content: Any) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):
        return sum(_words(part.get("text", "")) for part in content if isinstance(part, dict))
    return 0
