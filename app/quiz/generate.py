"""Quiz generation: choose passages, make items from each, verify, deduplicate.

With a topic, the passages are the ones retrieval finds for it, and when the topic is a name
("focal loss", "RNN, LSTM and GRU") those that write it and the cards that name it (``naming``,
``on_topic``); without one, they come from the index in a seeded random order, leaving out the
chunks already quizzed (``exclude_chunks``) and putting ``prefer_chunks`` first (the weakest
topic's chunks, say). A quiz takes one item a passage, so it spreads over its passages; offline it
looks at ``OVERSAMPLE`` times as many passages as items and takes the best (``choose``); "mixed"
rotates mcq, cloze, recall.

The offline writer is ``app.quiz.offline``; with ``SHARPNOTES_GENERATOR`` set to an LLM backend
``app.quiz.llm_quiz`` writes the items, and a passage the LLM gives no valid item for falls back
to the offline writer. Every item passes ``app.quiz.verify`` and the quality gate
(``app.quiz.gate``) whoever wrote it. The cards the learner wrote (``app.quiz.handwritten``)
come before items of a table or named list (``app.quiz.concepts``), and those before any other
generated item. Blanks and prompts the offline writer cuts from single sentences are the weakest
kind (blind ratings of the tuning half: 2.2 of 5, against 3.3-3.8 for tables and lists and 3.6-4.4
for the learner's cards), so a mixed quiz holds at most ``study.sentence_share`` of them (none
by default) and is shorter when the notes offer nothing better; once nothing better is left
to ask, a quiz is made of them rather than none.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from sharpnotes.app.coverage import holds, word_forms
from sharpnotes.app.quiz import gate, verify
from sharpnotes.app.quiz.concepts import GENERATOR as STRUCTURE
from sharpnotes.app.quiz.concepts import concept_items
from sharpnotes.app.quiz.handwritten import (
    GENERATOR,
    card_items,
    continued_sections,
    following_texts,
)
from sharpnotes.app.quiz.items import ITEM_TYPES, QuizItem
from sharpnotes.app.quiz.offline import items_from_passage
from sharpnotes.app.quiz.terms import DistractorPool, Lexicon
from sharpnotes.app.retrieval import EmptyIndexError, Filters, Searcher, SearchResult
from sharpnotes.ingest.catalog import Catalog, ChunkRow
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import has_cjk, terms

if TYPE_CHECKING:
    from sharpnotes.app.quiz.store import ReviewStore

__all__ = [
    "QuizBatch", "choose", "corpus_pool", "gate_items", "gather", "generate_quiz",
    "items_from_passage", "passage_candidates",
]  # fmt: skip

log = logging.getLogger(__name__)

T = TypeVar("T")
KINDS = ("mcq", "cloze", "recall", "mixed")
OVERSAMPLE = 5  # offline quizzes choose among the items of this many passages per item
# the types of the learner's cards a quiz of each kind asks (cards are recall or cloze)
_CARD_TYPES = {"mixed": ("recall", "cloze"), "recall": ("recall",), "cloze": ("cloze",), "mcq": ()}
SENTENCE = "offline"  # provenance of an item the offline writer cut from a sentence
SENTENCE_CAPPED = "left out: cut from a single sentence, over the quiz's share"
SCAN = 40  # passages per item a quiz may read for cards and list items when the share binds
# a quiz takes at most this share of its items from one note while other notes offer some (a
# 300-passage Q&A file would otherwise give every item of every quiz, its cards ranking first)
NOTE_SHARE = 0.5


@dataclass
class QuizBatch:
    items: list[QuizItem]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> count
    flagged: dict[str, str] = field(default_factory=dict)  # item id -> gate reason (ungated)
    # a quiz on a named topic: (the topic, how many retrieved passages write its name)
    named: tuple[str, int] | None = None

    def to_dict(self) -> dict:
        return {"items": [i.to_dict() for i in self.items], "dropped": dict(self.dropped)}

    def failed(self) -> dict[str, int]:
        """The candidates dropped by a check (not those left out by the sentence share)."""
        return {k: v for k, v in self.dropped.items() if k != SENTENCE_CAPPED}

    def shortfall(self, n: int) -> str | None:
        """Why a quiz holds fewer than ``n`` items: a named topic few passages write, or a
        mixed quiz's sentence share."""
        if len(self.items) >= n:
            return None
        if self.named:
            topic, passages = self.named
            if not passages:
                return (
                    f"no passage of your notes writes {topic!r}, so there is nothing to quiz "
                    "you on: write a note on it, or pick a topic your notes name "
                    "(sharpnotes topics)"
                )
            some = (
                "the passage that writes"
                if passages == 1
                else f"the {passages} passages that write"
            )
            if not self.items:  # they were found, and gave nothing that passes the checks
                return (
                    f"no question could be made from {some} {topic!r} (none of what they say "
                    "passes the quiz's checks), and a quiz on a topic asks only from those; "
                    "ask about it instead (sharpnotes ask) or write a card on it"
                )
            return (
                f"{len(self.items)} of {n} questions: a quiz on {topic!r} asks from {some} "
                "it, not from the ones retrieval ranks near them"
            )
        if not self.dropped.get(SENTENCE_CAPPED):
            return None
        return (
            f"{len(self.items)} of {n} questions: the rest would be blanks cut from single "
            "sentences, which a mixed quiz leaves out while your cards and questions from tables "
            "and lists last (SHARPNOTES_SENTENCE_SHARE=0.2 lets one in five in)"
        )


