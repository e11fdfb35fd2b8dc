"""The fast paths give the same answers: ONNX query embeddings, stored BM25, no torch when answering."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np

from qa_bot import engine
from qa_bot.lexical import Lexical, passage_text

QUESTIONS = ["Where did Kim Jong Un meet Putin in 2019?", "Which country recognized the DPRK first?",
             "What is the capital of Australia?", "a", "Ünïcödé  question with  spaces?"]


def test_onnx_embeddings_match_sentence_transformers(retriever, seeds_settings, encoder, tmp_path):
    from qa_bot.export import export_onnx

    assert type(engine.query_encoder(retriever.index, seeds_settings)).__name__ == "OnnxEncoder"
    assert retriever.index.extra["onnx"]["via"] == "weights"  # the bundled BERT model needs no torch to export
    texts = QUESTIONS + [p.text for p in retriever.passages[:20]]
    reference = encoder.encode(texts)
    exports = {
        "fp32, from the weights": (export_onnx(encoder.path, tmp_path / "a" / "onnx"), 0.999),
        "int8, from the weights": (export_onnx(encoder.path, tmp_path / "b" / "onnx", quantize=True), 0.98),
        # the route for non-BERT models: torch.onnx.export in a child process
        "fp32, torch.onnx.export": (engine._export_elsewhere(encoder.path, tmp_path / "c" / "onnx", False), 0.999),
    }
    for (label, (record, floor)), folder in zip(exports.items(), "abc"):
        assert record["via"] == ("torch" if "torch" in label else "weights")
        onnx = engine.onnx_encoder(encoder.name, tmp_path / folder, record)
        ours = np.stack([onnx.encode_query(t) for t in QUESTIONS] + list(onnx.encode(texts[len(QUESTIONS):])))
        cosine = (ours * reference).sum(axis=1)
        print(f"\nONNX {label} vs sentence-transformers: min cosine {cosine.min():.4f}, mean {cosine.mean():.4f}")
        assert cosine.min() >= floor
        assert [onnx.count_tokens(t) for t in texts] == [encoder.count_tokens(t) for t in texts]


def test_parallel_batches_give_the_same_vectors_in_order(retriever):
    record = retriever.index.extra["onnx"]
    texts = [p.text for p in retriever.passages[:60]]
    one = engine.onnx_encoder(retriever.index.model, retriever.index.path, record, workers=1).encode(texts)
    two = engine.onnx_encoder(retriever.index.model, retriever.index.path, record, workers=2).encode(texts)
    np.testing.assert_allclose(two, one, atol=2e-4)  # same batches; only the threads differ
    assert np.allclose(np.linalg.norm(two, axis=1), 1, atol=1e-4)


def test_a_text_gets_the_same_int8_vector_whatever_it_is_encoded_with(retriever):
    """int8 activations are quantised with one scale per run: texts are encoded one per run, so a
    passage's vector does not depend on its neighbours (a fresh index equals one built in steps)."""
    record = retriever.index.extra["onnx"]
    assert record["quantized"]
    onnx = engine.onnx_encoder(retriever.index.model, retriever.index.path, record, workers=2)
    texts = [p.text for p in retriever.passages[:12]]
    alone = np.stack([onnx.encode([t])[0] for t in texts])
    assert np.array_equal(onnx.encode(texts), alone)
    assert np.array_equal(onnx.encode(texts[:3] + ["a much longer text " * 40])[:3], alone[:3])
    assert np.array_equal(np.stack([onnx.encode_query(t) for t in texts]), alone)


