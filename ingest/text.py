"""How text is cut, in one place: Markdown blocks, sentences, quotable units, CJK ranges, stop
words, tokens and content terms.

Chunking packs ``blocks`` and ``sentences``, the sentence vectors embed ``sentences``, the offline
generator quotes ``units`` and the answer check splits an answer into the same ``units``, so the
unit an answer quotes is the unit the check verifies. Every span carries offsets with
``text[start:end] == span.text``.

markdown-it-py, mistune and the like parse Markdown for rendering and give no character offsets
for sentences; nltk's punkt (through llama-index) splits sentences but knows neither Markdown
blocks nor "e.g." inside a list item, and holds a whole note in memory several times over on a
long line. So the scanner and the splitter are written here, both in one pass over the text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal
from urllib.parse import unquote

# --- CJK -------------------------------------------------------------------------------------

# Han (unified ideographs with extension A, compatibility ideographs), hiragana and katakana,
# hangul syllables: the one definition of "CJK character" for tokens, BM25 and language checks.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
CJK = re.compile(f"[{CJK_CHARS}]")


# a blank line: what parts paragraphs (a "\r" the readers have not turned into "\n" included)
BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
HEADING_SEP = " > "  # between the headings of a chunk's heading path


def has_cjk(text: str) -> bool:
    return CJK.search(text) is not None


# a text is written in Chinese when this share of its words are Chinese characters (each
# Chinese character a word, as each Latin word is)
CHINESE_SHARE = 0.5
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def written_in_chinese(text: str) -> bool:
    """Most of ``text``'s words are Chinese: each Chinese character counts as one, as does each
    Latin word ("MOTA 看 FP、FN、ID switch 的總和" is Chinese with English names in it, though
    it has more Latin letters than Chinese characters)."""
    chinese = sum(1 for c in text if CJK.match(c))
    latin = len(_LATIN_WORD.findall(text))
    return chinese + latin > 0 and chinese >= CHINESE_SHARE * (chinese + latin)


# --- stop words, tokens and content terms ---------------------------------------------------

# English function words, question words and the fillers of notes ("e.g.", "really", "use"):
# never a content term (a search word, a blank, a key phrase).
STOP_WORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from as is are was were be
    been being it its this that these those there here which who whom whose what when where why
    how not no yes can could may might must shall should will would do does did done has have
    had having so than too very just also only more most less much many few some any each every
    all both either neither one two per via vs versus into onto over under about after before
    between through during without within again further once i me my we our us you your he she
    his her they them their e g eg ie etc use used uses using get gets got make makes same other
    such own up down out off like often whereas nobody everything something anything really
    actually rather always never usually still even well yet though although while later first
    second whats whos hows""".split()  # noqa: SIM905 - a word list reads best as text
)

# a word: letters and digits (no underscore, no CJK), inner hyphens and apostrophes kept
# ("k-means", "don't"); every CJK character is a token of its own
_WORD = f"[^\\W_{CJK_CHARS}]+"
TOKEN = re.compile(f"[{CJK_CHARS}]|{_WORD}(?:['\u2019-]{_WORD})*")
_PART = re.compile(r"['\u2019-]")


def tokens(text: str) -> list[str]:
    """Lower-cased words as written ("k-means") and single CJK characters, in order."""
    return TOKEN.findall(text.lower())


def terms(text: str) -> set[str]:
    """Content terms: the parts of each token (hyphen and apostrophe split), stop words and
    single Latin letters out, a plural "s" folded on words longer than four letters."""
    out = set()
    for token in tokens(text):
        for part in _PART.split(token) if len(token) > 1 else (token,):
            if part in STOP_WORDS or (len(part) == 1 and part.isascii() and not part.isdigit()):
                continue
            out.add(part[:-1] if len(part) > 4 and part.endswith("s") else part)
    return out


def overlap(question_terms: set[str], text: str) -> float:
    """Share of the question's content terms that the text contains."""
    if not question_terms:
        return 0.0
    return len(question_terms & terms(text)) / len(question_terms)


# --- blocks ---------------------------------------------------------------------------------

BlockKind = Literal[
    "front_matter", "heading", "paragraph", "list", "quote", "code", "math", "table", "rule"
]
ATOMIC: frozenset[str] = frozenset({"code", "math", "table"})  # never cut inside
PROSE: frozenset[str] = frozenset({"heading", "paragraph", "list", "quote"})


@dataclass(frozen=True)
class Span:
    """``text`` is ``source[start:end]`` of the text it was cut from."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Block(Span):
    """Whole lines of one Markdown block (indentation included, the final newline not).
    ``level`` is a heading's level (1-6); 0 for the other kinds."""

    kind: BlockKind
    level: int = 0


