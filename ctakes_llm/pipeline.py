"""Pipelines: an ordered list of annotators, checked before the first note (the cTAKES piper file, in Python)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cassis import Cas

from ctakes_llm.annotators.base import Annotator
from ctakes_llm.errors import ConfigError, CtakesLlmError, DocumentErrors

logger = logging.getLogger(__name__)


class Pipeline:
    """Runs annotators in order on each CAS.

    Annotators that define ``process_batch(cases)`` get several documents at once, so a model can batch across
    notes; the others see one CAS at a time.
    """

    def __init__(self, annotators: Sequence[Annotator]) -> None:
        """Build and check a pipeline.

        Raises:
            ConfigError: an annotator needs a type that no earlier annotator produces.
        """
        self.annotators = tuple(annotators)
        self._check_order()

    def _check_order(self) -> None:
        available: set[str] = set()
        for position, annotator in enumerate(self.annotators):
            if not isinstance(annotator, Annotator):
                raise ConfigError(
                    f"[E400] pipeline step {position} ({annotator!r}) is not an annotator: it needs "
                    "'requires', 'produces' and 'process(cas)'."
                )
            missing = [name for name in annotator.requires if name not in available]
            if missing:
                raise ConfigError(
                    f"[E401] {type(annotator).__name__} (step {position}) requires {', '.join(missing)}, which no "
                    "earlier step produces. Put a step that produces it first (usually 'preprocess')."
                )
            available.update(annotator.produces)

    def process(self, cas: Cas) -> None:
        """Run every annotator on one CAS."""
        for annotator in self.annotators:
            annotator.process(cas)

    def process_batch(self, cases: Sequence[Cas]) -> dict[int, str]:
        """Run every annotator on several CASes, batching where an annotator supports it.

        Returns:
            The documents that failed (position in ``cases`` -> message); later steps skip them. An annotator
            reports such failures by raising :class:`DocumentErrors` from ``process_batch``, or any of our errors
            from ``process``; other exceptions fail the whole batch.
        """
        failures: dict[int, str] = {}
        active = list(range(len(cases)))
        for annotator in self.annotators:
            batch = getattr(annotator, "process_batch", None)
            failed: dict[int, str] = {}
            if batch is not None:
                try:
                    batch([cases[index] for index in active])
                except DocumentErrors as err:
                    failed = {active[position]: message for position, message in err.failures.items()}
            else:
                for index in active:
                    try:
                        annotator.process(cases[index])
                    except CtakesLlmError as err:
                        failed[index] = str(err)
            failures.update(failed)
            active = [index for index in active if index not in failed]
        return failures

    def describe(self) -> list[dict[str, object]]:
        """Each step's name and, where it has one, its own description (model, backend, counts) for the manifest."""
        steps: list[dict[str, object]] = []
        for annotator in self.annotators:
            describe = getattr(annotator, "describe", None)
            steps.append({"annotator": type(annotator).__name__, **(describe() if describe else {})})
        return steps
