"""Incremental indexing, atomic writes and damaged-index messages, with the real model and FAISS."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from qa_bot import index as index_mod
from qa_bot.config import Settings
from qa_bot.embed import Encoder
from qa_bot.errors import QaBotError


@pytest.fixture
def built(docs_copy, tmp_path, seeds_settings, retriever):
    """A copy of the session's seeds index (built once) for tests that change it."""
    path = tmp_path / "idx"
    shutil.copytree(seeds_settings.index, path)
    return path, index_mod.load(path)


def _build(docs, path, encoder, previous=None):
    before = encoder.texts_encoded
    backend = "onnx-int8" if type(encoder).__name__ == "OnnxEncoder" else "torch"
    stored, report = index_mod.update(path, docs, encoder, previous, meta={"backend": backend})
    return stored, report, encoder.texts_encoded - before


def test_unchanged_files_are_never_re_encoded(docs_copy, tmp_path, encoder):
    path = tmp_path / "idx"
    first, report, encoded = _build(docs_copy, path, encoder)
    sentences = int(first.sentence_counts.sum())
    assert report.passages == len(first) > 50 and sentences > len(first)
    # every passage, and every sentence of a multi-sentence passage, is encoded exactly once
    assert encoded == report.embedded == len(first) + sum(int(c) for c in first.sentence_counts if c > 1)
    loaded = index_mod.load(path)
    assert not index_mod.is_stale(loaded, docs_copy)
    again, report, encoded = _build(docs_copy, path, encoder, loaded)
    assert encoded == 0 and report.embedded == 0
    np.testing.assert_array_equal(again.all_vectors(), first.all_vectors())
    np.testing.assert_array_equal(again.sentence_vectors, first.sentence_vectors)


def test_changed_added_and_deleted_files(docs_copy, built, retriever):
    path, first = built
    encoder = retriever.encoder  # the index was built with the default backend (ONNX int8)
    target = docs_copy / "004_6e374db3219750da.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\nA brand new closing paragraph about a ferry line to Rason.\n", encoding="utf-8")
    (docs_copy / "new.md").write_text("# Ferry\n\nThe ferry between Vladivostok and Rason carries tourists in summer.\n", encoding="utf-8")
    (docs_copy / "000_32f7cc4d35b4606f.txt").unlink()
    loaded = index_mod.load(path)
    assert index_mod.is_stale(loaded, docs_copy)
    second, report, encoded = _build(docs_copy, path, encoder, loaded)
    assert encoded == 2  # only the new paragraph and the new file's paragraph
    assert report.removed_files == ["000_32f7cc4d35b4606f.txt"]
    assert set(report.changed_files) == {"004_6e374db3219750da.txt", "new.md"}
    assert not any(p.source.startswith("000_") for p in second.passages)
    assert any(p.source == "new.md" for p in second.passages)
    reloaded = index_mod.load(path)
    assert [p.id for p in reloaded.passages] == [p.id for p in second.passages]
    assert reloaded.vectors.ntotal == len(second.passages)
    assert len(list(path.glob("vectors-*.faiss"))) == 1  # the old vector files are gone
    assert len(list(path.glob("sentences-*.npy"))) == 1
    assert reloaded.sentence_vectors.shape[0] == int(reloaded.sentence_counts.sum())


def test_changed_model_forces_full_rebuild(docs_copy, built, encoder):
    path, first = built
    other = Encoder(encoder.path)  # the same weights under another name count as another model
    assert other.name != encoder.name
    second, report, encoded = _build(docs_copy, path, other, index_mod.load(path))
    assert report.rebuilt and encoded == report.embedded > len(second)
    assert index_mod.load(path).model == other.name


def test_a_build_killed_midway_leaves_the_previous_index_intact(docs_copy, built, encoder, monkeypatch):
    path, first = built
    manifest = (path / "manifest.json").read_bytes()
    (docs_copy / "extra.txt").write_text("An extra paragraph that will never be stored in the index.\n")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(encoder, "encode", killed)
    with pytest.raises(KeyboardInterrupt):
        index_mod.update(path, docs_copy, encoder, index_mod.load(path))
    monkeypatch.undo()
    assert (path / "manifest.json").read_bytes() == manifest
    assert len(index_mod.load(path)) == len(first)

    # Killed between writing the new vectors and swapping in the manifest:
    real_replace = index_mod.os.replace

    def die_on_manifest(src, dst):
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(index_mod.os, "replace", die_on_manifest)
    with pytest.raises(KeyboardInterrupt):
        index_mod.update(path, docs_copy, encoder, index_mod.load(path))
    monkeypatch.undo()
    assert (path / "manifest.json").read_bytes() == manifest
    loaded = index_mod.load(path)
    assert len(loaded) == len(first)
    assert not list(path.glob(".*.tmp"))


def test_damaged_indexes_get_a_clear_message(built):
    path, stored = built
    for pattern in ("sentences-*.npy", "lexical-*.npz"):
        part = next(path.glob(pattern))
        whole = part.read_bytes()
        part.write_bytes(whole[:1000])
        with pytest.raises(QaBotError, match=f"{pattern[:8]}.*(truncated|does not match)"):
            index_mod.load(path)
        part.write_bytes(whole)
    assert len(index_mod.load(path)) == len(stored)
    vec = path / stored.vector_file
    data = vec.read_bytes()
    vec.write_bytes(data[: len(data) // 2])
    with pytest.raises(QaBotError, match="truncated or corrupt.*qa-bot index"):
        index_mod.load(path)
    vec.write_bytes(data)
    (path / "manifest.json").write_text('{"format": 1, "passages": [')
    with pytest.raises(QaBotError, match="unreadable.*manifest.json"):
        index_mod.load(path)
    (path / "manifest.json").write_text(json.dumps({"format": 1, "model": "m", "dimension": 384, "passages": [], "vector_file": "../../etc/passwd"}))
    with pytest.raises(QaBotError, match="missing"):
        index_mod.load(path)


def test_index_command_rebuilds_a_damaged_index(docs_copy, tmp_path, encoder):
    from qa_bot import engine

    settings = Settings(docs=docs_copy, index=tmp_path / "idx")
    stored, _ = engine.build(settings, progress=False, encoder=encoder)
    (settings.index / stored.vector_file).write_bytes(b"garbage")
    rebuilt, report = engine.build(settings, progress=False, encoder=encoder)
    assert report.rebuilt and len(rebuilt) == len(stored)
    assert len(index_mod.load(settings.index)) == len(stored)


def test_a_skipped_pdf_is_recorded_and_does_not_make_the_index_stale(tmp_path, encoder, caplog):
    import logging

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The garden has twelve apple trees and one pear tree.\n", encoding="utf-8")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n this is not really a PDF")
    path = tmp_path / "idx"
    with caplog.at_level(logging.WARNING):
        stored, report, _ = _build(docs, path, encoder)
    assert "skipped 1 file: broken.pdf (" in caplog.text
    assert report.files == 1 and stored.files["broken.pdf"]["passages"] == 0
    assert stored.files["broken.pdf"]["skipped"].startswith(("damaged", "no text"))
    assert not index_mod.is_stale(index_mod.load(path), docs)
    assert index_mod.load(path).skipped() == {"broken.pdf": stored.files["broken.pdf"]["skipped"]}
