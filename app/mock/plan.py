"""Planning a mock interview: what is asked, and the passages each answer is graded against.

A **design** mock takes its steps from your framework note (the note tagged ``framework``, else
one whose file name holds "framework", else a "template" note that numbers its steps): every
numbered ``## 1. Clarify requirements`` heading is a step (or, without such headings, every
item of a numbered list at the margin); a numbered heading that lists several parts
("Serving, monitoring, iteration") with one ``###`` subsection per part becomes one step per
part. Nothing about the steps is hard-coded.
The case comes from a case note (tagged ``case-study``, or named ``case-*``), a syllabus topic,
or typed text. Each step is graded against the sections of the case that hold that step. A
section fits a step by what it says (the embedding similarity of the section to the framework's
own text of the step) and by what it is called: its heading path against the step's names (its
title and its own outline: the items listed under a listed step, the subheadings under a step
heading), in meaning (embeddings) and in words (shared stems). So "Requirements" finds "1.
Problem formulation" through its item "* Requirements", and "Metrics > Online" finds "Metrics"
through "* Online metrics"; words that start alike name a step too ("Serving" names "Prediction
Service"). Each section goes to the one step it fits best among those its heading names, else
among all, never to two, so no key point is graded under two steps; only a heading whose parts
name two steps ("Deployment & monitoring") is shared by them, each of its points going to the
step whose framework text it fits best. A section that fits no step clearly leans towards the
step of the section before it ("Framing" after "Requirements"). A step keeps the sections whose
headings name it and the best of the others if it fits that one nearly as well as its own; the
rest go nowhere (a note's "30-second answer"). A step that no section goes to is graded on
the framework note's own text of the step (what the step asks for, cited to that note); one
whose framework text says nothing either gets no key points, and the report says so; only a
plan without sections (an empty case) looks in other notes. Step keys are the titles' words,
Chinese ones too ("釐清需求"), and never shared.

Rapid-fire rounds are planned in ``app.mock.rapid``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal

from sharpnotes.ingest.text import (
    HEADING_SEP,
    blocks,
    clean_heading,
    heading_title,
    is_question,
    list_marker,
    list_parents,
    outline,
    split_label,
    table_rows,
    terms,
    units,
)

if TYPE_CHECKING:
    import numpy as np

    from sharpnotes.app.retrieval import Searcher, SearchResult
    from sharpnotes.app.syllabus import Topic
    from sharpnotes.ingest.catalog import ChunkRow

Kind = Literal["design", "rapid"]
FRAMEWORK_TAG = "framework"
CASE_TAGS = ("case-study", "case")
CASE_PREFIX = "case-"  # a note named case-*.md is a case note, tagged or not
# A section goes to the step it fits best (see the module docstring). Its score: the cosine of
# its text with the step's framework text, plus NAME_WEIGHT x the cosine of its heading path
# with the closest of the step's names, plus TITLE_BONUS / TEXT_BONUS when the heading shares a
# word (its Snowball stem) with the step's title / text; the step of the section before it in
# the note gets NEIGHBOUR_BONUS when choosing. A heading that shares a stem with one of the
# step's names, or has a cosine of NAME_COSINE with one, names the step. Chosen on the tune
# half of eval/mock_answers.jsonl and eval/mock_answers_dev.jsonl, and checked by hand on the
# four sample cases with the 9-step template of mlnotes (eval/benchmarks/README.md, "Mock"):
# the figures are flat for NAME_WEIGHT 1.0-1.3, NAME_COSINE 0.5-0.7, NEIGHBOUR_BONUS 0.1-0.15.
NAME_WEIGHT = 1.0
TITLE_BONUS = 0.15
TEXT_BONUS = 0.1
NEIGHBOUR_BONUS = 0.1  # "Framing" after "Requirements" stays with the problem step
NAME_COSINE = 0.6
PREFIX_LETTERS = 5  # a heading word and a step's name word that start alike name it (_prefixes)
# A step keeps every section it owns whose heading names it, and of the others (fitted by what
# they say only) the one it fits best, if within MARGIN of its best section: a summary ("30-
# second answer") that fits every step a little goes nowhere. 0.5 loses "Framing" with the
# template; 0.7 lets summaries in (dev precision 0.76 -> 0.72). At most MAX_SECTIONS sections.
MARGIN = 0.6
MAX_SECTIONS = 3
MAX_RELATED = 2  # passages to read shown under a step of a case typed in
PARAGRAPH_NAME_WORDS = 3  # a case written as prose: a paragraph is called by its first words
MIN_POINT_TERMS = 4  # chosen on the tune half of eval/mock_answers.jsonl (see is_point)
MAX_TITLE_WORDS = 5  # a listed step's title before a colon ("Metrics: offline and online")
MIN_GUESSED_STEPS = 4  # a note named "template" is read as the framework when it numbers this many
_NUMBERED = re.compile(r"^\s*\d+\s*[.)]\s*(?P<title>.+)$")
_QUOTED_PROMPT = re.compile(r"\*[\"“](?P<prompt>.+?)[\"”]\*")


class MockError(ValueError):
    """A mock cannot be planned as asked; the message says what to write or run."""


@dataclass(frozen=True)
class Passage:
    """A passage of the notes that holds key points: the citation of a covered or missed point."""

    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Point:
    """One key point: a unit (sentence, list item, formula) of a passage, quoted verbatim, and
    the list items a nested one sits under (shown with it, not graded)."""

    text: str
    passage: Passage
    parents: tuple[str, ...] = ()

    @property
    def shown(self) -> str:
        """The point as a report shows it, in plain text under the items it sits under: "GBDT ›
        cons: inefficient ..." (no list marker, emphasis, code or link markup; one line)."""
        from sharpnotes.app.extractive import outlined

        return plain_point(outlined(self.text, self.parents))

    def to_dict(self) -> dict:
        return {"text": self.text, "passage": self.passage.to_dict(), "parents": list(self.parents)}

    @classmethod
    def from_dict(cls, data: dict) -> Point:
        return cls(data["text"], Passage(**data["passage"]), tuple(data.get("parents", ())))