def test_the_encoder_loaded_before_the_index_opens_is_used_only_when_it_is_the_indexs(retriever, seeds_settings, tmp_path):
    """A cold ask starts loading the ONNX export named by onnx/record.json before the heavy imports;
    open_retriever takes it only when the index records that same export, and it embeds the same."""
    import shutil

    from qa_bot.preload import Preload

    record = retriever.index.extra["onnx"]
    assert json.loads((retriever.index.path / "onnx" / "record.json").read_text()) == record
    early = Preload(seeds_settings.index, seeds_settings.model)
    early._thread.join()
    loaded = early._encoder
    assert loaded is not None and early.record == record
    opened = engine.open_retriever(seeds_settings, progress=False, preload=early)
    assert opened.encoder is loaded and early._encoder is None  # taken, once
    assert np.array_equal(opened.encoder.encode_query(QUESTIONS[0]), retriever.encoder.encode_query(QUESTIONS[0]))
    # a record.json that is not the index's (another export left in the folder) is loaded but not used
    other = tmp_path / "index"
    shutil.copytree(seeds_settings.index, other)
    (other / "onnx" / "record.json").write_text(json.dumps({**record, "max_seq_length": 32}))
    stale = Preload(other, seeds_settings.model)
    assert stale.take(other, seeds_settings.model, record) is None and stale.record["max_seq_length"] == 32
    # and the usual path puts the index's own record back, so the next process preloads the right one
    settings = dataclasses.replace(seeds_settings, index=other)
    assert engine.open_retriever(settings, progress=False, preload=stale).encoder is not None
    assert json.loads((other / "onnx" / "record.json").read_text()) == record and stale._encoder is None
    # none at all (an index from before record.json was written): nothing loaded, the usual path
    (other / "onnx" / "record.json").unlink()
    missing = Preload(other, seeds_settings.model)
    assert missing.take(other, seeds_settings.model, record) is None and missing.record is None
    engine.open_retriever(settings, progress=False)
    assert json.loads((other / "onnx" / "record.json").read_text()) == record
    (other / "onnx" / "record.json").write_text("{not json")  # damaged: written again, no temporary file left
    engine.open_retriever(settings, progress=False)
    assert json.loads((other / "onnx" / "record.json").read_text()) == record
    assert not list((other / "onnx").glob(".record.json.*"))


def test_the_docs_fingerprint_taken_at_start_decides_staleness(tmp_path):
    """A cold ask forks a child at start that fingerprints the docs folder while the parent imports;
    the parent reads it once, and it decides staleness exactly as its own walk would."""
    from conftest import reaped
    from qa_bot.documents.fingerprint import UNKNOWN, quick_digest
    from qa_bot.preload import Preload

    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("Alpha paragraph about rivers.\n", encoding="utf-8")
    (docs / "sub" / "b.md").write_text("Beta paragraph about bridges.\n", encoding="utf-8")
    early = Preload(tmp_path / "index", "any-model", docs)
    assert early.digest(tmp_path / "elsewhere") is UNKNOWN  # another folder: not this one's fingerprint
    early = Preload(tmp_path / "index", "any-model", docs)
    pid = early._scan.pid
    assert early.digest(docs) == quick_digest(docs) and quick_digest(docs).startswith("v2:2:")
    assert early.digest(docs) is UNKNOWN  # read once
    assert reaped({pid}), "the child was not reaped"
    (docs / "link.txt").symlink_to(docs / "a.txt")
    assert Preload(tmp_path / "index", "any-model", docs).digest(docs) is None  # links: the full walk decides
    assert Preload(tmp_path / "index", "any-model", tmp_path / "missing").digest(tmp_path / "missing") is None
    released = Preload(tmp_path / "index", "any-model", docs)
    pid = released._scan.pid
    released.release()  # never taken (the open failed first): the child is reaped all the same
    assert reaped({pid}), "the child was not reaped"


