"""``sharpnotes search`` and ``ask``: passages for a query, and a cited answer."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sharpnotes.app import warm
from sharpnotes.app.cli._common import (
    UserError,
    check_filters,
    echo_json,
    load_settings,
    open_searcher,
    plain,
    plain_text,
)


def _read_batch(path: Path) -> list[tuple[str, str]]:
    """(id, text) pairs from JSON Lines (``id`` or ``_id`` and ``text``) or plain lines."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read batch file {path}: {exc}") from exc
    queries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
                qid, text = obj.get("id", obj.get("_id")), obj["text"]
            except (json.JSONDecodeError, KeyError) as exc:
                raise UserError(
                    f"{path}:{number}: expected JSON with 'id' and 'text' ({exc})"
                ) from exc
            queries.append((str(qid if qid is not None else number), str(text)))
        else:
            queries.append((str(number), line.strip()))
    return queries


@click.command()
@click.argument("query", required=False)
@click.option(
    "--k",
    "k",
    default=10,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Results to return.",
)
@click.option("--folder", help="Only notes under this folder (relative to the notes root).")
@click.option("--tag", help="Only notes with this front-matter tag.")
@click.option("--type", "ext", help="Only files of this type (md, txt, pdf).")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "bm25", "dense"]),
    default="hybrid",
    show_default=True,
    help="hybrid: BM25 and dense fused; bm25 or dense: one retriever alone.",
)
@click.option(
    "--batch",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run every query in FILE (JSON Lines or one per line).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (JSON Lines with --batch).")
def search(
    query: str | None,
    k: int,
    folder: str | None,
    tag: str | None,
    ext: str | None,
    mode: str,
    batch: Path | None,
    as_json: bool,
) -> None:
    """Search the notes: hybrid BM25 + dense retrieval."""
    if not query and not batch:
        raise UserError("give a QUERY or --batch FILE")
    settings = load_settings()
    if batch is None:
        asked = {"query": query, "k": k, "folder": folder, "tag": tag, "ext": ext, "mode": mode}
        reply = warm.request(settings, "search", asked)
        if reply is not None and "error" in reply:
            raise UserError(reply["error"])
        if reply is not None and "results" in reply:
            _print_results(reply["results"], reply["notices"], as_json)
            return
    from sharpnotes.app.retrieval import Filters

    searcher = open_searcher(settings)
    filters = Filters(folder=folder, tag=tag, ext=ext)
    check_filters(searcher.catalog, filters)
    if batch:
        for qid, text in _read_batch(batch):
            results = searcher.search(text, k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
            _warn(searcher.notices())
            row = {"id": qid, "query": text, "results": [r.to_dict() for r in results]}
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else _format_batch_row(row))
        return
    results = searcher.search(query or "", k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
    _print_results([r.to_dict() for r in results], searcher.notices(), as_json)
    warm.start(settings)


def _print_results(results: list[dict], notices: list[str], as_json: bool) -> None:
    _warn(notices)
    if as_json:
        echo_json(results)
        return
    if not results:
        click.echo("no matching passages")
    for r in results:
        page = f" p.{r['page']}" if r["page"] else ""
        click.secho(
            f"{r['rank']:>2}. {plain(r['source'])}{page}  [{plain(r['heading'])}]  "
            f"score {r['score']:.3f}",
            bold=True,
        )
        snippet = " ".join(r["text"].split())
        click.echo(f"    {plain(snippet[:300])}{'...' if len(snippet) > 300 else ''}")


def _warn(notices: list[str]) -> None:
    """Say on stderr what the last search could not do (a retriever that failed)."""
    for notice in notices:
        click.secho(f"warning: {plain(notice)}", fg="yellow", err=True)


def _format_batch_row(row: dict) -> str:
    top = row["results"][0] if row["results"] else None
    where = f"{plain(top['source'])} [{plain(top['heading'])}]" if top else "(nothing)"
    return f"{plain(row['id'])}\t{plain(row['query'][:60])}\t-> {where}"


@click.command()
@click.argument("question")
@click.option(
    "--k", "k", type=click.IntRange(1, 50), help="Passages to retrieve [SHARPNOTES_ANSWER_K]."
)
@click.option("--folder", help="Only notes under this folder (relative to the notes root).")
@click.option("--tag", help="Only notes with this front-matter tag.")
@click.option(
    "--generator",
    type=click.Choice(["extractive", "openai", "llamacpp"]),
    help="Answer generator [SHARPNOTES_GENERATOR, default extractive].",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object (the answer contract)."
)
def ask(
    question: str,
    k: int | None,
    folder: str | None,
    tag: str | None,
    generator: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the notes, citing the passages; refuses when they do not cover it."""
    if not question.strip():
        raise UserError("the question is empty")
    settings = load_settings(generator=generator)
    asked = {"question": question, "k": k, "folder": folder, "tag": tag}
    reply = warm.request(settings, "ask", asked)
    if reply is not None and "error" in reply:
        raise UserError(reply["error"])
    if reply is not None and "answer" in reply:
        _warn(reply["notices"])
        if as_json:
            echo_json(reply["answer"])
        else:
            if reply["answer"].get("draft"):
                from sharpnotes.app.answer import repair_summary

                click.secho(repair_summary(reply["answer"]["repair"]), fg="yellow", err=True)
            click.echo(plain_text(reply["answer"]["answer"]), nl=False)
            _print_answer(reply["answer"], reply["flagged"])
        return
    from sharpnotes.app.answer import answer_question
    from sharpnotes.app.generators import GeneratorError
    from sharpnotes.app.retrieval import Filters
    from sharpnotes.ingest.formats import StoredFormatError

    searcher = open_searcher(settings)
    check_filters(searcher.catalog, Filters(folder=folder, tag=tag))
    stream = None if as_json else _stream_tokens
    try:
        result = answer_question(
            question,
            searcher,
            settings,
            filters=Filters(folder=folder, tag=tag),
            k=k,
            on_token=stream,
        )
    except (GeneratorError, StoredFormatError) as exc:
        raise UserError(str(exc)) from exc
    _warn(searcher.notices())
    if as_json:
        echo_json(result.to_dict())
    else:
        if result.draft:  # the streamed draft did not hold up as written: show what does
            from sharpnotes.app.answer import repair_summary

            click.echo()
            click.secho(f"\n{repair_summary(result.repair)}", fg="yellow", err=True)
            click.echo(plain_text(result.answer), nl=False)
        _print_answer(result.to_dict(), flagged(result))
    warm.start(settings)


def flagged(result: Any) -> list[str]:
    """The answer's sentences that the check found no support for."""
    return [check.text for check in result.sentences if not check.supported]


def _stream_tokens(token: str) -> None:
    click.echo(plain_text(token), nl=False)
    sys.stdout.flush()


def _print_answer(result: dict, unsupported: list[str]) -> None:
    """After the streamed answer (``ask --json``'s fields): flagged sentences, the sources, or
    the closest notes."""
    click.echo()
    if result.get("spelled"):
        click.secho(f"(searched for: {plain(result['spelled'])})", dim=True, err=True)
    if result["refused"]:
        if result["closest"]:
            click.secho("\nclosest notes:", bold=True)
            for r in result["closest"]:
                snippet = " ".join(r["text"].split())
                page = f" p.{r['page']}" if r["page"] else ""
                click.echo(
                    f"  - {plain(r['source'])}{page}  [{plain(r['heading'])}]\n"
                    f"    {plain(snippet[:200])}"
                )
        return
    for text in unsupported:
        click.secho(f"unsupported: {plain(text)}", fg="yellow", err=True)
    click.secho("\nsources:", bold=True)
    for c in result["citations"]:
        page = f" p.{c['page']}" if c["page"] else ""
        click.echo(f"  [{c['n']}] {plain(c['source'])}{page}  [{plain(c['heading'])}]")
    took = result["retrieval_ms"], result["generation_ms"]
    timing = f"retrieval {took[0]:.0f} ms, generation {took[1]:.0f} ms"
    sys.stdout.flush()  # the sources first, also when both streams go to one file
    click.secho(f"({result['generator']}; {timing})", dim=True, err=True)
