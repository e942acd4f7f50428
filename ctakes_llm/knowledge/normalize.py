"""Normalization: term keys for lookup (exact, a light LVG-style ``norm``, trigrams), and mentions to concepts.

``normalize_term`` is close to the UMLS ``norm`` program in spirit: lower case, accents and punctuation removed,
a few stop words dropped, simple plurals made singular, words sorted. So "Pains, Chest" and "chest pain" share a
key. It has no lexicon, so it misses irregular inflections ("feet"); fuzzy matching catches some of those.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ctakes_llm.errors import ConfigError
from ctakes_llm.knowledge.tui_groups import mention_class
from ctakes_llm.ner.mention import Concept, Mention

if TYPE_CHECKING:  # index.py imports this module's string functions
    from ctakes_llm.knowledge.index import KnowledgeIndex

#: Words that do not change which concept a term names.
STOP_WORDS = frozenset({"a", "an", "the", "of", "nos", "in", "on", "with", "to", "for", "by", "at", "or"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation and runs of whitespace turned into one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub(" ", ascii_text).strip()


def lower_key(text: str) -> str:
    """The key of an exact (case- and whitespace-insensitive) match."""
    return " ".join(text.lower().split())


def singular(word: str) -> str:
    """A naive singular form: ``arteries`` → ``artery``, ``masses`` → ``mass``, ``nodules`` → ``nodule``."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalize_term(text: str) -> str:
    """The normalized key: folded words without stop words, made singular and sorted (empty for no words)."""
    words = [singular(w) for w in fold(text).split() if w not in STOP_WORDS]
    return " ".join(sorted(words))


def trigrams(key: str) -> frozenset[str]:
    """Character trigrams of ``key`` padded with spaces (``"mi"`` → ``{"  m", " mi", "mi "}``)."""
    padded = f"  {key} "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice similarity of two trigram sets (1.0 for equal sets, 0.0 when either is empty)."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


@dataclass(frozen=True)
class ConceptConfig:
    """How mentions are normalized to concepts.

    Attributes:
        match_class: When some of the concepts found have a semantic type of the mention's class (by cTAKES's
            TUI groups), keep only those; concepts without a TUI (HPO terms) always stay.
        min_score: Concepts scored below this are left out (exact 1.0, normalized 0.9, fuzzy below 0.8).
    """

    match_class: bool = True
    min_score: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"[E577] ConceptConfig.min_score={self.min_score} must be in [0, 1]")


def concepts_for(index: KnowledgeIndex, mention: Mention, config: ConceptConfig | None = None) -> tuple[Concept, ...]:
    """The index's concepts for a mention's text, filtered by score and (optionally) by mention class."""
    config = config or ConceptConfig()
    found = [c for c in index.lookup(mention.text) if (c.score or 0.0) >= config.min_score]
    if config.match_class:
        same = [c for c in found if c.tui is None or mention_class(c.tui) is mention.cls]
        if any(c.tui is not None for c in same):
            found = same
    return tuple(found)


def normalize_mentions(
    index: KnowledgeIndex, mentions: Iterable[Mention], config: ConceptConfig | None = None
) -> list[Mention]:
    """Mentions with ``concepts`` filled from the index; mentions that already have concepts are kept as they are."""
    return [m if m.concepts else replace(m, concepts=concepts_for(index, m, config)) for m in mentions]
