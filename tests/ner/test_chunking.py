"""Chunking: windows that fit, overlap, respect sentences and sections, and never drop text."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.chunking import Chunk, ChunkConfig, chunk_text, merge_chunk_mentions
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass


def words(text: str) -> int:
    """A whitespace token counter standing in for a backend tokenizer."""
    return len(text.split())


def chars(text: str) -> int:
    return len(text)


def _assert_covers(text: str, chunks: list[Chunk]) -> None:
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.begin : chunk.end] == chunk.text
        for index in range(chunk.begin, chunk.end):
            covered[index] = True
    assert all(covered[index] for index, char in enumerate(text) if not char.isspace())
    assert [chunk.begin for chunk in chunks] == sorted(chunk.begin for chunk in chunks)


def test_chunk_config_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="E303"):
        ChunkConfig(max_tokens=0)
    with pytest.raises(ConfigError, match="E304"):
        ChunkConfig(max_tokens=10, overlap_tokens=10)


def test_chunk_text_of_whitespace_is_empty() -> None:
    assert chunk_text(" \n\t ", words) == []


def test_chunk_text_keeps_a_short_note_whole() -> None:
    text = "  Chest pain. No fever.\n"
    assert chunk_text(text, words) == [Chunk(2, 23, "Chest pain. No fever.")]


def test_chunk_text_windows_fit_and_align_to_sentences() -> None:
    text = " ".join(f"Sentence number {n} has six words." for n in range(30))
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=20, overlap_tokens=0))
    assert all(words(chunk.text) <= 20 for chunk in chunks)
    assert all(chunk.text.startswith("Sentence") and chunk.text.endswith(".") for chunk in chunks)
    assert all(not chunk.forced for chunk in chunks)
    assert all(first.end <= second.begin for first, second in itertools.pairwise(chunks))
    _assert_covers(text, chunks)


def test_chunk_text_overlaps_whole_sentences() -> None:
    text = " ".join(f"Sentence number {n} has six words." for n in range(30))
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=20, overlap_tokens=6))
    for first, second in itertools.pairwise(chunks):
        shared = text[second.begin : first.end]
        assert second.begin < first.end and words(shared) == 6 and shared.startswith("Sentence")
    _assert_covers(text, chunks)


def test_chunk_text_splits_an_overlong_sentence_at_whitespace_and_marks_it() -> None:
    text = "Short one. " + " ".join(f"w{n}" for n in range(50)) + ". Done."
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=12, overlap_tokens=2))
    assert any(chunk.forced for chunk in chunks)
    assert all(words(chunk.text) <= 12 for chunk in chunks)
    assert all(text[chunk.begin - 1 : chunk.begin].isspace() or chunk.begin == 0 for chunk in chunks)
    _assert_covers(text, chunks)


def test_chunk_text_splits_a_word_longer_than_the_window_at_characters() -> None:
    text = "Result: " + "A" * 95 + " end."
    chunks = chunk_text(text, chars, ChunkConfig(max_tokens=20, overlap_tokens=0))
    assert all(len(chunk.text) <= 20 for chunk in chunks)
    assert sum(chunk.forced for chunk in chunks) >= 5
    _assert_covers(text, chunks)


def test_chunk_text_ends_a_half_full_window_before_a_section() -> None:
    text = "Chest pain since noon. Worse on exertion.\n\nMEDICATIONS: aspirin daily. Metformin twice."
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=14, overlap_tokens=0))
    assert [chunk.text for chunk in chunks] == [
        "Chest pain since noon. Worse on exertion.",
        "MEDICATIONS: aspirin daily. Metformin twice.",
    ]


def test_chunk_text_uses_given_sentences_and_text_between_them() -> None:
    text = "alpha beta. gamma delta. epsilon"
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=2, overlap_tokens=0), sentences=[(0, 11)])
    assert [chunk.text for chunk in chunks] == ["alpha beta.", "gamma delta.", "epsilon"]


def test_chunk_text_handles_a_100000_character_note() -> None:
    paragraph = (
        "HISTORY OF PRESENT ILLNESS: The patient reports chest pain radiating to the left arm since Monday. "
        "He denies fever, chills or shortness of breath.\n\nMEDICATIONS: aspirin 81 mg daily; metformin 500 mg "
        "twice a day.\n"
    )
    text = (paragraph * (100_000 // len(paragraph) + 1))[:100_000]
    started = time.perf_counter()
    chunks = chunk_text(text, words, ChunkConfig(max_tokens=256, overlap_tokens=32))
    elapsed = time.perf_counter() - started
    assert len(text) == 100_000 and len(chunks) > 50
    assert all(words(chunk.text) <= 256 for chunk in chunks)
    _assert_covers(text, chunks)
    assert elapsed < 10


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet="ab .\n", max_size=300),
    st.integers(1, 30),
    st.data(),
)
def test_chunk_text_property_fits_and_covers(text: str, max_tokens: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, max_tokens - 1))
    chunks = chunk_text(text, chars, ChunkConfig(max_tokens=max_tokens, overlap_tokens=overlap))
    assert all(chars(chunk.text) <= max_tokens for chunk in chunks)
    _assert_covers(text, chunks)


def test_merge_chunk_mentions_maps_offsets_and_merges_boundary_duplicates() -> None:
    text = "Chest pain today. Fever tonight. Chest pain again."
    first, second = Chunk(0, 32, text[0:32]), Chunk(18, 50, text[18:50])
    sign = MentionClass.SIGN_SYMPTOM
    merged, removed = merge_chunk_mentions(
        [
            (first, [Mention(sign, 0, 10, "Chest pain"), Mention(sign, 18, 23, "Fever", grounding=Grounding.FUZZY)]),
            (second, [Mention(sign, 0, 5, "Fever"), Mention(sign, 15, 25, "Chest pain")]),
        ]
    )
    assert [(m.begin, m.end, m.grounding) for m in merged] == [
        (0, 10, Grounding.EXACT),
        (18, 23, Grounding.EXACT),
        (33, 43, Grounding.EXACT),
    ]
    assert all(text[m.begin : m.end] == m.text for m in merged)
    assert removed == 1
