"""A digest line makes sense on its own, in other people's notes too: a card's question is never
a fact and its answer is never cut (by a sentence split or by the chunker), a line reads without
HTML tags, a fragment (a group's name, a lead-in with nothing after it, one or two words) is left
out, and a passage of a Q&A note keeps the cards on the topic. The pure rules first, then the
same notes through a real index (MiniLM, Chroma, SQLite) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import ingested, use_home, write_notes
from sharpnotes.app.cli import cli
from sharpnotes.app.digest import MAX_LINES, QUESTION_LINES, Line, Source, arrange
from sharpnotes.app.digest_lines import classify, line_text, passage_units
from sharpnotes.app.topics import Names
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import Unit, units

THEORY = """# Theoretical interview questions

## Linear regression

**What is regression? 👶**

Regression is a part of supervised machine learning. Regression models investigate the \
relationship between a dependent target variable and one or more independent predictor \
variables. Linear regression assumes that this relationship is linear and fits the coefficients \
by least squares, which minimises the sum of squared residuals over the training set. Polynomial \
regression raises the predictors to higher powers so that a curve can be fitted, at the price of \
more parameters. Ridge regression adds an L2 penalty on the coefficients, which helps when the \
predictors are highly correlated, and lasso adds an L1 penalty, which can drive some \
coefficients to exactly zero and so selects features. Regression models are evaluated on \
held-out data with error metrics.

**What are MSE and RMSE? 👶**

MSE stands for <strong>M</strong>ean <strong>S</strong>quare <strong>E</strong>rror while RMSE \
stands for <strong>R</strong>oot <strong>M</strong>ean <strong>S</strong>quare \
<strong>E</strong>rror. They are metrics with which we can evaluate models.

<br/>

**What is the bias-variance trade-off? 👶**

<strong>Bias</strong> is the error introduced by approximating the true underlying function by a \
simpler model. <em>Variance</em> is the sensitivity of a model to changes in the training set.

**Bias-variance trade-off** is a relationship between the expected test error, the variance and \
the bias:

```
ExpectedTestError = Variance + Bias² + IrreducibleError
```
"""
CARD = (
    "Q: focal loss 跟 class-balanced weighting 可以一起用嗎？ A: 可以，Cui et al. 的論文就把 "
    "class-balanced 權重乘在 focal loss 上；但兩者都會改變每個樣本的權重，調參時一次只動一個。"
)
FOCAL = f"""---
title: 類別不平衡與 focal loss 調參筆記
---
# 類別不平衡與 focal loss 調參

Focal loss 的公式已經寫在別的筆記，這篇是調參筆記：每一招又會壞在哪裡。

## Focal loss 的參數

- γ 控制忽略簡單樣本的程度；γ 越大，已經分對的樣本貢獻越小。
- 先固定 γ = 2 只掃 α，recall 上不去再試 γ 在 1 到 3 之間。

## 評估時別被騙

- 總體 mAP 會被大類別主導，一定要看每個類別的 AP。

{CARD}
"""
VIDEO = """# Design a video recommendation system

## Ranking features

Model Options:

Features of the ranking model for video recommendation:

* Video ID embeddings (watched video embedding average, impression video embedding)
* Video historic
  * No. of previous impressions, reviews, likes
  * Time features (time since last play)
* User profile
* Deduplication

## Candidate generation

* CF: item-item similarities learned from the co-watch matrix of all users
    * Pros
        * No domain knowledge needed for the videos
    * Cons:
        * Cold start problem for new users and new videos
"""
SYLLABUS = """version: 1
topics:
  - id: bias-variance
    title: Bias and variance
    area: fundamentals
    description: Decompose expected error into bias, variance and noise; under- versus overfitting.
    aliases: [bias-variance trade-off, underfitting, overfitting]
  - id: focal-loss
    title: Focal loss
    area: fundamentals
    description: Down-weight easy examples in dense detection; tune gamma and alpha.
    aliases: [focal loss, class imbalance, 類別不平衡]
  - id: video-recommendation
    title: Video recommendation
    area: case-study
    description: A video recommender as a funnel of candidate generation, ranking and re-ranking.
    aliases: [video recommendation, recommender system, two-tower]
