"""The ``sharpnotes`` command line: one module per command group, the shared pieces in
``_common``. Heavy libraries are imported inside the commands that use them, so ``--help`` and a
search start fast."""

from __future__ import annotations

import click

from sharpnotes.app.cli import (
    cards,  # noqa: F401 - adds the card commands to `quiz`
    index,
    mock,
    quiz,
    search,
    serve,
    study,
    watch,
)
from sharpnotes.app.cli import eval as eval_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sharpnotes")
def cli() -> None:
    """sharpnotes: a private study assistant over your own notes.

    The index and all state live in SHARPNOTES_HOME (see `sharpnotes status`)."""


for _command in (
    index.ingest,
    search.search,
    search.ask,
    index.status,
    serve.app_command,
    quiz.quiz,
    quiz.review,
    quiz.coverage_command,
    quiz.export,
    watch.watch,
    eval_commands.eval_group,
    study.today,
    study.topics,
    study.digest,
    mock.mock,
):
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="sharpnotes")
