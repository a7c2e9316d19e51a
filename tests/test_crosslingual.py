"""Cross-lingual query expansion: glossary matching, and a Chinese question finding an English
note through a real index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_notes
from sharpnotes.app.crosslingual import expand_query, find_terms, glossary
from sharpnotes.app.retrieval import Searcher
from sharpnotes.ingest.settings import Settings


def test_glossary_loads_pairs_and_skips_comments() -> None:
    terms = glossary()
    assert len(terms) > 300
    assert terms["梯度下降"] == "gradient descent"
    assert not any(key.startswith("#") for key in terms)


def test_glossary_is_read_from_the_installed_package_anywhere(tmp_path: Path) -> None:
    """Not from a folder named ``app`` that happens to be in the working directory."""
    code = "from sharpnotes.app.crosslingual import glossary; print(len(glossary()))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-500:]
    assert int(done.stdout) == len(glossary())


def test_longest_match_wins_and_matches_do_not_overlap() -> None:
    # 隨機梯度下降 holds 梯度下降 and 梯度; only the longest entry is taken
    assert [zh for zh, _ in find_terms("隨機梯度下降怎麼調")] == ["隨機梯度下降"]
    assert (
        expand_query("隨機梯度下降怎麼調") == "隨機梯度下降怎麼調 stochastic gradient descent SGD"
    )
    assert [zh for zh, _ in find_terms("批次正規化與層正規化")] == ["批次正規化", "層正規化"]


def test_everyday_technical_words_expand_beside_compound_terms() -> None:
    # single words (隨機, 資料, 幀, 切分) have entries of their own; inside a compound entry
    # (隨機梯度下降, 訓練集) the compound still wins
    assert expand_query("為什麼行車資料不能逐幀隨機切分成訓練集？").split()[1:] == [
        "data",
        "frame",
        "random",
        "split",
        "training",
        "set",
    ]
    assert "random" not in expand_query("隨機梯度下降怎麼調")


def test_coverage_lists_frequent_words_no_entry_reaches(tmp_path: Path) -> None:
    from sharpnotes.eval.benchmarks.glossary_coverage import coverage, section_counts

    notes = write_notes(
        tmp_path,
        {
            "a.md": "# Frames\n\nWe split the data by frame.\n\n## Wombats\n\nWombat data.\n",
            "b.md": "# Random forest\n\nA wombat forest of random trees.\n",
        },
    )
    counts = section_counts(notes)
    assert counts["wombat"] == 2 and counts["frame"] == 1  # stems, once per section
    absent, inside = coverage(counts, top=20)
    assert "wombat" in absent and "frame" not in absent and "data" not in absent
    assert "forest" in inside and "random" not in inside  # 隨機森林 only; 隨機 has its own


def test_english_queries_are_left_alone() -> None:
    for query in ("why does batch normalization help", "DETR NMS", ""):
        assert expand_query(query) == query


def test_chinese_without_glossary_terms_is_left_alone() -> None:
    assert expand_query("今天天氣很好") == "今天天氣很好"


def test_spelling_variants_map_to_the_same_english() -> None:
    for variant in ("批次正規化", "批量歸一化", "批量归一化", "批次標準化"):
        assert "batch normalization" in expand_query(f"什麼是{variant}")
    assert "non-maximum suppression" in expand_query("非极大值抑制")
    assert "lidar" in expand_query("光達和激光雷達")


def test_original_text_is_kept_and_terms_appear_once() -> None:
    expanded = expand_query("知識蒸餾 知識蒸餾 的溫度")
    assert expanded.startswith("知識蒸餾 知識蒸餾 的溫度 ")
    assert expanded.count("knowledge distillation") == 1


ENGLISH_NOTES = {
    "training/batchnorm.md": """# Batch normalization

Batch normalization normalizes each channel with the mean and variance of the mini-batch,
then applies a learned scale and shift. At inference the running statistics are used, and
the layer can be folded into the preceding convolution.
""",
    "training/optimizers.md": """# Optimizers

