"""``sharpnotes ingest`` and ``status``: build the index and say what it holds."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from sharpnotes.app.cli._common import (
    EXIT_SKIPPED,
    Bars,
    UserError,
    echo_json,
    load_settings,
    plain,
)
from sharpnotes.ingest.settings import Settings


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rebuild", is_flag=True, help="Delete the index and build it again from these paths."
)
@click.option(
    "--check",
    is_flag=True,
    help="Compare the vector store with the catalog and repair it even when the last ingest "
    "ended cleanly (after restoring a backup of the index, or copying part of it).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for another ingest of the same index to finish before giving up.",
)
def ingest(paths: tuple[Path, ...], rebuild: bool, check: bool, as_json: bool, wait: float) -> None:
    """Index Markdown, text and PDF notes under PATHS (incremental)."""
    from sharpnotes.app.quiz.staleness import sync_after_ingest
    from sharpnotes.ingest.catalog import IndexFormatError
    from sharpnotes.ingest.embedders import EmbeddingModelError
    from sharpnotes.ingest.sync import IngestError
    from sharpnotes.ingest.sync import ingest as run_ingest
    from sharpnotes.ingest.vectors import VectorStoreError

    settings = load_settings()
    bars = Bars()
    try:
        report = run_ingest(
            list(paths), settings, progress=bars, rebuild=rebuild, wait=wait, check=check
        )
    except (IngestError, IndexFormatError, VectorStoreError, EmbeddingModelError) as exc:
        raise UserError(str(exc)) from exc
    finally:
        bars.close()
    for old, new in report.moved:
        click.echo(f"notes folder moved: {plain(old)} -> {plain(new)}; the index follows", err=True)
    for folder, held in report.vanished:
        click.echo(
            f"notes folder {plain(folder)} is gone: its {held} notes left the index; if it "
            f"comes back, run: sharpnotes ingest {plain(folder)}",
            err=True,
        )
    for source, target in report.outside:
        click.echo(
            f"skipped {plain(source)}: a link to {plain(target)}, outside the notes folder; "
            "move or copy it into the folder to index it",
            err=True,
        )
    for source, reason in report.failed:
        click.echo(f"skipped {plain(source)}: {plain(reason)}", err=True)
    if quiz_line := sync_after_ingest(settings):  # flag quiz items whose passage changed
        click.echo(quiz_line, err=True)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report.summary())
    if not report.ok:
        sys.exit(EXIT_SKIPPED)


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """What the index holds (notes roots, files, chunks, model, last sync) and which embedding
    backend this machine uses for ingest, and why."""
    from sharpnotes.ingest import multilingual
    from sharpnotes.ingest.bm25 import read_pointer
    from sharpnotes.ingest.catalog import IndexFormatError
    from sharpnotes.ingest.index import open_catalog

    settings = load_settings()
    info: dict[str, Any] = {"home": str(settings.paths.home), "index": str(settings.index_dir)}
    info["backend_choice"] = _backend_choice(settings)
    if not (settings.index_dir / "catalog.sqlite").exists():
        info.update(files=0, chunks=0, roots=[], missing_roots=[], model=None, last_sync=None)
    else:
        try:
            catalog = open_catalog(settings)
        except IndexFormatError as exc:  # also a home that cannot be opened (read-only, full)
            raise UserError(str(exc)) from exc
        files, chunks = catalog.counts()
        meta = catalog.manifest()
        last = float(meta["last_sync"]) if "last_sync" in meta else None
        info.update(
            roots=catalog.roots(),
            missing_roots=[r for r in catalog.roots() if not Path(r).is_dir()],
            files=files,
            chunks=chunks,
            model=meta.get("embed_model"),
            embed_backend=meta.get("embed_backend") or None,
            chunk_tokens=int(meta["chunk_tokens"]) if "chunk_tokens" in meta else None,
            schema_version=catalog.schema_version,
            last_sync=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(last)) if last else None,
            vector_store=f"{settings.chroma.chroma_host}:{settings.chroma.chroma_port}"
            if settings.chroma.chroma_host
            else "local",
            multilingual=multilingual.describe(settings, read_pointer(settings.index_dir)),
        )
        catalog.close()
    if as_json:
        echo_json(info)
        return
    choice = info["backend_choice"]
    chosen = f"{choice['backend'] or 'auto'} ({choice['why']})"
    if not info["files"]:
        click.echo(
            f"index home: {info['home']}\nnothing indexed yet; run: sharpnotes ingest PATH-TO-NOTES"
        )
        click.echo(f"ingest backend: {chosen}")
        return
    for root in info["missing_roots"]:
        click.echo(
            f"notes folder {plain(root)} is missing: if it moved, run: sharpnotes ingest "
            "NEW-FOLDER (the index follows the notes)",
            err=True,
        )
    for key in (
        "home",
        "roots",
        "files",
        "chunks",
        "model",
        "embed_backend",
        "vector_store",
        "multilingual",
        "last_sync",
    ):
        value = ", ".join(info[key]) if isinstance(info[key], list) else info[key]
        click.echo(f"{key:>14}: {plain(value)}")
    click.echo(f"{'backend choice':>14}: {chosen}")


def _backend_choice(settings: Settings) -> dict[str, Any]:
    """The backend the next ingest on this machine uses, and why (no model is loaded)."""
    from sharpnotes.ingest.embedders import EmbeddingModelError
    from sharpnotes.ingest.embedding import backend_choice

    if settings.models.embed_backend != "auto":
        return {"backend": settings.models.embed_backend, "why": "set by SHARPNOTES_EMBED_BACKEND"}
    try:
        choice = backend_choice(settings)
    except EmbeddingModelError as exc:
        return {"backend": None, "why": str(exc)}
    if choice is None:
        return {
            "backend": None,
            "why": "auto: not measured on this machine yet; the next ingest times the backends "
            "(about 10 s, once per machine)",
        }
    measured = ", ".join(
        f"{key} {choice[key]}"
        for key in ("when", "cpu", "threads", "calibration_s")
        if key in choice
    )
    return choice | {"why": f"auto, measured ({measured}): {choice.get('why', 'fastest')}"}
