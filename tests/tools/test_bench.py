"""``hcr bench`` end to end (real OCR, real plots) and the answer-equivalence harness against a local
OpenAI-wire server on 127.0.0.1, reached through litellm. Nothing here calls the internet."""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from router.cli import main
from router.core import Router
from router.models import Page
from router.policy import ModelOverride, Policy
from router.providers.geometry import get_profile
from router.testing import OpenAIBackend
from router.tools import bench, bench_corpus
from router.tools.answers import build_questions, run_answers
from router.tools.bench_corpus import Document, argparse_code, build_corpus, gpl_prose

LOCAL_MODEL = "openai/local-reader"


@functools.lru_cache(maxsize=64)
def read_png(png: bytes) -> str:
    """A page as OCR reads it at an OpenAI tile's resolution (cached: each arm resends the same pages)."""
    from router.fidelity.readback import read_pages

    width, height = Image.open(io.BytesIO(png)).size
    return read_pages([Page(png=png, data_url="", width=width, height=height, tokens=0, grayscale=True)],
                      get_profile("openai-tile"))  # fmt: skip


def sent_parts(body: Any) -> tuple[list[str], list[bytes]]:
    """The text parts and the PNG pages of a chat request, in order."""
    texts, pngs = [], []
    for message in body["messages"]:
        content = message.get("content") or ""
        for part in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if part["type"] == "text":
                texts.append(part["text"])
            elif part["type"] == "image_url":
                pngs.append(base64.b64decode(part["image_url"]["url"].split(",", 1)[1]))
    return texts, pngs


def reading_backend(body: Any) -> str:
    """A stand-in for a vision model: it reads text parts as they are and image parts by OCR, then
    answers a question only from what it could read. So it answers right exactly when the fact is
    legible in what it was sent. Like a reader, it knows the question before it reads, and reads the
    pages in order until it has the fact (OCR is the slow part of the suite)."""
    texts, pngs = sent_parts(body)
    question = texts[-1]
    # Spaces are optional: RapidOCR drops the spaces of some lines that a reader sees (at gpt-4o's
    # `balanced` 11 px / 1.0, "theKrakowclusterisunder"), which is why the read-back does not score them.
    if found := re.search(r"for the (\w+) cluster booked", question):
        wanted = rf"{_plain(found.group(1))}\s*cluster\s*is\s*under\s*ticket\s*(MW-\d+)"
    elif found := re.search(r"recovery key for vault (\d+)", question):
        wanted = rf"vault\s*{found.group(1)}\s*is\s*([0-9a-f]{{16}})"
    else:
        return "I cannot tell."
    context = _plain("\n".join(texts[:-1]))
    for png in [None, *pngs]:  # the text first, then page by page
        if png is not None:
            context += "\n" + _plain(read_png(png))
        if match := re.search(wanted, context, re.IGNORECASE):
            return match.group(1)
    return "I cannot tell."


