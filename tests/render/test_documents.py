"""Attached documents: generated PDFs of each kind, limits and bad input, and a real Debian PDF."""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from router import InvalidRequestError, Policy, Router
from router.providers.geometry import get_profile
from router.render.documents import MAX_TILES_PER_PAGE

GPL = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
DEBIAN_REFERENCE_PDF = Path("/usr/share/debian-reference/debian-reference.zh-cn.pdf")
ZERO_PAGES = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def pdf(build) -> bytes:  # type: ignore[no-untyped-def]
    doc = pymupdf.open()
    build(doc)
    return doc.tobytes()


def inset(rect: pymupdf.Rect, by: float) -> pymupdf.Rect:
    return pymupdf.Rect(rect.x0 + by, rect.y0 + by, rect.x1 - by, rect.y1 - by)


def text_page(doc: pymupdf.Document, text: str = GPL[:2500], **page: float) -> pymupdf.Page:
    p = doc.new_page(**page)
    assert p.insert_textbox(inset(p.rect, 40), text, fontsize=8) >= 0, "text must fit its box"
    return p


def table_page(doc: pymupdf.Document) -> None:
    p = doc.new_page()
    for row in range(12):
        y = 60 + row * 20
        p.draw_line((50, y), (545, y))
        for col, x in enumerate((50, 200, 350)):
            p.insert_text((x + 4, y + 14), f"r{row}c{col}", fontsize=9)
    for x in (50, 200, 350, 545):
        p.draw_line((x, 60), (x, 280))


def scanned_page(doc: pymupdf.Document) -> None:
    scan = pymupdf.open()
    text_page(scan, GPL[:1500])
    pix = scan[0].get_pixmap(dpi=100, colorspace=pymupdf.csGRAY)
    p = doc.new_page()
    p.insert_image(p.rect, stream=pix.tobytes("png"))


def attach(data: bytes, name: str = "report.pdf", question: str = "Summarise the attachment.") -> list[dict]:
    file = {"filename": name, "file_data": "data:application/pdf;base64," + base64.b64encode(data).decode()}
    return [{"role": "user", "content": [{"type": "text", "text": question}, {"type": "file", "file": file}]}]


def page_reports(routed):  # type: ignore[no-untyped-def]
    return [c for c in routed.report.chunks if c.kind == "page"]


@pytest.fixture(scope="module")
def router() -> Router:
    return Router()


def test_pages_of_each_kind(router: Router) -> None:
    def build(doc: pymupdf.Document) -> None:
        text_page(doc)
        table_page(doc)
        scanned_page(doc)
        p = doc.new_page()
        p.insert_textbox(
            inset(p.rect, 50),
            "中文测试页面。这是一个没有空格的中文段落。" * 40,
            fontsize=11,
            fontname="china-s",
        )
        rotated = text_page(doc, GPL[3000:5000])
        rotated.set_rotation(90)

    routed = router.route(attach(pdf(build)), model="claude-sonnet-4-6")
    reports = page_reports(routed)
    looks = [r.reason.rsplit("(", 1)[1].split(" page")[0] for r in reports]
    assert looks == ["text", "tables", "scanned", "text", "text"]
    assert reports[2].action == "image" and reports[2].text_tokens == 0  # a scan goes as an image, text or not
    assert reports[1].action == "image"  # tables keep their layout
    content = routed.messages[0]["content"]
    assert content[0] == {"type": "text", "text": "Summarise the attachment."}
    assert content[1]["text"] == "[Attached document report.pdf: 5 of 5 pages follow]"
    assert "file" not in [p["type"] for p in content]
    images = [p for p in content if p["type"] == "image_url"]
    assert len(images) == routed.report.images == sum(r.pages for r in reports if r.action == "image")
    rotated = Image.open(io.BytesIO(base64.b64decode(images[-1]["image_url"]["url"].split(",")[1]))).convert("L")
    # The rotated page's text column (narrow and tall on the unrotated page) is drawn turned: wide, and
    # inked. Trimming in unrotated coordinates once cut a blank region of rotated pages.
    assert reports[-1].action == "image" and rotated.width > rotated.height
    assert int((np.asarray(rotated) < 128).sum()) > 0.02 * rotated.width * rotated.height
    document = routed.report.documents[0]
    assert (document.pages_total, document.pages_used, document.note) == (5, 5, None)
    assert document.native_tokens is not None and document.native_tokens > document.tokens_after


