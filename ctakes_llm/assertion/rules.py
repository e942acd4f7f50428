"""ConText rules as data: one JSON file per language, loaded into validated :class:`ContextRule` objects.

A rule is a cue phrase (a literal or a regular expression), the assertion category it signals and the direction
of its scope. Bad combinations fail when the rule is built, with the rule's index and the file named.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ctakes_llm.errors import ConfigError

#: The rule file shipped with the package (English).
DEFAULT_RULES = "rules_en.json"

_WORD = re.compile(r"\w+")


class Category(enum.Enum):
    """What a cue says about the mentions in its scope (ConText's modifier categories)."""

    NEGATED_EXISTENCE = "NEGATED_EXISTENCE"  # "denies chest pain"  -> polarity -1
    POSSIBLE_EXISTENCE = "POSSIBLE_EXISTENCE"  # "possible pneumonia" -> uncertainty 1
    HYPOTHETICAL = "HYPOTHETICAL"  # "return if fever"    -> conditional true
    HISTORICAL = "HISTORICAL"  # "history of MI"     -> historyOf 1
    FAMILY = "FAMILY"  # "mother had cancer" -> subject family_member


class Direction(enum.Enum):
    """Which way a cue's scope runs within its sentence.

    FORWARD: the words after the cue ("no fever"). BACKWARD: the words before it ("fever was ruled out").
    BIDIRECTIONAL: both. TERMINATE: not a cue but a boundary that ends the scopes of cues of its category (or of
    every category when the rule has none), e.g. "but" in "no fever but cough". PSEUDO: a phrase that contains a
    cue word but is no cue ("no increase", "gram negative"); it wins over the shorter cue it contains.
    """

    FORWARD = "FORWARD"
    BACKWARD = "BACKWARD"
    BIDIRECTIONAL = "BIDIRECTIONAL"
    TERMINATE = "TERMINATE"
    PSEUDO = "PSEUDO"


@dataclass(frozen=True)
class ContextRule:
    """One cue phrase.

    Attributes:
        literal: The cue as plain words, matched case-insensitively on word boundaries with any run of whitespace
            between its words. Exactly one of ``literal`` and ``pattern`` is set.
        pattern: The cue as a Python regular expression, matched case-insensitively.
        category: The assertion category; required for FORWARD/BACKWARD/BIDIRECTIONAL, optional for TERMINATE
            (None ends the scopes of every category), ignored for PSEUDO.
        direction: Which way the scope runs.
        max_scope: Largest number of word tokens the scope covers on each side; None means up to the sentence
            boundary or a TERMINATE cue.
    """

    category: Category | None
    direction: Direction
    literal: str | None = None
    pattern: str | None = None
    max_scope: int | None = None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.literal is None) == (self.pattern is None):
            raise ConfigError(f"[E350] rule {self.literal or self.pattern!r}: set exactly one of literal and pattern")
        if self.literal is not None and not self.literal.strip():
            raise ConfigError("[E351] a rule has an empty literal: give the cue words or remove the rule")
        scoped = self.direction in (Direction.FORWARD, Direction.BACKWARD, Direction.BIDIRECTIONAL)
        if scoped and self.category is None:
            raise ConfigError(
                f"[E352] rule {self.literal or self.pattern!r} has direction {self.direction.value} but no category: "
                f"add one of {', '.join(c.value for c in Category)}"
            )
        if self.max_scope is not None and self.max_scope < 1:
            raise ConfigError(f"[E353] rule {self.literal or self.pattern!r}: max_scope={self.max_scope} must be >= 1")
        if self.literal is not None:
            words = [re.escape(w) for w in self.literal.split()]
            source = r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)"
        else:
            source = str(self.pattern)
        try:
            compiled = re.compile(source, re.IGNORECASE)
        except re.error as err:
            raise ConfigError(f"[E354] rule pattern {self.pattern!r} is not a valid regular expression: {err}") from err
        object.__setattr__(self, "regex", compiled)

    @property
    def cue(self) -> str:
        """The literal or the pattern, for messages and logs."""
        return self.literal if self.literal is not None else str(self.pattern)


