"""Reading a question before it is scored: chat filler, question type, script, misspelt terms.

Pure text rules (no model): what the question asks for (a person, a date, a number, a place, or
the document's own author, date or title) feeds ranking and the answered/related verdict.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Callable

from .errors import QaBotError

MAX_QUESTION_CHARS = 1000


def clean_question(question: str) -> str:
    """Strip control characters and collapse whitespace; refuse empty and over-long questions.

    Undecodable bytes (lone surrogates from argv or a bad line) become U+FFFD, so any string is safe to encode.
    """
    q = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", " ", question or "")
    q = re.sub(r"[\ud800-\udfff]", "\ufffd", q)
    q = " ".join(q.split())
    if not q:
        raise QaBotError("empty question: type a question about the documents")
    if len(q) > MAX_QUESTION_CHARS:
        raise QaBotError(f"question too long ({len(q)} characters; the limit is {MAX_QUESTION_CHARS})")
    return q


_FILLER_START = re.compile(
    r"^(?:(?:hey|hi|hello|heya|yo|ok|okay|so|um+|uh+|well|btw|pls|please|quick question|question|hmm+|ah|oh)"
    r"\b[\s,!.:;-]*"
    r"|(?:can|could|would) you (?:please )?(?:tell|show|remind) me\b[\s,:]*"
    r"|(?:do|does) (?:you|anyone|any1) (?:know|remember)\b[\s,:]*"
    r"|(?:i (?:want|need|would like|'d like) to know|i(?:'m| am)? (?:wondering|wonder|curious)(?: about)?|tell me|any idea|i forgot)\b[\s,:]*"
    r"|(?:if|whether)\b\s*)",
    re.IGNORECASE,
)
# one flat repetition: the nested one it replaces took seconds to minutes on "who is he" + "?" * 24 + "a"
_FILLER_END = re.compile(r"(?:[\s,?!.]|\b(?:thanks|thank you|thx|ty|pls|please|lol)\b)+$", re.IGNORECASE)


def _without_filler(text: str, tail: int = 200) -> str:
    """`text` without the chat filler and punctuation it ends with ("?? thx"), looked for in its last `tail`
    characters only (the pattern's search from every position is quadratic on a long run of "?")."""
    m = _FILLER_END.search(text, max(0, len(text) - tail))
    return text[:m.start()] if m else text


_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")

_META_AUTHOR = re.compile(
    r"\b(?:who\b.{0,40}\b(?:wrote|write|written|signed|sign|issued|issue|authored|published|released|posted|sent)\b"
    r"|author|signator|signed by|written by|issued by|byline|who is it from|whose (?:letter|statement|message|article))",
    re.IGNORECASE,
)
# "which ministry does the press statement come from", "what organisation issued it": an author question
# only when it names the document (_NAMES_DOCUMENT), not "which embassy sent the medals to the veterans".
_META_AUTHOR_BODY = re.compile(
    r"\b(?:which|what) (?:ministry|department|office|organi[sz]ation|body|institution|government|embassy)\b.{0,60}"
    r"\b(?:issued|issues|released|wrote|sent|signed|from\s*+[?.!]*+\s*+$)",
    re.IGNORECASE,
)
_META_DATE = re.compile(
    r"\b(?:when|what date|which date|what day|date)\b.{0,60}\b(?:published|written|posted|issued|released|dated|date[d]?|came out|appear(?:ed)?)\b"
    r"|\bwhere\b.{0,60}\bdated\b|\bdateline\b"  # a dateline holds the place and the date
    # a web page's notice: "when was the Wikipedia article on Mozilla last modified" (not "when were the rules last changed")
    r"|\b(?:when|what date|which date|what day)\b.{0,60}\b(?:page|article|document|site|website|post|entry|it|this)\b"
    r".{0,60}\blast (?:modified|edited|updated)\b"
    r"|\bwhat(?:'s| is) the date (?:on|of)\b|\bwhat date is (?:on|of)\b",
    re.IGNORECASE,
)
_META_TITLE = re.compile(
    r"\b(?:title|headline|what(?:'s| is) (?:it|this|the (?:[\w'-]+ )?(?:article|document|page|statement|report|letter|text|file"
    r"|paper|post|chapter|book|guide|speech|word|message|publication|standard))(?: \w+)? (?:called|named|titled))\b",
    re.IGNORECASE,
)
# "what is the ambassador's greeting on the embassy site called": a longer "what is ... called" that
# names a document (not "what is a matrix equal to its transpose called", a term). The document noun
# heads what is asked about, within three words and before any preposition: "what is the treaty
# mentioned in the article called" asks for the treaty's name, not the article's title.
_META_TITLE_LONG = re.compile(
    r"\bwhat(?:'s| is| was)\s+(?:(?:the|this|that|his|her|its|their|our|your)\s+)?"
    r"(?:(?!(?:in|on|of|at|by|from|about|for|with|to|into|near|that|which|who|where)\b)[\w'’-]+\s+){0,3}?"
    r"(?:page|site|website|article|document|statement|report|letter|post|piece|speech|message"
    r"|greeting|publication|story|item)s?\b.{0,80}\b(?:called|named|titled)\s*+[?.!]*+\s*+$", re.IGNORECASE)

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
# ... where "may" counts only as "May": in lower case it is the verb ("level 1 may not be enough")
_CASED_MONTH = (r"(?:(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
                r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)|May)")
# "12 October", "12 of October", "October 12" (not "October 12:30" nor a version): a day of a month, as a question writes it
DAY_MONTH = re.compile(rf"(?<![\w.,])(?P<day>[1-9]|[12]\d|3[01])\s+(?i:of\s+)?{_CASED_MONTH}\b"
                       rf"|\b{_CASED_MONTH}\s+(?P<after>[1-9]|[12]\d|3[01])\b(?![\d:.])")
DATE = re.compile(rf"\b(?:{_MONTH}\.? \d{{1,2}}\b|\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}\b|(?:1[6-9]|20)\d\d\b|\d{{4}}-\d\d-\d\d)"
                  r"|\b(?:yesterday|today|last (?:week|month|year)|in the (?:\d0s|century))\b", re.IGNORECASE)
# a day of the month by itself, as dated news gives it: "on the 11th", "between the 15th and the 17th"; not "on the
# 76th anniversary" (no day) or "the 3rd congress" (a noun follows)
DAY_OF_MONTH = re.compile(r"\b(?:on|since|from|until|till|by|between|and)\s+the\s+(?:[12]?\d|3[01])(?:st|nd|rd|th)\b"
                          r"(?=\s*(?:[,.;:)]|$)|\s+(?:on|in|at|of|and|to|for|as|when|with|from|by|until|this|last|next|the)\b)",
                          re.IGNORECASE)
_NUMBER_WORDS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|thousands?"
                 r"|millions?|billions?|dozens?|several|many|few|half")  # "thousands of documents" counts them
NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS}|percent)\b", re.IGNORECASE)
# A number that can be a count ("how many ..."): not a year, an ordinal, a day of a month or a measure
# ("600-millimeter", "5 km", "12%").
_MEASURE = (r"(?:milli|centi|kilo)?met(?:er|re)|kilogram|tonne|calib(?:er|re)|degree|percent|inch|feet|foot|mile|hectare"
            r"|lit(?:re|er)|(?:mm|cm|km|kg|tons?)(?![a-z])|%")
_COUNT = re.compile(rf"(?<![\d.,])\d(?:[\d,]*\d)?(?:\.\d+)?(?!\d|(?:st|nd|rd|th)\b|\s*(?:-\s*)?(?:{_MEASURE}))"
                    rf"|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_AFTER_MONTH = re.compile(rf"\b{_MONTH}\.?\s*$", re.IGNORECASE)
MEASURE_WORD = re.compile(rf"(?:{_MEASURE})(?:e?s)?", re.IGNORECASE)  # fullmatch: "how many kilometres" counts a measure
# a year: 1600-2099 (or "the 1990s") after "in", "since", "of" ..., or not followed by what it would count
_YEAR = re.compile(r"(?:1[6-9]|20)\d\d")
_BEFORE_YEAR = re.compile(r"\b(?:in|since|until|till|during|to|from|year|early|late|mid|spring|summer|autumn|fall|winter)[\s-]*$",
                          re.IGNORECASE)
_COUNTED_WORD = re.compile(r"\s+(?!(?:the|a|an|and|or|to|of|in|on|at|was|were|is|are|had|has|have|with|for|by|there|it|this"
                           r"|that|when|after|before)\b)[a-z]")


def counts(text: str) -> list[str]:
    """The numbers of a text that can count things: "600 rocket launchers", "three summits", "about
    2000 delegates"; not "in 2019", "the 1990s", "the 76th", "February 18" or "600-millimeter"."""
    out = []
    for m in _COUNT.finditer(text):
        before = text[max(0, m.start() - 12):m.start()]
        if _AFTER_MONTH.search(before):
            continue  # a day of the month
        if _YEAR.fullmatch(m.group()) and (text[m.end():m.end() + 1] == "s" or _BEFORE_YEAR.search(before)
                                            or not _COUNTED_WORD.match(text, m.end())):
            continue
        out.append(m.group())
    return out


# Two capitalised words in a row, not at the very start: a rough person-or-organisation name.
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)+\b")
PLACE_PREPOSITIONS = "in|at|to|from|near|across|into|outside|inside"
PLACE = re.compile(rf"\b(?:{PLACE_PREPOSITIONS})\s+(?:the\s+)?[A-Z][\w'-]+")


