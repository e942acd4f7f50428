"""Token-boundary, case-insensitive dictionary lookup with Aho-Corasick."""

from __future__ import annotations

import random
import time

import pytest

from ctakes_llm.errors import KnowledgeError
from ctakes_llm.knowledge.bsv import DictionaryEntry
from ctakes_llm.knowledge.dictionary_matcher import DictionaryMatcher, MatchPolicy, normalize_term

PAIN = DictionaryEntry("C0030193", "T184", "pain")
CHEST = DictionaryEntry("C0817096", "T029", "chest")
CHEST_PAIN = DictionaryEntry("C0008031", "T184", "chest pain")
XRAY = DictionaryEntry("C0043299", "T060", "X-ray")


def _found(matcher: DictionaryMatcher, text: str, **kwargs: object) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (text[m.begin : m.end], tuple(e.cui for e in m.entries))
        for m in matcher.find(text, **kwargs)  # type: ignore[arg-type]
    ]


def test_normalize_term_lowercases_and_splits_punctuation() -> None:
    assert normalize_term("  Chest   PAIN, x-Ray's 2.5mg ") == "chest pain , x - ray ' s 2 . 5mg"


def test_find_is_case_insensitive_and_tolerates_whitespace() -> None:
    matcher = DictionaryMatcher([CHEST_PAIN])
    assert _found(matcher, "Denies CHEST  Pain or chest\npain.") == [
        ("CHEST  Pain", ("C0008031",)),
        ("chest\npain", ("C0008031",)),
    ]


def test_find_only_matches_on_token_boundaries() -> None:
    matcher = DictionaryMatcher([PAIN, XRAY])
    assert _found(matcher, "painful spain pain2 xray x-rays; pain x - ray") == [
        ("pain", ("C0030193",)),
        ("x - ray", ("C0043299",)),
    ]


def test_find_keeps_the_longest_match_by_default_and_every_match_when_asked() -> None:
    matcher = DictionaryMatcher([PAIN, CHEST, CHEST_PAIN])
    text = "chest pain"
    assert _found(matcher, text) == [("chest pain", ("C0008031",))]
    assert _found(matcher, text, policy=MatchPolicy.ALL) == [
        ("chest", ("C0817096",)),
        ("chest pain", ("C0008031",)),
        ("pain", ("C0030193",)),
    ]


def test_find_never_crosses_a_window() -> None:
    matcher = DictionaryMatcher([CHEST_PAIN, PAIN])
    text = "Chest. Pain"
    assert _found(matcher, "Chest pain", windows=[(0, 5), (6, 10)]) == [("pain", ("C0030193",))]
    assert _found(matcher, text, windows=[(0, 6)]) == []


def test_find_groups_entries_of_the_same_term() -> None:
    flu_a = DictionaryEntry("C0021400", "T047", "Influenza")
    flu_b = DictionaryEntry("C0021400", "T047", "influenza", "Influenza")
    flu_c = DictionaryEntry("C9999999", "T184", "INFLUENZA")
    matcher = DictionaryMatcher([flu_a, flu_b, flu_c, flu_a])
    [match] = matcher.find("flu: influenza")
    assert match.entries == (flu_a, flu_b, flu_c)
    assert (matcher.term_count, matcher.entry_count) == (1, 3)


def test_find_returns_code_point_offsets_around_wide_and_special_characters() -> None:
    matcher = DictionaryMatcher([CHEST_PAIN, DictionaryEntry("C1", "T047", "istanbul fever")])
    text = "😀 İ chest pain; İstanbul fever"
    assert _found(matcher, text) == [("chest pain", ("C0008031",)), ("İstanbul fever", ("C1",))]


def test_matcher_needs_a_term() -> None:
    with pytest.raises(KnowledgeError, match="E508"):
        DictionaryMatcher([DictionaryEntry("C1", None, "  \t ")])


def test_find_is_fast_with_a_large_dictionary() -> None:
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(5000)]
    entries = [
        DictionaryEntry(f"C{i:07d}", "T047", " ".join(rng.sample(words, rng.randint(1, 3)))) for i in range(20_000)
    ]
    start = time.perf_counter()
    matcher = DictionaryMatcher(entries)
    built = time.perf_counter() - start
    text = " ".join(rng.choice(words) for _ in range(15_000))[:100_000]
    start = time.perf_counter()
    matches = matcher.find(text)
    found = time.perf_counter() - start
    assert matches and all(text[m.begin : m.end].lower() == m.entries[0].text for m in matches[:100])
    assert built < 10.0 and found < 1.0
