"""The extractive composer's rules, each on a passage that shows it, with the real query
embedder (MiniLM): a Q&A note answers with the body under the matching question, a question line
from another topic is never quoted, a bullet that two overlapping passages hold is quoted once,
a line that is only a link is not an answer, the passage the ranking put first outweighs a
look-alike sentence further down, a unit that restates the question is not the answer, a
nested list item is scored and quoted with the item it sits under, a passage left out for room
still gives its best line, so does the next chunk of the answer's section, and a Chinese
question is scored with the English of its terms."""

from __future__ import annotations

import pytest

from sharpnotes.app.extractive import ExtractiveGenerator, compose, render, score_units
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.settings import Settings

pytestmark = pytest.mark.slow


def passages(*texts: str, source: str = "notes.md") -> list[SearchResult]:
    return [
        SearchResult(n, 1.0 - 0.1 * n, f"c{n}", source, "", None, text)
        for n, text in enumerate(texts, start=1)
    ]


def ranked_pair(
    source: str, first: tuple[str, str], second: tuple[str, str], second_score: float
) -> list[SearchResult]:
    """Two passages of one note, (heading, text) each: the first ranked at 1.0."""
    return [
        SearchResult(n, score, f"c{n}", source, heading, None, text)
        for n, score, (heading, text) in ((1, 1.0, first), (2, second_score, second))
    ]


def answer(settings: Settings, question: str, found: list[SearchResult]) -> str:
    from sharpnotes.ingest.embedding import load_embedder

    scored = score_units(load_embedder(settings, "query"), question, found, context=True)
    return render(compose(scored, found, question))


QA_NOTE = (
    "## Ensembles\n\n"
    "**What is bagging? 👶**\n\n"
    "Each model is trained on a bootstrap sample of the rows and their predictions are "
    "averaged, which lowers variance.\n\n"
    "**What is boosting? ⭐️**\n\n"
    "Models are trained one after another, each fitting the errors of the ones before.\n"
)


def test_a_qa_note_answers_with_the_body_under_the_matching_question(settings: Settings) -> None:
    text = answer(settings, "What is bagging?", passages(QA_NOTE))
    assert "bootstrap sample" in text
    assert "What is bagging" not in text
    assert "one after another" not in text  # the next question's body is another section


def test_a_question_line_from_another_topic_is_never_the_answer(settings: Settings) -> None:
    found = passages(
        "**How does speculative decoding speed up generation?**\n\n"
        "A small draft model proposes several tokens and the large model checks them at once.\n",
        "Batch normalization uses the running mean and variance at inference instead of the "
        "statistics of the current batch.\n",
    )
    text = answer(settings, "How does batch normalization behave at inference?", found)
    assert "speculative decoding" not in text
    assert "running mean and variance" in text


def test_a_bullet_two_overlapping_passages_hold_is_quoted_once(settings: Settings) -> None:
    shared = "- Compress the index with product quantization to shrink its memory.\n"
    found = passages(
        "Options for a large embedding index:\n\n" + shared,
        shared + "- Reduce the vector dimension with PCA before indexing.\n",
    )
    text = answer(settings, "How can I shrink my embedding index?", found)
    assert text.count("product quantization") == 1


def test_the_sentence_that_restates_a_puzzle_is_not_its_answer(settings: Settings) -> None:
    found = passages(
        "A jar holds 1000 coins, one of them with heads on both sides. "
        "You take a random coin from the jar and flip it 10 times, getting 10 heads. "
        "By Bayes, P(unfair | 10 heads) = 1 / (1 + 999 / 1024), which is about 0.506.\n"
    )
    question = (
        "You take a random coin from a jar of 1000 coins where one is two-headed and flip it 10 "
        "times: all heads. What is the probability the coin is the unfair one?"
    )
    text = answer(settings, question, found)
    assert "0.506" in text


def test_a_link_list_is_navigation_not_an_answer(settings: Settings) -> None:
    found = passages(
        "## Case studies\n\n- [Multimodal harmful content detection](./harmful-content.md)\n"
        "- [Video recommendation](./video-recs.md)\n",
        "Late fusion trains one model per modality and combines their scores; it misses harm "
        "that only the combination of a safe image and a safe caption carries.\n",
    )
    text = answer(settings, "Early vs late fusion for multimodal harmful content detection", found)
    assert "](./" not in text
    assert "combination of a safe image" in text
    # a sentence that only says where else to read is navigation too
    detr = passages(
        "DETR (Carion et al., 2020) is an end-to-end detector. (Also summarised in "
        "`papers/detr-summary.pdf`.) It matches each prediction to one object with the "
        "Hungarian algorithm, so no NMS is needed.\n"
    )
    text = answer(settings, "Why does DETR not need NMS?", detr)
    assert "Hungarian algorithm" in text and "summarised in" not in text


