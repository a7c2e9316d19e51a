"""``sharpnotes eval``: measure retrieval on an eval set, compare runs, build sets.

Heavy imports stay inside the commands."""

from __future__ import annotations

import time
from pathlib import Path

import click

from sharpnotes.app.cli._common import Bars, UserError, echo_json, load_settings
from sharpnotes.eval.harness import DEFAULT_CONFIGS
from sharpnotes.ingest.settings import Settings


def _index_sources(settings: Settings) -> set[str]:
    from sharpnotes.ingest.index import open_catalog

    if not (settings.index_dir / "catalog.sqlite").exists():
        return set()
    catalog = open_catalog(settings)
    try:
        return set(catalog.files())
    finally:
        catalog.close()


def resolve_set_path(settings: Settings, path: Path | None) -> Path:
    from sharpnotes.eval.sets import default_set

    return path if path is not None else default_set(settings.paths.home, _index_sources(settings))


@click.group("eval", invoke_without_command=True)
@click.option(
    "--set",
    "set_path",
    type=click.Path(exists=True, path_type=Path),
    help="A .jsonl eval set or a BEIR folder (default: the sample set when the sample notes "
    "are indexed, else your newest set under SHARPNOTES_HOME/evalsets).",
)
@click.option(
    "--retrievers",
    default=DEFAULT_CONFIGS,
    show_default=True,
    help="Comma-separated configurations: bm25, dense, hybrid, hybrid-rrf, each optionally "
    "with setting overrides, e.g. hybrid:bm25_weight=0.4:candidates=100.",
)
@click.option("--k", "k", default=10, show_default=True, type=click.IntRange(1, 1000))
@click.option("--split", help="BEIR qrels split (default test, else dev, else train).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write results.jsonl (per query) and summary.json here.",
)
@click.pass_context
def eval_group(
    ctx: click.Context,
    set_path: Path | None,
    retrievers: str,
    k: int,
    split: str | None,
    as_json: bool,
    out: Path | None,
) -> None:
    """Measure retrieval on an eval set: hit@1, hit@5, MRR@10, nDCG@10, Recall@k, latency.

    \b
    Subcommands: compare A B, generate, add-from-chat."""
    if ctx.invoked_subcommand is not None:
        return
    from sharpnotes.eval.harness import (
        ConfigError,
        format_table,
        parse_configs,
        prepare_index,
        run_eval,
    )
    from sharpnotes.eval.sets import EvalSetError, load_set
    from sharpnotes.ingest.catalog import IndexFormatError
    from sharpnotes.ingest.embedders import EmbeddingModelError
    from sharpnotes.ingest.sync import IngestError
    from sharpnotes.ingest.vectors import VectorStoreError

    settings = load_settings()
    progress = Bars(unit="q")
    try:
        configs = parse_configs(retrievers)
        eval_set = load_set(resolve_set_path(settings, set_path), split)
        index_settings = prepare_index(eval_set, settings)  # a BEIR corpus is ingested once
        report = run_eval(eval_set, configs, index_settings, k=k, progress=progress)
    except (ConfigError, EvalSetError) as exc:
        raise UserError(str(exc)) from exc
    except (IngestError, IndexFormatError, EmbeddingModelError, VectorStoreError) as exc:
        raise UserError(str(exc)) from exc
    finally:
        progress.close()
    summary = report.summary()
    if out is not None:
        results, summary_file = report.write(out)
        click.echo(f"wrote {results} and {summary_file}", err=True)
    if as_json:
        echo_json(summary)
        return
    info = summary["set"]
    click.echo(
        f"{info['name']} ({info['path']}): {info['answerable']} questions scored, k={k}"
        + (
            f"; {info['unanswerable_excluded']} unanswerable questions excluded from the metrics"
            if info["unanswerable_excluded"]
            else ""
        )
    )
    click.echo(format_table(summary))
    click.echo("* best in column; latency is per query, in ms")
    if report.unmatched:
        click.echo(
            f"{len(report.unmatched)} questions have a label no indexed passage holds "
            f"(counted as misses): {', '.join(report.unmatched[:10])}"
        )


