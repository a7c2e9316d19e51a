"""The quality gate (app.quiz.gate) and items from the learner's own cards
(app.quiz.handwritten): the faults the rating found are dropped, good items pass."""

from __future__ import annotations

import dataclasses

from sharpnotes.app.quiz import gate, verify
from sharpnotes.app.quiz.handwritten import (
    card_items,
    continued_sections,
    following_texts,
    key_points,
)
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.retrieval import SearchResult


def _item(question: str, answer: str, evidence: str, *, kind="cloze", source="a.md", **kw):
    passage = kw.pop("passage", evidence)
    return QuizItem(kind, question, answer, evidence, passage, Citation("c1", source, "H"), **kw)


def test_good_generated_items_pass() -> None:
    good = _item(
        "____ (FPN) adds a top-down path so every level has strong semantics.",
        "Feature Pyramid Network",
        "Feature Pyramid Network (FPN) adds a top-down path so every level has strong semantics.",
    )
    assert gate.reason(good) is None
    recall = _item(
        "Explain why focal loss down-weights easy negatives.",
        "Focal loss down-weights easy negatives because they dominate the gradient.",
        "Focal loss down-weights easy negatives because they dominate the gradient.",
        kind="recall",
    )
    assert gate.reason(recall) is None


def test_labels_links_and_trivia_blanks_are_dropped() -> None:
    label = _item(
        "____ for deployment: dropping NMS is attractive on embedded hardware.",
        "Practical note",
        "Practical note for deployment: dropping NMS is attractive on embedded hardware.",
    )
    assert gate.reason(label) == gate.LABEL_BLANK
    related = _item(
        "Related: case-pedestrian-detection (same sensor setup, different ____)",
        "failure modes",
        "Related: case-pedestrian-detection (same sensor setup, different failure modes)",
    )
    assert gate.reason(related) == gate.LABEL_BLANK
    year = _item("DETR was published at ECCV ____.", "2020", "DETR was published at ECCV 2020.")
    assert gate.reason(year) == gate.TRIVIA_BLANK
    venue = _item("DETR appeared at ____ 2020.", "ECCV", "DETR appeared at ECCV 2020.")
    assert gate.reason(venue) == gate.TRIVIA_BLANK
    entry = _item(
        "Trained 32 epochs, batch 32,768, Adam, a cosine schedule, ____.",
        "mixed precision",
        "Trained 32 epochs, batch 32,768, Adam, a cosine schedule, mixed precision.",
    )
    assert gate.reason(entry) == gate.LIST_ENTRY


def test_licence_and_link_list_passages_are_not_study_content() -> None:
    text = "Copyright (c) 2015, 2016 SEBASTIAN RASCHKA\n\nPermission is hereby granted, free"
    lic = _item("Copyright (c) 2015, 2016 ____ RASCHKA", "SEBASTIAN", text, source="LICENSE")
    assert gate.reason(lic) == gate.NOT_STUDY
    links = "- [A](https://a.io)\n- [B](https://b.io)\n- [C](https://c.io)\n- plain"
    assert gate.not_study("notes/links.md", links)
    assert not gate.not_study("notes/fpn.md", "FPN adds a top-down path.\n\nIt merges levels.")


def test_recall_prompts_that_are_not_sentences_are_dropped() -> None:
    for clause in ("let's skip the details here", "bad small-object AP", "our predictions",
                   "two-stage detectors dodge this"):  # fmt: skip
        item = _item(f"Explain why {clause}.", "x y z because a b c", "x", kind="recall")
        assert gate.reason(item) == gate.NOT_A_SENTENCE, clause
    # a diary line is no fact to learn (a newcomer's "今天複習 ViT 和 ____")
    diary = _item("今天複習 ViT 和 ____。", "DETR", "今天複習 ViT 和 DETR。")
    assert gate.reason(diary) == gate.NOT_A_SENTENCE
    fact = _item("Today's detectors use ____ heads.", "anchor-free", "x")
    assert gate.reason(fact) != gate.NOT_A_SENTENCE


def test_ambiguous_options_and_raw_markup_are_dropped() -> None:
    mcq = _item(
        "Detectors train the class head with ____ on sigmoid outputs.",
        "BCE",
        "Detectors train the class head with BCE on sigmoid outputs.",
        kind="mcq",
        options=["BCE", "CE", "MSE", "L1"],
    )
    assert gate.reason(mcq) == gate.AMBIGUOUS_OPTIONS
    assert gate.raw_markup("What does <img src='x'> show?")
    assert gate.raw_markup("The **cross-entropy loss is ____")
    assert gate.raw_markup("The ==focal loss== is ____")
    assert not gate.raw_markup("The modulating factor $(1-p_t)^\\gamma$ does ____.")


