"""Named render densities: glyph sizes chosen by how well a real OCR engine reads them back.

Pages are rendered at exactly the size the target encoder reads without downscaling (see
``router.providers.geometry``), so a glyph's em in page pixels is the em the model sees, whatever the family.
A density sets, per class of text, the em in pixels and the line height:

- ``latin``: proportional text (FiraGO), prose and markdown;
- ``table``: tables and CSV files in the same font, their own sizes: a cell of a narrow column is an
  identifier or a number with no word around it, and the engine reads ``v1`` as ``vl`` or ``opus`` as
  ``0pus`` at the em where prose still reads at the bar (litellm's price table, 97.4-97.8% at
  7-7.5 px on Claude and gpt-4o, where the GPL reads 98.1%);
- ``data``: JSON, its whitespace redrawn (``router.render.reflow``) and set in the same font, its own
  sizes: a third of its characters are quotes, braces, brackets, colons and commas, and the engine
  reads small quotes as ``*`` and braces as brackets (litellm's price map, 94.1% at 8 px on Claude's
  pages, where its price table reads 99.6%);
- ``cjk``: text that is mostly Chinese, Japanese or Korean (Droid Sans Fallback);
- ``mono``: code, HTML source, config and diffs, whose indentation is nesting and is drawn compact,
  and JSON that is not JSON tokens, in Cascadia Mono's cells; or, where the setting is
  ``proportional`` (the calibrated ``dense`` since 2026-12-03), the lines of printable ASCII of
  code, HTML source and config in FiraGO (``router.render.lines``), and diffs and JSON with
  comments in cells at the best setting of the cells alone (``Typesetting.cells``). The name is
  the class's from when all of it was monospace; density YAML and calibration tables name it so;
- ``logs``: the other monospace kinds (logs, terminal output, tracebacks, unknown text), drawn
  in Cascadia Mono's full cells (0.586 em each), their own sizes: at the em where code read back at
  the bar, the engine reads a log's version hyphens and word-initial ``l`` of ``libudev1`` worse
  (dpkg's log, 96-97% at 10 px on Claude, where Python reads 98-99%). Where the setting is
  ``proportional`` (the calibrated ``dense`` on most families since 2026-12-03, evening), log lines
  of printable ASCII are drawn in FiraGO; terminal output, tracebacks and unknown text keep their
  cells, at the cells' own calibrated setting.

The settings come from the calibration table shipped in the package (``router/render/calibration.json``,
written by ``hcr calibrate``): per encoder family and class, the setting that packs the most
characters into an image token while OCR still reads the page back at the density's bar
(``exact`` >= 99.8%, ``balanced`` >= 99.5%, ``dense`` >= 98%), or, where no setting reaches the
bar, the smallest one on the engine's accuracy plateau. Families the table does not cover get the
defaults below, measured the same way by hand.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.density_names import DENSITY_NAMES, DensityName
from router.errors import RouterError
from router.kinds import KINDS, MONO_KINDS, Kind
from router.models import Script

TextClass = Literal["latin", "table", "data", "cjk", "mono", "logs"]
TEXT_CLASSES: tuple[TextClass, ...] = ("latin", "table", "data", "cjk", "mono", "logs")
CALIBRATION_FILE = "calibration.json"


class Typesetting(BaseModel):
    """How one class of text is set: em in page pixels, line height in ems, and for code whether its
    lines are drawn in FiraGO rather than in Cascadia Mono's cells (``router.render.lines``)."""

    model_config = ConfigDict(frozen=True)

    em_px: float = Field(gt=3)
    line_height: float = Field(1.2, ge=1.0, le=2.0)
    proportional: bool = Field(
        False,
        description="code, HTML source and config (class mono), logs (class logs): lines of printable ASCII in FiraGO",
    )
    cells: Typesetting | None = Field(
        None,
        description="where ``proportional``: the setting for kinds of the class that stay in cells (diffs, "
        "JSON with comments); None: the same em and line height in cells",
    )

    def in_cells(self) -> Typesetting:
        """This setting for text drawn in Cascadia Mono's cells."""
        if not self.proportional:
            return self
        return self.cells or self.model_copy(update={"proportional": False})