class Corpus(NamedTuple):
    pool: DistractorPool
    rows: dict[str, ChunkRow]
    continued: set[str]  # the chunks that continue their section (``continued_sections``)
    following: dict[str, str]  # chunk id -> the next chunk's text, when it continues the section


_POOLS: dict[tuple[str, int], Corpus] = {}
_POOLS_LOCK = threading.Lock()


def corpus_pool(catalog: Catalog) -> Corpus:
    """The index's terms, chunk rows and the chunks that continue a section, built once per
    catalog state (chunk ids change with every content change, so they key the cache)."""
    ids = catalog.chunk_ids()
    key = (str(catalog.path), hash(tuple(ids)))
    with _POOLS_LOCK:
        if key in _POOLS:
            return _POOLS[key]
    rows = catalog.get_chunks(ids)
    ordered = {cid: rows[cid] for cid in ids if cid in rows}
    pool = DistractorPool(Lexicon.from_rows(ordered.values()))
    corpus = Corpus(
        pool, ordered, continued_sections(ordered.values()), following_texts(ordered.values())
    )
    with _POOLS_LOCK:
        _POOLS.clear()  # one index per process in practice; keep memory flat
        _POOLS[key] = corpus
    return corpus


def _embedding(settings: Settings):
    """texts -> unit vectors with the index's query embedder, loaded on first use."""
    from sharpnotes.app.embed_cache import embed_cached

    def embed(texts):
        from sharpnotes.ingest.embedding import load_embedder

        return embed_cached(load_embedder(settings, "query"), texts)

    return embed


def _as_result(row: ChunkRow, rank: int = 0) -> SearchResult:
    return SearchResult(rank, 0.0, row.chunk_id, row.source, row.heading, row.page, row.text)


def _passages(
    settings: Settings,
    rows: dict[str, ChunkRow],
    topic: str | None,
    filters: Filters,
    n: int,
    exclude: Collection[str],
    prefer: Sequence[str] | None,
    searcher: Searcher | None,
    rng: random.Random,
) -> list[SearchResult]:
    excluded = set(exclude)
    if topic:
        searcher = searcher or Searcher(settings)
        found = searcher.search(topic, k=max(4 * n, 12), filters=filters)
        return [r for r in found if r.chunk_id not in excluded and r.chunk_id in rows]
    allowed = across_notes(
        [
            row
            for cid, row in rows.items()
            if cid not in excluded and filters.matches(row.source, row.meta.get("tags", []))
        ],
        rng,
    )
    if prefer:
        rank = {cid: i for i, cid in enumerate(prefer)}
        allowed.sort(key=lambda row: rank.get(row.chunk_id, len(rank)))
    return [_as_result(row, i + 1) for i, row in enumerate(allowed)]


