"""Turn the strings a generative model proposes into spans of the text it read: offsets are computed, never believed.

Each proposed mention is searched in the chunk text at three levels, and the first level that finds a free
occurrence wins; the mention records the level as its :class:`~ctakes_llm.ner.mention.Grounding`:

1. ``EXACT``: the proposed string occurs verbatim (``text[begin:end] == proposed``).
2. ``NORMALIZED``: equal after :func:`normalize`, which (in this order) maps the Unicode dash variants U+2010 to
   U+2015, U+2212, U+FE58, U+FE63 and U+FF0D to ``-``; the single quote variants U+2018 to U+201B, U+2032, U+FF07
   and the backtick to ``'``; the double quote variants U+201C to U+201F, U+2033 and U+FF02 to ``"``; then
   case-folds (``str.casefold``), collapses every run of whitespace to one space and strips leading and trailing
   whitespace.
3. ``FUZZY``: a window of whole text tokens (words or single punctuation marks) whose normalized form has a
   :class:`difflib.SequenceMatcher` ratio with the normalized proposal of at least
   :attr:`GroundingConfig.fuzzy_threshold`. Proposals shorter than :attr:`GroundingConfig.fuzzy_min_chars`
   (normalized) are never fuzzy-matched, as short strings match noise. Among free windows the best ratio wins.

Exact and normalized matches must respect word boundaries (``pain`` is not found inside ``painful``).
Repeated proposals of one class take successive occurrences in order of appearance (or, when the output format
gives a position hint, the free occurrence nearest the hint). An occurrence overlapping a span already given to a
mention of the same class is not free. A proposal with no free occurrence takes an exact or normalized one that
overlaps a taken span without equalling it (overlap resolution then keeps one); a proposal whose occurrences are
all taken otherwise is a *duplicate*; a proposal found nowhere is *ungrounded*. Both are counted and returned,
never dropped silently, and nothing is invented. Finally, overlapping mentions of the same class are resolved by
:func:`resolve_overlaps` (longest wins).
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.mention import Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)

T = TypeVar("T")

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SINGLE_QUOTES = "\u2018\u2019\u201a\u201b\u2032\uff07`"
_DOUBLE_QUOTES = "\u201c\u201d\u201e\u201f\u2033\uff02"
_TRANSLATION = str.maketrans(
    {**dict.fromkeys(_DASHES, "-"), **dict.fromkeys(_SINGLE_QUOTES, "'"), **dict.fromkeys(_DOUBLE_QUOTES, '"')}
)
_WHITESPACE_RUN = re.compile(r"\s+")
_TEXT_TOKEN = re.compile(r"\w+|[^\w\s]")
#: Preference among groundings of the same span, best first.
GROUNDING_RANK: Mapping[Grounding, int] = {
    Grounding.MODEL_OFFSETS: 0,
    Grounding.EXACT: 1,
    Grounding.NORMALIZED: 2,
    Grounding.FUZZY: 3,
}


def normalize(text: str) -> str:
    """Return the normalized form used by ``NORMALIZED`` grounding (see the module docstring for the steps)."""
    return _WHITESPACE_RUN.sub(" ", text.translate(_TRANSLATION).casefold()).strip()


@dataclass(frozen=True)
class GroundingConfig:
    """How hard grounding tries before it calls a proposal ungrounded.

    Attributes:
        normalized: try case/whitespace/dash/quote-normalized matching after exact matching.
        fuzzy: try fuzzy matching over token windows after normalized matching.
        fuzzy_threshold: minimum similarity ratio (0-1] for a fuzzy match.
        fuzzy_min_chars: proposals shorter than this (after normalization) are never fuzzy-matched.
        all_occurrences: ground each proposal onto every free occurrence at the first level that finds one,
            instead of one occurrence per proposal; for models that list each string once (zero-shot UniversalNER).
    """

    normalized: bool = True
    fuzzy: bool = True
    fuzzy_threshold: float = 0.88
    fuzzy_min_chars: int = 4
    all_occurrences: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.fuzzy_threshold <= 1.0:
            raise ConfigError(f"[E305] grounding fuzzy_threshold={self.fuzzy_threshold} must be in (0, 1]; use 0.88")
        if self.fuzzy_min_chars < 1:
            raise ConfigError(f"[E306] grounding fuzzy_min_chars={self.fuzzy_min_chars} must be at least 1")


@dataclass(frozen=True, slots=True)
class Proposal:
    """A mention as a model stated it: a class and a string, with no trusted offsets.

    Attributes:
        cls: the mention class the model gave.
        text: the string the model said (parsers strip surrounding whitespace).
        hint: an approximate begin offset the output implies (stated offsets, position of an inline tag); used
            only to choose among occurrences of the same string, never as an offset.
        attributes: assertion attributes the model gave, cTAKES-encoded strings.
    """

    cls: MentionClass
    text: str
    hint: int | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GroundingResult:
    """What grounding made of a list of proposals.

    Attributes:
        grounded: each grounded proposal with its mention, after overlap resolution.
        ungrounded: proposals found nowhere in the text.
        duplicates: proposals whose every occurrence was already taken by a mention of the same class.
        overlaps: grounded mentions removed because a longer mention of the same class overlapped them.
    """

    grounded: list[tuple[Proposal, Mention]]
    ungrounded: list[Proposal]
    duplicates: int
    overlaps: int

    @property
    def mentions(self) -> list[Mention]:
        """The grounded mentions, sorted by offset."""
        return [mention for _, mention in self.grounded]

    def counts(self) -> dict[str, int]:
        """Counters for run reports: grounded (and per level), ungrounded, duplicates, overlaps."""
        result = {
            "grounded": len(self.grounded),
            "ungrounded": len(self.ungrounded),
            "duplicates": self.duplicates,
            "overlaps": self.overlaps,
        }
        for level in (Grounding.EXACT, Grounding.NORMALIZED, Grounding.FUZZY):
            result[f"grounded_{level.value}"] = sum(1 for _, m in self.grounded if m.grounding is level)
        return result


class _NormalizedText:
    """A normalized copy of a text with a map from each normalized character back to its source character."""

    def __init__(self, text: str) -> None:
        chars: list[str] = []
        sources: list[int] = []
        in_space = False
        for index, char in enumerate(text):
            if char.isspace():
                if not in_space:
                    chars.append(" ")
                    sources.append(index)
                in_space = True
                continue
            in_space = False
            for out in char.translate(_TRANSLATION).casefold():
                chars.append(out)
                sources.append(index)
        self.text = "".join(chars)
        self.sources = sources

    def find_all(self, needle: str) -> Iterable[tuple[int, int]]:
        """Yield source spans ``[begin, end)`` whose normalized text contains ``needle`` from start to end."""
        start = self.text.find(needle)
        while start != -1:
            yield self.sources[start], self.sources[start + len(needle) - 1] + 1
            start = self.text.find(needle, start + 1)


def _on_word_boundaries(text: str, begin: int, end: int) -> bool:
    """True when ``[begin, end)`` neither starts nor ends inside a word of ``text``."""
    starts_clean = begin == 0 or not (text[begin - 1].isalnum() and text[begin].isalnum())
    ends_clean = end == len(text) or not (text[end - 1].isalnum() and text[end].isalnum())
    return starts_clean and ends_clean


class Grounder:
    """Grounds proposals in one text; build one per chunk (it caches the normalized text and the tokens)."""

    def __init__(self, text: str, config: GroundingConfig | None = None) -> None:
        self.text = text
        self.config = config or GroundingConfig()
        self._normalized: _NormalizedText | None = None
        self._tokens: list[tuple[int, int]] | None = None
        self._window_cache: dict[int, list[tuple[int, int, str]]] = {}
        self._scores: dict[tuple[int, int], float] = {}

    def ground(self, proposals: Sequence[Proposal]) -> GroundingResult:
        """Ground ``proposals`` in order; see the module docstring for the rules.

        Args:
            proposals: the model's mentions, in the order it stated them.

        Returns:
            The grounded mentions (offsets into this text), the ungrounded proposals and the counts.
        """
        taken: dict[MentionClass, list[tuple[int, int]]] = {}
        grounded: list[tuple[Proposal, Mention]] = []
        ungrounded: list[Proposal] = []
        duplicates = 0
        for proposal in proposals:
            said = proposal.text
            if not said.strip():
                ungrounded.append(proposal)
                continue
            spans = taken.setdefault(proposal.cls, [])
            found_any = False
            chosen: list[tuple[int, int]] = []
            level = Grounding.EXACT
            contested: tuple[Grounding, tuple[int, int]] | None = None
            for level, candidates in self._levels(said):
                free = [span for span in candidates if not any(span[0] < e and b < span[1] for b, e in spans)]
                found_any = found_any or bool(candidates)
                if level is Grounding.FUZZY and free:
                    best = max(self._scores[span] for span in free)
                    free = [span for span in free if self._scores[span] == best]
                if free:
                    chosen = _non_overlapping(free) if self.config.all_occurrences else [_nearest(free, proposal.hint)]
                    break
                overlapping = [span for span in candidates if span not in spans]
                if contested is None and overlapping and level is not Grounding.FUZZY:
                    contested = (level, _nearest(overlapping, proposal.hint))
            if not chosen and contested is not None:
                # Only spans overlapping (not equal to) a same-class mention: let overlap resolution pick one.
                level, span = contested
                chosen = [span]
            if not chosen:
                if found_any:
                    duplicates += 1
                else:
                    ungrounded.append(proposal)
                    logger.info("[E307] ungrounded %s mention %r: not found in the text", proposal.cls.label, said)
                continue
            for begin, end in chosen:
                spans.append((begin, end))
                mention = Mention(
                    proposal.cls,
                    begin,
                    end,
                    self.text[begin:end],
                    attributes=dict(proposal.attributes),
                    grounding=level,
                )
                grounded.append((proposal, mention))
        kept, overlaps = _resolve_pairs(grounded)
        return GroundingResult(kept, ungrounded, duplicates, overlaps)

    def _levels(self, said: str) -> Iterable[tuple[Grounding, list[tuple[int, int]]]]:
        """Yield each enabled level with its candidate spans, lazily so later levels run only when needed."""
        yield Grounding.EXACT, self._exact(said)
        needle = normalize(said)
        if not needle:
            return
        if self.config.normalized:
            yield Grounding.NORMALIZED, self._normalized_spans(needle)
        if self.config.fuzzy and len(needle) >= self.config.fuzzy_min_chars:
            yield Grounding.FUZZY, self._fuzzy(needle)

    def _exact(self, said: str) -> list[tuple[int, int]]:
        spans = []
        start = self.text.find(said)
        while start != -1:
            if _on_word_boundaries(self.text, start, start + len(said)):
                spans.append((start, start + len(said)))
            start = self.text.find(said, start + 1)
        return spans

    def _normalized_spans(self, needle: str) -> list[tuple[int, int]]:
        if self._normalized is None:
            self._normalized = _NormalizedText(self.text)
        return [
            (begin, end)
            for begin, end in self._normalized.find_all(needle)
            if _on_word_boundaries(self.text, begin, end) and normalize(self.text[begin:end]) == needle
        ]

    def _fuzzy(self, needle: str) -> list[tuple[int, int]]:
        """Token windows at or above the threshold, in text order; their ratios go to ``self._scores``."""
        width = len(_TEXT_TOKEN.findall(needle))
        threshold = self.config.fuzzy_threshold
        matcher = difflib.SequenceMatcher(autojunk=False)
        matcher.set_seq2(needle)
        scored: list[tuple[float, int, int]] = []
        for size in range(max(1, width - 1), width + 2):
            for begin, end, candidate in self._windows(size):
                if 2 * min(len(candidate), len(needle)) < threshold * (len(candidate) + len(needle)):
                    continue
                matcher.set_seq1(candidate)
                if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
                    continue
                ratio = matcher.ratio()
                if ratio >= threshold:
                    scored.append((ratio, begin, end))
        self._scores = {(begin, end): ratio for ratio, begin, end in sorted(scored)}
        return sorted(self._scores)

    def _windows(self, size: int) -> list[tuple[int, int, str]]:
        """Every run of ``size`` text tokens as ``(begin, end, normalized text)``, cached per size."""
        if self._tokens is None:
            self._tokens = [match.span() for match in _TEXT_TOKEN.finditer(self.text)]
        windows = self._window_cache.get(size)
        if windows is None:
            tokens = self._tokens
            windows = []
            for first in range(len(tokens) - size + 1):
                begin, end = tokens[first][0], tokens[first + size - 1][1]
                windows.append((begin, end, normalize(self.text[begin:end])))
            self._window_cache[size] = windows
        return windows


def _nearest(spans: Sequence[tuple[int, int]], hint: int | None) -> tuple[int, int]:
    """The first span in text order, or the one whose begin is nearest ``hint`` (earlier wins ties)."""
    ordered = sorted(spans)
    if hint is None:
        return ordered[0]
    return min(ordered, key=lambda span: abs(span[0] - hint))


def _non_overlapping(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans in text order, leaving out each one that overlaps an earlier kept one."""
    kept: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if not kept or begin >= kept[-1][1]:
            kept.append((begin, end))
    return kept


