"""What the pages need from the rest of sharpnotes: cached resources and small read models.

Pages stay thin: they lay out widgets and call these (and ``app.answer``, ``ingest.sync``), the
same functions the CLI uses."""

from __future__ import annotations

import atexit
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import streamlit as st

from sharpnotes.app.notefiles import (
    NoteAccessError,
    read_note,
    resolve_note,
    safe_upload_name,
    write_new_file,
)
from sharpnotes.app.notelinks import NoteGraph, build_graph
from sharpnotes.ingest.settings import Settings, get_settings

if TYPE_CHECKING:
    from sharpnotes.app.livesync import LiveSync
    from sharpnotes.app.retrieval import Searcher

log = logging.getLogger(__name__)
UPLOAD_FOLDER = "uploads"


def settings() -> Settings:
    """Fresh each run (cheap); the environment is read by Settings only."""
    return get_settings()


@st.cache_resource(show_spinner="Loading the index and the embedding model…")
def _searcher(key: str, _settings: Settings) -> Searcher:
    from sharpnotes.app.answer import warm_up
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(_settings)
    warm_up(searcher, _settings)  # model, BM25, stores and scorer now, not on a question
    return searcher


def searcher(cfg: Settings) -> Searcher:
    """The process-wide Searcher for these settings (loaded once), or raises the index error."""
    return _searcher(_key(cfg), cfg)


