"""Network helpers for tests and examples: a free port, waiting for a server, and a listener that
counts the connections made to it (proof that nothing was fetched)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

__all__ = ["ConnectionCounter", "free_port", "wait_until_up"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now, for starting a local server on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 120) -> None:
    """Poll ``url`` (a health endpoint) until it answers 200; a clear error if it never does."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"no answer from {url} after {seconds:.0f} s")


class ConnectionCounter:
    """A TCP listener on 127.0.0.1 that counts the connections made to it and answers nothing.

    Security tests point every address a caller could smuggle in (fallback base URLs, image URLs) at
    one of these: ``connections == 0`` afterwards proves nothing was fetched and no key left.
    """

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(0.5)
                try:
                    self.received += connection.recv(65536)
                except OSError:
                    pass

    def __enter__(self) -> ConnectionCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()
