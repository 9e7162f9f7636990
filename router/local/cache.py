"""Page embeddings kept in memory (LRU, bounded by bytes) and on disk, keyed by page and encoder.

A page's key is the digest of its PNG bytes; the encoder's identity (weights digest, dtypes,
processor settings) names the folder the disk store keeps it in, so a different checkpoint or dtype
never reads another's embeddings. Files are safetensors (no pickle: a store that another process or
machine filled cannot run code here) written to a temporary name and renamed into place, so
concurrent processes (proxy workers, ``hcr encode`` runs) never see half a file and the last
writer of identical content wins harmlessly.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Literal

__all__ = ["EmbeddingCache", "Source"]

Source = Literal["memory", "disk", "encoded"]


class EmbeddingCache:
    """Memory LRU of ``memory_bytes`` in front of an optional folder shared by processes."""

    def __init__(self, identity: str, *, folder: str | Path | None = None, memory_bytes: int = 512 * 1024 * 1024):
        self.identity = identity
        self.folder = Path(folder) / identity if folder is not None else None
        self.memory_bytes = memory_bytes
        self._memory: OrderedDict[str, Any] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Any, Source] | None:
        """The embedding stored for page ``key`` and where it came from, or None."""
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key], "memory"
        path = self._path(key)
        if path is None or not path.exists():
            return None
        from safetensors.torch import load_file

        try:
            tensor = load_file(str(path))["embeds"]
        except Exception:  # a damaged file is a miss: it is encoded again and rewritten
            return None
        self._remember(key, tensor)
        return tensor, "disk"

    def put(self, key: str, tensor: Any) -> None:
        self._remember(key, tensor)
        path = self._path(key)
        if path is None:
            return
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
        os.close(fd)
        try:
            save_file({"embeds": tensor.contiguous()}, temporary, metadata={"encoder": self.identity})
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def _remember(self, key: str, tensor: Any) -> None:
        size = tensor.numel() * tensor.element_size()
        if size > self.memory_bytes:
            return
        with self._lock:
            if key in self._memory:
                return
            self._memory[key] = tensor
            self._held += size
            while self._held > self.memory_bytes:
                _, old = self._memory.popitem(last=False)
                self._held -= old.numel() * old.element_size()

    def _path(self, key: str) -> Path | None:
        return None if self.folder is None else self.folder / key[:2] / f"{key}.safetensors"
