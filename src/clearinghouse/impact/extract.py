"""Getting a sheet's words out of a file: text from PDF, HTML, Markdown or plain text, flattened for matching.

Published sheets break sentences across lines and even paragraphs, mark figures with ``**``, separate table
cells with tabs, and PDF extraction wraps lines wherever the page did. Matching is therefore done on a flat
text: markup removed, words joined again where a line break split a hyphenated word, all whitespace one space.
"""

from __future__ import annotations

import io
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path


class UnreadableSheet(ValueError):
    """Raised when a file holds no text we can read (a damaged PDF, a scanned page without a text layer)."""


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip
_SKIPPED_TAGS = frozenset({"head", "script", "style", "template"})


class _TextCollector(HTMLParser):
    """Collects the visible text of an HTML page, one line per block, so table cells stay apart."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def looks_like_html(text: str) -> bool:
    """True when the text is an HTML document rather than plain text or Markdown."""
    head = text.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html"))


def text_from_html(html: str) -> str:
    """The visible text of an HTML page, block by block."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return "".join(collector.parts)


def text_from_pdf(data: bytes) -> str:
    """The text layer of every page of a PDF, pages in order."""
    # Imported on first use: pypdf takes a tenth of a second to import, and most commands never read a PDF.
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        pdf = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in pdf.pages]
    except (PyPdfError, ValueError, OSError) as error:
        raise UnreadableSheet(f"not a readable PDF: {error}") from error
    text = "\n".join(pages)
    if not text.strip():
        raise UnreadableSheet("the PDF has no text layer (a scanned page?)")
    return text


def text_from_bytes(data: bytes) -> str:
    """Text of a file's contents: PDF by its signature, otherwise UTF-8 text (HTML extracted to its text)."""
    if data.lstrip()[:5] == b"%PDF-":
        return text_from_pdf(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableSheet(f"neither a PDF nor UTF-8 text: {error}") from error
    return text_from_html(text) if looks_like_html(text) else text


def text_from_file(path: Path) -> str:
    """Text of a sheet file (.pdf, .html, .md, .txt; the contents decide, not the suffix)."""
    return text_from_bytes(path.read_bytes())


_TYPOGRAPHY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2010": "-",
                             "\u2011": "-", "\u2013": "-", "\u00ad": None})  # fmt: skip
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$", re.MULTILINE)
_HEADING_MARK = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*|__|(?<![\w/])_(?=\w)|(?<=\w)_(?![\w/])")
_BROKEN_HYPHENATION = re.compile(r"(?<=\w)-[ \t]*\n\s*(?=\w)")
_WHITESPACE = re.compile(r"\s+")


def flatten(text: str) -> str:
    """One line of plain words: markup gone, typography plain, whitespace single spaces.

    NFKC undoes the ligatures (fi, fl) and non-breaking spaces that PDF extraction can return.
    """
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY)
    text = _TABLE_RULE.sub(" ", text)
    text = _HEADING_MARK.sub("", text)
    text = _EMPHASIS.sub("", text)
    text = text.replace("|", " ")
    # A line break after a hyphen is where the page wrapped "law-enforcement", not a space between words.
    text = _BROKEN_HYPHENATION.sub("-", text)
    return _WHITESPACE.sub(" ", text).strip()


_SENTENCE_END = re.compile(r"[.:;!?](?=\s|$)")


def sentence_around(flat: str, start: int, end: int, *, limit: int = 200) -> str:
    """The sentence of the flat text holding ``flat[start:end]``, cut to ``limit`` characters for messages."""
    before = [match.end() for match in _SENTENCE_END.finditer(flat, 0, start)]
    sentence_start = before[-1] if before else 0
    after = _SENTENCE_END.search(flat, end)
    sentence_end = after.end() if after else len(flat)
    sentence = flat[sentence_start:sentence_end].strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
