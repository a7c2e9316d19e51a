"""An exact copy of the dense side of a small index, for searches in a new process.

A search started from the command line used to spend most of its time before the query:
importing chromadb (about 0.9 s on the 2-core machine of the benchmarks) and loading its HNSW
indexes (about 0.3 s), to search a few thousand vectors. For an index of at most
``settings.retrieval.snapshot_max_vectors`` vectors (chunks and sentences together), the ingest
also writes every vector with its filter metadata to one numpy file, and the Searcher answers
from it by exact cosine: one matrix product, about a millisecond on the sample notes, and the
same or better neighbours than the approximate HNSW search. Chroma stays the store: the ingest
writes Chroma first, and the snapshot is made from it.

The file is named after the BM25 build it belongs to (``dense-BUILD.npz``), so a reader finds it
only when it matches the build the pointer names, and the pair switches together: a snapshot that
an interrupted ingest did not write is simply absent (the reader then uses Chroma), and the next
ingest writes it. A Chroma server (``SHARPNOTES_CHROMA_HOST``) is always read directly.
"""

from __future__ import annotations

import json
import logging
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sharpnotes.ingest.atomic import remove_others, write_npz_atomic
from sharpnotes.ingest.npz import read_npz

if TYPE_CHECKING:
    from sharpnotes.ingest.settings import Settings
    from sharpnotes.ingest.vectors import VectorStore

log = logging.getLogger(__name__)

PREFIX = "dense-"
SPACES = ("chunks", "sentences")


def path_for(settings: Settings, pointer: dict | None) -> Path | None:
    """Where the snapshot of the BM25 build ``pointer`` names lies; None without a build, with
    a Chroma server, or with snapshots turned off (``snapshot_max_vectors`` 0)."""
    off = settings.chroma.chroma_host or settings.retrieval.snapshot_max_vectors <= 0
    if off or not pointer or not pointer.get("build"):
        return None
    return settings.index_dir / f"{PREFIX}{pointer['build']}.npz"


def refresh(
    settings: Settings,
    pointer: dict | None,
    open_stores: Callable[[], dict[str, VectorStore | None]],
) -> bool:
    """Write the snapshot of the current build from the stores ``open_stores`` gives (chunks,
    and sentences or None; opened only when a snapshot is to be written) unless it exists or the
    index is over the size bound; remove every other snapshot. True when one was written."""
    index_dir = settings.index_dir
    target = path_for(settings, pointer)
    written = False
    if target is not None and not target.exists():
        held = {space: store for space, store in open_stores().items() if store is not None}
        total = sum(store.count() for store in held.values())
        if total <= settings.retrieval.snapshot_max_vectors:
            arrays: dict[str, Any] = {}
            for space, store in held.items():
                ids, vectors, metas = store.dump()
                arrays[f"{space}_ids"] = np.asarray(ids, dtype=str)
                arrays[f"{space}_vectors"] = vectors
                arrays[f"{space}_meta"] = np.asarray(json.dumps([filter_keys(m) for m in metas]))
                del ids, vectors, metas
            write_npz_atomic(target, arrays)
            written = True
        else:
            target = None
    remove_others(index_dir, PREFIX, target)
    return written


def spaces(path: Path) -> set[str] | None:
    """The spaces a snapshot file holds (its directory only is read); None when it cannot be
    read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {space for space in SPACES if f"{space}_ids" in data.files}
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def load(settings: Settings, pointer: dict | None) -> dict[str, FlatSpace] | None:
    """The snapshot of the build ``pointer`` names as one FlatSpace per stored space, or None
    when there is none (an index over the bound, a Chroma server, an older ingest)."""
    target = path_for(settings, pointer)
    if target is None:
        return None
    try:
        data = read_npz(target)
        return {
            space: FlatSpace(
                data[f"{space}_ids"].tolist(),
                data[f"{space}_vectors"],
                json.loads(str(data[f"{space}_meta"])),
            )
            for space in SPACES
            if f"{space}_ids" in data
        }
    except FileNotFoundError:  # replaced by a newer build while we read the pointer
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a damaged file
        log.warning(
            "cannot read the dense snapshot %s (damaged: %s); searching the vector store "
            "instead; to write it again, run: sharpnotes ingest --check PATH-TO-NOTES",
            target,
            type(exc).__name__,
        )
        return None


class FlatSpace:
    """The vectors of one space with their metadata, searched exactly; the read side of
    ``VectorStore`` (``ingest.vectors.DenseSpace``)."""

    def __init__(self, ids: list[str], vectors: np.ndarray, metas: list[dict]) -> None:
        self.ids = ids
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.vectors = vectors / np.where(norms > 0, norms, 1.0)
        self.metas = metas
        self._masks: dict[str, np.ndarray] = {}
        self._rows: dict[str, int] | None = None
        self._lock = threading.Lock()

    def count(self) -> int:
        return len(self.ids)

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The unit vectors of those of ``ids`` held, by id."""
        with self._lock:
            if self._rows is None:
                self._rows = {cid: i for i, cid in enumerate(self.ids)}
        return {cid: self.vectors[self._rows[cid]] for cid in ids if cid in self._rows}

    def query(self, vector: np.ndarray, n: int, where: dict | None) -> list[tuple[str, float]]:
        """(id, cosine similarity), best first, at most ``n``: as ``VectorStore.query``."""
        return [(cid, score) for cid, score, _ in self.query_with_vectors(vector, n, where)]

    def query_with_vectors(
        self, vector: np.ndarray, n: int, where: dict | None
    ) -> list[tuple[str, float, np.ndarray]]:
        if n <= 0 or not self.ids:
            return []
        query = np.asarray(vector, dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        scores = self.vectors @ query
        if where:
            scores = np.where(self._mask(where), scores, -np.inf)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [
            (self.ids[i], float(scores[i]), self.vectors[i]) for i in top if scores[i] > -np.inf
        ]

    def _mask(self, where: dict) -> np.ndarray:
        key = json.dumps(where, sort_keys=True)
        with self._lock:
            mask = self._masks.get(key)
            if mask is None:
                mask = np.fromiter(
                    (matches(meta, where) for meta in self.metas), bool, len(self.metas)
                )
                self._masks[key] = mask
            return mask


def filter_keys(meta: dict) -> dict:
    """The part of a vector's Chroma metadata that ``where_filter`` clauses read."""
    return {k: v for k, v in meta.items() if k == "ext" or k.startswith(("dir:", "tag:"))}


def matches(meta: dict, where: dict) -> bool:
    """Chroma's metadata filter, for the clauses ``ingest.vectors.where_filter`` makes: equality
    on a key (``{"dir:notes": True}``, ``{"ext": "md"}``) and ``$and`` of such clauses."""
    for key, value in where.items():
        if key == "$and":
            if not all(matches(meta, clause) for clause in value):
                return False
        elif key.startswith("$") or isinstance(value, dict):
            raise ValueError(f"the dense snapshot cannot filter on {where}")
        elif meta.get(key) != value:
            return False
    return True