Adam keeps running averages of the first and second moments of each parameter update.
Plain SGD with momentum often generalizes better for image classification.
""",
}

QUESTION = "批次正規化在推論時用什麼統計量？"
TARGET = "training/batchnorm.md"


@pytest.mark.slow
def test_chinese_question_finds_the_english_note(settings: Settings, tmp_path: Path) -> None:
    from sharpnotes.ingest.sync import ingest

    assert ingest([write_notes(tmp_path / "notes", ENGLISH_NOTES)], settings).ok

    def rank(st: Settings, mode: str) -> int | None:
        sources = [r.source for r in Searcher(st).search(QUESTION, k=5, mode=mode)]  # type: ignore[arg-type]
        return sources.index(TARGET) + 1 if TARGET in sources else None

    off = settings.replace(crosslingual=False)
    assert rank(settings, "hybrid") == rank(settings, "bm25") == rank(settings, "dense") == 1
    # without the glossary BM25 shares no token with either note and MiniLM prefers the other one
    assert rank(off, "bm25") is None
    assert rank(off, "hybrid") == rank(off, "dense") == 2


MIXED_NOTES = {
    **ENGLISH_NOTES,
    "tracking/卡爾曼濾波.md": """# 卡爾曼濾波 筆記

用在追蹤裡面預測框的位置，也用在定位（IMU 和 GPS 融合）。

