"""The syllabus: the topics a learner wants to stay sharp on, read from a YAML file they own.

The file is ``syllabus.yaml`` (or ``.yml``) at the top of the notes folder; a folder without one
gets the default shipped inside the package (ML / computer vision / autonomous-driving interview
topics). sharpnotes never rewrites the user's file: passages pinned to or unpinned from a topic
are kept in ``HOME/topic_pins.json`` (see ``Pins``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sharpnotes.ingest.atomic import write_json_atomic
from sharpnotes.ingest.settings import Settings

# a topic name spelled this much like what was typed (difflib's ratio) is worth suggesting
SPELLED_ALIKE = 0.75

SYLLABUS_NAMES = ("syllabus.yaml", "syllabus.yml")
PINS_NAME = "topic_pins.json"
PINS_FORMAT = 1
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class SyllabusError(ValueError):
    """The syllabus file cannot be used; the message names the file and what to fix."""


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    title_zh: str = ""
    area: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        """Every name the topic goes by: its id, titles and aliases, in both languages."""
        out = [self.id.replace("-", " "), self.title, self.title_zh, *self.aliases]
        return [name for name in dict.fromkeys(n.strip() for n in out) if name]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "title_zh": self.title_zh,
            "area": self.area,
            "description": self.description,
            "aliases": list(self.aliases),
            "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Syllabus:
    topics: tuple[Topic, ...]
    path: Path | None  # None: the packaged default

    def get(self, topic_id: str) -> Topic:
        for topic in self.topics:
            if topic.id == topic_id:
                return topic
        near = self.closest(topic_id)
        known = ", ".join(t.id for t in near or self.topics[:8])
        what = "the closest" if near else "known topics include"
        raise SyllabusError(
            f"no topic {topic_id!r} in {self.where}; {what}: {known}; all of them: sharpnotes "
            "topics (a topic of your own goes in syllabus.yaml in your notes folder)"
        )

    def closest(self, text: str, n: int = 3) -> list[Topic]:
        """Up to ``n`` topics whose names look like ``text``: most words shared (of four
        letters or more), then the most alike spelling."""
        import difflib

        wanted = " ".join(text.lower().replace("-", " ").split())
        words = {w for w in wanted.split() if len(w) >= 4}

        def likeness(topic: Topic) -> tuple[int, float]:
            names = [n.lower().replace("-", " ") for n in (topic.id, *topic.names)]
            shared = max(len(words & set(name.split())) for name in names)
            spelled = max(difflib.SequenceMatcher(None, wanted, name).ratio() for name in names)
            return shared, spelled

        ranked = sorted(((likeness(t), t) for t in self.topics), key=lambda p: p[0], reverse=True)
        return [t for (shared, spelled), t in ranked[:n] if shared or spelled >= SPELLED_ALIKE]

    def find(self, text: str) -> Topic:
        """A topic by id, or by a title or alias written as the user types it; else the one
        whose id, title or aliases hold what was typed ("two-tower" finds the topic aliased
        "two-tower model") when only one does."""
        wanted = text.strip().lower()
        for topic in self.topics:
            if topic.id == wanted or wanted in (n.lower() for n in topic.names):
                return topic
        near = self.near(wanted)
        if len(near) == 1:
            return near[0]
        if near:
            listed = "; ".join(f"{t.id} ({t.title})" for t in near[:5])
            raise SyllabusError(f"{text!r} names several topics: {listed}; give one of those ids")
        return self.get(wanted)

    def near(self, text: str) -> list[Topic]:
        """The topics whose id, title or an alias holds ``text`` (hyphens read as spaces)."""
        wanted = " ".join(text.lower().replace("-", " ").split())
        if len(wanted) < 3:
            return []
        return [
            t
            for t in self.topics
            if any(wanted in n.lower().replace("-", " ") for n in (t.id, *t.names))
        ]

    @property
    def where(self) -> str:
        return str(self.path) if self.path else "the default syllabus"


def syllabus_file(notes_dir: Path | None) -> Path | None:
    if notes_dir is None:
        return None
    for name in SYLLABUS_NAMES:
        if (notes_dir / name).is_file():
            return notes_dir / name
    return None


def load_syllabus(notes_dir: Path | None = None) -> Syllabus:
    """The user's syllabus in ``notes_dir``, else the packaged default."""
    path = syllabus_file(notes_dir)
    if path is None:
        text = resources.files("sharpnotes.app").joinpath("syllabus.yaml").read_text("utf-8")
        return parse_syllabus(text, None)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SyllabusError(f"cannot read {path} ({exc}); fix or remove it") from exc
    return parse_syllabus(text, path)


def parse_syllabus(text: str, path: Path | None) -> Syllabus:
    import yaml

    where = str(path) if path else "the default syllabus"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise SyllabusError(f"{where}{line} is not valid YAML; fix it or remove it") from exc
    rows = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise SyllabusError(f"{where} has no 'topics:' list; see the default syllabus.yaml")
    topics: list[Topic] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not row.get("id") or not row.get("title"):
            raise SyllabusError(f"{where}: topic {n} needs an id and a title")
        topic_id = str(row["id"]).strip().lower()
        if not _ID.match(topic_id) or topic_id in seen:
            raise SyllabusError(
                f"{where}: topic id {topic_id!r} must be unique, lower-case letters, digits, '-'"
            )
        seen.add(topic_id)
        topics.append(
            Topic(
                id=topic_id,
                title=str(row["title"]).strip(),
                title_zh=str(row.get("title_zh") or "").strip(),
                area=str(row.get("area") or "").strip(),
                description=" ".join(str(row.get("description") or "").split()),
                aliases=_strings(row.get("aliases")),
                tags=tuple(t.lower().lstrip("#") for t in _strings(row.get("tags"))),
            )
        )
    return Syllabus(tuple(topics), path)


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


@dataclass
class Pins:
    """Passages the user pinned to a topic or took away from it, by chunk id; they override the
    linker. Kept in HOME (the syllabus file is the user's and is never rewritten)."""

    pinned: dict[str, list[str]] = field(default_factory=dict)
    unpinned: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, settings: Settings) -> Pins:
        path = pins_path(settings)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SyllabusError(f"cannot read {path} ({exc}); fix or delete it") from exc
        if data.get("format", 0) > PINS_FORMAT:
            raise SyllabusError(f"{path} was written by a newer sharpnotes; upgrade sharpnotes")
        return cls(data.get("pinned", {}), data.get("unpinned", {}))

    def save(self, settings: Settings) -> None:
        data = {"format": PINS_FORMAT, "pinned": self.pinned, "unpinned": self.unpinned}
        write_json_atomic(pins_path(settings), data, indent=1)

    def pin(self, topic_id: str, chunk_id: str) -> None:
        _drop(self.unpinned, topic_id, chunk_id)
        self.pinned.setdefault(topic_id, [])
        if chunk_id not in self.pinned[topic_id]:
            self.pinned[topic_id].append(chunk_id)

    def unpin(self, topic_id: str, chunk_id: str) -> None:
        _drop(self.pinned, topic_id, chunk_id)
        self.unpinned.setdefault(topic_id, [])
        if chunk_id not in self.unpinned[topic_id]:
            self.unpinned[topic_id].append(chunk_id)


def _drop(table: dict[str, list[str]], topic_id: str, chunk_id: str) -> None:
    if chunk_id in table.get(topic_id, []):
        table[topic_id].remove(chunk_id)


def pins_path(settings: Settings) -> Path:
    return settings.paths.home / PINS_NAME