def test_the_top_passage_outweighs_a_look_alike_further_down(settings: Settings) -> None:
    # the answering sentence shares few words with the question; the ranking knows its passage
    found = passages(
        "Divide by sqrt(d_k): for d_k = 64 the logits would have std 8, the softmax saturates "
        "to nearly one-hot, and its gradient becomes tiny.\n",
        "Dot products of the query and key are divided in many attention variants.\n",
        "Attention heads each see a slice of the dimension; their dot products are summed.\n",
    )
    question = "Why are the query-key dot products divided by the square root of the dimension?"
    assert "softmax saturates" in answer(settings, question, found)


def test_a_nested_item_answers_with_the_item_it_sits_under(settings: Settings) -> None:
    # "cons: ..." means little alone: scored alone, the bare label "Boosted trees" comes first
    # and another model's cons second; under the label it is the answer, quoted after it
    found = passages(
        "## Ranking models\n\n"
        "* Boosted trees\n"
        "  * pros: easy to explain\n"
        "  * cons: must be rebuilt from scratch when new data arrives\n"
        "* Two-tower network\n"
        "  * pros: handles new users through their features\n"
        "  * cons: costly to train and to serve\n"
    )
    text = answer(settings, "Why are boosted trees a poor fit for continual training?", found)
    assert text.startswith("* Boosted trees › ")  # the label once, before the items under it
    assert text.count("Boosted trees") == 1
    assert "cons: must be rebuilt from scratch" in text
    assert "costly to train" not in text


def test_a_passage_left_out_for_room_still_gives_its_best_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first passage's units take the whole budget (one unit here); the second passage holds
    # the half of the comparison the question asks about and scores nearly as well
    from sharpnotes.app import extractive

    monkeypatch.setattr(extractive, "MAX_UNITS", 1)
    found = passages(
        "## AdaGrad\n\n"
        "- AdaGrad accumulates the sum of all past squared gradients for every parameter.\n"
        "- Because that sum only grows, the effective learning rate shrinks towards zero.\n",
        "## RMSProp\n\n"
        "RMSProp keeps an exponential moving average of squared gradients instead of their sum, "
        "so old gradients fade out.\n",
    )
    question = "How do AdaGrad and RMSProp accumulate squared gradients?"
    text = answer(settings, question, found)
    assert "AdaGrad accumulates the sum" in text
    assert "exponential moving average" in text and text.rstrip().endswith("[2]")
    monkeypatch.setattr(extractive, "EXTRA_PASSAGES", 0)
    assert "exponential moving average" not in answer(settings, question, found)


def test_the_set_up_of_a_puzzle_is_context_not_its_answer(settings: Settings) -> None:
    note = (
        "**A jar holds 500 coins and one has two heads. You flip a random coin 8 times and see "
        "8 heads. Is it more likely that you took the two-headed coin?**\n\n"
        "Compare the odds: the likelihood ratio is 256 and the prior odds are 1/499, so the "
        "posterior odds 256/499 stay below one and the fair coin is more likely.\n"
    )
    text = answer(settings, "Flip a coin 8 times and see 8 heads: is it the two-headed coin?",
                  passages(note))  # fmt: skip
    assert "posterior odds 256/499" in text
    assert "You flip a random coin" not in text and "500 coins" not in text


def test_a_line_that_says_more_than_the_first_passages_lines_follows_them(
    settings: Settings,
) -> None:
    # the first passage ranks far higher, so all its lines outrank the one that answers
    first = ("Image search > Model", "- we choose a neural network for unstructured data\n"
             "- architecture: convolutional layers then fully connected layers\n")  # fmt: skip
    second = ("Image search > Training",
              "- loss: distances between pairs, then softmax, then cross entropy\n")  # fmt: skip
    found = ranked_pair("img.md", first, second, 0.0)
    question = "image search contrastive loss softmax cross entropy"
    assert "softmax, then cross entropy" in answer(settings, question, found)