def test_text_only_backend_gets_the_text_layer(router: Router) -> None:
    data = pdf(lambda doc: (text_page(doc), scanned_page(doc)))
    routed = router.route(attach(data), model="gpt-3.5-turbo")
    texts = [p["text"] for p in routed.messages[0]["content"] if p["type"] == "text"]
    assert texts[2].startswith("[page 1, text layer]\nGNU GENERAL PUBLIC LICENSE")
    assert texts[3] == "[page 2, text layer]\n(no text layer)"
    assert {r.reason.split(":")[0] for r in page_reports(routed)} == {"guard"}


def test_anthropic_document_blocks(router: Router) -> None:
    data = pdf(lambda doc: (table_page(doc), scanned_page(doc)))
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(data).decode()},
        "title": "scan.pdf",
    }
    messages = [{"role": "user", "content": [block, {"type": "text", "text": "What does it say?"}]}]
    routed = router.route(messages, model="claude-sonnet-4-6", wire="anthropic")
    blocks = routed.messages[0]["content"]
    assert blocks[0]["text"] == "[Attached document scan.pdf: 2 of 2 pages follow]"
    assert [b["type"] for b in blocks].count("image") == 2 and blocks[-1]["text"] == "What does it say?"


def test_page_ranges_and_limits(router: Router) -> None:
    data = pdf(lambda doc: [doc.new_page().insert_text((72, 72), f"page {n}") for n in range(1500)])
    routed = router.route(attach(data), model="gpt-3.5-turbo")  # text only: fast
    document = routed.report.documents[0]
    assert (document.pages_total, document.pages_used) == (1500, 100)
    assert "cut to the first 100 of 1500" in document.note
    some = router.route(attach(data), model="gpt-3.5-turbo", pages="3-5,1490-")
    numbers = [int(c.reason.rsplit(" ", 1)[1].rstrip(")")) for c in page_reports(some)]
    assert numbers == [3, 4, 5, *range(1490, 1501)]
    texts = [p["text"] for p in some.messages[0]["content"] if p["type"] == "text"]
    assert texts[2] == "[page 3, text layer]\npage 2"  # the fixture's page n says "page n-1"
    small = Router(
        Policy.from_yaml_text(
            "max_pages: 2\npages: '10-20'\nrules:\n  - {name: p, when: {kind: page}, action: image}\n"
        )
    )
    assert small.route(attach(data), model="gpt-4o").report.documents[0].pages_used == 2
    with pytest.raises(InvalidRequestError, match="selects no page"):
        router.route(attach(data), model="gpt-4o", pages="2000-")


def test_huge_page_is_tiled_within_bounds(router: Router) -> None:
    data = pdf(lambda doc: text_page(doc, GPL[:20000], width=2000, height=14400))
    routed = router.route(attach(data), model="claude-sonnet-4-6")
    profile = get_profile("anthropic")
    report = page_reports(routed)[0]
    assert report.action == "image" and 1 <= report.pages <= MAX_TILES_PER_PAGE
    for part in routed.messages[0]["content"]:
        if part["type"] == "image_url":
            size = Image.open(io.BytesIO(base64.b64decode(part["image_url"]["url"].split(",")[1]))).size
            assert size[0] <= profile.page_width and size[1] <= profile.page_height


