"""The assertion annotator: fills polarity, uncertainty, conditional, generic, subject and historyOf on mentions.

Only mentions whose ``polarity`` is 0 (no assertion step has run on them) are touched: values that cTAKES or an
earlier step set are never overwritten. Text goes to an :class:`AssertionClassifier` (the ConText rules by
default, or a language model through ``LlmAssertionClassifier``); the CAS is written by ``cas/mentions.py``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import ClassVar

from cassis import Cas
from cassis.typesystem import FeatureStructure

from ctakes_llm.assertion.context import ContextConfig, ContextEngine
from ctakes_llm.assertion.llm import AssertionClassifier
from ctakes_llm.cas.ctakes_types import F_POLARITY, SENTENCE
from ctakes_llm.cas.mentions import decode_attributes, select_mentions, set_assertion
from ctakes_llm.ner.mention import Grounding, Mention

logger = logging.getLogger(__name__)


class AssertionAnnotator:
    """Asserts every not-yet-asserted cTAKES mention in the CAS.

    Args:
        classifier: Gives the attributes; None uses the rule engine built from ``config``.
        config: Rule engine options when ``classifier`` is None.
    """

    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = ()

    def __init__(self, classifier: AssertionClassifier | None = None, config: ContextConfig | None = None) -> None:
        self.classifier: AssertionClassifier = classifier or ContextEngine(config=config)
        self.counters: Counter[str] = Counter()

    def process(self, cas: Cas) -> None:
        """Fill the assertion features of the CAS's mentions that have polarity 0."""
        text = cas.sofa_string or ""
        pending: list[FeatureStructure] = []
        mentions: list[Mention] = []
        for fs, cls in select_mentions(cas):
            if (fs.get(F_POLARITY) or 0) != 0:
                self.counters["kept_upstream"] += 1
                continue
            if fs.begin >= fs.end:
                self.counters["skipped"] += 1
                continue
            pending.append(fs)
            mentions.append(
                Mention(
                    cls,
                    fs.begin,
                    fs.end,
                    text[fs.begin : fs.end],
                    attributes=decode_attributes(fs),
                    grounding=Grounding.MODEL_OFFSETS,
                )
            )
        # preprocessing's (or cTAKES's) sentences, so the classifier need not split the note again
        sentences = [(sentence.begin, sentence.end) for sentence in cas.select(SENTENCE)] or None
        answers = self.classifier.classify(text, mentions, sentences)
        for fs, mention, attributes in zip(pending, mentions, answers, strict=True):
            set_assertion(fs, {**attributes, **mention.attributes})
            self.counters["asserted"] += 1
            self.counters["negated"] += attributes.get(F_POLARITY) == "-1"

    def describe(self) -> dict[str, object]:
        """Method (``context``, ``llm``), classifier, its model and running counts, for the run manifest.

        A classifier's own counts (model answers, fallbacks, model errors) appear with a ``classifier_`` prefix.
        """
        describe = getattr(self.classifier, "describe", None)
        details: dict[str, object] = dict(describe()) if describe else {"method": self._method()}
        own = details.pop("counts", {})
        counts = dict(self.counters)
        if isinstance(own, Mapping):
            counts |= {f"classifier_{key}": value for key, value in own.items()}
        return {"classifier": type(self.classifier).__name__, **details, "counts": counts}

    def _method(self) -> str:
        return "context" if isinstance(self.classifier, ContextEngine) else type(self.classifier).__name__