@pytest.mark.parametrize(
    ("question", "first", "second", "heading", "elsewhere", "shown"),
    [
        pytest.param(
            # a comparison: the second method's section ranks far below the first's
            "What is the difference between AdaGrad and RMSProp?",
            ("Optimizers > AdaGrad", "AdaGrad accumulates the sum of all past squared gradients."),
            ("Replace the sum with an exponential moving average, so old gradients fade out.", 0.1),
            "Optimizers > RMSProp", "Optimizers > Momentum", "exponential moving average",
            id="a section the question names, however low it ranks",
        ),
        pytest.param(
            # one long section cut into two chunks: the second ranks far lower, and its line on
            # SimPO says less on its own than the first chunk's look-alike, yet it is the rest
            # of the section
            "What does SimPO change compared to DPO?",
            ("LLMs > Post-training",
             "- DPO folds the reward model and the RL loop into one supervised loss on "
             "preference pairs.\n- Rankings depend on scale: online RL can beat DPO at 1.5B "
             "while SimPO can beat DPO at 7B.\n"),
            ("- SimPO: DPO without a reference model; the average log-probability of a response "
             "is its implicit reward.\n- ORPO adds an odds-ratio term to the SFT loss.\n", 0.0),
            "LLMs > Post-training", "LLMs > Serving", "without a reference model",
            id="the next chunk of the answer's section",
        ),
    ],
)  # fmt: skip
def test_a_passage_under_such_a_heading_gives_its_best_line(  # type: ignore[no-untyped-def]
    settings: Settings, question, first, second, heading, elsewhere, shown
) -> None:
    text, score = second
    for under, quoted in ((heading, True), (elsewhere, False)):
        found = ranked_pair("notes.md", first, (under, text), score)
        assert (shown in answer(settings, question, found)) is quoted, under


def test_a_table_is_scored_by_its_best_row(settings: Settings) -> None:
    from sharpnotes.app.extractive import row_texts

    table = (
        "| Algorithm | Data required | Use when |\n|---|---|---|\n"
        "| **SFT** | instruction demos | teach the format first |\n"
        "| **KTO** | binary thumbs up/down, no pairs | only unpaired feedback exists |\n"
    )
    assert row_texts(table)[1] == (
        "Algorithm: **KTO**; Data required: binary thumbs up/down, no pairs; "
        "Use when: only unpaired feedback exists"
    )
    from sharpnotes.app.extractive import score_units
    from sharpnotes.ingest.embedding import load_embedder

    question = "KTO binary feedback without preference pairs"
    found = passages(table)
    with_rows = score_units(load_embedder(settings, "query"), question, found)
    from sharpnotes.app import extractive

    saved, extractive.TABLE_ROWS = extractive.TABLE_ROWS, 0
    try:
        whole = score_units(load_embedder(settings, "query"), question, found)
    finally:
        extractive.TABLE_ROWS = saved
    assert with_rows[0].cosine > whole[0].cosine + 0.1


def test_a_chinese_question_is_scored_with_the_english_of_its_terms(settings: Settings) -> None:
    # MiniLM reads Chinese as noise: as written, the question is closest to the wrong sentence
    from sharpnotes.app.extractive import scoring_text
    from sharpnotes.ingest.embedding import load_embedder

    found = passages(
        "Dropout is turned off at inference.\n\n"
        "At inference, batch normalization uses the running mean and variance collected during "
        "training instead of the statistics of the current batch.\n\n"
        "Data augmentation is only applied during training.\n"
    )
    question = "批次正規化在推論時用什麼統計量？"
    text = scoring_text(question, settings)
    assert text.startswith(question) and "batch normalization" in text
    scored = score_units(load_embedder(settings, "query"), text, found)
    best = max(scored, key=lambda s: s.cosine)
    assert "running mean and variance" in best.unit.clean
    assert best.cosine > 0.2 + max(s.cosine for s in scored if s is not best)


def test_a_groups_name_is_not_an_answer_on_its_own(settings: Settings) -> None:
    # "* A/B test" names the items under it: never quoted alone (it takes a place an answer
    # could have), shown before the item under it that is quoted
    from sharpnotes.app.extractive import candidates, item_name
    from sharpnotes.ingest.embedding import load_embedder

    found = passages(
        "## Launch\n\n"
        "* A/B test\n"
        "  * run it for at least two weeks so weekly cycles even out\n"
        "* Approximate nearest neighbours for the candidate search\n"
    )
    question = "How long should an A/B test run?"
    scored = score_units(load_embedder(settings, "query"), question, found, context=True)
    names = [item_name(c.scored.unit) for c in candidates(scored, found, question)]
    assert (
        "A/B test" not in names
        and "run it for at least two weeks so weekly cycles even out" in names
    )
    assert "Approximate nearest neighbours for the candidate search" in names  # no items under it
    assert "A/B test › run it for at least two weeks" in answer(settings, question, found)


def test_a_lead_in_whose_list_is_not_in_the_passage_is_not_quoted(settings: Settings) -> None:
    found = passages(
        "Offline metrics for the recommender: precision@k, mAP and diversity of the top k. "
        "These offline metrics are commonly used in search and recommendation systems to "
        "evaluate the quality of the recommendations:",  # its list is in the next chunk
        "Recall@k evaluates the share of the relevant items found in the top k.\n\n"
        "- TODO: add the offline metrics of the recommender, NDCG and MRR",  # a note to self
    )
    text = answer(settings, "Which offline metrics evaluate a recommender system?", found)
    assert "precision@k" in text and "quality of the recommendations:" not in text
    assert "TODO" not in text
    # a lead-in followed by its list here is quoted with the first item, as before
    listed = passages(
        "Offline metrics used to evaluate a recommender system:\n\n"
        "- precision@k of the top k\n- mAP over users\n"
    )
    text = answer(settings, "Which offline metrics evaluate a recommender system?", listed)
    assert "Offline metrics used to evaluate a recommender system:" in text


