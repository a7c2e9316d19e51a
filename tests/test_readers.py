"""Readers: front matter, wikilinks, PDFs with pages, and every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpnotes.ingest.readers import (
    SkipFile,
    parse_front_matter,
    read_file,
    resolve_wikilinks,
    without_running_lines,
)

MB = 2**20


def make_pdf(path: Path, pages: list[str], password: str | None = None) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    if password:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(password)
        writer.write(str(path))
    return path


def test_front_matter_tags_title_aliases_and_wikilinks(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(
        "---\ntitle: DETR notes\ntags: [Detection, transformers]\naliases: detr\n---\n"
        "Body links [[deformable-detr|Deformable DETR]] and [[iou-ap-map#AP]].\n"
    )
    (doc,) = read_file(note, "detection/n.md", MB)
    assert doc.metadata["title"] == "DETR notes"
    assert doc.metadata["tags"] == ["detection", "transformers"]
    assert doc.metadata["aliases"] == ["detr"]
    assert doc.metadata["links"] == ["deformable-detr", "iou-ap-map"]
    assert "Body links Deformable DETR and iou-ap-map." in doc.text
    assert "---" not in doc.text


def test_what_a_note_comments_out_is_not_read(tmp_path: Path) -> None:
    """An HTML comment is hidden when the note is rendered: it is neither searched nor quoted
    (a cloned collection commented out a half-written paragraph, which a mock graded as key
    points). A comment in fenced code is code and stays."""
    note = tmp_path / "n.md"
    note.write_text(
        "# Prediction\n\nMultimodality matters. <!-- TODO rewrite --> Use anchors.\n\n"
        "  <!-- - Generative from noise\n  - intention-based: -->\n\n- visible item\n\n"
        "```html\n<!-- markup example -->\n```\n"
    )
    (doc,) = read_file(note, "n.md", MB)
    assert "Multimodality matters.  Use anchors." in doc.text and "visible item" in doc.text
    assert "Generative" not in doc.text and "TODO rewrite" not in doc.text
    assert "<!-- markup example -->" in doc.text


def test_an_obsidian_note_reads_as_rendered(tmp_path: Path) -> None:
    """A callout is a box, not a quotation: its title leads its lines, without quote markers; a
    line of tags adds them to the note's tags; a line that only links other notes is
    navigation (its links stay in the metadata). Fenced code is left alone."""
    note = tmp_path / "focal.md"
    note.write_text(
        "---\ntags: [loss]\n---\n# Focal loss\n\n#detection #loss\n\n"
        "> [!warning] Common interview trap\n> Focal loss does not sample; it re-weights.\n\n"
        "> A plain quote stays a quote.\n\n"
        "Related: [[detr-paper-notes]], [[cheatsheet]]\n\n"
        "```md\n> [!note] in code\n#tag\n```\n"
    )
    (doc,) = read_file(note, "focal.md", MB)
    assert "**Common interview trap:**\nFocal loss does not sample; it re-weights." in doc.text
    assert "[!warning]" not in doc.text.split("```")[0] and "> A plain quote" in doc.text
    assert "Related" not in doc.text and "#detection" not in doc.text
    assert doc.metadata["tags"] == ["loss", "detection"]
    assert doc.metadata["links"] == ["detr-paper-notes", "cheatsheet"]
    assert "> [!note] in code\n#tag" in doc.text


def test_front_matter_that_is_not_yaml_stays_text() -> None:
    meta, body = parse_front_matter("---\n: : [unclosed\n---\nhello\n")
    assert meta == {} and "hello" in body and "unclosed" in body


def test_yaml_bomb_in_front_matter_is_refused_quickly() -> None:
    bomb = "---\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    bomb += "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n---\nbody\n"
    meta, body = parse_front_matter(bomb)
    assert meta == {} and body.endswith("body\n")


def test_wikilinks_keep_visible_text() -> None:
    text, links = resolve_wikilinks("see [[a]] and [[b|the B note]] and [[a]]")
    assert text == "see a and the B note and a"
    assert links == ["a", "b"]
    code = "```python\nx = np.concatenate([[0.0], y])\n```\n[[c]]"
    text, links = resolve_wikilinks(code)
    assert "[[0.0], y]" in text and text.endswith("\nc") and links == ["c"]


def test_pdf_gives_one_document_per_page_with_page_numbers(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "p.pdf", ["First page about anchors.", "Second page about DETR."])
    docs = read_file(pdf, "papers/p.pdf", MB)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "DETR" in docs[1].text and "anchors" in docs[0].text


def test_a_pdfs_running_title_and_page_numbers_are_left_out(tmp_path: Path) -> None:
    bodies = [
        "The Hungarian loss matches each object once.",
        "Object queries attend to the image features.",
        "Auxiliary losses after every decoder layer help.",
        "Small objects are the weak spot of the first model.",
    ]
    pages = [
        f"Notes on DETR\n{b}\nDETR summary - page {n} of 4\n{n}" for n, b in enumerate(bodies, 1)
    ]
    pdf = make_pdf(tmp_path / "p.pdf", pages)
    docs = read_file(pdf, "papers/p.pdf", MB)
    assert [d.metadata["page"] for d in docs] == [1, 2, 3, 4]
    assert [d.text.strip() for d in docs] == bodies  # title, footer and page number out
    # a line on one page or two of four is content; two pages say nothing of a repeat
    kept = without_running_lines(["Intro\nA", "Intro\nB", "C\nD", "E\nF"])
    assert kept == ["Intro\nA", "Intro\nB", "C\nD", "E\nF"]
    assert without_running_lines(["x\n1", "x\n2"]) == ["x\n1", "x\n2"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("blank.txt", b"  \n\n ", "empty file"),
        ("binary.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "binary content"),
        ("latin1.md", "caf\u00e9 na\u00efve".encode("latin-1"), "not valid UTF-8"),
        ("fake.pdf", b"this is not a pdf", "not a PDF"),
        ("truncated.pdf", b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog", "unreadable PDF"),
        ("only-front-matter.md", b"---\ntags: [a]\n---\n", "no text after the front matter"),
        ("image.png", b"\x89PNG", "unsupported file type"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SkipFile, match=reason):
        read_file(path, name, MB)


def test_encrypted_pdf_is_skipped(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "secret.pdf", ["classified"], password="pw")
    with pytest.raises(SkipFile, match="encrypted"):
        read_file(pdf, "secret.pdf", MB)


def test_pdf_without_text_layer_is_skipped(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "scan.pdf", [""])
    with pytest.raises(SkipFile, match="no text layer"):
        read_file(pdf, "scan.pdf", MB)


def test_file_over_the_size_limit_is_skipped(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)
    with pytest.raises(SkipFile, match="SHARPNOTES_MAX_FILE_MB"):
        read_file(big, "big.txt", MB)


def test_symlink_loop_is_skipped(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(SkipFile, match="cannot read"):
        read_file(a, "a.md", MB)
