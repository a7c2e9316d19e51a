"""Incremental ingestion: scan folders, chunk what changed, embed only chunks the index does not
have, and keep the catalog, Chroma and BM25 in step.

llama-index's IngestionPipeline+docstore dedupes whole documents, so an edited note would be
re-embedded in full and a renamed one embedded again; diffing by chunk id and content hash here
embeds only the chunks that are really new.

Write order, so that a crash at any point leaves a state the next run finishes:
1. new vectors are upserted into Chroma, 2. the catalog (source of truth) commits the file and
its chunks, 3. stale vectors are deleted, 4. BM25 is rebuilt and its pointer switched atomically.
At start, ``reconcile`` drops vectors the catalog does not know and re-queues files whose
vectors are missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sharpnotes.ingest import bm25, multilingual, snapshot
from sharpnotes.ingest.atomic import fsync_path
from sharpnotes.ingest.catalog import Catalog, FileRecord
from sharpnotes.ingest.chunking import Chunk, chunk_documents
from sharpnotes.ingest.faults import crash_point
from sharpnotes.ingest.index import (
    build_settings,
    check_compatible,
    open_catalog,
    open_sentences,
    open_space,
    wipe,
)
from sharpnotes.ingest.readers import (
    EMPTY,
    READER_VERSIONS,
    SkipFile,
    cannot_read,
    file_kind,
    parse_file,
    read_bytes,
)
from sharpnotes.ingest.sentences import sentence_texts
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_dir, private_tree, storage_problem
from sharpnotes.ingest.vectors import chroma_metadata

if TYPE_CHECKING:
    import numpy as np

    from sharpnotes.ingest.catalog import ChunkRow
    from sharpnotes.ingest.embedders import Embedder
    from sharpnotes.ingest.sentences import SentenceVectors
    from sharpnotes.ingest.vectors import VectorStore

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_GROUP_CHUNKS = 256


class IngestError(RuntimeError):
    """Ingestion cannot start; the message says what to do."""


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    unsupported: list[str] = field(default_factory=list)
    # links that lead out of the notes folder: (source, where it points); not read, by design
    outside: list[tuple[str, str]] = field(default_factory=list)
    # notes folders that moved: (old, new); the index follows the notes
    moved: list[tuple[str, str]] = field(default_factory=list)
    # notes folders gone from disk: (folder, notes that left the index with it)
    vanished: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_deleted: int = 0
    sentences_embedded: int = 0  # sentence vectors stored
    sentences_shared: int = 0  # of those, one-sentence chunks' own vectors (no second pass)
    seconds: float = 0.0

    @property
    def problems(self) -> list[tuple[str, str]]:
        """The skipped files that something is wrong with: all but the empty ones (a placeholder
        in a cloned repository is nothing to fix, so it does not fail the ingest)."""
        return [(source, reason) for source, reason in self.failed if reason != EMPTY]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        return (
            f"files: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged, "
            f"{len(self.unsupported)} skipped (unsupported type), "
            f"{len(self.outside)} skipped (link out of the notes folder), "
            f"{len(self.problems)} failed, {len(self.failed) - len(self.problems)} empty; "
            f"chunks: {self.chunks_embedded} embedded, {self.chunks_reused} reused, "
            f"{self.chunks_deleted} deleted, {self.sentences_embedded} sentences embedded "
            f"({self.sentences_shared} were their chunk's vector); "
            f"{self.seconds:.1f} s"
        )

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": self.unsupported,
            "outside": [{"source": s, "target": t} for s, t in self.outside],
            "moved": [{"from": old, "to": new} for old, new in self.moved],
            "vanished": [{"folder": f, "notes": n} for f, n in self.vanished],
            "failed": [{"source": s, "reason": r} for s, r in self.failed],
            "chunks_embedded": self.chunks_embedded,
            "chunks_reused": self.chunks_reused,
            "chunks_deleted": self.chunks_deleted,
            "sentences_embedded": self.sentences_embedded,
            "sentences_shared": self.sentences_shared,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Pending:
    record: FileRecord
    chunks: list[Chunk]


def ingest(
    paths: Sequence[Path],
    settings: Settings,
    progress: Progress | None = None,
    rebuild: bool = False,
    wait: float = 0.0,
    check: bool = False,
) -> IngestReport:
    """Bring the index in line with the files under ``paths``. ``check``: compare Chroma with the
    catalog even when the last ingest ended cleanly (``_Ingest._proven_clean``).

    One writer at a time: if another ingest holds the index, wait up to ``wait`` seconds for it,
    then stop with an error naming its pid. The lock is an OS file lock (flock), which the kernel
    releases when its holder dies, so a killed ingest never leaves the index locked."""
    from filelock import FileLock, Timeout

    started = time.perf_counter()
    report = IngestReport()
    progress = progress or (lambda stage, done, total: None)
    paths = [Path(p).expanduser() for p in paths]
    for p in paths:
        if not p.exists():
            raise IngestError(
                f"{p}: no such file or folder; check the path (notes that moved: ingest their new "
                "folder, the index follows them)"
            )
    try:
        private_dir(settings.index_dir)
        lock = FileLock(str(settings.index_dir / "ingest.lock"))
        holder = settings.index_dir / "ingest.pid"
        try:
            lock.acquire(timeout=wait, poll_interval=0.2)
        except Timeout:
            pid = _read_holder(holder)
            waited = f" (waited {wait:g} s)" if wait > 0 else ""
            raise IngestError(
                f"another sharpnotes ingest (pid {pid}) is updating {settings.index_dir}{waited}; "
                "wait for it to finish and run again, or pass --wait SECONDS"
            ) from None
        try:
            holder.write_text(str(os.getpid()))
            if rebuild:
                wipe(settings)
            _Ingest(settings, report, progress, check).run(paths)
        finally:
            holder.unlink(missing_ok=True)
            lock.release()
            private_tree(settings.index_dir)
    except (OSError, sqlite3.Error) as exc:  # the index's disk, not a note (those are reported)
        problem = storage_problem(exc, settings.index_dir)
        if problem is None:
            raise
        raise IngestError(problem) from exc
    report.seconds = time.perf_counter() - started
    return report


def _read_holder(holder: Path) -> str:
    try:
        return holder.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _chroma_meta(chunk: Chunk | ChunkRow) -> dict:
    return chroma_metadata(chunk.source, chunk.heading, chunk.page, chunk.meta.get("tags", []))


class _Ingest:
    def __init__(
        self, settings: Settings, report: IngestReport, progress: Progress, check: bool = False
    ) -> None:
        from sharpnotes.ingest.embedding import resolve_model

        self.settings = settings
        self.report = report
        self.progress = progress
        self.model_id, _ = resolve_model(settings.models.embed_model)
        self.catalog: Catalog = open_catalog(settings)
        check_compatible(self.catalog, settings, self.model_id, "updated")
        self._embedder: Embedder | None = None
        self.moved_to: dict[str, str] = {}  # a notes folder -> where some of its notes turned up
        self._unproven = False
        self.check = check
        # kinds of file whose reader changed since this index read them: read again, once
        made_by = json.loads(self.catalog.get_meta("readers") or "{}")
        new_index = self.catalog.get_meta("embed_model") is None
        self.reread = set() if new_index else {
            kind for kind, version in READER_VERSIONS.items() if made_by.get(kind) != version
        }  # fmt: skip

    # the stores are opened on first use: an unchanged re-ingest proven clean by the dense
    # snapshot (``reconcile``) never imports chromadb
    @cached_property
    def vectors(self) -> VectorStore:
        return open_space(self.settings)

    @cached_property
    def sentences(self) -> SentenceVectors | None:
        return open_sentences(self.settings)

    @property
    def embedder(self) -> Embedder:
        """Loaded on first use (an unchanged corpus never loads a model); its word pieces set
        the chunk budget."""
        if self._embedder is None:
            from sharpnotes.ingest.embedding import load_embedder

            self._embedder = load_embedder(self.settings, "ingest")
        return self._embedder

    def run(self, paths: Sequence[Path]) -> None:
        try:
            bm25_stale = self.reconcile()
            roots = self.catalog.roots()
            known = self.catalog.files()
            seen: set[str] = set()
            changed = False
            for path in (p.resolve() for p in paths):
                root = _root_for(path, roots)
                if str(root) not in roots:
                    roots.append(str(root))
                files = list(_walk(path, root, self.report))
                for group in self._changed_files(root, files, known, seen):
                    self._store(group)
                    changed = True
                changed |= self._remove_missing(root, path, known, seen)
            changed |= self._retire_vanished(roots)
            if changed or bm25_stale:
                self.rebuild_bm25()
            crash_point("snapshot")
            pointer = bm25.read_pointer(self.settings.index_dir)  # the build both files belong to
            snapshot.refresh(
                self.settings,
                pointer,
                lambda: {
                    "chunks": self.vectors,
                    "sentences": self.sentences.store if self.sentences else None,
                },
            )
            multilingual.refresh(self.settings, pointer, self.catalog, self.progress)
            crash_point("manifest")
            self.catalog.set_meta(
                {
                    **build_settings(self.settings, self.model_id),
                    "roots": roots,
                    "last_sync": time.time(),
                    "readers": json.dumps(READER_VERSIONS, sort_keys=True),
                    "embed_backend": self._embedder.backend
                    if self._embedder
                    else self.catalog.get_meta("embed_backend") or "",
                }
            )
        finally:
            self.catalog.close()

    # crash recovery ---------------------------------------------------------------------------
    def reconcile(self) -> bool:
        """Make Chroma match the catalog after an interrupted run; True if the search side (BM25
        and the dense snapshot) must be rebuilt: vectors were written or deleted, or BM25 lags."""
        catalog_ids = set(self.catalog.chunk_ids())
        if self.check:  # the snapshot is written again from the store as checked
            self._unprove()
        proven = not self.check and self._proven_clean(catalog_ids)
        stale = False if proven else self._compare(catalog_ids)
        crash_point("reconcile")
        return stale

    def _compare(self, catalog_ids: set[str]) -> bool:
        """``reconcile`` in full: Chroma's ids against the catalog's."""
        held = self.vectors.all_ids()
        missing = catalog_ids - held
        if missing:  # their files are forgotten, then re-read and re-embedded as if new
            rows = self.catalog.get_chunks(sorted(missing))
            with self.catalog.transaction() as conn:
                for source in {r.source for r in rows.values()}:
                    self.catalog.remove_file(conn, source)
            catalog_ids = set(self.catalog.chunk_ids())
        # after the files above are forgotten, so that their remaining vectors go too (their
        # notes may be gone from disk, and nothing else would delete them)
        extra = held - catalog_ids
        if extra:
            log.info("removing %d vectors left by an interrupted run", len(extra))
            self.vectors.delete(sorted(extra))
            self.report.chunks_deleted += len(extra)
        rewritten = bool(missing or extra)
        if self.sentences is not None:
            rewritten |= self._reconcile_sentences(catalog_ids)
        pointer = bm25.read_pointer(self.settings.index_dir)
        return rewritten or (pointer or {}).get("ids_sha1") != bm25.ids_digest(catalog_ids)

    def _proven_clean(self, catalog_ids: set[str]) -> bool:
        """True when the last ingest ended cleanly and nothing was written since: the dense
        snapshot of the current BM25 build exists (an ingest writes it last, and removes it
        before its first write, ``_unprove``), BM25 holds the catalog's chunks, and the sentence
        vectors are made as this version makes them. Then Chroma matches the catalog and is not
        read (its import and first read cost an unchanged re-ingest of the sample notes about
        1.5 s)."""
        from sharpnotes.ingest.sentences import made_with

        pointer = bm25.read_pointer(self.settings.index_dir)
        path = snapshot.path_for(self.settings, pointer)
        if path is None or not path.exists():
            return False
        if pointer is None or pointer.get("ids_sha1") != bm25.ids_digest(catalog_ids):
            return False
        held = snapshot.spaces(path)
        if held is None:  # damaged: it proves nothing, and the end of this run writes it again
            self._unprove()
            return False
        if self.settings.retrieval.sentence_weight <= 0:
            return True
        made = made_with(self.settings.models.sentence_pooling)
        return self.catalog.get_meta("sentences_version") == made and "sentences" in held

    def _unprove(self) -> None:
        """Before the first write of a run: the current build's snapshot no longer proves the
        index clean (a run killed after this point is reconciled in full by the next)."""
        if not self._unproven:
            self._unproven = True
            target = snapshot.path_for(self.settings, bm25.read_pointer(self.settings.index_dir))
            if target is not None:
                target.unlink(missing_ok=True)
                fsync_path(self.settings.index_dir)

    # scanning ---------------------------------------------------------------------------------
    def _changed_files(
        self, root: Path, files: list[Path], known: dict[str, FileRecord], seen: set[str]
    ) -> Iterator[list[_Pending]]:
        """Read and chunk new or modified files, yielded in groups of about 256 chunks."""
        group: list[_Pending] = []
        size = 0
        for done, file in enumerate(files, start=1):
            self.progress("files", done, len(files))
            source = file.relative_to(root).as_posix()
            if file_kind(file) is None:
                self.report.unsupported.append(source)
                continue
            seen.add(source)
            pending = self._read(file, source, root, known.get(source))
            if pending is None:
                continue
            group.append(pending)
            size += len(pending.chunks)
            if size >= _GROUP_CHUNKS:
                yield group
                group, size = [], 0
        if group:
            yield group

    def _read(self, file: Path, source: str, root: Path, old: FileRecord | None) -> _Pending | None:
        try:
            stat = file.stat()
            again = file_kind(file) in self.reread  # the file is as it was, its reader is not
            if (
                old
                and not again
                and old.root == str(root)
                and (old.size, old.mtime) == (stat.st_size, stat.st_mtime)
            ):
                self.report.unchanged += 1
                return None
            if old and old.root != str(root):
                if _present(Path(old.root) / source):
                    raise SkipFile(
                        f"a note with this path is already indexed from {old.root}; rename one "
                        "of the two, or index one folder alone: sharpnotes ingest --rebuild "
                        f"{root}"
                    )
                self.moved_to[old.root] = str(root)  # gone from there: the note moved here
            # read once, through checks: size and file type come before a single byte is read
            data = read_bytes(file, int(self.settings.ingest.max_file_mb * 2**20))
            digest = hashlib.sha1(data).hexdigest()
            if old and old.sha1 == digest and not again:
                self.report.unchanged += 1
                self.catalog.touch_file(source, stat.st_size, stat.st_mtime, str(root))
                return None
            docs = parse_file(data, file, source)
            crash_point("read")
            embedder = self.embedder
            # the setting's budget, but never past what the model reads (it truncates there)
            budget = min(self.settings.ingest.chunk_tokens, embedder.max_tokens)
            chunks = chunk_documents(docs, embedder.count_tokens, budget)
            if not chunks:
                raise SkipFile("no text to index")
        except SkipFile as exc:
            self.report.failed.append((source, str(exc)))
            log.info("skipped %s: %s", source, exc)
            return None
        except FileNotFoundError as exc:
            reason = cannot_read(exc)
            if file.is_symlink():
                reason = f"broken link to {os.readlink(file)}; fix or delete the link"
            self.report.failed.append((source, reason))
            return None
        except OSError as exc:
            self.report.failed.append((source, cannot_read(exc)))
            return None
        record = FileRecord(
            source, str(root), digest, stat.st_size, stat.st_mtime, len(chunks), time.time()
        )
        (self.report.updated if old else self.report.added).append(source)
        return _Pending(record, chunks)

    # writing ----------------------------------------------------------------------------------
    def _store(self, group: list[_Pending]) -> None:
        self._unprove()
        chunks = [c for p in group for c in p.chunks]
        have = self.catalog.existing_ids([c.chunk_id for c in chunks])
        todo = [c for c in chunks if c.chunk_id not in have]
        # a chunk whose text is already indexed under another id (a copied note, a template)
        # takes that chunk's vector instead of being embedded again
        reuse_from = self.catalog.ids_by_hash({c.content_hash for c in todo})
        import numpy as np

        reused = self.vectors.embeddings(
            sorted({reuse_from[c.content_hash] for c in todo if c.content_hash in reuse_from})
        )
        vectors = {}
        to_embed: dict[str, list[Chunk]] = {}  # content hash -> the new chunks with that text
        for c in todo:
            vec = reused.get(reuse_from.get(c.content_hash, ""))
            if vec is not None:
                vectors[c.chunk_id] = vec
            else:
                to_embed.setdefault(c.content_hash, []).append(c)
        made: dict[str, np.ndarray] = {}  # chunk id -> its sentences' vectors (late chunking)
        if to_embed:  # a text that several new chunks share (template copies) is embedded once
            crash_point("embed")
            texts = [same[0].embed_text for same in to_embed.values()]
            batch = self.settings.models.embed_batch_size
            if self.sentences is not None and self.settings.models.sentence_pooling == "late":
                from sharpnotes.ingest.sentences import embed_chunks

                embedded, per_text = embed_chunks(self.embedder, texts, batch)
                for same, held in zip(to_embed.values(), per_text, strict=True):
                    made.update({c.chunk_id: held for c in same})
            else:
                embedded = self.embedder.embed(texts, batch)
            for same, vec in zip(to_embed.values(), embedded, strict=True):
                vectors.update({c.chunk_id: vec for c in same})
        if self.sentences is not None:
            # a chunk that is one sentence is its own sentence text: its vector serves as both
            for c in todo:
                if c.chunk_id not in made and sentence_texts(c.embed_text) == [c.embed_text]:
                    made[c.chunk_id] = vectors[c.chunk_id][None, :]
                    self.report.sentences_shared += 1
        if todo:
            crash_point("chroma")
            self.vectors.upsert(
                [c.chunk_id for c in todo],
                np.stack([vectors[c.chunk_id] for c in todo]),
                [c.text for c in todo],
                [_chroma_meta(c) for c in todo],
            )
        if self.sentences is not None and todo:
            self._put_sentences([(c.chunk_id, c.embed_text, _chroma_meta(c)) for c in todo], made)
        self.report.chunks_embedded += len(to_embed)
        self.report.chunks_reused += len(todo) - len(to_embed)
        self.progress("chunks", self.report.chunks_embedded + self.report.chunks_reused, 0)
        crash_point("catalog")
        stale: set[str] = set()
        with self.catalog.transaction() as conn:
            for p in group:
                stale |= self.catalog.chunk_ids_of(p.record.source)
                self.catalog.put_file(conn, p.record, p.chunks)
                crash_point("catalog_row")  # inside the transaction: SQLite rolls it back
        stale -= {c.chunk_id for c in chunks}
        crash_point("stale")
        self._delete_vectors(stale)

    def _remove_missing(
        self, root: Path, scanned: Path, known: dict[str, FileRecord], seen: set[str]
    ) -> bool:
        if scanned.is_file():
            return False
        prefix = "" if scanned == root else scanned.relative_to(root).as_posix() + "/"
        gone = [
            s
            for s, rec in known.items()
            if rec.root == str(root)
            and s.startswith(prefix)
            and s not in seen
            and _vanished(root / s, root)
        ]
        return self._forget(gone)

    def _retire_vanished(self, roots: list[str]) -> bool:
        """A notes folder that is gone from disk leaves the index with the notes it still held
        there (they can no longer be opened, and search would keep returning them): it moved
        (some of its notes turned up in the folder just ingested, and were taken over), or it
        was deleted or unmounted (ingest it again when it is back)."""
        changed = False
        for old in [r for r in roots if not _present(Path(r))]:
            held = [s for s, rec in self.catalog.files().items() if rec.root == old]
            changed |= self._forget(held)
            roots.remove(old)
            if old in self.moved_to:
                self.report.moved.append((old, self.moved_to[old]))
            else:
                self.report.vanished.append((old, len(held)))
            log.info("notes folder %s is gone; %d notes left the index", old, len(held))
        return changed

    def _forget(self, gone: list[str]) -> bool:
        """Remove these notes from the catalog, then their vectors."""
        if not gone:
            return False
        self._unprove()
        stale: set[str] = set()
        with self.catalog.transaction() as conn:
            for source in gone:
                stale |= self.catalog.chunk_ids_of(source)
                self.catalog.remove_file(conn, source)
        crash_point("remove")
        self._delete_vectors(stale)
        self.report.removed.extend(gone)
        return True

    def _delete_vectors(self, ids: set[str]) -> None:
        if ids:
            self.vectors.delete(sorted(ids))
            if self.sentences is not None:
                self.sentences.delete_chunks(sorted(ids))
            self.report.chunks_deleted += len(ids)

    def _reconcile_sentences(self, catalog_ids: set[str]) -> bool:
        """Every catalog chunk with all its sentences, made by this version of the splitter and
        the pooling in force (``sentences.made_with``); True when any were written or deleted."""
        from sharpnotes.ingest.sentences import made_with

        assert self.sentences is not None
        made_by = self.catalog.get_meta("sentences_version")
        wanted = made_with(self.settings.models.sentence_pooling)
        if made_by is not None and made_by != wanted:
            log.info("sentence vectors made as %s are re-made (now %s)", made_by, wanted)
            self.sentences.clear()
        complete, present = self.sentences.held()
        if present - catalog_ids:
            self.sentences.delete_chunks(sorted(present - catalog_ids))
        # turned on for an older index, or cut off while writing a chunk's sentences
        self._backfill_sentences(sorted(catalog_ids - complete))
        if made_by != wanted:
            self.catalog.set_meta({"sentences_version": wanted})
        remade = made_by not in (None, wanted)
        return remade or bool(present - catalog_ids or catalog_ids - complete)

    def _backfill_sentences(self, ids: list[str]) -> None:
        """Embed the sentences of catalog chunks that lack some, from the catalog's text."""
        for start in range(0, len(ids), _GROUP_CHUNKS):
            rows = self.catalog.get_chunks(ids[start : start + _GROUP_CHUNKS])
            texts = dict(self.catalog.embed_texts(list(rows)))
            self._put_sentences(
                [(cid, texts[cid], _chroma_meta(rows[cid])) for cid in rows if cid in texts]
            )
            self.progress("sentence vectors", start + len(rows), len(ids))

    def _put_sentences(
        self, chunks: list[tuple[str, str, dict]], made: dict[str, np.ndarray] | None = None
    ) -> None:
        """Store the sentence vectors of (chunk id, embedded text, metadata) triples: those
        already ``made`` with their chunk's vector, the others made now."""
        assert self.sentences is not None
        crash_point("sentences")
        self.report.sentences_embedded += self.sentences.put(
            chunks,
            self.embedder,
            self.settings.models.embed_batch_size,
            made,
            self.settings.models.sentence_pooling,
        )

    def rebuild_bm25(self) -> None:
        ids, texts = [], []
        for chunk_id, text in self.catalog.iter_embed_texts():
            ids.append(chunk_id)
            texts.append(text)
        self.progress("bm25", 0, len(ids))
        crash_point("bm25")
        index = bm25.BM25Index.build(ids, texts, bm25.BM25Params())
        index.save(self.settings.index_dir)
        self.progress("bm25", len(ids), len(ids))