def test_a_card_labelled_q_without_a_question_mark_is_answered_by_its_items(
    settings: Settings,
) -> None:
    """ "**Q: camera–lidar fusion early / mid / late**" asks, though it has no "?": the items
    under it answer, and the label line itself is not quoted as an answer."""
    found = passages(
        "**Q: 推導 Kalman gain** ⚠️\n- minimize tr(P_k)，白板還是會卡\n\n"
        "**Q: camera–lidar fusion early / mid / late**\n"
        "- early (PointPainting)：點帶 image semantics，很吃 calib\n"
        "- late：各自出框再 merge，模組化好 debug、單 sensor 壞了可降級。我們公司是 late\n"
    )
    text = answer(settings, "Early vs late camera-lidar fusion: which one do we use?", found)
    assert "我們公司是 late" in text and "Kalman gain**" not in text.split("\n")[0]
    assert not text.startswith("**Q:")


def test_a_line_that_says_it_is_still_to_write_is_not_quoted(settings: Settings) -> None:
    """ "torch.compile vs TensorRT？沒試，待補" and the items of a section headed "待補" say what
    the note has not covered yet: they are no answer, where the note's other lines are."""
    found = [
        SearchResult(1, 1.0, "c1", "inbox.md", "inbox", None,
                     "- torch.compile vs TensorRT？沒試，待補\n"
                     "- an engine is tied to the GPU arch and TRT version, rebuild per target\n"),
        SearchResult(2, 0.9, "c2", "bev.md", "BEV > 待補", None,
                     "- TensorRT 部署 BEVPool 另開一篇\n- TensorRT 的 plugin 怎麼寫\n"),
    ]  # fmt: skip
    text = answer(settings, "Can I move a TensorRT engine to another GPU?", found)
    assert "rebuild per target" in text
    assert "沒試" not in text and "另開一篇" not in text and "plugin" not in text


def test_a_qa_list_under_one_heading_answers_with_the_matching_card_only(
    settings: Settings,
) -> None:
    """Many "Q: ... A: ..." pairs under one heading: each answer belongs to the question right
    above it (not to the best question of the section so far), with the rest of its paragraph."""
    found = passages(
        "# Interview Q&A\n\n"
        "Q: Why does DETR not need NMS?\n"
        "A: Hungarian matching is one-to-one, so duplicate predictions are penalised.\n\n"
        "Q: What is the difference between IoU and GIoU?\n"
        "A: GIoU adds a penalty from the smallest enclosing box. It still gives a gradient "
        "when the boxes do not overlap.\n\n"
        "Q: Why does label smoothing help calibration?\n"
        "A: It stops the model from pushing logits to infinity, so probabilities are less "
        "over-confident.\n"
    )
    text = answer(settings, "What is the difference between IoU and GIoU?", found)
    assert "smallest enclosing box" in text and "when the boxes do not overlap" in text
    assert "Hungarian" not in text and "logits" not in text


def test_a_card_left_blank_lends_nothing_and_a_defining_line_answers(settings: Settings) -> None:
    """A newcomer's "Q: What is ECE?" over "A: TODO" gave the next card's answer ("Argmax is
    unchanged."), cited, ranked first for its acronyms; the note that defines ECE was second.
    A card not answered yet does not pass its question's score on to the next card's answer,
    and a unit that defines the asked name where it writes it is quoted first."""
    from sharpnotes.app.answer import refusal_reason

    qa = (
        "Q: Why use BF16 instead of FP16?\nA: Same exponent range as FP32, no loss scaling.\n\n"
        "Q: What is ECE?\nA: TODO\n\n"
        "Q: How does temperature scaling change accuracy?\nA: It does not. Argmax is unchanged.\n"
    )
    found = passages(
        qa,
        "Modern nets are overconfident.\n\nECE (expected calibration error): bin predictions by "
        "confidence, take |accuracy - confidence| per bin, average weighted by bin size.\n",
    )
    text = answer(settings, "What is ECE?", found)
    assert "bin predictions by confidence" in text
    assert "Argmax" not in text and "exponent range" not in text
    # a placeholder is never quoted ("答：待補" was, as the whole answer to a Chinese question)
    zh = passages(
        "問：什麼是 label smoothing？\n答：待補\n", "label smoothing 把 one-hot 換成 0.9 / 0.1。\n"
    )
    assert "待補" not in answer(settings, "什麼是 label smoothing？", zh)
    # where no other note defines it, the blank card names ECE without saying anything of it
    alone = passages(qa)
    reason = refusal_reason("What is ECE?", alone, lambda: 1.0, settings)
    assert reason is not None and reason.lower() == "no passage names ece"


