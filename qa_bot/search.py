"""Question to ranked passages: dense (FAISS), lexical (BM25) and their fusion, plus `found`.

Scoring lives here; reading files lives in documents.py and drawing answers in render.py.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Container
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import PurePath

import numpy as np

from .documents import SALUTATION, Passage, split_sentences
from .errors import QaBotError
from .index import StoredIndex
from .lexical import PUBLISHER, Lexical, passage_text
from .query import (ATTENDANCE, CONTACT_SHAPES, DATE, DAY_MONTH, EVENT, MONTH_NAME, NAME, REASON, QuestionInfo, analyse,
                    answer_type, asks_contact, asks_expansion, asks_reason, asks_role, clean_question, document_part,
                    documents_names, has_type, meta_type, named_year, shows_role, spelling_variants, spells_out)

CANDIDATES = 100
# From this many passages BM25 finds its candidates in a worker thread while the question is
# embedded and the vectors searched (ONNX, FAISS and numpy mostly release the GIL); below it the
# hand-over would cost more than it saves (BM25 takes well under a millisecond there).
PARALLEL_LEXICAL = 50_000
_pool: list[ThreadPoolExecutor] = []  # one small pool per process, made when first needed
_pool_lock = threading.Lock()


def _worker() -> ThreadPoolExecutor:
    with _pool_lock:
        if not _pool:
            _pool.append(ThreadPoolExecutor(2, thread_name_prefix="qa-bot-bm25"))
        return _pool[0]
# Calibrated on tests/data/seeds_questions.jsonl (see docs/quality.md): the best score below
# which a question is reported as not answered by the documents. The hybrid one was set with
# HYBRID_ALPHA 0.4 and kept at 0.5 (off-topic questions of the tune sets still all "none").
DEFAULT_THRESHOLDS = {"dense": 0.41, "bm25": 0.085, "hybrid": 0.22}
# Weight of the cosine similarity in hybrid scores: 0.4 from SciFact train (benchmarks/tune_fusion.py); 0.5 since
# round 10, on the tune sets (answerable questions not answered 24 -> 13 of 768, lower or equal in every set;
# near-topic held back 88 -> 94 of 232) and SciFact train 0.7409 -> 0.7430 (docs/quality.md, round 10).
HYBRID_ALPHA = 0.5
# Share of a passage's dense score that comes from its best-matching sentence.
SENTENCE_WEIGHT = 0.7
_WORDS = re.compile(r"[^\W\d_]{5,}")
# Query-side ranking aids, chosen on the tune split and SciFact train (docs/quality.md).
SPELLING = True  # a question term the corpus never uses is replaced by a corpus term one edit away
SPELLING_KEEPS_WORDS = True  # ... unless the embedding model's vocabulary knows it as a whole word
DOCUMENT_PARTS = True  # "how does the letter open / end" answered by its first / last passages
YEAR_BONUS = 0.03  # added to a passage of the document a question names by its year ("the 2023 article")
TYPE_BONUS = 0.02  # added to a passage holding what a who/when/how-many question asks for
REASON_DEPTH = 3  # a why-question: the best of the top three passages that gives a reason ("in order to") goes first
ATTENDANCE_DEPTH = 3  # "who was invited to the reception": the best of the top three saying who was there goes first
META_BONUS = 0.0  # added to a header/signature passage for a question about the document itself
NAV_PENALTY = 0.05  # taken from a navigation passage (table of contents, "more articles" list): never the answer itself
BONUS_DEPTH = 30
NAV_ITEM_WORDS = 15  # a navigation item this long is a headline with its lead sentence, not a table-of-contents link: no penalty
# A paragraph that opens with "He" or "She" continues the person named before it ("Next, Foreign
# Minister Choe Son Hui made a speech." / "She said ..."): question terms found only in that
# earlier paragraph count for it at this weight (docs/quality.md, round 5).
CONTEXT_WEIGHT = 1.0
_CONTINUES = re.compile(r"(?:He|She)\b")
SEQUENCE_DEPTH = 3  # "who spoke after the ambassador": a passage opening "Next," among this many goes first
# "what does PDP stand for": the first of this many that spells it out ("policy decision point (PDP)") goes first;
# any passage that uses the abbreviation matches the question as well as the one that defines it
EXPANSION_DEPTH = 100
SEQUENCE_AHEAD = 6  # ... else one of this many paragraphs after a top passage about what came before
YEAR_ROWS = 500  # ... read through the BM25 postings of an undated document of at most this many passages
YEAR_DOCUMENT = True  # "the 2020 welcome word": a passage of the document of that year first (undated ones too, unlike YEAR_BONUS)
DEFINITION_DEPTH = 10  # "what is the policy administrator responsible for": a passage opening "Policy administrator (PA): ..." first
ROLE_DEPTH = 5  # "what position does Im Chon Il hold": the first of this many naming him with an office goes first
ROLE_FLOOR = 0.5  # ... and is answered by it from this share of the score floor up (Im Chon Il: 0.12-0.14 of 0.22)
# "what is X", "what does X do", "what's X responsible for": a question about what something is
_ASKS_WHAT = re.compile(r"\s*(?:what(?:'s|s|\s+is|\s+are|\s+does|\s+do)|define|explain)\s+(?:the\s+|a\s+|an\s+)?"
                        r"(?P<subject>(?:[\w'’-]+\s+){0,4}?[\w'’-]+)(?=\s+(?:responsible|used|for|in|of|on|at|to|do|does|mean"
                        r"|means|stand|stands|refer|refers|exactly)\b|\s*[?.!,]|\s*$)", re.IGNORECASE)
# a passage that opens by defining something: "Policy administrator (PA): This component ...", "A ZTA is ..."
# (after "is" an article or "responsible / used ...", not "is shown in Figure 2"; after a dash not "see Section 4")
_DEFINES = re.compile(r"(?:In\s+[\w -]{1,30},\s+)?(?:(?:an?|the)\s+)?(?P<head>[^\W\d_][\w'’ -]{1,60}?)\s*(?:\((?P<paren>[^()]{1,40})\))?"
                      r"\s*(?::\s|(?:—|–|\s-)(?!\s*see\b)\s*|\s(?:is|are)\s+(?:an?|the|one|any|responsible|used|defined)\b|\srefers to\s|\smeans\s)",
                      re.IGNORECASE)
# where a definition may open in a passage: its start, or a list item ("• Policy engine (PE): ...")
_ITEM_START = re.compile(r"^\W{0,3}|[•▪●◦]\s*")
_AFTER = re.compile(r"\b(?:after|following)\s+(?:the\s+|a\s+|an\s+|his\s+|her\s+|their\s+)?([^\W\d_][\w-]*(?:\s+[^\W\d_][\w-]*)?)",
                    re.IGNORECASE)  # "after the Russian ambassador": two words, the second may be the one that counts
_NEXT = re.compile(r"(?:Next|Then|Afterwards|After that|After this|Later|Subsequently|Following (?:this|that|him|her))\b")
META_ANSWERS = True  # a metadata question is answered when the top passage carries the field it asks for
TITLED_DOCUMENT = True  # a question naming a document by its title: that document first (a metadata one: its header/signature)
# ... unless more of it than this (IDF) is in neither that title nor that passage: "Is Im Chon Il married?" 0.48,
# "which ministry does im chon il work for" 0.28 (tune sets: 0.25 lost two answerable questions, 0.5 none)
ASKS_BEYOND = 0.35
TITLE_PAGE = True  # a who-wrote / when-published question without the field on top: the document's opening passage first
COUNTS_NEED_NUMBERS = True  # "related" when no top sentence puts what a how-many question counts next to a number
NAMES_NEED_NAMES = True  # "related" when a question wants a name ("the name of the minister who ...") and no top sentence gives one
DATES_NEED_DATES = True  # "related" when a question asks when and no top passage about it gives a date (or is dated)
CHOICES_NEED_ONE = True  # "related" when a question offers two answers ("by train or by plane?") and no top passage has either
PLACES_NEED_PLACES = True  # "related" when a question asks where and no top sentence about it names a place it does not
PREVIOUS_NEEDS_SAYING = True  # "related" when a question asks for an office held before and no top sentence says one was
ORDINALS_NEED_ORDINALS = True  # "related" when a question names "the second summit" and no top passage says "second" / "2nd"
THINGS_NEED_MENTION = True  # "related" when a question asks what gifts were given / food served and no top passage says so
SAID_NEEDS_SUBJECT = True  # "related" when a question asks what was said about something no top passage mentions
CONTACTS_NEED_SHAPES = True  # a question for an address / phone / @handle / URL / hours: "related" when none of that shape is on top
SAID_NEEDS_SPEAKER = True  # "related" when a question asks what someone said and no top sentence gives speech by them
HEADERS_SAY_LITTLE = True  # "related" for a yes/no or who-came-after question whose first passage is a header it outruns
MONTH_BONUS = 0.04  # added to a top passage that names a month the question names
DAY_ORDINALS = True  # "12 October" is also asked as "12th" where the documents write days so
UNDATED_DOCUMENTS = True  # "when was it published?" over top passages that carry no date, in their text or as their own
# the checks that make a verdict "related", in order: (the flag above that switches it, its function in verdict.py);
# the flag is read when a question is judged, so a test can switch one off
_RELATED_CHECKS = (("COUNTS_NEED_NUMBERS", "uncounted"), ("NAMES_NEED_NAMES", "unnamed"), ("NAMES_NEED_NAMES", "uncalled"),
                   ("DATES_NEED_DATES", "undated"), ("PREVIOUS_NEEDS_SAYING", "unprevious"), ("SAID_NEEDS_SUBJECT", "unsaid"),
                   ("ORDINALS_NEED_ORDINALS", "unordinal"), ("THINGS_NEED_MENTION", "unmentioned"),
                   ("CHOICES_NEED_ONE", "unchosen"), ("PLACES_NEED_PLACES", "unplaced"),
                   ("SAID_NEEDS_SPEAKER", "unspoken"))
OFF_TOPIC_GUARD = True  # "none" when the best passages share at most half the topic terms and little meaning
RERANK = True  # the top fused candidates re-ordered by a small linear model (qa_bot/rerank.py, docs/quality.md)
RARE_IDF = 0.5  # share of the highest IDF from which a capitalised word counts as a name  # how many top candidates the bonuses look at


_COPYRIGHT_LINE = re.compile(r"©|\(c\)\s*\d{4}|\bcopyright\b|\ball rights reserved\b", re.IGNORECASE)
_PUBLISHER_LINE = re.compile(r"\s*" + PUBLISHER.pattern)  # a passage that opens with the line BM25 reads as publish


def meta_fits(p: Passage, meta: str) -> bool:
    """Whether a passage carries the document metadata a question asks for (author, date, title,
    copyright, publisher)."""
    kind = getattr(p, "kind", "text")
    if meta in ("copyright", "publisher"):
        return has_meta_field(p, meta)
    if meta == "author":
        return _signed(p)
    if meta == "date":
        return kind == "header" and bool(p.date)
    return kind == "header"


def title_page_fits(p: Passage, meta: str) -> bool:
    """Whether a document's opening passage (its title page, byline or dateline) holds what a
    metadata question asks for: a name for who wrote it, a date for when it was published."""
    if p.paragraph != 1 or getattr(p, "page", None) not in (None, 1):
        return False
    if meta == "author":
        return bool(NAME.search(p.text)) and not is_prose(p.text)
    if meta == "date":
        return bool(DATE.search(p.text))
    return False


def carries_field(p: Passage, meta: str) -> bool:
    """Whether a passage of a document itself answers a metadata question about it: its title page
    for who wrote / when published (a name, a date), its publisher line, its header for a title."""
    if meta in ("publisher", "copyright"):  # its publisher or copyright line
        return has_meta_field(p, meta)
    if meta == "title":
        return p.kind == "header"
    return title_page_fits(p, meta)


def is_prose(text: str, words: int = 25) -> bool:
    """Whether a passage opens with running prose rather than a title page or byline: a title,
    names and affiliations are mostly capitalised words; "Kim Jong Un, general secretary of the
    Workers' Party ... paid an official visit" is a sentence that merely starts with a name."""
    head = re.findall(r"[^\W\d_][\w'’∗*-]*", text)[:words]
    if len(head) < 8:
        return False
    return sum(w[0].isupper() for w in head) / len(head) < 0.6


