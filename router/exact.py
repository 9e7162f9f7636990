"""Exact strings: what a model may have to copy character for character, and what must never be drawn.

A model reading pixels can misread a hash or an id without noticing, and an agent that copies one
wrongly breaks its task. Three defences share the one finder here:

- ``identifiers``: numbers, hashes, URLs, e-mail addresses and letter-digit names (the read-back
  guard scores identifier recall with it);
- ``keep_sharp``: a chunk that holds a secret (keys, tokens, passwords, private keys) or is dense
  with hashes and random ids stays text;
- ``factsheet``: for an imaged chunk, the exact strings sent beside its images as text, the ones the
  read-back missed first, then by how likely a reader is to get them wrong, within a token budget.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from router.tokens import count_tokens

__all__ = ["ExactSettings", "factsheet", "identifiers", "keep_sharp", "ranked_strings"]

_IDENTIFIER = re.compile(
    r"https?://[^\s<>\"'`)\]]+"  # URLs
    r"|(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}"  # e-mail addresses (bounded: see _PATH)
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"  # UUIDs
    r"|\b[vV]\d+(?:\.\d+)+\b"  # versions: v4.12.3
    r"|\b(?=[A-Za-z_]{0,200}\d)(?=\w{0,200}[A-Za-z])\w{3,}\b"  # names with digits: sha256, x86_64, ERR_4031, 3f9ab2c
    r"|\b\d[\d,.:/-]*\d\b"  # numbers, dates, times, versions, addresses (two digits or more)
)
# Only for the factsheet: file paths and key=value settings, which the read-back score leaves to
# its character accuracy.
# Every quantifier is bounded: tool output is caller-controlled, and an unbounded pattern that
# backtracks over a 100 kB run of dots or hyphens would be quadratic.
_PATH = re.compile(
    r"(?<![\w/])(?:~|\.{1,2})?(?:/[\w.@+-]{1,80}){2,24}/?|\b[\w.-]{1,80}(?:/[\w.@+-]{1,80}){1,24}\.\w{1,8}\b"
)
_KEY_VALUE = re.compile(r"\b[A-Za-z_][\w.-]{1,40}=[^\s,;&]{1,80}")

_MAX_STRING_CHARS = 200  # longer runs are data, not an identifier anyone copies
_HEX = re.compile(r"[0-9a-fA-F]{7,}")
_RANDOM = re.compile(r"(?=.*\d)(?=.*[a-z])(?=.*[A-Z])[\w-]{12,}")
_NUMBER = re.compile(r"[\d,.:/-]+")
_HASH_LIKE = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b(?=[0-9a-f]{0,199}[a-f])(?=[0-9a-f]{0,199}\d)[0-9a-f]{12,200}\b"
    r"|\b(?=[\w-]{0,199}\d)(?=[\w-]{0,199}[a-z])(?=[\w-]{0,199}[A-Z])[\w-]{20,200}\b"
)
_SECRETS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "API key": re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "password": re.compile(
        r"(?i)(?<![a-z])(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token|client[_-]?secret)"
        r"[\"']?\s*[:=]\s*[\"']?(?![$<{%*]|os\.|env|none\b|null\b|true\b|false\b)[^\s\"',;]{6,}"
    ),
}


class ExactSettings(BaseModel):
    """The policy's ``exact:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    factsheet: bool = Field(True, description="send an imaged chunk's exact strings beside its images, as text")
    factsheet_max_tokens: int = Field(120, ge=0, description="token budget of one chunk's factsheet")
    secrets_as_text: bool = Field(True, description="a chunk that looks like it holds a secret stays text")
    max_hash_share: float = Field(
        0.15, gt=0, le=1, description="a chunk more than this share hashes and random ids (by characters) stays text"
    )


def identifiers(text: str) -> list[str]:
    """Numbers, hashes, URLs, e-mail addresses and letter-digit names, in order, each once."""
    found: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(unicodedata.normalize("NFKC", text)):
        token = match.group().rstrip(".,;:")
        if len(token) >= 2:
            found.setdefault(token)
    return list(found)


def keep_sharp(text: str, settings: ExactSettings) -> str | None:
    """Why ``text`` must stay text (a guard reason), or None."""
    if settings.secrets_as_text:
        for what, pattern in _SECRETS.items():
            if pattern.search(text):
                return f"guard:secret: looks like it holds a {what}; secrets are never drawn"
    visible = sum(not c.isspace() for c in text)
    hashed = sum(len(m.group()) for m in _HASH_LIKE.finditer(text))
    if visible and hashed / visible > settings.max_hash_share:
        return (
            f"guard:identifiers: {hashed / visible:.0%} of the text is hashes and random ids "
            f"(> {settings.max_hash_share:.0%}); kept exact"
        )
    return None


def _risk(token: str) -> int:
    """0 is the most likely to be misread: hashes, UUIDs and random ids; then long numbers and
    versions; then URLs, paths and e-mail addresses; then settings; then other names."""
    bare = token.replace("-", "")
    if _RANDOM.fullmatch(token) or (
        _HEX.fullmatch(bare) and any(c.isdigit() for c in bare) and any(c.isalpha() for c in bare)
    ):
        return 0
    if _NUMBER.fullmatch(token.lstrip("vV")):
        return 1 if sum(c.isdigit() for c in token) >= 5 or token.count(".") >= 2 else 4
    if "://" in token or "@" in token or "/" in token:
        return 2
    if "=" in token:
        return 3
    return 4


def ranked_strings(text: str, missed: Sequence[str] = ()) -> list[str]:
    """The exact strings of ``text``, read-back misses first, then by risk, each in order of appearance."""
    found: dict[str, None] = dict.fromkeys(identifiers(text))
    for pattern in (_PATH, _KEY_VALUE):
        for match in pattern.finditer(text):
            found.setdefault(match.group().rstrip(".,;:"))
    tokens = list(found)
    order = {t: n for n, t in enumerate(tokens)}
    misses = [t for t in dict.fromkeys(missed) if t in text]
    rest = sorted((t for t in tokens if t not in misses), key=lambda t: (_risk(t), order[t]))
    return [t for t in misses + [t for t in rest if _risk(t) < 4 or len(t) >= 6] if len(t) <= _MAX_STRING_CHARS]


def factsheet(chunk_id: str, text: str, model: str, settings: ExactSettings, missed: Sequence[str] = ()) -> str | None:
    """The text sent beside a chunk's images, or None when there is nothing (or no budget) to send."""
    if not settings.factsheet or not settings.factsheet_max_tokens:
        return None
    head = f"[Exact strings in #{chunk_id}, to copy from here rather than from the image:]"
    budget = settings.factsheet_max_tokens - count_tokens(head, model)
    chosen: list[str] = []
    for token in ranked_strings(text, missed):
        if any(token in other for other in chosen):
            continue  # a path or setting already listed holds it
        cost = count_tokens(token, model) + 1  # and its newline
        if cost > budget:
            continue
        chosen.append(token)
        budget -= cost
    return "\n".join([head, *chosen]) if chosen else None
