"""Read-back fidelity: scoring on known inputs, real OCR of rendered pages, and the runtime guard.

Pages are read back with RapidOCR (and tesseract, where installed) at the resolution the provider
sees. Default density (``balanced``): >= 0.98 character accuracy for English prose, code and tables,
>= 0.95 for Chinese; ``exact``: >= 0.998 for English prose. OCR takes seconds per page on these
CPUs, so each case reads one page.
"""

from __future__ import annotations

import re
import shutil

import pytest

from router.core import Router
from router.density_names import DENSITY_NAMES
from router.errors import FidelityError, PolicyError
from router.exact import identifiers
from router.fidelity.engines import get_engine
from router.fidelity.guard import FidelityGuard, FidelitySettings
from router.fidelity.readback import (
    char_accuracy,
    check,
    identifier_recall,
    read_pages,
    score,
    word_accuracy,
)
from router.models import Chunk
from router.policy import ModelOverride, Policy
from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, render_text
from router.render.density import Density, TextClass, Typesetting, calibration_table, get_density


def accuracy(text: str, kind: str, script: str, language: str | None, family: str, density: str = "balanced") -> float:
    profile = get_profile(family)
    rendering = render_text(text, kind, script, language, RenderTarget(profile, get_density(density)))
    assert len(rendering.pages) == 1, "keep read-back samples to one page"
    return check(text, kind, script, rendering, profile).char_accuracy


@pytest.mark.parametrize(
    "family", ["openai-tile", "openai-patch-mini", "anthropic", "gemini-2", "gemini-3", "qwen2.5-vl", "qwen3-vl"]
)
def test_english_prose_reads_back(family: str, english_prose: str) -> None:
    assert accuracy(english_prose[:2400], "prose", "latin", None, family) >= 0.98


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_code_reads_back(family: str, python_code: str) -> None:
    sample = "\n".join(python_code.splitlines()[:70])
    assert accuracy(sample, "code", "latin", "python", family) >= 0.98


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_table_reads_back(family: str, markdown_table: str) -> None:
    assert accuracy(markdown_table, "table", "latin", None, family) >= 0.98


# Tables have their own calibrated class since 2026-12-01, swept at whole pixels per em: at 7.5 px
# Claude and Gemini 2 read the markdown price table 97.4% (`bedrock_converse` as `bedirock_comverse`),
# at 8 px 99.8%. Qwen2.5-VL's dense tables went from 9 to 8 px on the thinnest margin (98.05%).
# The bench's tables cut to 3,000 characters (half the bench's cut: the same columns, half the OCR):
# Claude 99.77% and 99.73%, gpt-4o 99.77% and 99.63%, Qwen2.5-VL 98.79% and 98.60% on 2026-12-01
# (before the OCR border). Claude and Qwen bill area and draw tables in the least area since
# 2026-12-02 (rare long model names wrap): Gemini 2 no longer sees Claude's pixels.
@pytest.mark.parametrize("family", ["anthropic", "gemini-2", "openai-tile", "qwen2.5-vl"])
def test_a_dense_price_table_reads_back_at_its_bar(family: str) -> None:
    """Many narrow numeric columns at the smallest glyphs: the bench's table, which read back 88.8-94.3%
    at dense on Claude and Gemini while cells touched black rules."""
    from router.tools.bench_corpus import price_csv, price_table

    for document in (price_table(3000), price_csv(3000)):  # on gpt-4o the CSV is drawn as column groups
        profile = get_profile(family)
        target = RenderTarget(profile, get_density("dense", family))  # the family's calibrated density
        rendering = render_text(document.text, document.kind, "latin", document.language, target)
        read = check(document.text, document.kind, "latin", rendering, profile)
        assert read.char_accuracy >= 0.98, (document.name, read.char_accuracy)


