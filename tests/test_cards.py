"""Hand-written cards (ingest.cards): every syntax the README lists, every Q/A pair of the
sample notes, and no card out of other people's prose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import SHARED_DATA
from sharpnotes.ingest.cards import CLOZE_MARK, find_cards, real_answer

NOTES = Path(__file__).resolve().parents[1] / "notes"
MLNOTES = SHARED_DATA / "mlnotes"


def _pairs(text: str) -> list[tuple[str, str, str]]:
    return [(c.syntax, c.question, c.answer) for c in find_cards(text)]


def test_q_a_on_one_line_in_a_list_and_in_emphasis() -> None:
    text = (
        "## Q/A\n"
        "- *Q: Why F1 not accuracy for fraud?* A: Accuracy rewards the majority class.\n"
        "- Q: Why can DETR skip NMS? A: Matching is one-to-one.\n"
        "Q: 為什麼不用 IPM？ A: IPM 假設地面是平的。\n"
    )
    assert _pairs(text) == [
        ("Q: A:", "Why F1 not accuracy for fraud?", "Accuracy rewards the majority class."),
        ("Q: A:", "Why can DETR skip NMS?", "Matching is one-to-one."),
        ("Q: A:", "為什麼不用 IPM？", "IPM 假設地面是平的。"),
    ]


def test_bold_question_then_answer_line_paragraph_or_quote() -> None:
    text = (
        "**Q: Intrinsics vs extrinsics?**\nA: Intrinsics are per-camera.\n\n"
        "**Q: Why does QAT beat PTQ?** Because the weights adapt.\n"
        "**Q: Why per-channel weights?** Scales fold into the rescale.\n\n"
        "**Q: One or two stage?**\n\n**A (30 s):** Two-stage proposes first.\n\n"
        "> Q: What is ViT?\n> A: A transformer on patches.\n"
    )
    assert [(q, a) for _, q, a in _pairs(text)] == [
        ("Intrinsics vs extrinsics?", "Intrinsics are per-camera."),
        ("Why does QAT beat PTQ?", "Because the weights adapt."),
        ("Why per-channel weights?", "Scales fold into the rescale."),
        ("One or two stage?", "Two-stage proposes first."),
        ("What is ViT?", "A transformer on patches."),
    ]


def test_an_answer_labelled_a_is_its_paragraph_and_the_list_it_leads_into() -> None:
    text = (
        "Q: Calibration 錯了會怎樣？\nA: 遠處的 feature 會落到錯的 BEV cell。\n\n"
        "Some English notes to self:\n- grid size grows quadratically\n"
        "- TODO: write up BEVFusion\n\n"
        "Q: Why two stages?\nA: Two reasons:\n\n- recall first\n- precision second\n\n"
        "Later prose.\n"
    )
    assert [(q, a) for _, q, a in _pairs(text)] == [
        ("Calibration 錯了會怎樣？", "遠處的 feature 會落到錯的 BEV cell。"),
        ("Why two stages?", "Two reasons:\n\n- recall first\n- precision second"),
    ]


def test_bold_question_takes_the_blocks_up_to_the_next_question() -> None:
    text = (
        "**What is regression? 👶**\n\nRegression models a numeric target.\n\n"
        "- linear\n- trees\n\n<br/>\n\n"
        "**What is an open question? ⭐️**\n\nAnswer here\n\n<br/>\n\n"
        "**Is this one answered?**\n\n**And this?**\n\nYes.\n"
    )
    cards = find_cards(text)
    assert [c.question for c in cards] == ["What is regression?", "And this?"]
    assert cards[0].answer == "Regression models a numeric target.\n\n- linear\n- trees"
    assert text[cards[0].start : cards[0].end].endswith("- trees")


def test_question_heading_takes_its_section_body() -> None:
    text = (
        "# Notes\n\n## Why not MSE for classification?\n\nThe gradient vanishes.\n\n"
        "### Detail\n\nSigmoid saturates.\n\n## Next topic\n\nProse.\n\n## Empty?\n\n## After\n"
    )
    (card,) = find_cards(text)
    assert card.syntax == "question heading"
    assert card.question == "Why not MSE for classification?"
    assert card.answer == "The gradient vanishes.\n\n### Detail\n\nSigmoid saturates."


def test_obsidian_inline_multiline_and_clozes() -> None:
    text = (
        "Capital of France::Paris\n\n"
        "Focal loss:::down-weights easy examples\n\n"
        "Use `std::vector` and randomForest::combine in code.\n\n"
        "What does BN do at eval time?\n?\nIt uses running statistics.\n\n"
        "Two ways\n??\nBoth ways\n\n"
        "The ==focal loss== fixes ==class imbalance==.\n\n"
        "{{c1::RetinaNet}} introduced {{c2::focal loss::a loss}}.\n\n"
        "```\nQ: in code? A: never a card\n```\n"
    )
    cards = find_cards(text)
    got = [(c.syntax, c.question, c.answer, c.reverse) for c in cards]
    assert got == [
        ("question::answer", "Capital of France", "Paris", False),
        ("question:::answer", "Focal loss", "down-weights easy examples", False),
        ("question:::answer", "down-weights easy examples", "Focal loss", True),
        ("multi-line ?", "What does BN do at eval time?", "It uses running statistics.", False),
        ("multi-line ?", "Two ways", "Both ways", False),
        ("multi-line ?", "Both ways", "Two ways", True),
        ("==highlight==", f"The {CLOZE_MARK} fixes class imbalance.", "focal loss", False),
        ("==highlight==", f"The focal loss fixes {CLOZE_MARK}.", "class imbalance", False),
        ("{{c1::...}}", f"{CLOZE_MARK} introduced focal loss.", "RetinaNet", False),
        ("{{c1::...}}", f"RetinaNet introduced {CLOZE_MARK}.", "focal loss", False),
    ]


def test_open_questions_and_prose_make_no_cards() -> None:
    text = (
        "- What is machine learning?\n- How do you choose k? (imbalanced data)\n\n"
        "Why does this matter? Because prose asks questions too.\n\n"
        "- **Speed?** Not a card: a bold word in a list item.\n"
    )
    assert find_cards(text) == []
    # an answer still to write is no answer
    todo = "Q: What is ORPO? A: TODO\n\nQ: What is KTO? A: see above\n\nQ: What is DPO? A: ..."
    assert find_cards(todo) == []
    assert real_answer("Because the reward model is folded in.") and not real_answer("  ")


def test_every_q_a_pair_of_the_sample_notes_is_found() -> None:
    """Each "Q:" the sample notes hold is one card (100% found), and the offsets are exact."""
    expected = found = 0
    for path in sorted(NOTES.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        expected += len(re.findall(r"(?m)^(?:[-*>#\s]*)\**\*?Q\s*:", text))
        cards = find_cards(text)
        for card in cards:
            assert card.question and card.answer, path
            assert text[card.start : card.end].strip(), path
        found += sum(1 for c in cards if re.search(r"Q\s*:", text[c.start : c.end]))
    assert expected >= 70
    assert found == expected


@pytest.mark.skipif(not MLNOTES.is_dir(), reason=f"{MLNOTES} not found (shared test data)")
def test_mlnotes_prose_gives_no_card() -> None:
    """Cards come only from the two Q/A files; link lists, LICENSEs and prose give none."""
    by_file = {}
    for path in sorted(MLNOTES.rglob("*")):
        if path.is_file() and (path.suffix == ".md" or path.name == "LICENSE"):
            cards = find_cards(path.read_text(encoding="utf-8", errors="replace"))
            if cards:
                by_file[path.relative_to(MLNOTES).as_posix()] = cards
    # and a question of an outline that the items nested under it answer (not questions
    # themselves): "Do we need ML to solve this problem?" over "- Trade off between ..."
    listed = {f for f, found in by_file.items() if {c.syntax for c in found} == {"listed question"}}
    assert set(by_file) - listed == {
        "data-science-interviews/theory.md",
        "data-science-interviews/contrib/probability.md",
    }
    assert len(listed) <= 4 and all(f.startswith("Machine-Learning-Interviews/") for f in listed)
    theory = by_file["data-science-interviews/theory.md"]
    assert len(theory) >= 140
    assert all(c.question.endswith("?") for c in theory)
    assert not any(re.match(r"(?i)answer here|for specifics", c.answer) for c in theory)


def test_a_numbered_question_answered_by_the_items_under_it_is_a_card() -> None:
    """Lists of interview questions are written "1. What is label smoothing?" over nested
    bullets: that is a card. A list of questions alone, an outline item that is no question
    ("Business objective?") and a question over questions to ask are not."""
    text = (
        "1. What is label smoothing?\n"
        "   - Replace the one-hot target with 1 - eps on the true class.\n"
        "   - It prevents over-confident logits.\n"
        "2. Why use learning-rate warmup?\n"
        "   - A large rate early on can diverge.\n"
    )
    cards = find_cards(text)
    assert [(c.question, c.syntax) for c in cards] == [
        ("What is label smoothing?", "listed question"),
        ("Why use learning-rate warmup?", "listed question"),
    ]
    assert cards[0].answer == (
        "- Replace the one-hot target with 1 - eps on the true class.\n"
        "- It prevents over-confident logits."
    )
    assert find_cards("- What is dropout?\n- Why does batchnorm help?\n") == []
    assert find_cards("- Business objective?\n  - Increase engagement\n") == []
    outline = "- How do you run an A/B test?\n  - what portion of users?\n  - which metric?\n"
    assert find_cards(outline) == []
    # the answer written as the item's own lines under its question, as often
    written = (
        "3. What is NMS and why is it needed?\n"
        "   Non-maximum suppression removes duplicate boxes: keep the best, drop overlaps.\n\n"
        "4. What is the receptive field?\n"
        "   The input region one output activation sees.\n"
    )
    assert [(c.question, c.answer) for c in find_cards(written)] == [
        (
            "What is NMS and why is it needed?",
            "Non-maximum suppression removes duplicate boxes: keep the best, drop overlaps.",
        ),
        ("What is the receptive field?", "The input region one output activation sees."),
    ]
    assert find_cards("- How do you run an A/B test?\n  which portion of users?\n") == []
    # in Chinese too, with a question word; an outline prompt ("業務目標？") is no card
    zh = "1. NMS 是做什麼的？\n   去掉重疊的框。\n\n2. 業務目標？\n   - 提升點擊\n"
    assert [(c.question, c.answer) for c in find_cards(zh)] == [
        ("NMS 是做什麼的？", "去掉重疊的框。")
    ]
    # ... or a question that asks to choose ("A 還是 B？"), as Chinese asks it without 什麼
    choose = (
        "3. 行人偵測該看 precision 還是 recall？\n   recall 比較重要，漏掉行人是 safety issue。\n"
    )
    assert [c.question for c in find_cards(choose)] == ["行人偵測該看 precision 還是 recall？"]


def test_an_answer_that_says_there_is_none_yet_makes_no_card() -> None:
    """ "Q: ... A: hmm not sure, skip" is a note to self, not a card; an answer that only opens
    with such words ("Not sure it generalizes: ...", "Skip connections ...") is one."""
    for placeholder in ("hmm not sure, skip", "??", "待補", "idk", "No idea."):
        assert find_cards(f"Q: What is the receptive field in BEV?\nA: {placeholder}\n") == []
    for real in ("Not sure it generalizes: the reference points depend on calibration.",
                 "Skip connections add the block's input to its output."):  # fmt: skip
        cards = find_cards(f"Q: Why does it matter?\nA: {real}\n")
        assert [c.answer for c in cards] == [real]


def test_a_question_left_without_an_answer_is_an_open_question() -> None:
    """What an answer or the gate must not read as saying anything: a labelled or bold question
    over a placeholder, over nothing, or over the next question; a card is not one."""
    from sharpnotes.ingest.cards import open_questions, without_open_questions

    text = (
        "Q: What is ECE?\nA: TODO\n\n**What is NDS?**\n\nQ: Why BF16?\nA: Same exponent as FP32.\n"
    )
    spans = open_questions(text)
    assert [text[a:b].split("\n")[0] for a, b in spans] == ["Q: What is ECE?", "**What is NDS?**"]
    blanked = without_open_questions(text)
    assert len(blanked) == len(text) and "ECE" not in blanked and "NDS" not in blanked
    assert "Q: Why BF16?\nA: Same exponent as FP32." in blanked
    # on one line too; a question that ends the passage may be answered by the next one
    assert open_questions("Q: What is ECE? A: TODO\nQ: Why BF16? A: Same range.\n") == [(0, 23)]
    assert open_questions("Intro.\n\nQ: Why does DETR need no NMS?") == []
