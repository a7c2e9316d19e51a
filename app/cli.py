"""The ``sharpnotes`` command line. Heavy libraries are imported inside the commands that use
them, so ``--help`` and a search start fast."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ingest.settings import ConfigFileError, Settings, get_settings

EXIT_SKIPPED = 3  # ingest finished, but some files could not be read


class UserError(click.ClickException):
    """A one-line error the user can act on; exits with status 1."""


def _settings(**overrides: Any) -> Settings:
    try:
        return get_settings(**overrides)
    except ConfigFileError as exc:
        raise UserError(str(exc)) from exc
    except ValidationError as exc:  # name the bad value and what is wrong with it
        problems = "; ".join(_setting_problem(e) for e in exc.errors())
        raise UserError(f"bad setting: {problems}") from exc


def _setting_problem(error: Any) -> str:
    name = ".".join(str(part) for part in error.get("loc", ()))
    message = error.get("msg", "").removeprefix("Value error, ")
    if not name:
        return message
    return f"SHARPNOTES_{name.upper()}={error.get('input')!r}: {message}"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


class _Bars:
    """tqdm bars on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            unit = "file" if stage == "files" else "chunk"
            bar = self.bars[stage] = tqdm(
                total=total or None, desc=stage, unit=unit, file=sys.stderr, leave=False
            )
        if total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sharpnotes")
