"""Fast dictionary lookup: every dictionary term in a text, on token boundaries, case-insensitively.

Terms and text are compared as sequences of *match tokens*: runs of letters and digits, and single visible
characters (punctuation, symbols). Case and the amount of whitespace between tokens do not matter, so the term
``chest pain`` matches ``Chest  PAIN``, ``x-ray`` matches ``X - ray``, and ``pain`` never matches inside
``painful``. One Aho-Corasick automaton (pyahocorasick) over all normalized terms finds every occurrence in one pass
over the normalized text, whatever the dictionary size; build the matcher once and reuse it.

Offsets are Python code points into the original text, half-open.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from ctakes_llm.errors import KnowledgeError
from ctakes_llm.knowledge.bsv import DictionaryEntry

_MATCH_TOKEN = re.compile(r"[^\W_]+|\S")
# Terms and windows of text are written as " tok tok ... tok ": a term key starts and ends with the space that only
# token boundaries have, so the automaton reports whole-token matches only. Windows are joined with a line break,
# which no key contains, so no match crosses one.
_SPACE = " "
_WINDOW_BREAK = "\n"


class MatchPolicy(enum.Enum):
    """Which of overlapping matches to keep."""

    LONGEST = "longest"  # leftmost-longest, no two matches overlap
    ALL = "all"  # every match, nested ones included (cTAKES's DefaultTermConsumer)


@dataclass(frozen=True, slots=True)
class DictionaryMatch:
    """A span of the text equal to one normalized dictionary term, with every entry of that term."""

    begin: int
    end: int
    entries: tuple[DictionaryEntry, ...]


def normalize_term(text: str) -> str:
    """The form terms are compared in: lower-case match tokens joined by one space (``"X-Ray"`` → ``"x - ray"``)."""
    return " ".join(_MATCH_TOKEN.findall(text.lower()))


class DictionaryMatcher:
    """An index of dictionary terms that finds them in texts.

    Args:
        entries: the dictionary entries; entries whose text normalizes to the same term are found together.

    Raises:
        KnowledgeError: no entry has a term with a visible character.
    """

    def __init__(self, entries: Iterable[DictionaryEntry]) -> None:
        groups: dict[str, dict[DictionaryEntry, None]] = {}
        for entry in entries:
            term = normalize_term(entry.text)
            if term:
                groups.setdefault(f"{_SPACE}{term}{_SPACE}", {})[entry] = None
        if not groups:
            raise KnowledgeError("[E508] the dictionary has no term to look up; give entries with non-blank text")
        automaton = ahocorasick.Automaton()
        for key, group in groups.items():
            automaton.add_word(key, (len(key), tuple(group)))
        automaton.make_automaton()
        self._automaton = automaton
        self.term_count = len(groups)
        self.entry_count = sum(len(group) for group in groups.values())

    def find(
        self,
        text: str,
        windows: Sequence[tuple[int, int]] | None = None,
        policy: MatchPolicy = MatchPolicy.LONGEST,
    ) -> list[DictionaryMatch]:
        """Find the dictionary terms in ``text``.

        Args:
            text: the document text.
            windows: spans no match may cross (cTAKES looks terms up within sentences); by default the whole text.
                Text outside every window is not searched.
            policy: which overlapping matches to keep.

        Returns:
            The matches ordered by begin, then end.
        """
        normalized, begins, ends = _normalize(text, [(0, len(text))] if windows is None else windows)
        found = [
            DictionaryMatch(begins[last - length + 1], ends[last], entries)
            for last, (length, entries) in self._automaton.iter(normalized)
        ]
        if policy is MatchPolicy.ALL:
            return sorted(found, key=lambda m: (m.begin, m.end))
        kept: list[DictionaryMatch] = []
        covered_to = -1
        for match in sorted(found, key=lambda m: (m.begin, -m.end)):
            if match.begin >= covered_to:
                kept.append(match)
                covered_to = match.end
        return kept


def _normalize(text: str, windows: Sequence[tuple[int, int]]) -> tuple[str, dict[int, int], dict[int, int]]:
    """The windows' normalized tokens, and maps from the spaces before / after each token to its text offsets."""
    lowered = _lower_keeping_offsets(text)
    pieces: list[str] = []
    begins: dict[int, int] = {}
    ends: dict[int, int] = {}
    position = 0
    for window_begin, window_end in sorted(windows):
        pieces.append(_WINDOW_BREAK)
        position += 1
        for match in _MATCH_TOKEN.finditer(lowered, window_begin, window_end):
            token = match.group()
            begins[position] = match.start()
            pieces.append(_SPACE)
            pieces.append(token)
            position += 1 + len(token)
            ends[position] = match.end()
        pieces.append(_SPACE)
        position += 1
    return "".join(pieces), begins, ends


def _lower_keeping_offsets(text: str) -> str:
    """``text.lower()``, one character per character: a longer lower case keeps its first (``İ`` → ``i``)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(ch.lower()[:1] or ch for ch in text)
