"""The one renderer of note text (app/ui/render.py) as pure functions: what it hands to
``st.markdown``. The browser half (math drawn by KaTeX, chips that scroll, images not fetched)
is in tests/test_browser.py."""

from __future__ import annotations

import re

import pytest

from sharpnotes.app.notelinks import NoteGraph
from sharpnotes.app.ui import render

NOTE = """# DETR

DETR treats detection as direct set prediction with a transformer encoder-decoder.

## Hungarian matching
Each prediction is matched one-to-one with a ground-truth box by the Hungarian algorithm,
so no non-maximum suppression is needed. See [[deformable-detr|Deformable DETR]].

- the cost mixes class probability and **box distance**
- and generalized IoU, written \\(L_{giou}\\)

![beacon](http://127.0.0.1:9/beacon.png) and [[missing note]] and
[bias](../fundamentals/bias-variance.md) and [bad](javascript:alert(1)) and [web](https://arxiv.org).

```python
x = "![kept](http://img)"  # [[kept too]] \\(kept\\)
```

$$
\\mathcal{L} = \\lambda_{L1} \\lVert b - \\hat b \\rVert_1
$$
"""
GRAPH = NoteGraph(
    sources=["detection/detr.md", "detection/deformable-detr.md", "fundamentals/bias-variance.md"]
)


def resolve(target: str) -> str | None:
    return GRAPH.resolve(target, "detection/detr.md")


def test_note_opens_at_the_passage_with_the_quote_highlighted() -> None:
    passage = (
        "Each prediction is matched one-to-one with a ground-truth box by the Hungarian "
        "algorithm,\nso no non-maximum suppression is needed. See Deformable DETR."
    )  # as the index holds it: the wikilink already resolved to its text
    quote = "so no non-maximum suppression is needed."
    parts = render.note_parts(NOTE, quote=quote, passage=passage, resolve=resolve)
    assert [p.target for p in parts] == [False, True, False]
    before, target, after = (p.markdown for p in parts)
    assert before.startswith("# DETR") and "Hungarian algorithm" not in before
    assert ":yellow-background[so no non-maximum suppression is needed.]" in target
    assert ":yellow-background[Each" not in target  # the quote only, not the whole passage
    assert "[Deformable DETR](note?source=detection/deformable-detr.md" in target
    assert "box distance" in after and "\\mathcal{L}" in after


def test_markdown_rewrites_what_streamlit_lacks_and_leaves_code_alone() -> None:
    out = render.markdown(NOTE, resolve=resolve)
    assert "$L_{giou}$" in out and "\\(L_{giou}\\)" not in out.split("```")[0]
    assert "![beacon]" not in out and "[🖼 beacon](http://127.0.0.1:9/beacon.png)" in out
    assert ":gray[missing note]" in out  # a note not written yet: text, not a dead link
    assert "[bias](note?source=fundamentals/bias-variance.md" in out
    assert "javascript" not in out and " bad " in out
    assert "[web](https://arxiv.org)" in out
    code = out.split("```python\n", 1)[1].split("```", 1)[0]
    assert code == 'x = "![kept](http://img)"  # [[kept too]] \\(kept\\)\n'
    assert "$$\n\\mathcal{L}" in out


def test_githubs_html_reads_as_text_in_the_app_and_the_terminal() -> None:
    from sharpnotes.app.cli._common import plain_text

    image = '<img src="https://render.githubusercontent.com/render/math?math=\\beta%20=%20(X^{T}X)^{-1}">'
    text = f"To solve linear regression, find {image} which minimize the error."
    shown = "find $\\beta = (X^{T}X)^{-1}$ which"
    assert shown in render.markdown(text) and "<img" not in render.markdown(text)
    answer = {"answer": f"{text} [1]", "citations": [{"n": 1, "quote": text}]}
    assert shown in render.answer_markdown(answer)
    assert shown in plain_text(text)
    # a <br/> between two Q&A pairs is a line break; inside a table row, a space
    qa = "It lowers variance. <br/>\n\n| a | b<br>c |\n|---|---|"
    assert render.markdown(qa).startswith("It lowers variance.\n") and "<br" not in plain_text(qa)
    assert "| a | b c |" in render.markdown(qa) and "| a | b c |" in plain_text(qa)
    # emphasis written in HTML reads as its text; other HTML stays, inert
    mse = "MSE stands for <strong>M</strong>ean <b>S</b>quare <i>E</i>rror; <sup>2</sup>"
    assert "MSE stands for Mean Square Error; <sup>2</sup>" in plain_text(mse)
    assert "Mean Square Error" in render.markdown(mse)


def test_plain_text_and_pdf_are_shown_as_written() -> None:
    out = render.markdown("a *b* [c](d)\nnext line", kind="text")
    assert re.sub(r"\\(.)", r"\1", out) == "a *b* [c](d)  \nnext line"
    page = (
        "Attention is all you need. The encoder maps an input se-\n"
        "quence of symbols to a sequence of continuous repre-\n"
        "sentations z.\n\nA second paragraph here.\n\nPage 3 of 12\n"
    )
    text = render.pdf_text(page)
    assert text == (
        "Attention is all you need. The encoder maps an input sequence of symbols to a "
        "sequence of continuous representations z.\n\nA second paragraph here."
    )
    assert (
        render.pdf_text("12\nHeader line of a paper\nbody.\n- 4 -")
        == "Header line of a paper body."
    )


