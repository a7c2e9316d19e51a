"""The default, fully offline generator: no LLM, it quotes the notes.

It cuts the retrieved passages into units (``ingest.text.units``: prose sentences; a fenced
code block, a display formula, a list item or a table stays whole), scores every unit against
the question by embedding cosine and lexical overlap, and answers with the best 1 to 4 units,
each followed by the marker of the passage it comes from. Units keep their passage's order, so a
definition comes before the formula that follows it in the note.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sharpnotes.app.embed_cache import embed_cached
from sharpnotes.app.generators import REFUSAL, Generator, OnToken, register
from sharpnotes.app.retrieval import SearchResult
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import Unit, overlap, terms, units

MAX_UNITS = 4
# a unit is kept when it scores at least this share of the best unit's score
KEEP_RATIO = 0.8
LEXICAL_WEIGHT = 0.3
# weight of the passage's retrieval score: the hybrid ranking knows which passage is about
# the question better than one sentence's cosine does. With these weights the picked units
# hold the labelled evidence for 71% of the answerable sample questions (65% without it).
PRIOR_WEIGHT = 0.2


@dataclass
class ScoredUnit:
    passage: int  # 0-based index into the passages
    unit: Unit
    cosine: float
    lexical: float
    prior: float = 0.0  # the passage's retrieval score

    @property
    def score(self) -> float:
        mix = (1 - LEXICAL_WEIGHT) * self.cosine + LEXICAL_WEIGHT * self.lexical
        return mix + PRIOR_WEIGHT * self.prior


def score_units(embedder, question: str, passages: Sequence[SearchResult]) -> list[ScoredUnit]:
    """Every unit of every passage, scored against the question (in passage order)."""
    found = [(p, unit) for p, passage in enumerate(passages) for unit in units(passage.text)]
    if not found:
        return []
    vectors = embed_cached(embedder, [question] + [u.clean for _, u in found])
    cosines = vectors[1:] @ vectors[0]
    q_terms = terms(question)
    return [
        ScoredUnit(p, unit, float(cos), overlap(q_terms, unit.text), passages[p].score)
        for (p, unit), cos in zip(found, cosines, strict=True)
    ]


def pick(scored: list[ScoredUnit], limit: int = MAX_UNITS) -> list[ScoredUnit]:
    """The best units (at most ``limit``, within KEEP_RATIO of the best), in passage order."""
    if not scored:
        return []
    ranked = sorted(scored, key=lambda s: -s.score)
    best = ranked[0].score
    chosen = [ranked[0]] + [s for s in ranked[1:limit] if s.score >= KEEP_RATIO * best]
    return sorted(chosen, key=lambda s: (s.passage, s.unit.start))


def render(chosen: list[ScoredUnit]) -> str:
    """Units joined into an answer, each followed by ``[n]``; blocks on their own lines."""
    parts: list[str] = []
    for s in chosen:
        marker = f"[{s.passage + 1}]"
        if s.unit.kind == "sentence":
            parts.append(f"{s.unit.clean} {marker}")
        else:
            parts.append(f"\n\n{s.unit.clean}\n{marker}\n\n")
    text = ""
    for part in parts:
        text += part if not text or part.startswith("\n") or text.endswith("\n") else " " + part
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class ExtractiveGenerator(Generator):
    name = "extractive"

    def generate(
        self, question: str, passages: Sequence[SearchResult], on_token: OnToken | None = None
    ) -> str:
        from sharpnotes.ingest.embedding import load_embedder

        chosen = pick(score_units(load_embedder(self.settings, "query"), question, passages))
        answer = render(chosen) if chosen else REFUSAL
        if on_token:
            for token in re.findall(r"\S+\s*|\s+", answer):
                on_token(token)
        return answer


@register("extractive")
def _extractive(settings: Settings) -> ExtractiveGenerator:
    return ExtractiveGenerator(settings)
