"""The warm query process: a second ``search`` or ``ask`` is answered by the process the first
one started, with the same output as the cold path; other settings are declined; the socket is
the user's only; the process leaves when idle."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_cli
from sharpnotes.app import warm
from sharpnotes.ingest.settings import Settings

pytestmark = pytest.mark.slow

QUESTION = "Why does DETR not need non-maximum suppression?"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env, timeout=300, check=True)


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_second_query_is_answered_warm_with_the_cold_output(
    sample_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, notes = sample_index
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    monkeypatch.setenv("SHARPNOTES_WARM_MINUTES", "0.1")  # leaves after 6 idle seconds
    env = dict(os.environ)
    settings = Settings()
    path = warm.socket_path(settings)
    assert warm.request(settings, "search", {}) is None  # nothing running yet

    cold_search = cli("search", QUESTION, "--json", env=env).stdout
    assert warm_processes(home)
    assert wait_for(path.exists, 120), "the first search did not start the warm process"
    cold_ask = cli("ask", QUESTION, "--json", env=env).stdout

    asked = {"query": QUESTION, "k": 10, "folder": None, "tag": None, "ext": None}
    reply = warm.request(settings, "search", asked | {"mode": "hybrid"})
    assert reply is not None and reply["results"] == json.loads(cold_search)
    assert json.loads(cli("search", QUESTION, "--json", env=env).stdout) == json.loads(cold_search)
    warm_ask = json.loads(cli("ask", QUESTION, "--json", env=env).stdout)
    cold = json.loads(cold_ask)
    for timing in ("retrieval_ms", "generation_ms"):
        warm_ask.pop(timing), cold.pop(timing)
    assert warm_ask == cold and not cold["refused"]

    # the user's only: a 0700 folder, a 0600 socket
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # other settings are not answered from this process's
    other = settings.replace(answer_k=settings.answers.answer_k + 1)
    assert warm.request(other, "ask", {"question": QUESTION}) is None
    # idle: it leaves and takes its socket with it
    assert wait_for(lambda: not path.exists(), 60)
    assert wait_for(lambda: not warm_processes(home), 10)
    assert warm.request(settings, "search", asked | {"mode": "hybrid"}) is None


def test_switched_off_nothing_is_started(
    sample_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, notes = sample_index
    monkeypatch.setenv("SHARPNOTES_HOME", str(home))
    monkeypatch.setenv("SHARPNOTES_NOTES_DIR", str(notes))
    cli("search", QUESTION, "--json", env=dict(os.environ))  # SHARPNOTES_WARM_MINUTES=0 here
    assert not wait_for(lambda: warm_processes(home), 3)
    assert not warm.socket_path(Settings()).exists()


def warm_processes(home: Path) -> list[int]:
    """The warm processes serving this home (read from /proc: command line and environment)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"sharpnotes.app.warm" in command and f"SHARPNOTES_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found
