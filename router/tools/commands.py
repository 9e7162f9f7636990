"""``hcr calibrate`` and ``hcr bench``: the tooling commands (OCR sweeps, benchmarks), run from ``router.cli``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from router.cli import _plain, console, err_console
from router.errors import RouterError

__all__ = ["bench", "calibrate"]


def calibrate(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from router.density_names import DENSITY_NAMES
    from router.providers.geometry import PROFILES
    from router.render.density import TEXT_CLASSES
    from router.tools import calibrate

    if not args.rechoose:
        _needs("calibrate", "fidelity", ["rapidocr_onnxruntime", "rapidfuzz"])
    encoders = args.encoder or list(PROFILES)
    classes = args.kinds or list(TEXT_CLASSES)
    sweep = calibrate.DEFAULT_SWEEP
    if args.ems:
        ems = _floats(args.ems, "--ems")
        sweep = sweep.model_copy(update={"em_px": dict.fromkeys(TEXT_CLASSES, ems)})
    if args.line_heights:
        sweep = sweep.model_copy(update={"line_heights": _floats(args.line_heights, "--line-heights")})
    if args.rechoose:
        table = calibrate.rechoose(args.out)
        encoders = [e for e in encoders if e in table["encoders"]]
    else:
        columns = _progress_columns()
        with Progress(*columns, console=err_console()) as progress:
            task = progress.add_task("calibrating", total=calibrate.steps(encoders, classes, sweep))
            table = calibrate.calibrate(
                args.out, encoders, classes, sweep, engine=args.engine,
                on_step=lambda line: progress.update(task, advance=1, description=line),
            )  # fmt: skip
    engine = table.get("engine", "stored measurements")
    from rich.table import Table

    result = Table(title=f"Calibration ({engine}) -> {args.out}", title_justify="left")
    for column in ("encoder", "density", "class", "em px", "line h", "accuracy", "bar", "chars/token"):
        result.add_column(column, justify="left" if column in ("encoder", "density", "class") else "right")
    for encoder in encoders:
        for density in DENSITY_NAMES:
            for text_class in classes:
                row = table["encoders"][encoder][density].get(text_class)
                if row is None:  # a class this table was never calibrated for
                    continue
                # Code in FiraGO, and the cells' own row beside it for the kinds that keep their cells
                rows = [(f"{text_class} (FiraGO)" if row["proportional"] else text_class, row)]
                rows += [(f"{text_class} (cells)", row["cells"])] if row.get("cells") else []
                for label, shown in rows:
                    accuracy = f"{shown['accuracy']:.2%}" + ("" if shown["reached"] else " [yellow](plateau)[/]")
                    result.add_row(
                        encoder, density, label, f"{shown['em_px']:g}", f"{shown['line_height']:g}", accuracy,
                        f"{shown['bar']:.1%}", f"{shown['chars_per_token']:.2f}",
                    )  # fmt: skip
    console().print(result)
    return 0


def bench(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from router.density_names import DENSITY_NAMES
    from router.tools import bench
    from router.tools.bench_corpus import build_corpus

    _needs("bench", "bench", ["rapidocr_onnxruntime", "rapidfuzz", "matplotlib"])
    documents, missing = build_corpus(quick=args.quick and not args.documents)
    encoders = args.encoder or list(bench.QUICK_ENCODERS if args.quick else bench.DEFAULT_ENCODERS)
    densities = args.density or list(DENSITY_NAMES)
    lengths = _ints(args.lengths, "--lengths") if args.lengths else []
    long_documents: list[Any] = []
    if lengths:
        from router.tools.bench_lengths import long_documents as find_long

        long_documents, missing_long = find_long()
        missing = [*missing, *missing_long]
    if args.documents:
        documents, long_documents = _chosen(args.documents, documents, long_documents, lengths=bool(lengths))
        missing = []  # the sources of documents not asked for do not matter
    for line in missing:
        err_console().print(f"[yellow]skipped[/] {_plain(line)}", highlight=False)
    answers: Callable[[Sequence[Any]], dict[str, Any]] | None = None
    if args.backend:
        from router.core import Router
        from router.policy import Policy
        from router.tools.agent_answers import run_agent_answers
        from router.tools.answers import run_answers

        extra = {"api_base": args.api_base} if args.api_base else {}
        policy = Policy.load(args.policy)
        router = Router(policy)

        def answers(docs: Sequence[Any]) -> dict[str, Any]:
            found = run_answers(docs, args.backend, router=router, per_document=args.questions, **extra)
            agent = run_agent_answers(args.backend, policy=policy, count=args.questions + 1, **extra)
            return {**found, "agent": agent}

    columns = _progress_columns()
    with Progress(*columns, console=err_console()) as progress:
        steps = bench.steps(documents, encoders, densities) + len(long_documents) * len(lengths) * len(encoders) * len(
            densities
        )
        err_console().print(
            f"{len(documents)} documents x {len(encoders)} encoder families x {len(densities)} densities: {steps} "
            "renderings read back with OCR (a full run took 25 min on 2 cores)",
            highlight=False,
        )
        task = progress.add_task("benchmark", total=steps)
        result = bench.run_bench(
            args.out, quick=args.quick, encoders=encoders, densities=densities, engine=args.engine,
            documents=documents, missing=missing, answers=answers, lengths=lengths, long_documents=long_documents,
            on_step=lambda line: progress.update(task, advance=1, description=line),
        )  # fmt: skip
    if args.json:
        from router.cli import emit_json

        emit_json(result.model_dump(mode="json"))
        return 0
    from router.tools.bench_report import markdown

    console().print(markdown(result).split("All measurements:")[0].rstrip(), highlight=False)
    if result.answers:
        from router.tools.agent_answers import agent_answers_markdown
        from router.tools.answers import answers_markdown

        console().print("\n".join(answers_markdown(result.answers)), highlight=False)
        console().print("\n".join(agent_answers_markdown(result.answers["agent"])), highlight=False)
    plots = f", {bench.COMPRESSION_PLOT}, {bench.SAVINGS_PLOT}" if result.rows else ""
    console().print(f"wrote {args.out}/bench.json, bench.md{plots}", highlight=False)
    return 0


def _chosen(
    names: str, documents: list[Any], long_documents: list[Any], *, lengths: bool
) -> tuple[list[Any], list[Any]]:
    """The documents named in ``--documents``, from the corpus and the long documents."""
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    known = list(dict.fromkeys(d.name for d in [*documents, *long_documents]))  # some are in both
    unknown = [n for n in wanted if n not in known]
    if unknown or not wanted:
        long_note = "" if lengths else " (with --lengths, the long documents too)"
        raise RouterError(
            f"--documents: {', '.join(unknown) or repr(names)} not in the corpus here; known{long_note}: "
            + ", ".join(known)
        )
    return [d for d in documents if d.name in wanted], [d for d in long_documents if d.name in wanted]


def _progress_columns() -> tuple[Any, ...]:
    """A bar with the count, the time spent and the time left (these commands run for minutes)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def _needs(command: str, extra: str, modules: list[str]) -> None:
    """Say up front which extra a command needs, before any work is done."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise RouterError(
            f"hcr {command} needs the '{extra}' extra ({', '.join(missing)} missing): "
            f"pip install 'hybrid-context-router[{extra}]'"
        )


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RouterError(f"{option}: expected whole numbers separated by commas, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise RouterError(f"{option}: expected positive token counts, got {text!r}")
    return values


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RouterError(f"{option}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise RouterError(f"{option}: no values given")
    return values


def stats(args: argparse.Namespace) -> int:
    from router.events import read_events
    from router.tools.stats import summarise

    if args.log is None:
        from router.proxy.config import default_event_log

        args.log = Path(default_event_log())
    groups, total = summarise(read_events(args.log), by=args.by)
    if args.json:
        from router.cli import emit_json

        def figures(group: Any) -> dict[str, Any]:
            return {**group.model_dump(exclude={"count", "priced"}), "routed": group.routed, "saved": group.saved,
                    "saved_share": round(group.saved_share, 4),
                    "money_saved": round(group.money_saved, 6),
                    "billed_vs_estimate": group.billed_vs_estimate}  # fmt: skip

        emit_json({"by": args.by, "groups": [figures(g) for g in groups], "total": figures(total)})
        return 0
    from rich.table import Table

    table = Table(title=f"Savings by {args.by} from {args.log}", title_justify="left")
    for column in ("", "requests", "routed", "tokens before", "after", "saved", "cost before", "after", "saved $",
                   "billed / estimate"):  # fmt: skip
        table.add_column(column, justify="left" if not column else "right")
    for group in [*groups, total]:
        style = "red" if group.saved < 0 else ("bold" if group is total else None)
        ratio = group.billed_vs_estimate
        table.add_row(
            _plain(group.name), f"{group.requests:,}", f"{group.routed:,}", f"{group.tokens_before:,}",
            f"{group.tokens_after:,}", f"{group.saved:,} ({group.saved_share:.0%})", f"${group.cost_before:.4f}",
            f"${group.cost_after:.4f}", f"${group.money_saved:.4f}",
            f"{ratio:.3f} ({group.billed_requests:,} req)" if ratio is not None else "",
            style=style, end_section=group is groups[-1] if groups else False,
        )  # fmt: skip
    console().print(table)
    if total.unpriced:
        console().print(f"[dim]{total.unpriced:,} routed request(s) had no price and are not in the money columns[/]")
    return 0
