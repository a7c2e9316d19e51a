r"""Export quiz items to an Anki deck (``.apkg``, written by genanki). The front is the question
(with the choices for MCQ); the back is the answer, the evidence from the passage and the source
citation, so a card can always be traced to the note it came from. Math is written the way Anki
renders it: ``$...$`` as MathJax ``\(...\)`` and ``$$...$$`` as ``\[...\]``. (Importing a deck is
``anki_import``.)"""

from __future__ import annotations

from html import escape
from pathlib import Path

from sharpnotes.app.quiz.items import QuizItem
from sharpnotes.ingest.text import MATH

MODEL_ID = 1_607_392_319  # fixed, so re-exports update the same note type in Anki
DECK_ID = 2_059_400_110
CSS = """.card { font-family: sans-serif; font-size: 18px; text-align: left; }
.evidence { background: #fff3a3; padding: .2em; }
.source { color: #666; font-size: 14px; }"""


def citation_text(item: QuizItem) -> str:
    """'detection/detr.md › DETR > Loss · p.3' (plain text)."""
    cit = item.citation
    page = f" · p.{cit.page}" if cit.page else ""
    heading = f" › {cit.heading}" if cit.heading else ""
    return f"{cit.source}{heading}{page}"


def field_html(text: str) -> str:
    """Note text for an Anki field: HTML escaped (shown as text), math as MathJax."""
    return MATH.sub(
        lambda m: rf"\[{m['display']}\]" if m["display"] is not None else rf"\({m['inline']}\)",
        escape(text),
    )


def _front(item: QuizItem) -> str:
    text = field_html(item.question)
    if item.type == "mcq" and item.options:
        choices = "".join(f"<li>{field_html(o)}</li>" for o in item.options)
        text += f'<ol type="A">{choices}</ol>'
    return text


def export_anki(items: list[QuizItem], out: Path, deck_name: str = "sharpnotes") -> int:
    """Write ``items`` to ``out`` as one deck; returns the number of cards. Note text is escaped:
    it is shown as text in Anki, never run as HTML."""
    import genanki

    model = genanki.Model(
        MODEL_ID,
        "sharpnotes quiz item",
        fields=[
            {"name": "Question"},
            {"name": "Answer"},
            {"name": "Evidence"},
            {"name": "Source"},
            {"name": "ItemId"},
        ],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Question}}",
                "afmt": '{{FrontSide}}<hr id="answer"><b>{{Answer}}</b>'
                '<p class="evidence">{{Evidence}}</p><p class="source">{{Source}}</p>',
            }
        ],
        css=CSS,
    )
    deck = genanki.Deck(DECK_ID, deck_name)
    for item in items:
        deck.add_note(
            genanki.Note(
                model=model,
                fields=[
                    _front(item),
                    field_html(item.answer),
                    field_html(item.evidence),
                    escape(citation_text(item)),
                    item.id,
                ],
                guid=genanki.guid_for(item.id),
                tags=[item.type],
            )
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    genanki.Package(deck).write_to_file(str(out))
    return len(items)
