"""Live sync: watch a notes folder and bring the index in line with it as files change.

watchfiles (Rust ``notify``) delivers the file system's events already grouped: it yields once no
new event has come for ``settle_ms`` (at most every ``max_wait_ms``), so a burst of 500 writes
(a ``git pull``, an editor saving a vault) costs one sync. A sync is the ordinary incremental
``ingest`` of the folder (only changed files are read and embedded), then the quiz items whose
passage changed are flagged. One writer at a time: when another process holds the ingest lock,
the sync waits for it (``lock_wait_s``) instead of failing. The app runs one watcher per notes
folder in a background thread; ``sharpnotes watch PATH`` runs the same loop in the foreground.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from watchfiles import Change

    from sharpnotes.ingest.sync import IngestReport

log = logging.getLogger(__name__)

SETTLE_MS = 700  # quiet time that ends a burst of events
MAX_WAIT_MS = 30_000  # a burst that never settles is still synced this often
LOCK_WAIT_S = 1800.0  # another ingest (a rebuild of a large folder) may take this long
NOTE_SUFFIXES = (".md", ".markdown", ".mdown", ".txt", ".text", ".pdf")  # ingest.readers' types


@dataclass
class SyncEvent:
    """One sync after a burst of changes: what the index and the quiz items got."""

    at: float  # when the sync finished
    changes: int  # file events in the burst
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    stale_items: int = 0
    retired_items: int = 0
    error: str | None = None
    seconds: float = 0.0
    started: float = 0.0

    def summary(self) -> str:
        """ "2 notes updated, 1 new; 3 quiz items stale", or the error."""
        if self.error:
            return f"sync failed: {self.error}"
        notes = [
            f"{len(names)} {label}"
            for names, label in (
                (self.updated, "notes updated" if len(self.updated) != 1 else "note updated"),
                (self.added, "new"),
                (self.removed, "removed"),
                (self.failed, "could not be read"),
            )
            if names
        ]
        quiz = [
            f"{n} quiz item{'s' if n != 1 else ''} {what}"
            for n, what in ((self.stale_items, "stale"), (self.retired_items, "retired"))
            if n
        ]
        text = ", ".join(notes) or "no note changed"
        return text + ("; " + ", ".join(quiz) if quiz else "")

    def to_dict(self) -> dict:
        return {
            "at": round(self.at, 3),
            "changes": self.changes,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "failed": [{"source": s, "reason": r} for s, r in self.failed],
            "stale_items": self.stale_items,
            "retired_items": self.retired_items,
            "error": self.error,
            "seconds": round(self.seconds, 2),
            "summary": self.summary(),
        }


def is_note_event(path: str) -> bool:
    """Events worth a sync: note files, and anything deleted (a folder of notes); hidden files
    and folders are skipped, as ingest skips them."""
    parts = Path(path).parts
    if any(p.startswith(".") for p in parts[-3:]):
        return False
    return path.lower().endswith(NOTE_SUFFIXES) or not Path(path).exists()


def sync_folder(settings: Settings, folder: Path, changes: int = 0) -> SyncEvent:
    """One incremental ingest of ``folder`` (waiting for another ingest to finish), then the quiz
    items flagged; errors are reported in the event, never raised."""
    from sharpnotes.app.quiz.staleness import sync_items
    from sharpnotes.app.quiz.store import ReviewStoreError
    from sharpnotes.ingest.sync import ingest

    started = time.perf_counter()
    event = SyncEvent(at=time.time(), changes=changes, started=time.time())
    try:
        report: IngestReport = ingest([folder], settings, wait=LOCK_WAIT_S)
    except Exception as exc:  # IngestError and index errors carry the next step in the message
        event.error = str(exc)
        return event
    event.added, event.updated, event.removed = report.added, report.updated, report.removed
    event.failed = report.failed
    try:
        quiz = sync_items(settings)
        event.stale_items, event.retired_items = len(quiz.stale), len(quiz.retired)
    except ReviewStoreError as exc:
        event.error = str(exc)
    event.at = time.time()
    event.seconds = time.perf_counter() - started
    return event


class LiveSync:
    """Watches ``folder`` in a background thread and syncs after each burst of changes; the
    last events are kept for the app to show."""

    def __init__(
        self,
        settings: Settings,
        folder: Path,
        on_event: Callable[[SyncEvent], None] | None = None,
        settle_ms: int = SETTLE_MS,
        sync: Callable[[Settings, Path, int], SyncEvent] = sync_folder,
    ) -> None:
        self.settings = settings
        self.folder = folder
        self.on_event = on_event
        self.settle_ms = settle_ms
        self._sync = sync
        self.events: deque[SyncEvent] = deque(maxlen=50)
        self.syncs = 0
        self.busy = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()  # set once the watcher is listening

    def start(self) -> LiveSync:
        self._thread = threading.Thread(
            target=self.run, name=f"sharpnotes-watch {self.folder}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Watch until stopped; each yielded burst is one sync."""
        for changes in self.bursts():
            self.handle(len(changes))

    def bursts(self) -> Iterator[set[tuple[Change, str]]]:
        """Groups of changes. The watcher reports an idle second as an empty group: the first
        one says it is listening (``ready``)."""
        from watchfiles import watch

        for changes in watch(
            self.folder,
            watch_filter=lambda change, path: is_note_event(path),
            debounce=MAX_WAIT_MS,
            step=self.settle_ms,
            stop_event=self._stop,
            rust_timeout=1000,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            self.ready.set()
            if changes:
                yield changes

    def handle(self, changes: int) -> SyncEvent:
        self.busy = True
        try:
            event = self._sync(self.settings, self.folder, changes)
        finally:
            self.busy = False
        self.syncs += 1
        self.events.append(event)
        log.info("live sync of %s: %s", self.folder, event.summary())
        if self.on_event:
            self.on_event(event)
        return event
