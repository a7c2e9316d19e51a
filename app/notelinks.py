"""Notes as a graph: the links between indexed notes (``[[wikilinks]]`` and Markdown links to
other note files), resolved to the sources the catalog holds, and the backlinks of each note.

Resolution follows Obsidian's rules: a wikilink target is a path without its extension (the
shortest match wins), else a file name, else a front-matter title or alias, compared without
case; a Markdown link is a path relative to the linking note. The catalog already holds what
``ingest.readers`` found (each chunk's ``links``, ``title`` and ``aliases``), so nothing is read
from disk here.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from sharpnotes.ingest.catalog import Catalog

# an inline Markdown link (not an image): [text](target "optional title")
MD_LINK = re.compile(
    r"(?<!!)\[([^\]\n]*)\]\(\s*<?((?:[^()\s<>]|\([^()\s]*\))+)>?(?:\s+\"[^\"\n]*\")?\s*\)"
)
NOTE_SUFFIXES = (".md", ".markdown", ".mdown", ".txt", ".text", ".pdf")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def note_url(source: str) -> str:
    """The app's address of a note (the Note page), relative so it works under any base path."""
    return "note?source=" + quote(source, safe="/")


def is_note_path(target: str) -> bool:
    """A link target that names a local note file (no scheme, a note's extension)."""
    path = unquote(target.split("#", 1)[0])
    return bool(path) and not _SCHEME.match(path) and path.lower().endswith(NOTE_SUFFIXES)


def _key(name: str) -> str:
    return " ".join(name.strip().lower().split())


def _stem_path(source: str) -> str:
    path = PurePosixPath(source)
    return str(path.with_suffix("")) if path.suffix.lower() in NOTE_SUFFIXES else source


@dataclass
class NoteGraph:
    """Every indexed note, what it links to and what links to it."""

    sources: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # title/alias key -> source
    links: dict[str, list[str]] = field(default_factory=dict)  # source -> linked sources
    backlinks: dict[str, list[str]] = field(default_factory=dict)

    def resolve(self, target: str, from_source: str = "") -> str | None:
        """The source a link target names, or None when no indexed note matches."""
        target = unquote(target.split("#", 1)[0]).strip().replace("\\", "/")
        if not target:
            return None
        known = set(self.sources)
        if is_note_path(target) and from_source:  # relative to the linking note's folder
            parts: list[str] = []
            for part in (*PurePosixPath(from_source).parent.parts, *target.split("/")):
                if part in ("", "."):
                    continue
                if part == "..":
                    if not parts:
                        return None
                    parts.pop()
                else:
                    parts.append(part)
            joined = "/".join(parts)
            if joined in known:
                return joined
        if target.lstrip("/") in known:
            return target.lstrip("/")
        wanted = _key(_stem_path(target.lstrip("/")))
        by_path = [s for s in self.sources if _key(_stem_path(s)) == wanted]
        by_tail = [s for s in self.sources if _key(_stem_path(s)).endswith("/" + wanted)]
        matches = by_path or by_tail
        if matches:
            return min(matches, key=lambda s: (s.count("/"), s))
        return self.names.get(_key(target))


def build_graph(catalog: Catalog) -> NoteGraph:
    """The link graph of everything the catalog holds (one pass over its chunk rows)."""
    graph = NoteGraph(sources=sorted(catalog.files()))
    wiki: dict[str, list[str]] = defaultdict(list)
    for _, source, meta_json in catalog.chunk_filter_rows():
        meta = json.loads(meta_json)
        for name in [meta.get("title") or "", *meta.get("aliases", [])]:
            if name:
                graph.names.setdefault(_key(str(name)), source)
        wiki[source] += [t for t in meta.get("links", []) if t not in wiki[source]]
    owner = {cid: source for cid, source, _ in catalog.chunk_filter_rows()}
    markdown: dict[str, list[str]] = defaultdict(list)
    for cid, text in catalog.iter_embed_texts():
        for match in MD_LINK.finditer(text):
            if is_note_path(match.group(2)):
                markdown[owner[cid]].append(match.group(2))
    backlinks: dict[str, set[str]] = defaultdict(set)
    for source in graph.sources:
        found = [graph.resolve(t, source) for t in (*wiki[source], *markdown[source])]
        targets = list(dict.fromkeys(t for t in found if t and t != source))
        graph.links[source] = targets
        for target in targets:
            backlinks[target].add(source)
    graph.backlinks = {s: sorted(b) for s, b in backlinks.items()}
    return graph
