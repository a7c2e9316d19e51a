"""Eval sets in one in-memory form, whatever their format on disk.

Two formats load:

- the project's JSON Lines (``eval/notes_eval.jsonl``): one question a line with ``id``,
  ``question``, ``answerable`` and ``relevant``, a list of ``{source, evidence, page?}``. A
  retrieved passage is relevant when it comes from that source (and page) and contains the
  evidence string (whitespace-normalised), so labels survive re-chunking. A label without
  evidence accepts any passage of its source.
- BEIR's layout (a folder with ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``):
  each document becomes a note ``<id>.md`` (as ``sharpnotes.eval.benchmarks.beir`` writes it) and is
  judged at the document level (a document ranks where its best passage ranks), with the qrels'
  grades.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

# the labelled questions of the sample notes (``notes/``), shipped beside this module
SAMPLE_SET = Path(__file__).resolve().parent / "notes_eval.jsonl"
SPLITS = ("test", "dev", "train")


class EvalSetError(ValueError):
    """An eval set that cannot be read; the message names the file and what to fix."""


def norm(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class Label:
    """One relevant passage (JSONL) or document (BEIR) of a question."""

    source: str
    evidence: str | None = None
    page: int | None = None
    grade: int = 1

    def matches(self, source: str, page: int | None, text: str) -> bool:
        if source != self.source or self.page not in (None, page):
            return False
        return self.evidence is None or norm(self.evidence) in norm(text)

    def to_dict(self) -> dict:
        out: dict = {"source": self.source}
        if self.evidence is not None:
            out["evidence"] = self.evidence
        if self.page is not None:
            out["page"] = self.page
        return out


@dataclass
class Question:
    id: str
    text: str
    answerable: bool = True
    labels: list[Label] = field(default_factory=list)
    kind: str = ""
    answer: str = ""  # a short reference answer, when the set has one
    lang: str = ""  # "en" or "zh" (mainly Chinese), when the set says
    near_miss: bool = False  # unanswerable, on a topic next to the notes' own
    split: str = ""  # "tune" or "holdout", fixed in the set before any tuning


@dataclass
class EvalSet:
    """Questions plus how to judge them. ``corpus`` is set for BEIR (documents to ingest)."""

    name: str
    path: Path
    format: Literal["jsonl", "beir"]
    questions: list[Question]
    level: Literal["passage", "document"] = "passage"
    split: str | None = None
    corpus: dict[str, dict] | None = None

    @property
    def answerable(self) -> list[Question]:
        return [q for q in self.questions if q.answerable]

    def describe(self) -> dict:
        return {
            "name": self.name,
            "path": str(self.path),
            "format": self.format,
            "split": self.split,
            "questions": len(self.questions),
            "answerable": len(self.answerable),
            "unanswerable_excluded": len(self.questions) - len(self.answerable),
        }


def load_set(path: Path, split: str | None = None) -> EvalSet:
    """A JSONL file or a BEIR folder (``split`` defaults to test, else dev, else train)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return load_beir_set(path, split)
    if not path.is_file():
        raise EvalSetError(f"{path}: no such eval set (give a .jsonl file or a BEIR folder)")
    return load_jsonl_set(path)


def load_jsonl_set(path: Path) -> EvalSet:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSetError(f"{path}: cannot read ({exc})") from exc
    questions: list[Question] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: not valid JSON ({exc.msg})") from exc
        if not isinstance(item, dict) or "question" not in item:
            raise EvalSetError(f"{where}: needs at least 'question' (and 'relevant' labels)")
        qid = str(item.get("id") or f"q{number}")
        if qid in seen:
            raise EvalSetError(f"{where}: duplicate id {qid!r}; ids must be unique")
        seen.add(qid)
        answerable = bool(item.get("answerable", True))
        labels = []
        for rel in item.get("relevant") or []:
            if not isinstance(rel, dict) or not rel.get("source"):
                raise EvalSetError(f"{where}: every 'relevant' entry needs a 'source'")
            labels.append(
                Label(
                    source=str(rel["source"]),
                    evidence=rel.get("evidence") or None,
                    page=rel.get("page"),
                )
            )
        if answerable and not labels:
            raise EvalSetError(
                f"{where}: answerable question {qid!r} has no 'relevant' labels "
                "(add {source, evidence} or set answerable to false)"
            )
        questions.append(
            Question(
                id=qid,
                text=str(item["question"]),
                answerable=answerable,
                labels=labels,
                kind=str(item.get("kind", "")),
                answer=str(item.get("answer") or ""),
                lang=str(item.get("lang") or ""),
                near_miss=bool(item.get("near_miss", False)),
                split=str(item.get("split") or ""),
            )
        )
    if not questions:
        raise EvalSetError(f"{path}: holds no questions")
    return EvalSet(name=path.stem, path=path, format="jsonl", questions=questions)


