"""``sharpnotes app``: serve the Streamlit app on this machine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sharpnotes.app.cli._common import UserError, load_settings
from sharpnotes.ingest.settings import Settings


def streamlit_command(settings: Settings) -> list[str]:
    """The command line that serves the app, bound to SHARPNOTES_APP_HOST (127.0.0.1). The
    script is ``ui/asgi.py``: the pages behind a Host check of every request and a policy that
    keeps the browser from fetching images from other hosts (``ui/security.py``); the websocket's
    own Host check (``server.allowedHosts``) is set to the same names."""
    from sharpnotes.app.ui.security import allowed_hosts

    server_script = Path(__file__).resolve().parents[1] / "ui" / "asgi.py"
    return [
        sys.executable,
        "-m",
        "sharpnotes.app.ui.launch",  # streamlit run, loading the index as the server starts
        str(server_script),
        "--server.address",
        settings.app.app_host,
        "--server.port",
        str(settings.app.app_port),
        *[arg for host in allowed_hosts(settings) for arg in ("--server.allowedHosts", host)],
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


@click.command("app")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default SHARPNOTES_APP_PORT).")
@click.option(
    "--notes",
    type=click.Path(file_okay=False, path_type=Path),
    help="The notes folder the app ingests and uploads into (SHARPNOTES_NOTES_DIR).",
)
def app_command(port: int | None, notes: Path | None) -> None:
    """Start the app (chat, quizzes and review, topics, today, mock interviews...) and print
    its URL."""
    import os
    import signal
    import subprocess

    settings = load_settings(app_port=port, notes_dir=notes)
    env = dict(os.environ)  # the child reads its settings from the environment, like we do
    if settings.paths.notes_dir:
        env["SHARPNOTES_NOTES_DIR"] = str(settings.paths.notes_dir.expanduser().resolve())
    command = streamlit_command(settings)
    if warning := exposure_warning(settings.app.app_host, settings.app.app_port):
        click.secho(warning, fg="yellow", err=True)
    click.echo(f"sharpnotes app: http://{settings.app.app_host}:{settings.app.app_port}")
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