@dataclass(frozen=True)
class QuestionInfo:
    """What a question asks for: retrieval text (filler stripped), answer type, metadata type, script."""

    text: str
    answer_type: str  # "person", "date", "number", "place" or ""
    meta: str  # "author", "date", "title", "copyright" or "": a question about the document itself
    script: str  # "latin", "cyrillic", "hangul" or "other"


def strip_filler(question: str) -> str:
    """`hey so who signed it?? thanks` -> `who signed it`: chat filler off, content kept."""
    q = question.strip()
    for _ in range(6):
        new = _FILLER_START.sub("", q, count=1).strip()
        if new == q:
            break
        q = new
    q = _without_filler(q).strip()
    if "?" in question and q and not q.endswith("?"):
        q += "?"  # the embedding model was trained on questions that end with one
    if len(q) < 3:
        return question.strip()
    return q[0].upper() + q[1:] if q != question.strip() else q


def script_of(text: str) -> str:
    """The question's script: enough to tell Russian and Korean from English."""
    cyr, han, lat = len(_CYRILLIC.findall(text)), len(_HANGUL.findall(text)), len(_LATIN.findall(text))
    best = max(cyr, han, lat)
    if best == 0:
        return "other"
    if best == lat:
        return "latin"
    return "cyrillic" if cyr >= han else "hangul"


# "Why did Kim go to Russia?": a reason is what answers it; a sentence that gives one says so.
_ASKS_REASON = re.compile(r"\bwhy\b|\bfor what (?:reason|purpose)\b|\bwhat (?:was|is|were|are) the (?:reasons?|purposes?|aims?|goals?)"
                          r" (?:of|for|behind)\b|\bwhat (?:was|is) .{0,60}?\bfor\s*+\?*+$", re.IGNORECASE)
REASON = re.compile(r"\b(?:in order to|so as to|so that|because|due to|owing to|thanks to|as a result of|for the purpose of"
                    r"|with the (?:aim|purpose|goal) of|aimed at|with a view to|in a bid to)\b", re.IGNORECASE)


# "what does PDP stand for", "what is ZTA short for", "POA&M meaning", "meaning of the acronym RaRe"
_ASKS_EXPANSION = re.compile(
    r"\bwhat\s+(?:does|do|did)\s+(?:the\s+)?(?:abbreviation\s+|acronym\s+)?[\"'“‘]?(?P<a>[A-Za-z][A-Za-z&]{1,7})[\"'”’]?\s+"
    r"(?:stand\s+for|mean)\b"
    r"|\bwhat\s+is\s+(?P<b>[A-Za-z][A-Za-z&]{1,7})\s+short\s+for\b"
    r"|\b(?:meaning|expansion)\s+of\s+(?:the\s+)?(?:abbreviation\s+|acronym\s+)?(?P<c>[A-Za-z][A-Za-z&]{1,7})\b"
    r"|^\s*(?P<d>[A-Z][A-Za-z&]{1,7})\s+(?:meaning|stands?\s+for|abbreviation|acronym)\s*\??\s*$", re.IGNORECASE)
_SMALL_WORDS = frozenset("of and the for in on to a an with by from".split())


def asks_expansion(question: str) -> str | None:
    """The abbreviation a question asks to spell out ("what does PDP stand for" -> "PDP"), or None."""
    m = _ASKS_EXPANSION.search(question)
    if not m:
        return None
    word = next(g for g in m.groups() if g)
    return None if word.lower() in _SMALL_WORDS | {"it", "this", "that", "he", "she", "they", "you", "we"} else word


def _letters(abbreviation: str) -> str:
    """The letters words begin with: the capitals of a mixed-case one ("RaRe" -> "rr"), else all ("pdp")."""
    caps = [c for c in abbreviation if c.isupper()]
    mixed = any(c.islower() for c in abbreviation) and len(caps) >= 2
    return "".join(caps if mixed else [c for c in abbreviation if c.isalpha()]).lower()


def spells_out(text: str, abbreviation: str) -> bool:
    """Whether a passage spells the abbreviation out: "policy decision point (PDP)", "Ranking and
    Retraining (RaRe)", "PDP (policy decision point)": the words' first letters give its letters in order."""
    letters = _letters(abbreviation)
    if len(letters) < 2:
        return False
    for m in re.finditer(rf"\(\s*{re.escape(abbreviation)}s?\s*\)", text, re.IGNORECASE):
        words = re.findall(r"[^\W\d_][\w'’-]*", text[max(0, m.start() - 200):m.start()])[-2 * len(letters):]
        if _initials_end(words, letters):
            return True
    for m in re.finditer(rf"\b{re.escape(abbreviation)}\s*\(([^()]{{3,120}})\)", text, re.IGNORECASE):
        words = re.findall(r"[^\W\d_][\w'’-]*", m.group(1))
        if words and _initials_end(words, letters, whole=True):
            return True
    return False


def _initials_end(words: list[str], letters: str, whole: bool = False) -> bool:
    """Whether the last words (or all, `whole`), small words skipped where they do not fit, begin with `letters`."""
    for start in (range(len(words)) if not whole else [0]):
        initials = [w[0].lower() for w in words[start:]]
        i = 0
        for w, c in zip(words[start:], initials):
            if i < len(letters) and c == letters[i]:
                i += 1
            elif w.lower() not in _SMALL_WORDS:
                break
        else:
            if i == len(letters) and initials and initials[0] == letters[0]:
                return True
    return False


def asks_reason(question: str) -> bool:
    """A why-question (its answer is a reason: "in order to", "because", "thanks to")."""
    return bool(_ASKS_REASON.search(question))


# "Which North Korean officials went to Russia?": offices ("the Chairman of the Supreme People's Assembly,
# the Vice-Premier of the Cabinet ..."), which a text may give without a single name
_ASKS_OFFICES = re.compile(r"\b(?:which|what)\s+(?:[\w-]+\s+){0,3}?(?:officials|ministers|leaders|dignitaries|delegates|delegations"
                           r"|representatives|diplomats|officers)\b")


# "Who attended the reception from the Russian side?", "who came from the north korean side": who was there,
# which a report says with "present there were ...", "invited to the reception were ...", "guests"
_ASKS_ATTENDANCE = re.compile(r"\b(?:who|which\s+(?:[\w-]+\s+){0,3}?(?:people|persons?|guests?|officials?|members?|delegates?|ministers?"
                              r"|leaders?|diplomats?|representatives?|dignitar(?:y|ies)))\b.{0,60}?"
                              r"\b(?:attend\w*|(?:came|come) (?:to|from)(?! (?:power|the conclusion|terms|an? agreement|light|mind))|"
                              r"present|invited|guests?|took part in the|participated in the|showed up|turned up|was there|"
                              r"were there|(?:was|were) at)\b|\b(?:attendees|guest list)\b")
EVENT = re.compile(r"\b(?:reception|ceremony|meeting|party|banquet|event|concert|celebration|funeral|conference|dinner"
                    r"|lunch|gala|rally|parade|festival|wedding|summit|talks|forum)s?\b")  # not "service", "session"
ATTENDANCE = re.compile(r"\b(?:present\s+(?:there|at|were|was|in)|(?:were|was)\s+present|invited|attended|attending|"
                        r"guests?|participants?|took part|participated|were there|was there|joined|in attendance)\b",
                        re.IGNORECASE)  # "Present there were ...", not "the present situation"


def answer_type(question: str) -> str:
    q = question.lower()
    if _ASKS_ATTENDANCE.search(q) and EVENT.search(q):
        return "attendance"
    if re.search(r"\b(?:how (?:many|much|long|old|far|often|big|large|small|tall|high|wide|deep|heavy)|what (?:number|percentage"
                 r"|share|amount)|number of)\b", q):  # "how big is add.wasm": "87 bytes"
        return "number"
    if re.search(r"\b(?:when|what (?:year|date|day|month)|which (?:year|date|day|month)|since when)\b", q):
        return "date"
    if _ASKS_OFFICES.search(q):
        return "office"
    if re.search(r"\b(?:who|whom|whose|name of|what is the name|which (?:person|official|minister|leader|ambassador))\b", q):
        return "person"
    if re.search(r"\b(?:where|which (?:city|country|place|venue|region)|what (?:city|country|place|venue))\b", q):
        return "place"
    return ""


