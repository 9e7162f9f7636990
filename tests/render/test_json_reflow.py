"""JSON drawn with its whitespace redrawn (``router.render.reflow``): every token as written, lines
that fill the page, and JSON that is not JSON tokens drawn as code."""

from __future__ import annotations

import json

import pytest

from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import get_density
from router.render.reflow import reflow_json
from router.tools.calibration_samples import corpus

DOCUMENT = {
    "total": 2,
    "items": [
        {"id": 1, "name": "alpha  beta", "tags": ["x", "y"], "owner": {"login": "lin", "id": 7}, "score": 1.25e-05},
        {"id": 2, "name": "gamma", "tags": [], "owner": None, "score": -0.0},
    ],
    "meta": {"next": "https://example.org/items?page=3", "deep": {"a": {"b": [1, {"c": True}]}}},
    "empty": {},
}


def _text(lines: list) -> str:
    return "\n".join("  " * line.depth + line.text for line in lines)


@pytest.mark.parametrize("indent", [None, 1, 2, 4, "\t"])
def test_reflow_keeps_every_token_as_written(indent: int | str | None) -> None:
    """Only whitespace between tokens changes: the same non-blank characters in order, the same JSON,
    and strings keep their inner spaces."""
    source = json.dumps(DOCUMENT, indent=indent)
    lines = reflow_json(source)
    assert lines is not None
    assert "".join(_text(lines).split()) == "".join(source.split())
    assert json.loads(_text(lines)) == DOCUMENT
    assert '"alpha  beta"' in _text(lines) and "1.25e-05" in _text(lines)


def test_small_containers_share_a_line_and_records_get_one_each() -> None:
    """Objects and arrays of scalars, and objects of such containers, are written on one line; an
    array of objects is written one object a line; deeper containers one member a line."""
    lines = reflow_json(json.dumps(DOCUMENT, indent=2))
    assert lines is not None
    text = [(line.depth, line.text) for line in lines]
    assert text[:3] == [(0, "{"), (1, '"total": 2,'), (1, '"items": [')]
    first, second = text[3], text[4]
    assert first == (2, '{"id": 1, "name": "alpha  beta", "tags": ["x", "y"], "owner": {"login": "lin", "id": 7}, '
                        '"score": 1.25e-05},')  # fmt: skip
    assert second == (2, '{"id": 2, "name": "gamma", "tags": [], "owner": null, "score": -0.0}')
    # "meta" nests four levels deep, and "b" is an array holding an object: one member a line.
    assert text[5:15] == [(1, "],"), (1, '"meta": {'), (2, '"next": "https://example.org/items?page=3",'),
                          (2, '"deep": {'), (3, '"a": {'), (4, '"b": ['), (5, "1,"), (5, '{"c": true}'), (4, "]"),
                          (3, "}")]  # fmt: skip
    assert text[-2:] == [(1, '"empty": {}'), (0, "}")]


def test_a_part_cut_between_lines_is_laid_out_as_deep_as_it_goes() -> None:
    """A part of a long document opens and closes brackets it does not match: it still reflows, its
    first lines as deep as the brackets it closes later say."""
    lines = json.dumps(DOCUMENT, indent=2).splitlines()
    part = "\n".join(lines[8:30])  # starts inside the first record, ends inside "meta"
    reflowed = reflow_json(part)
    assert reflowed is not None
    assert "".join(_text(reflowed).split()) == "".join(part.split())
    assert min(line.depth for line in reflowed) == 0


@pytest.mark.parametrize(
    "text",
    ['{"a": 1, // a comment\n "b": 2}', "{'a': 1}", '{"a": undefined}', '{"a": "unterminated\n"}', "[01]", "", "  \n"],
)
def test_text_that_is_not_json_tokens_is_not_reflowed(text: str) -> None:
    assert reflow_json(text) is None


def test_json_fills_pages_that_code_left_half_blank() -> None:
    """The same JSON drawn as JSON and as code: reflowed, its pages bill at most two thirds of the
    tokens, and they read back (``test_every_calibration_sample_reads_back_at_the_shipped_setting``).
    On litellm's price map at 20k tokens Claude's ``dense`` went from 2.55x to 3.9x."""
    sample = next(s for s in corpus()["data"] if s.name == "json.api.txt")
    for family in ("anthropic", "openai-tile"):
        target = RenderTarget(get_profile(family), get_density("dense", family))
        as_json = render_text(sample.text, "json", "latin", None, target)
        as_code = render_text(sample.text, "code", "latin", "json", target)
        assert as_json.image_tokens <= as_code.image_tokens * 2 / 3, (
            family,
            as_json.image_tokens,
            as_code.image_tokens,
        )
        assert as_json.shown == _text(reflow_json(sample.text) or [])  # what the read-back is scored against


def test_json_with_comments_is_drawn_as_code() -> None:
    """A ``tsconfig.json`` with comments is not JSON tokens: drawn as it is, like code, not dropped."""
    text = '{\n  // strict mode\n  "compilerOptions": {\n    "strict": true,\n    "target": "es2022"\n  }\n}'
    target = RenderTarget(get_profile("anthropic"), get_density("dense", "anthropic"))
    drawn = render_text(text, "json", "latin", None, target)
    as_code = render_text(text, "code", "latin", "json", target)
    assert [p.png for p in drawn.pages] == [p.png for p in as_code.pages] and drawn.shown == ""


def test_a_routed_json_document_is_labelled_with_what_was_redrawn() -> None:
    """The model is told the spacing is not the source's: the label of a JSON chunk says so."""
    from router import Router

    sample = next(s for s in corpus()["data"] if s.name == "json.api.txt")
    document = json.dumps({"pages": [json.loads(sample.text)] * 4}, indent=2)
    messages = [{"role": "user", "content": f"{document}\n\nWhich pull request changed the most lines?"}]
    routed = Router().route(messages, model="claude-sonnet-4-6")
    parts = routed.messages[0]["content"]
    labels = [p["text"] for p in parts if p.get("type") == "text" and "rendered as an image" in p["text"]]
    assert labels and all("json" in label and "spacing redrawn" in label for label in labels), labels


def test_deep_nesting_stays_inside_the_column() -> None:
    """Nesting deeper than half the column is drawn at that indent, and runs that the room beside a deep
    indent cannot hold get break points: 60 levels ran off Claude's column at 1 em a level (1,170 of
    2,777 characters undrawn: the chunk went as text)."""
    value: object = {"leaf": [1, 2, 3], "name": "x" * 30}
    for level in range(60):
        value = {f"level{level}": value, "sibling": {"a": {"b": [1, {"c": 2}]}}}
    text = json.dumps(value, indent=1)
    for density in ("dense", "exact"):
        target = RenderTarget(get_profile("anthropic"), get_density(density, "anthropic"))
        drawn = render_text(text, "json", "latin", None, target)  # raises if anything is not on the pages
        assert drawn.pages and "".join(drawn.shown.split()) == "".join(text.split())
