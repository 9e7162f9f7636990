"""The benchmark corpus: real documents that nobody on this team wrote, found on any Debian machine.

Every source is local and needs no network: Python standard-library sources and the licence texts
of Debian's base-files, the long description of an installed package (markdown with tables and
code), the Debian Reference in Chinese (``debian-reference-zh-cn``), dpkg's own log, and litellm's
model price map (as JSON and as a markdown table). Each document is cut at a line boundary to about
``max_chars`` characters, so a run costs a bounded number of OCR pages. A source that is missing on
this machine is skipped, and the run says so.
"""

from __future__ import annotations

import gzip
import inspect
import json
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from router.models import Kind, Script

GPL = Path("/usr/share/common-licenses/GPL-3")
DEBIAN_REFERENCE_ZH = Path("/usr/share/doc/debian-reference-zh-cn/docs/debian-reference.zh-cn.txt.gz")
DPKG_LOG = Path("/var/log/dpkg.log")
QUICK = ("gpl-prose", "argparse-code")


class Document(BaseModel):
    name: str
    kind: Kind
    script: Script = "latin"
    language: str | None = None
    source: str
    text: str


def _cut(text: str, max_chars: int) -> str:
    """The first lines of ``text`` that fit in ``max_chars``."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars]


def gpl_prose(max_chars: int) -> Document | None:
    if not GPL.exists():
        return None
    text = GPL.read_text(encoding="utf-8")
    start = text.index("The GNU General Public License is a free")
    return Document(name="gpl-prose", kind="prose", source=str(GPL), text=_cut(text[start:], max_chars))


def argparse_code(max_chars: int) -> Document:
    import argparse

    lines = inspect.getsource(argparse).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("class HelpFormatter"))
    text = _cut("\n".join(lines[start:]), max_chars)
    return Document(name="argparse-code", kind="code", language="python", source="CPython Lib/argparse.py", text=text)


def chinese_reference_text() -> str | None:
    """The Debian Reference in Chinese from its tutorial chapter on, or None where it is not installed."""
    if not DEBIAN_REFERENCE_ZH.exists():
        return None
    text = gzip.open(DEBIAN_REFERENCE_ZH, "rt", encoding="utf-8").read()
    return text[text.index("GNU/Linux 教程\n", 3000) :]


def chinese_reference(max_chars: int) -> Document | None:
    text = chinese_reference_text()
    if text is None:
        return None
    return Document(
        name="debian-reference-zh", kind="prose", script="cjk", source=str(DEBIAN_REFERENCE_ZH),
        text=_cut(text, max_chars // 3),  # a CJK character carries about three Latin ones
    )  # fmt: skip


def dpkg_log(max_chars: int) -> Document | None:
    if not DPKG_LOG.exists() or DPKG_LOG.stat().st_size < 2000:
        return None
    text = DPKG_LOG.read_text(encoding="utf-8", errors="replace")
    return Document(name="dpkg-log", kind="log", source=str(DPKG_LOG), text=_cut(text, max_chars))


def price_map() -> dict[str, dict]:
    from router._litellm import litellm

    path = Path(litellm.__file__).parent / "model_prices_and_context_window_backup.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if isinstance(v, dict) and k != "sample_spec"}


def price_json(max_chars: int) -> Document:
    entries = {k: v for k, v in price_map().items() if v.get("litellm_provider") in ("anthropic", "openai")}
    text = _cut(json.dumps(dict(list(entries.items())[:40]), indent=2), max_chars)
    return Document(name="litellm-prices-json", kind="json", source="litellm model price map", text=text)


def price_table_text() -> str:
    """Every chat model of the price map as a markdown table with many narrow numeric columns."""
    rows = ["| Model | Provider | Max input | Max output | Input $/M | Output $/M |", "|---|---|---:|---:|---:|---:|"]
    for name, info in price_map().items():
        if not info.get("input_cost_per_token") or info.get("mode") != "chat":
            continue
        rows.append(
            f"| {name} | {info.get('litellm_provider', '')} | {info.get('max_input_tokens') or ''} | "
            f"{info.get('max_output_tokens') or ''} | {info['input_cost_per_token'] * 1e6:g} | "
            f"{(info.get('output_cost_per_token') or 0) * 1e6:g} |"
        )
    return "\n".join(rows)


def price_table(max_chars: int) -> Document:
    text = _cut(price_table_text(), max_chars)
    return Document(name="litellm-prices-table", kind="table", source="litellm model price map", text=text)


def package_readme(max_chars: int) -> Document | None:
    """The longest installed long description that has both a table and a code block, not this
    project's own: its README grows every release (it overtook azure-identity's on 2026-12-01)."""
    best: tuple[int, str, str] | None = None
    own = set(metadata.packages_distributions().get("router", ()))
    for dist in metadata.distributions():
        meta: Any = dist.metadata  # an email.message.Message underneath; the protocol type hides its methods
        if meta["Name"] in own:
            continue
        body = meta.get_payload() or meta.get("Description") or ""
        kind = meta.get("Description-Content-Type") or ""
        if "markdown" in kind and "|---" in body.replace(" ", "") and "```" in body and len(body) > 4000:
            name = dist.metadata["Name"]
            if best is None or (len(body), name) > (best[0], best[1]):
                best = (len(body), name, body)
    if best is None:
        return None
    _, name, body = best
    source = f"{name} package metadata"
    return Document(name=f"{name.lower()}-readme", kind="markdown", source=source, text=_cut(body, max_chars))


# --- what agents read: tool output as it was printed -------------------------------------------------


def stdlib_diff(max_chars: int) -> Document:
    import difflib
    import shlex
    import textwrap

    old, new = (inspect.getsource(m).splitlines(keepends=True) for m in (textwrap, shlex))
    text = "".join(difflib.unified_diff(old, new, fromfile="Lib/textwrap.py", tofile="Lib/shlex.py"))
    source = "difflib.unified_diff of the stdlib's textwrap.py and shlex.py"
    return Document(name="stdlib-diff", kind="diff", language="diff", source=source, text=_cut(text, max_chars))


def grep_terminal(max_chars: int) -> Document | None:
    import shutil
    import subprocess

    if not DPKG_LOG.exists() or shutil.which("grep") is None:
        return None
    command = ["grep", "--color=always", "-n", "status installed", str(DPKG_LOG)]
    printed = subprocess.run(command, capture_output=True, text=True, check=False).stdout
    if "\x1b[" not in printed:
        return None
    source = "grep --color=always -n over /var/log/dpkg.log"
    return Document(name="grep-terminal", kind="terminal", source=source, text=_cut(printed, max_chars))


def price_csv(max_chars: int) -> Document:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["model", "litellm_provider", "mode", "max_input_tokens", "input_cost_per_token", "output_cost_per_token"]
    writer.writerow(columns)
    for name, info in sorted(price_map().items()):
        writer.writerow([name, *(info.get(c, "") for c in columns[1:])])
    source = "litellm's bundled price map, written by the csv module"
    return Document(
        name="litellm-prices-csv", kind="csv", language="csv", source=source, text=_cut(out.getvalue(), max_chars)
    )


def policy_yaml(max_chars: int) -> Document:
    from importlib import resources

    files = sorted(
        (f for f in resources.files("router.policies").iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name
    )
    text = "".join(f"# --- {f.name}\n{f.read_text(encoding='utf-8')}\n" for f in files)
    return Document(
        name="policy-yaml", kind="config", language="yaml", source="hcr's shipped policies", text=_cut(text, max_chars)
    )


def python_traces(max_chars: int) -> Document:
    import traceback

    failing: list[Callable[[], object]] = [
        lambda: json.loads("{'single': 'quotes'}"),
        lambda: int("0x1f"),
        lambda: Path("/nonexistent/hcr/config.yaml").read_text(),
        lambda: {"a": 1}["b"],
        lambda: gzip.decompress(b"not gzip data"),
    ]
    traces: list[str] = []
    size = 0
    while size < max_chars:
        for call in failing:
            try:
                call()
            except Exception as exc:  # real exceptions from real calls, formatted as Python prints them
                traces.append("".join(traceback.format_exception(exc)))
                size += len(traces[-1])
    source = "tracebacks of failing stdlib calls, as traceback.format_exception prints them"
    # The frames of this module carry the checkout's own path; one fixed root in its place keeps the
    # document, and its figures, the same in every checkout.
    text = "".join(traces).replace(str(Path(__file__).parents[2]), "/src/hybrid-context-router")
    return Document(name="python-traces", kind="trace", language="pytb", source=source, text=_cut(text, max_chars))


BUILDERS: list[Callable[[int], Document | None]] = [
    gpl_prose, chinese_reference, argparse_code, price_table, price_json, dpkg_log, package_readme,
    stdlib_diff, grep_terminal, price_csv, policy_yaml, python_traces,
]  # fmt: skip


def build_corpus(*, quick: bool = False, max_chars: int = 6000) -> tuple[list[Document], list[str]]:
    """The documents available here, and a note for each source that is missing."""
    documents, missing = [], []
    for build in BUILDERS:
        document = build(max_chars)
        if document is None:
            if not quick:
                missing.append(f"{build.__name__}: source not found on this machine")
        elif not quick or document.name in QUICK:
            documents.append(document)
    return documents, missing