def has_meta_field(p: Passage, meta: str) -> bool:
    """Whether the passage carries the field a metadata question asks for (shown with every hit; a
    copyright line is in the passage itself)."""
    if meta == "copyright":
        return bool(_COPYRIGHT_LINE.search(p.text))
    if meta == "publisher":
        return bool(_PUBLISHER_LINE.match(p.text))
    if meta == "author":
        return bool(getattr(p, "author", None))
    if meta == "date":
        return bool(p.date)
    return bool(p.title) and p.title not in (p.source, PurePath(p.source).stem)  # not a title made from the file name


def _signed(p: Passage) -> bool:
    """Whether a passage carries who wrote its document: an author field, or a signature that is more
    than a copyright line ("2023 © All rights reserved." names no one)."""
    return bool(getattr(p, "author", None)) or (getattr(p, "kind", "text") == "signature"
                                                and not _COPYRIGHT_LINE.search(p.text))


def _names_its_author(p: Passage) -> bool:
    """Whether one of a document's first or last passages records who wrote it: signed, or a title
    page with a byline (an author field is on every passage of its document, a signature at its end)."""
    return _signed(p) or title_page_fits(p, "author")


def _bare_signature(p) -> bool:
    """A signature that is only a name ("Alexander Matsegora") or a copyright line: not the words a
    document ends with."""
    if getattr(p, "kind", "text") != "signature":
        return False
    return bool(_COPYRIGHT_LINE.search(p.text)) or (len(p.text.split()) <= 4 and not re.search(r"[.!?,]", p.text))


@dataclass(frozen=True)
class Ranking:
    """Candidates best first: rows, fused score and its parts (None where the mode has no such part)."""

    rows: np.ndarray
    score: np.ndarray
    cos: np.ndarray | None  # passage cosine
    sent: np.ndarray | None  # best sentence cosine
    lex: np.ndarray | None  # IDF-normalised BM25
    qvec: np.ndarray | None
    info: QuestionInfo
    confidence: float | None = None  # a ranker's own measure of how clearly the best passage stands out
    margin: float | None = None  # the best passage's cosine minus the nearest off-subject sentence's (multilingual)
    part: str = ""  # "opening" / "closing": the first passage is where its document starts / ends, as asked
    titled: bool = False  # the question named the first passage's document (by its title; how a letter ends: or its year)
    role: str = ""  # whose office a question asks for, when a passage near the top names them with one
    moved: bool = False  # a question rule, not the fused score, put the first passage first