def test_decompression_bomb_page_is_not_decoded(router: Router) -> None:
    def build(doc: pymupdf.Document) -> None:
        page = doc.new_page()
        side = 20000  # 400 MP of 1-bit pixels, 50 MB raw, a few KB compressed
        stream = zlib.compress(bytes(side * side // 8), 9)
        header = f"/Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray"
        xref = doc.get_new_xref()
        doc.update_object(xref, f"<< {header} /BitsPerComponent 1 /Filter /FlateDecode >>")
        doc.update_stream(xref, stream, new=True, compress=False)
        doc.xref_set_key(page.xref, "Resources", f"<< /XObject << /Im1 {xref} 0 R >> >>")
        contents = doc.get_new_xref()
        doc.update_object(contents, "<< >>")
        doc.update_stream(contents, b"q 500 0 0 700 50 50 cm /Im1 Do Q", new=True)
        doc.xref_set_key(page.xref, "Contents", f"{contents} 0 R")

    routed = router.route(attach(pdf(build)), model="claude-sonnet-4-6")
    report = page_reports(routed)[0]
    assert report.action == "text" and "too large to decode safely" in report.reason


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4 this is not a pdf at all", "not a readable pdf document"),
        (ZERO_PAGES, "no pages"),
    ],
)
def test_unreadable_documents_are_clear_errors(router: Router, data: bytes, message: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        router.route(attach(data), model="gpt-4o")
    assert caught.value.location == "messages[0].content[1]" and message in str(caught.value)


def test_encrypted_and_bad_base64(router: Router) -> None:
    doc = pymupdf.open()
    text_page(doc)
    encrypted = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    with pytest.raises(InvalidRequestError, match="encrypted"):
        router.route(attach(encrypted), model="gpt-4o")
    broken = [
        {"role": "user", "content": [{"type": "file", "file": {"filename": "x.pdf", "file_data": "@@not base64@@"}}]}
    ]
    with pytest.raises(InvalidRequestError, match=r"messages\[0\]\.content\[0\]\.file\.file_data: not valid base64"):
        router.route(broken, model="gpt-4o")


def test_file_ids_pass_through(router: Router) -> None:
    messages = [
        {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}, {"type": "text", "text": "Hi"}]}
    ]
    assert router.route(messages, model="gpt-4o").messages[0] is messages[0]


def test_real_debian_pdf(router: Router) -> None:
    if not DEBIAN_REFERENCE_PDF.exists():
        pytest.skip("debian-reference-zh-cn is not installed (.ci/run installs it)")
    routed = router.route(
        attach(DEBIAN_REFERENCE_PDF.read_bytes(), "debian-reference.pdf"), model="gpt-4o", pages="20-24"
    )
    reports = page_reports(routed)
    assert len(reports) == 5 and all(r.text_tokens > 0 for r in reports)
    assert routed.report.tokens_after < routed.report.tokens_before
    assert routed.report.documents[0].pages_total > 200


def test_other_formats_open_too(router: Router) -> None:
    text_file = {
        "filename": "notes.txt",
        "file_data": "data:text/plain;base64," + base64.b64encode(GPL[:3000].encode()).decode(),
    }
    scan = pymupdf.open()
    text_page(scan, GPL[:1200])
    png = scan[0].get_pixmap(dpi=90).tobytes("png")
    image_file = {"filename": "scan.png", "file_data": "data:image/png;base64," + base64.b64encode(png).decode()}
    messages = [
        {"role": "user", "content": [{"type": "file", "file": text_file}, {"type": "file", "file": image_file}]}
    ]
    routed = router.route(messages, model="claude-sonnet-4-6")
    names = [(d.name, d.pages_used) for d in routed.report.documents]
    assert names[0][0] == "notes.txt" and names[0][1] >= 1 and names[1] == ("scan.png", 1)
    assert page_reports(routed)[-1].action == "image"  # an image document is a scanned page


