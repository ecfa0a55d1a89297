"""Ingest and search, on the embedded store and on Milvus Lite alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.retrieval.errors import StoreUnavailable
from orchestrator.retrieval.index import index_names, open_index

PARIS = "Paris is the capital of France. The Eiffel Tower was finished in 1889 for the World's Fair."
KIWI = "The kiwi is a flightless bird endemic to New Zealand. It lays a very large egg for its size."
PYTHON = "Python is a programming language created by Guido van Rossum. Its first release was in 1991."


def _write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paris.txt").write_text(PARIS)
    (folder / "kiwi.md").write_text(f"# Birds\n\n{KIWI}\n\n- a list item about *feathers*\n")
    (folder / "python.html").write_text(f"<html><head><script>var x = 1;</script></head><body><h1>Lang</h1><p>{PYTHON}</p></body></html>")
    return folder


def _pdf(path: Path, text: str) -> None:
    """A one-page PDF with real text content, written by pypdf itself."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"), NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode())
    page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as fh:
        writer.write(fh)


def test_ingest_reads_each_format_and_search_finds_the_right_passage(store_settings, embedder, tmp_path):
    corpus = _write_corpus(tmp_path / "docs")
    _pdf(corpus / "moon.pdf", "Neil Armstrong walked on the Moon in July 1969.")
    index = open_index(store_settings, "kb", embedder, create=True)
    report = index.ingest([corpus])
    assert sorted(Path(s).name for s in report.added) == ["kiwi.md", "moon.pdf", "paris.txt", "python.html"]
    assert report.failed == []

    hits = index.search("Which bird cannot fly?", k=2)
    assert Path(hits[0].source).name == "kiwi.md" and "flightless" in hits[0].text
    assert hits[0].score > hits[1].score
    assert Path(index.search("first moon landing astronaut", k=1)[0].source).name == "moon.pdf"
    # HTML scripts are not text; Markdown markup is gone.
    python_hit = index.search("who created Python", k=1)[0]
    assert "var x" not in python_hit.text and Path(python_hit.source).name == "python.html"
    assert "#" not in index.search("flightless bird", k=1)[0].text
    assert index_names(store_settings) == ["kb"]


def test_bad_documents_are_reported_per_file_and_skipped(store_settings, embedder, tmp_path):
    corpus = _write_corpus(tmp_path / "docs")
    (corpus / "junk.txt").write_bytes(bytes(range(256)) * 40)
    (corpus / "empty.md").write_text("   \n\n")
    (corpus / "latin1.txt").write_bytes("café au lait, crème brûlée".encode("latin-1"))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    huge = corpus / "huge.txt"
    with huge.open("wb") as fh:
        fh.truncate(25_000_000)
    index = open_index(store_settings, "kb", embedder, create=True)
    report = index.ingest([corpus, tmp_path / "missing.txt"])
    reasons = {Path(p).name: r for p, r in report.failed}
    assert set(reasons) == {"junk.txt", "empty.md", "latin1.txt", "broken.pdf", "huge.txt", "missing.txt"}
    assert "binary" in reasons["junk.txt"] and "empty" in reasons["empty.md"] and "UTF-8" in reasons["latin1.txt"]
    assert "PDF" in reasons["broken.pdf"] and "too large" in reasons["huge.txt"] and "cannot read" in reasons["missing.txt"]
    assert len(report.added) == 3  # the good ones still went in


def test_reingest_is_incremental_by_content_hash_and_delete_removes_a_document(store_settings, embedder, tmp_path):
    corpus = _write_corpus(tmp_path / "docs")
    index = open_index(store_settings, "kb", embedder, create=True)
    first = index.ingest([corpus])
    chunks_before = index.store.count()
    again = index.ingest([corpus])
    assert again.added == [] and again.updated == [] and len(again.unchanged) == 3 and again.chunks == 0
    assert index.store.count() == chunks_before

    (corpus / "paris.txt").write_text(PARIS + " The Louvre is the world's most-visited museum. " * 20)
    changed = index.ingest([corpus])
    assert [Path(s).name for s in changed.updated] == ["paris.txt"] and len(changed.unchanged) == 2
    assert index.store.count() > chunks_before  # the longer text has more chunks, the old ones are gone
    assert "Louvre" in index.search("most visited museum", k=1)[0].text

    kiwi = next(s for s in first.added if s.endswith("kiwi.md"))
    assert index.delete([kiwi]).deleted == [kiwi]
    assert all(not h.source.endswith("kiwi.md") for h in index.search("flightless bird", k=10))
    assert index.delete([kiwi]).failed == [(kiwi, "not in the index")]


def test_a_failed_ingest_loses_nothing_already_indexed(store_settings, embedder, tmp_path):
    corpus = _write_corpus(tmp_path / "docs")
    index = open_index(store_settings, "kb", embedder, create=True)
    index.ingest([corpus])
    before = index.store.count()

    (corpus / "paris.txt").write_text("Completely different text about volcanoes in Iceland.")
    broken = open_index(store_settings, "kb", embedder)
    broken.embed = _explodes  # the embedding step dies mid-ingest
    with pytest.raises(RuntimeError):
        broken.ingest([corpus])
    reopened = open_index(store_settings, "kb", embedder)
    assert reopened.store.count() == before
    assert "Eiffel" in reopened.search("capital of France", k=1)[0].text


def _explodes(texts):
    raise RuntimeError("embedding server fell over")


def test_a_store_that_cannot_be_reached_raises_store_unavailable(store_settings, embedder, tmp_path):
    if store_settings.store == "milvus":
        down = store_settings.model_copy(update={"milvus": store_settings.milvus.model_copy(update={"uri": f"http://127.0.0.1:{_closed_port()}", "timeout_s": 1.0})})
    else:
        (tmp_path / "indices" / "kb").mkdir(parents=True)
        (tmp_path / "indices" / "kb" / "chunks.sqlite").write_bytes(b"this is not a database" * 100)
        down = store_settings
    with pytest.raises(StoreUnavailable):
        open_index(down, "kb", embedder).search("anything")


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
