"""Ingestion with the real model, a real Chroma store and SQLite in tmp_path: incremental
re-ingest, renames, deletions, BM25/Chroma/catalog in sync, filters, mixed-language search."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import write_notes
from sharpnotes.app.retrieval import Filters, Searcher
from sharpnotes.ingest import bm25
from sharpnotes.ingest.catalog import IndexFormatError
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import ingest
from sharpnotes.ingest.vectors import VectorStore

pytestmark = pytest.mark.slow


def stored_ids(settings: Settings) -> tuple[set[str], set[str], set[str]]:
    """Chunk ids held by the catalog, Chroma and BM25."""
    catalog = open_catalog(settings)
    catalog_ids = set(catalog.chunk_ids())
    catalog.close()
    vector_ids = VectorStore(settings).all_ids()
    bm25_ids = set(bm25.BM25Index.load(settings.index_dir).ids)
    return catalog_ids, vector_ids, bm25_ids


def assert_in_sync(settings: Settings) -> set[str]:
    catalog_ids, vector_ids, bm25_ids = stored_ids(settings)
    assert catalog_ids == vector_ids == bm25_ids
    return catalog_ids


def test_first_ingest_then_unchanged_rerun_embeds_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    first = ingest([notes], settings)
    assert sorted(first.added) == sorted(
        [
            "detection/detr.md",
            "detection/deformable-detr.md",
            "fundamentals/bias-variance.md",
            "inbox/bev-mixed.md",
            "inbox/todo.txt",
        ]
    )
    assert first.ok and first.chunks_embedded > 5
    ids = assert_in_sync(settings)
    again = ingest([notes], settings)
    assert again.chunks_embedded == 0 and again.chunks_deleted == 0
    assert again.unchanged == 5 and not again.added and not again.updated
    assert assert_in_sync(settings) == ids
    # touching a file without changing it re-hashes but embeds nothing
    (notes / "inbox/todo.txt").touch()
    assert ingest([notes], settings).chunks_embedded == 0


def test_edit_embeds_only_changed_chunks_and_drops_edited_away_sections(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    before = assert_in_sync(settings)
    detr = notes / "detection/detr.md"
    text = detr.read_text()
    start = text.index("## Loss")
    detr.write_text(text[:start] + "## Loss\nThe set loss uses focal loss for classes.\n")
    report = ingest([notes], settings)
    assert report.updated == ["detection/detr.md"]
    assert report.chunks_embedded == 1  # only the rewritten Loss section
    after = assert_in_sync(settings)
    assert len(before - after) == 1 and len(after - before) == 1
    hits = Searcher(settings).search("focal loss for classes", k=1)
    assert hits[0].source == "detection/detr.md" and "focal loss" in hits[0].text


def test_deleted_file_leaves_no_chunks(tmp_path: Path, settings: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    (notes / "fundamentals/bias-variance.md").unlink()
    report = ingest([notes], settings)
    assert report.removed == ["fundamentals/bias-variance.md"] and report.chunks_deleted >= 1
    ids = assert_in_sync(settings)
    catalog = open_catalog(settings)
    assert all(
        r.source != "fundamentals/bias-variance.md"
        for r in catalog.get_chunks(sorted(ids)).values()
    )
    results = Searcher(settings).search("underfits overfits variance", k=10)
    assert all(r.source != "fundamentals/bias-variance.md" for r in results)


def test_rename_reuses_embeddings(tmp_path: Path, settings: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    (notes / "archive").mkdir()
    shutil.move(notes / "detection/deformable-detr.md", notes / "archive/deformable-detr.md")
    report = ingest([notes], settings)
    assert report.added == ["archive/deformable-detr.md"]
    assert report.removed == ["detection/deformable-detr.md"]
    assert report.chunks_embedded == 0 and report.chunks_reused >= 1
    assert_in_sync(settings)
    hit = Searcher(settings).search("deformable attention sampling points", k=1)[0]
    assert hit.source == "archive/deformable-detr.md"


def test_filters_by_folder_tag_and_type(tmp_path: Path, settings: Settings) -> None:
    ingest([write_notes(tmp_path / "notes")], settings)
    searcher = Searcher(settings)
    for mode in ("hybrid", "bm25", "dense"):
        in_folder = searcher.search(
            "transformer attention", k=10, filters=Filters(folder="detection"), mode=mode
        )
        assert in_folder and all(r.source.startswith("detection/") for r in in_folder)
        tagged = searcher.search(
            "bird's eye view depth", k=10, filters=Filters(tag="bev"), mode=mode
        )
        assert tagged and {r.source for r in tagged} == {"inbox/bev-mixed.md"}
        text_only = searcher.search("BEVFormer paper", k=10, filters=Filters(ext="txt"), mode=mode)
        assert [r.source for r in text_only] == ["inbox/todo.txt"]


def test_mixed_language_note_found_by_chinese_and_english_queries(
    tmp_path: Path, settings: Settings
) -> None:
    ingest([write_notes(tmp_path / "notes")], settings)
    searcher = Searcher(settings)
    zh = searcher.search("影像特徵投影到鳥瞰圖", k=3)
    assert zh[0].source == "inbox/bev-mixed.md" and "鳥瞰圖" in zh[0].text
    en = searcher.search("categorical depth distribution per pixel", k=3)
    assert en[0].source == "inbox/bev-mixed.md"


def test_pages_are_kept_for_pdf_citations(tmp_path: Path, settings: Settings) -> None:
    from test_readers import make_pdf

    notes = tmp_path / "notes"
    notes.mkdir()
    make_pdf(
        notes / "paper.pdf",
        ["Intro page on optimisers.", "Results: the Hungarian loss converged after 500 epochs."],
    )
    ingest([notes], settings)
    hit = Searcher(settings).search("how many epochs did training take", k=1)[0]
    assert (hit.source, hit.page) == ("paper.pdf", 2)


def test_files_a_reader_now_reads_better_are_read_again_once(
    tmp_path: Path, settings: Settings
) -> None:
    """An index whose PDFs an older reader read (here: the manifest says so) reads them again on
    its next ingest, and only them; the vectors of chunks whose text is unchanged are reused."""
    import json

    from test_readers import make_pdf

    from sharpnotes.ingest.readers import READER_VERSIONS

    notes = write_notes(tmp_path / "notes")
    make_pdf(notes / "paper.pdf", [f"Notes\nPage {n} on anchors and NMS.\nFooter" for n in "abc"])
    assert ingest([notes], settings).ok
    catalog = open_catalog(settings)
    assert json.loads(catalog.get_meta("readers") or "{}").get("pdf")  # what read them
    older = READER_VERSIONS | {"pdf": "1"}  # as an older sharpnotes left it
    catalog.set_meta({"readers": json.dumps(older)})
    catalog.close()
    again = ingest([notes], settings)
    assert again.updated == ["paper.pdf"] and again.unchanged == 5
    assert again.chunks_embedded == 0 and again.chunks_deleted == 0  # same text: reused
    assert_in_sync(settings)
    third = ingest([notes], settings)
    assert third.unchanged == 6 and not third.updated


def test_bad_files_are_skipped_and_nothing_indexed_is_lost(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    good = assert_in_sync(settings)
    (notes / "bad").mkdir()
    (notes / "bad/binary.md").write_bytes(b"\x00\x01\x02garbage")
    (notes / "bad/latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (notes / "bad/empty.md").write_bytes(b"")
    (notes / "bad/broken.pdf").write_bytes(b"%PDF-1.7\ntruncated")
    (notes / "bad/loop.md").symlink_to(notes / "bad/loop.md")
    (notes / "bad/picture.jpg").write_bytes(b"\xff\xd8")
    # a note that was fine and now is corrupt keeps its indexed chunks
    (notes / "detection/detr.md").write_bytes(b"\xff\xfe\x00broken")
    report = ingest([notes], settings)
    failed = dict(report.failed)
    assert set(failed) == {
        "bad/binary.md",
        "bad/latin1.md",
        "bad/empty.md",
        "bad/broken.pdf",
        "bad/loop.md",
        "detection/detr.md",
    }
    assert report.unsupported == ["bad/picture.jpg"]
    assert not report.ok
    assert assert_in_sync(settings) == good
    assert Searcher(settings).search("Hungarian matching", k=1)[0].source == "detection/detr.md"


def test_other_embedding_model_is_refused_with_the_command_to_run(
    tmp_path: Path, settings: Settings
) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    other = tmp_path / "other-model"
    from sharpnotes.ingest.embedding import resolve_model

    shutil.copytree(resolve_model(settings.models.embed_model)[1], other)
    changed = Settings(
        home=settings.paths.home, embed_model=str(other), models_dir=settings.paths.models_dir
    )
    with pytest.raises(IndexFormatError, match="sharpnotes ingest --rebuild"):
        Searcher(changed)
    with pytest.raises(IndexFormatError, match="sharpnotes ingest --rebuild"):
        ingest([notes], changed)
    report = ingest([notes], changed, rebuild=True)
    assert report.ok and len(report.added) == 5
    assert Searcher(changed).search("Hungarian", k=1)


def test_subfolder_resync_keeps_the_rest(tmp_path: Path, settings: Settings) -> None:
    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    before = assert_in_sync(settings)
    report = ingest([notes / "detection"], settings)
    assert report.unchanged == 2 and not report.removed
    assert assert_in_sync(settings) == before
    catalog = open_catalog(settings)
    assert "detection/detr.md" in catalog.files()


def test_chunk_budget_setting_reaches_the_chunker(tmp_path: Path, settings: Settings) -> None:
    """SHARPNOTES_CHUNK_TOKENS sets the chunk size (it once was recorded but not used); a budget
    past what the model reads is capped at it; changing it needs a rebuild."""
    from sharpnotes.ingest.embedding import load_embedder

    notes = write_notes(tmp_path / "notes")
    ingest([notes], settings)
    counts = {256: len(open_catalog(settings).chunk_ids())}
    embedder = load_embedder(settings, "ingest")
    for budget in (64, 1024):
        changed = settings.replace(chunk_tokens=budget)
        with pytest.raises(IndexFormatError, match="sharpnotes ingest --rebuild"):
            ingest([notes], changed)
        assert ingest([notes], changed, rebuild=True).ok
        catalog = open_catalog(changed)
        rows = catalog.get_chunks(catalog.chunk_ids())
        counts[budget] = len(rows)
        longest = max(embedder.count_tokens([r.heading + "\n\n" + r.text for r in rows.values()]))
        assert longest <= min(budget, embedder.max_tokens) + 8, budget  # code blocks are never cut
    assert counts[64] > counts[256] == counts[1024]