def test_lines_of_the_top_passage_that_do_not_answer_are_left_out(settings: Settings) -> None:
    """The first passage's rank lifts all its lines; a line after the best one is quoted only
    when it says, on its own, enough of what the question asks (``OWN_KEEP_RATIO``)."""
    found = passages(
        "## Fixes\n\n"
        "- Fixes for high bias: bigger model, better backbone, train longer, less "
        "regularization.\n"
        "- Fixes for high variance: more data, augmentation, early stopping, ensembling.\n",
        "## Double descent\n\n"
        "Test error peaks at the interpolation threshold: the capacity at which the model can "
        "just fit the training set exactly.\n",
    )
    question = "What is the capacity called where a model just barely fits the training set?"
    text = answer(settings, question, found)
    assert "interpolation threshold" in text
    assert "augmentation" not in text, text


def test_an_answer_never_only_restates_the_question() -> None:
    """Leaving out the lines that say little (``OWN_KEEP_RATIO``) stops while the answer adds
    fewer than ANSWER_NEW_TERMS terms to the question: a list of interview questions whose best
    line repeats the question shows the list's next line too, not the echo alone. Scores are
    set by hand: the second line clears KEEP_RATIO on its passage's rank, not on what it says."""
    from sharpnotes.app.extractive import ScoredUnit
    from sharpnotes.ingest.text import units

    text = (
        "- Tell me about a time you had a conflict with a team member.\n"
        "- Walk me through your resume and the project you are proudest of.\n"
    )
    echo, other = units(text)
    found = passages(text)
    scored = [ScoredUnit(0, echo, 0.8, 0.8, 1.0), ScoredUnit(0, other, 0.45, 0.0, 1.0)]
    quoted = render(compose(scored, found, "behavioral interview conflict with a team member"))
    assert "conflict with a team member" in quoted
    assert "proudest" in quoted, quoted


def test_an_answer_line_is_quoted_without_its_label(settings: Settings) -> None:
    """Its question is context, not quoted; so the answer reads without "A:" (or "答：")."""
    found = passages(
        "## Fusion\n\n"
        "Q: What is the main failure mode of late fusion?\n"
        "A: If one sensor's detector misses an object, the fusion never sees it.\n\n"
        "問：為什麼 radar 對速度特別有用？\n"
        "答：Doppler 可以直接量測徑向速度。\n"
    )
    text = answer(settings, "What is the main failure mode of late fusion?", found)
    assert text.startswith("If one sensor's detector misses an object"), text
    assert "A:" not in text and "答" not in text


def test_a_qa_list_cut_after_a_question_still_answers(settings: Settings) -> None:
    """A chunk of "Q: ... A: ..." lines may end on a question whose answer is in the next chunk:
    the paragraph ends with a question, yet it is a list of cards, not a puzzle's set-up."""
    found = passages(
        "Q: Why does RetinaNet use focal loss? A: One-stage detectors see about 100k anchors, "
        "almost all easy background; focal loss down-weights them so the rare positives count.\n"
        "Q: What are typical focal loss hyperparameters? A: gamma 2 and alpha 0.25.\n"
        "Q: What is quality focal loss (QFL)?\n",
        "A: from GFL: the classification target is the IoU of the box instead of 1.\n",
    )
    text = answer(settings, "Why does RetinaNet use focal loss?", found)
    assert text.startswith("One-stage detectors see about 100k anchors"), text
    assert "from GFL" not in text


def test_a_chinese_question_keeps_only_units_near_the_best() -> None:
    """The scores of a question holding Chinese bunch together, so a unit after the best must
    score ``KEEP_RATIO_ZH`` of it, not ``KEEP_RATIO``: the same scores keep a weaker line of
    another passage for an English question and leave it out for a Chinese one. Scores by hand:
    the second line is between the two bars (``weighted``: 0.7 x cosine + prior)."""
    from sharpnotes.app.extractive import KEEP_RATIO, KEEP_RATIO_ZH, ScoredUnit
    from sharpnotes.ingest.text import units

    best_text = "BEV 把所有相機的特徵轉到同一個俯視座標系，規劃模組可以直接使用。"
    weak_text = "量化可以讓模型在車上跑得更快，但要校準。"
    found = [
        SearchResult(1, 1.0, "c1", "bev.md", "BEV", None, best_text),
        SearchResult(2, 0.8, "c2", "quant.md", "Quantisation", None, weak_text),
    ]
    (best,), (weak,) = units(best_text), units(weak_text)
    scored = [ScoredUnit(0, best, 0.9, 0.0, 1.0), ScoredUnit(1, weak, 0.5, 0.0, 0.8)]
    ratio = scored[1].weighted(1.0) / scored[0].weighted(1.0)
    assert KEEP_RATIO < ratio < KEEP_RATIO_ZH
    assert "量化" in render(compose(scored, found, "Why use BEV for planning?"))
    chinese = render(compose(scored, found, "為什麼規劃要用 BEV？"))
    assert "俯視座標系" in chinese and "量化" not in chinese


