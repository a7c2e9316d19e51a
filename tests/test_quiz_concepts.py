"""Quiz items from the structure of a passage (app.quiz.concepts), the table parser they read
(ingest.text.table_rows), and how a quiz chooses among its passages' items (generate.choose)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from sharpnotes.app.quiz import gate, verify
from sharpnotes.app.quiz.concepts import GENERATOR, _header_word, _question, concept_items
from sharpnotes.app.quiz.generate import across_notes, choose
from sharpnotes.app.quiz.items import Citation, QuizItem
from sharpnotes.app.quiz.terms import DistractorPool, Lexicon
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.text import table_rows

ALIGNMENT = """Post-training methods side by side.

| Algorithm | Data required | Extra models needed | Rel. cost |
|---|---|---|---|
| **SFT** | Curated instruction demos | none | low |
| **RLHF** | Human preference labels | reward model + critic | high |
| **DPO** | Preference pairs (chosen vs rejected) | reference model | medium |
| **KTO** | Binary thumbs up or down | none | low |
"""

SENSORS = """| | Camera | Lidar |
|---|---|---|
| Depth | inferred from learned cues | measured directly per point |
| Cost | a few dollars per unit | hundreds of dollars per unit |
| Weather | rain blurs the lens | rain and fog scatter the beams |
"""


def _passage(text: str, heading: str = "Alignment > Methods") -> SearchResult:
    return SearchResult(1, 0.0, "c1", "llm.md", heading, None, text)


def test_table_rows_reads_header_cells_and_lines() -> None:
    header, rows = table_rows("| a | b \\| c |\n|---|:-:|\n| x | y |\n|z|w|")
    assert header == ["a", "b | c"]
    assert [r.cells for r in rows] == [["x", "y"], ["z", "w"]]
    assert rows[1].line == "|z|w|"
    header, rows = table_rows("| 1 | 2 |\n| 3 | 4 |")  # no delimiter row: no header
    assert header == [] and len(rows) == 2


def test_a_comparison_table_gives_sibling_options_and_column_questions() -> None:
    passage = _passage(ALIGNMENT)
    items, dropped = concept_items(passage, "h", rng=random.Random(0))
    assert not dropped
    assert all(i.generator == GENERATOR and verify.check(i) is None for i in items)
    # four rows: no row is recited cell by cell (rated 2.9 against 3.75 for a column compared
    # across the rows) and no column compares four things (3.1 against 3.9-4.0 for two or
    # three; blind raters, tune half)
    assert not [i for i in items if i.type == "recall"]
    mcqs = [i for i in items if i.type == "mcq"]
    assert mcqs, "four rows name four methods: each row is also a which-one question"
    for mcq in mcqs:
        assert sorted(mcq.options) == ["DPO", "KTO", "RLHF", "SFT"]
        assert mcq.question.startswith("Which algorithm is this?")
        assert not verify.contains_term(mcq.question, mcq.answer)
        assert gate.reason(mcq, defined=set()) is None  # a row name needs no expansion


def test_a_table_of_three_rows_is_compared_column_by_column() -> None:
    kto = "| **KTO** | Binary thumbs up or down | none | low |\n"
    passage = _passage(ALIGNMENT.replace(kto, ""))
    items, _ = concept_items(passage, "h", rng=random.Random(0))
    # "rel. cost" is a word a row; "extra models needed" says something in one row only
    [data] = [i for i in items if i.type == "recall"]
    assert data.question == (
        'How do SFT, RLHF and DPO compare on "data required"? (Alignment > Methods)'
    )
    assert "Preference pairs (chosen vs rejected)" in data.key_points
    assert data.evidence in passage.text and data.evidence.startswith("| Algorithm")
    assert not [i for i in items if i.type == "mcq"]  # three rows: two siblings are too few


def test_a_row_of_a_longer_table_is_not_recited_but_is_an_mcq() -> None:
    text = (
        "| Method | Data required | Extra models needed | Example |\n|---|---|---|---|\n"
        "| **RLHF** | human preference labels | a reward model and a critic | InstructGPT |\n"
        "| **DPO** | preference pairs, chosen vs rejected | a frozen reference model | Zephyr |\n"
        "| **SFT** | curated instruction demos | none | Alpaca |\n"
        "| **KTO** | binary thumbs up or down | a reference model | Mistral |\n"
        "| **ORPO** | preference pairs | none | Mistral |\n"
    )
    items, _ = concept_items(_passage(text), "h", rng=random.Random(0))
    # copying a row's cells back ('For DPO, what are the "data required" and ...?') is trivia;
    # the cells are the clues of "which method is this?"
    assert [i.type for i in items] == ["mcq"] * 4  # ORPO's row says "preference pairs", "none"
    assert {i.answer for i in items} == {"RLHF", "DPO", "SFT", "KTO"}
    assert all(i.question.startswith("Which method is this?") for i in items)
    # a column that asks ("use when") is asked, in a table of any length; "key idea" is not
    asking = (
        text.replace("| Example |", "| Use when |", 1)
        .replace("| InstructGPT |", "| a reward can be learned from rankings |")
        .replace("| Zephyr |", "| pairs exist and RL is too costly |")
        .replace("| Alpaca |", "| good demonstrations are at hand |")
        .replace("| Mistral |\n| **ORPO**", "| feedback is a thumbs up or down |\n| **ORPO**")
    )
    items, _ = concept_items(_passage(asking), "h", rng=random.Random(0))
    recall = [i.question for i in items if i.type == "recall"]
    methods = ("RLHF", "DPO", "SFT", "KTO")  # ORPO's row says too little (above)
    assert recall == [f"When would you use the {m} method? (Alignment > Methods)" for m in methods]
    idea = text.replace("| Example |", "| Key idea |", 1)
    items, _ = concept_items(_passage(idea), "h", rng=random.Random(0))
    assert {i.type for i in items} == {"mcq"}
    # a first column headed "Name" says nothing of what a row names: no "the RLHF name"
    named = asking.replace("| Method |", "| Name |", 1)
    items, _ = concept_items(_passage(named), "h", rng=random.Random(0))
    assert [i.question for i in items if i.type == "recall"][0] == (
        "When would you use RLHF? (Alignment > Methods)"
    )
    assert {i.question.split("?")[0] for i in items if i.type == "mcq"} == {"Which one is this"}


@pytest.mark.parametrize(
    ("name", "words", "what", "question"),
    [
        ("1×1 conv", ["reason"], "layer", "Why use the 1×1 conv layer?"),
        (
            "Stratified k-fold",
            ["use when"],
            "variant",
            "When would you use the Stratified k-fold variant?",
        ),
        (
            "NaN after N steps",
            ["likely cause"],
            "symptom",
            "What is the likely cause of NaN after N steps?",
        ),
        ("PANet", ["change vs FPN"], "neck", "What does the PANet neck change from FPN?"),
        ("Layer norm", ["use when"], "norm layer", "When would you use Layer norm?"),  # named
        (
            "GBDT",
            ["pros", "cons"],
            "model",
            "What are the strengths and weaknesses of the GBDT model?",
        ),
        ("Focal loss", ["對付哪種不平衡"], "方法", "Focal loss 對付哪種不平衡？"),  # it asks
        ("ZeRO-2", ["切分的狀態"], "Stage", "ZeRO-2 的「切分的狀態」是什麼？"),
        ("LSS", ["深度", "時序"], "方法", "LSS：深度、時序各是什麼？"),
    ],
)
def test_row_questions_read_as_questions(name, words, what, question) -> None:  # type: ignore[no-untyped-def]
    assert _question(name, words, what) == question


def test_a_header_asking_what_becomes_a_noun() -> None:
    assert _header_word("What changes") == "changes"  # "what are the what changes" before
    assert _header_word("What I want on the whiteboard") == ""


def test_a_table_of_things_in_columns_compares_them_row_by_row() -> None:
    items, _ = concept_items(_passage(SENSORS, "Sensor fusion > The sensors"), "h")
    questions = [i.question for i in items]
    assert "How do Camera and Lidar compare on depth? (Sensor fusion > The sensors)" in questions
    assert len(items) == 3 and all(i.type == "recall" for i in items)
    weather = next(i for i in items if "weather" in i.question)
    assert weather.key_points == ["rain blurs the lens", "rain and fog scatter the beams"]


def test_tables_of_numbers_or_without_names_give_nothing() -> None:
    numbers = "| Model | AP | FPS |\n|---|---|---|\n| DETR | 42.0 | 28 |\n| YOLOv3 | 33.0 | 45 |"
    distances = (
        "| Distance | Height |\n|---|---|\n| 20 m | 61 px tall on screen |\n| 40 m | 30 px |"
    )
    for text in (numbers, distances):
        assert concept_items(_passage(text), "h")[0] == [], text


def test_a_named_list_asks_for_its_items() -> None:
    text = (
        "Cons of CNNs:\n\n- **Local receptive field**: global context comes late\n"
        "- Static weights, the same for every input\n- Hard to scale past a point"
    )
    items, _ = concept_items(_passage(text, "Transformers vs CNNs"), "h")
    assert [i.question for i in items] == ["What are the cons of CNNs? (Transformers vs CNNs)"]
    assert items[0].key_points == [
        "Local receptive field", "Static weights, the same for every input",
        "Hard to scale past a point",
    ]  # fmt: skip
    under = "- Weak at counting\n- Poor on abstract tasks\n"  # named by its heading
    items, _ = concept_items(_passage(under, "CLIP > Limitations (good interview material)"), "h")
    assert [i.question.split(" (")[0] for i in items] == ["What are the limitations of CLIP?"]
    zh = "缺點：\n\n- 深度估計錯了整個 BEV 就歪掉\n- 遠處的物體很稀疏\n"
    items, _ = concept_items(_passage(zh, "LSS"), "h")
    assert items and items[0].question.startswith("LSS 的缺點有哪些？")
    plain_list = "Steps:\n\n- collect data\n- train the model\n"
    assert concept_items(_passage(plain_list, "Pipeline"), "h")[0] == []


def test_a_cell_that_adds_to_the_one_above_is_asked_whole() -> None:
    text = (
        "| Level | Cached | Hit rate |\n|---|---|---|\n"
        "| L1 | the query embedding | +4% over none |\n"
        "| L2 | + the top-k neighbour ids | +9% over none |\n"
        "| L3 | + the reranked passages themselves | +11% over none |\n"
    )
    items, _ = concept_items(_passage(text, "Serving > Caching"), "h")
    assert [(i.question.split(" (")[0], i.answer) for i in items] == [
        (
            "How do L1, L2 and L3 compare on cached?",
            "L1: the query embedding; L2: the query embedding + the top-k neighbour ids; "
            "L3: the query embedding + the top-k neighbour ids + the reranked passages themselves",
        ),
        (  # "+4%" is a gain, not an addition to the cell above
            'How do L1, L2 and L3 compare on "hit rate"?',
            "L1: +4% over none; L2: +9% over none; L3: +11% over none",
        ),
    ]


def test_a_list_lead_in_nested_in_an_outline_is_about_the_item_above_it() -> None:
    text = (
        "Some context first.\n\n"
        "* Candidate models\n"
        "  * Wide and deep\n"
        "    * Drawbacks for mobile serving:\n"
        "      * two towers to keep in memory\n"
        "      * the wide part needs hand-made crosses\n"
        "  * Factorisation machine\n"
        "    * Limitations:\n"
        "      * pairwise interactions only\n"
        "      * no sequence features\n"
    )
    items, _ = concept_items(_passage(text, "Recsys > Models"), "h")
    assert [i.question.split(" (")[0] for i in items] == [
        "What are the drawbacks of Wide and deep for mobile serving?",  # not "of mobile serving"
        "What are the limitations of Factorisation machine?",  # not of the heading's "Models"
    ]
    # a use with nothing above to judge: asked as written
    alone = "Context.\n\nPitfalls for beginners:\n\n- leaking the test set\n- no baseline\n"
    items, _ = concept_items(_passage(alone, ""), "h")
    assert [i.question for i in items] == ["What are the pitfalls for beginners?"]


def test_the_pros_and_cons_an_outline_item_lists_are_asked_by_its_name() -> None:
    text = (
        "* Model selection\n"
        "  * GBDT\n"
        "    * pros: interpretable\n"
        "    * cons: slow to retrain continually, and no embedding layers\n"
        "  * Late fusion: one model a modality\n"
        "    * **Cons**: needs labelled data for each modality\n"
        "  * Two-tower network\n"
        "    * Serving: one lookup per user\n"  # a label that names no pros or cons
    )
    items, _ = concept_items(_passage(text, "Ads ranking > Model"), "h")
    assert [i.question for i in items] == [
        "What are the pros and cons of GBDT? (Ads ranking > Model > Model selection)",
        "What are the cons of Late fusion? (Ads ranking > Model > Model selection)",
    ]  # the item they sit under says what they are one of
    assert items[0].key_points == [
        "interpretable", "slow to retrain continually", "no embedding layers",
    ]  # fmt: skip
    assert items[0].evidence in text and "slow to retrain" in items[0].answer
    assert items[0].answer.startswith("pros: interpretable\ncons: ")  # two kinds: labelled
    assert items[1].answer == "needs labelled data for each modality"  # the question names it
    top = "* GBDT\n  * pros: interpretable\n  * cons: slow to retrain\n"  # nothing above it
    assert concept_items(_passage(top, "Ads"), "h")[0][0].question.endswith("of GBDT? (Ads)")
    # an item above that states a key point, or is a sentence rather than a name, is left out
    hint = "* Interpretable, cheap models\n  * GBDT\n    * pros: interpretable\n"
    assert concept_items(_passage(hint, "Ads"), "h")[0][0].question.endswith("of GBDT? (Ads)")
    said = (
        "* We tried a lot of different model families before we settled on one\n"
        "  * GBDT\n    * pros: interpretable\n    * cons: slow to retrain\n"
    )
    (item,), _ = concept_items(_passage(said, ""), "h")
    assert item.question == "What are the pros and cons of GBDT?"
    zh = "* BEVFormer\n  * 優點：不需要深度估計\n  * 缺點：訓練很慢\n"
    items, _ = concept_items(_passage(zh, "BEV"), "h")
    assert items and items[0].question.startswith("BEVFormer 的優點和缺點有哪些？")


def _made(generator: str, kind: str, chunk: str, question: str) -> QuizItem:
    answer = f"answer to {question}"
    return QuizItem(
        kind, question, answer, answer, answer, Citation(chunk, "a.md", "H"), generator=generator
    )


def test_choose_takes_own_cards_then_laid_out_items_one_a_passage() -> None:
    pools = [
        [_made("offline", "cloze", "p0", "q0 ____")],
        [_made("structure", "recall", "p1", "q1"), _made("offline", "mcq", "p1", "q1b ____")],
        [_made("notes", "recall", "p2", "q2")],
        [_made("offline", "recall", "p3", "q3")],
    ]
    chosen = choose(pools, 3, {})
    # a card, a table's item, then the rest: the cloze before a third recall (types rotate)
    assert [i.question for i in chosen] == ["q2", "q1", "q0 ____"]
    assert [i.question for i in choose(pools, 3, {}, preferred=1)][0] == "q0 ____"
    # more items than passages: second items come from passages already used
    assert [i.question for i in choose(pools, 6, {})] == ["q2", "q1", "q0 ____", "q3", "q1b ____"]
    dropped: dict[str, int] = {}
    twice = [[_made("offline", "cloze", "p0", "same")], [_made("offline", "mcq", "p1", "same")]]
    assert len(choose(twice, 2, dropped)) == 1 and dropped == {verify.DUPLICATE: 1}


def test_one_note_gives_at_most_half_a_quiz_while_others_offer_items() -> None:
    def made(source: str, generator: str, question: str) -> QuizItem:
        item = _made(generator, "recall", f"{source}-{question}", question)
        return dataclasses.replace(item, citation=Citation(item.citation.chunk_id, source, "H"))

    cards = [[made("theory.md", "notes", f"card {k}")] for k in range(6)]  # the best tier
    others = [[made("detr.md", "offline", "why no NMS")], [made("bev.md", "structure", "lss")]]
    chosen = choose(cards + others, 4, {})
    assert [i.citation.source for i in chosen].count("theory.md") == 2
    assert {i.question for i in chosen} >= {"why no NMS", "lss"}
    # nothing else to offer: the one note fills the quiz
    assert len(choose(cards, 4, {})) == 4
    # half of an odd quiz rounds down: two of five while others offer items
    chosen = choose(cards + others + [[made("clip.md", "offline", "why contrastive")]], 5, {})
    assert [i.citation.source for i in chosen].count("theory.md") == 2


def test_a_lead_in_naming_a_set_asks_for_its_entries() -> None:
    text = (
        "Two ways to get a smaller model from a big one:\n\n"
        "- **Pruning**: remove parameters from a trained network.\n"
        "  - unstructured or structured\n"
        "- **Distillation**: train a small student on the teacher's outputs.\n"
    )
    items, _ = concept_items(_passage(text, "Compression"), "h")
    assert [i.question for i in items] == [
        "What are the two ways to get a smaller model from a big one? (Compression)"
    ]
    assert items[0].key_points == ["Pruning", "Distillation"]  # nested entries are not points
    for lead in ("Introduced two tricks everyone still uses:", "It can be made in two ways:",
                 "Options:", "Context:", "Fixes the two big problems of [[detr]]:"):  # fmt: skip
        text = f"{lead}\n\n- first thing here\n- second thing here\n"
        assert concept_items(_passage(text, "Section"), "h")[0] == [], lead
    # a lead-in that goes on past its set is asked for the set alone
    text = (
        "The two error sources, and the trade-off between them is the game:\n\n"
        "- **Rounding**: values snapped to the nearest grid step.\n"
        "- **Clipping**: values outside the range are cut off.\n"
    )
    [item] = concept_items(_passage(text, "Quantization"), "h")[0]
    assert item.question == "What are the two error sources? (Quantization)"


def test_distractors_are_siblings_named_in_the_same_note() -> None:
    lexicon = Lexicon()
    lexicon.add_passage("a1", "llm/alignment.md", "Alignment", "**DPO** needs preference pairs.")
    lexicon.add_passage("a2", "llm/alignment.md", "Alignment", "**SFT** first, then **PPO** "
                        "with a reward model, or **KTO** with thumbs up or down.")  # fmt: skip
    lexicon.add_passage("b1", "llm/serving.md", "Serving", "**TGI** and **vLLM** use **FSDP**.")
    lexicon.add_passage("b2", "llm/serving.md", "Serving", "**GQA** shrinks the **KVC**.")
    picked = DistractorPool(lexicon).pick(
        "DPO", chunk_id="a1", source="llm/alignment.md", rng=random.Random(0)
    )
    assert sorted(picked) == ["KTO", "PPO", "SFT"]


def test_lists_and_rows_that_would_mislead_or_hint_give_no_item() -> None:
    # a lead-in after a paragraph: its subject may be that paragraph's, not the section's
    text = "Bag of words counts tokens.\n\nDisadvantages:\n\n- sparse vectors\n- no word order\n"
    assert concept_items(_passage(text, "Text classification"), "h")[0] == []
    vague = "3 main components:\n\n- detection service\n- demoting service\n"
    assert concept_items(_passage(vague, "Prediction service"), "h")[0] == []
    table = """| Layer | Statistics over | Typical home |
