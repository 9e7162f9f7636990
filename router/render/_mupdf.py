"""One lock for PyMuPDF, which is not thread-safe: routing runs in worker threads (``acompletion``,
the proxy), so layout, rasterising and document reading take turns."""

from __future__ import annotations

import threading

__all__ = ["MUPDF_LOCK"]

MUPDF_LOCK = threading.Lock()