class Density(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    latin: Typesetting
    table: Typesetting
    data: Typesetting
    cjk: Typesetting
    mono: Typesetting
    logs: Typesetting
    margin_px: int = Field(4, ge=0)
    column_gap_px: int = Field(10, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _older_classes(cls, data: Any) -> Any:
        """A density written before logs, tables and JSON had their own classes sets logs and JSON as
        code (JSON was drawn as code then, at sizes that read back) and tables as prose."""
        if isinstance(data, dict):
            older = {"logs": "mono", "table": "latin", "data": "mono"}
            return {**{new: data[old] for new, old in older.items() if new not in data and old in data}, **data}
        return data

    @staticmethod
    def text_class(kind: Kind, script: Script) -> TextClass:
        if kind in MONO_KINDS:
            return "mono" if KINDS[kind].compact_indent else "logs"
        if script in ("cjk", "mixed"):
            return "cjk"
        return KINDS[kind].sizes

    def typesetting(self, kind: Kind, script: Script, language: str | None = None) -> Typesetting:
        setting: Typesetting = getattr(self, self.text_class(kind, script))
        # Only code, HTML source and config go in FiraGO where the class's setting says so; diffs and
        # JSON that is not JSON tokens (comments) keep their cells, at the cells' own calibrated
        # setting: FiraGO's quotes and lone braces read 97.6% where Cascadia Mono's read 98.3% (the
        # calibration's deployment status on Claude's pages, 10 px / 1.2).
        if not KINDS[kind].sans or language == "json":
            setting = setting.in_cells()
        if kind in MONO_KINDS and script == "cjk":  # CJK glyphs in code need the CJK em to stay legible
            return setting.model_copy(update={"em_px": max(setting.em_px, self.cjk.em_px)})
        return setting

    def em_px(self, kind: Kind, script: Script) -> float:
        return self.typesetting(kind, script).em_px


def _density(name: str, latin: float, data: float, cjk: float, mono: float, line_height: float) -> Density:
    return Density(
        name=name,
        latin=Typesetting(em_px=latin, line_height=line_height),
        table=Typesetting(em_px=latin, line_height=line_height),
        data=Typesetting(em_px=data, line_height=line_height),
        cjk=Typesetting(em_px=cjk, line_height=line_height),
        mono=Typesetting(em_px=mono, line_height=line_height),
        logs=Typesetting(em_px=mono, line_height=line_height),
    )


# Defaults for families the calibration table does not cover (RapidOCR, measured by hand). FiraGO at
# whole pixels per em: at half pixels it reads worse than at the whole ems around it (see
# ``router.tools.calibrate.DEFAULT_SWEEP``); code in them is drawn in Cascadia Mono's cells, whose
# half pixels read as well as its whole ones. All three draw the default 4-px margins, the margins the
# calibration measures every setting at: a margin moves where lines wrap and columns pack, and at
# gpt-4o's calibrated `dense` code setting the JSON sample read 97.76% with 3-px margins (dense's until
# 2026-12-02) against 98.19% with 4.
DENSITIES: dict[str, Density] = {
    d.name: d
    for d in [
        _density("exact", latin=13, data=13, cjk=14, mono=13.5, line_height=1.25),
        _density("balanced", latin=10, data=11, cjk=10.5, mono=10.5, line_height=1.2),
        _density("dense", latin=8, data=10, cjk=9, mono=9.2, line_height=1.15),
    ]
}


@functools.lru_cache(maxsize=256)
def get_density(name: str, encoder: str | None = None) -> Density:
    """The density ``name``; with ``encoder``, as calibrated for that encoder family."""
    try:
        base = DENSITIES[name]
    except KeyError:
        raise RouterError(f"unknown density {name!r}; known: {', '.join(DENSITY_NAMES)}") from None
    chosen = calibration_table().encoders.get(encoder or "", {}).get(name)  # type: ignore[call-overload]
    if not chosen:
        return base
    settings = {c: row.typesetting().model_dump() for c, row in chosen.items()}
    # Validated whole, so a table calibrated before tables, JSON and logs had their classes sets them
    # as its prose and code (the Density validator), not at the uncalibrated defaults.
    return Density.model_validate({**base.model_dump(exclude={"table", "data", "logs"}), **settings})


def larger(density: Density) -> str | None:
    """The next density with larger glyphs than ``density``, or None past ``exact``."""
    if density.name in DENSITY_NAMES:
        index = DENSITY_NAMES.index(density.name)
        return DENSITY_NAMES[index + 1] if index + 1 < len(DENSITY_NAMES) else None
    # A hand-made density: the first named one whose glyphs are all at least as large.
    for name in DENSITY_NAMES:
        named = DENSITIES[name]
        if all(getattr(named, c).em_px > getattr(density, c).em_px for c in TEXT_CLASSES):
            return name
    return None


def larger_setting(density: Density, kind: Kind, script: Script, encoder: str | None) -> Density | None:
    """The next density that sets text of ``kind`` larger than ``density`` does, as calibrated for
    ``encoder``; None past ``exact``. Calibrated densities can share a setting (where the engine
    plateaus), and drawing the same glyphs again would read back the same."""
    current = density.typesetting(kind, script)
    step = larger(density)
    while step is not None:
        candidate = get_density(step, encoder)
        if candidate.typesetting(kind, script) != current:
            return candidate
        step = larger(candidate)
    return None


class CalibratedSetting(BaseModel):
    """The setting ``hcr calibrate`` chose for one encoder family, density and text class."""

    em_px: float = Field(gt=3)
    line_height: float = Field(ge=1.0, le=2.0)
    proportional: bool = False
    accuracy: float = Field(description="character accuracy of the read-back at this setting")
    bar: float = Field(description="what the density asks for")
    reached: bool = Field(description="False: no setting reached the bar; this one is on the engine's plateau")
    chars_per_token: float
    identifier_recall: float | None = None
    plateau: float | None = None
    cells: CalibratedSetting | None = Field(
        None, description="where the setting is proportional: the best one in cells, for kinds that stay in them"
    )

    def typesetting(self) -> Typesetting:
        cells = self.cells.typesetting() if self.cells is not None else None
        return Typesetting(em_px=self.em_px, line_height=self.line_height, proportional=self.proportional, cells=cells)


class CalibrationTable(BaseModel):
    """The shipped calibration table: what the router reads of it (the raw measurements are the tool's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    engine: str | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    encoders: dict[str, dict[DensityName, dict[TextClass, CalibratedSetting]]] = Field(default_factory=dict)


@functools.lru_cache(maxsize=1)
def calibration_table() -> CalibrationTable:
    """The shipped calibration table (empty if the package was built without one)."""
    resource = resources.files("router.render").joinpath(CALIBRATION_FILE)
    if not resource.is_file():
        return CalibrationTable()
    return CalibrationTable.model_validate_json(resource.read_text(encoding="utf-8"))
