"""What a whole text is, looked at the way a person would: tool output is drawn as it was printed.

Tool results, file reads and pasted output arrive as raw text: a ``git diff``, ``pytest`` output with
colour codes, a CSV, a YAML config, a stack trace, a source file without fences. Read as markdown they
lose what gives them meaning (diff markers become bullets, ``#`` comments become headings, lines
reflow). ``detect_kind`` recognises them from the text as a whole, before it is cut into paragraphs,
and returns the kind with the language that highlights it; None leaves the text to the block
splitter in ``router.chunking``. Each test is cheap and bounded: parsers see at most
``_MAX_PARSE_CHARS``.
"""

from __future__ import annotations

import ast
import configparser
import csv
import io
import itertools
import re
from collections.abc import Callable

from router.kinds import Kind

__all__ = ["detect_kind", "kind_for_filename", "looks_binary"]

_MAX_PARSE_CHARS = 200_000
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_DIFF_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@", re.MULTILINE)
_DIFF_HEADER = re.compile(r"^(?:--- \S.*\n\+\+\+ \S|diff --git |\*\*\* \S.*\n--- \S)", re.MULTILINE)
_PYTHON_TRACE = re.compile(r"^Traceback \(most recent call last\):\n\s+File \"", re.MULTILINE)
_OTHER_TRACE = re.compile(
    r"^(?:Exception in thread \".*\" |[\w.$]+(?:Exception|Error)(?:: .*)?\n\s+at [\w.$<>]+\(|"  # Java
    r"\w*Error: .*\n\s+at .+\(.+:\d+:\d+\)|"  # JavaScript
    r"goroutine \d+ \[\w+\]:|"  # Go
    r"thread '.+' panicked at )",  # Rust
    re.MULTILINE,
)
_YAML_LINE = re.compile(r"^\s*(?:#.*|- .*|-$|[\w.\-\"' ]+:(?:\s.*)?|\s*)$")
_LINE_NUMBER = re.compile(r"^\s*(\d{1,7})(?:\t|→|│| \| )")  # cat -n, agent file views, editors
_DEFINITION = re.compile(r"^[ \t]*(?:def |class |async def |@)", re.MULTILINE)
_SHEBANG = re.compile(r"^#!\s*\S*?(?:env\s+)?(\w+)")
_BINARY_RUN = re.compile(r"[A-Za-z0-9+/=_\-]{1000,}")
_HEX_DUMP = re.compile(r"^[0-9a-f]{7,8}[: ] ?(?:[0-9a-f]{2,4} ){4,}", re.MULTILINE)


def detect_kind(text: str) -> tuple[Kind, str | None] | None:
    """The kind (and highlighting language) of ``text`` taken whole, or None when nothing claims it."""
    stripped = text.strip()
    if len(stripped) < 20:
        return None
    for detector in _DETECTORS:
        found = detector(stripped)
        if found is not None:
            return found
    return None


def kind_for_filename(name: str) -> tuple[Kind, str | None] | None:
    """The kind (and language) of a file called ``name``: what a tool that read it returned.

    A suffix a kind claims (``.md``, ``.csv``, ``.yaml``) decides; otherwise a pygments lexer for the
    file name makes it code in that language. Plain text and unknown names decide nothing."""
    import posixpath

    from router.kinds import KINDS, kind_for_extension

    base = posixpath.basename(name.replace("\\", "/"))
    suffix = posixpath.splitext(base)[1]
    kind = kind_for_extension(suffix) if suffix else None
    if kind == "prose":
        return None  # a .txt file can hold anything: the text itself decides
    language = _lexer_alias(base)
    if kind is not None:
        return kind, language if KINDS[kind].by_language else None
    return ("code", language) if language else None


def _lexer_alias(filename: str) -> str | None:
    from pygments.lexers import get_lexer_for_filename
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_for_filename(filename)
    except ClassNotFound:
        return None
    alias = lexer.aliases[0] if lexer.aliases else None
    return None if alias in (None, "text", "output") else alias


def looks_binary(text: str) -> bool:
    """Base64 blobs, minified bundles and hex dumps: drawing them costs pixels and helps nobody."""
    lines = text.splitlines() or [text]
    if _BINARY_RUN.search(text) and sum(len(m) for m in _BINARY_RUN.findall(text)) > len(text) / 2:
        return True
    if max(len(line) for line in lines) > 2000 and len(text) / len(lines) > 1000:
        return True  # minified: a few enormous lines
    return len(_HEX_DUMP.findall(text)) > max(8, len(lines) / 2)


def _terminal(text: str) -> tuple[Kind, str | None] | None:
    return ("terminal", None) if _ANSI.search(text) else None


def _diff(text: str) -> tuple[Kind, str | None] | None:
    if _DIFF_HUNK.search(text) and _DIFF_HEADER.search(text):
        return "diff", "diff"
    return None


