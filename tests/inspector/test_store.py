"""The inspector's memory and what its pages compute: bounds, tenants, content stripping, totals."""

from __future__ import annotations

from router import Router
from router.inspector.store import TraceStore, totals
from router.inspector.trace import Trace, TraceContent, trace_of
from router.inspector.views import chart, marked_words, timeline
from router.models import RoutedRequest
from router.report import billed_input_tokens


def routed_licence(prose: str) -> RoutedRequest:
    return Router().route([{"role": "user", "content": f"Read this.\n\n{prose}\n\nWhat does it say?"}], model="gpt-4o")


def test_traces_are_bounded_per_tenant_and_newest_first() -> None:
    store = TraceStore(max_traces=3)
    for n in range(5):
        store.add("a", Trace(id=f"a{n}", model="gpt"))
    store.add("b", Trace(id="b0", model="claude"))
    assert [t.id for t in store.traces("a")] == ["a4", "a3", "a2"]
    assert [t.id for t in store.traces("b")] == ["b0"]
    assert store.get("b", "a4") is None and store.get("a", "a0") is None
    assert store.models("a") == ["gpt"] and store.traces("a", "claude") == []
    store.add("a", Trace(id="a3", model="claude"))  # a caller reusing its request id replaces its trace
    assert [t.id for t in store.traces("a")] == ["a3", "a4", "a2"]


def test_content_bytes_are_bounded_oldest_first() -> None:
    store = TraceStore(max_traces=10, max_content_bytes=2500)
    for n in range(3):
        store.add("a", Trace(id=f"t{n}", model="m", content=TraceContent(texts={0: "x" * 1000})))
    kept = {t.id: t.content is not None for t in store.traces("a")}
    assert kept == {"t2": True, "t1": True, "t0": False}  # the oldest lost its content, kept its figures
    assert store.content_bytes == 2000
    for n in range(3, 13):  # traces pushed out by count give their bytes back
        store.add("a", Trace(id=f"t{n}", model="m"))
    assert store.content_bytes == 0


def test_a_trace_without_content_holds_none_of_the_callers_text(english_prose: str) -> None:
    routed = routed_licence(english_prose)
    bare = trace_of(routed, id="r1", model="gpt-4o")
    assert bare.content is None and bare.report is not None and bare.report.images >= 1
    assert english_prose[:50] not in bare.model_dump_json()
    full = trace_of(routed, id="r2", model="gpt-4o", keep_content=True)
    assert full.content is not None and full.report is not None
    imaged = [c.index for c in full.report.chunks if c.action == "image"]
    assert imaged and all(full.content.pages[i][0].png for i in imaged)
    assert english_prose[:200] in "".join(full.content.texts.values())
    shown = timeline(full, "/ui")
    assert [c["chunk"].index for c in shown] == sorted(c.index for c in full.report.chunks)
    assert shown[imaged[0]]["pages"][0]["url"] == f"/ui/requests/r2/pages/{imaged[0]}/1.png"


def test_totals_by_model_and_kind() -> None:
    from router.models import ChunkReport, RouteReport

    def report(before: int, after: int, kind: str) -> RouteReport:
        chunk = ChunkReport(index=0, message_index=0, role="user", kind=kind, script="latin", chars=10, action="image",
                            reason="rule:x", text_tokens=before, image_tokens=after)  # fmt: skip
        return RouteReport(model="m", encoder="e", vision=True, tokens_before=before, tokens_after=after,
                           cost_before=before / 1e6, cost_after=after / 1e6, chunks=[chunk])  # fmt: skip

    traces = [
        Trace(id="1", model="gpt", report=report(1000, 300, "code")),
        Trace(id="2", model="gpt", report=report(500, 100, "prose")),
        Trace(id="3", model="claude", report=report(800, 800, "code")),
        Trace(id="4", model="claude", bypassed=True),
    ]
    summed = totals(traces)
    assert (summed.requests, summed.routed) == (4, 3)
    assert summed.all.saved == 1100 and round(summed.all.cost_before - summed.all.cost_after, 6) == 0.0011
    assert {s.name: s.saved for s in summed.by_model} == {"claude": 0, "gpt": 1100}
    assert [(s.name, s.saved) for s in summed.by_kind] == [("code", 700), ("prose", 400)]
    bars = [r for r in chart(summed)["rows"] if "label" in r]
    assert len(bars) == 4 and max(r["before"] for r in bars) == 760 - 170 - 190


def test_missed_words_are_marked_in_order() -> None:
    marked = marked_words("alpha beta  gamma delta", "alpha gamma delta beta")
    assert "".join(w for w, _ in marked) == "alpha beta  gamma delta"
    assert [w for w, missed in marked if missed] == ["beta"]


def test_billed_input_tokens_in_both_shapes() -> None:
    assert billed_input_tokens({"usage": {"prompt_tokens": 120, "completion_tokens": 4}}) == 120
    cached = {"usage": {"input_tokens": 20, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 5}}
    assert billed_input_tokens(cached) == 1025
    assert billed_input_tokens({"id": "x"}) is None
