"""A synthetic index of N chunks, scaled up from an ingested corpus without re-encoding it.

    python -m sharpnotes.eval.benchmarks.synthetic --n 100000 [--source HOME] [--out HOME]
        [--sigma 0.02]
    python -m sharpnotes.eval.benchmarks.synthetic --n 500000 --out HOME
        --extend   # grow a smaller usable home

Copy 0 is the source corpus as it is. Every further copy repeats each chunk under a folder
``copyNNN/`` with its vector, and each of its sentence vectors (``ingest.sentences``, when the
source has them; ``--no-sentences`` leaves them out), perturbed (Gaussian noise of ``sigma`` per
dimension, renormalised; 0.02 leaves a cosine of about 0.93 to the original with 384 dimensions)
and its text lightly altered (10% of words dropped, one adjacent pair swapped, the copy number
appended), so that BM25 and the vector index see distinct, realistic-looking documents. The
result is a complete index home written through the project's own parts: catalog rows
(``ingest.catalog``), the Chroma collections (``ingest.vectors.VectorStore``) and BM25
(``ingest.bm25``, built the way ingest does). Re-encoding 500,000 chunks would take most of a day
on a 2-core CPU; this takes minutes.

The default source is the cached SciFact index of ``python -m sharpnotes.eval.benchmarks.beir``; the
default output is ``~/.cache/sharpnotes/synthetic/<source>-<n>/home``. An existing complete output
is reused.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from sharpnotes.eval.benchmarks.paths import SCIFACT
from sharpnotes.ingest.settings import Settings

log = logging.getLogger(__name__)

CACHE = Path.home() / ".cache" / "sharpnotes" / "synthetic"
DONE = "synthetic.json"  # written last: a home without it is incomplete
_WRITE_BATCH = 10_000


@dataclass
class Base:
    """The source corpus: one row per chunk, and its vectors in the same order."""

    chunk_ids: list[str]
    sources: list[str]
    headings: list[str]
    pages: list[int | None]
    texts: list[str]
    embed_texts: list[str]
    metas: list[dict]
    vectors: np.ndarray
    # each chunk's sentence vectors (``ingest.sentences``) in their order, when the source has them
    sentences: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.chunk_ids)


def home_settings(home: Path, **overrides: object) -> Settings:
    """Settings for a synthetic home: sentence vectors are off when it was built without them."""
    defaults: dict[str, object] = {}
    if not has_sentences(home):
        defaults["sentence_weight"] = 0.0
    return Settings(home=home, **{**defaults, **overrides})


def has_sentences(home: Path) -> bool:
    """Whether a complete synthetic home holds sentence vectors (its summary says so)."""
    done = home / DONE
    return done.exists() and json.loads(done.read_text()).get("sentences", 0) > 0


def default_source() -> Path:
    from sharpnotes.eval.sets import cache_home

    return cache_home(SCIFACT)


def load_base(source: Path, sentences: bool = True) -> Base:
    """Read every chunk of an ingested home and its stored vectors (no encoding): the chunk's,
    and with ``sentences`` its sentence vectors when the home has them."""
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.vectors import VectorStore

    settings = Settings(home=source)
    if not (settings.index_dir / "catalog.sqlite").exists():
        raise SystemExit(
            f"no index at {settings.index_dir}; ingest a corpus there first "
            "(for SciFact: python -m sharpnotes.eval.benchmarks.beir ../shared/data/scifact)"
        )
    catalog = open_catalog(settings)
    try:
        rows = catalog.db.execute(
            "SELECT chunk_id, source, heading, page, text, embed_text, meta FROM chunks "
            "ORDER BY rowid"
        ).fetchall()
    finally:
        catalog.close()
    if not rows:
        raise SystemExit(f"the index at {settings.index_dir} is empty; ingest a corpus first")
    ids = [r[0] for r in rows]
    stored = VectorStore(settings).embeddings(ids)
    missing = [cid for cid in ids if cid not in stored]
    if missing:
        raise SystemExit(
            f"{len(missing)} chunks of {settings.index_dir} have no vector; "
            "run sharpnotes ingest on it to repair, then try again"
        )
    return Base(
        sentences=_load_sentences(settings, ids) if sentences else None,
        chunk_ids=ids,
        sources=[r[1] for r in rows],
        headings=[r[2] for r in rows],
        pages=[r[3] for r in rows],
        texts=[r[4] for r in rows],
        embed_texts=[r[5] for r in rows],
        metas=[json.loads(r[6]) for r in rows],
        vectors=np.stack([stored[cid] for cid in ids]).astype(np.float32),
    )


def _load_sentences(settings: Settings, ids: list[str]) -> list[np.ndarray] | None:
    """Each chunk's sentence vectors in order; None when the home has none."""
    from collections import Counter

    from sharpnotes.ingest.index import open_space
    from sharpnotes.ingest.sentences import complete_chunks, owner, sentence_ids

    store = open_space(settings, "sentences")
    sids = store.all_ids()
    if not sids:
        return None
    complete, _ = complete_chunks(sids)
    if lacking := set(ids) - complete:
        raise SystemExit(
            f"{len(lacking)} chunks of {settings.index_dir} lack sentence vectors; run sharpnotes "
            "ingest on it to complete them, or pass --no-sentences"
        )
    got = store.embeddings(sorted(sids))
    counts = Counter(owner(sid) for sid in sids)  # complete: a chunk's count is its N
    return [np.stack([got[sid] for sid in sentence_ids(cid, counts[cid])]) for cid in ids]


