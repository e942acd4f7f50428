"""The one value every NER component returns: a typed, grounded span of the note text."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class MentionClass(enum.Enum):
    """The five cTAKES named-entity mention classes; the value is cTAKES's ``typeID``."""

    MEDICATION = 1
    DISEASE_DISORDER = 2
    SIGN_SYMPTOM = 3
    PROCEDURE = 5
    ANATOMICAL_SITE = 6

    @property
    def label(self) -> str:
        """Short label used in BIO tags, prompts and BRAT files (``DiseaseDisorder``)."""
        return _LABELS[self]

    @classmethod
    def from_label(cls, label: str) -> MentionClass:
        """Parse a label, a cTAKES simple class name (``DiseaseDisorderMention``) or an enum name.

        Raises:
            ValueError: the label names none of the five classes.
        """
        key = label.strip()
        if key.endswith("Mention"):
            key = key[: -len("Mention")]
        for member, member_label in _LABELS.items():
            if key in (member_label, member.name) or key.lower() == member_label.lower():
                return member
        known = ", ".join(_LABELS.values())
        raise ValueError(f"unknown mention class {label!r}; known: {known}")


_LABELS = {
    MentionClass.MEDICATION: "Medication",
    MentionClass.DISEASE_DISORDER: "DiseaseDisorder",
    MentionClass.SIGN_SYMPTOM: "SignSymptom",
    MentionClass.PROCEDURE: "Procedure",
    MentionClass.ANATOMICAL_SITE: "AnatomicalSite",
}


class Grounding(enum.Enum):
    """How a mention's offsets were found in the text; offsets are computed, never believed."""

    EXACT = "exact"  # the model's string occurs verbatim at [begin, end)
    NORMALIZED = "normalized"  # equal after case / whitespace / hyphen / quote normalization
    FUZZY = "fuzzy"  # similar above a threshold
    MODEL_OFFSETS = "model_offsets"  # offsets from a tokenizer offset mapping (token classifiers, dictionaries)


@dataclass(frozen=True, slots=True)
class Concept:
    """A UMLS-style concept attached to a mention; becomes a cTAKES ``UmlsConcept``."""

    cui: str
    tui: str | None = None
    code: str | None = None
    coding_scheme: str | None = None
    preferred_text: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """A clinical mention of one of the five cTAKES classes.

    Offsets are Python code-point indexes into the document text, half-open. ``attributes`` carries assertion
    values with cTAKES's encodings as strings (``polarity`` "-1"/"1", ``uncertainty`` "1", ``subject`` "patient",
    ...). ``concepts`` are filled by concept normalization or a dictionary.
    """

    cls: MentionClass
    begin: int
    end: int
    text: str
    score: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    grounding: Grounding = Grounding.EXACT
    concepts: tuple[Concept, ...] = ()

    def __post_init__(self) -> None:
        if not 0 <= self.begin < self.end:
            raise ValueError(f"mention offsets must satisfy 0 <= begin < end, got [{self.begin}, {self.end})")
