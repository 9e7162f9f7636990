"""Nothing is lost between a chunk's source and its pages: each construct, a broken renderer, a fuzzed mix."""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from router import Router
from router.chunking import chunk_messages
from router.errors import IncompleteRenderError
from router.providers.geometry import get_profile
from router.render import chunks as render_module
from router.render.chunks import RenderTarget, render_text
from router.render.completeness import check_flow, check_verbatim
from router.render.density import get_density

CLAUDE = RenderTarget(get_profile("anthropic"), get_density("balanced", "anthropic"))
GPT = RenderTarget(get_profile("openai-tile"), get_density("balanced", "openai-tile"))


def laid_text(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Record the text each layout placed, to assert on what the pages hold."""
    seen: dict[str, str] = {}
    flow, mono = render_module.layout_flow, render_module.layout_mono

    def recording_flow(*args, **kwargs):  # type: ignore[no-untyped-def]
        laid = flow(*args, **kwargs)
        seen["text"] = laid.text
        return laid

    def recording_mono(*args, **kwargs):  # type: ignore[no-untyped-def]
        laid = mono(*args, **kwargs)
        seen["text"] = laid.text
        return laid

    monkeypatch.setattr(render_module, "layout_flow", recording_flow)
    monkeypatch.setattr(render_module, "layout_mono", recording_mono)
    return seen


def table(columns: int, rows: int) -> str:
    head = "| " + " | ".join(f"col{j}" for j in range(columns)) + " |\n|" + "---|" * columns + "\n"
    return head + "\n".join("| " + " | ".join(f"r{i}c{j}" for j in range(columns)) + " |" for i in range(rows)) + "\n"


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", text)


@pytest.mark.parametrize(("columns", "rows"), [(300, 30), (12, 40)])  # 12 fit Claude's page at 13 px
def test_wide_tables_are_split_into_column_groups_not_cut(
    monkeypatch: pytest.MonkeyPatch, columns: int, rows: int
) -> None:
    seen = laid_text(monkeypatch)
    rendering = render_text(table(columns, rows), "table", "latin", None, CLAUDE)
    shown = set(words(seen["text"]))
    assert all(f"r{i}c{j}" in shown for i in range(rows) for j in range(columns))
    assert ("Columns 1 and 2" in seen["text"]) == (columns == 300) and rendering.pages  # only what cannot fit is split


def test_deep_lists_keep_what_follows(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = laid_text(monkeypatch)
    deep = "\n".join("  " * d + f"- level{d}" for d in range(14))
    after = "\n".join(f"- after{i}" for i in range(60))
    render_text(deep + "\n\n" + after + "\n", "markdown", "latin", None, CLAUDE)
    shown = set(words(seen["text"]))
    assert {f"level{d}" for d in range(14)} <= shown and {f"after{i}" for i in range(60)} <= shown
    assert "›" in seen["text"]  # depth past the indented levels is marked, not lost


def test_list_numbers_are_drawn_as_the_source_wrote_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A numbered list inside a bullet (MPL-2.0's boxed "*  6. Disclaimer of Warranty") lost its
    numbers to CSS numbering, and the chunk went as text; numbers are now text on the page, as written."""
    seen = laid_text(monkeypatch)
    boxed = "*  6. Disclaimer of Warranty  *\n*  7. Limitation of Liability  *\n\n"
    boxed += "Intro.\n\n1. one\n1. again\n1. thrice\n"
    render_text(boxed * 10, "markdown", "latin", None, CLAUDE)
    text = seen["text"]
    assert "6. Disclaimer of Warranty" in text and "7. Limitation of Liability" in text
    assert text.count("1. one") == 10 and text.count("1. again") == 10  # not renumbered 2., 3.
    assert "2. again" not in text


def test_words_with_double_f_are_found_on_their_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """FiraGO's ff and ffl ligatures extracted from MuPDF's PDFs as "ú" and "ù": "gtest_shuffle_test"
    in a copyright file sent a whole 24k-character chunk to text. The f's are drawn unjoined."""
    seen = laid_text(monkeypatch)
    prose = "Shuffle the staff; baffle the office with affluent waffles and gtest_shuffle_test.py files. " * 30
    for kind in ("prose", "markdown"):
        rendering = render_text(prose, kind, "latin", None, CLAUDE)
        assert rendering.pages and not rendering.undrawn  # no IncompleteRenderError: drawn, not text
        shown = "".join(words(unicodedata.normalize("NFKC", seen["text"])))  # as the check reads the pages
        for word in ("Shuffle", "staff", "baffle", "affluent", "waffles", "gtest_shuffle_test"):
            assert "".join(words(word)) in shown, word


def test_link_reference_definitions_stay_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = laid_text(monkeypatch)
    render_text('See [the spec][s].\n\n[s]: http://example.com/spec "Spec"\n', "markdown", "latin", None, CLAUDE)
    assert "http://example.com/spec" in seen["text"].replace("\u200b", "")


def test_the_check_catches_words_the_layout_dropped() -> None:
    with pytest.raises(IncompleteRenderError, match=r"not on the pages, e\.g\. gamma"):
        check_flow("alpha beta gamma delta", "<p>alpha beta gamma delta</p>", "alpha beta\ndelta", markdown=False)
    with pytest.raises(IncompleteRenderError, match="markup lost 2 words"):
        check_flow("alpha [r]: beta", "<p>alpha</p>", "alpha", markdown=True)
    with pytest.raises(IncompleteRenderError, match="differ from the source"):
        check_verbatim("x = 1\ny = 2\n", "x = 1\n")
    check_verbatim("def f():\n    return 1234567890\n", "def f():\n    return 12345\n↪ 67890\n")  # a wrapped line
    check_flow(
        "1. first\n2. second &amp; ﬁne",
        "<ol><li>first</li><li>second &amp; fine</li></ol>",
        "1. first\n2. second & ﬁne",
        markdown=True,
    )


def test_a_broken_renderer_sends_the_chunk_as_text(monkeypatch: pytest.MonkeyPatch, english_prose: str) -> None:
    """A layout that loses its last strip segment (or last code line) is caught; the chunk goes as text, whole."""
    flow = render_module.layout_flow

    def losing_flow(*args, **kwargs):  # type: ignore[no-untyped-def]
        laid = flow(*args, **kwargs)
        return dataclasses.replace(laid, text=laid.text[: len(laid.text) // 2])

    monkeypatch.setattr(render_module, "layout_flow", losing_flow)
    document = english_prose.replace("freedom", "freedom (broken-renderer)", 1)  # not in the render cache
    text = f"Read this:\n\n{document}\n\nWhat does it say?"
    routed = Router().route([{"role": "user", "content": text}], model="claude-sonnet-4-6")
    prose = [c for c in routed.report.chunks if c.text_tokens > 200]
    assert prose and all(c.action == "text" and c.reason.startswith("guard:incomplete:") for c in prose)
    assert routed.messages[0]["content"] == text

    mono = render_module.layout_mono

    def losing_mono(*args, **kwargs):  # type: ignore[no-untyped-def]
        laid = mono(*args, **kwargs)
        return dataclasses.replace(laid, text=laid.text.rsplit("\n", 3)[0])

    monkeypatch.setattr(render_module, "layout_mono", losing_mono)
    with pytest.raises(IncompleteRenderError):
        render_text("import os\n" * 50 + "print('broken-mono')\n", "code", "latin", "python", CLAUDE)


# --- a fuzzed mix of markdown constructs ---------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=14)
_PHRASE = st.lists(_WORD, min_size=1, max_size=12).map(" ".join)


@st.composite
def _block(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(["para", "heading", "list", "deep", "table", "fence", "quote", "ref", "entity", "inline"])
    )
    phrase = draw(_PHRASE)
    if kind == "heading":
        return "#" * draw(st.integers(1, 6)) + " " + phrase
    if kind == "list":
        ordered = draw(st.booleans())
        items = draw(st.lists(_PHRASE, min_size=1, max_size=6))
        return "\n".join((f"{i + 1}. " if ordered else "- ") + item for i, item in enumerate(items))
    if kind == "deep":
        depth = draw(st.integers(2, 16))
        return "\n".join("  " * d + f"- {phrase} d{d}" for d in range(depth))
    if kind == "table":
        columns, rows = draw(st.integers(1, 40)), draw(st.integers(1, 6))
        cells = draw(st.lists(_WORD, min_size=columns * (rows + 1), max_size=columns * (rows + 1)))
        lines = ["| " + " | ".join(cells[r * columns : (r + 1) * columns]) + " |" for r in range(rows + 1)]
        return "\n".join([lines[0], "|" + "---|" * columns, *lines[1:]])
    if kind == "fence":
        return f"```{draw(st.sampled_from(['', 'python', 'toml', 'json']))}\n{phrase}\n```"
    if kind == "quote":
        return "> " + phrase
    if kind == "ref":
        return f'[{phrase.split()[0]}]: http://example.com/{phrase.split()[0]} "{phrase}"'
    if kind == "entity":
        return f"{phrase} &amp; &copy; &#65; done"
    if kind == "inline":
        return f"**{phrase}** and `{phrase}` and _{phrase}_ [{phrase}](http://x.y/{phrase.split()[0]})"
    return phrase


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(blocks=st.lists(_block(), min_size=1, max_size=8), narrow=st.booleans())
def test_fuzzed_markdown_loses_nothing(blocks: list[str], narrow: bool) -> None:
    """Whatever the mix, a rendering either passes the completeness check, whose words then all stand on
    the pages, or the chunk goes as text; nothing raises past the router and no text is dropped."""
    text = "\n\n".join(blocks) + "\n"
    target = GPT if narrow else CLAUDE
    try:
        render_text(text, "markdown", "latin", None, target)
    except IncompleteRenderError:
        pass
    model = "gpt-4o" if narrow else "claude-sonnet-4-6"
    messages = [{"role": "user", "content": text + "\nSummarise the notes above."}]
    routed = Router().route(messages, model=model)
    content = routed.messages[0]["content"]
    sent_text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    for chunk, report in zip(chunk_messages(messages, model), routed.report.chunks, strict=True):
        if report.action == "text":
            assert chunk.text.strip() in sent_text  # kept whole, as the caller wrote it
        else:  # rendered, and its rendering passed the completeness check (render_text raises otherwise)
            assert routed.pages[chunk.index] and render_text(
                chunk.text, chunk.kind, chunk.script, chunk.language, target
            )


def test_a_name_drawn_by_mupdfs_fallback_fonts_is_on_its_page(english_prose: str) -> None:
    """A Malayalam conjunct (from a Debian copyright file): the shipped fonts have no Malayalam, MuPDF's
    fallback fonts draw it, and the check finds it on the page."""
    line = "Copyright (C) 2012 Praveen ( പ്രവീണ്‍ ) Arimbrathodiyil - ml translations"
    document = english_prose.replace("Free Software Foundation", f"Free Software Foundation\n\n{line}\n\n", 1)
    rendering = render_text(document, "prose", "latin", None, CLAUDE)
    assert rendering.pages and not rendering.undrawn


def test_words_no_font_draws_go_as_text_beside_the_pages(english_prose: str) -> None:
    """A word in a script no font draws (Tangut: neither the shipped fonts nor MuPDF's fallback fonts
    have its glyphs, and MuPDF draws boxes) does not send a whole document back to text: the pages
    carry the rest, the words travel beside them as text; many such words are still refused."""
    from router import Router

    line = "Glossary entry 2012: 𗼇𗟲 ( Tangut ) Arakawa - translations"
    document = english_prose.replace("Free Software Foundation", f"Free Software Foundation\n\n{line}\n\n", 1)
    routed = Router().route([{"role": "user", "content": f"Read this:\n\n{document}\n\nWhat?"}], model="gpt-4o")
    drawn = max(routed.report.chunks, key=lambda c: c.text_tokens)
    assert drawn.action == "image" and drawn.drawing and "no font draws" in drawn.drawing
    facts = routed.factsheets[drawn.index]
    assert "(no font draws them):" in facts and drawn.factsheet_tokens > 0
    assert "𗼇𗟲" in facts.rsplit(":", 1)[1]  # the Tangut, as text
    assert facts in json.dumps(routed.messages, ensure_ascii=False)

    crowded = "\n".join(f"{line} {n}" for n in range(40)) + "\n\n" + english_prose[:3000]
    refused = Router().route([{"role": "user", "content": f"Read this:\n\n{crowded}\n\nWhat?"}], model="gpt-4o")
    assert any(c.reason.startswith("guard:incomplete") for c in refused.report.chunks)


def test_symbols_no_font_draws_go_as_text_beside_the_pages(english_prose: str) -> None:
    """An emoji newer than MuPDF's fallback fonts (🦀, 🙂) or a private-use icon is drawn as a box. The
    word check never saw it, so prose lost it without a word: it now travels beside the pages, in the
    order of the boxes; many such symbols send the chunk as text."""
    line = "Thanks for the fix 🙂, the crab 🦀 approves and the build is green ✅️."
    document = english_prose.replace("Free Software Foundation", f"Free Software Foundation\n\n{line}\n\n", 1)
    assert render_text(document, "prose", "latin", None, CLAUDE).undrawn == ["🙂", "🦀"]  # ✅ is drawn
    routed = Router().route([{"role": "user", "content": f"Read this:\n\n{document}\n\nWhat?"}], model="gpt-4o")
    drawn = max(routed.report.chunks, key=lambda c: c.text_tokens)
    assert drawn.action == "image" and drawn.drawing and "no font draws" in drawn.drawing
    assert routed.factsheets[drawn.index].endswith("(no font draws them): 🙂 🦀]")

    chatty = "\n\n".join(f"Reply {n}: sounds good 🙂" for n in range(30)) + "\n\n" + english_prose[:3000]
    with pytest.raises(IncompleteRenderError, match=r"30 words or symbols of \d+ words no font draws"):
        render_text(chatty, "prose", "latin", None, CLAUDE)


@pytest.mark.parametrize("kind", ["log", "code", "terminal"])
def test_monospace_keeps_its_pages_where_a_few_characters_have_no_glyph(kind: str) -> None:
    """A log line with a new emoji or a powerline icon sent the whole chunk as text; a variation
    selector after a drawn emoji (✅️) did too, though it draws nothing of its own. Now the pages keep
    everything else and the runs with no glyph go beside them; many still send the chunk as text."""
    lines = [f"2026-12-03 10:{n:02d}:00 INFO step {n} finished ok" for n in range(40)]
    lines[3] += " ✅️"
    lines[7] += " 🤖🤖 \ue0b0 main"
    rendering = render_text("\n".join(lines) + "\n", kind, "latin", None, CLAUDE)
    assert rendering.pages and rendering.undrawn == ["🤖🤖", "\ue0b0"]
    crowded = "\n".join(f"{line} 🦀" for line in lines) + "\n"
    with pytest.raises(IncompleteRenderError, match="42 runs of characters no font draws"):
        render_text(crowded, kind, "latin", None, CLAUDE)


TREE = """\
.
├── router
│   ├── render
│   │   └── lines.py
│   └── cli.py
└── README.md
┌──────┬──────┐
│ name │ size │
╞══════╪══════╡
│ a.py │ 12 K │
└──────┴──────┘
"""


@pytest.mark.parametrize("kind", ["terminal", "log", "code"])
def test_box_drawing_in_monospace_is_drawn_and_checked(kind: str) -> None:
    """``tree`` output and ruled terminal tables: MuPDF's extraction reads Cascadia Mono's box-drawing
    glyphs as Bengali and Devanagari letters, and such chunks failed the check and went as text."""
    rendering = render_text(TREE, kind, "latin", None, CLAUDE)
    assert rendering.pages and not rendering.undrawn
