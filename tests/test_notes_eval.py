"""The sample corpus and its labelled eval set: every evidence string occurs exactly where its
label says (in the note, or on the stated page of the PDF); the set has the promised mix."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO / "notes"
EVAL_SET = REPO / "eval" / "notes_eval.jsonl"
CJK = re.compile(r"[\u4e00-\u9fff]")


def norm(text: str) -> str:
    return " ".join(text.split())


@cache
def pdf_pages(source: str) -> list[str]:
    from pypdf import PdfReader

    return [norm(p.extract_text()) for p in PdfReader(NOTES / source).pages]


def load_set() -> list[dict]:
    return [
        json.loads(line)
        for line in EVAL_SET.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize("item", load_set(), ids=lambda item: item["id"])
def test_evidence_occurs_where_the_label_says(item: dict) -> None:
    assert item["question"].strip()
    if not item["answerable"]:
        assert item["relevant"] == []
        return
    assert item["relevant"]
    for rel in item["relevant"]:
        evidence = norm(rel["evidence"])
        if rel["source"].endswith(".pdf"):
            pages = pdf_pages(rel["source"])
            found = [i + 1 for i, text in enumerate(pages) if evidence in text]
            assert found == [rel["page"]], f"{item['id']}: evidence on pages {found}"
        else:
            text = norm((NOTES / rel["source"]).read_text(encoding="utf-8"))
            assert text.count(evidence) == 1, f"{item['id']}: evidence not found once"


def test_the_set_has_the_promised_mix() -> None:
    items = load_set()
    assert len(items) >= 120
    assert len({i["id"] for i in items}) == len(items)
    kinds = Counter(i["kind"] for i in items)
    assert sum(1 for i in items if not i["answerable"]) >= 20
    assert sum(1 for i in items if CJK.search(i["question"])) >= 10
    assert kinds["pdf"] >= 4 and kinds["paraphrase"] >= 10 and kinds["keyword"] >= 10
    assert kinds["why"] + kinds["how"] >= 10 and kinds["comparison"] >= 5


def test_the_corpus_looks_like_real_notes() -> None:
    notes = sorted(p for p in NOTES.rglob("*") if p.suffix in {".md", ".txt"})
    assert 40 <= len(notes) <= 60
    words = sum(len(p.read_text(encoding="utf-8").split()) for p in notes)
    assert words >= 40_000
    with_front_matter = [p for p in notes if p.read_text(encoding="utf-8").startswith("---\n")]
    assert len(with_front_matter) >= len(notes) * 0.6
    stems = {p.stem for p in notes}
    from sharpnotes.ingest.readers import resolve_wikilinks

    links = {t for p in notes for t in resolve_wikilinks(p.read_text(encoding="utf-8"))[1]}
    assert len(links) >= 5 and links <= stems, f"dangling wikilinks: {links - stems}"
    assert len(list((NOTES / "papers").glob("*.pdf"))) >= 2
