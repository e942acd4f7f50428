"""The value every gold reader returns: one document's text and its gold mentions."""

from __future__ import annotations

from dataclasses import dataclass

from ctakes_llm.ner.mention import Mention


@dataclass(frozen=True, slots=True)
class GoldDocument:
    """A gold-annotated document.

    Attributes:
        doc_id: The corpus's identifier (BRAT file stem, PubMed id).
        text: The full document text; mention offsets index it as Python code points.
        mentions: Gold mentions of the five cTAKES classes, sorted by (begin, end).
        unknown_spans: ``(begin, end)`` regions whose text outside ``mentions`` is of unknown class (the label
            map's ``unknown_labels``), sorted.
    """

    doc_id: str
    text: str
    mentions: tuple[Mention, ...]
    unknown_spans: tuple[tuple[int, int], ...] = ()
