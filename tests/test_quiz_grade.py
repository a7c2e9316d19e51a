"""Grading: exact MCQ and cloze (case, spacing, plural, hyphens, acronym expansions the passage
justifies), recall against key points with the real embedding model on hand-written good,
partial and bad answers, FSRS ratings, and the LLM grader through an OpenAI-compatible stub."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from test_llm import StubServer

from sharpnotes.app.quiz.grade import AGAIN, EASY, GOOD, HARD, Grade, grade, swapped
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.ingest.settings import Settings

NMS_PASSAGE = (
    "Dense detectors fire many overlapping boxes on each object.\n\n"
    "Greedy **non-maximum suppression** (NMS) keeps the highest-scoring box and removes every "
    "box whose IoU with it is above a threshold.\n\n"
    "$$\\text{IoU} = \\frac{|A \\cap B|}{|A \\cup B|}$$\n"
)
BACKEND = "onnx-int8"  # as the other tests that embed use: no per-test backend measurement
EVIDENCE = (
    "Greedy **non-maximum suppression** (NMS) keeps the highest-scoring box and removes every "
    "box whose IoU with it is above a threshold."
)


def one_point_card(question: str, answer: str, citation: Citation) -> QuizItem:
    """A recall card whose answer is its one key point."""
    return QuizItem("recall", question, answer, answer, answer, citation, key_points=[answer])


def item(**overrides: object) -> QuizItem:
    values: dict = {
        "type": "cloze",
        "question": "Greedy ____ keeps the highest-scoring box and removes overlapping ones.",
        "answer": "NMS",
        "evidence": EVIDENCE,
        "passage": NMS_PASSAGE,
        "citation": Citation("c1", "detection/anchors-and-nms.md", "Anchors and NMS > NMS"),
    }
    return QuizItem(**{**values, **overrides})


MCQ = item(
    type="mcq",
    question="Greedy ____ keeps the highest-scoring box (Anchors and NMS).",
    options=["FPN", "NMS", "RPN", "GIoU"],
)


@pytest.mark.parametrize(
    ("response", "correct"),
    [("NMS", True), ("  nms ", True), ("B", True), ("b)", True), ("2", True),
     ("FPN", False), ("A", False), ("4", False), ("NMS please", False), ("", False)],
)  # fmt: skip
def test_mcq_is_exact(response: str, correct: bool) -> None:
    result = grade(MCQ, response)
    assert result.correct is correct
    assert result.score == (1.0 if correct else 0.0)
    assert result.rating == (GOOD if correct else AGAIN)
    if not correct:
        assert result.missed == [("NMS", EVIDENCE)] and "NMS" in result.feedback


def test_a_cloze_answered_with_the_glossary_name_in_the_other_language_is_right() -> None:
    """ "非極大值抑制" answers a blank whose answer is NMS, as "NMS" answers one in Chinese; a
    Chinese word the glossary gives for something else does not."""
    assert grade(item(), "非極大值抑制").correct
    assert grade(item(answer="非極大值抑制"), "NMS").correct
    assert not grade(item(), "批次正規化").correct


def test_fast_correct_answers_are_easy_slow_ones_good() -> None:
    assert grade(MCQ, "NMS", seconds=3.0).rating == EASY
    assert grade(MCQ, "NMS", seconds=30.0).rating == GOOD
    assert grade(MCQ, "FPN", seconds=1.0).rating == AGAIN


@pytest.mark.parametrize(
    ("answer", "response", "correct"),
    [
        ("NMS", "nms", True),
        ("NMS", "NMSs", True),
        ("NMS", "NSM", False),
        ("NMS", "non-maximum suppression", True),  # the expansion the passage gives
        ("NMS", "Non Maximum Suppression", True),
        ("NMS", "non-max suppression", False),  # not the passage's words
        ("NMS", "IoU", False),
        ("non-maximum suppression", "non maximum suppression", True),
        ("non-maximum suppression", "Non-Maximum-Suppressions", True),
        ("non-maximum suppression", "nonmaximum suppression", True),
        ("non-maximum suppression", "NMS", True),
        ("non-maximum suppression", "maximum suppression", False),
        ("highest-scoring box", "highest scoring boxes.", True),
        ("highest-scoring box", "lowest scoring box", False),
        ("IoU", "IoUs", True),
        # the passage never spells it out, but the words spell it and the glossary agrees
        ("IoU", "intersection over union", True),
        ("mAP", "mean average precision", True),
        ("mAP", "mean absolute precision", False),  # spells it, not the glossary's expansion
        ("NMS", "non maximum sampling", False),
        ("center points", "centre points", True),  # British spelling
        ("normalization", "normalisation", True),
        ("center points", "corner points", False),
        ("$\\frac{|A \\cap B|}{|A \\cup B|}$", "\\frac{|A\\cap B|}{|A\\cup B|}", True),
        ("$\\frac{|A \\cap B|}{|A \\cup B|}$", "\\frac{|A\\cup B|}{|A\\cap B|}", False),
    ],
)
def test_cloze_tolerates_form_not_content(answer: str, response: str, correct: bool) -> None:
    result = grade(item(answer=answer), response)
    assert result.correct is correct, (answer, response)
    assert result.rating == (GOOD if correct else AGAIN)


# ---------------------------------------------------------------- recall, offline

BV_PASSAGE = """## The trade-off

