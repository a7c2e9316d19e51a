"""HTML for answers and citation cards. Note text is data: every piece of it goes through
``html.escape`` before it meets our own markup, so tags and scripts in notes show as text."""

from __future__ import annotations

import re
from html import escape
from typing import Any

_MARKER = re.compile(r"\[(\d+)\]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$])")


# a remote address: http(s) (browsers read "http:host" as "http://host/") or protocol-relative
_REMOTE = r"(?:https?:|//)[^\s()<>]+"
_INLINE_IMAGE = re.compile(
    r"!\[(?P<alt>[^\]\n]*)\]\(\s*<?(?P<url>" + _REMOTE + r")>?"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^)\n]*\)))?\s*\)",
    re.IGNORECASE,
)
_REF_IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]*)\](?:\[(?P<ref>[^\]\n]*)\])?")
_REF_DEFINITION = re.compile(r"^ {0,3}\[([^\]\n]+)\]:\s*<?(" + _REMOTE + r")", re.I | re.M)
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def hold_remote_images(markdown: str) -> tuple[str, int]:
    """Markdown with every image from another host turned into a link to it, so that showing a
    note fetches nothing (a fetched image tells its host that, and when, the note was read); the
    user loads an image by clicking its link. Code is left as written. Returns the text and how
    many images were held back."""
    from sharpnotes.ingest.chunking import code_fence_lines

    remote_refs = {label.strip().lower(): url for label, url in _REF_DEFINITION.findall(markdown)}
    held = 0

    def placeholder(alt: str, url: str) -> str:
        host = re.sub(r"^(?:https?:)?/*", "", url, flags=re.I).split("/")[0]
        alt = alt.strip() or "image"
        return f":material/image: {alt} (remote image from {host}, not loaded: click to open)"

    def inline(match: re.Match[str]) -> str:
        nonlocal held
        held += 1
        return f"[{placeholder(match['alt'], match['url'])}]({match['url']})"

    def reference(match: re.Match[str]) -> str:
        nonlocal held
        ref = (match["ref"] or match["alt"]).strip().lower()
        if ref not in remote_refs:
            return match.group(0)  # a local image or not an image at all
        held += 1
        return f"[{placeholder(match['alt'], remote_refs[ref])}][{ref}]"

    def outside_code(line: str) -> str:
        out, pos = [], 0
        for span in _CODE_SPAN.finditer(line):
            out.append(
                _REF_IMAGE.sub(reference, _INLINE_IMAGE.sub(inline, line[pos : span.start()]))
            )
            out.append(span.group(0))
            pos = span.end()
        out.append(_REF_IMAGE.sub(reference, _INLINE_IMAGE.sub(inline, line[pos:])))
        return "".join(out)

    lines = [line if code else outside_code(line) for line, code in code_fence_lines(markdown)]
    return "\n".join(lines), held


def literal(text: str) -> str:
    """``text`` for a Streamlit Markdown slot (captions, labels, radio options) shown as written:
    every Markdown character is backslash-escaped, so a note's links and emphasis stay text."""
    return _MD_SPECIAL.sub(r"\\\1", text)


CHIP = (
    "display:inline-block;min-width:1.3em;padding:0 .35em;margin:0 .1em;border-radius:.7em;"
    "background:#1f6feb;color:#fff;font-size:.75em;font-weight:600;text-align:center;"
    "vertical-align:super;line-height:1.4em"
)
MARK = "background:#fff3a3;color:inherit;padding:0 .1em;border-radius:.2em"
FLAG = "text-decoration:underline wavy #d9534f;text-underline-offset:3px"


def chips(text: str) -> str:
    """Escaped ``text`` with each ``[n]`` marker shown as a numbered chip."""
    return _MARKER.sub(
        lambda m: f'<span class="sn-chip" style="{CHIP}" title="passage {m[1]}">{m[1]}</span>',
        escape(text),
    )


def answer_html(answer: dict[str, Any]) -> str:
    """The answer with chips, laid out as written (code and lists keep their lines); sentences
    the check found unsupported are underlined and flagged, never shown as plainly cited."""
    text = answer["answer"]
    spans = []
    pos = 0
    for s in answer.get("sentences") or []:
        start = text.find(s["text"], pos)
        if start == -1:
            continue
        pos = start + len(s["text"])
        if not s.get("supported", True):
            spans.append((start, pos))
    out, pos = [], 0
    for start, end in spans:
        out.append(chips(text[pos:start]))
        out.append(
            f'<span class="sn-unsupported" style="{FLAG}" title="not supported by the cited '
            f'passage">{chips(text[start:end])}</span><small> ⚠ unsupported</small>'
        )
        pos = end
    out.append(chips(text[pos:]))
    return (
        f'<div class="sn-answer" style="white-space:pre-wrap;line-height:1.6">{"".join(out)}</div>'
    )


_FENCE = re.compile(r"(^```[^\n]*\n.*?^```[ \t]*$)", re.S | re.M)
PRE = (
    "background:rgba(127,127,127,.1);padding:.5em;border-radius:.3em;"
    "white-space:pre;overflow-x:auto"
)


def passage_html(text: str, quote: str = "") -> str:
    """The passage, escaped, with the quoted sentence(s) highlighted where they occur and fenced
    code shown as code."""
    quotes = [q.strip() for q in re.split(r"\n+", quote or "") if q.strip()]
    out = []
    for i, part in enumerate(_FENCE.split(text)):
        if i % 2:  # a fenced code block: drop the fences, keep the code as written
            code = part.split("\n", 1)[1].rsplit("```", 1)[0]
            out.append(f'<pre style="{PRE}"><code>{escape(code.rstrip())}</code></pre>')
        else:
            out.append(_highlight(part, quotes))
    return (
        '<div class="sn-passage" style="white-space:pre-wrap;font-size:.9em;line-height:1.5">'
        + "".join(out)
        + "</div>"
    )


def _highlight(text: str, quotes: list[str]) -> str:
    spans = sorted((i, i + len(q)) for q in quotes if (i := text.find(q)) != -1)
    out, pos = [], 0
    for start, end in spans:
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(f'<mark class="sn-quote" style="{MARK}">{escape(text[start:end])}</mark>')
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def card_title(n: int | None, source: str, heading: str, page: int | None) -> str:
    """'[n] source · heading path · p.N' as escaped HTML."""
    chip = f'<span style="{CHIP};vertical-align:middle">{n}</span> ' if n else ""
    where = f" · p.{page}" if page else ""
    return (
        f'<div class="sn-card-title">{chip}<b>{escape(source)}</b>{where}<br>'
        f'<small style="opacity:.75">{escape(heading)}</small></div>'
    )