def _of_year(passages: list[Passage], year: str) -> bool:
    """Whether a document (some of its passages) is the one "the 2020 letter" names: dated that
    year, or undated and saying it ("The year 2020 challenged us")."""
    dated = next((p.date for p in passages if p.date), None)
    said = [dated] if dated is not None else [p.text for p in passages]
    return any(re.search(rf"\b{year}\b", t) for t in said)


_ATTENDANCE_FILLER = frozenset({"there", "at", "were", "was", "in", "took", "part"})


def _promote(order: np.ndarray, score: np.ndarray, j: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Candidate `order[j]` first; the scores of the first j + 1 handed out again in descending order,
    so the best score (and the floor on it) stays first and the verdict sees a ranking that falls."""
    if not j:
        return order, score
    head = order[: j + 1]
    ranked = np.sort(score[head])[::-1]
    order = np.concatenate([[order[j]], np.delete(order, j)])
    score = score.copy()
    score[order[: j + 1]] = ranked
    return order, score


def _first_holding(top: list[Passage], holds) -> int | None:
    """The position of the first of `top` whose text `holds` (a regex's search or match), when the
    very first does not; else None (nothing to move)."""
    if holds(top[0].text):
        return None
    return next((j for j, p in enumerate(top) if holds(p.text)), None)


def _names_office(p: Passage, who: str) -> bool:
    """Whether a passage names `who` with an office, in its text or its byline (query.shows_role)."""
    return shows_role(p.text, who) or shows_role(p.author or "", who)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique of a 1-d integer array, without the import of numpy.ma its first call makes (20 ms of a cold ask)."""
    a = np.sort(a)
    if len(a) > 1:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


class _Vocabulary:
    """`word in vocabulary` for a `tokenizers.Tokenizer`, one lookup a word."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.tokenizer.token_to_id(word) is not None


def known_word(word: str, vocab: Container[str]) -> bool:
    """A whole word of the model's vocabulary, or its plural ("physicists": the vocabulary holds "physicist"),
    which is a real word the documents do not use, never a misspelling."""
    return word in vocab or (word.endswith("s") and word[:-1] in vocab) or (word.endswith("es") and word[:-2] in vocab)


TYPO_LETTERS = 6  # shorter words have too many neighbours ("tilde" / "tiled", "param" / "parma")


def _typo_variants(word: str) -> set[str]:
    """The spellings the commonest typing slips give back: two neighbouring letters swapped ("desgined"),
    a doubled letter single or a single one doubled ("comander", "durring")."""
    out = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1) if word[i] != word[i + 1]}
    out |= {word[:i] + word[i + 1:] for i in range(1, len(word)) if word[i] == word[i - 1]}
    out |= {word[:i + 1] + word[i] + word[i + 1:] for i in range(len(word))}
    out.discard(word)
    return out


def _common_spelling(word: str, vocab: Container[str]) -> str | None:
    """A misspelt word the documents never use, as the one common English word (the model's vocabulary)
    a typing slip away ("desgined" -> "designed", "comander" -> "commander"); else None. Capitalised words
    (names: "Rajin" is no typo for "rain") and words under TYPO_LETTERS letters are left alone. The question
    rules and the model then read the word it means."""
    if word[:1].isupper() or len(word) < TYPO_LETTERS or not word.isascii():
        return None  # (the model's whole words are English)
    found = sorted(v for v in _typo_variants(word.lower()) if v in vocab)
    return found[0] if len(found) == 1 else None


@dataclass(frozen=True)
class Hit:
    """One ranked passage with its score and the sentence that best matches the question."""

    rank: int
    score: float
    passage: Passage
    highlight: str

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "rank": self.rank,
            "score": round(float(self.score), 4),
            "text": p.text,
            "source": p.source,
            "paragraph": p.paragraph,
            "line_start": p.line_start,
            "line_end": p.line_end,
            "title": p.title,
            "date": p.date,
            "highlight": self.highlight,
            "page": p.page,
            "page_end": getattr(p, "page_end", None),
            "section": p.section,
            "author": p.author,
            "kind": p.kind,
        }


VERDICTS = ("answered", "related", "none")


@dataclass(frozen=True)
class Answer:
    """The result of one question: the verdict, and the ranked hits (none for verdict "none").

    "answered": a passage seems to answer it; "related": passages on the topic, but none seems
    to answer exactly (still shown, marked); "none": nothing relevant. `found` is "answered".
    """

    query: str
    found: bool
    hits: list[Hit] = field(default_factory=list)
    verdict: str = ""
    hint: str | None = None  # one line for the user, e.g. that the index answers English

    def __post_init__(self):
        if not self.verdict:
            object.__setattr__(self, "verdict", "answered" if self.found else "none")

    def to_dict(self) -> dict:
        out = {"query": self.query, "found": self.found, "verdict": self.verdict,
               "results": [h.to_dict() for h in self.hits]}
        if self.hint:
            out["hint"] = self.hint
        return out


def _at(rows: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """values[k] where rows[k] == w for each w in wanted (rows ascending); 0 where w is not in rows."""
    if len(rows) == 0:
        return np.zeros(len(wanted), dtype=np.float32)
    at = np.minimum(np.searchsorted(rows, wanted), len(rows) - 1)
    return np.where(rows[at] == wanted, values[at], 0).astype(np.float32)


class Retriever:
    """The object a user holds: ask a question, get cited passages.

    Built from a loaded index and an encoder for questions; `mode` picks dense, bm25 or hybrid.
    """

    def __init__(self, index: StoredIndex, encoder, mode: str = "hybrid", threshold: float | None = None,
                 alpha: float = HYBRID_ALPHA):
        if mode not in DEFAULT_THRESHOLDS:
            raise QaBotError(f"unknown mode {mode!r}; choose dense, bm25 or hybrid")
        self.index = index
        self.encoder = encoder
        self.mode = mode
        self.alpha = alpha
        self.threshold = DEFAULT_THRESHOLDS[mode] if threshold is None else threshold
        self.passages = index.passages
        self._lexical: Lexical | None = None
        self._speller = None
        self._model_words = None
        self.use_verdict_model = True

    @property
    def lexical(self) -> Lexical:
        """BM25 stored with the index (built here only for an index written without one)."""
        if self._lexical is None:
            self._lexical = self.index.lexical or Lexical.build([passage_text(p) for p in self.passages])
        return self._lexical

    @property
    def speller(self):
        """Corrects words the corpus never uses (from the lexical index's terms, never the passages)."""
        if self._speller is None:
            from .query import Speller

            self._speller = Speller(self.lexical, self.passages)
        return self._speller

    def is_rare(self, word: str) -> bool:
        """A word few passages use (a name rather than 'Russian' or 'Embassy' in an embassy's pages)."""
        lex = self.lexical
        terms = lex.tokens(word)
        if not terms:
            return False
        return lex.term_idfs(terms[:1])[0] >= RARE_IDF * lex.idf_unknown

    def model_words(self) -> Container[str]:
        """Whole words of the embedding model's vocabulary (about 20,000 common English words):
        a question word found there is a real word the documents do not use ("iphone", "bread"),
        not a misspelling, so it is never respelt into a corpus word. Empty where the encoder has no tokenizer."""
        if self._model_words is None:
            words: Container[str] = frozenset()
            if SPELLING_KEEPS_WORDS:
                tok = getattr(self.encoder, "tokenizer", None) or getattr(getattr(self.encoder, "model", None), "tokenizer", None)
                if hasattr(tok, "token_to_id"):  # a `tokenizers` tokenizer: look words up, no 30,000-entry dict (23 ms)
                    words = _Vocabulary(tok)
                else:
                    try:
                        words = tok.get_vocab()
                    except AttributeError:
                        words = frozenset()
            self._model_words = words
        return self._model_words

    def respell(self, text: str) -> str:
        """The question with each word the corpus never uses replaced by a corpus word one edit away.
        The last few answers are kept: ranking and several verdict checks ask it of the same question."""
        if not SPELLING or self.mode == "dense":
            return text
        memo = self.__dict__.setdefault("_respelt", {})
        found = memo.get(text)
        if found is None:
            if len(memo) >= 64:
                memo.clear()
            found = memo[text] = self._respell(text)
        return found

    def _respell(self, text: str) -> str:
        lex = self.lexical
        words = {w: t[0] for w in dict.fromkeys(_WORDS.findall(text)) if (t := lex.tokens(w))}
        known = lex.doc_freqs(words.values())
        unknown = [w for w, t in words.items() if t not in known]
        for word in unknown[:]:  # "licence" where the documents say "license": the documents' spelling
            variants = {t[0]: v for v in spelling_variants(word) if (t := lex.tokens(v))}
            used = lex.doc_freqs(variants)
            if used:
                other = variants[max(used, key=used.get)]
                text = re.sub(rf"\b{re.escape(word)}\b", other.capitalize() if word[:1].isupper() else other, text)
                unknown.remove(word)
        text = documents_names(text, self._name_passages)
        if unknown:
            vocab = self.model_words()  # loaded only when a word is unknown to the corpus
            unknown = [w for w in unknown if not known_word(w.lower(), vocab)]
        for word in unknown:
            fixed = self.speller.correct(word) or _common_spelling(word, vocab)
            if fixed:
                text = re.sub(rf"\b{re.escape(word)}\b", fixed, text)
        return self._day_ordinals(text)

    def _day_ordinals(self, text: str) -> str:
        """"on 12 October 2020" -> "on 12 12th October 2020" where the documents write days as ordinals ("On the
        12th of October"): the day's other form beside it, for BM25 and the model alike."""
        def add(m: re.Match) -> str:
            day = m["day"] or m["after"]
            nth = day + ("th" if day in ("11", "12", "13") else {"1": "st", "2": "nd", "3": "rd"}.get(day[-1], "th"))
            if not self.lexical.doc_freqs(self.lexical.tokens(nth)):
                return m.group()
            return m.group().replace(day, f"{day} {nth}", 1)

        return DAY_MONTH.sub(add, text) if DAY_ORDINALS else text

    def _name_passages(self, name: str) -> int:
        """About how many passages use a name: the fewest that hold any one of its words (0 if one is unknown)."""
        terms = self.lexical.tokens(name)
        found = self.lexical.doc_freqs(terms)
        return min((found.get(t, 0) for t in terms), default=0)

    def rank(self, question: str, k: int) -> list[tuple[int, float]]:
        """(row, score) pairs, best first, for the top k passages."""
        r = self.ranking(question)
        return [(int(row), float(s)) for row, s in zip(r.rows[:k], r.score[:k])]

    def ranking(self, question: str, info: QuestionInfo | None = None) -> Ranking:
        """Every candidate passage, best first, with the scores it was ranked by.

        dense: a passage scores as a blend of its own cosine and its best sentence's.
        hybrid: alpha * that + (1 - alpha) * BM25 / (sum of the question terms' IDFs), over the
        union of both retrievers' top candidates. Scores mean the same for every question, so one
        threshold decides `found`. Chat filler is stripped first; metadata questions favour a
        document's header and signature, and typed questions (who, when, how many) passages that
        hold a name, a date or a number.
        """
        info = info or analyse(question)
        text = self.respell(info.text)
        if text != info.text and not (info.meta and info.answer_type):  # "who sined it" asks who signed it
            info = replace(info, meta=info.meta or meta_type(text), answer_type=info.answer_type or answer_type(text))
        n = len(self.passages)
        empty = np.zeros(0, dtype=np.float32)
        if n == 0:
            return Ranking(np.zeros(0, dtype=np.int64), empty, None, None, None, None, info)
        m = min(CANDIDATES, n)
        q = cos = sent = lex_c = None
        lexical = None
        if self.mode == "hybrid" and n >= PARALLEL_LEXICAL:
            try:
                lexical = _worker().submit(self.lexical.candidates, text)
            except RuntimeError:  # the interpreter is shutting down: in line
                pass
        if self.mode != "bm25":
            q = np.asarray(self.encoder.encode_query(text), dtype=np.float32)
            dense_rows = self.index.search(q, m)
        if self.mode == "dense":
            cand = dense_rows.astype(np.int64)
            cos, sent = self._dense_parts(cand, q)
            score = self._blend(cos, sent)
        else:
            # only passages that share a term, rows ascending: the best m and the dense candidates, scored exactly
            # not started yet (the pool busy with other questions' BM25): in line instead of waiting
            found = lexical.result() if lexical is not None and not lexical.cancel() else self.lexical.candidates(text)
            lex_rows, lex = self.lexical.finish(found, dense_rows if self.mode != "bm25" else None)
            top = np.argpartition(-lex, m)[:m] if len(lex) > m else np.arange(len(lex))
            if self.mode == "bm25":
                cand = lex_rows[top].astype(np.int64)
            else:
                cand = _sorted_unique(np.concatenate([dense_rows, lex_rows[top]]).astype(np.int64))
            lex_c = _at(lex_rows, lex, cand)
            if self.mode == "bm25":
                score = lex_c
            else:
                cos, sent = self._dense_parts(cand, q)
                score = self.alpha * self._blend(cos, sent) + (1 - self.alpha) * lex_c
        bonus, typed = self._bonus(cand, score, info, text if self.mode == "hybrid" else None)
        score = np.asarray(score, dtype=np.float32) + bonus
        order = np.argsort(-score, kind="stable")
        if RERANK and self.mode == "hybrid" and len(order) > 1 and info.script not in ("cyrillic", "hangul"):
            order, score = self._rerank(cand, score, cos, sent, lex_c, order, info, q, text, typed)
        fused_first = int(order[0]) if len(order) else -1
        if REASON_DEPTH and asks_reason(info.text) and len(order) > 1:
            order, score = _promote(order, score, self._reason_first(cand, order))
        if ATTENDANCE_DEPTH and info.answer_type == "attendance" and len(order) > 1:
            order, score = _promote(order, score, self._attendance_first(cand, order, info.text))
        if SEQUENCE_DEPTH and len(order) > 1 and (after := _AFTER.search(info.text)):
            order, score = _promote(order, score, self._next_first(cand, order, after.group(1)))
        if EXPANSION_DEPTH and len(order) > 1 and (short := asks_expansion(info.text)):
            top = self.passages_at(cand[order[:EXPANSION_DEPTH]])
            order, score = _promote(order, score, _first_holding(top, lambda t: spells_out(t, short)))
        if DEFINITION_DEPTH and len(order) > 1 and _ASKS_WHAT.match(info.text):
            order, score = _promote(order, score, self._definition_at(cand, order, text))
        role = ""
        if ROLE_DEPTH and len(order) and (who := asks_role(info.text)):
            j = self._role_at(cand, order, who)
            order, score = _promote(order, score, j)
            role = who if j is not None else ""
        if YEAR_DOCUMENT and len(order) > 1 and (year := named_year(text)):
            order, score = _promote(order, score, self._year_document_at(cand, order, year, info.meta))
        named = None
        if TITLED_DOCUMENT and len(order):
            order, score, named = self._titled_document_first(cand, score, order, info, text)
        if info.meta and TITLE_PAGE and len(order):
            order, score = self._title_page_first(cand, score, order, info.meta)
        part = document_part(info.text) if DOCUMENT_PARTS and not info.meta and len(order) else ""
        if part:
            order, score, part, named = self._document_part_first(cand, score, order, part, text)
        if CONTACTS_NEED_SHAPES and not info.meta and len(order) > 1 and (kind := asks_contact(info.text)):
            order, score = _promote(order, score, self._contact_at(cand, order, kind))
        pick = (lambda a: None if a is None else a[order])
        titled = named is not None and self.passages[int(cand[order[0]])].source == named
        return Ranking(cand[order], score[order], pick(cos), pick(sent), pick(lex_c), q, info, part=part, titled=titled,
                       role=role, moved=bool(len(order)) and int(order[0]) != fused_first)

    def _year_document_at(self, cand: np.ndarray, order: np.ndarray, year: str, meta: str) -> int | None:
        """For a question about "the 2020 welcome word" whose first passage is from a document of another
        year: the position of the best-ranked of the top BONUS_DEPTH passages from a document of that year
        (dated so, or undated and saying it in its first or last passages or a candidate passage), the one
        carrying the metadata asked for when there is one; else None."""
        top = self.passages_at(cand[order[:BONUS_DEPTH]])
        known: dict[str, bool] = {}
        term = self.lexical.tokens(year)

        def of_year(p: Passage) -> bool:
            if p.source not in known:
                mine = [q for q in top if q.source == p.source]
                ends = self.index.ends_of(p.source) if hasattr(self.index, "ends_of") else []
                known[p.source] = _of_year(mine + ends, year)
                if not known[p.source] and term and not any(q.date for q in mine + ends) and hasattr(self.index, "rows_of"):
                    # undated: does any of its passages say the year? (its rows' BM25 postings, no text read;
                    # a document of more than YEAR_ROWS passages is not read: in a long one any year turns up)
                    rows = self.index.rows_of(p.source, YEAR_ROWS + 1)
                    known[p.source] = len(rows) <= YEAR_ROWS and bool(self.lexical.presence(term, rows).any())
            return known[p.source]

        if of_year(top[0]):
            return None
        mine = [j for j, p in enumerate(top) if of_year(p)]
        if not mine:
            return None
        fits = [j for j in mine if meta and meta_fits(top[j], meta)]
        return (fits or mine)[0]

    def _contact_at(self, cand: np.ndarray, order: np.ndarray, kind: str) -> int | None:
        """For "fedramp PMO contact email": when the first passage holds no contact of the kind asked (an e-mail
        address) and another of the top three does ("... contact info@FedRAMP.gov"), its position; else None."""
        shape = CONTACT_SHAPES[kind]
        top = self.passages_at(cand[order[:3]])
        if shape.search(top[0].text):
            return None
        return next((j for j, p in enumerate(top) if shape.search(p.text)), None)

    def _definition_at(self, cand: np.ndarray, order: np.ndarray, text: str) -> int | None:
        """For "what is X (responsible for)?": the position of the first of the top DEFINITION_DEPTH passages
        that opens by defining X ("Policy administrator (PA): This component is responsible for ..."), when
        a passage ranked above it does not; else None."""
        subject = _ASKS_WHAT.match(text)
        asked = set(self.lexical.tokens(subject["subject"])) if subject and subject["subject"] else set()
        if not asked:
            return None
        for j, p in enumerate(self.passages_at(cand[order[:DEFINITION_DEPTH]])):
            for start in _ITEM_START.finditer(p.text):
                m = _DEFINES.match(p.text, start.end())
                if m is None:
                    continue
                head = set(self.lexical.tokens(m["head"]))
                abbr = set(self.lexical.tokens(m["paren"])) if m["paren"] and " " not in m["paren"] else set()
                # all of the head, and all but at most one word of the subject ("policy engine responsable"),
                # or the subject is the abbreviation it is defined with ("what is the PA responsible for")
                if ((len(head) >= 2 or abbr) and head <= asked and len(asked - head) <= 1) or (abbr and abbr == asked):
                    return j if j > 0 else None
        return None

    def _role_at(self, cand: np.ndarray, order: np.ndarray, who: str) -> int | None:
        """For a question about `who`'s office: the position of the first of the top ROLE_DEPTH passages
        that names them with one, in its text or its byline ("Im Chon Il, Vice-Minister for ..."); else None."""
        top = self.passages_at(cand[order[:ROLE_DEPTH]])
        return next((j for j, p in enumerate(top) if _names_office(p, who)), None)

    def _reason_first(self, cand: np.ndarray, order: np.ndarray) -> int | None:
        """For a why-question: the position of the best of the top REASON_DEPTH passages that gives a
        reason ("in order to", "because", "thanks to") when the first gives none, to go first; else None."""
        return _first_holding(self.passages_at(cand[order[:REASON_DEPTH]]), REASON.search)

    def _attendance_first(self, cand: np.ndarray, order: np.ndarray, question: str) -> int | None:
        """For "who was invited to the reception": the position of the best of the top ATTENDANCE_DEPTH
        passages that says who was there ("Invited to the reception were ...", "Present there were ...") at
        an event the question names, in it or in the paragraph before it (one that says it as the question does,
        "invited", when there is one), when the first is not that one, to go first; else None."""
        events = {m.group().rstrip("s") for m in EVENT.finditer(question.lower())}
        if not events:
            return None
        rows = [int(row) for row in cand[order[:ATTENDANCE_DEPTH]]]

        def at_event(j: int, p: Passage) -> bool:
            if not ATTENDANCE.search(p.text):
                return False
            before = self.passages_at([rows[j] - 1]) if rows[j] > 0 else []
            nearby = p.text + "".join(f" {b.text}" for b in before if b.source == p.source)
            return any(m.group().rstrip("s") in events for m in EVENT.finditer(nearby.lower()))

        def says(text: str) -> set[str]:  # "was present at" and "Present there were": present; "invited"
            return {w[:5] for m in ATTENDANCE.finditer(text) for w in m.group().lower().split()} - _ATTENDANCE_FILLER

        # "who got invited": "Invited to the reception were ..." before "Present there were staff members ..."
        top = self.passages_at(rows)
        said = says(question)
        fits = [j for j, p in enumerate(top) if at_event(j, p)]
        same = [j for j in fits if said & says(top[j].text)]
        best = (same or fits or [None])[0]
        return None if best == 0 else best

    def _next_first(self, cand: np.ndarray, order: np.ndarray, before: str) -> int | None:
        """"Who spoke after the ambassador?": when one of the top SEQUENCE_DEPTH passages is about what came
        before (it holds `before`), the position of one of the top SEQUENCE_DEPTH that opens with "Next," /
        "Then," / "After that", to go first; else of a candidate that opens so among the
        SEQUENCE_AHEAD paragraphs after any of the top SEQUENCE_DEPTH that holds `before`; else None."""
        top = self.passages_at(cand[order[:SEQUENCE_DEPTH]])
        terms = set(self.lexical.tokens(self.respell(before)))
        if not any(terms & set(self.lexical.tokens(p.text)) for p in top):
            return None  # (the first may be what was said then: "He said ...", after "Ambassador X made a speech")
        j = _first_holding(top, _NEXT.match)
        if j is not None or _NEXT.match(top[0].text):
            return j
        # none near the top: one of the next few paragraphs after a top passage about what came before
        # (the reception, then the ambassador's speech at it) that opens so and is a candidate
        for i, first in enumerate(top):
            if i and not terms & set(self.lexical.tokens(first.text)):
                continue
            row = int(cand[order[i]])
            later = np.arange(row + 1, min(row + 1 + SEQUENCE_AHEAD, len(self.passages)))
            for r, p in zip(later, self.passages_at(later)):
                if p.source != first.source or p.line_start <= first.line_start:
                    break
                if _NEXT.match(p.text):
                    at = np.flatnonzero(cand[order] == r)
                    if len(at):
                        return int(at[0])
                    break  # the paragraph that came next is no candidate: try the next top passage
        return None

    def _titled_document_first(self, cand: np.ndarray, score: np.ndarray, order: np.ndarray, info: QuestionInfo,
                               text: str):
        """A question that names a document by its title ("who signed the press statement", "which
        ministry does Im Chon Il work for" over "Press Statement by Im Chon Il, Vice-Minister ...")
        is answered from that document: among the top candidates, the document whose title holds
        most of the question's topic terms (IDF-weighted, at least half, clearly more than the top
        passage's document) goes first, with its passage that carries the field asked for (its
        header or signature) when it has one, else its best-ranked one. That passage takes the top
        score, at least the floor. Only a metadata question's title terms may occur in the passages'
        text too: for any other question those name what it asks about (a claim and a paper's title
        share most words), not the document. Returns the order, the scores and the document named
        (None when none is)."""
        from .verdict import part_word_terms, question_word_terms, text_terms

        top = order[:BONUS_DEPTH]
        passages = self.passages_at(cand[top])
        titles: dict[str, str | None] = {}
        for p in passages:
            titles.setdefault(p.source, p.title)
        # where the field stands ("at the bottom", "the closing line") is not the document's topic either
        skip = question_word_terms(self) | part_word_terms(self)
        cover = self._title_cover(titles, text, skip)
        if not info.meta and cover and max(cover.values()) >= 0.5:
            # any other question names a document by words only its title holds ("Im Chon Il" heads his press
            # statement): words the passages hold too are what it asks about (a claim and a paper's title share
            # them). Read only when some title could name it (most questions stop above: a few ms at 1M).
            said = frozenset().union(*(text_terms(self, int(cand[i]), p) for i, p in zip(top, passages)
                                       if cover.get(p.source, 0.0) >= 0.5))
            cover = self._title_cover(titles, text, skip, said)
        if not cover:
            return order, score, None
        best = max(cover, key=lambda s: cover[s])  # ties: the best-ranked document (dicts keep order)
        if cover[best] < 0.5 or (best != passages[0].source and cover[best] < cover[passages[0].source] + 0.2):
            return order, score, None
        mine = [j for j, p in enumerate(passages) if p.source == best]
        fits = [j for j in mine if meta_fits(passages[j], info.meta)]
        if info.meta == "author":  # every passage shows the author: the signature line itself first
            fits.sort(key=lambda j: getattr(passages[j], "kind", "text") != "signature")
        j = fits[0] if fits else mine[0]
        if not info.meta and self._asks_beyond(text, skip, titles[best], int(cand[top[j]]), passages[j]):
            return order, score, None
        score = score.copy()
        score[top[j]] = max(float(score[order[0]]), self.threshold)
        return np.concatenate([[top[j]], np.delete(order, j)]), score, best

    def _asks_beyond(self, text: str, skip: frozenset[str], title: str | None, row: int, p: Passage) -> bool:
        """Whether a question naming a document asks about something neither its title nor the passage
        chosen holds ("Is Im Chon Il married?": more than ASKS_BEYOND of its topic terms' IDF)."""
        from .verdict import text_terms

        lex = self.lexical
        terms = [t for t in dict.fromkeys(lex.tokens(text)) if t not in skip]
        if not terms:
            return False
        held = set(lex.tokens(title or "")) | text_terms(self, row, p)
        weights = lex.term_idfs(terms)
        missing = sum(w for t, w in zip(terms, weights) if t not in held)
        return missing > ASKS_BEYOND * sum(weights)

    def _rerank(self, cand, score, cos, sent, lex, order, info: QuestionInfo, q, text: str, typed):
        """The top candidates re-ordered by the re-ranking model (when one is installed). Scores are
        handed out again in descending order, so the best score (and the `none` threshold on it)
        is unchanged and a ranking's scores still fall; cos, sent and lex stay with their rows."""
        from . import rerank

        new = rerank.reorder(self, cand[order], score[order], cos[order], sent[order], lex[order], info, q, text,
                             typed[order] if info.answer_type else np.zeros(len(order), dtype=bool))
        if new is None:
            return order, score
        k = len(new)
        ranked = score[order[:k]].copy()
        order = np.concatenate([order[:k][new], order[k:]])
        score = score.copy()
        score[order[:k]] = ranked
        return order, score

    def _title_page_first(self, cand: np.ndarray, score: np.ndarray, order: np.ndarray, meta: str):
        """For "who wrote it" / "when was it published": when the best passage does not carry the
        author or date, its document's opening passage (title page, byline, dateline) goes first
        if it is a candidate and holds a name or a date; for "which outlet published it", its
        publisher line ("More From Voice of Korea"); for "what is it called", its header (a site
        name above the page's own title). Returns the new order and scores."""
        top = self.passages[int(cand[order[0]])]
        if top.kind == "header" if meta == "title" else has_meta_field(top, meta):
            return order, score
        depth = len(order) if meta in ("publisher", "copyright") else BONUS_DEPTH  # such a line shares no words with the question
        rest = order[1:depth]
        for j, (i, p) in enumerate(zip(rest, self.passages_at(cand[rest])), start=1):
            if p.source == top.source and carries_field(p, meta):
                score = score.copy()
                score[i] = score[order[0]]
                return np.concatenate([[i], np.delete(order, j)]), score
        return order, score

    def _title_cover(self, titles: dict[str, str | None], text: str, skip: frozenset[str],
                     said: frozenset[str] = frozenset()) -> dict[str, float]:
        """For each document (source -> title), the IDF-weighted share of the question's topic terms
        (its BM25 terms less `skip`) that its title holds; empty when the question has none. A year
        naming the document ("the 2019 welcome word") and a noun saying what kind of document it is
        ("the welcome message") count only when some title holds them ("Annual Report 2020" against
        "Annual Report 2019"); otherwise they name it by its date or its kind, not its title."""
        from .verdict import document_noun_terms

        lex = self.lexical
        terms = [t for t in dict.fromkeys(lex.tokens(text)) if t not in skip]
        held = {source: self._title_terms(source, title) - said for source, title in titles.items()}
        generic = document_noun_terms(self) | {named_year(text)}
        terms = [t for t in terms if t not in generic or any(t in have for have in held.values())]
        if not terms:
            return {}
        weights = dict(zip(terms, lex.term_idfs(terms)))
        total = sum(weights.values()) or 1.0
        return {source: sum(w for t, w in weights.items() if t in have) / total for source, have in held.items()}

    def _title_terms(self, source: str, title: str | None) -> frozenset[str]:
        """A document's title as BM25 terms, kept per document (a retriever serves one generation)."""
        memo = self.__dict__.setdefault("_titles_memo", {})
        found = memo.get((source, title))
        if found is None:
            if len(memo) >= 100_000:
                memo.clear()
            found = memo[(source, title)] = frozenset(self.lexical.tokens(title or ""))
        return found

    def _named_by_title(self, titles: dict[str, str | None], text: str) -> str | None:
        """The first document (of `titles`, source -> title, best first) whose title holds at least
        half the question's topic terms (question and part words left out), or None."""
        from .verdict import part_word_terms, question_word_terms

        cover = self._title_cover(titles, text, question_word_terms(self) | part_word_terms(self))
        return next((source for source, share in cover.items() if share >= 0.5), None)

    def _document_part_first(self, cand: np.ndarray, score: np.ndarray, order: np.ndarray, part: str, text: str):
        """For "how does the letter open / end": the first body passage (its salutation) or the last
        two passages (the sign-off, then the paragraph before it; a signature that is only a name
        or a copyright line goes second) of a document among the candidates go first, with the top
        score (at least the floor for a document named by its title). The document is the one the
        question names by title, else the best-ranked one that reads as a letter (opens with a
        salutation / ends with a signature), else the top passage's. A letter of the year the question
        names ("the 2020 welcome letter": dated 2020, or undated and saying 2020) goes before a title
        match of another year. Returns the order, the scores, the part placed ("" when nothing moved)
        and the document named (None when none is)."""
        docs: dict[str, list[tuple[int, Passage]]] = {}
        for j, p in enumerate(self.passages_at(cand[order])):
            if getattr(p, "kind", "text") not in ("navigation", "header"):
                docs.setdefault(p.source, []).append((j, p))
        if not docs:
            return order, score, "", None

        def parts(mine: list[tuple[int, Passage]]) -> list[int]:
            if part == "opening":
                body = [(p.line_start, j) for j, p in mine if getattr(p, "kind", "text") == "text"]
                return [min(body)[1]] if body else []
            last = [j for _, j in sorted(((p.line_start, j) for j, p in mine), reverse=True)[:2]]
            return last[::-1] if len(last) == 2 and _bare_signature(dict(mine)[last[0]]) else last

        def letter(mine: list[tuple[int, Passage]], picked: list[int]) -> bool:
            first = dict(mine)[picked[0]] if picked else None
            if first is None:
                return False
            if part == "opening":
                return bool(SALUTATION.match(first.text))
            return any(getattr(p, "kind", "text") == "signature" for _, p in mine)

        ranked = list(docs)  # in the order of each document's best candidate
        near = [s for s in ranked if docs[s][0][0] < BONUS_DEPTH]
        named = self._named_by_title({s: docs[s][0][1].title for s in near}, text)  # "how does the press statement begin"
        letters = [s for s in near if letter(docs[s], parts(docs[s]))]
        year = named_year(text)  # "the 2020 welcome letter": the letter dated 2020, or an undated one that speaks of it
        if year and not (named and _of_year([p for _, p in docs[named]], year)):
            named = next((s for s in letters if _of_year([p for _, p in docs[s]], year)), None) or named
        source = named or (letters or ranked)[0]
        picked = parts(docs[source])
        if not picked:
            return order, score, "", None
        score = score.copy()
        best = max(float(score[order[0]]), self.threshold) if named else float(score[order[0]])
        for j in picked:
            score[order[j]] = best
        moved = order[picked]
        return np.concatenate([moved, np.delete(order, picked)]), score, part, named

    def _bonus(self, cand: np.ndarray, score: np.ndarray, info: QuestionInfo,
               text: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Small additive changes among the top candidates: answer type present, document metadata,
        navigation lists (a table of contents points at the answer; it does not hold it), the person
        a "He said ..." paragraph continues (with the question `text`). Also returns which candidates
        hold what a typed question asks for (for the re-ranker)."""
        bonus = np.zeros(len(cand), dtype=np.float32)
        typed = np.zeros(len(cand), dtype=bool)
        top = np.argsort(-score, kind="stable")[:BONUS_DEPTH]
        passages = self.passages_at(cand[top])
        idf: dict[str, float] | None = None  # the question's term weights, once a "He said" paragraph needs them
        year = named_year(info.text) if YEAR_BONUS else ""
        months = {m.lower() for m in MONTH_NAME.findall(info.text)} if MONTH_BONUS else set()
        for i, p in zip(top, passages):
            if year and p.date and re.search(rf"\b{year}\b", p.date):
                bonus[i] += YEAR_BONUS
            if months and months & {m.lower() for m in MONTH_NAME.findall(p.text)}:
                bonus[i] += MONTH_BONUS  # "officials who went to Russia from September": "... and from September, the Chairman ..."
            if CONTEXT_WEIGHT and text and _CONTINUES.match(p.text):
                if idf is None:
                    terms = list(dict.fromkeys(self.lexical.tokens(text)))
                    idf = dict(zip(terms, self.lexical.term_idfs(terms)))
                bonus[i] += CONTEXT_WEIGHT * (1 - self.alpha) * self._context_share(int(cand[i]), p, idf)
            if NAV_PENALTY and getattr(p, "kind", "text") == "navigation" and len(p.text.split()) < NAV_ITEM_WORDS:
                bonus[i] -= NAV_PENALTY
            if info.answer_type and has_type(p.text, info.answer_type, info.text, self.is_rare):
                typed[i] = True
                bonus[i] += TYPE_BONUS
            if info.meta and META_BONUS and meta_fits(p, info.meta):
                bonus[i] += META_BONUS
        return bonus, typed

    def _context_share(self, row: int, p: Passage, idf: dict[str, float]) -> float:
        """The share of the question's IDF (`idf`: term -> weight) held by the paragraph a "He/She ..."
        paragraph continues (the nearest earlier one of the same document that does not open so) and not by it."""
        extra = self._context_terms(row, p)
        total = sum(idf.values())
        return sum(w for t, w in idf.items() if t in extra) / total if total and extra else 0.0

    def _context_terms(self, row: int, p: Passage) -> frozenset[str]:
        """For a "He/She ..." paragraph, the terms of the paragraph it continues (the nearest earlier one
        of the same document that does not open so) that it lacks: whom "She" means. Else empty."""
        from .verdict import passage_terms

        back = self.continued(row, p)
        return frozenset() if back is None else passage_terms(self, back) - passage_terms(self, row)

    def continued(self, row: int, p: Passage) -> int | None:
        """For a "He/She ..." paragraph, the row of the paragraph it continues (the nearest earlier one of the
        same document that does not open so, among the five before it): who "She" is. Else None."""
        if not _CONTINUES.match(p.text):
            return None
        earlier = list(range(row - 1, max(row - 6, -1), -1))
        for back, before in zip(earlier, self.passages_at(earlier)):  # one query for the five rows before it
            if before.source != p.source or before.line_start >= p.line_start:
                return None
            if not _CONTINUES.match(before.text):
                return back
        return None

    def passages_at(self, rows) -> list[Passage]:
        """The passages of several rows, in that order (one SQLite query for a stored index)."""
        rows = [int(r) for r in rows]
        many = getattr(self.passages, "many", None)
        return many(rows) if many else [self.passages[r] for r in rows]

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        return self.index.row_vectors(rows)

    def _sentence_sims(self, rows: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Cosine of every sentence of the given passages, and each passage's segment start."""
        sv = self.index.sentence_vectors
        if sv is None or len(rows) == 0:
            return None
        offsets = self.index.sentence_offsets()
        starts, counts = offsets[rows], self.index.sentence_counts[rows]
        idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
        sims = np.asarray(sv[idx], dtype=np.float32) @ q
        return sims, np.cumsum(counts) - counts

    def _dense_parts(self, rows: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each passage's cosine and its best sentence's cosine (the passage's own without sentences)."""
        cos = self._vectors(rows) @ q
        found = self._sentence_sims(rows, q)
        if found is None:
            return cos, cos
        sims, segments = found
        return cos, np.maximum.reduceat(sims, segments)

    @staticmethod
    def _blend(cos: np.ndarray, sent: np.ndarray) -> np.ndarray:
        return (1 - SENTENCE_WEIGHT) * cos + SENTENCE_WEIGHT * sent

    def dense_scores(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Blend of each passage's cosine with its best sentence's cosine."""
        return self._blend(*self._dense_parts(rows, q))

    def judge(self, r: Ranking) -> tuple[str, float]:
        """The verdict for a ranking, and the answerability probability behind it (1.0 without a model)."""
        if r.role and self.mode == "hybrid" and r.score[0] >= ROLE_FLOOR * self.threshold:
            if _names_office(self.passages[int(r.rows[0])], r.role):
                return "answered", 1.0  # the person asked about, named with an office, a little under the floor
        if len(r.rows) == 0 or r.score[0] < self.threshold:
            return "none", 0.0
        if self.mode != "hybrid" or r.cos is None or not self.use_verdict_model:
            return "answered", 1.0
        from . import verdict

        if r.part and (r.titled or verdict.document_holds_topic(r, self)):
            return "answered", 1.0  # the start or end of a document the question is about, as asked
        if OFF_TOPIC_GUARD and not r.titled and verdict.off_topic(r, self) and not self._field_of_named(r):
            return "none", 0.0  # (a document it names by title is its topic)
        if any(globals()[flag] and getattr(verdict, check)(r, self) for flag, check in _RELATED_CHECKS):
            return "related", 0.0  # the kind of answer the question wants is in none of the top passages
        if HEADERS_SAY_LITTLE and not r.info.meta and verdict.header_says_little(r, self):
            return "related", 0.0  # "Is Im Chon Il married?" over his byline: it names him, it does not say
        contact = verdict.contact_found(r, self) if CONTACTS_NEED_SHAPES else None
        if contact is False:
            return "related", 0.0
        if contact:
            return "answered", 1.0  # the e-mail address or @handle asked for, in the first passage
        first = self.passages[int(r.rows[0])]
        if r.info.meta and META_ANSWERS and (has_meta_field(first, r.info.meta)
                                             or (TITLE_PAGE and title_page_fits(first, r.info.meta))):
            return "answered", 1.0  # the answer is the metadata shown with the passage (title, date, author)
        if r.info.meta == "author" and r.titled and not any(_names_its_author(p) for p in self.index.ends_of(first.source)):
            return "related", 0.0  # the document it names (by title or year) records no author: shown, not claimed
        if (r.info.meta == "date" and UNDATED_DOCUMENTS
                and not any(p.date or DATE.search(p.text) for p in self.passages_at(r.rows[:3]))):
            return "related", 0.0  # "when was the guide first published?" over pages that carry no date at all
        if verdict.far_in_meaning(r):
            return "none", 0.0
        model = verdict.default_model()
        if model is None:
            return "answered", 1.0
        feats = verdict.features(r, 0, self)
        p = model.probability(feats)
        return ("answered" if p >= model.threshold else "related"), p

    def _field_of_named(self, r: Ranking) -> bool:
        """A metadata question whose first passage is the field line it asks for (a copyright line, a signature,
        a header) in a document that holds most of what the question says of it ("the copyright notice at the
        bottom of the 2023 friendship article"): the answer, however little it says in words."""
        from . import verdict

        return bool(r.info.meta) and meta_fits(self.passages[int(r.rows[0])], r.info.meta) and verdict.document_holds_topic(r, self)

    def decide(self, q: str) -> tuple[Ranking, str, str | None]:
        """Rank a cleaned question and judge it: (ranking, verdict, hint for the user or None).

        A Russian or Korean question is ranked by multilingual-e5 when the extra is installed;
        without it, it gets a hint that the index answers English.
        """
        info = analyse(q)
        if info.script in ("cyrillic", "hangul"):
            from . import multilingual

            if not multilingual.covers(len(self.passages)):
                r = self.ranking(q, info)
                hint = multilingual.too_large_hint(len(self.passages)) if multilingual.available() else multilingual.HINT
                return r, self.judge(r)[0], hint
            r = self.ranking(q, info)
            found = multilingual.rerank(self, r, q) if len(self.passages) else r
            if found is None:  # its vectors are being prepared in the background
                return r, self.judge(r)[0], multilingual.preparing() or multilingual.HINT
            return found, multilingual.verdict(found, self, q), None
        r = self.ranking(q, info)
        return r, self.judge(r)[0], None

    def ask(self, question: str, k: int = 3, offset: int = 0) -> Answer:
        """Answer a question with the passages ranked offset+1 .. offset+k, and a verdict."""
        q = clean_question(question)
        if k < 1:
            raise QaBotError("k must be at least 1")
        r, verdict_, hint = self.decide(q)
        if verdict_ == "none":
            return Answer(query=q, found=False, verdict="none", hint=hint)
        shown = [(int(row), float(s)) for row, s in zip(r.rows[offset : offset + k], r.score[offset : offset + k])]
        highlights = self.highlights(q, [row for row, _ in shown], r.qvec)
        hits = [
            Hit(rank=offset + i + 1, score=score, passage=self.passages[row], highlight=hl)
            for i, ((row, score), hl) in enumerate(zip(shown, highlights))
        ]
        return Answer(query=q, found=verdict_ == "answered", hits=hits, verdict=verdict_, hint=hint)

    def highlights(self, question: str, rows: list[int], q: np.ndarray | None = None) -> list[str]:
        """For each passage, the sentence closest in meaning to the question (an exact substring)."""
        passages = self.passages_at(rows)
        split = [split_sentences(p.text) for p in passages]
        if all(len(parts) <= 1 for parts in split):
            return [p.text for p in passages]
        if q is None:
            q = np.asarray(self.encoder.encode_query(question), dtype=np.float32)
        found = self._sentence_sims(np.asarray(rows, dtype=np.int64), q)
        counts = [len(parts) for parts in split]
        if found is None or len(found[0]) != sum(counts):
            flat = [s for parts in split for s in parts]
            sims = self.encoder.encode(flat) @ q
        else:
            sims = found[0]
        out, i = [], 0
        for p, parts in zip(passages, split):
            out.append(parts[int(np.argmax(sims[i : i + len(parts)]))] if len(parts) > 1 else p.text)
            i += len(parts)
        return out

    def neighbours(self, passage: Passage, before: int = 1, after: int = 1) -> list[Passage]:
        """Passages around `passage` in its document, in order (for 'Context')."""
        return self.index.neighbours(passage, before, after)
