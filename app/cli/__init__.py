"""The ``sharpnotes`` command line: one module per command group, the shared pieces in
``_common``. A command's module is imported only when that command runs (or ``--help`` lists
it), and heavy libraries only inside the commands that use them, so every command starts fast."""

from __future__ import annotations

import importlib

import click

# command name -> (its module under sharpnotes.app.cli, the click object's name there)
COMMANDS = {
    "ingest": ("index", "ingest"),
    "search": ("search", "search"),
    "ask": ("search", "ask"),
    "status": ("index", "status"),
    "app": ("serve", "app_command"),
    "quiz": ("cards", "quiz"),  # cards adds the card commands to `quiz`
    "review": ("quiz", "review"),
    "coverage": ("quiz", "coverage_command"),
    "export": ("quiz", "export"),
    "watch": ("watch", "watch"),
    "eval": ("eval", "eval_group"),
    "today": ("study", "today"),
    "topics": ("study", "topics"),
    "digest": ("study", "digest"),
    "mock": ("mock", "mock"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        if not isinstance(command, click.Command) or command.name != cmd_name:
            raise RuntimeError(f"{module}.{attr} is not the {cmd_name!r} command")
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sharpnotes")
def cli() -> None:
    """sharpnotes: a private study assistant over your own notes.

    The index and all state live in SHARPNOTES_HOME (see `sharpnotes status`)."""


def main() -> None:
    cli(prog_name="sharpnotes")
