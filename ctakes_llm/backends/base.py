"""The one interface every model backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ctakes_llm.ner.mention import Mention


@runtime_checkable
class Backend(Protocol):
    """Finds mentions in texts. Offsets of returned mentions index into the text they came from."""

    name: str
    #: Running totals of what went wrong or was repaired (``ungrounded``, ``unparseable``, ``truncated_chunks``,
    #: ``retries``...). The NER annotator copies them into the run report and the manifest.
    counters: dict[str, int]

    def predict(self, texts: Sequence[str]) -> list[list[Mention]]:
        """Return the mentions of each text, in the order of ``texts``."""
        ...
