"""Text as search sees it: folded, split into words, stemmed per language; and snippets.

Accents are folded away before stemming, on articles and on queries alike, so "facturación" and
"facturacion" are one word; the Snowball stemmers (the algorithms PostgreSQL's text search
configurations use) make "tarjetas" and "tarjeta" one term.
"""

import html
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import Stemmer
from markupsafe import Markup, escape

WORD = re.compile(r"[^\W_]+")
MAX_WORD = 40
MAX_QUERY_WORDS = 16
TAG = re.compile(r"<[^>]+>")

STEMMERS = {
    "es": "spanish",
    "en": "english",
    "pt": "portuguese",
    "fr": "french",
    "de": "german",
    "it": "italian",
    "ca": "catalan",
}

# Words too common to tell articles apart; folded, as they are compared after folding.
STOP_WORDS: dict[str, frozenset[str]] = {
    "es": frozenset({
        "a", "al", "algo", "como", "con", "cual", "de", "del", "desde", "donde", "el", "ella",
        "en", "entre", "es", "esa", "ese", "esta", "este", "esto", "ha", "hay", "la", "las",
        "le", "lo", "los", "me", "mi", "mis", "muy", "mas", "no", "nos", "o", "para", "pero",
        "por", "que", "se", "si", "sin", "sobre", "son", "su", "sus", "tengo", "te", "tu", "un",
        "una", "uno", "unos", "y", "ya", "yo", "puedo", "quiero", "hacer",
    }),
    "en": frozenset({
        "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does",
        "for", "from", "have", "how", "i", "if", "in", "is", "it", "its", "me", "my", "no",
        "not", "of", "on", "or", "so", "that", "the", "this", "to", "was", "what", "when",
        "where", "which", "who", "why", "will", "with", "you", "your", "want",
    }),
}  # fmt: skip

# Field weights: a word in the title says more about an article than one in its body.
TITLE_WEIGHT = 3.0
SUMMARY_WEIGHT = 2.0
TAG_WEIGHT = 2.0
BODY_WEIGHT = 1.0
# BM25's saturation and length normalisation, against a typical help article's length.
K1 = 1.2
B = 0.75
TYPICAL_WORDS = 150


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    """The folded words of a text; over-long runs (hashes, base64) are not words."""
    return [w for w in WORD.findall(fold(text)) if len(w) <= MAX_WORD]


@cache
def _stemmer(locale: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(STEMMERS.get(locale, "english"))


def stem(word: str, locale: str) -> str:
    return str(_stemmer(locale).stemWord(word))


def is_stop_word(word: str, locale: str) -> bool:
    return word in STOP_WORDS.get(locale, frozenset())


def terms(text: str, locale: str) -> list[str]:
    return [stem(w, locale) for w in words(text) if not is_stop_word(w, locale)]


def plain_text(body_html: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", body_html)).split())


def term_weights(
    locale: str, title: str, summary: str, tags: Iterable[str], body_text: str
) -> dict[str, float]:
    """Each term's BM25 weight in the article, ready to be multiplied by the term's rarity."""
    counts: defaultdict[str, float] = defaultdict(float)
    fields = ((title, TITLE_WEIGHT), (summary, SUMMARY_WEIGHT), (" ".join(tags), TAG_WEIGHT))
    for text, weight in (*fields, (body_text, BODY_WEIGHT)):
        for term in terms(text, locale):
            counts[term] += weight
    length = sum(counts.values()) or 1.0
    norm = K1 * (1 - B + B * length / TYPICAL_WORDS)
    return {term: tf * (K1 + 1) / (tf + norm) for term, tf in counts.items()}


def rarity(documents: int, with_term: int) -> float:
    """BM25's inverse document frequency: rare terms tell more."""
    return math.log(1 + (documents - with_term + 0.5) / (with_term + 0.5))


def trigrams(word: str) -> set[str]:
    padded = f" {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def typo_budget(word: str) -> int:
    """Edits a misspelling of ``word`` may be away: none for short words, two for long ones."""
    if len(word) < 4:
        return 0
    return 1 if len(word) < 8 else 2


@dataclass(frozen=True)
class Snippet:
    html: Markup
    text: str


SNIPPET_WORDS = 28


@lru_cache(maxsize=50_000)
def _forms(word: str, locale: str) -> tuple[str, str]:
    """A word of an article as a query may name it: folded, and stemmed. Articles share most of
    their words, so each is folded and stemmed once."""
    folded = fold(word)
    return folded, stem(folded, locale)


def snippet(text: str, wanted: set[str], locale: str) -> Snippet:
    """The stretch of ``text`` with most of the wanted terms, those words in ``<mark>``; every
    other character is escaped, so an article or a query cannot inject markup here."""
    spans = [(m.start(), m.end()) for m in WORD.finditer(text)]
    hits = [
        i
        for i, (start, end) in enumerate(spans)
        if not wanted.isdisjoint(_forms(text[start:end], locale))
    ]
    first = 0
    if hits:
        best = max(hits, key=lambda h: sum(1 for o in hits if h <= o < h + SNIPPET_WORDS))
        # Some words of context before the first match, unless it is near the start anyway.
        first = 0 if best < SNIPPET_WORDS // 2 else best - 4
    window = spans[first : first + SNIPPET_WORDS]
    if not window:
        return Snippet(Markup(""), "")
    begin = 0 if first == 0 else window[0][0]
    finish = len(text) if window[-1] == spans[-1] else window[-1][1]
    hit_spans = {spans[i] for i in hits}
    out: list[Markup] = [Markup("… ") if first else Markup("")]
    cursor = begin
    for span in window:
        out.append(escape(text[cursor : span[0]]))
        word = text[span[0] : span[1]]
        out.append(Markup("<mark>{}</mark>").format(word) if span in hit_spans else escape(word))
        cursor = span[1]
    out.append(escape(text[cursor:finish]))
    out.append(Markup(" …") if finish < len(text) else Markup(""))
    return Snippet(Markup("").join(out), text[begin:finish])