"""
NOTES = {
    "syllabus.yaml": SYLLABUS,
    "interviews/theory.md": THEORY,
    "deep-learning/focal-loss-tuning.md": FOCAL,
    "system-design/video-recommendation.md": VIDEO,
}


def shown(
    text: str,
    heading: str = "Notes > Part",
    before: str = "",
    after: str = "",
    names: Names | None = None,
) -> list[tuple[str, str]]:
    """(section, line as shown) of what one passage gives a digest."""
    out = []
    for p in passage_units(text, heading, before, after, names):
        line = Line(line_text(p.unit), p.unit.kind, p.section, [], parents=p.parents, asked=p.asked)
        out.append((p.section, line.shown))
    return out


def section_of(text: str, title: str) -> str:
    """The body of the section ``## title`` of a note, as a chunk holds it (heading out)."""
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


# --- the rules, one passage at a time ------------------------------------------------------------


def test_a_card_question_is_never_a_fact_and_its_answer_keeps_it() -> None:
    lines = shown(section_of(THEORY, "Linear regression"))
    texts = [t for _, t in lines]
    assert not any(t.strip("* ").startswith("What is") and t.endswith("**") for t in texts)
    # a one-paragraph answer is one interview-question line with its question
    assert lines[0][0] == "questions"
    assert lines[0][1].startswith("Q: What is regression? A: Regression is a part of supervised")
    # a longer answer: a line per block, each after the question; a paragraph whole
    assert (
        "definition",
        "What is the bias-variance trade-off? › Bias is the error introduced by approximating the "
        "true underlying function by a simpler model. Variance is the sensitivity of a model to "
        "changes in the training set.",
    ) in lines
    [block] = [t for s, t in lines if "ExpectedTestError" in t]
    assert block.startswith("What is the bias-variance trade-off?\n\n**Bias-variance trade-off**")
    assert block.endswith("```")  # the code block the lead-in introduces, though no card reads it
    # a question no answer follows is an interview question, never a definition
    assert classify(units("**What is a recommender system? 👶**")[0], "Notes", True) == "questions"
    # a sentence that quotes a question, or holds one in brackets, is not one
    for aside in (
        'Prep for the inevitable "would you use a ViT or a CNN for X?"',
        "* Videos (what is it?)",
    ):
        assert classify(units(aside)[0], "Notes > Part", False) == "details"


def test_a_card_answer_is_never_cut_inside() -> None:
    # the sentence splitter cuts at "；": the card stays one line, in the interview questions
    assert shown(CARD, "Notes > 評估時別被騙") == [("questions", CARD)]
    two = "**Q: Does adding more data always help?**\nA: It helps variance. Not bias.\n"
    assert shown(two) == [
        ("questions", "Q: Does adding more data always help? A: It helps variance. Not bias.")
    ]


def test_a_card_the_chunker_cut_keeps_its_question() -> None:
    chunks = section_of(THEORY, "Linear regression").split("**What are MSE and RMSE? 👶**\n")
    before = chunks[0] + "**What are MSE and RMSE? 👶**"
    lines = shown(chunks[1], "Theory > Linear regression", before=before)
    assert lines[0] == (
        "questions",
        "Q: What are MSE and RMSE? A: MSE stands for Mean Square Error while RMSE stands for Root "
        "Mean Square Error. They are metrics with which we can evaluate models.",
    )
    # its last passage: a question whose answer opens the next chunk is not a line there
    assert shown(before, "Theory > Linear regression", after=chunks[1])[-1][1].startswith(
        "Q: What is regression?"
    )


def test_a_question_heading_over_an_a_line_is_a_card() -> None:
    body = "A: With a high condition number, GD zig-zags. Momentum averages gradients.\n"
    lines = shown(body, "Optimizers > Q: Why does momentum help on ill-conditioned problems?")
    assert lines == [
        (
            "questions",
            "Q: Why does momentum help on ill-conditioned problems? A: With a high condition "
            "number, GD zig-zags. Momentum averages gradients.",
        )
    ]  # not "A: With a high..." alone, its question only in the heading


