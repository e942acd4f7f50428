"""A ConText/NegEx-style assertion engine: cue phrases with scopes, bounded by sentences. Text in, Mentions out.

Why our own engine and not medspaCy's ConText: medspaCy's ConText is well kept and its rule model (categories,
FORWARD/BACKWARD/BIDIRECTIONAL/TERMINATE/PSEUDO, max scope) is the one used here, but it works on spaCy ``Doc``
and ``Span`` objects. Using it would make spaCy (and medspaCy's own pins) a runtime dependency and force every note
through a spaCy tokenizer and sentence splitter whose offsets differ from ours (``ner/sentences.py``,
``ner/tokens.py``) and from cTAKES's. What we need is small: match cue phrases in a sentence, compute each cue's
scope, and map categories to cTAKES's assertion features on code-point spans we already have. That is about two
hundred lines with no dependency, and the rules stay data (``rules_en.json``) that users can edit or extend.

Algorithm, per sentence (the caller's, such as the CAS's ``Sentence`` annotations, or else
:func:`ctakes_llm.ner.sentences.split_sentences`):

1. Every rule's regular expression is matched in the sentence, except those that the sentence's words rule out
   (:class:`~ctakes_llm.assertion.rules.RuleIndex`). Overlapping matches are resolved longest first, so
   "family history of" wins over "history of", "cannot be ruled out" over "ruled out", and a PSEUDO phrase such as
   "no increase" or "gram negative" removes the cue it contains. Matches on the very same span all stay.
2. A scoped cue's scope runs FORWARD to the sentence end, BACKWARD to the sentence start, or both, and stops at the
   first TERMINATE cue of its category (or of every category, when the terminating rule has none) and after
   ``max_scope`` word tokens.
3. A mention is modified when it starts inside a forward scope or ends inside a backward scope and does not
   overlap the cue itself. Its categories become cTAKES attribute values (:func:`attributes_for`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ctakes_llm.assertion.rules import Category, ContextRule, Direction, RuleIndex, load_rules
from ctakes_llm.cas.ctakes_types import (
    F_CONDITIONAL,
    F_GENERIC,
    F_HISTORY_OF,
    F_POLARITY,
    F_SUBJECT,
    F_UNCERTAINTY,
)
from ctakes_llm.errors import ConfigError
from ctakes_llm.ner.mention import Mention
from ctakes_llm.ner.sentences import split_sentences

_WORD = re.compile(r"\w+")
_SCOPED = (Direction.FORWARD, Direction.BACKWARD, Direction.BIDIRECTIONAL)


@dataclass(frozen=True)
class ContextConfig:
    """Options of the rule engine.

    Attributes:
        rules_path: A JSON rules file; None uses the shipped English rules (``rules_en.json``).
        max_scope: Scope limit in word tokens for rules that set none; None means up to the sentence boundary.
            The default, 8, gave the best negation F1 on MACCROBAT's train split (5: same F1, lower recall;
            None: lower precision).
        break_on_newline: Passed to ``split_sentences``: a line break ends a sentence (cTAKES's behaviour). Unused
            when the caller gives the sentences.
    """

    rules_path: str | Path | None = None
    max_scope: int | None = 8
    break_on_newline: bool = True

    def __post_init__(self) -> None:
        if self.max_scope is not None and self.max_scope < 1:
            raise ConfigError(f"[E362] ContextConfig.max_scope={self.max_scope} must be >= 1 or None")


@dataclass(frozen=True, slots=True)
class Cue:
    """A rule matched in the text: ``[begin, end)`` code points."""

    begin: int
    end: int
    rule: ContextRule


def attributes_for(categories: Collection[Category]) -> dict[str, str]:
    """cTAKES assertion attributes (string encodings, keys are the feature names) for a set of categories.

    Every one of the six attributes is given, so a mention with no cue is asserted as present, certain, not
    conditional, not generic, about the patient, and not history.
    """
    return {
        F_POLARITY: "-1" if Category.NEGATED_EXISTENCE in categories else "1",
        F_UNCERTAINTY: "1" if Category.POSSIBLE_EXISTENCE in categories else "0",
        F_CONDITIONAL: "true" if Category.HYPOTHETICAL in categories else "false",
        F_GENERIC: "false",
        F_SUBJECT: "family_member" if Category.FAMILY in categories else "patient",
        F_HISTORY_OF: "1" if Category.HISTORICAL in categories else "0",
    }


class ContextEngine:
    """Finds assertion cues and their scopes; assigns categories to mentions.

    Args:
        rules: The rules; None loads ``config.rules_path`` (or the shipped English rules).
        config: Engine options.
    """

    def __init__(self, rules: Sequence[ContextRule] | None = None, config: ContextConfig | None = None) -> None:
        self.config = config or ContextConfig()
        self._index = RuleIndex(rules if rules is not None else load_rules(self.config.rules_path))

    @property
    def rules(self) -> tuple[ContextRule, ...]:
        """The rules, in the order given (read-only: the index that picks the rules to run is built from them)."""
        return self._index.rules

    def find_cues(self, text: str, begin: int = 0, end: int | None = None) -> list[Cue]:
        """The cues in ``text[begin:end]`` after overlap resolution, in text order (PSEUDO cues included)."""
        stop = len(text) if end is None else end
        found = [
            Cue(match.start(), match.end(), rule)
            for rule in self._index.candidates(text, begin, stop)
            for match in rule.regex.finditer(text, begin, stop)
            if match.end() > match.start()
        ]
        found.sort(key=lambda cue: (cue.begin - cue.end, cue.begin))
        kept: list[Cue] = []
        for cue in found:
            if all(
                cue.end <= other.begin or cue.begin >= other.end or (cue.begin, cue.end) == (other.begin, other.end)
                for other in kept
            ):
                kept.append(cue)
        kept.sort(key=lambda cue: (cue.begin, cue.end))
        return kept

    def categories(
        self, text: str, mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]] | None = None
    ) -> list[frozenset[Category]]:
        """The categories that modify each mention, in the order of ``mentions``.

        Args:
            text: The document text the offsets index (code points).
            mentions: The mentions to assert.
            sentences: The text's sentences as ``(begin, end)`` code points, e.g. the CAS's ``Sentence``
                annotations, so that a note preprocessing has split is not split again; None splits ``text``.

        Returns:
            One set of categories per mention.
        """
        spans = (
            split_sentences(text, break_on_newline=self.config.break_on_newline)
            if sentences is None
            else sorted(sentences)
        )
        result: list[frozenset[Category]] = []
        cache: dict[tuple[int, int], list[Cue]] = {}
        for mention in mentions:
            sentence = _sentence_of(spans, mention, len(text))
            if sentence not in cache:
                cache[sentence] = self.find_cues(text, *sentence)
            result.append(self._modifying(text, sentence, cache[sentence], mention))
        return result

    def classify(
        self, text: str, mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]] | None = None
    ) -> list[dict[str, str]]:
        """cTAKES assertion attributes for each mention (the :class:`AssertionClassifier` protocol).

        ``sentences`` are as in :meth:`categories`.
        """
        return [attributes_for(found) for found in self.categories(text, mentions, sentences)]

    def _modifying(
        self, text: str, sentence: tuple[int, int], cues: Sequence[Cue], mention: Mention
    ) -> frozenset[Category]:
        found: set[Category] = set()
        for cue in cues:
            category = cue.rule.category
            if cue.rule.direction not in _SCOPED or category is None or category in found:
                continue
            if cue.begin < mention.end and mention.begin < cue.end:
                continue  # the cue is part of the mention itself
            if self._in_scope(text, sentence, cues, cue, category, mention):
                found.add(category)
        return frozenset(found)

    def _in_scope(
        self, text: str, sentence: tuple[int, int], cues: Sequence[Cue], cue: Cue, category: Category, mention: Mention
    ) -> bool:
        limit = cue.rule.max_scope or self.config.max_scope
        terminators = [
            other
            for other in cues
            if other.rule.direction is Direction.TERMINATE and other.rule.category in (None, category)
        ]
        direction = cue.rule.direction
        if direction in (Direction.FORWARD, Direction.BIDIRECTIONAL) and mention.begin >= cue.end:
            scope_end = min([sentence[1], *(t.begin for t in terminators if t.begin >= cue.end)])
            if limit is not None:
                words = list(_WORD.finditer(text, cue.end, scope_end))
                if len(words) > limit:
                    scope_end = words[limit - 1].end()
            return mention.begin < scope_end
        if direction in (Direction.BACKWARD, Direction.BIDIRECTIONAL) and mention.end <= cue.begin:
            scope_begin = max([sentence[0], *(t.end for t in terminators if t.end <= cue.begin)])
            if limit is not None:
                words = list(_WORD.finditer(text, scope_begin, cue.begin))
                if len(words) > limit:
                    scope_begin = words[-limit].start()
            return mention.end > scope_begin
        return False


def assert_mentions(text: str, mentions: Iterable[Mention], *, engine: ContextEngine | None = None) -> list[Mention]:
    """Fill the six cTAKES assertion attributes of each mention with the rule engine.

    Attributes a mention already carries (from the model or a gold file) are kept; only missing keys are filled.

    Args:
        text: The document text the mention offsets index (code points).
        mentions: The mentions to assert.
        engine: A prepared engine; None builds one with the shipped rules (reuse an engine across documents).

    Returns:
        New mentions, in input order, with ``polarity``, ``uncertainty``, ``conditional``, ``generic``,
        ``subject`` and ``historyOf`` set.
    """
    items = list(mentions)
    engine = engine or ContextEngine()
    return [merge_attributes(m, found) for m, found in zip(items, engine.classify(text, items), strict=True)]


def merge_attributes(mention: Mention, attributes: Mapping[str, str]) -> Mention:
    """A copy of ``mention`` with ``attributes`` added under keys it does not have yet."""
    return replace(mention, attributes={**attributes, **mention.attributes})


def _sentence_of(sentences: Sequence[tuple[int, int]], mention: Mention, length: int) -> tuple[int, int]:
    """The sentence that holds the mention's first character (the whole text when none does)."""
    position = bisect_right(sentences, (mention.begin, length + 1)) - 1
    if position >= 0 and sentences[position][0] <= mention.begin < sentences[position][1]:
        return sentences[position]
    return 0, length
