"""Structure-aware chunking: Markdown is cut at headings, then packed block by block under the
embedding model's token budget. Code fences, display math and tables are never cut.

llama-index's MarkdownNodeParser splits at headings but has no token budget, and its
SentenceSplitter re-splits by paragraphs and sentences without knowing about code fences or
display math, so the packing is written here. Blocks and sentences come from ``ingest.text``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharpnotes.ingest.text import (
    ATOMIC,
    BLANK_LINE,
    HEADING_SEP,
    Block,
    blocks,
    clean_heading,
    heading_title,
    sentences,
)

if TYPE_CHECKING:  # llama-index costs a second to import; the query path never needs it
    from llama_index.core.schema import Document

# 3: blocks and sentences from ingest.text (no punkt: "e.g." no longer ends a sentence), math
# kept in headings, chunk text a verbatim slice of the note between its blocks
CHUNKER_VERSION = 3

CountTokens = Callable[[Sequence[str]], list[int]]

MAX_HEADING_CHARS = 200  # a heading is repeated in every chunk under it: a huge one is cut
ATOMIC_MAX_TOKENS = 4096  # a code/math block over this (an unclosed fence) is split by lines
# The most characters handed to the tokenizer in one call. A fast tokenizer keeps about 150
# bytes per character of what it is given (ids, offsets, token strings): counting a 5 MB
# single-line note in one call peaked 740 MB above the model's footprint.
COUNT_CHARS = 100_000
# WordPiece makes at most one token of 100 characters (a longer word is one [UNK]), so prose
# longer than budget x this is over budget without being counted
MAX_CHARS_PER_TOKEN = 100


@dataclass
class Chunk:
    """One retrievable passage. ``text`` is shown and cited; ``embed_text`` is what is embedded
    and indexed (the heading path, then the text)."""

    chunk_id: str
    source: str
    heading: str
    page: int | None
    text: str
    embed_text: str
    content_hash: str
    ordinal: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Group:
    """What packing moves as one piece: an atomic block, or prose blocks with no blank line
    between them (a paragraph and the list that follows it, say)."""

    text: str
    kind: str  # "prose", or the atomic block's kind ("code", "math", "table")

    @property
    def atomic(self) -> bool:
        return self.kind != "prose"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def make_chunk_id(source: str, heading: str, content_hash: str) -> str:
    """Stable id: the same file path, heading path and content give the same id."""
    return sha1(f"{source}\x1f{heading}\x1f{content_hash}")[:24]


def bounded(count: CountTokens) -> CountTokens:
    """``count`` fed at most ``COUNT_CHARS`` characters a call: texts are batched up to that
    size, and a longer text is counted window by window, cut at whitespace (exact for a
    tokenizer that never joins across spaces; a window with no space is cut where it must)."""

    def counted(texts: Sequence[str]) -> list[int]:
        out: list[int] = []
        batch: list[str] = []
        size = 0

        def flush() -> None:
            nonlocal batch, size
            if batch:
                out.extend(count(batch))
            batch, size = [], 0

        for text in texts:
            if len(text) > COUNT_CHARS:
                flush()
                out.append(sum(count([w])[0] for w in _windows(text, COUNT_CHARS)))
                continue
            if size + len(text) > COUNT_CHARS:
                flush()
            batch.append(text)
            size += len(text)
        flush()
        return out

    return counted


def _windows(text: str, size: int) -> list[str]:
    out, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            space = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = space if space > start else end
        out.append(text[start:end])
        start = end
    return out


def split_sections(
    text: str, markdown: bool = True
) -> list[tuple[list[tuple[int, str]], list[Block]]]:
    """The blocks of a document under their heading stack: ``[(heading stack, blocks)]``.
    Only Markdown is cut at headings (other text keeps heading-like lines as prose); sections
    without text are left out."""
    sections: list[tuple[list[tuple[int, str]], list[Block]]] = []
    stack: list[tuple[int, str]] = []
    current: list[Block] = []
    for block in blocks(text):
        if block.kind == "heading" and markdown:
            sections.append((stack, current))
            title = clean_heading(heading_title(block.text)[:MAX_HEADING_CHARS])
            stack = [h for h in stack if h[0] < block.level] + [(block.level, title)]
            current = []
        else:
            current.append(block)
    sections.append((stack, current))
    return [(s, b) for s, b in sections if any(x.text.strip() for x in b)]


def group_blocks(text: str, section: list[Block]) -> list[Group]:
    """Blocks as packing groups: an atomic block alone; prose blocks joined (as ``text`` has them)
    while no blank line separates them."""
    groups: list[Group] = []
    first: Block | None = None
    last: Block | None = None

    def flush() -> None:
        if first is not None and last is not None:
            groups.append(Group(text[first.start : last.end], "prose"))

    for block in section:
        if block.kind in ATOMIC:
            flush()
            first = last = None
            groups.append(Group(block.text, block.kind))
            continue
        if last is not None and BLANK_LINE.search(text, last.end, block.start):
            flush()
            first = None
        first = first or block
        last = block
    flush()
    return groups


def sentence_pieces(text: str) -> list[str]:
    """``text`` cut before each of its sentences (``ingest.text.sentences``); the pieces keep
    the spaces and newlines between sentences, so their concatenation is ``text``."""
    cuts = [0] + [s.start for s in sentences(text)[1:]] + [len(text)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _split_words(text: str, budget: int, count: CountTokens) -> list[str]:
    """Last resort for one over-long sentence: cut at spaces to the budget, and a word that is
    itself over budget (a run of brackets, a base64 blob) at characters."""
    units: list[tuple[str, int, str]] = []  # text, tokens, joiner before it
    words = text.split(" ")
    for i, (word, size) in enumerate(zip(words, count(words), strict=True)):
        joiner = " " if i else ""
        if size <= budget:
            units.append((word, size, joiner))
            continue
        for j, (part, p_size) in enumerate(_split_chars(word, budget, count)):
            units.append((part, p_size, joiner if j == 0 else ""))
    return _fill(units, budget)


def _fill(pieces: Sequence[tuple[str, int, str]], budget: int) -> list[str]:
    """(text, tokens, joiner before it) pieces packed greedily into texts of at most ``budget``
    tokens (a piece over budget alone); a text's first piece goes without its joiner."""
    out: list[str] = []
    cur: list[str] = []  # joined once per text: += on a growing string is quadratic
    used = 0
    for text, size, joiner in pieces:
        if cur and used + size > budget:
            out.append("".join(cur))
            cur, used = [], 0
        cur += [joiner, text] if cur else [text]
        used += size
    if cur:
        out.append("".join(cur))
    return out


