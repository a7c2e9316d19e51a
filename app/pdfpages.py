"""A PDF page as a picture with the cited quote highlighted, for the note view.

pypdf (which ingest reads text with) cannot draw a page; pypdfium2 (PDFium, the engine Chromium
uses, shipped inside its wheel) renders a page to a bitmap and knows where each character of its
text layer sits, which is what highlighting the quote on the picture needs.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image
    from pypdfium2 import PdfPage

SCALE = 1.5  # 108 dpi: a page is readable at the app's width and the PNG stays ~200 KB


class PdfPageError(ValueError):
    """The page cannot be shown; the message names the file and what to do."""


@dataclass
class PageImage:
    png: bytes
    page: int
    pages: int
    highlighted: bool  # the quote was found on the page and marked


def render_page(path: Path, page: int, quote: str = "", scale: float = SCALE) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` as PNG bytes, with every line of ``quote``
    that PDFium finds on the page painted over in translucent yellow."""
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except (pdfium.PdfiumError, OSError) as exc:
        raise PdfPageError(f"{path.name}: cannot open the PDF ({exc}); re-save it") from exc
    try:
        pages = len(pdf)
        if not 1 <= page <= pages:
            raise PdfPageError(f"{path.name}: no page {page} (it has {pages})")
        pdf_page = pdf[page - 1]
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        rects = _quote_rects(pdf_page, quote) if quote.strip() else []
        if rects:
            height = pdf_page.get_height()
            overlay = image.copy()
            draw = ImageDraw.Draw(overlay)
            for left, bottom, right, top in rects:
                box = (
                    left * scale,
                    (height - top) * scale,
                    right * scale,
                    (height - bottom) * scale,
                )
                draw.rectangle(box, fill=(255, 214, 0))
            image = _blend(image, overlay)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
        return PageImage(out.getvalue(), page, pages, bool(rects))
    finally:
        pdf.close()


def _blend(image: Image.Image, overlay: Image.Image) -> Image.Image:
    """Yellow over the text, the text still readable (multiply keeps dark glyphs dark)."""
    from PIL import ImageChops

    return ImageChops.multiply(image, overlay)


def _quote_rects(pdf_page: PdfPage, quote: str) -> list[tuple[float, float, float, float]]:
    """Boxes (PDF points) of the characters of ``quote`` on the page: the text layer is searched
    with white space matched loosely, since line breaks differ between extractors."""
    textpage = pdf_page.get_textpage()
    try:
        count = textpage.count_chars()
        text = textpage.get_text_range(0, count) if count else ""
        words = quote.split()
        if not words or not text:
            return []
        match = re.search(r"\s+".join(map(re.escape, words)), text)
        if match is None and len(words) > 12:  # extractors disagree somewhere: pin both ends
            head = r"\s+".join(map(re.escape, words[:6]))
            tail = r"\s+".join(map(re.escape, words[-6:]))
            match = re.search(head + r"[\s\S]*?" + tail, text)
        if match is None:
            return []
        n = textpage.count_rects(match.start(), match.end() - match.start())
        return [textpage.get_rect(i) for i in range(n)]
    finally:
        textpage.close()
