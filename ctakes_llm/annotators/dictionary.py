"""Dictionary lookup with a cTAKES BSV dictionary, the way cTAKES's fast dictionary lookup annotates.

Terms are found within sentences (the CAS's, or :func:`ctakes_llm.ner.sentences.split_sentences` of the text),
case-insensitively and on token boundaries. Each entry's TUI gives the mention class through cTAKES's semantic-group
table; a term whose entries fall into several classes yields one mention per class, and each mention carries one
``Concept`` per distinct CUI/TUI of its class (``code`` is the CUI and ``codingScheme`` is configurable, ``custom`` by
default, as cTAKES's ``DefaultTermConsumer`` writes for a BSV dictionary). Entries whose TUI has no mention class
(labs, devices, ...) are counted and left out, as are entries whose TUI is no UMLS semantic type (``unknown_tuis``,
logged as E515); entries without a TUI take ``default_class`` when it is set.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from cassis import Cas

from ctakes_llm.cas.ctakes_types import (
    DISCOVERY_DICTIONARY_LOOKUP,
    F_ONTOLOGY_CONCEPT_ARR,
    MENTION_TYPE_BY_CLASS,
    SENTENCE,
)
from ctakes_llm.cas.mentions import select_mentions, set_concepts, write_mentions
from ctakes_llm.errors import ConfigError
from ctakes_llm.knowledge.bsv import DictionaryEntry, read_bsv
from ctakes_llm.knowledge.dictionary_matcher import DictionaryMatch, DictionaryMatcher, MatchPolicy
from ctakes_llm.knowledge.tui_groups import semantic_type
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass
from ctakes_llm.ner.sentences import split_sentences

logger = logging.getLogger(__name__)

# Closed-class English words (determiners, prepositions, pronouns, conjunctions, modals, particles). cTAKES does not
# look terms up on tokens its POS tagger tags so; we have no tagger, so a one-word term that is one of these is
# skipped instead ("over", "may", "can" and "all" are also UMLS terms).
FUNCTION_WORDS: frozenset[str] = frozenset(
    {
        *("a", "an", "the", "this", "that", "these", "those", "some", "any", "all", "both", "each", "every", "no"),
        *("and", "or", "but", "nor", "so", "yet", "for", "if", "then", "than", "because", "while", "as"),
        *("at", "by", "in", "on", "of", "off", "to", "up", "out", "into", "onto", "over", "under", "with", "without"),
        *("from", "about", "above", "across", "after", "against", "along", "around", "before", "behind", "below"),
        *("beneath", "beside", "between", "beyond", "down", "during", "except", "inside", "near", "outside", "past"),
        *("since", "through", "throughout", "toward", "towards", "until", "upon", "via", "within", "per"),
        *("i", "you", "he", "she", "it", "we", "they", "me", "him", "her", "us", "them", "my", "your", "his", "its"),
        *("our", "their", "mine", "yours", "hers", "ours", "theirs", "who", "whom", "whose", "which", "what"),
        *("can", "could", "may", "might", "must", "shall", "should", "will", "would", "there", "here"),
        *("how", "where", "when", "why", "however", "whenever", "wherever", "whatever", "whichever", "whoever"),
    }
)


@dataclass(frozen=True)
class DictionaryConfig:
    """Options of the dictionary lookup step.

    Attributes:
        path: the cTAKES BSV dictionary (``CUI|TUI|text``, ``CUI|TUI|text|preferred``, ``CUI|text``).
        coding_scheme: the ``codingScheme`` written on every concept (cTAKES writes ``custom`` for BSV lookups).
        policy: ``LONGEST`` keeps the longest of overlapping terms; ``ALL`` keeps nested terms too, as cTAKES's
            default term consumer does (``chest`` inside ``chest pain``). The names ``"longest"`` / ``"all"``
            are accepted too (pipeline files).
        min_chars: shortest span annotated, in characters (cTAKES's ``minimumSpan``, 3 by default).
        default_class: the class of entries without a TUI column (a label such as ``"Medication"`` is accepted);
            None leaves them out.
        skip_function_words: leave out matches that are one function word (``over``, ``may``), which cTAKES's
            part-of-speech filter keeps out of its lookup.
        encoding: the dictionary file's encoding.
        strict: a malformed dictionary row is an error; when False it is skipped with a warning.
    """

    path: Path | str
    coding_scheme: str = "custom"
    policy: MatchPolicy = MatchPolicy.LONGEST
    min_chars: int = 3
    default_class: MentionClass | None = None
    skip_function_words: bool = True
    encoding: str = "utf-8"
    strict: bool = True

    def __post_init__(self) -> None:
        if not str(self.path).strip():
            raise ConfigError("[E510] DictionaryConfig.path is empty; give the path of a cTAKES BSV dictionary")
        if self.min_chars < 1:
            raise ConfigError(f"[E511] min_chars={self.min_chars} must be at least 1")
        if not self.coding_scheme.strip():
            raise ConfigError("[E512] coding_scheme is empty; cTAKES writes 'custom' for BSV dictionaries")
        if not isinstance(self.policy, MatchPolicy):  # a pipeline file gives the name
            try:
                object.__setattr__(self, "policy", MatchPolicy(str(self.policy).lower()))
            except ValueError:
                known = ", ".join(p.value for p in MatchPolicy)
                raise ConfigError(f"[E513] policy={self.policy!r} is not a match policy; use one of {known}") from None
        if self.default_class is not None and not isinstance(self.default_class, MentionClass):
            try:
                object.__setattr__(self, "default_class", MentionClass.from_label(str(self.default_class)))
            except ValueError as err:
                raise ConfigError(f"[E514] default_class: {err}") from None


class DictionaryAnnotator:
    """Adds cTAKES mentions (``discoveryTechnique`` 1, dictionary lookup) for the terms of a BSV dictionary.

    Args:
        config: the dictionary and lookup options.
        matcher: an index already built from the same dictionary, to share one between annotators; by default it
            is built from ``config.path`` (once, here).

    Raises:
        KnowledgeError: the dictionary cannot be read or holds no term.
    """

    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = tuple(MENTION_TYPE_BY_CLASS.values())

    def __init__(self, config: DictionaryConfig, matcher: DictionaryMatcher | None = None) -> None:
        self.config = config
        if matcher is None:
            entries = read_bsv(config.path, encoding=config.encoding, strict=config.strict)
            matcher = DictionaryMatcher(entries)
            logger.info(
                "dictionary %s: %d entries, %d distinct terms", config.path, matcher.entry_count, matcher.term_count
            )
        self.matcher = matcher
        self.counters: Counter[str] = Counter()

    def find_mentions(self, text: str, sentences: Sequence[tuple[int, int]] | None = None) -> list[Mention]:
        """The dictionary's mentions in ``text`` (no CAS involved).

        Args:
            text: the note text.
            sentences: the spans terms are looked up within; by default the text's sentences.

        Returns:
            The mentions ordered by offsets, then class; grounding is ``MODEL_OFFSETS`` (offsets come from the
            lookup, not from a generated string).
        """
        windows = split_sentences(text) if sentences is None else sentences
        mentions: list[Mention] = []
        for match in self.matcher.find(text, windows, self.config.policy):
            self.counters["matches"] += 1
            if match.end - match.begin < self.config.min_chars:
                self.counters["shorter_than_min_chars"] += 1
                continue
            if self.config.skip_function_words and text[match.begin : match.end].lower() in FUNCTION_WORDS:
                self.counters["function_words"] += 1
                continue
            mentions.extend(self._mentions_of(text, match))
        self.counters["mentions"] += len(mentions)
        return mentions

    def process(self, cas: Cas) -> None:
        """Annotate one note, looking terms up within the CAS's sentences when it has some.

        A term whose class and span an earlier step (the language model, an upstream cTAKES run) already annotated
        adds no second mention; that mention gets the term's concepts if it has none.
        """
        text = cas.sofa_string or ""
        sentences = [(fs.begin, fs.end) for fs in cas.select(SENTENCE)] or None
        existing = {(cls, fs.begin, fs.end): fs for fs, cls in select_mentions(cas)}
        new_mentions = []
        for mention in self.find_mentions(text, sentences):
            same = existing.get((mention.cls, mention.begin, mention.end))
            if same is None:
                new_mentions.append(mention)
                continue
            # a model (or upstream) mention of this class and span is already there: one mention per class and
            # span, as cTAKES writes it; it gets the dictionary's concepts when it has none
            self.counters["already_annotated"] += 1
            if not same.get(F_ONTOLOGY_CONCEPT_ARR):
                set_concepts(cas, same, mention.concepts)
                self.counters["concepts_added_to_existing"] += 1
        write_mentions(cas, new_mentions, discovery_technique=DISCOVERY_DICTIONARY_LOOKUP)

    def describe(self) -> dict[str, object]:
        """The dictionary and running counts, for the run manifest."""
        return {
            "dictionary": str(self.config.path),
            "entries": self.matcher.entry_count,
            "terms": self.matcher.term_count,
            "policy": self.config.policy.value,
            "counts": dict(self.counters),
        }

    def _mentions_of(self, text: str, match: DictionaryMatch) -> list[Mention]:
        """One mention per class among the match's entries, each with that class's concepts."""
        by_class: dict[MentionClass, dict[tuple[str, str | None], DictionaryEntry]] = {}
        for entry in match.entries:
            cls = self._class_of(entry)
            if cls is None:
                self.counters["entries_without_class"] += 1
                continue
            by_class.setdefault(cls, {}).setdefault((entry.cui, entry.tui), entry)
        return [
            Mention(
                cls=cls,
                begin=match.begin,
                end=match.end,
                text=text[match.begin : match.end],
                grounding=Grounding.MODEL_OFFSETS,
                concepts=tuple(self._concept(entry) for entry in entries.values()),
            )
            for cls, entries in sorted(by_class.items(), key=lambda item: item[0].value)
        ]

    def _class_of(self, entry: DictionaryEntry) -> MentionClass | None:
        if entry.tui is None:
            return self.config.default_class
        row = semantic_type(entry.tui)
        if row is None:
            self.counters["unknown_tuis"] += 1
            logger.info(
                "[E515] dictionary entry %s %r has TUI %r, which is no UMLS semantic type; left out. Fix the TUI "
                "column of %s.",
                entry.cui,
                entry.text,
                entry.tui,
                self.config.path,
            )
            return None
        return row.mention_class

    def _concept(self, entry: DictionaryEntry) -> Concept:
        return Concept(
            cui=entry.cui,
            tui=entry.tui,
            code=entry.cui,
            coding_scheme=self.config.coding_scheme,
            preferred_text=entry.preferred_text,
        )
