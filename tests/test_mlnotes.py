"""Real notes nobody here wrote (../shared/data/mlnotes: tables, HTML, images, LaTeX, long
lists) ingest completely into sensible chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED_DATA
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest.catalog import ChunkRow
from sharpnotes.ingest.index import open_catalog
from sharpnotes.ingest.readers import EMPTY
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.sync import IngestReport, ingest

MLNOTES = SHARED_DATA / "mlnotes"
EMPTY_UPSTREAM = "Machine-Learning-Interviews/src/MLSD/mlsd-typeahead.md"  # 0 bytes upstream

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not MLNOTES.is_dir(), reason=f"{MLNOTES} not found (shared test data)"),
]


@pytest.fixture(scope="module")
def mlnotes(
    tmp_path_factory: pytest.TempPathFactory, models_dir: Path
) -> tuple[Settings, IngestReport, list[ChunkRow]]:
    """The whole collection ingested once for the module: its settings, report and chunks
    (without sentence vectors: the chunks are under test here, sentences in test_sentences)."""
    home = tmp_path_factory.mktemp("mlnotes") / "home"
    settings = Settings(home=home, models_dir=models_dir, sentence_weight=0.0)
    report = ingest([MLNOTES], settings)
    catalog = open_catalog(settings)
    try:
        rows = list(catalog.get_chunks(catalog.chunk_ids()).values())
    finally:
        catalog.close()
    return settings, report, rows


def test_mlnotes_ingest_every_file_into_sensible_chunks(
    mlnotes: tuple[Settings, IngestReport, list[ChunkRow]],
) -> None:
    settings, report, rows = mlnotes
    markdown = sorted(p.relative_to(MLNOTES).as_posix() for p in MLNOTES.rglob("*.md"))
    # the only file not indexed is the one that is empty in the upstream repository
    assert report.failed == [(EMPTY_UPSTREAM, EMPTY)]
    assert report.ok and "0 failed, 1 empty" in report.summary()  # a placeholder fails nothing
    assert sorted(report.added) == [m for m in markdown if m != EMPTY_UPSTREAM]
    assert sorted(report.unsupported) == [
        "Machine-Learning-Interviews/LICENSE",
        "data-science-interviews/LICENSE",
    ]

    assert len(rows) > 300
    assert all(r.text.strip() and r.heading for r in rows)
    from sharpnotes.ingest.embedding import load_embedder

    embedder = load_embedder(settings, purpose="query")
    sizes = embedder.count_tokens([r.heading + "\n\n" + r.text for r in rows])
    over = [r for r, n in zip(rows, sizes, strict=True) if n > embedder.max_tokens - 2]
    assert all("```" in r.text for r in over), [r.text[:80] for r in over]  # only whole code blocks
    per_file = {r.source for r in rows}
    assert per_file == set(report.added)
    # headings come from the notes' own structure
    theory = [r.heading for r in rows if r.source == "data-science-interviews/theory.md"]
    assert "Theoretical interview questions > Dimensionality reduction" in theory

    top = Searcher(settings).search("what is the bias-variance trade-off", k=3)
    assert any(
        r.source == "data-science-interviews/theory.md" and "Bias-variance" in r.text for r in top
    )


def test_html_and_image_tags_stay_as_text(
    mlnotes: tuple[Settings, IngestReport, list[ChunkRow]],
) -> None:
    rows = mlnotes[2]
    design = [r.text for r in rows if r.source.endswith("ml-system-design.md")]
    assert any("<img src=" in t for t in design)
