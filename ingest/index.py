"""Where the index lives and how it was built: shared by the writer (sync) and the readers (app)."""

from __future__ import annotations

import hashlib
import shutil
from typing import TYPE_CHECKING, Literal

from ingest import bm25, chunking
from ingest.catalog import Catalog, IndexFormatError
from ingest.settings import Settings

if TYPE_CHECKING:
    from ingest.embedding import Embedder
    from ingest.sentences import SentenceVectors
    from ingest.vectors import VectorStore


def open_catalog(settings: Settings) -> Catalog:
    return Catalog(settings.index_dir / "catalog.sqlite")


def dense_spaces(settings: Settings) -> list[str]:
    """The dense spaces this configuration fuses: "main" (``settings.embed_model``, MiniLM by
    default), "e5" (multilingual-e5-small, ``ingest.multilingual``) and "second"
    (``settings.second_model``), each of the last two when it has weight."""
    spaces = ["main"]
    if settings.e5_weight > 0:
        spaces.append("e5")
    if settings.second_weight > 0:
        spaces.append("second")
    return spaces


# the weight that turns each secondary dense space on (the next ingest fills it in)
SPACE_WEIGHTS = {"e5": ("e5_weight", 0.3), "second": ("second_weight", 0.25)}


def turn_on_hint(space: str) -> str:
    """The environment that turns a secondary dense space on, for messages that ask for it."""
    field, value = SPACE_WEIGHTS[space]
    model = "SHARPNOTES_SECOND_MODEL=all-mpnet-base-v2 " if space == "second" else ""
    return f"{model}SHARPNOTES_{field.upper()}={value}"


def second_collection(settings: Settings) -> str:
    """The second space's collection, named after its model: another model fills a collection
    of its own (the next ingest embeds every chunk into it) and never mixes vectors."""
    from ingest.embedding import resolve_model

    model_id, _ = resolve_model(settings.second_model or "")
    return "chunks_second_" + hashlib.sha1(model_id.encode()).hexdigest()[:10]


def open_space(settings: Settings, space: str, fresh: bool = False) -> VectorStore:
    from ingest import multilingual, sentences, vectors

    names = {"e5": multilingual.COLLECTION, "sentences": sentences.COLLECTION}
    if space == "second":
        name = second_collection(settings)
    else:
        name = names.get(space, vectors.COLLECTION)
    return vectors.VectorStore(settings, fresh=fresh, collection=name)


def open_sentences(settings: Settings, fresh: bool = False) -> SentenceVectors | None:
    """The sentence vectors (``ingest.sentences``), or None when ``sentence_weight`` is 0."""
    if settings.sentence_weight <= 0:
        return None
    from ingest.sentences import SentenceVectors

    return SentenceVectors(open_space(settings, "sentences", fresh))


def space_embedder(settings: Settings, space: str, purpose: Literal["ingest", "query"]) -> Embedder:
    """The embedder of a dense space, loaded once per process."""
    if space == "e5":
        from ingest.multilingual import load_e5

        return load_e5(settings, purpose)
    from ingest.embedding import load_embedder

    if space == "second":
        second = settings.model_copy(update={"embed_model": settings.second_model})
        return load_embedder(second, purpose)
    return load_embedder(settings, purpose)


def build_settings(settings: Settings, model_id: str) -> dict[str, str]:
    """What must match for an index to be used or updated."""
    return {
        "embed_model": model_id,
        "chunk_tokens": str(settings.chunk_tokens),
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
    from ingest import multilingual, sentences, vectors

    if not settings.index_dir.exists():
        return
    client = vectors.VectorStore(settings).client
    present = {c.name for c in client.list_collections()}
    for name in present & {vectors.COLLECTION, multilingual.COLLECTION, sentences.COLLECTION}:
        client.delete_collection(name)
    catalog = open_catalog(settings)
    with catalog.transaction() as conn:
        for table in ("chunks", "files", "meta"):
            conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    catalog.close()
    (settings.index_dir / bm25.POINTER).unlink(missing_ok=True)
    for folder in settings.index_dir.glob("bm25-*"):
        shutil.rmtree(folder, ignore_errors=True)
