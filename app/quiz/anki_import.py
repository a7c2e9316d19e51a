"""Import an Anki deck (``.apkg``) into the review store, so Anki cards and note cards share one
review queue.

An ``.apkg`` is a zip holding a SQLite collection: ``collection.anki21`` (Anki 2.1) or
``collection.anki2`` (older), with the note types and decks as JSON in the ``col`` table and
each note's fields joined by ``\\x1f``. Anki 2.1.50+ writes ``collection.anki21b`` instead
(unless "Support older Anki versions" is ticked) beside a stub ``collection.anki2`` that only
asks to update Anki: a zstd-compressed SQLite file of schema 18, where note types, fields and
decks have tables of their own (a note type's kind, cloze or not, is field 1 of its protobuf
``config``; a nested deck's name joins its parts with ``\\x1f``). Both are read.

Basic notes (any standard note type: the first field asks, the second answers; a reverse card
when the note has one) become flip (recall) cards; Cloze notes one cloze item per number. Field
HTML becomes plain text with Markdown emphasis and ``$`` math (it is shown as text, never as
HTML); images become ``[image: name]``. An imported item has no note passage: it cites
``anki:<deck>`` and is left alone by staleness, coverage and topics. Cards come in as new
(their Anki history is not read); cards suspended in Anki stay suspended.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

from sharpnotes.app.quiz.items import ANKI_PREFIX, Citation, QuizItem
from sharpnotes.app.quiz.store import ReviewStore
from sharpnotes.ingest.cards import CLOZE_MARK, anki_clozes

GENERATOR = "anki"
CLASSIC = ("collection.anki21", "collection.anki2")  # newest first
NEW_FORMAT = "collection.anki21b"
CLOZE_TYPE = 1  # a note type's "type" in the col.models JSON: 0 standard, 1 cloze
SUSPENDED_QUEUE = -1


class AnkiImportError(ValueError):
    """The file cannot be imported; the message names it and says what to do."""


@dataclass
class ImportReport:
    deck: str
    basic: int = 0
    cloze: int = 0
    added: int = 0  # items new to the store (a re-import adds none)
    suspended: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> notes
    item_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        skipped = sum(self.skipped.values())
        why = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        return (
            f"{self.deck}: {self.basic} flip cards and {self.cloze} clozes read, {self.added} "
            f"new in your review queue ({self.suspended} suspended as in Anki)"
            + (f"; skipped {skipped} notes ({why})" if skipped else "")
        )


# HTML -> text --------------------------------------------------------------------------------
_BLOCK = {"div", "p", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
_EMPHASIS = {"b": "**", "strong": "**", "i": "*", "em": "*"}
_DROP = {"script", "style", "head", "title"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self.dropping += 1
        elif tag == "br" or tag in _BLOCK:
            self.out.append("\n")
            if tag == "li":
                self.out.append("- ")
        elif tag in _EMPHASIS:
            self.out.append(_EMPHASIS[tag])
        elif tag == "code":
            self.out.append("`")
        elif tag == "img":
            src = dict(attrs).get("src") or ""
            self.out.append(f"[image: {src}]")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCK:
            self.out.append("\n")
        elif tag in _EMPHASIS:
            self.out.append(_EMPHASIS[tag])
        elif tag == "code":
            self.out.append("`")

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(data)


_MATHJAX = re.compile(r"\\\((?P<inline>.+?)\\\)|\\\[(?P<display>.+?)\\\]", re.S)


def field_text(html: str) -> str:
    """An Anki field as plain text: tags gone (line breaks and lists kept, bold and italics as
    Markdown, images as ``[image: name]``, scripts dropped), entities decoded, MathJax
    ``\\( \\)`` / ``\\[ \\]`` as ``$ $`` / ``$$ $$``."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    text = unescape("".join(parser.out)).replace("\xa0", " ")
    text = _MATHJAX.sub(
        lambda m: (
            f"${m['inline'].strip()}$" if m["inline"] is not None else f"$${m['display'].strip()}$$"
        ),
        text,
    )
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# reading the collection ----------------------------------------------------------------------
@dataclass
class _Note:
    guid: str
    model_id: int
    model: dict
    fields: list[str]
    deck: str
    card_ords: set[int]
    suspended_ords: set[int]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def notetype_kind(config: bytes) -> int:
    """Field 1 (``kind``: 0 normal, 1 cloze) of a schema-18 note type's protobuf config; the
    other fields are skipped by their wire type."""
    pos = 0
    while pos < len(config):
        key, pos = _varint(config, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(config, pos)
            if number == 1:
                return value
        elif wire == 2:
            length, pos = _varint(config, pos)
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"wire type {wire}")
    return 0


def _decompress(archive: zipfile.ZipFile, workdir: Path, source: Path) -> Path:
    """``collection.anki21b`` unpacked (zstd) to a SQLite file in ``workdir``."""
    try:
        import zstandard
    except ImportError:
        raise AnkiImportError(
            f"{source}: this deck is in Anki's new format (collection.anki21b), which needs "
            "zstandard: pip install zstandard"
        ) from None
    target = workdir / (NEW_FORMAT + ".sqlite")
    try:
        with (
            archive.open(NEW_FORMAT) as packed,
            target.open("wb") as out,
            zstandard.ZstdDecompressor().stream_reader(packed) as reader,
        ):
            while chunk := reader.read(1 << 20):
                out.write(chunk)
    except zstandard.ZstdError as exc:
        raise AnkiImportError(
            f"{source}: collection.anki21b is not a zstd-compressed collection ({exc}); export "
            "the deck from Anki again"
        ) from exc
    return target