_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*)$")  # "#tag" is not a heading
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")  # at any indent: notes fence inside list items
_ITEM = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>")
_DELIMITER_ROW = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")


def fence_opening(line: str) -> str | None:
    """The fence (``\u0060\u0060\u0060``, ``~~~~``...) a line opens, or None. An info string after
    backticks may not hold a backtick (that line is inline code)."""
    match = _FENCE.match(line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return None
    return match.group(1)


def fence_closes(line: str, fence: str) -> bool:
    """A closing fence: the opening's character, at least as many, nothing else on the line."""
    stripped = line.strip()
    return len(stripped) >= len(fence) and stripped == fence[0] * len(stripped)


def code_fence_lines(text: str) -> Iterator[tuple[str, bool]]:
    """Each line with whether it is part of a fenced code block (fence lines included)."""
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            fence = fence_opening(line)
            yield line, fence is not None
        else:
            if fence_closes(line, fence):
                fence = None
            yield line, True


def without_comments(text: str) -> str:
    """``text`` without its HTML comments (``<!-- ... -->``, over several lines too), outside
    fenced code: what a note comments out is hidden when it is read, so it is neither searched
    nor quoted. A line that was all comment is left blank."""
    out: list[str] = []
    inside = False
    for line, code in code_fence_lines(text):
        if code and not inside:
            out.append(line)
            continue
        kept, rest = [], line
        while rest:
            if inside:
                end = rest.find("-->")
                rest, inside = ("", True) if end < 0 else (rest[end + 3 :], False)
            else:
                start = rest.find("<!--")
                if start < 0:
                    kept.append(rest)
                    break
                kept.append(rest[:start])
                rest, inside = rest[start + 4 :], True
        joined = "".join(kept)
        out.append(joined if joined.strip() else "")
    return "\n".join(out)


def _math_close(stripped: str) -> str | None:
    """The closing marker of display math opened on this line, or None when it is not opened
    here or closes on the same line."""
    for opening, closing in (("$$", "$$"), ("\\[", "\\]")):
        if stripped.startswith(opening):
            return None if closing in stripped[len(opening) :] else closing
    return None


def _is_table_start(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    if stripped.startswith("|"):
        return True
    following = lines[i + 1] if i + 1 < len(lines) else ""
    return "|" in stripped and "|" in following and bool(_DELIMITER_ROW.match(following))


def _opens(lines: list[str], i: int) -> BlockKind | None:
    """The kind of block line ``i`` starts when it interrupts a paragraph, else None."""
    line = lines[i]
    stripped = line.strip()
    if fence_opening(line):
        return "code"
    if stripped.startswith(("$$", "\\[")):
        return "math"
    if _ATX.match(line):
        return "heading"
    if _RULE.match(line):
        return "rule"
    if _is_table_start(lines, i):
        return "table"
    if _QUOTE.match(line):
        return "quote"
    if _ITEM.match(line):
        return "list"
    return None


def _starts_paragraph(line: str) -> bool:
    """An unindented line opening with a capital ends a list item above it. CommonMark would
    continue the item lazily, but in PDF and plain text ("1. Summary" then the section's text)
    and in most hand-written notes such a line is a new paragraph; a wrapped line goes on in
    lower case, or indented."""
    return not line[:1].isspace() and line[:1].isupper()


def _front_matter_end(lines: list[str]) -> int | None:
    if not lines or lines[0].rstrip() != "---":
        return None
    for j in range(1, len(lines)):
        if lines[j].rstrip() in ("---", "..."):
            return j
    return None


def blocks(text: str) -> list[Block]:
    """The Markdown blocks of ``text`` in order: front matter, ATX headings, paragraphs, list
    items (each with its continuation lines: indented, or lazy ones that do not open with a
    capital; nested items are blocks of their own), block quotes,
    fenced code (an unclosed fence runs to the end), display math (``$$`` or ``\\[``, one line or
    several; an unclosed one ends at a blank line), tables and thematic breaks. Blank lines
    separate blocks and belong to none."""
    lines = text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    out: list[Block] = []

    def add(kind: BlockKind, first: int, last: int, level: int = 0) -> None:
        start, end = starts[first], starts[last] + len(lines[last])
        out.append(Block(start, end, text[start:end], kind, level))

    def blank(j: int) -> bool:
        return not lines[j].strip()

    n = len(lines)
    closers: dict[str, list[int]] = {}
    i = 0
    front = _front_matter_end(lines)
    if front is not None:
        add("front_matter", 0, front)
        i = front + 1
    while i < n:
        if blank(i):
            i += 1
            continue
        line = lines[i]
        kind = _opens(lines, i) or "paragraph"
        last = i
        if kind == "code":
            fence = fence_opening(line)
            assert fence is not None
            last = n - 1  # unclosed: to the end
            for j in range(i + 1, n):
                if fence_closes(lines[j], fence):
                    last = j
                    break
        elif kind == "math":
            closing = _math_close(line.strip())
            if closing is not None:
                if closing not in closers:  # line numbers holding it, found once
                    closers[closing] = [j for j, other in enumerate(lines) if closing in other]
                found = closers[closing]
                at = bisect.bisect_right(found, i)
                if at < len(found):
                    last = found[at]
                else:  # unclosed: up to the next blank line
                    last = next((j - 1 for j in range(i + 1, n) if blank(j)), n - 1)
        elif kind == "heading":
            match = _ATX.match(line)
            assert match is not None
            add(kind, i, i, len(match.group(1)))
            i += 1
            continue
        elif kind == "table":
            piped = line.strip().startswith("|")
            while last + 1 < n and not blank(last + 1):
                nxt = lines[last + 1].strip()
                if not (nxt.startswith("|") if piped else "|" in nxt):
                    break
                last += 1
        elif kind == "quote":
            while last + 1 < n and not blank(last + 1):
                if not _QUOTE.match(lines[last + 1]) and _opens(lines, last + 1):
                    break
                last += 1
        elif kind == "list":
            match = _ITEM.match(line)
            assert match is not None
            content = (
                len(match.group(0)) if line[match.end() :].strip() else len(match.group(1)) + 2
            )
            j = i + 1
            while j < n:
                if not blank(j):
                    if _opens(lines, j) or _starts_paragraph(lines[j]):
                        break
                    last = j  # a continuation line, indented or lazy
                    j += 1
                    continue
                k = j  # blank lines: the item goes on with a paragraph indented to its content
                while k < n and blank(k):
                    k += 1
                indent = len(lines[k]) - len(lines[k].lstrip()) if k < n else 0
                if k == n or indent < content or _opens(lines, k):
                    break
                last, j = k, k + 1
        elif kind == "paragraph":
            while last + 1 < n and not blank(last + 1) and not _opens(lines, last + 1):
                last += 1
        add(kind, i, last)
        i = last + 1
    return out


# --- sentences ------------------------------------------------------------------------------

# A candidate end: Western punctuation (then closing quotes, brackets or emphasis) before
# whitespace, or before a CJK character when a CJK character precedes it; or a CJK end (then
# closing quotes, brackets or emphasis: "**為什麼？**"), which needs no space after it.
_END = re.compile(
    r"[.!?\u2026]+['\"\u2019\u201d)\]*_`]*(?=\s)"
    f"|(?<=[{CJK_CHARS}])[!?]+(?=[{CJK_CHARS}])"
    r"|[\u3002\uff01\uff1f\uff1b]+[\u300d\u300f\u201d\u2019\uff09)\]*_`]*"
)
_CJK_END = frozenset("\u3002\uff01\uff1f\uff1b")
# after these a period never ends a sentence
_ABBREVIATIONS = frozenset(
    "e.g eg i.e ie cf vs viz approx resp incl excl esp w.r.t a.k.a dr mr mrs ms prof jr sr".split()  # noqa: SIM905
)
# ... and ends one only before a capital: "Fig. 3", "Eq. (2)", "et al. (2017)", "the no. of
# boxes", "10 min. later", but "etc. The next"
_BEFORE_CAPITAL = frozenset(
    """fig figs eq eqs sec secs no nos vol ch chap tab p pp ref refs thm ca art etc al min max
    avg std est""".split()  # noqa: SIM905
)
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # U.S, a.k.a, e.g
# spans no sentence ends inside: inline code, inline math, link text and target. Each is at
# most _SPAN characters long, so that a long line of openers that never close ("[[a|b" x 50,000)
# is scanned in linear time, not once per opener.
_SPAN = 1000
_PROTECTED = re.compile(
    rf"`[^`\n]{{1,{_SPAN}}}`"
    rf"|\$\$[^$]{{1,{_SPAN}}}\$\$"
    rf"|\$(?=[^\s$])[^$\n]{{0,{_SPAN}}}?[^\s$\\]\$(?!\d)|\$[^\s$]\$"
    rf"|\\\(.{{1,{_SPAN}}}?\\\)"
    rf"|\[[^\]\n]{{0,{_SPAN}}}\]\([^)\s]{{0,{_SPAN}}}\)"
)
# $$display$$ and $inline$ math as _PROTECTED sees it: an inline span opens before a non-space
# and closes after one, not before a digit, so "costs $5 and $10" stays money
MATH = re.compile(
    rf"\$\$(?P<display>[^$]{{1,{_SPAN}}}?)\$\$"
    rf"|\$(?P<inline>(?=[^\s$])[^$\n]{{0,{_SPAN}}}?[^\s$\\]|[^\s$])\$(?!\d)"
)
_NON_SPACE = re.compile(r"\S")
_OPENING = "([{\"'\u2018\u201c*_`"


def _word_before(text: str, end: int, floor: int) -> str:
    start = end
    while start > floor and not text[start - 1].isspace():
        start -= 1
    return text[start:end].lstrip(_OPENING)


def _ends_sentence(text: str, match: re.Match[str], following: str, floor: int) -> bool:
    marks = match.group(0)
    if marks[0] in _CJK_END or "!" in marks or "?" in marks:
        return True  # a lowercase start too: notes are often written all in lowercase
    word = _word_before(text, match.start(), floor)
    lower = word.lower()
    if lower in _ABBREVIATIONS or _DOTTED.fullmatch(word):
        return False
    if lower in _BEFORE_CAPITAL:
        return following.isupper()
    return not (len(word) == 1 and word.isupper())  # an initial: "J. Smith"


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while end > start and text[end - 1].isspace():
        end -= 1
    while start < end and text[start].isspace():
        start += 1
    return Span(start, end, text[start:end]) if end > start else None


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentences of the prose ``text[start:end]`` (one block: no Markdown is looked at), trimmed
    of surrounding whitespace. A period, "!" or "?" followed by a space ends a sentence (before
    a lowercase word too: notes are often written in lowercase), except after an abbreviation
    ("e.g.", "i.e.", "vs."), an initial ("J. Smith") or a dotted abbreviation ("U.S."); after
    "Fig.", "No.", "et al.", "etc." and the like only before a capital. Decimals, versions, URLs
    and file names hold no space after their periods, and nothing inside inline code, inline
    math or a link is cut. 。！？； end a sentence with no space after them."""
    end = len(text) if end is None else end
    protected = [(m.start(), m.end()) for m in _PROTECTED.finditer(text, start, end)]
    protected_starts = [s for s, _ in protected]
    out: list[Span] = []
    pos = start
    for match in _END.finditer(text, start, end):
        at = bisect.bisect_right(protected_starts, match.start()) - 1
        if at >= 0 and protected[at][1] > match.start():
            continue
        nxt = _NON_SPACE.search(text, match.end(), end)
        if nxt is None:
            break
        if _ends_sentence(text, match, nxt.group(0), pos):
            span = _trimmed(text, pos, match.end())
            if span:
                out.append(span)
            pos = nxt.start()
    span = _trimmed(text, pos, end)
    if span:
        out.append(span)
    return _glued(text, out)


_WORDY = re.compile(f"[^\\W_]|[{CJK_CHARS}]")


def _glued(text: str, spans: list[Span]) -> list[Span]:
    """Spans holding no letter, digit or CJK character (the emoji and closing ``**`` after
    "**What is X? 👶**") joined to the sentence before them: they are not sentences."""
    out: list[Span] = []
    for span in spans:
        if out and not _WORDY.search(span.text):
            prev = out[-1]
            out[-1] = Span(prev.start, span.end, text[prev.start : span.end])
        else:
            out.append(span)
    return out


def sentences(text: str) -> list[Span]:
    """The sentences of every prose block (headings, paragraphs, list items, quotes) and each
    code, math or table block whole; a sentence never crosses a block. Front matter and
    thematic breaks give none."""
    out: list[Span] = []
    for block in blocks(text):
        if block.kind in PROSE:
            out += split_sentences(text, block.start, block.end)
        elif block.kind in ATOMIC:
            span = _trimmed(text, block.start, block.end)
            if span:
                out.append(span)
    return out


# --- quotable units -------------------------------------------------------------------------

UnitKind = Literal["sentence", "code", "formula", "list", "table"]
_UNIT_KIND: dict[str, UnitKind] = {
    "code": "code",
    "math": "formula",
    "table": "table",
    "list": "list",
}


_QUOTE_MARKS = re.compile(r"(?m)^[ \t]{0,3}>[ \t]?")


@dataclass(frozen=True)
class Unit(Span):
    """A span of a passage that is quoted whole."""

    kind: UnitKind

    @property
    def clean(self) -> str:
        """The text as it appears in an answer: prose re-flowed (a quotation without its "> "
        markers), blocks as written."""
        if self.kind != "sentence":
            return self.text.strip()
        return " ".join(_QUOTE_MARKS.sub("", self.text).split())


def units(text: str, min_terms: int = 2) -> list[Unit]:
    """Quotable units of a passage, in order: the sentences of paragraphs and quotes; a code
    block, formula, table or list item whole; a sentence that leads into a block (``is_lead_in``:
    "Two reasons:", "**Pros:**", "原因有兩個：") together with the block it introduces, and a
    one-line list item that leads in together with the next item. Headings,
    front matter and rules are left out (they are not claims), and so is an ASCII sentence of
    fewer than ``min_terms`` content terms unless it leads in or is a question (the context of
    the answer after it, see ``is_question``)."""
    out: list[Unit] = []
    for block in blocks(text):
        if block.kind in ("paragraph", "quote"):
            for s in (s for a, b in _labelled_lines(block) for s in split_sentences(text, a, b)):
                keep = len(terms(s.text)) >= min_terms or is_lead_in(s.text)
                if keep or not s.text.isascii() or is_question(s.text):
                    out.append(Unit(s.start, s.end, s.text, "sentence"))
        elif block.kind in _UNIT_KIND:
            span = _trimmed(text, block.start, block.end)
            if span:
                out.append(Unit(span.start, span.end, span.text, _UNIT_KIND[block.kind]))
    joined: list[Unit] = []
    for unit in out:
        prev = joined[-1] if joined else None
        if (
            prev
            and prev.kind == "sentence"
            and unit.kind != "sentence"
            and (is_lead_in(prev.text) or _runs_into(prev, unit))
        ):
            joined[-1] = Unit(prev.start, unit.end, text[prev.start : unit.end], unit.kind)
        elif prev and _leads_into_item(text, prev, unit):
            joined[-1] = Unit(prev.start, unit.end, text[prev.start : unit.end], "list")
        else:
            joined.append(unit)
    return joined


# the label a line opens with, after any list or quote marker ("- latency: < 50 ms on Orin",
# "DeepSORT: adds an appearance embedding"), as terse notes name what they say; not a URL's
_LABEL_LEAD = re.compile(r"[\s*+>-]*(?:\d+[.)]\s+)?")
_LABEL = re.compile(r"([^:：\n]{1,40}?)\s*(?::(?!//)|：)\s*(?=\S)")


def split_label(line: str, shortest: int = 1) -> tuple[str, str]:
    """(label, what follows it) of a line that opens with a label of at least ``shortest``
    characters ("- hard cases: night, rain" -> ("hard cases", "night, rain")); ("", line) when
    it opens with none."""
    lead = _LABEL_LEAD.match(line)
    found = _LABEL.match(line, lead.end() if lead else 0)
    label = found.group(1).strip("*_ ") if found else ""
    return (label, line[found.end() :]) if found and len(label) >= shortest else ("", line)


def _labelled_lines(block: Block) -> list[tuple[int, int]]:
    """The spans a paragraph is cut into sentences within: each of its lines when every line
    opens with a label (three tools, one a line: "SORT: ...", "DeepSORT: ...", "ByteTrack: ..."
    are three claims, not one run-on sentence), else the whole paragraph."""
    lines = block.text.split("\n")
    if len(lines) < 2 or not all(split_label(line)[0] for line in lines):
        return [(block.start, block.end)]
    out, at = [], block.start
    for line in lines:
        out.append((at, at + len(line)))
        at += len(line) + 1
    return out


def _runs_into(prev: Unit, unit: Unit) -> bool:
    """A sentence left open that a display formula completes ("..., the output width is" over
    "$$O = ...$$"): quoted apart, the sentence says nothing and the formula is unexplained."""
    return unit.kind == "formula" and not prev.text.rstrip(" *_").endswith(_SENTENCE_ENDS)


_SENTENCE_ENDS = (".", "!", "?", "。", "！", "？", ";", "；", ")", "）")


def _leads_into_item(text: str, prev: Unit, unit: Unit) -> bool:
    """A list item of one line that leads in ("* Precision and recall are metrics:") and the
    item after it at the same indent ("* P = TP / (TP + FP)"): one unit, as a lead-in sentence
    and its block are."""
    if prev.kind != "list" or unit.kind != "list" or "\n" in prev.text.strip():
        return False

    def indent(at: int) -> int:
        return indent_of(text[text.rfind("\n", 0, at) + 1 : at] + "x")

    return is_lead_in(prev.text) and indent(prev.start) == indent(unit.start)


def list_marker(line: str) -> str:
    """The list marker a line opens with, with its indent and the spaces after it ("  - "),
    or "" when the line is not a list item."""
    match = _ITEM.match(line)
    return match.group(0) if match else ""


def indent_of(line: str) -> int:
    """The columns of a line's leading whitespace, a tab as four."""
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _cut_from_deeper(found: list[Block]) -> bool:
    """True when the list item opening these blocks was at a deeper indent than its (stripped)
    line shows: an item after it sits between the margin and the item right after it. Only the
    items before the next one at the margin count: that one starts another outline, whose own
    nesting ("* Features:" over "  - User features", under an item whose items were indented
    by three) says nothing of the first item's depth."""
    items = []
    for block in found[1:]:
        indent = indent_of(block.text.split("\n", 1)[0])
        if block.kind != "list" or indent == 0:
            break
        items.append(indent)
    return bool(items) and any(0 < indent < items[0] for indent in items[1:])


@dataclass(frozen=True)
class OutlineItem:
    """A list item of an outline: its span (``end`` is where its list ``Unit`` ends), its first
    line with the marker out, and the index of the item it sits under (-1: none)."""

    start: int
    end: int
    name: str
    parent: int


def outline(text: str) -> list[OutlineItem]:
    """The list items of ``text`` in order, each with the item it sits under. Outlines say half
    of a fact in the parent: "cons: inefficient for continual training" means little until one
    reads that it is under "GBDT". A block at a smaller indent (a heading, a paragraph at the
    margin) ends the outline. A passage (a chunk) that opens with a list item has lost that
    line's indentation: when a later item sits between the margin and the next item's indent,
    the passage was cut out of a deeper list, the first item's depth is unknown, and it is
    left out."""
    items: list[OutlineItem] = []
    stack: list[tuple[int, int]] = []  # (indent, index into items)
    found = blocks(text)
    if found and found[0].kind == "list" and _cut_from_deeper(found):
        found = found[1:]
    for block in found:
        first = block.text.split("\n", 1)[0]
        indent = indent_of(first)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if block.kind != "list":
            if block.kind in ("heading", "front_matter") or indent == 0:
                stack.clear()
            continue
        span = _trimmed(text, block.start, block.end)
        if span is None:
            continue
        name = first[len(list_marker(first)) :].strip()
        items.append(OutlineItem(span.start, span.end, name, stack[-1][1] if stack else -1))
        stack.append((indent, len(items) - 1))
    return items


def list_parents(text: str) -> dict[int, tuple[str, ...]]:
    """The items each nested list item of ``text`` sits under (``outline``), outermost first,
    keyed by the item's end offset (a list ``Unit`` ends where its item does)."""
    items = outline(text)
    out: dict[int, tuple[str, ...]] = {}
    for item in items:
        chain = []
        up = item.parent
        while up >= 0:
            chain.append(items[up].name)
            up = items[up].parent
        if chain:
            out[item.end] = tuple(reversed(chain))
    return out


# --- headings -------------------------------------------------------------------------------

_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_INLINE = re.compile(
    r"(?P<code>`+)(?P<body>.+?)(?P=code)"  # code span: its text, backticks out
    r"|(?P<math>\$\$.+?\$\$|\$(?=\S)[^$]*?\S\$|\\\(.+?\\\))"  # math: kept as written
    r"|!?\[(?P<label>[^\]]*)\]\([^)]*\)"  # link or image: its text
    r"|\*+|(?<![^\W_])_+|_+(?![^\W_])"  # emphasis markers (not snake_case underscores)
)


def _inline(match: re.Match[str]) -> str:
    if match.group("code"):
        return match.group("body").strip()
    if match.group("math"):
        return match.group("math")
    return match.group("label") or ""


@dataclass(frozen=True)
class TableRow:
    """One body row of a Markdown table: its cells (stripped, markup kept) and its line."""

    cells: list[str]
    line: str


def table_rows(table: str) -> tuple[list[str], list[TableRow]]:
    """The header cells and body rows of a Markdown table block (``blocks`` kind "table").
    Without a delimiter row there is no header: every row is body. Outer pipes are optional;
    an escaped ``\\|`` stays inside its cell."""

    def cells(line: str) -> list[str]:
        inner = line.strip()
        inner = inner[1:] if inner.startswith("|") else inner
        inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]

    lines = [line for line in table.split("\n") if "|" in line]
    rule = next((i for i, line in enumerate(lines) if _DELIMITER_ROW.match(line)), None)
    header = cells(lines[rule - 1]) if rule else []
    body = lines[rule + 1 :] if rule is not None else lines
    return header, [TableRow(cells(line), line) for line in body if line.strip()]


def heading_title(line: str) -> str:
    """The text of an ATX heading line: markers and an optional closing sequence out."""
    match = _ATX.match(line)
    title = match.group(2) if match else line
    return _CLOSING_HASHES.sub("", title).strip()


# an HTML tag outside a code span: GitHub notes anchor headings with <a name="..."></a>
_HEADING_TAG = re.compile(r"(?P<code>`+.+?`+)|</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>")


def clean_heading(title: str) -> str:
    """A heading's text as plain text: emphasis, link markup and HTML tags out, code spans
    without their backticks, math (``$\\sqrt{d_k}$``) kept as written."""
    untagged = _HEADING_TAG.sub(lambda m: m["code"] or "", title)
    return " ".join(_INLINE.sub(_inline, untagged).split())


# --- the HTML of GitHub notes ------------------------------------------------------------

# GitHub once drew README math as images: <img src=".../render/math?math=\beta">
_MATH_IMG = re.compile(
    r"<img\b[^>]*?src=\"https?://render\.githubusercontent\.com/render/math\?math=([^\"]+)\"[^>]*>",
    re.IGNORECASE,
)


def math_images_as_tex(text: str) -> str:
    """GitHub's math images (``<img src=".../render/math?math=\\beta">``) as ``$...$`` math:
    the image is a request to GitHub that shows nothing offline, the formula is in its URL."""
    return _MATH_IMG.sub(lambda m: f"${unquote(m.group(1)).strip()}$", text)


_BREAK = re.compile(r"[ \t]*<br\s*/?>[ \t]*", re.IGNORECASE)
# emphasis written in HTML, opened and closed on one line: "<strong>M</strong>ean"
_EMPHASIS_TAG = re.compile(r"<(b|strong|i|em|u)>([^<>\n]*)</\1>", re.IGNORECASE)


def html_as_text(text: str) -> str:
    """The HTML that notes from GitHub use for layout, as text to show: math images as their
    ``$...$`` formula (``math_images_as_tex``), ``<br>`` as a line break, or as a space inside
    a table row (a break would end the row), and a pair of emphasis tags (``<b>``, ``<i>``...)
    as the text it holds. Other HTML stays, shown inert."""
    text = math_images_as_tex(text)
    if "<" not in text:
        return text
    text = _EMPHASIS_TAG.sub(lambda m: m.group(2), text)
    lines = text.split("\n")
    return "\n".join(
        _BREAK.sub(" " if line.lstrip().startswith("|") else "\n", line) for line in lines
    )


# --- questions and sections -----------------------------------------------------------------

# a question mark, then only closing marks, emphasis, emoji or spaces ("**What is X? 👶**")
_QUESTION_END = re.compile(r"[?\uff1f][^\w\u3400-\u9fff]*$")


def is_lead_in(text: str) -> bool:
    """True for a line that leads into what follows it: it ends with ":" or "：" (emphasis
    around it aside: "**Two reasons:**")."""
    return text.rstrip(" *_").endswith((":", "："))


# a note to self: "TODO: write up BEVFusion", "- [ ] read the paper", "FIXME ...", "待補: RAdam"
_TODO = re.compile(
    r"^\s*(?:[-*+]\s+|\d+[.)]\s+)?(?:\[ \]\s+|(?:TODO|FIXME|TBD)\b|待補|待查|待讀)", re.IGNORECASE
)
# what ends a line with a to-do: "... drift is common. TODO: write up time sync (PTP)",
# "... warmup 讓 stats 先穩定. 待補: RAdam 的解釋"
_TODO_TAIL = re.compile(
    r"(?:^|(?<=\s))(?:TODO|FIXME|TBD)\b.*$|(?:待補|待查|待讀)(?=\s*[:：]).*$", re.MULTILINE
)
_AFTER = r"(?=[\s,，.。;；:：!！?？)）」]|$)"  # the marker ends its clause: not "之後補零"
# a sentence that says its own subject is not written up, read or tried yet: "HDMapNet / MapTR
# 另開一篇", "sparsity (2:4, Ampere 支援)，沒實際試過", "Mamba ... 待補，沒細讀", "haven't read it",
# or that a #todo tag marks
_GAP = re.compile(
    rf"待補|待查|待讀|另開一篇|有空再|之後再?補{_AFTER}|還沒(?:讀|試|想清楚|(?:完全)?搞懂){_AFTER}"
    rf"|沒(?:實際)?試過?{_AFTER}|沒細讀|沒讀過|沒細看|(?<![\w#])#todo\b"
    r"|\b(?:haven[’']?t|have not|never) (?:read|tried)\b|\bnot (?:read|tried) yet\b",
    re.IGNORECASE,
)
_CLAUSES = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])")  # a line cut into its sentences
_TO_DO_WORDS = 2  # what is left of a line before its "待補:" says something with this many terms