- 預測：用運動模型把狀態往前推，不確定性 P 變大
- 更新：拿量測來修正，卡爾曼增益決定比較相信預測還是量測
""",
}


def test_coverage_gives_an_english_question_the_chinese_of_its_terms() -> None:
    from sharpnotes.app.coverage import chinese_spellings, named_in_chinese

    assert "卡爾曼濾波" in chinese_spellings("What is the Kalman filter used for?")
    assert chinese_spellings("What is NMS?") == [] and chinese_spellings("卡爾曼濾波是什麼") == []
    zh_only = ["卡爾曼濾波：用在追蹤裡面預測框的位置。"]
    assert named_in_chinese("What is the Kalman filter used for?", zh_only) == ["kalman filter"]
    both = [*zh_only, "A Kalman filter predicts the box, then corrects it."]
    assert named_in_chinese("What is the Kalman filter used for?", both) == []


def test_an_english_question_on_a_passage_written_in_chinese_is_not_held_to_minilm() -> None:
    """A passage mostly in Chinese that writes one of an English question's words ("QA") is
    read by the term checks alone, as a question in Chinese is; an English passage, or one that
    shares no word with the question, is not."""
    from sharpnotes.app.coverage import answered_in_chinese, written_in_chinese

    qa = "4. **QA（品質檢查）**：抽 5% 給內部 reviewer 檢查，錯誤率超過 2% 整批退回。"
    assert written_in_chinese(qa) and not written_in_chinese("QA: sample 5% of each batch.")
    question = "In the annotation pipeline, what fraction is sampled for QA?"
    assert answered_in_chinese(question, [qa])
    assert not answered_in_chinese(question, ["QA: sample 5% of each batch."])
    assert not answered_in_chinese("How do I make beef noodle soup?", [qa])
    assert not answered_in_chinese("標註 QA 抽多少？", [qa])  # a Chinese question: its own rule
    # Chinese with English names in it, though it has more Latin letters than Chinese characters
    mota = "MOTA 看 FP、FN、ID switch 的總和；IDF1 比較看身分保持得好不好；HOTA 是兩者的平衡。"
    assert written_in_chinese(mota)
    assert answered_in_chinese("What does MOTA measure compared with IDF1?", [mota])


def test_a_chinese_question_names_the_latin_words_it_writes_whole() -> None:
    """A newcomer's "為什麼特徵蒸餾需要 1x1 卷積？" was refused as "no passage names x1"; Latin
    names written against Chinese characters are cut there, not carried into them."""
    from sharpnotes.app.coverage import specific_terms, uncovered

    assert [t.text for t in specific_terms("為什麼特徵蒸餾需要 1x1 卷積？")] == ["1x1"]
    assert [t.text for t in specific_terms("DETR為什麼不需要NMS？")] == ["detr", "nms"]
    assert uncovered("為什麼特徵蒸餾需要1x1卷積？", ["通常需要一個 1x1 卷積做通道對齊"]) == []


def test_a_chinese_question_the_glossary_covers_is_not_held_far() -> None:
    """USE scored "類別不平衡有哪些處理方法？" 0.16 against a long English note on class
    imbalance, under the far-in-Chinese bound: glossary terms that the passages write, making up
    half the question, lift it; "推薦" alone in a question on noodle shops does not."""
    from sharpnotes.app.answer import ZH_GLOSSARY
    from sharpnotes.app.coverage import glossary_share

    english = ["Two kinds of class imbalance in detection: foreground/background and long tail."]
    assert glossary_share("類別不平衡有哪些處理方法？", english) >= ZH_GLOSSARY
    assert glossary_share("推薦台北好吃的牛肉麵店", ["A recommendation system ranks items."]) < 0.3
    assert glossary_share("類別不平衡有哪些處理方法？", ["Batch norm at inference."]) == 0.0
    # a glossary term's acronym counts, and a short word is not found inside another
    assert glossary_share("非極大值抑制的缺點？", ["NMS drops overlapping boxes."]) >= 0.5
    assert glossary_share("地圖怎麼畫？", ["The heatmap peaks at each center."]) == 0.0


@pytest.mark.slow
def test_an_english_question_is_answered_from_a_note_written_in_chinese(
    settings: Settings, tmp_path: Path
) -> None:
    """BM25 reads the Chinese spelling of the question's glossary term, so the note written in
    Chinese is found; MiniLM reads Chinese as noise, so the gate does not hold the question to
    its score when the passages name its term only in Chinese. Without the glossary BM25 shares
    no word with that note."""
    from sharpnotes.app.answer import answer_question
    from sharpnotes.ingest.sync import ingest

    assert ingest([write_notes(tmp_path / "notes", MIXED_NOTES)], settings).ok
    question = "What is the Kalman filter used for?"
    found = Searcher(settings).search(question, k=3)
    assert found[0].source == "tracking/卡爾曼濾波.md", [r.source for r in found]
    answered = answer_question(question, Searcher(settings), settings, record=False)
    assert not answered.refused and "預測框的位置" in answered.answer, answered.answer
    lexical = [r.source for r in Searcher(settings).search(question, k=3, mode="bm25")]
    assert lexical[0] == "tracking/卡爾曼濾波.md", lexical
    off = settings.replace(crosslingual=False)
    bm25_off = Searcher(off).search(question, k=3, mode="bm25")
    assert "tracking/卡爾曼濾波.md" not in [r.source for r in bm25_off]


@pytest.mark.slow
def test_an_english_question_far_from_a_note_in_chinese_in_both_models_is_refused(
    settings: Settings, tmp_path: Path
) -> None:
    """A question on boiling eggs meets a card written in Chinese through one word ("soft" in
    "Soft-NMS"): the gate does not hold an English question over a passage in Chinese to
    MiniLM's score, but one that is far from it in both models is on another subject."""
    from sharpnotes.app.answer import FAR_IN_BOTH, answer_question, evidence_for, refusal_reason
    from sharpnotes.app.coverage import answered_in_chinese
    from sharpnotes.ingest.sync import ingest

    notes = {
        **MIXED_NOTES,
        "QA drill.md": "# QA drill\n\n問：NMS 的問題跟替代？\n答：擁擠場景會刪掉正確的重疊框、"
        "threshold 很敏感、不可微。替代：Soft-NMS、DIoU-NMS、NMS-free 的 one-to-one head。\n",
    }
    assert ingest([write_notes(tmp_path / "notes", notes)], settings).ok
    searcher = Searcher(settings)
    egg = "How long should I boil an egg to get a soft, runny yolk?"
    found = searcher.search(egg, k=6)
    # the card comes first and lets the question past MiniLM's score, as a real answer would
    assert found[0].source == "QA drill.md", [r.source for r in found]
    assert answered_in_chinese(egg, [r.text for r in found], [r.heading for r in found])
    assert refusal_reason(egg, found, lambda: evidence_for(egg, found, searcher), settings) == (
        FAR_IN_BOTH
    )
    assert answer_question(egg, searcher, settings, record=False).refused
    # an English question the card answers is not refused
    nms = "What can replace NMS when boxes overlap in crowds?"
    assert not answer_question(nms, searcher, settings, record=False).refused
