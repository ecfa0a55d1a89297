"""Reading documents into plain text: text, Markdown, HTML and PDF.

Each reader is a maintained parser (markdown-it-py, BeautifulSoup, pypdf). A document that is
unusable (binary junk, empty, too large, undecodable) raises :class:`DocumentError` naming the
file and the reason, so ingest reports it and moves on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.retrieval.errors import DocumentError

__all__ = ["MAX_DOCUMENT_BYTES", "SUFFIXES", "Document", "discover", "read_document"]

MAX_DOCUMENT_BYTES = 20_000_000
"""Larger files are refused: a 20 MB text is a data dump, not a document to cite."""


@dataclass(frozen=True)
class Document:
    source: str
    """Where it came from (the path as given); the document's identity in the index."""
    title: str
    text: str
    sha256: str
    """Hash of the raw bytes: re-ingesting an unchanged file is a no-op."""


def _decode(raw: bytes, path: str) -> str:
    # A BOM says which UTF it is; otherwise UTF-8 strictly (a wrong guess would index mojibake).
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return raw.decode(codec)
    if b"\x00" in raw[:8192]:
        raise DocumentError(path, "binary content (NUL bytes): not a text document")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(path, f"not valid UTF-8 at byte {exc.start} (re-save it as UTF-8)") from None


def _check_text(text: str, path: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise DocumentError(path, "empty: no text to index")
    control = sum(1 for ch in text[:20_000] if ord(ch) < 32 and ch not in "\n\t\f")
    if control / min(len(text), 20_000) > 0.05:
        raise DocumentError(path, "mostly control characters: binary junk, not text")
    return text


def _plain(raw: bytes, path: str) -> str:
    return _decode(raw, path)


def _markdown(raw: bytes, path: str) -> str:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(_decode(raw, path))
    parts: list[str] = []
    for tok in tokens:
        if tok.type == "inline":
            parts.append("".join(c.content for c in tok.children or [] if c.type in ("text", "code_inline", "softbreak") or c.content))
        elif tok.type in ("fence", "code_block"):
            parts.append(tok.content)
    return "\n\n".join(p.strip() for p in parts if p.strip())


def _html(raw: bytes, path: str) -> str:
    from bs4 import BeautifulSoup

    # BeautifulSoup sniffs the declared charset; junk bytes come back as U+FFFD, caught below.
    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    text = soup.get_text("\n")
    if text.count("\ufffd") > max(10, len(text) // 100):
        raise DocumentError(path, "undecodable characters: wrong or missing charset")
    return re.sub(r"\n\s*\n+", "\n\n", text)


def _pdf(raw: bytes, path: str) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise DocumentError(path, "encrypted PDF")
        return "\n\n".join((page.extract_text() or "") for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(path, f"unreadable PDF ({type(exc).__name__}: {exc})") from None


READERS: dict[str, Callable[[bytes, str], str]] = {
    ".txt": _plain, ".text": _plain, ".rst": _plain,
    ".md": _markdown, ".markdown": _markdown,
    ".html": _html, ".htm": _html,
    ".pdf": _pdf,
}
SUFFIXES = tuple(READERS)


def read_document(path: str | Path, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Document:
    """Read one file into a :class:`Document`, or raise :class:`DocumentError` saying why not."""
    p = Path(path)
    name = str(path)
    reader = READERS.get(p.suffix.lower())
    if reader is None:
        raise DocumentError(name, f"unsupported type {p.suffix or '(no suffix)'!r}; supported: {', '.join(SUFFIXES)}")
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise DocumentError(name, f"too large ({size:,} bytes > {max_bytes:,})")
        raw = p.read_bytes()
    except OSError as exc:
        raise DocumentError(name, f"cannot read ({exc.strerror or exc})") from None
    if not raw.strip():
        raise DocumentError(name, "empty: no text to index")
    if reader is not _pdf and raw[:5] == b"%PDF-":
        raise DocumentError(name, "a PDF with a text suffix")
    text = _check_text(reader(raw, name), name)
    title = p.stem.replace("_", " ").replace("-", " ")
    # The absolute path is the document's identity: re-ingest from another folder finds it.
    return Document(source=str(p.resolve()), title=title, text=text, sha256=hashlib.sha256(raw).hexdigest())


def discover(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files under the given paths (folders recursively, supported suffixes only), sorted."""
    for path in paths:
        p = Path(path)
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in READERS)
        else:
            yield p  # a named file is read (and reported) even with an odd suffix