def _passage(text: str, heading: str = "Note > Q/A") -> SearchResult:
    return SearchResult(1, 0.0, "chunk-1", "notes/x.md", heading, None, text)


def test_cards_become_verified_items_that_pass_the_gate() -> None:
    text = (
        "**Q: Why does QAT beat PTQ?** Because the weights adapt to rounding; PTQ only picks "
        "ranges.\n\nThe ==straight-through estimator== passes gradients through round().\n"
    )
    items, dropped = card_items(_passage(text), "hash")
    assert dropped == {}
    recall, cloze = items
    assert (recall.type, recall.generator) == ("recall", "notes")
    assert recall.question == "Why does QAT beat PTQ?"
    assert recall.answer.startswith("Because the weights adapt")
    assert recall.key_points == ["Because the weights adapt to rounding", "PTQ only picks ranges"]
    assert cloze.type == "cloze" and cloze.answer == "straight-through estimator"
    assert cloze.question.startswith("The ____ passes")
    for item in items:
        assert verify.check(item) is None and gate.reason(item) is None
        assert item.evidence in item.passage


def test_a_passage_under_a_question_heading_answers_it() -> None:
    items, _ = card_items(_passage("A: Weights adapt to rounding.", "Q > Why QAT?"), "h")
    assert [(i.question, i.answer) for i in items] == [("Why QAT?", "Weights adapt to rounding.")]
    assert card_items(_passage("Prose only.", "Notes > Setup"), "h")[0] == []
    # a long section is cut into chunks: only its first one answers the heading's question
    later = _passage("Fixes in follow-ups: deformable attention.", "DETR > Why so slow?")
    assert card_items(later, "h", continues=True)[0] == []
    assert len(card_items(later, "h")[0]) == 1


def test_a_card_that_does_not_name_its_topic_is_shown_with_it() -> None:
    from sharpnotes.app.quiz.handwritten import topic_of

    text = "**Why not just boxes?**\n\nBoxes cannot describe debris, trailers or unknown shapes.\n"
    [card] = card_items(_passage(text, "Occupancy networks > Q/A"), "h")[0]
    assert card.question == "Why not just boxes? (Occupancy networks)"
    # the id is the one of the words as written: a review history saved before stays with it
    assert card.id == dataclasses.replace(card, question="Why not just boxes?", stored_id=None).id
    assert card.to_dict()["id"] == card.id
    fpn = "Feature Pyramid Networks (FPN)"
    assert topic_of("Why does FPN add instead of concatenate?", fpn) == ""  # it names it
    assert topic_of("Why QAT?", "Quantization > Interview Q/A > Why QAT?") == "Quantization"
    # a Chinese heading that says "interview" labels the Q/A as the English one does; a
    # heading's long aside is not shown
    bev = "BEV perception 筆記 (notes while reading LSS) > 面試可能會問的"
    assert topic_of("Calibration 錯了會怎樣？", bev) == "BEV perception"  # "notes" says no topic
    # a section of follow-up questions is no topic either: the case it follows up is
    case = "Case: 設計行人偵測系統 (Pedestrian detection for ADAS) > 常見追問"
    assert topic_of("為什麼不用 two-stage?", case) == "Case: 設計行人偵測系統"
    assert topic_of("Why not ViT?", "Lane detection > Follow-ups") == "Lane detection"
    assert topic_of("Why LN?", "ViT notes") == "ViT"
    assert topic_of("Why LN?", "Lecture notes") == "Lecture notes"
    # a question that names something is shown with its note's title, not the last section
    # its note's closing Q/A lines happen to sit under (a newcomer's "(Learning rate schedules)")
    adam = "Why does Adam need bias correction?"
    assert topic_of(adam, "Optimizers > Learning rate schedules") == "Optimizers"
    assert topic_of("Why can DETR skip NMS?", "DETR > AD connection") == ""  # it names it


def test_chunks_that_continue_their_section() -> None:
    from sharpnotes.ingest.catalog import ChunkRow

    def row(cid: str, source: str, heading: str, ordinal: int) -> ChunkRow:
        return ChunkRow(cid, source, heading, None, "text", "h", {}, ordinal)

    rows = [
        row("a0", "a.md", "A", 0),
        row("a1", "a.md", "A > Why?", 1),
        row("a2", "a.md", "A > Why?", 2),  # the rest of "Why?"
        row("a3", "a.md", "A > How?", 3),
        row("b0", "b.md", "A > How?", 0),  # another file's first chunk
        row("c1", "c.md", "A > Why?", -1),  # an ordinal not read: never a continuation
    ]
    assert continued_sections(rows) == {"a2"}


def test_a_card_cut_at_its_chunk_end_takes_the_rest_from_the_next_chunk() -> None:
    """The chunker cuts a long Q&A section by size: a card whose answer runs to its chunk's
    end goes on in the next chunk of the section, up to the next question there."""
    from sharpnotes.ingest.catalog import ChunkRow

    first = "**What are the pros and cons of bag of words?**\n\nAdvantages: simple to build."
    rest = (
        "Disadvantages: the vocabulary needs care; word order is lost.\n\n"
        "**What is tf-idf?**\n\nA weighting of words by how rare they are."
    )
    rows = [
        ChunkRow("t0", "t.md", "Text", None, first, "h0", {}, 0),
        ChunkRow("t1", "t.md", "Text", None, rest, "h1", {}, 1),
        ChunkRow("u0", "u.md", "Text", None, rest, "h2", {}, 0),  # another file
    ]
    following = following_texts(rows)
    assert following == {"t0": rest}
    passage = SearchResult(1, 0.0, "t0", "t.md", "Text", None, first)
    cut = card_items(passage, "h0")[0]
    whole = card_items(passage, "h0", following=following["t0"])[0]
    assert [c.answer for c in cut] == ["Advantages: simple to build."]
    assert [c.answer for c in whole] == [
        "Advantages: simple to build.\n\n"
        "Disadvantages: the vocabulary needs care; word order is lost."
    ]
    assert whole[0].evidence in whole[0].passage and whole[0].citation.chunk_id == "t0"
    assert whole[0].id == cut[0].id  # a review history saved with the cut card stays with it
    # the next chunk opens with a question, or the card ends before its chunk does: no change
    opens = card_items(passage, "h0", following=rest[rest.index("**What is") :])[0]
    assert [c.answer for c in opens] == ["Advantages: simple to build."]
    longer = dataclasses.replace(passage, text=first + "\n\n**Why?**\n\nBecause.")
    assert card_items(longer, "h0", following=rest)[0][0].answer == "Advantages: simple to build."
    # a card of one block is never cut: the next chunk's prose is not its answer
    line = dataclasses.replace(passage, text="Q: What is BM25? A: A bag-of-words ranking.")
    prose = "Dense retrievers embed queries and passages.\n\nQ: What is ANN? A: Search."
    assert card_items(line, "h0", following=prose)[0][0].answer == "A bag-of-words ranking."
    # the answer stops where the parser stops it: a rule, a <br> line
    ruled = "Vocabulary grows with data.\n\n---\n\nUnrelated musings about the week."
    assert card_items(passage, "h0", following=ruled)[0][0].answer == (
        "Advantages: simple to build.\n\nVocabulary grows with data."
    )


def test_key_points_of_a_chinese_answer() -> None:
    points = key_points("IPM 假設地面是平的；車子會被拉長變形。")
    assert points == ["IPM 假設地面是平的", "車子會被拉長變形。"]
    # an abbreviation's full stop ends no clause: "e.g.", "i.e.", "et al."
    points = key_points("可以，Cui et al. 的論文把權重乘在 focal loss 上；調參時一次只動一個。")
    assert points == ["可以，Cui et al. 的論文把權重乘在 focal loss 上", "調參時一次只動一個。"]
    points = key_points("It is discrete, i.e. a finite set of values. Trees (e.g. GBDT) need none.")
    assert points == ["It is discrete, i.e. a finite set of values", "Trees (e.g. GBDT) need none"]


def test_key_points_of_a_sentence_that_says_three_things_in_a_row() -> None:
    """A newcomer's card said three reasons in one sentence: "it doesn't depend on the batch"
    scored 0.19 against the whole of it, and "BN depends on the batch; LN doesn't" 1.0. Three
    parts or more, each with content, are a point each; a list of names is not."""
    answer = (
        "Layer norm does not depend on the batch, works per token with variable sequence "
        "lengths, and behaves the same in training and inference."
    )
    assert key_points(answer) == [
        "Layer norm does not depend on the batch",
        "works per token with variable sequence lengths",
        "behaves the same in training and inference",
    ]
    assert key_points("Precision, recall and F1 are computed per class.") == [
        "Precision, recall and F1 are computed per class"
    ]


def test_key_points_of_a_listed_answer_are_its_items() -> None:
    """An answer that lists three strategies has three points, one an item, without its lead-in
    or its markup (four points of the first item left the other two ungraded)."""
    answer = (
        "The three most popular are the following:\n"
        "* **Grid Search** tries every combination. It is expensive.\n\n"
        "* **Random Search** samples within bounds. It explores more.\n\n"
        "* [Bayesian optimisation](https://example.org) fits a *surrogate* to pick the next try."
    )
    assert key_points(answer) == [
        "Grid Search tries every combination",
        "Random Search samples within bounds",
        "Bayesian optimisation fits a surrogate to pick the next try",
    ]


def test_bold_terms_with_a_definition_are_not_labels() -> None:
    defined = _item(
        "____: adapt weights so gradient norms of shared layers balance across tasks.",
        "GradNorm",
        "- **GradNorm**: adapt weights so gradient norms of shared layers balance across tasks.",
    )
    assert gate.reason(defined) is None
    instruction = _item(
        "____: tentative → confirmed → lost → deleted.",
        "Manage lifecycle",
        "4. **Manage lifecycle**: tentative → confirmed → lost → deleted.",
    )
    assert gate.reason(instruction) == gate.LABEL_BLANK


def test_answers_still_shown_fragments_and_undefined_acronyms_are_dropped() -> None:
    inside = _item("Multilingual DistilmBERT, a version of ____.", "BERT", "... BERT.")
    camel = _item("Exporters fold it, so ____ is free (BatchNorm).", "BN", "... BN ...")
    words = _item("For classes: ____ = -sum y log p (Cross Entropy)", "CE", "... CE ...")
    part = _item("YOLOv10 removes NMS latency: ____ training.", "NMS-free", "... NMS-free ...")
    word = _item(
        "A linear model can only learn ____ between the features.",
        "linear relationships",
        "A linear model can only learn linear relationships between the features.",
    )
    for item in (inside, camel, words, part, word):
        assert gate.reason(item) == gate.GIVEAWAY, item.question
    lower = _item("each task is a binary classific so e.g. ____ for each task", "CE", "x CE")
    math = _item("$M____-\\infty$ on disallowed positions.", "= mask:", "x = mask:")
    for item in (lower, math):
        assert gate.reason(item) == gate.FRAGMENT, item.question
    ok_math = _item(
        "When multiplying batch size by $k$, multiply the ____ by $k$ too.",
        "learning rate",
        "When multiplying batch size by $k$, multiply the learning rate by $k$ too.",
    )
    assert gate.reason(ok_math) is None
    aside = _item(
        "The biggest ResNet (____) took 18 days on 592 V100s.", "RN50x64", "... (RN50x64) ..."
    )
    cited = _item("ZeRO (Rajbhandari et al., 2020，____) shards the state.", "DeepSpeed", "x")
    zh = _item("OpenLane（建在 ____ Dataset 之上）要求 3D 曲線。", "Waymo Open", "x")
    for item in (aside, cited, zh):
        assert gate.reason(item) == gate.ASIDE, item.question
    said = _item("Its head (a small MLP) predicts the ____ of each box.", "class", "... class ...")
    assert gate.reason(said) is None  # parentheses elsewhere in the sentence are fine
    dataset = _item("ByteTrack reaches 80.3 MOTA on ____ test.", "MOT17", "... MOT17 test.")
    assert gate.reason(dataset, defined={"nms"}) == gate.UNDEFINED_ACRONYM
    assert gate.reason(dataset) is None  # no lexicon given: the rule is not applied
    nms = _item("Detectors remove duplicates with ____.", "NMS", "... with NMS.")
    assert gate.reason(nms, defined={"nms"}) is None  # the notes spell NMS out


def test_a_blank_in_a_line_that_does_not_end_as_a_sentence_is_a_fragment() -> None:
    passage = SearchResult(1, 0.0, "c1", "a.md", "Prediction Service > Edge", None, "x")
    citation = Citation("c1", "a.md", "Prediction Service > Edge")

    def item(question: str) -> QuizItem:
        return QuizItem("cloze", question, "AI", "on-device AI", passage.text, citation)

    outline = item("ML on the Edge (on-device ____) (Prediction Service > Edge)")
    assert gate.without_context(outline) == "ML on the Edge (on-device ____)"
    assert gate.reason(outline) == gate.FRAGMENT
    sentence = item("Models run on the phone as on-device ____. (Prediction Service)")
    assert gate.without_context(sentence) == "Models run on the phone as on-device ____."
    assert gate.reason(sentence) is None


def test_card_answers_cut_off_are_dropped_and_html_math_reads_as_math() -> None:
    text = (
        "**How do you solve linear regression?**\n\nThe normal equation "
        '<img src="https://render.githubusercontent.com/render/math?'
        'math=\\beta = (X^{T}X)^{-1}X^{T}y">'
        " gives <strong>exact</strong> weights.\n\n"
        "**How can you use neural nets for text classification?**\n\nHere is an overview:\n"
    )
    passage = SearchResult(1, 0.0, "c1", "theory.md", "Linear regression", None, text)
    items, dropped = card_items(passage, "h")
    assert [i.question for i in items] == ["How do you solve linear regression?"]
    assert items[0].answer == (
        "The normal equation $\\beta = (X^{T}X)^{-1}X^{T}y$ gives **exact** weights."
    )
    assert items[0].evidence in text  # the evidence stays verbatim
    assert dropped == {"card: answer cut off": 1}
