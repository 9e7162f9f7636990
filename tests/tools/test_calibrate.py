"""``hcr calibrate``: choosing settings from measurements, and a real (tiny) sweep end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from router.cli import main
from router.density_names import DENSITY_NAMES, THRESHOLDS
from router.render.density import get_density
from router.tools.calibration_rule import Measurement, choose


def m(em: float, accuracy: float, line_height: float = 1.2, encoder: str = "anthropic") -> Measurement:
    # Characters per token fall as glyphs grow, as they do on real pages.
    return Measurement(
        encoder=encoder, text_class="latin", em_px=em, line_height=line_height, accuracy=accuracy,
        word_accuracy=accuracy, identifier_recall=1.0, pages=1, image_tokens=int(em * 20), chars=1000,
        chars_per_token=round(60 / em, 3), ocr_ms=1.0,
    )  # fmt: skip


def test_each_density_takes_the_cheapest_setting_that_reaches_its_bar() -> None:
    table = choose([m(6, 0.90), m(7, 0.985), m(8, 0.996), m(9, 0.9985), m(10, 0.999)])
    chosen = {d: table["anthropic"][d]["latin"]["em_px"] for d in DENSITY_NAMES}
    assert chosen == {"dense": 7, "balanced": 8, "exact": 9}
    assert all(table["anthropic"][d]["latin"]["reached"] for d in DENSITY_NAMES)
    assert table["anthropic"]["exact"]["latin"]["bar"] == THRESHOLDS["exact"]


def test_one_lucky_size_cannot_be_chosen_over_failing_neighbours() -> None:
    # 7 px reads 99% once, but 8 px fails: the smoothed accuracy of 7 px is 8 px's 95%.
    table = choose([m(6, 0.9), m(7, 0.99), m(8, 0.95), m(9, 0.985), m(10, 0.99)])
    assert table["anthropic"]["dense"]["latin"]["em_px"] == 9


def test_below_the_bar_the_smallest_setting_on_the_plateau_is_taken_and_flagged() -> None:
    table = choose([m(7, 0.93), m(8, 0.965), m(9, 0.972), m(10, 0.974), m(12, 0.975)])
    dense, balanced, exact = (table["anthropic"][d]["latin"] for d in DENSITY_NAMES)
    assert not dense["reached"] and dense["plateau"] == 0.975
    # dense and balanced: the cheapest within 1 and 0.5 points, no smaller than their defaults (8 and
    # 10 px: balanced's 9 px is on the plateau too); exact: the largest within 0.2 points.
    assert (dense["em_px"], balanced["em_px"], exact["em_px"]) == (8, 10, 12)


def test_on_a_flat_plateau_balanced_does_not_take_dense_glyphs() -> None:
    """Code read back 98.3-98.9% at every size from 10 to 14 px: the cheapest setting within half a
    point of the plateau was dense's own, and balanced bought nothing over dense for its name."""
    read = {9: 0.975, 10: 0.984, 10.5: 0.986, 11: 0.985, 12: 0.988, 13: 0.986, 14: 0.989}
    flat = [m(em, acc, encoder="openai-tile").model_copy(update={"text_class": "mono"}) for em, acc in read.items()]
    table = choose(flat)["openai-tile"]
    assert table["dense"]["mono"]["em_px"] == 10 and table["dense"]["mono"]["reached"]
    balanced = table["balanced"]["mono"]
    assert balanced["em_px"] == 10.5 and not balanced["reached"]  # the default, not dense's 10 px


def test_each_sample_is_held_to_the_bar_or_to_its_own_plateau() -> None:
    """A class with several samples: JSON never reads 99.5% (plateau 99.1%), logs do at 12 px.
    balanced must not take 10 px, where JSON is on its plateau but logs read 98.8%."""
    rows = {10: (0.988, 0.988), 11: (0.993, 0.991), 12: (0.996, 0.990), 13: (0.999, 0.991)}
    measured = []
    for em, (logs, json_) in rows.items():
        row = m(em, min(logs, json_)).model_copy(update={"samples": {"log": logs, "json": json_}})
        measured.append(row)
    balanced = choose(measured)["anthropic"]["balanced"]["latin"]
    assert balanced["em_px"] == 12 and not balanced["reached"]  # logs at the bar, JSON within 0.5 of 99.1
    assert balanced["accuracy"] == 0.990 and balanced["plateau"] == 0.991


