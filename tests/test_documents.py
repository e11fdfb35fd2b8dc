"""Paragraph splitting on each seed's shape, with citations checked against the files."""

from __future__ import annotations

import logging

import pytest

from qa_bot.documents import Document, read_folder, split_document
from conftest import SEEDS


def _norm(s: str) -> str:
    return " ".join(s.split())


@pytest.fixture(scope="module")
def seeds(encoder):
    out = {}
    for doc in read_folder(SEEDS):
        out[doc.source[:3]] = (doc, split_document(doc, encoder.max_tokens, encoder.count_tokens))
    return out


def _body(passages):
    return [p for p in passages if p.kind == "text"]


def test_every_passage_is_at_its_cited_lines(seeds):
    for doc, passages in seeds.values():
        lines = doc.text.split("\n")
        assert passages, doc.source
        for p in passages:
            cited = _norm(" ".join(lines[p.line_start - 1 : p.line_end]))
            assert _norm(p.text) in cited, (p.source, p.line_start, p.text[:60])
            assert 1 <= p.line_start <= p.line_end <= len(lines)


def test_no_line_of_the_seeds_is_lost(seeds):
    """Every non-empty line is in a passage's text, or is the title or date every passage carries
    ("Dear friends," before the first paragraph opens it; it was once dropped)."""
    for doc, passages in seeds.values():
        texts = " | ".join(_norm(p.text) for p in passages)
        meta = {_norm(x) for p in passages for x in (p.title, p.date) if x}
        for n, line in enumerate(doc.text.split("\n"), start=1):
            line = _norm(line)
            assert not line or line in texts or line in meta, (doc.source, n, line)


def test_blank_line_paragraphs_and_heading_lines(seeds):
    doc, passages = seeds["001"]
    assert passages[0].title == "Ambassador's Welcome Word"
    assert passages[0].date is None
    starts = [p.line_start for p in _body(passages)]
    assert starts == [3, 7, 9, 11, 13, 15]  # the salutation opens the first paragraph (lines 3-5)
    assert _body(passages)[0].text.startswith("Dear friends! Welcome to the website")
    texts = " ".join(p.text for p in _body(passages))
    assert "Welcome again!" not in texts and "Alexander Matsegora" not in texts  # the signature is not body text
    assert not [p for p in passages if p.kind == "header"]  # a title alone is metadata only


def test_one_line_paragraphs(seeds):
    _, passages = seeds["000"]
    passages = _body(passages)
    assert [p.line_start for p in passages] == [6] + list(range(8, 14))
    assert [p.line_end for p in passages] == list(range(7, 14))  # "Dear friends," (line 6) opens the first
    assert [p.paragraph for p in passages] == list(range(2, 9))  # ¶1 is the header
    assert passages[0].title == "Embassy of Russia to the DPRK"
    assert not any(p.text in ("Dear friends,", "Welcome to all!") for p in passages)


def test_navigation_list_is_labelled_and_keeps_its_dates_to_itself(seeds):
    doc, passages = seeds["002"]
    texts = [p.text for p in passages]
    assert len(texts) == len(set(texts))
    ceremony = [p for p in passages if p.text.startswith("A ceremony of donating")]
    assert [(p.line_start, p.kind, p.date) for p in ceremony] == [(13, "navigation", "February 19, 2026")]
    assert not any(p.text.startswith("February 1") for p in passages)
    assert passages[0].title == "002_a8a3f57de7ba005e"  # first line is a sentence: title falls back to the file name
    article = [p for p in passages if p.line_start <= 11]
    assert len(article) == 11 and {(p.kind, p.date) for p in article} == {("text", None)}
    nav = [p for p in passages if p.line_start >= 12]
    assert {p.kind for p in nav} == {"navigation"} and {p.author for p in nav} == {None}
    assert [p.text for p in nav][0::len(nav) - 1] == ["More From Voice of Korea (EN)", "More Articles"]
    assert len(nav) == 21  # two labels and 19 distinct headlines


def test_titles_and_dates(seeds):
    _, p3 = seeds["003"]
    assert p3[0].title.startswith("Press Statement by Im Chon Il")
    assert {p.date for p in p3} == {"Pyongyang, April 23, Juche 109(2020)"}  # the dateline at the end governs
    # a title that names its author and office is a passage of its own (who he is); a bare title is not (004 below)
    assert (p3[0].kind, p3[0].line_start, p3[0].line_end, p3[1].line_start) == ("header", 1, 1, 3)
    assert p3[-1].line_start == 23  # the closing dateline is the document's date, not a passage
    assert p3[0].author.startswith("Im Chon Il, Vice-Minister")
    _, p4 = seeds["004"]
    assert {p.title for p in p4} == {"Big landmark in DPRK-Russia friendship"}
    assert {p.date for p in p4} == {"April 26, 2023"}
    assert not any("All rights reserved" in p.text for p in _body(p4))
    assert [(p.kind, p.line_start, p.line_end) for p in p4 if p.kind != "text"] == [("signature", 36, 36)]  # title + date: metadata