class RuleIndex:
    """The rules that can match a span of text, found with one word scan instead of running every rule's regex.

    Matching each of the ~350 shipped rules in every sentence was most of the assertion step's time, though nearly
    all of them find nothing. A literal rule can only match where each word run (``\\w+``) of its cue stands as a whole
    word run of the text: the cue is bounded by non-word characters, its words by whitespace, and a cue written in
    ASCII keeps the same word and non-word characters when matched case-insensitively. So each such rule is filed
    under its longest word, and only rules whose word occurs in the span run their regex. Pattern rules, and
    literals that are not ASCII or have no word character, always run. The regexes still decide every match, so
    the cues found are exactly those of running every rule.

    Args:
        rules: The rules, in the order matches of the same span must keep.
    """

    def __init__(self, rules: Sequence[ContextRule]) -> None:
        self.rules = tuple(rules)
        always: list[int] = []
        self._by_word: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            word = _index_word(rule)
            if word is None:
                always.append(i)
            else:
                self._by_word.setdefault(word, []).append(i)
        self._always = frozenset(always)
        self._words = tuple(self._by_word)
        # A non-ASCII word run of the text may still match an ASCII cue word case-insensitively (the Kelvin sign
        # matches "k", the long s "s"); the regex engine, which decides rule matches, also decides these.
        self._folded = re.compile("|".join(f"({re.escape(word)})" for word in self._words), re.IGNORECASE)

    def candidates(self, text: str, begin: int, end: int) -> list[ContextRule]:
        """The rules that may match in ``text[begin:end]`` (searched with these bounds), in rule order."""
        found = set(self._always)
        by_word = self._by_word
        for word in set(_WORD.findall(text, begin, end)):
            key = word.lower() if word.isascii() else self._fold(word)
            if key in by_word:
                found.update(by_word[key])
        return [self.rules[i] for i in sorted(found)]

    def _fold(self, word: str) -> str | None:
        """The indexed cue word that ``word`` matches case-insensitively, if any."""
        match = self._folded.fullmatch(word)
        return None if match is None or match.lastindex is None else self._words[match.lastindex - 1]


def _index_word(rule: ContextRule) -> str | None:
    """The word a rule is filed under: its literal's longest word run, lower case; None when it must always run."""
    if rule.literal is None or not rule.literal.isascii():
        return None
    words = _WORD.findall(rule.literal)
    return max(words, key=len).lower() if words else None


def rule_from_dict(data: Mapping[str, Any], where: str = "<dict>") -> ContextRule:
    """Build one rule from its JSON object.

    Args:
        data: ``{"literal" | "pattern": str, "category": str | null, "direction": str, "max_scope": int | null}``.
        where: Names the rule in error messages (file and index).

    Raises:
        ConfigError: an unknown key, category or direction, or an invalid combination.
    """
    unknown = set(data) - {"literal", "pattern", "category", "direction", "max_scope", "comment"}
    if unknown:
        raise ConfigError(
            f"[E355] {where}: unknown keys {sorted(unknown)}; allowed: literal, pattern, category, "
            "direction, max_scope, comment"
        )
    try:
        direction = Direction(str(data.get("direction", "")).upper())
    except ValueError:
        known = ", ".join(d.value for d in Direction)
        raise ConfigError(f"[E356] {where}: direction {data.get('direction')!r} is not one of {known}") from None
    raw_category = data.get("category")
    try:
        category = None if raw_category is None else Category(str(raw_category).upper())
    except ValueError:
        known = ", ".join(c.value for c in Category)
        raise ConfigError(f"[E357] {where}: category {raw_category!r} is not one of {known}") from None
    max_scope = data.get("max_scope")
    if max_scope is not None and not isinstance(max_scope, int):
        raise ConfigError(f"[E358] {where}: max_scope must be an integer or null, got {max_scope!r}")
    try:
        return ContextRule(
            category=category,
            direction=direction,
            literal=data.get("literal"),
            pattern=data.get("pattern"),
            max_scope=max_scope,
        )
    except ConfigError as err:
        raise ConfigError(f"{err} (in {where})") from err


def parse_rules(document: Mapping[str, Any], source: str = "<rules>") -> tuple[ContextRule, ...]:
    """Validate a rules document ``{"rules": [...]}`` and build its rules.

    Raises:
        ConfigError: the document has no ``rules`` list or a rule is invalid.
    """
    items = document.get("rules")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"[E359] {source}: expected a JSON object with a non-empty 'rules' list")
    return tuple(rule_from_dict(item, f"{source} rule #{i}") for i, item in enumerate(items))


def load_rules(path: str | Path | None = None) -> tuple[ContextRule, ...]:
    """Load ConText rules from a JSON file, or the shipped English rules when ``path`` is None.

    Raises:
        ConfigError: the file cannot be read or parsed, or a rule is invalid.
    """
    try:
        if path is None:
            source = f"ctakes_llm/assertion/{DEFAULT_RULES}"
            text = resources.files("ctakes_llm.assertion").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")
        else:
            source = str(path)
            text = Path(path).read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(
            f"[E360] cannot read ConText rules from {source}: {err}; pass a valid JSON rules file"
        ) from err
    if not isinstance(document, dict):
        raise ConfigError(f"[E359] {source}: expected a JSON object with a non-empty 'rules' list")
    return parse_rules(document, source)