def _plain(text: str) -> str:
    """Accents dropped, as a reader forgives "Krakow" for "Kraków"."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@pytest.fixture()
def reader() -> Any:
    with OpenAIBackend(responder=reading_backend) as backend:
        yield backend


def local_policy() -> Policy:
    """The default policy, told that the local model reads images like an OpenAI tile model."""
    override = ModelOverride(match="*local-reader*", encoder="openai-tile", vision=True)
    return Policy.builtin("default").model_copy(update={"models": [override]})


def test_bench_on_two_documents_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    assert main(["bench", "--quick", "--encoder", "gemini-2", "--density", "dense", "--out", str(out)]) == 0
    result = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert [d["name"] for d in result["documents"]] == ["gpl-prose", "argparse-code"]
    assert len(result["rows"]) == 2
    for row in result["rows"]:
        assert row["encoder"] == "gemini-2" and row["density"] == "dense"
        assert row["text_tokens"] > row["image_tokens"] > 0 and row["compression"] > 1
        assert 0.9 < row["char_accuracy"] <= 1 and row["pages"] >= 1 and row["ocr_ms"] > 0
    # The prose fills part of one 768-px tile: it is drawn, as the router draws it, at exact's glyphs.
    prose = result["rows"][0]
    assert prose["drawn"] == "exact" and prose["image_tokens"] == 258
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "| prose | gpl-prose |" in markdown and "rapidocr-onnxruntime" in markdown
    assert re.search(r"\| prose \| gpl-prose \| [\d.]+x, [\d.]+% \(at exact\) \|", markdown)
    for plot in ("compression_vs_readback.png", "tokens_saved_by_kind.png"):
        with Image.open(out / plot) as image:
            assert image.format == "PNG" and image.width > 400 and image.height > 300


def test_bench_lengths_shows_the_ratio_as_documents_grow(tmp_path: Path) -> None:
    """Short documents lose to whole billed tiles; the curve shows it, and reads the longest back.

    Two long documents only (``--documents``): each one's read-back is a 1k-token sample, and OCR is
    the slow part of the suite."""
    out = tmp_path / "bench"
    args = ["bench", "--quick", "--encoder", "gemini-2", "--density", "dense", "--lengths", "300,3000"]
    assert main([*args, "--documents", "licences-prose,stdlib-code", "--out", str(out)]) == 0
    result = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    assert result["rows"] == []  # no document of the corpus was named
    rows = result["lengths"]
    documents = {r["document"] for r in rows}
    assert documents == {"licences-prose", "stdlib-code"}
    for document in documents:
        short, long = sorted((r for r in rows if r["document"] == document), key=lambda r: r["length"])
        assert (short["length"], long["length"]) == (300, 3000)
        assert short["char_accuracy"] is None and long["char_accuracy"] > 0.9  # the longest cut is read back
        assert long["text_tokens"] > 5 * short["text_tokens"] and long["image_tokens"] >= short["image_tokens"]
    prose = sorted((r for r in rows if r["document"] == "licences-prose"), key=lambda r: r["length"])
    assert prose[1]["compression"] > prose[0]["compression"]  # a 300-token page still bills a whole tile
    markdown = (out / "bench.md").read_text(encoding="utf-8")
    assert "Compression as documents grow" in markdown and "| licences-prose |" in markdown
    assert not (out / bench.COMPRESSION_PLOT).exists()  # no corpus rows, no corpus plots
    assert main(["bench", "--quick", "--lengths", "a,b", "--out", str(out)]) == 1


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--documents", "gpl-prose,no-such-doc"], "no-such-doc not in the corpus here"),
        (["--documents", "licences-prose"], "with --lengths, the long documents too"),
        (["--documents", ","], "',' not in the corpus here"),
        (["--lengths", "300", "--documents", "nope"], "nope not in the corpus here; known: "),
    ],
)
def test_bench_documents_option_names_what_it_cannot_find(
    tmp_path: Path, argv: list[str], named: str, capsys: Any
) -> None:
    assert main(["bench", "--quick", *argv, "--out", str(tmp_path / "bench")]) == 1
    error = capsys.readouterr().err
    assert named in error and "argparse-code" in error  # the names it knows, each once
    assert error.count("dpkg-log") == 1
    assert not (tmp_path / "bench").exists()  # nothing was measured


def test_corpus_is_real_documents_cut_at_line_ends() -> None:
    documents, missing = build_corpus()
    kinds = {d.kind for d in documents}
    assert {"prose", "code", "table", "json"} <= kinds, missing
    for document in documents:
        assert 1000 < len(document.text) <= 6000 and document.source
    # Real tracebacks, whose frames in this package name one fixed root whatever the checkout.
    traces = next(d for d in documents if d.name == "python-traces").text
    assert 'File "/src/hybrid-context-router/router/tools/bench_corpus.py"' in traces
    assert str(Path(bench_corpus.__file__).parents[2]) not in traces


def test_questions_have_their_answers_in_the_context() -> None:
    documents = [gpl_prose(3000), argparse_code(3000)]
    questions = build_questions([d for d in documents if d is not None], per_document=2)
    assert [q.kind for q in questions] == ["fact", "identifier", "code", "code"]
    for question in questions:
        assert question.answer and question.answer in question.context
    assert build_questions(documents) == questions  # seeded: the same questions every run


def test_answer_harness_asks_both_arms_through_litellm(reader: OpenAIBackend) -> None:
    document = gpl_prose(3000)
    assert isinstance(document, Document)
    report = run_answers(
        [document], LOCAL_MODEL, router=Router(local_policy()), api_base=reader.url + "/v1", api_key="local"
    )
    text, routed = report["summary"]["text"], report["summary"]["routed"]
    assert text["questions"] == routed["questions"] == 2 and text["errors"] == routed["errors"] == 0
    assert text["correct"] == 2  # the facts are in the plain text
    assert routed["estimated_tokens"] < text["estimated_tokens"]  # the document went as an image
    # What went over the wire: the routed arm sent images, the text arm none.
    sent_images = [int('"image_url"' in json.dumps(r.body)) for r in reader.requests]
    assert sent_images == [0, 1, 0, 1]
    assert routed["correct"] == 2  # the planted ticket and hex key are legible on the rendered page


def test_bench_backend_option_runs_the_harness(tmp_path: Path, reader: OpenAIBackend, monkeypatch: Any) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    policy = tmp_path / "local.yaml"
    policy.write_text(yaml.safe_dump(local_policy().model_dump(exclude_defaults=True)), encoding="utf-8")
    out = tmp_path / "bench"
    argv = ["bench", "--encoder", "openai-tile", "--density", "balanced", "--documents", "gpl-prose"]
    argv += ["--backend", LOCAL_MODEL, "--api-base", reader.url + "/v1", "--policy", str(policy), "--questions", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    answers = json.loads((out / "bench.json").read_text(encoding="utf-8"))["answers"]
    assert answers["model"] == LOCAL_MODEL and len(answers["answers"]) == 2  # 1 question x 2 arms
    assert {a["arm"] for a in answers["answers"]} == {"text", "routed"}
    assert "Answer equivalence on `openai/local-reader`" in (out / "bench.md").read_text(encoding="utf-8")
