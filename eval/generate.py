"""Generate an eval set from the indexed notes, for the user to review.

Passages are sampled across folders (round robin, one per note before any note gets a second).
From each, a key sentence is picked (a definition, an explanation of why, or of how, else the
sentence richest in rare words) and kept verbatim as the evidence. The question is written
offline by templates around the sentence's rarest phrase and the heading it sits under, or, when
an LLM generator is configured, by the LLM. Questions that copy the passage (a run of
``COPY_NGRAM`` or more words in common) are dropped.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sharpnotes.eval.sets import Label, Question
from sharpnotes.ingest.settings import Settings
from sharpnotes.ingest.text import STOP_WORDS, TOKEN, blocks, split_sentences, tokens

if TYPE_CHECKING:
    from sharpnotes.app.generators import Generator


COPY_NGRAM = 4  # a question sharing this many consecutive words with its passage copies it
MIN_WORDS, MAX_WORDS = 7, 45

_LIST_MARK = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MARKUP = re.compile(r"\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)|\[\[(?:[^\]|]*\|)?|\]\]")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_DEFINITION = re.compile(
    r"^(?P<x>[A-Za-z][\w\-/' ()]{1,60}?)\s+(?P<verb>is|are|means|refers to|denotes|stands for)"
    r"\s+(?:a|an|the|when|how|that|to|one|just)?\b",
)
_WHY = re.compile(
    r"\b(because|since|so that|which is why|therefore|in order to|to avoid|to prevent|"
    r"the reason|otherwise|, so)\b",
    re.IGNORECASE,
)
_HOW = re.compile(
    r"\b(by|uses|using|via|through|works|computes|predicts|combines|converts|maps|replaces|"
    r"learns|samples|splits|projects)\b",
    re.IGNORECASE,
)
_PRONOUNS = {
    "it",
    "this",
    "that",
    "they",
    "these",
    "those",
    "there",
    "here",
    "which",
    "each",
    "what",
    "why",
    "how",
    "then",
    "so",
    "and",
    "but",
    "also",
    "one",
    "i",
    "we",
    "you",
}


@dataclass
class Passage:
    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str


def words(text: str) -> list[str]:
    return tokens(text)


def longest_shared_run(a: str, b: str) -> int:
    """Length of the longest run of consecutive words common to ``a`` and ``b``."""
    wa, wb = words(a), words(b)
    best = 0
    prev = [0] * (len(wb) + 1)
    for x in wa:
        cur = [0] * (len(wb) + 1)
        for j, y in enumerate(wb, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def copies_passage(question: str, passage: str) -> bool:
    return longest_shared_run(question, passage) >= COPY_NGRAM


def clean(text: str) -> str:
    text = _LINK.sub(r"\1", _LIST_MARK.sub("", text))
    return " ".join(_MARKUP.sub("", text).split())


def sentences(text: str) -> list[str]:
    """Prose sentences of a passage (paragraphs and list items), verbatim but for the list
    marker; no headings, quotes, code, tables, formulas or HTML."""
    out: list[str] = []
    for block in blocks(text):
        if block.kind not in ("paragraph", "list"):
            continue
        for i, span in enumerate(split_sentences(text, block.start, block.end)):
            s = _LIST_MARK.sub("", span.text) if i == 0 else span.text
            n = len(s.split())
            english = sum(c.isascii() for c in s) > 0.9 * len(s)  # the templates are English
            plain = not re.search(r"[$`\\{}]", s) and s[-1:] != ":" and not s.startswith("<")
            if MIN_WORDS <= n <= MAX_WORDS and english and plain:
                out.append(s)
    return out


class Weights:
    """How much a word says about a passage: rare across passages (idf) and repeated in its own
    note (a topic word, not a one-off), with a bonus for capitalised terms (DETR, Hungarian)."""

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.n = len(passages)
        self.df = Counter(w for p in passages for w in set(words(p.text)))
        self.tf: dict[str, Counter] = {}
        for p in passages:
            self.tf.setdefault(p.source, Counter()).update(words(p.heading + " " + p.text))

    def idf(self, word: str) -> float:
        return math.log((self.n + 1) / (self.df.get(word, 0) + 1)) + 1.0

    def __call__(self, word: str, source: str, capitalised: bool = False) -> float:
        repeats = min(self.tf.get(source, Counter()).get(word, 0), 3)
        return self.idf(word) * (0.4 + 0.2 * repeats) * (1.3 if capitalised else 1.0)


def _tokens(sentence: str) -> list[tuple[str, bool, str]]:
    """(lowercased word, capitalised inside the sentence, as written) of a cleaned sentence."""
    out = []
    for m in TOKEN.finditer(clean(sentence)):
        raw = m.group(0)
        out.append((raw.lower(), raw[:1].isupper() and m.start() > 0, raw))
    return out


def _content(word: str) -> bool:
    return word not in STOP_WORDS and not word.isdigit() and len(word) >= 3 and "'" not in word


def key_phrase(sentence: str, weights: Weights, source: str, avoid: set[str]) -> str | None:
    """The best run of 1-3 content words (not all in ``avoid``), e.g. "anchor boxes"."""
    runs: list[list[tuple[str, bool, str]]] = [[]]
    for token in _tokens(sentence):
        if _content(token[0]):
            runs[-1].append(token)
        else:
            runs.append([])
    best, best_score = None, 0.0
    for run in runs:
        for size in (1, 2, 3):
            for i in range(len(run) - size + 1):
                gram = run[i : i + size]
                if {w for w, _, _ in gram} <= avoid:
                    continue
                score = sum(weights(w, source, cap) for w, cap, _ in gram) / (1 + 0.5 * (size - 1))
                if score > best_score:
                    # as written (DETR, k-means), but a plain word that opens the sentence lowered
                    shown = [raw if cap or not raw[1:].islower() else w for w, cap, raw in gram]
                    best, best_score = " ".join(shown), score
    return best


GENERIC = frozenset(
    """setup requirements notes note overview summary interview answer answers problem intro
    introduction which when what why how tips misc todo questions question example examples
    recap basics details practical key ideas idea main takeaways takeaway""".split()  # noqa: SIM905 - a word list reads best as text
)


def topic_of(passage: Passage) -> str:
    """The innermost heading when it is short and specific, else the note's title or name."""
    parts = [re.sub(r"\([^)]*\)", "", clean(h)).strip(" :-?") for h in passage.heading.split(" > ")]
    parts = [p for p in parts if p]
    for part in reversed(parts):
        ws = part.split()
        if 1 <= len(ws) <= 4 and not {w.lower().strip(":") for w in ws} & GENERIC:
            return part
    if parts and len(parts[0].split()) <= 5:
        return parts[0]
    return PurePosixPath(passage.source).stem.replace("-", " ").replace("_", " ")