def _root_for(path: Path, roots: list[str]) -> Path:
    for root in roots:
        if path == Path(root) or path.is_relative_to(root):
            return Path(root)
    return path if path.is_dir() else path.parent


def _walk(path: Path, root: Path, report: IngestReport) -> Iterator[Path]:
    """Files under ``path`` in a stable order; hidden entries are ignored. Symlinks are followed
    while they stay inside ``root`` (a folder once: a loop is reported, not followed again); one
    that leads out of it is listed in ``report.outside`` and never read, so that a link cannot
    pull a file from elsewhere (a config file holding an API key) into the index."""
    if path.is_file():
        yield path
        return
    visited: set[str] = set()

    def onerror(exc: OSError) -> None:
        report.failed.append(
            (str(exc.filename), f"cannot list folder: {exc.strerror}; give your user read access")
        )

    def inside(entry: Path) -> bool:
        target = Path(os.path.realpath(entry))
        if target.is_relative_to(root):
            return True
        report.outside.append((entry.relative_to(root).as_posix(), str(target)))
        return False

    for dirpath, dirnames, filenames in os.walk(path, followlinks=True, onerror=onerror):
        real = os.path.realpath(dirpath)
        if real in visited:
            report.failed.append((dirpath, "symlink loop: folder already visited; remove the link"))
            dirnames[:] = []
            continue
        visited.add(real)
        here = Path(dirpath)
        dirnames[:] = [d for d in sorted(dirnames) if not d.startswith(".") and inside(here / d)]
        for name in sorted(filenames):
            if not name.startswith(".") and inside(here / name):
                yield here / name


def _vanished(path: Path, root: Path) -> bool:
    """Whether an indexed note that the walk did not list is gone: deleted, or now behind a link
    that leads out of ``root``. A file in a folder that cannot be read right now is kept in the
    index (its folder is reported as a failure)."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    if not Path(os.path.realpath(path)).is_relative_to(root):
        return True
    return not path.is_file()


def _present(path: Path) -> bool:
    """Whether ``path`` exists (a path that cannot be checked right now counts as present)."""
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True