def test_a_passage_of_a_qa_note_keeps_the_cards_on_the_topic() -> None:
    body = section_of(THEORY, "Linear regression")
    names = Names.of(["Bias and variance", "bias-variance", "overfitting"])
    lines = [t for _, t in shown(body, names=names)]
    assert lines and all(t.startswith("What is the bias-variance trade-off?") for t in lines)
    # no card names the topic: all stay (the linker found the passage by its meaning)
    assert len(shown(body, names=Names.of(["gradient boosting"]))) == len(shown(body))
    # a question not answered yet, of another topic, is no interview question of this one
    qa = (
        "Q: Why does DETR not need NMS?\nA: Hungarian matching is one-to-one.\n\n"
        "Q: What is ECE?\nA: TODO\n\nQ: How are DETR queries matched?\nA:\n"
    )
    lines = [t for _, t in shown(qa, names=Names.of(["DETR"]))]
    assert not any("ECE" in t for t in lines), lines
    assert any("How are DETR queries matched?" in t for t in lines)  # asks of the topic


def test_a_line_reads_without_html_tags() -> None:
    html = units("MSE is <strong>M</strong>ean <em>S</em>quare <b>E</b>rror.<br>Use it.")[0]
    assert line_text(html) == "MSE is Mean Square Error. Use it."
    kept = "Write `<div>` for a block, <span class='x'>as written</span>, and $a<b$ or $c>d$."
    assert line_text(units(kept)[0]) == "Write `<div>` for a block, as written, and $a<b$ or $c>d$."
    hidden = "Features: <!-- url, types, name --> user and video ids, with their embeddings."
    assert line_text(units(hidden)[0]) == "Features: user and video ids, with their embeddings."
    code = Unit(0, 22, "```\n<div>x</div>\n```\n", "code")
    assert line_text(code) == code.clean  # code as written


def test_a_fragment_says_nothing_alone_and_is_left_out() -> None:
    lines = [t for _, t in shown(section_of(VIDEO, "Ranking features"))]
    assert lines == [
        "Features of the ranking model for video recommendation:\n\n"
        "* Video ID embeddings (watched video embedding average, impression video embedding)",
        "* Video historic › No. of previous impressions, reviews, likes",  # its name shown here
        "* Video historic › Time features (time since last play)",
    ]  # not "Model Options:", "* Video historic", "* User profile", "* Deduplication"
    lines = [t for _, t in shown(section_of(VIDEO, "Candidate generation"))]
    assert not any(t.endswith(("Pros", "Cons:", "Cons")) for t in lines)
    assert lines[1].endswith("› Pros › No domain knowledge needed for the videos")
    # a lead-in that a formula follows is kept, with its formula ("：" leads in like ":")
    formula = "Cui et al. 提出 effective number of samples：\n\n$$E_n = (1-β^n)/(1-β)$$\n"
    assert [t for _, t in shown(formula)] == [formula.strip()]
    # a note to self is not a fact to learn
    todo = "- LSS-style pooling ports to TensorRT easily\n- TODO: write up BEVFusion\n"
    assert [t for _, t in shown(todo)] == ["- LSS-style pooling ports to TensorRT easily"]


def test_a_notes_introduction_is_its_definition_not_a_pitfall() -> None:
    intro = units(FOCAL.split("\n\n", 2)[1])[0]  # "...每一招又會壞在哪裡。"
    assert intro.text.endswith("每一招又會壞在哪裡。")
    assert classify(intro, "類別不平衡與 focal loss 調參", True) == "definition"
    assert classify(intro, "類別不平衡與 focal loss 調參 > 評估時別被騙", False) == "pitfalls"


def test_attention_is_no_pitfall_and_a_cons_section_holds_pitfalls() -> None:
    """注意力 is "attention", not 注意 ("watch out"); what a "缺點" or "Cons" section lists
    speaks against the thing."""
    method = units("- BEVFormer：用 BEV queries 透過空間交叉注意力從多相機特徵取樣。")[0]
    assert classify(method, "BEV 鳥瞰圖感知 > 視角轉換的方法", False) == "details"
    con = units("- 計算量大，車端部署要做量化或降低 BEV 解析度")[0]
    assert classify(con, "BEV 鳥瞰圖感知 > 缺點", False) == "pitfalls"
    assert classify(con, "ViT > Cons", False) == "pitfalls"
    assert classify(units("- 注意時間同步")[0], "BEV > 細節", False) == "pitfalls"