def _readable(topic: str) -> str:
    """A file-name-like topic ("bev-perception-survey") as words."""
    return topic if " " in topic else topic.replace("-", " ").replace("_", " ")


def kind_of(sentence: str) -> str:
    if _DEFINITION.match(clean(sentence)):
        return "definition"
    if _WHY.search(sentence):
        return "why"
    if _HOW.search(sentence):
        return "how"
    return "about"


def sentence_score(sentence: str, weights: Weights, source: str) -> float:
    scores = sorted(
        (weights(w, source, c) for w, c, _ in _tokens(sentence) if _content(w)), reverse=True
    )
    bonus = {"definition": 3.0, "why": 2.0, "how": 1.5, "about": 0.0}[kind_of(sentence)]
    return sum(scores[:4]) + bonus


TEMPLATES = {
    "definition": ["What {be} {x}?", "What does {x} mean?", "Can you explain what {x} {be}?"],
    "why": [
        "Why does {topic} need {phrase}?",
        "What is the reason for {phrase} in {topic}?",
        "Why does {phrase} matter for {topic}?",
    ],
    "how": [
        "How does {topic} work with {phrase}?",
        "How is {phrase} used in {topic}?",
        "How does {phrase} come into {topic}?",
    ],
    "about": [
        "What do my notes say about {phrase} in {topic}?",
        "What should I remember about {phrase} for {topic}?",
        "What is said about {phrase} under {topic}?",
    ],
}