def test_a_table_drawn_in_column_groups_is_scored_as_drawn() -> None:
    """Six columns do not fit gpt-4o's 512-px strip: the table is drawn as groups of columns, the
    first repeated. The engine reads the groups; scoring against the unsplit table gave 18%."""
    from router.tools.bench_corpus import price_csv

    document = price_csv(3000)  # the same six columns as the bench's 6,000 characters, half the OCR
    profile = get_profile("openai-tile")
    target = RenderTarget(profile, get_density("balanced", "openai-tile"))
    rendering = render_text(document.text, "csv", "latin", "csv", target)
    assert "Columns 1 and 2-" in rendering.shown  # the groups' caption is on the page
    assert check(document.text, "csv", "latin", rendering, profile).char_accuracy >= 0.985


@pytest.mark.parametrize(
    ("text_class", "density", "family"),
    [("latin", "dense", "anthropic"), ("mono", "dense", "anthropic"), ("mono", "dense", "openai-tile"),
     ("logs", "dense", "anthropic"), ("cjk", "dense", "anthropic"), ("cjk", "dense", "openai-tile"),
     ("cjk", "balanced", "anthropic"), ("data", "dense", "anthropic"), ("data", "dense", "openai-tile")],
)  # fmt: skip
def test_every_calibration_sample_reads_back_at_the_shipped_setting(
    text_class: TextClass, density: str, family: str
) -> None:
    """The setting, as shipped, on each calibration sample of the class: the table says what the
    engine reads today. With the release checklist alone Latin took 7 px, where the Language
    Reference's running prose reads 97.4%; code and logs were measured before the engine read every page
    at one scale, and their samples had moved up to a point since. gpt-4o's ``dense`` code was chosen at
    10 px / 1.1, where the JSON sample read 98.05%; with the engine's border it read 97.83%, under the
    bar, until code was measured again with the border on 2026-12-02. Chinese was measured again on
    2026-12-02 with a third sample, technical instructions with commands and paths inside the Chinese,
    after the two others let ``balanced`` take 11 px / 1.0, where a chapter of the Debian Reference
    reads 99.4%, and again with ``~`` and ``$`` drawn in the monospace font: ``dense`` is 10 px / 1.0
    (98.6% prose, 99.6% checklist, 98.4% instructions) and ``balanced`` 11 px / 1.2 (99.5%, 99.8%,
    99.5%). gpt-4o's ``dense`` Chinese is 9.5 px / 1.0 since the evening of 2026-12-02 (98.5% prose,
    99.4% checklist, 98.6% instructions), and Latin's ``dense`` 8 px / 1.0 on every family but Qwen2.5-VL."""
    from router.tools.calibration_samples import corpus

    profile = get_profile(family)
    setting = calibration_table().encoders[family][density][text_class]
    floor = setting.bar if setting.reached else setting.accuracy
    target = RenderTarget(profile, get_density(density, family))
    for sample in corpus()[text_class]:
        rendering = render_text(sample.text, sample.kind, sample.script, sample.language, target)
        read = check(sample.text, sample.kind, sample.script, rendering, profile)
        assert read.char_accuracy >= floor, (sample.name, read.char_accuracy)


@pytest.mark.parametrize("family", ["openai-tile", "anthropic"])
def test_chinese_reads_back(family: str, chinese_prose: str) -> None:
    assert accuracy(chinese_prose, "prose", "cjk", None, family) >= 0.95


def test_a_chunk_shorter_than_a_column_is_read_in_order() -> None:
    """Two lines of Chinese at 12 px on Claude's pages: the rendering has two columns, the chunk fills
    one, and its page reports no gutter. A cut guessed from the ink fell between two characters of
    both lines, and the halves were read out of order (49% read back)."""
    text = "登录 build-07 后，在提示符 build-07:~$ 下运行 source ~/.bashrc，再用 echo $HOME 检查家目录。"
    profile = get_profile("anthropic")
    twelve = get_density("balanced", "anthropic").model_copy(update={"cjk": Typesetting(em_px=12, line_height=1.0)})
    rendering = render_text(text, "prose", "cjk", None, RenderTarget(profile, twelve))
    assert rendering.columns == 2 and [page.gutters for page in rendering.pages] == [()]
    assert check(text, "prose", "cjk", rendering, profile).char_accuracy >= 0.98