# BEIR corpora are ingested once into a cached home each (see ``cache_home``)
CACHE = Path.home() / ".cache" / "sharpnotes" / "beir"


def cache_home(folder: Path) -> Path:
    """The cached index home of a data set, keyed by its path and number of documents."""
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        documents = sum(1 for line in fh if line.strip())
    key = hashlib.sha1((folder.resolve().as_posix() + str(documents)).encode()).hexdigest()[:12]
    return CACHE / f"{folder.name}-{key}" / "home"


def load_beir(
    folder: Path, split: str
) -> tuple[dict[str, dict], dict[str, str], dict[str, dict[str, int]]]:
    corpus = {}
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = doc
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            q = json.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
        next(fh)  # header
        for line in fh:
            qid, did, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[did] = int(score)
    return corpus, {q: queries[q] for q in qrels if q in queries}, qrels


def write_notes(corpus: dict[str, dict], folder: Path) -> None:
    """One Markdown note per document, named by its id."""
    folder.mkdir(parents=True, exist_ok=True)
    for did, doc in corpus.items():
        path = folder / f"{did}.md"
        title = " ".join(str(doc.get("title") or did).split())
        text = f"# {title}\n\n{doc.get('text', '')}\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def load_beir_set(folder: Path, split: str | None = None) -> EvalSet:
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise EvalSetError(f"{folder}: not a BEIR folder (missing {name})")
    splits = [split] if split else [s for s in SPLITS if (folder / "qrels" / f"{s}.tsv").is_file()]
    if not splits or not (folder / "qrels" / f"{splits[0]}.tsv").is_file():
        raise EvalSetError(f"{folder}: no qrels/{split or 'test'}.tsv (BEIR layout expected)")
    try:
        corpus, queries, qrels = load_beir(folder, splits[0])
    except (OSError, ValueError, KeyError) as exc:
        raise EvalSetError(f"{folder}: cannot read the BEIR files ({exc})") from exc
    questions = [
        Question(
            id=qid,
            text=text,
            labels=[
                Label(source=f"{did}.md", grade=grade)
                for did, grade in sorted(qrels[qid].items())
                if grade > 0
            ],
        )
        for qid, text in queries.items()
    ]
    for q in questions:
        q.answerable = bool(q.labels)
    return EvalSet(
        name=f"{folder.name}-{splits[0]}",
        path=folder,
        format="beir",
        questions=questions,
        level="document",
        split=splits[0],
        corpus=corpus,
    )


def question_to_dict(q: Question) -> dict:
    """A question in the project's JSONL format."""
    out: dict = {"id": q.id, "question": q.text, "answerable": q.answerable}
    if q.kind:
        out["kind"] = q.kind
    out["relevant"] = [label.to_dict() for label in q.labels]
    for name in ("answer", "lang", "split"):
        if getattr(q, name):
            out[name] = getattr(q, name)
    if q.near_miss:
        out["near_miss"] = True
    return out


def write_jsonl(path: Path, questions: list[Question]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(question_to_dict(q), ensure_ascii=False) for q in questions]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def evalsets_dir(home: Path) -> Path:
    """Where generated and chat-derived sets are kept: ``SHARPNOTES_HOME/evalsets``."""
    return home / "evalsets"


def user_sets(home: Path) -> list[Path]:
    """The user's sets under ``HOME/evalsets``, newest first."""
    folder = evalsets_dir(home)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jsonl"), key=lambda p: -p.stat().st_mtime)


def indexes_sample_notes(sources: set[str]) -> bool:
    """Whether an index holding ``sources`` is the sample notes the sample set labels."""
    labelled = {lab.source for q in load_jsonl_set(SAMPLE_SET).questions for lab in q.labels}
    return len(labelled & sources) >= 0.8 * len(labelled)


def default_set(home: Path, sources: set[str]) -> Path:
    """The sample set when the index holds the sample notes, else the user's newest set."""
    if SAMPLE_SET.is_file() and indexes_sample_notes(sources):
        return SAMPLE_SET
    mine = user_sets(home)
    if mine:
        return mine[0]
    raise EvalSetError(
        f"no eval set for the notes in {home}: run `sharpnotes eval generate` to make one "
        "from your notes, or pass --set PATH (a .jsonl set or a BEIR folder)"
    )