def resolve_overlaps(mentions: Iterable[Mention]) -> tuple[list[Mention], int]:
    """Keep at most one of each set of overlapping mentions of the same class.

    The longest wins; among equally long ones, the better grounding (exact before normalized before fuzzy), then
    the higher score, then the earlier one. Mentions of different classes may overlap.

    Returns:
        The kept mentions sorted by (begin, end, class), and how many were removed.
    """
    pairs = [(None, mention) for mention in mentions]
    kept, removed = _resolve_pairs(pairs)
    return [mention for _, mention in kept], removed


def _resolve_pairs(pairs: Sequence[tuple[T, Mention]]) -> tuple[list[tuple[T, Mention]], int]:
    def preference(pair: tuple[T, Mention]) -> tuple[int, int, float, int]:
        mention = pair[1]
        score = mention.score if mention.score is not None else 0.0
        return (mention.begin - mention.end, GROUNDING_RANK[mention.grounding], -score, mention.begin)

    kept_spans: dict[MentionClass, list[tuple[int, int]]] = {}
    kept: list[tuple[T, Mention]] = []
    for pair in sorted(pairs, key=preference):
        mention = pair[1]
        spans = kept_spans.setdefault(mention.cls, [])
        if any(mention.begin < end and begin < mention.end for begin, end in spans):
            continue
        spans.append((mention.begin, mention.end))
        kept.append(pair)
    kept.sort(key=lambda pair: (pair[1].begin, pair[1].end, pair[1].cls.value))
    return kept, len(pairs) - len(kept)
