"""Sentence-aware windows: every wordpiece in exactly one window, windows within the limit, sentences kept whole."""

from __future__ import annotations

from ctakes_llm.training.windows import document_windows, pack_windows, sentence_starts


def test_sentence_starts_split_at_periods_and_newlines() -> None:
    text = "Fever. Pain at 3 p.m. today.\nCT normal."
    assert sentence_starts(text) == [0, 7, 29]


def test_pack_windows_keeps_sentences_whole_and_cuts_long_ones() -> None:
    offsets = [(i, i + 1) for i in range(10)]
    windows = pack_windows(list(range(10)), offsets, [0, 3, 5], capacity=4)
    assert [w.input_ids for w in windows] == [(0, 1, 2), (3, 4), (5, 6, 7, 8), (9,)]


def test_document_windows_cover_every_wordpiece_once(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(f"Sentence number {i} mentions hypertension and metoprolol." for i in range(40))
    windows = document_windows(text, tokenizer, max_wordpieces=32)
    everything = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    assert [o for w in windows for o in w.offsets] == [tuple(o) for o in everything["offset_mapping"]]
    assert all(len(w.input_ids) <= 30 for w in windows)
    assert all(text[w.offsets[0][0]] == "S" for w in windows)