def test_a_file_added_before_a_cold_start_is_found_through_the_forked_fingerprint(seeds_settings, tmp_path, monkeypatch):
    from qa_bot.preload import Preload

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The river committee met in March.\n", encoding="utf-8")
    settings = dataclasses.replace(seeds_settings, docs=docs, index=tmp_path / "index")
    engine.open_retriever(settings, progress=False)
    unchanged = Preload(settings.index, settings.model, docs)
    stored = engine.index_mod.load(settings.index)
    assert unchanged.digest(docs) == stored.store.query("SELECT value FROM meta WHERE key = ?",
                                                        (f"stats:{stored.generation}",))[0][0]
    unchanged.release()
    (docs / "b.txt").write_text("The bridge over the Taedong was repainted in ochre.\n", encoding="utf-8")
    walked = []  # the parent's own walk of the folder: not needed when the child's fingerprint came back
    real = engine.index_mod.quick_digest
    monkeypatch.setattr(engine.index_mod, "quick_digest", lambda d, **kw: walked.append(d) or real(d, **kw))
    early = Preload(settings.index, settings.model, docs)
    opened = engine.open_retriever(settings, progress=False, preload=early)
    assert walked == []  # the forked child's fingerprint decided that the folder changed
    assert "ochre" in opened.ask("what colour was the bridge repainted?", k=1).hits[0].passage.text
    engine.open_retriever(settings, progress=False)  # no preload: the parent walks the folder itself
    assert walked == [docs]


def test_bm25_in_a_worker_thread_ranks_exactly_as_in_line(retriever, monkeypatch):
    """From search.PARALLEL_LEXICAL passages, BM25 finds its candidates in a worker thread while the
    question is embedded; the ranking is the same, on the exact path and on the budgeted one."""
    import threading

    from qa_bot import lexical as lex_mod
    from qa_bot import search

    questions = QUESTIONS + ["who signed the press statement?", "what did the embassy staff do with the archive"]
    for exact in (True, False):
        if not exact:
            monkeypatch.setattr(lex_mod, "EXACT_POSTINGS", 0)
        monkeypatch.setattr(search, "PARALLEL_LEXICAL", 10**9)
        in_line = [retriever.ranking(q) for q in questions]
        monkeypatch.setattr(search, "PARALLEL_LEXICAL", 0)
        beside = [retriever.ranking(q) for q in questions]
        for a, b in zip(in_line, beside):
            assert np.array_equal(a.rows, b.rows) and np.array_equal(a.score, b.score) and np.array_equal(a.lex, b.lex)
    assert any(t.name.startswith("qa-bot-bm25") for t in threading.enumerate())
    # several questions at once (the bot's threads), more than the pool has workers: the same again
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as askers:
        together = list(askers.map(retriever.ranking, questions * 3))
    for a, b in zip(beside * 3, together):
        assert np.array_equal(a.rows, b.rows) and np.array_equal(a.score, b.score)


def test_the_spellers_batch_stemming_reads_words_as_bm25_does(retriever):
    """The speller stems its hundreds of one-edit variants in one call (Analyzer.stems) instead of
    running the whole analyzer on each: for a word of letters it must give what `tokens` gives."""
    import re

    from qa_bot.query import Speller

    lex = retriever.lexical
    words = sorted({w for p in retriever.passages for w in re.findall(r"[^\W\d_]{5,}", p.text.lower())})
    words += sorted(Speller._variants("catalouge")) + ["because", "themselves", "naïve", "ёлка", "straße"]
    assert lex.analyzer.stems(words) == [(lex.tokens(w) or [None])[0] for w in words]
    speller = Speller(lex, retriever.passages)
    assert speller.correct("catalouge") == speller.correct("catalouge") == speller._correct("catalouge")


