"""``sharpnotes watch``: keep the index in step with a notes folder while it changes."""

from __future__ import annotations

import time
from pathlib import Path

import click

from sharpnotes.app.cli._common import UserError, echo_json, load_settings


@click.command()
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--settle",
    type=click.FloatRange(0.05, 60),
    default=0.7,
    show_default=True,
    help="Seconds without a new change that end a burst (one sync per burst).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per sync.")
def watch(path: Path, settle: float, as_json: bool) -> None:
    """Sync PATH now, then again after every burst of changes, until Ctrl-C.

    Only changed files are read and embedded; quiz items whose passage changed are flagged.
    Another ingest of the same index is waited for."""
    from sharpnotes.app.livesync import LOCK_WAIT_S, LiveSync, SyncEvent, sync_folder

    settings = load_settings()
    folder = path.expanduser()
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder; give the notes folder to watch")
    folder = folder.resolve()

    def show(event: SyncEvent) -> None:
        if as_json:
            echo_json(event.to_dict())
            return
        stamp = click.style(_clock(event.at), dim=True)
        line = event.summary()
        click.echo(f"{stamp} {line}", err=bool(event.error))
        for source, reason in event.failed:
            click.echo(f"  skipped {source}: {reason}", err=True)

    first = sync_folder(settings, folder)
    show(first)
    if first.error:
        raise UserError(first.error)
    watcher = LiveSync(settings, folder, on_event=show, settle_ms=int(settle * 1000)).start()
    watcher.ready.wait(30)
    if not as_json:
        click.echo(f"watching {folder} (Ctrl-C to stop)", err=True)
    try:
        while watcher.running:
            time.sleep(0.5)
    except KeyboardInterrupt:  # Ctrl-C: stop quietly, after a sync that is running
        watcher.stop(timeout=LOCK_WAIT_S)


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))
