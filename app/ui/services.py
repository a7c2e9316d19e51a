"""What the pages need from the rest of sharpnotes: cached resources and small read models.

Pages stay thin: they lay out widgets and call these (and ``app.answer``, ``ingest.sync``), the
same functions the CLI uses."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import streamlit as st

from sharpnotes.app.notefiles import NoteAccessError, read_note, safe_upload_name, write_new_file
from sharpnotes.ingest.settings import Settings, get_settings

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher

UPLOAD_FOLDER = "uploads"


def settings() -> Settings:
    """Fresh each run (cheap); the environment is read by Settings only."""
    return get_settings()


@st.cache_resource(show_spinner="Loading the index and the embedding model…")
def _searcher(key: str, _settings: Settings) -> Searcher:
    from sharpnotes.app.retrieval import Searcher

    searcher = Searcher(_settings)
    searcher.search("warm up", k=1)  # load the model, BM25 and the store now, not on a question
    return searcher


def searcher(cfg: Settings) -> Searcher:
    """The process-wide Searcher for these settings (loaded once), or raises the index error."""
    return _searcher(cfg.model_dump_json(), cfg)


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


def open_note(cfg: Settings, source: str) -> str:
    """The text of an indexed note, read only from inside the root it was indexed from."""
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(cfg)
    try:
        record = catalog.files().get(source)
    finally:
        catalog.close()
    if record is None:
        raise NoteAccessError(f"{source}: not an indexed note")
    return strip_front_matter(read_note(Path(record.root), source))


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
    """Whether the configured generator can answer (its own health check), and why not."""
    from sharpnotes.app.generators import GeneratorError, get_generator

    try:
        return True, get_generator(cfg).check()
    except GeneratorError as exc:
        return False, str(exc)


def settings_table(cfg: Settings, advanced: bool = False) -> list[dict[str, Any]]:
    """The user settings (or, with ``advanced``, the tuning ones) with their values and groups;
    secrets show as stars."""
    from sharpnotes.ingest.settings import FIELD_GROUP, is_advanced

    rows = []
    for name, value in cfg.flat().items():
        if is_advanced(name) != advanced:
            continue
        shown = "(not set)" if value is None else str(value)  # SecretStr prints as **********
        rows.append(
            {"group": FIELD_GROUP[name], "setting": f"SHARPNOTES_{name.upper()}", "value": shown}
        )
    return rows
