"""ingest/text.py, the one way text is cut: hand-checked blocks, sentences, units, CJK ranges,
tokens, content terms and heading cleaning, and a property test that every span is a verbatim
slice that stays inside its block."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpnotes.ingest.text import (
    STOP_WORDS,
    Block,
    blocks,
    clean_heading,
    code_fence_lines,
    has_cjk,
    heading_title,
    list_parents,
    sentences,
    split_sentences,
    terms,
    tokens,
    units,
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(b.kind, b.text) for b in blocks(text)]


def said(text: str) -> list[str]:
    return [s.text for s in sentences(text)]


# --- sentences ----------------------------------------------------------------------------


def test_e_g_in_a_list_item_does_not_end_the_sentence() -> None:
    text = "- Augment the data, e.g. RandAugment or MixUp. It regularises.\n- Next item."
    assert said(text) == [
        "- Augment the data, e.g. RandAugment or MixUp.",
        "It regularises.",
        "- Next item.",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # decimals, versions, URLs and file names hold no space after their periods
        (
            "The loss fell to 0.5 with v2.1 of the code. See https://arxiv.org/abs/1706.03762 "
            "and config.yaml. Done.",
            [
                "The loss fell to 0.5 with v2.1 of the code.",
                "See https://arxiv.org/abs/1706.03762 and config.yaml.",
                "Done.",
            ],
        ),
        # abbreviations: always, before a number or bracket, before a capital only
        (
            "Fig. 3 shows it, cf. Eq. (2) and No. 5. Smith et al. (2017) agree. "
            "We tried SGD, Adam etc. The end.",
            [
                "Fig. 3 shows it, cf. Eq. (2) and No. 5.",
                "Smith et al. (2017) agree.",
                "We tried SGD, Adam etc.",
                "The end.",
            ],
        ),
        # a lowercase start after a plain word: notes are often written all in lowercase
        (
            "It takes approx. five epochs. then the no. of boxes drops. see Fig. 2",
            ["It takes approx. five epochs.", "then the no. of boxes drops.", "see Fig. 2"],
        ),
        # closing quotes, brackets and emphasis stay with the sentence they close
        (
            '**Why?** Because "it scales." (See below.) Next.',
            ["**Why?**", 'Because "it scales."', "(See below.)", "Next."],
        ),
        # inline code and math are never cut
        (
            "Call `x.fit(). Then` now. Use $a. B$ here.",
            ["Call `x.fit(). Then` now.", "Use $a. B$ here."],
        ),
    ],
)
def test_sentence_ends(text: str, expected: list[str]) -> None:
    assert said(text) == expected


def test_abbreviations_initials_and_dotted_abbreviations() -> None:
    assert said("ResNet vs. ViT: Dr. Lee asked, i.e. Why? No. It works.") == [
        "ResNet vs. ViT: Dr. Lee asked, i.e. Why?",
        "No.",  # "No." is an abbreviation only before a number
        "It works.",
    ]
    assert said("J. R. R. Tolkien lived in the U.S. Army camp. He wrote.") == [
        "J. R. R. Tolkien lived in the U.S. Army camp.",
        "He wrote.",
    ]


def test_cjk_sentence_ends_need_no_space() -> None:
    text = "注意力機制很重要。它可以並行！為什麼？因為矩陣乘法；很快"
    assert said(text) == [
        "注意力機制很重要。",
        "它可以並行！",
        "為什麼？",
        "因為矩陣乘法；",
        "很快",
    ]


def test_a_list_item_that_leads_in_is_one_unit_with_the_next_item() -> None:
    """ "* Precision and recall are metrics:" leads into the item after it at its indent (the
    formulas): quoted alone it says nothing. A nested item after a lead-in is its own unit."""
    from sharpnotes.ingest.text import units

    text = (
        "* Precision and recall are metrics:\n* P = TP / (TP + FP), R = TP / (TP + FN).\n"
        "* F1 is their harmonic mean.\n"
        "* Factorisation machine\n  * Limitations:\n    * pairwise interactions only\n"
    )
    assert [u.text for u in units(text)] == [
        "* Precision and recall are metrics:\n* P = TP / (TP + FP), R = TP / (TP + FN).",
        "* F1 is their harmonic mean.",
        "* Factorisation machine",
        "* Limitations:",
        "* pairwise interactions only",
    ]


def test_a_quoted_sentence_reads_without_its_quote_markers() -> None:
    """A quotation over two lines was quoted as "Focal loss re-weights, > so no sampling"."""
    from sharpnotes.ingest.text import units

    (quoted,) = units("> Focal loss re-weights all anchors,\n> so no sampling is needed.\n")
    assert quoted.clean == "Focal loss re-weights all anchors, so no sampling is needed."
    (plain,) = units("The rule x > y holds on every anchor here.")
    assert plain.clean == "The rule x > y holds on every anchor here."


def test_a_cjk_end_takes_the_emphasis_that_closes_it() -> None:
    """A bold Chinese question keeps its closing "**": the answer after it does not open with
    a stray "** " when quoted."""
    text = "**為什麼 Deformable DETR 收斂比較快？** 因為只看少數取樣點。也能處理小物體。"
    assert said(text) == [
        "**為什麼 Deformable DETR 收斂比較快？**",
        "因為只看少數取樣點。",
        "也能處理小物體。",
    ]


def test_mixed_english_and_chinese() -> None:
    text = "Transformer 用 self-attention。The scale is 1/sqrt(d). 你知道嗎?知道「這個」。Done."
    assert said(text) == [
        "Transformer 用 self-attention。",
        "The scale is 1/sqrt(d).",
        "你知道嗎?",
        "知道「這個」。",
        "Done.",
    ]


def test_a_sentence_never_crosses_a_block() -> None:
    text = "A paragraph with no full stop\n- an item with none\n\n# A heading\nand text"
    assert said(text) == [
        "A paragraph with no full stop",
        "- an item with none",
        "# A heading",
        "and text",
    ]


def test_soft_wrapped_prose_is_one_sentence() -> None:
    assert said("One sentence that\nwraps over lines. Next\none.") == [
        "One sentence that\nwraps over lines.",
        "Next\none.",
    ]


def test_a_sentence_left_open_runs_into_the_formula_that_completes_it() -> None:
    """ "..., the output width is" over a display formula was quoted without the formula; a
    sentence that ends is quoted apart from the formula after it."""
    note = (
        "For input width $W$, kernel $K$, padding $P$ and stride $S$, the output width is\n\n"
        "$$O = (W - K + 2P) / S + 1$$\n\n"
        "The loss is the mean squared error.\n\n$$L = \\frac{1}{n} \\sum (y - \\hat y)^2$$\n"
    )
    found = [(u.kind, u.text.split("\n")[0]) for u in units(note)]
    assert found == [
        (
            "formula",
            "For input width $W$, kernel $K$, padding $P$ and stride $S$, the output width is",
        ),
        ("sentence", "The loss is the mean squared error."),
        ("formula", "$$L = \\frac{1}{n} \\sum (y - \\hat y)^2$$"),
    ]


def test_lines_that_each_open_with_a_label_are_a_unit_each() -> None:
    """A list written without markers ("SORT: ...", "DeepSORT: ...") is one claim a line, not
    one run-on sentence; a soft-wrapped paragraph whose first line has a colon stays whole."""
    tools = (
        "SORT: Kalman filter + Hungarian matching on IoU\n"
        "DeepSORT: adds an appearance embedding → fewer ID switches\n"
        "ByteTrack：也關聯低分的偵測框\n"
    )
    assert [u.text for u in units(tools)] == [
        "SORT: Kalman filter + Hungarian matching on IoU",
        "DeepSORT: adds an appearance embedding → fewer ID switches",
        "ByteTrack：也關聯低分的偵測框",
    ]
    wrapped = "Note: the matching cost mixes class and box terms,\nso both losses are balanced.\n"
    assert [u.text for u in units(wrapped)] == [wrapped.strip()]


def test_split_sentences_reads_a_range_with_its_offsets() -> None:
    text = "skip. This one. And this."
    spans = split_sentences(text, 6, len(text))
    assert [(s.start, s.text) for s in spans] == [(6, "This one."), (16, "And this.")]


# --- blocks -------------------------------------------------------------------------------


def test_fences_of_both_kinds_and_lengths() -> None:
    text = (
        "````md\n```\nnot closed by three\n````\n"
        "~~~\ncode ~~~ inline\n~~~~\n"
        "```js extra `tick`\nis a paragraph: a backtick in the info string\n"
    )
    assert kinds(text) == [
        ("code", "````md\n```\nnot closed by three\n````"),
        ("code", "~~~\ncode ~~~ inline\n~~~~"),  # the longer closing fence of the same char
        ("paragraph", "```js extra `tick`\nis a paragraph: a backtick in the info string"),
    ]


def test_an_unclosed_fence_runs_to_the_end_and_hides_headings() -> None:
    text = "Intro.\n\n  ```python\n# not a heading\n\nx = 1\n"
    assert kinds(text) == [
        ("paragraph", "Intro."),
        ("code", "  ```python\n# not a heading\n\nx = 1\n"),
    ]
    assert [code for _, code in code_fence_lines(text)] == [
        False,
        False,
        True,
        True,
        True,
        True,
        True,
    ]


def test_display_math_one_line_several_lines_brackets_and_unclosed() -> None:
    text = (
        "$$a = b$$ where a is\n\n"
        "$$\nL = x. Y\n\n+ c\n$$\n\n"
        "\\[\n\\sum_i x_i\n\\]\n\n"
        "$$ unclosed\nstill math\n\nprose again"
    )
    assert kinds(text) == [
        ("math", "$$a = b$$ where a is"),
        ("math", "$$\nL = x. Y\n\n+ c\n$$"),  # closed: blank lines inside are kept
        ("math", "\\[\n\\sum_i x_i\n\\]"),
        ("math", "$$ unclosed\nstill math"),  # unclosed: ends at the blank line
        ("paragraph", "prose again"),
    ]


def test_tables_with_and_without_outer_pipes() -> None:
    text = "Intro\n| a | b |\n|---|---|\n| 1 | 2 |\n\nx | y\n--|--\n1 | 2\nafter"
    assert kinds(text) == [
        ("paragraph", "Intro"),
        ("table", "| a | b |\n|---|---|\n| 1 | 2 |"),
        ("table", "x | y\n--|--\n1 | 2"),
        ("paragraph", "after"),
    ]


def test_list_items_nested_with_continuations() -> None:
    text = (
        "1. First, wrapped\n   over two lines\n"
        "   - nested item\n     continued\n"
        "2) Second\n\n   a second paragraph of it\n\n"
        "* third\nlazy continuation\nA new paragraph, no blank line before it.\n\nNot in the list."
    )
    assert kinds(text) == [
        ("list", "1. First, wrapped\n   over two lines"),
        ("list", "   - nested item\n     continued"),
        ("list", "2) Second\n\n   a second paragraph of it"),
        ("list", "* third\nlazy continuation"),
        ("paragraph", "A new paragraph, no blank line before it."),
        ("paragraph", "Not in the list."),
    ]
    # a numbered section title of a PDF page does not swallow the section
    pdf = "1. Summary\nDETR recasts detection as set prediction. It needs no NMS.\n2. Method\n"
    assert kinds(pdf) == [
        ("list", "1. Summary"),
        ("paragraph", "DETR recasts detection as set prediction. It needs no NMS."),
        ("list", "2. Method"),
    ]


def test_headings_quotes_rules_and_front_matter() -> None:
    text = "---\ntitle: x\n---\n# One #\n#tag line\n> quoted\n> more\n\n* * *\n####### seven"
    assert kinds(text) == [
        ("front_matter", "---\ntitle: x\n---"),
        ("heading", "# One #"),
        ("paragraph", "#tag line"),
        ("quote", "> quoted\n> more"),
        ("rule", "* * *"),
        ("paragraph", "####### seven"),
    ]
    assert [b.level for b in blocks(text)][1] == 1
    assert kinds("---\nno closing line\n") == [("rule", "---"), ("paragraph", "no closing line")]


# --- units --------------------------------------------------------------------------------


def test_units_quote_blocks_whole_and_join_an_intro_with_its_block() -> None:
    text = (
        "## Loss\nThe loss has two parts, e.g. Focal and GIoU. Ok.\n\n"
        "The matching cost is:\n- class probability\n- box distance\n\n"
        "```python\nloss = a + b. item()\n```\n"
    )
    found = units(text)
    assert [(u.kind, u.text) for u in found] == [
        ("sentence", "The loss has two parts, e.g. Focal and GIoU."),  # "Ok." is too short
        ("list", "The matching cost is:\n- class probability"),
        ("list", "- box distance"),
        ("code", "```python\nloss = a + b. item()\n```"),
    ]
    assert found[1].clean == found[1].text
    assert units("One line\nwrapped here.")[0].clean == "One line wrapped here."


def test_a_chinese_or_emphasised_lead_in_joins_its_block_too() -> None:
    text = (
        "BEV 的好處有兩個：\n\n- planning 本來就在俯視座標裡\n- 多相機融合比較自然\n\n"
        "**Two reasons:**\n\n- one path\n- two paths\n"
    )
    assert [(u.kind, u.text) for u in units(text)] == [
        ("list", "BEV 的好處有兩個：\n\n- planning 本來就在俯視座標裡"),
        ("list", "- 多相機融合比較自然"),
        ("list", "**Two reasons:**\n\n- one path"),  # dropped before: one term, no ":" at its end
        ("list", "- two paths"),
    ]


def test_a_nested_item_knows_the_items_it_sits_under() -> None:
    text = (
        "Intro line.\n\n"
        "* Ranking models\n"
        "  * Boosted trees\n"
        "    * upside: easy to explain\n"
        "    * downside: slow to retrain every day\n"
        "  * Neural net\n"
        "\tplain-tab child\n"  # a lazy continuation line, not an item
        "## Next\n\n"
        "  * indented, but after a heading: top of its own outline\n"
    )
    parents = {text[:end].rsplit("*", 1)[1].strip(): up for end, up in list_parents(text).items()}
    assert parents == {
        "Boosted trees": ("Ranking models",),
        "upside: easy to explain": ("Ranking models", "Boosted trees"),
        "downside: slow to retrain every day": ("Ranking models", "Boosted trees"),
        "Neural net\n\tplain-tab child": ("Ranking models",),
    }
    found = {u.end: u for u in units(text)}
    assert found.keys() >= list_parents(text).keys()  # keyed as the units end


def test_a_passage_cut_inside_a_list_does_not_trust_its_first_item() -> None:
    # a chunk starting mid-list lost its first line's indentation; "Pairwise" at 2 shows that
    # the items at 4 were the first one's siblings, not its children
    cut = "* positive: clicked\n    * negative: shown, not clicked\n  * Pairwise approach\n"
    assert list(list_parents(cut).values()) == []
    # a chunk that starts a section's list (its heading is not in the text) keeps its top item
    whole = "* Model selection\n  * GBDT\n    * cons: slow to retrain\n  * Two-tower network\n"
    assert list(list_parents(whole).values()) == [
        ("Model selection",),
        ("Model selection", "GBDT"),
        ("Model selection",),
    ]
    # a later outline at the margin, whose items are indented by two where the first one's
    # were by three, says nothing of the first item's depth (mlnotes' event recommender)
    two = (
        "* Note: events are harder than movies:\n"
        "   * events are short lived -> cold start\n"
        "* Features:\n"
        "  - User features\n"
    )
    assert list(list_parents(two).values()) == [
        ("Note: events are harder than movies:",),
        ("Features:",),
    ]


# --- offsets ------------------------------------------------------------------------------

PIECES = [
    *"ab. AB!?:;|-*#>$`~\\[]()\n 1中。",
    "e.g.",
    "\n\n",
    "```",
    "~~~",
    "$$",
    "- ",
    "1. ",
    "---\n",
]
MARKDOWNISH = st.lists(st.sampled_from(PIECES), max_size=120).map("".join)


@settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_every_span_is_a_verbatim_slice_inside_its_block(text: str) -> None:
    found = blocks(text)
    for block in found:
        assert text[block.start : block.end] == block.text
    for a, b in zip(found, found[1:], strict=False):
        assert a.end < b.start  # in order, never overlapping
    for span in [*sentences(text), *units(text)]:
        assert text[span.start : span.end] == span.text and span.text == span.text.strip()
    for span in sentences(text):
        assert any(b.start <= span.start and span.end <= b.end for b in found)


# --- CJK, tokens, terms, stop words -------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "cjk"),
    [
        ("中", True), ("\u3400", True), ("\u4dbf", True), ("\uf900", True),  # Han, ext A, compat
        ("あ", True), ("カ", True), ("한", True),  # kana, hangul
        ("a", False), ("é", False), ("。", False), ("１", False), ("\u4dc0", False),  # hexagram
    ],
)  # fmt: skip
def test_one_definition_of_cjk(char: str, cjk: bool) -> None:
    assert has_cjk(f"x{char}y") is cjk


def test_tokens_and_terms() -> None:
    assert tokens("K-means and don't, 使用CNN") == ["k-means", "and", "don't", "使", "用", "cnn"]
    assert terms("The non-maximum suppressions don't use e.g. boxes 2 x 使用CNN來") == {
        "non", "maximum", "suppression", "don", "boxe", "2", "使", "用", "cnn", "來",
    }  # fmt: skip
    assert {"the", "e", "g", "use", "how", "what"} <= STOP_WORDS


# --- headings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "title"),
    [
        ("## Why divide by $\\sqrt{d_k}$ ##", "Why divide by $\\sqrt{d_k}$"),
        ("# **Bold** and _italic_ with `max_tokens`", "Bold and italic with max_tokens"),
        ("# [Link text](https://x.y/z) and ![img](a.png)", "Link text and img"),
        ("# snake_case stays, __dunder__ goes", "snake_case stays, dunder goes"),
        ("# Learning C#", "Learning C#"),
        ("### Inline \\(x_i\\) math", "Inline \\(x_i\\) math"),
        ('## <a name="ml-sys"></a>  4. ML System Design', "4. ML System Design"),
        ("## The `<div>` tag", "The <div> tag"),
    ],
)
def test_heading_cleaning_keeps_math_and_code_text(line: str, title: str) -> None:
    [block] = blocks(line)
    assert isinstance(block, Block) and block.kind == "heading"
    assert clean_heading(heading_title(block.text)) == title


def test_a_question_line_or_heading_is_a_question_with_emphasis_and_emoji() -> None:
    from sharpnotes.ingest.text import is_question

    assert is_question("**What is regression? Which models can you use? 👶**")
    assert is_question("為什麼 Transformer 需要位置編碼？")
    assert not is_question("Regression predicts a number.")
    assert not is_question("Use `x?` as the optional marker here.")
    # lists of interview questions often leave out the "?"
    assert is_question("- How Do You Handle Missing or Corrupted Data in a Dataset")
    assert is_question("**What is a decision tree and how does it work**")
    assert is_question("Can you explain logistic regression")
    # a statement that opens like a question is not one
    assert not is_question("How does it work: the encoder reads the whole image.")
    assert not is_question("What is more, the loss drops.")
    assert not is_question("How the model works")
    # a line labelled "Q:" is a question without its "?" (not one that holds its answer)
    assert is_question("**Q: camera–lidar fusion early / mid / late**")
    assert is_question("**Q: 推導 Kalman gain** ⚠️")
    assert not is_question("Q: batchnorm A: normalises over the batch")
    assert not is_question("Q: FixMatch 為什麼要 weak / strong 分開? → weak aug 的 pseudo label 準")
    assert not is_question("QA: 5% of frames sampled")
    assert not is_question("Q: why warmup — Adam 的二階矩初期估不準")
    assert not is_question("- Q: ECE = 把 confidence 分 bin 後比 accuracy")


def test_sections_start_at_headings_and_at_question_blocks() -> None:
    from sharpnotes.ingest.text import section_starts

    text = (
        "## Trees\n\n**What is a random forest? 👶**\n\nAn ensemble of trees.\n\n"
        "- Bagging reduces variance.\n\n**What is boosting?**\n\nSequential trees.\n"
    )
    assert [text[s : s + 8] for s in section_starts(text)] == ["## Trees", "**What i", "**What i"]
    assert len(section_starts("A long paragraph that asks " * 20 + "why?")) == 0


def test_a_to_do_is_what_a_line_says_is_still_to_do_not_a_word_it_shares() -> None:
    """ "沒實際試過", "另開一篇", "#todo" make a to-do line; "之後補零", "沒讀到", "還沒寫完" are
    facts. A fact before "待補:" or "Haven't tried it" on the same line stays; a name alone
    before "待補:" does not."""
    from sharpnotes.ingest.text import is_todo, todo_heading, without_todos

    for todo in (
        "- sparsity (2:4 structured sparsity, Ampere 支援)，沒實際試過",
        "- HDMapNet / MapTR (online mapping) 另開一篇",
        "- torch.compile vs TensorRT？沒試，待補",
        "- data Shapley / influence fns / just ablate by slice #todo",
        "- MapTR 待補：跟 HDMapNet 比",
    ):
        assert is_todo(todo) and not without_todos(todo).strip(), todo
    for fact in (
        "letterbox: 先等比 resize，之後補零到 640x640",
        "dataloader 沒讀到 annotation，因為路徑寫錯",
        "checkpoint 還沒寫完就被 OOM kill",
        "the loader did not read EXIF orientation",
    ):
        assert not is_todo(fact) and without_todos(fact) == fact, fact
    kept = without_todos("SmoothQuant moves outliers into the weights. Haven’t tried it on Orin.")
    assert kept == "SmoothQuant moves outliers into the weights."
    kept = without_todos("warmup 讓 stats 先穩定. 待補: RAdam 的解釋")
    assert kept.strip() == "warmup 讓 stats 先穩定."
    assert todo_heading("BEV 感知整理 > 待補") and todo_heading("notes > TODO > BEVFusion")
    assert not todo_heading("TODO list app > Design") and not todo_heading("BEV > 待整理")
