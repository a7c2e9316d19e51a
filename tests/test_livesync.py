"""Live sync (app/livesync.py) with the real watcher (watchfiles) and the real incremental
ingest: a burst of file events costs one sync, an ingest lock held by another process is waited
for, and ``sharpnotes watch`` prints what changed."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, write_notes
from sharpnotes.app.livesync import LiveSync, SyncEvent, is_note_event, sync_folder
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest


def test_summary_says_what_changed() -> None:
    event = SyncEvent(at=0, changes=3, added=["c.md"], updated=["a.md", "b.md"], stale_items=3)
    assert event.summary() == "2 notes updated, 1 new; 3 quiz items stale"
    assert SyncEvent(at=0, changes=1, removed=["x.md"]).summary() == "1 removed"
    assert SyncEvent(at=0, changes=1, error="boom; run: x").summary() == "sync failed: boom; run: x"


def test_only_note_files_and_deletions_are_events(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "a.png").write_text("x")
    assert is_note_event(str(tmp_path / "a.md"))
    assert not is_note_event(str(tmp_path / "a.png"))
    assert not is_note_event(str(tmp_path / ".obsidian" / "workspace.md"))
    assert is_note_event(str(tmp_path / "gone-folder"))  # deleted: may have held notes


class Recorder:
    """The real sync, counted: what the watcher asked for and when it finished."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, SyncEvent]] = []
        self.done = threading.Event()

    def __call__(self, settings: Settings, folder: Path, changes: int) -> SyncEvent:
        event = sync_folder(settings, folder, changes)
        self.calls.append((changes, event))
        self.done.set()
        return event


def _watch(settings: Settings, notes: Path, recorder: Recorder) -> LiveSync:
    watcher = LiveSync(settings, notes, settle_ms=700, sync=recorder).start()
    assert watcher.ready.wait(20), "the watcher did not start"
    return watcher


@pytest.mark.slow
def test_a_burst_of_500_events_costs_one_sync(tmp_path: Path, settings: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    recorder = Recorder()
    watcher = _watch(settings, notes, recorder)
    try:
        burst = notes / "burst"
        burst.mkdir()
        for round_ in range(5):  # 100 notes written 5 times: 500 writes in well under a second
            for i in range(100):
                (burst / f"n{i:03}.md").write_text(f"# Note {i}\nRevision {round_} of note {i}.\n")
        (notes / "fundamentals" / "bias-variance.md").write_text("# Bias\nHigh bias underfits.\n")
        assert recorder.done.wait(240), "no sync after the burst"
        time.sleep(3)  # nothing more comes: the burst was one group
    finally:
        watcher.stop()
    assert len(recorder.calls) == 1, [c for c, _ in recorder.calls]
    changes, event = recorder.calls[0]
    assert changes >= 101  # watchfiles folds repeated writes of one file into one change
    assert len(event.added) == 100 and event.updated == ["fundamentals/bias-variance.md"]
    assert event.summary().startswith("1 note updated, 100 new")
    assert watcher.syncs == 1 and list(watcher.events) == [event]


@pytest.mark.slow
def test_an_ingest_lock_held_elsewhere_is_waited_for(tmp_path: Path, settings: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from filelock import FileLock; "
            "lock = FileLock(sys.argv[1]); lock.acquire(); print('held', flush=True); "
            "time.sleep(8); lock.release(); print(time.time(), flush=True)",
            str(settings.index_dir / "ingest.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    recorder = Recorder()
    watcher = _watch(settings, notes, recorder)
    try:
        assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
        (notes / "inbox" / "new.md").write_text("# New\nA note written while locked.\n")
        assert recorder.done.wait(120)
        released = float(holder.stdout.readline())  # type: ignore[union-attr]
        assert holder.wait(30) == 0
    finally:
        watcher.stop()
    [(_, event)] = recorder.calls
    assert event.error is None and event.added == ["inbox/new.md"]
    assert event.started < released < event.at  # it started under the lock and waited for it


@pytest.mark.slow
def test_watch_command_syncs_then_reports_each_change(tmp_path: Path, settings: Settings) -> None:
    import os

    notes = write_notes(tmp_path / "notes")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sharpnotes.app.cli", "watch", str(notes), "--settle", "0.3"],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if line.startswith("watching"):
                break
        assert any("5 new" in line for line in lines), lines
        (notes / "detection" / "detr.md").write_text("# DETR\nSet prediction, edited.\n")
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            lines.append(line)
            if "updated" in line:
                break
        assert "1 note updated" in lines[-1], lines
    finally:
        proc.terminate()
        proc.wait(30)
