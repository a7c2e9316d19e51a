"""The one renderer of note text: answers, citation cards, the note view, quiz and review.

Streamlit's own Markdown (``st.markdown``) already renders what notes hold: CommonMark and
GitHub tables, fenced code with highlighting, KaTeX math between ``$...$`` and ``$$...$$``,
coloured spans (``:yellow-background[...]``), link titles as hover text; and with
``unsafe_allow_html`` off it shows raw HTML as text and drops ``javascript:`` links. So note text
is never turned into HTML here: it is prepared as Markdown and handed to ``st.markdown``.
What Streamlit lacks is written here: ``\\(...\\)`` and ``\\[...\\]`` math (it knows dollars
only), GitHub's math images and line-break tags, images that are not fetched until the reader
asks (a remote image is a request the note's author can watch), ``[[wikilinks]]`` and links to
other notes opening the Note page, the quoted span highlighted, PDF text reflowed without its
page footers, and plain text shown as written.

The only HTML of our own (``st.html``) is the stylesheet, the card anchors and the scroll
script: no note text ever reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from sharpnotes.app.notelinks import MD_LINK, is_note_path, note_url
from sharpnotes.ingest.readers import WIKILINK
from sharpnotes.ingest.text import blocks, html_as_text, split_code

Kind = Literal["markdown", "text", "pdf"]
Resolve = Callable[[str], str | None]  # link target -> indexed note source, or None

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")
HIGHLIGHT = "yellow-background"
_OPEN, _CLOSE = "\ue000", "\ue001"  # highlight bounds while the text is rewritten
_PAREN_MATH = re.compile(r"\\\((.+?)\\\)", re.S)
_BRACKET_MATH = re.compile(r"\\\[(.+?)\\\]", re.S)
_SAFE_SCHEMES = ("http", "https", "mailto")
_LINE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+|#{1,6}[ \t]+)?")


def literal(text: str) -> str:
    """``text`` for a Streamlit Markdown slot (captions, labels, radio options) shown as written:
    every Markdown character is backslash-escaped, so a note's links and emphasis stay text."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def kind_of(source: str) -> Kind:
    lower = source.lower()
    if lower.endswith(".pdf"):
        return "pdf"
    if lower.endswith((".txt", ".text")):
        return "text"
    return "markdown"


# --- PDF text ----------------------------------------------------------------------------------

_FOOTER = re.compile(
    r"^\s*(?:page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$"
    r"|^\s*(?:page|p\.)\s*\d{1,4}\b.{0,60}$"
    r"|^.{0,60}\bpage\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$",
    re.I,
)


def pdf_text(text: str) -> str:
    """A PDF page's text layer as paragraphs: page numbers and "Page 3 of 9" footers (and
    headers) dropped, words hyphenated across a line joined, hard line breaks inside a paragraph
    turned into spaces. A line ends a paragraph when it is blank, or short and closed by a full
    stop (the last line of a paragraph rarely fills the width)."""
    lines = [line.rstrip() for line in text.replace("\r", "").split("\n")]
    while lines and (not lines[-1].strip() or _FOOTER.match(lines[-1])):
        lines.pop()
    while lines and (not lines[0].strip() or _FOOTER.match(lines[0])):
        lines.pop(0)
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        stripped = line.strip()
        if not stripped:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current.endswith("-") and stripped[:1].islower():
            current = current[:-1] + stripped
        else:
            current = f"{current} {stripped}" if current else stripped
        if stripped.endswith((".", "!", "?", ":", "。")) and len(stripped) < 0.7 * width:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


# --- finding the passage and the quote ---------------------------------------------------------


