"""The answer check cuts an answer into the units the extractive composer quotes: every quoted
unit (a sentence holding "e.g.", a list item over two lines, an intro with its list, a formula,
a table, code) comes back as one claim with its marker and is supported by the passage.

The embedder is a deterministic stand-in (equal texts, equal vectors; others nearly orthogonal):
what is checked is where the answer is cut, not the model's cosines."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from sharpnotes.app.answer import check_answer, renumber, split_claims
from sharpnotes.app.extractive import ScoredUnit, render
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.text import units

PASSAGES = [
    "The loss has two parts, e.g. Focal loss and a box term. It is summed over Fig. 2 matches.\n\n"
    "The matching cost is:\n- class probability, i.e. How sure the model is\n  about the class\n"
    "- box distance (L1. GIoU)\n",
    "$$\nL = \\lambda_1 L_1 + \\lambda_2 L_{giou}. C\n$$\n\n"
    "| term | weight |\n|---|---|\n| L1 | 5. 0 |\n\n"
    "```python\nloss = l1 + giou. Item()\n```\n\n"
    "Smith et al. (2020) use it. 匈牙利匹配一對一。它很穩定！\n",
]


class HashEmbedder:
    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).standard_normal(384)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows).astype(np.float32)


def results() -> list[SearchResult]:
    return [
        SearchResult(n, 1.0, f"c{n}", "loss.md", "Loss", None, text)
        for n, text in enumerate(PASSAGES, start=1)
    ]


def test_every_quoted_unit_is_one_claim_and_is_supported() -> None:
    quoted = [ScoredUnit(p, u, 1.0, 1.0) for p, text in enumerate(PASSAGES) for u in units(text)]
    assert {s.unit.kind for s in quoted} == {"sentence", "list", "formula", "table", "code"}
    answer = render(quoted)

    claims = split_claims(answer)
    assert [text for text, _ in claims] == [s.unit.clean for s in quoted]
    assert [markers for _, markers in claims] == [[s.passage + 1] for s in quoted]

    checks, citations = check_answer(answer, results(), HashEmbedder())
    assert [c.supported for c in checks] == [True] * len(quoted)
    assert [c.quote for c in checks] == [s.unit.text for s in quoted]
    assert [c.n for c in citations] == [1, 2]
    assert all(c.quote in c.text for c in citations)


def test_a_sentence_the_passages_do_not_hold_is_still_flagged() -> None:
    answer = (
        "The loss has two parts, e.g. Focal loss and a box term. [1] Rye bread rises slowly. [1]"
    )
    checks, _ = check_answer(answer, results(), HashEmbedder())
    assert [(c.text, c.supported) for c in checks] == [
        ("The loss has two parts, e.g. Focal loss and a box term.", True),
        ("Rye bread rises slowly.", False),
    ]


OUTLINE = "* Boosted trees\n  * upside: easy to explain\n  * downside: slow to retrain daily\n"


def test_a_nested_item_is_quoted_under_its_parent_and_the_parent_is_checked() -> None:
    found = [SearchResult(1, 1.0, "c1", "models.md", "Models", None, "Intro.\n\n" + OUTLINE)]
    nested = [u for u in units(found[0].text) if "downside" in u.text]
    answer = render([ScoredUnit(0, nested[0], 1.0, 1.0, parents=("Boosted trees",))])
    assert answer == "* Boosted trees › downside: slow to retrain daily\n[1]"
    checks, citations = check_answer(answer, found, HashEmbedder())
    assert [c.supported for c in checks] == [True]
    assert citations[0].quote == "* downside: slow to retrain daily"  # the note's own words

    made_up = answer.replace("Boosted trees", "Random forests")
    checks, _ = check_answer(made_up, found, HashEmbedder())
    assert [c.supported for c in checks] == [False]


def test_cited_passages_are_numbered_without_gaps_and_code_is_left_alone() -> None:
    texts = [
        "Adam keeps running averages of the gradient.",
        "Momentum adds a velocity term.",
        "SGD steps against the gradient.",
        "AdamW decouples weight decay from the update.\n\n```python\nbetas = [1]\n```",
    ]
    found = [
        SearchResult(n, 1.0, f"c{n}", "optim.md", "Optim", None, text)
        for n, text in enumerate(texts, start=1)
    ]
    answer = (
        "AdamW decouples weight decay from the update. [4]\n\n```python\nbetas = [1]\n```\n[4]\n\n"
        "Adam keeps running averages of the gradient. [1] Rye bread rises slowly. [3]"
    )
    checks, citations = check_answer(answer, found, HashEmbedder())
    assert [c.n for c in citations] == [1, 4]  # passage 3 supports nothing said of it
    text, renumbered, rechecked = renumber(answer, citations, checks)
    # the first cited passage is [1], the next [2]; the marker of no cited passage comes after
    assert text == (
        "AdamW decouples weight decay from the update. [1]\n\n```python\nbetas = [1]\n```\n[1]\n\n"
        "Adam keeps running averages of the gradient. [2] Rye bread rises slowly. [3]"
    )
    assert [(c.n, c.chunk_id) for c in renumbered] == [(1, "c4"), (2, "c1")]
    assert [c.markers for c in rechecked][::2] == [[1], [2]] and rechecked[-1].markers == [3]
    # numbers already without gaps are kept as they are
    same = renumber("Adam keeps running averages of the gradient. [1]", citations[:1], checks[2:3])
    assert same[0] == "Adam keeps running averages of the gradient. [1]"
