"""Readers: one file in, llama-index ``Document``s out (one per file, or one per PDF page).

A file that cannot be read raises ``SkipFile`` with a one-line reason; the caller records it
and goes on with the rest of the corpus.
"""

from __future__ import annotations

import errno
import io
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sharpnotes.ingest.text import code_fence_lines, without_comments

if TYPE_CHECKING:
    from llama_index.core.schema import Document

MARKDOWN_EXTS = {".md", ".markdown", ".mdown"}
TEXT_EXTS = {".txt", ".text"}
PDF_EXTS = {".pdf"}
SUPPORTED_EXTS = MARKDOWN_EXTS | TEXT_EXTS | PDF_EXTS

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
# [[target#section|alias]], as Obsidian writes it (the app's renderer finds links with it too)
WIKILINK = re.compile(r"\[\[([^\[\]|#\n]+)(#[^\[\]|\n]*)?(?:\|([^\[\]\n]+))?\]\]")
_MAX_FRONT_MATTER = 64 * 1024
_MAX_NESTING = 20  # levels of YAML nesting front matter may use


class SkipFile(Exception):
    """A file that is not ingested, with the reason shown to the user."""


def file_kind(path: Path) -> str | None:
    """'markdown', 'text', 'pdf', or None for a type we do not ingest."""
    ext = path.suffix.lower()
    if ext in MARKDOWN_EXTS:
        return "markdown"
    if ext in TEXT_EXTS:
        return "text"
    if ext in PDF_EXTS:
        return "pdf"
    return None


def read_file(path: Path, source: str, max_bytes: int) -> list[Document]:
    """Read one supported file. ``source`` is its path relative to the ingest root."""
    if file_kind(path) is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(none)'}")
    return parse_file(read_bytes(path, max_bytes), path, source)


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The bytes of a note, read through one descriptor checked before anything is read: a
    regular file no larger than ``max_bytes``. A FIFO or a device named ``*.md`` would block the
    read or never end it, so neither is opened for reading (non-blocking open, then fstat)."""
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # a device is not even opened
            raise SkipFile(_not_regular(mode))
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise SkipFile(cannot_read(exc)) from exc
    with os.fdopen(fd, "rb") as fh:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):  # swapped for something else since the stat
                raise SkipFile(_not_regular(info.st_mode))
            if info.st_size > max_bytes:
                raise SkipFile(_too_large(info.st_size, max_bytes))
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise SkipFile(cannot_read(exc)) from exc
    if len(data) > max_bytes:  # it grew while being read
        raise SkipFile(_too_large(len(data), max_bytes))
    if not data:
        raise SkipFile(EMPTY)
    return data


def parse_file(data: bytes, path: Path, source: str) -> list[Document]:
    """The documents of a supported file's bytes (``path`` gives the type)."""
    kind = file_kind(path)
    if kind is None:
        raise SkipFile(f"unsupported file type {path.suffix or '(none)'}")
    if kind == "pdf":
        return _read_pdf(data, source)
    text = _decode_text(data)
    if kind == "markdown":
        return [_markdown_document(text, source)]
    return [_document(text, _base_meta(source, "text", title=Path(source).stem))]


def _document(text: str, meta: dict[str, Any]) -> Document:
    """A llama-index Document, imported when a file is read: importing llama-index costs
    about 3 s, which an ingest that finds nothing changed does not pay."""
    from llama_index.core.schema import Document

    return Document(text=text, metadata=meta)


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"{size / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB limit "
        "(raise SHARPNOTES_MAX_FILE_MB to ingest it)"
    )