def find_span(text: str, needle: str, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """Where ``needle`` occurs in ``text[start:end]``: verbatim, else with any run of white space
    matching any other (a passage re-flowed or re-indented); (-1, -1) when it does not."""
    end = len(text) if end is None else end
    needle = needle.strip()
    if not needle:
        return -1, -1
    at = text.find(needle, start, end)
    if at != -1:
        return at, at + len(needle)
    words = needle.split()
    if len(words) > 400:  # a whole passage: its first and last words pin it down
        words = words[:60] + words[-60:]
        pattern = (
            r"\s+".join(map(re.escape, words[:60]))
            + r"[\s\S]*?"
            + r"\s+".join(map(re.escape, words[60:]))
        )
    else:
        pattern = r"\s+".join(map(re.escape, words))
    match = re.compile(pattern).search(text, start, end)
    return (match.start(), match.end()) if match else (-1, -1)


def _visible(text: str) -> tuple[str, list[int]]:
    """``text`` with ``[[target|alias]]`` replaced by its visible text (as ingest indexes it),
    and for each position of the result its position in ``text``."""
    out: list[str] = []
    where: list[int] = []
    pos = 0
    for m in WIKILINK.finditer(text):
        out.append(text[pos : m.start()])
        where.extend(range(pos, m.start()))
        shown = (m.group(3) or m.group(1)).strip()
        out.append(shown)
        where.extend([m.start()] * len(shown))
        pos = m.end()
    out.append(text[pos:])
    where.extend(range(pos, len(text) + 1))
    return "".join(out), where


@dataclass(frozen=True)
class Part:
    """A run of whole Markdown blocks; ``target`` is the cited passage (scrolled to)."""

    markdown: str
    target: bool = False


def note_parts(
    text: str,
    *,
    kind: Kind = "markdown",
    quote: str | list[str] = "",
    passage: str = "",
    resolve: Resolve | None = None,
) -> list[Part]:
    """Note (or passage) text as Markdown for ``st.markdown``, cut into at most three runs of
    whole blocks: before the cited ``passage``, the passage itself (``target``), after it.
    Each ``quote`` (one string or several) is highlighted where it is found, inside the passage
    when one is given."""
    quotes = [quote] if isinstance(quote, str) else list(quote)
    if kind == "pdf":
        text = pdf_text(text)
        passage, quotes = pdf_text(passage), [pdf_text(q) for q in quotes]
    seen, where = _visible(text) if kind == "markdown" else (text, list(range(len(text) + 1)))
    region = find_span(seen, passage) if passage else (-1, -1)
    lo, hi = region if region[0] != -1 else (0, len(seen))
    spans = []
    for q in quotes:
        span = find_span(seen, q, lo, hi) if q.strip() else (-1, -1)
        if span[0] == -1 and q.strip() and region[0] != -1:
            span = find_span(seen, q)
        if span[0] != -1:
            spans.append((where[span[0]], where[span[1]]))
    marks = _disjoint(spans)
    target = region if region[0] != -1 else (spans[0] if spans else (-1, -1))
    if target[0] == -1:
        return [Part(_prepare(text, kind, marks, resolve))]
    first, last = (where[target[0]], where[target[1]]) if region[0] != -1 else target
    cuts = _block_bounds(text, first, last, kind)
    parts = []
    for i, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        inside = [(max(a, s) - a, min(b, e) - a) for s, e in marks if max(a, s) < min(b, e)]
        piece = _prepare(text[a:b], kind, inside, resolve)
        if piece.strip():
            parts.append(Part(piece, target=i == 1))
    return parts


def _disjoint(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _block_bounds(text: str, first: int, last: int, kind: Kind) -> list[int]:
    """[0, start of the first block holding ``first``, end of the last holding ``last``, end]."""
    if kind != "markdown":
        starts = [0] + [m.end() for m in re.finditer(r"\n\s*\n", text)]
        start = max((s for s in starts if s <= first), default=0)
        ends = [m.start() for m in re.finditer(r"\n\s*\n", text)] + [len(text)]
        end = min((e for e in ends if e >= last), default=len(text))
        return [0, start, end, len(text)]
    found = blocks(text)
    start = min((b.start for b in found if b.end > first), default=first)
    end = max((b.end for b in found if b.start < last), default=last)
    start, end = min(start, first), max(end, last)
    return [0, start, end, len(text)]


def markdown(
    text: str,
    *,
    kind: Kind = "markdown",
    quote: str | list[str] = "",
    resolve: Resolve | None = None,
) -> str:
    """Note text as one Markdown string for ``st.markdown`` (quiz items, review cards, short
    passages), ``quote`` highlighted."""
    return "\n\n".join(
        p.markdown for p in note_parts(text, kind=kind, quote=quote, resolve=resolve)
    )


# --- preparing Markdown --------------------------------------------------------------------------


def _prepare(text: str, kind: Kind, marks: list[tuple[int, int]], resolve: Resolve | None) -> str:
    # a code block's lines are not highlighted: the coloured span would show as text in it
    code = (
        [(b.start, b.end) for b in blocks(text) if b.kind == "code"] if kind == "markdown" else []
    )
    for start, end in reversed(marks):  # from the end: the spans before keep their offsets
        text = _insert_marks(text, start, end, code)
    if kind == "markdown":
        text = "".join(
            piece if code else _rewrite(piece, resolve) for piece, code in split_code(text)
        )
    else:  # plain text: every Markdown character escaped, lines kept
        text = "\n".join(literal(line) + "  " for line in text.split("\n")).rstrip()
    return _close_marks(text)


def _insert_marks(text: str, start: int, end: int, code: Sequence[tuple[int, int]] = ()) -> str:
    """Highlight bounds around ``text[start:end]``, per line and after each line's list, quote or
    heading marker, so that no Markdown structure is cut by them; none on the lines of the
    ``code`` blocks ((start, end) offsets)."""
    out = [text[:start]]
    at = start
    for i, line in enumerate(text[start:end].split("\n")):
        if i:
            out.append("\n")
        prefix = _LINE_PREFIX.match(line).group(0) if i or _at_line_start(text, start) else ""  # type: ignore[union-attr]
        body = line[len(prefix) :]
        in_code = any(a <= at < b for a, b in code)
        out.append(prefix + (f"{_OPEN}{body}{_CLOSE}" if body.strip() and not in_code else body))
        at += len(line) + 1
    out.append(text[end:])
    return "".join(out)


def _at_line_start(text: str, pos: int) -> bool:
    return pos == 0 or text[pos - 1] == "\n"


def _close_marks(text: str) -> str:
    """Highlight bounds to Streamlit's coloured span. A line whose highlighted part would not
    parse inside the span (unbalanced brackets, a code span or formula cut by the line end, a
    fence or a table row) is left unhighlighted: its block is still marked as the target."""

    def span(m: re.Match[str]) -> str:
        body = m.group(1)
        if (
            body.count("[") != body.count("]")
            or body.count("`") % 2
            or body.replace("$$", "").count("$") % 2
            or body.lstrip().startswith(("|", "```", "~~~", "$$"))
        ):
            return body
        return f":{HIGHLIGHT}[{body}]"

    return (
        re.sub(f"{_OPEN}(.*?){_CLOSE}", span, text, flags=re.S)
        .replace(_OPEN, "")
        .replace(_CLOSE, "")
    )


def _rewrite(text: str, resolve: Resolve | None) -> str:
    """The Markdown rewrites of prose (outside code)."""
    text = html_as_text(text)
    text = _BRACKET_MATH.sub(lambda m: f"$${m.group(1)}$$", text)
    text = _PAREN_MATH.sub(lambda m: f"${m.group(1).strip()}$", text)
    text = text.replace("![", "[🖼 ")  # images become links: nothing is fetched until clicked
    text = MD_LINK.sub(lambda m: _link(m, resolve), text)
    return WIKILINK.sub(lambda m: _wikilink(m, resolve), text)  # after: its links are ours


def _wikilink(m: re.Match[str], resolve: Resolve | None) -> str:
    shown = (m.group(3) or m.group(1)).strip()
    source = resolve(m.group(1)) if resolve else None
    if source is None:
        return f":gray[{literal(shown)}]"  # a note not (yet) written: shown, not followed
    return f"[{literal(shown)}]({note_url(source)} {_title('open ' + source)})"


def _link(m: re.Match[str], resolve: Resolve | None) -> str:
    label, target = m.group(1), m.group(2)
    if target.startswith("#"):
        return m.group(0)
    if is_note_path(target):
        source = resolve(target) if resolve else None
        if source is not None:
            return f"[{label}]({note_url(source)} {_title('open ' + source)})"
        return label
    scheme = urlsplit(target).scheme.lower()
    if scheme in _SAFE_SCHEMES:
        return m.group(0)
    return label  # javascript:, data:, file: and the like: the text only


def _title(text: str) -> str:
    """A Markdown link title (hover text): plain text on one line (links as their text, no
    emphasis marks), quotes escaped."""
    text = MD_LINK.sub(lambda m: m.group(1), text.replace("![", "["))
    text = WIKILINK.sub(lambda m: (m.group(3) or m.group(1)).strip(), text)
    flat = " ".join(re.sub(r"[*_`]+", "", text).split())
    flat = flat if len(flat) <= 300 else flat[:299] + "…"
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- answers ------------------------------------------------------------------------------------

_MARKER_RUN = re.compile(r"(?:\s*\[\d+\])+")
_NUMBER = re.compile(r"\[(\d+)\]")


def citation_numbers(answer: dict[str, Any]) -> dict[int, int]:
    """Passage number -> number shown: the cited passages (those with a card) numbered 1, 2, 3...
    in the order the answer first cites them, so the numbers have no gaps. Answers are numbered
    so as they are made (``answer.renumber``); an answer saved before then is numbered here."""
    from sharpnotes.app.answer import citation_order

    cited = {c["n"] for c in answer.get("citations") or []}
    return citation_order(map(int, _NUMBER.findall(answer.get("answer", ""))), cited)


def card_anchor(turn: int | str, shown: int) -> str:
    return f"sn-card-{turn}-{shown}"


def card_quotes(answer: dict[str, Any]) -> dict[int, list[str]]:
    """Passage number -> what its card highlights: the best unit of each supported sentence that
    cites it (``SentenceCheck.quote``), so a card never highlights for a sentence the check
    flagged; the citation's own ``quote`` when the answer carries no sentence checks."""
    texts = {c["n"]: c.get("text", "") for c in answer.get("citations") or []}
    out: dict[int, list[str]] = {n: [] for n in texts}
    sentences = answer.get("sentences")
    if not sentences:
        return {c["n"]: [c.get("quote") or ""] for c in answer.get("citations") or []}
    for s in sentences:
        if not s.get("supported") or not s.get("quote"):
            continue
        for n in s.get("markers") or []:
            if n in out and find_span(texts[n], s["quote"])[0] != -1 and s["quote"] not in out[n]:
                out[n].append(s["quote"])
    return out


def flagged_sentences(answer: dict[str, Any]) -> list[tuple[int, int]]:
    """(start, end) in the answer text of each sentence shown as unsupported.

    The sentence is ``ingest.text``'s (the splitter that cuts notes into units); its verdict
    comes from the check's pieces that start inside it. It is flagged when a piece is
    unsupported, unless the whole sentence stands verbatim in a span its own cards highlight:
    the card and the flag never disagree about one line."""
    from sharpnotes.ingest.text import sentences as split

    text = answer["answer"]
    checks = answer.get("sentences") or []
    located = []
    pos = 0
    for s in checks:
        start, end = find_span(text, _MARKER_RUN.sub(" ", s["text"]).strip(), pos)
        if start != -1:
            located.append((start, s))
            pos = end
    quotes = card_quotes(answer)
    out = []
    for sentence in split(text):
        own = [s for at, s in located if sentence.start <= at < sentence.end]
        if not own or all(s.get("supported", True) for s in own):
            continue
        markers = {n for s in own for n in s.get("markers") or []}
        plain = " ".join(_MARKER_RUN.sub("", sentence.text).split())
        held = [q for n in (markers or quotes) for q in quotes.get(n, [])]
        if plain and any(plain in " ".join(q.split()) for q in held):
            continue
        end = sentence.end
        after = _MARKER_RUN.match(text, end)
        out.append((sentence.start, after.end() if after else end))
    return out


def answer_markdown(answer: dict[str, Any], turn: int | str = 0) -> str:
    """The answer as Markdown: each marker a chip linking to its card with the quote as hover
    text; each sentence shown as unsupported (``flagged_sentences``) followed by a warning
    badge. A marker naming a passage that supports nothing shows as a grey ``?``."""
    text = answer["answer"]
    numbers = citation_numbers(answer)
    quotes = card_quotes(answer)

    def chips(run: str) -> str:
        # the space before the chips; a line break stays one (after a code fence it must)
        lead = run[: len(run) - len(run.lstrip())]
        out = [lead if "\n" in lead else " "]
        for n in map(int, _NUMBER.findall(run)):
            shown = numbers.get(n)
            if shown is None:
                out.append(":gray-badge[?]")
            else:
                hover = " … ".join(quotes.get(n) or []) or "cited passage"
                out.append(f"[{shown}](#{card_anchor(turn, shown)} {_title(hover)})")
        return "".join(out)

    pieces, pos = [], 0
    for _, end in flagged_sentences(answer):
        pieces += [text[pos:end], " :orange-badge[:material/warning: unsupported]"]
        pos = end
    pieces.append(text[pos:])
    return "".join(
        piece if code else _MARKER_RUN.sub(lambda m: chips(m.group(0)), _rewrite(piece, None))
        for piece, code in split_code("".join(pieces))
    )


# --- our own HTML: style, anchors, scrolling ---------------------------------------------------

STYLE = """<style>
a[href^="#sn-card-"] {display:inline-block;min-width:1.3em;padding:0 .35em;margin:0 .1em;
  border-radius:.7em;background:#1f6feb;color:#fff !important;font-size:.75em;font-weight:600;
  text-align:center;vertical-align:super;line-height:1.4em;text-decoration:none !important}
.stMarkdownColoredBackground[style*="255, 250, 229"] {background-color:#fff1a8 !important}
[class*="st-key-sn-target"] {background:rgba(255,214,0,.12);border-left:3px solid #f2c200;
  padding:.25em .75em;border-radius:.3em}
</style>"""


def scroll_script(key: str) -> str:
    """Ours only: scroll the element Streamlit rendered for ``st.container(key=key)`` into view
    once it is on the page."""
    if not re.fullmatch(r"[\w-]+", key):
        raise ValueError(f"not a widget key: {key!r}")
    return (
        "<script>(function(){var n=0;var t=setInterval(function(){"
        f"var e=document.querySelector('.st-key-{key}');"
        "if(e){e.scrollIntoView({block:'center'});clearInterval(t);}"
        "if(++n>40)clearInterval(t);},100);})();</script>"
    )
