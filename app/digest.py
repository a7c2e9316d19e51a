"""A topic digest: the essentials of one topic from all the notes, on one page.

The passages linked to the topic (``app.topics``) are cut into quotable units (``ingest.text``:
sentences, list items, formulas, tables, code); units that say the same thing in several notes are
merged into one line that cites every source; the lines are grouped definition -> details ->
pitfalls -> interview questions, and every line keeps its citations. ``to_markdown`` exports it.

A line must make sense on its own, in other people's notes too: what a passage gives is
``app.digest_lines`` (cards whole, questions never facts, no HTML, no fragments).

Two units of different notes are the same fact when two models both find them close (the mean of
their MiniLM and multilingual USE cosines >= ``SAME_FACT``) and they share enough content terms
(``SAME_TERMS``): a cosine alone merges two different numbers about the same thing ("gamma 2" and
"gamma 5"), the terms alone miss a reworded sentence, and one model alone is fooled by wordings the
other reads apart. The thresholds were chosen on labelled pairs from the sample notes (tuning
half); ``eval/benchmarks/README.md`` ("Digest: repeated facts") has what they miss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sharpnotes.app.coverage import specific_terms
from sharpnotes.app.digest_lines import (
    SECTIONS,
    Section,
    about,
    line_text,
    passage_units,
    section_neighbours,
)
from sharpnotes.app.extractive import BREADCRUMB, first_line_name, outlined
from sharpnotes.app.quiz.items import Citation
from sharpnotes.app.topics import Link, Names, normalise
from sharpnotes.ingest.text import HEADING_SEP, Unit, list_marker, terms

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.app.syllabus import Topic
    from sharpnotes.ingest.catalog import ChunkRow

# (chunk id, a unit's end offset) -> the list items that unit sits under
Outline = dict[tuple[str, int], tuple[str, ...]]
# (chunk id, a unit's end offset) -> the question of the card that unit answers
Asked = dict[tuple[str, int], str]
TITLES = {
    "definition": "What it is",
    "details": "Details",
    "pitfalls": "Pitfalls",
    "questions": "Interview questions",
}
# Chosen on the tuning half of eval/digest_pairs.jsonl (726 labelled pairs of units of the sample
# notes' digests; eval/benchmarks/digest_dupes.py), as the fewest duplicates shown plus different
# facts merged (6 + 0 there; 7 + 0 with MiniLM's cosine alone at its best, 0.75):
SAME_FACT = 0.68  # mean cosine of two units in MiniLM and in USE (``unit_vectors``)
SAME_FACT_MINILM = 0.75  # MiniLM's cosine alone, where USE is not installed
SAME_TERMS = 0.6  # share of the shorter unit's content terms the other has
ACROSS_NOTES = True  # merge only wordings from different notes (one note elaborates, it does
# not restate: most close pairs within a note are two details of one thing)
MAX_LINES = 60  # a digest is a page, not the notes again
QUESTION_LINES = 8  # of them, kept for interview questions when a topic has more to say

BLOCK_KINDS = ("code", "table", "formula")  # shown as blocks, not as one bullet


@dataclass(frozen=True)
class Source(Citation):
    """A passage a digest line comes from: a quiz item's citation, with a label to show."""

    def label(self) -> str:
        where = f"p. {self.page}" if self.page else self.heading.split(HEADING_SEP)[-1]
        return f"{self.source} > {where}" if where else self.source


@dataclass
class Line:
    """One fact of the digest, with every passage that states it."""

    text: str
    kind: str  # the unit's kind: sentence, list, formula, table, code
    section: Section
    sources: list[Source]
    also: list[str] = field(default_factory=list)  # the merged wordings, for the curious
    parents: tuple[str, ...] = ()  # the list items a nested item sits under in its note
    asked: str = ""  # the question of the card this line answers

    @property
    def shown(self) -> str:
        """The line as the digest shows it: a nested list item after its parents; a card's
        answer after its question ("Q: ... A: ..." in the questions, "question › fact" or the
        question over a block elsewhere)."""
        if not self.asked:
            return outlined(self.text, self.parents)
        # a listed card's question is also the item its answers sit under: shown once
        text = outlined(self.text, [p for p in self.parents if p.rstrip(":") != self.asked])
        lead = list_marker(text)
        if self.section == "questions":
            return f"Q: {self.asked} A: {text[len(lead) :]}"
        if self.kind in BLOCK_KINDS:
            return f"{self.asked}\n\n{text}"
        return f"{lead}{self.asked}{BREADCRUMB}{text[len(lead) :]}"

    def to_dict(self) -> dict:
        return {
            "text": self.shown,
            "parents": list(self.parents),
            "question": self.asked,
            "kind": self.kind,
            "section": self.section,
            "sources": [s.to_dict() for s in self.sources],
            "also": self.also,
        }