def _split_chars(word: str, budget: int, count: CountTokens) -> list[tuple[str, int]]:
    """A word over budget as windows of ``budget`` characters with their sizes; a window still
    over budget (a character can be several word pieces) as single characters."""
    windows = [word[i : i + budget] for i in range(0, len(word), budget)]
    out: list[tuple[str, int]] = []
    for window, size in zip(windows, count(windows), strict=True):
        if size <= budget:
            out.append((window, size))
        else:
            out += list(zip(window, count(list(window)), strict=True))
    return out


def _split_table(table: str, budget: int, count: CountTokens) -> list[str]:
    """An over-long Markdown table as several tables of whole rows, each under its header."""
    lines = table.split("\n")
    head_len = 2 if len(lines) > 2 and set(lines[1].strip()) <= set("|-: ") else 1
    head, rows = lines[:head_len], lines[head_len:]
    head_size = count(["\n".join(head)])[0]
    parts: list[str] = []
    cur: list[str] = []
    used = head_size
    for row, size in zip(rows, count(rows), strict=True):
        if cur and used + size > budget:
            parts.append("\n".join(head + cur))
            cur, used = [], head_size
        cur.append(row)
        used += size
    if cur:
        parts.append("\n".join(head + cur))
    return parts


def pack(groups: list[Group], budget: int, count: CountTokens) -> list[str]:
    """Greedy packing of groups into texts of at most ``budget`` tokens.

    A table over budget is split by rows, each part under the header row. A code or math block
    over budget stays whole as its own chunk (the embedding sees its start, BM25 all of it); a
    prose group over budget is split by sentences, then by words."""
    long = budget * MAX_CHARS_PER_TOKEN
    sizes = count([g.text if g.atomic or len(g.text) <= long else "" for g in groups])
    pieces: list[tuple[str, int, str]] = []  # text, tokens, joiner before it
    for group, size in zip(groups, sizes, strict=True):
        if not group.atomic and len(group.text) > long:
            size = budget + 1  # surely over budget: not counted whole
        if size > budget and group.kind == "table":
            for part in _split_table(group.text, budget, count):
                pieces.append((part, count([part])[0], "\n\n"))
            continue
        if size <= budget or (group.atomic and size <= ATOMIC_MAX_TOKENS):
            pieces.append((group.text, size, "\n\n"))
            continue
        if group.atomic:  # far over budget: most likely a fence left open to the end of the note
            lines = group.text.split("\n")
            for j, (line, l_size) in enumerate(zip(lines, count(lines), strict=True)):
                parts = [line] if l_size <= budget else _split_words(line, budget, count)
                p_sizes = [l_size] if l_size <= budget else count(parts)
                for k, (part, p_size) in enumerate(zip(parts, p_sizes, strict=True)):
                    pieces.append((part, p_size, "\n\n" if j == k == 0 else "\n"))
            continue
        split = sentence_pieces(group.text)
        for i, (sentence, s_size) in enumerate(zip(split, count(split), strict=True)):
            joiner = "\n\n" if i == 0 else ""
            if s_size <= budget:
                pieces.append((sentence, s_size, joiner))
            else:
                words = _split_words(sentence, budget, count)
                for j, (w, w_size) in enumerate(zip(words, count(words), strict=True)):
                    pieces.append((w, w_size, joiner if j == 0 else " "))
    return [c.strip() for c in _fill(pieces, budget) if c.strip()]


