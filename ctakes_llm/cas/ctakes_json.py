"""The cTAKES REST summary JSON: the object ``POST /ctakes-web-rest/service/analyze`` returns.

cTAKES's REST service groups annotations by simple class name (``DiseaseDisorderMention``, ...) and writes, per
annotation, ``begin``, ``end``, ``text``, ``polarity``, ``type`` and ``conceptAttributes`` (one
``{codingScheme, cui, code, tui}`` per ``UmlsConcept``; a missing code reads ``"n/a"``). We write the same shape
for the five mention classes and plain ``IdentifiedAnnotation`` (cTAKES matches the exact class, so subtypes of
other classes are not listed), which are the keys the PyPI client ``ctakesclient`` knows.

Two choices follow the clients rather than the raw Java value:

* ``begin``/``end`` are UTF-16 code units, as the Java service returns them (``ctakesclient.extract`` converts them
  back to Python indexes); they differ from Python indexes only after a character above U+FFFF.
* ``polarity`` is ``-1`` for negated and ``0`` otherwise. cTAKES's assertion engines write ``1`` for "not negated",
  but ``ctakesclient`` accepts only ``0`` and ``-1`` (its ``Polarity.pos`` is ``0``), so ``1`` is written as ``0``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cassis import Cas
from cassis.typesystem import FeatureStructure

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.cas.ctakes_types import (
    F_CODE,
    F_CODING_SCHEME,
    F_CUI,
    F_ONTOLOGY_CONCEPT_ARR,
    F_POLARITY,
    F_TUI,
    IDENTIFIED_ANNOTATION,
    MENTION_TYPE_BY_CLASS,
    UMLS_CONCEPT,
)

SUMMARY_TYPES = (*MENTION_TYPE_BY_CLASS.values(), IDENTIFIED_ANNOTATION)
MISSING_CODE = "n/a"
POLARITY_NEGATED = -1
POLARITY_NOT_NEGATED = 0


def simple_name(type_name: str) -> str:
    """``org.apache.ctakes.typesystem.type.textsem.DiseaseDisorderMention`` → ``DiseaseDisorderMention``."""
    return type_name.rsplit(".", 1)[-1]


def utf16_offsets(text: str) -> list[int]:
    """UTF-16 code-unit offset of every Python index of ``text`` (``len(text) + 1`` entries)."""
    offsets = [0] * (len(text) + 1)
    position = 0
    for index, char in enumerate(text):
        offsets[index] = position
        position += 2 if ord(char) > 0xFFFF else 1
    offsets[len(text)] = position
    return offsets


def cas_to_ctakes_json(cas: Cas) -> dict[str, list[dict[str, Any]]]:
    """The cTAKES REST summary of a CAS (its current view).

    Args:
        cas: A CAS with cTAKES mentions.

    Returns:
        Simple class name → annotations in UIMA index order (begin ascending, end descending). Classes without
        annotations are left out, as cTAKES does.
    """
    text = cas.sofa_string or ""
    offsets = utf16_offsets(text)
    wanted = {name for name in SUMMARY_TYPES if cas.typesystem.contains_type(name)}
    annotations = []
    if IDENTIFIED_ANNOTATION in wanted:
        annotations = [fs for fs in cas.select(IDENTIFIED_ANNOTATION) if fs.type.name in wanted]
    annotations.sort(key=lambda fs: (fs.begin, -fs.end))
    summary: dict[str, list[dict[str, Any]]] = {}
    for fs in annotations:
        polarity = fs.get(F_POLARITY) or 0
        summary.setdefault(simple_name(fs.type.name), []).append(
            {
                "begin": offsets[fs.begin],
                "end": offsets[fs.end],
                "text": text[fs.begin : fs.end],
                "polarity": POLARITY_NEGATED if polarity < 0 else POLARITY_NOT_NEGATED,
                "type": simple_name(fs.type.name),
                "conceptAttributes": _concept_attributes(fs),
            }
        )
    return summary


def write_ctakes_json(cas: Cas, path: Path) -> Path:
    """Write the cTAKES REST summary JSON of a CAS to ``path`` atomically.

    Raises:
        OutputError: the file cannot be written.
    """
    atomic_write(Path(path), ctakes_json_bytes(cas))
    return Path(path)


def ctakes_json_bytes(cas: Cas) -> bytes:
    """The cTAKES REST summary JSON of a CAS, UTF-8 encoded, with a final newline."""
    return (json.dumps(cas_to_ctakes_json(cas), ensure_ascii=False) + "\n").encode("utf-8")


def _concept_attributes(fs: FeatureStructure) -> list[dict[str, str | None]]:
    array = fs.get(F_ONTOLOGY_CONCEPT_ARR)
    concepts = []
    for concept in getattr(array, "elements", None) or []:
        if concept is None or not _is_umls_concept(concept):
            continue  # cTAKES lists UmlsConcepts (and subtypes) only
        concepts.append(
            {
                "codingScheme": concept.get(F_CODING_SCHEME),
                "cui": concept.get(F_CUI),
                "code": concept.get(F_CODE) or MISSING_CODE,
                "tui": concept.get(F_TUI),
            }
        )
    return concepts


def _is_umls_concept(fs: FeatureStructure) -> bool:
    current = fs.type
    while current is not None:
        if current.name == UMLS_CONCEPT:
            return True
        current = current.supertype
    return False