def cli() -> None:
    """sharpnotes: a private study assistant over your own notes.

    The index and all state live in SHARPNOTES_HOME (see `sharpnotes status`)."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rebuild", is_flag=True, help="Delete the index and build it again from these paths."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for another ingest of the same index to finish before giving up.",
)
def ingest(paths: tuple[Path, ...], rebuild: bool, as_json: bool, wait: float) -> None:
    """Index Markdown, text and PDF notes under PATHS (incremental)."""
    from app.quiz.staleness import sync_after_ingest
    from ingest.catalog import IndexFormatError
    from ingest.embedding import EmbeddingModelError
    from ingest.sync import IngestError
    from ingest.sync import ingest as run_ingest
    from ingest.vectors import VectorStoreError

    settings = _settings()
    bars = _Bars()
    try:
        report = run_ingest(list(paths), settings, progress=bars, rebuild=rebuild, wait=wait)
    except (IngestError, IndexFormatError, VectorStoreError, EmbeddingModelError) as exc:
        raise UserError(str(exc)) from exc
    finally:
        bars.close()
    for source, reason in report.failed:
        click.echo(f"skipped {source}: {reason}", err=True)
    if quiz_line := sync_after_ingest(settings):  # flag quiz items whose passage changed
        click.echo(quiz_line, err=True)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if not report.ok:
        sys.exit(EXIT_SKIPPED)


def _open_searcher(settings: Settings, mode: str = "hybrid"):  # type: ignore[no-untyped-def]
    from app.retrieval import EmptyIndexError, Searcher
    from ingest.catalog import IndexFormatError
    from ingest.embedding import EmbeddingModelError
    from ingest.vectors import VectorStoreError

    try:
        searcher = Searcher(settings)
        searcher.require_spaces([mode] if mode in ("e5", "second") else [])
        return searcher
    except (EmptyIndexError, IndexFormatError, EmbeddingModelError, VectorStoreError) as exc:
        raise UserError(str(exc)) from exc


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


@cli.command()
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
    type=click.Choice(["hybrid", "bm25", "dense", "e5", "second"]),
    default="hybrid",
    show_default=True,
    help="dense: MiniLM alone; e5: the multilingual retriever alone; second: the second "
    "model alone (e5 and second need their vectors).",
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
    from app.retrieval import Filters

    if not query and not batch:
        raise UserError("give a QUERY or --batch FILE")
    searcher = _open_searcher(_settings(), mode)
    filters = Filters(folder=folder, tag=tag, ext=ext)
    if batch:
        for qid, text in _read_batch(batch):
            results = searcher.search(text, k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
            row = {"id": qid, "query": text, "results": [r.to_dict() for r in results]}
            click.echo(json.dumps(row, ensure_ascii=False) if as_json else _format_batch_row(row))
        return
    results = searcher.search(query or "", k=k, filters=filters, mode=mode)  # type: ignore[arg-type]
    if as_json:
        _echo_json([r.to_dict() for r in results])
        return
    if not results:
        click.echo("no matching passages")
    for r in results:
        page = f" p.{r.page}" if r.page else ""
        click.secho(f"{r.rank:>2}. {r.source}{page}  [{r.heading}]  score {r.score:.3f}", bold=True)
        snippet = " ".join(r.text.split())
        click.echo(f"    {snippet[:300]}{'...' if len(snippet) > 300 else ''}")


def _format_batch_row(row: dict) -> str:
    top = row["results"][0] if row["results"] else None
    where = f"{top['source']} [{top['heading']}]" if top else "(nothing)"
    return f"{row['id']}\t{row['query'][:60]}\t-> {where}"


@cli.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """What the index holds: notes roots, files, chunks, model, last sync."""
    from ingest.catalog import IndexFormatError
    from ingest.index import open_catalog

    settings = _settings()
    info: dict[str, Any] = {"home": str(settings.home), "index": str(settings.index_dir)}
    if not (settings.index_dir / "catalog.sqlite").exists():
        info.update(files=0, chunks=0, roots=[], model=None, last_sync=None)
    else:
        try:
            catalog = open_catalog(settings)
        except IndexFormatError as exc:
            raise UserError(str(exc)) from exc
        files, chunks = catalog.counts()
        meta = catalog.manifest()
        last = float(meta["last_sync"]) if "last_sync" in meta else None
        info.update(
            roots=catalog.roots(),
            files=files,
            chunks=chunks,
            model=meta.get("embed_model"),
            embed_backend=meta.get("embed_backend") or None,
            chunk_tokens=int(meta["chunk_tokens"]) if "chunk_tokens" in meta else None,
            schema_version=catalog.schema_version,
            last_sync=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(last)) if last else None,
            vector_store=f"{settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else "local",
        )
        catalog.close()
    if as_json:
        _echo_json(info)
        return
    if not info["files"]:
        click.echo(
            f"index home: {info['home']}\nnothing indexed yet; run: sharpnotes ingest PATH-TO-NOTES"
        )
        return
    for key in (
        "home",
        "roots",
        "files",
        "chunks",
        "model",
        "embed_backend",
        "vector_store",
        "last_sync",
    ):
        value = ", ".join(info[key]) if isinstance(info[key], list) else info[key]
        click.echo(f"{key:>14}: {value}")


def streamlit_command(settings: Settings) -> list[str]:
    """The command line that serves the app, bound to SHARPNOTES_APP_HOST (127.0.0.1)."""
    main_script = Path(__file__).resolve().parent / "ui" / "main.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(main_script),
        "--server.address",
        settings.app_host,
        "--server.port",
        str(settings.app_port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]


def exposure_warning(host: str, port: int) -> str | None:
    """What serving on ``host`` exposes, unless it is a loopback address."""
    import ipaddress

    try:
        if host == "localhost" or ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:  # a host name: it may resolve to a public address
        pass
    return (
        f"warning: SHARPNOTES_APP_HOST={host} serves the app to the network: anyone who can reach "
        f"port {port} can read and search your notes, ask questions, upload files and index any "
        "folder this user can read; there is no login. Unset it to serve on 127.0.0.1 only."
    )


@cli.command("app")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default SHARPNOTES_APP_PORT).")
@click.option(
    "--notes",
    type=click.Path(file_okay=False, path_type=Path),
    help="The notes folder the app ingests and uploads into (SHARPNOTES_NOTES_DIR).",
)
def app_command(port: int | None, notes: Path | None) -> None:
    """Start the Streamlit app (Chat, Library, Settings) and print its URL."""
    import os
    import signal
    import subprocess

    settings = _settings(app_port=port, notes_dir=notes)
    env = dict(os.environ)  # the child reads its settings from the environment, like we do
    if settings.notes_dir:
        env["SHARPNOTES_NOTES_DIR"] = str(settings.notes_dir.expanduser().resolve())
    command = streamlit_command(settings)
    if warning := exposure_warning(settings.app_host, settings.app_port):
        click.secho(warning, fg="yellow", err=True)
    click.echo(f"sharpnotes app: http://{settings.app_host}:{settings.app_port}")
    sys.stdout.flush()
    proc = subprocess.Popen(command, env=env)
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())  # stopping us stops the app
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached streamlit too; let it shut down
        proc.wait()
        code = 0
    if code:
        raise UserError(f"the app stopped with exit status {code}")


@cli.command()
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
    from app.answer import answer_question
    from app.generators import GeneratorError
    from app.retrieval import Filters
    from ingest.formats import StoredFormatError

    if not question.strip():
        raise UserError("the question is empty")
    settings = _settings(generator=generator)
    searcher = _open_searcher(settings)
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
    if as_json:
        _echo_json(result.to_dict())
    else:
        _print_answer(result)


def _stream_tokens(token: str) -> None:
    click.echo(token, nl=False)
    sys.stdout.flush()


def _print_answer(result: Any) -> None:
    """After the streamed answer: flagged sentences, the sources, or the closest notes."""
    click.echo()
    if result.refused:
        if result.closest:
            click.secho("\nclosest notes:", bold=True)
            for r in result.closest:
                snippet = " ".join(r.text.split())
                page = f" p.{r.page}" if r.page else ""
                click.echo(f"  - {r.source}{page}  [{r.heading}]\n    {snippet[:200]}")
        return
    for check in result.sentences:
        if not check.supported:
            click.secho(f"unsupported: {check.text}", fg="yellow", err=True)
    click.secho("\nsources:", bold=True)
    for c in result.citations:
        page = f" p.{c.page}" if c.page else ""
        click.echo(f"  [{c.n}] {c.source}{page}  [{c.heading}]")
    timing = f"retrieval {result.retrieval_ms:.0f} ms, generation {result.generation_ms:.0f} ms"
    click.secho(f"({result.generator}; {timing})", dim=True, err=True)


from app.cli_quiz import coverage_command, export, quiz, review  # noqa: E402 - uses the names above

for _command in (quiz, review, coverage_command, export):
    cli.add_command(_command)

from app.cli_eval import eval_group  # noqa: E402

cli.add_command(eval_group)


def main() -> None:
    cli(prog_name="sharpnotes")


if __name__ == "__main__":
    main()