_META_PUBLISHER = re.compile(
    # "published by" asks for the publisher when nothing names it ("published by whom?", "was it
    # published by ...?"), not in "the article published by Reuters" (a question about something else)
    r"\bpublisher\b|\bpublished by(?:\s+(?:whom|which|what)\b|\s*[?.!]*\s*$)|\b(?:it|this)\s+(?:was\s+|first\s+)*published by\b"
    r"|\bwhere (?:was|is) (?:it|this|the (?:\w+ ){0,3}?(?:article|report|story|item|news)) (?:published|posted|from)\b",
    re.IGNORECASE)
_META_OUTLET = re.compile(
    r"\b(?:which|what|name of the)\s+(?P<news>news\s+)?(?:outlet|media|newspaper|website|broadcaster|publication"
    r"|(?P<other>agency|paper|site|station|channel|source|service))\b.{0,80}\b(?:publish\w*|carr(?:y|ies|ied)|ran|report\w*|"
    r"release\w*|posted|put out)\b",
    re.IGNORECASE)
# "Which agency / station / service reported ..." asks for an outlet only for news or the document
# itself ("which agency carried the statement", "which station ran it"), not "which agency reported the outbreak".
_DOCUMENT_ITSELF = re.compile(r"\b(?:it|this)\s*[?.!]*\s*$|\b(?:this|the)\s+(?:[\w'-]+\s+){0,3}?(?:article|report|story|item|news"
                              r"|statement|piece|post|interview|speech|letter|release|announcement|document|text|page)\b",
                              re.IGNORECASE)
_META_COPYRIGHT = re.compile(r"\b(?:copyright|rights reserved)\b|©", re.IGNORECASE)


# "the 2023 article", "his 2019 welcome letter", "the statement from 2020": a question that names a
# document by its year (the year it is dated), not a year it asks about ("what happened in 2019").
# Nouns that say what kind of document is meant, not which one: a title need not hold them.
DOCUMENT_NOUNS = ("article piece statement letter message report post speech text document story item greeting welcome "
                  "interview release announcement paper editorial column news").split()
_DOCUMENT_NOUN = "(?:" + "|".join(DOCUMENT_NOUNS) + ")"
_NAMED_YEAR = re.compile(rf"\b((?:19|20)\d\d)\s+(?:[\w'-]+\s+){{0,2}}?{_DOCUMENT_NOUN}\b"
                         rf"|\b{_DOCUMENT_NOUN}s?\s+(?:from|of|dated|written in|published in|posted in)\s+(?:\w+\s+)?((?:19|20)\d\d)\b",
                         re.IGNORECASE)


# A question that names a document ("the press statement", "it"): what _META_AUTHOR_BODY needs.
_NAMES_DOCUMENT = re.compile(rf"\b{_DOCUMENT_NOUN}s?\b|\b(?:it|this)\s*+[?.!]*+\s*+$", re.IGNORECASE)


def named_year(question: str) -> str:
    """The year a question names a document by ("according to the 2023 article" -> "2023"), or ""."""
    m = _NAMED_YEAR.search(question)
    return (m.group(1) or m.group(2)) if m else ""


# "How does the ambassador open his welcome message?", "the letter's closing line": a question about
# where a document starts or ends, answered by its first or last passages (the salutation, the sign-off).
_PART_NOUN = re.compile(r"\b(?:letter|message|word|statement|article|speech|greeting|text|post|page|document|piece|note"
                        r"|address|remarks|welcome|readers|email|memo)s?\b", re.IGNORECASE)
_PART_CLOSING = re.compile(r"\bhow (?:does|did|do) .{0,80}?\b(?:end|close|finish|conclude|sign off)\b"
                           r"|\b(?:closing|last|final|parting) (?:line|lines|words|sentence|greeting|paragraph|remark|remarks)\b"
                           r"|\bsign(?:s|ed|ing)?[- ]off\b", re.IGNORECASE)
_PART_OPENING = re.compile(r"\bhow (?:does|did|do) .{0,80}?\b(?:open|start|begin)\b"
                           r"|\b(?:opening|first) (?:line|lines|words|sentence|greeting|paragraph)\b|\bsalutation\b"
                           r"|\bgreet\w*\b.{0,60}?\b(?:at the (?:start|beginning|top)|first)\b", re.IGNORECASE)
# the words that say which part is asked for: not topic terms the document must hold
PART_WORDS = frozenset("open opens opening start starts begin begins greet greets greeting end ends ending close closes "
                       "closing finish conclude sign signs signed signing off line lines first last final parting words "
                       "sentence paragraph right before after beginning top bottom salutation".split())


def document_part(question: str) -> str:
    """"opening" or "closing" for a question about how a document starts or ends, else ""."""
    if len(question) > 400 or not _PART_NOUN.search(question):
        return ""
    if _PART_CLOSING.search(question):
        return "closing"
    return "opening" if _PART_OPENING.search(question) else ""


def meta_type(question: str) -> str:
    if _META_COPYRIGHT.search(question):
        return "copyright"
    outlet = _META_OUTLET.search(question)
    if _META_PUBLISHER.search(question) or (outlet and (not outlet["other"] or outlet["news"] or _DOCUMENT_ITSELF.search(question))):
        return "publisher"
    if (_META_AUTHOR.search(question) or (_META_AUTHOR_BODY.search(question) and _NAMES_DOCUMENT.search(question))
            or _ROLE_SIGNED.search(question)) and not _SIGNED_AGREEMENT.search(question):
        return "author"
    if _META_DATE.search(question):
        return "date"
    if (_META_TITLE.search(question) or _META_TITLE_LONG.search(question)) and asks_role(question) is None:
        return "title"  # not "what's Im Chon Il's job title"
    return ""


_COUNTED = re.compile(
    r"\bhow (?:many|much)\s+(?P<of>of\s+(?:the\s+|these\s+|those\s+|its\s+|their\s+)?)?([^\W\d_][\w'-]*)(?:\s+([^\W\d_][\w'-]*))?"
    r"(?:\s+([^\W\d_][\w'-]*))?"
    r"|\bwhat (?:was |is |were |are )?the (?:value|amount|number|volume|total|size|cost|price|share|percentage) of\s+"
    r"(?:the\s+)?([^\W\d_][\w'-]*)(?:\s+([^\W\d_][\w'-]*))?",
    re.IGNORECASE)
# keywords, or "what is / was the ... amount": not "who approved the budget" or "why did the trade volume fall"
_OTHER_ASK = re.compile(r"\b(?:who|whom|whose|when|where|why|which|how|did|does|do)\b|\bwhat\s+(?!(?:is|was|were|are|'s)\s+the\b)",
                        re.IGNORECASE)
_NOT_AMOUNT = frozenset("first second third fourth fifth last next final same whole large small huge total".split())
_AMOUNT_OF = re.compile(r"\b([^\W\d_][\w'-]*)\s+(?:volume|amount|turnover|budget|total)\b", re.IGNORECASE)
# a keyword query for a count or a price: "Hwasong number of apartments", "ski slopes number", "repairs cost"
# (not an identifier: "phone number of the embassy", "version number"; a plural before "number": "slopes number")
_KEYWORD_COUNT = re.compile(r"(?<![\w'-])(?:(?P<pre>[^\W\d_][\w'-]*)\s+)?number of\s+(?:the\s+)?(?P<of>[^\W\d_][\w'-]*)"
                            r"|(?<![\w'-])(?P<end>[^\W\d_][\w'-]*s)\s+(?:number|count|total)\s*[?.!]*$"
                            r"|(?<![\w'-])(?P<cost>[^\W\d_][\w'-]*)\s+(?:cost|costs|price|fee|fees)\s*[?.!]*$", re.IGNORECASE)
_KEYWORD_DURATION = re.compile(r"\b(?:duration|time|length)\s+(?:in\s+)?(?:seconds|minutes|hours|days|weeks|months|years)\b"
                               r"|\bduration\s*[?.!]*$", re.IGNORECASE)
_IDENTIFIERS = frozenset("phone telephone fax serial account version port room page model isbn id reference case".split())
_NOT_COUNTED = frozenset("""do does did is are was were has have had must can could will would should shall may might
of in at on for to per the it they we you i there a an this that these those between by from with""".split())
_MONEY_QUESTION = re.compile(r"\b(?:cost|costs|price|fee|fees|spend|spent|pay|paid|worth|budget|revenue)\b"
                             r"|\bthe value of\b", re.IGNORECASE)