def plain_point(text: str) -> str:
    """A key point as plain text on one line: "- **Fleet logs**: 200 vehicles" -> "Fleet logs:
    200 vehicles" (the list marker of each of its lines out, then the inline markup
    ``clean_heading`` takes out; math stays as written)."""
    lines = (line[len(list_marker(line)) :] for line in text.splitlines())
    return clean_heading(" ".join(" ".join(lines).split()))


@dataclass
class Step:
    key: str
    title: str
    question: str
    points: list[Point] = field(default_factory=list)
    seconds: int | None = None  # a rapid-fire question's own limit
    # passages of other notes on the step, to read after a case typed in: not the case's own
    # answer, so not graded
    related: list[Passage] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "key": self.key,
            "title": self.title,
            "question": self.question,
            "seconds": self.seconds,
            "points": [p.to_dict() for p in self.points],
            "related": [p.to_dict() for p in self.related],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Step:
        points = [Point.from_dict(p) for p in data.get("points", [])]
        related = [Passage(**p) for p in data.get("related", [])]
        return cls(
            data["key"], data["title"], data["question"], points, data.get("seconds"), related
        )


@dataclass
class MockPlan:
    kind: Kind
    title: str
    prompt: str  # the case as the interviewer states it (rapid: what the round is)
    minutes: float
    steps: list[Step]
    source: str | None = None  # the case note
    framework: str | None = None  # the framework note the steps come from

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "title": self.title,
            "prompt": self.prompt,
            "minutes": self.minutes,
            "source": self.source,
            "framework": self.framework,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict) -> MockPlan:
        steps = [Step.from_dict(s) for s in data["steps"]]
        return cls(
            data["kind"], data["title"], data["prompt"], float(data["minutes"]), steps,
            data.get("source"), data.get("framework"),
        )  # fmt: skip


@dataclass(frozen=True)
class FrameworkStep:
    key: str
    title: str
    text: str  # the framework's own section: what the step asks for
    names: tuple[str, ...] = ()  # its title, then its own outline ("Requirements", "Offline")


@dataclass(frozen=True)
class CaseNote:
    source: str
    title: str


# --- notes ------------------------------------------------------------------------------------


def _note_meta(searcher: Searcher) -> dict[str, dict]:
    """source -> the front matter of its first chunk (title, tags, aliases)."""
    import json

    out: dict[str, dict] = {}
    for _, source, meta in searcher.catalog.chunk_filter_rows():
        if source not in out:
            out[source] = json.loads(meta)
    return out


def _tags(meta: dict) -> set[str]:
    return {str(t).lower() for t in meta.get("tags") or []}


def _read(searcher: Searcher, source: str) -> str:
    from sharpnotes.app.notefiles import NoteAccessError, read_note

    record = searcher.catalog.files().get(source)
    if record is None:
        raise MockError(f"{source}: not an indexed note; run: sharpnotes ingest PATH-TO-NOTES")
    try:
        return read_note(Path(record.root), source)
    except (OSError, NoteAccessError) as exc:
        raise MockError(f"cannot read {source} ({exc}); run: sharpnotes ingest PATH") from exc


def _named(meta: dict[str, dict], word: str) -> list[str]:
    return sorted(s for s in meta if word in PurePosixPath(s).stem.lower())