def _gap_only(line: str) -> bool:
    """Every sentence of ``line`` says its subject is still to write, read or try, or asks
    ("torch.compile vs TensorRT？沒試，待補")."""
    said = [part for part in _CLAUSES.split(line) if part.strip()]
    gaps = [part for part in said if _GAP.search(part)]
    return bool(gaps) and all(p in gaps or p.rstrip().endswith(("?", "？")) for p in said)


def is_todo(text: str) -> bool:
    """True for a to-do line (its first line read): a note to self; a line that says its subject
    is still to write, read or try (``_GAP``); a name alone before its "TODO:" or "待補:"
    ("- MapTR 待補：跟 HDMapNet 比"). Never an answer or a fact to learn."""
    first = text.split("\n", 1)[0]
    if _TODO.match(first) is not None:
        return True
    kept = _TODO_TAIL.sub("", first)
    if kept != first and len(terms(kept)) < _TO_DO_WORDS:
        return True
    return _gap_only(kept)


# a heading over to-dos alone: "## 待補", "TODO", "To read"
_TODO_HEADING = re.compile(r"^[\W_]*(?:todo|to[ -]?do|tbd|to read|待補|待讀|待查)[\W_]*$", re.I)


def todo_heading(heading: str) -> bool:
    """True when a heading path holds a heading over to-dos alone, below the note's title ("BEV
    感知 > 待補", "notes > TODO > BEVFusion"); a one-part path is that heading itself."""
    parts = heading.split(HEADING_SEP)
    return any(_TODO_HEADING.match(p.lstrip("#").strip()) for p in parts[1:] or parts)


