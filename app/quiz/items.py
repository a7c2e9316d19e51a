"""The quiz item: what generation makes, grading reads, the review store keeps and
``sharpnotes quiz --json`` prints (its ``to_dict`` shape is a contract)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

ItemType = Literal["mcq", "cloze", "recall"]
CARD_GENERATOR = "notes"  # provenance of an item the learner wrote (a card of their notes)
ANKI_PREFIX = "anki:"  # the citation source of an item imported from an Anki deck: anki:<deck>
ITEM_TYPES: tuple[ItemType, ...] = ("mcq", "cloze", "recall")


@dataclass(frozen=True)
class Citation:
    chunk_id: str
    source: str
    heading: str
    page: int | None = None

    def to_dict(self) -> dict:
        return {
            "chunk_id": self.chunk_id,
            "source": self.source,
            "heading": self.heading,
            "page": self.page,
        }


@dataclass
class QuizItem:
    """One question made from one passage.

    ``evidence`` is copied verbatim from ``passage``; for cloze and MCQ it contains ``answer``.
    ``key_points`` are the recall rubric (short phrases from the passage); ``content_hash`` is the
    passage's hash when the item was made, so an edited note marks the item stale.
    """

    type: ItemType
    question: str
    answer: str
    evidence: str
    passage: str
    citation: Citation
    options: list[str] | None = None
    key_points: list[str] = field(default_factory=list)
    content_hash: str = ""
    generator: str = "offline"
    # the id an item keeps when its text is not the text it was made with: once the learner
    # has edited it (set by the review store), or a card shown with its topic (``handwritten``)
    stored_id: str | None = field(default=None, compare=False, repr=False)

    @property
    def id(self) -> str:
        """Stable over re-generation of the same question from the same passage."""
        if self.stored_id:
            return self.stored_id
        key = "\x1f".join((self.type, self.citation.chunk_id, self.question, self.answer))
        return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]

    @property
    def imported(self) -> bool:
        """Imported from an Anki deck: no note passage behind it."""
        return self.citation.source.startswith(ANKI_PREFIX)

    def to_dict(self) -> dict:
        """The ``--json`` contract: id, type, question, options (mcq only), answer, evidence,
        passage, citation."""
        out: dict = {"id": self.id, "type": self.type, "question": self.question}
        if self.type == "mcq":
            out["options"] = list(self.options or [])
        out.update(
            answer=self.answer,
            evidence=self.evidence,
            passage=self.passage,
            citation=self.citation.to_dict(),
        )
        return out

    def to_record(self) -> dict:
        """Everything, for storage (the contract fields plus the rubric and provenance)."""
        return self.to_dict() | {
            "options": self.options,
            "key_points": list(self.key_points),
            "content_hash": self.content_hash,
            "generator": self.generator,
        }

    @classmethod
    def from_record(cls, data: dict) -> QuizItem:
        cit = data["citation"]
        return cls(
            type=data["type"],
            question=data["question"],
            answer=data["answer"],
            evidence=data["evidence"],
            passage=data["passage"],
            citation=Citation(cit["chunk_id"], cit["source"], cit["heading"], cit.get("page")),
            options=data.get("options"),
            key_points=list(data.get("key_points") or []),
            content_hash=data.get("content_hash", ""),
            generator=data.get("generator", "offline"),
        )
