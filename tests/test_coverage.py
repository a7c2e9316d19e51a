"""The specific terms of a question and whether passages name them (``app.coverage``), with the
packaged glossary: names as written, glossary phrases, acronyms and their expansions, Chinese."""

from __future__ import annotations

from sharpnotes.app.coverage import specific_terms, uncovered


def names(question: str) -> list[str]:
    return sorted(t.text for t in specific_terms(question))


def test_names_acronyms_and_glossary_phrases_are_specific_generic_words_are_not() -> None:
    assert names("How does PointPillars encode a point cloud?") == ["point cloud", "pointpillars"]
    assert names("When should I use gradient clipping?") == ["gradient clipping"]
    assert names("How does NMS work?") == ["nms"]
    assert names("Why is it slower in wall-clock time on GPUs?") == ["gpu"]
    assert names("What is the non-maximum suppression procedure?") == ["non-maximum suppression"]
    assert names("How can I shrink my embedding index?") == []


def test_a_near_miss_is_uncovered_by_topical_overlap() -> None:
    passage = "IoU measures box overlap; gradients flow through the box loss."
    assert uncovered("How does non-maximum suppression use IoU?", [passage]) == [
        "non-maximum suppression"
    ]
    assert uncovered("What does gradient clipping do?", [passage]) == ["gradient clipping"]


def test_an_acronym_is_covered_by_its_expansion_and_back() -> None:
    assert uncovered("Why does DETR skip NMS?", ["DETR drops non-maximum suppression."]) == []
    assert uncovered("What replaces non-maximum suppression?", ["NMS is not needed."]) == []


def test_a_chinese_question_is_judged_on_its_names_and_its_topic() -> None:
    from sharpnotes.app.coverage import zh_anchored

    question = "DETR 為什麼不需要 NMS"
    assert uncovered(question, ["DETR needs no non-maximum suppression: matching is 1:1."]) == []
    assert uncovered(question, ["DETR matches boxes one-to-one."]) == ["nms"]
    # glossary entries of Chinese map to plain words as often as to terms: the topic decides
    assert names("批次正規化在推論時怎麼運作") == []
    assert zh_anchored("批次正規化在推論時怎麼運作", ["Batch normalization at inference..."])
    assert zh_anchored("批次正規化在推論時怎麼運作", ["批次正規化在推論時用移動平均。"])
    assert not zh_anchored("批次正規化在推論時怎麼運作", ["Layer norm works per token."])


def test_a_chinese_question_needs_its_topic_in_the_passages() -> None:
    from sharpnotes.app.coverage import zh_anchored

    lane_note = ["車道線偵測常用影像分割，最好的方法是逐列分類，速度很快。"]
    assert not zh_anchored("滷肉飯的滷汁要怎麼調才會香？", lane_note)
    assert zh_anchored("車道線偵測為什麼用逐列分類？", lane_note)
    # through the glossary or a Latin word, a Chinese question is about an English note
    english = ["Monocular depth: a single image cannot give absolute depth scale."]
    assert zh_anchored("為什麼單張影像沒辦法直接知道絕對深度？", english)
    assert zh_anchored("Monocular 的尺度問題", english)
    assert zh_anchored("What is depth?", [])  # English questions are not judged here
