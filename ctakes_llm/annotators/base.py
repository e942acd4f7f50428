"""The annotator contract every pipeline step follows (the uimaFIT ``JCasAnnotator`` idea, in Python)."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from cassis import Cas


@runtime_checkable
class Annotator(Protocol):
    """A pipeline step.

    ``requires`` lists the cTAKES type names that must be in the CAS (made by an earlier step or the input);
    ``produces`` lists those it adds. The pipeline checks the order before the first note.
    """

    requires: ClassVar[tuple[str, ...]]
    produces: ClassVar[tuple[str, ...]]

    def process(self, cas: Cas) -> None:
        """Add feature structures to ``cas``; never edit or remove what this annotator did not create."""
        ...
