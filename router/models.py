"""The data passed between stages: chunk -> decision -> rendering -> routed request + report."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from router.kinds import Kind

Script = Literal["latin", "cjk", "mixed"]
Action = Literal["text", "image"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class Chunk(BaseModel):
    """A span of one message's text that is routed as a unit."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="position among all chunks of the request")
    message_index: int
    part_index: int | None = Field(None, description="content part index; None when content is a string")
    sub_index: int | None = Field(None, description="block index inside an Anthropic tool_result's content list")
    start: int = Field(description="offset of the span in the message (or part) text")
    end: int
    role: Role
    age: int = Field(description="messages after this one; 0 for the last message")
    turns_after: int = Field(0, description="user turns after this one; 0 in the live turn and after it")
    answered: bool = Field(False, description="an assistant message follows: the model has replied since")
    live_turn: bool = Field(
        description="the question being asked now: the last user turn, less a document pasted around its question"
    )
    tool_name: str | None = Field(None, description="for a tool result: the name of the tool that was called")
    kind: Kind
    language: str | None = Field(None, description="code language from a fence info string")
    page: int | None = Field(None, description="1-based page number, for a page of an attached document")
    messages: int = Field(1, description="messages this chunk stands for: more than one for a history block")
    script: Script
    text: str
    chars: int
    text_tokens: int

    @property
    def id(self) -> str:
        """A short name from the content: the same text has the same id in every request (labels, recall)."""
        return hashlib.blake2b(self.text.encode("utf-8", "surrogatepass"), digest_size=5).hexdigest()


class Decision(BaseModel):
    """What the policy and guards chose for one chunk, and why."""

    action: Action
    reason: str = Field(description="'rule:NAME' or 'guard:NAME: detail'")
    density: str = "balanced"


class Page(BaseModel):
    """One rendered page: a PNG exactly as it is sent."""

    model_config = ConfigDict(frozen=True)

    png: bytes = Field(repr=False)
    data_url: str = Field(repr=False, description="the PNG as a data: URL, encoded once when rendered")
    width: int
    height: int
    tokens: int = Field(description="billed image tokens for this page on the target encoder")
    grayscale: bool
    gutters: tuple[int, ...] = Field(
        (), description="x of the middle of each gap between the page's text columns, in page pixels"
    )


class Rendering(BaseModel):
    """All pages of one chunk."""

    model_config = ConfigDict(frozen=True)

    pages: list[Page]
    columns: int = 1
    undrawn: list[str] = Field(default_factory=list, description="words, symbols no font draws: sent as text beside")
    shown: str = Field(
        "",
        repr=False,
        description="visible text of the drawn markup (tables as split into column groups): "
        "what a read-back is scored against; empty where that is the source text itself",
    )
    render_ms: float = 0.0
    encode_ms: float = 0.0
    cached: bool = False

    @property
    def image_tokens(self) -> int:
        return sum(p.tokens for p in self.pages)


class ReadBack(BaseModel):
    """A rendering read back by OCR at the provider-visible resolution, scored against its source."""

    engine: str
    char_accuracy: float = Field(description="1 - character error rate")
    word_accuracy: float = Field(description="1 - word error rate")
    identifiers: int = Field(description="numbers, hashes, URLs and letter-digit names in the source")
    identifiers_found: int
    identifier_recall: float
    missing: list[str] = Field(default_factory=list, description="the first identifiers not read back")
    text: str = Field("", repr=False, description="what the engine read (the first 20,000 characters)")
    pages: int = 1
    ocr_ms: float = 0.0


class ChunkReport(BaseModel):
    """What happened to one chunk."""

    index: int
    id: str = Field("", description="the chunk's content id, as its label names it")
    message_index: int
    messages: int = Field(1, description="messages the chunk stands for (a history block: its turns)")
    role: Role
    tool_name: str | None = None
    kind: Kind
    script: Script
    chars: int
    action: Action
    reason: str
    density: str | None = None
    text_tokens: int
    image_tokens: int = 0
    label_tokens: int = 0
    factsheet_tokens: int = Field(0, description="exact strings sent as text beside the images")
    pages: int = 0
    columns: int = 0
    render_ms: float = 0.0
    cached: bool = False
    readback: ReadBack | None = Field(None, description="the fidelity guard's read-back, when it ran")
    fidelity: str | None = Field(None, description="what the fidelity guard did, when it ran or was sampled")
    drawing: str | None = Field(None, description="what drawing changed from the source (terminal escapes applied)")
    cache: str | None = Field(None, description="for a chunk the provider held cached as text: which way it went, why")

    @property
    def tokens_after(self) -> int:
        if self.action == "image":
            return self.image_tokens + self.label_tokens + self.factsheet_tokens
        return self.text_tokens