def test_scoring_catches_a_page_rendered_too_small(english_prose: str) -> None:
    tiny = Density(
        name="tiny",
        latin=Typesetting(em_px=4.5, line_height=1.1),
        cjk=Typesetting(em_px=5),
        mono=Typesetting(em_px=5),
        margin_px=2,
    )
    profile = get_profile("anthropic")
    rendering = render_text(english_prose[:2400], "prose", "latin", None, RenderTarget(profile, tiny))
    read = read_pages(rendering.pages, profile)
    assert char_accuracy(read, english_prose[:2400]) < 0.9


def test_exact_density_reads_back_near_perfectly(english_prose: str) -> None:
    """The GPL's preamble (4,200 characters, one page) reads back at `exact`'s bar, at the default
    setting and at each family's calibrated one. The bar is a rate: on the first 1,800 characters
    alone one misread is 0.07 points, and gpt-4o's page read 99.79% there (RapidOCR reads "GNU" as
    "GNu" twice and drops a comma) where the whole preamble reads 99.91%."""
    for family in ("anthropic", "openai-tile"):
        profile = get_profile(family)
        for density in (get_density("exact"), get_density("exact", family)):
            rendering = render_text(english_prose, "prose", "latin", None, RenderTarget(profile, density))
            assert len(rendering.pages) == 1, "keep read-back samples to one page"
            read = check(english_prose, "prose", "latin", rendering, profile).char_accuracy
            assert read >= 0.998, (family, density.latin, read)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed (.ci/run installs it)")
def test_tesseract_engine_reads_a_page(english_prose: str) -> None:
    profile = get_profile("anthropic")
    text = english_prose[:1500]
    rendering = render_text(text, "prose", "latin", None, RenderTarget(profile, get_density("balanced")))
    readback = check(text, "prose", "latin", rendering, profile, engine="tesseract")
    assert readback.engine == "tesseract" and readback.char_accuracy >= 0.97


def test_unknown_engine_is_a_clear_error() -> None:
    with pytest.raises(FidelityError, match="unknown OCR engine 'easyocr'; known: rapidocr, tesseract"):
        get_engine("easyocr")


def test_char_accuracy_on_known_inputs() -> None:
    assert char_accuracy("hello world", "hello  world") == 1.0
    assert char_accuracy("hel1o", "hello") == pytest.approx(0.8)
    assert char_accuracy("（a，b）‘c’", "(a,b)'c'") == 1.0  # full-width and curly forms fold
    assert char_accuracy("", "abc") == 0.0
    assert char_accuracy("", "") == 1.0
    assert char_accuracy("x = 1 # =", "x = 1 # ==========================") == 1.0  # drawn rules count once
    assert char_accuracy("def f(): ↪ pass", "def f(): pass") == 1.0  # continuation markers are not content
    assert char_accuracy("• first\n• second", "first\nsecond") == 1.0  # list bullets are drawn, not written


def test_a_rule_read_as_a_run_of_another_character_is_one_misread() -> None:
    """RapidOCR reads a traceback's carets as letters: twenty carets were twenty errors, and the bench's
    tracebacks read 84% where every other character read 98.6%."""
    source = "    total = price[1] + tax\n            ~~~~~~~~^^^^^^^^^^^\nTypeError: bad operand 1000\n"
    drawn = "total=price[1]+tax~^TypeError:badoperand1000"  # a rule counts once
    assert char_accuracy(source, source) == 1.0
    assert char_accuracy(source.replace("^", "A").replace("~", "N"), source) == pytest.approx(1 - 2 / len(drawn))
    assert char_accuracy(source.replace("~^", "AA"), source) == pytest.approx(1 - 2 / len(drawn))
    # A run anywhere else is the engine's to read: a number with a zero too many, a doubled letter.
    assert char_accuracy(source.replace("1000", "10000"), source) == pytest.approx(1 - 1 / len(drawn))
    assert char_accuracy("tax wwworld", "tax world ---") == pytest.approx(1 - 3 / len("taxworld-"))


