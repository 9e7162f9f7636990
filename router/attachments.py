"""Stage 1b: attached documents -> page chunks -> decisions -> the parts that replace them.

OpenAI ``file`` parts (``file_data`` as base64 or a data URL) and Anthropic ``document`` blocks (base64
source) are read page by page (``router.render.documents``). Each page is a chunk of kind ``page`` whose text
is its text layer, so policy rules match pages like any chunk. Pages that are scanned or hold tables or
figures go as images whenever the backend takes images (their text layer misses content); plain-text
pages go as images only where that pays (``min_saving``), else as their text. Without vision every
page goes as its text layer. The document part is replaced in place by a label and its pages. Files
given by id or URL pass through untouched: the provider reads them itself.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from router.chunking import detect_script
from router.errors import DocumentError, InvalidRequestError
from router.fidelity.guard import FidelityGuard
from router.models import Chunk, ChunkReport, DocumentReport, Page, Rendering
from router.policy import Policy
from router.prompt import ImagePart, label_for
from router.render._mupdf import MUPDF_LOCK
from router.render.density import Density
from router.render.documents import PageInfo, filetype_for, iter_pages, open_document, parse_pages, rasterise_page
from router.render.png import encode_page
from router.route_chunk import route_chunk
from router.target import Target
from router.tokens import count_tokens

__all__ = ["Attachments", "route_attachments"]


@dataclass
class Attachments:
    reports: list[ChunkReport] = field(default_factory=list)
    documents: list[DocumentReport] = field(default_factory=list)
    replacements: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    pages: dict[int, list[Page]] = field(default_factory=dict)  # page chunk index -> its rendered tiles
    # Each document as its text layer, where every page has one: what it becomes over the image budget.
    text_layers: dict[tuple[int, int], list[dict[str, Any]]] = field(default_factory=dict)
    page_chunks: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # document -> its page chunks

    @property
    def images(self) -> int:
        return sum(r.pages for r in self.reports if r.action == "image")

    def as_text(self, document: tuple[int, int], reason: str) -> None:
        """Send ``document`` as its text layer, whole (over the image budget)."""
        first = self.reports[0].index if self.reports else 0
        for index in self.page_chunks[document]:
            self.pages.pop(index, None)
            done = self.reports[index - first]
            self.reports[index - first] = done.model_copy(update={"action": "text", "pages": 0, "reason": reason})
        self.replacements[document] = self.text_layers[document]
        for n, report in enumerate(self.documents):
            if (report.message_index, report.part_index) == document:
                tokens = sum(self.reports[i - first].text_tokens for i in self.page_chunks[document])
                self.documents[n] = report.model_copy(
                    update={"tokens_after": tokens, "note": ((report.note + "; ") if report.note else "")
                            + "sent as its text layer: over the image budget"}
                )  # fmt: skip


@dataclass(frozen=True)
class _Attached:
    message_index: int
    part_index: int
    name: str
    data: bytes
    filetype: str


@dataclass(frozen=True)
class _Request:
    """What every page of a request is routed with."""

    target: Target
    policy: Policy
    fidelity: FidelityGuard
    make_image: ImagePart


def route_attachments(
    messages: Sequence[Mapping[str, Any]],
    target: Target,
    policy: Policy,
    fidelity: FidelityGuard,
    *,
    first_index: int,
    make_image: ImagePart,
) -> Attachments:
    result = Attachments()
    request = _Request(target, policy, fidelity, make_image)
    for attached in _find_documents(messages):
        where = f"messages[{attached.message_index}].content[{attached.part_index}]"
        with MUPDF_LOCK:  # PyMuPDF is not thread-safe: one document at a time, from open to close
            try:
                doc = open_document(attached.data, attached.filetype)
            except DocumentError as exc:
                raise InvalidRequestError(where, f"{attached.name}: {exc}") from None
            try:
                _route_document(doc, attached, where, result, request, first_index)
            finally:
                doc.close()
    return result


def _route_document(
    doc: Any, attached: _Attached, where: str, result: Attachments, request: _Request, first_index: int
) -> None:
    policy, target = request.policy, request.target
    try:
        numbers = parse_pages(target.pages, doc.page_count)
    except DocumentError as exc:
        raise InvalidRequestError(where, str(exc)) from None
    note = None
    if len(numbers) > policy.max_pages:
        note = f"cut to the first {policy.max_pages} of {len(numbers)} selected pages (policy max_pages)"
        numbers = numbers[: policy.max_pages]
    header = f"[Attached document {attached.name}: {len(numbers)} of {doc.page_count} pages follow]"
    parts: list[dict[str, Any]] = [{"type": "text", "text": header}]
    text_layer: list[dict[str, Any]] | None = [{"type": "text", "text": header}]
    key = (attached.message_index, attached.part_index)
    tokens_after, native_text = count_tokens(header, target.model), 0
    for page, info in iter_pages(doc, numbers):
        chunk = _page_chunk(info, attached, first_index + len(result.reports), target.model)
        report, page_parts, tiles = _route_page(page, info, chunk, request)
        result.reports.append(report)
        result.page_chunks.setdefault(key, []).append(chunk.index)
        if tiles:
            result.pages[chunk.index] = tiles
        parts.extend(page_parts)
        if text_layer is not None and info.look != "scanned" and info.text.strip():
            text_layer.append(_text_part(info))
        else:
            text_layer = None  # a page without a text layer: the document cannot go as text whole
        tokens_after += report.tokens_after
        native_text += chunk.text_tokens
    result.replacements[key] = parts
    if text_layer is not None:
        result.text_layers[key] = text_layer
    profile = target.profile
    native = None
    if profile.native_pdf_page_tokens is not None and attached.filetype == "pdf":
        native = len(numbers) * profile.native_pdf_page_tokens + (native_text if profile.native_pdf_adds_text else 0)
    result.documents.append(
        DocumentReport(
            message_index=attached.message_index,
            part_index=attached.part_index,
            name=attached.name,
            pages_total=doc.page_count,
            pages_used=len(numbers),
            note=note,
            tokens_after=tokens_after,
            native_tokens=native,
        )
    )


def _page_chunk(info: PageInfo, attached: _Attached, index: int, model: str) -> Chunk:
    return Chunk(
        index=index, message_index=attached.message_index, part_index=attached.part_index, start=0,
        end=len(info.text), role="user", age=0, live_turn=False, kind="page", page=info.number,
        script=detect_script(info.text), text=info.text, chars=len(info.text),
        text_tokens=count_tokens(info.text, model),
    )  # fmt: skip


def _route_page(
    page: Any, info: PageInfo, chunk: Chunk, request: _Request
) -> tuple[ChunkReport, list[dict[str, Any]], list[Page]]:
    target = request.target
    decision = request.policy.match(chunk, target)
    if decision.action == "image" and not target.vision:
        decision = decision.model_copy(
            update={"action": "text", "reason": "guard:no-vision: the backend does not accept images"}
        )

    def draw(density: Density) -> Rendering:
        started = time.perf_counter()
        tiles = rasterise_page(page, info, target.profile, density.em_px("page", chunk.script))
        encoded = [encode_page(tile, target.profile, grayscale=True) for tile in tiles]
        return Rendering(pages=encoded, render_ms=(time.perf_counter() - started) * 1000)

    # Scanned pages and pages with tables or figures go as images whenever the backend takes them
    # (their text layer misses content); plain-text pages only where the image pays for itself.
    outcome = route_chunk(
        chunk, decision, target, request.policy, request.fidelity, draw,
        must_pay=info.look == "text", read_back=info.look != "scanned",
    )  # fmt: skip
    which = f" ({info.look} page {info.number})"  # every reason says which page, and what it looks like
    report = outcome.report.model_copy(update={"reason": outcome.report.reason + which})
    if not outcome.pages:
        return report, [_text_part(info)], []
    label = {"type": "text", "text": label_for(chunk, len(outcome.pages))}
    parts = [label, *(request.make_image(tile, target.profile) for tile in outcome.pages)]
    if outcome.facts:
        parts.append({"type": "text", "text": outcome.facts})
    return report, parts, outcome.pages


def _text_part(info: PageInfo) -> dict[str, Any]:
    return {"type": "text", "text": f"[page {info.number}, text layer]\n{info.text.strip() or '(no text layer)'}"}


def _find_documents(messages: Sequence[Mapping[str, Any]]) -> list[_Attached]:
    found = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            attached = _document_of(part, i, j)
            if attached is not None:
                found.append(attached)
    return found


def _document_of(part: Mapping[str, Any], i: int, j: int) -> _Attached | None:
    where = f"messages[{i}].content[{j}]"
    if part.get("type") == "file" and isinstance(part.get("file"), Mapping):
        file = part["file"]
        data = file.get("file_data")
        if not isinstance(data, str):
            return None  # a file_id: the provider reads it
        name = str(file.get("filename") or "document")
        media_type = None
        if data.startswith("data:"):
            header, _, data = data.partition(",")
            media_type = header[5:].split(";")[0]
        return _Attached(i, j, name, _decode(data, f"{where}.file.file_data"), filetype_for(media_type, name))
    if part.get("type") == "document" and isinstance(part.get("source"), Mapping):
        source = part["source"]
        if source.get("type") != "base64":
            return None  # a URL or plain text source: the provider reads it
        name = str(part.get("title") or "document")
        data = _decode(source.get("data"), f"{where}.source.data")
        return _Attached(i, j, name, data, filetype_for(source.get("media_type"), name))
    return None


def _decode(data: Any, where: str) -> bytes:
    if not isinstance(data, str):
        raise InvalidRequestError(where, "expected base64 text")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(where, "not valid base64") from None