def _collection(path: Path, workdir: Path) -> Path:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AnkiImportError(
            f"{path}: not an Anki deck (an .apkg is a zip file); export one from Anki with "
            "File > Export > Anki Deck Package"
        ) from exc
    with archive:
        names = set(archive.namelist())
        if NEW_FORMAT in names and "collection.anki21" not in names:  # anki2 beside it: a stub
            return _decompress(archive, workdir, path)
        found = next((n for n in CLASSIC if n in names), None)
        if found is None:
            raise AnkiImportError(f"{path}: no Anki collection in this zip; is it an .apkg?")
        archive.extract(found, workdir)
    return workdir / found


def _models_and_decks(db: sqlite3.Connection) -> tuple[dict, dict[int, str]]:
    """(note type id -> {"type": kind}, deck id -> "Parent::Child") of either schema."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "notetypes" in tables:  # schema 18 (collection.anki21b)
        models = {
            str(ntid): {"type": notetype_kind(bytes(config or b""))}
            for ntid, config in db.execute("SELECT id, config FROM notetypes")
        }
        decks = {
            int(did): str(name).replace("\x1f", "::")
            for did, name in db.execute("SELECT id, name FROM decks")
        }
        return models, decks
    models_json, decks_json = db.execute("SELECT models, decks FROM col").fetchone()
    decks = {int(k): v.get("name", "") for k, v in json.loads(decks_json).items()}
    return json.loads(models_json), decks


def _read_notes(db_path: Path, source: Path) -> list[_Note]:
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            models, decks = _models_and_decks(db)
            cards: dict[int, list[tuple[int, int, int]]] = {}
            for nid, did, ord_, queue in db.execute("SELECT nid, did, ord, queue FROM cards"):
                cards.setdefault(nid, []).append((did, ord_, queue))
            rows = db.execute("SELECT id, guid, mid, flds FROM notes ORDER BY id").fetchall()
        finally:
            db.close()
    except (sqlite3.DatabaseError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise AnkiImportError(
            f"{source}: the Anki collection inside cannot be read ({exc})"
        ) from exc
    notes = []
    for nid, guid, mid, flds in rows:
        mine = cards.get(nid, [])
        deck = decks.get(mine[0][0], "") if mine else ""
        notes.append(
            _Note(
                guid=str(guid),
                model_id=int(mid),
                model=models.get(str(mid), {}),
                fields=str(flds).split("\x1f"),
                deck=deck or "Default",
                card_ords={o for _, o, _ in mine},
                suspended_ords={o for _, o, q in mine if q == SUSPENDED_QUEUE},
            )
        )
    return notes


def _items(note: _Note) -> tuple[list[tuple[QuizItem, bool]], str | None]:
    """(item, suspended) pairs of a note, or the reason it is skipped."""

    def citation(n: int) -> Citation:
        return Citation(f"{ANKI_PREFIX}{note.guid}:{n}", ANKI_PREFIX + note.deck, "")

    texts = [field_text(f) for f in note.fields]
    if note.model.get("type") == CLOZE_TYPE:
        out = []
        for n, (question, answer) in enumerate(anki_clozes(texts[0] if texts else "")):
            question = question.replace(CLOZE_MARK, "____")
            item = QuizItem(
                "cloze", question, answer, answer, "", citation(n),
                key_points=[answer], generator=GENERATOR,
            )  # fmt: skip
            out.append((item, n in note.suspended_ords))
        return out, None if out else "cloze notes without a {{c1::...}} deletion"
    if len(texts) < 2 or not texts[0] or not texts[1]:
        return [], "notes without a front and a back"
    front, back = texts[0], texts[1]
    out = [(_recall(front, back, citation(0)), 0 in note.suspended_ords)]
    if 1 in note.card_ords:  # "Basic (and reversed card)": Anki made the other way too
        out.append((_recall(back, front, citation(1)), 1 in note.suspended_ords))
    return out, None


def _exported_item(note: _Note) -> str | None:
    """The id of the item a note of sharpnotes' own export holds (the note type's last
    field, "ItemId"), or None for any other note."""
    from sharpnotes.app.quiz.anki import MODEL_ID

    if note.model_id != MODEL_ID or not note.fields:
        return None
    return field_text(note.fields[-1]).strip() or None


def _recall(question: str, answer: str, citation: Citation) -> QuizItem:
    from sharpnotes.app.quiz.handwritten import key_points

    return QuizItem(
        "recall", question, answer, answer, "", citation,
        key_points=key_points(answer), generator=GENERATOR,
    )  # fmt: skip


def import_apkg(path: Path, store: ReviewStore) -> ImportReport:
    """Read the deck at ``path`` and add its cards to ``store`` in one transaction (a file that
    cannot be read changes nothing). Importing the same deck again adds nothing."""
    with tempfile.TemporaryDirectory(prefix="sharpnotes-apkg-") as tmp:
        notes = _read_notes(_collection(path, Path(tmp)), path)
    decks = sorted({n.deck for n in notes})
    report = ImportReport(deck=", ".join(decks) if decks else path.name)
    made: list[QuizItem] = []
    held: list[str] = []
    for note in notes:
        if (mine := _exported_item(note)) and store.get(mine) is not None:
            # a deck sharpnotes exported: the item is in the queue already, with its history
            why = "cards exported from sharpnotes that are in your queue already"
            report.skipped[why] = report.skipped.get(why, 0) + 1
            continue
        pairs, skipped = _items(note)
        if skipped:
            report.skipped[skipped] = report.skipped.get(skipped, 0) + 1
        for item, suspended in pairs:
            made.append(item)
            if suspended:
                held.append(item.id)
            if item.type == "cloze":
                report.cloze += 1
            else:
                report.basic += 1
    added = set(store.add_items(made))
    report.added = len(added)
    report.suspended = len(store.set_suspended([i for i in held if i in added]))
    report.item_ids = [i.id for i in made]
    return report
