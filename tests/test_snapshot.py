"""The dense snapshot of a small index (``ingest.snapshot``) and the numpy-only BM25 read: with
real MiniLM, Chroma and bm25s, the snapshot answers as Chroma does (same neighbours, same
cosines, same filters), it belongs to one BM25 build and is replaced with it, a search in a new
process reads it without importing chromadb or bm25s, and an index over the bound has none."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE_NOTES, write_notes
from sharpnotes.app.retrieval import Filters, Searcher
from sharpnotes.ingest import bm25, onnx_export, snapshot
from sharpnotes.ingest.index import open_space
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.vectors import VectorStore, where_filter

QUERIES = [
    "why does DETR not need non-maximum suppression",
    "deformable attention sampling points",
    "what does high variance mean",
    "深度分佈 鳥瞰圖",
]


def snapshots(settings: Settings) -> list[Path]:
    return sorted(settings.index_dir.glob(f"{snapshot.PREFIX}*.npz"))


def python_json(script: str, *args: str, **env: str) -> dict:
    """What ``script`` prints as JSON, run by a new Python process (with ``env`` added)."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def indexed(settings: Settings, tmp_path: Path) -> tuple[Settings, Path]:
    notes = write_notes(tmp_path / "notes")
    assert ingest([notes], settings).ok
    return settings, notes


def test_the_snapshot_answers_as_chroma_does(indexed: tuple[Settings, Path]) -> None:
    settings, _ = indexed
    pointer = bm25.read_pointer(settings.index_dir)
    assert snapshots(settings) == [snapshot.path_for(settings, pointer)]
    flat = snapshot.load(settings, pointer)
    assert flat is not None and set(flat) == {"chunks", "sentences"}
    embedder = Searcher(settings).embedder()
    filters = [
        None,
        where_filter("detection", None, None),
        where_filter(None, "detection", None),
        where_filter(None, None, "txt"),
        where_filter("detection", "transformers", "md"),
    ]
    for space in ("chunks", "sentences"):
        chroma = open_space(settings, space)
        assert flat[space].count() == chroma.count() > 0
        for query in QUERIES:
            vector = embedder.embed([query])[0]
            for where in filters:
                want = chroma.query(vector, 5, where)
                got = flat[space].query(vector, 5, where)
                assert [cid for cid, _ in got] == [cid for cid, _ in want], (space, query, where)
                assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-4)
        top = flat[space].query_with_vectors(vector, 3, None)
        stored = chroma.embeddings([cid for cid, _, _ in top])
        read = flat[space].embeddings([cid for cid, _, _ in top] + ["not-held"])
        assert list(read) == [cid for cid, _, _ in top]
        for cid, _, vec in top:
            assert np.allclose(vec, stored[cid] / np.linalg.norm(stored[cid]), atol=1e-6)
            assert np.allclose(read[cid], vec)
    # the whole search: the same passages in the same order, with the snapshot and without it
    with_snapshot = Searcher(settings)
    without = Searcher(settings.replace(snapshot_max_vectors=0))
    for query in QUERIES:
        for mode in ("dense", "hybrid"):
            a = with_snapshot.search(query, k=5, mode=mode)
            b = without.search(query, k=5, mode=mode)
            assert [r.chunk_id for r in a] == [r.chunk_id for r in b], (query, mode)
    folder = Filters(folder="detection")
    hits = with_snapshot.search(QUERIES[0], k=5, filters=folder, mode="dense")
    assert hits and all(h.source.startswith("detection/") for h in hits)


