"""Sentence and section splitting of clinical notes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ctakes_llm.cas.ctakes_types import SENTENCE
from ctakes_llm.cas.xmi import read_xmi
from ctakes_llm.ner.sentences import split_sections, split_sentences


def _sentences(text: str, **kwargs: bool) -> list[str]:
    return [text[begin:end] for begin, end in split_sentences(text, **kwargs)]


def test_split_sentences_keeps_titles_initials_and_abbreviations() -> None:
    text = "Mr. Smith was seen by Dr. W. Jones. He takes aspirin 2.5 mg p.o. b.i.d. and metoprolol."
    assert _sentences(text) == [
        "Mr. Smith was seen by Dr. W. Jones.",
        "He takes aspirin 2.5 mg p.o. b.i.d. and metoprolol.",
    ]


def test_split_sentences_ends_at_question_and_exclamation_marks() -> None:
    assert _sentences("Denies chest pain!  Is he febrile? No.") == ["Denies chest pain!", "Is he febrile?", "No."]


def test_split_sentences_does_not_split_before_lowercase() -> None:
    assert _sentences("Pt. was seen e.g. yesterday. Fine.") == ["Pt. was seen e.g. yesterday.", "Fine."]


def test_split_sentences_breaks_at_every_line_like_ctakes() -> None:
    text = "The patient was\nseen today.\n\n\nPLAN\n"
    assert _sentences(text) == ["The patient was", "seen today.", "PLAN"]


def test_split_sentences_joins_wrapped_lines_when_asked() -> None:
    text = "The patient was\nseen today.\nPLAN:\n- aspirin\n- rest\n\nFollow up\nin two weeks"
    assert _sentences(text, break_on_newline=False) == [
        "The patient was\nseen today.",
        "PLAN:",
        "- aspirin",
        "- rest",
        "Follow up\nin two weeks",
    ]


def test_split_sentences_makes_inline_headers_their_own_sentence() -> None:
    text = "HISTORY OF PRESENT ILLNESS: Chest pain. Referral from: Julie Tester, RD\n• Cardiovascular: Denies edema."
    assert _sentences(text) == [
        "HISTORY OF PRESENT ILLNESS:",
        "Chest pain.",
        "Referral from:",
        "Julie Tester, RD",
        "• Cardiovascular:",
        "Denies edema.",
    ]


def test_split_sentences_keeps_list_numbers_with_their_item() -> None:
    text = "1. Hypertension. Controlled.\n2. Diabetes type 2.\na. insulin"
    assert _sentences(text) == ["1. Hypertension.", "Controlled.", "2. Diabetes type 2.", "a. insulin"]


def test_split_sentences_spans_are_trimmed_and_cover_every_visible_character() -> None:
    text = "  \tFirst one.   Second one \n\r\n Third.\t "
    spans = split_sentences(text)
    covered = {i for begin, end in spans for i in range(begin, end)}
    assert all(not text[b].isspace() and not text[e - 1].isspace() for b, e in spans)
    assert {i for i, ch in enumerate(text) if not ch.isspace()} <= covered


def test_split_sentences_uses_code_point_offsets() -> None:
    text = "Pain 😀 here. 中文 sentence."
    assert split_sentences(text) == [(0, 12), (13, len(text))]


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_split_sentences_of_blank_text_is_empty(text: str) -> None:
    assert split_sentences(text) == []


def test_split_sections_finds_header_lines() -> None:
    text = "Intro line.\nCHIEF COMPLAINT\n\nAnnual exam.\n\nHPI: Chest pain.\nPast Medical History:\nAsthma.\n"
    sections = split_sections(text)
    names = [None if s.header_begin is None else text[s.header_begin : s.header_end] for s in sections]
    assert names == [None, "CHIEF COMPLAINT", "HPI", "Past Medical History"]
    assert text[sections[1].begin : sections[1].end] == "CHIEF COMPLAINT\n\nAnnual exam."
    assert sections[-1].end == len(text.rstrip())


def test_split_sections_does_not_take_inline_title_case_labels_for_sections() -> None:
    assert len(split_sections("Height: 144 cm\nWeight: 45 kg\n")) == 1


def test_split_sentences_is_fast_on_a_long_note() -> None:
    text = "HISTORY: The patient, Mr. Smith, takes 2.5 mg p.o. b.i.d. Denies pain.\n" * 1500
    start = time.perf_counter()
    spans = split_sentences(text)
    assert time.perf_counter() - start < 1.0
    assert len(spans) == 3 * 1500


def test_split_sentences_ends_at_colons_and_semicolons_before_space_like_ctakes() -> None:
    text = "Neck: supple; no masses. Time 10:30 and ratio 1:2;ok"
    assert _sentences(text) == ["Neck:", "supple;", "no masses.", "Time 10:30 and ratio 1:2;ok"]


def test_split_sentences_agrees_with_real_ctakes_sentences(shared_dir: Path) -> None:
    total = same = 0
    for path in sorted((shared_dir / "ctakes" / "ctakes-run-output" / "xmi").glob("*.xmi")):
        cas = read_xmi(path)
        theirs = {(s.begin, s.end) for s in cas.select(SENTENCE)}
        total += len(theirs)
        same += len(theirs & set(split_sentences(cas.sofa_string)))
    assert total > 700
    assert same / total > 0.93