@pytest.mark.parametrize("family", ["anthropic", "openai-tile"])
def test_tracebacks_read_back_at_the_dense_bar(family: str) -> None:
    """Real Python tracebacks, carets and all, at the family's calibrated dense setting."""
    from router.tools.bench_corpus import python_traces

    document = python_traces(2500)
    profile = get_profile(family)
    target = RenderTarget(profile, get_density("dense", family))
    rendering = render_text(document.text, "trace", "latin", "pytb", target)
    assert "^^^" in document.text
    assert check(document.text, "trace", "latin", rendering, profile).char_accuracy >= 0.98


def test_word_accuracy_on_known_inputs() -> None:
    assert word_accuracy("the quick brown fox", "the quick brown fox") == 1.0
    assert word_accuracy("the quick brawn fox", "the quick brown fox") == pytest.approx(0.75)
    assert word_accuracy("thequick brown fox", "the quick brown fox") == pytest.approx(0.5)  # merge: 1 sub + 1 del
    assert word_accuracy("发布前检查", "发布前检查清单") == pytest.approx(5 / 7)  # each ideograph is a word


def test_identifiers_found_in_source() -> None:
    text = (
        "Build 20261128-0412 of v4.12.3 has digest 9f3c2a71e8b04d5c; see https://example.org/a/b?x=1. "
        "Mail ops@example.org, host x86_64, id 123e4567-e89b-12d3-a456-426614174000, 48,213,776 bytes, 7 words."
    )
    assert identifiers(text) == [
        "20261128-0412", "v4.12.3", "9f3c2a71e8b04d5c", "https://example.org/a/b?x=1", "ops@example.org",
        "x86_64", "123e4567-e89b-12d3-a456-426614174000", "48,213,776",
    ]  # fmt: skip


def test_identifier_recall_counts_exact_matches_only() -> None:
    source = "digest 9f3c2a71e8b04d5c, size 48,213,776, url https://example.org/x"
    found, missing = identifier_recall("digest 9f3c2a71e8bO4d5c size 48,213,776 url https://example.org/x", source)
    assert (found, missing) == (2, ["9f3c2a71e8b04d5c"])  # one O for 0 loses the whole hash


def test_score_reads_markdown_as_drawn() -> None:
    source = "# Title\n\n| a | b |\n|---|---|\n| **1** | `x25` |\n"
    readback = score("Title\na b\n1 x25", source, "markdown", engine="test")
    assert readback.char_accuracy == 1.0 and readback.identifier_recall == 1.0
    assert score("Title a b 1", source, "markdown", engine="test").missing == ["x25"]


# --- the runtime guard ---------------------------------------------------------------------------


def distinct_settings(kind: str, encoder: str, start: str = "balanced") -> list[str]:
    """The densities from ``start`` up that each set ``kind`` text larger than the one before."""
    names, previous = [], None
    for name in DENSITY_NAMES[DENSITY_NAMES.index(start) :]:
        setting = get_density(name, encoder).typesetting(kind, "latin")
        if setting != previous:
            names.append(name)
            previous = setting
    return names


def _code_request(python_code: str) -> list[dict]:
    sample = "\n".join(python_code.splitlines()[:60])
    return [{"role": "user", "content": f"```python\n{sample}\n```"}, {"role": "user", "content": "What does it do?"}]


