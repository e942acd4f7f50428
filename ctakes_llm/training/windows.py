"""Cut a document into model windows of at most ``max_wordpieces`` wordpieces along sentence boundaries.

Sentences are packed greedily into a window; a sentence longer than a window is cut into window-sized pieces.
Every wordpiece of the document lands in exactly one window, so predictions over windows need no merging.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# A sentence ends at a line break, or at . ! ? followed by space and an upper-case letter, digit or bracket.
_SENTENCE_END = re.compile(r"\n+|(?<=[.!?])\s+(?=[A-Z0-9(\[])")


@dataclass(frozen=True, slots=True)
class Window:
    """One model input: wordpiece ids (without special tokens) and their character offsets in the document."""

    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int], ...]


def sentence_starts(text: str) -> list[int]:
    """Character offsets where sentences begin (the first is 0)."""
    return [0] + [match.end() for match in _SENTENCE_END.finditer(text)]


def document_windows(text: str, tokenizer: Any, max_wordpieces: int) -> list[Window]:
    """Tokenize ``text`` once and pack its sentences into windows.

    Args:
        text: The document.
        tokenizer: A fast Hugging Face tokenizer (offset mappings are needed).
        max_wordpieces: Window length including [CLS] and [SEP].
    """
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    ids: list[int] = encoding["input_ids"]
    offsets: list[tuple[int, int]] = [tuple(pair) for pair in encoding["offset_mapping"]]
    return pack_windows(ids, offsets, sentence_starts(text), max_wordpieces - 2)


def pack_windows(
    ids: Sequence[int], offsets: Sequence[tuple[int, int]], starts: Sequence[int], capacity: int
) -> list[Window]:
    """Group tokens into sentences by ``starts`` and pack the sentences into windows of ``capacity`` tokens."""
    sentences: list[tuple[int, int]] = []
    start_index = 0
    boundary = iter(starts[1:])
    next_start = next(boundary, None)
    for index, (begin, _) in enumerate(offsets):
        while next_start is not None and begin >= next_start:
            if index > start_index:
                sentences.append((start_index, index))
                start_index = index
            next_start = next(boundary, None)
    if start_index < len(ids):
        sentences.append((start_index, len(ids)))
    pieces = [(begin, min(begin + capacity, end)) for first, end in sentences for begin in range(first, end, capacity)]
    windows: list[Window] = []
    current: tuple[int, int] | None = None
    for begin, end in pieces:
        if current is not None and end - current[0] <= capacity:
            current = (current[0], end)
            continue
        if current is not None:
            windows.append(Window(tuple(ids[current[0] : current[1]]), tuple(offsets[current[0] : current[1]])))
        current = (begin, end)
    if current is not None:
        windows.append(Window(tuple(ids[current[0] : current[1]]), tuple(offsets[current[0] : current[1]])))
    return windows