def _trace(text: str) -> tuple[Kind, str | None] | None:
    if _PYTHON_TRACE.search(text):
        return "trace", "pytb"
    if _OTHER_TRACE.search(text):
        return "trace", None
    return None


def _records(text: str) -> tuple[Kind, str | None] | None:
    lines = text.splitlines()
    if len(lines) < 3:
        return None
    first = lines[0]
    delimiter = "\t" if first.count("\t") >= 1 else "," if first.count(",") >= 1 else None
    if delimiter is None:
        return None
    try:
        rows = list(csv.reader(io.StringIO(text[:_MAX_PARSE_CHARS]), delimiter=delimiter))
    except csv.Error:
        return None
    rows = [row for row in rows if row]
    if len(rows) < 5:  # a few short lines with commas are more likely prose
        return None
    width = len(rows[0])
    consistent = sum(len(row) == width for row in rows) / len(rows)
    words = sum(len(cell.split()) for cell in rows[0])
    if width >= 2 and consistent >= 0.9 and words <= 3 * width:  # a header of short names, not sentences
        return "csv", "tsv" if delimiter == "\t" else "csv"
    return None


def _config(text: str) -> tuple[Kind, str | None] | None:
    sample = text[:_MAX_PARSE_CHARS]
    first = sample.lstrip()[:200]
    if first.startswith("<?xml") or (first.startswith("<") and re.match(r"<[\w:-]+[ >]", first) and "</" in sample):
        return ("config", "xml") if first.startswith("<?xml") else None
    lines = [line for line in sample.splitlines() if line.strip()]
    if len(lines) < 3:
        return None
    if re.match(r"^\[[\w.\- \"]+\]\s*$", lines[0]) or any(re.match(r"^\[[\w.\-]+\]\s*$", line) for line in lines):
        found = _toml(sample) or _ini(sample)
        if found:
            return found
    yaml_like = sum(bool(_YAML_LINE.match(line)) for line in lines) / len(lines)
    keys = sum(bool(re.match(r"^\s*[\w.\-]+:(?:\s|$)", line)) for line in lines)
    if yaml_like >= 0.9 and keys >= 3:
        import yaml

        try:  # composed, never constructed: aliases in a caller's text are not expanded (no YAML bombs)
            root = yaml.compose(sample, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            return None
        if isinstance(root, (yaml.MappingNode, yaml.SequenceNode)):
            return "config", "yaml"
    return None


def _toml(sample: str) -> tuple[Kind, str | None] | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10: INI parsing below still recognises most of them
        return None
    try:
        tomllib.loads(sample)
    except tomllib.TOMLDecodeError:
        return None
    return "config", "toml"


def _ini(sample: str) -> tuple[Kind, str | None] | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(sample)
    except configparser.Error:
        return None
    return ("config", "ini") if parser.sections() else None


def _numbered(text: str) -> tuple[Kind, str | None] | None:
    """A file read with line numbers (``cat -n``, editor and agent views: ``  12→code``): code, drawn
    with its numbers so a model can cite lines; highlighted as what the lines hold, where that is known."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 5:
        return None
    numbers = [_LINE_NUMBER.match(line) for line in lines]
    if sum(m is not None for m in numbers) < 0.9 * len(lines):
        return None
    found = [int(m.group(1)) for m in numbers if m is not None]
    if any(b <= a for a, b in itertools.pairwise(found)):
        return None  # numbers must climb, as a file's lines do
    body = "\n".join(line[m.end() :] if m else line for line, m in zip(lines, numbers, strict=True))
    inner = _source(body) or _config(body)
    return "code", inner[1] if inner else None


def _source(text: str) -> tuple[Kind, str | None] | None:
    shebang = _SHEBANG.match(text)
    if shebang:
        interpreter = shebang.group(1)
        return "code", {"sh": "bash", "python3": "python", "node": "javascript"}.get(interpreter, interpreter)
    lines = text.splitlines()
    if len(lines) < 5 or not re.search(r"^(?:def |class |import |from \w+ import )", text, re.MULTILINE):
        return None
    if len(text) > _MAX_PARSE_CHARS:
        return None
    if _parses(text):
        return "code", "python"
    # A file read in part (a size or line limit) ends mid-statement: it is Python if everything up to
    # one of its last definitions parses, and that is most of it.
    starts = [m.start() for m in _DEFINITION.finditer(text) if m.start() > len(text) / 2]
    return ("code", "python") if any(_parses(text[:cut]) for cut in starts[::-1][:4]) else None


def _parses(source: str) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


# Most specific first: escape codes and diff hunks are unmistakable; records and configs parse.
_DETECTORS: tuple[Callable[[str], tuple[Kind, str | None] | None], ...] = (
    _terminal,
    _diff,
    _trace,
    _numbered,
    _source,
    _config,
    _records,
)
