"""A fast rule-based tokenizer shaped like cTAKES's PTB tokenizer (``TokenizerAnnotatorPTB``).

Plain text in, ``Token`` values out: no CAS. Offsets are Python code points, half-open. The token kinds mirror the
cTAKES ``BaseToken`` subtypes. Like cTAKES, the text is tokenized sentence by sentence, because a word's final
period belongs to the word inside a sentence (``Dr.``, ``mg.``, ``W.``) but is punctuation at its end. The rules,
as cTAKES 4.0 applies them:

- every line break is a newline token (``\\r\\n`` is one);
- a run of letters and digits is one word (``20mg``, ``SpO2``, ``20Feb1999``), or a number if all digits;
- a hyphen splits unless it follows a listed prefix (``x-ray``, ``post-op``, ``mid-20s``) or starts a listed suffix
  (``-itis``, ``-less``); telephone numbers and ZIP+4 codes (``555-1212``, ``55901-0001``) stay whole;
- numbers keep a decimal part and thousands groups (``2.5``, ``1,500.25``, ``.5``); inside a sentence ``2.`` keeps
  its period;
- contractions split PTB-style into a word and a contraction (``do`` ``n't``, ``patient`` ``'s``, ``can`` ``not``);
- ``;:,.()[]{}<>'"/\\-`` are punctuation (``...`` is one); every other visible character (``?``, ``!``, ``%``,
  ``+``, emoji) is a one-character symbol, as in cTAKES.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ctakes_llm.ner.sentences import split_sentences


class TokenKind(enum.Enum):
    """The cTAKES ``BaseToken`` subtype a token becomes."""

    WORD = "word"
    PUNCT = "punct"
    NUM = "num"
    NEWLINE = "newline"
    SYMBOL = "symbol"
    CONTRACTION = "contraction"


@dataclass(frozen=True, slots=True)
class Token:
    """One token: a half-open code-point span of the text and its kind."""

    begin: int
    end: int
    kind: TokenKind


# Hyphenated prefixes and suffixes that keep a hyphenated word whole (the PTB / ETTB 2.0 guideline lists).
HYPHEN_PREFIXES: frozenset[str] = frozenset(
    {
        *("e", "a", "u", "x", "agro", "ante", "anti", "arch", "be", "bi", "bio", "co", "counter", "cross", "cyber"),
        *("de", "eco", "ex", "extra", "inter", "intra", "macro", "mega", "micro", "mid", "mini", "multi", "neo"),
        *("non", "over", "pan", "para", "peri", "post", "pre", "pro", "pseudo", "quasi", "re", "semi", "sub"),
        *("super", "tri", "ultra", "un", "uni", "vice", "electro", "gasto", "homo", "hetero", "ortho", "phospho"),
    }
)
HYPHEN_SUFFIXES: frozenset[str] = frozenset(
    {"esque", "ette", "fest", "fold", "gate", "itis", "less", "most", "rama", "wise"}
)
PUNCTUATION_CHARS = ";:,.()[]{}<>'\"/\\-"

_LETTER = r"[^\W\d_]"
_ALNUM = r"[^\W_]"
_END = rf"(?!{_ALNUM})"
_PREFIXES = "|".join(sorted(HYPHEN_PREFIXES, key=len, reverse=True))
_SUFFIXES = "|".join(sorted(HYPHEN_SUFFIXES, key=len, reverse=True))
# telephone numbers (4-5555, 555-1212, 507-555-1212, 1-507-555-1212) and ZIP+4 codes
_PHONE = r"(?:\d-\d{4}|\d{3}-\d{4}|\d{5}-\d{4}|\d{3}-\d{3}-\d{4}|\d-\d{3}-\d{3}-\d{4})(?![\d-])"
# The token alternatives, tried in order at each position; the first that matches wins.
_ALTERNATIVES = rf"""
    (?P<multiword>(?i:cannot|gonna|gotta|wanna|lemme){_END})
    | (?P<alnum>{_ALNUM}+(?=[\s;)\]}}"/]|,(?!\d)|\Z))  # the common case first, for speed
    | (?P<newline>\r\n|[\n\r\u2028\u2029])
    | (?P<ellipsis>\.\.\.)
    | (?P<url>(?i:https?://|ftp://|mailto:)\S+)
    | (?P<email>[\w.+-]+@{_ALNUM}+(?:[.-]{_ALNUM}+)*\.{_LETTER}{{2,}}{_END})
    | (?P<phone>{_PHONE})
    | (?P<abbreviation>{_LETTER}+(?:\.{_LETTER}+)*\.(?=[\s?!:]))
    | (?P<contraction>(?<={_LETTER})(?i:n't|'s|'ve|'re|'ll|'d){_END})
    | (?P<negated>{_LETTER}+(?=(?i:n't){_END}))
    | (?P<hyphenated>(?i:{_PREFIXES})-{_ALNUM}+|{_ALNUM}+-(?i:{_SUFFIXES}){_END})
    | (?P<decade>\d+'s{_END})
    | (?P<comma_number>\d+(?:,\d{{3}}(?!\d))+(?:\.\d+)?)
    | (?P<decimal>\d+\.\d+|\d+\.(?=[\s\S])|\.\d+)
    | (?P<run>{_ALNUM}+)
    | (?P<punct>[{re.escape(PUNCTUATION_CHARS)}])
    | (?P<symbol>\S)
    """
# Every alternative starts with a visible character or a line break. Rejecting the other whitespace up front, instead
# of trying each alternative there, halves the time of the scan and changes no match.
_NO_TOKEN_STARTS_HERE = r"(?![^\S\n\r\u2028\u2029])"
_PATTERN = re.compile(rf"{_NO_TOKEN_STARTS_HERE}(?:{_ALTERNATIVES})", re.VERBOSE)
_KIND_BY_GROUP = {
    "newline": TokenKind.NEWLINE,
    "ellipsis": TokenKind.PUNCT,
    "url": TokenKind.WORD,
    "email": TokenKind.WORD,
    "phone": TokenKind.WORD,
    "abbreviation": TokenKind.WORD,
    "contraction": TokenKind.CONTRACTION,
    "negated": TokenKind.WORD,
    "hyphenated": TokenKind.WORD,
    "decade": TokenKind.WORD,
    "comma_number": TokenKind.NUM,
    "decimal": TokenKind.NUM,
    "punct": TokenKind.PUNCT,
    "symbol": TokenKind.SYMBOL,
}


def tokenize(text: str, sentences: Sequence[tuple[int, int]] | None = None) -> list[Token]:
    """Split ``text`` into cTAKES-shaped tokens, sentence by sentence.

    Whitespace other than line breaks is never part of a token. Text outside the sentences (line breaks between
    them, or anything the given spans leave out) is tokenized too, so every visible character is in a token.

    Args:
        text: the document text.
        sentences: sentence spans to tokenize within (for example cTAKES ``Sentence`` offsets already in a CAS);
            by default :func:`ctakes_llm.ner.sentences.split_sentences` of ``text``.

    Returns:
        The tokens in text order.
    """
    return [Token(begin, end, kind) for begin, end, kind in token_spans(text, sentences)]


def token_spans(text: str, sentences: Sequence[tuple[int, int]] | None = None) -> list[tuple[int, int, TokenKind]]:
    """:func:`tokenize` as plain ``(begin, end, kind)`` tuples, for loops that handle every token of many notes.

    Args:
        text: the document text.
        sentences: as for :func:`tokenize`.

    Returns:
        The token spans and kinds in text order.
    """
    spans = split_sentences(text) if sentences is None else sorted(sentences)
    tokens: list[tuple[int, int, TokenKind]] = []
    position = 0
    for begin, end in spans:
        if end <= position:
            continue
        begin = max(begin, position)
        if begin > position:
            _scan(text, position, begin, tokens)
        _scan(text, begin, end, tokens)
        position = end
    if position < len(text):
        _scan(text, position, len(text), tokens)
    return tokens


def capitalization(word: str) -> int:
    """cTAKES ``WordToken.capitalization``: 0 no capitals, 1 first letter only, 2 mixed, 3 all capitals.

    Args:
        word: the token text.

    Returns:
        The code cTAKES stores (``TokenizerAnnotator.TOKEN_CAP_*``).
    """
    if word.islower():  # the common case, answered in C: a lower-case string has no upper-case character
        return 0
    uppers = sum(map(str.isupper, word))
    if uppers == 0:
        return 0
    if len(word) > 1 and uppers == len(word):
        return 3
    if word[0].isupper() and uppers == 1:
        return 1
    return 2


def num_position(word: str) -> int:
    """cTAKES ``WordToken.numPosition``: 0 no digit, 1 starts with a digit, 2 digit inside, 3 ends with a digit.

    Args:
        word: the token text.

    Returns:
        The code cTAKES stores (``TokenizerAnnotator.TOKEN_NUM_POS_*``).
    """
    if not word or word.isalpha():  # no character is both a letter and a digit (tests check every code point)
        return 0
    if word[0].isdigit():
        return 1
    if word[-1].isdigit():
        return 3
    return 2 if any(map(str.isdigit, word)) else 0


def num_type(number: str) -> int:
    """cTAKES ``NumToken.numType``: 1 integer, 2 decimal (anything with a period).

    Args:
        number: the token text.

    Returns:
        The code cTAKES stores (``TokenizerAnnotator.TOKEN_NUM_TYPE_*``).
    """
    return 2 if "." in number else 1


def _scan(text: str, begin: int, end: int, tokens: list[tuple[int, int, TokenKind]]) -> None:
    """Append the tokens of ``text[begin:end]`` (one sentence or the gap between two)."""
    kinds = _KIND_BY_GROUP
    word, num = TokenKind.WORD, TokenKind.NUM
    for match in _PATTERN.finditer(text, begin, end):
        group = match.lastgroup
        start, stop = match.span()
        if group in ("alnum", "run"):
            tokens.append((start, stop, num if match.group().isdigit() else word))
        elif group == "multiword":  # "cannot" -> "can" + "not", "gonna" -> "gon" + "na", as PTB splits them
            tokens.append((start, start + 3, word))
            tokens.append((start + 3, stop, TokenKind.CONTRACTION))
        else:
            tokens.append((start, stop, kinds[group]))  # type: ignore[index]