def alter_text(text: str, copy: int, rng: np.random.Generator, dropout: float = 0.1) -> str:
    """Drop about ``dropout`` of the words, swap one adjacent pair, append the copy number."""
    words = text.split(" ")
    if len(words) > 3:
        keep = rng.random(len(words)) >= dropout
        keep[0] = True
        words = [w for w, k in zip(words, keep, strict=True) if k]
        i = int(rng.integers(0, len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words) + f" (copy {copy})"


def perturb(vectors: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, sigma, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def build(
    base: Base,
    home: Path,
    n: int,
    sigma: float = 0.02,
    seed: int = 0,
    progress: bool = False,
    hnsw: dict | None = None,
) -> dict:
    """Write a complete index home of ``n`` chunks at ``home`` (which must not exist); ``hnsw``:
    Chroma HNSW settings for its collections instead of the ones ingest creates them with."""
    if hnsw:
        create_collections(home_settings(home), hnsw)
    return _write(base, home, 0, n, sigma, seed, progress)


def create_collections(settings: Settings, hnsw: dict) -> None:
    """Create the home's chunk and sentence collections with these HNSW settings (cosine space)
    before ingest's code opens them: Chroma keeps the configuration a collection was created
    with and ignores the one given when an existing collection is opened."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from sharpnotes.ingest import sentences, vectors

    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    client = chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    for name in (vectors.COLLECTION, sentences.COLLECTION):
        client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine", **hnsw}}, embedding_function=None
        )


def extend(
    base: Base, home: Path, n: int, sigma: float = 0.02, seed: int = 0, progress: bool = False
) -> dict:
    """Grow a usable home (complete, or finished by ``finish_partial``) to ``n`` chunks, writing
    only the rows it lacks. The noise of the new rows comes from (seed, current size), so an
    extension is as deterministic as a build, though not identical to building n at once."""
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.vectors import VectorStore

    settings = home_settings(home)
    catalog = open_catalog(settings)
    try:
        start = catalog.counts()[1]
    finally:
        catalog.close()
    vectors = VectorStore(settings).count()
    if vectors != start:
        raise SystemExit(
            f"{home}: the catalog has {start} chunks but Chroma has {vectors}; delete its "
            f"{DONE} and run python -m sharpnotes.eval.benchmarks.synthetic --out {home} "
            f"--n {n} --finish-partial, then extend"
        )
    if start >= n:
        raise SystemExit(f"{home} already has {start} chunks; pass a larger --n to extend it")
    built_from = json.loads((home / DONE).read_text()).get("base_chunks", len(base))
    if built_from != len(base):
        raise SystemExit(
            f"{home} was built from a source of {built_from} chunks, not {len(base)}; "
            "pass the same --source"
        )
    if not has_sentences(home):
        base = replace(base, sentences=None)  # the new rows match the old: no sentences either
    elif base.sentences is None:
        raise SystemExit(
            f"{home} holds sentence vectors and the source has none; pass a source "
            "with sentence vectors"
        )
    (home / DONE).unlink()  # incomplete again until the new rows, BM25 and manifest are written
    return _write(base, home, start, n, sigma, seed, progress)


def _write(
    base: Base, home: Path, start: int, n: int, sigma: float, seed: int, progress: bool
) -> dict:
    """Write rows ``start`` to ``n`` of the synthetic index into ``home``, then BM25 over all of
    it, the manifest, and last the summary that marks the home complete."""
    from sharpnotes.ingest.catalog import FileRecord
    from sharpnotes.ingest.chunking import Chunk, make_chunk_id, sha1
    from sharpnotes.ingest.embedding import resolve_model
    from sharpnotes.ingest.index import open_catalog, open_space
    from sharpnotes.ingest.sentences import sentence_ids
    from sharpnotes.ingest.vectors import VectorStore, chroma_metadata

    started = time.perf_counter()
    settings = home_settings(home)
    model_id, _ = resolve_model(settings.models.embed_model)
    rng = np.random.default_rng([seed, start] if start else seed)
    store = VectorStore(settings)
    sentence_store = open_space(settings, "sentences") if base.sentences is not None else None
    catalog = open_catalog(settings)
    root = str(home.parent / "notes")
    written = start
    sentence_count = sentence_store.count() if sentence_store is not None else 0
    timings = {"chroma_s": 0.0, "sentences_s": 0.0, "catalog_s": 0.0, "bm25_s": 0.0}
    try:
        while written < n:
            count = min(_WRITE_BATCH, n - written)
            rows = [(i // len(base), i % len(base)) for i in range(written, written + count)]
            chunks: list[Chunk] = []
            vectors = np.empty((count, base.vectors.shape[1]), np.float32)
            sentence_vectors: list[np.ndarray] = []
            for j, (copy, i) in enumerate(rows):
                if copy == 0:
                    chunk_id, source = base.chunk_ids[i], base.sources[i]
                    text, embed_text = base.texts[i], base.embed_texts[i]
                    vectors[j] = base.vectors[i]
                    if base.sentences is not None:
                        sentence_vectors.append(base.sentences[i])
                else:
                    source = f"copy{copy:03d}/{base.sources[i]}"
                    text = alter_text(base.texts[i], copy, rng)
                    prefix = base.embed_texts[i][: -len(base.texts[i])] if base.texts[i] else ""
                    embed_text = prefix + text
                    chunk_id = make_chunk_id(source, base.headings[i], sha1(embed_text))
                    vectors[j] = perturb(base.vectors[i : i + 1], sigma, rng)[0]
                    if base.sentences is not None:
                        sentence_vectors.append(perturb(base.sentences[i], sigma, rng))
                chunks.append(
                    Chunk(
                        chunk_id=chunk_id,
                        source=source,
                        heading=base.headings[i],
                        page=base.pages[i],
                        text=text,
                        embed_text=embed_text,
                        content_hash=sha1(embed_text),
                        ordinal=j,
                        meta=base.metas[i],
                    )
                )
            # The order ingest writes in: vectors first (the chunk's, then its sentences'), then
            # the catalog, then BM25.
            t0 = time.perf_counter()
            metas = [
                chroma_metadata(c.source, c.heading, c.page, c.meta.get("tags", [])) for c in chunks
            ]
            store.upsert([c.chunk_id for c in chunks], vectors, [c.text for c in chunks], metas)
            ts = time.perf_counter()
            if sentence_store is not None:
                sids: list[str] = []
                smetas: list[dict] = []
                for c, meta, sv in zip(chunks, metas, sentence_vectors, strict=True):
                    sids += sentence_ids(c.chunk_id, len(sv))
                    smetas += [{**meta, "chunk_id": c.chunk_id}] * len(sv)
                sentence_store.upsert(sids, np.concatenate(sentence_vectors), None, smetas)
                sentence_count += len(sids)
            t1 = time.perf_counter()
            by_source: dict[str, list[Chunk]] = defaultdict(list)
            for c in chunks:
                by_source[c.source].append(c)
            with catalog.transaction() as conn:
                now = time.time()
                for source, file_chunks in by_source.items():
                    # A file split across two batches keeps the chunks of both.
                    file_chunks = [*_stored_chunks(catalog, source), *file_chunks]
                    digest = sha1("".join(c.content_hash for c in file_chunks))
                    size = sum(len(c.text) for c in file_chunks)
                    record = FileRecord(source, root, digest, size, 0.0, len(file_chunks), now)
                    catalog.put_file(conn, record, file_chunks)
            t2 = time.perf_counter()
            timings["chroma_s"] += ts - t0
            timings["sentences_s"] += t1 - ts
            timings["catalog_s"] += t2 - t1
            written += count
            if progress:
                elapsed = time.perf_counter() - started
                log.info(
                    "%d/%d chunks, %.0f s (chroma %.0f s, catalog %.0f s), %.0f chunks/s",
                    written,
                    n,
                    elapsed,
                    timings["chroma_s"],
                    timings["catalog_s"],
                    (written - start) / elapsed,
                )
        t0 = time.perf_counter()
        _rebuild_bm25(settings)
        timings["bm25_s"] = time.perf_counter() - t0
        catalog.set_meta(_manifest(settings, model_id, root))
    finally:
        catalog.close()
    summary = {
        "chunks": n,
        "sentences": sentence_count,
        "hnsw": _hnsw_of(store),
        "base_chunks": len(base),
        "copies": -(-n // len(base)),
        "sigma": sigma,
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        **({"extended_from": start} if start else {}),
        **{k: round(v, 1) for k, v in timings.items()},
    }
    (home / DONE).write_text(json.dumps(summary, indent=1))
    if progress:
        log.info("built %s: %s", home, summary)
    return summary


def _hnsw_of(store) -> dict:  # type: ignore[no-untyped-def]
    """The HNSW settings a collection was created with (as Chroma reports them)."""
    config = store.collection.configuration or {}
    return {k: v for k, v in (config.get("hnsw") or {}).items() if v is not None}


def _manifest(settings: Settings, model_id: str, root: str) -> dict:
    from sharpnotes.ingest.index import build_settings

    return {
        **build_settings(settings, model_id),
        "roots": [root],
        "last_sync": time.time(),
        "embed_backend": "synthetic",
    }


def finish_partial(home: Path) -> dict:
    """Make an interrupted build usable at the size it reached (for a build that cannot finish
    in the time there is): drop the vectors of a batch the catalog did not take, then write BM25
    and the manifest. Catalog batches are whole (one transaction each), so the catalog is the
    truth, as in ``sharpnotes ingest``'s recovery."""
    from sharpnotes.ingest.embedding import resolve_model
    from sharpnotes.ingest.index import open_catalog, open_space
    from sharpnotes.ingest.sentences import owner
    from sharpnotes.ingest.vectors import VectorStore

    settings = home_settings(home)
    model_id, _ = resolve_model(settings.models.embed_model)
    catalog = open_catalog(settings)
    try:
        ids = set(catalog.chunk_ids())
        store = VectorStore(settings)
        extra = store.all_ids() - ids
        store.delete(sorted(extra))
        sentence_store = open_space(settings, "sentences")
        sids = sentence_store.all_ids()
        stray = sorted(sid for sid in sids if owner(sid) not in ids)
        sentence_store.delete(stray)
        t0 = time.perf_counter()
        _rebuild_bm25(settings)
        bm25_s = time.perf_counter() - t0
        catalog.set_meta(_manifest(settings, model_id, str(home.parent / "notes")))
    finally:
        catalog.close()
    summary = {
        "chunks": len(ids),
        "sentences": len(sids) - len(stray),
        "interrupted": True,
        "vectors_dropped": len(extra),
        "seconds": None,
        "bm25_s": round(bm25_s, 1),
    }
    (home / DONE).write_text(json.dumps(summary, indent=1))
    return summary


def _stored_chunks(catalog, source: str) -> list:  # type: ignore[no-untyped-def]
    """Chunks of ``source`` already in the catalog from an earlier batch (rare: at most one file
    per batch boundary)."""
    from sharpnotes.ingest.chunking import Chunk

    rows = catalog.db.execute(
        "SELECT chunk_id, source, heading, page, text, embed_text, content_hash, ordinal, meta "
        "FROM chunks WHERE source=? ORDER BY rowid",
        (source,),
    ).fetchall()
    return [Chunk(*r[:8], meta=json.loads(r[8])) for r in rows]


def _rebuild_bm25(settings: Settings) -> None:
    """BM25 over the catalog, built by the same code as ``sharpnotes ingest`` (so any change to
    how ingest builds it, fields or parameters, is measured here too)."""
    from sharpnotes.ingest.sync import IngestReport, _Ingest

    writer = _Ingest(settings, IngestReport(), lambda stage, done, total: None)
    try:
        writer.rebuild_bm25()
    finally:
        writer.catalog.close()


def bm25_stale(home: Path) -> bool:
    """Whether the home's BM25 was built from other chunks or with other parameters than
    ``sharpnotes ingest`` would use now (so that a change to BM25 is measured, not a stale
    build)."""
    from sharpnotes.ingest import bm25
    from sharpnotes.ingest.index import open_catalog

    settings = home_settings(home)
    catalog = open_catalog(settings)
    try:
        ids = catalog.chunk_ids()
    finally:
        catalog.close()
    pointer = bm25.read_pointer(settings.index_dir) or {}
    return pointer.get("ids_sha1") != bm25.ids_digest(ids)


def default_out(source: Path, n: int) -> Path:
    return CACHE / f"{source.parent.name}-{n}" / "home"


def dir_size(path: Path) -> int:
    """Bytes on disk under a file or folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def index_sizes(home: Path) -> dict[str, int]:
    """Bytes on disk of the three parts of an index home."""
    index = home / "index"
    catalog = sum(dir_size(f) for f in index.glob("catalog.sqlite*"))
    from sharpnotes.ingest.bm25 import POINTER, read_pointer

    pointer = read_pointer(index) or {}  # the current build only: an older one may remain a while
    bm25 = dir_size(index / POINTER) + (dir_size(index / pointer["folder"]) if pointer else 0)
    return {
        "chroma_bytes": dir_size(index / "chroma"),
        "bm25_bytes": bm25,
        "catalog_bytes": catalog,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, required=True, help="number of chunks")
    parser.add_argument("--source", type=Path, help="an ingested home (default: cached SciFact)")
    parser.add_argument("--out", type=Path, help="the new home (must not exist)")
    parser.add_argument("--sigma", type=float, default=0.02, help="noise per vector dimension")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rebuild-bm25", action="store_true", help="only rebuild BM25 of a complete home"
    )
    parser.add_argument(
        "--finish-partial",
        action="store_true",
        help="make a killed build usable at the size it reached",
    )
    parser.add_argument(
        "--extend", action="store_true", help="grow a usable home at --out to --n chunks"
    )
    parser.add_argument(
        "--no-sentences", action="store_true", help="copy chunk vectors only, not sentence vectors"
    )
    parser.add_argument(
        "--hnsw",
        type=json.loads,
        default=None,
        help="Chroma HNSW settings of a new home, e.g. '{\"ef_construction\": 50}'",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    source = args.source or default_source()
    out = args.out or default_out(source, args.n)
    if args.finish_partial:
        if (out / DONE).exists() or not (out / "index" / "catalog.sqlite").exists():
            parser.error(f"{out} is not an interrupted synthetic build")
        print(json.dumps(finish_partial(out), indent=1))
        return 0
    if args.extend:
        if not (out / DONE).exists():
            parser.error(
                f"{out} is not a usable synthetic home; build it, or run --finish-partial first"
            )
        summary = extend(
            load_base(source, not args.no_sentences),
            out,
            args.n,
            args.sigma,
            args.seed,
            progress=True,
        )
        print(json.dumps({"home": str(out), **summary, **index_sizes(out)}, indent=1))
        return 0
    if args.rebuild_bm25:
        if not (out / DONE).exists():
            parser.error(f"{out} is not a complete synthetic home; build it first")
        started = time.perf_counter()
        _rebuild_bm25(home_settings(out))
        print(f"rebuilt BM25 of {out} in {time.perf_counter() - started:.1f} s")
        return 0
    if (out / DONE).exists():
        print(f"{out} is complete: {(out / DONE).read_text()}")
        return 0
    if out.exists() and args.out:
        parser.error(f"{out} exists; pass a new folder to --out or delete it")
    if out.exists():
        shutil.rmtree(out)  # an interrupted build of the default output
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = build(
        load_base(source, not args.no_sentences),
        out,
        args.n,
        args.sigma,
        args.seed,
        progress=True,
        hnsw=args.hnsw,
    )
    print(json.dumps({"home": str(out), **summary, **index_sizes(out)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