def _not_regular(mode: int) -> str:
    kinds = [(stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")]
    what = next((name for test, name in kinds if test(mode)), "a special file")
    return (
        f"not a regular file ({what}); delete it or rename it without a note extension "
        "(.md, .txt, .pdf)"
    )


EMPTY = "empty file; write something in it or delete it"


def cannot_read(exc: OSError) -> str:
    """The one-line reason for an OSError while reading a note, with what to do about it."""
    if isinstance(exc, FileNotFoundError):
        return "disappeared while ingesting (deleted or moved); run ingest again"
    if isinstance(exc, PermissionError):
        return "cannot read: permission denied; give your user read access (chmod u+r)"
    if exc.errno == errno.ELOOP:
        return "cannot read: symlink loop; fix or delete the link"
    return f"cannot read: {exc.strerror or exc}; check the file and run ingest again"


def _base_meta(source: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"source": source, "kind": kind, **extra}


def _decode_text(raw: bytes) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SkipFile("UTF-16 text; re-save the file as UTF-8")
    if b"\x00" in raw[:8192]:
        raise SkipFile("binary content (NUL bytes), not a text note; move it out of the notes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkipFile(f"not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise SkipFile(EMPTY)
    return text


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors/aliases: front matter never needs them, and they allow 'YAML bombs'."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases are not allowed in front matter")
        return super().compose_node(parent, index)


def _too_deep(yaml_text: str) -> bool:
    """Nesting no front matter needs (brackets or indentation past ``_MAX_NESTING`` levels):
    PyYAML parses it recursively, seconds per file, so such text is not read as YAML at all."""
    depth = deepest = 0
    for char in yaml_text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
    if deepest > _MAX_NESTING:
        return True
    indents = (len(line) - len(line.lstrip(" ")) for line in yaml_text.split("\n"))
    return max(indents, default=0) > 2 * _MAX_NESTING


def parse_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split YAML front matter from the body. Front matter that is not a YAML mapping is
    left in the body as ordinary text."""
    match = _FRONT_MATTER.match(text)
    if not match or len(match.group(1)) > _MAX_FRONT_MATTER or _too_deep(match.group(1)):
        return {}, text
    try:
        data = yaml.load(match.group(1), Loader=_NoAliasLoader)  # noqa: S506 - safe loader subclass
    except Exception:  # noqa: BLE001 - any YAML failure means: not front matter, keep it as text
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    return data, text[match.end() :]


def _as_str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value)
    elif isinstance(value, list | tuple | set):
        items = [str(v) for v in value if isinstance(v, str | int | float)]
    else:
        items = [str(value)]
    return [i.strip().lstrip("#") for i in items if i and i.strip().lstrip("#")]


def resolve_wikilinks(text: str) -> tuple[str, list[str]]:
    """Replace ``[[target#section|alias]]`` by its visible text, outside code fences; return the
    link targets."""
    links: list[str] = []

    def _sub(m: re.Match[str]) -> str:
        target = m.group(1).strip()
        links.append(target)
        return (m.group(3) or target).strip()

    out = [line if code else WIKILINK.sub(_sub, line) for line, code in code_fence_lines(text)]
    return "\n".join(out), list(dict.fromkeys(links))


# an Obsidian callout's first line ("> [!warning] Common interview trap"), and a line that only
# links other notes ("Related: [[a]], [[b]]")
_CALLOUT = re.compile(r"^[ \t]*>[ \t]*\[!(?P<kind>[\w-]+)\][+-]?[ \t]*(?P<title>.*)$")
_QUOTED = re.compile(r"^[ \t]*>[ \t]?")
_TAGS_ONLY = re.compile(r"^[ \t]*(?:#[^\W\d][\w/-]*[ \t]*)+$")  # "#detection #loss"
_LINKS_ONLY = re.compile(
    r"^[ \t]*(?:[-*][ \t]+)?(?:related|see also|links?|up|parent)[ \t]*:[ \t]*"
    r"(?:\[\[[^\]\n]+\]\][ \t,;]*)+$",
    re.IGNORECASE,
)


def as_read(body: str) -> str:
    """A note's body as its reader sees it rendered: an Obsidian callout is a box, not a
    quotation, so its lines lose their quote markers and its title leads them ("**Common
    interview trap:** Focal loss does not ..."); a line that only links other notes ("Related:
    [[a]], [[b]]") is navigation, not something the note says (its links stay in the note's
    metadata). Fenced code is left as it is."""
    out: list[str] = []
    callout = False
    for line, code in code_fence_lines(body):
        if code:
            out.append(line)
            callout = False
            continue
        header = _CALLOUT.match(line)
        if header:
            title = header["title"].strip() or header["kind"].capitalize()
            out.append(f"**{title.rstrip(':')}:**")
            callout = True
        elif callout and _QUOTED.match(line):
            out.append(_QUOTED.sub("", line, count=1))
        elif not _LINKS_ONLY.match(line) and not _TAGS_ONLY.match(line):
            callout = False
            out.append(line)
    return "\n".join(out)


def inline_tags(body: str) -> list[str]:
    """The tags of a line that holds only tags ("#detection #loss"), outside fenced code."""
    return [
        tag.lower()
        for line, code in code_fence_lines(body)
        if not code and _TAGS_ONLY.match(line)
        for tag in re.findall(r"#([^\W\d][\w/-]*)", line)
    ]


def _markdown_document(text: str, source: str) -> Document:
    front, raw = parse_front_matter(text)
    raw = without_comments(raw)
    _, links = resolve_wikilinks(raw)  # every link, those of navigation lines too
    body, _ = resolve_wikilinks(as_read(raw))
    title = front.get("title")
    meta = _base_meta(
        source,
        "markdown",
        title=str(title).strip() if isinstance(title, str | int | float) else "",
        tags=list(
            dict.fromkeys(
                [t.lower() for t in _as_str_list(front.get("tags") or front.get("tag"))]
                + inline_tags(raw)
            )
        ),
        aliases=_as_str_list(front.get("aliases") or front.get("alias")),
        links=links,
    )
    if not body.strip():
        raise SkipFile("no text after the front matter; write the note's body")
    return _document(body, meta)


def _read_pdf(data: bytes, source: str) -> list[Document]:
    """One document per page with text. pypdf over the bytes already read: llama-index's
    PDFReader opens the file by path again (and retries a parse of the same bytes)."""
    import pypdf

    if not data.startswith(b"%PDF-"):
        raise SkipFile("not a PDF (no %PDF header); rename it or move it out of the notes")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise SkipFile("encrypted PDF; save a decrypted copy to ingest it")
        texts = [page.extract_text() for page in reader.pages]
    except SkipFile:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise SkipFile(_unreadable_pdf(exc)) from exc
    docs = []
    texts = without_running_lines([(t or "").replace("\x00", "") for t in texts])
    for number, text in enumerate(texts, start=1):
        if text.strip():
            meta = _base_meta(source, "pdf", title=Path(source).stem, page=number)
            docs.append(_document(text, meta))
    if not docs:
        raise SkipFile("PDF has no text layer (scanned?); run OCR on it first")
    return docs


# the version of what the readers make of a file; an index made by an older one reads such
# files again on its next ingest (``ingest.sync``), reusing the vectors of unchanged chunks.
# pdf 2: running headers and footers left out; markdown 2: HTML comments not read, Obsidian
# callouts as rendered, tag-only and "Related:" lines out of the text, HTML tags out of headings
READER_VERSIONS = {"pdf": "2", "markdown": "2"}
RUNNING_LAYERS = 2  # a running header or footer may be two lines (a title over a page number)
_DIGITS = re.compile(r"\d+")


def without_running_lines(pages: list[str]) -> list[str]:
    """The pages without the lines a PDF repeats first or last on most of them (a running
    title, "Paper - page 3 of 9", a lone page number), compared with their numbers masked; up
    to two such lines at each end. Three pages at least: on fewer, a repeat says nothing."""
    if len(pages) < 3:
        return pages
    split = [[line for line in page.splitlines() if line.strip()] for page in pages]

    def key(line: str) -> str:
        return _DIGITS.sub("#", line.strip())

    def running(ends: list[str]) -> set[str]:
        counts: dict[str, int] = {}
        for end in ends:
            counts[key(end)] = counts.get(key(end), 0) + 1
        return {k for k, n in counts.items() if n * 2 > len(pages)}

    for _ in range(RUNNING_LAYERS):
        top = running([lines[0] for lines in split if len(lines) > 1])
        bottom = running([lines[-1] for lines in split if len(lines) > 1])
        for lines in split:  # a page keeps one line at least
            if len(lines) > 1 and key(lines[-1]) in bottom:
                lines.pop()
            if len(lines) > 1 and key(lines[0]) in top:
                lines.pop(0)
    return ["\n".join(lines) for lines in split]


def _unreadable_pdf(exc: BaseException | None) -> str:
    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:160]
    return f"unreadable PDF ({detail}); open and re-save it, or replace it with a good copy"
