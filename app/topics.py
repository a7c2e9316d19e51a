"""Topic links: which passages of the notes cover each syllabus topic.

A passage is scored against a topic from these signals, each cheap over the whole index:
- the note is about the topic: a name of the topic (id, titles, aliases, in English and Chinese)
  in the note's file name, title, aliases or first heading;
- the passage's own section heading names the topic, or the question of a card it holds (a Q&A
  note heads its answers with bold questions);
- the passage's text names it (distinct names, capped);
- the passage's vector is close to the topic's (title, aliases and description, embedded once);
- against: its section heading names another topic and not this one (the NMS section of a note
  on anchors and NMS).
Names are matched as whole words in lower case, acronyms ("mAP", "IoU") with their case, Chinese
names anywhere. The weights and the threshold were chosen on the tuning half of
``eval/topics_eval.jsonl`` (``eval/benchmarks/topic_links.py``). Pins in HOME override the
linker both ways.

Links are cached in ``HOME/topic_links.json`` per index build, syllabus, weights and linker
version, so opening a page that lists topics reads a file instead of embedding sixty topics again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import numpy as np

from sharpnotes.app.syllabus import Pins, Syllabus, Topic
from sharpnotes.ingest.atomic import write_json_atomic
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import CJK_CHARS, HEADING_SEP, has_cjk

if TYPE_CHECKING:
    from sharpnotes.app.retrieval import Searcher
    from sharpnotes.ingest.catalog import ChunkRow

LINKER_VERSION = 2  # bump when the scoring changes: cached links are then made again
CACHE_NAME = "topic_links.json"


@dataclass(frozen=True)
class Weights:
    """How much each signal adds to a passage's score; linked at ``threshold`` or above.
    Chosen on the tuning half of eval/topics_eval.jsonl (eval/benchmarks/topic_links.py)."""

    note: float = 0.5
    heading: float = 0.3
    text: float = 0.2
    tag: float = 0.0
    other: float = 0.3
    dense: float = 1.0
    threshold: float = 0.75


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str
    tags: tuple[str, ...]
    note_names: Text  # file name, title, aliases and first heading of its note


@dataclass
class Link:
    """One passage linked to a topic: what the CLI prints and the Topics page lists."""

    chunk_id: str
    source: str
    heading: str
    page: int | None
    score: float
    pinned: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# --- names -------------------------------------------------------------------------------------


def normalise(text: str, lower: bool = True) -> str:
    """Hyphens, underscores and slashes as spaces, spaces collapsed, lower case unless asked."""
    return " ".join(re.sub(r"[-_/]+", " ", text.lower() if lower else text).split())


def is_acronym(name: str) -> bool:
    """ "mAP", "IoU", "SGD": a capital after the first letter. Matched with its case, so that
    "mAP" is not the "map" of "HD map"."""
    return name.isascii() and any(c.isupper() for c in name[1:])


@dataclass(frozen=True)
class Text:
    """A text as the name patterns read it: normalised, lower-cased and as written."""

    lower: str
    cased: str

    @classmethod
    def of(cls, text: str) -> Text:
        return cls(normalise(text), normalise(text, lower=False))


@dataclass(frozen=True)
class Names:
    """Patterns for a topic's names: most are matched in lower case, acronyms with their case.
    One named group per name, so ``find`` counts distinct names."""

    plain: re.Pattern[str] | None
    cased: re.Pattern[str] | None

    @classmethod
    def of(cls, names: Iterable[str]) -> Names:
        plain = [normalise(n) for n in names if not is_acronym(n)]
        cased = [normalise(n, lower=False) for n in names if is_acronym(n)]
        return cls(name_pattern(plain), name_pattern(cased, offset=len(plain)))

    def find(self, text: Text) -> set[str]:
        return found(self.plain, text.lower) | found(self.cased, text.cased)


def name_pattern(names: Iterable[str], offset: int = 0) -> re.Pattern[str] | None:
    """One pattern matching any of the (normalised) names as whole words (a plural "s"
    allowed; CJK names anywhere, since Chinese has no spaces), one named group per name. Latin
    names under three letters ("CE") are left out: as words they match too much."""
    parts = []
    for name in dict.fromkeys(names):
        if has_cjk(name):
            if len(name) >= 2:
                parts.append((name, re.escape(name)))
        elif len(name) >= 3:
            word = re.escape(name).replace(r"\ ", r" ?")
            parts.append((name, rf"(?<![^\W_{CJK_CHARS}]){word}s?(?![^\W_{CJK_CHARS}])"))
    if not parts:
        return None
    parts.sort(key=lambda p: len(p[0]), reverse=True)  # the longest name wins at one place
    return re.compile("|".join(f"(?P<n{offset + i}>{body})" for i, (_, body) in enumerate(parts)))


def found(pattern: re.Pattern[str] | None, text: str) -> set[str]:
    """The distinct names (as the pattern's group names) found in ``text``."""
    if pattern is None:
        return set()
    return {m.lastgroup for m in pattern.finditer(text) if m.lastgroup}


# --- passages ----------------------------------------------------------------------------------


def load_passages(searcher: Searcher) -> list[Passage]:
    """Every passage of the index with what the linker reads about its note."""
    catalog = searcher.catalog
    rows = catalog.get_chunks(catalog.chunk_ids())
    firsts: dict[str, str] = {}
    for row in rows.values():
        firsts.setdefault(row.source, row.heading.split(HEADING_SEP)[0])
    out = []
    for cid in catalog.chunk_ids():
        row = rows[cid]
        meta = row.meta
        out.append(
            Passage(
                chunk_id=cid,
                source=row.source,
                heading=row.heading,
                page=row.page,
                text=row.text,
                tags=tuple(str(t).lower() for t in meta.get("tags") or []),
                note_names=note_names(row, firsts[row.source]),
            )
        )
    return out


def mentions(
    searcher: Searcher,
    topic: Topic,
    linked: Iterable[str] = (),
    passages: Sequence[Passage] | None = None,
) -> list[Passage]:
    """The passages that write one of the topic's names (heading or text) and are not among
    ``linked``: a list of training tips names gradient clipping in one line, which does not
    cover the topic, but the learner should see where it is written (and may pin it).
    ``passages``: ``load_passages``, when the caller asks for several topics."""
    names = Names.of(topic.names)
    skip = set(linked)
    return [
        p
        for p in (load_passages(searcher) if passages is None else passages)
        if p.chunk_id not in skip and names.find(Text.of(f"{p.heading}\n{p.text}"))
    ]


def note_names(row: ChunkRow, first_heading: str) -> Text:
    """What names a passage's note: its file name, title, first heading and aliases (the
    linker's "note" signal)."""
    meta = row.meta
    names = [PurePosixPath(row.source).stem, str(meta.get("title") or ""), first_heading]
    names += [str(a) for a in meta.get("aliases") or []]
    return Text.of(" | ".join(names))


# --- signals -----------------------------------------------------------------------------------


def card_questions(passage: Passage) -> str:
    """The questions of the cards the passage holds: in a Q&A note, "**What is the
    bias-variance trade-off?**" heads its answer as a heading would."""
    from sharpnotes.ingest.cards import find_cards

    cards = find_cards(passage.text)
    return " | ".join(c.question for c in cards if c.kind == "qa" and not c.reverse)


def signals(
    topics: Sequence[Topic],
    passages: Sequence[Passage],
    topic_vectors: np.ndarray,
    passage_vectors: np.ndarray,
) -> dict[str, np.ndarray]:
    """(topics, passages) arrays of each signal, in [0, 1] except dense (a cosine). ``heading``:
    the passage's section heading, or the question of a card it holds, names the topic.
    ``other``: its section heading names another topic and not this one (the NMS section of a
    note on anchors and NMS)."""
    shape = (len(topics), len(passages))
    note, heading, text, tag, cards = (np.zeros(shape, np.float32) for _ in range(5))
    sections = [Text.of(HEADING_SEP.join(p.heading.split(HEADING_SEP)[1:])) for p in passages]
    asked = [Text.of(card_questions(p)) for p in passages]
    bodies = [Text.of(p.heading + "\n" + p.text) for p in passages]
    for i, topic in enumerate(topics):
        names = Names.of(topic.names)
        marks = set(topic.tags) | {topic.id}
        note_hits: dict[Text, bool] = {}
        for j, passage in enumerate(passages):
            if passage.note_names not in note_hits:
                note_hits[passage.note_names] = bool(names.find(passage.note_names))
            note[i, j] = note_hits[passage.note_names]
            heading[i, j] = bool(names.find(sections[j]))
            cards[i, j] = bool(names.find(asked[j]))
            text[i, j] = min(len(names.find(bodies[j])), 3) / 3
            tag[i, j] = bool(marks & set(passage.tags))
    other = (heading.any(axis=0, keepdims=True) & (heading == 0)).astype(np.float32)
    dense = topic_vectors @ passage_vectors.T
    heading = np.maximum(heading, cards)  # a card's question heads its answer as a heading does
    return {
        "note": note,
        "heading": heading,
        "text": text,
        "tag": tag,
        "other": other,
        "dense": dense,
    }


def combine(parts: dict[str, np.ndarray], weights: Weights = DEFAULT_WEIGHTS) -> np.ndarray:
    return (
        weights.note * parts["note"]
        - weights.other * parts["other"]
        + weights.heading * parts["heading"]
        + weights.text * parts["text"]
        + weights.tag * parts["tag"]
        + weights.dense * parts["dense"]
    )


def topic_text(topic: Topic) -> str:
    """What a topic's vector is made from: its titles, aliases and description."""
    names = ", ".join(topic.names[1:])
    return f"{names}. {topic.description}"


def compute_signals(
    searcher: Searcher, syllabus: Syllabus
) -> tuple[list[Passage], dict[str, np.ndarray]]:
    passages = load_passages(searcher)
    if not passages or not syllabus.topics:
        empty = np.zeros((len(syllabus.topics), len(passages)), np.float32)
        keys = ("note", "heading", "text", "tag", "other", "dense")
        return passages, {k: empty for k in keys}
    store = searcher._store("chunks")  # noqa: SLF001 - the vectors the index already holds
    held = store.embeddings([p.chunk_id for p in passages])
    dim = next(iter(held.values())).shape[0] if held else 1
    passage_vectors = np.stack(
        [held.get(p.chunk_id, np.zeros(dim, np.float32)) for p in passages]
    ).astype(np.float32)
    topic_vectors = searcher.embedder().embed([topic_text(t) for t in syllabus.topics])
    return passages, signals(syllabus.topics, passages, topic_vectors, passage_vectors)


def link_all(
    searcher: Searcher, syllabus: Syllabus, weights: Weights = DEFAULT_WEIGHTS
) -> dict[str, list[Link]]:
    """Topic id -> its linked passages, best first (pins not applied)."""
    passages, parts = compute_signals(searcher, syllabus)
    scores = combine(parts, weights)
    out: dict[str, list[Link]] = {}
    for i, topic in enumerate(syllabus.topics):
        order = np.argsort(-scores[i], kind="stable")
        out[topic.id] = [
            Link(p.chunk_id, p.source, p.heading, p.page, round(float(scores[i, j]), 4))
            for j in order
            if scores[i, j] >= weights.threshold
            for p in (passages[j],)
        ]
    return out


# --- cached links with pins ------------------------------------------------------------------


def _cache_key(searcher: Searcher, syllabus: Syllabus) -> str:
    from sharpnotes.ingest import bm25

    pointer = bm25.read_pointer(searcher.settings.index_dir)
    names = json.dumps([t.to_dict() for t in syllabus.topics], ensure_ascii=False)
    weights = json.dumps(asdict(DEFAULT_WEIGHTS), sort_keys=True)
    raw = f"{LINKER_VERSION}|{weights}|{json.dumps(pointer, sort_keys=True)}|{names}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def topic_links(
    searcher: Searcher, syllabus: Syllabus, settings: Settings | None = None
) -> dict[str, list[Link]]:
    """Topic id -> linked passages with the user's pins applied; computed once per index build
    and syllabus, then read from HOME/topic_links.json."""
    settings = settings or searcher.settings
    path = settings.paths.home / CACHE_NAME
    key = _cache_key(searcher, syllabus)
    links: dict[str, list[Link]] | None = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == key:
            links = {t: [Link(**row) for row in rows] for t, rows in data["links"].items()}
    except (OSError, ValueError, TypeError, KeyError):
        links = None  # no cache yet, or one from another build: made again below
    if links is None:
        links = link_all(searcher, syllabus)
        rows = {t: [link.to_dict() for link in ls] for t, ls in links.items()}
        write_json_atomic(path, {"key": key, "links": rows})
    return apply_pins(searcher, links, Pins.load(settings))