def framework_steps(searcher: Searcher) -> tuple[str, list[FrameworkStep]]:
    """The framework note and its steps: the note tagged ``framework``, else one whose file
    name holds "framework", else one whose file name holds "template" ("mlsd-template.md") and
    that numbers at least MIN_GUESSED_STEPS steps (a note template of another kind is passed
    over)."""
    meta = _note_meta(searcher)
    tagged = sorted(s for s, m in meta.items() if FRAMEWORK_TAG in _tags(m))
    texts = (".md", ".markdown", ".txt")
    chosen = next((s for s in tagged + _named(meta, "framework") if s.endswith(texts)), None)
    if chosen:
        steps = parse_framework(_read(searcher, chosen))
        if not steps:
            raise MockError(
                f"{chosen} has no numbered steps ('## 1. Step' headings or a '1. Step' list); "
                "number the steps of your framework, then run: sharpnotes ingest PATH-TO-NOTES"
            )
        return chosen, steps
    for source in [s for s in _named(meta, "template") if s.endswith(texts)]:
        steps = parse_framework(_read(searcher, source))
        if len(steps) >= MIN_GUESSED_STEPS:
            return source, steps
    raise MockError(
        "no framework note in the index: tag your system-design framework note 'framework' "
        "(front matter: tags: [framework]) with its steps numbered ('## 1. Clarify "
        "requirements' headings or a '1. ...' list), then run: sharpnotes ingest PATH-TO-NOTES"
    )


def _slug(title: str) -> str:
    """A step's key: its title's words, Chinese ones too ("1. 釐清需求" -> "釐清需求")."""
    return re.sub(r"[^a-z0-9\u3400-\u9fff]+", "-", title.lower()).strip("-") or "step"


def _keyed(steps: list[FrameworkStep]) -> list[FrameworkStep]:
    """``steps`` with a key each their own: a key two titles give is numbered ("step-2")."""
    seen: dict[str, int] = {}
    out = []
    for step in steps:
        seen[step.key] = seen.get(step.key, 0) + 1
        key = step.key if seen[step.key] == 1 else f"{step.key}-{seen[step.key]}"
        out.append(replace(step, key=key))
    return out


# what the glossary's English of a Chinese step word (``crosslingual.find_terms``: 資料 "data",
# 部署 "deployment", 監控 "monitoring") does not say of the design step it names: a case's
# "## 需求" or "## 上線" names the steps "Scope" or "Serving" of a framework written in English
_STEP_WORDS_ZH = {
    "需求": "scope", "釐清": "scope", "厘清": "scope", "範圍": "scope", "范围": "scope",
    "上線": "deployment serving", "上线": "deployment serving", "部署": "serving",
}  # fmt: skip


def _stems(text: str) -> set[str]:
    """Snowball stems of a title's content terms, as BM25 stems words: "serving" and "serve"
    meet, "model" and "modes" do not (a four-letter prefix read "Failure modes" as a model
    section); the stems of the English of its Chinese words (the glossary's, and
    ``_STEP_WORDS_ZH``): "## 資料" names the step "Data & labels"; and its Chinese topic pairs
    (``coverage.zh_pairs``): "## 需求" names the step "1. 釐清需求". MiniLM reads Chinese as
    noise, and cannot tell them apart."""
    from sharpnotes.app.coverage import zh_pairs
    from sharpnotes.app.crosslingual import find_terms
    from sharpnotes.ingest.bm25 import stem

    english = " ".join(
        [en for _, en in find_terms(text)] + [en for zh, en in _STEP_WORDS_ZH.items() if zh in text]
    )
    words = [t for t in terms(f"{text} {english}") if len(t) >= 3]
    return set(stem(words)) | zh_pairs(text)


def _prefixes(text: str) -> set[str]:
    """The first PREFIX_LETTERS letters of a title's longer words: "Serving" and "Prediction
    Service" meet where their stems ("serv", "servic") do not; "modes" and "model" do not."""
    return {w[:PREFIX_LETTERS] for w in terms(text) if len(w) >= PREFIX_LETTERS}


def parse_framework(text: str) -> list[FrameworkStep]:
    """The steps of a framework note, in order (see the module docstring); a note without
    numbered ``##`` headings may number its steps as a list instead (``_listed_steps``)."""
    heads: list[tuple[int, str, int, int]] = []  # (level, title, start, body start)
    found = blocks(text)
    for block in found:
        if block.kind == "heading":
            level = len(block.text) - len(block.text.lstrip("#"))
            heads.append((level, clean_heading(heading_title(block.text)), block.start, block.end))
    steps: list[FrameworkStep] = []
    for i, (level, title, _, body) in enumerate(heads):
        match = _NUMBERED.match(title)
        if level != 2 or not match:
            continue
        name = match.group("title").strip()
        end = next((h[2] for h in heads[i + 1 :] if h[0] <= 2), len(text))
        subs = [
            (j, h)
            for j, h in enumerate(heads[i + 1 :], start=i + 1)
            if h[2] < end and h[0] == 3 and _stems(h[1].split()[0]) & _stems(name)
        ]
        if "," in name and len(subs) >= 2:
            for j, (_, sub, _, sub_body) in subs:
                sub_end = next((h[2] for h in heads[j + 1 :] if h[0] <= 3), len(text))
                under = [h[1] for h in heads[j + 1 :] if h[2] < sub_end]
                body_text = f"{sub}\n{text[sub_body:sub_end]}"
                steps.append(FrameworkStep(_slug(sub), sub, body_text, _names(sub, under)))
        else:
            under = [h[1] for h in heads[i + 1 :] if h[2] < end]
            steps.append(
                FrameworkStep(_slug(name), name, f"{name}\n{text[body:end]}", _names(name, under))
            )
    return _keyed(steps or _listed_steps(text, found))