_BOMB_CHECK = """
import base64, json, resource, sys
import pymupdf
from router import Router

def ask(data, media):
    file = {"filename": "doc", "file_data": f"data:{media};base64," + base64.b64encode(data).decode()}
    return [{"role": "user", "content": [{"type": "text", "text": "What is this?"}, {"type": "file", "file": file}]}]

router = Router()
small = pymupdf.open()
small.new_page().insert_text((72, 72), "A small page, routed first so imports and fonts are loaded.")
router.route(ask(small.tobytes(), "application/pdf"), model="claude-sonnet-4-6")
messages = ask(open(sys.argv[1], "rb").read(), sys.argv[2])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
routed = router.route(messages, model="claude-sonnet-4-6")
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
pages = [c.model_dump() for c in routed.report.chunks if c.kind == "page"]
print(json.dumps({"grown_mb": grown, "pages": pages}))
"""


def _zeros(nbytes: int) -> bytes:
    """``nbytes`` of zeros, deflated block by block (the test itself must not hold the bomb in memory)."""
    deflate, block, out = zlib.compressobj(9), bytes(1 << 20), []
    for start in range(0, nbytes, len(block)):
        out.append(deflate.compress(block[: min(len(block), nbytes - start)]))
    return b"".join([*out, deflate.flush()])


def _png_bomb(side: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([1, 0, 0, 0, 0])  # 1-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", _zeros(side * (1 + side // 8)))
        + chunk(b"IEND", b"")
    )


def _pdf_bomb(side: int) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "A page of text with an enormous 8-bit image below it.")
    xref = doc.get_new_xref()
    doc.update_object(
        xref,
        f"<< /Type /XObject /Subtype /Image /Width {side} /Height {side} /ColorSpace /DeviceGray "
        "/BitsPerComponent 8 /Filter /FlateDecode >>",
    )
    doc.update_stream(xref, _zeros(side * side), new=True, compress=False)
    kind, resources = doc.xref_get_key(page.xref, "Resources")
    holder = int(resources.split()[0]) if kind == "xref" else page.xref
    doc.xref_set_key(holder, "XObject" if kind == "xref" else "Resources/XObject", f"<< /Im1 {xref} 0 R >>")
    contents = doc.get_new_xref()
    doc.update_object(contents, "<< >>")
    doc.update_stream(contents, b"q 300 0 0 300 50 300 cm /Im1 Do Q", new=True)
    doc.xref_set_key(page.xref, "Contents", f"[{page.get_contents()[0]} 0 R {contents} 0 R]")
    return doc.tobytes()


