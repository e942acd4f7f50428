"""The cTAKES-shaped PTB tokenizer, checked against rules and against real cTAKES 4.0 output."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from cassis import load_cas_from_xmi, load_typesystem

from ctakes_llm.cas.ctakes_types import BASE_TOKEN, SENTENCE
from ctakes_llm.ner import tokens
from ctakes_llm.ner.tokens import TokenKind, capitalization, num_position, num_type, token_spans, tokenize

W, P, N, NL, S, C = (
    TokenKind.WORD,
    TokenKind.PUNCT,
    TokenKind.NUM,
    TokenKind.NEWLINE,
    TokenKind.SYMBOL,
    TokenKind.CONTRACTION,
)


def _pairs(text: str) -> list[tuple[str, TokenKind]]:
    return [(text[t.begin : t.end], t.kind) for t in tokenize(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Nutritious\n", [("Dr.", W), ("Nutritious", W), ("\n", NL)]),
        ("take 2.5 mg p.o. daily.", [("take", W), ("2.5", N), ("mg", W), ("p.o.", W), ("daily", W), (".", P)]),
        ("HB + 20% (kcals):", [("HB", W), ("+", S), ("20", N), ("%", S), ("(", P), ("kcals", W), (")", P), (":", P)]),
        ("3-day 02-29-2001", [("3", N), ("-", P), ("day", W), ("02", N), ("-", P), ("29", N), ("-", P), ("2001", N)]),
        (
            "x-ray post-op mid-20s self-exam",
            [("x-ray", W), ("post-op", W), ("mid-20s", W), ("self", W), ("-", P), ("exam", W)],
        ),
        ("once-a-day", [("once", W), ("-", P), ("a-day", W)]),
        ("(555) 555-1212", [("(", P), ("555", N), (")", P), ("555-1212", W)]),
        ("20mg SpO2 1,500.25 .5", [("20mg", W), ("SpO2", W), ("1,500.25", N), (".5", N)]),
        (
            "doesn't the patient's cannot",
            [("does", W), ("n't", C), ("the", W), ("patient", W), ("'s", C), ("can", W), ("not", C)],
        ),
        ("ok? yes! ...", [("ok", W), ("?", S), ("yes", W), ("!", S), ("...", P)]),
        ("line\r\nnext", [("line", W), ("\r\n", NL), ("next", W)]),
        ("pain 😀 中文 café", [("pain", W), ("😀", S), ("中文", W), ("café", W)]),
    ],
)
def test_tokenize_follows_ctakes_ptb_rules(text: str, expected: list[tuple[str, TokenKind]]) -> None:
    assert _pairs(text) == expected


def test_tokenize_keeps_a_word_period_inside_a_sentence_but_not_at_its_end() -> None:
    assert _pairs("Mrs. M. has 5 mg. daily. Then") == [
        ("Mrs.", W),
        ("M.", W),
        ("has", W),
        ("5", N),
        ("mg.", W),
        ("daily", W),
        (".", P),
        ("Then", W),
    ]


def test_tokenize_within_given_sentences() -> None:
    text = "Seen by Dr. Smith today"
    # a sentence ending right after "Dr." makes its period punctuation, as cTAKES would
    assert _pairs(text)[2] == ("Dr.", W)
    tokens = tokenize(text, sentences=[(0, 11), (12, len(text))])
    assert [(text[t.begin : t.end], t.kind) for t in tokens][2:4] == [("Dr", W), (".", P)]


def test_tokenize_never_crosses_whitespace_and_covers_every_visible_character() -> None:
    text = "Pt c/o SOB,\tDOE x2 wks; BP 120/80 -- HR 88 bpm @ rest. T 98.6F.\n\nNo   edema ~ [ok]"
    tokens = tokenize(text)
    assert all(not any(ch.isspace() for ch in text[t.begin : t.end]) or t.kind is NL for t in tokens)
    covered = {i for t in tokens for i in range(t.begin, t.end)}
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace() or ch == "\n"}


@pytest.mark.parametrize(
    ("word", "caps", "num_pos"),
    [
        ("pain", 0, 0),
        ("Pain", 1, 0),
        ("CNSD", 3, 0),
        ("A", 1, 0),
        ("W.", 1, 0),
        ("BPs", 2, 0),
        ("G3", 1, 3),
        ("20AM", 2, 1),
        ("x1", 0, 3),
        ("mid-20s", 0, 2),
        ("SpO2", 2, 3),
        ("20mg", 0, 1),
    ],
)
def test_word_features_match_ctakes_codes(word: str, caps: int, num_pos: int) -> None:
    assert (capitalization(word), num_position(word)) == (caps, num_pos)


def test_num_type_is_decimal_with_a_period() -> None:
    assert (num_type("144"), num_type("98.7"), num_type("2.")) == (1, 2, 2)


def test_tokenize_is_fast_on_a_100k_character_note() -> None:
    text = ("HISTORY: Mr. Smith doesn't take 2.5 mg p.o. b.i.d.; BP 120/80, x-ray (neg). Denies pain!\n" * 1200)[
        :100_000
    ]
    start = time.perf_counter()
    tokens = tokenize(text)
    assert time.perf_counter() - start < 1.0
    assert len(tokens) > 20_000


def test_tokenize_agrees_with_real_ctakes_tokens(shared_dir: Path) -> None:
    run = shared_dir / "ctakes" / "ctakes-run-output"
    with (run / "TypeSystem.xml").open("rb") as handle:
        typesystem = load_typesystem(handle)
    kind_names = {
        "WordToken": W,
        "PunctuationToken": P,
        "NumToken": N,
        "NewlineToken": NL,
        "SymbolToken": S,
        "ContractionToken": C,
    }
    total = same_with_their_sentences = same_with_ours = 0
    for path in sorted((run / "xmi").glob("*.xmi")):
        with path.open("rb") as handle:
            cas = load_cas_from_xmi(handle, typesystem=typesystem)
        text = cas.sofa_string
        gold = {(t.begin, t.end, kind_names[t.type.name.rsplit(".", 1)[1]]) for t in cas.select(BASE_TOKEN)}
        their_sentences = [(s.begin, s.end) for s in cas.select(SENTENCE)]
        total += len(gold)
        same_with_their_sentences += len(gold & {(t.begin, t.end, t.kind) for t in tokenize(text, their_sentences)})
        same_with_ours += len(gold & {(t.begin, t.end, t.kind) for t in tokenize(text)})
    assert total > 5000
    assert same_with_their_sentences / total > 0.995
    assert same_with_ours / total > 0.99


def _capitalization_by_definition(word: str) -> int:
    uppers = sum(1 for ch in word if ch.isupper())
    if uppers == 0:
        return 0
    if len(word) > 1 and uppers == len(word):
        return 3
    return 1 if word[0].isupper() and uppers == 1 else 2


def _num_position_by_definition(word: str) -> int:
    if not word:
        return 0
    if word[0].isdigit():
        return 1
    if word[-1].isdigit():
        return 3
    return 2 if any(ch.isdigit() for ch in word) else 0


TRICKY_WORDS = [
    "",
    "a",
    "A",
    "ab",
    "Ab",
    "AB",
    "aB",
    "DM2",
    "2DM",
    "x²",
    "²x",
    "a٣b",
    "ǅemal",
    "ǅ",
    "\u210d",
    "\u210da",
    "A中",
    "中",
]
TRICKY_WORDS += ["İstanbul", "ß", "ẞ", "ﬁber", "Ⅻ", "ⅻ", "ΑΒΓ", "δε", "Émile", "e.g", "N/A", "3'", "a_b", "ᾈ"]


@pytest.mark.parametrize("word", TRICKY_WORDS)
def test_word_features_equal_their_definitions(word: str) -> None:
    assert capitalization(word) == _capitalization_by_definition(word)
    assert num_position(word) == _num_position_by_definition(word)


def test_no_character_is_both_a_letter_and_a_digit() -> None:
    """``num_position`` answers 0 for any all-letter word without looking for digits; that needs this to hold."""
    assert [c for c in map(chr, range(sys.maxunicode + 1)) if c.isalpha() and c.isdigit()] == []


def test_no_token_starts_at_whitespace_other_than_a_line_break(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tokenizer skips such positions before trying its alternatives; none of them could match there."""
    unguarded = re.compile(tokens._ALTERNATIVES, re.VERBOSE)
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace() and c not in "\n\r\u2028\u2029"]
    assert len(spaces) > 20
    for space in spaces:
        assert unguarded.match(space + "x") is None and unguarded.match("a" + space + "'s", 1) is None
    text = "".join(f"Dr.{space}W.{space}Smith's{space}x-ray{space}2.5{space}..." for space in spaces) + "\r\n\u2028"
    guarded = token_spans(text)
    monkeypatch.setattr(tokens, "_PATTERN", unguarded)
    assert token_spans(text) == guarded


def test_token_spans_are_the_tokens_as_tuples() -> None:
    text = "Pt can't   breathe;\r\nSpO2 88%, 1,500.5 mL — e.g. x-ray."
    assert token_spans(text) == [(t.begin, t.end, t.kind) for t in tokenize(text)]