|---|---|---|
| BatchNorm | N, H, W per channel | CNNs with a decent batch size |
| LayerNorm | C, H, W per sample | transformers and RNNs of any length |
| GroupNorm | channel groups per sample | detection with tiny per-GPU batches |
| InstanceNorm | H, W per sample and channel | style transfer and image generation |
"""
    items, _ = concept_items(_passage(table, "Normalization layers"), "h", rng=random.Random(0))
    batch = next(i for i in items if i.type == "mcq" and i.answer == "BatchNorm")
    assert "batch size" not in batch.question  # the clue that hints the name is left out
    assert "N, H, W per channel" in batch.question
    from sharpnotes.app.quiz.concepts import _hints

    assert _hints("PointNet++, PointRCNN", "Raw points")  # "point..." opens both
    assert _hints("PointPillars", "Pillars (vertical columns)")  # holds the name
    assert not _hints("regular grid, strong accuracy", "Raw points")
    good_for = (
        "| | ROC-AUC | PR-AUC |\n|---|---|---|\n"
        "| good for | balanced data, ranking quality | rare positives, retrieval |\n"
        "| random baseline | always 0.5 here | the share of positives |\n"
    )
    items, _ = concept_items(_passage(good_for, "Metrics"), "h")
    assert [i.question for i in items] == [
        "What are ROC-AUC and PR-AUC good for? (Metrics)",
        "How do ROC-AUC and PR-AUC compare on random baseline? (Metrics)",
    ]


def test_a_quoted_sentence_reads_without_its_quote_marker() -> None:
    from sharpnotes.app.quiz.offline import plain

    assert plain("> Increasingly common as a **separate round**.") == (
        "Increasingly common as a separate round."
    )
    assert plain(">> - nested *quote* item") == "nested *quote* item"
    assert plain("- [ ] Check the **loss** at init") == "Check the loss at init"  # a task box
    # a link to other notes by their slugs goes; a formula in brackets stays
    assert plain("Scale by (1-p) at train time (dropout-notes, iou-ap-map).") == (
        "Scale by (1-p) at train time."
    )


def test_a_continued_section_lends_no_subject_to_its_lists() -> None:
    """A long section cut into chunks: "Disadvantages:" opening the second chunk is about what
    the first chunk described (bag of words), not about the section's heading."""
    text = "Disadvantages:\n1. The vocabulary needs careful design.\n2. Word order is lost.\n"
    passage = _passage(text, "Interview questions > Text classification")
    first = [i.question for i in concept_items(passage, "h")[0]]
    assert first and first[0].startswith("What are the disadvantages of Text classification?")
    assert concept_items(passage, "h", continues=True)[0] == []


