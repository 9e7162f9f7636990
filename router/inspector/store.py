"""The inspector's memory: the last N traces per tenant, bounded in count and in content bytes.

A tenant is a cache scope (a digest of the caller's key): one tenant never reads another's traces.
When the content kept passes ``max_content_bytes``, the oldest traces lose their content first
(their figures stay).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from pydantic import BaseModel

from router.inspector.trace import Trace
from router.report import Saving

__all__ = ["Totals", "TraceStore", "totals"]


class TraceStore:
    def __init__(self, max_traces: int = 200, max_content_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_traces, self.max_content_bytes = max_traces, max_content_bytes
        self._tenants: dict[str, OrderedDict[str, Trace]] = {}
        self._content: OrderedDict[tuple[str, str], int] = OrderedDict()  # (tenant, id) -> bytes, oldest first
        self._content_bytes = 0
        self._lock = threading.Lock()

    def add(self, tenant: str, trace: Trace) -> None:
        with self._lock:
            traces = self._tenants.setdefault(tenant, OrderedDict())
            if trace.id in traces:  # a caller reusing a request id: the new trace replaces the old
                self._forget_content(tenant, trace.id)
                del traces[trace.id]
            traces[trace.id] = trace
            while len(traces) > self.max_traces:
                old, _ = traces.popitem(last=False)
                self._forget_content(tenant, old)
            if trace.content is not None:
                self._content[(tenant, trace.id)] = trace.content.size
                self._content_bytes += trace.content.size
            while self._content_bytes > self.max_content_bytes and self._content:
                (owner, old), _ = next(iter(self._content.items()))
                self._forget_content(owner, old)
                self._tenants[owner][old].content = None

    def _forget_content(self, tenant: str, id: str) -> None:
        size = self._content.pop((tenant, id), None)
        if size is not None:
            self._content_bytes -= size

    def get(self, tenant: str, id: str) -> Trace | None:
        with self._lock:
            traces = self._tenants.get(tenant)
            return traces.get(id) if traces is not None else None

    def traces(self, tenant: str, model: str | None = None) -> list[Trace]:
        """The tenant's traces, newest first, only ``model``'s when given."""
        with self._lock:
            traces = list(self._tenants.get(tenant, {}).values())
        return [t for t in reversed(traces) if not model or t.model == model]

    def models(self, tenant: str) -> list[str]:
        with self._lock:
            return sorted({t.model for t in self._tenants.get(tenant, {}).values()})

    @property
    def content_bytes(self) -> int:
        return self._content_bytes


class Totals(BaseModel):
    requests: int
    routed: int
    all: Saving
    by_model: list[Saving]
    by_kind: list[Saving]


def totals(traces: Iterable[Trace]) -> Totals:
    """Savings over ``traces``: in all, by model (requests) and by kind (chunks; money is per request)."""
    every = Saving(name="all")
    models: dict[str, Saving] = {}
    kinds: dict[str, Saving] = {}
    requests = routed = 0
    for trace in traces:
        requests += 1
        report = trace.report
        if report is None:
            continue
        routed += 1
        for saving in (every, models.setdefault(trace.model, Saving(name=trace.model))):
            saving.count += 1
            saving.tokens_before += report.tokens_before
            saving.tokens_after += report.tokens_after
            if report.cost_before is None or report.cost_after is None:
                saving.priced = False
            else:
                saving.cost_before += report.cost_before
                saving.cost_after += report.cost_after
        for chunk in report.chunks:
            kind = kinds.setdefault(chunk.kind, Saving(name=chunk.kind, priced=False))
            kind.count += 1
            kind.tokens_before += chunk.text_tokens
            kind.tokens_after += chunk.tokens_after
    by_saved = sorted(kinds.values(), key=lambda s: -s.saved)
    return Totals(requests=requests, routed=routed, all=every, by_model=sorted(models.values(), key=lambda s: s.name),
                  by_kind=by_saved)  # fmt: skip