High bias means the model underfits: it is too simple to capture the signal, so training and
validation error are both high. High variance means the model overfits the training set, so
training error is low while validation error is much higher. Regularisation trades a little bias
for a large drop in variance.
"""
BV_SENTENCE = (
    "High variance means the model overfits the training set, so\ntraining error is low while "
    "validation error is much higher."
)
RECALL = QuizItem(
    type="recall",
    question="Explain what high variance means. (Bias-variance trade-off)",
    answer=" ".join(BV_SENTENCE.split()),
    evidence=BV_SENTENCE,
    passage=BV_PASSAGE,
    citation=Citation("c9", "fundamentals/bias-variance.md", "Bias-variance trade-off"),
    key_points=[
        "the model overfits the training set",
        "training error is low",
        "validation error is much higher",
    ],
)

GOOD_ANSWER = (
    "The model overfits: it fits the training data almost perfectly, so the training error is "
    "low, but the validation error is much higher."
)
PARTIAL_ANSWER = "It means the model is overfitting to its training set."
BAD_ANSWER = "It means the learning rate is too large, so the optimizer diverges."


@pytest.mark.slow
def test_recall_good_answers_score_clearly_higher(settings: Settings) -> None:
    settings = settings.replace(embed_backend=BACKEND)
    good = grade(RECALL, GOOD_ANSWER, settings)
    partial = grade(RECALL, PARTIAL_ANSWER, settings)
    bad = grade(RECALL, BAD_ANSWER, settings)
    assert good.correct and good.rating in (GOOD, EASY) and good.score >= 0.75
    assert not bad.correct and bad.rating == AGAIN and bad.score <= 0.3
    assert bad.score + 0.4 < good.score
    assert bad.score < partial.score < good.score and partial.rating in (HARD, GOOD)
    assert good.rubric is None and "key points" in good.feedback
    assert set(good.covered) == set(RECALL.key_points) and good.missed == []
    # the missed points, each with the passage sentence it comes from
    assert "the model overfits the training set" in partial.covered
    missed = dict(partial.missed)
    assert set(missed) == {"training error is low", "validation error is much higher"}
    for point, sentence in partial.missed:
        assert sentence in BV_PASSAGE and point in " ".join(sentence.split())
    assert {p for p, _ in bad.missed} == set(RECALL.key_points)
    empty = grade(RECALL, "   ", settings)
    assert (empty.score, empty.rating, len(empty.missed)) == (0.0, AGAIN, 3)
    json.dumps(good.to_dict())


# ---------------------------------------------------------------- recall, LLM grader


def llm_settings(settings: Settings, url: str) -> Settings:
    return settings.replace(
        embed_backend=BACKEND,
        generator="openai",
        openai_base_url=url,
        openai_model="stub-model",
        openai_api_key=SecretStr("sk-test"),
        llm_max_tokens=200,
    )


@pytest.mark.slow
def test_llm_grades_recall_with_the_rubric_shown(settings: Settings) -> None:
    prompts: list[str] = []

    def reply(request: dict) -> str:
        prompts.append(request["messages"][-1]["content"])
        return "Here is my grade:\n" + json.dumps(
            {
                "score": 0.34,
                "covered": ["the model overfits the training set"],
                "missed": ["training error is low", "validation error higher"],
                "feedback": "Say what happens to the training and validation errors.",
            }
        )

    server = StubServer(reply)
    try:
        result = grade(RECALL, PARTIAL_ANSWER, llm_settings(settings, server.url))
    finally:
        server.close()
    assert isinstance(result, Grade) and result.score == 0.34 and result.rating == HARD
    assert not result.correct
    assert result.rubric and all(p in result.rubric for p in RECALL.key_points)
    [prompt] = prompts
    assert result.rubric in prompt and PARTIAL_ANSWER in prompt and BV_SENTENCE in prompt
    assert result.covered == ["the model overfits the training set"]
    # the LLM's wording of a missed point is mapped back to the rubric's, with its sentence
    assert [p for p, _ in result.missed] == RECALL.key_points[1:]
    assert all(sentence in BV_PASSAGE for _, sentence in result.missed)
    assert result.feedback.startswith("Say what happens")


@pytest.mark.slow
def test_unreadable_llm_grade_falls_back_to_offline(settings: Settings) -> None:
    server = StubServer(lambda request: "I think it is fine!")
    try:
        result = grade(RECALL, GOOD_ANSWER, llm_settings(settings, server.url))
    finally:
        server.close()
    assert result.rubric is None and result.correct and result.score >= 0.75


@pytest.mark.slow
def test_a_point_the_answer_half_states_is_not_named_as_missed(settings: Settings) -> None:
    settings = settings.replace(embed_backend=BACKEND)
    point = "camera detector gets 25 ms of the 100 ms perception budget on the Orin board"
    item = QuizItem(
        "recall", "Requirements?", point, point, point, Citation("c1", "a.md", "H"),
        key_points=[point, "recall above 99 percent for pedestrians within 30 m"],
    )  # fmt: skip
    half = grade(item, "It runs on an Orin board within a perception budget.", settings)
    assert point not in dict(half.missed)  # close to it: unsure or covered, never named
    assert point in half.unsure + half.covered
    assert "recall above 99 percent for pedestrians within 30 m" in dict(half.missed)
    none = grade(item, "Use a bigger backbone.", settings)
    assert {p for p, _ in none.missed} == set(item.key_points) and none.unsure == []


def test_a_listed_point_is_graded_by_the_items_the_reply_names(settings: Settings) -> None:
    """ "hard cases: night, rain, occlusion, ..." read far from "Focus on nighttime, heavy rain,
    children and wheelchair users" as a whole, and was named as missed. A point that lists
    things after its label is covered when the reply names half of them, unsure with fewer,
    missed with none."""
    from sharpnotes.app.quiz.grade import listed_items

    settings = settings.replace(embed_backend=BACKEND)
    point = "hard cases: night, rain, occlusion, kids, people w/ strollers / wheelchairs, costumes"
    assert listed_items(point)[:3] == ["night", "rain", "occlusion"]
    assert listed_items("latency: < 50 ms for perception on the onboard GPU") == []
    item = QuizItem(
        "recall", "Data?", point, point, point, Citation("c1", "a.md", "H"), key_points=[point]
    )
    most = grade(item, "We mine rain, occlusion, kids and wheelchairs.", settings)
    assert most.covered == [point]
    some = grade(item, "Focus on rare scenarios like heavy rain and wheelchair users.", settings)
    assert some.unsure == [point] and not some.missed
    none = grade(item, "Label everything by hand, then train a bigger model.", settings)
    assert [p for p, _ in none.missed] == [point]


def test_a_reply_that_swaps_what_a_point_says_of_two_things_is_wrong(settings: Settings) -> None:
    """ "L2 makes weights sparse and L1 shrinks them smoothly" uses every word of "L1 pushes
    weights to exactly zero (sparse); L2 shrinks them smoothly" and passed at 1.0; so did
    precision and recall with their formulas swapped. Saying of each thing what the point says
    of the other misses the point; saying it as the point does covers it."""
    settings = settings.replace(embed_backend=BACKEND)
    point = "L1 pushes weights to exactly zero (sparse); L2 shrinks them smoothly."
    item = QuizItem(
        "recall", "L1 vs L2?", point, point, point, Citation("c1", "a.md", "H"),
        key_points=[point],
    )  # fmt: skip
    wrong = grade(item, "L2 makes weights sparse and L1 shrinks them smoothly.", settings)
    assert not wrong.correct and [p for p, _ in wrong.missed] == [point]
    right = grade(item, "L1 makes weights sparse, and L2 shrinks them smoothly.", settings)
    assert right.correct and right.covered == [point]
    formulas = "precision = TP / (TP + FP); recall = TP / (TP + FN)"
    item = one_point_card("Precision vs recall?", formulas, Citation("c1", "a.md", "H"))
    assert not grade(item, "precision is TP/(TP+FN), recall is TP/(TP+FP)", settings).correct
    assert grade(item, "precision is TP/(TP+FP), recall is TP/(TP+FN)", settings).correct
    # a capital letter names a thing: Q and R of a Kalman filter swapped passed at 100%
    qr = "Q is process noise (uncertainty of the motion model), R is measurement noise"
    assert swapped(qr, ["R is the process noise of the motion model and Q is measurement noise."])
    assert not swapped(qr, ["Q is the process noise of the motion model, R the measurement noise."])


def test_a_reply_that_says_the_opposite_of_a_point_does_not_cover_it(settings: Settings) -> None:
    """A newcomer's poor mock answer, "We should not bother with PERCLOS or gaze angle error;
    false warnings per hour don't matter", was credited with both points it names to dismiss.
    Said plainly, the same words cover them; a point that itself negates is not turned over.
    Asked for by the mock's steps (typed answers to cards are graded as before)."""
    settings = settings.replace(embed_backend=BACKEND)
    perclos = "eye-closure (PERCLOS) error, gaze angle error in degrees"
    warnings = "false warnings per hour of driving (< 1/hour or drivers disable it)"
    item = QuizItem(
        "recall", "Metrics?", perclos, perclos, perclos, Citation("c1", "dms.md", "Metrics"),
        key_points=[perclos, warnings],
    )  # fmt: skip
    wrong = (
        "We should not bother with PERCLOS or gaze angle error; "
        "false warnings per hour don't matter."
    )
    dismissed = grade(item, wrong, settings, negation=True)
    assert dismissed.covered == [] and {p for p, _ in dismissed.missed} == {perclos, warnings}
    right = "Track PERCLOS and gaze angle error, and keep false warnings per hour of driving low."
    assert set(grade(item, right, settings, negation=True).covered) == {perclos, warnings}
    assert set(grade(item, wrong, settings).covered) == {perclos, warnings}  # cards: as before
    leak = "never split by frame, split by drive"
    split = QuizItem(
        "recall", "How to split?", leak, leak, leak, Citation("c1", "d.md", "Data"),
        key_points=[leak],
    )  # fmt: skip
    assert grade(split, "Do not split frames at random; split by drive.", settings).covered == [
        leak
    ]


