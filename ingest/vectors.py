"""The dense side of the index: a Chroma collection, embedded (PersistentClient under the index
home) or on a Chroma server (``SHARPNOTES_CHROMA_HOST``/``_PORT``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, Protocol

import numpy as np

from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.storage import private_dir, storage_problem

COLLECTION = "sharpnotes"
_BATCH = 1000
_IN_BATCH = 500  # values in one "$in" metadata filter


class VectorStoreError(RuntimeError):
    """The vector store cannot be reached or used; the message says what to do."""


def chroma_metadata(source: str, heading: str, page: int | None, tags: Sequence[str]) -> dict:
    """Flat metadata Chroma can filter on: every ancestor folder and every tag as a boolean key."""
    meta: dict[str, Any] = {"source": source, "heading": heading}
    if page is not None:
        meta["page"] = page
    path = PurePosixPath(source)
    meta["ext"] = path.suffix.lower().lstrip(".")
    for parent in list(path.parents)[:-1]:
        meta[f"dir:{parent}"] = True
    for tag in tags:
        meta[f"tag:{tag}"] = True
    return meta


def where_filter(folder: str | None, tag: str | None, ext: str | None) -> dict | None:
    clauses: list[dict] = []
    if folder:
        clauses.append({f"dir:{folder.strip('/')}": True})
    if tag:
        clauses.append({f"tag:{tag.lower().lstrip('#')}": True})
    if ext:
        clauses.append({"ext": ext.lower().lstrip(".")})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class DenseSpace(Protocol):
    """What a search reads of one space of vectors: a Chroma collection (``VectorStore``) or the
    exact snapshot of a small index (``ingest.snapshot.FlatSpace``)."""

    def count(self) -> int: ...

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]: ...

    def query(self, vector: np.ndarray, n: int, where: dict | None) -> list[tuple[str, float]]: ...

    def query_with_vectors(
        self, vector: np.ndarray, n: int, where: dict | None
    ) -> list[tuple[str, float, np.ndarray]]: ...


class VectorStore:
    def __init__(
        self, settings: Settings, fresh: bool = False, collection: str = COLLECTION
    ) -> None:
        """``fresh``: a new embedded client instead of the one chromadb shares per folder and
        process, to see what another process wrote since that one was opened. ``collection``:
        the chunk vectors, or the sentence vectors (``ingest.sentences``)."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        self.location: str
        try:
            if settings.chroma.chroma_host:
                self.location = (
                    f"http://{settings.chroma.chroma_host}:{settings.chroma.chroma_port}"
                )
                self.client = chromadb.HttpClient(
                    host=settings.chroma.chroma_host,
                    port=settings.chroma.chroma_port,
                    settings=chroma_settings,
                )
            else:
                path = settings.index_dir / "chroma"
                private_dir(path)
                self.location = str(path)
                if fresh:  # chromadb has no public way to drop its per-folder client
                    from chromadb.api.shared_system_client import SharedSystemClient

                    with SharedSystemClient._refcount_lock:
                        SharedSystemClient._identifier_to_system.pop(str(path), None)
                        SharedSystemClient._identifier_to_refcount.pop(str(path), None)
                self.client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
            self.collection = self.client.get_or_create_collection(
                collection, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
            )
        except Exception as exc:
            raise VectorStoreError(_explain(exc, settings)) from exc
        self.settings = settings

    @contextmanager
    def _failing(self) -> Iterator[None]:
        """Any failure of the store (a Chroma server that went away) as one actionable error."""
        try:
            yield
        except Exception as exc:
            raise VectorStoreError(_explain(exc, self.settings)) from exc

    def count(self) -> int:
        with self._failing():
            return self.collection.count()

    def _pages(self, include: Any, size: int) -> Iterator[Any]:
        """The whole collection read ``size`` records at a time (Chroma's ``get`` pages)."""
        offset = 0
        with self._failing():
            while True:
                got = self.collection.get(include=include, limit=size, offset=offset)
                yield got
                if len(got["ids"]) < size:
                    return
                offset += size

    def all_ids(self) -> set[str]:
        return {cid for page in self._pages([], 10000) for cid in page["ids"]}

    def dump(self) -> tuple[list[str], np.ndarray, list[dict]]:
        """Every vector of the collection with its id and metadata (``ingest.snapshot``), read
        ``_BATCH`` at a time: Chroma hands vectors over as Python floats."""
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        metas: list[dict] = []
        for got in self._pages(["embeddings", "metadatas"], _BATCH):
            if len(got["ids"]):
                ids += got["ids"]
                vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
                metas += [dict(m or {}) for m in got["metadatas"] or []]
        dim = vectors[0].shape[1] if vectors else 0
        return ids, np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float32), metas

    def upsert(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str] | None,
        metas: Sequence[dict],
    ) -> None:
        """``texts`` None: vectors and metadata only (a second space; the catalog has the text)."""
        with self._failing():
            for i in range(0, len(ids), _BATCH):
                self.collection.upsert(
                    ids=list(ids[i : i + _BATCH]),
                    embeddings=vectors[i : i + _BATCH],
                    documents=None if texts is None else list(texts[i : i + _BATCH]),
                    metadatas=list(metas[i : i + _BATCH]),
                )

    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        with self._failing():
            for i in range(0, len(ids), _BATCH):
                self.collection.delete(ids=ids[i : i + _BATCH])

    def delete_where(self, key: str, values: Sequence[str]) -> None:
        """Delete every vector whose metadata ``key`` is one of ``values``."""
        values = list(values)
        with self._failing():
            for i in range(0, len(values), _IN_BATCH):
                where: Any = {key: {"$in": values[i : i + _IN_BATCH]}}  # Where's type is narrow
                self.collection.delete(where=where)

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        ids = list(ids)
        with self._failing():
            for i in range(0, len(ids), _BATCH):
                got = self.collection.get(ids=ids[i : i + _BATCH], include=["embeddings"])
                vectors = got["embeddings"] if got["embeddings"] is not None else []
                for cid, vec in zip(got["ids"], vectors, strict=True):
                    out[cid] = np.asarray(vec, dtype=np.float32)
        return out

    def query(self, vector: np.ndarray, n: int, where: dict | None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first: at most ``n``, fewer when the collection
        holds fewer (Chroma caps ``n_results`` itself; counting first cost more than the query,
        7 ms on 50,000 chunks and 27 ms on their 226,000 sentences)."""
        res = self._query(vector, n, where, ["distances"])
        if res is None:
            return []
        return [
            (cid, 1.0 - d) for cid, d in zip(res["ids"][0], _first(res["distances"]), strict=True)
        ]

    def query_with_vectors(
        self, vector: np.ndarray, n: int, where: dict | None
    ) -> list[tuple[str, float, np.ndarray]]:
        """``query`` with each hit's stored vector (no second read)."""
        res = self._query(vector, n, where, ["distances", "embeddings"])
        if res is None:
            return []
        hits = zip(res["ids"][0], _first(res["distances"]), _first(res["embeddings"]), strict=True)
        return [(cid, 1.0 - d, np.asarray(v, dtype=np.float32)) for cid, d, v in hits]

    def _query(self, vector: np.ndarray, n: int, where: dict | None, include: Any) -> Any:
        if n <= 0:
            return None
        with self._failing():
            return self.collection.query(
                query_embeddings=[vector], n_results=n, where=where, include=include
            )


def _first(field: Any) -> Any:
    """The first query's row of a Chroma query result field (empty when it is missing)."""
    return field[0] if field is not None and len(field) else []


def _explain(exc: Exception, settings: Settings) -> str:
    host, port = settings.chroma.chroma_host, settings.chroma.chroma_port
    if host:
        return (
            f"cannot reach the Chroma server at {host}:{port} ({type(exc).__name__}); start it "
            f"(chroma run --path DIR --port {port}) and run the command again (an interrupted "
            "ingest resumes), or unset SHARPNOTES_CHROMA_HOST to use the local store"
        )
    if problem := storage_problem(exc, settings.index_dir):
        return problem
    detail = " ".join(str(exc).split())[:200]
    return (
        f"the vector store under {settings.index_dir} failed ({type(exc).__name__}: {detail}); "
        "run the command again (an interrupted ingest resumes), and if it fails the same way, "
        "run: sharpnotes ingest --rebuild PATH-TO-NOTES"
    )