def quiet_outside_pages() -> None:
    """A cached resource made outside a page run makes Streamlit warn that no page is running;
    the loads that start in the background do that on purpose."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(
        logging.ERROR
    )


def warm_up(cfg: Settings) -> None:
    """Load the Searcher in a background thread, once per process, so that the first question
    finds it loaded; does nothing when there is no index yet."""
    if not has_index(cfg) or _warming.get(_key(cfg)) is not None:
        return
    import threading

    # no script context for the thread: with one, the cached resource's spinner would be sent
    # to the page from the thread, possibly after the page's run has ended
    quiet_outside_pages()

    def load() -> None:
        try:
            # not the multilingual model: its weights load through numpy's header parser
            # (``ast``), which CPython 3.11 before 3.11.8 can fail on one thread while Streamlit
            # parses a page on another (gh-106905); the first question in Chinese loads it
            searcher(cfg)
        except Exception as exc:  # the page shows the same error when a question is asked
            log.info("warm-up failed: %s", exc)

    thread = threading.Thread(target=load, name="sharpnotes-warm-up", daemon=True)
    _warming[_key(cfg)] = thread
    thread.start()
    # a process that ends while the model or the store is still loading natively aborts
    # ("terminate called without an active exception"): let the load finish first
    atexit.register(thread.join, EXIT_WAIT_S)


_warming: dict[str, object] = {}
EXIT_WAIT_S = 60.0  # at most this long at exit for a load still running


def _key(cfg: Settings) -> str:
    return cfg.model_dump_json()


@st.cache_resource(show_spinner=False)
def _live_sync(folder: str, key: str, _cfg: Settings) -> LiveSync:
    from sharpnotes.app.livesync import LiveSync

    watcher = LiveSync(_cfg, Path(folder)).start()
    watcher.ready.wait(10)
    return watcher


def live_sync(cfg: Settings) -> LiveSync | None:
    """The watcher of the notes folder (one per process and folder), started on first use; None
    when no notes folder is known or ``SHARPNOTES_LIVE_SYNC`` is off."""
    if not cfg.app.live_sync:
        return None
    folder = notes_folder(cfg)
    if folder is None or not folder.is_dir():
        return None
    return _live_sync(str(folder), _key(cfg), cfg)


def reload_index() -> None:
    """Drop the cached Searcher so the next question sees a fresh ingest."""
    _searcher.clear()


def has_index(cfg: Settings) -> bool:
    return (cfg.index_dir / "catalog.sqlite").exists()


@dataclass
class NoteRow:
    folder: str
    note: str
    source: str
    chunks: int
    indexed: str


def library(cfg: Settings) -> list[NoteRow]:
    """Indexed notes, sorted by folder then name."""
    if not has_index(cfg):
        return []
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(cfg)
    try:
        files = catalog.files()
    finally:
        catalog.close()
    rows = []
    for source, rec in files.items():
        path = PurePosixPath(source)
        rows.append(
            NoteRow(
                folder=str(path.parent) if str(path.parent) != "." else "(top level)",
                note=path.name,
                source=source,
                chunks=rec.chunks,
                indexed=time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.indexed_at)),
            )
        )
    return sorted(rows, key=lambda r: (r.folder, r.note))


def by_folder(rows: list[NoteRow]) -> dict[str, list[NoteRow]]:
    out: dict[str, list[NoteRow]] = defaultdict(list)
    for row in rows:
        out[row.folder].append(row)
    return dict(out)


def filter_choices(cfg: Settings) -> tuple[list[str], list[str]]:
    """(folders, tags) present in the index, for the sidebar filters."""
    if not has_index(cfg):
        return [], []
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(cfg)
    folders: set[str] = set()
    tags: set[str] = set()
    try:
        for _, source, meta in catalog.chunk_filter_rows():
            parts = PurePosixPath(source).parts[:-1]
            folders.update("/".join(parts[: i + 1]) for i in range(len(parts)))
            tags.update(json.loads(meta).get("tags", []))
    finally:
        catalog.close()
    return sorted(folders), sorted(tags)


def note_path(cfg: Settings, source: str) -> Path:
    """The file of an indexed note, checked to be inside the root it was indexed from."""
    from sharpnotes.ingest.index import open_catalog

    if not has_index(cfg):
        raise NoteAccessError(f"{source}: nothing is indexed yet; run: sharpnotes ingest PATH")
    catalog = open_catalog(cfg)
    try:
        record = catalog.files().get(source)
    finally:
        catalog.close()
    if record is None:
        raise NoteAccessError(f"{source}: not an indexed note; run: sharpnotes ingest PATH")
    return resolve_note(Path(record.root), source)


def open_note(cfg: Settings, source: str) -> str:
    """The text of an indexed note, read only from inside the root it was indexed from."""
    path = note_path(cfg, source)
    return strip_front_matter(read_note(path.parent, path.name))


def last_sync(cfg: Settings) -> float | None:
    """When the index was last brought in line with the notes (None: never)."""
    if not has_index(cfg):
        return None
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(cfg)
    try:
        value = catalog.get_meta("last_sync")
    finally:
        catalog.close()
    return float(value) if value else None


@st.cache_data(show_spinner=False, max_entries=4)
def _note_graph(index_dir: str, synced: float | None) -> NoteGraph:
    from sharpnotes.ingest.catalog import Catalog

    catalog = Catalog(Path(index_dir) / "catalog.sqlite")
    try:
        return build_graph(catalog)
    finally:
        catalog.close()


def note_graph(cfg: Settings) -> NoteGraph:
    """Links and backlinks between the indexed notes, built again after each sync."""
    if not has_index(cfg):
        return NoteGraph()
    return _note_graph(str(cfg.index_dir), last_sync(cfg))


def strip_front_matter(text: str) -> str:
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            return text[end + 4 :].lstrip("\n")
    return text


def notes_folder(cfg: Settings) -> Path | None:
    """Where uploads go and what "ingest" syncs: SHARPNOTES_NOTES_DIR, else the first root."""
    if cfg.paths.notes_dir:
        return cfg.paths.notes_dir.expanduser().resolve()
    if has_index(cfg):
        from sharpnotes.ingest.index import open_catalog

        catalog = open_catalog(cfg)
        try:
            roots = catalog.roots()
        finally:
            catalog.close()
        if roots:
            return Path(roots[0])
    return None


def save_uploads(files: list[tuple[str, bytes]], notes_dir: Path) -> tuple[list[Path], list[str]]:
    """Write uploaded (name, bytes) into ``notes_dir/uploads`` under safe names, each whole or
    not at all; returns the saved paths and one error line per file that was refused or could
    not be written."""
    folder = notes_dir / UPLOAD_FOLDER
    saved, errors = [], []
    for name, data in files:
        try:
            saved.append(write_new_file(folder, safe_upload_name(name), data))
        except NoteAccessError as exc:
            errors.append(str(exc))
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            errors.append(
                f"{name}: not saved, cannot write into {folder} ({reason}); make that folder "
                "writable, or serve another notes folder (sharpnotes app --notes DIR)"
            )
    return saved, errors


def generator_status(cfg: Settings) -> tuple[bool, str]:
    """Whether the generator of ``cfg`` can answer, and how fast: its own health check, then for
    an LLM one short completion timed ("reachable, model answers in 1.2 s")."""
    from sharpnotes.app.generators import GeneratorError, get_generator

    try:
        generator = get_generator(cfg)
        described = generator.check()
        if not generator.is_llm:
            return True, f"{generator.name}: {described}"
        start = time.perf_counter()
        reply = generator.complete("Reply with the single word OK.", 8)
        took = time.perf_counter() - start
    except GeneratorError as exc:
        return False, str(exc)
    if not reply.strip():
        return False, f"{described}: reachable, but the model answered nothing"
    return True, f"{described}: reachable, model answers in {took:.1f} s"


USER_SETTINGS = (  # what the Settings page lets a person change, in this order
    "notes_dir",
    "generator",
    "openai_base_url",
    "openai_model",
    "openai_api_key",
    "llamacpp_model",
    "answer_k",
    "crosslingual",
    "live_sync",
)


def settings_table(cfg: Settings, advanced: bool = False) -> list[dict[str, Any]]:
    """The user settings (or, with ``advanced``, the tuning ones): value in force, where it
    comes from (default, config file, environment) and what it does. A secret shows only
    whether it is set."""
    from sharpnotes.ingest.settings import FIELD_GROUP, GROUPS, is_advanced, setting_sources

    sources = setting_sources()
    rows = []
    for name, value in cfg.flat().items():
        if is_advanced(name) != advanced:
            continue
        if value is None:
            shown = "(not set)"
        elif hasattr(value, "get_secret_value"):
            shown = "set (hidden)"
        else:
            shown = str(value)
        rows.append(
            {
                "setting": f"SHARPNOTES_{name.upper()}",
                "value": shown,
                "from": sources[name],
                "group": FIELD_GROUP[name],
                "what": GROUPS[FIELD_GROUP[name]].model_fields[name].description or "",
            }
        )
    return rows


def app_address() -> str:
    """The address this app is served on (the port in use, not the setting's default)."""
    host = st.get_option("server.address") or "localhost"
    return f"http://{host}:{st.get_option('server.port')}"


@dataclass
class HomeSummary:
    notes: int
    folders: int
    passages: int
    last_sync: float | None
    notes_dir: Path | None
    due: int  # now, as the Review and Today pages count them
    due_later_today: int  # learning steps and the like that fall due before midnight
    examples: list[str]
    gaps: list[Any]


@st.cache_data(show_spinner=False, max_entries=4)
def _examples(index_dir: str, synced: float | None, day: int) -> list[str]:
    from sharpnotes.app.examples import example_questions
    from sharpnotes.ingest.catalog import Catalog

    catalog = Catalog(Path(index_dir) / "catalog.sqlite")
    try:
        return example_questions(catalog, n=4, day=day)
    finally:
        catalog.close()


def home_summary(cfg: Settings) -> HomeSummary:
    """The first screen's read model: the index, reviews due today, example questions, gaps."""
    from sharpnotes.app.gaps import list_gaps
    from sharpnotes.app.quiz.session import due_later_today
    from sharpnotes.app.quiz.store import ReviewStoreError, open_store, store_path

    rows = library(cfg)
    due = later = 0
    if store_path(cfg).exists():
        try:
            with open_store(cfg) as store:
                due, later = store.counts()["due"], due_later_today(store)
        except ReviewStoreError as exc:
            log.info("review store: %s", exc)
    synced = last_sync(cfg)
    return HomeSummary(
        notes=len(rows),
        folders=len({r.folder for r in rows}),
        passages=sum(r.chunks for r in rows),
        last_sync=synced,
        notes_dir=notes_folder(cfg),
        due=due,
        due_later_today=later,
        examples=_examples(str(cfg.index_dir), synced, int(time.time() // 86400)),
        gaps=list_gaps(cfg)[:8],
    )
