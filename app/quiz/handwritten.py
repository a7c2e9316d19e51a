"""Quiz items from the cards the learner wrote (``ingest.cards``), kept verbatim.

A question/answer card becomes a recall item (question and answer as written; the key points
that offline grading looks for are the answer's clauses); a cloze card (``==x==``,
``{{c1::x}}``) becomes a cloze item. A passage under a heading phrased as a question (the
chunker keeps headings out of chunk text) is that question's answer. A question that does not
name its topic is shown with it (``topic_of``). Each item cites its passage and carries its
hash, so it follows note edits like any other item, and passes the same checks
(``app.quiz.verify``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sharpnotes.app.quiz import verify
from sharpnotes.app.quiz.items import CARD_GENERATOR, Citation, QuizItem
from sharpnotes.app.quiz.offline import short_part
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.cards import CLOZE_MARK, Card, find_cards
from sharpnotes.ingest.text import (
    HEADING_SEP,
    blocks,
    clean_heading,
    has_cjk,
    is_lead_in,
    list_marker,
    math_images_as_tex,
    split_sentences,
    terms,
)

GENERATOR = CARD_GENERATOR
CUT_OFF = "card: answer cut off"
MAX_KEY_POINTS = 4
_EMPHASIS_TAG = re.compile(r"<(strong|b|em|i)>(.*?)</\1>", re.IGNORECASE | re.S)
# within a sentence (``split_sentences`` already cut at its ends, and knows "e.g.", "i.e.",
# "w.r.t." and "et al."): its ";" clauses and lines
_CLAUSE = re.compile(r"\s*(?:[;；]|\n+)\s*")
SERIES_SPLIT = True
_Q_LABEL = re.compile(r"^\s*(?:Q|Question|問|问)\s*[:：]\s*", re.IGNORECASE)
# a section heading that only says "questions here" ("Interview Q/A", "Quick fire"): no topic
_QA_HEADING = re.compile(
    r"(?i)\bQ\s*/\s*A\b|\bQ&A\b|quick[- ]fire|\bdrill\b"
    r"|interview (?:answer|questions?|card|quick hits)|30-second answer|^notes?$|面試|問答|考題"
    # ... or the questions an interviewer follows up with: "常見追問", "Follow-ups", "FAQ"
    r"|follow[- ]?ups?|\bFAQ\b|追問|常見問題|^(?:questions?|問題)$"
    # ... or only says what kind of lines follow: "Cons", "優點", "Pitfalls", "Summary"
    r"|^(?:pros?|cons?|pros and cons|advantages?|disadvantages?|pitfalls?|summary|misc|other|"
    r"tl;?dr|優點|缺點|優缺點|重點|其他|總結|小結|雜記)$"
)


def key_points(answer: str) -> list[str]:
    """The answer's points, at most ``MAX_KEY_POINTS``: the first sentence of each list item
    (an answer listing three strategies has three points, not four of the first one), and the
    sentences and ";" clauses of its other blocks with some content; a lead-in ("the three most
    popular are the following:") is none, and emphasis and link markup are left out."""
    pieces: list[str] = []
    for block in blocks(answer):
        if block.kind == "list":
            item = block.text.strip()
            said = split_sentences(item[len(list_marker(item)) :])
            pieces.extend(_CLAUSE.split(said[0].text)[:1] if said else [])
        elif block.kind in ("paragraph", "quote"):
            for sentence in split_sentences(block.text):
                for clause in _CLAUSE.split(sentence.text):
                    pieces.extend(p for p in series(clause) if p)
    points: list[str] = []
    for piece in pieces:
        piece = clean_heading(piece).strip(" .-*")
        if is_lead_in(piece) or not (len(terms(piece)) >= 2 or has_cjk(piece)):
            continue
        if piece not in points:
            points.append(piece)
    return points[:MAX_KEY_POINTS] or [answer.strip()]


# "A, B, and C" (with no further "and" split) / "A, B and C": a series of three parts or more
_SERIES_OXFORD = re.compile(r",\s+(?:(?:and|or)\s+)?")
_SERIES = re.compile(r",\s+|\s+(?:and|or)\s+(?=[^,]*$)")
SERIES_TERMS = 2  # content terms each part of a series holds to be a point of its own


def series(clause: str) -> list[str]:
    """A clause that says three things or more in a row ("does not depend on the batch, works
    per token, and behaves the same in training and inference") as its parts, each a point when
    each holds SERIES_TERMS content terms; else the clause whole. One point for the three gave
    "it doesn't depend on the batch" nothing, and a reply naming one of them all of it."""
    oxford = re.search(r",\s+(?:and|or)\s", clause)
    parts = [p.strip() for p in (_SERIES_OXFORD if oxford else _SERIES).split(clause) if p.strip()]
    if SERIES_SPLIT and len(parts) >= 3 and all(len(terms(p)) >= SERIES_TERMS for p in parts):
        return parts
    return [clause]


def readable(text: str) -> str:
    """An answer as the app can render it: GitHub's math images as ``$...$`` math, HTML bold
    and italics as Markdown. Other HTML stays (the renderer shows it inert)."""
    text = math_images_as_tex(text)
    mark = {"strong": "**", "b": "**", "em": "*", "i": "*"}
    return _EMPHASIS_TAG.sub(lambda m: f"{mark[m.group(1).lower()]}{m.group(2)}"
                             f"{mark[m.group(1).lower()]}", text)  # fmt: skip


def topic_of(question: str, heading: str) -> str:
    """What a card is about when its question does not say it: the last part of its heading
    path that is neither a Q/A label nor the question itself ("Why not just boxes?" under
    "Occupancy networks > Q/A": "Occupancy networks"); "" when the question shares a content
    word with it. A question that names something (``coverage.specific_terms``) is shown with
    its note's title only: the Q/A lines that end a note sit under its last section, and "Why
    does Adam need bias correction? (Learning rate schedules)" misled, where "Why not ViT? (Lane
    detection)" says what is asked. A blind rater scored 24 cards of the sample notes 3.79 as
    written and 4.58 with it (better for 10 of 69 cards of both corpora, worse for none; tune
    half)."""
    from sharpnotes.app.coverage import specific_terms

    asked, bare = terms(question), question.rstrip("?？")
    parts = [p.strip() for p in heading.split(HEADING_SEP) if p.strip()]
    parts = [
        p for p in parts
        if not _QA_HEADING.search(p) and terms(p) != asked and p.rstrip("?？") != bare
    ]  # fmt: skip
    named = bool(specific_terms(question))
    topic = short_part(parts[0] if named else parts[-1]) if parts else ""
    if not terms(topic) or terms(topic) & asked:
        return ""
    return topic


def _item(card: Card, passage: SearchResult, content_hash: str, citation: Citation) -> QuizItem:
    evidence = passage.text[card.start : card.end]
    if card.kind == "cloze":
        return QuizItem(
            "cloze", card.question.replace(CLOZE_MARK, "____"), card.answer, evidence,
            passage.text, citation, key_points=[card.answer], content_hash=content_hash,
            generator=GENERATOR,
        )  # fmt: skip
    answer = readable(card.answer)
    item = QuizItem(
        "recall", readable(card.question), answer, evidence, passage.text, citation,
        key_points=key_points(answer), content_hash=content_hash, generator=GENERATOR,
    )  # fmt: skip
    topic = topic_of(item.question, passage.heading)
    if not topic:
        return item
    # shown with its topic, the card keeps the id of its words as written: a review history
    # saved before stays with it
    return replace(item, question=f"{item.question} ({topic})", stored_id=item.id)


def _next_in_section(rows: Iterable) -> dict[str, Any]:
    """Chunk id -> the next chunk of its file, for the chunks (ChunkRow-like: chunk_id, source,
    heading, ordinal, text) whose section that next chunk goes on with: a long section is cut
    into several."""
    rows = list(rows)
    at = {(r.source, r.ordinal): r for r in rows if r.ordinal >= 0}
    out = {}
    for r in rows:
        nxt = at.get((r.source, r.ordinal + 1)) if r.ordinal >= 0 else None
        if nxt is not None and nxt.heading == r.heading:
            out[r.chunk_id] = nxt
    return out


def continued_sections(rows: Iterable) -> set[str]:
    """The ids of the chunks that continue the section of the chunk before them in their file."""
    return {nxt.chunk_id for nxt in _next_in_section(rows).values()}


def following_texts(rows: Iterable) -> dict[str, str]:
    """Chunk id -> the text of the next chunk of its file, for the chunks whose section that
    next chunk continues (``continued_sections`` seen from the chunk before)."""
    return {cid: nxt.text for cid, nxt in _next_in_section(rows).items()}


def _run_on(
    passage: SearchResult, cards: list[Card], following: str, heading: Card | None
) -> tuple[int, Card | None, str]:
    """The card whose answer the chunk's end cut, as the card parser reads it when the next
    chunk of its section (``following``) goes on where the chunk stops: its index, the card with
    the whole answer, and the part of ``following`` that answer takes; (-1, None, "") when there
    is none. The chunker cuts a long section by size, so it can cut a card's answer in two; the
    parser's own stops (the next question or heading, a rule, a ``<br>`` line, its block limit)
    end the answer, and a card of one block (``Q: ... A: ...``, ``q::a``) never runs on.
    ``heading``: the passage's own heading card (``_heading_card``), whose question is not in
    the text."""
    for i, card in enumerate(cards):
        if card.kind != "qa" or card.reverse or passage.text[card.end :].strip():
            continue
        lead = f"###### {card.question}\n\n" if card is heading else ""
        head = lead + passage.text[card.start :].rstrip()
        found = find_cards(f"{head}\n\n{following}")
        if not found or found[0].start != 0 or found[0].question != card.question:
            return -1, None, ""
        rest = following[: found[0].end - len(head) - 2].strip()
        if not terms(rest):  # nothing taken, or a stray "<br/>" before the next question
            return -1, None, ""
        return i, replace(card, answer=found[0].answer), rest
    return -1, None, ""


def _heading_card(passage: SearchResult) -> Card | None:
    """The passage as the answer to its own heading, when that heading is a question."""
    title = _Q_LABEL.sub("", passage.heading.split(HEADING_SEP)[-1]).strip()
    body = passage.text.strip()
    if not title.endswith(("?", "？")) or not body or find_cards(passage.text):
        return None
    start = passage.text.index(body)
    answer = re.sub(r"^\s*(?:A|Answer|答)\s*[:：]\s*", "", body)
    return Card("qa", title, answer, start, start + len(body), "question heading")


def card_items(
    passage: SearchResult, content_hash: str, continues: bool = False, following: str = ""
) -> tuple[list[QuizItem], dict[str, int]]:
    """The verified items of the cards written in ``passage``, in note order, and the count of
    cards dropped by reason. A passage that ``continues`` its section (``continued_sections``)
    is not the answer to a heading phrased as a question: the section's start is. ``following``:
    the next chunk's text when it continues the section (``following_texts``), for a card
    whose answer the chunk's end cut (``_run_on``)."""
    from sharpnotes.app.quiz.offline import citation_of

    citation = citation_of(passage)
    cards = find_cards(passage.text)
    heading = None if continues else _heading_card(passage)
    if heading:
        cards.insert(0, heading)
    cut, mended, rest = _run_on(passage, cards, following, heading) if following else (-1, None, "")
    dropped: dict[str, int] = {}
    whole = []
    for i, card in enumerate(cards):
        if i == cut and mended is not None:
            card = mended
        if card.kind == "qa" and is_lead_in(card.answer):
            verify.count(dropped, CUT_OFF)  # "Here is an overview:" and the chunk ends
        elif card is mended:  # whole, with the rest; the id stays the cut card's
            joined = replace(passage, text=f"{passage.text.rstrip()}\n\n{rest}")
            item = _item(replace(card, end=len(joined.text)), joined, content_hash, citation)
            was = _item(cards[i], passage, content_hash, citation).id
            whole.append(replace(item, stored_id=was))
        else:
            whole.append(_item(card, passage, content_hash, citation))
    return verify.passing(whole, "card", dropped)