MONEY = re.compile(r"[$€£¥₽]\s?\d|\d\s?(?:%|percent\b)|\b\d[\d.,]*\s*(?:thousand|million|billion|trillion)?\s*"
                   r"(?:dollars?|euros?|pounds?|rubles?|roubles?|yuan|won|usd|eur|rub)\b", re.IGNORECASE)
# "4.2", "v1.2.3", "version 5", "v17", "Fedramp2.0.0" (possessive, a bounded look ahead: "1.1.1...1a1" and "a1.1a1.1..."
# were quadratic); a product's own number ("Python 3") below
VERSION = re.compile(r"(?<![\d.])v?\d++(?:\.\d+)++(?![\w.]{0,30}\d)|\bversion\s+\d+|\bv\d+\b", re.IGNORECASE)
# "60 metres", "600-millimeter", "150 m", "5 ft", "20 storeys"
MEASURED = re.compile(rf"(?<![\w.,])\d[\d.,]*\s*(?:-\s*)?(?:{_MEASURE}|(?:m|ft|yd|lbs?|storeys?|stories|floors?)\b)", re.IGNORECASE)
# "7 p.m.", "7.30 p.m.", "19:00", "18.00", "in the evening"; not "2 amendments"
CLOCK = re.compile(r"\b(?:[01]?\d|2[0-3])(?:[:.][0-5]\d)?\s*(?:a\.?m\b\.?|p\.?m\b\.?|o'clock|h\b)|\b(?:[01]?\d|2[0-3])[:.][0-5]\d\b(?![.,]\d)"
                   r"|\b(?:noon|midnight|morning|afternoon|evening)\b", re.IGNORECASE)
AGE = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\baged?\s+\d{1,3}\b|\bborn\b[^.;]{0,40}?\b(?:1[6-9]|20)\d\d\b"
                 r"|\b(?:1[6-9]|20)\d\d\s*[-–]\s*(?:1[6-9]|20)\d\d\b", re.IGNORECASE)  # 39 years old, aged 39, born ... 1984, 1912-1994
DURATION = re.compile(r"\b(?:(?<![\d.,])\d[\d.,]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
                      r"fifty|several|few|many|a|an)[\s-]+(?:seconds?|minutes?|hours?|days?|nights?|weeks?|months?|years?|decades?)\b"
                      # an event's span of days gives how long it lasted: "held between the 15th and the 17th"; not
                      # "between 15 and 20 people", and not a visit's dates ("between April 24 and 26"), which
                      # answered how long talks during it lasted (two near-topic tune questions)
                      r"|\b(?:between|from)\s+the\s+\d{1,2}(?:st|nd|rd|th)\s+(?:and|to|until|till)\s+the\s+\d{1,2}(?:st|nd|rd|th)\b",
                      re.IGNORECASE)


# a visit's dates give how long it lasted ("between April 24 and 26"), though not how long talks during it did
VISIT = re.compile(r"\b(?:visit|visits|trip|trips|stay|stays|stayed|tour|journey|визит\w*|поездк\w*|провел\w*|провёл\w*"
                   r"|пробыл\w*)\b|방문|여행|순방|머물|체류", re.IGNORECASE)
# ... but not how long talks, a meeting or a ceremony during it lasted
_DURING_VISIT = re.compile(r"\b(?:talks|meeting|meetings|negotiations|summit|ceremony|reception|speech|переговор\w*|встреч\w*)\b"
                           r"|회담|회의|협상", re.IGNORECASE)
DATE_SPAN = re.compile(rf"\b(?:between|from)\s+{_MONTH}\.?\s+\d{{1,2}}\s*(?:and|to|until|till|-|–)\s*(?:{_MONTH}\.?\s+)?\d{{1,2}}\b",
                       re.IGNORECASE)


def asks_visit_length(question: str) -> bool:
    """"How long was his visit?", "Сколько дней длился визит?": a visit's own length, which its dates give."""
    return bool(VISIT.search(question)) and not _DURING_VISIT.search(question)


# the shape of each kind of quantity a question can ask for (a count is `counts`)
UNIT_PATTERNS = {"money": MONEY, "duration": DURATION, "age": AGE, "measure": MEASURED, "clock": CLOCK, "version": VERSION}


@dataclass(frozen=True)
class Quantity:
    """What a quantity question asks for: the words it counts (may be empty) and the kind of number."""

    words: tuple[str, ...]
    unit: str  # "number", "money", "duration" or "age"


def quantity(question: str) -> Quantity | None:
    """A how-many / how-much / how-long / how-old / what-was-the-value-of question, or None.

    ("How many guests attended ..." -> guests, attended; "how long did the ride take" -> a duration;
    "how much does it cost" -> an amount of money.)"""
    m = _COUNTED.search(question)
    if m:
        words: list[str] = []
        # "how many guests attended": two words; "how many of the Wikiann corpus languages": three, to the noun
        groups = (m.groups()[1:4] if m["of"] else m.groups()[1:3]) if m.group(2) else m.groups()[4:]
        for w in groups:
            if not w or w.lower() in _NOT_COUNTED:
                break
            words.append(w)
        return Quantity(tuple(words), "money" if _MONEY_QUESTION.search(question) else "number")
    m = _AMOUNT_OF.search(question)  # "Russia DPRK trade volume 2019", "what was the loan amount"
    if m and m.group(1).lower() not in _NOT_COUNTED | _NOT_AMOUNT and not _OTHER_ASK.search(question):
        return Quantity((m.group(1),), "money" if _MONEY_QUESTION.search(question) else "number")
    m = _KEYWORD_COUNT.search(question) if keyword_query(question) and not asks_contact(question) else None
    if m and (m["pre"] or "").lower() not in _IDENTIFIERS and (m["of"] or m["end"] or m["cost"]).lower() not in _NOT_COUNTED | _NOT_AMOUNT:
        return Quantity(((m["of"] or m["end"] or m["cost"]),), "money" if m["cost"] else "number")
    if keyword_query(question) and _KEYWORD_DURATION.search(question):
        return Quantity((), "duration")  # "SCH test campaign duration hours", "training time hours per language"
    if re.search(r"\bhow long (?:did|does|do|will|would|has|have|had|ago)\b", question, re.IGNORECASE):
        return Quantity((), "duration")  # how long did the ride take / has he served
    if re.search(r"\bhow long\b", question, re.IGNORECASE):
        return Quantity((), "number")  # a time or a length: "how long is the treaty", "how long a password"
    m = re.search(r"\b(?:which|what)\s+(?:(?P<product>[\w.+#-]+)\s+)?versions?\b(?!\s+of\s+(?:the\s+)?(?:standard|document|guide"
                  r"|report|this)\b)", question, re.IGNORECASE)
    if m:  # "which bash version does it require": a version number ("4.2", or "Bash 4")
        return Quantity((m["product"],) if m["product"] else (), "version")
    if re.search(r"\bhow (?:tall|high|wide|heavy)\b(?!\s+(?:is|was|are|were)\s+(?:the\s+|a\s+|its\s+)?(?:risk|chance|probability"
                 r"|priority|level|severity|cost|price|demand|bar|standard)s?\b)", question, re.IGNORECASE):
        return Quantity((), "measure")  # "how tall is the monument": a number with its unit, not any number
    if re.search(r"\b(?:what|which) time\b(?!\s+(?:zones?|periods?|frames?|span|scale|of\s+(?:the\s+)?(?:year|day|month))\b)"
                 r"|\bat what hour\b", question, re.IGNORECASE) or (
            keyword_query(question) and re.search(r"\b(?:start|starting|opening|closing|end|finish|departure|arrival)\s+time\s*[?.!]*$",
                                                  question, re.IGNORECASE)):  # "Taedonggang reception start time"
        return Quantity((), "clock")  # "what time did the reception begin": a time of day
    if re.search(r"\bhow old\b", question, re.IGNORECASE):
        return Quantity((), "age")  # "how old is kim jong un": an age or a birth date, not any number
    return None


_ASKING = re.compile(r"\s*(?:what|is|are|was|were|can|could|will|would|should|has|have|had|tell|list|name|give|show)\b",
                     re.IGNORECASE)


def keyword_query(question: str) -> bool:
    """Whether a question is typed as keywords ("Kangdong leisure complex opening date"): no question
    word and no verb that asks ("who", "did", "what was ...")."""
    return not _OTHER_ASK.search(question) and not _ASKING.match(question)