def test_a_chinese_card_on_another_subject_is_not_the_answer(settings: Settings) -> None:
    """Two Chinese questions look alike by their form: "PTQ 跟 QAT 差在哪裡？" scored as the
    question "SORT 和 DeepSORT 差在哪裡？" asked, and its answer filled a newcomer's answer on
    tracking. A Chinese card whose question shares no subject with the question asked (a name,
    a glossary term, two topic characters) does not answer it."""
    quant = (
        "## 問答\n\n問：PTQ 跟 QAT 差在哪裡？\n"
        "答：PTQ 是訓練完成後用少量校正資料決定 scale；QAT 是在訓練時插入 fake quantization。\n"
    )
    tracking = (
        "SORT 用 Kalman filter 預測 track 的位置，再用 IoU 和 Hungarian algorithm 做匹配。\n\n"
        "DeepSORT 加了一個 appearance embedding，被遮住再出現時比較能接回原本的 ID。\n"
    )
    found = [
        SearchResult(1, 1.0, "c1", "quant.md", "量化 > 問答", None, quant),
        SearchResult(2, 0.8, "c2", "mot.md", "MOT 筆記", None, tracking),
    ]
    text = answer(settings, "SORT 和 DeepSORT 差在哪裡？", found)
    assert "appearance embedding" in text and "PTQ" not in text and "QAT" not in text, text
    # the same card answers its own question
    assert "fake quantization" in answer(settings, "QAT 跟 PTQ 差在哪裡？", found)


def test_a_yes_no_reply_is_quoted_after_its_question(settings: Settings) -> None:
    """ "Yes, elastic net keeps the L1 part ..." answers its card's question, not the one asked:
    quoted alone under "What is elastic net?" the "Yes" reads as a reply to that. It is quoted
    after its question, and the answer check still finds both in the cited passage. A reply that
    does not open with yes or no is quoted as before."""
    from sharpnotes.app.answer import check_answer
    from sharpnotes.ingest.embedding import load_embedder

    note = (
        "# Regularization\n\nElastic net mixes L1 and L2 penalties.\n\n"
        "**Q: Can elastic net select features?**\n"
        "Yes, elastic net keeps the L1 part, so some weights go exactly to zero, while the L2 "
        "part keeps groups of correlated features together.\n\n"
        "**Q: What does L2 do to the weights?**\n"
        "It shrinks all of them smoothly towards zero.\n"
    )
    found = passages(note)
    text = answer(settings, "What is elastic net?", found)
    assert "Can elastic net select features? › Yes, elastic net keeps" in text, text
    checks, _ = check_answer(text, found, load_embedder(settings, "query"))
    assert checks and all(c.supported for c in checks), checks
    plain = answer(settings, "What does L2 regularization do to the weights?", found)
    assert "It shrinks all of them" in plain and "›" not in plain, plain
    # a reply that opens with "because" (因為) only answers its own "why" too
    why = (
        "# Tracking\n\nDeepSORT extends SORT with an appearance model.\n\n"
        "Q: 為什麼 DeepSORT 的 ID switch 比較少？\n"
        "A: 因為它加入了 appearance embedding，被遮擋的物體重新出現時還能用外觀接回原本的 ID。\n"
    )
    text = answer(settings, "What does DeepSORT add to SORT?", passages(why))
    assert "ID switch 比較少？ › 因為它加入了" in text, text
    # a reply whose subject is its question's ("It ...") too, unless that is the question asked
    focal = (
        "# Focal loss\n\nFocal loss multiplies cross entropy by (1 - p_t)^gamma.\n\n"
        "Q: What happens to focal loss when gamma is 0?\nA: It becomes standard cross entropy.\n"
    )
    text = answer(settings, "What does gamma do in focal loss?", passages(focal))
    assert "gamma is 0? › It becomes standard" in text, text
    own = answer(settings, "What happens to focal loss when gamma is 0?", passages(focal))
    assert "It becomes standard" in own and "›" not in own, own
    # a fragment of a reply reads as nothing without its question, whatever was asked
    card = "# Drill\n\nQ: What is the default gamma in focal loss?\nA: 2 (with alpha 0.25).\n"
    text = answer(settings, "What are the default alpha and gamma of focal loss?", passages(card))
    assert "default gamma in focal loss? › 2 (with alpha 0.25)." in text, text