@dataclass
class Digest:
    topic: Topic
    lines: list[Line]
    passages: int
    merged: int  # units dropped as repeats of a line already shown

    def section(self, name: Section) -> list[Line]:
        return [line for line in self.lines if line.section == name]

    def to_dict(self) -> dict:
        return {
            "topic": self.topic.to_dict(),
            "passages": self.passages,
            "merged": self.merged,
            "lines": [line.to_dict() for line in self.lines],
        }


def term_share(a: set[str], b: set[str]) -> float:
    """The share of the smaller set of content terms that the other one holds (0 when empty)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def same_fact(a: set[str], b: set[str], share: float = SAME_TERMS) -> bool:
    return bool(a and b) and term_share(a, b) >= share


def merge(
    candidates: Sequence[tuple[Unit, Source, Section]],
    vectors: np.ndarray,
    same: float = SAME_FACT,
    share: float = SAME_TERMS,
    across: bool = ACROSS_NOTES,
    outline: Outline | None = None,
    asked: Asked | None = None,
) -> tuple[list[Line], int]:
    """Greedy merge in reading order: a unit joins the first line it repeats, else starts one.
    Returns the lines and how many units were merged away. A line of a nested list item keeps
    the items it sits under (``outline``, filled by ``topic_units``) to be shown with them, and
    a card's answer its question (``asked``)."""
    lines: list[Line] = []
    heads: list[int] = []  # index of each line's first unit
    texts = [line_text(u) for u, _, _ in candidates]
    unit_terms = [terms(t) for t in texts]
    merged = 0
    for i, (unit, source, section) in enumerate(candidates):
        home = None
        for n, head in enumerate(heads):
            if across and candidates[head][1].source == source.source and texts[i] != texts[head]:
                continue  # one note does not repeat itself in other words
            if float(vectors[i] @ vectors[head]) >= same and same_fact(
                unit_terms[i], unit_terms[head], share
            ):
                home = n
                break
        if home is None:
            heads.append(i)
            key = (source.chunk_id, unit.end)
            up, question = (outline or {}).get(key, ()), (asked or {}).get(key, "")
            lines.append(Line(texts[i], unit.kind, section, [source], parents=up, asked=question))
            continue
        merged += 1
        line = lines[home]
        if source not in line.sources:
            line.sources.append(source)
        if texts[i] != line.text and texts[i] not in line.also:
            line.also.append(texts[i])
    return lines, merged


def topic_units(
    searcher: Searcher,
    links: Sequence[Link],
    outline: Outline | None = None,
    asked: Asked | None = None,
    topic: Topic | None = None,
) -> list[tuple[Unit, Source, Section]]:
    """The units of the linked passages (``passage_units``), in ``reading_order``, each with its
    citation and section; ``outline``, when given, gets the parents of each nested list item
    (``extractive.above``), ``asked`` the question of each card's answer. With ``topic``, a
    passage of a note that is not about it keeps only the cards that name it, when one does."""
    rows = searcher.catalog.get_chunks([link.chunk_id for link in links])
    around = section_neighbours(searcher.catalog, rows.values())
    names = Names.of(topic.names) if topic is not None else None
    own = {normalise(n) for n in topic.names} if topic is not None else set()
    out = []
    for link in reading_order(links, rows):
        row = rows[link.chunk_id]
        source = Source(row.chunk_id, row.source, row.heading, row.page)
        before, after = around.get(row.chunk_id, ("", ""))
        # a passage the learner pinned to the topic is theirs to have whole
        focus = names if names is not None and not link.pinned and not about(names, row) else None
        context = other_subject(row.heading, own) if topic is not None else ""
        for piece in passage_units(row.text, row.heading, before, after, focus, names):
            out.append((piece.unit, source, piece.section))
            key = (row.chunk_id, piece.unit.end)
            # an item under others says what it sits under already
            parents = piece.parents or ((context,) if context and not piece.asked else ())
            if outline is not None and parents:
                outline[key] = parents
            if asked is not None and piece.asked:
                asked[key] = piece.asked
    return out


def reading_order(links: Sequence[Link], rows: dict[str, ChunkRow]) -> list[Link]:
    """The links whose passages are still indexed, note by note (the note of the best link
    first) and in each note in the order it is written: a case note's requirements come before
    its serving, as the learner wrote them, not in the order the linker scored them."""
    held = [link for link in links if link.chunk_id in rows]  # an ingest may have removed some
    first: dict[str, int] = {}
    for n, link in enumerate(held):
        first.setdefault(link.source, n)
    return sorted(held, key=lambda link: (first[link.source], rows[link.chunk_id].ordinal))