def test_guard_rerenders_a_page_rendered_too_small(english_prose: str) -> None:
    profile = get_profile("anthropic")
    text = english_prose[:1500]
    tiny = Density(
        name="tiny", latin=Typesetting(em_px=4.5, line_height=1.1), cjk=Typesetting(em_px=5),
        mono=Typesetting(em_px=5), margin_px=2,
    )  # fmt: skip
    chunk = Chunk(
        index=0, message_index=0, start=0, end=len(text), role="user", age=1, live_turn=False, kind="prose",
        script="latin", text=text, chars=len(text), text_tokens=400,
    )  # fmt: skip
    target = RenderTarget(profile, tiny)
    guard = FidelityGuard(FidelitySettings(mode="always", min_accuracy=0.98))
    reviewed = guard.review(
        chunk, target, render_text(text, "prose", "latin", None, target),
        lambda density: render_text(text, "prose", "latin", None, RenderTarget(profile, density)),
    )  # fmt: skip
    assert reviewed.rendering is not None and reviewed.density in ("dense", "balanced", "exact")
    assert reviewed.readback is not None and reviewed.readback.char_accuracy >= 0.98
    assert reviewed.note is not None and reviewed.note.startswith(
        f"re-rendered at {reviewed.density} (read back: tiny "
    )
    assert guard.stats.checked >= 2 and guard.stats.failed >= 1


def test_guard_sends_text_when_no_density_reads_back_well_enough(python_code: str) -> None:
    # No engine reads code back perfectly (quotes, underscores), so a bar of 100% fails at every density.
    policy = Policy.builtin("default").model_copy(update={"fidelity": FidelitySettings(mode="always", min_accuracy=1)})
    router = Router(policy)
    routed = router.route(_code_request(python_code), model="claude-sonnet-4-6")
    code = routed.report.chunks[0]
    tried = ", ".join(rf"{name} [\d.]+%" for name in distinct_settings("code", "anthropic"))
    assert code.action == "text" and re.fullmatch(rf"guard:fidelity: read back {tried}, under 100\.0%", code.reason)
    assert code.readback is not None and code.fidelity == code.reason
    # The next turn resends the same code: the verdicts are remembered, nothing is read again.
    checked = router.fidelity.stats.checked
    again = router.route(_code_request(python_code), model="claude-sonnet-4-6").report.chunks[0]
    assert again.reason == code.reason and router.fidelity.stats.checked == checked
    assert routed.messages[0]["content"].startswith("```python")  # the text itself, unchanged


def test_sample_mode_reads_back_off_the_request_path_and_remembers(python_code: str) -> None:
    settings = FidelitySettings(mode="sample", min_accuracy=1, sample_rate=1)
    # A local model with Claude's geometry (billed by area, so the router never draws larger glyphs
    # for free and each density is tried in turn); min_saving is lowered so code goes as an image even at exact.
    local = ModelOverride(match="local-vlm", encoder="anthropic", vision=True)
    policy = Policy.builtin("default").model_copy(update={"fidelity": settings, "models": [local], "min_saving": 0.5})
    router = Router(policy)
    messages = _code_request(python_code)
    first = router.route(messages, model="local-vlm").report.chunks[0]
    assert first.action == "image" and first.density == "balanced"
    assert first.fidelity == "sampled: read back in the background" and first.readback is None
    assert router.fidelity.wait(timeout=120) and router.fidelity.stats.failed == 1

    # The same history, next turns: each failed rendering is replaced without OCR on the request path,
    # by the next density that sets code larger, and past the last one by text.
    larger = distinct_settings("code", "anthropic")[1:]
    for checked, name in enumerate(larger, 2):
        turn = router.route(messages, model="local-vlm").report.chunks[0]
        assert turn.density == name and turn.fidelity.startswith(f"re-rendered at {name}: earlier samples read back")
        assert router.fidelity.wait(timeout=120) and router.fidelity.stats.checked == checked
    last = router.route(messages, model="local-vlm").report.chunks[0]
    largest = distinct_settings("code", "anthropic")[-1]  # the history starts from the last density tried
    assert last.action == "text" and last.reason.startswith(f"guard:fidelity: earlier samples read back {largest}")


def test_policy_yaml_takes_fidelity_settings() -> None:
    policy = Policy.from_yaml_text("fidelity: {mode: sample, min_accuracy: 0.99, engine: tesseract}\n")
    assert policy.fidelity == FidelitySettings(mode="sample", min_accuracy=0.99, engine="tesseract")
    with pytest.raises(PolicyError, match=r"fidelity\.mode"):
        Policy.from_yaml_text("fidelity: {mode: sometimes}\n")
