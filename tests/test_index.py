"""Incremental indexing, generations, damaged-index messages and --check, with the real model, FAISS and SQLite."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import children, reaped
from qa_bot import index as index_mod
from qa_bot.config import Settings
from qa_bot.documents.fingerprint import quick_digest
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
    # unchanged passages keep their stored rows (ids); only the changed file's rows are new
    kept = {p.id for p in first.passages if p.source not in ("000_32f7cc4d35b4606f.txt", "004_6e374db3219750da.txt")}
    assert kept <= {p.id for p in reloaded.passages}
    # sentence vectors were appended, not rewritten: each kept passage reads the same rows as before
    assert int((reloaded.sentence_offsets() + reloaded.sentence_counts).max()) <= reloaded.sentence_vectors.shape[0]
    before = {p.id: r for r, p in enumerate(first.passages)}
    for row, p in enumerate(reloaded.passages):
        if p.id in before:
            a, b = first.sentence_offsets()[before[p.id]], reloaded.sentence_offsets()[row]
            n = int(reloaded.sentence_counts[row])
            np.testing.assert_array_equal(reloaded.sentence_vectors[b : b + n], first.sentence_vectors[a : a + n])
    first_gen = first.generation
    del first, second, loaded  # readers gone: the next writer removes their generations
    third, report, _ = _build(docs_copy, path, encoder)
    assert not report.published and third.generation == reloaded.generation  # nothing changed: nothing written
    del reloaded, third
    (docs_copy / "new.md").unlink()
    _build(docs_copy, path, encoder)
    import gc

    gc.collect()
    (docs_copy / "another.md").write_text("Another paragraph, one more generation.\n")
    _build(docs_copy, path, encoder)
    gens = sorted(int(g.name) for g in (path / "generations").iterdir())
    # old generations are removed once no reader holds them: the fixture still holds the first one,
    # the writer held the one before the last while it cleaned up
    assert gens == [first_gen, gens[-2], gens[-1]] and gens[-2] > first_gen + 1, gens


def test_changed_model_forces_full_rebuild(docs_copy, built, encoder):
    path, first = built
    other = Encoder(encoder.path)  # the same weights under another name count as another model
    assert other.name != encoder.name
    second, report, encoded = _build(docs_copy, path, other, index_mod.load(path))
    assert report.rebuilt and encoded == report.embedded > len(second)
    assert index_mod.load(path).model == other.name


def test_a_build_interrupted_midway_leaves_the_previous_index_intact(docs_copy, built, encoder, monkeypatch):
    path, first = built
    (docs_copy / "extra.txt").write_text("An extra paragraph that will never be stored in the index.\n")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(encoder, "encode", killed)
    with pytest.raises(KeyboardInterrupt):
        index_mod.update(path, docs_copy, encoder)
    monkeypatch.undo()
    loaded = index_mod.load(path)
    assert loaded.generation == first.generation and len(loaded) == len(first)
    assert [g.name for g in (path / "generations").iterdir()] == [str(first.generation)]  # no temporary left


def test_damaged_indexes_get_a_clear_message(built):
    path, stored = built
    folder = path / "generations" / str(stored.generation)
    segment = path / "lexical" / stored.info["lexical"]["segments"][0]["id"]
    sentences = path / "sentences" / stored.info["sentence_store"]["file"]
    for part in (sentences, segment / "seg-tfs.u16", path / stored.vector_file, folder / "pids.i64"):
        name = part.name
        whole = part.read_bytes()
        part.write_bytes(whole[:100])
        with pytest.raises(QaBotError, match=f"{name} is truncated or corrupt.*qa-bot index --docs .* --index|"
                                             f"sentence vectors are missing or truncated"):
            index_mod.load(path)
        part.write_bytes(whole)
    assert len(index_mod.load(path)) == len(stored)
    assert "is OK" in index_mod.check(path)
    # same size, different bytes: only the hashes of --check see it
    vec = sentences
    data = bytearray(vec.read_bytes())
    data[10] ^= 0xFF
    vec.write_bytes(bytes(data))
    assert len(index_mod.load(path)) == len(stored)
    with pytest.raises(QaBotError, match=f"{sentences.name} does not match its recorded hash"):
        index_mod.check(path)
    data[10] ^= 0xFF
    vec.write_bytes(bytes(data))
    (folder / "pids.i64").unlink()
    with pytest.raises(QaBotError, match="pids.i64 is missing"):
        index_mod.load(path)


def test_onnx_paths_outside_the_index_are_refused(built, seeds_settings):
    from qa_bot import encoders

    path, stored = built
    assert index_mod.onnx_path(path, "../../bin/ls") is None and index_mod.onnx_path(path, "/bin/ls") is None
    assert index_mod.onnx_path(path, stored.info["onnx"]["file"]) is not None
    stored.info["onnx"] = dict(stored.info["onnx"], file="../../bin/ls")
    assert encoders._onnx_record(stored, Settings(docs=seeds_settings.docs, index=path), "onnx-int8") is None


def test_an_index_of_the_old_format_is_rebuilt_with_one_line(docs_copy, tmp_path, encoder, caplog):
    from qa_bot import engine

    index = tmp_path / "idx"
    index.mkdir()
    (index / "manifest.json").write_text(json.dumps({"format": 1, "passages": []}))
    (index / "vectors-abc.faiss").write_bytes(b"old")
    settings = Settings(docs=docs_copy, index=index)
    with caplog.at_level("WARNING"):
        retriever = engine.open_retriever(settings, progress=False)
    assert [r.message for r in caplog.records] == [f"index at {index} is in an older format; rebuilding it"]
    assert len(retriever.passages) > 50
    assert not (index / "manifest.json").exists() and not (index / "vectors-abc.faiss").exists()


def test_another_docs_folder_is_refused_unless_rebuilt(docs_copy, tmp_path, encoder):
    from qa_bot import engine

    settings = Settings(docs=docs_copy, index=tmp_path / "idx")
    engine.build(settings, progress=False, encoder=encoder)
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("A single document about lighthouses on the northern coast.\n")
    moved = Settings(docs=other, index=settings.index)
    with pytest.raises(QaBotError, match=f"holds the documents of {docs_copy}.*qa-bot index --docs {other} --index {settings.index} --rebuild"):
        engine.build(moved, progress=False, encoder=encoder)
    with pytest.raises(QaBotError, match="holds the documents of"):
        engine.open_retriever(moved, progress=False)
    stored, report = engine.build(moved, progress=False, encoder=encoder, rebuild=True)
    assert report.rebuilt and [p.source for p in stored.passages] == ["a.txt"]
    assert stored.titles() == {"a.txt": "a"} and stored.sources() == {"a.txt": 1}


def test_unreadable_files_are_remembered_and_reported_once(docs_copy, tmp_path, encoder, caplog):
    path = tmp_path / "idx"
    (docs_copy / "binary.txt").write_bytes(b"\x00\x01\x02 binary" * 100)
    with caplog.at_level("WARNING"):
        stored, report, _ = _build(docs_copy, path, encoder)
    assert report.skipped_files == ["binary.txt"]
    assert sum(r.getMessage().startswith("skipped 1 file: binary.txt (binary file)") for r in caplog.records) == 1
    assert not index_mod.is_stale(stored, docs_copy)  # the skipped file does not make it stale again
    caplog.clear()
    with caplog.at_level("WARNING"):
        again, report, encoded = _build(docs_copy, path, encoder)
    assert not report.published and encoded == 0 and not any("binary.txt" in r.getMessage() for r in caplog.records)
    (docs_copy / "binary.txt").write_text("Now it is a readable file about a harbour.\n")
    assert index_mod.is_stale(again, docs_copy)
    third, report, encoded = _build(docs_copy, path, encoder)
    assert report.published and any(p.source == "binary.txt" for p in third.passages)


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


def test_bm25_updated_in_place_equals_bm25_rebuilt(docs_copy, tmp_path, retriever, monkeypatch):
    """Segments added per update, merged past the limit, removed passages dropped: same scores as from scratch."""
    from qa_bot.lexical import Lexical, passage_text

    monkeypatch.setattr(index_mod, "MAX_SEGMENTS", 2)
    encoder = retriever.encoder
    path = tmp_path / "idx"
    _build(docs_copy, path, encoder)
    edits = [
        ("ferry.txt", "The ferry between Vladivostok and Rason carries tourists every summer.\n"),
        ("004_6e374db3219750da.txt", None),  # deleted
        ("treaty.md", "# Treaty\n\nThe partnership treaty was signed in June, and the ferry timetable changed.\n"),
        ("ferry.txt", "The ferry now sails twice a week; tourists from Vladivostok fill it in summer.\n"),
    ]
    for name, text in edits:
        if text is None:
            (docs_copy / name).unlink()
        else:
            (docs_copy / name).write_text(text, encoding="utf-8")
        stored, report, _ = _build(docs_copy, path, encoder)
        assert report.published
    segments = stored.info["lexical"]["segments"]
    assert len(segments) <= 2 and len(list((path / "lexical").iterdir())) >= len(segments)
    fresh = Lexical.build([passage_text(p) for p in stored.passages])
    for q in ["ferry tourists summer", "Where did Kim Jong Un meet Putin?", "partnership treaty June", "Rason"]:
        ours, terms = stored.lexical.raw_scores(q)
        expected, _ = fresh.raw_scores(q)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(stored.lexical.scores(q), fresh.scores(q), rtol=1e-5, atol=1e-6)
    assert "is OK" in index_mod.check(path)


def test_vectors_change_by_id_in_a_delta_then_fold_into_the_base(docs_copy, tmp_path, retriever, monkeypatch):
    """A small edit writes only a delta (the base file stays); past the bound the delta folds into the base."""
    encoder = retriever.encoder
    path = tmp_path / "idx"
    first, _, _ = _build(docs_copy, path, encoder)
    base_file = first.vector_file
    (docs_copy / "ferry.txt").write_text("The ferry between Vladivostok and Rason carries tourists every summer.\n")
    (docs_copy / "000_32f7cc4d35b4606f.txt").unlink()
    second, _, _ = _build(docs_copy, path, encoder)
    assert second.vector_file == base_file and second.info["vectors"]["delta"]["count"] == 1
    assert second.vectors.dead > 0  # the deleted file's vectors are still in the base, skipped at search

    def exact(stored, q, k=10):
        sims = stored.all_vectors() @ q
        return list(np.argsort(-sims, kind="stable")[:k])

    for text in ["Which ferry goes to Rason?", "Where did Kim Jong Un meet Putin?", "embassy reception"]:
        q = retriever.encoder.encode_query(text)
        assert list(second.search(q, 10)) == exact(second, q)
    monkeypatch.setattr(index_mod, "DELTA_MAX", 1)
    (docs_copy / "kite.txt").write_text("A red kite nests in the beech wood above the railway cutting.\n")
    third, _, _ = _build(docs_copy, path, encoder)
    assert third.vector_file != base_file and third.info["vectors"]["delta"] is None
    assert third.info["vectors"]["trained_n"] == first.info["vectors"]["trained_n"]  # folded by id, not retrained
    assert third.vectors.dead == 0 and third.vectors.base.ntotal == len(third)
    q = retriever.encoder.encode_query("Which bird nests in the beech wood?")
    assert list(third.search(q, 10)) == exact(third, q)
    assert third.passages[int(third.search(q, 1)[0])].source == "kite.txt"
    assert "is OK" in index_mod.check(path)


def test_progress_off_a_terminal_is_one_line_every_few_seconds(capsys):
    progress = index_mod.Progress(1000, "indexing", enabled=True, every=0.0)  # stderr is captured: not a terminal
    for _ in range(4):
        progress.update(250)
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1].startswith("qa-bot: indexing: 1,000/1,000 files (100%), about 0m00s left")
    assert len(lines) == 4 and all(line.startswith("qa-bot: indexing: ") for line in lines)
    quiet = index_mod.Progress(1000, "indexing", enabled=True)  # default: at most one line per 5 s
    quiet.update(10)
    assert capsys.readouterr().err == ""


def test_links_out_of_the_folder_follow_the_setting_in_the_store(tmp_path, encoder, caplog):
    """Listing, citing and staleness use the documents package's rules: an outside link is left out
    (named in the run's one summary line) unless follow_links, and switching it makes the index stale."""
    import logging
    import os

    outside = tmp_path / "outside.txt"
    outside.write_text("The lighthouse keeper logs every passing ship in a red book.\n", encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("The garden has twelve apple trees and one pear tree.\n", encoding="utf-8")
    (docs / "link.txt").symlink_to(outside)
    (docs / "image.png").write_bytes(b"\x89PNG\r\n")
    with open(os.fsencode(docs) + b"/caf\xe9.txt", "wb") as fh:
        fh.write(b"The cafe opens at nine in the morning every weekday.\n")
    path = tmp_path / "idx"
    with caplog.at_level(logging.WARNING):
        stored, report, _ = _build(docs, path, encoder)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped")]
    assert len(lines) == 1 and "image.png (unsupported format)" in lines[0] and "link.txt (link outside" in lines[0]
    assert sorted(stored.sources()) == ["caf\\xe9.txt", "notes.txt"] and report.files == 2
    assert not index_mod.is_stale(stored, docs) and index_mod.is_stale(stored, docs, follow_links=True)
    followed, report = index_mod.update(path, docs, encoder, meta={"backend": stored.extra["backend"]}, follow_links=True)
    assert "link.txt" in followed.sources() and report.published
    assert not index_mod.is_stale(followed, docs, follow_links=True) and index_mod.is_stale(followed, docs)


def test_passage_table_answers_every_thread_while_its_cache_is_pruned(seeds_settings, retriever):
    """The bot reads passages from several threads; a cache pruned by one never fails another."""
    import random
    import threading

    stored = index_mod.load(seeds_settings.index, seeds_settings.docs)
    table = stored.passages
    table.CACHE = 6  # prune on nearly every call: the race the bot's threads would meet
    expected = [(p.source, p.line_start) for p in stored.passages]
    errors: list[BaseException] = []

    def reader(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):
                rows = rng.sample(range(len(table)), 5)
                got = [(p.source, p.line_start) for p in table.many(rows)]
                assert got == [expected[r] for r in rows]
        except BaseException as exc:  # collected: an exception in a thread would go unseen
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_the_quick_staleness_scan_sees_in_place_edits_additions_and_removals(tmp_path):
    """The no-change check (os.scandir, one stat per file, per-folder hashes) gives the full walk's
    fingerprint, and changes it for an edit that keeps the size and the folder's mtime, a file
    added deep down, a removal and a name that is not UTF-8; a link sends it to the full walk."""
    import os

    docs = tmp_path / "docs"
    (docs / "a" / "b").mkdir(parents=True)
    (docs / ".hidden").mkdir()
    for name in ("one.txt", "a/two.md", "a/b/three.TXT", ".hidden/x.txt", "a/notes.csv"):
        (docs / name).write_text(f"{name} text\n", encoding="utf-8")
    seen = set()

    def digest() -> str:
        quick = quick_digest(docs)
        assert quick == index_mod.scan_docs(docs).digest()
        assert quick not in seen
        seen.add(quick)
        return quick

    digest()
    folder_mtime = (docs / "a").stat().st_mtime_ns
    (docs / "a" / "two.md").write_text("A two.md text\n", encoding="utf-8")  # same size
    os.utime(docs / "a" / "two.md", ns=(1, folder_mtime + 5))
    os.utime(docs / "a", ns=(1, folder_mtime))
    digest()
    (docs / "a" / "b" / "four.html").write_text("<p>four</p>", encoding="utf-8")
    digest()
    (docs / "one.txt").unlink()
    digest()
    (docs / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name\n", encoding="utf-8")
    digest()
    (docs / "link.txt").symlink_to(docs / "a" / "two.md")
    assert quick_digest(docs) is None  # links: the full walk decides what they are


def test_a_large_folder_is_fingerprinted_by_two_processes_with_the_same_result(tmp_path, monkeypatch):
    """`split`: a forked child fingerprints every second subfolder (of the first level that has two or
    more); the halves add up to the one-process fingerprint, an edit in either half changes it, a link
    in either half sends the caller to the full walk, and no child is left behind (reaped even when
    its answer is not needed)."""
    from qa_bot.documents import fingerprint

    answers = []
    real_fork = fingerprint.fork_call

    def fork_call(fn):  # the real fork; the child's answer is recorded as it comes back
        child = real_fork(fn)
        real_result = child.result

        def result():
            answers.append(real_result())
            return answers[-1]

        child.result = result
        return child

    monkeypatch.setattr(fingerprint, "fork_call", fork_call)
    docs = tmp_path / "docs"
    top = docs / "only" / "one"  # one subfolder, then one more, then six: the split is made there
    for i in range(6):
        (top / f"d{i}" / "deep").mkdir(parents=True)
        for j in range(3):
            (top / f"d{i}" / f"p{j}.txt").write_text(f"folder {i} file {j}\n", encoding="utf-8")
        (top / f"d{i}" / "deep" / "q.md").write_text(f"deep {i}\n", encoding="utf-8")
    (docs / "top.txt").write_text("top\n", encoding="utf-8")
    (docs / "only" / "mid.md").write_text("mid\n", encoding="utf-8")
    before = children()
    seen = set()
    for edited in [None, "only/one/d0/p1.txt", "only/one/d1/deep/q.md", "only/one/d4/p2.txt", "only/one/d5/new.html",
                   "only/mid.md"]:
        if edited:
            (docs / edited).write_text("changed text, another size\n", encoding="utf-8")
        one = quick_digest(docs)
        assert one == quick_digest(docs, split=True) == index_mod.scan_docs(docs).digest()
        assert one not in seen
        seen.add(one)
    assert [int(a.split()[2]) for a in answers] == [12, 12, 12, 12, 13, 13]  # the child's 3 folders of 4 files; new.html
    for where in ("d2", "d3"):  # the parent's half, then the child's (the split alternates them in name order)
        link = top / where / "link.txt"
        link.symlink_to(docs / "top.txt")
        assert quick_digest(docs, split=True) is None
        link.unlink()
    assert answers[6:] == ["none"]  # a link in its own half: the parent never read the child; in the child's: "none"
    assert reaped(children() - before)  # no child of this process left behind, running or dead


def test_the_mapped_copy_of_the_onnx_model_embeds_bit_for_bit_and_heals(built, seeds_settings, encoder):
    """A build leaves a checked mapped copy beside the ONNX export (hard-linked from the per-user cache);
    questions load it (a faster start) and embed exactly as the export; a truncated copy is never used,
    --check removes a damaged one, the next build makes it again, and other copies and a killed
    process's leftovers are swept."""
    import os
    import time

    from qa_bot import encoders, engine
    from qa_bot.embed import OnnxEncoder
    from qa_bot.preload import Preload

    path, stored = built
    settings = Settings(docs=seeds_settings.docs, index=path, model=stored.model)
    record = stored.info["onnx"]
    model_file = path / record["file"]
    copies = list(model_file.parent.glob(f"{model_file.stem}.mapped-*"))
    assert len(copies) == 1 and (copies[0] / "weights.bin").stat().st_size > 1_000_000
    assert os.stat(copies[0]).st_mode & 0o777 == os.stat(model_file.parent).st_mode & 0o777
    fast = encoders.query_encoder(stored, settings)
    plain = OnnxEncoder(stored.model, model_file, path / record["tokenizer"], threads=1)
    assert fast.model_file == copies[0] / "model.onnx" and plain.model_file == model_file
    texts = [p.text for p in stored.passages[::7]] + ["who spoke after the ambassador?", "Пхеньян"]
    assert np.array_equal(fast.encode(texts), plain.encode(texts))
    preload = Preload(path, stored.model)
    assert preload.take(path, stored.model, record).model_file == copies[0] / "model.onnx"
    del fast, preload

    weights = copies[0] / "weights.bin"
    whole = weights.read_bytes()
    weights.unlink()  # never rewritten in place: a process may have it mapped
    weights.write_bytes(whole[:1000])
    assert encoders.onnx_encoder(stored.model, path, record, threads=1).model_file == model_file
    damaged = bytearray(whole)
    damaged[len(damaged) // 2] ^= 0xFF  # same size, other bytes: only the hashes see it
    weights.unlink()
    weights.write_bytes(bytes(damaged))
    assert "removed 1 damaged mapped copy" in index_mod.check(path)
    assert not copies[0].exists()
    assert encoders.onnx_encoder(stored.model, path, record, threads=1).model_file == model_file

    left = model_file.parent / ".mapped-killed"  # what a killed build left long ago
    left.mkdir()
    (left / "weights.bin").write_bytes(b"x")
    os.utime(left, (time.time() - 3600,) * 2)
    other = model_file.parent / f"{model_file.stem}.mapped-0123456789abcdef"  # another onnxruntime's
    other.mkdir()
    engine.build(settings, progress=False, encoder=encoder)
    assert (copies[0] / "weights.bin").read_bytes() == whole and not left.exists() and not other.exists()
    assert (copies[0] / "weights.bin").stat().st_nlink >= 2  # linked from the per-user cache, not made again
    with open(copies[0] / "weights.bin", "r+b") as fh:  # damaged in place: the cache's copy too (one inode)
        fh.seek(len(whole) // 3)
        fh.write(bytes([whole[len(whole) // 3] ^ 0xFF]))
    assert "removed 1 damaged mapped copy" in index_mod.check(path)
    engine.build(settings, progress=False, encoder=encoder)  # the cache's copy is checked before linking
    assert (copies[0] / "weights.bin").read_bytes() == whole and "removed" not in index_mod.check(path)
    assert encoders.onnx_encoder(stored.model, path, record, threads=1).model_file == copies[0] / "model.onnx"


def test_a_small_exact_index_is_searched_without_faiss_exactly_as_faiss_does(built, tmp_path, monkeypatch):
    """Up to NUMPY_FLAT_BYTES an exact vector file is read with numpy (no FAISS import in a cold ask):
    the same ids in the same order and the same vectors as FAISS gives; a file it does not recognise
    (or a bigger one) is read by FAISS as before."""
    import subprocess
    import sys

    import faiss

    path, stored = built
    record = stored.info["vectors"]
    file = path / "vectors" / record["base"]["file"]
    assert record["kind"] == "flat" and stored.vectors.faiss is False
    ours = index_mod.FlatFile.read(file, stored.dimension)
    theirs = faiss.read_index(str(file))
    queries = stored.all_vectors()[::5] + 0.01
    for q in queries:
        (s1, i1), (s2, i2) = ours.search(q[None, :], 10), theirs.search(q[None, :].astype(np.float32), 10)
        assert list(i1[0]) == list(i2[0])
        np.testing.assert_allclose(s1, s2, rtol=1e-5, atol=1e-6)
    ids = np.array(sorted(ours.ids)[::3], dtype=np.int64)
    np.testing.assert_array_equal(ours.reconstruct_batch(ids), theirs.reconstruct_batch(ids))
    # an L2 index, a truncated file, a file past the limit: not ours to read
    l2 = faiss.IndexIDMap2(faiss.IndexFlatL2(stored.dimension))
    l2.add_with_ids(stored.all_vectors()[:3], np.arange(3, dtype=np.int64))
    faiss.write_index(l2, str(tmp_path / "l2.faiss"))
    assert index_mod.FlatFile.read(tmp_path / "l2.faiss", stored.dimension) is None
    (tmp_path / "cut.faiss").write_bytes(file.read_bytes()[:-8])
    assert index_mod.FlatFile.read(tmp_path / "cut.faiss", stored.dimension) is None
    monkeypatch.setattr(index_mod, "NUMPY_FLAT_BYTES", 100)
    assert index_mod.load(path).vectors.faiss is True
    # a cold question over a small index never imports FAISS
    code = ("import sys, json; from qa_bot.cli import main; rc = main(['ask', '--json', '--docs', sys.argv[1], '--index', "
            "sys.argv[2], 'who signed the press statement?']); print(json.dumps({'rc': rc, 'faiss': 'faiss' in sys.modules}))")
    proc = subprocess.run([sys.executable, "-c", code, str(stored.docs), str(path)], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "faiss": False}, proc.stderr


def test_switching_generations_in_a_long_running_process_leaks_no_files(docs_copy, tmp_path, encoder):
    """A bot or REPL switches to each new generation (`engine.refreshed`) and settles (`engine.settle`:
    collect, then freeze what lives as long as the index). Frozen garbage would never be collected, and
    an SQLite connection held in a cycle keeps its file open: the count of open files must stay flat."""
    import gc
    import os

    from qa_bot import engine

    settings = Settings(docs=docs_copy, index=tmp_path / "idx")
    engine.build(settings, progress=False, encoder=encoder)
    retriever = engine.open_retriever(settings, progress=False)
    engine.settle()
    counts = []
    try:
        for i in range(8):
            (docs_copy / "note.txt").write_text(f"A new note {i}.\n\nThe embassy phone number is {i}.\n")
            engine.build(settings, progress=False, encoder=encoder)
            fresh = engine.refreshed(retriever)
            assert fresh is not retriever
            retriever = fresh
            engine.settle()
            retriever.ask("who spoke after the ambassador?")
            counts.append(len(os.listdir("/proc/self/fd")))
    finally:
        gc.unfreeze()
    assert counts[-1] <= counts[1] + 2, counts


def test_ids_of_removed_passages_are_never_given_again(docs_copy, tmp_path, encoder):
    """A base vector file keeps a removed passage's id until it is folded; once the row is pruned, giving
    that id to a new passage made the index unreadable ("the vector files hold 78 vectors for 77 passages")."""
    from qa_bot import engine

    settings = Settings(docs=docs_copy, index=tmp_path / "idx")
    (docs_copy / "zzz_last.txt").write_text("Zebra facts.\n\nZebras have black and white stripes.\n\nZebras live in Africa.\n")
    engine.build(settings, progress=False, encoder=encoder)
    (docs_copy / "zzz_last.txt").unlink()
    engine.build(settings, progress=False, encoder=encoder)
    engine.build(settings, progress=False, encoder=encoder)  # prunes the removed rows
    (docs_copy / "aaa_new.txt").write_text("Kettle facts.\n\nThe kettle boils water for tea in the embassy kitchen.\n")
    stored, _ = engine.build(settings, progress=False, encoder=encoder)
    stored = index_mod.load(settings.index)
    assert len(set(stored.pids.tolist())) == len(stored)
    new = [int(pid) for pid, p in zip(stored.pids, stored.passages) if p.source == "aaa_new.txt"]
    assert new and min(new) > stored.info["vectors"]["base"]["max_pid"]
    retriever = engine.open_retriever(settings, progress=False)
    assert retriever.ask("what boils water for tea in the embassy kitchen?", k=1).hits[0].passage.source == "aaa_new.txt"


def test_an_ivf_index_is_searched_from_its_memory_map_without_prefetch_threads(tmp_path, encoder, monkeypatch):
    """A large folder's IVF index (forced here at 1,200 passages) is read memory-mapped, finds a passage
    by its own text, and does not start FAISS's page-touching threads (one per list probed) per question."""
    import faiss

    monkeypatch.setenv("QA_BOT_VECTOR_INDEX", "ivf")
    docs = tmp_path / "docs"
    docs.mkdir()
    colours = "red green blue amber violet ochre teal crimson silver golden".split()
    things = "ferry kite lantern bridge orchard tractor violin harbour glacier beacon barn mill".split()
    places = "Rason Vladivostok Khasan Tumen Nakhodka Chongjin Wonsan Sinuiju Hamhung Kaesong".split()
    paras = [f"The {c} {t} near {p} was repaired in {1900 + i % 120} by crew number {i}."
             for i, (c, t, p) in enumerate((c, t, p) for c in colours for t in things for p in places)]
    (docs / "repairs.txt").write_text("\n\n".join(paras) + "\n")
    stored, _, _ = _build(docs, tmp_path / "idx", encoder)
    stored = index_mod.load(tmp_path / "idx")
    assert len(stored) == len(paras) and stored.info["vectors"]["kind"] == "ivf"
    ivf = faiss.extract_index_ivf(stored.vectors.base)
    lists = faiss.downcast_InvertedLists(ivf.invlists)
    assert type(lists).__name__ == "OnDiskInvertedLists" and lists.prefetch_nthread == 0
    for i in (0, 777, len(paras) - 1):
        row = int(stored.search(encoder.encode_query(paras[i]), 1)[0])
        assert stored.passages[row].text == paras[i]
    assert "is OK" in index_mod.check(tmp_path / "idx")