def test_code_is_drawn_in_firago_where_that_packs_more_at_dense() -> None:
    """Code measured in both faces: FiraGO packs more characters per token at every em and takes
    dense. Above dense only cells compete: FiraGO's one read over 99.5%, at the top of the sweep, moves
    neither balanced's choice nor the plateau the cells are held to. Dense keeps the cells' own best
    row beside FiraGO's, for the kinds that stay in cells: at 10 px the cells read under the bar."""
    cells = {10: 0.978, 10.5: 0.996, 11: 0.997, 12: 0.998}
    sans = {10: 0.985, 11: 0.990, 12: 0.994, 13: 0.994, 14: 0.996}
    measured = [
        m(em, acc, encoder="openai-tile").model_copy(
            update={
                "text_class": "mono",
                "proportional": proportional,
                "chars_per_token": round((75 if proportional else 60) / em, 3),
            }
        )
        for proportional, read in ((False, cells), (True, sans))
        for em, acc in read.items()
    ]
    table = choose(measured)["openai-tile"]
    assert (table["dense"]["mono"]["em_px"], table["dense"]["mono"]["proportional"]) == (10, True)
    assert (table["balanced"]["mono"]["em_px"], table["balanced"]["mono"]["proportional"]) == (10.5, False)
    in_cells = table["dense"]["mono"]["cells"]
    assert (in_cells["em_px"], in_cells["proportional"], in_cells["reached"]) == (10.5, False, True)
    assert "cells" not in table["balanced"]["mono"]  # already in cells


def test_samples_that_reach_the_bar_only_at_different_settings_are_not_reached() -> None:
    """The service log reads 99.6% at line height 1.1, the apt log at 1.3, and neither at the other's:
    no setting holds both at the balanced bar, and the table must say so."""
    rows = {(11, 1.1): (0.996, 0.990), (12, 1.1): (0.996, 0.990), (11, 1.3): (0.990, 0.996), (12, 1.3): (0.990, 0.996)}
    measured = [
        m(em, min(a, b), lh).model_copy(update={"samples": {"service": a, "apt": b}})
        for (em, lh), (a, b) in rows.items()
    ]
    table = choose(measured)["anthropic"]
    assert table["dense"]["latin"]["reached"]
    assert not table["balanced"]["latin"]["reached"] and table["balanced"]["latin"]["accuracy"] == 0.990


def test_measurements_of_different_samples_are_refused_by_name() -> None:
    """A table merged by hand from runs on different corpora has no common sample to hold to the bar."""
    from router.errors import FidelityError

    mixed = [m(7, 0.99).model_copy(update={"samples": {"a.md": 0.99}}),
             m(8, 0.995).model_copy(update={"samples": {"a.md": 0.995, "b.md": 0.99}})]  # fmt: skip
    with pytest.raises(FidelityError, match=r"anthropic latin: .*\(a\.md / a\.md, b\.md\).*--kinds latin"):
        choose(mixed)


def test_densities_never_shrink_from_dense_to_exact() -> None:
    # A tighter line height reaches the exact bar at a smaller em than balanced's pick.
    table = choose([m(7, 0.99, 1.1), m(8, 0.999, 1.1), m(9, 0.996, 1.3), m(10, 0.999, 1.3), m(6, 0.99, 1.3)])
    ems = [table["anthropic"][d]["latin"]["em_px"] for d in DENSITY_NAMES]
    assert ems == sorted(ems)


def test_no_density_sets_lines_closer_than_the_density_below() -> None:
    """Python reads the balanced bar only at line height 1.3 and never the exact bar, so exact holds it
    to its plateau less 0.2 points, which 1.2 also reaches: exact must not take the tighter lines."""
    rows = {1.2: (0.9945, 0.985), 1.3: (0.996, 0.985)}
    measured = [
        m(10, json_, lh).model_copy(update={"samples": {"py": py, "json": json_}, "chars_per_token": round(6 / lh, 3)})
        for lh, (py, json_) in rows.items()
    ]
    table = choose(measured)["anthropic"]
    pitches = [table[d]["latin"]["em_px"] * table[d]["latin"]["line_height"] for d in DENSITY_NAMES]
    assert [table[d]["latin"]["line_height"] for d in DENSITY_NAMES] == [1.2, 1.3, 1.3]
    assert pitches == sorted(pitches)


