"""What every command shares: settings with readable errors, the user-facing error type, JSON
output, progress bars on a terminal, and opening the index for a query."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from sharpnotes.ingest.settings import ConfigFileError, Settings, get_settings, setting_problem

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Filters, Searcher
    from sharpnotes.ingest.catalog import Catalog

EXIT_SKIPPED = 3  # ingest finished, but some files could not be read
# what a terminal acts on rather than shows: C0 and C1 controls (escape sequences start with ESC
# or CSI), DEL, and the bidirectional overrides that make text read in another order
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_IN_TEXT = re.compile(r"(?![\n\t])" + _CONTROL.pattern)


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


def plain(value: object) -> str:
    """A value from the notes (a file name, a heading, a reason naming a file) for one line of
    terminal output: every control character is shown as an escape (``\\n``, ``\\x1b``), so a
    name cannot start a new line or send the terminal an escape sequence."""
    return _CONTROL.sub(_escape, str(value))


def shortened(text: str, width: int = 160) -> str:
    """Note text for one line of terminal output: its Markdown markers out, its lines joined,
    cut at a word boundary with "…" past ``width`` characters, then ``plain``."""
    from sharpnotes.app.quiz.offline import plain as unmarked

    text = unmarked(text)
    if len(text) > width:
        text = text[:width].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return plain(text)


def one_line(text: str) -> str:
    """Note text of several lines (an MCQ's question over its clues) on one line of terminal
    output: its lines joined, then ``plain``."""
    return plain(" ".join(part.strip() for part in text.splitlines() if part.strip()))


def plain_text(value: object) -> str:
    """Like ``plain`` for multi-line text (a passage, an answer): line breaks and tabs stay, and
    the HTML of GitHub notes reads as text (``ingest.text.html_as_text``: math images as their
    formula, ``<br>`` as a line break)."""
    from sharpnotes.ingest.text import html_as_text

    return _CONTROL_IN_TEXT.sub(_escape, html_as_text(str(value)))


def _escape(match: re.Match[str]) -> str:
    return match.group(0).encode("unicode_escape").decode("ascii")


def daily_limit_options(command: Any) -> Any:
    """``--new`` and ``--reviews``: today's limits for one command, instead of the study
    settings (what was done today still counts)."""
    command = click.option(
        "--reviews",
        "reviews_per_day",
        type=click.IntRange(0),
        help="Reviews allowed today, for this session (default: SHARPNOTES_REVIEWS_PER_DAY).",
    )(command)
    return click.option(
        "--new",
        "new_per_day",
        type=click.IntRange(0),
        help="New cards allowed today, for this session (default: SHARPNOTES_NEW_PER_DAY).",
    )(command)


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


def check_filters(catalog: Catalog, filters: Filters) -> None:
    """A --folder, --tag or --ext that no indexed note matches stops the command, saying so."""
    from sharpnotes.app.retrieval import unmatched_filters

    problem = unmatched_filters(catalog, filters)
    if problem:
        raise UserError(problem)
