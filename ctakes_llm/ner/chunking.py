"""Split long notes into windows that fit a model, and merge the mentions found in them back into the note.

Windows are made of whole sentences (from :func:`ctakes_llm.ner.sentences.split_sentences`), counted with the
backend's own tokenizer, and consecutive windows share up to ``overlap_tokens`` tokens of whole sentences so a
mention near a boundary is seen with context. They are section-aware: once a window is at least half full it ends
before a sentence that opens a section (one that follows a blank line, or starts with an upper-case heading such
as ``HISTORY OF PRESENT ILLNESS:``).

Nothing is truncated: a sentence longer than the window is split at whitespace (a word longer than the window at
characters) and every window that cuts through a sentence is marked ``forced``, so callers count and report it.
Every non-whitespace character of the note lies in at least one window.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.grounding import resolve_overlaps
from ctakes_llm.ner.mention import Mention
from ctakes_llm.ner.sentences import split_sentences

_NON_SPACE = re.compile(r"\S+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_HEADING = re.compile(r"[A-Z][A-Z0-9 /&,()'-]{2,}:")


@dataclass(frozen=True)
class ChunkConfig:
    """The size of the windows a note is split into, in the backend's tokens.

    Attributes:
        max_tokens: the most tokens of note text in one window (the prompt and the answer come on top).
        overlap_tokens: the most tokens of whole sentences two consecutive windows share.
    """

    max_tokens: int = 512
    overlap_tokens: int = 64

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ConfigError(f"[E303] chunk max_tokens={self.max_tokens} must be at least 1; use 512")
        if not 0 <= self.overlap_tokens < self.max_tokens:
            raise ConfigError(
                f"[E304] chunk overlap_tokens={self.overlap_tokens} must be in [0, {self.max_tokens}); "
                "lower the overlap or raise max_tokens"
            )


@dataclass(frozen=True, slots=True)
class Chunk:
    """One window of a note.

    Attributes:
        begin: code-point offset of the window in the note.
        end: end offset (exclusive).
        text: ``note[begin:end]``.
        forced: the window starts or ends inside a sentence too long for one window.
    """

    begin: int
    end: int
    text: str
    forced: bool = False


@dataclass(frozen=True, slots=True)
class _Unit:
    begin: int
    end: int
    tokens: int
    forced: bool
    opens_section: bool


def chunk_text(
    text: str,
    count_tokens: Callable[[str], int],
    config: ChunkConfig | None = None,
    sentences: Sequence[tuple[int, int]] | None = None,
) -> list[Chunk]:
    """Split ``text`` into sentence-aligned, overlapping windows of at most ``config.max_tokens`` tokens.

    Args:
        text: the note.
        count_tokens: the backend's token counter for a piece of text (no special tokens).
        config: window and overlap sizes.
        sentences: sentence spans to align to; by default :func:`split_sentences` finds them.

    Returns:
        The windows in text order; empty for a text of only whitespace.
    """
    config = config or ChunkConfig()
    spans = split_sentences(text) if sentences is None else sentences
    units = _units(text, spans, count_tokens, config.max_tokens)
    chunks: list[Chunk] = []
    first = 0
    while first < len(units):
        last = _fill(units, first, config.max_tokens)
        while last > first + 1 and count_tokens(text[units[first].begin : units[last - 1].end]) > config.max_tokens:
            last -= 1
        begin, end = units[first].begin, units[last - 1].end
        forced = any(unit.forced for unit in units[first:last])
        chunks.append(Chunk(begin, end, text[begin:end], forced))
        if last >= len(units):
            break
        first = _overlap_start(units, first, last, config.overlap_tokens)
    return chunks


def _fill(units: Sequence[_Unit], first: int, max_tokens: int) -> int:
    """The end index of the greedy window starting at ``first`` (estimated by summing unit counts)."""
    total = 0
    last = first
    while last < len(units):
        unit = units[last]
        if last > first and (total + unit.tokens > max_tokens or (unit.opens_section and 2 * total >= max_tokens)):
            break
        total += unit.tokens
        last += 1
    return last


def _overlap_start(units: Sequence[_Unit], first: int, last: int, overlap_tokens: int) -> int:
    """Where the next window starts: back from ``last`` over whole units within the overlap, always past ``first``."""
    start = last
    shared = 0
    while start - 1 > first and shared + units[start - 1].tokens <= overlap_tokens:
        start -= 1
        shared += units[start].tokens
    return start


def _units(
    text: str, sentences: Sequence[tuple[int, int]], count_tokens: Callable[[str], int], max_tokens: int
) -> list[_Unit]:
    """Sentences (and any text between them) as packable units, each at most ``max_tokens`` tokens."""
    pieces: list[tuple[int, int]] = []
    cursor = 0
    for begin, end in sorted(sentences):
        if begin > cursor:
            pieces.extend(match.span() for match in _NON_SPACE.finditer(text, cursor, begin))
        begin = max(begin, cursor)
        if end > begin and text[begin:end].strip():
            pieces.append(_strip(text, begin, end))
        cursor = max(cursor, end)
    pieces.extend(match.span() for match in _NON_SPACE.finditer(text, cursor))
    units: list[_Unit] = []
    previous_end = 0
    for begin, end in pieces:
        opens = bool(_BLANK_LINE.search(text, previous_end, begin)) or bool(_HEADING.match(text, begin))
        tokens = count_tokens(text[begin:end])
        if tokens <= max_tokens:
            units.append(_Unit(begin, end, tokens, False, opens))
        else:
            units.extend(_split_long(text, begin, end, count_tokens, max_tokens, opens))
        previous_end = end
    return units


def _strip(text: str, begin: int, end: int) -> tuple[int, int]:
    piece = text[begin:end]
    return begin + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip())


def _split_long(
    text: str, begin: int, end: int, count_tokens: Callable[[str], int], max_tokens: int, opens: bool
) -> list[_Unit]:
    """Split a span too long for one window into words, and words too long into character pieces."""
    units: list[_Unit] = []
    for match in _NON_SPACE.finditer(text, begin, end):
        word_begin, word_end = match.span()
        while word_begin < word_end:
            piece_end = _longest_fitting(text, word_begin, word_end, count_tokens, max_tokens)
            tokens = count_tokens(text[word_begin:piece_end])
            units.append(_Unit(word_begin, piece_end, tokens, True, opens and not units))
            word_begin = piece_end
    return units


def _longest_fitting(text: str, begin: int, end: int, count_tokens: Callable[[str], int], max_tokens: int) -> int:
    """The largest ``stop`` in ``(begin, end]`` with ``text[begin:stop]`` within ``max_tokens`` (at least one char)."""
    if count_tokens(text[begin:end]) <= max_tokens:
        return end
    low, high = begin + 1, end
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens(text[begin:middle]) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return low


def merge_chunk_mentions(chunk_mentions: Sequence[tuple[Chunk, Sequence[Mention]]]) -> tuple[list[Mention], int]:
    """Map mentions found in windows back to note offsets and merge the duplicates that overlapping windows make.

    Args:
        chunk_mentions: each window with the mentions found in it, offsets relative to the window text.

    Returns:
        The note's mentions sorted by offset, and how many were merged away (same class, overlapping spans: the
        longest wins, see :func:`~ctakes_llm.ner.grounding.resolve_overlaps`).
    """
    shifted = [
        dataclasses.replace(mention, begin=mention.begin + chunk.begin, end=mention.end + chunk.begin)
        for chunk, mentions in chunk_mentions
        for mention in mentions
    ]
    return resolve_overlaps(shifted)