@eval_group.command("compare")
@click.argument("a", type=click.Path(exists=True, path_type=Path))
@click.argument("b", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=20, show_default=True, help="Queries listed per direction.")
def compare_command(a: Path, b: Path, as_json: bool, limit: int) -> None:
    """What changed from run A to run B (folders or summary files written by eval --out)."""
    from sharpnotes.eval.compare import compare_runs, format_comparison
    from sharpnotes.eval.sets import EvalSetError

    try:
        result = compare_runs(a, b)
    except EvalSetError as exc:
        raise UserError(str(exc)) from exc
    if as_json:
        echo_json(result)
    else:
        click.echo(format_comparison(result, limit))


def _default_out(settings: Settings, stem: str) -> Path:
    from sharpnotes.eval.sets import evalsets_dir

    return evalsets_dir(settings.paths.home) / f"{stem}.jsonl"


@eval_group.command("generate")
@click.option("--n", "n", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the set (default SHARPNOTES_HOME/evalsets/generated-TIME.jsonl).",
)
@click.option("--folder", help="Only passages under this folder of the notes.")
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--llm/--no-llm",
    default=None,
    help="Write questions with the configured LLM generator (default: when one is set).",
)
def generate_command(
    n: int, out: Path | None, folder: str | None, seed: int, llm: bool | None
) -> None:
    """Write a question per sampled passage of your notes, as an eval set to review."""
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.eval.generate import generate_set
    from sharpnotes.eval.sets import write_jsonl

    settings = load_settings()
    if not (settings.index_dir / "catalog.sqlite").exists():
        raise UserError(f"no index at {settings.index_dir}; run: sharpnotes ingest PATH-TO-NOTES")
    try:
        questions = generate_set(settings, n=n, folder=folder, seed=seed, use_llm=llm)
    except GeneratorError as exc:
        raise UserError(f"{exc} (or run with --no-llm for template questions)") from exc
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    path = out or _default_out(settings, time.strftime("generated-%Y%m%d-%H%M%S"))
    write_jsonl(path, questions)
    sources = {q.labels[0].source for q in questions}
    click.echo(f"wrote {len(questions)} questions over {len(sources)} notes to {path}")
    click.echo(f"review them, then run: sharpnotes eval --set {path}")


@eval_group.command("add-from-chat")
@click.option("--conversation", "conv_id", help="Only this conversation (its id).")
@click.option("--all", "all_", is_flag=True, help="Every saved conversation.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The set to add to (default SHARPNOTES_HOME/evalsets/chat.jsonl).",
)
def add_from_chat_command(conv_id: str | None, all_: bool, out: Path | None) -> None:
    """Add questions asked in the chat, with the passage each answer cited, to a set."""
    from sharpnotes.eval.generate import add_from_chat
    from sharpnotes.eval.sets import EvalSetError

    if bool(conv_id) == all_:
        raise UserError("give --conversation ID or --all")
    settings = load_settings()
    path = out or _default_out(settings, "chat")
    try:
        added, skipped = add_from_chat(settings, path, conv_id)
    except (EvalSetError, ValueError, OSError) as exc:
        raise UserError(str(exc)) from exc
    click.echo(
        f"added {len(added)} questions to {path}; skipped {skipped['refused']} refused, "
        f"{skipped['duplicate']} already in the set, {skipped['uncited']} without a citation"
    )