def test_signatures_are_authors_and_passages(seeds):
    for key, lines, author in (("000", (14, 16), "Alexander Matsegora"),
                               ("001", (17, 22), "Alexander Matsegora / Ambassador of Russia")):
        _, passages = seeds[key]
        [sig] = [p for p in passages if p.kind == "signature"]
        assert (sig.line_start, sig.line_end) == lines and sig.text.endswith("Alexander Matsegora")
        assert {p.author for p in passages} == {author}


def _check_windows(text, passages, encoder, pieces):
    for p in passages:
        assert encoder.count_tokens(p.text) <= encoder.max_tokens
    assert _norm(" ".join(p.text for p in passages)) == _norm(" ".join(pieces))  # no text invisible
    lines = text.splitlines()
    for p in passages:
        assert _norm(p.text) in _norm(" ".join(lines[p.line_start - 1 : p.line_end]))


def test_long_one_line_paragraph_is_split_into_sentence_windows(encoder):
    sentences = [f"Sentence number {i} talks about the cooperation in field {i} between the two countries." for i in range(60)]
    text = "Title line\n\n" + " ".join(sentences) + "\n"
    passages = split_document(Document("long.txt", text, "x"), encoder.max_tokens, encoder.count_tokens)
    assert len(passages) >= 3
    assert {p.paragraph for p in passages} == {1}
    assert all(p.text.endswith(".") for p in passages)  # windows end at sentence boundaries
    assert {(p.line_start, p.line_end) for p in passages} == {(3, 3)}
    _check_windows(text, passages, encoder, sentences)


def test_long_wrapped_paragraph_windows_cite_their_own_lines(encoder):
    sentences = [f"Fact {i} is that alpha beta gamma delta and epsilon were all counted in region {i} last year." for i in range(60)]
    halves = [(s[: s.index(" delta")], s[s.index(" delta") + 1 :]) for s in sentences]
    lines = [halves[0][0]] + [f"{halves[i][1]} {halves[i + 1][0]}" for i in range(59)] + [halves[59][1]]
    text = "\n".join(lines) + "\n"
    passages = split_document(Document("wrapped.txt", text, "x"), encoder.max_tokens, encoder.count_tokens)
    assert len(passages) >= 3 and {p.paragraph for p in passages} == {1}
    assert passages[0].line_start == 1 and passages[-1].line_end == 61
    assert all(a.line_end <= b.line_start for a, b in zip(passages, passages[1:]))
    assert any(p.line_start > 1 for p in passages)
    assert all(p.text.startswith("Fact") and p.text.endswith(".") for p in passages)  # whole sentences
    _check_windows(text, passages, encoder, sentences)


def test_a_sentence_longer_than_the_model_limit_is_cut_at_words(encoder):
    text = " ".join(f"w{i}" for i in range(600)) + " end.\n"
    passages = split_document(Document("run-on.txt", text, "x"), encoder.max_tokens, encoder.count_tokens)
    assert len(passages) >= 2
    assert all(encoder.count_tokens(p.text) <= encoder.max_tokens for p in passages)
    assert _norm(" ".join(p.text for p in passages)) == _norm(text)


def test_hard_wrapped_markdown_joins_lines(tmp_path):
    (tmp_path / "notes.md").write_text(
        "# Field notes\n\nThe survey team walked along the river\nfor three days and counted the birds\nthey saw on the way.\n\n- first item of a list here\n- second item of a list here\n",
        encoding="utf-8",
    )
    [doc] = read_folder(tmp_path)
    passages = split_document(doc)
    assert passages[0].title == "Field notes"
    assert passages[0].text == "The survey team walked along the river for three days and counted the birds they saw on the way."
    assert (passages[0].line_start, passages[0].line_end) == (3, 5)
    assert [p.line_start for p in passages[1:]] == [7, 8]


def test_a_heading_after_the_salutation_names_the_section(tmp_path):
    """"Dear colleagues," opens the first paragraph; a heading between them is that paragraph's
    section, not text of it (it was: "Dear colleagues, ## Agenda We will ...")."""
    (tmp_path / "letter.txt").write_text(
        "# Letter to the members\n\nDear colleagues,\n\n## Agenda\n\n"
        "We will discuss the new harbour budget and the repair of the old pier at the meeting.\n", encoding="utf-8")
    [doc] = read_folder(tmp_path)
    [p] = split_document(doc)
    assert p.text.startswith("Dear colleagues,") and "Agenda" not in p.text and "#" not in p.text, p.text
    assert p.section == "Agenda"


def test_encodings_binary_and_unreadable_files(tmp_path, caplog):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "latin.txt").write_bytes("Caf\xe9 society met in the old town every Sunday morning.\n".encode("cp1252"))
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02binary\x00" * 10)
    (tmp_path / "ignored.pdf").write_bytes(b"%PDF")
    (tmp_path / "dangling.md").symlink_to(tmp_path / "gone.md")
    with caplog.at_level(logging.WARNING):
        docs = read_folder(tmp_path)
    sources = [d.source for d in docs]
    assert "sub/latin.txt" in sources
    assert "Café" in next(d.text for d in docs if d.source == "sub/latin.txt")
    assert "blob.txt" not in sources
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "latin.txt is not valid UTF-8" in messages
    assert "skipped 3 files: blob.txt (binary file), dangling.md (broken link), ignored.pdf (" in messages
    assert "dangling.md" not in sources