def _names(title: str, outline_names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n for n in (title, *outline_names) if n))


def _listed_steps(text: str, found: list) -> list[FrameworkStep]:
    """Steps written as a numbered list at the margin ("1. Problem formulation" over its
    nested bullets, "2. Metrics", ...): each item is a step, its text the item with what is
    nested under it. Fewer than two such items are no framework."""
    starts = []
    for block in found:
        first = block.text.split("\n", 1)[0]
        match = _NUMBERED.match(first)
        if block.kind == "list" and match and not first[:1].isspace():
            starts.append((block.start, clean_heading(match.group("title")).strip(" :")))
        elif block.kind == "heading" and starts:
            starts.append((block.start, ""))  # a heading ends the list's last step
    bounds = [*(start for start, _ in starts[1:]), len(text)]
    steps = []
    for (start, name), end in zip(starts, bounds, strict=True):
        if name:
            # "Clarify requirements: users, scope, latency" is the step "Clarify requirements";
            # what follows the colon stays in its text
            head, colon, rest = name.partition(": ")
            if colon and rest.strip() and len(head.split()) <= MAX_TITLE_WORDS:
                name = head.strip()
            body = text[start:end].strip()
            # the items right under the step's own item name what it covers ("* Requirements")
            items = [
                clean_heading(item.name).strip(" :") for item in outline(body) if item.parent == 0
            ]
            steps.append(FrameworkStep(_slug(name), name, body, _names(name, items)))
    return steps if len(steps) >= 2 else []


def case_notes(searcher: Searcher) -> list[CaseNote]:
    """The indexed notes whose file name starts with CASE_PREFIX or that are tagged with one of
    CASE_TAGS, by path."""
    out = []
    for source, meta in sorted(_note_meta(searcher).items()):
        stem = PurePosixPath(source).stem.lower()
        if _tags(meta) & set(CASE_TAGS) or stem.startswith(CASE_PREFIX):
            out.append(CaseNote(source, str(meta.get("title") or stem)))
    return out


def no_case_notes(searcher: Searcher) -> MockError:
    """The error of a design mock that needs a case note when the index holds none: what was
    looked for, where to write one and what to run then, and the mocks that need none."""
    import shlex

    from sharpnotes.app.topics import notes_folder

    folder = notes_folder(searcher)
    tags = " or ".join(CASE_TAGS)
    return MockError(
        f"no case notes in the index (looked for notes named {CASE_PREFIX}*, or tagged {tags}): "
        f"write one as {folder or 'NOTES'}/{CASE_PREFIX}NAME.md, then run: sharpnotes ingest "
        f"{shlex.quote(str(folder)) if folder else 'PATH-TO-NOTES'}; or mock a case typed in: "
        "sharpnotes mock --text 'Design ...' (or --topic TOPIC)"
    )


def find_case(searcher: Searcher, name: str) -> CaseNote:
    """A case note by its path, file name or title (a unique part of one is enough)."""
    cases = case_notes(searcher)
    if not cases:
        raise no_case_notes(searcher)
    want = name.strip().lower()
    hits: list[CaseNote] = []
    for exact in (True, False):
        hits = [
            c
            for c in cases
            if any(
                (want == v) if exact else (want in v)
                for v in (c.source.lower(), PurePosixPath(c.source).stem.lower(), c.title.lower())
            )
        ]
        if len(hits) == 1:
            return hits[0]
        if hits:
            break
    names = ", ".join(PurePosixPath(c.source).stem for c in hits or cases)
    if hits:
        raise MockError(
            f"{name!r} matches {len(hits)} case notes: {names}; name one, e.g. "
            f"sharpnotes mock --case {PurePosixPath(hits[0].source).stem}"
        )
    raise MockError(
        f"no case note matches {name!r}; the case notes are: {names} (run: sharpnotes mock "
        "--case NAME; their titles: sharpnotes mock cases)"
    )