def test_a_plan_for_a_failure_is_no_pitfall() -> None:
    plan = units("- fallback: if the camera fails -> lidar-only mode, degrade gracefully")[0]
    assert classify(plan, "Case: pedestrian detection > Serving", False) == "details"
    # a failure the topic itself has stays a pitfall, also beside a fallback
    fails = units("- NMS fails on crowds: it suppresses the second of two overlapping people")[0]
    assert classify(fails, "NMS", False) == "pitfalls"
    both = units("- If the camera fails we fall back to lidar, but don't forget to retrain it")[0]
    assert classify(both, "Case > Serving", False) == "pitfalls"


def test_a_long_topic_keeps_room_for_its_interview_questions() -> None:
    source = Source("c1", "notes.md", "H", None)
    facts = [Line(f"fact {n}", "sentence", "details", [source]) for n in range(80)]
    asked = [Line(f"Q: why {n}? A: because.", "sentence", "questions", [source]) for n in range(12)]
    shown = arrange(facts + asked)
    assert len(shown) == MAX_LINES
    assert [line.section for line in shown].count("questions") == QUESTION_LINES
    assert shown[-1].section == "questions"  # still after the facts
    few = arrange(facts[:10] + asked)  # room for all: nothing is held back
    assert len(few) == 22


# --- through a real index and the CLI ------------------------------------------------------------