def counted(question: str) -> list[str]:
    """The words a quantity question counts ("How many guests attended" -> guests, attended)."""
    q = quantity(question)
    return list(q.words) if q else []


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_SHORT_MONTH = {m[:3]: m for m in _MONTHS} | {"sept": "september"}
MONTH_NAME = re.compile(rf"\b(?:(?i:{'|'.join(m for m in _MONTHS if m != 'may')})|May)\b")  # a month by name ("may" is a verb)
# "feb 2026", "apr 24", "24 apr.": a month abbreviation next to a day or a year (not "mar" or "may" alone)
_DAY_OR_YEAR = r"(?:(?:19|20)\d\d|[12]\d|3[01]|0?[1-9])(?![\d.,]\d)\b"
_SHORT_DATE = re.compile(rf"\b(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?(?=\s+{_DAY_OR_YEAR})"
                         r"|(\b(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)\s+|\b(?:[12]\d|3[01]|0?[1-9])\s+(?=\S+\s+(?:19|20)\d\d\b))"
                         r"(jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b\.?", re.IGNORECASE)


def expand_months(text: str) -> str:
    """`feb 2026` -> `February 2026`: documents spell months out, so both BM25 and the embedding match."""
    def full(m: re.Match) -> str:
        if m.group(1):
            return _SHORT_MONTH[m.group(1).lower()].capitalize()
        return m.group(2) + _SHORT_MONTH[m.group(3).lower()].capitalize()

    return _SHORT_DATE.sub(full, text)


def analyse(question: str) -> QuestionInfo:
    text = expand_months(strip_filler(question))
    return QuestionInfo(text=text, answer_type=answer_type(text), meta=meta_type(text), script=script_of(question))


_SENTENCE_END = ".!?\"“:;"  # a word after one of these opens a sentence: capitalised anyway
_LONG_WORD = re.compile(r"[^\W\d_]{5,}")
_CAPITAL = re.compile(r"\b[A-Z][a-z][\w'’-]*")
_WORD = re.compile(r"\w+")


def question_words(question: str) -> set[str]:
    """The question's words, lower case: what an answer found in a passage must add to."""
    return {w.lower() for w in _WORD.findall(question)}


def new_to_question(found: str, qwords: set[str]) -> bool:
    """Whether a name, date or number found in a passage says more than the question's own words."""
    return any(w.lower() not in qwords for w in _WORD.findall(found))


def has_type(text: str, kind: str, question: str = "", rare: Callable[[str], bool] | None = None) -> bool:
    """Whether a passage holds what the question type needs and the question does not already
    say: a name for who (a capitalised word inside a sentence, rare in the corpus when `rare`
    is given), a date for when, a number for how many, a place for where."""
    qwords = question_words(question)
    if kind == "person":
        for m in _CAPITAL.finditer(text):
            before = text[: m.start()].rstrip()
            if not before or before[-1] in _SENTENCE_END:
                continue  # a sentence's first word is capitalised anyway
            word = m.group()
            if word.lower() not in qwords and (rare is None or rare(word)):
                return True
        return False
    if kind == "attendance":  # says who was there ("Present there were ...", "Invited ... were")
        return bool(ATTENDANCE.search(text))
    if kind == "office":  # two offices or more the question does not name
        return sum(w in ROLE_WORDS and w not in qwords for w in re.findall(r"[^\W\d_]+", text.lower())) >= 2
    pattern = {"date": DATE, "number": NUMBER, "place": PLACE}.get(kind)
    if pattern is None:
        return True
    if kind == "date" and any(new_to_question(m.group(), qwords) for m in DAY_OF_MONTH.finditer(text)):
        return True  # "gave a reception ... on the 11th": a dated news item's day
    return any(new_to_question(m.group(), qwords) for m in pattern.finditer(text))


# "What is the name of the deputy minister who visited?", "who won the contest": a question that wants
# a name, which a passage answers only by giving one (a role or a place is not enough).
_ONE_PERSON = (r"(?:architects?|designers?|sculptors?|ambassador|minister|chairman|chairwoman|president|premier|winner"
               r"|founder|ceo|director|governor|mayor|commander|spokes(?:man|woman|person))")
# "who built it": a company or institution can be the name asked for; "who actually laid the wreath": one word between
_MAKER = r"who\s+(?:[a-z]+\s+)?(?:won|designed|built|signed|approved|laid)"
# what a sentence that names the maker says besides the name: someone won, designed or built it
MAKER_WORDS = {"won": "won win wins winner winners victory champion champions prize awarded received defeated beat",
               "designed": "designed design designer designers architect architects sculptor sculptors created creator "
                           "developed developer invented inventor authored",
               "built": "built build builder builders constructed construction erected made produced manufactured",
               "signed": "signed sign signs signing signature signatures signatory signatories concluded inked",
               "approved": "approved approve approves approval approver approvers endorsed",
               "laid": "laid lay lays laying placed"}  # "who laid the wreath?": "was laid on behalf of ..." names no one
# "who signed the treaty / the 1949 agreement": a signing the documents report, not who signed one of them
_AGREEMENT = (r"(?:treaty|treaties|agreement|agreements|declaration|accord|accords|pact|protocol|memorandum|contract|convention"
              r"|charter|deal|communiqu[eé]|armistice|ceasefire)")
_SIGNED_AGREEMENT = re.compile(rf"\bwho\s+signed\s+(?:the\s+|a\s+|an\s+)?(?!(?:this|that|these|attached|enclosed|above)\b)"
                               rf"(?:(?!(?:that|which|who|about|on|of|for|in|to|attached|enclosed|above"
                               rf"|marking|mentioning|mentions|word|note|page|{_DOCUMENT_NOUN})\b)[\w'’-]+\s+){{0,6}}?"
                               rf"{_AGREEMENT}\b", re.IGNORECASE)  # not "who signed the letter about the 1949 agreement"
_END = r"(?=\s+(?:who|whom|that|which|in|at|from|during|when|to|on|by)\b|\s*[?.!,]|\s*$)"
_ASKS_NAME = re.compile(rf"(?<!\bin the )(?<!\bin )\bnames? of\s+(?:the\s+|a\s+|an\s+|his\s+|her\s+|their\s+|its\s+)?(?P<of>[\w'’ -]{{1,100}}?){_END}"
                        r"|\bwhat(?:'s|\s+is|\s+was|\s+were|\s+are)\s+(?:the\s+)?(?!(?:[\w-]+\s+){0,2}?(?:size|length|format|type|kind|number|version|value|limit|maximum|minimum)\s+of\b)"
                        r"(?P<own>[\w'’ -]{1,60}?)['’]s?\s+names?\b"
                        rf"|\b{_MAKER}\s+(?:the\s+|a\s+)?(?P<did>[\w'’ -]{{1,60}}?){_END}"
                        # "who was the first Soviet ambassador", "who were the architects": one person (or team) by name
                        rf"|\bwho\s+(?:is|was|were|are)\s+(?:the\s+|[\w-]+['’]s\s+)?(?P<role>(?:[\w-]+\s+){{0,4}}?{_ONE_PERSON}"
                        # ... of what: "the chairman of the Supreme People's Assembly"
                        r"(?:\s+(?:of|for)\s+(?:the\s+)?(?:[\w'’-]+\s+){0,4}?[\w'’-]+(?=\s+(?:who|that|which|in|at|from|during|when|to|on|by)\b"
                        r"|\s*[?.!,]|\s*$))?)\b"
                        r"|\bwhich\s+(?P<which>(?:[\w-]+\s+){0,2}?(?:architects?|designers?|sculptors?))\b"
                        # "who became Mozilla CEO after Eich resigned", "who succeeded him as ambassador": who holds it next
                        rf"|\bwho\s+(?:became|(?:succeeded|replaced)\s+[\w'’-]+(?:\s+[\w'’-]+){{0,2}}\s+as|took\s+over\s+as"
                        rf"|was\s+(?:appointed|elected|made))\s+(?:the\s+|a\s+|an\s+|new\s+)*(?P<became>(?:[\w-]+\s+){{0,3}}?(?:\w+-)?{_ONE_PERSON})\b"
                        # "name the three veterans who got medals": the imperative
                        rf"|^\s*(?:please\s+|pls\s+)?name\s+(?:the\s+|all\s+)?(?P<named>[\w'’ -]{{1,100}}?){_END}", re.IGNORECASE)