def template_questions(
    passage: Passage, sentence: str, weights: Weights, rng: random.Random
) -> list[tuple[str, str]]:
    """Candidate (kind, question) pairs for ``sentence``, in order of preference."""
    topic = _readable(topic_of(passage))
    kind = kind_of(sentence)
    out = []
    match = _DEFINITION.match(clean(sentence))
    if kind == "definition" and match:
        x = re.sub(r"^(?:the|a|an)\s+", "", match.group("x").strip(), flags=re.IGNORECASE)
        be = "are" if match.group("verb") == "are" else "is"
        first = x.split()[0].lower().split("'")[0]
        if first not in _PRONOUNS and len(x.split()) <= 5 and not set(words(x)) & GENERIC:
            for t in rng.sample(TEMPLATES["definition"], k=3):
                out.append(("definition", t.format(x=x, be=be)))
        kind = "why" if _WHY.search(sentence) else "how" if _HOW.search(sentence) else "about"
    phrase = key_phrase(sentence, weights, passage.source, avoid=set(words(topic)))
    if phrase:
        for k in dict.fromkeys([kind, "about"]):
            for t in rng.sample(TEMPLATES[k], k=len(TEMPLATES[k])):
                out.append((k, t.format(topic=topic, phrase=phrase)))
    return out


def llm_question(generator: Generator, passage: Passage, sentence: str) -> str | None:
    """A question from the LLM generator, or None when its reply is not one (a refusal, a
    statement). A generator that cannot run raises ``GeneratorError``."""
    from sharpnotes.app.retrieval import SearchResult

    request = (
        "Write one short question that a student reviewing these notes would ask, whose answer "
        f'is this sentence of passage 1: "{clean(sentence)}". Use your own words, not the '
        "passage's phrasing. Reply with the question only."
    )
    context = SearchResult(
        1, 1.0, passage.chunk_id, passage.source, passage.heading, passage.page, passage.text
    )
    lines = re.sub(r"\[\d+\]", "", generator.generate(request, [context])).strip().splitlines()
    reply = " ".join(lines[0].strip().strip('"').split()) if lines else ""
    return reply if reply.endswith("?") and len(reply.split()) >= 4 else None


def load_passages(settings: Settings, folder: str | None = None) -> list[Passage]:
    from sharpnotes.ingest.index import open_catalog

    catalog = open_catalog(settings)
    try:
        rows = catalog.get_chunks(catalog.chunk_ids())
    finally:
        catalog.close()
    prefix = folder.strip("/") + "/" if folder else ""
    return [
        Passage(r.chunk_id, r.source, r.heading, r.page, r.text)
        for r in sorted(rows.values(), key=lambda r: r.chunk_id)
        if r.source.startswith(prefix)
    ]


def _round_robin(passages: list[Passage], rng: random.Random) -> list[Passage]:
    """Passages ordered so that folders alternate and each note appears once per round."""
    by_folder: dict[str, dict[str, list[Passage]]] = {}
    for p in passages:
        top = PurePosixPath(p.source).parts[0] if "/" in p.source else "."
        by_folder.setdefault(top, {}).setdefault(p.source, []).append(p)
    queues = []
    for notes in by_folder.values():
        for chunks in notes.values():
            rng.shuffle(chunks)
        order = list(notes)
        rng.shuffle(order)
        # note by note, round after round: the first chunk of every note, then the second...
        rounds = max(len(c) for c in notes.values())
        queues.append([notes[s][r] for r in range(rounds) for s in order if r < len(notes[s])])
    rng.shuffle(queues)
    out: list[Passage] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


