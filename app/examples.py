"""Example questions made from the user's own notes, for the first screen.

Questions the notes already ask (Q&A lists, "Why does X?" headings) come first; then questions
made from section headings ("What is Hungarian matching?"). One per note, spread over the
folders, chosen afresh each day so the first screen does not always suggest the same ones.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from sharpnotes.ingest.text import HEADING_SEP, has_cjk, terms

if TYPE_CHECKING:
    from sharpnotes.ingest.catalog import Catalog

_QUESTION_END = ("?", "？")
_LEAD = re.compile(r"^(?:[-*+>#]+|\d+[.)]|Q\s*\d*\s*[:.)]|問\s*[:：])\s*", re.I)
_MARKUP = re.compile(r"[*_`]+|\[\[|\]\]")


def _clean(text: str) -> str:
    text = _LEAD.sub("", " ".join(text.split()))
    return _MARKUP.sub("", text).strip()


def _asked(text: str) -> list[str]:
    """Questions a passage asks and answers: the questions of its cards (``Q: ... A: ...``, a
    bold question over its answer, a heading phrased as a question). A question left open ("Free
    or paid?" in a list of questions to ask an interviewer) is not a question to try."""
    from sharpnotes.ingest.cards import find_cards

    out = []
    for card in find_cards(text):
        line = _clean(card.question)
        asks = card.kind != "cloze" and line.endswith(_QUESTION_END)
        if asks and 12 <= len(line) <= 140 and len(terms(line)) >= 2:
            out.append(line)
    return out


def _from_heading(heading: str) -> str | None:
    """A question about the last section of a heading path, when it names a topic."""
    last = _clean(heading.split(HEADING_SEP)[-1])
    if not last or len(last) > 60 or last.endswith(_QUESTION_END):
        return last if last.endswith(_QUESTION_END) and len(terms(last)) >= 2 else None
    if has_cjk(last):
        return f"{last}是什麼？" if len(last) >= 2 else None
    if len(terms(last)) < 2 or re.search(r"\d{4}|^(notes?|summary|todo|references?)$", last, re.I):
        return None
    return f"What is {last[0].lower() + last[1:] if last[1:2].islower() else last}?"


def example_questions(catalog: Catalog, n: int = 4, day: int | None = None) -> list[str]:
    """Up to ``n`` questions from different notes (and folders, while there are enough)."""
    asked: dict[str, list[str]] = defaultdict(list)
    made: dict[str, list[str]] = defaultdict(list)
    for source, heading, text in _rows(catalog):
        asked[source] += _asked(text)
        if q := _from_heading(heading):
            made[source].append(q)
    rng = random.Random(day if day is not None else int(time.time() // 86400))
    picks: list[str] = []
    used_notes: set[str] = set()
    used_folders: set[str] = set()
    for pool in (asked, made):
        notes = sorted(pool)
        rng.shuffle(notes)
        notes.sort(key=lambda s: s.rsplit("/", 1)[0] in used_folders)  # new folders first
        for source in notes:
            if len(picks) >= n:
                return picks
            candidates = [q for q in dict.fromkeys(pool[source]) if q not in picks]
            if source in used_notes or not candidates:
                continue
            picks.append(rng.choice(candidates))
            used_notes.add(source)
            used_folders.add(source.rsplit("/", 1)[0])
    return picks


def _rows(catalog: Catalog) -> Iterator[tuple[str, str, str]]:
    """(source, heading, text) of every chunk."""
    ids = catalog.chunk_ids()
    for start in range(0, len(ids), 500):
        for row in catalog.get_chunks(ids[start : start + 500]).values():
            yield row.source, row.heading, row.text