@eval_group.command("answers")
@click.option(
    "--set",
    "set_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A labelled .jsonl set (default: as for sharpnotes eval).",
)
@click.option(
    "--generators",
    default="extractive",
    show_default=True,
    help="Comma-separated generators to compare: extractive, openai, llamacpp.",
)
@click.option("--split", "half", help="Only this half of the set: tune or holdout.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write results.jsonl (per question) and summary.json here.",
)
@click.option(
    "--compare",
    "baseline",
    type=click.Path(exists=True, path_type=Path),
    help="A folder written by an earlier eval answers --out: list what changed since.",
)
def answers_command(
    set_path: Path | None,
    generators: str,
    half: str | None,
    as_json: bool,
    out: Path | None,
    baseline: Path | None,
) -> None:
    """Measure the answers `ask` gives: evidence recall and cited, refusals (answerable,
    unanswerable, near misses), duplicate quotes, restated questions, length, latency."""
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.eval.answers import compare_answer_runs, format_summary, run_answers
    from sharpnotes.eval.compare import load_run
    from sharpnotes.eval.harness import prepare_index
    from sharpnotes.eval.sets import EvalSetError, load_set

    settings = load_settings()
    names = [g.strip() for g in generators.split(",") if g.strip()]
    progress = Bars(unit="q")
    try:
        eval_set = load_set(resolve_set_path(settings, set_path))
        if eval_set.format != "jsonl":
            raise EvalSetError(f"{eval_set.path}: answers need a .jsonl set with evidence labels")
        prepare_index(eval_set, settings)
        report = run_answers(eval_set, settings, names, split=half, progress=progress)
        previous = load_run(baseline) if baseline is not None else None
    except EvalSetError as exc:
        raise UserError(str(exc)) from exc
    except GeneratorError as exc:
        raise UserError(f"{exc} (or run with --generators extractive)") from exc
    finally:
        progress.close()
    summary = report.summary()
    if out is not None:
        results, summary_file = report.write(out)
        click.echo(f"wrote {results} and {summary_file}", err=True)
    changes = None
    if previous is not None:
        rows = [r.to_dict() for r in report.rows]
        changes = compare_answer_runs(previous[0], previous[1], summary, rows)
    if as_json:
        echo_json(summary | ({"compare": changes} if changes else {}))
        return
    click.echo(f"{eval_set.name} ({eval_set.path}), split {half or 'all'}")
    click.echo(format_summary(summary))
    for name, cmp in (changes or {}).get("configs", {}).items():
        deltas = "  ".join(f"{m} {v:+.3f}" for m, v in cmp["deltas"].items())
        click.echo(f"\n{name} vs {baseline}: {deltas}")
        for row in cmp["changed"][:20]:
            click.echo(f"  {row['query_id']}: {row['a']} -> {row['b']}")


@eval_group.command("quiz")
@click.option("--n", "n", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--kind",
    type=click.Choice(["mixed", "mcq", "cloze", "recall"]),
    default="mixed",
    show_default=True,
)
@click.option("--seed", default=0, show_default=True, help="Sampling seed.")
@click.option(
    "--ratings",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A .jsonl of items rated with the quiz rubric (0-5): adds the mean score and shares.",
)
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def quiz_command(n: int, kind: str, seed: int, ratings: Path | None, as_json: bool) -> None:
    """Generate quiz items from your notes and report the automatic checks (verification and
    the quality gate, with what it drops and why); with --ratings, the rubric scores."""
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.app.retrieval import EmptyIndexError
    from sharpnotes.eval.quiz import (
        RatingsError,
        check_items,
        load_ratings,
        rated_groups,
        rating_report,
    )

    settings = load_settings()
    try:
        rated = rating_report(load_ratings(ratings)) if ratings else None
        checks = check_items(settings, n=n, kind=kind, seed=seed)
    except (EmptyIndexError, GeneratorError, RatingsError) as exc:
        raise UserError(str(exc)) from exc
    if as_json:
        echo_json({"checks": checks, "ratings": rated})
        return
    click.echo(
        f"{checks['generated']} items generated; {checks['passed']} pass the quality gate "
        f"({checks['own_cards']} are your own cards); by type: "
        + (", ".join(f"{k} {v}" for k, v in sorted(checks["by_type"].items())) or "none")
    )
    failures = checks["verification_failures"]
    click.echo(
        "verification: "
        + (", ".join(f"{k} {v}" for k, v in failures.items()) if failures else "all pass")
    )
    drops = checks["gate_drops"]
    click.echo(
        "quality gate drops: "
        + (", ".join(f"{k} {v}" for k, v in drops.items()) if drops else "none")
    )
    if rated:
        for name, row in rated_groups(rated):
            click.echo(
                f"ratings {name}: {row['items']} items, mean {row['mean']:.2f} of 5, "
                f"{row['share_at_least_3']:.0%} at 3+, {row['share_at_least_4']:.0%} at 4+, "
                f"{row['share_at_most_1']:.0%} at 1 or less"
            )