@pytest.fixture(scope="module")
def digest_index(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> tuple[Path, Path]:
    return ingested(write_notes(tmp_path_factory.mktemp("digest") / "notes", NOTES), models_dir)


@pytest.fixture
def env(digest_index: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Settings:
    return use_home(monkeypatch, *digest_index)


def digest(topic: str, out: Path) -> list[dict]:
    result = CliRunner().invoke(cli, ["digest", topic, "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = json.loads(result.output)["lines"]
    assert lines and all(line["sources"] for line in lines)  # every line cited
    order = ["definition", "details", "pitfalls", "questions"]
    sections = [line["section"] for line in lines]
    assert sections == sorted(sections, key=order.index)
    return lines


@pytest.mark.slow
def test_digests_of_messy_notes_read_line_by_line(env: Settings, tmp_path: Path) -> None:
    from sharpnotes.app.retrieval import Searcher

    # the chunker cut the MSE card: its question ends one passage, its answer opens the next
    catalog = Searcher(env).catalog
    rows = sorted(catalog.get_chunks(catalog.chunk_ids()).values(), key=lambda r: r.ordinal)
    theory = [r.text for r in rows if r.source == "interviews/theory.md"]
    assert theory[0].endswith("**What are MSE and RMSE? 👶**")
    assert theory[1].startswith("MSE stands for <strong>")

    bias = digest("bias-variance", tmp_path / "bias.md")
    texts = [line["text"] for line in bias]
    assert texts[0] == (
        "What is the bias-variance trade-off? › Bias is the error introduced by approximating the "
        "true underlying function by a simpler model. Variance is the sensitivity of a model to "
        "changes in the training set."
    )
    assert bias[0]["section"] == "definition"
    assert bias[0]["question"] == "What is the bias-variance trade-off?"
    assert not any("<strong>" in t or "<em>" in t or "<br" in t for t in texts)  # no HTML
    assert not any("MSE" in t or "evaluate models" in t for t in texts)  # another topic's card
    page = (tmp_path / "bias.md").read_text(encoding="utf-8")
    assert "<strong>" not in page and "<em>" not in page and "👶" not in page

    focal = digest("focal-loss", tmp_path / "focal.md")
    [card] = [line for line in focal if "Cui et al." in line["text"]]
    assert card["section"] == "questions" and card["text"] == CARD
    assert not any(line["text"].startswith("但兩者") for line in focal)
    assert [line["section"] for line in focal if "這篇是調參筆記" in line["text"]] == ["definition"]
    assert f"- {CARD} — [deep-learning/focal-loss-tuning.md > 評估時別被騙]" in (
        tmp_path / "focal.md"
    ).read_text(encoding="utf-8")

    video = [line["text"] for line in digest("video-recommendation", tmp_path / "video.md")]
    for fragment in ("Model Options:", "* Video historic", "* User profile", "* Deduplication"):
        assert fragment not in video
    assert not any(t.endswith(("› Pros", "› Cons:", "Pros", "Cons:")) for t in video)
    assert "* Video historic › No. of previous impressions, reviews, likes" in video


def test_a_sentence_that_points_back_stays_with_its_subject() -> None:
    """ "它很快，但是 ..." and "It converges ..." say nothing alone: each is one line with the
    sentence before it in its paragraph; a new paragraph starts a new line."""
    zh = "SORT 只用 IoU 做 association。它很快，但是遮擋久了就會 ID switch。"
    assert [line for _, line in shown(zh)] == [zh]
    en = (
        "Deformable DETR samples a few points around each reference. It converges ten times "
        "faster than DETR.\n\nIt needs a custom CUDA kernel for the sampling."
    )
    assert [line for _, line in shown(en)] == [
        "Deformable DETR samples a few points around each reference. It converges ten times "
        "faster than DETR.",
        "It needs a custom CUDA kernel for the sampling.",
    ]


def test_a_listed_question_is_shown_once_before_its_answers() -> None:
    """ "- Do we need ML to solve this problem?" over nested items is a card: each answer line
    shows the question once (it was shown twice, as the card's question and as the item the
    answers sit under), and the question is never its own answer ("Q: X A: X")."""
    text = (
        "- Do we need ML to solve this problem?\n"
        "  - Trade off between impact and cost\n"
        "    - Costs: data collection, annotation, compute\n"
    )
    lines = [line for _, line in shown(text)]
    assert lines and all(line.count("Do we need ML") == 1 for line in lines), lines
    assert not any("A: Do we need" in line for line in lines), lines
    assert any("Trade off between impact and cost" in line for line in lines), lines


def test_a_card_on_the_topic_whose_answer_opens_the_next_chunk_leaves_the_others() -> None:
    """A Q&A chunk not about the topic keeps the cards that name it; one whose answer is in the
    next chunk gives nothing here, so the chunk's other cards are kept rather than none (a
    newcomer's pinned passage gave an empty digest)."""
    text = (
        "**Why split data into train, validation and test?**\n\n"
        "The validation set tunes hyperparameters; the test set is touched once.\n\n"
        "**What is K-fold cross-validation?**\n"
    )
    names = Names.of(("K-fold cross-validation",))
    after = "The data is cut into K folds, and each fold is the validation set once.\n"
    kept = passage_units(text, "Interview > Validation", after=after, names=names)
    assert [p.asked for p in kept] == ["Why split data into train, validation and test?"], kept


def test_a_notes_opening_line_defines_only_the_topic_it_names() -> None:
    """ "自己整理的問答，準備面試用。" ("my Q&A for interview prep") opened a note, so it was the
    definition of every topic the note was linked to; now an opening sentence defines a topic
    only when it names it."""
    text = "自己整理的問答，準備面試用。\n\nFocal loss down-weights easy examples.\n"
    topic = Names.of(("focal loss",))
    sections = {p.unit.text.strip(): p.section for p in passage_units(text, "面試QA", topic=topic)}
    assert sections["自己整理的問答，準備面試用。"] == "details"
    assert sections["Focal loss down-weights easy examples."] == "definition"


def test_a_section_on_another_subject_is_named_before_its_lines() -> None:
    """A note on DETR has a section "Deformable DETR 怎麼改": its "10x 少的 epochs 就收斂" read
    as a DETR fact beside the pitfall "收斂超慢". A section heading that names a subject other
    than the topic is shown before its lines; one that names the topic, or nothing specific, is
    not."""
    from sharpnotes.app.digest import other_subject
    from sharpnotes.app.topics import normalise

    own = {normalise(n) for n in ("detr", "DETR", "detection transformer")}
    assert other_subject("DETR 筆記 > Deformable DETR 怎麼改", own) == "Deformable DETR 怎麼改"
    assert other_subject("DETR 筆記 > ResNet backbone", own) == "ResNet backbone"
    for heading in ("DETR 筆記 > 缺點", "DETR 筆記 > Loss", "DETR 筆記 > Why DETR is slow",
                    "Deformable DETR"):  # fmt: skip
        assert other_subject(heading, own) == "", heading


def test_the_items_under_an_item_are_nested_under_it_once() -> None:
    """A parent was repeated before each of its items ("Loss: ... › matching 是 one-to-one",
    "Loss: ... › 沒配到的 query ..."): in the Markdown page the items under the line above are
    nested under it; an item of another passage keeps its breadcrumb."""
    from sharpnotes.app.digest import Digest, to_markdown
    from sharpnotes.app.syllabus import Topic

    def line(text: str, parents: tuple[str, ...] = (), chunk: str = "c1") -> Line:
        return Line(text, "list", "details", [Source(chunk, "detr.md", "DETR > 重點", None)],
                    parents=parents)  # fmt: skip

    loss = "Loss: Hungarian matching + L1 + GIoU"
    page = to_markdown(
        Digest(
            Topic("detr", "DETR"),
            [
                line(f"- {loss}"),
                line("- matching 是 one-to-one", (loss,)),
                line("- 沒配到的 query 預測 no object", (loss,)),
                line("- 收斂很慢", (loss,), chunk="c2"),
            ],
            passages=2,
            merged=0,
        )
    )
    body = [row.split(" — ")[0] for row in page.splitlines() if row.lstrip().startswith("- ")]
    assert body == [
        f"- {loss}",
        "  - matching 是 one-to-one",
        "  - 沒配到的 query 預測 no object",
        f"- {loss} › 收斂很慢",
    ]


def test_two_cards_on_two_lines_keep_their_own_answers_and_a_table_after_them_its_own() -> None:
    """ "Q: Why does DETR not need NMS? A: ..." and "Q: Why does DETR converge slowly? A: ..." on
    two lines over a comparison table: the first card took everything to the table's end, so its
    answer was shown under the second question, and the table came after a question of its own.
    A code, formula or table block ends a card only after an answer that leads into it."""
    text = (
        "Q: Why does DETR not need NMS? A: One-to-one matching penalizes duplicate boxes.\n"
        "Q: Why does DETR converge slowly? A: Its attention starts uniform and learns slowly.\n\n"
        "| model | NMS | training |\n|---|---|---|\n| YOLOv8 | yes | fast |\n| DETR | no | slow |\n"
    )
    lines = shown(text)
    assert ("questions", "Q: Why does DETR not need NMS? A: One-to-one matching penalizes "
            "duplicate boxes.") in lines  # fmt: skip
    assert ("questions", "Q: Why does DETR converge slowly? A: Its attention starts uniform and "
            "learns slowly.") in lines  # fmt: skip
    [table] = [t for _, t in lines if t.startswith("| model")]  # a table of its own, no question
    assert not any("converge" in t and "| model" in t for _, t in lines)


def test_a_sentence_on_the_note_itself_is_no_line() -> None:
    """Newcomers' digests opened with "面試常問，整理一下自己的理解。" and "Notes in English
    ...": what a note says of itself is not a fact of its topic; a sentence that says something
    first keeps it."""
    from sharpnotes.app.digest_lines import on_the_note

    body = (
        "面試常問，整理一下自己的理解。\n\nsoftmax 的最大值不等於信心，這篇整理幾個常用的估法。"
        "\n\nIn this note I collect the tricks.\n\nDropout regularizes by dropping units.\n"
    )
    lines = [t for _, t in shown(body)]
    assert not any("整理一下" in t or "In this note" in t for t in lines), lines
    assert any(t.startswith("softmax 的最大值不等於信心") for t in lines)
    assert any(t.startswith("Dropout regularizes") for t in lines)
    assert on_the_note("這篇整理我實際用過、面試也常被問的幾種做法。")