# Words of institutions, offices and regions: a run of capitalised words holding one ("Supreme People's
# Assembly", "Deputy Minister", "Far East") names no person.
_INSTITUTION = frozenset("""academy affairs agency army assembly association bank board bureau cabinet center centre chairman
chamber church city club college commission committee company congress corporation council court deputy department
east embassy federation first foreign front general government governor guard house institute kingdom league ministry
minister museum national navy north office organization organisation parliament party people peoples premier president
presidium republic school secretary senate society south state states supreme union united university vice west
ambassador director ceo chief professor doctor judge senator mayor king queen prince princess captain colonel""".split())
_TITLES = frozenset("""ambassador chairman chairwoman chief ceo director general governor minister premier president secretary
professor doctor judge senator mayor king queen prince princess captain colonel commander""".split())
HONORIFICS = "Mr|Mrs|Ms|Dr|Prof|Sir|Dame|Mme|Gen|Col|Capt|Sen|Rep"  # "Mr. Smith": a title, then a name
_HONORIFIC = re.compile(rf"\b(?:{HONORIFICS})\.?$")
# words that open a sentence without being a name ("The Kremlin said", "In Moscow")
_OPENERS = frozenset("""the a an in on at for after before during today yesterday however then next but and it there when while
as since with from by of to our we his her their its these those that this some all both meanwhile also between among within
across over under through throughout despite following according upon amid towards toward against around about last every
each many several most such other if although though because so yet thus hence here now once""".split())
# month and day names are capitalised without naming anyone
CALENDAR = frozenset(list(_MONTHS) + "monday tuesday wednesday thursday friday saturday sunday".split())
_WHO_DID = re.compile(rf"\b{_MAKER}\b", re.IGNORECASE)
_PLACED = re.compile(rf"\b(?:{PLACE_PREPOSITIONS}|via)\s+(?:the\s+)?$", re.IGNORECASE)
# a quoted run of 3-12 words ("National Contest of Amateur Skiers--2026"); a title when most are capitalised
_QUOTED_TITLE = re.compile(r"[\"“][^\"“”\s]{1,40}(?:\s+[^\"“”\s]{1,40}){2,11}[\"”]")
_TITLE_SMALL = frozenset("of the and a an in on at for to with by from".split())


def _quoted_titles(sentence: str) -> list[tuple[int, int]]:
    """Spans of the quoted titles in a sentence: 3-12 words in quotes, most of them (small words aside)
    capitalised, not ending as a sentence does; a quoted remark ("We thank Comrade Kim Jong Un.") is none."""
    spans = []
    for m in _QUOTED_TITLE.finditer(sentence):
        inner = m.group()[1:-1]
        words = [w for w in inner.split() if w.lower() not in _TITLE_SMALL]
        if words and inner[-1] not in ".!?,;:" and 2 * sum(w[0].isupper() for w in words) > len(words):
            spans.append(m.span())
    return spans


_CAPITALISED = re.compile(r"\b[A-Z][a-z][\w'’-]*(?:\s+[A-Z][a-z][\w'’-]*)*")


# "What's Im Chon Il's job title?", "what position does Choe Son Hui hold", "in what capacity did Matsegora
# attend": the office a person holds, which a text gives beside the name ("Foreign Minister Choe Son Hui", "Im
# Chon Il, Vice-Minister for ...") or in a byline. Not a former, later or first one ("his previous post"); "in
# what capacity did he sign the letter" is a question about its signatory (_ROLE_SIGNED).
_ROLE_NOUN = r"(?:job\s+title|job|title|position|post|office|occupation|profession)s?"  # not "role", "rank": of things too
_ROLE_ADJ = r"(?:(?:official|exact|current|formal|full)\s+)*"
# the office must end the question, or be followed only by where it is held ("... title in the workers party?"),
# so that "Putin's position on climate change" or "his job approval rating" asks something else
_ROLE_END = r"(?:\s+(?:in|at|with|for)\s+[\w'’ .-]{1,40}?)?\s*[?.!]*\s*$"
_ASKS_ROLE = re.compile(
    rf"\b(?:what|which)(?:'s|s|\s+is|\s+was|\s+are|\s+were)\s+(?!(?:his|its|hers|theirs|yours|ours)\b)"
    rf"(?P<whose>[\w'’ .-]{{1,60}}?)(?:['’]s?|(?<=[a-z])s)\s+"
    rf"{_ROLE_ADJ}{_ROLE_NOUN}{_ROLE_END}"
    rf"|\b(?:what|which)\s+{_ROLE_ADJ}{_ROLE_NOUN}\s+(?:does|did|do|is|was|has|had)\s+(?P<who>[\w'’ .-]{{1,60}}?)\s+"
    rf"(?:hold|have|has|had|occupy|serve|sign|signs|signed|use|uses|used|carry|carries|appear|appears){_ROLE_END}"
    rf"|\b(?:what|which)(?:'s|s|\s+is|\s+was)\s+the\s+{_ROLE_ADJ}{_ROLE_NOUN}\s+of\s+"
    rf"(?P<of>(?!(?:the|this|that|its?|a|an)\b)[\w'’ .-]{{1,60}}?)\s*[?.!]*\s*$"
    r"|\bin\s+what\s+capacity\s+(?:does|did|do|is|was)\s+(?P<cap>[\w'’ .-]{1,60}?)\s+(?:sign|signs|signed|write|wrote|"
    r"speak|spoke|serve|served|attend|attended|visit|visited|act|acted|work|worked|appear|appeared|go|went|come|came)\b",
    re.IGNORECASE)
# "What title appears above the signature", "what position does the person who signed the letter hold": the
# signatory's office, which the byline or signature carries: a question about who wrote it (not "sign in",
# "sign up", "sign language" or "the sign of the determinant")
_SIGNED = (rf"(?:signature|signatory|signer|signed\s+(?:it|this|the\s+(?:[\w'-]+\s+){{0,3}}?{_DOCUMENT_NOUN})"
           rf"|sign(?:s|ed)?\s+(?:it|this|the\s+(?:[\w'-]+\s+){{0,3}}?{_DOCUMENT_NOUN}))")
_ROLE_SIGNED = re.compile(
    rf"\b(?:{_ROLE_NOUN}|capacity)\b(?!\s+of\s+(?:the\s+|this\s+|that\s+|his\s+|her\s+|its\s+)?(?:[\w-]+\s+)?{_DOCUMENT_NOUN})"
    rf".{{0,80}}\b{_SIGNED}|\b{_SIGNED}.{{0,80}}\b{_ROLE_NOUN}\b", re.IGNORECASE)
_NOT_NOW = re.compile(r"\b(?:previous(?:ly)?|former(?:ly)?|before|earlier|prior|used to|next|future|new|later|until|first|last)\b",
                      re.IGNORECASE)
ROLE_WORDS = _TITLES | frozenset("""deputy vice envoy consul counsellor counselor attache spokesman spokeswoman spokesperson
chancellor chair founder editor head marshal""".split())


_MAKERS = frozenset("architect designer sculptor winner".split())


def is_office(word: str) -> bool:
    """Whether a noun names an office someone holds ("ambassador", "ministers", "commander"), from ROLE_WORDS
    and the architects, designers and sculptors a name question asks for."""
    w = word.lower()
    w = w[:-1] if w.endswith("s") and w[:-1] in ROLE_WORDS | _MAKERS else w
    return w in ROLE_WORDS or w in _MAKERS or w in ("chairmen", "spokesmen")


def asks_role(question: str) -> str | None:
    """Whose office a question asks for ("What's Im Chon Il's job title?" -> "Im Chon Il"), or None;
    not a former or later one, and not a document's title ("what is the title of the article")."""
    m = _ASKS_ROLE.search(_without_filler(question, 80))  # "... title in the workers party?? thx"
    if m is None or _NOT_NOW.search(question) or _ROLE_SIGNED.search(question):
        return None
    who = (m["whose"] or m["who"] or m["of"] or m["cap"] or "").strip()
    words = re.findall(r"[^\W\d_]+", who.lower())
    if not words or any(w in DOCUMENT_NOUNS or w in _NOT_A_NAME for w in words):
        return None  # "the SCH app's", "its", "a project manager's": not a person by name
    return who


def shows_role(text: str, who: str, window: int = 5) -> bool:
    """Whether a text names `who` with an office beside the name: a role word among the `window`
    words before the name or the three after ("Russian Ambassador Alexandr Matsegora", "Im Chon Il,
    Vice-Minister for ..."). The name's words in order, each as asked or one letter off in a longer
    word (spellings vary: Alexander, Alexandr), so "Kim Yo Jong" is not "Kim Jong Un"."""
    name = [w for w in re.findall(r"[^\W\d_]+", who.lower()) if w not in ("the", "of", "mr", "mrs", "ms", "dr", "comrade")]
    words = re.findall(r"[^\W\d_]+", text.lower())
    n = len(name)
    for i in range(len(words) - n + 1) if name else ():
        if all(_one_off(a, b) for a, b in zip(name, words[i:i + n])):
            # "President of Russia", "CEO of Microsoft": an office before "of" the name is the place's or company's
            before = [] if i and words[i - 1] in _OF_A_PLACE else words[max(0, i - window):i]
            if any(w in ROLE_WORDS for w in before + words[i + n:i + n + 3]):
                return True
    return False


_OF_A_PLACE = frozenset("of for to at in from by with".split())
_NOT_A_NAME = frozenset("""the a an of this that these those it its his her their our your my he she they we you
i me us them who which what""".split())


