"""UMLS semantic types (TUIs) → cTAKES semantic groups → the five cTAKES mention classes.

The table ships as ``semantic_tui_groups.tsv`` (Apache cTAKES's ``SemanticTui`` / ``SemanticGroup`` mapping,
Apache-2.0) and is read once, with ``importlib.resources``. TUIs that cTAKES files under another group (lab
results, devices, organisms, modifiers, ...) have no mention class here: :func:`mention_class` returns None.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType

from ctakes_llm.errors import KnowledgeError
from ctakes_llm.ner.mention import MentionClass

_TABLE = "semantic_tui_groups.tsv"
_COLUMNS = ("tui", "semantic_type_name", "ctakes_semantic_group", "ctakes_mention_class")


@dataclass(frozen=True, slots=True)
class SemanticType:
    """One row of the cTAKES mapping.

    Attributes:
        tui: the UMLS semantic type id (``T047``).
        name: the semantic type's name (``Disease or Syndrome``).
        group: the cTAKES semantic group (``DISORDER``, ``FINDING``, ``DRUG``, ``LAB``, ...).
        mention_class: the cTAKES mention class for the group, or None outside the five classes.
    """

    tui: str
    name: str
    group: str
    mention_class: MentionClass | None


@functools.cache
def semantic_types() -> Mapping[str, SemanticType]:
    """The whole table, keyed by TUI (read once per process).

    Raises:
        KnowledgeError: the shipped table is damaged.
    """
    text = files("ctakes_llm.knowledge").joinpath(_TABLE).read_text(encoding="utf-8")
    rows: dict[str, SemanticType] = {}
    header_seen = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        columns = line.split("\t")
        if not header_seen:
            header_seen = tuple(columns) == _COLUMNS
            if not header_seen:
                raise KnowledgeError(f"[E506] {_TABLE}:{number}: expected the header {_COLUMNS}; reinstall ctakes-llm")
            continue
        if len(columns) != len(_COLUMNS):
            raise KnowledgeError(f"[E506] {_TABLE}:{number}: expected 4 tab-separated columns; reinstall ctakes-llm")
        tui, name, group, class_name = columns
        rows[tui] = SemanticType(tui, name, group, _mention_class_or_none(class_name))
    return MappingProxyType(rows)


def semantic_type(tui: str) -> SemanticType | None:
    """The table row of ``tui`` (``"T047"``; surrounding space and case are ignored), or None when unknown."""
    return semantic_types().get(tui.strip().upper())


def semantic_group(tui: str) -> str | None:
    """The cTAKES semantic group of ``tui`` (``"DISORDER"``), or None when unknown."""
    row = semantic_type(tui)
    return None if row is None else row.group


def mention_class(tui: str) -> MentionClass | None:
    """The cTAKES mention class of ``tui``, or None when cTAKES makes no Medication / DiseaseDisorder /
    SignSymptom / Procedure / AnatomicalSite mention of it (unknown TUIs, labs, devices, entities, ...)."""
    row = semantic_type(tui)
    return None if row is None else row.mention_class


def _mention_class_or_none(class_name: str) -> MentionClass | None:
    try:
        return MentionClass.from_label(class_name)
    except ValueError:
        return None