def test_a_reply_in_english_to_a_card_in_chinese_is_graded_across_languages(
    settings: Settings,
) -> None:
    """MiniLM reads Chinese as noise: a point and a reply in different languages are compared
    by the multilingual model (USE v3, installed with the package)."""
    settings = settings.replace(embed_backend=BACKEND)
    points = ["IPM 假設地面是平的，只對貼地的 lane marking 有效", "有高度的物體會被拉長變形"]
    answer = "；".join(points)
    item = QuizItem(
        "recall", "為什麼 IPM 沒辦法處理車跟行人？", answer, answer, answer,
        Citation("c1", "bev.md", "BEV"), key_points=points,
    )  # fmt: skip
    good = grade(
        item,
        "IPM assumes the ground is flat, so it only works for things on the road like lane "
        "markings; cars and pedestrians have height and get stretched.",
        settings,
    )
    # the first point is said; the second is left unsure, never named as missed (the model is
    # weak on "拉長變形" for "stretched": 0.33)
    assert good.covered == points[:1] and good.missed == [] and good.unsure == points[1:]
    poor = grade(item, "Use a bigger backbone and train it for longer.", settings)
    assert poor.covered == [] and {p for p, _ in poor.missed} == set(points)
    assert poor.score < 0.1 < good.score


def test_a_chinese_reply_to_a_chinese_card_is_read_by_the_multilingual_model(
    settings: Settings,
) -> None:
    """Two Chinese texts look alike to MiniLM, so a reply that says the opposite passed; the
    multilingual model reads both sides when the reply is in Chinese (``card_grading``)."""
    settings = settings.replace(embed_backend=BACKEND)
    answer = (
        "可以，把 class-balanced 權重乘在 focal loss 上；但兩者都會改變樣本權重，一次只調一個。"
    )
    item = QuizItem(
        "recall", "focal loss 跟 class-balanced weighting 可以一起用嗎？", answer, answer,
        answer, Citation("c1", "imbalance.md", "Focal"),
        key_points=[
            "可以，把 class-balanced 權重乘在 focal loss 上",
            "但兩者都會改變樣本權重，一次只調一個",
        ],
    )  # fmt: skip
    good = grade(item, "可以一起用，把類別權重乘到 focal loss 上，不過一次只調一個參數。", settings)
    wrong = grade(
        item, "不行，focal loss 已經內建 alpha，再乘一次會重複加權，只能二選一。", settings
    )
    assert good.correct and not wrong.correct and wrong.score < good.score