def test_calibrate_command_writes_a_valid_table(tmp_path: Path) -> None:
    # Code alone, the shortest samples: OCR is the slow part of the suite. With Latin's two samples
    # (9,700 characters) beside code the test took 114 s here; Chinese's two, 1,570 characters of
    # wide glyphs, took about as long. The shipped-setting tests read every class's samples.
    out = tmp_path / "calibration.json"
    earlier = m(9, 0.99, 1.0)  # a class this run does not measure
    # A setting of the class this run measures, from an earlier run with other --ems: kept, and a
    # candidate (the only one on these samples that reaches exact's bar).
    samples = {"mono.py.txt": 0.999, "mono.json.txt": 0.999}
    large = m(20, 0.999, 1.2, encoder="openai-tile").model_copy(update={"text_class": "mono", "samples": samples})
    measured_before = [earlier.model_dump(), large.model_dump()]
    out.write_text(json.dumps({"encoders": {}, "measurements": measured_before}), "utf-8")
    argv = ["calibrate", "--encoder", "openai-tile", "--encoder", "openai-tile-gpt5", "--kinds", "mono"]
    assert main([*argv, "--ems", "7,12", "--line-heights", "1.2", "--out", str(out)]) == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    # The table says what each class was measured at, the kept measurements included.
    assert table["sweep"] == {"latin": {"em_px": [9], "line_heights": [1.0], "proportional": [False]},
                              "mono": {"em_px": [7, 12, 20], "line_heights": [1.2],
                                       "proportional": [False, True]}}  # fmt: skip
    assert table["engine"].startswith("rapidocr-onnxruntime")
    assert set(table["encoders"]) == {"openai-tile", "openai-tile-gpt5"}
    for encoder in ("openai-tile", "openai-tile-gpt5"):
        for density in DENSITY_NAMES:
            row = table["encoders"][encoder][density]["mono"]
            assert row["line_height"] == 1.2 and 0 < row["accuracy"] <= 1
            assert row["em_px"] in ((7, 12, 20) if encoder == "openai-tile" else (7, 12))
    assert table["encoders"]["openai-tile"]["exact"]["mono"]["em_px"] == 20
    # Both families see the same 512x2048 pixels: one read-back, two cost figures. Code is measured
    # in both faces, and the same glyphs pack more characters into a token in FiraGO.
    measured = {(r["encoder"], r["text_class"], r["em_px"], r["proportional"]): r for r in table["measurements"]}
    assert len(measured) == 10
    same = measured[("openai-tile", "mono", 12, False)], measured[("openai-tile-gpt5", "mono", 12, False)]
    assert same[0]["accuracy"] == same[1]["accuracy"] and same[0]["image_tokens"] != same[1]["image_tokens"]
    assert set(same[0]["samples"]) == {"mono.py.txt", "mono.json.txt"}  # each sample's own read-back
    cells, sans = (measured[("openai-tile", "mono", 12, face)] for face in (False, True))
    assert sans["chars_per_token"] > 1.05 * cells["chars_per_token"]
    # Large glyphs read back better than small ones on the real samples.
    small, large = (measured[("openai-tile", "mono", em, face)]["accuracy"] for em, face in ((7, False), (12, False)))
    assert large > small, (small, large)