def generate_set(
    settings: Settings,
    n: int = 50,
    folder: str | None = None,
    seed: int = 0,
    use_llm: bool | None = None,
    generator: Generator | None = None,
) -> list[Question]:
    """Up to ``n`` questions over the indexed notes (fewer when the notes run out). With
    ``use_llm`` (default: when an LLM generator is configured) the configured generator, or
    ``generator`` when given, writes each question; templates stand in when it gives none."""
    passages = load_passages(settings, folder)
    if not passages:
        where = f" under {folder}" if folder else ""
        raise ValueError(f"no indexed passages{where}; run: sharpnotes ingest PATH-TO-NOTES")
    rng = random.Random(seed)
    weights = Weights(passages)
    if use_llm is None:
        use_llm = generator is not None or settings.answers.generator != "extractive"
    if use_llm and generator is None:
        from sharpnotes.app.generators import get_generator

        generator = get_generator(settings)
    if not use_llm:
        generator = None
    questions: list[Question] = []
    asked: set[str] = set()
    for passage in _round_robin(passages, rng):
        if len(questions) >= n:
            break
        ranked = sorted(
            sentences(passage.text), key=lambda s: -sentence_score(s, weights, passage.source)
        )
        made = None
        for sentence in ranked[:3]:
            candidates = []
            if generator is not None:
                q = llm_question(generator, passage, sentence)
                if q:
                    candidates.append(("llm", q))
            candidates += template_questions(passage, sentence, weights, rng)
            for kind, q in candidates:
                if q.lower() not in asked and not copies_passage(q, passage.text):
                    made = (kind, q, sentence)
                    break
            if made:
                break
        if not made:
            continue
        kind, text, sentence = made
        asked.add(text.lower())
        questions.append(
            Question(
                id=f"gen-{len(questions) + 1:03d}",
                text=text,
                answerable=True,
                labels=[Label(source=passage.source, evidence=sentence, page=passage.page)],
                kind=f"generated-{kind}",
            )
        )
    return questions


def _question_key(text: str) -> str:
    return " ".join(words(text))


def add_from_chat(
    settings: Settings, path: Path, conversation: str | None = None
) -> tuple[list[Question], dict[str, int]]:
    """Append the questions asked in saved conversations (one, or all) to the set at ``path``:
    the evidence is the sentence the answer quoted from its first cited passage. Refused
    answers, answers without a citation and questions already in the set are skipped."""
    from sharpnotes.app.conversations import list_conversations, load_conversation
    from sharpnotes.eval.sets import load_jsonl_set, write_jsonl

    if conversation:
        try:
            convs = [load_conversation(settings, conversation)]
        except FileNotFoundError as exc:
            raise ValueError(f"no saved conversation {conversation!r}") from exc
    else:
        convs = list_conversations(settings)
    existing = load_jsonl_set(path).questions if path.is_file() else []
    seen = {_question_key(q.text) for q in existing}
    ids = {q.id for q in existing}
    added: list[Question] = []
    skipped = {"refused": 0, "duplicate": 0, "uncited": 0}
    for conv in sorted(convs, key=lambda c: c.created):
        for number, turn in enumerate(conv.turns, start=1):
            answer = turn.get("answer") or {}
            if answer.get("refused"):
                skipped["refused"] += 1
                continue
            citations = answer.get("citations") or []
            if not citations:
                skipped["uncited"] += 1
                continue
            key = _question_key(turn["question"])
            if key in seen:
                skipped["duplicate"] += 1
                continue
            cited = citations[0]
            evidence = (cited.get("quote") or "").strip() or (
                sentences(cited.get("text", "")) or [cited.get("text", "").strip()]
            )[0]
            qid = f"chat-{conv.id[:8]}-{number}"
            while qid in ids:
                qid += "b"
            seen.add(key)
            ids.add(qid)
            added.append(
                Question(
                    id=qid,
                    text=turn["question"],
                    answerable=True,
                    labels=[Label(cited["source"], evidence or None, cited.get("page"))],
                    kind="chat",
                )
            )
    if added:
        write_jsonl(path, existing + added)
    return added, skipped
