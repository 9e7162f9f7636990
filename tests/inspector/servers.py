"""Proxies and inspectors on 127.0.0.1 for the inspector's tests."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from router.proxy.app import create_app
from router.proxy.config import ProxyConfig
from router.testing import Backend, free_port

MASTER = "sk-hcr-master-0123456789"
TENANT_A = "sk-hcr-tenant-a-0123456789"
TENANT_B = "sk-hcr-tenant-b-0123456789"


def config(*backends: Backend, ui: Any = None, **settings: Any) -> ProxyConfig:
    """'gpt' and/or 'claude' served from ``backends``; a master key and two tenant keys."""
    entries = []
    for backend in backends:
        name, model = (
            ("claude", "anthropic/claude-sonnet-4-6") if backend.wire == "anthropic" else ("gpt", "openai/gpt-4o")
        )
        entries.append(
            {"model_name": name, "litellm_params": {"model": model, "api_base": backend.url, "api_key": "up"}}
        )
    general = {"master_key": MASTER, "api_keys": [TENANT_A, TENANT_B], **settings}
    body: dict[str, Any] = {"model_list": entries, "general_settings": general}
    if ui is not None:
        body["ui"] = ui
    return ProxyConfig.model_validate(body)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def proxy(*backends: Backend, ui: Any = None, **settings: Any) -> Iterator[str]:
    with serving(create_app(config(*backends, ui=ui, **settings))) as url:
        yield url