@pytest.mark.parametrize(("kind", "media"), [("pdf", "application/pdf"), ("png", "image/png")])
def test_bombs_are_refused_before_decoding(tmp_path: Path, kind: str, media: str) -> None:
    """A 400 MP image (a PDF's embedded 8-bit one, or an image file) is measured from its header and
    never decoded: the routing process grows by far less than the image's 400 MB of pixels."""
    import json
    import subprocess
    import sys

    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(_pdf_bomb(20000) if kind == "pdf" else _png_bomb(20000))
    assert path.stat().st_size < 2_000_000
    result = subprocess.run([sys.executable, "-c", _BOMB_CHECK, str(path), media], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["grown_mb"] < 60, found  # decoding it would take 400 MB
    page = found["pages"][0]
    assert page["action"] == "text" and "20000x20000 image, too large to decode safely" in page["reason"]


def test_pages_honour_the_requested_density_and_the_fidelity_guard() -> None:
    """Pages go through the same per-chunk routine as text: ``density=`` and the read-back guard apply."""
    from router import FidelitySettings

    data = pdf(table_page)  # a page with a ruled table always goes as an image
    for density in ("dense", "exact"):
        page = page_reports(Router().route(attach(data), model="claude-sonnet-4-6", density=density))[0]
        assert page.action == "image" and page.density == density
    dense, exact = (
        page_reports(Router().route(attach(data), model="claude-sonnet-4-6", density=d))[0] for d in ("dense", "exact")
    )
    assert exact.image_tokens > dense.image_tokens  # larger glyphs: the density really changed the drawing

    reading = FidelitySettings(mode="always", min_accuracy=0.5)
    guarded = Router(Policy.builtin("default").model_copy(update={"fidelity": reading}))
    page = page_reports(guarded.route(attach(pdf(text_page)), model="gemini/gemini-2.5-flash"))[0]
    assert page.readback is not None and page.readback.char_accuracy > 0.5
    assert page.fidelity and page.fidelity.startswith("read back")
    strict = FidelitySettings(mode="always", min_accuracy=1.0)
    failing = Router(Policy.builtin("default").model_copy(update={"fidelity": strict}))
    # Tokens of look-alike glyphs (l, 1, I, |, O, 0): the engine reads some of them wrong at every size,
    # where the GPL's opening alone read 100.0% at `exact` once RapidOCR stopped resizing its input.
    confusable = GPL[:1500] + "\n" + " ".join(f"lI1|O0o{i:x}Il" for i in range(60))
    page = page_reports(
        failing.route(attach(pdf(lambda doc: text_page(doc, confusable))), model="gemini/gemini-2.5-flash")
    )[0]
    assert page.action == "text" and page.reason.startswith("guard:fidelity:")


def test_a_document_over_the_image_budget_goes_as_its_text_layer_whole() -> None:
    def build(doc: pymupdf.Document) -> None:
        table_page(doc)  # drawn as an image whenever it can be: it holds a table
        text_page(doc, GPL[3000:5000])

    data = pdf(build)
    drawn = Router().route(attach(data), model="gpt-4o")
    assert any(r.action == "image" for r in page_reports(drawn))
    size = sum(len(p.png) for pages in drawn.pages.values() for p in pages)

    tight = Router(Policy.builtin("default").model_copy(update={"max_image_bytes": size - 1}))
    routed = tight.route(attach(data), model="gpt-4o")
    assert all(r.action == "text" and r.reason.startswith("guard:image-limit") for r in page_reports(routed))
    content = routed.messages[0]["content"]
    assert [p["type"] for p in content] == ["text"] * 4  # question, header, two text layers: nothing lost
    assert content[2]["text"].startswith("[page 1, text layer]") and "r11c2" in content[2]["text"]
    assert "sent as its text layer" in (routed.report.documents[0].note or "") and not routed.pages

    # A page without a text layer: the document stays drawn, even over the budget (its text would be lost).
    tiny = Router(Policy.builtin("default").model_copy(update={"max_image_bytes": 1}))
    kept = tiny.route(attach(pdf(scanned_page)), model="gpt-4o")
    assert page_reports(kept)[0].action == "image" and kept.pages


def test_a_pages_last_tile_bills_no_tile_for_its_margin() -> None:
    """A page drawn at gpt-4o's 512-px width whose content box, with its 6-pt margin, is 513 px tall:
    the blank last row billed a second tile (425 image tokens where 255 do). The clip's edges, rounded
    outwards, made it 513 px wide too: a second column of tiles."""
    from router.render.documents import describe_page, rasterise_page

    profile = get_profile("openai-tile")
    doc = pymupdf.open()
    page = doc.new_page(width=600, height=700)
    page.draw_rect(pymupdf.Rect(20, 20, 520, 521), color=(0, 0, 0), fill=(0.2, 0.2, 0.2))  # 500x501 + 6 pt round
    tiles = rasterise_page(page, describe_page(page, 1), profile, em_px=10)
    assert [tile.shape for tile in tiles] == [(512, 512)]
    assert profile.image_tokens(512, 512) < profile.image_tokens(512, 513)
    assert (tiles[0][0] == 255).all() and (tiles[0][-1] == 255).all()  # a blank row kept above and below
