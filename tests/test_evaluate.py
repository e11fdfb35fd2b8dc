"""Metrics against hand-computed cases, and the BEIR path on a tiny dataset."""

from __future__ import annotations

import json
import math

import pytest

from qa_bot.evaluate import evaluate_beir, load_beir, mrr_at_k, ndcg_at_k, recall_at_k


def test_ndcg_against_a_hand_computed_case():
    qrels = {"a": 2, "b": 1, "z": 1}
    ranked = ["x", "a", "b", "y"]
    dcg = (2**2 - 1) / math.log2(3) + (2**1 - 1) / math.log2(4)
    idcg = (2**2 - 1) / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, qrels, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b", "z"], qrels, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], qrels, 10) == 0.0
    assert recall_at_k(ranked, qrels, 100) == pytest.approx(2 / 3)
    assert mrr_at_k(ranked, qrels, 10) == 0.5
    assert mrr_at_k(ranked, qrels, 1) == 0.0


def test_beir_evaluation_on_a_tiny_dataset(tmp_path, encoder):
    from qa_bot.search import Retriever

    corpus = [
        {"_id": "d1", "title": "Ferries", "text": "The ferry from Vladivostok to Rason runs in summer."},
        {"_id": "d2", "title": "Trains", "text": "The railway bridge over the Tumen river links the two countries."},
        {"_id": "d3", "title": "Planes", "text": "Air Koryo flies from Pyongyang to Vladivostok twice a week."},
    ]
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus))
    (tmp_path / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "Which boat goes to Rason?"}) + "\n"
                                            + json.dumps({"_id": "q2", "text": "How do trains cross the Tumen?"}))
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    from qa_bot.evaluate import beir_index

    data = load_beir(tmp_path, "test")
    stored = beir_index(data, encoder, tmp_path / "cache", progress=False)
    before = encoder.texts_encoded
    again = beir_index(data, encoder, tmp_path / "cache", progress=False)
    assert encoder.texts_encoded == before and len(again) == len(stored) == 3  # cached, not re-encoded
    result = evaluate_beir(Retriever(stored, encoder), data)
    assert result["queries"] == 2 and result["ndcg@10"] == pytest.approx(1.0) and result["mrr@10"] == 1.0
    corpus[2]["text"] = "Air Koryo flies from Pyongyang to Vladivostok three times a week."  # a new corpus version
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus))
    changed = beir_index(load_beir(tmp_path, "test"), encoder, tmp_path / "cache", progress=False)
    texts = [p.text for p in changed.passages]  # the old version's rows are gone, not shown beside the new
    assert len(texts) == len(changed) == 3 and "three times a week" in " ".join(texts) and "twice" not in " ".join(texts)


def test_a_gold_copied_from_table_cells_matches_the_row_shown_with_bars():
    """A table passage shows its cells as "cell | cell"; a gold copied from the file's cells ("ASIST 20.2
    VxWorks 6.9") is a hit there, and only there: the same words across a bar in running text are not."""
    from qa_bot.documents import Passage
    from qa_bot.evaluate import Gold, passage_matches

    row = Passage("a", "report.docx", 1, 1, 2, "Item | Version ASIST | 20.2 VxWorks | 6.9", "Report", None, kind="table")
    assert passage_matches(row, Gold("report.docx", answer="ASIST 20.2 VxWorks 6.9"))
    assert passage_matches(row, Gold("report.docx", answer="ASIST | 20.2"))  # as shown
    assert not passage_matches(row, Gold("report.docx", answer="ASIST 20.2 VxWorks 7"))
    text = Passage("b", "report.docx", 2, 3, 3, "Item | Version ASIST | 20.2", "Report", None)
    assert not passage_matches(text, Gold("report.docx", answer="ASIST 20.2"))
