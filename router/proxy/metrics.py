"""``GET /metrics``: the proxy's figures in Prometheus text format (``prometheus_client``).

One registry per app (two proxies in one process count apart). Request counters and histograms are
fed from each request's trace; in-flight and queued requests, and the fidelity guards' counts
(background samples included), are read when scraped.

    hcr_requests_total{endpoint,model,status}     requests answered
    hcr_tokens_before_total{model}                 input tokens as the caller wrote them (routed requests)
    hcr_tokens_after_total{model}                  input tokens as routed
    hcr_images_total{model}, hcr_image_bytes_total{model}
    hcr_route_seconds{model}, hcr_backend_seconds{model}   histograms
    hcr_render_cache_total{result="hit|miss"}      chunks sent as images, drawn or from the render cache
    hcr_fidelity_checks_total{result="passed|failed|skipped"}
    hcr_in_flight_requests, hcr_queued_requests
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from router.fidelity.guard import FidelityStats
from router.inspector.trace import Trace

__all__ = ["CONTENT_TYPE", "ProxyMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MAX_MODEL_LABELS = 200  # model names come from callers in pass-through mode: bounded label values
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _FidelityCollector(Collector):
    def __init__(self, stats: Callable[[], Iterable[FidelityStats]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("hcr_fidelity_checks", "pages read back by the fidelity guard", labels=["result"])
        every = list(self.stats())
        for result in ("passed", "failed", "skipped"):
            family.add_metric([result], sum(getattr(s, result) for s in every))
        yield family


class ProxyMetrics:
    def __init__(self, running: Callable[[], int], waiting: Callable[[], int],
                 fidelity: Callable[[], Iterable[FidelityStats]]) -> None:  # fmt: skip
        self.registry = registry = CollectorRegistry()
        by_model = ["model"]
        self.requests = Counter("hcr_requests", "requests answered", ["endpoint", "model", "status"], registry=registry)
        self.tokens_before = Counter("hcr_tokens_before", "input tokens as written", by_model, registry=registry)
        self.tokens_after = Counter("hcr_tokens_after", "input tokens as routed", by_model, registry=registry)
        self.images = Counter("hcr_images", "pages sent as images", by_model, registry=registry)
        self.image_bytes = Counter("hcr_image_bytes", "PNG bytes sent", by_model, registry=registry)
        self.route_seconds = Histogram("hcr_route_seconds", "routing time", by_model, buckets=_SECONDS,
                                       registry=registry)  # fmt: skip
        self.backend_seconds = Histogram(
            "hcr_backend_seconds", "backend call, until its answer or its stream opened", by_model,
            buckets=_SECONDS, registry=registry,
        )  # fmt: skip
        self.render_cache = Counter("hcr_render_cache", "image chunks by render cache result", ["result"],
                                    registry=registry)  # fmt: skip
        Gauge("hcr_in_flight_requests", "requests routing or streaming", registry=registry).set_function(
            lambda: float(running())
        )
        Gauge("hcr_queued_requests", "requests waiting for a slot", registry=registry).set_function(
            lambda: float(waiting())
        )
        registry.register(_FidelityCollector(fidelity))
        self._models: set[str] = set()

    def _model(self, name: str) -> str:
        """``name`` as a label value; past the first 200 names, 'other' (callers choose the names)."""
        if name in self._models or len(self._models) < _MAX_MODEL_LABELS:
            self._models.add(name)
            return name
        return "other"

    def count(self, endpoint: str, model: str, status: int) -> None:
        """One answered request (refused ones too: ``model`` is "" where it was not read)."""
        self.requests.labels(endpoint, self._model(model) if model else "", str(status)).inc()

    def observe(self, trace: Trace, image_bytes: int) -> None:
        """The figures of one answered request, from its trace."""
        model = self._model(trace.model)
        if trace.backend_ms is not None:
            self.backend_seconds.labels(model).observe(trace.backend_ms / 1000)
        report = trace.report
        if report is None:
            return
        self.tokens_before.labels(model).inc(report.tokens_before)
        self.tokens_after.labels(model).inc(report.tokens_after)
        self.images.labels(model).inc(report.images)
        self.image_bytes.labels(model).inc(image_bytes)
        self.route_seconds.labels(model).observe(report.route_ms / 1000)
        for chunk in report.chunks:
            if chunk.action == "image":
                self.render_cache.labels("hit" if chunk.cached else "miss").inc()

    def exposition(self) -> Any:
        return generate_latest(self.registry)