# a case note's title that states its task: "Case: design a traffic-light detection system ..."
_TASK_TITLE = re.compile(
    r"^(?:case(?:\s+study)?\s*[:：-]\s*)?(?P<task>(?:design|build)\s.+)$", re.IGNORECASE
)
# ... or names the system to design: "Case: 3D object detection for a robotaxi"
_CASE_TITLE = re.compile(r"^case(?:\s+study)?\s*[:：-]\s*(?P<task>\S.*)$", re.IGNORECASE)
# a paragraph wholly in brackets is an aside ("(practiced this one twice)"), not the prompt
_ASIDE = re.compile(r"^\s*[(（\[][^()（）\[\]]*[)）\]]\s*$")


def case_prompt(text: str, title: str) -> str:
    """The prompt a case note states (``*"Design ..."*``), else its first paragraph before its
    first section, else its first heading when that states the task ("# Case: design a
    traffic-light detection system for a self-driving car"), else one made of its title. A note
    without sections is a case written as prose: its first paragraph is the start of the
    answer, so a title that states the task comes first."""
    match = _QUOTED_PROMPT.search(text)
    if match:
        return match.group("prompt").strip()
    found = blocks(text)
    headings = [clean_heading(heading_title(b.text)).strip() for b in found if b.kind == "heading"]
    task = _task(headings[0]) if headings else None
    if task and len(headings) == 1:  # a case written as prose: its first paragraph answers
        return task
    seen_heading = False
    for block in found:
        if block.kind == "heading":
            if seen_heading:
                break  # the first section has begun: its paragraphs are not the prompt
            seen_heading = True
        elif block.kind == "paragraph" and not _ASIDE.match(block.text):
            return " ".join(block.text.split())
    return (_task(headings[0]) if headings else None) or f"Design the system of {title}."


def _task(heading: str) -> str | None:
    """The task a heading states ("Case: design lane detection ..." -> "Design lane detection
    ..."), as a sentence; None when it states none."""
    match = _TASK_TITLE.match(heading)
    named = _CASE_TITLE.match(heading)
    if not match and not named:
        return None
    prompt = match.group("task").rstrip(" .") if match else f"design {named['task'].rstrip(' .')}"  # type: ignore[index]
    return f"{prompt[0].upper()}{prompt[1:]}."


# --- design -----------------------------------------------------------------------------------


def passage_of(row: SearchResult | ChunkRow) -> Passage:
    return Passage(row.chunk_id, row.source, row.heading, row.page, row.text)


def is_point(text: str) -> bool:
    """A unit that states something: not a question, not a lead-in ("Label sources:"), and at
    least MIN_POINT_TERMS content terms ("low band: allow" is a fragment of a list), or one
    fewer when one of them is a technical name ("INT8 on the ECU DSP"; not a step's title,
    "5. Feature Engineering")."""
    text = text.rstrip()
    if text.endswith(("?", "？", ":")) or is_question(text):  # "... options? ⭐️" too
        return False
    found = len(terms(text))
    return found >= MIN_POINT_TERMS or (
        found == MIN_POINT_TERMS - 1 and bool(_TECHNICAL.search(text))
    )


# a word with a capital and a later capital or digit: an acronym or a product's name ("INT8",
# "ECU", "TensorRT", "PointPillars"), not a capitalised word of a title
_TECHNICAL = re.compile(r"\b(?=[a-z]*[A-Z]\w*[A-Z0-9])[A-Za-z]\w*")


def _table_rows(table: str) -> list[str]:
    """A table's body rows as "cell: cell: cell" points (the header and a sentence leading
    into the table are not points)."""
    _, rows = table_rows(table)
    return [": ".join(c for c in row.cells if c) for row in rows] or [table]


def _points(passages: list[Passage]) -> list[Point]:
    """The key points of ``passages``, each once."""
    from sharpnotes.app.extractive import above

    out: list[Point] = []
    seen: set[str] = set()
    for passage in passages:
        nested = list_parents(passage.text)
        for unit in units(passage.text):
            for text in _table_rows(unit.clean) if unit.kind == "table" else [unit.clean]:
                if text not in seen and is_point(text):
                    seen.add(text)
                    out.append(Point(text, passage, above(unit, nested)))
    return out