def _one_off(a: str, b: str) -> bool:
    """The same word, or (five letters or more) one letter added, dropped or changed inside it
    (Alexander, Alexandr), not at its end (Russia is not Russian)."""
    if a == b:
        return True
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1 or a.startswith(b) or b.startswith(a):
        return False
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return a[i + 1:] == b[i + 1:] if len(a) == len(b) else (a[i + 1:] == b[i:] if len(a) > len(b) else a[i:] == b[i + 1:])


# keywords ending in "name" ("cookie name maximum size" ask a size) or in who took part ("1949 Moscow delegation members")
_NAME_LAST = re.compile(r"\b(?:names?|members)\s*[?.!]*$", re.IGNORECASE)
_DESIGNER = r"(?:architects?|designers?|sculptors?)"
_DESIGNER_LAST = re.compile(rf"\b{_DESIGNER}(?:\s+(?:and\s+|&\s+)?{_DESIGNER})*(?:\s+names?)?\s*[?.!]*$", re.IGNORECASE)


def _designer_last(question: str) -> int:
    """Where the words "architect", "sculptor" ... that end a question start, or -1 (read from its last 100
    characters: linear on any text)."""
    cut = max(0, len(question) - 100)
    m = _DESIGNER_LAST.search(question, cut)
    return m.start() if m else -1


def asks_name(question: str) -> str | None:
    """What a question wants the name of ("the name of the deputy minister who visited" -> "deputy
    minister"; "who won the ski contest" -> "ski contest"; keywords: "predecessor ambassador name" ->
    "predecessor ambassador"), or None when it wants no name."""
    m = _ASKS_NAME.search(question)
    if m is None and keyword_query(question):
        last = _NAME_LAST.search(question)
        start = last.start() if last else _designer_last(question)
        if start > 0:  # "Matsegora predecessor ambassador name", "Memorial Arch architect sculptor"
            return " ".join(question[:start].split())
    return None if m is None else (m["of"] or m["own"] or m["did"] or m["role"] or m["which"] or m["named"] or m["became"] or "")


def asks_maker(question: str) -> str:
    """"Who won / designed / built ...": the verb ("won"), for which a company or institution can be the
    name asked for; "" for any other question. Keywords ending in "architect" ask who designed it."""
    m = _WHO_DID.search(question)
    if m is None and keyword_query(question) and _designer_last(question) > 0:
        return "designed"
    return m.group().split()[-1].lower() if m else ""


OTHER_PERSON = re.compile(r"\b(?:before|after|predecessors?|successors?|succeeded|replaced|preceded|previous|former|next"
                           r"|deputy|wife|husband|son|daughter|father|mother|brother|sister)\b", re.IGNORECASE)
_PART_OF_NAME = re.compile(r"\b(?:first|full|given|last|family|middle|sur)\s*names?\b|\bsurname\b|\binitials?\b", re.IGNORECASE)


def has_name(sentence: str, question: str, known: Container[str], organisations: bool = False, count: int = 1) -> bool:
    """Whether a sentence gives a person's or thing's name the question does not: two or more
    capitalised words after any institution or title word in their run ("Foreign Minister Choe Son
    Hui"), one after a title ("Ambassador Smith", "Dr. Lee"), or one `known` (the model's vocabulary)
    lacks ("Matsegora"). With `organisations` ("who built it?") an institution's name counts too. A
    sentence's opening word ("The", "In"), a place after "in" / "at" / "to", a word before a
    number ("Juche 108") and the words of a quoted title ("National Contest of Amateur Skiers") do not count;
    nor, for a question about someone else than the person it names ("who came before Matsegora?"), a name
    holding a rare word of the question ("Alexander Matsegora"), unless it asks for part of that name.
    With `count`, that many different names ("the names of the three veterans")."""
    asked = question_words(question)
    found: set[tuple[str, ...]] = set()
    # "who was ambassador before Matsegora?" asks for someone else than the person it names; "what is Matsegora's
    # first name" or "the name of ambassador Matsegora" for that person's name
    own = bool(OTHER_PERSON.search(question)) and not _PART_OF_NAME.search(question)
    titles = _quoted_titles(sentence) if '"' in sentence or "“" in sentence else []
    for m in _CAPITALISED.finditer(sentence):
        if any(a <= m.start() < b for a, b in titles):
            continue  # inside a quoted title of three or more words: what the sentence is about, not who
        before = sentence[max(0, m.start() - 40):m.start()].rstrip()  # a window: linear on a long sentence
        if _PLACED.search(before + " ") or re.match(r"\s*\d", sentence[m.end():m.end() + 8]):
            continue
        words = [re.match(r"[A-Za-z]+", w).group().lower() for w in m.group().split()]
        words = [w for w in words if w not in CALENDAR]
        titled = bool(_HONORIFIC.search(before))
        opens = (not before and m.start() < 40) or (before and before[-1] in _SENTENCE_END)
        if not titled and opens and (len(words) == 1 or words[0] in _OPENERS):
            words = words[1:]  # a sentence's first word is capitalised anyway
        while not organisations and any(w in _INSTITUTION for w in words):  # "Foreign Minister Choe Son Hui"
            cut = next(i for i, w in enumerate(words) if w in _INSTITUTION)
            titled = words[cut] in _TITLES  # a name may follow a title, not "South" or "National"
            words = words[cut + 1:]
        if not words or all(w in asked for w in words):
            continue
        if own and any(len(w) >= 3 and (w in asked or w + "s" in asked) and w not in known for w in words):
            continue  # "Alexander Matsegora" for a question about Matsegora: the person it names, not another
        if len(words) >= 2 or titled or words[0] not in known:
            found.add(tuple(words))
            if len(found) >= count:
                return True
    return False