# a name of at most this many content terms ("focal loss", "gradient clipping") is one a quiz on
# it asks about: it asks from the passages that write every word of one of the topic's names
NAME_TERMS = 4
NAME_CHARACTERS = 8  # ... or of this many Chinese characters
# the names of a topic: "RNN, LSTM and GRU", "Non-maximum suppression (NMS)", "X versus Y"
_NAME_SEPARATORS = re.compile(r",|;|\(|\)|\s(?:and|or|vs\.?|versus)\s|、|和|與|及", re.IGNORECASE)


# a word of a name is written in another form when a word of the text has its stem and is at
# most this many letters longer or shorter ("losses" for "loss"; not "transformations" for
# "transformers")
FORM_LETTERS = 2


def topic_names(topic: str) -> list[set[str]]:
    """The content terms of each name a topic is made of, then of each name's other names in
    the glossary ("卡爾曼濾波" is also "Kalman filter", "focal loss" also "焦點損失"); [] when
    one of them is too long to be a name (a topic written as a sentence or a description)."""
    parts = [part for part in _NAME_SEPARATORS.split(topic) if terms(part)]
    # an acronym written with a lower-case letter is matched with its case: "mAP" is not the
    # "map" of "feature map" (``writes_name``)
    names = [{part.strip()} if _CASED.fullmatch(part.strip()) else terms(part) for part in parts]
    # a Chinese name is read character by character: "自駕車感測器" is one name of six
    limits = [NAME_CHARACTERS if any(has_cjk(w) for w in name) else NAME_TERMS for name in names]
    if any(len(name) > limit for name, limit in zip(names, limits, strict=True)):
        return []
    others = [terms(other) for part in parts for other in other_names(part)]
    return names + [name for name in others if name and name not in names]


def other_names(name: str) -> list[str]:
    """What the glossary calls ``name`` in the other language, and its acronym or expansion."""
    from sharpnotes.app.coverage import phrases

    key = " ".join(name.lower().split())
    out: list[str] = []
    for phrase, names in phrases().items():
        if key == phrase or key in names:
            out += [phrase, *sorted(names)]
    return [other for other in dict.fromkeys(out) if other != key]


def writes_name(names: list[set[str]], text: str) -> bool:
    """``text`` writes every word of one of the names (``topic_names``), as written or in a
    form of about its length (``FORM_LETTERS``); an acronym with a lower-case letter ("mAP",
    "IoU") as written, case and all."""
    have = terms(text)
    forms = word_forms(have)
    for name in names:
        cased = [w for w in name if _CASED.fullmatch(w)]
        if cased:
            # "mAP-50" writes it; "mAPs" or "xmAP" do not
            if all(re.search(rf"(?<![\w-]){re.escape(w)}(?!\w)", text) for w in cased):
                return True
        elif holds(name, have, forms, letters=FORM_LETTERS):
            return True
    return False


# a short acronym that mixes cases, a capital after its first letter: "mAP", "IoU", "mIoU"; not
# a plural ("CNNs", "GPUs")
_CASED = re.compile(r"(?=[A-Za-z]{2,5}$)(?![A-Z]+s$)(?=.*[a-z])[A-Za-z][a-z]*[A-Z][A-Za-z]*")


def naming(names: list[set[str]], found: list[SearchResult]) -> list[SearchResult]:
    """The retrieved passages that write one of a topic's names (``topic_names``) in their
    heading or text. A quiz on a named topic asks from those only, even when they give fewer
    questions than asked (``QuizBatch.shortfall`` says so; when they give none, from the others):
    retrieval ranks 24 passages for a quiz of 6, and the learner's cards of a long Q&A note
    ranked 9th-24th ("What is dropout?" for "focal loss") filled a quiz whose topic four
    passages name."""
    return [r for r in found if writes_name(names, f"{r.heading}\n{r.text}")] if names else []