class DocumentReport(BaseModel):
    """One attached document: which pages were used, and its cost against the provider's own PDF input."""

    message_index: int
    part_index: int
    name: str
    pages_total: int
    pages_used: int
    note: str | None = Field(None, description="why pages were cut or skipped, if any were")
    tokens_after: int
    native_tokens: int | None = Field(None, description="estimated tokens if the provider read the file itself")


class EmbeddedPage(BaseModel):
    """One page sent as precomputed embeddings (the local encoder)."""

    chunk: int = Field(description="index of the chunk (or document page) the page belongs to")
    page: int = Field(description="the page's place among its chunk's pages, from 0")
    tokens: int
    source: Literal["memory", "disk", "encoded"] = Field(description="where the embeddings came from")


class EmbeddingReport(BaseModel):
    """What the local encoder did for one request."""

    encoder: str = Field(description="the encoder's identity: weights digest, dtypes and processor settings")
    sent: bool = Field(description="whether the pages went as embeddings (else as PNGs, see note)")
    note: str | None = None
    encode_ms: float = 0.0
    payload_bytes: int = 0
    pages: list[EmbeddedPage] = Field(default_factory=list)

    @property
    def cache_hits(self) -> int:
        return sum(p.source != "encoded" for p in self.pages)


class RouteReport(BaseModel):
    """Totals for one routed request, plus the per-chunk detail."""

    model: str
    encoder: str
    vision: bool
    tokens_before: int
    tokens_after: int
    cost_before: float | None = Field(None, description="estimated input cost in USD, text as sent")
    cost_after: float | None = Field(None, description="estimated input cost in USD, as routed")
    images: int = 0
    route_ms: float = 0.0
    recall_rounds: int = Field(0, description="hcr_recall rounds answered by the router for this request")
    tokenizer: str = Field("", description="what text was counted with ('estimate: ...' if not the model's own)")
    billed_input_tokens: int | None = Field(
        None, description="input tokens the backend billed (its usage), beside the estimate; None: not reported"
    )
    chunks: list[ChunkReport] = Field(default_factory=list)
    documents: list[DocumentReport] = Field(default_factory=list)
    embeddings: EmbeddingReport | None = Field(None, description="pages sent as local-encoder embeddings")

    @property
    def tokens_saved(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def compression(self) -> float:
        return self.tokens_before / self.tokens_after if self.tokens_after else 1.0

    def summary(self) -> dict[str, Any]:
        """Flat figures for headers, logs and the CLI."""
        return {
            "model": self.model,
            "encoder": self.encoder,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "images": self.images,
            "chunks_as_image": sum(c.action == "image" for c in self.chunks),
            "chunks": len(self.chunks),
            "route_ms": round(self.route_ms, 2),
            "cost_before": self.cost_before,
            "cost_after": self.cost_after,
            "billed_input_tokens": self.billed_input_tokens,
        }


class RoutedRequest(BaseModel):
    """The request as it will be sent (OpenAI format, or Anthropic's with ``system``), and the report."""

    model: str
    # Not validated (so not copied): a message the router did not change is the caller's own object.
    messages: Annotated[list[Any], SkipValidation]
    system: Annotated[Any, SkipValidation] = Field(None, description="the routed system prompt (Anthropic wire)")
    report: RouteReport
    pages: dict[int, list[Page]] = Field(default_factory=dict, repr=False, description="chunk index -> pages")
    sources: dict[str, str] = Field(
        default_factory=dict, repr=False, description="chunk id -> source text, for chunks sent as images (recall)"
    )
    chunks: Annotated[list[Chunk], SkipValidation] = Field(
        default_factory=list, repr=False, exclude=True, description="the chunks the request was cut into"
    )
    factsheets: dict[int, str] = Field(
        default_factory=dict, repr=False, description="chunk index -> the exact strings sent as text beside its pages"
    )
