"""What one passage gives a topic digest (``app.digest``): its lines, each readable alone.

In other people's notes too: a card (``ingest.cards``: a Q/A pair, a bold question over its
answer) is never cut, its question is never a fact, and its answer is one interview-question line
when it is one paragraph, else a line per block with the question before it; a line is read
without HTML tags; a fragment that says nothing alone (a group's name, a lead-in with nothing
after it, one or two words) is left out. Each line goes to a section: definition, details,
pitfalls or interview questions (``classify``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from sharpnotes.app.extractive import BARE_LABEL_WORDS, above, item_name
from sharpnotes.app.topics import Names, Text, note_names
from sharpnotes.ingest.cards import find_cards, open_questions
from sharpnotes.ingest.text import (
    ATOMIC,
    BLANK_LINE,
    CJK_CHARS,
    HEADING_SEP,
    Block,
    Unit,
    UnitKind,
    blocks,
    html_as_text,
    is_lead_in,
    is_question,
    is_todo,
    list_marker,
    list_parents,
    tokens,
    units,
)

if TYPE_CHECKING:
    from sharpnotes.ingest.catalog import Catalog, ChunkRow

Section = Literal["definition", "details", "pitfalls", "questions"]
SECTIONS: tuple[Section, ...] = ("definition", "details", "pitfalls", "questions")

# what marks a pitfall or a definition, in English and Chinese notes alike
_PITFALL = re.compile(
    r"pitfall|gotcha|caveat|mistake|careful|beware|watch out|trap|don'?t|do not|never|avoid|"
    r"wrong|fails?\b|failure mode|bug|common error|"
    # not 別 alone (類別 is "class"), nor 注意 in 注意力 ("attention")
    r"坑|陷阱|注意(?!力)|小心|別忘|別被|別用|不要|不能|誤判|錯誤|會壞",
    re.IGNORECASE,
)
# ... and, as a section's heading, what speaks against something: "Cons", "Limitations", "缺點"
_AGAINST = re.compile(
    r"^(?:cons|drawbacks?|limitations?|disadvantages?|weakness(?:es)?|downsides?|"
    r"缺點|限制|弱點|局限)$",
    re.IGNORECASE,
)
# what the design does when a part fails ("fallback: if the camera fails -> lidar-only mode") is
# a plan for a failure, not a pitfall of the topic
_FALLBACK = re.compile(
    r"\b(?:if|when|whenever|in case)\b[^,.;:!?，。；]{0,40}?\b(?:fails?|failure|dies|breaks)\b"
    r"|\bfail[- ]?(?:over|safe)\b|\bfallbacks?\b",
    re.IGNORECASE,
)
_DEFINITION = re.compile(
    r"\b(is|are) (a|an|the)\b|\bmeans\b|\brefers to\b|\bdefined as\b|:=|是一種|指的是|定義|就是",
    re.IGNORECASE,
)
_QUESTION = re.compile(r"^\s*(Q\s*[:：]|Q\d|問[:：]|A\s*[:：]|答[:：])")
# a sentence on the note itself, not on its subject: "這篇整理我實際用過的幾種做法。", "面試常問，
# 整理一下自己的理解。", "In this note I collect ...", "My notes on X are below."
_ON_THE_NOTE = re.compile(
    r"\b(?:this|these|my) notes?\b|\bin this (?:note|page)\b|\bnote to self\b"
    r"|(?:這篇|本篇)(?!論文|文章|paper)|這份筆記|這頁|整理一下|整理如下",
    re.IGNORECASE,
)


# html_as_text leaves other tags for a renderer to show inert; a digest line is read as text, so
# they go, and comments with what they hide; code spans and math stay as written ("`<div>`")
_TAG = re.compile(
    r"(?P<keep>(?P<ticks>`+).+?(?P=ticks)|\$\$.+?\$\$|\$[^$\n]+\$)"
    r"|<!--.*?(?:-->|$)|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>",
    re.DOTALL,
)
# a sentence that opens by pointing back ("It is fast, but ...", "它很快，但是 ...") says nothing
# alone: its subject is in the sentence before it, so it stays with that one
_POINTS_BACK = re.compile(
    r"^(?:it|it'?s|its|this|these|they|their|such|both|either)\b|^(?:它|這|此|其|兩者|他們)",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"\s*[*_]*(?:A|答)[*_]*\s*[:：]")
_BLOCK_UNIT: dict[str, UnitKind] = {
    "paragraph": "sentence",
    "quote": "sentence",
    "list": "list",
    "code": "code",
    "math": "formula",
    "table": "table",
}


def classify(unit: Unit, heading: str, first: bool) -> Section:
    """Where a unit goes: a Q/A line or a question is a question, never a fact; a pitfall by
    its section's heading; the opening sentences of a note's first section are the definition
    (an introduction that names what can go wrong announces pitfalls, it states none); then a
    pitfall by its words, a sentence that defines is the definition, the rest are details."""
    text = unit.clean
    prose = unit.kind in ("sentence", "list")
    if _QUESTION.match(text) or (prose and asks(text)):
        return "questions"
    section = heading.split(HEADING_SEP)[-1].strip()
    if _PITFALL.search(section) or _AGAINST.match(section):
        return "pitfalls"
    if unit.kind == "sentence" and first:
        return "definition"
    if prose and _PITFALL.search(_FALLBACK.sub(" ", text)):
        return "pitfalls"
    if unit.kind == "sentence" and _DEFINITION.search(text):
        return "definition"
    return "details"


def asks(text: str) -> bool:
    """A question (``is_question``), not a sentence that ends by quoting one ('Prep for "ViT or
    CNN?"', '... if asked "does it hold?".') or with one in brackets ("videos (what is it?)")."""
    bare = text.strip(" *_")
    closing = {'"': '"', "\u201d": "\u201c", "\u300d": "\u300c", ")": "(", "\uff09": "\uff08"}
    aside = bare[-1:] in closing and not bare.startswith(closing[bare[-1]])
    return is_question(text) and not aside and not bare.endswith((".", "\u3002"))


def as_text(text: str) -> str:
    """The HTML of GitHub notes as text: ``html_as_text``, then the other tags out (code spans
    and math as written)."""
    text = html_as_text(text)
    return _TAG.sub(lambda m: m["keep"] or "", text) if "<" in text else text


def line_text(unit: Unit) -> str:
    """A unit as a line reads: without HTML (``as_text``; code as written), a sentence on one
    line."""
    if unit.kind == "code":
        return unit.clean
    text = as_text(unit.clean)
    return " ".join(text.split()) if unit.kind == "sentence" else text.strip()


@dataclass(frozen=True)
class PassageCard:
    """A Q/A card as one passage holds it, in the passage's offsets: ``start`` is 0 when its
    question ends the chunk before, ``end`` the passage's end when its answer runs on."""

    question: str
    start: int
    answer: int  # where the answer starts
    end: int
    text: str  # question and whole answer, where the topic's names are looked for
    parts: int  # the lines its whole answer makes (``answer_units``): 1 is an interview line


class Piece(NamedTuple):
    """A unit one passage gives a digest, with its section and what is shown before it."""

    unit: Unit
    section: Section
    parents: tuple[str, ...] = ()
    asked: str = ""


def passage_cards(text: str, before: str = "", after: str = "") -> list[PassageCard]:
    """The Q/A cards of a passage (``ingest.cards.find_cards``). ``before`` and ``after``: the
    chunks around it when they go on with its section; the chunker cuts a long section by size,
    so a bold question can end one chunk and its answer open the next."""
    lead = f"{before}\n\n" if before else ""
    joined = lead + text + (f"\n\n{after}" if after else "")
    shift, size = len(lead), len(text)
    found = blocks(joined)
    out = []
    for card in find_cards(joined):
        if card.kind != "qa" or card.reverse or card.end <= shift or card.start >= shift + size:
            continue
        at = joined.rfind(card.answer, card.start, card.end)  # the answer ends the card
        if at < 0:  # a listed card's answer is dedented: find its first line as written
            first = card.answer.strip().split("\n", 1)[0].strip()
            at = joined.find(first, card.start + 1, card.end) if first else -1
        answer = min(max((at if at >= 0 else card.start) - shift, 0), size)
        # find_cards reads no code, formula or table: those right after an answer that leads
        # into them end it ("... and the bias:" over a code block); a table after a card that
        # ends, or after the next card, is not its answer
        last = card.end
        if is_lead_in(joined[: card.end]):
            for block in (b for b in found if b.start >= card.end):
                if block.kind not in ATOMIC or joined[last : block.start].strip():
                    break
                last = block.end
        start, end = max(card.start - shift, 0), min(last - shift, size)
        question = " ".join(as_text(card.question).split())
        parts = len(answer_units(joined, found, at if at >= 0 else card.start, last))
        said = f"{card.question}\n{card.answer}"
        out.append(PassageCard(question, start, answer, end, said, parts))
    return out


def answer_units(text: str, found: Sequence[Block], start: int, end: int) -> list[Unit]:
    """A card's answer (``text[start:end]``, ``found`` the blocks of ``text``) as lines: a
    paragraph whole (its second sentence never without its first: "A: Yes. But only if..."), a
    list item, code, formula or table whole, a paragraph ending with ":" (or "：") with the block
    it introduces."""
    out: list[Unit] = []
    for block in found:
        if block.end <= start or block.start >= end or block.kind not in _BLOCK_UNIT:
            continue
        a, b = max(block.start, start), min(block.end, end)
        part = text[a:b]
        a, b = a + len(part) - len(part.lstrip()), a + len(part.rstrip())
        kind, prev = _BLOCK_UNIT[block.kind], out[-1] if out else None
        if prev and prev.kind == "sentence" and kind != "sentence" and is_lead_in(prev.text):
            out[-1] = Unit(prev.start, b, text[prev.start : b], kind)
        elif a < b:
            out.append(Unit(a, b, text[a:b], kind))
    return [u for u in out if tokens(line_text(u))]  # a "<br/>" line says nothing


def with_subjects(text: str, found: list[Unit]) -> list[Unit]:
    """``found`` (units of ``text``) with a sentence that points back joined to the sentence
    before it in its paragraph, unless that one asks: "它很快，但是 ..." after "SORT 只用 IoU。"."""
    out: list[Unit] = []
    for unit in found:
        prev = out[-1] if out else None
        if (
            prev is not None
            and unit.kind == prev.kind == "sentence"
            and _POINTS_BACK.match(unit.text.lstrip())
            and not is_question(prev.text)
            and not BLANK_LINE.search(text, prev.end, unit.start)
        ):
            out[-1] = Unit(prev.start, unit.end, text[prev.start : unit.end], "sentence")
        else:
            out.append(unit)
    return out


def on_the_note(sentence: str) -> bool:
    """A sentence that speaks of the note (``_ON_THE_NOTE``) with a few words at most in its
    other clauses ("面試常問，整理一下自己的理解。"); not one that says something besides
    ("softmax 的最大值不等於信心，這篇整理幾個常用的估法。", "As these notes show, focal loss
    down-weights easy negatives."), nor one on a paper ("這篇論文提出 ...")."""
    clauses = re.split(r"[，,；;：:]", sentence)
    for n, clause in enumerate(clauses):
        if _ON_THE_NOTE.search(clause):
            rest = " ".join(clauses[:n] + clauses[n + 1 :])
            chinese, words = re.findall(f"[{CJK_CHARS}]", rest), re.findall(r"[A-Za-z]+", rest)
            return len(chinese) <= 6 and len(words) <= 2
    return False


def fragment(piece: Piece, following: Unit | None, over: set[str]) -> bool:
    """True for a line that says nothing on its own: a sentence on the note itself
    (``on_the_note``), a list item of a few words that other items sit under (a group's name,
    which they show before them; ``extractive.bare_label``), a lead-in ending with ":" that no
    block follows, or one or two words with no list item or question before them."""
    unit = piece.unit
    if unit.kind not in ("sentence", "list"):
        return False
    text = line_text(unit)
    if is_todo(text):  # a note to self
        return True
    if unit.kind == "sentence" and on_the_note(text):  # of the note, not the topic
        return True
    body = text[len(list_marker(text)) :]
    name = item_name(unit)
    if name and len(name.split()) <= BARE_LABEL_WORDS and name in over:
        return True
    if is_lead_in(body) and (following is None or following.kind in ("sentence", "list")):
        return True
    return not (piece.parents or piece.asked) and len(tokens(body)) <= 2


def passage_units(
    text: str,
    heading: str,
    before: str = "",
    after: str = "",
    names: Names | None = None,
    topic: Names | None = None,
) -> list[Piece]:
    """The lines one passage gives, in order. A card's question is never a line of its own: an
    answer of one block is one interview-question line with it, a longer one gives a line per
    block with the question shown before it. The other units are cut as ``ingest.text.units``
    does. ``names``: keep only the cards that name the topic, when one does (a passage of a Q&A
    note holds questions on several topics). Fragments (``fragment``) are left out. A section
    headed by a question whose text opens with "A:" is that question's card ("## Q: Why does
    momentum help?" over "A: With a high condition number..."). ``topic``: a note's opening
    sentence defines only when it names the topic ("My Q&A for interview prep." does not)."""
    title = heading.split(HEADING_SEP)[-1].strip()
    if not before and asks(title) and _ANSWER_LABEL.match(text):
        before = f"## {title}"  # the chunk holds the section's body, its heading is the path
    cards = passage_cards(text, before, after)
    found, nested = blocks(text), list_parents(text)
    first = HEADING_SEP not in heading  # the note's opening section

    def opens(n: int, unit: Unit) -> bool:  # defines: the note's first words, on the topic
        return first and n < 2 and (topic is None or bool(topic.find(Text.of(unit.text))))

    # a question not answered yet asks of its own subject: of another topic's, it is left out
    # ("Q: What is ECE? A: TODO" in a Q&A list linked to DETR by its DETR card)
    elsewhere = [
        (start, end)
        for start, end in open_questions(text)
        if names is not None and not names.find(Text.of(text[start:end]))
    ]
    pieces = [
        Piece(unit, classify(unit, heading, opens(n, unit)), above(unit, nested))
        for n, unit in enumerate(with_subjects(text, units(text)))
        if not any(c.start <= unit.start < c.end for c in cards)
        and not any(a <= unit.start < b for a, b in elsewhere)
    ]
    # the cards that name the topic, of those that answer here (a card's answer may open the
    # next chunk); all of them when none does
    named = [
        c for c in cards if names is not None and names.find(Text.of(c.text)) and c.answer < c.end
    ]
    for card in named or cards:
        answer = answer_units(text, found, card.answer, card.end)
        if card.parts == 1:
            pieces += [Piece(unit, "questions", (), card.question) for unit in answer]
            continue
        for unit in answer:
            section = classify(unit, heading, False)
            pieces.append(Piece(unit, section, above(unit, nested), card.question))
    pieces.sort(key=lambda p: p.unit.start)
    over = {parent for p in pieces for parent in p.parents}
    return [
        p
        for n, p in enumerate(pieces)
        if not fragment(p, pieces[n + 1].unit if n + 1 < len(pieces) else None, over)
    ]


def section_neighbours(catalog: Catalog, rows: Iterable[ChunkRow]) -> dict[str, tuple[str, str]]:
    """Chunk id -> the texts of the chunks before and after it in its file, each "" unless it
    goes on with the same section."""
    rows = list(rows)
    out: dict[str, tuple[str, str]] = {}
    for source in {r.source for r in rows if r.ordinal >= 0}:
        every = catalog.get_chunks(sorted(catalog.chunk_ids_of(source)))
        at = {r.ordinal: r for r in every.values()}
        for row in (r for r in rows if r.source == source):
            near = [at.get(row.ordinal + step) for step in (-1, 1)]
            texts = [n.text if n is not None and n.heading == row.heading else "" for n in near]
            out[row.chunk_id] = (texts[0], texts[1])
    return out


def about(names: Names, row: ChunkRow) -> bool:
    """The passage's note is about the topic: its file name, title, first heading or aliases
    name it (``topics.note_names``, the linker's "note" signal)."""
    return bool(names.find(note_names(row, row.heading.split(HEADING_SEP)[0])))
