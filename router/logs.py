"""Logging: every logger of the package is under ``router`` (``router.proxy``, ``router.fidelity``...).

``hcr serve`` writes one JSON line per record (``json_logging``); a request's line carries its figures
as fields (``extra={"fields": {...}}``), so a log shipper needs no parsing rules.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["JsonFormatter", "json_logging", "text_logging"]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({k: v for k, v in fields.items() if k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def json_logging(level: str = "info") -> None:
    """JSON lines on stderr for the ``router`` loggers, at ``level``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("router")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def text_logging(level: str = "warning") -> None:
    """Plain lines on stderr for the ``router`` loggers, at ``level`` (the CLI's commands but serve)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("router")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
