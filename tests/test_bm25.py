"""BM25 tokenizer (English stemming, CJK bigrams), scores against a hand computation, and
atomic persistence."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sharpnotes.ingest.bm25 import BM25Index, BM25Params, query_tokens, read_pointer, tokenize


def test_english_is_stemmed_and_stopwords_dropped() -> None:
    assert tokenize("The detectors are Detecting objects") == ["detector", "detect", "object"]


def test_cjk_runs_become_bigrams_next_to_english() -> None:
    assert tokenize("鳥瞰圖 BEV 感知") == ["bev", "鳥瞰", "瞰圖", "感知"]
    assert tokenize("圖") == ["圖"]


def test_chinese_function_words_are_cut_from_queries_only() -> None:
    assert query_tokens("為什麼 BEV 要用鳥瞰圖？") == ["bev", "要用", "用鳥", "鳥瞰", "瞰圖"]
    assert "為什" in tokenize("為什麼 BEV 要用鳥瞰圖？")  # documents keep every bigram
    assert query_tokens("What is the BEV grid") == tokenize("What is the BEV grid")


def test_a_question_word_does_not_pull_in_another_chinese_note() -> None:
    texts = [
        "為什麼要轉到 BEV 視角",  # a Chinese note that happens to ask a question
        "深度估計 depth estimation from lidar",
        "Depth from a single camera is ambiguous",
    ]
    index = BM25Index.build(["zh-question", "zh-depth", "en"], texts, BM25Params())
    scores = dict(zip(index.ids, index.scores("為什麼深度估計會不準？"), strict=True))
    assert scores["zh-question"] == 0.0
    assert scores["zh-depth"] > 0.0


def test_scores_match_a_hand_computed_lucene_bm25() -> None:
    texts = ["cat sat", "cat cat dog", "bird"]
    params = BM25Params(k1=1.2, b=0.75, method="lucene", heading_weight=1)
    index = BM25Index.build(["a", "b", "c"], texts, params)
    n, avgdl = 3, (2 + 3 + 1) / 3

    def lucene(tf: int, df: int, dl: int) -> float:
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * dl / avgdl))

    expected = [lucene(1, 2, 2), lucene(2, 2, 3), 0.0]
    assert np.allclose(index.scores("cat"), expected, atol=1e-5)


def test_save_switches_generations_atomically(tmp_path: Path) -> None:
    BM25Index.build(["a", "b"], ["alpha beta", "gamma"], BM25Params()).save(tmp_path)
    first = read_pointer(tmp_path)
    BM25Index.build(["c"], ["delta"], BM25Params()).save(tmp_path)
    second = read_pointer(tmp_path)
    assert second["generation"] == first["generation"] + 1
    assert (tmp_path / first["folder"]).exists()  # kept for a reader that read the old pointer
    loaded = BM25Index.load(tmp_path)
    assert loaded.ids == ["c"] and loaded.scores("delta")[0] > 0
    BM25Index.build(["d"], ["epsilon"], BM25Params()).save(tmp_path)
    assert not (tmp_path / first["folder"]).exists() and (tmp_path / second["folder"]).exists()


def test_empty_index_scores_nothing(tmp_path: Path) -> None:
    BM25Index.build([], [], BM25Params()).save(tmp_path)
    assert len(BM25Index.load(tmp_path).scores("anything")) == 0
