"""Structure-aware chunking: Markdown is cut at headings, then packed block by block under the
embedding model's token budget. Code fences, ``$$`` formulas and tables are never cut.

llama-index's MarkdownNodeParser splits at headings but has no token budget, and its
SentenceSplitter re-splits by paragraphs and sentences without knowing about code fences or
display math, so the packing is written here; sentence splitting uses llama-index's tokenizer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # llama-index costs a second to import; the query path never needs it
    from llama_index.core.schema import Document

CHUNKER_VERSION = 2
HEADING_SEP = " > "

CountTokens = Callable[[Sequence[str]], list[int]]

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*)$")  # closing #s are stripped after the match
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CJK_SENTENCE_END = re.compile(r"(?<=[。！？；])")
_UNIT_START = re.compile(r"^\s*([-*+>|]|\d+[.)])\s")
_INLINE_MD = re.compile(r"[*_`]+|\[([^\]]*)\]\([^)]*\)")
MAX_HEADING_CHARS = 200  # a heading is repeated in every chunk under it: a huge one is cut
ATOMIC_MAX_TOKENS = 4096  # a code/math block over this (an unclosed fence) is split by lines


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
class _Block:
    text: str
    atomic: bool  # code, display math or table: kept whole


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def make_chunk_id(source: str, heading: str, content_hash: str) -> str:
    """Stable id: the same file path, heading path and content give the same id."""
    return sha1(f"{source}\x1f{heading}\x1f{content_hash}")[:24]


def clean_heading(text: str) -> str:
    text = text[:MAX_HEADING_CHARS].rstrip(" \t#")
    return _INLINE_MD.sub(lambda m: m.group(1) or "", text).strip()


def code_fence_lines(text: str) -> Iterator[tuple[str, bool]]:
    """Each line with whether it is part of a fenced code block (fence lines included)."""
    fence: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match:
            marker = match.group(1)
            if fence is None:
                fence = marker[0] * len(marker)
                yield line, True
                continue
            if marker.startswith(fence):
                fence = None
                yield line, True
                continue
        yield line, fence is not None


def split_sections(body: str) -> list[tuple[list[tuple[int, str]], str]]:
    """Cut Markdown at ATX headings outside code fences: ``[(heading stack, section body)]``."""
    sections: list[tuple[list[tuple[int, str]], str]] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    for line, in_code in code_fence_lines(body):
        heading = _ATX.match(line) if not in_code else None
        if heading:
            sections.append((list(stack), "\n".join(lines)))
            level = len(heading.group(1))
            stack = [h for h in stack if h[0] < level] + [(level, clean_heading(heading.group(2)))]
            lines = []
        else:
            lines.append(line)
    sections.append((list(stack), "\n".join(lines)))
    return [(s, b) for s, b in sections if b.strip()]


def split_blocks(body: str) -> list[_Block]:
    """Paragraph-level blocks; code fences, ``$$`` math and tables come out whole."""
    blocks: list[_Block] = []
    current: list[str] = []
    atomic_end: str | None = None  # closing marker while inside a fence or $$ block
    atomic = False

    def flush() -> None:
        nonlocal current, atomic
        text = "\n".join(current).strip("\n")
        if text.strip():
            blocks.append(_Block(text, atomic))
        current, atomic = [], False

    for line in body.split("\n"):
        stripped = line.strip()
        if atomic_end is not None:
            current.append(line)
            closes = stripped.startswith(atomic_end) if atomic_end != "$$" else "$$" in stripped
            if closes:
                atomic_end = None
                flush()
            continue
        fence_match = _FENCE.match(line)
        if fence_match or stripped.startswith("$$"):
            flush()
            current, atomic = [line], True
            if fence_match:
                marker = fence_match.group(1)
                atomic_end = marker[0] * len(marker)
            elif not (stripped.count("$$") >= 2 and len(stripped) > 2):
                atomic_end = "$$"
            if atomic_end is None:
                flush()
            continue
        is_table = stripped.startswith("|")
        if not stripped:
            flush()
        elif is_table != atomic and current:
            flush()
            current, atomic = [line], is_table
        else:
            current.append(line)
            atomic = atomic or is_table
    flush()
    return blocks


def _units(text: str) -> list[str]:
    """Lines grouped into units: a list item, quote or table row starts a new unit, any other
    line continues the one before (soft-wrapped prose, as PDF text always is)."""
    units: list[list[str]] = []  # lists joined at the end: += on a long string is quadratic
    for line in text.split("\n"):
        if units and not _UNIT_START.match(line) and line.strip():
            units[-1].append(line)
        else:
            units.append([line])
    return ["\n".join(u) for u in units]


def split_sentences(text: str) -> list[str]:
    """Sentences (punkt, plus CJK sentence ends) whose concatenation is the input text."""
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    split = split_by_sentence_tokenizer()
    pieces: list[str] = []
    for unit in _units(text):
        for sentence in split(unit) if unit.strip() else [unit]:
            pieces.extend(p for p in _CJK_SENTENCE_END.split(sentence) if p)
        pieces.append("\n")
    pieces = pieces[:-1]
    # attach separators (newlines, blanks) to the sentence before them
    out: list[str] = []
    for piece in pieces:
        if out and not piece.strip():
            out[-1] += piece
        else:
            out.append(piece)
    return out


def _split_words(text: str, budget: int, count: CountTokens) -> list[str]:
    """Last resort for one over-long sentence: cut at spaces (or characters) to the budget."""
    if " " in text.strip():
        units, joiner = text.split(" "), " "
        sizes = count(units)
    else:  # windows of `budget` characters, and characters only in a window over budget
        windows = [text[i : i + budget] for i in range(0, len(text), budget)]
        units, sizes, joiner = [], [], ""
        for window, size in zip(windows, count(windows), strict=True):
            units.extend([window] if size <= budget else list(window))
            sizes.extend([size] if size <= budget else count(list(window)))
    out, cur, used = [], [], 0
    for unit, size in zip(units, sizes, strict=True):
        if cur and used + size > budget:
            out.append(joiner.join(cur))
            cur, used = [], 0
        cur.append(unit)
        used += size
    if cur:
        out.append(joiner.join(cur))
    return out


def _split_table(table: str, budget: int, count: CountTokens) -> list[str]:
    """An over-long Markdown table as several tables of whole rows, each under its header."""
    lines = table.split("\n")
    head_len = 2 if len(lines) > 2 and set(lines[1].strip()) <= set("|-: ") else 1
    head, rows = lines[:head_len], lines[head_len:]
    head_size = count(["\n".join(head)])[0]
    parts, cur, used = [], [], head_size
    for row, size in zip(rows, count(rows), strict=True):
        if cur and used + size > budget:
            parts.append("\n".join(head + cur))
            cur, used = [], head_size
        cur.append(row)
        used += size
    if cur:
        parts.append("\n".join(head + cur))
    return parts


def pack(blocks: list[_Block], budget: int, count: CountTokens) -> list[str]:
    """Greedy packing of blocks into texts of at most ``budget`` tokens.

    A table over budget is split by rows, each part under the header row. A code or math block
    over budget stays whole as its own chunk (the embedding sees its start, BM25 all of it); a
    prose block over budget is split by sentences, then by words."""
    sizes = count([b.text for b in blocks])
    pieces: list[tuple[str, int, str]] = []  # text, tokens, joiner before it
    for block, size in zip(blocks, sizes, strict=True):
        if size > budget and block.text.lstrip().startswith("|"):
            for part in _split_table(block.text, budget, count):
                pieces.append((part, count([part])[0], "\n\n"))
            continue
        if size <= budget or (block.atomic and size <= ATOMIC_MAX_TOKENS):
            pieces.append((block.text, size, "\n\n"))
            continue
        if block.atomic:  # far over budget: most likely a fence left open to the end of the note
            lines = block.text.split("\n")
            for j, (line, l_size) in enumerate(zip(lines, count(lines), strict=True)):
                parts = [line] if l_size <= budget else _split_words(line, budget, count)
                sizes = [l_size] if l_size <= budget else count(parts)
                for k, (part, p_size) in enumerate(zip(parts, sizes, strict=True)):
                    pieces.append((part, p_size, "\n\n" if j == k == 0 else "\n"))
            continue
        sentences = split_sentences(block.text)
        for i, (sentence, s_size) in enumerate(zip(sentences, count(sentences), strict=True)):
            joiner = "\n\n" if i == 0 else ""
            if s_size <= budget:
                pieces.append((sentence, s_size, joiner))
            else:
                words = _split_words(sentence, budget, count)
                for j, (w, w_size) in enumerate(zip(words, count(words), strict=True)):
                    pieces.append((w, w_size, joiner if j == 0 else " "))
    chunks: list[str] = []
    cur, used = "", 0
    for text, size, joiner in pieces:
        if cur and used + size > budget:
            chunks.append(cur)
            cur, used = "", 0
        cur = text if not cur else cur + joiner + text
        used += size
    if cur:
        chunks.append(cur)
    return [c.strip() for c in chunks if c.strip()]


def document_title(doc: Document) -> str:
    title = str(doc.metadata.get("title") or "").strip()
    return title or Path(doc.metadata["source"]).stem.replace("-", " ").replace("_", " ")


def chunk_documents(docs: Sequence[Document], count: CountTokens, max_tokens: int) -> list[Chunk]:
    """Chunks of all the documents of one file (a file is one document, or one per PDF page)."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for doc in docs:
        meta = dict(doc.metadata)
        source, page = meta.pop("source"), meta.pop("page", None)
        title = document_title(doc)
        if meta.get("kind") == "markdown":
            sections = split_sections(doc.text)
            has_h1 = any(stack and stack[0][0] == 1 for stack, _ in sections)
        else:
            sections, has_h1 = [([], doc.text)], False
        for stack, body in sections:
            path = [h for _, h in stack]
            if not has_h1 or not path:
                path = [title, *path]
            heading = HEADING_SEP.join(p for p in path if p)
            prefix = heading + "\n\n" if heading else ""
            budget = max(32, max_tokens - 2 - count([prefix])[0])
            for text in pack(split_blocks(body), budget, count):
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
