"""The NER annotator: a model backend finds mentions in the note text; one module writes them as cTAKES types."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from cassis import Cas

from ctakes_llm.backends.base import Backend
from ctakes_llm.cas.ctakes_types import DISCOVERY_EXPLICIT, MENTION_TYPE_BY_CLASS
from ctakes_llm.cas.mentions import write_mentions
from ctakes_llm.errors import BackendError, ConfigError, DocumentErrors, GroundingError
from ctakes_llm.ner.mention import Grounding, Mention

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NerConfig:
    """Options of the NER step.

    Attributes:
        min_score: mentions the backend scores below this are left out (and counted).
        discovery_technique: the cTAKES ``discoveryTechnique`` written on each mention.
    """

    min_score: float = 0.0
    discovery_technique: int = DISCOVERY_EXPLICIT

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"[E402] min_score={self.min_score} must be in [0, 1]")


class NerAnnotator:
    """Adds the backend's mentions to the CAS as cTAKES mention types with their UmlsConcepts."""

    requires: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[tuple[str, ...]] = tuple(MENTION_TYPE_BY_CLASS.values())

    def __init__(self, backend: Backend, config: NerConfig | None = None) -> None:
        self.backend = backend
        self.config = config or NerConfig()
        self.counters: Counter[str] = Counter()

    def predict(self, texts: Sequence[str]) -> list[list[Mention] | BackendError]:
        """Mentions of each text, checked against the text and filtered by score (no CAS involved).

        A backend that can fail per document (``predict_documents``) gives that document its error instead.
        """
        per_document = getattr(self.backend, "predict_documents", None)
        if per_document is None:
            outcomes: list[list[Mention] | BackendError] = list(self.backend.predict(texts))
        else:
            outcomes = [result.error or result.mentions for result in per_document(texts)]
        return [
            outcome if isinstance(outcome, BackendError) else self._checked(text, outcome)
            for text, outcome in zip(texts, outcomes, strict=True)
        ]

    def _checked(self, text: str, mentions: Sequence[Mention]) -> list[Mention]:
        kept = []
        for mention in mentions:
            _check_span(text, mention)
            if mention.score is not None and mention.score < self.config.min_score:
                self.counters["below_min_score"] += 1
                continue
            self.counters[f"grounding_{mention.grounding.value}"] += 1
            kept.append(mention)
        self.counters["mentions"] += len(kept)
        return kept

    def process(self, cas: Cas) -> None:
        """Annotate one note.

        Raises:
            BackendError: the backend could not answer for this note.
        """
        try:
            self.process_batch([cas])
        except DocumentErrors as err:
            raise BackendError(err.failures[0]) from err

    def process_batch(self, cases: Sequence[Cas]) -> None:
        """Annotate several notes with one backend call, so the model batches across them.

        Raises:
            DocumentErrors: the backend failed on some notes; the others are annotated.
        """
        texts = [cas.sofa_string or "" for cas in cases]
        failures: dict[int, str] = {}
        for index, (cas, outcome) in enumerate(zip(cases, self.predict(texts), strict=True)):
            if isinstance(outcome, BackendError):
                failures[index] = str(outcome)
                continue
            write_mentions(cas, outcome, discovery_technique=self.config.discovery_technique)
        if failures:
            raise DocumentErrors(failures)

    def describe(self) -> dict[str, object]:
        """Backend identity and running counts, for the run manifest."""
        describe = getattr(self.backend, "describe", None)
        backend_counts = dict(getattr(self.backend, "counters", {}))
        return {
            "backend": describe() if describe else {"name": self.backend.name},
            "counts": dict(self.counters) | {f"backend_{key}": value for key, value in backend_counts.items()},
        }


def _check_span(text: str, mention: Mention) -> None:
    """Refuse a mention whose offsets do not hold its text: offsets are computed, never believed."""
    if mention.end > len(text):
        raise GroundingError(
            f"[E300] mention {mention.text!r} at [{mention.begin}, {mention.end}) lies past the end "
            f"of the note ({len(text)} characters): the backend produced a bad span."
        )
    if (
        mention.grounding in (Grounding.EXACT, Grounding.MODEL_OFFSETS)
        and text[mention.begin : mention.end] != mention.text
    ):
        raise GroundingError(
            f"[E301] mention {mention.text!r} does not match the note text "
            f"{text[mention.begin : mention.end]!r} at [{mention.begin}, {mention.end})."
        )