def _one_step_each(
    steps: list[FrameworkStep], points: list[list[Point]], searcher: Searcher
) -> list[list[Point]]:
    """Each step's points with every key point graded under one step only: a point two steps
    hold (a section they share, the same bullet in two sections) stays with the step whose
    framework text it fits best."""
    import numpy as np

    from sharpnotes.app.embed_cache import embed_cached

    where: dict[str, list[int]] = {}
    for i, mine in enumerate(points):
        for point in mine:
            where.setdefault(point.text, []).append(i)
    contested = [text for text, at in where.items() if len(at) > 1]
    if not contested:
        return points
    vectors = embed_cached(searcher.embedder(), [s.text for s in steps] + contested)
    fit = vectors[len(steps) :] @ vectors[: len(steps)].T  # contested points x steps
    home = {t: where[t][int(np.argmax(fit[k, where[t]]))] for k, t in enumerate(contested)}
    # a step left with no point of a section it shares keeps the one it fits best, when the
    # step that had it keeps another: MiniLM reads "部署與監控" bullets as noise, and gave both
    # to Monitoring, so Deployment was graded on the framework's generic lines
    for i, mine in enumerate(points):
        if not mine or any(home.get(p.text, i) == i for p in mine):
            continue
        held = {t: sum(h == home[t] for h in home.values()) for t in (p.text for p in mine)}
        spare = [k for k, t in enumerate(contested) if t in held and held[t] > 1]
        if spare:
            k = max(spare, key=lambda k: fit[k, i] - fit[k, home[contested[k]]])
            home[contested[k]] = i
    return [[p for p in mine if home.get(p.text, i) == i] for i, mine in enumerate(points)]


def _path(heading: str) -> str:
    """A section's heading path below the note's title: "Metrics > Online / on-road"."""
    return HEADING_SEP.join(heading.split(HEADING_SEP)[1:]) or heading


_BRACKETED = re.compile(r"\([^)]*\)|（[^）]*）|\[[^\]]*\]")


def _name_fit(
    steps: list[FrameworkStep], labels: list[str], searcher: Searcher
) -> tuple[np.ndarray, np.ndarray]:
    """How well each heading label ("Metrics > Online", "Deployment") names each step, and
    whether it names it: two steps x labels arrays (see the module docstring and constants)."""
    import numpy as np

    from sharpnotes.app.embed_cache import embed_cached

    names = [s.names or (s.title,) for s in steps]
    vectors = embed_cached(searcher.embedder(), labels + [n for ns in names for n in ns])
    m = len(labels)
    by_name = vectors[m:] @ vectors[:m].T  # each name x each label
    scores = np.zeros((len(steps), m), dtype=np.float32)
    named = np.zeros(scores.shape, dtype=bool)
    words = [_stems(label) for label in labels]
    heads = [_prefixes(label) for label in labels]
    at = 0
    for i, step in enumerate(steps):
        closest = by_name[at : at + len(names[i])].max(axis=0)
        at += len(names[i])
        titled, described = _stems(step.title), _stems(step.text)
        called = set().union(*(_stems(name) for name in names[i]))
        starts = set().union(*(_prefixes(name) for name in names[i]))
        for j in range(m):
            scores[i, j] = (
                NAME_WEIGHT * closest[j]
                + TITLE_BONUS * bool(titled & words[j])
                + TEXT_BONUS * bool(described & words[j])
            )
            named[i, j] = bool(called & words[j] or starts & heads[j]) or closest[j] >= NAME_COSINE
    # a label several steps name goes to those whose title names it outside brackets: "資料"
    # (data) names "Data & labels", not "Monitoring & iteration (data flywheel)"
    bare = [_stems(_BRACKETED.sub(" ", step.title)) for step in steps]
    for j in range(m):
        if named[:, j].sum() > 1:
            plain = named[:, j] & np.array([bool(b & words[j]) for b in bare])
            if plain.any():
                named[:, j] = plain
    return scores, named


def _fit(
    steps: list[FrameworkStep], sections: dict[str, list[Passage]], searcher: Searcher
) -> tuple[np.ndarray, np.ndarray]:
    """How well each section (by heading) fits each step, and whether its heading names the
    step: two steps x sections arrays (see the module docstring and the constants)."""
    from sharpnotes.app.embed_cache import embed_cached

    heads = list(sections)
    said = [h.split(HEADING_SEP)[-1] + "\n" + "\n".join(p.text for p in sections[h]) for h in heads]
    vectors = embed_cached(searcher.embedder(), [s.text for s in steps] + said)
    n = len(steps)
    by_name, named = _name_fit(steps, [_path(h) for h in heads], searcher)
    return vectors[:n] @ vectors[n:].T + by_name, named


# the parts of a heading that joins two steps: "Deployment & monitoring", "Data and labels"
_JOINED = re.compile(r"\s*(?:&|\+|/|,|;|\band\b|與|和|及|、)\s*", re.IGNORECASE)


def _shared(
    heads: list[str], steps: list[FrameworkStep], searcher: Searcher
) -> dict[int, list[int]]:
    """Section -> the steps it is shared by: a heading whose parts each name a different step
    ("5. Deployment & monitoring" beside the steps "Serving and deployment" and "Monitoring")
    holds both, and its key points are split between them (``_one_step_each``)."""
    import numpy as np

    parts = {
        j: [p for p in _JOINED.split(h.split(HEADING_SEP)[-1]) if p] for j, h in enumerate(heads)
    }
    joined = {j: p for j, p in parts.items() if len(p) >= 2}
    if not joined:
        return {}
    fit, named = _name_fit(steps, [p for ps in joined.values() for p in ps], searcher)
    out: dict[int, list[int]] = {}
    at = 0
    for j, ps in joined.items():
        held = set()
        for k in range(at, at + len(ps)):
            best = int(np.argmax(fit[:, k]))
            if named[best, k]:
                held.add(best)
        at += len(ps)
        if len(held) >= 2:
            out[j] = sorted(held)
    return out