@lru_cache(maxsize=512)
def todo_sections(text: str, heading: str = "") -> tuple[tuple[int, int], ...]:
    """The spans of ``text`` under a to-do heading: all of it when its own ``heading`` path
    holds one, and each section of it that one heads, up to the next heading."""
    if heading and todo_heading(heading):
        return ((0, len(text)),)
    heads = [b for b in blocks(text) if b.kind == "heading"] if "#" in text else []
    ends = [b.start for b in heads[1:]] + [len(text)]
    return tuple(
        (b.start, end) for b, end in zip(heads, ends, strict=False) if todo_heading(b.text)
    )


def without_todos(text: str, heading: str = "") -> str:
    """``text`` without its to-do lines (``is_todo``), its sentences that say they are still to
    write, read or try, its to-do sections (``todo_sections``; ``heading``: its heading path),
    and the to-do that ends a line ("... drift is common. TODO: write up time sync (PTP)"):
    what a note only means to write, it does not say."""
    for start, end in reversed(todo_sections(text, heading)):
        text = text[:start] + text[end:]
    kept = []
    for line in text.splitlines():
        if not is_todo(line):
            said = _CLAUSES.split(_TODO_TAIL.sub("", line))
            kept.append(" ".join(part for part in said if not _GAP.search(part)))
    return "\n".join(kept)