def on_topic(names: list[set[str]], item: QuizItem) -> bool:
    """A card of the learner's in a quiz on a named topic asks about it: its heading, question
    or answer writes the name (a Q&A list that names traffic lights once holds cards on focal
    loss and NMS too). An item cut from the passage's prose is about what its passage is."""
    if item.generator != GENERATOR:
        return True
    return writes_name(names, "\n".join([item.citation.heading, item.question, item.answer]))


def across_notes(rows: list[ChunkRow], rng: random.Random) -> list[ChunkRow]:
    """``rows`` in a random order that takes one passage of each note in turn (the notes in a
    random order, each note's passages shuffled), so that a quiz draws from across the notes
    and not mostly from the longest one (a 300-passage Q&A file beside ten short notes)."""
    ordered = sorted(rows, key=lambda r: (r.source, r.chunk_id))  # seeded: one order
    return round_robin(ordered, lambda r: r.source, rng)


def round_robin(items: list[T], note_of: Callable[[T], str], rng: random.Random) -> list[T]:
    """``items`` grouped by ``note_of`` (in the order they come), the groups and each group's
    items shuffled, then one of each group in turn."""
    notes: dict[str, list[T]] = {}
    for item in items:
        notes.setdefault(note_of(item), []).append(item)
    queues = list(notes.values())
    rng.shuffle(queues)
    for queue in queues:
        rng.shuffle(queue)
    out: list[T] = []
    for turn in range(max(map(len, queues), default=0)):
        out += [queue[turn] for queue in queues if turn < len(queue)]
    return out


def generate_quiz(
    settings: Settings,
    *,
    topic: str | None = None,
    filters: Filters = Filters(),  # noqa: B008 - frozen dataclass, safe as a default
    n: int = 5,
    kind: str = "mixed",
    exclude_chunks: Collection[str] = (),
    prefer_chunks: Sequence[str] | None = None,
    searcher: Searcher | None = None,
    seed: int | None = None,
    gated: bool = True,
    known: Collection[str] | None = None,
) -> QuizBatch:
    """Up to ``n`` verified, deduplicated items of ``kind`` ("mcq", "cloze", "recall", "mixed").
    With ``known`` (the ids of the items the learner has), a passage of ``exclude_chunks`` still
    offers the learner's own cards that are not among them: a note's list of Q&A pairs sits in
    one chunk, and every pair is a card, not only the first one asked.
    With ``gated=False`` the items the quality gate would drop are kept and listed in
    ``flagged`` with the reason (for evaluating the gate).
    Raises ``EmptyIndexError`` when nothing is indexed, ``GeneratorError`` when a configured LLM
    cannot be reached, ``ValueError`` for an unknown kind."""
    from sharpnotes.ingest.index import open_catalog

    if kind not in KINDS:
        raise ValueError(f"unknown quiz type {kind!r}; choose one of {', '.join(KINDS)}")
    catalog = searcher.catalog if searcher else open_catalog(settings)
    try:
        pool, rows, continued, following = corpus_pool(catalog)
    finally:
        if searcher is None:
            catalog.close()
    if not rows:
        raise EmptyIndexError(
            f"nothing indexed at {settings.index_dir} yet; run: sharpnotes ingest PATH-TO-NOTES"
        )
    pool.embed = _embedding(settings)
    rng = random.Random(seed)
    excluded = [rows[c] for c in exclude_chunks if c in rows]
    reopened = {} if known is None else open_cards(excluded, kind, set(known), continued, following)
    exclude = set(exclude_chunks) - set(reopened)
    passages = _passages(settings, rows, topic, filters, n, exclude, prefer_chunks, searcher, rng)
    from sharpnotes.app.generators import get_generator

    use_llm = get_generator(settings).is_llm
    llm = settings if use_llm else None  # what passage_candidates writes with, when it may
    dropped: dict[str, int] = {}
    flagged: dict[str, str] = {}
    emphasised = pool.lexicon.emphasised()
    # offline items are cheap: look at more passages than needed and keep the best of them
    enough = n if use_llm else OVERSAMPLE * n
    cap = sentence_cap(n, settings.study.sentence_share) if kind == "mixed" else None

    names = topic_names(topic) if topic else []
    named = naming(names, passages)
    narrowed = bool(named)  # a named topic some passages write: its cards must name it too
    if names and not named:  # a name no passage writes: the notes do not cover it
        return QuizBatch([], dropped, named=(str(topic), 0))

    def candidates(passage: SearchResult, written: bool) -> list[QuizItem]:
        if passage.chunk_id in reopened:  # quizzed before: only its cards not yet asked
            made = reopened[passage.chunk_id]
        else:
            content_hash = rows[passage.chunk_id].content_hash
            made = passage_candidates(
                passage,
                content_hash,
                kind,
                pool,
                rng,
                dropped,
                llm,
                written,
                passage.chunk_id in continued,
                following.get(passage.chunk_id, ""),
            )
        kept = gate_items(made, dropped, flagged if not gated else None, emphasised)
        return [i for i in kept if on_topic(names, i)] if narrowed else kept

    wanted = set(prefer_chunks or ())

    def ask(passages: list[SearchResult]) -> list[QuizItem]:
        pools = gather(passages, n, enough, cap, candidates)
        preferred = sum(p.chunk_id in wanted for p in passages)
        return choose(pools, n, dropped, preferred=preferred, cap=cap)

    kept = ask(named if narrowed else passages)
    if narrowed and not kept:  # what names the topic gives no question: the rest of its notes
        asked, notes = {p.chunk_id for p in named}, {p.source for p in named}
        kept = ask([p for p in passages if p.chunk_id not in asked and p.source in notes])
    ids = {i.id for i in kept}
    batch = QuizBatch(kept, dropped, {k: v for k, v in flagged.items() if k in ids})
    if narrowed:
        batch.named = (str(topic), len(named))
    return batch