def assign(
    steps: list[FrameworkStep], pool: list[Passage], searcher: Searcher, every: bool = False
) -> list[list[Passage]]:
    """The passages of ``pool`` that hold each step (see the module docstring): the passages of
    one section (one heading) go together to the one step they fit best, leaning towards the
    step of the section before it in the same note; a step keeps the sections whose headings
    name it and the closest of the others within MARGIN of its best, at most MAX_SECTIONS, in
    the note's order. A step that no section goes to gets none, as does every step when the
    pool has no section (the caller retrieves for it). With ``every`` (the paragraphs or
    bullets of a case note without sections, each a part of the case and none a neighbour's
    sequel), each goes to the step it fits best and is kept there."""
    import numpy as np

    sections: dict[str, list[Passage]] = {}
    for passage in pool:
        sections.setdefault(passage.heading, []).append(passage)
    if not sections:
        return [[] for _ in steps]
    heads = list(sections)
    sims, named = _fit(steps, sections, searcher)
    shared = _shared(heads, steps, searcher)
    owner: list[int] = []
    for j, head in enumerate(heads):
        leaning = sims[:, j].copy()
        if j and not every and sections[heads[j - 1]][0].source == sections[head][0].source:
            leaning[owner[-1]] += NEIGHBOUR_BONUS
        if named[:, j].any():  # a heading that names steps goes to one of them
            leaning[~named[:, j]] = -np.inf
        owner.append(int(np.argmax(leaning)))
    out: list[list[Passage]] = []
    for i in range(len(steps)):
        mine = [j for j, o in enumerate(owner) if o == i or i in shared.get(j, ())]
        if every:
            out.append([p for j in mine for p in sections[heads[j]]])
            continue
        kept = [j for j in mine if named[i, j] or i in shared.get(j, ())]
        loose = [j for j in mine if not named[i, j]]
        if loose:  # said to fit, not named: only the closest, and only near the step's best
            closest = max(loose, key=lambda j: sims[i, j])
            if sims[i, closest] >= max(sims[i, j] for j in mine) - MARGIN:
                kept.append(closest)
        kept = sorted(sorted(kept, key=lambda j: -sims[i, j])[:MAX_SECTIONS])
        out.append([p for j in kept for p in sections[heads[j]]])
    return out


def _retrieved(searcher: Searcher, query: str, skip: set[str | None]) -> list[Passage]:
    """The best passage of another note for a step the case's own sections do not hold."""
    found = [r for r in searcher.search(query, k=30) if r.source not in skip]
    return [passage_of(r) for r in found[:1]]


def item_label(text: str) -> str:
    """What a line or list item is called by its label ("- metrics: per-class recall" ->
    "metrics"; two characters or more, so not "A" of "A: ..."), or "" when it has none."""
    return split_label(text, shortest=2)[0]


def _case_pool(searcher: Searcher, source: str) -> tuple[list[Passage], bool]:
    """The passages of a case note's sections; for a note written without sections (prose, or a
    flat list of bullets), each paragraph or top-level item as a section of its own, with the
    items nested under it, called by its label or its first words ("- metrics: per-class
    recall" and "For metrics, I would not use ..." both name the step Metrics). Also whether the
    note had sections."""
    rows = searcher.catalog.get_chunks(sorted(searcher.catalog.chunk_ids_of(source)))
    ordered = sorted(rows.values(), key=lambda r: r.ordinal)  # points are listed in note order
    # the note's introduction (no section heading) states the prompt; it holds no step
    sections = [passage_of(r) for r in ordered if HEADING_SEP in r.heading]
    if sections:
        return sections, True
    out: list[Passage] = []
    for row in ordered:
        parent = False  # whether the last top-level block of this chunk is a section
        for block in blocks(row.text):
            if block.kind not in ("paragraph", "list"):
                continue
            if block.kind == "list" and block.text[:1].isspace():  # "  - con: 2 models"
                if parent:
                    out[-1] = replace(out[-1], text=f"{out[-1].text}\n{block.text}")
                continue
            parent = len(terms(block.text)) >= MIN_POINT_TERMS
            if not parent:
                continue
            shown = clean_heading(block.text)
            words = shown[len(list_marker(shown)) :].split()[:PARAGRAPH_NAME_WORDS]
            name = item_label(block.text) or " ".join(words).rstrip(",.;:")
            heading = f"{row.heading}{HEADING_SEP}{name} ..."
            out.append(Passage(row.chunk_id, row.source, heading, row.page, block.text))
    return out, False