_NAMES_COUNTED = re.compile(r"(?:the\s+)?(two|three|four|five|six|seven|eight|nine|ten|both|[2-9]|1\d)\s+\S", re.IGNORECASE)
_COUNT_WORDS = {"both": 2, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def count_word(what: str) -> str:
    """The number a named thing opens with ("three" of "the three veterans"), or ""."""
    m = _NAMES_COUNTED.match(what)
    return m.group(1).lower() if m else ""


def names_counted(what: str) -> int:
    """How many names a question wants, from the number its named thing opens with ("three veterans" -> 3); else 1."""
    word = count_word(what)
    return (_COUNT_WORDS.get(word) or int(word)) if word else 1


# "What's the embassy's street address / phone number / twitter handle / opening hours?": contact details,
# which a passage gives only in their own shape (a street and number, digits, an @handle, a URL, times).
_WHATS = r"(?:what(?:'s|s|\s+is|\s+was|\s+are)|give\s+me|tell\s+me|send\s+me|need)\s+(?:the\s+)?(?:[\w-]+['’]s\s+)?"
_NOT_ITS_OWN = r"(?!\s+(?:say|says|said|read|mention\w*|about|cover\w*|he|she|they|we|i|you|was|were|sent|from|to|at|on|in)\b)"
_PLACE_NOUN = (r"(?:embassy|consulate|office|museum|building|company|headquarters|school|hotel|shop|store|restaurant|station"
               r"|ministry|agency|bank|hospital|church|library|university|mission)")
_ASKS_CONTACT = (  # the detail as a noun asked for, not "how did they handle it" or "his address at the reception"
    ("email", re.compile(rf"\be-?mail\s+(?:address|contact)\b|\bcontact\s+e-?mail\b|\b{_WHATS}e-?mail\b{_NOT_ITS_OWN}"
                         r"|\bwho\s+(?:do|should|can|could)\s+(?:i|we|you)\s+e-?mail\b", re.IGNORECASE)),
    ("url", re.compile(r"\b(?:url|web ?address|website address|web ?link|link to (?:the |their |its )?(?:site|website|page))\b",
                       re.IGNORECASE)),
    ("handle", re.compile(rf"\b{_WHATS}(?:[\w-]+\s+){{0,2}}?(?:twitter|telegram|instagram|youtube|tiktok|facebook|vkontakte|vk|x"
                          r"|social media)\s+"
                          r"(?:handle|account|channel|username|user ?name)\b|\b(?:twitter|telegram|instagram|x)\s+handle\b"
                          r"|['’]s\s+handle\b|\b(?:handle|username|user ?name)\s+(?:of|on|for)\s+(?:[\w'’-]+\s+){0,4}?"
                          r"(?:twitter|telegram|instagram|youtube|tiktok|facebook|vkontakte|vk|x)\b", re.IGNORECASE)),
    ("phone", re.compile(r"\b(?:tele)?phone (?:number|no)\b|\bfax\b|\bnumber to call\b", re.IGNORECASE)),
    ("hours", re.compile(r"\b(?:opening|working|business|office|visiting) hours\b|\bhours of (?:operation|business)\b"
                         r"|\bopening times\b", re.IGNORECASE)),
    ("address", re.compile(rf"\b(?:street|postal|mailing|physical|home|office|full|exact)\s+ad+res+\b|\b{_WHATS}ad+res+\b(?!\s+of\b)"
                           rf"{_NOT_ITS_OWN}|\bad+res+\s+of\s+(?:the\s+)?(?:[\w-]+\s+){{0,3}}?{_PLACE_NOUN}\b"
                           rf"|\b{_PLACE_NOUN}\s+ad+res+\b{_NOT_ITS_OWN}", re.IGNORECASE)),
)
# shapes distinctive enough that the first passage holding one answers the question by itself
CONTACT_ANSWERS = frozenset({"email", "handle"})
CONTACT_SHAPES = {
    "email": re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+"),  # possessive: linear on hostile text
    "url": re.compile(r"https?://\S+|\bwww\.\S+|(?<![\w.-])[\w-]++(?:\.[\w-]++)*?\.(?:com|org|net|gov|edu|int|io|info|ru|kp|kr|uk"
                      r"|de|fr)\b", re.IGNORECASE),  # each run of a long word-and-dot token tried once
    "handle": re.compile(r"(?<![\w.])@\w{2,}|\bt\.me/\w+|\b(?:twitter|x|instagram|facebook|youtube|vk)\.com/\w+", re.IGNORECASE),
    "phone": re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{2,5}(?:[\s.-]\d{2,5}){2,}"),
    "hours": re.compile(r"\b\d{1,2}(?:[:.]\d\d)?\s*(?:a\.?m\b\.?|p\.?m\b\.?)|\b\d{1,2}[:.]\d\d\s*(?:-|–|to|until)\s*\d{1,2}[:.]\d\d"
                       r"|\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?\s*(?:-|–|to|through)\s*(?:mon|tue|wed|thu|fri|sat|sun)",
                       re.IGNORECASE),
    "address": re.compile(r"\b\d+[a-z]?,?\s+(?:[A-Z][\w'-]*\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Drive|Way"
                          r"|Square|Place|Ulitsa)\b|\b(?:Street|Avenue|Road|Boulevard|Ulitsa|ul\.)\s+[^,.;]{0,30}?\d"
                          r"|\bP\.?\s?O\.? Box\b|(?<![\w-])[\w-]+-(?:dong|gu|ro|gil)\b"),
}


def asks_contact(question: str) -> str:
    """The kind of contact detail a question asks for ("email", "url", "handle", "phone", "hours",
    "address"), or ""."""
    return next((kind for kind, pattern in _ASKS_CONTACT if pattern.search(question)), "")


_UNSET = object()

# British and American spellings of one word: the same ending spelt either way ("licence" / "license",
# "colour" / "color", "organise" / "organize", "centre" / "center", "travelled" / "traveled").
_VARIANT_ENDINGS = (("ence", "ense"), ("ences", "enses"), ("our", "or"), ("ours", "ors"), ("ise", "ize"), ("ised", "ized"),
                    ("ises", "izes"), ("ising", "izing"), ("isation", "ization"), ("isations", "izations"),
                    ("yse", "yze"), ("ysed", "yzed"), ("tre", "ter"), ("tres", "ters"), ("lled", "led"),
                    ("lling", "ling"), ("ller", "ler"), ("ogue", "og"), ("ogues", "ogs"), ("gramme", "gram"),
                    ("oured", "ored"), ("ouring", "oring"), ("ourite", "orite"), ("ourites", "orites"), ("ourable", "orable"))


def spelling_variants(word: str) -> list[str]:
    """The other spellings of a word whose ending British and American English spell differently,
    either way round ("licence" -> "license"; "color" -> "colour"): at most a few, none for short words.
    The search takes one only for a word the documents never use and only where they use the other."""
    w = word.lower()
    if len(w) < 5 or not w.isalpha():
        return []
    out = []
    for a, b in _VARIANT_ENDINGS:
        for old, new in ((a, b), (b, a)):
            if w.endswith(old) and len(w) - len(old) >= (3 if "ll" in a else 2):  # "filled" is not "filed"
                out.append(w[: len(w) - len(old)] + new)
    return [v for v in dict.fromkeys(out) if v != w and "lll" not in v]


# Names of one country or union that users and documents use in turn: the first form of each group is
# a short name the documents may prefer ("DPRK" where a user says "North Korea"). Ambiguous short
# forms are left out ("UN" is also the last word of "Kim Jong Un"; "US" is also "us").
ALIASES = (("DPRK", "North Korea", "North Korean", "North Koreans"),
           ("ROK", "South Korea", "South Korean", "South Koreans"),
           ("USSR", "Soviet Union"),
           ("UK", "United Kingdom", "Britain", "Great Britain"),
           ("EU", "European Union"))
_ALIAS_PATTERNS = tuple((group, [re.compile(rf"(?<![\w.@-]){re.escape(form)}(?![\w@-])(?!\.\w)", re.IGNORECASE) for form in group])
                        for group in ALIASES)
ALIAS_RATIO = 3  # the documents use the other name at least this many times as often
_ASKS_ABOUT_NAME = re.compile(r"\b(?:official|full|short|proper|formal|real)\s+names?\b|\bstands?\s+for\b|\babbreviat\w*|\bacronym"
                              r"|\bshort\s+for\b|\bfull\s+form\b|\bspel\w*|\bcalled\b|['’]s\s+names?\b", re.IGNORECASE)


def documents_names(text: str, used) -> str:
    """The question with a country's name replaced by the name the documents use for it, where they
    use that one at least ALIAS_RATIO times as often ("Which North Korean officials ..." over news
    that says "DPRK" throughout), the longer name first ("Great Britain" before "Britain"); not in a question about
    a name itself ("what does DPRK stand for?"). `used(form)` says in about how many passages a name occurs."""
    if _ASKS_ABOUT_NAME.search(text):
        return text  # "what is North Korea's official name?" asks about the name itself
    for group, patterns in _ALIAS_PATTERNS:
        asked = sorted((i for i, pat in enumerate(patterns) if pat.search(text)), key=lambda i: -len(group[i]))
        if not asked:
            continue
        counts = [used(form) for form in group]
        best = max(range(len(group)), key=lambda i: counts[i])
        for i in asked:
            if i != best and counts[best] >= ALIAS_RATIO * max(counts[i], 1):
                text = patterns[i].sub(group[best], text)
    return text


class Speller:
    """Maps a misspelt word to the corpus's most common word one edit away.

    Reads the lexical index's term table (one lookup of every one-edit variant's stem) and then
    a few passages holding the best stem for its spelling, so it costs the same at 70 passages or
    a million and never loads all passages.
    """

    def __init__(self, lexical, passages):
        self.lexical, self.passages = lexical, passages
        self._memo: dict[str, str | None] = {}  # a speller serves one index generation: answers never change

    @staticmethod
    def _variants(word: str) -> set[str]:
        """Every string one deletion, transposition, replacement or insertion away (Norvig)."""
        letters = sorted(set("abcdefghijklmnopqrstuvwxyz") | set(word))
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        out = {a + b[1:] for a, b in splits if b}
        out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        out |= {a + c + b[1:] for a, b in splits if b for c in letters}
        out |= {a + c + b for a, b in splits for c in letters}
        out.discard(word)
        return out

    def correct(self, word: str) -> str | None:
        """The corpus word within one edit of `word` (lower case) whose stem most passages use, spelt as a
        passage spells it, else as the edit gives it (another form of that word); or None."""
        word = word.lower()
        found = self._memo.get(word, _UNSET)
        if found is _UNSET:  # the bot's threads may ask at once: the worst is working one word out twice
            found = self._correct(word)
            if len(self._memo) > 20_000:
                self._memo.clear()
            self._memo[word] = found
        return found

    def _correct(self, word: str) -> str | None:
        lex = self.lexical
        if len(word) < 5 or lex.doc_freqs(lex.tokens(word)):
            return None
        variants = sorted(v for v in self._variants(word) if _LONG_WORD.fullmatch(v))
        stems: dict[str, str] = {}
        for v, stem in zip(variants, lex.analyzer.stems(variants)):  # a letters-only word is one term, or none
            if stem:
                stems.setdefault(stem, v)
        df = lex.doc_freqs(stems)
        wanted = set(variants)
        best = sorted(df, key=lambda t: (-df[t], t))[:5]
        for stem in best:
            rows = lex.sparse(stems[stem])[0][:5]  # a few passages that use the stem: its real spellings
            for row in rows:
                p = self.passages[int(row)]
                for w in _LONG_WORD.findall(f"{p.title} {p.text}".lower()):
                    if w in wanted and lex.tokens(w) == [stem]:
                        return w
        # no passage spells it so: another form of a corpus word ("ambasadors" -> ambassadors, where the
        # documents say only "ambassador"), the variant that stems to the most used stem
        return stems[best[0]] if best else None
