"""Render speed per page on one core: layout plus PNG, over the benchmark corpus.

    python benchmarks/bench_pages.py [--out benchmarks/results] [--runs 3]

Pins itself to one CPU core, then draws every document of ``hcr bench``'s corpus (12 kinds, about
6,000 characters each) for the default encoder families at every density, uncached, ``--runs`` times.
Reports the median milliseconds per page (layout, PNG and both) over all renderings and per kind, and
a digest of every PNG byte drawn: equal digests across runs and versions mean identical pages.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from router.density_names import DENSITY_NAMES
from router.providers.geometry import get_profile
from router.render.chunks import RenderTarget, _render
from router.render.density import get_density
from router.tools.bench import DEFAULT_ENCODERS, machine
from router.tools.bench_corpus import build_corpus

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    documents, _ = build_corpus()
    per_page: dict[str, list[float]] = defaultdict(list)
    layout: list[float] = []
    png: list[float] = []
    digests = []
    for run in range(args.runs + 1):  # the first run warms fonts and imports and is not counted
        digest = hashlib.sha256()
        for document in documents:
            for encoder in DEFAULT_ENCODERS:
                profile = get_profile(encoder)
                for density in DENSITY_NAMES:
                    target = RenderTarget(profile, get_density(density, encoder))
                    drawn = _render(document.text, document.kind, document.script, document.language, target)
                    for page in drawn.pages:
                        digest.update(page.png)
                    if run:
                        pages = len(drawn.pages)
                        per_page[document.kind].append((drawn.render_ms + drawn.encode_ms) / pages)
                        layout.append(drawn.render_ms / pages)
                        png.append(drawn.encode_ms / pages)
        digests.append(digest.hexdigest())
    every = [ms for values in per_page.values() for ms in values]
    record = {
        "date": datetime.date.today().isoformat(), "machine": machine(), "cores_used": 1, "runs": args.runs,
        "renderings": len(every), "median_ms_per_page": round(statistics.median(every), 1),
        "median_layout_ms_per_page": round(statistics.median(layout), 1),
        "median_png_ms_per_page": round(statistics.median(png), 1),
        "p90_ms_per_page": round(statistics.quantiles(every, n=10)[-1], 1),
        "by_kind_median_ms_per_page": {k: round(statistics.median(v), 1) for k, v in sorted(per_page.items())},
        "png_digest": digests[-1], "identical_across_runs": len(set(digests)) == 1,
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_pages.json").write_text(json.dumps(record, indent=2) + "\n")
    json.dump(record, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