def test_an_outline_item_written_as_an_instruction_is_asked_as_an_activity() -> None:
    text = (
        "* Use a multi-task classifier: one head per harm\n"
        "  * pros: shared layers, less data per task\n"
        "  * cons: tasks can interfere\n"
        "* Build vs buy\n"
        "  * pros: control\n"
    )
    questions = [i.question for i in concept_items(_passage(text, "Design > Model"), "h")[0]]
    using = "What are the pros and cons of using a multi-task classifier? (Design > Model)"
    assert using in questions
    assert "What are the pros of Build vs buy? (Design > Model)" in questions


def test_a_row_with_a_question_column_is_asked_that_question() -> None:
    """A row whose columns include "use when" (or pros and cons) is asked that, not a list of
    all its columns; the other cells stay the clues of its which-one MCQ."""
    text = (
        "| Method | Data required | Use when |\n|---|---|---|\n"
        "| **SFT** | curated instruction demos | you have good demonstrations |\n"
        "| **DPO** | preference pairs | you have chosen and rejected answers |\n"
        "| **KTO** | thumbs up or down | you only have binary feedback |\n"
        "| **RLHF** | human preference labels | you can afford a reward model |\n"
    )
    items, _ = concept_items(_passage(text, "Alignment"), "h", rng=random.Random(0))
    dpo = next(i for i in items if i.type == "recall" and "DPO" in i.question)
    assert dpo.question == "When would you use the DPO method? (Alignment)"
    assert dpo.key_points == ["you have chosen and rejected answers"]
    assert dpo.answer == "you have chosen and rejected answers"  # no "use when:" in front
    mcq = next(i for i in items if i.type == "mcq" and i.answer == "DPO")
    assert "data required: preference pairs" in mcq.question  # every cell a clue
    # the clues as a list under the question (rated 4.34 against 3.45 run into one line)
    question, *clues = mcq.question.split("\n")
    assert question == "Which method is this? (Alignment)"
    assert clues and all(c.startswith("- ") for c in clues)
    from sharpnotes.app.cli._common import one_line

    assert one_line(mcq.question).startswith("Which method is this? (Alignment) - ")
    pros_cons = "| Rep | Pros | Cons |\n|---|---|---|\n| Voxels | regular grid, fast convs | quantisation loss |\n| Points | no quantisation loss | slow neighbour search |\n"  # noqa: E501
    asked = [i.question for i in concept_items(_passage(pros_cons, "Lidar"), "h")[0]]
    assert "What are the strengths and weaknesses of the Voxels rep? (Lidar)" in asked