# a question written without its "?", as lists of interview questions often are: "How Do You
# Handle Missing Data", "What is a decision tree" (one clause, nothing that ends a sentence)
_ASKED = re.compile(
    r"^(?:(?:how|what|why|when|where|which|who)\s+(?:do|does|did|is|are|was|were|can|could|"
    r"would|should|will|much|many)|(?:can|could|would|should|do|does|is|are)\s+(?:you|we|i|"
    r"one|there))\s+[^.!;:。！；：]{3,150}$",
    re.IGNORECASE,
)


# a line labelled as a question ("**Q: 推導 Kalman gain** ⚠️"), without its answer on it: no
# "A:" or "Answer:", no second colon, "=", arrow or dash, no "?" with words after it ("Q:
# FixMatch 為什麼要分開? → weak aug ...", "Q: why warmup — Adam 的二階矩初期估不準")
_Q_LABEL = re.compile(
    r"^(?:Q|Question|問|问|題|题)\s*[:：](?!.*(?:[?？:：=→]|->|\s[-—–]\s|\bAns(?:wer)?\b|答))",
    re.I,
)


def is_question(text: str) -> bool:
    """True when a unit or heading is itself a question: in Q&A notes it is the context of the
    answer that follows it, never the answer. A line that asks without "?" counts ("How do you
    handle missing data"), as does one labelled "Q:" ("Q: camera-lidar fusion early / late")."""
    plain = clean_heading(text.strip())  # lines joined by spaces
    if _QUESTION_END.search(plain) is not None:
        return True
    plain = plain[len(list_marker(plain)) :]
    if _ASKED.match(plain) is not None:
        return True
    return "\n" not in text.strip() and _Q_LABEL.match(plain) is not None  # one line, as written


def section_starts(text: str) -> list[int]:
    """Offsets where a new section of ``text`` begins: every heading and every block that is a
    question (a bold question line of Q&A notes). The body of a question is what lies between it
    and the next section start. A prose block over 300 characters that ends with a question
    is a paragraph asking something on the way, not a question heading."""
    return [
        b.start
        for b in blocks(text)
        if b.kind == "heading" or (b.kind in PROSE and len(b.text) <= 300 and is_question(b.text))
    ]


_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")


def split_code(text: str) -> Iterator[tuple[str, bool]]:
    """(piece, is code) over ``text``, in order: fenced code blocks and inline code spans are
    code, the rest is prose (what a rewrite of Markdown prose may touch)."""
    pos = 0
    for block in blocks(text):
        if block.kind == "code":
            yield from _split_spans(text[pos : block.start])
            yield text[block.start : block.end], True
            pos = block.end
    yield from _split_spans(text[pos:])


def _split_spans(text: str) -> Iterator[tuple[str, bool]]:
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        yield text[pos : m.start()], False
        yield m.group(0), True
        pos = m.end()
    yield text[pos:], False