def test_the_snapshot_follows_its_build_and_an_ingest_restores_a_missing_one(
    indexed: tuple[Settings, Path],
) -> None:
    settings, notes = indexed
    searcher = Searcher(settings)
    assert searcher.search("gradient clipping norm threshold", k=1, mode="dense")  # loads it
    first = snapshots(settings)
    (notes / "fundamentals" / "clipping.md").write_text(
        "# Gradient clipping\n\nClipping rescales the gradient when its norm exceeds a "
        "threshold, which keeps one bad batch from wrecking the weights.\n",
        encoding="utf-8",
    )
    assert ingest([notes], settings).ok
    second = snapshots(settings)
    assert len(second) == 1 and second != first  # the old build's snapshot is gone
    flat = snapshot.load(settings, bm25.read_pointer(settings.index_dir))
    assert flat is not None
    catalog_ids = set(Searcher(settings).catalog.chunk_ids())
    assert set(flat["chunks"].ids) == catalog_ids
    assert {sid.split(":")[0] for sid in flat["sentences"].ids} == catalog_ids
    # the running searcher sees the new build through its pointer
    hits = searcher.search("gradient clipping norm threshold", k=1, mode="dense")
    assert hits[0].source == "fundamentals/clipping.md"
    # a snapshot lost (an ingest killed after its BM25 build) is written by the next ingest
    second[0].unlink()
    report = ingest([notes], settings)
    assert report.ok and report.chunks_embedded == 0
    assert snapshots(settings) == second


def test_a_search_in_a_new_process_needs_neither_chromadb_nor_bm25s(
    indexed: tuple[Settings, Path],
) -> None:
    settings, _ = indexed
    script = (
        "import json, sys\n"
        "from sharpnotes.app.retrieval import Searcher\n"
        "from sharpnotes.ingest.settings import Settings\n"
        "hits = Searcher(Settings()).search(sys.argv[1], k=3)\n"
        "heavy = sorted(m for m in ('chromadb', 'bm25s', 'scipy') if m in sys.modules)\n"
        "print(json.dumps({'sources': [h.source for h in hits], 'heavy': heavy}))\n"
    )
    fast = python_json(script, "Hungarian matching DETR")
    assert fast["heavy"] == [] and fast["sources"][0] == "detection/detr.md"
    # over the bound the same search reads Chroma (and finds the same passage)
    slow = python_json(script, "Hungarian matching DETR", SHARPNOTES_SNAPSHOT_MAX_VECTORS="0")
    assert "chromadb" in slow["heavy"] and slow["sources"] == fast["sources"]


def test_an_index_over_the_bound_keeps_no_snapshot(settings: Settings, tmp_path: Path) -> None:
    notes = write_notes(tmp_path / "notes")
    small = settings.replace(snapshot_max_vectors=5)
    assert ingest([notes], small).ok
    assert snapshots(small) == []
    assert snapshot.load(small, bm25.read_pointer(small.index_dir)) is None
    assert Searcher(small).search("Hungarian algorithm", k=1)[0].source == "detection/detr.md"
    # raised again, the next ingest writes it without re-embedding anything
    assert ingest([notes], settings).ok and len(snapshots(settings)) == 1


def test_filters_the_snapshot_cannot_read_are_refused() -> None:
    meta = {"source": "a/b.md", "ext": "md", "dir:a": True, "tag:x": True}
    assert snapshot.matches(meta, {"dir:a": True})
    assert snapshot.matches(meta, {"$and": [{"dir:a": True}, {"ext": "md"}]})
    assert not snapshot.matches(meta, {"$and": [{"dir:a": True}, {"tag:y": True}]})
    assert not snapshot.matches(meta, {"ext": "txt"})
    with pytest.raises(ValueError, match="cannot filter"):
        snapshot.matches(meta, {"$or": [{"ext": "md"}]})
    with pytest.raises(ValueError, match="cannot filter"):
        snapshot.matches(meta, {"source": {"$in": ["a/b.md"]}})


def test_bm25_reads_its_own_matrix_and_an_older_build_through_bm25s(tmp_path: Path) -> None:
    texts = [f"heading {i}\n\n{text}" for i, text in enumerate(SAMPLE_NOTES.values())]
    ids = [f"c{i}" for i in range(len(texts))]
    built = bm25.BM25Index.build(ids, texts, bm25.BM25Params())
    built.save(tmp_path)
    pointer = bm25.read_pointer(tmp_path)
    assert pointer is not None
    mine = bm25.BM25Index.load(tmp_path)
    assert mine is not None and mine.retriever is None  # no bm25s object: numpy arrays alone
    # a build written before matrix.npz existed: bm25s's own files only
    folder = tmp_path / pointer["folder"]
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    (older / bm25.MATRIX).unlink()
    (older / bm25.VOCAB).unlink()
    theirs = bm25.BM25Index.load(tmp_path, {**pointer, "folder": "older"})
    assert theirs is not None and theirs.retriever is not None
    for query in ("Hungarian matching", "深度分佈", "variance overfits training", "nothing here"):
        assert np.allclose(mine.scores(query), built.scores(query))
        assert np.allclose(theirs.scores(query), built.scores(query))


