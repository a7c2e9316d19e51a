"""What every command shares: settings with readable errors, the user-facing error type, JSON
output, progress bars on a terminal, and opening the index for a query."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from sharpnotes.ingest.settings import ConfigFileError, Settings, get_settings, setting_problem

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher

EXIT_SKIPPED = 3  # ingest finished, but some files could not be read


class UserError(click.ClickException):
    """A one-line error the user can act on; exits with status 1."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and config file, with CLI flags on top; a bad value ends
    the command with one line naming the variable and its valid range."""
    try:
        return get_settings(**overrides)
    except ConfigFileError as exc:
        raise UserError(str(exc)) from exc
    except ValidationError as exc:
        raise UserError("bad setting: " + "; ".join(map(setting_problem, exc.errors()))) from exc


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


def open_searcher(settings: Settings) -> Searcher:
    """The Searcher over the index, or a one-line error saying what to run."""
    from sharpnotes.app.retrieval import EmptyIndexError, Searcher
    from sharpnotes.ingest.catalog import IndexFormatError
    from sharpnotes.ingest.embedders import EmbeddingModelError
    from sharpnotes.ingest.vectors import VectorStoreError

    try:
        return Searcher(settings)
    except (EmptyIndexError, IndexFormatError, EmbeddingModelError, VectorStoreError) as exc:
        raise UserError(str(exc)) from exc


class Bars:
    """tqdm bars on stderr, only when stderr is a terminal."""

    def __init__(self, unit: str | None = None) -> None:
        self.enabled = sys.stderr.isatty()
        self.unit = unit  # None: files for the "files" stage, chunks for the others
        self.bars: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            unit = self.unit or ("file" if stage == "files" else "chunk")
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
