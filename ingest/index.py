"""Where the index lives and how it was built: shared by the writer (sync) and the readers (app)."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from sharpnotes.ingest import bm25, chunking
from sharpnotes.ingest.catalog import Catalog, IndexFormatError
from sharpnotes.ingest.settings import Settings

if TYPE_CHECKING:
    from sharpnotes.ingest.sentences import SentenceVectors
    from sharpnotes.ingest.vectors import VectorStore


def open_catalog(settings: Settings) -> Catalog:
    return Catalog(settings.index_dir / "catalog.sqlite")


def open_space(settings: Settings, space: str = "chunks", fresh: bool = False) -> VectorStore:
    """The Chroma collection of the chunk vectors ("chunks") or of their sentences."""
    from sharpnotes.ingest import sentences, vectors

    name = sentences.COLLECTION if space == "sentences" else vectors.COLLECTION
    return vectors.VectorStore(settings, fresh=fresh, collection=name)


def open_sentences(settings: Settings, fresh: bool = False) -> SentenceVectors | None:
    """The sentence vectors (``ingest.sentences``), or None when ``sentence_weight`` is 0."""
    if settings.retrieval.sentence_weight <= 0:
        return None
    from sharpnotes.ingest.sentences import SentenceVectors

    return SentenceVectors(open_space(settings, "sentences", fresh))


def build_settings(settings: Settings, model_id: str) -> dict[str, str]:
    """What must match for an index to be used or updated."""
    return {
        "embed_model": model_id,
        "chunk_tokens": str(settings.ingest.chunk_tokens),
        "chunker_version": str(chunking.CHUNKER_VERSION),
        "bm25_tokenizer_version": str(bm25.TOKENIZER_VERSION),
    }


def check_compatible(catalog: Catalog, settings: Settings, model_id: str, action: str) -> None:
    """Refuse to use an index built another way, saying what to run instead."""
    stored = catalog.manifest()
    if "embed_model" not in stored:
        return
    wanted = build_settings(settings, model_id)
    for key, value in wanted.items():
        if stored.get(key) != value:
            roots = " ".join(catalog.roots()) or "PATH"
            raise IndexFormatError(
                f"The index at {settings.index_dir} was built with {key}={stored.get(key)}; "
                f"you asked for {key}={value}, so it cannot be {action}. "
                f"Run: sharpnotes ingest --rebuild {roots}"
            )


def wipe(settings: Settings) -> None:
    """Empty the index (the rebuild path): drop the Chroma collections, the catalog's rows and
    the BM25 builds. Files stay in place, so Chroma's per-process client cache stays valid."""
    from sharpnotes.ingest import sentences, vectors

    if not settings.index_dir.exists():
        return
    client = vectors.VectorStore(settings).client
    present = {c.name for c in client.list_collections()}
    for name in present & {vectors.COLLECTION, sentences.COLLECTION}:
        client.delete_collection(name)
    catalog = open_catalog(settings)
    with catalog.transaction() as conn:
        for table in ("chunks", "files", "meta"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    catalog.close()
    (settings.index_dir / bm25.POINTER).unlink(missing_ok=True)
    for folder in settings.index_dir.glob("bm25-*"):
        shutil.rmtree(folder, ignore_errors=True)