def test_the_model_fingerprint_is_remembered_while_the_files_are_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 1000)
    (model / "config.json").write_text("{}")
    memo = tmp_path / "cache" / onnx_export.MEMO
    monkeypatch.setattr(onnx_export, "_FINGERPRINTS", {})
    first = onnx_export.model_fingerprint(model, memo)
    assert json.loads(memo.read_text()) and list(json.loads(memo.read_text()).values()) == [first]
    monkeypatch.setattr(onnx_export, "_FINGERPRINTS", {})
    assert onnx_export.model_fingerprint(model) == first  # the memo holds the content digest
    monkeypatch.setattr(onnx_export, "_FINGERPRINTS", {})
    before = (model / "weights.bin").stat().st_mtime_ns
    (model / "weights.bin").write_bytes(b"\x01" * 1000)  # same size, new bytes
    os.utime(model / "weights.bin", ns=(before + 10**9, before + 10**9))  # a later write
    changed = onnx_export.model_fingerprint(model, memo)
    assert changed != first and len(json.loads(memo.read_text())) == 2


def test_an_unchanged_ingest_trusts_a_clean_last_ingest_and_check_compares_anyway(
    indexed: tuple[Settings, Path],
) -> None:
    settings, notes = indexed
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from sharpnotes.ingest.settings import Settings\n"
        "from sharpnotes.ingest.sync import ingest\n"
        "report = ingest([Path(sys.argv[1])], Settings(), check=sys.argv[2] == 'check')\n"
        "print(json.dumps({'chromadb': 'chromadb' in sys.modules, 'ok': report.ok,\n"
        "                  'embedded': report.chunks_embedded}))\n"
    )

    def run(mode: str) -> dict:
        return python_json(script, str(notes), mode)

    assert run("plain") == {"chromadb": False, "ok": True, "embedded": 0}
    # a vector lost behind sharpnotes' back (a partly restored backup): the clean proof still
    # stands, so only --check finds it and embeds its note again
    catalog_ids = sorted(Searcher(settings).catalog.chunk_ids())
    open_space(settings).delete(catalog_ids[:1])
    checked = run("check")
    assert checked["chromadb"] and checked["embedded"] >= 1
    assert open_space(settings).all_ids() == set(catalog_ids)
    # an ingest that writes removes the proof first; a run killed after that is checked in full
    (notes / "fundamentals" / "bias-variance.md").write_text(
        "# Bias and variance\n\nHigh bias underfits.\n", encoding="utf-8"
    )
    changed = run("plain")
    assert changed["chromadb"] and changed["embedded"] >= 1 and len(snapshots(settings)) == 1


def test_a_damaged_snapshot_is_passed_over_then_written_again(
    indexed: tuple[Settings, Path], caplog: pytest.LogCaptureFixture
) -> None:
    settings, notes = indexed
    want = [r.chunk_id for r in Searcher(settings).search(QUERIES[0], k=5)]
    (held,) = snapshots(settings)
    held.write_bytes(b"half a file")
    searcher = Searcher(settings)
    with caplog.at_level("WARNING", logger="sharpnotes.ingest.snapshot"):
        assert [r.chunk_id for r in searcher.search(QUERIES[0], k=5)] == want  # from Chroma
        searcher.search(QUERIES[1], k=5)
    assert caplog.text.count("cannot read the dense snapshot") == 1  # once a build
    assert isinstance(searcher._store("chunks"), VectorStore)
    # an unchanged ingest finds it unreadable, checks the store in full and writes it again
    assert ingest([notes], settings).ok
    assert snapshots(settings) == [held] and snapshot.spaces(held) == {"chunks", "sentences"}
