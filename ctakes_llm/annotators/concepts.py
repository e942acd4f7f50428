"""The concept annotator: fills ``ontologyConceptArr`` of mentions that have none, from the knowledge index.

Mentions that already carry concepts (cTAKES's dictionary lookup, an earlier step) are left alone. The lookup is
text-only (:func:`ctakes_llm.knowledge.normalize.concepts_for`); writing goes through
:func:`ctakes_llm.cas.mentions.set_concepts`.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import ClassVar

from cassis import Cas
from cassis.typesystem import FeatureStructure

from ctakes_llm.cas.ctakes_types import (
    F_ONTOLOGY_CONCEPT_ARR,
)
from ctakes_llm.cas.mentions import select_mentions, set_concepts
from ctakes_llm.knowledge.index import KnowledgeIndex
from ctakes_llm.knowledge.normalize import ConceptConfig, concepts_for
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)


class ConceptAnnotator:
    """Adds ``UmlsConcept``s (or ``OntologyConcept``s, for codes without a CUI) to mentions without concepts.

    Args:
        index: An open knowledge index, or the path of an index file to open.
        config: Filtering options.

    Raises:
        KnowledgeError: ``index`` is a path that holds no knowledge index.
    """

    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()

    def __init__(self, index: KnowledgeIndex | str | Path, config: ConceptConfig | None = None) -> None:
        self.index = index if isinstance(index, KnowledgeIndex) else KnowledgeIndex(index)
        self.config = config or ConceptConfig()
        self.counters: Counter[str] = Counter()
        self._cache: dict[tuple[str, str], tuple[Concept, ...]] = {}

    def process(self, cas: Cas) -> None:
        """Fill the concepts of every mention of the CAS that has none."""
        text = cas.sofa_string or ""
        for fs, cls in select_mentions(cas):
            self._fill(cas, text, fs, cls)

    def _fill(self, cas: Cas, text: str, fs: FeatureStructure, cls: MentionClass) -> None:
        existing = fs.get(F_ONTOLOGY_CONCEPT_ARR)
        if (existing is not None and existing.elements) or fs.begin >= fs.end:
            self.counters["kept_upstream"] += 1
            return
        mention = Mention(cls, fs.begin, fs.end, text[fs.begin : fs.end], grounding=Grounding.MODEL_OFFSETS)
        key = (cls.name, mention.text)
        if key not in self._cache:
            self._cache[key] = concepts_for(self.index, mention, self.config)
        concepts = self._cache[key]
        if concepts:
            set_concepts(cas, fs, concepts)
            self.counters["with_concepts"] += 1
        else:
            self.counters["without_concepts"] += 1
            logger.info(
                "[E516] no concept in %s for %s mention %r at [%d, %d); it is written without one",
                self.index.path,
                cls.label,
                mention.text,
                fs.begin,
                fs.end,
            )

    def describe(self) -> dict[str, object]:
        """Index path, sources and running counts, for the run manifest."""
        return {"index": str(self.index.path), "sources": sorted(self.index.sources()), "counts": dict(self.counters)}
