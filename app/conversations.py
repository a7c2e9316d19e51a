"""Saved conversations: one JSON file each under ``HOME/conversations``, written atomically."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.atomic import write_json_atomic
from ingest.settings import Settings

_ID = re.compile(r"^[0-9a-f]{32}$")


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
    return settings.home / "conversations"


def _path(settings: Settings, conv_id: str) -> Path:
    if not _ID.match(conv_id):  # ids name files: never let one be a path
        raise ValueError(f"not a conversation id: {conv_id!r}")
    return _folder(settings) / f"{conv_id}.json"


def save_conversation(settings: Settings, conv: Conversation) -> Path:
    path = _path(settings, conv.id)
    write_json_atomic(path, asdict(conv))
    return path


def load_conversation(settings: Settings, conv_id: str) -> Conversation:
    data = json.loads(_path(settings, conv_id).read_text(encoding="utf-8"))
    return Conversation(**data)


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
    return sorted(out, key=lambda c: -c.updated)


def delete_conversation(settings: Settings, conv_id: str) -> bool:
    path = _path(settings, conv_id)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed
