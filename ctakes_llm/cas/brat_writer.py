"""BRAT standoff output (``.txt`` + ``.ann``) for people who work outside UIMA.

Each mention becomes a text-bound ``T`` line labelled with its class (``DiseaseDisorder``, ``SignSymptom``, ...).
BRAT offsets are Python character offsets into the ``.txt`` file. A BRAT span may not contain a line break, so a
mention that crosses one is written as a discontinuous span whose fragments end at the break (``T1 Label 0 5;6 9``).
Assertion values become ``A`` lines: binary ``Negation`` (polarity -1), ``Uncertainty``, ``Conditional``,
``Generic``, ``HistoryOf``, and ``Subject`` with a value when it is not the patient. Concepts become an
``AnnotatorNotes`` line (``#``) listing each CUI once with its preferred text. :func:`brat_annotation_conf` gives
the matching ``annotation.conf`` for a BRAT collection folder.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from cassis import Cas

from ctakes_llm.cas.atomic import atomic_write
from ctakes_llm.cas.ctakes_types import F_CONDITIONAL, F_GENERIC, F_HISTORY_OF, F_POLARITY, F_SUBJECT, F_UNCERTAINTY
from ctakes_llm.cas.mentions import POLARITY_NEGATED, SUBJECT_VALUES, read_mentions
from ctakes_llm.ner.mention import Mention, MentionClass

logger = logging.getLogger(__name__)

# BRAT attribute name → (mention attribute, the value that switches the binary attribute on)
BINARY_ATTRIBUTES = {
    "Negation": (F_POLARITY, POLARITY_NEGATED),
    "Uncertainty": (F_UNCERTAINTY, "1"),
    "Conditional": (F_CONDITIONAL, "true"),
    "Generic": (F_GENERIC, "true"),
    "HistoryOf": (F_HISTORY_OF, "1"),
}
SUBJECT_ATTRIBUTE = "Subject"
DEFAULT_SUBJECT = "patient"
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")
_WHITESPACE = re.compile(r"\s+")


def fragments(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[begin:end]`` at line breaks into BRAT fragments, dropping blank ones.

    Returns:
        ``(begin, end)`` pairs in Python character offsets; empty when the span holds only white space.
    """
    pieces = []
    start = begin
    for match in _LINE_BREAK.finditer(text, begin, end):
        pieces.append((start, match.start()))
        start = match.end()
    pieces.append((start, end))
    return [(b, e) for b, e in pieces if text[b:e].strip()]


def cas_to_brat(cas: Cas) -> str:
    """The ``.ann`` content for the mentions of a CAS (its current view).

    Raises nothing for odd spans: a mention covering only white space cannot be a BRAT span; it is logged and left
    out.
    """
    text = cas.sofa_string or ""
    lines: list[str] = []
    counters = {"T": 0, "A": 0, "#": 0}

    def next_id(kind: str) -> str:
        counters[kind] += 1
        return f"{kind}{counters[kind]}"

    for mention in read_mentions(cas):
        spans = fragments(text, mention.begin, mention.end)
        if not spans:
            logger.warning(
                "[E150] mention at [%d, %d) covers only white space; not written to BRAT", mention.begin, mention.end
            )
            continue
        entity = next_id("T")
        offsets = ";".join(f"{b} {e}" for b, e in spans)
        covered = " ".join(text[b:e] for b, e in spans)
        lines.append(f"{entity}\t{mention.cls.label} {offsets}\t{covered}")
        for name, (key, value) in BINARY_ATTRIBUTES.items():
            if mention.attributes.get(key) == value:
                lines.append(f"{next_id('A')}\t{name} {entity}")
        subject = mention.attributes.get(F_SUBJECT)
        if subject and subject != DEFAULT_SUBJECT:
            lines.append(f"{next_id('A')}\t{SUBJECT_ATTRIBUTE} {entity} {subject}")
        note = _concept_note(mention)
        if note:
            lines.append(f"{next_id('#')}\tAnnotatorNotes {entity}\t{note}")
    return "".join(line + "\n" for line in lines)


def write_brat(cas: Cas, txt_path: Path, ann_path: Path) -> None:
    """Write the document text and its mentions as a BRAT ``.txt`` / ``.ann`` pair, each atomically.

    Raises:
        OutputError: a file cannot be written.
    """
    atomic_write(Path(txt_path), cas.sofa_string or "")
    atomic_write(Path(ann_path), cas_to_brat(cas))


def brat_annotation_conf() -> str:
    """An ``annotation.conf`` declaring the five mention classes and the attributes :func:`cas_to_brat` writes."""
    entities = "\n".join(cls.label for cls in MentionClass)
    binary = "\n".join(f"{name}\tArg:<ENTITY>" for name in BINARY_ATTRIBUTES)
    subjects = "|".join(value for value in SUBJECT_VALUES if value != DEFAULT_SUBJECT)
    return (
        f"[entities]\n{entities}\n\n[relations]\n\n[events]\n\n"
        f"[attributes]\n{binary}\n{SUBJECT_ATTRIBUTE}\tArg:<ENTITY>, Value:{subjects}\n"
    )


def _concept_note(mention: Mention) -> str:
    """Each CUI once, with its preferred text (or ``scheme:code`` for a concept without a CUI), on one line."""
    seen: dict[str, str] = {}
    for concept in mention.concepts:
        key = concept.cui or f"{concept.coding_scheme}:{concept.code}"
        if key not in seen or (not seen[key] and concept.preferred_text):
            seen[key] = concept.preferred_text or ""
    return _WHITESPACE.sub(" ", "; ".join(f"{key} {name}".strip() for key, name in seen.items())).strip()
