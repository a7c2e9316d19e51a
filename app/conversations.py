"""Saved conversations: one JSON file each under ``HOME/conversations``, written atomically."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sharpnotes.ingest.atomic import write_json_atomic
from sharpnotes.ingest.formats import StoredFormatError, check_version
from sharpnotes.ingest.settings import Settings

log = logging.getLogger(__name__)
_ID = re.compile(r"^[0-9a-f]{32}$")
SCHEMA_VERSION = 1  # the "schema" key of a saved file; files saved before it had none (= 1)


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    turns: list[dict[str, Any]] = field(default_factory=list)  # {"question", "answer": dict}

    @property
    def questions(self) -> list[str]:
        return [t["question"] for t in self.turns]

    def add_turn(self, question: str, answer: dict[str, Any]) -> None:
        self.turns.append({"question": question, "answer": answer})
        self.title = self.title or question[:80]
        self.updated = time.time()


def _folder(settings: Settings) -> Path:
    return settings.paths.home / "conversations"


def _path(settings: Settings, conv_id: str) -> Path:
    if not _ID.match(conv_id):  # ids name files: never let one be a path
        raise ValueError(f"not a conversation id: {conv_id!r}")
    return _folder(settings) / f"{conv_id}.json"


def save_conversation(settings: Settings, conv: Conversation) -> Path:
    path = _path(settings, conv.id)
    write_json_atomic(path, {"schema": SCHEMA_VERSION, **asdict(conv)})
    return path


def load_conversation(settings: Settings, conv_id: str) -> Conversation:
    path = _path(settings, conv_id)
    data = json.loads(path.read_text(encoding="utf-8"))
    check_version(path, "conversation", data.pop("schema", 1), SCHEMA_VERSION)
    return Conversation(**data)  # a migration from an older schema would go here


def list_conversations(settings: Settings) -> list[Conversation]:
    """Saved conversations, most recently updated first; unreadable files are skipped."""
    folder = _folder(settings)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob("*.json"):
        if not _ID.match(path.stem):
            continue
        try:
            out.append(load_conversation(settings, path.stem))
        except (OSError, ValueError, TypeError):
            continue
        except StoredFormatError as exc:  # a newer sharpnotes wrote it: leave it alone
            log.warning("%s", exc)
    return sorted(out, key=lambda c: -c.updated)


def delete_conversation(settings: Settings, conv_id: str) -> bool:
    path = _path(settings, conv_id)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