def test_rechoose_uses_stored_measurements(tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    measurements = [m(7, 0.985), m(8, 0.996), m(9, 0.9985)]
    out.write_text(json.dumps({"encoders": {}, "measurements": [x.model_dump() for x in measurements]}), "utf-8")
    assert main(["calibrate", "--rechoose", "--encoder", "anthropic", "--out", str(out)]) == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    assert [table["encoders"]["anthropic"][d]["latin"]["em_px"] for d in DENSITY_NAMES] == [7, 8, 9]


def test_a_hand_edited_measurement_is_named_not_a_key_error(tmp_path: Path) -> None:
    """A stored measurement missing a field stops the command with the table, the index and the field."""
    from router.errors import FidelityError
    from router.tools.calibrate import rechoose

    out = tmp_path / "calibration.json"
    rows = [x.model_dump() for x in (m(7, 0.985), m(8, 0.996))]
    del rows[1]["line_height"]
    out.write_text(json.dumps({"encoders": {}, "measurements": rows}), "utf-8")
    with pytest.raises(FidelityError, match=r"calibration\.json: measurements\[1\]\.line_height: Field required"):
        rechoose(out)


def test_shipped_table_sets_the_densities() -> None:
    from router.render.density import calibration_table

    table = calibration_table()
    assert table.encoders, (
        "router/render/calibration.json is missing: run hcr calibrate --out router/render/calibration.json"
    )
    row = table.encoders["anthropic"]["dense"]["mono"]
    density = get_density("dense", "anthropic")
    assert (density.mono.em_px, density.mono.line_height) == (row.em_px, row.line_height)


def test_logs_are_set_by_their_own_class() -> None:
    """Code, HTML source, config and diffs (indentation drawn compact) take the ``mono`` row; logs, terminal
    output and tracebacks (full cells) the ``logs`` row, calibrated on logs: at the em where Python reads
    at the bar, apt's version hyphens and ``libudev1`` do not. Where the row is FiraGO (Claude's
    `dense`), logs take it and terminal output, tracebacks and unknown text its cells' own row."""
    from router.render.density import Density, Typesetting, calibration_table

    row = calibration_table().encoders["anthropic"]["dense"]["logs"].typesetting()
    density = get_density("dense", "anthropic")
    assert row.proportional and row.cells is not None
    assert density.typesetting("log", "latin") == row
    for kind in ("terminal", "trace", "text"):
        assert density.typesetting(kind, "latin") == row.in_cells() == row.cells
    for kind in ("code", "html", "config"):
        assert density.typesetting(kind, "latin") == density.mono
    assert density.typesetting("diff", "latin") == density.mono.in_cells()  # diffs stay in cells
    assert density.text_class("log", "cjk") == "logs" and density.typesetting("log", "cjk").em_px >= density.cjk.em_px
    # A hand-made density written before the class existed sets logs as code.
    old = Density(name="mine", latin=Typesetting(em_px=8), cjk=Typesetting(em_px=9), mono=Typesetting(em_px=10))
    assert old.logs == old.mono


def test_tables_are_set_by_their_own_class() -> None:
    """Markdown tables and CSV files take the ``table`` row, calibrated on tables of narrow columns;
    prose and markdown the ``latin`` row; a table in Chinese the ``cjk`` row."""
    from router.render.density import Density, Typesetting, calibration_table

    row = calibration_table().encoders["anthropic"]["dense"]["table"]
    density = get_density("dense", "anthropic")
    for kind in ("table", "csv"):
        assert density.text_class(kind, "latin") == "table"
        assert density.typesetting(kind, "latin") == Typesetting(em_px=row.em_px, line_height=row.line_height)
    for kind in ("prose", "markdown", "history"):
        assert density.typesetting(kind, "latin") == density.latin
    assert density.text_class("table", "cjk") == "cjk" and density.text_class("csv", "mixed") == "cjk"
    # A hand-made density written before the class existed sets tables as prose.
    old = Density(name="mine", latin=Typesetting(em_px=8), cjk=Typesetting(em_px=9), mono=Typesetting(em_px=10))
    assert old.table == old.latin and old.logs == old.mono


def test_json_is_set_by_its_own_class() -> None:
    """JSON, drawn as flowing text with its whitespace redrawn, takes the ``data`` row, calibrated on
    JSON; JSON in Chinese the ``cjk`` row. A density written before the class existed sets JSON as
    code, the sizes it was drawn at then."""
    from router.render.density import Density, Typesetting, calibration_table

    row = calibration_table().encoders["anthropic"]["dense"]["data"]
    density = get_density("dense", "anthropic")
    assert density.text_class("json", "latin") == "data" and density.text_class("json", "cjk") == "cjk"
    assert density.typesetting("json", "latin") == Typesetting(em_px=row.em_px, line_height=row.line_height)
    old = Density(name="mine", latin=Typesetting(em_px=8), cjk=Typesetting(em_px=9), mono=Typesetting(em_px=10))
    assert old.data == old.mono


def test_a_calibration_table_older_than_a_class_sets_it_as_its_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table calibrated before tables, JSON and logs had rows draws them at its own prose and code sizes."""
    from router.render import density as module

    setting = {"line_height": 1.1, "accuracy": 0.99, "bar": 0.98, "reached": True, "chars_per_token": 5.0}
    rows = {"latin": {"em_px": 8.0, **setting}, "cjk": {"em_px": 11.0, **setting}, "mono": {"em_px": 12.0, **setting}}
    older = module.CalibrationTable.model_validate({"encoders": {"anthropic": {"dense": rows}}})
    monkeypatch.setattr(module, "calibration_table", lambda: older)
    module.get_density.cache_clear()
    try:
        density = module.get_density("dense", "anthropic")
    finally:
        module.get_density.cache_clear()
    assert density.table == density.latin == module.Typesetting(em_px=8.0, line_height=1.1)
    assert density.logs == density.data == density.mono == module.Typesetting(em_px=12.0, line_height=1.1)
    assert density.margin_px == module.DENSITIES["dense"].margin_px


def test_each_family_is_read_on_its_own_pages_and_identical_pixels_share_a_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Claude and Gemini 2 both draw 768x1536 pages, but Gemini 2's keep 4-px margins beside the text
    (Claude's 1 px): each is read on its own pages. gpt-4o's tile families draw the same pixels and
    the provider resizes them alike: one read-back serves both (and gpt-4o's serves Gemini 2 where a
    narrow sample gives both the same page)."""
    import hashlib

    from router.models import ReadBack
    from router.tools import calibrate

    read: list[tuple[str, bytes]] = []

    def counted(text, kind, script, rendering, profile, *, engine):  # type: ignore[no-untyped-def]
        read.append((profile.name, hashlib.sha256(b"".join(p.png for p in rendering.pages)).digest()))
        return ReadBack(engine=engine, char_accuracy=0.99, word_accuracy=0.98, identifiers=0, identifiers_found=0,
                        identifier_recall=1.0, text="", pages=len(rendering.pages), ocr_ms=1.0)  # fmt: skip

    monkeypatch.setattr(calibrate, "check", counted)
    sweep = calibrate.Sweep(em_px={"mono": [11.0]}, line_heights=[1.1])
    families = ["anthropic", "gemini-2", "openai-tile", "openai-tile-gpt5"]
    steps: list[str] = []
    measured = calibrate.measure(families, ["mono"], sweep, on_step=steps.append)
    assert len(steps) == calibrate.steps(families, ["mono"], sweep) == 4 * 2  # code's two faces
    assert sorted(m.encoder for m in measured) == sorted(families * 2)
    assert [s.name for s in calibrate.corpus()["mono"]] == ["mono.py.txt", "mono.json.txt"]
    readers = [name for name, _ in read]
    # Python in each face; JSON drawn as code keeps its cells in both, and is read once.
    assert readers.count("anthropic") == readers.count("gemini-2") == 3
    assert "openai-tile-gpt5" not in readers
    assert len({digest for _, digest in read}) == len(read)  # no pixels read twice
    claude = {digest for name, digest in read if name == "anthropic"}
    assert not claude & {digest for name, digest in read if name == "gemini-2"}


def test_the_command_offers_every_class_and_engine() -> None:
    """The CLI lists its choices by hand (importing the render package costs ``hcr --help`` 0.6 s):
    they must be the package's own."""
    import argparse

    from router.cli import _parser
    from router.fidelity.engines import ENGINES
    from router.render.density import TEXT_CLASSES

    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    options = {a.dest: a.choices for a in commands.choices["calibrate"]._actions}
    assert list(options["kinds"]) == list(TEXT_CLASSES) and list(options["engine"]) == list(ENGINES)


def test_a_setting_that_cannot_be_drawn_is_not_a_candidate(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sample the renderer refuses at one size (the router would send it as text) skips that setting
    and says so; the sweep goes on."""
    from router.errors import IncompleteRenderError
    from router.models import ReadBack
    from router.tools import calibrate

    drawn = calibrate.render_text

    def refusing(text, kind, script, language, target):  # type: ignore[no-untyped-def]
        if target.density.logs.em_px == 12:
            raise IncompleteRenderError("3 of 9 words are not on the pages")
        return drawn(text, kind, script, language, target)

    def read(text, kind, script, rendering, profile, *, engine):  # type: ignore[no-untyped-def]
        return ReadBack(engine=engine, char_accuracy=0.99, word_accuracy=0.98, identifiers=0, identifiers_found=0,
                        identifier_recall=1.0, text="", pages=len(rendering.pages), ocr_ms=1.0)  # fmt: skip

    monkeypatch.setattr(calibrate, "render_text", refusing)
    monkeypatch.setattr(calibrate, "check", read)
    steps: list[str] = []
    sweep = calibrate.Sweep(em_px={"logs": [11.0, 12.0, 13.0]}, line_heights=[1.1])
    measured = calibrate.measure(["anthropic"], ["logs"], sweep, on_step=steps.append)
    # Logs are measured in both faces (cells, then FiraGO): 12 px is refused in each.
    assert [(m.em_px, m.proportional) for m in measured] == [(11.0, False), (13.0, False), (11.0, True), (13.0, True)]
    assert len(steps) == 6 and "12 px x 1.1 not drawn: 3 of 9 words are not on the pages" in steps[1]
    assert "12 px x 1.1 in FiraGO not drawn" in steps[4]