def test_a_nested_item_under_a_long_item_is_quoted_under_it(settings: Settings) -> None:
    """A parent too long for a breadcrumb was left out, and the item it had been quoted under
    was dropped too: "what is PointPainting" got only "- needs very good calibration". The long
    parent is now a line of its own above its item, and a grandparent is never shown without
    it ("2D detection › used to outperform until focal loss" had lost "Two-stage detectors")."""
    note = (
        "## Fusion levels\n\n"
        "- Fusion\n"
        "  - **early fusion**: paint lidar points with image semantics (PointPainting), or "
        "project the points into the image\n"
        "    - needs very good calibration and time sync\n"
        "  - **late fusion**: each sensor detects on its own, then a tracker fuses the lists\n"
    )
    text = answer(settings, "what is PointPainting", passages(note))
    assert "paint lidar points with image semantics (PointPainting)" in text, text
    assert "Fusion › needs very good calibration" not in text, text


def test_a_chinese_card_on_another_aspect_of_the_subject_is_not_the_answer(
    settings: Settings,
) -> None:
    """The question "CLIP 的缺點是什麼？" was answered with the card "CLIP 的 zero-shot
    是怎麼做的？" (same subject, same form), not with the line that names the cons. A card whose
    question shares none of the asked question's topic pairs answers another question; the card
    still answers its own."""
    note = (
        "## 在自駕的用途\n\n"
        "- 資料挖掘：用文字搜尋 fleet data，找 corner case\n"
        "- 缺點：細粒度、計數、空間關係很弱；對 traffic sign 這種小物件不可靠\n\n"
        "問：CLIP 的 zero-shot 是怎麼做的？\n"
        "答：把每個類別寫成文字 prompt，用 text encoder 編碼，"
        "跟圖片 embedding 算 cosine similarity。\n"
    )
    found = passages(note, source="clip.md")
    text = answer(settings, "CLIP 的缺點是什麼？", found)
    assert "細粒度" in text and "文字 prompt" not in text, text
    assert "文字 prompt" in answer(settings, "CLIP 的 zero-shot 怎麼做？", found)
    # the other way round: the question names what the card lacks (NMS), the card asks of
    # another aspect (小物件): the next card's answer is not quoted after the right one
    cards = (
        "Q: 為什麼 DETR 不需要 NMS?\n"
        "A: 因為 Hungarian matching 是一對一配對，重複的預測在訓練時就被懲罰。\n\n"
        "Q: DETR 為什麼小物件表現差?\n"
        "A: 只用最後一層 low-resolution feature (stride 32)，沒有 FPN。\n"
    )
    found = passages(cards, source="detr.md")
    generator = ExtractiveGenerator(settings)  # Chinese questions read by both models
    # an English card shares no word with a Chinese question's English: it asks another thing
    # (to the multilingual model the two questions look alike by their form)
    english = passages(
        "We divide by $\\sqrt{d_k}$ because dot products grow with the dimension and push the "
        "softmax into regions with tiny gradients.\n",
        "**Do you know how K-means works?**\n\n"
        "1. Partition points into k subsets.\n2. Compute the centroids of the clusters.\n",
        source="ml.md",
    )
    text = generator.generate("為什麼 attention 要除以根號 d_k？", english)
    assert "tiny gradients" in text and "Partition points" not in text, text
    text = generator.generate("為什麼 DETR 不需要 NMS?", found)
    assert "一對一" in text and "stride 32" not in text, text
    assert "stride 32" in generator.generate("DETR 的小物件為什麼表現差？", found)


def test_a_formula_is_scored_by_the_words_that_lead_into_it(settings: Settings) -> None:
    """ "**AdamW** decouples weight decay from the gradient update:" over its update rule was
    left out of "How does AdamW differ from Adam?": MiniLM read the unit's LaTeX as noise and
    scored it under plain lines of other notes. A formula is also scored by its lead-in."""
    note = (
        "## AdamW\n\n"
        "With Adam, an L2 term added to the loss is rescaled per weight. **AdamW** decouples "
        "weight decay from the gradient update:\n\n"
        "$$\\theta_t = \\theta_{t-1} - \\eta \\left( \\frac{\\hat m_t}{\\sqrt{\\hat v_t} + "
        "\\epsilon} + \\lambda \\theta_{t-1} \\right)$$\n"
    )
    other = (
        "- L1 regularization sums the absolute weights, L2 regularization sums their squares.\n"
        "- L2 regularization has an analytical solution for linear models.\n"
        "- Elastic net combines L1 and L2 regularization.\n"
    )
    found = passages(note, other)
    text = answer(settings, "How does AdamW differ from Adam with L2 regularization?", found)
    assert "decouples weight decay" in text and "\\lambda \\theta_{t-1}" in text, text