def test_stored_bm25_scores_equal_bm25s(retriever):
    import bm25s
    import Stemmer

    from qa_bot.lexical import B, K1, compounds

    texts = [passage_text(p) for p in retriever.passages]
    stemmer = Stemmer.Stemmer("english")

    def tokens(text: str) -> list[str]:  # bm25s's own tokens, then our compound terms ("1941-1945", "P.S.")
        plain = bm25s.tokenize([text], stopwords="en_plus", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        return list(plain) + compounds(text)

    corpus = [tokens(t) for t in texts]
    assert any(t.count("_") for doc in corpus for t in doc)  # the seeds have some
    model = bm25s.BM25(k1=K1, b=B)
    model.index(corpus, show_progress=False)
    lexical = retriever.index.lexical
    assert isinstance(lexical, Lexical)
    for q in QUESTIONS[:3] + ["treaty partnership June", "Taedonggang diplomatic club reception", "the P.S. of 1941-1945"]:
        ours, terms = lexical.raw_scores(q)
        query = tokens(q)
        assert terms == list(dict.fromkeys(query))
        expected = model.get_scores(query)
        np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


def test_answering_never_imports_torch(seeds_settings, retriever):
    code = (
        "import sys, json; from qa_bot.cli import main; rc = main(['ask', '--json', 'Where did Kim Jong Un meet Putin in 2019?']);"
        "print(json.dumps({'rc': rc, 'heavy': sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'bm25s', 'scipy', 'pypdf', 'docx', 'lxml') if m in sys.modules)}))"
    )
    env = dict(os.environ, QA_BOT_DOCS=str(seeds_settings.docs), QA_BOT_INDEX=str(seeds_settings.index))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    answer, status = proc.stdout.strip().splitlines()[-2:]
    assert json.loads(status) == {"rc": 0, "heavy": []}, proc.stderr
    assert json.loads(answer)["results"][0]["source"] == "004_6e374db3219750da.txt"


def test_a_second_index_reuses_the_cached_onnx_export_without_torch(retriever, docs_copy, tmp_path):
    code = (
        "import sys, json; from qa_bot.cli import main; rc = main(['index', '-q', '--docs', sys.argv[1], '--index', sys.argv[2]]);"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(docs_copy), str(tmp_path / "idx")], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"rc": 0, "torch": False}, proc.stderr
    from qa_bot import index as index_mod

    stored = index_mod.load(tmp_path / "idx")
    assert stored.extra["backend"] == "onnx-int8" and len(stored) == len(retriever.passages)
    np.testing.assert_allclose(stored.all_vectors(), retriever.index.all_vectors(), atol=1e-5)


def test_bm25_top_is_exact_on_the_rows_it_returns_and_finds_the_best(tmp_path, monkeypatch):
    """`Lexical.top` past EXACT_POSTINGS: budgeted candidates, common terms read from bitsets,
    every returned row scored exactly as `sparse` scores it; the passage holding every question
    word comes first, and a generous budget finds the exhaustive top 10."""
    from qa_bot import lexical as lex_mod

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(300)]
    p = 1.0 / np.arange(1, 301)
    p /= p.sum()
    texts = [" ".join(rng.choice(words, int(rng.integers(20, 60)), p=p)) for _ in range(3000)]
    built = Lexical.build(texts)
    monkeypatch.setattr(lex_mod, "BITSET_MIN_POSTINGS", 50)
    seg = built.segments[0]
    info = {**seg.info(), "parts": seg.write(tmp_path / "seg")}
    info.update(seg.info())
    assert info["bit_terms"] > 0
    opened = lex_mod.Segment.open(tmp_path / "seg", info)
    stored = Lexical([opened], built.df, built.size, int(seg.lengths.sum()), built.pids, built.lookup, built.analyzer)
    question = " ".join(texts[1234].split()[:8])
    rows, exact = built.sparse(question)
    monkeypatch.setattr(lex_mod, "EXACT_POSTINGS", 0)
    monkeypatch.setattr(lex_mod, "RESCORED", 40)
    for lexical in (built, stored):  # binary searches (in memory) and bitsets (written) give the same
        monkeypatch.setattr(lex_mod, "BUDGET_POSTINGS", 1)
        got, scores = lexical.top(question, 10, np.array([0, 1, 2]))
        np.testing.assert_allclose(scores, exact[np.searchsorted(rows, got)], rtol=1e-6)
        assert rows[np.argmax(exact)] == got[np.argmax(scores)] == 1234
        assert {0, 1, 2} & set(rows.tolist()) <= set(got.tolist())
        monkeypatch.setattr(lex_mod, "BUDGET_POSTINGS", 10**9)
        got, scores = lexical.top(question, 10)
        best = set(rows[np.argsort(-exact, kind="stable")[:10]].tolist())
        assert best <= set(got[np.argsort(-scores, kind="stable")[:40]].tolist())