def test_a_quiz_draws_its_passages_from_across_the_notes() -> None:
    from sharpnotes.ingest.catalog import ChunkRow

    def rows(source: str, n: int) -> list[ChunkRow]:
        return [ChunkRow(f"{source}-{i}", source, "H", None, "t", "h", {}, i) for i in range(n)]

    big, small = rows("theory.md", 300), rows("detr.md", 3) + rows("bev.md", 2)
    order = across_notes(big + small, random.Random(7))
    assert sorted(r.chunk_id for r in order) == sorted(r.chunk_id for r in big + small)
    # each note in turn: the first three passages come from the three notes
    assert {r.source for r in order[:3]} == {"theory.md", "detr.md", "bev.md"}
    assert [r.chunk_id for r in across_notes(big + small, random.Random(7))] == [
        r.chunk_id for r in order
    ]  # seeded: the same order


def test_a_question_shows_its_headings_without_numbers_and_long_asides() -> None:
    under = "- Weak at counting\n- Poor on abstract tasks\n"
    heading = "2. Contrastive learning > CLIP (Radford et al., OpenAI, 2021) > Limitations (good interview material)"  # noqa: E501
    items, _ = concept_items(_passage(under, heading), "h")
    assert [i.question for i in items] == [
        "What are the limitations of CLIP? (Contrastive learning > CLIP > Limitations)"
    ]
    table = ALIGNMENT.replace("Post-training methods side by side.\n\n", "")
    numbered = _passage(table, "LLMs > 6. Post-training (know the names) > Table")
    items, _ = concept_items(numbered, "h")
    firsts = [i.question.split("\n")[0] for i in items]
    assert firsts and all(q.endswith("(LLMs > Post-training > Table)") for q in firsts), firsts
    kept = _passage(table, "Feature Pyramid Networks (FPN) > 2020 results")
    items, _ = concept_items(kept, "h")
    assert any("(Feature Pyramid Networks (FPN) > 2020 results)" in i.question for i in items)
    # the quality gate still reads the shortened path as the question's context
    for item in items:
        assert "Feature Pyramid" not in gate.without_context(item)