def gather(
    passages: Iterable[SearchResult],
    n: int,
    enough: int,
    cap: int | None,
    candidates: Callable[[SearchResult, bool], list[QuizItem]],
) -> list[list[QuizItem]]:
    """Each passage's candidates (``candidates(passage, written)``), in order, until ``enough``
    passages gave some. Then, when the quiz's sentence share (``cap``) binds, it reads on for
    the learner's cards and the items of tables and lists only (``written`` False: cheap, no
    writer runs), until they can fill the rest of a quiz of ``n`` or ``SCAN`` passages an item
    are read."""
    pools: list[list[QuizItem]] = []
    for at, passage in enumerate(passages):
        written = sum(1 for p in pools if p) < enough
        if not written and (cap is None or _good(pools) >= n - cap or at >= SCAN * n):
            break
        pools.append(candidates(passage, written))
    return pools


def open_cards(
    rows: Sequence[ChunkRow],
    kind: str,
    known: Collection[str],
    continued: Collection[str],
    following: Mapping[str, str],
) -> dict[str, list[QuizItem]]:
    """Chunk id -> the learner's cards of that passage whose ids are not in ``known``, for
    the passages that have any (``continued``: ``continued_sections``; ``following``:
    ``following_texts``)."""
    out: dict[str, list[QuizItem]] = {}
    for row in rows:
        cards, _ = card_items(
            _as_result(row),
            row.content_hash,
            row.chunk_id in continued,
            following.get(row.chunk_id, ""),
        )
        if left := [c for c in cards if c.type in _CARD_TYPES[kind] and c.id not in known]:
            out[row.chunk_id] = left
    return out


OWN_CARDS_STATE = "own_cards.json"  # in SHARPNOTES_HOME: the index build last read for cards


