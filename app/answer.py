"""Answering a question from the notes, with citations that can be checked.

``answer_question`` retrieves passages, refuses when the evidence is weak (before any generator
runs), asks the generator for an answer with ``[n]`` markers, and then checks the answer,
whatever generator wrote it: every marker must name a passage that was given, and every
sentence must be supported by the passage it cites (embedding cosine, or lexical overlap, of the
sentence against the passage's best unit). A sentence without a marker, or with a marker
that names no given passage, is unsupported too. An LLM's answer is then mended
(``repair_answer``, on by default): a failing sentence is replaced by the unit of any passage
that supports it (quoted, with that passage's marker), or dropped; when nothing holds up, the
offline composer's quotes stand instead, and the model's text is kept as ``draft``. Sentences
that still fail (the repair turned off) are flagged and counted in ``unsupported``; only
supported ones make a citation. Answers and
passages are cut by the same ``ingest.text.units``, so a quoted unit is checked whole against
itself.

The evidence score of the refusal gate and the support threshold are calibrated on the sample notes'
labelled questions by ``python -m sharpnotes.eval.benchmarks.refusal`` (see its docstring for the
table).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from sharpnotes.app.coverage import (
    all_marked,
    all_named,
    answered_in_chinese,
    defines_asked_name,
    forgiven,
    held_share,
    held_terms,
    latin_terms,
    named_in_chinese,
    only_named,
    recased,
    thinly_anchored,
    uncovered,
    zh_anchored,
)
from sharpnotes.app.embed_cache import embed_cached
from sharpnotes.app.extractive import (
    BREADCRUMB,
    answer_units,
    candidates,
    in_outline,
    join_parts,
    score_units,
    split_outline,
)
from sharpnotes.app.generators import FOLLOW_UP, REFUSAL, REFUSAL_ZH, get_generator
from sharpnotes.app.retrieval import Filters, Searcher, SearchResult
from sharpnotes.ingest.cards import without_open_questions
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import (
    Unit,
    has_cjk,
    overlap,
    split_code,
    terms,
    units,
    without_todos,
)

log = logging.getLogger(__name__)

# First calibrated at 0.90 by eval/benchmarks/refusal.py on the sample notes' tuning half; moved
# to the middle of the gap the tuning data of both sets shows (tune halves and dev sets: the
# highest English question the notes do not answer scores 0.876, the lowest refused answerable
# one 0.892; eval/benchmarks/README.md, "Answers round 11").
DEFAULT_REFUSAL_THRESHOLD = 0.885
# A refused question is kept as a gap to write (``app.gaps``) only when it is near the notes: not
# a Chinese question that shares no topic with them (NO_SHARED_TOPIC), nor one whose evidence
# scores below GAP_FLOOR on MiniLM's scale. Chosen on the unanswerable questions of the tuning
# halves and dev sets: every off-topic English one but one scores 0.66 or less (cooking, taxes,
# travel), every near miss 0.69 or more (eval/benchmarks/README.md, "Gaps").
GAP_FLOOR = 0.67
NO_SHARED_TOPIC = "no passage shares the Chinese question's topic"
FAR_IN_CHINESE = "every passage is far from the Chinese question in the multilingual model"
FAR_IN_BOTH = "the passages written in Chinese are far from the question in both models"
# A question written only in Chinese (no Latin-script term, which the term checks hold to the
# passages) is on another subject when no passage reaches this multilingual (USE v3) cosine with
# it: "推薦台北好吃的牛肉麵店" found the notes on recommendation through the glossary's 推薦.
# Chosen on the tuning halves' questions of that kind: off-topic ones 0.13-0.18, answerable ones
# 0.25 and up (eval/benchmarks/README.md, "Answers round 26").
ZH_FAR = 0.17
# ... unless glossary terms that the passages write hold this share of its content characters
ZH_GLOSSARY = 0.5
# A cited sentence is supported when its best unit in the cited passage reaches either bound.
# Checked on hard negatives (3,227 units of one note scored against another note retrieved for
# the same sample question): 3.2% pass at 0.6 / 0.6, 5.8% at 0.55, 1.8% at 0.65 (an upper bound:
# some notes repeat each other). Verbatim and lightly edited quotes score near 1.
SUPPORT_COSINE = 0.6
SUPPORT_OVERLAP = 0.6
CLOSEST = 3
# An LLM's sentence that fails the check is replaced by the passage unit closest to it when that
# unit scores at least this on the check's scale. At 1.0 (chosen over 0.6-0.9 on the tuning
# halves of both answer sets, eval/benchmarks/answers_llm.py) a sentence is moved only to a unit
# that supports it outright (the model cited the wrong passage, or none); a looser paraphrase
# is dropped, since the unit it resembles often says something else.
REPAIR_FLOOR = 1.0
# A draft of which a smaller share of sentences stands after that is replaced whole by the
# offline composer's quotes (0.5 and 0.75 were no better on the tuning halves).
REPAIR_TRUST = 0.0
# the composer's best units that ``ground`` adds after an LLM's answer when it does not quote them
GROUND_UNITS = 1
_BLOCK_START = re.compile(r"^\s*(?:[-*+] |\d{1,9}[.)] |\||```|~~~|\$\$)")

_MARKERS = re.compile(r"(?:\s*\[\d+\])+")
_NUMBER = re.compile(r"\[(\d+)\]")


def _pieces(text: str) -> list[str]:
    """The units of answer text (``ingest.text.units``, none dropped for being short): the
    composer quotes passages unit by unit, so a quoted unit comes back as one piece; a yes/no
    reply quoted after its question ("Can it? › Yes, ...") is one piece with it."""
    pieces: list[str] = []
    for u in units(text, min_terms=0):
        if pieces and u.text.startswith(BREADCRUMB.strip()):
            pieces[-1] += " " + u.text
        else:
            pieces.append(u.text)
    return pieces


@dataclass
class Citation:
    """One cited passage; ``quote`` is the cited sentence(s) copied verbatim from ``text``."""

    n: int
    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str
    quote: str


@dataclass
class SentenceCheck:
    """One sentence of an answer and whether the passage(s) it cites support it."""

    text: str
    markers: list[int]
    supported: bool
    score: float
    quote: str = ""  # the best-supporting unit of the cited passage, verbatim


@dataclass
class Evidence:
    """What the refusal gate looks at: the best passage's dense cosine to the question, plus the
    best unit's (sentence, code block, formula...) cosine and lexical overlap. Two views of the
    same passages agree for a covered question; an off-topic or a near-miss question (a topic
    next to the notes') is weak on one of them. The weights were compared on the tuning half."""

    dense: float = 0.0
    unit_cosine: float = 0.0
    unit_overlap: float = 0.0

    @property
    def score(self) -> float:
        return self.dense + self.unit_cosine + 0.2 * self.unit_overlap


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    unsupported: int
    generator: str
    retrieval_ms: float
    generation_ms: float
    closest: list[SearchResult] = field(default_factory=list)
    sentences: list[SentenceCheck] = field(default_factory=list)
    # the gate's evidence score; for an answer, at least the threshold (``evidence_for``'s
    # ``enough``); 0.0 when the term checks decided or the question holds Chinese
    evidence: float = 0.0
    draft: str = ""  # the generator's own text, when the check mended it (``repair_answer``)
    repair: dict[str, int] = field(default_factory=dict)  # replaced, dropped, fell_back
    spelled: str = ""  # the question as searched, when misspelt words were corrected

    def to_dict(self) -> dict:
        """The ``sharpnotes ask --json`` contract."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [asdict(c) for c in self.citations],
            "unsupported": self.unsupported,
            "generator": self.generator,
            "retrieval_ms": round(self.retrieval_ms, 1),
            "generation_ms": round(self.generation_ms, 1),
            "closest": [r.to_dict() for r in self.closest],
            "draft": self.draft,
            "repair": self.repair,
            "spelled": self.spelled,
        }


def _anchored(question: str, results: Sequence[SearchResult]) -> bool:
    """True when the question points back explicitly, or one of its own terms occurs in the
    passages found for the folded query."""
    own = terms(question)
    if FOLLOW_UP.search(question.lower()) or not own:
        return True
    return any(own & terms(r.text) for r in results[:3])


def evidence_for(
    question: str,
    results: Sequence[SearchResult],
    searcher: Searcher,
    filters: Filters | None = None,
    enough: float | None = None,
) -> Evidence:
    """The gate's features, from MiniLM's side only and without the feedback step (the
    passages closest to the question itself), so that the calibrated threshold does not move
    when fusion or feedback settings are tuned.

    With ``enough`` (the threshold), the units of the gate's passages that are also among
    ``results`` are scored first: the answer needs their vectors anyway. When their best unit
    already lifts the score to ``enough`` the other passages are not encoded, since a unit more
    can only raise a maximum: the features are then a lower bound that passes the gate, and the
    gate decides exactly as with all of them."""
    if not results:
        return Evidence()
    dense = searcher.dense_candidates(
        question, len(results), filters or Filters(), feedback=False, sentences=False
    )
    passages = searcher._results(dense, len(results))
    top = dense[0][1] if dense else 0.0
    scored = []
    if enough is not None:
        answered = {r.chunk_id for r in results}
        shared = [p for p in passages if p.chunk_id in answered]
        rest = [p for p in passages if p.chunk_id not in answered]
        scored = score_units(searcher.embedder(), question, shared)
        q_terms = terms(question)
        lexical = max((overlap(q_terms, u.text) for p in rest for u in units(p.text)), default=0.0)
        bound = Evidence(
            dense=top,
            unit_cosine=max((s.cosine for s in scored), default=0.0),
            unit_overlap=max([lexical, *(s.lexical for s in scored)]),
        )
        if bound.score >= enough or not rest:
            return bound
        passages = rest  # the shared passages' units are scored already
    scored += score_units(searcher.embedder(), question, passages)
    return Evidence(
        dense=top,
        unit_cosine=max((s.cosine for s in scored), default=0.0),
        unit_overlap=max((s.lexical for s in scored), default=0.0),
    )


def split_claims(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of an answer with the markers that follow each. A marker placed after the
    full stop (``... end. [2]``) belongs to the sentence before it."""
    claims: list[tuple[str, list[int]]] = []
    pos = 0
    for match in [*_MARKERS.finditer(answer), None]:
        chunk = answer[pos : match.start() if match else len(answer)]
        lead = re.match(r"^[\s.,;:!?。！？]*", chunk).group(0)  # type: ignore[union-attr]
        if lead.strip() and claims:
            claims[-1] = (claims[-1][0] + lead.strip(), claims[-1][1])
        pieces = _pieces(chunk[len(lead) :])
        pieces = [p for p in pieces if re.search(r"\w", p)] if match else pieces
        for piece in pieces[:-1] if match else pieces:
            claims.append((piece, []))
        if match:
            numbers = [int(n) for n in _NUMBER.findall(match.group(0))]
            if pieces:
                claims.append((pieces[-1], numbers))
            elif claims:
                claims[-1] = (claims[-1][0], claims[-1][1] + numbers)
        pos = match.end() if match else len(answer)
    return [(text, markers) for text, markers in claims if re.search(r"\w", text)]


def check_answer(
    answer: str, passages: Sequence[SearchResult], embedder
) -> tuple[list[SentenceCheck], list[Citation]]:
    """Check every sentence of ``answer`` against the passages its markers name."""
    claims = split_claims(answer)
    checks: list[SentenceCheck] = []
    quotes: dict[int, list[Unit]] = {}
    # a nested list item is quoted after the items it sits under ("- GBDT › cons: x"): the item
    # is checked as a claim, and each item shown before it must stand in a cited passage
    outlined = [split_outline(_MARKERS.sub("", c).strip()) for c, _ in claims]
    texts = [item for item, _ in outlined]
    flat = [(p, u) for p, passage in enumerate(passages) for u in units(passage.text)]
    vectors = embed_cached(embedder, texts + [u.clean for _, u in flat]) if texts else None
    keyed = [_key(p.text) for p in passages] if any(path for _, path in outlined) else []
    for i, (text, markers) in enumerate(claims):
        plain = _MARKERS.sub("", text).strip()
        valid = [n for n in markers if 1 <= n <= len(passages)]
        # uncited sentences are checked against every passage; cited ones against theirs
        allowed = {n - 1 for n in valid} if markers else set(range(len(passages)))
        best, j = _closest(texts[i], vectors[i], vectors[len(texts) :], flat, allowed)  # type: ignore[index]
        best_p, best_unit = flat[j] if j >= 0 else (None, None)
        path_found = all(any(_key(part) in keyed[p] for p in allowed) for part in outlined[i][1])
        supported = (
            best >= 1.0
            and best_unit is not None
            and len(valid) == len(markers)
            and bool(markers)
            and path_found
        )
        if plain.strip() == REFUSAL.strip():
            supported = True
        checks.append(
            SentenceCheck(
                plain, markers, supported, round(best, 3), best_unit.text if best_unit else ""
            )
        )
        if supported and markers and best_unit is not None and best_p is not None:
            quotes.setdefault(best_p + 1, []).append(best_unit)
    citations = [
        Citation(
            n=n,
            chunk_id=passages[n - 1].chunk_id,
            source=passages[n - 1].source,
            heading=passages[n - 1].heading,
            page=passages[n - 1].page,
            text=passages[n - 1].text,
            quote=_span(passages[n - 1].text, quotes[n]),
        )
        for n in sorted(quotes)
    ]
    return checks, citations


def citation_order(markers: Iterable[int], cited: Collection[int]) -> dict[int, int]:
    """Passage number -> number shown: the ``cited`` passages numbered 1, 2, 3... in the order
    the answer's ``markers`` first name them, those it never names after them."""
    order: dict[int, int] = {}
    for n in [n for n in markers if n in cited] + sorted(cited):
        order.setdefault(n, len(order) + 1)
    return order


def renumber(
    text: str, citations: list[Citation], checks: list[SentenceCheck]
) -> tuple[str, list[Citation], list[SentenceCheck]]:
    """The cited passages numbered 1, 2, 3... in the order the answer first cites them, in the
    text's markers, the citations and the sentence checks alike. A marker's number is the
    passage's rank in retrieval, so an answer that quotes passages 1, 2 and 5 would otherwise show
    [1] [2] [5] over three sources. Markers inside code are code ("x = [1]") and stay as written;
    a marker that names no cited passage is numbered after the cited ones."""
    prose = [piece for piece, code in split_code(text) if not code]
    seen = [
        int(n) for piece in prose for run in _MARKERS.findall(piece) for n in _NUMBER.findall(run)
    ]
    order = citation_order(seen, {c.n for c in citations})
    for n in seen:  # markers of no cited passage: after the cited ones
        order.setdefault(n, len(order) + 1)
    if all(old == new for old, new in order.items()):
        return text, citations, checks

    def markers(run: re.Match[str]) -> str:
        return _NUMBER.sub(lambda m: f"[{order[int(m.group(1))]}]", run.group(0))

    text = "".join(
        piece if code else _MARKERS.sub(markers, piece) for piece, code in split_code(text)
    )
    citations = sorted((replace(c, n=order[c.n]) for c in citations), key=lambda c: c.n)
    checks = [replace(c, markers=[order.get(n, n) for n in c.markers]) for c in checks]
    return text, citations, checks


@dataclass
class Repair:
    """An answer mended by ``repair_answer``: its text and what was done to the draft."""

    text: str
    replaced: int
    dropped: int


def _key(text: str) -> str:
    return " ".join(_MARKERS.sub("", text).lower().split())


def repair_answer(
    checks: Sequence[SentenceCheck],
    passages: Sequence[SearchResult],
    embedder,
    floor: float = REPAIR_FLOOR,
) -> Repair:
    """The answer with every sentence the check rejected mended: replaced by the unit of any
    passage it comes closest to (cosine or word overlap, on the check's scale), quoted verbatim
    with that passage's marker, when it reaches ``floor``; dropped otherwise, and dropped too when
    that unit is already quoted. Supported sentences stay as written, with their markers."""
    flat = [(p, u) for p, passage in enumerate(passages) for u in units(passage.text)]
    failing = [c.text for c in checks if not c.supported]
    vectors = embed_cached(embedder, failing + [u.clean for _, u in flat]) if failing else None
    used = {_key(c.quote) for c in checks if c.supported and c.quote}
    parts: list[tuple[str, str, bool]] = []
    replaced = dropped = 0
    for check in checks:
        if check.supported:
            markers = "".join(f"[{n}]" for n in check.markers)
            parts.append((check.text, markers, bool(_BLOCK_START.match(check.text))))
            continue
        row = vectors[failing.index(check.text)]  # type: ignore[index]
        best, best_j = _closest(check.text, row, vectors[len(failing) :], flat)  # type: ignore[index]
        if best >= floor and _key(flat[best_j][1].clean) not in used:
            p, unit = flat[best_j]
            used.add(_key(unit.clean))
            parts.append((unit.clean, f"[{p + 1}]", unit.kind != "sentence"))
            replaced += 1
        else:
            dropped += 1
    return Repair(join_parts(parts), replaced, dropped)


def mend(
    question: str,
    checks: Sequence[SentenceCheck],
    passages: Sequence[SearchResult],
    settings: Settings,
    embedder,
    floor: float = REPAIR_FLOOR,
    trust: float = REPAIR_TRUST,
) -> tuple[str, dict[str, int]]:
    """An LLM draft's checked sentences mended (``repair_answer``), and what was done. A draft
    of which less than ``trust`` of the sentences stand (supported, or replaced by what they
    paraphrase) is not trusted at all, and nothing standing is never an answer: the notes' own
    words, as the offline composer picks them, stand instead."""
    fix = repair_answer(checks, passages, embedder, floor)
    standing = len(checks) - fix.dropped
    fall_back = not fix.text or standing < trust * len(checks)
    text = (
        get_generator(settings, "extractive").generate(question, passages)
        if fall_back
        else fix.text
    )
    return text, {"replaced": fix.replaced, "dropped": fix.dropped, "fell_back": int(fall_back)}


def ground(
    question: str,
    text: str,
    checks: Sequence[SentenceCheck],
    passages: Sequence[SearchResult],
    embedder,
    settings: Settings,
) -> str:
    """An LLM's answer with the notes' own answering line after it, when the answer does not
    quote that line already: the unit the offline composer puts first (``extractive.compose``,
    scored as it scores them), with its marker. A small model's answer is often true and short
    ("High bias [1].") and leaves out the line that answers; this way the reader always sees
    it."""
    scored = answer_units(embedder, question, passages, settings)
    found = sorted(candidates(scored, passages, question), key=lambda c: -c.score)
    quoted = {_key(c.quote) for c in checks if c.supported and c.quote}
    added = [
        (in_outline(c.scored), f"[{c.scored.passage + 1}]", c.scored.unit.kind != "sentence")
        for c in found[:GROUND_UNITS]
        if _key(c.scored.unit.text) not in quoted
    ]
    return f"{text}\n\n{join_parts(added)}" if added else text


def repair_summary(repair: dict[str, int]) -> str:
    """One line on what the check did to an LLM's draft (``Answer.repair``)."""
    if repair.get("fell_back"):
        return "Checked against your notes: too little of the model's answer held up; quoted."
    done = []
    if repair.get("replaced") or repair.get("dropped") or not repair.get("grounded"):
        done.append(
            f"{repair.get('replaced', 0)} sentence(s) replaced by the notes' own words, "
            f"{repair.get('dropped', 0)} dropped"
        )
    if repair.get("grounded"):
        done.append("the line of your notes that answers added")
    return f"Checked against your notes: {'; '.join(done)}."


def _closest(
    text: str,
    vector: np.ndarray,
    unit_vectors: np.ndarray,
    flat: Sequence[tuple[int, Unit]],
    allowed: set[int] | None = None,
) -> tuple[float, int]:
    """(score, index into ``flat``) of the (passage, unit) that supports ``text`` best, on the
    check's scale (1.0 passes: cosine SUPPORT_COSINE or word overlap SUPPORT_OVERLAP), among
    the passages ``allowed`` (all when None); (0.0, -1) when none is."""
    q_terms = terms(text)
    best, best_j = 0.0, -1
    for j, (p, unit) in enumerate(flat):
        if allowed is not None and p not in allowed:
            continue
        cosine = float(unit_vectors[j] @ vector)
        score = max(cosine / SUPPORT_COSINE, overlap(q_terms, unit.text) / SUPPORT_OVERLAP)
        if score > best:
            best, best_j = score, j
    return best, best_j


def _span(text: str, units: list[Unit]) -> str:
    """The cited units as one verbatim quote: from the first to the last of them."""
    return text[min(u.start for u in units) : max(u.end for u in units)]


def refusal_threshold(settings: Settings) -> float:
    if settings.answers.refusal_threshold is not None:
        return settings.answers.refusal_threshold
    return DEFAULT_REFUSAL_THRESHOLD


def english_words(settings: Settings) -> frozenset[str]:
    """The stems of the English words the embedding model's vocabulary holds whole (empty for
    a model without a word-piece vocabulary): words a user types in lower case as words."""
    from sharpnotes.app.spelling import known_words
    from sharpnotes.ingest.embedding import resolve_model

    return known_words(resolve_model(settings.models.embed_model)[1])


def refusal_reason(
    question: str,
    results: Sequence[SearchResult],
    evidence: Evidence | Callable[[], Evidence],
    settings: Settings,
) -> str | None:
    """Why the gate refuses ``question`` before any generator runs, or None to answer.

    - no passage found;
    - a specific term of the question (``coverage.specific_terms``) that no passage names, in
      its heading path or its text (a section headed "RMSProp" is about RMSProp);
    - a Chinese question whose topic no passage shares (``coverage.zh_anchored``, on the text),
      or, written in Chinese alone, far from every passage in the multilingual space
      (``ZH_FAR``: a glossary word found them, "推薦" in a question on noodle shops);
    - an English question whose evidence score is below the calibrated threshold, unless each
      of its specific terms heads one of the passages' sections (``coverage.all_named``: a
      section on SECOND answers a question on SECOND, however MiniLM reads the two), or is
      marked in a passage's text (``coverage.all_marked``: bold, or a table row's name), or it
      asks only what a name is and a passage defines that name where it writes it
      (``coverage.defines_asked_name``: "KV cache: ..."). A question
      holding Chinese is not held to it: MiniLM reads Chinese as little more than noise, so its
      score says nothing there, and the two term checks above decide (measured in
      eval/benchmarks/README.md, "Refusal"); nor is an English question on a term the
      passages name only in Chinese (``coverage.named_in_chinese``) or answered by a passage
      written in Chinese (``coverage.answered_in_chinese``), unless it is far from them in both
      models (below GAP_FLOOR in MiniLM's score and ZH_FAR in the multilingual one).

    ``evidence`` may be a function that computes it: it is then called only for an English
    question the term checks let through (the evidence is the costly part)."""
    if not results:
        return "no passage found"
    # every passage the generator may quote; what a to-do only means to write, or a question
    # left without an answer ("Q: What is ECE?" over "A: TODO") only asks, is not named
    named = [
        f"{r.heading}\n{without_todos(without_open_questions(r.text), r.heading)}" for r in results
    ]
    headings = [r.heading for r in results]
    question = recased(question, named, english_words(settings))  # "kto" where notes write KTO
    missing = uncovered(question, named)
    # a glossary phrase written all but its last word, in a question whose names the notes
    # head or mark: the evidence score below decides
    let_through = forgiven(question, missing, named, headings)
    missing = [t for t in missing if t not in let_through]
    if missing:
        return f"no passage names {', '.join(missing)}"
    texts = [r.text for r in results]
    if not zh_anchored(question, texts):
        return NO_SHARED_TOPIC
    listed = only_named(question, texts)
    if listed:
        return f"the notes only name {', '.join(listed)}"
    # the glossary terms of a Chinese question that the passages write, read once for both checks
    read = [f"{r.heading}\n{r.text}" for r in results]
    held = held_terms(question, read) if has_cjk(question) else []
    if _far_in_chinese(question, results, held_share(question, held)):
        return FAR_IN_CHINESE
    if thinly_anchored(question, read, ZH_GLOSSARY, held):
        return NO_SHARED_TOPIC
    if has_cjk(question):
        return None  # MiniLM's score says nothing of Chinese: the term checks above decide

    def score() -> float:
        return (evidence() if callable(evidence) else evidence).score

    if named_in_chinese(question, named) or answered_in_chinese(question, texts, headings):
        # ... nor of passages written in Chinese, but a question far from them in both models is
        # on another subject ("How long should I boil an egg?" over a card on Soft-NMS)
        if score() < GAP_FLOOR and chinese_closeness(question, results) < ZH_FAR:
            return FAR_IN_BOTH
        return None
    if all_named(question, headings) or all_marked(question, headings, texts):
        return None  # the notes head sections with, or mark, what the question names
    if defines_asked_name(question, named):
        return None  # it asks what a name is, and a passage writes that name
    got, enough = score(), refusal_threshold(settings)
    if got < enough:
        return f"evidence {got:.3f} below {enough:.3f}"
    return None


def chinese_closeness(question: str, results: Sequence[SearchResult]) -> float:
    """The best multilingual (USE v3) cosine between ``question`` and a passage, read from its
    heading path and text; 1.0 where that model is not installed or nothing was found."""
    from sharpnotes.ingest import multilingual

    if not results or not multilingual.available():
        return 1.0
    vectors = multilingual.embed([question, *(f"{r.heading}\n\n{r.text}" for r in results)])
    return float((vectors[1:] @ vectors[0]).max())


def _far_in_chinese(question: str, results: Sequence[SearchResult], share: float) -> bool:
    """A question written in Chinese with no Latin-script term, whose passages are all below
    ``ZH_FAR`` in the multilingual space (``chinese_closeness``), unless glossary terms that the
    passages write (in either language) hold ZH_GLOSSARY of what it asks (``share``, as
    ``coverage.glossary_share`` gives it): "類別不平衡有哪些處理方法？" over a long English note
    on class imbalance scores 0.16 in USE, and "推薦台北好吃的牛肉麵店" is a question on noodle
    shops whatever 推薦 reads as."""
    if not has_cjk(question) or latin_terms(question):
        return False
    if share >= ZH_GLOSSARY:
        return False
    return chinese_closeness(question, results) < ZH_FAR


def near_the_notes(question: str, why: str | None, score: Callable[[], float]) -> bool:
    """Whether a refused question is a gap worth writing a note for rather than off-topic (a
    recipe, a tax form): see GAP_FLOOR. ``score``: the evidence score, computed only for a
    question in English (MiniLM's score says nothing of Chinese)."""
    if why in (NO_SHARED_TOPIC, FAR_IN_CHINESE, FAR_IN_BOTH):
        return False
    return has_cjk(question) or score() >= GAP_FLOOR


def warm_up(searcher: Searcher, settings: Settings) -> None:
    """The offline parts of an answer once (its modules, the model's first batches of sentences),
    so that a first question does not pay for them. No generator runs and nothing is recorded."""
    from sharpnotes.app import gaps  # noqa: F401 - imported by answer_question on a refusal

    question = "What is this note about?"
    evidence_for(question, searcher.search(question, k=settings.answers.answer_k), searcher)


def answer_question(
    question: str,
    searcher: Searcher,
    settings: Settings,
    *,
    generator: str | None = None,
    filters: Filters | None = None,
    k: int | None = None,
    history: list[str] | None = None,
    on_token: Callable[[str], None] | None = None,
    record: bool = True,
) -> Answer:
    """Retrieve, gate, generate, check. Raises ``GeneratorError`` when the backend cannot run.
    A refused question is recorded as a gap to write unless ``record`` is False (evaluation)."""
    from sharpnotes.app.gaps import record_gap

    k = k or settings.answers.answer_k
    gen = get_generator(settings, generator)
    start = time.perf_counter()
    asked, question = question, searcher.spelled(question)  # typos read as the notes spell them
    query = gen.condense(question, history) if history else question
    # spelled once: only a query folded with the history holds words not read yet
    results = searcher.search(query, k=k, filters=filters, spell=query != question)
    if query != question and not _anchored(question, results):
        # a short new question ("capital of France?") is not a follow-up when what the folded
        # query finds shares none of its own words: judge it on its own
        query = question
        results = searcher.search(query, k=k, filters=filters, spell=False)
    gate: list[Evidence] = []

    def evidence() -> Evidence:  # computed once, and only when something needs the score
        if not gate:
            enough = refusal_threshold(settings)
            gate.append(evidence_for(query, results, searcher, filters, enough=enough))
        return gate[0]

    why = refusal_reason(question, results, evidence, settings)
    retrieval_ms = (time.perf_counter() - start) * 1000
    score = gate[0].score if gate else 0.0

    # a question asked in Chinese is told so in Chinese too
    said = f"{REFUSAL} {REFUSAL_ZH}" if has_cjk(asked) else REFUSAL

    streamed = False  # whether the generator passed its tokens to ``on_token`` itself

    def refuse(generation_ms: float = 0.0, sentences: list[SentenceCheck] | None = None) -> Answer:
        if on_token and not streamed:
            on_token(said)
        if record and near_the_notes(question, why, lambda: evidence().score):
            record_gap(settings, asked)
        return Answer(
            asked, said, True, [], 0, gen.name, retrieval_ms, generation_ms,
            closest=results[:CLOSEST], sentences=sentences or [], evidence=score,
            spelled=question if question != asked else "",
        )  # fmt: skip

    if why:
        log.debug("refused: %s", why)
        return refuse()
    start = time.perf_counter()
    # the extractive answer comes whole: it is shown once its citations are numbered
    streamed = on_token is not None and gen.name != "extractive"
    text = gen.generate(question, results, on_token if streamed else None).strip()
    generation_ms = (time.perf_counter() - start) * 1000
    if not text or text == REFUSAL or (REFUSAL in text and not _NUMBER.search(text)):
        return refuse(generation_ms)
    checks, citations = check_answer(text, results, searcher.embedder())
    draft, mended = "", dict[str, int]()
    failed = not all(c.supported for c in checks)
    if failed and gen.name != "extractive" and settings.answers.repair:
        draft = text
        text, mended = mend(question, checks, results, settings, searcher.embedder())
        if text == REFUSAL:
            return refuse(generation_ms)
        checks, citations = check_answer(text, results, searcher.embedder())
    on = settings.answers.repair and settings.answers.ground  # repair off: the text as written
    if gen.name != "extractive" and on and not mended.get("fell_back"):
        grounded = ground(question, text, checks, results, searcher.embedder(), settings)
        if grounded != text:
            draft, text = draft or text, grounded
            mended["grounded"] = 1
            checks, citations = check_answer(text, results, searcher.embedder())
    if not streamed:  # a streamed answer keeps the numbers the reader has already seen
        text, citations, checks = renumber(text, citations, checks)
        if on_token:
            on_token(text)
    return Answer(
        question=asked,
        answer=text,
        refused=False,
        citations=citations,
        unsupported=sum(not c.supported for c in checks),
        generator=gen.name,
        retrieval_ms=retrieval_ms,
        generation_ms=generation_ms,
        closest=[] if citations else results[:CLOSEST],
        sentences=checks,
        evidence=score,
        draft=draft,
        repair=mended,
        spelled=question if question != asked else "",
    )
