"""The one place that turns ``Mention`` values into cTAKES feature structures, and reads them back.

Writing uses only types and features of cTAKES 4.0.0: one ``*Mention`` per mention, ``typeID`` from the class,
``discoveryTechnique``, ``confidence`` (the mention's score), the assertion features, and one ``UmlsConcept`` per
concept inside ``ontologyConceptArr``. As cTAKES does, the concepts and their ``FSArray`` are *not* added to the
index; they are reachable from the mention, so every XMI serializer writes them.

Assertion attributes travel in ``Mention.attributes`` as strings with cTAKES's encodings; the keys are the cTAKES
feature names:

============== ============ ===========================================================================
key            feature type values (strings)
============== ============ ===========================================================================
``polarity``   Integer      ``"-1"`` negated, ``"1"`` not negated; absent: no assertion step ran (0)
``uncertainty`` Integer     ``"1"`` uncertain, ``"0"`` certain (default)
``conditional`` Boolean     ``"true"`` / ``"false"`` (also ``"1"`` / ``"0"``)
``generic``    Boolean      ``"true"`` / ``"false"`` (also ``"1"`` / ``"0"``)
``subject``    String       ``patient``, ``family_member``, ``donor_family_member``, ``donor_other``, ``other``
``historyOf``  Integer      ``"1"`` history of, ``"0"`` not (default)
============== ============ ===========================================================================

Offsets are Python code points everywhere here; cassis converts them to UTF-16 code units when it writes XMI.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from cassis import Cas
from cassis.typesystem import FeatureStructure, Type, TypeNotFoundError

from ctakes_llm.cas.ctakes_types import (
    CLASS_BY_MENTION_TYPE,
    F_CODE,
    F_CODING_SCHEME,
    F_CONDITIONAL,
    F_CONFIDENCE,
    F_CUI,
    F_DISCOVERY_TECHNIQUE,
    F_GENERIC,
    F_HISTORY_OF,
    F_ONTOLOGY_CONCEPT_ARR,
    F_POLARITY,
    F_PREFERRED_TEXT,
    F_SCORE,
    F_SUBJECT,
    F_TUI,
    F_TYPE_ID,
    F_UNCERTAINTY,
    MENTION_TYPE_BY_CLASS,
    ONTOLOGY_CONCEPT,
    UMLS_CONCEPT,
)
from ctakes_llm.cas.uima_names import FS_ARRAY
from ctakes_llm.errors import OutputError, TypeSystemError
from ctakes_llm.ner.mention import Concept, Grounding, Mention, MentionClass

logger = logging.getLogger(__name__)


# cTAKES CONST: polarity -1 negated / 1 not negated (0: never set); uncertainty and historyOf 1 present / 0 absent.
POLARITY_NEGATED = "-1"
POLARITY_NOT_NEGATED = "1"
SUBJECT_VALUES = ("patient", "family_member", "donor_family_member", "donor_other", "other")

ASSERTION_ATTRIBUTES = (F_POLARITY, F_UNCERTAINTY, F_CONDITIONAL, F_GENERIC, F_SUBJECT, F_HISTORY_OF)
_INT_VALUES: dict[str, tuple[int, ...]] = {
    F_POLARITY: (-1, 0, 1),
    F_UNCERTAINTY: (0, 1),
    F_HISTORY_OF: (0, 1),
}
_BOOL_FEATURES = (F_CONDITIONAL, F_GENERIC)
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def encode_attributes(attributes: Mapping[str, str]) -> dict[str, int | bool | str]:
    """Turn string assertion attributes into cTAKES feature values (ints, booleans, strings).

    Keys that are not assertion attributes are left out and logged once per call.

    Args:
        attributes: ``Mention.attributes``: cTAKES feature names mapped to string values (see the module table).

    Returns:
        Feature name → value, ready to set on an ``IdentifiedAnnotation``.

    Raises:
        OutputError: a value is not one cTAKES uses for that feature.
    """
    values: dict[str, int | bool | str] = {}
    unknown = sorted(key for key in attributes if key not in ASSERTION_ATTRIBUTES)
    if unknown:
        logger.warning(
            "[E146] mention attributes %s have no cTAKES 4.0.0 feature and are not written; known: %s",
            unknown,
            ", ".join(ASSERTION_ATTRIBUTES),
        )
    for key, raw in attributes.items():
        if key not in ASSERTION_ATTRIBUTES:
            continue
        text = str(raw).strip()
        if key in _INT_VALUES:
            allowed = _INT_VALUES[key]
            try:
                number = int(text)
            except ValueError:
                number = None
            if number not in allowed:
                raise OutputError(
                    f"[E141] mention attribute {key}={raw!r} is not a cTAKES value; use one of "
                    f"{', '.join(repr(str(a)) for a in allowed)}"
                )
            values[key] = number
        elif key in _BOOL_FEATURES:
            lowered = text.lower()
            if lowered not in _TRUE + _FALSE:
                raise OutputError(f"[E142] mention attribute {key}={raw!r} is not a boolean; use 'true' or 'false'")
            values[key] = lowered in _TRUE
        else:  # subject
            if text not in SUBJECT_VALUES:
                raise OutputError(
                    f"[E143] mention attribute subject={raw!r} is not a cTAKES subject; use one of "
                    f"{', '.join(SUBJECT_VALUES)}"
                )
            values[key] = text
    return values


def write_mentions(cas: Cas, mentions: Iterable[Mention], *, discovery_technique: int) -> list[FeatureStructure]:
    """Add one cTAKES mention feature structure per ``Mention`` to the CAS index.

    Args:
        cas: The CAS (its current view) whose text the mention offsets index, in Python code points.
        mentions: The mentions to add.
        discovery_technique: cTAKES ``discoveryTechnique`` (``DISCOVERY_DICTIONARY_LOOKUP``,
            ``DISCOVERY_EXPLICIT`` in ``ctakes_types``).

    Returns:
        The added mention feature structures, in input order.

    Raises:
        TypeSystemError: the CAS type system lacks a cTAKES mention or concept type.
        OutputError: a mention lies outside the text or carries an attribute value cTAKES does not use.
    """
    text = cas.sofa_string or ""
    added: list[FeatureStructure] = []
    for mention in mentions:
        if mention.end > len(text):
            raise OutputError(
                f"[E144] mention {mention.text!r} at [{mention.begin}, {mention.end}) lies outside the document "
                f"text of {len(text)} characters; offsets must index the CAS text in Python code points"
            )
        features: dict[str, object] = {
            F_TYPE_ID: mention.cls.value,
            F_DISCOVERY_TECHNIQUE: discovery_technique,
            F_POLARITY: 0,
            **encode_attributes(mention.attributes),
        }
        if mention.score is not None:
            features[F_CONFIDENCE] = float(mention.score)
        if mention.concepts:
            features[F_ONTOLOGY_CONCEPT_ARR] = _concept_array(cas, mention.concepts)
        mention_type = _get_type(cas, MENTION_TYPE_BY_CLASS[mention.cls])
        fs = mention_type(begin=mention.begin, end=mention.end, **features)
        cas.add(fs)
        added.append(fs)
    return added


def set_assertion(fs: FeatureStructure, attributes: Mapping[str, str]) -> bool:
    """Fill the assertion features of a mention no assertion step has touched yet (``polarity`` 0).

    Since an assertion step has now run, a missing ``polarity`` means "not negated" (1). A mention whose polarity
    is already set, by cTAKES or an earlier step, is left as it is: we never edit what we did not create.

    Args:
        fs: A cTAKES ``IdentifiedAnnotation`` (any of the mention classes).
        attributes: Assertion attributes as strings (see the module table).

    Returns:
        True when the features were filled, False when the mention already had a polarity.

    Raises:
        OutputError: an attribute value is not one cTAKES uses.
    """
    if (fs.get(F_POLARITY) or 0) != 0:
        return False
    values = encode_attributes(attributes)
    if not values.get(F_POLARITY):
        values[F_POLARITY] = int(POLARITY_NOT_NEGATED)
    for name, value in values.items():
        fs.set(name, value)
    return True


def mention_class_of(fs: FeatureStructure) -> MentionClass | None:
    """The mention class of a feature structure: its own type or the nearest of the five it derives from."""
    current: Type | None = fs.type
    while current is not None:
        if current.name in CLASS_BY_MENTION_TYPE:
            return CLASS_BY_MENTION_TYPE[current.name]
        current = current.supertype
    return None


def select_mentions(cas: Cas) -> list[tuple[FeatureStructure, MentionClass]]:
    """Every mention of the five classes (subtypes included) once, with its class, in text order."""
    found: dict[int, tuple[FeatureStructure, MentionClass]] = {}
    for cls, type_name in MENTION_TYPE_BY_CLASS.items():
        if cas.typesystem.contains_type(type_name):
            for fs in cas.select(type_name):
                found.setdefault(id(fs), (fs, mention_class_of(fs) or cls))
    return sorted(found.values(), key=lambda item: (item[0].begin, item[0].end))


def read_mentions(cas: Cas) -> list[Mention]:
    """Read the five cTAKES mention classes (and their subtypes) of any cTAKES XMI back into ``Mention`` values.

    Attributes hold only values that differ from cTAKES's defaults (polarity 0, uncertainty 0, conditional and
    generic false, historyOf 0, no subject), so a mention no assertion step touched has none. ``score`` is the
    ``confidence`` when it is not 0.0 (cTAKES's "unset"). A ``UmlsConcept`` becomes a ``Concept``; a plain
    ``OntologyConcept`` becomes a ``Concept`` with an empty ``cui``. Zero-length mentions cannot be a ``Mention``;
    they are skipped and logged.

    Args:
        cas: A CAS (its current view) with cTAKES mentions; its type system may be of any cTAKES version.

    Returns:
        The mentions sorted by begin, end and class, grounded as ``Grounding.MODEL_OFFSETS``.
    """
    text = cas.sofa_string or ""
    mentions: list[Mention] = []
    skipped = 0
    for fs, cls in select_mentions(cas):
        if fs.begin >= fs.end:
            skipped += 1
            continue
        confidence = fs.get(F_CONFIDENCE)
        mentions.append(
            Mention(
                cls=cls,
                begin=fs.begin,
                end=fs.end,
                text=text[fs.begin : fs.end],
                score=float(confidence) if confidence else None,
                attributes=decode_attributes(fs),
                grounding=Grounding.MODEL_OFFSETS,
                concepts=tuple(_read_concepts(fs)),
            )
        )
    if skipped:
        logger.warning("[E147] skipped %d zero-length cTAKES mentions (begin == end): a Mention needs text", skipped)
    mentions.sort(key=lambda m: (m.begin, m.end, m.cls.value))
    return mentions


def decode_attributes(fs: FeatureStructure) -> dict[str, str]:
    """The assertion features of a mention that differ from cTAKES's defaults, as strings."""
    attributes: dict[str, str] = {}
    for name in _INT_VALUES:
        value = _feature_or_none(fs, name)
        if value:
            attributes[name] = str(value)
    for name in _BOOL_FEATURES:
        if _feature_or_none(fs, name):
            attributes[name] = "true"
    subject = _feature_or_none(fs, F_SUBJECT)
    if subject:
        attributes[F_SUBJECT] = str(subject)
    return attributes


def _feature_or_none(fs: FeatureStructure, name: str) -> object:
    """A feature's value, or None when the feature does not exist in this CAS's type system."""
    if fs.type.get_feature(name) is None:
        return None
    return fs.get(name)


def _read_concepts(fs: FeatureStructure) -> list[Concept]:
    array = _feature_or_none(fs, F_ONTOLOGY_CONCEPT_ARR)
    elements = getattr(array, "elements", None) or []
    concepts = []
    for concept in elements:
        if concept is None:
            continue
        score = _feature_or_none(concept, F_SCORE)
        concepts.append(
            Concept(
                cui=str(_feature_or_none(concept, F_CUI) or ""),
                tui=_str_or_none(_feature_or_none(concept, F_TUI)),
                code=_str_or_none(_feature_or_none(concept, F_CODE)),
                coding_scheme=_str_or_none(_feature_or_none(concept, F_CODING_SCHEME)),
                preferred_text=_str_or_none(_feature_or_none(concept, F_PREFERRED_TEXT)),
                score=float(score) if score else None,  # type: ignore[arg-type]
            )
        )
    return concepts


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def set_concepts(cas: Cas, fs: FeatureStructure, concepts: Iterable[Concept]) -> None:
    """Give an existing mention these concepts in ``ontologyConceptArr`` (concept normalization after NER)."""
    fs.set(F_ONTOLOGY_CONCEPT_ARR, _concept_array(cas, concepts))


def _concept_array(cas: Cas, concepts: Iterable[Concept]) -> FeatureStructure:
    """An ``FSArray`` of concepts, none of them indexed (cTAKES keeps concepts out of the index)."""
    umls_type = _get_type(cas, UMLS_CONCEPT)
    ontology_type = _get_type(cas, ONTOLOGY_CONCEPT)
    elements = []
    for concept in concepts:
        features: dict[str, object] = {
            F_CODE: concept.code,
            F_CODING_SCHEME: concept.coding_scheme,
        }
        if concept.score is not None:
            features[F_SCORE] = float(concept.score)
        if concept.cui:
            features.update({F_CUI: concept.cui, F_TUI: concept.tui, F_PREFERRED_TEXT: concept.preferred_text})
            elements.append(umls_type(**{k: v for k, v in features.items() if v is not None}))
        else:  # no CUI: a plain OntologyConcept, as cTAKES writes for non-UMLS codes
            elements.append(ontology_type(**{k: v for k, v in features.items() if v is not None}))
    return _get_type(cas, FS_ARRAY)(elements=elements)


def _get_type(cas: Cas, name: str) -> Type:
    try:
        return cas.typesystem.get_type(name)
    except TypeNotFoundError as err:
        raise TypeSystemError(
            f"[E140] type {name!r} is not in the CAS type system; load a cTAKES type system (4.0.0 or later) "
            f"or merge it into the input's type system"
        ) from err
