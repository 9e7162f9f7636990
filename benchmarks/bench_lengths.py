"""Compression as documents grow: 1k, 5k, 20k and 50k tokens of each kind, per encoder family.

    python benchmarks/bench_lengths.py [--out benchmarks/results] [--encoder F ...] [--density D ...]

The long-document part of ``hcr bench --lengths`` on its own (``router.tools.bench_lengths``): each
document of 50k+ tokens (all of Debian's common licences, the Debian Reference in Chinese, nine
CPython stdlib modules, dpkg's log, litellm's price map as JSON and as a table) is cut to each length,
drawn in parts as the router draws long spans, and counted with each family's tokenizer and billing;
a 1k-token sample of each is read back by OCR at the same typesetting. Writes ``bench_lengths.json`` and
``bench_lengths.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

from router.tools.bench import MODELS, machine
from router.tools.bench_lengths import LENGTHS, lengths_markdown, long_documents, measure_lengths

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--encoder", action="append")
    parser.add_argument("--density", action="append")
    args = parser.parse_args()
    encoders = args.encoder or ["anthropic", "openai-tile", "gemini-2"]
    densities = args.density or ["dense", "balanced"]
    documents, missing = long_documents()
    for line in missing:
        print(f"skipped {line}", file=sys.stderr)
    started = time.perf_counter()
    rows = measure_lengths(
        documents, encoders, densities, LENGTHS, models=MODELS,
        on_step=lambda line: print(f"{time.perf_counter() - started:6.0f}s {line}", file=sys.stderr, flush=True),
    )  # fmt: skip
    seconds = round(time.perf_counter() - started)
    record = {
        "date": datetime.date.today().isoformat(), "machine": machine(), "seconds": seconds,
        "documents": [{"name": d.name, "kind": d.kind, "source": d.source, "chars": len(d.text)} for d in documents],
        "rows": [r.model_dump() for r in rows],
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_lengths.json").write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    table = "\n".join(lengths_markdown(rows))
    (args.out / "bench_lengths.md").write_text(f"Generated on {record['date']}: {machine()}.\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