def test_a_reply_that_says_a_point_the_other_way_round_is_wrong(settings: Settings) -> None:
    """Newcomers' typed and mock answers that hold every word of the point and say the opposite
    passed at 0.87-1.0: the inverted Soft-NMS, "more inductive bias", "identical" for what the
    note says differs, "per frame" for "episode level not frame level". Said the right way
    round, with the same words, they cover it."""
    from sharpnotes.app.quiz.grade import reversed_claim

    settings = settings.replace(embed_backend=BACKEND)
    soft = "It lowers the scores of overlapping boxes based on IoU instead of removing them."
    item = one_point_card(
        "What does Soft-NMS do differently?", soft, Citation("c1", "nms.md", "Soft-NMS")
    )
    inverted = "Soft-NMS removes the overlapping boxes completely instead of lowering their scores."
    assert not grade(item, inverted, settings).correct
    assert grade(
        item, "It lowers overlapping boxes' scores by IoU instead of removing them.", settings
    ).correct
    bias = "ViT has less inductive bias than CNNs, so it needs more data."
    assert reversed_claim(bias, ["ViT has more inductive bias than a CNN."])
    assert not reversed_claim(bias, ["ViT has less inductive bias, so it needs more data."])
    zh = "ViT 的 inductive bias 比 CNN 少，所以需要更多資料"
    assert reversed_claim(zh, ["ViT 比 CNN 有更多 inductive bias"])
    adamw = "AdamW 把 weight decay 從梯度更新解耦，跟 Adam 加 L2 不同"
    assert reversed_claim(adamw, ["AdamW 就是 Adam 加 L2，兩個一模一樣"])
    # identical in one setting and different in another says where they differ
    decay = "AdamW decouples weight decay from the adaptive step, unlike Adam with L2."
    assert not reversed_claim(
        decay, ["With SGD L2 and weight decay are identical, but in Adam not."]
    )
    # a bound is a claim: another one is wrong, the same one written otherwise is right
    assert reversed_claim("self-attention 是 O(n^2 · d)", ["O(n log n) 對 sequence length"])
    assert not reversed_claim("self-attention 是 O(n^2 · d)", ["O(n^2 d)，n 是長度"])
    level = "evaluate at episode level not frame level"
    assert reversed_claim(level, ["evaluate at frame level, not episode level"])
    assert not reversed_claim(
        "models do not converge without warmup", ["warmup makes models converge"]
    )
    # the opposite word of the same subject (a newcomer's card passed at 0.95, then went 8 days
    # out); a sentence on another part of the answer that names the other word is not
    gap = "High variance, the model is overfitting"
    assert reversed_claim(gap, ["high bias, the model is underfitting"])
    assert reversed_claim("高變異，模型過擬合", ["高偏差，模型欠擬合"])
    assert not reversed_claim(gap, ["high variance: it overfits the training set"])
    # verbs of whatever they take are no opposites; 方差 and 變異 are one word
    assert not reversed_claim(
        "Dropout decreases overfitting.", ["Dropout increases robustness and reduces overfitting."]
    )
    assert not reversed_claim("資料增強可以減少過擬合", ["增加資料量可以避免過擬合"])
    assert not reversed_claim("高方差對應過擬合", ["高變異對應過擬合"])
    assert not reversed_claim(
        "Bias: how far the average model is from the truth, from too little capacity.",
        ["More capacity lowers bias and raises variance; the average model gets nearer."],
    )
    card = one_point_card(
        "What does a big gap between train and val loss mean?",
        gap,
        Citation("c2", "bias-variance.md", "Bias-variance"),
    )
    assert not grade(card, "high bias, the model is underfitting", settings).correct
    # ... also when only the question names it: a card "What is overfitting?" whose answer
    # describes it without the word
    said = "The model memorizes training noise: training loss falls but validation loss rises"
    asked = one_point_card(
        "What is overfitting?", said, Citation("c3", "bias-variance.md", "Overfitting")
    )
    wrong = (
        "It is underfitting: the model is too simple and training and validation loss stay high."
    )
    assert not grade(asked, wrong, settings).correct
    assert grade(asked, "It memorizes the training noise; validation loss rises.", settings).correct