def test_the_first_line_under_a_heading_that_restates_the_question_answers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newcomer's "## 為什麼用 1x1 conv" opened with its answer, never quoted: look-alike lines
    of another section that name 1x1 conv outscored it. The first unit under a heading that
    restates the question is scored as the best one."""
    from sharpnotes.app import extractive

    structure = (
        "- Inception / ResNet bottleneck 也用 1x1 conv 先降維再做 3x3。\n"
        "- FPN 用 1x1 conv 做 lateral connection。\n- depthwise separable conv 省參數。\n"
    )
    found = [
        SearchResult(1, 1.0, "c1", "cnn.md", "CNN > 結構", None, structure),
        SearchResult(2, 0.9, "c2", "cnn.md", "CNN > 為什麼用 1x1 conv", None,
                     "- 改 channel 數、幾乎不增加計算量、也加了一點 non-linearity。\n"),
    ]  # fmt: skip
    for question in ("為什麼要用 1x1 conv？", "Why use a 1x1 conv?"):
        assert "改 channel 數" in answer(settings, question, found), question
    monkeypatch.setattr(extractive, "HEADED_FIRST", False)
    assert "改 channel 數" not in answer(settings, "Why use a 1x1 conv?", found)


def test_the_items_after_a_list_item_that_asks_are_not_its_answer(settings: Settings) -> None:
    """A to-do ending in a question is an item of the list like the others: the items after it
    answer nothing it asks, and a question on one of them is answered from it."""
    scratch = (
        "scratch — march\n\n"
        "- ask Wei about the occupancy gt pipeline (ego motion compensation?)\n"
        "- gradient checkpointing ≠ mixed precision, both save memory, different ways "
        "(recompute activations vs smaller dtype)\n"
        "- buy more coffee\n"
    )
    question = "gradient checkpointing 跟 mixed precision 都可以省記憶體，差在哪？"
    text = answer(settings, question, passages(scratch))
    assert "recompute activations vs smaller dtype" in text
    assert "coffee" not in text
    # a card written as two list items ("- Q: ..." over "- A: ...") keeps its answer
    cards = (
        "- Q: What does NMS do?\n"
        "- A: It keeps the highest-scoring box and drops the boxes overlapping it.\n"
        "- Q: What is IoU?\n"
        "- A: Intersection over union of two boxes.\n"
    )
    text = answer(settings, "What does non-maximum suppression do?", passages(cards))
    assert "keeps the highest-scoring box" in text, text


def test_the_title_line_of_a_note_without_headings_is_not_an_answer(settings: Settings) -> None:
    """A text note opens with its title on a line of its own: it names the note, and a question
    on the note's subject looks like it."""
    note = (
        "DATA DRIFT MONITORING - notes from the MLOps course + my own stuff\n\n"
        "- PSI < 0.1 ok, 0.1-0.25 watch, > 0.25 big shift\n"
        "- KS test for continuous features\n"
    )
    found = [SearchResult(1, 1.0, "c1", "drift-monitoring.txt", "drift-monitoring", None, note)]
    text = answer(settings, "How do I monitor data drift?", found)
    assert "PSI < 0.1 ok" in text
    assert "DATA DRIFT MONITORING" not in text
    # under a Markdown heading, the same line is the section's first sentence
    headed = SearchResult(1, 1.0, "c1", "n.md", "Drift > Monitoring", None, note)
    assert "DATA DRIFT MONITORING" in answer(settings, "How do I monitor data drift?", [headed])


def test_a_line_that_only_says_where_to_read_is_not_an_answer(settings: Settings) -> None:
    """ "MOTA, IDF1, HOTA — see mot-basics." names the metric asked and points to another note:
    the line of the note that defines it answers."""
    metrics = passages(
        "Tracking metrics: MOTA, IDF1, HOTA — see mot-basics.\n\n"
        "- HOTA = sqrt(DetA · AssA). Balances detection and association.\n"
    )
    text = answer(settings, "What is HOTA?", metrics)
    assert "sqrt(DetA · AssA)" in text
    assert "see mot-basics" not in text
    from sharpnotes.app.extractive import only_points

    assert only_points("See also [[anchor-free-detectors]] and the drill file [[interview-qa]].")
    assert not only_points(
        "Smooth it with a Kalman filter (see [[kalman]]); reject a frame when "
        "the implied lane width falls outside 2.5-4.0 m."
    )
    # a list of notes' names after "related" or "相關" is navigation, however many
    assert only_points("related pedestrian-detection, 00 framework, losses-and-imbalance")
    assert only_points("相關: [[BEV感知]] [[tracking-MOT]]")
    assert not only_points("related work shows that focal loss down-weights easy negatives")
    assert not only_points("參考: 這個方法在小物件上很好用而且很快")
    assert not only_points("參考幀用 t-1，ego motion 補償後再 warp")
    assert not only_points("相關係數 0.8、p < 0.01")