def add_own_cards(settings: Settings, store: ReviewStore) -> int:
    """Put the cards the learner wrote in their notes (Q/A pairs, clozes) that the review store
    does not hold yet into it as new items, and say how many: they are review material as
    written, with no quiz to run first (right after the first ingest, and each card written
    since). A card the learner retired or reworded keeps its id, so it is not added again.
    Nothing indexed adds nothing."""
    import json

    from sharpnotes.ingest.atomic import write_json_atomic
    from sharpnotes.ingest.bm25 import read_pointer
    from sharpnotes.ingest.index import open_catalog

    if not (settings.index_dir / "catalog.sqlite").exists():
        return 0
    # reading every passage for cards takes about 0.4 s per 1,000 passages: done again only
    # when the index or the store changed since the last time (a new build, a store reset);
    # the page calls this on every rerun, so the check counts items rather than reading them
    seen = settings.paths.home / OWN_CARDS_STATE
    total = store.counts()["total"]
    state = {"build": read_pointer(settings.index_dir), "items": total}
    try:
        if json.loads(seen.read_text(encoding="utf-8")) == state:
            return 0
    except (OSError, ValueError):
        pass
    held = store.items()
    catalog = open_catalog(settings)
    try:
        _, rows, continued, following = corpus_pool(catalog)
    finally:
        catalog.close()
    known = {s.id for s in held}
    # a card whose passage changed is another item (its staleness is review's to handle, and
    # the learner may have reworded it): the same question is not added beside it
    asked = {s.item.question for s in held} | {(s.original or {}).get("question") for s in held}
    found = open_cards(list(rows.values()), "mixed", known, continued, following)
    # a card copied into two notes (a cloned repo's templates repeat whole sections) is one card
    fresh: dict[tuple[str, str], QuizItem] = {}
    for item in {i.id: i for items in found.values() for i in items}.values():
        if item.question not in asked:
            fresh.setdefault((item.question, " ".join(item.answer.split())), item)
    added = len(store.add_items(list(fresh.values()))) if fresh else 0
    write_json_atomic(seen, state | {"items": total + added})
    return added


def own_cards_line(added: int) -> str:
    """What ``add_own_cards`` did, as the review says it."""
    return f"Added {added} card{'' if added == 1 else 's'} you wrote in your notes to review."


def sentence_cap(n: int, share: float) -> int:
    """How many of a mixed quiz of ``n`` items may be cut from single sentences: ``share`` of
    it, rounded down, and at least one unless the share is 0 (a one-item quiz still gets one)."""
    return 0 if share <= 0 else max(1, int(n * share + 1e-9))


def choose(
    pools: list[list[QuizItem]],
    n: int,
    dropped: dict[str, int],
    preferred: int = 0,
    cap: int | None = None,
) -> list[QuizItem]:
    """Up to ``n`` items, one a passage while the passages last (``pools``: each passage's
    candidates, in passage order). Each pick is the best candidate left: the learner's own
    card, then an item of a table or named list, then any other; among equals the type made
    least so far (mixed quizzes rotate types), then the earlier passage. A small corpus or a
    narrow topic then gives second items from the passages already used. The first
    ``preferred`` passages (``prefer_chunks``) go before all others. Duplicates of an item
    chosen are counted and passed over. With ``cap``, at most that many items cut from single
    sentences (``SENTENCE``) are taken; the rest are counted as dropped. A cap of 0 gives way
    when no passage offers anything else: a quiz of such items rather than none."""
    if cap == 0 and not _good(pools):  # nothing better here: blanks rather than no quiz at all
        cap = None
    dedupe = verify.Deduper()
    chosen: list[QuizItem] = []
    pools = [list(p) for p in pools]
    used: set[int] = set()

    share = max(1, math.floor(n * NOTE_SHARE))  # of 5: 2, not 3

    def key(item: QuizItem, at: int, made: list[int], full: set[str]) -> tuple:
        j = ITEM_TYPES.index(item.type)
        # a note that gave NOTE_SHARE of the quiz (``full``) gives more only when no other can
        is_full = item.citation.source in full
        return (at >= preferred, is_full, _tier(item), made[j], (j - len(chosen)) % 3, at)

    def take(item: QuizItem, pool: list[QuizItem]) -> bool:
        pool.remove(item)
        if dedupe.seen(item):
            verify.count(dropped, verify.DUPLICATE)
            return False
        chosen.append(item)
        return True

    def allowed(item: QuizItem) -> bool:
        return cap is None or item.generator != SENTENCE or sum(_cut(i) for i in chosen) < cap

    while len(chosen) < n:
        made = [sum(i.type == t for i in chosen) for t in ITEM_TYPES]
        per_note = Counter(i.citation.source for i in chosen)
        full = {source for source, count in per_note.items() if count >= share}
        options = [
            (key(i, at, made, full), at, i)
            for at, p in enumerate(pools)
            if at not in used
            for i in p
            if allowed(i)
        ]
        if not options:
            break
        _, at, item = min(options, key=lambda o: o[0])
        if take(item, pools[at]):
            used.add(at)
    for at in sorted(used):
        while len(chosen) < n and (left := [i for i in pools[at] if allowed(i)]):
            if take(left[0], pools[at]):
                break
    if cap is not None:
        # passages left unused that offered such items: the quiz is shorter by these
        over = sum(at not in used and any(map(_cut, p)) for at, p in enumerate(pools))
        if over and len(chosen) < n:
            verify.count(dropped, SENTENCE_CAPPED, min(over, n - len(chosen)))
    return chosen[:n]


