"""The fixed samples ``hcr calibrate`` reads back, per class of text, and what each is for.

The files are in ``router/tools/calibration_corpus``, shipped with the package: a calibration
measures these bytes and nothing else, so two runs on two machines measure the same pages.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from pydantic import BaseModel

from router.models import Kind, Script
from router.render.density import TextClass

__all__ = ["Sample", "corpus"]


class Sample(BaseModel):
    name: str
    text_class: TextClass
    kind: Kind
    script: Script
    language: str | None = None
    text: str


def corpus() -> dict[TextClass, tuple[Sample, ...]]:
    """The fixed calibration samples shipped with the package, per class of text.

    A class with several samples is as good as its worst one: JSON's lone braces read back worse than
    Python; apt's upgrade log (``libcurl4:amd64 (7.88.1-10+deb12u8)``) worse than service logs. The
    table samples are a ruled price sheet and a CSV of package builds, both of many narrow columns of
    identifiers, versions and numbers in scientific notation, as agents' tool results and price maps
    have; they were generated once from a fixed seed, and the files are what is measured. JSON, drawn
    with its whitespace redrawn, has a deployment's status (nested objects, hashes, URLs, nulls) and a
    page of pull requests as a code host's API lists them (records with a nested user and labels;
    generated once from a fixed seed); the status is also drawn as code, as JSON with comments is,
    among the monospace samples. Prose has a
    release checklist in markdown (identifiers, a table, inline code) and plain running prose: the
    first paragraphs of the Python Language Reference's "Execution model" (PSF licence, from
    ``pydoc_data.topics``), added after the checklist alone let 7 px through on Claude's pages where
    1,000 tokens of licences read 97.8%. Logs have service log lines, apt's upgrade log and Python
    tracebacks (a chained exception, carets under the failing expressions, written by
    ``traceback.format_exception``), added after the two logs alone let 9.5 px through on gpt-4o's
    pages, where the bench's tracebacks read 95.9%. Chinese has a release checklist (identifiers,
    versions; 480 characters, so one misread is 0.2 points, as wide as the gap between two bars) and
    a narrative of plain running prose (1,089 characters), both written for this project, and a
    chapter of technical instructions with commands, paths and product names inside the Chinese
    (``build-07:~$``, ``~/.bashrc``, ``ls(1)``, ``GNOME``; 889 characters), added when the first
    two let 11 px at line height 1.0 through on Claude's pages, where a chapter of the Debian
    Reference read 99.4%: the Latin inside Chinese is where the engine misreads first (``GNU`` as
    ``GNu``, ``ABSOLUTELY`` as ``ABSoLUTELY``)."""
    folder = resources.files("router.tools").joinpath("calibration_corpus")

    def sample(name: str, text_class: TextClass, kind: Kind, script: Script, language: str | None = None) -> Sample:
        return Sample(
            name=name, text_class=text_class, kind=kind, script=script, language=language, text=_read(folder, name)
        )

    return {
        "latin": (
            sample("latin.md", "latin", "markdown", "latin"),
            sample("latin.prose.txt", "latin", "prose", "latin"),
        ),
        "table": (
            sample("table.md", "table", "table", "latin"),
            sample("table.csv", "table", "csv", "latin", "csv"),
        ),
        "data": (
            sample("mono.json.txt", "data", "json", "latin"),
            sample("json.api.txt", "data", "json", "latin"),
        ),
        "cjk": (
            sample("cjk.txt", "cjk", "prose", "cjk"),
            sample("cjk.prose.txt", "cjk", "prose", "cjk"),
            sample("cjk.tech.txt", "cjk", "prose", "cjk"),
        ),
        "mono": (
            sample("mono.py.txt", "mono", "code", "latin", "python"),
            sample("mono.json.txt", "mono", "code", "latin", "json"),  # JSON that is not JSON tokens: as code
        ),
        "logs": (
            sample("logs.txt", "logs", "log", "latin"),
            sample("logs.apt.txt", "logs", "log", "latin"),
            sample("logs.trace.txt", "logs", "trace", "latin", "pytb"),
        ),
    }


def _read(folder: Any, name: str) -> str:
    return folder.joinpath(name).read_text(encoding="utf-8")