def document_title(doc: Document) -> str:
    title = str(doc.metadata.get("title") or "").strip()
    return title or Path(doc.metadata["source"]).stem.replace("-", " ").replace("_", " ")


def chunk_documents(docs: Sequence[Document], count: CountTokens, max_tokens: int) -> list[Chunk]:
    """Chunks of all the documents of one file (a file is one document, or one per PDF page)."""
    count = bounded(count)
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for doc in docs:
        meta = dict(doc.metadata)
        source, page = meta.pop("source"), meta.pop("page", None)
        title = document_title(doc)
        markdown = meta.get("kind") == "markdown"
        sections = split_sections(doc.text, markdown)
        has_h1 = any(stack and stack[0][0] == 1 for stack, _ in sections)
        for stack, section in sections:
            path = [h for _, h in stack]
            if not has_h1 or not path:
                path = [title, *path]
            heading = HEADING_SEP.join(p for p in path if p)
            prefix = heading + "\n\n" if heading else ""
            budget = max(32, max_tokens - 2 - count([prefix])[0])
            for text in pack(group_blocks(doc.text, section), budget, count):
                embed_text = prefix + text
                content_hash = sha1(embed_text)
                chunk_id = make_chunk_id(source, heading, content_hash)
                seen[chunk_id] = seen.get(chunk_id, 0) + 1
                if seen[chunk_id] > 1:  # the same passage twice in one file
                    chunk_id = f"{chunk_id}-{seen[chunk_id]}"
                chunks.append(
                    Chunk(
                        chunk_id=chunk_id,
                        source=source,
                        heading=heading,
                        page=page,
                        text=text,
                        embed_text=embed_text,
                        content_hash=content_hash,
                        ordinal=len(chunks),
                        meta=meta,
                    )
                )
    return chunks
