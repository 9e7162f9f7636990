"""``hcr encode`` fills the store ahead of time; later requests carrying the same files find it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from router import Router
from router.cli import main
from router.local.encoder import unload_encoders
from tests.local.test_payload import MODEL, local_policy


def encode(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["encode", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_encoded_files_are_found_by_later_requests(
    tmp_path: Path, tower_dir: Path, english_prose: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import pymupdf

    text = tmp_path / "licence.txt"
    text.write_text(english_prose * 3)
    pdf = tmp_path / "report.pdf"
    with pymupdf.open() as doc:
        for n in range(2):
            doc.new_page().insert_textbox(pymupdf.Rect(50, 50, 550, 800), f"Page {n + 1}. " + english_prose[:1500])
        doc.save(pdf)
    store = tmp_path / "store"
    args = (str(text), str(pdf), "--encoder", str(tower_dir), "--out", str(store), "--model", MODEL)

    first = encode(capsys, *args)
    summary = first["summary"]
    assert summary["failed"] == 0 and summary["pages"] >= 3 and summary["encoded"] == summary["pages"]
    assert summary["tokens"] > 0 and summary["pages_per_second"] > 0
    assert [f["pages"] for f in first["files"]][1] == 2  # one embedding per PDF page
    second = encode(capsys, *args)["summary"]
    assert second["encoded"] == 0 and second["from_store"] == summary["pages"]

    # A request holding the licence and a question, in a process that never encoded it: the
    # licence's pages come from the store.
    unload_encoders()
    router = Router(local_policy(tower_dir, cache_dir=str(store)))
    messages = [{"role": "user", "content": [{"type": "text", "text": english_prose * 3},
                                             {"type": "text", "text": "Which freedoms does it name?"}]}]  # fmt: skip
    report = router.route(messages, model=MODEL).report
    assert report.embeddings is not None and report.embeddings.pages
    assert {p.source for p in report.embeddings.pages} == {"disk"}


def test_encode_reports_what_it_did_in_words(
    tmp_path: Path, tower_dir: Path, english_prose: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text(english_prose * 3)
    (tmp_path / "empty.txt").write_text("  \n")
    code = main(["encode", str(tmp_path / "a.txt"), str(tmp_path / "empty.txt"), "--encoder", str(tower_dir),
                 "--out", str(tmp_path / "store")])  # fmt: skip
    out, err = (" ".join(stream.split()) for stream in capsys.readouterr())  # as read, not as wrapped
    assert code == 1  # a file failed, and it is named
    assert "empty.txt:thefileisempty" in "".join(err.split())
    assert "2 file(s):" in out and "local: {cache_dir:" in out and "pages/s encoding" in out
    assert main(["encode", str(tmp_path / "a.txt"), "--encoder", str(tmp_path / "missing")]) == 1
    assert "missing/config.json:notfound" in "".join(capsys.readouterr().err.split())  # Rich wraps long paths