def test_literal_keeps_note_text_out_of_markdown() -> None:
    raw = "[click](javascript:alert(1)) **bold** <b>x</b> a_b.md `code` # h :red[x] $5"
    shown = render.literal(raw)
    assert re.sub(r"\\(.)", r"\1", shown) == raw
    assert re.search(r"(?<!\\)[\[\]()*`<>#_:$]", shown) is None


ANSWER = {
    "answer": (
        "DETR matches predictions one-to-one [5]. E.g. the Hungarian algorithm finds the best "
        "assignment [5]. Anchors are never used [2]. The loss mixes L1 and GIoU [3][5]."
    ),
    "citations": [
        {
            "n": 5,
            "source": "detection/detr.md",
            "text": "DETR matches predictions one-to-one. E.g. the Hungarian algorithm finds the "
            "best assignment. It has no anchors.",
            "quote": "DETR matches predictions one-to-one. E.g. the Hungarian algorithm finds the "
            "best assignment.",
        },
        {
            "n": 3,
            "source": "detection/loss.md",
            "text": "The loss mixes L1 and GIoU.",
            "quote": "The loss mixes L1 and GIoU.",
        },
    ],
    "sentences": [  # as app.answer's check splits it: "E." and "g. the..." cut apart
        {
            "text": "DETR matches predictions one-to-one",
            "markers": [5],
            "supported": True,
            "quote": "DETR matches predictions one-to-one.",
        },
        {"text": "E.g.", "markers": [], "supported": False, "quote": ""},
        {
            "text": "the Hungarian algorithm finds the best assignment",
            "markers": [5],
            "supported": True,
            "quote": "E.g. the Hungarian algorithm finds the best assignment.",
        },
        {"text": "Anchors are never used", "markers": [2], "supported": False, "quote": ""},
        {
            "text": "The loss mixes L1 and GIoU",
            "markers": [3, 5],
            "supported": True,
            "quote": "The loss mixes L1 and GIoU.",
        },
    ],
}


def test_citations_are_numbered_in_the_order_cited_without_gaps() -> None:
    assert render.citation_numbers(ANSWER) == {5: 1, 3: 2}
    out = render.answer_markdown(ANSWER, turn=7)
    chips = re.findall(r"\[(\d+)\]\(#(sn-card-7-\d+) \"([^\"]*)\"\)", out)
    assert [(n, anchor) for n, anchor, _ in chips] == [
        ("1", "sn-card-7-1"),
        ("1", "sn-card-7-1"),
        ("2", "sn-card-7-2"),
        ("1", "sn-card-7-1"),
    ]
    assert "DETR matches predictions one-to-one." in chips[0][2]  # the quote, on hover
    assert ":gray-badge[?]" in out  # [2] names a passage that supports nothing


def test_the_flag_and_the_card_agree() -> None:
    """The check cut "E.g." off its sentence and flagged it; the sentence (ingest.text's) stands
    verbatim in what card 1 highlights, so it is not flagged. "Anchors are never used" is flagged
    and no card highlights it."""
    quotes = render.card_quotes(ANSWER)
    assert quotes[5] == [
        "DETR matches predictions one-to-one.",
        "E.g. the Hungarian algorithm finds the best assignment.",
    ]
    assert quotes[3] == ["The loss mixes L1 and GIoU."]
    flagged = [ANSWER["answer"][a:b] for a, b in render.flagged_sentences(ANSWER)]
    assert flagged == ["Anchors are never used [2]."]
    highlighted = " ".join(q for qs in quotes.values() for q in qs)
    assert all(f.split(" [")[0] not in highlighted for f in flagged)
    out = render.answer_markdown(ANSWER)
    assert out.count("unsupported]") == 1
    assert out.index("unsupported]") > out.index("Anchors are never used")


def test_our_html_holds_no_note_text() -> None:
    assert "<script" not in render.STYLE
    assert "sn-target-dialog" in render.scroll_script("sn-target-dialog")
    with pytest.raises(ValueError):
        render.scroll_script("x');alert(1);('")


def test_links_resolve_like_obsidian() -> None:
    graph = NoteGraph(
        sources=["a/Note One.md", "b/note one.md", "b/deep/other.md", "papers/attn.pdf"],
        names={"attention paper": "papers/attn.pdf"},
    )
    assert graph.resolve("note one") == "a/Note One.md"  # shortest path, then name order
    assert graph.resolve("deep/other") == "b/deep/other.md"
    assert graph.resolve("other#Section") == "b/deep/other.md"
    assert graph.resolve("Attention paper") == "papers/attn.pdf"  # a title or alias
    assert graph.resolve("../papers/attn.pdf", "b/note one.md") == "papers/attn.pdf"
    assert graph.resolve("../../../etc/passwd.md", "b/note one.md") is None
    assert graph.resolve("nowhere") is None


def test_a_quoted_code_block_keeps_its_fence_and_its_lines_unhighlighted() -> None:
    code = "```python\nm = beta1 * m + (1 - beta1) * g  # 1st moment\n```"
    answer = {
        "answer": f"Adam keeps two moments. [1]\n\n{code}\n[2]\n\nThe end. [1]",
        "citations": [
            {
                "n": 1,
                "text": "Adam keeps two moments. The end.",
                "quote": "Adam keeps two moments.",
            },
            {"n": 2, "text": f"Momentum and RMSProp:\n\n{code}", "quote": code},
        ],
    }
    out = render.answer_markdown(answer)
    assert "```\n[2](#sn-card-0-2" in out  # the chip after the closing fence, not on its line
    assert "``` [" not in out
    card = render.markdown(answer["citations"][1]["text"], quote=code)
    assert "yellow-background" not in card.split("```python", 1)[1]
    assert code in card