def apply_pins(
    searcher: Searcher, links: dict[str, list[Link]], pins: Pins
) -> dict[str, list[Link]]:
    out = {}
    wanted = {cid for ids in pins.pinned.values() for cid in ids}
    rows = searcher.catalog.get_chunks(sorted(wanted)) if wanted else {}
    for topic_id, linked in links.items():
        dropped = set(pins.unpinned.get(topic_id, []))
        kept = [link for link in linked if link.chunk_id not in dropped]
        have = {link.chunk_id for link in kept}
        extra = [
            Link(row.chunk_id, row.source, row.heading, row.page, 1.0, pinned=True)
            for cid in pins.pinned.get(topic_id, [])
            if cid not in have and (row := rows.get(cid)) is not None
        ]
        out[topic_id] = extra + kept
    return out


def notes_folder(searcher: Searcher) -> Path | None:
    """Where the user's syllabus lives: SHARPNOTES_NOTES_DIR, else the first folder ingested."""
    settings = searcher.settings
    if settings.paths.notes_dir:
        return settings.paths.notes_dir.expanduser()
    roots = searcher.catalog.roots()
    return Path(roots[0]) if roots else None


def syllabus_topic_chunks(searcher: Searcher, text: str) -> tuple[Topic, list[str]] | None:
    """(topic, linked chunk ids, best first) of the syllabus topic ``text`` names by its id or
    its title ("ml-system-design-framework", "ML system-design framework", as ``topics`` and
    ``today`` print them); None for any other text (a name to search the notes for)."""
    from sharpnotes.app.syllabus import load_syllabus

    wanted = normalise(text)
    syllabus = load_syllabus(notes_folder(searcher))
    topic = next(
        (t for t in syllabus.topics if wanted in (normalise(t.id), normalise(t.title))), None
    )
    if topic is None:  # free text: no topic links are made for it
        return None
    _, links = syllabus_links(searcher)
    return topic, [link.chunk_id for link in links.get(topic.id, [])]


def syllabus_links(searcher: Searcher) -> tuple[Syllabus, dict[str, list[Link]]]:
    """The user's syllabus (or the default one) and its topics' passages, pins applied."""
    from sharpnotes.app.syllabus import load_syllabus

    syllabus = load_syllabus(notes_folder(searcher))
    return syllabus, topic_links(searcher, syllabus)