def test_a_list_of_three_named_things_is_compared() -> None:
    """ "- ByteTrack: associate low-score dets too" names a thing and says what it does: three
    such lines are compared. A longer list gives no "Which one is this?" MCQ a line (rated 2.69
    blind: category labels read off their clue), and facets of one thing ("Augmentation",
    "Schedule", "Compare") give nothing."""
    trackers = (
        "- SORT: Kalman filter + Hungarian on IoU, fast, many ID switches\n"
        "- DeepSORT: adds an appearance embedding from a ReID CNN, fewer ID switches\n"
        "- ByteTrack: associates low-score detections too in a second pass\n"
    )
    items, _ = concept_items(_passage(trackers, "MOT quick notes"), "h")
    (compare,) = [i for i in items if i.question.startswith("How do")]
    assert compare.question.startswith("How do SORT, DeepSORT and ByteTrack differ?")
    assert compare.type == "recall" and len(compare.key_points) == 3
    assert compare.evidence in trackers
    longer = trackers + "- OC-SORT: re-updates the Kalman filter from observations after a loss\n"
    items, _ = concept_items(_passage(longer, "MOT quick notes"), "h")
    assert not [i for i in items if i.question.startswith(("How do", "Which one"))]
    facets = (
        "- Augmentation: multi-scale resize and random crop\n"
        "- Schedule: 500 epochs, the rate dropped at 400\n"
        "- Compare: Faster R-CNN with the same backbone and schedule\n"
    )
    items, _ = concept_items(_passage(facets, "DETR > Training recipe"), "h")
    assert not [i for i in items if i.question.startswith("How do")]