def test_an_answer_that_covers_no_key_point_is_rated_again(settings: Settings) -> None:
    """A newcomer's swapped answer was graded "not quite (0.32), covered 0 of 2" and offered
    Hard, so Enter counted it as recalled: closeness alone is not recall."""
    settings = settings.replace(embed_backend=BACKEND)
    points = [
        "Bagging trains models in parallel on bootstrap samples and averages -> reduces variance",
        "Boosting trains sequentially, each fixing the previous errors -> reduces bias",
    ]
    item = QuizItem(
        "recall", "Bagging vs boosting?", ". ".join(points) + ".", points[0], points[0],
        Citation("c1", "ml.md", "Ensembles"), key_points=points,
    )  # fmt: skip
    wrong = grade(item, "bagging reduces bias and boosting reduces variance", settings)
    assert not wrong.correct and not wrong.covered and wrong.rating == AGAIN
    half = grade(item, "Bagging trains models in parallel on bootstrap samples.", settings)
    assert half.covered and half.rating in (HARD, GOOD)


def test_a_point_in_chinese_and_a_reply_in_english_meet_through_the_glossary(
    settings: Settings,
) -> None:
    """A newcomer's faithful English translation of a Chinese case point was only "partly"
    covered (USE cosine 0.41), the same as an English dismissal of it (0.30): the English of
    the point's glossary terms, said by the reply, covers it; dismissed, it is missed."""
    from sharpnotes.app.quiz.grade import offline_recall

    settings = settings.replace(embed_backend=BACKEND)
    point = "地圖與實際燈號位置不一致時要回報，代表地圖過期。"
    item = one_point_card("Monitoring?", point, Citation("c1", "case-traffic-light.md", "7. 監控"))
    said = "Report when the map and the observed light positions disagree: the map is outdated."
    assert offline_recall(item, said, settings, negation=True).covered == [point]
    dismissed = "We should not bother with map mismatches; just retrain every month."
    graded = offline_recall(item, dismissed, settings, negation=True)
    assert [m for m, _ in graded.missed] == [point]
    # a point that itself negates is not contradicted by a reply that says the same
    from sharpnotes.app.quiz.grade import contradicted

    assert not contradicted("不用 anchor，直接預測框", ["No anchors: it predicts boxes directly."])