def plan_design(
    searcher: Searcher,
    minutes: float,
    case: str | None = None,
    topic: Topic | None = None,
    text: str | None = None,
) -> MockPlan:
    """A design mock on a case note, a syllabus topic or typed text (one of them)."""
    framework, steps = framework_steps(searcher)
    source, sectioned = None, True
    # another case's notes are not this case's (their requirements, children at 80 m, graded a
    # typed-in lidar case), and the framework is the same for every case
    cases: set[str | None] = {c.source for c in case_notes(searcher)}
    if case:
        note = find_case(searcher, case)
        title, source = note.title, note.source
        prompt = case_prompt(_read(searcher, source), title)
        pool, sectioned = _case_pool(searcher, source)
    elif topic is not None:
        from sharpnotes.app.topics import syllabus_links

        _, links = syllabus_links(searcher)
        linked = [link for link in links.get(topic.id, []) if link.source != framework][:12]
        if not linked:
            raise MockError(
                f"no note covers {topic.id} yet: write one, or pick a case note "
                "(sharpnotes mock --case NAME)"
            )
        title = topic.title
        if written := next((link.source for link in linked if link.source in cases), None):
            # a case topic: its case note, whole, as --case would take it
            source, prompt = written, case_prompt(_read(searcher, written), title)
            pool, sectioned = _case_pool(searcher, written)
        else:
            what = f": {topic.description}" if topic.description else ""
            prompt = f"Design an ML system around {topic.title}{what}"
            rows = searcher.catalog.get_chunks([link.chunk_id for link in linked])
            pool = [passage_of(rows[link.chunk_id]) for link in linked if link.chunk_id in rows]
    elif text and text.strip():
        prompt = " ".join(text.split())
        title = prompt if len(prompt) <= 60 else prompt[:57].rsplit(" ", 1)[0] + "…"
        found = searcher.search(prompt, k=12)
        pool = [passage_of(r) for r in found if r.source not in cases and r.source != framework]
    else:
        raise MockError("say what to design: --case NAME, --topic TOPIC or --text 'Design ...'")
    held = assign(steps, pool, searcher, every=not sectioned)
    if not pool:  # nothing of the case's own: each step gets the best passage of another note
        skip = {framework, source, *cases}
        held = [_retrieved(searcher, f"{step.title}: {title}", skip) for step in steps]
    points = _one_step_each(steps, [_points(passages) for passages in held], searcher)
    # a step the case says nothing on is graded on what the framework note says it asks for;
    # read only when some step needs it
    asked: list[list[Point]] = [[] for _ in steps]
    if framework and (source is None or not all(points)):
        rows = searcher.catalog.get_chunks(sorted(searcher.catalog.chunk_ids_of(framework)))
        asked = [_framework_points(rows.values(), s) for s in steps]
    related: list[list[Passage]] = [[] for _ in steps]
    if source is None:
        # no case note: other notes hold facts on the subject, not this case's answer (a lidar
        # note lists four point-cloud encodings, and an answer that picks one is not missing
        # three): each step is graded on what the framework asks of it, its passages to read
        related = [
            _unique(passages)[:MAX_RELATED] if a else []
            for a, passages in zip(asked, held, strict=True)
        ]
        points = [a or p for a, p in zip(asked, points, strict=True)]
    else:
        points = [p or a for a, p in zip(asked, points, strict=True)]
    planned = [
        Step(s.key, s.title, s.title, p, related=r)
        for s, p, r in zip(steps, points, related, strict=True)
    ]
    return MockPlan("design", title, prompt, minutes, planned, source, framework)


def _unique(passages: list[Passage]) -> list[Passage]:
    """``passages`` with each section once (a long section is several passages)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for passage in passages:
        if (passage.source, passage.heading) not in seen:
            seen.add((passage.source, passage.heading))
            out.append(passage)
    return out


def _framework_points(rows: Iterable[ChunkRow], step: FrameworkStep) -> list[Point]:
    """The key points of the framework note's own section on ``step`` (``rows``: the note's
    passages), cited to the passage that holds it: "Offline evaluation: slice metrics, a
    regression suite" when the case note has no section on evaluation. None when the note says
    nothing under the step's title."""
    body = step.text.strip()
    if body.startswith(step.title):  # the section's text opens with its title
        body = body[len(step.title) :].strip()
    if not body:
        return []
    first = body.splitlines()[0].strip()
    holder = next((r for r in rows if first in r.text), None)
    if holder is None:
        return []
    found = passage_of(holder)
    return _points([Passage(found.chunk_id, found.source, found.heading, found.page, body)])
