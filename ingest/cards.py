"""Flashcards the learner already wrote in a note: question/answer pairs and clozes, verbatim.

One parse of a note's text (``ingest.text.blocks``) finds:

- ``Q: ... A: ...`` on one line, in a list item or a paragraph, or ``Q:`` and ``A:`` on
  consecutive lines or blocks (also ``Question:``/``Answer:``, ``問：``/``答：``, and the
  question in bold or italics: ``**Q: ...?** answer`` or ``- *Q: ...?* A: ...``);
- a paragraph that is only a bold question (``**What is X?**``), answered by the blocks after
  it up to the next question, heading or rule;
- a heading phrased as a question (``## Why does X hold?``), answered by its section's body;
- the Obsidian spaced-repetition conventions: ``question::answer`` and ``question:::answer``
  (both ways) on one line, a multi-line card whose question and answer are split by a line
  holding only ``?`` (``??``: both ways), ``==highlight==`` clozes and Anki ``{{c1::...}}``
  clozes.

Code blocks, formulas and tables are never read for cards. A question with no answer after it
(an open list of interview questions, "Answer here") is not a card. Offsets are into the text
given, so a card follows its note when the note is edited.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Literal

from sharpnotes.ingest.text import (
    Block,
    blocks,
    clean_heading,
    heading_title,
    indent_of,
    is_lead_in,
)

CardKind = Literal["qa", "cloze"]

_Q = r"(?:Q|Question|問|问|题|題)"
_A = r"(?:A|Answer|答)"
_COLON = r"\s*[:：]\s*"
_EMPH = r"(?:\*\*|\*|__|_)?"
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_Q_OPEN = re.compile(rf"^{_EMPH}{_Q}{_COLON}", re.IGNORECASE)
_A_OPEN = re.compile(rf"^{_EMPH}{_A}(?:\s*\([^)]{{0,20}}\))?{_COLON}{_EMPH}", re.IGNORECASE)
_QUOTE_MARK = re.compile(r"^ {0,3}>[ \t]?")
# "Q: question A: answer" on one line: the "A:" after the question's end (?, ？ or emphasis)
_INLINE_A = re.compile(rf"(?:(?<=[?？])|(?<=\*\*)|(?<=\*)|(?<=\s))\s*{_EMPH}{_A}{_COLON}")
_BOLD_Q = re.compile(r"^(\*\*|__)(?P<q>(?:(?!\1).)+?[?？])[^\w*]*\1", re.S)  # "?" then emoji
_EMPH_Q = re.compile(r"^(\*\*|__|\*|_)(?P<body>(?:(?!\1).)+?)\1\s*(?P<rest>.*)$", re.S)
_TRAILER = re.compile(r"^[\s\W]*$")  # what may follow a bold question: emoji, stars, spaces
_INLINE_SEP = re.compile(r"(?<!:):{2,3}(?!:)")
_IDENT = re.compile(r"^[A-Za-z_][\w.]*$")
_HIGHLIGHT = re.compile(r"==(?=\S)(?P<text>[^=\n]+?)(?<=\S)==")
_ANKI = re.compile(r"\{\{c(?P<n>\d+)::(?P<text>.+?)(?:::(?P<hint>[^}]*))?\}\}")
_HTML_BREAK = re.compile(r"^\s*<br\s*/?>\s*$", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^\s*(?:answer here|tbd|todo|\.\.\.|…|(?:for specifics, )?(?:refer to|see) (?:the )?above\b.*"
    # a note to self that there is no answer yet: "hmm not sure, skip", "??", "待補"
    r"|(?:(?:hmm+|um+|uh+)[,.]?\s*)?(?:not sure|no idea|idk|i don'?t know|dunno|unsure|skip|\?+)"
    r"(?:[,;.]?\s*(?:skip|later|look it up|check later))?"
    r"|(?:不確定|不知道|不清楚|待補|待查|再查|之後補)[。.!！]?)"
    r"\s*\.?\s*$",
    re.IGNORECASE,
)
_STOP_KINDS = frozenset({"heading", "rule", "front_matter"})
MAX_ANSWER_BLOCKS = 8


@dataclass(frozen=True)
class Card:
    """One card. ``question`` and ``answer`` are verbatim note text (markup kept), except that
    a cloze's question has its deletion replaced by ``[...]``; ``start``/``end`` span the whole
    card in the text it was found in; ``syntax`` says which convention made it."""

    kind: CardKind
    question: str
    answer: str
    start: int
    end: int
    syntax: str
    reverse: bool = False  # made from a both-ways card: the answer asked, the question shown


CLOZE_MARK = "[...]"


def _strip_emphasis(text: str) -> str:
    text = text.strip()
    for mark in ("**", "__", "*", "_"):
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            return text[len(mark) : -len(mark)].strip()
    return text


def question_text(text: str) -> str:
    """A question as written, without its "Q:" label and surrounding emphasis."""
    text = _strip_emphasis(_LIST.sub("", text, count=1))
    text = _Q_OPEN.sub("", text, count=1)
    return _strip_emphasis(text).strip()


def unlabelled(text: str) -> str:
    """``text`` without an "A:" / "Answer:" / "答：" label at its start (after its list marker,
    which stays): an answer quoted on its own, whose question is not shown, reads without it."""
    marker = _LIST.match(text)
    lead = marker.group(0) if marker else ""
    rest = text[len(lead) :]
    return lead + _A_OPEN.sub("", rest, count=1).lstrip() if _A_OPEN.match(rest) else text


def _answer_text(text: str) -> str:
    """An answer as written, without its "A:" label (and the list marker before one)."""
    text = text.strip()
    unlisted = _LIST.sub("", text, count=1)
    if _A_OPEN.match(unlisted):
        return _A_OPEN.sub("", unlisted, count=1).strip()
    return text


def _is_question(text: str) -> bool:
    return bool(text) and text.rstrip(" *_").endswith(("?", "？"))


def real_answer(text: str) -> bool:
    """Not empty and not a placeholder ("TODO", "see the above", "...")."""
    return bool(text.strip()) and not _PLACEHOLDER.match(text)


def _qa_line(block: Block) -> Card | None:
    """``Q: ... A: ...`` in one block, or a bold/italic question with its answer after it."""
    body = _LIST.sub("", block.text, count=1).strip()
    m = _EMPH_Q.match(body)
    if m and _is_question(m["body"]) and real_answer(m["rest"]) and not _TRAILER.match(m["rest"]):
        labelled = bool(_Q_OPEN.match(m["body"].strip()))
        if labelled or block.kind == "paragraph":  # "- **term?** text" in a list is prose
            question = _Q_OPEN.sub("", m["body"].strip()).strip()
            syntax = "Q: A:" if labelled else "bold question"
            return Card("qa", question, _answer_text(m["rest"]), block.start, block.end, syntax)
    if _Q_OPEN.match(body):
        for a in _INLINE_A.finditer(body):
            question, answer = question_text(body[: a.start()]), body[a.end() :].strip()
            if question and real_answer(answer):
                return Card("qa", question, answer, block.start, block.end, "Q: A:")
    return None


def _lone_question(block: Block) -> str | None:
    """The question of a block that holds only a question: "Q: ...?" (no answer on the line)
    or a whole-paragraph bold question ("**What is X? 👶**")."""
    if block.kind not in ("paragraph", "list"):
        return None
    body = _LIST.sub("", block.text, count=1).strip()
    if "\n" in body:
        return None
    if _Q_OPEN.match(body) and not _INLINE_A.search(body):
        question = question_text(body)
        return question if _is_question(question) else None
    if block.kind != "paragraph":
        return None  # a list of open questions is not a list of cards
    m = _BOLD_Q.match(body)
    if m and _TRAILER.match(body[m.end() :]):
        return _Q_OPEN.sub("", m["q"].strip()).strip()
    return None


def _listed_card(items: list[Block], i: int, text: str) -> Card | None:
    """A list item that asks a question and is answered by the lines under it in the item or
    the items nested under it ("1. What is label smoothing?" over "   Replace the one-hot
    target ..." or "   - Replace ..."), as lists of interview questions are written; a list of
    questions alone is still no list of cards."""
    block = items[i]
    if block.kind != "list":
        return None
    first, _, rest = block.text.strip().partition("\n")
    question = question_text(first)
    if not _is_question(question) or not (_ASKING.match(question) or _ASKING_ZH.search(question)):
        return None  # "Business objective?" in an outline is a prompt to oneself, not a card
    indent = indent_of(block.text)
    j = i + 1
    while j < len(items) and items[j].kind == "list" and indent_of(items[j].text) > indent:
        j += 1
    answers = [b.text.strip() for b in items[i + 1 : j]] + ([rest.strip()] if rest.strip() else [])
    if not answers or any(_is_question(a) for a in answers):
        return None  # an outline of questions to ask ("How to A/B test?" over "what portion?")
    start = (
        block.start + block.text.index(first) + len(first) if rest.strip() else items[i + 1].start
    )
    end = items[j - 1].end if j > i + 1 else block.end
    answer = textwrap.dedent(text[start:end].strip("\n"))
    if not real_answer(answer):
        return None
    return Card("qa", question, answer.strip(), block.start, end, "listed question")


# a question a card asks: opens with a question word and says enough to stand alone
_ASKING = re.compile(
    r"(?i)^(?:what|why|how|when|which|who|where|is|are|do|does|did|can|could|should|would|"
    r"will)\b(?:\W+\w+){2,}"
)
# ... or in Chinese, with a question word and a few characters besides ("NMS 是做什麼的？"),
# or asking to choose ("該看 precision 還是 recall？", "要不要加 FPN？")
_ASKING_ZH = re.compile(
    r"(?=.*[\u3400-\u9fff].*[\u3400-\u9fff].*[\u3400-\u9fff])"
    r".*(?:什麼|什么|為什麼|为什么|怎麼|怎么|如何|哪|多少|幾|几|是否|嗎|吗|呢|還是|还是|是不是|"
    r"有沒有|有没有|能不能|會不會|会不会|要不要|應該|应该)"
)


def _answer_blocks(items: list[Block], i: int, stop_level: int = 0) -> int:
    """How many blocks after ``items[i]`` answer it: up to the next question, heading (at
    ``stop_level`` or above, when given), rule or ``<br>`` line."""
    j = i + 1
    while j < len(items) and j - i <= MAX_ANSWER_BLOCKS:
        block = items[j]
        if block.kind == "heading":
            if not stop_level or block.level <= stop_level:
                break
        elif block.kind in _STOP_KINDS or _HTML_BREAK.match(block.text):
            break
        if block.kind != "heading" and (_lone_question(block) or _qa_line(block)):
            break
        j += 1
    return j - i - 1


def _labelled(items: list[Block], i: int, n: int) -> int:
    """Of the ``n`` blocks after the question ``items[i]``, how many answer it when the first
    opens with "A:": that paragraph, and the list it leads into when it ends with ":". What
    follows is the note going on ("Some notes to self:", a TODO), not the answer."""
    if not n or not _A_OPEN.match(_LIST.sub("", items[i + 1].text, count=1).strip()):
        return n
    m = 1
    if is_lead_in(items[i + 1].text):
        while m < n and items[i + 1 + m].kind == "list":
            m += 1
    return m


def _inline_cards(block: Block) -> list[Card]:
    """``question::answer`` and ``question:::answer`` lines of one block."""
    out: list[Card] = []
    offset = block.start
    for line in block.text.split("\n"):
        seps = list(_INLINE_SEP.finditer(line))
        if len(seps) == 1 and "`" not in line and "{{" not in line:
            sep = seps[0]
            left, right = line[: sep.start()], line[sep.end() :]
            question, answer = _LIST.sub("", left).strip(), right.strip()
            spaced = left.endswith(" ") or right.startswith(" ")
            code_like = _IDENT.match(question) and _IDENT.match(answer) and not spaced
            if question and answer and not code_like and "http" not in left[-8:]:
                start, end = offset, offset + len(line)
                both = len(sep.group(0)) == 3
                syntax = "question:::answer" if both else "question::answer"
                out.append(Card("qa", question, answer, start, end, syntax))
                if both:
                    out.append(Card("qa", answer, question, start, end, syntax, reverse=True))
        offset += len(line) + 1
    return out


def _multiline(block: Block) -> list[Card]:
    """A paragraph split by a line holding only ``?`` (or ``??``: both ways)."""
    lines = block.text.split("\n")
    marks = [k for k, line in enumerate(lines) if line.strip() in ("?", "??")]
    if len(marks) != 1 or marks[0] in (0, len(lines) - 1):
        return []
    k = marks[0]
    question, answer = "\n".join(lines[:k]).strip(), "\n".join(lines[k + 1 :]).strip()
    out = [Card("qa", question, answer, block.start, block.end, "multi-line ?")]
    if lines[k].strip() == "??":
        out.append(Card("qa", answer, question, block.start, block.end, "multi-line ?", True))
    return out


def anki_clozes(text: str) -> list[tuple[str, str]]:
    """(question, answer) per Anki cloze number in ``text``: that number's deletions become
    ``CLOZE_MARK`` (deletions sharing a number are one card), the others show their text."""
    groups: dict[str, list[re.Match[str]]] = {}
    for m in _ANKI.finditer(text):
        groups.setdefault(m["n"], []).append(m)

    def shown(keep: list[re.Match[str]]) -> str:
        hidden = {m.span() for m in keep}
        return _ANKI.sub(lambda m: CLOZE_MARK if m.span() in hidden else m["text"], text)

    return [
        (shown(found), "; ".join(m["text"] for m in found))
        for _, found in sorted(groups.items(), key=lambda kv: int(kv[0]))
    ]


def _clozes(block: Block) -> list[Card]:
    """One card per deletion: ``==text==`` highlights and Anki ``{{cN::text}}`` (deletions
    sharing a number are one card). The other deletions stay visible."""
    text = block.text
    out = [
        Card("cloze", question, answer, block.start, block.end, "{{c1::...}}")
        for question, answer in anki_clozes(text)
    ]
    if out:
        return out
    marks = list(_HIGHLIGHT.finditer(text))
    for m in marks:
        question = text[: m.start()] + CLOZE_MARK + text[m.end() :]
        question = _HIGHLIGHT.sub(lambda x: x["text"], question)
        out.append(Card("cloze", question, m["text"], block.start, block.end, "==highlight=="))
    return out


def _opens_card(line: str) -> bool:
    body = _LIST.sub("", line, count=1).strip()
    return bool(_Q_OPEN.match(body) or _A_OPEN.match(body) or _BOLD_Q.match(body))


def _lines(block: Block) -> list[Block]:
    """A paragraph whose later lines open a question or an answer ("**Q: ...?**" then "A: ..."
    on the next line, or several one-line cards in a row) is read line by line."""
    lines = block.text.split("\n")
    if block.kind == "quote":  # "> Q: ..." / "> A: ...": read without the quote markers
        marks = [len(m.group(0)) if (m := _QUOTE_MARK.match(line)) else 0 for line in lines]
        if not any(_opens_card(line[k:]) for line, k in zip(lines, marks, strict=True)):
            return [block]
    elif block.kind != "paragraph" or not any(_opens_card(line) for line in lines[1:]):
        return [block]
    else:
        marks = [0] * len(lines)
    out: list[Block] = []
    start = block.start
    for line, k in zip(lines, marks, strict=True):
        start, line = start + k, line[k:]
        if _opens_card(line) or not out:
            out.append(Block(start, start + len(line), line, "paragraph"))
        else:  # a continuation line joins the line before it
            prev = out[-1]
            out[-1] = Block(prev.start, start + len(line), prev.text + "\n" + line, "paragraph")
        start += len(line) + 1
    return out


def _card_lines(text: str) -> list[Block]:
    """The blocks of ``text`` that cards are read from, a line each (code, formulas and tables
    are never read for cards)."""
    return [
        line for b in blocks(text) if b.kind not in ("code", "math", "table") for line in _lines(b)
    ]


def find_cards(text: str) -> list[Card]:
    """Every card in ``text`` (a note or a passage of one), in order of position."""
    items = _card_lines(text)
    out: list[Card] = []
    i = 0
    while i < len(items):
        block = items[i]
        if block.kind == "heading":
            title = clean_heading(heading_title(block.text))
            question = _Q_OPEN.sub("", title).strip()
            n = _answer_blocks(items, i, stop_level=block.level)
            if _is_question(question) and n:
                first, last = items[i + 1], items[i + n]
                answer = _answer_text(text[first.start : last.end])
                if real_answer(answer):
                    out.append(
                        Card("qa", question, answer, block.start, last.end, "question heading")
                    )
            i += 1
            continue
        if card := _qa_line(block):
            out.append(card)
            i += 1
            continue
        if listed := _listed_card(items, i, text):
            out.append(listed)
            while i < len(items) and items[i].start < listed.end:
                i += 1
            continue
        asked = _lone_question(block)
        if asked is not None:
            n = _labelled(items, i, _answer_blocks(items, i))
            if n:
                first, last = items[i + 1], items[i + n]
                answer = _answer_text(text[first.start : last.end])
                if real_answer(answer):
                    syntax = (
                        "Q: A:" if _Q_OPEN.match(_strip_emphasis(block.text)) else "bold question"
                    )
                    out.append(Card("qa", asked, answer, block.start, last.end, syntax))
                    i += n + 1
                    continue
            i += 1
            continue
        found = _multiline(block) or _inline_cards(block) or _clozes(block)
        out.extend(found)
        i += 1
    return out


def open_questions(text: str) -> list[tuple[int, int]]:
    """(start, end) of each labelled or bold question of ``text`` left without an answer: only
    a placeholder answers it ("Q: What is ECE?" over "A: TODO", or "Q: What is ECE? A: TODO" on
    one line), or the next question or heading comes first. It names its subject and says
    nothing of it; what follows it answers the next question. A question that ends ``text`` is
    not one: a passage may end where its answer's passage begins."""
    items = _card_lines(text)
    out = []
    for i, block in enumerate(items):
        if block.kind == "heading":
            continue
        body = _LIST.sub("", block.text, count=1).strip()
        inline = _INLINE_A.search(body) if _Q_OPEN.match(body) else None
        if inline is not None:
            if not real_answer(body[inline.end() :]):
                out.append((block.start, block.end))
            continue
        if _lone_question(block) is None:
            continue
        n = _labelled(items, i, _answer_blocks(items, i))
        if n:
            if not real_answer(_answer_text(text[items[i + 1].start : items[i + n].end])):
                out.append((block.start, items[i + n].end))
        elif i + 1 < len(items):
            out.append((block.start, block.end))
    return out


def without_open_questions(text: str) -> str:
    """``text`` with its open questions (``open_questions``) blanked out, offsets kept."""
    for start, end in reversed(open_questions(text)):
        text = text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]
    return text