def _cut(item: QuizItem) -> bool:
    return item.generator == SENTENCE


def _good(pools: list[list[QuizItem]]) -> int:
    """Passages that offer an item not cut from a single sentence."""
    return sum(any(not _cut(i) for i in p) for p in pools)


def _tier(item: QuizItem) -> int:
    return {GENERATOR: 0, STRUCTURE: 1}.get(item.generator, 2)


def passage_candidates(
    passage: SearchResult,
    content_hash: str,
    kind: str,
    pool: DistractorPool,
    rng: random.Random,
    dropped: dict[str, int],
    llm: Settings | None = None,
    written: bool = True,
    continues: bool = False,
    following: str = "",
) -> list[QuizItem]:
    """The verified items of one passage, in the order ``choose`` ranks them: the learner's own
    cards, the items of its tables and named lists, then (unless ``written`` is False) the
    generated ones, written by the LLM when ``llm`` (the settings of a configured LLM) is given
    and by the offline writer when it gives none. Every item dropped on the way is counted in
    ``dropped`` by reason. ``continues``: the passage continues its section; ``following``:
    the text of the next chunk when that one continues it (both as ``card_items`` takes them)."""

    def add(why: dict[str, int], prefix: str = "") -> None:
        for reason, count in why.items():
            verify.count(dropped, prefix + reason, count)

    cards, why = card_items(passage, content_hash, continues, following)
    add(why)
    cards = [c for c in cards if c.type in _CARD_TYPES[kind]]
    laid_out, why = concept_items(passage, content_hash, rng=rng, continues=continues)
    add(why)
    cards += [c for c in laid_out if kind in ("mixed", c.type)]
    found: list[QuizItem] = []
    if not written:
        return cards
    if llm is not None:
        from sharpnotes.app.quiz.llm_quiz import llm_items

        found, why = llm_items(llm, passage, content_hash, kind, pool)
        add(why, "llm: ")
    if not found:
        found, why = items_from_passage(passage, content_hash, kind, pool, rng=rng)
        add(why)
    return cards + found


def gate_items(
    items: list[QuizItem],
    dropped: dict[str, int],
    flagged: dict[str, str] | None,
    defined: Collection[str],
) -> list[QuizItem]:
    """The items the quality gate passes (each drop counted as "gate: reason"); with
    ``flagged`` given, every item, and the gate's reasons recorded there instead."""
    kept: list[QuizItem] = []
    for item in items:
        why = gate.reason(item, defined)
        if why and flagged is None:
            verify.count(dropped, f"gate: {why}")
            continue
        if why and flagged is not None:
            flagged[item.id] = why
        kept.append(item)
    return kept
