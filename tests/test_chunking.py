"""Chunking: structure-aware splits that tile the text exactly, and precise errors for bad messages."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from router.chunking import chunk_messages, detect_script, split_text, validate_messages
from router.errors import InvalidRequestError

MODEL = "gpt-4o"


def kinds(text: str) -> list[str]:
    return [kind for kind, *_ in split_text(text)]


def test_question_and_pasted_code_are_separate_chunks(python_code: str) -> None:
    text = f"Please review this:\n\n```python\n{python_code}```\n\nWhat is wrong with it?"
    spans = split_text(text)
    assert [s[0] for s in spans] == ["prose", "code", "prose"]
    assert spans[1][3] == "python"
    assert "".join(text[start:end] for _, start, end, _ in spans) == text  # spans tile the text


def test_markdown_document_with_tables_and_code_is_one_chunk(markdown_table: str, python_code: str) -> None:
    document = f"# Report\n\nSome intro.\n\n{markdown_table}\n## Code\n\n```python\n{python_code}```\n"
    text = "Summarise the report below.\n\n" + document + "\nKeep it short."
    assert kinds(text) == ["prose", "markdown", "prose"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (json.dumps({"users": [{"id": i, "name": f"user{i}"} for i in range(20)]}, indent=2), "json"),
        ("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n", "table"),
        (
            "2026-11-29 14:38:01 INFO starting\n2026-11-29 14:38:02 WARN slow disk\n"
            "2026-11-29 14:38:03 ERROR failed: timeout\n",
            "log",
        ),
        ("<div class='x'>\n  <p>hello</p>\n</div>\n", "html"),
        ("Just a plain paragraph of prose.", "prose"),
    ],
)
def test_kinds(text: str, kind: str) -> None:
    assert kinds(text) == [kind]


def test_blank_text_has_no_chunks() -> None:
    assert split_text("  \n\n ") == []


def test_scripts(chinese_prose: str) -> None:
    assert detect_script("The quick brown fox") == "latin"
    assert detect_script(chinese_prose) in ("cjk", "mixed")
    assert detect_script("这是一个中文句子，没有英文。") == "cjk"
    assert detect_script("Error: 模块加载失败 (module loader failed), file not found") == "mixed"


def test_chunk_fields(english_prose: str) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": english_prose},
        {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": [{"type": "text", "text": "What does it say about freedom?"}]},
    ]
    chunks = chunk_messages(messages, MODEL)
    by_message = {}
    for c in chunks:  # the largest chunk of each message
        if c.message_index not in by_message or c.chars > by_message[c.message_index].chars:
            by_message[c.message_index] = c
    assert by_message[1].age == 2 and not by_message[1].live_turn
    assert by_message[3].live_turn and by_message[3].part_index == 0 and by_message[3].age == 0
    assert by_message[1].text_tokens > 300
    document = [c for c in chunks if c.message_index == 1]
    assert len(document) <= 5 and "".join(c.text for c in document) == english_prose  # at most 2 peeled per end
    assert [c.index for c in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize(
    ("messages", "where"),
    [
        ("hello", "messages"),
        ([], "messages"),
        (["hi"], "messages[0]"),
        ([{"content": "x"}], "messages[0].role"),
        ([{"role": "wizard", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([{"role": "user", "content": "ok"}, {"role": "user", "content": [{"text": "x"}]}], "messages[1].content[0]"),
        ([{"role": "user", "content": [{"type": "text", "text": None}]}], "messages[0].content[0].text"),
    ],
)
def test_invalid_messages_name_the_place(messages: object, where: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_messages(messages)
    assert caught.value.location == where
    assert str(caught.value).startswith(where + ":")


def test_markdown_only_where_it_is_markdown() -> None:
    gpl = Path("/usr/share/common-licenses/GPL-3").read_text(encoding="utf-8")
    assert {kind for kind, _, _, _ in split_text(gpl)} == {"prose"}  # numbered titles, indented clauses: prose
    clause = "    a) The work must carry prominent notices stating that you modified\n    it, and giving a date.\n"
    code = "    total = sum(values)\n    if total > limit:\n        raise ValueError(total)\n"
    intro = "Some words about the change that was made last week, and why it mattered to us.\n\n"
    assert [k for k, _, _, _ in split_text(intro + clause)][-1] == "prose"
    assert [k for k, _, _, _ in split_text(intro + code)][-1] == "code"
    mixed = (intro + code + "\n2024-01-02 12:00:01 ERROR queue full\n2024-01-02 12:00:02 WARN retry\n\n") * 4
    assert "text" in [k for k, _, _, _ in split_text(mixed)]  # unknown: drawn as it is, not as markdown
    assert "markdown" in [k for k, _, _, _ in split_text("# Notes\n\n" + mixed)]  # a heading says markdown


def test_very_long_documents_are_drawn_in_parts(english_prose: str, python_code: str) -> None:
    """A long document is cut into parts of at most about ``MAX_CHUNK_CHARS`` at blank lines, never
    inside a code fence, so one part the completeness check refuses costs that part, not the document."""
    from router.chunking import MAX_CHUNK_CHARS, chunk_messages, parts_of

    fence = f"```python\n{python_code}\n```\n\n"
    unit = english_prose + "\n\n" + fence
    document = "# Licences\n\n" + unit * (3 * MAX_CHUNK_CHARS // len(unit) + 1)
    parts = parts_of("markdown", document)
    assert len(parts) >= 3 and parts[0][0] == 0 and parts[-1][1] == len(document)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(parts))  # they tile the text
    for a, b in parts:
        part = document[a:b]
        assert len(part) <= MAX_CHUNK_CHARS + len(english_prose) and part.count("```") % 2 == 0
    line = "2025-06-24 14:36:{:02d} status installed libfoo{}:amd64 1.{}"
    log = "\n".join(line.format(i % 60, i, i) for i in range(3 * MAX_CHUNK_CHARS // 50))
    assert len(parts_of("log", log)) >= 3  # no blank line anywhere: cut at lines
    assert parts_of("diff", log) == [(0, len(log))]  # hunks are not cut
    chunks = chunk_messages([{"role": "user", "content": document + "\n\nWhat do these say?"}], "gpt-4o")
    assert sum(c.kind == "markdown" for c in chunks) == len(parts)
    assert "".join(c.text for c in chunks) == document + "\n\nWhat do these say?"


@pytest.mark.parametrize("kind", ["prose", "log"])
def test_a_long_span_is_cut_into_parts_as_full_as_the_limit_allows(kind: str) -> None:
    """1.8 times the most a part holds is two parts, the first full to within a paragraph or a line
    (cut at the first blank line past three quarters of the limit, it was three): each part pays
    for its own part-filled last page. Text appended leaves the first part where it was."""
    from router.chunking import MAX_CHUNK_CHARS, parts_of

    if kind == "prose":
        paragraph = "The licence grants each recipient the same freedoms, and asks the same of them. " * 12
        units = [paragraph + "\n\n"] * (int(1.8 * MAX_CHUNK_CHARS) // (len(paragraph) + 2))
    else:
        line = "2026-11-29 10:{:02d}:{:02d} status installed libfoo{}:amd64 1.2.{}\n"
        units = [line.format(i // 60 % 60, i % 60, i, i % 97) for i in range(int(1.8 * MAX_CHUNK_CHARS) // 56)]
    text = "".join(units)
    parts = parts_of(kind, text)
    assert len(parts) == 2 and parts[0][0] == 0 and parts[-1][1] == len(text) and parts[0][1] == parts[1][0]
    assert MAX_CHUNK_CHARS - len(units[0]) < parts[0][1] <= MAX_CHUNK_CHARS
    assert parts[0][1] in set(itertools.accumulate(len(u) for u in units))  # at a paragraph's or a line's end
    assert parts_of(kind, text + text[: MAX_CHUNK_CHARS // 2])[0] == parts[0]


def test_parts_of_a_long_span_bill_little_more_than_the_span_drawn_whole() -> None:
    """Where a family bills whole tiles, each part pays for its own part-filled last page, and no more:
    a part boundary costs at most one full page. In parts of 32k characters, Debian's licences (237k
    characters) billed 9.7% more image tokens than drawn whole on gpt-4o and 17.6% more on Gemini 2;
    in three parts of about 96k, 595 tokens more on gpt-4o (0.78 of a 765-token page a boundary) and
    258 more on Gemini 2 (a tile)."""
    from router.chunking import parts_of
    from router.providers.geometry import get_profile
    from router.render.chunks import RenderTarget, render_text
    from router.render.density import Typesetting, get_density

    licences = sorted(p for p in Path("/usr/share/common-licenses").iterdir() if p.is_file() and not p.is_symlink())
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in licences)
    eight = Typesetting(em_px=8, line_height=1.0)
    for family in ("openai-tile", "gemini-2"):
        profile = get_profile(family)
        target = RenderTarget(profile, get_density("dense", family).model_copy(update={"latin": eight}))
        whole = render_text(text, "prose", "latin", None, target).image_tokens
        parts = parts_of("prose", text)
        in_parts = sum(render_text(text[a:b], "prose", "latin", None, target).image_tokens for a, b in parts)
        page = profile.image_tokens(profile.page_width, profile.page_height)
        assert len(parts) > 1 and in_parts - whole <= (len(parts) - 1) * page, (family, len(parts), in_parts, whole)
