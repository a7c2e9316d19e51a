"""The benchmark scripts in eval/ run end to end at a tiny size, so they cannot rot.

Real pipeline, real model, real Chroma: 15 SciFact abstracts are ingested by the ingest benchmark,
scaled to 2,000 chunks by sharpnotes.eval.benchmarks.synthetic, queried by the scale benchmark and
loaded from 4 threads by the load benchmark. Only the shape of the results and the absence of errors
are checked, never timings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA

SCIFACT = SHARED_DATA / "scifact"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="needs shared SciFact"),
]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, dict]:
    """The ingest benchmark on 15 abstracts, keeping its index as the synthetic source."""
    from sharpnotes.eval.benchmarks import ingest_bench

    work = tmp_path_factory.mktemp("ingest-bench")
    out = work / "ingest.json"
    with pytest.MonkeyPatch.context() as mp:  # module fixtures start before the hermetic one
        mp.setenv("SHARPNOTES_MODELS_DIR", str(models_dir))
        mp.setenv("SHARPNOTES_CONFIG", "none")
        argv = ["--docs", "15", "--scifact", str(SCIFACT), "--workdir", str(work / "run")]
        assert ingest_bench.main([*argv, "--rounds", "1", "--out", str(out)]) == 0
    return work / "run" / "home-1", json.loads(out.read_text())


def test_ingest_bench_reports_the_whole_ingest_against_plain_encoding(
    ingested: tuple[Path, dict],
) -> None:
    _, result = ingested
    r = result["run"]
    (full,) = r["ingest"]
    (plain,) = r["plain_fp32_encode"]
    assert result["corpus"] == "15 SciFact abstracts" and r["chunks"] >= 15
    assert full["chunks_embedded"] == plain["texts"] == r["chunks"]
    assert full["sentences_embedded"] > r["chunks"]  # sentence vectors are part of the ingest
    assert r["ratio_wall"] == pytest.approx(plain["encode_s"] / full["wall_s"], rel=0.01)
    assert r["ratio_cpu"] == pytest.approx(plain["encode_cpu_s"] / full["cpu_s"], rel=0.01)
    assert r["reingest"]["chunks_embedded"] == 0 and r["reingest"]["unchanged"] == 15
    assert 0 < r["reingest_fraction"] < 1
    assert 0 < full["peak_rss_mib"] == r["peak_rss_mib"]
    assert result["settings"]["sentence_weight"] > 0 and result["machine"]["cores"] >= 1


def test_ingest_bench_without_plain_encoding_reports_the_ingests_alone(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sharpnotes.eval.benchmarks import ingest_bench

    monkeypatch.setenv("SHARPNOTES_MODELS_DIR", str(models_dir))
    out = tmp_path / "memory.json"
    argv = ["--docs", "8", "--scifact", str(SCIFACT), "--rounds", "1", "--no-plain"]
    assert ingest_bench.main([*argv, "--out", str(out)]) == 0
    r = json.loads(out.read_text())["run"]
    assert "plain_fp32_encode" not in r and "ratio_wall" not in r
    (full,) = r["ingest"]
    assert full["chunks_embedded"] == r["chunks"] >= 8 and r["reingest"]["unchanged"] == 8
    assert 0 < full["peak_rss_mib"] == r["peak_rss_mib"]


def test_synthetic_home_scales_the_corpus_without_reencoding(
    ingested: tuple[Path, dict], tmp_path: Path
) -> None:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.benchmarks import synthetic
    from sharpnotes.ingest.index import open_catalog
    from sharpnotes.ingest.vectors import VectorStore

    source, _ = ingested
    base = synthetic.load_base(source)
    home = tmp_path / "synth" / "home"
    summary = synthetic.build(base, home, 500)
    settings = synthetic.home_settings(home)
    catalog = open_catalog(settings)
    ids = catalog.chunk_ids()
    catalog.close()
    assert summary["chunks"] == len(ids) == len(set(ids)) == 500
    assert VectorStore(settings).all_ids() == set(ids)
    assert set(base.chunk_ids) <= set(ids)  # copy 0 is the corpus as it is
    vectors = VectorStore(settings).embeddings(ids)
    copy = next(cid for cid in ids if cid not in set(base.chunk_ids))
    assert abs(float(vectors[copy] @ vectors[copy]) - 1.0) < 1e-4
    row = catalog_row(settings, copy)
    assert row.source.startswith("copy") and row.text.endswith(")")
    assert row.text != catalog_row(settings, base.chunk_ids[0]).text
    found = Searcher(settings).search(row.text, k=5, mode="bm25")
    assert copy in [r.chunk_id for r in found]  # BM25 indexes the altered text


def test_a_synthetic_home_copies_sentence_vectors_perturbed(
    ingested: tuple[Path, dict], tmp_path: Path
) -> None:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.benchmarks import synthetic
    from sharpnotes.ingest.index import open_catalog, open_space
    from sharpnotes.ingest.sentences import complete_chunks, sentence_ids
    from sharpnotes.ingest.settings import Settings

    source, _ = ingested
    base = synthetic.load_base(source)
    assert base.sentences is not None and len(base.sentences) == len(base)
    home = tmp_path / "synth" / "home"
    summary = synthetic.build(base, home, 2 * len(base))
    settings = synthetic.home_settings(home)
    assert synthetic.has_sentences(home)
    assert (
        settings.retrieval.sentence_weight == Settings().retrieval.sentence_weight
    )  # searched as the default is
    catalog = open_catalog(settings)
    ids = catalog.chunk_ids()
    catalog.close()
    store = open_space(settings, "sentences")
    complete, present = complete_chunks(store.all_ids())
    assert complete == present == set(ids)
    assert summary["sentences"] == store.count() == 2 * sum(len(v) for v in base.sentences)
    i = next(i for i, src in enumerate(base.sources) if base.sources.count(src) == 1)
    copy = next(
        cid for cid in ids if catalog_row(settings, cid).source == f"copy001/{base.sources[i]}"
    )
    got = store.embeddings(sentence_ids(copy, len(base.sentences[i])))
    vectors = np.stack([got[sid] for sid in sentence_ids(copy, len(base.sentences[i]))])
    cosines = np.sum(vectors * base.sentences[i], axis=1)
    assert np.all((cosines > 0.8) & (cosines < 0.999))  # perturbed, not copied, not scrambled

    plain = tmp_path / "plain" / "home"
    synthetic.build(synthetic.load_base(source, sentences=False), plain, len(base) + 5)
    assert not synthetic.has_sentences(plain)
    assert synthetic.home_settings(plain).retrieval.sentence_weight == 0.0
    assert Searcher(synthetic.home_settings(plain)).search("cell", k=3, mode="dense")


def test_an_interrupted_synthetic_build_is_finished_at_the_size_it_reached(
    ingested: tuple[Path, dict], tmp_path: Path
) -> None:
    from sharpnotes.eval.benchmarks import synthetic
    from sharpnotes.ingest.index import open_catalog, open_space
    from sharpnotes.ingest.sentences import complete_chunks
    from sharpnotes.ingest.vectors import VectorStore

    source, _ = ingested
    home = tmp_path / "partial" / "home"
    synthetic.build(synthetic.load_base(source), home, 300)
    # As if killed after the vectors of a batch were written but before the catalog took it.
    (home / synthetic.DONE).unlink()
    settings = synthetic.home_settings(home)
    catalog = open_catalog(settings)
    with catalog.transaction() as conn:
        conn.execute("DELETE FROM chunks WHERE rowid IN (SELECT rowid FROM chunks LIMIT 40)")
    catalog.close()
    summary = synthetic.finish_partial(home)
    assert summary["chunks"] == 260 and summary["vectors_dropped"] == 40
    assert len(VectorStore(settings).all_ids()) == 260
    complete, present = complete_chunks(open_space(settings, "sentences").all_ids())
    assert complete == present == set(VectorStore(settings).all_ids())  # strays dropped too
    assert synthetic.has_sentences(home)
    assert not synthetic.bm25_stale(home)
    assert (home / synthetic.DONE).exists()


def test_a_synthetic_home_is_extended_in_place_to_a_larger_size(
    ingested: tuple[Path, dict], tmp_path: Path
) -> None:
    import shutil

    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.eval.benchmarks import synthetic
    from sharpnotes.ingest.index import open_catalog, open_space
    from sharpnotes.ingest.sentences import complete_chunks
    from sharpnotes.ingest.vectors import VectorStore

    source, _ = ingested
    base = synthetic.load_base(source)
    home, twin = tmp_path / "a" / "home", tmp_path / "b" / "home"
    synthetic.build(base, home, 300)
    shutil.copytree(home, twin)
    summary = synthetic.extend(base, home, 700)
    assert summary["chunks"] == 700 and summary["extended_from"] == 300
    settings = synthetic.home_settings(home)
    catalog = open_catalog(settings)
    ids = catalog.chunk_ids()
    catalog.close()
    assert len(ids) == len(set(ids)) == 700
    assert VectorStore(settings).all_ids() == set(ids)
    sentences = open_space(settings, "sentences").all_ids()
    assert complete_chunks(sentences)[0] == set(ids) and summary["sentences"] == len(sentences)
    assert not synthetic.bm25_stale(home)  # BM25 covers exactly the 700 catalog chunks
    new = catalog_row(settings, ids[-1])
    found = Searcher(settings).search(new.text, k=5, mode="bm25")
    assert ids[-1] in [r.chunk_id for r in found]
    assert Searcher(settings).search(new.text, k=5, mode="hybrid")
    assert json.loads((home / synthetic.DONE).read_text()) == summary

    synthetic.extend(base, twin, 700)  # the same extension again gives the same rows
    catalog = open_catalog(synthetic.home_settings(twin))
    assert catalog.chunk_ids() == ids
    catalog.close()
    VectorStore(synthetic.home_settings(twin)).delete([ids[-1]])
    with pytest.raises(SystemExit, match="finish-partial"):
        synthetic.extend(base, twin, 900)  # catalog and Chroma disagree: refused


def catalog_row(settings, chunk_id: str):  # type: ignore[no-untyped-def]
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    try:
        return catalog.get_chunks([chunk_id])[chunk_id]
    finally:
        catalog.close()


def test_scale_and_load_benchmarks_run_without_errors(
    ingested: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sharpnotes.eval.benchmarks import load_bench, scale_bench

    source, _ = ingested
    common = ["--scifact", str(SCIFACT), "--source", str(source), "--root", str(tmp_path)]
    scale_out = tmp_path / "scale.json"
    argv = ["--sizes", "2000", "--queries", "60", "--clients", "1,4", "--out", str(scale_out)]
    assert scale_bench.main([*common, *argv]) == 0
    rows = json.loads(scale_out.read_text())["rows"]
    assert [(r["mode"], r["clients"]) for r in rows] == [
        (mode, clients) for mode in ("bm25", "dense", "hybrid") for clients in (1, 4)
    ]
    for row in rows:
        assert row["chunks"] == 2000 and row["queries"] == 60 and row["sentences"] > 2000
        assert 0 < row["p50_ms"] <= row["p95_ms"]
        assert row["peak_rss_mib"] > 0
        assert min(row["chroma_bytes"], row["bm25_bytes"], row["catalog_bytes"]) > 0

    load_out = tmp_path / "load.json"
    argv = ["--chunks", "2000", "--queries", "100", "--threads", "4", "--out", str(load_out)]
    assert load_bench.main([*common, *argv]) == 0
    load = json.loads(load_out.read_text())["load"]
    assert load["errors"] == 0, load["error_kinds"]
    assert load["completed"] == 100 and load["threads"] == 4
    assert load["queries_per_s"] > 0
    assert 0 < load["p50_ms"] <= load["p95_ms"] <= load["p99_ms"]


def test_a_results_file_says_where_how_and_when_it_was_measured(tmp_path: Path) -> None:

    from sharpnotes.eval.benchmarks.paths import write_results

    out = tmp_path / "results" / "x.json"
    write_results(out, {"rows": [1, 2]}, {"bm25_weight": 0.5})
    written = json.loads(out.read_text())
    assert written["rows"] == [1, 2] and written["settings"] == {"bm25_weight": 0.5}
    assert written["command"].startswith("python ") and written["machine"]["cores"] >= 1
    assert written["machine"]["cpu"] and written["machine"]["when"].startswith("20")