def other_subject(heading: str, own: set[str]) -> str:
    """The section's own heading when it names a subject that is not the topic ("Deformable
    DETR 怎麼改" in a note on DETR, "ResNet backbone"): its lines are facts of that subject, and
    shown without it under the topic they would read as the topic's ("10x 少的 epochs 就收斂"
    beside "收斂超慢"). "" for the note's title and for a heading that names only the topic or
    nothing specific ("缺點", "Loss")."""
    if HEADING_SEP not in heading:
        return ""
    last = heading.rsplit(HEADING_SEP, 1)[-1].strip()
    named = [normalise(t.text) for t in specific_terms(last)]
    return last if any(n not in own for n in named) else ""


def unit_vectors(
    searcher: Searcher, candidates: Sequence[tuple[Unit, Source, Section]]
) -> tuple[np.ndarray, float]:
    """What ``merge`` compares, for the units as lines read them, in order: each unit's query
    model (MiniLM) vector beside its multilingual USE vector, scaled so that the dot product of two
    is the mean of the two models' cosines; and the ``same`` bound for it. Where USE is not
    installed, MiniLM's vectors alone and their own bound."""
    from sharpnotes.ingest import multilingual

    if not candidates:
        return np.zeros((0, 1), np.float32), SAME_FACT
    texts = [line_text(u) for u, _, _ in candidates]
    vectors = searcher.embedder().embed(texts)
    if not multilingual.available():
        return vectors, SAME_FACT_MINILM
    both = np.hstack([vectors, multilingual.embed(texts)]) / np.sqrt(2.0)
    return both.astype(np.float32), SAME_FACT


def make_digest(searcher: Searcher, topic: Topic, links: Sequence[Link]) -> Digest:
    outline: Outline = {}
    asked: Asked = {}
    candidates = topic_units(searcher, links, outline, asked, topic)
    vectors, same = unit_vectors(searcher, candidates)
    lines, merged = merge(candidates, vectors, same=same, outline=outline, asked=asked)
    return Digest(topic, arrange(lines), passages=len(links), merged=merged)


def arrange(lines: Sequence[Line]) -> list[Line]:
    """The lines a digest shows, in order: by section, the most-cited lines first within one (a
    fact three notes repeat is an essential), at most MAX_LINES, of which up to QUESTION_LINES
    interview questions when the facts alone would fill the page (they come last, and a long
    topic left none)."""
    order = {name: n for n, name in enumerate(SECTIONS)}
    ranked = [
        line
        for _, line in sorted(
            enumerate(lines), key=lambda x: (order[x[1].section], -len(x[1].sources), x[0])
        )
    ]
    questions = [line for line in ranked if line.section == "questions"]
    facts = [line for line in ranked if line.section != "questions"]
    kept = facts[: MAX_LINES - min(QUESTION_LINES, len(questions))]
    return kept + questions[: MAX_LINES - len(kept)]


def to_markdown(digest: Digest) -> str:
    """The digest as a Markdown page: every line ends with its citations."""
    topic = digest.topic
    title = f"{topic.title} ({topic.title_zh})" if topic.title_zh else topic.title
    out = [f"# {title}", ""]
    if topic.description:
        out += [f"_{topic.description}_", ""]
    out += [
        f"From {digest.passages} passage{'s' if digest.passages != 1 else ''}; "
        f"repeats merged: {digest.merged}.",
        "",
    ]
    for name in SECTIONS:
        lines = digest.section(name)
        if not lines:
            continue
        out += [f"## {TITLES[name]}", ""]
        shown: list[tuple[str, tuple[str, ...]]] = []  # the items above, margin first
        for line in lines:
            cite = "; ".join(f"[{s.label()}]" for s in line.sources)
            if line.kind in BLOCK_KINDS:
                out += ["", line.shown, "", f"— {cite}", ""]
                shown = []
                continue
            depth = nested_depth(line, shown)
            if depth:  # an item under one shown above: nested, not its breadcrumb
                text = outlined(line.text, line.parents[len(shown[depth - 1][1]) :])
                out.append(f"{'  ' * depth}- {text[len(list_marker(text)) :]} — {cite}")
            else:
                text = line.shown[len(list_marker(line.shown)) :]  # "- ", "* ", "1. "
                out.append(f"- {text} — {cite}")
            chain = (line.sources[0].chunk_id, (*line.parents, first_line_name(line.text)))
            shown = [] if line.asked else [*shown[:depth], chain]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def nested_depth(line: Line, shown: list[tuple[str, tuple[str, ...]]]) -> int:
    """How deep ``line`` nests under the items shown just above it (each its chunk and the
    items from the margin down to it): under the deepest one it sits under, one deeper; 0 at
    the margin. A parent repeated before each of its items ("Loss: ... › matching 是
    one-to-one", "Loss: ... › 沒配到的 query ...") is shown once."""
    if line.asked:
        return 0
    for depth in range(len(shown), 0, -1):
        chunk, chain = shown[depth - 1]
        if chunk == line.sources[0].chunk_id and line.parents[: len(chain)] == chain:
            return depth
    return 0
